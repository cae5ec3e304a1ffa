// SPDX-License-Identifier: BSD-2-Clause
// snapshot::restore: a chain of snapshot files back into a VM.
#include <algorithm>
#include <deque>
#include <mutex>
#include <set>

#include "../core/format.hpp"  // errno_message, hex, describe
#include "format.hpp"
#include "guestmem/guest_ram.hpp"
#include "guestmem/log.hpp"
#include "guestmem/snapshot.hpp"
#include "chain.hpp"
#include "loader.hpp"
#include "registry.hpp"
#include "temp_file.hpp"

namespace guestmem::snapshot {

namespace {

namespace fs = std::filesystem;

Error bad(const LoadedFile& file, const std::string& why) {
    return fail(Errc::bad_snapshot, file.path.string() + ": " + why);
}

// Makes the frames of the newest file's frame table on demand, each once,
// filled from the chain: a frame shared by several reservations is one
// frame however many iterators ask for it. Holds the chain's files open for
// lazy restores (its iterators hold it); its capabilities go when it does,
// the frames living on in their mappings.
class FrameFactory {
public:
    FrameFactory(Chain chain, std::shared_ptr<CapabilitySpace> caps)
        : reader_(std::move(chain)), caps_(std::move(caps)) {
        const auto n = reader_.top().layout.frames.size();
        made_.resize(n, kNullCap);
        identities_.resize(n);
    }
    ~FrameFactory() {
        for (Cap cap : made_) {
            if (cap != kNullCap) (void)caps_->remove(cap);
        }
    }
    FrameFactory(const FrameFactory&) = delete;
    FrameFactory& operator=(const FrameFactory&) = delete;

