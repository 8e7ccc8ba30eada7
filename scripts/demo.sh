#!/usr/bin/env bash
# The main job: set everything up, start a real nginx on loopback, run a 10 s
# load test against it with 50 virtual users, and keep its report:
# the k6-style summary on stdout and out/demo-summary.json.
#   DURATION=30s VUS=100 scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source tests/support/nginx.sh
nginx_start
mkdir -p out
echo "demo: nginx serving $NGINX_URL; running stampede for ${DURATION:-10s} with ${VUS:-50} VUs"
set +e
build/src/cli/stampede run --url "$NGINX_URL" --vus "${VUS:-50}" --duration "${DURATION:-10s}" \
  --summary-export out/demo-summary.json
code=$?
set -e
echo "demo: JSON report in out/demo-summary.json (exit code $code)"
exit "$code"
