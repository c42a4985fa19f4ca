#!/usr/bin/env bash
# Tests of scripts/bind-nic.sh against a fake sysfs/procfs/devfs tree built in a mktemp -d
# directory (see README.md beside this file). The real /sys, /proc and /dev are never touched:
# every run points BIND_NIC_SYSFS/PROCFS/DEVFS/STATE_DIR into the fake tree and replaces
# modprobe, ip and mount with fakes. Passes as root and as non-root (the user id the script
# believes it has is set with BIND_NIC_EUID). Exits non-zero on any failed check; the last line
# is `bind-nic: N checks passed`.
set -uo pipefail

cd "$(dirname "$0")/../.." || exit 1
SCRIPT=$PWD/scripts/bind-nic.sh
TMP=$(mktemp -d "${TMPDIR:-/tmp}/bind-nic-test.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
BASE=$TMP/base # the pristine tree, copied for every case
T=$TMP/tree    # the tree of the current case
BIN=$TMP/bin   # fake commands
LOG=$TMP/commands.log
ADDRS=$TMP/addrs # addresses the fake `ip` reports, one file per interface
PASS=0 FAIL=0 OUT="" ERR="" RC=0 CASE=""

# ---- fake commands ------------------------------------------------------------------------------

mkdir -p "$BIN" "$ADDRS"

cat >"$BIN/modprobe" <<'EOF'
#!/usr/bin/env bash
# Fake modprobe: knows the modules in $FAKE_MODULES; loading one registers its PCI driver.
echo "modprobe $*" >>"$FAKE_LOG"
dry=0
if [[ $1 == -n ]]; then dry=1; shift; fi
case " $FAKE_MODULES " in
  *" $1 "*) ;;
  *) echo "modprobe: FATAL: Module $1 not found in directory /lib/modules/6.1.0-fake" >&2; exit 1 ;;
esac
((dry)) && exit 0
d=$BIND_NIC_SYSFS/bus/pci/drivers/$1
mkdir -p "$d" && : >"$d/bind" && : >"$d/unbind" && : >"$d/new_id"
EOF

cat >"$BIN/ip" <<'EOF'
#!/usr/bin/env bash
# Fake ip: only `ip -o addr show dev IFACE`, from $FAKE_ADDRS/IFACE.
echo "ip $*" >>"$FAKE_LOG"
[[ $1 == -o && $2 == addr && $3 == show && $4 == dev ]] || exit 1
f=$FAKE_ADDRS/$5
[[ -f $f ]] || exit 0
while read -r a; do
  fam=inet; [[ $a == *:* ]] && fam=inet6
  echo "2: $5    $fam $a scope global $5\\       valid_lft forever preferred_lft forever"
done <"$f"
EOF

cat >"$BIN/mount" <<'EOF'
#!/usr/bin/env bash
# Fake mount: records the mount in the fake /proc/mounts, or fails if $FAKE_MOUNT_FAIL is set.
echo "mount $*" >>"$FAKE_LOG"
if [[ -n ${FAKE_MOUNT_FAIL:-} ]]; then echo "mount: $6: permission denied." >&2; exit 32; fi
[[ $1 == -t && $2 == hugetlbfs && $3 == -o ]] || exit 1
echo "nodev $6 hugetlbfs rw,relatime,$4 0 0" >>"$BIND_NIC_PROCFS/mounts"
EOF

cat >"$BIN/kernel" <<'EOF'
#!/usr/bin/env bash
# Fake kernel: what Linux does after a write into sysfs (BIND_NIC_TEST_KERNEL PATH VALUE).
S=$BIND_NIC_SYSFS path=$1 value=$2
attach() { # ADDR DRIVER
  local dev=$S/bus/pci/devices/$1
  [[ -d $S/bus/pci/drivers/$2 ]] || return 0
  ln -s "../../drivers/$2" "$dev/driver"
  # Kernel drivers bring their interface back; user-space drivers have none.
  if [[ $2 != vfio-pci && $2 != uio_pci_generic && -d $dev/.net-away ]]; then mv "$dev/.net-away" "$dev/net"; fi
}
case $path in
  */bus/pci/drivers/*/unbind)
    dev=$S/bus/pci/devices/$value
    rm -f "$dev/driver"
    if [[ -d $dev/net ]]; then mv "$dev/net" "$dev/.net-away"; fi ;;
  */bus/pci/drivers/*/bind)
    drv=${path%/bind}
    [[ -L $S/bus/pci/devices/$value/driver ]] || attach "$value" "${drv##*/}" ;;
  */bus/pci/drivers_probe)
    dev=$S/bus/pci/devices/$value
    [[ -L $dev/driver || " ${FAKE_PROBE_FAIL:-} " == *" $value "* ]] && exit 0
    ov=$(cat "$dev/driver_override")
    if [[ -n $ov && $ov != "(null)" ]]; then attach "$value" "$ov"
    elif [[ -f $dev/.native ]]; then attach "$value" "$(cat "$dev/.native")"; fi ;;
  */nr_hugepages)
    # Fragmented memory: the kernel grants at most FAKE_HUGE_MAX pages.
    if [[ -n ${FAKE_HUGE_MAX:-} ]] && ((value > FAKE_HUGE_MAX)); then echo "$FAKE_HUGE_MAX" >"$path"; fi ;;
