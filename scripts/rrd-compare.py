#!/usr/bin/env python3
"""Compares the RRD files of `tstat-dpdk analyze -R` with Tstat's own.

    scripts/rrd-compare.py [-v] [--bin PATH] [--workers N] [--keep DIR] [TRACE...]

For every conformance trace with reference RRD data (../shared/conformance/histograms/<trace>/,
written by Tstat 3.3 with -T conf/runtime-all.conf -H conf/histo-all.conf -R conf/rrd.conf
-r rrd), runs, in a scratch directory (so that file names read `rrd/...` as in the reference),

    tstat-dpdk analyze -T runtime-all.conf -H histo-all.conf -R rrd.conf -r rrd -s out TRACE

with TZ=UTC, and compares:

  names    the set of RRD files with rrd-files.txt (identical / missing / extra);
  info     `rrdtool info` of the reference files in rrd-info/, field by field (data source
           name, type, heartbeat, min, max, last_ds, value, unknown_sec; step, last_update,
           header_size; every RRA's cf, rows, pdp_per_row, xff, cdp_prep, cur_row);
  fetch    `rrdtool fetch FILE AVERAGE -r 300 -s LAST-3600 -e LAST`, LAST being the reference
           last_update (the last hour at 300 s resolution: the command that made rrd-info/),
           row by row;
  derived  for every idx<v>, idxoth and prc<p> file of the run, our last value (`last_ds`)
           against the value Tstat's rrdtool.c computes from the last histogram dump it wrote
           (the reference LAST/<histo> file): the count of the bin holding v, the in-range
           count less the listed bins, the lower edge of the bin where the CDF reaches p %.
           Bit-rate histograms are compared within the truncation of their printed rates.

`cur_row` of every archive differs by design: librrd starts each archive at a random row
(rrd_create's rrd_select_initial_row), in Tstat's run as in ours; it is reported apart and
does not count as a difference. Exit status 0 (a report, not a gate).

Environment: CONFORMANCE (default ../shared/conformance next to the checkout), TSTAT_DPDK
(binary; default $CARGO_TARGET_DIR or target, release then debug).
"""

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONF = os.environ.get("CONFORMANCE", os.path.join(ROOT, "..", "shared", "conformance"))


def find_binary():
    if os.environ.get("TSTAT_DPDK"):
        return os.environ["TSTAT_DPDK"]
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    for profile in ("release", "debug"):
        p = os.path.join(target, profile, "tstat-dpdk")
        if os.access(p, os.X_OK):
            return p
    sys.exit("tstat-dpdk not built (set TSTAT_DPDK or CARGO_TARGET_DIR)")


def rrdtool(*args, cwd=None):
    return subprocess.run(
        ["rrdtool", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout


def parse_info(text):
    """`rrdtool info` as {key: value text}."""
    out = {}
    for line in text.splitlines():
        if " = " in line:
            k, v = line.split(" = ", 1)
            out[k.strip()] = v.strip()
    return out


def parse_fetch(text):
    """`rrdtool fetch` as (header, [(time, [values])])."""
    lines = text.splitlines()
    head = lines[0].split() if lines else []
    rows = []
    for line in lines[1:]:
        if ":" not in line:
            continue
        t, vals = line.split(":", 1)
        rows.append((int(t), [float(v) if "nan" not in v.lower() else math.nan for v in vals.split()]))
    return head, rows


def same_number(a, b):
    if math.isnan(a) and math.isnan(b):
        return True
    return a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b))


def same_value(a, b):
    """Two info values: numbers compared as numbers (NaN equal), the rest as text."""
    if a == b:
        return True
    try:
        return same_number(float(a.strip('"')), float(b.strip('"')))
    except ValueError:
        return False


def read_histo(path):
    """(min, bin_size, max, {label: value}) of a Tstat histogram file."""
    lo = bs = hi = None
    bins = {}
    with open(path) as f:
        for line in f:
            if line.startswith("#RANGE:"):
                kv = dict(p.split("=") for p in line[len("#RANGE:"):].split())
                lo, bs, hi = int(kv["min"]), int(kv["bin_size"]), int(kv["max"])
            elif not line.startswith("#") and line.strip():
                label, value = line.split()
                bins[int(label)] = int(value)
    return lo, bs, hi, bins


