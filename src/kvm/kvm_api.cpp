// SPDX-License-Identifier: BSD-2-Clause
// The public functions of guestmem/kvm.hpp: checks and glue to the classes here.
#include "guestmem/kvm.hpp"

#include "kick_signal.hpp"
#include "kvm_backend.hpp"
#include "kvm_probe.hpp"
#include "kvm_system.hpp"

namespace guestmem::kvm {

bool available() { return kvm_device_present(); }

Result<void> usable(Arch arch) {
    if (arch != Arch::x86_64) {
        return Error{Errc::unsupported, "KVM here runs x86_64 guests only, not " + std::string(to_string(arch))};
    }
    static const Result<void> answer = probe_kvm();  // the host does not change under us
    return answer;
}

Result<std::unique_ptr<Backend>> create_backend() { return create_backend(BackendOptions{}); }

Result<std::unique_ptr<Backend>> create_backend(const BackendOptions& options) {
    ApiCall call("kvm::create_backend");
    auto backend = KvmBackend::create(options);
    if (!backend) return backend.error();
    return std::unique_ptr<Backend>(std::move(*backend));
}

Result<std::unique_ptr<Backend>> create_backend(Arch arch) {
    ApiCall call("kvm::create_backend");
    if (arch != Arch::x86_64) {
        return fail(Errc::unsupported, "KVM here runs x86_64 guests only, not " + std::string(to_string(arch)));
    }
    return create_backend(BackendOptions{});
}

Result<MemslotUsage> memslot_usage(const Backend& backend) {
    ApiCall call("kvm::memslot_usage");
    // Only KvmBackend reports BackendKind::kvm, so the kind makes the cast safe.
    if (backend.kind() != BackendKind::kvm) return fail(Errc::unsupported, "the backend is not a KVM backend");
    const SlotUsage usage = static_cast<const KvmBackend&>(backend).slot_usage();
    return MemslotUsage{usage.in_use, usage.limit};
}

int kick_signal() { return kick_signal_number(); }

}  // namespace guestmem::kvm
