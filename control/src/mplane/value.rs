//! Element values and parameter constraints: the seven primitive types of mPlane (mplane.md
//! §3.2, §5.1) and the constraint syntax of capabilities (§5.3).
//!
//! On the wire every value is a JSON string (§3.2), and the model of [`super::model`] keeps
//! them as strings. This module gives them their type when the registry says which it is: it
//! checks a value, compares values for constraints, and prints the canonical form the RI
//! prints (its `unparse`), which is what its tokens hash (§6).
//!
//! Canonical forms, as the RI's primitives produce them (checked against `mplane.model` in
//! `tests/mplane/sdk/values.json`):
//! - `natural`: `int(float(text))`: `"42.0"` and `"1E2"` are accepted, `"1.9"` is 1.
//! - `real`: Python's `repr` of the float: `1` → `1.0`, `1e16` → `1e+16`, `0.00001` → `1e-05`.
//! - `boolean`: `True`/`False`; accepted `True`, `False`, `1`, `0` (never `true`).
//! - `address`: a single IPv4 or IPv6 address, IPv6 in compressed lower-case hex, as Python
//!   3.11's `ipaddress` prints it (`::ffff:102:304`, not `::ffff:1.2.3.4`); no prefixes.
//! - `time`: `YYYY-MM-DD HH:MM:SS.ffffff` (see [`super::when`]), or `now`, `past`, `future`.
//! - `string` and `url`: unchanged.
//! - `*` is "no value" for every type.
//!
//! Deviations, all on inputs the RI never emits: a `natural` beyond ±2¹²⁷ or with `_` digit
//! separators is refused; non-ASCII white space around numbers is refused; an ISO `T` time is
//! refused rather than read as midnight.

use super::when::{format_time, TimePoint, WhenError};
use std::cmp::Ordering;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

/// An mPlane primitive type (§5.1), as a registry assigns it to each element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Prim {
    /// `string`.
    String,
    /// `natural`: an integer.
    Natural,
    /// `real`: a float.
    Real,
    /// `boolean`.
    Boolean,
    /// `time`: an absolute UTC time, or `now`, `past`, `future`.
    Time,
    /// `address`: one IPv4 or IPv6 address.
    Address,
    /// `url`: any string (not validated, as in the RI).
    Url,
}

impl Prim {
    /// Every primitive.
    pub const ALL: [Prim; 7] = [
        Prim::String,
        Prim::Natural,
        Prim::Real,
        Prim::Boolean,
        Prim::Time,
        Prim::Address,
        Prim::Url,
    ];

    /// Its name in registries (`prim`).
    pub fn name(self) -> &'static str {
        match self {
            Prim::String => "string",
            Prim::Natural => "natural",
            Prim::Real => "real",
            Prim::Boolean => "boolean",
            Prim::Time => "time",
            Prim::Address => "address",
            Prim::Url => "url",
        }
    }

    /// The primitive of a registry `prim` name.
    pub fn from_name(name: &str) -> Option<Prim> {
        Prim::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Gives `text` its type, as the RI's primitive `parse` does.
    pub fn parse(self, text: &str) -> Result<Value, ValueError> {
        if text == "*" {
            return Ok(Value::Unset);
        }
        let err = |reason: &'static str| ValueError {
            prim: self,
            text: clip(text),
            reason,
        };
        Ok(match self {
            Prim::String => Value::String(text.to_string()),
            Prim::Url => Value::Url(text.to_string()),
            Prim::Natural => {
                let f = py_float(text).ok_or_else(|| err("not a number"))?;
                if !f.is_finite() || f.abs() >= 1.7e38 {
                    return Err(err("not a finite integer"));
                }
                Value::Natural(f.trunc() as i128)
            }
            Prim::Real => Value::Real(py_float(text).ok_or_else(|| err("not a number"))?),
            Prim::Boolean => match text {
                "True" | "1" => Value::Boolean(true),
                "False" | "0" => Value::Boolean(false),
                _ => return Err(err("booleans are True, False, 1 or 0")),
            },
            Prim::Address => Value::Address(
                text.parse::<IpAddr>()
                    .map_err(|_| err("not a single IPv4 or IPv6 address"))?,
            ),
            Prim::Time => Value::Time(TimePoint::parse(text).map_err(|e| match e {
                WhenError::IsoTime { .. } => err("ISO 'T' separator (use a space)"),
                _ => err("not an mPlane time (YYYY-MM-DD HH:MM:SS.ffffff, now, past, future)"),
            })?),
        })
    }

    /// The canonical form of `text` for this type: what the RI would print after reading it.
    pub fn canonical(self, text: &str) -> Result<String, ValueError> {
        self.parse(text).map(|v| v.to_string())
    }
}

