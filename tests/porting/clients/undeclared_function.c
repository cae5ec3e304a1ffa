// SPDX-License-Identifier: BSD-2-Clause
/*
 * Client code calling a function no header declares: the porting check must
 * report it as not compiling, naming the function (an implicit declaration
 * is an error there, as a function guestmem lacks would fail to link).
 */
#include <sel4vm/guest_memory.h>

int calls_an_undeclared_function(vm_t *vm) { return vm_porting_check_absent_function(vm); }
