#include "otel/metrics_encoder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "otel/histogram_buckets.h"
#include "otel/otlp_json.h"
#include "otel/proto_reader.h"

namespace stampede::otel {
namespace {

using metrics::ExemplarValue;
using metrics::ExpHistogram;
using metrics::ExportAttribute;
using metrics::ExportMetric;
using metrics::ExportPoint;
using metrics::InstrumentKind;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

constexpr int64_t kStart = 1'700'000'000'000'000'000;
constexpr int64_t kT1 = kStart + 10'000'000'000;
constexpr int64_t kT2 = kStart + 20'000'000'000;
constexpr int64_t kT3 = kStart + 30'000'000'000;

// --- Decoding helpers (ProtoReader only: an independent view of the bytes) ---

std::vector<ProtoField> All(std::string_view msg, uint32_t number) {
  std::vector<ProtoField> out;
  ProtoReader r(msg);
  ProtoField f;
  while (r.Next(f)) {
    if (f.number == number) out.push_back(f);
  }
  EXPECT_TRUE(r.done()) << "malformed message";
  return out;
}

std::optional<ProtoField> One(std::string_view msg, uint32_t number) {
  std::vector<ProtoField> all = All(msg, number);
  EXPECT_LE(all.size(), 1u) << "field " << number << " repeated";
  if (all.empty()) return std::nullopt;
  return all.back();
}

std::string_view Sub(std::string_view msg, uint32_t number) {
  std::optional<ProtoField> f = One(msg, number);
  EXPECT_TRUE(f.has_value()) << "no field " << number;
  if (!f) return {};
  EXPECT_EQ(f->wire_type, WireType::kLengthDelimited);
  return f->bytes;
}

uint64_t Fixed64(std::string_view msg, uint32_t number) {
  std::optional<ProtoField> f = One(msg, number);
  if (!f) return 0;
  EXPECT_EQ(f->wire_type, WireType::kFixed64) << "field " << number;
  return f->value;
}

std::optional<double> Double(std::string_view msg, uint32_t number) {
  std::optional<ProtoField> f = One(msg, number);
  if (!f) return std::nullopt;
  EXPECT_EQ(f->wire_type, WireType::kFixed64) << "field " << number;
  return f->AsDouble();
}

int32_t ZigZagDecode(uint64_t v) { return static_cast<int32_t>((v >> 1) ^ (~(v & 1) + 1)); }

std::vector<uint64_t> PackedVarints(std::string_view bytes) {
  std::vector<uint64_t> out;
  size_t pos = 0;
  while (pos < bytes.size()) {
    uint64_t v = 0;
    int shift = 0;
    for (;;) {
      const auto b = static_cast<uint8_t>(bytes[pos++]);
      v |= uint64_t{b & 0x7Fu} << shift;
      shift += 7;
      if ((b & 0x80) == 0) break;
    }
    out.push_back(v);
  }
  return out;
}

std::vector<uint64_t> PackedFixed64(std::string_view bytes) {
  std::vector<uint64_t> out(bytes.size() / 8);
  std::memcpy(out.data(), bytes.data(), out.size() * 8);
  return out;
}

struct DecodedMetric {
  std::string name, description, unit;
  uint32_t data_field = 0;  // 5 gauge, 7 sum, 9 histogram, 10 exponential histogram
  std::string_view data;
  std::vector<std::string_view> points;
};

// The metrics of a request, with the request bytes their views point into.
struct DecodedRequest : std::vector<DecodedMetric> {
  std::shared_ptr<const std::string> bytes;
};

// ExportMetricsServiceRequest → ResourceMetrics (1) → ScopeMetrics (2) → Metric (2).
DecodedRequest Metrics(std::string request_bytes) {
  DecodedRequest out;
  out.bytes = std::make_shared<const std::string>(std::move(request_bytes));
  const std::string_view request = *out.bytes;
  std::string_view rm = Sub(request, 1);
  std::string_view sm = Sub(rm, 2);
  for (const ProtoField& mf : All(sm, 2)) {
    DecodedMetric m;
    ProtoReader r(mf.bytes);
    ProtoField f;
    while (r.Next(f)) {
      switch (f.number) {
        case 1:
          m.name = f.bytes;
          break;
        case 2:
          m.description = f.bytes;
          break;
        case 3:
          m.unit = f.bytes;
          break;
        default:
          EXPECT_EQ(m.data_field, 0u) << "two data fields";
          m.data_field = f.number;
          m.data = f.bytes;
      }
    }
    for (const ProtoField& p : All(m.data, 1)) m.points.push_back(p.bytes);
    out.push_back(std::move(m));
  }
  return out;
}

// KeyValue list → "key=value" texts (strings as is, ints as i:N, bools b:true).
std::vector<std::string> Attributes(std::string_view point, uint32_t field) {
  std::vector<std::string> out;
  for (const ProtoField& kv : All(point, field)) {
    std::string text(Sub(kv.bytes, 1));
    std::string_view any = Sub(kv.bytes, 2);
    ProtoReader r(any);
    ProtoField v;
    while (r.Next(v)) {
      if (v.number == 1) text += "=" + std::string(v.bytes);
      if (v.number == 2) text += std::string("=b:") + (v.AsBool() ? "true" : "false");
      if (v.number == 3) text += "=i:" + std::to_string(v.AsInt64());
    }
    out.push_back(text);
  }
  return out;
}

// --- Fixtures --------------------------------------------------------------------

ExportMetric Number(std::string name, InstrumentKind kind, std::string unit,
                    std::vector<std::pair<std::vector<ExportAttribute>, double>> points) {
  ExportMetric m;
  m.name = std::move(name);
  m.description = "A test metric.";
  m.unit = std::move(unit);
  m.kind = kind;
  for (auto& [attrs, value] : points) {
    ExportPoint p;
    p.attributes = std::move(attrs);
    p.number = value;
    m.points.push_back(std::move(p));
  }
  return m;
}

ExportMetric Histogram(std::string name, std::string unit, double unit_scale, const ExpHistogram* h,
                       std::string exemplar_key = {},
                       ExemplarValue exemplars = ExemplarValue::kNone) {
  ExportMetric m;
  m.name = std::move(name);
  m.description = "A test histogram.";
  m.unit = std::move(unit);
  m.kind = InstrumentKind::kHistogram;
  m.unit_scale = unit_scale;
  m.exemplars = exemplars;
  ExportPoint p;
  p.attributes = {{"http.request.method", "GET"}, {"server.port", "8080", true, 8080}};
  p.histogram = h;
  p.exemplar_key = std::move(exemplar_key);
  m.points.push_back(std::move(p));
  return m;
}

ExportAttribute Str(std::string key, std::string value) {
  return {std::move(key), std::move(value)};
}

const KeyValue kResource[] = {{"service.name", AnyValue::String("stampede")}};
const ExportRequestHeader kHeader{
    .resource_attributes = kResource, .scope_name = "stampede", .scope_version = "0.1.0"};

// Latency-like values: 1 ms .. ~1 s, log-spread, in ns.
void RecordLatencies(ExpHistogram& h, int n, uint64_t seed = 1) {
  uint64_t x = seed * 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const double u = static_cast<double>(x >> 11) / 9007199254740992.0;
    h.Record(1e6 * std::exp2(u * 10));
  }
}

std::string Encode(MetricsEncoder& encoder, std::span<const ExportMetric> ms, int64_t time,
                   const std::map<std::string, std::vector<metrics::Exemplar>>* exemplars = nullptr,
                   uint64_t* points = nullptr) {
  ProtoWriter out;
  MetricsEncodeResult r = encoder.Encode(
      kHeader,
      MetricsBatch{
          .metrics = ms, .exemplars = exemplars, .start_unix_ns = kStart, .time_unix_ns = time},
      out);
  EXPECT_EQ(r.bytes, out.size());
  if (points != nullptr) *points = r.data_points;
  return std::string(out.view());
}

// --- Envelope, counters, gauges -----------------------------------------------

TEST(MetricsEncoderTest, EnvelopeAndNumberPoints) {
  std::vector<ExportMetric> ms;
  ms.push_back(Number("stampede_http_reqs", InstrumentKind::kCounter, "{request}",
                      {{{Str("method", "GET"), Str("name", "/a")}, 12},
                       {{Str("method", "POST"), Str("name", "/b")}, 3.5}}));
  ms.push_back(Number("http.client.open_connections", InstrumentKind::kUpDownCounter,
                      "{connection}", {{{Str("http.connection.state", "idle")}, 4}}));
  ms.push_back(Number("stampede_vus", InstrumentKind::kGauge, "{vu}", {{{}, 25}}));
  MetricsEncoder encoder;
  uint64_t points = 0;
  const std::string req = Encode(encoder, ms, kT1, nullptr, &points);
  EXPECT_EQ(points, 4u);

  std::string_view rm = Sub(req, 1);
  EXPECT_THAT(Attributes(Sub(rm, 1), 1), ElementsAre("service.name=stampede"));
  std::string_view scope = Sub(Sub(rm, 2), 1);
  EXPECT_EQ(Sub(scope, 1), "stampede");
  EXPECT_EQ(Sub(scope, 2), "0.1.0");

  const DecodedRequest got = Metrics(req);
  ASSERT_EQ(got.size(), 3u);
  // Counter: Sum (7), monotonic, cumulative, as_double.
  EXPECT_EQ(got[0].name, "stampede_http_reqs");
  EXPECT_EQ(got[0].description, "A test metric.");
  EXPECT_EQ(got[0].unit, "{request}");
  EXPECT_EQ(got[0].data_field, 7u);
  EXPECT_EQ(One(got[0].data, 2)->value, kTemporalityCumulative);
  EXPECT_EQ(One(got[0].data, 3)->value, 1u);
  ASSERT_EQ(got[0].points.size(), 2u);
  EXPECT_EQ(Fixed64(got[0].points[0], 2), static_cast<uint64_t>(kStart));
  EXPECT_EQ(Fixed64(got[0].points[0], 3), static_cast<uint64_t>(kT1));
  EXPECT_EQ(Double(got[0].points[0], 4), 12.0);
  EXPECT_EQ(Double(got[0].points[1], 4), 3.5);
  EXPECT_THAT(Attributes(got[0].points[0], 7), ElementsAre("method=GET", "name=/a"));
  // Up-down counter: Sum, not monotonic, cumulative.
  EXPECT_EQ(got[1].data_field, 7u);
  EXPECT_EQ(One(got[1].data, 2)->value, kTemporalityCumulative);
  EXPECT_FALSE(One(got[1].data, 3).has_value());
  EXPECT_EQ(Double(got[1].points[0], 4), 4.0);
  // Gauge (5): no temporality, no start time.
  EXPECT_EQ(got[2].data_field, 5u);
  EXPECT_FALSE(One(got[2].data, 2).has_value());
  EXPECT_FALSE(One(got[2].points[0], 2).has_value());
  EXPECT_EQ(Fixed64(got[2].points[0], 3), static_cast<uint64_t>(kT1));
  EXPECT_EQ(Double(got[2].points[0], 4), 25.0);
}

TEST(MetricsEncoderTest, ZeroValuesAreWrittenAndNothingMeansNothing) {
  std::vector<ExportMetric> ms;
  ms.push_back(Number("c", InstrumentKind::kCounter, "1", {{{}, 0}}));
  MetricsEncoder encoder;
  const std::string req = Encode(encoder, ms, kT1);
  const DecodedRequest got = Metrics(req);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(Double(got[0].points[0], 4), 0.0);  // as_double is a oneof member: present

  std::vector<ExportMetric> none;
  none.push_back(Number("empty", InstrumentKind::kCounter, "1", {}));
  uint64_t points = 1;
  EXPECT_EQ(Encode(encoder, none, kT2, nullptr, &points), "");
  EXPECT_EQ(points, 0u);
}

TEST(MetricsEncoderTest, OverflowPointCarriesTheBoolAttribute) {
  std::vector<ExportMetric> ms;
  ms.push_back(Number("c", InstrumentKind::kCounter, "1", {{{}, 9}}));
  ms[0].points[0].overflow = true;
  MetricsEncoder encoder;
  const DecodedRequest got = Metrics(Encode(encoder, ms, kT1));
  EXPECT_THAT(Attributes(got[0].points[0], 7), ElementsAre("otel.metric.overflow=b:true"));
}

TEST(MetricsEncoderTest, ParsesTheEnvironmentValues) {
  EXPECT_EQ(ParseMetricsTemporality("Delta"), MetricsTemporality::kDelta);
  EXPECT_EQ(ParseMetricsTemporality("cumulative"), MetricsTemporality::kCumulative);
  EXPECT_EQ(ParseMetricsTemporality("LOWMEMORY"), MetricsTemporality::kLowMemory);
  EXPECT_EQ(ParseMetricsTemporality("deltas"), std::nullopt);
  EXPECT_EQ(ParseHistogramAggregation("explicit_bucket_histogram"),
            HistogramAggregation::kExplicitBucket);
  EXPECT_EQ(ParseHistogramAggregation("BASE2_EXPONENTIAL_BUCKET_HISTOGRAM"),
            HistogramAggregation::kBase2Exponential);
  EXPECT_EQ(ParseHistogramAggregation("exponential"), std::nullopt);
}

// --- Exponential histograms ---------------------------------------------------

TEST(MetricsEncoderTest, ExponentialHistogramFieldsInBytes) {
  ExpHistogram h;
  for (int i = 0; i < 5; ++i) h.Record(0);
  for (double v = 1; v < 1e6; v *= 1.01) h.Record(v);
  std::vector<ExportMetric> ms;
  ms.push_back(Histogram("stampede_data_sent_size", "By", 1, &h));
  MetricsEncoder encoder;
  const DecodedRequest got = Metrics(Encode(encoder, ms, kT1));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].data_field, 10u);
  EXPECT_EQ(One(got[0].data, 2)->value, kTemporalityCumulative);
  ASSERT_EQ(got[0].points.size(), 1u);
  std::string_view p = got[0].points[0];
  EXPECT_THAT(Attributes(p, 1), ElementsAre("http.request.method=GET", "server.port=i:8080"));
  EXPECT_EQ(Fixed64(p, 2), static_cast<uint64_t>(kStart));
  EXPECT_EQ(Fixed64(p, 3), static_cast<uint64_t>(kT1));
  EXPECT_EQ(Fixed64(p, 4), h.count());
  EXPECT_EQ(Double(p, 5), h.sum());
  EXPECT_EQ(Fixed64(p, 7), 5u);   // zero_count
  EXPECT_EQ(Double(p, 12), 0.0);  // min (a zero was recorded)
  EXPECT_EQ(Double(p, 13), h.max());
  const int scale = ZigZagDecode(One(p, 6)->value);
  std::string_view positive = Sub(p, 8);
  const int32_t offset = ZigZagDecode(One(positive, 1)->value);
  const std::vector<uint64_t> counts = PackedVarints(Sub(positive, 2));
  EXPECT_LE(counts.size(), 160u);
  EXPECT_LE(scale, 20);
  // The highest scale that fits: one scale up, the range needs more than 160.
  EXPECT_GT(
      ExpHistogram::MapToIndex(h.max(), scale + 1) - ExpHistogram::MapToIndex(1.0, scale + 1) + 1,
      160);
  uint64_t total = 0;
  for (uint64_t c : counts) total += c;
  EXPECT_EQ(total + 5, h.count());
  // Perfect subsetting: every value lands where the OTel mapping at the
  // exported scale puts it.
  std::vector<uint64_t> expected(counts.size(), 0);
  for (double v = 1; v < 1e6; v *= 1.01) {
    const int32_t i = ExpHistogram::MapToIndex(v, scale) - offset;
    ASSERT_GE(i, 0);
    ASSERT_LT(static_cast<size_t>(i), expected.size());
    ++expected[static_cast<size_t>(i)];
  }
  EXPECT_EQ(counts, expected);
}

