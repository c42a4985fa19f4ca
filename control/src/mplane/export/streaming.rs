//! Log streaming, the `tstat-exporter_streaming` capability (mplane.md §11.2): the lines of one
//! Tstat log, as they are written, over a raw TCP connection to the repository's
//! `collect_streaming` port.
//!
//! **What is read.** The newest `*.out` directory of `log.folder` (newest by
//! [`super::out_dir_key`], which orders this project's `<date>-<N>.out` suffixes correctly),
//! and in it the file `log.type`, or `log.type.gz` when only that exists (`-Z`). It is read
//! from its beginning (the 2015 proxy's `tail -f` began with its last ten lines; reading it all
//! loses nothing of the current directory), then followed as it grows. When a newer directory
//! appears, the current file is read to its end first (the writer finishes a directory before
//! it opens the next), then the next directory in order is followed, never skipping one.
//! A file that appears later in a directory is waited for.
//!
//! **Compressed logs.** A `.gz` log is a series of gzip members, one per checkpoint of the
//! writer; it is decoded incrementally as bytes arrive (its state kept between reads, memory
//! bounded), and a member is only trusted once its CRC and length check. Lines of a member are
//! sent as soon as they decode. The path sent is the file's, `.gz` included.
//!
//! **Files that shrink or are replaced.** The control plane, restarted after a crash, cuts its
//! logs back to its last checkpoint and writes the same rows again. A plain file shorter than
//! what was read is therefore waited for until it grows past it again (nothing is re-sent);
//! a gzip file restarts decoding at the last member boundary at or before its new end and skips
//! the decoded bytes already handled. A file replaced by another (a new inode: a directory of
//! the same name wiped and created again) is read again from its start.
//!
//! **What is sent.** `<absolute path of the log file> <line>\n` per complete line, the line's
//! bytes as they are (the 2015 proxy transliterated them to ASCII). A line longer than
//! [`StreamingConfig::max_line_bytes`] is dropped and counted. Paths with white space are refused
//! at the start: the receiver splits path and line at the first space.
//!
//! **Delivery.** Lines read and not yet delivered wait in an outbox bounded by
//! [`StreamingConfig::max_queued_bytes`]; when it is full the log is not read further (nothing
//! is dropped). On any socket error, or when the repository closes, the connection is opened
//! again every [`StreamingConfig::reconnect_interval`] (2 s) and sending resumes at the first
//! line not delivered. What "delivered" means depends on the peer:
//! - *Acknowledging repository* (ours, [`crate::repository`]): right after accepting, it sends
//!   `ACK 0\n`, then `ACK <n>\n` after storing lines, `n` the number of lines stored from this
//!   connection. A line is delivered when acknowledged, so a repository killed at any moment
//!   loses nothing (at-least-once: a line is repeated only if the repository dies between
//!   storing a batch and sending its acknowledgement, which it does without awaiting).
//! - *Plain repository* (the 2015 one, which only reads): no `ACK 0\n` within
//!   [`StreamingConfig::ack_wait`] of connecting. A line is delivered once its last byte is
//!   written to the socket; lines in the socket buffers when the connection breaks are lost
//!   (at-most-once, at most a socket buffer's worth per break), none is repeated, and a line cut
//!   by the break is sent again whole.
//!
//! **End.** When `stop` turns true (the scope's end or an interrupt), or after
//! [`StreamingConfig::idle_timeout`] (`(log.time + 1)` minutes) without a new line once
//! everything read was delivered (or [`StreamingConfig::drain_grace`] later regardless).
//! At `stop` the log is not read further, but lines already written to an acknowledging
//! repository wait up to [`StreamingConfig::stop_grace`] for their acknowledgement, so the
//! summary's count is what the repository stored rather than a race with its last `ACK`.

use super::{out_dir_key, out_dirs, until_stopped, worth_warning};
use std::collections::VecDeque;
use std::fs::File;
use std::io::IoSlice;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::io::Interest;
use tokio::net::TcpStream;
use tokio::sync::watch;

/// What [`stream_logs`] needs; [`StreamingConfig::new`] gives the defaults.
#[derive(Debug, Clone)]
pub struct StreamingConfig {
    /// `repository.url`: `host:port` of the repository's streaming listener.
    pub repository: String,
    /// `log.folder`: the output root holding the `<date>.out` directories.
    pub log_folder: PathBuf,
    /// `log.type`: the log's file name (`log_tcp_complete`), `.gz` optional.
    pub log_type: String,
    /// Time without a new line after which the export ends: `(log.time + 1)` minutes.
    pub idle_timeout: Duration,
    /// Once idle, how long undelivered lines may still be tried before ending anyway.
    /// Default 10 s.
    pub drain_grace: Duration,
    /// At `stop`, how long lines already written on an acknowledging connection may wait for
    /// their acknowledgement before the export ends (nothing more is read). Default 2 s.
    pub stop_grace: Duration,
    /// Time between connection attempts. Default 2 s (§11.2).
    pub reconnect_interval: Duration,
    /// Time allowed for the TCP connect. Default 10 s.
    pub connect_timeout: Duration,
    /// How long to wait after connecting for the repository's `ACK 0`. Default 300 ms.
    pub ack_wait: Duration,
    /// Time between looks at the directory and the file when nothing happens. Default 100 ms
    /// (the 2015 proxy looked at the directory every 100 ms).
    pub poll_interval: Duration,
    /// Bytes of lines read but not delivered, at most (then the log waits). Default 8 MiB.
    pub max_queued_bytes: usize,
    /// Longest line sent, bytes; longer ones are dropped and counted. Default 1 MiB.
    pub max_line_bytes: usize,
}

