// SPDX-License-Identifier: BSD-2-Clause
/**
 * @file
 * guestmem's platform part: creating VMs and vCPUs, the VMM's frames and
 * capabilities, loading and booting guests, running vCPUs one at a time, and
 * the hypervisor-free backend. These names are guestmem's own; libsel4vm gets
 * the equivalent from seL4 and its VMM setup code.
 */
#ifndef SEL4VM_GUESTMEM_H
#define SEL4VM_GUESTMEM_H

#include <guestmem/export.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sel4vm/boot.h>
#include <sel4vm/guest_irq_controller.h>
#include <sel4vm/guest_memory.h>
#include <sel4vm/guest_vm.h>
#include <sel4vm/guest_vm_exits.h>
#include <sel4vm/sel4_compat.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Which hypervisor a VM runs on. */
typedef enum {
    VM_BACKEND_SIM = 0, /**< no hypervisor: accesses are performed with vm_sim_access */
    VM_BACKEND_KVM = 1, /**< a real VM on /dev/kvm */
    VM_BACKEND_EMU = 2, /**< a CPU emulator: guests on any host, without /dev/kvm */
    VM_BACKEND_AUTO = 3 /**< VM_BACKEND_KVM where /dev/kvm works, VM_BACKEND_EMU otherwise */
} vm_backend_t;

/**
 * Creates a VM whose guests are of the host's architecture. Its memory
 * interface needs vm_memory_init before use. Thread safe.
 * @param backend VM_BACKEND_SIM, VM_BACKEND_KVM, VM_BACKEND_EMU or VM_BACKEND_AUTO
 * @return the VM; NULL, with a logged reason, on failure (unknown backend, a
 *         backend not built into the library or unusable here, e.g. no /dev/kvm).
 */
GUESTMEM_API vm_t *vm_create(vm_backend_t backend);
/**
 * Destroys a VM: frees every reservation, mapping, vCPU and RAM frame it
 * allocated. No vCPU may be running and no other thread may use the VM.
 * @param vm the VM (an invalid handle is logged and ignored)
 */
GUESTMEM_API void vm_destroy(vm_t *vm);
/**
 * libsel4vm's DEFER_MEMORY_MAP at run time: later vm_map_reservation* calls
 * (and RAM registrations) map on the first fault in the reservation instead.
 * Thread safe.
 * @param vm       the VM
 * @param deferred true to defer mapping, false to map at once
 */
GUESTMEM_API void vm_set_deferred_mapping(vm_t *vm, bool deferred);

/** The architecture of a VM's guests. */
typedef enum {
    VM_ARCH_X86_64 = 0, /**< x86-64 */
    VM_ARCH_AARCH64 = 1 /**< AArch64 */
} vm_arch_t;

/**
 * Creates a VM whose guests are of architecture `arch` (vm_create takes the
 * host's). VM_BACKEND_EMU runs either architecture on any host; KVM only the
 * host's. Thread safe.
 * @return the VM; NULL (logged) on the errors of vm_create, an unknown arch,
 *         or a backend that cannot run `arch` here.
 */
GUESTMEM_API vm_t *vm_create_arch(vm_backend_t backend, vm_arch_t arch);
/**
 * The architecture of the VM's guests. Thread safe.
 * @return it; VM_ARCH_X86_64 (logged) for a NULL or destroyed vm.
 */
GUESTMEM_API vm_arch_t vm_get_arch(vm_t *vm);
/**
 * Names the VM: vm->vm_name becomes a copy of `name` (libsel4vm's vm_init
 * takes the name). Not while another thread reads vm->vm_name.
 * @param vm   the VM
 * @param name printable ASCII, 1 to 63 bytes
 * @return 0; -1 (logged, nothing changed) for a NULL or destroyed vm, a NULL,
 *         empty, too long or unprintable name.
 */
GUESTMEM_API int vm_set_name(vm_t *vm, const char *name);
/**
 * Delivers a notification to the VM: the vm_run running on it (or the next
 * one) calls the notification callback with `badge` and a message info
 * labelled `label`, on its own thread, in the order they were delivered. It
 * is how a device thread hands work to the VMM's thread, as a notification
 * badge does in libsel4vm. Thread safe; may be called from fault callbacks.
 * @return 0; -1 (logged) for a NULL or destroyed vm, or with no notification
 *         callback registered.
 */
