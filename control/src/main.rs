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
    /// Run the capture appliance until SIGINT/SIGTERM or `tstat-dpdk stop`.
    ///
    /// Reads conf/tstat-dpdk.toml (every key documented there); the options below override it.
    Start(StartArgs),
    /// Show a running instance's counters: per-core packets, flows, drops, ring occupancy, ports.
    Status(SocketArgs),
    /// Stop a running instance; it flushes every open flow to the logs first.
    Stop(SocketArgs),
    /// An mPlane client (client-initiated workflow) of a supervisor's client port or of a
    /// probe's own server (`[mplane] listen`): list and show capabilities, run one, redeem and
    /// interrupt specifications.
    ///
    /// Exit status: 0 success; 1 usage, connection or protocol error; 2 the peer answered
    /// with an mPlane exception; 3 no result within --timeout; 4 no such capability; 5 redeem
    /// without --wait: not ready yet.
    Ctl(CtlArgs),
    /// Run a repository: the receiving end of the probes' exports (RRD values to Graphite's
    /// carbon, streamed and uploaded logs to a directory tree per probe), registered with an
    /// mPlane supervisor as the three `repository-collect_*` capabilities.
    Repository(RepositoryArgs),
    /// The control-plane process of `start` (started, and restarted, by `start` itself; run
    /// it by hand only to drain the rings of an engine whose plane gave up).
    #[command(hide = true)]
    Plane(PlaneArgs),
}

#[derive(clap::Args)]
struct RepositoryArgs {
    /// The repository's configuration (TOML; every key is documented in
    /// `conf/repository.toml`).
    #[arg(short = 'c', long = "config")]
    config: PathBuf,
    /// Register with this supervisor (its component port, `https://HOST:8889`), with the
    /// repository's certificate of `[tls]`.
    #[arg(long)]
    supervisor: Option<String>,
    /// Seconds between polls of the supervisor.
    #[arg(long, default_value_t = 5.0)]
    poll_s: f64,
    /// At most this many values in a `repository-collect_rrd` result.
    #[arg(long, default_value_t = 10_000)]
    row_limit: usize,
}

#[derive(clap::Args)]
struct CtlArgs {
    /// The supervisor's client port or the probe's server: https://HOST:PORT (http:// for a
    /// peer without TLS)
    #[arg(long, value_name = "URL")]
    url: String,
    /// This client's certificate (PEM), for https
    #[arg(long, value_name = "FILE", requires_all = ["key", "ca"])]
    cert: Option<PathBuf>,
    /// This client's private key (PEM), for https
    #[arg(long, value_name = "FILE", requires_all = ["cert", "ca"])]
    key: Option<PathBuf>,
    /// The CA that signs the server's certificate (PEM), for https
    #[arg(long, value_name = "FILE", requires_all = ["cert", "key"])]
    ca: Option<PathBuf>,
    /// Print mPlane messages as JSON (run, redeem, interrupt: client_drive.py's object
    /// {"outcome", "elapsed_s", "specification", "receipt", "reply"})
    #[arg(long, global = true)]
    json: bool,
    /// Registry named in token-only redemptions and interrupts (the peer must know it)
    #[arg(long, value_name = "URI", default_value = control::mplane::registry::CORE_REGISTRY_URI)]
    registry: String,
    /// An extra registry document to check specifications with (repeatable); the core, demo
    /// and Tstat registries are built in
    #[arg(long, value_name = "FILE")]
    preload: Vec<PathBuf>,
    #[command(subcommand)]
    command: CtlCommand,
}

#[derive(Subcommand)]
enum CtlCommand {
    /// The capabilities this client may see: LABEL token=... when=...
    List,
    /// One capability, by label or token
    Show {
        /// Its label or token
        #[arg(value_name = "LABEL|TOKEN")]
        name: String,
    },
    /// Derive a specification from a capability (single-value parameters such as System_ID
    /// filled in, label <LABEL>-<N>), send it, and print the receipt's token; with --wait,
    /// redeem until the result arrives and print its rows
    Run(CtlRunArgs),
    /// Ask for the result of a specification by its token
    Redeem {
        /// The specification's token (from the receipt)
        token: String,
        #[command(flatten)]
        wait: CtlWaitArgs,
    },
    /// Stop a running specification by its token; its result comes with a redemption
    Interrupt {
        /// The specification's token
        token: String,
    },
}

