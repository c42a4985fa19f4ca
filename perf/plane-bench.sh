#!/usr/bin/env bash
# Records per second the control plane writes (ring reads, decoding, formatting, writing the
# logs, checkpoints), by number of format threads (`control.format_threads`).
#
#   perf/plane-bench.sh [THREADS] [PACKETS]      (defaults: "1,2,4", 1500000)
#
# Builds control/examples/plane_bench.rs: the records of the benchmark trace's first PACKETS
# packets (one engine worker, every log on: tests/runtime-all.conf) are pushed into two record
# rings in /dev/shm exactly as `start`'s workers push them, and the real control plane drains
# them once per thread count (best of RUNS, default 3). The logs must be byte-identical across
# thread counts, or the run fails. Threads beyond the CPUs there are measure contention only.
set -euo pipefail
# shellcheck source=perf/common.sh source-path=SCRIPTDIR/..
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
threads="${1:-1,2,4}"
packets="${2:-1500000}"
require_traces
build_release
mkdir -p "$OUT_DIR"
trace="$OUT_DIR/bench-3000000-gap1.pcap"
make_real_trace 3000000 "$trace" 1
echo "== building control/examples/plane_bench.rs"
(cd "$REPO_ROOT" && cargo build --release --quiet -p control --example plane_bench)
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
machine_info
echo "== control plane, every log on, $packets packets of $(rel "$trace")"
"$TARGET_DIR/release/examples/plane_bench" --trace "$trace" --packets "$packets" \
    -T "$REPO_ROOT/tests/runtime-all.conf" --rings 2 --threads "$threads" --runs "${RUNS:-3}"