esac
exit 0
EOF
chmod +x "$BIN"/*

# ---- the fake tree --------------------------------------------------------------------------------

# pci_dev ADDR VENDOR DEVICE CLASS NUMA DRIVER IOMMU_GROUP [IFACE FLAGS]
pci_dev() {
  local addr=$1 d=$BASE/sys/bus/pci/devices/$1
  mkdir -p "$d"
  echo "$2" >"$d/vendor"
  echo "$3" >"$d/device"
  echo "$4" >"$d/class"
  echo "$5" >"$d/numa_node"
  echo "(null)" >"$d/driver_override"
  if [[ $6 != - ]]; then ln -s "../../drivers/$6" "$d/driver"; fi
  mkdir -p "$BASE/sys/kernel/iommu_groups/$7/devices"
  ln -s "../../../../kernel/iommu_groups/$7" "$d/iommu_group"
  ln -s "../../../../bus/pci/devices/$addr" "$BASE/sys/kernel/iommu_groups/$7/devices/$addr"
  if [[ -n ${8:-} ]]; then
    mkdir -p "$d/net/$8"
    echo "$9" >"$d/net/$8/flags"
  fi
}

build_base() {
  local s=$BASE/sys p=$BASE/proc drv n kb
  mkdir -p "$s/bus/pci/devices" "$s/kernel/iommu_groups" "$p/net" "$BASE/dev/vfio" "$BASE/state"
  : >"$s/bus/pci/drivers_probe"
  for drv in ixgbe i40e virtio-pci ahci pcieport vfio-pci; do
    mkdir -p "$s/bus/pci/drivers/$drv"
    : >"$s/bus/pci/drivers/$drv/bind"
    : >"$s/bus/pci/drivers/$drv/unbind"
    : >"$s/bus/pci/drivers/$drv/new_id"
  done
  # A: an idle 82599 port (down, only an IPv6 link-local address); shares IOMMU group 17 with B.
  pci_dev 0000:03:00.0 0x8086 0x10fb 0x020000 0 ixgbe 17 eth1 0x1002
  echo ixgbe >"$s/bus/pci/devices/0000:03:00.0/.native"
  echo "fe80::21b:21ff:fe00:1/64" >"$ADDRS/eth1"
  # B: its sibling, up.
  pci_dev 0000:03:00.1 0x8086 0x10fb 0x020000 0 ixgbe 17 eth2 0x1003
  # C: the management NIC: virtio, default route, an address.
  pci_dev 0000:00:03.0 0x1af4 0x1000 0x020000 -1 virtio-pci 3
  mkdir -p "$s/bus/pci/devices/0000:00:03.0/virtio0/net/eth0"
  echo 0x1003 >"$s/bus/pci/devices/0000:00:03.0/virtio0/net/eth0/flags"
  echo "10.0.2.15/24" >"$ADDRS/eth0"
  # D: an XL710 that is down but has an address.
  pci_dev 0000:04:00.0 0x8086 0x1583 0x020000 1 i40e 18 eth3 0x1002
  echo "192.0.2.1/24" >"$ADDRS/eth3"
  # E: an XL710 already on vfio-pci, taken from i40e (eth4) by an earlier run.
  pci_dev 0000:05:00.0 0x8086 0x1583 0x020000 1 vfio-pci 20
  echo i40e >"$s/bus/pci/devices/0000:05:00.0/.native"
  printf 'driver=i40e\ninterfaces=eth4\n' >"$BASE/state/0000:05:00.0"
  : >"$BASE/dev/vfio/20"
  # F: a SATA controller.
  pci_dev 0000:00:1f.2 0x8086 0x2922 0x010601 0 ahci 5
  # G: a port enslaved to a bond.
  pci_dev 0000:06:00.0 0x8086 0x10fb 0x020000 0 ixgbe 19 eth5 0x1002
  ln -s ../../../virtual/net/bond0 "$s/bus/pci/devices/0000:06:00.0/net/eth5/master"
  # H: a NIC with no driver at all; ixgbe claims it when probed.
  pci_dev 0000:07:00.0 0x8086 0x10fb 0x020000 0 - 21
  echo ixgbe >"$s/bus/pci/devices/0000:07:00.0/.native"
  # I: a port carrying only an IPv6 default route.
  pci_dev 0000:08:00.0 0x8086 0x10fb 0x020000 0 ixgbe 22 eth6 0x1002
  # Routes: IPv4 default via eth0; IPv6 default via eth6, and the usual unreachable one on lo.
  cat >"$p/net/route" <<'EOF'
Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT
eth0	00000000	0202000A	0003	0	0	100	00000000	0	0	0
eth0	0002000A	00000000	0001	0	0	100	00FFFFFF	0	0	0
EOF
  cat >"$p/net/ipv6_route" <<'EOF'
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003 eth6
20010db8000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001 eth6
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200 lo
EOF
  printf 'sysfs /sys sysfs rw 0 0\nproc /proc proc rw 0 0\n' >"$p/mounts"
  printf 'MemTotal:       131072000 kB\nHugepagesize:       2048 kB\n' >"$p/meminfo"
  printf 'processor\t: 0\nflags\t\t: fpu vme de pse tsc msr pae sse sse2 ssse3 sse4_1 sse4_2 avx avx2\n' >"$p/cpuinfo"
  # Hugepages: two NUMA nodes with 2M pools; no 1G pools (added per case).
  kb=2048
  mkdir -p "$s/kernel/mm/hugepages/hugepages-${kb}kB"
  echo 0 >"$s/kernel/mm/hugepages/hugepages-${kb}kB/nr_hugepages"
  echo 0 >"$s/kernel/mm/hugepages/hugepages-${kb}kB/free_hugepages"
  for n in 0 1; do
    mkdir -p "$s/devices/system/node/node$n/hugepages/hugepages-${kb}kB"
    echo 0 >"$s/devices/system/node/node$n/hugepages/hugepages-${kb}kB/nr_hugepages"
    echo 0 >"$s/devices/system/node/node$n/hugepages/hugepages-${kb}kB/free_hugepages"
  done
}

add_1g_pages() {
  local d
  for d in "$T/sys/kernel/mm/hugepages" "$T"/sys/devices/system/node/node*/hugepages; do
    mkdir -p "$d/hugepages-1048576kB"
    echo 0 >"$d/hugepages-1048576kB/nr_hugepages"
    echo 0 >"$d/hugepages-1048576kB/free_hugepages"
  done
  sed -i 's/avx2$/avx2 pdpe1gb/' "$T/proc/cpuinfo"
}

