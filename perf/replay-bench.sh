#!/usr/bin/env bash
# In-box zero-loss benchmark of the whole appliance (`tstat-dpdk start`): the benchmark trace
# is replayed through the in-process ring NIC (DPDK net_ring, software symmetric RSS) at a
# fixed packet rate, dropping as a NIC does when a core's queue is full (--replay-lossy: the
# drops are the port's imissed); the record rings and the control-plane process run as in
# production. A bisection finds the highest rate with no drop at all: NIC queues, records,
# DN-Hunter entries. Needs DPDK (default build); no NIC, no hugepages, no root.
#
#   perf/replay-bench.sh [WORKERS] [MIN_PPS MAX_PPS]     (defaults: 1, 100000, 8000000)
#
# Cores: EAL gets WORKERS+1 lcores mapped onto the CPUs there are; the replay thread and the
# control-plane process share them. On a machine with fewer than WORKERS+3 CPUs the number
# measures contention as much as the engine: say so when you report it.
set -euo pipefail
# shellcheck source=perf/common.sh source-path=SCRIPTDIR/..
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
workers="${1:-1}"
lo="${2:-100000}"
hi="${3:-8000000}"
require_traces
build_release
mkdir -p "$OUT_DIR"
trace="$OUT_DIR/bench-3000000-gap1.pcap"
make_real_trace 3000000 "$trace" 1
machine_info
cpus=$(nproc)
lcores=$(for ((l = 0; l <= workers; l++)); do printf '%s%d@%d' "$([[ $l -gt 0 ]] && echo ,)" "$l" "$((l % cpus))"; done)
scratch="$OUT_DIR/replay-bench"

# run PPS: prints "received missed records_dropped dns_dropped elapsed"
run() {
    rm -rf "$scratch"
    mkdir -p "$scratch"
    local out
    out=$(TZ=UTC "$BIN" start -c "$REPO_ROOT/conf/tstat-dpdk.toml" \
        --eal="--lcores=$lcores --no-huge --no-shconf --no-pci -m 2048 --file-prefix=replay-bench-$$ --log-level=lib.eal:error" \
        --workers "$workers" --idle busy -s "$scratch/out" --socket "$scratch/ctl.sock" \
        --run-dir "$scratch/run" --metrics off \
        --replay "$trace" --replay-lossy --replay-pps "$1" 2>&1) || { echo "$out" >&2; exit 1; }
    local received missed rec dns elapsed
    received=$(sed -nE 's/^packets: ([0-9]+) received.*/\1/p' <<<"$out")
    missed=$(sed -nE 's/.*"imissed":([0-9]+).*/\1/p' <<<"$out" | paste -sd+ | bc)
    rec=$(sed -nE 's/^drops: ([0-9]+) records.*/\1/p' <<<"$out")
    dns=$(sed -nE 's/^drops: [0-9]+ records \(ring full\), ([0-9]+) DN-Hunter.*/\1/p' <<<"$out")
    elapsed=$(sed -nE 's/^elapsed: ([0-9.]+) s.*/\1/p' <<<"$out")
    echo "$received $missed $rec $dns $elapsed"
}

echo "== zero-loss bisection, $workers worker(s), lcores $lcores"
printf '%12s %10s %10s %8s %8s %8s\n' pps received imissed rec_drop dns_drop elapsed
best=0
while (( hi - lo > lo / 20 )); do
    mid=$(( (lo + hi) / 2 ))
    read -r received missed rec dns elapsed < <(run "$mid")
    printf '%12d %10d %10d %8d %8d %8s\n' "$mid" "$received" "$missed" "$rec" "$dns" "$elapsed"
    if (( missed == 0 && rec == 0 && dns == 0 )); then
        best=$mid
        lo=$mid
    else
        hi=$mid
    fi
done
echo "zero-loss rate: $best packets/s ($workers worker(s), $(nproc) CPUs)"
rm -rf "$scratch"
