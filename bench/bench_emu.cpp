// SPDX-License-Identifier: BSD-2-Clause
// MMIO reads on the CPU emulator: guest loops of kReads four-byte reads of a
// device register (guests/x86_64/mmio_reads.S, guests/aarch64/mmio_reads.S)
// through the library's emu backend (a Vm with RAM and a device reservation
// whose handler only counts), against the same guests on a raw Unicorn
// engine with a no-op uc_mmio_map callback (baselines/raw_unicorn.*). Each
// benchmark iteration runs one guest loop; the `read_time` counter and the
// table script's time / `ops` give the time per MMIO read.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "baselines/raw_unicorn.hpp"
#include "guestmem/guest_memory.hpp"
#include "guestmem/vm.hpp"

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

/// Stops the benchmark with the error's message.
void must(const guestmem::Result<void>& ok) {
    if (!ok) throw std::runtime_error(ok.error().message);
}

/// The raw engine's machine, built through the library on the emu backend:
/// RAM [0, kRamSize) from 4 KiB frames, the image at kEntry, a 4-byte device
/// register at kDevice whose handler counts the reads (each reads 0).
class LibraryMachine {
public:
    LibraryMachine(GuestArch arch, const std::string& image) {
        using namespace guestmem;
        const Arch guest = arch == GuestArch::x86_64 ? Arch::x86_64 : Arch::aarch64;
        vm_ = Vm::create(BackendKind::emu, std::make_shared<CapabilitySpace>(), guest).value();
        must(vm_->init_memory());
        const auto ram = vm_->reserve_at(0, bench::RawUnicorn::kRamSize, [](Fault&) { return FaultResult::error; });
        std::vector<Cap> frames;
        for (std::uint64_t i = 0; i < bench::RawUnicorn::kRamSize / kPageSize; ++i) {
            frames.push_back(vm_->capabilities().allocate_frame(FrameSize::k4KiB).value());
        }
        must(vm_->map_frames(ram.value(), frames, kPageBits));
        vm_->reserve_at(bench::RawUnicorn::kDevice, 4,
                        [this](Fault&) {
                            ++reads_;
                            return FaultResult::handled;
                        })
            .value();
        (void)load_image_file(*vm_, bench::RawUnicorn::kEntry, image).value();
        vcpu_ = vm_->create_vcpu().value();
        BootSpec spec;
        spec.entry = bench::RawUnicorn::kEntry;
        spec.stack = bench::RawUnicorn::kStack;
        spec.x86_tables = 0x1000;
        must(vcpu_->boot(spec));
        start_ = vcpu_->registers().value();
    }

    /// Runs one loop of `iterations`; returns the reads the handler saw.
    std::uint64_t run(std::uint64_t iterations) {
        guestmem::Registers regs = start_;
        if (auto* x = std::get_if<guestmem::X86Registers>(&regs)) {
            x->rdi = iterations;
            x->rsi = bench::RawUnicorn::kDevice;
        } else {
            auto& a = std::get<guestmem::Arm64Registers>(regs);
            a.x[0] = iterations;
            a.x[1] = bench::RawUnicorn::kDevice;
        }
        must(vcpu_->set_registers(regs));
        const std::uint64_t before = reads_;
        const auto result = vcpu_->run().value();
        if (!result.halted()) throw std::runtime_error("the guest did not halt: " + result.message);
        return reads_ - before;
    }

private:
    std::unique_ptr<guestmem::Vm> vm_;
    guestmem::Vcpu* vcpu_ = nullptr;
    guestmem::Registers start_;
    std::uint64_t reads_ = 0;
};

void BM_Library_MmioRead(benchmark::State& state, GuestArch arch) {
    const std::string image = guest_image(arch);
    if (!std::filesystem::exists(image)) {
        state.SkipWithError(("no guest image " + image + " (AArch64 needs binutils-aarch64-linux-gnu)").c_str());
        return;
    }
    LibraryMachine machine(arch, image);
    std::uint64_t delivered = 0;
    for (auto _ : state) delivered += machine.run(kIterations);
    report(state, delivered);
}

#define EMU_BENCH(arch)                                              \
    BENCHMARK_CAPTURE(BM_RawUnicorn_MmioRead, arch, GuestArch::arch) \
        ->Repetitions(5)                                             \
        ->UseRealTime()                                              \
        ->Unit(benchmark::kMicrosecond);                             \
    BENCHMARK_CAPTURE(BM_Library_MmioRead, arch, GuestArch::arch)    \
        ->Repetitions(5)                                             \
        ->UseRealTime()                                              \
        ->Unit(benchmark::kMicrosecond)
EMU_BENCH(x86_64);
EMU_BENCH(aarch64);

}  // namespace

BENCHMARK_MAIN();
