#!/usr/bin/env bash
# What Floodgate costs inside a real server: the app of bench/HttpApp (WebApplication.CreateBuilder, appsettings.json,
# Floodgate's defaults: persistence on, two policies, RateLimit headers) with no limiter, with the built-in
# UseRateLimiter() and with Floodgate. Each server is pinned to core 0 (taskset) and wrk to core 1. The figure is the
# server's CPU time (utime + stime from /proc) per request wrk completed; throughput is secondary.
#
# Every server runs for the whole benchmark and is first warmed up under load until tiered compilation has settled
# (about 30 s on one core), so that rounds compare steady states, not JIT timelines. The configurations then alternate
# (none, builtin, floodgate, floodgate's endpoint without a policy, floodgate with RateLimitHeaders=OnRejection, none, ...) so that drift in the machine hits them
# alike; the table gives medians and the spread. Bytes allocated per request come from GC.GetTotalAllocatedBytes
# (the app's /stats endpoint) around each run. Then none and Floodgate are loaded side by side, at the same time,
# which cancels the machine's drift (PAIRS runs, default 10), with a second none server as a control: none against
# none shows how far the side-by-side method itself moves when nothing differs. Last, fresh servers sit idle and
# their context switches per second are counted over all their threads (/proc/PID/task/*/status): after one request
# as started, after one request with the thread pool's spin-waiting off (DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0,
# which shows what is left without the runtime's), and never used (no request since the start but the readiness probe).
#
# Usage: bench/http-bench.sh [rounds] [seconds per run] [warm-up seconds] [idle seconds]   (defaults: 10, 10, 30, 30)
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
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$data"; }
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
port=$base_port
for mode in none builtin floodgate floodgate-onrejection none-twin; do
  port=$((port + 1))
  start "${mode%-twin}" "$port"
  pid_of[$mode]=$started; url_of[$mode]="http://127.0.0.1:$port"
done
pid_of[floodgate-free]=${pid_of[floodgate]}; url_of[floodgate-free]=${url_of[floodgate]}
path_of() { [ "$1" = floodgate-free ] && echo /free || echo /; }

for c in "${configs[@]}" none-twin; do
  echo "warming up $c for ${warmup}s..." >&2
  taskset -c 1 wrk -t1 -c32 -d"${warmup}s" "${url_of[$c]}$(path_of "$c")" >/dev/null
done

declare -A us rps bytes ratio
for ((round = 1; round <= rounds; round++)); do
  for c in "${configs[@]}"; do
    p=${pid_of[$c]}; u=${url_of[$c]}
    a0=$(curl -s "$u/stats"); c0=$(cpu_ticks "$p")
    result=$(taskset -c 1 wrk -t1 -c32 -d"${seconds}s" "$u$(path_of "$c")")
    c1=$(cpu_ticks "$p"); a1=$(curl -s "$u/stats")
    n=$(awk '/requests in/ {print $1}' <<<"$result")
    r=$(awk '/Requests\/sec/ {print $2}' <<<"$result")
    [ "$(awk '/Non-2xx/ {print $NF}' <<<"$result")" = "" ] || { echo "$c answered non-2xx responses: the benchmark is invalid" >&2; exit 1; }
    x=$(awk -v c=$((c1 - c0)) -v t="$ticks" -v n="$n" 'BEGIN {printf "%.3f", c / t * 1e6 / n}')
    b=$(awk -v a="$((a1 - a0))" -v n="$n" 'BEGIN {printf "%.0f", a / n}')
    us[$c]="${us[$c]:-} $x"; rps[$c]="${rps[$c]:-} $r"; bytes[$c]="${bytes[$c]:-} $b"
    [ "$c" = none ] && none_us=$x
    ratio[$c]="${ratio[$c]:-} $(awk -v x="$x" -v n="$none_us" 'BEGIN {printf "%.4f", x / n}')"
    echo "round $round $c: $x us CPU/request, $r req/s, $b B/request" >&2
  done
done

median() { printf '%s\n' $1 | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
lowest() { printf '%s\n' $1 | sort -g | head -1; }
highest() { printf '%s\n' $1 | sort -g | tail -1; }
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
# each on core 1), so that whatever the machine does to one it does to the other; the ratio of each pair.
pairs=${PAIRS:-10}
declare -A side
for ((i = 1; i <= pairs; i++)); do
  for c in "${side_configs[@]}"; do
    n0=$(cpu_ticks "${pid_of[none]}"); f0=$(cpu_ticks "${pid_of[$c]}")
    taskset -c 1 wrk -t1 -c16 -d"${seconds}s" "${url_of[none]}$(path_of "$c")" >"$data/side-none.txt" & w=$!
    taskset -c 1 wrk -t1 -c16 -d"${seconds}s" "${url_of[$c]}$(path_of "$c")" >"$data/side-fg.txt"
    wait "$w"
    n1=$(cpu_ticks "${pid_of[none]}"); f1=$(cpu_ticks "${pid_of[$c]}")
    nn=$(awk '/requests in/ {print $1}' "$data/side-none.txt"); nf=$(awk '/requests in/ {print $1}' "$data/side-fg.txt")
    x=$(awk -v a=$((n1 - n0)) -v na="$nn" -v b=$((f1 - f0)) -v nb="$nf" 'BEGIN {printf "%.4f", (b / nb) / (a / na)}')
    side[$c]="${side[$c]:-} $x"
    echo "side by side $i $c: $(awk -v x="$x" 'BEGIN {printf "%+.1f%%", (x - 1) * 100}') CPU per request vs none" >&2
  done
done
echo
echo "Side by side ($pairs runs of ${seconds} s each; none and the other server on core 0, each loaded by its own wrk -t1 -c16 on core 1, on the same path):"
echo
echo "| configuration | CPU per request vs none at the same time, median (min to max) |"
echo "|---|---:|"
for c in "${side_configs[@]}"; do
  awk -v name="$(label "$c")" -v m="$(median "${side[$c]}")" -v lo="$(lowest "${side[$c]}")" -v hi="$(highest "${side[$c]}")" \
    'BEGIN {printf "| %s | **%+.1f%%** (%+.1f%% to %+.1f%%) |\n", name, (m - 1) * 100, (lo - 1) * 100, (hi - 1) * 100}'
done

# Idle: fresh servers, one request each, then nothing; the same apps with the thread pool's spin-waiting off; and
# the two apps never used.
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
wait 2>/dev/null || true
pids=()
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
