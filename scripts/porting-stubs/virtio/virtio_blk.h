/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Porting-check stub of libvirtio's <virtio/virtio_blk.h>. The virtio names
 * and layouts are the virtio specification's; Linux exports them in
 * <linux/virtio_blk.h>, which this header gives.
 */
#ifndef GUESTMEM_STUB_VIRTIO_VIRTIO_BLK_H
#define GUESTMEM_STUB_VIRTIO_VIRTIO_BLK_H

#include <stdint.h>

#include <linux/virtio_blk.h>

#endif /* GUESTMEM_STUB_VIRTIO_VIRTIO_BLK_H */
