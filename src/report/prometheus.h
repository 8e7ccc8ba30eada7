// Prometheus exposition of the export model: the body of a /metrics scrape,
// in the Prometheus text format 0.0.4 or in OpenMetrics 1.0.0 (with
// exemplars), and the endpoint that serves it while a test runs.
//
// What is written is exactly metrics::ExportModel's view of the newest
// Snapshot (the one result model); nothing here aggregates on its own.
//
// Names (the OpenTelemetry → Prometheus compatibility rules):
//   - metric names: characters outside [a-zA-Z0-9_:] become '_', runs of '_'
//     collapse to one, a leading digit gets a '_' prefix;
//   - the unit becomes a suffix unless the name already ends with it:
//     "s" → _seconds, "ms" → _milliseconds, "By" → _bytes, "1" → _ratio
//     (gauges only), "%" → _percent, "X/Y" → _X_per_Y with each part mapped
//     ("By/s" → _bytes_per_second); units in curly braces ("{request}") are
//     dropped;
//   - counters get _total: stampede_http_reqs ({request}) → stampede_http_reqs_total,
//     stampede_data_sent (By) → stampede_data_sent_bytes_total,
//     http.client.request.duration (s) → http_client_request_duration_seconds;
//   - label names: characters outside [a-zA-Z0-9_] become '_'
//     (http.request.method → http_request_method), a leading digit gets a
//     "key_" prefix, names starting with "__" get a "key" prefix, and the
//     reserved `le` of histograms becomes `key_le`; attributes whose names
//     collide after that are joined with ';' in key order (as the spec says);
//   - label values are escaped (\\, \", \n).
// Two metrics whose names collide after sanitization: the first one wins,
// the other is left out (and named in a comment line).
//
// Kinds: counter → counter; up-down counter and gauge → gauge; histogram →
// classic histogram with FIXED `le` bounds, so series stay stable across
// scrapes and runs and aggregate across series and instances:
//   - unit "s": le = 2^(k/4) seconds for k = -48..24 (≈0.244 ms … 64 s, four
//     buckets per doubling), each rounded to 4 significant digits;
//   - unit "By": le = 2^k bytes for k = 0..40 (1 B … 1 TiB);
//   - any other unit: le = 2^k for k = -10..40;
//   - plus le="+Inf".
// Bucket counts come from the exponential histogram: cumulative count at a
// bound = zero bucket + exponential buckets wholly below it + the share of a
// straddling bucket proportional to log-length (values log-uniform inside a
// bucket); 0 below min(), exactly count() from max() up; rounded to an
// integer. So `le="+Inf"` == `_count` exactly, counts never decrease with
// le, and a bound's count is off by at most the count of the one
// exponential bucket (≈1 % wide at scale 6+) holding the bound. `_sum` and
// `_count` are in exported units (sum × unit_scale).
//
// OpenMetrics additionally has `# UNIT` (when the name ends with the unit),
// counters' TYPE name without _total, an info metric type, `# EOF`, and
// exemplars on histogram bucket lines:
//   ..._bucket{le="0.01"} 42 # {trace_id="<32 hex>",span_id="<16 hex>"} 0.0093 1717000000.123
// For each bucket, the most recent exemplar (ExemplarReservoir::Recent()) of
// the point's exemplar_key whose value — Exemplar::duration_ns or total_ns
// per ExportMetric::exemplars, × unit_scale — falls in that bucket.
//
// Pure functions are thread-compatible (any thread). Cold path: allocates.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "metrics/exemplars.h"
#include "metrics/export_model.h"
#include "metrics/live_results.h"

namespace stampede::http {
class Server;
}

