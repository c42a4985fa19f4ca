//! The cross-process record ring: one lock-free single-producer/single-consumer byte ring per
//! worker core, in a memory-mapped file, carrying finished flow records from the capture engine
//! (the producer, privileged) to the control-plane process (the consumer).
//!
//! Owns: the file layout, record framing, the head/tail protocol, drop counting, the counters
//! area, and the checks a consumer runs on a file it does not trust. Does not own: what a record
//! contains (callers serialise; the ring carries opaque byte strings and a caller-supplied
//! `layout` fingerprint of their encoding), where ring files live, or checkpointing (the
//! consumer API is shaped for it, see "Restart" below).
//!
//! # File layout
//!
//! A 4 KiB header page, then a data area of `capacity` bytes (a power of two). All integers are
//! in the host's byte order. Offsets (also in [`layout::off`]):
//!
//! | offset | type | field |
//! |---|---|---|
//! | 0 | `[u8; 8]` | magic `b"TSTRING\0"` |
//! | 8 | `u32` | format version ([`FORMAT_VERSION`]) |
//! | 12 | `u32` | header size (4096) |
//! | 16 | `u64` | data capacity in bytes, a power of two |
//! | 24 | `u32` | max record size (payload bytes) |
//! | 28 | `u32` | reserved, 0 |
//! | 32 | `u64` | `layout`: the caller's fingerprint of the record encoding |
//! | 40 | `u64` | `instance`: unique per [`RingFile::create`] (ns since the epoch) |
//! | 48 | `u32` | producer pid |
//! | 52 | `u32` | reserved, 0 |
//! | 56 | `AtomicU64` | `closed`: 1 once the producer has published its last record |
//! | 64 | `AtomicU64` | `head`: producer's publication position (own cache line) |
//! | 128 | `AtomicU64` | `tail`: consumer's release position (own cache line) |
//! | 192 | `AtomicU64` | `drops`: records refused because the ring was full |
//! | 200 | `AtomicU64` | `drop_bytes`: their sizes (the `max_len` asked for) |
//! | 256 | `[AtomicU64; 64]` | `stats`: counters the producer publishes |
//! | 4096 | `[u8; capacity]` | data area |
//!
//! Positions (`head`, `tail`) are byte counts since the ring was created: they only grow and
//! never wrap (2^64 bytes is 58 years at 10 GB/s); the offset of a position in the data area is
//! `position % capacity`. `tail <= head <= tail + capacity`, both multiples of 8.
//!
//! A record is a frame: a `u32` payload length, the payload, zero to seven bytes of padding to a
//! multiple of 8. A frame never crosses the end of the data area: when the next one would, the
//! producer writes the length word `0xFFFF_FFFF` (padding marker) and puts the frame at offset
//! 0, the skipped bytes counting as used. The largest frame must fit in half the data area, so
//! that an empty ring accepts any record whatever its current offset.
//!
//! # Protocol
//!
//! Bytes at positions `tail .. head` belong to the consumer, all others to the producer. The
//! producer writes a frame in its own bytes, then publishes it with a `Release` store of `head`;
//! the consumer loads `head` with `Acquire`, copies frames out, and hands their bytes back with
//! a `Release` store of `tail`; the producer loads `tail` with `Acquire`, only when its cached
//! copy says the ring is full. Each side stores only its own word, so there is no
//! read-modify-write and no lock, and the producer never waits: when the ring is full the record
//! is dropped and `drops`/`drop_bytes` count it. `closed` is stored with `Release` after the
//! last record; a consumer that loads it with `Acquire` then reads a final `head`, `drops` and
//! `stats`.
//!
//! The `stats` slots are independent relaxed values, not a seqlock: each slot is always a whole
//! value the producer stored (no tearing), but two slots read one after the other may come from
//! different moments. That suits monotonic per-core counters exported as metrics; after
//! `closed`, all of them are final. The consumer may store into slots too
//! ([`Consumer::set_stat`], e.g. runtime switches the producer polls): which slots belong to
//! which side is the callers' convention, and a slot both sides store into has no defined
//! winner.
//!
//! The consumer treats the shared bytes as untrusted: it copies each length word once, checks it
//! against `max_record`, the end of the data area and `head`, and copies payloads out before
//! handing them to the caller, so a corrupt or hostile producer yields [`RingError`]s, never a
//! panic or undefined behaviour in the consumer. The same goes for the header on
//! [`RingFile::attach`]. (A process that truncates the file under a mapping raises SIGBUS in
//! the other: the risk of every file mapping; the producer here never truncates a published
//! ring, it replaces it.)
//!
//! The protocol is written once (`protocol`), generic over the memory it runs on; `loom_model`
//! checks it exhaustively up to 5 preemptions over a heap buffer whose every byte access loom
//! tracks (`RUSTFLAGS="--cfg loom" cargo test -p engine --lib ring --release`, with a target
//! directory of its own).
//!
//! # Restart
//!
//! The producer replaces any existing file at `create` (it writes a new file under a temporary
//! name and renames it into place, so a consumer still attached to the old ring keeps a valid
//! mapping and finds the new ring by path; [`Consumer::instance`] tells them apart).
//!
//! The consumer can be killed at any time and re-attach; it resumes where `tail` says. Because
//! reading ([`Consumer::read`]) and releasing ([`Consumer::release`]) are separate, a consumer
//! can get exactly-once delivery into its own output: read a batch, write it out, make the output
//! and the position after the batch durable together (a checkpoint holding `instance`, the
//! position and the output files' lengths), and only then release. After a crash, `tail` is at
//! or before the checkpoint (release never runs ahead of it): the restarted consumer truncates its
//! outputs to the checkpointed lengths and reads from the checkpointed position, so records
//! before it are not written twice and records after it are not lost (they were never released,
//! so the producer could not overwrite them). If the checkpoint names another `instance`, the
//! engine was restarted: the old ring is gone and the new one is read from its `tail`.
//!
//! At most one consumer may be attached to a ring: `attach` takes an exclusive `flock` on the
//! file, which the kernel drops when the consumer exits, however it dies.
//!
//! File permissions are 0660: the consumer maps the file read-write because it stores `tail`, so
//! a control process that runs as another user needs group write access.