TEST(MetricsEncoderTest, TimeHistogramIsInSecondsWithBoundedMisplacement) {
  ExpHistogram h;
  std::vector<double> values;
  for (double v = 1e6; v < 3e9; v *= 1.003) {
    h.Record(v);
    values.push_back(v);
  }
  ExpBuckets b;
  ToExponentialBuckets(h, 1e-9, 20, 160, b);
  ASSERT_FALSE(b.counts.empty());
  EXPECT_LE(b.counts.size(), 160u);
  EXPECT_LT(b.offset, 0);  // seconds below 1
  EXPECT_EQ(b.Total(), h.count());
  // Against the direct mapping of every value in seconds, only values within
  // a raw bucket of an exported boundary may move, to a neighbour.
  std::vector<int64_t> direct(b.counts.size() + 2, 0);
  for (double v : values) {
    const int64_t i = ExpHistogram::MapToIndex(v * 1e-9, b.scale) - b.offset + 1;
    ASSERT_GE(i, 0);
    ASSERT_LT(static_cast<size_t>(i), direct.size());
    ++direct[static_cast<size_t>(i)];
  }
  uint64_t moved = 0;
  for (size_t i = 0; i < direct.size(); ++i) {
    const int64_t got =
        (i >= 1 && i <= b.counts.size()) ? static_cast<int64_t>(b.counts[i - 1]) : 0;
    moved += static_cast<uint64_t>(std::abs(got - direct[i]));
  }
  // One raw bucket (scale >= 6: < 1.1 % wide) at each of ~130 boundaries,
  // against exported buckets ~2^5 raw buckets wide: a few percent at most.
  EXPECT_LT(static_cast<double>(moved), 0.1 * static_cast<double>(h.count()));

  std::vector<ExportMetric> ms;
  ms.push_back(Histogram("http.client.request.duration", "s", 1e-9, &h));
  MetricsEncoder encoder;
  const DecodedRequest got = Metrics(Encode(encoder, ms, kT1));
  std::string_view p = got[0].points[0];
  EXPECT_DOUBLE_EQ(*Double(p, 5), h.sum() * 1e-9);
  EXPECT_DOUBLE_EQ(*Double(p, 12), 1e-3);
  EXPECT_DOUBLE_EQ(*Double(p, 13), h.max() * 1e-9);
  EXPECT_EQ(ZigZagDecode(One(Sub(p, 8), 1)->value), b.offset);
  EXPECT_EQ(PackedVarints(Sub(Sub(p, 8), 2)), b.counts);
}

