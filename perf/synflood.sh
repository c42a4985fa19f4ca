#!/usr/bin/env bash
# Memory and time of `tstat-dpdk analyze` under a SYN flood of distinct half-open flows.
#
#   perf/synflood.sh
#
# Generates (or reuses) two traces with perf/gen/synflood.py, each SF_MILLIONS (default 5)
# million pure SYNs from distinct source addresses:
#   perf/out/synflood-<M>M-1us.pcap   1 µs apart:  5 M SYNs in 5 s of packet time. Nothing reaches
#       the 10 s singleton timeout, so the per-worker bound (EngineConfig::max_tcp_flows = 2^20)
#       must evict: expect about 5 M - workers * 2^20 evictions.
#   perf/out/synflood-<M>M-20us.pcap  20 µs apart: 100 s of packet time. The singleton timeout
#       reclaims each flow 10 s after its SYN, so at most ~500 k flows are live: expect 0
#       evictions and a smaller peak.
# and runs `analyze --quiet -s perf/out/synflood-logs --workers N` under /usr/bin/time -v for
# N in SF_WORKERS (default "1 <nproc>"), plus one run with -L (no logs written) on the 1 µs trace
# with 1 worker, to separate the engine from the log writer. For each run it reports the summary
# lines, wall/user/system time, the maximum resident set size (time -v; this includes the pages
# of the memory-mapped trace that were touched) and the peak anonymous memory (RssAnon, sampled
# from /proc every 0.1 s). The logs (about 1 GB per run) are deleted after each run.
# Needs no conformance trace.
set -euo pipefail

# shellcheck source=perf/common.sh source-path=SCRIPTDIR/..
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

SF_MILLIONS="${SF_MILLIONS:-5}"
SF_WORKERS="${SF_WORKERS:-1 $(nproc)}"

need_cmd /usr/bin/time time
mkdir -p "$OUT_DIR"
build_release
machine_info

declare -A TRACE
for sp in 1 20; do
    TRACE[$sp]="$OUT_DIR/synflood-${SF_MILLIONS}M-${sp}us.pcap"
    if [[ -s "${TRACE[$sp]}" && "${TRACE[$sp]}" -nt "$PERF_DIR/gen/synflood.py" ]]; then
        echo "== reusing $(rel "${TRACE[$sp]}")"
    else
        echo "== generating $(rel "${TRACE[$sp]}")"
        python3 "$PERF_DIR/gen/synflood.py" --millions "$SF_MILLIONS" --spacing-us "$sp" --out "${TRACE[$sp]}"
    fi
done

LOGS="$OUT_DIR/synflood-logs"
RESULTS="$OUT_DIR/synflood-results.txt"
: >"$RESULTS"

# The process whose parent is $1 (the analyzer under /usr/bin/time), from /proc/PID/stat.
child_of() {
    local f line rest
    for f in /proc/[0-9]*/stat; do
        { read -r line <"$f"; } 2>/dev/null || continue
        rest="${line##*) }" # after "pid (comm) ": state ppid ...
        rest="${rest#* }"
        if [[ "${rest%% *}" == "$1" ]]; then
            echo "${line%% *}"
            return 0
        fi
    done
}

# run SPACING WORKERS [extra analyze options...]
run() {
    local sp="$1" w="$2"
    shift 2
    local trace="${TRACE[$sp]}" tfile="$OUT_DIR/synflood-time.txt" sfile="$OUT_DIR/synflood-summary.txt"
    rm -rf "$LOGS"
    cat "$trace" >/dev/null # page cache
    echo
    echo "== ${sp} µs apart, $w worker(s)${1:+, options $*}: analyze --quiet -s $(rel "$LOGS") --workers $w ${*:+$* }$(rel "$trace")"
    local b0 b1
    b0=$(busy_ticks)
    /usr/bin/time -v -o "$tfile" "$BIN" analyze --quiet -s "$LOGS" --workers "$w" "$@" "$trace" >"$sfile" &
    local tpid=$! cpid="" peak_anon=0 peak_rss=0 k v
    while kill -0 "$tpid" 2>/dev/null; do
        if [[ -z "$cpid" ]]; then
            cpid=$(child_of "$tpid")
        fi
        if [[ -n "$cpid" && -r "/proc/$cpid/status" ]]; then
            # Builtins only: the sampler must not steal CPU from the run.
            while read -r k v _; do
                case "$k" in
                    RssAnon:) ((v > peak_anon)) && peak_anon=$v ;;
                    VmRSS:) ((v > peak_rss)) && peak_rss=$v ;;
                esac
            done 2>/dev/null <"/proc/$cpid/status" || true
        fi
        sleep 0.1
    done
    wait "$tpid"
    b1=$(busy_ticks)
    local logsize
    logsize=$(du -sb "$LOGS" 2>/dev/null | cut -f1 || echo 0)
    rm -rf "$LOGS"
    grep -E '^(packets|flows|drops|elapsed):' "$sfile" | sed 's/, output .*//; s/^/  /'
    local maxrss wall user sys
    maxrss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tfile")
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$tfile")
    user=$(awk -F': ' '/User time/ {print $2}' "$tfile")
    sys=$(awk -F': ' '/System time/ {print $2}' "$tfile")
    local secs others
    secs=$(sed -n 's/^elapsed: \([0-9.]*\) s.*/\1/p' "$sfile")
    others=$(awk -v b="$((b1 - b0))" -v hz="$HZ" -v u="$user" -v s="$sys" -v t="$secs" \
        'BEGIN { o = (b / hz - u - s) / t; if (o < 0) o = 0; printf "%.2f", o }')
    echo "  time -v: wall $wall, user $user s, system $sys s, maximum resident set size $((maxrss / 1024)) MiB; others: $others cores"
    echo "  sampled: peak RssAnon $((peak_anon / 1024)) MiB (heap and stacks, without the mapped trace), peak VmRSS $((peak_rss / 1024)) MiB; logs written: $((logsize / 1048576)) MiB"
    local evicted mpps
    evicted=$(sed -n 's/.* \([0-9]*\) evicted$/\1/p' "$sfile")
    mpps=$(sed -n 's/^elapsed: [0-9.]* s, \([0-9.]*\) Mpps.*/\1/p' "$sfile")
    printf '%-6s %-8s %-5s %10s %9s %9s %12s %12s\n' "${sp}us" "$w" "${*:-logs}" "$evicted" "$wall" "$mpps" \
        "$((maxrss / 1024))" "$((peak_anon / 1024))" >>"$RESULTS"
}

for sp in 1 20; do
    for w in $SF_WORKERS; do
        run "$sp" "$w"
    done
done
run 1 1 -L
rm -f "$OUT_DIR/synflood-time.txt" "$OUT_DIR/synflood-summary.txt"

echo
echo "== summary (${SF_MILLIONS} M distinct SYNs; max_tcp_flows = 2^20 per worker; TCP singleton timeout 10 s)"
printf '%-6s %-8s %-5s %10s %9s %9s %12s %12s\n' spacing workers opts evicted wall Mpps "maxRSS MiB" "anon MiB"
cat "$RESULTS"
