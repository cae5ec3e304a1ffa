// SPDX-License-Identifier: BSD-2-Clause
// Which frames of this process a snapshot file's frame table describes.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "guestmem/frame.hpp"
#include "guestmem/vm.hpp"

namespace guestmem::snapshot {

/// A diff stores the pages written since its parent, so it must know which
/// of the VM's frames are the parent's frames (and which are new since, to be
/// stored whole). Frame identity is only meaningful inside one process, so
/// the registry remembers, per snapshot saved or restored here, its frames
/// (weakly: a frame freed since is no match, and a new frame never takes its
/// place) and the last snapshot of each VM, the only valid parent of its next
/// diff (dirty tracking tells what changed since that one, not since older).
///
/// Thread safety: every member takes the registry's lock.
class Registry {
public:
    static Registry& instance();

    /// The last snapshot of a VM, and the dirty-tracking session a diff of
    /// it must be taken in (Vm::dirty_tracking_starts()): the pages written
    /// since the snapshot are known only within one session.
    struct Last {
        std::uint64_t id = 0;
        std::uint64_t tracking_session = 0;  ///< 0: none (saved without tracking: no diff of it)
    };

    /// Records that `id` was saved from or restored into `vm`, with its
    /// frame table (frames[i] is frame index i; null entries are frames not
    /// yet made, e.g. of a lazy restore: add_frame fills them in), as the
    /// parent of diffs taken in tracking session `tracking_session`.
    void record(const Vm& vm, std::uint64_t id, std::vector<std::weak_ptr<const Frame>> frames,
                std::uint64_t tracking_session);
    void add_frame(std::uint64_t id, std::uint64_t index, const std::shared_ptr<const Frame>& frame);
    /// The last snapshot recorded for `vm`.
    std::optional<Last> last(const Vm& vm) const;
    /// Forgets `vm` (its next diff has no valid parent).
    void forget(const Vm& vm);
    /// Frame -> index in snapshot `id`, for the frames still alive.
    std::unordered_map<const Frame*, std::uint64_t> frames_of(std::uint64_t id) const;

private:
    struct Entry {
        std::vector<std::weak_ptr<const Frame>> frames;
    };
    mutable std::mutex mutex_;
    std::unordered_map<std::uint64_t, Entry> snapshots_;
    std::unordered_map<const Vm*, Last> last_;
};

}  // namespace guestmem::snapshot
