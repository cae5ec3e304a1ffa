// SPDX-License-Identifier: BSD-2-Clause
// The backend registry: names, the choice "auto" makes and why, unknown
// kinds, and Vm::create / vm_create through it. Holds on any host: the
// expectations follow what the registry says this host and build offer.
#include <gtest/gtest.h>

#include "guestmem/backend_registry.hpp"
#include "sel4vm/guestmem.h"
#include "test_support.hpp"

namespace guestmem::test {
namespace {

constexpr BackendKind kAll[] = {BackendKind::sim, BackendKind::kvm, BackendKind::emu, BackendKind::automatic};

// Whether choose_backend accepts `kind` (a refusal logs a line: callers that
// check the log capture it themselves).
bool usable(BackendKind kind, Arch arch) { return static_cast<bool>(choose_backend(kind, arch)); }

TEST(BackendRegistry, NamesRoundTrip) {
    EXPECT_EQ(to_string(BackendKind::sim), "sim");
    EXPECT_EQ(to_string(BackendKind::kvm), "kvm");
    EXPECT_EQ(to_string(BackendKind::emu), "emu");
    EXPECT_EQ(to_string(BackendKind::automatic), "auto");
    for (BackendKind kind : kAll) EXPECT_EQ(backend_from_string(to_string(kind)), kind) << to_string(kind);
}

TEST(BackendRegistry, UnknownNamesAndKindsAreRefused) {
    for (const char* name : {"", "KVM", "automatic", "qemu", "sim "}) EXPECT_FALSE(backend_from_string(name)) << name;
    LogCapture log;
    const auto bogus = static_cast<BackendKind>(9);
    EXPECT_EQ(to_string(bogus), "unknown");
    EXPECT_EQ(choose_backend(bogus, Arch::x86_64).code(), Errc::invalid_argument);
    EXPECT_EQ(Vm::create(bogus, std::make_shared<CapabilitySpace>()).code(), Errc::invalid_argument);
    EXPECT_EQ(Vm::create(BackendKind::sim, nullptr).code(), Errc::invalid_argument);
    EXPECT_TRUE(log.has_error("choose_backend", {"unknown backend 9"})) << log.dump();
}

TEST(BackendRegistry, SimIsAlwaysThereForEveryArch) {
    for (Arch arch : {Arch::x86_64, Arch::aarch64}) {
        auto choice = choose_backend(BackendKind::sim, arch);
        ASSERT_TRUE(choice);
        EXPECT_EQ(choice->kind, BackendKind::sim);
        auto vm = Vm::create(BackendKind::sim, std::make_shared<CapabilitySpace>(), arch);
        ASSERT_TRUE(vm);
        EXPECT_EQ((*vm)->backend().arch(), arch);
    }
}

TEST(BackendRegistry, DescribesEveryBackendOnce) {
    for (Arch arch : {Arch::x86_64, Arch::aarch64}) {
        const auto lines = describe_backends(arch);
        ASSERT_EQ(lines.size(), 3u);
        EXPECT_EQ(lines[0], "sim: available");
        EXPECT_EQ(lines[1].rfind("kvm: ", 0), 0u) << lines[1];
        EXPECT_EQ(lines[2].rfind("emu: ", 0), 0u) << lines[2];
        // The description and the choice agree.
        EXPECT_EQ(lines[1] == "kvm: available", usable(BackendKind::kvm, arch));
        EXPECT_EQ(lines[2] == "emu: available", usable(BackendKind::emu, arch));
    }
}

TEST(BackendRegistry, KvmRunsOnlyX86Guests) {
    LogCapture log;
    auto choice = choose_backend(BackendKind::kvm, Arch::aarch64);
    ASSERT_FALSE(choice);
    EXPECT_EQ(choice.code(), Errc::unsupported);
    EXPECT_NE(choice.error().message.find("kvm: "), std::string::npos) << choice.error().message;
}

TEST(BackendRegistry, AutoPrefersKvmThenEmuAndSaysWhy) {
    for (Arch arch : {Arch::x86_64, Arch::aarch64}) {
        LogCapture log;
        const bool kvm = usable(BackendKind::kvm, arch), emu = usable(BackendKind::emu, arch);
        auto choice = choose_backend(BackendKind::automatic, arch);
        if (kvm) {
            ASSERT_TRUE(choice);
            EXPECT_EQ(choice->kind, BackendKind::kvm);
            EXPECT_EQ(choice->why.rfind("kvm: ", 0), 0u) << choice->why;
        } else if (emu) {
            ASSERT_TRUE(choice);
            EXPECT_EQ(choice->kind, BackendKind::emu);
            // Why not KVM, then the fallback.
            EXPECT_EQ(choice->why.rfind("kvm: ", 0), 0u) << choice->why;
            EXPECT_NE(choice->why.find("using emu"), std::string::npos) << choice->why;
        } else {
            ASSERT_FALSE(choice);
            EXPECT_EQ(choice.code(), Errc::unsupported);
            EXPECT_NE(choice.error().message.find("kvm: "), std::string::npos) << choice.error().message;
            EXPECT_NE(choice.error().message.find("emu: "), std::string::npos) << choice.error().message;
        }
        // Vm::create(automatic) lands on the same backend, or fails the same way.
        auto vm = Vm::create(BackendKind::automatic, std::make_shared<CapabilitySpace>(), arch);
        ASSERT_EQ(static_cast<bool>(vm), static_cast<bool>(choice)) << to_string(arch);
        if (vm) {
            EXPECT_EQ((*vm)->backend().kind(), choice->kind);
            EXPECT_EQ((*vm)->backend().arch(), arch);
        } else {
            EXPECT_EQ(vm.code(), Errc::unsupported);
        }
    }
}

TEST(BackendRegistry, CLayerKeepsItsValuesAndUsesTheRegistry) {
    static_assert(VM_BACKEND_SIM == 0 && VM_BACKEND_KVM == 1 && VM_BACKEND_EMU == 2 && VM_BACKEND_AUTO == 3);
    LogCapture log;
    for (vm_backend_t backend : {VM_BACKEND_SIM, VM_BACKEND_KVM, VM_BACKEND_EMU, VM_BACKEND_AUTO}) {
        const auto kind = static_cast<BackendKind>(backend);
        const bool expected = usable(kind, host_arch());
        log.clear();
        vm_t* vm = vm_create(backend);
        EXPECT_EQ(vm != nullptr, expected) << to_string(kind);
        if (vm) {
            vm_destroy(vm);
        } else {
            // NULL with a logged reason naming the call.
            EXPECT_TRUE(log.has_error("vm_create")) << log.dump();
        }
    }
}

}  // namespace
}  // namespace guestmem::test
