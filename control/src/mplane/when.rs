//! Temporal scopes: the `when` section of mPlane messages (mplane.md §4), and mPlane absolute
//! times (§3.2).
//!
//! Syntax, as the reference implementation (RI, `mplane.model.When`) reads and writes it:
//!
//! ```text
//! when      = [ "repeat " ] simple [ " cron " crontab ] [ " { " inner " }" ]
//! simple    = point [ " ... " point | " + " duration ] [ " / " duration ]
//! point     = "past" | "now" | "future" | time
//! time      = YYYY-MM-DD [ ws HH:MM [ :SS [ .f{1,6} ] ] ]        (UTC, no zone, no "T")
//! duration  = [Nd][Nh][Nm][Ns] | "inf"                           ("inf" = 100000 days)
//! inner     = "now" [ " + " duration ] [ " / " duration ]
//! crontab   = six fields: seconds minutes hours days-of-month weekdays months,
//!             each "*", "a-b" or "a,b,c"
//! ```
//!
//! Printing follows the RI's `When.__str__` exactly (which is what its tokens hash, §6): absolute
//! times always with six fractional digits, durations normalised (`90s` → `1m30s`, `inf` →
//! `100000d`, zero → `0s`), and a trailing space after the inner scope of a repeated one.
//!
//! Where the RI is lenient by accident this parser refuses, with an error that says why (every
//! such input is one the RI itself never emits, and each one is listed in mplane.md §4 or found
//! by running the RI's `When`):
//! - `2026-11-22T10:00:00`: the RI silently reads midnight of that day (§3.2); refused.
//! - `500ms` (and any other unit than d, h, m, s): the RI reads 500 *minutes* (§4); refused.
//! - trailing text the RI ignores (`now + 1h30` is one hour, `2026-11-22 10:00:00 junk`, a
//!   third ` ... ` part); refused.
//! - `future` as a start, `past` as an end, `past + D`, singletons other than `now` or a time
//!   (the grammar of §4 excludes them; the RI fails on them later with a `TypeError`); refused.
//! - crontab values out of their field's range; refused (the RI accepts any integer).
//!
//! Two printing differences, both only for repeated scopes (which Tstat never offers): a crontab
//! field `*` is printed `*` (the RI expands it to every value, with hours 0..59), and an inner
//! scope without a duration is printed (the RI drops it).

/// The type of absolute mPlane times (UTC, naive), re-exported for users of this API.
pub use chrono::NaiveDateTime;
use chrono::{Datelike, NaiveDate, NaiveTime, TimeDelta, Timelike};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// What `inf` means in a duration: 100000 days (the RI's `MAX_TIME`).
pub const INF_SECONDS: u64 = 100_000 * 86_400;

/// The longest duration accepted: Python's `timedelta.max` (999999999 days, 86399 s), beyond
/// which the RI raises `OverflowError`.
pub const MAX_DURATION_SECONDS: u64 = 999_999_999 * 86_400 + 86_399;

/// Longest piece of the offending input an error message repeats.
const CLIP: usize = 64;

