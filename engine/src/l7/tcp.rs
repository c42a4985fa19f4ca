//! Tstat's TCP layer-7 classification, per flow: the `tcpL7.c` state machine (`con_t`: HTTP,
//! RTSP, ICY, MSN/YMSG/XMPP entry points, SMTP, POP3, IMAP, TLS, SSH, FB0, and the RTMP, ED2K
//! obfuscation and BitTorrent MSE heuristics), the IPP2P TCP matcher (`p2p_t`, `ed2k_*`), the
//! HTTP request/response counters and host of `http.c`, the TLS details of the Layer7 log
//! group, and what `log_video_complete` needs: the streaming classifier of `videoL7.c`
//! (`vd_type_cont`, `vd_type_pay`, container metadata), the YouTube details of the request that
//! set a YouTube class (`yt_*`), and Tstat's test for a row in that log.
//!
//! Owns the per-flow [`TcpL7`] state and its conversion into a [`TcpL7Record`]. Each segment is
//! handed over after the TCP statistics were updated, and the four Tstat plugins run in
//! Tstat's (LIFO registration) order: P2P, then the L7 state machine, then the streaming
//! classifier, then the HTTP counters. Byte-level parsing lives in the submodules (`http`,
//! `tls`, `p2p`, `video`, `youtube`); this module holds the states, Tstat's per-state packet
//! limits and what is kept. Does not own the TCP counters
//! (it mirrors the two it needs, the PSH-delimited message sizes and the in-sequence end).
//!
//! Memory: the always-present part is 32 bytes (see the `size` test). What only HTTP, TLS,
//! FB0 and ED2K flows need (counters, names allocated to their exact size when found, TLS
//! marks, a bounded ClientHello reassembly buffer, the streaming findings, the YouTube
//! details) lives in `Ext`, allocated the first time one of its fields is set. The working state of the size/entropy heuristics (`Work`) is
//! needed only while the state machine looks at a flow; it comes from, and goes back to, a
//! per-worker free list, so steady-state classification allocates nothing per packet.
//!
//! Not reproduced: the internals of the MSN/YMSG/XMPP chat classifiers (their log, not these
//! columns; the states they enter are kept, so the flows they take are not classified as
//! anything else), and the Skype Bayesian classifier (`-B`). Names longer than the record's
//! inline strings (Tstat keeps up to 199 bytes of `Host:`, 119 of an FB0 SNI and 74 of a
//! version list) are cut to the record's sizes.

mod http;
mod p2p;
mod peek;
mod tls;
mod video;
mod youtube;

use super::TcpCtx;
use crate::record::{InlineStr, TcpL7Record, VideoRecord, YouTubeRecord};
use crate::time::Timestamp;
use http::class;
use peek::key;

/// Client-to-server direction index.
const C2S: usize = 0;
/// Server-to-client direction index.
const S2C: usize = 1;

/// `con_t` bits (Tstat's `*_PROTOCOL`).
#[allow(missing_docs)]
pub mod con {
    pub const HTTP: u32 = 1;
    pub const RTSP: u32 = 2;
    pub const RTP: u32 = 4;
    pub const ICY: u32 = 8;
    pub const RTCP: u32 = 16;
    pub const MSN: u32 = 32;
    pub const YMSG: u32 = 64;
    pub const XMPP: u32 = 128;
    pub const P2P: u32 = 256;
    pub const SKYPE: u32 = 512;
    pub const SMTP: u32 = 1024;
    pub const POP3: u32 = 2048;
    pub const IMAP: u32 = 4096;
    pub const SSL: u32 = 8192;
    pub const OBF: u32 = 16384;
    pub const SSH: u32 = 32768;
    pub const RTMP: u32 = 65536;
    pub const MSE: u32 = 131072;
    pub const FB0: u32 = 262144;
}

/// Maximum packets of a flow the L7 state machine looks at (`MAX_PACKETS_CON`).
const MAX_PACKETS_CON: u64 = 50;
/// Packets after which an unrecognised flow is given up (`MAX_UNKNOWN_PACKETS`).
const MAX_UNKNOWN_PACKETS: u64 = 40;
/// Packets to wait for an answer to a command (`MAX_HTTP_COMMAND_PACKETS`, also SMTP, POP3,
/// IMAP, SSH, FB0).
const MAX_COMMAND_PACKETS: u64 = 20;
/// Packets to keep refining an HTTP flow (`MAX_HTTP_RESPONSE_PACKETS`).
const MAX_HTTP_RESPONSE_PACKETS: u64 = 30;
/// `MAX_RTSP_COMMAND_PACKETS`.
const MAX_RTSP_COMMAND_PACKETS: u64 = 20;
/// `MAX_RTSP_RESPONSE_PACKETS`.
const MAX_RTSP_RESPONSE_PACKETS: u64 = 30;
/// Packets to wait for a ServerHello before the state is reset (`MAX_SSL_HANDSHAKE_PACKETS`).
const MAX_SSL_HANDSHAKE_PACKETS: u64 = 10;

/// Payload packets sampled for the nibble entropy.
const ENTROPY_PACKETS: u8 = 4;
/// Bytes sampled per packet (`entropy_sample`, Tstat's default).
const ENTROPY_SAMPLE: usize = 60;
/// Entropy (bits per nibble) above which payload looks encrypted (`entropy_threshold`).
const ENTROPY_THRESHOLD: f64 = 3.7;

/// Largest ClientHello record reassembled (the record length byte Tstat accepts is
/// at most 0x39, so 5 + 0x39ff bytes).
const CLIENT_HELLO_MAX: usize = 5 + 0x39ff;

/// Tstat's `enum state_type` (the states this build reaches).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    #[default]
    Unknown,
    RtspCommand,
    RtspResponse,
    HttpCommand,
    HttpResponse,
    MsnVerC2s,
    MsnVerS2c,
    MsnUsrC2s,
    MsnUsrS2c,
    MsnAnsCommand,
    MsnIroCommand,
    Ymsg,
    Xmpp,
    SmtpOpening,
    Pop3Opening,
    ImapOpening,
    ImapCommand,
    SslHandshake,
    SslData,
    SshServer,
    Fb0Opening,
    Ignore,
}

/// States of Tstat's streaming classifier (`streaming.state`, its own copy of the state
/// machine's `UNKNOWN_TYPE` / `HTTP_COMMAND` / `IGNORE_FURTHER_PACKETS`).
mod vstate {
    pub const UNKNOWN: u8 = 0;
    pub const COMMAND: u8 = 1;
    pub const IGNORE: u8 = 2;
}

/// The streaming classifier's findings (`vd_type_cont`, `vd_type_pay`, the metadata).
#[derive(Debug, Default)]
struct Streaming {
    /// Server segments looked at (`streaming.packets`).
    packets: u8,
    content: u8,
    payload: u8,
    meta: video::Meta,
}

/// The MSN commands that open a session.
#[derive(Debug, Clone, Copy)]
enum Msn {
    Ver,
    Usr,
    Ans,
    Iro,
}

/// `tls_session_stat` bits.
mod sess {
    pub const ID_REUSE: u8 = 1;
    pub const CLIENT_PSK: u8 = 2;
    pub const EARLY_DATA: u8 = 4;
    pub const SERVER_PSK: u8 = 8;
    pub const HELLO_RETRY: u8 = 16;
}

/// Flag bits of [`TcpL7::flags`].
mod flag {
    /// The P2P matcher stopped looking (`p2p_state == IGNORE_FURTHER_PACKETS`).
    pub const P2P_DONE: u16 = 1 << 0;
    /// First client data segment seen by the RTMP check.
    pub const RTMP_C_SEEN: u16 = 1 << 1;
    /// First server data segment seen by the RTMP check.
    pub const RTMP_S_SEEN: u16 = 1 << 2;
    /// It started with an RTMP handshake byte.
    pub const RTMP_C_HAND: u16 = 1 << 3;
    /// Same for the server.
    pub const RTMP_S_HAND: u16 = 1 << 4;
    /// Client TLS Application Data seen (`ssl_client_data_seen`).
    pub const C_APPDATA: u16 = 1 << 5;
    /// Server TLS Application Data seen.
    pub const S_APPDATA: u16 = 1 << 6;
    /// ED2K obfuscation sequence states (`state_11`, `state_11_83`, `state_22`, `state_6`).
    pub const OBF_11: u16 = 1 << 7;
    pub const OBF_11_83: u16 = 1 << 8;
    pub const OBF_22: u16 = 1 << 9;
    pub const OBF_6: u16 = 1 << 10;
}

/// PSH/FIN-delimited messages of one direction, mirrored from Tstat's `tcb` (`seq`,
/// `msg_last_seq`, `msg_count`, the first two `msg_size`).
#[derive(Debug, Default, Clone, Copy)]
struct Msgs {
    /// End of the last segment that was not a retransmission (`tcb.seq`).
    seq: u32,
    last_seq: u32,
    /// Saturating count (only `> 0` and `> 1` matter).
    count: u8,
    size: [u32; 2],
}