impl fmt::Display for Prim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A value that does not fit its element's type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a valid {prim}: {reason}")]
pub struct ValueError {
    /// The element's type.
    pub prim: Prim,
    /// The value (clipped).
    pub text: String,
    /// Why.
    pub reason: &'static str,
}

/// A typed value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `*`: no value.
    Unset,
    /// A string.
    String(String),
    /// A natural (signed, as the RI does not check the sign).
    Natural(i128),
    /// A real.
    Real(f64),
    /// A boolean.
    Boolean(bool),
    /// A time.
    Time(TimePoint),
    /// An address.
    Address(IpAddr),
    /// A URL.
    Url(String),
}

impl Value {
    /// Compares two values of one type as the RI's constraints do (Python's `<`); `None` where
    /// Python raises `TypeError` or the values are unordered (NaN, IPv4 against IPv6, a
    /// relative time, no value).
    pub fn compare(&self, other: &Value) -> Option<Ordering> {
        match (self, other) {
            (Value::String(a), Value::String(b)) | (Value::Url(a), Value::Url(b)) => Some(a.cmp(b)),
            (Value::Natural(a), Value::Natural(b)) => Some(a.cmp(b)),
            (Value::Real(a), Value::Real(b)) => a.partial_cmp(b),
            (Value::Boolean(a), Value::Boolean(b)) => Some(a.cmp(b)),
            (Value::Address(IpAddr::V4(a)), Value::Address(IpAddr::V4(b))) => Some(a.cmp(b)),
            (Value::Address(IpAddr::V6(a)), Value::Address(IpAddr::V6(b))) => Some(a.cmp(b)),
            (Value::Time(TimePoint::At(a)), Value::Time(TimePoint::At(b))) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    /// The RI's `unparse`: the canonical wire form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Unset => f.write_str("*"),
            Value::String(s) | Value::Url(s) => f.write_str(s),
            Value::Natural(n) => write!(f, "{n}"),
            Value::Real(x) => f.write_str(&py_float_repr(*x)),
            Value::Boolean(true) => f.write_str("True"),
            Value::Boolean(false) => f.write_str("False"),
            Value::Time(TimePoint::At(t)) => f.write_str(&format_time(t)),
            Value::Time(p) => write!(f, "{p}"),
            Value::Address(IpAddr::V4(a)) => write!(f, "{a}"),
            Value::Address(IpAddr::V6(a)) => f.write_str(&py_ipv6(a)),
        }
    }
}

fn clip(s: &str) -> String {
    const CLIP: usize = 64;
    if s.len() <= CLIP {
        return s.to_string();
    }
    let mut end = CLIP;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Python's `float(text)` on ASCII input: surrounding white space, a sign, `inf`/`nan` in any
/// case, decimal and exponent forms.
fn py_float(text: &str) -> Option<f64> {
    let t = text.trim_matches(|c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c'));
    if t.is_empty() || t.contains('_') {
        return None;
    }
    t.parse::<f64>().ok()
}

/// Python's `repr(float)` (`float_repr_style` "short"): the shortest digits that round-trip,
/// in fixed notation for exponents -4..=15 and in scientific notation (two-digit exponent at
/// least, with its sign) otherwise.
pub fn py_float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    // Rust's `{:e}` prints the shortest round-trip digits too: "d[.ddd]e<exp>".
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let sign = if x < 0.0 { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let point = exp + 1; // digits before the decimal point
        let body = if point <= 0 {
            format!("0.{}{}", "0".repeat((-point) as usize), digits)
        } else if point as usize >= digits.len() {
            format!("{}{}.0", digits, "0".repeat(point as usize - digits.len()))
        } else {
            let (a, b) = digits.split_at(point as usize);
            format!("{a}.{b}")
        };
        format!("{sign}{body}")
    } else {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{first}{frac}e{esign}{:02}", exp.abs())
    }
}

/// Python 3.11's `str(IPv6Address)`: eight lower-case hex groups without leading zeros, the
/// first longest run of two or more zero groups replaced by `::`.
fn py_ipv6(a: &Ipv6Addr) -> String {
    let seg = a.segments();
    let (mut best, mut best_len) = (0, 0);
    let mut i = 0;
    while i < 8 {
        if seg[i] == 0 {
            let start = i;
            while i < 8 && seg[i] == 0 {
                i += 1;
            }
            if i - start > best_len {
                best = start;
                best_len = i - start;
            }
        } else {
            i += 1;
        }
    }
    let hex = |s: &[u16]| {
        s.iter()
            .map(|x| format!("{x:x}"))
            .collect::<Vec<_>>()
            .join(":")
    };
    if best_len < 2 {
        return hex(&seg);
    }
    format!("{}::{}", hex(&seg[..best]), hex(&seg[best + best_len..]))
}

/// A parameter constraint in a capability (§5.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Constraint {
    /// `*`: any value.
    Any,
    /// `lo ... hi`: an inclusive range (the RI swaps reversed bounds).
    Range(String, String),
    /// `a,b,c` (or one value): a set.
    Set(Vec<String>),
}

