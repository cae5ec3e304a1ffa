#include "guest_runner.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

namespace vmm {

using guestmem::Errc;
using guestmem::fail;
using guestmem::Result;
namespace kvm = guestmem::kvm;

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
        if (auto ok = kvm::load_image(vm, segment.addr, segment.bytes); !ok) return ok.error();
    }
    auto tables = kvm::write_boot_tables(vm, kBootTablesAddr);
    if (!tables) return tables.error();
    if (tables->base + tables->bytes > kStackTop - 0x1000) {
        return fail(Errc::invalid_argument, "boot tables collide with the stack");
    }
    auto vcpu = vm.create_vcpu();
    if (!vcpu) return vcpu.error();
    kvm::LongModeSetup setup;
    setup.entry = image.entry;
    setup.stack = kStackTop;
    setup.tables = *tables;
    setup.args = {machine.options().vm_index, 0, 0, 0};
    if (auto ok = kvm::setup_long_mode(**vcpu, setup); !ok) return ok.error();
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
                (void)kvm::request_stop(vcpu);
                break;
            }
        }
    });
    auto result = kvm::run(vcpu);
    {
        std::lock_guard lock(mutex);
        finished = true;
    }
    finished_cv.notify_all();
    watchdog.join();
    if (!result) return result.error();
    GuestRun run;
    run.result = std::move(*result);
    run.exit_status = machine.exit_register().status();
    run.seconds = std::chrono::duration<double>(clock::now() - start).count();
    return run;
}

}  // namespace vmm
