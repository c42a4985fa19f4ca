//! Fuzz target for the trace reader: the input is written to a file and read completely with
//! [`TraceFile::open`] + [`TraceFile::next_batch`], so the container parsers (classic pcap in
//! both byte orders and both time resolutions, pcapng, gzip detected by its magic) see
//! arbitrary bytes, through the memory-mapped path (plain files) or the streamed one (gzip).
//!
//! Asserts: no panic, no hang; every descriptor's bytes are reachable through `Batch::data`
//! (touched and summed); once `next_batch` has returned `Err`, the next call returns `Ok(None)`
//! as documented; the reader always terminates (a bounded number of batches per input).
//!
//! Run with `cargo +nightly fuzz run trace` from `fuzz/`.
#![no_main]

use engine::source::TraceFile;
use libfuzzer_sys::fuzz_target;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::OnceLock;

/// One file per fuzzing process, reused by every iteration (and removed by nobody: it lives in
/// the temp directory and is overwritten on the next run of the same pid).
fn scratch_path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        std::env::temp_dir().join(format!("engine-fuzz-trace-{}.bin", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    let path = scratch_path();
    // Every mapping of the previous iteration was dropped at its end, so truncating the file
    // here cannot fault a live mapping.
    std::fs::write(path, data).expect("write scratch trace");
    let mut trace = match TraceFile::open(path) {
        Ok(t) => t,
        Err(e) => {
            black_box(e.to_string());
            return;
        }
    };
    black_box((trace.size_bytes(), trace.position()));
    let mut sum: u64 = 0;
    let mut packets: u64 = 0;
    // Each packet record takes at least 16 bytes of (decompressed) input; gzip can expand a
    // small input a lot, so the bound is generous, only there to turn a livelock into a crash.
    let mut batches: u64 = 0;
    loop {
        batches += 1;
        assert!(batches < 50_000_000, "next_batch does not terminate");
        match trace.next_batch(64) {
            Ok(Some(batch)) => {
                assert!(!batch.packets.is_empty(), "Ok(Some) with an empty batch");
                assert!(batch.packets.len() <= 64, "batch larger than asked");
                for p in &batch.packets {
                    let bytes = batch.data(p);
                    assert_eq!(
                        bytes.len(),
                        p.caplen as usize,
                        "descriptor outside its block"
                    );
                    sum = bytes
                        .iter()
                        .fold(sum, |acc, &b| acc.wrapping_add(u64::from(b)));
                    black_box((p.wirelen, p.ts, p.link));
                    packets += 1;
                }
            }
            Ok(None) => break,
            Err(e) => {
                black_box(e.to_string());
                assert!(
                    matches!(trace.next_batch(64), Ok(None)),
                    "next_batch after an error must give Ok(None)"
                );
                break;
            }
        }
    }
    black_box((sum, packets, trace.position()));
});
