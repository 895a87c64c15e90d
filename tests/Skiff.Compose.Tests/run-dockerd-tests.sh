#!/usr/bin/env bash
# Runs skiff compose (and docker-compose, side by side) against a private dockerd (Debian's docker.io) with
# busybox:latest (scripts/with-private-dockerd.sh: private roots, stopped by its PID, everything it made removed
# afterwards). Needs root, dockerd, docker-compose, /bin/busybox (busybox-static), the docker CLI and out/bin/skiff.
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/../../scripts/with-private-dockerd.sh" dotnet test "$here" "$@"
