#!/usr/bin/env bash
# What Floodgate costs inside a real server: the app of bench/HttpApp (WebApplication.CreateBuilder, appsettings.json,
# Floodgate's defaults: persistence on, two policies, RateLimit headers) with no limiter, with the built-in
# UseRateLimiter() and with Floodgate. Each server is pinned to core 0 (taskset) and wrk to core 1. The figure is the
# server's CPU time per request it served: the process's CPU time (CLOCK_PROCESS_CPUTIME_ID, in ns) and its own count
# of requests, both read from the app's /stats at two moments under load, so wrk's connecting and stopping stay
# outside; throughput is secondary, bytes allocated per request (GC.GetTotalAllocatedBytes) come from the same reads.
#
# 1. Separate servers, alternating. Every server runs for the whole part and is first warmed up under load until
#    tiered compilation has settled (about 30 s on one core), so that rounds compare steady states, not JIT timelines.
#    The configurations then alternate (none, builtin, floodgate, floodgate's endpoint without a policy, floodgate with
#    RateLimitHeaders=OnRejection, none, ...) so that drift in the machine hits them alike; medians and the spread.
# 2. Switched in one process. Two processes of one app differ by themselves (what tiered PGO compiled, where things
#    landed) by a few percent, and this machine drifts by as much from one 10 s run to the next, so part 1 cannot tell
#    2% from 4%. Here one server runs the app in its `switched` mode (Floodgate registered with its defaults, its
#    middleware on the request path or not, switched through a request to /switch) under one wrk's load the whole
#    time, and windows of WINDOW (default 2) seconds alternate: off, on, off, on... Each on-window is compared with the
#    mean of the off-windows on either side of it, and the median of SWITCHES (default 40) such ratios is the figure,
#    with its 95% confidence interval (bootstrap). The same process, the same JIT state, seconds apart: what is left
#    is what the middleware does. The reference state `headers only` is a middleware that sets the two RateLimit
#    headers to constant values and does nothing else: what Kestrel charges any middleware for those two headers.
#    Background work is not in these ratios (it lands in on- and off-windows alike): Floodgate's is a checkpoint every
#    30 s while clients change state, shown by part 1 and by the persistence benchmarks.
# 3. Idle: fresh servers sit idle and their context switches per second are counted over all their threads
#    (/proc/PID/task/*/status): after one request as started, after one request with the thread pool's spin-waiting off
#    (DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0, which shows what is left without the runtime's), and never used (no
#    request since the start but the readiness probe).
#
# Usage: [SWITCHES=40] [WINDOW=2] [PARTS="separate switched idle"] [SWITCHED="policy check keyed free"] \
#        bench/http-bench.sh [rounds] [seconds per run] [warm-up seconds] [idle seconds]
#        (defaults: 10, 10, 30, 30; about 35 minutes). PARTS and SWITCHED choose parts and switched runs to repeat one.
# FLOODGATE_CLOCK=ticker|precise|kernel picks what Floodgate's checks read for "now" (default: its automatic choice).
set -euo pipefail
cd "$(dirname "$0")"
rounds="${1:-10}"
seconds="${2:-10}"
warmup="${3:-30}"
idle="${4:-30}"
clock="${FLOODGATE_CLOCK:-}"
base_port=5190

source ./pinned.sh   # wrk, taskset, two cores
need python3 python3

out="$PWD/HttpApp/bin/bench"
dotnet build HttpApp -c Release -o "$out" >/dev/null
data="$(mktemp -d)"
pids=()
stop_servers() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; pids=(); }
cleanup() { stop_servers; rm -rf "$data"; }
trap cleanup EXIT

ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# switches PID: "tid count" per live thread (voluntary + involuntary context switches).
switches() { for t in /proc/"$1"/task/*; do awk -v t="${t##*/}" '/ctxt_switches/ {s += $2} END {print t, s}' "$t/status" 2>/dev/null; done; }
# switches_between BEFORE AFTER: switches between two snapshots; a thread that started meanwhile counts whole, one that ended is lost.
switches_between() { awk 'NR == FNR {before[$1] = $2; next} {s += $2 - (($1 in before) ? before[$1] : 0)} END {print s}' <(echo "$1") <(echo "$2"); }

