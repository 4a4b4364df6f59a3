#!/usr/bin/env bash
# Scale-out at what cost (issue 28): the app of bench/HttpApp in one server process per configuration, switched under
# load between no limiter (off) and the limiter (on) in windows of WINDOW seconds, as bench/http-bench.sh's part 2 does.
# wrk on /keyed: 64 active clients (64 API keys in turn, wrk-api-keys.lua), 32 connections. The server is pinned to core
# 0; wrk and a fresh redis-server to core 1. Per window: the server's CPU time per request (/stats) and requests per
# second; Redis's CPU per request, as its process CPU time (/proc, 10 ms ticks) and as its own command time (INFO
# commandstats, µs) over the requests of the window.
# Configurations: Floodgate in process; on Redis, SyncMode Exact; on Redis, SyncMode Batched (SyncInterval 100 ms);
# RedisRateLimiting's fixed window (the peer), all with a limit no client reaches (8,000,000 a minute).
# Usage: [SWITCHES=15] [WINDOW=2] [CONFIGS="inprocess exact batched rrl"] bench/redis-http-bench.sh [warm-up seconds]
set -euo pipefail
cd "$(dirname "$0")"
warmup="${1:-20}"
switches=${SWITCHES:-15}
window=${WINDOW:-2}
configs=(${CONFIGS:-inprocess exact batched rrl})
base_port=5290

source ./pinned.sh   # wrk, taskset, two cores
need python3 python3
need redis-server redis-server

out="$PWD/HttpApp/bin/bench"
dotnet build HttpApp -c Release -o "$out" >/dev/null
data="$(mktemp -d)"
pids=()
stop_all() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; pids=(); }
trap 'stop_all; rm -rf "$data"' EXIT

redis_port=$((base_port + 99))
secret=$(head -c 32 /dev/urandom | base64)
start_redis() {
  taskset -c 1 redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$data" >"$data/redis.log" 2>&1 &
  redis_pid=$!
  pids+=("$redis_pid")
  for _ in $(seq 1 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && return; sleep 0.1; done
  echo "redis-server did not start" >&2; exit 1
}
redis_ticks() { awk '{print $14 + $15}' "/proc/$redis_pid/stat"; }
redis_usec() { redis-cli -p "$redis_port" info commandstats | tr -d '\r' | awk -F'usec=' '/^cmdstat_/ {split($2, a, ","); s += a[1]} END {print s + 0}'; }
stats() { curl -s "$1/stats"; }

run() {
  local name=$1 port=$2 mode=switched extra=()
  case $name in
    # A policy counted per API key on Redis needs the instances' shared KeySecret (a throwaway one here).
    exact) extra=(--Floodgate:Redis:Configuration=127.0.0.1:$redis_port --Floodgate:Redis:SyncMode=Exact --Floodgate:KeySecret="$secret");;
    batched) extra=(--Floodgate:Redis:Configuration=127.0.0.1:$redis_port --Floodgate:Redis:SyncMode=Batched --Floodgate:Redis:SyncInterval=100ms --Floodgate:KeySecret="$secret");;
    rrl) mode=switched-rrl; extra=(--Redis=127.0.0.1:$redis_port);;
  esac
  start_redis
  (cd "$out" && exec taskset -c 0 dotnet HttpApp.dll "$mode" "$port" --Floodgate:DataDirectory="$data/$name" "${extra[@]}" >"$data/$name.log" 2>&1) &
  pids+=("$!")
  local url="http://127.0.0.1:$port"
  for _ in $(seq 1 150); do curl -s -o /dev/null "$url/stats" && break; sleep 0.1; done
  curl -s -o /dev/null "$url/stats" || { echo "server $name did not start:" >&2; cat "$data/$name.log" >&2; exit 1; }
  local total=$((warmup + switches * 2 * (window + 1) + 5))
  taskset -c 1 wrk -t1 -c32 -d"${total}s" -s "$PWD/wrk-api-keys.lua" "$url/keyed" >"$data/wrk-$name.txt" &
  local load=$!
  echo "$name: warming up for ${warmup}s..." >&2
  for ((i = 0; i < warmup; i++)); do curl -s -o /dev/null "$url/switch/$((i % 2))"; sleep 1; done
  : >"$data/windows-$name.txt"
  local q0 a0 c0 q1 a1 c1 t0 t1 u0 u1 state
  for ((i = 0; i < switches; i++)); do
    for state in 0 1; do
      curl -s -o /dev/null "$url/switch/$state"
      read -r q0 a0 c0 <<<"$(stats "$url")"; t0=$(redis_ticks); u0=$(redis_usec)
      sleep "$window"
      read -r q1 a1 c1 <<<"$(stats "$url")"; t1=$(redis_ticks); u1=$(redis_usec)
      echo "$state $((q1 - q0)) $((c1 - c0)) $((t1 - t0)) $((u1 - u0)) $((a1 - a0))" >>"$data/windows-$name.txt"
    done
  done
  kill -INT "$load" 2>/dev/null || true
  wait "$load" 2>/dev/null || true
  grep -q Non-2xx "$data/wrk-$name.txt" && { echo "$name answered non-2xx responses: the benchmark is invalid" >&2; exit 1; }
  stop_all
}

