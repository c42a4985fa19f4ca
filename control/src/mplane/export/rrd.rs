//! RRD export, the `tstat-exporter_rrd` capability (mplane.md §11.1): the averages of every RRD
//! file of the RRD directory (Tstat's `-r`), sent to the repository's `collect_rrd` port as JSON
//! triples over HTTPS with the probe's certificate.
//!
//! What is sent, round by round:
//! - every `*.rrd` file directly in [`RrdExportConfig::rrd_dir`] is read with librrd's `fetch`,
//!   consolidation `AVERAGE`, resolution [`RrdExportConfig::resolution_s`] (300 s);
//! - the first round reads the window `[start − 300 s, now]`, `start` being the scope's start;
//!   every [`RrdExportConfig::interval`] (300 s) after that, each file's rows after the last time
//!   exported from it. Unknown (NaN) rows are skipped, so a row that is still unknown is read
//!   again next round; a file never reads further back than [`RrdExportConfig::max_lookback`]
//!   (past that librrd would switch to a coarser archive);
//! - the body is a JSON list of `[file_name, unix_time, value]`, times and values as JSON
//!   floats (`[["ip_bitrate_in.rrd", 1795319700.0, 1116.43], …]`), `POST
//!   /register/result/indirect_export` with `Content-Type: application/json` exactly. The time is
//!   the end of the 300 s interval the average covers (what `rrdtool fetch` prints).
//!
//! **Several data sources.** Tstat's files, and ours (`<histogram>.<stat>.rrd`), hold one data
//! source, named by the file alone. The 2015 exporter sent only the first data source of a file;
//! here a file of several sends every one, named `<file_name>:<ds_name>` (the repository turns
//! the suffix into a last Graphite node, [`crate::repository::metric_path`]).
//!
//! **Failures.** Rows read but not yet accepted wait in a backlog of at most
//! [`RrdExportConfig::max_backlog`] triples and go first in the next round, in order. A full
//! backlog stops reading (no row is dropped: each file's position only moves past what entered
//! the backlog). A network error or a 5xx/408/429 answer keeps the rows for the next round;
//! any other 4xx (the repository refused the format) drops that POST's rows, counted in
//! [`RrdExportSummary::rejected`]. Posts carry at most [`RrdExportConfig::max_per_post`] triples.
//!
//! Differences from the 2015 exporter: each row carries its own time (the 2015 code advanced
//! the time only on known rows, misdating rows after a gap); the position is kept per file (the
//! 2015 one shared one position across all files); times are Unix seconds, with no local-time
//! conversion of the scope's start.

use super::{sleep_or_stop, unix_now, INDIRECT_EXPORT_PATH, JSON_CONTENT_TYPE};
use crate::mplane::net::{Endpoint, HttpClient, TlsFiles};
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// One exported value: `[metric, unix_time, value]` on the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct Triple {
    /// The RRD file's name (`ip_bitrate_in.rrd`), or `<file>:<data source>`.
    pub metric: Arc<str>,
    /// Unix seconds: the end of the interval the value stands for.
    pub timestamp: f64,
    /// The value (finite).
    pub value: f64,
}

/// Why a body is not a list of triples.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TripleError {
    /// Not JSON at all.
    #[error("not JSON: {0}")]
    NotJson(String),
    /// JSON, but not a list.
    #[error("not a list")]
    NotAList,
    /// An item that is not `[string, number, number]` with finite numbers.
    #[error("item {index}: {what}")]
    Item {
        /// Its position in the list.
        index: usize,
        /// What is wrong with it.
        what: String,
    },
}

