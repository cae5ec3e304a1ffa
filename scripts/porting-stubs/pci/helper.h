/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Porting-check stub of libpci's <pci/helper.h>: the PCI configuration-space
 * register names and values. They are the Linux kernel's, which Linux
 * exports in <linux/pci_regs.h>; the class codes VMM code uses are added here
 * (class << 8 | subclass, as libpci and Linux number them).
 */
#ifndef GUESTMEM_STUB_PCI_HELPER_H
#define GUESTMEM_STUB_PCI_HELPER_H

#include <stdint.h>
#include <stdio.h>

#include <linux/pci_regs.h>

#define PCI_CLASS_NOT_DEFINED 0x0000
#define PCI_CLASS_STORAGE_SCSI 0x0100
#define PCI_CLASS_STORAGE_IDE 0x0101
#define PCI_CLASS_STORAGE_SATA 0x0106
#define PCI_CLASS_NETWORK_ETHERNET 0x0200
#define PCI_CLASS_DISPLAY_VGA 0x0300
#define PCI_CLASS_MEMORY_RAM 0x0500
#define PCI_CLASS_MEMORY_OTHER 0x0580
#define PCI_CLASS_BRIDGE_HOST 0x0600
#define PCI_CLASS_BRIDGE_ISA 0x0601
#define PCI_CLASS_BRIDGE_PCI 0x0604
#define PCI_CLASS_BRIDGE_OTHER 0x0680
#define PCI_CLASS_COMMUNICATION_SERIAL 0x0700
#define PCI_CLASS_COMMUNICATION_OTHER 0x0780
#define PCI_CLASS_SERIAL_USB 0x0c03
#define PCI_CLASS_OTHERS 0xff

#endif /* GUESTMEM_STUB_PCI_HELPER_H */
