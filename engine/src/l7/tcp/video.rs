//! Tstat's HTTP video-streaming classifier (`videoL7.c`, the `STREAMING` plugin): which video
//! container a response carries, read from its `Content-Type` (`vd_type_cont` of
//! `log_video_complete`) and from the first bytes of its body (`vd_type_pay`), and the
//! container metadata the body's first segment reveals (`vd_dur`, `vd_rate_tot`, `vd_width`,
//! `vd_height`); plus the SNI test that puts TLS flows to YouTube into that log
//! (`is_ssl_youtube` of `tcp.c`).
//!
//! Byte-level functions only; the per-flow state and its packet limits live in `l7::tcp`.
//! Tstat's parsers index raw pointers and its `memcmp`s read a few bytes past the payload; here
//! every read is bounds-checked, and bytes past the captured payload never match (Tstat would
//! compare whatever memory follows). Nothing here allocates or panics.

use super::peek::c_str;
use crate::record::VideoMeta;

/// Tstat's `video_metadata`, the fields the log prints and the two FLV fields a later segment
/// may combine with them (`audiodatarate`, `bytelength`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Meta {
    pub duration: f64,
    pub rate: f64,
    pub audio_rate: f64,
    pub bytelength: u32,
    pub width: u32,
    pub height: u32,
}

impl Meta {
    /// The printed part.
    pub fn record(&self) -> VideoMeta {
        VideoMeta {
            duration: self.duration,
            rate: self.rate,
            width: self.width,
            height: self.height,
        }
    }
}

/// Tstat's `enum video_content`: the codes `vd_type_cont` and `vd_type_pay` print.
#[allow(missing_docs)]
pub(crate) mod fmt {
    pub const NOT_DEFINED: u8 = 0;
    pub const FLV: u8 = 1;
    pub const MP4: u8 = 2;
    pub const AVI: u8 = 3;
    pub const WMV: u8 = 4;
    pub const MPEG: u8 = 5;
    pub const WEBM: u8 = 6;
    pub const GPP3: u8 = 7;
    pub const OGG: u8 = 8;
    pub const QUICKTIME: u8 = 9;
    pub const ASF: u8 = 10;
    pub const UNKNOWN: u8 = 11;
    pub const HLS: u8 = 12;
    pub const NFF: u8 = 13;
}

/// Server segments looked at before the classifier gives up (`MAX_HTTP_STREAMING_DEPTH`).
pub(crate) const MAX_STREAMING_DEPTH: u8 = 5;

/// Longest `Content-Type` value Tstat keeps for the comparison.
const CONTENT_TYPE_MAX: usize = 60;

/// C's `memcmp(s, pat, min(len(s), len(pat))) == 0`, the prefix test Tstat writes everywhere
/// with a `(len < N ? len : N)` bound: a value shorter than the pattern matches when it is a
/// prefix of it.
#[inline]
fn pre(s: &[u8], pat: &[u8]) -> bool {
    let n = s.len().min(pat.len());
    s[..n] == pat[..n]
}

/// `vd_type_cont`: Tstat's `classify_video_by_ctype` on one server segment. The segment must
/// look like a status line (`/` as its fifth byte); the value of the first `Content-Type:`
/// header (regex `Content-Type: ([a-z0-9"/.-]+)`, case-insensitive, on the payload as a C
/// string) is stripped of its quotes, cut at 60 bytes and compared case-sensitively, with
/// Tstat's prefix rule (`video/x-m` counts as `video/x-mp4`).
pub(crate) fn content_type(p: &[u8]) -> u8 {
    if p.get(4) != Some(&b'/') {
        return fmt::NOT_DEFINED;
    }
    let Some(mut v) = content_type_value(c_str(p)) else {
        return fmt::NOT_DEFINED;
    };
    if let Some(rest) = v.strip_prefix(b"\"") {
        v = rest;
    }
    if let Some(rest) = v.strip_suffix(b"\"") {
        v = rest;
    }
    if v.is_empty() {
        return fmt::NOT_DEFINED;
    }
    classify_content_type(&v[..v.len().min(CONTENT_TYPE_MAX)])
}

