// SPDX-License-Identifier: BSD-2-Clause
/*
 * c99_device_test: a device emulator and guest RAM, driven through the
 * libsel4vm C interface on guestmem's sim backend, in strict C99.
 *
 * It includes only <sel4vm/...> and standard C headers (so it proves the C
 * interface is enough for a C VMM), checks every result against its own
 * model, prints a summary and exits non-zero if any check failed.
 *
 * The device is a register file of eight 32-bit registers:
 *   0 ID       read-only
 *   1 CTRL     read/write
 *   2 STATUS   write 1 to clear
 *   3..7       scratch, read/write
 * Accesses of 1, 2 or 4 bytes must stay inside one register; 8-byte accesses
 * must be 8-byte aligned and cover two registers. Anything else is a bus
 * error (FAULT_ERROR).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sel4vm/guest_memory.h>
#include <sel4vm/guest_memory_helpers.h>
#include <sel4vm/guest_vcpu_fault.h>
#include <sel4vm/guest_vm.h>
#include <sel4vm/guestmem.h>
#include <sel4vm/sel4_compat.h>

/* ---- checks ---------------------------------------------------------------- */

static unsigned checks_run;
static unsigned checks_failed;

static void check(bool ok, const char *what, int line) {
    checks_run++;
    if (!ok) {
        checks_failed++;
        fprintf(stderr, "c99_device_test.c:%d: check failed: %s\n", line, what);
    }
}

static void check_eq(uint64_t got, uint64_t want, const char *what, int line) {
    checks_run++;
    if (got != want) {
        checks_failed++;
        fprintf(stderr, "c99_device_test.c:%d: %s is 0x%" PRIx64 ", expected 0x%" PRIx64 "\n", line, what, got, want);
    }
}

#define CHECK(cond) check((cond), #cond, __LINE__)
#define CHECK_EQ(got, want) check_eq((uint64_t)(got), (uint64_t)(want), #got, __LINE__)

/* ---- log capture ----------------------------------------------------------- */

static char last_error[512];
static unsigned errors_logged;

static void capture_log(guestmem_log_level_t level, const char *message, void *cookie) {
    (void)cookie;
    if (level == GUESTMEM_LOG_ERROR) {
        errors_logged++;
        strncpy(last_error, message, sizeof last_error - 1);
        last_error[sizeof last_error - 1] = '\0';
    }
}

/* ---- the device ------------------------------------------------------------ */

#define DEV_BASE 0xfe001000u
#define DEV_REGS 8u
#define REG_ID 0u
#define REG_CTRL 1u
#define REG_STATUS 2u
#define DEV_ID 0x47554553u /* "SEUG" */

struct device {
    uint32_t regs[DEV_REGS];
    unsigned reads, writes, errors;
    /* The instruction pointer seen by each call: it moves on by one fixed step
     * per completed access and stays put after a failed one. */
    unsigned calls;
    seL4_Word prev_ip, step;
    bool prev_completed;
    unsigned ip_anomalies;
};

/* Applies a new value to register i with its access semantics. */
static void device_store(struct device *dev, size_t i, uint32_t written, uint32_t merged) {
    switch (i) {
    case REG_ID: break;                               /* read-only */
    case REG_STATUS: dev->regs[i] &= ~written; break; /* write 1 to clear */
    default: dev->regs[i] = merged; break;
    }
}

static memory_fault_result_t device_access(struct device *dev, vm_vcpu_t *vcpu, uintptr_t addr, size_t len);

static memory_fault_result_t device_fault(vm_t *vm, vm_vcpu_t *vcpu, uintptr_t addr, size_t len, void *cookie) {
    struct device *dev = cookie;
    const seL4_Word ip = get_vcpu_fault_ip(vcpu);
    memory_fault_result_t result;
    (void)vm;

    if (dev->calls > 0) {
        const seL4_Word moved = ip - dev->prev_ip;
        if (dev->prev_completed) {
            if (dev->step == 0) dev->step = moved;
            if (moved == 0 || moved != dev->step) dev->ip_anomalies++;
        } else if (moved != 0) {
            dev->ip_anomalies++;
        }
    }
    result = device_access(dev, vcpu, addr, len);
    dev->calls++;
    dev->prev_ip = ip;
    dev->prev_completed = result == FAULT_HANDLED;
    return result;
}

