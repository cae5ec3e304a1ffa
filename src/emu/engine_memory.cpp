// SPDX-License-Identifier: BSD-2-Clause
#include "engine_memory.hpp"

#include <algorithm>
#include <set>

#include "dirty_log.hpp"
#include "format.hpp"

namespace guestmem::emu {

namespace {

Result<void> check(uc_err err, const std::string& what) {
    if (err != UC_ERR_OK) return fail(Errc::backend_error, describe(what.c_str(), err));
    return {};
}

}  // namespace

EngineMemory::~EngineMemory() = default;  // the engine (closed by the owner) holds the regions

std::uint64_t EngineMemory::read_cb(uc_engine*, std::uint64_t offset, unsigned size, void* opaque) {
    auto* page = static_cast<MmioPage*>(opaque);
    return page->memory->sink_.mmio_access(page->base + offset, size, false, 0);
}

void EngineMemory::write_cb(uc_engine*, std::uint64_t offset, unsigned size, std::uint64_t value, void* opaque) {
    auto* page = static_cast<MmioPage*>(opaque);
    page->memory->sink_.mmio_access(page->base + offset, size, true, value);
}

Result<void> EngineMemory::unmap(GuestAddr gpa, std::uint64_t size) {
    // Code translated from the old contents must not run again. Before the
    // unmap: Unicorn finds the translations through the mapping (and
    // uc_mem_unmap only flushes the TLB).
    uc_ctl_remove_cache(uc_, gpa, gpa + size);
    return check(uc_mem_unmap(uc_, gpa, size), "cannot unmap guest memory at " + hex(gpa));
}

Result<void> EngineMemory::remove_stale(const MemorySnapshot& snapshot) {
    std::set<const RamWindow*> current;
    for (const auto& window : snapshot.windows) current.insert(window.get());
    for (auto it = windows_.begin(); it != windows_.end();) {
        if (current.count(it->second.get()) != 0) {
            ++it;
            continue;
        }
        if (auto ok = unmap(it->second->gpa(), it->second->size()); !ok) return ok;
        it = windows_.erase(it);
    }
    return {};
}

bool EngineMemory::missing_windows(const MemorySnapshot& snapshot) const {
    for (const auto& window : snapshot.windows) {
        auto it = windows_.find(window->gpa());
        if (it == windows_.end() || it->second != window) return true;
    }
    return false;
}

Result<void> EngineMemory::apply(const MemorySnapshot& snapshot) {
    if (auto ok = remove_stale(snapshot); !ok) return ok;
    for (const auto& window : snapshot.windows) {
        if (windows_.count(window->gpa()) != 0) continue;
        if (auto ok = drop_mmio_pages(window->gpa(), window->end()); !ok) return ok;
        if (auto ok = map_window(*window); !ok) return ok;
        windows_.emplace(window->gpa(), window);
    }
    return {};
}

Result<void> EngineMemory::map_window(const RamWindow& window) {
    const std::string where = "cannot map guest memory at " + hex(window.gpa());
    if (auto ok = check(uc_mem_map_ptr(uc_, window.gpa(), window.size(), UC_PROT_ALL, window.host()), where); !ok) {
        return ok;
    }
    for (const RightsStretch& stretch : window.stretches()) {
        if (stretch.writable) continue;
        // Writes to read-only frames then reach the write-protection hook.
        auto ok = check(uc_mem_protect(uc_, stretch.gpa, stretch.size, UC_PROT_READ | UC_PROT_EXEC), where);
        if (!ok) {
            uc_mem_unmap(uc_, window.gpa(), window.size());
            return ok;
        }
    }
    uc_ctl_remove_cache(uc_, window.gpa(), window.end());
    return {};
}

void EngineMemory::forget_translations(GuestAddr begin, GuestAddr end) {
    // One call per window: Unicorn translates only the range's first address
    // to its own RAM offsets, and a window is contiguous there.
    for (const auto& [gpa, window] : windows_) {
        const GuestAddr from = std::max(begin, gpa);
        const GuestAddr to = std::min(end, window->end());
        if (from < to) uc_ctl_remove_cache(uc_, from, to);
    }
}

bool EngineMemory::is_ram(GuestAddr addr) const {
    auto it = windows_.upper_bound(addr);
    if (it == windows_.begin()) return false;
    --it;
    return addr < it->second->end();
}

const RamSegment* EngineMemory::segment_at(GuestAddr addr) const {
    auto it = windows_.upper_bound(addr);
    if (it == windows_.begin()) return nullptr;
    --it;
    if (addr >= it->second->end()) return nullptr;
    return &it->second->segment_at(addr);
}

void EngineMemory::mark_all_writable() const noexcept {
    for (const auto& [gpa, window] : windows_) {
        for (const RamSegment& segment : window->segments()) {
            if (segment.writable && segment.dirty) segment.dirty->mark(segment.host, segment.size);
        }
    }
}

Result<void> EngineMemory::drop_mmio_pages(GuestAddr begin, GuestAddr end) {
    for (auto it = mmio_.lower_bound(begin); it != mmio_.end() && it->first < end;) {
        if (auto ok = unmap(it->first, page_); !ok) return ok;
        it = mmio_.erase(it);
    }
    return {};
}

Result<void> EngineMemory::add_mmio_page(GuestAddr addr) {
    const GuestAddr base = addr & ~(page_ - 1);
    if (mmio_.count(base) != 0) return {};
    if (mmio_.size() >= mmio_budget_) {
        if (auto ok = drop_mmio_pages(0, ~GuestAddr{0}); !ok) return ok;
    }
    auto page = std::make_unique<MmioPage>(MmioPage{this, base});
    auto ok = check(uc_mmio_map(uc_, base, page_, read_cb, page.get(), write_cb, page.get()),
                    "cannot map an emulated page at " + hex(base));
    if (!ok) return ok;
    mmio_.emplace(base, std::move(page));
    return {};
}

}  // namespace guestmem::emu
