//! The QUIC columns that need the ClientHello (`quic_SNI`, `quic_UA`, `quic_ech`), as Tstat
//! built with OpenSSL extracts them (`search_QUIC_client_hello`, `search_QUIC_SNI` in `udp.c`).
//!
//! For every well-formed Initial (either direction, while the flow is not yet QUIC both ways)
//! Tstat derives the v1 Initial keys from the packet's DCID, removes header protection
//! assuming a one-byte packet number, decrypts the rest of the captured datagram with
//! AES-128-GCM (without checking the tag), collects the CRYPTO frames (offsets taken relative
//! to what was already collected) and appends them to a per-flow buffer of at most 9000 bytes.
//! After each Initial it parses that buffer as a ClientHello: the first server name passing
//! Tstat's host-name pattern, the first Google user agent transport parameter (0x3129), both
//! percent-encoded, and the length of an Encrypted Client Hello extension.
//!
//! Owns the per-flow reassembly buffer ([`Hello`]), allocated once, on the flow's first Initial,
//! with the Initial keys of the DCIDs the flow's Initials carried: where Tstat derives them
//! (HKDF-SHA256) for every Initial, here they are derived once per DCID. The buffer is parsed
//! again only when an Initial added to it. Where Tstat reads memory it never wrote (gaps
//! between CRYPTO frames, bytes past a buffer) zeros are read here.

use super::behavioral::{varint, QuicHdr};
use super::crypto::{gcm_ctr, Aes128, Prk, Salt};
use std::sync::OnceLock;

/// `QUIC_MAX_ACCUL`: the ClientHello buffer never reaches this size.
const MAX_ACCUL: usize = 9000;
/// `QUIC_MAX_PKT`: size of Tstat's decryption buffers.
const MAX_PKT: usize = 1500;
/// Longest name or user agent Tstat copies before percent-encoding it.
const NAME_MAX: usize = 79;
const UA_MAX: usize = 80;

/// `initial_salt` of QUIC v1 (RFC 9001 §5.2); Tstat uses it whatever the version.
const SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad,
    0xcc, 0xbb, 0x7f, 0x0a,
];

/// TLS 1.3 `HkdfLabel` structures (length, label, empty context).
const LABEL_CLIENT_IN: &[u8] = b"\x00\x20\x0ftls13 client in\x00";
const LABEL_KEY: &[u8] = b"\x00\x10\x0etls13 quic key\x00";
const LABEL_IV: &[u8] = b"\x00\x0c\x0dtls13 quic iv\x00";
const LABEL_HP: &[u8] = b"\x00\x10\x0dtls13 quic hp\x00";

/// Client Initial protection keys derived from a DCID.
#[derive(Debug)]
pub(super) struct Keys {
    pub key: [u8; 16],
    pub iv: [u8; 12],
    pub hp: [u8; 16],
}

/// RFC 9001 §5.2 key derivation for the client side.
pub(super) fn client_keys(dcid: &[u8]) -> Keys {
    static SALT: OnceLock<Salt> = OnceLock::new();
    let (_, initial) = SALT.get_or_init(|| Salt::new(&SALT_V1)).extract(dcid);
    let mut secret = [0u8; 32];
    initial.expand(LABEL_CLIENT_IN, &mut secret);
    let secret = Prk::new(&secret);
    let mut k = Keys {
        key: [0; 16],
        iv: [0; 12],
        hp: [0; 16],
    };
    secret.expand(LABEL_KEY, &mut k.key);
    secret.expand(LABEL_IV, &mut k.iv);
    secret.expand(LABEL_HP, &mut k.hp);
    k
}

/// Most DCIDs whose keys a flow keeps: a handshake uses the client's first DCID, the
/// client's SCID (server Initials) and the server's SCID (later client Initials).
const MAX_KEYS: usize = 4;

/// The client Initial keys [`client_keys`] derived from one DCID. The AES key schedules are
/// not kept: expanding them is cheap next to HKDF, and they would take 1.4 kB per DCID.
#[derive(Debug)]
struct DcidKeys {
    dcid: [u8; 20],
    dcid_len: u8,
    keys: Keys,
}

