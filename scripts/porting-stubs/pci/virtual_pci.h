/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Porting-check stub of libpci's <pci/virtual_pci.h>, the x86 virtual PCI
 * configuration space: its limits and its type's name. The virtual PCI
 * object itself is not modelled (libsel4vmmplatsupport's own vmm_pci_space_t
 * is what its device models use).
 */
#ifndef GUESTMEM_STUB_PCI_VIRTUAL_PCI_H
#define GUESTMEM_STUB_PCI_VIRTUAL_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include <pci/pci.h>

#define PCI_HOST_BUS_INVALID 0xFFFF
#define PCI_INVALID_READ_VALUE 0xFFFFFFFF
#define PCI_MAX_VDEVICES 64

typedef struct libpci_virtual_pci libpci_virtual_pci_t;

void libpci_virtual_pci_init(libpci_virtual_pci_t *vp);

#endif /* GUESTMEM_STUB_PCI_VIRTUAL_PCI_H */