no_iommu() { rm -rf "$T/sys/kernel/iommu_groups"/* "$T"/sys/bus/pci/devices/*/iommu_group; }

# Starts a case on a fresh copy of the tree.
fresh() {
  CASE=$1
  rm -rf "$T"
  cp -a "$BASE" "$T"
}

# ---- running and checking -------------------------------------------------------------------------

# run [VAR=VALUE...] -- ARGS...: runs the script on the fake tree; sets OUT, ERR, RC.
run() {
  local envs=()
  while [[ $1 != -- ]]; do
    envs+=("$1")
    shift
  done
  shift
  : >"$LOG"
  OUT=$(env PATH="$BIN:$PATH" \
    BIND_NIC_SYSFS="$T/sys" BIND_NIC_PROCFS="$T/proc" BIND_NIC_DEVFS="$T/dev" \
    BIND_NIC_STATE_DIR="$T/state" BIND_NIC_MODPROBE="$BIN/modprobe" BIND_NIC_IP="$BIN/ip" \
    BIND_NIC_MOUNT="$BIN/mount" BIND_NIC_TEST_KERNEL="$BIN/kernel" BIND_NIC_EUID=0 \
    FAKE_LOG="$LOG" FAKE_ADDRS="$ADDRS" FAKE_MODULES="vfio-pci uio_pci_generic ixgbe i40e" \
    "${envs[@]}" bash "$SCRIPT" "$@" 2>"$TMP/stderr")
  RC=$?
  ERR=$(<"$TMP/stderr")
}

