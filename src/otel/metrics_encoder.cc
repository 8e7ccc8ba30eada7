#include "otel/metrics_encoder.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>

namespace stampede::otel {
namespace {

using metrics::ExemplarValue;
using metrics::ExportMetric;
using metrics::ExportPoint;
using metrics::InstrumentKind;

// Field numbers (opentelemetry-proto metrics.proto; otel-spec.md §6).
namespace metric {
constexpr uint32_t kName = 1;
constexpr uint32_t kDescription = 2;
constexpr uint32_t kUnit = 3;
constexpr uint32_t kGauge = 5;
constexpr uint32_t kSum = 7;
constexpr uint32_t kHistogram = 9;
constexpr uint32_t kExponentialHistogram = 10;
}  // namespace metric
namespace data {  // Gauge, Sum, Histogram, ExponentialHistogram
constexpr uint32_t kDataPoints = 1;
constexpr uint32_t kAggregationTemporality = 2;
constexpr uint32_t kIsMonotonic = 3;  // Sum only
}  // namespace data
namespace number_point {
constexpr uint32_t kStartTimeUnixNano = 2;
constexpr uint32_t kTimeUnixNano = 3;
constexpr uint32_t kAsDouble = 4;
constexpr uint32_t kAttributes = 7;
}  // namespace number_point
namespace histogram_point {
constexpr uint32_t kStartTimeUnixNano = 2;
constexpr uint32_t kTimeUnixNano = 3;
constexpr uint32_t kCount = 4;
constexpr uint32_t kSum = 5;
constexpr uint32_t kBucketCounts = 6;
constexpr uint32_t kExplicitBounds = 7;
constexpr uint32_t kExemplars = 8;
constexpr uint32_t kAttributes = 9;
constexpr uint32_t kMin = 11;
constexpr uint32_t kMax = 12;
}  // namespace histogram_point
namespace exp_point {
constexpr uint32_t kAttributes = 1;
constexpr uint32_t kStartTimeUnixNano = 2;
constexpr uint32_t kTimeUnixNano = 3;
constexpr uint32_t kCount = 4;
constexpr uint32_t kSum = 5;
constexpr uint32_t kScale = 6;
constexpr uint32_t kZeroCount = 7;
constexpr uint32_t kPositive = 8;
constexpr uint32_t kExemplars = 11;
constexpr uint32_t kMin = 12;
constexpr uint32_t kMax = 13;
}  // namespace exp_point
namespace buckets {
constexpr uint32_t kOffset = 1;
constexpr uint32_t kBucketCounts = 2;
}  // namespace buckets
namespace exemplar {
constexpr uint32_t kTimeUnixNano = 2;
constexpr uint32_t kAsDouble = 3;
constexpr uint32_t kSpanId = 4;
constexpr uint32_t kTraceId = 5;
}  // namespace exemplar
// ScopeMetrics.metrics: the same number as ScopeSpans.spans, and the request
// envelope (ExportMetricsServiceRequest → ResourceMetrics → ScopeMetrics) has
// the numbers of the trace envelope, so EncodeExportTraceRequest() wraps
// metric fields as well (otlp_encoder.h says so).
constexpr uint32_t kScopeMetricsMetrics = 2;
static_assert(kScopeMetricsMetrics == kScopeSpansSpansField);

constexpr std::string_view kOverflowKey = "otel.metric.overflow";

uint64_t ZigZag32(int32_t v) {
  return static_cast<uint32_t>((static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31));
}

template <size_t N>
bool AllZero(const std::array<uint8_t, N>& bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

template <size_t N>
std::string_view Bytes(const std::array<uint8_t, N>& bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), N};
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::span<const double> BoundsFor(const ExportMetric& m) {
  if (m.unit == "s") return kSecondsBoundaries;
  return kDefaultBoundaries;
}

}  // namespace

std::optional<MetricsTemporality> ParseMetricsTemporality(std::string_view text) {
  const std::string v = Lower(text);
  if (v == "cumulative") return MetricsTemporality::kCumulative;
  if (v == "delta") return MetricsTemporality::kDelta;
  if (v == "lowmemory") return MetricsTemporality::kLowMemory;
  return std::nullopt;
}

std::optional<HistogramAggregation> ParseHistogramAggregation(std::string_view text) {
  const std::string v = Lower(text);
  if (v == "base2_exponential_bucket_histogram") return HistogramAggregation::kBase2Exponential;
  if (v == "explicit_bucket_histogram") return HistogramAggregation::kExplicitBucket;
  return std::nullopt;
}

MetricsEncoder::MetricsEncoder(MetricsEncoderOptions options) : options_(options) {
  options_.max_buckets = std::max<int32_t>(options_.max_buckets, 1);
  options_.max_scale = std::clamp(options_.max_scale, metrics::ExpHistogram::kMinScale,
                                  metrics::ExpHistogram::kMaxScale);
}

bool MetricsEncoder::Delta(InstrumentKind kind) const {
  if (options_.temporality == MetricsTemporality::kCumulative) return false;
  // delta and lowmemory agree for synchronous instruments, which all of
  // stampede's are: counters and histograms delta, up-down counters not.
  return kind == InstrumentKind::kCounter || kind == InstrumentKind::kHistogram;
}

int64_t MetricsEncoder::DeltaStart(const MetricsBatch& batch) const {
  return last_time_unix_ns_.value_or(batch.start_unix_ns);
}

MetricsEncodeResult MetricsEncoder::Encode(const ExportRequestHeader& header,
                                           const MetricsBatch& batch, ProtoWriter& out) {
  scratch_.Clear();
  uint64_t points = 0;
  for (const ExportMetric& m : batch.metrics) points += EncodeMetric(m, batch);
  last_time_unix_ns_ = batch.time_unix_ns;
  MetricsEncodeResult r;
  if (points == 0) return r;
  const std::string_view chunks[] = {scratch_.view()};
  r.bytes = EncodeExportTraceRequest(header, chunks, out);
  r.data_points = points;
  return r;
}

uint64_t MetricsEncoder::EncodeMetric(const ExportMetric& m, const MetricsBatch& batch) {
  if (m.points.empty()) return 0;
  const size_t rollback = scratch_.size();
  const bool delta = Delta(m.kind);
  // Hints only save a memmove of the body (ProtoWriter::BeginMessage).
  const size_t hint = m.points.size() * (m.kind == InstrumentKind::kHistogram ? 400 : 96);
  const auto metric_mark = scratch_.BeginMessage(kScopeMetricsMetrics, hint + 64);
  scratch_.StringField(metric::kName, m.name);
  scratch_.StringField(metric::kDescription, m.description);
  scratch_.StringField(metric::kUnit, m.unit);
  uint32_t data_field = metric::kGauge;
  switch (m.kind) {
    case InstrumentKind::kCounter:
    case InstrumentKind::kUpDownCounter:
      data_field = metric::kSum;
      break;
    case InstrumentKind::kGauge:
      data_field = metric::kGauge;
      break;
    case InstrumentKind::kHistogram:
      data_field = options_.histogram == HistogramAggregation::kBase2Exponential
                       ? metric::kExponentialHistogram
                       : metric::kHistogram;
      break;
  }
  const auto data_mark = scratch_.BeginMessage(data_field, hint);
  uint64_t points = 0;
  for (const ExportPoint& p : m.points) {
    bool written = false;
    if (m.kind != InstrumentKind::kHistogram) {
      written = EncodeNumberPoint(m, p, batch, delta);
    } else if (p.histogram == nullptr) {
      continue;  // the model promises a histogram; skip rather than crash
    } else if (options_.histogram == HistogramAggregation::kBase2Exponential) {
      written = EncodeExponentialPoint(m, p, batch, delta);
    } else {
      written = EncodeExplicitPoint(m, p, batch, delta);
    }
    if (written) ++points;
  }
  if (points == 0) {
    scratch_.Truncate(rollback);
    return 0;
  }
  if (m.kind != InstrumentKind::kGauge) {
    scratch_.VarintField(data::kAggregationTemporality,
                         delta ? kTemporalityDelta : kTemporalityCumulative);
  }
  if (m.kind == InstrumentKind::kCounter) scratch_.BoolField(data::kIsMonotonic, true);
  scratch_.EndMessage(data_mark);
  scratch_.EndMessage(metric_mark);
  return points;
}

void MetricsEncoder::CollectAttributes(const ExportPoint& p) {
  attrs_.clear();
  for (const metrics::ExportAttribute& a : p.attributes) {
    if (p.overflow && a.key == kOverflowKey) continue;  // written as a bool below
    attrs_.push_back(
        KeyValue{a.key, a.is_int ? AnyValue::Int(a.int_value) : AnyValue::String(a.value)});
  }
  if (p.overflow) attrs_.push_back(KeyValue{kOverflowKey, AnyValue::Bool(true)});
}

MetricsEncoder::SeriesState& MetricsEncoder::State(const ExportMetric& m, const ExportPoint& p,
                                                   bool& is_new) {
  // name \x1f key \x1e value \x1f ... : separators that names and tags do not
  // use, so distinct series never share a key.
  key_.assign(m.name);
  if (p.overflow) key_ += "\x1f\x01overflow";
  for (const metrics::ExportAttribute& a : p.attributes) {
    key_ += '\x1f';
    key_ += a.key;
    key_ += a.is_int ? '\x1d' : '\x1e';
    key_ += a.value;
  }
  auto [it, inserted] = state_.try_emplace(key_);
  is_new = inserted;
  return it->second;
}

bool MetricsEncoder::EncodeNumberPoint(const ExportMetric& m, const ExportPoint& p,
                                       const MetricsBatch& batch, bool delta) {
  double value = p.number;
  int64_t start = m.kind == InstrumentKind::kGauge ? 0 : batch.start_unix_ns;
  if (delta) {
    bool is_new = false;
    SeriesState& s = State(m, p, is_new);
    // Cumulative counters never go down; if rounding ever made one, report
    // no increase rather than a negative delta.
    value = is_new ? p.number : std::max(0.0, p.number - s.value);
    s.value = std::max(s.value, p.number);
    if (!is_new && value == 0) return false;
    start = DeltaStart(batch);
  }
  CollectAttributes(p);
  const auto mark = scratch_.BeginMessage(data::kDataPoints, 40 + attrs_.size() * 32);
  scratch_.Fixed64Field(number_point::kStartTimeUnixNano, static_cast<uint64_t>(start));
  scratch_.Fixed64Field(number_point::kTimeUnixNano, static_cast<uint64_t>(batch.time_unix_ns));
  scratch_.DoubleField(number_point::kAsDouble, value, Presence::kExplicit);
  EncodeAttributes(number_point::kAttributes, attrs_, scratch_);
  scratch_.EndMessage(mark);
  return true;
}

void MetricsEncoder::EncodeExemplars(uint32_t field, const ExportMetric& m, const ExportPoint& p,
                                     const MetricsBatch& batch) {
  if (m.exemplars == ExemplarValue::kNone || batch.exemplars == nullptr || p.exemplar_key.empty()) {
    return;
  }
  const auto it = batch.exemplars->find(p.exemplar_key);
  if (it == batch.exemplars->end()) return;
  for (const metrics::Exemplar& e : it->second) {
    const int64_t raw = m.exemplars == ExemplarValue::kDuration ? e.duration_ns : e.total_ns;
    const auto mark = scratch_.BeginMessage(field, 60);
    scratch_.Fixed64Field(exemplar::kTimeUnixNano, static_cast<uint64_t>(e.time_unix_ns));
    scratch_.DoubleField(exemplar::kAsDouble, static_cast<double>(raw) * m.unit_scale,
                         Presence::kExplicit);
    if (!AllZero(e.span_id)) scratch_.BytesField(exemplar::kSpanId, Bytes(e.span_id));
    if (!AllZero(e.trace_id)) scratch_.BytesField(exemplar::kTraceId, Bytes(e.trace_id));
    scratch_.EndMessage(mark);
  }
}

bool MetricsEncoder::EncodeExponentialPoint(const ExportMetric& m, const ExportPoint& p,
                                            const MetricsBatch& batch, bool delta) {
  const metrics::ExpHistogram& h = *p.histogram;
  uint64_t count = h.count();
  uint64_t zero_count = h.zero_count();
  double sum = h.sum();
  int64_t start = batch.start_unix_ns;
  const ExpBuckets* positive = &buckets_;
  SeriesState* state = nullptr;
  bool is_new = false;
  if (delta) {
    state = &State(m, p, is_new);
    if (!is_new && count == state->count) return false;  // nothing recorded since
  }
  ToExponentialBuckets(h, m.unit_scale, options_.max_scale, options_.max_buckets, buckets_);
  if (delta) {
    SeriesState& s = *state;
    if (!is_new && count > s.count && zero_count >= s.zero_count) {
      SubtractBuckets(buckets_, s.exp, diff_);
      // Only a lower scale than both inputs could exceed the limit; keep it.
      const int32_t n = static_cast<int32_t>(diff_.counts.size());
      if (n > options_.max_buckets) {
        int shift = 0;
        const int32_t lo = diff_.offset, hi = diff_.offset + n - 1;
        while ((hi >> shift) - (lo >> shift) + 1 > options_.max_buckets) ++shift;
        DownscaleBuckets(diff_, shift);
      }
      positive = &diff_;
      count -= s.count;
      zero_count -= s.zero_count;
      sum -= s.sum;
    }
    // else a restart (count went down): export the cumulative data whole.
    s.count = h.count();
    s.zero_count = h.zero_count();
    s.sum = h.sum();
    s.exp = buckets_;
    start = DeltaStart(batch);
  }
  CollectAttributes(p);
  const auto mark = scratch_.BeginMessage(data::kDataPoints,
                                          96 + attrs_.size() * 32 + positive->counts.size() * 2);
  EncodeAttributes(exp_point::kAttributes, attrs_, scratch_);
  scratch_.Fixed64Field(exp_point::kStartTimeUnixNano, static_cast<uint64_t>(start));
  scratch_.Fixed64Field(exp_point::kTimeUnixNano, static_cast<uint64_t>(batch.time_unix_ns));
  scratch_.Fixed64Field(exp_point::kCount, count);
  scratch_.DoubleField(exp_point::kSum, sum * m.unit_scale, Presence::kExplicit);
  scratch_.VarintField(exp_point::kScale, ZigZag32(positive->scale));
  scratch_.Fixed64Field(exp_point::kZeroCount, zero_count);
  if (!positive->counts.empty()) {
    size_t counts_size = 0;
    for (uint64_t c : positive->counts) counts_size += VarintSize(c);
    const size_t offset_size =
        positive->offset != 0 ? TagSize(buckets::kOffset) + VarintSize(ZigZag32(positive->offset))
                              : 0;
    scratch_.LengthDelimitedHeader(
        exp_point::kPositive,
        offset_size + LengthDelimitedFieldSize(buckets::kBucketCounts, counts_size));
    scratch_.VarintField(buckets::kOffset, ZigZag32(positive->offset));
    scratch_.LengthDelimitedHeader(buckets::kBucketCounts, counts_size);
    for (uint64_t c : positive->counts) scratch_.AppendVarint(c);
  }
  EncodeExemplars(exp_point::kExemplars, m, p, batch);
  if (!delta) {
    scratch_.DoubleField(exp_point::kMin, h.min() * m.unit_scale, Presence::kExplicit);
    scratch_.DoubleField(exp_point::kMax, h.max() * m.unit_scale, Presence::kExplicit);
  }
  scratch_.EndMessage(mark);
  return true;
}

bool MetricsEncoder::EncodeExplicitPoint(const ExportMetric& m, const ExportPoint& p,
                                         const MetricsBatch& batch, bool delta) {
  const metrics::ExpHistogram& h = *p.histogram;
  const std::span<const double> bounds = BoundsFor(m);
  uint64_t count = h.count();
  double sum = h.sum();
  int64_t start = batch.start_unix_ns;
  const std::vector<uint64_t>* counts = &counts_;
  SeriesState* state = nullptr;
  bool is_new = false;
  if (delta) {
    state = &State(m, p, is_new);
    if (!is_new && count == state->count) return false;  // nothing recorded since
  }
  ToExplicitBuckets(h, m.unit_scale, bounds, counts_);
  if (delta) {
    SeriesState& s = *state;
    if (!is_new && count > s.count && s.explicit_counts.size() == counts_.size()) {
      SubtractCounts(counts_, s.explicit_counts, delta_counts_);
      counts = &delta_counts_;
      count -= s.count;
      sum -= s.sum;
    }
    s.count = h.count();
    s.sum = h.sum();
    s.explicit_counts = counts_;
    start = DeltaStart(batch);
  }
  CollectAttributes(p);
  const auto mark = scratch_.BeginMessage(data::kDataPoints,
                                          96 + attrs_.size() * 32 + (bounds.size() * 2 + 1) * 8);
  scratch_.Fixed64Field(histogram_point::kStartTimeUnixNano, static_cast<uint64_t>(start));
  scratch_.Fixed64Field(histogram_point::kTimeUnixNano, static_cast<uint64_t>(batch.time_unix_ns));
  scratch_.Fixed64Field(histogram_point::kCount, count);
  scratch_.DoubleField(histogram_point::kSum, sum * m.unit_scale, Presence::kExplicit);
  scratch_.LengthDelimitedHeader(histogram_point::kBucketCounts, counts->size() * 8);
  for (uint64_t c : *counts) scratch_.AppendFixed64(c);
  scratch_.LengthDelimitedHeader(histogram_point::kExplicitBounds, bounds.size() * 8);
  for (double b : bounds) scratch_.AppendFixed64(std::bit_cast<uint64_t>(b));
  EncodeExemplars(histogram_point::kExemplars, m, p, batch);
  EncodeAttributes(histogram_point::kAttributes, attrs_, scratch_);
  if (!delta) {
    scratch_.DoubleField(histogram_point::kMin, h.min() * m.unit_scale, Presence::kExplicit);
    scratch_.DoubleField(histogram_point::kMax, h.max() * m.unit_scale, Presence::kExplicit);
  }
  scratch_.EndMessage(mark);
  return true;
}

MetricsEncodeResult EncodeExportMetricsRequest(const ExportRequestHeader& header,
                                               const MetricsBatch& batch,
                                               const MetricsEncoderOptions& options,
                                               ProtoWriter& out) {
  MetricsEncoder encoder(options);
  return encoder.Encode(header, batch, out);
}

}  // namespace stampede::otel
