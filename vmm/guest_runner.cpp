// SPDX-License-Identifier: BSD-2-Clause
#include "guest_runner.hpp"

#include <algorithm>
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

Result<guestmem::Vcpu*> load_guest(Machine& machine, const guestmem::GuestImage& image) {
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

void StopSignal::raise(int signal_number) {
    std::lock_guard lock(mutex_);
    int none = 0;
    signal_.compare_exchange_strong(none, signal_number);
    for (guestmem::Vcpu* vcpu : vcpus_) vcpu->request_stop();
}

void StopSignal::attach(guestmem::Vcpu& vcpu) {
    std::lock_guard lock(mutex_);
    vcpus_.push_back(&vcpu);
    // request_stop also stops the vCPU's next run, so a stop raised before
    // the run begins (while the machine was being built) is not lost.
    if (signal_.load() != 0) vcpu.request_stop();
}

void StopSignal::detach(guestmem::Vcpu& vcpu) {
    std::lock_guard lock(mutex_);
    std::erase(vcpus_, &vcpu);
}

namespace {

void add_exits(guestmem::ExitCounts& sum, const guestmem::ExitCounts& more) {
    sum.total += more.total;
    sum.mmio += more.mmio;
    sum.port_io += more.port_io;
    sum.interrupted += more.interrupted;
    sum.posted_writes += more.posted_writes;
}

/// Attached to a StopSignal for as long as it lives.
class Attachment {
public:
    Attachment(StopSignal* stop, guestmem::Vcpu& vcpu) : stop_(stop), vcpu_(vcpu) {
        if (stop_) stop_->attach(vcpu_);
    }
    ~Attachment() {
        if (stop_) stop_->detach(vcpu_);
    }
    Attachment(const Attachment&) = delete;
    Attachment& operator=(const Attachment&) = delete;
    int signal_number() const { return stop_ ? stop_->signal_number() : 0; }

private:
    StopSignal* stop_;
    guestmem::Vcpu& vcpu_;
};

}  // namespace

Result<GuestRun> run_guest(Machine& machine, guestmem::Vcpu& vcpu, const RunOptions& options) {
    using clock = std::chrono::steady_clock;
    const PauseSchedule* pauses = options.pauses;
    const auto start = clock::now();
    const Attachment attachment(options.stop, vcpu);
    std::mutex mutex;
    std::condition_variable wake_cv;
    bool finished = false;
    std::atomic<bool> timed_out{false};
    std::atomic<bool> pause_due{false};
    const auto interval = pauses ? std::chrono::duration_cast<clock::duration>(pauses->every) : clock::duration{};
    const auto deadline = options.timeout.count() > 0
                              ? start + std::chrono::duration_cast<clock::duration>(options.timeout)
                              : clock::time_point::max();
    // The next pause is due `interval` after the guest last resumed (under
    // `mutex`): the time a pause takes (a snapshot) does not count, so the
    // guest always runs between two pauses.
    auto next_pause = pauses ? start + interval : clock::time_point::max();

    if (pauses && pauses->at_start && attachment.signal_number() == 0) {
        if (auto ok = pauses->at_pause(); !ok) return ok.error();
        next_pause = clock::now() + interval;
    }
    // Watches the run: stops it at the timeout and for pauses, and shows
    // progress on long runs. It sleeps until the earliest of those; the run
    // loop wakes it whenever it moves the next pause, so that the new time
    // counts at once rather than at the next progress tick.
    std::thread watchdog([&] {
        std::unique_lock lock(mutex);
        auto next_tick = start + std::chrono::seconds(1);
        for (int tick = 1; !finished;) {
            wake_cv.wait_until(lock, std::min({next_tick, next_pause, deadline}));
            if (finished) break;
            const auto now = clock::now();
            if (now >= next_pause) {
                pause_due.store(true);
                vcpu.request_stop();
                next_pause = clock::time_point::max();  // until the guest resumes
            }
            if (now >= deadline) {
                std::fprintf(stderr, "guestmem-vmm: vm%u: stopping the guest after the %g s timeout\n",
                             machine.options().vm_index, std::chrono::duration<double>(options.timeout).count());
                timed_out.store(true);
                vcpu.request_stop();
                break;
            }
            if (now < next_tick) continue;
            next_tick += std::chrono::seconds(1);
            ++tick;
            if (options.progress && tick >= 3) {
                std::uint64_t faults = 0;
                for (const auto& c : machine.stats().all()) faults += c->total();
                std::fprintf(stderr, "guestmem-vmm: vm%u running for %.0f s, %llu faults handled so far\n",
                             machine.options().vm_index, std::chrono::duration<double>(now - start).count(),
                             static_cast<unsigned long long>(faults));
            }
        }
    });
    auto finish = [&] {
        {
            std::lock_guard lock(mutex);
            finished = true;
        }
        wake_cv.notify_all();
        watchdog.join();
    };
    guestmem::ExitCounts exits;
    Result<guestmem::RunResult> result = vcpu.run();
    for (; result; result = vcpu.run()) {
        add_exits(exits, result->exits);
        // A stop for a pause is no end of the run: pause, then go on.
        if (result->reason != guestmem::StopReason::stopped || timed_out.load() || attachment.signal_number() != 0 ||
            !pause_due.exchange(false)) {
            break;
        }
        if (auto ok = pauses->at_pause(); !ok) {
            finish();
            return ok.error();
        }
        // A stop that came while pausing: the pause (a snapshot) is
        // complete, and the guest is not resumed only to be stopped.
        if (attachment.signal_number() != 0) break;
        {
            std::lock_guard lock(mutex);
            next_pause = clock::now() + interval;
        }
        wake_cv.notify_all();
    }
    finish();
    if (!result) return result.error();
    GuestRun run;
    run.result = std::move(*result);
    run.result.exits = exits;
    if (run.result.reason == guestmem::StopReason::stopped && !timed_out.load()) {
        run.stopped_by_signal = attachment.signal_number();
    }
    run.exit_status = run.result.reason == guestmem::StopReason::exited
                          ? std::optional<std::uint32_t>(static_cast<std::uint32_t>(run.result.exit_status))
                          : machine.exit_register().status();
    run.seconds = std::chrono::duration<double>(clock::now() - start).count();
    return run;
}

}  // namespace vmm
