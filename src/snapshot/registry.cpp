// SPDX-License-Identifier: BSD-2-Clause
#include "registry.hpp"

namespace guestmem::snapshot {

Registry& Registry::instance() {
    static Registry registry;
    return registry;
}

void Registry::record(const Vm& vm, std::uint64_t id, std::vector<std::weak_ptr<const Frame>> frames,
                      std::uint64_t tracking_session) {
    std::lock_guard lock(mutex_);
    // Only a VM's last snapshot can be a parent: older entries of the VM go,
    // so the registry holds one frame table per VM.
    if (auto it = last_.find(&vm); it != last_.end()) snapshots_.erase(it->second.id);
    snapshots_[id] = Entry{std::move(frames)};
    last_[&vm] = Last{id, tracking_session};
}

void Registry::add_frame(std::uint64_t id, std::uint64_t index, const std::shared_ptr<const Frame>& frame) {
    std::lock_guard lock(mutex_);
    auto it = snapshots_.find(id);
    if (it != snapshots_.end() && index < it->second.frames.size()) it->second.frames[index] = frame;
}

std::optional<Registry::Last> Registry::last(const Vm& vm) const {
    std::lock_guard lock(mutex_);
    auto it = last_.find(&vm);
    if (it == last_.end()) return std::nullopt;
    return it->second;
}

void Registry::forget(const Vm& vm) {
    std::lock_guard lock(mutex_);
    if (auto it = last_.find(&vm); it != last_.end()) {
        snapshots_.erase(it->second.id);
        last_.erase(it);
    }
}

std::unordered_map<const Frame*, std::uint64_t> Registry::frames_of(std::uint64_t id) const {
    std::lock_guard lock(mutex_);
    std::unordered_map<const Frame*, std::uint64_t> out;
    auto it = snapshots_.find(id);
    if (it == snapshots_.end()) return out;
    for (std::uint64_t i = 0; i < it->second.frames.size(); ++i) {
        if (auto frame = it->second.frames[i].lock()) out.emplace(frame.get(), i);
    }
    return out;
}

}  // namespace guestmem::snapshot
