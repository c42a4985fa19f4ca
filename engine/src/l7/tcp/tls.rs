//! TLS (and Facebook-Zero) hello parsing as Tstat's `tcpL7.c` does it: ClientHello SNI,
//! NPN/ALPN, supported_versions, PSK and early-data extensions; ServerHello version, NPN/ALPN,
//! PSK and HelloRetryRequest; the raw certificate commonName scan; the host-name sanity check
//! applied to SNI and CN; the Application Data record test; FB0 `CHLO` tags and the SSH banner.
//!
//! Functions here are pure: they read one payload (or a reassembled ClientHello) and report what
//! they found; the per-flow state machine in the parent module decides what to keep. They
//! reproduce Tstat's bound checks, including its quirks (e.g. a supported_versions extension
//! that ends exactly at the end of the hello is not read), and never panic.

use super::peek::{c_str, Peek};

/// `c_npnalpn`/`s_npnalpn` bits (Tstat's `enum npnalpn`).
pub(crate) mod npn {
    /// NPN extension present but empty.
    pub const NPN_EMPTY: u8 = 1;
    /// NPN offers `http/1.x`.
    pub const NPN_HTTP: u8 = 2;
    /// NPN offers `spdy/*`.
    pub const NPN_SPDY: u8 = 4;
    /// NPN offers `h2`.
    pub const NPN_H2: u8 = 8;
    /// ALPN extension present but empty.
    pub const ALPN_EMPTY: u8 = 16;
    /// ALPN offers `http/*`.
    pub const ALPN_HTTP: u8 = 32;
    /// ALPN offers `spdy/*`.
    pub const ALPN_SPDY: u8 = 64;
    /// ALPN offers `h2` or `h2-*`.
    pub const ALPN_H2: u8 = 128;
}

/// Longest name Tstat copies out of an SNI extension or a certificate (its `cname[80]`).
pub(crate) const NAME_MAX: usize = 79;

/// Room for a `c_TLSvers` list: Tstat stops appending once the text reaches 74 characters.
pub(crate) const VERS_MAX: usize = 80;

/// The random of a ServerHello that is in fact a HelloRetryRequest (RFC 8446 §4.1.3).
const HELLO_RETRY_MAGIC: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// A formatted version list (`0303` or `0a0a,0304,0303`), kept on the stack.
#[derive(Clone, Copy)]
pub(crate) struct VersionList {
    buf: [u8; VERS_MAX],
    len: u8,
}

impl Default for VersionList {
    fn default() -> Self {
        VersionList {
            buf: [0; VERS_MAX],
            len: 0,
        }
    }
}

impl std::fmt::Debug for VersionList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

impl VersionList {
    /// A list holding one version.
    pub fn single(v: u16) -> Self {
        let mut l = VersionList::default();
        l.push(v);
        l
    }

    /// Appends `%04x` (with a comma when not first), as Tstat's `sprintf` does.
    fn push(&mut self, v: u16) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut tmp = [0u8; 5];
        let mut n = 0;
        if self.len > 0 {
            tmp[0] = b',';
            n = 1;
        }
        for shift in [12u32, 8, 4, 0] {
            tmp[n] = HEX[usize::from((v >> shift) as u8 & 0x0f)];
            n += 1;
        }
        let at = usize::from(self.len);
        if let Some(dst) = self.buf.get_mut(at..at + n) {
            dst.copy_from_slice(&tmp[..n]);
            self.len += n as u8;
        }
    }

    /// The text.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }
}

/// What one ClientHello parse found. Fields found before a bound check stopped the parse
/// are kept, as Tstat writes them into the flow as it goes.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ClientHello<'a> {
    /// Version field of the hello message.
    pub msg_version: u16,
    /// Last SNI that passed the host-name check (at most [`NAME_MAX`] bytes).
    pub sni: Option<&'a [u8]>,
    /// NPN/ALPN bits.
    pub npnalpn: u8,
    /// The supported_versions list, if read.
    pub versions: Option<VersionList>,
    /// A pre_shared_key extension was present.
    pub psk: bool,
    /// An early_data extension was present.
    pub early_data: bool,
}

