#!/usr/bin/env bash
# Pull and push through a local registry: Skiff (Docker CLI v28 -> skiffd) vs Docker (docker.io's dockerd with its
# own CLI) vs Podman, in one run. Needs root. The image: a busybox layer plus one layer of 50 MB of random bytes
# (incompressible; made with head -c from /dev/urandom), or with LAYER=files ~50 MB of this host's files from
# /usr/lib/x86_64-linux-gnu (compressible, many files), or with LAYER=debian one layer of a Debian bookworm minbase
# rootfs made by debootstrap from the Debian mirror apt uses (~127 MB, ~49 MB gzipped; apt's lists and .debs removed as
# in Docker's debian images; made once and kept in /var/cache/skiff-bench), pushed once by skopeo to a
# source registry. Per run and engine: the image is removed from the engine, then `pull` from the source registry is timed;
# then `push` to a fresh, empty registry (a new docker-registry on a new storage dir, so no blob can be skipped or
# mounted) is timed. Starts its own docker-registry processes, skiffd and dockerd on private sockets and roots under
# one /tmp/skiff-bench-pull.* directory and stops them by PID at the end. Prints Markdown on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
export DEBIAN_FRONTEND=noninteractive
need=()
for p in docker.io containerd podman docker-registry skopeo busybox-static jq debootstrap; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; fi
[ -x out/bin/skiffd ] || scripts/build.sh
log() { echo "[bench] $*" >&2; }

work=$(mktemp -d /tmp/skiff-bench-pull.XXXXXX)
. scripts/lib/bench-host.sh
BH_WATCH=(/run/containers /run/libpod /run/containerd /run/docker /var/lib/containers /etc/cni/net.d/cni.lock /root/.docker)
bench_host_save "$work" '^$'   # podman pulls and pushes only: no cgroups to remove
regpids=()
. scripts/lib/private-dockerd.sh
pd_init "$work"
cleanup() {
  set +e
  for p in "${regpids[@]}"; do kill "$p" 2>/dev/null; done
  pd_cleanup
  bench_host_restore
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# start_registry NAME -> prints the port; the registry's PID goes to $work/NAME.pid.
start_registry() {
  local name=$1 port
  port=$(free_port)
  mkdir -p "$work/reg-$name/storage"
  cat >"$work/reg-$name/config.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/reg-$name/storage
http:
  addr: 127.0.0.1:$port
EOF
  docker-registry serve "$work/reg-$name/config.yml" >"$work/reg-$name/log" 2>&1 &
  echo $! >"$work/reg-$name/pid"
  for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break; sleep 0.05; done
  echo "$port"
}
stop_registry() {
  local pid
  pid=$(cat "$work/reg-$1/pid")
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  rm -rf "$work/reg-$1"
}

export DOCKER_CONFIG="$work/docker-config"
mkdir -p "$DOCKER_CONFIG" && echo "{}" >"$DOCKER_CONFIG/config.json"

# The image, as a docker-archive: layer 1 busybox, layer 2 one 50 MB random file (or the files); or one Debian layer.
log "making the image"
img="$work/img"
mkdir -p "$img/big"
# debian_tar: prints the path of the Debian minbase rootfs tarball, made by debootstrap the first time.
debian_tar() {
  local cache=/var/cache/skiff-bench/debian-bookworm-minbase.tar root mirror
  if [ ! -s "$cache" ]; then
    mkdir -p /var/cache/skiff-bench
    root=$(mktemp -d /var/cache/skiff-bench/root.XXXXXX)
    log "debootstrap --variant=minbase bookworm (once; kept as $cache)"
    mirror=$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
    debootstrap --variant=minbase bookworm "$root" "${mirror:-http://deb.debian.org/debian}" >&2
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar --numeric-owner -C "$root" -cf "$cache.tmp" . && mv "$cache.tmp" "$cache"
    rm -rf "$root"
  fi
  echo "$cache"
}
# Each case leaves its layer tars in $img, names them in `layers` and says what made each in `made_by`.
case ${LAYER:-random} in
  debian)
    cp "$(debian_tar)" "$img/layer1.tar"
    layers=(layer1.tar) made_by=("debootstrap --variant=minbase bookworm") cmd=bash ;;
  files)
    # ~50 MB of this host's /usr/lib/x86_64-linux-gnu (libraries: compressible, many files, like a distribution layer).
    scripts/make-busybox-image.sh >"$img/layer1.tar"
    (cd / && find usr/lib/x86_64-linux-gnu -type f -printf '%s %p\n' | sort -k2 | awk '{ s += $1; if (s <= 50 * 1024 * 1024) print $2 }') >"$img/files.txt"
    tar --numeric-owner -C / -cf "$img/layer2.tar" -T "$img/files.txt"
    layers=(layer1.tar layer2.tar) made_by=(busybox "50 MB layer") cmd=sh ;;
  *)
    scripts/make-busybox-image.sh >"$img/layer1.tar"
    head -c $((50 * 1024 * 1024)) /dev/urandom >"$img/big/random.bin"
    tar --numeric-owner -C "$img/big" -cf "$img/layer2.tar" random.bin
    layers=(layer1.tar layer2.tar) made_by=(busybox "50 MB layer") cmd=sh ;;
