// SPDX-License-Identifier: BSD-2-Clause
// Concurrency on every backend that runs guests: vCPUs faulting at once, two VMs talking through a shared
// frame, and the address space changing under running vCPUs. Run these under
// ThreadSanitizer too (GUESTMEM_SANITIZE=thread).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "kvm_test_support.hpp"

namespace guestmem::test {
namespace {

/// Parametrized over the backends that run guests (see guest_backends()).
class GuestConcurrency : public GuestBackendTest {};
GUESTMEM_INSTANTIATE_FOR_GUEST_BACKENDS(GuestConcurrency);

namespace gp = guestmem::guests;
using namespace std::chrono_literals;

// Lets each of `parties` threads through only once all have arrived (or the
// deadline passed); says whether they all met.
class Rendezvous {
public:
    explicit Rendezvous(int parties) : parties_(parties) {}
    bool arrive() {
        std::unique_lock lock(mutex_);
        if (++arrived_ == parties_) cv_.notify_all();
        return cv_.wait_for(lock, 10s, [&] { return arrived_ >= parties_; });
    }

private:
    const int parties_;
    int arrived_ = 0;
    std::mutex mutex_;
    std::condition_variable cv_;
};

// Stops the given vCPUs if a test's guests have not finished in time, so that
// a broken guest fails the test instead of hanging it.
class Watchdog {
public:
    Watchdog(std::vector<Vcpu*> vcpus, std::chrono::seconds limit)
        : thread_([this, vcpus = std::move(vcpus), limit] {
              std::unique_lock lock(mutex_);
              if (!cv_.wait_for(lock, limit, [&] { return done_; })) {
                  fired_ = true;
                  for (Vcpu* v : vcpus) v->request_stop();
              }
          }) {}
    ~Watchdog() {
        {
            std::lock_guard lock(mutex_);
            done_ = true;
        }
        cv_.notify_all();
        thread_.join();
    }
    bool fired() {
        std::lock_guard lock(mutex_);
        return fired_;
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool done_ = false;
    bool fired_ = false;
    std::thread thread_;
};

TEST_P(GuestConcurrency, TwoVcpusFaultAtOnce) {
    auto g = GuestVm::create(backend());
    ASSERT_TRUE(g);
    load_program(g->vm(), gp::access_script::image_path);
    RegisterFile regs(kDevice);
    Rendezvous meet(2);
    std::atomic<int> met{0};
    std::atomic<bool> first[2] = {true, true};
    FaultHandler device = regs.handler();
    ASSERT_TRUE(g->vm().reserve_at(kDevice, RegisterFile::kSize, [&](Fault& f) {
        // Each vCPU's first fault waits inside the handler for the other's:
        // both handlers are then running at the same time.
        if (first[f.vcpu().index()].exchange(false) && meet.arrive()) ++met;
        return device(f);
    }));

    constexpr std::uint64_t kRepeat = 200;
    Vcpu* vcpus[2];
    for (unsigned i = 0; i < 2; ++i) {
        const GuestAddr script = kScripts + i * kPageSize;
        write_script(g->vm(), script,
                     {ScriptOp::write(kDevice + 8 * i, 8, 0x1000 + i), ScriptOp::read(kDevice + 8 * i, 8),
                      ScriptOp::read(kDevice + RegisterFile::kCounterReg, 8)});
        vcpus[i] = &g->add_vcpu({script, kRepeat});
    }
    RunResult results[2];
    {
        Watchdog watchdog({vcpus[0], vcpus[1]}, 30s);
        std::thread t0([&] { results[0] = g->run(*vcpus[0]); });
        std::thread t1([&] { results[1] = g->run(*vcpus[1]); });
        t0.join();
        t1.join();
        EXPECT_FALSE(watchdog.fired());
    }
    EXPECT_EQ(met.load(), 2);
    // Each op is an 8-byte access. The emulator delivers one as two 4-byte
    // halves (guestmem/emu.hpp, "Limits"): two exits and two device accesses.
    const std::uint64_t parts = backend() == BackendKind::emu ? 2 : 1;
    std::uint64_t last_counter[2];
    for (unsigned i = 0; i < 2; ++i) {
        ASSERT_EQ(results[i].reason, StopReason::halted) << results[i].message;
        EXPECT_EQ(results[i].exits.mmio, 3 * kRepeat * parts);
        EXPECT_EQ(x86_registers(*vcpus[i]).rax, 3 * kRepeat);
        const auto back = read_script(g->vm(), kScripts + i * kPageSize, 3);
        EXPECT_EQ(back[1].value, 0x1000 + i);
        last_counter[i] = back[2].value;
    }
    EXPECT_NE(last_counter[0], last_counter[1]);
    EXPECT_EQ(std::max(last_counter[0], last_counter[1]), 2 * kRepeat);
    EXPECT_EQ(regs.accesses(), 6 * kRepeat * parts);
}

TEST_P(GuestConcurrency, TwoVmsPingPongThroughASharedFrame) {
    auto caps = std::make_shared<CapabilitySpace>();
    auto a = GuestVm::create(backend(), caps);
    auto b = GuestVm::create(backend(), caps);
    ASSERT_TRUE(a && b);
    auto shared = caps->allocate_frame(FrameSize::k4KiB);
    ASSERT_TRUE(shared);
    const Cap frames[] = {*shared};
    auto refuse = [](Fault&) { return FaultResult::error; };
    auto ra = a->vm().reserve_at(0x400000, kPageSize, refuse);
    auto rb = b->vm().reserve_at(0x600000, kPageSize, refuse);
    ASSERT_TRUE(ra && rb);
    ASSERT_TRUE(a->vm().map_frames(*ra, frames, kPageBits));
    ASSERT_TRUE(b->vm().map_frames(*rb, frames, kPageBits));
    load_program(a->vm(), gp::ping_pong::image_path);
    load_program(b->vm(), gp::ping_pong::image_path);

    constexpr std::uint64_t kRounds = 300;  // each round needs both vCPU threads on a CPU: keep it cheap on busy hosts
    Vcpu& pinger = a->add_vcpu({0x400000, 0, kRounds});
    Vcpu& ponger = b->add_vcpu({0x600000, 1, kRounds});
    RunResult ra_result, rb_result;
    {
        Watchdog watchdog({&pinger, &ponger}, 30s);
        std::thread ta([&] { ra_result = a->run(pinger); });
        std::thread tb([&] { rb_result = b->run(ponger); });
        ta.join();
        tb.join();
        EXPECT_FALSE(watchdog.fired()) << "the guests did not finish in time";
    }
    ASSERT_EQ(ra_result.reason, StopReason::halted) << ra_result.message;
    ASSERT_EQ(rb_result.reason, StopReason::halted) << rb_result.message;
    EXPECT_EQ(ra_result.exits.mmio, 0u);
    EXPECT_EQ(rb_result.exits.mmio, 0u);
    std::uint64_t squares = 0;
    for (std::uint64_t i = 1; i <= kRounds; ++i) squares += i * i;
    EXPECT_EQ(x86_registers(pinger).rax, squares + kRounds);
    EXPECT_EQ(x86_registers(ponger).rax, squares);
    std::uint64_t words[4];
    std::memcpy(words, caps->frame_memory(*shared)->data(), sizeof words);
    EXPECT_EQ(words[0], kRounds);
    EXPECT_EQ(words[1], kRounds);
}

// vCPU threads fault on their own devices (and on ranges being churned) while
// the main thread keeps reserving, mapping and freeing other reservations.
TEST_P(GuestConcurrency, FreeAndRecreateReservationsWhileVcpusFault) {
    auto g = GuestVm::create(backend());
    ASSERT_TRUE(g);
    Vm& vm = g->vm();
    load_program(vm, gp::access_script::image_path);

    constexpr unsigned kVcpus = 2;
    constexpr GuestAddr kChurnRam = 0x400000;
    constexpr GuestAddr kChurnDevice = 0xd8000000;
    constexpr std::uint64_t kPattern = 0x5a5a5a5a5a5a5a5a;
    constexpr std::uint64_t kFromUnhandled = 0xee, kFromChurnHandler = 0xaa;
    const std::vector<Cap> churn_frames = allocate_frames(g->caps(), 4);
    std::memcpy(g->caps().frame_memory(churn_frames[0])->data() + 0x10, &kPattern, sizeof kPattern);

    std::atomic<std::uint64_t> unhandled_calls{0};
    vm.set_unhandled_fault_handler([&](Fault& f) {
        ++unhandled_calls;
        if (f.is_read()) f.set_data(kFromUnhandled);
        return FaultResult::handled;
    });

    std::vector<std::unique_ptr<RegisterFile>> devices;
    std::vector<Vcpu*> vcpus;
    for (unsigned i = 0; i < kVcpus; ++i) {
        const GuestAddr base = kDevice + i * 0x10000;
        devices.push_back(std::make_unique<RegisterFile>(base));
        ASSERT_TRUE(vm.reserve_at(base, RegisterFile::kSize, devices.back()->handler()));
        vcpus.push_back(&g->add_vcpu());
    }

    std::atomic<bool> failed{false};
    std::atomic<unsigned> running{kVcpus};
    std::vector<std::thread> threads;
    // At least kRuns runs each, and on until the map has changed kMinCycles
    // times under them (a fast backend finishes kRuns before that).
    constexpr int kRuns = 60, kMinCycles = 5, kMaxRuns = 100000;
    std::atomic<int> cycles{0};
    std::vector<std::atomic<int>> runs_done(kVcpus);
    for (unsigned i = 0; i < kVcpus; ++i) {
        threads.emplace_back([&, i] {
            const GuestAddr device = kDevice + i * 0x10000;
            const GuestAddr script = kScripts + i * kPageSize;
            for (int run = 0; (run < kRuns || cycles < kMinCycles) && run < kMaxRuns && !failed; ++run) {
                ++runs_done[i];
                const std::uint64_t marker = (std::uint64_t{i} << 32) | static_cast<std::uint64_t>(run);
                write_script(vm, script,
                             {ScriptOp::write(device, 8, marker), ScriptOp::read(device, 8),
                              ScriptOp::read(kChurnRam + 0x10, 8), ScriptOp::read(kChurnDevice, 4)});
                g->reset(*vcpus[i], {script, 20});
                const RunResult r = g->run(*vcpus[i]);
                const auto back = read_script(vm, script, 4);
                auto from_a_source = [](std::uint64_t v) {
                    return v == kPattern || v == kFromUnhandled || v == kFromChurnHandler;
                };
                bool ram_ok = from_a_source(back[2].value);
                if (backend() == BackendKind::emu) {
                    // The emulator performs the 8-byte read as two 4-byte
                    // halves (guestmem/emu.hpp, "Limits"): each half comes
                    // from RAM, the churn handler or the unhandled handler,
                    // possibly different ones when the map changed in between.
                    auto half_from_a_source = [](std::uint64_t v) {
                        return v == (kPattern & 0xffffffff) || v == kFromUnhandled || v == kFromChurnHandler;
                    };
                    ram_ok = half_from_a_source(back[2].value & 0xffffffff) && half_from_a_source(back[2].value >> 32);
                }
                const bool dev_ok = back[3].value == kFromChurnHandler || back[3].value == kFromUnhandled;
                if (r.reason != StopReason::halted || back[1].value != marker || !ram_ok || !dev_ok) {
                    ADD_FAILURE() << "vCPU " << i << " run " << run << ": " << to_string(r.reason) << " " << r.message
                                  << " read back " << back[1].value << " ram " << back[2].value << " dev "
                                  << back[3].value;
                    failed = true;
                }
            }
            --running;
        });
    }

    FaultHandler churn = [&](Fault& f) {
        if (f.is_read()) f.set_data(kFromChurnHandler);
        return FaultResult::handled;
    };
    while (running > 0 && !failed) {
        auto ram_id = vm.reserve_at(kChurnRam, 4 * kPageSize, churn);
        auto dev_id = vm.reserve_at(kChurnDevice, 0x100, churn);
        if (!ram_id || !dev_id) {
            ADD_FAILURE() << "reserve_at failed while vCPUs run";
            failed = true;
            break;
        }
        ScopedReservation ram(vm, *ram_id);  // freed at the end of the cycle
        ScopedReservation dev(vm, *dev_id);
        std::this_thread::yield();
        if (!vm.map_frames(ram.id(), churn_frames, kPageBits)) {
            ADD_FAILURE() << "map_frames failed while vCPUs run";
            failed = true;
        }
        std::this_thread::yield();
        ++cycles;
    }
    for (auto& t : threads) t.join();
    EXPECT_FALSE(failed);
    EXPECT_GE(cycles, kMinCycles);  // the map really changed under the running vCPUs
    // Two 8-byte accesses per pass; the emulator delivers each as two halves (guestmem/emu.hpp).
    const unsigned parts = backend() == BackendKind::emu ? 2 : 1;
    for (unsigned i = 0; i < kVcpus; ++i) {
        EXPECT_GE(runs_done[i].load(), kRuns);
        EXPECT_EQ(devices[i]->accesses(), 2u * 20 * static_cast<unsigned>(runs_done[i].load()) * parts);
    }
    // The churned reservations are gone: only RAM and the two devices' (no) slots remain.
    if (backend() == BackendKind::kvm) {
        EXPECT_EQ(kvm::memslot_usage(vm.backend())->in_use, 1u);
    }
    std::printf("%d reserve/map/free cycles, %llu unhandled faults\n", cycles.load(),
                static_cast<unsigned long long>(unhandled_calls.load()));
}

}  // namespace
}  // namespace guestmem::test
