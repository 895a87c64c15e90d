# shellcheck shell=bash
# Private daemons for benchmarks and test scripts: a dockerd (Debian's docker.io, which starts its own
# containerd) and/or a skiffd, each on its own socket, data root, exec root and pidfile under one work
# directory, with a busybox:latest image imported, and everything they made removed again at the end.
# Sourced by bench/*.sh and tests/*/run-*.sh (bash). Several of these scripts, other helpers' daemons
# and integration tests share the host, so nothing here touches state it did not make: daemons are
# stopped by the PID it started, and only its own mounts (under the work dir), bridges, nftables
# tables and cgroup parents are removed.
#
#   . scripts/lib/private-dockerd.sh
#   work=$(mktemp -d /tmp/skiff-xxx.XXXXXX)
#   pd_init "$work"                      # before starting anything
#   trap 'pd_cleanup; rm -rf "$work"' EXIT
#   pd_start_dockerd docker [dockerd flags...]; DK=$PD_HOST   # also $PD_PID, $PD_CONTAINERD_PID
#   pd_start_skiffd skiff [skiffd flags...];    SK=$PD_HOST   # also $PD_PID
#   pd_import_busybox "$DK"; pd_import_busybox "$SK"          # busybox:latest, CMD ["sh"]
#
# pd_cleanup, in this order: removes every container and unused user network of each daemon started
# here (so their veths, bridges and netns go), stops the daemons (SIGTERM, SIGKILL after 15 s; dockerd
# stops its containerd on SIGTERM, which is killed too if it outlives it), unmounts everything under
# the work dir (overlays, pinned netns, shm), deletes the bridges and nftables tables of those daemons
# and the private cgroup parent of each dockerd. It leaves the work dir itself to the caller.
#
# dockerd always runs with --iptables=false --ip-masq=false (its rules would be host-wide), its own
# containerd namespaces and its own --cgroup-parent; --bridge=none unless the caller passes --bridge
# (make that bridge with pd_make_bridge). skiffd gets a private default bridge on a free 10.N.0.0/16
# (bridge 10.N.1.1/24, user networks from 10.N.128.0/17) unless the caller passes --bridge; its NAT
# table is skiff-<bridge>. $PD_SUBNET16 is that N.
#
# Environment: PD_DOCKER_CLI (default /usr/local/bin/docker, else /usr/bin/docker: used to wait for,
# import into and empty both daemons), SKIFF_BIN (default <repo>/out/bin: skiffd and skiff-runtime).

PD_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [ -z "${PD_DOCKER_CLI:-}" ]; then
  if [ -x /usr/local/bin/docker ]; then PD_DOCKER_CLI=/usr/local/bin/docker; else PD_DOCKER_CLI=/usr/bin/docker; fi
fi
PD_WORK=
PD_HOSTS=()        # sockets of the daemons started, in start order
PD_PIDS=()         # their PIDs, same order
PD_LOGS=()         # their logs, same order
PD_CTRD_PIDS=()    # containerd processes started by the dockerds
PD_BRIDGES=()      # bridges to delete
PD_NFT_TABLES=()   # "family name" of nftables tables to delete
PD_CGROUP_PARENTS=()
PD_HOST= PD_PID= PD_CONTAINERD_PID= PD_SUBNET16=

pd_log() { echo "[private-dockerd] $*" >&2; }

# pd_init WORK: the directory every daemon's roots, sockets and logs go under.
pd_init() {
  PD_WORK=$1
  mkdir -p "$PD_WORK"
}

# pd_busybox_tar: prints the path of a busybox rootfs tarball (scripts/make-busybox-image.sh, made once).
pd_busybox_tar() {
  local tar="$PD_WORK/busybox.tar"
  [ -s "$tar" ] || "$PD_REPO/scripts/make-busybox-image.sh" >"$tar"
  echo "$tar"
}

