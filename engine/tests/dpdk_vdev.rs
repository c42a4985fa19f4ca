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
        rx_desc: 512,
        rss: true,
        promiscuous: true,
    };
    let mut port = Port::open(&eal, "net_null0", &cfg, Arc::clone(&pool))
        .expect("net_null accepts the RSS configuration");
    assert!(
        port.hardware_rss(),
        "net_null offers RSS hash functions, so RSS is configured"
    );
    assert!(port.rx_queue(4).is_err() && port.rx_queue(0).is_ok() && port.rx_queue(0).is_err());
    let mut queues: Vec<_> = (1..4).map(|q| port.rx_queue(q).unwrap()).collect();
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
    drop(eal);
}