static memory_fault_result_t device_access(struct device *dev, vm_vcpu_t *vcpu, uintptr_t addr, size_t len) {
    const uintptr_t offset = addr - DEV_BASE;
    const size_t i = offset / 4;

    if (get_vcpu_fault_address(vcpu) != addr || get_vcpu_fault_size(vcpu) != len) {
        dev->errors++;
        return FAULT_ERROR;
    }
    if (len == 8 ? (offset & 7) != 0 : (offset & 3) + len > 4) {
        dev->errors++;
        return FAULT_ERROR; /* straddles registers: a bus error */
    }
    if (is_vcpu_read_fault(vcpu)) {
        dev->reads++;
        if (len == 8) {
            set_vcpu_fault_data(vcpu, (seL4_Word)dev->regs[i] | (seL4_Word)dev->regs[i + 1] << 32);
        } else {
            /* The register's bytes from the accessed lane on; the library keeps len bytes. */
            set_vcpu_fault_data(vcpu, dev->regs[i] >> ((addr & 3) * 8));
        }
    } else {
        const seL4_Word data = get_vcpu_fault_data(vcpu);
        dev->writes++;
        if (len == 8) {
            device_store(dev, i, (uint32_t)data, (uint32_t)data);
            device_store(dev, i + 1, (uint32_t)(data >> 32), (uint32_t)(data >> 32));
        } else {
            /* The libsel4vm idiom: merge the written lane into the register. */
            const uint32_t merged = (uint32_t)emulate_vcpu_fault(vcpu, dev->regs[i]);
            const uint32_t written = (uint32_t)emulate_vcpu_fault(vcpu, 0);
            device_store(dev, i, written, merged);
        }
    }
    advance_vcpu_fault(vcpu); /* harmless: the library advances exactly once anyway */
    return FAULT_HANDLED;
}

/* ---- a read-only ROM and the unhandled-fault callback ---------------------- */

struct counter {
    unsigned calls;
    seL4_Word last_data;
};

static memory_fault_result_t rom_write(vm_t *vm, vm_vcpu_t *vcpu, uintptr_t addr, size_t len, void *cookie) {
    struct counter *c = cookie;
    (void)vm;
    (void)addr;
    (void)len;
    c->calls++;
    c->last_data = get_vcpu_fault_data(vcpu);
    return is_vcpu_read_fault(vcpu) ? FAULT_ERROR : FAULT_IGNORE;
}

static memory_fault_result_t unhandled(vm_t *vm, vm_vcpu_t *vcpu, uintptr_t addr, size_t len, void *cookie) {
    struct counter *c = cookie;
    (void)vm;
    (void)addr;
    (void)len;
    c->calls++;
    if (is_vcpu_read_fault(vcpu)) set_vcpu_fault_data(vcpu, ~(seL4_Word)0);
    return FAULT_HANDLED;
}

/* ---- RAM mapped with an iterator ------------------------------------------- */

#define RAM_BASE 0x0u
#define RAM_PAGES 4u

struct ram {
    seL4_CPtr frames[RAM_PAGES];
    unsigned iterator_calls;
};

static vm_frame_t ram_iterator(uintptr_t addr, void *cookie) {
    struct ram *ram = cookie;
    vm_frame_t frame;
    ram->iterator_calls++;
    frame.cptr = ram->frames[(addr - RAM_BASE) >> seL4_PageBits];
    frame.rights = seL4_AllRights;
    frame.vaddr = addr;
    frame.size_bits = seL4_PageBits;
    return frame;
}

/* ---- helpers --------------------------------------------------------------- */

static vm_vcpu_t *cpu;

static uint64_t size_mask(size_t len) { return len == 8 ? ~(uint64_t)0 : (((uint64_t)1 << (len * 8)) - 1); }

static uint64_t guest_read(uintptr_t addr, size_t len) {
    uint64_t value = 0xbadbadbadbadbadbull;
    CHECK(vm_sim_access(cpu, addr, len, false, &value) == 0);
    return value;
}

