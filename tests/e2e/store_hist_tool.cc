// store_hist_tool METRIC RUN.db [RUN.db ...]: the histogram of trend METRIC
// over the whole of each run store, merged exactly over the stores, as one
// line of JSON {"count", "zero_count", "scale", "buckets": "INDEX:COUNT ...",
// "p95"} (durations in ms). dist_e2e compares the coordinator's store with
// its agents' own: the exact merge of a distributed run, end to end.
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "metrics/exp_histogram.h"
#include "store/run_reader.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: store_hist_tool METRIC RUN.db [RUN.db ...]\n");
    return 2;
  }
  stampede::metrics::ExpHistogram merged;
  try {
    for (int i = 2; i < argc; ++i) {
      stampede::store::RunReader reader(argv[i]);
      if (auto h = reader.WindowHistogram(argv[1], std::nullopt)) merged.Merge(*h);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "store_hist_tool: %s\n", e.what());
    return 1;
  }
  std::string buckets;
  for (int32_t i = 0; i < merged.positive_bucket_count(); ++i) {
    const int32_t index = merged.positive_offset() + i;
    if (uint64_t c = merged.BucketCount(index); c > 0) {
      buckets += (buckets.empty() ? "" : " ") + std::to_string(index) + ":" + std::to_string(c);
    }
  }
  nlohmann::json out = {{"count", merged.count()},
                        {"zero_count", merged.zero_count()},
                        {"scale", merged.scale()},
                        {"buckets", buckets},
                        {"p95", merged.Quantile(0.95) / 1e6}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
