//! The appliance's configuration file (`conf/tstat-dpdk.toml`, `tstat-dpdk start -c FILE`),
//! in two stages as ripgrep does: [`RawConfig`] mirrors the TOML (serde, unknown keys refused),
//! [`AppConfig::from_raw`] validates it into typed values. Command-line overrides are applied
//! to the raw form before validation, so they are checked the same way.

use anyhow::{bail, Context};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `[capture]`: which driver and how many cores.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCapture {
    /// `"dpdk"` (default) or `"pcap"` (libpcap live capture, the fallback).
    pub driver: Option<String>,
    /// Worker cores: RX queues per port with DPDK (default 1).
    pub workers: Option<u16>,
    /// What a core does when a poll finds nothing: `"busy"` (default with DPDK), `"yield"`,
    /// or `"sleep"` (100 µs).
    pub idle: Option<String>,
    /// Stop after this many seconds without any packet (replays and tests); default: never.
    pub idle_exit_s: Option<f64>,
}

/// `[dpdk]`: EAL and ports.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDpdk {
    /// EAL arguments, passed through as they are (`-l`, `--file-prefix`, `-a`, `--vdev`, ...).
    pub eal_args: Option<Vec<String>>,
    /// Ports to capture on, by PCI address or vdev name; default: every port EAL found.
    pub ports: Option<Vec<String>>,
    /// RX descriptors per queue (default 4096; adjusted to the device's limits).
    pub rx_desc: Option<u16>,
    /// Mbufs per NUMA socket's mempool (default 65535 − 1 = 2^16 − 1, DPDK's sweet spot).
    pub mempool_size: Option<u32>,
    /// Ask the NIC for symmetric RSS (default true; a software hash is used otherwise).
    pub rss: Option<bool>,
    /// Spreading frames over the cores in software: `"auto"` (default: the ports without
    /// RSS, or with fewer queues than workers), `"always"` (every port), `"never"`.
    pub software_rss: Option<String>,
    /// Packet times: `"auto"` (default: the NIC's RX timestamps where offered), `"device"`
    /// (required), `"software"` (the TSC, disciplined to the system clock).
    pub rx_timestamps: Option<String>,
}

/// `[pcap]`: libpcap live capture.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPcap {
    /// Interface to capture on (Tstat's `-i`).
    pub interface: Option<String>,
    /// Bytes kept per packet (default 65535; Tstat's `-E` defaults to 550).
    pub snaplen: Option<u32>,
    /// File holding a BPF filter expression (Tstat's `-f`).
    pub filter_file: Option<PathBuf>,
    /// Promiscuous mode (default true).
    pub promiscuous: Option<bool>,
    /// KiB of the kernel's capture buffer (libpcap's buffer size; default 32768: 32 MiB,
    /// a quarter of a second of a busy gigabit link).
    pub buffer_kib: Option<u32>,
}

/// `[output]`: where and what to write.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutput {
    /// Output root (Tstat's `-s`); default `/var/lib/tstat-dpdk`.
    pub dir: Option<PathBuf>,
    /// Internal networks (Tstat's `-N`); default: every address internal.
    pub net_conf: Option<PathBuf>,
    /// Runtime configuration (Tstat's `-T`); default: Tstat's default logs.
    pub runtime_conf: Option<PathBuf>,
    /// Histogram selection (Tstat's `-H`); default: no histograms.
    pub histo_conf: Option<PathBuf>,
    /// RRD selection (Tstat's `-R`); needs `rrd_dir`.
    pub rrd_conf: Option<PathBuf>,
    /// Directory of the RRD files (Tstat's `-r`).
    pub rrd_dir: Option<PathBuf>,
    /// gzip the logs (Tstat's `-Z`; default false).
    pub gzip: Option<bool>,
    /// Seconds of traffic time between flushes (Tstat's `max_time_step`, default 300).
    pub flush_interval_s: Option<u64>,
    /// Flushes per output directory (Tstat's `dirs`, default 12: a new `<date>.out` every hour
    /// of traffic).
    pub flushes_per_dir: Option<u32>,
    /// KiB of each worker's record ring to the control plane (power of two, default 65536:
    /// 64 MiB, some 50 000 TCP records).
    pub record_ring_kib: Option<u64>,
}

/// `[control]`: the local control socket.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawControl {
    /// Unix socket for `tstat-dpdk status` and `stop` (default `/run/tstat-dpdk.sock`).
    pub socket: Option<PathBuf>,
    /// Directory of the record rings and the control plane's checkpoint (default
    /// `/run/tstat-dpdk`; a tmpfs keeps the rings in memory).
    pub run_dir: Option<PathBuf>,
    /// User the control-plane process runs as when `start` runs as root (default: the same
    /// user as the engine).
    pub user: Option<String>,
    /// Prometheus endpoint of the control plane, `address:port` (default `127.0.0.1:9464`;
    /// `"off"`: none).
    pub metrics: Option<String>,
    /// Threads of the control plane formatting log rows (default 2).
    pub format_threads: Option<usize>,
}

