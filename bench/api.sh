#!/usr/bin/env bash
# API-surface benchmarks: Skiff vs Docker (docker.io from Debian) and Podman on this machine, in one run:
# create/start/wait/rm split, exec latency, memory per running container (PSS of shim + container),
# ps latency with 50 running containers, GET /containers/json requests per second (ab -k over TCP
# on 127.0.0.1), logs of 100k lines. Setup and cleanup as in bench/run.sh.
# Needs root. Starts its own dockerd (which starts its own containerd) and skiffd on private
# sockets and data roots, stops them (by PID) at the end, and puts back what the engines leave on
# the host (host-wide state dirs, cgroups, the hugetlb mount crun needs). Prints Markdown on stdout;
# progress goes to stderr. RUNS (default 100) is the number of timed runs per command, after 3 warmups.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-30}
NRUN=${NRUN:-50}     # running containers for the memory and ps benchmark
REQS=${REQS:-20000}  # requests per engine for the API throughput benchmark
SKPORT=${SKPORT:-23750} DKPORT=${DKPORT:-23751} PDPORT=${PDPORT:-23752}
WARMUP=${WARMUP:-3}
NPS=${NPS:-10}   # containers present (created, never started) during the `ps -a` benchmark
export DEBIAN_FRONTEND=noninteractive
need=()
for p in docker.io containerd podman runc crun hyperfine busybox-static jq apache2-utils; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; fi
[ -x out/bin/skiffd ] || scripts/build.sh
log() { echo "[bench] $*" >&2; }

work=$(mktemp -d /tmp/skiff-apibench.XXXXXX)
# Host-wide paths that podman, crun and containerd create whatever their flags say (state dirs,
# podman's blob-info cache, the CNI lock): the ones that do not exist now are removed at the end.
watch=(/run/crun /run/runc /run/containers /run/libpod /run/containerd /run/docker /var/lib/containers
  /etc/cni/net.d/cni.lock /root/.docker)