/// Why a temporal scope or an absolute time was refused. The text it quotes is clipped to a
/// few dozen characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WhenError {
    /// The scope is empty.
    #[error("empty temporal scope")]
    Empty,
    /// Not an mPlane time (§3.2).
    #[error("{text:?} is not an mPlane time (YYYY-MM-DD[ HH:MM[:SS[.ffffff]]] in UTC)")]
    BadTime {
        /// The offending text.
        text: String,
    },
    /// An ISO-8601 time with a `T` separator: the RI would silently read midnight (§3.2).
    #[error("{text:?}: mPlane times separate date and time with a space, not \"T\" (the reference implementation would read midnight of that day)")]
    IsoTime {
        /// The offending text.
        text: String,
    },
    /// A time with a zone suffix or other trailing text.
    #[error(
        "{text:?}: unexpected text after the time (mPlane times are UTC without a zone suffix)"
    )]
    TrailingTime {
        /// The offending text.
        text: String,
    },
    /// A well-formed time that does not exist (month 13, February 30th, hour 24, second 60).
    #[error("{text:?} is not a valid date and time")]
    NoSuchTime {
        /// The offending text.
        text: String,
    },
    /// Not a duration `[Nd][Nh][Nm][Ns]` or `inf` (§4).
    #[error("{text:?} is not an mPlane duration ([Nd][Nh][Nm][Ns] or inf)")]
    BadDuration {
        /// The offending text.
        text: String,
    },
    /// A sub-second unit: the RI reads `500ms` as 500 minutes (§4).
    #[error("{text:?}: mPlane durations have no sub-second unit (the reference implementation would read minutes)")]
    SubSecond {
        /// The offending text.
        text: String,
    },
    /// A duration beyond [`MAX_DURATION_SECONDS`].
    #[error("{text:?}: duration too long")]
    DurationTooLong {
        /// The offending text.
        text: String,
    },
    /// A separator (` ... `, ` + `, ` / `, ` cron `) used more than once where one is allowed.
    #[error("{separator:?} appears more than once in {text:?}")]
    RepeatedSeparator {
        /// The separator.
        separator: &'static str,
        /// The offending text.
        text: String,
    },
    /// A time point where the grammar does not allow it (`future ... now`, `past + 1h`).
    #[error("{point:?} cannot be the {role} of a temporal scope")]
    PointNotAllowed {
        /// `past`, `now`, `future` or the time.
        point: String,
        /// `start`, `end`, `start of a duration` or `singleton`.
        role: &'static str,
    },
    /// A repeated scope without a period or crontab, or with both.
    #[error(
        "a repeated scope needs exactly one of a period (\" / D\") and a crontab (\" cron ...\")"
    )]
    RepeatSchedule,
    /// The inner scope of a repeated one is not `{ now [+ D] [/ D] }`.
    #[error("{text:?}: the inner scope of a repeated scope must be \"{{ now [+ D] [/ D] }}\"")]
    BadInner {
        /// The offending text.
        text: String,
    },
    /// A malformed crontab.
    #[error("{text:?} is not an mPlane crontab (six fields: seconds minutes hours days weekdays months)")]
    BadCron {
        /// The offending text.
        text: String,
    },
    /// An absolute time computed from the scope falls outside years 1..9999.
    #[error("the temporal scope reaches beyond the year 9999")]
    OutOfRange,
    /// A specification scope that cannot be run as one job: repeated.
    #[error("repeated temporal scopes are not supported for this specification")]
    Repeated,
    /// A specification scope that starts in the unbounded past (§4: the RI fails on it too).
    #[error("a specification cannot start in the unbounded past")]
    UnboundedPast,
    /// A specification scope that ends before it starts.
    #[error("the temporal scope ends before it starts")]
    EndsBeforeStart,
    /// A specification scope that is already over (the RI would never schedule it, §4).
    #[error("the temporal scope ended at {end} (UTC), before now")]
    AlreadyOver {
        /// Its end, printed as an mPlane time.
        end: String,
    },
}

fn clip(s: &str) -> String {
    if s.len() <= CLIP {
        return s.to_string();
    }
    let mut end = CLIP;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Python's `str.isspace` for the ASCII range, which is what `\s` matches in the RI's patterns
/// (non-ASCII white space is refused here).
fn is_py_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Parses an mPlane absolute time (§3.2): `YYYY-MM-DD`, `YYYY-MM-DD HH:MM`,
/// `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DD HH:MM:SS.f` with one to six fractional digits, UTC.
///
/// Field widths are those of the RI's `strptime` formats: a four-digit year, one or two digits
/// for the others.
pub fn parse_time(text: &str) -> Result<NaiveDateTime, WhenError> {
    let b = text.as_bytes();
    let bad = || WhenError::BadTime { text: clip(text) };
    let mut i = 0;
    let digits = |i: &mut usize, min: usize, max: usize| -> Option<u32> {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        let n = *i - start;
        if n < min || n > max {
            return None;
        }
        text[start..*i].parse().ok()
    };
    let expect = |i: &mut usize, c: u8| -> bool {
        if *i < b.len() && b[*i] == c {
            *i += 1;
            true
        } else {
            false
        }
    };
    let year = digits(&mut i, 4, 4).ok_or_else(bad)?;
    if !expect(&mut i, b'-') {
        return Err(bad());
    }
    let month = digits(&mut i, 1, 2).ok_or_else(bad)?;
    if !expect(&mut i, b'-') {
        return Err(bad());
    }
    let day = digits(&mut i, 1, 2).ok_or_else(bad)?;
    let (mut hour, mut minute, mut second, mut micro) = (0, 0, 0, 0);
    if i < b.len() {
        if b[i] == b'T' {
            return Err(WhenError::IsoTime { text: clip(text) });
        }
        if !is_py_space(b[i]) {
            return Err(WhenError::TrailingTime { text: clip(text) });
        }
        while i < b.len() && is_py_space(b[i]) {
            i += 1;
        }
        hour = digits(&mut i, 1, 2).ok_or_else(bad)?;
        if !expect(&mut i, b':') {
            return Err(bad());
        }
        minute = digits(&mut i, 1, 2).ok_or_else(bad)?;
        if expect(&mut i, b':') {
            second = digits(&mut i, 1, 2).ok_or_else(bad)?;
            if expect(&mut i, b'.') {
                let start = i;
                let f = digits(&mut i, 1, 6).ok_or_else(bad)?;
                micro = f * 10u32.pow(6 - (i - start) as u32);
            }
        }
        if i < b.len() {
            return Err(WhenError::TrailingTime { text: clip(text) });
        }
    }
    // Python's datetime accepts years 1..9999 and seconds 0..59.
    let date = NaiveDate::from_ymd_opt(year as i32, month, day).filter(|_| year >= 1);
    let time = if second < 60 {
        NaiveTime::from_hms_micro_opt(hour, minute, second, micro)
    } else {
        None
    };
    match (date, time) {
        (Some(d), Some(t)) => Ok(NaiveDateTime::new(d, t)),
        _ => Err(WhenError::NoSuchTime { text: clip(text) }),
    }
}

/// Prints an mPlane absolute time as the RI does: `YYYY-MM-DD HH:MM:SS.ffffff` (always six
/// fractional digits; sub-microsecond precision is dropped).
pub fn format_time(t: &NaiveDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.nanosecond() / 1000 % 1_000_000
    )
}

