#!/usr/bin/env bash
# The sanitizer trees (issue 12): builds and runs stampede's tests under
# AddressSanitizer + UndefinedBehaviorSanitizer (+ LeakSanitizer) and under
# ThreadSanitizer, with clang from Debian (CMakePresets.json: `asan`, `tsan`).
#
#   scripts/sanitize.sh asan build|test     # the CI subset (below)
#   scripts/sanitize.sh tsan build|test
#   scripts/sanitize.sh asan|tsan full      # every test of the tree (slow; by hand)
#
# CI (the `asan_build`, `asan`, `tsan_build`, `tsan` CTest tests of the
# release tree) runs a subset, to stay within 25 minutes on 2 cores: a
# sanitizer build of the whole tree takes ~15 min there. The subset is every
# test whose code reads bytes from outside or runs threads, without the
# engine, the report and the CLI on top (which the `full` mode and
# docs/hacking.md cover):
#   ASan+UBSan: the parsers and codecs (HTTP, URL, OTLP protobuf and JSON,
#     thresholds, durations, the coordinator's wire codec and merge), the
#     event loop, sockets, TLS and DNS, the HTTP server and client against
#     real servers, the OTLP exporters and receiver, the run store (and its
#     crash test), the Lua runtime and its bindings; plus the fuzz targets
#     (run by tests/fuzz/run.sh in this same tree).
#   TSan: the threaded tests: the event loop, the HTTP server and client,
#     the span export pipeline and the metrics pipeline (exporter threads),
#     the OTLP receiver (HTTP and gRPC threads), the shard publisher (workers
#     and the publisher), shared script data across workers, the run store's
#     writer.
# Environment: JOBS (parallel compile jobs, default 2).
set -euo pipefail
cd "$(dirname "$0")/.."

ASAN_TESTS=(core_test loop_test metrics_test threshold_test otel_context_test otel_encoder_test
  otel_decode_test otel_metrics_test otel_export_test otel_export_integration_test
  otel_metrics_config_test otel_json_decode_test otel_receiver_test http_codec_test
  http_server_test http_client_test net_test net_integration_test store_test store_crash_test
  dist_codec_test engine_publisher_test engine_plan_test script_response_callback_test
  script_form_body_test script_execution_test script_codec_bindings_test
  script_shared_data_test script_test io_uring_poller_test ws_frame_test)
TSAN_TESTS=(loop_test http_server_test http_client_test otel_export_test otel_metrics_test
  otel_receiver_test engine_publisher_test script_shared_data_test store_test
  net_integration_test io_uring_poller_test)
# Runs of the binaries above on the io_uring backend (tests/CMakeLists.txt,
# label io_uring): tests only, no targets of their own.
ASAN_RERUNS=(loop_test_io_uring http_client_test_io_uring net_integration_test_io_uring
  http_server_test_io_uring otel_receiver_test_io_uring)
TSAN_RERUNS=(loop_test_io_uring http_client_test_io_uring net_integration_test_io_uring)

preset=${1:-}
step=${2:-}
case "$preset" in
  asan) tests=("${ASAN_TESTS[@]}"); reruns=("${ASAN_RERUNS[@]}") ;;
  tsan) tests=("${TSAN_TESTS[@]}"); reruns=("${TSAN_RERUNS[@]}") ;;
  *) echo "usage: scripts/sanitize.sh asan|tsan build|test|full" >&2; exit 2 ;;
esac
dir=build-$preset
jobs=${JOBS:-2}
command -v clang++ >/dev/null || { echo "sanitize.sh: clang++ not found; run scripts/setup.sh" >&2; exit 2; }

configure() {
  if [ ! -f "$dir/build.ninja" ]; then
    cmake --preset "$preset" >"$dir.configure.log" 2>&1 || { cat "$dir.configure.log" >&2; exit 1; }
  fi
}
run_tests() {
  # ASAN_OPTIONS etc. come from the test preset; the name filter picks the subset.
  local regex
  regex="^($(IFS='|'; echo "$*"))\$"
  ctest --preset "$preset" --parallel "$jobs" -R "$regex" --timeout 900
}

case "$step" in
  build)
    configure
    targets=("${tests[@]}")
    if [ "$preset" = asan ]; then
      # The fuzz targets live in this tree too (STAMPEDE_FUZZ=ON).
      targets+=(fuzz_targets)
    fi
    cmake --build "$dir" --parallel "$jobs" --target "${targets[@]}"
    ;;
  test)
    [ -f "$dir/build.ninja" ] || { echo "sanitize.sh: $dir is not built (run: $0 $preset build)" >&2; exit 2; }
    run_tests "${tests[@]}" "${reruns[@]}"
    ;;
  full)
    configure
    cmake --build "$dir" --parallel "$jobs"
    ctest --preset "$preset" --parallel "$jobs"
    ;;
  *) echo "usage: scripts/sanitize.sh asan|tsan build|test|full" >&2; exit 2 ;;
esac
