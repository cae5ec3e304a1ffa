// SPDX-License-Identifier: BSD-2-Clause
/*
 * Every <sel4vm/...> header together in strict C99 (-std=c99 -pedantic-errors
 * -Werror), checked against the signatures SPEC section 1 gives: each
 * function is assigned to a pointer of the specified type, which a
 * mismatching prototype turns into a compile error. main() checks the values
 * the SPEC fixes.
 */
#include <sel4vm/arch/guest_vm_arch.h>
#include <sel4vm/arch/guest_x86_context.h>
#include <sel4vm/arch/ioports.h>
#include <sel4vm/arch/processor.h>
#include <sel4vm/arch/vmcall.h>
#include <sel4vm/arch/vmcs_fields.h>
#include <sel4vm/arch/vmexit_reasons.h>
#include <sel4vm/boot.h>
#include <sel4vm/guest_iospace.h>
#include <sel4vm/guest_memory.h>
#include <sel4vm/guest_memory_helpers.h>
#include <sel4vm/guest_vcpu_fault.h>
#include <sel4vm/guest_vm.h>
#include <sel4vm/guest_vm_exits.h>
#include <sel4vm/guest_vm_util.h>
#include <sel4vm/guestmem.h>
#include <sel4vm/sel4_arch/processor.h>
#include <sel4vm/sel4_compat.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Compile-time checks in C99: a negative array size is an error. */
#define STATIC_CHECK(name, cond) typedef char static_check_##name[(cond) ? 1 : -1]

STATIC_CHECK(fault_handled, FAULT_HANDLED == 0);
STATIC_CHECK(fault_unhandled, FAULT_UNHANDLED == 1);
STATIC_CHECK(fault_restart, FAULT_RESTART == 2);
STATIC_CHECK(fault_ignore, FAULT_IGNORE == 3);
STATIC_CHECK(fault_error, FAULT_ERROR == 4);
STATIC_CHECK(backend_sim, VM_BACKEND_SIM == 0);
STATIC_CHECK(backend_kvm, VM_BACKEND_KVM == 1);
STATIC_CHECK(backend_emu, VM_BACKEND_EMU == 2);
STATIC_CHECK(backend_auto, VM_BACKEND_AUTO == 3);
STATIC_CHECK(page_bits, seL4_PageBits == 12);
STATIC_CHECK(large_page_bits, seL4_LargePageBits == 21);
STATIC_CHECK(huge_page_bits, seL4_HugePageBits == 30);
STATIC_CHECK(cap_null, seL4_CapNull == 0);
STATIC_CHECK(boot_vcpu, BOOT_VCPU == 0);
STATIC_CHECK(exit_mmio, VM_GUEST_MMIO_EXIT == 0);
STATIC_CHECK(exit_io, VM_GUEST_IO_EXIT == 1);
STATIC_CHECK(exit_notification, VM_GUEST_NOTIFICATION_EXIT == 2);
STATIC_CHECK(exit_unknown, VM_GUEST_UNKNOWN_EXIT == 3);
STATIC_CHECK(exit_error, VM_GUEST_ERROR_EXIT == -1);
STATIC_CHECK(word_holds_a_pointer, sizeof(seL4_Word) >= sizeof(uintptr_t));
/* The architecture headers (<sel4vm/arch/guest_arm_context.h> is checked in
 * headers_c99_arm.c: it refuses to share a file with the x86 one). */