# pd_import_busybox HOST [CLI...]: imports the busybox rootfs as busybox:latest with CMD ["sh"].
pd_import_busybox() {
  local host=$1; shift
  local cli=("$@"); [ ${#cli[@]} -gt 0 ] || cli=("$PD_DOCKER_CLI")
  "${cli[@]}" -H "$host" import -c 'CMD ["sh"]' "$(pd_busybox_tar)" busybox:latest >/dev/null
}

# pd_free_subnet16: prints N of a 10.N.0.0/16 (100-199, picked at random) no route of this host is in.
pd_free_subnet16() {
  local used n free=()
  used=$(awk 'NR>1 {print $2}' /proc/net/route | while read -r h; do printf '%d.%d\n' "0x${h:6:2}" "0x${h:4:2}"; done |
    awk -F. '$1==10 {print $2}' | sort -u)
  for n in $(seq 100 199); do grep -qx "$n" <<<"$used" || free+=("$n"); done
  [ ${#free[@]} -gt 0 ] || { pd_log "no free 10.N.0.0/16"; return 1; }
  echo "${free[RANDOM % ${#free[@]}]}"
}

pd_rand() { head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# pd_make_bridge NAME CIDR: a bridge with that address, up, deleted by pd_cleanup.
pd_make_bridge() {
  ip link add "$1" type bridge
  PD_BRIDGES+=("$1")
  ip addr add "$2" dev "$1"
  ip link set "$1" up
}

# pd_wait HOST PID LOG NAME: waits (30 s) until the daemon answers; on failure prints its log.
pd_wait() {
  local host=$1 pid=$2 log=$3 name=$4
  for _ in $(seq 300); do
    "$PD_DOCKER_CLI" -H "$host" version >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  "$PD_DOCKER_CLI" -H "$host" version >/dev/null 2>&1 && return 0
  pd_log "$name did not start; its log ($log):"
  cat "$log" >&2
  return 1
}

pd_has_flag() { # pd_has_flag FLAG ARGS...: whether FLAG or FLAG=... is among ARGS
  local f=$1 a; shift
  for a in "$@"; do [ "$a" = "$f" ] || [ "${a#"$f"=}" != "$a" ] && return 0; done
  return 1
}

# pd_start_dockerd NAME [dockerd flags...]: dockerd on $PD_WORK/NAME/{data,exec,docker.sock,pid}, log in
# $PD_WORK/NAME.log. Sets PD_HOST (unix://...), PD_PID and PD_CONTAINERD_PID (empty if none seen).
pd_start_dockerd() {
  local name=$1; shift
  local dir="$PD_WORK/$name" id cg
  id=$(pd_rand)
  cg="skiff-pd-$id"
  mkdir -p "$dir"
  local args=(-H "unix://$dir/docker.sock" --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/pid"
    --iptables=false --ip-masq=false --cgroup-parent "/$cg"
    --containerd-namespace "skiffpd$id" --containerd-plugins-namespace "skiffpd${id}p")
  pd_has_flag --bridge "$@" || pd_has_flag -b "$@" || args+=(--bridge=none)
  PD_CGROUP_PARENTS+=("$cg")
  dockerd "${args[@]}" "$@" >"$PD_WORK/$name.log" 2>&1 &
  PD_PID=$! PD_HOST="unix://$dir/docker.sock"
  PD_HOSTS+=("$PD_HOST"); PD_PIDS+=("$PD_PID"); PD_LOGS+=("$PD_WORK/$name.log")
  pd_wait "$PD_HOST" "$PD_PID" "$PD_WORK/$name.log" dockerd || return 1
  PD_CONTAINERD_PID=$(pgrep -P "$PD_PID" -x containerd || true)
  [ -z "$PD_CONTAINERD_PID" ] || PD_CTRD_PIDS+=("$PD_CONTAINERD_PID")
}

# pd_start_skiffd NAME [skiffd flags...]: skiffd (SKIFF_BIN, default out/bin) on $PD_WORK/NAME/{data,exec,
# skiff.sock,pid}, log in $PD_WORK/NAME.log. Sets PD_HOST (unix://...) and PD_PID.
pd_start_skiffd() {
  local name=$1; shift
  local dir="$PD_WORK/$name" bin=${SKIFF_BIN:-$PD_REPO/out/bin} br
  mkdir -p "$dir"
  local args=(-H "unix://$dir/skiff.sock" --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/pid"
    --runtime "$bin/skiff-runtime")
  if pd_has_flag --bridge "$@" || pd_has_flag -b "$@"; then
    local prev= a
    for a in "$@"; do
      case $prev in --bridge | -b) br=$a ;; esac
      case $a in --bridge=* ) br=${a#--bridge=} ;; esac
      prev=$a
    done
  else
    PD_SUBNET16=$(pd_free_subnet16) || return 1
    br="skb$(pd_rand)"
    args+=(--bridge "$br" --bip "10.$PD_SUBNET16.1.1/24" --default-address-pool "base=10.$PD_SUBNET16.128.0/17,size=24")
  fi
  if [ -n "${br:-}" ] && [ "$br" != none ]; then PD_BRIDGES+=("$br"); PD_NFT_TABLES+=("ip skiff-$br"); fi
  "$bin/skiffd" "${args[@]}" "$@" >"$PD_WORK/$name.log" 2>&1 &
  PD_PID=$! PD_HOST="unix://$dir/skiff.sock"
  PD_HOSTS+=("$PD_HOST"); PD_PIDS+=("$PD_PID"); PD_LOGS+=("$PD_WORK/$name.log")
  pd_wait "$PD_HOST" "$PD_PID" "$PD_WORK/$name.log" skiffd
}

# pd_cleanup: see the header. Safe to call more than once and after a failed start.
pd_cleanup() {
  set +e
  local i h p ids c d
  for i in "${!PD_PIDS[@]}"; do
    h=${PD_HOSTS[$i]} p=${PD_PIDS[$i]}
    kill -0 "$p" 2>/dev/null || continue
    ids=$(timeout 30 "$PD_DOCKER_CLI" -H "$h" ps -aq 2>/dev/null)
    [ -z "$ids" ] || timeout 120 "$PD_DOCKER_CLI" -H "$h" rm -f $ids >/dev/null 2>&1
    timeout 30 "$PD_DOCKER_CLI" -H "$h" network prune -f >/dev/null 2>&1
  done
  for p in "${PD_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PD_PIDS[@]}"; do
    for _ in $(seq 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
  done
  for p in "${PD_CTRD_PIDS[@]}"; do
    kill -0 "$p" 2>/dev/null || continue
    kill "$p"
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
  done
  if [ -n "$PD_WORK" ]; then
    awk -v d="$PD_WORK/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null
  fi
  for t in "${PD_NFT_TABLES[@]}"; do
    # shellcheck disable=SC2086
    nft list table $t >/dev/null 2>&1 && nft delete table $t
  done
  for b in "${PD_BRIDGES[@]}"; do ip link show "$b" >/dev/null 2>&1 && ip link delete "$b"; done
  for c in "${PD_CGROUP_PARENTS[@]}"; do
    for d in /sys/fs/cgroup/*/"$c" /sys/fs/cgroup/"$c"; do
      [ -d "$d" ] || continue
      find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
      [ -d "$d" ] && pd_log "cgroup $d still there (processes left in it?)"
    done
  done
  PD_PIDS=() PD_HOSTS=() PD_LOGS=() PD_CTRD_PIDS=() PD_NFT_TABLES=() PD_BRIDGES=() PD_CGROUP_PARENTS=()
  return 0
}