/// The match of `Content-Type: ([a-z0-9"/.-]+)` (POSIX, case-insensitive): the leftmost
/// `Content-Type: ` followed by at least one value character, and the longest run of them.
fn content_type_value(s: &[u8]) -> Option<&[u8]> {
    const NAME: &[u8] = b"content-type: ";
    let value_char = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'"' | b'/' | b'.' | b'-');
    // Every match has its ':' at offset 12: look at the colons only (a SIMD search), in
    // order, so the leftmost match is still the one found.
    let colon = NAME.len() - 2;
    for p in memchr::memchr_iter(b':', s) {
        let Some(i) = p.checked_sub(colon) else {
            continue;
        };
        if i + NAME.len() >= s.len() || !s[i..i + NAME.len()].eq_ignore_ascii_case(NAME) {
            continue;
        }
        let rest = &s[i + NAME.len()..];
        let n = rest.iter().take_while(|&&c| value_char(c)).count();
        if n > 0 {
            return rest.get(..n);
        }
    }
    None
}

/// The second half of `classify_video_by_ctype`: the media type names Tstat knows.
fn classify_content_type(ct: &[u8]) -> u8 {
    use fmt::*;
    let sub = |at: usize| ct.get(at..).unwrap_or(&[]);
    match ct.first() {
        Some(b'a') => {
            if pre(ct, b"application") {
                if ct.len() <= 12 {
                    return NOT_DEFINED;
                }
                let s = sub(12);
                if pre(s, b"x-mms-framed") {
                    WMV
                } else if pre(s, b"x-mpegURL") || pre(s, b"vnd.apple.mpegurl") {
                    HLS
                } else if pre(s, b"mp4") {
                    MP4
                } else {
                    NOT_DEFINED
                }
            } else if pre(ct, b"audio") {
                if ct.len() > 6 && pre(sub(6), b"mp4") {
                    MP4
                } else {
                    NOT_DEFINED
                }
            } else {
                NOT_DEFINED
            }
        }
        Some(b'v') => {
            if !pre(ct, b"video") {
                return NOT_DEFINED;
            }
            if ct.len() <= 6 {
                return NOT_DEFINED;
            }
            let s = sub(6);
            let any = |pats: &[(&[u8], u8)]| {
                pats.iter()
                    .find(|(p, _)| pre(s, p))
                    .map_or(UNKNOWN, |&(_, f)| f)
            };
            match s[0] {
                b'x' => any(&[
                    (b"x-mp4", MP4),
                    (b"x-m4v", MP4),
                    (b"x-flv", FLV),
                    (b"x-f4v", MP4),
                    // Adobe Dynamic Streaming.
                    (b"x-f4f", MP4),
                    (b"x-msvideo", AVI),
                    (b"x-ms-asf", ASF),
                    (b"x-ms-wmv", WMV),
                ]),
                b'm' => any(&[(b"mp4", MP4), (b"mpeg", MPEG), (b"mp2t", HLS)]),
                b'M' => any(&[(b"MP2T", HLS)]),
                b'f' => any(&[(b"flv", FLV), (b"f4v", MP4), (b"f4m", MP4), (b"f4f", MP4)]),
                b'a' => any(&[(b"abst", MP4)]),
                b'3' => any(&[(b"3gpp", GPP3)]),
                // NDS File Format (Cisco Videoscape VOD).
                b'n' => any(&[(b"nff", NFF)]),
                b'o' => any(&[(b"ogg", OGG)]),
                b'q' => any(&[(b"quicktime", QUICKTIME)]),
                b'w' => any(&[(b"webm", WEBM)]),
                _ => UNKNOWN,
            }
        }
        Some(b'f') if pre(ct, b"flv-application") => FLV,
        _ => NOT_DEFINED,
    }
}

/// Tstat's `extract_payload_contentType`: where the body starts in a server segment. A
/// segment that is not a status line is all body (0); a status line's body starts after its
/// first blank line, if the segment goes on after it. `None` when the segment holds no body
/// (headers only, or a blank line that ends the segment).
pub(crate) fn body_offset(p: &[u8]) -> Option<usize> {
    if p.len() <= 4 {
        return None;
    }
    if !p.starts_with(b"HTTP") {
        return Some(0);
    }
    if p.len() > 8 && p.ends_with(b"\r\n\r\n") {
        return None;
    }
    // The regex runs on the payload as a C string.
    let s = c_str(p);
    let end = memchr::memmem::find(s, b"\r\n\r\n")? + 4;
    (end != p.len()).then_some(end)
}

