// SPDX-License-Identifier: BSD-2-Clause
#include "guest_runner.hpp"

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
        if (segment.addr > ram_end || segment.bytes.size() > ram_end - segment.addr) {
            return fail(Errc::invalid_argument, "the guest image does not fit in RAM (use a larger --ram)");
        }
        if (auto ok = guestmem::load_image(vm, segment.addr, segment.bytes); !ok) return ok.error();
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

Result<GuestRun> run_guest(Machine& machine, guestmem::Vcpu& vcpu, double timeout_seconds, bool progress) {
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    std::mutex mutex;
    std::condition_variable finished_cv;
    bool finished = false;

    // Watches the run: stops it at the timeout and shows progress on long runs.
    std::thread watchdog([&] {
        std::unique_lock lock(mutex);
        for (int tick = 1; !finished; ++tick) {
            if (finished_cv.wait_for(lock, std::chrono::seconds(1), [&] { return finished; })) break;
            const double elapsed = std::chrono::duration<double>(clock::now() - start).count();
            if (progress && tick >= 2) {
                std::uint64_t faults = 0;
                for (const auto& c : machine.stats().all()) faults += c->total();
                std::fprintf(stderr, "guestmem-vmm: vm%u running for %.0f s, %llu faults handled so far\n",
                             machine.options().vm_index, elapsed, static_cast<unsigned long long>(faults));
            }
            if (timeout_seconds > 0 && elapsed >= timeout_seconds) {
                std::fprintf(stderr, "guestmem-vmm: vm%u: stopping the guest after the %.0f s timeout\n",
                             machine.options().vm_index, timeout_seconds);
                vcpu.request_stop();
                break;
            }
        }
    });
    auto result = vcpu.run();
    {
        std::lock_guard lock(mutex);
        finished = true;
    }
    finished_cv.notify_all();
    watchdog.join();
    if (!result) return result.error();
    GuestRun run;
    run.result = std::move(*result);
    run.exit_status = run.result.reason == guestmem::StopReason::exited
                          ? std::optional<std::uint32_t>(static_cast<std::uint32_t>(run.result.exit_status))
                          : machine.exit_register().status();
    run.seconds = std::chrono::duration<double>(clock::now() - start).count();
    return run;
}

}  // namespace vmm
