// SPDX-License-Identifier: BSD-2-Clause
// Memory-side figures:
//   Map1GiB:   mapping a 1 GiB reservation on KVM from 4 KiB frames through an
//              iterator, and from 2 MiB frames: time and KVM memory slots used
//   Copy:      VMM-side copies of 1 MiB in and out of guest RAM made of 4 KiB
//              frames, scattered in host memory (the worst case) or in
//              allocation order (one run), against memcpy of the same size
//   Metadata:  heap bytes per reservation (a counting operator new) over
//              100,000 reservations, lookup snapshot included
#include <benchmark/benchmark.h>

#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include "guestmem/guest_memory.hpp"
#include "guestmem/kvm.hpp"
#include "guestmem/sim.hpp"
#include "guestmem/vm.hpp"

// ------------------------------------------------ a counting global allocator

namespace {
std::atomic<std::int64_t> g_live_bytes{0};
}

void* operator new(std::size_t n) {
    void* p = std::malloc(n ? n : 1);
    if (!p) throw std::bad_alloc();
    g_live_bytes.fetch_add(static_cast<std::int64_t>(malloc_usable_size(p)), std::memory_order_relaxed);
    return p;
}
void* operator new[](std::size_t n) { return operator new(n); }
// g++ 12 inlines this delete where the benchmark library frees a node, sees
// the pointer come from operator new, and warns that free does not match it:
// here operator new is malloc, so free is the match.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept {
    if (!p) return;
    g_live_bytes.fetch_sub(static_cast<std::int64_t>(malloc_usable_size(p)), std::memory_order_relaxed);
    std::free(p);
}
#pragma GCC diagnostic pop
void operator delete[](void* p) noexcept { operator delete(p); }
void operator delete(void* p, std::size_t) noexcept { operator delete(p); }
void operator delete[](void* p, std::size_t) noexcept { operator delete(p); }

using namespace guestmem;

namespace {

constexpr GuestAddr kGiB = GuestAddr{1} << 30;

// ---------------------------------------------------------------- Map 1 GiB

void map_gib(benchmark::State& state, FrameSize size) {
    static auto caps = std::make_shared<CapabilitySpace>();
    const std::size_t bits = bits_of(size);
    const std::size_t count = kGiB >> bits;
    std::vector<Cap> frames;
    for (std::size_t i = 0; i < count; ++i) frames.push_back(*caps->allocate_frame(size));
    auto vm = Vm::create(BackendKind::kvm, caps);
    if (!vm) {
        state.SkipWithError("no KVM");
        return;
    }
    (void)(*vm)->init_memory();
    std::size_t slots = 0;
    for (auto _ : state) {
        auto id = *(*vm)->reserve_at(kGiB, kGiB, [](Fault&) { return FaultResult::error; });
        const auto t0 = std::chrono::steady_clock::now();
        auto mapped = (*vm)->map(id, [&](GuestAddr addr) {
            return FrameRequest{frames[(addr - kGiB) >> bits], Rights::all, addr, bits};
        });
        const auto t1 = std::chrono::steady_clock::now();
        if (!mapped) {
            state.SkipWithError("map failed");
            break;
        }
        state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
        slots = kvm::memslot_usage((*vm)->backend())->in_use;
        (void)(*vm)->free(id);
    }
    state.counters["slots"] = static_cast<double>(slots);
    state.counters["frames"] = static_cast<double>(count);
    vm->reset();
    for (Cap c : frames) (void)caps->remove(c);
}

void BM_Map1GiB_4KiB(benchmark::State& state) { map_gib(state, FrameSize::k4KiB); }
void BM_Map1GiB_2MiB(benchmark::State& state) { map_gib(state, FrameSize::k2MiB); }
BENCHMARK(BM_Map1GiB_4KiB)->Iterations(5)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Map1GiB_2MiB)->Iterations(5)->UseManualTime()->Unit(benchmark::kMillisecond);

// -------------------------------------------------------------------- Copy

constexpr std::size_t kCopy = std::size_t{1} << 20;

