// Turns the outcome of one HTTP exchange into k6's metrics on a worker's
// shard. Tag sets (name, method, status, error_code, expected_response) are
// interned once and cached by status and error, so recording a request
// allocates nothing and hashes nothing in steady state.
//
// When the registry defines the internal semantic-convention metrics
// (metrics/export_model.h: http_client_request_duration, ..._open_connections,
// ..._connection_duration), it records them too: the request's span duration
// under its k6 tags plus server.address and server.port (the extended tag set
// is cached per k6 tag set and origin, so steady state still allocates
// nothing), connection lifetimes (as the client's ConnectionObserver), and
// open connections by state (SampleConnections, once a second).
// Thread: the worker thread that owns the shard.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/run_config.h"
#include "http/client.h"
#include "metrics/shard.h"
#include "script/response_callback.h"

namespace stampede::engine {

class RequestRecorder final : public http::ConnectionObserver {
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

  // http::ConnectionObserver: http.client.connection.duration.
  void OnConnectionClosed(std::string_view host, uint16_t port, int64_t lifetime_ns) override;

  // Adds the change in `client`'s open connections per origin and state
  // (active / idle) since the last call to http.client.open_connections.
  // Cold path: call before publishing the shard.
  void SampleConnections(const http::Client& client);

  // k6's default expected statuses are 200–399: anything else, and every
  // transport error, is a failed request.
  static bool Failed(const http::Exchange& ex) {
    return ex.error != net::NetError::kNone || ex.status < 200 || ex.status > 399;
  }

 private:
  metrics::TagSetId TagsFor(const http::Exchange& ex);
  metrics::TagSetId SemconvTagsFor(metrics::TagSetId k6_tags, const http::Origin* origin);
  metrics::TagSetId OriginTags(std::string_view host, uint16_t port, std::string_view state);

  struct SemconvSlot {
    const http::Origin* origin = nullptr;
    metrics::TagSetId tags = 0;
  };
  struct OriginCount {
    std::string key;  // host \x1f port \x1f state
    metrics::TagSetId tags = 0;
    double last = 0;
  };

  static constexpr metrics::TagSetId kUnset = ~metrics::TagSetId{0};
  metrics::Shard& shard_;
  metrics::MetricId looking_up_;
  static constexpr metrics::MetricId kNoMetric = ~metrics::MetricId{0};
  metrics::MetricId request_duration_ = kNoMetric;  // internal semconv metrics
  metrics::MetricId open_connections_ = kNoMetric;
  metrics::MetricId connection_duration_ = kNoMetric;
  std::vector<SemconvSlot> semconv_by_tags_;  // indexed by k6 tag set id
  std::vector<OriginCount> origin_counts_;    // open connections, last reported
  std::string scratch_;
  std::string name_;
  std::string method_;
  // Error-free responses by status, HTTP/1.1 then HTTP/2 (the proto tag).
  std::array<metrics::TagSetId, 1200> by_status_;
  std::array<metrics::TagSetId, 16> by_error_;    // transport errors (status 0)
};

// The http_req_failed sample for a script's verdict on a response.
inline std::optional<bool> FailedSample(script::ResponseVerdict verdict) {
  if (verdict == script::ResponseVerdict::kUnjudged) return std::nullopt;
  return verdict == script::ResponseVerdict::kUnexpected;
}

}  // namespace stampede::engine
