//! The ring file's byte layout: header offsets, the frame format, and the checks an attaching
//! consumer runs on a header it does not trust.
//!
//! Everything here is plain arithmetic over copied bytes; the mapping itself lives in `region`.
//! All integers are stored in the host's native byte order: a ring is shared between processes
//! of one machine, never written to another.

/// `magic` at offset 0: identifies a ring file.
pub const MAGIC: [u8; 8] = *b"TSTRING\0";
/// `version` at offset 8: bumped on any change to this layout or to the framing.
pub const FORMAT_VERSION: u32 = 1;
/// Size of the header, and offset of the data area: one 4 KiB page.
pub const HEADER_SIZE: usize = 4096;
/// Number of `u64` slots in the header's `stats` area.
pub const STATS_SLOTS: usize = 64;

/// Byte offsets of the header fields (see the module documentation of `ring` for the table).
pub mod off {
    /// `[u8; 8]`, [`super::MAGIC`].
    pub const MAGIC: usize = 0;
    /// `u32`, [`super::FORMAT_VERSION`].
    pub const VERSION: usize = 8;
    /// `u32`, [`super::HEADER_SIZE`].
    pub const HEADER_SIZE: usize = 12;
    /// `u64`, bytes of the data area, a power of two.
    pub const CAPACITY: usize = 16;
    /// `u32`, the largest payload a record may have.
    pub const MAX_RECORD: usize = 24;
    /// `u32`, reserved (zero).
    pub const RESERVED0: usize = 28;
    /// `u64`, the caller's fingerprint of the record encoding.
    pub const LAYOUT: usize = 32;
    /// `u64`, a value unique to one `create` (nanoseconds since the epoch at creation).
    pub const INSTANCE: usize = 40;
    /// `u32`, the producer's process id.
    pub const PRODUCER_PID: usize = 48;
    /// `u32`, reserved (zero).
    pub const RESERVED1: usize = 52;
    /// `AtomicU64`, 0 while the producer may still push, 1 once it has pushed its last record.
    pub const CLOSED: usize = 56;
    /// `AtomicU64` on its own cache line: the producer's publication position.
    pub const HEAD: usize = 64;
    /// `AtomicU64` on its own cache line: the consumer's release position.
    pub const TAIL: usize = 128;
    /// `AtomicU64`: records refused because the ring was full (own cache line with `DROP_BYTES`).
    pub const DROPS: usize = 192;
    /// `AtomicU64`: bytes of those records (the `max_len` asked for).
    pub const DROP_BYTES: usize = 200;
    /// `[AtomicU64; STATS_SLOTS]`: counters the producer publishes.
    pub const STATS: usize = 256;
    /// End of the fixed (written once, before the file is published) part of the header.
    pub const FIXED_END: usize = CLOSED;
}

// The stats area must fit in the header page, and every atomic must be 8-byte aligned.
const _: () = assert!(off::STATS + STATS_SLOTS * 8 <= HEADER_SIZE);
const _: () = assert!(off::CLOSED % 8 == 0 && off::HEAD % 64 == 0 && off::TAIL % 64 == 0);
const _: () = assert!(off::DROPS % 64 == 0 && off::STATS % 64 == 0);

/// Length word of a frame: the payload follows it, and the frame is padded to [`ALIGN`].
pub const LEN_WORD: usize = 4;
/// Frames start at multiples of 8 bytes.
pub const ALIGN: u64 = 8;
/// Length word of a padding marker: the rest of the data area up to its end is skipped.
pub const PAD: u32 = u32::MAX;
/// Smallest data area accepted (a few frames of a few bytes; tests use it).
pub const MIN_CAPACITY: u64 = 64;
/// Largest data area accepted (1 TiB; positions are `u64` byte counts and never wrap).
pub const MAX_CAPACITY: u64 = 1 << 40;

/// Bytes a frame with a payload of `len` bytes occupies: length word plus payload, rounded up
/// to [`ALIGN`].
#[inline]
pub const fn frame_len(len: usize) -> u64 {
    (LEN_WORD as u64 + len as u64 + (ALIGN - 1)) & !(ALIGN - 1)
}

/// The fixed part of a header, decoded from bytes copied out of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fixed {
    /// `magic` as found.
    pub(crate) magic: [u8; 8],
    /// `version` as found.
    pub(crate) version: u32,
    /// `header_size` as found.
    pub(crate) header_size: u32,
    /// `capacity` as found.
    pub(crate) capacity: u64,
    /// `max_record` as found.
    pub(crate) max_record: u32,
    /// `layout` as found.
    pub(crate) layout: u64,
    /// `instance` as found.
    pub(crate) instance: u64,
    /// `producer_pid` as found.
    pub(crate) producer_pid: u32,
}

