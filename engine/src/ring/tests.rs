//! Unit tests of the file-backed ring: framing at the capacity boundaries, drops, the
//! read/release split, re-attaching, and every header or frame corruption `attach` and `read`
//! must refuse.

use std::fs::OpenOptions;
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::layout::{frame_len, off};
use super::*;

const LAYOUT: u64 = 0x5453_5452_494e_4731;

/// A scratch directory removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("tstat-ring-unit-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        Dir(d)
    }

    fn ring(&self) -> PathBuf {
        self.0.join("ring")
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn record(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|k| (i * 131 + k * 7) as u8).collect()
}

/// Reads everything published from `tail`, releases it, returns the payloads.
fn drain(c: &mut Consumer) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let pos = c
        .read(c.tail(), usize::MAX, |_, b| out.push(b.to_vec()))
        .unwrap();
    c.release(pos).unwrap();
    out
}

fn patch(path: &Path, offset: u64, bytes: &[u8]) {
    let f = OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(bytes, offset).unwrap();
}

fn data_offset(pos: u64, capacity: u64) -> u64 {
    HEADER_SIZE as u64 + pos % capacity
}

#[test]
fn push_read_release_round_trip() {
    let dir = Dir::new("round_trip");
    let mut p = RingFile::create(dir.ring(), 1024, 100, LAYOUT).unwrap();
    let mut c = RingFile::attach(dir.ring(), LAYOUT).unwrap();
    assert_eq!((c.head(), c.tail()), (0, 0));
    assert!(p.push(b"hello"));
    assert!(p.push(b""));
    assert!(p.push(&record(1, 100)));
    assert_eq!(p.head(), frame_len(5) + frame_len(0) + frame_len(100));
    assert_eq!(p.used_bytes(), p.head());
    let mut seen = Vec::new();
    let end = c
        .read(0, 10, |pos, b| seen.push((pos, b.to_vec())))
        .unwrap();
    assert_eq!(end, p.head());
    assert_eq!(
        seen,
        vec![
            (16, b"hello".to_vec()),
            (24, Vec::new()),
            (24 + frame_len(100), record(1, 100))
        ]
    );
    c.release(end).unwrap();
    assert_eq!(p.used_bytes(), 0);
    assert_eq!(
        (c.capacity(), c.max_record(), c.layout()),
        (1024, 100, LAYOUT)
    );
    assert_eq!(c.producer_pid(), std::process::id());
    assert_eq!(c.instance(), p.instance());
    let mode = fs::metadata(dir.ring()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, FILE_MODE);
    assert_eq!(
        fs::metadata(dir.ring()).unwrap().len(),
        HEADER_SIZE as u64 + 1024
    );
}

#[test]
fn try_push_publishes_the_length_written() {
    let dir = Dir::new("actual_len");
    let mut p = RingFile::create(dir.ring(), 1024, 400, LAYOUT).unwrap();
    let mut c = RingFile::attach(dir.ring(), LAYOUT).unwrap();
    assert!(p.try_push(400, |b| {
        assert_eq!(b.len(), 400);
        b[..3].copy_from_slice(b"abc");
        3
    }));
    assert_eq!(p.head(), 8);
    assert_eq!(drain(&mut c), vec![b"abc".to_vec()]);
}

#[test]
#[should_panic(expected = "more than the 4 reserved")]
fn a_writer_claiming_more_than_reserved_panics() {
    let dir = Dir::new("overclaim");
    let mut p = RingFile::create(dir.ring(), 1024, 100, LAYOUT).unwrap();
    p.try_push(4, |_| 5);
}

#[test]
fn wrap_around_with_varying_sizes() {
    let dir = Dir::new("wrap");
    let cap = 512;
    let mut p = RingFile::create(dir.ring(), cap, 120, LAYOUT).unwrap();
    let mut c = RingFile::attach(dir.ring(), LAYOUT).unwrap();
    let (mut pushed, mut got) = (0usize, 0usize);
    let mut pads = 0;
    // Sizes cycle through every residue mod 8 and up to the max, so frames end at every offset.
    for round in 0..2000 {
        let len = (round * 37) % 121;
        let before = p.head();
        if p.push(&record(pushed, len)) {
            if p.head() - before > frame_len(len) {
                pads += 1;
            }
            pushed += 1;
        }
        // Drain now and then, in batches of various sizes, more slowly than records come (2.5
        // per 4 rounds), so the ring is often full.
        if round % 4 == 3 {
            let from = c.tail();
            let end = c
                .read(from, 1 + (round / 4) % 4, |_, b| {
                    assert_eq!(b, record(got, b.len()));
                    got += 1;
                })
                .unwrap();
            c.release(end).unwrap();
        }
    }
    while got < pushed {
        for b in drain(&mut c) {
            assert_eq!(b, record(got, b.len()));
            got += 1;
        }
    }
    assert_eq!(got, pushed);
    assert_eq!(pushed as u64 + p.drops(), 2000);
    assert!(p.head() > 20 * cap, "wrapped many times");
    assert!(pads > 10, "padding markers were exercised ({pads})");
    assert!(p.drops() > 0, "the ring was full at times");
}