STATIC_CHECK(user_context_words, sizeof(seL4_UserContext) == 36 * sizeof(seL4_Word));
STATIC_CHECK(vcpu_context_words, sizeof(seL4_VCPUContext) == 15 * sizeof(seL4_Word));
STATIC_CHECK(context_eax, VCPU_CONTEXT_EAX == 0);
STATIC_CHECK(context_ebp, VCPU_CONTEXT_EBP == 6);
STATIC_CHECK(context_r15, VCPU_CONTEXT_R15 == 14);
STATIC_CHECK(vcpureg_vbar, seL4_VCPUReg_VBAR == 14);
STATIC_CHECK(vcpureg_tpidr_el1, seL4_VCPUReg_TPIDR_EL1 == 15);
STATIC_CHECK(vcpureg_num, seL4_VCPUReg_Num == 24);
STATIC_CHECK(vmcs_rip, VMX_GUEST_RIP == 0x681E);
STATIC_CHECK(vmcs_cs_rights, VMX_GUEST_CS_ACCESS_RIGHTS == 0x4816);
STATIC_CHECK(vmcs_ppc, VMX_CONTROL_PRIMARY_PROCESSOR_CONTROLS == 0x4002);
STATIC_CHECK(vmx_exit_io, EXIT_REASON_IO_INSTRUCTION == 30);
STATIC_CHECK(io_handled, IO_FAULT_HANDLED == 0);
STATIC_CHECK(io_unhandled, IO_FAULT_UNHANDLED == 1);
STATIC_CHECK(io_error, IO_FAULT_ERROR == 2);
STATIC_CHECK(hsr_class, HSR_EXCEPTION_CLASS(0x5a000000u) == HSR_HVC_64_EXCEPTION);
STATIC_CHECK(hsr_il, HSR_IL(0x02000000u) == 1);
STATIC_CHECK(pmode_el1h, PMODE_EL1h == 5);

/* vm_frame_t has the four members, with these types. */
static const vm_frame_t example_frame = {(seL4_CPtr)1, {{0}}, (uintptr_t)0x1000, (size_t)seL4_PageBits};

struct signatures {
    vm_memory_reservation_t *(*reserve_memory_at)(vm_t *, uintptr_t, size_t, memory_fault_callback_fn, void *);
    vm_memory_reservation_t *(*reserve_anon_memory)(vm_t *, size_t, size_t, memory_fault_callback_fn, void *,
                                                    uintptr_t *);
    int (*memory_make_anon)(vm_t *, uintptr_t, size_t);
    int (*free_reserved_memory)(vm_t *, vm_memory_reservation_t *);
    int (*map_reservation)(vm_t *, vm_memory_reservation_t *, memory_map_iterator_fn, void *);
    int (*map_reservation_frames)(vm_t *, vm_memory_reservation_t *, seL4_CPtr *, size_t, size_t);
    void (*get_reservation_memory_region)(vm_memory_reservation_t *, uintptr_t *, size_t *);
    int (*memory_init)(vm_t *);
    memory_fault_callback_fn default_error;
    memory_fault_result_t (*callback)(vm_t *, vm_vcpu_t *, uintptr_t, size_t, void *);
    vm_frame_t (*iterator)(uintptr_t, void *);
    seL4_Word (*fault_address)(vm_vcpu_t *);
    seL4_Word (*fault_ip)(vm_vcpu_t *);
    seL4_Word (*fault_data)(vm_vcpu_t *);
    seL4_Word (*fault_data_mask)(vm_vcpu_t *);
    size_t (*fault_size)(vm_vcpu_t *);
    bool (*read_fault)(vm_vcpu_t *);
    int (*set_fault_data)(vm_vcpu_t *, seL4_Word);
    seL4_Word (*emulate)(vm_vcpu_t *, seL4_Word);
    void (*advance)(vm_vcpu_t *);
    void (*restart)(vm_vcpu_t *);
    vm_t *(*create)(vm_backend_t);
    void (*destroy)(vm_t *);
    vm_vcpu_t *(*create_vcpu)(vm_t *, int);
    int (*register_unhandled)(vm_t *, unhandled_mem_fault_callback_fn, void *);
    int (*assign_target)(vm_vcpu_t *, int);
    int (*run)(vm_t *);
    int (*start)(vm_vcpu_t *);
    int (*register_notification)(vm_t *, notification_callback_fn, void *);
    vm_vcpu_t *(*for_target)(vm_t *, int);
    vm_vcpu_t *(*free_unassigned)(vm_t *);
    bool (*online)(vm_vcpu_t *);
    void (*set_deferred)(vm_t *, bool);
    seL4_CPtr (*frame_alloc)(size_t);
    seL4_CPtr (*cap_copy)(seL4_CPtr, seL4_CapRights_t);
    int (*cap_delete)(seL4_CPtr);
    void *(*frame_vaddr)(seL4_CPtr);
    int (*sim_access)(vm_vcpu_t *, uintptr_t, size_t, bool, uint64_t *);
    void (*set_log_handler)(guestmem_log_fn, void *);
    int (*set_thread_context)(vm_vcpu_t *, seL4_VCPUContext);
    int (*set_thread_context_reg)(vm_vcpu_t *, vcpu_context_reg_t, seL4_Word);
    int (*get_thread_context)(vm_vcpu_t *, seL4_VCPUContext *);
    int (*get_thread_context_reg)(vm_vcpu_t *, vcpu_context_reg_t, seL4_Word *);
    int (*set_vmcs_field)(vm_vcpu_t *, seL4_Word, seL4_Word);
    int (*get_vmcs_field)(vm_vcpu_t *, seL4_Word, seL4_Word *);
    int (*io_port_add_handler)(vm_t *, vm_ioport_range_t, vm_ioport_interface_t);
    int (*register_unhandled_ioport)(vm_t *, unhandled_ioport_callback_fn, void *);
    ioport_fault_result_t (*port_in)(vm_vcpu_t *, void *, unsigned int, unsigned int, unsigned int *);
    ioport_fault_result_t (*port_out)(vm_vcpu_t *, void *, unsigned int, unsigned int, unsigned int);
    ioport_fault_result_t (*unhandled_port)(vm_vcpu_t *, unsigned int, bool, unsigned int *, size_t, void *);
    int (*sim_port_access)(vm_vcpu_t *, uint16_t, size_t, bool, uint32_t *);
};