/// What one ServerHello parse found.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ServerHello {
    /// Version field of the hello message.
    pub msg_version: u16,
    /// The supported_versions choice, if read.
    pub version: Option<u16>,
    /// NPN/ALPN bits.
    pub npnalpn: u8,
    /// A pre_shared_key extension was present.
    pub psk: bool,
    /// The hello is a HelloRetryRequest.
    pub retry: bool,
}

/// A record header `0x16 0x03 0x00-0x03 <len hi 0x00-0x39> <len lo> <type>`: Tstat's test for a
/// handshake record whose first message has type `msg`. Needs 6 bytes.
#[inline]
fn handshake_header(p: Peek<'_>, msg: u8) -> bool {
    p.len() >= 6
        && p.u8(0) == 0x16
        && p.u8(1) == 0x03
        && p.u8(2) <= 0x03
        && p.u8(3) <= 0x39
        && p.u8(5) == msg
}

/// Whether the payload starts like a TLS ClientHello record (the first branch of Tstat's
/// `ssl_client_check`).
#[inline]
pub(crate) fn is_client_hello(p: &[u8]) -> bool {
    handshake_header(Peek(p), 0x01)
}

/// Total length of the record that starts the payload (header included).
#[inline]
pub(crate) fn record_len(p: &[u8]) -> usize {
    5 + Peek(p).be16(3) as usize
}

/// Whether the payload is an SSLv2-framed ClientHello whose record length matches the segment
/// (`payload_len` is the IP payload length, as in Tstat).
#[inline]
pub(crate) fn is_sslv2_client_hello(p: &[u8], payload_len: u32) -> bool {
    let q = Peek(p);
    if q.u8(2) == 0x01 && q.u8(3) == 0x03 && q.u8(4) <= 0x03 {
        let record = (i64::from(q.u8(0) & 0x7f) << 8) | i64::from(q.u8(1));
        return record == i64::from(payload_len) - 2;
    }
    false
}

/// Parses the extensions of a ClientHello record that starts `data` (Tstat's TLS branch of
/// `ssl_client_check`, limited to the hello message and to the available bytes).
pub(crate) fn parse_client_hello<'a>(data: &'a [u8], out: &mut ClientHello<'a>) {
    let b = Peek(data);
    let message_length = 5 + b.be16(3);
    out.msg_version = b.be16(9) as u16;
    let limit = b.len().min(message_length);

    let mut idx: i64 = 43;
    if idx > limit {
        return;
    }
    idx += 1 + b.i8(idx);
    if idx + 2 > limit {
        return;
    }
    idx += 2 + b.be16(idx);
    if idx > limit {
        return;
    }
    idx += 1 + b.i8(idx);
    if idx + 2 > limit {
        return;
    }
    let all_ext_len = b.be16(idx);
    idx += 2;

    let mut ii: i64 = 0;
    while ii < all_ext_len && idx + ii < limit {
        if idx + ii + 2 > limit {
            return;
        }
        let ext_type = b.be16(idx + ii);
        ii += 2;
        if idx + ii + 2 > limit {
            return;
        }
        let mut ext_len = b.be16(idx + ii);
        ii += 2;
        match ext_type {
            0x0000 => {
                if idx + ii + 2 > limit {
                    return;
                }
                let next = ii + ext_len;
                ii += 3;
                if idx + ii + 2 > limit {
                    return;
                }
                let name_len = b.be16(idx + ii);
                ii += 2;
                if idx + ii > limit {
                    return;
                }
                let n = name_len.min(NAME_MAX as i64).min(limit - (idx + ii)).max(0);
                let name = c_str(b.slice(idx + ii, n));
                if host_like(name) {
                    out.sni = Some(name);
                }
                ii = next;
            }
            0x3374 => {
                out.npnalpn |= if ext_len == 0 {
                    npn::NPN_EMPTY
                } else {
                    parse_npnalpn(b, idx + ii, limit, ext_len, true)
                };
                ii += ext_len;
            }
            0x0010 => {
                if ext_len == 0 {
                    out.npnalpn |= npn::ALPN_EMPTY;
                } else {
                    if idx + ii + 2 > limit {
                        return;
                    }
                    ext_len = b.be16(idx + ii);
                    ii += 2;
                    out.npnalpn |= parse_npnalpn(b, idx + ii, limit, ext_len, false);
                }
                ii += ext_len;
            }
            0x002b => {
                if ext_len != 0 {
                    if idx + ii + 2 >= limit {
                        return;
                    }
                    let versions_length = b.i8(idx + ii);
                    if versions_length < 0 || idx + ii + 1 + versions_length >= limit {
                        return;
                    }
                    let mut list = VersionList::default();
                    let mut j = 0;
                    while j < versions_length {
                        // Tstat stops appending once the text reaches 74 characters.
                        if j == 0 || list.len < 74 {
                            list.push(b.be16(idx + ii + 1 + j) as u16);
                        }
                        j += 2;
                    }
                    out.versions = Some(list);
                }
                ii += ext_len;
            }
            0x0029 => {
                out.psk = true;
                ii += ext_len;
            }
            0x002a => {
                out.early_data = true;
                ii += ext_len;
            }
            _ => ii += ext_len,
        }
    }
}

