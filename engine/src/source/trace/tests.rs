//! File-level tests of the trace reader over traces built byte by byte.

use super::*;
use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A file under the temp dir, removed on drop.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl TempFile {
    fn path(&self) -> &Path {
        &self.0
    }
}

fn temp(name: &str, bytes: &[u8]) -> TempFile {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!(
        "tstat-trace-test-{}-{n}-{name}",
        std::process::id()
    ));
    std::fs::write(&path, bytes).expect("write temp file");
    TempFile(path)
}

fn gzip(bytes: &[u8], level: Compression) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), level);
    enc.write_all(bytes).expect("gzip into memory");
    enc.finish().expect("gzip into memory")
}

fn w16(v: &mut Vec<u8>, x: u16, le: bool) {
    v.extend_from_slice(&if le { x.to_le_bytes() } else { x.to_be_bytes() });
}
fn w32(v: &mut Vec<u8>, x: u32, le: bool) {
    v.extend_from_slice(&if le { x.to_le_bytes() } else { x.to_be_bytes() });
}
fn w64(v: &mut Vec<u8>, x: u64, le: bool) {
    v.extend_from_slice(&if le { x.to_le_bytes() } else { x.to_be_bytes() });
}

fn payload(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|k| (i * 31 + k * 7) as u8).collect()
}

/// A classic pcap record to write.
struct Rec {
    sec: u32,
    frac: u32,
    data: Vec<u8>,
    orig: u32,
}

fn rec(sec: u32, frac: u32, data: Vec<u8>) -> Rec {
    let orig = data.len() as u32;
    Rec {
        sec,
        frac,
        data,
        orig,
    }
}

fn pcap_header(le: bool, ns: bool, snaplen: u32, link: u32) -> Vec<u8> {
    let mut v = Vec::new();
    w32(&mut v, if ns { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }, le);
    w16(&mut v, 2, le);
    w16(&mut v, 4, le);
    w32(&mut v, 0, le);
    w32(&mut v, 0, le);
    w32(&mut v, snaplen, le);
    w32(&mut v, link, le);
    v
}

fn pcap_record(v: &mut Vec<u8>, le: bool, r: &Rec) {
    w32(v, r.sec, le);
    w32(v, r.frac, le);
    w32(v, r.data.len() as u32, le);
    w32(v, r.orig, le);
    v.extend_from_slice(&r.data);
}

fn pcap_file(le: bool, ns: bool, recs: &[Rec]) -> Vec<u8> {
    let mut v = pcap_header(le, ns, 65535, 1);
    for r in recs {
        pcap_record(&mut v, le, r);
    }
    v
}

/// `n` records of varying sizes (0..=300 bytes), µs timestamps.
fn many_records(n: usize) -> Vec<Rec> {
    (0..n)
        .map(|i| {
            rec(
                1_000 + i as u32,
                (i * 1_234 % 1_000_000) as u32,
                payload(i, (i * 37) % 301),
            )
        })
        .collect()
}

fn block(le: bool, btype: u32, body: &[u8]) -> Vec<u8> {
    let padded = body.len().div_ceil(4) * 4;
    let total = (12 + padded) as u32;
    let mut v = Vec::new();
    w32(&mut v, btype, le);
    w32(&mut v, total, le);
    v.extend_from_slice(body);
    v.resize(8 + padded, 0);
    w32(&mut v, total, le);
    v
}

fn shb(le: bool) -> Vec<u8> {
    let mut b = Vec::new();
    w32(&mut b, 0x1a2b_3c4d, le);
    w16(&mut b, 1, le);
    w16(&mut b, 0, le);
    w64(&mut b, u64::MAX, le);
    block(le, 0x0a0d_0d0a, &b)
}

fn idb(le: bool, link: u16, snaplen: u32, opts: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut b = Vec::new();
    w16(&mut b, link, le);
    w16(&mut b, 0, le);
    w32(&mut b, snaplen, le);
    for (code, value) in opts {
        w16(&mut b, *code, le);
        w16(&mut b, value.len() as u16, le);
        b.extend_from_slice(value);
        b.resize(b.len().div_ceil(4) * 4, 0);
    }
    if !opts.is_empty() {
        w32(&mut b, 0, le);
    }
    block(le, 1, &b)
}

fn epb(le: bool, iface: u32, units: u64, data: &[u8], orig: u32) -> Vec<u8> {
    let mut b = Vec::new();
    w32(&mut b, iface, le);
    w32(&mut b, (units >> 32) as u32, le);
    w32(&mut b, units as u32, le);
    w32(&mut b, data.len() as u32, le);
    w32(&mut b, orig, le);
    b.extend_from_slice(data);
    block(le, 6, &b)
}

