/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Porting-check stub of libvirtio's <virtio/virtio_con.h>: the virtio
 * console's features, configuration and control messages, under libvirtio's
 * names (the virtio specification's values and layouts).
 */
#ifndef GUESTMEM_STUB_VIRTIO_VIRTIO_CON_H
#define GUESTMEM_STUB_VIRTIO_VIRTIO_CON_H

#include <stddef.h>
#include <stdint.h>

#include <virtio/virtio_pci.h>

/* The control queues of a multiport console (receive, transmit). */
#define CTL_RX_QUEUE 2
#define CTL_TX_QUEUE 3

/* Feature bits. */
#define VIRTIO_CON_F_SIZE 0
#define VIRTIO_CON_F_MULTIPORT 1
#define VIRTIO_CON_F_EMERG_WRITE 2

#define VIRTIO_CON_BAD_ID (~(uint32_t)0)
/* Ports the emulated console offers. */
#define VIRTIO_CON_MAX_PORTS 4

/* The device configuration. */
struct virtio_con_cfg {
    uint16_t cols;
    uint16_t rows;
    uint32_t max_nr_ports;
    uint32_t emerg_wr;
} __attribute__((packed));

/* The configuration-space offset of max_nr_ports (without MSI-X). */
#define VIRTIO_CON_CFG_MAX_PORTS (VIRTIO_PCI_CONFIG_OFF(0) + offsetof(struct virtio_con_cfg, max_nr_ports))

/* A control message: port, event, value. */
struct virtio_con_ctl {
    uint32_t id;
    uint16_t event;
    uint16_t value;
} __attribute__((packed));

/* Control events. */
#define VIRTIO_CON_DEVICE_READY 0
#define VIRTIO_CON_PORT_ADD 1
#define VIRTIO_CON_PORT_REMOVE 2
#define VIRTIO_CON_PORT_READY 3
#define VIRTIO_CON_CON_PORT 4
#define VIRTIO_CON_RESIZE 5
#define VIRTIO_CON_PORT_OPEN 6
#define VIRTIO_CON_PORT_NAME 7

#endif /* GUESTMEM_STUB_VIRTIO_VIRTIO_CON_H */
