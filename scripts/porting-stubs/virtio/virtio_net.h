/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Porting-check stub of libvirtio's <virtio/virtio_net.h>. The virtio names
 * and layouts are the virtio specification's; Linux exports them in
 * <linux/virtio_net.h>, which this header gives.
 */
#ifndef GUESTMEM_STUB_VIRTIO_VIRTIO_NET_H
#define GUESTMEM_STUB_VIRTIO_VIRTIO_NET_H

#include <stdint.h>

#include <linux/virtio_net.h>

/* The length of the MAC address in the device configuration. */
#define VIRTIO_NET_CONFIG_MAC_SZ 6

#endif /* GUESTMEM_STUB_VIRTIO_VIRTIO_NET_H */
