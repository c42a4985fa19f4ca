//! Fast, exact number formatting for log rows: C's `%f` (six decimals) of a double and plain
//! unsigned integers, appended to a byte buffer.
//!
//! Tstat prints times as `%f` of doubles whose binary rounding noise shows in the last digits
//! (`1362692526869.343994`), so the output must be the exact decimal expansion of the double,
//! rounded to six decimals half-to-even like glibc. `format!("{:.6}")` gives that too but costs
//! hundreds of instructions per number; the writer formats tens of numbers per row, so this
//! module does it with integer arithmetic on the double's bits.

/// Appends `x` formatted as C's `printf("%.6f", x)`.
pub fn f6(out: &mut Vec<u8>, x: f64) {
    match f6_bytes(x) {
        Some((buf, n)) => out.extend_from_slice(&buf[..n]),
        None => out.extend_from_slice(format!("{x:.6}").as_bytes()),
    }
}

/// `x` as C's `%.6f`, in a `Display` (for `write!`): `format!("{}", F6(x))`.
pub struct F6(pub f64);

impl std::fmt::Display for F6 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match f6_bytes(self.0) {
            // The buffer holds ASCII digits, a sign and a dot only.
            Some((buf, n)) => {
                f.write_str(std::str::from_utf8(&buf[..n]).map_err(|_| std::fmt::Error)?)
            }
            None => write!(f, "{:.6}", self.0),
        }
    }
}

/// The `%.6f` text of `x` in a stack buffer, or `None` outside the fast path's range (not
/// finite, or |x| ≥ 9·10^18: never a time or a counter).
fn f6_bytes(x: f64) -> Option<([u8; 32], usize)> {
    if !x.is_finite() || x.abs() >= 9.0e18 {
        return None;
    }
    let mut buf = [0u8; 32];
    let mut n = 0;
    let bits = x.to_bits();
    if bits >> 63 == 1 {
        // C prints the sign of negative numbers and of -0.0 alike.
        buf[0] = b'-';
        n = 1;
    }
    let exp = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    // x = mant * 2^e exactly.
    let (mant, e) = if exp == 0 {
        (frac, -1074)
    } else {
        (frac | (1u64 << 52), exp - 1075)
    };
    // q = x * 10^6 rounded half to even, as glibc rounds the exact expansion.
    let scaled = u128::from(mant) * 1_000_000;
    let q: u128 = if e >= 0 {
        scaled << e
    } else {
        let s = (-e) as u32;
        if s >= 128 {
            0
        } else {
            let q = scaled >> s;
            let r = scaled & ((1u128 << s) - 1);
            let half = 1u128 << (s - 1);
            if r > half || (r == half && q & 1 == 1) {
                q + 1
            } else {
                q
            }
        }
    };
    let mut int = [0u8; 20];
    let mut i = int.len();
    let mut v = (q / 1_000_000) as u64;
    loop {
        i -= 1;
        int[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let len = int.len() - i;
    buf[n..n + len].copy_from_slice(&int[i..]);
    n += len;
    buf[n] = b'.';
    n += 1;
    let mut v = (q % 1_000_000) as u32;
    for k in (0..6).rev() {
        buf[n + k] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    Some((buf, n + 6))
}

/// Appends an unsigned integer in decimal.
#[inline]
pub fn uint(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(x: f64) {
        let mut b = Vec::new();
        f6(&mut b, x);
        assert_eq!(
            String::from_utf8(b).unwrap(),
            format!("{x:.6}"),
            "{x:e} ({:#x})",
            x.to_bits()
        );
    }

    #[test]
    fn matches_exact_formatting_on_times_and_edge_cases() {
        for x in [
            0.0,
            1.0,
            0.5,
            0.0000005,
            0.0000015,
            0.0000025,
            1e-7,
            9.999999,
            9.9999995,
            123456.789,
            1_362_692_526_869.344,
            1_300_475_168_724.007,
            69.232_359,
            2.5e-6,
            1e15,
            8.9e18,
        ] {
            check(x);
        }
        // Millisecond times as Tstat computes them, over a wide range of epochs and offsets.
        let mut s = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..200_000 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let us = (s % 2_000_000_000_000_000) as f64;
            check(us / 1000.0);
            check((s % 100_000_000) as f64 / 1000.0);
            check(f64::from_bits(s >> 2) % 1e12);
        }
    }

    #[test]
    fn integers() {
        for v in [0u64, 7, 10, 99, 100, 12345678901234567890, u64::MAX] {
            let mut b = Vec::new();
            uint(&mut b, v);
            assert_eq!(String::from_utf8(b).unwrap(), v.to_string());
        }
    }
}
