// OTLP metrics encoder: metrics::ExportMetric (the ExportModel's view of a
// Snapshot) -> a complete ExportMetricsServiceRequest in protobuf, with the
// field numbers of opentelemetry-proto (../shared/reference/otel-spec.md §6):
//
//   resource_metrics { resource { attributes }, scope_metrics { scope { name,
//   version }, metrics { name, description, unit, <data> } } }
//
// Instrument kinds (metrics::InstrumentKind):
//   kCounter        Sum, is_monotonic, as_double; CUMULATIVE, or DELTA with
//                   temporality delta / lowmemory.
//   kUpDownCounter  Sum, not monotonic, as_double; CUMULATIVE always.
//   kGauge          Gauge (no temporality, no start time), as_double.
//   kHistogram      ExponentialHistogram (default; at most `max_buckets`
//                   positive buckets, scale <= `max_scale`, zero_count,
//                   count, sum, min, max) or Histogram with explicit bounds
//                   (unit "s": the semconv advisory boundaries
//                   kSecondsBoundaries; otherwise the SDK default boundaries
//                   kDefaultBoundaries). CUMULATIVE, or DELTA with delta /
//                   lowmemory. See histogram_buckets.h for how the buckets
//                   are derived and their error.
// Temporality preference (OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE,
// SDK spec metrics/sdk_exporters/otlp.md): `delta` makes Counter and
// Histogram DELTA and keeps UpDownCounter CUMULATIVE; `lowmemory` makes the
// SYNCHRONOUS Counter and Histogram DELTA (asynchronous counters stay
// cumulative). Every stampede counter and histogram is synchronous (recorded
// as requests happen), so lowmemory encodes exactly like delta here.
//
// Values: ExportPoint::number is already in the exported unit; histogram
// sum/min/max, bucket bounds and exemplar values are raw × unit_scale.
// Times: cumulative points start at the run start; DELTA points start at the
// previous Encode() call's time (the run start for the first) and omit
// min/max (the cumulative min/max are not the interval's). A DELTA point
// whose value did not change since the previous Encode() is left out (no
// measurement in the interval), and a metric left without points is left
// out. Attributes: the point's, plus otel.metric.overflow=true (bool) on the
// overflow point. Exemplars (histogram points only, when the metric has
// ExemplarValue kDuration/kTotal): every exemplar of the point's
// exemplar_key in the batch's map, value duration_ns or total_ns ×
// unit_scale as as_double, raw 16/8-byte trace_id/span_id (omitted when all
// zero), time_unix_nano.
//
// State: DELTA needs the previous cumulative value of every series (metric
// name + attribute set). For histograms the previously EXPORTED buckets are
// kept (<= max_buckets each): cumulative data only widens, so the exported
// scale never increases, and prev is downscaled to the current scale and
// subtracted exactly (histogram_buckets.h, SubtractBuckets). A series whose
// count went down (a restart) is exported whole. A failed export does not
// roll the state back: that interval's delta is lost, as in the SDKs.
//
// Thread: a MetricsEncoder is used by one thread at a time. Cold path
// (once per export interval); allocates. Memory: the DELTA state is one
// entry per series ever seen (bounded by the ExportModel's cardinality
// limit), at most max_buckets counts each.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "metrics/exemplars.h"
#include "metrics/export_model.h"
#include "otel/histogram_buckets.h"
#include "otel/otlp_encoder.h"
#include "otel/proto_writer.h"
#include "otel/span.h"

