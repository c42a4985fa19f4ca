//! Trace-file reader: classic pcap, pcapng and gzip-compressed traces, delivered as batches of
//! packet descriptors over shared buffers.
//!
//! Owns: recognising the container (classic pcap in µs and ns and both byte orders, the
//! Kuznetzov "modified" pcap variant, pcapng sections in either byte order, any of them
//! gzip-compressed whatever the file name), converting every timestamp to [`Timestamp`]
//! microseconds (truncating sub-µs parts as libpcap does), and reporting faults with the path,
//! the byte offset and what was found there. Does not own: parsing packet contents (see
//! `wire`), spreading packets over workers, or deciding what to do after a fault.
//!
//! Speed: an uncompressed regular file is memory-mapped once and every [`PacketDesc`] points
//! into that single [`Block::Mapped`] (no copies at all, pcapng included). Gzip traces, and
//! inputs that cannot be mapped (pipes), are read into large owned chunks ([`Block::Owned`],
//! 4 MiB by default); a record cut by the end of a chunk is carried over to the start of the next
//! chunk, so a descriptor never straddles two blocks. A [`Batch`] covers one block and clones its
//! `Arc` once, not per packet.
//!
//! Faults: a truncated or corrupt record first lets [`TraceFile::next_batch`] return the packets
//! that were complete before it, then the error on the next call, then `Ok(None)` for ever.
//! Nothing here panics on any byte sequence.

use crate::time::Timestamp;
use crate::wire::LinkType;
use std::fs::File;
use std::io::{self, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod pcap;
mod pcapng;
#[cfg(test)]
mod tests;

/// Default size of a decompressed chunk for gzip (and other streamed) input.
const DEFAULT_CHUNK: usize = 4 << 20;
/// Buffer between the compressed file and the gzip decoder.
const COMPRESSED_BUF: usize = 256 << 10;
/// Largest captured length tolerated whatever the snap length says (libpcap's
/// `MAXIMUM_SNAPLEN`).
pub(crate) const MAX_CAPLEN: u32 = 262_144;
/// Largest snap length taken at face value when deciding whether a captured length is absurd.
pub(crate) const MAX_SANE_SNAPLEN: u32 = 16 << 20;

/// A buffer that packet descriptors point into: the memory-mapped file, or a decompressed chunk.
pub enum Block {
    /// A memory-mapped uncompressed trace.
    Mapped(memmap2::Mmap),
    /// A chunk owned by the reader (gzip input, or input that cannot be mapped such as a pipe).
    Owned(Vec<u8>),
}

impl std::ops::Deref for Block {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Block::Mapped(m) => m,
            Block::Owned(v) => v,
        }
    }
}

/// One captured packet inside a [`Block`].
#[derive(Debug, Clone, Copy)]
pub struct PacketDesc {
    /// Offset of the first captured byte inside the block.
    pub offset: usize,
    /// Captured length.
    pub caplen: u32,
    /// Original length on the wire.
    pub wirelen: u32,
    /// Capture timestamp (µs; nanosecond traces truncated as libpcap does).
    pub ts: Timestamp,
    /// Link type of the interface the packet came from.
    pub link: LinkType,
}

/// A run of packets over one shared block, in capture order.
pub struct Batch {
    /// The bytes the descriptors point into.
    pub block: Arc<Block>,
    /// The packets, in file order.
    pub packets: Vec<PacketDesc>,
}

impl Batch {
    /// The captured bytes of one packet of this batch (empty if the descriptor does not belong
    /// to this batch's block).
    #[inline]
    pub fn data(&self, p: &PacketDesc) -> &[u8] {
        self.block
            .get(p.offset..p.offset.saturating_add(p.caplen as usize))
            .unwrap_or(&[])
    }
}