check() { # WHAT COMMAND...
  local what=$1
  shift
  if "$@"; then
    PASS=$((PASS + 1))
  else
    FAIL=$((FAIL + 1))
    printf 'FAIL [%s] %s\n--- rc %s, stdout:\n%s\n--- stderr:\n%s\n---\n' "$CASE" "$what" "$RC" "$OUT" "$ERR" >&2
  fi
}

rc_is() { [[ $RC == "$1" ]]; }
out_has() { grep -qF -- "$1" <<<"$OUT"; }
out_lacks() { ! grep -qF -- "$1" <<<"$OUT"; }
err_has() { grep -qF -- "$1" <<<"$ERR"; }
err_lacks() { ! grep -qF -- "$1" <<<"$ERR"; }
# The failure is the last line of stderr, one line, prefixed with the script's name.
last_err_has() { [[ $(tail -n 1 <<<"$ERR") == "bind-nic.sh: "*"$1"* ]]; }
log_has() { grep -qF -- "$1" "$LOG"; }
log_lacks() { ! grep -qF -- "$1" "$LOG"; }
content_is() { [[ -f $1 && $(<"$1") == "$2" ]]; }
driver_is() { [[ $(readlink "$T/sys/bus/pci/devices/$1/driver" 2>/dev/null) == *"/$2" ]]; }
no_driver() { [[ ! -e $T/sys/bus/pci/devices/$1/driver ]]; }
exists() { [[ -e $1 ]]; }
missing() { [[ ! -e $1 ]]; }

# Every entry of the tree with its type, link target, size and modification time (ns): any write,
# even of the same bytes, changes it.
snapshot() { (cd "$T" && find . -printf '%y %p %l %s %T@\n') | LC_ALL=C sort | md5sum; }
SNAP=""
mark() { SNAP=$(snapshot); }
unchanged() { [[ $(snapshot) == "$SNAP" ]]; }

# A refusal: exit status RC, the cause on the last stderr line, and nothing changed in the tree.
refused() { # RC MESSAGE...
  local rc=$1 m
  shift
  check "exit status $rc" rc_is "$rc"
  for m in "$@"; do check "message: $m" last_err_has "$m"; done
  check "tree unchanged" unchanged
}

build_base
S=$T/sys # paths below are in the current case's tree
DEV=$S/bus/pci/devices
N0=$S/devices/system/node/node0/hugepages
N1=$S/devices/system/node/node1/hugepages
GLOBAL=$S/kernel/mm/hugepages

# ---- usage ----------------------------------------------------------------------------------------

fresh usage
mark
run -- --help
check "--help exits 0" rc_is 0
check "--help prints the usage" out_has "Usage: bind-nic.sh [options] DEVICE..."
run --
refused 2 "nothing to do"
run -- --bogus
refused 2 "unknown option '--bogus'"
run -- --driver igb_uio 03:00.0
refused 2 "unsupported --driver 'igb_uio'"
run -- --driver
refused 2 "--driver needs a value"
run -- --hugepages 3M:4
refused 2 "unsupported hugepage size '3M'"
run -- --hugepages 2M
refused 2 "invalid --hugepages '2M'"
run -- --hugepages 2M:8 --numa-node one
refused 2 "invalid --numa-node 'one'"
run -- --status 03:00.0
refused 2 "--status takes no device"
run -- --unbind
refused 2 "--unbind needs at least one device"
run -- --unbind --hugepages 2M:8 05:00.0
refused 2 "--unbind does not take --hugepages"

# ---- --status -------------------------------------------------------------------------------------

fresh status
mark
run -- --status
check "status exits 0" rc_is 0
check "status: A with vendor:device, node, driver, interface" \
  grep -qE '^0000:03:00.0 +8086:10fb +0 +ixgbe +eth1$' <<<"$OUT"
check "status: eth0 is the default-route interface, with its address" \
  out_has "eth0: default route; eth0: addresses 10.0.2.15/24; eth0: up"
check "status: no NUMA node shows as -" grep -qE '^0000:00:03.0 +1af4:1000 +- +virtio-pci' <<<"$OUT"
check "status: IPv6 default route seen" out_has "eth6: default route"
check "status: up interface" out_has "eth2: up"
check "status: bond member" out_has "eth5: in bond0"
check "status: DPDK-bound device and its original driver" \
  grep -qE '^0000:05:00.0 +8086:1583 +1 +vfio-pci +- +DPDK; was i40e \(eth4\)' <<<"$OUT"
