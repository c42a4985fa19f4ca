//! Merging the workers' histogram chunks into whole intervals.
//!
//! Every worker sends its part of interval `k` (any number of chunks, the last one `done`);
//! once every worker's part is in, the interval is complete. A worker sends its intervals in
//! order, so intervals complete in order too. Bin counts, byte counts, sample counts and sums
//! add up; minimum and maximum merge as such.
//!
//! An [`IntervalHisto`] is what Tstat had in memory at its dump: the bins, the bytes behind
//! the bit-rate histograms, the per-histogram sample statistics its RRD engine reads (`avg`,
//! `min`, `max`, `var`, `stdev`, and from the bins `idx`, `prc`), the `addresses` counters and
//! the flow-count integrals of `profile_flows`.

use engine::histo::defs;
use engine::histo::{AdxField, HistoChunk, HistoItem};
use engine::time::Timestamp;
use std::collections::{BTreeMap, HashMap};

/// Sample statistics of one histogram over one interval (all workers).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Samples {
    /// Number of samples (in range or not).
    pub n: u64,
    /// Sum of the samples.
    pub sum: f64,
    /// Sum of their squares.
    pub sum2: f64,
    /// Smallest sample (`+inf` without samples).
    pub min: f64,
    /// Largest sample (`-inf` without samples).
    pub max: f64,
}

impl Default for Samples {
    fn default() -> Self {
        Samples {
            n: 0,
            sum: 0.0,
            sum2: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

impl Samples {
    /// Mean (0 without samples).
    pub fn avg(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.sum / self.n as f64
        }
    }

    /// Tstat's RRD `var`: the sample variance `Σ(x − avg)² / (n − 1)` (its running
    /// `pseudovar` over `count − 1`): NaN for a single sample, as there; 0 without samples.
    pub fn var(&self) -> f64 {
        match self.n {
            0 => 0.0,
            1 => f64::NAN,
            n => {
                let n = n as f64;
                ((self.sum2 - self.sum * self.sum / n) / (n - 1.0)).max(0.0)
            }
        }
    }

    /// Square root of [`var`](Self::var).
    pub fn stdev(&self) -> f64 {
        self.var().sqrt()
    }
}

/// One complete interval of all workers.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IntervalHisto {
    /// Interval number (Tstat's `NNN/`).
    pub index: u32,
    /// Start (first IP packet, or end of the previous interval).
    pub start: Timestamp,
    /// End (the packet that triggered the dump, or the last packet).
    pub end: Timestamp,
    /// The interval ended with the trace (`LAST/`).
    pub last: bool,
    /// Per histogram id: bin → count (bytes for the bit-rate histograms), non-zero only.
    pub bins: Vec<BTreeMap<u32, u64>>,
    /// Per histogram id: statistics of the samples added.
    pub samples: Vec<Samples>,
    /// IPv4 subnet → `[src hits, dst hits, src bytes, dst bytes]`.
    pub adx: BTreeMap<u32, [u64; 4]>,
    /// Flows × ms of tracked TCP and UDP flows over the interval.
    pub active_flows: [f64; 2],
}

impl IntervalHisto {
    fn new(c: &HistoChunk) -> IntervalHisto {
        IntervalHisto {
            index: c.interval,
            start: c.start,
            end: c.end,
            last: c.last,
            bins: vec![BTreeMap::new(); defs::COUNT],
            samples: vec![Samples::default(); defs::COUNT],
            adx: BTreeMap::new(),
            active_flows: [0.0; 2],
        }
    }

    fn add(&mut self, item: &HistoItem) {
        let s = |id: u16| usize::from(id).min(defs::COUNT - 1);
        match *item {
            HistoItem::Bin { id, bin, count } => {
                *self.bins[s(id)].entry(bin).or_default() += count;
            }
            HistoItem::Samples { id, n } => self.samples[s(id)].n += n,
            HistoItem::Sum { id, value } => self.samples[s(id)].sum += value,
            HistoItem::SumSq { id, value } => self.samples[s(id)].sum2 += value,
            HistoItem::Min { id, value } => {
                let m = &mut self.samples[s(id)].min;
                *m = m.min(value);
            }
            HistoItem::Max { id, value } => {
                let m = &mut self.samples[s(id)].max;
                *m = m.max(value);
            }
            HistoItem::Adx { net, field, value } => {
                let k = match field {
                    AdxField::SrcHits => 0,
                    AdxField::DstHits => 1,
                    AdxField::SrcBytes => 2,
                    AdxField::DstBytes => 3,
                };
                self.adx.entry(net).or_default()[k] += value;
            }
            HistoItem::ActiveFlows { udp, value } => self.active_flows[usize::from(udp)] += value,
        }
    }