impl Triple {
    /// The wire form, `[metric, time, value]`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!([&*self.metric, self.timestamp, self.value])
    }

    /// Parses a body: a JSON list of `[string, number, number]`. Numbers may also come as
    /// numeric strings, as the 2015 repository converted them with `float()`; non-finite ones
    /// are refused.
    pub fn parse_list(body: &[u8]) -> Result<Vec<Triple>, TripleError> {
        let v: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| TripleError::NotJson(e.to_string()))?;
        let serde_json::Value::Array(items) = v else {
            return Err(TripleError::NotAList);
        };
        let number =
            |index: usize, what: &str, v: &serde_json::Value| -> Result<f64, TripleError> {
                let x = match v {
                    serde_json::Value::Number(n) => n.as_f64(),
                    serde_json::Value::String(s) => s.trim().parse::<f64>().ok(),
                    _ => None,
                };
                x.filter(|x| x.is_finite())
                    .ok_or_else(|| TripleError::Item {
                        index,
                        what: format!("{what} is not a finite number: {v}"),
                    })
            };
        items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                let fields =
                    item.as_array()
                        .filter(|a| a.len() == 3)
                        .ok_or_else(|| TripleError::Item {
                            index,
                            what: "not a list of three".into(),
                        })?;
                let metric = fields[0].as_str().ok_or_else(|| TripleError::Item {
                    index,
                    what: "the metric is not a string".into(),
                })?;
                Ok(Triple {
                    metric: Arc::from(metric),
                    timestamp: number(index, "the time", &fields[1])?,
                    value: number(index, "the value", &fields[2])?,
                })
            })
            .collect()
    }
}

/// What [`export_rrd`] needs; [`RrdExportConfig::new`] gives the defaults.
#[derive(Debug, Clone)]
pub struct RrdExportConfig {
    /// The directory of the RRD files (Tstat's `-r`, the proxy's `tstat_rrd_path`).
    pub rrd_dir: PathBuf,
    /// `repository.url`: `host:port` (HTTPS), `https://host:port`, or `http://host:port`.
    pub repository: String,
    /// The probe's certificate, key and CA (required for HTTPS).
    pub tls: Option<TlsFiles>,
    /// The scope's start, Unix seconds: the first round reads from one resolution before it.
    pub start_unix: i64,
    /// Time between rounds. Default 300 s.
    pub interval: Duration,
    /// The resolution asked of librrd, seconds. Default 300.
    pub resolution_s: u64,
    /// How far back a file is ever read. Default 24 h (the finest archive of Tstat's files
    /// holds 600 rows of 300 s, 50 h).
    pub max_lookback: Duration,
    /// Time allowed for one POST and its answer. Default 30 s.
    pub http_timeout: Duration,
    /// Triples read and not yet accepted, at most. Default 500 000 (about 16 MiB).
    pub max_backlog: usize,
    /// Triples per POST, at most. Default 20 000 (about 1 MiB of JSON).
    pub max_per_post: usize,
    /// How many of the last triples sent the summary keeps for the mPlane result. Default
    /// 1000.
    pub result_rows: usize,
}

impl RrdExportConfig {
    /// The defaults, for `rrd_dir`, `repository.url`, the probe's TLS files and the start.
    pub fn new(
        rrd_dir: impl Into<PathBuf>,
        repository: impl Into<String>,
        tls: Option<TlsFiles>,
        start_unix: i64,
    ) -> RrdExportConfig {
        RrdExportConfig {
            rrd_dir: rrd_dir.into(),
            repository: repository.into(),
            tls,
            start_unix,
            interval: Duration::from_secs(300),
            resolution_s: 300,
            max_lookback: Duration::from_secs(24 * 3600),
            http_timeout: Duration::from_secs(30),
            max_backlog: 500_000,
            max_per_post: 20_000,
            result_rows: 1000,
        }
    }
}

/// What an RRD export did.
#[derive(Debug, Clone, Default)]
pub struct RrdExportSummary {
    /// Rounds run (the first at once, then one per interval).
    pub rounds: u64,
    /// POSTs the repository accepted.
    pub posts: u64,
    /// Triples the repository accepted.
    pub triples_sent: u64,
    /// POSTs that failed (network, timeout, 5xx, 408, 429): their rows were kept and sent again.
    pub failures: u64,
    /// Triples the repository refused (another 4xx), dropped.
    pub rejected: u64,
    /// Triples still waiting when the export ended.
    pub unsent: u64,
    /// Files that could not be read (counted once per file and round).
    pub read_errors: u64,
    /// The last error, with where it happened.
    pub last_error: Option<String>,
    /// The last triples the repository accepted, oldest first, at most
    /// [`RrdExportConfig::result_rows`].
    pub recent: VecDeque<Triple>,
    /// Accepted triples that are not in `recent` any more.
    pub recent_left_out: u64,
}

