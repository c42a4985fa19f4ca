//! Tstat's TCP layer-7 state machine (`tcpL7.c`, `http.c`, TLS parsing): `con_t`, `http_t`,
//! HTTP counters and host, TLS details. Not classified yet: every flow reports Tstat's values
//! for an unrecognised flow.

use super::TcpCtx;
use crate::record::TcpL7Record;

/// Per-flow TCP classifier state.
#[derive(Debug, Default)]
pub struct TcpL7 {}

impl TcpL7 {
    /// Looks at one segment (called for every segment, RST included, after the statistics).
    #[inline]
    pub fn on_segment(&mut self, _ctx: &TcpCtx<'_>) {}

    /// The layer-7 part of the flow's record.
    pub fn record(&self) -> TcpL7Record {
        TcpL7Record::default()
    }
}