TEST(MetricsEncoderTest, DownscalingIsConsistentAcrossScales) {
  for (double unit_scale : {1.0, 1e-9}) {
    SCOPED_TRACE(unit_scale);
    ExpHistogram h;
    RecordLatencies(h, 5000);
    ExpBuckets top;
    ToExponentialBuckets(h, unit_scale, 20, 160, top);
    for (int k = 1; k <= 4; ++k) {
      ExpBuckets lower;
      ToExponentialBuckets(h, unit_scale, top.scale - k, 160, lower);
      ExpBuckets down = top;
      DownscaleBuckets(down, k);
      EXPECT_EQ(down.scale, lower.scale);
      EXPECT_EQ(down.offset, lower.offset);
      EXPECT_EQ(down.counts, lower.counts);
    }
  }
}

TEST(MetricsEncoderTest, SmallBucketLimitAndSingleValue) {
  ExpHistogram h;
  RecordLatencies(h, 1000);
  ExpBuckets b;
  ToExponentialBuckets(h, 1, 20, 4, b);
  EXPECT_LE(b.counts.size(), 4u);
  EXPECT_EQ(b.Total(), h.count());

  ExpHistogram one;
  one.Record(42);
  ToExponentialBuckets(one, 1, 20, 160, b);
  EXPECT_EQ(b.scale, 20);
  ASSERT_EQ(b.counts.size(), 1u);
  EXPECT_EQ(b.offset, ExpHistogram::MapToIndex(42, 20));
  ToExponentialBuckets(one, 1, 3, 160, b);
  EXPECT_EQ(b.scale, 3);
  EXPECT_EQ(b.offset, ExpHistogram::MapToIndex(42, 3));
}

