//! Tstat's UDP flow statistics (`udp.c`): per-direction first/last packet times, packets and
//! `UDP length − 8` bytes. A UDP flow has no closing handshake; it ends by idle timeout or at
//! the end of the trace (see `flow`). Layer-7 typing of UDP flows is not owned here.

use crate::config::PERIODIC_INTERVAL_US;
use crate::l7::{udp::UdpL7, UdpCtx};
use crate::record::{PeriodicDir, UdpDirRecord, UdpL7Record};
use crate::time::Timestamp;
use crate::wire::UdpDatagram;

/// A tracked UDP flow; its first packet's sender is the client (direction 0).
#[derive(Debug, Default)]
pub struct UdpFlow {
    /// Client-to-server and server-to-client measurements.
    pub dirs: [UdpDirRecord; 2],
    last_time: Timestamp,
    packets: u64,
    l7: UdpL7,
    /// `log_udp_periodic` state, present only when that log is on.
    periodic: Option<Box<UdpPeriodic>>,
}

/// Start of the current `log_udp_periodic` bin and the counters at that time.
#[derive(Debug, Default)]
struct UdpPeriodic {
    bin_start: Timestamp,
    /// Packets and bytes per direction at the start of the bin.
    snap: [(u64, u64); 2],
}

impl UdpFlow {
    /// Accounts one datagram travelling in direction `dir` (0 = client to server); `dns_log`:
    /// `log_dns_complete` is on and no endpoint is multicast (see [`UdpCtx::dns_log`]).
    #[inline]
    pub fn on_datagram(
        &mut self,
        dir: usize,
        dgram: &UdpDatagram<'_>,
        now: Timestamp,
        dns_log: bool,
    ) {
        self.last_time = now;
        let d = &mut self.dirs[dir];
        if d.packets == 0 {
            d.first = now;
        }
        d.last = now;
        d.bytes += u64::from(dgram.payload_len);
        d.packets += 1;
        self.packets += 1;
        let ctx = UdpCtx {
            dir,
            payload: dgram.payload,
            payload_len: dgram.payload_len,
            src_port: dgram.src_port,
            dst_port: dgram.dst_port,
            now,
            packets: self.packets,
            dns_log,
        };
        self.l7.on_datagram(&ctx);
    }

    /// Turns on `log_udp_periodic` bins for a flow created at `now`.
    pub fn enable_periodic(&mut self, now: Timestamp) {
        self.periodic = Some(Box::new(UdpPeriodic {
            bin_start: now,
            snap: [(0, 0); 2],
        }));
    }

    /// Whether a datagram arriving at `now` ends the current periodic bin (checked before the
    /// datagram is accounted, as Tstat does).
    #[inline]
    pub fn periodic_due(&self, now: Timestamp) -> bool {
        match &self.periodic {
            Some(p) => Timestamp::elapsed_us(p.bin_start, now) > PERIODIC_INTERVAL_US,
            None => false,
        }
    }

    /// Ends the current periodic bin: returns its start, the flow's first and last packet
    /// times and the per-direction deltas, and starts the next bin at `now`. `None` when the
    /// periodic log is off.
    pub fn take_periodic(
        &mut self,
        now: Timestamp,
    ) -> Option<(Timestamp, Timestamp, Timestamp, [PeriodicDir; 2])> {
        let p = self.periodic.as_deref_mut()?;
        let mut dirs = [PeriodicDir::default(); 2];
        for (d, out) in dirs.iter_mut().enumerate() {
            let cur = &self.dirs[d];
            let (pk, by) = p.snap[d];
            out.packets = cur.packets.wrapping_sub(pk);
            out.data_bytes = cur.bytes.wrapping_sub(by);
            p.snap[d] = (cur.packets, cur.bytes);
        }
        let start = p.bin_start;
        p.bin_start = now;
        Some((start, self.dirs[0].first, self.last_time, dirs))
    }

    /// Whether the last datagram is a DNS message for `log_dns_complete`.
    #[inline]
    pub fn take_dns_message(&mut self) -> bool {
        self.l7.take_dns_message()
    }

    /// Each direction's UDP type code and `L7_FLOW_*` class, for the histograms.
    #[inline]
    pub fn l7_types(&self) -> ([u8; 2], [u8; 2]) {
        (
            self.l7.raw_types(),
            [self.l7.l7_type(0), self.l7.l7_type(1)],
        )
    }

    /// The `L7_FLOW_*` class of direction `dir` so far, for the bit-rate histograms.
    #[inline]
    pub fn l7_type(&self, dir: usize) -> u8 {
        self.l7.l7_type(dir)
    }

    /// The layer-7 part of the flow's record.
    pub fn l7_record(&self) -> UdpL7Record {
        self.l7.record()
    }

    /// Time of the last packet in either direction.
    #[inline]
    pub fn last_time(&self) -> Timestamp {
        self.last_time
    }

    /// A flow of exactly one packet ("singleton"), which times out sooner.
    #[inline]
    pub fn is_singleton(&self) -> bool {
        self.packets == 1
    }
}