GUESTMEM_API int vm_notify(vm_t *vm, seL4_Word badge, seL4_Word label);
/**
 * Stops every vCPU of the VM that runs (vm_run or vcpu_run) at its next
 * instruction boundary, or before its next run if none runs; they stop with
 * VM_STOP_STOPPED. Thread safe; may be called from fault and notification
 * callbacks.
 * @return 0; -1 (logged) for a NULL or destroyed vm.
 */
GUESTMEM_API int vm_stop(vm_t *vm);

/* Loading and booting guests. */

/**
 * Loads a guest image into the VM's guest RAM: an ELF64 executable for the
 * VM's architecture by its PT_LOAD segments (at their physical addresses;
 * memory beyond a segment's file bytes is zeroed), anything else as a flat
 * binary at `flat_load_addr`. Every segment must lie in guest RAM the VMM can
 * write (the vm_ram_register* calls). Sets vm->entry. Thread safe.
 * @param vm             the VM (vm_memory_init done)
 * @param path           the image file (a regular file of at most 1 GiB)
 * @param flat_load_addr where a flat binary goes (and is entered)
 * @param entry          receives the entry point (ELF e_entry, or flat_load_addr); may be NULL
 * @return 0; -1 (logged: unreadable file, an ELF file for another machine, a
 *         malformed segment, a segment outside guest RAM) on error; guest
 *         memory may then hold part of the image.
 */
GUESTMEM_API int vm_load_guest_image(vm_t *vm, const char *path, uintptr_t flat_load_addr, uintptr_t *entry);

/**
 * How vcpu_boot starts a guest, the same way on every backend:
 * - x86-64: 64-bit long mode at `entry`, paging on identity-mapping tables
 *   written at `x86_tables`, interrupts off, no IDT; args in rdi, rsi, rdx,
 *   rcx. With `x86_real_mode`, 16-bit real mode instead: CS = DS = ES = SS =
 *   entry >> 4, IP = 0, SP = stack, args in DI, SI, DX, CX (no tables).
 * - AArch64: EL1h, MMU off, D, A, I, F masked, PC = entry, SP = stack, args
 *   in x0 to x3.
 */
typedef struct {
    uint64_t entry;   /**< first instruction */
    uint64_t stack;   /**< initial stack pointer */
    uint64_t args[4]; /**< the first four argument registers */
    /**
     * x86-64 long mode: page-aligned guest RAM for the GDT, TSS and page
     * tables (vm_x86_boot_tables_size(identity_bytes) bytes). Boot every
     * vCPU of a VM before any of them runs: each boot writes the tables.
     */
    uint64_t x86_tables;
    uint64_t
        identity_bytes; /**< x86-64: bytes identity-mapped from 0, a multiple of 1 GiB up to 512 GiB; 0 for 4 GiB */
    bool x86_real_mode; /**< x86: start in 16-bit real mode (entry 16-byte aligned, below 1 MiB) */
} vm_boot_spec_t;

/**
 * Bytes of guest RAM the x86-64 boot tables take for `identity_bytes`
 * (0 for 4 GiB). Pure function; thread safe.
 */
GUESTMEM_API uint64_t vm_x86_boot_tables_size(uint64_t identity_bytes);
/**
 * Sets the vCPU's registers and system state to start a guest as `spec`
 * says. Not while the vCPU runs.
 * @return 0; -1 (logged, nothing changed) for a NULL or destroyed vCPU, a
 *         NULL spec, a running vCPU, or a spec the architecture refuses
 *         (tables outside writable RAM, a misaligned real-mode entry, ...).
 */
GUESTMEM_API int vcpu_boot(vm_vcpu_t *vcpu, const vm_boot_spec_t *spec);

/* Running one vCPU, and what its last run did. */

/** Why a vCPU's run stopped (guestmem::StopReason). */
typedef enum {
    VM_STOP_HALTED = 0,         /**< the guest stopped itself: HLT (x86-64) or WFI (AArch64) */
    VM_STOP_EXITED = 1,         /**< a callback called vcpu_request_exit; see exit_status */
    VM_STOP_STOPPED = 2,        /**< vm_stop ended the run */
    VM_STOP_FAULT_ERROR = 3,    /**< a memory access ended in an error; see fault_* */
    VM_STOP_PORT_IO_ERROR = 4,  /**< an x86 port access had no handler or its handler said error; see port_* */
    VM_STOP_EXCEPTION = 5,      /**< the guest took an exception it cannot handle */
    VM_STOP_INTERNAL_ERROR = 6, /**< the hypervisor or emulator could not go on */
    VM_STOP_ENTRY_FAILED = 7,   /**< the CPU refused to enter the guest (invalid guest state) */
    VM_STOP_UNEXPECTED_EXIT = 8 /**< an exit this backend does not handle */
} vm_stop_reason_t;

