//! The values Tstat's `rrdtool_update` writes for one histogram at one dump, computed from a
//! merged [`IntervalHisto`] and the statistics carried since the histogram's last update.
//!
//! Tstat (`rrdtool.c`, `histo.c`), for histogram `h` at a dump at packet time `t`:
//!
//! - `avg`, `min`, `max`, `var`, `stdev`, `hit` come from `h->st`, the running statistics of
//!   every sample added since the last update of `h` (in range or not): `avg` its mean (0
//!   without samples), `var` the running `pseudovar` over `count − 1` (so `-0` without samples
//!   and NaN, printed `-nan`, with one), `stdev` its square root, `hit` the count. `min` is
//!   written only if it is ≤ 1e90 and `max` only if it is > −1e90: after a reset (to ±1e99)
//!   only when there were samples. Before its first update `h->st` is all zeros (Tstat
//!   allocates it zeroed), so the first `min` is min(0, samples) and the first `max`
//!   max(0, samples), whether there were samples or not: [`Running::default`] starts there.
//! - `idx<v>` is the frozen bin at `(v − min) / bin_size + 1` (C integer division), and
//!   `idxoth` the in-range sample count (Tstat's extra last bin) less every listed `idx` bin.
//! - `prc<p>` walks the bins from the one below `min` up to the last in-range one, adding
//!   counts until the sum reaches `p · count / 100` (count: in-range samples only), and writes
//!   that bin's label `min + (bin − 1) · bin_size`; with no sample, the bin below `min`.
//! - The bit-rate histograms are filled by `set_histo`: bin `i + 1` holds the bit rate of
//!   class `i` truncated to a `long`, the count bin the truncated sum of the untruncated
//!   rates, and their `h->st` never sees a sample.
//!
//! After an update `h->st` is reset; an update at the same second as the previous one is
//! skipped (Tstat's "at most one update per second"), and the statistics then carry on into
//! the next one while the bins of the skipped interval are lost, as in Tstat.
//!
//! Every value is handed to librrd as the text of C's `%f`, as Tstat's `sprintf("%ld:%f")`
//! does: librrd keeps that text as the data source's `last_ds`.

use super::conf::{idx_stat, prc_stat, RrdEntry};
use crate::histo::merge::{IntervalHisto, Samples};
use crate::histo::write::{is_bitrate, printed};
use engine::histo::defs::{self, id};
use std::collections::BTreeMap;

/// Tstat's `struct rrdstat` of one histogram: the samples since its last RRD update, and the
/// second of that update.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Running {
    /// Samples since the last update (count, sum, sum of squares, min, max).
    pub samples: Samples,
    /// Unix second of the last update; 0 before the first.
    pub last_s: i64,
}

impl Default for Running {
    /// All zeros, as Tstat allocates it: the first `min`/`max` include 0.
    fn default() -> Self {
        Running {
            samples: Samples {
                n: 0,
                sum: 0.0,
                sum2: 0.0,
                min: 0.0,
                max: 0.0,
            },
            last_s: 0,
        }
    }
}

impl Running {
    /// Adds an interval's samples.
    pub fn add(&mut self, s: &Samples) {
        let m = &mut self.samples;
        m.n += s.n;
        m.sum += s.sum;
        m.sum2 += s.sum2;
        m.min = m.min.min(s.min);
        m.max = m.max.max(s.max);
    }

    /// After an update: no sample, min and max unset (Tstat's ±1e99).
    pub fn reset(&mut self) {
        self.samples = Samples::default();
    }
}

/// The bins of one histogram as Tstat's update reads them (its "frozen" array): counts (or
/// bit rates) by bin, and the extra count bin.
#[derive(Debug, Clone, PartialEq)]
pub struct Frozen {
    /// Bin → value; bin 0 is below `min`, `columns + 1` at or above `max`.
    pub bins: BTreeMap<u32, i64>,
    /// Tstat's last bin: in-range samples (bit rates: the sum of the rates).
    pub count: i64,
    /// In-range bins.
    pub columns: u32,
}