/// Parses a ServerHello that starts the payload, or returns `None` if the payload does not
/// start with one (Tstat's `ssl_server_check`). `payload_len` is the IP payload length.
pub(crate) fn parse_server_hello(data: &[u8], payload_len: u32) -> Option<ServerHello> {
    let b = Peek(data);
    if payload_len < 5 || !handshake_header(b, 0x02) {
        return None;
    }
    let mut out = ServerHello {
        msg_version: b.be16(9) as u16,
        ..ServerHello::default()
    };
    let message_length = 5 + b.be16(3);
    if payload_len > 43 && b.eq_at(11, &HELLO_RETRY_MAGIC) {
        out.retry = true;
    }
    let limit = b.len().min(message_length);
    let mut idx: i64 = 43;
    if idx >= i64::from(payload_len) {
        return Some(out);
    }
    let sid = b.i8(idx);
    idx += if sid == 0 { 1 } else { sid + 1 };
    if idx + 2 >= limit {
        return Some(out);
    }
    idx += 2;
    if b.u8(idx) != 0 {
        idx += b.be16(idx) + 2;
    } else {
        idx += 1;
    }
    if idx + 2 >= limit {
        return Some(out);
    }
    let all_ext_len = b.be16(idx);
    idx += 2;
    let mut ii: i64 = 0;
    while ii < all_ext_len && idx < limit {
        let ext_type = b.be16(idx + ii);
        ii += 2;
        if idx + ii + 2 >= limit {
            break;
        }
        let mut ext_len = b.be16(idx + ii);
        ii += 2;
        match ext_type {
            0x3374 if idx + ii < limit => {
                out.npnalpn |= parse_npnalpn(b, idx + ii, limit, ext_len, true);
            }
            0x0010 => {
                if idx + ii + 2 >= limit {
                    return Some(out);
                }
                ext_len = b.be16(idx + ii);
                ii += 2;
                out.npnalpn |= parse_npnalpn(b, idx + ii, limit, ext_len, false);
            }
            0x002b if ext_len != 0 => {
                if idx + ii + 1 >= limit {
                    return Some(out);
                }
                out.version = Some(b.be16(idx + ii) as u16);
            }
            0x0029 => out.psk = true,
            _ => {}
        }
        ii += ext_len;
    }
    Some(out)
}

