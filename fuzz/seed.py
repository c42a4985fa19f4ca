#!/usr/bin/env python3
"""Seeds the fuzz corpora from the repository's test traces (tests/pcaps/*.pcap).

    python3 fuzz/seed.py            # from the repository root or from fuzz/

Writes (corpus directories are git-ignored; files are named by their SHA-1, as libFuzzer does):

  fuzz/corpus/decode/  one file per captured frame: a link selector byte (the index into the
                       `LINKS` table of fuzz_targets/decode.rs) followed by the frame. Every
                       frame is written as Ethernet; the first IP frames of each trace are also
                       re-encapsulated as raw IP, IPv4/IPv6, Linux SLL, SLL2, BSD NULL and LOOP.
  fuzz/corpus/trace/   the whole traces, truncated copies (inside the global header, inside a
                       record header, inside packet data), a gzipped copy, and re-encodings
                       (big-endian, nanosecond magic, pcapng) of the smaller traces.
  fuzz/corpus/worker/  hand-built frame sequences in the worker target's input format
                       (handshake, data, retransmission, FIN/RST teardown, UDP, timeouts,
                       HTTP and DNS content), and per trace the payloads of its first
                       conversation replayed on one of the target's fixed endpoint pairs.

Only classic pcap input is read (both byte orders, micro- and nanosecond magic).
"""

import gzip
import hashlib
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PCAPS = os.path.join(REPO, "tests", "pcaps")
CORPUS = os.path.join(HERE, "corpus")

# Indices into LINKS in fuzz_targets/decode.rs.
SEL_ETHERNET, SEL_RAW, SEL_IPV4, SEL_IPV6, SEL_SLL, SEL_SLL2, SEL_NULL, SEL_LOOP = range(8)
VARIANT_FRAMES_PER_TRACE = 20


def write(kind, data):
    d = os.path.join(CORPUS, kind)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read_pcap(path):
    """Returns (endian, nanosecond, header fields, [(ts_sec, ts_frac, wirelen, frame)])."""
    with open(path, "rb") as f:
        b = f.read()
    magic = b[:4]
    table = {
        b"\xd4\xc3\xb2\xa1": ("<", False),
        b"\xa1\xb2\xc3\xd4": (">", False),
        b"\x4d\x3c\xb2\xa1": ("<", True),
        b"\xa1\xb2\x3c\x4d": (">", True),
    }
    if magic not in table:
        raise ValueError(f"{path}: not a classic pcap file")
    e, ns = table[magic]
    vmaj, vmin, tz, sig, snap, linktype = struct.unpack(e + "HHiIII", b[4:24])
    frames = []
    off = 24
    while off + 16 <= len(b):
        sec, frac, caplen, wirelen = struct.unpack(e + "IIII", b[off : off + 16])
        off += 16
        if off + caplen > len(b):
            break
        frames.append((sec, frac, wirelen, b[off : off + caplen]))
        off += caplen
    return b, e, ns, (vmaj, vmin, tz, sig, snap, linktype), frames


def l3_of_ethernet(frame):
    """(ethertype, IP packet) after the Ethernet header and any VLAN/QinQ tags, or None."""
    off = 12
    while off + 2 <= len(frame):
        et = struct.unpack(">H", frame[off : off + 2])[0]
        if et in (0x8100, 0x88A8, 0x9100):
            off += 4
            continue
        if et in (0x0800, 0x86DD):
            return et, frame[off + 2 :]
        return None
    return None


def decode_seeds(frames):
    variants = 0
    for _, _, _, frame in frames:
        write("decode", bytes([SEL_ETHERNET]) + frame)
        if variants >= VARIANT_FRAMES_PER_TRACE:
            continue
        l3 = l3_of_ethernet(frame)
        if l3 is None:
            continue
        variants += 1
        et, ip = l3
        v6 = et == 0x86DD
        write("decode", bytes([SEL_RAW]) + ip)
        write("decode", bytes([SEL_IPV6 if v6 else SEL_IPV4]) + ip)
        sll = struct.pack(">HHH8sH", 0, 1, 6, frame[6:12] + b"\0\0", et)
        write("decode", bytes([SEL_SLL]) + sll + ip)
        sll2 = struct.pack(">HHIHBB8s", et, 0, 1, 1, 0, 6, frame[6:12] + b"\0\0")
        write("decode", bytes([SEL_SLL2]) + sll2 + ip)
        af = 30 if v6 else 2
        write("decode", bytes([SEL_NULL]) + struct.pack("<I", af) + ip)
        write("decode", bytes([SEL_LOOP]) + struct.pack(">I", 24 if v6 else 2) + ip)


