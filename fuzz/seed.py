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
  fuzz/corpus/tls/     (the `tcp_session` format: cfg byte, then h | len | data per segment)
                       every TCP conversation of the traces that carries a TLS record (first
                       byte 0x16..0x17 / SSLv2 hello), all its payload segments in order; and
                       every TLS-looking segment alone (client ones as segment 0, server ones
                       flipped to the server).
  fuzz/corpus/http/    the same for conversations and segments that start with an HTTP method
                       or `HTTP/`, plus hand-built request/response exchanges (continuations,
                       Host, cut headers), with the httplog_full_url bits varied.
  fuzz/corpus/dns/     every UDP payload to or from port 53 (cfg byte: server-sent and IPv6
                       variants), plus hand-built queries and responses (A, AAAA, CNAME chain,
                       compression pointers).
  fuzz/corpus/quic/    the RFC 9001 Appendix A.2 client Initial (hex read from
                       engine/src/l7/udp/crypto.rs) alone, followed by a server long header, and
                       with the version changed; its ClientHello (SNI example.com) re-protected
                       with a 1-byte packet number, which Tstat's fixed offsets decrypt (needs
                       the `cryptography` module; skipped without it); every UDP conversation of
                       the traces (first 16 datagrams).
  fuzz/corpus/video/   (the video target's format: cfg, mode, then url | request headers |
                       response head | body per exchange, each length-prefixed) every HTTP
                       conversation of the traces split into its exchanges; hand-built video
                       responses (every Content-Type the classifier knows; FLV with an AMF
                       onMetaData object, MP4 with mvhd/tkhd/btrt, 3GPP, fragmented MP4, AVI,
                       ASF, WebM, Ogg, MPEG, MPEG-TS/HLS, NFF bodies) behind YouTube, Vimeo,
                       Netflix, Flash-video and plain URLs, with the cfg/mode bits varied.
  fuzz/corpus/mplane_wire/  golden log headers and rows, RRD import bodies, a capability index,
                       an access-control INI, endpoint URLs (fuzz_targets/mplane_wire.rs)
  (fuzz/corpus/record_decode/ and fuzz/corpus/ring_read/ need the engine: see fuzz/seedgen/.)

Only classic pcap input is read (both byte orders, micro- and nanosecond magic).
"""

import gzip
import hashlib
import os
import re
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


# ---- layer-7 targets (tls, http, dns, quic) ----

HTTP_STARTS = (b"GET ", b"POST", b"HEAD", b"PUT ", b"PATC", b"DELE", b"OPTI", b"HTTP")
L7_MAX_SEGMENTS = 48
L7_MAX_BYTES = 32768


def l7_session(segments, cfg=0):
    """tcp_session / quic input: segments are (dir, payload); h's bit 0 flips the alternation."""
    out = bytes([cfg])
    for i, (d, payload) in enumerate(segments):
        payload = payload[:0xFFFF]
        out += bytes([(i & 1) ^ d]) + struct.pack(">H", len(payload)) + payload
    return out


def is_tls(p):
    return (len(p) >= 5 and p[0] in (0x14, 0x15, 0x16, 0x17) and p[1] == 3) or (
        len(p) >= 3 and p[0] & 0x80 and p[2] == 1
    )


def is_http(p):
    return p[:4] in HTTP_STARTS


def conversations(frames, proto):
    """{(client, server) 4-tuple key: [(dir, payload)]} in capture order; the client is the
    sender of the first packet seen (of the SYN without ACK for TCP where there is one)."""
    convs = {}
    order = []
    for _, _, _, frame in frames:
        l3 = l3_of_ethernet(frame)
        l4 = l4_of_frame(frame)
        if l3 is None or l4 is None or l4[0] != proto:
            continue
        et, ip = l3
        if et == 0x0800:
            src, dst = ip[12:16], ip[16:20]
        else:
            src, dst = ip[8:24], ip[24:40]
        _, sp, dp, payload = l4
        a, b = (src, sp), (dst, dp)
        if (a, b) in convs:
            key, d = (a, b), 0
        elif (b, a) in convs:
            key, d = (b, a), 1
        else:
            key, d = (a, b), 0
            convs[key] = []
            order.append(key)
        if payload:
            convs[key].append((d, payload))
    return [(k, convs[k]) for k in order]


