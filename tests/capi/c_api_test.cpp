// SPDX-License-Identifier: BSD-2-Clause
// The C interface on the sim backend: what every function does when used right.
#include <gtest/gtest.h>

#include <set>

#include "capi_support.hpp"
#include "guestmem/sim.hpp"

namespace guestmem {
namespace {

using test::CFrames;
using test::CLogCapture;
using test::CVm;
using test::frame_bytes;
using test::load;
using test::store;

/// Records every call of a fault callback.
struct Calls {
    struct Call {
        vm_t* vm;
        vm_vcpu_t* vcpu;
        uintptr_t addr;
        size_t len;
        bool read;
        seL4_Word data;
    };
    std::vector<Call> calls;
    memory_fault_result_t result = FAULT_HANDLED;
    seL4_Word read_value = 0;
};

memory_fault_result_t record(vm_t* vm, vm_vcpu_t* vcpu, uintptr_t addr, size_t len, void* cookie) {
    auto* c = static_cast<Calls*>(cookie);
    const bool read = is_vcpu_read_fault(vcpu);
    c->calls.push_back({vm, vcpu, addr, len, read, get_vcpu_fault_data(vcpu)});
    if (read) set_vcpu_fault_data(vcpu, c->read_value);
    return c->result;
}

vm_frame_t frame(seL4_CPtr cap, uintptr_t vaddr, size_t bits, seL4_CapRights_t rights = seL4_AllRights) {
    vm_frame_t f;
    f.cptr = cap;
    f.rights = rights;
    f.vaddr = vaddr;
    f.size_bits = bits;
    return f;
}

TEST(CApi, VmCreateMakesIndependentSimVms) {
    vm_t* a = vm_create(VM_BACKEND_SIM);
    vm_t* b = vm_create(VM_BACKEND_SIM);
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
    EXPECT_NE(a, b);
    EXPECT_EQ(guestmem::capi::live_vm(a)->backend().kind(), BackendKind::sim);
    ASSERT_EQ(vm_memory_init(a), 0);
    ASSERT_EQ(vm_memory_init(b), 0);
    Calls ca, cb;
    ASSERT_NE(vm_reserve_memory_at(a, 0x1000, 0x1000, record, &ca), nullptr);
    ASSERT_NE(vm_reserve_memory_at(b, 0x1000, 0x1000, record, &cb), nullptr) << "address spaces are per VM";
    vm_vcpu_t* va = vm_create_vcpu(a, 0);
    uint64_t v = 0;
    ASSERT_EQ(vm_sim_access(va, 0x1000, 4, false, &v), 0);
    EXPECT_EQ(ca.calls.size(), 1u);
    EXPECT_EQ(cb.calls.size(), 0u);
    vm_destroy(a);
    vm_destroy(b);
}

TEST(CApi, TheCallbackReceivesVmVcpuAddressLengthAndCookie) {
    CVm c;
    vm_vcpu_t* second = vm_create_vcpu(c.vm, 0);
    ASSERT_NE(second, nullptr);
    EXPECT_NE(second, c.vcpu);
    Calls calls;
    calls.read_value = 0x1234;
    ASSERT_NE(vm_reserve_memory_at(c.vm, 0xfe000000, 0x100, record, &calls), nullptr);
    uint64_t v = 0;
    ASSERT_EQ(vm_sim_access(c.vcpu, 0xfe000010, 2, false, &v), 0);
    EXPECT_EQ(v, 0x1234u);
    v = 0xabcdef;
    ASSERT_EQ(vm_sim_access(second, 0xfe000020, 1, true, &v), 0);
    ASSERT_EQ(calls.calls.size(), 2u);
    EXPECT_EQ(calls.calls[0].vm, c.vm);
    EXPECT_EQ(calls.calls[0].vcpu, c.vcpu);
    EXPECT_EQ(calls.calls[0].addr, 0xfe000010u);
    EXPECT_EQ(calls.calls[0].len, 2u);
    EXPECT_TRUE(calls.calls[0].read);
    EXPECT_EQ(calls.calls[1].vm, c.vm);
    EXPECT_EQ(calls.calls[1].vcpu, second);
    EXPECT_EQ(calls.calls[1].len, 1u);
    EXPECT_FALSE(calls.calls[1].read);
    EXPECT_EQ(calls.calls[1].data, 0xefu);
}

TEST(CApi, GetReservationMemoryRegion) {
    CVm c;
    Calls calls;
    vm_memory_reservation_t* r = vm_reserve_memory_at(c.vm, 0x12345, 0x10, record, &calls);
    ASSERT_NE(r, nullptr);
    uintptr_t addr = 0;
    size_t size = 0;
    vm_get_reservation_memory_region(r, &addr, &size);
    EXPECT_EQ(addr, 0x12345u);
    EXPECT_EQ(size, 0x10u);
}

TEST(CApi, AnonymousReservationsComeFromPoolsAndReportTheirAddress) {
    CVm c;
    Calls calls;
    ASSERT_EQ(vm_memory_make_anon(c.vm, 0x40000000, 0x1000000), 0);
    uintptr_t addr = 0;
    vm_memory_reservation_t* r = vm_reserve_anon_memory(c.vm, 0x1801, 0x100000, record, &calls, &addr);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(addr % 0x100000, 0u);
    EXPECT_GE(addr, 0x40000000u);
    uintptr_t base = 0;
    size_t size = 0;
    vm_get_reservation_memory_region(r, &base, &size);
    EXPECT_EQ(base, addr);
    EXPECT_EQ(size, 0x2000u) << "rounded up to pages";
    uint64_t v = 0;
    ASSERT_EQ(c.read(addr + 0x1800, 4, &v), 0);
    ASSERT_EQ(calls.calls.size(), 1u);
    EXPECT_EQ(calls.calls[0].addr, addr + 0x1800);

    uintptr_t page_aligned = 0;
    vm_memory_reservation_t* p = vm_reserve_anon_memory(c.vm, 1, 0, record, &calls, &page_aligned);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(page_aligned % 0x1000, 0u);
    EXPECT_NE(page_aligned, addr);

    ASSERT_EQ(vm_free_reserved_memory(c.vm, r), 0);
    uintptr_t again = 0;
    ASSERT_NE(vm_reserve_anon_memory(c.vm, 0x2000, 0x100000, record, &calls, &again), nullptr);
    EXPECT_EQ(again, addr) << "the freed space at that alignment is the lowest fit";
}

struct IteratorLog {
    std::vector<uintptr_t> asked;
    std::vector<void*> cookies;
    std::vector<vm_frame_t> frames;
};

vm_frame_t scripted(uintptr_t addr, void* cookie) {
    auto* log = static_cast<IteratorLog*>(cookie);
    log->cookies.push_back(cookie);
    const size_t i = log->asked.size();
    log->asked.push_back(addr);
    return i < log->frames.size() ? log->frames[i] : frame(seL4_CapNull, addr, seL4_PageBits);
}

TEST(CApi, MapReservationCallsTheIteratorWithTheCookieAndHonoursRights) {
    CVm c;
    CFrames frames;
    Calls calls;
    calls.read_value = 0x77;
    vm_memory_reservation_t* r = vm_reserve_memory_at(c.vm, 0x200000, 0x3000, record, &calls);
    const seL4_CPtr rw = frames.alloc(), ro = frames.alloc(), none = frames.alloc();
    for (seL4_CPtr cap : {rw, ro, none}) store(frame_bytes(cap), 4, 0x600d);
    IteratorLog it;
    it.frames = {frame(rw, 0x200000, seL4_PageBits), frame(ro, 0x201000, seL4_PageBits, seL4_CanRead),
                 frame(none, 0x202000, seL4_PageBits, seL4_NoRights)};
    ASSERT_EQ(vm_map_reservation(c.vm, r, scripted, &it), 0);
    EXPECT_EQ(it.asked, (std::vector<uintptr_t>{0x200000, 0x201000, 0x202000}));
    EXPECT_EQ(it.cookies, (std::vector<void*>(3, &it)));

    EXPECT_EQ(c.read_value(0x200000, 4), 0x600du);
    ASSERT_EQ(c.write(0x200000, 4, 1), 0);
    EXPECT_EQ(load(frame_bytes(rw), 4), 1u);
    EXPECT_EQ(c.read_value(0x201000, 4), 0x600du);
    ASSERT_EQ(c.write(0x201000, 4, 2), 0);  // read-only: faults
    EXPECT_EQ(load(frame_bytes(ro), 4), 0x600du);
    EXPECT_EQ(c.read_value(0x202000, 4), 0x77u);  // no rights: faults
    ASSERT_EQ(calls.calls.size(), 2u);
    EXPECT_EQ(calls.calls[0].addr, 0x201000u);
    EXPECT_FALSE(calls.calls[0].read);
    EXPECT_EQ(calls.calls[0].data, 2u);
    EXPECT_EQ(calls.calls[1].addr, 0x202000u);
    EXPECT_TRUE(calls.calls[1].read);
}

TEST(CApi, MapReservationFramesOfEverySize) {
    for (size_t bits : {size_t{seL4_PageBits}, size_t{seL4_LargePageBits}, size_t{seL4_HugePageBits}}) {
        SCOPED_TRACE(bits);
        CVm c;
        CFrames frames;
        Calls calls;
        const uintptr_t base = uintptr_t{1} << (bits + 1);
        const size_t bytes = size_t{1} << bits;
        vm_memory_reservation_t* r = vm_reserve_memory_at(c.vm, base, 2 * bytes, record, &calls);
        ASSERT_NE(r, nullptr);
        seL4_CPtr array[2] = {frames.alloc(bits), frames.alloc(bits)};
        ASSERT_EQ(vm_map_reservation_frames(c.vm, r, array, 2, bits), 0);
        ASSERT_EQ(c.write(base + bytes - 4, 8, 0x0102030405060708ull), 0);
        EXPECT_EQ(load(frame_bytes(array[0]) + bytes - 4, 4), 0x05060708u);
        EXPECT_EQ(load(frame_bytes(array[1]), 4), 0x01020304u);
        EXPECT_EQ(c.read_value(base + bytes - 4, 8), 0x0102030405060708ull);
        EXPECT_TRUE(calls.calls.empty());
        ASSERT_EQ(vm_free_reserved_memory(c.vm, r), 0);
        EXPECT_NE(vmm_frame_vaddr(array[0]), nullptr) << "free never deletes the caller's capabilities";
        EXPECT_EQ(load(frame_bytes(array[1]), 4), 0x01020304u);
    }
}

TEST(CApi, FreeUnmapsAndTheRangeBecomesUnhandled) {
    CVm c;
    CFrames frames;
    Calls calls, unhandled;
    unhandled.read_value = 0xee;
    ASSERT_EQ(vm_register_unhandled_mem_fault_callback(c.vm, record, &unhandled), 0);
    vm_memory_reservation_t* r = vm_reserve_memory_at(c.vm, 0x10000, 0x1000, record, &calls);
    seL4_CPtr array[] = {frames.alloc()};
    ASSERT_EQ(vm_map_reservation_frames(c.vm, r, array, 1, seL4_PageBits), 0);
    ASSERT_EQ(c.write(0x10000, 4, 0x1234), 0);
    ASSERT_EQ(vm_free_reserved_memory(c.vm, r), 0);
    EXPECT_EQ(c.read_value(0x10000, 4), 0xeeu);
    ASSERT_EQ(unhandled.calls.size(), 1u);
    EXPECT_EQ(unhandled.calls[0].vm, c.vm);
    EXPECT_EQ(unhandled.calls[0].vcpu, c.vcpu);
    EXPECT_EQ(unhandled.calls[0].addr, 0x10000u);
    EXPECT_EQ(unhandled.calls[0].len, 4u);
    EXPECT_EQ(load(frame_bytes(array[0]), 4), 0x1234u);
    // The range is free again.
    EXPECT_NE(vm_reserve_memory_at(c.vm, 0x10000, 0x1000, record, &calls), nullptr);
}

TEST(CApi, TheUnhandledCallbackCanBeReplaced) {
    CVm c;
    Calls first, second;
    ASSERT_EQ(vm_register_unhandled_mem_fault_callback(c.vm, record, &first), 0);
    ASSERT_EQ(vm_register_unhandled_mem_fault_callback(c.vm, record, &second), 0);
    uint64_t v = 0;
    ASSERT_EQ(c.read(0x5000, 4, &v), 0);
    EXPECT_EQ(first.calls.size(), 0u);
    EXPECT_EQ(second.calls.size(), 1u);
}

TEST(CApi, FramesCapabilitiesAndTheVmmView) {
    CFrames frames;
    const seL4_CPtr small = frames.alloc(seL4_PageBits);
    const seL4_CPtr large = frames.alloc(seL4_LargePageBits);
    const seL4_CPtr huge = frames.alloc(seL4_HugePageBits);
    EXPECT_EQ(std::set<seL4_CPtr>({small, large, huge}).size(), 3u);
    for (seL4_CPtr cap : {small, large, huge}) {
        uint8_t* p = frame_bytes(cap);
        ASSERT_NE(p, nullptr);
        EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 4096, 0u);
        EXPECT_EQ(p[0], 0u) << "frames start zeroed";
    }
    auto info = capi::process_capabilities()->lookup(large);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->frame->bytes(), size_t{1} << seL4_LargePageBits);
    EXPECT_EQ(info->rights, Rights::all);

