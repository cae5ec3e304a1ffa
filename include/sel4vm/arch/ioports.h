// SPDX-License-Identifier: BSD-2-Clause
/**
 * @file
 * libsel4vm's x86 port I/O interface: handlers for ranges of I/O ports that
 * the guest reaches with IN and OUT (and INS/OUTS, one call per element),
 * and a callback for ports no handler takes.
 *
 * The table is per VM and serves every vCPU of the VM, those created before
 * and after a handler is added; it may change while vCPUs run (the next
 * access sees the change). Handlers and the callback run on the thread that
 * runs the accessing vCPU (vcpu_run, vm_run's threads), in the middle of the
 * guest's instruction: they may read the vCPU's registers
 * (<sel4vm/arch/guest_x86_context.h>), call vcpu_request_exit, vm_stop or
 * vm_notify, and add handlers, but not change registers. Calls for
 * different vCPUs may overlap. On the sim backend, vm_sim_port_access
 * (<sel4vm/guestmem.h>) performs an access as a guest would.
 *
 * An access goes, in this order, to the handler whose range holds the port;
 * if there is none, or it returns IO_FAULT_UNHANDLED (or has no function for
 * that direction), to the unhandled-port callback; if there is none, or it
 * returns IO_FAULT_UNHANDLED, the access is an error. IO_FAULT_ERROR, or any
 * value that is not an ioport_fault_result_t, is an error too. An error
 * stops the vCPU's run with VM_STOP_PORT_IO_ERROR (the run result names the
 * port) and a log line saying which.
 * libsel4vm differs in two places: there a handler's IO_FAULT_UNHANDLED makes
 * an IN read all ones without asking the callback, and with no callback an
 * access to a port without a handler is ignored (IN reads all ones). A
 * callback that sets *value to all ones for IN and returns IO_FAULT_HANDLED
 * gives libsel4vm's behaviour for ports without a handler.
 *
 * x86-64 VMs only: the functions refuse a VM of AArch64 guests.
 */
#ifndef SEL4VM_ARCH_IOPORTS_H
#define SEL4VM_ARCH_IOPORTS_H

#include <guestmem/export.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sel4vm/guest_vm_types.h>
#include <sel4vm/sel4_compat.h>

#ifdef __cplusplus
extern "C" {
#endif

/** What a port handler or the unhandled-port callback did with an access. */
typedef enum ioport_fault_result {
    IO_FAULT_HANDLED,   /**< done (for IN, the value is set) */
    IO_FAULT_UNHANDLED, /**< not this handler's: pass it on (see the file comment) */
    IO_FAULT_ERROR      /**< the access fails: the run stops with VM_STOP_PORT_IO_ERROR */
} ioport_fault_result_t;

/**
 * Handles an IN from a port of the handler's range.
 * @param vcpu    the vCPU executing the IN
 * @param cookie  the interface's cookie
 * @param port_no the port read
 * @param size    1, 2 or 4 bytes
 * @param result  receives the value read (0 on entry; bits beyond `size`
 *                bytes are dropped)
 * @return what the handler did
 */
typedef ioport_fault_result_t (*vm_ioport_in_fn)(vm_vcpu_t *vcpu, void *cookie, unsigned int port_no, unsigned int size,
                                                 unsigned int *result);

/**
 * Handles an OUT to a port of the handler's range.
 * @param vcpu    the vCPU executing the OUT
 * @param cookie  the interface's cookie
 * @param port_no the port written
 * @param size    1, 2 or 4 bytes
 * @param value   the value written (its low `size` bytes; the rest 0)
 * @return what the handler did
 */
typedef ioport_fault_result_t (*vm_ioport_out_fn)(vm_vcpu_t *vcpu, void *cookie, unsigned int port_no,
                                                  unsigned int size, unsigned int value);

/**
 * Handles an access that no handler took (vm_register_unhandled_ioport_callback).
 * @param vcpu    the vCPU executing the IN or OUT
 * @param port_no the port
 * @param is_in   true for IN, false for OUT
 * @param value   IN: receives the value read (0 on entry); OUT: the value
 *                written (low `size` bytes)
 * @param size    1, 2 or 4 bytes
 * @param cookie  the callback's cookie
 * @return what the callback did; IO_FAULT_UNHANDLED is an error
 */
typedef ioport_fault_result_t (*unhandled_ioport_callback_fn)(vm_vcpu_t *vcpu, unsigned int port_no, bool is_in,
                                                              unsigned int *value, size_t size, void *cookie);

/** Ports start to end, both included. */
typedef struct vm_ioport_range {
    uint16_t start; /**< first port */
    uint16_t end;   /**< last port (at least start) */
} vm_ioport_range_t;

/** A port range's handlers. */
typedef struct vm_ioport_interface {
    void *cookie;              /**< passed to both functions */
    vm_ioport_in_fn port_in;   /**< IN; NULL passes every IN on as unhandled */
    vm_ioport_out_fn port_out; /**< OUT; NULL passes every OUT on as unhandled */
    const char *desc;          /**< for log lines (copied; may be NULL) */
} vm_ioport_interface_t;

/** A range with its handlers (libsel4vm keeps its table as these). */
typedef struct vm_ioport_entry {
    vm_ioport_range_t range;         /**< the ports */
    vm_ioport_interface_t interface; /**< their handlers */
} vm_ioport_entry_t;

/**
 * libsel4vm's table type, for code that names it. guestmem keeps its table
 * inside the library and never fills one of these.
 */
typedef struct vm_io_list {
    int num_ioports;            /**< entries */
    vm_ioport_entry_t *ioports; /**< sorted by start */
} vm_io_port_list_t;

/**
 * Adds handlers for the ports of `ioport_range`. There is no removal (as in
 * libsel4vm); handlers live as long as the VM. Thread safe; may be called
 * while the VM's vCPUs run, and from handlers.
 * @param vm               the VM (of x86-64 guests)
 * @param ioport_range     the ports, start <= end
 * @param ioport_interface the handlers: at least one of port_in and port_out
 * @return 0; -1 (logged, nothing changed) for a NULL or destroyed vm, a VM
 *         of AArch64 guests, start > end, both functions NULL, or a range
 *         that overlaps one added before (the log line names both).
 */
GUESTMEM_API int vm_io_port_add_handler(vm_t *vm, vm_ioport_range_t ioport_range,
                                        vm_ioport_interface_t ioport_interface);

/**
 * Sets the callback for port accesses no handler took (see the file
 * comment), replacing an earlier one. Thread safe; may be called while the
 * VM's vCPUs run.
 * @param vm              the VM (of x86-64 guests)
 * @param ioport_callback the callback (non-NULL)
 * @param cookie          passed to it
 * @return 0; -1 (logged, nothing changed) for a NULL or destroyed vm, a VM
 *         of AArch64 guests, or a NULL callback.
 */
GUESTMEM_API int vm_register_unhandled_ioport_callback(vm_t *vm, unhandled_ioport_callback_fn ioport_callback,
                                                       void *cookie);

/*
 * libsel4vm's vm_enable_passthrough_ioport (letting the guest reach host
 * ports directly, through an seL4 IOPort capability) is left out: KVM and the
 * emulator cannot hand host ports to a guest. A VMM that must reach a host
 * port does it from a handler (ioperm(2), then inb/outb, as root).
 */

#ifdef __cplusplus
}
#endif

#endif /* SEL4VM_ARCH_IOPORTS_H */
