// SPDX-License-Identifier: BSD-2-Clause
/// @file
/// A virtual machine's guest-physical address space: the C++ API.
#pragma once

#include <guestmem/export.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "guestmem/backend.hpp"
#include "guestmem/capability_space.hpp"
#include "guestmem/dirty_bitmap.hpp"
#include "guestmem/error.hpp"
#include "guestmem/fault.hpp"
#include "guestmem/interrupts.hpp"
#include "guestmem/types.hpp"
#include "guestmem/vcpu.hpp"

namespace guestmem {

class AddressSpace;
class FaultDispatcher;
class GuestRam;

/// One frame an iterator hands to Vm::map (the C++ twin of vm_frame_t).
struct FrameRequest {
    Cap cap = kNullCap;            ///< a live capability to the frame
    Rights rights = Rights::none;  ///< requested rights, intersected with the capability's
    GuestAddr addr = 0;            ///< where it goes: the address the iterator was called with
    std::size_t size_bits = 0;     ///< 12, 21 or 30, matching the frame
};

/// Called with the reservation's first address, then with the address just
/// past each frame it returned, until the reservation is covered.
using MapIterator = std::function<FrameRequest(GuestAddr addr)>;

/// Called for doorbell rings (Vm::reserve_doorbell) with the number of rings
/// (at least 1) since the last call. On KVM it runs on the doorbell's own VMM
/// thread and several rings may arrive as one call; on the sim backend (and
/// when KVM lacks KVM_CAP_IOEVENTFD) it runs synchronously on the writing
/// vCPU's thread, once per ring. Calls for one doorbell never overlap. A
/// handler that writes its own doorbell (through the sim backend) does not
/// ring it again: that write ends in an error, logged as "rang its own
/// doorbell", instead of waiting forever for the running call.
using DoorbellHandler = std::function<void(std::uint64_t count)>;

/// What one reservation is, for inspection (memory maps, statistics).
struct ReservationInfo {
    ReservationId id = ReservationId::none;       ///< its handle
    Range range;                                  ///< the addresses it covers
    bool anonymous = false;                       ///< taken from an anonymous pool
    bool doorbell = false;                        ///< made by Vm::reserve_doorbell (its size is range.size)
    std::optional<std::uint64_t> doorbell_match;  ///< a doorbell's match value, if it has one
    bool write_posting = false;                   ///< made by Vm::reserve_write_posting
    bool mapped = false;                          ///< frames are mapped
    bool deferred = false;                        ///< a deferred mapping waits for the first fault
    std::size_t frames = 0;                       ///< frames mapped
    std::vector<MappedRun> runs;                  ///< guest memory the frames make up
};

/// An anonymous pool made with Vm::make_anon.
struct PoolInfo {
    Range range;                   ///< the pool's addresses
    std::uint64_t free_bytes = 0;  ///< bytes not reserved
};

/// A reservation and the frames mapped in it, as Vm::layout() reports them.
struct ReservationLayout {
    ReservationInfo info;              ///< as Vm::reservations() reports it
    std::vector<FrameMapping> frames;  ///< as Vm::frame_mappings() reports them (empty: unmapped or deferred)
};

/// The address space at one instant (Vm::layout).
struct AddressSpaceLayout {
    std::vector<ReservationLayout> reservations;  ///< in address order
    std::vector<PoolInfo> pools;                  ///< in address order
};

/// One piece of guest memory that is contiguous in the VMM's view, handed to a
/// MemoryVisitor by Vm::visit_memory.
struct GuestChunk {
    GuestAddr gpa = 0;             ///< guest-physical address of the first byte
    std::span<std::byte> host;     ///< the VMM's view of the bytes (shared with the guest)
    std::uint64_t offset = 0;      ///< gpa minus the address the visit started at
    Rights rights = Rights::none;  ///< what the guest may do there: Rights::read or Rights::read_write
    DirtyLog* dirty = nullptr;     ///< core-internal: where record_write() records (see MappedRun::dirty)
};

/// Records that a MemoryVisitor wrote `chunk`, for dirty tracking
/// (Vm::start_dirty_tracking). Vm::visit_memory records every chunk itself
/// when called with Rights::write; a visitor that writes under Rights::read
/// (the VMM writing read-only memory) calls this after writing.
GUESTMEM_API void record_write(const GuestChunk& chunk) noexcept;

/// Receives the pieces of a range in address order; an error stops the visit
/// and becomes its result.
using MemoryVisitor = std::function<Result<void>(const GuestChunk& chunk)>;

/// How an access performed through Vm::dispatch ended: completed, or the
/// report of its failure. Vm::dispatch logs nothing: whoever ends the access
/// reports a failure once (a run in its RunResult, sim::read in its Error).
struct [[nodiscard]] AccessOutcome {
    /// Empty when the access completed (for a read, Access::data holds the
    /// value); otherwise the access, or the piece of it, that failed, and why.
    std::optional<FaultReport> failure;

