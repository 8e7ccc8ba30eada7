#!/usr/bin/env bash
# Runs the demo shop's tests with node's built-in test runner.
# Installs the locked npm dependencies first when they are missing or older
# than package-lock.json. NODE and NPM may name the binaries to use.
set -euo pipefail
cd "$(dirname "$0")"
NODE="${NODE:-node}"
NPM="${NPM:-npm}"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  "$NPM" ci --no-audit --no-fund
fi
exec "$NODE" --test test/*.test.js
