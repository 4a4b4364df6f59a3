#!/usr/bin/env bash
# A flood of distinct clients through the real server: the sample (persistence on, a table of 4,096 slots per
# policy) as its own process, and one POST /login from each of N distinct loopback source addresses (127.100-227.x.y,
# the /24 moving fastest so that no network's MaxClientsPerPrefix holds a client back; 32 connections at a time, each
# request on its own connection). Reports the time, the answers, the
# server's resident memory before and after (the fixed table is preallocated; the test bounds the growth at
# 64 MiB), and a bystander client's latency during the flood; checks that 10 clients blocked before the flood are
# still blocked after it and that the server logged no error. It is tests/Floodgate.AspNetCore.Tests/FloodTests
# (20,000 clients in CI) at the size given here.
#
# Usage: bench/flood.sh [clients]   (default 100000; loopback only)
set -euo pipefail
cd "$(dirname "$0")/.."
clients="${1:-100000}"
dotnet build tests/Floodgate.AspNetCore.Tests -c Release -v q -nologo >/dev/null
FLOODGATE_FLOOD_CLIENTS="$clients" dotnet test tests/Floodgate.AspNetCore.Tests -c Release --no-build --nologo \
  --filter "FullyQualifiedName~FloodTests" --logger "console;verbosity=normal" | grep -E "flood:|Passed|Failed|Error" || true
cat "${TMPDIR:-/tmp}/floodgate-flood.txt"
