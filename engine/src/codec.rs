//! The byte encoding of [`FlowRecord`]s for the record rings that cross process boundaries.
//!
//! The capture engine and the control plane are separate processes (the control plane may be
//! restarted, or upgraded, while capture goes on), so records cannot travel as Rust values:
//! they are encoded with bincode's fixed-width little-endian encoding, strings as their stored
//! bytes only. Decoding never trusts the bytes: a short, long or invalid encoding is an
//! error, never a panic.
//!
//! [`LAYOUT`] fingerprints the encoding: the format version and the source text of the record
//! definitions. A ring is created with the engine's fingerprint and a control process built
//! from other record definitions refuses to attach to it, instead of misreading records.

use crate::record::FlowRecord;
use bincode::Options;

/// Version of the framing of records in this module (bump on any change of options).
pub const FORMAT: u32 = 1;

/// Fingerprint of the record encoding: [`FORMAT`] and the source of every type a record holds
/// (`record.rs`, `time.rs`, `histo/record.rs`).
pub const LAYOUT: u64 = {
    let mut h = fnv1a(0xcbf2_9ce4_8422_2325, &FORMAT.to_le_bytes());
    h = fnv1a(h, include_str!("record.rs").as_bytes());
    h = fnv1a(h, include_str!("time.rs").as_bytes());
    h = fnv1a(h, include_str!("histo/record.rs").as_bytes());
    h
};

/// Room a record's encoding may need: every fixed-width field encodes to at most twice its
/// in-memory size (an address's variant tag is the widest case) and strings to their bytes
/// plus an 8-byte length.
pub const MAX_ENCODED: usize = 2 * std::mem::size_of::<FlowRecord>();

const fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    h
}

fn options() -> impl Options {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_little_endian()
        .with_limit(MAX_ENCODED as u64)
        .reject_trailing_bytes()
}

/// Why bytes did not decode, or a record did not encode.
#[derive(Debug, thiserror::Error)]
#[error("record encoding: {0}")]
pub struct CodecError(#[from] bincode::Error);

/// Encodes `rec` at the start of `out`; returns the encoded length.
pub fn encode(rec: &FlowRecord, out: &mut [u8]) -> Result<usize, CodecError> {
    let room = out.len();
    let mut w = &mut out[..];
    options().serialize_into(&mut w, rec)?;
    Ok(room - w.len())
}

/// Decodes one record that fills `bytes` exactly.
pub fn decode(bytes: &[u8]) -> Result<FlowRecord, CodecError> {
    Ok(options().deserialize(bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EngineConfig;
    use crate::record::{InlineStr, MessageRecord, MESSAGE_BYTES};
    use crate::source::TraceFile;
    use crate::time::Timestamp;
    use crate::worker::{FullPolicy, Worker};
    use std::net::{IpAddr, Ipv6Addr};
    use std::path::Path;
    use std::sync::Arc;

    /// Every record a worker makes of a bundled trace, with every record kind switched on.
    fn trace_records(name: &str) -> Vec<FlowRecord> {
        let cfg = EngineConfig {
            http_log: true,
            dns_log: true,
            tcp_periodic: true,
            udp_periodic: true,
            video_rates: true,
            ..EngineConfig::default()
        };
        let mut w = Worker::new(Arc::new(cfg), Vec::new(), FullPolicy::Drop);
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/pcaps")
            .join(name);
        let mut tf = TraceFile::open(&path).unwrap();
        let mut last = Timestamp::ZERO;
        while let Some(b) = tf.next_batch(256).unwrap() {
            for p in &b.packets {
                w.process(p.ts, p.link, b.data(p));
                last = p.ts;
            }
        }
        w.finish(last);
        w.into_sink()
    }

    fn message() -> MessageRecord {
        MessageRecord {
            c_ip: IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 3, 4, 5, 6)),
            c_port: 51000,
            s_ip: IpAddr::V6(Ipv6Addr::LOCALHOST),
            s_port: 443,
            c_isint: true,
            s_isint: false,
            time: Timestamp(1_470_105_451_123_456),
            dir: 1,
            kind: 0,
            len: 7000,
            bytes: InlineStr::new(&[0xa5; MESSAGE_BYTES]),
            fqdn: InlineStr::new(&[b'x'; 300]),
        }
    }

    #[test]
    fn records_round_trip() {
        let mut buf = vec![0u8; MAX_ENCODED];
        let mut recs = trace_records("zeek__wikipedia.pcap");
        recs.extend(trace_records("ndpi__quic.compact.pcap"));
        let kinds = |f: fn(&FlowRecord) -> bool| recs.iter().filter(|r| f(r)).count();
        assert!(kinds(|r| matches!(r, FlowRecord::Tcp(_))) > 0);
        assert!(kinds(|r| matches!(r, FlowRecord::Udp(_))) > 0);
        assert!(kinds(|r| matches!(r, FlowRecord::Http(_))) > 0);
        assert!(kinds(|r| matches!(r, FlowRecord::Dns(_))) > 0);
        assert!(kinds(|r| matches!(r, FlowRecord::Periodic(_))) > 0);
        recs.push(FlowRecord::Http(message()));
        for rec in recs {
            let n = encode(&rec, &mut buf).unwrap();
            assert!(n <= MAX_ENCODED);
            assert_eq!(decode(&buf[..n]).unwrap(), rec);
        }
    }

    #[test]
    fn strings_cost_their_length_only() {
        let mut buf = vec![0u8; MAX_ENCODED];
        let mut m = message();
        let full = encode(&FlowRecord::Dns(m), &mut buf).unwrap();
        m.bytes = InlineStr::new(b"abc");
        let short = encode(&FlowRecord::Dns(m), &mut buf).unwrap();
        assert_eq!(full - short, MESSAGE_BYTES - 3);
    }

    #[test]
    fn bad_bytes_are_errors() {
        let mut buf = vec![0u8; MAX_ENCODED];
        let n = encode(&FlowRecord::Http(message()), &mut buf).unwrap();
        // Every truncation fails cleanly.
        for cut in 0..n {
            assert!(decode(&buf[..cut]).is_err(), "cut at {cut}");
        }
        // Trailing bytes, an unknown variant, an over-long string.
        assert!(decode(&buf[..n + 1]).is_err());
        let mut bad = buf[..n].to_vec();
        bad[0] = 9;
        assert!(decode(&bad).is_err());
        let mut long = buf[..n].to_vec();
        // The first string is the payload: its u64 length follows the fixed fields.
        let at = long
            .windows(8)
            .position(|w| w == (MESSAGE_BYTES as u64).to_le_bytes())
            .unwrap();
        long[at..at + 8].copy_from_slice(&(MESSAGE_BYTES as u64 + 1).to_le_bytes());
        assert!(decode(&long).is_err());
    }

    #[test]
    fn too_little_room_is_an_error() {
        let mut buf = vec![0u8; 64];
        assert!(encode(&FlowRecord::Http(message()), &mut buf).is_err());
    }

    #[test]
    fn the_fingerprint_depends_on_the_definitions() {
        assert_ne!(LAYOUT, fnv1a(0xcbf2_9ce4_8422_2325, &FORMAT.to_le_bytes()));
    }
}
