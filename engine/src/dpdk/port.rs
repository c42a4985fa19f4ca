//! Ethernet ports: configuration with N RX queues and the symmetric RSS key, per-queue bursts
//! and the port's drop counters.
//!
//! RSS: the hash functions asked for (IPv4/IPv6 with TCP/UDP ports) are masked by what the
//! device reports in `flow_type_rss_offloads`; when nothing is left (every virtual device but
//! `net_null`), the port runs without multi-queue RSS and the per-core loop computes the same
//! symmetric hash in software. The key is the symmetric Toeplitz key of [`crate::hash`]
//! (0x6d5a repeated), stretched to the device's key size, so both directions of a flow hash
//! alike and land on the same queue.

use super::{check, prefetch, sys, Eal, Error, Mbuf, Mempool};
use crate::clock::{CounterClock, Discipline, Segment};
use crate::rx::Frame;
use crate::time::Timestamp;
use std::ffi::{CStr, CString};
use std::ptr::NonNull;
use std::sync::Arc;

/// Linux ENOTSUP: the device lacks an optional feature.
const ENOTSUP: i32 = 95;

/// Packets per `rte_eth_rx_burst` (l3fwd's burst).
pub const BURST: usize = 32;

/// Frames ahead whose first data line is prefetched.
const PREFETCH_AHEAD: usize = 3;

/// How a port is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortConfig {
    /// RX queues (one per worker lcore).
    pub rx_queues: u16,
    /// Open fewer queues when the device has fewer than `rx_queues` (`net_pcap` has one per
    /// `rx_pcap` file) instead of refusing: the cores then spread its frames in software.
    pub fit_queues: bool,
    /// Descriptors per RX queue (adjusted to the device's limits).
    pub rx_desc: u16,
    /// Ask for RSS (masked by what the device offers).
    pub rss: bool,
    /// Put the port in promiscuous mode (a probe sees traffic not addressed to it).
    pub promiscuous: bool,
    /// Where packet times come from.
    pub timestamps: RxTimestamps,
}

/// Where a port's packet times come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RxTimestamps {
    /// The NIC's own RX timestamps where it offers them (`RTE_ETH_RX_OFFLOAD_TIMESTAMP` and a
    /// readable clock), software time otherwise.
    #[default]
    Auto,
    /// The NIC's RX timestamps, or the port is refused.
    Device,
    /// Software time: the TSC when each burst is received (or the rx-timestamp dynfield a
    /// virtual device fills in µs, as `net_pcap` does).
    Software,
}

impl Default for PortConfig {
    fn default() -> Self {
        PortConfig {
            rx_queues: 1,
            fit_queues: false,
            rx_desc: 1024,
            rss: true,
            promiscuous: true,
            timestamps: RxTimestamps::Auto,
        }
    }
}

/// A port's counters, from `rte_eth_stats_get`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortStats {
    /// Packets received.
    pub ipackets: u64,
    /// Bytes received.
    pub ibytes: u64,
    /// Packets the NIC dropped because the RX queues were full (`imissed`).
    pub imissed: u64,
    /// Erroneous packets received (`ierrors`).
    pub ierrors: u64,
    /// RX mbuf allocation failures (`rx_nombuf`): the mempool ran dry.
    pub rx_nombuf: u64,
    /// Packets per RX queue (first 16 queues; DPDK's stats array size).
    pub q_ipackets: Vec<u64>,
    /// Errors per RX queue.
    pub q_errors: Vec<u64>,
}

struct PortShared {
    id: u16,
    /// The pool the queues fill from, freed after the port is closed (it also keeps EAL).
    _pool: Arc<Mempool>,
}

impl Drop for PortShared {
    fn drop(&mut self) {
        // SAFETY: the last RxQueue and the Port handle are gone (this Arc's last owner), so no
        // lcore polls the port any more; stopping and closing a started port is valid.
        unsafe {
            sys::rte_eth_dev_stop(self.id);
        }
        // SAFETY: as above; the port is stopped.
        unsafe {
            sys::rte_eth_dev_close(self.id);
        }
    }
}

