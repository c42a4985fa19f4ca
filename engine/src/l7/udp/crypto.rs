//! The cryptography Tstat's QUIC Initial decryption needs (OpenSSL in Tstat), on top of the
//! RustCrypto crates: AES-128 block encryption for header protection (`aes`), the counter
//! mode of AES-128-GCM without authentication (`ctr`; the tag is not checked, as Tstat never
//! calls `EVP_DecryptFinal`, and it decrypts the whole rest of the captured datagram, tag and
//! coalesced packets included) and HKDF with SHA-256 (`hkdf`, `sha2`).
//!
//! No allocation: keys, blocks and secrets are fixed-size arrays, and payloads are decrypted
//! in place.

use aes::cipher::{BlockEncrypt, InnerIvInit, KeyInit, StreamCipher};
use hkdf::{Hkdf, HkdfExtract};
use sha2::Sha256;

/// An expanded AES-128 key (encryption direction only: the decryption round keys are never
/// scheduled).
pub(super) struct Aes128(aes::Aes128Enc);

impl Aes128 {
    /// Expands `key`.
    pub(super) fn new(key: &[u8; 16]) -> Self {
        Aes128(aes::Aes128Enc::new(key.into()))
    }

    /// Encrypts one block (AES-128-ECB, as header protection uses it on a sample).
    pub(super) fn encrypt(&self, block: &[u8; 16]) -> [u8; 16] {
        let mut b = aes::Block::from(*block);
        self.0.encrypt_block(&mut b);
        b.into()
    }
}

/// AES-128-GCM keystream applied to `data` in place, without authentication: the counter
/// blocks are `iv ‖ 2`, `iv ‖ 3`, … with a 32-bit big-endian counter (what
/// `EVP_DecryptUpdate` does for a 96-bit IV).
pub(super) fn gcm_ctr(aes: &Aes128, iv: &[u8; 12], data: &mut [u8]) {
    let mut block = [0u8; 16];
    block[..12].copy_from_slice(iv);
    block[15] = 2;
    let core = ctr::CtrCore::inner_iv_init(&aes.0, &block.into());
    ctr::Ctr32BE::<&aes::Aes128Enc>::from_core(core).apply_keystream(data);
}

/// An HKDF-SHA256 salt with its HMAC key schedule done once, for repeated HKDF-Extract
/// (RFC 5869) with it.
#[derive(Clone)]
pub(super) struct Salt(HkdfExtract<Sha256>);

impl Salt {
    /// Schedules `salt`.
    pub(super) fn new(salt: &[u8]) -> Self {
        Salt(HkdfExtract::new(Some(salt)))
    }

    /// HKDF-Extract of `ikm`: the PRK, and the PRK scheduled for HKDF-Expand.
    pub(super) fn extract(&self, ikm: &[u8]) -> ([u8; 32], Prk) {
        let mut ctx = self.0.clone();
        ctx.input_ikm(ikm);
        let (prk, hkdf) = ctx.finalize();
        (prk.into(), Prk(hkdf))
    }
}

/// An HKDF-SHA256 pseudorandom key with its HMAC key schedule done once, for repeated
/// HKDF-Expand (RFC 5869).
pub(super) struct Prk(Hkdf<Sha256>);

impl Prk {
    /// Schedules `prk`.
    pub(super) fn new(prk: &[u8; 32]) -> Self {
        Prk(Hkdf::from_prk(prk).expect("a SHA-256 PRK is 32 bytes"))
    }

