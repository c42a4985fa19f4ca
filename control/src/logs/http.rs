//! `log_http_complete` rows (TAB-separated, `#C#`/`#S#` layouts) from HTTP request and response
//! segments, as Tstat's `http_flow_stat` writes them: each field is the first
//! `Name: value` match in the segment read as a C string (values stop at a control character,
//! and for the host, path, referer and location also at a space), cut at Tstat's buffer sizes;
//! a value that runs to the segment's end gets a `[*]` suffix, and the continuation row of such
//! a message (`REQ2`/`RES2`) takes the next segment's first line as that field, with a `[*]`
//! prefix. `httplog_full_url` applies Tstat's privacy rules. A row whose fields are all missing
//! is not written.

use super::num::F6;
use crate::cryptopan::Anonymizer;
use engine::record::MessageRecord;
use std::cell::RefCell;
use std::io::Write;
use std::net::IpAddr;

/// `HTTP_SMALL_BUFFER_SIZE - 1`.
const SMALL: usize = 199;
/// `HTTP_LARGE_BUFFER_SIZE - 1`.
const LARGE: usize = 1599;
/// The suffix or prefix of a field cut at a segment boundary.
const CUT: &[u8] = b"[*]";

/// Cut bits of a request (the engine's `cut` constants).
const CUT_PATH: u8 = 1;
const CUT_REFERER: u8 = 2;
const CUT_USER_AGENT: u8 = 4;
const CUT_COOKIE: u8 = 8;
/// Cut bits of a response.
const CUT_SET_COOKIE: u8 = 1;
const CUT_LOCATION: u8 = 2;

/// Tstat's `FRAGMENT_*`: the field a continuation segment completes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fragment {
    None,
    Path,
    Referer,
    UserAgent,
    Cookie,
    SetCookie,
    Location,
}

/// Tstat's global field buffers that a continuation row may print unchanged (when the field
/// it completes is not found in the segment): the last value written to each.
#[derive(Default)]
struct Last {
    url: Vec<u8>,
    referer: Vec<u8>,
    ua: Vec<u8>,
    cookie: Vec<u8>,
}

thread_local! {
    static LAST: RefCell<Last> = RefCell::new(Last::default());
}

/// Appends the row of one HTTP segment (`m.kind` 0: request or response, odd: continuation
/// with the first segment's cut bits above bit 0), if Tstat writes one.
pub fn rows(out: &mut Vec<u8>, m: &MessageRecord, full_url: u8, anon: Option<&mut Anonymizer>) {
    let p = m.bytes.as_bytes();
    // DN-Hunter's name of the server, printed in clear (Tstat does not encrypt it here).
    let fqdn: &[u8] = if m.fqdn.is_empty() {
        b"-"
    } else {
        m.fqdn.as_bytes()
    };
    if p.len() < 5 {
        return;
    }
    let body = LAST.with(|last| {
        let mut last = last.borrow_mut();
        let mut body = Vec::with_capacity(256);
        let written = match (m.dir, m.kind & 1) {
            (0, 0) => request(&mut body, p, full_url, fqdn, &mut last),
            (0, _) => request_more(&mut body, p, m.kind >> 1, full_url, fqdn, &mut last),
            (_, 0) => response(&mut body, p, full_url, &mut last),
            _ => response_more(&mut body, p, m.kind >> 1, full_url, &mut last),
        };
        written.then_some(body)
    });
    let Some(body) = body else {
        return;
    };
    let mut anon = anon;
    let c_ip = printed(&mut anon, m.c_ip);
    let s_ip = printed(&mut anon, m.s_ip);
    let secs = (m.time.secs() as f64 * 1e6 + m.time.subsec_us() as f64) / 1e6;
    let _ = write!(
        out,
        "{}\t{}\t{}\t{}\t{}",
        c_ip,
        m.c_port,
        s_ip,
        m.s_port,
        F6(secs)
    );
    out.extend_from_slice(&body);
    out.push(b'\n');
}