    const seL4_CPtr ro = frames.copy(small, seL4_CanRead);
    EXPECT_NE(ro, small);
    EXPECT_EQ(vmm_frame_vaddr(ro), vmm_frame_vaddr(small)) << "a copy names the same frame";
    EXPECT_EQ(capi::process_capabilities()->lookup(ro)->rights, Rights::read);
    const seL4_CPtr widened = frames.copy(ro, seL4_AllRights);
    EXPECT_EQ(capi::process_capabilities()->lookup(widened)->rights, Rights::read) << "rights only shrink";

    const seL4_CPtr doomed = frames.alloc();
    ASSERT_EQ(frames.remove(doomed), 0);
    {
        CLogCapture quiet;
        EXPECT_EQ(vmm_frame_vaddr(doomed), nullptr);
        EXPECT_EQ(vmm_cap_copy(doomed, seL4_AllRights), seL4_CapNull);
    }
    for (int i = 0; i < 16; ++i) EXPECT_NE(frames.alloc(), doomed) << "a deleted capability never revives";
}

TEST(CApi, AMappedFrameOutlivesItsDeletedCapability) {
    CVm c;
    CFrames frames;
    Calls calls;
    const uint64_t before = capi::process_capabilities()->frame_bytes_in_use();
    vm_memory_reservation_t* r = vm_reserve_memory_at(c.vm, 0x10000, 0x1000, record, &calls);
    const seL4_CPtr cap = vmm_frame_alloc(seL4_PageBits);
    seL4_CPtr array[] = {cap};
    ASSERT_EQ(vm_map_reservation_frames(c.vm, r, array, 1, seL4_PageBits), 0);
    ASSERT_EQ(vmm_cap_delete(cap), 0);
    ASSERT_EQ(c.write(0x10008, 8, 0x1111222233334444ull), 0);
    EXPECT_EQ(c.read_value(0x10008, 8), 0x1111222233334444ull);
    EXPECT_TRUE(calls.calls.empty());
    EXPECT_EQ(capi::process_capabilities()->frame_bytes_in_use(), before + 4096);
    ASSERT_EQ(vm_free_reserved_memory(c.vm, r), 0);
    EXPECT_EQ(capi::process_capabilities()->frame_bytes_in_use(), before);
}

