//! Writing a complete interval as Tstat does: `<date>.out/NNN/` (or `LAST/`) with one file per
//! enabled histogram and the `addresses` file.
//!
//! A histogram file is `#<description>`, `#RANGE: min=.. bin_size=.. max=..`, then
//! `<label> <count>` for every non-empty bin in bin order. The bit-rate histograms print, per
//! class, the bytes of the interval as bit/s (`bytes × 8000 / elapsed ms`, truncated as
//! Tstat's `long` bins truncate), and `profile_flows` the average number of tracked flows.
//! Histograms are written in Tstat's order, so of the two definitions named
//! `tcp_net_dup_out` the second (outgoing) one is the file that remains, as with Tstat.

use super::conf::HistoSpec;
use super::merge::IntervalHisto;
use engine::histo::defs::{self, id, Def};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Tstat's `MAX_ADX_SLOTS`: the `addresses` file lists subnets in the order of this hash.
const ADX_SLOTS: u32 = 70001;

/// The name of an interval's directory: `NNN` (three digits at least) or `LAST`.
pub fn dir_name(iv: &IntervalHisto) -> String {
    if iv.last {
        "LAST".to_string()
    } else {
        format!("{:03}", iv.index)
    }
}

/// Writes `iv` below `out` (the `<date>.out` directory); returns the directory written.
pub fn write_interval(out: &Path, spec: &HistoSpec, iv: &IntervalHisto) -> anyhow::Result<PathBuf> {
    use anyhow::Context;
    let dir = out.join(dir_name(iv));
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("{}: cannot create histogram directory", dir.display()))?;
    let mut text = String::with_capacity(4096);
    for (i, def) in defs::all().iter().enumerate() {
        if !spec.enabled.get(i).copied().unwrap_or(false) {
            continue;
        }
        text.clear();
        histogram_text(&mut text, i as u16, def, iv);
        let path = dir.join(def.name);
        std::fs::write(&path, text.as_bytes())
            .with_context(|| format!("{}: cannot write", path.display()))?;
    }
    if spec.adx {
        text.clear();
        addresses_text(&mut text, spec.adx_mask, iv);
        let path = dir.join("addresses");
        let mut f = std::fs::File::create(&path)
            .with_context(|| format!("{}: cannot write", path.display()))?;
        f.write_all(text.as_bytes())
            .with_context(|| format!("{}: cannot write", path.display()))?;
    }
    Ok(dir)
}

/// Whether Tstat sets this histogram's bins to bit rates at the dump (its "fake" histograms).
pub fn is_bitrate(name: &str) -> bool {
    name.contains("_bitrate_") || name.starts_with("video_rate_")
}

/// The values Tstat prints for histogram `hid` of `iv`: `(label, value)` of the non-zero bins.
pub fn printed(hid: u16, def: &Def, iv: &IntervalHisto) -> Vec<(i64, i64)> {
    let bins = &iv.bins[usize::from(hid)];
    if hid == id::PROFILE_FLOWS {
        // AVE_get_stat: the integral since the previous dump (since time 0 before the first:
        // Tstat starts the window when it creates the histograms, before any packet).
        let t0 = if iv.index == 0 { 0 } else { iv.start.0 };
        let elapsed = (iv.end.0 - t0) as f64;
        if elapsed <= 0.0 {
            return Vec::new();
        }
        // PROFILE_FLOWS_ACTIVE_UDP is bin 2, PROFILE_FLOWS_ACTIVE_TCP bin 4.
        let mut v = Vec::new();
        for (bin, integral) in [(2u32, iv.active_flows[1]), (4, iv.active_flows[0])] {
            let avg = (integral / elapsed * 1000.0) as i64;
            if avg != 0 {
                v.push((def.label(bin), avg));
            }
        }
        return v;
    }
    if is_bitrate(def.name) {
        let ms = iv.elapsed_ms();
        if ms == 0.0 {
            return Vec::new();
        }
        return bins
            .iter()
            .map(|(&bin, &bytes)| (def.label(bin), (bytes as f64 * 8000.0 / ms) as i64))
            .filter(|&(_, v)| v != 0)
            .collect();
    }
    bins.iter()
        .filter(|(_, &c)| c != 0)
        .map(|(&bin, &c)| (def.label(bin), c as i64))
        .collect()
}

