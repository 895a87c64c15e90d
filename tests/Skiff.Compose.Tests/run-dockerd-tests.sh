#!/usr/bin/env bash
# Runs skiff compose (and docker-compose, side by side) against a private dockerd (Debian's docker.io)
# with busybox:latest (scripts/lib/private-dockerd.sh: private roots under one temporary directory,
# stopped by its PID on exit, its containers, networks, mounts and cgroups removed).
# Needs root, dockerd, docker-compose, /bin/busybox (busybox-static), the docker CLI and out/bin/skiff.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export PD_DOCKER_CLI=${SKIFF_TEST_DOCKER_CLI:-/usr/local/bin/docker}
. "$here/../../scripts/lib/private-dockerd.sh"
dir=$(mktemp -d /tmp/skiff-dockerd.XXXXXX)
pd_init "$dir"
trap 'pd_cleanup; rm -rf "$dir"' EXIT
trap 'exit 130' INT TERM
pd_start_dockerd docker
pd_import_busybox "$PD_HOST"
SKIFF_TEST_DOCKER_HOST=$PD_HOST dotnet test "$here" "$@"
