#!/usr/bin/env bash
# bind-nic.sh: prepares a tstat-dpdk capture host. Reserves hugepages (2 MB and 1 GB, per NUMA
# node), loads vfio-pci (or uio_pci_generic), hands NICs to it, gives them back to their kernel
# driver, and shows what is bound where. `bind-nic.sh --help` for the usage; scripts/README.md
# for examples and what it never does.
#
# Every path it reads or writes lies under three roots, /sys, /proc and /dev unless overridden,
# and every external command is named by a variable, so that tests/bind-nic/test.sh can run it
# against a fake tree:
#   BIND_NIC_SYSFS, BIND_NIC_PROCFS, BIND_NIC_DEVFS   the roots
#   BIND_NIC_STATE_DIR     where original drivers are remembered (/run/tstat-dpdk/bind-nic)
#   BIND_NIC_MODPROBE, BIND_NIC_IP, BIND_NIC_MOUNT    the commands (modprobe, ip, mount)
#   BIND_NIC_EUID          the user id to assume (tests only)
#   BIND_NIC_TEST_KERNEL   a command run as `CMD PATH VALUE` after each write into sysfs, standing
#                          in for the kernel's reaction to it (tests only; never set it otherwise)
set -euo pipefail

PROG=bind-nic.sh
SYSFS=${BIND_NIC_SYSFS:-/sys}
PROCFS=${BIND_NIC_PROCFS:-/proc}
DEVFS=${BIND_NIC_DEVFS:-/dev}
STATE_DIR=${BIND_NIC_STATE_DIR:-/run/tstat-dpdk/bind-nic}
MODPROBE=${BIND_NIC_MODPROBE:-modprobe}
IP=${BIND_NIC_IP:-ip}
MOUNT=${BIND_NIC_MOUNT:-mount}
RUN_UID=${BIND_NIC_EUID:-$EUID}
KERNEL_HOOK=${BIND_NIC_TEST_KERNEL:-}

# What binding reserves when --hugepages is not given: 2 GiB of 2 MB pages on each NIC's node.
DEFAULT_HUGEPAGES=2M:1024
# Drivers that hand a device to user space; a device on one of these is "DPDK-bound".
DPDK_DRIVERS=" vfio-pci uio_pci_generic igb_uio "

usage() {
  cat <<'EOF'
Usage: bind-nic.sh [options] DEVICE...           bind NICs to vfio-pci (and reserve hugepages)
       bind-nic.sh --unbind [options] DEVICE...  give NICs back to their kernel driver
       bind-nic.sh --hugepages SPEC [options]    only reserve hugepages
       bind-nic.sh --status                      show NICs, drivers, IOMMU, hugepages

DEVICE is a PCI address (0000:03:00.0, or 03:00.0 for domain 0000) or the kernel name of a
NIC's interface (eth1).

Options:
  --driver NAME     vfio-pci (default) or uio_pci_generic (no IOMMU protection)
  --hugepages SPEC  SIZE:COUNT[,SIZE:COUNT] with SIZE 2M or 1G: reserve COUNT pages of that
                    size on every NUMA node (only on --numa-node K if given); 0 frees them.
                    Binding without this option makes sure of 2M:1024 (2 GiB) on the NUMA node
                    of each NIC, never lowering a larger reservation
  --numa-node K     reserve hugepages on NUMA node K only
  --no-hugepages    bind without touching hugepages
  --no-mount        do not mount hugetlbfs where no mount exists for a page size
  --state-dir DIR   where the driver each NIC had before binding is remembered
                    (default /run/tstat-dpdk/bind-nic)
  -f, --force       bind a NIC even if its interface is up, has addresses, carries the default
                    route or belongs to a bond or bridge
  -n, --dry-run     make every check, print every action (sysfs write, modprobe, mount)
                    instead of doing it; needs no root
  -u, --unbind      give the NICs back to the driver they had before binding (or, if that is
                    not known, to whichever kernel driver claims them)
  --status          list PCI network devices (address, vendor:device, NUMA node, driver,
                    interface, default route/addresses/up), the IOMMU state, hugepages per size
                    and NUMA node, and hugetlbfs mounts
  -h, --help        this text

Examples:
  bind-nic.sh --status
  bind-nic.sh --dry-run 03:00.0 03:00.1
  bind-nic.sh 0000:03:00.0 0000:03:00.1
  bind-nic.sh --hugepages 2M:2048,1G:8 --numa-node 1 0000:82:00.0
  bind-nic.sh --unbind 03:00.0 03:00.1

Exit status: 0 done; 1 refused or failed (one line on stderr names the cause and what to do);
2 bad usage.
EOF
}

die() {
  printf '%s: %s\n' "$PROG" "$*" >&2
  exit 1
}
usage_error() {
  printf '%s: %s (see %s --help)\n' "$PROG" "$*" "$PROG" >&2
  exit 2
}
warn() { printf '%s: warning: %s\n' "$PROG" "$*" >&2; }
say() { printf '%s\n' "$*"; }

