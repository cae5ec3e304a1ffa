#include <gtest/gtest.h>

#include "guestmem/sim.hpp"
#include "guestmem/vm.hpp"

using namespace guestmem;

TEST(Smoke, ReserveMapAccess) {
    auto caps = std::make_shared<CapabilitySpace>();
    auto vm = Vm::create(BackendKind::sim, caps);
    ASSERT_TRUE(vm);
    ASSERT_TRUE((*vm)->init_memory());
    auto ram = (*vm)->reserve_at(0x10000, 0x2000, [](Fault&) { return FaultResult::error; });
    ASSERT_TRUE(ram);
    auto f0 = caps->allocate_frame(FrameSize::k4KiB);
    auto f1 = caps->allocate_frame(FrameSize::k4KiB);
    ASSERT_TRUE(f0 && f1);
    Cap frames[] = {*f0, *f1};
    ASSERT_TRUE((*vm)->map_frames(*ram, frames, 12));
    auto vcpu = (*vm)->create_vcpu();
    ASSERT_TRUE(vcpu);
    ASSERT_TRUE(sim::write(**vcpu, 0x10ffc, 8, 0x1122334455667788ull));
    auto v = sim::read(**vcpu, 0x10ffc, 8);
    ASSERT_TRUE(v);
    EXPECT_EQ(*v, 0x1122334455667788ull);
}
