//! Cross-process stress test of `engine::ring`: this test binary re-executes itself as the
//! producer (`current_exe() --exact <test> --nocapture` with `TSTAT_RING_ROLE=producer`), and
//! the parent consumes concurrently through its own mapping of the same file.
//!
//! Every record carries its sequence number, a length derived from it (100 ..= 2048 bytes) and a
//! checksum of the rest; the consumer checks all three, the order, and at the end that
//! delivered + drops == produced, the producer having written what it produced into a stats
//! slot before closing the ring.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use engine::ring::{Consumer, RingError, RingFile};

const ROLE: &str = "TSTAT_RING_ROLE";
const RING_PATH: &str = "TSTAT_RING_PATH";
const RING_CAPACITY: &str = "TSTAT_RING_CAPACITY";
const RING_RECORDS: &str = "TSTAT_RING_RECORDS";
const RING_MODE: &str = "TSTAT_RING_MODE";

const LAYOUT: u64 = 0x7473_7461_745f_7870;
const MAX_RECORD: usize = 2048;
/// Stats slot where the producer puts the number of records it tried to push.
const SLOT_PRODUCED: usize = 0;
/// Stats slot where the producer puts the number of pushes that returned false.
const SLOT_REFUSED: usize = 1;
/// Give up (and kill the producer) after this long.
const DEADLINE: Duration = Duration::from_secs(120);

/// Records per run: 2 M in release, fewer in debug builds so the suite stays quick on busy
/// machines.
fn records() -> u64 {
    if cfg!(debug_assertions) {
        200_000
    } else {
        2_000_000
    }
}

fn mix(mut x: u64) -> u64 {
    // splitmix64's finaliser.
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn len_of(seq: u64) -> usize {
    100 + (mix(seq) % (MAX_RECORD as u64 - 99)) as usize
}

fn checksum(bytes: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().unwrap());
        h = (h ^ w).wrapping_mul(0x0000_0100_0000_01b3).rotate_left(5);
    }
    let mut last = [0u8; 8];
    last[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    (h ^ u64::from_le_bytes(last)).wrapping_mul(0x0000_0100_0000_01b3)
}

/// Writes record `seq` into `buf` (at least `len_of(seq)` bytes); returns its length.
fn encode(seq: u64, buf: &mut [u8]) -> usize {
    let len = len_of(seq);
    let body_end = len - 8;
    buf[..8].copy_from_slice(&seq.to_le_bytes());
    for (k, chunk) in buf[8..body_end].chunks_mut(8).enumerate() {
        let w = mix(seq.wrapping_mul(0x1_0000_0001) ^ k as u64).to_le_bytes();
        chunk.copy_from_slice(&w[..chunk.len()]);
    }
    let sum = checksum(&buf[..body_end]);
    buf[body_end..len].copy_from_slice(&sum.to_le_bytes());
    len
}

/// Checks a record's length and checksum; returns its sequence number.
fn verify(rec: &[u8]) -> u64 {
    assert!(rec.len() >= 16, "record of {} bytes", rec.len());
    let seq = u64::from_le_bytes(rec[..8].try_into().unwrap());
    assert_eq!(rec.len(), len_of(seq), "length of record {seq}");
    let body_end = rec.len() - 8;
    let sum = u64::from_le_bytes(rec[body_end..].try_into().unwrap());
    assert_eq!(sum, checksum(&rec[..body_end]), "checksum of record {seq}");
    seq
}

