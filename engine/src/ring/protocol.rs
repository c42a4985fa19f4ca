//! The head/tail protocol and the framing, generic over the [`Region`] that holds the bytes, so
//! that the same code runs over a shared file mapping in production and over a loom-checked
//! heap buffer in the model test (`loom_model`).
//!
//! Invariants (positions are `u64` byte counts that never wrap; offsets are `pos % capacity`):
//! - `tail <= head <= tail + capacity`, both multiples of 8;
//! - at every position in `tail .. head` a frame starts or has been skipped over: a frame is a
//!   `u32` length word, the payload, padding to 8 bytes, and never crosses the end of the data
//!   area; a length word of [`PAD`] means "skip to the end of the data area";
//! - only the producer stores `head`, `closed`, `drops`, `drop_bytes`; only the consumer stores
//!   `tail`.
#![allow(unsafe_code)]

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use super::layout::{check_positions, frame_len, ALIGN, LEN_WORD, PAD};
use super::region::{Region, Word};

/// What went wrong on the consumer side; the public API adds the file's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// `head`/`tail` as loaded are impossible.
    Positions {
        head: u64,
        tail: u64,
        what: &'static str,
    },
    /// A frame inside the published range is malformed.
    Frame {
        pos: u64,
        len: u32,
        what: &'static str,
    },
    /// A caller-supplied position is outside `tail ..= head` or misaligned.
    OutOfRange { pos: u64, tail: u64, head: u64 },
}

/// The producer's end: the only writer of `head` and of free bytes.
pub(crate) struct ProducerCore<R> {
    region: R,
    capacity: u64,
    max_record: usize,
    /// Our copy of `head` (we are its only writer).
    head: u64,
    /// Last `tail` loaded; reloaded only when it says the ring is full.
    cached_tail: u64,
    drops: u64,
    drop_bytes: u64,
}

impl<R: Region> ProducerCore<R> {
    /// Takes over a region whose header is initialised (positions valid, `max_record` checked
    /// against the capacity by `layout::check_geometry`).
    pub(crate) fn new(region: R, max_record: usize) -> Self {
        let capacity = region.capacity();
        let head = region.load(Word::Head, Relaxed);
        let cached_tail = region.load(Word::Tail, Acquire);
        let drops = region.load(Word::Drops, Relaxed);
        let drop_bytes = region.load(Word::DropBytes, Relaxed);
        ProducerCore {
            region,
            capacity,
            max_record,
            head,
            cached_tail,
            drops,
            drop_bytes,
        }
    }

    pub(crate) fn region(&self) -> &R {
        &self.region
    }

    pub(crate) fn capacity(&self) -> u64 {
        self.capacity
    }

    pub(crate) fn max_record(&self) -> usize {
        self.max_record
    }

    pub(crate) fn head(&self) -> u64 {
        self.head
    }

    pub(crate) fn drops(&self) -> u64 {
        self.drops
    }

    pub(crate) fn drop_bytes(&self) -> u64 {
        self.drop_bytes
    }

    /// Bytes published and not yet released, as of a fresh load of `tail`.
    pub(crate) fn used_bytes(&self) -> u64 {
        let tail = self.region.load(Word::Tail, Relaxed);
        self.head.saturating_sub(tail).min(self.capacity)
    }

    /// Where a frame for up to `max_len` payload bytes would go: `(skip, offset)`, `skip` being
    /// the bytes left before the end of the data area that a padding marker gives up (0 if the
    /// frame fits before the end). `None` if the record is too large or the ring too full.
    #[inline]
    fn reserve(&mut self, max_len: usize) -> Option<(u64, usize)> {
        if max_len > self.max_record {
            return None;
        }
        let need = frame_len(max_len);
        let offset = self.head & (self.capacity - 1);
        let to_end = self.capacity - offset;
        let (skip, start) = if need > to_end {
            (to_end, 0)
        } else {
            (0, offset)
        };
        let total = skip + need;
        if !self.fits(total) {
            // The cached view says full: look at the consumer's progress. `Acquire` pairs with
            // the consumer's `Release` store of `tail`: its reads of the bytes it released
            // happen before our writes to them.
            self.cached_tail = self.region.load(Word::Tail, Acquire);
            if !self.fits(total) {
                return None;
            }
        }
        Some((skip, start as usize))
    }

