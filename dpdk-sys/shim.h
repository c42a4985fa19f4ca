/* Out-of-line wrappers for the static-inline DPDK functions and macros the engine calls.
 * Only burst-level or per-mbuf calls cross this shim; per-packet field reads happen in Rust. */
#ifndef TSTAT_DPDK_SHIM_H
#define TSTAT_DPDK_SHIM_H
#include <stdint.h>
struct rte_mbuf;
struct rte_mempool;
struct rte_ring;

int shim_rte_errno(void);
uint16_t shim_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
int shim_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **pkts, unsigned n);
void shim_pktmbuf_free(struct rte_mbuf *m);
char *shim_pktmbuf_append(struct rte_mbuf *m, uint16_t len);
unsigned shim_ring_enqueue_burst(struct rte_ring *r, struct rte_mbuf **pkts, unsigned n);
unsigned shim_ring_count(const struct rte_ring *r);
uint16_t shim_mbuf_refcnt_update(struct rte_mbuf *m, int16_t v);
uint16_t shim_mbuf_refcnt_read(const struct rte_mbuf *m);
unsigned shim_lcore_id(void);
uint64_t shim_rdtsc(void);
#endif
