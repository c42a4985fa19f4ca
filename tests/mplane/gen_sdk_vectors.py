#!/usr/bin/env python3
"""
Regenerates tests/mplane/sdk/*.json: what the mPlane reference implementation (PyPI
mplane-sdk==0.9.0, mplane/model.py, used unmodified) computes for the messages, temporal
scopes, values and constraints our tests check control::mplane against.

usage (any Python 3.11 venv with mplane-sdk 0.9.0 importable, e.g. the interop test bed's):
  VENV/bin/python tests/mplane/gen_sdk_vectors.py REGISTRY_DIR OUT_DIR
  REGISTRY_DIR: ../shared/mplane-interop/registries (demo-registry.json, tstat-registry.json)

Everything is deterministic: relative scopes are evaluated at the fixed TZERO below.
"""
import json
import os
import sys
from datetime import datetime

import mplane.model as m

TZERO = datetime(2026, 11, 22, 4, 9, 59, 522453)
TSTAT = "https://raw.githubusercontent.com/fp7mplane/components/master/tstat/tstat-registry.json"
META = [("System_type", "tStat"), ("System_ID", "tStat-Proxy-01"), ("System_version", "0.1")]
RRD = [g + ".Related.metrics" for g in
       ["Ethernet", "IP", "TCP", "UDP", "MMedia", "Classifier", "P2P-TV", "Video", "Profile"]]
CORE = (["source.ip4", "source.port"]
        + ["packets.forward"] + ["packets.forward." + s for s in
           ["syn", "fin", "rst", "ack", "pure_ack", "with_payload", "rxmit", "outseq"]]
        + ["bytes.forward", "bytes.forward.unique", "bytes.forward.rxmit",
           "destination.ip4", "destination.port"]
        + ["packets.backward"] + ["packets.backward." + s for s in
           ["syn", "fin", "rst", "ack", "pure_ack", "with_payload", "rxmit", "outseq"]]
        + ["bytes.backward", "bytes.backward.unique", "bytes.backward.rxmit",
           "start", "end", "duration.ms",
           "source.TTFP.ms", "destination.TTFP.ms", "source.TTLP.ms", "destination.TTLP.ms",
           "source.TTFA.ms", "destination.TTFA.ms",
           "source.ip4.isinternal", "destination.ip4.isinternal",
           "tstat.flow.class.conn", "tstat.flow.class.p2p", "tstat.flow.class.http"])
OPT = ["RFC1323.ws", "RFC1323.ts", "win_scale", "SACK_set", "SACK", "MSS.bytes",
       "segment.max.bytes", "segment.min.bytes", "window.max.bytes", "window.min.bytes",
       "window.zero", "cwin.max.bytes", "cwin.min.bytes", "cwin.first.bytes", "rxmit.RTO",
       "rxmit.RTO.unnecessary", "rxmit.FR", "rxmit.FR.unnecessary", "reordering", "net_dup",
       "unknown", "flow_control", "SYN.equal_seqno"]
HTTP = ["source.ip4", "source.port", "destination.ip4", "destination.port", "time",
        "request.method", "request.hostname", "request.fqdn", "request.path",
        "request.referer", "request.user_agent", "response.http", "response.code",
        "response.content_len", "response.content_type", "response.content_range",
        "response.location"]
# label, when, extra parameters (constraint "*"), result columns: tstat.py of
# fp7mplane/components @ 52fee4e, as ../shared/reference/mplane.md section 12.2 lists it.
CAPS = [
    ("tstat-log_tcp_complete-core", "now ... future", [], CORE),
    ("tstat-log_tcp_complete-end_to_end", "now ... future", [],
     ["rtt.average.ms", "rtt.min.ms", "rtt.max.ms", "rtt.stddev", "rtt.samples",
      "ttl.min", "ttl.max"]),
    ("tstat-log_tcp_complete-tcp_options", "now ... future", [],
     ["source." + o for o in OPT] + ["destination." + o for o in OPT]),
    ("tstat-log_tcp_complete-p2p_stats", "now ... future", [],
     ["p2p.subtype", "ed2k.data", "ed2k.signaling", "ed2k.i2r", "ed2k.r2i", "ed2k.chat"]),
    ("tstat-log_tcp_complete-layer7", "now ... future", [],
     ["source.psh_separated", "destination.psh_separated", "ssl.hello.client",
      "ssl.hello.server"]),
    ("tstat-log_rrds", "now ... future", [], RRD),
    ("tstat-exporter_rrd", "past ... future", ["repository.url"],
     ["rrdtimestamp", "rrdMetirc", "rrdValue"]),
    ("tstat-log_http_complete", "now ... future", [], HTTP),
    ("tstat-exporter_streaming", "now ... future",
     ["repository.url", "log.folder", "log.type", "log.time"], []),
    ("tstat-exporter_log", "past ... future", ["repository.url"], []),
]
PARAM_VALUES = {"repository.url": "127.0.0.1:9000", "log.folder": "/var/log/tstat/",
                "log.type": "log_tcp_complete", "log.time": "5"}
