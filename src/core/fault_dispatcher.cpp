// SPDX-License-Identifier: BSD-2-Clause
#include "fault_dispatcher.hpp"

#include <cstring>
#include <exception>
#include <string>

#include "access_split.hpp"
#include "dirty_log.hpp"
#include "guestmem/log.hpp"
#include "user_code.hpp"

namespace guestmem {

namespace {

// Naturally aligned accesses are single atomic loads/stores, as on hardware:
// a guest (or another vCPU) sharing the memory never sees a torn value.
std::uint64_t load(const std::byte* p, std::size_t size, bool aligned) {
    if (aligned) {
        switch (size) {
        case 1: return __atomic_load_n(reinterpret_cast<const std::uint8_t*>(p), __ATOMIC_RELAXED);
        case 2: return __atomic_load_n(reinterpret_cast<const std::uint16_t*>(p), __ATOMIC_RELAXED);
        case 4: return __atomic_load_n(reinterpret_cast<const std::uint32_t*>(p), __ATOMIC_RELAXED);
        default: return __atomic_load_n(reinterpret_cast<const std::uint64_t*>(p), __ATOMIC_RELAXED);
        }
    }
    std::uint64_t value = 0;
    std::memcpy(&value, p, size);
    return value;
}

void store(std::byte* p, std::size_t size, bool aligned, std::uint64_t value) {
    if (aligned) {
        switch (size) {
        case 1:
            __atomic_store_n(reinterpret_cast<std::uint8_t*>(p), static_cast<std::uint8_t>(value), __ATOMIC_RELAXED);
            return;
        case 2:
            __atomic_store_n(reinterpret_cast<std::uint16_t*>(p), static_cast<std::uint16_t>(value), __ATOMIC_RELAXED);
            return;
        case 4:
            __atomic_store_n(reinterpret_cast<std::uint32_t*>(p), static_cast<std::uint32_t>(value), __ATOMIC_RELAXED);
            return;
        default: __atomic_store_n(reinterpret_cast<std::uint64_t*>(p), value, __ATOMIC_RELAXED); return;
        }
    }
    std::memcpy(p, &value, size);
}

// Reads or writes guest memory through a frame map if every byte of the
// piece is mapped with the rights it needs; false (and nothing done) if not.
// A read's value goes to `read`.
bool access_mapped_memory(const FrameMap& frames, const Access piece, std::uint64_t& read) {
    const MappedRun* first = frames.find(piece.addr);
    if (!first || (piece.is_write && !first->writable())) return false;
    const std::uint64_t in_first = first->end() - piece.addr;
    if (in_first >= piece.size) {
        std::byte* p = first->host + (piece.addr - first->gpa);
        const bool aligned = (piece.addr & (piece.size - 1)) == 0;
        if (piece.is_write) {
            store(p, piece.size, aligned, piece.data);
            if (first->dirty) first->dirty->mark(p, piece.size);
        } else {
            read = load(p, piece.size, aligned);
        }
        return true;
    }
    // The piece straddles two runs (frames not contiguous in host memory).
    const MappedRun* second = frames.find(first->end());
    if (!second || (piece.is_write && !second->writable())) return false;
    std::byte* p1 = first->host + (piece.addr - first->gpa);
    std::byte* p2 = second->host;
    const std::size_t n1 = static_cast<std::size_t>(in_first);
    std::uint64_t value = piece.data;
    auto* bytes = reinterpret_cast<std::byte*>(&value);  // little-endian host, as the guest
    if (piece.is_write) {
        std::memcpy(p1, bytes, n1);
        std::memcpy(p2, bytes + n1, piece.size - n1);
        if (first->dirty) first->dirty->mark(p1, n1);
        if (second->dirty) second->dirty->mark(p2, piece.size - n1);
    } else {
        std::memcpy(bytes, p1, n1);
        std::memcpy(bytes + n1, p2, piece.size - n1);
        read = value;
    }
    return true;
}

/// Leaves the reservation a dispatch entered (with the thread's record it
/// entered with), however the dispatch ends.
struct Inside {
    Reservation& r;
    ThreadInside& mine;
    ~Inside() { r.leave(mine); }
};

// Failures are rare: kept out of the loop that performs an access.
[[gnu::cold, gnu::noinline]] AccessOutcome failed(Vcpu& vcpu, const Access access, const char* reason) {
    return AccessOutcome{FaultReport{access, vcpu.backend().instruction_pointer(), reason}};
}

}  // namespace

void FaultDispatcher::set_unhandled_handler(FaultHandler handler) {
    unhandled_.store(handler ? std::make_shared<const FaultHandler>(std::move(handler)) : nullptr);
}

// The steps of an access are inlined into run(): one function on the fast
// path. A piece travels by value, so that its fields stay in registers until
// they are stored into the Fault (its one copy): copying a struct that was
// just written field by field would stall on store forwarding.
[[gnu::always_inline]] inline FaultResult FaultDispatcher::call(const FaultHandler& handler, Vcpu& vcpu,
                                                                const Access piece, GuestAddr base, std::uint64_t& read,
                                                                const char*& failure) {
    Fault fault(vcpu, piece, base);  // a read's data is 0 (see run)
    Fault* outer = vcpu.current_fault_;
    vcpu.current_fault_ = &fault;
    FaultResult result;
    try {
        UserCodeScope user_code;
        result = handler(fault);
    } catch (const std::exception& e) {
        log(LogLevel::error, std::string(ApiCall::current()) + ": the fault handler threw: " + e.what());
        result = FaultResult::error;
        failure = "the fault handler threw an exception";
    } catch (...) {
        result = FaultResult::error;
        failure = "the fault handler threw an exception";
    }
    vcpu.current_fault_ = outer;
    switch (result) {
    case FaultResult::handled:
        read = fault.data();  // set_data kept only the piece's size
        break;
    case FaultResult::unhandled:
    case FaultResult::restart:
    case FaultResult::ignore: break;
    case FaultResult::error:
        if (!*failure) failure = "the fault handler returned FAULT_ERROR";
        break;
    default:
        failure = "the fault handler returned a value that is not a memory_fault_result_t";
        result = FaultResult::error;
        break;
    }
    return result;
}

FaultResult FaultDispatcher::unhandled(Vcpu& vcpu, const Access piece, bool passed_on, std::uint64_t& read,
                                       const char*& failure) {
    std::shared_ptr<const FaultHandler> handler = unhandled_.load();
    if (!handler) {
        // Say which way the access got here: the fix differs (register a
        // callback vs. look at the reservation's callback).
        failure = passed_on ? "the fault callback returned FAULT_UNHANDLED and there is no unhandled-fault callback"
                            : "no reservation holds the address and there is no unhandled-fault callback";
        return FaultResult::error;
    }
    FaultResult result = call(*handler, vcpu, piece, /*base=*/0, read, failure);
    if (result == FaultResult::unhandled) {
        failure = "the unhandled-fault callback returned FAULT_UNHANDLED";
        return FaultResult::error;
    }
    return result;
}

[[gnu::always_inline]] inline FaultDispatcher::Step FaultDispatcher::attempt(Vcpu& vcpu, const Access piece,
                                                                             Reservation* reservation,
                                                                             std::uint64_t& read,
                                                                             const char*& failure) {
    FaultResult result;
    ThreadInside& mine = ThreadInside::mine();
    if (reservation && reservation->try_enter(mine)) {
        // The reservation stays alive while this vCPU's cache is pinned (by
        // run), even if the handler dispatches again and replaces it.
        const Inside inside{*reservation, mine};
        const FrameMap* frames = reservation->frames();
        if (frames && access_mapped_memory(*frames, piece, read)) return Step::completed;
        if (reservation->has_deferred()) {
            if (!space_.complete_deferred(*reservation)) {
                failure = "the deferred mapping of the reservation failed";
                return Step::failed;
            }
            return Step::again;
        }
        // Another vCPU may have completed a deferred mapping between the two
        // loads above (it publishes the frames before clearing the flag): the
        // access is then retried against the frames, not given to the callback.
        if (!frames && reservation->frames()) return Step::again;
        result = call(reservation->handler(), vcpu, piece, reservation->range().base, read, failure);
        if (result == FaultResult::unhandled) result = unhandled(vcpu, piece, /*passed_on=*/true, read, failure);
    } else if (reservation) {
        return Step::again;  // freed under us; the next lookup sees the new map
    } else {
        result = unhandled(vcpu, piece, /*passed_on=*/false, read, failure);
    }

    switch (result) {
    case FaultResult::handled: return Step::completed;
    case FaultResult::ignore: read = 0; return Step::completed;
    case FaultResult::restart: return Step::again;
    default: return Step::failed;
    }
}

[[gnu::always_inline]] inline FaultDispatcher::Piece FaultDispatcher::next_piece(Vcpu& vcpu, const Access& access,
                                                                                 std::uint64_t done) {
    const GuestAddr addr = access.addr + done;
    const std::uint64_t left = access.size - done;
    LookupCache& cache = *vcpu.lookup_cache_;
    Reservation* owner = space_.index().lookup(cache, addr);
    std::uint64_t part = left;
    if (owner) {
        part = bytes_held(addr, owner->range().last(), left);
    } else if (auto next = space_.index().next_base_above(cache, addr)) {
        part = bytes_held(addr, *next - 1, left);  // up to the next owner: the unhandled part
    }
    return Piece{first_piece_size(addr, part), owner};
}

// Every access starts here. An access of 1, 2, 4 or 8 bytes that one
// reservation holds is one attempt, inline: no split, few live values, and
// no search at all when it is the reservation the vCPU touched last (a guest
// polling a device register). Everything else, and an attempt to be made
// again, takes general(), out of line.
[[gnu::always_inline]] inline AccessOutcome FaultDispatcher::run(Vcpu& vcpu, Access& access) {
    const std::uint8_t size = access.size;
    LookupCache& cache = *vcpu.lookup_cache_;
    // Bits 1, 2, 4 and 8 of 0x116: the sizes one piece can have.
    const bool one_piece = size <= 8 && ((0x116u >> size) & 1u) != 0;
    Reservation* owner = one_piece ? RegionIndex::repeat(cache, access.addr, size) : nullptr;
    if (!owner && one_piece) {
        // Another reservation than last time: searched (and remembered for
        // the next access), then the same short path if it holds it all.
        Reservation* found = space_.index().lookup(cache, access.addr);
        if (found && found->range().contains(access.addr, size)) owner = found;
    }
    // The cache's pins count the dispatches in progress on the vCPU.
    if (!owner || cache.pins >= kMaxNesting) return general(vcpu, access, 0);
    // size_mask(size) for 1, 2, 4 or 8 bytes, in one shift.
    const std::uint64_t written = access.is_write ? access.data & (~std::uint64_t{0} >> (64 - 8 * size)) : 0;
    const Access piece{access.addr, size, access.is_write, written};
    std::uint64_t read = 0;
    const char* failure = "";
    Step step;
    {
        const SnapshotPin pin(cache);
        step = attempt(vcpu, piece, owner, read, failure);
    }
    switch (step) {
    case Step::completed: access.data = piece.is_write ? written : read; return AccessOutcome{};
    case Step::failed: return failed(vcpu, piece, failure);
    case Step::again: break;
    }
    // A restart, a deferred mapping completed, or the reservation freed
    // meanwhile: the general path performs it again (counted as a restart).
    return general(vcpu, access, 1);
}

// The general path: any size from 1 to 8, split at owner boundaries, with
// lookups, deferred mappings and restarts (`restarts` already made).
[[gnu::noinline]] AccessOutcome FaultDispatcher::general(Vcpu& vcpu, Access& access, int restarts) {
    if (access.size == 0 || access.size > 8) return failed(vcpu, access, "access size is not 1 to 8 bytes");
    if (!ends_within_address_space(access.addr, access.size)) {
        return failed(vcpu, access, "access wraps past the top of the address space");
    }
    if (vcpu.lookup_cache_->pins >= kMaxNesting) {  // dispatches in progress on the vCPU
        return failed(vcpu, access,
                      "guest accesses made from fault handlers nest too deeply (a handler that "
                      "re-enters its own device or the unhandled-fault callback without end?)");
    }
    const GuestAddr addr = access.addr;
    const std::uint8_t size = access.size;
    const bool is_write = access.is_write;
    // A write carries only its size's bytes; backends may pass a read anything.
    const std::uint64_t written = is_write ? access.data & size_mask(size) : 0;
    const SnapshotPin pin(*vcpu.lookup_cache_);
    // One piece per owner (and per aligned piece of an odd-sized part), in
    // ascending address order, as hardware splits an access that crosses
    // devices; a read is assembled little-endian. A failed piece ends the
    // access: pieces already written stay written.
    std::uint64_t done = 0;
    std::uint64_t value = 0;
    while (done < size) {
        const Piece next = next_piece(vcpu, access, done);
        const Access piece{addr + done, next.size, is_write,
                           is_write ? (written >> (8 * done)) & size_mask(next.size) : 0};
        std::uint64_t read = 0;
        const char* failure = "";
        switch (attempt(vcpu, piece, next.owner, read, failure)) {
        case Step::completed:
            value |= read << (8 * done);
            done += next.size;
            restarts = 0;
            break;
        case Step::failed: return failed(vcpu, piece, failure);
        case Step::again:
            if (++restarts > kMaxRestarts) return failed(vcpu, piece, "FAULT_RESTART made no progress");
            break;
        }
    }
    access.data = is_write ? written : value;
    return AccessOutcome{};
}

// Vm::dispatch is its only caller: inlined there, the public entry is one call.
[[gnu::always_inline]] inline AccessOutcome FaultDispatcher::dispatch(Vcpu& vcpu, Access& access) {
    return run(vcpu, access);  // the fast path takes only sizes 1, 2, 4 and 8; general() checks the rest
}

AccessOutcome Vm::dispatch(Vcpu& vcpu, Access& access) { return dispatcher_->dispatch(vcpu, access); }

AccessOutcome FaultDispatcher::perform(Vcpu& vcpu, Access& access) { return run(vcpu, access); }

}  // namespace guestmem
