/* Every DPDK header the engine's DPDK driver needs: EAL, lcores, ethdev, mbufs and their
 * dynamic fields, mempools, rings and the in-process ring device, the TSC. */
#include <rte_config.h>
#include <rte_version.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_launch.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include <rte_eth_ring.h>
#include <rte_cycles.h>
#include "shim.h"