/// How `ctl run` and `ctl redeem` wait for a result.
#[derive(clap::Args)]
struct CtlWaitArgs {
    /// Redeem until the result arrives
    #[arg(long)]
    wait: bool,
    /// With --wait: give up after this many seconds (exit 3)
    #[arg(long, value_name = "S", default_value_t = 120.0)]
    timeout: f64,
    /// With --wait: seconds between redemptions
    #[arg(long, value_name = "S", default_value_t = 2.0)]
    poll: f64,
}

#[derive(clap::Args)]
struct CtlRunArgs {
    /// The capability's label (or token)
    #[arg(value_name = "LABEL")]
    label: String,
    /// Temporal scope: "now + 30s", "now ... 2026-11-22 10:00:00", ...
    #[arg(long, value_name = "WHEN")]
    when: String,
    /// A parameter value (repeatable)
    #[arg(long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// The specification's label instead of <LABEL>-<N> (a supervisor needs -<digits> at
    /// the end)
    #[arg(long = "label", value_name = "LABEL")]
    spec_label: Option<String>,
    #[command(flatten)]
    wait: CtlWaitArgs,
    /// Interrupt the specification this many seconds after sending it, then wait for the
    /// result (implies --wait)
    #[arg(long, value_name = "S")]
    interrupt_after: Option<f64>,
}

#[derive(clap::Args)]
struct PlaneArgs {
    /// The spec `start` wrote into its run directory (plane.json)
    #[arg(long, value_name = "FILE")]
    spec: PathBuf,
}

