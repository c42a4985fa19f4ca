//! Sequence-space bookkeeping of one TCP direction, as Tstat's `rexmit.c` does it.
//!
//! The 32-bit sequence space is split in four 1-GiB quadrants. Each keeps a sorted list of the
//! byte ranges seen so far (a SYN or FIN counts one phantom byte). A new segment is compared with
//! the stored ranges to count retransmitted bytes and out-of-sequence segments, every anomaly is
//! classified with the Mellia–Meo–Muscariello heuristic, and ACKs of the other direction match
//! ranges to give RTT samples. The quirks of the original (unsigned comparisons without
//! wrap-around, the `<=` overlap test, quadrant freeing driven by ACK values, the 100-range cap)
//! are reproduced on purpose: they decide the numbers Tstat prints.

use crate::time::Timestamp;

/// Ranges a new buffer has room for: after ACKs collapse ranges a direction rarely holds more.
pub const INITIAL_RANGES: usize = 3;

/// Segments kept per quadrant before the oldest is folded into its successor (`Max_Seg_Per_Quad`).
pub const MAX_SEG_PER_QUAD: usize = 100;

/// One stored byte range.
#[derive(Debug, Clone, Copy)]
pub struct Segment {
    /// First sequence number of the range.
    pub first: u32,
    /// Last sequence number of the range (inclusive).
    pub last: u32,
    /// How many times (part of) it was seen again.
    pub retrans: u8,
    /// How many ACKs covered it.
    pub acked: u32,
    /// When it was (last) sent.
    pub time: Timestamp,
    /// IPv4 identification of the copy that created it (IPv6: the payload length field).
    pub ip_id: u16,
    /// Anomaly class of the segment (Tstat's `type_of_segment`).
    pub tos: u8,
}

/// One 1-GiB quadrant: its sorted ranges.
#[derive(Debug, Default)]
pub struct Quadrant {
    /// Sorted ranges.
    pub segs: Vec<Segment>,
}

const NONE: u8 = u8::MAX;

/// The four quadrants of one direction, with Tstat's `prev`/`next` links (which decide when a
/// quadrant's ranges are dropped), packed to keep per-flow memory small.
#[derive(Debug)]
pub struct SeqSpace {
    /// Quadrants 0..4 cover sequence numbers `q << 30 ..= (q << 30) | 0x3fff_ffff`.
    pub q: [Quadrant; 4],
    exists: [bool; 4],
    prev: [u8; 4],
    next: [u8; 4],
}

impl Default for SeqSpace {
    fn default() -> Self {
        SeqSpace {
            q: Default::default(),
            exists: [false; 4],
            prev: [NONE; 4],
            next: [NONE; 4],
        }
    }
}

/// Quadrant index of a sequence number.
#[inline]
pub fn quad_of(seq: u32) -> usize {
    (seq >> 30) as usize
}

impl SeqSpace {
    /// Tstat's `whichquad`: makes sure the quadrant of `seq` and its two neighbours exist, frees
    /// the opposite one, relinks, and returns the quadrant index.
    pub fn which_quad(&mut self, seq: u32) -> usize {
        let qix = quad_of(seq);
        if self.exists[qix] && self.next[qix] != NONE && self.prev[qix] != NONE {
            return qix;
        }
        let next = (qix + 1) % 4;
        let opp = (qix + 2) % 4;
        let prev = (qix + 3) % 4;
        for i in [qix, next, prev] {
            if !self.exists[i] {
                self.exists[i] = true;
                self.prev[i] = NONE;
                self.next[i] = NONE;
            }
        }
        if self.exists[opp] {
            self.exists[opp] = false;
            self.prev[opp] = NONE;
            self.next[opp] = NONE;
            self.q[opp].segs.clear();
        }
        // Range buffers are taken from the pool only when a range is stored (see `ensure`), so
        // the neighbour quadrants Tstat creates cost no memory until used.
        self.prev[qix] = prev as u8;
        self.next[qix] = next as u8;
        self.prev[next] = qix as u8;
        self.next[prev] = qix as u8;
        self.next[next] = NONE;
        self.prev[prev] = NONE;
        qix
    }

    /// The quadrant linked before `qix` (Tstat's `pquad->prev`).
    #[inline]
    pub fn prev_of(&self, qix: usize) -> usize {
        match self.prev[qix] {
            NONE => (qix + 3) % 4,
            p => usize::from(p),
        }
    }

    /// The quadrant linked after `qix` (Tstat's `pquad->next`).
    #[inline]
    pub fn next_of(&self, qix: usize) -> usize {
        match self.next[qix] {
            NONE => (qix + 1) % 4,
            n => usize::from(n),
        }
    }

    /// Makes sure quadrant `qix` has a buffer to store ranges in.
    #[inline]
    pub fn ensure(&mut self, qix: usize, pool: &mut SegPool) {
        if self.q[qix].segs.capacity() == 0 {
            self.q[qix].segs = pool.take();
        }
    }

    /// Returns every range buffer to the pool (flow teardown).
    pub fn release(&mut self, pool: &mut SegPool) {
        for q in &mut self.q {
            pool.give(std::mem::take(&mut q.segs));
        }
        *self = SeqSpace::default();
    }

    /// Tstat's `collapse_quad`: merges adjacent ranges that have both been ACKed.
    pub fn collapse(&mut self, qix: usize) {
        let segs = &mut self.q[qix].segs;
        let mut i = 0;
        while i + 1 < segs.len() {
            if segs[i].acked == 0 {
                break;
            }
            let (a, b) = (segs[i], segs[i + 1]);
            if b.acked != 0 && a.last.wrapping_add(1) == b.first {
                let s = &mut segs[i];
                s.last = b.last;
                s.acked = b.acked;
                if b.time > a.time {
                    s.time = b.time;
                    s.ip_id = b.ip_id;
                    s.tos = b.tos;
                }
                segs.remove(i + 1);
            } else {
                i += 1;
            }
        }
    }
}

/// Recycled range buffers, so that a worker allocates no memory per packet once warm.
#[derive(Debug, Default)]
pub struct SegPool {
    free: Vec<Vec<Segment>>,
}

impl SegPool {
    /// A cleared buffer, reused when one is available.
    pub fn take(&mut self) -> Vec<Segment> {
        self.free
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(INITIAL_RANGES))
    }

    /// Gives a buffer back. Oversized buffers are dropped to bound the pool's memory.
    pub fn give(&mut self, mut v: Vec<Segment>) {
        if v.capacity() == 0 || v.capacity() > 32 || self.free.len() >= 65_536 {
            return;
        }
        v.clear();
        self.free.push(v);
    }
}
