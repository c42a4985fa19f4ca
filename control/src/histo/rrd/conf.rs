//! The `-R` file (Tstat's `rrd.conf`): which statistics of which histograms go to RRD files.
//!
//! One line per histogram: `<histo_name> [avg] [min] [max] [var] [stdev] [hit]
//! [idx:v1,v2,…[,other]] [prc:p1,p2,…]`. As Tstat's `rrdtool_parse_line` reads it:
//!
//! - a line with `#` anywhere is ignored (Tstat's test is `index(line, '#')`);
//! - tokens are separated by spaces only, and of each token only its first word counts (Tstat
//!   splits with `strtok(" ")` and reads each piece with `sscanf("%s")`), so in `name\tavg`
//!   the `avg` is lost, as with Tstat: a warning says so;
//! - an unknown histogram or token is an error naming the file and the line (Tstat exits);
//! - a token containing `idx:` or `prc:` lists bin values or percentiles; of several on one
//!   line the last one counts; `other` among the `idx` values adds the `idxoth` file;
//! - a histogram named on several lines gets the union of the flags, and the `idx`/`prc` lists
//!   of the last line that has them (`idxoth`, once set, stays).
//!
//! Differences, on purpose: a blank line is skipped (Tstat would read a garbage name and stop),
//! and an `idx` or `prc` value that is not a number is an error (Tstat's `atoi`/`atof` make it
//! 0).

use engine::histo::defs;
use std::path::{Path, PathBuf};

/// What is kept of one histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct RrdEntry {
    /// The histogram's id (`engine::histo::defs`); of two with the same name, the first, as
    /// Tstat's `find_histo` takes.
    pub hid: u16,
    /// Its name: the data source name and the start of every file name.
    pub name: &'static str,
    /// `avg`: mean of the interval's samples.
    pub avg: bool,
    /// `min`: smallest sample.
    pub min: bool,
    /// `max`: largest sample.
    pub max: bool,
    /// `var`: sample variance.
    pub var: bool,
    /// `stdev`: its square root.
    pub stdev: bool,
    /// `hit`: number of samples (Tstat parses it but never creates its file; we do).
    pub hit: bool,
    /// `idx:` values: the count of the bin holding each.
    pub idx: Vec<i32>,
    /// `other` among the `idx:` values: the in-range samples in none of the listed bins.
    pub idx_other: bool,
    /// `prc:` percentiles: the lower edge of the bin where the CDF reaches each.
    pub prc: Vec<f64>,
}

impl RrdEntry {
    fn new(hid: u16, name: &'static str) -> RrdEntry {
        RrdEntry {
            hid,
            name,
            avg: false,
            min: false,
            max: false,
            var: false,
            stdev: false,
            hit: false,
            idx: Vec::new(),
            idx_other: false,
            prc: Vec::new(),
        }
    }

    /// The statistics with a file, in Tstat's creation order (`rrdtool_create`: avg, min, max,
    /// var, idxoth, stdev, the idx values, the percentiles), then `hit`.
    pub fn stats(&self) -> Vec<String> {
        let mut v: Vec<String> = [
            (self.avg, "avg"),
            (self.min, "min"),
            (self.max, "max"),
            (self.var, "var"),
            (self.idx_other, "idxoth"),
            (self.stdev, "stdev"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, s)| s.to_string())
        .collect();
        v.extend(self.idx.iter().map(|i| idx_stat(*i)));
        v.extend(self.prc.iter().map(|p| prc_stat(*p)));
        if self.hit {
            v.push("hit".to_string());
        }
        // A value listed twice has one file.
        let mut seen = std::collections::HashSet::new();
        v.retain(|s| seen.insert(s.clone()));
        v
    }
}

/// The statistic name of bin value `v`: `idx40`.
pub fn idx_stat(v: i32) -> String {
    format!("idx{v}")
}

/// The statistic name of percentile `p`: `prc95`, or `prc99.900` when `p` is not an integer
/// (Tstat's `%.0f` / `%.3f`).
pub fn prc_stat(p: f64) -> String {
    if p.trunc() == p && p.abs() < 2.0e9 {
        format!("prc{p:.0}")
    } else {
        format!("prc{p:.3}")
    }
}