fn pb(le: bool, iface: u16, units: u64, data: &[u8], orig: u32) -> Vec<u8> {
    let mut b = Vec::new();
    w16(&mut b, iface, le);
    w16(&mut b, 0, le);
    w32(&mut b, (units >> 32) as u32, le);
    w32(&mut b, units as u32, le);
    w32(&mut b, data.len() as u32, le);
    w32(&mut b, orig, le);
    b.extend_from_slice(data);
    block(le, 2, &b)
}

fn spb(le: bool, orig: u32, data: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    w32(&mut b, orig, le);
    b.extend_from_slice(data);
    block(le, 3, &b)
}

/// One packet as delivered, copied out of its batch.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Got {
    ts: i64,
    caplen: u32,
    wirelen: u32,
    link: LinkType,
    data: Vec<u8>,
}

/// Reads a whole trace: packets, batch sizes and the error that ended it, if any. Checks the
/// batch invariants on the way.
fn read_all(tf: &mut TraceFile, max: usize) -> (Vec<Got>, Vec<usize>, Option<Error>) {
    let mut got = Vec::new();
    let mut sizes = Vec::new();
    loop {
        match tf.next_batch(max) {
            Ok(Some(b)) => {
                assert!(!b.packets.is_empty(), "empty batch");
                assert!(b.packets.len() <= max.max(1), "batch over max");
                sizes.push(b.packets.len());
                for p in &b.packets {
                    let data = b.data(p);
                    assert_eq!(data.len(), p.caplen as usize, "descriptor out of its block");
                    got.push(Got {
                        ts: p.ts.0,
                        caplen: p.caplen,
                        wirelen: p.wirelen,
                        link: p.link,
                        data: data.to_vec(),
                    });
                }
            }
            Ok(None) => {
                assert!(matches!(tf.next_batch(max), Ok(None)), "None is final");
                return (got, sizes, None);
            }
            Err(e) => {
                assert!(matches!(tf.next_batch(max), Ok(None)), "an error is final");
                assert!(matches!(tf.next_batch(max), Ok(None)), "an error is final");
                return (got, sizes, Some(e));
            }
        }
    }
}

fn read_path(path: &Path, max: usize) -> (Vec<Got>, Vec<usize>, Option<Error>) {
    let mut tf = TraceFile::open(path).expect("open trace");
    read_all(&mut tf, max)
}

fn expected(recs: &[Rec], ns: bool) -> Vec<Got> {
    recs.iter()
        .map(|r| Got {
            ts: i64::from(r.sec) * 1_000_000 + i64::from(if ns { r.frac / 1000 } else { r.frac }),
            caplen: r.data.len() as u32,
            wirelen: r.orig,
            link: LinkType::Ethernet,
            data: r.data.clone(),
        })
        .collect()
}

fn open_err(bytes: &[u8]) -> Error {
    let f = temp("bad", bytes);
    match TraceFile::open(f.path()) {
        Ok(_) => panic!("opened a bad trace"),
        Err(e) => e,
    }
}

// ---------------------------------------------------------------------------------------------
// Classic pcap
// ---------------------------------------------------------------------------------------------

#[test]
fn pcap_microseconds_both_byte_orders() {
    for le in [true, false] {
        let recs = vec![
            rec(1_600_000_000, 123_456, payload(0, 60)),
            rec(1_600_000_001, 999_999, payload(1, 1)),
            Rec {
                orig: 1514,
                ..rec(1_600_000_002, 0, payload(2, 96))
            },
            rec(u32::MAX, 5, Vec::new()),
        ];
        let f = temp("us.pcap", &pcap_file(le, false, &recs));
        let (got, sizes, err) = read_path(f.path(), 1024);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(sizes, vec![4]);
        assert_eq!(got, expected(&recs, false), "le={le}");
    }
}

#[test]
fn pcap_nanoseconds_truncate_like_libpcap() {
    for le in [true, false] {
        let recs = vec![
            rec(10, 999_999_999, payload(0, 20)),
            rec(11, 1_999, payload(1, 20)),
            rec(12, 999, payload(2, 20)),
        ];
        let f = temp("ns.pcap", &pcap_file(le, true, &recs));
        let (got, _, err) = read_path(f.path(), 1024);
        assert!(err.is_none(), "{err:?}");
        let ts: Vec<i64> = got.iter().map(|g| g.ts).collect();
        assert_eq!(ts, vec![10_999_999, 11_000_001, 12_000_000]);
        assert_eq!(got, expected(&recs, true));
    }
}

