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
# one more request costs: the goal is 0. Modes: --url; --url over h2c (h2); a script with one
# http.get and one check (bench/get_check.lua); the same with every request
# traced (100 % sampled, spans to OTEL_TRACES_EXPORTER=console, discarded).
# Lua objects the script creates (the response table) live in LuaJIT's GC
# heap, which is not malloc: they are not counted here (see RESULTS.md).
# Metrics modes (issue 7): "metrics" (--url) and "metrics-script"
# (bench/get_check.lua) with OTLP metrics on (--otel, spans off with
# OTEL_TRACES_EXPORTER=none, OTEL_METRIC_EXPORT_INTERVAL=1000, OTLP/HTTP to
# tests/support/otlp_sink.js on 127.0.0.1) and --prometheus 127.0.0.1:PORT
# scraped by curl every second; they run MN1/MN2 requests (10x N1/N2), so
# that both runs span several 1 s export and scrape cycles. The exporter,
# snapshot and /metrics threads (stampede-metric, stampede-prom,
# stampede-http, the main thread) are not counted: only what the metrics
# cost the workers. Each metrics run must have exported points (from its
# --summary-export) and the long one must have been scraped, or the script
# fails.
# A positive control (bench/unique_urls.lua: a new URL per request, so a
# new cached target each time) must show allocations, or the counter is
# not seeing the workers.
#
# Env: STAMPEDE (binary), COUNTER (the .so), N1 (20000), N2 (60000),
# MN1 (10 x N1), MN2 (10 x N2), MODES (default "url script traced metrics
# metrics-script control").
# Bounded: every run is killed after 120 s; the sink after 30 minutes; the
# scrape loop after 130 tries.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STAMPEDE="${STAMPEDE:-$ROOT/build/src/cli/stampede}"
COUNTER="${COUNTER:-$ROOT/build/bench/alloc_counter.so}"
N1="${N1:-20000}"
N2="${N2:-60000}"
MN1="${MN1:-$((10 * N1))}"
MN2="${MN2:-$((10 * N2))}"
MODES="${MODES:-url h2 script traced metrics metrics-script control}"
die() { echo "hot_path_allocs.sh: $*" >&2; exit 1; }
[[ -x "$STAMPEDE" ]] || die "stampede binary not found: $STAMPEDE (build it or set STAMPEDE=)"
[[ -f "$COUNTER" ]] || die "counter not found: $COUNTER (cmake --build build --target stampede_alloc_counter)"
[[ "$N1" =~ ^[0-9]+$ && "$N2" =~ ^[0-9]+$ ]] && ((N1 >= 1000 && N2 > N1 && N2 <= 1000000)) ||
  die "need 1000 <= N1 < N2 <= 1000000"
[[ "$MN1" =~ ^[0-9]+$ && "$MN2" =~ ^[0-9]+$ ]] && ((MN1 >= 1000 && MN2 > MN1 && MN2 <= 10000000)) ||
  die "need 1000 <= MN1 < MN2 <= 10000000"
for mode in $MODES; do
  case "$mode" in
    url|h2|script|traced|metrics|metrics-script|control) ;;
    *) die "unknown mode '$mode' in MODES" ;;
  esac
done

tmp="$(mktemp -d)"
SINK_PID=""
SCRAPER_PID=""
cleanup() {
  if [[ -n "$SCRAPER_PID" ]]; then
    touch "$tmp/scrape.stop"
    kill "$SCRAPER_PID" 2>/dev/null || true
    wait "$SCRAPER_PID" 2>/dev/null || true
  fi
  if [[ -n "$SINK_PID" ]]; then
    kill "$SINK_PID" 2>/dev/null || true
    wait "$SINK_PID" 2>/dev/null || true
  fi
  nginx_stop
  rm -rf "$tmp"
}
# shellcheck disable=SC2034  # read by nginx_start
NGINX_NO_TRAP=1
# shellcheck source=../tests/support/nginx.sh
source "$ROOT/tests/support/nginx.sh"
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
nginx_start --workers 1 --no-https --http2 >/dev/null || die "nginx did not start"

# The OTLP sink for the metrics modes (started once, only if one is selected).
SINK_PORT=""
if [[ " $MODES " == *" metrics"* ]]; then
  command -v node >/dev/null || die "node not found (needed by the metrics modes)"
  command -v curl >/dev/null || die "curl not found (needed by the metrics modes)"
  if [[ ! -d "$ROOT/tests/support/node_modules" ]]; then
    timeout 600 npm ci --prefix "$ROOT/tests/support" --no-audit --no-fund >/dev/null ||
      die "npm ci failed"
  fi
  node "$ROOT/tests/support/otlp_sink.js" --max-seconds 1800 >"$tmp/sink.out" 2>"$tmp/sink.err" \
    </dev/null &
  SINK_PID=$!
  for ((i = 0; i < 300; i++)); do
    grep -q '^listening' "$tmp/sink.out" 2>/dev/null && break
    kill -0 "$SINK_PID" 2>/dev/null || die "the OTLP sink exited: $(tail -1 "$tmp/sink.err")"
    sleep 0.1
  done
  SINK_PORT="$(awk '/^listening/{print $3; exit}' "$tmp/sink.out")"
  [[ "$SINK_PORT" =~ ^[0-9]+$ ]] || die "the OTLP sink did not start: $(tail -1 "$tmp/sink.err")"
fi

