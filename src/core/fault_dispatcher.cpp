#include "fault_dispatcher.hpp"

#include <cstring>
#include <exception>
#include <string>

#include "format.hpp"
#include "guestmem/log.hpp"

namespace guestmem {

namespace {

std::uint64_t size_mask(std::size_t size) { return size >= 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (size * 8)) - 1; }

bool valid_size(std::size_t size) { return size == 1 || size == 2 || size == 4 || size == 8; }

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

FaultResult FaultDispatcher::call(const FaultHandler& handler, Vcpu& vcpu, Access& access, const char*& failure) {
    Access seen = access;
    if (!seen.is_write) seen.data = 0;
    Fault fault(vcpu, seen);
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
        if (!access.is_write) access.data = fault.data() & size_mask(access.size);
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
                            : "no reservation holds the whole access and there is no unhandled-fault callback";
        return FaultResult::error;
    }
    FaultResult result = call(*handler, vcpu, access, failure);
    if (result == FaultResult::unhandled) {
        failure = "the unhandled-fault callback returned FAULT_UNHANDLED";
        return FaultResult::error;
    }
    return result;
}

FaultDispatcher::Step FaultDispatcher::attempt(Vcpu& vcpu, Access& access, const char*& failure) {
    Reservation* reservation = space_.index().lookup(*vcpu.lookup_cache_, access.addr);
    if (reservation && !reservation->range().contains(access.addr, access.size)) reservation = nullptr;

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
        result = call(reservation->handler(), vcpu, access, failure);
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

AccessOutcome FaultDispatcher::dispatch(Vcpu& vcpu, Access& access) {
    if (!valid_size(access.size)) return report(vcpu, access, "access size is not 1, 2, 4 or 8 bytes");
    if (!fits_address_space(access.addr, access.size)) {
        return report(vcpu, access, "access wraps past the top of the address space");
    }
    if (access.is_write) access.data &= size_mask(access.size);
    const SnapshotPin pin(*vcpu.lookup_cache_);
    for (int attempts = 0; attempts <= kMaxRestarts; ++attempts) {
        const char* failure = "";
        switch (attempt(vcpu, access, failure)) {
        case Step::completed: return AccessOutcome::completed;
        case Step::failed: return report(vcpu, access, failure);
        case Step::again: break;
        }
    }
    return report(vcpu, access, "FAULT_RESTART made no progress");
}

AccessOutcome FaultDispatcher::report(Vcpu& vcpu, const Access& access, const char* reason) {
    FaultReport report{access, vcpu.backend().instruction_pointer(), reason};
    log(LogLevel::error, std::string(ApiCall::current()) + ": guest " + (access.is_write ? "write" : "read") +
                             " of " + std::to_string(access.size) + " bytes at " + hex(access.addr) + " (ip " +
                             hex(report.ip) + ") failed: " + reason);
    vcpu.last_error_ = report;
    return AccessOutcome::error;
}

}  // namespace guestmem