/** What a vCPU's run did. */
typedef struct {
    vm_stop_reason_t reason; /**< why it stopped */
    int64_t exit_status;     /**< VM_STOP_EXITED: the status given to vcpu_request_exit */
    uint64_t ip;             /**< the guest's instruction pointer when it stopped */
    bool has_fault;          /**< VM_STOP_FAULT_ERROR: the fault_* members describe the access */
    uint64_t fault_addr;     /**< its guest-physical address */
    uint32_t fault_size;     /**< its size in bytes */
    bool fault_is_write;     /**< true for a write */
    bool has_port;           /**< VM_STOP_PORT_IO_ERROR: the port_* members describe the access */
    uint16_t port;           /**< the I/O port */
    uint8_t port_size;       /**< 1, 2 or 4 bytes */
    bool port_is_write;      /**< true for OUT */
    uint64_t exits;          /**< returns to the VMM during the run */
    uint64_t mmio_exits;     /**< of which accesses to unmapped or read-only memory */
    uint64_t port_io_exits;  /**< of which x86 port accesses */
    char message[256]; /**< for people: why the run stopped, NUL-terminated, truncated to fit ("" for halted and exited)
                        */
} vm_run_result_t;

/**
 * Runs the vCPU on the calling thread until it stops (the guest halts or
 * exits, vm_stop, or an error). Fault callbacks of its accesses run on this
 * thread. Run each vCPU on one thread at a time; vm_run runs every started
 * vCPU this way on threads of its own.
 * @param vcpu   the vCPU (booted)
 * @param result receives what the run did; may be NULL (vcpu_get_run_result has it too)
 * @return 0 if the guest halted or exited or vm_stop stopped it; -1 if it
 *         stopped in error (result says why) or (logged, result untouched) for a NULL or
 *         destroyed vCPU or one running already.
 */
GUESTMEM_API int vcpu_run(vm_vcpu_t *vcpu, vm_run_result_t *result);
/**
 * What the vCPU's last run (vcpu_run or vm_run) did. Thread safe.
 * @return 0; -1 (logged) for a NULL or destroyed vCPU, a NULL result, or a
 *         vCPU that has not run yet.
 */
GUESTMEM_API int vcpu_get_run_result(vm_vcpu_t *vcpu, vm_run_result_t *result);
/**
 * Ends the vCPU's current run once the access being handled completes: the
 * run stops with VM_STOP_EXITED and `status`. Call it from a fault callback
 * of that vCPU (for example a device register the guest writes its exit
 * status to).
 * @return 0; -1 (logged) for a NULL or destroyed vCPU.
 */
GUESTMEM_API int vcpu_request_exit(vm_vcpu_t *vcpu, int64_t status);

/* Frames: the VMM's capability space, shared by every VM of the process. */

/**
 * Allocates a zeroed frame with all rights. Thread safe.
 * @param size_bits log2 of the frame size: 12, 21 or 30
 * @return its capability; seL4_CapNull on failure (bad size, no memory).
 */
GUESTMEM_API seL4_CPtr vmm_frame_alloc(size_t size_bits);
/**
 * A new capability to the same frame. Thread safe.
 * @param cap    a live capability
 * @param rights the rights wanted, intersected with cap's (rights only shrink)
 * @return the new capability; seL4_CapNull if cap is not live.
 */
GUESTMEM_API seL4_CPtr vmm_cap_copy(seL4_CPtr cap, seL4_CapRights_t rights);
/**
 * Deletes a capability; the frame lives on while mapped or named by another.
 * Thread safe.
 * @param cap a live capability
 * @return 0, or -1 if cap is not live.
 */
GUESTMEM_API int vmm_cap_delete(seL4_CPtr cap);
/**
 * The VMM's own view of the frame (valid while the frame lives). Thread safe.
 * @param cap a live capability
 * @return the frame's first byte; NULL for a dead capability.
 */
