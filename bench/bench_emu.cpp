// MMIO reads on the CPU emulator: guest loops of kReads four-byte reads of a
// device register (guests/x86_64/mmio_reads.S, guests/aarch64/mmio_reads.S)
// on a raw Unicorn engine with a no-op uc_mmio_map callback
// (baselines/raw_unicorn.*): the limit for the library's emu backend running
// the same guests. Each benchmark iteration runs one guest loop; the
// `read_time` counter and the table script's time / `ops` give the time per
// MMIO read.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <string>

#include "baselines/raw_unicorn.hpp"

namespace {

using bench::GuestArch;

constexpr std::uint64_t kIterations = 1000;  // the guests do 10 reads per loop iteration
constexpr std::uint64_t kReads = kIterations * 10;

std::string guest_image(GuestArch arch) {
    return std::string(BENCH_GUEST_DIR) + "/" + bench::arch_name(arch) + "/mmio_reads.bin";
}

void report(benchmark::State& state, std::uint64_t delivered) {
    const double reads = static_cast<double>(state.iterations()) * kReads;
    state.counters["ops"] = kReads;
    state.counters["delivered_per_op"] = static_cast<double>(delivered) / reads;
    // Seconds per read (Google Benchmark's rate, inverted).
    state.counters["read_time"] = benchmark::Counter(reads, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_RawUnicorn_MmioRead(benchmark::State& state, GuestArch arch) {
    const std::string image = guest_image(arch);
    if (!std::filesystem::exists(image)) {
        state.SkipWithError(("no guest image " + image + " (AArch64 needs binutils-aarch64-linux-gnu)").c_str());
        return;
    }
    bench::RawUnicorn raw(arch, image);
    std::uint64_t delivered = 0;
    for (auto _ : state) {
        raw.reset(kIterations);
        delivered += raw.run();
    }
    report(state, delivered);
}

#define EMU_BENCH(arch) \
    BENCHMARK_CAPTURE(BM_RawUnicorn_MmioRead, arch, GuestArch::arch) \
        ->Repetitions(5)->UseRealTime()->Unit(benchmark::kMicrosecond)
EMU_BENCH(x86_64);
EMU_BENCH(aarch64);

}  // namespace

BENCHMARK_MAIN();
