//! Tstat's address anonymisation (`-Y`, `-W`, `--keyvalue`, `--keyfile`, `--keybase64`).
//!
//! Addresses of the `-Y` networks that are not in a `-W` network are printed in the logs
//! after Crypto-PAn (Xu, Fan, Ammar, Moon 2002), the prefix-preserving anonymisation, and their
//! `c_iscrypto`/`s_iscrypto` flag is 1. The engine keeps the real addresses; the writer asks an
//! [`Anonymizer`] for the address to print, which caches every result (32 AES operations per
//! IPv4 address).
//!
//! Owns, as Tstat 3.3 does them (`crypto.c`, `panon.c`, `base64.c`):
//! * the 32-byte key: `--keyvalue STR` and `--keyfile FILE` use the bytes of the string (the
//!   first line of the file, without its newline, at most 119 bytes read) as key material, cut
//!   at 32 bytes or padded with zeros; `--keybase64 FILE` decodes the first line with Tstat's
//!   lenient Base64 decoder (invalid characters count as `A`) and cuts/pads the same way;
//!   without a key option 32 random bytes are used. The key is saved, Base64-encoded, as
//!   `<root>/CPanKey_<YYYY_MM_DD_HH_MM>` (local time of the first packet, like the output
//!   directory);
//! * Crypto-PAn on IPv4: AES-128 keyed with the first 16 key bytes, the pad is the encryption
//!   of the last 16; bit `i` of the one-time pad is the first bit of the encryption of the pad
//!   whose first `i` bits are replaced by the first `i` bits of the address. Tstat's cached
//!   variant (libtrace's `cpp_anonymize`, with Tstat's warm-up calls) gives the same results;
//! * IPv6 as Tstat does it ("a horrendous hack", says `crypto.c`): each of the four 32-bit words
//!   is XORed with a fixed mask and anonymised on its own with the IPv4 function. The masks are
//!   Tstat's `CRYPTO_IPV6_MASK_0..3` defaults ([`IPV6_MASKS`]); the last mask is 0, so
//!   `::a.b.c.d` ends with the anonymised `a.b.c.d`. Prefixes are preserved within each word
//!   only: two addresses that differ in word 0 may share their anonymised word 1.
//!
//! Membership follows Tstat's `crypto_ip()`: an empty `-Y` list (or one without entries of an
//! address family) anonymises nothing of that family, unlike `-N`.
//!
//! Deliberate differences: Tstat re-runs its key set-up for every output directory, so without
//! a key option every input file (without `-c`) gets a new random key while its address cache
//! keeps the mappings of the previous key; here one key is drawn per run and saved under each
//! directory's date, so an address maps to one value in the whole run. The IPv6 masks come from
//! the Tstat-derived sources available (an older `crypto.c` hard-codes 16-bit masks `0xffff`,
//! `0xf0f0`, `0x0f0f`, `0`; the later `CRYPTO_IPV6_MASK_*` defaults are the 32-bit
//! [`IPV6_MASKS`]); Tstat 3.3 makes them overridable in `-G` globals, which is not supported.

use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockEncrypt, KeyInit};
use aes::Aes128;
use anyhow::{bail, Context};
use engine::net::NetSet;
use std::collections::HashMap;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

/// Size of a Crypto-PAn key in bytes (16 bytes of AES-128 key, 16 bytes of pad seed).
pub const KEY_SIZE: usize = 32;

/// The masks Tstat XORs into the four 32-bit words of an IPv6 address before anonymising each
/// with the IPv4 function (`CRYPTO_IPV6_MASK_0..3`).
pub const IPV6_MASKS: [u32; 4] = [0xffff_ffff, 0xf0f0_f0f0, 0x0f0f_0f0f, 0x0000_0000];

/// Tstat's `Max_Crypto_Cache_Size`: how many anonymised addresses are kept per family.
pub const MAX_CACHE: usize = 130_000;

/// Tstat reads key files with `fgets(line, 120, fp)`: at most 119 bytes of the first line.
const KEY_LINE_MAX: usize = 119;

/// The Crypto-PAn function of one key.
#[derive(Clone)]
pub struct CryptoPan {
    cipher: Aes128,
    pad: [u8; 16],
}

impl std::fmt::Debug for CryptoPan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CryptoPan { .. }")
    }
}