/// The address as printed (Crypto-PAn when anonymised).
fn printed(anon: &mut Option<&mut Anonymizer>, ip: IpAddr) -> IpAddr {
    match anon {
        Some(a) => a.printed(ip).0,
        None => ip,
    }
}

/// `[^[:cntrl:]]` in the C locale.
#[inline]
fn text_char(c: u8) -> bool {
    !(c < 0x20 || c == 0x7f)
}

/// `[^[:cntrl:][:space:]]` in the C locale.
#[inline]
fn word_char(c: u8) -> bool {
    text_char(c) && c != b' '
}

/// The bytes up to the first NUL.
fn c_str(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == 0) {
        Some(n) => &b[..n],
        None => b,
    }
}

/// A segment read as Tstat reads it.
struct Seg<'a> {
    /// The payload as a C string.
    s: &'a [u8],
    /// Captured length (`data_length`).
    len: usize,
}

impl<'a> Seg<'a> {
    fn new(p: &'a [u8]) -> Self {
        Seg {
            s: c_str(p),
            len: p.len(),
        }
    }

    /// The first `name` value at or after `from` (`name([^[:cntrl:]]+)`, or with
    /// `[:space:]` excluded too when `word`): the value, cut at `cap` bytes, and whether the
    /// match reaches the segment's last byte.
    fn field(&self, from: usize, name: &[u8], word: bool, cap: usize) -> Option<(Vec<u8>, bool)> {
        let ok = |c: u8| if word { word_char(c) } else { text_char(c) };
        let s = self.s;
        let mut at = from;
        while at + name.len() < s.len() {
            let hit = s[at..].windows(name.len()).position(|w| w == name)?;
            let start = at + hit + name.len();
            let n = s[start..].iter().take_while(|&&c| ok(c)).count();
            if n > 0 {
                let end = start + n;
                return Some((s[start..start + n.min(cap)].to_vec(), self.reaches_end(end)));
            }
            at += hit + 1;
        }
        None
    }

    /// Tstat's `base + rm_eo >= plast`.
    fn reaches_end(&self, end: usize) -> bool {
        end + 1 >= self.len
    }

    /// The first line (`^([^[:cntrl:]]+)`), cut at [`LARGE`] bytes.
    fn first_line(&self) -> Option<Vec<u8>> {
        let n = self.s.iter().take_while(|&&c| text_char(c)).count();
        (n > 0).then(|| self.s[..n.min(LARGE)].to_vec())
    }
}

/// `^(https?://[^/]+/?)`: scheme and authority of an absolute http(s) URL.
fn url_clean(u: &[u8]) -> Option<&[u8]> {
    let rest = u
        .strip_prefix(b"http://")
        .or_else(|| u.strip_prefix(b"https://"))?;
    let n = rest.iter().take_while(|&&c| c != b'/').count();
    if n == 0 {
        return None;
    }
    let end = u.len() - rest.len() + n;
    let end = if u.get(end) == Some(&b'/') {
        end + 1
    } else {
        end
    };
    Some(&u[..end])
}

/// `^([^?]+)`: the URL up to its query.
fn url_partial(u: &[u8]) -> Option<&[u8]> {
    let n = u.iter().take_while(|&&c| c != b'?').count();
    (n > 0).then(|| &u[..n])
}

fn dash() -> Vec<u8> {
    b"-".to_vec()
}

/// Appends `\t` and the parts of one field.
fn put(out: &mut Vec<u8>, parts: &[&[u8]]) {
    out.push(b'\t');
    for p in parts {
        out.extend_from_slice(p);
    }
}

fn tail(cut: bool) -> &'static [u8] {
    if cut {
        CUT
    } else {
        b""
    }
}

/// A request row's fields after the method.
struct Req {
    host: Vec<u8>,
    url: Vec<u8>,
    url_cut: bool,
    referer: Vec<u8>,
    referer_cut: bool,
    ua: Vec<u8>,
    ua_cut: bool,
    cookie: Vec<u8>,
    cookie_cut: bool,
    dnt: Vec<u8>,
    /// Whether any field was found.
    found: bool,
}