TEST(CApi, VmDestroyFreesReservationsButNotCapabilities) {
    CFrames frames;
    const uint64_t before = capi::process_capabilities()->frame_bytes_in_use();
    const seL4_CPtr small = frames.alloc(), large = frames.alloc(seL4_LargePageBits);
    {
        CVm c;
        Calls calls;
        ASSERT_EQ(vm_memory_make_anon(c.vm, 0x40000000, 0x400000), 0);
        uintptr_t addr = 0;
        vm_memory_reservation_t* a = vm_reserve_anon_memory(c.vm, 0x200000, 0x200000, record, &calls, &addr);
        vm_memory_reservation_t* b = vm_reserve_memory_at(c.vm, 0x1000, 0x1000, record, &calls);
        seL4_CPtr la[] = {large};
        seL4_CPtr sa[] = {small};
        ASSERT_EQ(vm_map_reservation_frames(c.vm, a, la, 1, seL4_LargePageBits), 0);
        ASSERT_EQ(vm_map_reservation_frames(c.vm, b, sa, 1, seL4_PageBits), 0);
        ASSERT_EQ(c.write(addr, 4, 0xaa), 0);
    }  // vm_destroy
    EXPECT_EQ(load(frame_bytes(large), 4), 0xaau);
    EXPECT_EQ(capi::process_capabilities()->frame_bytes_in_use(), before + 4096 + (1u << 21));
    ASSERT_EQ(frames.remove(small), 0);
    ASSERT_EQ(frames.remove(large), 0);
    EXPECT_EQ(capi::process_capabilities()->frame_bytes_in_use(), before) << "nothing kept the frames alive";
}