impl CryptoPan {
    /// Crypto-PAn keyed with `key`: AES-128 with its first 16 bytes, the pad is the encryption
    /// of its last 16 bytes.
    pub fn new(key: &[u8; KEY_SIZE]) -> CryptoPan {
        let cipher = Aes128::new(GenericArray::from_slice(&key[..16]));
        let mut pad = GenericArray::clone_from_slice(&key[16..]);
        cipher.encrypt_block(&mut pad);
        CryptoPan {
            cipher,
            pad: pad.into(),
        }
    }

    /// The anonymised IPv4 address (as a host-order integer).
    pub fn anonymize_v4(&self, addr: u32) -> u32 {
        let pad_first = u32::from_be_bytes([self.pad[0], self.pad[1], self.pad[2], self.pad[3]]);
        let mut blocks = [GenericArray::from(self.pad); 32];
        for (pos, block) in blocks.iter_mut().enumerate() {
            // The first `pos` bits come from the address, the other 128 - pos from the pad.
            let first = if pos == 0 {
                pad_first
            } else {
                let keep = u32::MAX << (32 - pos);
                (addr & keep) | (pad_first & !keep)
            };
            block[..4].copy_from_slice(&first.to_be_bytes());
        }
        self.cipher.encrypt_blocks(&mut blocks);
        let otp = blocks.iter().enumerate().fold(0u32, |acc, (pos, b)| {
            acc | (u32::from(b[0] >> 7) << (31 - pos))
        });
        otp ^ addr
    }

    /// Tstat's IPv6 anonymisation: every 32-bit word, XORed with its [`IPV6_MASKS`] entry, goes
    /// through [`CryptoPan::anonymize_v4`].
    pub fn anonymize_v6(&self, addr: u128) -> u128 {
        let mut out = 0u128;
        for (i, mask) in IPV6_MASKS.iter().enumerate() {
            let shift = 96 - 32 * i;
            let word = (addr >> shift) as u32;
            out |= u128::from(self.anonymize_v4(word ^ mask)) << shift;
        }
        out
    }

    /// The anonymised address of either family.
    pub fn anonymize(&self, ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(self.anonymize_v4(u32::from(a)))),
            IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(self.anonymize_v6(u128::from(a)))),
        }
    }
}

/// Where the key comes from (Tstat's `CPKEY_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// 32 random bytes (no key option).
    Random,
    /// `--keyvalue STRING`: the string's bytes.
    Value(String),
    /// `--keyfile FILE`: the first line of the file, as text.
    File(PathBuf),
    /// `--keybase64 FILE`: the first line of the file, Base64-decoded.
    Base64File(PathBuf),
}

/// A key ready for use, with Tstat's remarks on how it was made (cut or padded).
#[derive(Clone, PartialEq, Eq)]
pub struct Key {
    /// The 32 key bytes.
    pub bytes: [u8; KEY_SIZE],
    /// Remarks for the operator ("key shorter than 32 bytes: padded with zeros").
    pub notes: Vec<String>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("bytes", &"<redacted>")
            .field("notes", &self.notes)
            .finish()
    }
}

/// Cuts or zero-pads key material to 32 bytes, as Tstat's `initialize_crypto` does.
pub fn key_from_material(material: &[u8]) -> Key {
    let mut bytes = [0u8; KEY_SIZE];
    let n = material.len().min(KEY_SIZE);
    bytes[..n].copy_from_slice(&material[..n]);
    let mut notes = Vec::new();
    if material.len() > KEY_SIZE {
        notes.push(format!(
            "key is too long: using only the first {KEY_SIZE} bytes"
        ));
    } else if material.len() < KEY_SIZE {
        notes.push(format!(
            "key shorter than {KEY_SIZE} bytes: padding with zeros"
        ));
    }
    Key { bytes, notes }
}

/// Makes the key from its source, as Tstat does.
pub fn derive_key(source: &KeySource) -> anyhow::Result<Key> {
    match source {
        KeySource::Random => {
            let mut bytes = [0u8; KEY_SIZE];
            std::fs::File::open("/dev/urandom")
                .and_then(|mut f| f.read_exact(&mut bytes))
                .context("cannot generate a random Crypto-PAn key from /dev/urandom")?;
            Ok(Key {
                bytes,
                notes: Vec::new(),
            })
        }
        KeySource::Value(s) => Ok(key_from_material(c_string(s.as_bytes()))),
        KeySource::File(p) => {
            let line = read_key_line(p)?;
            if line.is_empty() {
                bail!("{}: plain text key empty", p.display());
            }
            Ok(key_from_material(&line))
        }
        KeySource::Base64File(p) => {
            let line = read_key_line(p)?;
            let decoded = unbase64(&line)
                .with_context(|| format!("{}: Base64 decoding of the key failed", p.display()))?;
            Ok(key_from_material(&decoded))
        }
    }
}

