/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Porting-check stub of libethdrivers' <ethdrivers/raw.h>: the raw Ethernet
 * driver interface (a driver's functions, the client's callbacks), with
 * libethdrivers' names and signatures.
 */
#ifndef GUESTMEM_STUB_ETHDRIVERS_RAW_H
#define GUESTMEM_STUB_ETHDRIVERS_RAW_H

#include <stdint.h>
#include <stdlib.h>

#include <platsupport/io.h>

#ifdef __cplusplus
extern "C" {
#endif

struct eth_driver;

/* What raw_tx did with the buffers. */
#define ETHIF_TX_ENQUEUED 0
#define ETHIF_TX_FAILED -1
#define ETHIF_TX_COMPLETE 1

typedef int (*ethif_raw_tx)(struct eth_driver *driver, unsigned int num, uintptr_t *phys, unsigned int *len,
                            void *cookie);
typedef void (*ethif_raw_handleIRQ_t)(struct eth_driver *driver, int irq);
typedef void (*ethif_low_level_init_t)(struct eth_driver *driver, uint8_t *mac, int *mtu);
typedef void (*ethif_print_state_t)(struct eth_driver *driver);
typedef void (*ethif_raw_poll)(struct eth_driver *driver);
typedef uintptr_t (*ethif_raw_allocate_rx_buf)(void *cb_cookie, size_t buf_size, void **cookie);
typedef void (*ethif_raw_rx_complete)(void *cb_cookie, unsigned int num_bufs, void **cookies, unsigned int *lens);
typedef void (*ethif_raw_tx_complete)(void *cb_cookie, void *cookie);
typedef int (*ethif_driver_init)(struct eth_driver *driver, ps_io_ops_t io_ops, void *config);
typedef void (*ethif_get_mac)(struct eth_driver *driver, uint8_t *mac);

/* The driver's side. */
struct raw_iface_funcs {
    ethif_raw_tx raw_tx;
    ethif_raw_handleIRQ_t raw_handleIRQ;
    ethif_raw_poll raw_poll;
    ethif_print_state_t print_state;
    ethif_low_level_init_t low_level_init;
    ethif_get_mac get_mac;
};

/* The client's side. */
struct raw_iface_callbacks {
    ethif_raw_tx_complete tx_complete;
    ethif_raw_rx_complete rx_complete;
    ethif_raw_allocate_rx_buf allocate_rx_buf;
};

struct eth_driver {
    void *eth_data;
    struct raw_iface_funcs i_fn;
    struct raw_iface_callbacks i_cb;
    void *cb_cookie;
    ps_io_ops_t io_ops;
    int dma_alignment;
};

#ifdef __cplusplus
}
#endif

#endif /* GUESTMEM_STUB_ETHDRIVERS_RAW_H */