// --- Explicit buckets -------------------------------------------------------------

TEST(MetricsEncoderTest, ExplicitBucketsForSecondsAndDefaults) {
  ExpHistogram t;
  // ns values well inside the semconv buckets (bounds in s).
  for (double v : {3e6, 7e6, 7.2e6, 20e6, 60e6, 0.3e9, 2e9, 20e9}) t.Record(v);
  ExpHistogram bytes;
  for (double v : {0.0, 3.0, 7.0, 30.0, 30.0, 30000.0}) bytes.Record(v);
  std::vector<ExportMetric> ms;
  ms.push_back(Histogram("http.client.request.duration", "s", 1e-9, &t));
  ms.push_back(Histogram("stampede_data_received", "By", 1, &bytes));
  MetricsEncoder encoder({.histogram = HistogramAggregation::kExplicitBucket});
  const DecodedRequest got = Metrics(Encode(encoder, ms, kT1));
  ASSERT_EQ(got.size(), 2u);

  EXPECT_EQ(got[0].data_field, 9u);
  EXPECT_EQ(One(got[0].data, 2)->value, kTemporalityCumulative);
  std::string_view p = got[0].points[0];
  EXPECT_EQ(Fixed64(p, 2), static_cast<uint64_t>(kStart));
  EXPECT_EQ(Fixed64(p, 4), 8u);
  EXPECT_DOUBLE_EQ(*Double(p, 5), t.sum() * 1e-9);
  std::vector<double> bounds;
  for (uint64_t bits : PackedFixed64(Sub(p, 7))) bounds.push_back(std::bit_cast<double>(bits));
  EXPECT_THAT(bounds, ElementsAreArray(kSecondsBoundaries));
  //                                      .005 .01 .025 .05 .075 .1 .25 .5 .75 1 2.5 5 7.5 10 +inf
  EXPECT_THAT(PackedFixed64(Sub(p, 6)), ElementsAre(1, 2, 1, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1));
  EXPECT_THAT(Attributes(p, 9), ElementsAre("http.request.method=GET", "server.port=i:8080"));
  EXPECT_DOUBLE_EQ(*Double(p, 11), 3e-3);
  EXPECT_DOUBLE_EQ(*Double(p, 12), 20.0);

  std::string_view q = got[1].points[0];
  bounds.clear();
  for (uint64_t bits : PackedFixed64(Sub(q, 7))) bounds.push_back(std::bit_cast<double>(bits));
  EXPECT_THAT(bounds, ElementsAreArray(kDefaultBoundaries));
  //                                  0 5 10 25 50 75 100 250 500 750 1000 2500 5000 7500 10000 +inf
  EXPECT_THAT(PackedFixed64(Sub(q, 6)),
              ElementsAre(1, 1, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1));
}