static void guest_write(uintptr_t addr, size_t len, uint64_t value) {
    CHECK(vm_sim_access(cpu, addr, len, true, &value) == 0);
}

static uint64_t host_load(const void *p, size_t len) {
    uint64_t v = 0;
    memcpy(&v, p, len); /* little-endian host, like the guest */
    return v;
}

/* ---- the test -------------------------------------------------------------- */

static void test_device(vm_t *vm) {
    static const size_t sizes[] = {1, 2, 4, 8};
    struct device dev;
    uint8_t model[DEV_REGS * 4]; /* the scratch registers as bytes, kept by the test itself */
    vm_memory_reservation_t *r;
    size_t s;
    uintptr_t off;
    unsigned i;
    uint64_t pattern = 0x0123456789abcdefull;
    uint64_t v;

    memset(&dev, 0, sizeof dev);
    dev.regs[REG_ID] = DEV_ID;
    r = vm_reserve_memory_at(vm, DEV_BASE, DEV_REGS * 4, device_fault, &dev);
    CHECK(r != NULL);
    memset(model, 0, sizeof model);

    /* Every size at every lane of the scratch registers, read back at every size. */
    for (s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        const size_t len = sizes[s];
        for (off = 12; off + len <= DEV_REGS * 4; off++) {
            const bool fits = len == 8 ? (off & 7) == 0 : (off & 3) + len <= 4;
            if (!fits) continue;
            pattern = pattern * 6364136223846793005ull + 1442695040888963407ull;
            guest_write(DEV_BASE + off, len, pattern);
            memcpy(model + off, &pattern, len);
            for (i = 3; i < DEV_REGS; i++) CHECK_EQ(dev.regs[i], host_load(model + 4 * i, 4));
            CHECK_EQ(guest_read(DEV_BASE + off, len), pattern & size_mask(len));
        }
    }
    for (off = 12; off < DEV_REGS * 4; off++) CHECK_EQ(guest_read(DEV_BASE + off, 1), model[off]);
    for (off = 12; off < DEV_REGS * 4; off += 2) CHECK_EQ(guest_read(DEV_BASE + off, 2), host_load(model + off, 2));
    for (off = 16; off < DEV_REGS * 4; off += 8) CHECK_EQ(guest_read(DEV_BASE + off, 8), host_load(model + off, 8));

    /* CTRL: byte lanes merge into the register. */
    guest_write(DEV_BASE + 4, 4, 0x11223344);
    guest_write(DEV_BASE + 5, 1, 0xaa);
    guest_write(DEV_BASE + 6, 2, 0xbbcc);
    CHECK_EQ(dev.regs[REG_CTRL], 0xbbccaa44u);
    CHECK_EQ(guest_read(DEV_BASE + 7, 1), 0xbbu);

    /* ID is read-only; STATUS clears the bits written as 1, lane by lane. */
    guest_write(DEV_BASE + 0, 4, 0);
    CHECK_EQ(guest_read(DEV_BASE + 0, 4), DEV_ID);
    CHECK_EQ(guest_read(DEV_BASE + 2, 2), DEV_ID >> 16);
    dev.regs[REG_STATUS] = 0xffffffffu; /* the device raises every status bit */
    guest_write(DEV_BASE + 9, 1, 0x81); /* clears bits 8 and 15 */
    CHECK_EQ(dev.regs[REG_STATUS], 0xffff7effu);
    guest_write(DEV_BASE + 8, 8, 0xffff0000ull); /* 8 bytes: clears STATUS' high half, writes 0 to register 3 */
    CHECK_EQ(dev.regs[REG_STATUS], 0x00007effu);
    CHECK_EQ(dev.regs[3], 0u);

    /* Accesses that straddle registers are the device's bus errors. */
    errors_logged = 0;
    v = 0x1234;
    CHECK(vm_sim_access(cpu, DEV_BASE + 14, 4, true, &v) == -1);
    CHECK(vm_sim_access(cpu, DEV_BASE + 12, 8, false, &v) == -1);
    CHECK_EQ(v, 0x1234u); /* a failed read leaves the data alone */
    CHECK_EQ(dev.errors, 2u);
    CHECK(errors_logged >= 2);
    CHECK(strstr(last_error, "vm_sim_access") != NULL);
    CHECK(strstr(last_error, "read of 8 bytes at 0xfe00100c") != NULL);

    CHECK(dev.reads > 0 && dev.writes > 0);
    CHECK_EQ(dev.calls, dev.reads + dev.writes + dev.errors);
    CHECK(dev.step > 0);
    CHECK_EQ(dev.ip_anomalies, 0u);
    CHECK(vm_free_reserved_memory(vm, r) == 0);
}

