// SPDX-License-Identifier: BSD-2-Clause
// Fault dispatch on several vCPU threads while other threads change the
// address space; frees that race with handlers. Run under TSan as well.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <latch>
#include <thread>

#include "capi_support.hpp"
#include "test_support.hpp"

namespace guestmem {
namespace {

using namespace std::chrono_literals;
using test::CountingHandler;
using test::LogCapture;
using test::poke;
using test::SimVm;

constexpr std::uint32_t kChurnValue = 0xcccc'cccc;

FaultHandler answer(std::uint64_t value) {
    return [value](Fault& f) {
        if (f.is_read()) f.set_data(value);
        return FaultResult::handled;
    };
}

/// Waits for a condition another thread sets, with a timeout so a broken
/// implementation fails the test instead of hanging it.
class Flag {
public:
    void set() {
        {
            std::lock_guard lock(mutex_);
            set_ = true;
        }
        cv_.notify_all();
    }
    bool wait(std::chrono::milliseconds timeout = 10s) {
        std::unique_lock lock(mutex_);
        return cv_.wait_for(lock, timeout, [&] { return set_; });
    }
    bool is_set() {
        std::lock_guard lock(mutex_);
        return set_;
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool set_ = false;
};

TEST(Concurrency, VcpusAccessWhileAnotherThreadReservesMapsAndFrees) {
    SimVm s;
    constexpr int kVcpus = 2;
    constexpr int kIterations = 3000;
    constexpr GuestAddr kChurn = 0x3000'0000;  // where the changer works
    std::vector<Vcpu*> vcpus{s.vcpu};
    for (int i = 1; i < kVcpus; ++i) vcpus.push_back(*s.vm->create_vcpu());
    s.vm->set_unhandled_fault_handler(answer(kChurnValue));
    ASSERT_TRUE(s.vm->make_anon(0x4000'0000, 0x100'0000));

    // Each vCPU has its own device (a register file only it touches) and its own RAM.
    struct PerVcpu {
        std::uint64_t regs[4] = {};
        Cap frame = kNullCap;
    };
    std::vector<PerVcpu> per(kVcpus);
    for (int i = 0; i < kVcpus; ++i) {
        PerVcpu& p = per[i];
        ASSERT_TRUE(s.vm->reserve_at(0x1000'0000 + i * 0x1000, 32, [&p](Fault& f) {
            const std::size_t reg = (f.address() & 31) / 8;
            if (f.is_write()) p.regs[reg] = f.data();
            else f.set_data(p.regs[reg]);
            return FaultResult::handled;
        }));
        auto ram = s.vm->reserve_at(0x2000'0000 + i * 0x10000, 0x1000, answer(0));
        p.frame = s.frame();
        const Cap frames[] = {p.frame};
        ASSERT_TRUE(s.vm->map_frames(*ram, frames, 12));
    }
    // Memory the changer maps reads as kChurnValue too, so every read of the
    // churn area yields it: from memory, from a handler, or unhandled.
    const Cap churn_frame = s.frame();
    for (std::size_t off = 0; off < kPageSize; off += 4) poke(s.memory(churn_frame).data() + off, 4, kChurnValue);
    const Cap churn_ro = *s.caps->copy(churn_frame, Rights::read);

    std::atomic<int> running{kVcpus};
    std::atomic<int> failures{0};
    std::atomic<int> churn_rounds{0};
    std::thread changer([&] {
        const Cap frames[] = {churn_ro};
        for (int round = 0; running.load() > 0 || round < 50; ++round) {
            const GuestAddr at = kChurn + (round % 8) * 0x1000;
            auto id = s.vm->reserve_at(at, 0x1000, answer(kChurnValue));
            if (!id) {
                ++failures;
                continue;
            }
            if (round % 2 == 0 && !s.vm->map_frames(*id, frames, 12)) ++failures;
            auto anon = s.vm->reserve_anon(0x3000, 0x4000, answer(kChurnValue));
            if (!anon) ++failures;
            if (!s.vm->free(*id)) ++failures;
            if (anon && !s.vm->free(anon->id)) ++failures;
            churn_rounds.fetch_add(1);
        }
    });
    std::vector<std::thread> threads;
    for (int i = 0; i < kVcpus; ++i) {
        threads.emplace_back([&, i] {
            Vcpu& vcpu = *vcpus[i];
            const GuestAddr dev = 0x1000'0000 + i * 0x1000;
            const GuestAddr ram = 0x2000'0000 + i * 0x10000;
            for (int n = 0; n < kIterations; ++n) {
                const std::uint64_t value = (std::uint64_t(i) << 32) | std::uint64_t(n);
                if (!sim::write(vcpu, dev + (n % 4) * 8, 8, value)) ++failures;
                auto reg = sim::read(vcpu, dev + (n % 4) * 8, 8);
                if (!reg || *reg != value) ++failures;
                if (!sim::write(vcpu, ram + (n % 512) * 8, 8, value)) ++failures;
                auto mem = sim::read(vcpu, ram + (n % 512) * 8, 8);
                if (!mem || *mem != value) ++failures;
                auto churn = sim::read(vcpu, kChurn + (n % 8) * 0x1000 + 0x40, 4);
                if (!churn || *churn != kChurnValue) ++failures;
            }
            running.fetch_sub(1);
        });
    }
    for (auto& t : threads) t.join();
    changer.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_GE(churn_rounds.load(), 50);
    EXPECT_EQ(s.vm->reservations().size(), static_cast<std::size_t>(2 * kVcpus)) << "the changer cleaned up";
    EXPECT_EQ(s.vm->pools().at(0).free_bytes, 0x100'0000u);
    for (int i = 0; i < kVcpus; ++i) {
        EXPECT_EQ(sim::instruction_pointer(*vcpus[i]).value(), 5u * kIterations * sim::kInstructionBytes)
            << "every access completed and advanced its own vCPU once";
    }
}

TEST(Concurrency, AHandlerMayFreeItsOwnReservation) {
    SimVm s;
    CountingHandler unhandled;
    s.vm->set_unhandled_fault_handler(unhandled.handler());
    ReservationId self{};
    int calls = 0;
    bool freed = false;
    auto id = s.vm->reserve_at(0x8000, 0x100, [&](Fault&) {
        ++calls;
        freed = s.vm->free(self).ok();
        return FaultResult::restart;  // the retry finds nothing there
    });
    ASSERT_TRUE(id);
    self = *id;
    ASSERT_TRUE(sim::read(*s.vcpu, 0x8010, 4));
    EXPECT_EQ(calls, 1);
    EXPECT_TRUE(freed);
    EXPECT_EQ(*unhandled.calls, 1);
    ASSERT_TRUE(sim::read(*s.vcpu, 0x8010, 4));
    EXPECT_EQ(calls, 1);
    EXPECT_TRUE(s.vm->reservations().empty());
}

/// True once `base` is no longer in the VM's map (a free has made its changes
/// and, if it waits, registered its wait: both happen under the change lock).
bool gone_within(Vm& vm, GuestAddr base, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        const auto infos = vm.reservations();
        if (std::none_of(infos.begin(), infos.end(), [&](const ReservationInfo& i) { return i.range.base == base; })) {
            return true;
        }
        std::this_thread::sleep_for(1ms);
    }
    return false;
}

TEST(Concurrency, HandlersFreeingEachOthersReservationsDoNotDeadlock) {
    // Handler A (inside R1, vCPU 0) frees R2 and waits for handler B, which
    // is inside R2 (vCPU 1); B then frees R1, whose handler A is running. B's
    // free would wait for A forever: it is refused with would_deadlock and
    // changes nothing; once B returns, A's free completes.
    SimVm s;
    Vcpu* second = *s.vm->create_vcpu();
    constexpr GuestAddr kR1 = 0x10000, kR2 = 0x20000;
    ReservationId r1{}, r2{};
    Flag a_inside, b_inside;
    Result<void> a_freed = fail(Errc::invalid_argument, "not run"), b_freed = a_freed;
    LogCapture log;
    auto id1 = s.vm->reserve_at(kR1, 0x1000, [&](Fault& f) {
        a_inside.set();
        if (!b_inside.wait()) return FaultResult::error;
        a_freed = s.vm->free(r2);  // waits until B returns
        f.set_data(1);
        return FaultResult::handled;
    });
    auto id2 = s.vm->reserve_at(kR2, 0x1000, [&](Fault& f) {
        b_inside.set();
        if (!a_inside.wait() || !gone_within(*s.vm, kR2)) return FaultResult::error;
        b_freed = s.vm->free(r1);  // would wait for A, which waits for us
        f.set_data(2);
        return FaultResult::handled;
    });
    ASSERT_TRUE(id1 && id2);
    r1 = *id1;
    r2 = *id2;
    Result<std::uint64_t> a_read = 0, b_read = 0;
    std::thread a([&] { a_read = sim::read(*s.vcpu, kR1, 4); });
    std::thread b([&] { b_read = sim::read(*second, kR2, 4); });
    a.join();
    b.join();
    ASSERT_TRUE(a_read && b_read);
    EXPECT_EQ(*a_read, 1u);
    EXPECT_EQ(*b_read, 2u);
    EXPECT_TRUE(a_freed) << a_freed.error().message;
    ASSERT_FALSE(b_freed);
    EXPECT_EQ(b_freed.code(), Errc::would_deadlock);
    EXPECT_NE(b_freed.error().message.find("Vm::free"), std::string::npos) << b_freed.error().message;
    EXPECT_TRUE(log.has_error("Vm::free", {"would wait forever"})) << log.dump();
    // B's refused free changed nothing: R1 is still there and still handled.
    const auto left = s.vm->reservations();
    ASSERT_EQ(left.size(), 1u);
    EXPECT_EQ(left[0].id, r1);
    EXPECT_TRUE(s.vm->free(r1));
}

TEST(Concurrency, ACycleOfThreeWaitingFreesIsRefusedAtTheThird) {
    // A (in R1) frees R2, B (in R2) frees R3, C (in R3) frees R1: A waits for
    // B, B waits for C, and C's free would wait for A.
    SimVm s;
    Vcpu* vcpus[3] = {s.vcpu, *s.vm->create_vcpu(), *s.vm->create_vcpu()};
    const GuestAddr base[3] = {0x10000, 0x20000, 0x30000};
    ReservationId ids[3]{};
    Flag inside[3];
    Result<void> freed[3] = {fail(Errc::invalid_argument, "not run"), fail(Errc::invalid_argument, "not run"),
                             fail(Errc::invalid_argument, "not run")};
    LogCapture log;
    for (int i = 0; i < 3; ++i) {
        auto id = s.vm->reserve_at(base[i], 0x1000, [&, i](Fault&) {
            inside[i].set();
            for (auto& flag : inside) {
                if (!flag.wait()) return FaultResult::error;
            }
            // In order: B after A's free is waiting, C after B's.
            for (int before = 0; before < i; ++before) {
                if (!gone_within(*s.vm, base[before + 1])) return FaultResult::error;
            }
            freed[i] = s.vm->free(ids[(i + 1) % 3]);
            return FaultResult::handled;
        });
        ASSERT_TRUE(id);
        ids[i] = *id;
    }
    std::vector<std::thread> threads;
    Result<std::uint64_t> reads[3] = {0, 0, 0};
    for (int i = 0; i < 3; ++i) threads.emplace_back([&, i] { reads[i] = sim::read(*vcpus[i], base[i], 4); });
    for (auto& t : threads) t.join();
    for (auto& r : reads) EXPECT_TRUE(r);
    EXPECT_TRUE(freed[0]);
    EXPECT_TRUE(freed[1]);
    EXPECT_EQ(freed[2].code(), Errc::would_deadlock);
    EXPECT_TRUE(log.has_error("Vm::free", {"would wait forever"})) << log.dump();
    const auto left = s.vm->reservations();
    ASSERT_EQ(left.size(), 1u);
    EXPECT_EQ(left[0].id, ids[0]);  // C's refused free left R1 in place
}

TEST(Concurrency, AFreeFromAHandlerStillWaitsWhenThereIsNoCycle) {
    // A (in R1) frees R2 while B is inside R2 but not freeing anything: A's
    // free waits for B's handler to return, as before.
    SimVm s;
    Vcpu* second = *s.vm->create_vcpu();
    Flag b_inside, release_b;
    std::atomic<bool> b_returned{false};
    std::atomic<bool> b_returned_before_free{false};
    ReservationId r2{};
    auto id1 = s.vm->reserve_at(0x10000, 0x1000, [&](Fault&) {
        if (!b_inside.wait()) return FaultResult::error;
        release_b.set();
        if (!s.vm->free(r2)) return FaultResult::error;
        b_returned_before_free = b_returned.load();
        return FaultResult::handled;
    });
    auto id2 = s.vm->reserve_at(0x20000, 0x1000, [&](Fault&) {
        b_inside.set();
        (void)release_b.wait();
        std::this_thread::sleep_for(20ms);  // give A's free time to start waiting
        b_returned = true;
        return FaultResult::handled;
    });
    ASSERT_TRUE(id1 && id2);
    r2 = *id2;
    std::thread b([&] { (void)sim::read(*second, 0x20000, 4); });
    EXPECT_TRUE(sim::read(*s.vcpu, 0x10000, 4));
    b.join();
    EXPECT_TRUE(b_returned_before_free);
}

TEST(Concurrency, AHandlerMayFreeItselfAndFaultAgainOnTheSameVcpu) {
    // The handler frees its own reservation, changes the map, and faults again
    // on its own vCPU, which replaces that vCPU's lookup snapshot. The outer
    // dispatch still uses its reservation after the handler returns: the
    // snapshot it was found in must outlive the nested dispatch (ASan checks).
    SimVm s;
    ReservationId self{};
    std::uint64_t nested_value = 0;
    auto other = s.vm->reserve_at(0x20000, 0x1000, answer(0x5151));
    ASSERT_TRUE(other);
    auto id = s.vm->reserve_at(0x8000, 0x1000, [&](Fault& f) {
        if (!s.vm->free(self)) return FaultResult::error;
        if (!s.vm->reserve_at(0x40000, 0x1000, answer(1))) return FaultResult::error;
        auto nested = sim::read(*s.vcpu, 0x20000, 4);
        if (!nested) return FaultResult::error;
        nested_value = *nested;
        f.set_data(0x7777);
        return FaultResult::handled;
    });
    ASSERT_TRUE(id);
    self = *id;
    auto outer = sim::read(*s.vcpu, 0x8010, 4);
    ASSERT_TRUE(outer);
    EXPECT_EQ(*outer, 0x7777u);
    EXPECT_EQ(nested_value, 0x5151u);
    EXPECT_EQ(s.vm->reservations().size(), 2u);   // other and the new one
    EXPECT_FALSE(sim::read(*s.vcpu, 0x8010, 4));  // freed: no unhandled-fault callback, an error
}

TEST(Concurrency, AHandlerMayFreeItsOwnMappedReservationWhileAnotherVcpuUsesIt) {
    SimVm s;
    Vcpu* other = *s.vm->create_vcpu();
    s.vm->set_unhandled_fault_handler(answer(0x0f));
    const Cap frame = s.frame();
    std::atomic<ReservationId> self{};
    std::atomic<int> calls{0};
    // Read-only RAM whose writes go to a handler; the first write frees it.
    auto id = s.vm->reserve_at(0x10000, 0x1000, [&](Fault&) {
        if (calls.fetch_add(1) == 0) (void)s.vm->free(self.load());
        return FaultResult::restart;
    });
    self = *id;
    const Cap ro[] = {*s.caps->copy(frame, Rights::read)};
    ASSERT_TRUE(s.vm->map_frames(*id, ro, 12));
    std::atomic<bool> stop{false};
    std::atomic<int> bad{0};
    std::thread reader([&] {
        while (!stop.load()) {
            auto v = sim::read(*other, 0x10000, 4);
            if (!v || (*v != 0 && *v != 0x0f)) ++bad;  // memory (0) before the free, unhandled after
        }
    });
    std::this_thread::sleep_for(5ms);
    ASSERT_TRUE(sim::write(*s.vcpu, 0x10000, 4, 1));
    std::this_thread::sleep_for(5ms);
    stop = true;
    reader.join();
    EXPECT_EQ(bad.load(), 0);
    EXPECT_GE(calls.load(), 1);
    EXPECT_TRUE(s.vm->reservations().empty());
    EXPECT_EQ(sim::read(*other, 0x10000, 4).value(), 0x0fu);
}

TEST(Concurrency, FramesOfAReservationThatFreedItselfAreReleasedWhenItsHandlerReturns) {
    // Only the mapping holds the frame (its capabilities are deleted). The
    // handler frees its own reservation, so the free cannot let the frames go
    // while the handler runs; an idle vCPU still holds the old lookup
    // snapshot. The frame must still be released once the handler returns.
    SimVm s;
    Vcpu* idle = *s.vm->create_vcpu();
    s.vm->set_unhandled_fault_handler(answer(0));
    const Cap frame = s.frame();
    const Cap read_only = *s.caps->copy(frame, Rights::read);
    ReservationId self{};
    auto id = s.vm->reserve_at(0x10000, 0x1000,
                               [&](Fault&) { return s.vm->free(self) ? FaultResult::ignore : FaultResult::error; });
    ASSERT_TRUE(id);
    self = *id;
    ASSERT_TRUE(s.vm->map_frames(*id, std::span(&read_only, 1), 12));
    ASSERT_TRUE(s.caps->remove(read_only));
    ASSERT_TRUE(s.caps->remove(frame));
    EXPECT_EQ(s.caps->frame_bytes_in_use(), kPageSize);  // held by the mapping
    ASSERT_TRUE(sim::read(*idle, 0x10000, 4));           // the idle vCPU caches the snapshot
    ASSERT_TRUE(sim::write(*s.vcpu, 0x10000, 4, 1));     // read-only: the handler frees
    EXPECT_TRUE(s.vm->reservations().empty());
    EXPECT_EQ(s.caps->frame_bytes_in_use(), 0u);
}

TEST(Concurrency, FreeWaitsForAHandlerRunningOnAnotherThread) {
    SimVm s;
    s.vm->set_unhandled_fault_handler(answer(0));
    Flag entered, release;
    std::atomic<bool> handler_done{false};
    std::atomic<int> calls_after_free{0};
    std::atomic<bool> free_returned{false};
    auto id = s.vm->reserve_at(0x9000, 0x100, [&](Fault& f) {
        if (free_returned.load()) ++calls_after_free;
        entered.set();
        EXPECT_TRUE(release.wait());
        f.set_data(0x77);
        handler_done = true;
        return FaultResult::handled;
    });
    ASSERT_TRUE(id);
    std::uint64_t read_value = 0;
    std::thread vcpu_thread([&] { read_value = test::or_zero(sim::read(*s.vcpu, 0x9000, 4)); });
    ASSERT_TRUE(entered.wait());
    bool done_when_free_returned = false;
    std::thread freer([&] {
        EXPECT_TRUE(s.vm->free(*id));
        done_when_free_returned = handler_done.load();
        free_returned = true;
    });
    std::this_thread::sleep_for(50ms);
    EXPECT_FALSE(free_returned.load()) << "free returned while the handler was still running";
    release.set();
    freer.join();
    vcpu_thread.join();
    EXPECT_TRUE(done_when_free_returned) << "free returned only after the handler finished";
    EXPECT_EQ(read_value, 0x77u) << "the access that was inside completed normally";
    Vcpu* again = *s.vm->create_vcpu();
    ASSERT_TRUE(sim::read(*again, 0x9000, 4));
    EXPECT_EQ(calls_after_free.load(), 0) << "never called after free returned";
}

TEST(Concurrency, ADeferredMappingRunsOnceWhenTwoVcpusFaultTogether) {
    SimVm s;
    Vcpu* other = *s.vm->create_vcpu();
    s.vm->set_deferred_mapping(true);
    auto id = s.vm->reserve_at(0x10000, 0x2000, answer(0xbad));
    const Cap f0 = s.frame(), f1 = s.frame();
    poke(s.memory(f0).data(), 4, 0x1234);
    poke(s.memory(f1).data(), 4, 0x5678);
    std::atomic<int> iterator_calls{0};
    ASSERT_TRUE(s.vm->map(*id, [&](GuestAddr addr) {
        ++iterator_calls;
        std::this_thread::sleep_for(2ms);  // widen the window for the other vCPU
        return FrameRequest{addr == 0x10000 ? f0 : f1, Rights::all, addr, 12};
    }));
    std::latch start(2);
    std::uint64_t a = 0, b = 0;
    std::thread ta([&] {
        start.arrive_and_wait();
        a = test::or_zero(sim::read(*s.vcpu, 0x10000, 4));
    });
    std::thread tb([&] {
        start.arrive_and_wait();
        b = test::or_zero(sim::read(*other, 0x11000, 4));
    });
    ta.join();
    tb.join();
    EXPECT_EQ(a, 0x1234u);
    EXPECT_EQ(b, 0x5678u);
    EXPECT_EQ(iterator_calls.load(), 2) << "one mapping of two frames, whichever vCPU ran it";
}

TEST(Concurrency, DispatchDoesNotWaitForAnAddressSpaceChange) {
    // A map iterator holds the address space's change lock until another vCPU
    // thread has completed accesses to devices and RAM: lookups take no such lock.
    SimVm s;
    Vcpu* other = *s.vm->create_vcpu();
    ASSERT_TRUE(s.vm->reserve_at(0x1000, 0x10, answer(0x42)));
    auto ram = s.vm->reserve_at(0x20000, 0x1000, answer(0));
    const Cap f = s.frame();
    const Cap frames[] = {f};
    ASSERT_TRUE(s.vm->map_frames(*ram, frames, 12));
    auto slow = s.vm->reserve_at(0x80000, 0x1000, answer(0));
    // The reservation just made changed the index: the other vCPU's first lookup
    // rebuilds its snapshot while the change lock is held.

    Flag in_iterator, accesses_done;
    std::atomic<int> completed{0};
    std::thread vcpu_thread([&] {
        ASSERT_TRUE(in_iterator.wait());
        for (int i = 0; i < 100; ++i) {
            if (test::or_zero(sim::read(*other, 0x1000, 4)) == 0x42) ++completed;
            if (sim::write(*other, 0x20000 + 8 * i, 8, i)) ++completed;
        }
        accesses_done.set();
    });
    bool done_inside = false;
    ASSERT_TRUE(s.vm->map(*slow, [&](GuestAddr addr) {
        in_iterator.set();
        done_inside = accesses_done.wait(10s);
        return FrameRequest{f, Rights::all, addr, 12};
    }));
    vcpu_thread.join();
    EXPECT_TRUE(done_inside) << "the vCPU's accesses waited for the change lock";
    EXPECT_EQ(completed.load(), 200);
}

// ---------------------------------------------------------------------------
// The same through the C interface.

memory_fault_result_t c_answer(vm_t*, vm_vcpu_t* vcpu, uintptr_t, size_t, void*) {
    if (is_vcpu_read_fault(vcpu)) set_vcpu_fault_data(vcpu, kChurnValue);
    return FAULT_HANDLED;
}

TEST(ConcurrencyC, VcpusCreatedAndUsedFromSeveralThreads) {
    test::CVm c;
    ASSERT_EQ(vm_register_unhandled_mem_fault_callback(c.vm, c_answer, nullptr), 0);
    constexpr int kThreads = 2, kPerThread = 16;
    std::vector<std::vector<vm_vcpu_t*>> made(kThreads);
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kPerThread; ++i) {
                vm_vcpu_t* vcpu = vm_create_vcpu(c.vm, 0);
                if (!vcpu) {
                    ++failures;
                    continue;
                }
                made[t].push_back(vcpu);
                uint64_t v = 0;
                if (vm_sim_access(vcpu, 0x5000, 4, false, &v) != 0 || v != kChurnValue) ++failures;
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(failures.load(), 0);
    std::set<vm_vcpu_t*> all;
    for (auto& list : made) all.insert(list.begin(), list.end());
    EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kPerThread));
    EXPECT_EQ(c.core().vcpu_count(), static_cast<std::size_t>(kThreads * kPerThread + 1));
}

TEST(ConcurrencyC, AccessesWhileAnotherThreadReservesAndFrees) {
    test::CVm c;
    vm_vcpu_t* second = vm_create_vcpu(c.vm, 0);
    ASSERT_EQ(vm_register_unhandled_mem_fault_callback(c.vm, c_answer, nullptr), 0);
    std::atomic<bool> stop{false};
    std::atomic<int> failures{0};
    std::thread changer([&] {
        for (int round = 0; !stop.load() || round < 50; ++round) {
            vm_memory_reservation_t* r =
                vm_reserve_memory_at(c.vm, 0x8000 + (round % 4) * 0x100, 0x100, c_answer, nullptr);
            if (!r || vm_free_reserved_memory(c.vm, r) != 0) ++failures;
        }
    });
    std::vector<std::thread> vcpus;
    for (vm_vcpu_t* vcpu : {c.vcpu, second}) {
        vcpus.emplace_back([&, vcpu] {
            for (int i = 0; i < 2000; ++i) {
                uint64_t v = 0;
                if (vm_sim_access(vcpu, 0x8000 + (i % 4) * 0x100 + 8, 4, false, &v) != 0 || v != kChurnValue) {
                    ++failures;
                }
            }
        });
    }
    for (auto& t : vcpus) t.join();
    stop = true;
    changer.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_TRUE(c.core().reservations().empty());
}

}  // namespace
}  // namespace guestmem
