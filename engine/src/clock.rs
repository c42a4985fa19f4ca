//! Capture time from a free-running counter: the TSC, or a NIC's own clock whose ticks the NIC
//! writes into each received packet. Only the receive side of live capture uses this; the
//! analysis never reads a clock (packet time is an input).
//!
//! A [`CounterClock`] maps counter values to wall-clock time (ns, read as µs) with a linear segment
//! (anchor count, anchor time, ns per count). The cores read the segment lock-free (a seqlock of
//! three atomics, once per burst) and convert every counter value of the burst with it. One
//! thread — the main lcore, about once a second — disciplines it against the system clock with
//! [`Discipline`], as NTP disciplines a kernel clock:
//!
//! - the counter's rate is measured over the first [`ACQUIRE_NS`] of the run (counts between
//!   the first and the latest reading over the wall time between them), then held: the
//!   nominal rate (`rte_get_tsc_hz`; a NIC clock's nominal rate) is commonly tens of ppm off,
//!   seconds a day of drift uncorrected;
//! - a small offset between the mapping and the system clock is slewed away: the new segment
//!   starts where the old one is at that instant (packet times never jump, never go back) and
//!   runs up to 500 ppm fast or slow — the offset over 10 s, plus an integral term that learns
//!   what the measured rate misses (a critically damped type-II loop, time constant 20 s: a
//!   2 ms offset is gone within about 4 minutes, overshooting by some 14 % on the way);
//! - an offset larger than [`STEP_NS`] (the system clock was stepped, or the counter stopped)
//!   is stepped: the next segment starts at the system time itself.
//!
//! Readings are taken as system time before and after the counter is read, the counter paired
//! with their midpoint, so the read's own latency does not bias the mapping.

use crate::time::Timestamp;
use std::sync::atomic::{fence, AtomicI64, AtomicU64, Ordering};

/// An offset from the system clock beyond which the mapping is stepped instead of slewed
/// (0.5 s, in ns).
pub const STEP_NS: i64 = 500_000_000;
/// Fastest slew, as a fraction of the rate (500 ppm, NTP's bound).
pub const MAX_SLEW: f64 = 500e-6;
/// Time over which an offset is slewed away (10 s, in ns).
pub const SLEW_WINDOW_NS: f64 = 10e9;
/// A change of the offset between two readings (a second apart) that only a jump explains:
/// slewing moves it 0.5 ms a second at most (2 ms, in ns).
pub const JUMP_NS: i64 = 2_000_000;
/// How long the counter's rate is measured before it is held (64 s, in ns).
pub const ACQUIRE_NS: f64 = 64e9;
/// The integral gain per reading (one a second), per ns of offset: `Kp² / 4` with
/// `Kp = 1 / 10 s`.
const KI: f64 = 0.25 / (SLEW_WINDOW_NS * 10.0);

/// A counter-to-wall-clock mapping, read by the cores, disciplined by one thread.
#[derive(Debug)]
pub struct CounterClock {
    /// Seqlock sequence: odd while the segment is being rewritten.
    seq: AtomicU64,
    count0: AtomicU64,
    ns0: AtomicI64,
    /// ns per count, as `f64` bits.
    rate: AtomicU64,
}

/// A clock segment: `ns0 + (count − count0) × rate`, in nanoseconds (re-anchoring at whole
/// microseconds would lose up to half a microsecond a second).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    /// The counter value at the anchor.
    pub count0: u64,
    /// Wall-clock ns since the epoch at the anchor.
    pub ns0: i64,
    /// ns per count.
    pub rate: f64,
}

impl Segment {
    /// The wall-clock time of counter value `count`, in ns since the epoch.
    #[inline]
    pub fn ns_at(&self, count: u64) -> i64 {
        // Counts before the anchor (a NIC stamp older than the latest reading) give a negative
        // difference; the segment is re-anchored every second, so f64 holds it exactly enough.
        let d = count.wrapping_sub(self.count0) as i64 as f64;
        // Saturating: a garbage stamp must not overflow (`as` from f64 saturates too).
        self.ns0.saturating_add((d * self.rate).round() as i64)
    }

    /// The wall-clock time of counter value `count` (µs, truncated as libpcap truncates ns).
    #[inline]
    pub fn at(&self, count: u64) -> Timestamp {
        Timestamp(self.ns_at(count).div_euclid(1000))
    }
}

