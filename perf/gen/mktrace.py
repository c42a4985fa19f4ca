#!/usr/bin/env python3
"""Build a large benchmark trace out of REAL traffic (the conformance traces).

The input traces (classic pcap, either byte order, µs or ns timestamps) are concatenated
`--repeat` times into one classic µs pcap with link type 1 (Ethernet). Only Ethernet input
traces are used; other link types and pcapng files are skipped with a note on stderr.

Every copy is made of distinct flows: copy k (k = 0 .. repeat-1; copy 0 is the original) XORs k
into the last two bytes of every IPv4 source and destination address, and into the last two
bytes of every IPv6 source and destination address. The same XOR is applied to both ends of
every packet, so both directions of a flow stay one flow, and flows of different copies differ.
Only the outermost IP header of Ethernet frames is rewritten (untagged, 802.1Q, 802.1ad/QinQ
tags are walked); frames of other kinds (ARP, MPLS, PPPoE, ...) are copied unchanged. Tunnelled
inner headers (Teredo, 6in4, GRE) are left as they are. IP/TCP/UDP checksums are not fixed:
the analyzer never verifies them.

Timestamps are rewritten so that packet time never goes backwards: each packet follows the
previous one by its original gap, clamped to [0, --max-gap] (default 1 s); the first packet of
every input file (within every copy) follows the previous packet by --max-gap. Capping the gaps
means that a trace which was idle for longer than --max-gap is compressed: idle and singleton
timeouts (10 s / 200 s / 300 s in Tstat) fire only where the capped timeline says so, i.e.
within one copy they fire no more often than in the real traffic (usually never, since the
conformance traces are short), and flows of earlier copies time out as the later copies play.

Usage:
    mktrace.py [--traces DIR | FILE ...] [--repeat N | --min-packets N] [--max-gap S] --out F

With no input files, the traces are read from ../shared/conformance/traces/*.pcap relative to
the repository root; if that directory is missing, the script says so and exits with status 3.
"""

import argparse
import glob
import os
import struct
import sys
import time

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DEFAULT_TRACES = os.path.normpath(os.path.join(REPO, "..", "shared", "conformance", "traces"))

MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1000),  # little-endian, µs  (value: byte order, ns per unit)
    b"\xa1\xb2\xc3\xd4": (">", 1000),
    b"\x4d\x3c\xb2\xa1": ("<", 1),  # little-endian, ns
    b"\xa1\xb2\x3c\x4d": (">", 1),
}
LINKTYPE_ETHERNET = 1
ETH_IPV4, ETH_IPV6 = 0x0800, 0x86DD
ETH_TAGS = (0x8100, 0x88A8, 0x9100, 0x9200)


def log(msg):
    print("mktrace: " + msg, file=sys.stderr, flush=True)


