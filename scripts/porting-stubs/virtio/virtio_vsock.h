/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Porting-check stub of libvirtio's <virtio/virtio_vsock.h>: the virtio
 * socket device's header and configuration (Linux's <linux/virtio_vsock.h>)
 * and libvirtio's additions.
 */
#ifndef GUESTMEM_STUB_VIRTIO_VIRTIO_VSOCK_H
#define GUESTMEM_STUB_VIRTIO_VIRTIO_VSOCK_H

#include <stdint.h>

#include <linux/virtio_vsock.h>
#include <utils/util.h>
#include <virtio/virtio_pci.h>

/* The event queue's index (after receive and transmit). */
#define EVENT_QUEUE 2
/* The largest packet payload the emulated device moves. */
#define VIRTIO_VSOCK_CAMKES_MTU PAGE_SIZE_4K
/* The configuration-space offset of guest_cid (without MSI-X). */
#define VIRTIO_VSOCK_CFG_GUEST_CID (VIRTIO_PCI_CONFIG_OFF(0))

/* A packet: the header and its payload. */
struct virtio_vsock_packet {
    struct virtio_vsock_hdr hdr;
    uint8_t data[];
};

#endif /* GUESTMEM_STUB_VIRTIO_VIRTIO_VSOCK_H */
