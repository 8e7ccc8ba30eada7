// RunReader: reads a run store file (schema.h, docs/store.md) for the
// commands that format a finished (or killed) run: `stampede report`,
// `slow`, `compare`. Every figure comes from the stored rows — the one
// result model as written — never from a second aggregation of raw samples.
//
// Opens the file read-only. Construction throws core::ConfigError with one
// line naming the file and the fix: missing file, not SQLite, not a stampede
// run store, a schema version newer than this stampede.
//
// Units: `second` counts whole seconds since the run's start; durations are
// milliseconds for time metrics (the metric's own unit otherwise); times are
// Unix epoch nanoseconds. Not thread-safe (one SQLite connection).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/exp_histogram.h"

namespace stampede::store {

struct RunMeta {
  std::string run_id, stampede_version, host, command_line;
  std::string script_path, script_sha256, script_source, target;
  std::string options_json, thresholds_json;
  int64_t start_unix_ns = 0;
  std::optional<int64_t> end_unix_ns;  // unset: the run did not end cleanly (killed)
  int64_t last_second = -1;            // the last second written; -1: none
  std::optional<int> exit_code;
  std::string outcome;       // "" when the run did not end cleanly
  std::string summary_json;  // "" when the run did not end cleanly
};

struct MetricInfo {
  std::string name;
  std::string type;      // counter | gauge | rate | trend
  std::string contains;  // default | time | data
  bool custom = false;
};

// One second of one series or rollup (see the `point` table).
struct PointRow {
  int64_t second = 0;
  uint64_t samples = 0;
  double value = 0;     // counter: sum in the second; gauge: value; rate: ratio; trend: mean
  uint64_t passes = 0;  // rate
  double p50 = 0, p90 = 0, p95 = 0, p99 = 0, max = 0;  // trend
};

// Statistics of a trend over a window, merged from the stored per-second
// histograms (exact merge; quantiles within the histogram's error bound).
struct TrendStats {
  uint64_t count = 0;
  double avg = 0, min = 0, med = 0, p90 = 0, p95 = 0, p99 = 0, max = 0;
};

// One row of the per-name table (Locust's statistics tab).
struct NameRow {
  std::string name;           // the request name (k6 `name` tag)
  uint64_t requests = 0;      // http_reqs
  double rps = 0;             // requests / window seconds
  TrendStats duration;        // http_req_duration, ms
  uint64_t failed = 0;        // http_req_failed passes (failed requests)
  double error_rate = 0;      // failed / requests
};

struct ThresholdRow {
  std::string metric;      // as written: "http_req_duration{name:/api}"
  std::string expression;  // "p(95)<500"
  bool abort_on_fail = false;
  std::optional<bool> passed;  // unset: never evaluated
  std::optional<double> observed;
  std::optional<int64_t> first_failed_second;
};

struct CheckRow {
  std::string name, group;
  uint64_t passes = 0, fails = 0;
};

// Errors of one second by type: a network error's name ("refused",
// "timeout", ...; the error_code tag) or "http_<status>" for a response
// counted as failed.
struct ErrorPoint {
  int64_t second = 0;
  std::string type;
  uint64_t count = 0;
};

struct SpanRow {
  std::string trace_id, span_id, parent_span_id;  // parent "" for a root
  std::string source;                              // "client" | "service"
  std::string service_name;                        // the resource's service.name
  std::string scope;
  std::string name, kind, status, status_message;  // kind: client|server|internal|...
  int64_t start_unix_ns = 0, end_unix_ns = 0;
  double duration_ms = 0;
  std::string attributes_json;  // JSON object
  std::string events_json;      // JSON array; "[]" when none
};

// A stampede request span with its phases, and the service's view of it.
struct RequestRow {
  std::string trace_id, span_id;
  std::string request_name, method, url, error_type;
  int http_status = 0;  // 0: no response
  int64_t start_unix_ns = 0;
  double duration_ms = 0;  // the CLIENT span
  // Phases (k6's http_req_*), ms; unset when the span did not carry them.
  std::optional<double> blocked_ms, dns_ms, connect_ms, tls_ms, sending_ms, waiting_ms,
      receiving_ms;
  // The service's root SERVER span for this request (parent = this span),
  // when the receiver got it; outside_ms = duration_ms - server_ms: time
  // spent outside the service (network, queues, proxies, the client).
  std::optional<double> server_ms, outside_ms;
  std::string server_service_name;
};

struct RequestQuery {
  double min_duration_ms = 0;
  std::optional<int64_t> from_unix_ns{}, to_unix_ns{};  // by span start
  std::optional<std::string> name{};                    // request name, exact
  bool failed_only = false;                         // error_type set or status >= 400
  size_t limit = 100;                               // slowest first
};

class RunReader {
 public:
  explicit RunReader(const std::string& path);
  ~RunReader();
  RunReader(const RunReader&) = delete;
  RunReader& operator=(const RunReader&) = delete;

  const RunMeta& meta() const;
  // The run's duration in whole seconds covered by points (last_second + 1).
  int64_t seconds() const;

  std::vector<MetricInfo> Metrics() const;
  std::vector<ThresholdRow> Thresholds() const;
  std::vector<CheckRow> Checks() const;
  // Request names of http_req_duration, sorted.
  std::vector<std::string> RequestNames() const;

  // Per-second points of `metric`, merged over all its series (name unset)
  // or over the series of one request name. Seconds without samples are
  // absent. Empty for an unknown metric.
  std::vector<PointRow> Points(std::string_view metric,
                               std::optional<std::string_view> name = std::nullopt) const;
  // The histogram of trend `metric` (or of one request name) over seconds
  // [from_second, to_second) (to_second < 0: to the end), merged exactly.
  // nullopt when there is no sample in the window or the metric is no trend.
  std::optional<metrics::ExpHistogram> WindowHistogram(
      std::string_view metric, std::optional<std::string_view> name, int64_t from_second = 0,
      int64_t to_second = -1) const;
  // The statistics of such a window; values in ms for time metrics.
  TrendStats WindowTrend(std::string_view metric, std::optional<std::string_view> name,
                         int64_t from_second = 0, int64_t to_second = -1) const;

  // The per-name table over a window, sorted by name.
  std::vector<NameRow> PerName(int64_t from_second = 0, int64_t to_second = -1) const;
  // Errors by type per second, ordered by second then type.
  std::vector<ErrorPoint> ErrorsPerSecond() const;

  // Stored request spans matching `q`, slowest first.
  std::vector<RequestRow> Requests(const RequestQuery& q) const;
  // Every stored span of a trace (client and service), by start time.
  std::vector<SpanRow> Trace(std::string_view trace_id) const;
  // (second, request name) → the slowest kept request of that second.
  struct Exemplar {
    int64_t second = 0;
    std::string name, trace_id, span_id;
    double duration_ms = 0;
  };
  std::vector<Exemplar> Exemplars() const;
  // store_stat rows (key → value).
  std::vector<std::pair<std::string, int64_t>> Stats() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace stampede::store