impl StreamingConfig {
    /// The defaults for the specification's `repository.url`, `log.folder`, `log.type` and
    /// `log.time` (minutes).
    pub fn new(
        repository: impl Into<String>,
        log_folder: impl Into<PathBuf>,
        log_type: impl Into<String>,
        log_time_min: u64,
    ) -> StreamingConfig {
        StreamingConfig {
            repository: repository.into(),
            log_folder: log_folder.into(),
            log_type: log_type.into(),
            idle_timeout: Duration::from_secs(log_time_min.saturating_add(1).saturating_mul(60)),
            drain_grace: Duration::from_secs(10),
            stop_grace: Duration::from_secs(2),
            reconnect_interval: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(10),
            ack_wait: Duration::from_millis(300),
            poll_interval: Duration::from_millis(100),
            max_queued_bytes: 8 << 20,
            max_line_bytes: 1 << 20,
        }
    }
}

/// Why a streaming export ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StreamEnd {
    /// `stop` turned true.
    #[default]
    Stopped,
    /// No new line for the idle timeout.
    Idle,
    /// The configuration cannot work (see [`StreamingSummary::last_error`]).
    Failed,
}

/// What a streaming export did.
#[derive(Debug, Clone, Default)]
pub struct StreamingSummary {
    /// Lines delivered (see the module's delivery rules).
    pub lines: u64,
    /// Bytes of those lines as sent (path, space, line, newline).
    pub bytes: u64,
    /// The log files followed, in order.
    pub files: Vec<PathBuf>,
    /// Connections opened after the first one.
    pub reconnects: u64,
    /// Connection attempts that failed.
    pub connect_failures: u64,
    /// Whether the last connection was to an acknowledging repository.
    pub acknowledged: bool,
    /// Lines read but not delivered when the export ended.
    pub undelivered: u64,
    /// Lines dropped for being longer than the limit.
    pub long_lines_dropped: u64,
    /// Why it ended.
    pub end: StreamEnd,
    /// The last error, with where it happened.
    pub last_error: Option<String>,
}

impl StreamingSummary {
    fn fail(&mut self, msg: String) {
        tracing::warn!("{msg}");
        self.last_error = Some(msg);
    }
}

// ---------------------------------------------------------------------------------------------
// Incremental gzip (RFC 1952) decoding of a growing file.

/// Longest gzip member header accepted (file name and comment included).
const GZ_HEADER_MAX: usize = 1 << 16;
/// Member boundaries remembered for cut-backs.
const GZ_BOUNDARIES: usize = 64;

/// The length of the gzip header at the start of `b`: `Ok(None)` while incomplete.
fn gz_header_len(b: &[u8]) -> Result<Option<usize>, String> {
    for (i, want) in [0x1f_u8, 0x8b, 8].iter().enumerate() {
        match b.get(i) {
            Some(x) if x != want => {
                return Err(if i < 2 {
                    "not a gzip member (bad magic)".to_string()
                } else {
                    format!("unknown gzip compression method {x}")
                })
            }
            Some(_) => {}
            None => return Ok(None),
        }
    }
    if b.len() < 10 {
        return Ok(None);
    }
    let flags = b[3];
    if flags & 0xe0 != 0 {
        return Err(format!("reserved gzip flags set ({flags:#04x})"));
    }
    let mut i = 10usize;
    if flags & 0x04 != 0 {
        let (Some(&lo), Some(&hi)) = (b.get(i), b.get(i + 1)) else {
            return Ok(None);
        };
        i += 2 + usize::from(u16::from_le_bytes([lo, hi]));
    }
    for flag in [0x08u8, 0x10] {
        if flags & flag != 0 {
            match b
                .get(i..)
                .and_then(|rest| rest.iter().position(|&c| c == 0))
            {
                Some(z) => i += z + 1,
                None => return Ok(None),
            }
        }
    }
    if flags & 0x02 != 0 {
        i += 2;
    }
    Ok((b.len() >= i).then_some(i))
}

enum GzState {
    Header(Vec<u8>),
    Body,
    Trailer(Vec<u8>),
}

/// A gzip stream of any number of members, decoded as its bytes come.
struct GzTail {
    state: GzState,
    inflate: flate2::Decompress,
    crc: flate2::Crc,
    /// Decoded bytes so far (skipped ones included).
    total_out: u64,
    /// Decoded bytes still to throw away (already handled before a cut-back).
    skip: u64,
    /// `(file offset, total_out)` at the start of recent members, oldest first.
    boundaries: VecDeque<(u64, u64)>,
    /// Out buffer.
    buf: Box<[u8]>,
}

impl GzTail {
    fn new(at: u64, total_out: u64, skip: u64) -> GzTail {
        GzTail {
            state: GzState::Header(Vec::new()),
            inflate: flate2::Decompress::new(false),
            crc: flate2::Crc::new(),
            total_out,
            skip,
            boundaries: VecDeque::from([(at, total_out)]),
            buf: vec![0u8; 64 << 10].into_boxed_slice(),
        }
    }

    /// Whether it stands between members (nothing of a member pending).
    fn at_boundary(&self) -> bool {
        matches!(&self.state, GzState::Header(b) if b.is_empty())
    }