impl Fixed {
    /// Decodes the fixed fields from the first [`off::FIXED_END`] bytes of a header.
    pub(crate) fn decode(b: &[u8; off::FIXED_END]) -> Self {
        let u32_at = |o: usize| u32::from_ne_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        let u64_at = |o: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[o..o + 8]);
            u64::from_ne_bytes(w)
        };
        let mut magic = [0u8; 8];
        magic.copy_from_slice(&b[off::MAGIC..off::MAGIC + 8]);
        Fixed {
            magic,
            version: u32_at(off::VERSION),
            header_size: u32_at(off::HEADER_SIZE),
            capacity: u64_at(off::CAPACITY),
            max_record: u32_at(off::MAX_RECORD),
            layout: u64_at(off::LAYOUT),
            instance: u64_at(off::INSTANCE),
            producer_pid: u32_at(off::PRODUCER_PID),
        }
    }

    /// Encodes the fixed fields (reserved words zero).
    pub(crate) fn encode(&self) -> [u8; off::FIXED_END] {
        let mut b = [0u8; off::FIXED_END];
        b[off::MAGIC..off::MAGIC + 8].copy_from_slice(&self.magic);
        b[off::VERSION..off::VERSION + 4].copy_from_slice(&self.version.to_ne_bytes());
        b[off::HEADER_SIZE..off::HEADER_SIZE + 4].copy_from_slice(&self.header_size.to_ne_bytes());
        b[off::CAPACITY..off::CAPACITY + 8].copy_from_slice(&self.capacity.to_ne_bytes());
        b[off::MAX_RECORD..off::MAX_RECORD + 4].copy_from_slice(&self.max_record.to_ne_bytes());
        b[off::LAYOUT..off::LAYOUT + 8].copy_from_slice(&self.layout.to_ne_bytes());
        b[off::INSTANCE..off::INSTANCE + 8].copy_from_slice(&self.instance.to_ne_bytes());
        b[off::PRODUCER_PID..off::PRODUCER_PID + 4]
            .copy_from_slice(&self.producer_pid.to_ne_bytes());
        b
    }
}

/// Why a ring geometry (capacity, max record) is unusable; shared by `create` and `attach`.
pub(crate) fn check_geometry(capacity: u64, max_record: u64) -> Result<(), &'static str> {
    if !capacity.is_power_of_two() {
        return Err("data capacity is not a power of two");
    }
    if !(MIN_CAPACITY..=MAX_CAPACITY).contains(&capacity) {
        return Err("data capacity is outside 64 B ..= 1 TiB");
    }
    if max_record >= u64::from(PAD) {
        return Err("max record size does not fit the u32 length word");
    }
    // A frame of the largest record must fit at least twice, so that an empty ring accepts it
    // whatever the current offset (the skipped tail before a wrap is shorter than one frame).
    if frame_len(max_record as usize) > capacity / 2 {
        return Err("max record frame is larger than half the data capacity");
    }
    Ok(())
}

/// Why a pair of positions read from a header is impossible, if it is.
pub(crate) fn check_positions(head: u64, tail: u64, capacity: u64) -> Result<(), &'static str> {
    if tail > head {
        return Err("tail is beyond head");
    }
    if head - tail > capacity {
        return Err("head - tail exceeds the data capacity");
    }
    if head % ALIGN != 0 || tail % ALIGN != 0 {
        return Err("head or tail is not 8-byte aligned");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_lengths_are_padded_to_eight() {
        assert_eq!(frame_len(0), 8);
        assert_eq!(frame_len(4), 8);
        assert_eq!(frame_len(5), 16);
        assert_eq!(frame_len(12), 16);
        assert_eq!(frame_len(13), 24);
        assert_eq!(frame_len(4092), 4096);
    }

    #[test]
    fn fixed_header_round_trips() {
        let f = Fixed {
            magic: MAGIC,
            version: FORMAT_VERSION,
            header_size: HEADER_SIZE as u32,
            capacity: 1 << 20,
            max_record: 4096,
            layout: 0xdead_beef_0123_4567,
            instance: 42,
            producer_pid: 7,
        };
        assert_eq!(Fixed::decode(&f.encode()), f);
    }

    #[test]
    fn geometry_limits() {
        assert!(check_geometry(64, 20).is_ok()); // frame 24 <= 32
        assert!(check_geometry(64, 29).is_err()); // frame 40 > 32
        assert!(check_geometry(96, 8).is_err());
        assert!(check_geometry(32, 4).is_err());
        assert!(check_geometry(1 << 41, 4).is_err());
        assert!(check_geometry(1 << 40, u64::from(u32::MAX)).is_err());
    }

    #[test]
    fn position_checks() {
        assert!(check_positions(0, 0, 64).is_ok());
        assert!(check_positions(64, 0, 64).is_ok());
        assert!(check_positions(72, 0, 64).is_err());
        assert!(check_positions(8, 16, 64).is_err());
        assert!(check_positions(12, 8, 64).is_err());
    }
}