/// Why a trace could not be read (further). Always names the file; offsets are in bytes of the
/// (decompressed) stream, counted from its start; `index` is the 1-based number of the packet
/// record being read when the fault was found (packets delivered before it + 1), as tcpdump and
/// Wireshark number packets.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be opened or read.
    #[error("{path}: cannot read")]
    Io {
        /// The trace.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file (or the decompressed gzip stream) is empty.
    #[error("{path}: empty file, not a packet trace")]
    Empty {
        /// The trace.
        path: PathBuf,
    },
    /// The file starts with no known magic number.
    #[error("{path}: not a packet trace (pcap, pcapng or gzip): starts with {}", hex(.magic))]
    NotATrace {
        /// The trace.
        path: PathBuf,
        /// The first bytes found (up to 4; fewer if the file is shorter).
        magic: Vec<u8>,
    },
    /// The pcap global header or the first pcapng section header block is cut short.
    #[error("{path}: truncated {what}: needs {needed} bytes, {avail} present")]
    TruncatedHeader {
        /// The trace.
        path: PathBuf,
        /// Which header ("pcap global header", "pcapng section header block").
        what: &'static str,
        /// Bytes the header needs.
        needed: u64,
        /// Bytes the file has.
        avail: u64,
    },
    /// The pcap or pcapng version is one libpcap refuses.
    #[error("{path}: unsupported {format} version {major}.{minor} at byte {offset}")]
    UnsupportedVersion {
        /// The trace.
        path: PathBuf,
        /// "pcap" or "pcapng".
        format: &'static str,
        /// Where the header starts.
        offset: u64,
        /// Major version found.
        major: u16,
        /// Minor version found.
        minor: u16,
    },
    /// A record (or its header, or a pcapng block) is cut by the end of the file.
    #[error(
        "{path}: truncated {what} at byte {offset} (packet {index}): needs {needed} bytes, \
         {avail} left"
    )]
    Truncated {
        /// The trace.
        path: PathBuf,
        /// Where the record starts.
        offset: u64,
        /// 1-based number of the packet record.
        index: u64,
        /// "record header", "record", "block header" or "block".
        what: &'static str,
        /// Bytes the record needs, header included.
        needed: u64,
        /// Bytes left in the file from `offset`.
        avail: u64,
    },
    /// A captured length larger than both 262144 and the snap length.
    #[error(
        "{path}: absurd captured length at byte {offset} (packet {index}): header says {caplen} \
         bytes, at most {limit} allowed"
    )]
    BadRecordLength {
        /// The trace.
        path: PathBuf,
        /// Where the record starts.
        offset: u64,
        /// 1-based number of the packet record.
        index: u64,
        /// The captured length found.
        caplen: u32,
        /// The largest captured length accepted (max of 262144 and a sane snap length).
        limit: u32,
    },
    /// A malformed pcapng block (bad length, trailer mismatch, unknown interface, ...).
    #[error("{path}: bad pcapng block at byte {offset} (packet {index}, type {block_type:#x}): {reason}")]
    BadBlock {
        /// The trace.
        path: PathBuf,
        /// Where the block starts.
        offset: u64,
        /// 1-based number of the next packet record.
        index: u64,
        /// The block type.
        block_type: u32,
        /// What is wrong with it.
        reason: String,
    },
    /// The gzip stream is corrupt or ends early.
    #[error("{path}: gzip stream corrupt or cut short after {offset} decompressed bytes")]
    Gzip {
        /// The trace.
        path: PathBuf,
        /// Decompressed bytes produced before the fault.
        offset: u64,
        /// The decoder's error.
        #[source]
        source: std::io::Error,
    },
}

