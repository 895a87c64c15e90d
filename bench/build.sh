#!/usr/bin/env bash
# Build benchmark: Skiff's builder vs Docker's classic builder and BuildKit (Debian docker.io), in one run.
# Needs root. Starts its own skiffd and dockerd on private sockets and data roots (scripts/lib/private-dockerd.sh),
# imports the same busybox rootfs into both (`docker import`), and times one Dockerfile of 11 steps
# over a 52 MB context (1000 small files + one 40 MB file) three ways: cold (--no-cache), fully cached, and with one
# small file changed in the last COPY. Stops its daemons by PID and removes what it made. Prints Markdown on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-10}
COLD_RUNS=${COLD_RUNS:-5}
export DEBIAN_FRONTEND=noninteractive
need=()
for p in docker.io containerd hyperfine busybox-static jq; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; fi
[ -x out/bin/skiffd ] || scripts/build.sh
log() { echo "[bench] $*" >&2; }

work=$(mktemp -d /tmp/skiff-buildbench.XXXXXX)
watch=(/run/containerd /run/docker /root/.docker)
absent=()
for p in "${watch[@]}"; do [ -e "$p" ] || absent+=("$p"); done
find /sys/fs/cgroup -mindepth 2 -type d 2>/dev/null | sort >"$work/cgroups.before"
. scripts/lib/private-dockerd.sh
pd_init "$work"
cleanup() {
  set +e
  pd_cleanup
  find /sys/fs/cgroup -mindepth 2 -type d 2>/dev/null | sort >"$work/cgroups.after"
  comm -13 "$work/cgroups.before" "$work/cgroups.after" | grep -E '/(docker|buildkit)(/|$)' |
    awk '{print length, $0}' | sort -rn | cut -d' ' -f2- | while read -r d; do rmdir "$d" 2>/dev/null; done
  for p in "${absent[@]}"; do rm -rf "$p"; done
  rm -rf "$work"
}
trap cleanup EXIT

export DOCKER_CONFIG="$work/docker-config"
mkdir -p "$DOCKER_CONFIG" && echo "{}" >"$DOCKER_CONFIG/config.json"

log "making the context"
ctx="$work/ctx"
mkdir -p "$ctx/files/a" "$ctx/files/b"
head -c $((40 * 1024 * 1024)) /dev/urandom > "$ctx/big.bin"
for i in $(seq 1 1000); do
  d=a; [ "$i" -gt 500 ] && d=b
  head -c 12000 /dev/urandom > "$ctx/files/$d/f$i.dat"
done
cat > "$ctx/Dockerfile" <<'EOF'
FROM busybox
ENV APP=/app
WORKDIR /app
COPY big.bin /data/big.bin
RUN echo step > /step1
COPY files/a/ /app/a/
RUN ls /app/a | wc -l > /count
ENV MODE=bench
LABEL bench=build
RUN echo done > /done
COPY files/b/ /app/b/
EOF
echo "# nothing ignored" > "$ctx/.dockerignore"
log "context: $(du -sh "$ctx" | cut -f1), $(find "$ctx" -type f | wc -l) files"

log "starting skiffd"
pd_start_skiffd skiff; SK=$PD_HOST
pd_import_busybox "$SK" out/bin/skiff

log "starting dockerd"
pd_start_dockerd docker; DK=$PD_HOST
pd_import_busybox "$DK" /usr/bin/docker

SKIFF=(out/bin/skiff -H "$SK" build -t bench:latest "$ctx")
CLASSIC=(env DOCKER_BUILDKIT=0 /usr/bin/docker -H "$DK" build --network none -t bench:latest "$ctx")
BUILDKIT=(env DOCKER_BUILDKIT=1 /usr/bin/docker -H "$DK" build --network none -t bench:latest "$ctx")
q() { printf '%q ' "$@"; }

check() { "$@" >"$work/check.out" 2>&1 || { echo "failed: $*" >&2; cat "$work/check.out" >&2; exit 1; }; }
log "first builds (fill the caches)"
check "${SKIFF[@]}"
check "${CLASSIC[@]}"
check "${BUILDKIT[@]}"
check out/bin/skiff -H "$SK" run --rm bench:latest sh -c 'test "$(cat /count)" = 500 && test -f /app/b/f1000.dat'

table() {
  echo "| command | mean ± σ (ms) | median (ms) | min (ms) | max (ms) | runs |"
  echo "|---|---|---|---|---|---|"
  jq -r '.results[] | "| \(.command) | \(.mean*1000*100|round/100) ± \(.stddev*1000*100|round/100) | \(.median*1000*100|round/100) | \(.min*1000*100|round/100) | \(.max*1000*100|round/100) | \(.times|length) |"' "$1"
}
bench() { # bench NAME RUNS PREPARE [-n label cmd]...
  local name=$1 runs=$2 prepare=$3; shift 3
  log "hyperfine: $name"
  local args=()
  [ -n "$prepare" ] && args+=(--prepare "$prepare")
  hyperfine -N --warmup 1 --runs "$runs" "${args[@]}" --export-json "$work/$name.json" "$@" >"$work/$name.txt"
  cp "$work/$name.json" "${BENCH_OUT:-$work}/$name.json" 2>/dev/null || true
  table "$work/$name.json"
}

echo "## Machine"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); nproc: $(nproc); kernel: $(uname -r); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- skiff: $(out/bin/skiff --version); dockerd: $(dockerd --version); docker CLI: $(/usr/bin/docker --version); hyperfine: $(hyperfine --version)"
echo "- context: $(du -sh "$ctx" | cut -f1) ($(find "$ctx" -type f | wc -l) files: 1000 x 12 KB + 40 MB), Dockerfile of 11 steps (4 COPY, 3 RUN)"
echo
echo "## cold (--no-cache)"
echo
bench cold "$COLD_RUNS" "" \
  -n "skiff build --no-cache" "$(q "${SKIFF[@]:0:3}") build --no-cache -t bench:latest $ctx" \
  -n "docker build --no-cache (classic)" "$(q "${CLASSIC[@]:0:5}") build --no-cache --network none -t bench:latest $ctx" \
  -n "docker build --no-cache (BuildKit)" "$(q "${BUILDKIT[@]:0:5}") build --no-cache --network none -t bench:latest $ctx"
echo
echo "## fully cached"
echo
bench cached "$RUNS" "" \
  -n "skiff build" "$(q "${SKIFF[@]}")" \
  -n "docker build (classic)" "$(q "${CLASSIC[@]}")" \
  -n "docker build (BuildKit)" "$(q "${BUILDKIT[@]}")"
echo
echo "## one small file changed in the last COPY"
echo
bench changed "$RUNS" "dd if=/dev/urandom of=$ctx/files/b/f999.dat bs=12000 count=1 status=none" \
  -n "skiff build" "$(q "${SKIFF[@]}")" \
  -n "docker build (classic)" "$(q "${CLASSIC[@]}")" \
  -n "docker build (BuildKit)" "$(q "${BUILDKIT[@]}")"
echo
echo "Commands: \`sudo bash bench/build.sh\` (RUNS=$RUNS, COLD_RUNS=$COLD_RUNS, one warmup each)."
