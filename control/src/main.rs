//! The `tstat-dpdk` command: a thin front end that parses the command line and hands over to
//! the control plane.

use anyhow::Context;
use clap::{Parser, Subcommand};
use control::analyze::{self, Options};
use control::conf;
use control::cryptopan::{self, CryptoConfig, KeySource};
use engine::config::EngineConfig;
use engine::wire::Skip;
use std::path::PathBuf;
use std::process::ExitCode;

/// tstat-dpdk: a multi-core, DPDK-accelerated passive traffic analyzer that writes Tstat's logs.
#[derive(Parser)]
#[command(version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Analyse pcap/pcapng traces (optionally .gz) and write Tstat's logs.
    ///
    /// Options follow Tstat's command line: `tstat-dpdk analyze -s out/ -N net.conf trace.pcap`
    /// writes `out/<YYYY_MM_DD_HH_MM>.out/log_*` exactly as `tstat -s out/ -N net.conf trace.pcap`.
    Analyze(AnalyzeArgs),
}

#[derive(clap::Args)]
struct AnalyzeArgs {
    /// Output root directory (Tstat's -s); default: <first trace>.out
    #[arg(short = 's', value_name = "DIR")]
    out: Option<PathBuf>,
    /// Internal networks file (Tstat's -N); without it every address is internal
    #[arg(short = 'N', value_name = "FILE")]
    net: Option<PathBuf>,
    /// Networks whose addresses are anonymised with Crypto-PAn in the logs (Tstat's -Y; same
    /// syntax as -N)
    #[arg(short = 'Y', value_name = "FILE")]
    crypto: Option<PathBuf>,
    /// Networks exempt from anonymisation (Tstat's -W; same syntax as -N)
    #[arg(short = 'W', value_name = "FILE")]
    white: Option<PathBuf>,
    /// Crypto-PAn key material: the string's bytes, cut or zero-padded to 32 (Tstat's
    /// --keyvalue); without a key option a random key is used. The key is saved, Base64, as
    /// CPanKey_YYYY_MM_DD_HH_MM in the output root
    #[arg(long, value_name = "STRING", group = "key")]
    keyvalue: Option<String>,
    /// Crypto-PAn key from the first line of a file, as text (Tstat's --keyfile)
    #[arg(long, value_name = "FILE", group = "key")]
    keyfile: Option<PathBuf>,
    /// Crypto-PAn key from the first line of a file, Base64-encoded (Tstat's --keybase64; the
    /// format of the saved CPanKey_* files)
    #[arg(long, value_name = "FILE", group = "key")]
    keybase64: Option<PathBuf>,
    /// Runtime configuration: which logs and TCP column groups (Tstat's -T)
    #[arg(short = 'T', value_name = "FILE")]
    runtime: Option<PathBuf>,
    /// Ignore UDP completely (Tstat's -u)
    #[arg(short = 'u')]
    no_udp: bool,
    /// Ignore IPv6 at layer 4 (Tstat's -6)
    #[arg(short = '6')]
    no_ipv6: bool,
    /// Write the logs gzip-compressed (Tstat's -Z)
    #[arg(short = 'Z')]
    gzip: bool,
    /// Treat all input files as one trace, in one output directory (Tstat's -c)
    #[arg(short = 'c')]
    concat: bool,
    /// Do not write any log_* file (Tstat's -L)
    #[arg(short = 'L')]
    no_logs: bool,
    /// Worker threads (default: every core)
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
    /// Do not show a progress bar
    #[arg(long)]
    quiet: bool,
    /// Trace files (pcap or pcapng, optionally gzip-compressed)
    #[arg(required = true, value_name = "TRACE")]
    files: Vec<PathBuf>,
}

/// Prints a summary line; a closed stdout (`| head`) is not an error worth a panic.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

