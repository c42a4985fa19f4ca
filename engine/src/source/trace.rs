//! placeholder: filled by the trace reader work.
use crate::time::Timestamp;
use crate::wire::LinkType;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A buffer that packet descriptors point into: the memory-mapped file, or a decompressed chunk.
pub enum Block {
    /// A memory-mapped uncompressed trace.
    Mapped(memmap2::Mmap),
    /// A buffer owned by the reader (gzip input, pcapng re-assembly).
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
    /// The captured bytes of one packet of this batch.
    #[inline]
    pub fn data(&self, p: &PacketDesc) -> &[u8] {
        self.block.get(p.offset..p.offset + p.caplen as usize).unwrap_or(&[])
    }
}

/// Why a trace could not be read (further). Always names the file; offsets are in bytes of the
/// (decompressed) stream.
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
    /// The file is empty.
    #[error("{path}: empty file, not a packet trace")]
    Empty {
        /// The trace.
        path: PathBuf,
    },
}

/// An open trace file.
pub struct TraceFile {
    path: PathBuf,
}

impl TraceFile {
    /// Opens a trace and checks its global header.
    pub fn open(path: &Path) -> Result<TraceFile, Error> {
        Err(Error::Empty { path: path.to_path_buf() })
    }

    /// The next batch of at most `max_packets` packets; `Ok(None)` at the end of the trace.
    pub fn next_batch(&mut self, _max_packets: usize) -> Result<Option<Batch>, Error> {
        let _ = &self.path;
        Ok(None)
    }
}