/// Parses a duration (§4): `[Nd][Nh][Nm][Ns]` with at least one part, in that order, or `inf`.
pub fn parse_duration(text: &str) -> Result<Duration, WhenError> {
    if text == "inf" {
        return Ok(Duration::from_secs(INF_SECONDS));
    }
    let b = text.as_bytes();
    let mut i = 0;
    let mut total: u64 = 0;
    let mut next_unit = 0; // index into UNITS: units must come in order, each at most once
    const UNITS: [(u8, u64); 4] = [(b'd', 86_400), (b'h', 3_600), (b'm', 60), (b's', 1)];
    let bad = || WhenError::BadDuration { text: clip(text) };
    let too_long = || WhenError::DurationTooLong { text: clip(text) };
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start || i == b.len() {
            return Err(bad());
        }
        let unit = b[i];
        if unit == b'm' && b.get(i + 1) == Some(&b's') || matches!(unit, b'u' | b'n' | b'\xc2') {
            return Err(WhenError::SubSecond { text: clip(text) });
        }
        let pos = UNITS[next_unit..]
            .iter()
            .position(|&(u, _)| u == unit)
            .ok_or_else(bad)?;
        let (_, scale) = UNITS[next_unit + pos];
        next_unit += pos + 1;
        let n: u64 = text[start..i].parse().map_err(|_| too_long())?;
        total = n
            .checked_mul(scale)
            .and_then(|v| v.checked_add(total))
            .ok_or_else(too_long)?;
        i += 1;
    }
    if b.is_empty() {
        return Err(bad());
    }
    if total > MAX_DURATION_SECONDS {
        return Err(too_long());
    }
    Ok(Duration::from_secs(total))
}

/// Prints a duration as the RI does (`unparse_dur`): whole seconds as days, hours, minutes and
/// seconds, zero parts left out, `0s` for zero.
pub fn format_duration(d: Duration) -> String {
    let mut secs = d.as_secs();
    let mut out = String::new();
    for (unit, scale) in [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)] {
        if secs >= scale {
            out.push_str(&(secs / scale).to_string());
            out.push(unit);
            secs %= scale;
        }
    }
    if out.is_empty() {
        out.push_str("0s");
    }
    out
}

/// One end of a temporal scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimePoint {
    /// `past`: the indefinite past.
    Past,
    /// `now`: the moment the scope is evaluated (for a specification: when the component
    /// pulls it, §10).
    Now,
    /// `future`: the indefinite future.
    Future,
    /// An absolute UTC time.
    At(NaiveDateTime),
}

impl TimePoint {
    /// Parses `past`, `now`, `future` or an absolute time.
    pub fn parse(text: &str) -> Result<TimePoint, WhenError> {
        match text {
            "past" => Ok(TimePoint::Past),
            "now" => Ok(TimePoint::Now),
            "future" => Ok(TimePoint::Future),
            _ => parse_time(text).map(TimePoint::At),
        }
    }
}

impl fmt::Display for TimePoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimePoint::Past => f.write_str("past"),
            TimePoint::Now => f.write_str("now"),
            TimePoint::Future => f.write_str("future"),
            TimePoint::At(t) => f.write_str(&format_time(t)),
        }
    }
}

