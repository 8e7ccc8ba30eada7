#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh) and runs every test: unit,
# integration (real nginx, fault-injection server) and end-to-end CLI tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cd build
ctest --output-on-failure -j"$(nproc)" "$@"
