//! Fuzz target for the consumer side of the cross-process record ring (`engine::ring`), which
//! treats the shared bytes as untrusted: a ring file is made with `RingFile::create` (one
//! scratch directory per fuzzing process, on `/dev/shm` where it exists, as in production),
//! then a sequence of operations mixes the producer's pushes with raw overwrites of the file
//! (header words, positions, length words, payloads — plain `std` file writes, as a corrupt or
//! hostile producer process would make them) and the consumer's `attach`, `read` and `release`.
//! At the end the consumer attaches if it has not, and reads everything that is readable.
//!
//! Input:
//!
//! ```text
//! geom (1) | op*
//! ```
//!
//! `geom` bits 0-2: data capacity 64 << n bytes (64 B .. 8 KiB); bits 3-4: max record size
//! (the largest the capacity allows, a quarter of the capacity, 13, 0); bit 5: attach at once.
//! Operations (first byte modulo 8; missing bytes read as zero):
//!
//! * 0 `push len`: the producer pushes a record of `len % (max_record + 1)` bytes (a counter
//!   pattern), or counts a drop when the ring is full;
//! * 1 `write off(2) n data(n % 64)`: overwrite file bytes at `off % file length`;
//! * 2 `word which value(8)`: store a native-endian u64 into a header field (head, tail,
//!   closed, drops, capacity, max record + reserved, layout, magic, version + header size);
//! * 3 attach (again): drop the consumer, attach a new one; an error is fine;
//! * 4 `read sel max`: `Consumer::read` from a position (`sel % 4`: tail, the last position a
//!   read returned, head, or the next 8 input bytes) for at most `max` records;
//! * 5 `release sel`: `Consumer::release` to such a position;
//! * 6 `slot i v`: consumer metadata (`stats`, `stat`, `set_stat`, `drops`, `is_closed`, ...);
//! * 7: the producer's own view (`has_room`, `used_bytes`, `drops`).
//!
//! Asserts: no panic (and, under AddressSanitizer, no invalid access); `read` hands out records
//! at strictly increasing positions within `from ..= head`, at most `max` of them, none longer
//! than the max record size, and returns the last position; and while no raw write has touched
//! the file, the ring is exact: reading from a record boundary at or after `tail` succeeds and
//! yields precisely the records pushed after that boundary, in order, byte for byte.
//!
//! Run with `cargo +nightly fuzz run ring_read` from `fuzz/`.
#![no_main]

use engine::ring::layout::off;
use engine::ring::{Consumer, Producer, RingFile, HEADER_SIZE};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::OnceLock;

/// The layout fingerprint the ring is created with (any value does: the consumer is given the
/// same one).
const LAYOUT: u64 = engine::codec::LAYOUT;

/// The ring file of this fuzzing process; each iteration replaces it.
fn ring_path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let shm = PathBuf::from("/dev/shm");
        let base = if shm.is_dir() {
            shm
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("engine-fuzz-ring-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the scratch directory");
        dir.join("ring")
    })
}

/// Reads the input, zeros once it runs out.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }
    fn u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        for x in &mut b {
            *x = self.u8();
        }
        u64::from_ne_bytes(b)
    }
}

/// The payload of the `n`-th record pushed, `len` bytes.
fn payload(n: u32, len: usize) -> Vec<u8> {
    (0..len)
        .map(|k| (n as usize * 31 + k * 7) as u8 ^ 0x5a)
        .collect()
}

struct Harness {
    producer: Producer,
    consumer: Option<Consumer>,
    max_record: usize,
    file_len: u64,
    /// What the producer published: end position of each record -> its payload. Its keys and
    /// the creation position are the record boundaries.
    pushed: BTreeMap<u64, Vec<u8>>,
    start: u64,
    pushes: u32,
    /// A raw write touched the file: the ring is no longer exact, only errors are expected.
    corrupted: bool,
    /// The last position a read returned.
    last: u64,
}

impl Harness {
    fn is_boundary(&self, pos: u64) -> bool {
        pos == self.start || self.pushed.contains_key(&pos)
    }

    fn attach(&mut self) {
        // The lock is per open file description: the old consumer must go first.
        self.consumer = None;
        match RingFile::attach(ring_path(), LAYOUT) {
            Ok(c) => {
                self.last = c.tail();
                if !self.corrupted {
                    assert_eq!(c.capacity(), self.producer.capacity());
                    assert_eq!(c.max_record(), self.max_record);
                    assert_eq!(c.head(), self.producer.head());
                }
                self.consumer = Some(c);
            }
            Err(e) => {
                assert!(self.corrupted, "attach to an intact ring failed: {e}");
                std::hint::black_box(e.to_string());
            }
        }
    }

    fn position(&self, inp: &mut Input<'_>, c: &Consumer) -> u64 {
        match inp.u8() % 4 {
            0 => c.tail(),
            1 => self.last,
            2 => c.head(),
            _ => inp.u64(),
        }
    }