# start MODE PORT [VAR=VALUE] [--setting=value...]: a server pinned to core 0, persistence (floodgate, switched) in its
# own directory, with an optional environment variable and configuration overrides; sets $started.
# MODE floodgate-onrejection: Floodgate with RateLimitHeaders=OnRejection (headers on 429/403 only).
start() {
  local app=$1 port=$2 env="${3:-}" extra=("${@:4}")
  [ "$app" = floodgate-onrejection ] && { app=floodgate; extra+=(--Floodgate:RateLimitHeaders=OnRejection); }
  (cd "$out" && { [ -z "$env" ] || export "$env"; } && exec taskset -c 0 dotnet HttpApp.dll "$app" "$port" $clock --Floodgate:DataDirectory="$data/$1-$port" "${extra[@]}" >"$data/$1-$port.log" 2>&1) &
  started=$!
  pids+=("$started")
  for _ in $(seq 1 150); do curl -s -o /dev/null "http://127.0.0.1:$port/stats" && break; sleep 0.1; done
  curl -s -o /dev/null "http://127.0.0.1:$port/stats" || { echo "server $1 did not start:" >&2; cat "$data/$1-$port.log" >&2; exit 1; }
}

declare -A url_of
configs=(none builtin floodgate floodgate-free floodgate-onrejection)
label() {
  case $1 in
    none) echo "none (no limiter)";;
    builtin) echo "built-in \`UseRateLimiter()\`, endpoint with a policy";;
    floodgate) echo "Floodgate, endpoint with a policy";;
    floodgate-free) echo "Floodgate, endpoint without a policy";;
    floodgate-onrejection) echo "Floodgate, endpoint with a policy, \`RateLimitHeaders = OnRejection\`";;
  esac
}
# start_servers FIRST_PORT: one server of each app (floodgate-free is floodgate's /free), ports from FIRST_PORT + 1.
start_servers() {
  local port=$1 mode
  for mode in none builtin floodgate floodgate-onrejection; do
    port=$((port + 1))
    start "$mode" "$port"
    url_of[$mode]="http://127.0.0.1:$port"
  done
  url_of[floodgate-free]=${url_of[floodgate]}
}
path_of() { [ "$1" = floodgate-free ] && echo /free || echo /; }
# warm_up CONFIG...: each under load alone for the warm-up time.
warm_up() {
  local c
  for c in "$@"; do
    echo "warming up $c for ${warmup}s..." >&2
    taskset -c 1 wrk -t1 -c32 -d"${warmup}s" "${url_of[$c]}$(path_of "$c")" >/dev/null
  done
}
median() { printf '%s\n' $1 | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
lowest() { printf '%s\n' $1 | sort -g | head -1; }
highest() { printf '%s\n' $1 | sort -g | tail -1; }

# stats URL: "<requests served> <bytes allocated> <process CPU ns>" from the app.
stats() { curl -s "$1/stats"; }
# per_request Q0 A0 C0 Q1 A1 C1: "<CPU µs per request> <bytes per request>" between two reads of /stats.
per_request() { awk -v q=$(($4 - $1)) -v a=$(($5 - $2)) -v c=$(($6 - $3)) 'BEGIN {printf "%.4f %.0f\n", c / q / 1000, a / q}'; }

# measure CONFIG: loads the configuration's server by wrk on core 1 (32 connections) for the run plus 1.5 s before and
# after; between two reads of /stats under load: cpu_us (µs of CPU per request), rate (requests per second) and
# alloc_b (bytes allocated per request).
measure() {
  local c=$1 q0 a0 c0 q1 a1 c1
  taskset -c 1 wrk -t1 -c32 -d"$((seconds + 3))s" "${url_of[$c]}$(path_of "$c")" >"$data/wrk-$c.txt" &
  local load=$!
  sleep 1.5
  read -r q0 a0 c0 <<<"$(stats "${url_of[$c]}")"
  sleep "$seconds"
  read -r q1 a1 c1 <<<"$(stats "${url_of[$c]}")"
  wait "$load"
  grep -q Non-2xx "$data/wrk-$c.txt" && { echo "$c answered non-2xx responses: the benchmark is invalid" >&2; exit 1; }
  read -r cpu_us alloc_b <<<"$(per_request "$q0" "$a0" "$c0" "$q1" "$a1" "$c1")"
  rate=$(awk -v n=$((q1 - q0)) -v s="$seconds" 'BEGIN {printf "%.0f", n / s}')
}

parts="${PARTS:-separate switched idle}"
switched_runs="${SWITCHED:-policy check keyed free}"
if [[ " $parts " == *" separate "* ]]; then
start_servers "$base_port"
warm_up "${configs[@]}"

declare -A us rps bytes ratio
for ((round = 1; round <= rounds; round++)); do
  for c in "${configs[@]}"; do
    measure "$c"
    x=$cpu_us
    us[$c]="${us[$c]:-} $x"; rps[$c]="${rps[$c]:-} $rate"; bytes[$c]="${bytes[$c]:-} $alloc_b"
    [ "$c" = none ] && none_us=$x
    ratio[$c]="${ratio[$c]:-} $(awk -v x="$x" -v n="$none_us" 'BEGIN {printf "%.4f", x / n}')"
    echo "round $round $c: $x us CPU/request, $rate req/s, $alloc_b B/request" >&2
  done
done

echo
echo "Server CPU per request ($rounds alternating rounds of ${seconds} s, after ${warmup} s of warm-up each; server on core 0, wrk -t1 -c32 on core 1):"
echo
echo "\"vs none\": the median, over the rounds, of each run's CPU per request over that round's none run (min to max)."
echo
echo "| configuration | CPU per request, median (min-max) | vs none, median (min to max) | req/s, median | allocated per request |"
echo "|---|---:|---:|---:|---:|"
for c in "${configs[@]}"; do
  m=$(median "${us[$c]}")
  awk -v name="$(label "$c")" -v m="$m" -v lo="$(lowest "${us[$c]}")" -v hi="$(highest "${us[$c]}")" -v r="$(median "${rps[$c]}")" -v by="$(median "${bytes[$c]}")" -v c="$c" \
    -v rm="$(median "${ratio[$c]}")" -v rlo="$(lowest "${ratio[$c]}")" -v rhi="$(highest "${ratio[$c]}")" \
    'BEGIN {d = (c == "none") ? "" : sprintf("**%+.1f%%** (%+.1f%% to %+.1f%%)", (rm - 1) * 100, (rlo - 1) * 100, (rhi - 1) * 100); printf "| %s | %.2f us (%.2f-%.2f) | %s | %.0f | %d B |\n", name, m, lo, hi, d, r, by}'
done

stop_servers
fi

# Switched in one process (see the top): switched_run NAME PATH "STATES" [--setting=value...] writes one line per window,
# "<state> <CPU µs per request> <bytes per request>", to $data/switched-NAME.txt; state 0 is off.
switches_per_state=${SWITCHES:-40}
window=${WINDOW:-2}
switched_run() {
  local name=$1 path=$2 states=($3) port=$((base_port + 40 + ${#switched_names[@]})) i s state q0 a0 c0 q1 a1 c1
  switched_names+=("$name")
  start switched "$port" "" "${@:4}"
  local url="http://127.0.0.1:$port"
  local total=$((warmup + switches_per_state * ${#states[@]} * 2 * (window + 1) + 5))
  # /keyed: every request carries an API key (one of 64, by a wrk script), so Floodgate reads and hashes a header.
  local script=()
  [ "$path" = /keyed ] && script=(-s "$PWD/wrk-api-keys.lua")
  taskset -c 1 wrk -t1 -c32 -d"${total}s" "${script[@]}" "$url$path" >"$data/wrk-switched-$name.txt" &
  local load=$!
  echo "switched $name: warming up every state for ${warmup}s..." >&2
  local cycle=(0 "${states[@]}")
  for ((i = 0; i < warmup; i++)); do curl -s -o /dev/null "$url/switch/${cycle[i % ${#cycle[@]}]}"; sleep 1; done
  : >"$data/switched-$name.txt"
  for ((i = 0; i < switches_per_state; i++)); do
    for s in "${states[@]}"; do
      for state in 0 "$s"; do
        curl -s -o /dev/null "$url/switch/$state"
        read -r q0 a0 c0 <<<"$(stats "$url")"
        sleep "$window"
        read -r q1 a1 c1 <<<"$(stats "$url")"
        echo "$state $(per_request "$q0" "$a0" "$c0" "$q1" "$a1" "$c1")" >>"$data/switched-$name.txt"
      done
    done
  done
  kill -INT "$load" 2>/dev/null || true   # wrk prints its summary (and any non-2xx count) on SIGINT
  wait "$load" 2>/dev/null || true
  grep -q Non-2xx "$data/wrk-switched-$name.txt" && { echo "switched $name answered non-2xx responses: the benchmark is invalid" >&2; exit 1; }
  stop_servers
}
# switched_rows NAME "STATE=LABEL"...: a table row per state: the median of its windows over the mean of the off-windows
# on either side, the 95% confidence interval of that median (2,000 bootstrap resamples), the quartiles, allocations.
switched_rows() {
  python3 - "$data/switched-$1.txt" "${@:2}" <<'PY'
import random, statistics, sys
rows = [line.split() for line in open(sys.argv[1]) if line.strip()]
windows = [(int(state), float(us), float(b)) for state, us, b in rows]
off_us = statistics.median(w[1] for w in windows if w[0] == 0)
off_b = statistics.median(w[2] for w in windows if w[0] == 0)
random.seed(1)
for item in sys.argv[2:]:
    state, label = item.split('=', 1)
    state = int(state)
    ratios, on_b = [], []
    for i, (s, us, b) in enumerate(windows):
        neighbours = [windows[j][1] for j in (i - 1, i + 1) if 0 <= j < len(windows) and windows[j][0] == 0]
        if s == state and neighbours:
            ratios.append(us / statistics.mean(neighbours) - 1)
            on_b.append(b)
    ratios.sort()
    n = len(ratios)
    medians = sorted(statistics.median(random.choices(ratios, k=n)) for _ in range(2000))
    pct = lambda x: '%+.1f%%' % (100 * x)
    print('| %s | **%s** (%s to %s) | %s to %s | %d | %.2f µs | %.0f B / %.0f B |' % (
        label, pct(statistics.median(ratios)), pct(medians[50]), pct(medians[1949]),
        pct(ratios[n // 4]), pct(ratios[(3 * n) // 4]), n, off_us, off_b, statistics.median(on_b)))
PY
}

if [[ " $parts " == *" switched "* ]]; then
switched_names=()
has() { [[ " $switched_runs " == *" $1 "* ]]; }
has policy && switched_run policy / "1 2"
has check && switched_run nothing-but-the-check / "1" --Floodgate:RateLimitHeaders=Never
has keyed && switched_run keyed /keyed "1"
has free && switched_run free /free "1"
echo
echo "Switched in one process ($switches_per_state windows of ${window} s per state, each against the off-windows either side of it; server on core 0, wrk -t1 -c32 on core 1; every state warmed up for ${warmup} s):"
echo
echo "| state (against the same server with it off) | CPU per request, median (95% confidence interval) | quartiles | windows | off: CPU per request | allocated per request, off / on |"
echo "|---|---:|---:|---:|---:|---:|"
has policy && switched_rows policy "1=Floodgate, endpoint with a policy" "2=headers only: a middleware that sets the two RateLimit headers to constants, no limiter"
has check && switched_rows nothing-but-the-check "1=Floodgate, endpoint with a policy, \`RateLimitHeaders = Never\` (the check alone)"
has keyed && switched_rows keyed "1=Floodgate, endpoint with a policy keyed by an \`X-Api-Key\` header (64 keys)"
has free && switched_rows free "1=Floodgate, endpoint without a policy"
fi

[[ " $parts " == *" idle "* ]] || exit 0

# Idle: fresh servers, one request each, then nothing; the same apps with the thread pool's spin-waiting off; and
# the two apps never used.
declare -A idle_pid
idle_apps=(none floodgate none-nospin floodgate-nospin none-unused floodgate-unused)
port=$((base_port + 10))
for app in "${idle_apps[@]}"; do
  port=$((port + 1))
  case $app in
    *-nospin) start "${app%-nospin}" "$port" DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0;;
    *-unused) start "${app%-unused}" "$port";;
    *) start "$app" "$port";;
  esac
  idle_pid[$app]=$started
  # -unused: no request at all after the start (only the script's readiness probe of /stats).
  case $app in *-unused) ;; *) curl -s -o /dev/null "http://127.0.0.1:$port/";; esac
done
sleep 30   # the thread pool's workers retire after about 20 s without work
declare -A s0 i0
for app in "${idle_apps[@]}"; do s0[$app]=$(switches "${idle_pid[$app]}"); i0[$app]=$(cpu_ticks "${idle_pid[$app]}"); done
sleep "$idle"
echo
echo "Idle (${idle} s without requests, from 30 s after one request, or none for \"never used\"; all at the same time, each pinned to core 0):"
echo
echo "| app | context switches per second (all threads) | CPU time per minute |"
echo "|---|---:|---:|"
for app in "${idle_apps[@]}"; do
  s1=$(switches "${idle_pid[$app]}"); i1=$(cpu_ticks "${idle_pid[$app]}")
  case $app in
    *-nospin) name="${app%-nospin}, DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0";;
    *-unused) name="${app%-unused}, never used (no request since the start)";;
    *) name=$app;;
  esac
  awk -v m="$name" -v s="$(switches_between "${s0[$app]}" "$s1")" -v c=$((i1 - i0[$app])) -v t="$ticks" -v d="$idle" \
    'BEGIN {printf "| %s | %.1f | %.0f ms |\n", m, s / d, c / t * 1000 * 60 / d}'
done
