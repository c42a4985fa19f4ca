//! A heap-backed [`Region`] for tests: the data area is a row of 8-byte cells, each an
//! `UnsafeCell` of the `sync` shim, so that under loom every access to ring bytes is checked
//! against the happens-before order the protocol's atomics establish (and, under Miri, against
//! Rust's aliasing rules).
#![allow(unsafe_code)]

use std::sync::atomic::Ordering;

use super::region::{Region, Word};
use super::sync::{Arc, AtomicU64, UnsafeCell};

/// The shared state: header words and data cells.
struct HeapRegion {
    head: AtomicU64,
    tail: AtomicU64,
    closed: AtomicU64,
    drops: AtomicU64,
    drop_bytes: AtomicU64,
    cells: Vec<UnsafeCell<u64>>,
    capacity: u64,
}

// SAFETY: the non-`Sync` parts are the data cells. Each cell is accessed only through the
// `Region` methods, whose contracts give every byte one owner at a time (producer while free,
// consumer while published) and hand ownership over with Release/Acquire pairs; frames start at
// multiples of 8, so two owners never share a cell. The loom model checks exactly this.
unsafe impl Sync for HeapRegion {}
// SAFETY: as above; the cells hold plain `u64`s.
unsafe impl Send for HeapRegion {}

/// A cloneable handle on one heap region: one clone per side.
#[derive(Clone)]
pub(crate) struct Shared(Arc<HeapRegion>);

impl Shared {
    /// A region with a data area of `capacity` bytes (a power of two, at least 64).
    pub(crate) fn new(capacity: u64) -> Self {
        assert!(capacity.is_power_of_two() && capacity >= 64);
        let cells = (0..capacity / 8).map(|_| UnsafeCell::new(0)).collect();
        Shared(Arc::new(HeapRegion {
            head: AtomicU64::new(0),
            tail: AtomicU64::new(0),
            closed: AtomicU64::new(0),
            drops: AtomicU64::new(0),
            drop_bytes: AtomicU64::new(0),
            cells,
            capacity,
        }))
    }

    fn word(&self, word: Word) -> &AtomicU64 {
        let r = &self.0;
        match word {
            Word::Head => &r.head,
            Word::Tail => &r.tail,
            Word::Closed => &r.closed,
            Word::Drops => &r.drops,
            Word::DropBytes => &r.drop_bytes,
        }
    }

    /// Calls `f(cell, byte range within the cell, byte range within the buffer)` for every cell
    /// that `offset .. offset + len` touches.
    fn for_cells(
        &self,
        offset: usize,
        len: usize,
        mut f: impl FnMut(&UnsafeCell<u64>, std::ops::Range<usize>, std::ops::Range<usize>),
    ) {
        assert!(offset as u64 + len as u64 <= self.0.capacity);
        let mut done = 0;
        while done < len {
            let at = offset + done;
            let in_cell = at % 8;
            let n = (8 - in_cell).min(len - done);
            f(&self.0.cells[at / 8], in_cell..in_cell + n, done..done + n);
            done += n;
        }
    }
}

impl Region for Shared {
    fn capacity(&self) -> u64 {
        self.0.capacity
    }

    fn load(&self, word: Word, order: Ordering) -> u64 {
        self.word(word).load(order)
    }

    fn store(&self, word: Word, value: u64, order: Ordering) {
        self.word(word).store(value, order)
    }

    unsafe fn write(&self, offset: usize, src: &[u8]) {
        self.for_cells(offset, src.len(), |cell, in_cell, in_src| {
            cell.with_mut(|p| {
                // SAFETY: by `write`'s contract the producer owns these bytes, and a cell is
                // never shared between a free and a published range, so the producer has
                // exclusive access to the whole cell (loom verifies this access).
                let v = unsafe { &mut *p };
                let mut bytes = v.to_ne_bytes();
                bytes[in_cell].copy_from_slice(&src[in_src]);
                *v = u64::from_ne_bytes(bytes);
            })
        });
    }

    unsafe fn with_free<T>(
        &self,
        offset: usize,
        len: usize,
        fill: impl FnOnce(&mut [u8]) -> T,
    ) -> T {
        let mut buf = vec![0u8; len];
        let out = fill(&mut buf);
        // SAFETY: the same free range, by this function's contract.
        unsafe { self.write(offset, &buf) };
        out
    }

    unsafe fn read(&self, offset: usize, dst: &mut [u8]) {
        self.for_cells(offset, dst.len(), |cell, in_cell, in_dst| {
            cell.with(|p| {
                // SAFETY: by `read`'s contract these bytes are published, so the producer does
                // not write the cell while we read it (loom verifies this access).
                let v = unsafe { *p };
                dst[in_dst].copy_from_slice(&v.to_ne_bytes()[in_cell]);
            })
        });
    }
}
