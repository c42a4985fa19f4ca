//! Tstat's UDP flow statistics (`udp.c`): per-direction first/last packet times, packets and
//! `UDP length − 8` bytes. A UDP flow has no closing handshake; it ends by idle timeout or at
//! the end of the trace (see `flow`). Layer-7 typing of UDP flows is not owned here.

use crate::l7::{udp::UdpL7, UdpCtx};
use crate::record::{UdpDirRecord, UdpL7Record};
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

    /// Whether the last datagram is a DNS message for `log_dns_complete`.
    #[inline]
    pub fn take_dns_message(&mut self) -> bool {
        self.l7.take_dns_message()
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