esac
diff_ids= history= names=
for k in "${!layers[@]}"; do
  sep=${diff_ids:+,}
  diff_ids+="$sep\"sha256:$(sha256sum "$img/${layers[$k]}" | cut -d' ' -f1)\""
  history+="$sep{\"created\":\"2026-01-01T00:00:00Z\",\"created_by\":\"${made_by[$k]}\"}"
  names+="$sep\"${layers[$k]}\""
done
cat >"$img/config.json" <<EOF
{"architecture":"amd64","os":"linux","created":"2026-01-01T00:00:00Z","config":{"Cmd":["$cmd"]},"rootfs":{"type":"layers","diff_ids":[$diff_ids]},"history":[$history]}
EOF
echo "[{\"Config\":\"config.json\",\"RepoTags\":[\"bench/img:1\"],\"Layers\":[$names]}]" >"$img/manifest.json"
tar -C "$img" -cf "$work/img.tar" manifest.json config.json "${layers[@]}"
rm -rf "$img"

SRC=$(start_registry src)
regpids+=("$(cat "$work/reg-src/pid")")
skopeo copy -q --dest-tls-verify=false "docker-archive:$work/img.tar" "docker://127.0.0.1:$SRC/bench/img:1" >&2
IMAGE="127.0.0.1:$SRC/bench/img:1"
compressed=$(skopeo inspect --tls-verify=false --raw "docker://$IMAGE" | jq '[.layers[].size] | add')

log "starting skiffd"
pd_start_skiffd skiff; SK=$PD_HOST; SKIFFD_PID=$PD_PID

log "starting dockerd"
pd_start_dockerd docker; DK=$PD_HOST; DOCKERD_PIDS="$PD_PID $PD_CONTAINERD_PID"

PODMAN=(podman --root "$work/podman/root" --runroot "$work/podman/run" --tmpdir "$work/podman/tmp" --cgroup-manager cgroupfs --events-backend none)

# Per engine: CLI, pull args, push args, rmi args.
declare -A CLI=(
  [skiff]="/usr/local/bin/docker -H $SK"
  [docker]="/usr/bin/docker -H $DK"
  [podman]="${PODMAN[*]}"
)
declare -A TLS=([skiff]="" [docker]="" [podman]="--tls-verify=false")

