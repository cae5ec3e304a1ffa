/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Porting-check stub of libplatsupport's <platsupport/io.h>: struct
 * ps_io_ops, the bundle of I/O operations a VMM hands to device models
 * (vm->io_ops), with libplatsupport's member and function names.
 *
 * Allocation works on Linux: ps_malloc, ps_calloc and ps_free call the
 * ps_malloc_ops_t's functions, or the C library's malloc, calloc and free
 * where those are NULL (a zeroed ps_io_ops_t allocates with the C library),
 * and ps_new_stdlib_malloc_ops fills a ps_malloc_ops_t with the C library's.
 * The other operations (mapping, I/O ports, DMA) call the functions the VMM
 * put in the struct; there is no default for them.
 */
#ifndef GUESTMEM_STUB_PLATSUPPORT_IO_H
#define GUESTMEM_STUB_PLATSUPPORT_IO_H

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>

#include <utils/util.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The same typedef as guestmem's <sel4vm/guest_vm_types.h> (a repeated typedef is valid C11). */
typedef struct ps_io_ops ps_io_ops_t;

/* What the host will mostly do with a mapping: a hint. */
typedef enum ps_mem_flags { PS_MEM_NORMAL, PS_MEM_HR, PS_MEM_HW } ps_mem_flags_t;

/* Mapping device memory into the VMM. */
typedef void *(*ps_io_map_fn_t)(void *cookie, uintptr_t paddr, size_t size, int cached, ps_mem_flags_t flags);
typedef void (*ps_io_unmap_fn_t)(void *cookie, void *vaddr, size_t size);
typedef struct ps_io_mapper {
    void *cookie;
    ps_io_map_fn_t io_map_fn;
    ps_io_unmap_fn_t io_unmap_fn;
} ps_io_mapper_t;

static inline void *ps_io_map(const ps_io_mapper_t *mapper, uintptr_t paddr, size_t size, int cached,
                              ps_mem_flags_t flags) {
    assert(mapper != NULL && mapper->io_map_fn != NULL);
    return mapper->io_map_fn(mapper->cookie, paddr, size, cached, flags);
}

static inline void ps_io_unmap(const ps_io_mapper_t *mapper, void *vaddr, size_t size) {
    assert(mapper != NULL && mapper->io_unmap_fn != NULL);
    mapper->io_unmap_fn(mapper->cookie, vaddr, size);
}

/* I/O ports. */
typedef int (*ps_io_port_in_fn_t)(void *cookie, uint32_t port, int io_size, uint32_t *result);
typedef int (*ps_io_port_out_fn_t)(void *cookie, uint32_t port, int io_size, uint32_t val);
typedef struct ps_io_port_ops {
    void *cookie;
    ps_io_port_in_fn_t io_port_in_fn;
    ps_io_port_out_fn_t io_port_out_fn;
} ps_io_port_ops_t;

static inline int ps_io_port_in(const ps_io_port_ops_t *ops, uint32_t port, int io_size, uint32_t *result) {
    assert(ops != NULL && ops->io_port_in_fn != NULL);
    return ops->io_port_in_fn(ops->cookie, port, io_size, result);
}

static inline int ps_io_port_out(const ps_io_port_ops_t *ops, uint32_t port, int io_size, uint32_t val) {
    assert(ops != NULL && ops->io_port_out_fn != NULL);
    return ops->io_port_out_fn(ops->cookie, port, io_size, val);
}

/* DMA memory. */
typedef enum dma_cache_op { DMA_CACHE_OP_CLEAN, DMA_CACHE_OP_INVALIDATE, DMA_CACHE_OP_CLEAN_INVALIDATE } dma_cache_op_t;
typedef void *(*ps_dma_alloc_fn_t)(void *cookie, size_t size, int align, int cached, ps_mem_flags_t flags);
typedef void (*ps_dma_free_fn_t)(void *cookie, void *addr, size_t size);
typedef uintptr_t (*ps_dma_pin_fn_t)(void *cookie, void *addr, size_t size);
typedef void (*ps_dma_unpin_fn_t)(void *cookie, void *addr, size_t size);
typedef void (*ps_dma_cache_op_fn_t)(void *cookie, void *addr, size_t size, dma_cache_op_t op);
typedef struct ps_dma_man {
    void *cookie;
    ps_dma_alloc_fn_t dma_alloc_fn;
    ps_dma_free_fn_t dma_free_fn;
    ps_dma_pin_fn_t dma_pin_fn;
    ps_dma_unpin_fn_t dma_unpin_fn;
    ps_dma_cache_op_fn_t dma_cache_op_fn;
} ps_dma_man_t;

static inline void *ps_dma_alloc(const ps_dma_man_t *dma, size_t size, int align, int cached, ps_mem_flags_t flags) {
    assert(dma != NULL && dma->dma_alloc_fn != NULL);
    return dma->dma_alloc_fn(dma->cookie, size, align, cached, flags);
}

static inline void ps_dma_free(const ps_dma_man_t *dma, void *addr, size_t size) {
    assert(dma != NULL && dma->dma_free_fn != NULL);
    dma->dma_free_fn(dma->cookie, addr, size);
}

static inline uintptr_t ps_dma_pin(const ps_dma_man_t *dma, void *addr, size_t size) {
    assert(dma != NULL && dma->dma_pin_fn != NULL);
    return dma->dma_pin_fn(dma->cookie, addr, size);
}

static inline void ps_dma_unpin(const ps_dma_man_t *dma, void *addr, size_t size) {
    assert(dma != NULL && dma->dma_unpin_fn != NULL);
    dma->dma_unpin_fn(dma->cookie, addr, size);
}

