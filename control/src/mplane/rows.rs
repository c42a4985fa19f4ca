//! Result rows of Tstat's log capabilities: the lines Tstat wrote to `log_tcp_complete` or
//! `log_http_complete` during a specification's window, turned into mPlane result rows with
//! exactly the capability's result columns, in order (mplane.md §12.2), every value a string
//! of its element's primitive type in the Tstat registry (§3.2, §5.4), already in the form the
//! RI prints (`Prim::canonical(v) == v`).
//!
//! - [`tcp_result_row`] (or [`TcpHeader::row`], which parses the header once) maps one
//!   `log_tcp_complete` line to the row of one `tstat-log_tcp_complete-*` capability. Columns
//!   are looked up by name in the header line of the file the line was written to, so a line
//!   written while the capability's column group was off gives [`RowError::MissingColumn`].
//! - [`HttpRows`] pairs the request and response rows of `log_http_complete` into one result
//!   row per HTTP transaction (`tstat-log_http_complete`).
//!
//! # Encodings
//!
//! | mPlane type | from Tstat's | rule |
//! |---|---|---|
//! | natural | `%d`/`%u` integers, or `%f` (`durat`) | the integer; a decimal is rounded to the nearest integer, halves up (on the printed digits: `12.5` → `13`) |
//! | real | `%f` | Python's `repr` of the double ([`py_float_repr`]); `nan`/`inf` stay as such (valid mPlane reals) |
//! | boolean | `0`/`1` | `False`/`True` |
//! | address | `a.b.c.d` or IPv6 | as the RI prints it (IPv6 compressed, lower case) |
//! | string | any | as printed, Tstat's `-` for "none" included |
//! | time | `first`, `last` (ms since the epoch, `%f`) | that instant, rounded to the microsecond |
//! | time | `c_first`, `s_first`, `c_last`, `s_last`, `c_first_ack`, `s_first_ack` (ms after `first`) | the absolute instant `first` + offset; Tstat's 0 for "never happened" therefore reads as the flow's start |
//! | time | `c_rtt_avg`, `c_rtt_min`, `c_rtt_max` (ms) | **a duration as a time: the Unix epoch plus the duration**, 12.345 ms → `1970-01-01 00:00:00.012345` (the registry types `rtt.*.ms` as `time`, §5.4) |
//! | time | `time_abs` of `log_http_complete` (s since the epoch, `%f`) | that instant |
//!
//! Times are rounded to the microsecond (mPlane prints six fractional digits) from the printed
//! decimal digits, not through a double, so the binary noise of Tstat's `%f`
//! (`1362692526869.343994`) goes away and an offset adds exactly to `first`.
//!
//! # Column mapping
//!
//! `source` is Tstat's client (`c_*`, the sender of the first SYN), `destination` its server
//! (`s_*`); `forward` is client to server. The direct ones (`packets.forward.syn` =
//! `c_syn_cnt`, `bytes.backward.unique` = `s_bytes_uniq`, ...) are in the tables of the code;
//! the decisions worth knowing:
//!
//! | element | Tstat column | why |
//! |---|---|---|
//! | `duration.ms` | `durat` | ms, rounded to an integer (natural) |
//! | `source.TTFP.ms`, `destination.TTFP.ms` | `first` + `c_first`, `first` + `s_first` | time to first payload, as an instant |
//! | `source.TTLP.ms`, `destination.TTLP.ms` | `first` + `c_last`, `first` + `s_last` | time to last payload |
//! | `source.TTFA.ms`, `destination.TTFA.ms` | `first` + `c_first_ack`, `first` + `s_first_ack` | time to first ACK |
//! | `tstat.flow.class.conn`, `.p2p`, `.http` | `con_t`, `p2p_t`, `http_t` | the numbers as printed (strings in the registry) |
//! | `rtt.average.ms`, `.min.ms`, `.max.ms`, `rtt.stddev`, `rtt.samples`, `ttl.min`, `ttl.max` | `c_rtt_avg`, `c_rtt_min`, `c_rtt_max`, `c_rtt_std`, `c_rtt_cnt`, `c_ttl_min`, `c_ttl_max` | **the client side.** The proxy named them without a side; its seven columns are, in order, the first seven of the End_to_end group, the client half. `c_rtt_*` is the RTT of the client's segments (client data → server ACK, measured at the probe), i.e. probe ↔ server, the network path a probe at the edge of an access network is there to measure; `c_ttl_*` are the TTLs of the client's packets. `rtt.stddev` is the `%f` of ms as a real. |
//! | `{source,destination}.RFC1323.ws`, `.RFC1323.ts` | `c_f1323_opt`, `c_tm_opt` (and `s_*`) | window-scale and timestamp options seen |
//! | `.win_scale`, `.SACK_set`, `.SACK` | `c_win_scl`, `c_sack_opt`, `c_sack_cnt` | |
//! | `.MSS.bytes`, `.segment.max.bytes`, `.segment.min.bytes` | `c_mss`, `c_mss_max`, `c_mss_min` | the MSS option; largest and smallest segment payload |
//! | `.window.max.bytes`, `.window.min.bytes`, `.window.zero` | `c_win_max`, `c_win_min`, `c_win_0` | |
//! | `.cwin.max.bytes`, `.cwin.min.bytes`, `.cwin.first.bytes` | `c_cwin_max`, `c_cwin_min`, `c_cwin_ini` | |
//! | `.rxmit.RTO`, `.rxmit.RTO.unnecessary`, `.rxmit.FR`, `.rxmit.FR.unnecessary` | `c_pkts_rto`, `c_pkts_unrto`, `c_pkts_fs`, `c_pkts_unfs` | by meaning: the proxy's order is not Tstat's |
//! | `.reordering`, `.net_dup`, `.unknown`, `.flow_control` | `c_pkts_reor`, `c_pkts_dup`, `c_pkts_unk`, `c_pkts_fc` | |
//! | `.SYN.equal_seqno` | `c_syn_retx` | Tstat's flag as printed: True when a repeated SYN or FIN carried a *different* sequence number (the column Tstat 2 documented as "!= SYN seqno"; the proxy's name reads the other way, the value is Tstat's) |
//! | `p2p.subtype` | `p2p_st` | as printed |
//! | `ed2k.data`, `ed2k.signaling`, `ed2k.i2r`, `ed2k.r2i`, `ed2k.chat` | `ed2k_data`, `ed2k_sig`, `ed2k_c2s`, `ed2k_c2c`, `ed2k_chat` | by position (the proxy's names for Tstat's client↔server and client↔client counters) |
//! | `source.psh_separated`, `destination.psh_separated` | `c_pkts_push`, `s_pkts_push` | PSH-separated messages |
//! | `ssl.hello.client`, `ssl.hello.server` | `c_tls_SNI`, `s_tls_SCN` | the ClientHello's SNI, the ServerHello segment's certificate CN |
//!
//! # HTTP transactions
//!
//! `log_http_complete` has request rows (`#C#` layout: method, or `REQ2` for a continuation)
//! and response rows (`#S#`: `HTTP`, or `RES2`), TAB-separated. [`HttpRows`] pairs a response
//! with the oldest request of the same connection (`c_ip`, `c_port`, `s_ip`, `s_port`) that
//! has no final response yet (HTTP/1.1 answers in order); an informational (1xx) response
//! stays with its request only until the final one arrives. A response with no such request
//! is a transaction of its own. A continuation row (`REQ2`/`RES2`) completes the latest
//! request (response) of its connection: a field cut at a segment boundary (`...[*]`) is
//! joined with its continuation (`[*]...`), a missing (`-`) one is filled in; without a
//! request (response) to complete it is a transaction of its own, printed as it is.
//!
//! | element | request row | response row |
//! |---|---|---|
//! | `source.ip4`, `source.port`, `destination.ip4`, `destination.port` | `c_ip`, `c_port`, `s_ip`, `s_port` | the same |
//! | `time` | `time_abs` (the request's; the response's for a lone response) | |
//! | `request.method`, `.hostname`, `.fqdn`, `.path`, `.referer`, `.user_agent` | `method`, `hostname`, `fqdn`, `path`, `referer`, `user_agent` | |
//! | `response.http`, `.code`, `.content_len` | | `HTTP`, `response`, `content_len` |
//! | `response.content_type`, `.content_range`, `.location` | | `content_type`, `range`, `location` |
//!
//! The registry has no null, so a missing side is filled with placeholders: `-` (Tstat's own
//! "none") for strings and `0` for naturals (`response.code`, `response.content_len`). The same
//! `0` stands for a code or content length Tstat printed as `-` or that is not a number.

use super::tstat::TcpColumnGroup;
use super::value::{py_float_repr, Prim};
use super::when::format_time;
use chrono::{DateTime, Datelike};
use std::collections::{HashMap, VecDeque};

