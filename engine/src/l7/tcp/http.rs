//! HTTP as Tstat sees it (`http.c`, `web.c`, the HTTP states of `tcpL7.c`): request-method and
//! response detection on the first payload bytes, the `Host:` value, the status code of the
//! first response, and the content class (`http_data`) derived from the request URL.
//!
//! The URL rules are a transcription of Tstat's `classify_http_get`/`classify_http_post`: the
//! same prefixes, the same `memcmp` lengths (a prefix shorter than the pattern matches when the
//! captured payload ends first), and the same fall-through order. The YouTube details Tstat
//! extracts with `VIDEO_DETAILS` do not change the class; `youtube` extracts them for the
//! rule that gave it (the Dropbox one, under `SNOOP_DROPBOX`, is not in the default build).
//! Owns no state.

use super::peek::{c_str, Peek};

/// Tstat's `enum http_content`; `http_t` prints the value + 1.
#[allow(missing_docs)]
pub(crate) mod class {
    pub const GET: u8 = 0;
    pub const POST: u8 = 1;
    pub const MSN: u8 = 2;
    pub const RTMPT: u8 = 3;
    pub const YOUTUBE_VIDEO: u8 = 4;
    pub const VIDEO_CONTENT: u8 = 5;
    pub const VIMEO: u8 = 6;
    pub const WIKI: u8 = 7;
    pub const RAPIDSHARE: u8 = 8;
    pub const MEGAUPLOAD: u8 = 9;
    pub const FACEBOOK: u8 = 10;
    pub const ADV: u8 = 11;
    pub const FLICKR: u8 = 12;
    pub const GMAPS: u8 = 13;
    pub const NETFLIX: u8 = 14;
    pub const YOUTUBE_SITE: u8 = 15;
    pub const SOCIAL: u8 = 16;
    pub const FLASHVIDEO: u8 = 17;
    pub const MEDIAFIRE: u8 = 18;
    pub const HOTFILE: u8 = 19;
    pub const STORAGE: u8 = 20;
    pub const YOUTUBE_204: u8 = 21;
    pub const YOUTUBE_VIDEO204: u8 = 22;
    pub const YOUTUBE_SITE_DIRECT: u8 = 23;
    pub const YOUTUBE_SITE_EMBED: u8 = 24;
    pub const TWITTER: u8 = 25;
    pub const DROPBOX: u8 = 26;
}

/// Longest `Host:` value Tstat keeps (`HTTP_SMALL_BUFFER_SIZE - 1`).
pub(crate) const HOST_MAX: usize = 199;

/// Whether the payload starts with a request method Tstat counts: `GET `, `POST`, `HEAD`,
/// `PUT `, or exactly `PATCH `, `DELETE `, `OPTIONS ` (the short prefixes are also FTP/POP3
/// commands, hence the full check).
#[inline]
pub(crate) fn is_request(p: &[u8]) -> bool {
    match &super::peek::key(p) {
        b"GET " | b"POST" | b"HEAD" | b"PUT " => true,
        b"PATC" | b"DELE" | b"OPTI" => long_method(p),
        _ => false,
    }
}

/// Whether a payload starting with `first` can be a request [`is_request`] counts or a
/// response (`HTTP`): a cheap test that rules out most segments before either check.
#[inline]
pub(crate) fn may_count(first: u8) -> bool {
    matches!(first, b'G' | b'P' | b'H' | b'D' | b'O')
}

/// Tstat's `verify_long_method`.
#[inline]
pub(crate) fn long_method(p: &[u8]) -> bool {
    p.starts_with(b"DELETE ") || p.starts_with(b"PATCH ") || p.starts_with(b"OPTIONS ")
}

/// The value of the first `Host: ` header (regex `Host: ([^[:cntrl:][:space:]]+)` on the
/// payload read as a C string), cut at [`HOST_MAX`] bytes.
pub(crate) fn host(p: &[u8]) -> Option<&[u8]> {
    // One pass over the payload instead of cutting it at its first NUL and then searching: a
    // `Host: ` before the first NUL lies wholly before it, and a value never runs past a NUL
    // (a control character).
    let mut from = 0;
    loop {
        let at = find_h_or_nul(p, from)?;
        if p[at] == 0 {
            return None;
        }
        if !p[at..].starts_with(b"Host: ") {
            from = at + 1;
            continue;
        }
        let start = at + 6;
        let value = &p[start..];
        let n = value.iter().take_while(|&&c| host_char(c)).count();
        if n > 0 {
            return value.get(..n.min(HOST_MAX));
        }
        from = start;
    }
}

