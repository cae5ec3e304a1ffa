// SPDX-License-Identifier: BSD-2-Clause
// Issue 13's lookup figures, all on the same reservations and addresses:
// n = 10 to 100,000 reservations of 4 KiB, 0x2000 apart from 4 GiB, and a
// cycle of 65,536 random addresses in them or one repeated address (pick()
// below; bench/baselines/vm_memory draws the same ones for vm-memory).
//  - Dispatch: Vm::dispatch (lookup + handler) on the sim backend, regular
//    (reserve_at) and anonymous (reserve_anon) reservations;
//  - ReadGuestValue, WriteGuestValue, FindRun: read_guest_value<u64>,
//    write_guest_value<u64> and Vm::find_run on reservations mapped with one
//    4 KiB frame each;
//  - baselines (bench/baselines/lookup_baselines.hpp): libsel4vm's fault
//    dispatch (a red-black tree lookup and a function-pointer callback) and
//    its linear scan of anonymous sub-reservations; and the host's memory
//    latency, which bounds lookups at random addresses;
//  - Cost_EnterLeave: what the protection against a concurrent free costs
//    per access on its own (the baselines have none), for the table's
//    account of the rows it does not meet.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <span>
#include <vector>

#include "baselines/lookup_baselines.hpp"
#include "guestmem/guest_memory.hpp"
#include "guestmem/sim.hpp"
#include "guestmem/vm.hpp"
#include "reservation.hpp"
#include "thread_inside.hpp"

using namespace guestmem;

