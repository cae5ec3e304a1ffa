// SPDX-License-Identifier: BSD-2-Clause
/*
 * consumer_c: what a C VMM ported from libsel4vm does with guestmem, through
 * the <sel4vm/...> headers alone: register guest RAM, load an image into it
 * with vm_ram_touch, hand out RAM, emulate a device, and run guest accesses on
 * the hypervisor-free backend. Exits 0 and prints "consumer_c: ok" when every
 * step behaved as documented.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sel4vm/guest_memory.h>
#include <sel4vm/guest_memory_helpers.h>
#include <sel4vm/guest_ram.h>
#include <sel4vm/guest_vcpu_fault.h>
#include <sel4vm/guestmem.h>

#define RAM_BASE 0x100000u
#define RAM_SIZE 0x400000u /* 4 MiB: two 2 MiB frames */
#define DEVICE_BASE 0xfe000000u

static int failures;

#define CHECK(cond)                                                                \
    do {                                                                           \
        if (!(cond)) {                                                             \
            fprintf(stderr, "consumer_c: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                            \
        }                                                                          \
    } while (0)

/* A one-register device: reads return the last value written plus one. */
static memory_fault_result_t device_fault(vm_t *vm, vm_vcpu_t *vcpu, uintptr_t addr, size_t len, void *cookie) {
    uint32_t *reg = cookie;
    (void)vm;
    (void)addr;
    (void)len;
    if (is_vcpu_read_fault(vcpu)) {
        set_vcpu_fault_data(vcpu, *reg + 1);
    } else {
        *reg = (uint32_t)emulate_vcpu_fault(vcpu, *reg);
    }
    return FAULT_HANDLED;
}

int main(void) {
    vm_t *vm = vm_create(VM_BACKEND_SIM);
    CHECK(vm != NULL);
    if (!vm) return 1;
    CHECK(vm_memory_init(vm) == 0);
    vm_vcpu_t *vcpu = vm_create_vcpu(vm, 0);
    CHECK(vcpu != NULL);

    /* Guest RAM, and an "image" loaded across its two 2 MiB frames. */
    CHECK(vm_ram_register_at(vm, RAM_BASE, RAM_SIZE, false) == 0);
    static unsigned char image[8192];
    for (size_t i = 0; i < sizeof image; i++) image[i] = (unsigned char)(i * 13 + 1);
    const uintptr_t load_at = RAM_BASE + 0x200000u - 4096u;
    CHECK(vm_ram_touch(vm, load_at, sizeof image, vm_guest_ram_write_callback, image) == 0);
    vm_ram_mark_allocated(vm, load_at, sizeof image);

    static unsigned char back[8192];
    CHECK(vm_ram_touch(vm, load_at, sizeof back, vm_guest_ram_read_callback, back) == 0);
    CHECK(memcmp(image, back, sizeof image) == 0);

    /* The guest sees the image. */
    uint64_t value = 0;
    CHECK(vm_sim_access(vcpu, load_at + 4, 4, false, &value) == 0);
    CHECK(value ==
          ((uint64_t)image[4] | (uint64_t)image[5] << 8 | (uint64_t)image[6] << 16 | (uint64_t)image[7] << 24));

    /* Hand out RAM: first fit below the image, then freed and reused. */
    uintptr_t a = 0;
    CHECK(vm_ram_allocate_checked(vm, 0x1000, 0x1000, &a) == 0);
    CHECK(a == RAM_BASE);
    vm_ram_free(vm, a, 0x1000);
    CHECK(vm_ram_allocate(vm, 0x1000) == RAM_BASE);
    uintptr_t largest = 0;
    size_t largest_size = 0;
    CHECK(vm_ram_find_largest_free_region(vm, &largest, &largest_size) == 0);
    CHECK(largest == load_at + sizeof image);
    CHECK(largest_size == RAM_BASE + RAM_SIZE - largest);

    /* An emulated device. */
    uint32_t reg = 0;
    CHECK(vm_reserve_memory_at(vm, DEVICE_BASE, 4, device_fault, &reg) != NULL);
    value = 41;
    CHECK(vm_sim_access(vcpu, DEVICE_BASE, 4, true, &value) == 0);
    CHECK(vm_sim_access(vcpu, DEVICE_BASE, 4, false, &value) == 0);
    CHECK(value == 42);

    /* Invalid input fails cleanly. */
    CHECK(vm_ram_register_at(vm, RAM_BASE, 0x1000, false) == -1);
    CHECK(vm_ram_touch(vm, 0xdead0000u, 16, vm_guest_ram_read_callback, back) == -1);

    vm_destroy(vm);
    if (failures) return 1;
    puts("consumer_c: ok");
    return 0;
}
