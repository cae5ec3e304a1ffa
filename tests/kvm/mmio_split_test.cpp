// SPDX-License-Identifier: BSD-2-Clause
// Handing KVM MMIO exits, page-crossing fragments of any length included, to
// Vm::dispatch, which splits them (checked on the sim backend; the splitting
// rules themselves: tests/core/access_split_test.cpp). Needs no /dev/kvm.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "guestmem/sim.hpp"
#include "kvm_test_support.hpp"
#include "mmio_exit.hpp"

namespace guestmem::kvm {
namespace {

TEST(MmioSplit, DispatchHandsEachPieceToTheDevice) {
    auto caps = std::make_shared<CapabilitySpace>();
    auto vm = Vm::create(BackendKind::sim, caps);
    ASSERT_TRUE(vm);
    ASSERT_TRUE((*vm)->init_memory());
    test::RegisterFile regs(0x2000);
    ASSERT_TRUE((*vm)->reserve_at(0x2000, test::RegisterFile::kSize, regs.handler()));
    auto vcpu = (*vm)->create_vcpu();
    ASSERT_TRUE(vcpu);

    std::uint8_t data[8] = {0x11, 0x22, 0x33, 0, 0, 0, 0, 0};
    ASSERT_TRUE(dispatch_mmio(**vm, **vcpu, 0x2005, data, 3, true).completed());
    std::uint8_t back[8] = {};
    ASSERT_TRUE(dispatch_mmio(**vm, **vcpu, 0x2005, back, 3, false).completed());
    EXPECT_EQ(back[0], 0x11);
    EXPECT_EQ(back[1], 0x22);
    EXPECT_EQ(back[2], 0x33);
    EXPECT_EQ(back[3], 0) << "nothing beyond the access's length";
    EXPECT_EQ(regs.seen(), (std::vector<test::SeenAccess>{
                               {5, 1, true, 0x11, 0xff00},
                               {6, 2, true, 0x3322, 0xffff0000},
                               {5, 1, false, 0, 0xff00},
                               {6, 2, false, 0, 0xffff0000},
                           }));
    // A fragment running past the device: its last byte goes to the device
    // (which answers FAULT_ERROR there), which ends the exit in an error
    // naming that piece; the rest, which no reservation holds, is not performed.
    std::uint8_t junk[8] = {};
    const AccessOutcome failed = dispatch_mmio(**vm, **vcpu, 0x2000 + test::RegisterFile::kSize - 1, junk, 3, false);
    ASSERT_TRUE(failed.failure);
    EXPECT_EQ(failed.failure->access.addr, 0x2000 + test::RegisterFile::kSize - 1);
    EXPECT_EQ(failed.failure->access.size, 1u);
    EXPECT_EQ(regs.seen().back(), (test::SeenAccess{test::RegisterFile::kSize - 1, 1, false, 0, 0xff000000}));
    // Lengths KVM never produces are reported, not performed.
    const std::size_t seen = regs.seen().size();
    for (std::uint32_t len : {9u, 0u, 257u}) {
        for (bool is_write : {false, true}) {
            const AccessOutcome refused = dispatch_mmio(**vm, **vcpu, 0x2000, junk, len, is_write);
            ASSERT_TRUE(refused.failure) << len;
            EXPECT_NE(std::string(refused.failure->reason).find("size"), std::string::npos) << refused.failure->reason;
        }
    }
    EXPECT_EQ(regs.seen().size(), seen) << "the device saw none of them";
}

}  // namespace
}  // namespace guestmem::kvm
