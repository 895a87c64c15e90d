#!/usr/bin/env bash
# Compose benchmark: the 3-service project of the compose tests (seed fills a named volume, a busybox
# httpd becomes healthy, a client fetches the page by service name), `up --exit-code-from client
# client` until the client exits, then `down -v`; skiff compose vs Debian's docker-compose 1.29,
# both against one private dockerd, and skiff compose against skiffd when skiffd has networks.
# Needs root. Starts its own dockerd and skiffd on private roots, stops them by PID at the end.
# RUNS (default 10) timed runs per command after 1 warmup; every timed `up` starts from a project
# that is down (hyperfine --prepare), every timed `down` from one that is up. Markdown on stdout, progress on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-10}
export DEBIAN_FRONTEND=noninteractive
need=()
for p in docker.io docker-compose hyperfine busybox-static jq; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; fi
[ -x out/bin/skiffd ] && [ -x out/bin/skiff ] || scripts/build.sh
log() { echo "[bench] $*" >&2; }

work=$(mktemp -d /tmp/skiff-compose-bench.XXXXXX)
. scripts/lib/private-dockerd.sh
pd_init "$work"
trap 'pd_cleanup; rm -rf "$work"' EXIT

pd_start_dockerd docker; DK=$PD_HOST
pd_import_busybox "$DK" /usr/bin/docker
pd_start_skiffd skiff; SK=$PD_HOST
pd_import_busybox "$SK" out/bin/skiff

proj="$work/proj"
mkdir -p "$proj"
cp tests/Shared/compose-scenario.yaml "$proj/compose.yaml"
skiff_dk="$PWD/out/bin/skiff -H $DK compose -p bench --project-directory $proj -f $proj/compose.yaml"
skiff_sk="$PWD/out/bin/skiff -H $SK compose -p bench --project-directory $proj -f $proj/compose.yaml"
dc_dk="env DOCKER_HOST=$DK docker-compose -p bench --project-directory $proj -f $proj/compose.yaml"

check() { "$@" >/dev/null 2>"$work/check.err" || { echo "failed: $*" >&2; cat "$work/check.err" >&2; return 1; }; }
engines=(skiff-compose-dockerd docker-compose-dockerd)
cmds=("$skiff_dk" "$dc_dk")
if check $skiff_sk up --exit-code-from client client && check $skiff_sk down -v; then
  engines+=(skiff-compose-skiffd); cmds+=("$skiff_sk")
else
  log "skiff compose against skiffd failed (networks/volumes not in this skiffd?): not measured"
fi
for i in "${!cmds[@]}"; do check ${cmds[$i]} up --exit-code-from client client; check ${cmds[$i]} down -v; done

echo "## compose: up until the client exits, then down -v ($RUNS runs, 1 warmup)"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- dockerd $(dockerd --version | awk '{print $3}' | tr -d ,); $(docker-compose version --short 2>/dev/null | sed 's/^/docker-compose /'); skiff $(out/bin/skiff --version)"
echo
echo "| what | mean ± σ (s) | min (s) | max (s) |"
echo "|---|---|---|---|"
for i in "${!cmds[@]}"; do
  c=${cmds[$i]}
  log "hyperfine: ${engines[$i]} up"
  hyperfine -N --warmup 1 --runs "$RUNS" --export-json "$work/up-$i.json" --prepare "$c down -v" --cleanup "$c down -v" "$c up --exit-code-from client client" >/dev/null 2>&1
  jq -r --arg n "${engines[$i]} up" '.results[] | "| \($n) | \(.mean*1000|round/1000) ± \(.stddev*1000|round/1000) | \(.min*1000|round/1000) | \(.max*1000|round/1000) |"' "$work/up-$i.json"
  log "hyperfine: ${engines[$i]} down"
  hyperfine -N --warmup 1 --runs "$RUNS" --export-json "$work/down-$i.json" --prepare "$c up -d" --cleanup "$c down -v" "$c down -v" >/dev/null 2>&1
  jq -r --arg n "${engines[$i]} down -v" '.results[] | "| \($n) | \(.mean*1000|round/1000) ± \(.stddev*1000|round/1000) | \(.min*1000|round/1000) | \(.max*1000|round/1000) |"' "$work/down-$i.json"
done
echo
echo "Commands:"
for i in "${!cmds[@]}"; do echo "- ${engines[$i]}: \`${cmds[$i]} up --exit-code-from client client\`, then \`... down -v\`"; done
