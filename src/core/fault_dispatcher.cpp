// SPDX-License-Identifier: BSD-2-Clause
#include "fault_dispatcher.hpp"

#include <cstring>
#include <exception>
#include <string>

#include "access_split.hpp"
#include "guestmem/log.hpp"

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
        case 1: __atomic_store_n(reinterpret_cast<std::uint8_t*>(p), static_cast<std::uint8_t>(value), __ATOMIC_RELAXED); return;
        case 2: __atomic_store_n(reinterpret_cast<std::uint16_t*>(p), static_cast<std::uint16_t>(value), __ATOMIC_RELAXED); return;
        case 4: __atomic_store_n(reinterpret_cast<std::uint32_t*>(p), static_cast<std::uint32_t>(value), __ATOMIC_RELAXED); return;
        default: __atomic_store_n(reinterpret_cast<std::uint64_t*>(p), value, __ATOMIC_RELAXED); return;
        }
    }
    std::memcpy(p, &value, size);
}

}  // namespace

bool access_mapped_memory(const FrameMap& frames, Access& access) {
    const MappedRun* first = frames.find(access.addr);
    if (!first || (access.is_write && !first->writable())) return false;
    const std::uint64_t in_first = first->end() - access.addr;
    if (in_first >= access.size) {
        std::byte* p = first->host + (access.addr - first->gpa);
        const bool aligned = (access.addr & (access.size - 1)) == 0;
        if (access.is_write) {
            store(p, access.size, aligned, access.data);
        } else {
            access.data = load(p, access.size, aligned);
        }
        return true;
    }
    // The access straddles two runs (frames not contiguous in host memory).
    const MappedRun* second = frames.find(first->end());
    if (!second || (access.is_write && !second->writable())) return false;
    std::byte* p1 = first->host + (access.addr - first->gpa);
    std::byte* p2 = second->host;
    const std::size_t n1 = static_cast<std::size_t>(in_first);
    auto* bytes = reinterpret_cast<std::byte*>(&access.data);  // little-endian host, as the guest
    if (access.is_write) {
        std::memcpy(p1, bytes, n1);
        std::memcpy(p2, bytes + n1, access.size - n1);
    } else {
        std::uint64_t value = 0;
        auto* out = reinterpret_cast<std::byte*>(&value);
        std::memcpy(out, p1, n1);
        std::memcpy(out + n1, p2, access.size - n1);
        access.data = value;
    }
    return true;
}

void FaultDispatcher::set_unhandled_handler(FaultHandler handler) {
    unhandled_.store(handler ? std::make_shared<const FaultHandler>(std::move(handler)) : nullptr);
}