/// The keys for `dcid`, derived on the first Initial carrying it and then kept: the
/// derivation (HKDF-SHA256) depends on the DCID only, as Tstat uses the v1 salt whatever the
/// version. At most [`MAX_KEYS`] DCIDs are kept, the oldest replaced first.
fn keys_for<'a>(cache: &'a mut Vec<DcidKeys>, next: &mut u8, dcid: &[u8]) -> &'a Keys {
    if let Some(i) = cache
        .iter()
        .position(|k| &k.dcid[..usize::from(k.dcid_len)] == dcid)
    {
        return &cache[i].keys;
    }
    let mut id = [0u8; 20];
    id[..dcid.len()].copy_from_slice(dcid);
    let entry = DcidKeys {
        dcid: id,
        dcid_len: dcid.len() as u8,
        keys: client_keys(dcid),
    };
    let i = if cache.len() < MAX_KEYS {
        cache.push(entry);
        cache.len() - 1
    } else {
        let i = usize::from(*next) % MAX_KEYS;
        *next = next.wrapping_add(1);
        cache[i] = entry;
        i
    };
    &cache[i].keys
}

/// Per-flow ClientHello reassembly and what was found in it.
#[derive(Debug, Default)]
pub(super) struct Hello {
    /// Initial keys of the DCIDs seen so far (see [`keys_for`]).
    keys: Vec<DcidKeys>,
    /// Slot of `keys` the next new DCID replaces once it is full.
    next_key: u8,
    /// `quic_client_hello`: collected CRYPTO data.
    buf: Vec<u8>,
    /// Percent-encoded server name (empty: none yet).
    sni: Vec<u8>,
    /// Percent-encoded user agent (empty: none yet).
    ua: Vec<u8>,
    /// Length of the last Encrypted Client Hello extension seen.
    ech: u32,
}

impl Hello {
    /// A well-formed Initial was seen (`p` is the UDP payload, `h` its parsed header).
    pub(super) fn on_initial(&mut self, p: &[u8], h: &QuicHdr) {
        // Parsing the same buffer again finds the same fields (the SNI and the UA are kept
        // once found, the ECH length is the last one in the buffer): only new data needs it.
        if self.collect(p, h) {
            self.parse();
        }
    }

    /// The percent-encoded SNI (empty if none).
    pub(super) fn sni(&self) -> &[u8] {
        &self.sni
    }

    /// The percent-encoded Google user agent (empty if none).
    pub(super) fn user_agent(&self) -> &[u8] {
        &self.ua
    }

    /// `quic_ech`.
    pub(super) fn ech(&self) -> u32 {
        self.ech
    }

