//! Rows from records, without I/O, on as many threads as a run gives it.
//!
//! Formatting Tstat's text rows is most of what a log writer does (~19 k instructions per
//! record, against a `memcpy` to write them out), so one writer thread bounds how many
//! records per second a run can log. A [`Renderer`] turns a record into the bytes of its rows
//! and says which log each row goes to; [`render_parallel`] renders a batch on several threads
//! in contiguous pieces, and the writer then appends the pieces' rows in order. The files see
//! the same rows in the same order as a single thread would write them: only the formatting
//! moves, never the order, the directory a row goes to or the moment it is written.

use crate::conf::Runtime;
use crate::cryptopan::{Anonymizer, CryptoConfig};
use crate::logs::video::VideoLevel;
use crate::logs::{self, TcpLevel};
use engine::record::FlowRecord;

/// A log that records write rows to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogId {
    /// `log_tcp_complete`.
    TcpComplete = 0,
    /// `log_tcp_nocomplete`.
    TcpNocomplete,
    /// `log_udp_complete`.
    UdpComplete,
    /// `log_http_complete`.
    HttpComplete,
    /// `log_dns_complete`.
    DnsComplete,
    /// `log_tcp_periodic`.
    TcpPeriodic,
    /// `log_udp_periodic`.
    UdpPeriodic,
    /// `log_video_complete`.
    VideoComplete,
}

impl LogId {
    /// How many there are.
    pub const COUNT: usize = 8;
    /// Every log, in index order.
    pub const ALL: [LogId; LogId::COUNT] = [
        LogId::TcpComplete,
        LogId::TcpNocomplete,
        LogId::UdpComplete,
        LogId::HttpComplete,
        LogId::DnsComplete,
        LogId::TcpPeriodic,
        LogId::UdpPeriodic,
        LogId::VideoComplete,
    ];

    /// The log's file name (without `.gz`).
    pub fn name(self) -> &'static str {
        match self {
            LogId::TcpComplete => "log_tcp_complete",
            LogId::TcpNocomplete => "log_tcp_nocomplete",
            LogId::UdpComplete => "log_udp_complete",
            LogId::HttpComplete => "log_http_complete",
            LogId::DnsComplete => "log_dns_complete",
            LogId::TcpPeriodic => "log_tcp_periodic",
            LogId::UdpPeriodic => "log_udp_periodic",
            LogId::VideoComplete => "log_video_complete",
        }
    }
}

/// What a renderer needs: which logs are written and how their columns are set.
#[derive(Clone)]
pub struct RenderConf {
    /// The logs open, by [`LogId`] index (rows of the others are not formatted).
    pub enabled: [bool; LogId::COUNT],
    /// `log_tcp_*` column groups.
    pub tcp_level: TcpLevel,
    /// `log_video_complete` column groups.
    pub video_level: VideoLevel,
    /// runtime.conf's `httplog_full_url`.
    pub httplog_full_url: u8,
    /// Crypto-PAn anonymisation (`-Y`).
    pub crypto: Option<CryptoConfig>,
}

impl RenderConf {
    /// The logs and columns `rt` asks for; `enabled = false` (`-L`) writes no log.
    pub fn new(rt: &Runtime, enabled: bool, crypto: Option<&CryptoConfig>) -> RenderConf {
        let l = &rt.logs;
        let on = [
            l.tcp_complete,
            l.tcp_nocomplete,
            l.udp_complete,
            l.http_complete,
            l.dns_complete,
            l.tcp_periodic,
            l.udp_periodic,
            l.video_complete,
        ];
        RenderConf {
            enabled: on.map(|b| b && enabled),
            tcp_level: rt.tcp_level,
            video_level: rt.video_level,
            httplog_full_url: rt.httplog_full_url,
            crypto: crypto.cloned(),
        }
    }

    /// Whether rows of `log` are formatted.
    pub fn on(&self, log: LogId) -> bool {
        self.enabled[log as usize]
    }
}

/// The rows of a batch of records: their bytes one after the other, each row's log and end,
/// and for each record the end of its rows and what else the caller kept of it (`X`).
pub struct Rendered<X = ()> {
    /// The rows' bytes.
    pub buf: Vec<u8>,
    /// Each row: its log and the end of its bytes in `buf` (it starts where the one before
    /// it ends).
    pub rows: Vec<(LogId, u32)>,
    /// Each record: the end of its rows in `rows`, and the caller's value for it.
    pub marks: Vec<(u32, X)>,
}