/// A validated `-R` file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RrdConf {
    /// One entry per histogram, in the order of first appearance.
    pub entries: Vec<RrdEntry>,
    /// Warnings met while reading (words lost to tabs).
    pub warnings: Vec<String>,
}

/// A `-R` file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("{path}: cannot read")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A line is not valid.
    #[error("{path}:{line}: {what}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        what: String,
    },
}

impl RrdConf {
    /// Reads and validates a `-R` file.
    pub fn parse_file(path: &Path) -> Result<RrdConf, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        RrdConf::parse(&text).map_err(|(line, what)| Error::Syntax {
            path: path.to_path_buf(),
            line,
            what,
        })
    }

    /// Parses the text of a `-R` file; an error is `(line, message)`.
    pub fn parse(text: &str) -> Result<RrdConf, (usize, String)> {
        let mut conf = RrdConf::default();
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            if line.contains('#') || line.trim().is_empty() {
                continue;
            }
            // Space-separated pieces, each read as its first word (see the module doc).
            let mut words = Vec::new();
            for piece in line.split(' ') {
                let mut w = piece.split_whitespace();
                let Some(first) = w.next() else { continue };
                let lost: Vec<&str> = w.collect();
                if !lost.is_empty() {
                    conf.warnings.push(format!(
                        "line {n}: `{}` ignored after `{first}` (only spaces separate tokens, as in Tstat)",
                        lost.join(" ")
                    ));
                }
                words.push(first);
            }
            let Some((&name, rest)) = words.split_first() else {
                continue;
            };
            let hid = defs::find(name).ok_or_else(|| (n, format!("unknown histogram `{name}`")))?;
            let k = match conf.entries.iter().position(|e| e.hid == hid) {
                Some(k) => k,
                None => {
                    let d = &defs::all()[usize::from(hid)];
                    conf.entries.push(RrdEntry::new(hid, d.name));
                    conf.entries.len() - 1
                }
            };
            let e = &mut conf.entries[k];
            let (mut idx, mut prc) = (None, None);
            for &w in rest {
                match w {
                    _ if w == name => {}
                    "hit" => e.hit = true,
                    "avg" => e.avg = true,
                    "min" => e.min = true,
                    "max" => e.max = true,
                    "var" => e.var = true,
                    "stdev" => e.stdev = true,
                    _ if w.contains("idx:") => idx = Some(w),
                    _ if w.contains("prc:") => prc = Some(w),
                    _ => return Err((n, format!("unknown token `{w}`"))),
                }
            }
            if let Some(w) = idx {
                e.idx.clear();
                for v in list(w) {
                    if v == "other" {
                        e.idx_other = true;
                    } else {
                        e.idx.push(v.parse().map_err(|_| {
                            (n, format!("`{w}`: `{v}` is not an integer bin value"))
                        })?);
                    }
                }
            }
            if let Some(w) = prc {
                e.prc.clear();
                for v in list(w) {
                    let p: f64 = v
                        .parse()
                        .ok()
                        .filter(|p: &f64| p.is_finite())
                        .ok_or_else(|| (n, format!("`{w}`: `{v}` is not a percentile")))?;
                    e.prc.push(p);
                }
            }
        }
        Ok(conf)
    }

    /// The RRD file names, `<histo>.<stat>.rrd`, histogram by histogram.
    pub fn file_names(&self) -> Vec<String> {
        self.entries
            .iter()
            .flat_map(|e| e.stats().into_iter().map(|s| format!("{}.{s}.rrd", e.name)))
            .collect()
    }

    /// Turns on, in `spec`, every histogram this file names: as in Tstat, `-R` collects its
    /// histograms whether `-H` selected them or not (and they are then written with the
    /// others at every dump).
    pub fn enable(&self, spec: &mut crate::histo::HistoSpec) {
        for e in &self.entries {
            if let Some(on) = spec.enabled.get_mut(usize::from(e.hid)) {
                *on = true;
            }
        }
    }
}