/// Why a log line gives no result row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    /// The header line is not one of Tstat's (`#NN#name:1 name:2 ...`).
    #[error("not a Tstat log_tcp_complete header line: {0}")]
    BadHeader(String),
    /// The file's header has no such column: its column group was off when the line was
    /// written.
    #[error(
        "column {column} (for {element}) is missing: the log's header has no such column, so \
         its column group was off when the line was written"
    )]
    MissingColumn {
        /// Tstat's column.
        column: &'static str,
        /// The result column it feeds.
        element: &'static str,
    },
    /// The line does not have as many fields as its header has columns.
    #[error("the line has {found} fields where its header has {expected} columns")]
    FieldCount {
        /// Columns of the header.
        expected: usize,
        /// Fields of the line.
        found: usize,
    },
    /// A value that does not read as what Tstat prints in its column.
    #[error("bad value {value:?} in column {column}: {reason}")]
    BadValue {
        /// Tstat's column.
        column: &'static str,
        /// The value (clipped).
        value: String,
        /// What was expected.
        reason: &'static str,
    },
    /// Not a data line of the log (e.g. a header or comment line).
    #[error("wrong kind of line: expected {expected}, got {line:?}")]
    WrongKind {
        /// What was expected.
        expected: &'static str,
        /// The line (clipped).
        line: String,
    },
}

fn clip(s: &str) -> String {
    const CLIP: usize = 64;
    if s.len() <= CLIP {
        return s.to_string();
    }
    let mut end = CLIP;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn bad(column: &'static str, value: &str, reason: &'static str) -> RowError {
    RowError::BadValue {
        column,
        value: clip(value),
        reason,
    }
}

// ---------------------------------------------------------------------------------------------
// Values

/// How a Tstat column becomes an mPlane value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conv {
    /// An address, as the RI prints it.
    Address,
    /// An integer, or a decimal rounded to the nearest integer (halves up); never negative.
    Natural,
    /// `0`/`1` → `False`/`True`.
    Boolean,
    /// As printed.
    Text,
    /// A `%f` double → Python's `repr`.
    Real,
    /// Milliseconds since the epoch → that time.
    EpochMs,
    /// Milliseconds after the flow's `first` → the absolute time.
    AfterFirstMs,
    /// A duration in milliseconds → the epoch plus the duration.
    DurationMs,
}

impl Conv {
    /// The registry type the conversion produces.
    #[cfg(test)]
    fn prim(self) -> Prim {
        match self {
            Conv::Address => Prim::Address,
            Conv::Natural => Prim::Natural,
            Conv::Boolean => Prim::Boolean,
            Conv::Text => Prim::String,
            Conv::Real => Prim::Real,
            Conv::EpochMs | Conv::AfterFirstMs | Conv::DurationMs => Prim::Time,
        }
    }
}

/// `text` as C prints integers and `%f` (`[-]digits[.digits]`) times 10^`scale`, rounded to
/// the nearest integer on the printed digits, halves away from zero. `None` for anything
/// else, or beyond 30 integer digits.
fn scaled(text: &str, scale: usize) -> Option<i128> {
    let (neg, t) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = match t.split_once('.') {
        Some((i, f)) if !f.is_empty() => (i, f),
        Some(_) => return None,
        None => (t, ""),
    };
    let digits = |s: &str| s.bytes().all(|c| c.is_ascii_digit());
    if int.is_empty() || int.len() > 30 || !digits(int) || !digits(frac) {
        return None;
    }
    let mut v: i128 = int.parse().ok()?;
    let f = frac.as_bytes();
    for k in 0..scale {
        v = v * 10 + f.get(k).map_or(0, |d| i128::from(d - b'0'));
    }
    if f.get(scale).is_some_and(|&d| d >= b'5') {
        v += 1;
    }
    Some(if neg { -v } else { v })
}

/// A natural: a non-negative integer, or a decimal rounded to the nearest integer.
fn natural(column: &'static str, v: &str) -> Result<String, RowError> {
    match scaled(v, 0) {
        Some(n) if n >= 0 => Ok(n.to_string()),
        _ => Err(bad(column, v, "expected a non-negative number")),
    }
}

/// The time `us` microseconds after the Unix epoch, within the years mPlane (Python) prints.
fn time_us(column: &'static str, v: &str, us: i128) -> Result<String, RowError> {
    i64::try_from(us)
        .ok()
        .and_then(DateTime::from_timestamp_micros)
        .map(|t| t.naive_utc())
        .filter(|t| (1..=9999).contains(&t.year()))
        .map(|t| format_time(&t))
        .ok_or_else(|| bad(column, v, "a time outside the years 1 to 9999"))
}

/// Milliseconds (`%f`) → microseconds.
fn ms_to_us(column: &'static str, v: &str) -> Result<i128, RowError> {
    scaled(v, 3).ok_or_else(|| bad(column, v, "expected milliseconds"))
}

/// A non-negative duration in milliseconds → microseconds.
fn duration_us(column: &'static str, v: &str) -> Result<i128, RowError> {
    match ms_to_us(column, v)? {
        us if us >= 0 => Ok(us),
        _ => Err(bad(column, v, "a negative duration")),
    }
}

fn convert(conv: Conv, column: &'static str, v: &str, first_us: i128) -> Result<String, RowError> {
    match conv {
        Conv::Address => {
            if v == "*" {
                return Err(bad(column, v, "expected an address"));
            }
            Prim::Address
                .canonical(v)
                .map_err(|_| bad(column, v, "expected an address"))
        }
        Conv::Natural => natural(column, v),
        Conv::Boolean => match v {
            "0" => Ok("False".into()),
            "1" => Ok("True".into()),
            _ => Err(bad(column, v, "expected 0 or 1")),
        },
        Conv::Text => Ok(v.to_string()),
        Conv::Real => v
            .parse::<f64>()
            .map(py_float_repr)
            .map_err(|_| bad(column, v, "expected a number")),
        Conv::EpochMs => time_us(column, v, ms_to_us(column, v)?),
        Conv::AfterFirstMs => time_us(column, v, first_us + duration_us(column, v)?),
        Conv::DurationMs => time_us(column, v, duration_us(column, v)?),
    }
}

// ---------------------------------------------------------------------------------------------
// log_tcp_complete

/// One result column of a TCP capability: the element, the Tstat column, the conversion.
#[derive(Debug, Clone, Copy)]
struct Map {
    element: &'static str,
    column: &'static str,
    conv: Conv,
}

const fn m(element: &'static str, column: &'static str, conv: Conv) -> Map {
    Map {
        element,
        column,
        conv,
    }
}

use Conv::{
    Address as A, AfterFirstMs as Off, Boolean as B, DurationMs as Dur, EpochMs as Epoch,
    Natural as N, Real as R, Text as T,
};

/// `tstat-log_tcp_complete-core`.
const CORE_MAP: &[Map] = &[
    m("source.ip4", "c_ip", A),
    m("source.port", "c_port", N),
    m("packets.forward", "c_pkts_all", N),
    m("packets.forward.syn", "c_syn_cnt", N),
    m("packets.forward.fin", "c_fin_cnt", N),
    m("packets.forward.rst", "c_rst_cnt", N),
    m("packets.forward.ack", "c_ack_cnt", N),
    m("packets.forward.pure_ack", "c_ack_cnt_p", N),
    m("packets.forward.with_payload", "c_pkts_data", N),
    m("packets.forward.rxmit", "c_pkts_retx", N),
    m("packets.forward.outseq", "c_pkts_ooo", N),
    m("bytes.forward", "c_bytes_all", N),
    m("bytes.forward.unique", "c_bytes_uniq", N),
    m("bytes.forward.rxmit", "c_bytes_retx", N),
    m("destination.ip4", "s_ip", A),
    m("destination.port", "s_port", N),
    m("packets.backward", "s_pkts_all", N),
    m("packets.backward.syn", "s_syn_cnt", N),
    m("packets.backward.fin", "s_fin_cnt", N),
    m("packets.backward.rst", "s_rst_cnt", N),
    m("packets.backward.ack", "s_ack_cnt", N),
    m("packets.backward.pure_ack", "s_ack_cnt_p", N),
    m("packets.backward.with_payload", "s_pkts_data", N),
    m("packets.backward.rxmit", "s_pkts_retx", N),
    m("packets.backward.outseq", "s_pkts_ooo", N),
    m("bytes.backward", "s_bytes_all", N),
    m("bytes.backward.unique", "s_bytes_uniq", N),
    m("bytes.backward.rxmit", "s_bytes_retx", N),
    m("start", "first", Epoch),
    m("end", "last", Epoch),
    m("duration.ms", "durat", N),
    m("source.TTFP.ms", "c_first", Off),
    m("destination.TTFP.ms", "s_first", Off),
    m("source.TTLP.ms", "c_last", Off),
    m("destination.TTLP.ms", "s_last", Off),
    m("source.TTFA.ms", "c_first_ack", Off),
    m("destination.TTFA.ms", "s_first_ack", Off),
    m("source.ip4.isinternal", "c_isint", B),
    m("destination.ip4.isinternal", "s_isint", B),
    m("tstat.flow.class.conn", "con_t", T),
    m("tstat.flow.class.p2p", "p2p_t", T),
    m("tstat.flow.class.http", "http_t", T),
];