#[test]
fn pcap_link_type_from_header() {
    let mut v = pcap_header(true, false, 65535, 101);
    pcap_record(&mut v, true, &rec(1, 2, payload(0, 20)));
    let f = temp("raw.pcap", &v);
    let (got, _, _) = read_path(f.path(), 8);
    assert_eq!(got.first().map(|g| g.link), Some(LinkType::RawIp));
}

#[test]
fn batches_split_at_max_packets_over_one_block() {
    let recs = many_records(10);
    let f = temp("split.pcap", &pcap_file(true, false, &recs));
    let mut tf = TraceFile::open(f.path()).expect("open");
    let mut blocks = Vec::new();
    let mut sizes = Vec::new();
    while let Some(b) = tf.next_batch(3).expect("read") {
        sizes.push(b.packets.len());
        blocks.push(Arc::clone(&b.block));
    }
    assert_eq!(sizes, vec![3, 3, 3, 1]);
    assert!(
        blocks.windows(2).all(|w| Arc::ptr_eq(&w[0], &w[1])),
        "one mapped block"
    );
    assert!(blocks.iter().all(|b| matches!(**b, Block::Mapped(_))));
    assert_eq!(tf.position(), tf.size_bytes().expect("regular file"));
    assert_eq!(tf.path(), f.path());

    // max_packets = 0 behaves as 1.
    let (got, sizes, _) = read_path(f.path(), 0);
    assert_eq!(got.len(), 10);
    assert!(sizes.iter().all(|&s| s == 1));
}

#[test]
fn caplen_above_origlen_is_accepted() {
    let recs = vec![Rec {
        orig: 10,
        ..rec(1, 1, payload(0, 40))
    }];
    let f = temp("cap-gt-orig.pcap", &pcap_file(false, false, &recs));
    let (got, _, err) = read_path(f.path(), 8);
    assert!(err.is_none());
    assert_eq!((got[0].caplen, got[0].wirelen), (40, 10));
}

#[test]
fn large_caplen_within_sane_snaplen_is_accepted() {
    let mut v = pcap_header(true, false, 1 << 20, 1);
    pcap_record(&mut v, true, &rec(1, 0, payload(0, 300_000)));
    let f = temp("big.pcap", &v);
    let (got, _, err) = read_path(f.path(), 8);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got[0].caplen, 300_000);
}

