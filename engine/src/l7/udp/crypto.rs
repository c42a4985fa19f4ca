//! The little cryptography Tstat's QUIC Initial decryption needs (OpenSSL and RFC 6234 in
//! Tstat): AES-128 block encryption, AES-128-CTR as GCM uses it (the tag is not checked, as
//! Tstat never calls `EVP_DecryptFinal`), SHA-256, HMAC-SHA-256 and HKDF.
//!
//! Plain, table-based software implementations over fixed-size arrays: no allocation, no
//! `unsafe`. Not constant-time — they only ever process public data (QUIC Initial keys are
//! derived from the connection id on the wire).

/// The AES S-box.
const SBOX: [u8; 256] = {
    // Built at compile time from the multiplicative inverse in GF(2^8) and the affine map.
    let mut sbox = [0u8; 256];
    let mut p: u8 = 1;
    let mut q: u8 = 1;
    loop {
        // p ← p · 3
        p = p ^ (p << 1) ^ if p & 0x80 != 0 { 0x1b } else { 0 };
        // q ← q / 3
        q ^= q << 1;
        q ^= q << 2;
        q ^= q << 4;
        if q & 0x80 != 0 {
            q ^= 0x09;
        }
        let x = q ^ q.rotate_left(1) ^ q.rotate_left(2) ^ q.rotate_left(3) ^ q.rotate_left(4);
        sbox[p as usize] = x ^ 0x63;
        if p == 1 {
            break;
        }
    }
    sbox[0] = 0x63;
    sbox
};

#[inline]
fn xtime(b: u8) -> u8 {
    (b << 1) ^ if b & 0x80 != 0 { 0x1b } else { 0 }
}

/// An expanded AES-128 key (encryption direction only).
pub(super) struct Aes128 {
    rk: [[u8; 16]; 11],
}

impl Aes128 {
    /// Expands `key`.
    pub(super) fn new(key: &[u8; 16]) -> Self {
        let mut rk = [[0u8; 16]; 11];
        rk[0] = *key;
        let mut rcon = 1u8;
        for r in 1..11 {
            let prev = rk[r - 1];
            let mut t = [prev[13], prev[14], prev[15], prev[12]];
            for b in &mut t {
                *b = SBOX[usize::from(*b)];
            }
            t[0] ^= rcon;
            rcon = xtime(rcon);
            let mut cur = [0u8; 16];
            for i in 0..4 {
                cur[i] = prev[i] ^ t[i];
            }
            for i in 4..16 {
                cur[i] = prev[i] ^ cur[i - 4];
            }
            rk[r] = cur;
        }
        Aes128 { rk }
    }

    /// Encrypts one block.
    pub(super) fn encrypt(&self, block: &[u8; 16]) -> [u8; 16] {
        let mut s = *block;
        xor16(&mut s, &self.rk[0]);
        for r in 1..11 {
            // SubBytes and ShiftRows (state is column-major: byte 4c + row).
            let mut t = [0u8; 16];
            for c in 0..4 {
                for row in 0..4 {
                    t[4 * c + row] = SBOX[usize::from(s[4 * ((c + row) % 4) + row])];
                }
            }
            if r < 10 {
                // MixColumns.
                for c in 0..4 {
                    let a = [t[4 * c], t[4 * c + 1], t[4 * c + 2], t[4 * c + 3]];
                    let all = a[0] ^ a[1] ^ a[2] ^ a[3];
                    for i in 0..4 {
                        t[4 * c + i] = a[i] ^ all ^ xtime(a[i] ^ a[(i + 1) % 4]);
                    }
                }
            }
            xor16(&mut t, &self.rk[r]);
            s = t;
        }
        s
    }
}

#[inline]
fn xor16(a: &mut [u8; 16], b: &[u8; 16]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x ^= y;
    }
}

/// AES-128-GCM keystream applied to `data` in place, without authentication: the counter
/// blocks are `iv ‖ 2`, `iv ‖ 3`, … (what `EVP_DecryptUpdate` does for a 96-bit IV).
pub(super) fn gcm_ctr(aes: &Aes128, iv: &[u8; 12], data: &mut [u8]) {
    let mut ctr = [0u8; 16];
    ctr[..12].copy_from_slice(iv);
    for (i, chunk) in data.chunks_mut(16).enumerate() {
        let n = (i as u32).wrapping_add(2);
        ctr[12..].copy_from_slice(&n.to_be_bytes());
        let ks = aes.encrypt(&ctr);
        for (b, k) in chunk.iter_mut().zip(ks) {
            *b ^= k;
        }
    }
}

const K256: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// Incremental SHA-256.
#[derive(Clone)]
pub(super) struct Sha256 {
    h: [u32; 8],
    buf: [u8; 64],
    used: usize,
    total: u64,
}

impl Sha256 {
    pub(super) fn new() -> Self {
        Sha256 {
            h: [
                0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
                0x5be0cd19,
            ],
            buf: [0; 64],
            used: 0,
            total: 0,
        }
    }

