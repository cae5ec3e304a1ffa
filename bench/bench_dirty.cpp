// SPDX-License-Identifier: BSD-2-Clause
// What dirty-page tracking (Vm::start_dirty_tracking) costs the write paths,
// each figure next to its "tracking off" run in the same binary:
//  - BM_Dirty_DispatchWrite8: Vm::dispatch of an 8-byte guest write to a
//    mapped page on the sim backend (the core's guest write path), cycling
//    over 1,024 addresses in 64 pages of one 4 KiB-frame reservation.
//  - BM_Dirty_WriteGuestValueU64: write_guest_value<u64> (the VMM side), same
//    addresses.
//    Both with: tracking_off (no tracker in the capability space: the old
//    code's cost plus one relaxed load), tracking_on (this VM tracks),
//    other_vm_tracking (another VM of the same capability space tracks and
//    this one does not: the worst case for a VM with tracking off, which
//    then marks for the other VM's bits). Pages stay dirty between
//    collections, so tracking_on is the steady state: a load per write
//    finds the page's bit set.
//  - BM_Dirty_EmuStoreLoop: a guest loop of kStores 8-byte stores over 64
//    pages (256 KiB) on the emulator backend, x86-64 and AArch64, tracking
//    off vs on; with tracking on, every run starts after a collection (not
//    timed), so each run dirties its 64 pages afresh, as in a migration round.
//    The `store_time` counter is the time per guest store.
// The figure of each is its ratio to tracking_off (scripts/bench_table.py
// does not show them yet: run the executable). On a shared host the separate
// benchmarks drift by tens of percent between each other even interleaved,
// so the BM_Dirty_Paired_* benchmarks time the modes alternately inside one
// benchmark (batches of kBatch writes, or one guest loop, per mode and
// iteration, with steady_clock) and report each mode's time per write and
// the ratios as counters: `off_ns`, `on_ns`, `other_vm_ns`, `on_ratio`,
// `other_vm_ratio` (to off).
#include <benchmark/benchmark.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "guestmem/guest_memory.hpp"
#include "guestmem/sim.hpp"
#include "guestmem/vm.hpp"

namespace {

using namespace guestmem;

enum Mode { tracking_off, tracking_on, other_vm_tracking };

constexpr GuestAddr kBase = 0x100000;
constexpr std::uint64_t kPages = 64;
constexpr std::size_t kAddrs = 1024;

void must(const Result<void>& ok) {
    if (!ok) throw std::runtime_error(ok.error().message);
}

/// A sim VM with kPages 4 KiB frames at kBase and a second VM on the same
/// capability space (which tracks in other_vm_tracking).
struct SimSetup {
    std::shared_ptr<CapabilitySpace> caps = std::make_shared<CapabilitySpace>();
    std::unique_ptr<Vm> vm;
    std::unique_ptr<Vm> other;
    Vcpu* vcpu = nullptr;
    std::array<GuestAddr, kAddrs> addrs{};

    explicit SimSetup(Mode mode) {
        vm = std::make_unique<Vm>(sim::create_backend(), caps);
        other = std::make_unique<Vm>(sim::create_backend(), caps);
        must(vm->init_memory());
        must(other->init_memory());
        const ReservationId id =
            vm->reserve_at(kBase, kPages * kPageSize, [](Fault&) { return FaultResult::error; }).value();
        std::vector<Cap> frames;
        for (std::uint64_t i = 0; i < kPages; ++i) frames.push_back(caps->allocate_frame(FrameSize::k4KiB).value());
        must(vm->map_frames(id, frames, kPageBits));
        vcpu = vm->create_vcpu().value();
        for (std::size_t i = 0; i < kAddrs; ++i) addrs[i] = kBase + ((i * 7) % kPages) * kPageSize + (i * 8) % 4096;
        if (mode == tracking_on) must(vm->start_dirty_tracking());
        if (mode == other_vm_tracking) must(other->start_dirty_tracking());
    }
};

void BM_Dirty_DispatchWrite8(benchmark::State& state, Mode mode) {
    SimSetup s(mode);
    std::size_t i = 0;
    for (auto _ : state) {
        Access access{s.addrs[i & (kAddrs - 1)], 8, true, i};
        ++i;
        benchmark::DoNotOptimize(s.vm->dispatch(*s.vcpu, access));
    }
}

void BM_Dirty_WriteGuestValueU64(benchmark::State& state, Mode mode) {
    SimSetup s(mode);
    std::size_t i = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(write_guest_value<std::uint64_t>(*s.vm, s.addrs[i & (kAddrs - 1)], i));
        ++i;
    }
}

#define SIM_BENCH(fn)                                  \
    BENCHMARK_CAPTURE(fn, tracking_off, tracking_off); \
    BENCHMARK_CAPTURE(fn, tracking_on, tracking_on);   \
    BENCHMARK_CAPTURE(fn, other_vm_tracking, other_vm_tracking)
SIM_BENCH(BM_Dirty_DispatchWrite8);
SIM_BENCH(BM_Dirty_WriteGuestValueU64);