pub mod layout;
mod protocol;
mod region;

#[cfg(test)]
mod heap;
#[cfg(all(test, loom))]
mod loom_model;
#[cfg(test)]
mod sync;
#[cfg(test)]
mod tests;

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use layout::{check_geometry, check_positions, off, Fixed, MAGIC};
pub use layout::{FORMAT_VERSION, HEADER_SIZE, STATS_SLOTS};
use protocol::{ConsumerCore, Fault, ProducerCore};
use region::{map_shared, read_fixed, try_lock_exclusive, MapRegion, Region, Word};

/// Permissions of a ring file (see the module documentation).
pub const FILE_MODE: u32 = 0o660;

/// Why a ring could not be created or attached, or why a consumer had to stop. Every variant
/// names the ring file.
#[derive(Debug, thiserror::Error)]
pub enum RingError {
    /// A system call on the file failed.
    #[error("ring {path}: cannot {op}")]
    Io {
        /// The ring file.
        path: PathBuf,
        /// What was being done ("open", "map", ...).
        op: &'static str,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// There is no file at the path (the engine has not created the ring yet, or removed it).
    #[error("ring {path}: no such file")]
    Missing {
        /// The ring file.
        path: PathBuf,
    },
    /// Another consumer holds the ring's lock. Also transiently, for a consumer that has just
    /// dropped its `Consumer`, while a child process of it is being spawned: the child holds
    /// copies of the parent's descriptors, the locked one included, until its `exec` closes
    /// them; retry after a moment.
    #[error("ring {path}: another consumer is attached")]
    Busy {
        /// The ring file.
        path: PathBuf,
    },
    /// `create` was given a capacity or record size it cannot honour.
    #[error("ring {path}: {what} (capacity {capacity} B, max record {max_record} B)")]
    InvalidSpec {
        /// The ring file.
        path: PathBuf,
        /// The data capacity asked for.
        capacity: u64,
        /// The max record size asked for.
        max_record: u64,
        /// The rule broken.
        what: &'static str,
    },
    /// The file is shorter than a header.
    #[error("ring {path}: file is {len} bytes, shorter than the {need}-byte header")]
    Short {
        /// The ring file.
        path: PathBuf,
        /// Its length.
        len: u64,
        /// The header's length.
        need: u64,
    },
    /// The file does not start with the ring magic.
    #[error("ring {path}: not a record ring (magic {found:02x?})")]
    BadMagic {
        /// The ring file.
        path: PathBuf,
        /// The first 8 bytes found.
        found: [u8; 8],
    },
    /// The file was written by another format version.
    #[error("ring {path}: format version {found}, this build reads version {expected}")]
    Version {
        /// The ring file.
        path: PathBuf,
        /// The version in the file.
        found: u32,
        /// The version this build writes and reads.
        expected: u32,
    },
    /// The records were encoded by a build with another record layout.
    #[error(
        "ring {path}: record layout {found:#018x} in the file, this build expects \
         {expected:#018x} (engine and control built from different record definitions)"
    )]
    LayoutMismatch {
        /// The ring file.
        path: PathBuf,
        /// The fingerprint in the file.
        found: u64,
        /// The fingerprint the consumer expects.
        expected: u64,
    },
    /// Header size, capacity, max record size and file size do not agree.
    #[error(
        "ring {path}: bad geometry: {what} (header {header_size} B, capacity {capacity} B, \
         max record {max_record} B, file {file_len} B)"
    )]
    Geometry {
        /// The ring file.
        path: PathBuf,
        /// The rule broken.
        what: &'static str,
        /// Header size in the file.
        header_size: u32,
        /// Data capacity in the file.
        capacity: u64,
        /// Max record size in the file.
        max_record: u32,
        /// The file's length.
        file_len: u64,
    },
    /// `head` and `tail` are impossible.
    #[error(
        "ring {path}: corrupt positions: {what} (head {head}, tail {tail}, capacity {capacity})"
    )]
    Positions {
        /// The ring file.
        path: PathBuf,
        /// The rule broken.
        what: &'static str,
        /// `head` as loaded.
        head: u64,
        /// `tail` as loaded.
        tail: u64,
        /// The data capacity.
        capacity: u64,
    },
    /// A published frame is malformed.
    #[error("ring {path}: corrupt frame at byte position {pos}: {what} (length word {len:#x})")]
    Frame {
        /// The ring file.
        path: PathBuf,
        /// Position of the frame's length word.
        pos: u64,
        /// The length word found.
        len: u32,
        /// The rule broken.
        what: &'static str,
    },
    /// A position given to `read` or `release` is outside `tail ..= head` or not a multiple of
    /// 8 (a checkpoint of another ring instance, or a bug).
    #[error(
        "ring {path}: position {pos} is misaligned or outside the readable range {tail}..={head}"
    )]
    OutOfRange {
        /// The ring file.
        path: PathBuf,
        /// The position given.
        pos: u64,
        /// `tail` at the time.
        tail: u64,
        /// `head` at the time.
        head: u64,
    },
}