/// `[mplane]`: the built-in mPlane component (none of `supervisor` and `listen`: off).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMplane {
    /// The supervisor's component-facing URL (`https://host:8889`): register, poll, report
    /// (the component-initiated workflow).
    pub supervisor: Option<String>,
    /// `address:port` to serve clients directly (the client-initiated workflow).
    pub listen: Option<String>,
    /// The URL advertised in the capabilities served at `listen` (default
    /// `https://<listen>/`).
    pub link: Option<String>,
    /// The probe's certificate (PEM), whose subject is its mPlane identity.
    pub cert: Option<PathBuf>,
    /// Its private key (PEM, unencrypted).
    pub key: Option<PathBuf>,
    /// The domain CA (PEM) that signs the supervisor, the clients and the repository.
    pub ca: Option<PathBuf>,
    /// An INI file with `[Roles]` (identity = roles) and `[Authorizations]` (capability label
    /// = roles), as the RI's: who may see and run what at `listen` (default: nobody).
    pub access: Option<PathBuf>,
    /// The `System_ID` parameter value of every capability (default `01`).
    pub system_id: Option<String>,
    /// Seconds between polls of the supervisor (default 5).
    pub poll_s: Option<f64>,
    /// Seconds between registrations (default 60).
    pub reregister_s: Option<f64>,
    /// At most this many rows in one result (default 10000).
    pub row_limit: Option<usize>,
}

/// The TOML file as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `[capture]`.
    #[serde(default)]
    pub capture: RawCapture,
    /// `[dpdk]`.
    #[serde(default)]
    pub dpdk: RawDpdk,
    /// `[pcap]`.
    #[serde(default)]
    pub pcap: RawPcap,
    /// `[output]`.
    #[serde(default)]
    pub output: RawOutput,
    /// `[control]`.
    #[serde(default)]
    pub control: RawControl,
    /// `[mplane]`.
    #[serde(default)]
    pub mplane: RawMplane,
}

impl RawConfig {
    /// Reads and parses a TOML file; errors name the file, line and key.
    pub fn load(path: &Path) -> anyhow::Result<RawConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read", path.display()))?;
        toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.to_string().trim_end()))
    }
}

/// The capture driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    /// DPDK poll-mode drivers.
    Dpdk,
    /// libpcap live capture.
    Pcap,
}

/// Which DPDK ports the cores spread over themselves in software, by the symmetric hash of
/// each frame's flow ([`engine::dpdk::CoreQueue`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoftwareRss {
    /// The ports that do not spread flows themselves: no RSS, or fewer RX queues than workers
    /// (`net_pcap`, memif, vhost, af_packet). With one worker nothing is spread.
    Auto,
    /// Every port (a NIC whose RSS cannot be made symmetric).
    Always,
    /// None: each frame is analysed by the core whose queue received it, RSS or not.
    Never,
}

/// Where DPDK ports' packet times come from (`engine::dpdk::RxTimestamps`, named here so that
/// the configuration builds without DPDK).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RxTimestampMode {
    /// The NIC's RX timestamps where offered, software time otherwise.
    Auto,
    /// The NIC's RX timestamps; a port without them is refused.
    Device,
    /// Software time (the TSC at each burst, disciplined to the system clock).
    Software,
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// The capture driver.
    pub driver: Driver,
    /// Worker cores.
    pub workers: u16,
    /// Idle policy of the cores.
    pub idle: engine::rx::IdlePolicy,
    /// Stop after this long without packets.
    pub idle_exit: Option<Duration>,
    /// EAL arguments.
    pub eal_args: Vec<String>,
    /// DPDK ports by name (empty: all).
    pub ports: Vec<String>,
    /// RX descriptors per queue.
    pub rx_desc: u16,
    /// Mbufs per mempool.
    pub mempool_size: u32,
    /// Symmetric RSS wanted.
    pub rss: bool,
    /// Which ports the cores spread in software.
    pub software_rss: SoftwareRss,
    /// Where packet times come from.
    pub rx_timestamps: RxTimestampMode,
    /// libpcap interface.
    pub interface: Option<String>,
    /// libpcap snaplen.
    pub snaplen: u32,
    /// BPF filter file.
    pub filter_file: Option<PathBuf>,
    /// libpcap promiscuous mode.
    pub promiscuous: bool,
    /// libpcap kernel buffer bytes.
    pub pcap_buffer_bytes: u64,
    /// Output root.
    pub out_dir: PathBuf,
    /// `-N` file.
    pub net_conf: Option<PathBuf>,
    /// `-T` file.
    pub runtime_conf: Option<PathBuf>,
    /// `-H` file.
    pub histo_conf: Option<PathBuf>,
    /// `-R` file and `-r` directory.
    pub rrd: Option<(PathBuf, PathBuf)>,
    /// `-Z`.
    pub gzip: bool,
    /// Traffic time between flushes.
    pub flush_interval: Duration,
    /// Flushes per directory.
    pub flushes_per_dir: u32,
    /// Record ring bytes per worker.
    pub record_ring_bytes: u64,
    /// Control socket path.
    pub socket: PathBuf,
    /// Rings and checkpoint directory.
    pub run_dir: PathBuf,
    /// User of the control-plane process.
    pub user: Option<String>,
    /// Prometheus endpoint.
    pub metrics: Option<std::net::SocketAddr>,
    /// Threads of the control plane formatting log rows.
    pub format_threads: usize,
    /// The mPlane component, when configured.
    pub mplane: Option<crate::mplane::probe::MplaneConf>,
}

