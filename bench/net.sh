#!/usr/bin/env bash
# Networking: Skiff against Docker (Debian's docker.io) on this machine, in one run. Needs root.
# Starts its own skiffd and dockerd on private sockets, data roots and bridges of their own
# (made here, on 10.N.0.0/16 addresses no route of the host uses), stops them (by PID) and removes
# the bridges, NAT tables and state at the end. Traffic stays on those bridges.
# Prints Markdown on stdout; progress on stderr. RUNS (default 50) timed runs per command after 3
# warmups; MB (default 500) megabytes per throughput transfer, XFERS (default 5) transfers.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-50}
WARMUP=${WARMUP:-3}
MB=${MB:-500}
XFERS=${XFERS:-5}
export DEBIAN_FRONTEND=noninteractive
need=()
for p in docker.io containerd runc hyperfine busybox-static jq nftables iproute2; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; fi
[ -x out/bin/skiffd ] || scripts/build.sh
log() { echo "[bench] $*" >&2; }
CLI=/usr/local/bin/docker

# A 10.N.0.0/16 no route of this host is in: the skiff bridge is 10.N.1.0/24, Docker's 10.N.2.0/24,
# user networks come from 10.N.128.0/17 (skiff) and 10.N.64.0/18 (docker).
. scripts/lib/private-dockerd.sh
N=$(pd_free_subnet16)
id=$(pd_rand)
SKBR=skb$id DKBR=dkb$id

work=$(mktemp -d /tmp/skiff-netbench.XXXXXX)
pd_init "$work"
trap 'pd_cleanup; rm -rf "$work"' EXIT

export DOCKER_CONFIG="$work/docker-config"
mkdir -p "$DOCKER_CONFIG" && echo "{}" >"$DOCKER_CONFIG/config.json"

log "starting skiffd (bridge $SKBR, 10.$N.1.1/24)"
pd_start_skiffd skiff --bridge "$SKBR" --bip "10.$N.1.1/24" --default-address-pool "base=10.$N.128.0/17,size=24"
SK=$PD_HOST
pd_import_busybox "$SK" "$CLI"

log "starting dockerd (bridge $DKBR, 10.$N.2.1/24, no iptables: its rules would be host-wide)"
pd_make_bridge "$DKBR" "10.$N.2.1/24"
pd_start_dockerd docker --bridge "$DKBR" --userland-proxy=false --default-address-pool "base=10.$N.64.0/18,size=24"
DK=$PD_HOST
pd_import_busybox "$DK" "$CLI"

check() { "$@" >/dev/null 2>"$work/check.err" || { echo "failed: $*" >&2; cat "$work/check.err" >&2; exit 1; }; }
for h in "$SK" "$DK"; do
  check "$CLI" -H "$h" run --rm busybox true
  check "$CLI" -H "$h" run --rm --network none busybox true
done

table() {
  echo "| command | mean ± σ (ms) | median (ms) | min (ms) | max (ms) | runs |"
  echo "|---|---|---|---|---|---|"
  jq -r '.results[] | "| \(.command) | \(.mean*1000*100|round/100) ± \(.stddev*1000*100|round/100) | \(.median*1000*100|round/100) | \(.min*1000*100|round/100) | \(.max*1000*100|round/100) | \(.times|length) |"' "$1"
}

echo "## Machine"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); nproc: $(nproc); kernel: $(uname -r); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- skiff: $(out/bin/skiffd --version); dockerd: $(dockerd --version); CLI for both: $($CLI --version)"
echo "- $RUNS runs per command after $WARMUP warmups (hyperfine -N); throughput: $XFERS transfers of $MB MB"
echo

log "hyperfine: run --rm"
echo "## run --rm busybox true: default bridge vs --network none (Docker CLI $($CLI --version | awk '{print $3}' | tr -d ,))"
echo
hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --export-json "$work/run.json" \
  -n "skiffd bridge" "$CLI -H $SK run --rm busybox true" \
  -n "skiffd none" "$CLI -H $SK run --rm --network none busybox true" \
  -n "dockerd bridge" "$CLI -H $DK run --rm busybox true" \
  -n "dockerd none" "$CLI -H $DK run --rm --network none busybox true" >/dev/null
table "$work/run.json"
echo

echo "## container-to-container TCP throughput over a user-defined bridge network"
echo
echo "busybox \`wget -O /dev/null http://srv/big\` in one container from busybox \`httpd\` in another (a $MB MB file), by"
echo "name; each transfer timed from the host around \`docker exec\` (its own cost, a few ms, included); the size is checked."
echo
echo "| engine | transfers | median (s) | MB/s at the median | best MB/s |"
echo "|---|---|---|---|---|"
for e in skiffd dockerd; do
  h=$SK; [ "$e" = dockerd ] && h=$DK
  check "$CLI" -H "$h" network create benchnet
  check "$CLI" -H "$h" run -d --name srv --network benchnet busybox sh -c "mkdir /www && dd if=/dev/zero of=/www/big bs=65536 count=$((MB * 16)) 2>/dev/null && exec httpd -f -p 80 -h /www"
  check "$CLI" -H "$h" run -d --name cli --network benchnet busybox sleep 3600
  for _ in $(seq 100); do "$CLI" -H "$h" exec cli wget -q -s http://srv/big 2>/dev/null && break; sleep 0.2; done
  size=$("$CLI" -H "$h" exec cli sh -c 'wget -qO- http://srv/big | wc -c')
  [ "$size" = "$((MB * 1048576))" ] || { echo "$e: got $size bytes, expected $((MB * 1048576))" >&2; exit 1; }
  times=()
  for i in $(seq "$XFERS"); do
    t0=$(date +%s%N)
    "$CLI" -H "$h" exec cli wget -qO /dev/null http://srv/big
    t1=$(date +%s%N)
    times+=($(( (t1 - t0) / 1000 )))
  done
  sorted=$(printf '%s\n' "${times[@]}" | sort -n)
  med=$(sed -n "$(( (XFERS + 1) / 2 ))p" <<<"$sorted"); best=$(head -1 <<<"$sorted")
  awk -v e="$e" -v n="$XFERS" -v med="$med" -v best="$best" -v mb="$MB" \
    'BEGIN { printf "| %s | %d | %.3f | %.0f | %.0f |\n", e, n, med/1e6, mb/(med/1e6), mb/(best/1e6) }'
  "$CLI" -H "$h" rm -f srv cli >/dev/null
  "$CLI" -H "$h" network rm benchnet >/dev/null
done
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
