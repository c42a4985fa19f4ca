//! `log_video_complete`: one row per complete TCP flow the engine marked as video
//! ([`engine::record::VideoRecord::log`]), in Tstat's `update_video_log` order: the Core and
//! End_to_end groups of `log_tcp_complete`, the video core (`vd_type_cont vd_type_pay
//! yt_id16_46 yt_itag`), VideoInfo, YouTube, Advanced (rate samples), then the TCP Options
//! and Layer7 groups.
//!
//! The header's `#NN#` is the video level (`videolog_*` of runtime.conf; 31 without `-T`),
//! whose bits choose the groups. Owns the YouTube identifier conversions Tstat applies when
//! printing (`id11to16`, `id16to11`) and C's `%f`/`%.3f` of values that may not be finite.

use super::columns;
use super::num::F6;
use super::{core_group, e2e_group, header_line, layer7_group, options_group};
use crate::cryptopan::Anonymizer;
use engine::record::{RateRecord, TcpRecord};
use std::io::Write;

/// The active `log_video_complete` groups: Tstat's `video_level` bitmask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VideoLevel(pub u8);

impl VideoLevel {
    /// End_to_end group (`videolog_end_to_end`).
    pub const END_TO_END: u8 = 1;
    /// Layer7 group (`videolog_layer7`).
    pub const LAYER7: u8 = 2;
    /// Options group (`videolog_options`).
    pub const OPTIONS: u8 = 4;
    /// VideoInfo group (`videolog_videoinfo`).
    pub const VIDEOINFO: u8 = 8;
    /// YouTube group (`videolog_youtube`).
    pub const YOUTUBE: u8 = 16;
    /// Advanced group (`videolog_advanced`): rate samples and server message sizes.
    pub const ADVANCED: u8 = 32;
    /// Tstat's level without `-T`: every group but Advanced (`#31#`).
    pub const DEFAULT: VideoLevel = VideoLevel(31);

    /// Whether the group `bit` is printed.
    pub fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }
}

/// Tstat's `http_data` classes whose URL carried a YouTube video request: their rows print
/// the identifier, format and redirection details.
const YT_VIDEO: [u8; 3] = [4, 21, 22];
/// Tstat's YouTube site classes (page, direct and embedded access): identifier only.
const YT_SITE: [u8; 3] = [15, 23, 24];

/// The header line of `log_video_complete`, with newline.
pub fn video_header(level: VideoLevel) -> String {
    let mut groups: Vec<&[&str]> = vec![columns::CORE];
    if level.has(VideoLevel::END_TO_END) {
        groups.push(columns::END_TO_END);
    }
    groups.push(columns::VIDEO_CORE);
    if level.has(VideoLevel::VIDEOINFO) {
        groups.push(columns::VIDEO_INFO);
    }
    if level.has(VideoLevel::YOUTUBE) {
        groups.push(columns::VIDEO_YOUTUBE);
    }
    if level.has(VideoLevel::ADVANCED) {
        groups.push(columns::VIDEO_ADVANCED);
    }
    if level.has(VideoLevel::OPTIONS) {
        groups.push(columns::OPTIONS);
    }
    if level.has(VideoLevel::LAYER7) {
        groups.push(columns::LAYER7);
    }
    header_line(level.0, &groups)
}

/// Whether `r` gets a `log_video_complete` row: a complete flow the classifiers marked video.
pub fn is_video_row(r: &TcpRecord) -> bool {
    r.complete && r.l7.video.log
}

