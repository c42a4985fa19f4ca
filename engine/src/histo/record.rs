//! The record a worker hands to the control plane at the end of each histogram interval: its
//! non-empty bins and sample statistics, sparse, in fixed-size chunks.
//!
//! A worker's histograms for one interval travel as one or more [`HistoChunk`]s in its record
//! ring; the last one has `done` set. The control plane sums the chunks of every worker for an
//! interval (all values are additive) and writes the interval's directory once every worker's
//! `done` chunk has arrived. Chunks are plain data of a fixed size, like every record.

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// Items per chunk (serde derives arrays up to 32 elements).
pub const CHUNK_ITEMS: usize = 32;

/// Which counter of a subnet of the `addresses` file an [`HistoItem::Adx`] carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdxField {
    /// Packets with a source address in the subnet.
    SrcHits,
    /// Packets with a destination address in the subnet.
    DstHits,
    /// IP bytes (IPv4 total length) of those packets.
    SrcBytes,
    /// IP bytes of the packets towards the subnet.
    DstBytes,
}

/// One sparse value of a worker's interval. Everything is a sum over workers except `Min` and
/// `Max`, which merge as the minimum and maximum.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum HistoItem {
    /// `count` samples fell into `bin` of histogram `id` (for the bit-rate histograms, `count`
    /// bytes of class `bin − 1`).
    Bin {
        /// Histogram id ([`crate::histo::defs::id`]).
        id: u16,
        /// Bin index: 0 below `min`, `columns + 1` at or above `max`.
        bin: u32,
        /// Samples (bytes for bit-rate histograms).
        count: u64,
    },
    /// Samples added to histogram `id` (in range or not).
    Samples {
        /// Histogram id.
        id: u16,
        /// Number of samples.
        n: u64,
    },
    /// Sum of the samples of histogram `id`.
    Sum {
        /// Histogram id.
        id: u16,
        /// Sum.
        value: f64,
    },
    /// Sum of the squared samples of histogram `id`.
    SumSq {
        /// Histogram id.
        id: u16,
        /// Sum of squares.
        value: f64,
    },
    /// Smallest sample of histogram `id`.
    Min {
        /// Histogram id.
        id: u16,
        /// Minimum.
        value: f64,
    },
    /// Largest sample of histogram `id`.
    Max {
        /// Histogram id.
        id: u16,
        /// Maximum.
        value: f64,
    },
    /// A counter of an IPv4 subnet (the address masked by `adx_mask`, as its octets read
    /// big-endian) for the `addresses` file.
    Adx {
        /// Subnet address.
        net: u32,
        /// Which counter.
        field: AdxField,
        /// Its value.
        value: u64,
    },
    /// Integral of the number of tracked flows over the interval, in flows × ms (Tstat's
    /// `profile_flows` averages; `udp`: false for TCP).
    ActiveFlows {
        /// UDP (true) or TCP (false) flows.
        udp: bool,
        /// Flows × milliseconds.
        value: f64,
    },
}

impl HistoItem {
    /// Filler of the unused slots of a chunk.
    pub const EMPTY: HistoItem = HistoItem::Samples { id: 0, n: 0 };
}

/// Part of one worker's histograms of one interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HistoChunk {
    /// Interval number: 0 for the first `Max_Time_Step`, counting the dumps (Tstat's
    /// `NNN/` directory number); the final, partial interval has the next number.
    pub interval: u32,
    /// The worker that filled it.
    pub worker: u16,
    /// Packet time at which the interval started: the first IP packet of the trace, or the
    /// end of the previous interval (Tstat's `last_time_step`).
    pub start: Timestamp,
    /// Packet time at which the interval ended (the packet that triggered the dump, or the
    /// last packet of the trace).
    pub end: Timestamp,
    /// The interval ends with the trace (written to `LAST/`).
    pub last: bool,
    /// The last chunk of this worker for this interval.
    pub done: bool,
    /// Items in use.
    pub n: u8,
    /// The items, `n` of them valid.
    pub items: [HistoItem; CHUNK_ITEMS],
}

impl HistoChunk {
    /// An empty chunk.
    pub fn new(interval: u32, worker: u16, [start, end]: [Timestamp; 2], last: bool) -> HistoChunk {
        HistoChunk {
            interval,
            worker,
            start,
            end,
            last,
            done: false,
            n: 0,
            items: [HistoItem::EMPTY; CHUNK_ITEMS],
        }
    }

    /// The valid items.
    pub fn items(&self) -> &[HistoItem] {
        &self.items[..usize::from(self.n).min(CHUNK_ITEMS)]
    }

    /// Whether no more item fits.
    pub fn is_full(&self) -> bool {
        usize::from(self.n) >= CHUNK_ITEMS
    }

    /// Appends an item; the caller checks [`is_full`](Self::is_full) first.
    pub fn push(&mut self, item: HistoItem) {
        if let Some(slot) = self.items.get_mut(usize::from(self.n)) {
            *slot = item;
            self.n += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_do_not_grow_the_ring_slots() {
        // A ring slot is as large as the largest record, a copied message.
        let chunk = std::mem::size_of::<HistoChunk>();
        let msg = std::mem::size_of::<crate::record::MessageRecord>();
        assert!(chunk <= msg, "{chunk} > {msg}");
        assert_eq!(std::mem::size_of::<HistoItem>(), 16);
    }

    #[test]
    fn push_stops_at_capacity() {
        let mut c = HistoChunk::new(0, 0, [Timestamp(1), Timestamp(2)], false);
        for i in 0..CHUNK_ITEMS + 3 {
            c.push(HistoItem::Samples { id: 0, n: i as u64 });
        }
        assert!(c.is_full());
        assert_eq!(c.items().len(), CHUNK_ITEMS);
    }
}
