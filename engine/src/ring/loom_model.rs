//! Loom model of the head/tail protocol: the production `ProducerCore` and `ConsumerCore` run
//! on two loom threads over a heap region whose every data-area access goes through a
//! loom-tracked `UnsafeCell` (8-byte cells, see `heap`).
//!
//! Run (with a target directory of its own, since `--cfg loom` rebuilds every crate):
//! `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p engine --lib ring --release`.
//!
//! What it proves, for every interleaving loom explores (all of them with at most 5 preemptions
//! per execution, under loom's model of Acquire/Release/Relaxed causality): no data-area byte is
//! written by the producer while the consumer may read it or vice versa (loom fails the model on
//! any cell access not ordered by happens-before); the consumer gets exactly the records the
//! producer published, in order, byte for byte, with padding markers skipped and no phantom or
//! torn record; a published record is never overwritten before it is released; delivered +
//! dropped = pushed; and once `closed` is seen the consumer's last read reaches the final
//! `head`. The sizes force the wrap path (padding marker, frame at offset 0), the reuse of
//! released bytes, an exactly full ring and, in the dropping model, full-ring drops.
//!
//! Checked by mutation when it was written: each of these makes the model fail (already at 3
//! preemptions): the producer's `head` store `Relaxed` instead of `Release`; the consumer's
//! `head` load `Relaxed` instead of `Acquire`; the consumer's `tail` store `Relaxed` instead of
//! `Release`; the producer's `tail` load `Relaxed` instead of `Acquire`; the free-space test off
//! by one frame slot (`free + 8 >= total`).
//!
//! What it does not cover: the file mapping itself (`MapRegion` performs the same `Region`
//! operations with `std` atomics at fixed header offsets; the unit and cross-process tests
//! exercise it), interleavings beyond the preemption bound, and producers or consumers that
//! break the protocol (the consumer's validation of untrusted frames is unit-tested).

use loom::thread;

use super::heap::Shared;
use super::protocol::{ConsumerCore, ProducerCore};

/// Data area of the model: 64 bytes (8 cells), the minimum capacity.
const CAPACITY: u64 = 64;
/// Largest record: frame of 24 bytes; two fit in half the area.
const MAX_RECORD: usize = 20;

fn payload(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|k| (i * 16 + k + 1) as u8).collect()
}

/// Drains the ring until the producer has closed it and everything published was read; reads
/// in batches of `batch` and releases each batch. Returns the payloads.
fn consume(mut cons: ConsumerCore<Shared>, batch: usize) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    loop {
        let closed = cons.is_closed();
        let tail = cons.tail();
        let end = cons
            .read(tail, batch, |_, b| got.push(b.to_vec()))
            .expect("the model never corrupts frames");
        cons.release(end)
            .expect("a position read returned is releasable");
        if closed && end == cons.head() {
            return got;
        }
        thread::yield_now();
    }
}

fn builder() -> loom::model::Builder {
    let mut b = loom::model::Builder::new();
    // The unbounded search does not finish in 15 minutes; with at most 5 preemptions per
    // execution it takes ~8 s (6: ~20 s, each level about 3x). Most concurrency bugs need two
    // or three (loom's documentation); the ordering mutations listed in the module
    // documentation are caught at 3. `LOOM_MAX_PREEMPTIONS=N` overrides.
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(5);
    }
    b
}

/// Lossless producer (waits with `has_room`): every record arrives, across a wrap.
#[test]
fn waiting_producer_delivers_every_record_across_the_wrap() {
    builder().check(|| {
        let region = Shared::new(CAPACITY);
        let mut prod = ProducerCore::new(region.clone(), MAX_RECORD);
        let cons = ConsumerCore::new(region, MAX_RECORD);
        // Frames of 24, 24, 24, 16 bytes: the third does not fit the 16 bytes left at offset 48,
        // so it waits for the first two to be released, then goes to offset 0 behind a padding
        // marker; the fourth reuses bytes of the second.
        let sizes = [20usize, 17, 20, 9];
        let t = thread::spawn(move || {
            for (i, &len) in sizes.iter().enumerate() {
                while !prod.has_room(len) {
                    thread::yield_now();
                }
                let rec = payload(i, len);
                assert!(prod.try_push(len, |b| {
                    b[..len].copy_from_slice(&rec);
                    len
                }));
            }
            prod.close();
            prod.drops()
        });
        let got = consume(cons, 1);
        assert_eq!(t.join().unwrap(), 0);
        let want: Vec<_> = sizes
            .iter()
            .enumerate()
            .map(|(i, &l)| payload(i, l))
            .collect();
        assert_eq!(got, want);
    });
}

/// Dropping producer (the live-capture mode): whatever the interleaving, the consumer gets an
/// in-order subsequence, intact, and delivered + drops = pushed.
#[test]
fn dropping_producer_delivers_an_intact_subsequence_and_counts_the_rest() {
    builder().check(|| {
        let region = Shared::new(CAPACITY);
        let mut prod = ProducerCore::new(region.clone(), MAX_RECORD);
        let cons = ConsumerCore::new(region, MAX_RECORD);
        // Frames of 24 + 24 + 16 bytes fill the 64 bytes exactly; the fourth (8 bytes) fits only
        // once the consumer has released something, at offset 0; depending on the interleaving
        // records are dropped or bytes are reused.
        let sizes = [20usize, 18, 12, 4];
        let t = thread::spawn(move || {
            for (i, &len) in sizes.iter().enumerate() {
                prod.try_push(len, |b| {
                    b[..len].copy_from_slice(&payload(i, len));
                    len
                });
            }
            prod.close();
            prod.drops()
        });
        let got = consume(cons, 2);
        let drops = t.join().unwrap();
        assert_eq!(got.len() as u64 + drops, sizes.len() as u64);
        // In order and intact: each record is the payload of a strictly later index.
        let mut next = 0;
        for rec in &got {
            let i = (next..sizes.len())
                .find(|&i| *rec == payload(i, sizes[i]))
                .expect("every delivered record is an intact, later record");
            next = i + 1;
        }
    });
}