impl Frozen {
    /// The frozen bins of histogram `hid` in `iv`.
    pub fn of(hid: u16, iv: &IntervalHisto) -> Frozen {
        let def = &defs::all()[usize::from(hid)];
        let columns = def.columns();
        let raw = &iv.bins[usize::from(hid)];
        let mut bins = BTreeMap::new();
        let mut count = 0i64;
        if hid == id::PROFILE_FLOWS {
            // Averages set by AVE_get_stat, no count.
            for (label, v) in printed(hid, def, iv) {
                let bin = (label - def.min) / def.bin_size + 1;
                bins.insert(bin as u32, v);
            }
        } else if is_bitrate(def.name) {
            let ms = iv.elapsed_ms();
            if ms != 0.0 {
                let mut tot = 0.0f64;
                for (&bin, &bytes) in raw {
                    let rate = bytes as f64 * 8000.0 / ms;
                    tot += rate;
                    bins.insert(bin, rate as i64);
                }
                count = tot as i64;
            }
        } else {
            for (&bin, &c) in raw {
                let c = i64::try_from(c).unwrap_or(i64::MAX);
                bins.insert(bin, c);
                if (1..=columns).contains(&bin) {
                    count += c;
                }
            }
        }
        Frozen {
            bins,
            count,
            columns,
        }
    }

    /// The value at array position `pos` (`columns + 2` is the count bin); 0 outside the
    /// array, where Tstat would read past it.
    fn at(&self, pos: i64) -> i64 {
        if pos == i64::from(self.columns) + 2 {
            return self.count;
        }
        u32::try_from(pos)
            .ok()
            .and_then(|p| self.bins.get(&p))
            .copied()
            .unwrap_or(0)
    }

    /// The bin where the CDF reaches `p` % of the count (`None`: never reached).
    fn percentile_bin(&self, p: f64) -> Option<u32> {
        let target = p * self.count as f64 / 100.0;
        let mut cdf = 0.0f64;
        if cdf >= target {
            return Some(0);
        }
        for (&bin, &v) in self.bins.range(0..=self.columns) {
            cdf += v as f64;
            if cdf >= target {
                return Some(bin);
            }
        }
        None
    }
}

/// The updates of histogram `e` for interval `iv`, with `st` the samples since its last
/// update: `(statistic, value)` in Tstat's order (hit, avg, min, max, var, stdev, prc…, idx…,
/// idxoth).
pub fn values(e: &RrdEntry, iv: &IntervalHisto, st: &Samples) -> Vec<(String, f64)> {
    let def = &defs::all()[usize::from(e.hid)];
    let mut out = Vec::new();
    if e.hit {
        out.push(("hit".to_string(), st.n as f64));
    }
    if e.avg {
        out.push(("avg".to_string(), st.avg()));
    }
    if e.min && st.min <= 1e90 {
        out.push(("min".to_string(), st.min));
    }
    if e.max && st.max > -1e90 {
        out.push(("max".to_string(), st.max));
    }
    if e.var || e.stdev {
        let var = variance(st);
        if e.var {
            out.push(("var".to_string(), var));
        }
        if e.stdev {
            // sqrt keeps a NaN as it is (sign included), as glibc's does.
            let stdev = if var.is_nan() { var } else { var.sqrt() };
            out.push(("stdev".to_string(), stdev));
        }
    }
    let mut frozen = Frozen::of(e.hid, iv);
    for &p in &e.prc {
        if let Some(bin) = frozen.percentile_bin(p) {
            out.push((prc_stat(p), def.label(bin) as f64));
        }
    }
    for &v in &e.idx {
        let pos = (i64::from(v) - def.min) / def.bin_size + 1;
        let c = frozen.at(pos);
        out.push((idx_stat(v), c as f64));
        frozen.count -= c;
    }
    if e.idx_other {
        out.push(("idxoth".to_string(), frozen.count as f64));
    }
    out
}