/// What only some flows need (HTTP, TLS, FB0, ED2K flows), allocated the first time one of
/// its fields is set.
#[derive(Debug, Default)]
struct Ext {
    http_req_cnt: u32,
    http_res_cnt: u32,
    http_res: [u8; 3],
    /// The `log_http_complete` row the last segment makes: 0 none, else its kind + 1.
    http_row: u8,
    /// Per direction, whether the next segment may continue the last request/response
    /// (Tstat's `http_request_status`/`http_response_status`): 0 no, else 1 + its cut bits.
    http_next: [u8; 2],
    npnalpn: [u8; 2],
    tls_session: u8,
    /// Tstat's `tls_service` (`enum tls_category`), decided at the ServerHello.
    tls_service: u8,
    /// Last payload packet before the first Application Data, per direction
    /// (`ssl_*_before_data_time`), recorded once the flow is in a TLS state.
    before_data: [Timestamp; 2],
    appdata_time: [Timestamp; 2],
    appdata_bytes: [u32; 2],
    ed2k: [u32; 5],
    /// ServerHello version (its supported_versions choice when present).
    s_version: Option<u16>,
    /// Names and the client version list, each allocated when found.
    sni: Option<Box<[u8]>>,
    scn: Option<Box<[u8]>>,
    host: Option<Box<[u8]>>,
    c_versions: Option<Box<[u8]>>,
    /// A ClientHello longer than its first segment, being reassembled.
    hello: Option<Box<Reassembly>>,
    /// The streaming classifier's findings (an HTTP flow's response).
    streaming: Streaming,
    /// The YouTube details of the request that gave the flow its YouTube class (allocated
    /// for such flows only; none means Tstat's `--` and zeros).
    youtube: Option<Box<YouTubeRecord>>,
}

/// A ClientHello record under reassembly.
#[derive(Debug)]
struct Reassembly {
    buf: Vec<u8>,
    /// Total record length (header included).
    want: usize,
    /// Sequence number the next in-order client segment starts at.
    next_seq: u32,
}

/// Working state of the size/entropy heuristics (MSE, RTMP), needed only while the state
/// machine looks at the flow (and, for a flow marked RTMP, until its first two messages each
/// way are known). Taken from a per-worker free list at the first payload segment and given
/// back when no longer needed, so steady-state classification allocates nothing.
#[derive(Debug, Default)]
struct Work {
    msgs: [Msgs; 2],
    /// Low and high nibble histograms of the first payload bytes.
    nibbles: [[u8; 16]; 2],
    nibble_packets: u8,
}

/// Per-worker free list of [`Work`] boxes (flows never change worker thread).
// The list holds the boxes themselves: reusing their allocations is its purpose.
#[allow(clippy::vec_box)]
mod work_pool {
    use super::Work;
    use std::cell::RefCell;

    /// Boxes kept for reuse per worker thread.
    const CAP: usize = 1 << 16;

    thread_local! {
        static FREE: RefCell<Vec<Box<Work>>> = const { RefCell::new(Vec::new()) };
    }

    /// A cleared box, reused when one is free.
    pub(super) fn take() -> Box<Work> {
        let reused = FREE
            .try_with(|f| f.try_borrow_mut().ok().and_then(|mut f| f.pop()))
            .ok()
            .flatten();
        match reused {
            Some(mut w) => {
                *w = Work::default();
                w
            }
            None => Box::default(),
        }
    }

    /// Returns a box to the free list (dropped if the list is full).
    pub(super) fn give(w: Box<Work>) {
        let _ = FREE.try_with(|f| {
            if let Ok(mut f) = f.try_borrow_mut() {
                if f.len() < CAP {
                    f.push(w);
                }
            }
        });
    }
}

/// The classes a flow's bytes count under in the bit-rate histograms, as they stand after a
/// segment (Tstat's `map_flow_type`, `http_data` and `VIDEO_MAP` inputs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateClass {
    /// `con_t` bits.
    pub con_t: u32,
    /// Full IPP2P code.
    pub p2p_type: u32,
    /// HTTP content class (`http_data`).
    pub http_data: u8,
    /// Container announced by the response's `Content-Type` (`video_content_type`).
    pub video_content: u8,
    /// Container recognised in the body (`video_payload_type`).
    pub video_payload: u8,
    /// The TLS service class (`tls_service`: 0 other, 1 Google, 2 YouTube, 3 Facebook,
    /// 4 Netflix, 5 Dropbox, 6 Microsoft, 7 Apple).
    pub tls_service: u8,
}

/// Per-flow TCP classifier state. The always-present part is 32 bytes; see `Ext` and
/// `Work` for the rest.
#[derive(Debug, Default)]
pub struct TcpL7 {
    con_type: u32,
    p2p_type: u16,
    flags: u16,
    state: State,
    http_data: u8,
    /// The streaming classifier's state ([`vstate`]).
    video_state: u8,
    /// Whether `log_http_complete` rows are wanted: the header scans behind them cost a
    /// quarter of the worker's time on HTTP traffic, so they run only when the log is on.
    http_rows: bool,
    work: Option<Box<Work>>,
    ext: Option<Box<Ext>>,
}

impl Drop for TcpL7 {
    fn drop(&mut self) {
        if let Some(w) = self.work.take() {
            work_pool::give(w);
        }
    }
}

impl TcpL7 {
    /// Turns on the `log_http_complete` row decisions for this flow.
    pub fn enable_http_rows(&mut self) {
        self.http_rows = true;
    }

    /// Whether the segment just classified must produce a `log_http_complete` row, and of
    /// which kind (0 first segment of a request/response, 1 continuation). Taken once.
    #[inline]
    pub fn take_http_row(&mut self) -> Option<u8> {
        let e = self.ext.as_mut()?;
        let row = std::mem::take(&mut e.http_row);
        row.checked_sub(1)
    }

    /// Looks at one segment (called for every accounted segment, after the statistics).
    #[inline]
    pub fn on_segment(&mut self, ctx: &TcpCtx<'_>) {
        if self.work.is_none()
            && self.state != State::Ignore
            && ctx.payload_len > 0
            && !ctx.payload.is_empty()
        {
            // Before its first payload a direction has only cut empty messages, which leaves
            // the same state as no cut at all: tracking can start here.
            self.work = Some(work_pool::take());
        }
        if let Some(w) = &mut self.work {
            track_messages(&mut w.msgs, ctx);
        }
        // The state machine and the HTTP counters start with these checks: made here, a flow
        // they no longer look at (or a segment that cannot count) costs no call.
        self.p2p(ctx);
        let data = ctx.payload_len > 0 && !ctx.payload.is_empty();
        if data && self.state != State::Ignore {
            self.classify(ctx);
        }
        // Tstat's STREAMING plugin runs between the state machine and the HTTP counters; it
        // reads and writes only its own state.
        if data && self.video_state != vstate::IGNORE {
            self.streaming(ctx);
        }
        if data && ctx.payload.len() >= 5 {
            if http::may_count(ctx.payload[0]) {
                self.http_counters(ctx);
            }
            if self.http_rows && self.ext.is_some() {
                self.http_rows(ctx);
            }
        }
        if let Some(w) = &self.work {
            self.con_type = rtmp_rule(self.con_type, &w.msgs);
            let rtmp_open =
                self.con_type & con::RTMP != 0 && (w.msgs[0].count < 2 || w.msgs[1].count < 2);
            if self.state == State::Ignore && !rtmp_open {
                if let Some(w) = self.work.take() {
                    work_pool::give(w);
                }
            }
        }
    }

    /// The flow's classes for the bit-rate histograms (cheap: no strings are copied).
    #[inline]
    pub fn rate_class(&self) -> RateClass {
        let (video_content, video_payload, tls_service) = match &self.ext {
            Some(e) => (e.streaming.content, e.streaming.payload, e.tls_service),
            None => (0, 0, 0),
        };
        RateClass {
            con_t: self.con_type,
            p2p_type: u32::from(self.p2p_type),
            http_data: self.http_data,
            video_content,
            video_payload,
            tls_service,
        }
    }

