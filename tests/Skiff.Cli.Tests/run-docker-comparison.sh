#!/usr/bin/env bash
# Runs the skiff-vs-docker comparison tests against a private dockerd (Debian's docker.io) with busybox:latest
# (scripts/with-private-dockerd.sh: private roots, stopped by its PID, everything it made removed afterwards).
# Needs root, dockerd, /bin/busybox (busybox-static) and the docker CLI (SKIFF_TEST_DOCKER_CLI).
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/../../scripts/with-private-dockerd.sh" dotnet test "$here" "$@"
