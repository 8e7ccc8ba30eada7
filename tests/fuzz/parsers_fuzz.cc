// libFuzzer target for the small text parsers of the command line and the
// script's options: durations and rates (src/core/duration.h), threshold
// expressions, `--threshold` flags, metric selectors and the `thresholds`
// option (src/metrics/threshold.h, registry.h), `--stage` values and the
// options' durations (src/engine/plan.h). The first input byte picks the
// parser (mode % 8); the rest is its text.
//
// Invariants (a broken one aborts; a ConfigError is a normal refusal, any
// other exception is a finding):
//   duration:   >= 0; surrounding blanks change nothing; "<ns>ns" parses to
//               the same value; FormatDuration's text parses back to at
//               most the value (it truncates) and within 1% + 1 unit;
//   rate:       count finite and >= 0, per > 0;
//   expression: percentile in [0, 100], value finite; the canonical form
//               "<agg> <op> <value>" (value with %.17g) parses to the same
//               expression; surrounding blanks change nothing;
//   flag:       metric and expression are trimmed and non-empty, and each
//               parses on its own;
//   selector:   a valid metric name; tag keys non-empty, unique, sorted;
//   thresholds: FromJson + Validate on the built-ins + Evaluate on an empty
//               snapshot never throw anything but ConfigError, and the
//               results mirror the input keys;
//   stage:      duration >= 0, 0 <= target;
//   option duration: >= 0.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "core/duration.h"
#include "core/error.h"
#include "engine/plan.h"
#include "metrics/registry.h"
#include "metrics/snapshot.h"
#include "metrics/threshold.h"

