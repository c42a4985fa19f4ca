//! The YouTube details Tstat's `classify_http_get` extracts (with `VIDEO_DETAILS`) from the
//! URL of a request it classifies as YouTube: the video identifier, the format (`itag`), the
//! seek offset, the redirection parameters and the device hints, which `log_video_complete`
//! prints as `yt_id16_46 yt_itag yt_id11 yt_seek yt_red_mode yt_red_cnt yt_mobile yt_stream`.
//!
//! [`details`] is called with the request and the class `http::classify_get` gave it and
//! repeats the rule that produced that class (the same prefixes, in the same order), then
//! applies that rule's extraction. Tstat's POSIX regexes (`[?&]itag=([0-9]+)[& ]`, ...) are
//! matched by hand with their leftmost-longest semantics, on the URL cut at the rule's buffer
//! size and at its first NUL, as `regexec` sees it. Nothing here allocates or panics.

use super::http::class;
use super::peek::{c_str, Peek};
use crate::record::{InlineStr, YouTubeRecord};

/// `[A-Za-z0-9_-]`, the YouTube identifier alphabet.
fn id_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
}

/// `[0-9a-f]`.
fn hex_char(c: u8) -> bool {
    c.is_ascii_digit() || (b'a'..=b'f').contains(&c)
}

/// The record of a YouTube class before any extraction: Tstat resets its identifier and
/// format to `--` and the numbers to 0 before classifying a request.
fn unknown() -> YouTubeRecord {
    YouTubeRecord {
        id: InlineStr::new(b"--"),
        itag: InlineStr::new(b"--"),
        ..YouTubeRecord::default()
    }
}

/// The YouTube details of request `p` (starting `GET `), which `classify_get` put in the
/// YouTube class `cls`. A class from a rule without extraction gives `--` and zeros.
pub(crate) fn details(p: &[u8], cls: u8) -> YouTubeRecord {
    let mut yt = unknown();
    let base = p.get(4..).unwrap_or(&[]);
    let avail = p.len() as i64 - 4;
    let u = Peek(base);
    // `memcmp(base, pat, avail < len ? avail : len) == 0`, as the classifier tests prefixes.
    let pre = |pat: &[u8]| u.cmp_n(0, pat, avail.min(pat.len() as i64));
    match (cls, u.u8(1)) {
        (class::YOUTUBE_204, b'g') => video_query(&mut yt, buffer(base, 900)),
        (class::YOUTUBE_VIDEO, b'v') => {
            if pre(b"/videoplayback?") {
                video_query(&mut yt, buffer(base, 900));
            } else {
                video_path(&mut yt, buffer(base, 900));
            }
        }
        (class::YOUTUBE_VIDEO, b'h') => live(&mut yt, buffer(base, 900), 4),
        (class::YOUTUBE_VIDEO, b'l') => live(&mut yt, buffer(base, 900), 5),
        // `/get_video_info?` and `/get_video?`.
        (class::YOUTUBE_SITE, b'g') if avail > 36 => {
            if let Some(id) = video_id(buffer(base, 195)) {
                yt.id = InlineStr::new(id);
            }
        }
        (class::YOUTUBE_SITE, b'f') if pre(b"/feeds/api/videos/") && avail > 30 => {
            fixed_id(&mut yt, u, 18);
        }
        // `/embed/ID` and `/v/ID`: the rule itself checked the identifier.
        (class::YOUTUBE_SITE_EMBED, b'e') => fixed_id(&mut yt, u, 7),
        (class::YOUTUBE_SITE_EMBED, b'v') => fixed_id(&mut yt, u, 3),
        (class::YOUTUBE_SITE_DIRECT, _) => {
            if pre(b"/watch?v=") {
                if avail > 20 {
                    fixed_id(&mut yt, u, 9);
                }
            } else if avail > 21 {
                // `/watch#!v=`.
                fixed_id(&mut yt, u, 10);
            }
        }
        _ => {}
    }
    yt
}

/// Tstat's `match_buffer`: the URL cut at `max` bytes, read as a C string.
fn buffer(base: &[u8], max: usize) -> &[u8] {
    c_str(&base[..base.len().min(max)])
}

/// The 11 identifier characters at `at`, when they all are (Tstat's per-rule check).
fn fixed_id(yt: &mut YouTubeRecord, u: Peek<'_>, at: i64) {
    if (at..at + 11).all(|i| id_char(u.u8(i))) {
        yt.id = InlineStr::new(u.slice(at, 11));
    }
}

