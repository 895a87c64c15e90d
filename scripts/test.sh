#!/usr/bin/env bash
# Runs every test: unit tests and the real daemon with the real Docker CLI and Docker.DotNet.
# Installs the tools the tests use, builds the binaries, prints "N passed, N failed" at the end.
set -uo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
need=()
for pkg in gcc zlib1g-dev busybox-static runc crun iproute2 curl tmux docker-compose python3-docker nftables docker-registry skopeo apache2-utils docker.io openssh-client; do dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg"); done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null || { echo "apt-get install ${need[*]} failed"; exit 1; }
fi
scripts/build.sh || { echo "build failed"; exit 1; }
export SKIFF_BIN="$PWD/out/bin" SKIFF_RUNTIME="$PWD/out/bin/skiff-runtime"
results=$(mktemp -d)
status=0
for proj in tests/*/*.csproj; do
  name=$(basename "$proj" .csproj)
  echo "=== $name"
  # The skiff-vs-Docker comparisons (Cli, Compose) run against a private dockerd from Debian's docker.io.
  runner=()
  case "$name" in Skiff.Cli.Tests|Skiff.Compose.Tests) runner=(scripts/with-private-dockerd.sh) ;; esac
  "${runner[@]}" dotnet test "$proj" --nologo -v quiet --logger "trx;LogFileName=$results/$name.trx" --logger "console;verbosity=normal" 2>&1 | grep -vE '^\s*$' | tail -n 60 || true
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
done
passed=0; failed=0; skipped=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  c=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$c"); f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$c")
  t=$(sed -n 's/.* total="\([0-9]*\)".*/\1/p' <<<"$c"); e=$(sed -n 's/.* executed="\([0-9]*\)".*/\1/p' <<<"$c")
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${t:-0} - ${e:-0}))
  # The console output above keeps only each project's last lines: name every failed test with its message here.
  [ "${f:-0}" -eq 0 ] || python3 - "$trx" <<'PY'
import html, re, sys
s = open(sys.argv[1], encoding="utf-8").read()
for m in re.finditer(r'<UnitTestResult [^>]*?testName="([^"]+)"[^>]*?outcome="Failed".*?</UnitTestResult>', s, re.S):
    msg = re.search(r"<Message>(.*?)</Message>", m.group(0), re.S)
    print("FAILED " + html.unescape(m.group(1)))
    print("\n".join(html.unescape(msg.group(1)).splitlines()[:40]) if msg else "(no message)")
PY
done
rm -rf "$results"
[ "$failed" -eq 0 ] || status=1
[ "$passed" -gt 0 ] || status=1
echo "$passed passed, $failed failed, $skipped skipped"
exit $status
