#!/usr/bin/env bash
# Where Floodgate's share of a real server's CPU goes, by sampling instead of timing: the app of bench/HttpApp with
# Floodgate's defaults, pinned to core 0, loaded by wrk on core 1, sampled with `perf record -g` (JIT frames resolved
# through DOTNET_PerfMapEnabled). A sample counts as Floodgate's when its stack is inside the Floodgate middleware and
# not inside the endpoint it calls (the app's own work), or when Kestrel is writing the response headers that only
# Floodgate adds in this app (CopyExtraHeaders: the unknown headers). The figure is that share of all the server's
# samples (kernel included), over several runs: a direct cost, unaffected by the machine's drift (each run is its
# own baseline), but blind to indirect costs such as caches the middleware's code and data take from the rest.
#
# Usage: bench/http-profile.sh [runs] [seconds sampled per run] [warm-up seconds]   (defaults: 3, 20, 30)
set -euo pipefail
cd "$(dirname "$0")"
runs="${1:-3}"
seconds="${2:-20}"
warmup="${3:-30}"
port=5290

source ./pinned.sh   # wrk, taskset, two cores
need perf linux-perf
need python3 python3

out="$PWD/HttpApp/bin/profile"
dotnet build HttpApp -c Release -o "$out" >/dev/null
data="$(mktemp -d)"
pid=""
cleanup() { [ -z "$pid" ] || kill "$pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT

attribute() {
  python3 - "$1" <<'EOF'
import collections, sys
total = own = headers = 0
callees = collections.Counter()
stack = []
def short(frame):
    frame = frame.split(' (')[0]
    if '::' not in frame:
        return frame[:60]
    parts = frame.split('::')
    return parts[-2].split(' ')[-1].split('.')[-1][:40] + '::' + parts[-1].split('(')[0]
def flush():
    global total, own, headers
    if not stack:
        return
    total += 1
    if any('HttpResponseHeaders::<CopyTo>g__CopyExtraHeaders' in f for f in stack):
        headers += 1
        return
    at = next((i for i, f in enumerate(stack) if 'FloodgateMiddleware' in f), None)
    # The endpoint's own work: routing's endpoint middleware, or the request delegate minimal APIs compile (lambda_method).
    if at is None or any(('EndpointMiddleware' in f) or ('Microsoft.AspNetCore.Routing' in f) or ('RequestDelegateFactory' in f) or ('dynamicClass::lambda_method' in f) for f in stack[:at]):
        return
    own += 1
    j = at
    while j > 0 and 'FloodgateMiddleware' in stack[j - 1]:
        j -= 1
    callees[short(stack[j - 1]) if j > 0 else 'FloodgateMiddleware (itself, engine inlined)'] += 1
for line in open(sys.argv[1], errors='replace'):
    if not line.strip():
        flush(); stack = []
    elif line.startswith((' ', '\t')):
        parts = line.strip().split(' ', 1)
        stack.append(parts[1] if len(parts) > 1 else parts[0])
flush()
top = '; '.join('%s %.2f%%' % (k, 100 * v / total) for k, v in callees.most_common(4))
print('%.2f %.2f %.2f %d | %s' % (100 * own / total, 100 * headers / total, 100 * (own + headers) / total, total, top))
EOF
}

results=()
for ((run = 1; run <= runs; run++)); do
  (cd "$out" && DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 exec taskset -c 0 dotnet HttpApp.dll floodgate "$port" --Floodgate:DataDirectory="$data/run$run" >"$data/server.log" 2>&1) &
  pid=$!
  for _ in $(seq 1 150); do curl -s -o /dev/null "http://127.0.0.1:$port/stats" && break; sleep 0.1; done
  taskset -c 1 wrk -t1 -c32 -d"${warmup}s" "http://127.0.0.1:$port/" >/dev/null
  taskset -c 1 wrk -t1 -c32 -d"$((seconds + 2))s" "http://127.0.0.1:$port/" >/dev/null &
  load=$!
  sleep 1
  perf record -F 1999 -g -p "$pid" -o "$data/perf.data" -- sleep "$seconds" >/dev/null 2>&1
  wait "$load"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  perf script -i "$data/perf.data" 2>/dev/null >"$data/perf.txt"
  line=$(attribute "$data/perf.txt")
  echo "run $run: $line" >&2
  results+=("$line")
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
col() { for r in "${results[@]}"; do awk -v c="$1" '{print $c}' <<<"$r"; done; }
echo
echo "Floodgate's share of the server's CPU samples ($runs runs of ${seconds} s at 1,999 Hz, after ${warmup} s of warm-up; server on core 0, wrk -t1 -c32 on core 1):"
echo
echo "| part | share of all samples, median (runs) |"
echo "|---|---:|"
echo "| the middleware and what it calls (the check, endpoint lookup, setting the two headers) | $(median $(col 1))% ($(col 1 | paste -sd ' ')) |"
echo "| Kestrel writing the two headers out | $(median $(col 2))% ($(col 2 | paste -sd ' ')) |"
echo "| **together** | **$(median $(col 3))%** ($(col 3 | paste -sd ' ')) |"
echo
echo "Largest parts, last run: ${results[-1]#*| }"