/// Tstat's `ssl_parse_npnalpn_extension`: the protocol list at `start` (length `ext_len`).
/// An empty protocol name replaces the bits found so far by the "empty" bit.
fn parse_npnalpn(b: Peek<'_>, start: i64, limit: i64, ext_len: i64, is_npn: bool) -> u8 {
    let (empty, spdy, h2, http) = if is_npn {
        (npn::NPN_EMPTY, npn::NPN_SPDY, npn::NPN_H2, npn::NPN_HTTP)
    } else {
        (
            npn::ALPN_EMPTY,
            npn::ALPN_SPDY,
            npn::ALPN_H2,
            npn::ALPN_HTTP,
        )
    };
    let mut res = 0u8;
    let mut iii: i64 = 0;
    let mut safety = 20;
    while iii < ext_len && start + iii < limit && safety > 0 {
        let len = i64::from(b.u8(start + iii));
        safety -= 1;
        if len == 0 {
            res = empty;
            break;
        }
        iii += 1;
        let p = start + iii;
        if p + len > limit {
            break;
        } else if b.eq_at(p, b"spdy/") {
            res |= spdy;
        } else if b.u8(p) == b'h'
            && b.u8(p + 1) == b'2'
            && (b.u8(p - 1) == 2 || b.u8(p + 2) == b'-')
        {
            res |= h2;
        } else if b.eq_at(p, b"http/") {
            res |= http;
        }
        iii += len;
    }
    res
}

/// Tstat's `ssl_certificate_check`: the first commonName (OID 2.5.4.3) in the segment that
/// passes the host-name check. `Some(None)` means a CN looked like a host name but contained
/// control or space characters: the scan stops without a result.
pub(crate) fn scan_common_name(data: &[u8]) -> Option<Option<&[u8]>> {
    let b = Peek(data);
    let len = b.len();
    if len < 30 {
        return None;
    }
    let mut i: i64 = 0;
    while i < len - 7 {
        if b.u8(i) == 0x06
            && b.u8(i + 1) == 0x03
            && b.u8(i + 2) == 0x55
            && b.u8(i + 3) == 0x04
            && b.u8(i + 4) == 0x03
        {
            // The length byte is a C `char`: 0x80 and above copy nothing.
            let max = b.i8(i + 6);
            let n = max.min(NAME_MAX as i64).min(len - i).max(0);
            let name = c_str(b.slice(i + 7, n));
            if subject_like(name) {
                return Some(clean(name).then_some(name));
            }
        }
        i += 1;
    }
    None
}

/// An Application Data record header (`0x17 0x03 0x00-0x03`).
#[inline]
pub(crate) fn is_application_data(p: &[u8]) -> bool {
    let q = Peek(p);
    q.u8(0) == 0x17 && q.u8(1) == 0x03 && q.u8(2) <= 0x03
}

/// Whether a name passes both of Tstat's checks: it ends with `label.label` (2–24
/// alphanumerics in the last label, an optional final dot) and has no control or space
/// character.
#[inline]
pub(crate) fn host_like(name: &[u8]) -> bool {
    subject_like(name) && clean(name)
}

/// Tstat's `[A-Za-z0-9]+\.[A-Za-z0-9]{2,24}\.?$`.
fn subject_like(name: &[u8]) -> bool {
    let t = name.strip_suffix(b".").unwrap_or(name);
    let last = t
        .iter()
        .rev()
        .take_while(|c| c.is_ascii_alphanumeric())
        .count();
    if !(2..=24).contains(&last) {
        return false;
    }
    let rest = &t[..t.len() - last];
    match rest.strip_suffix(b".") {
        Some(before) => before.last().is_some_and(|c| c.is_ascii_alphanumeric()),
        None => false,
    }
}

/// No control (0x00–0x1f, 0x7f) or space character.
fn clean(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&c| !(c < 0x20 || c == 0x7f || c == b' '))
}

/// Tstat's `ssh_header_check`: `SSH-1.x`/`SSH-2.x` with a digit after the dot.
#[inline]
pub(crate) fn ssh_banner(p: &[u8]) -> bool {
    let q = Peek(p);
    matches!(q.u8(4), b'1' | b'2') && q.u8(5) == b'.' && q.u8(6).is_ascii_digit()
}

