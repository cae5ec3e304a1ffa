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
// The tracking_on / tracking_off ratio of each is the figure; see README.md.
#include <benchmark/benchmark.h>

#include <array>
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

void BM_Dirty_EmuStoreLoop(benchmark::State& state, Arch arch, Mode mode) {
    auto created = Vm::create(BackendKind::emu, std::make_shared<CapabilitySpace>(), arch);
    if (!created) {
        state.SkipWithError(("no emulator backend: " + created.error().message).c_str());
        return;
    }
    std::unique_ptr<Vm> vm = std::move(*created);
    must(vm->init_memory());
    const ReservationId ram = vm->reserve_at(0, kRamSize, [](Fault&) { return FaultResult::error; }).value();
    std::vector<Cap> frames;
    for (std::uint64_t i = 0; i < kRamSize / kPageSize; ++i) {
        frames.push_back(vm->capabilities().allocate_frame(FrameSize::k4KiB).value());
    }
    must(vm->map_frames(ram, frames, kPageBits));
    if (arch == Arch::x86_64) {
        must(write_guest(*vm, kCode, std::as_bytes(std::span(kX86Loop))));
    } else {
        must(write_guest(*vm, kCode, std::as_bytes(std::span(kArm64Loop))));
    }
    Vcpu* vcpu = vm->create_vcpu().value();
    BootSpec spec;
    spec.entry = kCode;
    spec.stack = kStackTop;
    spec.x86_tables = kTables;
    must(vcpu->boot(spec));
    const Registers start = vcpu->registers().value();
    if (mode == tracking_on) must(vm->start_dirty_tracking());
    std::uint64_t dirty_reported = 0;
    for (auto _ : state) {
        state.PauseTiming();
        if (mode == tracking_on) dirty_reported += vm->dirty_pages(kBuffer, kBufferBytes).value().count();
        Registers regs = start;
        if (auto* x = std::get_if<X86Registers>(&regs)) {
            x->rdi = kStores;
            x->rsi = kBuffer;
        } else {
            auto& a = std::get<Arm64Registers>(regs);
            a.x[0] = kStores;
            a.x[1] = kBuffer;
        }
        must(vcpu->set_registers(regs));
        state.ResumeTiming();
        const auto result = vcpu->run().value();
        if (!result.halted()) {
            state.SkipWithError(("the guest did not halt: " + result.message).c_str());
            return;
        }
    }
    const double stores = static_cast<double>(state.iterations()) * kStores;
    state.counters["ops"] = kStores;
    state.counters["store_time"] =
        benchmark::Counter(stores, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
    // Tracking on: every run after the first dirtied all 64 pages again
    // (the first collection has nothing: tracking started clean).
    if (mode == tracking_on) {
        state.counters["dirty_pages_per_run"] = static_cast<double>(dirty_reported) /
                                                static_cast<double>(std::max<std::int64_t>(state.iterations() - 1, 1));
    }
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

}  // namespace

BENCHMARK_MAIN();
