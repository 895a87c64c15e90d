#!/usr/bin/env bash
# Installs Skiff on this machine: Debian packages it needs, NativeAOT builds of skiffd, skiff and
# skiff-runtime into /usr/local/bin, starts skiffd, makes busybox:latest and runs a container.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
if ! command -v gcc >/dev/null || [ ! -x /bin/busybox ] || ! dpkg -s busybox-static >/dev/null 2>&1 || ! dpkg -s zlib1g-dev >/dev/null 2>&1 || ! command -v nft >/dev/null; then
  apt-get update -qq
  apt-get install -y -qq gcc zlib1g-dev busybox-static iproute2 curl nftables >/dev/null
fi
scripts/build.sh
install -m 0755 out/bin/skiffd out/bin/skiff out/bin/skiff-runtime /usr/local/bin/

if ! skiff version >/dev/null 2>&1; then
  mkdir -p /var/log
  nohup /usr/local/bin/skiffd >>/var/log/skiffd.log 2>&1 </dev/null &
  for _ in $(seq 1 100); do skiff version >/dev/null 2>&1 && break; sleep 0.1; done
fi
if ! skiff image inspect busybox:latest >/dev/null 2>&1; then
  scripts/make-busybox-image.sh | skiff import -c 'CMD ["sh"]' - busybox:latest >/dev/null
fi
skiff run --rm busybox echo hello
