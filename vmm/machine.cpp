// SPDX-License-Identifier: BSD-2-Clause
#include "machine.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <tuple>

namespace vmm {

using guestmem::Cap;
using guestmem::Fault;
using guestmem::FaultResult;
using guestmem::Result;

Machine::Machine(const MachineOptions& options, std::shared_ptr<guestmem::CapabilitySpace> caps)
    : options_(options), caps_(std::move(caps)), uart_(options.uart_output) {}

Machine::~Machine() {
    vm_.reset();  // unmaps every frame before the capabilities go
    for (Cap cap : owned_caps_) (void)caps_->remove(cap);
}

Result<std::unique_ptr<Machine>> Machine::build(const MachineOptions& options,
                                                std::shared_ptr<guestmem::CapabilitySpace> caps) {
    auto machine = std::make_unique<Machine>(options, std::move(caps));
    for (auto step : {&Machine::create_vm, &Machine::add_ram, &Machine::add_rom, &Machine::add_devices,
                      &Machine::add_shared_window}) {
        if (auto ok = ((*machine).*step)(); !ok) return ok.error();
    }
    return machine;
}

const RegionLabel* Machine::label(guestmem::ReservationId id) const {
    for (const auto& l : labels_) {
        if (l.id == id) return &l;
    }
    return nullptr;
}

Result<void> Machine::create_vm() {
    auto vm = guestmem::Vm::create(options_.backend, caps_, options_.arch);
    if (!vm) return vm.error();
    vm_ = std::move(*vm);
    if (auto ok = vm_->init_memory(); !ok) return ok;
    if (options_.interrupts) {
        if (auto irqs = vm_->create_default_irq_controller(); !irqs) return irqs.error();
    }
    unmapped_ = &stats_.add("(no reservation)");
    // A guest touching nothing is a guest bug: stop it and say where.
    vm_->set_unhandled_fault_handler(FaultStats::instrument(*unmapped_, [](Fault&) { return FaultResult::error; }));
    return {};
}

Result<Cap> Machine::new_frame() {
    auto cap = caps_->allocate_frame(guestmem::FrameSize::k4KiB);
    if (!cap) return cap.error();
    std::lock_guard lock(caps_mutex_);
    owned_caps_.push_back(*cap);
    return *cap;
}

Result<guestmem::ReservationId> Machine::reserve(guestmem::GuestAddr base, std::uint64_t size, RegionLabel label,
                                                 guestmem::FaultHandler handler) {
    label.counters = &stats_.add(label.name);
    auto id = vm_->reserve_at(base, size, FaultStats::instrument(*label.counters, std::move(handler)));
    if (!id) return id.error();
    label.id = *id;
    labels_.push_back(std::move(label));
    return *id;
}

Machine::Region Machine::ram_region(std::uint64_t offset) const {
    // RAM never faults once mapped; a fault there is a VMM bug.
    auto ram_fault = [](Fault&) { return FaultResult::error; };
    if (!options_.deferred_ram) return {{{}, "ram", "RAM", "4 KiB frames", nullptr}, ram_fault};
    return {{{}, "ram+" + std::to_string(offset >> 10) + "K", "lazy RAM", "4 KiB frames on first touch", nullptr},
            ram_fault};
}

Result<void> Machine::add_ram() {
    const std::uint64_t size = options_.ram_size;
    if (size == 0 || size % guestmem::kPageSize != 0) {
        return guestmem::fail(guestmem::Errc::invalid_argument, "RAM size must be a positive multiple of 4 KiB");
    }
    if (!options_.deferred_ram) {
        auto region = ram_region(0);
        auto id = reserve(layout::kRamBase, size, std::move(region.label), std::move(region.handler));
        if (!id) return id.error();
        std::vector<Cap> frames;
        for (std::uint64_t off = 0; off < size; off += guestmem::kPageSize) {
            auto cap = new_frame();
            if (!cap) return cap.error();
            frames.push_back(*cap);
        }
        return vm_->map_frames(*id, frames, guestmem::kPageBits);
    }
    vm_->set_deferred_mapping(true);
    const std::uint64_t chunk_size = layout::lazy_chunk_size(size);
    for (std::uint64_t off = 0; off < size; off += chunk_size) {
        const std::uint64_t chunk = std::min(chunk_size, size - off);
        auto region = ram_region(off);
        auto id = reserve(layout::kRamBase + off, chunk, std::move(region.label), std::move(region.handler));
        if (!id) return id.error();
        FaultCounters* counters = labels_.back().counters;
        auto mapped = vm_->map(*id, [this, counters, chunk_size](guestmem::GuestAddr addr) {
            if (addr % chunk_size == 0) counters->lazy_maps.fetch_add(1);
            auto cap = new_frame();
            return guestmem::FrameRequest{cap ? *cap : guestmem::kNullCap, guestmem::Rights::all, addr,
                                          guestmem::kPageBits};
        });
        if (!mapped) return mapped;
    }
    vm_->set_deferred_mapping(false);
    return {};
}

Result<void> Machine::add_rom() {
    auto frame = new_frame();
    if (!frame) return frame.error();
    layout::BootInfo info{};
    std::memcpy(info.magic, "GUESTMEM", 8);
    info.ram_base = layout::kRamBase;
    info.ram_size = options_.ram_size;
    info.uart_base = layout::kUartBase;
    info.exit_base = layout::kExitBase;
    info.doorbell_base = options_.doorbell ? layout::kDoorbellBase : 0;
    info.shared_base = options_.shared_frame != guestmem::kNullCap ? layout::kSharedBase : 0;
    info.vm_index = options_.vm_index;
    std::memcpy(caps_->frame_memory(*frame)->data(), &info, sizeof info);
    // The guest gets a read-only copy of the capability: writes fault.
    auto read_only = caps_->copy(*frame, guestmem::Rights::read);
    if (!read_only) return read_only.error();
    {
        std::lock_guard lock(caps_mutex_);
        owned_caps_.push_back(*read_only);
    }
    auto region = rom_region();
    auto id = reserve(layout::kRomBase, layout::kRomSize, std::move(region.label), std::move(region.handler));
    if (!id) return id.error();
    const Cap frames[] = {*read_only};
    return vm_->map_frames(*id, frames, guestmem::kPageBits);
}

Machine::Region Machine::rom_region() const {
    return {{{}, "rom", "ROM", "1 frame, read-only", nullptr},
            [](Fault&) { return FaultResult::ignore; }};  // writes to ROM are dropped
}

Machine::Region Machine::uart_region() {
    return {{{}, "uart", "MMIO", "emulated 16550", nullptr}, [this](Fault& f) { return uart_.on_fault(f); }};
}

Machine::Region Machine::exit_region() {
    return {{{}, "exit", "MMIO", "emulated register", nullptr}, [this](Fault& f) { return exit_.on_fault(f); }};
}

Result<void> Machine::add_devices() {
    for (auto [base, size, region] : {std::tuple{layout::kUartBase, Uart::kSize, uart_region()},
                                      std::tuple{layout::kExitBase, ExitRegister::kSize, exit_region()}}) {
        if (auto id = reserve(base, size, std::move(region.label), std::move(region.handler)); !id) return id.error();
    }
    if (!options_.doorbell) return {};
    doorbell_.emplace(options_.doorbell, options_.vm_index);
    auto bell = reserve(layout::kDoorbellBase, Doorbell::kSize, {{}, "doorbell", "MMIO", "emulated register", nullptr},
                        [this](Fault& f) { return doorbell_->on_fault(f); });
    if (!bell) return bell.error();
    return {};
}

Result<void> Machine::add_shared_window() {
    if (options_.shared_frame == guestmem::kNullCap) return {};
    auto id = reserve(layout::kSharedBase, layout::kSharedSize, {{}, "shared", "shared", "1 frame, both VMs", nullptr},
                      [](Fault&) { return FaultResult::error; });
    if (!id) return id.error();
    const Cap frames[] = {options_.shared_frame};
    return vm_->map_frames(*id, frames, guestmem::kPageBits);
}

std::optional<Machine::Region> Machine::region_at(guestmem::Range range) {
    const guestmem::Range ram{layout::kRamBase, options_.ram_size};
    if (ram.contains(range.base, range.size)) return ram_region(range.base - layout::kRamBase);
    if (range == guestmem::Range{layout::kRomBase, layout::kRomSize}) return rom_region();
    if (range == guestmem::Range{layout::kUartBase, Uart::kSize}) return uart_region();
    if (range == guestmem::Range{layout::kExitBase, ExitRegister::kSize}) return exit_region();
    return std::nullopt;
}

Result<std::unique_ptr<Machine>> Machine::restore(const MachineOptions& options,
                                                  std::shared_ptr<guestmem::CapabilitySpace> caps,
                                                  const std::filesystem::path& snapshot, const Uart::State& uart,
                                                  guestmem::snapshot::RestoreMode mode) {
    if (options.doorbell || options.shared_frame != guestmem::kNullCap) {
        return guestmem::fail(guestmem::Errc::invalid_argument, "pairs of VMs cannot be restored");
    }
    auto machine = std::make_unique<Machine>(options, std::move(caps));
    if (auto ok = machine->create_vm(); !ok) return ok.error();
    Machine& m = *machine;
    std::vector<std::pair<guestmem::Range, RegionLabel>> restored;
    std::string unknown;
    guestmem::snapshot::DeviceHandlers handlers;
    handlers.fault = [&](const guestmem::snapshot::ReservationRecord& record) -> guestmem::FaultHandler {
        auto region = m.region_at(record.range);
        if (!region) {
            char text[64];
            std::snprintf(text, sizeof text, "[%#llx, %#llx)", static_cast<unsigned long long>(record.range.base),
                          static_cast<unsigned long long>(record.range.end()));
            unknown = text;
            return {};
        }
        region->label.counters = &m.stats_.add(region->label.name);
        FaultCounters* counters = region->label.counters;
        restored.emplace_back(record.range, std::move(region->label));
        return FaultStats::instrument(*counters, std::move(region->handler));
    };
    auto report = guestmem::snapshot::restore(m.vm(), snapshot, handlers, mode);
    if (!report) {
        if (!unknown.empty()) {
            return guestmem::fail(guestmem::Errc::bad_snapshot,
                                  snapshot.string() + ": the reservation at " + unknown +
                                      " is no device of this machine (was it saved by guestmem-vmm?)");
        }
        return report.error();
    }
    // Labels name reservations by id, known only now.
    for (const auto& info : m.vm().reservations()) {
        for (auto& [range, label] : restored) {
            if (range != info.range) continue;
            label.id = info.id;
            m.labels_.push_back(label);
        }
    }
    m.uart_.set_state(uart);
    return machine;
}

}  // namespace vmm
