//! Live log writing: the writer of `tstat-dpdk start`, with Tstat's live directory rotation.
//!
//! Tstat, capturing live, flushes every `max_time_step` (300 s) of *traffic* time, at the
//! first packet more than that after the previous flush, and opens a new `<date>.out` every
//! `dirs` (12) flushes, named after the packet time of that moment; flows are written into
//! whatever directory is current when they end. The writer follows the same packet clock: the
//! latest capture time any core has published, or any record has carried. Rotation never
//! depends on the wall clock, so a replay and the live capture of the same traffic rotate alike.

use crate::conf::Runtime;
use crate::output::{FileLength, LogSet};
use anyhow::Context;
use engine::record::FlowRecord;
use engine::time::Timestamp;
use serde::{Deserialize, Serialize};
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

/// Where a [`LiveWriter`] stands: enough to go on after a restart exactly where it was
/// checkpointed (the control plane saves it with its ring positions).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveState {
    /// The directory being written and its logs' lengths.
    pub dir: Option<PathBuf>,
    /// Name and length of each log of `dir`.
    pub files: Vec<FileLength>,
    /// Packet clock (µs).
    pub clock: i64,
    /// Packet time of the last flush (µs).
    pub last_flush: i64,
    /// Flushes since `dir` was opened.
    pub flushes: u32,
    /// Every directory written.
    pub dirs: Vec<PathBuf>,
    /// Records written.
    pub written: u64,
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
    tap: Option<std::sync::Arc<crate::tap::Tap>>,
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
            tap: None,
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
        // Tstat names a directory after the packet time it opens at and wipes one of the same
        // name; a directory this run already wrote (a switch change or a short rotation within
        // the same minute) is kept and the new one gets a suffix instead.
        let name = crate::output::dir_name(at);
        let mut dir = self.root.join(&name);
        let mut n = 1;
        while self.dirs.contains(&dir) {
            n += 1;
            dir = self
                .root
                .join(format!("{}-{n}.out", name.trim_end_matches(".out")));
        }
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| {
                format!(
                    "{}: cannot replace existing output directory",
                    dir.display()
                )
            })?;
        }
        let mut logs = LogSet::create_in(dir, &self.runtime, self.gzip, true, None)?;
        if let Some(t) = &self.tap {
            logs.set_tap(std::sync::Arc::clone(t));
        }
        self.dirs.push(logs.dir().to_path_buf());
        self.logs = Some(logs);
        Ok(())
    }

    /// Applies new runtime switches: when they change what is written, the current directory
    /// is closed and the next one opens at the current packet time with the new logs and
    /// columns, as Tstat does. Returns whether a new directory was opened.
    pub fn set_runtime(&mut self, runtime: Runtime) -> anyhow::Result<bool> {
        if runtime == self.runtime {
            return Ok(false);
        }
        self.runtime = runtime;
        let Some(old) = self.logs.take() else {
            return Ok(false);
        };
        old.finish()?;
        self.open(self.clock)?;
        self.last_flush = self.clock;
        self.flushes = 0;
        Ok(true)
    }

    /// Offers the rows of `log_tcp_complete` and `log_http_complete` to `tap` from now on.
    pub fn set_tap(&mut self, tap: std::sync::Arc<crate::tap::Tap>) {
        if let Some(l) = &mut self.logs {
            l.set_tap(std::sync::Arc::clone(&tap));
        }
        self.tap = Some(tap);
    }

    /// The runtime switches in force.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Writes out every row so far and says where the writer stands.
    pub fn checkpoint(&mut self) -> anyhow::Result<LiveState> {
        let (dir, files) = match &mut self.logs {
            Some(l) => (Some(l.dir().to_path_buf()), l.checkpoint()?),
            None => (None, Vec::new()),
        };
        Ok(LiveState {
            dir,
            files,
            clock: self.clock.0,
            last_flush: self.last_flush.0,
            flushes: self.flushes,
            dirs: self.dirs.clone(),
            written: self.written,
        })
    }

    /// A writer that goes on from `state` (rows written after that checkpoint are cut from
    /// the logs). `runtime` must be the switches `state` was written with.
    pub fn resume(
        root: &Path,
        runtime: Runtime,
        gzip: bool,
        rotation: Rotation,
        state: LiveState,
    ) -> anyhow::Result<LiveWriter> {
        let mut w = LiveWriter::new(root, runtime, gzip, rotation);
        if let Some(dir) = state.dir {
            w.logs = Some(LogSet::resume(dir, &w.runtime, gzip, &state.files)?);
        }
        w.clock = Timestamp(state.clock);
        w.last_flush = Timestamp(state.last_flush);
        w.flushes = state.flushes;
        w.dirs = state.dirs;
        w.written = state.written;
        Ok(w)
    }

    /// Writes the rows of one record emitted at packet time `at` (the later of its emission
    /// and its flow's last packet), rendered with the switches in force
    /// ([`crate::render::RenderConf::new`] of [`LiveWriter::runtime`]).
    pub fn write_rows_at(
        &mut self,
        at: Timestamp,
        rows: crate::render::RowsOf<'_>,
    ) -> anyhow::Result<()> {
        self.advance(at)?;
        if let Some(l) = &mut self.logs {
            l.write_rows(rows)?;
            self.written += 1;
        }
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

    /// The directory being written, if one is open.
    pub fn dir(&self) -> Option<&Path> {
        self.logs.as_ref().map(|l| l.dir())
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

    fn all_logs(root: &Path, gzip: bool) -> std::collections::BTreeMap<String, String> {
        use std::io::Read;
        let mut out = std::collections::BTreeMap::new();
        for d in std::fs::read_dir(root).unwrap() {
            let d = d.unwrap().path();
            for f in std::fs::read_dir(&d).unwrap() {
                let f = f.unwrap().path();
                let mut text = String::new();
                let file = std::fs::File::open(&f).unwrap();
                if gzip {
                    flate2::read::MultiGzDecoder::new(file)
                        .read_to_string(&mut text)
                        .unwrap();
                } else {
                    std::io::BufReader::new(file)
                        .read_to_string(&mut text)
                        .unwrap();
                }
                let name = format!(
                    "{}/{}",
                    d.file_name().unwrap().to_string_lossy(),
                    f.file_name().unwrap().to_string_lossy()
                );
                out.insert(name, text);
            }
        }
        out
    }

    #[test]
    fn a_writer_resumed_from_a_checkpoint_writes_what_an_uninterrupted_one_does() {
        let recs = crate::testutil::trace_records("zeek__wikipedia.pcap");
        assert!(recs.len() > 20, "{} records", recs.len());
        let rt = crate::conf::Runtime {
            logs: crate::conf::LogSwitches {
                http_complete: true,
                dns_complete: true,
                tcp_periodic: true,
                udp_periodic: true,
                ..Default::default()
            },
            ..Default::default()
        };
        // A short rotation, so that the run spans several directories.
        let rot = Rotation {
            flush_interval: Duration::from_secs(1),
            flushes_per_dir: 2,
        };
        for gzip in [false, true] {
            let base = std::env::temp_dir()
                .join(format!("tstat-live-resume-{}-{gzip}", std::process::id()));
            let _ = std::fs::remove_dir_all(&base);
            let (straight, resumed) = (base.join("straight"), base.join("resumed"));
            let mut w = LiveWriter::new(&straight, rt.clone(), gzip, rot);
            for r in &recs {
                w.write(r).unwrap();
            }
            let dirs = w.finish().unwrap();
            assert!(dirs.len() > 1, "{dirs:?}");
            // Checkpoint at a third, write on to two thirds and write the logs out (but no
            // checkpoint: the process dies there), then resume from the checkpoint.
            let (a, b) = (recs.len() / 3, 2 * recs.len() / 3);
            let mut w = LiveWriter::new(&resumed, rt.clone(), gzip, rot);
            for r in &recs[..a] {
                w.write(r).unwrap();
            }
            let state = w.checkpoint().unwrap();
            for r in &recs[a..b] {
                w.write(r).unwrap();
            }
            w.checkpoint().unwrap();
            std::mem::forget(w);
            let saved: LiveState =
                serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap();
            let mut w = LiveWriter::resume(&resumed, rt.clone(), gzip, rot, saved).unwrap();
            for r in &recs[a..] {
                w.write(r).unwrap();
            }
            assert_eq!(w.written(), recs.len() as u64);
            w.finish().unwrap();
            let (x, y) = (all_logs(&straight, gzip), all_logs(&resumed, gzip));
            assert_eq!(x.keys().collect::<Vec<_>>(), y.keys().collect::<Vec<_>>());
            for (k, v) in &x {
                assert_eq!(v, &y[k], "{k} (gzip {gzip})");
            }
            let _ = std::fs::remove_dir_all(&base);
        }
    }
}