TEST(CApi, SimAccessOfEverySizeToRam) {
    CVm c;
    CFrames frames;
    Calls calls;
    vm_memory_reservation_t* r = vm_reserve_memory_at(c.vm, 0x0, 0x2000, record, &calls);
    seL4_CPtr array[] = {frames.alloc(), frames.alloc()};
    ASSERT_EQ(vm_map_reservation_frames(c.vm, r, array, 2, seL4_PageBits), 0);
    const uint64_t pattern = 0xf0e1d2c3b4a59687ull;
    for (size_t size : {1u, 2u, 4u, 8u}) {
        for (uintptr_t addr : {uintptr_t{0x100}, uintptr_t{0x101}, uintptr_t{0x103}, uintptr_t{0xfff}}) {
            ASSERT_EQ(c.write(addr, size, 0), 0);
            ASSERT_EQ(c.write(addr, size, pattern), 0);
            EXPECT_EQ(c.read_value(addr, size), pattern & test::load(&pattern, size)) << size << "@" << addr;
        }
    }
    EXPECT_TRUE(calls.calls.empty());
    EXPECT_EQ(load(frame_bytes(array[0]) + 0xfff, 1), 0x87u);
    EXPECT_EQ(load(frame_bytes(array[1]), 7), 0xf0e1d2c3b4a596u);
}