# The dummy values of the 2015 proxy's results (mplane.md section 12.3).
DUMMY = {"natural": 0, "real": 0.0, "string": "hello", "boolean": True,
         "address": "192.168.0.1", "url": "www.google.com"}


def capability(label, when, params, results):
    cap = m.Capability(label=label, when=when, registry_uri=TSTAT)
    for k, v in META:
        cap.add_metadata(k, v)
    cap.add_parameter("System_ID", constraint="01")
    for p in params:
        cap.add_parameter(p)
    for r in results:
        cap.add_result_column(r)
    cap.get_token()
    return cap


def statements():
    out = []
    for n, (label, when, params, results) in enumerate(CAPS):
        cap = capability(label, when, params, results)
        spec = m.Specification(capability=cap)
        spec.set_when("now + 1h")
        for p in params:
            spec.set_parameter_value(p, PARAM_VALUES[p])
        spec.set_label(label + "-" + str(n))
        relative_token = spec._pv_hash(astr=repr(spec.when().datetimes(TZERO)))
        spec.set_token(relative_token)
        definite = m.Specification(capability=cap)
        definite.set_when("2026-11-22 10:00:00 ... 2026-11-22 11:00:00")
        for p in params:
            definite.set_parameter_value(p, PARAM_VALUES[p])
        definite.get_token()  # absolute scope: the plain _pv_hash, no time folded in
        receipt = m.Receipt(specification=spec)
        redemption = m.Redemption(receipt=receipt)
        interrupt = m.Interrupt(specification=spec)
        withdrawal = m.Withdrawal(capability=cap)
        result = m.Result(specification=spec)
        (start, end) = spec.when().datetimes(TZERO)
        result._when = m.When(a=start, b=end)
        for col in result.result_column_names():
            prim = result._resultcolumns[col]._prim.name
            value = start if prim == "time" else DUMMY[prim]
            result.set_result_value(col, value)
        out.append({
            "label": label,
            "capability": cap.to_dict(),
            "schema_hash": cap._schema_hash(),
            "specification": spec.to_dict(),
            "specification_definite": definite.to_dict(),
            "receipt": receipt.to_dict(),
            "redemption": redemption.to_dict(),
            "redemption_token_only": redemption.to_dict(token_only=True),
            "interrupt": interrupt.to_dict(),
            "withdrawal": withdrawal.to_dict(),
            "result": result.to_dict(),
        })
    return out


WHENS = [
    "now", "now + 30m", "now + 90s", "now + 1h30m", "now + 7m30s", "now + inf", "now + 0s",
    "now + 1d2h3m4s", "now ... future", "past ... future", "past ... now",
    "now + 3h / 7m30s", "now ... future / 1s", "now + 3s / 1s",
    "2026-11-22 10:00:00 ... 2026-11-22 11:00:00",
    "2026-11-22 10:00 ... 2026-11-22 11:00:00.5",
    "2026-11-22 ... 2026-11-23", "2026-11-22 10:00:00 + 1h",
    "2026-11-22 10:00:00.123456", "2026-1-2 3:4:5",
    "2026-11-22 04:09:59.522453 ... 2026-11-22 05:09:59.522453",
    "2020-01-01 00:00:00 ... 2020-01-02 00:00:00",
    "now ... 2026-11-22 10:00:00", "2026-11-22 10:00:00 ... future",
    "repeat now ... future / 1h { now + 5m / 1s }",
    "repeat now ... future / 1h { now + 5m }",
    "repeat now + 1d / 1h",
    "repeat 2026-11-22 10:00:00 ... 2026-11-23 10:00:00 / 15m { now + 1m / 5s }",
    "repeat now ... future cron 0 0 * * * *",
    "repeat now ... future cron 0 0,30 8-17 * 0-4 * { now + 5m / 1s }",
    # the RI accepts these, with the meaning in the comment; control::mplane refuses them
    "now + 3s / 500ms",           # 500 minutes
    "2026-11-22T10:00:00",        # midnight of that day
    "now + 1h30",                 # one hour
    "now + ",                     # zero
    "now ... future ... past",    # the third part ignored
    "2026-11-22 10:00:00 junk",   # junk ignored
    # the RI refuses these too
    "", "tomorrow", "now + 1h / 1m / 1s", "2026-13-01", "2026-02-30", "2026-11-22 24:00:00",
    "2026-11-22 10:00:00.1234567", "2026-11-22 10:00:60", "repeat now ... future",
    "repeat now ... future / 1h cron 0 0 * * * *", "repeat now ... future / 1h { 5m }",
    "26-11-22",
]