def c_div(a, b):
    """C's integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def positions(histo):
    """Tstat's frozen array of a histogram file, as a function of the position: bin 0 below
    min, 1..cols in range, cols + 1 at or above max, cols + 2 the in-range count."""
    lo, bs, hi, bins = histo
    cols = (hi - lo) // bs

    def at(pos):
        if pos == cols + 2:
            return sum(v for l, v in bins.items() if lo <= l < hi)
        if 0 <= pos <= cols + 1:
            return bins.get(lo + (pos - 1) * bs, 0)
        return 0

    return at


def expected_values(name, stats, histo, bitrate):
    """{stat: (value, tolerance)} for the idx/idxoth/prc statistics of histogram `name`."""
    lo, bs, hi, bins = histo
    cols = (hi - lo) // bs
    at = positions(histo)
    count = at(cols + 2)
    # Bit rates: Tstat's count bin is the truncated sum of untruncated rates, the printed rates
    # are truncated one by one: the sum may be larger by less than one per class.
    tol_count = cols + 2 if bitrate else 0
    out = {}
    for s in stats:
        if s.startswith("prc"):
            p = float(s[3:])
            target = p * count / 100.0
            cdf = 0.0
            found = None
            for j in range(0, cols + 1):
                cdf += bins.get(lo + (j - 1) * bs, 0)
                if cdf >= target:
                    found = lo + (j - 1) * bs
                    break
            if found is not None:
                out[s] = (float(found), bs * 1.0 if bitrate else 0.0)
    rest = count
    for s in stats:
        if s.startswith("idx") and s != "idxoth":
            v = int(s[3:])
            pos = c_div(v - lo, bs) + 1
            c = at(pos)
            out[s] = (float(c), float(tol_count) if pos == cols + 2 else 0.0)
            rest -= c
    if "idxoth" in stats:
        out["idxoth"] = (float(rest), float(tol_count))
    return out


def run_trace(binary, trace, workers, keep, verbose):
    ref = os.path.join(CONF, "histograms", trace)
    pcap = os.path.join(CONF, "traces", trace + ".pcap")
    conf = os.path.join(CONF, "conf")
    work = tempfile.mkdtemp(prefix="rrd-compare-")
    try:
        cmd = [
            binary, "analyze", "--quiet", "--workers", str(workers),
            "-T", os.path.join(conf, "runtime-all.conf"),
            "-H", os.path.join(conf, "histo-all.conf"),
            "-R", os.path.join(conf, "rrd.conf"),
            "-r", "rrd", "-s", "out", pcap,
        ]
        env = dict(os.environ, TZ="UTC")
        r = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
        if r.returncode != 0:
            print(f"{trace}: analyze failed ({r.returncode}): {r.stderr.strip()}")
            return None
        rrd = os.path.join(work, "rrd")
        t = {"names": [0, 0, 0], "info": [0, 0, 0], "fetch": [0, 0, 0], "derived": [0, 0, 0]}
        t["cur_row"] = 0
        # names
        with open(os.path.join(ref, "rrd-files.txt")) as f:
            want = set(l.strip() for l in f if l.strip())
        have = set(os.listdir(rrd))
        t["names"] = [len(want & have), len(want - have), len(have - want)]
        for n in sorted(want - have):
            print(f"{trace}: missing {n}")
        for n in sorted(have - want):
            print(f"{trace}: extra {n}")
        # info and fetch of the reference files
        infos = sorted(f[:-5] for f in os.listdir(os.path.join(ref, "rrd-info")) if f.endswith(".info"))
        for base in infos:
            rinfo = parse_info(open(os.path.join(ref, "rrd-info", base + ".info")).read())
            path = os.path.join(rrd, base + ".rrd")
            if not os.path.exists(path):
                t["info"][2] += len(rinfo)
                t["fetch"][2] += 1
                print(f"{trace}: {base}.rrd: missing")
                continue
            oinfo = parse_info(rrdtool("info", "rrd/" + base + ".rrd", cwd=work))
            for k, v in rinfo.items():
                if k.endswith(".cur_row"):
                    t["cur_row"] += 1
                    continue
                if k not in oinfo:
                    t["info"][2] += 1
                    print(f"{trace}: {base}.rrd: info {k} missing (Tstat: {v})")
                elif same_value(v, oinfo[k]):
                    t["info"][0] += 1
                else:
                    t["info"][1] += 1
                    print(f"{trace}: {base}.rrd: info {k}: Tstat {v}, ours {oinfo[k]}")
            last = int(rinfo["last_update"])
            rhead, rrows = parse_fetch(open(os.path.join(ref, "rrd-info", base + ".fetch")).read())
            ohead, orows = parse_fetch(
                rrdtool("fetch", "rrd/" + base + ".rrd", "AVERAGE", "-r", "300",
                        "-s", str(last - 3600), "-e", str(last), cwd=work))
            ok = rhead == ohead and len(rrows) == len(orows) and all(
                rt == ot and len(rv) == len(ov) and all(same_number(a, b) for a, b in zip(rv, ov))
                for (rt, rv), (ot, ov) in zip(rrows, orows))
            t["fetch"][0 if ok else 1] += 1
            if not ok:
                print(f"{trace}: {base}.rrd: fetch differs")
                if verbose:
                    print("  Tstat:", rrows, "\n  ours: ", orows)
        # idx/idxoth/prc against Tstat's LAST histograms
        date = [d for d in os.listdir(ref) if d.endswith(".out")][0]
        last_dir = os.path.join(ref, date, "LAST")
        by_histo = {}
        for n in sorted(have):
            # Histogram names have no dot; statistics may (prc99.900).
            histo, stat = n[:-len(".rrd")].split(".", 1)
            by_histo.setdefault(histo, []).append(stat)
        for histo, stats in sorted(by_histo.items()):
            wanted = [s for s in stats if s.startswith("idx") or s.startswith("prc")]
            if not wanted:
                continue
            hfile = os.path.join(last_dir, histo)
            if not os.path.exists(hfile):
                t["derived"][2] += len(wanted)
                continue
            bitrate = "_bitrate_" in histo or histo.startswith("video_rate_")
            exp = expected_values(histo, stats, read_histo(hfile), bitrate)
            for s in wanted:
                name = f"{histo}.{s}.rrd"
                if s not in exp:
                    t["derived"][2] += 1
                    continue
                info = parse_info(rrdtool("info", "rrd/" + name, cwd=work))
                key = f"ds[{histo}].last_ds"
                ours = float(info.get(key, "nan").strip('"'))
                want_v, tol = exp[s]
                if abs(ours - want_v) <= tol:
                    t["derived"][0] += 1
                else:
                    t["derived"][1] += 1
                    print(f"{trace}: {name}: last value {ours}, from Tstat's LAST/{histo} {want_v}")
        if keep:
            dest = os.path.join(keep, trace)
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(work, dest)
        return t
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-v", action="store_true", help="show differing fetch rows")
    ap.add_argument("--bin", help="tstat-dpdk binary")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--keep", help="copy each run's scratch directory here")
    ap.add_argument("traces", nargs="*")
    a = ap.parse_args()
    if shutil.which("rrdtool") is None:
        sys.exit("rrd-compare: the rrdtool command is missing (Debian: apt-get install rrdtool)")
    binary = a.bin or find_binary()
    traces = a.traces or sorted(
        d for d in os.listdir(os.path.join(CONF, "histograms"))
        if os.path.exists(os.path.join(CONF, "histograms", d, "rrd-files.txt")))
    total = {}
    for trace in traces:
        t = run_trace(binary, trace, a.workers, a.keep, a.v)
        if t is None:
            continue
        n, i, f, d = t["names"], t["info"], t["fetch"], t["derived"]
        print(f"{trace}: names {n[0]} identical, {n[1]} missing, {n[2]} extra; "
              f"info fields {i[0]} identical, {i[1]} differ, {i[2]} missing "
              f"(+{t['cur_row']} cur_row, random by design); "
              f"fetch {f[0]} identical, {f[1]} differ, {f[2]} missing; "
              f"derived values {d[0]} identical, {d[1]} differ, {d[2]} not comparable")
        for k in ("names", "info", "fetch", "derived"):
            total.setdefault(k, [0, 0, 0])
            total[k] = [x + y for x, y in zip(total[k], t[k])]
    if total:
        labels = {
            "names": ("identical", "missing", "extra"),
            "info": ("identical", "differ", "missing"),
            "fetch": ("identical", "differ", "missing"),
            "derived": ("identical", "differ", "not comparable"),
        }
        print("total: " + "; ".join(
            f"{k} " + ", ".join(f"{x} {lab}" for x, lab in zip(v, labels[k]))
            for k, v in total.items()))


if __name__ == "__main__":
    main()
