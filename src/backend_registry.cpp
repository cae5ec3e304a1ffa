// SPDX-License-Identifier: BSD-2-Clause
// The backend registry: every backend built into the library, one line each,
// and Vm::create, which picks from it. Adding a backend is one line here.
#include "guestmem/backend_registry.hpp"

#include <array>
#include <memory>
#include <span>

#include "guestmem/log.hpp"
#include "guestmem/sim.hpp"
#include "guestmem/vm.hpp"
#ifdef GUESTMEM_WITH_KVM
#include "guestmem/kvm.hpp"
#endif
#ifdef GUESTMEM_WITH_EMU
#include "guestmem/emu.hpp"
#endif

namespace guestmem {

namespace {

/// One backend built into the library.
struct BackendEntry {
    std::string_view name;  ///< as to_string(kind)
    BackendKind kind;
    /// Ok when the backend can run `arch` guests on this host; else why not
    /// (an unlogged Errc::unsupported). Cheap after the first call.
    Result<void> (*usable)(Arch arch);
    /// A backend for a VM of `arch` guests.
    Result<std::unique_ptr<Backend>> (*create)(Arch arch);
};

Result<void> sim_usable(Arch) { return {}; }  // runs no guest code: any arch, any host
Result<std::unique_ptr<Backend>> sim_create(Arch arch) { return sim::create_backend(arch); }

constexpr BackendEntry kBackends[] = {
    {"sim", BackendKind::sim, sim_usable, sim_create},
#ifdef GUESTMEM_WITH_KVM
    {"kvm", BackendKind::kvm, kvm::usable, kvm::create_backend},
#endif
#ifdef GUESTMEM_WITH_EMU
    {"emu", BackendKind::emu, emu::usable, emu::create_backend},
#endif
};

// Every kind with a name, built in or not.
constexpr std::array<std::pair<BackendKind, std::string_view>, 4> kNames{{
    {BackendKind::sim, "sim"},
    {BackendKind::kvm, "kvm"},
    {BackendKind::emu, "emu"},
    {BackendKind::automatic, "auto"},
}};

const BackendEntry* find(BackendKind kind) {
    for (const BackendEntry& entry : kBackends) {
        if (entry.kind == kind) return &entry;
    }
    return nullptr;
}

// Why `kind` cannot run `arch` guests here, or nullopt when it can.
std::optional<std::string> unusable_reason(BackendKind kind, Arch arch) {
    const BackendEntry* entry = find(kind);
    if (!entry) return "not built into this library";
    if (auto ok = entry->usable(arch); !ok) return ok.error().message;
    return std::nullopt;
}

std::string named(BackendKind kind, const std::string& text) { return std::string(to_string(kind)) + ": " + text; }

// BackendKind::automatic: the hypervisor where it works, the emulator otherwise.
Result<BackendChoice> choose_automatic(Arch arch) {
    const std::string arch_name(to_string(arch));
    const auto kvm_reason = unusable_reason(BackendKind::kvm, arch);
    if (!kvm_reason) return BackendChoice{BackendKind::kvm, "kvm: /dev/kvm works and runs " + arch_name + " guests"};
    const auto emu_reason = unusable_reason(BackendKind::emu, arch);
    if (!emu_reason) return BackendChoice{BackendKind::emu, named(BackendKind::kvm, *kvm_reason) + "; using emu"};
    return fail(Errc::unsupported, "no backend can run " + arch_name + " guests here (" +
                                       named(BackendKind::kvm, *kvm_reason) + "; " +
                                       named(BackendKind::emu, *emu_reason) + ")");
}

bool known(BackendKind kind) {
    for (const auto& [k, name] : kNames) {
        if (k == kind) return true;
    }
    return false;
}

}  // namespace

std::string_view to_string(BackendKind kind) {
    for (const auto& [k, name] : kNames) {
        if (k == kind) return name;
    }
    return "unknown";
}

std::optional<BackendKind> backend_from_string(std::string_view name) {
    for (const auto& [kind, n] : kNames) {
        if (n == name) return kind;
    }
    return std::nullopt;
}

Result<BackendChoice> choose_backend(BackendKind requested, Arch arch) {
    ApiCall call("choose_backend");
    if (!known(requested)) {
        return fail(Errc::invalid_argument, "unknown backend " + std::to_string(static_cast<int>(requested)));
    }
    if (requested == BackendKind::automatic) return choose_automatic(arch);
    if (auto reason = unusable_reason(requested, arch)) return fail(Errc::unsupported, named(requested, *reason));
    return BackendChoice{requested, std::string(to_string(requested)) + ": requested"};
}

std::vector<std::string> describe_backends(Arch arch) {
    std::vector<std::string> lines;
    for (const auto& [kind, name] : kNames) {
        if (kind == BackendKind::automatic) continue;
        const auto reason = unusable_reason(kind, arch);
        lines.push_back(std::string(name) + ": " +
                        (reason ? "unavailable (" + *reason + ")" : std::string("available")));
    }
    return lines;
}

Result<std::unique_ptr<Vm>> Vm::create(BackendKind kind, std::shared_ptr<CapabilitySpace> caps, Arch arch) {
    ApiCall call("Vm::create");
    if (!caps) return fail(Errc::invalid_argument, "capability space is null");
    if (!known(kind)) return fail(Errc::invalid_argument, "unknown backend " + std::to_string(static_cast<int>(kind)));
    if (arch != Arch::x86_64 && arch != Arch::aarch64) {
        return fail(Errc::invalid_argument, "unknown architecture " + std::to_string(static_cast<int>(arch)));
    }
    if (kind == BackendKind::automatic) {
        auto choice = choose_backend(kind, arch);
        if (!choice) return choice.error();
        kind = choice->kind;
    }
    const BackendEntry* entry = find(kind);
    if (!entry) return fail(Errc::unsupported, named(kind, "not built into this library"));
    // The factory reports its own errors (with more detail than the probe).
    auto backend = entry->create(arch);
    if (!backend) return backend.error();
    return std::make_unique<Vm>(std::move(*backend), std::move(caps));
}

}  // namespace guestmem
