// SPDX-License-Identifier: BSD-2-Clause
/**
 * @file
 * libsel4vm's guest_iospace.h, for code that includes it.
 *
 * Its one function, vm_guest_add_iospace, gives a guest an seL4 IO space (an
 * IOMMU domain for pass-through DMA). It is left out: an IO space is an seL4
 * kernel object, and guestmem passes no host devices through to guests. A VMM
 * that needs device DMA on Linux uses VFIO with its own IOMMU mappings of the
 * guest's RAM frames (vmm_frame_vaddr gives their host addresses).
 */
#ifndef SEL4VM_GUEST_IOSPACE_H
#define SEL4VM_GUEST_IOSPACE_H

#include <sel4vm/guest_vm.h>

#endif /* SEL4VM_GUEST_IOSPACE_H */