    /// Decodes `input`, the file's bytes from `offset`, handing decoded bytes to `sink` until
    /// about `max_out` were produced. Returns how many input bytes it consumed.
    fn feed(
        &mut self,
        input: &[u8],
        offset: u64,
        max_out: usize,
        sink: &mut dyn FnMut(&[u8]),
    ) -> Result<usize, String> {
        let mut pos = 0usize;
        let mut produced = 0usize;
        while pos < input.len() && produced < max_out {
            match &mut self.state {
                GzState::Header(h) => {
                    let k = (input.len() - pos).min(GZ_HEADER_MAX.saturating_sub(h.len()).max(1));
                    h.extend_from_slice(&input[pos..pos + k]);
                    match gz_header_len(h)? {
                        Some(len) => {
                            let excess = h.len() - len;
                            pos += k - excess;
                            self.state = GzState::Body;
                        }
                        None if h.len() >= GZ_HEADER_MAX => {
                            return Err("gzip member header too long".into())
                        }
                        None => pos += k,
                    }
                }
                GzState::Body => {
                    let (in0, out0) = (self.inflate.total_in(), self.inflate.total_out());
                    let status = self
                        .inflate
                        .decompress(&input[pos..], &mut self.buf, flate2::FlushDecompress::None)
                        .map_err(|e| format!("corrupt deflate data: {e}"))?;
                    let used = usize::try_from(self.inflate.total_in() - in0).unwrap_or(0);
                    let made = usize::try_from(self.inflate.total_out() - out0).unwrap_or(0);
                    pos += used;
                    let out = &self.buf[..made];
                    self.crc.update(out);
                    self.total_out += made as u64;
                    produced += made;
                    let skip = usize::try_from(self.skip.min(made as u64)).unwrap_or(made);
                    self.skip -= skip as u64;
                    if skip < made {
                        sink(&out[skip..]);
                    }
                    if status == flate2::Status::StreamEnd {
                        self.state = GzState::Trailer(Vec::with_capacity(8));
                    } else if used == 0 && made == 0 {
                        break;
                    }
                }
                GzState::Trailer(t) => {
                    let k = (8 - t.len()).min(input.len() - pos);
                    t.extend_from_slice(&input[pos..pos + k]);
                    pos += k;
                    if t.len() == 8 {
                        let crc = u32::from_le_bytes([t[0], t[1], t[2], t[3]]);
                        let size = u32::from_le_bytes([t[4], t[5], t[6], t[7]]);
                        if crc != self.crc.sum() || size != self.crc.amount() {
                            return Err(format!(
                                "gzip member ending before byte {} fails its check (CRC {crc:08x}, \
                                 size {size}; decoded CRC {:08x}, size {})",
                                offset + pos as u64,
                                self.crc.sum(),
                                self.crc.amount()
                            ));
                        }
                        self.state = GzState::Header(Vec::new());
                        self.inflate.reset(false);
                        self.crc.reset();
                        if self.boundaries.len() == GZ_BOUNDARIES {
                            self.boundaries.pop_front();
                        }
                        self.boundaries
                            .push_back((offset + pos as u64, self.total_out));
                    }
                }
            }
        }
        Ok(pos)
    }

    /// The decoder to use after the file was cut back to `len`: from the last member start at
    /// or before it, skipping what was already decoded. `None` when no boundary is known there.
    fn cut_back(&self, len: u64) -> Option<(u64, GzTail)> {
        let &(at, out) = self.boundaries.iter().rev().find(|(at, _)| *at <= len)?;
        let skip = self.total_out - out + self.skip;
        Some((at, GzTail::new(at, out, skip)))
    }
}

// ---------------------------------------------------------------------------------------------
// Following one log file.

/// How a poll of the log went.
#[derive(Debug, Default, Clone, Copy)]
struct TailPoll {
    /// Complete lines found.
    lines: usize,
    /// More bytes are waiting in the file.
    more: bool,
}

/// One log file being followed.
struct Follow {
    dir: PathBuf,
    log_type: String,
    /// Once the file exists: its path, and the `"<absolute path> "` each message starts with.
    path: Option<(PathBuf, Vec<u8>)>,
    file: Option<(File, (u64, u64))>,
    /// File bytes consumed.
    offset: u64,
    gz: Option<GzTail>,
    /// The current line's bytes so far.
    line: Vec<u8>,
    /// Inside a line that was too long: dropping bytes up to its newline.
    discarding: bool,
    cut_warned: bool,
    /// A decoding error ended the file; nothing more is read from it.
    broken: bool,
}

/// Read size per poll.
const CHUNK: usize = 256 << 10;

impl Follow {
    fn new(dir: PathBuf, log_type: &str) -> Follow {
        Follow {
            dir,
            log_type: log_type.to_string(),
            path: None,
            file: None,
            offset: 0,
            gz: None,
            line: Vec::new(),
            discarding: false,
            cut_warned: false,
            broken: false,
        }
    }

    /// Finds the file (`log.type`, else `log.type.gz`) once it exists.
    fn resolve(&mut self) -> Result<bool, String> {
        if self.path.is_some() {
            return Ok(true);
        }
        let plain = self.dir.join(&self.log_type);
        let gz = self.dir.join(format!("{}.gz", self.log_type));
        let path = if plain.is_file() {
            plain
        } else if !self.log_type.ends_with(".gz") && gz.is_file() {
            gz
        } else {
            return Ok(false);
        };
        let abs = std::path::absolute(&path)
            .map_err(|e| format!("{}: no absolute path: {e}", path.display()))?;
        let mut prefix = abs.as_os_str().as_encoded_bytes().to_vec();
        if prefix.iter().any(|b| b.is_ascii_whitespace()) {
            return Err(format!(
                "{}: the path holds white space, which the line format cannot carry",
                abs.display()
            ));
        }
        prefix.push(b' ');
        self.path = Some((path, prefix));
        Ok(true)
    }

