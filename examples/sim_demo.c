// SPDX-License-Identifier: BSD-2-Clause
/*
 * sim_demo: a guest address space on the hypervisor-free backend, built and
 * exercised through the libsel4vm C interface alone.
 *
 * It lays out RAM (mapped from frames), a read-only ROM, RAM mapped lazily on
 * first touch, and an emulated device (a timer-like register file) whose
 * accesses trap into a callback; then it performs guest accesses with
 * vm_sim_access and prints what each one did.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sel4vm/guest_memory.h>
#include <sel4vm/guest_memory_helpers.h>
#include <sel4vm/guest_vcpu_fault.h>
#include <sel4vm/guestmem.h>

#define RAM_BASE 0x0u
#define RAM_PAGES 4u
#define ROM_BASE 0x100000u
#define LAZY_BASE 0x200000u
#define DEVICE_BASE 0xfe000000u
#define DEVICE_REGS 4u

/* A device with four 32-bit registers: CONTROL, STATUS, COUNT, SCRATCH. */
struct device {
    uint32_t regs[DEVICE_REGS];
    unsigned reads, writes;
};

static const char *const reg_names[DEVICE_REGS] = {"CONTROL", "STATUS", "COUNT", "SCRATCH"};

static memory_fault_result_t device_fault(vm_t *vm, vm_vcpu_t *vcpu, uintptr_t addr, size_t len, void *cookie) {
    struct device *dev = cookie;
    size_t index = (addr - DEVICE_BASE) / 4;
    (void)vm;
    (void)len;
    if (is_vcpu_read_fault(vcpu)) {
        dev->reads++;
        dev->regs[2]++; /* COUNT counts the device's reads */
        /* The register's bytes from the accessed lane on; the library keeps the access's size. */
        set_vcpu_fault_data(vcpu, dev->regs[index] >> ((addr & 3) * 8));
    } else {
        dev->writes++;
        dev->regs[index] = (uint32_t)emulate_vcpu_fault(vcpu, dev->regs[index]);
    }
    printf("    device: %s %-7s (%zu bytes at +%" PRIuPTR ") -> regs = {%08x %08x %08x %08x}\n",
           is_vcpu_read_fault(vcpu) ? "read " : "write", reg_names[index], get_vcpu_fault_size(vcpu),
           addr - DEVICE_BASE, dev->regs[0], dev->regs[1], dev->regs[2], dev->regs[3]);
    return FAULT_HANDLED;
}

static memory_fault_result_t rom_fault(vm_t *vm, vm_vcpu_t *vcpu, uintptr_t addr, size_t len, void *cookie) {
    (void)vm;
    (void)cookie;
    printf("    rom: guest wrote %zu bytes at 0x%" PRIxPTR " (value 0x%" PRIx64 "): dropped\n", len, addr,
           (uint64_t)get_vcpu_fault_data(vcpu));
    return FAULT_IGNORE;
}

static memory_fault_result_t unhandled_fault(vm_t *vm, vm_vcpu_t *vcpu, uintptr_t addr, size_t len, void *cookie) {
    (void)vm;
    (void)cookie;
    printf("    unhandled: %s of %zu bytes at 0x%" PRIxPTR ": reads as all ones\n",
           is_vcpu_read_fault(vcpu) ? "read" : "write", len, addr);
    set_vcpu_fault_data(vcpu, ~(seL4_Word)0);
    return FAULT_HANDLED;
}

struct lazy_ram {
    seL4_CPtr frame;
    unsigned calls;
};

static vm_frame_t lazy_iterator(uintptr_t addr, void *cookie) {
    struct lazy_ram *lazy = cookie;
    vm_frame_t frame;
    lazy->calls++;
    lazy->frame = vmm_frame_alloc(seL4_PageBits);
    frame.cptr = lazy->frame;
    frame.rights = seL4_AllRights;
    frame.vaddr = addr;
    frame.size_bits = seL4_PageBits;
    printf("    lazy ram: first touch, mapping a frame at 0x%" PRIxPTR "\n", addr);
    return frame;
}

static int access(vm_vcpu_t *vcpu, const char *what, uintptr_t addr, size_t len, bool is_write, uint64_t value) {
    uint64_t data = value;
    int rc = vm_sim_access(vcpu, addr, len, is_write, &data);
    if (is_write) {
        printf("%-34s write%zu [0x%08" PRIxPTR "] = 0x%" PRIx64 " -> %s\n", what, len, addr, value,
               rc == 0 ? "ok" : "ERROR");
    } else {
        printf("%-34s read%zu  [0x%08" PRIxPTR "] -> %s 0x%" PRIx64 "\n", what, len, addr, rc == 0 ? "ok" : "ERROR",
               rc == 0 ? data : 0);
    }
    return rc;
}