/// Appends one `log_video_complete` row for `r` (all groups of `level`), newline included,
/// anonymising addresses with `anon` (`-Y`) as `log_tcp_complete` does.
pub fn video_row_with(
    s: &mut Vec<u8>,
    r: &TcpRecord,
    level: VideoLevel,
    mut anon: Option<&mut Anonymizer>,
) {
    core_group(s, r, &mut anon);
    if level.has(VideoLevel::END_TO_END) {
        e2e_group(s, r);
    }
    let l7 = &r.l7;
    let v = &l7.video;
    let yt = &v.youtube;
    let http = l7.con_t & super::CON_HTTP != 0;
    let yt_video = http && YT_VIDEO.contains(&l7.http_data);
    let yt_site = http && YT_SITE.contains(&l7.http_data);
    let id = c_str(yt.id.as_bytes());
    let _ = write!(s, " {} {} ", v.content, v.payload);
    // `yt_id16_46`: an 11-character identifier is shown in its 16-character form.
    if (yt_video && id.len() == 11) || yt_site {
        s.extend_from_slice(&id11to16(id));
    } else if yt_video {
        s.extend_from_slice(id);
    } else {
        s.extend_from_slice(b"--");
    }
    s.push(b' ');
    if yt_video {
        s.extend_from_slice(c_str(yt.itag.as_bytes()));
    } else {
        s.extend_from_slice(b"--");
    }
    if level.has(VideoLevel::VIDEOINFO) {
        s.push(b' ');
        c_float(s, v.meta.duration, 6);
        s.push(b' ');
        c_float(s, v.meta.rate, 6);
        // `%d` of the 32-bit fields.
        let _ = write!(s, " {} {}", v.meta.width as i32, v.meta.height as i32);
    }
    if level.has(VideoLevel::YOUTUBE) {
        s.push(b' ');
        if yt_video && id.len() == 11 || yt_site {
            s.extend_from_slice(id);
        } else if yt_video {
            s.extend_from_slice(&id16to11(id));
        } else {
            s.extend_from_slice(b"--");
        }
        if yt_video {
            let _ = write!(
                s,
                " {} {} {} {} {}",
                yt.seek, yt.redir_mode, yt.redir_count, yt.mobile, yt.stream
            );
        } else {
            s.extend_from_slice(b" 0 0 0 0 0");
        }
    }
    if level.has(VideoLevel::ADVANCED) {
        let rates = &r.rates;
        for d in &rates.dirs {
            rate_stats(s, d);
        }
        for d in &rates.dirs {
            for b in d.begin {
                let _ = write!(s, " {}", b as i32);
            }
        }
        let _ = write!(s, " {}", r.dirs[1].pkts_push as i32);
        for m in rates.s_msg_size {
            let _ = write!(s, " {}", m as i32);
        }
    }
    if level.has(VideoLevel::OPTIONS) {
        options_group(s, r);
    }
    if level.has(VideoLevel::LAYER7) {
        layer7_group(s, r, &mut anon);
    }
    s.push(b'\n');
}

/// One direction's rate statistics (`print_video_stats_advanced`): samples, empty samples,
/// longest empty run, then mean, standard deviation, minimum and maximum in kbit/s (`8e-3 ×`
/// bytes/s), or zeros with fewer than two samples.
fn rate_stats(s: &mut Vec<u8>, d: &RateRecord) {
    if d.samples <= 1 {
        s.extend_from_slice(b" 0 0 0 0.000 0.000 0.000 0.000");
        return;
    }
    let n = f64::from(d.samples);
    let _ = write!(
        s,
        " {} {} {}",
        d.samples as i32, d.empty as i32, d.streak as i32
    );
    // Tstat's expressions, evaluated left to right as C does.
    let values = [
        8e-3 * d.sum / n,
        8e-3 * ((d.sum2 - d.sum * d.sum / n) / f64::from(d.samples - 1)).sqrt(),
        8e-3 * d.min,
        8e-3 * d.max,
    ];
    for x in values {
        s.push(b' ');
        c_float(s, x, 3);
    }
}

/// C's `printf("%.Nf", x)` for N = 3 or 6 (glibc: `inf`, `-inf`, `nan` and `-nan` for values
/// that are not finite, the sign of a NaN included).
fn c_float(s: &mut Vec<u8>, x: f64, decimals: usize) {
    if x.is_nan() {
        s.extend_from_slice(if x.is_sign_negative() {
            b"-nan"
        } else {
            b"nan"
        });
    } else if x.is_infinite() {
        s.extend_from_slice(if x < 0.0 { b"-inf" } else { b"inf" });
    } else if decimals == 6 {
        let _ = write!(s, "{}", F6(x));
    } else {
        // Rust rounds the exact binary value half to even, as glibc does.
        let _ = write!(s, "{x:.decimals$}");
    }
}

/// The bytes of a C string buffer up to its first NUL.
fn c_str(b: &[u8]) -> &[u8] {
    let n = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    &b[..n]
}

/// YouTube's identifier alphabet (URL-safe base64).
const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/// Hexadecimal digits of the 16-character form.
const HEX: &[u8; 16] = b"0123456789abcdef";

