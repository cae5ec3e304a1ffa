// SPDX-License-Identifier: BSD-2-Clause
#include "emu_backend.hpp"

#include <algorithm>
#include <string>

#include "emu_vcpu.hpp"
#include "format.hpp"
#include "guestmem/vm.hpp"
#include "thread_inside.hpp"

namespace guestmem::emu {

namespace {

constexpr std::size_t kDefaultMmioPages = 64;

// Below the counts where Unicorn 2.0.1 aborts (measured: about 4,095 regions
// on x86, 1,023 on arm64), with room for the regions uc_mem_protect splits off.
std::size_t default_max_regions(Arch arch) { return arch == Arch::aarch64 ? 1000 : 4000; }

}  // namespace

EmuBackend::EmuBackend(Arch arch, Options options) : arch_(arch), options_(options) {}

EmuBackend::~EmuBackend() = default;

Result<void> EmuBackend::install(std::span<const MappedRun> runs) {
    std::vector<std::shared_ptr<const RamWindow>> built;
    std::size_t regions = 0;
    for (auto group : contiguous_groups(runs)) {
        auto window = RamWindow::build(group, page_size(arch_));
        if (!window) return window.error();
        regions += (*window)->regions();
        built.push_back(std::move(*window));
    }
    std::lock_guard lock(mutex_);
    const std::size_t budget = options_.max_regions - options_.mmio_pages;
    if (ram_regions_ + regions > budget) {
        return fail(Errc::out_of_memory, "the emulator would need " + std::to_string(ram_regions_ + regions) +
                                             " regions for mapped memory; its limit is " + std::to_string(budget) +
                                             " (one region per reservation's mapped run-set and rights)");
    }
    for (const auto& window : built) {
        auto next = windows_.lower_bound(window->gpa());
        const bool overlaps = (next != windows_.end() && next->second->gpa() < window->end()) ||
                              (next != windows_.begin() && std::prev(next)->second->end() > window->gpa());
        if (overlaps) return fail(Errc::backend_error, "run at " + hex(window->gpa()) + " is already installed");
    }
    for (auto& window : built) {
        const GuestAddr gpa = window->gpa();
        windows_.emplace(gpa, std::move(window));
    }
    ram_regions_ += regions;
    generation_.fetch_add(1, std::memory_order_seq_cst);
    return {};
}

void EmuBackend::uninstall(std::span<const MappedRun> runs) noexcept {
    std::uint64_t generation = 0;
    {
        std::lock_guard lock(mutex_);
        for (auto group : contiguous_groups(runs)) {
            auto it = windows_.find(group.front().gpa);
            if (it == windows_.end()) continue;
            ram_regions_ -= it->second->regions();
            windows_.erase(it);
        }
        generation = generation_.fetch_add(1, std::memory_order_seq_cst) + 1;
    }
    wait_for_vcpus(generation);
}

Result<void> EmuBackend::start_dirty_log() {
    std::uint64_t generation = 0;
    {
        std::lock_guard lock(mutex_);
        dirty_logging_.store(true, std::memory_order_release);
        // The vCPUs notice a new generation at every block and callback exit
        // (the same path as a map change): they apply the flag with it.
        generation = generation_.fetch_add(1, std::memory_order_seq_cst) + 1;
    }
    wait_for_vcpus(generation);
    return {};
}

void EmuBackend::stop_dirty_log() noexcept {
    std::lock_guard lock(mutex_);
    dirty_logging_.store(false, std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_seq_cst);
}

void EmuBackend::wait_for_vcpus(std::uint64_t generation) {
    std::unique_lock lock(mutex_);
    waiters_.fetch_add(1, std::memory_order_seq_cst);
    // Pairs with the vCPUs' reader_fence() after a phase change (EmuVcpu::enter).
    writer_fence();
    progress_.wait(lock, [&] {
        return std::all_of(vcpus_.begin(), vcpus_.end(),
                           [&](const EmuVcpu* vcpu) { return vcpu->settled(generation); });
    });
    waiters_.fetch_sub(1, std::memory_order_seq_cst);
}

void EmuBackend::wake_waiters() {
    std::lock_guard lock(mutex_);
    progress_.notify_all();
}

Result<std::unique_ptr<VcpuBackend>> EmuBackend::create_vcpu(Vcpu& vcpu) {
    return std::unique_ptr<VcpuBackend>(std::make_unique<EmuVcpu>(*this, vcpu));
}

Result<void> EmuBackend::supports_interrupts() const {
    if (arch_ != Arch::x86_64) {
        return Error{Errc::unsupported, "does not deliver interrupts to AArch64 guests yet"};
    }
    return {};
}

Result<void> EmuBackend::attach_interrupt_controller(Vm& vm) {
    if (arch_ != Arch::x86_64) return supports_interrupts();
    auto lapic = vm.reserve_at(LocalApic::kBase, LocalApic::kSize, [](Fault& fault) {
        return static_cast<EmuVcpu&>(fault.vcpu().backend()).local_apic_access(fault);
    });
    if (!lapic) {
        return Error{lapic.code(),
                     "cannot place the x86 local APIC page at " + hex(LocalApic::kBase) + ": " + lapic.error().message};
    }
    auto ioapic = vm.reserve_at(IoApic::kBase, IoApic::kSize, [this](Fault& fault) {
        if (fault.is_read()) {
            fault.set_data(io_apic_.read(fault.offset(), static_cast<unsigned>(fault.size())));
        } else {
            io_apic_.write(fault.offset(), static_cast<unsigned>(fault.size()),
                           static_cast<std::uint32_t>(fault.data()));
        }
        return FaultResult::handled;
    });
    if (!ioapic) {
        (void)vm.free(*lapic);
        return Error{ioapic.code(),
                     "cannot place the x86 I/O APIC page at " + hex(IoApic::kBase) + ": " + ioapic.error().message};
    }
    return {};
}

MemorySnapshot EmuBackend::snapshot() const {
    std::lock_guard lock(mutex_);
    MemorySnapshot snapshot;
    snapshot.generation = generation_.load(std::memory_order_seq_cst);
    snapshot.windows.reserve(windows_.size());
    for (const auto& [gpa, window] : windows_) snapshot.windows.push_back(window);
    return snapshot;
}

void EmuBackend::attach(EmuVcpu& vcpu) {
    std::lock_guard lock(mutex_);
    vcpus_.push_back(&vcpu);
}

void EmuBackend::detach(EmuVcpu& vcpu) {
    std::lock_guard lock(mutex_);
    std::erase(vcpus_, &vcpu);
    progress_.notify_all();
}

Result<void> usable(Arch arch) {
    ApiCall call("emu::usable");
    auto engine = open_engine(arch);
    if (!engine) return engine.error();
    return {};
}

Result<std::unique_ptr<Backend>> create_backend(Arch arch) { return create_backend(arch, Options{}); }

Result<std::unique_ptr<Backend>> create_backend(Arch arch, const Options& options) {
    ApiCall call("emu::create_backend");
    if (auto ok = usable(arch); !ok) return ok.error();
    Options resolved = options;
    if (resolved.max_regions == 0) resolved.max_regions = default_max_regions(arch);
    if (resolved.mmio_pages == 0) {
        resolved.mmio_pages = std::clamp<std::size_t>(resolved.max_regions / 4, 1, kDefaultMmioPages);
    }
    if (resolved.mmio_pages >= resolved.max_regions) {
        return fail(Errc::invalid_argument, "mmio_pages (" + std::to_string(resolved.mmio_pages) +
                                                ") must be below max_regions (" + std::to_string(resolved.max_regions) +
                                                ")");
    }
    return std::unique_ptr<Backend>(std::make_unique<EmuBackend>(arch, resolved));
}

}  // namespace guestmem::emu
