#!/usr/bin/env bash
# Throughput benchmark of `tstat-dpdk analyze` on real traffic, 1 worker and all cores.
#
#   perf/bench.sh
#
# Builds the release binary, builds (or reuses) perf/out/bench-<packets>-gap<max gap>.pcap from the
# conformance traces (perf/gen/mktrace.py: the traces concatenated as often as needed for at
# least BENCH_PACKETS packets, addresses rewritten per copy so every copy is made of distinct
# flows), then runs `analyze --quiet -s perf/out/logs --workers N` RUNS times for each N in
# WORKERS and prints the Mpps of every run, the best and the median.
#
# Environment: BENCH_PACKETS (default 3000000), RUNS (default 3), WORKERS (default "1 <nproc>"),
# MAX_GAP (seconds, default 1), CONFORMANCE_TRACES (default ../shared/conformance/traces).
# Without the conformance traces it says so and exits 0.
set -euo pipefail

# shellcheck source=perf/common.sh source-path=SCRIPTDIR/..
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

BENCH_PACKETS="${BENCH_PACKETS:-3000000}"
RUNS="${RUNS:-3}"
WORKERS="${WORKERS:-1 $(nproc)}"
MAX_GAP="${MAX_GAP:-1}"

require_traces
need_cmd /usr/bin/time time
mkdir -p "$OUT_DIR"
build_release
TRACE="$OUT_DIR/bench-$BENCH_PACKETS-gap$MAX_GAP.pcap"
make_real_trace "$BENCH_PACKETS" "$TRACE" "$MAX_GAP"

machine_info
echo "== trace"
echo "path:    $(rel "$TRACE")"
echo "size:    $(stat -c %s "$TRACE") bytes"
echo "source:  $(find "$CONFORMANCE_TRACES" -maxdepth 1 -name '*.pcap' | wc -l) conformance traces in $(rel "$CONFORMANCE_TRACES"), max gap $MAX_GAP s"

# Warm the page cache: the trace is memory-mapped, and the first run must not pay for the disk.
cat "$TRACE" >/dev/null

LOGS="$OUT_DIR/logs"
RESULTS="$OUT_DIR/bench-results.txt"
: >"$RESULTS"
packets=""
shown=""

# Runs are interleaved (1, N, 1, N, ...) so that a change in the machine's load during the
# benchmark hits every worker count alike. "others" is the CPU time that other processes used
# during the run, in cores: anything well above 0 means the run was disturbed.
echo "== runs (analyze --quiet -s $(rel "$LOGS") --workers N $(rel "$TRACE"), interleaved)"
for r in $(seq 1 "$RUNS"); do
    for w in $WORKERS; do
        rm -rf "$LOGS"
        b0=$(busy_ticks)
        summary=$(/usr/bin/time -f 'cpu %U %S' -o "$OUT_DIR/bench-time.txt" \
            "$BIN" analyze --quiet -s "$LOGS" --workers "$w" "$TRACE")
        b1=$(busy_ticks)
        line=$(grep '^elapsed:' <<<"$summary")
        mpps=$(sed -n 's/^elapsed: [0-9.]* s, \([0-9.]*\) Mpps.*/\1/p' <<<"$line")
        secs=$(sed -n 's/^elapsed: \([0-9.]*\) s.*/\1/p' <<<"$line")
        [[ -n "$mpps" ]] || { echo "cannot read Mpps from: $line" >&2; exit 1; }
        [[ -n "$packets" ]] || packets=$(sed -n 's/^packets: \([0-9]*\) read.*/\1/p' <<<"$summary")
        if [[ -z "$shown" ]]; then
            grep -E '^(packets|flows|drops):' <<<"$summary" | sed 's/^/  /'
            shown=1
        fi
        read -r _ u s <"$OUT_DIR/bench-time.txt"
        others=$(awk -v b="$((b1 - b0))" -v hz="$HZ" -v u="$u" -v s="$s" -v t="$secs" \
            'BEGIN { o = (b / hz - u - s) / t; if (o < 0) o = 0; printf "%.2f", o }')
        echo "  run $r, workers $w: ${line%%, output*}; cpu: user $u s, sys $s s; others: $others cores"
        echo "$w $mpps $others" >>"$RESULTS"
    done
done
rm -rf "$LOGS" "$OUT_DIR/bench-time.txt"

echo "== results ($packets packets, $(stat -c %s "$TRACE") bytes; Mpps = packets / wall-clock time of analyze)"
python3 - "$RESULTS" <<'EOF'
import statistics, sys
runs, others = {}, []
for line in open(sys.argv[1]):
    w, mpps, o = line.split()
    runs.setdefault(int(w), []).append(float(mpps))
    others.append(float(o))
base = statistics.median(runs[min(runs)])
print("%-8s %-26s %8s %8s %8s" % ("workers", "Mpps (each run)", "best", "median", "scaling"))
for w in sorted(runs):
    v = runs[w]
    med = statistics.median(v)
    print("%-8d %-26s %8.3f %8.3f %7.2fx" % (w, " ".join("%.3f" % x for x in v), max(v), med, med / base))
if max(others) > 0.2:
    print("WARNING: other processes used up to %.2f cores during a run: the numbers are disturbed" % max(others))
EOF
echo "(scaling: median relative to the median with $(echo "$WORKERS" | awk '{print $1}') worker(s); analyze also runs a reader"
echo " thread and a writer thread besides the workers, which share the same $(nproc) cores)"
