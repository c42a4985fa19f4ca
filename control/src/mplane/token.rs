//! Tokens and schema hashes exactly as the RI computes them (mplane.md §5.3, §6; `Statement`
//! methods `_schema_hash`, `_mpcv_hash` and `_pv_hash` of `mplane/model.py` in mplane-sdk
//! 0.9.0). All are MD5 hex digests of a text built from the message:
//!
//! - **schema** (what the RI compares to match a specification to a capability):
//!   `registry + " p " + sorted parameter names + " r " + sorted result names`, names joined by
//!   single spaces.
//! - **capability token** (`_mpcv_hash`, its default token): `registry + verb + " w " + when +
//!   " pk " + names + " pc " + constraints + " pv " + values + " mk " + metadata names + " mv "
//!   + metadata values + " r " + result names + " ex " + export`, names sorted, each list
//!   joined by spaces, constraints and values in their canonical form (a capability's values
//!   are all `*`), `when` in the RI's normal form, `export` printed `None` when absent.
//! - **specification token** (`_pv_hash`, which the RI client's `retoken` uses): `registry +
//!   verb + " w " + when + " pk " + names + " pv " + values + " r " + result names`, followed,
//!   when the scope is not definite (`now …`), by Python's `repr` of its start and end evaluated
//!   at the moment of the call, so that every invocation gets a fresh token (§6).
//!
//! Canonical forms come from the registry's element types ([`Prim::canonical`]), so these need
//! the [`Registries`]. The ten Tstat capability tokens of mplane.md §12.2 and the SDK-computed
//! vectors of `tests/mplane/sdk/statements.json` are reproduced by the tests.

use super::model::{Capability, Specification, Statement};
use super::registry::{LookupError, Registries};
use super::value::{Prim, ValueError};
use chrono::{Datelike, NaiveDateTime, Timelike};

/// An element that the registry does not know, or a value that does not fit its type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// An unknown registry or element.
    #[error(transparent)]
    Lookup(#[from] LookupError),
    /// A parameter, metadata, constraint or result value that does not fit its element's type.
    #[error("{section} {name:?}: {error}")]
    Value {
        /// `parameter`, `metadata`, `result column`.
        section: &'static str,
        /// The element.
        name: String,
        /// What is wrong.
        error: ValueError,
    },
}

/// The MD5 digest (RFC 1321) of `data`, as 32 lower-case hex digits (Python's `hexdigest`).
/// Here only as the RI's identifier hash, never for security.
pub fn md5_hex(data: &[u8]) -> String {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5,
        9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10,
        15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    // K[i] = floor(|sin(i + 1)| * 2^32), the RFC's table.
    const K: [u32; 64] = [
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
        0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
        0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
        0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
        0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
        0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
        0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
        0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
        0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
        0xeb86d391,
    ];
    let mut state: [u32; 4] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
    let mut msg = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_le_bytes());
    for block in msg.chunks_exact(64) {
        let mut m = [0u32; 16];
        for (i, w) in block.chunks_exact(4).enumerate() {
            m[i] = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
        }
        let [mut a, mut b, mut c, mut d] = state;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let rotated = a
                .wrapping_add(f)
                .wrapping_add(K[i])
                .wrapping_add(m[g])
                .rotate_left(S[i]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(rotated);
        }
        for (s, v) in state.iter_mut().zip([a, b, c, d]) {
            *s = s.wrapping_add(v);
        }
    }
    state
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn sorted<'a>(names: impl Iterator<Item = &'a String>) -> Vec<&'a str> {
    let mut v: Vec<&str> = names.map(String::as_str).collect();
    v.sort_unstable();
    v
}

/// The RI's schema hash (`_schema_hash`): two statements match only if theirs are equal
/// (§5.3). The verb, label, metadata and constraint values do not enter it.
pub fn schema_hash<P>(s: &Statement<P>) -> String {
    let text = format!(
        "{} p {} r {}",
        s.registry,
        sorted(s.parameters.keys()).join(" "),
        sorted(s.results.iter()).join(" ")
    );
    md5_hex(text.as_bytes())
}

fn prim(reg: &Registries, s: &str, name: &str) -> Result<Prim, SchemaError> {
    Ok(reg.prim(s, name)?)
}

fn canonical_metadata<'s, P>(
    s: &'s Statement<P>,
    reg: &Registries,
) -> Result<(Vec<&'s str>, Vec<String>), SchemaError> {
    let names = sorted(s.metadata.keys());
    let mut values = Vec::with_capacity(names.len());
    for n in &names {
        let p = prim(reg, &s.registry, n)?;
        let v = &s.metadata[*n];
        values.push(p.canonical(v).map_err(|error| SchemaError::Value {
            section: "metadata",
            name: n.to_string(),
            error,
        })?);
    }
    Ok((names, values))
}

