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
pids=()
cleanup() {
  set +e
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do
    for _ in $(seq 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
  done
  grep " $work" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

scripts/make-busybox-image.sh >"$work/busybox.tar"
DK="unix://$work/docker/docker.sock"
mkdir -p "$work/docker"
dockerd -H "$DK" --data-root "$work/docker/data" --exec-root "$work/docker/exec" --pidfile "$work/docker/pid" \
  --iptables=false --ip-masq=false --bridge=none --containerd-namespace skiffcbench --containerd-plugins-namespace skiffcbenchp \
  >"$work/dockerd.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do /usr/bin/docker -H "$DK" version >/dev/null 2>&1 && break; sleep 0.1; done
/usr/bin/docker -H "$DK" import -c 'CMD ["sh"]' "$work/busybox.tar" busybox:latest >/dev/null

SK="unix://$work/skiff/skiff.sock"
out/bin/skiffd -H "$SK" --data-root "$work/skiff/data" --exec-root "$work/skiff/exec" --pidfile "$work/skiff/pid" --runtime "$PWD/out/bin/skiff-runtime" >"$work/skiffd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do out/bin/skiff -H "$SK" version >/dev/null 2>&1 && break; sleep 0.1; done
out/bin/skiff -H "$SK" import -c 'CMD ["sh"]' "$work/busybox.tar" busybox:latest >/dev/null

proj="$work/proj"
mkdir -p "$proj"
cat >"$proj/compose.yaml" <<'EOF'
services:
  seed:
    image: busybox
    command: ["sh", "-c", "echo hello-from-volume > /www/index.html"]
    volumes:
      - www:/www
  web:
    image: busybox
    command: ["httpd", "-f", "-p", "80", "-h", "/www"]
    stop_signal: SIGKILL
    depends_on:
      seed:
        condition: service_completed_successfully
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://localhost/"]
      interval: 1s
      timeout: 2s
      retries: 30
    volumes:
      - www:/www:ro
  client:
    image: busybox
    command: ["sh", "-c", "wget -q -O- http://web/ | grep hello-from-volume"]
    depends_on:
      web:
        condition: service_healthy
volumes:
  www:
EOF
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
