// SPDX-License-Identifier: BSD-2-Clause
/*
 * run_guest: a VMM in C that runs one of guestmem-vmm's demo guests (hello,
 * memtest) through libsel4vm's interface alone, plus guestmem's calls for
 * what libsel4vm gets from seL4 (creating the VM, loading and booting).
 *
 * The machine is guestmem-vmm's (docs/concepts.md, "The demo VMM's machine"):
 * RAM from 0, a read-only boot ROM, a UART and an exit register. The guest
 * prints through the UART and writes its exit status to the exit register;
 * run_guest exits with that status.
 *
 *   run_guest [--backend kvm|emu|auto] [--arch x86_64|aarch64] [--ram MiB] IMAGE
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sel4vm/boot.h>
#include <sel4vm/guest_memory.h>
#include <sel4vm/guest_memory_helpers.h>
#include <sel4vm/guest_ram.h>
#include <sel4vm/guest_vcpu_fault.h>
#include <sel4vm/guest_vm.h>
#include <sel4vm/guestmem.h>

#define ROM_BASE 0xfe000000u
#define UART_BASE 0xfe001000u
#define UART_SIZE 8u
#define UART_THR 0u
#define UART_LSR 5u
#define UART_LSR_IDLE 0x60u /* transmitter empty and idle */
#define EXIT_BASE 0xfe002000u
#define EXIT_SIZE 4u
#define DOORBELL_BASE 0xfe002010u

#define BOOT_TABLES 0x1000u
#define STACK_TOP 0x80000u
#define FLAT_LOAD_ADDR 0x100000u

/* The boot information the guests read from the ROM. */
struct boot_info {
    char magic[8]; /* "GUESTMEM" */
    uint64_t ram_base, ram_size, uart_base, exit_base, doorbell_base, shared_base, vm_index;
};

static memory_fault_result_t uart_access(vm_t *vm, vm_vcpu_t *vcpu, uintptr_t addr, size_t len, void *cookie) {
    (void)vm, (void)len, (void)cookie;
    if (is_vcpu_read_fault(vcpu)) {
        set_vcpu_fault_data(vcpu, addr - UART_BASE == UART_LSR ? UART_LSR_IDLE : 0);
    } else if (addr - UART_BASE == UART_THR) {
        putchar((int)(get_vcpu_fault_data(vcpu) & 0xff));
        fflush(stdout);
    }
    return FAULT_HANDLED;
}

static memory_fault_result_t exit_access(vm_t *vm, vm_vcpu_t *vcpu, uintptr_t addr, size_t len, void *cookie) {
    (void)vm, (void)addr, (void)len, (void)cookie;
    if (is_vcpu_read_fault(vcpu)) {
        set_vcpu_fault_data(vcpu, 0);
    } else {
        vcpu_request_exit(vcpu, (int64_t)(uint32_t)get_vcpu_fault_data(vcpu));
    }
    return FAULT_HANDLED;
}

/* The ROM is mapped read-only: the guest's writes to it fault here and are dropped. */
static memory_fault_result_t rom_write(vm_t *vm, vm_vcpu_t *vcpu, uintptr_t addr, size_t len, void *cookie) {
    (void)vm, (void)vcpu, (void)addr, (void)len, (void)cookie;
    return FAULT_IGNORE;
}

static vm_frame_t rom_frame(uintptr_t addr, void *cookie) {
    vm_frame_t frame = {*(seL4_CPtr *)cookie, seL4_CanRead, addr, seL4_PageBits};
    return frame;
}

/* Builds the ROM: one frame holding the boot information, mapped read-only. */
static int add_rom(vm_t *vm, uint64_t ram_size, seL4_CPtr *frame) {
    *frame = vmm_frame_alloc(seL4_PageBits);
    if (*frame == seL4_CapNull) return -1;
    struct boot_info info = {
        {'G', 'U', 'E', 'S', 'T', 'M', 'E', 'M'}, 0, ram_size, UART_BASE, EXIT_BASE, DOORBELL_BASE, 0, 0};
    memcpy(vmm_frame_vaddr(*frame), &info, sizeof info);
    vm_memory_reservation_t *rom = vm_reserve_memory_at(vm, ROM_BASE, 1u << seL4_PageBits, rom_write, NULL);
    return rom ? vm_map_reservation(vm, rom, rom_frame, frame) : -1;
}