    /// True when the access completed.
    bool completed() const { return !failure; }
    /// completed().
    explicit operator bool() const { return completed(); }
};

/// A guest-physical address space on a hypervisor backend.
///
/// Reservations are half-open ranges with a fault handler; they can be backed
/// by frames (Vm::map) or left to the handler (emulated devices). Anonymous
/// pools hand out reservations on demand (Vm::reserve_anon) and take freed
/// space back.
///
/// Thread safety: every member is safe to call from any thread. Changes to the
/// address space (reserve, map, free, ...) are serialised; Vm::dispatch, the
/// path every guest fault takes, takes no lock while the map is unchanged and
/// does not slow down with the number of reservations. A free waits for
/// handlers already running on the freed reservation (on other threads) to
/// return, so once it returns the reservation's handler is not running and
/// will not be called again; a free that would wait for a handler that is
/// itself waiting to free a reservation this thread's handler is in fails with
/// Errc::would_deadlock instead. Map iterators must not call back into the same
/// Vm's address-space functions (they get Errc::reentrant_call).
class GUESTMEM_API Vm {
public:
    /// A VM on `backend` whose vCPUs run `arch` guests and whose frames come
    /// from `caps` (shared with other VMs that should share frames).
    /// BackendKind::automatic picks a backend as choose_backend() does
    /// (guestmem/backend_registry.hpp). Errors: Errc::invalid_argument (null
    /// `caps`, unknown kind), Errc::unsupported (the backend is not built in
    /// or cannot run `arch` here; the message says why), Errc::backend_error.
    static Result<std::unique_ptr<Vm>> create(BackendKind backend, std::shared_ptr<CapabilitySpace> caps,
                                              Arch arch = host_arch());

    /// A VM on a backend the caller made (custom and test backends).
    Vm(std::unique_ptr<Backend> backend, std::shared_ptr<CapabilitySpace> caps);
    /// Frees every reservation and mapping; the vCPUs go with the VM.
    ~Vm();
    Vm(const Vm&) = delete;
    Vm& operator=(const Vm&) = delete;

    /// Enables the address-space functions; before this they fail with
    /// Errc::not_initialized. A second call fails with Errc::already_initialized.
    Result<void> init_memory();
    /// True once init_memory() succeeded.
    bool memory_initialized() const;

    /// Reserves [addr, addr + size) with `handler` for its faults. Any size
    /// and alignment. Errors: Errc::not_initialized, Errc::invalid_argument
    /// (size 0, wrapping, empty handler), Errc::overlap (a reservation or pool).
    Result<ReservationId> reserve_at(GuestAddr addr, std::uint64_t size, FaultHandler handler);
    /// Reserves a doorbell: a device register of `size` bytes (1, 2, 4 or 8)
    /// at `addr` whose guest writes only signal an event. A guest write of
    /// exactly `size` bytes at `addr` (and, if `match` is set, of that value)
    /// calls `handler`; every other access is ignored (writes dropped, reads
    /// yield 0). On KVM the writes are signalled through an eventfd
    /// (KVM_IOEVENTFD) without returning to the VMM's vCPU thread, and
    /// `handler` runs on a VMM thread the reservation owns; on the sim backend
    /// it runs synchronously. The reservation cannot be mapped. Freeing it
    /// deregisters the eventfd, delivers rings still pending, and joins the
    /// thread: once free returns, `handler` is not running and will not run
    /// again. `handler` must not free its own reservation (the free would
    /// wait for itself; it is refused with Errc::reentrant_call).
    /// Errors: as reserve_at, plus Errc::invalid_argument (size not 1, 2, 4
    /// or 8, `match` wider than `size`), Errc::backend_error.
    Result<ReservationId> reserve_doorbell(GuestAddr addr, std::uint64_t size, DoorbellHandler handler,
                                           std::optional<std::uint64_t> match = std::nullopt);
    /// Reserves [addr, addr + size) for a device whose writes may be posted:
    /// on KVM, guest writes there are queued in KVM's coalesced MMIO ring
    /// (KVM_REGISTER_COALESCED_MMIO) without a vCPU exit and handed to
    /// `handler` (as write faults on the vCPU thread that next exits) in the
    /// order the guest made them, before any read of the device, or any other
    /// emulated access of the VM, is dispatched; reads go to `handler` at once,
    /// as for reserve_at. A handler's result for a posted write is applied as
    /// for any write (FAULT_ERROR stops the run of the draining vCPU). On the
    /// sim backend writes are handled synchronously. The reservation cannot be
    /// mapped. Freeing it unregisters the zone; writes already queued are still
    /// delivered by the next exit (to the unhandled-fault handler, the
    /// reservation being gone). Errors: as reserve_at, plus Errc::backend_error.
    Result<ReservationId> reserve_write_posting(GuestAddr addr, std::uint64_t size, FaultHandler handler);
    /// Makes [addr, addr + size) (page aligned) an anonymous pool. Errors: as
    /// reserve_at, plus Errc::invalid_argument when not page aligned.
    Result<void> make_anon(GuestAddr addr, std::uint64_t size);