    /// The layer-7 part of the flow's record.
    pub fn record(&self) -> TcpL7Record {
        let con_t = match &self.work {
            Some(w) => rtmp_rule(self.con_type, &w.msgs),
            None => self.con_type,
        };
        let mut r = TcpL7Record {
            con_t,
            p2p_type: u32::from(self.p2p_type),
            http_data: self.http_data,
            ..TcpL7Record::default()
        };
        r.video = self.video_record(con_t);
        if let Some(e) = &self.ext {
            r.http_req_cnt = e.http_req_cnt;
            r.http_res_cnt = e.http_res_cnt;
            r.http_res = e.http_res;
            r.npnalpn = e.npnalpn;
            r.tls_session_stat = e.tls_session;
            r.last_handshake = e.before_data;
            r.ed2k = e.ed2k;
            r.tls_sni = text(&e.sni);
            r.tls_scn = text(&e.scn);
            r.http_hostname = text(&e.host);
            r.tls_vers[C2S] = text(&e.c_versions);
            if let Some(v) = e.s_version {
                r.tls_vers[S2C] = InlineStr::new(tls::VersionList::single(v).as_bytes());
            }
            for d in [C2S, S2C] {
                if self.has(appdata_flag(d)) {
                    r.appdata_time[d] = e.appdata_time[d];
                    r.appdata_bytes[d] = u64::from(e.appdata_bytes[d]);
                }
            }
        }
        r
    }

    /// What `log_video_complete` needs, and Tstat's test for a row there (`make_conn_stats`):
    /// RTMP; HTTP with a video content class (`is_video`); HTTP whose response announced or
    /// carried a video container (`is_streaming`); TLS to a YouTube name (`is_ssl_youtube`).
    fn video_record(&self, con_t: u32) -> VideoRecord {
        let mut v = VideoRecord::default();
        let http = con_t & con::HTTP != 0;
        let mut ssl_youtube = false;
        v.youtube = YouTubeRecord {
            id: InlineStr::new(b"--"),
            itag: InlineStr::new(b"--"),
            ..YouTubeRecord::default()
        };
        if let Some(e) = &self.ext {
            let st = &e.streaming;
            v.content = st.content;
            v.payload = st.payload;
            v.meta = st.meta.record();
            ssl_youtube = con_t & con::SSL != 0 && e.sni.as_deref().is_some_and(video::youtube_sni);
            if let Some(yt) = &e.youtube {
                v.youtube = **yt;
            }
        }
        let video_class = matches!(
            self.http_data,
            class::YOUTUBE_VIDEO
                | class::YOUTUBE_VIDEO204
                | class::YOUTUBE_204
                | class::YOUTUBE_SITE
                | class::YOUTUBE_SITE_DIRECT
                | class::YOUTUBE_SITE_EMBED
                | class::VIDEO_CONTENT
                | class::VIMEO
                | class::NETFLIX
                | class::FLASHVIDEO
        );
        let is_video = con_t & con::RTMP != 0 || (http && video_class);
        let is_streaming = http && (v.content != video::fmt::NOT_DEFINED || v.payload != 0);
        v.log = is_video || is_streaming || ssl_youtube;
        v
    }

    /// Tstat's `videoL7_flow_stat` on a segment with payload: the first client request
    /// (`GET`, `POST`, `HEAD`) opens the classifier; then up to five server segments are read
    /// for a video `Content-Type` and a container signature at the start of the body.
    fn streaming(&mut self, ctx: &TcpCtx<'_>) {
        let p = ctx.payload;
        let c2s = ctx.dir & 1 == C2S;
        match self.video_state {
            vstate::UNKNOWN => {
                // Tstat returns at once (packet limit included) below five captured bytes.
                if p.len() < 5 {
                    return;
                }
                match &key(p) {
                    b"GET " | b"POST" | b"HEAD" => {
                        if c2s {
                            self.video_state = vstate::COMMAND;
                        }
                    }
                    _ => {
                        if ctx.packets > MAX_UNKNOWN_PACKETS {
                            self.video_state = vstate::IGNORE;
                        }
                    }
                }
            }
            vstate::COMMAND => {
                if !c2s && p.len() >= 5 {
                    let st = &mut self.ext().streaming;
                    st.packets = st.packets.saturating_add(1);
                    if st.content == video::fmt::NOT_DEFINED {
                        st.content = video::content_type(p);
                    }
                    if let Some(off) = video::body_offset(p) {
                        if let Some(body) = p.get(off..).filter(|b| b.len() > 4) {
                            let t = video::payload_type(&mut st.meta, body);
                            if t != video::fmt::NOT_DEFINED {
                                st.payload = t;
                            }
                        }
                    }
                    let done = st.content != 0 && st.payload != 0;
                    if done || st.packets >= video::MAX_STREAMING_DEPTH {
                        self.video_state = vstate::IGNORE;
                    }
                }
            }
            _ => return,
        }
        if ctx.packets > MAX_PACKETS_CON {
            self.video_state = vstate::IGNORE;
        }
    }

    #[inline]
    fn ext(&mut self) -> &mut Ext {
        self.ext.get_or_insert_with(Box::default)
    }

    #[inline]
    fn set(&mut self, f: u16) {
        self.flags |= f;
    }

    #[inline]
    fn has(&self, f: u16) -> bool {
        self.flags & f != 0
    }

    /// Sets a protocol bit the way every Tstat classifier does: a definite protocol clears the
    /// obfuscation and MSE guesses.
    #[inline]
    fn found(&mut self, bit: u32) {
        self.con_type |= bit;
        self.con_type &= !(con::OBF | con::MSE);
    }

    /// Tstat's `p2p_flow_stat` for TCP (the matcher never hits a segment without payload).
    #[inline]
    fn p2p(&mut self, ctx: &TcpCtx<'_>) {
        if self.has(flag::P2P_DONE) {
            return;
        }
        if ctx.payload_len > 0 && !ctx.payload.is_empty() {
            if let Some(hit) = p2p::tcp_match(ctx.payload, ctx.payload_len) {
                self.p2p_hit(hit);
            }
        }
        // `p2p_type / 100 != IPP2P_EDK`.
        let edk = (100..200).contains(&self.p2p_type);
        const _: () = assert!(p2p::IPP2P_EDK == 1);
        if !edk && ctx.packets > MAX_PACKETS_CON {
            self.set(flag::P2P_DONE);
        }
    }

    /// What a P2P signature match records.
    #[inline(never)]
    fn p2p_hit(&mut self, hit: p2p::Hit) {
        self.found(con::P2P);
        let (old, new) = (u32::from(self.p2p_type), hit.code);
        if old == 0 || old / 100 == new / 100 {
            self.p2p_type = new as u16;
        }
        if new / 100 == p2p::IPP2P_EDK {
            let (t, s) = (hit.ed2k_type, hit.ed2k_subtype);
            let c = &mut self.ext().ed2k;
            let bump = |v: &mut u32| *v = v.wrapping_add(1);
            if p2p::ed2k_is_data(t, s) {
                bump(&mut c[0]);
            } else {
                bump(&mut c[1]);
            }
            if s != 0x01 {
                if p2p::ed2k_is_c2s(t, s) {
                    bump(&mut c[2]);
                } else {
                    bump(&mut c[3]);
                }
            }
            if p2p::ed2k_is_msg(t, s) {
                bump(&mut c[4]);
            }
        }
    }

    /// Tstat's `http_flow_stat` counters (and the host of the first request that has one).
    fn http_counters(&mut self, ctx: &TcpCtx<'_>) {
        let p = ctx.payload;
        if ctx.payload_len == 0 || p.len() < 5 {
            return;
        }
        if ctx.dir == C2S && http::is_request(p) {
            let e = self.ext();
            e.http_req_cnt = e.http_req_cnt.wrapping_add(1);
            if e.host.is_none() {
                if let Some(h) = http::host(p) {
                    e.host = Some(h.into());
                }
            }
        } else if ctx.dir == S2C && key(p) == *b"HTTP" {
            let e = self.ext();
            e.http_res_cnt = e.http_res_cnt.wrapping_add(1);
        }
    }

    /// Which `log_http_complete` row Tstat's `http_flow_stat` writes for this segment (at least
    /// 5 bytes): kind 0 for a request (client) or `HTTP/` response (server), and for the next
    /// segment of a direction after one that starts neither, kind 1 with the first segment's
    /// cut bits above it (the formatter decides whether the continuation row is empty).
    fn http_rows(&mut self, ctx: &TcpCtx<'_>) {
        let p = ctx.payload;
        let Some(e) = self.ext.as_mut() else {
            return;
        };
        e.http_row = 0;
        let dir = ctx.dir & 1;
        match &key(p) {
            b"GET " | b"POST" | b"HEAD" | b"PUT " | b"PATC" | b"DELE" | b"OPTI" => {
                if dir == C2S && http::is_request(p) {
                    e.http_row = 1;
                    e.http_next[C2S] = 1 + http::request_cuts(p);
                }
            }
            b"HTTP" => {
                if dir == S2C {
                    e.http_next[S2C] = 1;
                    if p[4] == b'/' {
                        e.http_row = 1;
                        e.http_next[S2C] = 1 + http::response_cuts(p);
                    }
                }
            }
            _ => {
                let next = std::mem::take(&mut e.http_next[dir]);
                if next != 0 {
                    e.http_row = 1 + (1 | ((next - 1) << 1));
                }
            }
        }
    }

