/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Porting-check stub of libpci's <pci/pci.h>: the x86 configuration ports,
 * the register names (<pci/helper.h>) and the scanned-device records.
 * Functions are declared only.
 */
#ifndef GUESTMEM_STUB_PCI_PCI_H
#define GUESTMEM_STUB_PCI_PCI_H

#include <assert.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <pci/helper.h>
#include <platsupport/io.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PCI_CONF_PORT_ADDR 0x0CF8
#define PCI_CONF_PORT_DATA 0x0CFC
#define PCI_CONF_PORT_ADDR_END (PCI_CONF_PORT_ADDR + 4)
#define PCI_CONF_PORT_DATA_END (PCI_CONF_PORT_DATA + 4)
#define PCI_MAX_DEVICES 128
#define PCI_CONFIG_HEADER_SIZE_BYTES PCI_STD_HEADER_SIZEOF

/* A device's base address registers, decoded. */
typedef struct libpci_device_iocfg {
    uint32_t base_addr[6];
    uint8_t base_addr_space[6];
    uint8_t base_addr_type[6];
    uint8_t base_addr_prefetchable[6];
    uint32_t base_addr_size_mask[6];
    uint32_t base_addr_size[6];
    uint32_t base_addr_raw[6];
    bool base_addr_64H[6];
} libpci_device_iocfg_t;

/* A device found by libpci_scan. */
typedef struct libpci_device {
    uint8_t bus;
    uint8_t dev;
    uint8_t fun;
    uint16_t vendor_id;
    uint16_t device_id;
    uint16_t subsystem_id;
    uint8_t interrupt_pin;
    uint8_t interrupt_line;
    const char *vendor_name;
    const char *device_name;
    libpci_device_iocfg_t cfg;
} libpci_device_t;

extern libpci_device_t libpci_device_list[PCI_MAX_DEVICES];
extern uint32_t libpci_num_devices;

void libpci_scan(ps_io_port_ops_t port_ops);
libpci_device_t *libpci_find_device(uint16_t vendor_id, uint16_t device_id);
int libpci_find_device_all(uint16_t vendor_id, uint16_t device_id, libpci_device_t **out);
libpci_device_t *libpci_find_device_matching(libpci_device_t *device);
libpci_device_t *libpci_find_device_bdf(uint8_t bus, uint8_t dev, uint8_t fun);
void libpci_read_ioconfig(libpci_device_iocfg_t *cfg, uint8_t bus, uint8_t dev, uint8_t fun);
uint32_t libpci_read_reg32(uint8_t bus, uint8_t dev, uint8_t fun, uint8_t reg);
uint16_t libpci_read_reg16(uint8_t bus, uint8_t dev, uint8_t fun, uint8_t reg);
uint8_t libpci_read_reg8(uint8_t bus, uint8_t dev, uint8_t fun, uint8_t reg);
void libpci_write_reg32(uint8_t bus, uint8_t dev, uint8_t fun, uint8_t reg, uint32_t val);
void libpci_write_reg16(uint8_t bus, uint8_t dev, uint8_t fun, uint8_t reg, uint16_t val);
void libpci_write_reg8(uint8_t bus, uint8_t dev, uint8_t fun, uint8_t reg, uint8_t val);
uint64_t libpci_device_iocfg_get_baseaddr(libpci_device_iocfg_t *cfg, int index);
uint32_t libpci_device_iocfg_get_baseaddr32(libpci_device_iocfg_t *cfg, int index);

#ifdef __cplusplus
}
#endif

#endif /* GUESTMEM_STUB_PCI_PCI_H */
