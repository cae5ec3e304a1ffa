// SPDX-License-Identifier: BSD-2-Clause
#include "kvm_backend.hpp"

#include <algorithm>

#include "fast_paths.hpp"
#include "kvm_vcpu.hpp"

namespace guestmem::kvm {

Result<std::unique_ptr<KvmBackend>> KvmBackend::create(const BackendOptions& options) {
    auto system = KvmSystem::open();
    if (!system) return system.error();
    const std::uint32_t kvm_limit = (*system)->capabilities().user_memslots;
    const std::uint32_t limit = options.max_slots == 0 ? kvm_limit : std::min(options.max_slots, kvm_limit);
    auto vm = KvmVmFd::create(std::move(*system), options.tss_address);
    if (!vm) return vm.error();
    return std::make_unique<KvmBackend>(Key{}, std::move(*vm), limit);
}

KvmBackend::KvmBackend(Key, std::shared_ptr<KvmVmFd> vm, std::uint32_t slot_limit)
    : vm_(std::move(vm)), slots_(slot_limit, [vm = vm_.get()](const kvm_userspace_memory_region& region) {
          return vm->set_memory_region(region);
      }) {}

Result<void> KvmBackend::install(std::span<const MappedRun> runs) { return slots_.install(runs); }

void KvmBackend::uninstall(std::span<const MappedRun> runs) noexcept { slots_.uninstall(runs); }

Result<std::unique_ptr<VcpuBackend>> KvmBackend::create_vcpu(Vcpu& vcpu) {
    auto created = KvmVcpu::create(vm_, vcpu);
    if (!created) return created.error();
    return std::unique_ptr<VcpuBackend>(std::move(*created));
}

Result<std::unique_ptr<FastPath>> KvmBackend::add_doorbell(const DoorbellSpec& spec, DoorbellRing ring) {
    return make_doorbell(vm_, spec, std::move(ring));
}

Result<std::unique_ptr<FastPath>> KvmBackend::add_write_posting(Range range) { return make_write_posting(vm_, range); }

}  // namespace guestmem::kvm