/// How a scope extends from its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum End {
    /// ` ... B`: until a time point (`now`, `future` or a time).
    Until(TimePoint),
    /// ` + D`: for a duration.
    For(Duration),
}

/// One crontab field of a repeated scope.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum CronField {
    /// `*`: every value.
    #[default]
    Any,
    /// The listed values, sorted, without duplicates (`a,b,c`, or `a-b` expanded).
    Values(Vec<u8>),
}

/// The crontab of a repeated scope (`cron <s> <m> <h> <dom> <dow> <mon>`, §4).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Crontab {
    /// Seconds (0..=59), minutes (0..=59), hours (0..=23), days of the month (1..=31),
    /// weekdays (0..=6, Monday first as in the RI) and months (1..=12), in that order.
    pub fields: [CronField; 6],
}

const CRON_RANGES: [(u8, u8); 6] = [(0, 59), (0, 59), (0, 23), (1, 31), (0, 6), (1, 12)];

impl Crontab {
    fn parse(text: &str) -> Result<Crontab, WhenError> {
        let bad = || WhenError::BadCron { text: clip(text) };
        let parts: Vec<&str> = text.split_ascii_whitespace().collect();
        if parts.len() != 6 {
            return Err(bad());
        }
        let mut fields: [CronField; 6] = Default::default();
        for (k, part) in parts.iter().enumerate() {
            let (lo, hi) = CRON_RANGES[k];
            let num = |s: &str| -> Result<u8, WhenError> {
                match s.parse::<u8>() {
                    Ok(v) if (lo..=hi).contains(&v) && s.bytes().all(|c| c.is_ascii_digit()) => {
                        Ok(v)
                    }
                    _ => Err(bad()),
                }
            };
            fields[k] = if *part == "*" {
                CronField::Any
            } else if let Some((a, b)) = part.split_once('-') {
                let (a, b) = (num(a)?, num(b)?);
                if a > b {
                    return Err(bad());
                }
                CronField::Values((a..=b).collect())
            } else {
                let mut v = part.split(',').map(num).collect::<Result<Vec<u8>, _>>()?;
                v.sort_unstable();
                v.dedup();
                CronField::Values(v)
            };
        }
        Ok(Crontab { fields })
    }
}

impl fmt::Display for Crontab {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, field) in self.fields.iter().enumerate() {
            if k > 0 {
                f.write_str(" ")?;
            }
            match field {
                CronField::Any => f.write_str("*")?,
                CronField::Values(v) => {
                    for (j, x) in v.iter().enumerate() {
                        if j > 0 {
                            f.write_str(",")?;
                        }
                        write!(f, "{x}")?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// The inner scope of a repeated scope: `{ now [+ D] [/ P] }`, the scope of each repetition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Inner {
    /// How long each repetition runs.
    pub duration: Option<Duration>,
    /// The sampling period within a repetition.
    pub period: Option<Duration>,
}

/// What makes a scope repeated (`repeat ...`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Repeat {
    /// Repetitions at the times a crontab selects (instead of every period).
    pub cron: Option<Crontab>,
    /// The scope of each repetition.
    pub inner: Option<Inner>,
}

/// A temporal scope (§4). Build one with [`When::from_str`] (or `"now + 30m".parse()`), or
/// the constructors; print it with `Display`, which gives the RI's normal form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct When {
    /// Its start (`past`, `now` or a time).
    pub start: TimePoint,
    /// How it extends; `None` for a singleton (`now`, or one time).
    pub end: Option<End>,
    /// ` / P`: one sample every period (for a repeated scope: the repetition period).
    pub period: Option<Duration>,
    /// `repeat ...`: present for repeated scopes.
    pub repeat: Option<Repeat>,
}

/// Splits on `sep` occurring at most once.
fn split_once_only<'a>(
    text: &'a str,
    sep: &'static str,
) -> Result<Option<(&'a str, &'a str)>, WhenError> {
    match text.split_once(sep) {
        Some((_, b)) if b.contains(sep) => Err(WhenError::RepeatedSeparator {
            separator: sep,
            text: clip(text),
        }),
        other => Ok(other),
    }
}

fn point_as(text: &str, role: &'static str, allowed: &[&str]) -> Result<TimePoint, WhenError> {
    let p = TimePoint::parse(text)?;
    let name = match p {
        TimePoint::Past => "past",
        TimePoint::Now => "now",
        TimePoint::Future => "future",
        TimePoint::At(_) => return Ok(p),
    };
    if allowed.contains(&name) {
        Ok(p)
    } else {
        Err(WhenError::PointNotAllowed {
            point: name.to_string(),
            role,
        })
    }
}

