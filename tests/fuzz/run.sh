#!/usr/bin/env bash
# Builds stampede's libFuzzer targets (tests/fuzz/*_fuzz.cc) with clang,
# AddressSanitizer and UndefinedBehaviorSanitizer (the asan preset's tree,
# build-asan/), then runs each for a bounded time. Exits non-zero on any finding
# (crash, sanitizer report, broken invariant, leak, timeout, out-of-memory);
# the input that caused it is left in $BUILD/artifacts/<target>/.
#
#   tests/fuzz/run.sh                  # build, then run every target FUZZ_SECONDS
#   tests/fuzz/run.sh otlp_receiver_fuzz
#   tests/fuzz/run.sh --build-only     # (ctest: asan_build builds them with the ASan tests)
#   tests/fuzz/run.sh --no-build       # (ctest: fuzz, FUZZ_SECONDS=10 each)
#
# Environment:
#   FUZZ_SECONDS     seconds per target (default 60)
#   FUZZ_BUILD_DIR   build directory (default <repo>/build-asan)
#   FUZZ_JOBS        parallel compile jobs (default 2)
#   FUZZ_RUNS        if set, also stop each target after this many inputs
#   FUZZ_ARGS        extra libFuzzer flags
#
# Needs clang and libclang-rt-14-dev on Debian 12 (scripts/setup.sh installs
# them). Working corpora grow in $BUILD/corpus/<target> (the checked-in seeds
# in tests/fuzz/corpus/<name> are only read).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${FUZZ_BUILD_DIR:-$ROOT/build-asan}
SECONDS_PER_TARGET=${FUZZ_SECONDS:-60}
JOBS=${FUZZ_JOBS:-2}

build=1
run=1
targets=()
for arg in "$@"; do
  case "$arg" in
    --build-only) run=0 ;;
    --no-build) build=0 ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    -*)
      echo "run.sh: unknown option $arg" >&2
      exit 2
      ;;
    *) targets+=("$arg") ;;
  esac
done
if [ ${#targets[@]} -eq 0 ]; then
  for src in "$ROOT"/tests/fuzz/*_fuzz.cc; do
    targets+=("$(basename "$src" .cc)")
  done
fi

CC=${FUZZ_CC:-clang}
CXX=${FUZZ_CXX:-clang++}
if ! command -v "$CXX" >/dev/null 2>&1; then
  echo "run.sh: $CXX not found; install clang and libclang-rt-14-dev (scripts/setup.sh)" >&2
  exit 2
fi

if [ "$build" = 1 ]; then
  # The asan preset (CMakePresets.json): every library compiled with
  # -fsanitize=address,undefined,fuzzer-no-link (coverage and sanitizers in
  # the code under test), STAMPEDE_FUZZ=ON; only the fuzz targets link
  # libFuzzer's main(). The same tree runs the unit tests under ASan
  # (scripts/sanitize.sh), so CI builds the libraries once for both.
  mkdir -p "$BUILD"
  if [ ! -f "$BUILD/build.ninja" ]; then
    (cd "$ROOT" && CC="$CC" CXX="$CXX" cmake --preset asan -B "$BUILD" \
       -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX") >"$BUILD/configure.log" 2>&1 || {
      cat "$BUILD/configure.log" >&2
      echo "run.sh: configuring $BUILD failed" >&2
      exit 2
    }
  fi
  cmake --build "$BUILD" --parallel "$JOBS" --target "${targets[@]}"
fi
[ "$run" = 1 ] || exit 0

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

status=0
summary=()
for t in "${targets[@]}"; do
  bin="$BUILD/fuzz/$t"
  if [ ! -x "$bin" ]; then
    echo "run.sh: $bin is not built (run without --no-build)" >&2
    exit 2
  fi
  name=${t%_fuzz}
  corpus="$BUILD/corpus/$t"
  artifacts="$BUILD/artifacts/$t/"
  log="$BUILD/$t.log"
  mkdir -p "$corpus" "$artifacts"
  args=(-max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 -timeout=10
        -rss_limit_mb=2048 -max_len=32768 -artifact_prefix="$artifacts")
  [ -n "${FUZZ_RUNS:-}" ] && args+=(-runs="$FUZZ_RUNS")
  [ -f "$ROOT/tests/fuzz/$name.dict" ] && args+=(-dict="$ROOT/tests/fuzz/$name.dict")
  # shellcheck disable=SC2206
  [ -n "${FUZZ_ARGS:-}" ] && args+=($FUZZ_ARGS)
  seeds=()
  [ -d "$ROOT/tests/fuzz/corpus/$name" ] && seeds+=("$ROOT/tests/fuzz/corpus/$name")
  echo "== $t: ${SECONDS_PER_TARGET}s (log: $log)"
  if "$bin" "${args[@]}" "$corpus" "${seeds[@]}" >"$log" 2>&1; then
    result=ok
  else
    result="FINDING (exit $?)"
    status=1
    # The report: the sanitizer or invariant message and the stack.
    grep -n -A40 -E "ERROR: |runtime error|invariant broken|deadly signal|Timeout|out-of-memory" \
      "$log" | head -80 >&2 || tail -40 "$log" >&2
    ls -1 "$artifacts" >&2 || true
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  summary+=("$t: $result, ${execs:-?} executions, ${rate:-?} exec/s, corpus $(ls "$corpus" | wc -l) inputs")
done
printf '%s\n' "${summary[@]}"
exit $status
