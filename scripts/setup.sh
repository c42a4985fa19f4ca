#!/usr/bin/env bash
# Installs what building and testing tstat-dpdk needs on a fresh Debian 12 machine (run as root,
# or with sudo available). Safe to run again.
set -euo pipefail
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
need=()
command -v cc >/dev/null || need+=(build-essential)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v python3 >/dev/null || need+=(python3)
if ! command -v cargo >/dev/null; then
  if [[ -x "$HOME/.cargo/bin/cargo" ]]; then export PATH="$HOME/.cargo/bin:$PATH"; else need+=(cargo rustc); fi
fi
# The DPDK capture driver builds against Debian's DPDK 22.11 (dpdk-sys: bindgen needs clang);
# the libpcap driver and its tests need libpcap, tcpreplay and iproute2.
pkg-config --exists libdpdk 2>/dev/null || need+=(libdpdk-dev dpdk-dev dpdk)
command -v clang >/dev/null || need+=(clang libclang-dev)
dpkg -s libpcap-dev >/dev/null 2>&1 || need+=(libpcap-dev)
command -v tcpreplay >/dev/null || need+=(tcpreplay)
command -v ip >/dev/null || need+=(iproute2)
command -v shellcheck >/dev/null || need+=(shellcheck)
command -v prometheus >/dev/null || need+=(prometheus) # control/tests/metrics.rs scrapes the endpoint with it
# The RRD files of -R (rrd-sys links librrd); control/tests/rrd.rs and scripts/rrd-compare.py
# read them back with the rrdtool command.
pkg-config --exists librrd 2>/dev/null || need+=(librrd-dev)
command -v rrdtool >/dev/null || need+=(rrdtool)
# control/tests/export.rs sends RRD exports through the repository into a real Graphite carbon
# (carbon-cache) and reads the whisper files back (whisper-fetch, from python3-whisper, a
# dependency of graphite-carbon).
command -v carbon-cache >/dev/null || need+=(graphite-carbon)
# Python virtual environments (the mPlane interop test bed installs the 2015 SDK in one).
dpkg -s python3-venv >/dev/null 2>&1 || need+=(python3-venv)
if ((${#need[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need[@]}"
fi
if command -v rustup >/dev/null; then
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt || true
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy || true
fi
cargo --version