impl<X> Default for Rendered<X> {
    fn default() -> Self {
        Rendered {
            buf: Vec::new(),
            rows: Vec::new(),
            marks: Vec::new(),
        }
    }
}

impl<X> Rendered<X> {
    /// Empties it, keeping the allocations.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.rows.clear();
        self.marks.clear();
    }

    /// Closes the rows of the current record, keeping `x` with it.
    pub fn mark(&mut self, x: X) {
        self.marks.push((self.rows.len() as u32, x));
    }

    /// The rows of each record with the caller's value, in order.
    pub fn records(&self) -> impl Iterator<Item = (RowsOf<'_>, &X)> {
        let mut start = 0u32;
        self.marks.iter().map(move |(end, x)| {
            let rows = start as usize..*end as usize;
            start = *end;
            (
                RowsOf {
                    buf: &self.buf,
                    rows: &self.rows,
                    range: rows,
                },
                x,
            )
        })
    }
}

/// The rows of one record.
#[derive(Clone)]
pub struct RowsOf<'a> {
    buf: &'a [u8],
    rows: &'a [(LogId, u32)],
    range: std::ops::Range<usize>,
}

impl<'a> RowsOf<'a> {
    /// Each row's log and bytes.
    pub fn iter(&self) -> impl Iterator<Item = (LogId, &'a [u8])> + '_ {
        self.range.clone().map(|i| {
            let start = if i == 0 {
                0
            } else {
                self.rows[i - 1].1 as usize
            };
            let (log, end) = self.rows[i];
            (log, &self.buf[start..end as usize])
        })
    }
}

/// Formats records into rows.
pub struct Renderer {
    conf: RenderConf,
    anon: Option<Anonymizer>,
}

impl Renderer {
    /// A renderer for `conf` (an anonymiser with an empty cache of its own).
    pub fn new(conf: RenderConf) -> Renderer {
        Renderer {
            anon: conf.crypto.as_ref().map(Anonymizer::new),
            conf,
        }
    }

    /// What it renders.
    pub fn conf(&self) -> &RenderConf {
        &self.conf
    }

    fn row<X>(out: &mut Rendered<X>, log: LogId) {
        out.rows.push((log, out.buf.len() as u32));
    }