# scrape_loop PORT: GET /metrics every second until $tmp/scrape.stop exists
# (at most 130 tries, 2 s each at most); appends "1" per good answer (HTTP 200
# with stampede_http_reqs_total) and "0" otherwise to $tmp/scrapes.
scrape_loop() {
  local port="$1" i
  for ((i = 0; i < 130; i++)); do
    [[ -e "$tmp/scrape.stop" ]] && break
    if curl -sf --max-time 2 -o "$tmp/scrape.body" "http://127.0.0.1:$port/metrics" &&
      grep -q '^stampede_http_reqs_total' "$tmp/scrape.body"; then
      echo 1
    else
      echo 0
    fi >>"$tmp/scrapes"
    sleep 1
  done
}

# count MODE N -> prints "allocs frees" (metrics modes: "allocs frees points good_scrapes")
count() {
  local mode="$1" n="$2" out="$tmp/count"
  local -a cmd env=()
  local port
  case "$mode" in
    url) cmd=(run --url "$NGINX_URL") ;;
    # HTTP/2 with prior knowledge, 10 streams per connection (issue 14).
    h2) cmd=(run --url "$NGINX_H2C_URL" --http2-prior-knowledge --streams-per-connection 10) ;;
    script) cmd=(run "$ROOT/bench/get_check.lua" -e "URL=$NGINX_URL") ;;
    traced) cmd=(run "$ROOT/bench/get_check.lua" -e "URL=$NGINX_URL")
            env=(OTEL_TRACES_EXPORTER=console OTEL_TRACES_SAMPLER=always_on) ;;
    # --no-store: every URL is a new series, and the run store's per-second
    # snapshots of 60 000 series would slow this run past its time limit
    # (a known cost of unbounded tag cardinality; see bench/RESULTS.md).
    control) cmd=(run "$ROOT/bench/unique_urls.lua" -e "URL=$NGINX_URL" --no-store) ;;
    metrics|metrics-script)
      if [[ "$mode" == metrics ]]; then
        cmd=(run --url "$NGINX_URL")
      else
        cmd=(run "$ROOT/bench/get_check.lua" -e "URL=$NGINX_URL")
      fi
      port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
      cmd+=(--otel --prometheus "127.0.0.1:$port" --summary-export "$tmp/summary.json")
      env=(OTEL_TRACES_EXPORTER=none OTEL_METRIC_EXPORT_INTERVAL=1000
           OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$SINK_PORT"
           OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf)
      rm -f "$tmp/summary.json" "$tmp/scrape.stop" "$tmp/scrapes"
      scrape_loop "$port" &
      SCRAPER_PID=$!
      ;;
  esac
  rm -f "$out"
  # LD_PRELOAD reaches stampede only (env execs it): timeout would write
  # its own counts to the same file when it exits.
  local rc=0
  timeout 120 env "${env[@]}" ALLOC_COUNT_OUT="$out" LD_PRELOAD="$COUNTER" \
    "$STAMPEDE" "${cmd[@]}" --vus 50 --iterations "$n" --threads 1 --quiet \
    >/dev/null 2>"$tmp/stderr" || rc=$?
  if [[ -n "$SCRAPER_PID" ]]; then
    touch "$tmp/scrape.stop"
    wait "$SCRAPER_PID" 2>/dev/null || true  # bounded: one curl (2 s) + sleep 1
    SCRAPER_PID=""
  fi
  ((rc == 0)) || die "stampede failed ($mode, $n, exit $rc): $(tail -1 "$tmp/stderr")"
  [[ -s "$out" ]] || die "no counts written ($mode, $n)"
  local extra=""
  if [[ "$mode" == metrics* ]]; then
    # Metrics really flowed: points exported over OTLP, /metrics answered.
    local points scrapes good
    read -r points scrapes < <(python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
print(j.get("otel_metrics", {}).get("points_exported", 0), j.get("prometheus", {}).get("scrapes", 0))
' "$tmp/summary.json") || die "no summary export ($mode, $n)"
    good="$(grep -c '^1' "$tmp/scrapes" || true)"
    ((points > 0)) || die "no metric points exported over OTLP ($mode, $n)"
    # The short run may end before the first scrape; the long one lasts seconds.
    ((n < MN2 || (scrapes > 0 && good > 0))) ||
      die "/metrics was not scraped ($mode, $n): stampede counted $scrapes, curl got $good good answers"
    extra=" $points $good"
  fi
  echo "$(awk '$1=="worker_allocs"{print $2}' "$out") $(awk '$1=="worker_frees"{print $2}' "$out")$extra"
}

echo "| mode | requests (short / long run) | allocs (short) | allocs (long) | allocs per extra request | frees per extra request | OTLP points / good scrapes (long run) |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for mode in $MODES; do
  n1="$N1" n2="$N2"
  if [[ "$mode" == metrics* ]]; then n1="$MN1" n2="$MN2"; fi
  p2="" s2=""
  # count runs in this shell (not a subshell), so that a failure stops the
  # script and the EXIT trap stops its scrape loop.
  count "$mode" "$n1" >"$tmp/short"
  count "$mode" "$n2" >"$tmp/long"
  read -r a1 f1 _ _ <"$tmp/short"
  read -r a2 f2 p2 s2 <"$tmp/long"
  awk -v m="$mode" -v a1="$a1" -v a2="$a2" -v f1="$f1" -v f2="$f2" -v n1="$n1" -v n2="$n2" \
    -v x="${p2:+$p2 / $s2}" \
    'BEGIN { printf "| %s | %d / %d | %d | %d | %.4f | %.4f | %s |\n", m, n1, n2, a1, a2,
             (a2 - a1) / (n2 - n1), (f2 - f1) / (n2 - n1), x == "" ? "-" : x }'
done