check "status: non-network device left out" out_lacks "0000:00:1f.2"
check "status: IOMMU" out_has "IOMMU: on (8 groups)"
check "status: hugepages per node" grep -qE '^2M +node 1 +0 +0$' <<<"$OUT"
check "status: no 1G pages" out_has "(no 1G pages on this machine)"
check "status: hugetlbfs" out_has "hugetlbfs 2M: not mounted"
check "status changes nothing" unchanged
check "status needs no root" true
run BIND_NIC_EUID=1000 -- --status
check "status as non-root exits 0" rc_is 0

# ---- --dry-run ------------------------------------------------------------------------------------

fresh dry-run
mark
run BIND_NIC_EUID=1000 -- --dry-run 0000:03:00.0
check "dry-run exits 0 (as non-root)" rc_is 0
expected="dry-run: echo 1024 > $N0/hugepages-2048kB/nr_hugepages
dry-run: mkdir -p $T/dev/hugepages
dry-run: $BIN/mount -t hugetlbfs -o pagesize=2M nodev $T/dev/hugepages
dry-run: remember 0000:03:00.0: driver=ixgbe interfaces=eth1 in $T/state/0000:03:00.0
dry-run: echo vfio-pci > $DEV/0000:03:00.0/driver_override
dry-run: echo 0000:03:00.0 > $S/bus/pci/drivers/ixgbe/unbind
dry-run: echo 0000:03:00.0 > $S/bus/pci/drivers_probe
dry-run: nothing was changed"
check "dry-run prints every action, in order" [ "$(grep '^dry-run:' <<<"$OUT")" == "$expected" ]
check "dry-run: IOMMU group shared with a kernel-bound device" \
  err_has "IOMMU group 17 also holds 0000:03:00.1 (driver ixgbe)"