/// Formats bytes as space-separated hex for error messages.
fn hex(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "nothing".to_string();
    }
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a format decoder found at the current position. Offsets are relative to the slice it
/// was given.
#[derive(Debug)]
pub(crate) enum Step {
    /// A packet record of `len` bytes whose captured data starts at `data_off`.
    Packet {
        len: usize,
        data_off: usize,
        caplen: u32,
        wirelen: u32,
        ts: Timestamp,
        link: LinkType,
    },
    /// A record or block of `len` bytes carrying no packet (already applied to the state).
    Skip(usize),
    /// The slice is shorter than the record: `needed` bytes are required from its start.
    Need { needed: usize, what: &'static str },
    /// The record is malformed.
    Fail(Fault),
}

/// A decoder's complaint, before the reader attaches path, offset and packet number.
#[derive(Debug)]
pub(crate) enum Fault {
    BadRecordLength {
        caplen: u32,
        limit: u32,
    },
    BadBlock {
        block_type: u32,
        reason: String,
    },
    UnsupportedVersion {
        format: &'static str,
        major: u16,
        minor: u16,
    },
}

impl Fault {
    fn into_error(self, path: &Path, offset: u64, index: u64) -> Error {
        let path = path.to_path_buf();
        match self {
            Fault::BadRecordLength { caplen, limit } => Error::BadRecordLength {
                path,
                offset,
                index,
                caplen,
                limit,
            },
            Fault::BadBlock { block_type, reason } => Error::BadBlock {
                path,
                offset,
                index,
                block_type,
                reason,
            },
            Fault::UnsupportedVersion {
                format,
                major,
                minor,
            } => Error::UnsupportedVersion {
                path,
                format,
                offset,
                major,
                minor,
            },
        }
    }
}

/// Reads a `u16` at `off` in the given byte order; `None` past the end.
#[inline]
pub(crate) fn u16_at(b: &[u8], off: usize, le: bool) -> Option<u16> {
    let a: [u8; 2] = b.get(off..off.checked_add(2)?)?.try_into().ok()?;
    Some(if le {
        u16::from_le_bytes(a)
    } else {
        u16::from_be_bytes(a)
    })
}

/// Reads a `u32` at `off` in the given byte order; `None` past the end.
#[inline]
pub(crate) fn u32_at(b: &[u8], off: usize, le: bool) -> Option<u32> {
    let a: [u8; 4] = b.get(off..off.checked_add(4)?)?.try_into().ok()?;
    Some(if le {
        u32::from_le_bytes(a)
    } else {
        u32::from_be_bytes(a)
    })
}

/// Reads a `u64` at `off` in the given byte order; `None` past the end.
#[inline]
pub(crate) fn u64_at(b: &[u8], off: usize, le: bool) -> Option<u64> {
    let a: [u8; 8] = b.get(off..off.checked_add(8)?)?.try_into().ok()?;
    Some(if le {
        u64::from_le_bytes(a)
    } else {
        u64::from_be_bytes(a)
    })
}

/// The captured-length ceiling for an interface with the given snap length: libpcap's 262144,
/// or the snap length itself when it is larger but still sane (at most 16 MiB).
#[inline]
pub(crate) fn caplen_limit(snaplen: u32) -> u32 {
    if snaplen <= MAX_SANE_SNAPLEN {
        snaplen.max(MAX_CAPLEN)
    } else {
        MAX_CAPLEN
    }
}

/// A reader that counts the bytes taken from the file (compressed bytes, for gzip).
struct Counting<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

/// The raw file, preceded by the bytes already read from it to identify the format.
type Raw = Counting<io::Chain<Cursor<Vec<u8>>, File>>;

/// Input that is read rather than mapped.
enum Stream {
    /// A plain trace that could not be mapped (a pipe, or mmap failed).
    Plain(Raw),
    /// A gzip-compressed trace (any number of concatenated members).
    Gzip(Box<flate2::bufread::MultiGzDecoder<BufReader<Raw>>>),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(r) => r.read(buf),
            Stream::Gzip(d) => d.read(buf),
        }
    }
}

/// The bytes being decoded: one block and a cursor in it, plus the stream that refills it.
struct Input {
    /// The current block.
    block: Arc<Block>,
    /// Next unread byte in `block`.
    pos: usize,
    /// Stream offset of `block[0]`.
    base: u64,
    /// Where more bytes come from; `None` when the whole file is mapped.
    stream: Option<Stream>,
    /// Target size of a refilled block.
    chunk: usize,
    /// The stream reported end of data or an error.
    ended: bool,
    /// The error that ended the stream, not yet reported.
    stream_err: Option<io::Error>,
}

impl Input {
    fn mapped(map: memmap2::Mmap) -> Input {
        Input {
            block: Arc::new(Block::Mapped(map)),
            pos: 0,
            base: 0,
            stream: None,
            chunk: 0,
            ended: true,
            stream_err: None,
        }
    }

    fn streamed(stream: Stream, chunk: usize) -> Input {
        Input {
            block: Arc::new(Block::Owned(Vec::new())),
            pos: 0,
            base: 0,
            stream: Some(stream),
            chunk: chunk.max(1),
            ended: false,
            stream_err: None,
        }
    }

    /// The unread bytes of the current block.
    #[inline]
    fn rest(&self) -> &[u8] {
        self.block.get(self.pos..).unwrap_or(&[])
    }

    /// Stream offset of the next unread byte.
    #[inline]
    fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Whether more bytes may still arrive.
    #[inline]
    fn can_grow(&self) -> bool {
        self.stream.is_some() && !self.ended
    }