    fn is_gzip(&self) -> bool {
        self.path
            .as_ref()
            .is_some_and(|(p, _)| p.extension().is_some_and(|e| e == "gz"))
    }

    fn restart(&mut self) {
        self.file = None;
        self.offset = 0;
        self.gz = None;
        self.line.clear();
        self.discarding = false;
        self.cut_warned = false;
        self.broken = false;
    }

    /// Reads what the file gained, at most about `room` bytes of lines, each complete line
    /// handed to `emit` as a message.
    fn poll(
        &mut self,
        room: usize,
        max_line: usize,
        long_dropped: &mut u64,
        emit: &mut dyn FnMut(Vec<u8>),
    ) -> Result<TailPoll, String> {
        if self.broken || !self.resolve()? {
            return Ok(TailPoll::default());
        }
        let Some((path, prefix)) = self.path.clone() else {
            return Ok(TailPoll::default());
        };
        let on_disk = match std::fs::metadata(&path) {
            Ok(m) => (m.dev(), m.ino()),
            Err(e) => return Err(format!("{}: cannot stat: {e}", path.display())),
        };
        if let Some((_, id)) = &self.file {
            if *id != on_disk {
                tracing::info!(file = %path.display(), "log file replaced: reading it from its start");
                self.restart();
            }
        }
        if self.file.is_none() {
            let f =
                File::open(&path).map_err(|e| format!("{}: cannot open: {e}", path.display()))?;
            self.file = Some((f, on_disk));
            if self.is_gzip() {
                self.gz = Some(GzTail::new(0, 0, 0));
            }
        }
        let Some((file, _)) = &self.file else {
            return Ok(TailPoll::default());
        };
        let len = file
            .metadata()
            .map_err(|e| format!("{}: cannot stat: {e}", path.display()))?
            .len();
        if len < self.offset {
            match &self.gz {
                Some(gz) => match gz.cut_back(len) {
                    Some((at, tail)) => {
                        tracing::info!(
                            file = %path.display(),
                            from = self.offset,
                            to = len,
                            "gzip log cut back: decoding again from byte {at}, skipping what was sent"
                        );
                        self.offset = at;
                        self.gz = Some(tail);
                    }
                    None => {
                        if !self.cut_warned {
                            tracing::warn!(
                                file = %path.display(),
                                "gzip log cut back before every known member: waiting for it to grow back"
                            );
                            self.cut_warned = true;
                        }
                        return Ok(TailPoll::default());
                    }
                },
                None => {
                    if !self.cut_warned {
                        tracing::info!(
                            file = %path.display(),
                            sent = self.offset,
                            len,
                            "log cut back (the writer restarted from its checkpoint): waiting \
                             until it grows past what was sent"
                        );
                        self.cut_warned = true;
                    }
                    return Ok(TailPoll::default());
                }
            }
        }
        self.cut_warned = false;
        let want = usize::try_from(len - self.offset)
            .unwrap_or(usize::MAX)
            .min(CHUNK);
        if want == 0 || room == 0 {
            return Ok(TailPoll {
                lines: 0,
                more: want > 0,
            });
        }
        let mut raw = vec![0u8; want];
        let n = file.read_at(&mut raw, self.offset).map_err(|e| {
            format!(
                "{}: cannot read at byte {}: {e}",
                path.display(),
                self.offset
            )
        })?;
        raw.truncate(n);
        let mut lines = 0usize;
        let line = &mut self.line;
        let discarding = &mut self.discarding;
        let mut take = |mut bytes: &[u8]| {
            while !bytes.is_empty() {
                let nl = bytes.iter().position(|&b| b == b'\n');
                let (seg, rest, ends) = match nl {
                    Some(i) => (&bytes[..i], &bytes[i + 1..], true),
                    None => (bytes, &bytes[bytes.len()..], false),
                };
                if !*discarding {
                    if line.len() + seg.len() > max_line {
                        *discarding = true;
                        *long_dropped += 1;
                        line.clear();
                    } else {
                        line.extend_from_slice(seg);
                    }
                }
                if ends {
                    if !*discarding {
                        let mut msg = Vec::with_capacity(prefix.len() + line.len() + 1);
                        msg.extend_from_slice(&prefix);
                        msg.extend_from_slice(line);
                        msg.push(b'\n');
                        emit(msg);
                        lines += 1;
                    }
                    line.clear();
                    *discarding = false;
                }
                bytes = rest;
            }
        };
        let consumed = match &mut self.gz {
            Some(gz) => match gz.feed(&raw, self.offset, room, &mut take) {
                Ok(c) => c,
                Err(e) => {
                    self.broken = true;
                    return Err(format!(
                        "{}: {e}; the rest of this file is not sent",
                        path.display()
                    ));
                }
            },
            None => {
                take(&raw);
                raw.len()
            }
        };
        self.offset += consumed as u64;
        Ok(TailPoll {
            lines,
            more: self.offset < len && consumed > 0,
        })
    }