#[test]
fn full_ring_drops_and_counts() {
    let dir = Dir::new("full");
    let mut p = RingFile::create(dir.ring(), 256, 60, LAYOUT).unwrap();
    let mut c = RingFile::attach(dir.ring(), LAYOUT).unwrap();
    // Four 60-byte records take 4 * 64 = 256 bytes: exactly full.
    for i in 0..4 {
        assert!(p.push(&record(i, 60)));
    }
    assert_eq!(p.used_bytes(), 256);
    assert!(!p.has_room(0));
    assert!(!p.push(b""));
    assert!(!p.try_push(50, |_| unreachable!("not called when full")));
    assert_eq!((p.drops(), p.drop_bytes()), (2, 50));
    assert_eq!((c.drops(), c.drop_bytes()), (2, 50));
    // Release one record: exactly one more fits.
    let end = c.read(0, 1, |_, _| {}).unwrap();
    c.release(end).unwrap();
    assert!(p.has_room(60));
    assert!(p.push(&record(4, 60)));
    assert!(!p.push(b"x"));
    assert_eq!(p.drops(), 3);
    let got = drain(&mut c);
    assert_eq!(got, (1..5).map(|i| record(i, 60)).collect::<Vec<_>>());
    // An oversize record is refused and counted whatever the room.
    assert!(!p.push(&[0; 61]));
    assert_eq!((p.drops(), p.drop_bytes()), (4, 50 + 1 + 61));
}

#[test]
fn exact_capacity_boundaries() {
    let dir = Dir::new("boundaries");
    let cap = 64;
    // The largest max record for 64 bytes: frame(28) = 32 = half the capacity.
    let mut p = RingFile::create(dir.ring(), cap, 28, LAYOUT).unwrap();
    let mut c = RingFile::attach(dir.ring(), LAYOUT).unwrap();
    assert!(p.push(&record(0, 28)) && p.push(&record(1, 28)));
    assert_eq!(p.head(), 64);
    assert!(!p.push(b""), "exactly full");
    assert_eq!(drain(&mut c).len(), 2);
    // 24 + 32 + 8 bytes: the last frame ends exactly at the end of the data area, no padding.
    assert!(p.push(&record(2, 20)) && p.push(&record(3, 28)) && p.push(&record(4, 4)));
    assert_eq!(p.head(), 128);
    assert!(!p.push(b""));
    assert_eq!(
        drain(&mut c),
        vec![record(2, 20), record(3, 28), record(4, 4)]
    );
    // Offset 0 again: 16 + 32 bytes, then a 24-byte frame does not fit the 16 left before the
    // end: it needs 16 (padding) + 24, more than the 16 free, so it is dropped...
    assert!(p.push(&record(5, 12)) && p.push(&record(6, 28)));
    assert_eq!(p.head(), 176);
    assert!(!p.push(&record(7, 20)));
    assert_eq!(p.drops(), 3);
    assert_eq!(drain(&mut c), vec![record(5, 12), record(6, 28)]);
    // ...and accepted once they are released: padding marker at offset 48, frame at 0.
    assert!(p.push(&record(7, 20)));
    assert_eq!(p.head(), 176 + 16 + 24);
    let mut ends = Vec::new();
    let end = c
        .read(c.tail(), 10, |pos, b| ends.push((pos, b.to_vec())))
        .unwrap();
    assert_eq!(ends, vec![(216, record(7, 20))]);
    assert_eq!(end, 216);
    c.release(end).unwrap();
    assert_eq!(p.used_bytes(), 0);
}

#[test]
fn create_refuses_impossible_geometry() {
    let dir = Dir::new("spec");
    for (cap, max) in [(100, 8), (32, 4), (64, 29), (1 << 20, 1 << 19)] {
        match RingFile::create(dir.ring(), cap, max, LAYOUT) {
            Err(RingError::InvalidSpec { .. }) => {}
            other => panic!("{cap}/{max}: {other:?}"),
        }
    }
    assert!(!dir.ring().exists());
    assert_eq!(
        fs::read_dir(&dir.0).unwrap().count(),
        0,
        "no temporary left"
    );
}