/// `tstat-log_tcp_complete-end_to_end`: the client half of the End_to_end group.
const END_TO_END_MAP: &[Map] = &[
    m("rtt.average.ms", "c_rtt_avg", Dur),
    m("rtt.min.ms", "c_rtt_min", Dur),
    m("rtt.max.ms", "c_rtt_max", Dur),
    m("rtt.stddev", "c_rtt_std", R),
    m("rtt.samples", "c_rtt_cnt", N),
    m("ttl.min", "c_ttl_min", N),
    m("ttl.max", "c_ttl_max", N),
];

macro_rules! options_map {
    ($($side:literal, $c:literal);*) => {
        &[$(
            m(concat!($side, ".RFC1323.ws"), concat!($c, "_f1323_opt"), B),
            m(concat!($side, ".RFC1323.ts"), concat!($c, "_tm_opt"), B),
            m(concat!($side, ".win_scale"), concat!($c, "_win_scl"), N),
            m(concat!($side, ".SACK_set"), concat!($c, "_sack_opt"), B),
            m(concat!($side, ".SACK"), concat!($c, "_sack_cnt"), N),
            m(concat!($side, ".MSS.bytes"), concat!($c, "_mss"), N),
            m(concat!($side, ".segment.max.bytes"), concat!($c, "_mss_max"), N),
            m(concat!($side, ".segment.min.bytes"), concat!($c, "_mss_min"), N),
            m(concat!($side, ".window.max.bytes"), concat!($c, "_win_max"), N),
            m(concat!($side, ".window.min.bytes"), concat!($c, "_win_min"), N),
            m(concat!($side, ".window.zero"), concat!($c, "_win_0"), N),
            m(concat!($side, ".cwin.max.bytes"), concat!($c, "_cwin_max"), N),
            m(concat!($side, ".cwin.min.bytes"), concat!($c, "_cwin_min"), N),
            m(concat!($side, ".cwin.first.bytes"), concat!($c, "_cwin_ini"), N),
            m(concat!($side, ".rxmit.RTO"), concat!($c, "_pkts_rto"), N),
            m(concat!($side, ".rxmit.RTO.unnecessary"), concat!($c, "_pkts_unrto"), N),
            m(concat!($side, ".rxmit.FR"), concat!($c, "_pkts_fs"), N),
            m(concat!($side, ".rxmit.FR.unnecessary"), concat!($c, "_pkts_unfs"), N),
            m(concat!($side, ".reordering"), concat!($c, "_pkts_reor"), N),
            m(concat!($side, ".net_dup"), concat!($c, "_pkts_dup"), N),
            m(concat!($side, ".unknown"), concat!($c, "_pkts_unk"), N),
            m(concat!($side, ".flow_control"), concat!($c, "_pkts_fc"), N),
            m(concat!($side, ".SYN.equal_seqno"), concat!($c, "_syn_retx"), B),
        )*]
    };
}

/// `tstat-log_tcp_complete-tcp_options`.
const OPTIONS_MAP: &[Map] = options_map!("source", "c"; "destination", "s");

/// `tstat-log_tcp_complete-p2p_stats`.
const P2P_MAP: &[Map] = &[
    m("p2p.subtype", "p2p_st", T),
    m("ed2k.data", "ed2k_data", N),
    m("ed2k.signaling", "ed2k_sig", N),
    m("ed2k.i2r", "ed2k_c2s", N),
    m("ed2k.r2i", "ed2k_c2c", N),
    m("ed2k.chat", "ed2k_chat", N),
];

/// `tstat-log_tcp_complete-layer7`.
const LAYER7_MAP: &[Map] = &[
    m("source.psh_separated", "c_pkts_push", N),
    m("destination.psh_separated", "s_pkts_push", N),
    m("ssl.hello.client", "c_tls_SNI", T),
    m("ssl.hello.server", "s_tls_SCN", T),
];

fn tcp_map(group: TcpColumnGroup) -> &'static [Map] {
    match group {
        TcpColumnGroup::Core => CORE_MAP,
        TcpColumnGroup::EndToEnd => END_TO_END_MAP,
        TcpColumnGroup::TcpOptions => OPTIONS_MAP,
        TcpColumnGroup::P2pStats => P2P_MAP,
        TcpColumnGroup::Layer7 => LAYER7_MAP,
    }
}

/// The Tstat column each result column of `group`'s capability comes from, in the
/// capability's order: `(element, column)`. Time offsets also read `first`.
pub fn tcp_source_columns(
    group: TcpColumnGroup,
) -> impl Iterator<Item = (&'static str, &'static str)> {
    tcp_map(group).iter().map(|m| (m.element, m.column))
}

/// The header line of a `log_tcp_complete` file: which column is where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpHeader {
    index: HashMap<String, usize>,
    len: usize,
}

impl TcpHeader {
    /// Parses a header line as [`crate::logs::tcp_header`] writes it (`#15#c_ip:1 c_port:2
    /// ...`, newline optional; the `NN#` level may be absent): space-separated `name:index`,
    /// indices counting from 1 in order.
    pub fn parse(header: &str) -> Result<TcpHeader, RowError> {
        let h = header.trim_end_matches(['\n', '\r']);
        let body = h
            .strip_prefix('#')
            .ok_or_else(|| RowError::BadHeader(format!("no leading '#': {:?}", clip(h))))?;
        let level = body.bytes().take_while(u8::is_ascii_digit).count();
        let body = match body[level..].strip_prefix('#') {
            Some(rest) if level > 0 => rest,
            _ => body,
        };
        let mut index = HashMap::new();
        let mut len = 0;
        for token in body.split(' ') {
            let (name, n) = token.rsplit_once(':').ok_or_else(|| {
                RowError::BadHeader(format!("{:?} is not name:index", clip(token)))
            })?;
            if name.is_empty() || n.parse::<usize>().ok() != Some(len + 1) {
                return Err(RowError::BadHeader(format!(
                    "{:?} where column {} was expected",
                    clip(token),
                    len + 1
                )));
            }
            if index.insert(name.to_string(), len).is_some() {
                return Err(RowError::BadHeader(format!(
                    "column {:?} appears twice",
                    clip(name)
                )));
            }
            len += 1;
        }
        Ok(TcpHeader { index, len })
    }

    /// How many columns the header has.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the header has no column (never, for a parsed header).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether lines under this header carry every column `group`'s capability needs.
    pub fn has_group(&self, group: TcpColumnGroup) -> bool {
        tcp_map(group)
            .iter()
            .all(|m| self.index.contains_key(m.column))
    }

    fn column(&self, column: &'static str, element: &'static str) -> Result<usize, RowError> {
        self.index
            .get(column)
            .copied()
            .ok_or(RowError::MissingColumn { column, element })
    }

    /// The result row of `group`'s capability for one data line written under this header:
    /// exactly `TstatAction::TcpLog(group).results()`, in order (see the module documentation
    /// for the mapping and the encodings).
    pub fn row(&self, group: TcpColumnGroup, line: &str) -> Result<Vec<String>, RowError> {
        let line = line.trim_end_matches(['\n', '\r']);
        if line.is_empty() || line.starts_with('#') {
            return Err(RowError::WrongKind {
                expected: "a log_tcp_complete data line",
                line: clip(line),
            });
        }
        let map = tcp_map(group);
        let at = map
            .iter()
            .map(|m| self.column(m.column, m.element))
            .collect::<Result<Vec<_>, _>>()?;
        let needs_first = map.iter().any(|m| m.conv == Conv::AfterFirstMs);
        let first_at = if needs_first {
            Some(self.column("first", "start")?)
        } else {
            None
        };
        let fields: Vec<&str> = line.split(' ').collect();
        if fields.len() != self.len {
            return Err(RowError::FieldCount {
                expected: self.len,
                found: fields.len(),
            });
        }
        let first_us = match first_at {
            Some(i) => ms_to_us("first", fields[i])?,
            None => 0,
        };
        map.iter()
            .zip(at)
            .map(|(m, i)| convert(m.conv, m.column, fields[i], first_us))
            .collect()
    }
}

/// The result row of the `tstat-log_tcp_complete-*` capability of `group` for one data line
/// of `log_tcp_complete`, `header` being the header line of the file it was written to. A
/// line written while the group was off gives [`RowError::MissingColumn`]. Parse the header
/// once with [`TcpHeader::parse`] to convert many lines.
pub fn tcp_result_row(
    group: TcpColumnGroup,
    header: &str,
    line: &str,
) -> Result<Vec<String>, RowError> {
    TcpHeader::parse(header)?.row(group, line)
}

// ---------------------------------------------------------------------------------------------
// log_http_complete

/// The columns of a request row (`#C#` of `log_http_complete`).
const REQUEST_COLUMNS: [&str; 13] = [
    "c_ip",
    "c_port",
    "s_ip",
    "s_port",
    "time_abs",
    "method",
    "hostname",
    "fqdn",
    "path",
    "referer",
    "user_agent",
    "cookie",
    "dnt",
];

