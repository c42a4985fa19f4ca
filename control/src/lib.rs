//! The tstat-dpdk control plane: Tstat log formats and writers, configuration files, and the
//! orchestration of `analyze` (reader, workers, writer).
//!
//! Depends on `engine` records and statistics only; the engine never depends on this crate.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod analyze;
pub mod appconf;
pub mod conf;
pub mod cryptopan;
pub mod histo;
pub mod live;
pub mod logs;
pub mod metrics;
pub mod mplane;
pub mod output;
pub mod plane;
pub mod render;
pub mod repository;
pub mod start;
#[cfg(feature = "dpdk")]
mod start_dpdk;
mod start_pcap;
pub mod supervise;
pub mod tap;
#[cfg(test)]
mod testutil;