# Every change is announced; under --dry-run it is only announced.
action() {
  if ((DRY_RUN)); then printf 'dry-run: %s\n' "$*"; else printf '+ %s\n' "$*"; fi
}

# First line of FILE, or nothing if it is not a readable regular file.
read_first() {
  local line=''
  if [[ -f $1 && -r $1 ]]; then IFS= read -r line <"$1" || true; fi
  printf '%s' "$line"
}

# Writes VALUE (and a newline) into the sysfs/procfs attribute PATH, as `echo VALUE > PATH`.
sysfs_write() {
  local path=$1 value=$2 err
  action "echo${value:+ $value} > $path"
  if ((DRY_RUN)); then return 0; fi
  # sysfs attributes always exist; a missing one means an old kernel or a wrong path, and
  # writing would only create a stray file in a fake tree.
  [[ -e $path ]] || die "cannot write $path: it does not exist (kernel without this sysfs attribute?)"
  if ! err=$({ printf '%s\n' "$value" >"$path"; } 2>&1); then
    die "cannot write '$value' to $path: ${err##*: }; the kernel log may say why (dmesg | tail)"
  fi
  if [[ -n $KERNEL_HOOK ]]; then "$KERNEL_HOOK" "$path" "$value"; fi
}

is_dpdk_driver() { [[ -n $1 && $DPDK_DRIVERS == *" $1 "* ]]; }

# ---- PCI devices ---------------------------------------------------------------------------------

# The directory of each PCI device is $DEVICES/<address>.
DEVICES=$SYSFS/bus/pci/devices

dev_driver() {
  local link
  link=$DEVICES/$1/driver
  if [[ -L $link ]]; then
    link=$(readlink "$link")
    printf '%s' "${link##*/}"
  fi
}

# Interfaces of a device, space separated (virtio NICs keep theirs one level down).
dev_ifaces() {
  local d dir names=()
  dir=$DEVICES/$1
  for d in "$dir"/net/* "$dir"/virtio*/net/*; do
    if [[ -e $d ]]; then names+=("${d##*/}"); fi
  done
  printf '%s' "${names[*]}"
}

iface_dir() {
  local d dir
  dir=$DEVICES/$1
  for d in "$dir/net/$2" "$dir"/virtio*/net/"$2"; do
    if [[ -d $d ]]; then
      printf '%s' "$d"
      return 0
    fi
  done
}

dev_numa() {
  local n
  n=$(read_first "$DEVICES/$1/numa_node")
  printf '%s' "${n:--1}"
}

is_net_device() { [[ $(read_first "$DEVICES/$1/class") == 0x02* ]]; }

pci_addresses() {
  local d
  for d in "$SYSFS"/bus/pci/devices/*; do
    if [[ -e $d ]]; then printf '%s\n' "${d##*/}"; fi
  done
}

