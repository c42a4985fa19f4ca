#!/usr/bin/env bash
# Builds tstat-dpdk and analyses a bundled trace, as a first run: the logs land in
# demo-out/<YYYY_MM_DD_HH_MM>.out/ (times in UTC unless TZ says otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
[[ -d "$HOME/.cargo/bin" ]] && export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --quiet
export TZ=${TZ:-UTC}
target/release/tstat-dpdk analyze -s demo-out -N conf/net.conf tests/pcaps/zeek__bro.org.pcap
dir=$(ls -d demo-out/*.out | tail -n 1)
echo
echo "== $dir/log_tcp_complete (first columns)"
cut -d' ' -f1-16 "$dir/log_tcp_complete" | head -n 6