    /// What reserve_anon made.
    struct AnonReservation {
        ReservationId id;  ///< the reservation
        GuestAddr addr;    ///< its base address
    };
    /// Reserves size (rounded up to pages) bytes from an anonymous pool at
    /// `align` (a power of two; 0 or less than a page means page aligned).
    /// Errors: Errc::not_initialized, Errc::invalid_argument (size 0 or too
    /// large, bad alignment, empty handler), Errc::no_space.
    Result<AnonReservation> reserve_anon(std::uint64_t size, std::uint64_t align, FaultHandler handler);
    /// Reserves exactly [addr, addr + size) (page aligned) from the anonymous
    /// pool holding it, as reserve_anon would have (snapshot restore rebuilds
    /// anonymous reservations where they were). Errors: Errc::not_initialized,
    /// Errc::invalid_argument (size 0, unaligned, wrapping, empty handler),
    /// Errc::no_space (no pool holds the whole range), Errc::overlap (part of
    /// it is already reserved).
    Result<ReservationId> reserve_anon_at(GuestAddr addr, std::uint64_t size, FaultHandler handler);

    /// Frees a reservation: unmaps its frames (the capabilities stay the
    /// caller's) and returns anonymous space to its pool. Waits for handlers
    /// of the reservation running on other threads (and VMM-side accesses
    /// holding it) to finish. Errors: Errc::not_initialized,
    /// Errc::unknown_reservation (unknown or already freed), Errc::reentrant_call,
    /// Errc::invalid_argument (the reservation holds RAM registered with ram()),
    /// Errc::would_deadlock (called from a handler, it would wait for a handler
    /// that waits, in its own free, for this one; nothing is changed).
    Result<void> free(ReservationId id);

    /// Maps frames from `iterator` over the whole reservation, all or nothing.
    /// With deferred mapping on, stores the iterator and maps on the first fault.
    /// Errors: Errc::not_initialized, Errc::unknown_reservation,
    /// Errc::invalid_argument (empty iterator), Errc::already_mapped,
    /// Errc::bad_frame, Errc::bad_capability, Errc::backend_error,
    /// Errc::out_of_memory (backend slots), Errc::reentrant_call.
    Result<void> map(ReservationId id, MapIterator iterator);
    /// Maps frames[i] at base + (i << frame_size_bits) with all rights; the
    /// frames must cover the reservation exactly. The array is copied.
    /// Errors: as map, plus Errc::invalid_argument (bad size, wrong count).
    Result<void> map_frames(ReservationId id, std::span<const Cap> frames, std::size_t frame_size_bits);

    /// The range a reservation covers. Errors: Errc::not_initialized, Errc::unknown_reservation.
    Result<Range> region(ReservationId id) const;
    /// Every reservation, in address order.
    std::vector<ReservationInfo> reservations() const;
    /// Every anonymous pool, in address order.
    std::vector<PoolInfo> pools() const;

    /// libsel4vm's DEFER_MEMORY_MAP, chosen at run time.
    void set_deferred_mapping(bool deferred);
    /// True while deferred mapping is on.
    bool deferred_mapping() const;

