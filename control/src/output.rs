//! The output tree as Tstat lays it out: `<root>/<YYYY_MM_DD_HH_MM>.out/log_*`, the directory
//! named after the local time (honouring `TZ`) of the first packet, replaced if it exists,
//! every log opened with its header line, optionally gzip-compressed (`-Z`). With `-Y` the
//! Crypto-PAn key is saved next to the directory (`<root>/CPanKey_<YYYY_MM_DD_HH_MM>`) and rows
//! carry anonymised addresses.

use crate::conf::Runtime;
use crate::cryptopan::CryptoConfig;
use crate::logs;
use crate::render::{LogId, RenderConf, Rendered, Renderer, RowsOf};
use anyhow::Context;
use chrono::TimeZone;
use engine::record::FlowRecord;
use engine::time::Timestamp;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// `YYYY_MM_DD_HH_MM`: the local time (honouring `TZ`) of `first`, as Tstat names its output
/// directory and its Crypto-PAn key file.
pub fn date_name(first: Timestamp) -> String {
    let t = chrono::Local
        .timestamp_opt(first.secs(), 0)
        .single()
        .unwrap_or_else(|| chrono::Local.timestamp_opt(0, 0).unwrap());
    t.format("%Y_%m_%d_%H_%M").to_string()
}

/// The name of the output directory for a trace whose first packet is at `first`.
pub fn dir_name(first: Timestamp) -> String {
    format!("{}.out", date_name(first))
}

enum Sink {
    Plain(BufWriter<File>),
    Gz(flate2::write::GzEncoder<BufWriter<File>>),
}

impl Sink {
    fn new(w: BufWriter<File>, gzip: bool) -> Sink {
        if gzip {
            Sink::Gz(flate2::write::GzEncoder::new(
                w,
                flate2::Compression::default(),
            ))
        } else {
            Sink::Plain(w)
        }
    }

    fn write_all(&mut self, b: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::Plain(w) => w.write_all(b),
            Sink::Gz(w) => w.write_all(b),
        }
    }

    /// Writes out everything (a gzip stream ends its member) and hands the file back.
    fn into_file(self) -> std::io::Result<BufWriter<File>> {
        let mut w = match self {
            Sink::Plain(w) => w,
            Sink::Gz(w) => w.finish()?,
        };
        w.flush()?;
        Ok(w)
    }
}

struct LogFile {
    name: String,
    path: PathBuf,
    gzip: bool,
    sink: Option<Sink>,
}

/// Name and length of one log file at a checkpoint.
pub type FileLength = (String, u64);

impl LogFile {
    fn file_name(name: &str, gzip: bool) -> String {
        if gzip {
            format!("{name}.gz")
        } else {
            name.to_string()
        }
    }

    fn create(dir: &Path, name: &str, gzip: bool, header: &str) -> anyhow::Result<LogFile> {
        let path = dir.join(Self::file_name(name, gzip));
        let f = File::create(&path)
            .with_context(|| format!("{}: cannot create log", path.display()))?;
        let mut l = LogFile {
            name: name.to_string(),
            path,
            gzip,
            sink: Some(Sink::new(BufWriter::with_capacity(1 << 20, f), gzip)),
        };
        l.write(header.as_bytes())?;
        Ok(l)
    }

    /// Reopens a log written up to a checkpoint: what follows `len` (rows written after the
    /// checkpoint by a process that then died) is cut, and writing goes on from there. A gzip
    /// log goes on with a new member (a gzip file of several members is one stream to zcat).
    fn resume(dir: &Path, name: &str, gzip: bool, len: u64) -> anyhow::Result<LogFile> {
        use std::io::Seek;
        let path = dir.join(Self::file_name(name, gzip));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .with_context(|| format!("{}: cannot reopen log", path.display()))?;
        f.set_len(len)
            .and_then(|_| f.seek(std::io::SeekFrom::End(0)))
            .with_context(|| format!("{}: cannot cut back to {len} bytes", path.display()))?;
        Ok(LogFile {
            name: name.to_string(),
            path,
            gzip,
            sink: Some(Sink::new(BufWriter::with_capacity(1 << 20, f), gzip)),
        })
    }

