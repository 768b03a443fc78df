#!/usr/bin/env bash
# Cold start and idle memory of `npm start` as a newcomer runs it: milliseconds from the command
# to the first 200 on /health, and the server's RSS after 5 s idle. The first run creates the
# embedded database and loads the demo catalog; the next ones reopen it.
# usage: bash bench/startup.sh [runs=3] [port=3310]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
port=${2:-3310}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for run in $(seq 1 "$runs"); do
  start=$(date +%s%N)
  DATA_DIR=$dir PORT=$port LOG_LEVEL=warn npm start >"$dir/server-$run.log" 2>&1 &
  for _ in $(seq 1 2400); do
    curl -sf "localhost:$port/health" >/dev/null && break
    sleep 0.05
  done
  curl -sf "localhost:$port/health" >/dev/null || { echo "no answer in 120 s"; cat "$dir/server-$run.log"; exit 1; }
  ready=$(( ($(date +%s%N) - start) / 1000000 ))
  sleep 5
  # The lock file holds {"pid":N,...} (older versions: the bare pid).
  pid=$(grep -o '[0-9][0-9]*' "$dir/backbeat.lock" | head -n 1)
  rss=$(( $(awk '/VmRSS/ { print $2 }' "/proc/$pid/status") / 1024 ))
  kind=$([ "$run" -eq 1 ] && echo "fresh DATA_DIR (create + demo catalog)" || echo "existing DATA_DIR")
  echo "run $run, $kind: ready in ${ready} ms, idle RSS ${rss} MB (load average $(cut -d' ' -f1 /proc/loadavg))"
  kill -TERM "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
done
