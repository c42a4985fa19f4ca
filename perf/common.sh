# shellcheck shell=bash disable=SC2034  # variables are used by the scripts that source this
# Shared by perf/*.sh (sourced, not run). Paths are relative to the repository root, found from
# the location of this file; nothing here depends on the machine it runs on.

PERF_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$PERF_DIR/.." && pwd)"
OUT_DIR="$PERF_DIR/out"                      # git-ignored
# The binary measured: TSTAT_BIN if set (any build, e.g. of an older commit; nothing is built
# then), else the release build of this checkout in CARGO_TARGET_DIR (default target/).
BIN="${TSTAT_BIN:-${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release/tstat-dpdk}"
# Real traffic used to build the benchmark traces: the conformance traces next to the checkout.
CONFORMANCE_TRACES="${CONFORMANCE_TRACES:-$REPO_ROOT/../shared/conformance/traces}"

# Prints a path relative to the repository root when it lies below it.
rel() {
    case "$1" in
        "$REPO_ROOT"/*) printf '%s\n' "${1#"$REPO_ROOT"/}" ;;
        *) printf '%s\n' "$1" ;;
    esac
}

# Exits 0 with a clear message when the conformance traces are not there.
require_traces() {
    if ! compgen -G "$CONFORMANCE_TRACES/*.pcap" >/dev/null; then
        echo "$(basename "$0"): SKIPPED: no conformance traces found at $(rel "$CONFORMANCE_TRACES")/*.pcap"
        echo "  (the benchmark trace is built from them; set CONFORMANCE_TRACES=DIR to use another directory)"
        exit 0
    fi
}

build_release() {
    if [[ -n "${TSTAT_BIN:-}" ]]; then
        echo "== measuring TSTAT_BIN=$TSTAT_BIN (not built here)"
        [[ -x "$BIN" ]] || { echo "$(basename "$0"): $BIN is not executable" >&2; exit 1; }
        return
    fi
    echo "== building the release binary (cargo build --release)"
    (cd "$REPO_ROOT" && cargo build --release --quiet)
    [[ -x "$BIN" ]] || { echo "$(basename "$0"): $(rel "$BIN") not built" >&2; exit 1; }
}

# Installs a Debian package when a command is missing (only as root with apt-get).
need_cmd() { # need_cmd COMMAND PACKAGE
    command -v "$1" >/dev/null 2>&1 && return 0
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        echo "== installing $2 (apt-get) for $1"
        apt-get install -y -qq "$2" >/dev/null || { apt-get update -qq && apt-get install -y -qq "$2" >/dev/null; }
    fi
    command -v "$1" >/dev/null 2>&1 || { echo "$(basename "$0"): $1 is missing (Debian package $2)" >&2; exit 1; }
}

machine_info() {
    echo "== machine"
    echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "cpu:     $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //') ($(nproc) cores online)"
    echo "memory:  $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    echo "kernel:  $(uname -sr)"
    echo "rustc:   $(rustc --version 2>/dev/null || echo unknown)"
    echo "commit:  $(cd "$REPO_ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$REPO_ROOT" && git diff --quiet HEAD -- engine control 2>/dev/null || echo ' (engine/control modified)')"
    echo "loadavg: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# Busy CPU time of the whole machine so far, in clock ticks (user+nice+system+irq+softirq+steal):
# compared with a run's own CPU time it tells how much other processes disturbed the run.
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
HZ=$(getconf CLK_TCK)

# Builds (or reuses) a benchmark trace of real traffic with at least $1 packets.
make_real_trace() { # make_real_trace MIN_PACKETS OUTFILE [MAX_GAP]
    local min="$1" out="$2" gap="${3:-1}"
    if [[ -s "$out" && "$out" -nt "$PERF_DIR/gen/mktrace.py" ]]; then
        echo "== reusing $(rel "$out")"
    else
        echo "== generating $(rel "$out") (>= $min packets of real traffic, max gap $gap s)"
        python3 "$PERF_DIR/gen/mktrace.py" --traces "$CONFORMANCE_TRACES" --min-packets "$min" \
            --max-gap "$gap" --out "$out"
    fi
}