    fn write(&mut self, s: &[u8]) -> anyhow::Result<()> {
        match &mut self.sink {
            Some(sink) => sink.write_all(s),
            None => Err(std::io::Error::other("log closed after a failed write")),
        }
        .with_context(|| format!("{}: cannot write", self.path.display()))
    }

    /// Writes out everything written so far and returns the file's length.
    fn checkpoint(&mut self) -> anyhow::Result<u64> {
        let sink = self.sink.take().expect("a log is open until finished");
        let w = sink
            .into_file()
            .with_context(|| format!("{}: cannot write", self.path.display()))?;
        let len = w
            .get_ref()
            .metadata()
            .with_context(|| format!("{}: cannot stat", self.path.display()))?
            .len();
        self.sink = Some(Sink::new(w, self.gzip));
        Ok(len)
    }

    fn finish(mut self) -> anyhow::Result<()> {
        if let Some(sink) = self.sink.take() {
            sink.into_file()
                .with_context(|| format!("{}: cannot write", self.path.display()))?;
        }
        Ok(())
    }
}

/// The open logs of one output directory.
pub struct LogSet {
    dir: PathBuf,
    /// The logs rows go to, by [`LogId`] index.
    files: [Option<LogFile>; LogId::COUNT],
    /// Logs Tstat creates with their header and this engine never writes a row to.
    others: Vec<LogFile>,
    renderer: Renderer,
    scratch: Rendered,
    tap: Option<LogTap>,
}

/// A row tap attached to a log set, with the header of its `log_tcp_complete`.
struct LogTap {
    tap: std::sync::Arc<crate::tap::Tap>,
    tcp_header: std::sync::Arc<str>,
    http_header: std::sync::Arc<str>,
}