    /// Reads up to `max` records from `from` and checks what comes out.
    fn read(&mut self, from: u64, max: usize) -> Option<u64> {
        let c = self.consumer.as_mut()?;
        let (tail, head) = (c.tail(), c.head());
        let max_record = c.max_record();
        let mut got: Vec<(u64, Vec<u8>)> = Vec::new();
        let result = c.read(from, max, |pos, bytes| {
            assert!(bytes.len() <= max_record, "record longer than max_record");
            got.push((pos, bytes.to_vec()));
        });
        let exact = !self.corrupted && self.is_boundary(from) && from >= tail && from <= head;
        match result {
            Ok(end) => {
                assert!(
                    got.len() <= max,
                    "{} records for a limit of {max}",
                    got.len()
                );
                assert!(
                    from <= end && end <= head,
                    "read returned {end} outside {from}..={head}"
                );
                let mut prev = from;
                for (pos, _) in &got {
                    assert!(
                        *pos > prev && *pos <= end,
                        "record position {pos} out of order"
                    );
                    prev = *pos;
                }
                if let Some((pos, _)) = got.last() {
                    // Only padding markers may follow the last record.
                    assert!(*pos <= end);
                }
                if exact {
                    let want: Vec<(u64, Vec<u8>)> = self
                        .pushed
                        .range(from + 1..)
                        .take(max)
                        .map(|(p, b)| (*p, b.clone()))
                        .collect();
                    assert_eq!(
                        got, want,
                        "an intact ring read differently from what was pushed"
                    );
                    if got.len() < max {
                        assert_eq!(end, head, "an intact ring stopped before head");
                    }
                }
                self.last = end;
                Some(end)
            }
            Err(e) => {
                assert!(!exact, "reading an intact ring from {from} failed: {e}");
                std::hint::black_box(e.to_string());
                None
            }
        }
    }

    fn step(&mut self, inp: &mut Input<'_>) {
        match inp.u8() % 8 {
            0 => {
                let len = usize::from(inp.u8()) % (self.max_record + 1);
                let bytes = payload(self.pushes, len);
                self.pushes += 1;
                if self.producer.push(&bytes) {
                    self.pushed.insert(self.producer.head(), bytes);
                }
            }
            1 => {
                let at = u64::from(inp.u16()) % self.file_len;
                let n = usize::from(inp.u8() % 64);
                let mut bytes: Vec<u8> = (0..n).map(|_| inp.u8()).collect();
                bytes.truncate((self.file_len - at) as usize);
                self.raw_write(at, &bytes);
            }
            2 => {
                const FIELDS: [usize; 10] = [
                    off::HEAD,
                    off::TAIL,
                    off::CLOSED,
                    off::DROPS,
                    off::CAPACITY,
                    off::MAX_RECORD,
                    off::LAYOUT,
                    off::MAGIC,
                    off::VERSION,
                    off::DROP_BYTES,
                ];
                let at = FIELDS[usize::from(inp.u8()) % FIELDS.len()] as u64;
                let v = inp.u64();
                self.raw_write(at, &v.to_ne_bytes());
            }
            3 => self.attach(),
            4 => {
                let Some(c) = &self.consumer else { return };
                let from = self.position(inp, c);
                let max = usize::from(inp.u8());
                self.read(from, max);
            }
            5 => {
                let Some(c) = &self.consumer else { return };
                let upto = self.position(inp, c);
                let exact = !self.corrupted && self.is_boundary(upto);
                let c = self.consumer.as_mut().unwrap();
                let (tail, head) = (c.tail(), c.head());
                match c.release(upto) {
                    Ok(()) => {
                        assert!(tail <= upto && upto <= head);
                        if !exact {
                            // The tail may now sit inside a record.
                            self.corrupted = true;
                        }
                    }
                    Err(e) => {
                        assert!(
                            !(exact && tail <= upto && upto <= head),
                            "release of an intact ring to {upto} failed: {e}"
                        );
                        std::hint::black_box(e.to_string());
                    }
                }
            }
            6 => {
                let i = usize::from(inp.u8());
                let v = inp.u64();
                if let Some(c) = &self.consumer {
                    c.set_stat(i % 80, v);
                    std::hint::black_box((
                        c.stat(i),
                        c.stats(),
                        c.drops(),
                        c.drop_bytes(),
                        c.is_closed(),
                        c.producer_pid(),
                        c.instance(),
                        c.layout(),
                        c.path(),
                        format!("{c:?}"),
                    ));
                }
            }
            _ => {
                let len = usize::from(inp.u8());
                std::hint::black_box((
                    self.producer.has_room(len),
                    self.producer.used_bytes(),
                    self.producer.drops(),
                    self.producer.drop_bytes(),
                    format!("{:?}", self.producer),
                ));
            }
        }
    }

    fn raw_write(&mut self, at: u64, bytes: &[u8]) {
        let f = OpenOptions::new()
            .write(true)
            .open(ring_path())
            .expect("open the ring file");
        f.write_all_at(bytes, at).expect("write the ring file");
        self.corrupted = true;
    }
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input(data);
    let geom = inp.u8();
    let capacity = 64u64 << (geom & 7);
    let largest = (capacity / 2 - 4) as usize;
    let max_record = [largest, (capacity / 4) as usize, 13, 0][usize::from((geom >> 3) & 3)];
    let producer =
        RingFile::create(ring_path(), capacity, max_record, LAYOUT).expect("create the ring");
    let start = producer.head();
    let mut h = Harness {
        producer,
        consumer: None,
        max_record,
        file_len: HEADER_SIZE as u64 + capacity,
        pushed: BTreeMap::new(),
        start,
        pushes: 0,
        corrupted: false,
        last: start,
    };
    if geom & 0x20 != 0 {
        h.attach();
    }
    let mut ops = 0;
    while !inp.0.is_empty() && ops < 4096 {
        h.step(&mut inp);
        ops += 1;
    }

    // Attach if need be and read everything that is readable, from the tail.
    if h.consumer.is_none() {
        h.attach();
    }
    if let Some(c) = &h.consumer {
        let mut from = c.tail();
        // Each read that makes progress consumes at least one frame of 8 bytes.
        for _ in 0..=(capacity / 8 + 1) {
            match h.read(from, 64) {
                Some(end) if end > from => from = end,
                _ => break,
            }
        }
        if let Some(c) = h.consumer.as_mut() {
            let _ = c.release(from);
        }
    }
});
