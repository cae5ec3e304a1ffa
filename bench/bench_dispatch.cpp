// Fault dispatch on the sim backend (lookup + handler call) for 10 to 100,000
// reservations, regular (reserve_at) and anonymous (reserve_anon), at random
// and repeated addresses, against two baselines (bench/baselines/
// lookup_baselines.hpp): a std::map lookup and libsel4vm's linear scan of
// anonymous sub-reservations; and the host's memory latency, which bounds
// lookups at random addresses.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "baselines/lookup_baselines.hpp"
#include "guestmem/sim.hpp"
#include "guestmem/vm.hpp"

using namespace guestmem;

namespace {

constexpr GuestAddr kBase = 0x100000000;   // reservations from 4 GiB up
constexpr std::uint64_t kSize = 0x1000;    // one page each
constexpr std::uint64_t kStride = 0x2000;  // regular ones leave a gap between them
constexpr std::size_t kAddrs = 4096;       // random addresses cycled through

enum Layout { regular = 0, anonymous = 1 };
enum Pattern { random_addrs = 0, repeated = 1 };

/// Bases of n reservations and a cycle of addresses in them.
struct Workload {
    std::vector<GuestAddr> bases;
    std::vector<GuestAddr> addrs;
};

std::vector<GuestAddr> pick(const std::vector<GuestAddr>& bases, Pattern pattern) {
    std::vector<GuestAddr> out(kAddrs);
    std::mt19937_64 rng(42);
    for (auto& a : out) {
        const GuestAddr base = pattern == repeated ? bases[bases.size() / 2] : bases[rng() % bases.size()];
        a = base + ((rng() % (kSize / 4)) * 4);
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

void BM_Baseline_Map(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    const auto bases = baseline_bases(n, static_cast<Layout>(state.range(1)));
    bench::MapLookup map;
    for (GuestAddr b : bases) map.add(b, kSize, [](std::uint64_t a) { return a; });
    const auto addrs = pick(bases, static_cast<Pattern>(state.range(2)));
    std::size_t i = 0;
    for (auto _ : state) benchmark::DoNotOptimize(map.dispatch(addrs[i++ & (kAddrs - 1)]));
}

void BM_Baseline_LinearAnon(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    const auto bases = baseline_bases(n, anonymous);
    bench::LinearAnonScan scan;
    for (GuestAddr b : bases) scan.add(b, kSize, [](std::uint64_t a) { return a; });
    const auto addrs = pick(bases, static_cast<Pattern>(state.range(2)));
    std::size_t i = 0;
    for (auto _ : state) benchmark::DoNotOptimize(scan.dispatch(addrs[i++ & (kAddrs - 1)]));
}

// What a lookup at a random address over many reservations costs at least:
// one dependent load that misses the L2 cache and the TLB. Measured as a
// pointer chase through a random cycle of 16,384 cache lines (4 per address
// of the 4,096-address cycle above) scattered over 32 MiB (about the
// library's metadata for 100,000 reservations).
void BM_Baseline_MissLatency(benchmark::State& state) {
    constexpr std::size_t kWordsPerLine = 64 / sizeof(std::uint64_t);
    constexpr std::size_t kLines = (std::size_t{32} << 20) / 64;
    constexpr std::size_t kCycle = 4 * kAddrs;
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

void counts(benchmark::internal::Benchmark* b, bool anon_only) {
    for (long n : {10L, 100L, 1000L, 10000L, 100000L}) {
        for (long layout : {0L, 1L}) {
            if (anon_only && layout == regular) continue;
            for (long pattern : {0L, 1L}) b->Args({n, layout, pattern});
        }
    }
    b->ArgNames({"n", "anon", "repeated"})->MinTime(0.2);
}

BENCHMARK(BM_Dispatch)->Apply([](auto* b) { counts(b, false); });
BENCHMARK(BM_Baseline_Map)->Apply([](auto* b) { counts(b, false); });
BENCHMARK(BM_Baseline_LinearAnon)->Apply([](auto* b) { counts(b, true); });
BENCHMARK(BM_Baseline_MissLatency)->MinTime(0.5);

}  // namespace

BENCHMARK_MAIN();