/// The producer role, run in the child process.
fn produce() {
    let path = PathBuf::from(std::env::var_os(RING_PATH).expect("ring path"));
    let env_u64 = |k: &str| -> u64 { std::env::var(k).expect(k).parse().expect(k) };
    let capacity = env_u64(RING_CAPACITY);
    let n = env_u64(RING_RECORDS);
    let wait = std::env::var(RING_MODE).expect("mode") == "wait";
    let mut p = RingFile::create(&path, capacity, MAX_RECORD, LAYOUT).expect("create ring");
    let mut refused = 0u64;
    for seq in 0..n {
        let len = len_of(seq);
        if wait {
            while !p.has_room(len) {
                std::thread::yield_now();
            }
        }
        if !p.try_push(len, |buf| encode(seq, buf)) {
            refused += 1;
        }
        if !wait && seq % 8 == 7 {
            // Pace the dropping producer a little, as packet processing between records would,
            // so that the run mixes deliveries and drops instead of refusing nearly everything.
            std::thread::yield_now();
        }
        if seq % 4096 == 0 {
            p.stats()[SLOT_PRODUCED].store(seq, std::sync::atomic::Ordering::Relaxed);
        }
    }
    p.stats()[SLOT_PRODUCED].store(n, std::sync::atomic::Ordering::Relaxed);
    p.stats()[SLOT_REFUSED].store(refused, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(p.drops(), refused);
    p.close();
}

/// Runs the producer in a child process for the test `test`; returns the child and the ring
/// path (removed first).
struct Run {
    child: Child,
    path: PathBuf,
    started: Instant,
}

impl Run {
    fn start(test: &str, capacity: u64, wait: bool) -> Run {
        let path = std::env::temp_dir().join(format!(
            "tstat-ring-xproc-{}-{test}.ring",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        let child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", test, "--nocapture", "--test-threads=1"])
            .env(ROLE, "producer")
            .env(RING_PATH, &path)
            .env(RING_CAPACITY, capacity.to_string())
            .env(RING_RECORDS, records().to_string())
            .env(RING_MODE, if wait { "wait" } else { "drop" })
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("re-execute the test binary as the producer");
        Run {
            child,
            path,
            started: Instant::now(),
        }
    }

    /// Fails the test if the producer died or the run is taking too long.
    fn check_alive(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            assert!(status.success(), "producer exited with {status}");
        }
        if self.started.elapsed() > DEADLINE {
            let _ = self.child.kill();
            panic!("ring test did not finish in {DEADLINE:?}");
        }
    }

    /// Attaches to the ring once the producer has created it. `Busy` is retried too: while
    /// another test of this process spawns its child, the child holds copies of our descriptors
    /// (the one with the consumer lock included) until its `exec`.
    fn attach(&mut self) -> Consumer {
        loop {
            match RingFile::attach(&self.path, LAYOUT) {
                Ok(c) => return c,
                Err(RingError::Missing { .. } | RingError::Busy { .. }) => {
                    self.check_alive();
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(e) => panic!("attach: {e}"),
            }
        }
    }

    /// Waits for the producer to exit successfully and removes the ring.
    fn finish(mut self) -> Duration {
        let status = self.child.wait().unwrap();
        assert!(status.success(), "producer exited with {status}");
        let _ = std::fs::remove_file(&self.path);
        self.started.elapsed()
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = self.child.kill();
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// What the consumer saw.
struct Seen {
    delivered: u64,
    last_seq: Option<u64>,
}

/// Consumes until the ring is closed and drained. `on_batch` is called after each non-empty
/// batch with the consumer, the position after it, and the records delivered so far; it
/// decides what to release (returning the position to continue from, normally the same).
fn consume(
    run: &mut Run,
    mut c: Consumer,
    mut accept: impl FnMut(u64) -> bool,
    mut after_batch: impl FnMut(&mut Run, Consumer, u64, u64) -> (Consumer, u64),
) -> (Consumer, Seen) {
    let mut seen = Seen {
        delivered: 0,
        last_seq: None,
    };
    let mut pos = c.tail();
    loop {
        let closed = c.is_closed();
        let mut n = 0;
        let end = c
            .read(pos, 512, |_, rec| {
                let seq = verify(rec);
                if accept(seq) {
                    if let Some(last) = seen.last_seq {
                        assert!(seq > last, "record {seq} after {last}");
                    }
                    seen.last_seq = Some(seq);
                    seen.delivered += 1;
                }
                n += 1;
            })
            .unwrap_or_else(|e| panic!("read: {e}"));
        if n > 0 {
            (c, pos) = after_batch(run, c, end, seen.delivered);
        } else {
            pos = end;
            c.release(end).unwrap();
            if closed && end == c.head() {
                return (c, seen);
            }
            run.check_alive();
            std::thread::yield_now();
        }
    }
}

fn release_all(_: &mut Run, mut c: Consumer, end: u64, _: u64) -> (Consumer, u64) {
    c.release(end).unwrap();
    (c, end)
}

#[test]
fn lossless_stream_arrives_in_order() {
    if std::env::var_os(ROLE).is_some() {
        return produce();
    }
    let mut run = Run::start("lossless_stream_arrives_in_order", 1 << 20, true);
    let c = run.attach();
    let (c, seen) = consume(&mut run, c, |_| true, release_all);
    let n = records();
    assert_eq!(seen.delivered, n);
    assert_eq!(seen.last_seq, Some(n - 1));
    assert_eq!(
        (c.drops(), c.stat(SLOT_PRODUCED), c.stat(SLOT_REFUSED)),
        (0, n, 0)
    );
    drop(c);
    let took = run.finish();
    eprintln!("lossless: {n} records in {took:?}");
}

#[test]
fn consumer_killed_and_reattached_resumes_exactly_once() {
    if std::env::var_os(ROLE).is_some() {
        return produce();
    }
    let mut run = Run::start(
        "consumer_killed_and_reattached_resumes_exactly_once",
        256 << 10,
        true,
    );
    let c = run.attach();
    let instance = c.instance();
    let n = records();
    // The durable checkpoint: position after the last record "written out", and how many
    // records that is. The consumer releases only every other batch, so at a re-attach `tail` is
    // often behind the checkpoint, as after a kill -9 between checkpoint and release.
    let mut checkpoint = (0u64, 0u64);
    let mut batches = 0u64;
    let mut reattaches = 0u64;
    let mut from_tail = 0u64;
    // Records with seq below this were already delivered: when resuming from `tail` rather than
    // from the checkpoint, they come again and are skipped (and checked).
    let mut delivered_below = 0u64;
    let mut next_seq = 0u64;
    let (c, _) = consume(
        &mut run,
        c,
        |seq| {
            if seq < delivered_below {
                return false;
            }
            assert_eq!(seq, next_seq, "exactly once, in order");
            next_seq += 1;
            delivered_below = next_seq;
            true
        },
        |run, mut c, end, delivered| {
            checkpoint = (end, delivered);
            batches += 1;
            if batches % 2 == 0 {
                c.release(end).unwrap();
            }
            // Every ~1/8 of the stream, "kill" the consumer: drop it and attach anew.
            if batches % 37 == 0 && delivered < n {
                let tail_before = c.tail();
                drop(c);
                reattaches += 1;
                let mut c = run.attach();
                assert_eq!(c.instance(), instance);
                assert_eq!(c.tail(), tail_before, "tail survives the consumer");
                assert!(c.tail() <= checkpoint.0 && checkpoint.0 <= c.head());
                if reattaches % 2 == 0 {
                    // Resume from the checkpoint (exactly once, nothing re-read)...
                    c.release(checkpoint.0).unwrap();
                    return (c, checkpoint.0);
                }
                // ...or from `tail`, re-reading what was read but not released.
                from_tail += 1;
                let tail = c.tail();
                return (c, tail);
            }
            (c, end)
        },
    );
    assert_eq!(next_seq, n);
    assert_eq!((c.drops(), c.stat(SLOT_PRODUCED)), (0, n));
    assert!(reattaches >= 4, "re-attached {reattaches} times");
    assert!(from_tail >= 2);
    drop(c);
    let took = run.finish();
    eprintln!("reattach: {n} records, {reattaches} re-attaches in {took:?}");
}

#[test]
fn tiny_ring_drops_are_counted_exactly() {
    if std::env::var_os(ROLE).is_some() {
        return produce();
    }
    // 8 KiB: room for two to eighty records; the producer never waits.
    let mut run = Run::start("tiny_ring_drops_are_counted_exactly", 8 << 10, false);
    let c = run.attach();
    let (c, seen) = consume(&mut run, c, |_| true, release_all);
    let n = records();
    let (drops, produced, refused) = (c.drops(), c.stat(SLOT_PRODUCED), c.stat(SLOT_REFUSED));
    assert_eq!(produced, n);
    assert_eq!(drops, refused);
    assert_eq!(
        seen.delivered + drops,
        produced,
        "delivered + drops == produced"
    );
    assert!(drops > 0, "a tiny ring must drop");
    assert!(seen.delivered > 0);
    drop(c);
    let took = run.finish();
    eprintln!(
        "tiny: {n} records, {} delivered, {drops} dropped in {took:?}",
        seen.delivered
    );
}

#[test]
fn attach_to_a_missing_path_is_an_error() {
    if std::env::var_os(ROLE).is_some() {
        return;
    }
    let err = RingFile::attach(Path::new("/nonexistent/ring"), LAYOUT).unwrap_err();
    assert!(matches!(err, RingError::Missing { .. }), "{err}");
}
