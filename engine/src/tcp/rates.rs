//! Tstat's `VIDEO_DETAILS` bit-rate samples (the `rate_*` fields of its `tcb`): the payload
//! bytes of each direction counted in consecutive 1 s windows from its first data segment to
//! the flow's end, and the sizes of the server's first PSH-delimited messages. They make the
//! Advanced group of `log_video_complete` (`c_rate_smpl` .. `s_msgsize10`).
//!
//! Only flows of a run whose video log prints that group keep this state (boxed, taken from a
//! per-worker free list so a warm worker allocates nothing). Windows are whole microseconds of
//! packet time, as Tstat's edges are (doubles holding integral microseconds, exact).

use crate::record::{RateRecord, VideoRatesRecord};
use crate::time::Timestamp;

/// Tstat's `Rate_Sampling` (1 s), µs.
pub const RATE_SAMPLING_US: i64 = 1_000_000;

/// Windows whose byte counts are kept (`rate_begin_bytes`).
const BEGIN: usize = 10;

/// Message sizes kept (`MAX_COUNT_MESSAGES`).
pub const MESSAGES: usize = 10;

/// One direction's sampling state.
#[derive(Debug, Clone, Copy, Default)]
struct DirRates {
    /// A data segment was seen (Tstat's `rate_last_sample` is set).
    started: bool,
    /// Start of the current window (`rate_left_edge`); it ends one period later.
    left: i64,
    /// Bytes of the current window (`rate_bytes`).
    bytes: u32,
    samples: u32,
    empty: u32,
    streak: u32,
    min: f64,
    max: f64,
    sum: f64,
    sum2: f64,
    begin: [u32; BEGIN],
}

impl DirRates {
    /// Closes the current window with `sample`, then counts the empty windows that end at or
    /// before `now`; returns the run of empty windows this made.
    fn close_window(&mut self, sample: f64, now: i64) -> u32 {
        let mut streak = 0u32;
        if self.min > sample {
            self.min = sample;
        }
        if self.max < sample {
            self.max = sample;
        }
        self.sum += sample;
        self.sum2 += sample * sample;
        if let Some(b) = self.begin.get_mut(self.samples as usize) {
            *b = self.bytes;
        }
        self.samples = self.samples.wrapping_add(1);
        if self.bytes == 0 {
            self.empty = self.empty.wrapping_add(1);
            streak += 1;
        }
        self.left += RATE_SAMPLING_US;
        // Tstat steps window by window; the count of windows skipped is the same in one step
        // (the edges are exact integers), and a flow idle for hours costs no loop.
        if now >= self.left + RATE_SAMPLING_US {
            let k = (now - self.left) / RATE_SAMPLING_US;
            let k32 = u32::try_from(k).unwrap_or(u32::MAX);
            for s in self.samples..self.samples.saturating_add(k32).min(BEGIN as u32) {
                self.begin[s as usize] = 0;
            }
            self.samples = self.samples.wrapping_add(k32);
            self.empty = self.empty.wrapping_add(k32);
            streak = streak.wrapping_add(k32);
            self.left += k * RATE_SAMPLING_US;
        }
        streak
    }
}

/// Rate samples of both directions and the server's message sizes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rates {
    dirs: [DirRates; 2],
    s_msg_size: [u32; MESSAGES],
}

impl Rates {
    /// A data segment of `len` bytes in direction `dir` at `now` (Tstat does this for every
    /// segment with payload, retransmissions included).
    pub fn on_data(&mut self, dir: usize, now: Timestamp, len: u32) {
        let d = &mut self.dirs[dir & 1];
        let now = now.0;
        if !d.started {
            d.started = true;
            d.left = now;
            d.min = f64::from(f32::MAX);
            d.max = 0.0;
            d.bytes = 0;
            d.streak = 0;
        }
        if now < d.left + RATE_SAMPLING_US {
            d.bytes = d.bytes.wrapping_add(len);
            return;
        }
        // A whole window: bytes × 1e6 / 1e6, exactly the byte count.
        let sample = f64::from(d.bytes) * 1e6 / RATE_SAMPLING_US as f64;
        let streak = d.close_window(sample, now);
        if streak > d.streak {
            d.streak = streak;
        }
        d.bytes = len;
    }

    /// The size of the server's message number `index` (Tstat keeps the first ten; a zero-size
    /// cut is written and overwritten by the next).
    pub fn on_server_message(&mut self, index: u32, size: u32) {
        if let Some(s) = self.s_msg_size.get_mut(index as usize) {
            *s = size;
        }
    }

