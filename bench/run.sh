#!/usr/bin/env bash
# Compares Skiff with Docker (docker.io from Debian) and Podman on this machine, in one run.
# Needs root. Starts its own dockerd (which starts its own containerd) and skiffd on private
# sockets and data roots, stops them (by PID) at the end, and puts back what the engines leave on
# the host (host-wide state dirs, cgroups, the hugetlb mount crun needs). Prints Markdown on stdout;
# progress goes to stderr. RUNS (default 100) is the number of timed runs per command, after 3 warmups.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-100}
WARMUP=${WARMUP:-3}
NPS=${NPS:-10}   # containers present (created, never started) during the `ps -a` benchmark
export DEBIAN_FRONTEND=noninteractive
need=()
for p in docker.io containerd podman runc crun hyperfine busybox-static jq linux-perf; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; fi
[ -x out/bin/skiffd ] || scripts/build.sh
log() { echo "[bench] $*" >&2; }

work=$(mktemp -d /tmp/skiff-bench.XXXXXX)
# Host-wide paths that podman, crun and containerd create whatever their flags say (state dirs,
# podman's blob-info cache, the CNI lock): the ones that do not exist now are removed at the end.
watch=(/run/crun /run/runc /run/containers /run/libpod /run/containerd /run/docker /var/lib/containers
  /etc/cni/net.d/cni.lock /root/.docker)
absent=()
for p in "${watch[@]}"; do [ -e "$p" ] || absent+=("$p"); done
# Cgroup directories that exist now; new ones (docker/, libpod_parent/, ...) are removed at the end.
find /sys/fs/cgroup -mindepth 2 -type d 2>/dev/null | sort >"$work/cgroups.before"
hugetlb_mounted=0 hugetlb_dir_made=0
. scripts/lib/private-dockerd.sh
pd_init "$work"
cleanup() {
  set +e
  pd_cleanup
  # New cgroups that Docker, Podman and the raw runtimes leave (docker/, libpod_parent/, bench-*),
  # deepest first; rmdir only removes empty ones. Not skiff/: other skiffds may share this host.
  find /sys/fs/cgroup -mindepth 2 -type d 2>/dev/null | sort >"$work/cgroups.after"
  comm -13 "$work/cgroups.before" "$work/cgroups.after" | grep -E '/(docker|libpod_parent)(/|$)|/bench-(skiff|crun|runc)$' |
    awk '{print length, $0}' | sort -rn | cut -d' ' -f2- | while read -r d; do rmdir "$d" 2>/dev/null; done
  find /sys/fs/cgroup -mindepth 2 -type d 2>/dev/null | sort | comm -13 "$work/cgroups.before" - |
    sed 's/^/[bench] cgroup created during the run and still there: /' >&2
  if [ "$hugetlb_mounted" = 1 ]; then
    find /sys/fs/cgroup/hugetlb -mindepth 1 -type d | awk '{print length, $0}' | sort -rn | cut -d' ' -f2- |
      while read -r d; do rmdir "$d" 2>/dev/null; done
    umount /sys/fs/cgroup/hugetlb
  fi
  [ "$hugetlb_dir_made" = 1 ] && rmdir /sys/fs/cgroup/hugetlb
  for p in "${absent[@]}"; do rm -rf "$p"; done
  rm -rf "$work"
}
trap cleanup EXIT

# crun refuses cgroup v1/v2 hybrid mode while a controller (here hugetlb, not mounted as v1) shows
# in cgroup2's cgroup.controllers: mount hugetlb as a v1 hierarchy for the run (undone at the end).
if [ -s /sys/fs/cgroup/unified/cgroup.controllers ] && grep -qw hugetlb /sys/fs/cgroup/unified/cgroup.controllers &&
  ! grep -q ' /sys/fs/cgroup/hugetlb ' /proc/self/mountinfo; then
  [ -d /sys/fs/cgroup/hugetlb ] || { mkdir /sys/fs/cgroup/hugetlb; hugetlb_dir_made=1; }
  mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb
  hugetlb_mounted=1
fi

export DOCKER_CONFIG="$work/docker-config"   # both docker CLIs (and podman, for auth) read it
mkdir -p "$DOCKER_CONFIG" && echo "{}" >"$DOCKER_CONFIG/config.json"
log "starting skiffd"
pd_start_skiffd skiff; SK=$PD_HOST SKPID=$PD_PID
pd_import_busybox "$SK" out/bin/skiff

# Docker (Debian's docker.io: its own dockerd, which starts its own containerd under --exec-root)
log "starting dockerd"
pd_start_dockerd docker; DK=$PD_HOST DKPID=$PD_PID ctrd=$PD_CONTAINERD_PID
pd_import_busybox "$DK" /usr/bin/docker

