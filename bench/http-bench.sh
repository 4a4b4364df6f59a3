#!/usr/bin/env bash
# HTTP overhead of rate limiting, measured with wrk on loopback: a hello-world endpoint with no limiter, the built-in
# UseRateLimiter() (fixed window partitioned by client IP) and Floodgate. Runs alternate (none, builtin, floodgate,
# none, ...) so that drift in the machine hits all three alike; the table reports the medians.
# Usage: bench/http-bench.sh [rounds] [seconds per run]   (defaults: 5 rounds of 10 s)
set -euo pipefail
cd "$(dirname "$0")"
rounds="${1:-5}"
seconds="${2:-10}"
port=5090

if ! command -v wrk >/dev/null 2>&1; then
  echo "installing wrk..." >&2
  if [ "$(id -u)" = 0 ]; then apt-get update -qq >/dev/null && apt-get install -y -qq wrk >/dev/null; else sudo apt-get update -qq >/dev/null && sudo apt-get install -y -qq wrk >/dev/null; fi
fi

dotnet build HttpApp -c Release -o "$PWD/HttpApp/bin/bench" >/dev/null
declare -A results
for ((round = 1; round <= rounds; round++)); do
  for mode in none builtin floodgate; do
    dotnet HttpApp/bin/bench/HttpApp.dll "$mode" "$port" &
    app=$!
    for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
    wrk -t1 -c32 -d2s "http://127.0.0.1:$port/" >/dev/null   # warm-up: JIT, connections
    rps=$(wrk -t1 -c32 -d"${seconds}s" "http://127.0.0.1:$port/" | awk '/Requests\/sec/ {print $2}')
    kill "$app"; wait "$app" 2>/dev/null || true
    results[$mode]="${results[$mode]:-} $rps"
    echo "round $round $mode: $rps req/s" >&2
  done
done

median() { printf '%s\n' $1 | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
none=$(median "${results[none]}")
echo
echo "| limiter | median req/s ($rounds runs of ${seconds} s) | overhead vs none |"
echo "|---|---:|---:|"
for mode in none builtin floodgate; do
  m=$(median "${results[$mode]}")
  awk -v m="$m" -v n="$none" -v mode="$mode" 'BEGIN { printf "| %s | %.0f | %.1f%% |\n", mode, m, (1 - m / n) * 100 }'
done