def tcp_l7_seeds(frames):
    for (c, s), segs in conversations(frames, 6):
        segs = segs[:L7_MAX_SEGMENTS]
        total = 0
        kept = []
        for d, p in segs:
            if total + len(p) > L7_MAX_BYTES:
                break
            kept.append((d, p))
            total += len(p)
        if not kept:
            continue
        port = s[1]
        if any(is_tls(p) for _, p in kept):
            cfg = 0 if port == 443 else 3
            write("tls", l7_session(kept, cfg))
        if any(is_http(p) for _, p in kept):
            cfg = 0 if port == 80 else 3
            write("http", l7_session(kept, cfg))
            write("http", l7_session(kept, cfg | 0x08 | 0x40))
            write("http", l7_session(kept, cfg | 0x10 | 0x20))
        for d, p in kept:
            if is_tls(p):
                write("tls", l7_session([(d, p)]))
            if is_http(p):
                write("http", l7_session([(d, p)]))


def udp_l7_seeds(frames):
    for (c, s), dgrams in conversations(frames, 17):
        if 53 in (c[1], s[1]):
            for d, p in dgrams[:64]:
                from_server = (d == 1) == (s[1] == 53)
                v6 = len(c[0]) == 16
                cfg = (1 if v6 else 0) | (0x02 | 0x08 if from_server else 0)
                write("dns", bytes([cfg]) + p)
        if dgrams:
            write("quic", l7_session(dgrams[:16], 0 if s[1] == 443 else 3))


def dns_name(n):
    return b"".join(bytes([len(l)]) + l for l in n.split(b".")) + b"\0"


def hkdf_expand_label(secret, label, length):
    import hmac

    full = b"tls13 " + label
    info = struct.pack(">H", length) + bytes([len(full)]) + full + b"\0"
    out, t, i = b"", b"", 1
    while len(out) < length:
        t = hmac.new(secret, t + info + bytes([i]), "sha256").digest()
        out += t
        i += 1
    return out[:length]


def quic_client_initial(dcid, hello, pn=0):
    """A protected QUIC v1 client Initial carrying `hello` (a TLS handshake message) in one
    CRYPTO frame, padded to 1200 bytes, with a one-byte packet number (what Tstat's offsets
    assume), as `protect` in engine/src/l7/udp/quic_tls.rs builds it (the AEAD tag is filler,
    never checked). None without the `cryptography` module."""
    import hmac

    try:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    except ImportError:
        return None
    salt = bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a")
    initial = hmac.new(salt, dcid, "sha256").digest()
    cs = hkdf_expand_label(initial, b"client in", 32)
    key, iv, hp = (hkdf_expand_label(cs, b"quic key", 16), hkdf_expand_label(cs, b"quic iv", 12),
                   hkdf_expand_label(cs, b"quic hp", 16))
    frames = b"\x06\x00" + struct.pack(">H", 0x4000 | len(hello)) + hello
    hdr = bytes([0xC0, 0, 0, 0, 1, len(dcid)]) + dcid + b"\x00\x00"
    pkt_len = 1200 - len(hdr) - 2
    frames = frames.ljust(pkt_len - 1 - 16, b"\0")
    hdr += struct.pack(">H", 0x4000 | pkt_len)
    pn_at = len(hdr)
    hdr += bytes([pn])
    nonce = bytearray(iv)
    nonce[11] ^= pn
    enc = Cipher(algorithms.AES(key), modes.CTR(bytes(nonce) + b"\0\0\0\x02")).encryptor()
    pkt = bytearray(hdr + enc.update(frames) + enc.finalize() + b"\xab" * 16)
    sample = bytes(pkt[pn_at + 4 : pn_at + 20])
    mask = Cipher(algorithms.AES(hp), modes.ECB()).encryptor().update(sample)
    pkt[0] ^= mask[0] & 0x0F
    pkt[pn_at] ^= mask[1]
    return bytes(pkt)