def pcap_bytes(e, ns, hdr, frames):
    vmaj, vmin, tz, sig, snap, linktype = hdr
    magic = 0xA1B23C4D if ns else 0xA1B2C3D4
    out = [struct.pack(e + "IHHiIII", magic, vmaj, vmin, tz, sig, snap, linktype)]
    for sec, frac, wirelen, frame in frames:
        out.append(struct.pack(e + "IIII", sec, frac, len(frame), wirelen))
        out.append(frame)
    return b"".join(out)


def pcapng_bytes(hdr, frames, ns):
    """A minimal little-endian pcapng: SHB, one IDB (with if_tsresol for ns), EPBs."""

    def block(btype, body):
        body += b"\0" * (-len(body) % 4)
        total = 12 + len(body)
        return struct.pack("<II", btype, total) + body + struct.pack("<I", total)

    snap, linktype = hdr[4], hdr[5]
    out = [block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))]
    opts = b""
    if ns:
        opts = struct.pack("<HHB", 9, 1, 9) + b"\0\0\0" + struct.pack("<HH", 0, 0)
    out.append(block(1, struct.pack("<HHI", linktype, 0, snap) + opts))
    unit = 1_000_000_000 if ns else 1_000_000
    for sec, frac, wirelen, frame in frames:
        t = sec * unit + frac
        body = struct.pack("<IIIII", 0, t >> 32, t & 0xFFFFFFFF, len(frame), wirelen) + frame
        out.append(block(6, body))
    return b"".join(out)


