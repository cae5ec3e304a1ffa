#include "guestmem/vcpu.hpp"

#include "region_index.hpp"

namespace guestmem {

Vcpu::Vcpu(Vm& vm, unsigned index) : vm_(vm), index_(index), lookup_cache_(std::make_unique<LookupCache>()) {}

Vcpu::~Vcpu() = default;

}  // namespace guestmem