GUESTMEM_API void *vmm_frame_vaddr(seL4_CPtr cap);

/**
 * The hypervisor-free backend: performs one guest-physical access of len
 * bytes (1, 2, 4 or 8) as vCPU `vcpu` would. An access that crosses
 * reservations is performed part by part, in address order, each part by
 * its owner. Mapped frames are read or
 * written directly (honouring rights); everything else goes through fault
 * dispatch. Use each vCPU from one thread at a time.
 * @param vcpu     the vCPU (of a VM_BACKEND_SIM VM)
 * @param addr     guest-physical address
 * @param len      1, 2, 4 or 8
 * @param is_write true for a write
 * @param data     for a write the value (low len bytes); for a read it receives the value
 * @return 0 when the access completed; -1 when it ended in an error (logged).
 */
GUESTMEM_API int vm_sim_access(vm_vcpu_t *vcpu, uintptr_t addr, size_t len, bool is_write, uint64_t *data);

/* Interrupt lines (<sel4vm/guest_irq_controller.h>): what they hold, and the
 * sim backend's stand-in for the guest. */

/** One interrupt line's state. */
typedef struct {
    bool registered;       /**< vm_register_irq was called for it */
    unsigned target;       /**< the vcpu_id it was registered for */
    bool level_high;       /**< held high with vm_set_irq_level */
    bool pending;          /**< raised, not yet taken by the guest */
    bool in_service;       /**< taken by the guest, not yet ended */
    uint64_t raised;       /**< times it became pending */
    uint64_t acknowledged; /**< times the guest ended it (acknowledge callbacks) */
} vm_irq_state_t;

/**
 * Reads line `irq`'s state, on any backend. Thread safe.
 * @return 0; -1 (logged) for a NULL or destroyed vm, a VM without an
 *         interrupt controller, a line out of range, a NULL state.
 */
GUESTMEM_API int vm_get_irq_state(vm_t *vm, int irq, vm_irq_state_t *state);
/**
 * The sim backend's guest takes an interrupt: the lowest pending line of
 * `vcpu` goes from pending to in service (as QEMU's qtest drives interrupt
 * lines). Thread safe.
 * @param vcpu a vCPU of a VM_BACKEND_SIM VM with an interrupt controller
 * @param irq  receives the line taken
 * @return 0; -1 (logged) if nothing is pending, or on a bad argument.
 */
GUESTMEM_API int vm_sim_take_irq(vm_vcpu_t *vcpu, int *irq);
/**
 * The sim backend's guest ends interrupt `irq` (its end-of-interrupt): the
 * line's acknowledge callback runs on this thread; a level line still high is
 * pending again.
 * @return 0; -1 (logged) for a line not in service on `vcpu`, or on a bad argument.
 */
GUESTMEM_API int vm_sim_end_irq(vm_vcpu_t *vcpu, int irq);

/* Fast paths: device accesses that need not return to the VMM's vCPU thread. */

/**
 * Receives doorbell rings (see vm_reserve_doorbell_memory).
 * @param vm     the VM
 * @param addr   the doorbell's address
 * @param count  rings since the last call (at least 1)
 * @param cookie the cookie given with the callback
 */
typedef void (*vm_doorbell_callback_fn)(vm_t *vm, uintptr_t addr, uint64_t count, void *cookie);
/**
 * Reserves a doorbell register of `size` bytes (1, 2, 4 or 8) at `addr`: a
 * guest write of exactly `size` bytes there (of the value `value` if
 * `match_value` is true) calls `callback`; any other access is ignored (writes
 * dropped, reads 0). On KVM the writes are signalled through an eventfd
 * (KVM_IOEVENTFD) without an exit to the vCPU thread, and `callback` runs on a
 * VMM thread of the reservation (several rings may arrive as one call); on the
 * sim backend (and on a KVM without ioeventfds, with a logged warning) it runs
 * synchronously on the writing vCPU's thread. Calls never overlap. Freed with
 * vm_free_reserved_memory, which deregisters the eventfd, delivers pending
 * rings and stops the thread; the callback must not free its own doorbell.
 * The reservation cannot be mapped. Thread safe.
 * @return the reservation; NULL (logged, nothing changed) for a NULL or
 *         uninitialised vm, NULL callback, bad size, value wider than size,
 *         overlap, or a hypervisor error.
 */