impl Req {
    /// Host, referer, user agent, cookie (level 2 only) and DNT, searched from `base`; a field
    /// not found keeps `keep`'s value when it is the fragment's field, else is `-`.
    fn headers(seg: &Seg<'_>, base: usize, full_url: u8, keep: Fragment, last: &Last) -> Req {
        let mut found = false;
        let mut get = |name: &[u8], word: bool, cap: usize, on: bool| {
            let r = if on {
                seg.field(base, name, word, cap)
            } else {
                None
            };
            found |= r.is_some();
            r
        };
        let host = get(b"Host: ", true, SMALL, true);
        let referer = get(b"Referer: ", true, LARGE, true);
        let ua = get(b"User-Agent: ", false, LARGE, true);
        let cookie = get(b"Cookie: ", false, LARGE, full_url == 2);
        let dnt = get(b"DNT: ", false, SMALL, true);
        let or = |v: Option<(Vec<u8>, bool)>, f: Fragment, prev: &Vec<u8>| match v {
            Some((v, cut)) => (v, cut),
            None if keep == f => (prev.clone(), false),
            None => (dash(), false),
        };
        let (referer, referer_cut) = or(referer, Fragment::Referer, &last.referer);
        let (ua, ua_cut) = or(ua, Fragment::UserAgent, &last.ua);
        let (cookie, cookie_cut) = or(cookie, Fragment::Cookie, &last.cookie);
        Req {
            host: host.map_or_else(dash, |v| v.0),
            url: dash(),
            url_cut: false,
            referer,
            referer_cut,
            ua,
            ua_cut,
            cookie,
            cookie_cut,
            dnt: dnt.map_or_else(dash, |v| v.0),
            found,
        }
    }
}

/// A `GET`/`POST`/... row.
fn request(out: &mut Vec<u8>, p: &[u8], full_url: u8, fqdn: &[u8], last: &mut Last) -> bool {
    let seg = Seg::new(p);
    let s = seg.s;
    let (method, url, url_cut, base, line) = match request_line(s) {
        Some((m, start, end, space)) => {
            let url = s[start..end.min(start + LARGE)].to_vec();
            let method = s[..m.min(9)].to_vec();
            if space {
                (method, url, false, end, true)
            } else {
                (method, url, seg.reaches_end(end), 0, true)
            }
        }
        None => (dash(), dash(), false, 0, false),
    };
    let mut r = Req::headers(&seg, base, full_url, Fragment::None, last);
    r.url = url;
    r.url_cut = url_cut;
    r.found |= line;
    last.url.clone_from(&r.url);
    last.referer.clone_from(&r.referer);
    last.ua.clone_from(&r.ua);
    last.cookie.clone_from(&r.cookie);
    let (url, referer) = match full_url {
        0 => {
            let referer = url_clean(&r.referer).map(<[u8]>::to_vec);
            r.found |= referer.is_some();
            (dash(), referer.unwrap_or_else(dash))
        }
        1 => (
            url_partial(&r.url).unwrap_or(&r.url).to_vec(),
            url_partial(&r.referer).unwrap_or(&r.referer).to_vec(),
        ),
        2 => (r.url.clone(), r.referer.clone()),
        _ => (dash(), dash()),
    };
    let verbatim = full_url == 2;
    if !r.found {
        return false;
    }
    put(out, &[&method]);
    put(out, &[&r.host]);
    put(out, &[fqdn]);
    put(out, &[&url, tail(verbatim && r.url_cut)]);
    put(out, &[&referer, tail(verbatim && r.referer_cut)]);
    put(out, &[&r.ua, tail(r.ua_cut)]);
    put(out, &[&r.cookie, tail(r.cookie_cut)]);
    put(out, &[&r.dnt]);
    true
}