impl When {
    /// `now`.
    pub fn now() -> When {
        When {
            start: TimePoint::Now,
            end: None,
            period: None,
            repeat: None,
        }
    }

    /// `now + D`: the usual scope of a Tstat job (§12.3).
    pub fn now_for(d: Duration) -> When {
        When {
            end: Some(End::For(d)),
            ..When::now()
        }
    }

    /// `A ... B` for two time points.
    pub fn range(start: TimePoint, end: TimePoint) -> When {
        When {
            start,
            end: Some(End::Until(end)),
            period: None,
            repeat: None,
        }
    }

    /// `T1 ... T2` for two absolute times: the scope of a result (§4).
    pub fn between(start: NaiveDateTime, end: NaiveDateTime) -> When {
        When::range(TimePoint::At(start), TimePoint::At(end))
    }

    /// Whether this is a repeated scope.
    pub fn is_repeated(&self) -> bool {
        self.repeat.is_some()
    }

    /// The RI's `is_definite`: every end that is given is an absolute time (a result's scope
    /// must be definite, and only indefinite specification scopes fold the current time into
    /// their tokens, §6).
    pub fn is_definite(&self) -> bool {
        let start = matches!(self.start, TimePoint::At(_));
        match self.end {
            Some(End::Until(b)) => start && matches!(b, TimePoint::At(_)),
            _ => start,
        }
    }

    /// The absolute start and end of the scope evaluated at `tzero` (the RI's `datetimes`):
    /// `None` for `past` as a start or `future` as an end. A singleton ends when it starts.
    pub fn datetimes(
        &self,
        tzero: NaiveDateTime,
    ) -> Result<(Option<NaiveDateTime>, Option<NaiveDateTime>), WhenError> {
        let abs = |p: TimePoint| match p {
            TimePoint::Now => Some(tzero),
            TimePoint::At(t) => Some(t),
            TimePoint::Past | TimePoint::Future => None,
        };
        let start = abs(self.start);
        let end = match self.end {
            None => start,
            Some(End::Until(b)) => abs(b),
            Some(End::For(d)) => match start {
                Some(s) => Some(add(s, d)?),
                None => None,
            },
        };
        Ok((start, end))
    }

    /// Whether time point `t` lies within this scope at `tzero` (the RI's `in_scope`; a point
    /// the RI could only compare with a `TypeError` is outside).
    fn contains(&self, t: TimePoint, tzero: NaiveDateTime) -> bool {
        let t = match t {
            TimePoint::Now => {
                if self.start == TimePoint::Now || self.end == Some(End::Until(TimePoint::Now)) {
                    return true;
                }
                tzero
            }
            TimePoint::At(t) => t,
            TimePoint::Past | TimePoint::Future => {
                return matches!(self.datetimes(tzero), Ok((None, None)));
            }
        };
        match self.datetimes(tzero) {
            Ok((start, end)) => !(start.is_some_and(|s| t < s) || end.is_some_and(|e| t > e)),
            Err(_) => false,
        }
    }

    /// Whether this scope (a specification's) fits within `capability`'s, at `tzero`: the RI's
    /// `When.follows`, which its `Specification.fulfills` uses (§4). If the capability has a
    /// period, the specification needs one at least as long; its start, or else its absolute
    /// end, must lie inside the capability's window.
    pub fn follows(&self, capability: &When, tzero: NaiveDateTime) -> bool {
        if let Some(cp) = capability.period {
            let own = match &self.repeat {
                None => self.period,
                Some(r) => r.inner.and_then(|i| i.period),
            };
            if !matches!(own, Some(p) if p >= cp) {
                return false;
            }
        }
        if capability.contains(self.start, tzero) {
            return true;
        }
        match self.end {
            Some(End::Until(b @ TimePoint::At(_))) => capability.contains(b, tzero),
            _ => false,
        }
    }

    /// The window in which a specification with this scope runs, evaluated at `tzero` (when
    /// the component pulled it): the start (possibly already past: run at once) and the end
    /// (`None`: until interrupted). Refuses what cannot run as one job: repeated scopes, an
    /// unbounded past, a scope that ends before it starts or that is already over.
    pub fn job_window(
        &self,
        tzero: NaiveDateTime,
    ) -> Result<(NaiveDateTime, Option<NaiveDateTime>), WhenError> {
        if self.is_repeated() {
            return Err(WhenError::Repeated);
        }
        let (start, end) = self.datetimes(tzero)?;
        let start = start.ok_or(WhenError::UnboundedPast)?;
        if let Some(e) = end {
            if e < start {
                return Err(WhenError::EndsBeforeStart);
            }
            if e < tzero {
                return Err(WhenError::AlreadyOver {
                    end: format_time(&e),
                });
            }
        }
        Ok((start, end))
    }

