#!/usr/bin/env bash
# Installs every Debian package that stampede's build, tests and benchmarks
# need, then configures and builds. Idempotent: safe to run again.
#   scripts/setup.sh            # install + build (RelWithDebInfo) into build/
#   SKIP_BUILD=1 scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

PACKAGES=(
  # toolchain
  g++ cmake ninja-build pkg-config git ca-certificates
  # libraries (DESIGN.md: Dependencies)
  libhttp-parser-dev libssl-dev libc-ares-dev zlib1g-dev libnghttp2-dev liburing-dev
  # (libluajit2 is OpenResty's maintained LuaJIT; Debian's `luajit` package
  # conflicts with it, so never install that one alongside)
  libluajit2-5.1-dev lua-cjson libsqlite3-dev sqlite3 libcurl4-openssl-dev
  libcli11-dev libfmt-dev nlohmann-json3-dev
  # StampedeTest documents (`stampede k8s render`, src/dist)
  libyaml-cpp-dev
  # OTLP/gRPC export (grpc++ generic stub; protoc plugin for future stubs)
  libgrpc++-dev protobuf-compiler-grpc
  libgtest-dev libgmock-dev libbenchmark-dev
  # fuzzing (tests/fuzz/run.sh): clang, and libFuzzer with the sanitizer
  # runtimes, which Debian 12 ships in libclang-rt-14-dev (clang only
  # recommends it, and recommends are not installed here)
  clang libclang-rt-14-dev
  # test partners and benchmark peers
  nginx-light wrk python3 openssl curl procps util-linux time
  # h2load, the HTTP/2 peer of bench/vs_h2load.py
  nghttp2-client
  # a real Prometheus (and promtool) scrapes /metrics in the tests
  prometheus
  # headless Chromium (driven by playwright-core) checks the HTML report
  chromium
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js runs the demo shop and the OTLP test sink (the machine image ships
# Node 20; Debian's nodejs is the fallback).
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Debian's nginx package starts a system nginx on port 80 where an init system
# runs; stampede's tests start their own nginx instances, so stop that one.
if pgrep -x nginx >/dev/null 2>&1 && [ -f /run/nginx.pid ]; then
  $SUDO nginx -s stop 2>/dev/null || true
fi
# Likewise Debian's prometheus package starts a system Prometheus (port 9090)
# under an init system; the tests start their own on free ports.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
  $SUDO systemctl stop prometheus 2>/dev/null || true
fi

# The HTML report embeds uPlot from npm at build time (src/report/html).
[ -d src/report/html/node_modules ] ||
  npm ci --prefix src/report/html --no-audit --no-fund --loglevel=error

if [ "${SKIP_BUILD:-0}" != "1" ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" >/dev/null
  ninja -C build -j"$(nproc)"
fi