/// The columns of a response row (`#S#`; its first five are the request row's, the others
/// are read by position through [`RESPONSE_FIELDS`]).
#[cfg(test)]
const RESPONSE_COLUMNS: [&str; 13] = [
    "c_ip",
    "c_port",
    "s_ip",
    "s_port",
    "time_abs",
    "HTTP",
    "response",
    "content_len",
    "content_type",
    "server",
    "range",
    "location",
    "set_cookie",
];

/// Where the request fields of a transaction come from: `method` .. `user_agent`.
const REQUEST_FIELDS: std::ops::Range<usize> = 5..11;
/// Where the response fields come from: `HTTP`, `response`, `content_len`, `content_type`,
/// `range`, `location` (not `server`).
const RESPONSE_FIELDS: [usize; 6] = [5, 6, 7, 8, 10, 11];
/// A field cut at a segment boundary ends with this; its continuation starts with it.
const CUT: &str = "[*]";

/// One side of a transaction: its time and its fields as printed.
#[derive(Debug, Clone)]
struct Side {
    time: String,
    fields: [String; 6],
}

impl Side {
    fn new(time: String, f: &[&str], at: impl Iterator<Item = usize>) -> Side {
        let mut fields: [String; 6] = Default::default();
        for (slot, i) in fields.iter_mut().zip(at) {
            *slot = f[i].to_string();
        }
        Side { time, fields }
    }

    /// Completes these fields with a continuation row's (all but the first, the row kind).
    fn complete(&mut self, more: &Side) {
        for (into, more) in self.fields.iter_mut().zip(&more.fields).skip(1) {
            if more == "-" || more.is_empty() {
                continue;
            }
            if let (Some(head), Some(tail)) = (into.strip_suffix(CUT), more.strip_prefix(CUT)) {
                *into = format!("{head}{tail}");
            } else if into == "-" {
                into.clone_from(more);
            }
        }
    }

    /// Whether this response is informational (1xx): a final one may follow.
    fn interim(&self) -> bool {
        matches!(self.fields[1].parse::<u16>(), Ok(100..=199))
    }
}

#[derive(Debug, Clone)]
struct Transaction {
    conn: [String; 4],
    request: Option<Side>,
    response: Option<Side>,
}

#[derive(Debug, Default)]
struct Connection {
    /// Transactions without a final response, oldest first.
    pending: VecDeque<usize>,
    last_request: Option<usize>,
    last_response: Option<usize>,
}

/// The `tstat-log_http_complete` rows of a window: fed the captured lines of
/// `log_http_complete` in order, it pairs requests and responses into one row per HTTP
/// transaction (see the module documentation).
#[derive(Debug, Default)]
pub struct HttpRows {
    transactions: Vec<Transaction>,
    connections: HashMap<[String; 4], Connection>,
}

/// A natural printed by Tstat as text (a status code, a `Content-Length`): the number, or
/// the placeholder `0` for `-` or anything that is not a plain decimal integer.
fn natural_or_zero(v: &str) -> String {
    let t = v.trim();
    if !t.is_empty() && t.len() <= 30 && t.bytes().all(|c| c.is_ascii_digit()) {
        if let Ok(n) = t.parse::<u128>() {
            return n.to_string();
        }
    }
    "0".into()
}

impl HttpRows {
    /// No line yet.
    pub fn new() -> HttpRows {
        HttpRows::default()
    }

    /// Transactions so far.
    pub fn len(&self) -> usize {
        self.transactions.len()
    }

    /// Whether no transaction was seen yet.
    pub fn is_empty(&self) -> bool {
        self.transactions.is_empty()
    }

    /// Takes the next captured line (newline optional). The `#C#`/`#S#` header lines are
    /// skipped; a line that is not a row of the log is refused and changes nothing.
    pub fn push(&mut self, line: &str) -> Result<(), RowError> {
        let line = line.trim_end_matches(['\n', '\r']);
        if line.starts_with('#') {
            return Ok(());
        }
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != REQUEST_COLUMNS.len() {
            return Err(RowError::FieldCount {
                expected: REQUEST_COLUMNS.len(),
                found: f.len(),
            });
        }
        let address = |i: usize| convert(Conv::Address, REQUEST_COLUMNS[i], f[i], 0);
        let port = |i: usize| match scaled(f[i], 0) {
            Some(p) if u16::try_from(p).is_ok() && !f[i].contains(['.', '-']) => Ok(p.to_string()),
            _ => Err(bad(REQUEST_COLUMNS[i], f[i], "expected a port number")),
        };
        let conn = [address(0)?, port(1)?, address(2)?, port(3)?];
        let us = scaled(f[4], 6).ok_or_else(|| bad("time_abs", f[4], "expected seconds"))?;
        let time = time_us("time_abs", f[4], us)?;
        let state = self.connections.entry(conn.clone()).or_default();
        let next = self.transactions.len();
        match f[5] {
            "HTTP" | "RES2" => {
                let side = Side::new(time, &f, RESPONSE_FIELDS.into_iter());
                if f[5] == "RES2" {
                    if let Some(t) = state.last_response {
                        if let Some(r) = self.transactions[t].response.as_mut() {
                            r.complete(&side);
                            return Ok(());
                        }
                    }
                }
                let interim = side.interim();
                let pending = match f[5] {
                    "HTTP" => state.pending.front().copied(),
                    _ => None,
                };
                match pending {
                    Some(t) => {
                        self.transactions[t].response = Some(side);
                        if !interim {
                            state.pending.pop_front();
                        }
                        state.last_response = Some(t);
                    }
                    None => {
                        self.transactions.push(Transaction {
                            conn,
                            request: None,
                            response: Some(side),
                        });
                        state.last_response = Some(next);
                    }
                }
            }
            kind => {
                let side = Side::new(time, &f, REQUEST_FIELDS);
                if kind == "REQ2" {
                    if let Some(t) = state.last_request {
                        if let Some(r) = self.transactions[t].request.as_mut() {
                            r.complete(&side);
                            return Ok(());
                        }
                    }
                }
                self.transactions.push(Transaction {
                    conn,
                    request: Some(side),
                    response: None,
                });
                state.pending.push_back(next);
                state.last_request = Some(next);
            }
        }
        Ok(())
    }