/// The text of one histogram file.
pub fn histogram_text(out: &mut String, hid: u16, def: &Def, iv: &IntervalHisto) {
    let _ = writeln!(out, "#{}", def.descr);
    let _ = writeln!(
        out,
        "#RANGE: min={} bin_size={} max={}",
        def.min, def.bin_size, def.max
    );
    for (label, v) in printed(hid, def, iv) {
        let _ = writeln!(out, "{label} {v}");
    }
}

/// The text of the `addresses` file (Tstat's `print_adx`): subnets in the order of Tstat's
/// address hash (the subnet as stored in memory, modulo its slot count).
pub fn addresses_text(out: &mut String, mask: u32, iv: &IntervalHisto) {
    let m = mask.to_be_bytes();
    let _ = writeln!(
        out,
        "#Number of packets per subnet ({}.{}.{}.{} NETMASK) ",
        m[0], m[1], m[2], m[3]
    );
    out.push_str("#Subnet IP \tsrc_hits \tdst_hits \tsrc_bytes \tdst_bytes\n");
    let mut nets: Vec<(&u32, &[u64; 4])> = iv
        .adx
        .iter()
        .filter(|(_, c)| c[0] != 0 || c[1] != 0)
        .collect();
    let slot = |net: u32| {
        let seed = u32::from_le_bytes(net.to_be_bytes());
        (seed % ADX_SLOTS, seed)
    };
    nets.sort_by_key(|(n, _)| slot(**n));
    for (net, c) in nets {
        let a = net.to_be_bytes();
        let _ = writeln!(
            out,
            "{}.{}.{}.{}\t{}\t{}\t{}\t{}",
            a[0], a[1], a[2], a[3], c[0], c[1], c[2], c[3]
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::histo::{HistoChunk, HistoItem};
    use engine::time::Timestamp;

    fn interval(items: &[HistoItem], start: i64, end: i64) -> IntervalHisto {
        let mut m = super::super::merge::Merger::new(1);
        let mut c = HistoChunk::new(0, 0, [Timestamp(start), Timestamp(end)], true);
        for i in items {
            c.push(*i);
        }
        c.done = true;
        m.add(&c).unwrap()
    }

    #[test]
    fn a_histogram_file_is_tstat_s() {
        let iv = interval(
            &[
                HistoItem::Bin {
                    id: id::IP_TTL_LOC,
                    bin: 65,
                    count: 61,
                },
                HistoItem::Bin {
                    id: id::IP_TTL_LOC,
                    bin: 2,
                    count: 4,
                },
            ],
            0,
            1,
        );
        let mut s = String::new();
        histogram_text(
            &mut s,
            id::IP_TTL_LOC,
            &defs::all()[usize::from(id::IP_TTL_LOC)],
            &iv,
        );
        assert_eq!(
            s,
            "#IP TTL - local packets\n#RANGE: min=0 bin_size=1 max=255\n1 4\n64 61\n"
        );
    }

    #[test]
    fn bit_rates_are_bytes_over_the_interval() {
        // 17986 bytes in 6.378865 s are 22556.99 bit/s: Tstat's long bins truncate.
        let iv = interval(
            &[HistoItem::Bin {
                id: id::IP_BITRATE_LOC,
                bin: 1,
                count: 17986,
            }],
            1_300_475_167_096_535,
            1_300_475_173_475_400,
        );
        let def = &defs::all()[usize::from(id::IP_BITRATE_LOC)];
        assert_eq!(printed(id::IP_BITRATE_LOC, def, &iv), vec![(0, 22556)]);
    }

    #[test]
    fn addresses_are_listed_in_tstat_hash_order() {
        let net = |s: &str| u32::from(s.parse::<std::net::Ipv4Addr>().unwrap());
        let items: Vec<HistoItem> = ["141.142.2.0", "224.0.0.0", "208.80.152.0"]
            .iter()
            .map(|n| HistoItem::Adx {
                net: net(n),
                field: engine::histo::AdxField::DstHits,
                value: 1,
            })
            .collect();
        let iv = interval(&items, 0, 1);
        let mut s = String::new();
        addresses_text(&mut s, 0xffff_ff00, &iv);
        let rows: Vec<&str> = s
            .lines()
            .skip(2)
            .map(|l| l.split('\t').next().unwrap())
            .collect();
        assert_eq!(rows, ["224.0.0.0", "141.142.2.0", "208.80.152.0"]);
        assert!(s.starts_with("#Number of packets per subnet (255.255.255.0 NETMASK) \n"));
    }
}
