//! Live log writing: the writer of `tstat-dpdk start`, with Tstat's live directory rotation.
//!
//! Tstat, capturing live, flushes every `max_time_step` (300 s) of *traffic* time, at the
//! first packet more than that after the previous flush, and opens a new `<date>.out` every
//! `dirs` (12) flushes, named after the packet time of that moment; flows are written into
//! whatever directory is current when they end. The writer follows the same packet clock: the
//! latest capture time any core has published, or any record has carried. Rotation never
//! depends on the wall clock, so a replay and the live capture of the same traffic rotate alike.

use crate::conf::Runtime;
use crate::output::LogSet;
use engine::record::FlowRecord;
use engine::time::Timestamp;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Rotation parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Traffic time between flushes (Tstat's `max_time_step`).
    pub flush_interval: Duration,
    /// Flushes per directory (Tstat's `dirs`).
    pub flushes_per_dir: u32,
}

impl Default for Rotation {
    fn default() -> Self {
        Rotation {
            flush_interval: Duration::from_secs(300),
            flushes_per_dir: 12,
        }
    }
}

/// The log writer of a live run.
pub struct LiveWriter {
    root: PathBuf,
    runtime: Runtime,
    gzip: bool,
    rotation: Rotation,
    logs: Option<LogSet>,
    clock: Timestamp,
    last_flush: Timestamp,
    flushes: u32,
    dirs: Vec<PathBuf>,
    written: u64,
}

impl LiveWriter {
    /// A writer creating `<root>/<date>.out` directories; nothing is created before the first
    /// packet time is known.
    pub fn new(root: &Path, runtime: Runtime, gzip: bool, rotation: Rotation) -> LiveWriter {
        LiveWriter {
            root: root.to_path_buf(),
            runtime,
            gzip,
            rotation,
            logs: None,
            clock: Timestamp::ZERO,
            last_flush: Timestamp::ZERO,
            flushes: 0,
            dirs: Vec::new(),
            written: 0,
        }
    }

    /// Moves the packet clock forward to `now` (earlier times are ignored), opening the first
    /// directory or rotating as Tstat does.
    pub fn advance(&mut self, now: Timestamp) -> anyhow::Result<()> {
        if now <= self.clock {
            return Ok(());
        }
        self.clock = now;
        if self.logs.is_none() {
            self.open(now)?;
            self.last_flush = now;
            return Ok(());
        }
        let step = self.rotation.flush_interval.as_micros() as i64;
        if now.0 - self.last_flush.0 > step {
            self.last_flush = now;
            self.flushes += 1;
            if self.flushes >= self.rotation.flushes_per_dir {
                self.flushes = 0;
                if let Some(old) = self.logs.take() {
                    old.finish()?;
                }
                self.open(now)?;
            }
        }
        Ok(())
    }

    fn open(&mut self, at: Timestamp) -> anyhow::Result<()> {
        let logs = LogSet::create(&self.root, at, &self.runtime, self.gzip, true, None)?;
        self.dirs.push(logs.dir().to_path_buf());
        self.logs = Some(logs);
        Ok(())
    }

    /// Writes one record into the current directory.
    pub fn write(&mut self, rec: &FlowRecord) -> anyhow::Result<()> {
        self.advance(record_time(rec))?;
        if let Some(l) = &mut self.logs {
            l.write(rec)?;
            self.written += 1;
        }
        Ok(())
    }

    /// Whether a directory is open (a packet time has been seen).
    pub fn is_open(&self) -> bool {
        self.logs.is_some()
    }

    /// Records written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Closes the current directory; returns every directory written.
    pub fn finish(mut self) -> anyhow::Result<Vec<PathBuf>> {
        if let Some(l) = self.logs.take() {
            l.finish()?;
        }
        Ok(self.dirs)
    }
}

/// The packet time at which a record was produced (its flow's or message's last time).
pub fn record_time(rec: &FlowRecord) -> Timestamp {
    match rec {
        FlowRecord::Tcp(t) => t.last,
        FlowRecord::Udp(u) => u.dirs[0].last.max(u.dirs[1].last),
        FlowRecord::Http(m) | FlowRecord::Dns(m) => m.time,
        FlowRecord::Periodic(p) => p.last,
        #[allow(unreachable_patterns)]
        _ => Timestamp::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_after_the_configured_flushes_of_traffic_time() {
        let root = std::env::temp_dir().join(format!("tstat-live-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let rot = Rotation {
            flush_interval: Duration::from_secs(300),
            flushes_per_dir: 2,
        };
        let mut w = LiveWriter::new(&root, Runtime::default(), false, rot);
        let t0 = 1_600_000_000_000_000i64; // 2020-09-13 12:26:40 UTC
        let min = 60_000_000i64;
        w.advance(Timestamp(t0)).unwrap();
        // 5 minutes exactly is not "more than" a step: no flush.
        w.advance(Timestamp(t0 + 5 * min)).unwrap();
        w.advance(Timestamp(t0 + 5 * min + 1)).unwrap(); // flush 1
        w.advance(Timestamp(t0 + 8 * min)).unwrap();
        w.advance(Timestamp(t0 + 11 * min)).unwrap(); // flush 2: new directory
        w.advance(Timestamp(t0 + 7 * min)).unwrap(); // the clock never goes back
        let dirs = w.finish().unwrap();
        assert_eq!(dirs.len(), 2, "{dirs:?}");
        assert_eq!(
            dirs[1].file_name().unwrap().to_str().unwrap(),
            crate::output::dir_name(Timestamp(t0 + 11 * min))
        );
        for d in &dirs {
            assert!(d.join("log_tcp_complete").exists());
        }
        let _ = std::fs::remove_dir_all(&root);
    }
}