static vm_frame_t no_frame(uintptr_t addr, void *cookie) {
    (void)addr;
    (void)cookie;
    return example_frame;
}

static ioport_fault_result_t no_port_in(vm_vcpu_t *vcpu, void *cookie, unsigned int port, unsigned int size,
                                        unsigned int *result) {
    (void)vcpu;
    (void)cookie;
    (void)port;
    (void)size;
    *result = 0;
    return IO_FAULT_UNHANDLED;
}

static ioport_fault_result_t no_port_out(vm_vcpu_t *vcpu, void *cookie, unsigned int port, unsigned int size,
                                         unsigned int value) {
    (void)vcpu;
    (void)cookie;
    (void)port;
    (void)size;
    (void)value;
    return IO_FAULT_UNHANDLED;
}

static ioport_fault_result_t no_unhandled_port(vm_vcpu_t *vcpu, unsigned int port, bool is_in, unsigned int *value,
                                               size_t size, void *cookie) {
    (void)vcpu;
    (void)port;
    (void)is_in;
    (void)value;
    (void)size;
    (void)cookie;
    return IO_FAULT_ERROR;
}

static const struct signatures spec = {
    vm_reserve_memory_at,
    vm_reserve_anon_memory,
    vm_memory_make_anon,
    vm_free_reserved_memory,
    vm_map_reservation,
    vm_map_reservation_frames,
    vm_get_reservation_memory_region,
    vm_memory_init,
    default_error_fault_callback,
    default_error_fault_callback,
    no_frame,
    get_vcpu_fault_address,
    get_vcpu_fault_ip,
    get_vcpu_fault_data,
    get_vcpu_fault_data_mask,
    get_vcpu_fault_size,
    is_vcpu_read_fault,
    set_vcpu_fault_data,
    emulate_vcpu_fault,
    advance_vcpu_fault,
    restart_vcpu_fault,
    vm_create,
    vm_destroy,
    vm_create_vcpu,
    vm_register_unhandled_mem_fault_callback,
    vm_assign_vcpu_target,
    vm_run,
    vcpu_start,
    vm_register_notification_callback,
    vm_vcpu_for_target_cpu,
    vm_find_free_unassigned_vcpu,
    is_vcpu_online,
    vm_set_deferred_mapping,
    vmm_frame_alloc,
    vmm_cap_copy,
    vmm_cap_delete,
    vmm_frame_vaddr,
    vm_sim_access,
    guestmem_set_log_handler,
    /* libsel4vm's names: macros for the x86-64 functions. */
    vm_set_thread_context,
    vm_set_thread_context_reg,
    vm_get_thread_context,
    vm_get_thread_context_reg,
    vm_set_vmcs_field,
    vm_get_vmcs_field,
    vm_io_port_add_handler,
    vm_register_unhandled_ioport_callback,
    no_port_in,
    no_port_out,
    no_unhandled_port,
    vm_sim_port_access,
};

