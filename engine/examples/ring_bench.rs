//! Throughput of one `engine::ring` producer/consumer pair over a shared-memory file.
//!
//! A producer thread pushes records of a realistic size (1200 B, a serialised TCP record; 300 B,
//! a DNS message); a consumer thread reads in batches, checks the sequence numbers and releases
//! each batch. Both ends map the same file, as the engine and the control process do.
//!
//! - `lossless`: the producer waits when the ring is full (`has_room`), so the figure is the
//!   highest rate the pair sustains.
//! - `paced R/s`: the producer offers records at a fixed rate (`--rate`, spinning on the clock
//!   between records, as if packet processing filled the gaps) and never waits, as in live
//!   capture; the figure to read is the share dropped.
//!
//! ```sh
//! cargo run --release -p engine --example ring_bench -- [--records N] [--capacity BYTES]
//!     [--batch N] [--runs N] [--rate R] [--paced-secs S] [--dir DIR]
//! ```

use std::path::PathBuf;
use std::time::{Duration, Instant};

use engine::ring::{Consumer, Producer, RingFile};

const LAYOUT: u64 = 0x6265_6e63_685f_7631;
const MAX_RECORD: usize = 4096;

struct Args {
    records: u64,
    capacity: u64,
    batch: usize,
    runs: usize,
    rate: u64,
    paced_secs: u64,
    dir: PathBuf,
}

fn parse_args() -> Args {
    let mut a = Args {
        records: 5_000_000,
        capacity: 4 << 20,
        batch: 64,
        runs: 3,
        rate: 1_000_000,
        paced_secs: 2,
        dir: if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        },
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        let num = || {
            value
                .parse::<u64>()
                .unwrap_or_else(|_| panic!("{flag}: not a number"))
        };
        match flag.as_str() {
            "--records" => a.records = num(),
            "--capacity" => a.capacity = num(),
            "--batch" => a.batch = num() as usize,
            "--runs" => a.runs = num() as usize,
            "--rate" => a.rate = num(),
            "--paced-secs" => a.paced_secs = num(),
            "--dir" => a.dir = PathBuf::from(&value),
            _ => panic!("unknown option {flag}"),
        }
    }
    a
}

/// How the producer offers records.
#[derive(Clone, Copy)]
enum Mode {
    /// Wait for room when the ring is full.
    Lossless,
    /// Offer this many records per second, never wait.
    Paced(u64),
}

/// Pushes `n` records of `len` bytes (sequence number first); returns the number refused.
fn produce(mut p: Producer, n: u64, len: usize, mode: Mode) -> u64 {
    let template: Vec<u8> = (0..len).map(|i| i as u8).collect();
    let mut refused = 0;
    let start = Instant::now();
    for seq in 0..n {
        match mode {
            Mode::Lossless => {
                while !p.has_room(len) {
                    std::hint::spin_loop();
                }
            }
            Mode::Paced(rate) => {
                let due = Duration::from_nanos(seq * 1_000_000_000 / rate);
                while start.elapsed() < due {
                    std::hint::spin_loop();
                }
            }
        }
        let pushed = p.try_push(len, |buf| {
            buf[..len].copy_from_slice(&template);
            buf[..8].copy_from_slice(&seq.to_le_bytes());
            len
        });
        refused += u64::from(!pushed);
    }
    p.close();
    refused
}

/// Reads and releases until the ring is closed and drained; returns records and bytes seen and
/// the longest time between two passes of the loop (the consumer was descheduled, mostly).
fn consume(mut c: Consumer, batch: usize) -> (u64, u64, Duration) {
    let (mut records, mut bytes, mut last) = (0u64, 0u64, None::<u64>);
    let mut pass = Instant::now();
    let mut max_gap = Duration::ZERO;
    loop {
        let now = Instant::now();
        max_gap = max_gap.max(now - pass);
        pass = now;
        let closed = c.is_closed();
        let tail = c.tail();
        let end = c
            .read(tail, batch, |_, rec| {
                let seq = u64::from_le_bytes(rec[..8].try_into().unwrap());
                assert!(last.is_none_or(|l| seq > l), "out of order");
                last = Some(seq);
                records += 1;
                bytes += rec.len() as u64;
            })
            .expect("read");
        if end == tail {
            if closed && end == c.head() {
                return (records, bytes, max_gap);
            }
            std::hint::spin_loop();
            continue;
        }
        c.release(end).expect("release");
    }
}

struct Outcome {
    elapsed: Duration,
    offered: u64,
    delivered: u64,
    bytes: u64,
    dropped: u64,
    max_gap: Duration,
}

fn run(a: &Args, len: usize, mode: Mode) -> Outcome {
    let path = a
        .dir
        .join(format!("tstat-ring-bench-{}.ring", std::process::id()));
    let p = RingFile::create(&path, a.capacity, MAX_RECORD, LAYOUT).expect("create ring");
    let c = RingFile::attach(&path, LAYOUT).expect("attach ring");
    let n = match mode {
        Mode::Lossless => a.records,
        Mode::Paced(rate) => rate * a.paced_secs,
    };
    let batch = a.batch;
    let start = Instant::now();
    let consumer = std::thread::spawn(move || consume(c, batch));
    let producer = std::thread::spawn(move || produce(p, n, len, mode));
    let dropped = producer.join().expect("producer");
    let (delivered, bytes, max_gap) = consumer.join().expect("consumer");
    let elapsed = start.elapsed();
    let _ = std::fs::remove_file(&path);
    assert_eq!(delivered + dropped, n);
    Outcome {
        elapsed,
        offered: n,
        delivered,
        bytes,
        dropped,
        max_gap,
    }
}

fn main() {
    let a = parse_args();
    println!(
        "ring {} KiB in {}, batch {}; lossless: {} records per run, best of {}; \
         paced: {} s at {} records/s, worst of {}",
        a.capacity >> 10,
        a.dir.display(),
        a.batch,
        a.records,
        a.runs,
        a.paced_secs,
        a.rate,
        a.runs
    );
    println!(
        "{:>6}  {:>14}  {:>11}  {:>6}  {:>9}  every run (longest consumer gap)",
        "size", "mode", "Mrecords/s", "GB/s", "dropped"
    );
    for len in [1200usize, 300] {
        for mode in [Mode::Lossless, Mode::Paced(a.rate)] {
            let outcomes: Vec<Outcome> = (0..a.runs).map(|_| run(&a, len, mode)).collect();
            let drop_pct = |o: &Outcome| 100.0 * o.dropped as f64 / o.offered as f64;
            // Lossless: the fastest run; paced: the run that dropped most (all listed).
            let (o, label, runs) = match mode {
                Mode::Lossless => (
                    outcomes.iter().min_by_key(|o| o.elapsed),
                    "lossless".to_string(),
                    String::new(),
                ),
                Mode::Paced(r) => (
                    outcomes.iter().max_by_key(|o| o.dropped),
                    format!("paced {:.1}M/s", r as f64 / 1e6),
                    outcomes
                        .iter()
                        .map(|o| {
                            let gap_ms = o.max_gap.as_secs_f64() * 1e3;
                            format!("{:.3}% (gap {gap_ms:.1} ms)", drop_pct(o))
                        })
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
            };
            let o = o.expect("at least one run");
            let secs = o.elapsed.as_secs_f64();
            println!(
                "{:>5}B  {:>14}  {:>11.2}  {:>6.2}  {:>8.3}%  {}",
                len,
                label,
                o.delivered as f64 / secs / 1e6,
                o.bytes as f64 / secs / 1e9,
                drop_pct(o),
                runs,
            );
        }
    }
}