    /// Receives accesses (or the parts of an access, see dispatch()) that no
    /// reservation holds, and accesses passed on with FaultResult::unhandled.
    /// An empty handler removes it.
    void set_unhandled_fault_handler(FaultHandler handler);

    /// Creates a vCPU (owned by the Vm).
    Result<Vcpu*> create_vcpu();
    /// vCPUs created so far.
    std::size_t vcpu_count() const;
    /// The index-th vCPU, or nullptr.
    Vcpu* vcpu(std::size_t index) const;

    /// Gives the VM interrupt lines (guestmem/interrupts.hpp), once; as
    /// libsel4vm's vm_create_default_irq_controller. Thread safe.
    /// Errors: Errc::already_initialized (it has them), Errc::unsupported (the
    /// backend cannot deliver interrupts to its guests; the message says which).
    Result<InterruptController*> create_default_irq_controller();
    /// The VM's interrupt lines; nullptr before create_default_irq_controller.
    /// Lock-free; the controller lives as long as the VM.
    InterruptController* irq_controller() const noexcept { return irq_controller_.load(std::memory_order_acquire); }

    /// Performs one guest access of 1 to 8 bytes as `vcpu`: on mapped memory
    /// with the right rights it reads or writes the frame; otherwise it
    /// dispatches the fault and applies the handler's result. An access that
    /// crosses owners is performed as one access per part, in ascending
    /// address order (docs/concepts.md, "Accesses that cross owners"); handlers
    /// see only 1, 2, 4 or 8 bytes. Backends call this for every access the
    /// hypervisor could not complete; the sim backend for every access.
    /// Fault handlers may perform nested accesses; nesting deeper than
    /// FaultDispatcher's bound (16) ends the innermost access in an error.
    ///
    /// A failure is returned, not logged or kept: the outcome's FaultReport
    /// names the failed access (or piece), the instruction pointer and the
    /// reason (a size that is not 1 to 8, an access wrapping past the top of
    /// the address space, too deep nesting, FAULT_ERROR, ...); the caller
    /// reports it where the access ends.
    AccessOutcome dispatch(Vcpu& vcpu, Access& access);

    /// Ensures a reservation with a deferred mapping is mapped (for VMM-side access).
    Result<void> ensure_mapped(ReservationId id);
    /// The mapped run holding `addr`, if any (for VMM-side access to guest memory).
    /// Thread safety: any thread, lock-free. Each thread remembers the runs
    /// it used (1,024 of them, 56 KiB allocated by its first VMM-side
    /// access), so asking again searches nothing. The run describes the
    /// reservation as it is now: once a concurrent free returns, its frames
    /// may be mapped elsewhere (the copies in guestmem/guest_memory.hpp hold
    /// the reservation while they copy; see docs/concepts.md).
    std::optional<MappedRun> find_run(GuestAddr addr) const;

    /// VMM-side access to guest memory without temporary mappings: hands
    /// `visitor` the VMM's view of [addr, addr + size) piece by piece, in
    /// address order, across frames of any size and across reservations.
    ///
    /// The whole range is checked before the visitor is first called: every
    /// byte must lie in a frame mapped with the read right, and with the write
    /// right too if `needed` includes Rights::write (Rights::read: any mapped
    /// memory). Pending deferred mappings in the range are completed, as a
    /// guest access there would (even if a later byte then fails the check).
    /// The reservations stay held until the visit returns: a concurrent free
    /// waits for it, so the memory stays valid inside the visitor (a visitor
    /// may itself free them; the memory then stays valid until it returns).
    ///
    /// Errors: Errc::not_initialized; Errc::invalid_argument (empty visitor,
    /// range wrapping past the top of the address space); Errc::not_mapped
    /// (a byte outside every reservation or without a readable frame);
    /// Errc::permission_denied (a write needed and a frame is read-only);
    /// Errc::reentrant_call (a deferred mapping to complete, from a map
    /// iterator of this VM); whatever the visitor returns. Size 0 visits nothing.
    ///
    /// Thread safety: any thread; the memory is shared with running guests,
    /// so the visitor sees bytes that may change under it (see guest_memory.hpp).
    Result<void> visit_memory(GuestAddr addr, std::uint64_t size, Rights needed, const MemoryVisitor& visitor);

