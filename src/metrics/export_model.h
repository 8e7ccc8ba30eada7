// ExportModel: how a Snapshot (the one result model) looks to a metrics
// backend — the instruments, names, units and attributes that the OTLP
// metrics exporter and the Prometheus endpoint both write. Neither output
// maps metrics on its own: both format the ExportMetrics built here.
//
// Two families, each switchable (ExportOptions):
//   k6:      every non-internal metric of the snapshot under k6's name with a
//            prefix (default "stampede_"): http_reqs, http_req_duration and
//            every phase, http_req_failed, iterations, iteration_duration,
//            dropped_iterations, vus, vus_max, checks, data_sent,
//            data_received, group_duration, the script's custom metrics and
//            the run's own counters spans_exported / spans_dropped /
//            spans_failed (internal: not in the summary, which prints them
//            on a line of their own).
//            Counter → monotonic sum; Gauge → gauge; Rate → a monotonic sum
//            of samples with attribute condition="zero"|"nonzero" (as k6's
//            OpenTelemetry output since v1.4); Trend → histogram.
//            Time values are exported in SECONDS (unit "s"; raw values are
//            ns, so unit_scale = 1e-9): the OTel and Prometheus convention,
//            which Grafana formats; data in bytes ("By"). Attributes are the
//            k6 tags, except `scenario` → `stampede.scenario` and `group` →
//            `stampede.group`; the full URL is never one (the `url` tag is
//            dropped).
//   semconv: the OpenTelemetry HTTP client metrics, from the engine's
//            internal metrics (MetricDef::internal):
//            http.client.request.duration (histogram, s; the CLIENT span's
//            duration, connection setup included) with http.request.method,
//            http.response.status_code (int; absent when no status),
//            error.type (the error type, else the status code as text when
//            >= 400), server.address, server.port (int), url.template (the
//            request name), stampede.scenario;
//            http.client.open_connections (up-down counter, {connection})
//            with http.connection.state, server.address, server.port;
//            http.client.connection.duration (histogram, s).
//
// Cardinality: at most `cardinality_limit` points per metric. The first
// limit-1 attribute sets a metric shows keep their own point for the life of
// the ExportModel (so a series never moves in and out); the values of every
// later set merge into one point with the single attribute
// otel.metric.overflow=true (the SDK spec's overflow series).
//
// Ownership: a Build() result borrows the Snapshot it was built from
// (histogram pointers point into it) — keep the snapshot alive while using
// it. Thread: one ExportModel per output, used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "metrics/exp_histogram.h"
#include "metrics/snapshot.h"

namespace stampede::metrics {

struct ExportOptions {
  bool k6 = true;       // --otel-metrics k6
  bool semconv = true;  // --otel-metrics semconv
  std::string prefix = "stampede_";  // k6 family only (--otel-metric-prefix, K6_OTEL_METRIC_PREFIX)
  size_t cardinality_limit = 2000;   // points per metric, the overflow point included (>= 2)
};

enum class InstrumentKind {
  kCounter,        // OTLP Sum, monotonic; Prometheus counter (_total)
  kUpDownCounter,  // OTLP Sum, not monotonic, always cumulative; Prometheus gauge
  kGauge,          // OTLP Gauge; Prometheus gauge
  kHistogram,      // OTLP (exponential) histogram; Prometheus histogram
};

// Which request latency an exemplar carries for this metric (see
// metrics/exemplars.h): none, Exemplar::duration_ns or Exemplar::total_ns.
enum class ExemplarValue { kNone, kDuration, kTotal };

struct ExportAttribute {
  std::string key;
  std::string value;      // the string value (also set for ints, as text)
  bool is_int = false;    // an int attribute (server.port, http.response.status_code)
  int64_t int_value = 0;
  friend bool operator==(const ExportAttribute&, const ExportAttribute&) = default;
};

struct ExportPoint {
  std::vector<ExportAttribute> attributes;  // sorted by key, keys unique
  // kCounter / kUpDownCounter / kGauge: the value, already scaled by unit_scale.
  double number = 0;
  // kHistogram: the histogram in RAW units (multiply bucket bounds, sum, min
  // and max by ExportMetric::unit_scale). Points into the snapshot, or into
  // ExportMetric::owned for the overflow point. Never null for a histogram.
  const ExpHistogram* histogram = nullptr;
  // The exemplar reservoir key of this point (ExemplarKey of its name, method
  // and status tags); empty when the metric carries no exemplars.
  std::string exemplar_key;
  bool overflow = false;  // the otel.metric.overflow=true point
};

struct ExportMetric {
  std::string name;         // "stampede_http_req_duration", "http.client.request.duration"
  std::string description;  // one sentence
  std::string unit;         // UCUM: "s", "By", "{request}", "{vu}", "1", ...
  InstrumentKind kind = InstrumentKind::kCounter;
  double unit_scale = 1;    // raw → exported unit (1e-9 for ns → s)
  ExemplarValue exemplars = ExemplarValue::kNone;
  MetricId source = 0;      // the snapshot metric it comes from
  bool semconv = false;     // which family
  std::vector<ExportPoint> points;
  // Storage for merged histograms (the overflow point), so points can point
  // into it.
  std::vector<std::unique_ptr<ExpHistogram>> owned;
};

// The internal metrics the engine records for the semconv family (defined
// hidden, MetricDef::internal = true; registry names).
inline constexpr const char* kHttpClientRequestDuration = "http_client_request_duration";
inline constexpr const char* kHttpClientOpenConnections = "http_client_open_connections";
inline constexpr const char* kHttpClientConnectionDuration = "http_client_connection_duration";

class ExportModel {
 public:
  explicit ExportModel(ExportOptions options);

  // The exported metrics of `snapshot`, in a stable order (k6 family in
  // snapshot metric order, then semconv). Metrics without points are left
  // out. Cold path: allocates.
  std::vector<ExportMetric> Build(const Snapshot& snapshot);

  // Names of metrics whose cardinality limit was reached for the first time
  // during the last Build() (each name is reported once per ExportModel):
  // callers warn once per name.
  const std::vector<std::string>& newly_overflowed() const { return newly_overflowed_; }

  const ExportOptions& options() const { return options_; }

 private:
  ExportOptions options_;
  // Per exported metric name: the attribute sets admitted so far (canonical
  // text), and whether it has overflowed.
  std::unordered_map<std::string, std::unordered_set<std::string>> admitted_;
  std::set<std::string> overflowed_;
  std::vector<std::string> newly_overflowed_;
};

}  // namespace stampede::metrics