    /// Said when the file is left for the next directory: what could not be sent.
    fn leave(&self) {
        let Some((path, _)) = &self.path else {
            return;
        };
        if !self.line.is_empty() {
            tracing::warn!(
                file = %path.display(),
                bytes = self.line.len(),
                "log ends without a newline: its last partial line is not sent"
            );
        }
        if self.gz.as_ref().is_some_and(|g| !g.at_boundary()) {
            tracing::warn!(
                file = %path.display(),
                "gzip log ends inside a member: its undecodable end is not sent"
            );
        }
    }
}

/// The directories of `log.folder`, followed one after the other.
struct Tailer {
    folder: PathBuf,
    log_type: String,
    follow: Option<Follow>,
    max_line: usize,
}

impl Tailer {
    fn poll(
        &mut self,
        room: usize,
        s: &mut StreamingSummary,
        emit: &mut dyn FnMut(Vec<u8>),
    ) -> Result<TailPoll, String> {
        // The listing comes first: a newer directory seen here means the writer had finished
        // the current file before, so reaching its end below is final.
        let dirs = out_dirs(&self.folder)
            .map_err(|e| format!("{}: cannot list log.folder: {e}", self.folder.display()))?;
        if self.follow.is_none() {
            let Some(newest) = dirs.last() else {
                return Ok(TailPoll::default());
            };
            tracing::info!(dir = %newest.display(), "streaming: following the newest directory");
            self.follow = Some(Follow::new(newest.clone(), &self.log_type));
        }
        let Some(f) = self.follow.as_mut() else {
            return Ok(TailPoll::default());
        };
        let had_path = f.path.is_some();
        let r = f.poll(room, self.max_line, &mut s.long_lines_dropped, emit);
        if let (false, Some((p, _))) = (had_path, &f.path) {
            tracing::info!(file = %p.display(), "streaming: log file found");
            s.files.push(p.clone());
        }
        let (r, err) = match r {
            Ok(r) => (r, None),
            Err(e) => (TailPoll::default(), Some(e)),
        };
        if r.lines > 0 || r.more || room == 0 {
            return Ok(r);
        }
        let key = |p: &Path| {
            p.file_name()
                .and_then(|n| n.to_str())
                .and_then(out_dir_key)
                .map(|(a, b)| (a.to_string(), b))
        };
        let current = key(&f.dir);
        if let Some(next) = dirs.iter().find(|d| key(d) > current) {
            f.leave();
            tracing::info!(dir = %next.display(), "streaming: switching to the next directory");
            self.follow = Some(Follow::new(next.clone(), &self.log_type));
            return Ok(TailPoll {
                lines: 0,
                more: true,
            });
        }
        match err {
            Some(e) => Err(e),
            None => Ok(r),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sending.

/// Lines read and not yet delivered, oldest first.
#[derive(Default)]
struct Outbox {
    queue: VecDeque<Vec<u8>>,
    /// Messages at the front written on this connection and waiting for an acknowledgement.
    written: usize,
    /// Bytes of `queue[written]` already written.
    partial: usize,
    bytes: usize,
}

impl Outbox {
    fn push(&mut self, m: Vec<u8>) {
        self.bytes += m.len();
        self.queue.push_back(m);
    }

    fn has_unwritten(&self) -> bool {
        self.written < self.queue.len()
    }

    /// A new connection: everything not delivered goes again, whole.
    fn rewind(&mut self) {
        self.written = 0;
        self.partial = 0;
    }

    fn deliver_front(&mut self, s: &mut StreamingSummary) {
        if let Some(m) = self.queue.pop_front() {
            self.bytes -= m.len();
            s.lines += 1;
            s.bytes += m.len() as u64;
        }
    }

    /// `n` bytes were written.
    fn advance(&mut self, mut n: usize, acks: bool, s: &mut StreamingSummary) {
        while n > 0 {
            let Some(m) = self.queue.get(self.written) else {
                return;
            };
            let rest = m.len() - self.partial;
            if n < rest {
                self.partial += n;
                return;
            }
            n -= rest;
            self.partial = 0;
            if acks {
                self.written += 1;
            } else {
                self.deliver_front(s);
            }
        }
    }
}

/// A connection to the repository.
struct Conn {
    stream: TcpStream,
    acks: bool,
    /// Lines the repository acknowledged on this connection.
    acked: u64,
    rbuf: Vec<u8>,
}

impl Conn {
    async fn open(cfg: &StreamingConfig) -> Result<Conn, String> {
        let stream = tokio::time::timeout(cfg.connect_timeout, TcpStream::connect(&cfg.repository))
            .await
            .map_err(|_| format!("{}: connect timed out", cfg.repository))?
            .map_err(|e| format!("{}: cannot connect: {e}", cfg.repository))?;
        let _ = stream.set_nodelay(true);
        let mut c = Conn {
            stream,
            acks: false,
            acked: 0,
            rbuf: Vec::new(),
        };
        // An acknowledging repository greets with `ACK 0`.
        let deadline = tokio::time::Instant::now() + cfg.ack_wait;
        while !c.acks {
            match tokio::time::timeout_at(deadline, c.stream.readable()).await {
                Err(_) => break,
                Ok(Err(e)) => return Err(format!("{}: {e}", cfg.repository)),
                Ok(Ok(())) => {}
            }
            let mut tmp = [0u8; 256];
            match c.stream.try_read(&mut tmp) {
                Ok(0) => return Err(format!("{}: closed by the repository", cfg.repository)),
                Ok(n) => {
                    c.rbuf.extend_from_slice(&tmp[..n]);
                    if c.rbuf.starts_with(b"ACK ") {
                        if c.rbuf.contains(&b'\n') {
                            c.acks = true;
                        }
                    } else if !b"ACK ".starts_with(&c.rbuf[..c.rbuf.len().min(4)]) {
                        // Something else: a plain repository that talks.
                        c.rbuf.clear();
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(format!("{}: {e}", cfg.repository)),
            }
        }
        Ok(c)
    }

    /// Writes what it can without waiting.
    fn flush(&mut self, out: &mut Outbox, s: &mut StreamingSummary) -> std::io::Result<()> {
        loop {
            let mut slices = Vec::with_capacity(64);
            let mut total = 0usize;
            for (i, m) in out.queue.iter().skip(out.written).enumerate() {
                let m = if i == 0 { &m[out.partial..] } else { &m[..] };
                slices.push(IoSlice::new(m));
                total += m.len();
                if slices.len() == 64 || total >= 256 << 10 {
                    break;
                }
            }
            if slices.is_empty() {
                return Ok(());
            }
            match self.stream.try_write_vectored(&slices) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => out.advance(n, self.acks, s),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads what the repository sent: acknowledgements, or the end of the connection.
    fn read(&mut self, out: &mut Outbox, s: &mut StreamingSummary) -> std::io::Result<()> {
        let mut tmp = [0u8; 1024];
        loop {
            match self.stream.try_read(&mut tmp) {
                Ok(0) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionAborted,
                        "closed by the repository",
                    ))
                }
                Ok(n) => self.rbuf.extend_from_slice(&tmp[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        while let Some(i) = self.rbuf.iter().position(|&b| b == b'\n') {
            let n = std::str::from_utf8(&self.rbuf[..i])
                .ok()
                .and_then(|l| l.trim().strip_prefix("ACK "))
                .and_then(|n| n.trim().parse::<u64>().ok());
            self.rbuf.drain(..=i);
            let Some(n) = n.filter(|_| self.acks) else {
                continue;
            };
            let fresh = n.saturating_sub(self.acked);
            self.acked = self.acked.max(n);
            let fresh = usize::try_from(fresh).unwrap_or(usize::MAX);
            if fresh > out.written {
                tracing::warn!(
                    acked = n,
                    "streaming: the repository acknowledged more lines than were written"
                );
            }
            for _ in 0..fresh.min(out.written) {
                out.deliver_front(s);
                out.written -= 1;
            }
        }
        if self.rbuf.len() > 1024 {
            self.rbuf.clear();
        }
        Ok(())
    }
}

impl Conn {
    /// At the end: waits up to `grace` for the acknowledgement of the lines already written
    /// (an acknowledging repository only; nothing new is written).
    async fn settle(&mut self, out: &mut Outbox, s: &mut StreamingSummary, grace: Duration) {
        let deadline = tokio::time::Instant::now() + grace;
        while self.acks && out.written > 0 {
            match tokio::time::timeout_at(deadline, self.stream.readable()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return,
            }
            if let Err(e) = self.read(out, s) {
                tracing::debug!("streaming: at the end, connection to the repository: {e}");
                return;
            }
        }
    }
}

/// Resolves when the connection is ready for `interest`; never without a connection.
async fn ready(conn: Option<&Conn>, interest: Interest) {
    match conn {
        Some(c) => {
            let _ = c.stream.ready(interest).await;
        }
        None => std::future::pending().await,
    }
}

/// Streams the lines of `log.type` to the repository until `stop`, or until the log is idle
/// for [`StreamingConfig::idle_timeout`] (§11.2; delivery rules in the module's text).
pub async fn stream_logs(
    cfg: StreamingConfig,
    mut stop: watch::Receiver<bool>,
) -> StreamingSummary {
    let mut s = StreamingSummary::default();
    if cfg.repository.trim().is_empty() {
        s.fail("streaming: repository.url is empty".into());
        s.end = StreamEnd::Failed;
        return s;
    }
    if cfg.log_type.is_empty()
        || cfg.log_type.contains('/')
        || cfg.log_type.bytes().any(|b| b.is_ascii_whitespace())
    {
        s.fail(format!(
            "streaming: log.type {:?} is not a file name without white space",
            cfg.log_type
        ));
        s.end = StreamEnd::Failed;
        return s;
    }
    tracing::info!(
        repository = %cfg.repository,
        folder = %cfg.log_folder.display(),
        log = %cfg.log_type,
        "log streaming started"
    );
    let mut tailer = Tailer {
        folder: cfg.log_folder.clone(),
        log_type: cfg.log_type.clone(),
        follow: None,
        max_line: cfg.max_line_bytes.max(1),
    };
    let mut out = Outbox::default();
    let mut conn: Option<Conn> = None;
    let mut connected_once = false;
    let mut failures_in_a_row = 0u64;
    let mut next_connect = Instant::now();
    let mut last_line = Instant::now();
    let mut last_poll_error: Option<String> = None;
    loop {
        // Read the log while the outbox has room.
        let room = cfg.max_queued_bytes.saturating_sub(out.bytes);
        let mut more = false;
        let polled = tailer.poll(room, &mut s, &mut |m| out.push(m));
        match polled {
            Ok(r) => {
                last_poll_error = None;
                if r.lines > 0 {
                    last_line = Instant::now();
                }
                more = r.more && room > 0;
            }
            Err(e) => {
                if last_poll_error.as_ref() != Some(&e) {
                    s.fail(format!("streaming: {e}"));
                    last_poll_error = Some(e);
                }
            }
        }
        // (Re)connect.
        if conn.is_none() && Instant::now() >= next_connect {
            let opened = tokio::select! {
                r = Conn::open(&cfg) => r,
                _ = until_stopped(&mut stop) => {
                    s.end = StreamEnd::Stopped;
                    break;
                }
            };
            match opened {
                Ok(c) => {
                    if connected_once {
                        s.reconnects += 1;
                        tracing::info!(
                            repository = %cfg.repository,
                            resend = out.queue.len(),
                            acknowledged = c.acks,
                            "streaming: reconnected, resending from the first undelivered line"
                        );
                    } else {
                        tracing::info!(
                            repository = %cfg.repository,
                            acknowledged = c.acks,
                            "streaming: connected"
                        );
                    }
                    connected_once = true;
                    failures_in_a_row = 0;
                    s.acknowledged = c.acks;
                    out.rewind();
                    conn = Some(c);
                }
                Err(e) => {
                    s.connect_failures += 1;
                    failures_in_a_row += 1;
                    let msg = format!(
                        "streaming: {e}; retrying every {} s ({failures_in_a_row} failed in a row)",
                        cfg.reconnect_interval.as_secs_f64()
                    );
                    if worth_warning(failures_in_a_row) {
                        tracing::warn!("{msg}");
                    } else {
                        tracing::debug!("{msg}");
                    }
                    s.last_error = Some(msg);
                    next_connect = Instant::now() + cfg.reconnect_interval;
                }
            }
        }
        // Send and read acknowledgements.
        if let Some(c) = conn.as_mut() {
            let r = c
                .flush(&mut out, &mut s)
                .and_then(|()| c.read(&mut out, &mut s));
            if let Err(e) = r {
                s.fail(format!(
                    "streaming: connection to {} lost: {e}; reconnecting in {} s",
                    cfg.repository,
                    cfg.reconnect_interval.as_secs_f64()
                ));
                conn = None;
                out.rewind();
                next_connect = Instant::now() + cfg.reconnect_interval;
            }
        }
        // The end?
        if *stop.borrow() {
            s.end = StreamEnd::Stopped;
            if let Some(c) = conn.as_mut() {
                c.settle(&mut out, &mut s, cfg.stop_grace).await;
            }
            break;
        }
        let idle = last_line.elapsed();
        if idle >= cfg.idle_timeout
            && (out.queue.is_empty() || idle >= cfg.idle_timeout + cfg.drain_grace)
        {
            tracing::info!(
                idle_s = idle.as_secs(),
                "streaming: no new line for the idle timeout"
            );
            s.end = StreamEnd::Idle;
            break;
        }
        // Wait for something to do.
        let mut wait = if more {
            Duration::ZERO
        } else {
            cfg.poll_interval
        };
        if conn.is_none() {
            wait = wait.min(next_connect.saturating_duration_since(Instant::now()));
        }
        let want_write = conn.is_some() && out.has_unwritten();
        tokio::select! {
            biased;
            _ = until_stopped(&mut stop) => {}
            _ = ready(conn.as_ref(), Interest::READABLE) => {}
            _ = ready(conn.as_ref(), Interest::WRITABLE), if want_write => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
    if let Some(f) = &tailer.follow {
        if s.end == StreamEnd::Idle {
            f.leave();
        }
    }
    s.undelivered = out.queue.len() as u64;
    tracing::info!(
        lines = s.lines,
        bytes = s.bytes,
        reconnects = s.reconnects,
        undelivered = s.undelivered,
        end = ?s.end,
        "log streaming ended"
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8], name: Option<&str>) -> Vec<u8> {
        let mut b = flate2::GzBuilder::new();
        if let Some(n) = name {
            b = b.filename(n).comment("a comment").extra(vec![1, 2, 3]);
        }
        let mut e = b.write(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// Feeds `bytes` in pieces of `step`, as a growing file would show them.
    fn decode_in_steps(bytes: &[u8], step: usize) -> Result<Vec<u8>, String> {
        let mut g = GzTail::new(0, 0, 0);
        let mut out = Vec::new();
        let mut fed = 0usize;
        let mut pending: Vec<u8> = Vec::new();
        let mut offset = 0u64;
        while fed < bytes.len() || !pending.is_empty() {
            let k = step.min(bytes.len() - fed);
            pending.extend_from_slice(&bytes[fed..fed + k]);
            fed += k;
            let used = g.feed(&pending, offset, usize::MAX, &mut |b| {
                out.extend_from_slice(b)
            })?;
            offset += used as u64;
            pending.drain(..used);
            if k == 0 && used == 0 {
                break;
            }
        }
        assert!(g.at_boundary(), "ends between members");
        Ok(out)
    }

    #[test]
    fn gzip_members_decode_in_any_pieces() {
        let a: Vec<u8> = (0..20_000u32)
            .flat_map(|i| format!("row {i}\n").into_bytes())
            .collect();
        let mut file = gz(&a[..70_000], None);
        file.extend(gz(&a[70_000..], Some("log_tcp_complete")));
        file.extend(gz(b"", None));
        for step in [1, 7, 4096, 1 << 20] {
            assert_eq!(decode_in_steps(&file, step).unwrap(), a, "step {step}");
        }
        // A member whose CRC is wrong is refused.
        let mut bad = gz(b"hello\n", None);
        let n = bad.len();
        bad[n - 8] ^= 1;
        assert!(decode_in_steps(&bad, 3)
            .unwrap_err()
            .contains("fails its check"));
        assert!(decode_in_steps(b"PK\x03\x04 not gzip", 100)
            .unwrap_err()
            .contains("bad magic"));
        let mut g = GzTail::new(0, 0, 0);
        assert!(g.feed(&[0x1f, 0x8b, 9], 0, 10, &mut |_| {}).is_err());
    }

    #[test]
    fn gzip_header_lengths() {
        assert_eq!(gz_header_len(&[0x1f]), Ok(None));
        let plain = gz(b"x", None);
        assert_eq!(gz_header_len(&plain), Ok(Some(10)));
        let named = gz(b"x", Some("name"));
        // 10 + extra (2 + 3) + "name\0" + "a comment\0".
        assert_eq!(gz_header_len(&named), Ok(Some(10 + 5 + 5 + 10)));
        assert_eq!(gz_header_len(&named[..17]), Ok(None));
        let mut reserved = plain.clone();
        reserved[3] = 0x80;
        assert!(gz_header_len(&reserved).is_err());
    }

    #[test]
    fn gzip_cut_back_skips_what_was_decoded() {
        let m1 = gz(b"one\ntwo\n", None);
        let m2 = gz(b"three\nfour\n", None);
        let mut file = m1.clone();
        file.extend(&m2);
        let mut g = GzTail::new(0, 0, 0);
        let mut out = Vec::new();
        let used = g
            .feed(&file, 0, usize::MAX, &mut |b| out.extend_from_slice(b))
            .unwrap();
        assert_eq!(used, file.len());
        assert_eq!(out, b"one\ntwo\nthree\nfour\n");
        // Cut back to the end of the first member, then the same second member again.
        let (at, mut g2) = g.cut_back(m1.len() as u64).unwrap();
        assert_eq!(at, m1.len() as u64);
        let mut again = Vec::new();
        let more = gz(b"three\nfour\nfive\n", None);
        g2.feed(&more, at, usize::MAX, &mut |b| again.extend_from_slice(b))
            .unwrap();
        assert_eq!(again, b"five\n");
        // Cut back into the middle of the first member: from byte 0, skipping everything.
        let (at, g3) = g.cut_back(3).unwrap();
        assert_eq!((at, g3.skip), (0, 19));
    }

    #[test]
    fn outbox_delivery_with_and_without_acks() {
        let mut s = StreamingSummary::default();
        let mut o = Outbox::default();
        for m in ["a 1\n", "a 22\n", "a 333\n"] {
            o.push(m.as_bytes().to_vec());
        }
        // Plain: a message is delivered when its last byte is written.
        o.advance(6, false, &mut s);
        assert_eq!((s.lines, o.queue.len(), o.partial), (1, 2, 2));
        o.rewind();
        assert_eq!(o.partial, 0);
        // Acknowledged: written messages wait for the acknowledgement.
        o.advance(5 + 6, true, &mut s);
        assert_eq!((s.lines, o.written, o.queue.len()), (1, 2, 2));
        assert!(!o.has_unwritten());
        o.deliver_front(&mut s);
        assert_eq!((s.lines, s.bytes, o.bytes), (2, 9, 6));
    }

    #[test]
    fn follow_plain_log_lines_growth_and_cut_back() {
        let d = std::env::temp_dir().join(format!("stream-follow-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let dir = d.join("2026_11_22_10_00.out");
        std::fs::create_dir_all(&dir).unwrap();
        let mut f = Follow::new(dir.clone(), "log_tcp_complete");
        let mut got: Vec<String> = Vec::new();
        let mut long = 0u64;
        let mut poll = |f: &mut Follow, got: &mut Vec<String>| {
            f.poll(1 << 20, 16, &mut long, &mut |m| {
                got.push(String::from_utf8(m).unwrap())
            })
            .unwrap()
        };
        assert_eq!(poll(&mut f, &mut got).lines, 0, "no file yet");
        let path = dir.join("log_tcp_complete");
        std::fs::write(&path, b"#header\nrow 1\nrow").unwrap();
        assert_eq!(poll(&mut f, &mut got).lines, 2);
        let abs = std::path::absolute(&path).unwrap();
        assert_eq!(got[1], format!("{} row 1\n", abs.display()));
        let mut h = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        h.write_all(b" 2\nthis line is far too long\nrow 3\n")
            .unwrap();
        assert_eq!(poll(&mut f, &mut got).lines, 2);
        assert!(
            got[2].ends_with(" row 2\n") && got[3].ends_with(" row 3\n"),
            "{got:?}"
        );
        // Cut back below what was read, then the same rows again plus one: only the new one.
        std::fs::write(&path, b"#header\nrow 1\n").unwrap();
        assert_eq!(poll(&mut f, &mut got).lines, 0);
        std::fs::write(
            &path,
            b"#header\nrow 1\nrow 2\nthis line is far too long\nrow 3\nrow 4\n",
        )
        .unwrap();
        // Same inode (written in place): the writer's rows after the cut come again.
        assert_eq!(poll(&mut f, &mut got).lines, 1);
        assert!(got[4].ends_with(" row 4\n"), "{got:?}");
        // Replaced by a new file: read from its start.
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, b"#new\n").unwrap();
        assert_eq!(poll(&mut f, &mut got).lines, 1);
        assert!(got[5].ends_with(" #new\n"));
        assert_eq!(long, 1);
        let _ = std::fs::remove_dir_all(&d);
    }
}
