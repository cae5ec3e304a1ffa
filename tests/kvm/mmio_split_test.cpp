// Splitting KVM MMIO fragments into accesses the core takes, and handing them
// to Vm::dispatch (checked on the sim backend). Needs no /dev/kvm.
#include <gtest/gtest.h>

#include <vector>

#include "guestmem/sim.hpp"
#include "kvm_test_support.hpp"
#include "mmio_exit.hpp"

namespace guestmem::kvm {
namespace {

std::vector<std::pair<GuestAddr, unsigned>> pieces(GuestAddr addr, std::uint32_t len) {
    const MmioPieces p = split_mmio(addr, len);
    std::vector<std::pair<GuestAddr, unsigned>> out;
    unsigned offset = 0;
    for (std::size_t i = 0; i < p.count; ++i) {
        EXPECT_EQ(p.pieces[i].offset, offset);
        offset += p.pieces[i].size;
        out.emplace_back(p.pieces[i].addr, p.pieces[i].size);
    }
    return out;
}

using Pieces = std::vector<std::pair<GuestAddr, unsigned>>;

TEST(MmioSplit, NativeSizesStayWhole) {
    EXPECT_EQ(pieces(0x1000, 1), (Pieces{{0x1000, 1}}));
    EXPECT_EQ(pieces(0x1003, 4), (Pieces{{0x1003, 4}}));  // unaligned but a size the core takes
    EXPECT_EQ(pieces(0x1ffc, 8), (Pieces{{0x1ffc, 8}}));
}

TEST(MmioSplit, PageCrossingFragmentsBecomeAlignedPieces) {
    EXPECT_EQ(pieces(0xffd, 3), (Pieces{{0xffd, 1}, {0xffe, 2}}));
    EXPECT_EQ(pieces(0x1000, 3), (Pieces{{0x1000, 2}, {0x1002, 1}}));
    EXPECT_EQ(pieces(0x1001, 7), (Pieces{{0x1001, 1}, {0x1002, 2}, {0x1004, 4}}));
    EXPECT_EQ(pieces(0x1000, 6), (Pieces{{0x1000, 4}, {0x1004, 2}}));
    EXPECT_EQ(pieces(0x1003, 5), (Pieces{{0x1003, 1}, {0x1004, 4}}));
}

TEST(MmioSplit, ImpossibleLengthsGiveNothing) {
    EXPECT_TRUE(pieces(0x1000, 0).empty());
    EXPECT_TRUE(pieces(0x1000, 9).empty());
}

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
    // A piece that fails stops the exit: the error names that piece.
    std::uint8_t junk[8] = {};
    EXPECT_EQ(dispatch_mmio(**vm, **vcpu, 0x2000 + test::RegisterFile::kSize - 1, junk, 3, false),
              AccessOutcome::error);
    ASSERT_TRUE((*vcpu)->last_error());
    EXPECT_EQ((*vcpu)->last_error()->access.addr, 0x2000 + test::RegisterFile::kSize - 1);
    EXPECT_EQ((*vcpu)->last_error()->access.size, 1u);
}

}  // namespace
}  // namespace guestmem::kvm