    /// The result rows, one per transaction in the order its request (or lone response)
    /// came, each with the columns of `tstat-log_http_complete` in order.
    pub fn finish(self) -> Vec<Vec<String>> {
        self.transactions
            .into_iter()
            .map(|t| {
                let time = match (&t.request, &t.response) {
                    (Some(q), _) | (None, Some(q)) => q.time.clone(),
                    (None, None) => String::new(),
                };
                let mut row: Vec<String> = Vec::with_capacity(17);
                let [c_ip, c_port, s_ip, s_port] = t.conn;
                row.extend([c_ip, c_port, s_ip, s_port, time]);
                match t.request {
                    Some(q) => row.extend(q.fields),
                    None => row.extend((0..6).map(|_| "-".to_string())),
                }
                match t.response {
                    Some(r) => {
                        let [http, code, len, ctype, range, location] = r.fields;
                        row.extend([
                            http,
                            natural_or_zero(&code),
                            natural_or_zero(&len),
                            ctype,
                            range,
                            location,
                        ]);
                    }
                    None => row.extend(
                        ["-", "0", "0", "-", "-", "-"]
                            .into_iter()
                            .map(str::to_string),
                    ),
                }
                row
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::{self, TcpLevel};
    use crate::mplane::registry::{Registries, TSTAT_REGISTRY_URI};
    use crate::mplane::tstat::TstatAction;
    use engine::record::{InlineStr, MessageRecord, TcpRecord};
    use engine::time::Timestamp;
    use std::collections::HashMap;

    const GROUPS: [TcpColumnGroup; 5] = [
        TcpColumnGroup::Core,
        TcpColumnGroup::EndToEnd,
        TcpColumnGroup::TcpOptions,
        TcpColumnGroup::P2pStats,
        TcpColumnGroup::Layer7,
    ];

    /// Tstat 3.3.0's own logs of the end-to-end fixtures (tests/README.md).
    const GOLDEN_TCP: [(&str, &str); 7] = [
        (
            "full/zeek__bro.org",
            include_str!("../../../tests/golden/full/zeek__bro.org/log_tcp_complete"),
        ),
        (
            "full/ndpi__1kxun.compact",
            include_str!("../../../tests/golden/full/ndpi__1kxun.compact/log_tcp_complete"),
        ),
        (
            "full/zeek__http-vlan-0",
            include_str!("../../../tests/golden/full/zeek__http-vlan-0/log_tcp_complete"),
        ),
        (
            "default/ndpi__443-firefox",
            include_str!("../../../tests/golden/default/ndpi__443-firefox/log_tcp_complete"),
        ),
        (
            "default/ndpi__google_ssl",
            include_str!("../../../tests/golden/default/ndpi__google_ssl/log_tcp_complete"),
        ),
        (
            "netpriv/zeek__retransmit-fast009",
            include_str!("../../../tests/golden/netpriv/zeek__retransmit-fast009/log_tcp_complete"),
        ),
        (
            "default/zeek__timestamp",
            include_str!("../../../tests/golden/default/zeek__timestamp/log_tcp_complete"),
        ),
    ];

    const GOLDEN_HTTP: [(&str, &str); 5] = [
        (
            "zeek__bro.org",
            include_str!("../../../tests/golden/full/zeek__bro.org/log_http_complete"),
        ),
        (
            "zeek__http-vlan-0",
            include_str!("../../../tests/golden/full/zeek__http-vlan-0/log_http_complete"),
        ),
        (
            "zeek__wikipedia",
            include_str!("../../../tests/golden/full/zeek__wikipedia/log_http_complete"),
        ),
        (
            "ndpi__1kxun.compact",
            include_str!("../../../tests/golden/full/ndpi__1kxun.compact/log_http_complete"),
        ),
        (
            "ndpi__dns_ambiguous_names",
            include_str!("../../../tests/golden/full/ndpi__dns_ambiguous_names/log_http_complete"),
        ),
    ];

    fn results(group: TcpColumnGroup) -> &'static [&'static str] {
        TstatAction::TcpLog(group).results()
    }

    /// Every value is of its element's type and already canonical.
    fn assert_typed(elements: &[&str], row: &[String], what: &str) {
        static REGISTRIES: std::sync::OnceLock<Registries> = std::sync::OnceLock::new();
        let reg = REGISTRIES.get_or_init(Registries::builtin);
        assert_eq!(row.len(), elements.len(), "{what}");
        for (name, v) in elements.iter().zip(row) {
            let prim = reg.prim(TSTAT_REGISTRY_URI, name).unwrap();
            let canonical = prim
                .canonical(v)
                .unwrap_or_else(|e| panic!("{what}: {name} = {v:?}: {e}"));
            assert_eq!(&canonical, v, "{what}: {name} is not canonical");
        }
    }

    /// name → value of one data line, read with nothing but `split`.
    fn cells<'a>(header: &'a str, line: &'a str) -> HashMap<&'a str, &'a str> {
        let names = header.trim_end().splitn(3, '#').nth(2).unwrap().split(' ');
        let names: Vec<&str> = names.map(|c| c.split(':').next().unwrap()).collect();
        let values: Vec<&str> = line.split(' ').collect();
        assert_eq!(names.len(), values.len());
        names.into_iter().zip(values).collect()
    }

    /// The mPlane time of `us` µs after the epoch.
    fn at_us(us: i128) -> String {
        let t = DateTime::from_timestamp_micros(i64::try_from(us).unwrap()).unwrap();
        format_time(&t.naive_utc())
    }

    /// A printed `%f` (ms, or s for `digits` 6) in µs, rounded on the printed digits (the
    /// rule of the module documentation), checked against the double within a microsecond.
    fn us(text: &str, digits: usize) -> i128 {
        let (int, frac) = text.split_once('.').unwrap_or((text, ""));
        let mut f: String = frac
            .chars()
            .chain(std::iter::repeat('0'))
            .take(digits + 1)
            .collect();
        let up = f.pop().unwrap() >= '5';
        let v = format!("{int}{f}").parse::<i128>().unwrap() + i128::from(up);
        let float = text.parse::<f64>().unwrap() * 10f64.powi(digits as i32);
        assert!((v as f64 - float).abs() <= 1.0, "{text}");
        v
    }

    fn ms(v: &str) -> f64 {
        v.parse::<f64>().unwrap()
    }

    /// What each element must be, from the line's cells (the specification of the module
    /// documentation, written out independently of the code's tables).
    fn expected(element: &str, c: &HashMap<&str, &str>) -> String {
        let side = |e: &str| if e.starts_with("source.") { "c_" } else { "s_" };
        let col = |e: &str, name: &str| c[format!("{}{name}", side(e)).as_str()].to_string();
        let boolean = |v: &str| if v == "1" { "True" } else { "False" }.to_string();
        let first_us = us(c["first"], 3);
        let after_first = |v: &str| at_us(first_us + us(v, 3));
        let direct: &[(&str, &str)] = &[
            ("source.port", "c_port"),
            ("destination.port", "s_port"),
            ("packets.forward", "c_pkts_all"),
            ("packets.forward.syn", "c_syn_cnt"),
            ("packets.forward.fin", "c_fin_cnt"),
            ("packets.forward.rst", "c_rst_cnt"),
            ("packets.forward.ack", "c_ack_cnt"),
            ("packets.forward.pure_ack", "c_ack_cnt_p"),
            ("packets.forward.with_payload", "c_pkts_data"),
            ("packets.forward.rxmit", "c_pkts_retx"),
            ("packets.forward.outseq", "c_pkts_ooo"),
            ("bytes.forward", "c_bytes_all"),
            ("bytes.forward.unique", "c_bytes_uniq"),
            ("bytes.forward.rxmit", "c_bytes_retx"),
            ("packets.backward", "s_pkts_all"),
            ("packets.backward.syn", "s_syn_cnt"),
            ("packets.backward.fin", "s_fin_cnt"),
            ("packets.backward.rst", "s_rst_cnt"),
            ("packets.backward.ack", "s_ack_cnt"),
            ("packets.backward.pure_ack", "s_ack_cnt_p"),
            ("packets.backward.with_payload", "s_pkts_data"),
            ("packets.backward.rxmit", "s_pkts_retx"),
            ("packets.backward.outseq", "s_pkts_ooo"),
            ("bytes.backward", "s_bytes_all"),
            ("bytes.backward.unique", "s_bytes_uniq"),
            ("bytes.backward.rxmit", "s_bytes_retx"),
            ("tstat.flow.class.conn", "con_t"),
            ("tstat.flow.class.p2p", "p2p_t"),
            ("tstat.flow.class.http", "http_t"),
            ("rtt.samples", "c_rtt_cnt"),
            ("ttl.min", "c_ttl_min"),
            ("ttl.max", "c_ttl_max"),
            ("p2p.subtype", "p2p_st"),
            ("ed2k.data", "ed2k_data"),
            ("ed2k.signaling", "ed2k_sig"),
            ("ed2k.i2r", "ed2k_c2s"),
            ("ed2k.r2i", "ed2k_c2c"),
            ("ed2k.chat", "ed2k_chat"),
            ("ssl.hello.client", "c_tls_SNI"),
            ("ssl.hello.server", "s_tls_SCN"),
        ];
        if let Some((_, column)) = direct.iter().find(|(e, _)| *e == element) {
            return c[column].to_string();
        }
        // The per-side suffixes of the Options and Layer7 groups.
        let sided: &[(&str, &str)] = &[
            (".win_scale", "win_scl"),
            (".SACK", "sack_cnt"),
            (".MSS.bytes", "mss"),
            (".segment.max.bytes", "mss_max"),
            (".segment.min.bytes", "mss_min"),
            (".window.max.bytes", "win_max"),
            (".window.min.bytes", "win_min"),
            (".window.zero", "win_0"),
            (".cwin.max.bytes", "cwin_max"),
            (".cwin.min.bytes", "cwin_min"),
            (".cwin.first.bytes", "cwin_ini"),
            (".rxmit.RTO", "pkts_rto"),
            (".rxmit.RTO.unnecessary", "pkts_unrto"),
            (".rxmit.FR", "pkts_fs"),
            (".rxmit.FR.unnecessary", "pkts_unfs"),
            (".reordering", "pkts_reor"),
            (".net_dup", "pkts_dup"),
            (".unknown", "pkts_unk"),
            (".flow_control", "pkts_fc"),
            (".psh_separated", "pkts_push"),
        ];
        let bools: &[(&str, &str)] = &[
            (".RFC1323.ws", "f1323_opt"),
            (".RFC1323.ts", "tm_opt"),
            (".SACK_set", "sack_opt"),
            (".SYN.equal_seqno", "syn_retx"),
            (".ip4.isinternal", "isint"),
        ];
        let rest = element.split_once('.').map_or("", |(_, r)| r);
        let suffix = format!(".{rest}");
        if let Some((_, name)) = sided.iter().find(|(s, _)| *s == suffix) {
            return col(element, name);
        }
        if let Some((_, name)) = bools.iter().find(|(s, _)| *s == suffix) {
            return boolean(&col(element, name));
        }
        match element {
            "source.ip4" => c["c_ip"].to_string(),
            "destination.ip4" => c["s_ip"].to_string(),
            "start" => at_us(first_us),
            "end" => at_us(us(c["last"], 3)),
            "duration.ms" => format!("{}", ms(c["durat"]).round() as u64),
            "source.TTFP.ms" | "destination.TTFP.ms" => after_first(&col(element, "first")),
            "source.TTLP.ms" | "destination.TTLP.ms" => after_first(&col(element, "last")),
            "source.TTFA.ms" | "destination.TTFA.ms" => after_first(&col(element, "first_ack")),
            "rtt.average.ms" => at_us(us(c["c_rtt_avg"], 3)),
            "rtt.min.ms" => at_us(us(c["c_rtt_min"], 3)),
            "rtt.max.ms" => at_us(us(c["c_rtt_max"], 3)),
            "rtt.stddev" => py_float_repr(ms(c["c_rtt_std"])),
            other => panic!("no expectation for {other}"),
        }
    }

    #[test]
    fn mappings_are_the_capability_columns() {
        let reg = Registries::builtin();
        let all: Vec<&str> = [
            logs::columns::CORE,
            logs::columns::END_TO_END,
            logs::columns::P2P,
            logs::columns::OPTIONS,
            logs::columns::LAYER7,
        ]
        .concat();
        for g in GROUPS {
            let map = tcp_map(g);
            let elements: Vec<&str> = map.iter().map(|m| m.element).collect();
            assert_eq!(elements, results(g), "{g:?}");
            assert!(tcp_source_columns(g).eq(map.iter().map(|m| (m.element, m.column))));
            for m in map {
                assert!(
                    all.contains(&m.column),
                    "{g:?}: {} is not Tstat's",
                    m.column
                );
                assert_eq!(
                    reg.prim(TSTAT_REGISTRY_URI, m.element),
                    Ok(m.conv.prim()),
                    "{}",
                    m.element
                );
            }
            // Each Tstat column feeds one element.
            let mut columns: Vec<&str> = map.iter().map(|m| m.column).collect();
            columns.sort_unstable();
            columns.dedup();
            assert_eq!(columns.len(), map.len(), "{g:?}");
        }
    }

    #[test]
    fn tstat_golden_rows_for_every_group() {
        let mut rows = 0;
        for (name, log) in GOLDEN_TCP {
            let mut lines = log.lines();
            let header_line = lines.next().unwrap();
            let header = TcpHeader::parse(header_line).unwrap();
            assert_eq!(header.len(), 134, "{name}");
            for line in lines {
                let c = cells(header_line, line);
                for g in GROUPS {
                    assert!(header.has_group(g));
                    let row = header
                        .row(g, line)
                        .unwrap_or_else(|e| panic!("{name}: {e}"));
                    assert_eq!(tcp_result_row(g, header_line, line).unwrap(), row);
                    assert_typed(results(g), &row, name);
                    for (element, v) in results(g).iter().zip(&row) {
                        assert_eq!(v, &expected(element, &c), "{name} {element}: {line}");
                    }
                }
                rows += 1;
            }
        }
        assert_eq!(rows, 12 + 22 + 1 + 1 + 1 + 1 + 1);
    }

    #[test]
    fn golden_values_that_matter() {
        // zeek__http-vlan-0: the RTT worked example, and the times of the one HTTP flow.
        let log = GOLDEN_TCP[2].1;
        let mut lines = log.lines();
        let header = lines.next().unwrap();
        let line = lines.next().unwrap();
        let c = cells(header, line);
        let core = tcp_result_row(TcpColumnGroup::Core, header, line).unwrap();
        let start = &core[28];
        // `first` printed with binary noise reads as the packet's microsecond.
        assert!(c["first"].starts_with("1362692526869.34"), "{}", c["first"]);
        assert_eq!(start, "2013-03-07 21:42:06.869344");
        let e2e = tcp_result_row(TcpColumnGroup::EndToEnd, header, line).unwrap();
        let min_us = us(c["c_rtt_min"], 3);
        assert_eq!(
            e2e[1],
            format!(
                "1970-01-01 00:00:{:02}.{:06}",
                min_us / 1_000_000,
                min_us % 1_000_000
            )
        );
    }

    fn record() -> TcpRecord {
        let first = Timestamp::from_sec_usec(1_362_692_526, 869_344);
        let at = |us: i64| Timestamp(first.0 + us);
        let mut r = TcpRecord {
            c_ip: "10.0.0.1".parse().unwrap(),
            c_port: 40000,
            s_ip: "2001:db8::7".parse().unwrap(),
            s_port: 443,
            c_isint: true,
            s_isint: false,
            first,
            last: at(2_345_678),
            complete: true,
            dirs: Default::default(),
            l7: Default::default(),
            dns: Default::default(),
            rates: Default::default(),
        };
        let [c, s] = &mut r.dirs;
        (c.packets, c.syn_cnt, c.fin_cnt, c.bytes_all, c.bytes_uniq) = (12, 1, 1, 517, 517);
        (s.packets, s.syn_cnt, s.rst_cnt, s.bytes_all, s.bytes_uniq) = (10, 1, 1, 9000, 8000);
        (c.payload_start, c.payload_end, c.ack_start) = (at(1_500), at(2_000_001), at(1_499));
        // The server never sent payload: its TTFP and TTLP read as the flow's start.
        s.ack_start = at(750);
        (c.rtt_sum, c.rtt_sum2, c.rtt_cnt) = (3.0 * 12_345.0, 3.0 * 12_345.0f64.powi(2), 3);
        (c.rtt_min_us, c.rtt_max_us, c.ttl_min, c.ttl_max) = (12_000, 13_000, 60, 64);
        (c.f1323_ws, c.f1323_ts, c.win_scl, c.sack_req, c.mss) = (true, false, 7, true, 1460);
        (c.pkts_rto, c.pkts_unrto, c.pkts_fs, c.pkts_unfs, c.syn_retx) = (5, 4, 3, 2, true);
        (c.pkts_reor, c.pkts_dup, c.pkts_unk, c.pkts_fc) = (6, 7, 8, 9);
        (c.pkts_push, s.pkts_push) = (3, 4);
        let l7 = &mut r.l7;
        (l7.con_t, l7.p2p_type, l7.ed2k) = (8192, 109, [1, 2, 3, 4, 5]);
        l7.tls_sni = InlineStr::new(b"example.org");
        r
    }

    #[test]
    fn rows_written_by_our_writer() {
        let r = record();
        let header = logs::tcp_header(TcpLevel::DEFAULT, true);
        let mut line = Vec::new();
        logs::tcp_row(&mut line, &r, TcpLevel::DEFAULT, true);
        let line = String::from_utf8(line).unwrap();
        let time = |t: Timestamp| at_us(i128::from(t.0));
        let [c, s] = &r.dirs;
        let row = |g| tcp_result_row(g, &header, &line).unwrap();
        let core = row(TcpColumnGroup::Core);
        assert_typed(results(TcpColumnGroup::Core), &core, "core");
        let cell = |name: &str| {
            core[results(TcpColumnGroup::Core)
                .iter()
                .position(|e| *e == name)
                .unwrap()]
            .clone()
        };
        assert_eq!(cell("source.ip4"), "10.0.0.1");
        assert_eq!(cell("destination.ip4"), "2001:db8::7");
        assert_eq!(cell("packets.forward"), c.packets.to_string());
        assert_eq!(cell("packets.backward.rst"), s.rst_cnt.to_string());
        assert_eq!(cell("bytes.backward.unique"), s.bytes_uniq.to_string());
        assert_eq!(cell("start"), time(r.first));
        assert_eq!(cell("end"), time(r.last));
        assert_eq!(cell("duration.ms"), "2346"); // 2345.678 ms
        assert_eq!(cell("source.TTFP.ms"), time(c.payload_start));
        assert_eq!(cell("source.TTLP.ms"), time(c.payload_end));
        assert_eq!(cell("source.TTFA.ms"), time(c.ack_start));
        assert_eq!(cell("destination.TTFA.ms"), time(s.ack_start));
        assert_eq!(cell("destination.TTFP.ms"), time(r.first));
        assert_eq!(cell("destination.TTLP.ms"), time(r.first));
        assert_eq!(
            (
                cell("source.ip4.isinternal"),
                cell("destination.ip4.isinternal")
            ),
            ("True".into(), "False".into())
        );
        assert_eq!(cell("tstat.flow.class.conn"), "8192");
        assert_eq!(cell("tstat.flow.class.p2p"), "1");

        let e2e = row(TcpColumnGroup::EndToEnd);
        assert_typed(results(TcpColumnGroup::EndToEnd), &e2e, "end_to_end");
        let avg_us = engine::tcp::average(c.rtt_sum, c.rtt_cnt);
        assert_eq!(e2e[0], at_us(avg_us.round() as i128));
        assert_eq!(e2e[1], "1970-01-01 00:00:00.012000");
        assert_eq!(e2e[2], "1970-01-01 00:00:00.013000");
        assert_eq!(e2e[3], "0.0"); // three equal samples
        assert_eq!(e2e[4..], ["3", "60", "64"]);

        let opts = row(TcpColumnGroup::TcpOptions);
        assert_typed(results(TcpColumnGroup::TcpOptions), &opts, "tcp_options");
        assert_eq!(opts[..6], ["True", "False", "7", "True", "0", "1460"]);
        assert_eq!(
            opts[14..23],
            ["5", "4", "3", "2", "6", "7", "8", "9", "True"]
        );
        assert_eq!(opts[23..26], ["False", "False", "0"]);

        let p2p = row(TcpColumnGroup::P2pStats);
        assert_eq!(p2p, ["9", "1", "2", "3", "4", "5"]);
        let l7 = row(TcpColumnGroup::Layer7);
        assert_eq!(l7, ["3", "4", "example.org", "-"]);
    }

    #[test]
    fn a_group_that_was_off_is_a_missing_column() {
        let r = record();
        for level in [0u8, TcpLevel::END_TO_END, TcpLevel::LAYER7 | TcpLevel::P2P] {
            let level = TcpLevel(level);
            let header = logs::tcp_header(level, true);
            let mut line = Vec::new();
            logs::tcp_row(&mut line, &r, level, true);
            let line = String::from_utf8(line).unwrap();
            for g in GROUPS {
                let on = g.tcp_level_bit().is_none_or(|b| level.0 & b != 0);
                let got = tcp_result_row(g, &header, &line);
                assert_eq!(TcpHeader::parse(&header).unwrap().has_group(g), on);
                if on {
                    assert_typed(results(g), &got.unwrap(), "on");
                } else {
                    let first = tcp_map(g)[0];
                    assert_eq!(
                        got,
                        Err(RowError::MissingColumn {
                            column: first.column,
                            element: first.element
                        }),
                        "{g:?} at {level:?}"
                    );
                    let msg = got.unwrap_err().to_string();
                    assert!(
                        msg.contains(first.column) && msg.contains("missing"),
                        "{msg}"
                    );
                }
            }
        }
        // A full line under a core-only header does not fit it.
        let mut line = Vec::new();
        logs::tcp_row(&mut line, &r, TcpLevel::DEFAULT, true);
        let line = String::from_utf8(line).unwrap();
        assert_eq!(
            tcp_result_row(
                TcpColumnGroup::Core,
                &logs::tcp_header(TcpLevel(0), true),
                &line
            ),
            Err(RowError::FieldCount {
                expected: 44,
                found: 134
            })
        );
    }

    #[test]
    fn bad_lines_and_headers() {
        let header = logs::tcp_header(TcpLevel::DEFAULT, true);
        let mut line = Vec::new();
        logs::tcp_row(&mut line, &record(), TcpLevel::DEFAULT, true);
        let line = String::from_utf8(line).unwrap();
        let core = TcpColumnGroup::Core;
        assert!(matches!(
            tcp_result_row(core, &header, &header),
            Err(RowError::WrongKind { .. })
        ));
        assert!(matches!(
            tcp_result_row(core, &header, ""),
            Err(RowError::WrongKind { .. })
        ));
        for h in [
            "c_ip:1 c_port:2",
            "#15#c_ip:1 c_port:3",
            "#c_ip:1 c_ip:2",
            "#",
            "#15#",
        ] {
            assert!(
                matches!(tcp_result_row(core, h, &line), Err(RowError::BadHeader(_))),
                "{h}"
            );
        }
        // Without the level, and with a CRLF.
        let bare = format!("#{}", &header[4..]).replace('\n', "\r\n");
        assert!(tcp_result_row(core, &bare, &line).is_ok());
        // One bad value, named by its column.
        let mut fields: Vec<&str> = line.trim_end().split(' ').collect();
        fields[2] = "-";
        let got = tcp_result_row(core, &header, &fields.join(" "));
        assert!(
            matches!(
                got,
                Err(RowError::BadValue {
                    column: "c_pkts_all",
                    ..
                })
            ),
            "{got:?}"
        );
        for (i, v) in [(0, "10.0.0.300"), (37, "2"), (28, "x"), (31, "-1.0")] {
            let mut f = fields.clone();
            f[2] = "12";
            f[i] = v;
            assert!(
                matches!(
                    tcp_result_row(core, &header, &f.join(" ")),
                    Err(RowError::BadValue { .. })
                ),
                "{i} {v}"
            );
        }
    }

    #[test]
    fn number_rules() {
        assert_eq!(scaled("12", 0), Some(12));
        assert_eq!(scaled("12.5", 0), Some(13));
        assert_eq!(scaled("12.499999", 0), Some(12));
        assert_eq!(
            scaled("1362692526869.343994", 3),
            Some(1_362_692_526_869_344)
        );
        assert_eq!(scaled("0.0", 3), Some(0));
        assert_eq!(scaled("-1.5", 0), Some(-2));
        for bad in [
            "", "-", ".5", "5.", "1e3", "nan", "1,5", "+1", " 1", "1.2.3",
        ] {
            assert_eq!(scaled(bad, 3), None, "{bad}");
        }
        assert_eq!(scaled(&"9".repeat(31), 0), None);
        assert!(scaled(&"9".repeat(30), 6).is_some());
        assert_eq!(natural_or_zero("15961"), "15961");
        assert_eq!(natural_or_zero("-"), "0");
        assert_eq!(natural_or_zero("12, 12"), "0");
        assert!(time_us("x", "x", 253_402_300_800_000_000).is_err()); // year 10000
        assert_eq!(
            time_us("x", "x", 253_402_300_799_999_999).unwrap(),
            "9999-12-31 23:59:59.999999"
        );
        assert_eq!(convert(R, "x", "NaN", 0).unwrap(), "nan");
        assert_eq!(convert(R, "x", "3.437055", 0).unwrap(), "3.437055");
        assert_eq!(convert(R, "x", "0.000000", 0).unwrap(), "0.0");
        assert_eq!(
            convert(A, "x", "2001:DB8:0:0::1", 0).unwrap(),
            "2001:db8::1"
        );
        assert!(convert(A, "x", "*", 0).is_err());
    }

    /// A small deterministic generator (xorshift64*).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    const NASTY: [&str; 16] = [
        "",
        "-",
        "*",
        "nan",
        "-nan",
        "inf",
        "1e999",
        "-5",
        "1.5",
        "::1",
        "0",
        "1",
        "99999999999999999999999999999999999999999",
        "255.255.255.255",
        "[*]x",
        "HTTP",
    ];

