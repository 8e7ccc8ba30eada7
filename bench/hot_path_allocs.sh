#!/usr/bin/env bash
# Heap calls per request on stampede's worker threads, in steady state.
#
#   cmake --build build --target stampede stampede_alloc_counter && bench/hot_path_allocs.sh
#
# Runs stampede against a local nginx (loopback, 1 worker thread, 50 VUs)
# twice per mode, with N1 and N2 requests, under LD_PRELOAD of
# build/bench/alloc_counter.so, which counts malloc/calloc/realloc/aligned
# allocations and free on threads named "stampede-w*". Startup and shutdown
# cost the same in both runs, so (count(N2) - count(N1)) / (N2 - N1) is what
# one more request costs: the goal is 0. Modes: --url; a script with one
# http.get and one check (bench/get_check.lua); the same with every request
# traced (100 % sampled, spans to OTEL_TRACES_EXPORTER=console, discarded).
# Lua objects the script creates (the response table) live in LuaJIT's GC
# heap, which is not malloc: they are not counted here (see RESULTS.md).
# A positive control (bench/unique_urls.lua: a new URL per request, so a
# new cached target each time) must show allocations, or the counter is
# not seeing the workers.
#
# Env: STAMPEDE (binary), COUNTER (the .so), N1 (20000), N2 (60000).
# Bounded: every run is killed after 120 s.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STAMPEDE="${STAMPEDE:-$ROOT/build/src/cli/stampede}"
COUNTER="${COUNTER:-$ROOT/build/bench/alloc_counter.so}"
N1="${N1:-20000}"
N2="${N2:-60000}"
die() { echo "hot_path_allocs.sh: $*" >&2; exit 1; }
[[ -x "$STAMPEDE" ]] || die "stampede binary not found: $STAMPEDE (build it or set STAMPEDE=)"
[[ -f "$COUNTER" ]] || die "counter not found: $COUNTER (cmake --build build --target stampede_alloc_counter)"
[[ "$N1" =~ ^[0-9]+$ && "$N2" =~ ^[0-9]+$ ]] && ((N1 >= 1000 && N2 > N1 && N2 <= 1000000)) ||
  die "need 1000 <= N1 < N2 <= 1000000"

tmp="$(mktemp -d)"
# shellcheck disable=SC2034  # read by nginx_start
NGINX_NO_TRAP=1
# shellcheck source=../tests/support/nginx.sh
source "$ROOT/tests/support/nginx.sh"
trap 'nginx_stop; rm -rf "$tmp"' EXIT INT TERM
nginx_start --workers 1 --no-https >/dev/null || die "nginx did not start"

# count MODE N -> prints "allocs frees"
count() {
  local mode="$1" n="$2" out="$tmp/count"
  local -a cmd env=()
  case "$mode" in
    url) cmd=(run --url "$NGINX_URL") ;;
    script) cmd=(run "$ROOT/bench/get_check.lua" -e "URL=$NGINX_URL") ;;
    traced) cmd=(run "$ROOT/bench/get_check.lua" -e "URL=$NGINX_URL")
            env=(OTEL_TRACES_EXPORTER=console OTEL_TRACES_SAMPLER=always_on) ;;
    control) cmd=(run "$ROOT/bench/unique_urls.lua" -e "URL=$NGINX_URL") ;;
  esac
  rm -f "$out"
  # LD_PRELOAD reaches stampede only (env execs it): timeout would write
  # its own counts to the same file when it exits.
  timeout 120 env "${env[@]}" ALLOC_COUNT_OUT="$out" LD_PRELOAD="$COUNTER" \
    "$STAMPEDE" "${cmd[@]}" --vus 50 --iterations "$n" --threads 1 --quiet \
    >/dev/null 2>"$tmp/stderr" || die "stampede failed ($mode, $n): $(tail -1 "$tmp/stderr")"
  [[ -s "$out" ]] || die "no counts written ($mode, $n)"
  echo "$(awk '$1=="worker_allocs"{print $2}' "$out") $(awk '$1=="worker_frees"{print $2}' "$out")"
}

echo "| mode | allocs ($N1 req) | allocs ($N2 req) | allocs per extra request | frees per extra request |"
echo "|---|---:|---:|---:|---:|"
for mode in url script traced control; do
  read -r a1 f1 < <(count "$mode" "$N1")
  read -r a2 f2 < <(count "$mode" "$N2")
  awk -v m="$mode" -v a1="$a1" -v a2="$a2" -v f1="$f1" -v f2="$f2" -v n=$((N2 - N1)) \
    'BEGIN { printf "| %s | %d | %d | %.4f | %.4f |\n", m, a1, a2, (a2 - a1) / n, (f2 - f1) / n }'
done