static void test_ram(vm_t *vm) {
    static const size_t sizes[] = {1, 2, 4, 8};
    struct ram ram;
    vm_memory_reservation_t *r;
    uint8_t *pages[RAM_PAGES];
    unsigned i;
    size_t s;
    uintptr_t addr;
    uint64_t x = 0x9e3779b97f4a7c15ull;

    for (i = 0; i < RAM_PAGES; i++) {
        ram.frames[i] = vmm_frame_alloc(seL4_PageBits);
        CHECK(ram.frames[i] != seL4_CapNull);
        pages[i] = vmm_frame_vaddr(ram.frames[i]);
        CHECK(pages[i] != NULL);
    }
    ram.iterator_calls = 0;
    r = vm_reserve_memory_at(vm, RAM_BASE, RAM_PAGES << seL4_PageBits, default_error_fault_callback, NULL);
    CHECK(r != NULL);
    CHECK(vm_map_reservation(vm, r, ram_iterator, &ram) == 0);
    CHECK_EQ(ram.iterator_calls, RAM_PAGES);

    /* Every size, at offsets that are aligned, unaligned and straddling pages. */
    for (s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        const size_t len = sizes[s];
        for (addr = 0x0ff8; addr < 0x1008; addr++) {
            uint8_t expect[8];
            size_t b;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            guest_write(addr, len, x);
            for (b = 0; b < len; b++) expect[b] = (uint8_t)(x >> (8 * b));
            for (b = 0; b < len; b++) {
                const uintptr_t at = addr + b;
                CHECK_EQ(pages[at >> seL4_PageBits][at & 0xfff], expect[b]);
            }
            CHECK_EQ(guest_read(addr, len), x & size_mask(len));
        }
    }
    /* The VMM writes, the guest reads. */
    memcpy(pages[3] + 0xff8, "guestmem", 8);
    CHECK_EQ(guest_read(0x3ff8, 8), host_load("guestmem", 8));

    CHECK(vm_free_reserved_memory(vm, r) == 0);
    /* Free deleted no capability: the frames and their contents are still the VMM's. */
    for (i = 0; i < RAM_PAGES; i++) CHECK(vmm_frame_vaddr(ram.frames[i]) == pages[i]);
    CHECK(memcmp(pages[3] + 0xff8, "guestmem", 8) == 0);
    for (i = 0; i < RAM_PAGES; i++) CHECK(vmm_cap_delete(ram.frames[i]) == 0);
}

static void test_large_ram_and_rom(vm_t *vm) {
    struct counter rom_faults = {0, 0};
    seL4_CPtr large = vmm_frame_alloc(seL4_LargePageBits);
    seL4_CPtr rom = vmm_frame_alloc(seL4_PageBits);
    seL4_CPtr rom_ro = vmm_cap_copy(rom, seL4_CanRead);
    seL4_CPtr frames[1];
    vm_memory_reservation_t *big, *rom_r;
    uint8_t *rom_bytes = vmm_frame_vaddr(rom);

    CHECK(large != seL4_CapNull && rom != seL4_CapNull && rom_ro != seL4_CapNull);
    big = vm_reserve_memory_at(vm, 0x200000, 0x200000, default_error_fault_callback, NULL);
    frames[0] = large;
    CHECK(vm_map_reservation_frames(vm, big, frames, 1, seL4_LargePageBits) == 0);
    guest_write(0x3ffffc, 4, 0xcafef00d);
    CHECK_EQ(host_load((uint8_t *)vmm_frame_vaddr(large) + 0x1ffffc, 4), 0xcafef00du);

    memcpy(rom_bytes,
           "\x7f"
           "ELF",
           4);
    rom_r = vm_reserve_memory_at(vm, 0x100000, 0x1000, rom_write, &rom_faults);
    frames[0] = rom_ro;
    CHECK(vm_map_reservation_frames(vm, rom_r, frames, 1, seL4_PageBits) == 0);
    CHECK_EQ(guest_read(0x100000, 4), host_load("\x7f"
                                                "ELF",
                                                4));
    guest_write(0x100000, 2, 0xdead);
    CHECK_EQ(rom_faults.calls, 1u);
    CHECK_EQ(rom_faults.last_data, 0xdeadu);
    CHECK_EQ(guest_read(0x100000, 4), host_load("\x7f"
                                                "ELF",
                                                4)); /* the write was ignored */

    CHECK(vm_free_reserved_memory(vm, big) == 0);
    CHECK(vm_free_reserved_memory(vm, rom_r) == 0);
    CHECK(vmm_cap_delete(large) == 0);
    CHECK(vmm_cap_delete(rom_ro) == 0);
    CHECK(vmm_cap_delete(rom) == 0);
}

