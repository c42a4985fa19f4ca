//! Writes the seed corpora of the `record_decode` and `ring_read` fuzz targets, which need the
//! engine itself (records are bincode encodings of engine types, which Python cannot make):
//!
//! ```sh
//! cargo run --release --manifest-path fuzz/seedgen/Cargo.toml   # from the repository root
//! ```
//!
//! * `fuzz/corpus/record_decode/`: `engine::codec::encode` of the records a worker makes of
//!   every bundled trace (`tests/pcaps/*.pcap`) with every record kind on (TCP with the video
//!   rates, UDP, HTTP and DNS messages, TCP and UDP periodic bins, histogram chunks), at most
//!   [`PER_KIND`] records of each kind per trace, longest encodings first.
//! * `fuzz/corpus/ring_read/`: operation sequences in the target's format (see
//!   `fuzz_targets/ring_read.rs`): pushes of record-sized payloads, reads, releases and a
//!   wrap-around for every capacity, then the same rings corrupted in each way the consumer
//!   must refuse (positions out of order, past the capacity, misaligned; length words past the
//!   max record, across the end, past head; padding markers; header fields).
//!
//! Files are named by a 64-bit FNV-1a hash of their content, so re-running adds nothing twice.

use engine::codec::{encode, MAX_ENCODED};
use engine::config::EngineConfig;
use engine::histo::HistoConfig;
use engine::record::FlowRecord;
use engine::source::TraceFile;
use engine::time::Timestamp;
use engine::worker::{FullPolicy, Worker};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Records of each kind kept per trace.
const PER_KIND: usize = 40;

fn write(dir: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    std::fs::write(dir.join(format!("{h:016x}")), data)
}

fn kind(r: &FlowRecord) -> &'static str {
    match r {
        FlowRecord::Tcp(_) => "tcp",
        FlowRecord::Udp(_) => "udp",
        FlowRecord::Http(_) => "http",
        FlowRecord::Dns(_) => "dns",
        FlowRecord::Periodic(_) => "periodic",
        FlowRecord::Histo(_) => "histo",
    }
}

/// Every record a worker makes of `path`, with every record kind switched on.
fn trace_records(path: &Path) -> Result<Vec<FlowRecord>, Box<dyn std::error::Error>> {
    let cfg = EngineConfig {
        http_log: true,
        dns_log: true,
        tcp_periodic: true,
        udp_periodic: true,
        video_rates: true,
        ..EngineConfig::default()
    };
    let mut w = Worker::new(Arc::new(cfg), Vec::new(), FullPolicy::Drop);
    w.enable_histo(HistoConfig::all(), 0);
    let mut tf = TraceFile::open(path)?;
    let mut last = None;
    while let Some(b) = tf.next_batch(256)? {
        for p in &b.packets {
            if last.is_none() {
                w.histo_start(p.ts);
            }
            w.process(p.ts, p.link, b.data(p));
            last = Some(p.ts);
        }
    }
    w.finish(last.unwrap_or(Timestamp::ZERO));
    Ok(w.into_sink())
}

fn record_seeds(pcaps: &Path, out: &Path) -> Result<usize, Box<dyn std::error::Error>> {
    std::fs::create_dir_all(out)?;
    let mut names: Vec<PathBuf> = std::fs::read_dir(pcaps)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    names.sort();
    let mut buf = vec![0u8; MAX_ENCODED];
    let mut written = 0;
    for path in names {
        let mut by_kind: BTreeMap<&str, Vec<Vec<u8>>> = BTreeMap::new();
        for r in trace_records(&path)? {
            let n = encode(&r, &mut buf)?;
            by_kind.entry(kind(&r)).or_default().push(buf[..n].to_vec());
        }
        for (_, mut encs) in by_kind {
            // Longest first: they carry the most strings (names, URLs, payload copies).
            encs.sort_by_key(|e| std::cmp::Reverse(e.len()));
            encs.dedup();
            for e in encs.iter().take(PER_KIND) {
                write(out, e)?;
                written += 1;
            }
        }
    }
    Ok(written)
}

/// Builds inputs of the `ring_read` target.
struct Ops(Vec<u8>);