    fn parse_simple(text: &str) -> Result<When, WhenError> {
        let (main, period) = match split_once_only(text, " / ")? {
            Some((m, p)) => (m, Some(parse_duration(p)?)),
            None => (text, None),
        };
        let (start, end) = if let Some((a, d)) = split_once_only(main, " + ")? {
            let a = point_as(a, "start of a duration", &["now"])?;
            (a, Some(End::For(parse_duration(d)?)))
        } else if let Some((a, b)) = split_once_only(main, " ... ")? {
            let a = point_as(a, "start", &["past", "now"])?;
            let b = point_as(b, "end", &["now", "future"])?;
            (a, Some(End::Until(b)))
        } else {
            (point_as(main, "singleton", &["now"])?, None)
        };
        Ok(When {
            start,
            end,
            period,
            repeat: None,
        })
    }

    fn parse_inner(text: &str) -> Result<Inner, WhenError> {
        let bad = || WhenError::BadInner { text: clip(text) };
        let rest = text.strip_prefix("now").ok_or_else(bad)?;
        let (rest, period) = match split_once_only(rest, " / ")? {
            Some((r, p)) => (r, Some(parse_duration(p)?)),
            None => (rest, None),
        };
        let duration = match rest.strip_prefix(" + ") {
            Some(d) => Some(parse_duration(d)?),
            None if rest.is_empty() => None,
            None => return Err(bad()),
        };
        Ok(Inner { duration, period })
    }
}

fn add(t: NaiveDateTime, d: Duration) -> Result<NaiveDateTime, WhenError> {
    let secs = i64::try_from(d.as_secs()).map_err(|_| WhenError::OutOfRange)?;
    let delta = TimeDelta::try_seconds(secs).ok_or(WhenError::OutOfRange)?;
    t.checked_add_signed(delta)
        .filter(|r| r.year() <= 9999)
        .ok_or(WhenError::OutOfRange)
}

impl FromStr for When {
    type Err = WhenError;

    fn from_str(s: &str) -> Result<When, WhenError> {
        let text = s.trim_matches(|c: char| c.is_ascii() && is_py_space(c as u8));
        if text.is_empty() {
            return Err(WhenError::Empty);
        }
        let Some(rest) = text.strip_prefix("repeat ") else {
            return When::parse_simple(text);
        };
        let (rest, inner) = match rest.split_once(" { ") {
            Some((outer, inner)) => {
                let inner = inner
                    .strip_suffix(" }")
                    .ok_or_else(|| WhenError::BadInner { text: clip(inner) })?;
                (outer, Some(When::parse_inner(inner)?))
            }
            None => (rest, None),
        };
        let (outer, cron) = match split_once_only(rest, " cron ")? {
            Some((o, c)) => (o, Some(Crontab::parse(c)?)),
            None => (rest, None),
        };
        let mut when = When::parse_simple(outer)?;
        if cron.is_some() == when.period.is_some() {
            return Err(WhenError::RepeatSchedule);
        }
        when.repeat = Some(Repeat { cron, inner });
        Ok(when)
    }
}

