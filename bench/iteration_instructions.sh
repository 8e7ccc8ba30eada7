#!/usr/bin/env bash
# User-space instructions per script iteration, under callgrind: a count
# that does not move with the machine's noise (CPU-second ratios on a shared
# 2-core VM vary by ±15 % run to run, too much to resolve a few per cent).
#
#   bench/iteration_instructions.sh SCRIPT [stampede run args...]
#   e.g. bench/iteration_instructions.sh bench/get_check_data.lua -e DATA=/tmp/users.csv -e ROW=index
#
# Starts nginx (tests/support/nginx.sh, loopback), runs `stampede run SCRIPT
# -e URL=<nginx> --vus 10 --threads 1 --no-store` under valgrind's callgrind
# twice, with N1 and N2 iterations, and prints (Ir(N2) - Ir(N1)) / (N2 - N1):
# what one more iteration costs in user-space instructions (startup and
# shutdown cancel out). Kernel time (the sockets' system calls, about half a
# script iteration's CPU) is not counted: a ratio of these figures overstates
# a relative cost against total CPU. Env: N1 (5000), N2 (25000), STAMPEDE.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STAMPEDE="${STAMPEDE:-$ROOT/build/src/cli/stampede}"
N1="${N1:-5000}"
N2="${N2:-25000}"
(($# >= 1)) || { echo "usage: $0 SCRIPT [stampede run args...]" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "iteration_instructions.sh: valgrind not found" >&2; exit 1; }
script="$1"
shift
EXTRA=("$@")
WORK="$(mktemp -d /tmp/stampede-instr-XXXXXX)"
# shellcheck disable=SC2034  # read by nginx_start
NGINX_NO_TRAP=1
# shellcheck source=SCRIPTDIR/../tests/support/nginx.sh
source "$ROOT/tests/support/nginx.sh"
trap 'nginx_stop; rm -rf -- "$WORK"' EXIT
nginx_start --workers 1 --no-https >/dev/null || { echo "nginx did not start" >&2; exit 1; }

ir() {
  local n="$1"
  timeout 600 valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.$n" \
    "$STAMPEDE" run "$script" -e URL="$NGINX_URL" "${EXTRA[@]}" --vus 10 --threads 1 --iterations "$n" \
    --no-store --quiet >/dev/null 2>"$WORK/err.$n" || { cat "$WORK/err.$n" >&2; exit 1; }
  awk '/^summary:/{print $2}' "$WORK/cg.$n"
}
a="$(ir "$N1")"
b="$(ir "$N2")"
python3 - "$a" "$b" "$N1" "$N2" "$script ${EXTRA[*]}" <<'PY'
import sys
a, b, n1, n2 = map(int, sys.argv[1:5])
print("%s: %.0f instructions per iteration (Ir %d at %d iterations, %d at %d)"
      % (sys.argv[5].strip(), (b - a) / (n2 - n1), a, n1, b, n2))
PY