/// `sscanf("%d")` of a digit string already cut to Tstat's buffer size.
fn number(d: &[u8]) -> i32 {
    d.iter()
        .take_while(|c| c.is_ascii_digit())
        .fold(0i32, |n, &c| {
            n.wrapping_mul(10).wrapping_add(i32::from(c - b'0'))
        })
}

/// The first `n` bytes of `s` (Tstat copies a match into a fixed buffer).
fn cut(s: &[u8], n: usize) -> &[u8] {
    &s[..s.len().min(n)]
}

/// The positions just after each `[?&]name` in `s`, leftmost first.
fn after_param<'a>(s: &'a [u8], name: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    (0..s.len()).filter_map(move |i| {
        let lead = matches!(s[i], b'?' | b'&');
        (lead && s[i + 1..].starts_with(name)).then_some(i + 1 + name.len())
    })
}

/// The positions just after each `name` in `s`, leftmost first.
fn after<'a>(s: &'a [u8], name: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    (0..s.len()).filter_map(move |i| s[i..].starts_with(name).then_some(i + name.len()))
}

/// At `j`: exactly `n` characters of `class` (after the literal `lead`), then one of `term`;
/// the group (lead included).
fn fixed_at(
    s: &[u8],
    j: usize,
    lead: &[u8],
    n: usize,
    class: fn(u8) -> bool,
    term: &[u8],
) -> Option<(usize, usize)> {
    let body = j + lead.len();
    let end = body + n;
    let ok = s.get(j..body)? == lead
        && s.get(body..end)?.iter().all(|&c| class(c))
        && term.contains(s.get(end)?);
    ok.then_some((j, end))
}

/// At `j`: one or more characters of `class` (which excludes every `term` character), then one
/// of `term`; the group.
fn run_at(s: &[u8], j: usize, class: fn(u8) -> bool, term: &[u8]) -> Option<(usize, usize)> {
    let n = s.get(j..)?.iter().take_while(|&&c| class(c)).count();
    let end = j + n;
    (n > 0 && term.contains(s.get(end)?)).then_some((j, end))
}

/// At `j`: `([^&]+)[& ]`, longest: up to the next `&`, or, when none follows, up to the last
/// space (which the group may contain).
fn not_amp_at(s: &[u8], j: usize) -> Option<(usize, usize)> {
    let rest = s.get(j..)?;
    match rest.iter().position(|&c| c == b'&') {
        Some(0) => None,
        Some(r) => Some((j, j + r)),
        None => {
            let e = rest.iter().rposition(|&c| c == b' ')?;
            (e > 0).then_some((j, j + e))
        }
    }
}

/// The group of the leftmost match among `starts` for which `at` matches.
fn first(
    s: &[u8],
    starts: impl Iterator<Item = usize>,
    at: impl Fn(usize) -> Option<(usize, usize)>,
) -> Option<&[u8]> {
    starts.filter_map(at).next().and_then(|(a, b)| s.get(a..b))
}

/// `[?&]?video_id=([A-Za-z0-9_-]{11})[& ]`.
fn video_id(s: &[u8]) -> Option<&[u8]> {
    first(s, after(s, b"video_id="), |j| {
        fixed_at(s, j, b"", 11, id_char, b"& ")
    })
}

/// `[?&]id=([0-9a-f]{16})[& ]`, else `[?&]id=(o-[A-Za-z0-9_-]{44})[& ]`.
fn query_id16_46(s: &[u8]) -> Option<&[u8]> {
    first(s, after_param(s, b"id="), |j| {
        fixed_at(s, j, b"", 16, hex_char, b"& ")
    })
    .or_else(|| {
        first(s, after_param(s, b"id="), |j| {
            fixed_at(s, j, b"o-", 44, id_char, b"& ")
        })
    })
}

/// `[?&]name=([0-9]+)[& ]`.
fn query_digits<'a>(s: &'a [u8], name: &'a [u8]) -> Option<&'a [u8]> {
    first(s, after_param(s, name), |j| {
        run_at(s, j, |c| c.is_ascii_digit(), b"& ")
    })
}

