//! Records per second the control plane writes, by number of format threads.
//!
//! The records of a trace (one engine worker, the logs of `-T` on) are pushed into record
//! rings exactly as `start`'s workers push them (emission time, then the codec), the rings are
//! closed, and the real control plane (`control::plane::run`) drains them: ring reads, decoding,
//! formatting, writing the logs, checkpoints. Each thread count writes into its own output
//! root; the logs must be byte-identical across thread counts (checked, or the run fails).
//!
//! ```sh
//! cargo run --release -p control --example plane_bench -- --trace T.pcap [--packets N]
//!     [-T runtime.conf] [--rings N] [--threads 1,2,4] [--runs N] [--dir DIR]
//! ```

#[path = "../tests/common/rings.rs"]
mod rings;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

struct Args {
    trace: PathBuf,
    packets: u64,
    runtime: Option<PathBuf>,
    rings: usize,
    threads: Vec<usize>,
    runs: usize,
    dir: PathBuf,
}

fn usage(msg: &str) -> ! {
    eprintln!(
        "plane_bench: {msg}\nusage: plane_bench --trace T.pcap [--packets N] [-T runtime.conf] \
         [--rings N] [--threads 1,2,4] [--runs N] [--dir DIR]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        trace: PathBuf::new(),
        packets: u64::MAX,
        runtime: None,
        rings: 2,
        threads: vec![1, 2],
        runs: 3,
        dir: if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        },
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        let num = || {
            value
                .parse::<u64>()
                .unwrap_or_else(|_| usage(&format!("{flag}: {value:?} is not a number")))
        };
        match flag.as_str() {
            "--trace" => a.trace = PathBuf::from(&value),
            "--packets" => a.packets = num(),
            "-T" => a.runtime = Some(PathBuf::from(&value)),
            "--rings" => a.rings = num().max(1) as usize,
            "--threads" => {
                a.threads = value
                    .split(',')
                    .map(|t| match t.trim().parse::<usize>() {
                        Ok(n) if n > 0 => n,
                        _ => usage(&format!("--threads: {t:?} is not a positive number")),
                    })
                    .collect()
            }
            "--runs" => a.runs = num().max(1) as usize,
            "--dir" => a.dir = PathBuf::from(&value),
            _ => usage(&format!("unknown option {flag}")),
        }
    }
    if a.trace.as_os_str().is_empty() {
        usage("--trace is required");
    }
    a
}

fn main() {
    let a = parse_args();
    let rt = match &a.runtime {
        Some(p) => control::conf::parse_runtime_conf(p).unwrap_or_else(|e| usage(&e.to_string())),
        None => control::conf::Runtime::default(),
    };
    let recs = rings::trace_records(&a.trace, a.packets, &rt);
    eprintln!("{} records", recs.len());
    if recs.is_empty() {
        usage("the trace yields no record");
    }
    let scratch = a.dir.join(format!("plane-bench-{}", std::process::id()));
    let mut reference: Option<std::collections::BTreeMap<String, Vec<u8>>> = None;
    println!("threads  records/s (best of {})  records  seconds", a.runs);
    for &threads in &a.threads {
        let mut best = f64::INFINITY;
        let mut written = 0;
        for _ in 0..a.runs {
            let _ = std::fs::remove_dir_all(&scratch);
            std::fs::create_dir_all(&scratch).expect("scratch directory");
            let paths = rings::fill_rings(&scratch, a.rings, &recs);
            let spec = rings::plane_spec(&scratch, paths, a.runtime.clone(), threads);
            let t0 = Instant::now();
            let s = control::plane::run(&spec, Arc::new(AtomicBool::new(false)))
                .expect("the plane's run");
            best = best.min(t0.elapsed().as_secs_f64());
            written = s.written;
            let logs = rings::files_under(&spec.out_dir);
            match &reference {
                None => reference = Some(logs),
                Some(r) => assert!(
                    r == &logs,
                    "the logs written with {threads} threads differ from the first run's"
                ),
            }
        }
        println!(
            "{threads:>7}  {:>22.0}  {written:>7}  {best:.3}",
            written as f64 / best
        );
    }
    let _ = std::fs::remove_dir_all(&scratch);
}
