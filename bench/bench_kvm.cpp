// SPDX-License-Identifier: BSD-2-Clause
// KVM round trips: the library against raw KVM (bench/baselines/raw_kvm.*),
// running the same real-mode guests (bench/guests/).
//   MmioRead:     guest reads of an emulated register, each an MMIO exit
//   MmioWrite:    guest writes, each an MMIO exit (the slow path for doorbells)
//   Doorbell:     guest writes signalled through an ioeventfd (no exit to the VMM)
//   WritePosting: guest writes queued in KVM's coalesced MMIO ring
// Each benchmark iteration runs one guest loop of kOps accesses; the table
// script divides the time by the `ops` counter.
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "baselines/raw_kvm.hpp"
#include "guestmem/guest_memory.hpp"
#include "guestmem/vcpu.hpp"
#include "guestmem/vm.hpp"

using namespace guestmem;

namespace {

constexpr std::uint16_t kOps = 2000;
constexpr std::uint16_t kLoops = kOps / 10;  // the guests do 10 accesses per loop iteration
constexpr std::uint64_t kDevice = 0xd0000;
constexpr std::uint16_t kSegment = 0xd000;
constexpr std::uint16_t kValue = 0x55;

std::string guest(const char* name) { return std::string(BENCH_GUEST_DIR) + "/" + name + ".bin"; }

/// A library VM with RAM [0, 0x80000) of 4 KiB frames, the guest at 0x10000, one vCPU.
struct LibVm {
    std::shared_ptr<CapabilitySpace> caps = std::make_shared<CapabilitySpace>();
    std::unique_ptr<Vm> vm;
    Vcpu* vcpu = nullptr;

    explicit LibVm(const std::string& image) {
        vm = std::move(Vm::create(BackendKind::kvm, caps).value());
        (void)vm->init_memory();
        auto ram = *vm->reserve_at(0, 0x80000, [](Fault&) { return FaultResult::error; });
        std::vector<Cap> frames;
        for (int i = 0; i < 128; ++i) frames.push_back(*caps->allocate_frame(FrameSize::k4KiB));
        if (!vm->map_frames(ram, frames, 12)) throw std::runtime_error("map RAM");
        if (!load_image_file(*vm, 0x10000, image)) throw std::runtime_error("load " + image);
        vcpu = *vm->create_vcpu();
    }
    void reset(std::uint16_t di, std::uint16_t cx) {
        (void)vcpu->boot({.entry = 0x10000, .stack = 0, .args = {di, 0, kSegment, cx}, .x86_real_mode = true});
    }
    RunResult run() {
        auto result = vcpu->run();
        if (!result || !result->halted()) throw std::runtime_error("the guest did not halt");
        return std::move(*result);
    }
};

void finish(benchmark::State& state, std::uint64_t delivered) {
    state.counters["ops"] = kOps;
    state.counters["delivered_per_op"] =
        static_cast<double>(delivered) / (static_cast<double>(state.iterations()) * kOps);
}

void BM_MmioRead_Raw(benchmark::State& state) {
    bench::RawKvm raw(guest("mmio_read_loop"));
    std::uint64_t exits = 0;
    for (auto _ : state) {
        raw.reset(0, 0, kSegment, kLoops);
        exits += raw.run();
    }
    finish(state, exits);
}

void BM_MmioRead_Lib(benchmark::State& state) {
    LibVm lib(guest("mmio_read_loop"));
    std::uint64_t reads = 0;
    auto dev = *lib.vm->reserve_at(kDevice, 0x1000, [&reads](Fault& f) {
        ++reads;
        f.set_data(0x1234);
        return FaultResult::handled;
    });
    for (auto _ : state) {
        lib.reset(0, kLoops);
        benchmark::DoNotOptimize(lib.run());
    }
    (void)lib.vm->free(dev);
    finish(state, reads);
}

void BM_MmioWrite_Raw(benchmark::State& state) {
    bench::RawKvm raw(guest("mmio_write_loop"));
    std::uint64_t exits = 0;
    for (auto _ : state) {
        raw.reset(kValue, 0, kSegment, kLoops);
        exits += raw.run();
    }
    finish(state, exits);
}

void BM_MmioWrite_Lib(benchmark::State& state) {
    LibVm lib(guest("mmio_write_loop"));
    std::uint64_t writes = 0;
    auto dev = *lib.vm->reserve_at(kDevice, 0x1000, [&writes](Fault&) {
        ++writes;
        return FaultResult::handled;
    });
    for (auto _ : state) {
        lib.reset(kValue, kLoops);
        benchmark::DoNotOptimize(lib.run());
    }
    (void)lib.vm->free(dev);
    finish(state, writes);
}

void BM_Ioeventfd_Raw(benchmark::State& state) {
    bench::RawKvm raw(guest("mmio_write_loop"));
    if (!raw.add_ioeventfd(kDevice, 2, kValue)) {
        state.SkipWithError("KVM_IOEVENTFD refused");
        return;
    }
    for (auto _ : state) {
        raw.reset(kValue, 0, kSegment, kLoops);
        raw.run();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    finish(state, raw.rings());
}

void BM_Doorbell_Lib(benchmark::State& state) {
    LibVm lib(guest("mmio_write_loop"));
    std::atomic<std::uint64_t> rings{0};
    auto dev = lib.vm->reserve_doorbell(
        kDevice, 2, [&rings](std::uint64_t n) { rings += n; }, kValue);
    if (!dev) {
        state.SkipWithError("reserve_doorbell failed");
        return;
    }
    std::uint64_t exits = 0;
    for (auto _ : state) {
        lib.reset(kValue, kLoops);
        exits += lib.run().exits.mmio;
    }
    (void)lib.vm->free(*dev);  // delivers pending rings
    finish(state, rings.load());
    state.counters["mmio_exits_per_op"] = static_cast<double>(exits) / (static_cast<double>(state.iterations()) * kOps);
}

void BM_WritePosting_Lib(benchmark::State& state) {
    LibVm lib(guest("mmio_write_loop"));
    std::uint64_t writes = 0;
    auto dev = *lib.vm->reserve_write_posting(kDevice, 0x1000, [&writes](Fault&) {
        ++writes;
        return FaultResult::handled;
    });
    std::uint64_t exits = 0;
    for (auto _ : state) {
        lib.reset(kValue, kLoops);
        exits += lib.run().exits.mmio;
    }
    (void)lib.vm->free(dev);
    finish(state, writes);
    state.counters["mmio_exits_per_op"] = static_cast<double>(exits) / (static_cast<double>(state.iterations()) * kOps);
}

#define KVM_BENCH(fn) BENCHMARK(fn)->Iterations(8)->Repetitions(5)->UseRealTime()->Unit(benchmark::kMillisecond)
KVM_BENCH(BM_MmioRead_Raw);
KVM_BENCH(BM_MmioRead_Lib);
KVM_BENCH(BM_MmioWrite_Raw);
KVM_BENCH(BM_MmioWrite_Lib);
KVM_BENCH(BM_Ioeventfd_Raw);
KVM_BENCH(BM_Doorbell_Lib);
KVM_BENCH(BM_WritePosting_Lib);

}  // namespace

BENCHMARK_MAIN();