impl RrdExportSummary {
    /// The rows of the `tstat-exporter_rrd` result, `[rrdtimestamp, rrdMetirc, rrdValue]`
    /// (the capability's column order, §12.2), values as the RI writes reals: what was exported
    /// last, [`RrdExportSummary::recent_left_out`] rows before them left out.
    pub fn result_rows(&self) -> Vec<Vec<String>> {
        use crate::mplane::value::py_float_repr;
        self.recent
            .iter()
            .map(|t| {
                vec![
                    py_float_repr(t.timestamp),
                    t.metric.to_string(),
                    py_float_repr(t.value),
                ]
            })
            .collect()
    }

    fn remember(&mut self, sent: &[Triple], keep: usize) {
        for t in sent {
            if keep == 0 {
                self.recent_left_out += 1;
                continue;
            }
            if self.recent.len() == keep {
                self.recent.pop_front();
                self.recent_left_out += 1;
            }
            self.recent.push_back(t.clone());
        }
    }

    fn fail(&mut self, msg: String) {
        tracing::warn!("{msg}");
        self.last_error = Some(msg);
    }
}

/// Each file's last exported row time, and the file names as shared strings.
#[derive(Default)]
struct Positions {
    last: HashMap<String, i64>,
    names: HashMap<String, Arc<str>>,
}

/// One round's reading: what it found and what went wrong.
struct Reading {
    positions: Positions,
    triples: Vec<Triple>,
    errors: Vec<String>,
}

/// Reads the new rows of every RRD file, at most `room` triples (blocking: librrd).
fn read_round(cfg: &RrdExportConfig, mut positions: Positions, now: i64, room: usize) -> Reading {
    let mut out = Reading {
        positions: Positions::default(),
        triples: Vec::new(),
        errors: Vec::new(),
    };
    let files = match rrd_files(&cfg.rrd_dir) {
        Ok(f) => f,
        Err(e) => {
            out.errors.push(format!(
                "{}: cannot list the RRD directory: {e}",
                cfg.rrd_dir.display()
            ));
            out.positions = positions;
            return out;
        }
    };
    let resolution = i64::try_from(cfg.resolution_s.max(1)).unwrap_or(300);
    let window_start = cfg.start_unix.saturating_sub(resolution);
    let floor = now.saturating_sub(i64::try_from(cfg.max_lookback.as_secs()).unwrap_or(i64::MAX));
    for (name, path) in files {
        if out.triples.len() >= room {
            break;
        }
        let from = positions
            .last
            .get(&name)
            .copied()
            .unwrap_or(window_start)
            .max(floor);
        if from >= now {
            continue;
        }
        let fetched = match rrd_sys::fetch(&path, "AVERAGE", from, now, cfg.resolution_s) {
            Ok(f) => f,
            Err(e) => {
                out.errors.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        let single = fetched.names.len() == 1;
        let base: Arc<str> = positions
            .names
            .entry(name.clone())
            .or_insert_with(|| Arc::from(name.as_str()))
            .clone();
        let metrics: Vec<Arc<str>> = if single {
            vec![base]
        } else {
            fetched
                .names
                .iter()
                .map(|ds| Arc::from(format!("{name}:{ds}")))
                .collect()
        };
        let mut last = None;
        'rows: for (i, row) in fetched.rows.iter().enumerate() {
            let t = fetched.time_of(i);
            if t <= from || t > now {
                continue;
            }
            let known: Vec<(usize, f64)> = row
                .iter()
                .copied()
                .enumerate()
                .filter(|(_, v)| v.is_finite())
                .collect();
            if known.is_empty() {
                continue;
            }
            if out.triples.len() + known.len() > room {
                break 'rows;
            }
            for (j, v) in known {
                if let Some(m) = metrics.get(j) {
                    out.triples.push(Triple {
                        metric: m.clone(),
                        timestamp: t as f64,
                        value: v,
                    });
                }
            }
            last = Some(t);
        }
        if let Some(t) = last {
            positions.last.insert(name, t);
        }
    }
    out.positions = positions;
    out
}

/// The `*.rrd` files directly in `dir`, by name.
fn rrd_files(dir: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.ends_with(".rrd") && entry.path().is_file() {
            files.push((name, entry.path()));
        }
    }
    files.sort();
    Ok(files)
}