    /// Tstat's `tcpL7_flow_stat`.
    fn classify(&mut self, ctx: &TcpCtx<'_>) {
        if self.state == State::Ignore {
            return;
        }
        let p = ctx.payload;
        if p.is_empty() || ctx.payload_len == 0 {
            return;
        }
        let dir = ctx.dir & 1;
        self.sample_nibbles(p);
        if ctx.flags.ack() && ctx.flags.psh() {
            self.obfuscation(ctx.payload_len);
        }
        self.rtmp(ctx);
        if self.con_type == 0 {
            self.mse();
        }
        if dir == C2S {
            self.continue_client_hello(ctx);
        }
        let len = p.len();
        let k = key(p);
        let packets = ctx.packets;
        match self.state {
            State::Unknown => {
                if len < 5 {
                    return;
                }
                self.unknown(ctx, k);
            }
            State::Fb0Opening => {
                if dir == S2C && len >= 7 {
                    if k == *b"1QTV" {
                        self.found(con::FB0);
                        self.state = State::Ignore;
                    } else if packets > MAX_COMMAND_PACKETS {
                        self.state = State::Ignore;
                    }
                }
            }
            State::SmtpOpening => {
                if dir == C2S && len >= 5 {
                    if matches!(&k, b"HELO" | b"EHLO" | b"helo" | b"ehlo") {
                        self.found(con::SMTP);
                        self.state = State::Ignore;
                    }
                    self.limit(packets, MAX_COMMAND_PACKETS);
                }
            }
            State::Pop3Opening => {
                if dir == C2S && len >= 5 {
                    if matches!(&k, b"USER" | b"QUIT" | b"APOP") {
                        self.found(con::POP3);
                        self.state = State::Ignore;
                    }
                    self.limit(packets, MAX_COMMAND_PACKETS);
                }
            }
            State::ImapOpening => {
                if dir == C2S && len >= 7 {
                    if imap_tag(p) {
                        self.state = State::ImapCommand;
                    } else {
                        self.limit(packets, MAX_COMMAND_PACKETS);
                    }
                }
            }
            State::ImapCommand => {
                if dir == S2C && len >= 7 {
                    if p.starts_with(b"* ") || imap_tag(p) {
                        self.found(con::IMAP);
                        self.state = State::Ignore;
                    } else {
                        self.limit(packets, MAX_COMMAND_PACKETS);
                    }
                }
            }
            State::HttpCommand => {
                if dir == S2C && len >= 5 {
                    match &k {
                        b"HTTP" => {
                            self.found(con::HTTP);
                            self.state = State::HttpResponse;
                            self.ext().http_res = http::status(p);
                        }
                        b"ICY " => {
                            self.found(con::ICY);
                            self.state = State::Ignore;
                        }
                        _ => {
                            if let Some(m) = msn_command(k) {
                                self.msn_s2c(m);
                            }
                        }
                    }
                    self.limit(packets, MAX_COMMAND_PACKETS);
                }
            }
            State::HttpResponse => self.http_response(ctx, k),
            State::RtspCommand => {
                if dir == S2C && len >= 5 {
                    if k == *b"RTSP" {
                        self.found(con::RTSP);
                        self.state = State::RtspResponse;
                    }
                    self.limit(packets, MAX_RTSP_COMMAND_PACKETS);
                }
            }
            State::RtspResponse => self.limit(packets, MAX_RTSP_RESPONSE_PACKETS),
            State::MsnVerC2s | State::MsnUsrC2s | State::MsnAnsCommand => {
                if dir == S2C && len >= 5 {
                    if let Some(m) = msn_command(k) {
                        self.msn_s2c(m);
                    }
                }
            }
            // Tstat hands these flows to the chat classifiers and returns at once.
            State::MsnVerS2c
            | State::MsnUsrS2c
            | State::MsnIroCommand
            | State::Ymsg
            | State::Xmpp => return,
            State::SslHandshake => {
                let hello = if dir == S2C && len >= 7 {
                    tls::parse_server_hello(p, ctx.payload_len)
                } else {
                    None
                };
                match hello {
                    Some(sh) => self.server_hello(p, sh),
                    None => {
                        if packets > MAX_SSL_HANDSHAKE_PACKETS {
                            self.state = State::Unknown;
                        }
                    }
                }
            }
            State::SslData => self.ssl_data(ctx),
            State::SshServer => {
                if dir == C2S && len >= 8 {
                    if k == *b"SSH-" && tls::ssh_banner(p) {
                        self.found(con::SSH);
                        self.state = State::Ignore;
                    }
                    self.limit(packets, MAX_COMMAND_PACKETS);
                }
            }
            State::Ignore => {}
        }

        if packets > MAX_PACKETS_CON {
            self.state = State::Ignore;
        }
        if !matches!(self.state, State::SslHandshake | State::SslData) {
            if let Some(e) = &mut self.ext {
                e.hello = None;
            }
        }
        // Tstat records this for every flow while it looks at it, and prints it for TLS flows
        // only; a flow becomes TLS through these two states, which every later update sees.
        if matches!(self.state, State::SslHandshake | State::SslData)
            && !self.has(appdata_flag(dir))
        {
            self.ext().before_data[dir] = ctx.now;
        }
    }

    /// `if (ptp->packets > LIMIT) ptp->state = IGNORE_FURTHER_PACKETS;`
    #[inline]
    fn limit(&mut self, packets: u64, max: u64) {
        if packets > max {
            self.state = State::Ignore;
        }
    }

    /// The `UNKNOWN_TYPE` state: what the first payload bytes announce.
    fn unknown(&mut self, ctx: &TcpCtx<'_>, k: [u8; 4]) {
        let p = ctx.payload;
        let c2s = ctx.dir & 1 == C2S;
        match &k {
            b"GET " => {
                if c2s {
                    self.state = State::HttpCommand;
                    self.http_data = http::classify_get(p);
                    self.youtube(p, self.http_data, true);
                }
            }
            b"POST" => {
                if c2s {
                    self.state = State::HttpCommand;
                    self.http_data = http::classify_post(p);
                    self.youtube(p, self.http_data, false);
                }
            }
            b"PATC" | b"OPTI" | b"DELE" => {
                if c2s && http::long_method(p) {
                    self.state = State::HttpCommand;
                }
            }
            b"HEAD" | b"PUT " => {
                if c2s {
                    self.state = State::HttpCommand;
                }
            }
            b"YMSG" => {
                self.state = State::Ymsg;
                self.found(con::YMSG);
            }
            b"<str" => {
                self.state = State::Xmpp;
                self.found(con::XMPP);
            }
            b"VER " | b"USR " | b"ANS " | b"IRO " => {
                let m = msn_command(k).unwrap_or(Msn::Ver);
                if c2s {
                    self.state = match m {
                        Msn::Ver => State::MsnVerC2s,
                        Msn::Usr => State::MsnUsrC2s,
                        Msn::Ans => State::MsnAnsCommand,
                        Msn::Iro => State::MsnIroCommand,
                    };
                } else {
                    self.msn_s2c(m);
                }
            }
            b"DESC" => {
                if c2s && p.starts_with(b"DESCRIBE") && p.len() >= 9 {
                    self.state = State::RtspCommand;
                }
            }
            b"220 " => {
                if !c2s {
                    self.state = State::SmtpOpening;
                }
            }
            b"+OK " | b"-ERR" => {
                if !c2s {
                    self.state = State::Pop3Opening;
                }
            }
            b"* OK" => {
                if !c2s {
                    self.state = State::ImapOpening;
                }
            }
            b"SSH-" => {
                if !c2s && p.len() >= 8 && tls::ssh_banner(p) {
                    self.state = State::SshServer;
                }
            }
            b"1QTV" => {
                if c2s && p.len() >= 15 {
                    if let Some(sni) = tls::fb0_chlo(p) {
                        if let Some(name) = sni {
                            self.ext().sni = Some(name.into());
                        }
                        self.state = State::Fb0Opening;
                    }
                }
            }
            _ => {
                if c2s && p.len() >= 7 && self.client_hello(ctx) {
                    let reuse = p.len() >= 44 && p.get(43).is_some_and(|&b| b != 0);
                    let e = self.ext();
                    if reuse {
                        e.tls_session |= sess::ID_REUSE;
                    } else {
                        e.tls_session &= !sess::ID_REUSE;
                    }
                } else if ctx.packets > MAX_UNKNOWN_PACKETS {
                    self.state = State::Ignore;
                }
            }
        }
    }

    /// `msn_s2c_state_update`: the server spoke MSN.
    fn msn_s2c(&mut self, m: Msn) {
        self.found(con::MSN);
        self.state = match m {
            Msn::Ver => State::MsnVerS2c,
            Msn::Usr => State::MsnUsrS2c,
            Msn::Ans => State::MsnAnsCommand,
            Msn::Iro => State::MsnIroCommand,
        };
    }

