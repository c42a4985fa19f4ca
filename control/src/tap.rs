//! Row taps: copies of the lines written to a log while someone listens (an mPlane job that
//! reports the rows of its window). The log writer pays one relaxed atomic load per row while
//! nobody listens; a capture keeps at most its limit of rows and counts the rest, and names
//! every file its rows went to, so a result can say where the rows it left out are.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The logs a tap can listen to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TapLog {
    /// `log_tcp_complete`.
    TcpComplete,
    /// `log_http_complete`.
    HttpComplete,
}

/// One captured line with the header line of the file it went to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TappedRow {
    /// The file's header (its column names).
    pub header: Arc<str>,
    /// The line, without its newline.
    pub line: String,
}

/// What a capture saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    /// The rows, up to the limit, in the order they were written.
    pub rows: Vec<TappedRow>,
    /// Rows written beyond the limit.
    pub left_out: u64,
    /// Every file a row went to (kept or not).
    pub files: BTreeSet<PathBuf>,
}

struct Capture {
    id: u64,
    log: TapLog,
    limit: usize,
    seen: Captured,
    /// Rows count once the writer has applied this switch generation...
    from: u64,
    /// ...until it applies this one.
    until: Option<u64>,
    open: bool,
    sealed: bool,
}

/// The listeners of a log writer.
#[derive(Default)]
pub struct Tap {
    active: AtomicBool,
    next: AtomicU64,
    captures: Mutex<Vec<Capture>>,
}

impl Tap {
    /// A tap with nobody listening.
    pub fn new() -> Arc<Tap> {
        Arc::new(Tap::default())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Capture>> {
        self.captures.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts capturing the rows of `log`, keeping at most `limit`; returns the capture's id.
    pub fn start(&self, log: TapLog, limit: usize) -> u64 {
        self.start_at(log, limit, 0)
    }

    /// Starts capturing the rows of `log` written once the writer has applied switch
    /// generation `from` ([`Tap::advance`]): the rows of the directory those switches open.
    pub fn start_at(&self, log: TapLog, limit: usize, from: u64) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let mut c = self.lock();
        c.push(Capture {
            id,
            log,
            limit,
            seen: Captured::default(),
            from,
            until: None,
            open: from == 0,
            sealed: false,
        });
        self.active.store(true, Ordering::Release);
        id
    }

    /// Stops the capture once the writer has applied switch generation `until`.
    pub fn stop_at(&self, id: u64, until: u64) {
        if let Some(c) = self.lock().iter_mut().find(|c| c.id == id) {
            c.until = Some(until);
        }
    }

    /// Said by the writer's thread right after it applied switch generation `applied`: opens
    /// and seals the captures waiting for it, between two rows.
    pub fn advance(&self, applied: u64) {
        for c in self.lock().iter_mut() {
            if applied >= c.from {
                c.open = true;
            }
            if c.until.is_some_and(|u| applied >= u) {
                c.sealed = true;
            }
        }
    }

    /// Ends a capture and returns what it saw (empty for an unknown id).
    pub fn finish(&self, id: u64) -> Captured {
        let mut c = self.lock();
        let out = match c.iter().position(|x| x.id == id) {
            Some(i) => c.swap_remove(i).seen,
            None => Captured::default(),
        };
        self.active.store(!c.is_empty(), Ordering::Release);
        out
    }

    /// Whether anyone listens (one relaxed load: the writer's cost when nobody does).
    #[inline]
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// Offers a line just written to `file` of `log` (with or without its newline).
    pub fn offer(&self, log: TapLog, header: &Arc<str>, line: &[u8], file: &Path) {
        let mut c = self.lock();
        for cap in c.iter_mut().filter(|c| c.log == log && c.open && !c.sealed) {
            if !cap.seen.files.contains(file) {
                cap.seen.files.insert(file.to_path_buf());
            }
            // log_http_complete writes a request and its response as two lines at once.
            for l in line.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                if cap.seen.rows.len() < cap.limit {
                    cap.seen.rows.push(TappedRow {
                        header: Arc::clone(header),
                        line: String::from_utf8_lossy(l).into_owned(),
                    });
                } else {
                    cap.seen.left_out += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_up_to_the_limit_and_counts_the_rest() {
        let tap = Tap::new();
        assert!(!tap.is_active());
        let h: Arc<str> = Arc::from("#15#c_ip:1");
        let a = tap.start(TapLog::TcpComplete, 2);
        let b = tap.start(TapLog::HttpComplete, 10);
        assert!(tap.is_active());
        for i in 0..5 {
            tap.offer(
                TapLog::TcpComplete,
                &h,
                format!("row{i}\n").as_bytes(),
                Path::new("/o/x.out/log_tcp_complete"),
            );
        }
        tap.offer(
            TapLog::HttpComplete,
            &h,
            b"req\nresp\n",
            Path::new("/o/x.out/log_http_complete"),
        );
        let got = tap.finish(a);
        assert_eq!(got.rows.len(), 2);
        assert_eq!(got.rows[1].line, "row1");
        assert_eq!(got.left_out, 3);
        assert_eq!(got.files.len(), 1);
        assert!(tap.is_active());
        let got = tap.finish(b);
        assert_eq!(
            got.rows.iter().map(|r| r.line.as_str()).collect::<Vec<_>>(),
            ["req", "resp"]
        );
        assert!(!tap.is_active());
        assert_eq!(tap.finish(99), Captured::default());
    }

    #[test]
    fn generations_fence_the_window() {
        let tap = Tap::new();
        let h: Arc<str> = Arc::from("#15#c_ip:1");
        let f = Path::new("/o/log_tcp_complete");
        let id = tap.start_at(TapLog::TcpComplete, 100, 3);
        tap.offer(TapLog::TcpComplete, &h, b"before\n", f);
        tap.advance(3);
        tap.offer(TapLog::TcpComplete, &h, b"inside\n", f);
        tap.stop_at(id, 5);
        tap.advance(4);
        tap.offer(TapLog::TcpComplete, &h, b"still inside\n", f);
        tap.advance(5);
        tap.offer(TapLog::TcpComplete, &h, b"after\n", f);
        let got = tap.finish(id);
        let lines: Vec<&str> = got.rows.iter().map(|r| r.line.as_str()).collect();
        assert_eq!(lines, ["inside", "still inside"]);
    }
}