    /// The samples as Tstat prints them for a flow closed at `now` (its `make_conn_stats`):
    /// the current window of each direction is closed (a partial window is scaled to its
    /// length), and the windows up to `now` are counted empty. Tstat's server-side block
    /// records its run of empty windows into the client's `rate_empty_streak`; so does this.
    pub fn record(&self, now: Timestamp) -> VideoRatesRecord {
        let mut d = self.dirs;
        for i in 0..2 {
            if !d[i].started {
                continue;
            }
            let x = &mut d[i];
            let delta = (now.0 - x.left) as f64;
            let sample = if delta < RATE_SAMPLING_US as f64 {
                f64::from(x.bytes) * 1e6 / delta
            } else {
                f64::from(x.bytes) * 1e6 / RATE_SAMPLING_US as f64
            };
            let streak = x.close_window(sample, now.0);
            if streak > d[0].streak {
                d[0].streak = streak;
            }
        }
        let rec = |x: &DirRates| RateRecord {
            samples: x.samples,
            empty: x.empty,
            streak: x.streak,
            sum: x.sum,
            sum2: x.sum2,
            min: x.min,
            max: x.max,
            begin: x.begin,
        };
        VideoRatesRecord {
            dirs: [rec(&d[0]), rec(&d[1])],
            s_msg_size: self.s_msg_size,
        }
    }
}

/// Per-worker free list of [`Rates`] boxes (flows never change worker thread).
// The list holds the boxes themselves: reusing their allocations is its purpose.
#[allow(clippy::vec_box)]
pub(crate) mod pool {
    use super::Rates;
    use std::cell::RefCell;

    /// Boxes kept for reuse per worker thread.
    const CAP: usize = 1 << 16;

    thread_local! {
        static FREE: RefCell<Vec<Box<Rates>>> = const { RefCell::new(Vec::new()) };
    }

    /// A cleared box, reused when one is free.
    pub fn take() -> Box<Rates> {
        let reused = FREE
            .try_with(|f| f.try_borrow_mut().ok().and_then(|mut f| f.pop()))
            .ok()
            .flatten();
        match reused {
            Some(mut r) => {
                *r = Rates::default();
                r
            }
            None => Box::default(),
        }
    }

    /// Returns a box to the free list (dropped if the list is full).
    pub fn give(r: Box<Rates>) {
        let _ = FREE.try_with(|f| {
            if let Ok(mut f) = f.try_borrow_mut() {
                if f.len() < CAP {
                    f.push(r);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(us: i64) -> Timestamp {
        Timestamp(1_470_104_382_000_000 + us)
    }

    #[test]
    fn one_burst_then_a_long_silence() {
        // The 1kxun flow: 1006 client bytes, the flow closed 1068.96 s later.
        let mut r = Rates::default();
        r.on_data(0, t(125_031), 503);
        r.on_data(0, t(125_065), 503);
        let rec = r.record(t(1_069_085_582));
        let c = rec.dirs[0];
        assert_eq!((c.samples, c.empty, c.streak), (1068, 1067, 1067));
        assert_eq!((c.sum, c.min, c.max), (1006.0, 1006.0, 1006.0));
        assert_eq!(c.begin, [1006, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        // No server data: nothing sampled.
        assert_eq!(rec.dirs[1].samples, 0);
    }

    #[test]
    fn windows_and_streaks() {
        let mut r = Rates::default();
        r.on_data(1, t(0), 100);
        r.on_data(1, t(500_000), 50);
        // Next window: the first one closes with 150 bytes.
        r.on_data(1, t(1_200_000), 10);
        // Three windows later: one closes with 10 bytes, two are empty.
        r.on_data(1, t(4_000_000), 7);
        let rec = r.record(t(4_500_000));
        let s = rec.dirs[1];
        // The last, partial window (0.5 s) is scaled: 7 bytes → 14 B/s.
        assert_eq!(s.samples, 5);
        assert_eq!(s.empty, 2);
        assert_eq!(s.begin[..6], [150, 10, 0, 0, 7, 0]);
        assert_eq!(s.sum, 150.0 + 10.0 + 14.0);
        assert_eq!((s.min, s.max), (10.0, 150.0));
        assert_eq!(s.streak, 2);
    }

    #[test]
    fn server_streak_lands_on_the_client() {
        let mut r = Rates::default();
        r.on_data(0, t(0), 1);
        r.on_data(1, t(0), 1);
        let rec = r.record(t(10_000_000));
        assert_eq!(rec.dirs[0].streak, 9);
        assert_eq!(rec.dirs[1].streak, 0);
    }

    #[test]
    fn zero_length_window_at_close() {
        // Closed at the instant of the first data: 5 bytes over 0 s, an infinite rate as in Tstat.
        let mut r = Rates::default();
        r.on_data(0, t(0), 5);
        let rec = r.record(t(0));
        assert!(rec.dirs[0].sum.is_infinite());
        assert_eq!(rec.dirs[0].samples, 1);
    }
}
