// SPDX-License-Identifier: BSD-2-Clause
#include "frame_map.hpp"

#include <algorithm>

#include "frame_arena.hpp"

namespace guestmem {

void FrameMap::add(GuestAddr gpa, std::shared_ptr<Frame> frame, Rights rights) {
    const Rights mapped = has_rights(rights, Rights::read) ? (rights & Rights::read_write) : Rights::none;
    if (mapped != Rights::none) {
        MappedRun run{gpa, frame->bytes(), frame->host(), mapped, &frame->arena().dirty()};
        // Merge with the previous run when contiguous in guest and host memory
        // with equal rights: one run becomes one hypervisor slot.
        if (!runs_.empty()) {
            MappedRun& last = runs_.back();
            if (last.end() == run.gpa && last.host + last.size == run.host && last.rights == run.rights &&
                last.dirty == run.dirty) {
                last.size += run.size;
                run.size = 0;
            }
        }
        if (run.size != 0) runs_.push_back(run);
        only_ = runs_.size() == 1 ? runs_[0] : MappedRun{};
    }
    frames_.push_back(FrameMapping{gpa, rights, std::move(frame)});
}

const MappedRun* FrameMap::search(GuestAddr addr) const {
    auto it =
        std::upper_bound(runs_.begin(), runs_.end(), addr, [](GuestAddr a, const MappedRun& r) { return a < r.gpa; });
    if (it == runs_.begin()) return nullptr;
    --it;
    return addr - it->gpa < it->size ? &*it : nullptr;
}

const MappedRun* FrameMap::adjacent(const MappedRun& run) const {
    if (&run == &only_) return nullptr;  // find() of a single run: nothing follows it
    const MappedRun* next = &run + 1;
    return next != runs_.data() + runs_.size() && next->gpa == run.end() ? next : nullptr;
}

}  // namespace guestmem