    /// HKDF-Expand of `info` into `out` (at most 255 × 32 bytes).
    pub(super) fn expand(&self, info: &[u8], out: &mut [u8]) {
        self.0
            .expand(info, out)
            .expect("HKDF-Expand output at most 255 × 32 bytes");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hkdf_extract(salt: &[u8], ikm: &[u8]) -> [u8; 32] {
        Salt::new(salt).extract(ikm).0
    }

    fn hkdf_expand(prk: &[u8; 32], info: &[u8], out: &mut [u8]) {
        Prk::new(prk).expand(info, out)
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 9001 §5.2: the QUIC v1 salt.
    const SALT_V1: &str = "38762cf7f55934b34d179ae6a4c80cadccbb7f0a";

    /// TLS 1.3 `HkdfLabel` (RFC 8446 §7.1) with an empty context.
    fn label(len: u16, name: &str) -> Vec<u8> {
        let mut l = len.to_be_bytes().to_vec();
        l.push(6 + name.len() as u8);
        l.extend_from_slice(b"tls13 ");
        l.extend_from_slice(name.as_bytes());
        l.push(0);
        l
    }

    /// RFC 9001 Appendix A.1: client Initial keys for DCID 0x8394c8f03e515708.
    fn a1_client_keys() -> ([u8; 16], [u8; 12], [u8; 16]) {
        let initial = hkdf_extract(&hex(SALT_V1), &hex("8394c8f03e515708"));
        assert_eq!(
            initial.to_vec(),
            hex("7db5df06e7a69e432496adedb00851923595221596ae2ae9fb8115c1e9ed0a44")
        );
        let mut client = [0u8; 32];
        hkdf_expand(&initial, &label(32, "client in"), &mut client);
        assert_eq!(
            client.to_vec(),
            hex("c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea")
        );
        let (mut key, mut iv, mut hp) = ([0u8; 16], [0u8; 12], [0u8; 16]);
        hkdf_expand(&client, &label(16, "quic key"), &mut key);
        hkdf_expand(&client, &label(12, "quic iv"), &mut iv);
        hkdf_expand(&client, &label(16, "quic hp"), &mut hp);
        (key, iv, hp)
    }

    #[test]
    fn rfc9001_a1_keys() {
        let (key, iv, hp) = a1_client_keys();
        assert_eq!(key.to_vec(), hex("1f369613dd76d5467730efcbe3b1a22d"));
        assert_eq!(iv.to_vec(), hex("fa044b2f42a3fd3b46fb255c"));
        assert_eq!(hp.to_vec(), hex("9f50449e04a0e810283a1e9933adedd2"));
        // Server side.
        let initial = hkdf_extract(&hex(SALT_V1), &hex("8394c8f03e515708"));
        let mut server = [0u8; 32];
        hkdf_expand(&initial, &label(32, "server in"), &mut server);
        assert_eq!(
            server.to_vec(),
            hex("3c199828fd139efd216c155ad844cc81fb82fa8d7446fa7d78be803acdda951b")
        );
    }

    #[test]
    fn rfc5869_case1() {
        let prk = hkdf_extract(&hex("000102030405060708090a0b0c"), &[0x0b; 22]);
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

    /// RFC 9001 Appendix A.2: the protected client Initial (1200 bytes).
    const A2_PROTECTED: &str = concat!(
        "c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11",
        "d242b123dc9bd8bab936b47d92ec356c0bab7df5976d27cd449f63300099f399",
        "1c260ec4c60d17b31f8429157bb35a1282a643a8d2262cad67500cadb8e7378c",
        "8eb7539ec4d4905fed1bee1fc8aafba17c750e2c7ace01e6005f80fcb7df6212",
        "30c83711b39343fa028cea7f7fb5ff89eac2308249a02252155e2347b63d58c5",
        "457afd84d05dfffdb20392844ae812154682e9cf012f9021a6f0be17ddd0c208",
        "4dce25ff9b06cde535d0f920a2db1bf362c23e596d11a4f5a6cf3948838a3aec",
        "4e15daf8500a6ef69ec4e3feb6b1d98e610ac8b7ec3faf6ad760b7bad1db4ba3",
        "485e8a94dc250ae3fdb41ed15fb6a8e5eba0fc3dd60bc8e30c5c4287e53805db",
        "059ae0648db2f64264ed5e39be2e20d82df566da8dd5998ccabdae053060ae6c",
        "7b4378e846d29f37ed7b4ea9ec5d82e7961b7f25a9323851f681d582363aa5f8",
        "9937f5a67258bf63ad6f1a0b1d96dbd4faddfcefc5266ba6611722395c906556",
        "be52afe3f565636ad1b17d508b73d8743eeb524be22b3dcbc2c7468d54119c74",
        "68449a13d8e3b95811a198f3491de3e7fe942b330407abf82a4ed7c1b311663a",
        "c69890f4157015853d91e923037c227a33cdd5ec281ca3f79c44546b9d90ca00",
        "f064c99e3dd97911d39fe9c5d0b23a229a234cb36186c4819e8b9c5927726632",
        "291d6a418211cc2962e20fe47feb3edf330f2c603a9d48c0fcb5699dbfe58964",
        "25c5bac4aee82e57a85aaf4e2513e4f05796b07ba2ee47d80506f8d2c25e50fd",
        "14de71e6c418559302f939b0e1abd576f279c4b2e0feb85c1f28ff18f58891ff",
        "ef132eef2fa09346aee33c28eb130ff28f5b766953334113211996d20011a198",
        "e3fc433f9f2541010ae17c1bf202580f6047472fb36857fe843b19f5984009dd",
        "c324044e847a4f4a0ab34f719595de37252d6235365e9b84392b061085349d73",
        "203a4a13e96f5432ec0fd4a1ee65accdd5e3904df54c1da510b0ff20dcc0c77f",
        "cb2c0e0eb605cb0504db87632cf3d8b4dae6e705769d1de354270123cb11450e",
        "fc60ac47683d7b8d0f811365565fd98c4c8eb936bcab8d069fc33bd801b03ade",
        "a2e1fbc5aa463d08ca19896d2bf59a071b851e6c239052172f296bfb5e724047",
        "90a2181014f3b94a4e97d117b438130368cc39dbb2d198065ae3986547926cd2",
        "162f40a29f0c3c8745c0f50fba3852e566d44575c29d39a03f0cda721984b6f4",
        "40591f355e12d439ff150aab7613499dbd49adabc8676eef023b15b65bfc5ca0",
        "6948109f23f350db82123535eb8a7433bdabcb909271a6ecbcb58b936a88cd4e",
        "8f2e6ff5800175f113253d8fa9ca8885c2f552e657dc603f252e1a8e308f76f0",
        "be79e2fb8f5d5fbbe2e30ecadd220723c8c0aea8078cdfcb3868263ff8f09400",
        "54da48781893a7e49ad5aff4af300cd804a6b6279ab3ff3afb64491c85194aab",
        "760d58a606654f9f4400e8b38591356fbf6425aca26dc85244259ff2b19c41b9",
        "f96f3ca9ec1dde434da7d2d392b905ddf3d1f9af93d1af5950bd493f5aa731b4",
        "056df31bd267b6b90a079831aaf579be0a39013137aac6d404f518cfd4684064",
        "7e78bfe706ca4cf5e9c5453e9f7cfd2b8b4c8d169a44e55c88d4a9a7f9474241",
        "e221af44860018ab0856972e194cd934",
    );

    /// RFC 9001 Appendix A.2: the CRYPTO frame of the client Initial (then PADDING).
    const A2_CRYPTO_FRAME: &str = concat!(
        "060040f1010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e868",
        "04fe3a47f06a2b69484c00000413011302010000c000000010000e00000b6578",
        "616d706c652e636f6dff01000100000a00080006001d00170018001000070005",
        "04616c706e000500050100000000003300260024001d00209370b2c9caa47fba",
        "baf4559fedba753de171fa71f50f1ce15d43e994ec74d748002b000302030400",
        "0d0010000e0403050306030203080408050806002d00020101001c0002400100",
        "3900320408ffffffffffffffff05048000ffff07048000ffff08011001048000",
        "75300901100f088394c8f03e51570806048000ffff",
    );

    #[test]
    fn rfc9001_a2_header_protection() {
        let (_, _, hp) = a1_client_keys();
        let sample: [u8; 16] = hex("d1b1c98dd7689fb8ec11d242b123dc9b").try_into().unwrap();
        let mask = Aes128::new(&hp).encrypt(&sample);
        assert_eq!(mask[..5].to_vec(), hex("437b9aec36"));
    }

    #[test]
    fn rfc9001_a2_client_initial() {
        let (key, iv, hp) = a1_client_keys();
        let mut pkt = hex(A2_PROTECTED);
        assert_eq!(pkt.len(), 1200);
        // Header protection: the packet number starts after the 2-byte Length, at 18.
        let pn_at = 18;
        let sample: [u8; 16] = pkt[pn_at + 4..pn_at + 20].try_into().unwrap();
        let mask = Aes128::new(&hp).encrypt(&sample);
        pkt[0] ^= mask[0] & 0x0f;
        let pn_len = usize::from(pkt[0] & 3) + 1;
        for i in 0..pn_len {
            pkt[pn_at + i] ^= mask[1 + i];
        }
        assert_eq!(
            pkt[..pn_at + pn_len].to_vec(),
            hex("c300000001088394c8f03e5157080000449e00000002")
        );
        // Payload: nonce = iv ^ packet number, decrypted in place up to the tag.
        let mut nonce = iv;
        for i in 0..pn_len {
            nonce[12 - pn_len + i] ^= pkt[pn_at + i];
        }
        let body = &mut pkt[pn_at + pn_len..1200 - 16];
        gcm_ctr(&Aes128::new(&key), &nonce, body);
        let mut plain = hex(A2_CRYPTO_FRAME);
        plain.resize(1162, 0);
        assert_eq!(body.to_vec(), plain);
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
