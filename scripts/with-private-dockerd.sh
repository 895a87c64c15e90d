#!/usr/bin/env bash
# with-private-dockerd.sh COMMAND [ARGS...]: runs COMMAND with SKIFF_TEST_DOCKER_HOST set to a private dockerd
# (Debian's docker.io) that has busybox:latest, and removes that dockerd and everything it made afterwards
# (scripts/lib/private-dockerd.sh). Exits with COMMAND's status. The docker CLI used to set it up is
# SKIFF_TEST_DOCKER_CLI (default /usr/local/bin/docker), the one the tests compare against. Needs root,
# dockerd and /bin/busybox (busybox-static).
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; }
export PD_DOCKER_CLI=${SKIFF_TEST_DOCKER_CLI:-/usr/local/bin/docker}
. "$(cd "$(dirname "$0")" && pwd)/lib/private-dockerd.sh"
dir=$(mktemp -d /tmp/skiff-dockerd.XXXXXX)
pd_init "$dir"
trap 'pd_cleanup; rm -rf "$dir"' EXIT
trap 'exit 130' INT TERM
pd_start_dockerd docker
pd_import_busybox "$PD_HOST"
SKIFF_TEST_DOCKER_HOST=$PD_HOST "$@"