#[derive(clap::Args)]
struct StartArgs {
    /// Configuration file
    #[arg(
        short = 'c',
        long = "config",
        value_name = "FILE",
        default_value = "/etc/tstat-dpdk/tstat-dpdk.toml"
    )]
    config: PathBuf,
    /// Capture driver: dpdk or pcap
    #[arg(long, value_name = "DRIVER")]
    driver: Option<String>,
    /// EAL arguments, replacing dpdk.eal_args (one string, split on spaces)
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
    eal: Option<String>,
    /// DPDK port by PCI address or vdev name (repeatable), replacing dpdk.ports
    #[arg(long = "port", value_name = "NAME")]
    ports: Vec<String>,
    /// Interface for the pcap driver (Tstat's -i), replacing pcap.interface
    #[arg(short = 'i', value_name = "IFACE")]
    iface: Option<String>,
    /// Output root (Tstat's -s), replacing output.dir
    #[arg(short = 's', value_name = "DIR")]
    out: Option<PathBuf>,
    /// Internal networks file (Tstat's -N), replacing output.net_conf
    #[arg(short = 'N', value_name = "FILE")]
    net: Option<PathBuf>,
    /// Runtime configuration (Tstat's -T), replacing output.runtime_conf
    #[arg(short = 'T', value_name = "FILE")]
    runtime: Option<PathBuf>,
    /// Worker cores, replacing capture.workers
    #[arg(long, value_name = "N")]
    workers: Option<u16>,
    /// Packet times of DPDK ports: auto, device (the NIC's RX timestamps) or software,
    /// replacing dpdk.rx_timestamps
    #[arg(long, value_name = "MODE")]
    rx_timestamps: Option<String>,
    /// Spreading DPDK ports over the workers in software: auto, always or never, replacing
    /// dpdk.software_rss
    #[arg(long, value_name = "MODE")]
    software_rss: Option<String>,
    /// Control socket, replacing control.socket
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Directory of the record rings and the plane's checkpoint, replacing control.run_dir
    #[arg(long, value_name = "DIR")]
    run_dir: Option<PathBuf>,
    /// Prometheus endpoint address:port or "off", replacing control.metrics
    #[arg(long, value_name = "ADDR")]
    metrics: Option<String>,
    /// Stop after this many seconds without packets, replacing capture.idle_exit_s
    #[arg(long, value_name = "SECS")]
    idle_exit: Option<f64>,
    /// Idle policy of the cores (busy, yield, sleep), replacing capture.idle
    #[arg(long, value_name = "POLICY")]
    idle: Option<String>,
    /// Replay this trace through an in-process DPDK ring device instead of capturing (tests,
    /// benchmarks; EAL needs no NIC: --eal "--no-huge --no-pci ...")
    #[arg(long, value_name = "TRACE")]
    replay: Option<PathBuf>,
    /// gzip the logs (Tstat's -Z), replacing output.gzip
    #[arg(short = 'Z')]
    gzip: bool,
    /// RRD selection (Tstat's -R), replacing output.rrd_conf
    #[arg(short = 'R', value_name = "FILE")]
    rrd_conf: Option<PathBuf>,
    /// RRD directory (Tstat's -r), replacing output.rrd_dir
    #[arg(short = 'r', value_name = "DIR")]
    rrd_dir: Option<PathBuf>,
    /// Histogram selection (Tstat's -H), replacing output.histo_conf
    #[arg(short = 'H', value_name = "FILE")]
    histo: Option<PathBuf>,
    /// With --replay: drop a frame whose queue is full, as a NIC does (counted in the port's
    /// imissed), instead of waiting for the core: the zero-loss benchmark (perf/replay-bench.sh)
    #[arg(long, requires = "replay")]
    replay_lossy: bool,
    /// Replay at this many packets a second (with --replay; default: as fast as the cores go)
    #[arg(long, value_name = "PPS", requires = "replay")]
    replay_pps: Option<f64>,
    /// With --replay: play a multi-queue NIC without RSS (frames to the queues in turn, no
    /// hash), so that the cores spread flows in software (dpdk.software_rss)
    #[arg(long, requires = "replay")]
    replay_no_rss: bool,
    /// With --replay: pre-build every frame of the trace in an mbuf once and play it N times
    /// without copying (lap k XORs k into the last two bytes of each IP address and shifts
    /// the times, as perf/gen/mktrace.py makes copy k): the in-box benchmark's path
    #[arg(long, value_name = "N", requires = "replay", value_parser = clap::value_parser!(u16).range(1..))]
    replay_laps: Option<u16>,
}

