// SPDX-License-Identifier: BSD-2-Clause
// Concurrency stress on KVM: guests on two vCPU threads loop over accesses to
// device reservations that a control thread keeps reserving and freeing, and
// to RAM pages next to them that it keeps mapping (new memory slots) and
// freeing. Every access either reaches the device reservation alive at that
// moment or, while none is, the unhandled handler; no handler runs after its
// free returned; no access is lost or dispatched twice (each run's MMIO exits
// equal the faults dispatched for that vCPU during the run).
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <random>
#include <thread>

#include "kvm_test_support.hpp"
#include "stress_support.hpp"

namespace guestmem::stress {
namespace {

using test::GuestVm;
using test::ScriptOp;
namespace gp = guestmem::guests;

constexpr unsigned kVcpus = 2;
constexpr unsigned kSlots = 4;
constexpr GuestAddr kSlotBase = test::kDevice;           // slot i: device page at + i * 0x2000
constexpr GuestAddr kStable = test::kDevice + 0x100000;  // a device that never changes
constexpr std::size_t kMaxGenerations = std::size_t{1} << 20;
constexpr std::uint64_t kUnhandledData = 0xeeee'eeee'eeee'eeee;
constexpr std::uint64_t kPattern = 0x5a5a'1234'5a5a'5678;
constexpr std::uint64_t kRepeat = 40;

GuestAddr device_page(unsigned slot) { return kSlotBase + slot * 0x2000; }
GuestAddr ram_page(unsigned slot) { return kSlotBase + slot * 0x2000 + 0x1000; }
std::uint64_t tag(std::uint64_t g) { return 0x7a00'0000'0000'0000ull | (g << 8) | 0x5d; }

TEST(KvmStress, GuestsFaultWhileReservationsAndSlotsChangeAroundThem) {
    GUESTMEM_REQUIRE_KVM();
    auto gvm = GuestVm::create(BackendKind::kvm);
    ASSERT_TRUE(gvm);
    Vm& vm = gvm->vm();
    test::load_program(vm, gp::access_script::image_path);
    const std::vector<Cap> ram_frames = test::allocate_frames(gvm->caps(), kSlots);
    for (Cap c : ram_frames) {
        auto mem = gvm->caps().frame_memory(c);
        for (std::size_t i = 0; i < kPageSize; i += 8) std::memcpy(mem->data() + i, &kPattern, 8);
    }

    Violations violations;
    std::unique_ptr<std::atomic<bool>[]> freed(new std::atomic<bool>[kMaxGenerations]());
    std::vector<int> gen_slot(kMaxGenerations, -1);  // written before the reserve that publishes it
    std::atomic<std::uint64_t> dev_faults[kVcpus] = {}, unhandled_dev[kVcpus] = {}, unhandled_ram[kVcpus] = {};
    std::atomic<std::uint64_t> stable_faults{0};

    vm.set_unhandled_fault_handler([&](Fault& f) {
        const unsigned v = f.vcpu().index();
        bool in_ram_page = false;
        for (unsigned i = 0; i < kSlots; ++i)
            in_ram_page |= f.address() >= ram_page(i) && f.address() < ram_page(i) + kPageSize;
        (in_ram_page ? unhandled_ram : unhandled_dev)[v].fetch_add(1);
        if (f.is_read()) f.set_data(kUnhandledData);
        return FaultResult::handled;
    });
    ASSERT_TRUE(vm.reserve_at(kStable, 0x100, [&](Fault& f) {
        stable_faults.fetch_add(1);
        dev_faults[f.vcpu().index()].fetch_add(1);
        if (f.is_read()) f.set_data(0x51ab1e);
        return FaultResult::handled;
    }));
    auto device_handler = [&](std::uint64_t g, unsigned slot) -> FaultHandler {
        return [&, g, slot](Fault& f) {
            if (freed[g].load())
                violations.add("handler of generation " + std::to_string(g) + " ran after its free returned");
            if (f.address() < device_page(slot) || f.address() + f.size() > device_page(slot) + 0x100)
                violations.add("generation " + std::to_string(g) + " got an access outside its range");
            dev_faults[f.vcpu().index()].fetch_add(1);
            if (f.is_read()) f.set_data(tag(g));
            return FaultResult::handled;
        };
    };

    // Script of vCPU v: per slot, a write and a read of its own lane of the
    // device, and a read of the RAM page next to it; then the stable device.
    std::vector<Vcpu*> vcpus;
    for (unsigned v = 0; v < kVcpus; ++v) {
        std::vector<ScriptOp> ops;
        for (unsigned i = 0; i < kSlots; ++i) {
            ops.push_back(ScriptOp::write(device_page(i) + 8 * v, 4, 0x1000 + v));
            ops.push_back(ScriptOp::read(device_page(i) + 8 * v, 8));
            ops.push_back(ScriptOp::read(ram_page(i) + 0x10 + 8 * v, 8));
        }
        ops.push_back(ScriptOp::read(kStable, 4));
        test::write_script(vm, test::kScripts + v * kPageSize, ops);
        vcpus.push_back(&gvm->add_vcpu({test::kScripts + v * kPageSize, kRepeat}));
    }
    constexpr std::uint64_t kOps = kSlots * 3 + 1;
    constexpr std::uint64_t kDeviceOps = kSlots * 2 + 1;

    std::atomic<bool> stop{false};
    std::atomic<unsigned> finished{0};
    std::uint64_t runs[kVcpus] = {}, exits[kVcpus] = {};
    std::vector<std::thread> threads;
    for (unsigned v = 0; v < kVcpus; ++v) {
        threads.emplace_back([&, v] {
            Vcpu& vcpu = *vcpus[v];
            const GuestAddr script = test::kScripts + v * kPageSize;
            while (!stop.load()) {
                gvm->reset(vcpu, {script, kRepeat});
                const std::uint64_t dev0 = dev_faults[v].load(), ud0 = unhandled_dev[v].load(),
                                    ur0 = unhandled_ram[v].load();
                auto result = vcpu.run();
                if (!result || result->reason != StopReason::halted) {
                    violations.add("vCPU " + std::to_string(v) + " run " + std::to_string(runs[v]) + ": " +
                                   (result ? result->message : result.error().message));
                    break;
                }
                const std::uint64_t dev = dev_faults[v].load() - dev0, ud = unhandled_dev[v].load() - ud0,
                                    ur = unhandled_ram[v].load() - ur0;
                if (dev + ud != kDeviceOps * kRepeat)
                    violations.add("vCPU " + std::to_string(v) + ": " + std::to_string(dev + ud) +
                                   " device faults dispatched for " + std::to_string(kDeviceOps * kRepeat) +
                                   " device accesses");
                // An exit for a RAM page whose slot appeared meanwhile completes
                // from memory in dispatch, without a fault: exits may exceed
                // faults by at most the RAM reads, never the other way round.
                if (result->exits.mmio < dev + ud + ur || result->exits.mmio > dev + ud + ur + kSlots * kRepeat)
                    violations.add("vCPU " + std::to_string(v) + ": " + std::to_string(result->exits.mmio) +
                                   " MMIO exits but " + std::to_string(dev + ud + ur) + " faults dispatched");
                if (test::x86_registers(vcpu).rax != kOps * kRepeat)
                    violations.add("guest performed the wrong number of ops");
                exits[v] += result->exits.mmio;
                const auto back = test::read_script(vm, script, kOps);
                for (unsigned i = 0; i < kSlots; ++i) {
                    const std::uint64_t dev_value = back[3 * i + 1].value, ram_value = back[3 * i + 2].value;
                    const std::uint64_t g = (dev_value >> 8) & 0xfffff;
                    const bool dev_ok = dev_value == kUnhandledData || (dev_value == tag(g) && g < kMaxGenerations &&
                                                                        gen_slot[g] == static_cast<int>(i));
                    if (!dev_ok)
                        violations.add("slot " + std::to_string(i) + " read a value no reservation of it gave");
                    if (ram_value != kPattern && ram_value != kUnhandledData)
                        violations.add("RAM page " + std::to_string(i) +
                                       " read neither its frame nor the unhandled value");
                }
                ++runs[v];
            }
            ++finished;
        });
    }

    // Control thread (this one): reserve and free devices, map and free the
    // RAM pages beside them, for the test's duration.
    const auto start = std::chrono::steady_clock::now();
    const auto deadline = start + stress_duration();
    std::mt19937_64 rng(7);
    std::optional<ReservationId> dev_live[kSlots], ram_live[kSlots];
    std::uint64_t dev_gen[kSlots] = {};
    std::uint64_t generations = 0, map_changes = 0, slot_changes = 0;
    auto free_device = [&](unsigned i) {
        auto ok = vm.free(*dev_live[i]);
        freed[dev_gen[i]].store(true);
        if (!ok) violations.add("free: " + ok.error().message);
        dev_live[i].reset();
        ++map_changes;
    };
    while (std::chrono::steady_clock::now() < deadline && finished.load() == 0) {
        const unsigned i = rng() % kSlots;
        if (rng() % 2 == 0) {
            if (dev_live[i]) {
                free_device(i);
            } else if (generations < kMaxGenerations) {
                const std::uint64_t g = generations++;
                gen_slot[g] = static_cast<int>(i);
                auto id = vm.reserve_at(device_page(i), 0x100, device_handler(g, i));
                if (!id) violations.add("reserve_at: " + id.error().message);
                else dev_live[i] = *id, dev_gen[i] = g, ++map_changes;
            }
        } else if (ram_live[i]) {
            if (!vm.free(*ram_live[i])) violations.add("free of RAM page failed");
            ram_live[i].reset();
            ++map_changes, ++slot_changes;
        } else {
            // Until its frame is mapped, accesses pass on to the unhandled handler.
            auto id = vm.reserve_at(ram_page(i), kPageSize, [](Fault&) { return FaultResult::unhandled; });
            if (!id) {
                violations.add("reserve_at RAM: " + id.error().message);
                continue;
            }
            const Cap frame[] = {ram_frames[i]};
            if (!vm.map_frames(*id, frame, kPageBits)) violations.add("map_frames failed");
            ram_live[i] = *id;
            map_changes += 2, ++slot_changes;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
    stop = true;
    const auto watchdog = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (finished.load() < kVcpus && std::chrono::steady_clock::now() < watchdog)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (finished.load() < kVcpus) {
        violations.add("vCPU threads did not stop in time");
        for (Vcpu* v : vcpus) v->request_stop();
    }
    for (auto& t : threads) t.join();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (unsigned i = 0; i < kSlots; ++i) {
        if (dev_live[i]) free_device(i);
        if (ram_live[i]) (void)vm.free(*ram_live[i]);
    }

    std::uint64_t faults = stable_faults.load(), total_exits = 0, total_runs = 0;
    for (unsigned v = 0; v < kVcpus; ++v) {
        faults += dev_faults[v].load() + unhandled_dev[v].load() + unhandled_ram[v].load();
        total_exits += exits[v];
        total_runs += runs[v];
    }
    faults -= stable_faults.load();  // counted in dev_faults too
    report("kvm stress", {{"duration_s", seconds},
                          {"guest_runs", double(total_runs)},
                          {"mmio_exits", double(total_exits)},
                          {"faults_dispatched", double(faults)},
                          {"device_reservations", double(generations)},
                          {"map_changes", double(map_changes)},
                          {"memslot_changes", double(slot_changes)}});
    EXPECT_EQ(violations.count(), 0u) << violations.text();
    EXPECT_GE(total_runs, 2u);
    EXPECT_GT(map_changes, 20u);
    EXPECT_EQ(kvm::memslot_usage(vm.backend())->in_use, 1u) << "only guest RAM's slot is left";
}

}  // namespace
}  // namespace guestmem::stress