#[test]
fn read_without_release_then_release() {
    let dir = Dir::new("split");
    let mut p = RingFile::create(dir.ring(), 1024, 100, LAYOUT).unwrap();
    let mut c = RingFile::attach(dir.ring(), LAYOUT).unwrap();
    for i in 0..10 {
        assert!(p.push(&record(i, 30 + i)));
    }
    let mut got = Vec::new();
    let mid = c.read(0, 4, |_, b| got.push(b.to_vec())).unwrap();
    assert_eq!(c.tail(), 0, "read does not release");
    // Reading again from the same place gives the same records.
    let mut again = Vec::new();
    assert_eq!(c.read(0, 4, |_, b| again.push(b.to_vec())).unwrap(), mid);
    assert_eq!(got, again);
    // Continue from `mid` without releasing anything.
    let end = c
        .read(mid, usize::MAX, |_, b| got.push(b.to_vec()))
        .unwrap();
    assert_eq!(end, p.head());
    assert_eq!(got, (0..10).map(|i| record(i, 30 + i)).collect::<Vec<_>>());
    assert_eq!(c.read(end, 5, |_, _| panic!("nothing more")).unwrap(), end);
    assert_eq!(c.read(mid, 0, |_, _| panic!("zero records")).unwrap(), mid);
    // Out-of-range positions are errors.
    assert!(matches!(
        c.read(end + 8, 1, |_, _| {}),
        Err(RingError::OutOfRange { .. })
    ));
    assert!(matches!(
        c.read(mid + 4, 1, |_, _| {}),
        Err(RingError::OutOfRange { .. })
    ));
    assert!(matches!(
        c.release(end + 8),
        Err(RingError::OutOfRange { .. })
    ));
    c.release(mid).unwrap();
    assert_eq!(c.tail(), mid);
    assert!(matches!(
        c.read(0, 1, |_, _| {}),
        Err(RingError::OutOfRange { .. })
    ));
    assert!(matches!(c.release(0), Err(RingError::OutOfRange { .. })));
    assert_eq!(p.used_bytes(), end - mid);
}

#[test]
fn reattached_consumer_continues_at_tail_or_checkpoint() {
    let dir = Dir::new("reattach");
    let mut p = RingFile::create(dir.ring(), 4096, 200, LAYOUT).unwrap();
    for i in 0..20 {
        assert!(p.push(&record(i, 100 + i)));
    }
    let mut got = Vec::new();
    let checkpoint;
    {
        let mut c = RingFile::attach(dir.ring(), LAYOUT).unwrap();
        // A second consumer is refused while the first is attached.
        assert!(matches!(
            RingFile::attach(dir.ring(), LAYOUT),
            Err(RingError::Busy { .. })
        ));
        let released = c.read(0, 5, |_, b| got.push(b.to_vec())).unwrap();
        c.release(released).unwrap();
        // Five more are read and "checkpointed" but not released before the consumer dies.
        checkpoint = c.read(released, 5, |_, b| got.push(b.to_vec())).unwrap();
    }
    {
        // Re-attach without a checkpoint: resume at tail, records 5..10 come again.
        let mut c = RingFile::attach(dir.ring(), LAYOUT).unwrap();
        let mut again = Vec::new();
        c.read(c.tail(), 5, |_, b| again.push(b.to_vec())).unwrap();
        assert_eq!(again, got[5..10]);
    }
    // Re-attach with the checkpoint: resume there, exactly once.
    let mut c = RingFile::attach(dir.ring(), LAYOUT).unwrap();
    assert!(c.tail() < checkpoint);
    let end = c
        .read(checkpoint, usize::MAX, |_, b| got.push(b.to_vec()))
        .unwrap();
    c.release(end).unwrap();
    assert_eq!(got, (0..20).map(|i| record(i, 100 + i)).collect::<Vec<_>>());
    // The producer sees the space and carries on; the consumer sees close and stats.
    p.stats()[3].store(77, Ordering::Relaxed);
    assert!(p.push(b"last"));
    assert!(!c.is_closed());
    p.close();
    assert!(c.is_closed());
    assert_eq!(c.stat(3), 77);
    assert_eq!(c.stats()[3], 77);
    assert_eq!(c.stat(STATS_SLOTS), 0);
    // The consumer can talk back through a slot; out-of-range slots are ignored.
    c.set_stat(10, 5);
    c.set_stat(STATS_SLOTS, 5);
    assert_eq!(c.stat(10), 5);
    assert_eq!(drain(&mut c), vec![b"last".to_vec()]);
}