impl Ops {
    fn new(cap_log: u8, max_sel: u8, attach_now: bool) -> Ops {
        Ops(vec![
            cap_log | max_sel << 3 | if attach_now { 0x20 } else { 0 },
        ])
    }
    fn push(mut self, len: u8) -> Self {
        self.0.extend_from_slice(&[0, len]);
        self
    }
    fn pushes(mut self, lens: &[u8]) -> Self {
        for &l in lens {
            self = self.push(l);
        }
        self
    }
    fn attach(mut self) -> Self {
        self.0.push(3);
        self
    }
    /// `sel`: 0 tail, 1 last returned, 2 head.
    fn read(mut self, sel: u8, max: u8) -> Self {
        self.0.extend_from_slice(&[4, sel, max]);
        self
    }
    fn read_at(mut self, pos: u64, max: u8) -> Self {
        self.0.extend_from_slice(&[4, 3]);
        self.0.extend_from_slice(&pos.to_ne_bytes());
        self.0.push(max);
        self
    }
    fn release(mut self, sel: u8) -> Self {
        self.0.extend_from_slice(&[5, sel]);
        self
    }
    fn release_at(mut self, pos: u64) -> Self {
        self.0.extend_from_slice(&[5, 3]);
        self.0.extend_from_slice(&pos.to_ne_bytes());
        self
    }
    /// Header field `which` (see the target's table: 0 head, 1 tail, 2 closed, 3 drops,
    /// 4 capacity, 5 max record, 6 layout, 7 magic, 8 version, 9 drop bytes) set to `v`.
    fn word(mut self, which: u8, v: u64) -> Self {
        self.0.extend_from_slice(&[2, which]);
        self.0.extend_from_slice(&v.to_ne_bytes());
        self
    }
    /// Raw bytes at file offset `at` (4096 is the start of the data area).
    fn write(mut self, at: u16, bytes: &[u8]) -> Self {
        self.0.push(1);
        self.0.extend_from_slice(&at.to_be_bytes());
        self.0.push(bytes.len() as u8);
        self.0.extend_from_slice(bytes);
        self
    }
    fn meta(mut self, slot: u8, v: u64) -> Self {
        self.0.extend_from_slice(&[6, slot]);
        self.0.extend_from_slice(&v.to_ne_bytes());
        self.0.extend_from_slice(&[7, 200]);
        self
    }
}

fn ring_seeds(out: &Path) -> std::io::Result<usize> {
    std::fs::create_dir_all(out)?;
    let mut seeds: Vec<Ops> = Vec::new();
    // Lengths of real records would not fit the small rings: the ring clamps each length to
    // its max record size; these span empty, tiny, odd and max-size payloads.
    let lens: &[u8] = &[0, 1, 4, 5, 12, 13, 60, 100, 200, 255, 3, 8];
    for cap_log in 0..8u8 {
        for max_sel in 0..4u8 {
            // Fill, drain in batches, release, fill again across the end of the data area.
            seeds.push(
                Ops::new(cap_log, max_sel, true)
                    .pushes(lens)
                    .read(0, 3)
                    .read(1, 3)
                    .release(1)
                    .read(1, 255)
                    .release(2)
                    .pushes(lens)
                    .pushes(lens)
                    .read(0, 255)
                    .release(1)
                    .pushes(lens)
                    .meta(5, 42),
            );
        }
        // Attach after the producer is done, then read everything (the target's tail pass).
        seeds.push(Ops::new(cap_log, 0, false).pushes(lens).pushes(lens));
    }
    // Corruptions of a 256-byte ring with records of at most 60 bytes, after a few pushes and
    // a partial read, for the consumer to refuse.
    let base = || Ops::new(2, 1, true).pushes(&[20, 0, 60, 7]).read(0, 1);
    seeds.extend([
        base().word(0, 1 << 40).read(1, 255), // head far past the capacity
        base().word(1, 1 << 20).read(0, 255), // tail beyond head
        base().word(0, 12).read(0, 255),      // misaligned head
        base().word(1, 4).release(2),         // misaligned tail
        base().write(4096, &[0xff, 0xff, 0xff, 0xff]).read(0, 255), // padding marker at 0
        base().write(4096, &[200, 0, 0, 0]).read(0, 255), // length past max record
        base().write(4096 + 24, &[61, 0, 0, 0]).read(0, 255),
        base().write(4096, &[56, 0, 0, 0]).read(0, 255), // frame past head
        base().word(4, 128).attach().read(0, 255),       // capacity no longer the file's
        base().word(5, 1 << 20).attach(),                // max record over half the ring
        base().word(6, 0).attach(),                      // another layout
        base().word(7, 0).attach(),                      // bad magic
        base().word(8, 2).attach(),                      // version and header size
        base().word(2, 1).attach().read(0, 255),         // closed early
        base().word(3, u64::MAX).word(9, u64::MAX).meta(0, 1),
        base()
            .read_at(8, 255)
            .read_at(u64::MAX - 7, 1)
            .release_at(16),
        base()
            .release_at(24)
            .read(0, 255)
            .pushes(&[60, 60, 60, 60])
            .read(0, 255),
    ]);
    // A wrapped ring (64 B, records of up to 28 bytes) with a padding marker in it.
    seeds.push(
        Ops::new(0, 0, true)
            .pushes(&[20, 12])
            .read(0, 255)
            .release(1)
            .pushes(&[28, 4])
            .read(0, 255)
            .write(4096 + 32, &[0xff, 0xff, 0xff, 0xff])
            .read(0, 255),
    );
    for s in &seeds {
        write(out, &s.0)?;
    }
    Ok(seeds.len())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let pcaps = fuzz.join("../tests/pcaps");
    let corpus = fuzz.join("corpus");
    let n = record_seeds(&pcaps, &corpus.join("record_decode"))?;
    println!("fuzz/corpus/record_decode: {n} records written");
    let n = ring_seeds(&corpus.join("ring_read"))?;
    println!("fuzz/corpus/ring_read: {n} operation sequences written");
    Ok(())
}