namespace stampede {
namespace {

using ::stampede::fuzz::Require;

using ::stampede::fuzz::Refused;

void FuzzDuration(std::string_view text) {
  std::chrono::nanoseconds d{};
  if (Refused([&] { d = core::ParseDuration(text, "--duration"); })) {
    Require(Refused([&] { core::ParseDuration(" " + std::string(text) + "\t", "x"); }),
            "padding made a refused duration valid", text);
    return;
  }
  Require(d.count() >= 0, "a negative duration", text);
  Require(core::ParseDuration("\t" + std::string(text) + " ", "x") == d, "padding changed it", text);
  Require(core::ParseDuration(std::to_string(d.count()) + "ns", "x") == d, "ns round trip", text);
  const std::string shown = core::FormatDuration(d);
  std::chrono::nanoseconds back{};
  Require(!Refused([&] { back = core::ParseDuration(shown, "x"); }),
          "FormatDuration wrote what ParseDuration refuses", shown);
  Require(back <= d, "FormatDuration rounded up", shown);
  const int64_t slack = d.count() / 100 + 1'000'000'000;
  Require(d.count() - back.count() <= slack, "FormatDuration is far off", shown);
}

void FuzzRate(std::string_view text) {
  core::Rate r;
  if (Refused([&] { r = core::ParseRate(text, "--rate"); })) return;
  Require(std::isfinite(r.count) && r.count >= 0, "a bad count", text);
  Require(r.per.count() > 0, "a non-positive time unit", text);
}

const char* OpText(metrics::ThresholdOp op) {
  switch (op) {
    case metrics::ThresholdOp::kLess:
      return "<";
    case metrics::ThresholdOp::kLessEqual:
      return "<=";
    case metrics::ThresholdOp::kGreater:
      return ">";
    case metrics::ThresholdOp::kGreaterEqual:
      return ">=";
    case metrics::ThresholdOp::kEqual:
      return "==";
    case metrics::ThresholdOp::kNotEqual:
      return "!=";
  }
  return "?";
}

std::string Canonical(const metrics::ThresholdExpression& e) {
  using metrics::Aggregation;
  std::string lhs;
  switch (e.aggregation) {
    case Aggregation::kAvg:
      lhs = "avg";
      break;
    case Aggregation::kMin:
      lhs = "min";
      break;
    case Aggregation::kMax:
      lhs = "max";
      break;
    case Aggregation::kMed:
      lhs = "med";
      break;
    case Aggregation::kCount:
      lhs = "count";
      break;
    case Aggregation::kRate:
      lhs = "rate";
      break;
    case Aggregation::kValue:
      lhs = "value";
      break;
    case Aggregation::kPercentile: {
      char buf[64];
      std::snprintf(buf, sizeof buf, "p(%.17g)", e.percentile);
      lhs = buf;
      break;
    }
  }
  char value[64];
  std::snprintf(value, sizeof value, "%.17g", e.value);
  return lhs + " " + OpText(e.op) + " " + value;
}

bool Same(const metrics::ThresholdExpression& a, const metrics::ThresholdExpression& b) {
  return a.aggregation == b.aggregation && a.op == b.op && a.value == b.value &&
         a.percentile == b.percentile;
}

void FuzzExpression(std::string_view text) {
  metrics::ThresholdExpression e;
  if (Refused([&] { e = metrics::ParseThresholdExpression(text, "m"); })) return;
  Require(std::isfinite(e.value), "an infinite value", text);
  if (e.aggregation == metrics::Aggregation::kPercentile) {
    Require(e.percentile >= 0 && e.percentile <= 100, "a percentile out of range", text);
  }
  const std::string canonical = Canonical(e);
  metrics::ThresholdExpression again;
  Require(!Refused([&] { again = metrics::ParseThresholdExpression(canonical, "m"); }),
          "the canonical form is refused", canonical);
  Require(Same(e, again), "the canonical form parses differently", canonical);
  Require(Same(e, metrics::ParseThresholdExpression(" " + std::string(text) + " ", "m")),
          "padding changed it", text);
  (void)e.Passes(0.0);
}

void FuzzFlag(std::string_view text) {
  metrics::ThresholdConfig c;
  if (Refused([&] { c = metrics::ParseThresholdFlag(text); })) return;
  Require(!c.metric.empty() && !c.source.empty(), "an empty part", text);
  Require(!Refused([&] { metrics::ParseMetricSelector(c.metric); }), "metric refused alone", text);
  Require(!Refused([&] { metrics::ParseThresholdExpression(c.source, c.metric); }),
          "expression refused alone", text);
  metrics::ThresholdSet set;
  set.Add(c);
  Require(set.Results().size() == 1 && set.Results()[0].thresholds.size() == 1,
          "Add did not add one threshold", text);
}

void FuzzSelector(std::string_view text) {
  metrics::MetricSelector s;
  if (Refused([&] { s = metrics::ParseMetricSelector(text); })) return;
  Require(metrics::Registry::IsValidName(s.metric), "an invalid metric name", text);
  for (size_t i = 0; i < s.filter.size(); ++i) {
    Require(!s.filter[i].key.empty(), "an empty tag key", text);
    if (i > 0) Require(s.filter[i - 1].key < s.filter[i].key, "keys not sorted/unique", text);
  }
  Require(s.filter.empty() == s.suffix.empty(), "suffix and filter disagree", text);
}

void FuzzThresholds(std::string_view text, uint8_t mode) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return;
  static const metrics::Registry registry = metrics::Registry::WithBuiltins();
  metrics::ThresholdSet set;
  if (Refused([&] { set = metrics::ThresholdSet::FromJson(j, nullptr); })) return;
  Require(set.Results().size() <= j.size(), "more metrics than keys");
  for (size_t i = 1; i < set.Results().size(); ++i) {
    Require(set.Results()[i - 1].metric < set.Results()[i].metric, "results not sorted");
  }
  if (Refused([&] { set.Validate(registry); })) return;
  metrics::Snapshot empty;
  const int64_t elapsed = (mode & 0x80) ? 0 : 1'000'000'000;
  set.Evaluate(empty, elapsed,
               (mode & 0x40) ? metrics::ThresholdSet::Phase::kDuringRun
                             : metrics::ThresholdSet::Phase::kEndOfTest);
  (void)set.ShouldAbort(elapsed);
  (void)set.FailedMetrics();
}

void FuzzStage(std::string_view text) {
  engine::Stage s;
  if (Refused([&] { s = engine::ParseStageFlag(text); })) return;
  Require(s.duration_ns >= 0 && s.target >= 0, "a negative stage", text);
}


void FuzzOptionDuration(std::string_view text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return;
  int64_t ns = 0;
  if (Refused([&] { ns = engine::ParseOptionDurationNs(j, "setupTimeout"); })) return;
  Require(ns >= 0, "a negative option duration", text);
}

}  // namespace
}  // namespace stampede

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace stampede;
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (mode % 8) {
    case 0:
      FuzzDuration(text);
      break;
    case 1:
      FuzzRate(text);
      break;
    case 2:
      FuzzExpression(text);
      break;
    case 3:
      FuzzFlag(text);
      break;
    case 4:
      FuzzSelector(text);
      break;
    case 5:
      FuzzThresholds(text, mode);
      break;
    case 6:
      FuzzStage(text);
      break;
    case 7:
      FuzzOptionDuration(text);
      break;
  }
  return 0;
}
