#!/usr/bin/env bash
# Pull and push through a local registry: Skiff (Docker CLI v28 -> skiffd) vs Docker (docker.io's dockerd with its
# own CLI) vs Podman, in one run. Needs root. The image: a busybox layer plus one layer of 50 MB of random bytes
# (incompressible; made with head -c from /dev/urandom, not debootstrap), or with LAYER=files ~50 MB of this host's
# files from /usr/lib/x86_64-linux-gnu (compressible, many files), pushed once by skopeo to a
# source registry. Per run and engine: the image is removed from the engine, then `pull` from the source registry is timed;
# then `push` to a fresh, empty registry (a new docker-registry on a new storage dir, so no blob can be skipped or
# mounted) is timed. Starts its own docker-registry processes, skiffd and dockerd on private sockets and roots under
# one /tmp/skiff-bench-pull.* directory and stops them by PID at the end. Prints Markdown on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
export DEBIAN_FRONTEND=noninteractive
need=()
for p in docker.io containerd podman docker-registry skopeo busybox-static jq; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; fi
[ -x out/bin/skiffd ] || scripts/build.sh
log() { echo "[bench] $*" >&2; }

work=$(mktemp -d /tmp/skiff-bench-pull.XXXXXX)
watch=(/run/containers /run/libpod /run/containerd /run/docker /var/lib/containers /etc/cni/net.d/cni.lock /root/.docker)
absent=()
for p in "${watch[@]}"; do [ -e "$p" ] || absent+=("$p"); done
regpids=()
. scripts/lib/private-dockerd.sh
pd_init "$work"
cleanup() {
  set +e
  for p in "${regpids[@]}"; do kill "$p" 2>/dev/null; done
  pd_cleanup
  for p in "${absent[@]}"; do rm -rf "$p"; done
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

# The image, as a docker-archive: layer 1 busybox, layer 2 one 50 MB random file.
log "making the image"
img="$work/img"
mkdir -p "$img/big"
scripts/make-busybox-image.sh >"$img/layer1.tar"
if [ "${LAYER:-random}" = files ]; then
  # ~50 MB of this host's /usr/lib/x86_64-linux-gnu (libraries: compressible, many files, like a distribution layer).
  (cd / && find usr/lib/x86_64-linux-gnu -type f -printf '%s %p\n' | sort -k2 | awk '{ s += $1; if (s <= 50 * 1024 * 1024) print $2 }') >"$img/files.txt"
  tar --numeric-owner -C / -cf "$img/layer2.tar" -T "$img/files.txt"
else
  head -c $((50 * 1024 * 1024)) /dev/urandom >"$img/big/random.bin"
  tar --numeric-owner -C "$img/big" -cf "$img/layer2.tar" random.bin
fi
d1=$(sha256sum "$img/layer1.tar" | cut -d' ' -f1)
d2=$(sha256sum "$img/layer2.tar" | cut -d' ' -f1)
cat >"$img/config.json" <<EOF
{"architecture":"amd64","os":"linux","created":"2026-01-01T00:00:00Z","config":{"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:$d1","sha256:$d2"]},"history":[{"created":"2026-01-01T00:00:00Z","created_by":"busybox"},{"created":"2026-01-01T00:00:00Z","created_by":"50 MB layer"}]}
EOF
echo '[{"Config":"config.json","RepoTags":["bench/img:1"],"Layers":["layer1.tar","layer2.tar"]}]' >"$img/manifest.json"
tar -C "$img" -cf "$work/img.tar" manifest.json config.json layer1.tar layer2.tar
rm -rf "$img"

SRC=$(start_registry src)
regpids+=("$(cat "$work/reg-src/pid")")
skopeo copy -q --dest-tls-verify=false "docker-archive:$work/img.tar" "docker://127.0.0.1:$SRC/bench/img:1" >&2
IMAGE="127.0.0.1:$SRC/bench/img:1"
compressed=$(skopeo inspect --tls-verify=false --raw "docker://$IMAGE" | jq '[.layers[].size] | add')

log "starting skiffd"
pd_start_skiffd skiff; SK=$PD_HOST

log "starting dockerd"
pd_start_dockerd docker; DK=$PD_HOST

PODMAN=(podman --root "$work/podman/root" --runroot "$work/podman/run" --tmpdir "$work/podman/tmp" --cgroup-manager cgroupfs --events-backend none)

# Per engine: CLI, pull args, push args, rmi args.
declare -A CLI=(
  [skiff]="/usr/local/bin/docker -H $SK"
  [docker]="/usr/bin/docker -H $DK"
  [podman]="${PODMAN[*]}"
)
declare -A TLS=([skiff]="" [docker]="" [podman]="--tls-verify=false")

now() { date +%s.%N; }
declare -A PULL PUSH
for engine in skiff docker podman; do PULL[$engine]=""; PUSH[$engine]=""; done
for run in $(seq "$RUNS"); do
  for engine in skiff docker podman; do
    cli=${CLI[$engine]}
    $cli rmi -f "$IMAGE" >/dev/null 2>&1 || true
    $cli image prune -f >/dev/null 2>&1 || true
    sync
    t0=$(now)
    $cli pull ${TLS[$engine]} "$IMAGE" >"$work/pull-$engine.out" 2>&1 || { cat "$work/pull-$engine.out" >&2; exit 1; }
    t1=$(now)
    PULL[$engine]+=" $(echo "$t1 - $t0" | bc)"

    DST=$(start_registry "dst-$engine-$run")
    target="127.0.0.1:$DST/bench/img:1"
    $cli tag "$IMAGE" "$target"
    sync
    t0=$(now)
    $cli push ${TLS[$engine]} "$target" >"$work/push-$engine.out" 2>&1 || { cat "$work/push-$engine.out" >&2; exit 1; }
    t1=$(now)
    PUSH[$engine]+=" $(echo "$t1 - $t0" | bc)"
    $cli rmi "$target" >/dev/null 2>&1 || true
    stop_registry "dst-$engine-$run"
    log "run $run $engine: pull $(echo "${PULL[$engine]}" | awk '{print $NF}') s, push $(echo "${PUSH[$engine]}" | awk '{print $NF}') s"
  done
done

stats() { echo "$1" | tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1; s+=$1} END {printf "%.2f | %.2f | %.2f", s/NR, a[int((NR+1)/2)], a[1]}'; }

echo "## Machine"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); nproc: $(nproc); kernel: $(uname -r); $(. /etc/os-release; echo "$PRETTY_NAME")"
echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- docker-registry: $(docker-registry --version | awk '{print $3}'); dockerd: $(dockerd --version); podman: $(podman --version)"
echo "- image: busybox layer + ~50 MB ${LAYER:-random} layer; $compressed bytes compressed (gzip by skopeo); $RUNS runs per engine"
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
echo "Commands: skiff = \`/usr/local/bin/docker -H unix://.../skiff.sock pull|push\` (Docker CLI v28 against skiffd);"
echo "docker = \`/usr/bin/docker -H unix://.../docker.sock pull|push\`; podman = \`podman --root ... pull|push --tls-verify=false\`."
echo "Before each pull: \`rmi -f\` + \`image prune -f\` + \`sync\`; each push goes to a new docker-registry with an empty storage dir."
log "done"
