//! Fuzz target for the record encoding of the cross-process rings (`engine::codec`): the
//! control plane decodes whatever bytes a ring frame holds, so `decode` must turn any byte
//! string into a record or an error, never a panic (nor an allocation the length prefixes ask
//! for); and what it accepts must be exactly what `encode` writes.
//!
//! Input: the bytes of one ring frame's payload, given to `decode` as they are.
//!
//! Asserts: no panic; when `decode` succeeds, `encode` of the record succeeds in
//! `MAX_ENCODED` bytes and gives back the input byte for byte (the encoding is canonical:
//! fixed-width integers, 0/1 booleans, tagged variants and length-prefixed strings leave no
//! two encodings of one record), and decoding that gives a record equal to the first (compared
//! through their encodings, since a decoded `f64` may be a NaN, which is not equal to itself).
//!
//! Run with `cargo +nightly fuzz run record_decode` from `fuzz/`.
#![no_main]

use engine::codec::{decode, encode, MAX_ENCODED};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(rec) = decode(data) else {
        return;
    };
    let mut buf = vec![0u8; MAX_ENCODED];
    let n = encode(&rec, &mut buf).expect("a decoded record encodes");
    assert_eq!(&buf[..n], data, "decode accepted a non-canonical encoding");
    let again = decode(&buf[..n]).expect("an encoded record decodes");
    let mut buf2 = vec![0u8; MAX_ENCODED];
    let n2 = encode(&again, &mut buf2).expect("a decoded record encodes");
    assert_eq!(
        &buf[..n],
        &buf2[..n2],
        "encode . decode is not the identity"
    );
    if rec == rec {
        // No NaN inside: the values themselves must be equal too.
        assert_eq!(rec, again);
    }
});
