// SPDX-License-Identifier: BSD-2-Clause
#include "guestmem/vm.hpp"
#include "guestmem/backend_registry.hpp"

#include <exception>
#include <string>
#include <thread>

#include "guestmem/log.hpp"

#include "address_space.hpp"
#include "guestmem/guest_ram.hpp"
#include "fault_dispatcher.hpp"
#include "region_index.hpp"

namespace guestmem {

Vm::Vm(std::unique_ptr<Backend> backend, std::shared_ptr<CapabilitySpace> caps)
    : caps_(std::move(caps)),
      backend_(std::move(backend)),
      space_(std::make_unique<AddressSpace>(*backend_, *caps_)),
      dispatcher_(std::make_unique<FaultDispatcher>(*space_)),
      ram_(std::make_unique<GuestRam>(*this)) {
    // Trackers of the capability space see this VM's guest writes too.
    caps_->add_dirty_source(*backend_);
}

Vm::~Vm() {
    {
        std::lock_guard lock(dirty_mutex_);
        if (tracker_) caps_->stop_tracker(*tracker_);
        tracker_.reset();
    }
    caps_->remove_dirty_source(*backend_);
    // Reservations go first: their mappings refer to the backend, and the
    // backend's vCPUs may still hold lookup snapshots.
    space_->clear();
    std::lock_guard lock(vcpus_mutex_);
    vcpus_.clear();
}

Result<void> Vm::init_memory() {
    ApiCall call("Vm::init_memory");
    return space_->init();
}

bool Vm::memory_initialized() const { return space_->initialized(); }

Result<ReservationId> Vm::reserve_at(GuestAddr addr, std::uint64_t size, FaultHandler handler) {
    ApiCall call("Vm::reserve_at");
    return space_->reserve_at(addr, size, std::move(handler));
}

namespace {

/// A doorbell's handler and what its calls share, wherever they come from
/// (the backend's thread or, synchronously, fault dispatch).
struct Doorbell {
    DoorbellHandler handler;
    std::mutex mutex;  // calls never overlap
    std::atomic<ReservationId> id{ReservationId::none};
    // The thread inside handler, if any: a ring from that same thread (the
    // handler writing its own doorbell through the sim backend) would wait on
    // `mutex` for itself forever, so it is refused instead.
    std::atomic<std::thread::id> calling{};

    /// False (and nothing called) when the ring comes from inside the handler.
    bool ring(std::uint64_t count) {
        if (calling.load(std::memory_order_relaxed) == std::this_thread::get_id()) {
            log(LogLevel::error, "doorbell handler of reservation " + id_text() +
                                     " rang its own doorbell: the ring is refused, as the handler is already running");
            return false;
        }
        std::lock_guard lock(mutex);
        calling.store(std::this_thread::get_id(), std::memory_order_relaxed);
        ReservationId& running = doorbell_running_on_this_thread();
        const ReservationId outer = running;
        running = id.load(std::memory_order_acquire);
        try {
            ApiCall::UserCode user_code;
            handler(count);
        } catch (const std::exception& e) {
            log(LogLevel::error, "doorbell handler of reservation " + id_text() + " threw: " + e.what());
        } catch (...) {
            log(LogLevel::error, "doorbell handler of reservation " + id_text() + " threw");
        }
        running = outer;
        calling.store(std::thread::id{}, std::memory_order_relaxed);
        return true;
    }

