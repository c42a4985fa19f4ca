//! Packet time. Every timeout, bin and rotation follows packet timestamps (never the wall
//! clock), so a trace and a live capture of the same traffic give the same logs.
//!
//! Tstat keeps `struct timeval` (microseconds); traces with nanosecond timestamps are truncated to
//! microseconds exactly as libpcap does when Tstat opens them.

/// A packet timestamp: microseconds since the Unix epoch.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The zero timestamp, which Tstat uses for "event never happened".
    pub const ZERO: Timestamp = Timestamp(0);

    /// Builds a timestamp from seconds and microseconds.
    #[inline]
    pub fn from_sec_usec(sec: i64, usec: i64) -> Self {
        Timestamp(sec * 1_000_000 + usec)
    }

    /// Whole seconds since the epoch.
    #[inline]
    pub fn secs(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    /// Microseconds within the second.
    #[inline]
    pub fn subsec_us(self) -> i64 {
        self.0.rem_euclid(1_000_000)
    }

    /// Milliseconds since the epoch as Tstat computes them: `(sec*1e6 + usec) / 1000.0` in double
    /// precision, binary rounding noise included.
    #[inline]
    pub fn epoch_ms(self) -> f64 {
        (self.secs() as f64 * 1e6 + self.subsec_us() as f64) / 1000.0
    }

    /// Tstat's `elapsed(start, end)` in microseconds: negative intervals are clamped to 0.
    #[inline]
    pub fn elapsed_us(start: Timestamp, end: Timestamp) -> f64 {
        if end.0 < start.0 {
            0.0
        } else {
            (end.0 - start.0) as f64
        }
    }

    /// `elapsed` in milliseconds, the unit of every relative time column.
    #[inline]
    pub fn elapsed_ms(start: Timestamp, end: Timestamp) -> f64 {
        Self::elapsed_us(start, end) / 1000.0
    }

    /// Whether this is the "never happened" zero time.
    #[inline]
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}