    /// Milliseconds from start to end (Tstat's `elapsed_time` of the bit rates).
    pub fn elapsed_ms(&self) -> f64 {
        (self.end.0 - self.start.0) as f64 / 1000.0
    }

    /// The count of `bin` of histogram `id`.
    pub fn count(&self, id: u16, bin: u32) -> u64 {
        self.bins
            .get(usize::from(id))
            .and_then(|b| b.get(&bin))
            .copied()
            .unwrap_or(0)
    }
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Partial {
    interval: IntervalHisto,
    done: usize,
}

/// Collects chunks until intervals are complete.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Merger {
    workers: usize,
    open: HashMap<u32, Partial>,
}

impl Merger {
    /// A merger for `workers` workers.
    pub fn new(workers: usize) -> Merger {
        Merger {
            workers: workers.max(1),
            open: HashMap::new(),
        }
    }

    /// Adds a chunk; returns the interval it completes, if it does.
    pub fn add(&mut self, c: &HistoChunk) -> Option<IntervalHisto> {
        let p = self.open.entry(c.interval).or_insert_with(|| Partial {
            interval: IntervalHisto::new(c),
            done: 0,
        });
        // Live cores may disagree on the first packet (they race to it): the interval starts
        // at the earliest any of them saw.
        if c.start != Timestamp::ZERO
            && (p.interval.start == Timestamp::ZERO || c.start < p.interval.start)
        {
            p.interval.start = c.start;
        }
        for item in c.items() {
            p.interval.add(item);
        }
        if c.done {
            p.done += 1;
        }
        if p.done >= self.workers {
            return self.open.remove(&c.interval).map(|p| p.interval);
        }
        None
    }

    /// Intervals some worker never finished (none after a clean run).
    pub fn incomplete(&self) -> usize {
        self.open.len()
    }

    /// Takes the intervals older than `index` that are still incomplete (live capture: a part
    /// lost to a full record ring must not hold every later interval back).
    pub fn take_older(&mut self, index: u32) -> Vec<IntervalHisto> {
        let mut old: Vec<u32> = self.open.keys().copied().filter(|&i| i < index).collect();
        old.sort_unstable();
        old.into_iter()
            .filter_map(|i| self.open.remove(&i).map(|p| p.interval))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::histo::defs::id;

    fn chunk(worker: u16, done: bool, items: &[HistoItem]) -> HistoChunk {
        let mut c = HistoChunk::new(0, worker, [Timestamp(0), Timestamp(300)], false);
        for i in items {
            c.push(*i);
        }
        c.done = done;
        c
    }

    #[test]
    fn an_interval_completes_when_every_worker_is_done_and_values_add_up() {
        let mut m = Merger::new(2);
        let b = |count| HistoItem::Bin {
            id: id::IP_TTL_LOC,
            bin: 65,
            count,
        };
        assert!(m.add(&chunk(0, false, &[b(2)])).is_none());
        assert!(m
            .add(&chunk(
                0,
                true,
                &[
                    HistoItem::Min {
                        id: id::IP_TTL_LOC,
                        value: 64.0
                    },
                    HistoItem::Samples {
                        id: id::IP_TTL_LOC,
                        n: 2
                    },
                    HistoItem::Sum {
                        id: id::IP_TTL_LOC,
                        value: 128.0
                    },
                    HistoItem::SumSq {
                        id: id::IP_TTL_LOC,
                        value: 8192.0
                    },
                ]
            ))
            .is_none());
        let iv = m
            .add(&chunk(
                1,
                true,
                &[
                    b(1),
                    HistoItem::Min {
                        id: id::IP_TTL_LOC,
                        value: 64.0,
                    },
                    HistoItem::Samples {
                        id: id::IP_TTL_LOC,
                        n: 1,
                    },
                    HistoItem::Sum {
                        id: id::IP_TTL_LOC,
                        value: 64.0,
                    },
                    HistoItem::SumSq {
                        id: id::IP_TTL_LOC,
                        value: 4096.0,
                    },
                ],
            ))
            .expect("both workers done");
        assert_eq!(iv.count(id::IP_TTL_LOC, 65), 3);
        let s = iv.samples[usize::from(id::IP_TTL_LOC)];
        assert_eq!((s.n, s.avg(), s.var(), s.min), (3, 64.0, 0.0, 64.0));
        let two = Samples {
            n: 2,
            sum: 3.0,
            sum2: 5.0,
            min: 1.0,
            max: 2.0,
        };
        assert_eq!((two.avg(), two.var()), (1.5, 0.5));
        assert_eq!(m.incomplete(), 0);
    }
}
