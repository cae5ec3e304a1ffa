// SPDX-License-Identifier: BSD-2-Clause
// The demo machine's devices, driven through sim scripts.
#include <gtest/gtest.h>

#include <sstream>

#include "machine.hpp"
#include "sim_script.hpp"

namespace {

struct SimMachine {
    std::shared_ptr<guestmem::CapabilitySpace> caps = std::make_shared<guestmem::CapabilitySpace>();
    std::string uart_output;
    std::unique_ptr<vmm::Machine> machine;
    guestmem::Vcpu* vcpu = nullptr;

    explicit SimMachine(bool deferred = false) {
        vmm::MachineOptions options;
        options.backend = guestmem::BackendKind::sim;
        options.deferred_ram = deferred;
        options.uart_output = [this](char c) { uart_output.push_back(c); };
        machine = std::move(vmm::Machine::build(options, caps).value());
        vcpu = machine->vm().create_vcpu().value();
    }

    vmm::ScriptResult run(const std::string& script, std::string* out = nullptr) {
        std::istringstream in(script);
        std::ostringstream printed;
        auto result = vmm::run_script(in, *vcpu, printed);
        if (out) *out = printed.str();
        return result;
    }
};

}  // namespace

TEST(SimScript, UartTransmitsAndReportsLineStatus) {
    SimMachine m;
    auto r = m.run("write 0xfe001000 1 0x4f\nw 0xfe001000 1 75\nread 0xfe001005 1 expect 0x60\n");
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r.accesses, 3u);
    EXPECT_EQ(m.uart_output, "OK");
    EXPECT_EQ(m.machine->uart().transmitted(), "OK");
}

TEST(SimScript, UartDivisorLatchDoesNotTransmit) {
    SimMachine m;
    auto r = m.run("write 0xfe001003 1 0x80\nwrite 0xfe001000 1 0x0c\nread 0xfe001000 1 expect 0x0c\n"
                   "write 0xfe001003 1 0x03\nwrite 0xfe001000 1 0x41\n");
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(m.uart_output, "A");
}

TEST(SimScript, RomIsReadOnlyAndHoldsBootInfo) {
    SimMachine m;
    auto r = m.run("read 0xfe000000 8 expect 0x4d454d5453455547\nwrite 0xfe000000 8 0\n"
                   "read 0xfe000000 8 expect 0x4d454d5453455547\nread 0xfe000018 8 expect 0xfe001000\n");
    EXPECT_TRUE(r.ok());
    const auto& rom = *m.machine->label(m.machine->labels()[1].id);
    EXPECT_EQ(rom.name, "rom");
    EXPECT_EQ(rom.counters->by_result[static_cast<int>(guestmem::FaultResult::ignore)].load(), 1u);
}

TEST(SimScript, ExitRegisterRecordsStatus) {
    SimMachine m;
    EXPECT_FALSE(m.machine->exit_register().status());
    EXPECT_TRUE(m.run("write 0xfe002000 4 7\nread 0xfe002000 4 expect 7\n").ok());
    EXPECT_EQ(m.machine->exit_register().status(), 7u);
}

TEST(SimScript, DeferredRamMapsOneChunkPerFirstTouch) {
    SimMachine m(/*deferred=*/true);
    EXPECT_TRUE(m.run("write 0x10000 4 1\nwrite 0x10004 4 2\nwrite 0x30000 4 3\nread 0x10004 4 expect 2\n").ok());
    std::uint64_t lazy = 0;
    for (const auto& label : m.machine->labels()) lazy += label.counters->lazy_maps.load();
    EXPECT_EQ(lazy, 2u);
}

TEST(SimScript, ErrorsAndMismatchesAreCountedNotFatal) {
    SimMachine m;
    std::string out;
    auto r =
        m.run("read 0x80000000 4\nread 0xfe002000 4 expect 9\nwrite 0x1000\nfly 1 2 3\n# only a comment\n\n", &out);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.accesses, 2u);
    EXPECT_EQ(r.failed, 1u);
    EXPECT_EQ(r.mismatches, 1u);
    EXPECT_EQ(r.syntax_errors, 2u);
    EXPECT_NE(out.find("usage: write ADDR SIZE VALUE"), std::string::npos) << out;
    EXPECT_EQ(m.machine->unmapped_counters().by_result[static_cast<int>(guestmem::FaultResult::error)].load(), 1u);
}

TEST(SimScript, BadSizesAndNumbersAreSyntaxErrors) {
    SimMachine m;
    std::string out;
    auto r = m.run("read 0x1000 3\nread zz 4\nwrite 0x1000 4 0xq\n", &out);
    EXPECT_EQ(r.syntax_errors, 3u);
    EXPECT_EQ(r.accesses, 0u);
    EXPECT_NE(out.find("bad size '3'"), std::string::npos);
    EXPECT_NE(out.find("bad address 'zz'"), std::string::npos);
    EXPECT_NE(out.find("bad value '0xq'"), std::string::npos);
}

TEST(SimScript, EightByteAccessesAcrossDeferredRamChunksComplete) {
    // --deferred-ram maps RAM in 64 KiB chunks on first touch; an access
    // across a chunk boundary is split, each part mapping its own chunk.
    SimMachine m(/*deferred=*/true);
    auto r = m.run("write 0x10fffc 8 0x1122334455667788\n"
                   "read 0x10fffc 8 expect 0x1122334455667788\n"
                   "read 0x110000 4 expect 0x11223344\n");
    EXPECT_EQ(r.failed, 0u);
    EXPECT_EQ(r.mismatches, 0u);
    EXPECT_EQ(r.accesses, 3u);
}
