//! Rows of `log_tcp_periodic` (46 columns) and `log_udp_periodic` (16 columns): one row per
//! flow and bin of activity, with the bin's counter deltas (see `engine::record::PeriodicRecord`).

use super::endpoint;
use super::num::F6;
use crate::cryptopan::Anonymizer;
use engine::record::{PeriodicDir, PeriodicRecord};
use engine::time::Timestamp;
use std::io::Write;

/// The four time columns: bin start (ms since the epoch), bin start and flow's last packet
/// relative to the flow's first packet, and the bin's duration (all in ms).
fn times(s: &mut Vec<u8>, r: &PeriodicRecord) {
    let _ = write!(
        s,
        " {} {} {} {}",
        F6(r.bin_start.epoch_ms()),
        F6(Timestamp::elapsed_ms(r.first, r.bin_start)),
        F6(Timestamp::elapsed_ms(r.first, r.last)),
        F6(Timestamp::elapsed_ms(r.bin_start, r.last)),
    );
}

fn tcp_counters(s: &mut Vec<u8>, d: &PeriodicDir) {
    let _ = write!(
        s,
        " {} {} {} {} {} {} {} {} {} {} {} {}",
        d.packets,
        d.rst,
        d.ack,
        d.pure_ack,
        d.unique_bytes,
        d.data_pkts,
        d.data_bytes,
        d.rexmit_pkts,
        d.rexmit_bytes,
        d.ooo,
        d.syn,
        d.fin
    );
}

/// Appends one `log_tcp_periodic` row, newline included, anonymising addresses with `anon`
/// (`-Y`).
pub fn tcp_row(s: &mut Vec<u8>, r: &PeriodicRecord, mut anon: Option<&mut Anonymizer>) {
    let (c_ip, c_crypto) = endpoint(&mut anon, r.c_ip);
    let (s_ip, s_crypto) = endpoint(&mut anon, r.s_ip);
    let [c, sv] = &r.dirs;
    let _ = write!(s, "{} {} {} {}", c_ip, r.c_port, s_ip, r.s_port);
    times(s, r);
    tcp_counters(s, c);
    tcp_counters(s, sv);
    let _ = write!(
        s,
        " {} {} {} {} {} {} {} {} {} {} {} {} {} {}",
        F6(c.rtt_avg),
        c.rtt_count,
        F6(sv.rtt_avg),
        sv.rtt_count,
        c.cwin_min,
        c.cwin_max,
        sv.cwin_min,
        sv.cwin_max,
        c.sacks,
        sv.sacks,
        u8::from(r.c_isint),
        u8::from(r.s_isint),
        u8::from(c_crypto),
        u8::from(s_crypto)
    );
    s.push(b'\n');
}

/// Appends one `log_udp_periodic` row, newline included, anonymising addresses with `anon`
/// (`-Y`).
pub fn udp_row(s: &mut Vec<u8>, r: &PeriodicRecord, mut anon: Option<&mut Anonymizer>) {
    let (c_ip, c_crypto) = endpoint(&mut anon, r.c_ip);
    let (s_ip, s_crypto) = endpoint(&mut anon, r.s_ip);
    let [c, sv] = &r.dirs;
    let _ = write!(
        s,
        "{} {} {} {} {} {} {} {}",
        c_ip,
        r.c_port,
        u8::from(r.c_isint),
        u8::from(c_crypto),
        s_ip,
        r.s_port,
        u8::from(r.s_isint),
        u8::from(s_crypto)
    );
    times(s, r);
    let _ = write!(
        s,
        " {} {} {} {}",
        c.packets, c.data_bytes, sv.packets, sv.data_bytes
    );
    s.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_row_matches_tstat() {
        // From zeek__wikipedia (every log on).
        let first = Timestamp::from_sec_usec(1_300_475_170, 862_384);
        let mut dirs = [PeriodicDir::default(); 2];
        dirs[0].packets = 2;
        dirs[0].data_bytes = 100;
        let r = PeriodicRecord {
            tcp: false,
            c_ip: "141.142.220.226".parse().unwrap(),
            c_port: 137,
            s_ip: "141.142.220.255".parse().unwrap(),
            s_port: 137,
            c_isint: true,
            s_isint: true,
            bin_start: first,
            first,
            last: Timestamp(first.0 + 749_871),
            dirs,
        };
        let mut s = Vec::new();
        udp_row(&mut s, &r, None);
        assert_eq!(
            String::from_utf8(s).unwrap(),
            "141.142.220.226 137 1 0 141.142.220.255 137 1 0 1300475170862.384033 0.000000 \
             749.871000 749.871000 2 100 0 0\n"
        );
        let mut t = Vec::new();
        tcp_row(&mut t, &PeriodicRecord { tcp: true, ..r }, None);
        let t = String::from_utf8(t).unwrap();
        assert_eq!(t.split_whitespace().count(), 46);
        assert!(t.ends_with(" 0.000000 0 0.000000 0 0 0 0 0 0 0 1 1 0 0\n"));
    }
}
