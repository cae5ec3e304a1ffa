// SPDX-License-Identifier: BSD-2-Clause
/// @file
/// A VM's guest RAM: registered ranges backed by frames, and the bookkeeping
/// of which RAM the VMM has handed out (the state behind <sel4vm/guest_ram.h>).
#pragma once

#include <guestmem/export.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "guestmem/error.hpp"
#include "guestmem/types.hpp"
#include "guestmem/vm.hpp"

namespace guestmem {

/// The guest RAM of one Vm, reached with Vm::ram().
///
/// Registering RAM makes a reservation for it and maps frames over it all: by
/// default frames the VM allocates from its CapabilitySpace (for the C API the
/// process capability space, the one vmm_frame_alloc uses), the largest of
/// 4 KiB, 2 MiB and 1 GiB that fit each address's alignment and the rest of
/// the range. Those frames belong to the RAM: their capabilities are deleted
/// when the Vm is destroyed. A RAM reservation's fault handler reports every
/// access it receives as an error (RAM is mapped, so only accesses a frame's
/// rights refuse reach it).
///
/// Registered RAM starts free. allocate() hands out free RAM first fit,
/// mark_allocated() claims a given range (e.g. where a kernel image was
/// loaded), free() gives RAM back. Free RAM is kept merged, across
/// registrations too: two adjacent registrations form one free region.
/// Allocation is bookkeeping only: it never changes mappings or contents.
/// RAM stays registered for the Vm's lifetime; its reservations appear in
/// Vm::reservations(), and Vm::free refuses them (Errc::invalid_argument).
///
/// Every function fails with a typed error, a log line naming it and the
/// reason, and no change of state on invalid input, and with
/// Errc::not_initialized before Vm::init_memory.
///
/// Thread safety: every member may be called from any thread. Registration
/// calls into the Vm without holding this object's lock, so a custom map
/// iterator may call allocate() and friends (but not the Vm's address-space
/// functions: Errc::reentrant_call).
class GUESTMEM_API GuestRam {
public:
    /// The RAM of `vm` (each Vm makes its own: use Vm::ram()).
    explicit GuestRam(Vm& vm);
    /// Deletes the capabilities of the frames the RAM allocated (mappings
    /// keep their frames alive until the reservations are freed).
    ~GuestRam();
    GuestRam(const GuestRam&) = delete;
    GuestRam& operator=(const GuestRam&) = delete;

    /// Registers `bytes` of RAM (rounded up to 4 KiB) at an address taken
    /// from the VM's anonymous pools (Vm::make_anon), as libsel4vm does.
    /// @return the RAM's base address.
    /// Errors: Errc::invalid_argument (bytes 0 or too large), Errc::no_space
    /// (no pool has room), Errc::out_of_memory (no frames), and the errors of
    /// Vm::reserve_anon and Vm::map.
    Result<GuestAddr> register_anon(std::uint64_t bytes);

    /// Registers [start, start + bytes) as RAM backed by new frames. start and
    /// bytes must be multiples of 4 KiB.
    /// Errors: Errc::invalid_argument (bytes 0, unaligned, wrapping),
    /// Errc::overlap (the range overlaps a reservation or an anonymous pool),
    /// Errc::out_of_memory, and the errors of Vm::reserve_at and Vm::map.
    Result<void> register_at(GuestAddr start, std::uint64_t bytes);

    /// Registers [start, start + bytes) as RAM backed by the frames `iterator`
    /// returns (Vm::map rules; the caller keeps its capabilities). With
    /// deferred mapping on, the iterator runs on the first access.
    /// Errors: as register_at, without the alignment rule, plus Vm::map's.
    Result<void> register_at(GuestAddr start, std::uint64_t bytes, const MapIterator& iterator);

    /// Registers [start, start + bytes) (page aligned, inside an anonymous
    /// pool) as RAM, as register_anon would have placed it, backed by the
    /// frames `iterator` returns (Vm::map rules; the caller keeps its
    /// capabilities): snapshot restore rebuilds RAM where it was.
    /// Errors: those of Vm::reserve_anon_at and Vm::map.
    Result<void> register_anon_at(GuestAddr start, std::uint64_t bytes, const MapIterator& iterator);

    /// Marks [start, start + bytes) allocated. Every byte must be registered
    /// RAM; bytes already allocated stay so (marking is idempotent).
    /// Errors: Errc::invalid_argument (bytes 0, wrapping), Errc::not_mapped
    /// (a byte is not registered RAM).
    Result<void> mark_allocated(GuestAddr start, std::uint64_t bytes);

    /// Allocates `bytes` of free RAM at the lowest address aligned to `align`
    /// (a power of two; 0 means 1) where they fit. Guest address 0 is a valid result.
    /// Errors: Errc::invalid_argument (bytes 0, bad alignment), Errc::no_space.
    Result<GuestAddr> allocate(std::uint64_t bytes, std::uint64_t align = 1);

    /// Frees [start, start + bytes), which must be registered RAM and wholly
    /// allocated (a double free is refused); it merges with free neighbours.
    /// Any part of an allocation may be freed.
    /// Errors: Errc::invalid_argument (bytes 0, wrapping, a byte already
    /// free), Errc::not_mapped (a byte is not registered RAM).
    Result<void> free(GuestAddr start, std::uint64_t bytes);

    /// The largest free RAM region (the lowest one on ties).
    /// Errors: Errc::no_space (no free RAM).
    Result<Range> largest_free_region() const;

    /// Registered RAM, merged, in address order.
    std::vector<Range> regions() const;
    /// Free RAM, merged, in address order.
    std::vector<Range> free_regions() const;
    /// Bytes of registered RAM.
    std::uint64_t total_bytes() const;
    /// Bytes of free (registered, not allocated) RAM.
    std::uint64_t free_bytes() const;
    /// True when all of [addr, addr + size) is registered RAM (size > 0).
    bool contains(GuestAddr addr, std::uint64_t size) const;
    /// True when `id` is one of the reservations holding registered RAM.
    bool owns(ReservationId id) const;

private:
    struct State;

    Result<void> check_ready() const;
    Result<void> register_reserved(ReservationId id, Range range, const MapIterator& iterator, std::vector<Cap> owned);
    Result<std::vector<Cap>> allocate_frames(Range range, std::vector<FrameRequest>& plan);

    Vm& vm_;
    mutable std::mutex mutex_;
    std::unique_ptr<State> state_;  // mutex_
};

}  // namespace guestmem