impl RingError {
    fn io<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(io::Error) -> RingError + 'a {
        move |source| RingError::Io {
            path: path.to_path_buf(),
            op,
            source,
        }
    }

    fn from_fault(path: &Path, fault: Fault, capacity: u64) -> RingError {
        let path = path.to_path_buf();
        match fault {
            Fault::Positions { head, tail, what } => RingError::Positions {
                path,
                what,
                head,
                tail,
                capacity,
            },
            Fault::Frame { pos, len, what } => RingError::Frame {
                path,
                pos,
                len,
                what,
            },
            Fault::OutOfRange { pos, tail, head } => RingError::OutOfRange {
                path,
                pos,
                tail,
                head,
            },
        }
    }
}

/// Opens ring files: [`RingFile::create`] for the producer, [`RingFile::attach`] for the
/// consumer.
#[derive(Debug)]
pub enum RingFile {}

impl RingFile {
    /// Creates a ring of `capacity_bytes` of data (a power of two, 64 B to 1 TiB) for records
    /// of at most `max_record` bytes (whose frame, `max_record + 4` rounded up to 8, must fit in
    /// half the capacity), tagged with the caller's record-encoding fingerprint `layout`.
    ///
    /// The file is `HEADER_SIZE + capacity_bytes` long, mode [`FILE_MODE`]. It is written under
    /// a temporary name in the same directory and renamed over `path`, so an existing ring (of
    /// a previous engine run) is replaced atomically and its consumer keeps a valid mapping.
    pub fn create(
        path: impl AsRef<Path>,
        capacity_bytes: u64,
        max_record: usize,
        layout: u64,
    ) -> Result<Producer, RingError> {
        let path = path.as_ref();
        check_geometry(capacity_bytes, max_record as u64).map_err(|what| {
            RingError::InvalidSpec {
                path: path.to_path_buf(),
                capacity: capacity_bytes,
                max_record: max_record as u64,
                what,
            }
        })?;
        let pid = std::process::id();
        let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
        tmp_name.push(format!(".{pid}.tmp"));
        let tmp = path.with_file_name(tmp_name);
        let result = Self::create_at(&tmp, path, capacity_bytes, max_record, layout, pid);
        if result.is_err() {
            // Best effort: the error that matters is the one returned.
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    fn create_at(
        tmp: &Path,
        path: &Path,
        capacity: u64,
        max_record: usize,
        layout: u64,
        pid: u32,
    ) -> Result<Producer, RingError> {
        match fs::remove_file(tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(RingError::io(tmp, "remove a stale temporary file")(e)),
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(tmp)
            .map_err(RingError::io(tmp, "create"))?;
        // `mode` is filtered by the umask; set it exactly.
        file.set_permissions(fs::Permissions::from_mode(FILE_MODE))
            .map_err(RingError::io(tmp, "set permissions of"))?;
        file.set_len(HEADER_SIZE as u64 + capacity)
            .map_err(RingError::io(tmp, "size"))?;
        let mut map = map_shared(&file).map_err(RingError::io(tmp, "map"))?;
        let instance = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let fixed = Fixed {
            magic: MAGIC,
            version: FORMAT_VERSION,
            header_size: HEADER_SIZE as u32,
            capacity,
            max_record: max_record as u32,
            layout,
            instance,
            producer_pid: pid,
        };
        // The file is new (`create_new`), zero-filled by `set_len`, and not yet published under
        // its name: this mapping is its only user, so it may be written as a plain slice.
        map[..off::FIXED_END].copy_from_slice(&fixed.encode());
        fs::rename(tmp, path).map_err(RingError::io(path, "rename the new ring into place as"))?;
        let region = MapRegion::new(map, capacity);
        Ok(Producer {
            core: ProducerCore::new(region, max_record),
            path: path.to_path_buf(),
            instance,
        })
    }

    /// Attaches a consumer to the ring at `path`, whose records must have been encoded with
    /// fingerprint `layout`. Checks the whole header and refuses, with an error naming the file,
    /// a missing or short file, another magic or format version, another layout, an impossible
    /// geometry (capacity not a power of two, not matching the file size, max record too large)
    /// and impossible positions (`tail > head`, `head - tail > capacity`, misaligned). Takes the
    /// ring's consumer lock ([`RingError::Busy`] if another consumer holds it).
    pub fn attach(path: impl AsRef<Path>, layout: u64) -> Result<Consumer, RingError> {
        let path = path.as_ref();
        let file = match OpenOptions::new().read(true).write(true).open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(RingError::Missing {
                    path: path.to_path_buf(),
                })
            }
            Err(e) => return Err(RingError::io(path, "open")(e)),
        };
        if !try_lock_exclusive(&file).map_err(RingError::io(path, "lock"))? {
            return Err(RingError::Busy {
                path: path.to_path_buf(),
            });
        }
        let file_len = file.metadata().map_err(RingError::io(path, "stat"))?.len();
        if file_len < HEADER_SIZE as u64 {
            return Err(RingError::Short {
                path: path.to_path_buf(),
                len: file_len,
                need: HEADER_SIZE as u64,
            });
        }
        let map = map_shared(&file).map_err(RingError::io(path, "map"))?;
        // The mapping's own length is what may be touched (the file could have changed since
        // `metadata`).
        let file_len = map.len() as u64;
        if file_len < HEADER_SIZE as u64 {
            return Err(RingError::Short {
                path: path.to_path_buf(),
                len: file_len,
                need: HEADER_SIZE as u64,
            });
        }
        let fixed = Fixed::decode(&read_fixed(&map));
        Self::check_header(path, &fixed, file_len, layout)?;
        let region = MapRegion::new(map, fixed.capacity);
        let core = ConsumerCore::new(region, fixed.max_record as usize);
        // Positions last: they are the only header fields that change after creation.
        let (head, tail) = (core.head(), core.tail());
        check_positions(head, tail, fixed.capacity).map_err(|what| RingError::Positions {
            path: path.to_path_buf(),
            what,
            head,
            tail,
            capacity: fixed.capacity,
        })?;
        Ok(Consumer {
            core,
            path: path.to_path_buf(),
            fixed,
            _lock: file,
        })
    }

    fn check_header(path: &Path, f: &Fixed, file_len: u64, layout: u64) -> Result<(), RingError> {
        let path_buf = || path.to_path_buf();
        if f.magic != MAGIC {
            return Err(RingError::BadMagic {
                path: path_buf(),
                found: f.magic,
            });
        }
        if f.version != FORMAT_VERSION {
            return Err(RingError::Version {
                path: path_buf(),
                found: f.version,
                expected: FORMAT_VERSION,
            });
        }
        let geometry = |what| RingError::Geometry {
            path: path_buf(),
            what,
            header_size: f.header_size,
            capacity: f.capacity,
            max_record: f.max_record,
            file_len,
        };
        if f.header_size as usize != HEADER_SIZE {
            return Err(geometry("header size is not 4096"));
        }
        check_geometry(f.capacity, u64::from(f.max_record)).map_err(geometry)?;
        if HEADER_SIZE as u64 + f.capacity != file_len {
            return Err(geometry("file size is not header + capacity"));
        }
        if f.layout != layout {
            return Err(RingError::LayoutMismatch {
                path: path_buf(),
                found: f.layout,
                expected: layout,
            });
        }
        Ok(())
    }
}

/// The producer end of a ring: owned by one worker, never blocks.
pub struct Producer {
    core: ProducerCore<MapRegion>,
    path: PathBuf,
    instance: u64,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("path", &self.path)
            .field("head", &self.core.head())
            .field("capacity", &self.core.capacity())
            .field("drops", &self.core.drops())
            .finish()
    }
}

