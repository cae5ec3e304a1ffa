// SPDX-License-Identifier: BSD-2-Clause
// The TLS model of the thread_locals every guest access reads.
#pragma once

// In a shared library the default (global-dynamic) model reaches a
// thread_local through a __tls_get_addr call on every use; initial-exec reads
// it at a fixed offset from the thread pointer. The few words marked with it
// fit in the static TLS that glibc reserves for libraries loaded by dlopen.
#define GUESTMEM_HOT_TLS [[gnu::tls_model("initial-exec")]]