/// A sim VM with 4 MiB of RAM from 4 KiB frames. Scattered: mapped in reverse
/// allocation order, so that no two neighbouring guest pages are neighbours in
/// host memory (every page is its own chunk: the worst case). In order: mapped
/// in allocation order, as a VMM usually maps RAM, so the frames form one run.
struct CopySetup {
    std::shared_ptr<CapabilitySpace> caps = std::make_shared<CapabilitySpace>();
    Vm vm{sim::create_backend(), caps};
    explicit CopySetup(bool scattered) {
        (void)vm.init_memory();
        auto id = *vm.reserve_at(0, 4 << 20, [](Fault&) { return FaultResult::error; });
        std::vector<Cap> frames(1024);
        for (auto& f : frames) f = *caps->allocate_frame(FrameSize::k4KiB);
        if (scattered) std::reverse(frames.begin(), frames.end());
        (void)vm.map_frames(id, frames, 12);
        std::vector<std::byte> ones(4 << 20, std::byte{1});
        (void)write_guest(vm, 0, ones);  // touch every page once
    }
};

CopySetup& copy_setup(bool scattered) {
    static CopySetup s_scattered(true);
    static CopySetup s_in_order(false);
    return scattered ? s_scattered : s_in_order;
}

void BM_Copy_ReadGuest(benchmark::State& state) {
    auto& s = copy_setup(state.range(0) != 0);
    std::vector<std::byte> buffer(kCopy);
    for (auto _ : state) {
        if (!read_guest(s.vm, 0x100000, buffer)) state.SkipWithError("read_guest failed");
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kCopy));
}

void BM_Copy_WriteGuest(benchmark::State& state) {
    auto& s = copy_setup(state.range(0) != 0);
    std::vector<std::byte> buffer(kCopy, std::byte{2});
    for (auto _ : state) {
        if (!write_guest(s.vm, 0x100000, buffer)) state.SkipWithError("write_guest failed");
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kCopy));
}

void BM_Copy_Memcpy(benchmark::State& state) {
    std::vector<std::byte> from(kCopy, std::byte{1}), to(kCopy);
    for (auto _ : state) {
        std::memcpy(to.data(), from.data(), kCopy);
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kCopy));
}

BENCHMARK(BM_Copy_ReadGuest)->ArgName("scattered")->Arg(1)->Arg(0)->MinTime(0.3)->Repetitions(5);
BENCHMARK(BM_Copy_WriteGuest)->ArgName("scattered")->Arg(1)->Arg(0)->MinTime(0.3)->Repetitions(5);
BENCHMARK(BM_Copy_Memcpy)->MinTime(0.3)->Repetitions(5);

// ---------------------------------------------------------------- Metadata

void metadata(benchmark::State& state, bool anonymous) {
    constexpr std::size_t kCount = 100000;
    double per = 0;
    for (auto _ : state) {
        Vm vm(sim::create_backend(), std::make_shared<CapabilitySpace>());
        (void)vm.init_memory();
        if (anonymous) (void)vm.make_anon(kGiB, kCount * 0x1000);
        Vcpu* vcpu = *vm.create_vcpu();
        // A handler as the C API makes one: a function pointer and a cookie.
        struct Callback {
            void* fn;
            void* cookie;
            FaultResult operator()(Fault&) const { return FaultResult::handled; }
        };
        const std::int64_t before = g_live_bytes.load();
        for (std::size_t i = 0; i < kCount; ++i) {
            if (anonymous) {
                (void)vm.reserve_anon(0x1000, 0, Callback{nullptr, nullptr});
            } else {
                (void)vm.reserve_at(kGiB + i * 0x2000, 0x1000, Callback{nullptr, nullptr});
            }
        }
        Access access{kGiB, 4, false, 0};
        (void)vm.dispatch(*vcpu, access);  // builds the lookup snapshot
        per = static_cast<double>(g_live_bytes.load() - before) / kCount;
    }
    state.counters["bytes_per_reservation"] = per;
}

void BM_Metadata_Regular(benchmark::State& state) { metadata(state, false); }
void BM_Metadata_Anonymous(benchmark::State& state) { metadata(state, true); }
BENCHMARK(BM_Metadata_Regular)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Metadata_Anonymous)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