impl Producer {
    /// Reserves `max_len` contiguous bytes, lets `write` fill the start of them and return how
    /// many it used, and publishes that record. Returns false, and counts a drop of `max_len`
    /// bytes, when the ring has no room (or `max_len` exceeds the ring's max record size);
    /// `write` is then not called. Never blocks.
    ///
    /// # Panics
    /// If `write` returns more than `max_len` (nothing is published then).
    #[inline]
    pub fn try_push(&mut self, max_len: usize, write: impl FnOnce(&mut [u8]) -> usize) -> bool {
        self.core.try_push(max_len, write)
    }

    /// Copies `record` into the ring; false (and a drop counted) when there is no room.
    #[inline]
    pub fn push(&mut self, record: &[u8]) -> bool {
        self.core.try_push(record.len(), |buf| {
            buf.copy_from_slice(record);
            record.len()
        })
    }

    /// Whether a record of up to `max_len` bytes would be accepted now. Counts nothing: a
    /// producer that must not lose records (offline analysis) waits on this instead of
    /// dropping.
    pub fn has_room(&mut self, max_len: usize) -> bool {
        self.core.has_room(max_len)
    }

    /// Bytes published and not yet released by the consumer (including padding).
    pub fn used_bytes(&self) -> u64 {
        self.core.used_bytes()
    }