/// Tstat's `pseudovar / (count − 1)` with a signed count: `-0` without samples, NaN with the
/// sign bit set (x86's 0/0, printed `-nan`) with one.
pub fn variance(st: &Samples) -> f64 {
    match st.n {
        0 => -0.0,
        1 => -f64::NAN,
        n => {
            let n = n as f64;
            (st.sum2 - st.sum * st.sum / n).max(0.0) / (n - 1.0)
        }
    }
}

/// `v` as C's `printf("%f")` prints it with glibc: six decimals, `-0.000000`, `-nan`, `inf`.
pub fn c_f(v: f64) -> String {
    if v.is_nan() {
        if v.is_sign_negative() { "-nan" } else { "nan" }.to_string()
    } else if v.is_infinite() {
        if v < 0.0 { "-inf" } else { "inf" }.to_string()
    } else {
        crate::logs::num::F6(v).to_string()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::histo::rrd::conf::RrdConf;
    use engine::histo::{HistoChunk, HistoItem};
    use engine::time::Timestamp;

    /// A one-worker interval from `items`, from `start` to `end` µs.
    fn interval(items: &[HistoItem], start: i64, end: i64) -> IntervalHisto {
        let mut m = crate::histo::merge::Merger::new(1);
        let mut c = HistoChunk::new(0, 0, [Timestamp(start), Timestamp(end)], true);
        for i in items {
            c.push(*i);
        }
        c.done = true;
        m.add(&c).unwrap()
    }

    /// Items giving histogram `hid` the samples `v` (bins and statistics).
    pub(crate) fn samples(hid: u16, v: &[f64]) -> Vec<HistoItem> {
        let def = &defs::all()[usize::from(hid)];
        let mut items: Vec<HistoItem> = v
            .iter()
            .map(|&x| HistoItem::Bin {
                id: hid,
                bin: def.bin_of(x),
                count: 1,
            })
            .collect();
        items.extend([
            HistoItem::Samples {
                id: hid,
                n: v.len() as u64,
            },
            HistoItem::Sum {
                id: hid,
                value: v.iter().sum(),
            },
            HistoItem::SumSq {
                id: hid,
                value: v.iter().map(|x| x * x).sum(),
            },
            HistoItem::Min {
                id: hid,
                value: v.iter().copied().fold(f64::INFINITY, f64::min),
            },
            HistoItem::Max {
                id: hid,
                value: v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            },
        ]);
        items
    }

    fn entry(line: &str) -> RrdEntry {
        RrdConf::parse(line).unwrap().entries.remove(0)
    }

    fn text(v: &[(String, f64)]) -> Vec<String> {
        v.iter().map(|(s, x)| format!("{s}={}", c_f(*x))).collect()
    }

    #[test]
    fn statistics_of_an_interval() {
        // ip_len_in: min 0, bin 4, max 1504. 40 and 41 share bin [40, 44); 1600 is over max;
        // 1500 is the last in-range bin.
        let iv = interval(
            &samples(id::IP_LEN_IN, &[40.0, 41.0, 100.0, 1500.0, 1600.0]),
            0,
            1,
        );
        let e =
            entry("ip_len_in avg min max var stdev hit prc:50,90,95,99.9 idx:40,1500,100000,other");
        let mut r = Running::default();
        r.add(&iv.samples[usize::from(id::IP_LEN_IN)]);
        // avg 656.2; var = Σ(x − 656.2)² / 4 = 667572.2; stdev its root.
        assert_eq!(
            text(&values(&e, &iv, &r.samples)),
            [
                "hit=5.000000",
                "avg=656.200000",
                // The first update: min includes Tstat's zeroed start.
                "min=0.000000",
                "max=1600.000000",
                "var=667572.200000",
                "stdev=817.050916",
                // 4 in-range samples: 50 % is 2 samples, reached in bin [40, 44).
                "prc50=40.000000",
                "prc90=1500.000000",
                "prc95=1500.000000",
                "prc99.900=1500.000000",
                "idx40=2.000000",
                "idx1500=1.000000",
                // Past the array, where Tstat reads garbage: 0.
                "idx100000=0.000000",
                // 4 in range − 2 − 1.
                "idxoth=1.000000",
            ]
        );
        r.reset();
        // A later interval without samples: no min or max, var -0, prc the bin below min.
        let empty = interval(&[], 1, 2);
        r.add(&empty.samples[usize::from(id::IP_LEN_IN)]);
        assert_eq!(
            text(&values(&e, &empty, &r.samples)),
            [
                "hit=0.000000",
                "avg=0.000000",
                "var=-0.000000",
                "stdev=-0.000000",
                "prc50=-4.000000",
                "prc90=-4.000000",
                "prc95=-4.000000",
                "prc99.900=-4.000000",
                "idx40=0.000000",
                "idx1500=0.000000",
                "idx100000=0.000000",
                "idxoth=0.000000",
            ]
        );
        // One sample: variance NaN, as Tstat's 0/0.
        let one = interval(&samples(id::IP_LEN_IN, &[-3.0]), 2, 3);
        let mut r = Running::default();
        r.reset();
        r.add(&one.samples[usize::from(id::IP_LEN_IN)]);
        let v = text(&values(
            &entry("ip_len_in min max var stdev prc:50"),
            &one,
            &r.samples,
        ));
        // -3 is below min: counted in the statistics and bin 0, not in the in-range count.
        assert_eq!(
            v,
            [
                "min=-3.000000",
                "max=-3.000000",
                "var=-nan",
                "stdev=-nan",
                "prc50=-4.000000"
            ]
        );
    }

    #[test]
    fn bit_rates_are_truncated_and_their_count_is_the_sum() {
        // L3_bitrate_in: classes 0..5 in bins 1..6. 6.378865 s.
        let iv = interval(
            &[
                HistoItem::Bin {
                    id: id::L3_BITRATE_IN,
                    bin: 1,
                    count: 17986,
                },
                HistoItem::Bin {
                    id: id::L3_BITRATE_IN,
                    bin: 3,
                    count: 1001,
                },
            ],
            1_300_475_167_096_535,
            1_300_475_173_475_400,
        );
        let e = entry("L3_bitrate_in avg min idx:0,1,2,other prc:50");
        let st = Running::default().samples;
        // 17986 B → 22556.99 bit/s, 1001 B → 1255.39 bit/s; their sum 23812.38 → 23812.
        assert_eq!(
            text(&values(&e, &iv, &st)),
            [
                "avg=0.000000",
                "min=0.000000",
                "prc50=0.000000",
                "idx0=22556.000000",
                "idx1=0.000000",
                "idx2=1255.000000",
                "idxoth=1.000000",
            ]
        );
    }

    #[test]
    fn running_statistics_carry_and_reset() {
        let a = interval(&samples(id::IP_TTL_IN, &[64.0, 128.0]), 0, 1);
        let b = interval(&samples(id::IP_TTL_IN, &[32.0]), 1, 2);
        let mut r = Running::default();
        r.add(&a.samples[usize::from(id::IP_TTL_IN)]);
        r.add(&b.samples[usize::from(id::IP_TTL_IN)]);
        assert_eq!((r.samples.n, r.samples.min, r.samples.max), (3, 0.0, 128.0));
        r.reset();
        r.add(&b.samples[usize::from(id::IP_TTL_IN)]);
        assert_eq!((r.samples.n, r.samples.min, r.samples.max), (1, 32.0, 32.0));
        assert_eq!(c_f(1e-7), "0.000000");
        assert_eq!(c_f(f64::NAN), "nan");
        assert_eq!(c_f(f64::NEG_INFINITY), "-inf");
    }
}