constexpr std::size_t kBatch = 4096;

/// Nanoseconds per call of `write` (kBatch calls).
template <class Write>
double time_batch(Write&& write) {
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < kBatch; ++i) write(i);
    const auto end = std::chrono::steady_clock::now();
    return std::chrono::duration<double, std::nano>(end - start).count() / kBatch;
}

/// Reports the per-mode means of `ns` (summed over the iterations).
void report_paired(benchmark::State& state, const std::array<double, 3>& ns, bool other) {
    const double n = static_cast<double>(state.iterations());
    state.counters["off_ns"] = ns[tracking_off] / n;
    state.counters["on_ns"] = ns[tracking_on] / n;
    state.counters["on_ratio"] = ns[tracking_on] / ns[tracking_off];
    if (other) {
        state.counters["other_vm_ns"] = ns[other_vm_tracking] / n;
        state.counters["other_vm_ratio"] = ns[other_vm_tracking] / ns[tracking_off];
    }
}

template <class Write>
void paired_sim(benchmark::State& state, Write&& write) {
    // Three capability spaces: tracking_off's has no tracker at all.
    std::array<std::unique_ptr<SimSetup>, 3> setups = {std::make_unique<SimSetup>(tracking_off),
                                                       std::make_unique<SimSetup>(tracking_on),
                                                       std::make_unique<SimSetup>(other_vm_tracking)};
    std::array<double, 3> ns{};
    for (auto _ : state) {
        for (int mode = 0; mode < 3; ++mode) {
            SimSetup& s = *setups[static_cast<std::size_t>(mode)];
            ns[static_cast<std::size_t>(mode)] += time_batch([&](std::size_t i) { write(s, i); });
        }
    }
    report_paired(state, ns, true);
}

void BM_Dirty_Paired_DispatchWrite8(benchmark::State& state) {
    paired_sim(state, [](SimSetup& s, std::size_t i) {
        Access access{s.addrs[i & (kAddrs - 1)], 8, true, i};
        benchmark::DoNotOptimize(s.vm->dispatch(*s.vcpu, access));
    });
}
BENCHMARK(BM_Dirty_Paired_DispatchWrite8);

void BM_Dirty_Paired_WriteGuestValueU64(benchmark::State& state) {
    paired_sim(state, [](SimSetup& s, std::size_t i) {
        benchmark::DoNotOptimize(write_guest_value<std::uint64_t>(*s.vm, s.addrs[i & (kAddrs - 1)], i));
    });
}
BENCHMARK(BM_Dirty_Paired_WriteGuestValueU64);

// The emulator's guest: kStores stores of the counter i at
// buffer + (i % 32768) * 8, then hlt / wfi. Count in rdi / x0, buffer in
// rsi / x1. Hand-assembled (GNU as 2.40):
//   xor %ecx,%ecx; 1: mov %rcx,%rax; and $0x7fff,%eax; mov %rcx,(%rsi,%rax,8);
//   inc %rcx; cmp %rdi,%rcx; jb 1b; hlt
constexpr std::array<std::uint8_t, 23> kX86Loop = {0x31, 0xc9, 0x48, 0x89, 0xc8, 0x25, 0xff, 0x7f,
                                                   0x00, 0x00, 0x48, 0x89, 0x0c, 0xc6, 0x48, 0xff,
                                                   0xc1, 0x48, 0x39, 0xf9, 0x72, 0xec, 0xf4};
//   mov x4,#0; 1: and x5,x4,#0x7fff; str x4,[x1,x5,lsl #3]; add x4,x4,#1;
//   cmp x4,x0; b.lo 1b; wfi
constexpr std::array<std::uint32_t, 7> kArm64Loop = {0xd2800004, 0x92403885, 0xf8257824, 0x91000484,
                                                     0xeb00009f, 0x54ffff83, 0xd503207f};

constexpr std::uint64_t kStores = 32768;
constexpr GuestAddr kRamSize = 1 << 20;
constexpr GuestAddr kTables = 0x1000;
constexpr GuestAddr kCode = 0x10000;
constexpr GuestAddr kStackTop = 0x20000;
constexpr GuestAddr kBuffer = 0x40000;  // 256 KiB: 64 pages
constexpr std::uint64_t kBufferBytes = 32768 * 8;

/// An emulator VM (its own capability space) with RAM [0, kRamSize) of
/// 4 KiB frames and the store loop at kCode, booted.
class StoreLoopMachine {
public:
    StoreLoopMachine(Arch arch, Mode mode) : mode_(mode) {
        vm_ = Vm::create(BackendKind::emu, std::make_shared<CapabilitySpace>(), arch).value();
        must(vm_->init_memory());
        const ReservationId ram = vm_->reserve_at(0, kRamSize, [](Fault&) { return FaultResult::error; }).value();
        std::vector<Cap> frames;
        for (std::uint64_t i = 0; i < kRamSize / kPageSize; ++i) {
            frames.push_back(vm_->capabilities().allocate_frame(FrameSize::k4KiB).value());
        }
        must(vm_->map_frames(ram, frames, kPageBits));
        if (arch == Arch::x86_64) {
            must(write_guest(*vm_, kCode, std::as_bytes(std::span(kX86Loop))));
        } else {
            must(write_guest(*vm_, kCode, std::as_bytes(std::span(kArm64Loop))));
        }
        vcpu_ = vm_->create_vcpu().value();
        BootSpec spec;
        spec.entry = kCode;
        spec.stack = kStackTop;
        spec.x86_tables = kTables;
        must(vcpu_->boot(spec));
        start_ = vcpu_->registers().value();
        if (mode == tracking_on) must(vm_->start_dirty_tracking());
    }