def whens():
    caps = {w: m.When(w) for w in ["now ... future", "now ... future / 1s", "past ... future"]}
    out = []
    for text in WHENS:
        entry = {"input": text}
        try:
            w = m.When(text)
            entry["str"] = str(w)
            try:
                (a, b) = w.datetimes(TZERO)
                entry["datetimes"] = [None if a is None else m.unparse_time(a),
                                      None if b is None else m.unparse_time(b)]
                entry["repr_datetimes"] = repr((a, b))
                entry["is_definite"] = w.is_definite()
            except Exception as e:  # noqa: BLE001
                entry["datetimes_error"] = type(e).__name__
            follows = {}
            for ct, cw in caps.items():
                try:
                    follows[ct] = w.follows(cw, TZERO)
                except Exception as e:  # noqa: BLE001
                    follows[ct] = type(e).__name__
            entry["follows"] = follows
        except Exception as e:  # noqa: BLE001
            entry["error"] = type(e).__name__ + ": " + str(e)
        out.append(entry)
    return out


VALUES = [
    ("natural", ["42", "42.0", "1E2", "1.9", "-3", " 7 ", "0", "12345678901234567890", "x",
                 "", "inf", "nan", "*"]),
    ("real", ["0.5", "1", "1e16", "1e15", "123456789.123", "0.0001", "0.00001", "-0.0",
              "1E-7", "2.5e+20", "3.14159", "x", "*"]),
    ("boolean", ["True", "False", "1", "0", "true", "yes", "*"]),
    ("address", ["192.0.2.1", "2001:db8::1", "2001:DB8:0:0:0:0:0:1", "10.0.0.0/24",
                 "::ffff:1.2.3.4", "1.2.3", "*"]),
    ("time", ["2026-11-22", "2026-11-22 10:00", "2026-11-22 10:00:00",
              "2026-11-22 10:00:00.5", "2026-11-22 10:00:00.123456", "now", "past", "future",
              "2026-11-22T10:00:00", "2026-02-29", "x"]),
    ("string", ["hello", "*", ""]),
    ("url", ["www.google.com", "127.0.0.1:9000"]),
]


def values():
    out = []
    for prim, inputs in VALUES:
        p = m._prim[prim]
        for text in inputs:
            entry = {"prim": prim, "input": text}
            try:
                entry["output"] = p.unparse(p.parse(text))
            except Exception as e:  # noqa: BLE001
                entry["error"] = type(e).__name__
            out.append(entry)
    return out


CONSTRAINTS = [
    ("string", "01", ["01", "1", "02"]),
    ("string", "*", ["anything"]),
    ("natural", "0 ... 99", ["0", "99", "100", "-1", "50.5", "1E1"]),
    ("natural", "99 ... 0", ["50"]),
    ("natural", "1,2,3", ["2", "2.0", "4"]),
    ("address", "192.0.2.1,192.0.2.2", ["192.0.2.2", "192.0.2.3"]),
    ("address", "10.0.0.1 ... 10.0.0.9", ["10.0.0.5", "10.0.0.10"]),
    ("real", "0.5 ... 1.5", ["1", "1.5", "1.6"]),
    ("string", "a ... c", ["b", "d"]),
    ("boolean", "True", ["1", "False"]),
    ("time", "2026-11-22 ... 2026-11-23", ["2026-11-22 12:00:00", "2026-11-24"]),
]


def constraints():
    out = []
    for prim, text, vals in CONSTRAINTS:
        p = m._prim[prim]
        c = m.parse_constraint(p, text)
        entry = {"prim": prim, "constraint": text, "str": str(c), "checks": {}}
        single = c.single_value()
        entry["single_value"] = None if single is None else p.unparse(single)
        for v in vals:
            try:
                entry["checks"][v] = bool(c.met_by(p.parse(v)))
            except Exception as e:  # noqa: BLE001
                entry["checks"][v] = type(e).__name__
        out.append(entry)
    return out


def main():
    regdir, outdir = sys.argv[1], sys.argv[2]
    m.preload_registry(os.path.join(regdir, "demo-registry.json"))
    m.preload_registry(os.path.join(regdir, "tstat-registry.json"))
    m.initialize_registry(TSTAT)
    os.makedirs(outdir, exist_ok=True)
    for name, data in [("statements", statements()), ("when", whens()),
                       ("values", values()), ("constraints", constraints())]:
        with open(os.path.join(outdir, name + ".json"), "w") as f:
            json.dump({"generator": "tests/mplane/gen_sdk_vectors.py, mplane-sdk 0.9.0",
                       "tzero": m.unparse_time(TZERO), name: data}, f, indent=1,
                      sort_keys=True)
            f.write("\n")


if __name__ == "__main__":
    main()