check "dry-run changes nothing" unchanged
check "dry-run runs no mount" log_lacks "mount "
run -- -n 03:00.0
check "short PCI address" [ "$(grep '^dry-run:' <<<"$OUT")" == "$expected" ]
run -- -n eth1
check "interface name" [ "$(grep '^dry-run:' <<<"$OUT")" == "$expected" ]
run -- -n 0000:03:00.0 0000:03:00.1 --force
check "two devices with --force: exit 0" rc_is 0
check "two devices: both bound" out_has "dry-run: echo 0000:03:00.1 > $S/bus/pci/drivers_probe"
check "two devices: no warning about the group once both are bound" err_lacks "IOMMU group 17"
check "--force: says what it overrides" err_has "0000:03:00.1: its interface eth2 is up (in use by the kernel); binding anyway (--force)"
run -- -n --no-hugepages --driver=uio_pci_generic 07:00.0
check "no driver, uio_pci_generic, --no-hugepages: exit 0" rc_is 0
check "a device without driver is not unbound" out_lacks "/unbind"
check "--no-hugepages touches no pool" out_lacks "nr_hugepages"
check "uio_pci_generic is loaded" out_has "dry-run: $BIN/modprobe uio_pci_generic"
check "modprobe -n checks the module" log_has "modprobe -n uio_pci_generic"
check "uio_pci_generic only checked, not loaded" log_lacks "modprobe uio_pci_generic"
check "uio warning" err_has "uio_pci_generic gives the NICs DMA access"
check "driver_override uio_pci_generic" out_has "dry-run: echo uio_pci_generic > $DEV/0000:07:00.0/driver_override"
run -- -n --hugepages 2M:512,1G:4 --numa-node 1 03:00.0
refused 1 "1 GB hugepages not supported: the CPU does not offer pdpe1gb"
run -- -n --hugepages 2M:64 --no-mount
check "hugepages only, every node" \
  [ "$(grep '^dry-run:' <<<"$OUT")" == "dry-run: echo 64 > $N0/hugepages-2048kB/nr_hugepages
dry-run: echo 64 > $N1/hugepages-2048kB/nr_hugepages
dry-run: nothing was changed" ]
check "all dry-runs changed nothing" unchanged

# ---- refusals (all dry-run unless said otherwise: a refusal is the same either way) ----------------

fresh refusals
mark
run -- -n 0000:09:00.0
refused 1 "no such PCI device 0000:09:00.0"
run -- -n eth99
refused 1 "'eth99' is neither a PCI address"
run -- -n 03:00
refused 1 "'03:00' is neither a PCI address"
run -- -n 00:1f.2
refused 1 "0000:00:1f.2 is not a network device (PCI class 0x010601)"
run -- -n 00:03.0
refused 1 "refusing 0000:00:03.0: device busy: its interface eth0 carries the default route" "or pass --force"
run -- -n 08:00.0
refused 1 "refusing 0000:08:00.0: device busy: its interface eth6 carries the default route"
run -- -n 04:00.0
refused 1 "its interface eth3 has addresses (192.0.2.1/24); remove them" "ip addr flush dev eth3"
run -- -n 03:00.1
refused 1 "its interface eth2 is up (in use by the kernel); bring it down (ip link set eth2 down), or pass --force"
run -- -n 06:00.0
refused 1 "its interface eth5 is enslaved to bond0"
run BIND_NIC_IP=/nonexistent/ip -- -n 03:00.0
refused 1 "cannot tell whether its interface eth1 has addresses: '/nonexistent/ip' not found; install iproute2"
run -- -n 05:00.0
refused 1 "0000:05:00.0 is already bound to vfio-pci; nothing to do"
run -- -n --unbind 03:00.0
refused 1 "0000:03:00.0 is not bound to a DPDK driver (driver: ixgbe)"
run -- -n --hugepages 2M:8 --numa-node 3
refused 1 "no NUMA node 3 here (nodes: 0 1)"
run BIND_NIC_EUID=1000 -- 03:00.0
refused 1 "not root (uid 1000)" "rerun with sudo, or add --dry-run"
run BIND_NIC_EUID=1000 -- --hugepages 2M:8
refused 1 "not root (uid 1000)"
# A refusal of one device changes nothing for the others, even for real.
run -- 03:00.0 04:00.0
refused 1 "its interface eth3 has addresses"
check "refusal before any action" out_lacks "+ "
run -- -n 00:03.0 --force
check "--force takes even the default-route NIC" rc_is 0
check "--force warns" err_has "its interface eth0 carries the default route (binding it cuts this machine off the network); binding anyway (--force)"

fresh no-iommu
no_iommu
mark
run -- -n 03:00.0
refused 1 "no IOMMU: $S/kernel/iommu_groups is empty" "intel_iommu=on iommu=pt" "--driver uio_pci_generic"
run -- -n --driver uio_pci_generic 03:00.0
check "no IOMMU, uio_pci_generic: exit 0" rc_is 0
mkdir -p "$S/module/vfio/parameters"
echo Y >"$S/module/vfio/parameters/enable_unsafe_noiommu_mode"
mark
run -- -n 03:00.0
check "no IOMMU, vfio no-IOMMU mode: exit 0" rc_is 0
check "no-IOMMU mode warned" err_has "vfio in unsafe no-IOMMU mode"

fresh no-module
rm -rf "$S/bus/pci/drivers/vfio-pci"
mark
run FAKE_MODULES="ixgbe i40e" -- -n 03:00.0
refused 1 "kernel module vfio-pci missing: modprobe -n vfio-pci failed (modprobe: FATAL: Module vfio-pci not found" "--driver uio_pci_generic"
run FAKE_MODULES="ixgbe i40e" -- 03:00.0
refused 1 "kernel module vfio-pci missing: modprobe vfio-pci failed"
run -- -n 03:00.0
check "module found: dry-run says it would load it" out_has "dry-run: $BIN/modprobe vfio-pci"
check "module found: tree unchanged" unchanged

fresh 1g-unsupported
echo "flags : fpu pse pdpe1gb" >"$T/proc/cpuinfo"
mark
run -- -n --hugepages 1G:4
refused 1 "1 GB hugepages not supported: $GLOBAL/hugepages-1048576kB does not exist; boot with hugepagesz=1G hugepages=N"

fresh unbind-busy
mkdir -p "$T/proc/4242/fd"
echo tstat-dpdk >"$T/proc/4242/comm"
ln -s "$T/dev/vfio/20" "$T/proc/4242/fd/7"
mark
run -- -n --unbind 05:00.0
refused 1 "device busy: 0000:05:00.0 is in use, process 4242 (tstat-dpdk) holds $T/dev/vfio/20; stop it first (tstat-dpdk stop)"

# ---- real runs: what lands in the tree ---------------------------------------------------------------

fresh bind-unbind
run -- 0000:03:00.0
check "bind exits 0" rc_is 0
check "bind reports" out_has "0000:03:00.0: ixgbe -> vfio-pci"
check "actions are printed as they happen" out_has "+ echo vfio-pci > $DEV/0000:03:00.0/driver_override"
check "driver_override written" content_is "$DEV/0000:03:00.0/driver_override" vfio-pci
check "unbind written" content_is "$S/bus/pci/drivers/ixgbe/unbind" 0000:03:00.0
check "drivers_probe written" content_is "$S/bus/pci/drivers_probe" 0000:03:00.0
check "device now on vfio-pci" driver_is 0000:03:00.0 vfio-pci
check "original driver remembered" content_is "$T/state/0000:03:00.0" $'driver=ixgbe\ninterfaces=eth1'
check "2M pages reserved on the NIC's node" content_is "$N0/hugepages-2048kB/nr_hugepages" 1024
check "other node untouched" content_is "$N1/hugepages-2048kB/nr_hugepages" 0
check "machine-wide pool untouched" content_is "$GLOBAL/hugepages-2048kB/nr_hugepages" 0
check "hugetlbfs mounted" log_has "mount -t hugetlbfs -o pagesize=2M nodev $T/dev/hugepages"
check "mount point created" exists "$T/dev/hugepages"
check "no modprobe: vfio-pci was loaded" log_lacks "modprobe"
run -- --status
check "status after bind" grep -qE '^0000:03:00.0 +8086:10fb +0 +vfio-pci +- +DPDK; was ixgbe \(eth1\)' <<<"$OUT"
check "status shows the mount" out_has "hugetlbfs 2M: $T/dev/hugepages"
mark
run -- 03:00.0
refused 1 "already bound to vfio-pci"
run -- --dry-run --unbind 03:00.0
check "unbind dry-run" [ "$(grep '^dry-run:' <<<"$OUT")" == "dry-run: echo > $DEV/0000:03:00.0/driver_override
dry-run: echo 0000:03:00.0 > $S/bus/pci/drivers/vfio-pci/unbind
dry-run: echo 0000:03:00.0 > $S/bus/pci/drivers/ixgbe/bind
dry-run: rm $T/state/0000:03:00.0" ]
check "unbind dry-run changes nothing" unchanged
run -- --unbind 03:00.0
check "unbind exits 0" rc_is 0
check "unbind reports" out_has "0000:03:00.0: vfio-pci -> ixgbe (eth1)"
check "driver_override cleared" content_is "$DEV/0000:03:00.0/driver_override" ""
check "vfio-pci unbind written" content_is "$S/bus/pci/drivers/vfio-pci/unbind" 0000:03:00.0
check "ixgbe bind written" content_is "$S/bus/pci/drivers/ixgbe/bind" 0000:03:00.0
check "device back on ixgbe" driver_is 0000:03:00.0 ixgbe
check "state forgotten" missing "$T/state/0000:03:00.0"

fresh unbind-remembered
run -- --unbind 0000:05:00.0
check "unbind of an earlier bind exits 0" rc_is 0
check "back to the remembered driver" driver_is 0000:05:00.0 i40e

fresh no-driver
run -- --no-hugepages --state-dir "$T/elsewhere" 07:00.0
check "bind of a device without driver" driver_is 0000:07:00.0 vfio-pci
check "--state-dir used" content_is "$T/elsewhere/0000:07:00.0" $'driver=none\ninterfaces=none'
check "no unbind written" content_is "$S/bus/pci/drivers/ixgbe/unbind" ""
check "--no-hugepages: pools untouched" content_is "$N0/hugepages-2048kB/nr_hugepages" 0
run -- --unbind --state-dir "$T/elsewhere" 07:00.0
check "nothing on record: the kernel picks the driver" driver_is 0000:07:00.0 ixgbe
check "nothing on record: drivers_probe used" content_is "$S/bus/pci/drivers_probe" 0000:07:00.0
check "driver_override cleared" content_is "$DEV/0000:07:00.0/driver_override" ""

fresh keep-larger
echo 2048 >"$N0/hugepages-2048kB/nr_hugepages"
echo "nodev /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0" >>"$T/proc/mounts"
run -- 03:00.0
check "bind with more pages than the default: exit 0" rc_is 0
check "default never lowers a reservation" content_is "$N0/hugepages-2048kB/nr_hugepages" 2048
check "says so" out_has "hugepages: node 0: 2048 pages of 2M reserved already"
check "existing hugetlbfs used" out_has "hugetlbfs for 2M pages: mounted at /dev/hugepages"
check "no second mount" log_lacks "mount "

fresh hugepages
add_1g_pages
run -- --hugepages 2M:64,1G:2
check "explicit hugepages: exit 0" rc_is 0
check "2M on node 0" content_is "$N0/hugepages-2048kB/nr_hugepages" 64
check "2M on node 1" content_is "$N1/hugepages-2048kB/nr_hugepages" 64
check "1G on node 0" content_is "$N0/hugepages-1048576kB/nr_hugepages" 2
check "1G on node 1" content_is "$N1/hugepages-1048576kB/nr_hugepages" 2
check "1G hugetlbfs mounted on its own" log_has "mount -t hugetlbfs -o pagesize=1G nodev $T/dev/hugepages-1G"
run -- --hugepages 2M:0,1G:8 --numa-node 1 --no-mount
check "2M freed on node 1 only" content_is "$N1/hugepages-2048kB/nr_hugepages" 0
check "node 0 kept" content_is "$N0/hugepages-2048kB/nr_hugepages" 64
check "1G on node 1 only" content_is "$N1/hugepages-1048576kB/nr_hugepages" 8
check "--no-mount" log_lacks "mount "
run FAKE_HUGE_MAX=5 -- --hugepages 1G:16 --numa-node 0
check "fragmentation: exit 1" rc_is 1
check "fragmentation: explained" last_err_has "only 5 of 16 pages of 1G could be reserved on node 0: memory is too fragmented"
run -- --status
check "status: 1G per node" grep -qE '^1G +node 1 +8 +0$' <<<"$OUT"

fresh no-numa
rm -rf "$S/devices/system/node"
run -- --hugepages 2M:128
check "no NUMA nodes: machine-wide pool" content_is "$GLOBAL/hugepages-2048kB/nr_hugepages" 128

fresh load-module
rm -rf "$S/bus/pci/drivers/vfio-pci"
run -- --no-hugepages 03:00.0
check "module loaded" log_has "modprobe vfio-pci"
check "then bound" driver_is 0000:03:00.0 vfio-pci

fresh uio
no_iommu
run -- --no-hugepages --driver uio_pci_generic 03:00.0
check "uio: loaded" log_has "modprobe uio_pci_generic"
check "uio: driver_override" content_is "$DEV/0000:03:00.0/driver_override" uio_pci_generic
check "uio: bound" driver_is 0000:03:00.0 uio_pci_generic
run -- --no-hugepages 03:00.0
check "uio -> vfio-pci: refused without IOMMU" last_err_has "no IOMMU"
run -- --unbind 03:00.0
check "uio unbind: back to ixgbe" driver_is 0000:03:00.0 ixgbe

fresh force
run -- --no-hugepages --force 03:00.1
check "--force for real: exit 0" rc_is 0
check "--force for real: bound" driver_is 0000:03:00.1 vfio-pci

fresh probe-fails
run FAKE_PROBE_FAIL=0000:03:00.0 -- --no-hugepages 03:00.0
check "kernel does not bind: exit 1" rc_is 1
check "kernel does not bind: explained" last_err_has "0000:03:00.0 did not bind to vfio-pci (driver now: ixgbe); the kernel log says why (dmesg | tail)"
check "rolled back to ixgbe" driver_is 0000:03:00.0 ixgbe
check "rollback cleared driver_override" content_is "$DEV/0000:03:00.0/driver_override" ""

fresh write-fails
rm "$DEV/0000:03:00.0/driver_override"
mkdir "$DEV/0000:03:00.0/driver_override"
run -- --no-hugepages 03:00.0
check "write error: exit 1" rc_is 1
check "write error: explained" last_err_has "cannot write 'vfio-pci' to $DEV/0000:03:00.0/driver_override: Is a directory"
check "write error: device untouched" driver_is 0000:03:00.0 ixgbe

fresh mount-fails
run FAKE_MOUNT_FAIL=1 -- --hugepages 2M:8
check "mount error: exit 1" rc_is 1
check "mount error: explained" last_err_has "cannot mount hugetlbfs at $T/dev/hugepages"

fresh no-override
rm "$DEV/0000:03:00.0/driver_override"
mark
run -- -n 03:00.0
refused 1 "0000:03:00.0 has no driver_override attribute"

# ---- lint ----------------------------------------------------------------------------------------------

if command -v shellcheck >/dev/null; then
  CASE=shellcheck OUT="" ERR=$(shellcheck "$SCRIPT" "$0" 2>&1)
  RC=$?
  check "shellcheck scripts/bind-nic.sh tests/bind-nic/test.sh" rc_is 0
else
  echo "bind-nic: shellcheck not installed, lint skipped"
fi

if ((FAIL)); then
  echo "bind-nic: $FAIL of $((PASS + FAIL)) checks FAILED"
  exit 1
fi
echo "bind-nic: $PASS checks passed"