    #[test]
    fn garbage_never_panics_and_what_passes_is_typed() {
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        let (header, log) = (GOLDEN_TCP[0].1.lines().next().unwrap(), GOLDEN_TCP[0].1);
        let lines: Vec<&str> = log.lines().skip(1).collect();
        let http: Vec<&str> = GOLDEN_HTTP[3].1.lines().collect();
        for round in 0..3000 {
            let base = lines[rng.below(lines.len())];
            let candidate = match round % 4 {
                // Random bytes.
                0 => {
                    let n = rng.below(300);
                    let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                    String::from_utf8_lossy(&bytes).into_owned()
                }
                // A truncated line (on a character boundary).
                1 => {
                    let mut n = rng.below(base.len() + 1);
                    while !base.is_char_boundary(n) {
                        n -= 1;
                    }
                    base[..n].to_string()
                }
                // A field replaced with something nasty.
                _ => {
                    let mut f: Vec<&str> = base.split(' ').collect();
                    let i = rng.below(f.len());
                    f[i] = NASTY[rng.below(NASTY.len())];
                    f.join(" ")
                }
            };
            for g in GROUPS {
                if let Ok(row) = tcp_result_row(g, header, &candidate) {
                    assert_typed(results(g), &row, &candidate);
                }
                // The candidate as a header must not panic either.
                let _ = tcp_result_row(g, &candidate, base);
            }
            let mut h = HttpRows::new();
            for _ in 0..4 {
                let line = http[rng.below(http.len())];
                let mut f: Vec<&str> = line.split('\t').collect();
                let i = rng.below(f.len());
                f[i] = NASTY[rng.below(NASTY.len())];
                let _ = h.push(&f.join("\t"));
                let _ = h.push(&candidate);
                let _ = h.push(line);
            }
            for row in h.finish() {
                assert_typed(TstatAction::HttpLog.results(), &row, "http");
            }
        }
    }