namespace stampede::report {

enum class ExpositionFormat {
  kPrometheusText,  // text/plain; version=0.0.4
  kOpenMetrics,     // application/openmetrics-text; version=1.0.0
};

// The Content-Type header value of a format.
std::string_view ContentType(ExpositionFormat format);

// The format to answer a request with, from its Accept header (absent: "").
// OpenMetrics when the header accepts application/openmetrics-text with a
// q-value > 0 that is at least that of the best text/plain, text/* or */*
// entry; the Prometheus text format otherwise. Malformed entries are ignored.
ExpositionFormat NegotiateFormat(std::string_view accept);

// Exemplars per reservoir key, oldest first (ExemplarReservoir::Recent()).
using ExemplarsByKey = std::map<std::string, std::vector<metrics::Exemplar>>;

// The name of the info metric that carries the run's identity.
inline constexpr std::string_view kRunInfoFamily = "stampede_run";       // OpenMetrics info family
inline constexpr std::string_view kRunInfoMetric = "stampede_run_info";  // its sample, both formats

struct ExpositionOptions {
  ExpositionFormat format = ExpositionFormat::kPrometheusText;
  // OpenMetrics only (the text format has no exemplars); null: none.
  const ExemplarsByKey* exemplars = nullptr;
  // Labels of stampede_run_info (e.g. {"run_id", "..."}, {"service_name",
  // "stampede"}); keys are sanitized like attribute names. Empty: no info
  // metric is written. The run id is deliberately not a label of every
  // series; queries select a run by joining on the info metric (Prometheus
  // adds job and instance to both):
  //   rate(stampede_http_reqs_total[1m])
  //     * on (job, instance) group_left (run_id) stampede_run_info{run_id="..."}
  // (deploy/grafana/stampede.json does this in every panel).
  std::vector<std::pair<std::string, std::string>> run_labels;
};

// The exposition of `metrics` (a ExportModel::Build() result, whose
// histogram pointers must be alive). Always a valid exposition: with no
// metrics, the text format body is empty (or the run info only) and
// OpenMetrics is just "# EOF\n".
std::string FormatExposition(std::span<const metrics::ExportMetric> metrics,
                             const ExpositionOptions& options);

// The Prometheus metric family name of `metric`, in the text format (with
// _total for counters): "stampede_http_reqs_total",
// "stampede_http_req_duration_seconds", "stampede_vus".
std::string PrometheusName(const metrics::ExportMetric& metric);

// Every sample name the text format writes for `metrics`, in order, without
// duplicates: counters "X_total", gauges "X", histograms "X_bucket", "X_sum",
// "X_count"; plus "stampede_run_info" when `with_run_info`. For
// `stampede metrics-list` and the dashboard test.
std::vector<std::string> PrometheusSampleNames(std::span<const metrics::ExportMetric> metrics,
                                               bool with_run_info = true);

// The `le` bounds (exported units, ascending, without +Inf) used for a
// histogram of `unit`.
std::span<const double> HistogramBounds(std::string_view unit);

// Sanitized names, exposed for tests and for other outputs.
std::string SanitizeMetricName(std::string_view name);
std::string SanitizeLabelName(std::string_view name);

// A /metrics endpoint for a running test: owns an http::Server on `address`
// ("HOST:PORT", "[::1]:PORT", "PORT"; port 0 picks a free port). Serves
// GET (and HEAD) /metrics; 405 for other methods there; 404 elsewhere. Each
// scrape reads LiveResults::Latest(), builds the export model with its own
// ExportModel (so the cardinality limit and overflow series are per
// endpoint) and formats it as negotiated; before the first snapshot it
// serves the run info only (a valid, empty exposition otherwise). Exemplars
// (OpenMetrics only) come from `exemplars` when not null.
//
// Threads: the scrape runs on the server's own thread; the constructor,
// accessors and Stop() on the owner's. `live` and `exemplars` are borrowed
// and must outlive the endpoint (or Stop()). Fails in the constructor with
// core::ConfigError naming --prometheus, the address and the fix (bad
// address, port in use, ...).
class PrometheusEndpoint {
 public:
  PrometheusEndpoint(std::string_view address, const metrics::ExportOptions& options,
                     const metrics::LiveResults& live, const metrics::ExemplarReservoir* exemplars,
                     std::vector<std::pair<std::string, std::string>> run_labels = {});
  ~PrometheusEndpoint();
  PrometheusEndpoint(const PrometheusEndpoint&) = delete;
  PrometheusEndpoint& operator=(const PrometheusEndpoint&) = delete;

  // The bound address ("127.0.0.1:9464", "[::1]:9464") and port.
  const std::string& address() const;
  uint16_t port() const;
  // Scrapes of /metrics answered so far (any thread).
  uint64_t scrapes() const { return scrapes_.load(std::memory_order_relaxed); }
  // Stops serving (idempotent); the borrowed objects are not touched after.
  void Stop();

 private:
  struct Scrape {
    std::string body;
    ExpositionFormat format;
  };
  Scrape Render(std::string_view accept);

  const metrics::LiveResults& live_;
  const metrics::ExemplarReservoir* exemplars_;
  const std::vector<std::pair<std::string, std::string>> run_labels_;
  std::mutex mu_;  // guards model_ (only the server thread scrapes; cheap insurance)
  metrics::ExportModel model_;
  std::atomic<uint64_t> scrapes_{0};
  std::unique_ptr<http::Server> server_;
};

}  // namespace stampede::report
