//! The tstat-dpdk data plane.
//!
//! Owns everything between a packet and a finished flow record: packet sources (trace files
//! today, DPDK and libpcap later), zero-copy wire parsers, the per-worker flow tables and their
//! packet-time timers, Tstat's TCP and UDP statistics, and the plain-data records a worker hands
//! to the control plane through a single-producer ring. It deliberately knows nothing of log
//! files, text formatting, tokio or HTTP: that is `control`'s job.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod clock;
pub mod codec;
pub mod config;
pub mod dispatch;
#[cfg(feature = "dpdk")]
#[allow(unsafe_code)]
pub mod dpdk;
pub mod flow;
pub mod hash;
pub mod histo;
pub mod l7;
pub mod net;
pub mod record;
pub mod ring;
pub mod rx;
pub mod source;
pub mod stats;
pub mod tcp;
pub mod time;
pub mod udp;
pub mod wire;
pub mod worker;
