//! The DPDK driver over virtual devices, in one process (EAL is initialised once per process):
//! `net_null` with several queues accepts the symmetric RSS configuration and gives millions of
//! packets without leaking an mbuf; the ring device's feeder spreads frames by the symmetric
//! hash and its zero-copy replay returns every reference. Unprivileged: no hugepages, no PCI.
#![cfg(feature = "dpdk")]

use engine::dpdk::{Eal, Mempool, Port, PortConfig, RingDevice};
use engine::rx::{Frame, PacketQueue};
use engine::time::Timestamp;
use engine::wire::LinkType;
use std::sync::Arc;

fn frame(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    let mut f = vec![0u8; 14 + 20 + 20];
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&40u16.to_be_bytes());
    ip[8] = 64;
    ip[9] = 6;
    ip[12..16].copy_from_slice(&src);
    ip[16..20].copy_from_slice(&dst);
    let tcp = &mut f[34..54];
    tcp[0..2].copy_from_slice(&sport.to_be_bytes());
    tcp[2..4].copy_from_slice(&dport.to_be_bytes());
    tcp[12] = 0x50;
    tcp[13] = 0x02;
    f
}

#[test]
fn r4_null_rss_soak_and_ring_device_hashing() {
    let args: Vec<String> = format!(
        "--lcores=0@0 --no-huge --no-shconf --no-pci -m 256 --file-prefix=engine-vdev-{} --log-level=lib.eal:error --vdev=net_null0,size=64",
        std::process::id()
    )
    .split_whitespace()
    .map(str::to_string)
    .collect();
    let eal = Eal::init(&args).expect("EAL over virtual devices");
    assert!(
        Eal::init(&args).is_err(),
        "a second EAL initialisation is refused, not attempted"
    );

    // net_null: several queues with RSS asked for; millions of packets; no mbuf leaked.
    let pool = Arc::new(Mempool::new(&eal, "soak", 8191, 0).unwrap());
    let before = pool.available();
    let cfg = PortConfig {
        rx_queues: 4,
        fit_queues: false,
        rx_desc: 512,
        rss: true,
        promiscuous: true,
        timestamps: Default::default(),
    };
    assert!(
        matches!(
            Port::open(
                &eal,
                "net_null0",
                &PortConfig {
                    timestamps: engine::dpdk::RxTimestamps::Device,
                    ..cfg.clone()
                },
                Arc::clone(&pool)
            ),
            Err(engine::dpdk::Error::Config(m)) if m.contains("does not offer RX timestamps")
        ),
        "RX timestamps required from a device without them"
    );
    let mut port = Port::open(&eal, "net_null0", &cfg, Arc::clone(&pool))
        .expect("net_null accepts the RSS configuration");
    assert!(!port.device_timestamps());
    // net_null's frames carry no time: the TSC's, mapped to the system clock.
    let report = port.discipline_clocks();
    assert!(report.tsc_hz > 1e8 && report.device.is_none(), "{report:?}");
    let now_us = engine::clock::system_now_ns() / 1000;
    assert!(
        port.hardware_rss(),
        "net_null offers RSS hash functions, so RSS is configured"
    );
    assert!(port.rx_queue(4).is_err() && port.rx_queue(0).is_ok() && port.rx_queue(0).is_err());
    let mut queues: Vec<_> = (1..4).map(|q| port.rx_queue(q).unwrap()).collect();
    queues[0].poll(|f: Frame<'_>| {
        assert!(
            (f.ts.0 - now_us).abs() < 1_000_000,
            "TSC time within a second of the system clock: {} vs {now_us}",
            f.ts.0
        )
    });
    let mut total = 0u64;
    let mut bytes = 0u64;
    while total < 3_000_000 {
        for q in &mut queues {
            total += q.poll(|f: Frame<'_>| bytes += f.data.len() as u64) as u64;
        }
    }
    assert_eq!(bytes, total * 64, "every frame has the configured size");
    drop(queues);
    drop(port);
    assert_eq!(pool.available(), before, "every mbuf went back to the pool");
    assert_eq!(pool.in_use(), 0);

    // The ring device: the feeder plays an RSS NIC with the symmetric hash.
    let dev = RingDevice::create(&eal, "vdevtest", 2, 1024, 0).unwrap();
    let rpool = Arc::new(Mempool::new(&eal, "ring", 4095, 0).unwrap());
    let mut rport = Port::open(
        &eal,
        dev.name(),
        &PortConfig {
            rx_queues: 2,
            ..PortConfig::default()
        },
        Arc::clone(&rpool),
    )
    .unwrap();
    assert!(
        !rport.hardware_rss(),
        "the ring PMD offers no RSS; the feeder provides the hash"
    );
    let mut feeder = dev.feeder(Arc::clone(&rpool)).unwrap();
    let mut sent = Vec::new();
    for i in 0..200u16 {
        let c = [10, 0, (i >> 8) as u8, i as u8];
        let s = [192, 0, 2, 1 + (i % 7) as u8];
        feeder
            .feed(
                Timestamp(1_000_000 + i64::from(i)),
                LinkType::Ethernet,
                &frame(c, s, 10_000 + i, 443),
            )
            .unwrap();
        feeder
            .feed(
                Timestamp(1_000_500 + i64::from(i)),
                LinkType::Ethernet,
                &frame(s, c, 443, 10_000 + i),
            )
            .unwrap();
        sent.push(10_000 + i);
    }
    let mut rqs = vec![rport.rx_queue(0).unwrap(), rport.rx_queue(1).unwrap()];
    let mut seen: std::collections::HashMap<u16, usize> = Default::default();
    for (q, rq) in rqs.iter_mut().enumerate() {
        loop {
            let n = rq.poll(|f| {
                let h = f.hash.expect("the feeder sets the RSS hash");
                assert_eq!(
                    (h % 128) as usize % 2,
                    q,
                    "frame on the queue its hash names"
                );
                assert!(
                    f.ts.0 >= 1_000_000,
                    "timestamp from the rx-timestamp dynfield"
                );
                let sport = u16::from_be_bytes([f.data[34], f.data[35]]);
                let dport = u16::from_be_bytes([f.data[36], f.data[37]]);
                let client = if sport == 443 { dport } else { sport };
                if let Some(p) = seen.insert(client, q) {
                    assert_eq!(p, q, "both directions of flow {client} on one queue");
                }
            });
            if n == 0 {
                break;
            }
        }
    }
    assert_eq!(seen.len(), sent.len(), "every flow received");
    assert!(
        feeder.enqueued().iter().all(|&n| n > 0),
        "both queues used: {:?}",
        feeder.enqueued()
    );
    assert_eq!(rpool.in_use(), 0, "every received mbuf was freed");

    // Zero-copy replay: pre-built mbufs enqueued again and again by reference count.
    let built: Vec<_> = (0..64u16)
        .map(|i| {
            feeder
                .build(
                    Timestamp(5),
                    LinkType::Ethernet,
                    &frame([10, 1, 0, i as u8], [192, 0, 2, 9], 2000 + i, 80),
                )
                .unwrap()
        })
        .collect();
    let mut received = 0usize;
    for _ in 0..100 {
        assert_eq!(
            feeder.replay(&built),
            built.len(),
            "rings deep enough for one batch"
        );
        for rq in &mut rqs {
            while rq.poll(|f| assert_eq!(f.data.len(), 54)) > 0 {}
        }
        received += built.len();
    }
    assert_eq!(received, 6400);
    assert_eq!(
        rpool.in_use(),
        built.len() as u32,
        "only the pre-built mbufs are held"
    );
    drop(built);
    assert_eq!(rpool.in_use(), 0, "dropping an Mbuf returns it");
    drop(rqs);
    drop(rport);
    drop(feeder);
    drop(dev);

    spreading_in_software(&eal);
    drop(eal);
}

