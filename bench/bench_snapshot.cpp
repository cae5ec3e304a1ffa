// SPDX-License-Identifier: BSD-2-Clause
// Snapshot figures on the sim backend, 1 GiB of guest RAM as 256 RAM
// registrations of 4 MiB (2 MiB frames), 10% of its pages non-zero:
//   SaveFull:          a full snapshot, against /bin/cp of a file of the
//                      snapshot's size in the same folder (cp_ratio: save
//                      speed over cp speed, for the same bytes; target >= 0.5),
//                      and against cp of a 1 GiB file, the guest RAM's size
//                      (cp_1GiB_ratio: cp's time over the save's)
//   SaveDiff:          a diff after touching 1% of the pages, against the full
//                      snapshot of the same VM (diff_over_full; target <= 0.05)
//   RestoreLazyFirst:  a lazy restore plus the first guest access (one
//                      sim::read at the RAM base, which maps that one
//                      reservation): until the guest could run (target <= 10 ms)
//   RestoreEager:      an eager restore, for comparison
// The files go to $GUESTMEM_BENCH_DIR (default: the temporary folder). Page
// cache: nothing is dropped; save and cp both write into it the same way.
#include <benchmark/benchmark.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "guestmem/guest_memory.hpp"
#include "guestmem/guest_ram.hpp"
#include "guestmem/sim.hpp"
#include "guestmem/snapshot.hpp"
#include "guestmem/vm.hpp"

extern char** environ;

using namespace guestmem;

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr GuestAddr kRamBase = GuestAddr{1} << 32;
constexpr std::uint64_t kChunk = std::uint64_t{4} << 20;
constexpr std::uint64_t kChunks = 256;
constexpr std::uint64_t kRamBytes = kChunk * kChunks;
constexpr std::uint64_t kPages = kRamBytes / kPageSize;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