def trace_seeds(raw, e, ns, hdr, frames):
    write("trace", raw)
    # Truncations: inside the global header, inside the first record header, inside the first
    # packet's data, and in the middle of the file.
    for cut in (10, 24 + 7, 24 + 16 + 5, len(raw) // 2):
        if cut < len(raw):
            write("trace", raw[:cut])
    small = frames[:16]
    write("trace", gzip.compress(pcap_bytes(e, ns, hdr, small), mtime=0))
    other = ">" if e == "<" else "<"
    write("trace", pcap_bytes(other, ns, hdr, small))
    ns_frames = [(s, f * 1000 if not ns else f, w, fr) for s, f, w, fr in small]
    write("trace", pcap_bytes(e, True, hdr, ns_frames))
    write("trace", pcapng_bytes(hdr, small, ns))
    write("trace", pcapng_bytes(hdr, ns_frames, True))


# --- worker seeds, in the format of fuzz_targets/worker.rs ---------------------------------

SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10


def tcp(pair, s2c, flags, length=0, seq_mode=0, ack_mode=0, deltas=b"", opts=0, optv=b"",
        window=0xFFFF, ttl=64, vlan=False, headers_only=False, content=b""):
    sel = pair | (0x08 if s2c else 0) | (0x20 if vlan else 0) | (0x40 if headers_only else 0)
    return (bytes([sel, flags, seq_mode | (ack_mode << 4)]) + deltas
            + struct.pack(">HBH", window, ttl, length) + bytes([opts]) + optv + content)


def udp(pair, s2c, length, content=b""):
    sel = pair | (0x08 if s2c else 0) | 0x10
    return bytes([sel, 0, 0]) + struct.pack(">HBH", 0, 64, length) + content


def l4_of_frame(frame):
    """(proto, sport, dport, payload) of an Ethernet frame carrying TCP or UDP, or None."""
    l3 = l3_of_ethernet(frame)
    if l3 is None:
        return None
    et, ip = l3
    if et == 0x0800 and len(ip) >= 20:
        proto, l4 = ip[9], ip[(ip[0] & 15) * 4 :]
    elif et == 0x86DD and len(ip) >= 40:
        proto, l4 = ip[6], ip[40:]
    else:
        return None
    if proto == 6 and len(l4) >= 20:
        sport, dport = struct.unpack(">HH", l4[:4])
        return 6, sport, dport, l4[(l4[12] >> 4) * 4 :]
    if proto == 17 and len(l4) >= 8:
        sport, dport = struct.unpack(">HH", l4[:4])
        return 17, sport, dport, l4[8:]
    return None


# Pairs of fuzz_targets/worker.rs by server port: 53 -> 3, 443 -> 2, anything else -> 0.
PAIR_OF_PORT = {53: 3, 443: 2}
MAX_CONTENT = 200


def worker_seed_from_trace(frames):
    """The payloads of the first conversation of a trace, replayed on one of the fixed pairs
    (after a handshake for TCP), truncated to what a chunk can carry."""
    first = None
    steps = []
    for _, _, _, frame in frames:
        l4 = l4_of_frame(frame)
        if l4 is None:
            continue
        proto, sp, dp, payload = l4
        if first is None:
            first = (proto, sp, dp)
            pair = PAIR_OF_PORT.get(dp, PAIR_OF_PORT.get(sp, 0))
            if proto == 6:
                steps += handshake(pair)
        if (proto, sp, dp) == first:
            s2c = False
        elif (proto, dp, sp) == first:
            s2c = True
        else:
            continue
        if not payload:
            continue
        content = payload[:MAX_CONTENT]
        if proto == 6:
            steps.append((tcp(pair, s2c, PSH | ACK, len(payload) % 1461, content=content), 1))
        else:
            steps.append((udp(pair, s2c, len(payload) % 1461, content), 1))
        if len(steps) >= 12:
            break
    if steps:
        write("worker", seq(*steps))


def seq(*steps):
    """steps: (chunk, dt in 100 ms units)."""
    out = b""
    for chunk, dt in steps:
        assert len(chunk) < 256
        out += bytes([len(chunk)]) + chunk + bytes([dt])
    return out


SYN_OPTS = 0x0F  # MSS, window scale, SACK-permitted, timestamps
SYN_OPTV = struct.pack(">HB", 1460, 7) + b"\x01"


def handshake(pair):
    return [
        (tcp(pair, False, SYN, opts=SYN_OPTS, optv=SYN_OPTV), 1),
        (tcp(pair, True, SYN | ACK, opts=SYN_OPTS, optv=SYN_OPTV), 1),
        (tcp(pair, False, ACK, opts=8, optv=b"\x01"), 1),
    ]


def worker_seeds():
    close = [
        (tcp(0, False, FIN | ACK), 1),
        (tcp(0, True, FIN | ACK), 1),
        (tcp(0, False, ACK), 1),
    ]
    data = [
        (tcp(0, False, PSH | ACK, 100), 1),
        (tcp(0, True, ACK), 1),
        (tcp(0, True, PSH | ACK, 1000), 1),
        (tcp(0, True, PSH | ACK, 1000), 1),
        (tcp(0, False, ACK), 1),
    ]
    write("worker", seq(*handshake(0), *data, *close))
    # Retransmission (sequence minus 1000), a hole (plus 500), SACK, then RST.
    write("worker", seq(
        *handshake(0), *data,
        (tcp(0, True, PSH | ACK, 1000, seq_mode=1, deltas=struct.pack(">H", 1000)), 2),
        (tcp(0, True, PSH | ACK, 500, seq_mode=2, deltas=struct.pack(">H", 500)), 1),
        (tcp(0, False, ACK, opts=0x10, optv=struct.pack(">HH", 500, 500)), 1),
        (tcp(0, False, RST), 1),
    ))
    # IPv6 with VLAN tag and snap-length truncation; sequence numbers near the wrap.
    for pair in (1, 2, 4, 5):
        write("worker", seq(
            *handshake(pair),
            (tcp(pair, False, PSH | ACK, 1400, vlan=True, headers_only=True), 1),
            (tcp(pair, True, ACK, vlan=True), 1),
            (tcp(pair, True, FIN | ACK), 1),
            (tcp(pair, False, FIN | ACK), 1),
        ))
    # Singleton SYNs that time out, more flows than the table holds (eviction).
    write("worker", seq(*[(tcp(p, False, SYN), 120) for p in range(8)],
                        *[(tcp(p, True, SYN), 1) for p in range(8)]))
    # UDP both ways, then idle long enough for the UDP timeouts.
    write("worker", seq((udp(0, False, 100), 1), (udp(0, True, 200), 1), (udp(4, False, 20), 255),
                        *[(udp(p, False, 10), 255) for p in range(8)]))
    # Layer-7 content: HTTP on pair 0, a DNS query on pair 3 (port 53).
    write("worker", seq(
        *handshake(0),
        (tcp(0, False, PSH | ACK, content=b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"), 1),
        (tcp(0, True, PSH | ACK, content=b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 1),
        *close,
    ))
    query = bytes.fromhex("123401000001000000000000076578616d706c6503636f6d0000010001")
    answer = (bytes.fromhex("123481800001000100000000076578616d706c6503636f6d0000010001")
              + bytes.fromhex("c00c000100010000012c00045db8d822"))
    write("worker", seq((udp(3, False, 0, query), 1), (udp(3, True, 0, answer), 1)))
    # Self-connection and the all-zero pair.
    write("worker", seq(*handshake(6), (tcp(6, False, FIN | ACK), 1), *handshake(7)))


def main():
    if not os.path.isdir(PCAPS):
        sys.exit(f"no {PCAPS}")
    for name in sorted(os.listdir(PCAPS)):
        if not name.endswith(".pcap"):
            continue
        raw, e, ns, hdr, frames = read_pcap(os.path.join(PCAPS, name))
        decode_seeds(frames)
        trace_seeds(raw, e, ns, hdr, frames)
        worker_seed_from_trace(frames)
    worker_seeds()
    for kind in ("decode", "trace", "worker"):
        d = os.path.join(CORPUS, kind)
        print(f"{d}: {len(os.listdir(d))} files")


if __name__ == "__main__":
    main()
