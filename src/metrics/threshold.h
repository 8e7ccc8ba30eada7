// Thresholds: k6's pass/fail criteria on aggregated metrics, with k6's syntax
// and semantics (grafana/k6 metrics/thresholds.go, metrics/thresholds_parser.go,
// metrics/metric_type.go, metrics/engine/engine.go).
//
//   thresholds = {
//     http_req_duration = { "p(95)<500", "avg < 200" },
//     ["http_req_duration{name:/api,status:200}"] = { "p(99.9)<=800" },
//     http_req_failed = { { threshold = "rate<0.01", abortOnFail = true,
//                           delayAbortEval = "10s" } },
//   }
//
// An expression is `<aggregation> <operator> <number>`, whitespace allowed
// around each part. Aggregations by metric type, exactly as k6 allows them:
//   trend:   avg, min, max, med, p(N) with 0 <= N <= 100 (e.g. p(99.9))
//   counter: count, rate (per second over the run so far)
//   rate:    rate (fraction of non-zero samples, 0..1)
//   gauge:   value
// Operators: <  <=  >  >=  ==  ===  !=  ("===" is the same as "==").
// Numbers (the right-hand side and N of p(N)) are read as k6 reads them, with
// Go's strconv.ParseFloat: an optional sign, decimal (`1e3`, `.5`, `5.`) or
// hexadecimal with a p exponent (`0x1p-2`), `_` between digits (`1_000`);
// a value that underflows is 0, one that overflows is refused.
// Deliberate differences from k6 (stampede is stricter or more lenient on
// purpose): Inf, Infinity and NaN are refused (k6 takes them, and then
// `avg<NaN` can never pass); blanks inside p( ) are allowed (`p( 95 )`, which
// k6 refuses); a metric key is trimmed (k6 keeps blanks before '{' in the
// name and then finds no such metric).
// Metric keys follow k6's ParseMetricName: `name` or `name{k:v,...}` with
// the last '}' at the end and a non-empty value after each tag's first ':'
// (`http_req_duration{env:}` and a trailing comma are refused); the tags
// themselves are read by ParseMetricSelector (metrics/registry.h).
// Units as k6 compares them: time values in milliseconds (p(95)<500 means
// 500 ms; stampede records ns), data values in bytes, rates as fractions.
//
// Lifecycle: parse (ThresholdSet::FromJson / AddFlag, syntax only) → Validate
// against the Registry once the script has defined its custom metrics →
// Evaluate on the telemetry thread (periodically during the run, and once at
// the end) → Results() for the summary, ShouldAbort() for abortOnFail.
//
// Cold path. Parsing and validation throw core::ConfigError (exit code 104)
// with one line naming the threshold and the fix. A ThresholdSet is not
// thread-safe: one thread (the telemetry thread) evaluates and reads it.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/registry.h"
#include "metrics/snapshot.h"

namespace stampede::metrics {

enum class Aggregation { kAvg, kMin, kMax, kMed, kPercentile, kCount, kRate, kValue };
enum class ThresholdOp { kLess, kLessEqual, kGreater, kGreaterEqual, kEqual, kNotEqual };

// A parsed expression such as `p(99.9) <= 800`.
struct ThresholdExpression {
  Aggregation aggregation = Aggregation::kAvg;
  double percentile = 0;  // kPercentile: N of p(N), in [0, 100]
  ThresholdOp op = ThresholdOp::kLess;
  double value = 0;  // the right-hand side, in k6 units (ms for time metrics)

  // Whether `observed` (in the same units as `value`) satisfies the expression.
  bool Passes(double observed) const;
};

// Parses `text` (e.g. "p(95) < 500"). `metric_key` only names the metric in
// the error message. Throws core::ConfigError, e.g.
//   invalid threshold "p(95)<>500" on http_req_duration: expected
//   <aggregation> <operator> <number>, e.g. p(95)<500
ThresholdExpression ParseThresholdExpression(std::string_view text, std::string_view metric_key);

// Whether k6 allows `aggregation` in a threshold on a metric of `type`.
bool IsValidAggregation(MetricType type, Aggregation aggregation);

// One configured threshold, before validation against a Registry.
struct ThresholdConfig {
  std::string metric;  // the key as written: "http_req_duration{name:/api}" (trimmed)
  std::string source;  // the expression as written, the summary's label: "p(95)<500"
  bool abort_on_fail = false;
  // k6's delayAbortEval: abortOnFail only stops the run once it has lasted
  // longer than this. Unset: from the first failing evaluation.
  std::optional<std::chrono::nanoseconds> delay_abort_eval;
};

// Parses a `--threshold` flag value "<metric>:<expression>", split at the
// first ':' outside braces, so "http_req_duration{group:::checkout}:p(95)<500"
// names the sub-metric http_req_duration{group:::checkout}. Syntax is checked
// (selector and expression); throws core::ConfigError naming the flag.
ThresholdConfig ParseThresholdFlag(std::string_view flag);

// The outcome of one threshold.
struct ThresholdResult {
  std::string source;  // "p(95)<500"
  // False until the threshold has been evaluated: during the run k6 skips
  // metrics without samples; the end-of-test evaluation evaluates all.
  bool evaluated = false;
  bool passed = true;  // true while not evaluated
  // The aggregated value compared, in the expression's units (ms for time
  // metrics). Unset when not evaluated or when there is nothing to compare
  // (a rate metric without samples, which k6 passes).
  std::optional<double> observed;
  bool abort_on_fail = false;
};

// The thresholds of one metric or sub-metric, in definition order.
struct MetricThresholdResults {
  std::string metric;  // the key as written: "http_req_duration{name:/api}"
  std::vector<ThresholdResult> thresholds;
};

class ThresholdSet {
 public:
  // When to evaluate. kDuringRun follows k6's periodic evaluation, which skips
  // metrics (and sub-metrics) that have no samples yet; kEndOfTest evaluates
  // every threshold (see Evaluate for what empty metrics yield).
  enum class Phase { kDuringRun, kEndOfTest };