def handmade_l7_seeds():
    # HTTP: request/response, continuation segments, cut headers, other methods.
    req = (b"GET /index.html?q=1 HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: fuzz/1.0\r\n"
           b"Referer: http://example.org/\r\nCookie: a=b\r\n\r\n")
    res = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n"
           b"Server: x\r\nSet-Cookie: s=1\r\nLocation: /x\r\n\r\nhello")
    for cfg in (0, 0x08, 0x10, 0x20 | 0x40):
        write("http", l7_session([(0, req), (0, res)], cfg))
        write("http", l7_session([(0, req[:30]), (1, req[30:]), (1, res[:20]), (0, res[20:])], cfg))
    for m in (b"POST", b"HEAD", b"PUT", b"PATCH", b"DELETE", b"OPTIONS"):
        write("http", l7_session([(0, m + b" / HTTP/1.0\r\nHost: h\r\n\r\n"), (0, b"HTTP/1.0 404 Not Found\r\n\r\n")]))
    write("http", l7_session([(0, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")] * 6))
    # DNS: a query and a response (A, AAAA, CNAME with a compression pointer).
    q = dns_name(b"www.example.com")
    hdr_q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    query = hdr_q + q + struct.pack(">HH", 1, 1)
    ans = (struct.pack(">HHHIH", 0xC00C, 5, 1, 300, 6) + b"\x03cdn\xc0\x10"
           + struct.pack(">HHHIH", 0xC02D, 1, 1, 60, 4) + bytes([192, 0, 2, 7]))
    resp = struct.pack(">HHHHHH", 0x1234, 0x8180, 1, 2, 0, 0) + q + struct.pack(">HH", 1, 1) + ans
    query6 = hdr_q + q + struct.pack(">HH", 28, 1)
    ans6 = struct.pack(">HHHIH", 0xC00C, 28, 1, 60, 16) + bytes(range(16))
    resp6 = struct.pack(">HHHHHH", 0x1234, 0x8180, 1, 1, 0, 0) + q + struct.pack(">HH", 28, 1) + ans6
    for cfg, m in ((0, query), (0x0A, resp), (1, query6), (0x0B, resp6), (0x0E, resp)):
        write("dns", bytes([cfg]) + m)
    write("quic", l7_session([(0, query), (0, resp)], 2))
    # QUIC: the RFC 9001 client Initial.
    src = open(os.path.join(REPO, "engine", "src", "l7", "udp", "crypto.rs")).read()
    m = re.search(r"A2_PROTECTED: &str = concat!\((.*?)\);", src, re.S)
    if m:
        initial = bytes.fromhex("".join(re.findall(r'"([0-9a-f]+)"', m.group(1))))
        # A server long-header Initial answering it (SCID set, same version), undecryptable.
        server = bytes([0xC1, 0, 0, 0, 1, 0, 8]) + bytes(range(8)) + b"\x00\x40\x20" + bytes(range(32, 64))
        write("quic", l7_session([(0, initial)]))
        write("quic", l7_session([(0, initial), (0, server)]))
        write("quic", l7_session([(0, initial), (0, server), (0, initial), (0, server)], 4))
        write("quic", l7_session([(0, initial[:600])]))
        # Its ClientHello (CRYPTO frame of Appendix A.2) as a TLS-over-TCP record, whole and
        # split over two segments, followed by a ServerHello and a Certificate.
        m2 = re.search(r"A2_CRYPTO_FRAME: &str = concat!\((.*?)\);", src, re.S)
        if m2:
            frame = bytes.fromhex("".join(re.findall(r'"([0-9a-f]+)"', m2.group(1))))
            hs = frame[4 : 4 + ((frame[2] & 0x3F) << 8 | frame[3])]
            ch = b"\x16\x03\x01" + struct.pack(">H", len(hs)) + hs
            sh_body = (b"\x03\x03" + bytes(32) + b"\x00" + b"\x13\x01\x00"
                       + struct.pack(">H", 6 + 9) + b"\x00\x2b\x00\x02\x03\x04"
                       + b"\x00\x10\x00\x05\x00\x03\x02h2")
            sh_hs = b"\x02" + struct.pack(">I", len(sh_body))[1:] + sh_body
            sh = b"\x16\x03\x03" + struct.pack(">H", len(sh_hs)) + sh_hs
            cert_hs = b"\x0b" + struct.pack(">I", 3 + 3 + 10)[1:] + b"\x00\x00\x0d" + b"\x00\x00\x0a" + bytes(10)
            cert = b"\x16\x03\x03" + struct.pack(">H", len(cert_hs)) + cert_hs
            ccs_app = b"\x14\x03\x03\x00\x01\x01" + b"\x17\x03\x03\x00\x04abcd"
            write("tls", l7_session([(0, ch)]))
            write("tls", l7_session([(0, ch), (0, sh + cert), (0, ccs_app), (0, ccs_app)]))
            write("tls", l7_session([(0, ch[:100]), (1, ch[100:]), (0, sh), (0, cert)]))
            write("tls", l7_session([(0, ch), (0, sh + cert)], 4))
            # The same ClientHello in a client Initial Tstat's offsets can decrypt (1-byte
            # packet number), alone and answered by the server header.
            for dcid in (bytes.fromhex("8394c8f03e515708"), bytes(range(20)), b"\x01"):
                pkt = quic_client_initial(dcid, hs)
                if pkt:
                    write("quic", l7_session([(0, pkt)]))
                    write("quic", l7_session([(0, pkt), (0, server), (0, pkt)], 4))
        for v in (b"\xff\x00\x00\x1d", b"\x6b\x33\x43\xcf", b"\x00\x00\x00\x00"):
            write("quic", l7_session([(0, initial[:1] + v + initial[5:])]))


# ---- video target -------------------------------------------------------------------------

VIDEO_METHODS = {b"GET": 0, b"POST": 1, b"HEAD": 2}


def video_input(cfg, mode, exchanges):
    """The video target's input: cfg, mode, then (url, headers, head, body) per exchange."""
    out = bytes([cfg, mode])
    for fields in exchanges:
        for f in fields:
            f = f[:0xFFFF]
            out += struct.pack(">H", len(f)) + f
    return out


def split_requests(stream):
    """[(method, url, headers)] of the requests at the start of a client stream."""
    reqs = []
    while stream:
        end = stream.find(b"\r\n\r\n")
        if end < 0:
            break
        head, stream = stream[: end + 4], stream[end + 4 :]
        line, _, headers = head.partition(b"\r\n")
        parts = line.split(b" ")
        if len(parts) < 3:
            break
        reqs.append((parts[0], b" ".join(parts[1:-1]), headers[:-2]))
        # Skip a request body up to the next request line.
        m = re.search(rb"(GET|POST|HEAD|PUT|OPTIONS) /", stream)
        stream = stream[m.start() :] if m else b""
    return reqs


def split_responses(stream, max_body=4096):
    """[(head without its blank line, body)] of the responses in a server stream."""
    resps = []
    starts = [m.start() for m in re.finditer(rb"HTTP/1\.[01] \d\d\d", stream)]
    for i, at in enumerate(starts):
        chunk = stream[at : starts[i + 1] if i + 1 < len(starts) else len(stream)]
        end = chunk.find(b"\r\n\r\n")
        if end < 0:
            resps.append((chunk, b""))
        else:
            resps.append((chunk[: end + 2], chunk[end + 4 :][:max_body]))
    return resps


def video_seeds_from_trace(frames):
    for (c, s), segs in conversations(frames, 6):
        client = b"".join(p for d, p in segs if d == 0)
        server = b"".join(p for d, p in segs if d == 1)
        if not is_http(client[:4]):
            continue
        reqs = split_requests(client)
        resps = split_responses(server)
        if not reqs:
            continue
        exchanges = []
        for i, (method, url, headers) in enumerate(reqs[:4]):
            head, body = resps[i] if i < len(resps) else (b"", b"")
            exchanges.append((url, headers, head, body))
        method = VIDEO_METHODS.get(reqs[0][0])
        if method is None:
            continue
        port_bits = 0 if s[1] == 80 else 3
        v6 = 0x04 if len(c[0]) == 16 else 0
        write("video", video_input(port_bits | v6, method, exchanges))
        write("video", video_input(port_bits | v6 | 0x08 | 0x10, method | 0x04, exchanges[:1]))


def amf_number(name, v):
    return struct.pack(">H", len(name)) + name + b"\x00" + struct.pack(">d", v)


def flv_body(props, reduced=False):
    """An FLV header and a script tag whose AMF onMetaData object holds `props`."""
    obj = b"".join(props)
    data = b"\x02\x00\x0aonMetaData" + b"\x08" + struct.pack(">I", len(props)) + obj + b"\x00\x00\x09"
    tag = b"\x12" + struct.pack(">I", len(data))[1:] + b"\x00\x00\x00\x00" + b"\x00\x00\x00" + data
    head = b"\x12\x00\x03\x4b" + b"\x00" * 5 if reduced else b"FLV\x01\x05\x00\x00\x00\x09"
    return head + b"\x00\x00\x00\x00" + tag


def mp4_box(kind, payload):
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def mp4_body(timescale=1000, duration=213_000, width=1280, height=720, rate=2_500_000, brand=b"isom"):
    ftyp = mp4_box(b"ftyp", brand + b"\x00\x00\x02\x00" + b"isomiso2avc1mp41")
    mvhd = mp4_box(b"mvhd", b"\x00" * 12 + struct.pack(">II", timescale, duration) + b"\x00" * 80)
    tkhd = mp4_box(b"tkhd", b"\x00" * 76 + struct.pack(">II", width << 16, height << 16))
    btrt = mp4_box(b"btrt", struct.pack(">III", 0, rate, rate))
    moov = mp4_box(b"moov", mvhd + mp4_box(b"trak", tkhd + btrt))
    return ftyp + moov + mp4_box(b"mdat", bytes(64))


def avi_body(frames=5000, width=640, height=360, scale=1, rate=25):
    avih = b"avih" + struct.pack("<I", 56) + struct.pack("<IIIIIIIIII", 40000, 0, 0, 0, frames, 0, 1, 0, width, height) + bytes(16)
    strh = b"strh" + struct.pack("<I", 56) + b"vids" + b"H264" + bytes(12) + struct.pack("<II", scale, rate) + bytes(24)
    hdrl = b"LIST" + struct.pack("<I", 4 + len(avih) + len(strh)) + b"hdrl" + avih + b"LIST" + struct.pack("<I", 4 + len(strh)) + b"strl" + strh
    return b"RIFF" + struct.pack("<I", 4 + len(hdrl)) + b"AVI " + hdrl


def video_bodies():
    ts = bytearray(b"\x47\x40\x00\x10" + bytes(184)) * 4
    return [
        (b"video/x-flv", flv_body([
            amf_number(b"duration", 213.5), amf_number(b"width", 640.0), amf_number(b"height", 360.0),
            amf_number(b"videodatarate", 500.0), amf_number(b"audiodatarate", 128.0),
            amf_number(b"filesize", 12_345_678.0),
            struct.pack(">H", 7) + b"encoder" + b"\x02" + struct.pack(">H", 5) + b"Lavf5",
            struct.pack(">H", 8) + b"hasVideo" + b"\x01\x01",
        ])),
        (b"video/flv", flv_body([amf_number(b"duration", 60.0), amf_number(b"bytelength", 7_500_000.0)], reduced=True)),
        (b"flv-application/octet-stream", flv_body([amf_number(b"duration", float("nan")), amf_number(b"width", 1e300)])),
        (b"video/mp4", mp4_body()),
        (b"video/x-m4v", mp4_body(timescale=0, duration=1)),
        (b"audio/mp4", mp4_body(timescale=44100, duration=4_410_000, width=0, height=0, rate=128_000)),
        (b"application/mp4", mp4_box(b"ftyp", b"dash\x00\x00\x00\x00iso6mp41") + mp4_box(b"moof", bytes(32))),
        (b"video/3gpp", b"\x00\x00\x00\x14ftyp3gp4\x00\x00\x02\x003gp4" + bytes(32)),
        (b"video/mp4", bytes(4) + b"moof" + bytes(32)),
        (b"video/x-msvideo", avi_body()),
        (b"video/x-ms-asf", bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c") + bytes(32)),
        (b"video/x-ms-wmv", bytes.fromhex("a6d900aa0062ce6c3026b2758e66cf11") + bytes(32)),
        (b"application/x-mms-framed", b"$M" + bytes(10) + b"play" + bytes(20)),
        (b"video/webm", bytes.fromhex("1a45dfa3") + bytes.fromhex("9f4286810142f7810142f2810442f381084282") + b"\x84webm" + bytes(32)),
        (b"video/webm", bytes.fromhex("1a45dfa3") + bytes(27) + b"webm" + bytes(8)),
        (b"video/ogg", b"OggS\x00\x02\x00\x00" + bytes(40)),
        (b"video/mpeg", b"\x00\x00\x01\xb3" + bytes(40)),
        (b"video/MP2T", bytes(ts)),
        (b"application/vnd.apple.mpegurl", b"#EXTM3U\n#EXT-X-VERSION:3\n#EXTINF:10,\nseg0.ts\n"),
        (b"application/x-mpegURL", b"#EXTM3U\n"),
        (b"video/nff", b"\x47\x1f\xff\x10NDS File" + bytes(40)),
        (b"video/quicktime", mp4_body(brand=b"qt  ")),
        (b"\"video/mp4\"", mp4_body()),
        (b"video/x-f4f", bytes(4) + b"moof" + bytes(8)),
        (b"text/html", b"<html>not a video</html>"),
    ]


VIDEO_URLS = [
    (b"/videoplayback?id=0123456789abcdef&itag=22&source=youtube&begin=1500&st=nx&redirect_counter=1"
     b"&key=yt1&app=youtube_mobile&client=ytapi-apple&range=0-1048575", b"r4---sn-a5m7lnl6.googlevideo.com"),
    (b"/videoplayback/id/dQw4w9WgXcQ.1/itag/18/source/youtube/key/dg_yt0/file/x", b"v1.lscache2.c.youtube.com"),
    (b"/generate_204?id=o-" + b"A" * 44 + b"&ip=1.2.3.4&key=yt5&st=lc", b"r1---sn-4g5e6nez.googlevideo.com"),
    (b"/hls_stream.ts?id=dQw4w9WgXcQ&itag=93&key=yt1", b"manifest.googlevideo.com"),
    (b"/liveplay?id=0123456789abcdef&itag=5", b"www.youtube.com"),
    (b"/watch?v=dQw4w9WgXcQ&feature=related", b"www.youtube.com"),
    (b"/embed/dQw4w9WgXcQ?rel=0", b"www.youtube-nocookie.com"),
    (b"/get_video_info?html5=1&video_id=dQw4w9WgXcQ&cpn=abcdefghijklmnop", b"www.youtube.com"),
    (b"/feeds/api/videos/dQw4w9WgXcQ?v=2&alt=json", b"gdata.youtube.com"),
    (b"/vimeo/v/12345678/video.mp4", b"av.vimeo.com"),
    (b"/range/0-65535?o=AQE1bXg", b"ipv4-c001-mil001-ix.1.oca.nflxvideo.net"),
    (b"/videos/flv/abc/def.flv", b"videos.example.com"),
    (b"/e4/flv/clip.flv", b"media.example.com"),
    (b"/media/clip.mp4", b"cdn.example.com"),
]


def handmade_video_seeds():
    ua = b"User-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nAccept: */*\r\n"
    bodies = video_bodies()
    for i, (url, host) in enumerate(VIDEO_URLS):
        ct, body = bodies[i % len(bodies)]
        headers = b"Host: " + host + b"\r\n" + ua
        head = (b"HTTP/1.1 200 OK\r\nContent-Type: " + ct + b"\r\nContent-Length: "
                + str(len(body)).encode() + b"\r\n")
        write("video", video_input(0, 0, [(url, headers, head, body)]))
        write("video", video_input(0x08 | (2 << 5), 0x04, [(url, headers, head, body)]))
    for j, (ct, body) in enumerate(bodies):
        url, host = VIDEO_URLS[j % len(VIDEO_URLS)]
        headers = b"Host: " + host + b"\r\n" + ua + b"Range: bytes=0-\r\n"
        head = b"HTTP/1.1 206 Partial Content\r\nContent-Type: " + ct + b"\r\nAccept-Ranges: bytes\r\n"
        cfg = [0, 0x04, 0x08 | 0x10, 0x60 | 0x80][j % 4]
        mode = [0, 0x04 | 0x20, 0x08, 0x0C | 0x40][j % 4]
        write("video", video_input(cfg, mode, [(url, headers, head, body)]))
        # The body alone in the response's first segment (no status line).
        write("video", video_input(0, 0x10, [(url, headers, b"", body)]))
        # Metadata arriving in a later segment, after a small-MSS split of the headers.
        write("video", video_input(3 << 5, 0x04, [(url, headers, head, body)]))
    # A persistent connection: a page, then the video, then a 204 probe.
    page = (b"/watch?v=dQw4w9WgXcQ", b"Host: www.youtube.com\r\n" + ua,
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n", b"<html></html>")
    vid = (VIDEO_URLS[0][0], b"Host: " + VIDEO_URLS[0][1] + b"\r\n" + ua,
           b"HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\n", mp4_body())
    probe = (b"/generate_204?ip=1.2.3.4&key=yt1", b"Host: r1.googlevideo.com\r\n", b"HTTP/1.1 204 No Content\r\n", b"")
    write("video", video_input(0x08, 0x08, [page, vid, probe, vid]))
    write("video", video_input(0, 0, [probe, vid]))
    # A raw request line and a raw response.
    write("video", video_input(0, 0x13, [(b"GET /videoplayback?id=1&itag=5 HTTP/1.0\r\n\r\n", b"",
                                          b"HTTP/1.0 200 OK\r\nContent-Type: video/x-flv\r\n\r\n", flv_body([]))]))


def mplane_wire_seeds():
    """fuzz/corpus/mplane_wire/: the golden logs (header + rows) of tests/golden/, RRD import
    bodies, a capability index page, an access-control INI, endpoint URLs."""
    golden = os.path.join(HERE, "..", "tests", "golden")
    for dirpath, _, files in os.walk(golden):
        for name in files:
            if name in ("log_tcp_complete", "log_http_complete"):
                with open(os.path.join(dirpath, name), "rb") as f:
                    lines = f.read().split(b"\n")
                write("mplane_wire", b"\n".join(lines[:6]))
    write("mplane_wire", b'[["ip_bitrate_in.rrd", 1795319700.0, 1116.43], ["a.rrd:ds", 1, 2]]')
    write("mplane_wire", b"<html><body><a href='/capability/5628ceb366cf23076ab131f701b6dbd0'>x</a>"
                         b'<A HREF="https://h:1/capability/abc">y</A></body></html>')
    write("mplane_wire", b"[Roles]\norg.mplane.SSB.Clients.Client-1 = guest\n[Authorizations]\n"
                         b"tstat-log_rrds = guest,admin\n")
    write("mplane_wire", b"2016_08_02_02_19.out/log_tcp_complete")
    write("mplane_wire", b"https://[::1]:8889/prefix/")


def main():
    mplane_wire_seeds()
    if not os.path.isdir(PCAPS):
        sys.exit(f"no {PCAPS}")
    for name in sorted(os.listdir(PCAPS)):
        if not name.endswith(".pcap"):
            continue
        raw, e, ns, hdr, frames = read_pcap(os.path.join(PCAPS, name))
        decode_seeds(frames)
        trace_seeds(raw, e, ns, hdr, frames)
        worker_seed_from_trace(frames)
        tcp_l7_seeds(frames)
        udp_l7_seeds(frames)
        video_seeds_from_trace(frames)
    worker_seeds()
    handmade_l7_seeds()
    handmade_video_seeds()
    for kind in ("decode", "trace", "worker", "tls", "http", "dns", "quic", "video", "mplane_wire"):
        d = os.path.join(CORPUS, kind)
        print(f"{d}: {len(os.listdir(d))} files")


if __name__ == "__main__":
    main()
