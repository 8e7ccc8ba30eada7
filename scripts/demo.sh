#!/usr/bin/env bash
# The main job: set everything up, start the demo shop (a Node.js service
# instrumented with the OpenTelemetry SDK) exporting its spans to stampede's
# built-in OTLP receiver, run the ramping shop scenario (examples/browse.lua,
# about a minute) — a real load test: ramping VUs, think time, checks,
# thresholds, a traceparent on every request — and keep its report, with no
# other infrastructure:
#   out/demo.db            the run store (metrics per second, stampede's spans
#                          and the shop's, joined per trace; docs/store.md)
#   out/report.html        `stampede report`: charts, per-name table, trace
#                          waterfalls (open it in any browser, offline)
#   out/demo-summary.json  the k6-shaped summary
# and print the three slowest traces (`stampede slow`).
#   DEMO_STAGES="10s:20 20s:20 10s:0" scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
[ -d examples/shop/node_modules ] || npm ci --prefix examples/shop --no-audit --no-fund >/dev/null
mkdir -p out
rm -f out/demo.db out/demo.db-wal out/demo.db-shm out/report.html out/demo-summary.json

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# Starts a server in the background and waits for its "listening ..." line.
start() {
  local fifo out
  fifo=$(mktemp -u) && mkfifo "$fifo"
  "$@" >"$fifo" 2>/dev/null &
  pids+=($!)
  read -r -t 60 out <"$fifo" || { echo "demo: $1 did not start" >&2; exit 1; }
  rm -f "$fifo"
  echo "$out"
}

# A free loopback port for stampede's receiver (4318 may be taken by a real
# collector on this machine).
collect_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# The shop exports to stampede's receiver; its batch processor sends every
# half second, well within stampede's --collect-linger after the run.
# Its database pool (4 connections, ~DEMO_DB_MS per query) saturates near the
# top of the ramp: the report's latency-against-VUs chart shows the knee.
shop_line=$(start env PORT=0 OTEL_SERVICE_NAME=shop OTEL_BSP_SCHEDULE_DELAY=500 \
  SHOP_DB_BASE_MS="${DEMO_DB_MS:-6}" \
  OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$collect_port" node examples/shop/server.js)
shop_url="http://127.0.0.1:$(awk '{print $3}' <<<"$shop_line")"
echo "demo: shop at $shop_url, exporting its spans to stampede at 127.0.0.1:$collect_port"

stages=()
for s in ${DEMO_STAGES:-10s:10 20s:60 20s:60 10s:0}; do stages+=(--stage "$s"); done
set +e
build/src/cli/stampede run examples/browse.lua -e BASE_URL="$shop_url" "${stages[@]}" \
  --collect="127.0.0.1:$collect_port" --out sqlite=out/demo.db \
  --summary-export out/demo-summary.json
code=$?
set -e
cleanup
pids=()
build/src/cli/stampede report out/demo.db -o out/report.html
echo
echo "demo: the three slowest traces (stampede slow out/demo.db --limit 3):"
build/src/cli/stampede slow out/demo.db --limit 3
echo
echo "demo: report in $(pwd)/out/report.html (open it in a browser); run store out/demo.db;" \
  "summary out/demo-summary.json (exit code $code)"
exit "$code"