    Result<Cap> get(std::uint64_t index) {
        std::lock_guard lock(mutex_);
        if (made_[index] != kNullCap) return made_[index];
        const format::FrameEntry& entry = reader_.top().layout.frames[index];
        auto size = frame_size_from_bits(entry.size_bits);
        auto cap = caps_->allocate_frame(*size);
        if (!cap) return cap.error();
        auto info = caps_->lookup(*cap);
        if (!info) return info.error();
        if (auto ok = reader_.fill(index, info->frame->host()); !ok) {
            (void)caps_->remove(*cap);
            return ok.error();
        }
        made_[index] = *cap;
        identities_[index] = info->frame;
        if (id_ != 0) Registry::instance().add_frame(id_, index, info->frame);
        return *cap;
    }
    /// From now on frames made are recorded as frames of snapshot `id`.
    std::vector<std::weak_ptr<const Frame>> publish(std::uint64_t id) {
        std::lock_guard lock(mutex_);
        id_ = id;
        return identities_;
    }

private:
    std::mutex mutex_;
    ChainReader reader_;  // mutex_
    std::shared_ptr<CapabilitySpace> caps_;
    std::vector<Cap> made_;                               // mutex_
    std::vector<std::weak_ptr<const Frame>> identities_;  // mutex_
    std::uint64_t id_ = 0;                                // mutex_
};

struct Planned {
    GuestAddr gpa;
    Rights rights;
    std::uint64_t frame;
    std::size_t size_bits;
};

MapIterator iterator_for(const std::shared_ptr<FrameFactory>& factory, const LoadedFile& top,
                         const format::ReservationEntry& entry) {
    auto plan = std::make_shared<std::vector<Planned>>();
    for (const format::MappingEntry& m : entry.mappings) {
        plan->push_back(Planned{m.gpa, m.rights, m.frame, top.layout.frames[m.frame].size_bits});
    }
    return [factory, plan](GuestAddr addr) {
        auto it =
            std::lower_bound(plan->begin(), plan->end(), addr, [](const Planned& p, GuestAddr a) { return p.gpa < a; });
        if (it == plan->end() || it->gpa != addr) return FrameRequest{};
        // A failure (a read error, a corrupt page) is logged where it
        // happens; the null capability then fails the mapping.
        auto cap = factory->get(it->frame);
        if (!cap) return FrameRequest{kNullCap, it->rights, addr, it->size_bits};
        return FrameRequest{*cap, it->rights, addr, it->size_bits};
    };
}

ReservationRecord record_of(const format::ReservationEntry& e) {
    ReservationRecord r;
    r.range = e.range;
    r.kind = e.kind;
    r.mapped = e.mapped;
    r.frames = e.mappings.size();
    return r;
}

// Frees the reservations a failed restore made.
struct Undo {
    Vm& vm;
    std::vector<ReservationId> made;
    bool armed = true;
    ~Undo() {
        if (!armed) return;
        for (auto it = made.rbegin(); it != made.rend(); ++it) (void)vm.free(*it);
    }
};

struct DeferredSetting {
    Vm& vm;
    bool saved;
    DeferredSetting(Vm& v, bool deferred) : vm(v), saved(v.deferred_mapping()) { vm.set_deferred_mapping(deferred); }
    ~DeferredSetting() { vm.set_deferred_mapping(saved); }
    DeferredSetting(const DeferredSetting&) = delete;
    DeferredSetting& operator=(const DeferredSetting&) = delete;
};

}  // namespace

Result<RestoreReport> restore(Vm& vm, const fs::path& path, const DeviceHandlers& handlers, RestoreMode mode) {
    ApiCall call("snapshot::restore");
    if (!vm.memory_initialized()) return fail(Errc::not_initialized, "memory is not initialised (call vm_memory_init)");

    remove_stale_temp_files(fs::absolute(path).parent_path());
    // Everything the files say is checked before the VM is touched.
    auto loaded = load_chain(path);
    if (!loaded) return loaded.error();
    Chain chain = std::move(*loaded);
    const LoadedFile& top = *chain.front();
    const format::Layout& layout = top.layout;
    if (top.header.arch != vm.backend().arch()) {
        return fail(Errc::invalid_argument, top.path.string() + ": the snapshot's architecture differs from the VM's");
    }

    // So is what the VM has: anonymous pools and RAM registrations cannot be
    // undone, so nothing may be made unless every range the snapshot needs is
    // free (anonymous reservations lie in the snapshot's own pools).
    const auto existing = vm.reservations();
    const auto pools = vm.pools();
    auto conflict = [&](const Range& r) -> std::optional<std::string> {
        for (const ReservationInfo& info : existing) {
            if (info.range.overlaps(r)) return "reservation " + describe(info.range);
        }
        for (const PoolInfo& pool : pools) {
            if (pool.range.overlaps(r)) return "anonymous pool " + describe(pool.range);
        }
        return std::nullopt;
    };
    for (const Range& pool : layout.pools) {
        if (auto what = conflict(pool)) {
            return fail(Errc::overlap, top.path.string() + ": the snapshot's anonymous pool " + describe(pool) +
                                           " overlaps the VM's " + *what);
        }
    }
    for (const format::ReservationEntry& e : layout.reservations) {
        if (e.anonymous) continue;
        if (auto what = conflict(e.range)) {
            return fail(Errc::overlap, top.path.string() + ": the snapshot's reservation " + describe(e.range) +
                                           " overlaps the VM's " + *what);
        }
    }
    if (top.vcpus.size() > 4096) return bad(top, "too many vCPUs");

    // The caller's handlers, each asked for once, before anything is made.
    std::vector<FaultHandler> faults(layout.reservations.size());
    std::vector<DoorbellHandler> bells(layout.reservations.size());
    for (std::size_t i = 0; i < layout.reservations.size(); ++i) {
        const format::ReservationEntry& e = layout.reservations[i];
        if (e.kind == ReservationKind::ram) continue;
        const ReservationRecord record = record_of(e);
        if (e.kind == ReservationKind::doorbell) {
            if (handlers.doorbell) bells[i] = handlers.doorbell(record);
            if (!bells[i]) {
                return fail(Errc::invalid_argument, "no doorbell handler for the doorbell at " + hex(e.range.base));
            }
        } else {
            if (handlers.fault) faults[i] = handlers.fault(record);
            if (!faults[i]) {
                return fail(Errc::invalid_argument, "no fault handler for the reservation " + describe(e.range));
            }
        }
    }

    auto factory = std::make_shared<FrameFactory>(chain, vm.shared_capabilities());
    if (mode == RestoreMode::eager) {
        for (const format::ReservationEntry& e : layout.reservations) {
            for (const format::MappingEntry& m : e.mappings) {
                if (auto cap = factory->get(m.frame); !cap) return cap.error();
            }
        }
    }

    Undo undo{vm, {}};
    {
        DeferredSetting deferred(vm, mode == RestoreMode::lazy);
        for (const Range& pool : layout.pools) {
            if (auto ok = vm.make_anon(pool.base, pool.size); !ok) return ok.error();
        }
        for (std::size_t i = 0; i < layout.reservations.size(); ++i) {
            const format::ReservationEntry& e = layout.reservations[i];
            Result<ReservationId> id = ReservationId::none;
            switch (e.kind) {
            case ReservationKind::ram: continue;  // last: RAM cannot be undone
            case ReservationKind::device: id = vm.reserve_at(e.range.base, e.range.size, faults[i]); break;
            case ReservationKind::anonymous: id = vm.reserve_anon_at(e.range.base, e.range.size, faults[i]); break;
            case ReservationKind::write_posting:
                id = vm.reserve_write_posting(e.range.base, e.range.size, faults[i]);
                break;
            case ReservationKind::doorbell:
                id = vm.reserve_doorbell(e.range.base, e.range.size, bells[i], e.match);
                break;
            }
            if (!id) return id.error();
            undo.made.push_back(*id);
            if (e.mapped) {
                if (auto ok = vm.map(*id, iterator_for(factory, top, e)); !ok) return ok.error();
            }
        }
        while (vm.vcpu_count() < top.vcpus.size()) {
            if (auto made = vm.create_vcpu(); !made) return made.error();
        }
        for (std::size_t i = 0; i < top.vcpus.size(); ++i) {
            const format::VcpuEntry& v = top.vcpus[i];
            if (!v.saved) continue;
            if (auto ok = vm.vcpu(i)->set_registers(v.registers); !ok) return ok.error();
            if (auto ok = vm.vcpu(i)->set_system_state(v.system); !ok) return ok.error();
        }
        // Only resources can fail from here on (the ranges were checked
        // free); a failure leaves the RAM registered before it.
        for (const format::ReservationEntry& e : layout.reservations) {
            if (e.kind != ReservationKind::ram) continue;
            const MapIterator it = iterator_for(factory, top, e);
            auto ok = e.anonymous ? vm.ram().register_anon_at(e.range.base, e.range.size, it)
                                  : vm.ram().register_at(e.range.base, e.range.size, it);
            if (!ok) return ok.error();
        }
        for (const Range& a : layout.allocated) {
            if (auto ok = vm.ram().mark_allocated(a.base, a.size); !ok) return ok.error();
        }
    }
    undo.armed = false;
    // Restored without tracking on, the snapshot is the parent of diffs in
    // the next session: the VM's memory is the file's until it runs.
    const std::uint64_t starts = vm.dirty_tracking_starts();
    Registry::instance().record(vm, top.header.id, factory->publish(top.header.id),
                                vm.dirty_tracking() ? starts : starts + 1);

    RestoreReport report;
    report.info = info_of(top);
    for (const auto& file : chain) report.chain.push_back(file->path);
    return report;
}

}  // namespace guestmem::snapshot