#[derive(clap::Args)]
struct SocketArgs {
    /// Control socket of the running instance
    #[arg(long, value_name = "PATH", default_value = "/run/tstat-dpdk.sock")]
    socket: PathBuf,
    /// Print the raw JSON reply
    #[arg(long)]
    json: bool,
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
    /// Collect Tstat's histograms as this file selects them (Tstat's -H: `include ALL`,
    /// `include NAME`, `include_matching TEXT`, `include ADX`, `adx_mask N`) and write them
    /// every 300 s of packet time to <date>.out/NNN/ and at the end to <date>.out/LAST/
    #[arg(short = 'H', value_name = "FILE")]
    histo: Option<PathBuf>,
    /// Write Tstat's RRD files into the directory of -r, for the histograms and statistics this
    /// file selects (Tstat's -R: lines `<histo> [avg] [min] [max] [var] [stdev] [hit]
    /// [idx:v1,v2,...[,other]] [prc:p1,p2,...]`). As with Tstat, the histograms it names are
    /// collected even if -H does not select them, and written with the others
    #[arg(short = 'R', value_name = "FILE", requires = "rrd_dir")]
    rrd_conf: Option<PathBuf>,
    /// Directory of the RRD files of -R, <histo>.<stat>.rrd (Tstat's -r; created if needed)
    #[arg(short = 'r', value_name = "DIR", requires = "rrd_conf")]
    rrd_dir: Option<PathBuf>,
    /// Worker threads (default: every core)
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
    /// Threads formatting log rows, the writer's included (default: every core, at most 8).
    /// Formatting is most of the writer's work; with every log on, one thread is slower than
    /// one worker
    #[arg(long, value_name = "N")]
    format_threads: Option<usize>,
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
    let format_threads = match a.format_threads {
        Some(0) => anyhow::bail!("--format-threads must be at least 1"),
        Some(n) => n,
        None => std::thread::available_parallelism()
            .map(|n| n.get().min(8))
            .unwrap_or(1),
    };
    let opts = Options {
        files: a.files,
        out_root: a.out,
        runtime,
        engine,
        workers,
        format_threads,
        concat: a.concat,
        gzip: a.gzip,
        logs: !a.no_logs,
        progress: !a.quiet,
        crypto,
    };
    let mut histo = match &a.histo {
        Some(p) => {
            let spec = control::histo::conf::parse_file(p)?;
            for w in &spec.warnings {
                eprintln!("tstat-dpdk: {}: {w}", p.display());
            }
            Some(spec)
        }
        None => None,
    };
    let rrd = match (&a.rrd_conf, &a.rrd_dir) {
        (Some(p), Some(dir)) => {
            let conf = control::histo::rrd::RrdConf::parse_file(p)?;
            for w in &conf.warnings {
                eprintln!("tstat-dpdk: {}: {w}", p.display());
            }
            // Tstat turns on every histogram rrd.conf names, -H or not.
            conf.enable(histo.get_or_insert_with(Default::default));
            Some(analyze::RrdOptions {
                conf,
                dir: dir.clone(),
            })
        }
        _ => None,
    };
    let s = analyze::run_with_rrd(&opts, histo.as_ref(), rrd).context("analyze")?;
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
    if !s.histo_dirs.is_empty() {
        out!("histograms: {} interval directories", s.histo_dirs.len());
    }
    if let Some(r) = &s.rrd {
        out!(
            "rrd: {} intervals, {} files created, {} updates, {} errors{}",
            r.intervals,
            r.files_created,
            r.updates,
            r.error_count,
            a.rrd_dir
                .as_ref()
                .map(|d| format!(", in {}", d.display()))
                .unwrap_or_default()
        );
        for e in &r.errors {
            eprintln!("tstat-dpdk: {e}");
        }
        if r.error_count > r.errors.len() as u64 {
            eprintln!(
                "tstat-dpdk: ... {} more RRD errors",
                r.error_count - r.errors.len() as u64
            );
        }
    }
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

fn start(a: StartArgs) -> anyhow::Result<ExitCode> {
    use control::appconf::{AppConfig, RawConfig};
    let mut raw = RawConfig::load(&a.config)?;
    if let Some(d) = a.driver {
        raw.capture.driver = Some(d);
    }
    if let Some(e) = a.eal {
        raw.dpdk.eal_args = Some(e.split_whitespace().map(str::to_string).collect());
    }
    if !a.ports.is_empty() {
        raw.dpdk.ports = Some(a.ports);
    }
    if let Some(i) = a.iface {
        raw.pcap.interface = Some(i);
    }
    if let Some(o) = a.out {
        raw.output.dir = Some(o);
    }
    if let Some(n) = a.net {
        raw.output.net_conf = Some(n);
    }
    if let Some(t) = a.runtime {
        raw.output.runtime_conf = Some(t);
    }
    if let Some(w) = a.workers {
        raw.capture.workers = Some(w);
    }
    if let Some(s) = a.socket {
        raw.control.socket = Some(s);
    }
    if let Some(d) = a.run_dir {
        raw.control.run_dir = Some(d);
    }
    if let Some(h) = a.histo {
        raw.output.histo_conf = Some(h);
    }
    if let Some(r) = a.rrd_conf {
        raw.output.rrd_conf = Some(r);
    }
    if a.gzip {
        raw.output.gzip = Some(true);
    }
    if let Some(r) = a.rrd_dir {
        raw.output.rrd_dir = Some(r);
    }
    if let Some(m) = a.metrics {
        raw.control.metrics = Some(m);
    }
    if let Some(i) = a.idle_exit {
        raw.capture.idle_exit_s = Some(i);
    }
    if let Some(i) = a.idle {
        raw.capture.idle = Some(i);
    }
    if let Some(m) = a.rx_timestamps {
        raw.dpdk.rx_timestamps = Some(m);
    }
    if let Some(m) = a.software_rss {
        raw.dpdk.software_rss = Some(m);
    }
    let cfg = AppConfig::from_raw(raw).with_context(|| format!("{}", a.config.display()))?;
    let mut engine = EngineConfig::default();
    if let Some(n) = &cfg.net_conf {
        engine.nets = conf::parse_net_conf(n)?;
    }
    let runtime = match &cfg.runtime_conf {
        Some(p) => conf::parse_runtime_conf(p)?,
        None => conf::Runtime::default(),
    };
    let engine = control::start::engine_for(engine, &runtime, true);
    // runtime.conf's histo_engine and rrd_engine switch the histogram files and the RRD
    // updates off and on while running (the control plane follows them): with -H or -R the
    // cores count from the start.
    let mut histo = match &cfg.histo_conf {
        Some(p) => {
            let spec = control::histo::conf::parse_file(p)?;
            for w in &spec.warnings {
                eprintln!("tstat-dpdk: {w}");
            }
            Some(spec)
        }
        None => None,
    };
    let histo_conf = cfg.histo_conf.clone();
    let rrd = match &cfg.rrd {
        Some((conf, dir)) => {
            let c = control::histo::rrd::RrdConf::parse_file(conf)?;
            for w in &c.warnings {
                eprintln!("tstat-dpdk: {}: {w}", conf.display());
            }
            // Tstat collects every histogram rrd.conf names, -H or not.
            c.enable(histo.get_or_insert_with(Default::default));
            Some((conf.clone(), dir.clone()))
        }
        None => None,
    };
    let opts = control::start::StartOptions {
        histo,
        histo_conf,
        rrd,
        cfg,
        runtime,
        engine,
        replay: a.replay,
        replay_lossy: a.replay_lossy,
        replay_no_rss: a.replay_no_rss,
        replay_laps: a.replay_laps,
        replay_pps: match a.replay_pps {
            Some(p) if !(p > 0.0 && p.is_finite()) => {
                anyhow::bail!("--replay-pps: {p} is not a positive rate")
            }
            p => p,
        },
    };
    let s = control::start::run(&opts).context("start")?;
    let st = &s.stats;
    out!(
        "packets: {} received, {} TCP, {} UDP, {} not analysed",
        st.packets,
        st.tcp_packets,
        st.udp_packets,
        st.skipped_total() + st.ipv6_ignored + st.udp_ignored
    );
    out!(
        "flows: TCP {} ({} complete, {} not complete), UDP {} ({} logged); {} evicted",
        st.tcp_flows,
        st.tcp_complete,
        st.tcp_nocomplete,
        st.udp_flows,
        st.udp_closed,
        st.evicted
    );
    let foreign: u64 = s.cores.iter().map(|c| c.foreign).sum();
    let dns_dropped: u64 = s.cores.iter().map(|c| c.dns_dropped).sum();
    let handoff_dropped: u64 = s.cores.iter().map(|c| c.handoff_dropped).sum();
    out!(
        "drops: {} records (ring full), {} DN-Hunter entries, {} frames on a foreign core, {} frames between cores (hand-off ring full)",
        st.records_dropped,
        dns_dropped,
        foreign,
        handoff_dropped
    );
    for (i, c) in s.cores.iter().enumerate() {
        out!(
            "core {i}: {} packets, {} handed to their flow's core",
            c.stats.packets,
            c.forwarded
        );
    }
    out!(
        "control plane: {} restarts, {} records that did not decode",
        s.plane_restarts,
        s.corrupt
    );
    for p in &s.ports {
        out!("port: {p}");
    }
    out!(
        "elapsed: {:.3} s, {} records written{}",
        s.elapsed.as_secs_f64(),
        s.written,
        match s.dirs.as_slice() {
            [] => String::new(),
            [d] => format!(", output {}", d.display()),
            [first, .., last] => format!(
                ", output {} directories, {} to {}",
                s.dirs.len(),
                first.display(),
                last.display()
            ),
        }
    );
    Ok(ExitCode::SUCCESS)
}

fn repository(a: RepositoryArgs) -> anyhow::Result<ExitCode> {
    let conf = control::repository::RepositoryConf::load(&a.config)?;
    if !(a.poll_s > 0.0 && a.poll_s.is_finite()) {
        anyhow::bail!("--poll-s must be a positive number of seconds");
    }
    let link = match &a.supervisor {
        Some(url) => {
            let mut l = control::mplane::component::SupervisorLink::new(
                control::mplane::net::Endpoint::parse(url)?,
                conf.tls.clone(),
            );
            l.poll = std::time::Duration::from_secs_f64(a.poll_s);
            Some(l)
        }
        None => None,
    };
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, std::sync::Arc::clone(&stop))
            .context("installing signal handlers")?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    runtime.block_on(async move {
        let repo = control::repository::Repository::bind(conf.clone()).await?;
        tracing::info!(
            "repository: RRD import on {}, streaming on {}, log upload on {}, store {}",
            repo.rrd_addr()?,
            repo.streaming_addr()?,
            repo.log_addr()?,
            conf.store.display()
        );
        let (tx, rx) = tokio::sync::watch::channel(false);
        let component = control::repository::repository_component(&conf, repo.stats(), a.row_limit);
        let registration = link.map(|l| {
            tokio::spawn(control::mplane::component::run_with_supervisor(
                component,
                l,
                rx.clone(),
                Default::default(),
            ))
        });
        let watcher = tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            let _ = tx.send(true);
        });
        repo.run(rx).await?;
        watcher.abort();
        if let Some(r) = registration {
            let _ = r.await;
        }
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

fn plane(a: PlaneArgs) -> anyhow::Result<ExitCode> {
    let spec = control::plane::PlaneSpec::load(&a.spec)?;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, std::sync::Arc::clone(&stop))
            .context("installing signal handlers")?;
    }
    let s = control::plane::run(&spec, std::sync::Arc::clone(&stop)).context("control plane")?;
    if stop.load(std::sync::atomic::Ordering::Relaxed) && s.dirs.is_empty() {
        // Stopped on request before the engine's end: `start` runs the next plane.
        return Ok(ExitCode::from(3));
    }
    if s.corrupt > 0 {
        eprintln!("tstat-dpdk plane: {} records did not decode", s.corrupt);
    }
    Ok(ExitCode::SUCCESS)
}