    /// The fast path of read_guest/write_guest (guestmem/guest_memory.hpp):
    /// copies guest memory into `mine` (or, when `mine` is empty, `from_mine`
    /// into guest memory) if [addr, addr + size) lies in one mapped run with
    /// `needed` rights; false, with nothing copied and nothing logged,
    /// otherwise (the caller then takes the general path, Vm::visit_memory,
    /// which reports why). No lock, no allocation. Thread safety: any thread.
    bool copy_within_one_run(GuestAddr addr, std::span<std::byte> mine, std::span<const std::byte> from_mine,
                             Rights needed);

    /// Every frame mapped in reservation `id`, in address order (empty while
    /// unmapped or deferred). Errors: Errc::not_initialized, Errc::unknown_reservation.
    Result<std::vector<FrameMapping>> frame_mappings(ReservationId id) const;

    /// Starts recording which 4 KiB pages of guest memory are written, by
    /// anyone: this VM's guests (on sim: every write through Vm::dispatch; on
    /// KVM: KVM_MEM_LOG_DIRTY_PAGES; on the emulator: its write hook), the
    /// VMM (read/write_guest, the typed accessors, the RAM callbacks and
    /// touches, visit_memory for writing), and other VMs writing frames this
    /// VM shares with them. Every page starts clean. While no VM of a
    /// capability space tracks, no path pays for it. Errors:
    /// Errc::not_initialized, Errc::invalid_argument (already tracking),
    /// Errc::unsupported (the backend of this VM, or of another VM sharing the
    /// capability space, cannot log its guest writes; nothing is started),
    /// Errc::out_of_memory (more than 64 tracking VMs on one capability space).
    /// Thread safety: any thread.
    Result<void> start_dirty_tracking();
    /// Stops recording; the pages recorded are dropped. Errors:
    /// Errc::invalid_argument (not tracking).
    Result<void> stop_dirty_tracking();
    /// True while tracking.
    bool dirty_tracking() const;
    /// How many times tracking was started on this VM (0 before the first
    /// start_dirty_tracking()): the current tracking session while tracking.
    /// Pages written are known only within one session, so whoever pairs a
    /// collection with an earlier one (a diff snapshot with its parent)
    /// checks that the session did not change in between.
    std::uint64_t dirty_tracking_starts() const;
    /// The pages of [addr, addr + size) (page aligned) written since tracking
    /// started or since they were last returned, and marks them clean: a write
    /// made while this runs is reported by this call or by the next, never by
    /// neither. Unmapped pages are clean. The bits describe writes, not the
    /// bytes: to copy the pages consistently, stop the vCPUs first. Errors:
    /// Errc::not_initialized, Errc::invalid_argument (not tracking, range not
    /// page aligned or wrapping), Errc::unsupported (a VM sharing the
    /// capability space cannot log its writes), Errc::backend_error (reading
    /// the hypervisor's log failed; pages stay dirty). Thread safety: any
    /// thread; concurrent calls for one range each get a share of its pages.
    Result<DirtyBitmap> dirty_pages(GuestAddr addr, std::uint64_t size);

    /// dirty_pages() by frame instead of by address: for each of `frames`
    /// (frames of this VM's capability space, wherever and whether they are
    /// mapped now), the pages written since tracking started or since they
    /// were last returned, one bit per 4 KiB page (page p is bit p % 64 of
    /// word p / 64), and marks them clean. Frames are named by identity, so
    /// the frames of a reservation freed since the caller listed them are
    /// still reported (a snapshot saves the map it listed, whatever other
    /// threads free meanwhile). Errors: as dirty_pages(), plus
    /// Errc::invalid_argument (a null frame). Thread safety: as dirty_pages().
    Result<std::vector<std::vector<std::uint64_t>>> dirty_frame_pages(
        std::span<const std::shared_ptr<const Frame>> frames);
    /// Marks pages dirty again for this VM, as dirty_frame_pages() returned
    /// them for the same `frames`: for a caller that collected pages and then
    /// could not use them (a snapshot whose file could not be written), so
    /// that the next collection reports them as if they had never been
    /// collected. Other VMs' tracking is not touched. Errors:
    /// Errc::invalid_argument (not tracking, a null frame, `pages` not one
    /// entry per frame). Thread safety: any thread.
    Result<void> redirty_frame_pages(std::span<const std::shared_ptr<const Frame>> frames,
                                     const std::vector<std::vector<std::uint64_t>>& pages);

