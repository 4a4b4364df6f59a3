#!/usr/bin/env bash
# What Floodgate costs inside a real server: the app of bench/HttpApp (WebApplication.CreateBuilder, appsettings.json,
# Floodgate's defaults: persistence on, two policies, RateLimit headers) with no limiter, with the built-in
# UseRateLimiter() and with Floodgate. Each server is pinned to core 0 (taskset) and wrk to core 1. The figure is the
# server's CPU time (utime + stime from /proc) per request it served (its own count, read with the CPU time at two
# moments under load, so wrk's connecting and stopping stay outside); throughput is secondary.
#
# Every server runs for the whole benchmark and is first warmed up under load until tiered compilation has settled
# (about 30 s on one core), so that rounds compare steady states, not JIT timelines. The configurations then alternate
# (none, builtin, floodgate, floodgate's endpoint without a policy, floodgate with RateLimitHeaders=OnRejection,
# none, ...) so that drift in the machine hits them alike; the table gives medians and the spread. Bytes allocated
# per request come from GC.GetTotalAllocatedBytes (the app's /stats endpoint, with the count of requests) at the same
# two moments. Then none and each other configuration are loaded side by side, at the same time, which cancels the
# machine's drift, with a second none server as a control: none against none shows how far the side-by-side method
# itself moves when nothing differs. Two processes of one app differ by themselves, so the side-by-side pairs run in
# GENERATIONS (default 3) generations of freshly started servers, PAIRS (default 6) pairs of each configuration per
# generation. Last, fresh servers sit idle and their context switches per second are counted over all their threads
# (/proc/PID/task/*/status): after one request as started, after one request with the thread pool's spin-waiting off
# (DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0, which shows what is left without the runtime's), and never used (no
# request since the start but the readiness probe).
#
# Usage: [PAIRS=6] [GENERATIONS=3] bench/http-bench.sh [rounds] [seconds per run] [warm-up seconds] [idle seconds]
#        (defaults: 10, 10, 30, 30; about 35 minutes)
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
# switched BEFORE AFTER: switches between two snapshots; a thread that started meanwhile counts whole, one that ended is lost.
switched() { awk 'NR == FNR {before[$1] = $2; next} {s += $2 - (($1 in before) ? before[$1] : 0)} END {print s}' <(echo "$1") <(echo "$2"); }

# start MODE PORT [VAR=VALUE]: a server pinned to core 0, persistence (floodgate) in its own directory, with an optional
# environment variable; sets $started.
# MODE floodgate-onrejection: Floodgate with RateLimitHeaders=OnRejection (headers on 429/403 only).
start() {
  local app=$1 extra=()
  [ "$app" = floodgate-onrejection ] && { app=floodgate; extra=(--Floodgate:RateLimitHeaders=OnRejection); }
  (cd "$out" && { [ -z "${3:-}" ] || export "$3"; } && exec taskset -c 0 dotnet HttpApp.dll "$app" "$2" $clock --Floodgate:DataDirectory="$data/$1-$2" "${extra[@]}" >"$data/$1-$2.log" 2>&1) &
  started=$!
  pids+=("$started")
  for _ in $(seq 1 150); do curl -s -o /dev/null "http://127.0.0.1:$2/stats" && break; sleep 0.1; done
  curl -s -o /dev/null "http://127.0.0.1:$2/stats" || { echo "server $1 did not start:" >&2; cat "$data/$1-$2.log" >&2; exit 1; }
}