#[test]
fn create_replaces_a_ring_and_old_consumers_keep_their_mapping() {
    let dir = Dir::new("replace");
    let mut p1 = RingFile::create(dir.ring(), 1024, 100, LAYOUT).unwrap();
    assert!(p1.push(b"old"));
    let mut c1 = RingFile::attach(dir.ring(), LAYOUT).unwrap();
    let p2 = RingFile::create(dir.ring(), 2048, 100, LAYOUT).unwrap();
    assert_ne!(p1.instance(), p2.instance());
    // The old consumer still reads the old ring.
    assert_eq!(drain(&mut c1), vec![b"old".to_vec()]);
    // A new attach finds the new ring, empty.
    drop(c1);
    let c2 = RingFile::attach(dir.ring(), LAYOUT).unwrap();
    assert_eq!(
        (c2.capacity(), c2.head(), c2.instance()),
        (2048, 0, p2.instance())
    );
}

/// Creates a ring, pushes two records, closes the producer; returns the path.
fn closed_ring(dir: &Dir) -> PathBuf {
    let mut p = RingFile::create(dir.ring(), 256, 60, LAYOUT).unwrap();
    assert!(p.push(&record(0, 20)) && p.push(&record(1, 20)));
    p.close();
    dir.ring()
}

#[test]
fn attach_refuses_a_missing_or_short_file() {
    let dir = Dir::new("missing");
    match RingFile::attach(dir.ring(), LAYOUT) {
        Err(e @ RingError::Missing { .. }) => assert!(e.to_string().contains("ring")),
        other => panic!("{other:?}"),
    }
    fs::write(dir.ring(), [0u8; 100]).unwrap();
    assert!(matches!(
        RingFile::attach(dir.ring(), LAYOUT),
        Err(RingError::Short { len: 100, .. })
    ));
    fs::write(dir.ring(), []).unwrap();
    assert!(matches!(
        RingFile::attach(dir.ring(), LAYOUT),
        Err(RingError::Short { len: 0, .. })
    ));
}

#[test]
fn attach_refuses_bad_magic_version_and_layout() {
    let dir = Dir::new("ident");
    let path = closed_ring(&dir);
    patch(&path, off::MAGIC as u64, b"TSTRINH\0");
    assert!(matches!(
        RingFile::attach(&path, LAYOUT),
        Err(RingError::BadMagic { found, .. }) if &found == b"TSTRINH\0"
    ));
    let path = closed_ring(&dir);
    patch(&path, off::VERSION as u64, &2u32.to_ne_bytes());
    assert!(matches!(
        RingFile::attach(&path, LAYOUT),
        Err(RingError::Version {
            found: 2,
            expected: FORMAT_VERSION,
            ..
        })
    ));
    let path = closed_ring(&dir);
    let err = RingFile::attach(&path, 0x1234).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(
        err,
        RingError::LayoutMismatch {
            found: LAYOUT,
            expected: 0x1234,
            ..
        }
    ));
    assert!(msg.contains("0x54535452494e4731"), "{msg}");
    assert!(msg.contains("0x0000000000001234"), "{msg}");
    assert!(msg.contains(&path.display().to_string()), "{msg}");
}

#[test]
fn attach_refuses_bad_geometry() {
    let dir = Dir::new("geometry");
    let cases: [(usize, Vec<u8>, &str); 5] = [
        (off::CAPACITY, 384u64.to_ne_bytes().to_vec(), "power of two"),
        (off::CAPACITY, 128u64.to_ne_bytes().to_vec(), "file size"),
        (off::CAPACITY, 0u64.to_ne_bytes().to_vec(), "power of two"),
        (
            off::MAX_RECORD,
            200u32.to_ne_bytes().to_vec(),
            "half the data capacity",
        ),
        (
            off::HEADER_SIZE,
            8192u32.to_ne_bytes().to_vec(),
            "header size",
        ),
    ];
    for (field, bytes, what) in cases {
        let path = closed_ring(&dir);
        patch(&path, field as u64, &bytes);
        match RingFile::attach(&path, LAYOUT) {
            Err(e @ RingError::Geometry { .. }) => {
                assert!(e.to_string().contains(what), "{e}")
            }
            other => panic!("{what}: {other:?}"),
        }
    }
    // A file longer than header + capacity.
    let path = closed_ring(&dir);
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(HEADER_SIZE as u64 + 512)
        .unwrap();
    assert!(matches!(
        RingFile::attach(&path, LAYOUT),
        Err(RingError::Geometry { file_len, .. }) if file_len == HEADER_SIZE as u64 + 512
    ));
}