/// Exports the RRD averages every [`RrdExportConfig::interval`] until `stop` turns true
/// (§11.1). The first round runs at once. Returns what was done; a configuration that cannot
/// work (a bad URL, unreadable certificates) ends it at once with
/// [`RrdExportSummary::last_error`] set.
pub async fn export_rrd(cfg: RrdExportConfig, mut stop: watch::Receiver<bool>) -> RrdExportSummary {
    let mut s = RrdExportSummary::default();
    let endpoint = match Endpoint::parse(&cfg.repository) {
        Ok(e) => e,
        Err(e) => {
            s.fail(format!(
                "RRD export: repository.url {:?}: {e:#}",
                cfg.repository
            ));
            return s;
        }
    };
    let mut client = match HttpClient::new(endpoint.clone(), cfg.tls.as_ref(), cfg.http_timeout) {
        Ok(c) => c,
        Err(e) => {
            s.fail(format!("RRD export to {endpoint}: {e:#}"));
            return s;
        }
    };
    tracing::info!(
        repository = %endpoint,
        dir = %cfg.rrd_dir.display(),
        "RRD export started"
    );
    let cfg = Arc::new(cfg);
    let mut positions = Positions::default();
    let mut backlog: VecDeque<Triple> = VecDeque::new();
    loop {
        s.rounds += 1;
        let room = cfg.max_backlog.saturating_sub(backlog.len());
        let now = unix_now();
        let job_cfg = Arc::clone(&cfg);
        let reading =
            tokio::task::spawn_blocking(move || read_round(&job_cfg, positions, now, room)).await;
        let reading = match reading {
            Ok(r) => r,
            Err(e) => {
                // The blocking task died (a librrd abort would have taken the process): start
                // the positions again from the window, which at worst repeats rows.
                s.fail(format!("RRD export: reading the RRD files failed: {e}"));
                Reading {
                    positions: Positions::default(),
                    triples: Vec::new(),
                    errors: Vec::new(),
                }
            }
        };
        positions = reading.positions;
        s.read_errors += reading.errors.len() as u64;
        if let Some(e) = reading.errors.last() {
            s.fail(format!(
                "RRD export: {} file(s) unreadable, last: {e}",
                reading.errors.len()
            ));
        }
        backlog.extend(reading.triples);
        send_backlog(&mut client, &cfg, &mut backlog, &mut s, &stop).await;
        if sleep_or_stop(cfg.interval, &mut stop).await {
            break;
        }
    }
    s.unsent = backlog.len() as u64;
    tracing::info!(
        posts = s.posts,
        sent = s.triples_sent,
        failures = s.failures,
        unsent = s.unsent,
        "RRD export ended"
    );
    s
}