  ThresholdSet() = default;

  // Parses k6's `options.thresholds` as JSON: an object mapping a metric key
  // to a list whose items are an expression string or an object
  // {"threshold": "p(95)<500", "abortOnFail": true, "delayAbortEval": "10s"}.
  // delayAbortEval is a duration string ("10s", "1m30s") or, as in k6, a
  // number (or numeric string) of milliseconds. Beyond k6, a lone string or
  // object stands for a one-item list and an empty object for an empty list
  // (Lua tables convert ambiguously). Unknown object keys are ignored, as k6
  // does. When `registry` is given, also calls Validate(*registry). Throws
  // core::ConfigError.
  static ThresholdSet FromJson(const nlohmann::json& thresholds, const Registry* registry);

  // Adds one threshold (e.g. from ParseThresholdFlag). Thresholds on a key
  // already present are appended to it. Throws core::ConfigError on bad
  // syntax. Invalidates a previous Validate.
  void Add(ThresholdConfig config);
  // Add(ParseThresholdFlag(flag)).
  void AddFlag(std::string_view flag) { Add(ParseThresholdFlag(flag)); }

  // Checks every metric key against `registry`: the metric must exist and
  // each aggregation must be valid for its type (k6's Thresholds.Validate).
  // Throws core::ConfigError, e.g.
  //   invalid threshold "rate<0.01" on http_req_duration: rate is not valid
  //   on a trend metric; use avg, min, med, max or p(N)
  // Remembers the metric definitions, for Evaluate. Must be called before
  // Evaluate; the registry is not kept.
  void Validate(const Registry& registry);
  bool validated() const { return validated_; }

  // Evaluates every threshold against `snapshot`, which must hold the run's
  // cumulative values so far (not one interval). `elapsed_ns` is the run's
  // duration so far: counter `rate` is count per second over it, and
  // ShouldAbort compares it with delayAbortEval. Sub-metrics aggregate the
  // series whose tags include the selector's tags.
  //
  // Empty metrics, as k6 (metrics/engine/engine.go evaluateThresholds and
  // metrics/thresholds.go Run): during the run they are skipped (results keep
  // their previous state). At the end they are evaluated on zero values:
  // counter count and rate 0, gauge value 0, trend aggregations 0 (k6's
  // TrendSink.P returns 0 when empty), so e.g. `count>10` fails and
  // `p(95)<500` passes; a rate metric without samples has no rate and its
  // thresholds pass (k6 issue #2520).
  //
  // Precondition: validated(). Metrics that `snapshot` does not define are
  // treated as empty.
  void Evaluate(const Snapshot& snapshot, int64_t elapsed_ns, Phase phase = Phase::kEndOfTest);

  // True when, at the last Evaluate, a threshold with abortOnFail failed and
  // either it has no delayAbortEval or `elapsed_ns` exceeds it (k6 aborts when
  // delayAbortEval < time spent in the test, strictly).
  bool ShouldAbort(int64_t elapsed_ns) const;
  // Keys of the metrics with a failed threshold at the last Evaluate, sorted
  // (for k6's "thresholds on metrics '...' have been crossed").
  std::vector<std::string> FailedMetrics() const;
  // True when no threshold failed at the last Evaluate (also when empty).
  bool AllPassed() const { return FailedMetrics().empty(); }

  // Per metric key, sorted by key, each with its thresholds in definition order.
  const std::vector<MetricThresholdResults>& Results() const { return results_; }
  bool empty() const { return results_.empty(); }

 private:
  struct Entry {
    ThresholdExpression expression;
    std::optional<std::chrono::nanoseconds> delay_abort_eval;
  };
  struct Group {
    MetricSelector selector;
    std::optional<MetricDef> def;  // set by Validate
    std::vector<Entry> entries;    // parallel to the MetricThresholdResults' thresholds
  };

  // The index of the group of `metric_key`, added (sorted) if new. Throws
  // core::ConfigError on a malformed key.
  size_t GroupIndex(const std::string& metric_key);

  std::vector<Group> groups_;                    // parallel to results_
  std::vector<MetricThresholdResults> results_;  // sorted by metric key
  bool validated_ = false;
};

}  // namespace stampede::metrics