fn analyze(a: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let mut engine = EngineConfig::default();
    if let Some(n) = &a.net {
        engine.nets = conf::parse_net_conf(n)?;
    }
    engine.ignore_udp = a.no_udp;
    engine.ignore_ipv6 = a.no_ipv6;
    let runtime = match &a.runtime {
        Some(p) => conf::parse_runtime_conf(p)?,
        None => conf::Runtime::default(),
    };
    // Per-message logs cost the workers a copy per message: only when they are written.
    engine.http_log = runtime.logs.http_complete && !a.no_logs;
    engine.dns_log = runtime.logs.dns_complete && !a.no_logs;
    engine.tcp_periodic = runtime.logs.tcp_periodic && !a.no_logs;
    engine.udp_periodic = runtime.logs.udp_periodic && !a.no_logs;
    let crypto = crypto_config(&a)?;
    let workers = match a.workers {
        Some(0) => anyhow::bail!("--workers must be at least 1"),
        Some(n) => n,
        None => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
    };
    let opts = Options {
        files: a.files,
        out_root: a.out,
        runtime,
        engine,
        workers,
        concat: a.concat,
        gzip: a.gzip,
        logs: !a.no_logs,
        progress: !a.quiet,
        crypto,
    };
    let s = analyze::run(&opts).context("analyze")?;
    for f in &s.faults {
        eprintln!("tstat-dpdk: {f}");
    }
    let st = &s.stats;
    let secs = s.elapsed.as_secs_f64().max(1e-9);
    out!(
        "packets: {} read, {} TCP, {} UDP, {} not analysed",
        st.packets,
        st.tcp_packets,
        st.udp_packets,
        st.skipped_total() + st.ipv6_ignored + st.udp_ignored
    );
    let skipped: Vec<String> = Skip::ALL
        .iter()
        .filter(|k| st.skipped[k.index()] > 0)
        .map(|k| format!("{} {}", k.name(), st.skipped[k.index()]))
        .collect();
    if !skipped.is_empty() {
        out!("not analysed: {}", skipped.join(", "));
    }
    out!(
        "flows: TCP {} ({} complete, {} not complete), UDP {} ({} logged); {} trash TCP packets; {} flows not logged (both ends external); {} evicted",
        st.tcp_flows, st.tcp_complete, st.tcp_nocomplete, st.udp_flows, st.udp_closed, st.tcp_trash, st.not_logged_external, st.evicted
    );
    out!(
        "drops: {} records (ring full), {} ring waits",
        st.records_dropped,
        st.ring_full_waits
    );
    out!(
        "elapsed: {:.3} s, {:.3} Mpps, {} workers{}",
        secs,
        st.packets as f64 / secs / 1e6,
        workers,
        s.dirs
            .iter()
            .map(|d| format!(", output {}", d.display()))
            .collect::<String>()
    );
    if st.packets == 0 && !s.faults.is_empty() {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// The `-Y`/`-W`/key options, resolved into networks and a key before any packet is read.
fn crypto_config(a: &AnalyzeArgs) -> anyhow::Result<Option<CryptoConfig>> {
    let source = match (&a.keyvalue, &a.keyfile, &a.keybase64) {
        (Some(v), _, _) => KeySource::Value(v.clone()),
        (_, Some(f), _) => KeySource::File(f.clone()),
        (_, _, Some(f)) => KeySource::Base64File(f.clone()),
        _ => KeySource::Random,
    };
    let Some(y) = &a.crypto else {
        if source != KeySource::Random || a.white.is_some() {
            eprintln!("tstat-dpdk: -W and the key options have no effect without -Y");
        }
        return Ok(None);
    };
    let nets = conf::parse_net_conf(y)?;
    let white = match &a.white {
        Some(w) => conf::parse_net_conf(w)?,
        None => Default::default(),
    };
    let key = cryptopan::derive_key(&source).context("Crypto-PAn key")?;
    for n in &key.notes {
        eprintln!("tstat-dpdk: {n}");
    }
    Ok(Some(CryptoConfig {
        nets,
        white,
        key: key.bytes,
    }))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.command {
        Command::Analyze(a) => analyze(a),
    };
    match r {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tstat-dpdk: {e:#}");
            ExitCode::from(2)
        }
    }
}