/// Tstat's `get_fb0_tags`: `None` if the payload has no `CHLO` at offset 9; otherwise the
/// SNI tag value that passed the host-name check, if any.
pub(crate) fn fb0_chlo(data: &[u8]) -> Option<Option<&[u8]>> {
    let b = Peek(data);
    let len = b.len();
    if !(len > 14 && b.eq_at(9, b"CHLO")) {
        return None;
    }
    let mut sni = None;
    let tags = i64::from(b.u8(13));
    let tag_start: i64 = 17;
    let values_start = tag_start + tags * 8;
    if len >= 17 + 8 * tags {
        let mut last_offset: i64 = 0;
        for i in 0..tags {
            let tag = tag_start + i * 8;
            let offset = i64::from(b.u8(tag + 4));
            if len >= values_start + offset && b.eq_at(tag, b"SNI") {
                // A decreasing offset would make Tstat copy a negative length.
                let n = (offset - last_offset).min(119);
                if n >= 0 {
                    let name = c_str(b.slice(values_start + last_offset, n));
                    if host_like(name) {
                        sni = Some(name);
                    }
                }
            }
            last_offset = offset;
        }
    }
    Some(sni)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TLS 1.3-style ClientHello: record header, handshake header, version 0x0303, random,
    /// a 32-byte session id, two cipher suites, null compression, then SNI
    /// `www.example.com`, ALPN `h2` + `http/1.1`, supported_versions `0a0a,0304,0303`,
    /// early_data, and a pre_shared_key placeholder last.
    fn client_hello() -> Vec<u8> {
        let mut ext = Vec::new();
        // server_name: list len, type host_name, name len, name.
        let name = b"www.example.com";
        ext.extend_from_slice(&[0x00, 0x00]);
        ext.extend_from_slice(&((name.len() + 5) as u16).to_be_bytes());
        ext.extend_from_slice(&((name.len() + 3) as u16).to_be_bytes());
        ext.push(0);
        ext.extend_from_slice(&(name.len() as u16).to_be_bytes());
        ext.extend_from_slice(name);
        // ALPN: ext len 14, list len 12, "h2", "http/1.1".
        ext.extend_from_slice(&[0x00, 0x10, 0x00, 0x0e, 0x00, 0x0c, 2, b'h', b'2', 8]);
        ext.extend_from_slice(b"http/1.1");
        // supported_versions: ext len 7, list len 6.
        ext.extend_from_slice(&[
            0x00, 0x2b, 0x00, 0x07, 6, 0x0a, 0x0a, 0x03, 0x04, 0x03, 0x03,
        ]);
        // early_data (empty).
        ext.extend_from_slice(&[0x00, 0x2a, 0x00, 0x00]);
        // pre_shared_key (4 bytes of filler).
        ext.extend_from_slice(&[0x00, 0x29, 0x00, 0x04, 0, 0, 0, 0]);

        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[0x11; 32]); // random
        body.push(32);
        body.extend_from_slice(&[0x22; 32]); // session id
        body.extend_from_slice(&[0x00, 0x04, 0x13, 0x01, 0x13, 0x02]); // cipher suites
        body.extend_from_slice(&[0x01, 0x00]); // compression
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);

        let mut hs = vec![0x01, 0x00];
        hs.extend_from_slice(&(body.len() as u16).to_be_bytes());
        hs.extend_from_slice(&body);
        let mut rec = vec![0x16, 0x03, 0x01];
        rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        rec.extend_from_slice(&hs);
        rec
    }

    #[test]
    fn client_hello_fields() {
        let rec = client_hello();
        assert!(is_client_hello(&rec));
        assert_eq!(record_len(&rec), rec.len());
        let mut ch = ClientHello::default();
        parse_client_hello(&rec, &mut ch);
        assert_eq!(ch.msg_version, 0x0303);
        assert_eq!(ch.sni, Some(&b"www.example.com"[..]));
        assert_eq!(ch.npnalpn, npn::ALPN_H2 | npn::ALPN_HTTP);
        assert_eq!(ch.versions.unwrap().as_bytes(), b"0a0a,0304,0303");
        assert!(ch.early_data);
        assert!(ch.psk);
        // Session id present: byte 43 is its length.
        assert_eq!(rec[43], 32);
    }

    #[test]
    fn client_hello_truncated_keeps_what_was_read() {
        let rec = client_hello();
        // Cut inside the ALPN extension: SNI was read, nothing after.
        let cut = rec.len() - 40;
        let mut ch = ClientHello::default();
        parse_client_hello(&rec[..cut], &mut ch);
        assert_eq!(ch.sni, Some(&b"www.example.com"[..]));
        assert!(ch.versions.is_none());
        assert!(!ch.psk);
        // Garbage never panics.
        for n in 0..rec.len() {
            let mut ch = ClientHello::default();
            parse_client_hello(&rec[..n], &mut ch);
        }
        let mut junk = rec.clone();
        for b in junk.iter_mut().skip(40) {
            *b = 0xff;
        }
        let mut ch = ClientHello::default();
        parse_client_hello(&junk, &mut ch);
    }

    #[test]
    fn supported_versions_at_the_very_end_is_not_read() {
        // Tstat's `>=` bound: the list must end before the hello does.
        let mut rec = client_hello();
        // Drop early_data and pre_shared_key (12 bytes) so supported_versions is last.
        rec.truncate(rec.len() - 12);
        let fix = |rec: &mut Vec<u8>, at: usize, delta: usize| {
            let v = u16::from_be_bytes([rec[at], rec[at + 1]]) as usize - delta;
            rec[at..at + 2].copy_from_slice(&(v as u16).to_be_bytes());
        };
        fix(&mut rec, 3, 12);
        fix(&mut rec, 7, 12);
        let ext_at = 43 + 1 + 32 + 6 + 2;
        fix(&mut rec, ext_at, 12);
        let mut ch = ClientHello::default();
        parse_client_hello(&rec, &mut ch);
        assert!(ch.versions.is_none());
        assert_eq!(ch.npnalpn, npn::ALPN_H2 | npn::ALPN_HTTP);
    }

    /// ServerHello (TLS 1.3): empty session id echo, one cipher, null compression,
    /// supported_versions 0x0304 then key_share (4 filler bytes).
    fn server_hello(random: [u8; 32]) -> Vec<u8> {
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&random);
        body.push(0); // session id
        body.extend_from_slice(&[0x13, 0x01, 0x00]);
        let ext = [
            0x00, 0x2b, 0x00, 0x02, 0x03, 0x04, 0x00, 0x33, 0x00, 0x04, 1, 2, 3, 4,
        ];
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
        let mut hs = vec![0x02, 0x00];
        hs.extend_from_slice(&(body.len() as u16).to_be_bytes());
        hs.extend_from_slice(&body);
        let mut rec = vec![0x16, 0x03, 0x03];
        rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        rec.extend_from_slice(&hs);
        rec
    }

    #[test]
    fn server_hello_fields() {
        let rec = server_hello([7; 32]);
        let sh = parse_server_hello(&rec, rec.len() as u32).unwrap();
        assert_eq!(sh.msg_version, 0x0303);
        assert_eq!(sh.version, Some(0x0304));
        assert!(!sh.retry && !sh.psk);
        let hrr = server_hello(HELLO_RETRY_MAGIC);
        assert!(parse_server_hello(&hrr, hrr.len() as u32).unwrap().retry);
        // An Alert record first is not a ServerHello.
        assert!(parse_server_hello(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28], 7).is_none());
        for n in 0..rec.len() {
            let _ = parse_server_hello(&rec[..n], n as u32);
        }
    }

    #[test]
    fn server_alpn() {
        // ServerHello (TLS 1.2) choosing ALPN h2.
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[5; 32]);
        body.push(0);
        body.extend_from_slice(&[0xc0, 0x2f, 0x00]);
        let ext = [
            0xff, 0x01, 0x00, 0x01, 0x00, 0x00, 0x10, 0x00, 0x05, 0x00, 0x03, 2, b'h', b'2',
        ];
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
        let mut rec = vec![
            0x16,
            0x03,
            0x03,
            0x00,
            (body.len() + 4) as u8,
            0x02,
            0x00,
            0x00,
        ];
        rec.push(body.len() as u8);
        rec.extend_from_slice(&body);
        rec.extend_from_slice(&[0x16, 0x03, 0x03, 0x00, 0x10]); // next record
        let sh = parse_server_hello(&rec, rec.len() as u32).unwrap();
        assert_eq!(sh.npnalpn, npn::ALPN_H2);
    }

    #[test]
    fn certificate_common_name() {
        // Certificate record: the issuer CN "GTS CA 1C3" fails the host-name check, the
        // subject CN "www.example.org" passes.
        let mut rec = vec![0x16, 0x03, 0x03, 0x10, 0x00, 0x0b, 0x00, 0x0f, 0xfc];
        rec.extend_from_slice(&[0x30; 20]);
        rec.extend_from_slice(&[0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 10]);
        rec.extend_from_slice(b"GTS CA 1C3");
        rec.extend_from_slice(&[0x30, 0x1e]);
        rec.extend_from_slice(&[0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 15]);
        rec.extend_from_slice(b"www.example.org");
        rec.extend_from_slice(&[0x30; 8]);
        assert_eq!(scan_common_name(&rec), Some(Some(&b"www.example.org"[..])));
        assert_eq!(scan_common_name(&rec[..20]), None);
        for n in 0..rec.len() {
            let _ = scan_common_name(&rec[..n]);
        }
    }

    #[test]
    fn host_name_check() {
        assert!(host_like(b"www.google.com"));
        assert!(host_like(b"192.168.115.75"));
        assert!(host_like(b"example.com."));
        assert!(!host_like(b"localhost"));
        assert!(!host_like(b"a.b"));
        assert!(!host_like(b".com"));
        assert!(!host_like(b"GTS CA 1C3"));
        assert!(!host_like(b"bad name.com"));
        assert!(!host_like(b"x.abcdefghijklmnopqrstuvwxyz"));
    }

    #[test]
    fn application_data_and_ssh() {
        assert!(is_application_data(&[0x17, 0x03, 0x03, 0x00, 0x20]));
        assert!(!is_application_data(&[0x16, 0x03, 0x03]));
        assert!(ssh_banner(b"SSH-2.0-OpenSSH_8.9\r\n"));
        assert!(ssh_banner(b"SSH-1.99-x"));
        assert!(!ssh_banner(b"SSH-3.0-x"));
    }

    #[test]
    fn sslv2_hello() {
        let mut p = vec![0x80, 0x7c, 0x01, 0x03, 0x01];
        p.resize(126, 0);
        assert!(is_sslv2_client_hello(&p, 126));
        assert!(!is_sslv2_client_hello(&p, 127));
    }

    #[test]
    fn fb0_sni() {
        // "1QTV" framing, CHLO at 9, 2 tags: SNI (end offset 14) and ALPN (end 18).
        let mut p = b"1QTV\x00\x00\x00\x00\x00CHLO\x02\x00\x00\x00".to_vec();
        p.extend_from_slice(b"SNI\x00\x0e\x00\x00\x00ALPN\x12\x00\x00\x00");
        p.extend_from_slice(b"www.fbzero.com");
        p.extend_from_slice(b"h2h2");
        assert_eq!(fb0_chlo(&p), Some(Some(&b"www.fbzero.com"[..])));
        assert_eq!(fb0_chlo(b"1QTV00000XXXX0000"), None);
    }
}
