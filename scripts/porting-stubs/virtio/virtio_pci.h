/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Porting-check stub of libvirtio's <virtio/virtio_pci.h>. The virtio names
 * and layouts are the virtio specification's; Linux exports them in
 * <linux/virtio_pci.h>, which this header gives.
 */
#ifndef GUESTMEM_STUB_VIRTIO_VIRTIO_PCI_H
#define GUESTMEM_STUB_VIRTIO_VIRTIO_PCI_H

#include <stdint.h>

#include <linux/virtio_pci.h>

#endif /* GUESTMEM_STUB_VIRTIO_VIRTIO_PCI_H */
