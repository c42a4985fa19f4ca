//! placeholder: filled by the wire parser work.
use super::{LinkType, Packet, Skip};
/// Decodes a captured frame down to its TCP/UDP layer.
pub fn decode(_link: LinkType, _frame: &[u8]) -> Result<Packet<'_>, Skip> {
    Err(Skip::NotIp)
}