/// The RI's default token of a capability (`_mpcv_hash`, §6): deterministic, so a capability
/// gets the same token on every run, and equal to the 2015 proxy's for the same capability.
pub fn capability_token(cap: &Capability, reg: &Registries) -> Result<String, SchemaError> {
    let names = sorted(cap.parameters.keys());
    let mut constraints = Vec::with_capacity(names.len());
    for n in &names {
        let p = prim(reg, &cap.registry, n)?;
        constraints.push(
            cap.parameters[*n]
                .canonical(p)
                .map_err(|error| SchemaError::Value {
                    section: "parameter",
                    name: n.to_string(),
                    error,
                })?,
        );
    }
    for r in &cap.results {
        prim(reg, &cap.registry, r)?;
    }
    let (meta_names, meta_values) = canonical_metadata(cap, reg)?;
    let text = format!(
        "{}{} w {} pk {} pc {} pv {} mk {} mv {} r {} ex {}",
        cap.registry,
        cap.verb,
        cap.when,
        names.join(" "),
        constraints.join(" "),
        vec!["*"; names.len()].join(" "),
        meta_names.join(" "),
        meta_values.join(" "),
        sorted(cap.results.iter()).join(" "),
        cap.export.as_deref().unwrap_or("None"),
    );
    Ok(md5_hex(text.as_bytes()))
}

/// The token the RI client gives a specification (`retoken`, §6): `_pv_hash`, with the scope's
/// start and end at `tzero` (the RI uses the current UTC time) folded in when the scope is not
/// definite.
pub fn specification_token(
    spec: &Specification,
    reg: &Registries,
    tzero: NaiveDateTime,
) -> Result<String, SchemaError> {
    let names = sorted(spec.parameters.keys());
    let mut values = Vec::with_capacity(names.len());
    for n in &names {
        let p = prim(reg, &spec.registry, n)?;
        values.push(
            p.canonical(&spec.parameters[*n])
                .map_err(|error| SchemaError::Value {
                    section: "parameter",
                    name: n.to_string(),
                    error,
                })?,
        );
    }
    let mut text = format!(
        "{}{} w {} pk {} pv {} r {}",
        spec.registry,
        spec.verb,
        spec.when,
        names.join(" "),
        values.join(" "),
        sorted(spec.results.iter()).join(" "),
    );
    if !spec.when.is_definite() {
        // The RI folds in repr(when.datetimes()); a scope beyond year 9999 makes it raise.
        let (a, b) = spec.when.datetimes(tzero).map_err(|_| SchemaError::Value {
            section: "parameter",
            name: "when".into(),
            error: ValueError {
                prim: Prim::Time,
                text: spec.when.to_string(),
                reason: "beyond the year 9999",
            },
        })?;
        text.push_str(&format!("({}, {})", py_repr(a), py_repr(b)));
    }
    Ok(md5_hex(text.as_bytes()))
}

/// Python's `repr` of an optional naive `datetime`: `None`, or
/// `datetime.datetime(Y, M, D, h, m[, s[, us]])` with trailing zero seconds and microseconds
/// left out.
pub fn py_repr(t: Option<NaiveDateTime>) -> String {
    let Some(t) = t else {
        return "None".into();
    };
    let us = t.nanosecond() / 1000 % 1_000_000;
    let mut fields = vec![
        t.year().to_string(),
        t.month().to_string(),
        t.day().to_string(),
        t.hour().to_string(),
        t.minute().to_string(),
    ];
    if us != 0 || t.second() != 0 {
        fields.push(t.second().to_string());
    }
    if us != 0 {
        fields.push(us.to_string());
    }
    format!("datetime.datetime({})", fields.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_matches_rfc_1321() {
        for (input, digest) in [
            ("", "d41d8cd98f00b204e9800998ecf8427e"),
            ("a", "0cc175b9c0f1b6a831c399e269772661"),
            ("abc", "900150983cd24fb0d6963f7d28e17f72"),
            ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            (
                "abcdefghijklmnopqrstuvwxyz",
                "c3fcd3d76192e4007dfb496cca67e13b",
            ),
            (
                "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ] {
            assert_eq!(md5_hex(input.as_bytes()), digest, "{input:?}");
        }
        // Lengths around the padding boundary (digests from Python's hashlib).
        for (n, digest) in [
            (55, "04364420e25c512fd958a70738aa8f72"),
            (56, "668a72d5ba17f08e62dabcafad6db14b"),
            (63, "7dc2ca208106a2f703567bdff99d8981"),
            (64, "c1bb4f81d892b2d57947682aeb252456"),
            (119, "ab347a5f68c8a443cfcddc633f12c24f"),
            (120, "fb98667f98096de92620b64f46e1c5b5"),
        ] {
            assert_eq!(md5_hex(&vec![b'x'; n]), digest, "{n}");
        }
    }

    #[test]
    fn python_datetime_repr() {
        let t = |s: &str| Some(super::super::when::parse_time(s).unwrap());
        assert_eq!(py_repr(None), "None");
        assert_eq!(
            py_repr(t("2026-11-22 10:00")),
            "datetime.datetime(2026, 11, 22, 10, 0)"
        );
        assert_eq!(
            py_repr(t("2026-11-22 10:00:05")),
            "datetime.datetime(2026, 11, 22, 10, 0, 5)"
        );
        assert_eq!(
            py_repr(t("2026-11-22 04:09:00.522453")),
            "datetime.datetime(2026, 11, 22, 4, 9, 0, 522453)"
        );
    }
}