    #[test]
    fn http_layout_is_the_logs() {
        let header = logs::static_header("log_http_complete").unwrap();
        let mut lines = header.lines();
        for (magic, columns) in [("#C#", REQUEST_COLUMNS), ("#S#", RESPONSE_COLUMNS)] {
            let names: Vec<&str> = lines
                .next()
                .unwrap()
                .strip_prefix(magic)
                .unwrap()
                .split('\t')
                .map(|c| c.split(':').next().unwrap())
                .collect();
            assert_eq!(names, columns);
        }
        let picked: Vec<&str> = REQUEST_FIELDS.map(|i| REQUEST_COLUMNS[i]).collect();
        assert_eq!(
            picked,
            [
                "method",
                "hostname",
                "fqdn",
                "path",
                "referer",
                "user_agent"
            ]
        );
        let picked = RESPONSE_FIELDS.map(|i| RESPONSE_COLUMNS[i]);
        assert_eq!(
            picked,
            [
                "HTTP",
                "response",
                "content_len",
                "content_type",
                "range",
                "location"
            ]
        );
    }

    /// The result row a request line and (optionally) its response line must give.
    fn transaction(request: Option<&str>, response: Option<&str>) -> Vec<String> {
        let secs = |v: &str| at_us(us(v, 6));
        let q: Option<Vec<&str>> = request.map(|l| l.split('\t').collect());
        let r: Option<Vec<&str>> = response.map(|l| l.split('\t').collect());
        let any = q.as_ref().or(r.as_ref()).unwrap();
        let mut row: Vec<String> = any[..4].iter().map(|s| s.to_string()).collect();
        row.push(secs(any[4]));
        match &q {
            Some(q) => row.extend(q[5..11].iter().map(|s| s.to_string())),
            None => row.extend(["-"; 6].map(String::from)),
        }
        let number = |v: &str| v.parse::<u64>().map_or("0".to_string(), |n| n.to_string());
        match &r {
            Some(r) => row.extend([
                r[5].to_string(),
                number(r[6]),
                number(r[7]),
                r[8].to_string(),
                r[10].to_string(),
                r[11].to_string(),
            ]),
            None => row.extend(["-", "0", "0", "-", "-", "-"].map(String::from)),
        }
        row
    }