absent=()
for p in "${watch[@]}"; do [ -e "$p" ] || absent+=("$p"); done
# Cgroup directories that exist now; new ones (docker/, libpod_parent/, ...) are removed at the end.
find /sys/fs/cgroup -mindepth 2 -type d 2>/dev/null | sort >"$work/cgroups.before"
pids=()   # podman's API service
hugetlb_mounted=0 hugetlb_dir_made=0
. scripts/lib/private-dockerd.sh
pd_init "$work"
cleanup() {
  set +e
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do
    for _ in $(seq 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
  done
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
pd_start_skiffd skiff -H "tcp://127.0.0.1:$SKPORT"; SK=$PD_HOST SKPID=$PD_PID
pd_import_busybox "$SK" out/bin/skiff

# Docker (Debian's docker.io: its own dockerd, which starts its own containerd under --exec-root)
log "starting dockerd"
pd_start_dockerd docker -H "tcp://127.0.0.1:$DKPORT"; DK=$PD_HOST DKPID=$PD_PID ctrd=$PD_CONTAINERD_PID
pd_import_busybox "$DK" /usr/bin/docker

# Podman (daemonless) with its own storage. Podman asks for RLIMIT_NOFILE 1048576 and its own
# RLIMIT_NPROC, above this machine's hard limits (no CAP_SYS_RESOURCE: crun's setrlimit fails with
# EPERM), so pass the limits the other engines' containers inherit: the hard nofile limit, and
# nproc capped at 32768 (what podman's conmon runs with here).
nproc_hard=$(ulimit -Hu); [ "$nproc_hard" = unlimited ] || [ "$nproc_hard" -gt 32768 ] && nproc_hard=32768
PODMAN=(podman --root "$work/podman/root" --runroot "$work/podman/run" --tmpdir "$work/podman/tmp" --cgroup-manager cgroupfs --events-backend none)
PODRUN=(--ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit "nproc=$nproc_hard:$nproc_hard")
"${PODMAN[@]}" import -q -c 'CMD ["sh"]' "$(pd_busybox_tar)" busybox:latest >/dev/null

# Podman's Docker-compatible API service, for the throughput benchmark only.
"${PODMAN[@]}" system service --time=0 "tcp://127.0.0.1:$PDPORT" >"$work/podman-service.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PDPORT/_ping" >/dev/null 2>&1 && break; sleep 0.1; done

D=/usr/local/bin/docker
check() { "$@" >/dev/null 2>"$work/check.err" || { echo "failed: $*" >&2; cat "$work/check.err" >&2; exit 1; }; }
check $D -H "$SK" run --rm --network none busybox true
check $D -H "$DK" run --rm --network none busybox true
check "${PODMAN[@]}" run --rm --network none "${PODRUN[@]}" busybox true

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
  table "$work/$name.json"
}
rss() { ps -o rss= -p "$1" | tr -d ' '; }
now() { date +%s%N; }
pss() { awk '/^Pss:/{s+=$2} END{print s+0}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }

echo "## Machine"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); nproc: $(nproc); kernel: $(uname -r); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- skiff: $(out/bin/skiff --version); dockerd: $(dockerd --version); podman: $(podman --version); Docker CLI: $($D --version)"
echo "- hyperfine runs per command: $RUNS after $WARMUP warmups"
echo
sleep 2
echo "## idle daemon RSS (KiB, after start + import)"
echo
echo "| skiffd | dockerd | containerd (dockerd's) |"
echo "|---|---|---|"
echo "| $(rss "$SKPID") | $(rss "$DKPID") | $([ -n "$ctrd" ] && rss "$ctrd" || echo n/a) |"
echo

# create / start / wait / rm, each step timed on its own (Docker CLI v28 for skiffd and dockerd, podman's CLI).
split() { # split LABEL CLI...
  local label=$1; shift
  local c0 c1 c2 c3 c4 tc=0 ts=0 tw=0 tr=0 id
  for i in $(seq "$RUNS"); do
    c0=$(now); id=$("$@" create --network none "${CREATE_ARGS[@]}" busybox true); c1=$(now)
    "$@" start "$id" >/dev/null; c2=$(now)
    "$@" wait "$id" >/dev/null; c3=$(now)
    "$@" rm "$id" >/dev/null; c4=$(now)
    tc=$((tc + c1 - c0)); ts=$((ts + c2 - c1)); tw=$((tw + c3 - c2)); tr=$((tr + c4 - c3))
  done
  awk -v l="$label" -v n="$RUNS" -v a="$tc" -v b="$ts" -v c="$tw" -v d="$tr" \
    'BEGIN{printf "| %s | %.1f | %.1f | %.1f | %.1f | %.1f |\n", l, a/n/1e6, b/n/1e6, c/n/1e6, d/n/1e6, (a+b+c+d)/n/1e6}'
}
log "create/start/wait/rm"
echo "## create / start / wait / rm (mean ms per step over $RUNS containers, \`busybox true\`)"
echo
echo "| engine | create | start | wait | rm | total |"
echo "|---|---|---|---|---|---|"
CREATE_ARGS=()
split "docker CLI -> skiffd" $D -H "$SK"
split "docker CLI -> dockerd" $D -H "$DK"
CREATE_ARGS=("${PODRUN[@]}")
split "podman" "${PODMAN[@]}"
echo

log "exec"
$D -H "$SK" run -d --name ex --network none busybox sleep 3600 >/dev/null
$D -H "$DK" run -d --name ex --network none busybox sleep 3600 >/dev/null
"${PODMAN[@]}" run -d --name ex --network none "${PODRUN[@]}" busybox sleep 3600 >/dev/null
echo "## exec true (CLI end to end: each engine's own CLI, and the Docker CLI v28 against skiffd)"
echo
bench exec \
  -n skiff-cli-skiffd "out/bin/skiff -H $SK exec ex true" \
  -n docker-cli-skiffd "$D -H $SK exec ex true" \
  -n docker-cli-dockerd "$D -H $DK exec ex true" \
  -n podman "${PODMAN[*]} exec ex true"
echo

log "logs"
$D -H "$SK" run --name lg --network none busybox seq 1 100000 >/dev/null
$D -H "$DK" run --name lg --network none busybox seq 1 100000 >/dev/null
"${PODMAN[@]}" run --name lg --network none "${PODRUN[@]}" busybox seq 1 100000 >/dev/null
[ "$($D -H "$SK" logs lg | wc -l)" = 100000 ] || { echo "skiff logs incomplete" >&2; exit 1; }
echo "## logs of 100k lines"
echo
bench logs \
  -n docker-cli-skiffd "$D -H $SK logs lg" \
  -n docker-cli-dockerd "$D -H $DK logs lg" \
  -n podman "${PODMAN[*]} logs lg"
echo

log "API throughput"
echo "## GET /containers/json requests per second (ab -k -c 8 -n $REQS over TCP on 127.0.0.1, keep-alive)"
echo
echo "| engine | requests/s | mean latency (ms) | failed |"
echo "|---|---|---|---|"
for e in "skiffd $SKPORT" "dockerd $DKPORT" "podman $PDPORT"; do
  set -- $e
  ab -k -q -c 8 -n "$REQS" "http://127.0.0.1:$2/v1.41/containers/json" >"$work/ab-$1.txt" 2>&1 || true
  echo "| $1 | $(awk '/^Requests per second/{print $4}' "$work/ab-$1.txt") | $(awk '/^Time per request/{print $4; exit}' "$work/ab-$1.txt") | $(awk '/^Failed requests/{print $3}' "$work/ab-$1.txt") |"
done
echo

log "$NRUN running containers"
for i in $(seq "$NRUN"); do
  $D -H "$SK" run -d --network none busybox sleep 3600 >/dev/null
  $D -H "$DK" run -d --network none busybox sleep 3600 >/dev/null
  "${PODMAN[@]}" run -d --network none "${PODRUN[@]}" busybox sleep 3600 >/dev/null
done
sleep 3
# PSS of the per-container processes: the container's own process plus its supervisor (skiff's shim,
# containerd-shim-runc-v2, conmon), i.e. the parent of the container's init.
permem() { # permem CLI...
  local total=0 n=0 pid ppid
  for pid in $("$@" ps -q --no-trunc | xargs "$@" inspect -f '{{.State.Pid}}'); do
    ppid=$(awk '{print $4}' "/proc/$pid/stat")
    total=$((total + $(pss "$pid") + $(pss "$ppid"))); n=$((n + 1))
  done
  awk -v t="$total" -v n="$n" 'BEGIN{printf "%.0f KiB over %d containers", t/n, n}'
}
echo "## memory per running container (PSS of container process + its shim/conmon, mean)"
echo
echo "| engine | PSS per container | daemon RSS with $NRUN running (KiB) |"
echo "|---|---|---|"
echo "| skiff | $(permem $D -H "$SK") | $(rss "$SKPID") |"
echo "| docker | $(permem $D -H "$DK") | $(rss "$DKPID") + containerd $([ -n "$ctrd" ] && rss "$ctrd" || echo n/a) |"
echo "| podman | $(permem "${PODMAN[@]}") | (no daemon) |"
echo
echo "## ps with $((NRUN + 1)) running containers"
echo
bench ps \
  -n docker-cli-skiffd "$D -H $SK ps" \
  -n docker-cli-dockerd "$D -H $DK ps" \
  -n podman "${PODMAN[*]} ps"
echo

log "removing containers"
$D -H "$SK" rm -f $($D -H "$SK" ps -aq) >/dev/null
$D -H "$DK" rm -f $($D -H "$DK" ps -aq) >/dev/null
"${PODMAN[@]}" rm -f -a -t 0 >/dev/null
echo "Commands as run (hyperfine -N; sockets under \`$work\`):"
echo
echo '```'
cat "$work/commands.txt"
echo '```'
log "done"
