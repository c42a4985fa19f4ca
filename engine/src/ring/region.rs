//! Where the ring's words and bytes live: the [`Region`] seam the protocol is written against,
//! and [`MapRegion`], its implementation over a shared file mapping.
//!
//! This is the only part of the ring (with the loom/heap test double) that touches raw memory.
//! The protocol (`protocol`) decides *which* bytes a side may touch and when; a region only
//! performs the access. Bounds are checked here with hard asserts, so that a bug in the
//! protocol arithmetic is a panic, never an out-of-bounds access: the `unsafe` contracts below
//! are only about ownership between the two processes, not about bounds.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use memmap2::MmapMut;

use super::layout::{off, HEADER_SIZE, STATS_SLOTS};

/// One of the header's atomic words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Word {
    /// The producer's publication position.
    Head,
    /// The consumer's release position.
    Tail,
    /// The producer's "last record written" flag.
    Closed,
    /// Records refused because the ring was full.
    Drops,
    /// Bytes of those records.
    DropBytes,
}

/// The shared memory of one ring, as the protocol sees it: atomic header words and a data area
/// of `capacity()` bytes addressed by offset.
///
/// # Ownership of data bytes
///
/// At any moment every byte of the data area belongs to one side. With `head` and `tail` the
/// positions in the header (byte counts, offsets are `position % capacity`):
/// - bytes of positions `tail .. head` are *published*: the consumer may read them, nobody
///   writes them;
/// - all other bytes (positions `head .. tail + capacity`) are *free*: the producer may write
///   them, nobody reads them.
///
/// A side learns of bytes passing to it through an `Acquire` load of the other side's word
/// (`tail` for the producer, `head` for the consumer), and hands bytes over with a `Release`
/// store of its own word, after its last access to them.
pub(crate) trait Region {
    /// Bytes of the data area, a power of two.
    fn capacity(&self) -> u64;
    /// Loads a header word.
    fn load(&self, word: Word, order: Ordering) -> u64;
    /// Stores a header word.
    fn store(&self, word: Word, value: u64, order: Ordering);
    /// Copies `src` into the data area at `offset`.
    ///
    /// # Safety
    /// The caller is the producer and the bytes `offset .. offset + src.len()` are free (see
    /// the trait documentation): released by the consumer, as shown by a `tail` value this
    /// thread loaded with `Acquire`, and not yet published by a `head` store.
    unsafe fn write(&self, offset: usize, src: &[u8]);
    /// Lends the free bytes `offset .. offset + len` to `fill` as a mutable slice.
    ///
    /// # Safety
    /// As for [`Region::write`], for the whole range.
    unsafe fn with_free<T>(
        &self,
        offset: usize,
        len: usize,
        fill: impl FnOnce(&mut [u8]) -> T,
    ) -> T;
    /// Copies bytes of the data area at `offset` into `dst`.
    ///
    /// # Safety
    /// The caller is the consumer and the bytes `offset .. offset + dst.len()` are published
    /// (see the trait documentation): before a `head` value this thread loaded with `Acquire`,
    /// and not released by a `tail` store since.
    unsafe fn read(&self, offset: usize, dst: &mut [u8]);
}

/// Maps `file` read-write and shared.
pub(crate) fn map_shared(file: &File) -> io::Result<MmapMut> {
    // SAFETY: `MmapMut::map_mut` is unsafe because the mapping aliases a file that other
    // processes may change. This module never creates a reference to bytes of the mapping that
    // the other side may write: header words are only accessed as atomics, the data area only
    // through the `Region` methods, whose contracts keep producer and consumer on disjoint
    // bytes. If another process truncates the file while it is mapped, touching the vanished
    // pages raises SIGBUS: the accepted risk of any file mapping (see `source::trace`); our
    // own producer never truncates a published ring, it replaces it with `rename`.
    unsafe { MmapMut::map_mut(file) }
}

/// Advisory exclusive lock on the whole file, released when the file is closed (also when the
/// process dies). Returns `Ok(false)` if another open file description holds it.
pub(crate) fn try_lock_exclusive(file: &File) -> io::Result<bool> {
    use std::os::unix::io::AsRawFd;
    // SAFETY: `flock` only reads its integer arguments; the descriptor is valid for the
    // duration of the call because `file` is borrowed.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(err)
    }
}

/// Copies the fixed (written once, before publication) part of the header out of a mapping of
/// at least `HEADER_SIZE` bytes.
pub(crate) fn read_fixed(map: &MmapMut) -> [u8; off::FIXED_END] {
    assert!(map.len() >= HEADER_SIZE);
    let mut b = [0u8; off::FIXED_END];
    // SAFETY: the source is the first `FIXED_END` bytes of the live mapping (asserted above);
    // they are written only by `create`, before the file is published under its name, so
    // nothing writes them during this copy. Copying through the pointer avoids creating a slice
    // over the whole mapping, whose atomic words the producer may be storing concurrently.
    unsafe { std::ptr::copy_nonoverlapping(map.as_ptr(), b.as_mut_ptr(), b.len()) };
    b
}