struct lazy {
    seL4_CPtr frame;
    unsigned calls;
};

static vm_frame_t lazy_iterator(uintptr_t addr, void *cookie) {
    struct lazy *lazy = cookie;
    vm_frame_t frame;
    lazy->calls++;
    frame.cptr = lazy->frame;
    frame.rights = seL4_AllRights;
    frame.vaddr = addr;
    frame.size_bits = seL4_PageBits;
    return frame;
}

static void test_lazy_anonymous_ram(vm_t *vm) {
    struct lazy lazy;
    vm_memory_reservation_t *r;
    uintptr_t addr = 0;

    lazy.frame = vmm_frame_alloc(seL4_PageBits);
    lazy.calls = 0;
    CHECK(vm_memory_make_anon(vm, 0x40000000, 0x100000) == 0);
    r = vm_reserve_anon_memory(vm, 0x1000, 0x10000, default_error_fault_callback, NULL, &addr);
    CHECK(r != NULL);
    CHECK(addr >= 0x40000000 && addr < 0x40100000 && (addr & 0xffff) == 0);
    vm_set_deferred_mapping(vm, true);
    CHECK(vm_map_reservation(vm, r, lazy_iterator, &lazy) == 0);
    vm_set_deferred_mapping(vm, false); /* the pending mapping stays pending */
    CHECK_EQ(lazy.calls, 0u);
    guest_write(addr + 0x10, 8, 0x1122334455667788ull);
    CHECK_EQ(lazy.calls, 1u);
    CHECK_EQ(host_load((uint8_t *)vmm_frame_vaddr(lazy.frame) + 0x10, 8), 0x1122334455667788ull);
    CHECK(vm_free_reserved_memory(vm, r) == 0);
    CHECK(vmm_cap_delete(lazy.frame) == 0);
}

int main(void) {
    struct counter stray = {0, 0};
    vm_t *vm;

    guestmem_set_log_handler(capture_log, NULL);
    vm = vm_create(VM_BACKEND_SIM);
    CHECK(vm != NULL);
    if (!vm) return 1;
    CHECK(vm_reserve_memory_at(vm, 0x1000, 0x10, default_error_fault_callback, NULL) == NULL); /* before init */
    CHECK(vm_memory_init(vm) == 0);
    cpu = vm_create_vcpu(vm, 0);
    CHECK(cpu != NULL);
    CHECK(vm_register_unhandled_mem_fault_callback(vm, unhandled, &stray) == 0);

    test_device(vm);
    test_ram(vm);
    test_large_ram_and_rom(vm);
    test_lazy_anonymous_ram(vm);

    /* Nothing left mapped: every access is stray now. */
    CHECK_EQ(guest_read(DEV_BASE, 4), 0xffffffffu);
    CHECK_EQ(guest_read(0x0, 8), ~(uint64_t)0);
    CHECK_EQ(stray.calls, 2u);

    vm_destroy(vm);
    guestmem_set_log_handler(NULL, NULL);
    printf("c99_device_test: %u checks, %u failed\n", checks_run, checks_failed);
    return checks_failed == 0 ? 0 : 1;
}
