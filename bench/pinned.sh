# Sourced by the scripts that pin a server to core 0 and its load to core 1 (http-bench.sh, http-profile.sh):
# `need COMMAND PACKAGE` installs a missing tool from Debian's packages; then it checks for the two cores.
install() {
  if [ "$(id -u)" = 0 ]; then apt-get update -qq >/dev/null && apt-get install -y -qq "$@" >/dev/null
  else sudo apt-get update -qq >/dev/null && sudo apt-get install -y -qq "$@" >/dev/null; fi
}
need() { command -v "$1" >/dev/null 2>&1 || { echo "installing $2 ($1)..." >&2; install "$2"; }; }
need wrk wrk
need taskset util-linux
if [ "$(nproc)" -lt 2 ]; then echo "needs 2 cores (server on one, wrk on the other); this machine has $(nproc)" >&2; exit 1; fi
