// SPDX-License-Identifier: BSD-2-Clause
/*
 * Client code including a header neither guestmem nor its porting stubs
 * have: the porting check must report it as not compiling, naming the header.
 */
#include <sel4vm/guest_memory.h>

#include <porting_check/absent.h>

int uses_the_absent_header(vm_t *vm) { return vm_memory_init(vm); }