static int usage(const char *why) {
    fprintf(stderr,
            "run_guest: %s\nusage: run_guest [--backend kvm|emu|auto] [--arch x86_64|aarch64] [--ram MiB] IMAGE\n",
            why);
    return 2;
}

int main(int argc, char **argv) {
    vm_backend_t backend = VM_BACKEND_AUTO;
    vm_arch_t arch = VM_ARCH_X86_64;
#if defined(__aarch64__)
    arch = VM_ARCH_AARCH64;
#endif
    uint64_t ram_mib = 4;
    const char *image = NULL;
    for (int i = 1; i < argc; i++) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--backend") && value) {
            if (!strcmp(value, "kvm")) backend = VM_BACKEND_KVM;
            else if (!strcmp(value, "emu")) backend = VM_BACKEND_EMU;
            else if (!strcmp(value, "auto")) backend = VM_BACKEND_AUTO;
            else return usage("--backend must be kvm, emu or auto");
            i++;
        } else if (!strcmp(argv[i], "--arch") && value) {
            if (!strcmp(value, "x86_64")) arch = VM_ARCH_X86_64;
            else if (!strcmp(value, "aarch64")) arch = VM_ARCH_AARCH64;
            else return usage("--arch must be x86_64 or aarch64");
            i++;
        } else if (!strcmp(argv[i], "--ram") && value) {
            char *end = NULL;
            ram_mib = strtoull(value, &end, 10);
            if (*value == '\0' || *end != '\0' || ram_mib < 2 || ram_mib > 1024)
                return usage("--ram must be 2 to 1024");
            i++;
        } else if (argv[i][0] != '-' && !image) {
            image = argv[i];
        } else {
            return usage("unknown or incomplete argument");
        }
    }
    if (!image) return usage("no IMAGE");

    /* Each call below logs why it failed (guestmem: error: <function>: <reason>). */
    int status = 1;
    seL4_CPtr rom = seL4_CapNull;
    vm_t *vm = vm_create_arch(backend, arch);
    if (!vm) return 1;
    vm_set_name(vm, "run_guest");
    const uint64_t ram_size = ram_mib << 20;
    uintptr_t entry = 0;
    vm_vcpu_t *vcpu = NULL;
    if (vm_memory_init(vm) != 0 || vm_ram_register_at(vm, 0, ram_size, false) != 0 ||
        add_rom(vm, ram_size, &rom) != 0 || !vm_reserve_memory_at(vm, UART_BASE, UART_SIZE, uart_access, NULL) ||
        !vm_reserve_memory_at(vm, EXIT_BASE, EXIT_SIZE, exit_access, NULL) || !(vcpu = vm_create_vcpu(vm, 100)) ||
        vm_load_guest_image(vm, image, FLAT_LOAD_ADDR, &entry) != 0) {
        goto out;
    }
    vm_boot_spec_t boot = {0};
    boot.entry = entry;
    boot.stack = STACK_TOP;
    boot.x86_tables = BOOT_TABLES;
    if (vcpu_boot(vcpu, &boot) != 0 || vcpu_start(vcpu) != 0) goto out;

    printf("run_guest: %s, %s guest, %" PRIu64 " MiB RAM, entry 0x%" PRIxPTR ", %u vCPU\n", vm->vm_name,
           vm_get_arch(vm) == VM_ARCH_AARCH64 ? "AArch64" : "x86-64", ram_mib, entry, vm->num_vcpus);
    const int run = vm_run(vm);
    vm_run_result_t result;
    if (vcpu_get_run_result(vm->vcpus[BOOT_VCPU], &result) != 0) goto out;
    if (run == 0 && result.reason == VM_STOP_EXITED) {
        printf("run_guest: the guest exited with status %" PRId64 " after %" PRIu64 " exits (%" PRIu64 " MMIO)\n",
               result.exit_status, result.exits, result.mmio_exits);
        status = (int)(result.exit_status & 0xff);
    } else {
        printf("run_guest: the guest stopped (reason %d, ip 0x%" PRIx64 "): %s\n", (int)result.reason, result.ip,
               result.message);
    }
out:
    vm_destroy(vm);
    if (rom != seL4_CapNull) vmm_cap_delete(rom);
    return status;
}
