// SPDX-License-Identifier: BSD-2-Clause
// Deferred mappings whose first touch is no data access: an instruction
// fetch, or the CPU walking page tables that lie in a deferred reservation.
// KVM reports these as emulation failures or shutdowns (the emulator as
// unmapped fetches); the backend completes the mapping and the guest runs on.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <span>
#include <vector>

#include "guestmem/boot.hpp"
#include "kvm_test_support.hpp"

namespace guestmem::test {
namespace {

constexpr std::uint64_t kChunk = 0x10000;    // the guest's code spans two chunks of this size
constexpr GuestAddr kCodeChunk = 0x400000;   // above the test VM's 2 MiB of RAM
constexpr GuestAddr kTableChunk = 0x600000;  // boot tables, when they are deferred too
constexpr GuestAddr kStackChunk = 0x700000;  // a deferred stack
constexpr std::uint64_t kFramesPerChunk = kChunk / kPageSize;

std::vector<std::byte> guest_image() {
    std::ifstream file(GUESTMEM_DEFERRED_FETCH_GUEST, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    std::vector<std::byte> out(bytes.size());
    std::transform(bytes.begin(), bytes.end(), out.begin(), [](char c) { return static_cast<std::byte>(c); });
    return out;
}

class DeferredFetch : public GuestBackendTest {
protected:
    struct Chunk {
        ReservationId id;
        std::vector<Cap> frames;
        int iterator_calls = 0;
    };

    void SetUp() override {
        GuestBackendTest::SetUp();
        if (IsSkipped()) return;
        image_ = guest_image();
        ASSERT_GT(image_.size(), kChunk) << "the guest's code must reach into the second chunk";
        g_ = GuestVm::create(backend());
        ASSERT_TRUE(g_);
    }

    /// Fresh frames holding `bytes` from their start.
    std::vector<Cap> frames_with(std::span<const std::byte> bytes) {
        std::vector<Cap> frames = allocate_frames(g_->caps(), kFramesPerChunk);
        for (std::size_t i = 0; i < frames.size() && i * kPageSize < bytes.size(); ++i) {
            const std::size_t n = std::min<std::size_t>(kPageSize, bytes.size() - i * kPageSize);
            std::memcpy(g_->caps().frame_memory(frames[i])->data(), bytes.data() + i * kPageSize, n);
        }
        return frames;
    }

    /// Reserves [base, base + kChunk) with a deferred mapping of `frames`.
    void defer(Chunk& chunk, GuestAddr base) {
        Vm& vm = g_->vm();
        auto id = vm.reserve_at(base, kChunk, [](Fault&) { return FaultResult::error; });
        ASSERT_TRUE(id) << id.error().message;
        chunk.id = *id;
        vm.set_deferred_mapping(true);
        auto mapped = vm.map(*id, [&chunk, base](GuestAddr addr) {
            ++chunk.iterator_calls;
            return FrameRequest{chunk.frames[(addr - base) / kPageSize], Rights::all, addr, kPageBits};
        });
        vm.set_deferred_mapping(false);
        ASSERT_TRUE(mapped) << mapped.error().message;
    }

    /// The guest's code in two deferred chunks at kCodeChunk that nothing touched.
    void defer_code() {
        code_[0].frames = frames_with(std::span(image_).first(kChunk));
        code_[1].frames = frames_with(std::span(image_).subspan(kChunk));
        defer(code_[0], kCodeChunk);
        defer(code_[1], kCodeChunk + kChunk);
    }

    bool deferred(ReservationId id) const {
        for (const ReservationInfo& info : g_->vm().reservations()) {
            if (info.id == id) return info.deferred;
        }
        return false;
    }

    /// Boots a vCPU at the code with the boot tables at `at` in the frames of
    /// `chunks` (two chunks from kTableChunk, fresh frames), the stack in
    /// kStackChunk, and 7 as its argument. The tables are written through
    /// the library, which would complete a deferred mapping: they go into
    /// the frames mapped for the while, which the test then maps as it likes.
    void boot_with_tables_in(Chunk (&chunks)[2], GuestAddr at) {
        Vm& vm = g_->vm();
        std::vector<Cap> frames;
        for (Chunk& chunk : chunks) {
            chunk.frames = allocate_frames(g_->caps(), kFramesPerChunk);
            frames.insert(frames.end(), chunk.frames.begin(), chunk.frames.end());
        }
        auto staging = vm.reserve_at(kTableChunk, 2 * kChunk, [](Fault&) { return FaultResult::error; });
        ASSERT_TRUE(staging);
        ASSERT_TRUE(vm.map_frames(*staging, frames, kPageBits));
        auto vcpu = vm.create_vcpu();
        ASSERT_TRUE(vcpu);
        BootSpec spec;
        spec.entry = kCodeChunk;
        spec.stack = kStackChunk + kChunk;
        spec.args = {7, 0, 0, 0};
        spec.x86_tables = at;
        ASSERT_TRUE((*vcpu)->boot(spec));
        ASSERT_TRUE(vm.free(*staging));
        const GuestAddr pml4 = at + kPageSize - kTableChunk;
        std::uint64_t entry = 0;
        std::memcpy(&entry, g_->caps().frame_memory(frames[pml4 / kPageSize])->data(), sizeof entry);
        ASSERT_NE(entry, 0u) << "the tables stay in their frames";
    }

    /// Runs `vcpu` and checks that it completed the call into the second
    /// chunk, each code chunk mapped once.
    void run_and_check(Vcpu& vcpu) {
        const RunResult r = g_->run(vcpu);
        ASSERT_EQ(r.reason, StopReason::halted) << r.message;
        EXPECT_EQ(x86_registers(vcpu).rax, 3u * 7 + 1) << "the call into the second chunk returned";
        for (const Chunk& chunk : code_) {
            EXPECT_EQ(chunk.iterator_calls, static_cast<int>(kFramesPerChunk)) << "each chunk is mapped once";
            EXPECT_FALSE(deferred(chunk.id));
        }
    }

    std::vector<std::byte> image_;
    std::unique_ptr<GuestVm> g_;
    Chunk code_[2];
};

TEST_P(DeferredFetch, CodeInTwoUntouchedDeferredChunksRunsToCompletion) {
    defer_code();
    ASSERT_TRUE(deferred(code_[0].id));
    ASSERT_TRUE(deferred(code_[1].id));
    Vcpu& vcpu = g_->add_vcpu({7}, kCodeChunk - kImage);
    run_and_check(vcpu);
}

TEST_P(DeferredFetch, PageTablesAndStackInDeferredReservationsToo) {
    defer_code();
    Chunk tables[2];
    boot_with_tables_in(tables, kTableChunk);  // all of them in the first chunk
    defer(tables[0], kTableChunk);
    Chunk stack;
    stack.frames = allocate_frames(g_->caps(), kFramesPerChunk);
    defer(stack, kStackChunk);
    ASSERT_TRUE(deferred(tables[0].id));
    ASSERT_TRUE(deferred(stack.id));
    run_and_check(*g_->vm().vcpu(0));
    EXPECT_FALSE(deferred(stack.id)) << "the call pushed its return address there";
    if (backend() == BackendKind::kvm) {
        EXPECT_FALSE(deferred(tables[0].id)) << "the CPU walked the tables";
        EXPECT_EQ(tables[0].iterator_calls, static_cast<int>(kFramesPerChunk));
    }
}

TEST_P(DeferredFetch, PageTablesBelowTheRootInADeferredReservation) {
    defer_code();
    // The GDT and the PML4 in the last two pages of a mapped chunk, the PDPT
    // and the page directories in the next one, deferred: CR3 is fine, the
    // walk below it is not.
    Chunk tables[2];
    boot_with_tables_in(tables, kTableChunk + kChunk - 2 * kPageSize);
    auto mapped = g_->vm().reserve_at(kTableChunk, kChunk, [](Fault&) { return FaultResult::error; });
    ASSERT_TRUE(mapped);
    ASSERT_TRUE(g_->vm().map_frames(*mapped, tables[0].frames, kPageBits));
    defer(tables[1], kTableChunk + kChunk);
    Chunk stack;
    stack.frames = allocate_frames(g_->caps(), kFramesPerChunk);
    defer(stack, kStackChunk);
    ASSERT_TRUE(deferred(tables[1].id));
    run_and_check(*g_->vm().vcpu(0));
    if (backend() == BackendKind::kvm) {
        EXPECT_FALSE(deferred(tables[1].id)) << "the CPU walked the tables";
    }
}

TEST_P(DeferredFetch, AFetchFromEmulatedMemoryIsStillReported) {
    RegisterFile regs(kDevice);
    ASSERT_TRUE(g_->vm().reserve_at(kDevice, RegisterFile::kSize, regs.handler()));
    defer_code();
    Vcpu& vcpu = g_->add_vcpu({}, kDevice - kImage);
    const RunResult r = g_->run(vcpu);
    EXPECT_NE(r.reason, StopReason::halted) << r.message;
    if (backend() == BackendKind::kvm) {
        EXPECT_EQ(r.reason, StopReason::internal_error) << r.message;
        EXPECT_NE(r.message.find("emulation failure"), std::string::npos) << r.message;
    }
    EXPECT_EQ(r.ip, kDevice);
    EXPECT_EQ(regs.accesses(), 0u);
    EXPECT_TRUE(deferred(code_[0].id)) << "nothing unrelated was mapped";
    EXPECT_TRUE(deferred(code_[1].id));
}

GUESTMEM_INSTANTIATE_FOR_GUEST_BACKENDS(DeferredFetch);

}  // namespace
}  // namespace guestmem::test
