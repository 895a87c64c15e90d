#!/bin/sh
# Runs skiff compose (and docker-compose, side by side) against a private dockerd (Debian's docker.io).
# Everything lives under one temporary directory; the dockerd started here is stopped by its PID
# on exit, which also stops the containerd it manages and unmounts its overlays.
# Needs root, dockerd, docker-compose, /bin/busybox (busybox-static), the docker CLI and out/bin/skiff.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d /tmp/skiff-dockerd.XXXXXX)
docker_cli=${SKIFF_TEST_DOCKER_CLI:-/usr/local/bin/docker}
pid=""
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid"
        i=0
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    fi
    grep -q " $dir/" /proc/mounts && awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r | xargs -r umount -l
    rm -rf "$dir"
}
trap cleanup EXIT INT TERM
mkdir -p "$dir/exec" "$dir/rootfs/bin" "$dir/rootfs/tmp" "$dir/rootfs/etc" "$dir/rootfs/proc" "$dir/rootfs/sys" "$dir/rootfs/dev"
dockerd --data-root "$dir/data" -H "unix://$dir/docker.sock" --exec-root "$dir/exec" \
    --pidfile "$dir/docker.pid" --iptables=false --ip-masq=false --bridge=none \
    --containerd-namespace skiffcomposetest --containerd-plugins-namespace skiffcomposetestp >"$dir/dockerd.log" 2>&1 &
pid=$!
i=0
until [ -S "$dir/docker.sock" ] && "$docker_cli" -H "unix://$dir/docker.sock" version >/dev/null 2>&1; do
    sleep 0.2; i=$((i + 1))
    if [ $i -gt 100 ]; then echo "dockerd did not start; see $dir/dockerd.log" >&2; cat "$dir/dockerd.log" >&2; exit 1; fi
done
cp /bin/busybox "$dir/rootfs/bin/busybox"
for applet in $("$dir/rootfs/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$dir/rootfs/bin/$applet"
done
tar -C "$dir/rootfs" -cf "$dir/busybox.tar" .
"$docker_cli" -H "unix://$dir/docker.sock" import -c 'CMD ["sh"]' "$dir/busybox.tar" busybox:latest >/dev/null
SKIFF_TEST_DOCKER_HOST="unix://$dir/docker.sock" dotnet test "$here" "$@"