    fn block(&mut self, b: &[u8; 64]) {
        let mut w = [0u32; 64];
        for (i, c) in b.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let mut v = self.h;
        for i in 0..64 {
            let s1 = v[4].rotate_right(6) ^ v[4].rotate_right(11) ^ v[4].rotate_right(25);
            let ch = (v[4] & v[5]) ^ (!v[4] & v[6]);
            let t1 = v[7]
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K256[i])
                .wrapping_add(w[i]);
            let s0 = v[0].rotate_right(2) ^ v[0].rotate_right(13) ^ v[0].rotate_right(22);
            let maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
            let t2 = s0.wrapping_add(maj);
            v = [
                t1.wrapping_add(t2),
                v[0],
                v[1],
                v[2],
                v[3].wrapping_add(t1),
                v[4],
                v[5],
                v[6],
            ];
        }
        for (h, x) in self.h.iter_mut().zip(v) {
            *h = h.wrapping_add(x);
        }
    }

    pub(super) fn update(&mut self, mut data: &[u8]) {
        self.total = self.total.wrapping_add(data.len() as u64);
        while !data.is_empty() {
            let n = (64 - self.used).min(data.len());
            self.buf[self.used..self.used + n].copy_from_slice(&data[..n]);
            self.used += n;
            data = &data[n..];
            if self.used == 64 {
                let b = self.buf;
                self.block(&b);
                self.used = 0;
            }
        }
    }

    pub(super) fn finish(mut self) -> [u8; 32] {
        let bits = self.total.wrapping_mul(8);
        self.update(&[0x80]);
        while self.used != 56 {
            self.update(&[0]);
        }
        self.update(&bits.to_be_bytes());
        let mut out = [0u8; 32];
        for (o, h) in out.chunks_exact_mut(4).zip(self.h) {
            o.copy_from_slice(&h.to_be_bytes());
        }
        out
    }
}

/// HMAC-SHA-256 over the concatenation of `parts`.
pub(super) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        let mut h = Sha256::new();
        h.update(key);
        k[..32].copy_from_slice(&h.finish());
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(&k.map(|b| b ^ 0x36));
    for p in parts {
        inner.update(p);
    }
    let mut outer = Sha256::new();
    outer.update(&k.map(|b| b ^ 0x5c));
    outer.update(&inner.finish());
    outer.finish()
}

/// HKDF-Extract (RFC 5869) with SHA-256.
pub(super) fn hkdf_extract(salt: &[u8], ikm: &[u8]) -> [u8; 32] {
    hmac_sha256(salt, &[ikm])
}

/// HKDF-Expand (RFC 5869) with SHA-256; `out` at most 255 × 32 bytes.
pub(super) fn hkdf_expand(prk: &[u8; 32], info: &[u8], out: &mut [u8]) {
    let mut t = [0u8; 32];
    let mut have = 0usize;
    for (i, chunk) in out.chunks_mut(32).enumerate() {
        let n = [(i + 1) as u8];
        t = hmac_sha256(prk, &[&t[..have], info, &n]);
        have = 32;
        chunk.copy_from_slice(&t[..chunk.len()]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn aes128_fips197() {
        let key: [u8; 16] = hex("000102030405060708090a0b0c0d0e0f").try_into().unwrap();
        let pt: [u8; 16] = hex("00112233445566778899aabbccddeeff").try_into().unwrap();
        let ct = Aes128::new(&key).encrypt(&pt);
        assert_eq!(ct.to_vec(), hex("69c4e0d86a7b0430d8cdb78070b4c55a"));
        assert_eq!(SBOX[0x53], 0xed);
    }

    #[test]
    fn sha256_and_hmac() {
        let mut h = Sha256::new();
        h.update(b"abc");
        assert_eq!(
            h.finish().to_vec(),
            hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        let mut h = Sha256::new();
        h.update(&[b'a'; 1000]);
        let mut g = Sha256::new();
        for _ in 0..10 {
            g.update(&[b'a'; 100]);
        }
        assert_eq!(h.finish(), g.finish());
        // RFC 4231 test case 2.
        assert_eq!(
            hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]).to_vec(),
            hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        );
    }

    #[test]
    fn hkdf_rfc5869_case1() {
        let ikm = [0x0b; 22];
        let salt = hex("000102030405060708090a0b0c");
        let prk = hkdf_extract(&salt, &ikm);
        assert_eq!(
            prk.to_vec(),
            hex("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5")
        );
        let mut okm = [0u8; 42];
        hkdf_expand(&prk, &hex("f0f1f2f3f4f5f6f7f8f9"), &mut okm);
        assert_eq!(
            okm.to_vec(),
            hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
        );
    }

    #[test]
    fn ctr_is_an_involution() {
        let aes = Aes128::new(&[7; 16]);
        let mut d = *b"QUIC Initial packets are encrypted!";
        gcm_ctr(&aes, &[1; 12], &mut d);
        assert_ne!(&d, b"QUIC Initial packets are encrypted!");
        gcm_ctr(&aes, &[1; 12], &mut d);
        assert_eq!(&d, b"QUIC Initial packets are encrypted!");
    }
}