/// Tstat's request patterns `^([A-Z]+) ([^[:cntrl:][:space:]]+)( )?`: method end, path start
/// and end, and whether the space follows.
fn request_line(s: &[u8]) -> Option<(usize, usize, usize, bool)> {
    let m = s.iter().take_while(|c| c.is_ascii_uppercase()).count();
    if m == 0 || s.get(m) != Some(&b' ') {
        return None;
    }
    let start = m + 1;
    let n = s[start..].iter().take_while(|&&c| word_char(c)).count();
    if n == 0 {
        return None;
    }
    let end = start + n;
    Some((m, start, end, s.get(end) == Some(&b' ')))
}

/// The fragment a request continuation completes, from the first segment's cut bits.
fn request_fragment(bits: u8, full_url: u8) -> Fragment {
    let f = if full_url == 2 && bits & CUT_COOKIE != 0 {
        Fragment::Cookie
    } else if bits & CUT_USER_AGENT != 0 {
        Fragment::UserAgent
    } else if bits & CUT_REFERER != 0 {
        Fragment::Referer
    } else if bits & CUT_PATH != 0 {
        Fragment::Path
    } else {
        Fragment::None
    };
    match f {
        Fragment::Path | Fragment::Referer if full_url != 2 => Fragment::None,
        f => f,
    }
}