TEST(CApi, FaultErrorEndsTheAccessWithAReport) {
    CLogCapture log;
    CVm c;
    ASSERT_TRUE(sim::set_instruction_pointer(*guestmem::capi::live_vcpu(c.vcpu), 0x7000));
    ASSERT_NE(vm_reserve_memory_at(c.vm, 0x3000, 0x1000, default_error_fault_callback, nullptr), nullptr);
    uint64_t v = 0x5555;
    EXPECT_EQ(vm_sim_access(c.vcpu, 0x3010, 2, true, &v), -1);
    EXPECT_TRUE(log.has_error("vm_sim_access", "guest write of 2 bytes at 0x3010 (ip 0x7000)")) << log.dump();
    EXPECT_EQ(vm_sim_access(c.vcpu, 0x3020, 8, false, &v), -1);
    EXPECT_EQ(v, 0x5555u) << "a failed read leaves *data alone";
    EXPECT_TRUE(log.has_error("vm_sim_access", "guest read of 8 bytes at 0x3020 (ip 0x7000)")) << log.dump();
    EXPECT_EQ(default_error_fault_callback(c.vm, c.vcpu, 0, 4, nullptr), FAULT_ERROR);
}

struct SelfFree {
    vm_memory_reservation_t* self = nullptr;
    int calls = 0;
    int free_result = 1;
};

