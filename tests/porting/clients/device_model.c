// SPDX-License-Identifier: BSD-2-Clause
/*
 * A device model written the way libsel4vm VMM code writes them: it includes
 * libsel4vm's headers and the seL4 library headers such code uses
 * (<utils/util.h>, <platsupport/io.h>), allocates its state through the
 * VMM's I/O operations (vm->io_ops) and logs with ZF_LOG*. The porting check must report it
 * as compiling (tests/porting/check_script.cmake), and, built against
 * guestmem and the porting stubs, it runs on the sim backend (the
 * porting_device_model test): the stubs are enough to run such code, not
 * only to compile it.
 *
 * The device: four 32-bit registers at DEVICE_BASE. Register 0 reads as an
 * identifier and ignores writes; registers 1 to 3 keep what is written
 * (narrow writes merge into them). Anything else is a bus error.
 */
#include <stdint.h>
#include <string.h>

#include <sel4vm/boot.h>
#include <sel4vm/guest_memory.h>
#include <sel4vm/guest_vcpu_fault.h>
#include <sel4vm/guest_vm.h>
#include <sel4vm/guestmem.h>

#include <platsupport/io.h>
#include <utils/util.h>

#define DEVICE_BASE 0xfe002000u
#define DEVICE_REGS 4u
#define DEVICE_ID 0x706f7274u /* "port" */

struct device_state {
    uintptr_t base;
    uint32_t regs[DEVICE_REGS];
    ps_io_ops_t *io_ops;
    vm_memory_reservation_t *reservation;
};

static memory_fault_result_t device_fault(vm_t *vm, vm_vcpu_t *vcpu, uintptr_t addr, size_t len, void *cookie) {
    struct device_state *dev = (struct device_state *)cookie;
    uintptr_t offset = addr - dev->base;
    (void)vm;
    if (offset >= DEVICE_REGS * 4u || len > 4 || (offset & 3u) + len > 4) {
        ZF_LOGE("bad access of %zu bytes at 0x%" PRIxPTR, len, addr);
        return FAULT_ERROR;
    }
    uint32_t *reg = &dev->regs[offset / 4u];
    if (is_vcpu_read_fault(vcpu)) {
        set_vcpu_fault_data(vcpu, offset < 4u ? DEVICE_ID : *reg);
    } else if (offset >= 4u) {
        *reg = (uint32_t)emulate_vcpu_fault(vcpu, *reg);
    }
    advance_vcpu_fault(vcpu);
    return FAULT_HANDLED;
}

/* Installs the device at `base`; its state comes from the VMM's allocator, vm->io_ops. */
static struct device_state *device_install(vm_t *vm, uintptr_t base) {
    ps_io_ops_t *io_ops = vm->io_ops;
    struct device_state *dev = NULL;
    int error = ps_calloc(&io_ops->malloc_ops, 1, sizeof(*dev), (void **)&dev);
    if (error || dev == NULL) {
        ZF_LOGE("no memory for the device state");
        return NULL;
    }
    dev->base = base;
    dev->io_ops = io_ops;
    dev->reservation = vm_reserve_memory_at(vm, base, DEVICE_REGS * 4u, device_fault, dev);
    if (dev->reservation == NULL) {
        ZF_LOGE("cannot reserve the device's registers at 0x%" PRIxPTR, base);
        ps_free(&io_ops->malloc_ops, sizeof(*dev), dev);
        return NULL;
    }
    return dev;
}

static void device_remove(vm_t *vm, struct device_state *dev) {
    vm_free_reserved_memory(vm, dev->reservation);
    ps_free(&dev->io_ops->malloc_ops, sizeof(*dev), dev);
}

static int failures;

static void expect(uint64_t got, uint64_t want, const char *what) {
    if (got != want) {
        ZF_LOGE("%s: 0x%" PRIx64 ", expected 0x%" PRIx64, what, got, want);
        failures++;
    }
}

/* Guest accesses to a device installed at `base`; a failed check counts in `failures`. */
static void exercise(vm_t *vm, vm_vcpu_t *vcpu, uintptr_t base) {
    struct device_state *dev = device_install(vm, base);
    if (dev == NULL) {
        failures++;
        return;
    }
    uint64_t value = 0;
    expect((uint64_t)vm_sim_access(vcpu, base, 4, false, &value), 0, "read of the identifier");
    expect(value, DEVICE_ID, "the identifier");
    value = 0x11223344u;
    expect((uint64_t)vm_sim_access(vcpu, base + 8, 4, true, &value), 0, "write of register 2");
    value = 0xaau;
    expect((uint64_t)vm_sim_access(vcpu, base + 9, 1, true, &value), 0, "byte write into register 2");
    expect(dev->regs[2], 0x1122aa44u, "register 2 after a byte write");
    value = 0;
    expect((uint64_t)vm_sim_access(vcpu, base + 8, 4, false, &value), 0, "read of register 2");
    expect(value, 0x1122aa44u, "register 2 as the guest reads it");
    value = 0x55u;
    expect((uint64_t)vm_sim_access(vcpu, base, 4, true, &value), 0, "write to the identifier");
    expect(dev->regs[0], 0, "the identifier register's state after a write");
    device_remove(vm, dev);
}

int main(void) {
    vm_t *vm = vm_create(VM_BACKEND_SIM);
    if (vm == NULL || vm_memory_init(vm) != 0) {
        ZF_LOGE("cannot create a sim VM");
        return 1;
    }
    vm_vcpu_t *vcpu = vm_create_vcpu(vm, 0);
    if (vcpu == NULL) {
        ZF_LOGE("cannot create a vCPU");
        return 1;
    }

    /* The VMM's I/O operations with the C library's allocator, as seL4 VMMs set them up. */
    ps_io_ops_t io_ops;
    memset(&io_ops, 0, sizeof(io_ops));
    expect((uint64_t)ps_new_stdlib_malloc_ops(&io_ops.malloc_ops), 0, "ps_new_stdlib_malloc_ops");
    vm->io_ops = &io_ops;
    exercise(vm, vcpu, DEVICE_BASE);

    /* Zeroed I/O operations: the stubs allocate with the C library too. */
    ps_io_ops_t zeroed;
    memset(&zeroed, 0, sizeof(zeroed));
    vm->io_ops = &zeroed;
    exercise(vm, vcpu, DEVICE_BASE + 0x1000u);
    vm->io_ops = NULL;

    vm_destroy(vm);
    if (failures != 0) {
        ZF_LOGE("%d checks failed", failures);
        return 1;
    }
    printf("device_model: the device model ran on the sim backend\n");
    return 0;
}
