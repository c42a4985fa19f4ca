#!/usr/bin/env bash
# Throughput of the cross-process record ring (engine::ring), one producer/consumer pair.
#
#   perf/ring-bench.sh [-- ring_bench options]
#
# Builds engine/examples/ring_bench.rs in release and runs it: a producer thread pushes records
# of 1200 B (a serialised TCP record) and 300 B (a DNS message) into a ring file in /dev/shm, a
# consumer thread reads them in batches and releases each batch. "lossless" runs wait for room
# (the highest rate the pair sustains); "paced" runs offer RING_RATE records/s for RING_PACED_SECS
# and drop when full, as live capture does: read the share dropped. Prints the machine first; the others figure is the CPU time other
# processes used during the benchmark, in cores (see perf/README.md, "Timing hygiene").
#
# Environment: RING_RECORDS (default 5000000 per run), RING_CAPACITIES (data bytes, one run of
# the whole table each, default "4194304 67108864"),
# RING_BATCH (records per read/release, default 64), RING_RATE (paced runs, records/s, default
# 1000000), RING_PACED_SECS (default 2), RUNS (lossless: best of; paced: worst of; default 3).
# No inputs needed; takes about a minute per capacity.
set -euo pipefail

# shellcheck source=perf/common.sh source-path=SCRIPTDIR/..
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

RING_RECORDS="${RING_RECORDS:-5000000}"
RING_CAPACITIES="${RING_CAPACITIES:-4194304 67108864}"
RING_BATCH="${RING_BATCH:-64}"
RING_RATE="${RING_RATE:-1000000}"
RING_PACED_SECS="${RING_PACED_SECS:-2}"
RUNS="${RUNS:-3}"
[[ "${1:-}" == "--" ]] && shift

need_cmd /usr/bin/time time
mkdir -p "$OUT_DIR"

echo "== building engine/examples/ring_bench.rs (cargo build --release --example ring_bench)"
(cd "$REPO_ROOT" && cargo build --release --quiet -p engine --example ring_bench)
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
RING_BIN="$TARGET_DIR/release/examples/ring_bench"
[[ -x "$RING_BIN" ]] || { echo "$(basename "$0"): $(rel "$RING_BIN") not built" >&2; exit 1; }

machine_info
echo "== ring benchmark"
TIMES="$OUT_DIR/ring-bench.time"
: > "$TIMES"
busy0=$(busy_ticks)
t0=$(date +%s.%N)
for capacity in $RING_CAPACITIES; do
    /usr/bin/time -a -o "$TIMES" -f '%U %S' "$RING_BIN" --records "$RING_RECORDS" \
        --capacity "$capacity" --batch "$RING_BATCH" --runs "$RUNS" --rate "$RING_RATE" \
        --paced-secs "$RING_PACED_SECS" "$@"
done
t1=$(date +%s.%N)
busy1=$(busy_ticks)
# The benchmark's own CPU time (both threads spin, so about 2 cores while it runs) is taken out
# of the machine's busy time; what is left was used by other processes.
awk -v b0="$busy0" -v b1="$busy1" -v t0="$t0" -v t1="$t1" -v hz="$HZ" '
    { own += $1 + $2 }
    END {
        others = ((b1 - b0) / hz - own) / (t1 - t0)
        printf "own:     %.1f s CPU in %.1f s\n", own, t1 - t0
        printf "others:  %.2f cores busy with other processes during the benchmark%s\n", others,
            (others > 0.2 ? "  (WARNING: disturbed; rerun on a quiet machine)" : "")
    }' "$TIMES"