# Podman (daemonless) with its own storage. Podman asks for RLIMIT_NOFILE 1048576 and its own
# RLIMIT_NPROC, above this machine's hard limits (no CAP_SYS_RESOURCE: crun's setrlimit fails with
# EPERM), so pass the limits the other engines' containers inherit: the hard nofile limit, and
# nproc capped at 32768 (what podman's conmon runs with here).
nproc_hard=$(ulimit -Hu); [ "$nproc_hard" = unlimited ] || [ "$nproc_hard" -gt 32768 ] && nproc_hard=32768
PODMAN=(podman --root "$work/podman/root" --runroot "$work/podman/run" --tmpdir "$work/podman/tmp" --cgroup-manager cgroupfs --events-backend none)
PODRUN=(--ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit "nproc=$nproc_hard:$nproc_hard")
"${PODMAN[@]}" import -q -c 'CMD ["sh"]' "$(pd_busybox_tar)" busybox:latest >/dev/null

# Check that every command works once before timing it (hyperfine's own error hides the message).
check() { "$@" >/dev/null 2>"$work/check.err" || { echo "failed: $*" >&2; cat "$work/check.err" >&2; exit 1; }; }
check out/bin/skiff -H "$SK" run --rm --network none busybox true
check /usr/bin/docker -H "$DK" run --rm --network none busybox true
check "${PODMAN[@]}" run --rm --network none "${PODRUN[@]}" busybox true
check /usr/local/bin/docker -H "$SK" run --rm --network none busybox true
check /usr/local/bin/docker -H "$DK" run --rm --network none busybox true

# hyperfine -> JSON -> a table with mean ± stddev, median, min, max (ms).
table() {
  echo "| command | mean ± σ (ms) | median (ms) | min (ms) | max (ms) | runs |"
  echo "|---|---|---|---|---|---|"
  jq -r '.results[] | "| \(.command) | \(.mean*1000*100|round/100) ± \(.stddev*1000*100|round/100) | \(.median*1000*100|round/100) | \(.min*1000*100|round/100) | \(.max*1000*100|round/100) | \(.times|length) |"' "$1"
}
bench() { # bench NAME [-n label cmd]...
  local name=$1; shift
  log "hyperfine: $name"
  local a=("$@") i
  for ((i = 0; i < ${#a[@]}; i += 3)); do echo "$name / ${a[i+1]}: ${a[i+2]}" >>"$work/commands.txt"; done
  hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --export-json "$work/$name.json" "$@" >"$work/$name.txt"
  cp "$work/$name.json" "${BENCH_OUT:-$work}/$name.json" 2>/dev/null || true
  table "$work/$name.json"
}
rss() { ps -o rss= -p "$1" | tr -d ' '; }

echo "## Machine"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "- nproc: $(nproc); kernel: $(uname -r); memory: $(free -m | awk '/^Mem:/{print $2}') MiB; $(. /etc/os-release; echo "$PRETTY_NAME")"
echo "- load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- skiff: $(out/bin/skiff --version); skiff-runtime: $(out/bin/skiff-runtime --version | head -1)"
echo "- dockerd: $(dockerd --version); containerd: $(containerd --version | awk '{print $3}'); docker CLI: $(/usr/bin/docker --version) and $(/usr/local/bin/docker --version) (/usr/local/bin)"
echo "- podman: $(podman --version); conmon: $(conmon --version | head -1)"
echo "- runc: $(runc --version | head -1); crun: $(crun --version | head -1); hyperfine: $(hyperfine --version)"
echo "- runs per command: $RUNS after $WARMUP warmups (hyperfine -N)"
echo

sleep 2
sk_rss0=$(rss "$SKPID"); dk_rss0=$(rss "$DKPID"); ct_rss0=$([ -n "$ctrd" ] && rss "$ctrd" || echo n/a)

echo "## run --rm --network none busybox true (CLI end to end)"
echo
bench run \
  -n skiff "out/bin/skiff -H $SK run --rm --network none busybox true" \
  -n docker "/usr/bin/docker -H $DK run --rm --network none busybox true" \
  -n podman "${PODMAN[*]} run --rm --network none ${PODRUN[*]} busybox true"

echo
echo "## Docker CLI $(/usr/local/bin/docker --version | awk '{print $3}' | tr -d ,) run --rm --network none busybox true: skiffd vs dockerd"
echo
bench dockercli \
  -n docker-cli-skiffd "/usr/local/bin/docker -H $SK run --rm --network none busybox true" \
  -n docker-cli-dockerd "/usr/local/bin/docker -H $DK run --rm --network none busybox true"

echo
echo "## OCI runtime: run of \`true\` on one busybox bundle"
echo
# runc's default spec, with Docker's device cgroup rules (deny all, allow the default nodes and
# mknod) instead of runc spec's bare deny-all: skiff-runtime applies the bare deny-all before it
# creates /dev/null & co (mknod: EPERM), runc and crun add the default allow rules themselves.
bundle="$work/bundle"
mkdir -p "$bundle/rootfs"
tar -C "$bundle/rootfs" -xf "$(pd_busybox_tar)"
(cd "$bundle" && runc spec && jq '.process.terminal=false | .process.args=["true"] | .linux.resources.devices=[
  {"allow":false,"access":"rwm"},
  {"allow":true,"type":"c","access":"m"}, {"allow":true,"type":"b","access":"m"},
  {"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"}, {"allow":true,"type":"c","major":1,"minor":5,"access":"rwm"},
  {"allow":true,"type":"c","major":1,"minor":7,"access":"rwm"}, {"allow":true,"type":"c","major":1,"minor":8,"access":"rwm"},
  {"allow":true,"type":"c","major":1,"minor":9,"access":"rwm"}, {"allow":true,"type":"c","major":5,"minor":0,"access":"rwm"},
  {"allow":true,"type":"c","major":5,"minor":1,"access":"rwm"}, {"allow":true,"type":"c","major":5,"minor":2,"access":"rwm"},
  {"allow":true,"type":"c","major":136,"access":"rwm"}, {"allow":true,"type":"c","major":10,"minor":200,"access":"rwm"}]' \
  config.json >config.new && mv config.new config.json)
check out/bin/skiff-runtime --root "$work/rt-skiff" run --bundle "$bundle" bench-skiff
check crun --root "$work/rt-crun" run --bundle "$bundle" bench-crun
check runc --root "$work/rt-runc" run --bundle "$bundle" bench-runc
bench runtime \
  -n skiff-runtime "out/bin/skiff-runtime --root $work/rt-skiff run --bundle $bundle bench-skiff" \
  -n crun "crun --root $work/rt-crun run --bundle $bundle bench-crun" \
  -n runc "runc --root $work/rt-runc run --bundle $bundle bench-runc"

echo
echo "## OCI runtime: CPU time and page faults of one \`run\` of \`true\` (perf stat, rounds interleaved)"
echo
# Wall time on a shared 2-vCPU machine mostly measures the other load; the CPU the runtime itself
# spends (task-clock, all its processes) and its page faults hardly depend on it. ROUNDS rounds of
# `perf stat -r PERF_RUNS` per runtime, interleaved, averaged.
ROUNDS=${ROUNDS:-5}; PERF_RUNS=${PERF_RUNS:-20}
rt_cmd() {
  case $1 in
    skiff-runtime) echo "out/bin/skiff-runtime --root $work/rt-skiff run --bundle $bundle bench-skiff" ;;
    crun) echo "crun --root $work/rt-crun run --bundle $bundle bench-crun" ;;
    runc) echo "runc --root $work/rt-runc run --bundle $bundle bench-runc" ;;
  esac
}
for round in $(seq "$ROUNDS"); do
  for rt in skiff-runtime crun runc; do
    # shellcheck disable=SC2046
    perf stat -x, -r "$PERF_RUNS" -e task-clock,page-faults $(rt_cmd $rt) 2>&1 >/dev/null |
      awk -F, -v rt=$rt '$3 ~ /task-clock|page-faults/ {print rt, $3, $1}'
  done