static inline void ps_dma_cache_op(const ps_dma_man_t *dma, void *addr, size_t size, dma_cache_op_t op) {
    assert(dma != NULL && dma->dma_cache_op_fn != NULL);
    dma->dma_cache_op_fn(dma->cookie, addr, size, op);
}

static inline void ps_dma_cache_clean(const ps_dma_man_t *dma, void *addr, size_t size) {
    ps_dma_cache_op(dma, addr, size, DMA_CACHE_OP_CLEAN);
}

static inline void ps_dma_cache_invalidate(const ps_dma_man_t *dma, void *addr, size_t size) {
    ps_dma_cache_op(dma, addr, size, DMA_CACHE_OP_INVALIDATE);
}

static inline void ps_dma_cache_clean_invalidate(const ps_dma_man_t *dma, void *addr, size_t size) {
    ps_dma_cache_op(dma, addr, size, DMA_CACHE_OP_CLEAN_INVALIDATE);
}

/* Heap memory: each returns 0 or an errno value, the block through ptr. */
typedef int (*ps_malloc_fn_t)(void *cookie, size_t size, void **ptr);
typedef int (*ps_calloc_fn_t)(void *cookie, size_t nmemb, size_t size, void **ptr);
typedef int (*ps_free_fn_t)(void *cookie, size_t size, void *ptr);
typedef struct {
    ps_malloc_fn_t malloc;
    ps_calloc_fn_t calloc;
    ps_free_fn_t free;
    void *cookie;
} ps_malloc_ops_t;

static inline int guestmem_stub_stdlib_malloc(void *cookie, size_t size, void **ptr) {
    (void)cookie;
    *ptr = malloc(size);
    return *ptr != NULL ? 0 : ENOMEM;
}

static inline int guestmem_stub_stdlib_calloc(void *cookie, size_t nmemb, size_t size, void **ptr) {
    (void)cookie;
    *ptr = calloc(nmemb, size);
    return *ptr != NULL ? 0 : ENOMEM;
}

static inline int guestmem_stub_stdlib_free(void *cookie, size_t size, void *ptr) {
    (void)cookie;
    (void)size;
    free(ptr);
    return 0;
}

/* Fills ops with the C library's allocator. Returns 0, or EINVAL for NULL. */
static inline int ps_new_stdlib_malloc_ops(ps_malloc_ops_t *ops) {
    if (ops == NULL) {
        return EINVAL;
    }
    ops->malloc = guestmem_stub_stdlib_malloc;
    ops->calloc = guestmem_stub_stdlib_calloc;
    ops->free = guestmem_stub_stdlib_free;
    ops->cookie = NULL;
    return 0;
}

/* Allocates size bytes into *ptr. 0 on success; ENOMEM, or EINVAL for a NULL ops or ptr. */
static inline int ps_malloc(const ps_malloc_ops_t *ops, size_t size, void **ptr) {
    if (ops == NULL || ptr == NULL) {
        ZF_LOGE("ps_malloc: NULL %s", ops == NULL ? "ops" : "ptr");
        return EINVAL;
    }
    if (ops->malloc != NULL) {
        return ops->malloc(ops->cookie, size, ptr);
    }
    return guestmem_stub_stdlib_malloc(NULL, size, ptr);
}

/* Allocates nmemb * size zeroed bytes into *ptr. 0 on success; ENOMEM, or EINVAL for a NULL ops or ptr. */
static inline int ps_calloc(const ps_malloc_ops_t *ops, size_t nmemb, size_t size, void **ptr) {
    if (ops == NULL || ptr == NULL) {
        ZF_LOGE("ps_calloc: NULL %s", ops == NULL ? "ops" : "ptr");
        return EINVAL;
    }
    if (ops->calloc != NULL) {
        return ops->calloc(ops->cookie, nmemb, size, ptr);
    }
    return guestmem_stub_stdlib_calloc(NULL, nmemb, size, ptr);
}

/* Frees what ps_malloc or ps_calloc allocated (size: its size). 0, or EINVAL for a NULL ops. */
static inline int ps_free(const ps_malloc_ops_t *ops, size_t size, void *ptr) {
    if (ops == NULL) {
        ZF_LOGE("ps_free: NULL ops");
        return EINVAL;
    }
    if (ops->free != NULL) {
        return ops->free(ops->cookie, size, ptr);
    }
    return guestmem_stub_stdlib_free(NULL, size, ptr);
}

/* The platform's device tree. */
typedef char *(*ps_io_fdt_get_fn_t)(void *cookie);
typedef struct ps_fdt {
    void *cookie;
    ps_io_fdt_get_fn_t get_fn;
} ps_io_fdt_t;

static inline char *ps_io_fdt_get(const ps_io_fdt_t *io_fdt) {
    if (io_fdt == NULL || io_fdt->get_fn == NULL) {
        return NULL;
    }
    return io_fdt->get_fn(io_fdt->cookie);
}

/* Interrupts and driver interfaces: carried, not modelled here. */
typedef struct {
    void *cookie;
} ps_irq_ops_t;
typedef struct {
    void *cookie;
} ps_interface_registration_ops_t;

struct ps_io_ops {
    ps_io_mapper_t io_mapper;
    ps_io_port_ops_t io_port_ops;
    ps_dma_man_t dma_manager;
    ps_io_fdt_t io_fdt;
    ps_interface_registration_ops_t interface_registration_ops;
    ps_malloc_ops_t malloc_ops;
    ps_irq_ops_t irq_ops;
};

#ifdef __cplusplus
}
#endif

#endif /* GUESTMEM_STUB_PLATSUPPORT_IO_H */
