#!/usr/bin/env bash
# Runs every test of the solution: the one command behind the README's quick start and .ci/run.
set -euo pipefail
cd "$(dirname "$0")"

# The Redis tests start their own redis-server processes (one server, and a 3-master cluster) on free loopback
# ports: install Debian's redis-server and redis-cli when they are missing.
# The Native AOT test (AotTests) publishes a small app: it needs clang and zlib1g-dev.
missing=""
command -v redis-server >/dev/null 2>&1 || missing="$missing redis-server"
command -v redis-cli >/dev/null 2>&1 || missing="$missing redis-tools"
command -v clang >/dev/null 2>&1 || missing="$missing clang"
[ -e /usr/include/zlib.h ] || missing="$missing zlib1g-dev"
# The challenge page is tested in a real headless browser: Debian's chromium.
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
if [ -n "$missing" ]; then
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  echo "installing:$missing" >&2
  $sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq $missing >/dev/null
fi

results="$(mktemp -d)"
trap 'rm -rf "$results"' EXIT

set +e
# Build everything first (samples and benchmarks too), so that a project no test touches cannot rot unseen.
dotnet build Floodgate.sln -c Release && dotnet test Floodgate.sln -c Release --no-build --logger "trx" --results-directory "$results" "$@"
status=$?
set -e

# One plain summary line for CI: "N passed, N failed". A build failure runs no test: say so, never "0 failed".
python3 - "$results" "$status" <<'PY' || true
import glob, sys, xml.etree.ElementTree as ET
passed = failed = skipped = 0
for path in glob.glob(sys.argv[1] + "/*.trx"):
    counters = ET.parse(path).getroot().find(".//{*}Counters")
    if counters is not None:
        passed += int(counters.get("passed", 0))
        failed += int(counters.get("failed", 0))
        skipped += int(counters.get("notExecuted", 0))
if int(sys.argv[2]) != 0 and failed == 0:
    failed = 1
    print("tests: the build or a test run failed before its results were recorded (see above)")
print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