done >"$work/perf.txt"
cp "$work/perf.txt" "${BENCH_OUT:-$work}/runtime-cpu.txt" 2>/dev/null || true
echo "| runtime | CPU (task-clock, ms) | page faults |"
echo "|---|---|---|"
for rt in skiff-runtime crun runc; do
  awk -v rt=$rt '$1 == rt && $2 == "task-clock" {c += $3; n++} $1 == rt && $2 == "page-faults" {p += $3; m++}
    END {printf "| %s | %.2f | %.0f |\n", rt, c / n, p / m}' "$work/perf.txt"
  echo "runtime-cpu / $rt: perf stat -x, -r $PERF_RUNS -e task-clock,page-faults $(rt_cmd $rt)" >>"$work/commands.txt"
done

echo
echo "## ps -a with $NPS created containers"
echo
for i in $(seq "$NPS"); do
  out/bin/skiff -H "$SK" create --network none busybox true >/dev/null
  /usr/bin/docker -H "$DK" create --network none busybox true >/dev/null
  "${PODMAN[@]}" create --network none "${PODRUN[@]}" busybox true >/dev/null
done
bench ps \
  -n skiff "out/bin/skiff -H $SK ps -a" \
  -n docker "/usr/bin/docker -H $DK ps -a" \
  -n podman "${PODMAN[*]} ps -a" \
  -n docker-cli-skiffd "/usr/local/bin/docker -H $SK ps -a" \
  -n docker-cli-dockerd "/usr/local/bin/docker -H $DK ps -a"

sleep 2
echo
echo "## idle daemon memory (RSS, KiB)"
echo
echo "| daemon | after start + import | after the benchmarks |"
echo "|---|---|---|"
echo "| skiffd | $sk_rss0 | $(rss "$SKPID") |"
echo "| dockerd | $dk_rss0 | $(rss "$DKPID") |"
echo "| containerd (started by dockerd) | $ct_rss0 | $([ -n "$ctrd" ] && rss "$ctrd" || echo n/a) |"
echo
echo "Commands as run (hyperfine -N --warmup $WARMUP --runs $RUNS; the private socket is \`$work/...\`):"
echo
echo '```'
cat "$work/commands.txt"
echo '```'
log "done"
