// Vm::create: the one place that knows every backend.
#include "guestmem/sim.hpp"
#include "guestmem/vm.hpp"
#ifdef GUESTMEM_WITH_KVM
#include "guestmem/kvm.hpp"
#endif

namespace guestmem {

Result<std::unique_ptr<Vm>> Vm::create(BackendKind kind, std::shared_ptr<CapabilitySpace> caps) {
    ApiCall call("Vm::create");
    if (!caps) return fail(Errc::invalid_argument, "capability space is null");
    std::unique_ptr<Backend> backend;
    switch (kind) {
    case BackendKind::sim: backend = sim::create_backend(); break;
    case BackendKind::kvm: {
#ifdef GUESTMEM_WITH_KVM
        auto kvm = kvm::create_backend();
        if (!kvm) return kvm.error();
        backend = std::move(*kvm);
        break;
#else
        return fail(Errc::unsupported, "this build of guestmem has no KVM backend");
#endif
    }
    default: return fail(Errc::invalid_argument, "unknown backend " + std::to_string(static_cast<int>(kind)));
    }
    return std::make_unique<Vm>(std::move(backend), std::move(caps));
}

}  // namespace guestmem