FaultResult FaultDispatcher::call(const FaultHandler& handler, Vcpu& vcpu, Access& access, GuestAddr base,
                                  const char*& failure) {
    Fault fault(vcpu, access, base);  // the access's one copy: a read's data is 0 (see perform)
    Fault* outer = vcpu.current_fault_;
    vcpu.current_fault_ = &fault;
    FaultResult result;
    try {
        ApiCall::UserCode user_code;
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
        if (!access.is_write) access.data = fault.data();  // set_data kept only the access's size
        break;
    case FaultResult::unhandled:
    case FaultResult::restart:
    case FaultResult::ignore:
        break;
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

FaultResult FaultDispatcher::unhandled(Vcpu& vcpu, Access& access, bool passed_on, const char*& failure) {
    std::shared_ptr<const FaultHandler> handler = unhandled_.load();
    if (!handler) {
        // Say which way the access got here: the fix differs (register a
        // callback vs. look at the reservation's callback).
        failure = passed_on ? "the fault callback returned FAULT_UNHANDLED and there is no unhandled-fault callback"
                            : "no reservation holds the address and there is no unhandled-fault callback";
        return FaultResult::error;
    }
    FaultResult result = call(*handler, vcpu, access, /*base=*/0, failure);
    if (result == FaultResult::unhandled) {
        failure = "the unhandled-fault callback returned FAULT_UNHANDLED";
        return FaultResult::error;
    }
    return result;
}

FaultDispatcher::Step FaultDispatcher::attempt(Vcpu& vcpu, Access& access, Reservation* reservation,
                                               const char*& failure) {
    FaultResult result;
    if (reservation && reservation->try_enter()) {
        // The reservation stays alive while this vCPU's cache is pinned (by
        // dispatch), even if the handler dispatches again and replaces it.
        struct Inside {
            Reservation* r;
            ~Inside() { r->leave(); }
        } inside{reservation};
        const FrameMap* frames = reservation->frames();
        if (frames && access_mapped_memory(*frames, access)) return Step::completed;
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
        result = call(reservation->handler(), vcpu, access, reservation->range().base, failure);
        if (result == FaultResult::unhandled) result = unhandled(vcpu, access, /*passed_on=*/true, failure);
    } else if (reservation) {
        return Step::again;  // freed under us; the next lookup sees the new map
    } else {
        result = unhandled(vcpu, access, /*passed_on=*/false, failure);
    }

    switch (result) {
    case FaultResult::handled: return Step::completed;
    case FaultResult::ignore:
        if (!access.is_write) access.data = 0;
        return Step::completed;
    case FaultResult::restart: return Step::again;
    default: return Step::failed;
    }
}

FaultDispatcher::Piece FaultDispatcher::next_piece(Vcpu& vcpu, const Access& access, std::uint64_t done) {
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

namespace {

// Failures are rare: kept out of the loop that performs an access.
[[gnu::cold, gnu::noinline]] AccessOutcome failed(Vcpu& vcpu, const Access& access, const char* reason) {
    return AccessOutcome{FaultReport{access, vcpu.backend().instruction_pointer(), reason}};
}

}  // namespace

AccessOutcome Vm::dispatch(Vcpu& vcpu, Access& access) { return dispatcher_->dispatch(vcpu, access); }

AccessOutcome FaultDispatcher::dispatch(Vcpu& vcpu, Access& access) {
    if (access.size == 0 || access.size > 8) return failed(vcpu, access, "access size is not 1 to 8 bytes");
    return perform(vcpu, access);
}

AccessOutcome FaultDispatcher::perform(Vcpu& vcpu, Access& access) {
    if (!ends_within_address_space(access.addr, access.size)) {
        return failed(vcpu, access, "access wraps past the top of the address space");
    }
    if (vcpu.dispatch_depth_ >= kMaxNesting) {
        return failed(vcpu, access, "guest accesses made from fault handlers nest too deeply (a handler that "
                                    "re-enters its own device or the unhandled-fault callback without end?)");
    }
    struct Nesting {
        unsigned& depth;
        explicit Nesting(unsigned& d) : depth(d) { ++depth; }
        ~Nesting() { --depth; }
    } nesting{vcpu.dispatch_depth_};
    // A write carries only its size's bytes; a read starts from 0 (backends
    // may pass in anything), so that the access itself can be the piece a
    // handler sees when one owner holds all of it.
    access.data = access.is_write ? access.data & size_mask(access.size) : 0;
    const SnapshotPin pin(*vcpu.lookup_cache_);
    // One piece per owner (and per aligned piece of an odd-sized part), in
    // ascending address order, as hardware splits an access that crosses
    // devices; a read is assembled little-endian. A failed piece ends the
    // access: pieces already written stay written.
    std::uint64_t done = 0;
    std::uint64_t value = 0;
    int restarts = 0;
    while (done < access.size) {
        const Piece piece = next_piece(vcpu, access, done);
        Access part;
        const bool whole = piece.size == access.size;  // done is then 0
        if (!whole) {
            const std::uint64_t data = access.is_write ? (access.data >> (8 * done)) & size_mask(piece.size) : 0;
            part = Access{access.addr + done, piece.size, access.is_write, data};
        }
        Access& target = whole ? access : part;
        const char* failure = "";
        switch (attempt(vcpu, target, piece.owner, failure)) {
        case Step::completed:
            if (!access.is_write) value |= target.data << (8 * done);
            done += piece.size;
            restarts = 0;
            break;
        case Step::failed: return failed(vcpu, target, failure);
        case Step::again:
            if (++restarts > kMaxRestarts) return failed(vcpu, target, "FAULT_RESTART made no progress");
            break;
        }
    }
    if (!access.is_write) access.data = value;
    return AccessOutcome{};
}

}  // namespace guestmem