namespace stampede::otel {

enum class MetricsTemporality { kCumulative, kDelta, kLowMemory };
enum class HistogramAggregation { kBase2Exponential, kExplicitBucket };

// OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE values (`cumulative`,
// `delta`, `lowmemory`, any case); nullopt for anything else.
std::optional<MetricsTemporality> ParseMetricsTemporality(std::string_view text);
// OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION values
// (`base2_exponential_bucket_histogram`, `explicit_bucket_histogram`, any
// case); nullopt for anything else.
std::optional<HistogramAggregation> ParseHistogramAggregation(std::string_view text);

// Explicit bounds in seconds (semconv http.client.request.duration advisory).
inline constexpr double kSecondsBoundaries[] = {0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25,
                                                0.5,   0.75, 1,     2.5,  5,     7.5, 10};
// The SDK's default explicit bounds (any other unit).
inline constexpr double kDefaultBoundaries[] = {0,   5,   10,   25,   50,   75,   100,  250,
                                                500, 750, 1000, 2500, 5000, 7500, 10000};

// OTLP AggregationTemporality values.
inline constexpr uint64_t kTemporalityDelta = 1;
inline constexpr uint64_t kTemporalityCumulative = 2;

struct MetricsEncoderOptions {
  MetricsTemporality temporality = MetricsTemporality::kCumulative;
  HistogramAggregation histogram = HistogramAggregation::kBase2Exponential;
  int32_t max_buckets = 160;  // exponential: positive buckets per point (>= 1)
  int max_scale = 20;         // exponential: highest scale (<= ExpHistogram::kMaxScale)
};

// One export's input. Views: everything must stay valid during Encode().
struct MetricsBatch {
  std::span<const metrics::ExportMetric> metrics;
  // The interval's exemplars by ExportPoint::exemplar_key
  // (ExemplarReservoir::TakeInterval()); null for none.
  const std::map<std::string, std::vector<metrics::Exemplar>>* exemplars = nullptr;
  int64_t start_unix_ns = 0;  // the run's start: start time of cumulative points
  int64_t time_unix_ns = 0;   // when the snapshot was taken: every point's time
};

struct MetricsEncodeResult {
  size_t bytes = 0;          // appended to `out`
  uint64_t data_points = 0;  // data points in the request (0: nothing appended)
};

class MetricsEncoder {
 public:
  explicit MetricsEncoder(MetricsEncoderOptions options = {});

  // Appends one ExportMetricsServiceRequest (resource and scope from
  // `header`; `header.scope_name` should be "stampede") holding every point
  // of `batch` to `out`. Appends nothing when no point is left (e.g. nothing
  // changed under DELTA). Updates the DELTA state. Never throws but
  // std::bad_alloc.
  MetricsEncodeResult Encode(const ExportRequestHeader& header, const MetricsBatch& batch,
                             ProtoWriter& out);

  const MetricsEncoderOptions& options() const { return options_; }

 private:
  struct SeriesState {
    double value = 0;  // counter: the last cumulative value
    uint64_t count = 0;
    uint64_t zero_count = 0;
    double sum = 0;
    ExpBuckets exp;                         // exponential: the last exported cumulative buckets
    std::vector<uint64_t> explicit_counts;  // explicit: the last cumulative counts
  };

  bool Delta(metrics::InstrumentKind kind) const;
  // Appends ScopeMetrics.metrics for `m`; returns its data points (0: the
  // metric is rolled back out of scratch_).
  uint64_t EncodeMetric(const metrics::ExportMetric& m, const MetricsBatch& batch);
  bool EncodeNumberPoint(const metrics::ExportMetric& m, const metrics::ExportPoint& p,
                         const MetricsBatch& batch, bool delta);
  bool EncodeExponentialPoint(const metrics::ExportMetric& m, const metrics::ExportPoint& p,
                              const MetricsBatch& batch, bool delta);
  bool EncodeExplicitPoint(const metrics::ExportMetric& m, const metrics::ExportPoint& p,
                           const MetricsBatch& batch, bool delta);
  void EncodeExemplars(uint32_t field, const metrics::ExportMetric& m,
                       const metrics::ExportPoint& p, const MetricsBatch& batch);
  // The point's attributes as KeyValues (views into `p`), in attrs_.
  void CollectAttributes(const metrics::ExportPoint& p);
  // The DELTA state of (m, p), created empty on first use.
  SeriesState& State(const metrics::ExportMetric& m, const metrics::ExportPoint& p, bool& is_new);
  int64_t DeltaStart(const MetricsBatch& batch) const;

  MetricsEncoderOptions options_;
  std::unordered_map<std::string, SeriesState> state_;
  std::optional<int64_t> last_time_unix_ns_;  // the previous Encode()'s time
  // Scratch, reused across calls.
  ProtoWriter scratch_;  // the ScopeMetrics.metrics fields of one request
  std::vector<KeyValue> attrs_;
  std::string key_;
  ExpBuckets buckets_;
  ExpBuckets diff_;
  std::vector<uint64_t> counts_;
  std::vector<uint64_t> delta_counts_;
};

// Stateless convenience: one request from a fresh MetricsEncoder (under
// DELTA, every point is a delta from the run start).
MetricsEncodeResult EncodeExportMetricsRequest(const ExportRequestHeader& header,
                                               const MetricsBatch& batch,
                                               const MetricsEncoderOptions& options,
                                               ProtoWriter& out);

}  // namespace stampede::otel
