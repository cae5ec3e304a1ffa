// SPDX-License-Identifier: BSD-2-Clause
// Inputs at the edges of the API that once crashed, hung or misled: image
// files that are not regular files, register changes from inside a fault
// handler, VMM-side copies and RAM in the last page, unknown architectures,
// and what a failed sim access tells its caller.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "guestmem/backend_registry.hpp"
#include "guestmem/guest_memory.hpp"
#include "guestmem/guest_ram.hpp"
#include "test_support.hpp"

namespace guestmem {
namespace {

using test::LogCapture;
using test::SimVm;

TEST(ImageFiles, ADirectoryOrADeviceIsAnErrorNotACrashOrAHang) {
    LogCapture log;
    SimVm s;
    ASSERT_TRUE(s.vm->ram().register_at(0, 0x10000));
    const std::string dir = ::testing::TempDir();
    EXPECT_EQ(load_image_file(*s.vm, 0, dir).code(), Errc::invalid_argument);
    EXPECT_TRUE(log.has_error("load_image_file", {"not a regular file"})) << log.dump();
    EXPECT_EQ(load_image_file(*s.vm, 0, "/dev/zero").code(), Errc::invalid_argument);
    EXPECT_EQ(load_image_file(*s.vm, 0, dir + "/no-such-image").code(), Errc::invalid_argument);

    const std::string path = dir + "/guestmem-image.bin";
    std::ofstream(path, std::ios::binary) << "0123456789";
    EXPECT_EQ(read_image_file(path, 9).code(), Errc::invalid_argument) << "larger than allowed";
    auto bytes = read_image_file(path);
    ASSERT_TRUE(bytes);
    EXPECT_EQ(bytes->size(), 10u);
    EXPECT_EQ(load_image_file(*s.vm, 0x100, path).value(), 10u);
    EXPECT_EQ(read_guest_value<char>(*s.vm, 0x109).value(), '9');
    std::filesystem::remove(path);
}

TEST(RegisterChanges, AreRefusedFromInsideTheVcpusOwnFaultHandler) {
    SimVm s;
    Errc from_handler{};
    Errc state_from_handler{};
    ASSERT_TRUE(s.vm->reserve_at(0x1000, 8, [&](Fault& f) {
        from_handler = f.vcpu().set_registers(f.vcpu().registers().value()).code();
        state_from_handler = f.vcpu().set_system_state(f.vcpu().system_state().value()).code();
        f.set_data(42);
        return FaultResult::handled;
    }));
    EXPECT_EQ(sim::read(*s.vcpu, 0x1000, 4).value(), 42u);
    EXPECT_EQ(from_handler, Errc::invalid_argument);
    EXPECT_EQ(state_from_handler, Errc::invalid_argument);
    EXPECT_TRUE(s.vcpu->set_registers(s.vcpu->registers().value())) << "outside a handler it works";
}

TEST(TopOfTheAddressSpace, VmmSideCopiesReachTheLastByte) {
    SimVm s;
    constexpr GuestAddr top = ~std::uint64_t{0xfff};
    auto id = s.vm->reserve_at(top, 0x1000, test::returns(FaultResult::error));
    ASSERT_TRUE(id);
    const Cap frame[] = {s.frame()};
    ASSERT_TRUE(s.vm->map_frames(*id, frame, kPageBits));
    ASSERT_TRUE(write_guest_value<std::uint64_t>(*s.vm, ~0ull - 7, 0x1122334455667788ull));
    EXPECT_EQ(read_guest_value<std::uint64_t>(*s.vm, ~0ull - 7).value(), 0x1122334455667788ull);
    EXPECT_EQ(read_guest_value<std::uint8_t>(*s.vm, ~0ull).value(), 0x11u);
    std::uint64_t seen = 0;
    ASSERT_TRUE(s.vm->visit_memory(top, 0x1000, Rights::read, [&](const GuestChunk& c) -> Result<void> {
        seen += c.host.size();
        return {};
    }));
    EXPECT_EQ(seen, 0x1000u);
    EXPECT_EQ(sim::read(*s.vcpu, ~0ull - 7, 8).value(), 0x1122334455667788ull) << "the guest sees the same bytes";
    LogCapture log;
    EXPECT_EQ(read_guest_value<std::uint64_t>(*s.vm, ~0ull - 3).code(), Errc::invalid_argument) << "wraps";
}

TEST(TopOfTheAddressSpace, RamThereIsRefusedWithAReason) {
    LogCapture log;
    SimVm s;
    EXPECT_EQ(s.vm->ram().register_at(~std::uint64_t{0xfff}, 0x1000).code(), Errc::invalid_argument);
    EXPECT_TRUE(log.has_error("GuestRam::register_at", {"ends at 2^64"})) << log.dump();
    EXPECT_TRUE(s.vm->reservations().empty());
}

TEST(VmCreate, AnUnknownArchitectureIsRefused) {
    LogCapture log;
    for (BackendKind kind : {BackendKind::sim, BackendKind::emu, BackendKind::automatic}) {
        auto vm = Vm::create(kind, std::make_shared<CapabilitySpace>(), static_cast<Arch>(7));
        EXPECT_EQ(vm.code(), Errc::invalid_argument) << to_string(kind);
    }
    EXPECT_TRUE(log.has_error("Vm::create", {"unknown architecture 7"})) << log.dump();
}

TEST(SimErrors, TheReturnedMessageSaysWhatFailedAndWhere) {
    LogCapture log;
    SimVm s;
    auto r = sim::read(*s.vcpu, 0x5000, 4);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("guest read of 4 bytes at 0x5000"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("no reservation holds the address"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace guestmem