#[test]
fn attach_refuses_corrupt_positions() {
    let dir = Dir::new("positions");
    // (head, tail) pairs that cannot happen; the ring holds 48 bytes of records.
    for (head, tail, what) in [
        (48u64, 56u64, "tail is beyond head"),
        (48 + 512, 48, "exceeds the data capacity"),
        (300, 0, "exceeds the data capacity"),
        (44, 0, "aligned"),
        (48, 4, "aligned"),
    ] {
        let path = closed_ring(&dir);
        patch(&path, off::HEAD as u64, &head.to_ne_bytes());
        patch(&path, off::TAIL as u64, &tail.to_ne_bytes());
        match RingFile::attach(&path, LAYOUT) {
            Err(e @ RingError::Positions { .. }) => assert!(e.to_string().contains(what), "{e}"),
            other => panic!("{head}/{tail}: {other:?}"),
        }
    }
}

#[test]
fn read_reports_corrupt_frames_with_their_position() {
    let dir = Dir::new("frames");
    let cap = 256;
    let check = |setup: &dyn Fn(&Path), from_record: usize, what: &str, at: u64| {
        let mut p = RingFile::create(dir.ring(), cap, 60, LAYOUT).unwrap();
        // Frames of 24 bytes at 0, 24, 48, ...
        for i in 0..4 {
            assert!(p.push(&record(i, 20)));
        }
        setup(&dir.ring());
        let mut c = RingFile::attach(dir.ring(), LAYOUT).unwrap();
        let mut n = 0;
        match c.read(c.tail(), usize::MAX, |_, _| n += 1) {
            Err(e @ RingError::Frame { pos, .. }) => {
                assert!(e.to_string().contains(what), "{e}");
                assert!(e.to_string().contains(&format!("position {at}")), "{e}");
                assert_eq!(pos, at);
            }
            other => panic!("{what}: {other:?}"),
        }
        assert_eq!(n, from_record, "records before the fault were delivered");
    };
    // Length word over max_record.
    check(
        &|p| patch(p, data_offset(24, cap), &61u32.to_ne_bytes()),
        1,
        "max record size",
        24,
    );
    check(
        &|p| {
            patch(
                p,
                data_offset(0, cap),
                &u32::MAX.wrapping_sub(1).to_ne_bytes(),
            )
        },
        0,
        "max record size",
        0,
    );
    // Length that runs past head: the last frame claims 60 bytes.
    check(
        &|p| patch(p, data_offset(72, cap), &60u32.to_ne_bytes()),
        3,
        "past the published head",
        72,
    );
    // A padding marker before head, at an offset whose skip would pass head.
    check(
        &|p| patch(p, data_offset(48, cap), &u32::MAX.to_ne_bytes()),
        2,
        "padding marker",
        48,
    );
    // A frame crossing the end of the data area: move head/tail near the end and plant a
    // length word there.
    check(
        &|p| {
            patch(p, off::TAIL as u64, &224u64.to_ne_bytes());
            patch(p, off::HEAD as u64, &296u64.to_ne_bytes());
            patch(p, data_offset(224, cap), &40u32.to_ne_bytes());
        },
        0,
        "crosses the end",
        224,
    );
}

#[test]
fn read_survives_arbitrary_bytes_in_the_data_area() {
    // Whatever the data area holds, `read` returns records or an error, never panics.
    let dir = Dir::new("garbage");
    let cap = 512;
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for round in 0..300 {
        let mut p = RingFile::create(dir.ring(), cap, 100, LAYOUT).unwrap();
        for i in 0..6 {
            p.push(&record(i, 16 * i));
        }
        let mut garbage = vec![0u8; cap as usize];
        for b in garbage.iter_mut() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            // Small length words are likelier when most bytes are zero.
            *b = if seed % 3 == 0 { seed as u8 } else { 0 };
        }
        patch(&dir.ring(), HEADER_SIZE as u64, &garbage);
        let head = (seed % 65) * 8;
        patch(&dir.ring(), off::HEAD as u64, &head.to_ne_bytes());
        let mut c = RingFile::attach(dir.ring(), LAYOUT).unwrap();
        let mut total = 0;
        if let Ok(end) = c.read(0, usize::MAX, |_, b| total += b.len()) {
            assert!(end <= head, "round {round}");
        }
    }
}