/// A started port. Queues are taken out once each with [`Port::rx_queue`]; the port is stopped
/// and closed when the handle and all its queues are dropped.
pub struct Port {
    shared: Arc<PortShared>,
    name: String,
    driver: String,
    queues: u16,
    rss_hf: u64,
    taken: Vec<bool>,
    ts: Stamping,
    /// The clocks' disciplining state (the main lcore's, once a second).
    /// The device clock's disciplining state (the TSC's is process-wide: [`tsc_shared`]).
    discipline: std::sync::Mutex<Discipline>,
}

impl std::fmt::Debug for Port {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Port")
            .field("id", &self.shared.id)
            .field("name", &self.name)
            .field("driver", &self.driver)
            .field("queues", &self.queues)
            .field("rss_hf", &self.rss_hf)
            .finish()
    }
}

/// Names of every port EAL probed or created.
pub fn port_names(_eal: &Eal) -> Vec<String> {
    let mut out = Vec::new();
    for id in 0..sys::RTE_MAX_ETHPORTS as u16 {
        // SAFETY: EAL is initialised; any port id is accepted and checked.
        if unsafe { sys::rte_eth_dev_is_valid_port(id) } == 0 {
            continue;
        }
        let mut buf = [0 as std::ffi::c_char; sys::RTE_ETH_NAME_MAX_LEN as usize];
        // SAFETY: buf has RTE_ETH_NAME_MAX_LEN bytes, the size rte_eth_dev_get_name_by_port
        // requires; it writes a NUL-terminated name.
        if unsafe { sys::rte_eth_dev_get_name_by_port(id, buf.as_mut_ptr()) } == 0 {
            // SAFETY: NUL-terminated by the call above, inside buf.
            out.push(
                unsafe { CStr::from_ptr(buf.as_ptr()) }
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
    out
}

impl Port {
    /// Configures and starts the port named `name` (a PCI address such as `0000:01:00.0`, or
    /// a vdev name such as `net_pcap0`) with `cfg.rx_queues` RX queues (fewer with
    /// `cfg.fit_queues` on a device that has fewer) fed from `pool`.
    pub fn open(
        eal: &Eal,
        name: &str,
        cfg: &PortConfig,
        pool: Arc<Mempool>,
    ) -> Result<Port, Error> {
        let cname = CString::new(name)
            .map_err(|_| Error::Config(format!("port name {name:?} contains a NUL byte")))?;
        let mut id = 0u16;
        // SAFETY: EAL is initialised; cname is NUL-terminated; id is a valid out-pointer.
        if unsafe { sys::rte_eth_dev_get_port_by_name(cname.as_ptr(), &mut id) } != 0 {
            return Err(Error::NoSuchPort {
                name: name.to_string(),
                present: match port_names(eal) {
                    v if v.is_empty() => "none".into(),
                    v => v.join(", "),
                },
            });
        }
        let mut info = sys::rte_eth_dev_info::default();
        // SAFETY: id is a valid port (found above); info is a valid out-pointer.
        check("rte_eth_dev_info_get", unsafe {
            sys::rte_eth_dev_info_get(id, &mut info)
        })?;
        let driver = if info.driver_name.is_null() {
            String::from("?")
        } else {
            // SAFETY: driver_name is a static NUL-terminated string owned by the PMD.
            unsafe { CStr::from_ptr(info.driver_name) }
                .to_string_lossy()
                .into_owned()
        };
        let rx_queues = if cfg.fit_queues {
            cfg.rx_queues.min(info.max_rx_queues)
        } else {
            cfg.rx_queues
        };
        if rx_queues == 0 || rx_queues > info.max_rx_queues {
            return Err(Error::Config(format!(
                "port {name} ({driver}) supports 1 to {} RX queues, {} asked",
                info.max_rx_queues, cfg.rx_queues
            )));
        }
        let wanted = u64::from(sys::RTE_ETH_RSS_IP)
            | u64::from(sys::RTE_ETH_RSS_TCP)
            | u64::from(sys::RTE_ETH_RSS_UDP);
        let rss_hf = if cfg.rss {
            wanted & info.flow_type_rss_offloads
        } else {
            0
        };
        let key_len = if info.hash_key_size == 0 {
            40
        } else {
            usize::from(info.hash_key_size)
        };
        let mut key: Vec<u8> = crate::hash::SYMMETRIC_RSS_KEY
            .iter()
            .copied()
            .cycle()
            .take(key_len)
            .collect();
        let offers_ts = info.rx_offload_capa & u64::from(sys::RTE_ETH_RX_OFFLOAD_TIMESTAMP) != 0;
        let device_ts = match cfg.timestamps {
            RxTimestamps::Software => false,
            RxTimestamps::Auto => offers_ts,
            RxTimestamps::Device if offers_ts => true,
            RxTimestamps::Device => {
                return Err(Error::Config(format!(
                    "port {name} ({driver}) does not offer RX timestamps (RTE_ETH_RX_OFFLOAD_TIMESTAMP): set dpdk.rx_timestamps to \"auto\" or \"software\""
                )))
            }
        };
        let mut conf = sys::rte_eth_conf::default();
        if device_ts {
            conf.rxmode.offloads |= u64::from(sys::RTE_ETH_RX_OFFLOAD_TIMESTAMP);
        }
        if rss_hf != 0 {
            conf.rxmode.mq_mode = sys::rte_eth_rx_mq_mode_RTE_ETH_MQ_RX_RSS;
            conf.rx_adv_conf.rss_conf.rss_key = key.as_mut_ptr();
            conf.rx_adv_conf.rss_conf.rss_key_len = u8::try_from(key_len).unwrap_or(40);
            conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
            if info.rx_offload_capa & u64::from(sys::RTE_ETH_RX_OFFLOAD_RSS_HASH) != 0 {
                conf.rxmode.offloads |= u64::from(sys::RTE_ETH_RX_OFFLOAD_RSS_HASH);
            }
        } else {
            conf.rxmode.mq_mode = sys::rte_eth_rx_mq_mode_RTE_ETH_MQ_RX_NONE;
        }
        // One TX queue: several PMDs refuse a port without any; nothing is ever sent.
        // SAFETY: id is valid; conf (and the key it points to) outlive the call, which copies.
        check("rte_eth_dev_configure", unsafe {
            sys::rte_eth_dev_configure(id, rx_queues, 1, &conf)
        })?;
        let (mut nb_rx, mut nb_tx) = (cfg.rx_desc, 512u16);
        // SAFETY: id is valid; both are valid in/out pointers.
        check("rte_eth_dev_adjust_nb_rx_tx_desc", unsafe {
            sys::rte_eth_dev_adjust_nb_rx_tx_desc(id, &mut nb_rx, &mut nb_tx)
        })?;
        // SAFETY: id is valid.
        let socket = match unsafe { sys::rte_eth_dev_socket_id(id) } {
            s if s < 0 => 0,
            s => s as u32,
        };
        for q in 0..rx_queues {
            // SAFETY: id is valid and configured with rx_queues queues; a null rxconf means the
            // device defaults; the pool outlives the port (PortShared holds it).
            check("rte_eth_rx_queue_setup", unsafe {
                sys::rte_eth_rx_queue_setup(id, q, nb_rx, socket, std::ptr::null(), pool.as_ptr())
            })?;
        }
        // SAFETY: as above, for the one TX queue.
        check("rte_eth_tx_queue_setup", unsafe {
            sys::rte_eth_tx_queue_setup(id, 0, nb_tx, socket, std::ptr::null())
        })?;
        // SAFETY: id is valid and fully configured.
        check("rte_eth_dev_start", unsafe { sys::rte_eth_dev_start(id) })?;
        let shared = Arc::new(PortShared { id, _pool: pool });
        if cfg.promiscuous {
            // SAFETY: id is a started port. Devices without the mode (-ENOTSUP) still receive.
            let rc = unsafe { sys::rte_eth_promiscuous_enable(id) };
            if rc < 0 && rc != -ENOTSUP {
                check("rte_eth_promiscuous_enable", rc)?;
            }
        }
        let ts = Stamping::new(eal, device_ts.then_some(id))
            .map_err(|e| match (e, cfg.timestamps) {
                (Error::Dpdk { op: "rte_eth_read_clock", errno }, RxTimestamps::Device) => Error::Config(format!(
                    "port {name} ({driver}) stamps packets with its clock but cannot read it (rte_eth_read_clock: {}): its timestamps cannot be converted to time; set dpdk.rx_timestamps to \"software\"",
                    super::strerror(errno)
                )),
                (e, _) => e,
            })
            .or_else(|e| match e {
                // Auto: a clock that cannot be read leaves the device's stamps unused.
                Error::Dpdk { op: "rte_eth_read_clock", .. } => Stamping::new(eal, None).map(Stamping::ignoring_dynfield),
                e => Err(e),
            })?;
        Ok(Port {
            shared,
            name: name.to_string(),
            driver,
            queues: rx_queues,
            rss_hf,
            taken: vec![false; usize::from(rx_queues)],
            ts,
            discipline: Default::default(),
        })
    }

    /// The port's name (PCI address or vdev name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The PMD driving the port (e.g. `net_pcap`, `net_i40e`).
    pub fn driver(&self) -> &str {
        &self.driver
    }

    /// Whether the device spreads flows over queues by RSS (false: software hash only).
    pub fn hardware_rss(&self) -> bool {
        self.rss_hf != 0
    }

    /// Number of RX queues.
    pub fn queues(&self) -> u16 {
        self.queues
    }

    /// Takes RX queue `q` out of the port (once), to be moved to the lcore that polls it.
    pub fn rx_queue(&mut self, q: u16) -> Result<RxQueue, Error> {
        match self.taken.get_mut(usize::from(q)) {
            Some(t) if !*t => *t = true,
            Some(_) => {
                return Err(Error::Config(format!(
                    "RX queue {q} of {} taken twice",
                    self.name
                )))
            }
            None => {
                return Err(Error::Config(format!(
                    "port {} has no RX queue {q}",
                    self.name
                )))
            }
        }
        Ok(RxQueue {
            port: Arc::clone(&self.shared),
            queue: q,
            bufs: [std::ptr::null_mut(); BURST],
            ts: self.ts.clone(),
        })
    }

    /// Whether packet times come from the NIC's own clock (RX timestamp offload).
    pub fn device_timestamps(&self) -> bool {
        self.ts.device.is_some()
    }

    /// Disciplines the clocks the port's queues stamp with against the system clock: the TSC
    /// (one mapping for the whole process, read at most once in 0.9 s whatever the number of
    /// ports) and, with RX timestamps, the NIC's. About once a second, from one thread (the
    /// main lcore).
    pub fn discipline_clocks(&self) -> ClockReport {
        let tsc = tsc_shared(self.ts.nominal_tsc_hz);
        {
            let mut d = tsc.discipline.lock().unwrap_or_else(|p| p.into_inner());
            if d.1
                .is_none_or(|at| at.elapsed() >= std::time::Duration::from_millis(900))
            {
                let (c, t) = tsc_pair();
                d.0.update(&tsc.clock, c, t);
                d.1 = Some(std::time::Instant::now());
            }
        }
        if let Some(dev) = &self.ts.device {
            // A failed read (none once the clock was read at start) skips this reading.
            if let Ok((c, t)) = crate::clock::read_pair(|| read_clock(self.shared.id)) {
                let mut d = self.discipline.lock().unwrap_or_else(|p| p.into_inner());
                d.update(dev, c, t);
            }
        }
        self.clock_report()
    }

    /// The clocks as the last [`Port::discipline_clocks`] saw them.
    pub fn clock_report(&self) -> ClockReport {
        let t = tsc_shared(self.ts.nominal_tsc_hz)
            .discipline
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .clone();
        let d = self.discipline.lock().unwrap_or_else(|p| p.into_inner());
        ClockReport {
            tsc_hz: t.hz,
            tsc_offset_ns: t.last_offset_ns,
            tsc_steps: t.steps,
            device: self
                .ts
                .device
                .as_ref()
                .map(|_| (d.hz, d.last_offset_ns, d.steps)),
        }
    }

    /// The port's counters now.
    pub fn stats(&self) -> Result<PortStats, Error> {
        let mut s = sys::rte_eth_stats::default();
        // SAFETY: the port is valid while the handle lives; s is a valid out-pointer.
        check("rte_eth_stats_get", unsafe {
            sys::rte_eth_stats_get(self.shared.id, &mut s)
        })?;
        let n = usize::from(self.queues).min(s.q_ipackets.len());
        Ok(PortStats {
            ipackets: s.ipackets,
            ibytes: s.ibytes,
            imissed: s.imissed,
            ierrors: s.ierrors,
            rx_nombuf: s.rx_nombuf,
            q_ipackets: s.q_ipackets[..n].to_vec(),
            q_errors: s.q_errors[..n].to_vec(),
        })
    }

    /// The device's extended statistics (`rte_eth_xstats_get`), as its driver names them
    /// (`rx_good_packets`, `rx_missed_errors`, `rx_q0_packets`, per-queue and hardware-specific
    /// drop causes...), in the driver's order.
    pub fn xstats(&self) -> Result<Vec<(String, u64)>, Error> {
        let id = self.shared.id;
        // Names and values are read with a size asked first; a driver whose set changes in
        // between (none does once started) is read again, a few times at most.
        for _ in 0..4 {
            // SAFETY: the port is valid while the handle lives; a null array with size 0 asks
            // for the number of entries.
            let n = check("rte_eth_xstats_get_names", unsafe {
                sys::rte_eth_xstats_get_names(id, std::ptr::null_mut(), 0)
            })? as usize;
            let mut names = vec![sys::rte_eth_xstat_name::default(); n];
            // SAFETY: `names` has room for `n` entries, the size passed.
            let got = check("rte_eth_xstats_get_names", unsafe {
                sys::rte_eth_xstats_get_names(id, names.as_mut_ptr(), n as u32)
            })? as usize;
            let mut values = vec![sys::rte_eth_xstat::default(); n];
            // SAFETY: `values` has room for `n` entries, the size passed.
            let got_values = check("rte_eth_xstats_get", unsafe {
                sys::rte_eth_xstats_get(id, values.as_mut_ptr(), n as u32)
            })? as usize;
            if got > n || got_values > n || got != got_values {
                continue;
            }
            return Ok(values[..got]
                .iter()
                .filter_map(|v| {
                    let name = names.get(usize::try_from(v.id).ok()?)?;
                    Some((c_name(&name.name), v.value))
                })
                .collect());
        }
        Err(Error::Config(format!(
            "port {}: its extended statistics kept changing while read",
            self.name
        )))
    }
}

/// A fixed-size C string of DPDK (NUL-terminated, or the whole array when it has no NUL).
fn c_name(raw: &[std::os::raw::c_char]) -> String {
    let bytes: Vec<u8> = raw
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// What [`Port::discipline_clocks`] saw.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ClockReport {
    /// The TSC's measured rate.
    pub tsc_hz: f64,
    /// The TSC mapping's offset from the system clock at the reading (ns).
    pub tsc_offset_ns: i64,
    /// Times the TSC mapping was stepped.
    pub tsc_steps: u64,
    /// With RX timestamps: the NIC clock's rate, offset (ns) and steps.
    pub device: Option<(f64, i64, u64)>,
}

/// The TSC and the system time (ns) around it.
fn tsc_pair() -> (u64, i64) {
    // SAFETY: reading the TSC has no preconditions.
    let r: Result<_, std::convert::Infallible> =
        crate::clock::read_pair(|| Ok(unsafe { sys::shim_rdtsc() }));
    match r {
        Ok(pair) => pair,
    }
}

/// The NIC's clock now (`rte_eth_read_clock`).
fn read_clock(port: u16) -> Result<u64, Error> {
    let mut c = 0u64;
    // SAFETY: the port is valid (started) while the caller's handle lives; c is a valid
    // out-pointer.
    check("rte_eth_read_clock", unsafe {
        sys::rte_eth_read_clock(port, &mut c)
    })?;
    Ok(c)
}

/// How the queues of a port stamp frames: the rx-timestamp dynfield when a frame carries it —
/// NIC clock ticks converted by `device` with the RX timestamp offload, µs since the epoch
/// otherwise (what `net_pcap` and the ring feeder write) — else the TSC at the burst.
#[derive(Debug, Clone)]
struct Stamping {
    offset: usize,
    /// The dynfield's `ol_flags` bit; 0: never read the dynfield.
    flag: u64,
    device: Option<Arc<CounterClock>>,
    tsc: Arc<CounterClock>,
    nominal_tsc_hz: u64,
}

/// The process's one TSC clock and its disciplining state (with the time of its last
/// reading): every port's queues stamp with it, so that the two ports of a tap agree.
struct TscShared {
    clock: Arc<CounterClock>,
    discipline: std::sync::Mutex<(Discipline, Option<std::time::Instant>)>,
}

/// The process's TSC clock, made at its first use with the nominal rate `hz`.
fn tsc_shared(hz: u64) -> &'static TscShared {
    static TSC: std::sync::OnceLock<TscShared> = std::sync::OnceLock::new();
    TSC.get_or_init(|| {
        let (c, t) = tsc_pair();
        TscShared {
            clock: Arc::new(CounterClock::new(c, t, hz as f64)),
            discipline: Default::default(),
        }
    })
}

impl Stamping {
    /// With `device = Some(port)`, the port's clock converts the dynfield's ticks; its nominal
    /// rate is measured over 10 ms here, then disciplined.
    fn new(eal: &Eal, device: Option<u16>) -> Result<Stamping, Error> {
        let (mut offset, mut flag) = (0i32, 0u64);
        // SAFETY: EAL is initialised; both are valid out-pointers. Registering an already
        // registered field returns the existing offset and flag.
        check("rte_mbuf_dyn_rx_timestamp_register", unsafe {
            sys::rte_mbuf_dyn_rx_timestamp_register(&mut offset, &mut flag)
        })?;
        let nominal_tsc_hz = eal.tsc_hz();
        let tsc = Arc::clone(&tsc_shared(nominal_tsc_hz).clock);
        let device = match device {
            None => None,
            Some(port) => {
                let (c1, t1) = crate::clock::read_pair(|| read_clock(port))?;
                std::thread::sleep(std::time::Duration::from_millis(10));
                let (c2, t2) = crate::clock::read_pair(|| read_clock(port))?;
                let hz = c2.wrapping_sub(c1) as f64 / ((t2 - t1) as f64 / 1e9);
                Some(Arc::new(CounterClock::new(c2, t2, hz)))
            }
        };
        Ok(Stamping {
            offset: usize::try_from(offset)
                .map_err(|_| Error::Config("negative dynfield offset".into()))?,
            flag,
            device,
            tsc,
            nominal_tsc_hz,
        })
    }

    /// Software time only: the dynfield holds ticks of a clock that cannot be read.
    fn ignoring_dynfield(mut self) -> Stamping {
        self.flag = 0;
        self
    }
}

/// One RX queue, owned by the lcore that polls it.
pub struct RxQueue {
    port: Arc<PortShared>,
    queue: u16,
    bufs: [*mut sys::rte_mbuf; BURST],
    ts: Stamping,
}

// SAFETY: the queue is polled only by its owner (it is moved to one lcore and never shared);
// `bufs` owns no mbuf between calls to `poll_split` (each is freed or handed over before it
// returns; the stale pointers left in it are never read again).
unsafe impl Send for RxQueue {}

impl RxQueue {
    /// The queue index.
    pub fn index(&self) -> u16 {
        self.queue
    }

    /// The port's id, for diagnostics.
    pub fn port_id(&self) -> u16 {
        self.port.id
    }
}

impl RxQueue {
    /// Receives one burst and shows each frame to `keep`, which either analyses it here
    /// (`None`) or names the core it belongs to (`Some(core)`); such a frame's mbuf is then
    /// handed to `give` with its capture time and NIC hash, once `keep` has returned (ownership
    /// moves: `give` keeps or frees it). The frames kept are freed together at the end.
    /// Returns the burst's size.
    #[inline]
    pub(super) fn poll_split<K, G>(&mut self, mut keep: K, mut give: G) -> usize
    where
        K: FnMut(Frame<'_>) -> Option<usize>,
        G: FnMut(usize, Mbuf, Timestamp, Option<u32>),
    {
        // SAFETY: the port is started (PortShared alive), this queue is polled by its owner
        // only, and bufs has room for BURST pointers.
        let n = unsafe {
            sys::shim_rx_burst(
                self.port.id,
                self.queue,
                self.bufs.as_mut_ptr(),
                BURST as u16,
            )
        };
        let n = usize::from(n).min(BURST);
        if n == 0 {
            return 0;
        }
        // The burst's mbuf headers (flags, hash, and the timestamp field in the second line)
        // were written by the driver or another core: ask for all of them at once, so that
        // their misses overlap instead of stalling one packet after the other (l3fwd does the
        // same); each frame's first data line is asked for a few frames ahead, once its
        // header has arrived.
        for &m in &self.bufs[..n] {
            prefetch(m.cast::<u8>());
            prefetch(m.cast::<u8>().wrapping_add(64));
        }
        let Stamping {
            offset,
            flag,
            ref device,
            ref tsc,
            nominal_tsc_hz: _,
        } = self.ts;
        let mut burst_time: Option<Timestamp> = None;
        let mut device_segment: Option<Segment> = None;
        let mut kept = 0;
        for i in 0..n {
            if let Some(&ahead) = self.bufs[..n].get(i + PREFETCH_AHEAD) {
                // SAFETY: one of this burst's mbufs (owned until freed below); reading its
                // buffer address and data offset has no side effect.
                let mb = unsafe { &*ahead };
                prefetch(
                    mb.buf_addr
                        .cast::<u8>()
                        .wrapping_add(usize::from(mb.data_off)),
                );
            }
            let m = self.bufs[i];
            // SAFETY: rx_burst returned n valid mbufs that we own until they are freed below
            // or handed to `give`.
            let mb = unsafe { &*m };
            let start = mb
                .buf_addr
                .cast::<u8>()
                .wrapping_add(usize::from(mb.data_off));
            // SAFETY: buf_addr + data_off points at data_len initialised bytes of the first
            // segment (DPDK's mbuf invariant); the slice dies with `keep`'s call, before the
            // mbuf is freed or handed over.
            let data = unsafe { std::slice::from_raw_parts(start, usize::from(mb.data_len)) };
            let hash = if mb.ol_flags & u64::from(sys::RTE_MBUF_F_RX_RSS_HASH) != 0 {
                // SAFETY: the outer union is the hash (the 8 bytes after vlan_tci): any bit
                // pattern is a valid value of its plain-integer variants.
                let hash = unsafe { mb.__bindgen_anon_2.hash };
                // SAFETY: the RSS flag says the hash union holds the RSS hash (a plain u32).
                Some(unsafe { hash.rss })
            } else {
                None
            };
            let ts = if flag != 0 && mb.ol_flags & flag != 0 {
                let field = m.cast::<u8>().wrapping_add(offset).cast::<u64>();
                // SAFETY: the flag says the registered 8-byte timestamp dynfield at `offset`
                // (inside the mbuf's dynfield area, registered in Stamping::new) is valid;
                // read unaligned.
                let v = unsafe { std::ptr::read_unaligned(field) };
                match device {
                    Some(clock) => device_segment.get_or_insert_with(|| clock.segment()).at(v),
                    None => Timestamp(v as i64),
                }
            } else {
                // SAFETY: reading the TSC has no preconditions.
                *burst_time.get_or_insert_with(|| tsc.at(unsafe { sys::shim_rdtsc() }))
            };
            match keep(Frame { ts, data, hash }) {
                None => {
                    self.bufs[kept] = m;
                    kept += 1;
                }
                Some(core) => {
                    if let Some(p) = NonNull::new(m) {
                        // SAFETY: rx_burst handed us this mbuf's only reference; it is not
                        // among the `kept` entries freed below, so `give` becomes its sole
                        // owner.
                        give(core, unsafe { Mbuf::from_ptr(p) }, ts, hash);
                    }
                }
            }
        }
        // SAFETY: the first `kept` entries are mbufs of this burst still ours (each written
        // once above, none handed over), and no reference to their data survives the loop;
        // each is freed exactly once.
        unsafe { sys::rte_pktmbuf_free_bulk(self.bufs.as_mut_ptr(), kept as u32) };
        n
    }
}

impl crate::rx::PacketQueue for RxQueue {
    /// Receives one burst, hands each frame to `f`, then frees the whole burst at once.
    #[inline]
    fn poll<F: FnMut(Frame<'_>)>(&mut self, mut f: F) -> usize {
        self.poll_split(
            |frame| {
                f(frame);
                None
            },
            |_, _, _, _| {},
        )
    }
}

/// The NUMA socket of the port named `name`, when it exists and its socket is known.
pub fn port_socket(_eal: &Eal, name: &str) -> Option<u32> {
    let cname = CString::new(name).ok()?;
    let mut id = 0u16;
    // SAFETY: EAL is initialised; cname is NUL-terminated; id is a valid out-pointer.
    if unsafe { sys::rte_eth_dev_get_port_by_name(cname.as_ptr(), &mut id) } != 0 {
        return None;
    }
    // SAFETY: id is a valid port (found above).
    let s = unsafe { sys::rte_eth_dev_socket_id(id) };
    u32::try_from(s).ok()
}