struct Folder {
    fs::path path;
    Folder() {
        const char* env = std::getenv("GUESTMEM_BENCH_DIR");
        std::string pattern = ((env && *env) ? fs::path(env) : fs::temp_directory_path()) / "gmsnap-bench-XXXXXX";
        if (!::mkdtemp(pattern.data())) std::abort();
        path = pattern;
    }
    ~Folder() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

struct SourceVm {
    std::unique_ptr<Vm> vm;
    Vcpu* vcpu = nullptr;
    SourceVm() {
        vm = Vm::create(BackendKind::sim, std::make_shared<CapabilitySpace>(), Arch::x86_64).value();
        (void)vm->init_memory();
        vcpu = *vm->create_vcpu();
        for (std::uint64_t i = 0; i < kChunks; ++i) {
            if (!vm->ram().register_at(kRamBase + i * kChunk, kChunk)) std::abort();
        }
        // Every tenth page non-zero, all of it (a page's checksum reads it all).
        for (std::uint64_t p = 0; p < kPages; p += 10) {
            if (!fill_guest(*vm, kRamBase + p * kPageSize, kPageSize, std::byte{0x5a})) std::abort();
        }
    }
    // Writes 8 bytes into every hundredth page (1%), with a new value.
    void touch_one_percent(std::uint64_t value) {
        for (std::uint64_t p = 3; p < kPages; p += 100) {
            if (!sim::write(*vcpu, kRamBase + p * kPageSize, 8, value)) std::abort();
        }
    }
};

double cp_seconds(const fs::path& from, const fs::path& to) {
    const std::string a = from.string(), b = to.string();
    char cp[] = "/bin/cp";
    char* argv[] = {cp, const_cast<char*>(a.c_str()), const_cast<char*>(b.c_str()), nullptr};
    const auto start = Clock::now();
    pid_t pid = 0;
    if (posix_spawn(&pid, "/bin/cp", nullptr, nullptr, argv, environ) != 0) return 0;
    int status = 0;
    waitpid(pid, &status, 0);
    const double t = seconds_since(start);
    fs::remove(to);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? t : 0;
}

SourceVm& source() {
    static SourceVm vm;
    return vm;
}

void BM_Snapshot_SaveFull(benchmark::State& state) {
    Folder dir;
    SourceVm& s = source();
    double save_total = 0, cp_total = 0;
    std::uint64_t bytes = 0;
    for (auto _ : state) {
        // As for cp, the target does not exist (replacing it would add the
        // old file's truncation to the figure).
        fs::remove(dir.path / "full.snap");
        const auto start = Clock::now();
        auto info = snapshot::save(*s.vm, dir.path / "full.snap");
        const double t = seconds_since(start);
        if (!info) {
            state.SkipWithError(info.error().message.c_str());
            return;
        }
        state.SetIterationTime(t);
        bytes = info->file_bytes;
        save_total += t;
        cp_total += cp_seconds(dir.path / "full.snap", dir.path / "copy");
    }
    // The other reading of the baseline: cp of a file as large as the guest
    // RAM (1 GiB, every byte written), once.
    {
        const fs::path big = dir.path / "1GiB";
        {
            std::ofstream out(big, std::ios::binary);
            const std::vector<char> chunk(std::size_t{4} << 20, 0x5a);
            for (std::uint64_t i = 0; i < kRamBytes / chunk.size(); ++i) {
                out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
            }
        }
        const double t = cp_seconds(big, dir.path / "1GiB.copy");
        fs::remove(big);
        state.counters["cp_1GiB_ms"] = t * 1e3;
        state.counters["cp_1GiB_ratio"] = t / (save_total / static_cast<double>(state.iterations()));
    }
    const double n = static_cast<double>(state.iterations());
    state.counters["file_MiB"] = static_cast<double>(bytes) / (1 << 20);
    state.counters["save_MiBps"] = static_cast<double>(bytes) / (1 << 20) / (save_total / n);
    state.counters["cp_MiBps"] = static_cast<double>(bytes) / (1 << 20) / (cp_total / n);
    state.counters["cp_ratio"] = cp_total / save_total;  // save speed / cp speed
    state.counters["guest_GiBps"] = static_cast<double>(kRamBytes) / (1 << 30) / (save_total / n);
}
BENCHMARK(BM_Snapshot_SaveFull)->Iterations(5)->UseManualTime()->Unit(benchmark::kMillisecond);

void BM_Snapshot_SaveDiff(benchmark::State& state) {
    Folder dir;
    SourceVm& s = source();
    if (!s.vm->dirty_tracking() && !s.vm->start_dirty_tracking()) std::abort();
    double full_total = 0, diff_total = 0;
    std::uint64_t stored = 0;
    std::uint64_t value = 1;
    for (auto _ : state) {
        fs::remove(dir.path / "base.snap");
        fs::remove(dir.path / "diff.snap");
        auto start = Clock::now();
        if (!snapshot::save(*s.vm, dir.path / "base.snap")) std::abort();
        full_total += seconds_since(start);
        s.touch_one_percent(++value);
        snapshot::SaveOptions options;
        options.parent = dir.path / "base.snap";
        start = Clock::now();
        auto info = snapshot::save(*s.vm, dir.path / "diff.snap", options);
        const double t = seconds_since(start);
        if (!info) {
            state.SkipWithError(info.error().message.c_str());
            return;
        }
        state.SetIterationTime(t);
        diff_total += t;
        stored = info->stored_pages;
    }
    (void)s.vm->stop_dirty_tracking();
    state.counters["stored_pages"] = static_cast<double>(stored);
    state.counters["full_ms"] = full_total * 1e3 / static_cast<double>(state.iterations());
    state.counters["diff_over_full"] = diff_total / full_total;
}
BENCHMARK(BM_Snapshot_SaveDiff)->Iterations(5)->UseManualTime()->Unit(benchmark::kMillisecond);

void restore_bench(benchmark::State& state, snapshot::RestoreMode mode) {
    Folder dir;
    if (!snapshot::save(*source().vm, dir.path / "full.snap")) std::abort();
    snapshot::DeviceHandlers handlers;
    for (auto _ : state) {
        auto vm = Vm::create(BackendKind::sim, std::make_shared<CapabilitySpace>(), Arch::x86_64).value();
        (void)vm->init_memory();
        const auto start = Clock::now();
        auto report = snapshot::restore(*vm, dir.path / "full.snap", handlers, mode);
        auto first = report ? sim::read(*vm->vcpu(0), kRamBase, 8) : Result<std::uint64_t>(report.error());
        const double t = seconds_since(start);
        if (!first || *first != 0x5a5a5a5a5a5a5a5a) {
            state.SkipWithError(first ? "wrong contents" : first.error().message.c_str());
            return;
        }
        state.SetIterationTime(t);
        state.PauseTiming();
        vm.reset();  // destruction is not part of the figure
        state.ResumeTiming();
    }
}

void BM_Snapshot_RestoreLazyFirstAccess(benchmark::State& state) { restore_bench(state, snapshot::RestoreMode::lazy); }
BENCHMARK(BM_Snapshot_RestoreLazyFirstAccess)->Iterations(10)->UseManualTime()->Unit(benchmark::kMillisecond);

void BM_Snapshot_RestoreEager(benchmark::State& state) { restore_bench(state, snapshot::RestoreMode::eager); }
BENCHMARK(BM_Snapshot_RestoreEager)->Iterations(3)->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