now() { date +%s.%N; }
# CPU seconds (user + system) the engine's daemon processes have used so far: skiffd; dockerd + its containerd; none
# for podman (its CLI is the engine). Added to the CLI's own CPU time, this is a figure a busy machine barely changes.
declare -A DAEMONS=([skiff]="$SKIFFD_PID" [docker]="$DOCKERD_PIDS" [podman]="")
tck=$(getconf CLK_TCK)
daemon_cpu() { local t=0 p; for p in ${DAEMONS[$1]}; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "scale=3; $t / $tck" | bc; }
TIMEFORMAT='%3U %3S'
declare -A PULL PUSH PULLCPU PUSHCPU
for engine in skiff docker podman; do PULL[$engine]=""; PUSH[$engine]=""; PULLCPU[$engine]=""; PUSHCPU[$engine]=""; done
for run in $(seq "$RUNS"); do
  for engine in skiff docker podman; do
    cli=${CLI[$engine]}
    $cli rmi -f "$IMAGE" >/dev/null 2>&1 || true
    $cli image prune -f >/dev/null 2>&1 || true
    sync
    c0=$(daemon_cpu $engine)
    t0=$(now)
    { time $cli pull ${TLS[$engine]} "$IMAGE" >"$work/pull-$engine.out" 2>&1 || { cat "$work/pull-$engine.out" >&2; exit 1; }; } 2>"$work/cli-time"
    t1=$(now)
    PULL[$engine]+=" $(echo "$t1 - $t0" | bc)"
    PULLCPU[$engine]+=" $(echo "$(daemon_cpu $engine) - $c0 + $(tr ' ' + <"$work/cli-time")" | bc)"

    DST=$(start_registry "dst-$engine-$run")
    target="127.0.0.1:$DST/bench/img:1"
    $cli tag "$IMAGE" "$target"
    sync
    c0=$(daemon_cpu $engine)
    t0=$(now)
    { time $cli push ${TLS[$engine]} "$target" >"$work/push-$engine.out" 2>&1 || { cat "$work/push-$engine.out" >&2; exit 1; }; } 2>"$work/cli-time"
    t1=$(now)
    PUSH[$engine]+=" $(echo "$t1 - $t0" | bc)"
    PUSHCPU[$engine]+=" $(echo "$(daemon_cpu $engine) - $c0 + $(tr ' ' + <"$work/cli-time")" | bc)"
    $cli rmi "$target" >/dev/null 2>&1 || true
    stop_registry "dst-$engine-$run"
    log "run $run $engine: pull $(echo "${PULL[$engine]}" | awk '{print $NF}') s (cpu $(echo "${PULLCPU[$engine]}" | awk '{print $NF}')), push $(echo "${PUSH[$engine]}" | awk '{print $NF}') s (cpu $(echo "${PUSHCPU[$engine]}" | awk '{print $NF}'))"
  done
done

stats() { echo "$1" | tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1; s+=$1} END {printf "%.2f | %.2f | %.2f", s/NR, a[int((NR+1)/2)], a[1]}'; }

echo "## Machine"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); nproc: $(nproc); kernel: $(uname -r); $(. /etc/os-release; echo "$PRETTY_NAME")"
echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- docker-registry: $(docker-registry --version | awk '{print $3}'); dockerd: $(dockerd --version); podman: $(podman --version)"
if [ "${LAYER:-random}" = debian ]; then
  echo "- image: one layer, Debian bookworm minbase (debootstrap); $compressed bytes compressed (gzip by skopeo); $RUNS runs per engine"
else
  echo "- image: busybox layer + ~50 MB ${LAYER:-random} layer; $compressed bytes compressed (gzip by skopeo); $RUNS runs per engine"
fi
echo
echo "## pull from the local registry (s)"
echo
echo "| engine | mean | median | min | runs |"
echo "|---|---|---|---|---|"
for engine in skiff docker podman; do echo "| $engine | $(stats "${PULL[$engine]}") | $RUNS |"; done
echo
echo "## push to an empty local registry (s)"
echo
echo "| engine | mean | median | min | runs |"
echo "|---|---|---|---|---|"
for engine in skiff docker podman; do echo "| $engine | $(stats "${PUSH[$engine]}") | $RUNS |"; done
echo
echo "## CPU seconds per pull and push (engine daemons + CLI, user + system)"
echo
echo "| engine | pull mean | pull median | pull min | push mean | push median | push min |"
echo "|---|---|---|---|---|---|---|"
for engine in skiff docker podman; do echo "| $engine | $(stats "${PULLCPU[$engine]}") | $(stats "${PUSHCPU[$engine]}") |"; done
echo
echo "Commands: skiff = \`/usr/local/bin/docker -H unix://.../skiff.sock pull|push\` (Docker CLI v28 against skiffd);"
echo "docker = \`/usr/bin/docker -H unix://.../docker.sock pull|push\`; podman = \`podman --root ... pull|push --tls-verify=false\`."
echo "Before each pull: \`rmi -f\` + \`image prune -f\` + \`sync\`; each push goes to a new docker-registry with an empty storage dir."
log "done"