/// `[?&]name=([^& ]+)[& ]`.
fn query_word<'a>(s: &'a [u8], name: &'a [u8]) -> Option<&'a [u8]> {
    first(s, after_param(s, name), |j| {
        run_at(s, j, |c| c != b'&' && c != b' ', b"& ")
    })
}

/// `[?&]name=([^&]+)[& ]`.
fn query_text<'a>(s: &'a [u8], name: &'a [u8]) -> Option<&'a [u8]> {
    first(s, after_param(s, name), |j| not_amp_at(s, j))
}

/// `[?&]st=(lc|nx|tcts)[& ]`.
fn query_st(s: &[u8]) -> Option<&[u8]> {
    first(s, after_param(s, b"st="), |j| {
        [&b"lc"[..], b"nx", b"tcts"]
            .iter()
            .find_map(|alt| fixed_at(s, j, alt, 0, id_char, b"& "))
    })
}

/// The `/generate_204?` and `/videoplayback?` extraction: identifier and format from the
/// query, `begin=` as the seek offset, `st=` and `redirect_counter=` as the redirection mode
/// and count, and the mobile/device guess from `key=`, `app=`, `client=`, `androidcid=`.
fn video_query(yt: &mut YouTubeRecord, s: &[u8]) {
    let app = query_text(s, b"app=");
    let client = query_text(s, b"client=");
    let key = query_word(s, b"key=");
    let android = query_word(s, b"androidcid=").is_some();
    // Tstat copies each value into an 80-byte buffer before comparing.
    let (app, client, key) = (
        app.map(|v| cut(v, 79)),
        client.map(|v| cut(v, 79)),
        key.map(|v| cut(v, 79)),
    );
    let desktop_key = |k: &[u8]| {
        k.starts_with(b"yt1")
            || k.starts_with(b"dg_yt0")
            || k.starts_with(b"yt5")
            || k.starts_with(b"cms1")
    };
    let (mut mobile, mut decided) = (false, false);
    match key {
        Some(k) if k.starts_with(b"yt1") => {
            if let Some(a) = app {
                decided = true;
                mobile = a.starts_with(b"youtube_mobile");
            }
        }
        Some(k) if !desktop_key(k) => {
            mobile = true;
            decided = true;
        }
        _ => {}
    }
    let device = match client {
        Some(c) if c.starts_with(b"ytapi-apple") || c.starts_with(b"iPhone") => 2,
        Some(c) if c.starts_with(b"mvapp-android") => 3,
        _ if android => 3,
        _ => 1,
    };
    if let Some(t) = query_digits(s, b"itag=") {
        yt.itag = InlineStr::new(cut(t, 4));
    }
    if let Some(id) = query_id16_46(s) {
        yt.id = InlineStr::new(cut(id, 49));
    }
    yt.seek = query_digits(s, b"begin=").map_or(0, |d| number(cut(d, 9)));
    let st = query_st(s).map_or(0, |m| match m {
        b"lc" => 1,
        b"nx" => 2,
        _ => 3,
    });
    let rc = query_digits(s, b"redirect_counter=").map(|d| number(cut(d, 4)));
    (yt.redir_mode, yt.redir_count) = match (rc, st) {
        (None, 0) => (0, 0),
        (Some(x), 0) => (1, x),
        (Some(x), 3) => (2, x.wrapping_add(1)),
        (Some(x), 2) => (3, x.wrapping_add(1)),
        (None, 1) => (4, 1),
        (None, 2) => (5, 1),
        (x, _) => (6, x.unwrap_or(0).wrapping_add(1)),
    };
    yt.mobile = if decided || mobile { device } else { 0 };
    yt.stream = 0;
}