    /// The `HTTP_RESPONSE` state: later requests may refine the content class, the response
    /// body may reveal a video container.
    fn http_response(&mut self, ctx: &TcpCtx<'_>, k: [u8; 4]) {
        let p = ctx.payload;
        if p.len() < 5 {
            return;
        }
        if ctx.dir & 1 == S2C {
            if let Some(m) = msn_command(k) {
                self.msn_s2c(m);
            } else if k == *b"FLV\x01" || k == [0x12, 0x00, 0x03, 0x4b] {
                let youtube = matches!(
                    self.http_data,
                    class::YOUTUBE_VIDEO | class::YOUTUBE_VIDEO204 | class::YOUTUBE_204
                );
                if !youtube
                    && p.len() >= 38
                    && p.get(27..37) == Some(b"onMetaData")
                    && self.http_data == class::GET
                {
                    self.http_data = class::VIDEO_CONTENT;
                }
            } else if k == [0, 0, 0, 0x18]
                && p.len() >= 13
                && p.get(4..8) == Some(b"ftyp")
                && self.http_data == class::GET
            {
                self.http_data = class::VIDEO_CONTENT;
            }
        } else {
            let refine = matches!(
                self.http_data,
                class::GET | class::POST | class::YOUTUBE_204
            );
            let (new, get) = match &k {
                b"GET " if refine => (Some(http::classify_get(p)), true),
                b"POST" if refine => (Some(http::classify_post(p)), false),
                _ => (None, false),
            };
            if let Some(new) = new {
                if self.http_data == class::YOUTUBE_204 && new == class::YOUTUBE_VIDEO {
                    self.http_data = class::YOUTUBE_VIDEO204;
                    self.youtube(p, new, get);
                } else if new != class::GET && new != class::POST {
                    self.http_data = new;
                    self.youtube(p, new, get);
                }
            }
        }
        self.limit(ctx.packets, MAX_HTTP_RESPONSE_PACKETS);
    }

    /// Keeps the YouTube details of request `p` once its class `cls` became the flow's:
    /// Tstat copies them (`http_ytid`, `http_ytitag`, ...) whenever a request sets a YouTube
    /// class, and a `POST` never carries any (its identifier stays `--`).
    fn youtube(&mut self, p: &[u8], cls: u8, get: bool) {
        let yt_class = matches!(
            cls,
            class::YOUTUBE_VIDEO
                | class::YOUTUBE_SITE
                | class::YOUTUBE_SITE_DIRECT
                | class::YOUTUBE_SITE_EMBED
                | class::YOUTUBE_VIDEO204
                | class::YOUTUBE_204
        );
        if yt_class && get {
            let yt = youtube::details(p, cls);
            match &mut self.ext().youtube {
                Some(b) => **b = yt,
                slot @ None => *slot = Some(Box::new(yt)),
            }
        } else if let Some(e) = &mut self.ext {
            e.youtube = None;
        }
    }

    /// Tstat's `ssl_client_check` in the unknown state: a ClientHello (parsed, and kept for
    /// reassembly when its record is longer than the segment) or an SSLv2 hello.
    fn client_hello(&mut self, ctx: &TcpCtx<'_>) -> bool {
        let p = ctx.payload;
        if tls::is_client_hello(p) {
            self.state = State::SslHandshake;
            self.apply_client_hello(p);
            let want = tls::record_len(p);
            let whole_segment = p.len() == ctx.payload_len as usize;
            if want > p.len() && want <= CLIENT_HELLO_MAX && whole_segment {
                let mut buf = Vec::with_capacity(want);
                buf.extend_from_slice(p);
                self.ext().hello = Some(Box::new(Reassembly {
                    buf,
                    want,
                    next_seq: ctx.seq.wrapping_add(ctx.payload_len),
                }));
            }
            return true;
        }
        if tls::is_sslv2_client_hello(p, ctx.payload_len) {
            self.state = State::SslHandshake;
            return true;
        }
        false
    }

    /// Appends an in-order client segment to a ClientHello under reassembly; once complete, the
    /// whole record is parsed again and replaces what its first segment gave.
    fn continue_client_hello(&mut self, ctx: &TcpCtx<'_>) {
        let Some(e) = self.ext.as_mut() else {
            return;
        };
        let Some(h) = e.hello.as_mut() else {
            return;
        };
        if ctx.seq != h.next_seq || ctx.payload.len() != ctx.payload_len as usize {
            return;
        }
        let take = h.want.saturating_sub(h.buf.len()).min(ctx.payload.len());
        h.buf
            .extend_from_slice(ctx.payload.get(..take).unwrap_or(&[]));
        h.next_seq = h.next_seq.wrapping_add(ctx.payload_len);
        if h.buf.len() < h.want {
            return;
        }
        if let Some(h) = e.hello.take() {
            // The reassembled record supersedes the partial parse of its first segment.
            e.sni = None;
            e.npnalpn[C2S] = 0;
            e.tls_session &= !(sess::CLIENT_PSK | sess::EARLY_DATA);
            self.apply_client_hello(&h.buf);
        }
    }

    /// Keeps what a ClientHello parse found (Tstat writes SNI, NPN/ALPN bits, the version list
    /// and the PSK/early-data flags into the flow as it parses).
    fn apply_client_hello(&mut self, data: &[u8]) {
        let mut ch = tls::ClientHello::default();
        tls::parse_client_hello(data, &mut ch);
        let e = self.ext.get_or_insert_with(Box::default);
        if e.c_versions.is_none() {
            e.c_versions = Some(tls::VersionList::single(ch.msg_version).as_bytes().into());
        }
        if let Some(v) = ch.versions {
            e.c_versions = Some(v.as_bytes().into());
        }
        if let Some(name) = ch.sni {
            e.sni = Some(name.into());
        }
        e.npnalpn[C2S] |= ch.npnalpn;
        if ch.psk {
            e.tls_session |= sess::CLIENT_PSK;
        }
        if ch.early_data {
            e.tls_session |= sess::EARLY_DATA;
        }
    }

    /// The ServerHello of the `SSL_HANDSHAKE` state: the flow is TLS.
    fn server_hello(&mut self, p: &[u8], sh: tls::ServerHello) {
        let e = self.ext();
        if e.s_version.is_none() {
            e.s_version = Some(sh.msg_version);
        }
        if let Some(v) = sh.version {
            e.s_version = Some(v);
        }
        if let Some(Some(cn)) = tls::scan_common_name(p) {
            e.scn = Some(cn.into());
        }
        e.npnalpn[S2C] |= sh.npnalpn;
        if sh.retry {
            e.tls_session |= sess::HELLO_RETRY;
        }
        if sh.psk {
            e.tls_session |= sess::SERVER_PSK;
        }
        e.tls_service = tls_service(e.sni.as_deref());
        self.found(con::SSL);
        self.state = State::SslData;
    }

    /// The `SSL_DATA` state: the first Application Data record of each side, and certificates
    /// of later segments when a name was already found.
    fn ssl_data(&mut self, ctx: &TcpCtx<'_>) {
        let p = ctx.payload;
        let dir = ctx.dir & 1;
        if p.len() >= 7 {
            if dir == S2C {
                let have_cn = self.ext.as_ref().is_some_and(|e| e.scn.is_some());
                if have_cn && p.first() == Some(&0x16) && p.get(5) == Some(&0x0b) {
                    if let Some(Some(cn)) = tls::scan_common_name(p) {
                        self.ext().scn = Some(cn.into());
                    }
                }
            }
            let seen = if dir == C2S {
                flag::C_APPDATA
            } else {
                flag::S_APPDATA
            };
            if !self.has(seen) && tls::is_application_data(p) {
                self.set(seen);
                let bytes = ctx.max_seq[dir]
                    .wrapping_sub(ctx.isn[dir])
                    .wrapping_sub(ctx.payload_len);
                let e = self.ext();
                e.appdata_time[dir] = ctx.now;
                e.appdata_bytes[dir] = bytes;
            }
        }
        if self.has(flag::C_APPDATA) && self.has(flag::S_APPDATA) {
            self.state = State::Ignore;
        }
    }

    /// Tstat's `compute_nibbles`: high/low nibble histograms of the first bytes of the first
    /// payload packets.
    fn sample_nibbles(&mut self, p: &[u8]) {
        let Some(w) = &mut self.work else {
            return;
        };
        if w.nibble_packets >= ENTROPY_PACKETS {
            return;
        }
        // At most ENTROPY_PACKETS × ENTROPY_SAMPLE (240) samples per histogram: a bin
        // never overflows.
        const _: () = assert!(ENTROPY_PACKETS as usize * ENTROPY_SAMPLE <= u8::MAX as usize);
        let [lo, hi] = &mut w.nibbles;
        for &c in &p[..p.len().min(ENTROPY_SAMPLE)] {
            lo[usize::from(c & 0x0f)] += 1;
            hi[usize::from(c >> 4)] += 1;
        }
        w.nibble_packets += 1;
    }