    /// Every reservation with the frames mapped in it, and every anonymous
    /// pool, taken at one instant: no reserve, map or free of another thread
    /// lands between two of its entries. The frames stay alive while the
    /// result holds them, even if their reservation is freed meanwhile.
    /// Errors: Errc::not_initialized, Errc::reentrant_call (from a map
    /// iterator of this VM). Thread safety: any thread.
    Result<AddressSpaceLayout> layout() const;

    /// The VM's guest RAM: registration and allocation (<sel4vm/guest_ram.h>).
    GuestRam& ram() const { return *ram_; }

    /// The hypervisor backend.
    Backend& backend() const { return *backend_; }
    /// The capability space frames come from.
    CapabilitySpace& capabilities() const { return *caps_; }
    /// The capability space, shared (to create another VM sharing frames).
    const std::shared_ptr<CapabilitySpace>& shared_capabilities() const { return caps_; }

    /// An opaque pointer for the embedding layer (the C API keeps its handle here).
    void* user_data() const { return user_data_; }
    /// Sets the pointer user_data() returns.
    void set_user_data(void* data) { user_data_ = data; }

private:
    // FaultDispatcher::of: backends that check an access's size themselves
    // (the sim backend's is stricter) perform it without dispatch()'s check.
    friend class FaultDispatcher;
    // read_guest/write_guest's inline copy within one run (guest_memory.cpp).
    friend struct GuestCopy;

    std::shared_ptr<CapabilitySpace> caps_;
    std::unique_ptr<Backend> backend_;
    std::unique_ptr<AddressSpace> space_;
    std::unique_ptr<FaultDispatcher> dispatcher_;
    std::unique_ptr<GuestRam> ram_;  // uses space_; destroyed before it
    mutable std::mutex vcpus_mutex_;
    std::vector<std::unique_ptr<Vcpu>> vcpus_;
    std::atomic<bool> deferred_{false};
    void* user_data_ = nullptr;
    mutable std::mutex dirty_mutex_;     // serialises start/stop of tracking
    std::optional<unsigned> tracker_;    // dirty_mutex_; the capability space's tracker slot
    std::uint64_t tracking_starts_ = 0;  // dirty_mutex_
    mutable std::mutex doorbells_mutex_;
    // The match values of live doorbells, for reservations() (kept here, not
    // in the reservation, whose size the dispatch path's cache footprint counts).
    std::vector<std::pair<ReservationId, std::uint64_t>> doorbell_matches_;  // doorbells_mutex_
    // Last: destroyed first, before the vCPUs its lines name.
    std::mutex irq_mutex_;  // serialises create_default_irq_controller
    std::unique_ptr<InterruptController> irq_controller_owner_;
    std::atomic<InterruptController*> irq_controller_{nullptr};
};

/// Owns a reservation and frees it when it goes out of scope.
class GUESTMEM_API ScopedReservation {
public:
    ScopedReservation() = default;
    /// Owns reservation `id` of `vm`.
    ScopedReservation(Vm& vm, ReservationId id) : vm_(&vm), id_(id) {}
    ~ScopedReservation() { reset(); }
    /// Takes over `other`'s reservation.
    ScopedReservation(ScopedReservation&& other) noexcept
        : vm_(std::exchange(other.vm_, nullptr)), id_(std::exchange(other.id_, ReservationId::none)) {}
    /// Frees the reservation held, then takes over `other`'s.
    ScopedReservation& operator=(ScopedReservation&& other) noexcept {
        if (this != &other) {
            reset();
            vm_ = std::exchange(other.vm_, nullptr);
            id_ = std::exchange(other.id_, ReservationId::none);
        }
        return *this;
    }

    /// The reservation held (ReservationId::none if none).
    ReservationId id() const { return id_; }
    /// Gives up ownership without freeing.
    ReservationId release() {
        vm_ = nullptr;
        return std::exchange(id_, ReservationId::none);
    }
    /// Frees the reservation held, if any.
    void reset() {
        if (vm_ && id_ != ReservationId::none) (void)vm_->free(id_);
        vm_ = nullptr;
        id_ = ReservationId::none;
    }

private:
    Vm* vm_ = nullptr;
    ReservationId id_ = ReservationId::none;
};

}  // namespace guestmem
