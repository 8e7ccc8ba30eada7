// Turns the outcome of one HTTP exchange into k6's metrics on a worker's
// shard. Tag sets (name, method, status, error_code, expected_response) are
// interned once and cached by status and error, so recording a request
// allocates nothing and hashes nothing in steady state.
// Thread: the worker thread that owns the shard.
#pragma once

#include <array>
#include <optional>
#include <string>

#include "engine/run_config.h"
#include "http/client.h"
#include "metrics/shard.h"
#include "script/response_callback.h"

namespace stampede::engine {

class RequestRecorder {
 public:
  // `shard` must outlive the recorder. The request's `name` tag is the
  // redacted URL (as k6 tags plain URLs) and `method` the config's method.
  RequestRecorder(metrics::Shard& shard, const RunConfig& config);
  explicit RequestRecorder(metrics::Shard& shard);

  // Records http_reqs, the http_req_* phase trends, http_req_failed,
  // data_sent, data_received, iterations and iteration_duration (one request
  // is one iteration of a `--url` VU).
  void Record(const http::Exchange& ex);

  // The HTTP metrics of one request under tag set `tags` (script VUs intern
  // their own tags). `failed` is the http_req_failed sample; nullopt records
  // none (k6 with no response callback).
  void RecordHttp(const http::Exchange& ex, metrics::TagSetId tags, std::optional<bool> failed);

  // k6's default expected statuses are 200–399: anything else, and every
  // transport error, is a failed request.
  static bool Failed(const http::Exchange& ex) {
    return ex.error != net::NetError::kNone || ex.status < 200 || ex.status > 399;
  }

 private:
  metrics::TagSetId TagsFor(const http::Exchange& ex);

  static constexpr metrics::TagSetId kUnset = ~metrics::TagSetId{0};
  metrics::Shard& shard_;
  metrics::MetricId looking_up_;
  std::string name_;
  std::string method_;
  std::array<metrics::TagSetId, 600> by_status_;  // error-free responses
  std::array<metrics::TagSetId, 16> by_error_;    // transport errors (status 0)
};

// The http_req_failed sample for a script's verdict on a response.
inline std::optional<bool> FailedSample(script::ResponseVerdict verdict) {
  if (verdict == script::ResponseVerdict::kUnjudged) return std::nullopt;
  return verdict == script::ResponseVerdict::kUnexpected;
}

}  // namespace stampede::engine