GUESTMEM_API vm_memory_reservation_t *vm_reserve_doorbell_memory(vm_t *vm, uintptr_t addr, size_t size,
                                                                 bool match_value, uint64_t value,
                                                                 vm_doorbell_callback_fn callback, void *cookie);
/**
 * Reserves [addr, addr + size) for a device whose guest writes may be posted:
 * on KVM they are queued in KVM's coalesced MMIO ring without an exit and
 * handed to `fault_callback` (as write faults, on the vCPU thread that next
 * exits) in the order the guest made them, before any read of the device (or
 * any other emulated access of the VM) is dispatched. Reads reach the
 * callback at once, as with vm_reserve_memory_at. On the sim backend (and on a
 * KVM without coalesced MMIO, with a logged warning) writes are handled
 * synchronously. Freed with vm_free_reserved_memory (which unregisters the
 * zone); cannot be mapped. Thread safe.
 * @return the reservation; NULL (logged, nothing changed) on the errors of
 *         vm_reserve_memory_at or a hypervisor error.
 */
GUESTMEM_API vm_memory_reservation_t *vm_reserve_write_posting_memory(vm_t *vm, uintptr_t addr, size_t size,
                                                                      memory_fault_callback_fn fault_callback,
                                                                      void *cookie);

/** Log levels passed to a log handler. */
typedef enum {
    GUESTMEM_LOG_ERROR = 0,   /**< a call failed or a guest access ended in an error */
    GUESTMEM_LOG_WARNING = 1, /**< something suspicious that did not fail */
    GUESTMEM_LOG_INFO = 2,    /**< notable events */
    GUESTMEM_LOG_DEBUG = 3    /**< details */
} guestmem_log_level_t;
/**
 * Receives log lines; may be called from any thread at once.
 * @param level   the line's level
 * @param message the line, e.g. "vm_ram_free: [0x1000, 0x2000) is not wholly allocated" (valid during the call)
 * @param cookie  the cookie given with the handler
 */
typedef void (*guestmem_log_fn)(guestmem_log_level_t level, const char *message, void *cookie);
/**
 * Sends every log line of the process to `fn`. Thread safe.
 * @param fn     the handler; NULL restores the default (errors and warnings to stderr)
 * @param cookie passed to fn
 */
GUESTMEM_API void guestmem_set_log_handler(guestmem_log_fn fn, void *cookie);

/* Dirty-page tracking and snapshots (guestmem/snapshot.hpp for the file format). */

/**
 * Starts recording which 4 KiB pages of guest memory are written, by the
 * guest, the VMM and other VMs sharing frames (Vm::start_dirty_tracking).
 * Thread safe.
 * @return 0; -1 (logged) if already tracking, the backend cannot log its
 *         guest writes, or vm is not a live, initialised VM.
 */
GUESTMEM_API int vm_dirty_tracking_start(vm_t *vm);
/**
 * Stops recording; the pages recorded are dropped. Thread safe.
 * @return 0; -1 (logged) if not tracking.
 */
GUESTMEM_API int vm_dirty_tracking_stop(vm_t *vm);
/**
 * Collects the pages of [addr, addr + size) (page aligned) written since
 * tracking started or since they were last collected, and marks them clean.
 * Bit i of bitmap[i / 64] stands for the page at addr + i * 4096 (the layout
 * of KVM_GET_DIRTY_LOG). Thread safe.
 * @param vm           the VM
 * @param addr         the first guest-physical address (page aligned)
 * @param size         bytes (a positive multiple of 4096)
 * @param bitmap       receives the bits: its first (size / 4096 + 63) / 64 words are written
 * @param bitmap_words words at bitmap: at least (size / 4096 + 63) / 64
 * @return 0; -1 (logged, nothing collected) if not tracking, the range is
 *         unaligned or wraps, bitmap is NULL or too small.
 */
GUESTMEM_API int vm_dirty_pages(vm_t *vm, uintptr_t addr, size_t size, uint64_t *bitmap, size_t bitmap_words);

/**
 * Writes a snapshot of the VM (layout, memory, vCPU state) to `path`,
 * replaced atomically. With `parent_or_null` a diff against that file (in
 * the same folder; it must be the last snapshot saved from, or restored into,
 * this VM, with dirty tracking on since). Stop the vCPUs first.
 * @return 0; -1 (logged; nothing is left at path) on any error.
 */
