#!/usr/bin/env bash
# The main job: set everything up, start the demo shop (a Node.js service
# instrumented with the OpenTelemetry SDK) and an OTLP sink on loopback, run
# examples/browse.lua against the shop — a real load test: ramping VUs,
# think time, checks, thresholds, a traceparent on every request — and keep
# its report: the k6-style summary on stdout, out/demo-summary.json, and every
# span (stampede's CLIENT spans and the shop's SERVER spans, one trace per
# iteration) in out/demo-spans.jsonl, and every OTLP metric point stampede
# exported (k6 and OTel semconv names, exemplars) in out/demo-metrics.jsonl.
#   DEMO_STAGES="10s:20 20s:20 10s:0" scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
[ -d examples/shop/node_modules ] || npm ci --prefix examples/shop --no-audit --no-fund >/dev/null
[ -d tests/support/node_modules ] || npm ci --prefix tests/support --no-audit --no-fund >/dev/null
mkdir -p out
rm -f out/demo-spans.jsonl out/demo-metrics.jsonl

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

sink_line=$(start node tests/support/otlp_sink.js --out out/demo-spans.jsonl \
  --metrics-out out/demo-metrics.jsonl --max-seconds 600)
sink_port=$(awk '{print $3}' <<<"$sink_line")
shop_line=$(start env PORT=0 OTEL_SERVICE_NAME=shop OTEL_BSP_SCHEDULE_DELAY=500 \
  OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$sink_port" node examples/shop/server.js)
shop_url="http://127.0.0.1:$(awk '{print $3}' <<<"$shop_line")"
echo "demo: shop at $shop_url, OTLP sink at 127.0.0.1:$sink_port"

stages=()
for s in ${DEMO_STAGES:-5s:10 10s:10 5s:0}; do stages+=(--stage "$s"); done
set +e
OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$sink_port" OTEL_METRIC_EXPORT_INTERVAL=5000 \
  build/src/cli/stampede run examples/browse.lua -e BASE_URL="$shop_url" "${stages[@]}" \
  --otel --summary-export out/demo-summary.json
code=$?
set -e
cleanup  # the shop flushes its spans on SIGTERM
pids=()
echo "demo: report in out/demo-summary.json; $(wc -l <out/demo-spans.jsonl) spans in out/demo-spans.jsonl;" \
  "$(wc -l <out/demo-metrics.jsonl) metric points in out/demo-metrics.jsonl (exit code $code)"
exit "$code"
