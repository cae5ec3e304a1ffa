// SPDX-License-Identifier: BSD-2-Clause
#include "guest_runner.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "guestmem/boot.hpp"
#include "guestmem/guest_memory.hpp"

namespace vmm {

using guestmem::Errc;
using guestmem::fail;
using guestmem::Result;

Result<guestmem::Vcpu*> load_guest(Machine& machine, const GuestImage& image) {
    guestmem::Vm& vm = machine.vm();
    const std::uint64_t ram_end = layout::kRamBase + machine.options().ram_size;
    for (const auto& segment : image.segments) {
        if (segment.addr < kImageAddr && !image.elf) {
            return fail(Errc::invalid_argument, "a flat image must load at or above the boot area");
        }
        if (segment.addr > ram_end || segment.mem_size > ram_end - segment.addr) {
            return fail(Errc::invalid_argument, "the guest image does not fit in RAM (use a larger --ram)");
        }
        // Only the file's bytes are written: the rest of the segment is
        // already zero, as the frames of a machine's fresh RAM are.
        if (segment.file_size == 0) continue;
        if (auto ok = guestmem::load_image(vm, segment.addr, image.bytes(segment)); !ok) return ok.error();
    }
    guestmem::BootSpec boot;
    boot.entry = image.entry;
    boot.stack = kStackTop;
    boot.args = {machine.options().vm_index, 0, 0, 0};
    boot.x86_tables = kBootTablesAddr;
    if (kBootTablesAddr + guestmem::x86_boot_tables_size(boot.identity_bytes) > kStackTop - 0x1000) {
        return fail(Errc::invalid_argument, "boot tables collide with the stack");
    }
    auto vcpu = vm.create_vcpu();
    if (!vcpu) return vcpu.error();
    if (auto ok = (*vcpu)->boot(boot); !ok) return ok.error();
    return *vcpu;
}

namespace {

void add_exits(guestmem::ExitCounts& sum, const guestmem::ExitCounts& more) {
    sum.total += more.total;
    sum.mmio += more.mmio;
    sum.port_io += more.port_io;
    sum.interrupted += more.interrupted;
    sum.posted_writes += more.posted_writes;
}

}  // namespace

Result<GuestRun> run_guest(Machine& machine, guestmem::Vcpu& vcpu, double timeout_seconds, bool progress,
                           const PauseSchedule* pauses) {
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    std::mutex mutex;
    std::condition_variable finished_cv;
    bool finished = false;
    std::atomic<bool> timed_out{false};
    std::atomic<bool> pause_due{false};
    using std::chrono::duration_cast;
    const auto interval = pauses ? duration_cast<clock::duration>(std::chrono::duration<double>(pauses->every_seconds))
                                 : clock::duration{};
    // The next pause is due `interval` after the guest last resumed (under
    // `mutex`): the time a pause takes (a snapshot) does not count, so the
    // guest always runs between two pauses.
    auto next_pause = pauses ? start + interval : clock::time_point::max();

    if (pauses && pauses->at_start) {
        if (auto ok = pauses->at_pause(); !ok) return ok.error();
        next_pause = clock::now() + interval;
    }
    // Watches the run: stops it at the timeout and for pauses, and shows
    // progress on long runs.
    std::thread watchdog([&] {
        std::unique_lock lock(mutex);
        auto next_tick = start + std::chrono::seconds(1);
        for (int tick = 1; !finished;) {
            if (finished_cv.wait_until(lock, std::min(next_tick, next_pause), [&] { return finished; })) break;
            const auto now = clock::now();
            if (now >= next_pause) {
                pause_due.store(true);
                vcpu.request_stop();
                next_pause = clock::time_point::max();  // until the guest resumes
            }
            if (now < next_tick) continue;
            next_tick += std::chrono::seconds(1);
            ++tick;
            const double elapsed = std::chrono::duration<double>(now - start).count();
            if (progress && tick >= 3) {
                std::uint64_t faults = 0;
                for (const auto& c : machine.stats().all()) faults += c->total();
                std::fprintf(stderr, "guestmem-vmm: vm%u running for %.0f s, %llu faults handled so far\n",
                             machine.options().vm_index, elapsed, static_cast<unsigned long long>(faults));
            }
            if (timeout_seconds > 0 && elapsed >= timeout_seconds) {
                std::fprintf(stderr, "guestmem-vmm: vm%u: stopping the guest after the %.0f s timeout\n",
                             machine.options().vm_index, timeout_seconds);
                timed_out.store(true);
                vcpu.request_stop();
                break;
            }
        }
    });
    auto finish = [&] {
        {
            std::lock_guard lock(mutex);
            finished = true;
        }
        finished_cv.notify_all();
        watchdog.join();
    };
    guestmem::ExitCounts exits;
    Result<guestmem::RunResult> result = vcpu.run();
    // A stop for a pause is no end of the run: pause, then go on.
    while (result && result->reason == guestmem::StopReason::stopped && pause_due.exchange(false) &&
           !timed_out.load()) {
        add_exits(exits, result->exits);
        if (auto ok = pauses->at_pause(); !ok) {
            finish();
            return ok.error();
        }
        {
            std::lock_guard lock(mutex);
            next_pause = clock::now() + interval;
        }
        finished_cv.notify_all();
        result = vcpu.run();
    }
    finish();
    if (!result) return result.error();
    GuestRun run;
    run.result = std::move(*result);
    add_exits(exits, run.result.exits);
    run.result.exits = exits;
    run.exit_status = run.result.reason == guestmem::StopReason::exited
                          ? std::optional<std::uint32_t>(static_cast<std::uint32_t>(run.result.exit_status))
                          : machine.exit_register().status();
    run.seconds = std::chrono::duration<double>(clock::now() - start).count();
    return run;
}

}  // namespace vmm