    #[test]
    fn tstat_golden_http_transactions() {
        let mut total = 0;
        for (name, log) in GOLDEN_HTTP {
            let mut h = HttpRows::new();
            for line in log.lines() {
                h.push(line)
                    .unwrap_or_else(|e| panic!("{name}: {e}: {line}"));
            }
            let got = h.finish();
            for row in &got {
                assert_typed(TstatAction::HttpLog.results(), row, name);
            }
            // The oracle: per connection, the i-th request gets the i-th final response
            // (the logs never answer more than was asked, checked here), interim 1xx ones
            // being overwritten.
            let data: Vec<&str> = log.lines().filter(|l| !l.starts_with('#')).collect();
            let conn = |l: &str| l.split('\t').take(4).collect::<Vec<_>>().join(" ");
            let kind = |l: &str| l.split('\t').nth(5).unwrap().to_string();
            let code = |l: &str| l.split('\t').nth(6).unwrap().to_string();
            let mut requests: HashMap<String, Vec<&str>> = HashMap::new();
            let mut finals: HashMap<String, Vec<&str>> = HashMap::new();
            let mut order = Vec::new();
            for l in &data {
                if kind(l) == "HTTP" {
                    let asked = requests.get(&conn(l)).map_or(0, Vec::len);
                    let f = finals.entry(conn(l)).or_default();
                    assert!(f.len() < asked, "{name}: unanswerable response {l}");
                    if !code(l).starts_with('1') {
                        f.push(l);
                    }
                } else {
                    let r = requests.entry(conn(l)).or_default();
                    order.push((conn(l), r.len()));
                    r.push(l);
                }
            }
            let want: Vec<Vec<String>> = order
                .iter()
                .map(|(c, i)| {
                    let response = finals.get(c).and_then(|f| f.get(*i)).copied();
                    transaction(Some(requests[c][*i]), response)
                })
                .collect();
            assert_eq!(got, want, "{name}");
            total += got.len();
        }
        assert_eq!(total, 31 + 1 + 14 + 44);
    }

    fn message(dir: u8, kind: u8, port: u16, usec: i64, p: &[u8]) -> MessageRecord {
        MessageRecord {
            c_ip: "10.0.0.1".parse().unwrap(),
            c_port: port,
            s_ip: "2001:db8::80".parse().unwrap(),
            s_port: 80,
            c_isint: true,
            s_isint: false,
            time: Timestamp::from_sec_usec(1_389_719_041, usec),
            dir,
            kind,
            len: p.len() as u32,
            bytes: InlineStr::new(p),
            fqdn: InlineStr::new(b"www.example.org"),
        }
    }

    /// The log lines our writer gives for these messages (full URLs).
    fn written(messages: &[MessageRecord]) -> Vec<String> {
        let mut out = Vec::new();
        for m in messages {
            logs::http::rows(&mut out, m, 2, None);
        }
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn http_pairing_on_rows_of_our_writer() {
        let get = |path: &str| {
            format!("GET {path} HTTP/1.1\r\nHost: example.org\r\nUser-Agent: t/1\r\n\r\n")
        };
        let ok = |code: &str, len: &str| {
            format!(
                "HTTP/1.1 {code} X\r\nContent-Length: {len}\r\nContent-Type: text/plain\r\n\r\n"
            )
        };
        let lines = written(&[
            // Connection 1000: two pipelined requests, then their responses.
            message(0, 0, 1000, 1, get("/a").as_bytes()),
            message(0, 0, 1000, 2, get("/b").as_bytes()),
            // Connection 2000: a POST with 100 Continue, interleaved.
            message(
                0,
                0,
                2000,
                3,
                b"POST /p HTTP/1.1\r\nHost: example.org\r\n\r\n",
            ),
            message(1, 0, 1000, 4, ok("200", "10").as_bytes()),
            message(1, 0, 2000, 5, b"HTTP/1.1 100 Continue\r\n\r\n"),
            message(1, 0, 1000, 6, ok("404", "abc").as_bytes()),
            message(1, 0, 2000, 7, ok("201", "0").as_bytes()),
            // Connection 3000: a response without request, a request without response.
            message(1, 0, 3000, 8, ok("304", "-").as_bytes()),
            message(0, 0, 3000, 9, get("/lonely").as_bytes()),
        ]);
        assert_eq!(lines.len(), 9);
        let mut h = HttpRows::new();
        for l in &lines {
            h.push(l).unwrap();
        }
        assert_eq!(h.len(), 5);
        let rows = h.finish();
        for row in &rows {
            assert_typed(TstatAction::HttpLog.results(), row, "http");
        }
        let l = |i: usize| Some(lines[i].as_str());
        assert_eq!(rows[0], transaction(l(0), l(3)));
        assert_eq!(rows[1], transaction(l(1), l(5)));
        assert_eq!(rows[2], transaction(l(2), l(6)));
        assert_eq!(rows[3], transaction(None, l(7)));
        assert_eq!(rows[4], transaction(l(8), None));
        // Spot checks of the oracle itself.
        assert_eq!(
            rows[0][..5],
            [
                "10.0.0.1",
                "1000",
                "2001:db8::80",
                "80",
                "2014-01-14 17:04:01.000001"
            ]
        );
        assert_eq!(
            rows[0][5..11],
            ["GET", "example.org", "www.example.org", "/a", "-", "t/1"]
        );
        assert_eq!(rows[0][11..], ["HTTP", "200", "10", "text/plain", "-", "-"]);
        assert_eq!(rows[1][12..14], ["404", "0"]); // a Content-Length that is not a number
        assert_eq!(rows[2][12], "201"); // not the 100
        assert_eq!(rows[3][4], "2014-01-14 17:04:01.000008");
        assert_eq!(rows[3][5..11], ["-"; 6]);
        assert_eq!(rows[4][11..], ["-", "0", "0", "-", "-", "-"]);
    }

    #[test]
    fn http_continuations_complete_their_message() {
        let lines = written(&[
            message(
                0,
                0,
                1000,
                1,
                b"GET /p HTTP/1.1\r\nHost: h\r\nUser-Agent: Mozilla/5.0 (X1",
            ),
            // Cut bits 4: the user agent continues.
            message(0, 1 | (4 << 1), 1000, 2, b"1; Linux)\r\nDNT: 1\r\n\r\n"),
            message(
                1,
                0,
                1000,
                3,
                b"HTTP/1.1 301 Moved\r\nLocation: http://a.b/cd",
            ),
            message(
                1,
                1 | (2 << 1),
                1000,
                4,
                b"ef\r\nServer: x\r\nContent-Length: 5\r\n\r\n",
            ),
            // A continuation whose first segment was before the window.
            message(0, 1 | (4 << 1), 2000, 5, b"rest)\r\n\r\n"),
        ]);
        assert_eq!(lines.len(), 5, "{lines:?}");
        assert!(lines[1].contains("\tREQ2\t") && lines[3].contains("\tRES2\t"));
        let mut h = HttpRows::new();
        for l in &lines {
            h.push(l).unwrap();
        }
        let rows = h.finish();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0][5..11],
            [
                "GET",
                "h",
                "www.example.org",
                "/p",
                "-",
                "Mozilla/5.0 (X11; Linux)"
            ]
        );
        assert_eq!(
            rows[0][11..],
            ["HTTP", "301", "5", "-", "-", "http://a.b/cdef"]
        );
        assert_eq!(rows[1][5], "REQ2");
        assert_eq!(rows[1][10], "[*]rest)");
        for row in &rows {
            assert_typed(TstatAction::HttpLog.results(), row, "http");
        }
    }

    #[test]
    fn bad_http_lines_are_refused() {
        let good = GOLDEN_HTTP[0].1.lines().nth(2).unwrap();
        let mut h = HttpRows::new();
        assert_eq!(
            h.push("a\tb"),
            Err(RowError::FieldCount {
                expected: 13,
                found: 2
            })
        );
        for (i, v) in [
            (0, "x"),
            (1, "65536"),
            (1, "-1"),
            (1, "8.0"),
            (3, ""),
            (4, "t"),
        ] {
            let mut f: Vec<&str> = good.split('\t').collect();
            f[i] = v;
            assert!(
                matches!(h.push(&f.join("\t")), Err(RowError::BadValue { .. })),
                "{i} {v}"
            );
        }
        assert!(h.is_empty());
        h.push(good).unwrap();
        assert_eq!(h.len(), 1);
    }
}
