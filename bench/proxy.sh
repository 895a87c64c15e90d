#!/usr/bin/env bash
# Published ports without NAT rules: skiffd's in-process userland proxy (--iptables=false) against
# dockerd's docker-proxy (Debian's docker.io, --iptables=false with its default --userland-proxy).
# Needs root. Starts its own skiffd and dockerd on private sockets, data roots and bridges (10.N.0.0/16
# addresses no host route uses), stops them by PID and removes bridges and state at the end. Traffic
# goes to 127.0.0.1 only. Prints Markdown on stdout, progress on stderr.
# RUNS (default 50): timed small requests per engine (hyperfine -N, 3 warmups); MB (default 200):
# size of the bulk file; XFERS (default 5): bulk transfers per engine. The proxies' CPU time is
# read from /proc (utime+stime of skiffd, of dockerd's docker-proxy processes) around the transfers.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-50}
MB=${MB:-200}
XFERS=${XFERS:-5}
export DEBIAN_FRONTEND=noninteractive
need=()
for p in docker.io containerd runc hyperfine busybox-static curl; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; fi
[ -x out/bin/skiffd ] || scripts/build.sh
log() { echo "[bench] $*" >&2; }
CLI=/usr/local/bin/docker

. scripts/lib/private-dockerd.sh
N=$(pd_free_subnet16)
id=$(pd_rand)
SKBR=skb$id DKBR=dkb$id
work=$(mktemp -d /tmp/skiff-proxybench.XXXXXX)
pd_init "$work"
trap 'pd_cleanup; rm -rf "$work"' EXIT
export DOCKER_CONFIG="$work/docker-config"
mkdir -p "$DOCKER_CONFIG" && echo "{}" >"$DOCKER_CONFIG/config.json"

log "starting skiffd --iptables=false (bridge $SKBR)"
pd_start_skiffd skiff --iptables=false --bridge "$SKBR" --bip "10.$N.1.1/24" --default-address-pool "base=10.$N.128.0/17,size=24"
SK=$PD_HOST SKPID=$PD_PID
pd_import_busybox "$SK" "$CLI"
log "starting dockerd --iptables=false --userland-proxy=true (bridge $DKBR)"
pd_make_bridge "$DKBR" "10.$N.2.1/24"
pd_start_dockerd docker --bridge "$DKBR" --userland-proxy=true
DK=$PD_HOST DKPID=$PD_PID
pd_import_busybox "$DK" "$CLI"

serve='dd if=/dev/zero of=/tmp/big bs=1M count='"$MB"' 2>/dev/null; echo ok > /tmp/small; exec httpd -f -p 80 -h /tmp'
start() { # start HOST: runs the web container, prints its published port once it answers
  local h=$1 port
  "$CLI" -H "$h" run -d --name web -p 127.0.0.1::80 busybox sh -c "$serve" >/dev/null
  port=$("$CLI" -H "$h" port web 80/tcp | head -n1 | cut -d: -f2)
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$port/small" >/dev/null && break; sleep 0.1; done
  curl -sf "http://127.0.0.1:$port/small" >/dev/null || { echo "web on $h does not answer on $port" >&2; exit 1; }
  echo "$port"
}
cpu() { # cpu PID...: utime+stime in clock ticks, summed
  local t=0 p
  for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  echo "$t"
}
SKP=$(start "$SK"); DKP=$(start "$DK")
PROXIES=$(pgrep -P "$DKPID" -x docker-proxy | tr '\n' ' ')
[ -n "$PROXIES" ] || { echo "no docker-proxy under dockerd $DKPID" >&2; exit 1; }
TCK=$(getconf CLK_TCK)

echo "## Published ports without NAT (bench/proxy.sh)"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); nproc: $(nproc); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- skiff: $(out/bin/skiffd --version); dockerd: $(dockerd --version); $RUNS requests per engine after 3 warmups; $XFERS transfers of $MB MB"
echo
log "small requests"
hyperfine -N --warmup 3 --runs "$RUNS" --export-markdown "$work/req.md" \
  -n "skiffd proxy" "curl -sf -o /dev/null http://127.0.0.1:$SKP/small" \
  -n "docker-proxy" "curl -sf -o /dev/null http://127.0.0.1:$DKP/small" >&2
echo "### One HTTP request through the proxy (curl, new connection each)"
echo
cat "$work/req.md"
echo
echo "### Bulk transfer ($MB MB, $XFERS times) and the proxy's CPU time"
echo
echo "| engine | median s | MB/s at the median | proxy CPU s per transfer |"
echo "|---|---|---|---|"
for e in skiff docker; do
  if [ $e = skiff ]; then port=$SKP pids=$SKPID; else port=$DKP pids=$PROXIES; fi
  log "bulk through $e"
  # shellcheck disable=SC2086
  before=$(cpu $pids)
  times=()
  for _ in $(seq "$XFERS"); do times+=("$(curl -sf -o /dev/null -w '%{time_total}' "http://127.0.0.1:$port/big")"); done
  # shellcheck disable=SC2086
  after=$(cpu $pids)
  med=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "| $e | $med | $(awk -v m="$MB" -v t="$med" 'BEGIN {printf "%.0f", m / t}') | $(awk -v d=$((after - before)) -v n="$XFERS" -v hz="$TCK" 'BEGIN {printf "%.3f", d / hz / n}') |"
done