    /// Whether `total` more bytes fit according to `cached_tail`. A `tail` that is impossible
    /// (beyond `head`, or more than a capacity behind) is a broken consumer: say "full", so that
    /// nothing unreleased is ever overwritten on its account.
    #[inline]
    fn fits(&self, total: u64) -> bool {
        match self
            .capacity
            .checked_sub(self.head.wrapping_sub(self.cached_tail))
        {
            Some(free) => free >= total,
            None => false,
        }
    }

    /// Whether a record of up to `max_len` bytes would be accepted now. Counts nothing: a
    /// producer that prefers to wait (offline analysis) polls this.
    pub(crate) fn has_room(&mut self, max_len: usize) -> bool {
        self.reserve(max_len).is_some()
    }

    /// Reserves `max_len` bytes, lets `write` fill them and say how many it used, publishes
    /// the record. On no room (or `max_len > max_record`) counts a drop and returns false.
    ///
    /// # Panics
    /// If `write` returns more than `max_len`.
    #[inline]
    pub(crate) fn try_push(
        &mut self,
        max_len: usize,
        write: impl FnOnce(&mut [u8]) -> usize,
    ) -> bool {
        let Some((skip, start)) = self.reserve(max_len) else {
            self.count_drop(max_len);
            return false;
        };
        // SAFETY: `reserve` checked that `skip + frame_len(max_len)` bytes from `head` are free
        // per a `tail` loaded with `Acquire`; the payload range `start + 4 .. start + 4 +
        // max_len` lies in that frame, which starts at `head + skip` (offset `start`), and
        // nothing is published before the `head` store below.
        let len = unsafe { self.region.with_free(start + LEN_WORD, max_len, write) };
        assert!(
            len <= max_len,
            "ring record writer returned {len} bytes, more than the {max_len} reserved"
        );
        // SAFETY: the length word is the first 4 bytes of the same free frame.
        unsafe { self.region.write(start, &(len as u32).to_ne_bytes()) };
        if skip > 0 {
            let offset = (self.head & (self.capacity - 1)) as usize;
            // SAFETY: `skip` bytes from `head` are free too (counted in `reserve`'s total) and
            // at least 8 of them remain before the end (offsets are multiples of 8).
            unsafe { self.region.write(offset, &PAD.to_ne_bytes()) };
        }
        self.head += skip + frame_len(len);
        // Publish: `Release` pairs with the consumer's `Acquire` load of `head`, so the bytes
        // written above are visible before it can see the new position.
        self.region.store(Word::Head, self.head, Release);
        true
    }

    fn count_drop(&mut self, bytes: usize) {
        self.drops += 1;
        self.drop_bytes += bytes as u64;
        // Single writer: plain stores, no read-modify-write. Relaxed: these are statistics;
        // `close` orders their final values before `closed`.
        self.region.store(Word::Drops, self.drops, Relaxed);
        self.region.store(Word::DropBytes, self.drop_bytes, Relaxed);
    }

    /// Marks the ring closed: every record this producer will ever push has been published.
    /// `Release` orders every earlier store (head, drops, stats) before it.
    pub(crate) fn close(&self) {
        self.region.store(Word::Closed, 1, Release);
    }
}

/// The consumer's end: the only writer of `tail`.
pub(crate) struct ConsumerCore<R> {
    region: R,
    capacity: u64,
    max_record: usize,
    /// The payload of the record being handed out: shared bytes are copied, never lent.
    scratch: Vec<u8>,
}

impl<R: Region> ConsumerCore<R> {
    /// Takes over a region whose header has been validated.
    pub(crate) fn new(region: R, max_record: usize) -> Self {
        let capacity = region.capacity();
        ConsumerCore {
            region,
            capacity,
            max_record,
            scratch: vec![0; max_record],
        }
    }

    pub(crate) fn region(&self) -> &R {
        &self.region
    }

    /// The producer's publication position. `Acquire`: every byte before it is readable.
    pub(crate) fn head(&self) -> u64 {
        self.region.load(Word::Head, Acquire)
    }

    /// The release position (we are its only writer).
    pub(crate) fn tail(&self) -> u64 {
        self.region.load(Word::Tail, Relaxed)
    }

    /// Whether the producer has published its last record. `Acquire` pairs with `close`: a
    /// `head` loaded afterwards is final, and so are `drops` and the stats.
    pub(crate) fn is_closed(&self) -> bool {
        self.region.load(Word::Closed, Acquire) != 0
    }

    /// Loads `(head, tail)` and checks them.
    fn positions(&self) -> Result<(u64, u64), Fault> {
        let tail = self.tail();
        let head = self.head();
        check_positions(head, tail, self.capacity).map_err(|what| Fault::Positions {
            head,
            tail,
            what,
        })?;
        Ok((head, tail))
    }

