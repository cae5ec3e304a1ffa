/* SPDX-License-Identifier: BSD-2-Clause */
/* Porting-check stub of libpci's <pci/pci_config.h>: in <pci/pci.h> here. */
#ifndef GUESTMEM_STUB_PCI_PCI_CONFIG_H
#define GUESTMEM_STUB_PCI_PCI_CONFIG_H
#include <pci/pci.h>
#endif