# Turns DEVICE (full or short PCI address, or interface name) into a full PCI address.
resolve_device() {
  local arg=$1 a addr
  a=${arg,,}
  if [[ $a =~ ^[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$ ]]; then a=0000:$a; fi
  if [[ $a =~ ^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$ ]]; then
    [[ -e $DEVICES/$a ]] ||
      die "no such PCI device $a (nothing at $SYSFS/bus/pci/devices/$a); bind-nic.sh --status lists the network devices"
    RESOLVED=$a
    return 0
  fi
  if [[ $arg =~ ^[A-Za-z0-9_.:@-]+$ && $arg != *:* ]]; then
    while IFS= read -r addr; do
      if [[ -n $(iface_dir "$addr" "$arg") ]]; then
        RESOLVED=$addr
        return 0
      fi
    done < <(pci_addresses)
  fi
  die "'$arg' is neither a PCI address (0000:03:00.0 or 03:00.0) nor the interface of a PCI device; bind-nic.sh --status lists them"
}

# ---- interfaces: in use by the kernel? -------------------------------------------------------------

default_route_ifaces() {
  if [[ -r $PROCFS/net/route ]]; then
    awk 'NR > 1 && $2 == "00000000" && $8 == "00000000" { print $1 }' "$PROCFS/net/route"
  fi
  if [[ -r $PROCFS/net/ipv6_route ]]; then
    awk '$1 == "00000000000000000000000000000000" && $2 == "00" && $10 != "lo" { print $10 }' \
      "$PROCFS/net/ipv6_route"
  fi
}

# Read once per run: " eth0 eth6 ".
DEFAULT_ROUTE_IFACES=""
carries_default_route() {
  if [[ -z $DEFAULT_ROUTE_IFACES ]]; then DEFAULT_ROUTE_IFACES=" $(default_route_ifaces | tr '\n' ' ') "; fi
  [[ $DEFAULT_ROUTE_IFACES == *" $1 "* ]]
}

have_ip() { command -v "$IP" >/dev/null 2>&1; }

# Addresses of an interface, one per line, IPv6 link-local ones left out (the kernel adds those
# to any interface that is up; they carry no configured traffic).
iface_addrs() {
  "$IP" -o addr show dev "$1" 2>/dev/null |
    awk '{ for (i = 1; i < NF; i++) if ($i == "inet" || $i == "inet6") print $(i + 1) }' |
    grep -vi '^fe80:' || true
}

iface_is_up() {
  local flags
  flags=$(read_first "$1/flags")
  [[ $flags =~ ^0x[0-9a-fA-F]+$ ]] && ((flags & 1))
}

iface_master() {
  if [[ -L $1/master ]]; then
    local m
    m=$(readlink "$1/master")
    printf '%s' "${m##*/}"
  fi
}

# Refuses (unless --force) a device whose interface the kernel is using.
check_not_busy() {
  local addr=$1 ifc dir why='' what master addrs
  for ifc in $(dev_ifaces "$addr"); do
    dir=$(iface_dir "$addr" "$ifc")
    if carries_default_route "$ifc"; then
      why="its interface $ifc carries the default route (binding it cuts this machine off the network)"
      what="choose another NIC"
    elif ! have_ip; then
      why="cannot tell whether its interface $ifc has addresses: '$IP' not found"
      what="install iproute2"
    elif addrs=$(iface_addrs "$ifc") && [[ -n $addrs ]]; then
      why="its interface $ifc has addresses ($(tr '\n' ' ' <<<"$addrs" | sed 's/ $//'))"
      what="remove them and bring it down (ip addr flush dev $ifc; ip link set $ifc down)"
    elif master=$(iface_master "$dir") && [[ -n $master ]]; then
      why="its interface $ifc is enslaved to $master"
      what="take it out of $master (ip link set $ifc nomaster)"
    elif iface_is_up "$dir"; then
      why="its interface $ifc is up (in use by the kernel)"
      what="bring it down (ip link set $ifc down)"
    else
      continue
    fi
    if ((FORCE)); then
      warn "$addr: $why; binding anyway (--force)"
    else
      die "refusing $addr: device busy: $why; $what, or pass --force"
    fi
  done
}

# ---- IOMMU and driver modules ------------------------------------------------------------------------

iommu_groups_count() {
  local n=0 g
  for g in "$SYSFS"/kernel/iommu_groups/*; do
    if [[ -e $g ]]; then n=$((n + 1)); fi
  done
  printf '%s' "$n"
}

noiommu_mode() { [[ $(read_first "$SYSFS/module/vfio/parameters/enable_unsafe_noiommu_mode") == [Yy1]* ]]; }

dev_iommu_group() {
  local link
  link=$DEVICES/$1/iommu_group
  if [[ -L $link ]]; then
    link=$(readlink "$link")
    printf '%s' "${link##*/}"
  fi
}

check_iommu() {
  local addr=$1 group other odrv
  if (($(iommu_groups_count) == 0)); then
    if noiommu_mode; then
      warn "no IOMMU, vfio in unsafe no-IOMMU mode: $addr can DMA anywhere in memory"
      return 0
    fi
    die "no IOMMU: $SYSFS/kernel/iommu_groups is empty, so vfio-pci cannot take $addr; enable VT-d/AMD-Vi in the firmware and boot with intel_iommu=on iommu=pt (amd_iommu=on iommu=pt on AMD), or use --driver uio_pci_generic, or vfio's unsafe no-IOMMU mode (modprobe vfio enable_unsafe_noiommu_mode=1)"
  fi
  group=$(dev_iommu_group "$addr")
  if [[ -z $group ]]; then
    noiommu_mode && return 0
    die "$addr is in no IOMMU group although the IOMMU is on; check dmesg for DMAR/AMD-Vi errors, or use --driver uio_pci_generic"
  fi
  # vfio hands out whole groups: DPDK cannot open the group while another member stays with a
  # kernel driver (bridges excepted).
  for other in "$SYSFS/kernel/iommu_groups/$group/devices"/*; do
    [[ -e $other ]] || continue
    other=${other##*/}
    [[ $other == "$addr" || " ${BIND_LIST[*]} " == *" $other "* ]] && continue
    odrv=$(dev_driver "$other")
    if [[ -n $odrv && $odrv != vfio-pci && $odrv != pcieport ]]; then
      warn "IOMMU group $group also holds $other (driver $odrv): DPDK can use the group only once every device in it is bound to vfio-pci or to no driver; bind $other too"
    fi
  done
}