    /// Tstat's `ed2k_obfuscate_check`: message-size sequences of obfuscated eMule.
    fn obfuscation(&mut self, payload_len: u32) {
        match payload_len {
            11 => self.set(flag::OBF_11),
            83 if self.has(flag::OBF_11) => self.set(flag::OBF_11_83),
            55 if self.has(flag::OBF_11_83) || self.has(flag::OBF_11) => {
                self.con_type |= con::OBF;
            }
            22 => self.set(flag::OBF_22),
            18 if self.has(flag::OBF_22) => self.con_type |= con::OBF,
            6 => self.set(flag::OBF_6),
            46 if self.has(flag::OBF_6) => self.con_type |= con::OBF,
            _ => {}
        }
    }

    /// Tstat's `rtmp_handshake_check`: the first byte of the first data segment of each side.
    fn rtmp(&mut self, ctx: &TcpCtx<'_>) {
        if self.has(flag::RTMP_C_SEEN) && self.has(flag::RTMP_S_SEEN) {
            return;
        }
        let dir = ctx.dir & 1;
        let Some(w) = &self.work else {
            return;
        };
        let first = w.msgs[dir]
            .seq
            .wrapping_sub(ctx.isn[dir])
            .wrapping_sub(ctx.payload_len)
            == 1;
        let c = ctx.payload.first().copied().unwrap_or(0);
        if dir == C2S && first && !self.has(flag::RTMP_C_SEEN) {
            self.set(flag::RTMP_C_SEEN);
            if matches!(c, 0x03 | 0x06 | 0x08) {
                self.set(flag::RTMP_C_HAND);
            }
        }
        if dir == S2C && first && !self.has(flag::RTMP_S_SEEN) {
            self.set(flag::RTMP_S_SEEN);
            if matches!(c, 0x03 | 0x06 | 0x08 | 0x09 | 0x0a) {
                self.set(flag::RTMP_S_HAND);
            }
        }
        if self.has(flag::RTMP_C_HAND) && self.has(flag::RTMP_S_HAND) {
            self.con_type |= con::RTMP;
        }
    }

    /// Tstat's `mse_protocol_check`: BitTorrent Message Stream Encryption guessed from the size
    /// of the first messages and the entropy of the first bytes.
    fn mse(&mut self) {
        let Some(w) = &self.work else {
            return;
        };
        let [c, s] = &w.msgs;
        if c.count == 0 || s.count == 0 {
            return;
        }
        let inside = |x: u32| (96..=608).contains(&x);
        let server = inside(s.size[0]) || inside(s.size[0].wrapping_add(s.size[1]));
        let client = inside(c.size[0]) || inside(c.size[0].wrapping_add(c.size[1]));
        if client
            && server
            && entropy(&w.nibbles[1]) > ENTROPY_THRESHOLD
            && entropy(&w.nibbles[0]) > ENTROPY_THRESHOLD
            && self.con_type == 0
        {
            self.con_type |= con::MSE;
        }
    }
}

/// Mirrors Tstat's message cut in `tcp_flow_stat` (which the TCP core also does for
/// `*_pkts_push`): an ACK segment with PSH or FIN closes the bytes sent in sequence since the
/// previous cut.
fn track_messages(msgs: &mut [Msgs; 2], ctx: &TcpCtx<'_>) {
    let m = &mut msgs[ctx.dir & 1];
    if !ctx.retransmission {
        m.seq = ctx.seq.wrapping_add(ctx.payload_len);
    }
    let f = ctx.flags;
    if f.ack() && (f.psh() || f.fin()) && m.last_seq < m.seq {
        let size = if m.last_seq == 0 {
            m.seq.wrapping_sub(ctx.isn[ctx.dir & 1]).wrapping_sub(1)
        } else {
            m.seq.wrapping_sub(m.last_seq)
        };
        if size > 0 {
            if let Some(s) = m.size.get_mut(usize::from(m.count)) {
                *s = size;
            }
            m.count = m.count.saturating_add(1);
        }
        m.last_seq = m.seq;
    }
}

/// A kept name as the record's inline text (cut at the record's size).
#[inline]
fn text<const N: usize>(v: &Option<Box<[u8]>>) -> InlineStr<N> {
    v.as_deref().map(InlineStr::new).unwrap_or_default()
}

/// The Application Data flag of a direction.
#[inline]
fn appdata_flag(dir: usize) -> u16 {
    if dir == C2S {
        flag::C_APPDATA
    } else {
        flag::S_APPDATA
    }
}

/// The four-byte MSN commands that open a session.
#[inline]
fn msn_command(k: [u8; 4]) -> Option<Msn> {
    match &k {
        b"VER " => Some(Msn::Ver),
        b"USR " => Some(Msn::Usr),
        b"ANS " => Some(Msn::Ans),
        b"IRO " => Some(Msn::Iro),
        _ => None,
    }
}

/// Tstat's `is_imap_tag`: a space among bytes 1–5 preceded by a letter or digit.
fn imap_tag(p: &[u8]) -> bool {
    (1..6)
        .any(|i| p.get(i) == Some(&b' ') && p.get(i - 1).is_some_and(|c| c.is_ascii_alphanumeric()))
}

/// Shannon entropy (bits) of a nibble histogram, computed as Tstat does.
fn entropy(h: &[u8; 16]) -> f64 {
    let total: u32 = h.iter().copied().map(u32::from).sum();
    if total == 0 {
        return 0.0;
    }
    let mut e = 0.0;
    for &c in h {
        if c == 0 {
            continue;
        }
        let p = f64::from(c) / f64::from(total);
        e += -p * p.ln();
    }
    // Tstat divides by its LOG2 constant, 0.6931471805599453, which is this same double.
    e / std::f64::consts::LN_2
}

/// Tstat's `map_tls_service` (`tls_services.c`): the service of a TLS flow from the client's
/// SNI, by the suffixes and prefixes of Tstat's patterns, in its order (Facebook first; its
/// last pattern, `^fbexternal`, is never tried, as in Tstat's loop).
fn tls_service(sni: Option<&[u8]>) -> u8 {
    const OTHER: u8 = 0;
    const GOOGLE: u8 = 1;
    const YOUTUBE: u8 = 2;
    const FACEBOOK: u8 = 3;
    const NETFLIX: u8 = 4;
    const DROPBOX: u8 = 5;
    const MICROSOFT: u8 = 6;
    const APPLE: u8 = 7;
    let Some(n) = sni else {
        return OTHER;
    };
    let ends = |suffixes: &[&str]| suffixes.iter().any(|s| n.ends_with(s.as_bytes()));
    let starts = |prefixes: &[&str]| prefixes.iter().any(|p| n.starts_with(p.as_bytes()));
    if ends(&[".facebook.com", ".fbcdn.net", ".facebook.net"]) || starts(&["fbcdn", "fbstatic"]) {
        FACEBOOK
    } else if ends(&[
        ".google.com",
        ".googleusercontent.com",
        ".googleapis.com",
        ".gstatic.com",
    ]) {
        GOOGLE
    } else if ends(&[
        ".googlevideo.com",
        ".gvt1.com",
        ".youtube.com",
        ".youtube-nocookie.com",
        ".ytimg.com",
    ]) {
        YOUTUBE
    } else if ends(&[
        ".dropbox.com",
        ".dropboxstatic.com",
        ".dropboxusercontent.com",
    ]) {
        DROPBOX
    } else if ends(&[".live.com", ".microsoft.com", ".windows.net", ".live.net"]) {
        MICROSOFT
    } else if ends(&[
        ".apple.com",
        ".icloud.com",
        ".apple.com.",
        ".icloud.com.",
        ".icloud-content.com",
    ]) {
        APPLE
    } else if ends(&[".nflxvideo.net"]) {
        NETFLIX
    } else {
        OTHER
    }
}