    /// Bytes of the data area.
    pub fn capacity(&self) -> u64 {
        self.core.capacity()
    }

    /// The largest record accepted, in bytes.
    pub fn max_record(&self) -> usize {
        self.core.max_record()
    }

    /// The publication position: bytes ever published, padding included.
    pub fn head(&self) -> u64 {
        self.core.head()
    }

    /// Records refused since the ring was created.
    pub fn drops(&self) -> u64 {
        self.core.drops()
    }

    /// Bytes of the records refused (the `max_len` each asked for).
    pub fn drop_bytes(&self) -> u64 {
        self.core.drop_bytes()
    }

    /// The [`STATS_SLOTS`] counter slots of the header, for the producer to publish into
    /// (`store(v, Ordering::Relaxed)`; see the module documentation for what a reader sees).
    pub fn stats(&self) -> &[AtomicU64] {
        self.core.region().stats()
    }

    /// This ring's instance number (see [`Consumer::instance`]).
    pub fn instance(&self) -> u64 {
        self.instance
    }

    /// The ring file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Marks the ring closed: the last record has been pushed. A consumer that sees it can
    /// drain to `head` and know it has everything; `drops` and the stats are final.
    pub fn close(self) {
        self.core.close();
    }
}

/// The consumer end of a ring: reads published records and releases them, separately.
pub struct Consumer {
    core: ConsumerCore<MapRegion>,
    path: PathBuf,
    fixed: Fixed,
    /// Holds the consumer lock (`flock`) while attached.
    _lock: File,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("path", &self.path)
            .field("head", &self.core.head())
            .field("tail", &self.core.tail())
            .field("capacity", &self.fixed.capacity)
            .finish()
    }
}