def read_pcap(path):
    """Returns (snaplen, [(ts_ns, frame_bytes, orig_len)]) or raises ValueError with a reason."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise ValueError("too short for a pcap header")
    magic = data[:4]
    if magic not in MAGICS:
        if magic == b"\x0a\x0d\x0d\x0a":
            raise ValueError("pcapng (not supported by this generator)")
        raise ValueError("not a classic pcap (magic %s)" % magic.hex())
    bo, unit_ns = MAGICS[magic]
    _vmaj, _vmin, _zone, _sigfigs, snaplen, network = struct.unpack_from(bo + "HHiIII", data, 4)
    linktype = network & 0x0FFFFFFF
    if linktype != LINKTYPE_ETHERNET:
        raise ValueError("link type %d (only Ethernet, link type 1, is used)" % linktype)
    rec = struct.Struct(bo + "IIII")
    pkts = []
    off = 24
    n = len(data)
    while off + 16 <= n:
        sec, frac, incl, orig = rec.unpack_from(data, off)
        off += 16
        if off + incl > n:
            log("%s: last record cut short, ignored" % os.path.basename(path))
            break
        pkts.append((sec * 1_000_000_000 + frac * unit_ns, data[off:off + incl], orig))
        off += incl
    return snaplen, pkts


def ip_offsets(frame):
    """Offsets of the two 2-byte fields to rewrite (end of src, end of dst), or None."""
    off = 12
    n = len(frame)
    if n < 14:
        return None
    et = (frame[12] << 8) | frame[13]
    depth = 0
    while et in ETH_TAGS and depth < 4:
        if off + 6 > n:
            return None
        off += 4
        et = (frame[off] << 8) | frame[off + 1]
        depth += 1
    l3 = off + 2
    if et == ETH_IPV4 and l3 + 20 <= n and (frame[l3] >> 4) == 4:
        return (l3 + 14, l3 + 18)  # src 12..15, dst 16..19: last two bytes
    if et == ETH_IPV6 and l3 + 40 <= n and (frame[l3] >> 4) == 6:
        return (l3 + 22, l3 + 38)  # src 8..23, dst 24..39: last two bytes
    return None


def build_template(files, max_gap_us):
    """One copy of all inputs: (bytearray of pcap records, [(ts_field_off, delta_us)],
    [(field_off, original_u16)], packets, frames not rewritten, inputs used, span of the copy
    in µs, time of the first packet in ns)."""
    buf = bytearray()
    ts_fields = []  # (offset of the ts_sec field in buf, µs since the start of the copy)
    addr_fields = []  # (offset in buf, original big-endian u16)
    t = 0
    first = True
    first_ts = 0
    packets = 0
    untouched = 0
    used = []
    rec = struct.Struct("<IIII")
    for path in files:
        name = os.path.basename(path)
        try:
            _snap, pkts = read_pcap(path)
        except (OSError, ValueError) as e:
            log("skipping %s: %s" % (name, e))
            continue
        if not pkts:
            log("skipping %s: no packets" % name)
            continue
        used.append((name, len(pkts)))
        prev = None
        for ts_ns, frame, orig in pkts:
            if prev is None:
                gap = 0 if first else max_gap_us
            else:
                gap = min(max(0, (ts_ns - prev) // 1000), max_gap_us)
            if first:
                first_ts = ts_ns
            prev = ts_ns
            first = False
            t += gap
            at = len(buf)
            ts_fields.append((at, t))
            buf += rec.pack(0, 0, len(frame), orig)
            fo = len(buf)
            buf += frame
            offs = ip_offsets(frame)
            if offs is None:
                untouched += 1
            else:
                for o in offs:
                    addr_fields.append((fo + o, (frame[o] << 8) | frame[o + 1]))
            packets += 1
    return buf, ts_fields, addr_fields, packets, untouched, used, t, first_ts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("inputs", nargs="*", help="input pcap files (default: every *.pcap of --traces)")
    ap.add_argument("--traces", default=DEFAULT_TRACES, help="directory of input traces (default: ../shared/conformance/traces)")
    ap.add_argument("--repeat", type=int, default=200, help="number of copies (default 200)")
    ap.add_argument("--min-packets", type=int, default=0, help="instead of --repeat: just enough copies for at least this many packets")
    ap.add_argument("--max-gap", type=float, default=1.0, help="largest gap between two packets, seconds (default 1)")
    ap.add_argument("--start", type=float, default=None, help="packet time of the first packet, Unix seconds (default: that of the first input packet)")
    ap.add_argument("--out", required=True, help="output pcap")
    a = ap.parse_args()

    if a.inputs:
        files = a.inputs
    else:
        if not os.path.isdir(a.traces):
            log("no input traces: directory %s not found" % a.traces)
            return 3
        files = sorted(glob.glob(os.path.join(a.traces, "*.pcap")))
        if not files:
            log("no input traces: no *.pcap in %s" % a.traces)
            return 3
    max_gap_us = int(round(a.max_gap * 1e6))
    if max_gap_us < 0:
        ap.error("--max-gap must not be negative")

    started = time.time()
    buf, ts_fields, addr_fields, per_copy, untouched, used, copy_span, first_ts_ns = build_template(files, max_gap_us)
    if per_copy == 0:
        log("no usable input packets")
        return 3
    repeat = a.repeat
    if a.min_packets > 0:
        repeat = -(-a.min_packets // per_copy)
    if not 1 <= repeat <= 65536:
        ap.error("repeat must be within 1..65536 (the copy number is XORed into 16 address bits)")

    if a.start is not None:
        t0 = int(a.start * 1e6)
    else:
        t0 = first_ts_ns // 1000
    copy_len = copy_span + max_gap_us  # the next copy starts max_gap after the last packet

    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    tmp = a.out + ".part"
    ts_pack = struct.Struct("<II").pack_into
    u16_pack = struct.Struct(">H").pack_into
    with open(tmp, "wb", buffering=0) as out:
        # Classic pcap header: LE, µs, v2.4, snaplen 262144, Ethernet.
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, LINKTYPE_ETHERNET))
        work = bytearray(buf)
        for k in range(repeat):
            base = t0 + k * copy_len
            for off, dt in ts_fields:
                us = base + dt
                ts_pack(work, off, us // 1_000_000, us % 1_000_000)
            for off, orig in addr_fields:
                u16_pack(work, off, orig ^ k)
            out.write(work)
        # On disk before anyone times a run over it: write-back of gigabytes of dirty pages
        # during a benchmark run would slow it down.
        os.fsync(out.fileno())
    os.replace(tmp, a.out)

    total = per_copy * repeat
    size = os.path.getsize(a.out)
    log("inputs: %s" % ", ".join("%s (%d)" % u for u in used))
    log("%d packets per copy (%d not IPv4/IPv6 over Ethernet, copied unchanged), %d copies" % (per_copy, untouched, repeat))
    log("wrote %s: %d packets, %d bytes, %.1f s of packet time (max gap %.3f s), in %.1f s"
        % (a.out, total, size, repeat * copy_len / 1e6, max_gap_us / 1e6, time.time() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