impl CounterClock {
    /// A clock reading `now_ns` at counter value `count`, counting `hz` per second (the nominal
    /// rate until disciplined).
    pub fn new(count: u64, now_ns: i64, hz: f64) -> CounterClock {
        let rate = if hz > 0.0 && hz.is_finite() {
            1e9 / hz
        } else {
            1.0
        };
        CounterClock {
            seq: AtomicU64::new(0),
            count0: AtomicU64::new(count),
            ns0: AtomicI64::new(now_ns),
            rate: AtomicU64::new(rate.to_bits()),
        }
    }

    /// The current segment (lock-free; retried while the disciplining thread rewrites it).
    #[inline]
    pub fn segment(&self) -> Segment {
        loop {
            let s1 = self.seq.load(Ordering::Acquire);
            if s1 & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let seg = Segment {
                count0: self.count0.load(Ordering::Relaxed),
                ns0: self.ns0.load(Ordering::Relaxed),
                rate: f64::from_bits(self.rate.load(Ordering::Relaxed)),
            };
            fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) == s1 {
                return seg;
            }
        }
    }

    /// The wall-clock time of counter value `count`.
    #[inline]
    pub fn at(&self, count: u64) -> Timestamp {
        self.segment().at(count)
    }

    /// Replaces the segment (one writer only: the disciplining thread).
    fn set(&self, seg: Segment) {
        let s = self.seq.load(Ordering::Relaxed);
        self.seq.store(s.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        self.count0.store(seg.count0, Ordering::Relaxed);
        self.ns0.store(seg.ns0, Ordering::Relaxed);
        self.rate.store(seg.rate.to_bits(), Ordering::Relaxed);
        self.seq.store(s.wrapping_add(2), Ordering::Release);
    }
}

/// The disciplining thread's state for one [`CounterClock`].
#[derive(Debug, Clone, Default)]
pub struct Discipline {
    first: Option<(u64, i64)>,
    /// Counts per ns: measured while acquiring, then held.
    per_ns: f64,
    acquired: bool,
    /// The loop's integral term (a rate correction).
    integral: f64,
    /// Readings so far.
    pub readings: u64,
    /// Times the mapping was stepped (offset beyond [`STEP_NS`]).
    pub steps: u64,
    /// The offset of the mapping from the system clock at the latest reading (ns; positive:
    /// the mapping was behind).
    pub last_offset_ns: i64,
    /// The measured rate (counts per second) at the latest reading.
    pub hz: f64,
}

impl Discipline {
    /// Takes one reading: the counter was `count` when the system clock read `now_ns`.
    pub fn update(&mut self, clock: &CounterClock, count: u64, now_ns: i64) {
        self.readings += 1;
        let seg = clock.segment();
        if self.per_ns == 0.0 {
            self.per_ns = 1.0 / seg.rate;
        }
        let mapped = seg.ns_at(count);
        let offset = now_ns.saturating_sub(mapped);
        // A jump of the system clock (or of the counter) shows as an offset that moved more
        // in a second than any slew moves it.
        let jumped = self.readings > 2
            && (offset.abs() > STEP_NS
                || offset.saturating_sub(self.last_offset_ns).abs() > JUMP_NS);
        self.last_offset_ns = offset;
        // Acquisition: the counter's rate measured from the first reading, its error shrinking
        // as the span grows; then held, the loop's integral following any wander. A jump
        // inside the measured span would bend the rate for good: the measurement starts again
        // from the jump, keeping the rate measured so far.
        let (c1, t1) = *self.first.get_or_insert((count, now_ns));
        if !self.acquired {
            let span = now_ns.saturating_sub(t1) as f64;
            // Signed: a counter set back (a NIC clock adjusted by ptp4l) restarts the
            // measurement instead of reading as a huge count.
            let counts = count.wrapping_sub(c1) as i64;
            if jumped || counts < 0 || span < 0.0 {
                self.first = Some((count, now_ns));
            } else {
                if span >= 1e9 && counts > 0 {
                    self.per_ns = counts as f64 / span;
                }
                self.acquired = span >= ACQUIRE_NS && counts > 0;
            }
        }
        self.hz = self.per_ns * 1e9;
        let next = if offset.abs() > STEP_NS {
            // The system clock jumped (NTP setting it after boot), a counter was set, or the
            // rate is still the nominal guess: start over at the system time, and measure the
            // rate again from here — a jump inside the measured span would bend it for good.
            self.steps += 1;
            self.integral = 0.0;
            if self.readings > 2 {
                self.first = Some((count, now_ns));
                self.acquired = false;
            }
            Segment {
                count0: count,
                ns0: now_ns,
                rate: 1.0 / self.per_ns,
            }
        } else {
            // Proportional: the offset over the slew window; integral: what a persistent
            // offset says of the rate that the measured one misses (a critically damped
            // type-II loop: Ki = Kp² / 4), so no offset stays.
            // (While the rate is still being measured, offsets say little of it: no integral.)
            if self.acquired {
                self.integral = (self.integral + offset as f64 * KI).clamp(-MAX_SLEW, MAX_SLEW);
            }
            let slew = (offset as f64 / SLEW_WINDOW_NS + self.integral).clamp(-MAX_SLEW, MAX_SLEW);
            Segment {
                count0: count,
                ns0: mapped,
                rate: (1.0 + slew) / self.per_ns,
            }
        };
        clock.set(next);
    }
}