    std::string id_text() const { return std::to_string(static_cast<std::uint64_t>(id.load())); }
};

}  // namespace

Result<ReservationId> Vm::reserve_doorbell(GuestAddr addr, std::uint64_t size, DoorbellHandler handler,
                                           std::optional<std::uint64_t> match) {
    ApiCall call("Vm::reserve_doorbell");
    if (size != 1 && size != 2 && size != 4 && size != 8) {
        return fail(Errc::invalid_argument, "doorbell size " + std::to_string(size) + " is not 1, 2, 4 or 8");
    }
    if (!handler) return fail(Errc::invalid_argument, "doorbell handler is empty");
    if (match && size < 8 && (*match >> (size * 8)) != 0) {
        return fail(Errc::invalid_argument,
                    "match value " + std::to_string(*match) + " does not fit in " + std::to_string(size) + " bytes");
    }
    auto bell = std::make_shared<Doorbell>();
    bell->handler = std::move(handler);
    const DoorbellSpec spec{addr, static_cast<std::uint8_t>(size), match};
    // Without a fast path (sim backend, or KVM without ioeventfds) the core
    // rings for exactly the writes the hypervisor would have signalled.
    FaultHandler fallback = [bell, spec](Fault& fault) {
        if (fault.is_write() && fault.address() == spec.addr && fault.size() == spec.size &&
            (!spec.match || fault.data() == *spec.match) && !bell->ring(1)) {
            return FaultResult::error;
        }
        return FaultResult::ignore;
    };
    auto id = space_->reserve_at(addr, size, std::move(fallback), ReservationKind::doorbell, [this, bell, spec] {
        return backend_->add_doorbell(spec, [bell](std::uint64_t n) { bell->ring(n); });
    });
    if (id) {
        bell->id.store(*id, std::memory_order_release);
        if (match) {
            std::lock_guard lock(doorbells_mutex_);
            doorbell_matches_.emplace_back(*id, *match);
        }
    }
    return id;
}

Result<ReservationId> Vm::reserve_write_posting(GuestAddr addr, std::uint64_t size, FaultHandler handler) {
    ApiCall call("Vm::reserve_write_posting");
    return space_->reserve_at(addr, size, std::move(handler), ReservationKind::write_posting, [this, addr, size] {
        return backend_->add_write_posting(Range{addr, size});
    });
}

Result<void> Vm::make_anon(GuestAddr addr, std::uint64_t size) {
    ApiCall call("Vm::make_anon");
    return space_->make_anon(addr, size);
}

Result<Vm::AnonReservation> Vm::reserve_anon(std::uint64_t size, std::uint64_t align, FaultHandler handler) {
    ApiCall call("Vm::reserve_anon");
    return space_->reserve_anon(size, align, std::move(handler));
}

Result<ReservationId> Vm::reserve_anon_at(GuestAddr addr, std::uint64_t size, FaultHandler handler) {
    ApiCall call("Vm::reserve_anon_at");
    return space_->reserve_anon_at(addr, size, std::move(handler));
}

Result<void> Vm::free(ReservationId id) {
    ApiCall call("Vm::free");
    if (ram_->owns(id)) {
        return fail(Errc::invalid_argument, "reservation " + std::to_string(static_cast<std::uint64_t>(id)) +
                                                " holds guest RAM, which stays registered for the VM's lifetime");
    }
    auto freed = space_->free(id);
    if (freed) {
        std::lock_guard lock(doorbells_mutex_);
        std::erase_if(doorbell_matches_, [id](const auto& entry) { return entry.first == id; });
    }
    return freed;
}

Result<void> Vm::map(ReservationId id, MapIterator iterator) {
    ApiCall call("Vm::map");
    return space_->map(id, std::move(iterator), deferred_mapping());
}

Result<void> Vm::map_frames(ReservationId id, std::span<const Cap> frames, std::size_t frame_size_bits) {
    ApiCall call("Vm::map_frames");
    auto size = frame_size_from_bits(frame_size_bits);
    if (!size) {
        return fail(Errc::invalid_argument,
                    "frame_size_bits " + std::to_string(frame_size_bits) + " is not 12, 21 or 30");
    }
    auto range = space_->region(id);
    if (!range) return range.error();
    const std::uint64_t bytes = bytes_of(*size);
    if (frames.size() > (UINT64_MAX >> frame_size_bits) || frames.size() * bytes != range->size) {
        return fail(Errc::invalid_argument, std::to_string(frames.size()) + " frames of " + std::to_string(bytes) +
                                                " bytes do not cover the reservation's " + std::to_string(range->size) +
                                                " bytes exactly");
    }
    // The iterator owns a copy of the array: nothing dangles if mapping is deferred.
    auto copy = std::make_shared<const std::vector<Cap>>(frames.begin(), frames.end());
    const GuestAddr base = range->base;
    return space_->map(
        id,
        [copy, base, frame_size_bits](GuestAddr addr) {
            const std::uint64_t index = (addr - base) >> frame_size_bits;
            FrameRequest request;
            request.cap = index < copy->size() ? (*copy)[index] : kNullCap;
            request.rights = Rights::all;
            request.addr = addr;
            request.size_bits = frame_size_bits;
            return request;
        },
        deferred_mapping());
}

Result<Range> Vm::region(ReservationId id) const {
    ApiCall call("Vm::region");
    return space_->region(id);
}

std::vector<ReservationInfo> Vm::reservations() const {
    auto infos = space_->reservation_infos();
    std::lock_guard lock(doorbells_mutex_);
    for (const auto& [id, match] : doorbell_matches_) {
        for (ReservationInfo& info : infos) {
            if (info.id == id) info.doorbell_match = match;
        }
    }
    return infos;
}

std::vector<PoolInfo> Vm::pools() const { return space_->pool_infos(); }

void Vm::set_deferred_mapping(bool deferred) { deferred_.store(deferred, std::memory_order_relaxed); }

bool Vm::deferred_mapping() const { return deferred_.load(std::memory_order_relaxed); }

void Vm::set_unhandled_fault_handler(FaultHandler handler) { dispatcher_->set_unhandled_handler(std::move(handler)); }

Result<Vcpu*> Vm::create_vcpu() {
    ApiCall call("Vm::create_vcpu");
    std::lock_guard lock(vcpus_mutex_);
    auto vcpu = std::make_unique<Vcpu>(*this, static_cast<unsigned>(vcpus_.size()));
    auto backend = backend_->create_vcpu(*vcpu);
    if (!backend) return backend.error();
    vcpu->backend_ = std::move(*backend);
    vcpus_.push_back(std::move(vcpu));
    return vcpus_.back().get();
}

std::size_t Vm::vcpu_count() const {
    std::lock_guard lock(vcpus_mutex_);
    return vcpus_.size();
}

Result<InterruptController*> Vm::create_default_irq_controller() {
    ApiCall call("Vm::create_default_irq_controller");
    std::lock_guard lock(irq_mutex_);
    if (irq_controller_owner_) return fail(Errc::already_initialized, "the VM has an interrupt controller already");
    if (auto ok = backend_->supports_interrupts(); !ok) {
        return fail(ok.error().code,
                    "the " + std::string(to_string(backend_->kind())) + " backend " + ok.error().message);
    }
    auto controller =
        std::make_unique<InterruptController>(*this, [](Vcpu& vcpu) { vcpu.backend().interrupt_pending(); });
    if (auto ok = backend_->attach_interrupt_controller(*this); !ok) {
        return fail(ok.error().code,
                    "the " + std::string(to_string(backend_->kind())) + " backend " + ok.error().message);
    }
    irq_controller_owner_ = std::move(controller);
    irq_controller_.store(irq_controller_owner_.get(), std::memory_order_release);
    return irq_controller_owner_.get();
}

Vcpu* Vm::vcpu(std::size_t index) const {
    std::lock_guard lock(vcpus_mutex_);
    return index < vcpus_.size() ? vcpus_[index].get() : nullptr;
}

Result<void> Vm::ensure_mapped(ReservationId id) {
    ApiCall call("Vm::ensure_mapped");
    return space_->ensure_mapped(id);
}

std::optional<MappedRun> Vm::find_run(GuestAddr addr) const {
    const RegionIndex& index = space_->index();
    ThreadLookup& lookup = index.thread_lookup();
    // A run remembered for addr, while its reservation is live, is the
    // answer without entering it: the run is a copy in the cache, and the
    // reservation's frames cannot have changed (Reservation::frames).
    if (const RememberedRun* remembered = RegionIndex::remembered(lookup, addr);
        remembered && remembered->owner->live()) {
        return remembered->run;
    }
    ThreadInside& mine = ThreadInside::mine();
    Reservation* reservation = index.enter_holder(lookup.cache, addr, mine);
    if (!reservation) return std::nullopt;
    const MappedRun* found = RegionIndex::run_of(lookup, *reservation, addr);
    std::optional<MappedRun> run = found ? std::optional<MappedRun>(*found) : std::nullopt;
    reservation->leave(mine);
    return run;
}

}  // namespace guestmem