declare -A pid_of url_of
configs=(none builtin floodgate floodgate-free floodgate-onrejection)
side_configs=(none-twin builtin floodgate floodgate-free floodgate-onrejection)   # each loaded beside none
label() {
  case $1 in
    none) echo "none (no limiter)";;
    none-twin) echo "none, a second server (control: the method's own noise)";;
    builtin) echo "built-in \`UseRateLimiter()\`, endpoint with a policy";;
    floodgate) echo "Floodgate, endpoint with a policy";;
    floodgate-free) echo "Floodgate, endpoint without a policy";;
    floodgate-onrejection) echo "Floodgate, endpoint with a policy, \`RateLimitHeaders = OnRejection\`";;
  esac
}
# start_servers FIRST_PORT: one server of each app (floodgate-free is floodgate's /free), ports from FIRST_PORT + 1.
start_servers() {
  local port=$1 mode
  for mode in none builtin floodgate floodgate-onrejection none-twin; do
    port=$((port + 1))
    start "${mode%-twin}" "$port"
    pid_of[$mode]=$started; url_of[$mode]="http://127.0.0.1:$port"
  done
  pid_of[floodgate-free]=${pid_of[floodgate]}; url_of[floodgate-free]=${url_of[floodgate]}
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
percent() { awk -v x="$1" 'BEGIN {printf "%+.1f%%", (x - 1) * 100}'; }   # a ratio as a signed percentage

# measure CONFIG...: loads the configurations at the same time, each by its own wrk on core 1 (32 connections shared
# out), for the run plus 1.5 s before and after. Between two snapshots taken under load, so that wrk's connecting and
# stopping stay outside, each server's CPU time (/proc) and its own count of requests served and bytes allocated
# (/stats) give cpu_us[CONFIG] (µs per request), rate[CONFIG] (requests per second) and alloc_b[CONFIG] (bytes per request).
declare -A cpu_us rate alloc_b
measure() {
  local c q a conns=$((32 / $#)) loads=()
  local -A t0 q0 a0 t1 q1 a1
  for c in "$@"; do
    taskset -c 1 wrk -t1 -c"$conns" -d"$((seconds + 3))s" "${url_of[$c]}$(path_of "$c")" >"$data/wrk-$c.txt" &
    loads+=($!)
  done
  sleep 1.5
  for c in "$@"; do t0[$c]=$(cpu_ticks "${pid_of[$c]}"); read -r q0[$c] a0[$c] <<<"$(curl -s "${url_of[$c]}/stats")"; done
  sleep "$seconds"
  for c in "$@"; do t1[$c]=$(cpu_ticks "${pid_of[$c]}"); read -r q1[$c] a1[$c] <<<"$(curl -s "${url_of[$c]}/stats")"; done
  wait "${loads[@]}"
  for c in "$@"; do
    grep -q Non-2xx "$data/wrk-$c.txt" && { echo "$c answered non-2xx responses: the benchmark is invalid" >&2; exit 1; }
    q=$((q1[$c] - q0[$c])); a=$((a1[$c] - a0[$c]))
    cpu_us[$c]=$(awk -v c=$((t1[$c] - t0[$c])) -v t="$ticks" -v n="$q" 'BEGIN {printf "%.3f", c / t * 1e6 / n}')
    rate[$c]=$(awk -v n="$q" -v s="$seconds" 'BEGIN {printf "%.0f", n / s}')
    alloc_b[$c]=$(awk -v a="$a" -v n="$q" 'BEGIN {printf "%.0f", a / n}')
  done
}

start_servers "$base_port"
warm_up "${configs[@]}" none-twin

declare -A us rps bytes ratio
for ((round = 1; round <= rounds; round++)); do
  for c in "${configs[@]}"; do
    measure "$c"
    x=${cpu_us[$c]}
    us[$c]="${us[$c]:-} $x"; rps[$c]="${rps[$c]:-} ${rate[$c]}"; bytes[$c]="${bytes[$c]:-} ${alloc_b[$c]}"
    [ "$c" = none ] && none_us=$x
    ratio[$c]="${ratio[$c]:-} $(awk -v x="$x" -v n="$none_us" 'BEGIN {printf "%.4f", x / n}')"
    echo "round $round $c: $x us CPU/request, ${rate[$c]} req/s, ${alloc_b[$c]} B/request" >&2
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

# Side by side: the none server and each other one loaded at the same time (both on core 0, two wrk with 16 connections
# each on core 1), so that whatever the machine does to one it does to the other; the ratio of each pair. Which wrk
# starts first alternates from pair to pair. Two processes of the same app differ by themselves (what tiered PGO
# compiled, where the runtime put things), so the pairs run in GENERATIONS generations of fresh servers (the first
# reuses the servers above), each started and warmed up again, PAIRS pairs per configuration each.
pairs=${PAIRS:-6}
generations=${GENERATIONS:-3}
declare -A side side_gen
for ((g = 1; g <= generations; g++)); do
  if ((g > 1)); then
    stop_servers
    start_servers $((base_port + 20 * g))
    warm_up "${configs[@]}" none-twin
  fi
  declare -A this_gen=()
  for ((i = 1; i <= pairs; i++)); do
    for c in "${side_configs[@]}"; do
      if ((i % 2)); then measure none "$c"; else measure "$c" none; fi
      x=$(awk -v a="${cpu_us[none]}" -v b="${cpu_us[$c]}" 'BEGIN {printf "%.4f", b / a}')
      side[$c]="${side[$c]:-} $x"; this_gen[$c]="${this_gen[$c]:-} $x"
      echo "side by side, generation $g, pair $i, $c: $(percent "$x") CPU per request vs none" >&2
    done
  done
  for c in "${side_configs[@]}"; do side_gen[$c]="${side_gen[$c]:-} $(median "${this_gen[$c]}")"; done
done
echo
echo "Side by side ($generations generations of fresh servers, $pairs pairs of ${seconds} s each per configuration in each; none and the other server on core 0, each loaded by its own wrk -t1 -c16 on core 1, on the same path):"
echo
echo "| configuration | CPU per request vs none at the same time, median of all $((generations * pairs)) pairs (min to max) | medians of the generations |"
echo "|---|---:|---:|"
for c in "${side_configs[@]}"; do
  gens=""; for m in ${side_gen[$c]}; do gens="${gens:+$gens, }$(percent "$m")"; done
  echo "| $(label "$c") | **$(percent "$(median "${side[$c]}")")** ($(percent "$(lowest "${side[$c]}")") to $(percent "$(highest "${side[$c]}")")) | $gens |"
done

# Idle: fresh servers, one request each, then nothing; the same apps with the thread pool's spin-waiting off; and
# the two apps never used.
stop_servers
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
  awk -v m="$name" -v s="$(switched "${s0[$app]}" "$s1")" -v c=$((i1 - i0[$app])) -v t="$ticks" -v d="$idle" \
    'BEGIN {printf "| %s | %.1f | %.0f ms |\n", m, s / d, c / t * 1000 * 60 / d}'
done