# Makes sure the kernel driver DRV is registered, loading its module (named like the driver:
# modprobe treats - and _ alike) if needed.
ensure_driver() {
  local drv=$1 err todo
  [[ -d $SYSFS/bus/pci/drivers/$drv ]] && return 0
  todo="install the modules of the running kernel (linux-image-$(uname -r))"
  if is_dpdk_driver "$drv"; then todo+=", or try --driver uio_pci_generic"; fi
  if ((DRY_RUN)); then
    # modprobe -n resolves the module without loading it: a missing module shows even now.
    if ! err=$("$MODPROBE" -n "$drv" 2>&1); then
      die "kernel module $drv missing: modprobe -n $drv failed (${err:-no output}); $todo"
    fi
    action "$MODPROBE $drv"
    return 0
  fi
  action "$MODPROBE $drv"
  if ! err=$("$MODPROBE" "$drv" 2>&1); then
    die "kernel module $drv missing: modprobe $drv failed (${err:-no output}); $todo"
  fi
  [[ -d $SYSFS/bus/pci/drivers/$drv ]] ||
    die "modprobe $drv succeeded but no driver $drv appeared in $SYSFS/bus/pci/drivers; check dmesg"
}

# ---- state: the driver each NIC had before we took it ------------------------------------------

state_file() { printf '%s/%s' "$STATE_DIR" "$1"; }

state_get() { # ADDR KEY
  local f
  f=$(state_file "$1")
  if [[ -r $f ]]; then sed -n "s/^$2=//p" "$f" | head -n 1; fi
}

state_save() { # ADDR DRIVER IFACES
  local f
  f=$(state_file "$1")
  action "remember $1: driver=${2:-none} interfaces=${3:-none} in $f"
  if ((DRY_RUN)); then return 0; fi
  mkdir -p "$STATE_DIR" || die "cannot create the state directory $STATE_DIR; pass --state-dir DIR"
  printf 'driver=%s\ninterfaces=%s\n' "${2:-none}" "${3:-none}" >"$f" ||
    die "cannot write $f; pass --state-dir DIR"
}

state_forget() {
  local f
  f=$(state_file "$1")
  [[ -e $f ]] || return 0
  action "rm $f"
  if ((DRY_RUN)); then return 0; fi
  rm -f "$f"
}

# ---- hugepages ---------------------------------------------------------------------------------------

node_ids() {
  local d
  for d in "$SYSFS"/devices/system/node/node[0-9]*; do
    if [[ -d $d ]]; then printf '%s\n' "${d##*node}"; fi
  done | sort -n
}

