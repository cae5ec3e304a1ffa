// SPDX-License-Identifier: BSD-2-Clause
#include "kvm_backend.hpp"

#include <algorithm>

#include "fast_paths.hpp"
#include "guestmem/log.hpp"
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
    : vm_(std::move(vm)),
      slots_(
          slot_limit,
          [vm = vm_.get()](const kvm_userspace_memory_region& region) { return vm->set_memory_region(region); },
          MemslotTable::DirtyOps{
              [vm = vm_.get()](std::uint32_t slot, std::uint64_t* bitmap) { return vm->get_dirty_log(slot, bitmap); },
              [vm = vm_.get()](std::uint32_t slot, std::uint64_t pages, std::uint64_t* bitmap) -> Result<void> {
                  // num_pages is 32 bits: chunks of 2^31 pages keep first_page
                  // a multiple of 64, and the last chunk ends the slot.
                  constexpr std::uint64_t kChunk = std::uint64_t{1} << 31;
                  for (std::uint64_t first = 0; first < pages; first += kChunk) {
                      const auto count = static_cast<std::uint32_t>(std::min(kChunk, pages - first));
                      if (auto ok = vm->clear_dirty_log(slot, first, count, bitmap + first / 64); !ok) return ok;
                  }
                  return {};
              }}) {}

Result<void> KvmBackend::install(std::span<const MappedRun> runs) { return slots_.install(runs); }

void KvmBackend::uninstall(std::span<const MappedRun> runs) noexcept { slots_.uninstall(runs); }

Result<void> KvmBackend::start_dirty_log() {
    std::call_once(manual_clear_decided_, [this] {
        // KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 changes how KVM_GET_DIRTY_LOG
        // treats logging slots; no slot logs yet, so the switch is clean.
        auto enabled = vm_->enable_manual_dirty_log_protect();
        manual_clear_ = static_cast<bool>(enabled);
        if (!enabled) {
            log(LogLevel::info, "guestmem: kvm: dirty logging without manual protect (" + enabled.error().message +
                                    "): KVM_GET_DIRTY_LOG clears as it reads");
        }
    });
    return slots_.start_logging(manual_clear_);
}

void KvmBackend::stop_dirty_log() noexcept { slots_.stop_logging(); }

Result<void> KvmBackend::harvest_dirty_log() { return slots_.harvest(); }

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
