#!/usr/bin/env bash
# What the live dashboard (--ui, three SSE clients connected) costs a script
# run, in user-space instructions per iteration under callgrind (a count
# that does not move with the machine's noise, unlike CPU-second ratios on a
# shared VM).
#
#   bench/dashboard_overhead.sh            # STAMPEDE=..., N1 (5000), N2 (25000), PORT (18999)
#
# Starts nginx (loopback), runs bench/get_check.lua (10 VUs, 1 thread,
# --no-store) under callgrind with N1 and N2 iterations, without and with
# `--ui 127.0.0.1:PORT` and three `curl -N .../api/stream` clients (they
# retry until the dashboard is up; stampede's summary line must say
# "3 clients, 0 dropped"), and prints (Ir(N2) - Ir(N1)) / (N2 - N1) for both.
# Caveat: the dashboard's work is per second of wall time (one tick, one
# snapshot publish per worker), and valgrind stretches a run ~40x, so these
# figures overstate its share: read them as an upper bound.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STAMPEDE="${STAMPEDE:-$ROOT/build/src/cli/stampede}"
N1="${N1:-5000}"
N2="${N2:-25000}"
PORT="${PORT:-18999}"
command -v valgrind >/dev/null || { echo "dashboard_overhead.sh: valgrind not found" >&2; exit 1; }
command -v curl >/dev/null || { echo "dashboard_overhead.sh: curl not found" >&2; exit 1; }
WORK="$(mktemp -d /tmp/stampede-ui-bench-XXXXXX)"
# shellcheck disable=SC2034  # read by nginx_start
NGINX_NO_TRAP=1
# shellcheck source=SCRIPTDIR/../tests/support/nginx.sh
source "$ROOT/tests/support/nginx.sh"
CURLS=()
cleanup() {
  for pid in "${CURLS[@]}"; do kill "$pid" 2>/dev/null || true; done
  nginx_stop
  rm -rf -- "$WORK"
}
trap cleanup EXIT
nginx_start --workers 1 --no-https >/dev/null || { echo "nginx did not start" >&2; exit 1; }

ir() {
  local n="$1" ui="$2"
  local -a extra=()
  CURLS=()
  if [[ "$ui" == 1 ]]; then
    extra=(--ui "127.0.0.1:$PORT")
    for _ in 1 2 3; do
      curl -sN --max-time 600 --retry 200 --retry-connrefused --retry-delay 1 \
        "http://127.0.0.1:$PORT/api/stream" -o /dev/null &
      CURLS+=("$!")
    done
  fi
  timeout 600 valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.$n.$ui" \
    "$STAMPEDE" run "$ROOT/bench/get_check.lua" -e URL="$NGINX_URL" "${extra[@]}" --vus 10 \
    --threads 1 --iterations "$n" --no-store --quiet >"$WORK/out.$n.$ui" 2>"$WORK/err.$n.$ui"
  for pid in "${CURLS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ "$ui" == 1 ]] && ! grep -q "dashboard: 3 clients, 0 dropped" "$WORK/out.$n.$ui"; then
    echo "dashboard_overhead.sh: the three clients were not all connected:" >&2
    grep "dashboard:" "$WORK/out.$n.$ui" >&2 || true
    exit 1
  fi
  awk '/^summary:/{print $2}' "$WORK/cg.$n.$ui"
}
for ui in 0 1; do
  a="$(ir "$N1" "$ui")"
  b="$(ir "$N2" "$ui")"
  echo "$( ((ui)) && echo "with --ui and 3 SSE clients" || echo "without --ui" ): $(((b - a) / (N2 - N1))) Ir per iteration (Ir $a at $N1, $b at $N2)"
done
