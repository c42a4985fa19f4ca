/* One line per static-inline DPDK function the engine calls (see shim.h). */
#include <rte_config.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_lcore.h>
#include <rte_cycles.h>
#include "shim.h"

int shim_rte_errno(void) { return rte_errno; }
uint16_t shim_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n) {
    return rte_eth_rx_burst(port, queue, pkts, n);
}
int shim_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **pkts, unsigned n) {
    return rte_pktmbuf_alloc_bulk(mp, pkts, n);
}
void shim_pktmbuf_free(struct rte_mbuf *m) { rte_pktmbuf_free(m); }
char *shim_pktmbuf_append(struct rte_mbuf *m, uint16_t len) { return rte_pktmbuf_append(m, len); }
unsigned shim_ring_enqueue_burst(struct rte_ring *r, struct rte_mbuf **pkts, unsigned n) {
    return rte_ring_enqueue_burst(r, (void *const *)pkts, n, NULL);
}
unsigned shim_ring_count(const struct rte_ring *r) { return rte_ring_count(r); }
uint16_t shim_mbuf_refcnt_update(struct rte_mbuf *m, int16_t v) { return rte_mbuf_refcnt_update(m, v); }
uint16_t shim_mbuf_refcnt_read(const struct rte_mbuf *m) {
    /* Acquire: whatever the last other holder did with the mbuf happened before its release
     * (rte_pktmbuf_free's decrement), and is visible once the count is seen at 1. */
    return __atomic_load_n(&m->refcnt, __ATOMIC_ACQUIRE);
}
unsigned shim_lcore_id(void) { return rte_lcore_id(); }
uint64_t shim_rdtsc(void) { return rte_rdtsc(); }