    /// Replaces the block by a new one that starts with the unread tail of the current one and
    /// holds at least `need` bytes (and about `chunk`), unless the stream ends first. Reuses the
    /// current buffer when no batch holds it any more.
    fn refill(&mut self, need: usize) {
        let Some(stream) = self.stream.as_mut() else {
            return;
        };
        let target = need.max(self.chunk);
        let pos = self.pos.min(self.block.len());
        let mut buf = match Arc::get_mut(&mut self.block) {
            Some(Block::Owned(v)) => {
                let mut v = std::mem::take(v);
                v.drain(..pos);
                v
            }
            _ => {
                let mut v = Vec::with_capacity(target);
                v.extend_from_slice(self.block.get(pos..).unwrap_or(&[]));
                v
            }
        };
        self.base += pos as u64;
        self.pos = 0;
        let want = target.saturating_sub(buf.len());
        buf.reserve(want);
        match stream.take(want as u64).read_to_end(&mut buf) {
            Ok(n) if n < want => self.ended = true,
            Ok(_) => {}
            Err(e) => {
                self.ended = true;
                self.stream_err = Some(e);
            }
        }
        self.block = Arc::new(Block::Owned(buf));
    }

    /// Makes `need` unread bytes available if the input has them; returns whether it did.
    fn ensure(&mut self, need: usize) -> bool {
        while self.rest().len() < need && self.can_grow() {
            self.refill(need);
        }
        self.rest().len() >= need
    }

    /// Bytes read from the file so far, for gzip; `None` otherwise.
    fn compressed_read(&self) -> Option<u64> {
        match &self.stream {
            Some(Stream::Gzip(d)) => Some(d.get_ref().get_ref().count),
            _ => None,
        }
    }

    /// Turns the error that ended the stream (if any, once) into an [`Error`].
    fn take_stream_error(&mut self, path: &Path) -> Option<Error> {
        let source = self.stream_err.take()?;
        let path = path.to_path_buf();
        Some(match self.stream {
            Some(Stream::Gzip(_)) => Error::Gzip {
                path,
                offset: self.base + self.block.len() as u64,
                source,
            },
            _ => Error::Io { path, source },
        })
    }
}

/// The container format and its decoding state.
enum Format {
    Pcap(pcap::Decoder),
    Pcapng(pcapng::Decoder),
}

impl Format {
    #[inline]
    fn step(&mut self, data: &[u8]) -> Step {
        match self {
            Format::Pcap(d) => d.step(data),
            Format::Pcapng(d) => d.step(data),
        }
    }
}

/// An open trace file.
pub struct TraceFile {
    path: PathBuf,
    size: Option<u64>,
    input: Input,
    format: Format,
    /// Packets delivered so far.
    delivered: u64,
    /// An error found after the packets of the last batch, reported by the next call.
    pending: Option<Error>,
    /// An error was reported or the end reached: only `Ok(None)` from now on.
    done: bool,
}

impl std::fmt::Debug for TraceFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceFile")
            .field("path", &self.path)
            .field("size", &self.size)
            .field("position", &self.position())
            .field("delivered", &self.delivered)
            .finish_non_exhaustive()
    }
}

/// Reads until `buf` is full or the reader ends; returns the bytes read.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(buf.get_mut(n..).unwrap_or(&mut [])) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Maps the whole file read-only.
#[allow(unsafe_code)]
fn map_file(file: &File) -> io::Result<memmap2::Mmap> {
    // SAFETY: `Mmap::map` is unsafe because the mapping aliases a file that other processes may
    // change. We opened the file read-only and never write through the map; the slice is only
    // read. If another process truncates the file while it is mapped, touching the vanished pages
    // raises SIGBUS: that is the accepted risk, the same one libpcap and tcpdump take with their
    // mmap readers. In-place modification would only change the bytes we parse, which every
    // decoder here already treats as untrusted.
    unsafe { memmap2::Mmap::map(file) }
}

/// Known magic numbers, as stored in the file.
const PCAP_MAGICS: [[u8; 4]; 6] = [
    [0xd4, 0xc3, 0xb2, 0xa1], // µs, little-endian
    [0xa1, 0xb2, 0xc3, 0xd4], // µs, big-endian
    [0x4d, 0x3c, 0xb2, 0xa1], // ns, little-endian
    [0xa1, 0xb2, 0x3c, 0x4d], // ns, big-endian
    [0x34, 0xcd, 0xb2, 0xa1], // Kuznetzov modified, little-endian
    [0xa1, 0xb2, 0xcd, 0x34], // Kuznetzov modified, big-endian
];
/// The pcapng section header block type, a palindrome.
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

impl TraceFile {
    /// Opens a trace and checks its global header (pcap) or first section header block
    /// (pcapng). Gzip compression is recognised by its magic number, not by the file name.
    pub fn open(path: &Path) -> Result<TraceFile, Error> {
        Self::open_inner(path, DEFAULT_CHUNK, true)
    }