TEST(MetricsEncoderTest, ExplicitBucketsSplitAStraddlingBucketInLogSpace) {
  // Values spread evenly in log space across the 0.1 s bound: half each side.
  ExpHistogram h;
  for (int i = 0; i < 2000; ++i) h.Record(1e8 * std::exp2(-0.25 + 0.5 * (i + 0.5) / 2000));
  std::vector<uint64_t> counts;
  ToExplicitBuckets(h, 1e-9, kSecondsBoundaries, counts);
  uint64_t total = 0;
  for (uint64_t c : counts) total += c;
  EXPECT_EQ(total, 2000u);
  EXPECT_NEAR(static_cast<double>(counts[5]), 1000, 2000 * 0.02);  // (0.075, 0.1]
  EXPECT_NEAR(static_cast<double>(counts[6]), 1000, 2000 * 0.02);  // (0.1, 0.25]
  EXPECT_EQ(counts[4] + counts[7], 0u);                            // nothing further out

  // One value: never split.
  ExpHistogram one;
  one.Record(1e8);  // exactly 0.1 s: upper-inclusive, so (0.075, 0.1]
  ToExplicitBuckets(one, 1e-9, kSecondsBoundaries, counts);
  EXPECT_EQ(counts[5], 1u);
}

// --- Delta temporality ------------------------------------------------------------

