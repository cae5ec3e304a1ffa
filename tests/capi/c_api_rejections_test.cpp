// SPDX-License-Identifier: BSD-2-Clause
// Every invalid argument of every C function: the failure value, a log line
// naming the function and the reason, and no change to any state (the same
// things can still be reserved, mapped and accessed afterwards).
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "capi_support.hpp"
#include "guestmem/sim.hpp"

namespace guestmem {
namespace {

using test::CFrames;
using test::CLogCapture;
using test::CVm;

constexpr uintptr_t kPool = 0x4000'0000;
constexpr uintptr_t kDev = 0x1000;
constexpr uintptr_t kRam = 0x20'0000;     // 8 KiB, unmapped, 2 MiB aligned
constexpr uintptr_t kMapped = 0x30'0000;  // 4 KiB, mapped
constexpr uint64_t kIp = 0x1234'0000;
constexpr uintptr_t kSentinel = 0x5e5e'5e5e;

struct Counter {
    int calls = 0;
};

memory_fault_result_t device(vm_t*, vm_vcpu_t* vcpu, uintptr_t, size_t, void* cookie) {
    static_cast<Counter*>(cookie)->calls++;
    if (is_vcpu_read_fault(vcpu)) set_vcpu_fault_data(vcpu, 0xd);
    return FAULT_HANDLED;
}

/// The state every row starts from and must leave untouched.
struct Fx {
    CVm c;              // initialised, with everything below
    CVm other;          // initialised, owns `foreign`
    CVm uninit{false};  // vm_memory_init not called
    CFrames frames;
    Counter dev_calls, unhandled_calls, other_calls;
    vm_memory_reservation_t* dev = nullptr;
    vm_memory_reservation_t* ram = nullptr;
    vm_memory_reservation_t* mapped = nullptr;
    vm_memory_reservation_t* anon = nullptr;
    vm_memory_reservation_t* freed = nullptr;
    vm_memory_reservation_t* foreign = nullptr;
    vm_memory_reservation_t* forged = reinterpret_cast<vm_memory_reservation_t*>(uintptr_t{0x7777'7770});
    vm_t* bogus_vm = reinterpret_cast<vm_t*>(&bogus_storage);
    vm_t* dead_vm = nullptr;
    vm_memory_reservation_t* dead_vms_handle = nullptr;  // a reservation of dead_vm
    seL4_CPtr f0 = 0, f1 = 0, large = 0, huge = 0, dead_cap = 0;
    seL4_CPtr never_issued = 0x7fff'ffff'ffffull;
    int bogus_storage = 0;

    /// Builds the state (a function, not the constructor, so that it can ASSERT).
    void build() {
        ASSERT_EQ(vm_register_unhandled_mem_fault_callback(c.vm, device, &unhandled_calls), 0);
        dev = vm_reserve_memory_at(c.vm, kDev, 0x100, device, &dev_calls);
        ram = vm_reserve_memory_at(c.vm, kRam, 0x2000, device, &dev_calls);
        mapped = vm_reserve_memory_at(c.vm, kMapped, 0x1000, device, &dev_calls);
        ASSERT_EQ(vm_memory_make_anon(c.vm, kPool, 0x10'0000), 0);
        uintptr_t at = 0;
        anon = vm_reserve_anon_memory(c.vm, 0x2000, 0, device, &dev_calls, &at);
        ASSERT_EQ(at, kPool);
        freed = vm_reserve_memory_at(c.vm, 0x6000, 0x10, device, &dev_calls);
        ASSERT_EQ(vm_free_reserved_memory(c.vm, freed), 0);
        foreign = vm_reserve_memory_at(other.vm, kDev, 0x10, device, &other_calls);
        ASSERT_TRUE(dev && ram && mapped && anon && foreign);
        f0 = frames.alloc();
        f1 = frames.alloc();
        large = frames.alloc(seL4_LargePageBits);
        huge = frames.alloc(seL4_HugePageBits);
        const seL4_CPtr m = frames.alloc();
        test::store(test::frame_bytes(m), 4, 0xaabbccdd);
        seL4_CPtr one[] = {m};
        ASSERT_EQ(vm_map_reservation_frames(c.vm, mapped, one, 1, seL4_PageBits), 0);
        dead_cap = frames.alloc();
        ASSERT_EQ(frames.remove(dead_cap), 0);
        ASSERT_TRUE(sim::set_instruction_pointer(*capi::live_vcpu(c.vcpu), kIp));
        dead_vm = vm_create(VM_BACKEND_SIM);  // last, so no later VM can take its address
        ASSERT_EQ(vm_memory_init(dead_vm), 0);
        dead_vms_handle = vm_reserve_memory_at(dead_vm, 0x9000, 0x10, device, &other_calls);
        ASSERT_NE(dead_vms_handle, nullptr);
        vm_destroy(dead_vm);
    }

    /// Everything observable, as text (so a failure shows what changed).
    std::string fingerprint() const {
        std::ostringstream out;
        out << std::hex;
        auto describe = [&](const char* name, const Vm& vm) {
            out << name << ": init=" << vm.memory_initialized() << " deferred=" << vm.deferred_mapping()
                << " vcpus=" << vm.vcpu_count() << "\n";
            for (const auto& r : vm.reservations()) {
                out << "  res " << static_cast<uint64_t>(r.id) << " [" << r.range.base << "+" << r.range.size
                    << ") anon=" << r.anonymous << " mapped=" << r.mapped << " deferred=" << r.deferred
                    << " frames=" << r.frames;
                for (const auto& run : r.runs) {
                    out << " run(" << run.gpa << "+" << run.size << " host=" << static_cast<void*>(run.host)
                        << " rights=" << static_cast<int>(run.rights) << ")";
                }
                out << "\n";
            }
            for (const auto& p : vm.pools())
                out << "  pool [" << p.range.base << "+" << p.range.size << ") free=" << p.free_bytes << "\n";
        };
        describe("c", c.core());
        describe("other", other.core());
        describe("uninit", uninit.core());
        const auto& caps = *capi::process_capabilities();
        out << "caps=" << caps.live_capabilities() << " bytes=" << caps.frame_bytes_in_use() << "\n";
        out << "ip=" << *sim::instruction_pointer(*capi::live_vcpu(c.vcpu)) << "\n";
        return out.str();
    }

    /// The things a rejected call must not have broken, done for real.
    void still_works() {
        const int dev_before = dev_calls.calls;
        EXPECT_EQ(c.read_value(kDev + 4, 4), 0xdu);
        EXPECT_EQ(dev_calls.calls, dev_before + 1) << "the device still traps into its callback";
        const int unhandled_before = unhandled_calls.calls;
        EXPECT_EQ(c.read_value(0x7000'0000, 4), 0xdu);
        EXPECT_EQ(unhandled_calls.calls, unhandled_before + 1) << "the unhandled callback is unchanged";
        EXPECT_EQ(c.read_value(kMapped, 4), 0xaabbccddu) << "the mapped frame is still mapped";

        seL4_CPtr pair[] = {f0, f1};
        ASSERT_EQ(vm_map_reservation_frames(c.vm, ram, pair, 2, seL4_PageBits), 0) << "ram can still be mapped";
        ASSERT_EQ(c.write(kRam + 0x1ff8, 8, 0x0102030405060708ull), 0);
        EXPECT_EQ(test::load(test::frame_bytes(f1) + 0xff8, 8), 0x0102030405060708ull);
        EXPECT_EQ(dev_calls.calls, dev_before + 1);

        uintptr_t at = 0;
        EXPECT_NE(vm_reserve_anon_memory(c.vm, 0x1000, 0x1000, device, &dev_calls, &at), nullptr);
        EXPECT_EQ(at, kPool + 0x2000) << "the pool is as it was";
        EXPECT_NE(vm_reserve_memory_at(c.vm, 0x5000, 0x10, device, &dev_calls), nullptr)
            << "a valid reservation can still be made";

        uintptr_t base = 0;
        size_t size = 0;
        vm_get_reservation_memory_region(foreign, &base, &size);
        EXPECT_EQ(base, kDev);
        EXPECT_EQ(size, 0x10u);
        EXPECT_EQ(vm_memory_init(uninit.vm), 0) << "the uninitialised VM can still be initialised";
        EXPECT_NE(vmm_frame_vaddr(f0), nullptr);
    }
};

int g_good_iterator_calls = 0;  // a rejected call must never run the iterator

vm_frame_t make_frame(seL4_CPtr cap, uintptr_t vaddr, size_t bits) {
    vm_frame_t f;
    f.cptr = cap;
    f.rights = seL4_AllRights;
    f.vaddr = vaddr;
    f.size_bits = bits;
    return f;
}

/// Iterators whose first frame is good (f0) and whose second is bad in one way:
/// the failure happens midway, after a frame was visited.
struct BadIterator {
    seL4_CPtr good;
    vm_frame_t (*second)(uintptr_t addr, const BadIterator&);
    seL4_CPtr bad_cap;
};

vm_frame_t run_bad_iterator(uintptr_t addr, void* cookie) {
    const auto* it = static_cast<const BadIterator*>(cookie);
    if (addr == kRam) return make_frame(it->good, addr, seL4_PageBits);
    return it->second(addr, *it);
}

vm_frame_t good_iterator(uintptr_t addr, void*) {
    ++g_good_iterator_calls;
    return make_frame(seL4_CapNull, addr, seL4_PageBits);
}

struct Row {
    std::string name;                  // test name suffix
    const char* function;              // the C function the log line must name
    const char* reason;                // part of the logged reason
    std::function<bool(Fx&)> rejects;  // true when the call returned its failure value and wrote no output
};

std::vector<Row> rows() {
    std::vector<Row> r;
    auto add = [&](std::string name, const char* function, const char* reason, std::function<bool(Fx&)> rejects) {
        r.push_back(Row{name, function, reason, std::move(rejects)});
    };
    constexpr const char* kNull = "vm is NULL";
    constexpr const char* kNotLive = "not a live VM handle";
    constexpr const char* kNotInit = "not initialised";

    // vm_memory_init
    add("init_null_vm", "vm_memory_init", kNull, [](Fx&) { return vm_memory_init(nullptr) == -1; });
    add("init_bogus_vm", "vm_memory_init", kNotLive, [](Fx& f) { return vm_memory_init(f.bogus_vm) == -1; });
    add("init_destroyed_vm", "vm_memory_init", kNotLive, [](Fx& f) { return vm_memory_init(f.dead_vm) == -1; });
    add("init_twice", "vm_memory_init", "already initialised", [](Fx& f) { return vm_memory_init(f.c.vm) == -1; });

    // vm_reserve_memory_at
    auto reserve = [](vm_t* vm, uintptr_t addr, size_t size, memory_fault_callback_fn cb, Fx& f) {
        return vm_reserve_memory_at(vm, addr, size, cb, &f.dev_calls) == nullptr;
    };
    add("reserve_null_vm", "vm_reserve_memory_at", kNull,
        [=](Fx& f) { return reserve(nullptr, 0x5000, 0x10, device, f); });
    add("reserve_bogus_vm", "vm_reserve_memory_at", kNotLive,
        [=](Fx& f) { return reserve(f.bogus_vm, 0x5000, 0x10, device, f); });
    add("reserve_destroyed_vm", "vm_reserve_memory_at", kNotLive,
        [=](Fx& f) { return reserve(f.dead_vm, 0x5000, 0x10, device, f); });
    add("reserve_uninitialised_vm", "vm_reserve_memory_at", kNotInit,
        [=](Fx& f) { return reserve(f.uninit.vm, 0x5000, 0x10, device, f); });
    add("reserve_null_callback", "vm_reserve_memory_at", "callback is NULL",
        [=](Fx& f) { return reserve(f.c.vm, 0x5000, 0x10, nullptr, f); });
    add("reserve_size_zero", "vm_reserve_memory_at", "size is 0",
        [=](Fx& f) { return reserve(f.c.vm, 0x5000, 0, device, f); });
    add("reserve_wraps", "vm_reserve_memory_at", "wraps",
        [=](Fx& f) { return reserve(f.c.vm, ~uintptr_t{0} - 0xf, 0x20, device, f); });
    add("reserve_wraps_by_one", "vm_reserve_memory_at", "wraps",
        [=](Fx& f) { return reserve(f.c.vm, ~uintptr_t{0} - 0xf, 0x11, device, f); });
    add("reserve_overlaps_reservation", "vm_reserve_memory_at", "overlaps a reservation",
        [=](Fx& f) { return reserve(f.c.vm, kDev + 0xff, 1, device, f); });
    add("reserve_overlaps_mapped", "vm_reserve_memory_at", "overlaps a reservation",
        [=](Fx& f) { return reserve(f.c.vm, kMapped - 0x10, 0x20, device, f); });
    add("reserve_overlaps_pool", "vm_reserve_memory_at", "overlaps the anonymous pool",
        [=](Fx& f) { return reserve(f.c.vm, kPool + 0x10'0000 - 1, 0x10, device, f); });

    // vm_reserve_anon_memory: *addr is written only on success
    auto anon = [](vm_t* vm, size_t size, size_t align, memory_fault_callback_fn cb, Fx& f, bool with_addr = true) {
        uintptr_t addr = kSentinel;
        const bool null = vm_reserve_anon_memory(vm, size, align, cb, &f.dev_calls, with_addr ? &addr : nullptr) ==
                          nullptr;
        return null && addr == kSentinel;
    };
    add("anon_null_vm", "vm_reserve_anon_memory", kNull, [=](Fx& f) { return anon(nullptr, 0x1000, 0, device, f); });
    add("anon_bogus_vm", "vm_reserve_anon_memory", kNotLive,
        [=](Fx& f) { return anon(f.bogus_vm, 0x1000, 0, device, f); });
    add("anon_uninitialised_vm", "vm_reserve_anon_memory", kNotInit,
        [=](Fx& f) { return anon(f.uninit.vm, 0x1000, 0, device, f); });
    add("anon_null_callback", "vm_reserve_anon_memory", "callback is NULL",
        [=](Fx& f) { return anon(f.c.vm, 0x1000, 0, nullptr, f); });
    add("anon_null_addr", "vm_reserve_anon_memory", "addr",
        [=](Fx& f) { return anon(f.c.vm, 0x1000, 0, device, f, false); });
    add("anon_size_zero", "vm_reserve_anon_memory", "size is 0", [=](Fx& f) { return anon(f.c.vm, 0, 0, device, f); });
    add("anon_size_huge", "vm_reserve_anon_memory", "too large",
        [=](Fx& f) { return anon(f.c.vm, ~size_t{0}, 0, device, f); });
    add("anon_align_3", "vm_reserve_anon_memory", "not a power of two",
        [=](Fx& f) { return anon(f.c.vm, 0x1000, 3, device, f); });
    add("anon_align_0x3000", "vm_reserve_anon_memory", "not a power of two",
        [=](Fx& f) { return anon(f.c.vm, 0x1000, 0x3000, device, f); });
    add("anon_no_room", "vm_reserve_anon_memory", "no anonymous pool has",
        [=](Fx& f) { return anon(f.c.vm, 0x10'0000, 0, device, f); });
    add("anon_no_room_at_alignment", "vm_reserve_anon_memory", "no anonymous pool has",
        [=](Fx& f) { return anon(f.c.vm, 0x1000, 0x20'0000, device, f); });
    add("anon_no_pool", "vm_reserve_anon_memory", "no anonymous pool",
        [=](Fx& f) { return anon(f.other.vm, 0x1000, 0, device, f); });

    // vm_memory_make_anon
    auto make_anon = [](vm_t* vm, uintptr_t addr, size_t size) { return vm_memory_make_anon(vm, addr, size) == -1; };
    add("make_anon_null_vm", "vm_memory_make_anon", kNull,
        [=](Fx&) { return make_anon(nullptr, 0x8000'0000, 0x1000); });
    add("make_anon_bogus_vm", "vm_memory_make_anon", kNotLive,
        [=](Fx& f) { return make_anon(f.bogus_vm, 0x8000'0000, 0x1000); });
    add("make_anon_uninitialised_vm", "vm_memory_make_anon", kNotInit,
        [=](Fx& f) { return make_anon(f.uninit.vm, 0x8000'0000, 0x1000); });
    add("make_anon_size_zero", "vm_memory_make_anon", "size is 0",
        [=](Fx& f) { return make_anon(f.c.vm, 0x8000'0000, 0); });
    add("make_anon_unaligned_addr", "vm_memory_make_anon", "page aligned",
        [=](Fx& f) { return make_anon(f.c.vm, 0x8000'0800, 0x1000); });
    add("make_anon_unaligned_size", "vm_memory_make_anon", "page aligned",
        [=](Fx& f) { return make_anon(f.c.vm, 0x8000'0000, 0x1800); });
    add("make_anon_wraps", "vm_memory_make_anon", "wraps",
        [=](Fx& f) { return make_anon(f.c.vm, ~uintptr_t{0} - 0xfff, 0x2000); });
    add("make_anon_overlaps_pool", "vm_memory_make_anon", "overlaps the anonymous pool",
        [=](Fx& f) { return make_anon(f.c.vm, kPool + 0xf'f000, 0x2000); });
    add("make_anon_overlaps_reservation", "vm_memory_make_anon", "overlaps a reservation",
        [=](Fx& f) { return make_anon(f.c.vm, 0, 0x2000); });

    // vm_free_reserved_memory
    add("free_null_vm", "vm_free_reserved_memory", kNull,
        [](Fx& f) { return vm_free_reserved_memory(nullptr, f.dev) == -1; });
    add("free_bogus_vm", "vm_free_reserved_memory", kNotLive,
        [](Fx& f) { return vm_free_reserved_memory(f.bogus_vm, f.dev) == -1; });
    add("free_null_reservation", "vm_free_reserved_memory", "reservation is NULL",
        [](Fx& f) { return vm_free_reserved_memory(f.c.vm, nullptr) == -1; });
    add("free_already_freed", "vm_free_reserved_memory", "unknown or already freed",
        [](Fx& f) { return vm_free_reserved_memory(f.c.vm, f.freed) == -1; });
    add("free_forged", "vm_free_reserved_memory", "unknown or already freed",
        [](Fx& f) { return vm_free_reserved_memory(f.c.vm, f.forged) == -1; });
    add("free_other_vms", "vm_free_reserved_memory", "another VM",
        [](Fx& f) { return vm_free_reserved_memory(f.c.vm, f.foreign) == -1; });
    add("free_handle_of_destroyed_vm", "vm_free_reserved_memory", "unknown or already freed",
        [](Fx& f) { return vm_free_reserved_memory(f.c.vm, f.dead_vms_handle) == -1; });
    add("free_via_uninitialised_vm", "vm_free_reserved_memory", "another VM",
        [](Fx& f) { return vm_free_reserved_memory(f.uninit.vm, f.foreign) == -1; });

    // vm_map_reservation
    add("map_null_vm", "vm_map_reservation", kNull,
        [](Fx& f) { return vm_map_reservation(nullptr, f.ram, good_iterator, nullptr) == -1; });
    add("map_bogus_vm", "vm_map_reservation", kNotLive,
        [](Fx& f) { return vm_map_reservation(f.bogus_vm, f.ram, good_iterator, nullptr) == -1; });
    add("map_null_reservation", "vm_map_reservation", "reservation is NULL",
        [](Fx& f) { return vm_map_reservation(f.c.vm, nullptr, good_iterator, nullptr) == -1; });
    add("map_freed", "vm_map_reservation", "unknown or already freed",
        [](Fx& f) { return vm_map_reservation(f.c.vm, f.freed, good_iterator, nullptr) == -1; });
    add("map_forged", "vm_map_reservation", "unknown or already freed",
        [](Fx& f) { return vm_map_reservation(f.c.vm, f.forged, good_iterator, nullptr) == -1; });
    add("map_other_vms", "vm_map_reservation", "another VM",
        [](Fx& f) { return vm_map_reservation(f.c.vm, f.foreign, good_iterator, nullptr) == -1; });
    add("map_null_iterator", "vm_map_reservation", "iterator is NULL",
        [](Fx& f) { return vm_map_reservation(f.c.vm, f.ram, nullptr, nullptr) == -1; });
    add("map_twice", "vm_map_reservation", "already mapped",
        [](Fx& f) { return vm_map_reservation(f.c.vm, f.mapped, good_iterator, nullptr) == -1; });
    struct BadCase {
        const char* name;
        const char* reason;
        vm_frame_t (*second)(uintptr_t, const BadIterator&);
        seL4_CPtr Fx::*cap;
    };
    const BadCase bad_cases[] = {
        {"map_null_cap", "capability is null",
         [](uintptr_t a, const BadIterator&) { return make_frame(seL4_CapNull, a, seL4_PageBits); }, nullptr},
        {"map_deleted_cap", "is not live",
         [](uintptr_t a, const BadIterator& it) { return make_frame(it.bad_cap, a, seL4_PageBits); }, &Fx::dead_cap},
        {"map_never_issued_cap", "is not live",
         [](uintptr_t a, const BadIterator& it) { return make_frame(it.bad_cap, a, seL4_PageBits); },
         &Fx::never_issued},
        {"map_size_bits_13", "is not 12, 21 or 30",
         [](uintptr_t a, const BadIterator& it) { return make_frame(it.bad_cap, a, 13); }, &Fx::f1},
        {"map_size_bits_0", "is not 12, 21 or 30",
         [](uintptr_t a, const BadIterator& it) { return make_frame(it.bad_cap, a, 0); }, &Fx::f1},
        {"map_size_bits_not_the_frames", "names a frame of 4096 bytes",
         [](uintptr_t a, const BadIterator& it) { return make_frame(it.bad_cap, a, seL4_LargePageBits); }, &Fx::f1},
        {"map_size_bits_not_the_frames_2m", "names a frame of 2097152 bytes",
         [](uintptr_t a, const BadIterator& it) { return make_frame(it.bad_cap, a, seL4_PageBits); }, &Fx::large},
        {"map_vaddr_mismatch", "frame vaddr is",
         [](uintptr_t a, const BadIterator& it) { return make_frame(it.bad_cap, a + 0x1000, seL4_PageBits); }, &Fx::f1},
        {"map_vaddr_repeated", "frame vaddr is",
         [](uintptr_t, const BadIterator& it) { return make_frame(it.bad_cap, kRam, seL4_PageBits); }, &Fx::f1},
        {"map_unaligned", "not aligned",
         [](uintptr_t a, const BadIterator& it) { return make_frame(it.bad_cap, a, seL4_LargePageBits); }, &Fx::large},
        {"map_unaligned_huge", "not aligned",
         [](uintptr_t a, const BadIterator& it) { return make_frame(it.bad_cap, a, seL4_HugePageBits); }, &Fx::huge},
    };
    for (const BadCase& b : bad_cases) {
        add(b.name, "vm_map_reservation", b.reason, [b](Fx& f) {
            BadIterator it{f.f0, b.second, b.cap ? f.*(b.cap) : seL4_CapNull};
            return vm_map_reservation(f.c.vm, f.ram, run_bad_iterator, &it) == -1;
        });
    }
    add("map_past_the_end", "vm_map_reservation", "ends past the reservation", [](Fx& f) {
        // The first frame itself is too large: 2 MiB at the 2 MiB-aligned start of 8 KiB.
        BadIterator it{f.large, nullptr, seL4_CapNull};
        return vm_map_reservation(
                   f.c.vm, f.ram,
                   [](uintptr_t a, void* cookie) {
                       return make_frame(static_cast<BadIterator*>(cookie)->good, a, seL4_LargePageBits);
                   },
                   &it) == -1;
    });

    // vm_map_reservation_frames
    auto map_frames = [](Fx&, vm_t* vm, vm_memory_reservation_t* res, std::vector<seL4_CPtr> caps, size_t n,
                         size_t bits) {
        return vm_map_reservation_frames(vm, res, caps.empty() ? nullptr : caps.data(), n, bits) == -1;
    };
    add("frames_null_vm", "vm_map_reservation_frames", kNull, [=](Fx& f) {
        return map_frames(f, nullptr, f.ram, {f.f0, f.f1}, 2, 12);
    });
    add("frames_bogus_vm", "vm_map_reservation_frames", kNotLive, [=](Fx& f) {
        return map_frames(f, f.bogus_vm, f.ram, {f.f0, f.f1}, 2, 12);
    });
    add("frames_null_reservation", "vm_map_reservation_frames", "reservation is NULL", [=](Fx& f) {
        return map_frames(f, f.c.vm, nullptr, {f.f0, f.f1}, 2, 12);
    });
    add("frames_freed", "vm_map_reservation_frames", "unknown or already freed",
        [=](Fx& f) { return map_frames(f, f.c.vm, f.freed, {f.f0}, 1, 12); });
    add("frames_other_vms", "vm_map_reservation_frames", "another VM",
        [=](Fx& f) { return map_frames(f, f.c.vm, f.foreign, {f.f0}, 1, 12); });
    add("frames_null_array", "vm_map_reservation_frames", "frames is NULL",
        [=](Fx& f) { return map_frames(f, f.c.vm, f.ram, {}, 2, 12); });
    add("frames_null_array_zero_count", "vm_map_reservation_frames", "do not cover",
        [=](Fx& f) { return map_frames(f, f.c.vm, f.ram, {}, 0, 12); });
    add("frames_too_few", "vm_map_reservation_frames", "do not cover",
        [=](Fx& f) { return map_frames(f, f.c.vm, f.ram, {f.f0}, 1, 12); });
    add("frames_too_many", "vm_map_reservation_frames", "do not cover", [=](Fx& f) {
        return map_frames(f, f.c.vm, f.ram, {f.f0, f.f1, f.f0}, 3, 12);
    });
    add("frames_absurd_count", "vm_map_reservation_frames", "do not cover",
        [=](Fx& f) { return map_frames(f, f.c.vm, f.ram, {f.f0}, ~size_t{0}, 12); });
    add("frames_size_bits_13", "vm_map_reservation_frames", "is not 12, 21 or 30", [=](Fx& f) {
        return map_frames(f, f.c.vm, f.ram, {f.f0, f.f1}, 2, 13);
    });
    add("frames_size_bits_larger", "vm_map_reservation_frames", "do not cover",
        [=](Fx& f) { return map_frames(f, f.c.vm, f.ram, {f.large}, 1, 21); });
    add("frames_deleted_cap", "vm_map_reservation_frames", "is not live", [=](Fx& f) {
        return map_frames(f, f.c.vm, f.ram, {f.f0, f.dead_cap}, 2, 12);
    });
    add("frames_null_cap", "vm_map_reservation_frames", "capability is null", [=](Fx& f) {
        return map_frames(f, f.c.vm, f.ram, {f.f0, seL4_CapNull}, 2, 12);
    });
    add("frames_wrong_frame_size", "vm_map_reservation_frames", "names a frame of 2097152 bytes", [=](Fx& f) {
        return map_frames(f, f.c.vm, f.ram, {f.f0, f.large}, 2, 12);
    });
    add("frames_twice", "vm_map_reservation_frames", "already mapped",
        [=](Fx& f) { return map_frames(f, f.c.vm, f.mapped, {f.f0}, 1, 12); });

    // vm_get_reservation_memory_region: writes nothing on error
    auto region = [](vm_memory_reservation_t* res, bool with_addr, bool with_size) {
        uintptr_t addr = kSentinel;
        size_t size = kSentinel;
        vm_get_reservation_memory_region(res, with_addr ? &addr : nullptr, with_size ? &size : nullptr);
        return addr == kSentinel && size == kSentinel;
    };
    add("region_null_reservation", "vm_get_reservation_memory_region", "reservation is NULL",
        [=](Fx&) { return region(nullptr, true, true); });
    add("region_freed", "vm_get_reservation_memory_region", "unknown or already freed",
        [=](Fx& f) { return region(f.freed, true, true); });
    add("region_forged", "vm_get_reservation_memory_region", "unknown or already freed",
        [=](Fx& f) { return region(f.forged, true, true); });
    add("region_handle_of_destroyed_vm", "vm_get_reservation_memory_region", "unknown or already freed",
        [=](Fx& f) { return region(f.dead_vms_handle, true, true); });
    add("region_null_addr", "vm_get_reservation_memory_region", "is NULL",
        [=](Fx& f) { return region(f.dev, false, true); });
    add("region_null_size", "vm_get_reservation_memory_region", "is NULL",
        [=](Fx& f) { return region(f.dev, true, false); });

    // Platform part
    add("create_unknown_backend", "vm_create", "unknown backend",
        [](Fx&) { return vm_create(static_cast<vm_backend_t>(7)) == nullptr; });
    add("destroy_null_vm", "vm_destroy", kNull, [](Fx&) {
        vm_destroy(nullptr);
        return true;
    });
    add("destroy_bogus_vm", "vm_destroy", kNotLive, [](Fx& f) {
        vm_destroy(f.bogus_vm);
        return true;
    });
    add("destroy_twice", "vm_destroy", kNotLive, [](Fx& f) {
        vm_destroy(f.dead_vm);
        return true;
    });
    add("vcpu_null_vm", "vm_create_vcpu", kNull, [](Fx&) { return vm_create_vcpu(nullptr, 0) == nullptr; });
    add("vcpu_bogus_vm", "vm_create_vcpu", kNotLive, [](Fx& f) { return vm_create_vcpu(f.bogus_vm, 0) == nullptr; });
    add("vcpu_destroyed_vm", "vm_create_vcpu", kNotLive, [](Fx& f) { return vm_create_vcpu(f.dead_vm, 0) == nullptr; });
    add("unhandled_null_vm", "vm_register_unhandled_mem_fault_callback", kNull,
        [](Fx& f) { return vm_register_unhandled_mem_fault_callback(nullptr, device, &f.dev_calls) == -1; });
    add("unhandled_bogus_vm", "vm_register_unhandled_mem_fault_callback", kNotLive,
        [](Fx& f) { return vm_register_unhandled_mem_fault_callback(f.bogus_vm, device, &f.dev_calls) == -1; });
    add("unhandled_null_callback", "vm_register_unhandled_mem_fault_callback", "callback is NULL",
        [](Fx& f) { return vm_register_unhandled_mem_fault_callback(f.c.vm, nullptr, nullptr) == -1; });
    add("deferred_null_vm", "vm_set_deferred_mapping", kNull, [](Fx&) {
        vm_set_deferred_mapping(nullptr, true);
        return true;
    });
    add("deferred_bogus_vm", "vm_set_deferred_mapping", kNotLive, [](Fx& f) {
        vm_set_deferred_mapping(f.bogus_vm, true);
        return true;
    });
    for (size_t bits : {size_t{0}, size_t{11}, size_t{13}, size_t{20}, size_t{22}, size_t{31}, size_t{64}}) {
        add("frame_alloc_bits_" + std::to_string(bits), "vmm_frame_alloc", "is not 12, 21 or 30",
            [bits](Fx&) { return vmm_frame_alloc(bits) == seL4_CapNull; });
    }
    add("cap_copy_null", "vmm_cap_copy", "is not live",
        [](Fx&) { return vmm_cap_copy(seL4_CapNull, seL4_AllRights) == seL4_CapNull; });
    add("cap_copy_deleted", "vmm_cap_copy", "is not live",
        [](Fx& f) { return vmm_cap_copy(f.dead_cap, seL4_CanRead) == seL4_CapNull; });
    add("cap_copy_never_issued", "vmm_cap_copy", "is not live",
        [](Fx& f) { return vmm_cap_copy(f.never_issued, seL4_CanRead) == seL4_CapNull; });
    add("cap_delete_null", "vmm_cap_delete", "is not live", [](Fx&) { return vmm_cap_delete(seL4_CapNull) == -1; });
    add("cap_delete_twice", "vmm_cap_delete", "is not live", [](Fx& f) { return vmm_cap_delete(f.dead_cap) == -1; });
    add("cap_delete_never_issued", "vmm_cap_delete", "is not live",
        [](Fx& f) { return vmm_cap_delete(f.never_issued) == -1; });
    add("frame_vaddr_null", "vmm_frame_vaddr", "is not live",
        [](Fx&) { return vmm_frame_vaddr(seL4_CapNull) == nullptr; });
    add("frame_vaddr_deleted", "vmm_frame_vaddr", "is not live",
        [](Fx& f) { return vmm_frame_vaddr(f.dead_cap) == nullptr; });

    // vm_sim_access: *data is left alone, the vCPU does not move
    auto access = [](vm_vcpu_t* vcpu, uintptr_t addr, size_t len, bool write, bool with_data) {
        uint64_t data = kSentinel;
        const bool failed = vm_sim_access(vcpu, addr, len, write, with_data ? &data : nullptr) == -1;
        return failed && data == kSentinel;
    };
    add("access_null_vcpu", "vm_sim_access", "vcpu is NULL",
        [=](Fx&) { return access(nullptr, kMapped, 4, false, true); });
    add("access_null_data", "vm_sim_access", "data is NULL",
        [=](Fx& f) { return access(f.c.vcpu, kMapped, 4, false, false); });
    add("access_null_data_write", "vm_sim_access", "data is NULL",
        [=](Fx& f) { return access(f.c.vcpu, kMapped, 4, true, false); });
    for (size_t len : {size_t{0}, size_t{3}, size_t{5}, size_t{16}}) {
        add("access_len_" + std::to_string(len), "vm_sim_access", "is not 1, 2, 4 or 8", [=](Fx& f) {
            return access(f.c.vcpu, kMapped, len, false, true) && access(f.c.vcpu, kMapped, len, true, true);
        });
    }
    return r;
}

class CApiRejection : public ::testing::TestWithParam<Row> {};

TEST_P(CApiRejection, FailsLogsAndChangesNothing) {
    const Row& row = GetParam();
    Fx f;
    f.build();
    if (HasFatalFailure()) return;
    const std::string before = f.fingerprint();
    const int dev_calls = f.dev_calls.calls, unhandled_calls = f.unhandled_calls.calls;
    const int iterator_calls = g_good_iterator_calls;
    {
        CLogCapture log;
        EXPECT_TRUE(row.rejects(f)) << "the call did not return its failure value, or wrote an output";
        EXPECT_TRUE(log.has_error(row.function, row.reason))
            << "expected \"" << row.function << ": ..." << row.reason << "...\"\n"
            << log.dump();
    }
    EXPECT_EQ(f.fingerprint(), before);
    EXPECT_EQ(f.dev_calls.calls, dev_calls) << "no callback ran";
    EXPECT_EQ(f.unhandled_calls.calls, unhandled_calls);
    EXPECT_EQ(g_good_iterator_calls, iterator_calls) << "no iterator ran";
    f.still_works();
}

INSTANTIATE_TEST_SUITE_P(EveryFunction, CApiRejection, ::testing::ValuesIn(rows()),
                         [](const auto& info) { return info.param.name; });

TEST(CApiRejections, CoverEveryFunctionOfTheInterface) {
    // A new function in the C interface needs rows here.
    std::set<std::string> covered;
    for (const Row& row : rows()) covered.insert(row.function);
    for (const char* function :
         {"vm_memory_init", "vm_reserve_memory_at", "vm_reserve_anon_memory", "vm_memory_make_anon",
          "vm_free_reserved_memory", "vm_map_reservation", "vm_map_reservation_frames",
          "vm_get_reservation_memory_region", "vm_create", "vm_destroy", "vm_create_vcpu",
          "vm_register_unhandled_mem_fault_callback", "vm_set_deferred_mapping", "vmm_frame_alloc", "vmm_cap_copy",
          "vmm_cap_delete", "vmm_frame_vaddr", "vm_sim_access"}) {
        EXPECT_EQ(covered.count(function), 1u) << function;
    }
}

}  // namespace
}  // namespace guestmem