#[test]
fn absurd_caplen_after_good_packets() {
    for le in [true, false] {
        let mut v = pcap_file(le, false, &many_records(2));
        let offset = v.len() as u64;
        w32(&mut v, 3, le);
        w32(&mut v, 0, le);
        w32(&mut v, 300_000, le);
        w32(&mut v, 300_000, le);
        v.extend_from_slice(&[0; 64]);
        let f = temp("absurd.pcap", &v);
        let (got, _, err) = read_path(f.path(), 1024);
        assert_eq!(got.len(), 2);
        match err {
            Some(Error::BadRecordLength {
                offset: o,
                index,
                caplen,
                limit,
                ..
            }) => {
                assert_eq!((o, index, caplen, limit), (offset, 3, 300_000, 262_144));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn truncated_last_record_delivers_the_rest_first() {
    let recs = many_records(5);
    let full = pcap_file(true, false, &recs);
    // Cut inside the data of the last record, and inside its header.
    let last_len = 16 + recs[4].data.len();
    let last_start = full.len() - last_len;
    for cut in [full.len() - 1, last_start + 16, last_start + 7] {
        let f = temp("trunc.pcap", &full[..cut]);
        let mut tf = TraceFile::open(f.path()).expect("open");
        let b = tf.next_batch(1024).expect("packets first").expect("some");
        assert_eq!(b.packets.len(), 4);
        let err = tf.next_batch(1024).err().expect("then the error");
        match &err {
            Error::Truncated {
                offset,
                index,
                needed,
                avail,
                what,
                ..
            } => {
                assert_eq!(*offset, last_start as u64);
                assert_eq!(*index, 5);
                assert_eq!(*avail, (cut - last_start) as u64);
                if cut - last_start < 16 {
                    assert_eq!((*what, *needed), ("record header", 16));
                } else {
                    assert_eq!((*what, *needed), ("record", last_len as u64));
                }
            }
            other => panic!("unexpected {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.contains(&format!("truncated {}", "record")), "{msg}");
        assert!(msg.contains(&format!("at byte {last_start}")), "{msg}");
        assert!(!msg.contains('\n'));
        assert!(tf.next_batch(1024).expect("no more").is_none());
    }
    // A trace cut right after its header holds no packets and no error.
    let f = temp("hdr-only.pcap", &full[..24]);
    let (got, _, err) = read_path(f.path(), 8);
    assert!(got.is_empty() && err.is_none());
}

#[test]
fn truncated_first_record_is_an_error_right_away() {
    let full = pcap_file(true, false, &many_records(1));
    let f = temp("trunc1.pcap", &full[..full.len() - 1]);
    let (got, _, err) = read_path(f.path(), 8);
    assert!(got.is_empty());
    assert!(matches!(
        err,
        Some(Error::Truncated {
            index: 1,
            offset: 24,
            ..
        })
    ));
}

// ---------------------------------------------------------------------------------------------
// Open-time failures
// ---------------------------------------------------------------------------------------------

#[test]
fn empty_file() {
    assert!(matches!(open_err(&[]), Error::Empty { .. }));
    assert!(matches!(
        open_err(&gzip(&[], Compression::default())),
        Error::Empty { .. }
    ));
}

#[test]
fn not_a_trace() {
    match open_err(b"GET / HTTP/1.1\r\n") {
        Error::NotATrace { magic, path } => {
            assert_eq!(magic, b"GET ".to_vec());
            let e = Error::NotATrace { magic, path };
            assert!(e.to_string().contains("47 45 54 20"), "{e}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(open_err(b"x"), Error::NotATrace { .. }));
    assert!(matches!(
        open_err(&gzip(b"hello, world", Compression::default())),
        Error::NotATrace { .. }
    ));
}

#[test]
fn truncated_headers() {
    let h = pcap_header(true, false, 65535, 1);
    for cut in [2, 4, 10, 23] {
        assert!(
            matches!(
                open_err(&h[..cut]),
                Error::TruncatedHeader { needed: 24, .. }
            ),
            "cut at {cut}"
        );
    }
    let s = shb(false);
    for cut in [3, 4, 11, 12, s.len() - 1] {
        assert!(
            matches!(open_err(&s[..cut]), Error::TruncatedHeader { .. }),
            "cut at {cut}"
        );
    }
    assert!(matches!(
        open_err(&gzip(&h[..10], Compression::default())),
        Error::TruncatedHeader { .. }
    ));
}

#[test]
fn unsupported_versions() {
    let mut h = pcap_header(true, false, 65535, 1);
    h[4] = 1;
    assert!(matches!(
        open_err(&h),
        Error::UnsupportedVersion {
            format: "pcap",
            major: 1,
            ..
        }
    ));
    let mut s = shb(true);
    s[12] = 2;
    assert!(matches!(
        open_err(&s),
        Error::UnsupportedVersion {
            format: "pcapng",
            major: 2,
            ..
        }
    ));
}

#[test]
fn missing_file_is_io_error() {
    let e = TraceFile::open(Path::new("/nonexistent/tstat-trace-test.pcap")).err();
    assert!(matches!(e, Some(Error::Io { .. })));
}

// ---------------------------------------------------------------------------------------------
// pcapng
// ---------------------------------------------------------------------------------------------

#[test]
fn pcapng_resolutions_and_offset_both_byte_orders() {
    for le in [true, false] {
        let mut v = shb(le);
        v.extend(idb(le, 1, 65535, &[])); // 0: default µs
        v.extend(idb(le, 1, 65535, &[(9, vec![9])])); // 1: ns
        v.extend(idb(le, 1, 65535, &[(9, vec![0x80 | 20])])); // 2: 2^-20 s
        v.extend(idb(
            le,
            1,
            65535,
            &[(14, {
                let mut o = Vec::new();
                w64(&mut o, 100, le);
                o
            })],
        )); // 3: µs, +100 s
        v.extend(idb(
            le,
            1,
            65535,
            &[
                (2, b"eth0".to_vec()),
                (9, vec![3]),
                (14, {
                    let mut o = Vec::new();
                    w64(&mut o, (-5i64) as u64, le);
                    o
                }),
            ],
        )); // 4: ms, -5 s, after a name option
        v.extend(epb(le, 0, 1_600_000_000_123_456, &payload(0, 33), 33));
        v.extend(epb(le, 1, 1_600_000_000_123_456_789, &payload(1, 34), 100));
        v.extend(epb(le, 2, (7 << 20) + (1 << 19) + 1, &payload(2, 35), 35));
        v.extend(epb(le, 3, 42, &payload(3, 0), 0));
        v.extend(epb(le, 4, 10_500, &payload(4, 4), 4));
        let f = temp("res.pcapng", &v);
        let (got, _, err) = read_path(f.path(), 1024);
        assert!(err.is_none(), "{err:?}");
        let ts: Vec<i64> = got.iter().map(|g| g.ts).collect();
        assert_eq!(
            ts,
            vec![
                1_600_000_000_123_456,
                1_600_000_000_123_456,
                7_500_000,
                100_000_042,
                5_500_000
            ],
            "le={le}"
        );
        assert_eq!(got[1].wirelen, 100);
        assert_eq!(got[1].data, payload(1, 34));
        assert_eq!(got[2].data, payload(2, 35));
    }
}

#[test]
fn pcapng_interfaces_with_different_link_types() {
    let le = true;
    let mut v = shb(le);
    v.extend(idb(le, 1, 0, &[]));
    v.extend(idb(le, 101, 0, &[]));
    v.extend(idb(le, 113, 0, &[]));
    v.extend(epb(le, 2, 1, &payload(0, 20), 20));
    v.extend(epb(le, 0, 2, &payload(1, 20), 20));
    v.extend(epb(le, 1, 3, &payload(2, 20), 20));
    let f = temp("links.pcapng", &v);
    let (got, _, err) = read_path(f.path(), 1024);
    assert!(err.is_none());
    let links: Vec<LinkType> = got.iter().map(|g| g.link).collect();
    assert_eq!(
        links,
        vec![LinkType::LinuxSll, LinkType::Ethernet, LinkType::RawIp]
    );
}

#[test]
fn pcapng_simple_and_obsolete_packet_blocks() {
    for le in [true, false] {
        let mut v = shb(le);
        v.extend(idb(le, 1, 50, &[]));
        v.extend(epb(le, 0, 5_000_000, &payload(0, 40), 40));
        // SPB: 80 bytes on the wire, snaplen 50 -> 50 captured, previous timestamp.
        v.extend(spb(le, 80, &payload(1, 50)));
        // SPB shorter than snaplen.
        v.extend(spb(le, 10, &payload(2, 10)));
        v.extend(pb(le, 0, 6_000_000, &payload(3, 30), 60));
        let f = temp("spb.pcapng", &v);
        let (got, _, err) = read_path(f.path(), 1024);
        assert!(err.is_none(), "{err:?}");
        let summary: Vec<(i64, u32, u32)> =
            got.iter().map(|g| (g.ts, g.caplen, g.wirelen)).collect();
        assert_eq!(
            summary,
            vec![
                (5_000_000, 40, 40),
                (5_000_000, 50, 80),
                (5_000_000, 10, 10),
                (6_000_000, 30, 60)
            ]
        );
        assert_eq!(got[1].data, payload(1, 50));
        assert_eq!(got[3].data, payload(3, 30));
    }
}

#[test]
fn pcapng_skips_other_blocks() {
    let le = true;
    let mut v = shb(le);
    v.extend(block(le, 4, &[0; 8])); // NRB
    v.extend(idb(le, 1, 0, &[]));
    v.extend(epb(le, 0, 1, &payload(0, 10), 10));
    v.extend(block(le, 5, &[1; 20])); // ISB
    v.extend(block(le, 0xbad, &[7; 13])); // custom
    v.extend(block(le, 0x0a, &[1; 4])); // DSB
    v.extend(block(le, 0x7777, &[])); // unknown, empty body
    v.extend(epb(le, 0, 2, &payload(1, 10), 10));
    let f = temp("skip.pcapng", &v);
    let (got, _, err) = read_path(f.path(), 1024);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].data, payload(1, 10));
}

#[test]
fn pcapng_new_section_resets_interfaces() {
    let mut v = shb(true);
    v.extend(idb(true, 1, 0, &[]));
    v.extend(idb(true, 101, 0, &[]));
    v.extend(epb(true, 1, 1, &payload(0, 10), 10));
    v.extend(shb(false));
    v.extend(idb(false, 113, 0, &[(9, vec![9])]));
    v.extend(epb(false, 0, 2_000, &payload(1, 10), 10));
    let good = v.len() as u64;
    v.extend(epb(false, 1, 3, &payload(2, 10), 10));
    let f = temp("sections.pcapng", &v);
    let (got, _, err) = read_path(f.path(), 1024);
    assert_eq!(got.len(), 2);
    assert_eq!(
        (got[0].link, got[1].link),
        (LinkType::RawIp, LinkType::LinuxSll)
    );
    assert_eq!(got[1].ts, 2);
    match err {
        Some(Error::BadBlock {
            offset,
            index,
            block_type,
            reason,
            ..
        }) => {
            assert_eq!((offset, index, block_type), (good, 3, 6));
            assert!(reason.contains("interface 1"), "{reason}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn pcapng_bad_block_lengths() {
    let le = true;
    let mut head = shb(le);
    head.extend(idb(le, 1, 0, &[]));
    head.extend(epb(le, 0, 1, &payload(0, 10), 10));
    let at = head.len() as u64;
    let good = epb(le, 0, 2, &payload(1, 12), 12);

    let mut not_mult4 = good.clone();
    not_mult4[4] = not_mult4[4].wrapping_add(1);
    let mut too_small = good.clone();
    too_small[4..8].copy_from_slice(&8u32.to_le_bytes());
    let mut trailer = good.clone();
    let n = trailer.len();
    trailer[n - 4] ^= 0x40;
    let mut huge = good.clone();
    huge[4..8].copy_from_slice(&0x4000_0000u32.to_le_bytes());
    let mut caplen_past_block = good.clone();
    caplen_past_block[20..24].copy_from_slice(&100u32.to_le_bytes());

    for (name, bad) in [
        ("not a multiple of 4", not_mult4),
        ("smaller than 12", too_small),
        ("trailer mismatch", trailer),
        ("huge", huge),
        ("caplen past block", caplen_past_block),
    ] {
        let mut v = head.clone();
        v.extend(bad);
        v.extend(good.iter());
        let f = temp("badblock.pcapng", &v);
        let (got, _, err) = read_path(f.path(), 1024);
        assert_eq!(got.len(), 1, "{name}");
        match err {
            Some(Error::BadBlock { offset, index, .. }) => {
                assert_eq!((offset, index), (at, 2), "{name}");
            }
            other => panic!("{name}: unexpected {other:?}"),
        }
    }

    // A bad SHB length is an open-time error.
    let mut s = shb(le);
    s[4] = 27;
    assert!(matches!(open_err(&s), Error::BadBlock { .. }));
    let mut s = shb(le);
    s[8] = 0;
    assert!(matches!(open_err(&s), Error::BadBlock { .. }));
}

#[test]
fn pcapng_truncated_block() {
    let le = false;
    let mut v = shb(le);
    v.extend(idb(le, 1, 0, &[]));
    v.extend(epb(le, 0, 1, &payload(0, 10), 10));
    let at = v.len();
    v.extend(epb(le, 0, 2, &payload(1, 100), 100));
    let f = temp("trunc.pcapng", &v[..v.len() - 3]);
    let (got, _, err) = read_path(f.path(), 1024);
    assert_eq!(got.len(), 1);
    assert!(
        matches!(err, Some(Error::Truncated { offset, index: 2, what: "block", .. }) if offset == at as u64),
        "{err:?}"
    );
}

#[test]
fn pcapng_absurd_caplen() {
    let le = true;
    let mut v = shb(le);
    v.extend(idb(le, 1, 65535, &[]));
    v.extend(epb(le, 0, 1, &payload(0, 300_000), 300_000));
    let f = temp("absurd.pcapng", &v);
    let (got, _, err) = read_path(f.path(), 1024);
    assert!(got.is_empty());
    assert!(matches!(
        err,
        Some(Error::BadRecordLength {
            caplen: 300_000,
            index: 1,
            ..
        })
    ));
}

// ---------------------------------------------------------------------------------------------
// Gzip and streamed input
// ---------------------------------------------------------------------------------------------

#[test]
fn gzip_is_read_transparently() {
    let recs = many_records(50);
    let raw = pcap_file(false, true, &recs);
    let f = temp("trace.bin", &gzip(&raw, Compression::default()));
    let mut tf = TraceFile::open(f.path()).expect("open gzip");
    assert!(tf.position() <= tf.size_bytes().expect("regular file"));
    let (got, _, err) = read_all(&mut tf, 16);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got, expected(&recs, true));
    assert_eq!(tf.position(), tf.size_bytes().expect("regular file"));
}

#[test]
fn gzip_multiple_members() {
    let recs = many_records(20);
    let raw = pcap_file(true, false, &recs);
    let mut gz = gzip(&raw[..500], Compression::fast());
    gz.extend(gzip(&raw[500..], Compression::best()));
    let f = temp("multi.gz", &gz);
    let (got, _, err) = read_path(f.path(), 1024);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got, expected(&recs, false));
}

/// Reads `raw` mapped, then gzipped and streamed with many chunk sizes: same packets.
fn check_chunking(raw: &[u8], what: &str) {
    let plain = temp("chunk-plain", raw);
    let (want, _, want_err) = read_path(plain.path(), 64);
    assert!(want_err.is_none(), "{what}: {want_err:?}");
    let gz = temp("chunk.gz", &gzip(raw, Compression::default()));
    for chunk in [1, 3, 7, 13, 64, 100, 333, 4096, 1 << 20] {
        for max in [1, 5, 1024] {
            let mut tf = TraceFile::open_with_chunk_size(gz.path(), chunk).expect("open gz");
            let (got, _, err) = read_all(&mut tf, max);
            assert!(err.is_none(), "{what} chunk {chunk}: {err:?}");
            assert_eq!(got, want, "{what} gzip chunk {chunk} max {max}");
            let mut tf = TraceFile::open_inner(plain.path(), chunk, false).expect("open plain");
            let (got, _, err) = read_all(&mut tf, max);
            assert!(err.is_none(), "{what} chunk {chunk}: {err:?}");
            assert_eq!(got, want, "{what} streamed chunk {chunk} max {max}");
            assert_eq!(tf.position(), raw.len() as u64);
        }
    }
}

#[test]
fn gzip_chunk_boundaries_pcap() {
    check_chunking(&pcap_file(true, false, &many_records(60)), "pcap");
}

#[test]
fn gzip_chunk_boundaries_pcapng() {
    let le = false;
    let mut v = shb(le);
    v.extend(idb(le, 1, 0, &[(9, vec![9])]));
    v.extend(idb(le, 101, 128, &[]));
    for i in 0..40 {
        v.extend(epb(
            le,
            (i % 2) as u32,
            i as u64 * 1_000_003,
            &payload(i, i * 13 % 200),
            300,
        ));
        if i % 7 == 0 {
            v.extend(block(le, 0xbad, &payload(i, i * 5)));
        }
        if i == 20 {
            v.extend(shb(!le));
            v.extend(idb(!le, 113, 0, &[]));
            break;
        }
    }
    for i in 0..10 {
        v.extend(epb(!le, 0, i, &payload(i as usize, 50), 50));
    }
    check_chunking(&v, "pcapng");
}

#[test]
fn streamed_blocks_are_owned_and_reused_safely() {
    let recs = many_records(30);
    let raw = pcap_file(true, false, &recs);
    let f = temp("owned.gz", &gzip(&raw, Compression::default()));
    let mut tf = TraceFile::open_with_chunk_size(f.path(), 256).expect("open");
    // Hold every batch: blocks must stay valid although the reader moved on.
    let mut held = Vec::new();
    while let Some(b) = tf.next_batch(4).expect("read") {
        assert!(matches!(*b.block, Block::Owned(_)));
        held.push(b);
    }
    let got: Vec<Vec<u8>> = held
        .iter()
        .flat_map(|b| b.packets.iter().map(|p| b.data(p).to_vec()))
        .collect();
    let want: Vec<Vec<u8>> = recs.iter().map(|r| r.data.clone()).collect();
    assert_eq!(got, want);
}

#[test]
fn gzip_bad_crc_after_all_packets() {
    let recs = many_records(10);
    let mut gz = gzip(&pcap_file(true, false, &recs), Compression::default());
    let n = gz.len();
    gz[n - 8] ^= 0xff; // CRC32 in the trailer
    let f = temp("crc.gz", &gz);
    let (got, _, err) = read_path(f.path(), 1024);
    assert_eq!(got.len(), 10);
    match err {
        Some(e @ Error::Gzip { .. }) => assert!(e.to_string().contains("gzip"), "{e}"),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn gzip_cut_short_or_corrupt() {
    let recs = many_records(200);
    let raw = pcap_file(true, false, &recs);
    let gz = gzip(&raw, Compression::none());
    // Cut in the middle: the packets decoded so far, then the gzip error (flate2 reports the early end).
    let f = temp("cut.gz", &gz[..gz.len() / 2]);
    let (got, _, err) = read_path(f.path(), 1024);
    assert!(!got.is_empty() && got.len() < recs.len());
    assert_eq!(got, expected(&recs[..got.len()], false));
    assert!(matches!(err, Some(Error::Gzip { .. })), "{err:?}");
    // Corrupt the deflate stream: never a panic, always an error or fewer packets.
    let mut x: u32 = 0x9e37_79b9;
    for _ in 0..40 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let mut bad = gzip(&raw, Compression::default());
        let at = 10 + (x as usize) % (bad.len() - 18);
        bad[at] ^= 1 << (x % 8);
        let f = temp("corrupt.gz", &bad);
        if let Ok(mut tf) = TraceFile::open_with_chunk_size(f.path(), 1000) {
            let _ = read_all(&mut tf, 7);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Robustness
// ---------------------------------------------------------------------------------------------

#[test]
fn mutated_traces_never_panic() {
    let mut ng = shb(true);
    ng.extend(idb(true, 1, 64, &[(9, vec![6])]));
    for i in 0..8 {
        ng.extend(epb(true, 0, i, &payload(i as usize, 30), 30));
        ng.extend(spb(true, 70, &payload(i as usize, 64)));
    }
    let bases = [pcap_file(false, true, &many_records(12)), ng];
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for base in &bases {
        for round in 0..150 {
            let mut v = base.clone();
            for _ in 0..(1 + next() % 4) {
                let at = (next() as usize) % v.len();
                v[at] = next() as u8;
            }
            if round % 3 == 0 {
                v.truncate((next() as usize) % (v.len() + 1));
            }
            let f = temp("fuzz", &v);
            if let Ok(mut tf) = TraceFile::open(f.path()) {
                let _ = read_all(&mut tf, 3);
            }
            if let Ok(mut tf) = TraceFile::open_inner(f.path(), 17, false) {
                let _ = read_all(&mut tf, 3);
            }
        }
    }
}

#[test]
fn error_messages_are_one_line_with_path() {
    let f = temp("msg.pcap", &pcap_file(true, false, &many_records(3))[..100]);
    let (_, _, err) = read_path(f.path(), 8);
    let msg = err.expect("truncated").to_string();
    assert!(msg.starts_with(&f.path().display().to_string()), "{msg}");
    assert!(!msg.contains('\n'));
    let rest = msg.trim_start_matches(&f.path().display().to_string());
    assert_eq!(rest, rest.to_lowercase(), "lowercase");
}

// ---------------------------------------------------------------------------------------------
// A real trace
// ---------------------------------------------------------------------------------------------

/// Counts packet records by walking the headers by hand, independently of the reader.
fn count_by_hand(bytes: &[u8]) -> usize {
    let magic = u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes"));
    if magic == 0x0a0d_0d0a {
        let mut le = true;
        let (mut off, mut n) = (0, 0);
        while off + 12 <= bytes.len() {
            let btype_raw = &bytes[off..off + 4];
            if btype_raw == [0x0a, 0x0d, 0x0d, 0x0a] {
                le = bytes[off + 8..off + 12] == [0x4d, 0x3c, 0x2b, 0x1a];
            }
            let rd = |o: usize| {
                let a: [u8; 4] = bytes[o..o + 4].try_into().expect("4 bytes");
                if le {
                    u32::from_le_bytes(a)
                } else {
                    u32::from_be_bytes(a)
                }
            };
            if matches!(rd(off), 2 | 3 | 6) {
                n += 1;
            }
            off += rd(off + 4) as usize;
        }
        return n;
    }
    let le = matches!(magic, 0xa1b2_c3d4 | 0xa1b2_3c4d);
    let (mut off, mut n) = (24, 0);
    while off + 16 <= bytes.len() {
        let a: [u8; 4] = bytes[off + 8..off + 12].try_into().expect("4 bytes");
        let caplen = if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        };
        off += 16 + caplen as usize;
        if off <= bytes.len() {
            n += 1;
        }
    }
    n
}

#[test]
fn real_trace_packet_count() {
    let path = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/conformance/traces/zeek__http-vlan-0.pcap"
    ));
    let Ok(bytes) = std::fs::read(path) else {
        eprintln!("skipping: {} not present", path.display());
        return;
    };
    let want = count_by_hand(&bytes);
    assert!(want > 0);
    let (got, sizes, err) = read_path(path, 256);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got.len(), want);
    assert!(sizes.iter().all(|&s| s <= 256));
    assert!(got.windows(2).all(|w| w[0].ts <= w[1].ts), "capture order");

    // The same through gzip with small chunks.
    let gz = temp("real.pcap.gz", &gzip(&bytes, Compression::fast()));
    let mut tf = TraceFile::open_with_chunk_size(gz.path(), 1000).expect("open gz");
    let (got_gz, _, err) = read_all(&mut tf, 256);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got_gz, got);
}