GUESTMEM_API int vm_snapshot_save(vm_t *vm, const char *path, const char *parent_or_null);

/**
 * Writes the snapshot that the chain of files ending at `from` describes as
 * one full snapshot at `to` (guestmem::snapshot::merge): the same layout,
 * vCPU states and identity, each page from the newest file that has it. `to`
 * may be `from` itself, to shorten a chain in place.
 * @return 0; -1 (logged: a file of the chain unreadable, corrupt or missing,
 *         `to` not writable; nothing is left at `to`) on error.
 */
GUESTMEM_API int vm_snapshot_merge(const char *from, const char *to);

/** What a reservation of a snapshot being restored is (guestmem::snapshot::ReservationKind). */
typedef enum {
    VM_SNAPSHOT_DEVICE = 0,       /**< vm_reserve_memory_at */
    VM_SNAPSHOT_ANONYMOUS = 1,    /**< vm_reserve_anon_memory */
    VM_SNAPSHOT_RAM = 2,          /**< guest RAM (needs no callback) */
    VM_SNAPSHOT_DOORBELL = 3,     /**< vm_reserve_doorbell_memory */
    VM_SNAPSHOT_WRITE_POSTING = 4 /**< vm_reserve_write_posting_memory */
} vm_snapshot_kind_t;

/** The callbacks a restored reservation gets. */
typedef struct {
    memory_fault_callback_fn fault_callback;   /**< device, anonymous and write-posting reservations */
    vm_doorbell_callback_fn doorbell_callback; /**< doorbells */
    void *cookie;                              /**< passed to the callback */
} vm_snapshot_handler_t;

/**
 * Asked once per device, anonymous, write-posting and doorbell reservation
 * of the snapshot, before the VM is changed, for its callback.
 * @param vm      the VM being restored into
 * @param addr    the reservation's address
 * @param size    its size in bytes
 * @param kind    what it is
 * @param handler to fill in (zeroed on entry)
 * @param cookie  the cookie given to vm_snapshot_restore
 * @return 0 with the callback set; anything else fails the restore.
 */
typedef int (*vm_snapshot_handler_fn)(vm_t *vm, uintptr_t addr, size_t size, vm_snapshot_kind_t kind,
                                      vm_snapshot_handler_t *handler, void *cookie);

/**
 * Rebuilds the address space (and vCPU state, creating vCPUs as needed) of
 * the snapshot at `path` and its parents in `vm`, an initialised VM with
 * nothing where the snapshot has something. Lazy (each reservation read on
 * its first access; the files must stay in place) unless `eager`. On failure
 * nothing the restore made survives (except vCPUs it created: they stay, as
 * vCPUs do). Restored reservations have no vm_memory_reservation_t handles.
 * @return 0; -1 (logged: truncated or corrupt file, newer format, missing or
 *         mismatched parent, a layout conflicting with the VM's, a callback
 *         refused) on error.
 */
GUESTMEM_API int vm_snapshot_restore(vm_t *vm, const char *path, bool eager, vm_snapshot_handler_fn handlers,
                                     void *cookie);

/* x86 port I/O on the hypervisor-free backend. */

/**
 * The hypervisor-free backend: performs one x86 port access (an IN or OUT of
 * `size` bytes) as vCPU `vcpu` would, through the VM's port handlers
 * (<sel4vm/arch/ioports.h>: vm_io_port_add_handler and the unhandled-port
 * callback), on the calling thread. A completed access advances the vCPU's
 * instruction pointer by 4, as vm_sim_access does. Use each vCPU from one
 * thread at a time.
 * @param vcpu     the vCPU (of a VM_BACKEND_SIM VM of x86-64 guests)
 * @param port     the I/O port
 * @param size     1, 2 or 4
 * @param is_write true for OUT
 * @param data     OUT: the value (low `size` bytes); IN: receives the value read
 * @return 0 when the access completed; -1 (logged) when it ended in an error
 *         (no handler took it, or a handler returned IO_FAULT_ERROR), or for
 *         a NULL or destroyed vCPU, a NULL data, a bad size, or a vCPU that
 *         is not a sim vCPU of an x86-64 VM.
 */
GUESTMEM_API int vm_sim_port_access(vm_vcpu_t *vcpu, uint16_t port, size_t size, bool is_write, uint32_t *data);

#ifdef __cplusplus
}
#endif

#endif /* SEL4VM_GUESTMEM_H */