    /// Hands out up to `max_records` published records from position `from`, without releasing
    /// them; `f` gets the position after each record and its payload. Returns the position
    /// after the last record handed out (and after any padding marker met before the limit).
    pub(crate) fn read(
        &mut self,
        from: u64,
        max_records: usize,
        mut f: impl FnMut(u64, &[u8]),
    ) -> Result<u64, Fault> {
        let (head, tail) = self.positions()?;
        if from < tail || from > head || from % ALIGN != 0 {
            return Err(Fault::OutOfRange {
                pos: from,
                tail,
                head,
            });
        }
        let mask = self.capacity - 1;
        let mut pos = from;
        let mut n = 0;
        while pos < head && n < max_records {
            let offset = (pos & mask) as usize;
            let mut word = [0u8; LEN_WORD];
            // SAFETY: `tail <= pos < head` with both multiples of 8, so the 4 bytes at `pos` are
            // published per the `head` loaded with `Acquire` in `positions` and not released
            // (only we store `tail`).
            unsafe { self.region.read(offset, &mut word) };
            // The length is copied once, then checked; it is never re-read from shared memory.
            let len = u32::from_ne_bytes(word);
            let to_end = self.capacity - offset as u64;
            if len == PAD {
                if to_end > head - pos {
                    return Err(Fault::Frame {
                        pos,
                        len,
                        what: "padding marker runs past the published head",
                    });
                }
                pos += to_end;
                continue;
            }
            if len as usize > self.max_record {
                return Err(Fault::Frame {
                    pos,
                    len,
                    what: "length exceeds the ring's max record size",
                });
            }
            let frame = frame_len(len as usize);
            if frame > to_end {
                return Err(Fault::Frame {
                    pos,
                    len,
                    what: "frame crosses the end of the data area",
                });
            }
            if frame > head - pos {
                return Err(Fault::Frame {
                    pos,
                    len,
                    what: "frame runs past the published head",
                });
            }
            let payload = &mut self.scratch[..len as usize];
            // SAFETY: the payload lies in the frame `pos .. pos + frame`, which was just checked
            // to end at or before `head` (and not to cross the end of the data area), so it is
            // published and not released, as for the length word.
            unsafe { self.region.read(offset + LEN_WORD, payload) };
            pos += frame;
            n += 1;
            f(pos, payload);
        }
        Ok(pos)
    }

    /// Releases every byte before `upto` to the producer.
    pub(crate) fn release(&mut self, upto: u64) -> Result<(), Fault> {
        let (head, tail) = self.positions()?;
        if upto < tail || upto > head || upto % ALIGN != 0 {
            return Err(Fault::OutOfRange {
                pos: upto,
                tail,
                head,
            });
        }
        // `Release` pairs with the producer's `Acquire` load of `tail`: our reads of the
        // released bytes happen before its next writes to them.
        self.region.store(Word::Tail, upto, Release);
        Ok(())
    }
}

// Plain threads over the heap region (this runs under Miri too); the loom build has the model
// in `loom_model` instead.
#[cfg(all(test, not(loom)))]
mod tests {
    use super::super::heap::Shared;
    use super::*;

    fn record(i: usize, len: usize) -> Vec<u8> {
        (0..len).map(|k| (i * 31 + k) as u8).collect()
    }

    #[test]
    fn threads_over_a_heap_region_deliver_everything_in_order() {
        let region = Shared::new(256);
        let mut prod = ProducerCore::new(region.clone(), 60);
        let mut cons = ConsumerCore::new(region, 60);
        const N: usize = if cfg!(miri) { 200 } else { 20_000 };
        let t = std::thread::spawn(move || {
            for i in 0..N {
                let rec = record(i, i % 61);
                while !prod.has_room(rec.len()) {
                    std::thread::yield_now();
                }
                assert!(prod.try_push(rec.len(), |b| {
                    b[..rec.len()].copy_from_slice(&rec);
                    rec.len()
                }));
            }
            prod.close();
            prod.drops()
        });
        let mut next = 0;
        loop {
            let closed = cons.is_closed();
            let pos = cons
                .read(cons.tail(), 7, |_, b| {
                    assert_eq!(b, record(next, next % 61));
                    next += 1;
                })
                .unwrap();
            cons.release(pos).unwrap();
            if closed && pos == cons.head() {
                break;
            }
            std::thread::yield_now();
        }
        assert_eq!(t.join().unwrap(), 0);
        assert_eq!(next, N);
    }
}