/// Removes a trailing `[[:space:]]+HTTP/1\.[01]`.
fn strip_protocol(v: &mut Vec<u8>) {
    if v.ends_with(b"HTTP/1.0") || v.ends_with(b"HTTP/1.1") {
        let head = v.len() - 8;
        let n = v[..head]
            .iter()
            .rev()
            .take_while(|&&c| matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
            .count();
        if n > 0 {
            v.truncate(head - n);
        }
    }
}

/// A `REQ2` row.
fn request_more(
    out: &mut Vec<u8>,
    p: &[u8],
    bits: u8,
    full_url: u8,
    fqdn: &[u8],
    last: &mut Last,
) -> bool {
    let seg = Seg::new(p);
    let frag = request_fragment(bits, full_url);
    let mut found = false;
    // Prefix and suffix flags of path, referer, user agent, cookie.
    let mut head = [false; 4];
    let mut cut = [false; 4];
    if frag != Fragment::None {
        if let Some(mut v) = seg.first_line() {
            if frag == Fragment::Path {
                strip_protocol(&mut v);
            }
            let i = match frag {
                Fragment::Path => 0,
                Fragment::Referer => 1,
                Fragment::UserAgent => 2,
                _ => 3,
            };
            head[i] = true;
            cut[i] = seg.len == v.len();
            found = true;
            *[
                &mut last.url,
                &mut last.referer,
                &mut last.ua,
                &mut last.cookie,
            ][i] = v;
        }
    }
    if frag != Fragment::Path {
        last.url = dash();
    }
    let mut get = |name: &[u8], word: bool, cap: usize, on: bool| {
        let r = if on {
            seg.field(0, name, word, cap)
        } else {
            None
        };
        found |= r.is_some();
        r
    };
    let host = get(b"Host: ", true, SMALL, true).map_or_else(dash, |v| v.0);
    let referer = get(b"Referer: ", true, LARGE, true);
    let ua = get(b"User-Agent: ", false, LARGE, true);
    let cookie = get(b"Cookie: ", false, LARGE, full_url == 2);
    let dnt = get(b"DNT: ", false, SMALL, true).map_or_else(dash, |v| v.0);
    let fields = [
        (referer, Fragment::Referer, 1),
        (ua, Fragment::UserAgent, 2),
        (cookie, Fragment::Cookie, 3),
    ];
    for (v, f, i) in fields {
        let slot = match i {
            1 => &mut last.referer,
            2 => &mut last.ua,
            _ => &mut last.cookie,
        };
        match v {
            Some((v, c)) => {
                *slot = v;
                head[i] = false;
                cut[i] = c;
            }
            None if frag == f => {}
            None => *slot = dash(),
        }
    }
    let (url, referer) = match full_url {
        0 => {
            let referer = url_clean(&last.referer).map(<[u8]>::to_vec);
            found |= referer.is_some();
            (head[0], head[1], cut[0], cut[1]) = (false, false, false, false);
            (dash(), referer.unwrap_or_else(dash))
        }
        1 => {
            let url = match url_partial(&last.url) {
                Some(u) => {
                    head[0] = false;
                    u.to_vec()
                }
                None => last.url.clone(),
            };
            let referer = match url_partial(&last.referer) {
                Some(u) => {
                    head[1] = false;
                    u.to_vec()
                }
                None => last.referer.clone(),
            };
            (cut[0], cut[1]) = (false, false);
            (url, referer)
        }
        2 => (last.url.clone(), last.referer.clone()),
        _ => {
            (head[0], head[1], cut[0], cut[1]) = (false, false, false, false);
            (dash(), dash())
        }
    };
    if !found {
        return false;
    }
    put(out, &[b"REQ2"]);
    put(out, &[&host]);
    put(out, &[fqdn]);
    put(out, &[tail(head[0]), &url, tail(cut[0])]);
    put(out, &[tail(head[1]), &referer, tail(cut[1])]);
    put(out, &[tail(head[2]), &last.ua, tail(cut[2])]);
    put(out, &[tail(head[3]), &last.cookie, tail(cut[3])]);
    put(out, &[&dnt]);
    true
}

/// A response row's fields after the status code.
struct Res {
    clen: Vec<u8>,
    ctype: Vec<u8>,
    server: Vec<u8>,
    range: Vec<u8>,
    /// Found in the segment, with its cut.
    cookie: Option<(Vec<u8>, bool)>,
    location: Option<(Vec<u8>, bool)>,
    found: bool,
}

impl Res {
    fn headers(seg: &Seg<'_>, full_url: u8) -> Res {
        let mut found = false;
        let mut get = |name: &[u8], word: bool, cap: usize, on: bool| {
            let r = if on {
                seg.field(0, name, word, cap)
            } else {
                None
            };
            found |= r.is_some();
            r
        };
        let small = |v: Option<(Vec<u8>, bool)>| v.map_or_else(dash, |v| v.0);
        let ctype = small(get(b"Content-Type: ", false, SMALL, true));
        let clen = small(get(b"Content-Length: ", false, SMALL, true));
        let range = small(get(b"Content-Range: ", false, SMALL, true));
        let server = small(get(b"Server: ", false, SMALL, true));
        let cookie = get(b"Set-Cookie: ", false, LARGE, full_url == 2);
        let location = get(b"Location: ", true, LARGE, true);
        Res {
            clen,
            ctype,
            server,
            range,
            cookie,
            location,
            found,
        }
    }
}

/// The location column under the privacy level: value, prefix and suffix flags, and whether
/// the clean form was found.
fn location_private(
    url: &[u8],
    head: bool,
    cut: bool,
    full_url: u8,
) -> (Vec<u8>, bool, bool, bool) {
    match full_url {
        0 => match url_clean(url) {
            Some(u) => (u.to_vec(), false, false, true),
            None => (dash(), false, false, false),
        },
        1 => match url_partial(url) {
            Some(u) => (u.to_vec(), false, false, false),
            None => (url.to_vec(), head, false, false),
        },
        2 => (url.to_vec(), head, cut, false),
        _ => (dash(), false, false, false),
    }
}

/// An `HTTP/` row.
fn response(out: &mut Vec<u8>, p: &[u8], full_url: u8, last: &mut Last) -> bool {
    let seg = Seg::new(p);
    let mut found = false;
    let code: Vec<u8> = if p.len() >= 14 {
        let c: Vec<u8> = p[9..12]
            .iter()
            .copied()
            .take_while(u8::is_ascii_digit)
            .collect();
        if c.is_empty() {
            dash()
        } else {
            found = true;
            c
        }
    } else {
        dash()
    };
    let r = Res::headers(&seg, full_url);
    found |= r.found;
    let (cookie, cookie_cut) = r.cookie.clone().unwrap_or_else(|| (dash(), false));
    let (url, url_cut) = r.location.clone().unwrap_or_else(|| (dash(), false));
    last.url.clone_from(&url);
    last.cookie.clone_from(&cookie);
    let (loc, _, loc_cut, clean) = location_private(&url, false, url_cut, full_url);
    found |= clean;
    if !found {
        return false;
    }
    put(out, &[b"HTTP"]);
    put(out, &[&code]);
    put(out, &[&r.clen]);
    put(out, &[&r.ctype]);
    put(out, &[&r.server]);
    put(out, &[&r.range]);
    put(out, &[&loc, tail(loc_cut)]);
    put(out, &[&cookie, tail(cookie_cut)]);
    true
}

/// A `RES2` row.
fn response_more(out: &mut Vec<u8>, p: &[u8], bits: u8, full_url: u8, last: &mut Last) -> bool {
    let seg = Seg::new(p);
    let frag = if full_url != 2 {
        Fragment::None
    } else if bits & CUT_LOCATION != 0 {
        Fragment::Location
    } else if bits & CUT_SET_COOKIE != 0 {
        Fragment::SetCookie
    } else {
        Fragment::None
    };
    let (mut url_head, mut url_tail) = (false, false);
    let (mut cookie_head, mut cookie_tail) = (false, false);
    let mut found = false;
    if frag != Fragment::None {
        if let Some(v) = seg.first_line() {
            let cut = seg.len == v.len();
            found = true;
            if frag == Fragment::Location {
                last.url = v;
                url_head = true;
                url_tail = cut;
            } else {
                last.cookie = v;
                cookie_head = true;
                cookie_tail = cut;
            }
        }
    }
    let r = Res::headers(&seg, full_url);
    found |= r.found;
    match r.cookie {
        Some((v, cut)) => {
            last.cookie = v;
            cookie_head = false;
            cookie_tail = cut;
        }
        None if frag == Fragment::SetCookie => {}
        None => last.cookie = dash(),
    }
    match r.location {
        // Tstat keeps the fragment's prefix here.
        Some((v, cut)) => {
            last.url = v;
            url_tail = cut;
        }
        None if frag == Fragment::Location => {}
        None => last.url = dash(),
    }
    let (loc, head, loc_cut, clean) = location_private(&last.url, url_head, url_tail, full_url);
    found |= clean;
    if !found {
        return false;
    }
    put(out, &[b"RES2"]);
    put(out, &[b"-"]);
    put(out, &[&r.clen]);
    put(out, &[&r.ctype]);
    put(out, &[&r.server]);
    put(out, &[&r.range]);
    put(out, &[tail(head), &loc, tail(loc_cut)]);
    put(out, &[tail(cookie_head), &last.cookie, tail(cookie_tail)]);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::record::InlineStr;
    use engine::time::Timestamp;

    fn msg(dir: u8, kind: u8, p: &[u8]) -> MessageRecord {
        MessageRecord {
            c_ip: "10.0.0.1".parse().unwrap(),
            c_port: 5000,
            s_ip: "192.0.2.80".parse().unwrap(),
            s_port: 80,
            c_isint: true,
            s_isint: false,
            time: Timestamp::from_sec_usec(1389719041, 897975),
            dir,
            kind,
            len: p.len() as u32,
            bytes: InlineStr::new(p),
            fqdn: Default::default(),
        }
    }

    fn row(dir: u8, kind: u8, p: &[u8], full_url: u8) -> String {
        let mut out = Vec::new();
        rows(&mut out, &msg(dir, kind, p), full_url, None);
        String::from_utf8(out).unwrap()
    }

    const ADDR: &str = "10.0.0.1\t5000\t192.0.2.80\t80\t1389719041.897975\t";
    const REQ: &[u8] = b"GET /a/b.html?x=1 HTTP/1.1\r\nHost: bro.org\r\n\
        Referer: http://bro.org/c/d?q\r\nUser-Agent: Moz (X11)\r\nCookie: k=v\r\nDNT: 1\r\n\r\n";

    #[test]
    fn request_privacy_levels() {
        assert_eq!(
            row(0, 0, REQ, 0),
            format!("{ADDR}GET\tbro.org\t-\t-\thttp://bro.org/\tMoz (X11)\t-\t1\n")
        );
        assert_eq!(
            row(0, 0, REQ, 1),
            format!("{ADDR}GET\tbro.org\t-\t/a/b.html\thttp://bro.org/c/d\tMoz (X11)\t-\t1\n")
        );
        assert_eq!(
            row(0, 0, REQ, 2),
            format!(
                "{ADDR}GET\tbro.org\t-\t/a/b.html?x=1\thttp://bro.org/c/d?q\tMoz (X11)\tk=v\t1\n"
            )
        );
    }

    #[test]
    fn response_row() {
        let p = b"HTTP/1.1 302 Found\r\nServer: Apache/2.4.6 (Fedora)\r\n\
            Location: https://bro.org/x?y\r\nContent-Length: 12\r\n\
            Content-Type: text/html; charset=UTF-8\r\nSet-Cookie: s=1\r\n\r\n";
        assert_eq!(
            row(1, 0, p, 0),
            format!(
                "{ADDR}HTTP\t302\t12\ttext/html; charset=UTF-8\tApache/2.4.6 (Fedora)\t-\t\
                 https://bro.org/\t-\n"
            )
        );
        assert_eq!(
            row(1, 0, p, 2),
            format!(
                "{ADDR}HTTP\t302\t12\ttext/html; charset=UTF-8\tApache/2.4.6 (Fedora)\t-\t\
                 https://bro.org/x?y\ts=1\n"
            )
        );
        assert_eq!(row(1, 0, b"HTTP/1.1 20", 0), "");
    }

    #[test]
    fn cut_fields_and_continuations() {
        let first = b"GET /p HTTP/1.1\r\nHost: h\r\nUser-Agent: Mozilla/5.0 (X1";
        assert_eq!(
            row(0, 0, first, 0),
            format!("{ADDR}GET\th\t-\t-\t-\tMozilla/5.0 (X1[*]\t-\t-\n")
        );
        // Cut bits 4: the user agent continues.
        let next = b"1; Linux)\r\nAccept: */*\r\n\r\n";
        assert_eq!(
            row(0, 1 | (4 << 1), next, 0),
            format!("{ADDR}REQ2\t-\t-\t-\t-\t[*]1; Linux)\t-\t-\n")
        );
        // A body segment after a complete request writes nothing.
        assert_eq!(row(0, 1, b"a=1&b=2", 0), "");
        // Path cut at level 2, continued without the protocol.
        assert_eq!(
            row(0, 0, b"GET /very/long/pa", 2),
            format!("{ADDR}GET\t-\t-\t/very/long/pa[*]\t-\t-\t-\t-\n")
        );
        assert_eq!(
            row(0, 1 | (1 << 1), b"th HTTP/1.1\r\nHost: h\r\n\r\n", 2),
            format!("{ADDR}REQ2\th\t-\t[*]th\t-\t-\t-\t-\n")
        );
        // Location cut in a response, level 2.
        let res = b"HTTP/1.1 301 Moved\r\nLocation: http://a.b/cd";
        assert_eq!(
            row(1, 0, res, 2),
            format!("{ADDR}HTTP\t301\t-\t-\t-\t-\thttp://a.b/cd[*]\t-\n")
        );
        assert_eq!(
            row(1, 1 | (2 << 1), b"ef\r\nServer: x\r\n\r\n", 2),
            format!("{ADDR}RES2\t-\t-\t-\tx\t-\t[*]ef\t-\n")
        );
    }

    #[test]
    fn url_rules() {
        assert_eq!(url_clean(b"http://a.b/c"), Some(&b"http://a.b/"[..]));
        assert_eq!(url_clean(b"https://a.b"), Some(&b"https://a.b"[..]));
        assert_eq!(url_clean(b"ftp://a.b/"), None);
        assert_eq!(url_partial(b"/x?y"), Some(&b"/x"[..]));
        assert_eq!(url_partial(b"?y"), None);
        let mut v = b"/a  HTTP/1.1".to_vec();
        strip_protocol(&mut v);
        assert_eq!(v, b"/a");
    }
}
