#!/usr/bin/env bash
# In-box zero-loss benchmark of the whole appliance (`tstat-dpdk start`): the benchmark trace
# is replayed through the in-process ring NIC (DPDK net_ring, software symmetric RSS) at a
# fixed packet rate, dropping as a NIC does when a core's queue is full (--replay-lossy: the
# drops are the port's imissed); the record rings and the control-plane process run as in
# production. A bisection finds the highest rate with no drop at all: NIC queues, records,
# DN-Hunter entries, hand-offs between cores. Needs DPDK (default build); no NIC, no
# hugepages, no root.
#
# No packet is copied per replay: one copy of the real traffic (the conformance traces, gaps
# capped at 1 s: 5,566 frames) is pre-built in mbufs once and played in laps (--replay-laps),
# lap k rewriting in place only the times and the last two bytes of the IP addresses, as
# mktrace.py makes copy k: the 539 laps are exactly the 3,000,074 packets of the
# bench-3000000-gap1.pcap that perf/bench.sh analyses.
#
#   perf/replay-bench.sh [WORKERS] [MIN_PPS MAX_PPS]     (defaults: 1, 100000, 8000000)
#
# Environment: SPREAD=1 plays a NIC without RSS (frames to the queues in turn; the cores
# spread flows in software); REPLAY_COPY=1 replays the 3 M-packet trace file instead, each
# frame copied into an mbuf (the earlier method, for comparison).
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
if [[ -n "${REPLAY_COPY:-}" ]]; then
    trace="$OUT_DIR/bench-3000000-gap1.pcap"
    make_real_trace 3000000 "$trace" 1
    replay=(--replay "$trace")
else
    trace="$OUT_DIR/bench-1copy-gap1.pcap"
    make_real_trace 1 "$trace" 1
    per_copy=$(python3 - "$trace" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
e = "<" if struct.unpack("<I", d[:4])[0] in (0xA1B2C3D4, 0xA1B23C4D) else ">"
o, n = 24, 0
while o + 16 <= len(d):
    o += 16 + struct.unpack(e + "I", d[o + 8:o + 12])[0]
    n += 1
print(n)
PY
)
    laps=$(( (3000000 + per_copy - 1) / per_copy ))
    echo "== $per_copy frames per lap, $laps laps: $((per_copy * laps)) packets"
    replay=(--replay "$trace" --replay-laps "$laps")
fi
[[ -n "${SPREAD:-}" ]] && replay+=(--replay-no-rss)
machine_info
cpus=$(nproc)
lcores=$(for ((l = 0; l <= workers; l++)); do printf '%s%d@%d' "$([[ $l -gt 0 ]] && echo ,)" "$l" "$((l % cpus))"; done)
scratch="$OUT_DIR/replay-bench"

# run PPS: prints "received missed records_dropped dns_dropped elapsed offered_pps"
# (offered_pps: the rate the replay thread reached, which falls short of PPS when the feeder
# itself is the limit).
run() {
    rm -rf "$scratch"
    mkdir -p "$scratch"
    local out
    out=$(TZ=UTC "$BIN" start -c "$REPO_ROOT/conf/tstat-dpdk.toml" \
        --eal="--lcores=$lcores --no-huge --no-shconf --no-pci -m 2048 --file-prefix=replay-bench-$$ --log-level=lib.eal:error" \
        --workers "$workers" --idle busy -s "$scratch/out" --socket "$scratch/ctl.sock" \
        --run-dir "$scratch/run" --metrics off \
        "${replay[@]}" --replay-lossy --replay-pps "$1" 2>&1) || { echo "$out" >&2; exit 1; }
    local received missed rec dns elapsed offered
    received=$(sed -nE 's/^packets: ([0-9]+) received.*/\1/p' <<<"$out")
    missed=$(sed -nE 's/.*"imissed":([0-9]+).*/\1/p' <<<"$out" | paste -sd+ | bc)
    rec=$(sed -nE 's/^drops: ([0-9]+) records.*/\1/p' <<<"$out")
    dns=$(sed -nE 's/^drops: [0-9]+ records \(ring full\), ([0-9]+) DN-Hunter.*/\1/p' <<<"$out")
    # Frames lost between cores (software spreading) count with the DN-Hunter drops.
    dns=$(( dns + $(sed -nE 's/.* ([0-9]+) frames between cores.*/\1/p' <<<"$out") ))
    elapsed=$(sed -nE 's/^elapsed: ([0-9.]+) s.*/\1/p' <<<"$out")
    offered=$(sed -nE 's/.*replay: [0-9]+ frames offered in [0-9.]+ s \(([0-9]+) frames\/s\).*/\1/p' <<<"$out")
    echo "$received $missed $rec $dns $elapsed $offered"
}

echo "== zero-loss bisection, $workers worker(s), lcores $lcores"
printf '%12s %12s %10s %10s %8s %8s %8s\n' asked_pps offered_pps received imissed rec_drop dns_drop elapsed
best=0
feeder_bound=""
while (( hi - lo > lo / 20 )); do
    mid=$(( (lo + hi) / 2 ))
    read -r received missed rec dns elapsed offered < <(run "$mid")
    printf '%12d %12d %10d %10d %8d %8d %8s\n' "$mid" "$offered" "$received" "$missed" "$rec" "$dns" "$elapsed"
    if (( missed == 0 && rec == 0 && dns == 0 )); then
        (( offered > best )) && best=$offered
        if (( offered * 100 < mid * 95 )); then
            # The feeder could not offer the rate asked: no higher rate can be measured here.
            feeder_bound=" (feeder-bound: the replay thread reached no more on this machine)"
            break
        fi
        lo=$mid
    else
        hi=$mid
    fi
done
echo "zero-loss rate: $best packets/s offered ($workers worker(s), $(nproc) CPUs)$feeder_bound"
rm -rf "$scratch"