    /// Like [`TraceFile::open`], with the size of the decompressed chunks used for gzip (or
    /// other unmappable) input; mapped files ignore it. Small values only make sense in tests.
    pub fn open_with_chunk_size(path: &Path, chunk_bytes: usize) -> Result<TraceFile, Error> {
        Self::open_inner(path, chunk_bytes, true)
    }

    /// The common constructor; `allow_mmap: false` forces the streamed path (tests).
    fn open_inner(path: &Path, chunk: usize, allow_mmap: bool) -> Result<TraceFile, Error> {
        let io_err = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = File::open(path).map_err(io_err)?;
        let meta = file.metadata().map_err(io_err)?;
        let size = meta.is_file().then_some(meta.len());
        let mut head = [0u8; 4];
        let n = read_up_to(&mut file, &mut head).map_err(io_err)?;
        let head = head.get(..n).unwrap_or(&[]).to_vec();
        if head.is_empty() {
            return Err(Error::Empty {
                path: path.to_path_buf(),
            });
        }
        let gzip = head.starts_with(&[0x1f, 0x8b]);
        let mapped = if !gzip && allow_mmap && meta.is_file() {
            map_file(&file).ok()
        } else {
            None
        };
        let mut input = match mapped {
            Some(map) => {
                #[cfg(unix)]
                let _ = map.advise(memmap2::Advice::Sequential);
                Input::mapped(map)
            }
            None => {
                let raw = Counting {
                    inner: Cursor::new(head).chain(file),
                    count: 0,
                };
                let stream = if gzip {
                    let buffered = BufReader::with_capacity(COMPRESSED_BUF, raw);
                    Stream::Gzip(Box::new(flate2::bufread::MultiGzDecoder::new(buffered)))
                } else {
                    Stream::Plain(raw)
                };
                Input::streamed(stream, chunk)
            }
        };
        let format = Self::read_header(path, &mut input)?;
        Ok(TraceFile {
            path: path.to_path_buf(),
            size,
            input,
            format,
            delivered: 0,
            pending: None,
            done: false,
        })
    }

    /// Identifies the container and consumes its global header / first SHB.
    fn read_header(path: &Path, input: &mut Input) -> Result<Format, Error> {
        let have4 = input.ensure(4);
        if let Some(e) = (!have4).then(|| input.take_stream_error(path)).flatten() {
            return Err(e);
        }
        let rest = input.rest();
        if rest.is_empty() {
            return Err(Error::Empty {
                path: path.to_path_buf(),
            });
        }
        let magic = rest.get(..4).unwrap_or(rest);
        let is_prefix = |m: &[u8; 4]| m.starts_with(magic);
        if PCAP_MAGICS.iter().any(|m| m == magic) {
            Self::read_pcap_header(path, input)
        } else if magic == PCAPNG_MAGIC {
            Self::read_pcapng_header(path, input)
        } else if magic.len() < 4 && PCAP_MAGICS.iter().any(is_prefix) {
            Err(Error::TruncatedHeader {
                path: path.to_path_buf(),
                what: "pcap global header",
                needed: pcap::GLOBAL_HEADER_LEN as u64,
                avail: magic.len() as u64,
            })
        } else if magic.len() < 4 && is_prefix(&PCAPNG_MAGIC) {
            Err(Error::TruncatedHeader {
                path: path.to_path_buf(),
                what: "pcapng section header block",
                needed: pcapng::MIN_SHB_LEN as u64,
                avail: magic.len() as u64,
            })
        } else {
            Err(Error::NotATrace {
                path: path.to_path_buf(),
                magic: magic.to_vec(),
            })
        }
    }

    fn read_pcap_header(path: &Path, input: &mut Input) -> Result<Format, Error> {
        let len = pcap::GLOBAL_HEADER_LEN;
        if !input.ensure(len) {
            if let Some(e) = input.take_stream_error(path) {
                return Err(e);
            }
            return Err(Error::TruncatedHeader {
                path: path.to_path_buf(),
                what: "pcap global header",
                needed: len as u64,
                avail: input.rest().len() as u64,
            });
        }
        let offset = input.offset();
        let dec =
            pcap::Decoder::from_header(input.rest()).map_err(|f| f.into_error(path, offset, 1))?;
        input.pos += len;
        Ok(Format::Pcap(dec))
    }