    /// Untimed: collects (tracking on) and sets up the next loop.
    void prepare() {
        if (mode_ == tracking_on) dirty_reported_ += vm_->dirty_pages(kBuffer, kBufferBytes).value().count();
        Registers regs = start_;
        if (auto* x = std::get_if<X86Registers>(&regs)) {
            x->rdi = kStores;
            x->rsi = kBuffer;
        } else {
            auto& a = std::get<Arm64Registers>(regs);
            a.x[0] = kStores;
            a.x[1] = kBuffer;
        }
        must(vcpu_->set_registers(regs));
    }
    /// Runs one loop of kStores stores.
    void run() {
        const auto result = vcpu_->run().value();
        if (!result.halted()) throw std::runtime_error("the guest did not halt: " + result.message);
    }
    std::uint64_t dirty_reported() const { return dirty_reported_; }

private:
    Mode mode_;
    std::unique_ptr<Vm> vm_;
    Vcpu* vcpu_ = nullptr;
    Registers start_;
    std::uint64_t dirty_reported_ = 0;
};

/// False (the benchmark skipped) when this build or host has no emulator for `arch`.
bool emulator_usable(benchmark::State& state, Arch arch) {
    auto vm = Vm::create(BackendKind::emu, std::make_shared<CapabilitySpace>(), arch);
    if (!vm) state.SkipWithError(("no emulator backend: " + vm.error().message).c_str());
    return static_cast<bool>(vm);
}

void report_stores(benchmark::State& state, double runs) {
    state.counters["ops"] = kStores;
    state.counters["store_time"] =
        benchmark::Counter(runs * kStores, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_Dirty_EmuStoreLoop(benchmark::State& state, Arch arch, Mode mode) {
    if (!emulator_usable(state, arch)) return;
    StoreLoopMachine machine(arch, mode);
    for (auto _ : state) {
        state.PauseTiming();
        machine.prepare();
        state.ResumeTiming();
        machine.run();
    }
    report_stores(state, static_cast<double>(state.iterations()));
    // Tracking on: every run after the first dirtied all 64 pages again
    // (the first collection has nothing: tracking started clean).
    if (mode == tracking_on) {
        state.counters["dirty_pages_per_run"] = static_cast<double>(machine.dirty_reported()) /
                                                static_cast<double>(std::max<std::int64_t>(state.iterations() - 1, 1));
    }
}

/// Both modes alternately: `off_ns` / `on_ns` are per guest store.
void BM_Dirty_Paired_EmuStoreLoop(benchmark::State& state, Arch arch) {
    if (!emulator_usable(state, arch)) return;
    std::array<std::unique_ptr<StoreLoopMachine>, 2> machines = {std::make_unique<StoreLoopMachine>(arch, tracking_off),
                                                                 std::make_unique<StoreLoopMachine>(arch, tracking_on)};
    std::array<double, 3> ns{};
    for (auto _ : state) {
        for (int mode = 0; mode < 2; ++mode) {
            StoreLoopMachine& m = *machines[static_cast<std::size_t>(mode)];
            state.PauseTiming();
            m.prepare();
            state.ResumeTiming();
            const auto start = std::chrono::steady_clock::now();
            m.run();
            const auto end = std::chrono::steady_clock::now();
            ns[static_cast<std::size_t>(mode)] +=
                std::chrono::duration<double, std::nano>(end - start).count() / kStores;
        }
    }
    report_stores(state, 2.0 * static_cast<double>(state.iterations()));
    report_paired(state, ns, false);
}

#define EMU_DIRTY_BENCH(arch)                                                               \
    BENCHMARK_CAPTURE(BM_Dirty_EmuStoreLoop, arch##_tracking_off, Arch::arch, tracking_off) \
        ->UseRealTime()                                                                     \
        ->Unit(benchmark::kMicrosecond);                                                    \
    BENCHMARK_CAPTURE(BM_Dirty_EmuStoreLoop, arch##_tracking_on, Arch::arch, tracking_on)   \
        ->UseRealTime()                                                                     \
        ->Unit(benchmark::kMicrosecond)
EMU_DIRTY_BENCH(x86_64);
EMU_DIRTY_BENCH(aarch64);
BENCHMARK_CAPTURE(BM_Dirty_Paired_EmuStoreLoop, x86_64, Arch::x86_64)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Dirty_Paired_EmuStoreLoop, aarch64, Arch::aarch64)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
