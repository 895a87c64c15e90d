#!/bin/sh
# Start-to-exit time of `run` of /bin/true in a busybox bundle with Docker's default spec, for
# skiff-runtime against runc and crun (hyperfine). Usage: hack/bench-run.sh [skiff-runtime binary]
# crun refuses cgroup v1 hybrid hosts while hugetlb is bound to cgroup2; its row is skipped then.
set -eu
bin=${1:-$(dirname "$0")/../out/bin/skiff-runtime}
bin=$(readlink -f "$bin")
dir=$(mktemp -d /tmp/skiff-bench.XXXXXX)
trap 'for c in /sys/fs/cgroup/*/skiff-bench; do rmdir "$c"/* "$c" 2>/dev/null || true; done; rm -rf "$dir"' EXIT
mkdir -p "$dir/rootfs/bin"
cp /bin/busybox "$dir/rootfs/bin/"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$dir/rootfs/bin/$a"; done
(cd "$dir" && "$bin" spec -- true)
sed -i 's|"linux":{|"linux":{"cgroupsPath":"/skiff-bench/b",|' "$dir/config.json"
cd "$dir"
set -- "$bin --root $dir/s run s1" "runc --root $dir/r run r1"
if crun --root "$dir/c" run c0 >/dev/null 2>&1; then set -- "$@" "crun --root $dir/c run c1"; fi
hyperfine -N -w 5 -r "${RUNS:-50}" "$@"
