#!/usr/bin/env python3
"""Generate a SYN-flood trace: pure SYNs, each from its own source address, to a few servers.

Packet i (i = 0 .. N-1) is an Ethernet/IPv4/TCP SYN (no ACK, MSS option, 58-byte frame) from
source address 16.0.0.0 + P(i), where P is a bijection of 0 .. 2^28-1 (so every packet has a
distinct source address within 16.0.0.0/4 and every SYN opens a distinct half-open flow), from a
random source port >= 1024, to one of --servers servers 192.0.2.1, 192.0.2.2, ... port 80.
Packets are --spacing-us microseconds apart (default 1 µs). IPv4 and TCP checksums are correct.
Output: classic pcap, microseconds, link type 1.

Usage: synflood.py [--millions M | --packets N] [--spacing-us US] [--servers K] [--seed S] --out F
"""

import argparse
import os
import random
import struct
import sys
import time

LINKTYPE_ETHERNET = 1
BATCH = 65536  # packets per write


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--millions", type=float, default=5.0, help="number of SYNs, in millions (default 5)")
    ap.add_argument("--packets", type=int, default=None, help="number of SYNs (overrides --millions)")
    ap.add_argument("--spacing-us", type=int, default=1, help="gap between two SYNs, µs (default 1)")
    ap.add_argument("--servers", type=int, default=4, help="number of servers (default 4)")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("--start", type=int, default=1_700_000_000, help="time of the first SYN, Unix seconds")
    ap.add_argument("--out", required=True, help="output pcap")
    a = ap.parse_args()
    n = a.packets if a.packets is not None else int(round(a.millions * 1e6))
    if not 1 <= n <= 1 << 28:
        ap.error("number of packets must be within 1 .. 2^28")
    if not 1 <= a.servers <= 250:
        ap.error("--servers must be within 1 .. 250")
    if a.spacing_us < 0:
        ap.error("--spacing-us must not be negative")

    started = time.time()
    rnd = random.Random(a.seed)
    mask28 = (1 << 28) - 1
    mult = 0x9E3779B1 & mask28 | 1  # odd: i -> i*mult mod 2^28 is a bijection
    xor = rnd.getrandbits(28)

    # Record: pcap header (16, little-endian) + Ethernet (14) + IPv4 (20) + TCP (20 + MSS option
    # 4), network byte order = 74 bytes.
    hdr = struct.Struct("<IIII")
    frame = struct.Struct(">6s6sH" "BBHHHBBHII" "HHIIBBHHH" "BBH")
    caplen = frame.size
    size = hdr.size + caplen
    dst_mac = bytes.fromhex("020000000001")
    src_mac = bytes.fromhex("020000000002")
    servers = [0xC0000200 + 1 + s for s in range(a.servers)]  # 192.0.2.x
    nserv = len(servers)
    ip_total = 20 + 24
    # Constant part of the IPv4 header sum: version/IHL/TOS, total length, flags (DF), TTL/proto.
    ip_const = 0x4500 + ip_total + 0x4000 + ((64 << 8) | 6)
    # Constant part of the TCP sum: pseudo-header protocol and TCP length, data offset/flags
    # (SYN), window, MSS option (kind 2, length 4, 1460), destination port.
    tcp_const = 6 + 24 + ((6 << 12) | 0x02) + 64240 + 0x0204 + 1460 + 80

    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    tmp = a.out + ".part"
    getrandbits = rnd.getrandbits
    hdr_pack = hdr.pack_into
    frame_pack = frame.pack_into
    spacing = a.spacing_us
    with open(tmp, "wb", buffering=0) as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, LINKTYPE_ETHERNET))
        buf = bytearray(size * BATCH)
        i = 0
        t_us = a.start * 1_000_000
        while i < n:
            m = min(BATCH, n - i)
            off = 0
            for j in range(i, i + m):
                src = 0x10000000 + (((j * mult) & mask28) ^ xor)
                dst = servers[j % nserv]
                r = getrandbits(48)
                sport = 1024 + (r & 0xFFFF) % 64512
                seq = r >> 16
                ipid = j & 0xFFFF
                addr = (src >> 16) + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF)
                s = ip_const + ipid + addr
                s = (s & 0xFFFF) + (s >> 16)
                s = (s & 0xFFFF) + (s >> 16)
                c = tcp_const + addr + sport + (seq >> 16) + (seq & 0xFFFF)
                c = (c & 0xFFFF) + (c >> 16)
                c = (c & 0xFFFF) + (c >> 16)
                hdr_pack(buf, off, t_us // 1_000_000, t_us % 1_000_000, caplen, caplen)
                frame_pack(
                    buf, off + 16,
                    dst_mac, src_mac, 0x0800,
                    0x45, 0, ip_total, ipid, 0x4000, 64, 6, ~s & 0xFFFF, src, dst,
                    sport, 80, seq, 0, 6 << 4, 0x02, 64240, ~c & 0xFFFF, 0,
                    2, 4, 1460,
                )
                off += size
                t_us += spacing
            out.write(memoryview(buf)[:off])
            i += m
        os.fsync(out.fileno())  # no write-back of dirty pages during a timed run
    os.replace(tmp, a.out)
    print("synflood: wrote %s: %d SYNs, %d bytes, %d µs apart (%.3f s of packet time), %d servers, in %.1f s"
          % (a.out, n, os.path.getsize(a.out), a.spacing_us, n * a.spacing_us / 1e6, a.servers, time.time() - started),
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
