// SPDX-License-Identifier: BSD-2-Clause
// What one engine maps: the RAM windows it applied and its pages of emulated memory.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "engine.hpp"
#include "emu_backend.hpp"

namespace guestmem::emu {

/// Receives the accesses to an engine's pages of emulated memory.
class MmioSink {
public:
    virtual ~MmioSink() = default;
    /// A guest access of `size` bytes at absolute address `addr`; returns the
    /// value read (ignored for writes).
    virtual std::uint64_t mmio_access(GuestAddr addr, unsigned size, bool is_write, std::uint64_t value) = 0;
};

/// The memory map of one engine, changed only on the engine's thread: RAM
/// windows (one region per rights stretch) and emulated pages mapped with
/// uc_mmio_map on first access (at most `mmio_budget`, all dropped when
/// that many are in use and another is needed).
class EngineMemory {
public:
    EngineMemory(uc_engine* uc, Arch arch, std::size_t mmio_budget, MmioSink& sink)
        : uc_(uc), page_(page_size(arch)), mmio_budget_(mmio_budget), sink_(sink) {}
    ~EngineMemory();
    EngineMemory(const EngineMemory&) = delete;
    EngineMemory& operator=(const EngineMemory&) = delete;

    /// Unmaps the windows `snapshot` no longer holds. Safe inside any hook
    /// (it never touches emulated pages). Errc::backend_error.
    Result<void> remove_stale(const MemorySnapshot& snapshot);
    /// Makes the engine map exactly `snapshot`'s windows, dropping emulated
    /// pages they cover. Not inside an emulated page's callback.
    /// Errc::backend_error.
    Result<void> apply(const MemorySnapshot& snapshot);
    /// True when `snapshot` holds windows this engine has not mapped yet.
    bool missing_windows(const MemorySnapshot& snapshot) const;

    /// Drops code translated from RAM windows in [begin, end): the VMM
    /// writes guest RAM behind the emulator's back (loading images), which
    /// it cannot see. Costs a lookup per emulator page of the range.
    /// (uc_ctl_flush_tlb, which flushes all translations, costs seconds in
    /// Unicorn 2.0.1.)
    void forget_translations(GuestAddr begin, GuestAddr end);
    /// True when `addr` is in a RAM window the engine maps.
    bool is_ram(GuestAddr addr) const;
    /// The mapped run holding `addr`, or nullptr when it is not RAM the
    /// engine maps. Valid until the engine's map next changes.
    const RamSegment* segment_at(GuestAddr addr) const;
    /// Marks every writable run the engine maps dirty (DirtyLog::mark).
    void mark_all_writable() const noexcept;
    /// Maps the emulated page holding `addr` (dropping all emulated pages
    /// first when the budget is spent). Errc::backend_error.
    Result<void> add_mmio_page(GuestAddr addr);

private:
    struct MmioPage {
        EngineMemory* memory;
        GuestAddr base;
    };
    static std::uint64_t read_cb(uc_engine* uc, std::uint64_t offset, unsigned size, void* page);
    static void write_cb(uc_engine* uc, std::uint64_t offset, unsigned size, std::uint64_t value, void* page);

    Result<void> map_window(const RamWindow& window);
    Result<void> unmap(GuestAddr gpa, std::uint64_t size);
    Result<void> drop_mmio_pages(GuestAddr begin, GuestAddr end);

    uc_engine* uc_;
    std::uint64_t page_;
    std::size_t mmio_budget_;
    MmioSink& sink_;
    std::map<GuestAddr, std::shared_ptr<const RamWindow>> windows_;  // by gpa: what the engine maps
    std::map<GuestAddr, std::unique_ptr<MmioPage>> mmio_;            // by page base
};

}  // namespace guestmem::emu