    /// Appends the rows of `rec` to `out` (none for a log that is off, or a histogram part);
    /// the caller then [`Rendered::mark`]s the record.
    pub fn render<X>(&mut self, rec: &FlowRecord, out: &mut Rendered<X>) {
        let c = &self.conf;
        let anon = self.anon.as_mut();
        match rec {
            FlowRecord::Tcp(t) => {
                let log = if t.complete {
                    LogId::TcpComplete
                } else {
                    LogId::TcpNocomplete
                };
                let video = c.on(LogId::VideoComplete) && logs::video::is_video_row(t);
                let mut anon = anon;
                if c.on(log) {
                    logs::tcp_row_with(
                        &mut out.buf,
                        t,
                        c.tcp_level,
                        t.complete,
                        anon.as_deref_mut(),
                    );
                    Self::row(out, log);
                }
                // Tstat writes the video row right after the TCP row of the same flow.
                if video {
                    logs::video::video_row_with(&mut out.buf, t, c.video_level, anon);
                    Self::row(out, LogId::VideoComplete);
                }
            }
            FlowRecord::Udp(u) if c.on(LogId::UdpComplete) => {
                logs::udp_row_with(&mut out.buf, u, anon);
                Self::row(out, LogId::UdpComplete);
            }
            FlowRecord::Http(m) if c.on(LogId::HttpComplete) => {
                logs::http::rows(&mut out.buf, m, c.httplog_full_url, anon);
                Self::row(out, LogId::HttpComplete);
            }
            FlowRecord::Dns(m) if c.on(LogId::DnsComplete) => {
                logs::dns::rows(&mut out.buf, m, anon);
                Self::row(out, LogId::DnsComplete);
            }
            FlowRecord::Periodic(p) => {
                let log = if p.tcp {
                    LogId::TcpPeriodic
                } else {
                    LogId::UdpPeriodic
                };
                if c.on(log) {
                    if p.tcp {
                        logs::periodic::tcp_row(&mut out.buf, p, anon);
                    } else {
                        logs::periodic::udp_row(&mut out.buf, p, anon);
                    }
                    Self::row(out, log);
                }
            }
            // Logs that are off, and histogram bins (merged and written by the histogram
            // writer, not a log).
            _ => {}
        }
    }
}

/// Below this many records a piece is not worth a thread of its own.
pub const MIN_PIECE: usize = 256;

/// Renders `items` in contiguous pieces, one per renderer at most (the calling thread takes
/// the first, scoped threads the others), with `f` rendering one item and returning what the
/// caller keeps of it. `outs` gets the pieces' results in order (its buffers are reused);
/// returns how many pieces there were. A batch smaller than two pieces of [`MIN_PIECE`] stays
/// on the calling thread.
pub fn render_parallel<T, X, F>(
    renderers: &mut [Renderer],
    items: &[T],
    outs: &mut Vec<Rendered<X>>,
    f: F,
) -> usize
where
    T: Sync,
    X: Send,
    F: Fn(&mut Renderer, &T, &mut Rendered<X>) -> X + Sync,
{
    let pieces = (items.len() / MIN_PIECE).clamp(1, renderers.len().max(1));
    while outs.len() < pieces {
        outs.push(Rendered::default());
    }
    let size = items.len().div_ceil(pieces).max(1);
    let run = |r: &mut Renderer, chunk: &[T], out: &mut Rendered<X>| {
        out.clear();
        for it in chunk {
            let x = f(r, it, out);
            out.mark(x);
        }
    };
    if pieces == 1 {
        run(&mut renderers[0], items, &mut outs[0]);
        return 1;
    }
    std::thread::scope(|s| {
        let mut jobs = renderers
            .iter_mut()
            .zip(items.chunks(size))
            .zip(outs.iter_mut());
        let first = jobs.next();
        for ((r, chunk), out) in jobs {
            let run = &run;
            std::thread::Builder::new()
                .name("render".into())
                .spawn_scoped(s, move || run(r, chunk, out))
                .expect("spawning a render thread");
        }
        if let Some(((r, chunk), out)) = first {
            run(r, chunk, out);
        }
    });
    items.len().div_ceil(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A batch rendered on four threads is, row for row, what one renderer writes.
    #[test]
    fn parallel_pieces_equal_one_thread() {
        // Enough records for several pieces: the trace's, four times over.
        let one_pass = crate::testutil::trace_records("ndpi__1kxun.compact.pcap");
        let recs: Vec<FlowRecord> = (0..4).flat_map(|_| one_pass.iter().cloned()).collect();
        assert!(recs.len() > 3 * MIN_PIECE, "{} records", recs.len());
        let rt = crate::testutil::runtime_all_logs();
        let conf = RenderConf::new(&rt, true, None);
        let mut one = Renderer::new(conf.clone());
        let mut serial: Rendered<usize> = Rendered::default();
        for (i, r) in recs.iter().enumerate() {
            one.render(r, &mut serial);
            serial.mark(i);
        }
        let mut four: Vec<Renderer> = (0..4).map(|_| Renderer::new(conf.clone())).collect();
        let mut outs = Vec::new();
        let items: Vec<(usize, &FlowRecord)> = recs.iter().enumerate().collect();
        let n = render_parallel(&mut four, &items, &mut outs, |r, (i, rec), out| {
            r.render(rec, out);
            *i
        });
        assert!(n > 1, "{n} pieces");
        type Rows = Vec<(LogId, Vec<u8>)>;
        let flat = |r: &Rendered<usize>| -> Vec<(usize, Rows)> {
            r.records()
                .map(|(rows, i)| (*i, rows.iter().map(|(l, b)| (l, b.to_vec())).collect()))
                .collect()
        };
        let parallel: Vec<_> = outs[..n].iter().flat_map(flat).collect();
        assert_eq!(parallel.len(), recs.len());
        assert_eq!(parallel, flat(&serial));
        assert!(serial.rows.len() > recs.len() / 2, "rows were formatted");
    }
}