/// The first position at or after `from` holding `H` or NUL, eight bytes at a time.
fn find_h_or_nul(p: &[u8], from: usize) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut i = from;
    while let Some(w) = p.get(i..i + 8) {
        let w = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        let h = w ^ (LO * u64::from(b'H'));
        // The lowest flagged byte of each term is its first zero byte (borrows only run up).
        let hit = ((w.wrapping_sub(LO) & !w) | (h.wrapping_sub(LO) & !h)) & HI;
        if hit != 0 {
            return Some(i + (hit.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    p.get(i..)?
        .iter()
        .position(|&c| c == 0 || c == b'H')
        .map(|k| i + k)
}

/// `[^[:cntrl:][:space:]]` in the C locale.
#[inline]
fn host_char(c: u8) -> bool {
    !(c < 0x20 || c == 0x7f || c == b' ')
}

/// The status code of a response (`HTTP/1.1 200 ...`): the digits among bytes 9–11, cut at the
/// first non-digit; `000` when none, or when fewer than 14 bytes were captured. Unused bytes
/// are 0.
pub(crate) fn status(p: &[u8]) -> [u8; 3] {
    let mut code = [0u8; 3];
    if p.len() >= 14 {
        for (i, c) in p.iter().skip(9).take(3).enumerate() {
            if !c.is_ascii_digit() {
                break;
            }
            code[i] = *c;
        }
    }
    if code[0] == 0 {
        code = *b"000";
    }
    code
}

/// `isdigit` on a C `char` (bytes 0x80 and above are negative and never digits).
#[inline]
fn digit(c: u8) -> bool {
    c.is_ascii_digit()
}

/// `[A-Za-z0-9_-]`, the YouTube video-id alphabet.
#[inline]
fn yt(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
}

/// A URL view: the bytes after the method and its space, with Tstat's `available_data`.
#[derive(Clone, Copy)]
struct Url<'a> {
    b: Peek<'a>,
    avail: i64,
}

impl<'a> Url<'a> {
    #[inline]
    fn at(self, i: i64) -> u8 {
        self.b.u8(i)
    }

    /// `memcmp(base, pat, avail < len ? avail : len) == 0`.
    #[inline]
    fn pre(self, pat: &[u8]) -> bool {
        self.b.cmp_n(0, pat, self.avail.min(pat.len() as i64))
    }

    /// `memcmp(base + off, pat, (avail - off) < n ? avail - off : n) == 0`.
    #[inline]
    fn pre_at(self, off: i64, pat: &[u8], n: i64) -> bool {
        self.b.cmp_n(off, pat, (self.avail - off).min(n))
    }

    /// `memcmp(base + off, pat, n) == 0`.
    #[inline]
    fn eq(self, off: i64, pat: &[u8], n: i64) -> bool {
        self.b.cmp_n(off, pat, n)
    }

    /// `memcmp(base + off, pat, strlen(pat)) == 0` for any of `pats`.
    #[inline]
    fn any(self, off: i64, pats: &[&[u8]]) -> bool {
        pats.iter().any(|p| self.eq(off, p, p.len() as i64))
    }

    /// All bytes in `[from, to)` satisfy `f`.
    #[inline]
    fn all(self, from: i64, to: i64, f: impl Fn(u8) -> bool) -> bool {
        (from..to).all(|i| f(self.at(i)))
    }
}

/// Tstat's `classify_http_get` over a payload starting with `GET `.
pub(crate) fn classify_get(p: &[u8]) -> u8 {
    use class::*;
    let u = Url {
        b: Peek(p.get(4..).unwrap_or(&[])),
        avail: p.len() as i64 - 4,
    };
    if u.avail < 1 || u.at(0) != b'/' {
        return GET;
    }
    if let Some(c) = get_by_first(u) {
        return c;
    }
    get_tail(u)
}

/// The `switch (*(base+1))` part of `classify_http_get`; `None` falls to the generic rules.
fn get_by_first(u: Url<'_>) -> Option<u8> {
    use class::*;
    let avail = u.avail;
    let r = |ok: bool, c: u8| ok.then_some(c);
    match u.at(1) {
        b'A' => r(u.pre(b"/ADSAdClient"), ADV),
        b'a' => {
            // Tstat compares 21 bytes against the 11-character literal once 11 bytes are
            // available, which never matches a real request.
            if avail < 11 && u.pre(b"/api/stats/") {
                Some(YOUTUBE_SITE)
            } else if u.pre(b"/ads3/flyers/")
                || u.pre(b"/ads2/flyers/")
                || u.pre(b"/ads-ak-snc")
                || u.pre(b"/album.php?")
                || u.pre(b"/apps/application.php")
                || u.pre(b"/ai.php?aed=")
            {
                Some(FACEBOOK)
            } else if u.pre(b"/adj/") {
                Some(ADV)
            } else if u.pre(b"/ajax_boxes/last_photos") {
                Some(SOCIAL)
            } else if avail > 10 && u.eq(0, b"/ajax/", 6) {
                let s = |pat: &[u8]| u.pre_at(6, pat, pat.len() as i64);
                let hit = match u.at(6) {
                    b'a' => s(b"apps/usage_update.php"),
                    b'b' => s(b"browse_history.php"),
                    b'c' => s(b"chat/") || s(b"composer/") || s(b"ct.php?"),
                    b'e' => s(b"ego_height.php"),
                    b'f' => s(b"f2.php?") || s(b"feed/") || s(b"f.php?"),
                    b'g' => s(b"gigaboxx/"),
                    b'h' => s(b"hovercard/") || s(b"home/"),
                    b'i' => s(b"intent.php"),
                    b'l' => s(b"like/participants.php") || s(b"log_ticker_render.php"),
                    b'n' => {
                        s(b"nectar.php")
                            || s(b"nectar_photos.php")
                            || s(b"notes_upload_ajax.php")
                            || s(b"notifications/")
                    }
                    b'p' => {
                        s(b"presence/")
                            || s(b"profile/")
                            || u.pre_at(6, b"photos", 8)
                            || s(b"pagelet/generic.php")
                    }
                    b'r' => s(b"recent_pics.php"),
                    b's' => s(b"share_dialog.php") || s(b"stream/profile.php"),
                    b't' => s(b"typeahead"),
                    b'v' => s(b"video/"),
                    _ => false,
                };
                r(hit, FACEBOOK)
            } else if avail > 19 && u.eq(0, b"/albums_list/", 13) {
                r(u.all(13, 19, digit), SOCIAL)
            } else {
                None
            }
        }
        b'b' => r(u.pre(b"/blog/ajax_"), SOCIAL),
        b'B' => r(u.pre(b"/Bursting"), ADV),
        b'c' => {
            if u.pre(b"/cgi-bin/rsapi.cgi") {
                Some(RAPIDSHARE)
            } else if u.pre(b"/cgi-bin/m?ci=")
                || u.pre(b"/cgi-bin/m?rnd=")
                || u.pre(b"/cgi-bin/count?cid=")
                || u.pre(b"/cgi-bin/count?url=")
                || u.pre(b"/cgi-bin/count?rnd=")
            {
                Some(ADV)
            } else if u.pre(b"/cbk?output=") {
                Some(GMAPS)
            } else if u.pre(b"/connect.php/")
                || u.pre(b"/connect/connect.php")
                || u.pre(b"/connect/xd_proxy.php")
                || u.pre(b"/connect/xd_arbiter/")
                || u.pre(b"/connect/xd_arbiter.php")
                || u.pre(b"/cfs-ak-")
                || u.pre(b"/cfs-l3-")
                || u.pre(b"/common/history_manager.php")
                || u.pre(b"/common/redirectiframe.html")
            {
                Some(FACEBOOK)
            } else if avail > 30 && u.eq(0, b"/common/image/", 14) {
                let hit = u.any(
                    14,
                    &[
                        b"albums/",
                        b"card/",
                        b"clearbox/",
                        b"emoticons/",
                        b"facelift/",
                        b"flash/",
                        b"icon_",
                        b"logo_",
                        b"share/",
                    ],
                );
                r(hit, SOCIAL)
            } else {
                None
            }
        }
        b'd' => {
            if avail > 46 && u.eq(0, b"/dl/", 4) && u.at(36) == b'/' && u.at(45) == b'/' {
                Some(FLASHVIDEO)
            } else {
                r(u.pre(b"/dialog/oauth?api_key="), FACEBOOK)
            }
        }
        b'e' => {
            if avail > 19 && u.eq(0, b"/embed/", 7) {
                let c = u.at(18);
                r(
                    matches!(c, b' ' | b'&' | b'?') && u.all(7, 18, yt),
                    YOUTUBE_SITE_EMBED,
                )
            } else if u.pre(b"/editapps.php")
                || u.pre(b"/editnote.php")
                || u.pre(b"/extern/login_status.php")
                || u.pre(b"/email_open_log_pic.php")
            {
                Some(FACEBOOK)
            } else {
                r(u.pre(b"/e4/flv/"), FLASHVIDEO)
            }
        }
        b'f' => {
            if u.pre(b"/friends/") {
                return Some(FACEBOOK);
            }
            if u.pre(b"/friends.php") || u.pre(b"/feeds/notifications.php") {
                Some(FACEBOOK)
            } else if u.pre(b"/feeds/api/videos/")
                || u.pre(b"/feeds/api/users/")
                || u.pre(b"/feeds/base/")
            {
                Some(YOUTUBE_SITE)
            } else if avail > 27 && u.eq(0, b"/friends_online_list/", 21) {
                r(u.all(21, 27, digit), SOCIAL)
            } else if avail > 20 && u.eq(0, b"/friends_list/", 14) {
                r(u.all(14, 20, digit), SOCIAL)
            } else if avail > 38 && u.eq(0, b"/flv/", 5) {
                r(u.at(37) == b'/', FLASHVIDEO)
            } else if avail > 15 && u.eq(0, b"/files/", 7) {
                let (mut s1, mut s2) = (false, false);
                let mut i = 7;
                while i < avail {
                    let c = u.at(i);
                    if c == b'/' {
                        break;
                    }
                    if !digit(c) {
                        s1 = true;
                    }
                    if !c.is_ascii_hexdigit() {
                        s2 = true;
                        break;
                    }
                    i += 1;
                }
                if i > 15 && !s2 && s1 {
                    Some(MEGAUPLOAD)
                } else {
                    r(u.all(7, 15, digit), RAPIDSHARE)
                }
            } else {
                None
            }
        }
        b'g' => {
            if u.pre(b"/generate_204?") {
                Some(YOUTUBE_204)
            } else if u.pre(b"/get_video_info?") || u.pre(b"/get_video?") {
                Some(YOUTUBE_SITE)
            } else if u.pre(b"/group.php?") || u.pre(b"/groups.php?") {
                Some(FACEBOOK)
            } else if avail > 23 && u.eq(0, b"/get/", 5) && u.at(13) == b'/' {
                if u.all(5, 13, |c| c.is_ascii_alphanumeric()) {
                    Some(if u.at(22) == b'/' { HOTFILE } else { STORAGE })
                } else {
                    None
                }
            } else if avail > 21 && u.eq(0, b"/gadgets/", 9) {
                let hit = u.any(
                    9,
                    &[b"concat?", b"ifr?", b"js/rpc?", b"makeRequest", b"proxy?"],
                );
                r(hit, SOCIAL)
            } else if avail > 25 && u.eq(0, b"/gallery/", 9) {
                let (mut s1, mut s2) = (false, false);
                let mut c = 0u8;
                let mut i = 9;
                while i < 24 {
                    c = u.at(i);
                    if c == b'/' {
                        s1 = true;
                    }
                    if !digit(c) && c != b'/' {
                        break;
                    }
                    s2 = digit(c);
                    i += 1;
                }
                r(c == b' ' && s2 && s1, SOCIAL)
            } else {
                None
            }
        }
        b'h' => {
            if u.pre(b"/home.php?ref=") {
                Some(FACEBOOK)
            } else {
                r(u.pre(b"/hls_stream.ts?"), YOUTUBE_VIDEO)
            }
        }
        b'i' => {
            if avail > 31 && u.eq(0, b"/i/", 3) {
                r(u.eq(26, b"1.jpg", 5), YOUTUBE_SITE)
            } else if u.pre(b"/i/widget-logo.png") {
                Some(TWITTER)
            } else {
                r(
                    u.pre(b"/iframe/12?r=") || u.pre(b"/iframe/11?r=") || u.pre(b"/iframe/10?r="),
                    FACEBOOK,
                )
            }
        }
        b'j' => {
            if u.pre(b"/js/api_lib/v0.4/") {
                Some(FACEBOOK)
            } else {
                r(u.pre(b"/j/2/") || u.pre(b"/j/1/"), TWITTER)
            }
        }
        b'k' => r(u.pre(b"/kh/v="), GMAPS),
        b'l' => r(u.pre(b"/liveplay?"), YOUTUBE_VIDEO),
        b'm' => {
            if avail > 16 && u.eq(0, b"/maps", 5) {
                let hit = u.any(
                    5,
                    &[
                        b"/gen_",
                        b"/vp?",
                        b"/l?",
                        b"/trends?",
                        b"lt?lyrs=",
                        b"/api/",
                        b"lt/ft?lyrs=",
                    ],
                );
                r(hit, GMAPS)
            } else if u.pre(b"/mapfiles/") {
                Some(GMAPS)
            } else {
                r(u.pre(b"/might_know/listJSON/"), SOCIAL)
            }
        }
        b'n' => {
            if u.pre(b"/notifications.php") {
                Some(FACEBOOK)
            } else {
                r(
                    u.pre(b"/new_messages_json/top/")
                        || u.pre(b"/new_messages_get_mail/")
                        || u.pre(b"/nktalk/"),
                    SOCIAL,
                )
            }
        }
        b'o' => {
            if avail > 19 && u.eq(0, b"/online_list/", 13) {
                r(u.all(13, 19, digit), SOCIAL)
            } else if avail > 14 && u.eq(0, b"/object", 7) {
                r(u.all(7, 14, |c| digit(c) || c == b'/'), FACEBOOK)
            } else {
                None
            }
        }
        b'p' => get_p(u),
        b'R' => {
            if avail > 23 && u.eq(0, b"/RealMedia/ads/", 15) {
                let hit = match u.at(15) {
                    b'a' => u.pre_at(15, b"adstream", 8),
                    b'C' => u.pre_at(15, b"Creatives", 9),
                    b'c' => u.pre_at(15, b"cap.cgi", 7) || u.pre_at(15, b"click_lx.ads", 12),
                    _ => false,
                };
                r(hit, ADV)
            } else {
                None
            }
        }
        b'r' => {
            if u.pre(b"/reqs.php?") || u.pre(b"/restserver.php") || u.pre(b"/rsrc.php/") {
                Some(FACEBOOK)
            } else if u.pre(b"/rest/person/") {
                Some(SOCIAL)
            } else if avail > 44 && u.eq(0, b"/range/", 7) {
                let mut i = 7;
                while i < 40 {
                    let c = u.at(i);
                    if !digit(c) && c != b'-' {
                        break;
                    }
                    i += 1;
                }
                r(i < 40 && u.eq(i, b"?o=A", 4), NETFLIX)
            } else {
                None
            }
        }
        b's' => {
            if u.pre(b"/subscribe?host_int=") {
                Some(DROPBOX)
            } else if u.pre(b"/safe_image.php?d=")
                || u.pre(b"/s.php?")
                || u.pre(b"/static/v0.4/")
                || u.pre(b"/stage.static/rsrc.php/")
                || u.pre(b"/static-ak/rsrc.php/")
            {
                Some(FACEBOOK)
            } else if u.pre(b"/search/pages/")
                || u.pre(b"/school/")
                || u.pre(b"/sledzik/")
                || u.pre(b"/storage/gifts/")
                || u.pre(b"/storage/smileys/")
            {
                Some(SOCIAL)
            } else if u.pre(b"/style/") {
                r(colon_hex4(u, 7), SOCIAL)
            } else if u.pre(b"/script/") {
                r(colon_hex4(u, 8), SOCIAL)
            } else {
                None
            }
        }
        b'u' => {
            if avail > 33 && u.eq(0, b"/u/", 3) {
                r(u.eq(26, b"watch_", 6), YOUTUBE_SITE)
            } else {
                None
            }
        }
        b'?' => r(avail > 5 && u.eq(0, b"/?o=A", 5), NETFLIX),
        b'v' => get_v(u),
        b'w' => get_w(u),
        b'x' => {
            if avail > 16 && u.eq(0, b"/x/", 3) {
                r(facebook_x(u), FACEBOOK)
            } else {
                None
            }
        }
        b'y' => {
            if avail > 10 && u.eq(0, b"/yt/", 4) {
                let s = |pat: &[u8]| u.pre_at(4, pat, pat.len() as i64);
                let hit = match u.at(4) {
                    b'c' => s(b"cssbin/"),
                    b'f' => s(b"favicon"),
                    b'i' => s(b"img/"),
                    b'j' => s(b"js/") || s(b"jsbin/"),
                    b's' => s(b"swf/"),
                    _ => false,
                };
                r(hit, YOUTUBE_SITE)
            } else {
                None
            }
        }
        b'_' => r(u.pre(b"/_videos_t4vn") || u.pre(b"/_thumbs/"), FLASHVIDEO),
        c @ b'0'..=b'9' => get_digit(u, c),
        _ => None,
    }
}

/// `case 'p'` of `classify_http_get`.
fn get_p(u: Url<'_>) -> Option<u8> {
    use class::*;
    let avail = u.avail;
    let r = |ok: bool, c: u8| ok.then_some(c);
    if u.pre(b"/pagead/") {
        Some(ADV)
    } else if u.pre(b"/pull?channel=")
        || u.pre(b"/photo.php?fbid=")
        || u.pre(b"/photo.php?pid=")
        || u.pre(b"/photo_search.php?")
        || u.pre(b"/posted.php?")
        || u.pre(b"/profile.php?id=")
        || u.pre(b"/pagelet/generic.php")
        || u.pre(b"/ping?partition=")
        || u.pre(b"/p?partition=")
    {
        Some(FACEBOOK)
    } else if avail > 29 && u.eq(0, b"/plugins/", 9) {
        let list: [(&[u8], i64); 13] = [
            (b"activity.php?", 13),
            (b"likebox.php?", 12),
            (b"like_box.php?", 13),
            (b"like.php?", 9),
            (b"login_button.php?", 17),
            (b"subscribe.php?", 14),
            (b"registration.php?", 17),
            (b"facepile.php?", 12),
            (b"fan.php?", 8),
            (b"send.php?", 9),
            (b"share_button.php?", 17),
            (b"comments.php?", 13),
            (b"recommendations.php?", 20),
        ];
        r(list.iter().any(|&(p, n)| u.eq(9, p, n)), FACEBOOK)
    } else if avail > 24 && u.eq(0, b"/profile_images/", 16) {
        r(u.all(16, 24, digit), TWITTER)
    } else if avail > 22 && u.eq(0, b"/pages/", 7) {
        r(pages_rule(u), SOCIAL)
    } else if avail > 16 && u.eq(0, b"/poczta/", 8) {
        let hit = digit(u.at(8))
            || u.any(
                8,
                &[
                    b"choose", b"compose", b"inbox", b"outbox", b"null", b"trash",
                ],
            );
        r(hit, SOCIAL)
    } else if avail > 26 && u.eq(0, b"/profile/", 9) {
        let hit = u.any(
            9,
            &[
                b"edit ",
                b"advanced",
                b"black_list",
                b"card",
                b"gallery",
                b"null",
                b"preference",
                b"privacy_settings",
                b"ratings",
                b"sledzik",
            ],
        );
        r(hit, SOCIAL)
    } else {
        None
    }
}

/// The `/pages/<kind>/` list shared by the GET and POST rules.
fn pages_rule(u: Url<'_>) -> bool {
    u.any(
        7,
        &[
            b"activity/",
            b"application/",
            b"community/",
            b"image/",
            b"listing/",
            b"main/",
            b"message/",
            b"micrologin/",
            b"misc/",
            b"share/",
            b"timeline/",
            b"user/",
        ],
    )
}

/// `case 'v'` of `classify_http_get`.
fn get_v(u: Url<'_>) -> Option<u8> {
    use class::*;
    let avail = u.avail;
    let r = |ok: bool, c: u8| ok.then_some(c);
    if u.pre(b"/videoplayback?") || u.pre(b"/videoplayback/") {
        Some(YOUTUBE_VIDEO)
    } else if u.pre(b"/vimeo/v/") {
        Some(VIMEO)
    } else if u.pre(b"/videos/flv/") {
        Some(FLASHVIDEO)
    } else if u.pre(b"/vt/v=")
        || u.pre(b"/vt/lyrs=")
        || u.pre(b"/vt?lyrs=")
        || u.pre(b"/vt/ft?lyrs=")
    {
        Some(GMAPS)
    } else if avail > 29 && u.eq(0, b"/vi/", 4) {
        let hit = u.any(
            16,
            &[
                b"default.jpg",
                b"hqdefault.jpg",
                b"mqdefault.jpg",
                b"sddefault.jpg",
                b"0.jpg",
                b"1.jpg",
                b"2.jpg",
                b"3.jpg",
            ],
        );
        r(hit, YOUTUBE_SITE)
    } else if avail > 15 && u.eq(0, b"/v/", 3) {
        r(
            matches!(u.at(14), b' ' | b'&' | b'?') && u.all(3, 14, yt),
            YOUTUBE_SITE_EMBED,
        )
    } else if (avail > 16 && u.eq(8, b"/flyers/", 8)) || (avail > 15 && u.eq(7, b"/flyers/", 8)) {
        Some(FACEBOOK)
    } else if avail > 12 && u.eq(0, b"/v", 2) {
        r(u.all(2, 12, |c| digit(c) || c == b'/'), SOCIAL)
    } else {
        None
    }
}

/// `case 'w'` of `classify_http_get`.
fn get_w(u: Url<'_>) -> Option<u8> {
    use class::*;
    let avail = u.avail;
    let r = |ok: bool, c: u8| ok.then_some(c);
    if u.pre(b"/w/index.php?title=") || u.pre(b"/wiki/") || u.pre(b"/wikipedia/") {
        Some(WIKI)
    } else if u.pre(b"/www/app_full_proxy.php?app=") {
        Some(FACEBOOK)
    } else if avail > 22 && u.eq(0, b"/widgets/", 9) {
        if u.any(9, &[b"comments.php?", b"fan.php?", b"like.php?"]) {
            Some(FACEBOOK)
        } else {
            let hit = u.any(
                9,
                &[
                    b"follow_button",
                    b"hub.",
                    b"images/f.gif?",
                    b"images/t.gif?",
                    b"tweet_button.",
                ],
            );
            r(hit, TWITTER)
        }
    } else if avail > 48 && u.eq(0, b"/widgets.js", 11) {
        r(
            u.eq(11, b"?_=", 3) || u.eq(22, b"Host: platform.twitter.com", 26),
            TWITTER,
        )
    } else if u.pre(b"/watch?v=") || u.pre(b"/watch#!v=") {
        Some(YOUTUBE_SITE_DIRECT)
    } else {
        r(u.pre(b"/watched_events "), SOCIAL)
    }
}

/// The digit cases of `classify_http_get`, with their C fall-through ('4' → '0' → '1' →
/// '2'..'9').
fn get_digit(u: Url<'_>, first: u8) -> Option<u8> {
    use class::*;
    let avail = u.avail;
    if first == b'4' && u.pre(b"/467f9bca32b1989") {
        return Some(FLASHVIDEO);
    }
    if matches!(first, b'4' | b'0')
        && ((avail > 12 && (u.eq(5, b"/club/", 6) || u.eq(5, b"/user/", 6)))
            || (avail > 15 && u.eq(5, b"/listing/", 9)))
    {
        return Some(SOCIAL);
    }
    if matches!(first, b'4' | b'0' | b'1')
        && u.at(2) == b'/'
        && (u.pre(b"/1/statuses/") || u.pre(b"/1/urls/count.json?") || u.pre(b"/1/users/show"))
    {
        return Some(TWITTER);
    }
    if avail > 25 {
        if !digit(u.at(2)) {
            return None;
        }
        let head = c_str(u.b.slice(0, avail.min(30)));
        if facebook_picture(head) {
            return Some(FACEBOOK);
        } else if flickr(u) {
            return Some(FLICKR);
        } else if vimeo(u) {
            return Some(VIMEO);
        } else if social_digits(u) {
            return Some(SOCIAL);
        }
    }
    None
}

/// The rules after the `switch` of `classify_http_get` (Facebook CDN paths, MediaFire and
/// MegaUpload shapes).
fn get_tail(u: Url<'_>) -> u8 {
    use class::*;
    let avail = u.avail;
    if avail > 14 && (6..=9).any(|o| u.eq(o, b"-ak-", 4)) {
        return FACEBOOK;
    }
    if avail > 14 && u.at(3) == b'_' && u.eq(6, b"/all.js", 7) {
        return FACEBOOK;
    }
    if avail > 36 && u.at(12) == b'g' && u.at(13) == b'/' && (u.at(25) == b'/' || u.at(29) == b'/')
    {
        // ' /[^/_]{11}g/[^/ ]{11 or 15}/[^/]+ '
        if u.all(1, 12, |c| c != b'/' && c != b'_') {
            let limit = if u.at(25) == b'/' { 25 } else { 29 };
            if u.all(14, limit, |c| c != b'/' && c != b' ') {
                let (mut slash, mut space) = (false, false);
                let mut i = limit + 1;
                while i < avail {
                    match u.at(i) {
                        b'/' => {
                            slash = true;
                            break;
                        }
                        b' ' => {
                            space = true;
                            break;
                        }
                        _ => i += 1,
                    }
                }
                if !slash && (space || i == avail) {
                    return MEDIAFIRE;
                }
            }
        }
        return GET;
    }
    if avail > 43 && u.at(41) == b' ' {
        let ok = u.all(1, 41, |c| {
            c.is_ascii_hexdigit() && (c.is_ascii_lowercase() || digit(c))
        });
        if ok {
            return MEGAUPLOAD;
        }
    }
    GET
}

/// `/x/<digits>/[<digits>/]{false,true}/p_` (Facebook).
fn facebook_x(u: Url<'_>) -> bool {
    let scan = |mut i: i64, end: i64| -> Option<i64> {
        while i < end {
            let c = u.at(i);
            if c == b'/' {
                return Some(i);
            }
            if !digit(c) {
                return None;
            }
            i += 1;
        }
        None
    };
    let fp = |i: i64| u.pre_at(i, b"/false/p_", 9) || u.pre_at(i, b"/true/p_", 8);
    match scan(3, 14) {
        Some(i) if fp(i) => true,
        Some(i) => matches!(scan(i + 1, 25), Some(j) if fp(j)),
        None => false,
    }
}

/// `/style/…:XXXX ` and `/script/…:XXXX `: a colon before the last 5 bytes followed by four
/// hex digits and a space.
fn colon_hex4(u: Url<'_>, start: i64) -> bool {
    let mut i = start;
    while i < u.avail - 5 {
        if u.at(i) == b':' {
            return u.all(i + 1, i + 5, |c| c.is_ascii_hexdigit()) && u.at(i + 5) == b' ';
        }
        i += 1;
    }
    false
}

/// Tstat's regex `/[0-9]{8,15}/picture[?/ ]` on the first 30 bytes of the URL.
fn facebook_picture(s: &[u8]) -> bool {
    s.iter().enumerate().any(|(i, &c)| {
        if c != b'/' {
            return false;
        }
        let rest = s.get(i + 1..).unwrap_or(&[]);
        let n = rest.iter().take_while(|c| c.is_ascii_digit()).count();
        (8..=15).contains(&n)
            && rest.get(n..n + 8) == Some(b"/picture")
            && matches!(rest.get(n + 8), Some(b'?' | b'/' | b' '))
    })
}

/// Tstat's `classify_flickr`: `/NNN/NNNNNNNNN+_xxxxxxxxxx` (server, photo id, 10-hex secret).
fn flickr(u: Url<'_>) -> bool {
    let mut i = 3;
    let mut slash = false;
    while i < 6 {
        let c = u.at(i);
        if c == b'/' {
            slash = true;
            break;
        }
        if !digit(c) {
            return false;
        }
        i += 1;
    }
    if !slash {
        return false;
    }
    i += 1;
    let mut digits = 0;
    let mut underscore = false;
    while i < 20 {
        let c = u.at(i);
        if c == b'_' {
            underscore = true;
            break;
        }
        if !digit(c) {
            return false;
        }
        digits += 1;
        i += 1;
    }
    if !(underscore && digits > 8) {
        return false;
    }
    i += 1;
    let mut hex = 0;
    while hex < 10 && i < u.avail {
        if !u.at(i).is_ascii_hexdigit() {
            return false;
        }
        i += 1;
        hex += 1;
    }
    hex == 10
}

/// Tstat's `classify_vimeo`: digits and slashes, then `.mp4?ak` or `.mp4?token`.
fn vimeo(u: Url<'_>) -> bool {
    let mut i = 3;
    while i < 23 {
        let c = u.at(i);
        if c != b'/' && !digit(c) {
            return u.pre_at(i, b".mp4?ak", 7) || u.pre_at(i, b".mp4?token", 10);
        }
        i += 1;
    }
    false
}

/// Tstat's `classify_social`: digits and slashes, then `thumb/`, `other/` or `main/`.
fn social_digits(u: Url<'_>) -> bool {
    let mut i = 3;
    while i < 16 {
        let c = u.at(i);
        if c != b'/' && !digit(c) {
            return u.pre_at(i, b"thumb/", 6)
                || u.pre_at(i, b"other/", 6)
                || u.pre_at(i, b"main/", 5);
        }
        i += 1;
    }
    false
}

/// Tstat's `classify_http_post` over a payload starting with `POST`.
pub(crate) fn classify_post(p: &[u8]) -> u8 {
    use class::*;
    let u = Url {
        b: Peek(p.get(5..).unwrap_or(&[])),
        avail: p.len() as i64 - 5,
    };
    if u.avail < 1 || u.at(0) != b'/' {
        return POST;
    }
    let avail = u.avail;
    let r = |ok: bool, c: u8| ok.then_some(c);
    let hit = match u.at(1) {
        b'a' => {
            if u.pre(b"/ajax/presence/") || u.pre(b"/ajax/chat/") || u.pre(b"/ajax/") {
                Some(FACEBOOK)
            } else if u.pre(b"/accept/") {
                r(u.all(8, 13, digit), SOCIAL)
            } else {
                None
            }
        }
        b'c' => {
            if u.pre(b"/cgi-bin/rsapi.cgi") {
                Some(RAPIDSHARE)
            } else if u.pre(b"/close/") {
                Some(RTMPT)
            } else if u.pre(b"/current/flashservices/") {
                Some(FACEBOOK)
            } else {
                r(u.pre(b"/cbk?output="), GMAPS)
            }
        }
        b'C' => r(u.pre(b"/CLOSE/"), RTMPT),
        b'f' => {
            if u.pre(b"/fbml/") || u.pre(b"/flashservices/gateway.php") {
                Some(FACEBOOK)
            } else if avail > 15 && u.eq(0, b"/files/", 7) {
                r(u.all(7, 15, digit), RAPIDSHARE)
            } else {
                None
            }
        }
        b'g' => {
            if u.pre(b"/gateway/gateway.dll?Action=") || u.pre(b"/gateway/gateway.dll?SessionID=") {
                Some(MSN)
            } else if u.pre(b"/glm/mmap ") {
                Some(GMAPS)
            } else {
                r(u.pre(b"/gadgets/makeRequest "), SOCIAL)
            }
        }
        b'h' => r(u.pre(b"/http-bind "), SOCIAL),
        b'i' => {
            if u.pre(b"/idle/") {
                Some(RTMPT)
            } else if u.pre(b"/invite/") {
                r(u.all(8, 13, digit), SOCIAL)
            } else {
                None
            }
        }
        b'I' => r(u.pre(b"/IDLE/"), RTMPT),
        b'm' => r(u.pre(b"/might_know/unwanted/"), SOCIAL),
        b'n' => r(u.pre(b"/nktalk/"), SOCIAL),
        b'o' => r(u.pre(b"/open/"), RTMPT),
        b'O' => r(u.pre(b"/OPEN/"), RTMPT),
        b'p' => {
            if u.pre(b"/profile_ajax?action_ajax=") {
                Some(YOUTUBE_SITE)
            } else if u.pre(b"/pins/friends ") || u.pre(b"/pins/get ") || u.pre(b"/poczta/") {
                Some(SOCIAL)
            } else if avail > 26 && u.eq(0, b"/profile/", 9) {
                let hit =
                    digit(u.at(9)) || u.any(9, &[b"privacy_settings", b"edit ", b"black_list"]);
                r(hit, SOCIAL)
            } else if avail > 22 && u.eq(0, b"/pages/", 7) {
                r(pages_rule(u), SOCIAL)
            } else {
                None
            }
        }
        b'r' => {
            if u.pre(b"/restserver.php") {
                Some(FACEBOOK)
            } else {
                r(
                    u.pre(b"/reject/") || u.pre(b"/rendering_measurement"),
                    SOCIAL,
                )
            }
        }
        b's' => {
            if u.pre(b"/send/") {
                Some(RTMPT)
            } else if u.pre(b"/social/rpc?st=") || u.pre(b"/sledzik/") || u.pre(b"/school/") {
                Some(SOCIAL)
            } else {
                r(u.pre(b"/search.json?"), TWITTER)
            }
        }
        b'S' => r(u.pre(b"/SEND/"), RTMPT),
        b'u' => r(u.pre(b"/url_validator"), SOCIAL),
        b'v' => r(u.pre(b"/video_info_ajax?"), YOUTUBE_SITE),
        b'w' => {
            if u.pre(b"/watched_events/") {
                Some(SOCIAL)
            } else {
                r(u.pre(b"/watch_actions_ajax?"), YOUTUBE_SITE)
            }
        }
        _ => None,
    };
    hit.unwrap_or(POST)
}

/// Header fields of a `log_http_complete` row that may run to the end of their segment (the
/// `[*]` cut), as bits: which one was cut decides what the continuation row of the message
/// (`REQ2`/`RES2`) takes from the next segment's first line.
pub(crate) mod cut {
    /// Request path.
    pub const PATH: u8 = 1;
    /// `Referer:`.
    pub const REFERER: u8 = 2;
    /// `User-Agent:`.
    pub const USER_AGENT: u8 = 4;
    /// `Cookie:`.
    pub const COOKIE: u8 = 8;
    /// Response `Set-Cookie:`.
    pub const SET_COOKIE: u8 = 1;
    /// Response `Location:`.
    pub const LOCATION: u8 = 2;
}

/// `[^[:cntrl:]]` in the C locale.
#[inline]
fn text_char(c: u8) -> bool {
    !(c < 0x20 || c == 0x7f)
}

/// The value of the first `name` header at or after `from` (regex `name([^[:cntrl:]]+)`, or
/// `name([^[:cntrl:][:space:]]+)` when `word`) in the C string `s`: its start and end.
pub(crate) fn field(s: &[u8], from: usize, name: &[u8], word: bool) -> Option<(usize, usize)> {
    let ok = |c: u8| if word { host_char(c) } else { text_char(c) };
    let mut at = from;
    while at + name.len() < s.len() {
        let hit = memchr::memmem::find(s.get(at..)?, name)?;
        let start = at + hit + name.len();
        let n = s.get(start..)?.iter().take_while(|&&c| ok(c)).count();
        if n > 0 {
            return Some((start, start + n));
        }
        at += hit + 1;
    }
    None
}

/// The request line (`^([A-Z]+) ([^[:cntrl:][:space:]]+)`) of the C string `s`: method end,
/// path start and end, and whether a space follows the path (Tstat's first pattern).
pub(crate) fn request_line(s: &[u8]) -> Option<(usize, usize, usize, bool)> {
    let m = s.iter().take_while(|c| c.is_ascii_uppercase()).count();
    if m == 0 || s.get(m) != Some(&b' ') {
        return None;
    }
    let start = m + 1;
    let n = s
        .get(start..)?
        .iter()
        .take_while(|&&c| host_char(c))
        .count();
    if n == 0 {
        return None;
    }
    let end = start + n;
    Some((m, start, end, s.get(end) == Some(&b' ')))
}

/// Whether a match ending at `end` reaches the last byte of a segment of `len` bytes (Tstat's
/// `base + rm_eo >= plast`).
#[inline]
fn reaches_end(end: usize, len: usize) -> bool {
    end + 1 >= len
}

/// The [`cut`] bits of a request segment (cookie included whatever the privacy level).
pub(crate) fn request_cuts(p: &[u8]) -> u8 {
    let s = c_str(p);
    let mut bits = 0;
    let mut base = 0;
    if let Some((_, _, end, space)) = request_line(s) {
        if space {
            base = end;
        } else if reaches_end(end, p.len()) {
            bits |= cut::PATH;
        }
    }
    let fields: [(&[u8], bool, u8); 3] = [
        (b"Referer: ", true, cut::REFERER),
        (b"User-Agent: ", false, cut::USER_AGENT),
        (b"Cookie: ", false, cut::COOKIE),
    ];
    for (name, word, bit) in fields {
        if let Some((_, end)) = field(s, base, name, word) {
            if reaches_end(end, p.len()) {
                bits |= bit;
            }
        }
    }
    bits
}

/// The [`cut`] bits of a response segment.
pub(crate) fn response_cuts(p: &[u8]) -> u8 {
    let s = c_str(p);
    let mut bits = 0;
    if let Some((_, end)) = field(s, 0, b"Set-Cookie: ", false) {
        if reaches_end(end, p.len()) {
            bits |= cut::SET_COOKIE;
        }
    }
    if let Some((_, end)) = field(s, 0, b"Location: ", true) {
        if reaches_end(end, p.len()) {
            bits |= cut::LOCATION;
        }
    }
    bits
}

#[cfg(test)]
mod tests {
    use super::class::*;
    use super::*;

    const REQ: &[u8] = b"GET /index.html HTTP/1.1\r\nHost: bro.org\r\nUser-Agent: x\r\n\r\n";
    const RES: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn cuts() {
        assert_eq!(request_cuts(REQ), 0);
        assert_eq!(request_cuts(b"GET /very/long/pa"), cut::PATH);
        assert_eq!(
            request_cuts(b"GET / HTTP/1.1\r\nUser-Agent: Moz"),
            cut::USER_AGENT
        );
        assert_eq!(
            request_cuts(b"GET / HTTP/1.1\r\nReferer: http://a/\r"),
            cut::REFERER
        );
        assert_eq!(response_cuts(RES), 0);
        assert_eq!(
            response_cuts(b"HTTP/1.1 302 Found\r\nLocation: http://x"),
            cut::LOCATION
        );
        assert_eq!(
            response_cuts(b"HTTP/1.1 200 OK\r\nSet-Cookie: a=b"),
            cut::SET_COOKIE
        );
        assert_eq!(field(b"X: \r\nX: v", 0, b"X: ", true), Some((8, 9)));
    }

    #[test]
    fn request_and_response() {
        assert!(is_request(REQ));
        assert!(is_request(b"HEAD / HTTP/1.0\r\n"));
        assert!(is_request(b"PUT /x HTTP/1.1\r\n"));
        assert!(is_request(b"OPTIONS * HTTP/1.1\r\n"));
        assert!(!is_request(b"DELE 1\r\n")); // POP3, not HTTP
        assert!(!is_request(b"PATCHY"));
        assert_eq!(host(REQ), Some(&b"bro.org"[..]));
        assert_eq!(
            host(b"GET / HTTP/1.1\r\nHost: \r\nHost: a.b:8080\r\n"),
            Some(&b"a.b:8080"[..])
        );
        assert_eq!(host(b"GET / HTTP/1.1\r\nhost: a\r\n"), None);
        for m in [
            &b"GET "[..],
            b"POST",
            b"HEAD",
            b"PUT ",
            b"PATCH ",
            b"DELETE ",
            b"OPTIONS ",
            b"HTTP",
        ] {
            assert!(may_count(m[0]));
        }
        assert_eq!(host(b"GET /\0Host: a\r\n"), None);
        assert_eq!(host(b"GET / HTTP/1.1\r\nHost: a\0b\r\n"), Some(&b"a"[..]));
        assert_eq!(host(b"GET / HTTP/1.1\r\nHHost: \0Host: x\r\n"), None);
        // Every alignment of the header and of an earlier NUL, against the plain definition.
        for pad in 0..20 {
            let mut req = b"GET / HTTP/1.1\r\nX-H: H\r\n".to_vec();
            req.extend(std::iter::repeat_n(b'a', pad));
            req.extend_from_slice(b"Host: example.org\r\n");
            assert_eq!(host(&req), Some(&b"example.org"[..]));
            for nul in 0..req.len() {
                let mut r = req.clone();
                r[nul] = 0;
                let s = c_str(&r);
                let want = s
                    .windows(6)
                    .position(|w| w == b"Host: ")
                    .map(|at| &s[at + 6..])
                    .map(|v| &v[..v.iter().take_while(|&&c| host_char(c)).count()])
                    .filter(|v| !v.is_empty());
                assert_eq!(host(&r), want, "pad {pad} nul {nul}");
            }
        }
        assert_eq!(&status(RES), b"200");
        assert_eq!(&status(b"HTTP/1.1 20x OK\r\n"), b"20\0");
        assert_eq!(&status(b"HTTP/1.1 OK whatever"), b"000");
        assert_eq!(&status(b"HTTP/1.1 200"), b"000");
    }

    #[test]
    fn get_classes() {
        assert_eq!(classify_get(REQ), GET);
        assert_eq!(classify_get(b"GET /wiki/Main_Page HTTP/1.1\r\n"), WIKI);
        assert_eq!(
            classify_get(b"GET /videoplayback?id=0123456789abcdef&itag=34 HTTP/1.1\r\n"),
            YOUTUBE_VIDEO
        );
        assert_eq!(
            classify_get(b"GET /generate_204?ip=1 HTTP/1.1\r\n"),
            YOUTUBE_204
        );
        assert_eq!(
            classify_get(b"GET /watch?v=abcdefghijk HTTP/1.1\r\n"),
            YOUTUBE_SITE_DIRECT
        );
        assert_eq!(
            classify_get(b"GET /embed/abcdefghijk?x HTTP/1.1\r\n"),
            YOUTUBE_SITE_EMBED
        );
        assert_eq!(
            classify_get(b"GET /ajax/chat/buddy_list.php HTTP/1.1\r\n"),
            FACEBOOK
        );
        assert_eq!(
            classify_get(b"GET /rsrc.php/v1/y/r/x.css HTTP/1.1\r\n"),
            FACEBOOK
        );
        assert_eq!(
            classify_get(b"GET /range/0-65535?o=AQEfYm9vYmFyYmF6Zm9vYmFy HTTP/1.1\r\n"),
            NETFLIX
        );
        assert_eq!(
            classify_get(b"GET /subscribe?host_int=1234 HTTP/1.1\r\n"),
            DROPBOX
        );
        assert_eq!(
            classify_get(b"GET /100000123456/picture?type=large HTTP/1.1\r\n"),
            FACEBOOK
        );
        assert_eq!(
            classify_get(b"GET /2345/1234567890_0123456789.jpg HTTP/1.1\r\n"),
            FLICKR
        );
        assert_eq!(
            classify_get(b"GET /vi/abcdefghijk/default.jpg HTTP/1.1\r\n"),
            YOUTUBE_SITE
        );
        assert_eq!(
            classify_get(b"GET /get/abcd1234/ab/file.zip HTTP/1.1\r\n"),
            STORAGE
        );
        assert_eq!(
            classify_get(b"GET /0123456789abcdef0123456789abcdef01234567 HTTP/1.1\r\n"),
            MEGAUPLOAD
        );
        assert_eq!(classify_get(b"GET http://x/ HTTP/1.1\r\n"), GET);
        // A truncated capture matches on what is there.
        assert_eq!(classify_get(b"GET /wik"), WIKI);
        for n in 0..REQ.len() {
            let _ = classify_get(&REQ[..n]);
        }
    }

    #[test]
    fn post_classes() {
        assert_eq!(classify_post(b"POST /upload HTTP/1.1\r\n"), POST);
        assert_eq!(
            classify_post(b"POST /ajax/presence/update.php HTTP/1.1\r\n"),
            FACEBOOK
        );
        assert_eq!(classify_post(b"POST /open/1 HTTP/1.1\r\n"), RTMPT);
        assert_eq!(
            classify_post(b"POST /gateway/gateway.dll?Action=open HTTP/1.1\r\n"),
            MSN
        );
        assert_eq!(classify_post(b"POST"), POST);
    }
}