    fn read_pcapng_header(path: &Path, input: &mut Input) -> Result<Format, Error> {
        let mut dec = pcapng::Decoder::new();
        loop {
            let offset = input.offset();
            match dec.step(input.rest()) {
                Step::Skip(n) => {
                    input.pos += n;
                    return Ok(Format::Pcapng(dec));
                }
                Step::Need { needed, .. } => {
                    if !input.ensure(needed) {
                        if let Some(e) = input.take_stream_error(path) {
                            return Err(e);
                        }
                        return Err(Error::TruncatedHeader {
                            path: path.to_path_buf(),
                            what: "pcapng section header block",
                            needed: needed as u64,
                            avail: input.rest().len() as u64,
                        });
                    }
                }
                Step::Fail(f) => return Err(f.into_error(path, offset, 1)),
                Step::Packet { .. } => {
                    // The magic said SHB, so the decoder cannot see a packet here; refuse
                    // rather than guess.
                    return Err(Error::BadBlock {
                        path: path.to_path_buf(),
                        offset,
                        index: 1,
                        block_type: u32::from_le_bytes(PCAPNG_MAGIC),
                        reason: "first block is not a section header block".to_string(),
                    });
                }
            }
        }
    }

    /// Whether the whole file is memory-mapped (so several readers can share it for free);
    /// false for gzip and other streamed input.
    pub fn is_mapped(&self) -> bool {
        self.input.stream.is_none()
    }

    /// The trace's path, as given to [`TraceFile::open`].
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's size on disk (compressed size for gzip traces); `None` when it is not a
    /// regular file (a pipe).
    pub fn size_bytes(&self) -> Option<u64> {
        self.size
    }

    /// How far into the file the reader is, in bytes, for a progress bar against
    /// [`TraceFile::size_bytes`]. Uncompressed traces: the offset of the next unread record.
    /// Gzip traces: the compressed bytes read from the file so far, which run ahead of the
    /// packets delivered by at most one decompressed chunk (4 MiB) plus a 256 KiB read buffer.
    pub fn position(&self) -> u64 {
        self.input
            .compressed_read()
            .unwrap_or_else(|| self.input.offset())
    }

    /// The next batch of at most `max_packets` packets (0 counts as 1), all over one block;
    /// `Ok(None)` at the end of the trace. A fault is reported after the packets complete before
    /// it were delivered; once an error has been returned, every later call gives `Ok(None)`.
    pub fn next_batch(&mut self, max_packets: usize) -> Result<Option<Batch>, Error> {
        if let Some(e) = self.pending.take() {
            self.done = true;
            return Err(e);
        }
        if self.done {
            return Ok(None);
        }
        let max = max_packets.max(1);
        let mut packets = Vec::with_capacity(max.min(1 << 16));
        while packets.len() < max {
            let rest = self.input.rest();
            let avail = rest.len();
            if avail == 0 {
                if self.input.can_grow() {
                    if !packets.is_empty() {
                        break;
                    }
                    self.input.refill(0);
                    continue;
                }
                self.pending = self.input.take_stream_error(&self.path);
                break;
            }
            match self.format.step(rest) {
                Step::Packet {
                    len,
                    data_off,
                    caplen,
                    wirelen,
                    ts,
                    link,
                } => {
                    packets.push(PacketDesc {
                        offset: self.input.pos + data_off,
                        caplen,
                        wirelen,
                        ts,
                        link,
                    });
                    self.input.pos += len;
                    self.delivered += 1;
                }
                Step::Skip(len) => self.input.pos += len,
                Step::Need { needed, what } => {
                    if self.input.can_grow() {
                        if !packets.is_empty() {
                            break;
                        }
                        self.input.refill(needed);
                        continue;
                    }
                    let err = self.input.take_stream_error(&self.path);
                    self.pending = Some(err.unwrap_or_else(|| Error::Truncated {
                        path: self.path.clone(),
                        offset: self.input.offset(),
                        index: self.delivered + 1,
                        what,
                        needed: needed as u64,
                        avail: avail as u64,
                    }));
                    break;
                }
                Step::Fail(fault) => {
                    let offset = self.input.offset();
                    self.pending = Some(fault.into_error(&self.path, offset, self.delivered + 1));
                    break;
                }
            }
        }
        if packets.is_empty() {
            self.done = true;
            return match self.pending.take() {
                Some(e) => Err(e),
                None => Ok(None),
            };
        }
        Ok(Some(Batch {
            block: Arc::clone(&self.input.block),
            packets,
        }))
    }
}