/// `vd_type_pay`: Tstat's `classify_video_by_payload` on the body part `body` of a server
/// segment (more than 4 bytes), filling `meta` from the containers it parses (FLV, AVI, MP4).
pub(crate) fn payload_type(meta: &mut Meta, body: &[u8]) -> u8 {
    use fmt::*;
    let n = body.len();
    let at = |i: usize, pat: &[u8]| body.get(i..).is_some_and(|s| s.starts_with(pat));
    match body.get(..4) {
        // FLV, full and reduced header.
        Some(b"FLV\x01") | Some([0x12, 0x00, 0x03, 0x4b]) => {
            if n < 27 {
                return NOT_DEFINED;
            }
            parse_flv(meta, body);
            if meta.duration > 0.0 && meta.bytelength > 0 && meta.rate == 0.0 {
                meta.rate = 8.0 * f64::from(meta.bytelength) / meta.duration / 1000.0;
            } else if meta.rate != 0.0 && meta.audio_rate != 0.0 {
                meta.rate += meta.audio_rate;
            }
            FLV
        }
        Some(b"RIFF") => {
            if n >= 16 && at(8, b"AVI LIST") {
                parse_avi(meta, body);
                AVI
            } else {
                NOT_DEFINED
            }
        }
        // ASF header GUID, in either of its two spellings.
        Some([0x30, 0x26, 0xb2, 0x75]) | Some([0xa6, 0xd9, 0x00, 0xaa]) => {
            if n >= 8 && (at(4, &[0x8e, 0x66, 0xcf, 0x11]) || at(4, &[0x00, 0x62, 0xce, 0x6c])) {
                WMV
            } else {
                NOT_DEFINED
            }
        }
        // EBML header.
        Some([0x1a, 0x45, 0xdf, 0xa3]) => {
            if (n >= 28 && at(24, b"webm")) || (n >= 36 && at(31, b"webm")) {
                WEBM
            } else {
                NOT_DEFINED
            }
        }
        Some(b"OggS") => {
            if n >= 8 && at(4, &[0x00, 0x02, 0x00, 0x00]) {
                OGG
            } else {
                NOT_DEFINED
            }
        }
        _ => {
            if n >= 12 && at(0, &[0, 0, 0]) && at(4, b"ftyp") {
                // 3GPP v1 (a 20-byte ftyp box); Tstat's other two 3GPP tests look at byte 0,
                // which is zero here.
                if body[3] == 0x14 {
                    GPP3
                } else {
                    parse_mp4(meta, body);
                    MP4
                }
            } else if n >= 8 && at(4, b"moof") {
                MP4
            } else if n >= 4 && at(0, &[0, 0, 1]) && body[3] >> 4 == 0xb {
                MPEG
            } else if n >= 16 && at(0, b"$M") && at(12, b"play") {
                WMV
            } else if n >= 400 && body[0] == 0x47 && body[188] == 0x47 && body[376] == 0x47 {
                // MPEG-TS framing (HLS segments).
                HLS
            } else if n >= 16 && at(0, &[0x47, 0x1f, 0xff, 0x10]) && at(4, b"NDS File") {
                NFF
            } else {
                NOT_DEFINED
            }
        }
    }
}

/// The first position of `pat` at or after `from`.
fn find(data: &[u8], from: usize, pat: &[u8]) -> Option<usize> {
    memchr::memmem::find(data.get(from..)?, pat).map(|i| i + from)
}