memory_fault_result_t free_myself(vm_t* vm, vm_vcpu_t*, uintptr_t, size_t, void* cookie) {
    auto* st = static_cast<SelfFree*>(cookie);
    st->calls++;
    st->free_result = vm_free_reserved_memory(vm, st->self);
    return FAULT_RESTART;  // the restarted access finds no reservation
}

TEST(CApi, ACallbackMayFreeItsOwnReservation) {
    CVm c;
    SelfFree st;
    Calls unhandled;
    unhandled.read_value = 0x42;
    ASSERT_EQ(vm_register_unhandled_mem_fault_callback(c.vm, record, &unhandled), 0);
    st.self = vm_reserve_memory_at(c.vm, 0x9000, 0x100, free_myself, &st);
    ASSERT_NE(st.self, nullptr);
    EXPECT_EQ(c.read_value(0x9010, 4), 0x42u);
    EXPECT_EQ(st.calls, 1);
    EXPECT_EQ(st.free_result, 0);
    EXPECT_EQ(unhandled.calls.size(), 1u);
    EXPECT_EQ(c.read_value(0x9010, 4), 0x42u);
    EXPECT_EQ(st.calls, 1) << "freed: never called again";
    {
        CLogCapture quiet;
        EXPECT_EQ(vm_free_reserved_memory(c.vm, st.self), -1);
    }
}

struct Reentrant {
    vm_t* vm;
    seL4_CPtr cap;
    vm_memory_reservation_t* nested = reinterpret_cast<vm_memory_reservation_t*>(1);
};

vm_frame_t reentrant_iterator(uintptr_t addr, void* cookie) {
    auto* st = static_cast<Reentrant*>(cookie);
    st->nested = vm_reserve_memory_at(st->vm, 0x900000, 0x1000, default_error_fault_callback, nullptr);
    return frame(st->cap, addr, seL4_PageBits);
}

TEST(CApi, AMapIteratorCannotChangeTheSameVm) {
    CLogCapture log;
    CVm c;
    CFrames frames;
    Calls calls;
    Reentrant st{c.vm, frames.alloc()};
    vm_memory_reservation_t* r = vm_reserve_memory_at(c.vm, 0x10000, 0x1000, record, &calls);
    ASSERT_EQ(vm_map_reservation(c.vm, r, reentrant_iterator, &st), 0);
    EXPECT_EQ(st.nested, nullptr);
    EXPECT_TRUE(log.has_error("vm_reserve_memory_at", "map iterator")) << log.dump();
    EXPECT_EQ(c.core().reservations().size(), 1u);
}

struct LazyRam {
    vm_memory_reservation_t* self = nullptr;
    seL4_CPtr cap = seL4_CapNull;
    int calls = 0;
};

memory_fault_result_t map_on_fault(vm_t* vm, vm_vcpu_t*, uintptr_t, size_t, void* cookie) {
    auto* st = static_cast<LazyRam*>(cookie);
    st->calls++;
    seL4_CPtr array[] = {st->cap};
    return vm_map_reservation_frames(vm, st->self, array, 1, seL4_PageBits) == 0 ? FAULT_RESTART : FAULT_ERROR;
}

