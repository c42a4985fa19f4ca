//! Tstat's UDP classification (`udp.c`, `p2p.c`, `rtp.c`, QUIC): `c_type`/`s_type` and the QUIC
//! columns. Not classified yet: every flow reports type 0.

use super::UdpCtx;
use crate::record::UdpL7Record;

/// Per-flow UDP classifier state.
#[derive(Debug, Default)]
pub struct UdpL7 {}

impl UdpL7 {
    /// Looks at one datagram (after the flow's counters were updated).
    #[inline]
    pub fn on_datagram(&mut self, _ctx: &UdpCtx<'_>) {}

    /// The layer-7 part of the flow's record.
    pub fn record(&self) -> UdpL7Record {
        UdpL7Record::default()
    }
}
