//! A [`MessageRecord`] as the worker builds it for the per-message logs.

use engine::record::{InlineStr, MessageRecord};
use engine::time::Timestamp;
use std::net::IpAddr;

/// The record of one message of a fixed IPv4 or IPv6 client/server pair.
pub fn message(
    v6: bool,
    dir: u8,
    kind: u8,
    len: u32,
    payload: &[u8],
    fqdn: &[u8],
) -> MessageRecord {
    let (c_ip, s_ip): (IpAddr, IpAddr) = if v6 {
        (
            "2001:db8::1".parse().unwrap(),
            "2001:db8::2".parse().unwrap(),
        )
    } else {
        ([10, 0, 0, 1].into(), [192, 0, 2, 1].into())
    };
    MessageRecord {
        c_ip,
        c_port: 40_000,
        s_ip,
        s_port: 80,
        c_isint: true,
        s_isint: false,
        time: Timestamp::from_sec_usec(1_700_000_000, 123_456),
        dir,
        kind,
        len,
        bytes: InlineStr::new(payload),
        fqdn: InlineStr::new(fqdn),
    }
}
