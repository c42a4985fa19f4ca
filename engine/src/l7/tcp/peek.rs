//! Bounds-checked byte reads for the payload classifiers.
//!
//! Tstat's C classifiers index raw payload pointers freely, sometimes past the captured bytes.
//! These helpers give the same arithmetic (signed offsets, `char` sign extension, host-order
//! reads) without ever panicking: a read outside the slice yields 0, which no signature byte
//! the classifiers look for equals by accident where it matters. Owns nothing else.

/// A read-only view of a payload (or of a reassembled record) with total, never-panicking
/// accessors.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peek<'a>(pub &'a [u8]);

impl<'a> Peek<'a> {
    /// Number of bytes available (Tstat's `data_length`).
    #[inline]
    pub fn len(self) -> i64 {
        self.0.len() as i64
    }

    /// The byte at `i`, or 0 outside the slice.
    #[inline]
    pub fn u8(self, i: i64) -> u8 {
        usize::try_from(i)
            .ok()
            .and_then(|i| self.0.get(i))
            .copied()
            .unwrap_or(0)
    }

    /// The byte at `i` read as a C `char` (signed), as Tstat's `base[idx]`.
    #[inline]
    pub fn i8(self, i: i64) -> i64 {
        i64::from(self.u8(i) as i8)
    }

    /// Big-endian 16-bit value at `i` (`ntohs(*(u16 *)(base + i))`).
    #[inline]
    pub fn be16(self, i: i64) -> i64 {
        i64::from(u16::from_be_bytes([self.u8(i), self.u8(i + 1)]))
    }

    /// Whether the bytes at `i` equal `pat` (all of them inside the slice).
    #[inline]
    pub fn eq_at(self, i: i64, pat: &[u8]) -> bool {
        match usize::try_from(i) {
            Ok(i) => self.0.get(i..).is_some_and(|s| s.starts_with(pat)),
            Err(_) => false,
        }
    }

    /// The sub-slice `[from, from + n)` clipped to the data.
    #[inline]
    pub fn slice(self, from: i64, n: i64) -> &'a [u8] {
        let len = self.0.len() as i64;
        let a = from.clamp(0, len);
        let b = from.saturating_add(n).clamp(a, len);
        self.0.get(a as usize..b as usize).unwrap_or(&[])
    }

    /// C's `memcmp(base + off, pat, n) == 0` where `pat` is a string literal: bytes past the
    /// literal are its NUL terminator, then unknown memory (never equal); `n <= 0` compares
    /// nothing (a negative `n` would be a huge `size_t` in C and differ at once).
    #[inline]
    pub fn cmp_n(self, off: i64, pat: &[u8], n: i64) -> bool {
        if n < 0 {
            return false;
        }
        for j in 0..n {
            let want = match usize::try_from(j) {
                Ok(j) if j < pat.len() => pat[j],
                Ok(j) if j == pat.len() => 0,
                _ => return false,
            };
            if self.u8(off + j) != want {
                return false;
            }
        }
        true
    }
}

/// First four payload bytes, the key Tstat's state machine switches on.
#[inline]
pub(crate) fn key(p: &[u8]) -> [u8; 4] {
    let q = Peek(p);
    [q.u8(0), q.u8(1), q.u8(2), q.u8(3)]
}

/// The C string a fixed `char` buffer holds: the bytes up to the first NUL.
#[inline]
pub(crate) fn c_str(b: &[u8]) -> &[u8] {
    match memchr::memchr(0, b) {
        Some(n) => b.get(..n).unwrap_or(b),
        None => b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_outside_are_zero() {
        let p = Peek(&[0x01, 0xff, 0x80]);
        assert_eq!(p.u8(-1), 0);
        assert_eq!(p.u8(3), 0);
        assert_eq!(p.i8(1), -1);
        assert_eq!(p.be16(1), 0xff80);
        assert_eq!(p.be16(2), 0x8000);
        assert!(p.eq_at(1, &[0xff, 0x80]));
        assert!(!p.eq_at(2, &[0x80, 0x00]));
        assert!(!p.eq_at(-1, &[0]));
        assert_eq!(p.slice(1, 10), &[0xff, 0x80]);
        assert_eq!(p.slice(-5, 2), &[] as &[u8]);
    }

    #[test]
    fn memcmp_with_literal_terminator() {
        let p = Peek(b"/api/stats/\0x");
        assert!(p.cmp_n(0, b"/api/stats/", 11));
        assert!(p.cmp_n(0, b"/api/stats/", 12));
        assert!(!p.cmp_n(0, b"/api/stats/", 13));
        assert!(p.cmp_n(0, b"/zzz", 0));
        assert!(!p.cmp_n(0, b"/", -1));
        assert_eq!(c_str(b"ab\0cd"), b"ab");
        assert_eq!(key(b"GE"), [b'G', b'E', 0, 0]);
    }
}
