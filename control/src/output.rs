//! The output tree as Tstat lays it out: `<root>/<YYYY_MM_DD_HH_MM>.out/log_*`, the directory
//! named after the local time (honouring `TZ`) of the first packet, replaced if it exists,
//! every log opened with its header line, optionally gzip-compressed (`-Z`). With `-Y` the
//! Crypto-PAn key is saved next to the directory (`<root>/CPanKey_<YYYY_MM_DD_HH_MM>`) and rows
//! carry anonymised addresses.

use crate::conf::Runtime;
use crate::cryptopan::{Anonymizer, CryptoConfig};
use crate::logs::video::VideoLevel;
use crate::logs::{self, TcpLevel};
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
    fn write_all(&mut self, b: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::Plain(w) => w.write_all(b),
            Sink::Gz(w) => w.write_all(b),
        }
    }

    fn finish(self) -> std::io::Result<()> {
        match self {
            Sink::Plain(mut w) => w.flush(),
            Sink::Gz(w) => w.finish()?.flush(),
        }
    }
}

struct LogFile {
    path: PathBuf,
    sink: Sink,
}

impl LogFile {
    fn create(dir: &Path, name: &str, gzip: bool, header: &str) -> anyhow::Result<LogFile> {
        let path = dir.join(if gzip {
            format!("{name}.gz")
        } else {
            name.to_string()
        });
        let f = File::create(&path)
            .with_context(|| format!("{}: cannot create log", path.display()))?;
        let w = BufWriter::with_capacity(1 << 20, f);
        let mut sink = if gzip {
            Sink::Gz(flate2::write::GzEncoder::new(
                w,
                flate2::Compression::default(),
            ))
        } else {
            Sink::Plain(w)
        };
        sink.write_all(header.as_bytes())
            .with_context(|| format!("{}: cannot write", path.display()))?;
        Ok(LogFile { path, sink })
    }

    fn write(&mut self, s: &[u8]) -> anyhow::Result<()> {
        self.sink
            .write_all(s)
            .with_context(|| format!("{}: cannot write", self.path.display()))
    }
}

