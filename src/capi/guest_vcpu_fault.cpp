// SPDX-License-Identifier: BSD-2-Clause
// <sel4vm/guest_vcpu_fault.h> over guestmem::Fault.
#include "sel4vm/guest_vcpu_fault.h"

#include "handles.hpp"

using namespace guestmem;

namespace {

/// The fault being handled on `vcpu`, or null (logged) outside a fault callback.
Fault* current_fault(vm_vcpu_t* vcpu, const char* function) {
    if (Fault* fault = capi::fault_in_callback(vcpu)) return fault;  // the usual case, without a lookup
    ApiCall call(function);
    Vcpu* core = capi::live_vcpu(vcpu);
    if (!core) return nullptr;
    Fault* fault = core->current_fault();
    if (!fault)
        (void)fail(Errc::invalid_argument, "no fault is being handled on this vCPU (call it from a fault callback)");
    return fault;
}

}  // namespace

extern "C" {

seL4_Word get_vcpu_fault_address(vm_vcpu_t* vcpu) {
    Fault* fault = current_fault(vcpu, __func__);
    return fault ? fault->address() : 0;
}

seL4_Word get_vcpu_fault_ip(vm_vcpu_t* vcpu) {
    Fault* fault = current_fault(vcpu, __func__);
    return fault ? fault->ip() : 0;
}

seL4_Word get_vcpu_fault_data(vm_vcpu_t* vcpu) {
    Fault* fault = current_fault(vcpu, __func__);
    return fault ? fault->data() : 0;
}

seL4_Word get_vcpu_fault_data_mask(vm_vcpu_t* vcpu) {
    Fault* fault = current_fault(vcpu, __func__);
    return fault ? fault->data_mask() : 0;
}

size_t get_vcpu_fault_size(vm_vcpu_t* vcpu) {
    Fault* fault = current_fault(vcpu, __func__);
    return fault ? fault->size() : 0;
}

bool is_vcpu_read_fault(vm_vcpu_t* vcpu) {
    Fault* fault = current_fault(vcpu, __func__);
    return fault ? fault->is_read() : false;
}

int set_vcpu_fault_data(vm_vcpu_t* vcpu, seL4_Word data) {
    Fault* fault = current_fault(vcpu, __func__);
    if (!fault) return -1;
    fault->set_data(data);
    return 0;
}

seL4_Word emulate_vcpu_fault(vm_vcpu_t* vcpu, seL4_Word data) {
    Fault* fault = current_fault(vcpu, __func__);
    return fault ? fault->emulate(data) : 0;
}

void advance_vcpu_fault(vm_vcpu_t* vcpu) {
    if (Fault* fault = current_fault(vcpu, __func__)) fault->advance();
}

void restart_vcpu_fault(vm_vcpu_t* vcpu) {
    if (Fault* fault = current_fault(vcpu, __func__)) fault->restart();
}

}  // extern "C"