/// Tstat's `id11to16`: the 16-hex-digit form of an 11-character identifier (66 bits, the
/// last two dropped); `--` for any other length. Characters outside the alphabet (never in an
/// identifier the URL rules extract) count as its first.
fn id11to16(id: &[u8]) -> Vec<u8> {
    if id.len() != 11 {
        return b"--".to_vec();
    }
    let v = |c: u8| B64.iter().position(|&x| x == c).unwrap_or(0);
    let mut b = [0usize; 16];
    let (mut i, mut j) = (0, 0);
    while i < 10 {
        let (p, q) = (v(id[i]), v(id[i + 1]));
        b[j] = (p & 0x3f) >> 2;
        b[j + 1] = (p & 0x03) << 2 | (q & 0x3f) >> 4;
        b[j + 2] = q & 0x0f;
        i += 2;
        j += 3;
    }
    b[15] = (v(id[10]) & 0x3f) >> 2;
    b.iter().map(|&x| HEX[x]).collect()
}

/// Tstat's `id16to11`: the 11-character form of a 16-hex-digit identifier; `--` for any other
/// length (the 46-character `o-...` identifiers have no short form).
fn id16to11(id: &[u8]) -> Vec<u8> {
    if id.len() != 16 {
        return b"--".to_vec();
    }
    // Tstat's digit value, wrapped to a byte as its `unsigned char` array does.
    let d = |c: u8| -> u8 {
        if (b'a'..=b'f').contains(&c) {
            c - b'a' + 10
        } else {
            c.wrapping_sub(b'0')
        }
    };
    let b: Vec<u8> = id.iter().map(|&c| d(c)).collect();
    let mut a = [0u8; 11];
    let (mut i, mut j) = (0, 0);
    while i < 10 {
        a[i] = b[j].wrapping_shl(2) | b[j + 1] >> 2;
        a[i + 1] = (b[j + 1] & 0x03) << 4 | b[j + 2];
        i += 2;
        j += 3;
    }
    a[10] = b[15].wrapping_shl(2);
    a.iter().map(|&x| B64[usize::from(x & 0x3f)]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_follow_the_level() {
        let full = include_str!("headers/log_video_complete.header");
        assert_eq!(video_header(VideoLevel(63)), full);
        let default = video_header(VideoLevel::DEFAULT);
        assert!(default.starts_with("#31#c_ip:1 "));
        assert!(default.contains(" vd_type_cont:59 "));
        assert!(default.contains(" yt_stream:72 c_f1323_opt:73 "));
        assert!(default.trim_end().ends_with(" dns_enc:142"));
        let core = video_header(VideoLevel(0));
        assert!(core.starts_with("#00#"));
        assert!(core
            .trim_end()
            .ends_with("http_t:44 vd_type_cont:45 vd_type_pay:46 yt_id16_46:47 yt_itag:48"));
    }

    /// A complete YouTube video flow with rate samples.
    fn youtube_flow() -> TcpRecord {
        use engine::record::{InlineStr, VideoRecord, YouTubeRecord};
        use engine::time::Timestamp;
        let mut r = TcpRecord {
            c_ip: "10.0.0.1".parse().unwrap(),
            c_port: 40000,
            s_ip: "192.0.2.7".parse().unwrap(),
            s_port: 80,
            c_isint: true,
            s_isint: false,
            first: Timestamp::from_sec_usec(1_362_692_526, 869_344),
            last: Timestamp::from_sec_usec(1_362_692_527, 0),
            complete: true,
            dirs: Default::default(),
            l7: Default::default(),
            dns: Default::default(),
            rates: Default::default(),
        };
        r.l7.con_t = super::super::CON_HTTP;
        r.l7.http_data = 4;
        r.l7.http_res = *b"200";
        r.l7.video = VideoRecord {
            log: true,
            content: 1,
            payload: 1,
            meta: engine::record::VideoMeta {
                duration: 120.5,
                rate: 800.0,
                width: 640,
                height: u32::MAX,
            },
            youtube: YouTubeRecord {
                id: InlineStr::new(b"0123456789abcdef"),
                itag: InlineStr::new(b"34"),
                seek: 15,
                redir_mode: 3,
                redir_count: 2,
                mobile: 2,
                stream: 0,
            },
        };
        r.dirs[1].pkts_push = 3;
        let s = &mut r.rates.dirs[1];
        s.samples = 4;
        s.empty = 1;
        s.streak = 1;
        s.sum = 3000.0;
        s.sum2 = 1000.0 * 1000.0 + 2000.0 * 2000.0;
        s.min = 0.0;
        s.max = 2000.0;
        s.begin[..4].copy_from_slice(&[1000, 2000, 0, 0]);
        r.rates.s_msg_size[..3].copy_from_slice(&[281, 1024, 1024]);
        r
    }

    fn cells(level: VideoLevel, r: &TcpRecord) -> Vec<(String, String)> {
        let header = video_header(level);
        let names: Vec<String> = header[4..]
            .split_whitespace()
            .map(|c| c.split(':').next().unwrap().to_string())
            .collect();
        let mut row = Vec::new();
        video_row_with(&mut row, r, level, None);
        let row = String::from_utf8(row).unwrap();
        assert!(row.ends_with('\n'));
        let values: Vec<String> = row.split_whitespace().map(str::to_string).collect();
        assert_eq!(names.len(), values.len(), "{row}");
        names.into_iter().zip(values).collect()
    }

    #[test]
    fn youtube_row() {
        let r = youtube_flow();
        let c: std::collections::HashMap<_, _> = cells(VideoLevel(63), &r).into_iter().collect();
        let get = |k: &str| c[k].as_str();
        assert_eq!(get("http_t"), "5");
        assert_eq!((get("vd_type_cont"), get("vd_type_pay")), ("1", "1"));
        // A 16-character identifier is printed as is, and in its 11-character form.
        assert_eq!(get("yt_id16_46"), "0123456789abcdef");
        assert_eq!(get("yt_id11"), "ASNFZ4mrze8");
        assert_eq!(get("yt_itag"), "34");
        assert_eq!(
            (get("vd_dur"), get("vd_rate_tot")),
            ("120.500000", "800.000000")
        );
        // `%d` of the 32-bit height.
        assert_eq!((get("vd_width"), get("vd_height")), ("640", "-1"));
        assert_eq!(
            [
                get("yt_seek"),
                get("yt_red_mode"),
                get("yt_red_cnt"),
                get("yt_mobile")
            ],
            ["15", "3", "2", "2"]
        );
        // Fewer than two samples: zeros; four: kbit/s statistics.
        assert_eq!(get("c_rate_smpl"), "0");
        assert_eq!(get("c_rate_avg"), "0.000");
        assert_eq!(get("s_rate_smpl"), "4");
        assert_eq!(get("s_rate_avg"), "6.000");
        assert_eq!(get("s_rate_max"), "16.000");
        assert_eq!((get("s_rate1"), get("s_rate2")), ("1000", "2000"));
        assert_eq!((get("s_msg"), get("s_msgsize1")), ("3", "281"));
        // Not a YouTube class: `--` and zeros.
        let mut other = r;
        other.l7.http_data = 0;
        let c: std::collections::HashMap<_, _> =
            cells(VideoLevel::DEFAULT, &other).into_iter().collect();
        assert_eq!(
            (c["yt_id16_46"].as_str(), c["yt_itag"].as_str()),
            ("--", "--")
        );
        assert_eq!((c["yt_id11"].as_str(), c["yt_seek"].as_str()), ("--", "0"));
        assert!(!c.contains_key("s_rate_smpl"));
        // Only complete flows the engine marked get a row.
        assert!(is_video_row(&other));
        other.complete = false;
        assert!(!is_video_row(&other));
    }

    #[test]
    fn youtube_identifiers() {
        // dQw4w9WgXcQ: 0x75 0x0c 0x38 ... as Tstat's bit packing gives it.
        let id16 = id11to16(b"dQw4w9WgXcQ");
        assert_eq!(id16.len(), 16);
        assert_eq!(id16to11(&id16), b"dQw4w9WgXcQ".to_vec());
        assert_eq!(id11to16(b"--"), b"--".to_vec());
        assert_eq!(id16to11(b"o-AAAA"), b"--".to_vec());
        assert_eq!(id11to16(b"AAAAAAAAAAA"), b"0000000000000000".to_vec());
        assert_eq!(id16to11(b"ffffffffffffffff"), b"__________8".to_vec());
    }

    #[test]
    fn c_floats() {
        let f = |x: f64, d: usize| {
            let mut s = Vec::new();
            c_float(&mut s, x, d);
            String::from_utf8(s).unwrap()
        };
        assert_eq!(f(8e-3 * 1006.0 / 1068.0, 3), "0.008");
        assert_eq!(f(299.988_333_333, 6), "299.988333");
        assert_eq!(f(f64::INFINITY, 3), "inf");
        assert_eq!(f(-f64::NAN.abs(), 3), "-nan");
        assert_eq!(f(0.0625, 3), "0.062");
    }
}