/// A two-queue device without RSS (frames to the queues in turn, no hash): the cores spread
/// every frame to the core its symmetric hash names, moving mbufs through their rings; a full
/// ring drops and counts; the hold stops receiving while the rings drain; no mbuf leaks.
fn spreading_in_software(eal: &Eal) {
    use engine::dpdk::CoreQueue;
    use engine::hash::{reta_queue, symmetric};
    use engine::rx::PacketQueue;

    let dev = RingDevice::create(eal, "spread", 2, 4096, 0).unwrap();
    let pool = Arc::new(Mempool::new(eal, "spread", 8191, 0).unwrap());
    let mut port = Port::open(
        eal,
        dev.name(),
        &PortConfig {
            rx_queues: 2,
            ..PortConfig::default()
        },
        Arc::clone(&pool),
    )
    .unwrap();
    let mut feeder = dev.feeder(Arc::clone(&pool)).unwrap().without_rss();
    let (q0, q1) = (port.rx_queue(0).unwrap(), port.rx_queue(1).unwrap());
    let (mut cores, spreader) = CoreQueue::build(
        vec![(vec![], vec![q0]), (vec![], vec![q1])],
        LinkType::Ethernet,
        8192,
    );
    let spreader = spreader.expect("two cores spreading: a spreader");
    // 300 flows, both directions, 3 packets each way: 1,800 frames, flow-blind over 2 queues.
    let mut owner = std::collections::HashMap::new();
    for round in 0..3i64 {
        for i in 0..300u16 {
            let c = [10, 1, (i >> 8) as u8, i as u8];
            let s = [192, 0, 2, 1 + (i % 5) as u8];
            let there = frame(c, s, 20_000 + i, 80);
            let back = frame(s, c, 80, 20_000 + i);
            let core = reta_queue(
                engine::dispatch::route(symmetric(), LinkType::Ethernet, &there)
                    .hash
                    .unwrap(),
                2,
            );
            owner.insert(20_000 + i, core);
            for (k, f) in [there, back].iter().enumerate() {
                feeder
                    .feed(
                        Timestamp(2_000_000 + round * 1000 + k as i64),
                        LinkType::Ethernet,
                        f,
                    )
                    .unwrap();
            }
        }
    }
    assert_eq!(feeder.enqueued(), &[900, 900], "flow-blind: queues in turn");
    let mut seen = [0usize; 2];
    let mut wrong = 0;
    let mut idle = 0;
    while idle < 3 {
        let mut n = 0;
        for (c, q) in cores.iter_mut().enumerate() {
            n += q.poll(|f| {
                let h = f.hash.expect("the software hash that placed the frame");
                assert_eq!(reta_queue(h, 2), c, "frame on the core its hash names");
                assert!(
                    f.ts.0 >= 2_000_000,
                    "the capture time travels with the frame"
                );
                let sport = u16::from_be_bytes([f.data[34], f.data[35]]);
                let dport = u16::from_be_bytes([f.data[36], f.data[37]]);
                let client = if sport == 80 { dport } else { sport };
                if owner[&client] != c {
                    wrong += 1;
                }
                seen[c] += 1;
            });
        }
        idle = if n == 0 { idle + 1 } else { 0 };
    }
    assert_eq!(
        wrong, 0,
        "every frame analysed by the core its flow hashes to"
    );
    assert_eq!(
        seen[0] + seen[1],
        1800,
        "every frame analysed once: {seen:?}"
    );
    assert!(
        seen[0] > 0 && seen[1] > 0,
        "both cores analysed frames: {seen:?}"
    );
    let (h0, h1) = (cores[0].handoffs(), cores[1].handoffs());
    assert!(h0.forwarded > 0 && h1.forwarded > 0, "{h0:?} {h1:?}");
    assert_eq!(h0.dropped + h1.dropped, 0);
    assert_eq!(spreader.in_flight(), 0);

    drop(cores);
    drop(port);
    drop(feeder);
    drop(dev);
    assert_eq!(pool.in_use(), 0, "every mbuf back in the pool");

    // One queue for two cores (net_pcap's case): core 0 spreads, core 1 only takes hand-offs.
    // Core 1 does not drain: hand-offs beyond its ring's depth are dropped, counted, freed.
    let dev = RingDevice::create(eal, "single", 1, 4096, 0).unwrap();
    let mut port = Port::open(
        eal,
        dev.name(),
        &PortConfig {
            rx_queues: 2,
            fit_queues: true,
            ..PortConfig::default()
        },
        Arc::clone(&pool),
    )
    .unwrap();
    assert_eq!(port.queues(), 1, "fit to the device's one queue");
    let mut feeder = dev.feeder(Arc::clone(&pool)).unwrap().without_rss();
    let (mut cores, spreader) = CoreQueue::build(
        vec![(vec![], vec![port.rx_queue(0).unwrap()]), (vec![], vec![])],
        LinkType::Ethernet,
        1024,
    );
    let spreader = spreader.expect("core 0 spreads");
    const HANDOFF_DEPTH: usize = 1024;
    assert_eq!(
        cores[0].handoff_depth(),
        HANDOFF_DEPTH,
        "one ring: the whole budget"
    );
    let to_core1: Vec<Vec<u8>> = (0..8000u16)
        .map(|i| {
            frame(
                [10, 2, (i >> 8) as u8, i as u8],
                [192, 0, 2, 77],
                30_000,
                443,
            )
        })
        .filter(|f| {
            let h = engine::dispatch::route(symmetric(), LinkType::Ethernet, f)
                .hash
                .unwrap();
            reta_queue(h, 2) == 1
        })
        .take(3000)
        .collect();
    assert_eq!(to_core1.len(), 3000);
    for (i, f) in to_core1.iter().enumerate() {
        feeder
            .feed(Timestamp(3_000_000), LinkType::Ethernet, f)
            .unwrap();
        if i % 1000 == 999 {
            while cores[0].poll(|_| panic!("nothing is core 0's")) > 0 {}
        }
    }
    while cores[0].poll(|_| panic!("nothing is core 0's")) > 0 {}
    let h0 = cores[0].handoffs();
    assert_eq!(
        (h0.forwarded, h0.dropped),
        (HANDOFF_DEPTH as u64, (3000 - HANDOFF_DEPTH) as u64),
        "a full ring drops exactly the excess"
    );
    assert_eq!(spreader.in_flight(), HANDOFF_DEPTH as u64);
    assert_eq!(
        pool.in_use(),
        HANDOFF_DEPTH as u32,
        "only the ring's frames are held"
    );

    // The hold: queues are no longer polled (a frame fed now stays in the device), the ring
    // drains, and quiesce reports success.
    spreader.hold();
    feeder
        .feed(Timestamp(4_000_000), LinkType::Ethernet, &to_core1[0])
        .unwrap();
    let mut core1 = cores.pop().unwrap();
    let (drained, got) = std::thread::scope(|s| {
        let t = s.spawn(|| spreader.quiesce(std::time::Duration::from_secs(10)));
        let mut got = 0;
        while !t.is_finished() {
            core1.poll(|_| got += 1);
            cores[0].poll(|_| panic!("core 0 has nothing for itself"));
        }
        (t.join().unwrap(), got)
    });
    assert!(drained, "quiesce: the ring drained under the hold");
    assert_eq!(got, HANDOFF_DEPTH, "core 1 analysed what its ring held");
    assert_eq!(spreader.in_flight(), 0);
    assert_eq!(
        feeder.backlog(),
        vec![1],
        "the frame fed under the hold stays in the device"
    );
    drop(cores);
    drop(core1);
    drop(port);
    drop(feeder);
    drop(dev);
    assert_eq!(
        pool.in_use(),
        1,
        "every mbuf back in the pool but the one left in the device's ring"
    );
}