/// The open logs of one output directory.
pub struct LogSet {
    dir: PathBuf,
    tcp_level: TcpLevel,
    tcp_complete: Option<LogFile>,
    tcp_nocomplete: Option<LogFile>,
    udp_complete: Option<LogFile>,
    http_complete: Option<LogFile>,
    dns_complete: Option<LogFile>,
    tcp_periodic: Option<LogFile>,
    udp_periodic: Option<LogFile>,
    video_complete: Option<LogFile>,
    video_level: VideoLevel,
    httplog_full_url: u8,
    others: Vec<LogFile>,
    line: Vec<u8>,
    anon: Option<Anonymizer>,
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
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("{}: cannot create output directory", dir.display()))?;
        if let Some(c) = crypto {
            c.save_key(root, &date_name(first))?;
        }
        let l = &rt.logs;
        let on = |b: bool| enabled && b;
        let open = |name: &str, header: &str| LogFile::create(&dir, name, gzip, header);
        let tcp_complete = if on(l.tcp_complete) {
            Some(open(
                "log_tcp_complete",
                &logs::tcp_header(rt.tcp_level, true),
            )?)
        } else {
            None
        };
        let tcp_nocomplete = if on(l.tcp_nocomplete) {
            Some(open(
                "log_tcp_nocomplete",
                &logs::tcp_header(rt.tcp_level, false),
            )?)
        } else {
            None
        };
        let hdr = |n: &str| logs::static_header(n).expect("every log name below has a header");
        let udp_complete = if on(l.udp_complete) {
            Some(open("log_udp_complete", hdr("log_udp_complete"))?)
        } else {
            None
        };
        let http_complete = if on(l.http_complete) {
            Some(open("log_http_complete", hdr("log_http_complete"))?)
        } else {
            None
        };
        let dns_complete = if on(l.dns_complete) {
            Some(open("log_dns_complete", hdr("log_dns_complete"))?)
        } else {
            None
        };
        let tcp_periodic = if on(l.tcp_periodic) {
            Some(open("log_tcp_periodic", hdr("log_tcp_periodic"))?)
        } else {
            None
        };
        let udp_periodic = if on(l.udp_periodic) {
            Some(open("log_udp_periodic", hdr("log_udp_periodic"))?)
        } else {
            None
        };
        let video_complete = if on(l.video_complete) {
            Some(open(
                "log_video_complete",
                &logs::video::video_header(rt.video_level),
            )?)
        } else {
            None
        };
        let mut others = Vec::new();
        for (name, wanted) in [
            ("log_mm_complete", l.mm_complete),
            ("log_chat_complete", l.chat_complete),
            ("log_chat_messages", l.chat_messages),
        ] {
            if on(wanted) {
                others.push(open(name, hdr(name))?);
            }
        }
        Ok(LogSet {
            dir,
            tcp_level: rt.tcp_level,
            tcp_complete,
            tcp_nocomplete,
            udp_complete,
            http_complete,
            dns_complete,
            tcp_periodic,
            udp_periodic,
            video_complete,
            video_level: rt.video_level,
            httplog_full_url: rt.httplog_full_url,
            others,
            line: Vec::with_capacity(4096),
            anon: crypto.map(Anonymizer::new),
        })
    }

    /// The directory the logs are in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes one flow record to the log it belongs to.
    pub fn write(&mut self, rec: &FlowRecord) -> anyhow::Result<()> {
        self.line.clear();
        match rec {
            FlowRecord::Tcp(t) => {
                let target = if t.complete {
                    &mut self.tcp_complete
                } else {
                    &mut self.tcp_nocomplete
                };
                if let Some(f) = target {
                    logs::tcp_row_with(
                        &mut self.line,
                        t,
                        self.tcp_level,
                        t.complete,
                        self.anon.as_mut(),
                    );
                    f.write(&self.line)?;
                }
                // Tstat writes the video row right after the TCP row of the same flow.
                if let Some(f) = &mut self.video_complete {
                    if logs::video::is_video_row(t) {
                        self.line.clear();
                        logs::video::video_row_with(
                            &mut self.line,
                            t,
                            self.video_level,
                            self.anon.as_mut(),
                        );
                        f.write(&self.line)?;
                    }
                }
            }
            FlowRecord::Udp(u) => {
                if let Some(f) = &mut self.udp_complete {
                    logs::udp_row_with(&mut self.line, u, self.anon.as_mut());
                    f.write(&self.line)?;
                }
            }
            FlowRecord::Http(m) => {
                if let Some(f) = &mut self.http_complete {
                    logs::http::rows(&mut self.line, m, self.httplog_full_url, self.anon.as_mut());
                    f.write(&self.line)?;
                }
            }
            FlowRecord::Dns(m) => {
                if let Some(f) = &mut self.dns_complete {
                    logs::dns::rows(&mut self.line, m, self.anon.as_mut());
                    f.write(&self.line)?;
                }
            }
            FlowRecord::Periodic(p) => {
                let target = if p.tcp {
                    &mut self.tcp_periodic
                } else {
                    &mut self.udp_periodic
                };
                if let Some(f) = target {
                    if p.tcp {
                        logs::periodic::tcp_row(&mut self.line, p, self.anon.as_mut());
                    } else {
                        logs::periodic::udp_row(&mut self.line, p, self.anon.as_mut());
                    }
                    f.write(&self.line)?;
                }
            }
        }
        Ok(())
    }

    /// Flushes and closes every log.
    pub fn finish(self) -> anyhow::Result<()> {
        for f in [
            self.tcp_complete,
            self.tcp_nocomplete,
            self.udp_complete,
            self.http_complete,
            self.dns_complete,
            self.tcp_periodic,
            self.udp_periodic,
            self.video_complete,
        ]
        .into_iter()
        .flatten()
        .chain(self.others)
        {
            let p = f.path.clone();
            f.sink
                .finish()
                .with_context(|| format!("{}: cannot write", p.display()))?;
        }
        Ok(())
    }
}
