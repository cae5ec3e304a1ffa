// SPDX-License-Identifier: BSD-2-Clause
#include "ram_window.hpp"

#include <algorithm>

#include "format.hpp"
#include "frame_arena.hpp"

namespace guestmem::emu {

namespace {

std::vector<RightsStretch> stretches_of(std::span<const MappedRun> runs) {
    std::vector<RightsStretch> stretches;
    for (const MappedRun& run : runs) {
        if (!stretches.empty() && stretches.back().writable == run.writable()) {
            stretches.back().size += run.size;
        } else {
            stretches.push_back({run.gpa, run.size, run.writable()});
        }
    }
    return stretches;
}

// Maps the memfd pages behind `run` at `at` bytes into `window`; a run may
// cross from one arena's mapping into the next.
Result<void> place_run(HostWindow& window, std::uint64_t at, const MappedRun& run) {
    std::uint64_t done = 0;
    while (done < run.size) {
        auto where = FrameArena::locate(run.host + done);
        if (!where) {
            return fail(Errc::backend_error,
                        "memory of the run at " + hex(run.gpa + done) + " is not in a frame arena");
        }
        const std::uint64_t piece = std::min(run.size - done, where->bytes_left);
        if (auto ok = window.place(at + done, where->arena->fd(), where->offset, piece); !ok) return ok;
        done += piece;
    }
    return {};
}

}  // namespace

Result<std::shared_ptr<const RamWindow>> RamWindow::build(std::span<const MappedRun> runs, std::uint64_t page) {
    const GuestAddr gpa = runs.front().gpa;
    const std::uint64_t size = runs.back().end() - gpa;
    for (const MappedRun& run : runs) {
        if (run.gpa % page != 0 || run.size % page != 0) {
            return fail(Errc::invalid_argument, "run at " + hex(run.gpa) + " of " + hex(run.size) +
                                                    " bytes is not aligned to the emulator page " + hex(page));
        }
    }
    auto window = HostWindow::reserve(size);
    if (!window) return window.error();
    for (const MappedRun& run : runs) {
        if (auto ok = place_run(*window, run.gpa - gpa, run); !ok) return ok.error();
    }
    std::vector<RamSegment> segments;
    segments.reserve(runs.size());
    for (const MappedRun& run : runs) segments.push_back({run.gpa, run.size, run.host, run.dirty, run.writable()});
    return std::make_shared<const RamWindow>(gpa, std::move(*window), stretches_of(runs), std::move(segments));
}

const RamSegment& RamWindow::segment_at(GuestAddr addr) const {
    auto it = std::upper_bound(segments_.begin(), segments_.end(), addr,
                               [](GuestAddr a, const RamSegment& segment) { return a < segment.gpa; });
    return *std::prev(it);
}

std::vector<std::span<const MappedRun>> contiguous_groups(std::span<const MappedRun> runs) {
    std::vector<std::span<const MappedRun>> groups;
    std::size_t first = 0;
    for (std::size_t i = 1; i <= runs.size(); ++i) {
        if (i == runs.size() || runs[i].gpa != runs[i - 1].end()) {
            if (i > first) groups.push_back(runs.subspan(first, i - first));
            first = i;
        }
    }
    return groups;
}

}  // namespace guestmem::emu
