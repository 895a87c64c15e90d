#!/usr/bin/env bash
# Compares Skiff with Docker (docker.io from Debian) and Podman on this machine, in one run.
# Needs root. Starts its own dockerd and skiffd on private sockets and data roots, stops them (by
# PID) at the end. Prints Markdown tables on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-30}
export DEBIAN_FRONTEND=noninteractive
need=()
for p in docker.io podman runc crun hyperfine busybox-static; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; fi
[ -x out/bin/skiffd ] || scripts/build.sh

work=$(mktemp -d /tmp/skiff-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 1
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  grep " $work" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

scripts/make-busybox-image.sh > "$work/busybox.tar"

# Skiff
SK="unix://$work/skiff/skiff.sock"
out/bin/skiffd -H "$SK" --data-root "$work/skiff/data" --exec-root "$work/skiff/exec" --pidfile "$work/skiff/pid" --runtime "$PWD/out/bin/skiff-runtime" >"$work/skiffd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do out/bin/skiff -H "$SK" version >/dev/null 2>&1 && break; sleep 0.1; done
out/bin/skiff -H "$SK" import -c 'CMD ["sh"]' "$work/busybox.tar" busybox:latest >/dev/null

# Docker (Debian's docker.io: its own dockerd and containerd on private paths)
DK="unix://$work/docker/docker.sock"
mkdir -p "$work/docker"
dockerd -H "$DK" --data-root "$work/docker/data" --exec-root "$work/docker/exec" --pidfile "$work/docker/pid" \
  --iptables=false --ip-masq=false --bridge=none --containerd-namespace skiffbench --containerd-plugins-namespace skiffbenchp \
  >"$work/dockerd.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do /usr/bin/docker -H "$DK" version >/dev/null 2>&1 && break; sleep 0.1; done
/usr/bin/docker -H "$DK" import -c 'CMD ["sh"]' "$work/busybox.tar" busybox:latest >/dev/null

# Podman (daemonless) with its own storage
PODMAN=(podman --root "$work/podman/root" --runroot "$work/podman/run" --cgroup-manager cgroupfs --events-backend none)
"${PODMAN[@]}" import -c 'CMD ["sh"]' "$work/busybox.tar" busybox:latest >/dev/null

echo "## run --rm busybox true (CLI end to end, network none)"
hyperfine -N --warmup 3 --runs "$RUNS" --export-markdown "$work/run.md" \
  -n skiff "out/bin/skiff -H $SK run --rm --network none busybox true" \
  -n docker "/usr/bin/docker -H $DK run --rm --network none busybox true" \
  -n podman "${PODMAN[*]} run --rm --network none busybox true" >/dev/null
cat "$work/run.md"

echo
echo "## OCI runtime: run of \`true\` on one busybox bundle"
bundle="$work/bundle"
mkdir -p "$bundle/rootfs"
tar -C "$bundle/rootfs" -xf "$work/busybox.tar"
(cd "$bundle" && runc spec && sed -i 's/"terminal": true/"terminal": false/; s/"sh"/"true"/' config.json)
hyperfine -N --warmup 3 --runs "$RUNS" --export-markdown "$work/rt.md" \
  -n skiff-runtime "out/bin/skiff-runtime --root $work/rt-skiff run --bundle $bundle bench-skiff" \
  -n crun "crun --root $work/rt-crun run --bundle $bundle bench-crun" \
  -n runc "runc --root $work/rt-runc run --bundle $bundle bench-runc" >/dev/null
cat "$work/rt.md"

echo
echo "## idle daemon memory (RSS, KiB)"
echo "| daemon | RSS |"
echo "|---|---|"
echo "| skiffd | $(ps -o rss= -p "${pids[0]}") |"
echo "| dockerd | $(ps -o rss= -p "${pids[1]}") |"