/// The RTMP part of Tstat's `map_flow_type`: once both sides sent two messages, a flow whose
/// first message sizes are not those of an RTMP handshake loses the RTMP bit.
fn rtmp_rule(con_type: u32, m: &[Msgs; 2]) -> u32 {
    let [c, s] = m;
    if con_type & con::RTMP == 0 || c.count == 0 || s.count == 0 {
        return con_type;
    }
    let (c0, c01) = (c.size[0], c.size[0].wrapping_add(c.size[1]));
    let (s0, s01) = (s.size[0], s.size[0].wrapping_add(s.size[1]));
    let handshake = (c0 == 1537 && (s0 == 3073 || s0 == 1537))
        || (c01 == 1537 && (s0 == 3073 || s0 == 1537 || s01 == 3073 || s01 == 1537));
    if !handshake && c.count > 1 && s.count > 1 {
        con_type & !con::RTMP
    } else {
        con_type
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::TcpFlags;

    const PA: TcpFlags = TcpFlags(0x18);
    const A: TcpFlags = TcpFlags(0x10);

    #[test]
    fn tls_services_follow_tstat_s_patterns() {
        assert_eq!(tls_service(Some(b"www.google.com")), 1);
        assert_eq!(
            tls_service(Some(b"google.com")),
            0,
            "the patterns want a dot before"
        );
        assert_eq!(tls_service(Some(b"r3---sn.googlevideo.com")), 2);
        assert_eq!(tls_service(Some(b"fbcdn-photos.akamaihd.net")), 3);
        assert_eq!(tls_service(Some(b"fbexternal-a.akamaihd.net")), 0);
        assert_eq!(tls_service(Some(b"ipv4-c001.nflxvideo.net")), 4);
        assert_eq!(tls_service(Some(b"www.icloud.com.")), 7);
        assert_eq!(tls_service(None), 0);
    }

    /// Replays a handshake-less conversation: each entry is (direction, flags, payload); the
    /// context fields are filled as the TCP core would.
    struct Flow {
        l7: TcpL7,
        seq: [u32; 2],
        isn: [u32; 2],
        packets: u64,
        t: i64,
    }

    impl Flow {
        fn new() -> Flow {
            let mut f = Flow {
                l7: TcpL7::default(),
                seq: [1000, 5000],
                isn: [1000, 5000],
                packets: 0,
                t: 1_000_000,
            };
            // SYN, SYN-ACK, ACK.
            f.seg(C2S, TcpFlags(0x02), b"");
            f.seg(S2C, TcpFlags(0x12), b"");
            f.seg(C2S, A, b"");
            f
        }

        fn seg(&mut self, dir: usize, flags: TcpFlags, payload: &[u8]) {
            let syn = flags.syn();
            let seq = self.seq[dir];
            self.packets += 1;
            self.t += 1000;
            let len = payload.len() as u32;
            let max_seq = [self.seq[0], self.seq[1]];
            let mut max = max_seq;
            max[dir] = seq.wrapping_add(len);
            let ctx = TcpCtx {
                dir,
                payload,
                payload_len: len,
                flags,
                seq,
                now: Timestamp(self.t),
                first_time: Timestamp(1_001_000),
                ports: [40000, 443],
                packets: self.packets,
                dir_packets: [0, 0],
                isn: self.isn,
                max_seq: max,
                retransmission: false,
            };
            self.l7.on_segment(&ctx);
            self.seq[dir] = seq.wrapping_add(len) + u32::from(syn);
        }
    }

    #[test]
    fn size() {
        // The always-present part of the per-flow state.
        assert!(
            std::mem::size_of::<TcpL7>() <= 32,
            "{}",
            std::mem::size_of::<TcpL7>()
        );
    }

    #[test]
    fn http_get_and_response() {
        let mut f = Flow::new();
        f.seg(
            C2S,
            PA,
            b"GET /index.html HTTP/1.1\r\nHost: bro.org\r\n\r\n",
        );
        f.seg(S2C, PA, b"HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n");
        f.seg(
            C2S,
            PA,
            b"GET /wiki/Foo HTTP/1.1\r\nHost: other.org\r\n\r\n",
        );
        f.seg(S2C, PA, b"HTTP/1.1 200 OK\r\n\r\n");
        let r = f.l7.record();
        assert_eq!(r.con_t, con::HTTP);
        assert_eq!(r.http_data, class::WIKI);
        assert_eq!((r.http_req_cnt, r.http_res_cnt), (2, 2));
        assert_eq!(&r.http_res, b"302");
        assert_eq!(r.http_hostname.as_bytes(), b"bro.org");
        assert!(r.tls_sni.is_empty());
    }

    #[test]
    fn http_post_counts_without_response_class() {
        let mut f = Flow::new();
        f.seg(C2S, PA, b"POST /api HTTP/1.1\r\nHost: 1.2.3.4:8080\r\n\r\n");
        f.seg(S2C, PA, b"HTTP/1.1 100 Continue\r\n\r\n");
        let r = f.l7.record();
        assert_eq!(r.http_data, class::POST);
        assert_eq!(&r.http_res, b"100");
        assert_eq!(r.http_hostname.as_bytes(), b"1.2.3.4:8080");
    }

    #[test]
    fn video_by_content_type_and_container() {
        let mut f = Flow::new();
        f.seg(
            C2S,
            PA,
            b"GET /v/clip.mp4 HTTP/1.1\r\nHost: cdn.example\r\n\r\n",
        );
        f.seg(
            S2C,
            PA,
            b"HTTP/1.1 206 Partial Content\r\nContent-Type: video/mp4\r\n\r\n",
        );
        let mut body = b"\0\0\0\x1cftypmp42\0\0\0\0isomavc1mp42\0\0\0\x08free".to_vec();
        body.resize(1024, 0);
        f.seg(S2C, A, &body);
        let v = f.l7.record().video;
        assert!(v.log);
        assert_eq!((v.content, v.payload), (video::fmt::MP4, video::fmt::MP4));
        // The classifier stopped once both were known.
        assert_eq!(f.l7.video_state, vstate::IGNORE);
        assert_eq!(v.youtube.id.as_bytes(), b"--");
    }

    #[test]
    fn plain_http_is_not_video() {
        let mut f = Flow::new();
        f.seg(
            C2S,
            PA,
            b"GET /index.html HTTP/1.1\r\nHost: bro.org\r\n\r\n",
        );
        for _ in 0..6 {
            f.seg(
                S2C,
                PA,
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html>",
            );
        }
        let v = f.l7.record().video;
        assert!(!v.log);
        assert_eq!((v.content, v.payload), (0, 0));
        // Five server segments, then the classifier gave up.
        assert_eq!(f.l7.video_state, vstate::IGNORE);
        // A video body after that is not looked at.
        f.seg(
            S2C,
            A,
            b"FLV\x01\x05\0\0\0\x09\0\0\0\0\x12\0\0\x80\0\0\0\0\0\0\0\x02",
        );
        assert!(!f.l7.record().video.log);
    }

    #[test]
    fn youtube_request_is_video_with_details() {
        let mut f = Flow::new();
        f.seg(
            C2S,
            PA,
            b"GET /videoplayback?id=0123456789abcdef&itag=22&begin=10 HTTP/1.1\r\n\r\n",
        );
        f.seg(S2C, PA, b"HTTP/1.1 200 OK\r\n\r\n");
        let r = f.l7.record();
        assert_eq!(r.http_data, class::YOUTUBE_VIDEO);
        assert!(r.video.log);
        assert_eq!(r.video.youtube.id.as_bytes(), b"0123456789abcdef");
        assert_eq!(r.video.youtube.itag.as_bytes(), b"22");
        assert_eq!(r.video.youtube.seek, 10);
    }

    #[test]
    fn tls_to_youtube_is_video() {
        // The SNI of `client_hello` is www.ntop.org: not YouTube.
        let mut f = Flow::new();
        f.seg(C2S, PA, &client_hello(517));
        f.seg(S2C, A, &server_flight());
        assert!(!f.l7.record().video.log);
        let mut g = Flow::new();
        g.seg(C2S, PA, &client_hello(517));
        g.seg(S2C, A, &server_flight());
        g.l7.ext.as_mut().unwrap().sni = Some(b"r4---sn-a5m7lnl6.googlevideo.com"[..].into());
        let r = g.l7.record();
        assert_eq!(r.con_t, con::SSL);
        assert!(r.video.log);
    }

    #[test]
    fn ssh_banners() {
        let mut f = Flow::new();
        f.seg(S2C, PA, b"SSH-2.0-OpenSSH_8.9p1\r\n");
        f.seg(C2S, PA, b"SSH-2.0-PuTTY_Release_0.78\r\n");
        assert_eq!(f.l7.record().con_t, con::SSH);
        // Client banner first: not SSH.
        let mut g = Flow::new();
        g.seg(C2S, PA, b"SSH-2.0-PuTTY_Release_0.78\r\n");
        g.seg(S2C, PA, b"SSH-2.0-OpenSSH_8.9p1\r\n");
        assert_eq!(g.l7.record().con_t, 0);
    }

    #[test]
    fn mail_protocols() {
        let mut f = Flow::new();
        f.seg(S2C, PA, b"220 mail.example.org ESMTP\r\n");
        f.seg(C2S, PA, b"EHLO client\r\n");
        assert_eq!(f.l7.record().con_t, con::SMTP);
        let mut g = Flow::new();
        g.seg(S2C, PA, b"+OK POP3 ready\r\n");
        g.seg(C2S, PA, b"USER bob\r\n");
        assert_eq!(g.l7.record().con_t, con::POP3);
        let mut h = Flow::new();
        h.seg(S2C, PA, b"* OK IMAP4rev1 ready\r\n");
        h.seg(C2S, PA, b"a001 LOGIN bob pw\r\n");
        h.seg(S2C, PA, b"a001 OK done\r\n");
        assert_eq!(h.l7.record().con_t, con::IMAP);
    }

    /// A minimal ClientHello with SNI, padded to `total` bytes with a padding extension.
    fn client_hello(total: usize) -> Vec<u8> {
        let name = b"www.ntop.org";
        let mut ext = vec![0x00, 0x00];
        ext.extend_from_slice(&((name.len() + 5) as u16).to_be_bytes());
        ext.extend_from_slice(&((name.len() + 3) as u16).to_be_bytes());
        ext.push(0);
        ext.extend_from_slice(&(name.len() as u16).to_be_bytes());
        ext.extend_from_slice(name);
        ext.extend_from_slice(&[0x00, 0x2b, 0x00, 0x05, 4, 0x03, 0x04, 0x03, 0x03]);
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[0x42; 32]);
        body.push(0); // no session id
        body.extend_from_slice(&[0x00, 0x02, 0x13, 0x01, 0x01, 0x00]);
        let fixed = 5 + 4 + body.len() + 2 + ext.len();
        let pad = total.saturating_sub(fixed + 4);
        ext.extend_from_slice(&[0x00, 0x15]);
        ext.extend_from_slice(&(pad as u16).to_be_bytes());
        ext.resize(ext.len() + pad, 0);
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
        let mut rec = vec![0x16, 0x03, 0x01];
        rec.extend_from_slice(&((body.len() + 4) as u16).to_be_bytes());
        rec.extend_from_slice(&[0x01, 0x00]);
        rec.extend_from_slice(&(body.len() as u16).to_be_bytes());
        rec.extend_from_slice(&body);
        rec
    }

    /// ServerHello (TLS 1.2, ALPN h2) followed by a Certificate carrying CN `www.ntop.org`.
    fn server_flight() -> Vec<u8> {
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[9; 32]);
        body.push(0);
        body.extend_from_slice(&[0xc0, 0x2f, 0x00]);
        let ext = [
            0x00, 0x10, 0x00, 0x05, 0x00, 0x03, 2, b'h', b'2', 0xff, 0x01, 0x00, 0x01, 0,
        ];
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
        let mut rec = vec![0x16, 0x03, 0x03];
        rec.extend_from_slice(&((body.len() + 4) as u16).to_be_bytes());
        rec.extend_from_slice(&[0x02, 0x00]);
        rec.extend_from_slice(&(body.len() as u16).to_be_bytes());
        rec.extend_from_slice(&body);
        rec.extend_from_slice(&[0x16, 0x03, 0x03, 0x01, 0x00, 0x0b, 0, 0, 0xfc]);
        rec.extend_from_slice(&[0x30; 16]);
        rec.extend_from_slice(&[0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 12]);
        rec.extend_from_slice(b"www.ntop.org");
        rec.extend_from_slice(&[0x30; 16]);
        rec
    }

    #[test]
    fn tls_handshake_and_application_data() {
        let mut f = Flow::new();
        f.seg(C2S, PA, &client_hello(517));
        f.seg(S2C, A, &server_flight());
        f.seg(C2S, PA, &[0x14, 0x03, 0x03, 0x00, 0x01, 0x01]);
        let t_hs = f.t + 1000;
        f.seg(C2S, PA, &[0x16, 0x03, 0x03, 0x00, 0x02, 0x00, 0x00]);
        let t_app = f.t + 1000;
        f.seg(C2S, PA, &[0x17, 0x03, 0x03, 0x00, 0x03, 1, 2, 3]);
        f.seg(S2C, PA, &[0x17, 0x03, 0x03, 0x00, 0x03, 1, 2, 3]);
        let r = f.l7.record();
        assert_eq!(r.con_t, con::SSL);
        assert_eq!(r.tls_sni.as_bytes(), b"www.ntop.org");
        assert_eq!(r.tls_scn.as_bytes(), b"www.ntop.org");
        assert_eq!(r.npnalpn, [0, tls::npn::ALPN_H2]);
        assert_eq!(r.tls_vers[0].as_bytes(), b"0304,0303");
        assert_eq!(r.tls_vers[1].as_bytes(), b"0303");
        assert_eq!(r.tls_session_stat, 0);
        assert_eq!(r.last_handshake[0], Timestamp(t_hs));
        assert_eq!(r.appdata_time[0], Timestamp(t_app));
        // 517 + 6 + 7 bytes before, plus one (Tstat's "max_seq - isn - len").
        assert_eq!(r.appdata_bytes[0], 531);
        assert_eq!(r.appdata_bytes[1], server_flight().len() as u64 + 1);
    }

    #[test]
    fn tls_client_hello_across_segments() {
        let hello = client_hello(1800);
        let mut f = Flow::new();
        // The SNI lies in the first segment, supported_versions in the first too; cut the
        // record so that the padding continues in the second.
        f.seg(C2S, A, &hello[..1400]);
        f.seg(C2S, PA, &hello[1400..]);
        f.seg(S2C, PA, &server_flight());
        let r = f.l7.record();
        assert_eq!(r.con_t, con::SSL);
        assert_eq!(r.tls_sni.as_bytes(), b"www.ntop.org");
        assert_eq!(r.tls_vers[0].as_bytes(), b"0304,0303");
        assert!(f.l7.ext.as_ref().unwrap().hello.is_none());
    }

    #[test]
    fn tls_alert_before_server_hello_is_not_tls() {
        let mut f = Flow::new();
        f.seg(C2S, PA, &client_hello(300));
        f.seg(S2C, PA, &[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]);
        let r = f.l7.record();
        assert_eq!(r.con_t, 0);
        assert_eq!(r.tls_sni.as_bytes(), b"www.ntop.org");
    }

    #[test]
    fn bittorrent_and_p2p_codes() {
        let mut f = Flow::new();
        let mut hs = vec![0x13];
        hs.extend_from_slice(b"BitTorrent protocol");
        hs.extend_from_slice(&[0; 48]);
        f.seg(C2S, PA, &hs);
        f.seg(S2C, PA, &hs);
        let r = f.l7.record();
        assert_eq!(r.con_t, con::P2P);
        assert_eq!(r.p2p_type, 900);
    }

    #[test]
    fn ed2k_counters() {
        let mut f = Flow::new();
        let mut hello = vec![0xe3, 0x54, 0x00, 0x00, 0x00, 0x01];
        hello.resize(0x54 + 5, 0xaa);
        f.seg(C2S, PA, &hello);
        let mut part = vec![0xe3, 0x00, 0x28, 0x00, 0x00, 0x46];
        part.resize(1400, 0);
        f.seg(S2C, A, &part);
        let r = f.l7.record();
        assert_eq!(r.con_t, con::P2P);
        assert_eq!(r.p2p_type, 104);
        // hello: signalling; part: data, client-to-client.
        assert_eq!(r.ed2k, [1, 1, 0, 1, 0]);
    }

    #[test]
    fn rtmp_needs_handshake_sizes() {
        let mut f = Flow::new();
        let mut c0 = vec![0x03];
        c0.resize(1537, 0);
        let mut s0 = vec![0x03];
        s0.resize(3073, 0);
        f.seg(C2S, PA, &c0);
        f.seg(S2C, PA, &s0);
        assert_eq!(f.l7.record().con_t, con::RTMP);
        let mut g = Flow::new();
        g.seg(C2S, PA, &[0x03, 1, 2, 3, 4, 5]);
        g.seg(S2C, PA, &[0x03, 1, 2, 3]);
        g.seg(C2S, PA, &[9, 9, 9]);
        g.seg(S2C, PA, &[9, 9, 9]);
        assert_eq!(g.l7.record().con_t, 0);
    }

    #[test]
    fn gives_up_after_the_packet_limits() {
        let mut f = Flow::new();
        for _ in 0..60 {
            f.seg(C2S, PA, b"xxxxxxxxxx");
        }
        assert_eq!(f.l7.state, State::Ignore);
        f.seg(S2C, PA, b"SSH-2.0-OpenSSH\r\n");
        f.seg(C2S, PA, b"SSH-2.0-OpenSSH\r\n");
        assert_eq!(f.l7.record().con_t, 0);
    }

    #[test]
    fn never_panics_on_garbage() {
        let mut f = Flow::new();
        let mut x: u32 = 12345;
        for i in 0..200 {
            let n = (x % 300) as usize;
            let mut p = Vec::with_capacity(n);
            for _ in 0..n {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                p.push((x >> 16) as u8);
            }
            if i % 7 == 0 && n > 6 {
                p[0] = 0x16;
                p[1] = 0x03;
                p[2] = 0x01;
                p[3] = 0x30;
                p[5] = 0x01;
            }
            f.seg(i % 2, PA, &p);
        }
        let _ = f.l7.record();
    }
}