/// A constraint that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConstraintError {
    /// ` ... ` appears more than once.
    #[error("{text:?}: a range constraint has exactly two bounds")]
    Range {
        /// The constraint (clipped).
        text: String,
    },
}

impl Constraint {
    /// Parses a constraint as the RI does (`parse_constraint`): `*`; a range when ` ... `
    /// occurs after the first character; else a comma-separated set. Element values are given
    /// their type only by [`Constraint::allows`] and [`Constraint::canonical`].
    pub fn parse(text: &str) -> Result<Constraint, ConstraintError> {
        if text == "*" {
            return Ok(Constraint::Any);
        }
        match text.find(" ... ") {
            Some(i) if i > 0 => {
                let (a, b) = (&text[..i], &text[i + 5..]);
                if b.contains(" ... ") {
                    return Err(ConstraintError::Range { text: clip(text) });
                }
                Ok(Constraint::Range(a.to_string(), b.to_string()))
            }
            _ => Ok(Constraint::Set(
                text.split(',').map(str::to_string).collect(),
            )),
        }
    }

    /// One value from `text`, for a single-value constraint built by program. Refuses a value
    /// that would read back as something else (`*`, a `,` or ` ... `).
    pub fn single(value: &str) -> Option<Constraint> {
        if value == "*" || value.contains(',') || value.contains(" ... ") {
            return None;
        }
        Some(Constraint::Set(vec![value.to_string()]))
    }

    /// The only value the constraint allows, if it allows exactly one: RI clients fill such
    /// parameters in themselves (§5.3; `System_ID`). Decided on the text: a set whose members
    /// are all the same string, or a range with equal bounds.
    pub fn single_value(&self) -> Option<&str> {
        match self {
            Constraint::Any => None,
            Constraint::Range(a, b) => (a == b).then_some(a.as_str()),
            Constraint::Set(v) => {
                let first = v.first()?;
                v.iter().all(|x| x == first).then_some(first.as_str())
            }
        }
    }

    /// Whether `value` (a wire string of type `prim`) meets the constraint, as the RI's
    /// `met_by` decides after parsing both. An unparsable value or bound is an error; values
    /// the RI cannot compare (NaN, IPv4 against IPv6, relative times) do not meet a range.
    pub fn allows(&self, prim: Prim, value: &str) -> Result<bool, ValueError> {
        let v = prim.parse(value)?;
        Ok(match self {
            Constraint::Any => true,
            Constraint::Range(a, b) => {
                let (mut lo, mut hi) = (prim.parse(a)?, prim.parse(b)?);
                if lo.compare(&hi) == Some(Ordering::Greater) {
                    std::mem::swap(&mut lo, &mut hi);
                }
                matches!(v.compare(&lo), Some(Ordering::Greater | Ordering::Equal))
                    && matches!(v.compare(&hi), Some(Ordering::Less | Ordering::Equal))
            }
            Constraint::Set(members) => {
                for m in members {
                    if prim.parse(m)? == v {
                        return Ok(true);
                    }
                }
                false
            }
        })
    }