/// Big-endian 32-bit value at `i` (0 past the data).
fn be32(d: &[u8], i: usize) -> u32 {
    d.get(i..i + 4)
        .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Little-endian 32-bit value at `i` (0 past the data): AVI headers are little-endian and
/// Tstat reads them in host order (x86).
fn le32(d: &[u8], i: usize) -> u32 {
    d.get(i..i + 4)
        .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// C's `(int) x` on x86-64: out-of-range and NaN values become `INT_MIN`.
fn c_int(x: f64) -> i32 {
    if (-2_147_483_648.0..2_147_483_648.0).contains(&x) {
        x as i32
    } else {
        i32::MIN
    }
}

/// C's `(u_int32_t) x` on x86-64 (a 64-bit conversion, truncated): values outside the 64-bit
/// range and NaN become 0.
fn c_u32(x: f64) -> u32 {
    // ±2^63: the range of the 64-bit conversion.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if (-LIMIT..LIMIT).contains(&x) {
        (x as i64) as u32
    } else {
        0
    }
}

/// Tstat's `parse_flv_metadata`: the AMF `onMetaData` object of an FLV header. Each property
/// is a length-prefixed name, a type byte and a value; the last number read is applied to
/// the names Tstat knows (whatever the property's own type, as Tstat does).
fn parse_flv(meta: &mut Meta, d: &[u8]) {
    let n = d.len() as i64;
    // Without `onMetaData` Tstat parses from the start of the body.
    let mut base: i64 = find(d, 0, b"onMetaData").map_or(0, |i| i as i64 + 9);
    if n - base < 20 {
        return;
    }
    let byte = |i: i64| usize::try_from(i).ok().and_then(|i| d.get(i)).copied();
    let be16 = |i: i64| Some(u16::from_be_bytes([byte(i)?, byte(i + 1)?]));
    let Some(count) = be16(base + 4) else {
        return;
    };
    base += 6;
    let mut value = 0.0f64;
    for _ in 0..count {
        let Some(size) = be16(base) else {
            return;
        };
        let size = i64::from(size);
        if n - base < size + 2 {
            return;
        }
        base += 2;
        let name_len = size.min(24);
        let name = d
            .get(base as usize..(base + name_len) as usize)
            .unwrap_or(&[]);
        base += size;
        let Some(kind) = byte(base) else {
            return;
        };
        match kind {
            0 => {
                if n - base < 9 {
                    return;
                }
                let mut b = [0u8; 8];
                for (k, v) in b.iter_mut().enumerate() {
                    *v = byte(base + 1 + k as i64).unwrap_or(0);
                }
                value = f64::from_be_bytes(b);
                base += 9;
            }
            1 => {
                if n - base < 2 {
                    return;
                }
                base += 2;
            }
            2 => {
                if n - base < 2 {
                    return;
                }
                let Some(len) = be16(base + 1) else {
                    return;
                };
                if n - base < i64::from(len) {
                    return;
                }
                base += i64::from(len) + 3;
            }
            10 => {
                if n - base < 4 {
                    return;
                }
                // `ntohs` of a 32-bit host-order read: the two high bytes of the count.
                let hi = i64::from(byte(base + 1).unwrap_or(0)) << 8
                    | i64::from(byte(base + 2).unwrap_or(0));
                base += 5 + hi;
            }
            11 => {
                if n - base < 2 {
                    return;
                }
                base += 11;
            }
            _ => {}
        }
        let kbps = |v: f64| if v / 100_000.0 > 1.0 { v / 1000.0 } else { v };
        let is = |p: &[u8]| name.starts_with(p);
        match name.first() {
            Some(b'a') if is(b"audiodatarate") => meta.audio_rate = kbps(value),
            Some(b'b') if is(b"bytelength") => meta.bytelength = c_u32(value),
            Some(b'd') if is(b"duration") => meta.duration = value,
            Some(b'f') if is(b"filesize") => meta.bytelength = c_u32(value),
            Some(b'h') if is(b"height") => meta.height = c_int(value.floor()) as u32,
            Some(b'v') if is(b"videodatarate") => meta.rate = kbps(value),
            Some(b'w') if is(b"width") => meta.width = c_int(value.floor()) as u32,
            _ => {}
        }
    }
}

/// Tstat's `parse_mp4_metadata`: duration from the `mvhd` box, frame size from the first
/// `tkhd` after it, average bit rate from the first `btrt` after that.
fn parse_mp4(meta: &mut Meta, d: &[u8]) {
    let n = d.len();
    let Some(mvhd) = find(d, 0, b"mvhd") else {
        return;
    };
    if n - mvhd < 24 {
        return;
    }
    let timescale = be32(d, mvhd + 16);
    let duration = be32(d, mvhd + 20);
    if timescale > 0 {
        meta.duration = f64::from(duration) / f64::from(timescale);
    }
    let Some(tkhd) = find(d, mvhd, b"tkhd") else {
        return;
    };
    if n - tkhd < 84 {
        return;
    }
    // The integer parts of the 16.16 width and height.
    let at = tkhd + 78;
    meta.width = be32(d, at) & 0xffff;
    meta.height = u32::from(d.get(at + 6).copied().unwrap_or(0)) << 8
        | u32::from(d.get(at + 7).copied().unwrap_or(0));
    let Some(btrt) = find(d, at, b"btrt") else {
        return;
    };
    if n - btrt < 16 {
        return;
    }
    meta.rate = f64::from(be32(d, btrt + 12));
}

/// Tstat's `parse_avi_metadata`: frame count and size from `avih`, frame rate from the
/// first `strh` after it.
fn parse_avi(meta: &mut Meta, d: &[u8]) {
    let n = d.len();
    let Some(avih) = find(d, 0, b"avih") else {
        return;
    };
    if n - avih < 28 {
        return;
    }
    let frames = le32(d, avih + 24);
    let base = avih + 28;
    if n - base < 20 {
        return;
    }
    meta.width = le32(d, base + 12);
    meta.height = le32(d, base + 16);
    let base = base + 20;
    let Some(strh) = find(d, base + 4, b"strh") else {
        return;
    };
    if n - strh < 36 {
        return;
    }
    let scale = le32(d, strh + 28);
    let rate = le32(d, strh + 32);
    if scale > 0 && rate > 0 {
        meta.duration = f64::from(frames) / (f64::from(rate) / f64::from(scale));
    }
}

/// Tstat's `is_ssl_youtube` on the client's SNI (basic regexes, case-sensitive, on the name
/// as a C string): `\.youtube\.com$`, `\.youtube-nocookie\.com$`, `\googlevideo\.com$`,
/// `\gvt1\.com$` (GNU regex reads `\g` as a plain `g`, so the last two need no dot before).
pub(crate) fn youtube_sni(sni: &[u8]) -> bool {
    let s = c_str(sni);
    [
        &b".youtube.com"[..],
        b".youtube-nocookie.com",
        b"googlevideo.com",
        b"gvt1.com",
    ]
    .iter()
    .any(|t| s.ends_with(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        let r = |h: &[u8]| content_type(h);
        assert_eq!(
            r(b"HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\n\r\n"),
            fmt::MP4
        );
        // Case-insensitive name, case-sensitive value, quotes stripped.
        assert_eq!(
            r(b"HTTP/1.0 200 OK\r\ncontent-type: \"video/x-flv\"\r\n"),
            fmt::FLV
        );
        assert_eq!(r(b"HTTP/1.1 200 OK\r\nContent-Type: Video/mp4\r\n"), 0);
        assert_eq!(
            r(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-mpegURL\r\n"),
            fmt::HLS
        );
        assert_eq!(
            r(b"HTTP/1.1 200 OK\r\nContent-Type: video/MP2T\r\n"),
            fmt::HLS
        );
        assert_eq!(
            r(b"HTTP/1.1 200 OK\r\nContent-Type: video/vnd.foo\r\n"),
            fmt::UNKNOWN
        );
        assert_eq!(r(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"), 0);
        // The prefix rule: a value shorter than the pattern matches.
        assert_eq!(
            r(b"HTTP/1.1 200 OK\r\nContent-Type: video/x-m\r\n"),
            fmt::MP4
        );
        assert_eq!(
            r(b"HTTP/1.1 200 OK\r\nContent-Type: audio/mp4a\r\n"),
            fmt::MP4
        );
        // The fifth byte must be `/`; a NUL ends the search.
        assert_eq!(r(b"HTTP 200 OK\r\nContent-Type: video/mp4\r\n"), 0);
        assert_eq!(r(b"HTTP/1.1 200 OK\r\n\0Content-Type: video/mp4\r\n"), 0);
        // An empty value does not count; a later header does.
        assert_eq!(
            r(b"HTTP/1.1 200\r\nContent-Type: ;\r\nContent-Type: video/webm\r\n"),
            fmt::WEBM
        );
        assert_eq!(r(b"HTTP/1.1 200\r\nContent-Type: \"\"\r\n"), 0);
    }

    #[test]
    fn body_offsets() {
        assert_eq!(body_offset(b"HTTP/1.1 200 OK\r\n\r\n"), None);
        assert_eq!(body_offset(b"HTTP/1.1 200 OK\r\n\r\nFLV\x01"), Some(19));
        assert_eq!(body_offset(b"HTTP/1.1 200 OK\r\nX: y"), None);
        assert_eq!(body_offset(b"\0\0\0\x1cftyp"), Some(0));
        assert_eq!(body_offset(b"abcd"), None);
    }

    /// An MP4 header as the 1kxun trace's server sends it: `ftyp`, `moov` with `mvhd`
    /// (timescale 600, duration 179993), a `tkhd` of 480×240 and a `btrt` further on.
    fn mp4_header() -> Vec<u8> {
        let mut b = vec![0, 0, 0, 0x1c];
        b.extend_from_slice(b"ftypmp42\0\0\0\0isomavc1mp42");
        b.extend_from_slice(&[0, 0, 1, 0xd9]);
        b.extend_from_slice(b"moov");
        b.extend_from_slice(&[0, 0, 0, 0x6c]);
        b.extend_from_slice(b"mvhd");
        b.extend_from_slice(&[0; 12]);
        b.extend_from_slice(&600u32.to_be_bytes());
        b.extend_from_slice(&179_993u32.to_be_bytes());
        b.extend_from_slice(&[0; 80]);
        b.extend_from_slice(b"tkhd");
        let mut tkhd = vec![0u8; 88];
        tkhd[76..80].copy_from_slice(&(480u32 << 16).to_be_bytes());
        tkhd[80..84].copy_from_slice(&(240u32 << 16).to_be_bytes());
        b.extend_from_slice(&tkhd);
        b.extend_from_slice(&[0; 40]);
        b.extend_from_slice(b"btrt");
        b.extend_from_slice(&[0, 0, 0, 0]);
        b.extend_from_slice(&300_000u32.to_be_bytes());
        b.extend_from_slice(&249_176u32.to_be_bytes());
        b
    }

    #[test]
    fn mp4_metadata() {
        let mut m = Meta::default();
        assert_eq!(payload_type(&mut m, &mp4_header()), fmt::MP4);
        assert_eq!(format!("{:.6}", m.duration), "299.988333");
        assert_eq!((m.width, m.height), (480, 240));
        assert_eq!(m.rate, 249_176.0);
        // Cut before the btrt box: the rest stays.
        let mut m = Meta::default();
        let h = mp4_header();
        assert_eq!(payload_type(&mut m, &h[..h.len() - 10]), fmt::MP4);
        assert_eq!((m.width, m.height, m.rate), (480, 240, 0.0));
        // A 20-byte ftyp box is 3GPP, not parsed.
        let mut g = h.clone();
        g[3] = 0x14;
        let mut m = Meta::default();
        assert_eq!(payload_type(&mut m, &g), fmt::GPP3);
        assert_eq!(m, Meta::default());
    }

    #[test]
    fn flv_metadata() {
        let mut b = b"FLV\x01\x05\0\0\0\x09\0\0\0\0\x12\0\0\x80\0\0\0\0\0\0\0\x02\0\x0a".to_vec();
        b.extend_from_slice(b"onMetaData\x08\0\0\0\x04");
        let num = |b: &mut Vec<u8>, name: &[u8], v: f64| {
            b.extend_from_slice(&(name.len() as u16).to_be_bytes());
            b.extend_from_slice(name);
            b.push(0);
            b.extend_from_slice(&v.to_be_bytes());
        };
        num(&mut b, b"duration", 120.5);
        num(&mut b, b"width", 640.7);
        num(&mut b, b"height", 360.0);
        num(&mut b, b"filesize", 1_000_000.0);
        b.extend_from_slice(&[0, 0, 9]);
        let mut m = Meta::default();
        assert_eq!(payload_type(&mut m, &b), fmt::FLV);
        assert_eq!(m.duration, 120.5);
        assert_eq!((m.width, m.height), (640, 360));
        // No videodatarate: 8 × bytes / duration / 1000.
        assert_eq!(m.rate, 8.0 * 1_000_000.0 / 120.5 / 1000.0);
        // Too short to parse.
        let mut m = Meta::default();
        assert_eq!(payload_type(&mut m, b"FLV\x01\x05"), 0);
    }

    #[test]
    fn other_signatures() {
        let mut m = Meta::default();
        let mut t = |b: &[u8]| payload_type(&mut m, b);
        assert_eq!(t(b"\0\0\0\x10moofxxxx"), fmt::MP4);
        assert_eq!(t(&[0, 0, 1, 0xb3, 9]), fmt::MPEG);
        assert_eq!(t(b"OggS\0\x02\0\0"), fmt::OGG);
        assert_eq!(t(b"OggS\0\x00\0\0"), 0);
        let mut ts = vec![0u8; 400];
        ts[0] = 0x47;
        ts[188] = 0x47;
        ts[376] = 0x47;
        assert_eq!(t(&ts), fmt::HLS);
        assert_eq!(t(&ts[..399]), 0);
        let mut webm = vec![0x1a, 0x45, 0xdf, 0xa3];
        webm.resize(24, 0);
        webm.extend_from_slice(b"webm");
        assert_eq!(t(&webm), fmt::WEBM);
        let mut avi = b"RIFF\0\0\0\0AVI LIST".to_vec();
        avi.resize(64, 0);
        assert_eq!(t(&avi), fmt::AVI);
        assert_eq!(t(b"<html>"), 0);
    }

    #[test]
    fn avi_metadata() {
        let mut b = b"RIFF\0\0\0\0AVI LIST\0\0\0\0hdrlavih".to_vec();
        let mut avih = vec![0u8; 56];
        avih[20..24].copy_from_slice(&250u32.to_le_bytes()); // total frames
        avih[36..40].copy_from_slice(&320u32.to_le_bytes());
        avih[40..44].copy_from_slice(&240u32.to_le_bytes());
        b.extend_from_slice(&avih);
        b.extend_from_slice(b"LIST\0\0\0\0strlstrh");
        let mut strh = vec![0u8; 40];
        strh[24..28].copy_from_slice(&1u32.to_le_bytes()); // scale
        strh[28..32].copy_from_slice(&25u32.to_le_bytes()); // rate
        b.extend_from_slice(&strh);
        let mut m = Meta::default();
        assert_eq!(payload_type(&mut m, &b), fmt::AVI);
        assert_eq!((m.width, m.height), (320, 240));
        assert_eq!(m.duration, 10.0);
    }

    #[test]
    fn youtube_names() {
        assert!(youtube_sni(b"www.youtube.com"));
        assert!(!youtube_sni(b"youtube.com"));
        assert!(youtube_sni(b"r3---sn-uxaxpu5ap5-jb3e.googlevideo.com"));
        assert!(youtube_sni(b"redirector.gvt1.com"));
        assert!(!youtube_sni(b"www.youtube.com.evil.org"));
        assert!(!youtube_sni(b"i.ytimg.com"));
        assert!(!youtube_sni(b"WWW.YOUTUBE.COM"));
    }

    #[test]
    fn never_panics_on_garbage() {
        let mut x: u32 = 7;
        let mut m = Meta::default();
        for i in 0..3000 {
            let n = (x % 700) as usize;
            let mut p = Vec::with_capacity(n);
            for _ in 0..n {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                p.push((x >> 16) as u8);
            }
            // Seed the signatures the parsers look for.
            let sig: &[&[u8]] = &[b"FLV\x01", b"RIFF", b"\0\0\0\x18", b"HTTP/1.1 200"];
            let s = sig[i % sig.len()];
            if p.len() > s.len() {
                p[..s.len()].copy_from_slice(s);
            }
            for w in [
                &b"onMetaData"[..],
                b"mvhd",
                b"tkhd",
                b"btrt",
                b"avih",
                b"strh",
            ] {
                let at = (x as usize) % (p.len().max(1));
                if at + w.len() <= p.len() && i % 3 == 0 {
                    p[at..at + w.len()].copy_from_slice(w);
                }
            }
            let _ = content_type(&p);
            if let Some(off) = body_offset(&p) {
                if p.len() - off > 4 {
                    let _ = payload_type(&mut m, &p[off..]);
                }
            }
        }
    }
}