TEST(CApi, ACallbackThatMapsAndRestartsCompletesFromMemory) {
    CVm c;
    CFrames frames;
    LazyRam st;
    st.cap = frames.alloc();
    store(frame_bytes(st.cap) + 0x18, 4, 0xabcdef12);
    st.self = vm_reserve_memory_at(c.vm, 0x50000, 0x1000, map_on_fault, &st);
    EXPECT_EQ(c.read_value(0x50018, 4), 0xabcdef12u);
    EXPECT_EQ(st.calls, 1);
}

struct Nested {
    vm_memory_reservation_t* made = reinterpret_cast<vm_memory_reservation_t*>(1);
};

memory_fault_result_t reserve_badly(vm_t* vm, vm_vcpu_t*, uintptr_t, size_t, void* cookie) {
    static_cast<Nested*>(cookie)->made = vm_reserve_memory_at(vm, 0x700000, 0, default_error_fault_callback, nullptr);
    return FAULT_IGNORE;
}

TEST(CApi, ErrorsOfCallsMadeFromACallbackNameThatCall) {
    // The callback runs inside vm_sim_access, but the failing call is its own.
    CLogCapture log;
    CVm c;
    Nested st;
    ASSERT_NE(vm_reserve_memory_at(c.vm, 0x1000, 4, reserve_badly, &st), nullptr);
    EXPECT_EQ(c.read_value(0x1000, 4), 0u);
    EXPECT_EQ(st.made, nullptr);
    EXPECT_TRUE(log.has_error("vm_reserve_memory_at", "size is 0")) << log.dump();
    EXPECT_FALSE(log.has_error("vm_sim_access")) << log.dump();
}

void collect(guestmem_log_level_t level, const char* message, void* cookie) {
    static_cast<std::vector<std::pair<guestmem_log_level_t, std::string>>*>(cookie)->emplace_back(level, message);
}

TEST(CApi, TheLogHandlerReceivesLevelMessageAndCookie) {
    std::vector<std::pair<guestmem_log_level_t, std::string>> lines;
    guestmem_set_log_handler(collect, &lines);
    EXPECT_EQ(vm_memory_init(nullptr), -1);
    guestmem_set_log_handler(nullptr, nullptr);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0].first, GUESTMEM_LOG_ERROR);
    EXPECT_EQ(lines[0].second, "vm_memory_init: vm is NULL");
    // Restored to the default: our handler hears nothing more.
    testing::internal::CaptureStderr();
    EXPECT_EQ(vm_memory_init(nullptr), -1);
    const std::string stderr_text = testing::internal::GetCapturedStderr();
    EXPECT_EQ(lines.size(), 1u);
    EXPECT_NE(stderr_text.find("guestmem: error: vm_memory_init: vm is NULL"), std::string::npos) << stderr_text;
}

TEST(CApi, Sel4CompatMatchesTheCoreRights) {
    EXPECT_EQ(static_cast<Rights>(seL4_AllRights.words[0]), Rights::all);
    EXPECT_EQ(static_cast<Rights>(seL4_CanRead.words[0]), Rights::read);
    EXPECT_EQ(static_cast<Rights>(seL4_CanWrite.words[0]), Rights::write);
    EXPECT_EQ(static_cast<Rights>(seL4_ReadWrite.words[0]), Rights::read_write);
    EXPECT_EQ(static_cast<Rights>(seL4_NoRights.words[0]), Rights::none);
    const seL4_CapRights_t r = seL4_CapRights_new(0, 1, 1, 0);
    EXPECT_EQ(seL4_CapRights_get_capAllowGrant(r), 1u);
    EXPECT_EQ(seL4_CapRights_get_capAllowRead(r), 1u);
    EXPECT_EQ(seL4_CapRights_get_capAllowWrite(r), 0u);
    EXPECT_EQ(seL4_CapRights_get_capAllowGrantReply(r), 0u);
    EXPECT_EQ(seL4_CapNull, 0u);
}

}  // namespace
}  // namespace guestmem