/// The values of an `idx:`/`prc:` token: what follows the keyword, split at commas (Tstat's
/// `strtok(":,")` then `strtok(",")`).
fn list(token: &str) -> impl Iterator<Item = &str> {
    let after = match token.find([':', ',']) {
        Some(i) => &token[i + 1..],
        None => "",
    };
    after.split(',').filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::histo::defs::id;

    #[test]
    fn statistics_and_file_names() {
        let c = RrdConf::parse(
            "# RRD selection\nip_len_in \t\t\tavg prc:50,90,95 idx:40,1500,other\n\
             udp_cl_p_in\t      avg max stdev prc:50,95,99.9\n",
        )
        .unwrap();
        assert_eq!(c.entries.len(), 2);
        let e = &c.entries[0];
        assert_eq!((e.hid, e.name), (id::IP_LEN_IN, "ip_len_in"));
        assert!(e.avg && !e.min && !e.max && !e.var && !e.stdev && !e.hit && e.idx_other);
        assert_eq!(e.idx, [40, 1500]);
        assert_eq!(e.prc, [50.0, 90.0, 95.0]);
        assert_eq!(
            c.file_names(),
            [
                "ip_len_in.avg.rrd",
                "ip_len_in.idxoth.rrd",
                "ip_len_in.idx40.rrd",
                "ip_len_in.idx1500.rrd",
                "ip_len_in.prc50.rrd",
                "ip_len_in.prc90.rrd",
                "ip_len_in.prc95.rrd",
                "udp_cl_p_in.avg.rrd",
                "udp_cl_p_in.max.rrd",
                "udp_cl_p_in.stdev.rrd",
                "udp_cl_p_in.prc50.rrd",
                "udp_cl_p_in.prc95.rrd",
                "udp_cl_p_in.prc99.900.rrd",
            ]
        );
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn tstat_quirks_comments_tabs_and_repeated_lines() {
        let c = RrdConf::parse(
            "ip_ttl_in avg # comment: the whole line is ignored\n\
             ip_ttl_in\tmin max\n\
             ip_ttl_in idx:1,2 var\n\
             ip_ttl_in idx:64 idx:128,other prc:99.5\n\
             \n\
             ip_ttl_in hit\n",
        )
        .unwrap();
        assert_eq!(c.entries.len(), 1);
        let e = &c.entries[0];
        // `min` was glued to the name by a tab: lost, as in Tstat.
        assert!(!e.avg && !e.min && e.max && e.var && e.hit && e.idx_other);
        assert_eq!(c.warnings.len(), 1);
        assert!(c.warnings[0].starts_with("line 2:"), "{:?}", c.warnings);
        // The last idx: token of the last line that has one.
        assert_eq!(e.idx, [128]);
        assert_eq!(e.prc, [99.5]);
        assert_eq!(
            e.stats(),
            ["max", "var", "idxoth", "idx128", "prc99.500", "hit"]
        );
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(RrdConf::parse("\nnope avg\n").unwrap_err().0, 2);
        let e = RrdConf::parse("ip_len_in avg\nip_len_in mean\n").unwrap_err();
        assert_eq!(e.0, 2);
        assert!(e.1.contains("unknown token `mean`"), "{}", e.1);
        assert!(RrdConf::parse("ip_len_in idx:4x")
            .unwrap_err()
            .1
            .contains("`4x`"));
        assert!(RrdConf::parse("ip_len_in prc:high").is_err());
        let dir = std::env::temp_dir().join(format!("rrd-conf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("rrd.conf");
        std::fs::write(&p, "ip_len_in avg\nbogus\n").unwrap();
        let msg = RrdConf::parse_file(&p).unwrap_err().to_string();
        assert!(
            msg.ends_with("rrd.conf:2: unknown histogram `bogus`"),
            "{msg}"
        );
        assert!(RrdConf::parse_file(&dir.join("missing")).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn prc_names_follow_tstat_formats() {
        assert_eq!(prc_stat(95.0), "prc95");
        assert_eq!(prc_stat(99.9), "prc99.900");
        assert_eq!(prc_stat(99.999), "prc99.999");
        assert_eq!(idx_stat(-1), "idx-1");
    }

    #[test]
    fn the_conformance_file_selects_tstat_s_1491_files() {
        // tests/rrd/rrd.conf: the rrd.conf of the conformance run (see tests/rrd/README.md).
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/rrd/rrd.conf");
        let c = RrdConf::parse_file(&p).unwrap();
        assert_eq!(c.file_names().len(), 1491);
    }
}