    /// `search_QUIC_client_hello`; whether CRYPTO data was appended to the buffer.
    fn collect(&mut self, p: &[u8], h: &QuicHdr) -> bool {
        let dcid_len = usize::from(h.dcid_len);
        // Offsets below are Tstat's, counted from the UDP header.
        let data_len = p.len() + 8;
        let off = 18 + dcid_len + usize::from(h.scid_len) + usize::from(h.token_len);
        if data_len < off || off < 19 || off + 3 + 16 > data_len {
            return false;
        }
        let at = |o: usize| o - 8;
        // The DCID as copied by `check_QUIC` (zeros if it was not parsed).
        let mut dcid = [0u8; 20];
        if let Some(d) = p.get(6..6 + dcid_len) {
            dcid[..dcid_len].copy_from_slice(d);
        }
        let keys = keys_for(&mut self.keys, &mut self.next_key, &dcid[..dcid_len]);
        let mut sample = [0u8; 16];
        sample.copy_from_slice(&p[at(off + 3)..at(off + 3) + 16]);
        let mask = Aes128::new(&keys.hp).encrypt(&sample);
        let pkn = p[at(off - 1)] ^ mask[1];
        let mut iv = keys.iv;
        iv[11] ^= pkn;

        let mut plain = [0u8; MAX_PKT];
        let plen = (data_len - off).min(MAX_PKT);
        plain[..plen].copy_from_slice(&p[at(off)..at(off) + plen]);
        gcm_ctr(&Aes128::new(&keys.key), &iv, &mut plain[..plen]);

        let mut hello = [0u8; MAX_PKT];
        let have = self.buf.len() as u64;
        let mut accul = 0usize;
        let mut i = 0usize;
        let mut iterations = 0usize;
        let limit = h.pkt_len.saturating_sub(18);
        while i + 16 < plen && iterations <= MAX_PKT && (i as u64) < limit {
            iterations += 1;
            match plain[i] {
                0x00 | 0x01 => i += 1,
                0x06 => {
                    let (mut offset, n1) = varint(&plain[..], i + 1);
                    let (length, n2) = varint(&plain[..], i + 1 + n1);
                    let hdr = (n1 + n2) % 256;
                    if have <= offset {
                        offset -= have;
                    }
                    let start = i + 1 + hdr;
                    let fits = (start as u64).saturating_add(length) <= plen as u64
                        && offset.saturating_add(length) <= MAX_PKT as u64;
                    if !fits {
                        break;
                    }
                    let (o, l) = (offset as usize, length as usize);
                    hello[o..o + l].copy_from_slice(&plain[start..start + l]);
                    i = start + l;
                    accul += l;
                }
                _ => break,
            }
        }
        if accul > 0 && self.buf.len() + accul < MAX_ACCUL {
            self.buf.extend_from_slice(&hello[..accul.min(MAX_PKT)]);
            return true;
        }
        false
    }

    /// `search_QUIC_SNI` over the collected buffer.
    fn parse(&mut self) {
        let ch = &self.buf[..];
        let max = ch.len() as i64;
        let u8_at = |i: i64| usize::try_from(i).ok().and_then(|i| ch.get(i)).copied();
        // Tstat's buffer is `char *`: single length bytes are signed.
        let i8_at = |i: i64| i64::from(u8_at(i).unwrap_or(0) as i8);
        let be16 = |i: i64| {
            i64::from(u16::from_be_bytes([
                u8_at(i).unwrap_or(0),
                u8_at(i + 1).unwrap_or(0),
            ]))
        };
        let mut idx: i64 = 38;
        if idx >= max {
            return;
        }
        idx += 1 + i8_at(idx);
        if idx + 2 > max || idx < 0 {
            return;
        }
        idx += 2 + be16(idx);
        if idx >= max {
            return;
        }
        idx += 1 + i8_at(idx);
        if idx + 2 > max || idx < 0 {
            return;
        }
        let all_ext = be16(idx);
        idx += 2;
        let mut ii: i64 = 0;
        while ii < all_ext && idx + ii < max {
            if idx + ii + 2 > max {
                return;
            }
            let ext_type = be16(idx + ii);
            ii += 2;
            if idx + ii + 2 > max {
                return;
            }
            let ext_len = be16(idx + ii);
            ii += 2;
            match ext_type {
                0x0000 => {
                    if idx + ii + 2 > max {
                        return;
                    }
                    let next = ii + ext_len;
                    ii += 3;
                    if idx + ii + 2 > max {
                        return;
                    }
                    let name_len = be16(idx + ii);
                    ii += 2;
                    if idx + ii > max {
                        return;
                    }
                    let start = (idx + ii) as usize;
                    let n = (name_len.min(NAME_MAX as i64)).min(max - idx - ii).max(0) as usize;
                    let name = c_str(&ch[start..start + n]);
                    if self.sni.is_empty() && subject_like(name) {
                        self.sni = url_encode(name);
                    }
                    ii = next;
                }
                0x0039 => {
                    let mut this_ii = ii;
                    let mut iterations = 0;
                    while this_ii < ii + ext_len && this_ii >= 0 && iterations <= MAX_PKT {
                        let base = idx + this_ii;
                        if base + 4 > max {
                            return;
                        }
                        let (ptype, n1) = varint(ch, base as usize);
                        if base + n1 as i64 + 4 > max {
                            return;
                        }
                        let (plen, n2) = varint(ch, base as usize + n1);
                        let hdr = ((n1 + n2) % 256) as i64;
                        let value = base + hdr;
                        if ptype == 0x3129 {
                            if (value as u64).saturating_add(plen) > max as u64 {
                                return;
                            }
                            let n = plen.min(UA_MAX as u64) as usize;
                            let v = c_str(&ch[value as usize..value as usize + n]);
                            if self.ua.is_empty() {
                                self.ua = url_encode(v);
                            }
                        }
                        // Tstat adds the 64-bit length to an `int`.
                        this_ii = (this_ii as i32)
                            .wrapping_add((hdr as u64).wrapping_add(plen) as i32)
                            as i64;
                        iterations += 1;
                    }
                    ii += ext_len;
                }
                0xfe0d => {
                    self.ech = ext_len as u32;
                    ii += ext_len;
                }
                _ => ii += ext_len,
            }
        }
    }
}