/* headers_c99_arm.c: the ARM context header's signatures; 0 when they hold. */
int headers_c99_arm_check(void);

static int failures;

/* Drops the log lines of the calls below that are meant to fail. */
static void quiet(guestmem_log_level_t level, const char *message, void *cookie) {
    (void)level;
    (void)message;
    (void)cookie;
}

static void expect(int ok, const char *what) {
    if (!ok) {
        failures++;
        fprintf(stderr, "headers_c99: %s\n", what);
    }
}

int main(void) {
    const seL4_CapRights_t all = seL4_AllRights;
    const seL4_CapRights_t rw = seL4_CapRights_new(0, 0, 1, 1);

    expect(spec.memory_init != NULL, "function pointers resolve");
    /* seL4's rights layout: bit 0 write, bit 1 read, bit 2 grant, bit 3 grant-reply. */
    expect(seL4_CanWrite.words[0] == 1u, "seL4_CanWrite is bit 0");
    expect(seL4_CanRead.words[0] == 2u, "seL4_CanRead is bit 1");
    expect(all.words[0] == 0xfu, "seL4_AllRights has the four rights");
    expect(seL4_NoRights.words[0] == 0u, "seL4_NoRights is empty");
    expect(seL4_CapRights_get_capAllowRead(rw) == 1 && seL4_CapRights_get_capAllowWrite(rw) == 1 &&
               seL4_CapRights_get_capAllowGrant(rw) == 0 && seL4_CapRights_get_capAllowGrantReply(rw) == 0,
           "seL4_CapRights_new sets exactly the rights asked for");
    expect(spec.default_error(NULL, NULL, 0, 4, NULL) == FAULT_ERROR,
           "default_error_fault_callback returns FAULT_ERROR");
    expect(spec.iterator(0x1000, NULL).size_bits == seL4_PageBits, "vm_frame_t round-trips");
    {
        vm_ioport_interface_t interface = {NULL, NULL, NULL, "none"};
        vm_ioport_range_t range = {0x70, 0x71};
        interface.port_in = spec.port_in;
        interface.port_out = spec.port_out;
        expect(range.end - range.start == 1 && interface.port_in != NULL, "vm_ioport_range_t and interface");
        expect(spec.unhandled_port(NULL, 0, true, NULL, 1, NULL) == IO_FAULT_ERROR, "unhandled_ioport_callback_fn");
    }
    guestmem_set_log_handler(quiet, NULL);
    expect(spec.set_vmcs_field(NULL, VMX_GUEST_RIP, 0) == -1, "vm_set_vmcs_field refuses a NULL vCPU");
    expect(headers_c99_arm_check() == 0, "the ARM context header");
    guestmem_set_log_handler(NULL, NULL);
    if (failures == 0) printf("headers_c99: ok\n");
    return failures == 0 ? 0 : 1;
}
