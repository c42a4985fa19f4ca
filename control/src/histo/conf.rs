//! The `-H` histogram configuration file: which histograms Tstat collects and writes, and the
//! `addresses` subnet counters.
//!
//! Tstat's syntax, token by token: `include NAME`, `include ALL` (every histogram and the
//! `addresses` file), `include ADX` (the `addresses` file), `include_matching SUBSTRING` (every
//! histogram whose name contains it), `adx_mask N` (prefix length 1..32 or a dotted mask; an
//! invalid mask falls back to /24 with a warning, as in Tstat), and the secondary address
//! engine's `adx2_mask`, `adx2_sample`, `adx3_sample` (accepted; that engine's `addresses2`
//! file is not written). Lines starting with `#` are comments. An unknown keyword or histogram
//! name is an error naming the file and the line.

use engine::histo::defs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// Tstat's default `adx_mask`: /24.
pub const DEFAULT_ADX_MASK: u32 = 0xffff_ff00;

/// A validated `-H` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoSpec {
    /// Histograms collected and written, by id.
    pub enabled: Vec<bool>,
    /// The `addresses` file is written (`include ADX` or `include ALL`).
    pub adx: bool,
    /// Subnet mask of the `addresses` file, big-endian (`0xffffff00` is /24).
    pub adx_mask: u32,
    /// Warnings met while reading (invalid masks, unsupported options).
    pub warnings: Vec<String>,
}

impl Default for HistoSpec {
    fn default() -> Self {
        HistoSpec {
            enabled: vec![false; defs::COUNT],
            adx: false,
            adx_mask: DEFAULT_ADX_MASK,
            warnings: Vec::new(),
        }
    }
}

impl HistoSpec {
    /// Everything (`include ALL`).
    pub fn all() -> HistoSpec {
        HistoSpec {
            enabled: vec![true; defs::COUNT],
            adx: true,
            ..HistoSpec::default()
        }
    }

    /// The workers' part of it.
    pub fn engine(&self) -> engine::histo::HistoConfig {
        engine::histo::HistoConfig {
            enabled: self.enabled.clone(),
            adx_mask: self.adx.then_some(self.adx_mask),
        }
    }

    /// Number of histograms enabled.
    pub fn count(&self) -> usize {
        self.enabled.iter().filter(|e| **e).count()
    }
}

/// A `-H` file that could not be used.
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
    /// A statement is not valid.
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

/// Reads and validates a `-H` file.
pub fn parse_file(path: &Path) -> Result<HistoSpec, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text).map_err(|(line, what)| Error::Syntax {
        path: path.to_path_buf(),
        line,
        what,
    })
}

/// Parses the text of a `-H` file; an error is `(line, message)`.
pub fn parse(text: &str) -> Result<HistoSpec, (usize, String)> {
    let mut spec = HistoSpec::default();
    // Tokens with their line numbers; a line whose first non-blank character is `#` is a
    // comment.
    let tokens: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with('#'))
        .flat_map(|(i, l)| l.split_whitespace().map(move |t| (i + 1, t)))
        .collect();
    let mut it = tokens.into_iter();
    while let Some((line, keyword)) = it.next() {
        let mut arg = || {
            it.next()
                .map(|(_, a)| a)
                .ok_or_else(|| (line, format!("`{keyword}` needs an argument")))
        };
        match keyword {
            "include" => match arg()? {
                "ALL" => {
                    spec.adx = true;
                    spec.enabled.iter_mut().for_each(|e| *e = true);
                }
                "ADX" => spec.adx = true,
                name => match defs::find(name) {
                    Some(id) => spec.enabled[usize::from(id)] = true,
                    None => return Err((line, format!("unknown histogram `{name}`"))),
                },
            },
            "include_matching" => {
                let sub = arg()?;
                for (i, d) in defs::all().iter().enumerate() {
                    if d.name.contains(sub) {
                        spec.enabled[i] = true;
                    }
                }
            }
            "adx_mask" => {
                let m = arg()?;
                spec.adx_mask = match parse_mask(m) {
                    Some(mask) => mask,
                    None => {
                        spec.warnings.push(format!(
                            "line {line}: invalid adx_mask `{m}`, using 255.255.255.0"
                        ));
                        DEFAULT_ADX_MASK
                    }
                };
            }
            "adx2_mask" | "adx2_sample" | "adx3_sample" => {
                arg()?;
                spec.warnings.push(format!(
                    "line {line}: `{keyword}`: the secondary address engine (addresses2) is not supported"
                ));
            }
            other => return Err((line, format!("unknown keyword `{other}`"))),
        }
    }
    Ok(spec)
}

/// Tstat's `validate_adx_mask`: a prefix length 1..32, or a dotted mask.
fn parse_mask(s: &str) -> Option<u32> {
    if s.contains('.') {
        return s.parse::<Ipv4Addr>().ok().map(u32::from);
    }
    let bits: u32 = s.parse().ok()?;
    (1..=32).contains(&bits).then(|| u32::MAX << (32 - bits))
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::histo::defs::id;

    #[test]
    fn include_all_adx_and_names() {
        let s = parse("# every histogram\ninclude ALL\n").unwrap();
        assert_eq!(s.count(), defs::COUNT);
        assert!(s.adx);
        let s = parse("include ip_len_in\ninclude ADX\n\ninclude   tcp_cwnd\n").unwrap();
        assert_eq!(s.count(), 2);
        assert!(s.enabled[usize::from(id::IP_LEN_IN)] && s.enabled[usize::from(id::TCP_CWND)]);
        assert!(s.adx);
        // Tstat's find_histo takes the first of the two tcp_net_dup_out.
        let s = parse("include tcp_net_dup_out").unwrap();
        assert!(s.enabled[usize::from(id::TCP_NET_DUP_LOC)]);
        assert!(!s.enabled[usize::from(id::TCP_NET_DUP_OUT)]);
    }

    #[test]
    fn include_matching_selects_by_substring() {
        let s = parse("include_matching rtt_avg").unwrap();
        let names: Vec<&str> = defs::all()
            .iter()
            .zip(&s.enabled)
            .filter(|(_, e)| **e)
            .map(|(d, _)| d.name)
            .collect();
        assert_eq!(names.len(), 5, "{names:?}");
        assert!(names.iter().all(|n| n.contains("rtt_avg")));
        assert!(!s.adx);
    }

    #[test]
    fn masks_and_errors() {
        assert_eq!(parse("adx_mask 16").unwrap().adx_mask, 0xffff_0000);
        assert_eq!(
            parse("adx_mask 255.255.240.0").unwrap().adx_mask,
            0xffff_f000
        );
        let s = parse("adx_mask 40").unwrap();
        assert_eq!(s.adx_mask, DEFAULT_ADX_MASK);
        assert_eq!(s.warnings.len(), 1);
        assert_eq!(parse("include nope").unwrap_err().0, 1);
        assert_eq!(parse("\n\ninclude").unwrap_err().0, 3);
        assert!(parse("exclude ALL")
            .unwrap_err()
            .1
            .contains("unknown keyword"));
        assert_eq!(parse("adx2_mask 24").unwrap().warnings.len(), 1);
    }
}
