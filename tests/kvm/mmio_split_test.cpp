// SPDX-License-Identifier: BSD-2-Clause
// Handing KVM MMIO exits, page-crossing fragments of any length included, to
// Vm::dispatch, which splits them (checked on the sim backend; the splitting
// rules themselves: tests/core/access_split_test.cpp). Needs no /dev/kvm.
#include <gtest/gtest.h>

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
    ASSERT_EQ(dispatch_mmio(**vm, **vcpu, 0x2005, data, 3, true), AccessOutcome::completed);
    std::uint8_t back[8] = {};
    ASSERT_EQ(dispatch_mmio(**vm, **vcpu, 0x2005, back, 3, false), AccessOutcome::completed);
    EXPECT_EQ(back[0], 0x11);
    EXPECT_EQ(back[1], 0x22);
    EXPECT_EQ(back[2], 0x33);
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
    EXPECT_EQ(dispatch_mmio(**vm, **vcpu, 0x2000 + test::RegisterFile::kSize - 1, junk, 3, false),
              AccessOutcome::error);
    ASSERT_TRUE((*vcpu)->last_error());
    EXPECT_EQ((*vcpu)->last_error()->access.addr, 0x2000 + test::RegisterFile::kSize - 1);
    EXPECT_EQ((*vcpu)->last_error()->access.size, 1u);
    EXPECT_EQ(regs.seen().back(), (test::SeenAccess{test::RegisterFile::kSize - 1, 1, false, 0, 0xff000000}));
    // Lengths KVM never produces are reported, not performed.
    EXPECT_EQ(dispatch_mmio(**vm, **vcpu, 0x2000, junk, 9, false), AccessOutcome::error);
    EXPECT_EQ(dispatch_mmio(**vm, **vcpu, 0x2000, junk, 0, true), AccessOutcome::error);
}

}  // namespace
}  // namespace guestmem::kvm
