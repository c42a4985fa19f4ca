//! Tstat's RRD files (`-R rrd.conf -r DIR`): per histogram and dump, selected statistics of
//! the interval written into round-robin databases with librrd (through `rrd-sys`).
//!
//! - [`conf`]: the `-R` file ([`RrdConf`]).
//! - [`values`]: what Tstat writes for each statistic (`avg min max var stdev hit idx<v>
//!   idxoth prc<p>`), from a merged interval and the statistics since the last update.
//! - [`writer`]: [`RrdWriter`], the thread that creates and updates the files, fed complete
//!   intervals through a bounded queue (full: the interval is dropped for RRD and counted).
//!
//! Owns no clock: the update time is the interval's end (the packet time of the dump). Does not
//! collect anything: the caller turns the histograms on ([`RrdConf::enable`]) and hands over
//! every complete interval, in order, as `analyze` does from its log writer.

pub mod conf;
pub mod values;
pub mod writer;

pub use conf::{RrdConf, RrdEntry};
pub use writer::{RrdSender, RrdSummary, RrdWriter};