/// A ring's mapping: the header page followed by the data area.
pub(crate) struct MapRegion {
    /// Keeps the mapping alive; never dereferenced as a slice once the region exists.
    _map: MmapMut,
    /// Start of the mapping: page-aligned, valid for `HEADER_SIZE + capacity` bytes while
    /// `_map` lives.
    base: *mut u8,
    /// Bytes of the data area.
    capacity: u64,
}

// SAFETY: `MapRegion` owns its mapping (`MmapMut` is `Send`); `base` points into that mapping
// and carries no thread affinity. Moving the region moves the whole producer or consumer end
// to another thread, which then is the only user of this end's non-atomic accesses.
unsafe impl Send for MapRegion {}

impl MapRegion {
    /// Wraps a mapping whose header has been validated (or just written) and whose length is
    /// `HEADER_SIZE + capacity`.
    pub(crate) fn new(mut map: MmapMut, capacity: u64) -> Self {
        let len = HEADER_SIZE as u64 + capacity;
        assert_eq!(
            map.len() as u64,
            len,
            "ring mapping size does not match its capacity"
        );
        let base = map.as_mut_ptr();
        MapRegion {
            _map: map,
            base,
            capacity,
        }
    }

    /// The atomic `u64` at header offset `offset`.
    fn atomic(&self, offset: usize) -> &AtomicU64 {
        assert!(offset % 8 == 0 && offset + 8 <= HEADER_SIZE);
        let p = self.base.wrapping_add(offset).cast::<AtomicU64>();
        // SAFETY: `p` is in the header page of the live mapping (asserted above), 8-byte aligned
        // (the mapping is page-aligned and `offset` a multiple of 8), and these 8 bytes are only
        // ever accessed atomically by both processes (the header words of the layout), so a
        // shared `&AtomicU64` to them is sound for as long as `self` borrows the mapping.
        unsafe { &*p }
    }

    /// The header's `stats` slots.
    pub(crate) fn stats(&self) -> &[AtomicU64] {
        let p = self.base.wrapping_add(off::STATS).cast::<AtomicU64>();
        // SAFETY: `off::STATS + 8 * STATS_SLOTS <= HEADER_SIZE` (asserted in `layout`), so the
        // slice lies in the live mapping; it is 8-byte aligned and only accessed atomically by
        // both processes, as for `atomic`.
        unsafe { std::slice::from_raw_parts(p, STATS_SLOTS) }
    }

    /// Pointer to data-area byte `offset`, after checking `offset .. offset + len` is in it.
    fn data(&self, offset: usize, len: usize) -> *mut u8 {
        assert!(
            offset as u64 + len as u64 <= self.capacity,
            "ring access {offset}+{len} outside a data area of {}",
            self.capacity
        );
        self.base.wrapping_add(HEADER_SIZE + offset)
    }
}

impl Region for MapRegion {
    #[inline]
    fn capacity(&self) -> u64 {
        self.capacity
    }

    #[inline]
    fn load(&self, word: Word, order: Ordering) -> u64 {
        self.atomic(word_offset(word)).load(order)
    }

    #[inline]
    fn store(&self, word: Word, value: u64, order: Ordering) {
        self.atomic(word_offset(word)).store(value, order)
    }

    #[inline]
    unsafe fn write(&self, offset: usize, src: &[u8]) {
        let dst = self.data(offset, src.len());
        // SAFETY: `dst .. dst + src.len()` is in the data area (checked by `data`) and, by this
        // function's contract, free: no other access to it happens until the producer
        // publishes it. `src` is a distinct Rust slice, so the ranges do not overlap.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len()) };
    }

    #[inline]
    unsafe fn with_free<T>(
        &self,
        offset: usize,
        len: usize,
        fill: impl FnOnce(&mut [u8]) -> T,
    ) -> T {
        let p = self.data(offset, len);
        // SAFETY: the range is in the data area (checked by `data`) and, by this function's
        // contract, free: released by the consumer and not yet published, so nothing in this
        // process or in a correct consumer reads or writes it while `fill` holds the slice
        // (the slice cannot outlive the call). A faulty consumer process reading it anyway only
        // sees bytes being written; that is outside this process's memory model.
        let buf = unsafe { std::slice::from_raw_parts_mut(p, len) };
        fill(buf)
    }

    #[inline]
    unsafe fn read(&self, offset: usize, dst: &mut [u8]) {
        let src = self.data(offset, dst.len());
        // SAFETY: the range is in the data area (checked by `data`) and, by this function's
        // contract, published: a correct producer does not write it until we release it. The
        // bytes are copied, never referenced, and every caller treats the copy as untrusted
        // input, so a faulty producer writing concurrently can only yield wrong bytes here.
        unsafe { std::ptr::copy_nonoverlapping(src, dst.as_mut_ptr(), dst.len()) };
    }
}

/// Header offset of a word.
fn word_offset(word: Word) -> usize {
    match word {
        Word::Head => off::HEAD,
        Word::Tail => off::TAIL,
        Word::Closed => off::CLOSED,
        Word::Drops => off::DROPS,
        Word::DropBytes => off::DROP_BYTES,
    }
}
