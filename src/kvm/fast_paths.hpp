// SPDX-License-Identifier: BSD-2-Clause
// KVM's exit-free paths: doorbells through ioeventfds, posted writes through
// the coalesced MMIO ring.
#pragma once

#include <linux/kvm.h>

#include <memory>

#include "guestmem/backend.hpp"
#include "guestmem/error.hpp"
#include "kvm_vm_fd.hpp"

namespace guestmem::kvm {

/// Registers an ioeventfd (KVM_IOEVENTFD) for `spec` and a VMM thread that
/// waits on it and calls `ring` with the number of writes signalled. nullptr
/// (with a logged warning) when KVM lacks KVM_CAP_IOEVENTFD: the core then
/// delivers the writes through MMIO exits. Detaching deassigns the ioeventfd;
/// destroying delivers what the eventfd still counts and joins the thread.
Result<std::unique_ptr<FastPath>> make_doorbell(const std::shared_ptr<const KvmVmFd>& vm, const DoorbellSpec& spec,
                                                DoorbellRing ring);

/// Registers a coalesced MMIO zone (KVM_REGISTER_COALESCED_MMIO) for `range`;
/// detaching unregisters it. nullptr (with a logged warning) when KVM lacks
/// KVM_CAP_COALESCED_MMIO: the writes then exit as usual.
Result<std::unique_ptr<FastPath>> make_write_posting(std::shared_ptr<const KvmVmFd> vm, Range range);

/// Entries of a coalesced MMIO ring of one page.
std::uint32_t coalesced_ring_entries();

/// Entry `index` of the ring. The kernel (C) lays the entries out right after
/// the two u32 indices, at offset 8; g++ puts the flexible array member
/// kvm_coalesced_mmio_ring::coalesced_mmio at offset 16, so it is not used.
kvm_coalesced_mmio coalesced_entry(const kvm_coalesced_mmio_ring* ring, std::uint32_t index);

}  // namespace guestmem::kvm