int main(void) {
    struct device dev;
    struct lazy_ram lazy = {seL4_CapNull, 0};
    seL4_CPtr ram[RAM_PAGES];
    seL4_CPtr rom, rom_read_only;
    uintptr_t base;
    size_t size;
    unsigned i;
    int failures = 0;
    vm_t *vm;
    vm_vcpu_t *vcpu;
    vm_memory_reservation_t *ram_res, *rom_res, *lazy_res, *dev_res;

    setvbuf(stdout, NULL, _IOLBF, 0); /* keep our lines in order with the library's log on stderr */
    memset(&dev, 0, sizeof dev);
    dev.regs[1] = 0x1; /* STATUS: ready */

    vm = vm_create(VM_BACKEND_SIM);
    if (!vm || vm_memory_init(vm) != 0) return 1;
    vcpu = vm_create_vcpu(vm, 0);
    if (!vcpu) return 1;
    vm_register_unhandled_mem_fault_callback(vm, unhandled_fault, NULL);

    printf("Building the guest address space:\n");
    ram_res = vm_reserve_memory_at(vm, RAM_BASE, RAM_PAGES << seL4_PageBits, default_error_fault_callback, NULL);
    for (i = 0; i < RAM_PAGES; i++) ram[i] = vmm_frame_alloc(seL4_PageBits);
    if (!ram_res || vm_map_reservation_frames(vm, ram_res, ram, RAM_PAGES, seL4_PageBits) != 0) return 1;
    vm_get_reservation_memory_region(ram_res, &base, &size);
    printf("  RAM      [0x%08" PRIxPTR ", 0x%08" PRIxPTR ")  %u frames of 4 KiB, read-write\n", base, base + size,
           RAM_PAGES);

    rom = vmm_frame_alloc(seL4_PageBits);
    memcpy(vmm_frame_vaddr(rom), "guestmem ROM", 13);
    rom_read_only = vmm_cap_copy(rom, seL4_CanRead);
    rom_res = vm_reserve_memory_at(vm, ROM_BASE, 1u << seL4_PageBits, rom_fault, NULL);
    if (!rom_res || vm_map_reservation_frames(vm, rom_res, &rom_read_only, 1, seL4_PageBits) != 0) return 1;
    printf("  ROM      [0x%08x, 0x%08x)  1 frame, read-only (capability copied with seL4_CanRead)\n", ROM_BASE,
           ROM_BASE + (1u << seL4_PageBits));

    vm_set_deferred_mapping(vm, true);
    lazy_res = vm_reserve_memory_at(vm, LAZY_BASE, 1u << seL4_PageBits, default_error_fault_callback, NULL);
    if (!lazy_res || vm_map_reservation(vm, lazy_res, lazy_iterator, &lazy) != 0) return 1;
    vm_set_deferred_mapping(vm, false);
    printf("  LAZY RAM [0x%08x, 0x%08x)  mapped on first touch (deferred mapping)\n", LAZY_BASE,
           LAZY_BASE + (1u << seL4_PageBits));

    dev_res = vm_reserve_memory_at(vm, DEVICE_BASE, DEVICE_REGS * 4, device_fault, &dev);
    if (!dev_res) return 1;
    printf("  DEVICE   [0x%08x, 0x%08x)  emulated: every access traps into a callback\n\n", DEVICE_BASE,
           DEVICE_BASE + DEVICE_REGS * 4);

    printf("Guest accesses:\n");
    failures += access(vcpu, "RAM: write 8 bytes across a frame", 0xffc, 8, true, 0x1122334455667788u) != 0;
    failures += access(vcpu, "RAM: read them back", 0xffc, 8, false, 0) != 0;
    printf("    (the VMM sees byte 0x%02x at the start of frame 1)\n", ((unsigned char *)vmm_frame_vaddr(ram[1]))[0]);
    failures += access(vcpu, "ROM: read the boot string", ROM_BASE, 8, false, 0) != 0;
    failures += access(vcpu, "ROM: write (read-only frame)", ROM_BASE, 4, true, 0xdeadbeef) != 0;
    failures += access(vcpu, "ROM: still intact", ROM_BASE, 4, false, 0) != 0;
    failures += access(vcpu, "LAZY RAM: first write", LAZY_BASE + 0x10, 4, true, 0xcafe) != 0;
    failures += access(vcpu, "LAZY RAM: read", LAZY_BASE + 0x10, 4, false, 0) != 0;
    failures += access(vcpu, "DEVICE: write CONTROL", DEVICE_BASE, 4, true, 0x80000001u) != 0;
    failures += access(vcpu, "DEVICE: write 1 byte of SCRATCH", DEVICE_BASE + 13, 1, true, 0xab) != 0;
    failures += access(vcpu, "DEVICE: read STATUS", DEVICE_BASE + 4, 4, false, 0) != 0;
    failures += access(vcpu, "DEVICE: read COUNT", DEVICE_BASE + 8, 4, false, 0) != 0;
    failures += access(vcpu, "Nothing there", 0x40000000u, 4, false, 0) != 0;

    printf("\nAn access the device refuses ends in an error (logged by the library):\n");
    vm_free_reserved_memory(vm, dev_res);
    dev_res = vm_reserve_memory_at(vm, DEVICE_BASE, DEVICE_REGS * 4, default_error_fault_callback, NULL);
    if (access(vcpu, "DEVICE (now always FAULT_ERROR)", DEVICE_BASE, 4, false, 0) == 0) failures++;

    printf("\nSummary: device saw %u reads and %u writes; lazy RAM iterator ran %u time(s); %s\n", dev.reads,
           dev.writes, lazy.calls, failures == 0 ? "all accesses behaved as expected." : "UNEXPECTED RESULTS");

    vm_destroy(vm);
    for (i = 0; i < RAM_PAGES; i++) vmm_cap_delete(ram[i]);
    vmm_cap_delete(rom);
    vmm_cap_delete(rom_read_only);
    vmm_cap_delete(lazy.frame);
    return failures == 0 ? 0 : 1;
}
