#!/usr/bin/env bash
# What --userns-remap costs: skiffd without and with --userns-remap=default, and Debian's dockerd with
# --userns-remap=default, each on a private root (scripts/lib/private-dockerd.sh). Per engine, interleaved RUNS
# times: `docker run --rm busybox true` (wall ms) and `docker import` of the busybox rootfs tar (wall ms; the layer
# is extracted, under remapping with every owner shifted). Prints Markdown on stdout. The dockremap user and its
# /etc/subuid and /etc/subgid ranges stay, as dockerd leaves them. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-20}
[ -x out/bin/skiffd ] || scripts/build.sh
log() { echo "[bench] $*" >&2; }

work=$(mktemp -d /tmp/skiff-bench-userns.XXXXXX)
# Remapped daemons refuse a root the remapped root cannot traverse (mktemp makes 0700).
chmod 711 "$work"
. scripts/lib/private-dockerd.sh
pd_init "$work"
trap 'pd_cleanup; rm -rf "$work"' EXIT

declare -A host
pd_start_skiffd plain; host[skiffd]=$PD_HOST
pd_start_skiffd remap --userns-remap=default; host[skiffd-remap]=$PD_HOST
engines=(skiffd skiffd-remap)
if command -v dockerd >/dev/null; then
  if pd_start_dockerd dockerd-remap --userns-remap=default; then host[dockerd-remap]=$PD_HOST; engines+=(dockerd-remap)
  else log "dockerd did not start: compared without it"; fi
fi
for e in "${engines[@]}"; do pd_import_busybox "${host[$e]}"; done
tar=$(pd_busybox_tar)

ms() { local s e; s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N); echo $(((e - s) / 1000000)); }
declare -A runs imports
for i in $(seq "$RUNS"); do
  for e in "${engines[@]}"; do
    runs[$e]+="$(ms "$PD_DOCKER_CLI" -H "${host[$e]}" run --rm busybox true) "
    imports[$e]+="$(ms "$PD_DOCKER_CLI" -H "${host[$e]}" import "$tar" "bench-import:$i") "
    "$PD_DOCKER_CLI" -H "${host[$e]}" rmi "bench-import:$i" >/dev/null
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "| engine | run --rm busybox true, median ms | import busybox tar, median ms |"
echo "|---|---|---|"
for e in "${engines[@]}"; do
  echo "| $e | $(median <<<"${runs[$e]}") | $(median <<<"${imports[$e]}") |"
done
echo
echo "RUNS=$RUNS, interleaved; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)."