/// POSTs the backlog in order, in slices of at most `max_per_post`, until it is empty, a POST
/// fails, or `stop` is true.
async fn send_backlog(
    client: &mut HttpClient,
    cfg: &RrdExportConfig,
    backlog: &mut VecDeque<Triple>,
    s: &mut RrdExportSummary,
    stop: &watch::Receiver<bool>,
) {
    while !backlog.is_empty() && !*stop.borrow() {
        let n = backlog.len().min(cfg.max_per_post.max(1));
        let body = serde_json::Value::Array(backlog.iter().take(n).map(Triple::to_json).collect());
        let body = body.to_string().into_bytes();
        let url = client.endpoint().url(INDIRECT_EXPORT_PATH);
        match client
            .request("POST", INDIRECT_EXPORT_PATH, Some(JSON_CONTENT_TYPE), body)
            .await
        {
            Ok(r) if (200..300).contains(&r.status) => {
                let sent: Vec<Triple> = backlog.drain(..n).collect();
                s.posts += 1;
                s.triples_sent += n as u64;
                s.remember(&sent, cfg.result_rows);
            }
            Ok(r) if (400..500).contains(&r.status) && r.status != 408 && r.status != 429 => {
                backlog.drain(..n);
                s.rejected += n as u64;
                s.fail(format!(
                    "RRD export: {url}: {} {}: {n} triples dropped",
                    r.status,
                    String::from_utf8_lossy(&r.body[..r.body.len().min(200)])
                ));
            }
            Ok(r) => {
                s.failures += 1;
                s.fail(format!(
                    "RRD export: {url}: {} {}: {} triples kept for the next round",
                    r.status,
                    String::from_utf8_lossy(&r.body[..r.body.len().min(200)]),
                    backlog.len()
                ));
                return;
            }
            Err(e) => {
                s.failures += 1;
                s.fail(format!(
                    "RRD export: {e:#}: {} triples kept for the next round",
                    backlog.len()
                ));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triples_on_the_wire() {
        let t = Triple {
            metric: Arc::from("ip_bitrate_in.rrd"),
            timestamp: 1795319700.0,
            value: 1116.43,
        };
        assert_eq!(
            t.to_json().to_string(),
            r#"["ip_bitrate_in.rrd",1795319700.0,1116.43]"#
        );
        let back = Triple::parse_list(
            br#"[["ip_bitrate_in.rrd", 1795319700.0, 1116.43],
            ["a.rrd", "1795319700", "2.5"], ["b.rrd", 1, 0]]"#,
        )
        .unwrap();
        assert_eq!(back[0], t);
        assert_eq!((back[1].timestamp, back[1].value), (1795319700.0, 2.5));
        assert_eq!(Triple::parse_list(b"[]").unwrap(), vec![]);
        assert_eq!(Triple::parse_list(b"{}"), Err(TripleError::NotAList));
        assert!(matches!(
            Triple::parse_list(b"[1,"),
            Err(TripleError::NotJson(_))
        ));
        for bad in [
            r#"[["a", 1]]"#,
            r#"[[1, 1, 1]]"#,
            r#"[["a", "x", 1]]"#,
            r#"[["a", 1, null]]"#,
            r#"[["a", 1, "inf"]]"#,
            r#"[["a", 1, 1], 5]"#,
        ] {
            assert!(
                matches!(
                    Triple::parse_list(bad.as_bytes()),
                    Err(TripleError::Item { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn result_rows_are_bounded() {
        let mut s = RrdExportSummary::default();
        let ts: Vec<Triple> = (0..5)
            .map(|i| Triple {
                metric: Arc::from("x.rrd"),
                timestamp: 1000.0 + f64::from(i),
                value: 0.5,
            })
            .collect();
        s.remember(&ts, 3);
        assert_eq!(s.recent.len(), 3);
        assert_eq!(s.recent_left_out, 2);
        assert_eq!(
            s.result_rows()[0],
            vec!["1002.0".to_string(), "x.rrd".into(), "0.5".into()]
        );
        let mut none = RrdExportSummary::default();
        none.remember(&ts, 0);
        assert_eq!((none.recent.len(), none.recent_left_out), (0, 5));
    }

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rrd-export-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// A file whose 300 s averages are known: value `k` over step `k` (ending t0 + k·300).
    fn make_rrd(path: &Path, t0: i64, steps: i64, ds: &[&str]) {
        let mut defs: Vec<String> = ds.iter().map(|d| format!("DS:{d}:GAUGE:600:U:U")).collect();
        defs.push("RRA:AVERAGE:0.5:1:600".into());
        let defs: Vec<&str> = defs.iter().map(String::as_str).collect();
        rrd_sys::create(path, 300, t0 - 10, &defs).unwrap();
        let mut ups = Vec::new();
        for k in 1..=steps {
            for s in (60..=300).step_by(60) {
                let vals: Vec<String> = (0..ds.len())
                    .map(|j| (k * (j as i64 + 1)).to_string())
                    .collect();
                ups.push(format!("{}:{}", t0 + (k - 1) * 300 + s, vals.join(":")));
            }
        }
        let refs: Vec<&str> = ups.iter().map(String::as_str).collect();
        rrd_sys::update(path, &refs).unwrap();
    }

    #[test]
    fn rounds_read_each_row_once_and_respect_the_room() {
        let d = scratch("rounds");
        let t0 = 1_700_000_100;
        make_rrd(&d.join("ip_len_in.avg.rrd"), t0, 6, &["ip_len_in"]);
        make_rrd(&d.join("two.rrd"), t0, 6, &["a", "b"]);
        std::fs::write(d.join("notes.txt"), b"not an rrd").unwrap();
        std::fs::write(d.join("broken.rrd"), b"not an rrd").unwrap();
        let cfg = RrdExportConfig::new(&d, "127.0.0.1:1", None, t0 + 300);
        // First round at t0 + 4·300: the window starts at t0, rows of steps 1..=4.
        let r = read_round(&cfg, Positions::default(), t0 + 4 * 300, usize::MAX);
        assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
        assert!(r.errors[0].contains("broken.rrd"), "{:?}", r.errors);
        let single: Vec<(f64, f64)> = r
            .triples
            .iter()
            .filter(|t| &*t.metric == "ip_len_in.avg.rrd")
            .map(|t| (t.timestamp, t.value))
            .collect();
        // Every step is known: the first update's value counts from the file's start.
        let expect: Vec<(f64, f64)> = (1..=4).map(|k| ((t0 + k * 300) as f64, k as f64)).collect();
        assert_eq!(single, expect);
        let a: Vec<f64> = r
            .triples
            .iter()
            .filter(|t| &*t.metric == "two.rrd:b")
            .map(|t| t.value)
            .collect();
        assert_eq!(a, [2.0, 4.0, 6.0, 8.0]);
        // The next round, later: only steps 5 and 6.
        let r = read_round(&cfg, r.positions, t0 + 8 * 300, usize::MAX);
        let times: Vec<f64> = r
            .triples
            .iter()
            .filter(|t| &*t.metric == "ip_len_in.avg.rrd")
            .map(|t| t.timestamp)
            .collect();
        assert_eq!(times, [(t0 + 1500) as f64, (t0 + 1800) as f64]);
        // A round with room for 3 triples stops inside the first file (a row's values enter
        // together or not at all) and the next one resumes right after what it took.
        let r = read_round(&cfg, Positions::default(), t0 + 4 * 300, 3);
        let got: Vec<(&str, f64)> = r.triples.iter().map(|t| (&*t.metric, t.value)).collect();
        assert_eq!(
            got,
            [
                ("ip_len_in.avg.rrd", 1.0),
                ("ip_len_in.avg.rrd", 2.0),
                ("ip_len_in.avg.rrd", 3.0)
            ]
        );
        let r = read_round(&cfg, r.positions, t0 + 4 * 300, 100);
        let got: Vec<(&str, f64)> = r.triples.iter().map(|t| (&*t.metric, t.value)).collect();
        assert_eq!(got.len(), 9, "{got:?}");
        assert_eq!(got[0], ("ip_len_in.avg.rrd", 4.0));
        assert_eq!(got[1..3], [("two.rrd:a", 1.0), ("two.rrd:b", 2.0)]);
        let _ = std::fs::remove_dir_all(&d);
    }
}