/// The `/videoplayback/` extraction (HLS and advertisement segments): format and identifier
/// from the path, the stream kind from `/source/`, and an Apple or Android device when the
/// key is `dg_yt0`.
fn video_path(yt: &mut YouTubeRecord, s: &[u8]) {
    if let Some(t) = first(s, after(s, b"/itag/"), |j| {
        run_at(s, j, |c| c.is_ascii_digit(), b"/")
    }) {
        yt.itag = InlineStr::new(cut(t, 4));
    }
    let id = first(s, after(s, b"/id/"), |j| {
        fixed_at(s, j, b"", 11, id_char, b".")
    })
    .or_else(|| {
        first(s, after(s, b"/id/"), |j| {
            fixed_at(s, j, b"", 16, hex_char, b"/")
        })
    })
    .or_else(|| {
        first(s, after(s, b"/id/"), |j| {
            fixed_at(s, j, b"o-", 44, id_char, b"/")
        })
    });
    if let Some(id) = id {
        yt.id = InlineStr::new(cut(id, 49));
    }
    let android = query_word(s, b"androidcid=").is_some();
    let source = first(s, after(s, b"/source/"), |j| {
        run_at(s, j, |c| c != b'/', b"/")
    })
    .map_or(&b""[..], |v| cut(v, 79));
    yt.stream = if source.starts_with(b"yt_live_") {
        2
    } else if source.starts_with(b"youtube") {
        1
    } else {
        3
    };
    let key = first(s, after(s, b"/key/"), |j| {
        run_at(s, j, |c| c != b'/' && c != b'?', b"/?")
    })
    .or_else(|| query_word(s, b"key="))
    .map_or(&b""[..], |v| cut(v, 79));
    yt.mobile = 0;
    if key.starts_with(b"dg_yt0") && yt.stream != 2 {
        yt.mobile = if android { 3 } else { 2 };
    }
    yt.seek = 0;
    yt.redir_mode = 0;
    yt.redir_count = 0;
}