TEST(MetricsEncoderTest, DeltaIsTheDifferenceOfCumulatives) {
  ExpHistogram first, second_only, cumulative;
  RecordLatencies(first, 3000, 1);
  RecordLatencies(second_only, 2000, 2);
  second_only.Record(5e9);  // widens the range: the export scale may go down
  cumulative = first;
  cumulative.Merge(second_only);

  MetricsEncoder encoder({.temporality = MetricsTemporality::kDelta});
  std::vector<ExportMetric> ms1;
  ms1.push_back(Number("reqs", InstrumentKind::kCounter, "{request}", {{{}, 5}}));
  ms1.push_back(Number("open", InstrumentKind::kUpDownCounter, "{connection}", {{{}, 3}}));
  ms1.push_back(Histogram("size", "By", 1, &first));
  const DecodedRequest got1 = Metrics(Encode(encoder, ms1, kT1));
  ASSERT_EQ(got1.size(), 3u);
  EXPECT_EQ(One(got1[0].data, 2)->value, kTemporalityDelta);
  EXPECT_EQ(Fixed64(got1[0].points[0], 2), static_cast<uint64_t>(kStart));
  EXPECT_EQ(Double(got1[0].points[0], 4), 5.0);
  EXPECT_EQ(One(got1[1].data, 2)->value, kTemporalityCumulative);  // up-down: always
  EXPECT_EQ(One(got1[2].data, 2)->value, kTemporalityDelta);
  EXPECT_FALSE(One(got1[2].points[0], 12).has_value());  // no min/max in a delta
  EXPECT_FALSE(One(got1[2].points[0], 13).has_value());

  std::vector<ExportMetric> ms2;
  ms2.push_back(Number("reqs", InstrumentKind::kCounter, "{request}", {{{}, 12}}));
  ms2.push_back(Number("open", InstrumentKind::kUpDownCounter, "{connection}", {{{}, 1}}));
  ms2.push_back(Histogram("size", "By", 1, &cumulative));
  const DecodedRequest got2 = Metrics(Encode(encoder, ms2, kT2));
  ASSERT_EQ(got2.size(), 3u);
  EXPECT_EQ(Fixed64(got2[0].points[0], 2), static_cast<uint64_t>(kT1));  // since the last export
  EXPECT_EQ(Double(got2[0].points[0], 4), 7.0);
  EXPECT_EQ(Fixed64(got2[1].points[0], 2), static_cast<uint64_t>(kStart));
  EXPECT_EQ(Double(got2[1].points[0], 4), 1.0);
  std::string_view p = got2[2].points[0];
  EXPECT_EQ(Fixed64(p, 2), static_cast<uint64_t>(kT1));
  EXPECT_EQ(Fixed64(p, 4), second_only.count());
  EXPECT_DOUBLE_EQ(*Double(p, 5), cumulative.sum() - first.sum());
  // Exactly the second interval's values at the exported scale.
  const int scale = ZigZagDecode(One(p, 6)->value);
  ExpBuckets expected;
  ToExponentialBuckets(second_only, 1, scale, 1 << 20, expected);
  ASSERT_EQ(expected.scale, scale);
  TrimBuckets(expected);
  EXPECT_EQ(ZigZagDecode(One(Sub(p, 8), 1)->value), expected.offset);
  EXPECT_EQ(PackedVarints(Sub(Sub(p, 8), 2)), expected.counts);

  // Nothing new: no counter or histogram point; the up-down counter stays.
  const DecodedRequest got3 = Metrics(Encode(encoder, ms2, kT3));
  ASSERT_EQ(got3.size(), 1u);
  EXPECT_EQ(got3[0].name, "open");
}

TEST(MetricsEncoderTest, LowMemoryIsDeltaForStampedesSynchronousInstruments) {
  ExpHistogram h;
  RecordLatencies(h, 100);
  MetricsEncoder encoder({.temporality = MetricsTemporality::kLowMemory,
                          .histogram = HistogramAggregation::kExplicitBucket});
  std::vector<ExportMetric> ms;
  ms.push_back(Number("reqs", InstrumentKind::kCounter, "{request}", {{{}, 5}}));
  ms.push_back(Histogram("d", "s", 1e-9, &h));
  const DecodedRequest got = Metrics(Encode(encoder, ms, kT1));
  EXPECT_EQ(One(got[0].data, 2)->value, kTemporalityDelta);
  EXPECT_EQ(One(got[1].data, 2)->value, kTemporalityDelta);
}

TEST(MetricsEncoderTest, ExplicitDeltaIsTheDifferenceOfCumulatives) {
  ExpHistogram a, b, both;
  for (double v : {3e6, 20e6, 0.3e9}) a.Record(v);
  for (double v : {3e6, 7e6, 2e9, 2e9}) b.Record(v);
  both = a;
  both.Merge(b);
  MetricsEncoder encoder({.temporality = MetricsTemporality::kDelta,
                          .histogram = HistogramAggregation::kExplicitBucket});
  std::vector<ExportMetric> ms1;
  ms1.push_back(Histogram("d", "s", 1e-9, &a));
  Encode(encoder, ms1, kT1);
  std::vector<ExportMetric> ms2;
  ms2.push_back(Histogram("d", "s", 1e-9, &both));
  const DecodedRequest got = Metrics(Encode(encoder, ms2, kT2));
  std::string_view p = got[0].points[0];
  EXPECT_EQ(Fixed64(p, 2), static_cast<uint64_t>(kT1));
  EXPECT_EQ(Fixed64(p, 4), 4u);
  std::vector<uint64_t> expected;
  ToExplicitBuckets(b, 1e-9, kSecondsBoundaries, expected);
  EXPECT_EQ(PackedFixed64(Sub(p, 6)), expected);
  EXPECT_FALSE(One(p, 11).has_value());
}

