#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh) and runs every test: unit,
# integration (real nginx, fault-injection server) and end-to-end CLI tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The Node test partners (OTLP sink, demo shop, the OTel JS decoder), once,
# before tests that share them run in parallel.
for dir in tests/support examples/shop src/otel/testdata; do
  [ -d "$dir/node_modules" ] || npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
done
cd build
ctest --output-on-failure -j"$(nproc)" "$@"