/// The bytes before the first NUL (what C string functions see).
fn c_str(b: &[u8]) -> &[u8] {
    memchr::memchr(0, b).map_or(b, |n| &b[..n])
}

/// Tstat's `re_ssl_subject` (`[A-Za-z0-9]+\.[A-Za-z0-9]{2,24}\.?$`). Its second check,
/// `re_ssl_clean` (`[^[:cntrl:][:space:]]+`, unanchored), always holds for such a name.
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
    rest.strip_suffix(b".")
        .and_then(|r| r.last())
        .is_some_and(|c| c.is_ascii_alphanumeric())
}

/// Tstat's `url_encode`: alphanumerics and `-_.~` kept, space → `+`, anything else `%xx`.
fn url_encode(s: &[u8]) -> Vec<u8> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::with_capacity(s.len());
    for &c in s {
        if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'~') {
            out.push(c);
        } else if c == b' ' {
            out.push(b'+');
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(c >> 4)], HEX[usize::from(c & 15)]]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::behavioral::parse_quic_hdr;
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn rfc9001_client_keys() {
        let k = client_keys(&hex("8394c8f03e515708"));
        assert_eq!(k.key.to_vec(), hex("1f369613dd76d5467730efcbe3b1a22d"));
        assert_eq!(k.iv.to_vec(), hex("fa044b2f42a3fd3b46fb255c"));
        assert_eq!(k.hp.to_vec(), hex("9f50449e04a0e810283a1e9933adedd2"));
    }

    #[test]
    fn keys_are_derived_once_per_dcid() {
        let (mut cache, mut next) = (Vec::new(), 0u8);
        let dcids: Vec<Vec<u8>> = (0..7u8).map(|i| vec![i; usize::from(i) * 3]).collect();
        for round in 0..2 {
            for d in &dcids {
                let want = client_keys(d);
                let got = keys_for(&mut cache, &mut next, d);
                assert_eq!((got.key, got.iv, got.hp), (want.key, want.iv, want.hp));
                let again = keys_for(&mut cache, &mut next, d);
                assert_eq!(again.key, want.key, "round {round}");
                assert!(cache.len() <= MAX_KEYS);
            }
        }
        // The cache keeps the latest DCIDs: the last one is found without replacing any.
        let before = next;
        keys_for(&mut cache, &mut next, &dcids[6]);
        assert_eq!((cache.len(), next), (MAX_KEYS, before));
    }

    /// A ClientHello body (handshake header included) with SNI, a Google UA transport
    /// parameter and an ECH extension.
    fn client_hello(sni: &[u8]) -> Vec<u8> {
        let mut ext = Vec::new();
        // server_name
        let mut sn = vec![0, 0];
        sn.extend_from_slice(&((sni.len() + 5) as u16).to_be_bytes());
        sn.extend_from_slice(&((sni.len() + 3) as u16).to_be_bytes());
        sn.push(0);
        sn.extend_from_slice(&(sni.len() as u16).to_be_bytes());
        sn.extend_from_slice(sni);
        ext.extend_from_slice(&sn);
        // quic_transport_parameters: initial_max_data, then google UA (0x3129).
        let ua = b"Chrome/120 Windows";
        let mut tp = vec![0x04, 0x02, 0x40, 0x10, 0x71, 0x29, ua.len() as u8];
        tp.extend_from_slice(ua);
        ext.extend_from_slice(&[0x00, 0x39]);
        ext.extend_from_slice(&(tp.len() as u16).to_be_bytes());
        ext.extend_from_slice(&tp);
        // encrypted_client_hello with 9 bytes.
        ext.extend_from_slice(&[0xfe, 0x0d, 0, 9]);
        ext.extend_from_slice(&[0xee; 9]);
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[0x11; 32]); // random
        body.push(0); // session id
        body.extend_from_slice(&[0, 2, 0x13, 0x01]); // cipher suites
        body.extend_from_slice(&[1, 0]); // compression
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
        let mut hs = vec![0x01, 0];
        hs.extend_from_slice(&(body.len() as u16).to_be_bytes());
        hs.extend_from_slice(&body);
        hs
    }

    /// A protected client Initial carrying `hello` in one CRYPTO frame, padded to 1200 bytes,
    /// with a one-byte packet number.
    fn protect(dcid: &[u8], hello: &[u8], pn: u8) -> Vec<u8> {
        let mut frames = vec![0x06, 0x00];
        frames.extend_from_slice(&(0x4000 | hello.len() as u16).to_be_bytes());
        frames.extend_from_slice(hello);
        let mut hdr = vec![0xc0, 0, 0, 0, 1, dcid.len() as u8];
        hdr.extend_from_slice(dcid);
        hdr.extend_from_slice(&[0, 0]); // SCID len, token len
        let total = 1200;
        let pkt_len = total - hdr.len() - 2;
        frames.resize(pkt_len - 1 - 16, 0); // PADDING
        hdr.extend_from_slice(&(0x4000 | pkt_len as u16).to_be_bytes());
        let pn_at = hdr.len();
        hdr.push(pn);
        let k = client_keys(dcid);
        let mut iv = k.iv;
        iv[11] ^= pn;
        let mut payload = frames;
        gcm_ctr(&Aes128::new(&k.key), &iv, &mut payload);
        payload.extend_from_slice(&[0xab; 16]); // tag (never checked)
        let mut pkt = hdr;
        pkt.extend_from_slice(&payload);
        let mut sample = [0u8; 16];
        sample.copy_from_slice(&pkt[pn_at + 4..pn_at + 20]);
        let mask = Aes128::new(&k.hp).encrypt(&sample);
        pkt[0] ^= mask[0] & 0x0f;
        pkt[pn_at] ^= mask[1];
        pkt
    }

    #[test]
    fn decrypts_sni_ua_and_ech() {
        let dcid = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];
        let pkt = protect(&dcid, &client_hello(b"www.example.com"), 0);
        let h = parse_quic_hdr(&pkt);
        assert_eq!(h.ptype, 0);
        let mut hello = Hello::default();
        hello.on_initial(&pkt, &h);
        assert_eq!(hello.sni(), b"www.example.com");
        assert_eq!(hello.user_agent(), b"Chrome%2f120+Windows");
        assert_eq!(hello.ech(), 9);
    }

    #[test]
    fn bad_names_and_garbage() {
        let dcid = [1, 2, 3, 4];
        let pkt = protect(&dcid, &client_hello(b"localhost"), 3);
        let h = parse_quic_hdr(&pkt);
        let mut hello = Hello::default();
        hello.on_initial(&pkt, &h);
        assert_eq!(hello.sni(), b"");
        // Random bytes shaped like an Initial never panic.
        for seed in 0..64u8 {
            let mut p: Vec<u8> = (0..300u16)
                .map(|i| (i as u8).wrapping_mul(seed) ^ 0x5a)
                .collect();
            p[0] = 0xc0;
            p[5] = seed % 21;
            let h = parse_quic_hdr(&p);
            hello.on_initial(&p, &h);
        }
        assert!(subject_like(b"a.bc."));
        assert!(!subject_like(b"a.b"));
        assert!(!subject_like(b".bc"));
        assert_eq!(url_encode(b"a b/\xc3"), b"a+b%2f%c3");
    }
}