TEST(MetricsEncoderTest, SubtractRepairsNegativeBucketsKeepingTheTotal) {
  ExpBuckets cur{.scale = 3, .offset = 10, .counts = {5, 0, 7}};
  ExpBuckets prev{.scale = 3, .offset = 10, .counts = {2, 1, 3}};
  ExpBuckets d;
  SubtractBuckets(cur, prev, d);
  EXPECT_EQ(d.Total(), 6u);
  EXPECT_THAT(d.counts, ElementsAre(3, 0, 3));  // the -1 was taken from the bucket above
  EXPECT_EQ(d.offset, 10);
  // Different scales: prev is downscaled to the current one first.
  ExpBuckets fine{.scale = 4, .offset = 20, .counts = {1, 1, 1, 1}};  // → scale 3: 10..11
  ExpBuckets coarse{.scale = 3, .offset = 10, .counts = {4, 4}};
  SubtractBuckets(coarse, fine, d);
  EXPECT_EQ(d.scale, 3);
  EXPECT_EQ(d.offset, 10);
  EXPECT_THAT(d.counts, ElementsAre(2, 2));
}

// --- Exemplars ------------------------------------------------------------------------

TEST(MetricsEncoderTest, ExemplarsCarryRawIdsTimeAndScaledValue) {
  ExpHistogram h;
  h.Record(4e6);
  h.Record(9e6);
  metrics::Exemplar e1;
  for (size_t i = 0; i < 16; ++i) e1.trace_id[i] = static_cast<uint8_t>(0xa0 + i);
  for (size_t i = 0; i < 8; ++i) e1.span_id[i] = static_cast<uint8_t>(0x10 + i);
  e1.time_unix_ns = kT1 - 5;
  e1.duration_ns = 8'000'000;
  e1.total_ns = 9'000'000;
  metrics::Exemplar e2 = e1;
  e2.trace_id = {};
  e2.span_id = {};
  const std::map<std::string, std::vector<metrics::Exemplar>> exemplars = {{"GET /a 200", {e1, e2}},
                                                                           {"other", {e1}}};
  std::vector<ExportMetric> ms;
  ms.push_back(Histogram("http.client.request.duration", "s", 1e-9, &h, "GET /a 200",
                         ExemplarValue::kTotal));
  ms.push_back(Histogram("stampede_http_req_duration", "s", 1e-9, &h, "GET /a 200",
                         ExemplarValue::kDuration));
  ms.push_back(Histogram("no_exemplars", "s", 1e-9, &h, "GET /a 200", ExemplarValue::kNone));
  for (HistogramAggregation aggregation :
       {HistogramAggregation::kBase2Exponential, HistogramAggregation::kExplicitBucket}) {
    MetricsEncoder encoder({.histogram = aggregation});
    const DecodedRequest got = Metrics(Encode(encoder, ms, kT1, &exemplars));
    const uint32_t field = aggregation == HistogramAggregation::kBase2Exponential ? 11 : 8;
    const std::vector<ProtoField> ex = All(got[0].points[0], field);
    ASSERT_EQ(ex.size(), 2u);
    EXPECT_EQ(Fixed64(ex[0].bytes, 2), static_cast<uint64_t>(kT1 - 5));
    EXPECT_DOUBLE_EQ(*Double(ex[0].bytes, 3), 9e-3);
    EXPECT_EQ(Sub(ex[0].bytes, 5),
              std::string_view(reinterpret_cast<const char*>(e1.trace_id.data()), 16));
    EXPECT_EQ(Sub(ex[0].bytes, 4),
              std::string_view(reinterpret_cast<const char*>(e1.span_id.data()), 8));
    EXPECT_FALSE(One(ex[1].bytes, 4).has_value());  // no ids: left out
    EXPECT_FALSE(One(ex[1].bytes, 5).has_value());
    const std::vector<ProtoField> ex2 = All(got[1].points[0], field);
    ASSERT_EQ(ex2.size(), 2u);
    EXPECT_DOUBLE_EQ(*Double(ex2[0].bytes, 3), 8e-3);
    EXPECT_TRUE(All(got[2].points[0], field).empty());
  }
}

// --- OTLP/JSON --------------------------------------------------------------------------

