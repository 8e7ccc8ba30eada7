#include "otel/otlp_schema.h"

namespace stampede::otel::schema {
namespace {

constexpr Field Explicit(Field f) {
  f.explicit_presence = true;
  return f;
}
constexpr Field Required(Field f) {
  f.required = true;
  return f;
}
// Profiles-only *_strindex fields (Development): the receiver checks their
// wire type; OTLP/JSON (transcoder and decoder) leaves them out.
constexpr Field NotInJson(Field f) {
  f.in_json = false;
  return f;
}

// --- Traces --------------------------------------------------------------------------

constexpr Field kRequestFields[] = {
    {1, "resourceSpans", "resource_spans", Kind::kMessage, true, Msg::kResourceSpans}};
constexpr Field kResourceSpansFields[] = {
    {1, "resource", "resource", Kind::kMessage, false, Msg::kResource},
    {2, "scopeSpans", "scope_spans", Kind::kMessage, true, Msg::kScopeSpans},
    {3, "schemaUrl", "schema_url", Kind::kString}};
constexpr Field kResourceFields[] = {
    {1, "attributes", "attributes", Kind::kMessage, true, Msg::kKeyValue},
    {2, "droppedAttributesCount", "dropped_attributes_count", Kind::kUint32}};
constexpr Field kScopeSpansFields[] = {{1, "scope", "scope", Kind::kMessage, false, Msg::kScope},
                                       {2, "spans", "spans", Kind::kMessage, true, Msg::kSpan},
                                       {3, "schemaUrl", "schema_url", Kind::kString}};
constexpr Field kScopeFields[] = {
    {1, "name", "name", Kind::kString},
    {2, "version", "version", Kind::kString},
    {3, "attributes", "attributes", Kind::kMessage, true, Msg::kKeyValue},
    {4, "droppedAttributesCount", "dropped_attributes_count", Kind::kUint32}};
constexpr Field kSpanFields[] = {
    Required({1, "traceId", "trace_id", Kind::kTraceId}),
    Required({2, "spanId", "span_id", Kind::kSpanId}),
    {3, "traceState", "trace_state", Kind::kString},
    {4, "parentSpanId", "parent_span_id", Kind::kSpanId},  // empty: a root span
    {5, "name", "name", Kind::kString},
    {6, "kind", "kind", Kind::kEnum, false, Msg::kRequest, EnumType::kSpanKind},
    {7, "startTimeUnixNano", "start_time_unix_nano", Kind::kFixed64},
    {8, "endTimeUnixNano", "end_time_unix_nano", Kind::kFixed64},
    {9, "attributes", "attributes", Kind::kMessage, true, Msg::kKeyValue},
    {10, "droppedAttributesCount", "dropped_attributes_count", Kind::kUint32},
    {11, "events", "events", Kind::kMessage, true, Msg::kEvent},
    {12, "droppedEventsCount", "dropped_events_count", Kind::kUint32},
    {13, "links", "links", Kind::kMessage, true, Msg::kLink},
    {14, "droppedLinksCount", "dropped_links_count", Kind::kUint32},
    {15, "status", "status", Kind::kMessage, false, Msg::kStatus},
    {16, "flags", "flags", Kind::kFixed32}};
constexpr Field kEventFields[] = {
    {1, "timeUnixNano", "time_unix_nano", Kind::kFixed64},
    {2, "name", "name", Kind::kString},
    {3, "attributes", "attributes", Kind::kMessage, true, Msg::kKeyValue},
    {4, "droppedAttributesCount", "dropped_attributes_count", Kind::kUint32}};
constexpr Field kLinkFields[] = {
    Required({1, "traceId", "trace_id", Kind::kTraceId}),
    Required({2, "spanId", "span_id", Kind::kSpanId}),
    {3, "traceState", "trace_state", Kind::kString},
    {4, "attributes", "attributes", Kind::kMessage, true, Msg::kKeyValue},
    {5, "droppedAttributesCount", "dropped_attributes_count", Kind::kUint32},
    {6, "flags", "flags", Kind::kFixed32}};
constexpr Field kStatusFields[] = {
    {2, "message", "message", Kind::kString},
    {3, "code", "code", Kind::kEnum, false, Msg::kRequest, EnumType::kStatusCode}};
constexpr Field kKeyValueFields[] = {{1, "key", "key", Kind::kString},
                                     {2, "value", "value", Kind::kMessage, false, Msg::kAnyValue},
                                     NotInJson({3, "keyStrindex", "key_strindex", Kind::kInt32})};
constexpr Field kAnyValueFields[] = {
    Explicit({1, "stringValue", "string_value", Kind::kString}),
    Explicit({2, "boolValue", "bool_value", Kind::kBool}),
    Explicit({3, "intValue", "int_value", Kind::kInt64}),
    Explicit({4, "doubleValue", "double_value", Kind::kDouble}),
    Explicit({5, "arrayValue", "array_value", Kind::kMessage, false, Msg::kArrayValue}),
    Explicit({6, "kvlistValue", "kvlist_value", Kind::kMessage, false, Msg::kKeyValueList}),
    Explicit({7, "bytesValue", "bytes_value", Kind::kBytes}),
    NotInJson(Explicit({8, "stringValueStrindex", "string_value_strindex", Kind::kInt32}))};
constexpr Field kArrayValueFields[] = {
    {1, "values", "values", Kind::kMessage, true, Msg::kAnyValue}};
constexpr Field kKeyValueListFields[] = {
    {1, "values", "values", Kind::kMessage, true, Msg::kKeyValue}};

// --- Metrics -------------------------------------------------------------------------

constexpr Field kMetricsRequestFields[] = {
    {1, "resourceMetrics", "resource_metrics", Kind::kMessage, true, Msg::kResourceMetrics}};
constexpr Field kResourceMetricsFields[] = {
    {1, "resource", "resource", Kind::kMessage, false, Msg::kResource},
    {2, "scopeMetrics", "scope_metrics", Kind::kMessage, true, Msg::kScopeMetrics},
    {3, "schemaUrl", "schema_url", Kind::kString}};
constexpr Field kScopeMetricsFields[] = {
    {1, "scope", "scope", Kind::kMessage, false, Msg::kScope},
    {2, "metrics", "metrics", Kind::kMessage, true, Msg::kMetric},
    {3, "schemaUrl", "schema_url", Kind::kString}};
constexpr Field kMetricFields[] = {
    {1, "name", "name", Kind::kString},
    {2, "description", "description", Kind::kString},
    {3, "unit", "unit", Kind::kString},
    Explicit({5, "gauge", "gauge", Kind::kMessage, false, Msg::kGauge}),
    Explicit({7, "sum", "sum", Kind::kMessage, false, Msg::kSum}),
    Explicit({9, "histogram", "histogram", Kind::kMessage, false, Msg::kHistogram}),
    Explicit({10, "exponentialHistogram", "exponential_histogram", Kind::kMessage, false,
              Msg::kExponentialHistogram}),
    Explicit({11, "summary", "summary", Kind::kMessage, false, Msg::kSummary}),
    {12, "metadata", "metadata", Kind::kMessage, true, Msg::kKeyValue}};
constexpr Field kGaugeFields[] = {
    {1, "dataPoints", "data_points", Kind::kMessage, true, Msg::kNumberDataPoint}};
constexpr Field kSumFields[] = {
    {1, "dataPoints", "data_points", Kind::kMessage, true, Msg::kNumberDataPoint},
    {2, "aggregationTemporality", "aggregation_temporality", Kind::kEnum, false, Msg::kRequest,
     EnumType::kAggregationTemporality},
    {3, "isMonotonic", "is_monotonic", Kind::kBool}};
constexpr Field kHistogramFields[] = {
    {1, "dataPoints", "data_points", Kind::kMessage, true, Msg::kHistogramDataPoint},
    {2, "aggregationTemporality", "aggregation_temporality", Kind::kEnum, false, Msg::kRequest,
     EnumType::kAggregationTemporality}};
constexpr Field kExponentialHistogramFields[] = {
    {1, "dataPoints", "data_points", Kind::kMessage, true, Msg::kExponentialHistogramDataPoint},
    {2, "aggregationTemporality", "aggregation_temporality", Kind::kEnum, false, Msg::kRequest,
     EnumType::kAggregationTemporality}};
constexpr Field kSummaryFields[] = {
    {1, "dataPoints", "data_points", Kind::kMessage, true, Msg::kSummaryDataPoint}};
constexpr Field kNumberDataPointFields[] = {
    {2, "startTimeUnixNano", "start_time_unix_nano", Kind::kFixed64},
    {3, "timeUnixNano", "time_unix_nano", Kind::kFixed64},
    Explicit({4, "asDouble", "as_double", Kind::kDouble}),
    {5, "exemplars", "exemplars", Kind::kMessage, true, Msg::kExemplar},
    Explicit({6, "asInt", "as_int", Kind::kSfixed64}),
    {7, "attributes", "attributes", Kind::kMessage, true, Msg::kKeyValue},
    {8, "flags", "flags", Kind::kUint32}};
constexpr Field kHistogramDataPointFields[] = {
    {2, "startTimeUnixNano", "start_time_unix_nano", Kind::kFixed64},
    {3, "timeUnixNano", "time_unix_nano", Kind::kFixed64},
    {4, "count", "count", Kind::kFixed64},
    Explicit({5, "sum", "sum", Kind::kDouble}),  // optional double: explicit presence
    {6, "bucketCounts", "bucket_counts", Kind::kFixed64, true},
    {7, "explicitBounds", "explicit_bounds", Kind::kDouble, true},
    {8, "exemplars", "exemplars", Kind::kMessage, true, Msg::kExemplar},
    {9, "attributes", "attributes", Kind::kMessage, true, Msg::kKeyValue},
    {10, "flags", "flags", Kind::kUint32},
    Explicit({11, "min", "min", Kind::kDouble}),
    Explicit({12, "max", "max", Kind::kDouble})};
constexpr Field kExponentialHistogramDataPointFields[] = {
    {1, "attributes", "attributes", Kind::kMessage, true, Msg::kKeyValue},
    {2, "startTimeUnixNano", "start_time_unix_nano", Kind::kFixed64},
    {3, "timeUnixNano", "time_unix_nano", Kind::kFixed64},
    {4, "count", "count", Kind::kFixed64},
    Explicit({5, "sum", "sum", Kind::kDouble}),
    {6, "scale", "scale", Kind::kSint32},
    {7, "zeroCount", "zero_count", Kind::kFixed64},
    {8, "positive", "positive", Kind::kMessage, false, Msg::kBuckets},
    {9, "negative", "negative", Kind::kMessage, false, Msg::kBuckets},
    {10, "flags", "flags", Kind::kUint32},
    {11, "exemplars", "exemplars", Kind::kMessage, true, Msg::kExemplar},
    Explicit({12, "min", "min", Kind::kDouble}),
    Explicit({13, "max", "max", Kind::kDouble}),
    {14, "zeroThreshold", "zero_threshold", Kind::kDouble}};
constexpr Field kBucketsFields[] = {{1, "offset", "offset", Kind::kSint32},
                                    {2, "bucketCounts", "bucket_counts", Kind::kUint64, true}};
constexpr Field kSummaryDataPointFields[] = {
    {2, "startTimeUnixNano", "start_time_unix_nano", Kind::kFixed64},
    {3, "timeUnixNano", "time_unix_nano", Kind::kFixed64},
    {4, "count", "count", Kind::kFixed64},
    {5, "sum", "sum", Kind::kDouble},
    {6, "quantileValues", "quantile_values", Kind::kMessage, true, Msg::kValueAtQuantile},
    {7, "attributes", "attributes", Kind::kMessage, true, Msg::kKeyValue},
    {8, "flags", "flags", Kind::kUint32}};
constexpr Field kValueAtQuantileFields[] = {{1, "quantile", "quantile", Kind::kDouble},
                                            {2, "value", "value", Kind::kDouble}};
constexpr Field kExemplarFields[] = {
    {2, "timeUnixNano", "time_unix_nano", Kind::kFixed64},
    Explicit({3, "asDouble", "as_double", Kind::kDouble}),
    {4, "spanId", "span_id", Kind::kSpanId},
    {5, "traceId", "trace_id", Kind::kTraceId},
    Explicit({6, "asInt", "as_int", Kind::kSfixed64}),
    {7, "filteredAttributes", "filtered_attributes", Kind::kMessage, true, Msg::kKeyValue}};

constexpr std::span<const Field> Table(Msg m) {
  switch (m) {
    case Msg::kRequest:
      return kRequestFields;
    case Msg::kResourceSpans:
      return kResourceSpansFields;
    case Msg::kResource:
      return kResourceFields;
    case Msg::kScopeSpans:
      return kScopeSpansFields;
    case Msg::kScope:
      return kScopeFields;
    case Msg::kSpan:
      return kSpanFields;
    case Msg::kEvent:
      return kEventFields;
    case Msg::kLink:
      return kLinkFields;
    case Msg::kStatus:
      return kStatusFields;
    case Msg::kKeyValue:
      return kKeyValueFields;
    case Msg::kAnyValue:
      return kAnyValueFields;
    case Msg::kArrayValue:
      return kArrayValueFields;
    case Msg::kKeyValueList:
      return kKeyValueListFields;
    case Msg::kMetricsRequest:
      return kMetricsRequestFields;
    case Msg::kResourceMetrics:
      return kResourceMetricsFields;
    case Msg::kScopeMetrics:
      return kScopeMetricsFields;
    case Msg::kMetric:
      return kMetricFields;
    case Msg::kGauge:
      return kGaugeFields;
    case Msg::kSum:
      return kSumFields;
    case Msg::kHistogram:
      return kHistogramFields;
    case Msg::kExponentialHistogram:
      return kExponentialHistogramFields;
    case Msg::kSummary:
      return kSummaryFields;
    case Msg::kNumberDataPoint:
      return kNumberDataPointFields;
    case Msg::kHistogramDataPoint:
      return kHistogramDataPointFields;
    case Msg::kExponentialHistogramDataPoint:
      return kExponentialHistogramDataPointFields;
    case Msg::kBuckets:
      return kBucketsFields;
    case Msg::kSummaryDataPoint:
      return kSummaryDataPointFields;
    case Msg::kValueAtQuantile:
      return kValueAtQuantileFields;
    case Msg::kExemplar:
      return kExemplarFields;
  }
  return {};
}

// Readers size per-field state by kMaxFields; only message fields name a
// child; only numeric fields are repeated without being messages (packable).
constexpr bool TablesFit() {
  for (int m = 0; m <= static_cast<int>(Msg::kLast); ++m) {
    const std::span<const Field> fields = Table(static_cast<Msg>(m));
    if (fields.empty() || fields.size() > kMaxFields) return false;
    for (const Field& f : fields) {
      if (f.repeated && f.kind != Kind::kMessage && !IsPackable(f)) return false;
      if (f.required && IdLength(f.kind) == 0) return false;
    }
  }
  return true;
}
static_assert(TablesFit(), "an OTLP schema table breaks a rule its readers rely on");

}  // namespace

std::span<const Field> Fields(Msg m) { return Table(m); }

}  // namespace stampede::otel::schema
