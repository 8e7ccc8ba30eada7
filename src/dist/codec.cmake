# Snapshot wire codec and coordinator-side merger of a distributed run
# (issue 11): agents encode per-second deltas of their cumulative metrics
# snapshots, the coordinator decodes them and merges them exactly.
add_library(stampede_dist_codec snapshot_codec.cc snapshot_merger.cc)
target_link_libraries(stampede_dist_codec PUBLIC stampede_metrics stampede_core)

stampede_test(dist_codec_test LABEL unit
  SOURCES snapshot_codec_test.cc snapshot_merger_test.cc
  LIBS stampede_dist_codec)

# Micro-benchmark (not a test; run by hand, see bench/RESULTS.md "Coordinator
# merge"): decode + Apply of one second of 200 simulated agents.
find_package(benchmark REQUIRED)
add_executable(merge_bench merge_bench.cc)
target_link_libraries(merge_bench PRIVATE stampede_dist_codec benchmark::benchmark)