    /// The RI's `str()` of the parsed constraint, which its capability tokens hash (§6):
    /// members in canonical form, reversed range bounds swapped, duplicate set members removed.
    /// Set members keep their order here; the RI prints a Python set, whose order is not even
    /// stable across its own runs for strings, so only single-value sets (the only kind Tstat
    /// uses) give tokens a client can rely on.
    pub fn canonical(&self, prim: Prim) -> Result<String, ValueError> {
        Ok(match self {
            Constraint::Any => "*".to_string(),
            Constraint::Range(a, b) => {
                let (mut lo, mut hi) = (prim.parse(a)?, prim.parse(b)?);
                if lo.compare(&hi) == Some(Ordering::Greater) {
                    std::mem::swap(&mut lo, &mut hi);
                }
                format!("{lo} ... {hi}")
            }
            Constraint::Set(members) => {
                let mut seen: Vec<Value> = Vec::with_capacity(members.len());
                for m in members {
                    let v = prim.parse(m)?;
                    if !seen.contains(&v) {
                        seen.push(v);
                    }
                }
                seen.iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            }
        })
    }
}

impl fmt::Display for Constraint {
    /// The wire form, as given.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Constraint::Any => f.write_str("*"),
            Constraint::Range(a, b) => write!(f, "{a} ... {b}"),
            Constraint::Set(v) => f.write_str(&v.join(",")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_float_repr() {
        for (x, s) in [
            (0.5, "0.5"),
            (1.0, "1.0"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456789.123, "123456789.123"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-0.0, "-0.0"),
            (1e-7, "1e-07"),
            (2.5e20, "2.5e+20"),
            (-1234.5, "-1234.5"),
            (1.2345678901234567e300, "1.2345678901234567e+300"),
            (5e-324, "5e-324"),
            (f64::INFINITY, "inf"),
            (f64::NAN, "nan"),
        ] {
            assert_eq!(py_float_repr(x), s, "{x}");
        }
    }

    #[test]
    fn ipv6_as_python_prints_it() {
        for (a, s) in [
            ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
            ("::ffff:1.2.3.4", "::ffff:102:304"),
            ("::", "::"),
            ("::1", "::1"),
            ("1::", "1::"),
            ("1:0:0:1:0:0:0:1", "1:0:0:1::1"),
            ("1:0:0:1:0:0:1:1", "1::1:0:0:1:1"),
            ("1:0:1:0:1:0:1:0", "1:0:1:0:1:0:1:0"),
        ] {
            assert_eq!(Prim::Address.canonical(a).unwrap(), s, "{a}");
        }
    }

    #[test]
    fn constraints_parse_as_the_ri_does() {
        assert_eq!(Constraint::parse("*").unwrap(), Constraint::Any);
        assert_eq!(
            Constraint::parse("0 ... 99").unwrap(),
            Constraint::Range("0".into(), "99".into())
        );
        assert_eq!(
            Constraint::parse("01").unwrap(),
            Constraint::Set(vec!["01".into()])
        );
        assert_eq!(
            Constraint::parse(" ... 5").unwrap(),
            Constraint::Set(vec![" ... 5".into()])
        );
        assert!(Constraint::parse("1 ... 2 ... 3").is_err());
        assert_eq!(Constraint::parse("01").unwrap().single_value(), Some("01"));
        assert_eq!(Constraint::parse("a,b").unwrap().single_value(), None);
        assert_eq!(Constraint::parse("a,a").unwrap().single_value(), Some("a"));
        assert_eq!(
            Constraint::parse("3 ... 3").unwrap().single_value(),
            Some("3")
        );
        assert_eq!(Constraint::single("a,b"), None);
    }

    #[test]
    fn natural_range_truncates_as_int_of_float() {
        let c = Constraint::parse("0 ... 99").unwrap();
        assert!(c.allows(Prim::Natural, "50.5").unwrap());
        assert!(c.allows(Prim::Natural, "1E1").unwrap());
        assert!(!c.allows(Prim::Natural, "100").unwrap());
        assert!(c.allows(Prim::Natural, "x").is_err());
        assert_eq!(
            Constraint::parse("99 ... 0")
                .unwrap()
                .canonical(Prim::Natural)
                .unwrap(),
            "0 ... 99"
        );
    }
}