impl fmt::Display for When {
    /// The RI's normal form (`When.__str__`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.repeat.is_some() {
            f.write_str("repeat ")?;
        }
        write!(f, "{}", self.start)?;
        match self.end {
            Some(End::Until(b)) => write!(f, " ... {b}")?,
            Some(End::For(d)) => write!(f, " + {}", format_duration(d))?,
            None => {}
        }
        if let Some(p) = self.period {
            write!(f, " / {}", format_duration(p))?;
        }
        if let Some(r) = &self.repeat {
            if let Some(c) = &r.cron {
                write!(f, " cron {c}")?;
            }
            if let Some(i) = &r.inner {
                f.write_str(" { now")?;
                if let Some(d) = i.duration {
                    write!(f, " + {}", format_duration(d))?;
                }
                if let Some(p) = i.period {
                    write!(f, " / {}", format_duration(p))?;
                }
                f.write_str(" } ")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        parse_time(s).unwrap()
    }

    #[test]
    fn times_parse_in_every_ri_form() {
        assert_eq!(format_time(&t("2026-11-22")), "2026-11-22 00:00:00.000000");
        assert_eq!(
            format_time(&t("2026-11-22 10:00")),
            "2026-11-22 10:00:00.000000"
        );
        assert_eq!(
            format_time(&t("2026-11-22 10:00:07")),
            "2026-11-22 10:00:07.000000"
        );
        assert_eq!(
            format_time(&t("2026-11-22 10:00:07.5")),
            "2026-11-22 10:00:07.500000"
        );
        assert_eq!(
            format_time(&t("2026-11-22 10:00:07.000123")),
            "2026-11-22 10:00:07.000123"
        );
        assert_eq!(
            format_time(&t("2026-1-2 3:4:5")),
            "2026-01-02 03:04:05.000000"
        );
        assert_eq!(
            format_time(&t("2026-11-22 \t 10:00")),
            "2026-11-22 10:00:00.000000"
        );
    }

    #[test]
    fn bad_times_say_why() {
        assert!(matches!(
            parse_time("2026-11-22T10:00:00"),
            Err(WhenError::IsoTime { .. })
        ));
        assert!(matches!(
            parse_time("2026-11-22 10:00:00Z"),
            Err(WhenError::TrailingTime { .. })
        ));
        assert!(matches!(
            parse_time("2026-02-30"),
            Err(WhenError::NoSuchTime { .. })
        ));
        assert!(matches!(
            parse_time("2026-11-22 24:00"),
            Err(WhenError::NoSuchTime { .. })
        ));
        assert!(matches!(
            parse_time("2026-11-22 10:00:60"),
            Err(WhenError::NoSuchTime { .. })
        ));
        assert!(matches!(
            parse_time("0000-01-01"),
            Err(WhenError::NoSuchTime { .. })
        ));
        for bad in [
            "",
            "26-11-22",
            "2026-11-22 10",
            "2026-11-22 10:00:00.1234567",
            "2026-11-22.5",
            "2026-11-22 10:00.5",
            "2026-111-22",
            "tomorrow",
        ] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_normalise_as_the_ri_does() {
        for (input, out) in [
            ("90s", "1m30s"),
            ("30m", "30m"),
            ("1h30m", "1h30m"),
            ("7m30s", "7m30s"),
            ("inf", "100000d"),
            ("0s", "0s"),
            ("1d2h3m4s", "1d2h3m4s"),
            ("3600s", "1h"),
            ("25h", "1d1h"),
        ] {
            assert_eq!(
                format_duration(parse_duration(input).unwrap()),
                out,
                "{input}"
            );
        }
        assert!(matches!(
            parse_duration("500ms"),
            Err(WhenError::SubSecond { .. })
        ));
        for bad in [
            "", "1h30", "30m1h", "1hh", "h", "1x", "1.5h", " 1h", "1m1m", "-1s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(matches!(
            parse_duration("99999999999999999999d"),
            Err(WhenError::DurationTooLong { .. })
        ));
        assert!(matches!(
            parse_duration("1000000000d"),
            Err(WhenError::DurationTooLong { .. })
        ));
    }

    #[test]
    fn scopes_print_in_normal_form() {
        for (input, out) in [
            ("now", "now"),
            ("now + 90s", "now + 1m30s"),
            ("now + inf", "now + 100000d"),
            ("now ... future", "now ... future"),
            ("past ... future", "past ... future"),
            ("now + 3h / 7m30s", "now + 3h / 7m30s"),
            (
                "2026-11-22 10:00:00 ... 2026-11-22 11:00:00",
                "2026-11-22 10:00:00.000000 ... 2026-11-22 11:00:00.000000",
            ),
            (
                "2026-11-22 10:00:00 + 1h",
                "2026-11-22 10:00:00.000000 + 1h",
            ),
            (
                "repeat now ... future / 1h { now + 5m / 1s }",
                "repeat now ... future / 1h { now + 5m / 1s } ",
            ),
            (
                "repeat now ... future cron 0 0 * * * *",
                "repeat now ... future cron 0 0 * * * *",
            ),
            (
                "repeat now ... future cron 0 0,30 8-10 * 0-4 * { now + 5m / 1s }",
                "repeat now ... future cron 0 0,30 8,9,10 * 0,1,2,3,4 * { now + 5m / 1s } ",
            ),
            ("  now + 1h  ", "now + 1h"),
        ] {
            let w: When = input.parse().unwrap();
            assert_eq!(w.to_string(), out, "{input}");
            assert_eq!(out.parse::<When>().unwrap(), w, "{out}");
        }
    }

    #[test]
    fn bad_scopes_say_why() {
        use WhenError as E;
        let err = |s: &str| s.parse::<When>().unwrap_err();
        assert_eq!(err(""), E::Empty);
        assert!(matches!(err("now + 3s / 500ms"), E::SubSecond { .. }));
        assert!(matches!(err("2026-11-22T10:00:00"), E::IsoTime { .. }));
        assert!(matches!(err("now + 1h30"), E::BadDuration { .. }));
        assert!(matches!(err("now + "), E::BadTime { .. }));
        assert!(matches!(err("now + x"), E::BadDuration { .. }));
        assert!(matches!(
            err("now ... future ... past"),
            E::RepeatedSeparator { .. }
        ));
        assert!(matches!(
            err("now + 1h / 1m / 1s"),
            E::RepeatedSeparator { .. }
        ));
        assert!(matches!(
            err("2026-11-22 10:00:00 junk"),
            E::TrailingTime { .. }
        ));
        assert!(matches!(err("future ... now"), E::PointNotAllowed { .. }));
        assert!(matches!(err("now ... past"), E::PointNotAllowed { .. }));
        assert!(matches!(err("past + 1h"), E::PointNotAllowed { .. }));
        assert!(matches!(err("future"), E::PointNotAllowed { .. }));
        assert!(matches!(err("tomorrow"), E::BadTime { .. }));
        assert_eq!(err("repeat now ... future"), E::RepeatSchedule);
        assert_eq!(
            err("repeat now ... future / 1h cron 0 0 * * * *"),
            E::RepeatSchedule
        );
        assert!(matches!(
            err("repeat now ... future / 1h { 5m }"),
            E::BadInner { .. }
        ));
        assert!(matches!(
            err("repeat now ... future / 1h { now + 5m"),
            E::BadInner { .. }
        ));
        assert!(matches!(
            err("repeat now ... future cron 0 0 24 * * *"),
            E::BadCron { .. }
        ));
        assert!(matches!(
            err("repeat now ... future cron 0 0 *"),
            E::BadCron { .. }
        ));
        assert!(matches!(
            err("repeat now ... future cron 5-1 0 0 * * *"),
            E::BadCron { .. }
        ));
        // Messages name the offending text, clipped.
        let long = format!("now + {}", "1".repeat(500));
        let msg = err(&long).to_string();
        assert!(msg.len() < 200, "{msg}");
    }

    #[test]
    fn windows_for_jobs() {
        let now = t("2026-11-22 04:09:59.522453");
        let w: When = "now + 1h".parse().unwrap();
        assert_eq!(
            w.job_window(now).unwrap(),
            (now, Some(t("2026-11-22 05:09:59.522453")))
        );
        let w: When = "now ... future".parse().unwrap();
        assert_eq!(w.job_window(now).unwrap(), (now, None));
        let w: When = "2020-01-01 ... 2020-01-02".parse().unwrap();
        assert!(matches!(
            w.job_window(now),
            Err(WhenError::AlreadyOver { .. })
        ));
        let w: When = "past ... future".parse().unwrap();
        assert_eq!(w.job_window(now), Err(WhenError::UnboundedPast));
        let w: When = "2026-11-23 ... 2026-11-22".parse().unwrap();
        assert_eq!(w.job_window(now), Err(WhenError::EndsBeforeStart));
        let w: When = "repeat now + 1d / 1h".parse().unwrap();
        assert_eq!(w.job_window(now), Err(WhenError::Repeated));
        let w: When = "9999-12-31 + 2d".parse().unwrap();
        assert_eq!(w.job_window(now), Err(WhenError::OutOfRange));
    }

    #[test]
    fn follows_as_in_mplane_md_section_4() {
        let now = t("2026-11-22 04:09:59.522453");
        let caps = ["now ... future", "now ... future / 1s", "past ... future"];
        let table: [(&str, [bool; 3]); 5] = [
            ("now", [true, false, true]),
            ("now + 30m", [true, false, true]),
            ("now ... future", [true, false, true]),
            ("now + 3s / 1s", [true, true, true]),
            (
                "2020-01-01 00:00:00 ... 2020-01-02 00:00:00",
                [false, false, true],
            ),
        ];
        for (spec, expect) in table {
            let s: When = spec.parse().unwrap();
            for (cap, want) in caps.iter().zip(expect) {
                let c: When = cap.parse().unwrap();
                assert_eq!(s.follows(&c, now), want, "{spec} in {cap}");
            }
        }
    }
}