namespace {

constexpr GuestAddr kBase = 0x100000000;   // reservations from 4 GiB up
constexpr std::uint64_t kSize = 0x1000;    // one page each
constexpr std::uint64_t kStride = 0x2000;  // regular ones leave a gap between them
constexpr std::size_t kAddrs = 65536;      // random addresses cycled through (a power of two)
// Offsets are multiples of 8, so that an 8-byte access never leaves its reservation.
constexpr std::uint64_t kAlign = 8;

enum Layout { regular = 0, anonymous = 1 };
enum Pattern { random_addrs = 0, repeated = 1 };

/// A cycle of kAddrs addresses in the reservations at `bases`, from
/// std::mt19937_64(42): random: for each address a reservation (rng() % n),
/// then an offset ((rng() % 512) * 8); repeated: the middle reservation and
/// one offset, kAddrs times. bench/baselines/vm_memory/src/workload.rs
/// draws the same sequence; keep the two in step.
std::vector<GuestAddr> pick(const std::vector<GuestAddr>& bases, Pattern pattern) {
    std::vector<GuestAddr> out(kAddrs);
    std::mt19937_64 rng(42);
    for (auto& a : out) {
        const GuestAddr base = pattern == repeated ? bases[bases.size() / 2] : bases[rng() % bases.size()];
        a = base + ((rng() % (kSize / kAlign)) * kAlign);
    }
    if (pattern == repeated) std::fill(out.begin(), out.end(), out.front());
    return out;
}

/// One sim VM per (count, layout), built on first use and kept.
struct LibSetup {
    std::unique_ptr<Vm> vm;
    Vcpu* vcpu = nullptr;
    std::vector<GuestAddr> bases;
};

LibSetup& lib_setup(std::size_t n, Layout layout) {
    static std::map<std::pair<std::size_t, int>, LibSetup> cache;
    auto& s = cache[{n, layout}];
    if (s.vm) return s;
    s.vm = std::make_unique<Vm>(sim::create_backend(), std::make_shared<CapabilitySpace>());
    (void)s.vm->init_memory();
    FaultHandler handler = [](Fault& f) {
        f.set_data(f.address());
        return FaultResult::handled;
    };
    if (layout == anonymous) {
        (void)s.vm->make_anon(kBase, n * kSize);
        for (std::size_t i = 0; i < n; ++i) s.bases.push_back(s.vm->reserve_anon(kSize, 0, handler)->addr);
    } else {
        for (std::size_t i = 0; i < n; ++i) {
            const GuestAddr base = kBase + i * kStride;
            (void)*s.vm->reserve_at(base, kSize, handler);
            s.bases.push_back(base);
        }
    }
    s.vcpu = *s.vm->create_vcpu();
    return s;
}

void BM_Dispatch(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    auto& s = lib_setup(n, static_cast<Layout>(state.range(1)));
    const auto addrs = pick(s.bases, static_cast<Pattern>(state.range(2)));
    std::size_t i = 0;
    for (auto _ : state) {
        Access access{addrs[i++ & (kAddrs - 1)], 4, false, 0};
        benchmark::DoNotOptimize(s.vm->dispatch(*s.vcpu, access));
        benchmark::DoNotOptimize(access.data);
    }
}

std::vector<GuestAddr> baseline_bases(std::size_t n, Layout layout) {
    std::vector<GuestAddr> bases;
    for (std::size_t i = 0; i < n; ++i) bases.push_back(kBase + i * (layout == anonymous ? kSize : kStride));
    return bases;
}

std::uint64_t echo_address(void* /*cookie*/, std::uint64_t addr, std::size_t /*length*/) { return addr; }

// libsel4vm's fault dispatch: the regular reservations of BM_Dispatch in a
// red-black tree, the callback called through a function pointer.
void BM_Baseline_RbTreeDispatch(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    const auto bases = baseline_bases(n, regular);
    bench::RbTreeDispatch tree;
    for (GuestAddr b : bases) tree.add(b, kSize, echo_address, nullptr);
    const auto addrs = pick(bases, static_cast<Pattern>(state.range(1)));
    std::size_t i = 0;
    for (auto _ : state) benchmark::DoNotOptimize(tree.dispatch(addrs[i++ & (kAddrs - 1)], 4));
}

void BM_Baseline_LinearAnon(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    const auto bases = baseline_bases(n, anonymous);
    bench::LinearAnonScan scan;
    for (GuestAddr b : bases) scan.add(b, kSize, echo_address, nullptr);
    const auto addrs = pick(bases, static_cast<Pattern>(state.range(2)));
    std::size_t i = 0;
    for (auto _ : state) benchmark::DoNotOptimize(scan.dispatch(addrs[i++ & (kAddrs - 1)], 4));
}

/// One sim VM per count whose regular reservations are each mapped with one
/// 4 KiB frame (guest RAM, as vm-memory's regions are), every page touched.
struct MemSetup {
    std::unique_ptr<Vm> vm;
    std::vector<GuestAddr> bases;
};

MemSetup& mem_setup(std::size_t n) {
    static std::map<std::size_t, MemSetup> cache;
    auto& s = cache[n];
    if (s.vm) return s;
    auto caps = std::make_shared<CapabilitySpace>();
    s.vm = std::make_unique<Vm>(sim::create_backend(), caps);
    (void)s.vm->init_memory();
    for (std::size_t i = 0; i < n; ++i) {
        const GuestAddr base = kBase + i * kStride;
        const auto id = *s.vm->reserve_at(base, kSize, [](Fault&) { return FaultResult::error; });
        const Cap frame = *caps->allocate_frame(FrameSize::k4KiB);
        (void)s.vm->map_frames(id, std::span(&frame, 1), 12);
        s.bases.push_back(base);
    }
    // Touched only once all are mapped: an access between two changes rebuilds
    // the lookup snapshot, which would make the setup quadratic in n.
    for (GuestAddr base : s.bases) (void)write_guest_value<std::uint64_t>(*s.vm, base, 0);
    return s;
}

void BM_ReadGuestValue(benchmark::State& state) {
    auto& s = mem_setup(static_cast<std::size_t>(state.range(0)));
    const auto addrs = pick(s.bases, static_cast<Pattern>(state.range(1)));
    std::size_t i = 0;
    for (auto _ : state) {
        const auto value = read_guest_value<std::uint64_t>(*s.vm, addrs[i++ & (kAddrs - 1)]);
        if (!value) {
            state.SkipWithError("read_guest_value failed");
            break;
        }
        benchmark::DoNotOptimize(*value);
    }
}

void BM_WriteGuestValue(benchmark::State& state) {
    auto& s = mem_setup(static_cast<std::size_t>(state.range(0)));
    const auto addrs = pick(s.bases, static_cast<Pattern>(state.range(1)));
    std::size_t i = 0;
    for (auto _ : state) {
        const GuestAddr addr = addrs[i++ & (kAddrs - 1)];
        if (!write_guest_value<std::uint64_t>(*s.vm, addr, addr)) {
            state.SkipWithError("write_guest_value failed");
            break;
        }
    }
}

void BM_FindRun(benchmark::State& state) {
    auto& s = mem_setup(static_cast<std::size_t>(state.range(0)));
    const auto addrs = pick(s.bases, static_cast<Pattern>(state.range(1)));
    std::size_t i = 0;
    for (auto _ : state) {
        const auto run = s.vm->find_run(addrs[i++ & (kAddrs - 1)]);
        if (!run) {
            state.SkipWithError("find_run found nothing");
            break;
        }
        benchmark::DoNotOptimize(run->host);
    }
}

// What a lookup at a random address over many reservations costs at least:
// one dependent load that misses the L2 cache and the TLB. Measured as a
// pointer chase through a random cycle of 16,384 cache lines scattered over
// 32 MiB (about the library's metadata for 100,000 reservations).
void BM_Baseline_MissLatency(benchmark::State& state) {
    constexpr std::size_t kWordsPerLine = 64 / sizeof(std::uint64_t);
    constexpr std::size_t kLines = (std::size_t{32} << 20) / 64;
    constexpr std::size_t kCycle = 16384;
    std::vector<std::uint64_t> memory(kLines * kWordsPerLine);
    std::vector<std::size_t> lines(kLines);
    for (std::size_t i = 0; i < kLines; ++i) lines[i] = i;
    std::shuffle(lines.begin(), lines.end(), std::mt19937_64(7));
    lines.resize(kCycle);
    for (std::size_t i = 0; i < kCycle; ++i) memory[lines[i] * kWordsPerLine] = lines[(i + 1) % kCycle] * kWordsPerLine;
    std::uint64_t at = lines[0] * kWordsPerLine;
    for (auto _ : state) {
        at = memory[at];
        benchmark::DoNotOptimize(at);
    }
}

// The protection every access through the library has and the baselines do
// not: entering a reservation (so that a free waits for the access) and
// leaving it, on a reservation alone, as Vm::dispatch and the VMM-side
// copies do around the access.
void BM_Cost_EnterLeave(benchmark::State& state) {
    Reservation reservation(
        ReservationId{1}, Range{kBase, kSize}, [](Fault&) { return FaultResult::handled; }, false);
    ThreadInside& mine = ThreadInside::mine();
    for (auto _ : state) {
        if (!reservation.try_enter(mine)) {
            state.SkipWithError("try_enter failed");
            break;
        }
        reservation.leave(mine);
        benchmark::ClobberMemory();
    }
}

constexpr long kCounts[] = {10, 256, 1000, 4096, 10000, 100000};

/// Arguments {n, anon, repeated}: both layouts, or anonymous only.
void dispatch_counts(benchmark::internal::Benchmark* b, bool anon_only) {
    for (long n : kCounts) {
        for (long layout : {0L, 1L}) {
            if (anon_only && layout == regular) continue;
            for (long pattern : {0L, 1L}) b->Args({n, layout, pattern});
        }
    }
    b->ArgNames({"n", "anon", "repeated"})->MinTime(0.2);
}

/// Arguments {n, repeated} (regular reservations only).
void regular_counts(benchmark::internal::Benchmark* b) {
    for (long n : kCounts) {
        for (long pattern : {0L, 1L}) b->Args({n, pattern});
    }
    b->ArgNames({"n", "repeated"})->MinTime(0.2);
}

BENCHMARK(BM_Dispatch)->Apply([](auto* b) { dispatch_counts(b, false); });
BENCHMARK(BM_Baseline_RbTreeDispatch)->Apply(regular_counts);
BENCHMARK(BM_Baseline_LinearAnon)->Apply([](auto* b) { dispatch_counts(b, true); });
BENCHMARK(BM_ReadGuestValue)->Apply(regular_counts);
BENCHMARK(BM_WriteGuestValue)->Apply(regular_counts);
BENCHMARK(BM_FindRun)->Apply(regular_counts);
BENCHMARK(BM_Baseline_MissLatency)->MinTime(0.5);
BENCHMARK(BM_Cost_EnterLeave)->MinTime(0.2);

}  // namespace

BENCHMARK_MAIN();
