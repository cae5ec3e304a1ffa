// SPDX-License-Identifier: BSD-2-Clause
// Performs a guest access: memory if mapped, otherwise the owner's fault handler.
#pragma once

#include <atomic>
#include <memory>

#include "address_space.hpp"
#include "guestmem/fault.hpp"
#include "guestmem/vcpu.hpp"
#include "guestmem/vm.hpp"

namespace guestmem {

/// The one path every trapped guest access takes, on every backend:
/// splitting at owner boundaries, lookup (no lock while the map is
/// unchanged), deferred mapping, the reservation's handler, the
/// unhandled-fault handler, and the result's single meaning
/// (docs/concepts.md, "Faults and results").
///
/// Thread safety: dispatch() runs on many vCPU threads at once;
/// set_unhandled_handler() may run concurrently with it.
class FaultDispatcher {
public:
    /// Restarts of one access without progress before it is an error.
    static constexpr int kMaxRestarts = 8;
    /// Guest accesses a vCPU's fault handlers may nest (a handler performing
    /// an access that faults into a handler, ...) before the innermost is an
    /// error: unbounded re-entry would exhaust the stack.
    static constexpr unsigned kMaxNesting = 16;

    explicit FaultDispatcher(AddressSpace& space) : space_(space) {}

    /// The dispatcher of `vm`, for backends that check an access's size
    /// themselves and then call perform().
    static FaultDispatcher& of(Vm& vm) { return *vm.dispatcher_; }

    void set_unhandled_handler(FaultHandler handler);
    /// Vm::dispatch (its only caller: defined inline in fault_dispatcher.cpp):
    /// the size check (1 to 8 bytes), then perform().
    AccessOutcome dispatch(Vcpu& vcpu, Access& access);
    /// Performs an access of 1 to 8 bytes (the caller checked the size).
    AccessOutcome perform(Vcpu& vcpu, Access& access);
    /// For a first touch that reaches the backend as no access it could
    /// dispatch (an instruction fetch, a page-table walk: the hypervisor
    /// reports it as a failure): completes the deferred mapping of the
    /// reservation holding `addr`, as a data access there would. True when
    /// there was one to complete, so that the touch can be tried again;
    /// false when `addr` is in no reservation with a deferred mapping (the
    /// failure stands). Each true uses up a reservation's deferred mapping,
    /// so a caller that retries only on true cannot loop. Errors: those of the
    /// reservation's map iterator and of mapping its frames.
    Result<bool> complete_deferred_at(GuestAddr addr) { return space_.complete_deferred_at(addr); }

private:
    enum class Step { completed, again, failed };
    /// Where the next piece of an access goes: `size` bytes wholly inside
    /// `owner`, or wholly outside every reservation (owner nullptr), in the
    /// snapshot it was cut from.
    struct Piece {
        std::uint8_t size;
        Reservation* owner;
    };

    AccessOutcome run(Vcpu& vcpu, Access& access);
    AccessOutcome general(Vcpu& vcpu, Access& access, int restarts);
    Piece next_piece(Vcpu& vcpu, const Access& access, std::uint64_t done);
    Step attempt(Vcpu& vcpu, Access piece, Reservation* owner, std::uint64_t& read, const char*& failure);
    FaultResult call(const FaultHandler& handler, Vcpu& vcpu, Access piece, GuestAddr base, std::uint64_t& read,
                     const char*& failure);
    FaultResult unhandled(Vcpu& vcpu, Access piece, bool passed_on, std::uint64_t& read, const char*& failure);

    AddressSpace& space_;
    std::atomic<std::shared_ptr<const FaultHandler>> unhandled_;
};

}  // namespace guestmem