/// The `/hls_stream.ts?` (stream kind 4) and `/liveplay?` (5) extraction: format and
/// identifier (11, 16 or 46 characters) from the query; desktop, no seek, no redirection.
fn live(yt: &mut YouTubeRecord, s: &[u8], stream: i32) {
    if let Some(t) = query_digits(s, b"itag=") {
        yt.itag = InlineStr::new(cut(t, 4));
    }
    let id = first(s, after_param(s, b"id="), |j| {
        fixed_at(s, j, b"", 11, id_char, b"& ")
    })
    .or_else(|| {
        first(s, after_param(s, b"id="), |j| {
            fixed_at(s, j, b"", 16, hex_char, b"& ")
        })
    })
    .or_else(|| {
        first(s, after(s, b"/id/"), |j| {
            fixed_at(s, j, b"o-", 44, id_char, b"/")
        })
    });
    if let Some(id) = id {
        yt.id = InlineStr::new(cut(id, 49));
    }
    yt.mobile = 0;
    yt.stream = stream;
    yt.seek = 0;
    yt.redir_mode = 0;
    yt.redir_count = 0;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::l7::tcp::http::classify_get;

    fn get(url: &str) -> (u8, YouTubeRecord) {
        let p = format!("GET {url} HTTP/1.1\r\nHost: x\r\n\r\n");
        let c = classify_get(p.as_bytes());
        (c, details(p.as_bytes(), c))
    }

    #[test]
    fn videoplayback_query() {
        let (c, yt) = get(
            "/videoplayback?id=0123456789abcdef&itag=34&begin=1500&st=nx&redirect_counter=1&key=yta2&client=ytapi-apple",
        );
        assert_eq!(c, class::YOUTUBE_VIDEO);
        assert_eq!(yt.id.as_bytes(), b"0123456789abcdef");
        assert_eq!(yt.itag.as_bytes(), b"34");
        assert_eq!(yt.seek, 1500);
        assert_eq!((yt.redir_mode, yt.redir_count), (3, 2));
        // A non-desktop key: mobile, Apple client.
        assert_eq!((yt.mobile, yt.stream), (2, 0));
    }

    #[test]
    fn generate_204_defaults() {
        let (c, yt) = get("/generate_204?ip=1.2.3.4&key=yt1&app=youtube_mobile&st=lc");
        assert_eq!(c, class::YOUTUBE_204);
        assert_eq!(yt.id.as_bytes(), b"--");
        assert_eq!(yt.itag.as_bytes(), b"--");
        assert_eq!((yt.redir_mode, yt.redir_count), (4, 1));
        assert_eq!(yt.mobile, 1);
        // The 46-character identifier form.
        let id46 = format!("o-{}", "A".repeat(44));
        let (_, yt) = get(&format!("/generate_204?id={id46}&key=yt5"));
        assert_eq!(yt.id.as_bytes(), id46.as_bytes());
        assert_eq!(yt.mobile, 0);
    }

    #[test]
    fn videoplayback_path_and_live() {
        let (c, yt) =
            get("/videoplayback/id/dQw4w9WgXcQ.1/itag/22/source/youtube/key/dg_yt0/file/x");
        assert_eq!(c, class::YOUTUBE_VIDEO);
        assert_eq!(yt.id.as_bytes(), b"dQw4w9WgXcQ");
        assert_eq!(yt.itag.as_bytes(), b"22");
        assert_eq!((yt.stream, yt.mobile), (1, 2));
        let (c, yt) = get("/hls_stream.ts?id=dQw4w9WgXcQ&itag=93&key=yt1");
        assert_eq!(c, class::YOUTUBE_VIDEO);
        assert_eq!(
            (yt.id.as_bytes(), yt.itag.as_bytes(), yt.stream),
            (&b"dQw4w9WgXcQ"[..], &b"93"[..], 4)
        );
        let (_, yt) = get("/liveplay?id=0123456789abcdef&itag=5");
        assert_eq!((yt.id.as_bytes(), yt.stream), (&b"0123456789abcdef"[..], 5));
    }

    #[test]
    fn site_identifiers() {
        let (c, yt) = get("/watch?v=dQw4w9WgXcQ&feature=x");
        assert_eq!(c, class::YOUTUBE_SITE_DIRECT);
        assert_eq!(yt.id.as_bytes(), b"dQw4w9WgXcQ");
        let (c, yt) = get("/embed/dQw4w9WgXcQ?rel=0");
        assert_eq!(c, class::YOUTUBE_SITE_EMBED);
        assert_eq!(yt.id.as_bytes(), b"dQw4w9WgXcQ");
        let (c, yt) = get("/get_video_info?html5=1&video_id=dQw4w9WgXcQ&cpn=abcdefghijklmnop");
        assert_eq!(c, class::YOUTUBE_SITE);
        assert_eq!(yt.id.as_bytes(), b"dQw4w9WgXcQ");
        let (c, yt) = get("/feeds/api/videos/dQw4w9WgXcQ?v=2&alt=json");
        assert_eq!(c, class::YOUTUBE_SITE);
        assert_eq!(yt.id.as_bytes(), b"dQw4w9WgXcQ");
        // A site rule without extraction.
        let (c, yt) = get("/yt/jsbin/www-en_US.js");
        assert_eq!(c, class::YOUTUBE_SITE);
        assert_eq!(yt.id.as_bytes(), b"--");
    }

    #[test]
    fn regex_semantics() {
        // `[^&]+[& ]` takes everything up to the next `&`, spaces included.
        assert_eq!(query_text(b"?app=a b&x", b"app="), Some(&b"a b"[..]));
        // Without a following `&`, up to the last space.
        assert_eq!(query_text(b"?app=a b c", b"app="), Some(&b"a b"[..]));
        assert_eq!(query_text(b"?app=abc", b"app="), None);
        // A digit run must end at `&` or space; a later occurrence may match.
        assert_eq!(
            query_digits(b"?itag=12x&itag=7 ", b"itag="),
            Some(&b"7"[..])
        );
        assert_eq!(query_digits(b"xitag=12&", b"itag="), None);
        assert_eq!(
            video_id(b"video_id=dQw4w9WgXcQ "),
            Some(&b"dQw4w9WgXcQ"[..])
        );
        assert_eq!(query_st(b"&st=tcts&"), Some(&b"tcts"[..]));
        assert_eq!(query_st(b"&st=tc&"), None);
        assert_eq!(number(b"0042"), 42);
    }

    #[test]
    fn never_panics_on_garbage() {
        let mut x: u32 = 99;
        for i in 0..2000 {
            let n = (x % 200) as usize;
            let mut p = b"GET /".to_vec();
            for _ in 0..n {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let alphabet = b"?&=/ .-_abcdefo0123456789idkeyst";
                p.push(alphabet[(x >> 16) as usize % alphabet.len()]);
            }
            let prefixes: [&[u8]; 6] = [
                b"GET /videoplayback?",
                b"GET /videoplayback/",
                b"GET /generate_204?",
                b"GET /hls_stream.ts?",
                b"GET /get_video?",
                b"GET /watch?v=",
            ];
            let mut q = prefixes[i % prefixes.len()].to_vec();
            q.extend_from_slice(&p[5..]);
            let c = classify_get(&q);
            let _ = details(&q, c);
            for cls in [4u8, 15, 21, 23, 24] {
                let _ = details(&q, cls);
                let _ = details(&q[..q.len().min(7)], cls);
            }
        }
    }
}