impl AppConfig {
    /// Validates the raw configuration.
    pub fn from_raw(raw: RawConfig) -> anyhow::Result<AppConfig> {
        let driver = match raw.capture.driver.as_deref().unwrap_or("dpdk") {
            "dpdk" => Driver::Dpdk,
            "pcap" => Driver::Pcap,
            other => bail!("capture.driver: {other:?} is neither \"dpdk\" nor \"pcap\""),
        };
        let software_rss = match raw.dpdk.software_rss.as_deref().unwrap_or("auto") {
            "auto" => SoftwareRss::Auto,
            "always" => SoftwareRss::Always,
            "never" => SoftwareRss::Never,
            o => bail!("dpdk.software_rss: {o:?} is not one of auto, always, never"),
        };
        let rx_timestamps = match raw.dpdk.rx_timestamps.as_deref().unwrap_or("auto") {
            "auto" => RxTimestampMode::Auto,
            "device" => RxTimestampMode::Device,
            "software" => RxTimestampMode::Software,
            o => bail!("dpdk.rx_timestamps: {o:?} is not one of auto, device, software"),
        };
        let workers = raw.capture.workers.unwrap_or(1);
        if workers == 0 {
            bail!("capture.workers must be at least 1");
        }
        let idle = match raw.capture.idle.as_deref() {
            None if driver == Driver::Dpdk => engine::rx::IdlePolicy::Busy,
            None => engine::rx::IdlePolicy::Yield,
            Some("busy") => engine::rx::IdlePolicy::Busy,
            Some("yield") => engine::rx::IdlePolicy::Yield,
            Some("sleep") => engine::rx::IdlePolicy::Sleep(Duration::from_micros(100)),
            Some(o) => bail!("capture.idle: {o:?} is not one of busy, yield, sleep"),
        };
        let idle_exit = match raw.capture.idle_exit_s {
            None => None,
            Some(s) if s > 0.0 && s.is_finite() => Some(Duration::from_secs_f64(s)),
            Some(s) => bail!("capture.idle_exit_s: {s} is not a positive number of seconds"),
        };
        let ring_kib = raw.output.record_ring_kib.unwrap_or(1 << 16);
        if !ring_kib.is_power_of_two() || !(16..=1 << 24).contains(&ring_kib) {
            bail!("output.record_ring_kib: {ring_kib} is not a power of two from 16 to 16777216");
        }
        let metrics = match raw.control.metrics.as_deref() {
            None => Some(std::net::SocketAddr::from(([127, 0, 0, 1], 9464))),
            Some("off") => None,
            Some(a) => Some(a.parse().map_err(|_| {
                anyhow::anyhow!("control.metrics: {a:?} is not address:port (or \"off\")")
            })?),
        };
        let format_threads = raw.control.format_threads.unwrap_or(2);
        if !(1..=64).contains(&format_threads) {
            bail!("control.format_threads: {format_threads} is not within 1..=64");
        }
        let flush_s = raw.output.flush_interval_s.unwrap_or(300);
        if flush_s == 0 {
            bail!("output.flush_interval_s must be at least 1");
        }
        let flushes_per_dir = raw.output.flushes_per_dir.unwrap_or(12);
        if flushes_per_dir == 0 {
            bail!("output.flushes_per_dir must be at least 1");
        }
        let rrd = match (raw.output.rrd_conf, raw.output.rrd_dir) {
            (Some(c), Some(d)) => Some((c, d)),
            (None, None) => None,
            _ => bail!("output.rrd_conf and output.rrd_dir go together (Tstat's -R and -r)"),
        };
        let pcap_buffer_kib = u64::from(raw.pcap.buffer_kib.unwrap_or(32 << 10));
        if !(64..=1 << 21).contains(&pcap_buffer_kib) {
            bail!("pcap.buffer_kib: {pcap_buffer_kib} is not from 64 to 2097152 (2 GiB)");
        }
        if driver == Driver::Pcap && raw.pcap.interface.is_none() {
            bail!("the pcap driver needs an interface: pcap.interface in the file or -i IFACE");
        }
        Ok(AppConfig {
            driver,
            workers,
            idle,
            idle_exit,
            eal_args: raw.dpdk.eal_args.unwrap_or_default(),
            ports: raw.dpdk.ports.unwrap_or_default(),
            rx_desc: raw.dpdk.rx_desc.unwrap_or(4096),
            mempool_size: raw.dpdk.mempool_size.unwrap_or(65535),
            rss: raw.dpdk.rss.unwrap_or(true),
            software_rss,
            rx_timestamps,
            interface: raw.pcap.interface,
            snaplen: raw.pcap.snaplen.unwrap_or(65535),
            filter_file: raw.pcap.filter_file,
            promiscuous: raw.pcap.promiscuous.unwrap_or(true),
            pcap_buffer_bytes: pcap_buffer_kib * 1024,
            out_dir: raw
                .output
                .dir
                .unwrap_or_else(|| PathBuf::from("/var/lib/tstat-dpdk")),
            net_conf: raw.output.net_conf,
            runtime_conf: raw.output.runtime_conf,
            histo_conf: raw.output.histo_conf,
            rrd,
            gzip: raw.output.gzip.unwrap_or(false),
            flush_interval: Duration::from_secs(flush_s),
            flushes_per_dir,
            record_ring_bytes: ring_kib * 1024,
            socket: raw
                .control
                .socket
                .unwrap_or_else(|| PathBuf::from("/run/tstat-dpdk.sock")),
            run_dir: raw
                .control
                .run_dir
                .unwrap_or_else(|| PathBuf::from("/run/tstat-dpdk")),
            user: raw.control.user,
            metrics,
            format_threads,
            mplane: crate::mplane::probe::MplaneConf::from_raw(raw.mplane)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_config_parses_and_validates() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../conf/tstat-dpdk.toml");
        let raw = RawConfig::load(&path).expect("conf/tstat-dpdk.toml parses");
        let c = AppConfig::from_raw(raw).expect("and validates");
        assert_eq!(c.driver, Driver::Dpdk);
        assert!(c.workers >= 1);
        assert!(!c.eal_args.is_empty());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused_with_their_name() {
        let e = toml::from_str::<RawConfig>("[capture]\nworkerz = 2\n").unwrap_err();
        assert!(e.to_string().contains("workerz"), "{e}");
        let raw: RawConfig = toml::from_str("[capture]\ndriver = \"netmap\"\n").unwrap();
        let e = AppConfig::from_raw(raw).unwrap_err();
        assert!(e.to_string().contains("netmap"), "{e}");
        let raw: RawConfig = toml::from_str("[output]\nrecord_ring_kib = 1000\n").unwrap();
        assert!(AppConfig::from_raw(raw)
            .unwrap_err()
            .to_string()
            .contains("record_ring_kib"));
        let raw: RawConfig = toml::from_str("[control]\nmetrics = \"localhost\"\n").unwrap();
        assert!(AppConfig::from_raw(raw)
            .unwrap_err()
            .to_string()
            .contains("control.metrics"));
        let raw: RawConfig = toml::from_str("[capture]\ndriver = \"pcap\"\n").unwrap();
        assert!(AppConfig::from_raw(raw)
            .unwrap_err()
            .to_string()
            .contains("interface"));
        for (key, bad) in [("software_rss", "sometimes"), ("rx_timestamps", "ptp")] {
            let raw: RawConfig = toml::from_str(&format!("[dpdk]\n{key} = \"{bad}\"\n")).unwrap();
            let e = AppConfig::from_raw(raw).unwrap_err().to_string();
            assert!(e.contains(&format!("dpdk.{key}")) && e.contains(bad), "{e}");
        }
    }

    #[test]
    fn spreading_and_timestamps_default_to_auto() {
        let c = AppConfig::from_raw(RawConfig::default()).unwrap();
        assert_eq!(c.software_rss, SoftwareRss::Auto);
        assert_eq!(c.rx_timestamps, RxTimestampMode::Auto);
        let raw: RawConfig =
            toml::from_str("[dpdk]\nsoftware_rss = \"never\"\nrx_timestamps = \"device\"\n")
                .unwrap();
        let c = AppConfig::from_raw(raw).unwrap();
        assert_eq!(c.software_rss, SoftwareRss::Never);
        assert_eq!(c.rx_timestamps, RxTimestampMode::Device);
    }
}