TEST(MetricsJsonTest, TranscodesEveryMetricShape) {
  ExpHistogram h;
  h.Record(0);
  RecordLatencies(h, 200);
  metrics::Exemplar e;
  for (size_t i = 0; i < 16; ++i) e.trace_id[i] = static_cast<uint8_t>(0xa0 + i);
  for (size_t i = 0; i < 8; ++i) e.span_id[i] = static_cast<uint8_t>(0x10 + i);
  e.time_unix_ns = kT1 - 5;
  e.total_ns = 9'000'000;
  const std::map<std::string, std::vector<metrics::Exemplar>> exemplars = {{"k", {e}}};
  std::vector<ExportMetric> ms;
  ms.push_back(Number("reqs", InstrumentKind::kCounter, "{request}", {{{Str("m", "GET")}, 12}}));
  ms.push_back(Number("vus", InstrumentKind::kGauge, "{vu}", {{{}, 2.5}}));
  ms.push_back(Histogram("dur", "s", 1e-9, &h, "k", ExemplarValue::kTotal));
  MetricsEncoder encoder;
  const std::string req = Encode(encoder, ms, kT1, &exemplars);
  const std::string text = MetricsRequestToJson(req);
  ASSERT_FALSE(text.empty());
  const json j = json::parse(text);
  const json& sm = j["resourceMetrics"][0]["scopeMetrics"][0];
  EXPECT_EQ(j["resourceMetrics"][0]["resource"]["attributes"][0]["key"], "service.name");
  EXPECT_EQ(sm["scope"], json::parse(R"({"name":"stampede","version":"0.1.0"})"));
  const json& reqs = sm["metrics"][0];
  EXPECT_EQ(reqs["name"], "reqs");
  EXPECT_EQ(reqs["unit"], "{request}");
  EXPECT_EQ(reqs["description"], "A test metric.");
  EXPECT_EQ(reqs["sum"]["aggregationTemporality"], 2);
  EXPECT_EQ(reqs["sum"]["isMonotonic"], true);
  EXPECT_EQ(reqs["sum"]["dataPoints"][0], json::parse(R"({
      "startTimeUnixNano": "1700000000000000000", "timeUnixNano": "1700000010000000000",
      "asDouble": 12, "attributes": [{"key": "m", "value": {"stringValue": "GET"}}]})"));
  EXPECT_EQ(sm["metrics"][1]["gauge"]["dataPoints"][0]["asDouble"], 2.5);

  const json& eh = sm["metrics"][2]["exponentialHistogram"];
  EXPECT_EQ(eh["aggregationTemporality"], 2);
  const json& p = eh["dataPoints"][0];
  ExpBuckets b;
  ToExponentialBuckets(h, 1e-9, 20, 160, b);
  EXPECT_EQ(p["count"], std::to_string(h.count()));
  EXPECT_EQ(p["zeroCount"], "1");
  EXPECT_EQ(p["scale"], b.scale);
  EXPECT_TRUE(p["scale"].is_number());
  EXPECT_EQ(p["positive"]["offset"], b.offset);  // negative: zigzag decoded
  EXPECT_LT(p["positive"]["offset"].get<int>(), 0);
  ASSERT_EQ(p["positive"]["bucketCounts"].size(), b.counts.size());
  for (size_t i = 0; i < b.counts.size(); ++i) {
    EXPECT_EQ(p["positive"]["bucketCounts"][i], std::to_string(b.counts[i]));
  }
  EXPECT_DOUBLE_EQ(p["sum"].get<double>(), h.sum() * 1e-9);
  EXPECT_EQ(p["min"], 0);
  EXPECT_DOUBLE_EQ(p["max"].get<double>(), h.max() * 1e-9);
  EXPECT_EQ(p["attributes"][1],
            json::parse(R"({"key":"server.port","value":{"intValue":"8080"}})"));
  json ex = p["exemplars"][0];
  EXPECT_DOUBLE_EQ(ex["asDouble"].get<double>(), 0.009);
  ex.erase("asDouble");
  EXPECT_EQ(ex, json::parse(R"({"timeUnixNano": "1700000009999999995",
      "spanId": "1011121314151617", "traceId": "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"})"));

  MetricsEncoder explicit_encoder({.histogram = HistogramAggregation::kExplicitBucket});
  const json k = json::parse(MetricsRequestToJson(Encode(explicit_encoder, ms, kT1)));
  const json& hp =
      k["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][2]["histogram"]["dataPoints"][0];
  ASSERT_EQ(hp["bucketCounts"].size(), 15u);
  EXPECT_TRUE(hp["bucketCounts"][0].is_string());
  EXPECT_EQ(hp["explicitBounds"][0], 0.005);
  EXPECT_EQ(hp["explicitBounds"].size(), 14u);
  EXPECT_EQ(hp["count"], std::to_string(h.count()));

  // Traces still transcode (shared machinery), and garbage is refused.
  EXPECT_EQ(MetricsRequestToJson(""), "{}");
  EXPECT_EQ(MetricsRequestToJson("\x0a\x05\x12"), "");
}

TEST(MetricsJsonTest, UnpackedRepeatedScalarsAreAccepted) {
  // Buckets{offset=-3 (zigzag 5), bucket_counts 7 and 300 as two unpacked varints}.
  ProtoWriter buckets;
  buckets.VarintField(1, 5);
  buckets.VarintField(2, 7);
  buckets.VarintField(2, 300);
  ProtoWriter point;
  point.Fixed64Field(4, 307);
  point.BytesField(8, buckets.view());
  ProtoWriter eh;
  eh.BytesField(1, point.view());
  ProtoWriter metric;
  metric.StringField(1, "m");
  metric.BytesField(10, eh.view());
  ProtoWriter sm, rm, req;
  sm.BytesField(2, metric.view());
  rm.BytesField(2, sm.view());
  req.BytesField(1, rm.view());
  const json j = json::parse(MetricsRequestToJson(req.view()));
  const json& p = j["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["exponentialHistogram"]
                   ["dataPoints"][0];
  EXPECT_EQ(p["positive"], json::parse(R"({"offset": -3, "bucketCounts": ["7", "300"]})"));
  EXPECT_EQ(p["count"], "307");
}

}  // namespace
}  // namespace stampede::otel