port=$base_port
for name in "${configs[@]}"; do
  port=$((port + 1))
  run "$name" "$port"
done

echo
echo "Switched in one process per configuration: $switches off/on pairs of ${window} s windows after ${warmup} s of warm-up; server on core 0,"
echo "wrk -t1 -c32 (64 API keys, /keyed) and redis-server on core 1. \"CPU vs off\": the median over on-windows of the server's CPU"
echo "per request over the mean of the off-windows beside it (95% bootstrap interval); req/s likewise. Redis per request: its"
echo "process CPU time (10 ms ticks) and its own command time (INFO commandstats) over the window's requests."
echo
echo "| configuration | server CPU per request, off → on | CPU vs off, median (95% CI) | req/s vs off, median | Redis CPU per request | Redis command time per request | allocated per request, off → on |"
echo "|---|---:|---:|---:|---:|---:|---:|"
ticks=$(getconf CLK_TCK)
for name in "${configs[@]}"; do
  python3 - "$data/windows-$name.txt" "$name" "$ticks" "$window" <<'PY'
import random, statistics, sys
rows = [[int(x) for x in line.split()] for line in open(sys.argv[1]) if line.strip()]
name, ticks, window = sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
labels = {'inprocess': 'Floodgate in process', 'exact': 'Floodgate on Redis, `SyncMode = Exact`',
          'batched': 'Floodgate on Redis, `SyncMode = Batched`', 'rrl': 'RedisRateLimiting (fixed window)'}
cpu = lambda r: r[2] / r[1] / 1000   # µs per request
cpu_ratios, rate_ratios = [], []
for i, r in enumerate(rows):
    if r[0] != 1:
        continue
    side = [rows[j] for j in (i - 1, i + 1) if 0 <= j < len(rows) and rows[j][0] == 0]
    if side:
        cpu_ratios.append(cpu(r) / statistics.mean(cpu(s) for s in side) - 1)
        rate_ratios.append(r[1] / statistics.mean(s[1] for s in side) - 1)
random.seed(1)
n = len(cpu_ratios)
medians = sorted(statistics.median(random.choices(cpu_ratios, k=n)) for _ in range(2000))
on = [r for r in rows if r[0] == 1]
off = [r for r in rows if r[0] == 0]
redis_cpu = sum(r[3] for r in on) / ticks * 1e6 / sum(r[1] for r in on)
redis_cmd = sum(r[4] for r in on) / sum(r[1] for r in on)
pct = lambda x: '%+.1f%%' % (100 * x)
alloc = lambda rs: statistics.median(r[5] / r[1] for r in rs)
print('| %s | %.2f µs → %.2f µs | **%s** (%s to %s) | %s (%.0f → %.0f) | %.2f µs | %.2f µs | %.0f B → %.0f B |' % (
    labels.get(name, name), statistics.median(cpu(r) for r in off), statistics.median(cpu(r) for r in on),
    pct(statistics.median(cpu_ratios)), pct(medians[50]), pct(medians[1949]), pct(statistics.median(rate_ratios)),
    statistics.median(r[1] for r in off) / window, statistics.median(r[1] for r in on) / window, redis_cpu, redis_cmd,
    alloc(off), alloc(on)))
PY
done