impl Consumer {
    /// The producer's publication position: records before it can be read.
    pub fn head(&self) -> u64 {
        self.core.head()
    }

    /// The release position: where a consumer without a checkpoint resumes.
    pub fn tail(&self) -> u64 {
        self.core.tail()
    }

    /// Reads up to `max_records` published records starting at position `from` (which must be
    /// `tail ..= head` and a record boundary: `tail`, a checkpoint, or a value `read` returned),
    /// without releasing them. `f` receives, for each record, the position just after it and
    /// its payload (a copy; it does not borrow the shared memory). Returns the position after
    /// the last record read; `from` if there was none.
    ///
    /// A malformed frame is [`RingError::Frame`] with its position; records before it have
    /// been passed to `f`.
    pub fn read(
        &mut self,
        from: u64,
        max_records: usize,
        f: impl FnMut(u64, &[u8]),
    ) -> Result<u64, RingError> {
        let capacity = self.fixed.capacity;
        self.core
            .read(from, max_records, f)
            .map_err(|fault| RingError::from_fault(&self.path, fault, capacity))
    }

    /// Releases everything before position `upto` to the producer (stores `tail`). `upto` must
    /// be within `tail ..= head`, a record boundary as for [`Consumer::read`].
    pub fn release(&mut self, upto: u64) -> Result<(), RingError> {
        let capacity = self.fixed.capacity;
        self.core
            .release(upto)
            .map_err(|fault| RingError::from_fault(&self.path, fault, capacity))
    }

    /// Whether the producer has pushed its last record (then `head`, `drops` and the stats are
    /// final).
    pub fn is_closed(&self) -> bool {
        self.core.is_closed()
    }

    /// Records the producer refused because the ring was full.
    pub fn drops(&self) -> u64 {
        self.core.region().load(Word::Drops, Ordering::Relaxed)
    }

    /// Bytes of those records.
    pub fn drop_bytes(&self) -> u64 {
        self.core.region().load(Word::DropBytes, Ordering::Relaxed)
    }

    /// Stats slot `i` (relaxed load; 0 if `i >= STATS_SLOTS`).
    pub fn stat(&self, i: usize) -> u64 {
        self.core
            .region()
            .stats()
            .get(i)
            .map_or(0, |s| s.load(Ordering::Relaxed))
    }

    /// Stores `v` in stats slot `i` (relaxed; ignored if `i >= STATS_SLOTS`): the one way a
    /// consumer talks back to the producer (the control plane's runtime switches).
    pub fn set_stat(&self, i: usize, v: u64) {
        if let Some(s) = self.core.region().stats().get(i) {
            s.store(v, Ordering::Relaxed);
        }
    }

    /// All stats slots (each a relaxed load; see the module documentation).
    pub fn stats(&self) -> [u64; STATS_SLOTS] {
        let mut out = [0; STATS_SLOTS];
        for (o, s) in out.iter_mut().zip(self.core.region().stats()) {
            *o = s.load(Ordering::Relaxed);
        }
        out
    }

    /// The producer's process id when it created the ring.
    pub fn producer_pid(&self) -> u32 {
        self.fixed.producer_pid
    }

    /// A number unique to the `create` that made this ring: a checkpoint stores it with its
    /// position, and a consumer finding another value knows the engine made a new ring.
    pub fn instance(&self) -> u64 {
        self.fixed.instance
    }

    /// The record-encoding fingerprint (equal to the one given to `attach`).
    pub fn layout(&self) -> u64 {
        self.fixed.layout
    }

    /// Bytes of the data area.
    pub fn capacity(&self) -> u64 {
        self.fixed.capacity
    }

    /// The largest record the producer may push, in bytes.
    pub fn max_record(&self) -> usize {
        self.fixed.max_record as usize
    }

    /// The ring file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
