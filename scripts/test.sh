#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what is missing, then formatting,
# lints, the crate-boundary rule, unit and end-to-end tests, and — when ../shared/conformance is
# beside the repository — the conformance suite, failing if its score drops below the baseline
# recorded in .ci/conformance-baseline.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
[[ -d "$HOME/.cargo/bin" ]] && export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TERM_COLOR=never

echo "== fmt"
cargo fmt --all -- --check
echo "== clippy"
cargo clippy --all-targets --quiet -- -D warnings
echo "== crate boundaries"
# control reaches DPDK only through engine's `dpdk` feature, never directly; with the feature
# off, nothing in its tree is DPDK. Only engine::dpdk (and dpdk-sys) may name dpdk_sys.
if cargo tree -p control -e normal --depth 1 | grep -q dpdk-sys ||
  cargo tree -p control -e normal --no-default-features | grep -q dpdk-sys; then
  echo "control must not depend on dpdk-sys" >&2
  exit 1
fi
if grep -rln 'dpdk_sys' --include='*.rs' engine/src control/src | grep -v '^engine/src/dpdk/'; then
  echo "only engine::dpdk may use dpdk_sys" >&2
  exit 1
fi
if cargo tree -p engine -e normal | grep -Eq '^[^a-z]*(tokio|hyper) '; then
  echo "engine must not depend on tokio or hyper" >&2
  exit 1
fi
echo "== tests"
cargo build --release --quiet
cargo test --release --workspace
echo "== tests without DPDK"
cargo test --release --quiet -p engine -p control --no-default-features --lib
echo "== bind-nic.sh on a fake sysfs"
bash tests/bind-nic/test.sh

# Fuzz smoke run (cargo-fuzz needs a nightly toolchain): build every target, run the decode
# chain for 45 s. Skipped, saying so, where no nightly toolchain is installed.
if cargo +nightly --version >/dev/null 2>&1; then
  echo "== fuzz smoke"
  command -v cargo-fuzz >/dev/null || timeout 600 cargo install --quiet --locked cargo-fuzz || true
  if command -v cargo-fuzz >/dev/null; then
    python3 fuzz/seed.py >/dev/null
    (cd fuzz && cargo +nightly fuzz build && \
      cargo +nightly fuzz run decode -- -max_total_time=45 -timeout=10 2>&1 | tail -n 3)
  else
    echo "cargo-fuzz could not be installed: fuzz smoke skipped"
  fi
else
  echo "== fuzz smoke: no nightly toolchain here, skipped"
fi

suite=../shared/conformance/run.sh
if [[ -x $suite ]]; then
  echo "== conformance"
  line=$(TSTAT_CMD="target/release/tstat-dpdk analyze --quiet" "$suite" default netpriv full | tee /dev/stderr | tail -n 1)
  read -r rows cells < <(sed -E 's/.*rows ([0-9]+)\/[0-9]+ matched.*cells ([0-9]+)\/[0-9]+ equal.*/\1 \2/' <<<"$line")
  read -r base_rows base_cells < <(grep -v '^#' .ci/conformance-baseline)
  echo "conformance rows matched $rows (baseline $base_rows), cells equal $cells (baseline $base_cells)"
  if ((rows < base_rows || cells < base_cells)); then
    echo "conformance score dropped below the baseline" >&2
    exit 1
  fi
else
  echo "== conformance: ../shared/conformance not found, skipped"
fi
echo "== all checks passed"
