// SPDX-License-Identifier: BSD-2-Clause
// <sel4vm/guest_ram.h>: every function, including the cross-frame,
// cross-region and offset cases libsel4vm got wrong.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "sel4vm/guest_memory.h"
#include "sel4vm/guest_memory_helpers.h"
#include "sel4vm/guest_ram.h"
#include "sel4vm/guestmem.h"
#include "ram_test_support.hpp"

using guestmem::test::LogCapture;

namespace {

constexpr uintptr_t KiB = 1024, MiB = 1024 * KiB;

/// A sim VM through the C API, destroyed at the end of the test.
struct CVm {
    vm_t* vm = vm_create(VM_BACKEND_SIM);
    explicit CVm(bool init = true) {
        if (vm && init) {
            EXPECT_EQ(vm_memory_init(vm), 0);
        }
    }
    ~CVm() { vm_destroy(vm); }
    CVm(const CVm&) = delete;
    CVm& operator=(const CVm&) = delete;
};

std::vector<unsigned char> pattern(std::size_t n, unsigned seed) {
    std::vector<unsigned char> out(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<unsigned char>(i * 7 + seed + (i >> 12));
    return out;
}

struct Piece {
    uintptr_t guest_addr;
    size_t size;
    size_t offset;
};

int record_piece(vm_t*, uintptr_t guest_addr, void* vaddr, size_t size, size_t offset, void* cookie) {
    EXPECT_NE(vaddr, nullptr);
    static_cast<std::vector<Piece>*>(cookie)->push_back(Piece{guest_addr, size, offset});
    return 0;
}

/// RAM of `pages` 4 KiB frames at `base`, mapped in reverse allocation order
/// so that no two neighbours are contiguous in host memory.
void scattered_ram(vm_t* vm, uintptr_t base, size_t pages) {
    std::vector<seL4_CPtr> frames(pages);
    for (auto& f : frames) f = vmm_frame_alloc(seL4_PageBits);
    std::vector<seL4_CPtr> reversed(frames.rbegin(), frames.rend());
    struct Cookie {
        uintptr_t base;
        std::vector<seL4_CPtr>* frames;
    } cookie{base, &reversed};
    ASSERT_EQ(vm_ram_register_at_custom_iterator(
                  vm, base, pages * 4 * KiB,
                  [](uintptr_t addr, void* c) {
                      auto* k = static_cast<Cookie*>(c);
                      return vm_frame_t{(*k->frames)[(addr - k->base) >> 12], seL4_AllRights, addr, seL4_PageBits};
                  },
                  &cookie),
              0);
}

}  // namespace

TEST(RamCapi, CopyCallbacksHonourOffset) {
    unsigned char guest[16];
    for (int i = 0; i < 16; ++i) guest[i] = static_cast<unsigned char>(0xa0 + i);
    unsigned char buf[32] = {};
    ASSERT_EQ(vm_guest_ram_read_callback(nullptr, 0x1000, guest, 8, 20, buf), 0);
    EXPECT_EQ(buf[19], 0);
    EXPECT_EQ(buf[20], 0xa0);
    EXPECT_EQ(buf[27], 0xa7);
    EXPECT_EQ(buf[28], 0);

    unsigned char src[32];
    for (int i = 0; i < 32; ++i) src[i] = static_cast<unsigned char>(i);
    unsigned char dst[16] = {};
    ASSERT_EQ(vm_guest_ram_write_callback(nullptr, 0x1000, dst + 3, 5, 10, src), 0);
    EXPECT_EQ(dst[2], 0);
    EXPECT_EQ(dst[3], 10);
    EXPECT_EQ(dst[7], 14);
    EXPECT_EQ(dst[8], 0);

    LogCapture log;
    EXPECT_EQ(vm_guest_ram_read_callback(nullptr, 0, nullptr, 1, 0, buf), -1);
    EXPECT_TRUE(log.has_error_with({"vm_guest_ram_read_callback", "vaddr is NULL"}));
    EXPECT_EQ(vm_guest_ram_write_callback(nullptr, 0, dst, 1, 0, nullptr), -1);
    EXPECT_TRUE(log.has_error_with({"vm_guest_ram_write_callback", "buf is NULL"}));
}

TEST(RamCapi, TouchCopiesAcrossFramesAndRegions) {
    CVm c;
    ASSERT_NE(c.vm, nullptr);
    // Region 1: four scattered 4 KiB frames; region 2 right after it: a
    // 2 MiB-aligned registration of 2 MiB + 4 KiB (one 2 MiB and one 4 KiB
    // frame); region 3 right after that.
    scattered_ram(c.vm, 2 * MiB - 16 * KiB, 4);
    ASSERT_EQ(vm_ram_register_at(c.vm, 2 * MiB, 2 * MiB + 4 * KiB, false), 0);
    ASSERT_EQ(vm_ram_register_at(c.vm, 4 * MiB + 4 * KiB, 8 * KiB, true), 0);

    const uintptr_t start = 2 * MiB - 16 * KiB + 100;
    const size_t size = 16 * KiB - 100 + 2 * MiB + 4 * KiB + 8 * KiB - 50;
    auto data = pattern(size, 1);
    ASSERT_EQ(vm_ram_touch(c.vm, start, size, vm_guest_ram_write_callback, data.data()), 0);
    std::vector<unsigned char> back(size);
    ASSERT_EQ(vm_ram_touch(c.vm, start, size, vm_guest_ram_read_callback, back.data()), 0);
    EXPECT_TRUE(back == data) << "every piece must land at its offset";

    // The pieces: in order, contiguous, offsets from the start.
    std::vector<Piece> pieces;
    ASSERT_EQ(vm_ram_touch(c.vm, start, size, record_piece, &pieces), 0);
    ASSERT_GE(pieces.size(), 6u);
    size_t expected_offset = 0;
    for (const auto& p : pieces) {
        EXPECT_EQ(p.offset, expected_offset);
        EXPECT_EQ(p.guest_addr, start + p.offset);
        expected_offset += p.size;
    }
    EXPECT_EQ(expected_offset, size);

    // The guest sees the bytes, e.g. straddling two scattered frames (a guest
    // access may not cross reservations: that is the unhandled-fault path).
    vm_vcpu_t* vcpu = vm_create_vcpu(c.vm, 0);
    ASSERT_NE(vcpu, nullptr);
    uint64_t value = 0;
    ASSERT_EQ(vm_sim_access(vcpu, 2 * MiB - 8 * KiB - 4, 8, false, &value), 0);
    uint64_t expected;
    std::memcpy(&expected, data.data() + (2 * MiB - 8 * KiB - 4 - start), 8);
    EXPECT_EQ(value, expected);
}

TEST(RamCapi, TouchingForWritingDirtiesThePagesAndReadingDoesNot) {
    CVm c;
    ASSERT_NE(c.vm, nullptr);
    ASSERT_EQ(vm_ram_register_at(c.vm, 1 * MiB, 64 * KiB, false), 0);
    ASSERT_EQ(vm_dirty_tracking_start(c.vm), 0);
    std::vector<uint64_t> bits(1);
    auto dirty = [&] {
        EXPECT_EQ(vm_dirty_pages(c.vm, 1 * MiB, 64 * KiB, bits.data(), bits.size()), 0);
        return bits[0];
    };
    EXPECT_EQ(dirty(), 0u);
    auto data = pattern(8 * KiB, 3);
    // Pages 1 to 3: 8 KiB from 6 KiB in.
    ASSERT_EQ(vm_ram_touch(c.vm, 1 * MiB + 6 * KiB, data.size(), vm_guest_ram_write_callback, data.data()), 0);
    EXPECT_EQ(dirty(), 0b1110u);
    std::vector<unsigned char> back(data.size());
    ASSERT_EQ(vm_ram_touch(c.vm, 1 * MiB + 6 * KiB, back.size(), vm_guest_ram_read_callback, back.data()), 0);
    EXPECT_EQ(dirty(), 0u) << "the read callback writes nothing";
    // Any other callback may write: its pages count as written.
    std::vector<Piece> pieces;
    ASSERT_EQ(vm_ram_touch(c.vm, 1 * MiB + 40 * KiB, 4 * KiB, record_piece, &pieces), 0);
    EXPECT_EQ(dirty(), 1u << 10);
}

TEST(RamCapi, TouchChecksTheWholeRangeFirst) {
    CVm c;
    ASSERT_EQ(vm_ram_register_at(c.vm, 0x10000, 0x2000, false), 0);
    std::vector<Piece> pieces;
    LogCapture log;
    // 0x12000 is not mapped: no callback at all.
    EXPECT_EQ(vm_ram_touch(c.vm, 0x11000, 0x2000, record_piece, &pieces), -1);
    EXPECT_TRUE(pieces.empty());
    EXPECT_TRUE(log.has_error_with({"vm_ram_touch", "0x12000", "not in any reservation"}));
    // An emulated reservation without frames is not RAM either.
    ASSERT_NE(vm_reserve_memory_at(c.vm, 0x12000, 0x1000, default_error_fault_callback, nullptr), nullptr);
    EXPECT_EQ(vm_ram_touch(c.vm, 0x11000, 0x2000, record_piece, &pieces), -1);
    EXPECT_TRUE(pieces.empty());
    EXPECT_TRUE(log.has_error_with({"vm_ram_touch", "no readable frame"}));
}

TEST(RamCapi, TouchStopsWhenTheCallbackFails) {
    CVm c;
    scattered_ram(c.vm, 0x10000, 3);
    int calls = 0;
    LogCapture log;
    EXPECT_EQ(vm_ram_touch(
                  c.vm, 0x10000, 0x3000,
                  [](vm_t*, uintptr_t, void*, size_t, size_t, void* cookie) {
                      return ++*static_cast<int*>(cookie) == 2 ? -5 : 0;
                  },
                  &calls),
              -1);
    EXPECT_EQ(calls, 2);
    EXPECT_TRUE(log.has_error_with({"vm_ram_touch", "touch callback returned -5", "0x11000"}));
}

TEST(RamCapi, TouchInvalidArguments) {
    LogCapture log;
    std::vector<Piece> pieces;
    EXPECT_EQ(vm_ram_touch(nullptr, 0, 1, record_piece, &pieces), -1);
    EXPECT_TRUE(log.has_error_with({"vm_ram_touch", "vm is NULL"}));
    CVm uninit(false);
    EXPECT_EQ(vm_ram_touch(uninit.vm, 0, 1, record_piece, &pieces), -1);
    EXPECT_TRUE(log.has_error_with({"vm_ram_touch", "not initialised"}));
    CVm c;
    ASSERT_EQ(vm_ram_register_at(c.vm, 0, 0x1000, false), 0);
    EXPECT_EQ(vm_ram_touch(c.vm, 0, 1, nullptr, nullptr), -1);
    EXPECT_TRUE(log.has_error_with({"vm_ram_touch", "touch callback is NULL"}));
    EXPECT_EQ(vm_ram_touch(c.vm, UINTPTR_MAX, 2, record_piece, &pieces), -1);
    EXPECT_TRUE(log.has_error_with({"vm_ram_touch", "wraps"}));
    EXPECT_EQ(vm_ram_touch(c.vm, 0x5000, 0, record_piece, &pieces), 0) << "size 0 touches nothing";
    EXPECT_TRUE(pieces.empty());
}

TEST(RamCapi, TouchReachesReadOnlyFramesAndDeferredMappings) {
    CVm c;
    vm_set_deferred_mapping(c.vm, true);
    seL4_CPtr rom = vmm_frame_alloc(seL4_PageBits);
    ASSERT_EQ(vm_ram_register_at_custom_iterator(
                  c.vm, 0xf0000, 0x1000,
                  [](uintptr_t addr, void* cookie) {
                      return vm_frame_t{*static_cast<seL4_CPtr*>(cookie), seL4_CanRead, addr, seL4_PageBits};
                  },
                  &rom),
              0);
    const char image[] = "ROM!";
    ASSERT_EQ(vm_ram_touch(c.vm, 0xf0010, sizeof image, vm_guest_ram_write_callback, const_cast<char*>(image)), 0);
    EXPECT_EQ(std::memcmp(static_cast<char*>(vmm_frame_vaddr(rom)) + 0x10, image, sizeof image), 0);
    vm_vcpu_t* vcpu = vm_create_vcpu(c.vm, 0);
    uint64_t v = 0;
    ASSERT_EQ(vm_sim_access(vcpu, 0xf0010, 4, false, &v), 0);
    EXPECT_EQ(v, 0x214d4f52u);  // "ROM!" little endian
    LogCapture log;
    EXPECT_EQ(vm_sim_access(vcpu, 0xf0010, 4, true, &v), -1) << "the guest may not write its ROM";
}

TEST(RamCapi, RegisterFromTheAnonymousPools) {
    CVm c;
    LogCapture log;
    EXPECT_EQ(vm_ram_register(c.vm, 0x1000), 0u);
    EXPECT_TRUE(log.has_error_with({"vm_ram_register", "no anonymous pool"}));
    uintptr_t addr = 0x1234;
    EXPECT_EQ(vm_ram_register_checked(c.vm, 0x1000, &addr), -1);
    EXPECT_EQ(addr, 0x1234u) << "written only on success";

    ASSERT_EQ(vm_memory_make_anon(c.vm, 0x80000000, 16 * MiB), 0);
    uintptr_t base = vm_ram_register(c.vm, 3 * MiB);
    EXPECT_EQ(base, 0x80000000u);
    uintptr_t at = 0;
    size_t sz = 0;
    ASSERT_EQ(vm_ram_find_largest_free_region(c.vm, &at, &sz), 0);
    EXPECT_EQ(at, 0x80000000u);
    EXPECT_EQ(sz, 3 * MiB);
    ASSERT_EQ(vm_ram_register_checked(c.vm, 10, &addr), 0);
    EXPECT_EQ(addr, 0x80000000u + 3 * MiB);
    EXPECT_EQ(vm_ram_register_checked(c.vm, 10, nullptr), -1);
    EXPECT_EQ(vm_ram_register(c.vm, 0), 0u);
    EXPECT_TRUE(log.has_error_with({"vm_ram_register", "size is 0"}));
    EXPECT_EQ(vm_ram_register(nullptr, 0x1000), 0u);
}

TEST(RamCapi, RegisterCheckedDisambiguatesAPoolAtZero) {
    CVm c;
    ASSERT_EQ(vm_memory_make_anon(c.vm, 0, 1 * MiB), 0);
    uintptr_t addr = 0x1234;
    ASSERT_EQ(vm_ram_register_checked(c.vm, 0x1000, &addr), 0);
    EXPECT_EQ(addr, 0u);
}

TEST(RamCapi, RegisterAtErrors) {
    CVm c;
    LogCapture log;
    EXPECT_EQ(vm_ram_register_at(nullptr, 0, 0x1000, false), -1);
    EXPECT_EQ(vm_ram_register_at(c.vm, 0x100, 0x1000, false), -1);
    EXPECT_TRUE(log.has_error_with({"vm_ram_register_at", "not page aligned"}));
    EXPECT_EQ(vm_ram_register_at(c.vm, 0, 0, false), -1);
    ASSERT_NE(vm_reserve_memory_at(c.vm, 0x3000, 8, default_error_fault_callback, nullptr), nullptr);
    EXPECT_EQ(vm_ram_register_at(c.vm, 0, 0x10000, false), -1);
    EXPECT_TRUE(log.has_error_with({"vm_ram_register_at", "overlaps"}));
    EXPECT_EQ(vm_ram_register_at_custom_iterator(c.vm, 0x10000, 0x1000, nullptr, nullptr), -1);
    EXPECT_TRUE(log.has_error_with({"vm_ram_register_at_custom_iterator", "map iterator is NULL"}));
    // A failing iterator leaves the range free for another use.
    EXPECT_EQ(vm_ram_register_at_custom_iterator(
                  c.vm, 0x10000, 0x1000,
                  [](uintptr_t addr, void*) {
                      return vm_frame_t{seL4_CapNull, seL4_AllRights, addr, seL4_PageBits};
                  },
                  nullptr),
              -1);
    EXPECT_EQ(vm_ram_register_at(c.vm, 0x10000, 0x1000, false), 0);
    uintptr_t at;
    size_t size;
    ASSERT_EQ(vm_ram_find_largest_free_region(c.vm, &at, &size), 0);
    EXPECT_EQ(at, 0x10000u);
    EXPECT_EQ(size, 0x1000u);
}

TEST(RamCapi, AllocateMarkFreeAndLargest) {
    CVm c;
    LogCapture log;
    uintptr_t at = 7;
    size_t size = 7;
    EXPECT_EQ(vm_ram_find_largest_free_region(c.vm, &at, &size), -1);
    EXPECT_TRUE(log.has_error_with({"vm_ram_find_largest_free_region", "no RAM is registered"}));
    EXPECT_EQ(at, 7u);
    EXPECT_EQ(vm_ram_allocate(c.vm, 0x100), 0u);
    EXPECT_TRUE(log.has_error_with({"vm_ram_allocate", "no RAM is registered"}));

    ASSERT_EQ(vm_ram_register_at(c.vm, 0x100000, 0x10000, false), 0);
    ASSERT_EQ(vm_ram_register_at(c.vm, 0x110000, 0x10000, false), 0);
    ASSERT_EQ(vm_ram_find_largest_free_region(c.vm, &at, &size), 0);
    EXPECT_EQ(at, 0x100000u);
    EXPECT_EQ(size, 0x20000u) << "adjacent registrations are one free region";

    vm_ram_mark_allocated(c.vm, 0x100000, 0x8000);  // a loaded kernel
    const uintptr_t a = vm_ram_allocate(c.vm, 0x1000);
    EXPECT_EQ(a, 0x108000u);
    const uintptr_t b = vm_ram_allocate(c.vm, 0x1000);
    EXPECT_EQ(b, 0x109000u);
    vm_ram_free(c.vm, a, 0x1000);
    EXPECT_EQ(vm_ram_allocate(c.vm, 0x1000), a) << "vm_ram_free really frees";
    vm_ram_free(c.vm, a, 0x2000);
    ASSERT_EQ(vm_ram_find_largest_free_region(c.vm, &at, &size), 0);
    EXPECT_EQ(at, 0x108000u);
    EXPECT_EQ(size, 0x18000u) << "freed space merges with its free neighbours";

    uintptr_t aligned = 0;
    ASSERT_EQ(vm_ram_allocate_checked(c.vm, 0x100, 0x10000, &aligned), 0);
    EXPECT_EQ(aligned, 0x110000u);

    log.clear();
    vm_ram_free(c.vm, 0x108000, 0x1000);  // never allocated
    EXPECT_TRUE(log.has_error_with({"vm_ram_free", "not wholly allocated"}));
    vm_ram_free(c.vm, 0x200000, 0x1000);
    EXPECT_TRUE(log.has_error_with({"vm_ram_free", "not wholly registered RAM"}));
    vm_ram_mark_allocated(c.vm, 0x11f000, 0x2000);
    EXPECT_TRUE(log.has_error_with({"vm_ram_mark_allocated", "not wholly registered RAM"}));
    vm_ram_mark_allocated(nullptr, 0, 1);
    EXPECT_TRUE(log.has_error_with({"vm_ram_mark_allocated", "vm is NULL"}));
    vm_ram_free(nullptr, 0, 1);
    EXPECT_TRUE(log.has_error_with({"vm_ram_free", "vm is NULL"}));
    ASSERT_EQ(vm_ram_find_largest_free_region(c.vm, &at, &size), 0);
    EXPECT_EQ(at, 0x110100u) << "failed calls change nothing";

    EXPECT_EQ(vm_ram_allocate(c.vm, 0x100000), 0u);
    EXPECT_TRUE(log.has_error_with({"vm_ram_allocate", "no free RAM region"}));
    EXPECT_EQ(vm_ram_allocate_checked(c.vm, 0x100, 3, &aligned), -1);
    EXPECT_EQ(vm_ram_allocate_checked(c.vm, 0x100, 0, nullptr), -1);
    EXPECT_EQ(vm_ram_find_largest_free_region(c.vm, nullptr, &size), -1);
}

TEST(RamCapi, AllocateAtGuestAddressZero) {
    CVm c;
    ASSERT_EQ(vm_ram_register_at(c.vm, 0, 0x2000, false), 0);
    LogCapture log;
    // A success at address 0 looks like libsel4vm's failure value, but logs nothing.
    EXPECT_EQ(vm_ram_allocate(c.vm, 0x1000), 0u);
    EXPECT_EQ(log.error_count(), 0u);
    uintptr_t addr = 0x1234;
    ASSERT_EQ(vm_ram_allocate_checked(c.vm, 0x1000, 0, &addr), 0);
    EXPECT_EQ(addr, 0x1000u);
    addr = 0x1234;
    EXPECT_EQ(vm_ram_allocate_checked(c.vm, 0x1000, 0, &addr), -1);
    EXPECT_EQ(addr, 0x1234u);
    EXPECT_EQ(log.error_count(), 1u);
    vm_ram_free(c.vm, 0, 0x1000);
    ASSERT_EQ(vm_ram_allocate_checked(c.vm, 0x1000, 0, &addr), 0);
    EXPECT_EQ(addr, 0u);
}

TEST(RamCapi, EveryFunctionFailsBeforeMemoryInit) {
    CVm c(false);
    LogCapture log;
    uintptr_t addr;
    size_t size;
    EXPECT_EQ(vm_ram_register(c.vm, 0x1000), 0u);
    EXPECT_EQ(vm_ram_register_at(c.vm, 0, 0x1000, false), -1);
    EXPECT_EQ(vm_ram_register_at_custom_iterator(
                  c.vm, 0, 0x1000,
                  [](uintptr_t a, void*) {
                      return vm_frame_t{seL4_CapNull, seL4_AllRights, a, 12};
                  },
                  nullptr),
              -1);
    EXPECT_EQ(vm_ram_allocate(c.vm, 1), 0u);
    EXPECT_EQ(vm_ram_find_largest_free_region(c.vm, &addr, &size), -1);
    vm_ram_mark_allocated(c.vm, 0, 1);
    vm_ram_free(c.vm, 0, 1);
    EXPECT_EQ(vm_ram_touch(c.vm, 0, 1, vm_guest_ram_read_callback, &addr), -1);
    for (const char* fn :
         {"vm_ram_register", "vm_ram_register_at", "vm_ram_register_at_custom_iterator", "vm_ram_allocate",
          "vm_ram_find_largest_free_region", "vm_ram_mark_allocated", "vm_ram_free", "vm_ram_touch"}) {
        EXPECT_TRUE(log.has_error_with({std::string(fn) + ": ", "not initialised"})) << fn;
    }
    EXPECT_EQ(vm_memory_init(c.vm), 0);
    EXPECT_EQ(vm_ram_register_at(c.vm, 0, 0x1000, false), 0);
}

TEST(RamCapi, TouchCallbackMayCallTheLibrary) {
    CVm c;
    ASSERT_EQ(vm_ram_register_at(c.vm, 0x10000, 0x2000, false), 0);
    LogCapture log;
    // The callback allocates (and fails to): its error names its own call.
    EXPECT_EQ(vm_ram_touch(
                  c.vm, 0x10000, 0x100,
                  [](vm_t* vm, uintptr_t, void*, size_t, size_t, void*) {
                      uintptr_t a = 0;
                      if (vm_ram_allocate_checked(vm, 0x1000000, 0, &a) == 0) return -1;
                      return vm_ram_allocate_checked(vm, 0x100, 0, &a) == 0 && a == 0x10000 ? 0 : -1;
                  },
                  nullptr),
              0);
    EXPECT_TRUE(log.has_error_with({"vm_ram_allocate_checked: ", "no free RAM region"}));
    EXPECT_FALSE(log.has_error_with({"vm_ram_touch"}));
}
