#!/usr/bin/env bash
# Instructions per packet of `tstat-dpdk analyze --workers 1`, measured with callgrind.
#
#   perf/callgrind.sh
#
# Builds the release binary (debug line tables are on in the release profile), builds (or
# reuses) perf/out/callgrind-<packets>.pcap from the conformance traces the same way as
# perf/bench.sh (CG_PACKETS, default 200000), runs
#   valgrind --tool=callgrind --separate-threads=yes tstat-dpdk analyze --workers 1 \
#       --format-threads 1 --quiet ...
# (one writer thread formats every row, so its Ir per record compare with earlier profiles)
# and reports the instructions (Ir) of the whole process and of each thread (main = reader,
# worker-0, writer) per packet, then the worker thread's top functions.
# Profiles are left in perf/out/callgrind/ (CG_DIR) for callgrind_annotate / kcachegrind.
# CG_ARGS adds arguments to analyze (e.g. CG_ARGS=-L: no logs, so the writer thread idles);
# TSTAT_BIN measures another build (see common.sh), CG_DIR keeps its profiles apart.
# Without the conformance traces it says so and exits 0.
set -euo pipefail

# shellcheck source=perf/common.sh source-path=SCRIPTDIR/..
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

CG_PACKETS="${CG_PACKETS:-200000}"
TOP="${TOP:-15}"
CG_ARGS="${CG_ARGS:-}"

require_traces
need_cmd valgrind valgrind
need_cmd callgrind_annotate valgrind
mkdir -p "$OUT_DIR"
build_release
TRACE="$OUT_DIR/callgrind-$CG_PACKETS.pcap"
make_real_trace "$CG_PACKETS" "$TRACE"
machine_info
echo "valgrind: $(valgrind --version)"

CG="$(realpath -m "${CG_DIR:-$OUT_DIR/callgrind}")"
rm -rf "$CG"
mkdir -p "$CG"
# shellcheck disable=SC2086  # CG_ARGS is a list of arguments
echo "== valgrind --tool=callgrind --separate-threads=yes $(rel "$BIN") analyze --workers 1 --format-threads 1 --quiet $CG_ARGS -s $(rel "$CG/logs") $(rel "$TRACE")"
# shellcheck disable=SC2086
valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$CG/callgrind.out.%p" \
    "$BIN" analyze --workers 1 --format-threads 1 --quiet $CG_ARGS -s "$CG/logs" "$TRACE" \
    >"$CG/summary.txt" 2>"$CG/valgrind.txt"
sed 's/^/  /' "$CG/summary.txt"
rm -rf "$CG/logs"
total=$(sed -n 's/.*Collected : *\([0-9]*\).*/\1/p' "$CG/valgrind.txt" | tail -1)

python3 - "$CG" "$total" "$TOP" <<'EOF'
import glob, os, re, subprocess, sys

cg, total, top = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
summary = open(os.path.join(cg, "summary.txt")).read()
packets = int(re.search(r"^packets: (\d+) read", summary, re.M).group(1))
m = re.search(r"^flows: TCP (\d+) .*UDP (\d+) \((\d+) logged\)", summary, re.M)
records = int(m.group(1)) + int(m.group(3))

LINE = re.compile(r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*?)(?: \[[^\]]*\])?$")

def annotate(path):
    """[(Ir, 'file:function')] of one profile, self cost, as callgrind_annotate prints it."""
    out = subprocess.run(["callgrind_annotate", "--threshold=100", "--auto=no", path],
                         capture_output=True, text=True, check=True, cwd="/").stdout
    rows = []
    for line in out.splitlines():
        mm = LINE.match(line)
        if mm and "PROGRAM TOTALS" not in line:
            rows.append((int(mm.group(1).replace(",", "")), mm.group(2)))
    return rows

def totals(path):
    for line in open(path, errors="replace"):
        if line.startswith(("totals:", "summary:")):
            return int(line.split()[1])
    return 0

def short(loc):
    f, _, fn = loc.partition(":")
    reg = re.search(r"registry/src/[^/]+/(.*)", f)
    if reg:
        return reg.group(1) + ":" + fn
    for marker in ("/engine/src/", "/control/src/", "/library/", "/src/", "/sysdeps/"):
        i = f.find(marker)
        if i >= 0:
            f = f[i + 1:]
            break
    return f + ":" + fn

files = sorted(glob.glob(os.path.join(cg, "callgrind.out.*-*")), key=lambda p: int(p.rsplit("-", 1)[1]))
threads = []
for p in files:
    rows = annotate(p)
    eng = sum(ir for ir, loc in rows if re.search(r"(^|/)engine/src/(tcp/|flow\.rs|worker\.rs|udp\.rs)", loc))
    src = sum(ir for ir, loc in rows if re.search(r"(^|/)engine/src/source/", loc))
    fmt = sum(ir for ir, loc in rows if re.search(r"(^|/)control/src/logs/|core/src/fmt/", loc))
    threads.append({"path": p, "ir": totals(p), "rows": rows, "eng": eng, "src": src, "fmt": fmt})
if not threads:
    sys.exit("no per-thread profiles found in " + cg)
worker = max(threads, key=lambda t: t["eng"])
for t in threads:
    n = int(t["path"].rsplit("-", 1)[1])
    if t is worker:
        t["role"] = "worker-0 (decode, flow table, TCP/UDP model)"
    elif n == 1:
        t["role"] = "main (trace reader, dispatch)"
    elif t["fmt"] > t["src"]:
        t["role"] = "writer (log formatting and output)"
    else:
        t["role"] = "other"

print("== instructions (Ir) per packet: %d packets, %d flow records" % (packets, records))
print("%-56s %15s %12s" % ("", "Ir", "Ir/packet"))
print("%-56s %15s %12.0f" % ("whole process", format(total, ","), total / packets))
for t in threads:
    name = "thread %s: %s" % (t["path"].rsplit("-", 1)[1], t["role"])
    extra = ""
    if t["role"].startswith("writer") and records:
        extra = "   (%.0f Ir per flow record)" % (t["ir"] / records)
    print("%-56s %15s %12.0f%s" % (name, format(t["ir"], ","), t["ir"] / packets, extra))

w = worker
print()
print("== worker thread (%s): top %d by self Ir (callgrind_annotate file:function; inlined code is" % (os.path.basename(w["path"]), top))
print("   listed under the source file it came from and the function it was inlined into)")
print("%14s %6s %9s  %s" % ("Ir", "%", "Ir/pkt", "file:function"))
for ir, loc in sorted(w["rows"], reverse=True)[:top]:
    print("%14s %5.1f%% %9.1f  %s" % (format(ir, ","), 100.0 * ir / w["ir"], ir / packets, short(loc)))

by_file = {}
for ir, loc in w["rows"]:
    by_file[short(loc).partition(":")[0]] = by_file.get(short(loc).partition(":")[0], 0) + ir
print()
print("== worker thread: self Ir by source file (top %d)" % top)
for f, ir in sorted(by_file.items(), key=lambda kv: -kv[1])[:top]:
    print("%14s %5.1f%% %9.1f  %s" % (format(ir, ","), 100.0 * ir / w["ir"], ir / packets, f))
EOF
echo
echo "profiles: $(rel "$CG")/callgrind.out.* (e.g. callgrind_annotate --inclusive=yes FILE)"