/// The system clock now, in ns since the epoch.
pub fn system_now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Reads `counter` between two readings of the system clock: the counter's value and the
/// system time (ns) at the midpoint.
pub fn read_pair<E>(counter: impl FnOnce() -> Result<u64, E>) -> Result<(u64, i64), E> {
    let before = system_now_ns();
    let c = counter()?;
    let after = system_now_ns();
    Ok((c, before + (after - before) / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A counter running at `true_hz` while the clock believes `nominal_hz`; readings every
    /// second of system time for `secs`, the system clock starting at `t0`, jumping by `jump`
    /// ns at second `at`. Returns the worst |error| (ns) after `settle` seconds, checked at 10
    /// points per second, and checks the mapping never goes back but at a step.
    fn run(
        true_hz: f64,
        nominal_hz: f64,
        secs: u64,
        settle: u64,
        jump: Option<(u64, i64)>,
    ) -> (i64, Discipline) {
        let t0: i64 = 1_700_000_000_000_000_000;
        let count_at = |t: i64| ((t - t0) as f64 * true_hz / 1e9) as u64 + 1_000_000;
        let clock = CounterClock::new(count_at(t0), t0, nominal_hz);
        let mut d = Discipline::default();
        let mut worst = 0;
        let mut prev = i64::MIN;
        let mut sys_offset = 0;
        for s in 0..=secs {
            if jump.is_some_and(|(at, _)| at == s) {
                sys_offset += jump.unwrap().1;
            }
            for k in 0..10 {
                let t = t0 + s as i64 * 1_000_000_000 + k * 100_000_000;
                let m = clock.segment().ns_at(count_at(t));
                assert!(m >= prev, "time went back at {s}.{k}: {prev} → {m}");
                prev = m;
                if s >= settle {
                    worst = worst.max((m - (t + sys_offset)).abs());
                }
            }
            let t = t0 + (s as i64 + 1) * 1_000_000_000;
            let steps = d.steps;
            d.update(&clock, count_at(t), t + sys_offset);
            if d.steps > steps {
                prev = i64::MIN; // a step may go back
            }
        }
        (worst, d)
    }

    #[test]
    fn a_nominal_rate_off_by_50_ppm_is_measured_and_the_offset_slewed_away() {
        // The TSC's nominal 2.5 GHz is 50 ppm off: uncorrected, 4.3 s a day.
        // Uncorrected, the nominal rate would be 30 ms off after these 10 minutes.
        let (worst, d) = run(2_500_125_000.0, 2.5e9, 600, 0, None);
        // The first two seconds run at the nominal rate: 100 µs off by then.
        assert!(
            worst < 110_000,
            "within 110 µs of the system clock throughout: {worst} ns"
        );
        let (worst, _) = run(2_500_125_000.0, 2.5e9, 600, 10, None);
        assert!(worst < 50_000, "within 50 µs after 10 s: {worst} ns");
        let (worst, _) = run(2_500_125_000.0, 2.5e9, 600, 300, None);
        assert!(worst < 1_000, "within 1 µs after 5 minutes: {worst} ns");
        assert_eq!(d.steps, 0);
        assert!((d.hz - 2_500_125_000.0).abs() < 10.0, "{}", d.hz);
    }

    #[test]
    fn a_nic_clock_of_unknown_rate_is_stepped_then_tracks() {
        // A NIC clock at 1 GHz read with a nominal 1 Hz: the first reading is years off:
        // stepped, then slewed.
        let (worst, d) = run(1e9, 1.0, 300, 10, None);
        assert!(d.steps >= 1, "{d:?}");
        assert!(worst < 1_000, "{worst} ns");
    }

    #[test]
    fn a_system_clock_step_is_followed_by_a_step_and_a_small_offset_by_a_slew() {
        // The system clock jumps 3 s ahead at 100 s: the mapping steps once.
        let (_, d) = run(2e9, 2e9, 200, 0, Some((100, 3_000_000_000)));
        assert_eq!(d.steps, 1, "{d:?}");
        // 2 ms ahead: slewed (500 ppm at most), never stepped, never back; the loop
        // overshoots by some 14 % (a type-II loop's response) and settles.
        let (worst, d) = run(2e9, 2e9, 500, 101, Some((100, 2_000_000)));
        assert_eq!(d.steps, 0, "{d:?}");
        assert!(
            worst <= 2_000_000,
            "never further than the jump: {worst} ns"
        );
        let (worst, _) = run(2e9, 2e9, 500, 350, Some((100, 2_000_000)));
        assert!(worst < 1_000, "caught up within 250 s: {worst} ns");
        // 2 ms behind: slewed too (the mapping slows down, never goes back).
        let (worst, d) = run(2e9, 2e9, 500, 350, Some((100, -2_000_000)));
        assert_eq!(d.steps, 0, "{d:?}");
        assert!(worst < 1_000, "{worst} ns");
    }

    #[test]
    fn a_system_clock_step_while_the_rate_is_measured_does_not_bend_it() {
        // NTP sets the clock 3 s ahead 30 s into the run, then 40 ms ahead at 200 s.
        let (worst, d) = run(2.5e9, 2.5e9, 2000, 32, Some((30, 3_000_000_000)));
        assert_eq!(d.steps, 1, "stepped once, then measured afresh: {d:?}");
        assert!(worst < 1_000, "on time right after the step: {worst} ns");
        assert!((d.hz - 2.5e9).abs() < 100.0, "{}", d.hz);
        let (worst, d) = run(2.5e9, 2.5e9, 2000, 1500, Some((30, 40_000_000)));
        assert!(d.steps <= 1, "{d:?}");
        assert!((d.hz - 2.5e9).abs() < 100.0, "{}", d.hz);
        assert!(worst < 1_000, "{worst} ns");
    }

    #[test]
    fn a_counter_set_back_restarts_the_measurement() {
        let clock = CounterClock::new(5_000_000_000, 0, 1e9);
        let mut d = Discipline::default();
        d.update(&clock, 6_000_000_000, 1_000_000_000);
        // Set back by 4 s of counts: an offset of 5 s, stepped; no garbage rate.
        d.update(&clock, 3_000_000_000, 2_000_000_000);
        d.update(&clock, 4_000_000_000, 3_000_000_000);
        d.update(&clock, 5_000_000_000, 4_000_000_000);
        assert!((d.hz - 1e9).abs() < 1.0, "{d:?}");
        assert_eq!(clock.at(5_000_000_000), Timestamp(4_000_000));
    }

    #[test]
    fn segments_read_while_rewritten_are_never_torn() {
        let clock = std::sync::Arc::new(CounterClock::new(0, 0, 1e9));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reads = std::sync::Arc::new(AtomicU64::new(0));
        let reader = {
            let (clock, stop, reads) = (clock.clone(), stop.clone(), reads.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    reads.fetch_add(1, Ordering::Relaxed);
                    let s = clock.segment();
                    // The writer keeps ns0 == count0 and rate == 1 + count0: a torn read
                    // mixes two segments.
                    assert_eq!(s.ns0 as u64, s.count0);
                    assert_eq!(s.rate, 1.0 + s.count0 as f64);
                    n += 1;
                }
                n
            })
        };
        let mut i = 0u64;
        while i < 200_000 || reads.load(Ordering::Relaxed) < 100_000 {
            i += 1;
            clock.set(Segment {
                count0: i,
                ns0: i as i64,
                rate: 1.0 + i as f64,
            });
        }
        stop.store(true, Ordering::Relaxed);
        assert!(reader.join().unwrap() > 0);
    }

    #[test]
    fn microseconds_are_truncated_nanoseconds() {
        let seg = Segment {
            count0: 10,
            ns0: 1_999,
            rate: 1.0,
        };
        assert_eq!(seg.at(10), Timestamp(1));
        assert_eq!(seg.at(11), Timestamp(2));
        assert_eq!(seg.at(0), Timestamp(1), "counts before the anchor");
    }
}