/// The bytes before the first NUL (C's `strlen`).
fn c_string(b: &[u8]) -> &[u8] {
    b.iter().position(|&c| c == 0).map_or(b, |n| &b[..n])
}

/// Tstat's reading of a key file: `fgets` of at most 119 bytes (up to and including the first
/// newline), one trailing `\n` removed, then cut at the first NUL.
fn read_key_line(path: &Path) -> anyhow::Result<Vec<u8>> {
    let data =
        std::fs::read(path).with_context(|| format!("{}: cannot read the key", path.display()))?;
    if data.is_empty() {
        bail!("{}: cannot read a key from an empty file", path.display());
    }
    let mut line = &data[..data.len().min(KEY_LINE_MAX)];
    if let Some(n) = line.iter().position(|&c| c == b'\n') {
        line = &line[..=n];
    }
    let mut line = c_string(line);
    if let Some(stripped) = line.strip_suffix(b"\n") {
        line = stripped;
    }
    Ok(line.to_vec())
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard Base64 with `=` padding (Tstat's `base64()`, used for the saved key).
pub fn base64(bin: &[u8]) -> String {
    let mut s = String::with_capacity(bin.len().div_ceil(3) * 4);
    for chunk in bin.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                s.push(char::from(B64[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// Tstat's `unbase64()`: trusts its input. Characters outside the alphabet (and `=`) count as
/// `A` (0); `=` in the last two positions sets the padding; the decoded length is
/// `3·len/4 − pad`. Bytes the C code would leave unwritten are 0 here. `None` for fewer than
/// two characters, where Tstat fails too.
pub fn unbase64(ascii: &[u8]) -> Option<Vec<u8>> {
    let len = ascii.len();
    if len < 2 {
        return None;
    }
    let val = |i: usize| -> u8 {
        let c = ascii.get(i).copied().unwrap_or(0);
        B64.iter().position(|&b| b == c).map_or(0, |v| v as u8)
    };
    let pad = usize::from(ascii[len - 1] == b'=') + usize::from(ascii[len - 2] == b'=');
    let flen = (3 * len / 4).saturating_sub(pad);
    let mut bin = Vec::with_capacity(flen + 3);
    let mut char_no = 0usize;
    // `for (charNo = 0; charNo <= len - 4 - pad; charNo += 4)` with signed arithmetic.
    while (char_no as isize) <= len as isize - 4 - pad as isize {
        let (a, b, c, d) = (
            val(char_no),
            val(char_no + 1),
            val(char_no + 2),
            val(char_no + 3),
        );
        bin.push((a << 2) | (b >> 4));
        bin.push((b << 4) | (c >> 2));
        bin.push((c << 6) | d);
        char_no += 4;
    }
    if pad == 1 {
        let (a, b, c) = (val(char_no), val(char_no + 1), val(char_no + 2));
        bin.push((a << 2) | (b >> 4));
        bin.push((b << 4) | (c >> 2));
    } else if pad == 2 {
        let (a, b) = (val(char_no), val(char_no + 1));
        bin.push((a << 2) | (b >> 4));
    }
    bin.resize(flen, 0);
    Some(bin)
}

/// The anonymisation settings of a run: which addresses, and the key.
#[derive(Clone)]
pub struct CryptoConfig {
    /// `-Y` networks: their addresses are anonymised.
    pub nets: NetSet,
    /// `-W` networks: exempt from anonymisation.
    pub white: NetSet,
    /// The key.
    pub key: [u8; KEY_SIZE],
}

impl std::fmt::Debug for CryptoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CryptoConfig")
            .field("nets", &self.nets)
            .field("white", &self.white)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// Whether `ip` falls in one of the prefixes of its family in `set`; a family without
/// prefixes matches nothing (Tstat's `crypto_ip()`, not the `-N` default).
fn listed(set: &NetSet, ip: &IpAddr) -> bool {
    let (v4, v6) = set.len();
    let any = match ip {
        IpAddr::V4(_) => v4 > 0,
        IpAddr::V6(_) => v6 > 0,
    };
    any && set.is_internal(ip)
}

impl CryptoConfig {
    /// Whether `ip` is printed anonymised: in a `-Y` network and not in a `-W` one.
    pub fn is_crypto(&self, ip: &IpAddr) -> bool {
        listed(&self.nets, ip) && !listed(&self.white, ip)
    }

    /// Writes the key, Base64-encoded, to `<root>/CPanKey_<date>` as Tstat does, and returns
    /// the file's path. `date` is `YYYY_MM_DD_HH_MM` of the first packet (local time).
    pub fn save_key(&self, root: &Path, date: &str) -> anyhow::Result<PathBuf> {
        let path = root.join(format!("CPanKey_{date}"));
        std::fs::write(&path, format!("{}\n", base64(&self.key)))
            .with_context(|| format!("{}: cannot store the CPan key", path.display()))?;
        Ok(path)
    }
}

/// The writer's view of anonymisation: decides and caches the printed address of every
/// endpoint of one run.
#[derive(Debug)]
pub struct Anonymizer {
    conf: CryptoConfig,
    pan: CryptoPan,
    v4: HashMap<u32, u32>,
    v6: HashMap<u128, u128>,
}

impl Anonymizer {
    /// An anonymiser with an empty cache.
    pub fn new(conf: &CryptoConfig) -> Anonymizer {
        Anonymizer {
            pan: CryptoPan::new(&conf.key),
            conf: conf.clone(),
            v4: HashMap::new(),
            v6: HashMap::new(),
        }
    }

    /// Whether `ip` is printed anonymised.
    pub fn is_crypto(&self, ip: &IpAddr) -> bool {
        self.conf.is_crypto(ip)
    }

    /// The Crypto-PAn address of `ip`, from the cache when it was seen before.
    pub fn anonymized(&mut self, ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                let r = match self.v4.get(&a) {
                    Some(&r) => r,
                    None => {
                        let r = self.pan.anonymize_v4(a);
                        if self.v4.len() >= MAX_CACHE {
                            self.v4.clear();
                        }
                        self.v4.insert(a, r);
                        r
                    }
                };
                IpAddr::V4(Ipv4Addr::from(r))
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                let r = match self.v6.get(&a) {
                    Some(&r) => r,
                    None => {
                        let r = self.pan.anonymize_v6(a);
                        if self.v6.len() >= MAX_CACHE {
                            self.v6.clear();
                        }
                        self.v6.insert(a, r);
                        r
                    }
                };
                IpAddr::V6(Ipv6Addr::from(r))
            }
        }
    }

    /// The address to print for `ip` and its `iscrypto` flag.
    pub fn printed(&mut self, ip: IpAddr) -> (IpAddr, bool) {
        if self.is_crypto(&ip) {
            (self.anonymized(ip), true)
        } else {
            (ip, false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key of the sample in the Crypto-PAn reference distribution
    /// (`sample_trace_raw.dat` / `sample_trace_sanitized.dat`).
    const SAMPLE_KEY: [u8; 32] = [
        21, 34, 23, 141, 51, 164, 207, 128, 19, 10, 91, 22, 73, 144, 125, 16, 216, 152, 143, 131,
        121, 121, 101, 39, 98, 87, 76, 45, 42, 132, 34, 2,
    ];

    /// Raw → sanitized address pairs of that sample trace (as collected in the test suites of
    /// Yawning Angel's Go `cryptopan` and of several other Crypto-PAn ports).
    const SAMPLE_VECTORS: &[(&str, &str)] = &[
        ("128.11.68.132", "135.242.180.132"),
        ("129.118.74.4", "134.136.186.123"),
        ("130.132.252.244", "133.68.164.234"),
        ("141.223.7.43", "141.167.8.160"),
        ("141.233.145.108", "141.129.237.235"),
        ("152.163.225.39", "151.140.114.167"),
        ("156.29.3.236", "147.225.12.42"),
        ("165.247.96.84", "162.9.99.234"),
        ("166.107.77.190", "160.132.178.185"),
        ("192.102.249.13", "252.138.62.131"),
        ("192.215.32.125", "252.43.47.189"),
        ("192.233.80.103", "252.25.108.8"),
        ("192.41.57.43", "252.222.221.184"),
        ("193.150.244.223", "253.169.52.216"),
        ("195.205.63.100", "255.186.223.5"),
        ("198.200.171.101", "249.199.68.213"),
        ("198.26.132.101", "249.36.123.202"),
        ("198.36.213.5", "249.7.21.132"),
        ("198.51.77.238", "249.18.186.254"),
        ("199.217.79.101", "248.38.184.213"),
        ("202.49.198.20", "245.206.7.234"),
        ("203.12.160.252", "244.248.163.4"),
        ("204.184.162.189", "243.192.77.90"),
        ("204.202.136.230", "243.178.4.198"),
        ("204.29.20.4", "243.33.20.123"),
        ("205.178.38.67", "242.108.198.51"),
        ("205.188.147.153", "242.96.16.101"),
        ("205.188.248.25", "242.96.88.27"),
        ("205.245.121.43", "242.21.121.163"),
        ("207.105.49.5", "241.118.205.138"),
        ("207.135.65.238", "241.202.129.222"),
        ("207.155.9.214", "241.220.250.22"),
        ("207.188.7.45", "241.255.249.220"),
        ("207.25.71.27", "241.33.119.156"),
        ("207.33.151.131", "241.1.233.131"),
        ("208.147.89.59", "227.237.98.191"),
        ("208.234.120.210", "227.154.67.17"),
        ("208.28.185.184", "227.39.94.90"),
        ("208.52.56.122", "227.8.63.165"),
        ("209.12.231.7", "226.243.167.8"),
        ("209.238.72.3", "226.6.119.243"),
        ("209.246.74.109", "226.22.124.76"),
        ("209.68.60.238", "226.184.220.233"),
        ("209.85.249.6", "226.170.70.6"),
        ("212.120.124.31", "228.135.163.231"),
        ("212.146.8.236", "228.19.4.234"),
        ("212.186.227.154", "228.59.98.98"),
        ("212.204.172.118", "228.71.195.169"),
        ("212.206.130.201", "228.69.242.193"),
        ("216.148.237.145", "235.84.194.111"),
        ("216.157.30.252", "235.89.31.26"),
        ("216.184.159.48", "235.96.225.78"),
        ("216.227.10.221", "235.28.253.36"),
        ("216.254.18.172", "235.7.16.162"),
        ("216.32.132.250", "235.192.139.38"),
        ("216.35.217.178", "235.195.157.81"),
        ("24.0.250.221", "100.15.198.226"),
        ("24.13.62.231", "100.2.192.247"),
        ("24.14.213.138", "100.1.42.141"),
        ("24.5.0.80", "100.9.15.210"),
        ("24.7.198.88", "100.10.6.25"),
        ("24.94.26.44", "100.88.228.35"),
        ("38.15.67.68", "64.3.66.187"),
        ("4.3.88.225", "124.60.155.63"),
        ("63.14.55.111", "95.9.215.7"),
        ("63.195.241.44", "95.179.238.44"),
        ("63.97.7.140", "95.97.9.123"),
        ("64.14.118.196", "0.255.183.58"),
        ("64.34.154.117", "0.221.154.117"),
        ("64.39.15.238", "0.219.7.41"),
        ("10.185.25.118", "117.161.29.118"),
    ];

    fn v4(s: &str) -> u32 {
        u32::from(s.parse::<Ipv4Addr>().unwrap())
    }

    #[test]
    fn crypto_pan_matches_the_reference_sample() {
        let pan = CryptoPan::new(&SAMPLE_KEY);
        for (raw, sanitized) in SAMPLE_VECTORS {
            let got = Ipv4Addr::from(pan.anonymize_v4(v4(raw)));
            assert_eq!(got.to_string(), *sanitized, "{raw}");
        }
    }

    #[test]
    fn prefixes_are_preserved() {
        let pan = CryptoPan::new(&SAMPLE_KEY);
        let mut x = 0x9e37_79b9u32;
        for _ in 0..200 {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let y = x ^ (x.rotate_left(7) >> (x % 33).min(31));
            let common = (x ^ y).leading_zeros();
            let (ax, ay) = (pan.anonymize_v4(x), pan.anonymize_v4(y));
            assert_eq!((ax ^ ay).leading_zeros(), common, "{x:08x} {y:08x}");
        }
    }

    #[test]
    fn ipv6_is_tstats_per_word_scheme() {
        let pan = CryptoPan::new(&SAMPLE_KEY);
        let a: Ipv6Addr = "2001:db8:1234:5678:9abc:def0:8b0:b44".parse().unwrap();
        let got = pan.anonymize_v6(u128::from(a));
        let words = a.segments();
        for i in 0..4 {
            let w = (u32::from(words[2 * i]) << 16) | u32::from(words[2 * i + 1]);
            let expect = pan.anonymize_v4(w ^ IPV6_MASKS[i]);
            assert_eq!((got >> (96 - 32 * i)) as u32, expect, "word {i}");
        }
        // The last word carries no mask: ::a.b.c.d ends with the anonymised a.b.c.d.
        let mapped: Ipv6Addr = "::128.11.68.132".parse().unwrap();
        let m = pan.anonymize_v6(u128::from(mapped)) as u32;
        assert_eq!(Ipv4Addr::from(m).to_string(), "135.242.180.132");
        // Addresses sharing a /48 keep sharing it.
        let b: Ipv6Addr = "2001:db8:1234:ffff::1".parse().unwrap();
        let gb = pan.anonymize_v6(u128::from(b));
        assert!((got ^ gb).leading_zeros() >= 48);
    }

    #[test]
    fn keys_are_cut_or_padded_like_tstat() {
        let k = derive_key(&KeySource::Value("secret".into())).unwrap();
        assert_eq!(&k.bytes[..6], b"secret");
        assert!(k.bytes[6..].iter().all(|&b| b == 0));
        assert_eq!(k.notes.len(), 1);
        let long = "0123456789abcdefghijklmnopqrstuvwxyz";
        let k = derive_key(&KeySource::Value(long.into())).unwrap();
        assert_eq!(&k.bytes[..], &long.as_bytes()[..32]);
        let exact = "0123456789abcdefghijklmnopqrstuv";
        assert!(derive_key(&KeySource::Value(exact.into()))
            .unwrap()
            .notes
            .is_empty());
    }

    #[test]
    fn key_files_are_read_like_tstat() {
        let dir = std::env::temp_dir().join(format!("cryptopan-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let plain = dir.join("plain");
        std::fs::write(&plain, "my key\nsecond line\n").unwrap();
        let k = derive_key(&KeySource::File(plain.clone())).unwrap();
        assert_eq!(&k.bytes[..7], b"my key\0");
        std::fs::write(&plain, "\n").unwrap();
        assert!(derive_key(&KeySource::File(plain.clone())).is_err());
        let b64 = dir.join("b64");
        std::fs::write(&b64, format!("{}\n", base64(&SAMPLE_KEY))).unwrap();
        let k = derive_key(&KeySource::Base64File(b64.clone())).unwrap();
        assert_eq!(k.bytes, SAMPLE_KEY);
        assert!(k.notes.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn base64_round_trip_and_tstat_quirks() {
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(b"fooba"), "Zm9vYmE=");
        assert_eq!(base64(b"foob"), "Zm9vYg==");
        assert_eq!(base64(&SAMPLE_KEY).len(), 44);
        assert_eq!(unbase64(b"Zm9vYmFy").unwrap(), b"foobar");
        assert_eq!(unbase64(b"Zm9vYmE=").unwrap(), b"fooba");
        assert_eq!(unbase64(b"Zm9vYg==").unwrap(), b"foob");
        assert_eq!(
            unbase64(&base64(&SAMPLE_KEY).into_bytes()).unwrap(),
            SAMPLE_KEY
        );
        // Invalid characters count as 'A'.
        assert_eq!(unbase64(b"Zm9v!!!!").unwrap(), b"foo\0\0\0");
        assert!(unbase64(b"Z").is_none());
    }

    #[test]
    fn membership_follows_crypto_ip() {
        let mut nets = NetSet::default();
        nets.add("10.0.0.0".parse().unwrap(), 8);
        let mut white = NetSet::default();
        white.add("10.1.0.0".parse().unwrap(), 16);
        let conf = CryptoConfig {
            nets,
            white,
            key: SAMPLE_KEY,
        };
        assert!(conf.is_crypto(&"10.2.3.4".parse().unwrap()));
        assert!(!conf.is_crypto(&"10.1.3.4".parse().unwrap()));
        assert!(!conf.is_crypto(&"11.2.3.4".parse().unwrap()));
        // No IPv6 entry: no IPv6 address is anonymised (unlike -N's default).
        assert!(!conf.is_crypto(&"2001:db8::1".parse().unwrap()));
        let mut a = Anonymizer::new(&conf);
        let ip: IpAddr = "10.2.3.4".parse().unwrap();
        let (p, c) = a.printed(ip);
        assert!(c);
        assert_eq!(a.printed(ip), (p, true));
        assert_eq!(p, CryptoPan::new(&SAMPLE_KEY).anonymize(ip));
        let ext: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(a.printed(ext), (ext, false));
    }
}
