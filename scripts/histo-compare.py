#!/usr/bin/env python3
"""Compares the histograms of `tstat-dpdk analyze -H` with Tstat's own, file by file.

    scripts/histo-compare.py [-v] [--bin PATH] [--workers N] [--keep DIR] [TRACE...]

For every conformance trace with reference histograms (../shared/conformance/histograms/<trace>/,
written by Tstat 3.3 with -T conf/runtime-all.conf -H conf/histo-all.conf), runs

    tstat-dpdk analyze -T runtime-all.conf -H histo-all.conf -s OUT traces/<trace>.pcap

(with TZ=UTC, as the references were made) and compares every file of every interval directory
(000/, 001/, ..., LAST/): identical, differs (bins only in Tstat's, only in ours, different
counts; -v lists them), or missing. Prints one line per file that is not identical, then the
totals per trace and overall. Exit status 0 (the comparison is a report, not a gate).

Environment: CONFORMANCE (default ../shared/conformance next to the checkout), TSTAT_DPDK
(binary; default $CARGO_TARGET_DIR or target, release then debug).
"""

import argparse
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


def read(path):
    """(header lines, {label: value}) of a histogram file, or raw lines for addresses."""
    with open(path) as f:
        lines = f.read().splitlines()
    head = [l for l in lines if l.startswith("#")]
    body = [l for l in lines if not l.startswith("#") and l.strip()]
    return head, body


def diff_body(name, ref, ours):
    """A short description of how two bodies differ."""
    if name == "addresses" or name.startswith("addresses"):
        r = {l.split("\t")[0]: l for l in ref}
        o = {l.split("\t")[0]: l for l in ours}
    else:
        r = dict(l.split(" ", 1) for l in ref)
        o = dict(l.split(" ", 1) for l in ours)
    only_r = [k for k in r if k not in o]
    only_o = [k for k in o if k not in r]
    changed = [k for k in r if k in o and r[k] != o[k]]
    parts = []
    if only_r:
        parts.append("%d bins only in Tstat's (e.g. %s)" % (len(only_r), ", ".join("%s %s" % (k, r[k]) for k in only_r[:3])))
    if only_o:
        parts.append("%d bins only in ours (e.g. %s)" % (len(only_o), ", ".join("%s %s" % (k, o[k]) for k in only_o[:3])))
    if changed:
        parts.append("%d bins with other values (e.g. %s)" % (len(changed), ", ".join("%s: %s vs %s" % (k, r[k].strip(), o[k].strip()) for k in changed[:3])))
    if not parts and ref != ours:
        parts.append("same bins, other order")
    return "; ".join(parts)


def compare_trace(binary, trace, args):
    ref_root = os.path.join(CONF, "histograms", trace)
    outs = [d for d in os.listdir(ref_root) if d.endswith(".out")]
    if len(outs) != 1:
        print("%s: no reference directory" % trace)
        return None
    ref_out = os.path.join(ref_root, outs[0])
    work = args.keep or tempfile.mkdtemp(prefix="histo-compare-")
    out_root = os.path.join(work, trace)
    shutil.rmtree(out_root, ignore_errors=True)
    os.makedirs(out_root)
    cmd = [binary, "analyze", "--quiet", "-T", os.path.join(CONF, "conf", "runtime-all.conf"),
           "-H", os.path.join(CONF, "conf", "histo-all.conf"), "-s", out_root]
    if args.workers:
        cmd += ["--workers", str(args.workers)]
    cmd.append(os.path.join(CONF, "traces", trace + ".pcap"))
    env = dict(os.environ, TZ="UTC")
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        print("%s: analyze failed (%d): %s" % (trace, r.returncode, r.stderr.strip()))
        return None
    our_out = os.path.join(out_root, outs[0])
    totals = {"identical": 0, "differs": 0, "missing": 0, "files": 0}
    for interval in sorted(os.listdir(ref_out)):
        rdir = os.path.join(ref_out, interval)
        if not os.path.isdir(rdir):
            continue
        odir = os.path.join(our_out, interval)
        for name in sorted(os.listdir(rdir)):
            totals["files"] += 1
            rpath, opath = os.path.join(rdir, name), os.path.join(odir, name)
            if not os.path.exists(opath):
                totals["missing"] += 1
                print("  %s %s/%s: missing" % (trace, interval, name))
                continue
            rh, rb = read(rpath)
            oh, ob = read(opath)
            if rh == oh and rb == ob:
                totals["identical"] += 1
                continue
            totals["differs"] += 1
            what = diff_body(name, rb, ob)
            if rh != oh:
                what = ("header differs; " + what).rstrip("; ")
            print("  %s %s/%s: differs: %s" % (trace, interval, name, what))
            if args.verbose:
                print("    tstat: %s" % " | ".join(rb[:12]))
                print("    ours:  %s" % " | ".join(ob[:12]))
        extra = sorted(set(os.listdir(odir)) - set(os.listdir(rdir))) if os.path.isdir(odir) else []
        if extra:
            print("  %s %s: %d files only in ours: %s" % (trace, interval, len(extra), ", ".join(extra[:5])))
    ours_dirs = sorted(d for d in os.listdir(our_out) if os.path.isdir(os.path.join(our_out, d)))
    ref_dirs = sorted(d for d in os.listdir(ref_out) if os.path.isdir(os.path.join(ref_out, d)))
    if ours_dirs != ref_dirs:
        print("  %s: interval directories differ: Tstat %s, ours %s" % (trace, ref_dirs, ours_dirs))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print("%-24s %4d files: %4d identical, %3d differ, %3d missing" % (
        trace, totals["files"], totals["identical"], totals["differs"], totals["missing"]))
    return totals


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-v", "--verbose", action="store_true", help="print the bins of differing files")
    ap.add_argument("--bin", help="tstat-dpdk binary")
    ap.add_argument("--workers", type=int, help="worker threads (default: analyze's)")
    ap.add_argument("--keep", help="write the outputs below this directory and keep them")
    ap.add_argument("traces", nargs="*")
    args = ap.parse_args()
    binary = args.bin or find_binary()
    hroot = os.path.join(CONF, "histograms")
    if not os.path.isdir(hroot):
        print("SKIPPED: no reference histograms at %s" % hroot)
        return 0
    traces = args.traces or sorted(d for d in os.listdir(hroot) if os.path.isdir(os.path.join(hroot, d)))
    grand = {"identical": 0, "differs": 0, "missing": 0, "files": 0}
    for t in traces:
        r = compare_trace(binary, t, args)
        if r:
            for k in grand:
                grand[k] += r[k]
    print("%-24s %4d files: %4d identical, %3d differ, %3d missing" % (
        "total", grand["files"], grand["identical"], grand["differs"], grand["missing"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