fn status(a: SocketArgs, what: &str) -> anyhow::Result<ExitCode> {
    let v = control::start::request(&a.socket, what)?;
    if a.json || what != "status" {
        out!("{v}");
        return Ok(ExitCode::SUCCESS);
    }
    out!(
        "tstat-dpdk: driver {}, up {:.0} s; control plane pid {}, {} restarts",
        v["driver"].as_str().unwrap_or("?"),
        v["uptime_s"].as_f64().unwrap_or(0.0),
        v["plane"]["pid"],
        v["plane"]["restarts"]
    );
    out!(
        "{:>4} {:>14} {:>16} {:>9} {:>9} {:>10} {:>9} {:>9} {:>9} {:>12} {:>9} {:>13}",
        "core",
        "packets",
        "bytes",
        "tcp_open",
        "udp_open",
        "malformed",
        "evicted",
        "rec_drop",
        "dns_drop",
        "handed_off",
        "hoff_drop",
        "ring"
    );
    for c in v["cores"].as_array().into_iter().flatten() {
        out!(
            "{:>4} {:>14} {:>16} {:>9} {:>9} {:>10} {:>9} {:>9} {:>9} {:>12} {:>9} {:>6}/{:<6}",
            c["core"],
            c["packets"],
            c["bytes"],
            c["tcp_flows_open"],
            c["udp_flows_open"],
            c["malformed"],
            c["evicted"],
            c["records_dropped"],
            c["dns_dropped"],
            c["forwarded"],
            c["handoff_dropped"],
            c["ring_used_bytes"],
            c["ring_bytes"]
        );
    }
    for p in v["ports"].as_array().into_iter().flatten() {
        out!(
            "port {} ({}): {} packets, imissed {}, rx_nombuf {}, ierrors {}",
            p["port"],
            p["driver"],
            p["ipackets"],
            p["imissed"],
            p["rx_nombuf"],
            p["ierrors"]
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `tstat-dpdk ctl`: every error ends here with its exit status (client_drive.py's).
fn ctl(a: CtlArgs) -> anyhow::Result<ExitCode> {
    use control::mplane::client::ClientError;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let https = a.url.starts_with("https://") || !a.url.contains("://");
    let code = match runtime.block_on(ctl_session(a)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tstat-dpdk ctl: {e}");
            if matches!(e, ClientError::Transport { .. }) {
                eprintln!(
                    "tstat-dpdk ctl: {}",
                    if https {
                        "is the server running there, does its CA sign this client's --cert, \
                         and does --ca sign the server's certificate?"
                    } else {
                        "is the server running there, without TLS?"
                    }
                );
            }
            e.exit_code()
        }
    };
    Ok(ExitCode::from(code))
}

async fn ctl_session(a: CtlArgs) -> Result<u8, control::mplane::client::ClientError> {
    use control::mplane::client::{self, ClientError, Follow, MplaneClient, OutcomeKind};
    use control::mplane::net::{Endpoint, TlsFiles};
    use std::time::{Duration, Instant};
    let setup = |m: String| ClientError::Setup(anyhow::anyhow!(m));
    let secs = |v: f64, what: &str, zero_ok: bool| match Duration::try_from_secs_f64(v) {
        Ok(d) if zero_ok || !d.is_zero() => Ok(d),
        _ => Err(setup(format!(
            "{what}: {v} is not a positive number of seconds"
        ))),
    };
    let endpoint = Endpoint::parse(&a.url).map_err(ClientError::Setup)?;
    let tls = match (a.cert, a.key, a.ca) {
        (Some(cert), Some(key), Some(ca)) => Some(TlsFiles { cert, key, ca }),
        _ => None,
    };
    if endpoint.tls && tls.is_none() {
        return Err(setup(format!(
            "{endpoint} is https: give this client's --cert and --key and the --ca that signs \
             the server (http:// for a server without TLS)"
        )));
    }
    let mut c = MplaneClient::new(&a.url, tls.as_ref())?;
    c.set_notification_registry(&a.registry);
    for p in &a.preload {
        let text = std::fs::read_to_string(p)
            .map_err(|e| setup(format!("{}: cannot read: {e}", p.display())))?;
        let reg = control::mplane::Registry::from_json(&text)
            .map_err(|e| setup(format!("{}: {e}", p.display())))?;
        c.registries_mut().insert(reg);
    }
    let show = |o: &client::Outcome, receipt_shown: bool| {
        if a.json {
            out!("{:#}", o.to_json());
            return;
        }
        match o.kind {
            OutcomeKind::Receipt if receipt_shown => {}
            OutcomeKind::Timeout => eprintln!(
                "tstat-dpdk ctl: no result after {:.1} s; still only a receipt",
                o.elapsed.as_secs_f64()
            ),
            _ => out!("{}", client::render_message(&o.reply)),
        }
    };
    match a.command {
        CtlCommand::List => {
            let mut caps = c.capabilities().await?;
            caps.sort_by(|x, y| x.label.cmp(&y.label));
            if a.json {
                let list: Vec<_> = caps
                    .into_iter()
                    .map(|cap| control::mplane::Message::Capability(cap).to_value())
                    .collect();
                out!("{:#}", serde_json::Value::Array(list));
            } else {
                for cap in &caps {
                    out!("{}", client::capability_line(cap));
                }
            }
            Ok(client::exit::OK)
        }
        CtlCommand::Show { name } => {
            let cap = c.capability(&name).await?;
            if a.json {
                out!(
                    "{}",
                    control::mplane::Message::Capability(cap).to_json_pretty()
                );
            } else {
                out!("{}", client::render_capability(&cap));
            }
            Ok(client::exit::OK)
        }
        CtlCommand::Run(r) => {
            let when: control::mplane::When = r
                .when
                .parse()
                .map_err(|e| setup(format!("--when {:?}: {e}", r.when)))?;
            let params = client::parse_params(&r.params).map_err(setup)?;
            let how = Follow {
                wait: r.wait.wait || r.interrupt_after.is_some(),
                poll: secs(r.wait.poll, "--poll", false)?,
                timeout: secs(r.wait.timeout, "--timeout", true)?,
                interrupt_after: r
                    .interrupt_after
                    .map(|s| secs(s, "--interrupt-after", true))
                    .transpose()?,
            };
            let cap = c.capability(&r.label).await?;
            let spec = c.specify(&cap, when, &params, r.spec_label)?;
            let token = spec.token.clone().unwrap_or_default();
            if let Some(l) = spec.label.as_deref() {
                if control::mplane::matching::base_label(l) == l {
                    eprintln!("tstat-dpdk ctl: warning: a supervisor cannot relay label {l:?} (no -<digits> at its end)");
                }
            }
            let t0 = Instant::now();
            let first = c.send(spec).await?;
            let receipt_shown = !a.json && first.kind() == control::mplane::Kind::Receipt;
            if receipt_shown {
                out!("{}", client::render_message(&first));
            }
            let o = c.follow(&token, first, &how, t0).await?;
            show(&o, receipt_shown);
            Ok(o.exit_code(true))
        }
        CtlCommand::Redeem { token, wait } => {
            let how = Follow {
                wait: wait.wait,
                poll: secs(wait.poll, "--poll", false)?,
                timeout: secs(wait.timeout, "--timeout", true)?,
                interrupt_after: None,
            };
            let t0 = Instant::now();
            let first = c.redeem(&token).await?;
            let o = c.follow(&token, first, &how, t0).await?;
            show(&o, false);
            if o.kind == OutcomeKind::Receipt {
                eprintln!("tstat-dpdk ctl: {token}: not ready yet");
            }
            Ok(o.exit_code(false))
        }
        CtlCommand::Interrupt { token } => {
            let t0 = Instant::now();
            let first = c.interrupt(&token).await?;
            let how = Follow {
                wait: false,
                ..Follow::default()
            };
            let o = c.follow(&token, first, &how, t0).await?;
            show(&o, false);
            Ok(o.exit_code(true))
        }
    }
}

/// Diagnostics go to standard error, filtered by `TSTAT_DPDK_LOG` (tracing's `EnvFilter`
/// syntax, e.g. `debug` or `control::mplane=debug`); by default the long-running commands say
/// what they do (`info`) and the others only what goes wrong (`warn`).
fn init_logging(command: &Command) {
    let default = match command {
        Command::Start(_) | Command::Plane(_) | Command::Repository(_) => "info",
        _ => "warn",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("TSTAT_DPDK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            // `ctl` keeps exit status 2 for "the peer answered with an exception"; its usage
            // errors are 1, like its other local errors.
            let ctl = std::env::args().nth(1).as_deref() == Some("ctl");
            return ExitCode::from(match (e.use_stderr(), ctl) {
                (false, _) => 0,
                (true, true) => 1,
                (true, false) => 2,
            });
        }
    };
    init_logging(&cli.command);
    let r = match cli.command {
        Command::Analyze(a) => analyze(a),
        Command::Start(a) => start(a),
        Command::Status(a) => status(a, "status"),
        Command::Stop(a) => status(a, "stop"),
        Command::Repository(a) => repository(a),
        Command::Plane(a) => plane(a),
        Command::Ctl(a) => ctl(a),
    };
    match r {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tstat-dpdk: {e:#}");
            ExitCode::from(2)
        }
    }
}