# Page sizes (kB) the kernel offers, smallest first.
hugepage_sizes() {
  local d kb
  for d in "$SYSFS"/kernel/mm/hugepages/hugepages-*kB; do
    if [[ -d $d ]]; then
      kb=${d##*hugepages-}
      printf '%s\n' "${kb%kB}"
    fi
  done | sort -n
}

# Directory of the pool of KB-sized pages on NODE ("" for the machine-wide pool).
hp_dir() {
  if [[ -z $1 ]]; then
    printf '%s/kernel/mm/hugepages/hugepages-%skB' "$SYSFS" "$2"
  else
    printf '%s/devices/system/node/node%s/hugepages/hugepages-%skB' "$SYSFS" "$1" "$2"
  fi
}

size_name() { if (($1 >= 1048576)); then printf '%sG' $(($1 / 1048576)); else printf '%sM' $(($1 / 1024)); fi; }
node_name() { if [[ -z $1 ]]; then printf 'machine-wide'; else printf 'node %s' "$1"; fi; }

# Parses SPEC into HP_KB/HP_COUNT.
parse_hugepages() {
  local item kb n unit items
  HP_KB=() HP_COUNT=()
  IFS=, read -ra items <<<"$1"
  ((${#items[@]})) || usage_error "empty --hugepages"
  for item in "${items[@]}"; do
    [[ $item =~ ^([0-9]+)([kKmMgG])[bB]?:([0-9]+)$ ]] ||
      usage_error "invalid --hugepages '$item': expected SIZE:COUNT, SIZE 2M or 1G, e.g. 2M:1024,1G:4"
    n=$((10#${BASH_REMATCH[1]}))
    unit=${BASH_REMATCH[2],,}
    case $unit in
      k) kb=$n ;;
      m) kb=$((n * 1024)) ;;
      g) kb=$((n * 1048576)) ;;
    esac
    [[ $kb == 2048 || $kb == 1048576 ]] ||
      usage_error "unsupported hugepage size '${item%%:*}': x86-64 has 2M and 1G pages"
    HP_KB+=("$kb")
    HP_COUNT+=("$((10#${BASH_REMATCH[3]}))")
  done
}

# Sets HP_TARGETS: the NUMA nodes ("" = machine-wide pool) to reserve on, checking that every
# requested size exists there.
plan_hugepages() {
  local nodes kb t n flags
  mapfile -t nodes < <(node_ids)
  HP_TARGETS=()
  if [[ -n $NUMA_NODE ]]; then
    [[ -d $SYSFS/devices/system/node/node$NUMA_NODE ]] ||
      die "no NUMA node $NUMA_NODE here (nodes: ${nodes[*]:-none}); pick one of them or leave out --numa-node"
    HP_TARGETS=("$NUMA_NODE")
  elif ((HP_DEFAULT)); then
    # Binding: the nodes the NICs sit on (their RX queues' mbufs belong there).
    for t in "${BIND_LIST[@]}"; do
      n=$(dev_numa "$t")
      if [[ $n =~ ^[0-9]+$ && -d $SYSFS/devices/system/node/node$n && " ${HP_TARGETS[*]} " != *" $n "* ]]; then
        HP_TARGETS+=("$n")
      fi
    done
    ((${#HP_TARGETS[@]})) || HP_TARGETS=("")
  elif ((${#nodes[@]})); then
    HP_TARGETS=("${nodes[@]}")
  else
    HP_TARGETS=("")
  fi
  for kb in "${HP_KB[@]}"; do
    if [[ ! -d $(hp_dir "" "$kb") ]]; then
      if ((kb == 1048576)); then
        flags=$(grep -m1 '^flags' "$PROCFS/cpuinfo" 2>/dev/null || true)
        if [[ -n $flags && " $flags " != *" pdpe1gb "* ]]; then
          die "1 GB hugepages not supported: the CPU does not offer pdpe1gb (common in VMs) and $(hp_dir "" "$kb") does not exist; use 2M pages (--hugepages 2M:N)"
        fi
        die "1 GB hugepages not supported: $(hp_dir "" "$kb") does not exist; boot with hugepagesz=1G hugepages=N (kernel command line), or use 2M pages (--hugepages 2M:N)"
      fi
      die "hugepages not supported: $(hp_dir "" "$kb") does not exist (kernel without CONFIG_HUGETLBFS?)"
    fi
    for t in "${HP_TARGETS[@]}"; do
      [[ -f $(hp_dir "$t" "$kb")/nr_hugepages ]] ||
        die "$(node_name "$t") has no pool of $(size_name "$kb") pages ($(hp_dir "$t" "$kb")/nr_hugepages missing); pick another --numa-node"
    done
  done
}

# Mount point of a hugetlbfs for KB-sized pages, if one is mounted.
hugetlbfs_mount() {
  local def
  def=$(awk '/^Hugepagesize:/ { print $2 }' "$PROCFS/meminfo" 2>/dev/null || true)
  [[ -r $PROCFS/mounts ]] || return 0
  awk -v want="$1" -v def="${def:-2048}" '
    $3 == "hugetlbfs" {
      kb = def; n = split($4, o, ",")
      for (i = 1; i <= n; i++) if (o[i] ~ /^pagesize=/) {
        v = substr(o[i], 10); u = toupper(substr(v, length(v))); x = v + 0
        kb = (u == "G") ? x * 1048576 : (u == "M") ? x * 1024 : x
      }
      if (kb == want) { print $2; exit }
    }' "$PROCFS/mounts"
}

is_mounted() { [[ -r $PROCFS/mounts ]] && awk -v p="$1" '$2 == p { f = 1 } END { exit !f }' "$PROCFS/mounts"; }

ensure_hugetlbfs() {
  local kb=$1 mp err
  mp=$(hugetlbfs_mount "$kb")
  if [[ -n $mp ]]; then
    say "hugetlbfs for $(size_name "$kb") pages: mounted at $mp"
    return 0
  fi
  if ((kb == 2048)) && ! is_mounted "$DEVFS/hugepages"; then
    mp=$DEVFS/hugepages
  else
    mp=$DEVFS/hugepages-$(size_name "$kb")
  fi
  if [[ ! -d $mp ]]; then
    action "mkdir -p $mp"
    if ((!DRY_RUN)); then mkdir -p "$mp" || die "cannot create $mp for hugetlbfs; pass --no-mount"; fi
  fi
  action "$MOUNT -t hugetlbfs -o pagesize=$(size_name "$kb") nodev $mp"
  if ((DRY_RUN)); then return 0; fi
  if ! err=$("$MOUNT" -t hugetlbfs -o "pagesize=$(size_name "$kb")" nodev "$mp" 2>&1); then
    die "cannot mount hugetlbfs at $mp (${err:-no output}); mount it yourself or pass --no-mount (DPDK's --in-memory needs no mount)"
  fi
}

reserve_hugepages() {
  local i kb want t f cur got
  for i in "${!HP_KB[@]}"; do
    kb=${HP_KB[i]} want=${HP_COUNT[i]}
    for t in "${HP_TARGETS[@]}"; do
      f=$(hp_dir "$t" "$kb")/nr_hugepages
      cur=$(read_first "$f")
      [[ $cur =~ ^[0-9]+$ ]] || cur=0
      if ((cur == want || (HP_DEFAULT && cur >= want))); then
        say "hugepages: $(node_name "$t"): $cur pages of $(size_name "$kb") reserved already"
        continue
      fi
      sysfs_write "$f" "$want"
      if ((DRY_RUN)); then continue; fi
      got=$(read_first "$f")
      [[ $got =~ ^[0-9]+$ ]] || got=0
      if ((got < want)); then
        die "only $got of $want pages of $(size_name "$kb") could be reserved on $(node_name "$t"): memory is too fragmented; ask for fewer, free memory (echo 3 > /proc/sys/vm/drop_caches) and retry, or reserve them at boot (hugepagesz=$(size_name "$kb") hugepages=N)"
      fi
      say "hugepages: $(node_name "$t"): $got pages of $(size_name "$kb") reserved"
    done
    if ((want > 0 && !NO_MOUNT)); then ensure_hugetlbfs "$kb"; fi
  done
}

# ---- bind, unbind ------------------------------------------------------------------------------------

preflight_bind() {
  local addr=$1 cur
  is_net_device "$addr" ||
    die "$addr is not a network device (PCI class $(read_first "$DEVICES/$addr/class")); bind-nic.sh only binds NICs, see bind-nic.sh --status"
  cur=$(dev_driver "$addr")
  [[ $cur != "$DRIVER" ]] ||
    die "$addr is already bound to $DRIVER; nothing to do (bind-nic.sh --unbind $addr gives it back to its kernel driver)"
  [[ -e $DEVICES/$addr/driver_override ]] ||
    die "$addr has no driver_override attribute (kernel older than 3.15?); use dpdk-devbind.py, which falls back to new_id"
  check_not_busy "$addr"
  if [[ $DRIVER == vfio-pci ]]; then check_iommu "$addr"; fi
}

bind_one() {
  local addr=$1 cur dev now
  dev=$DEVICES/$addr
  cur=$(dev_driver "$addr")
  # Rebinding from one DPDK driver to another keeps the original kernel driver on record.
  if ! is_dpdk_driver "$cur" || [[ ! -e $(state_file "$addr") ]]; then
    state_save "$addr" "$cur" "$(dev_ifaces "$addr")"
  fi
  sysfs_write "$dev/driver_override" "$DRIVER"
  if [[ -n $cur ]]; then sysfs_write "$SYSFS/bus/pci/drivers/$cur/unbind" "$addr"; fi
  sysfs_write "$SYSFS/bus/pci/drivers_probe" "$addr"
  if ((DRY_RUN)); then return 0; fi
  now=$(dev_driver "$addr")
  if [[ $now != "$DRIVER" ]]; then
    # Put it back where it was, so that a failed bind leaves the machine as it found it.
    sysfs_write "$dev/driver_override" ""
    if [[ -n $cur && -z $now ]]; then sysfs_write "$SYSFS/bus/pci/drivers/$cur/bind" "$addr"; fi
    die "$addr did not bind to $DRIVER (driver now: $(dev_driver "$addr" || true)); the kernel log says why (dmesg | tail)"
  fi
  say "$addr: ${cur:-no driver} -> $DRIVER"
}

# Processes that hold the device's user-space handle (/dev/vfio/GROUP or /dev/uioN) open.
holders() {
  local addr=$1 node='' u pid fd
  if [[ $(dev_driver "$addr") == vfio-pci ]]; then
    node=$DEVFS/vfio/$(dev_iommu_group "$addr")
    # In no-IOMMU mode the group node is noiommu-N.
    if [[ ! -e $node && -e $DEVFS/vfio/noiommu-$(dev_iommu_group "$addr") ]]; then
      node=$DEVFS/vfio/noiommu-$(dev_iommu_group "$addr")
    fi
  else
    for u in "$DEVICES/$addr"/uio/uio*; do
      if [[ -e $u ]]; then node=$DEVFS/${u##*/}; fi
    done
  fi
  [[ -n $node ]] || return 0
  for fd in "$PROCFS"/[0-9]*/fd/*; do
    if [[ -L $fd && $(readlink "$fd" 2>/dev/null) == "$node" ]]; then
      pid=${fd#"$PROCFS"/}
      pid=${pid%%/*}
      printf '%s (%s) holds %s\n' "$pid" "$(read_first "$PROCFS/$pid/comm")" "$node"
      return 0
    fi
  done
}

preflight_unbind() {
  local addr=$1 cur held
  cur=$(dev_driver "$addr")
  is_dpdk_driver "$cur" ||
    die "$addr is not bound to a DPDK driver (driver: ${cur:-none}); nothing to give back"
  held=$(holders "$addr")
  [[ -z $held ]] ||
    die "device busy: $addr is in use, process ${held}; stop it first (tstat-dpdk stop), then --unbind"
}

unbind_one() {
  local addr=$1 cur orig dev now ifcs
  dev=$DEVICES/$addr
  cur=$(dev_driver "$addr")
  orig=$(state_get "$addr" driver)
  [[ $orig != none ]] || orig=
  sysfs_write "$dev/driver_override" ""
  sysfs_write "$SYSFS/bus/pci/drivers/$cur/unbind" "$addr"
  if [[ -n $orig ]] && ! is_dpdk_driver "$orig"; then
    ensure_driver "$orig"
    sysfs_write "$SYSFS/bus/pci/drivers/$orig/bind" "$addr"
  else
    # Nothing on record: let the kernel match the device against its drivers' ID tables.
    sysfs_write "$SYSFS/bus/pci/drivers_probe" "$addr"
  fi
  state_forget "$addr"
  if ((DRY_RUN)); then return 0; fi
  now=$(dev_driver "$addr")
  if [[ -n $orig && $now != "$orig" ]]; then
    die "$addr did not go back to $orig (driver now: ${now:-none}); the kernel log says why (dmesg | tail)"
  fi
  ifcs=$(dev_ifaces "$addr")
  say "$addr: $cur -> ${now:-no driver}${ifcs:+ ($ifcs)}"
  [[ -n $now ]] || warn "$addr: no kernel driver claimed it; load its driver and run: echo $addr > $SYSFS/bus/pci/drivers_probe"
}

# ---- status ------------------------------------------------------------------------------------------

status() {
  local addr dev vd numa drv ifcs notes ifc dir defaults addrs orig kb d t n free mp joined
  defaults=" $(default_route_ifaces | tr '\n' ' ') "
  say "Network devices ($SYSFS/bus/pci/devices, class 0x02):"
  printf '%-13s %-10s %-5s %-16s %-12s %s\n' "PCI address" vendor:dev NUMA driver interface notes
  n=0
  while IFS= read -r addr; do
    is_net_device "$addr" || continue
    n=$((n + 1))
    dev=$DEVICES/$addr
    vd=$(read_first "$dev/vendor"):$(read_first "$dev/device")
    vd=${vd//0x/}
    numa=$(dev_numa "$addr")
    [[ $numa != -1 ]] || numa=-
    drv=$(dev_driver "$addr")
    ifcs=$(dev_ifaces "$addr")
    notes=()
    for ifc in $ifcs; do
      dir=$(iface_dir "$addr" "$ifc")
      if [[ $defaults == *" $ifc "* ]]; then notes+=("$ifc: default route"); fi
      if have_ip; then
        addrs=$(iface_addrs "$ifc" | tr '\n' ' ' | sed 's/ $//')
        if [[ -n $addrs ]]; then notes+=("$ifc: addresses $addrs"); fi
      fi
      if iface_is_up "$dir"; then notes+=("$ifc: up"); fi
      if [[ -n $(iface_master "$dir") ]]; then notes+=("$ifc: in $(iface_master "$dir")"); fi
    done
    if is_dpdk_driver "$drv"; then
      orig=$(state_get "$addr" driver)
      if [[ -n $orig ]]; then
        notes+=("DPDK; was $orig ($(state_get "$addr" interfaces))")
      else
        notes+=("DPDK")
      fi
    fi
    joined=""
    for ifc in "${notes[@]}"; do joined+="${joined:+; }$ifc"; done
    printf '%-13s %-10s %-5s %-16s %-12s %s\n' "$addr" "$vd" "$numa" "${drv:--}" "${ifcs:--}" "$joined" |
      sed 's/ *$//'
  done < <(pci_addresses)
  ((n)) || say "  (none)"

  say ""
  n=$(iommu_groups_count)
  if ((n)); then
    say "IOMMU: on ($n groups)"
  elif noiommu_mode; then
    say "IOMMU: off; vfio in unsafe no-IOMMU mode"
  else
    say "IOMMU: off (vfio-pci cannot bind; boot with intel_iommu=on iommu=pt, or use uio_pci_generic)"
  fi
  for d in vfio-pci uio_pci_generic; do
    if [[ -d $SYSFS/bus/pci/drivers/$d ]]; then say "driver $d: loaded"; else say "driver $d: not loaded"; fi
  done

  say ""
  say "Hugepages:"
  printf '%-6s %-13s %8s %8s\n' size pool reserved free
  for kb in $(hugepage_sizes); do
    for t in "" $(node_ids); do
      [[ -d $(hp_dir "$t" "$kb") ]] || continue
      n=$(read_first "$(hp_dir "$t" "$kb")/nr_hugepages")
      free=$(read_first "$(hp_dir "$t" "$kb")/free_hugepages")
      printf '%-6s %-13s %8s %8s\n' "$(size_name "$kb")" "$(node_name "$t")" "${n:-?}" "${free:-?}"
    done
  done
  if [[ ! -d $SYSFS/kernel/mm/hugepages/hugepages-1048576kB ]]; then say "(no 1G pages on this machine)"; fi
  for kb in 2048 1048576; do
    [[ -d $(hp_dir "" "$kb") ]] || continue
    mp=$(hugetlbfs_mount "$kb")
    say "hugetlbfs $(size_name "$kb"): ${mp:-not mounted}"
  done
}

# ---- main --------------------------------------------------------------------------------------------

DRY_RUN=0 FORCE=0 MODE=bind DRIVER=vfio-pci HUGEPAGES="" NUMA_NODE="" NO_MOUNT=0 NO_HUGEPAGES=0
ARGS=() BIND_LIST=() HP_KB=() HP_COUNT=() HP_TARGETS=() HP_DEFAULT=0 STATUS=0 UNBIND=0
RESOLVED=""

need_value() { [[ $# -ge 2 && -n $2 ]] || usage_error "$1 needs a value"; }

while (($#)); do
  case $1 in
    -h | --help)
      usage
      exit 0
      ;;
    -n | --dry-run) DRY_RUN=1 ;;
    -f | --force) FORCE=1 ;;
    -u | --unbind) UNBIND=1 ;;
    --status) STATUS=1 ;;
    --no-mount) NO_MOUNT=1 ;;
    --no-hugepages) NO_HUGEPAGES=1 ;;
    --driver | --hugepages | --numa-node | --state-dir)
      need_value "$@"
      set -- "$1=$2" "${@:3}"
      continue
      ;;
    --driver=*) DRIVER=${1#*=} ;;
    --hugepages=*) HUGEPAGES=${1#*=} ;;
    --numa-node=*) NUMA_NODE=${1#*=} ;;
    --state-dir=*) STATE_DIR=${1#*=} ;;
    --)
      shift
      ARGS+=("$@")
      break
      ;;
    -*) usage_error "unknown option '$1'" ;;
    *) ARGS+=("$1") ;;
  esac
  shift
done

case $DRIVER in
  vfio-pci | uio_pci_generic) ;;
  vfio_pci) DRIVER=vfio-pci ;;
  *) usage_error "unsupported --driver '$DRIVER': use vfio-pci or uio_pci_generic" ;;
esac
[[ -z $NUMA_NODE || $NUMA_NODE =~ ^[0-9]+$ ]] || usage_error "invalid --numa-node '$NUMA_NODE': expected a node number"
[[ -n $STATE_DIR ]] || usage_error "empty --state-dir"

if ((STATUS)); then
  if ((${#ARGS[@]} || UNBIND)) || [[ -n $HUGEPAGES ]]; then
    usage_error "--status takes no device and no other action"
  fi
  status
  exit 0
fi
if ((UNBIND)); then
  ((${#ARGS[@]})) || usage_error "--unbind needs at least one device"
  [[ -z $HUGEPAGES && -z $NUMA_NODE ]] || usage_error "--unbind does not take --hugepages or --numa-node"
  MODE=unbind
fi
((${#ARGS[@]})) || [[ -n $HUGEPAGES ]] ||
  usage_error "nothing to do: give devices to bind, --hugepages, --unbind DEVICE or --status"
if [[ -n $HUGEPAGES && $NO_HUGEPAGES == 1 ]]; then usage_error "--hugepages and --no-hugepages contradict each other"; fi
if [[ -n $NUMA_NODE && -z $HUGEPAGES && $NO_HUGEPAGES == 1 ]]; then usage_error "--numa-node only applies to hugepages"; fi

if ((!DRY_RUN)) && [[ $RUN_UID != 0 ]]; then
  die "not root (uid $RUN_UID): writing to $SYSFS needs root; rerun with sudo, or add --dry-run to only print the actions"
fi

for arg in "${ARGS[@]}"; do
  resolve_device "$arg"
  if [[ " ${BIND_LIST[*]} " != *" $RESOLVED "* ]]; then BIND_LIST+=("$RESOLVED"); fi
done

if [[ $MODE == unbind ]]; then
  for addr in "${BIND_LIST[@]}"; do preflight_unbind "$addr"; done
  for addr in "${BIND_LIST[@]}"; do unbind_one "$addr"; done
  exit 0
fi

# Bind: check everything first, so that a refusal changes nothing.
if [[ -n $HUGEPAGES ]]; then
  parse_hugepages "$HUGEPAGES"
elif ((${#BIND_LIST[@]} && !NO_HUGEPAGES)); then
  parse_hugepages "$DEFAULT_HUGEPAGES"
  HP_DEFAULT=1
fi
for addr in "${BIND_LIST[@]}"; do preflight_bind "$addr"; done
if ((${#HP_KB[@]})); then plan_hugepages; fi
if [[ $DRIVER == uio_pci_generic && ${#BIND_LIST[@]} -gt 0 ]]; then
  warn "uio_pci_generic gives the NICs DMA access to all memory, unchecked; prefer vfio-pci where there is an IOMMU (with one on, uio needs iommu=pt)"
fi
if ((${#BIND_LIST[@]})); then ensure_driver "$DRIVER"; fi
if ((${#HP_KB[@]})); then reserve_hugepages; fi
for addr in "${BIND_LIST[@]}"; do bind_one "$addr"; done
if ((DRY_RUN)); then say "dry-run: nothing was changed"; fi