impl LogSet {
    /// Creates `<root>/<dir_name(first)>` (replacing an existing one, as Tstat does) and opens
    /// every enabled log with its header. `enabled = false` (`-L`) creates the directory only.
    /// With `crypto` (`-Y`), saves the key as `<root>/CPanKey_<date_name(first)>` and
    /// anonymises the rows.
    pub fn create(
        root: &Path,
        first: Timestamp,
        rt: &Runtime,
        gzip: bool,
        enabled: bool,
        crypto: Option<&CryptoConfig>,
    ) -> anyhow::Result<LogSet> {
        let dir = root.join(dir_name(first));
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| {
                format!(
                    "{}: cannot replace existing output directory",
                    dir.display()
                )
            })?;
        }
        Self::create_in(dir, rt, gzip, enabled, crypto.map(|c| (c, root, first)))
    }

    /// Creates the directory `dir` (which must not exist yet) with every enabled log.
    pub fn create_in(
        dir: PathBuf,
        rt: &Runtime,
        gzip: bool,
        enabled: bool,
        crypto: Option<(&CryptoConfig, &Path, Timestamp)>,
    ) -> anyhow::Result<LogSet> {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("{}: cannot create output directory", dir.display()))?;
        if let Some((c, root, first)) = crypto {
            c.save_key(root, &date_name(first))?;
        }
        let d = dir.clone();
        Self::open_with(dir, rt, enabled, crypto.map(|c| c.0), |name, header| {
            LogFile::create(&d, name, gzip, header)
        })
    }

    /// Reopens the logs of `dir` as a checkpoint left them (`files`: names and lengths), to
    /// go on writing after a restart of the control plane. The runtime configuration must be
    /// the one the directory was created with.
    pub fn resume(
        dir: PathBuf,
        rt: &Runtime,
        gzip: bool,
        files: &[FileLength],
    ) -> anyhow::Result<LogSet> {
        let d = dir.clone();
        Self::open_with(dir, rt, true, None, |name, header| {
            match files.iter().find(|(n, _)| n == name) {
                Some((_, len)) => LogFile::resume(&d, name, gzip, *len),
                // A log the checkpoint did not know (it cannot have rows yet).
                None => LogFile::create(&d, name, gzip, header),
            }
        })
    }

    fn open_with(
        dir: PathBuf,
        rt: &Runtime,
        enabled: bool,
        crypto: Option<&CryptoConfig>,
        open: impl Fn(&str, &str) -> anyhow::Result<LogFile>,
    ) -> anyhow::Result<LogSet> {
        let conf = RenderConf::new(rt, enabled, crypto);
        let mut files: [Option<LogFile>; LogId::COUNT] = Default::default();
        for log in LogId::ALL.into_iter().filter(|l| conf.on(*l)) {
            let header = match log {
                LogId::TcpComplete => logs::tcp_header(rt.tcp_level, true),
                LogId::TcpNocomplete => logs::tcp_header(rt.tcp_level, false),
                LogId::VideoComplete => logs::video::video_header(rt.video_level),
                l => logs::static_header(l.name())
                    .expect("every log name has a header")
                    .to_string(),
            };
            files[log as usize] = Some(open(log.name(), &header)?);
        }
        let l = &rt.logs;
        let mut others = Vec::new();
        for (name, wanted) in [
            ("log_mm_complete", l.mm_complete),
            ("log_chat_complete", l.chat_complete),
            ("log_chat_messages", l.chat_messages),
        ] {
            if enabled && wanted {
                let header = logs::static_header(name).expect("every log name has a header");
                others.push(open(name, header)?);
            }
        }
        Ok(LogSet {
            dir,
            files,
            others,
            renderer: Renderer::new(conf),
            scratch: Rendered::default(),
            tap: None,
        })
    }

    /// Offers every row written to `log_tcp_complete` and `log_http_complete` to `tap` from
    /// now on.
    pub fn set_tap(&mut self, tap: std::sync::Arc<crate::tap::Tap>) {
        self.tap = Some(LogTap {
            tap,
            tcp_header: logs::tcp_header(self.renderer.conf().tcp_level, true)
                .trim_end()
                .into(),
            http_header: logs::static_header("log_http_complete")
                .unwrap_or("")
                .trim_end()
                .into(),
        });
    }

    /// The directory the logs are in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What its rows are formatted with: a [`Renderer`] of this configuration renders rows
    /// [`LogSet::write_rows`] takes.
    pub fn render_conf(&self) -> &RenderConf {
        self.renderer.conf()
    }

    /// Writes one flow record to the log it belongs to.
    pub fn write(&mut self, rec: &FlowRecord) -> anyhow::Result<()> {
        let mut rows = std::mem::take(&mut self.scratch);
        rows.clear();
        self.renderer.render(rec, &mut rows);
        rows.mark(());
        let r = match rows.records().next() {
            Some((of, _)) => self.write_rows(of),
            None => Ok(()),
        };
        self.scratch = rows;
        r
    }

    /// Writes the rows of one record, rendered elsewhere with this set's
    /// [`LogSet::render_conf`] (rows of a log that is not open are left out).
    pub fn write_rows(&mut self, rows: RowsOf<'_>) -> anyhow::Result<()> {
        for (log, bytes) in rows.iter() {
            let Some(f) = &mut self.files[log as usize] else {
                continue;
            };
            f.write(bytes)?;
            let Some(lt) = self.tap.as_ref().filter(|t| t.tap.is_active()) else {
                continue;
            };
            let (which, header) = match log {
                LogId::TcpComplete => (crate::tap::TapLog::TcpComplete, &lt.tcp_header),
                LogId::HttpComplete => (crate::tap::TapLog::HttpComplete, &lt.http_header),
                _ => continue,
            };
            lt.tap
                .offer(which, header, bytes, &self.dir.join(log.name()));
        }
        Ok(())
    }

    fn files(&mut self) -> impl Iterator<Item = &mut LogFile> {
        self.files
            .iter_mut()
            .flatten()
            .chain(self.others.iter_mut())
    }

    /// Writes out every row written so far (gzip logs end their member) and returns each
    /// log's name and length: what [`LogSet::resume`] needs to go on from this point.
    pub fn checkpoint(&mut self) -> anyhow::Result<Vec<FileLength>> {
        self.files()
            .map(|f| Ok((f.name.clone(), f.checkpoint()?)))
            .collect()
    }

    /// Flushes and closes every log.
    pub fn finish(self) -> anyhow::Result<()> {
        for f in self.files.into_iter().flatten().chain(self.others) {
            f.finish()?;
        }
        Ok(())
    }
}
