#include "metrics/threshold.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>
#include <nlohmann/json.hpp>

#include "core/duration.h"
#include "core/error.h"

namespace stampede::metrics {
namespace {

constexpr std::string_view kExpectedForm =
    "expected <aggregation> <operator> <number>, e.g. p(95)<500";

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

[[noreturn]] void Fail(std::string_view text, std::string_view metric_key, std::string_view why) {
  throw core::ConfigError("invalid threshold " + Quote(text) + " on " + std::string(metric_key) +
                          ": " + std::string(why));
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHexDigit(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Go's strconv underscoreOK: '_' only between digits, or between a base
// prefix and a digit. `s` has no sign.
bool UnderscoresOk(std::string_view s) {
  char saw = '^';
  size_t i = 0;
  bool hex = false;
  if (s.size() >= 2 && s[0] == '0' && (Lower(s[1]) == 'b' || Lower(s[1]) == 'o' || Lower(s[1]) == 'x')) {
    i = 2;
    saw = '0';
    hex = Lower(s[1]) == 'x';
  }
  for (; i < s.size(); ++i) {
    if (IsDigit(s[i]) || (hex && IsHexDigit(s[i]))) {
      saw = '0';
      continue;
    }
    if (s[i] == '_') {
      if (saw != '0') return false;
      saw = '_';
      continue;
    }
    if (saw == '_') return false;
    saw = '!';
  }
  return saw != '_';
}

// A whole-string number as Go's strconv.ParseFloat(s, 64) reads it (what k6
// uses for both sides of an expression): an optional sign; decimal digits
// with an optional fraction and exponent, or a hexadecimal mantissa with a
// mandatory p exponent (0x1p-2); '_' between digits. Out of range is refused
// (Go: ErrRange), underflow gives 0 or a subnormal (Go: no error).
// stampede: finite values only — Go's Inf, Infinity and NaN are refused.
std::optional<double> ParseNumber(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s.empty() || !UnderscoresOk(s)) return std::nullopt;
  const bool hex = s.size() >= 2 && s[0] == '0' && Lower(s[1]) == 'x';
  if (hex) s.remove_prefix(2);
  // Check the syntax and drop the underscores.
  std::string clean;
  size_t i = 0;
  bool digits = false, dot = false;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '_') continue;
    if (hex ? IsHexDigit(c) : IsDigit(c)) {
      digits = true;
    } else if (c == '.' && !dot) {
      dot = true;
    } else {
      break;
    }
    clean += c;
  }
  if (!digits) return std::nullopt;
  if (i < s.size() && Lower(s[i]) == (hex ? 'p' : 'e')) {
    clean += s[i++];
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) clean += s[i++];
    bool exp_digits = false;
    for (; i < s.size() && (IsDigit(s[i]) || s[i] == '_'); ++i) {
      if (s[i] == '_') continue;
      exp_digits = true;
      clean += s[i];
    }
    if (!exp_digits) return std::nullopt;
  } else if (hex) {
    return std::nullopt;  // Go: a hexadecimal mantissa requires a 'p' exponent
  }
  if (i != s.size()) return std::nullopt;

  double value = 0;
  const auto format = hex ? std::chars_format::hex : std::chars_format::general;
  auto [ptr, ec] = std::from_chars(clean.data(), clean.data() + clean.size(), value, format);
  if (ptr != clean.data() + clean.size()) return std::nullopt;
  if (ec == std::errc::result_out_of_range) {
    // Overflow or underflow; strtod tells them apart (HUGE_VAL vs ~0).
    const std::string c = (hex ? "0x" : "") + clean;
    value = std::strtod(c.c_str(), nullptr);
  } else if (ec != std::errc()) {
    return std::nullopt;
  }
  if (!std::isfinite(value)) return std::nullopt;
  return negative ? -value : value;
}

std::string_view AggregationName(Aggregation a) {
  switch (a) {
    case Aggregation::kAvg:
      return "avg";
    case Aggregation::kMin:
      return "min";
    case Aggregation::kMax:
      return "max";
    case Aggregation::kMed:
      return "med";
    case Aggregation::kPercentile:
      return "p(N)";
    case Aggregation::kCount:
      return "count";
    case Aggregation::kRate:
      return "rate";
    case Aggregation::kValue:
      return "value";
  }
  return "?";
}

// k6's MetricType.supportedAggregationMethods, as text for error messages.
std::string_view SupportedAggregations(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "count or rate";
    case MetricType::kGauge:
      return "value";
    case MetricType::kRate:
      return "rate";
    case MetricType::kTrend:
      return "avg, min, med, max or p(N)";
  }
  return "";
}

// k6's ParseMetricName (metrics/metric.go), which k6 applies to every
// threshold key before ParseMetricSelector-like parsing: braces balanced, the
// '}' last, and every comma-separated tag with a non-empty text after its
// first ':'. It refuses what ParseMetricSelector alone would take, such as a
// trailing comma (`http_req_duration{status:200,}`). Throws ConfigError.
void CheckK6MetricName(std::string_view key) {
  auto fail = [&](std::string_view why) {
    throw core::ConfigError("invalid metric \"" + std::string(key) + "\": " + std::string(why) +
                            "; expected a name such as http_req_duration or "
                            "http_req_duration{name:/api,status:200}");
  };
  const size_t open = key.find('{');
  const size_t close = key.rfind('}');
  if (open == std::string_view::npos && close == std::string_view::npos) return;
  if (open == std::string_view::npos || close == std::string_view::npos) {
    fail("unmatched '{' or '}'");
  }
  if (close < open) fail("'}' before '{'");
  if (close != key.size() - 1) fail("the tags must end with the last '}'");
  std::string_view inner = key.substr(open + 1, close - open - 1);
  while (true) {
    const size_t comma = inner.find(',');
    const std::string_view part = inner.substr(0, comma);
    const size_t colon = part.find(':');
    if (colon == std::string_view::npos || colon + 1 == part.size()) {
      fail("a tag must be <key>:<value>, with a value");
    }
    if (comma == std::string_view::npos) break;
    inner.remove_prefix(comma + 1);
  }
}

// Splits "metric:expression" at the first ':' outside braces.
std::optional<size_t> FlagColon(std::string_view flag) {
  int depth = 0;
  for (size_t i = 0; i < flag.size(); ++i) {
    if (flag[i] == '{') {
      ++depth;
    } else if (flag[i] == '}') {
      if (depth > 0) --depth;
    } else if (flag[i] == ':' && depth == 0) {
      return i;
    }
  }
  return std::nullopt;
}

// k6's types.Duration JSON form: a string duration, where a bare number means
// milliseconds; or a JSON number of milliseconds.
std::optional<std::chrono::nanoseconds> ParseDelay(const nlohmann::json& j, std::string_view source,
                                                   std::string_view metric_key) {
  if (j.is_null()) return std::nullopt;
  const std::string what =
      "delayAbortEval of threshold " + Quote(source) + " on " + std::string(metric_key);
  auto from_ms = [&](double ms) -> std::chrono::nanoseconds {
    if (!(ms >= 0) || !std::isfinite(ms)) {
      throw core::ConfigError("invalid " + what + ": expected a duration such as 10s or 1m30s");
    }
    // Beyond int64 nanoseconds (about 292 years) llround's result is unspecified.
    if (ms * 1e6 >= 9.2e18) {
      throw core::ConfigError("invalid " + what + ": the duration is too large");
    }
    return std::chrono::nanoseconds(static_cast<int64_t>(std::llround(ms * 1e6)));
  };
  if (j.is_number()) return from_ms(j.get<double>());
  if (j.is_string()) {
    const std::string text = j.get<std::string>();
    if (std::optional<double> ms = ParseNumber(Trim(text))) return from_ms(*ms);
    return core::ParseDuration(Trim(text), what);
  }
  throw core::ConfigError("invalid " + what + ": expected a duration such as 10s or 1m30s");
}

ThresholdConfig ConfigFromJson(const std::string& metric_key, const nlohmann::json& item) {
  const std::string bad_item = "invalid threshold on " + metric_key +
                               ": expected a string such as \"p(95)<500\" or an object such as "
                               "{threshold = \"p(95)<500\", abortOnFail = true}";
  ThresholdConfig config;
  config.metric = metric_key;
  if (item.is_string()) {
    config.source = item.get<std::string>();
    return config;
  }
  if (!item.is_object()) throw core::ConfigError(bad_item);
  auto threshold = item.find("threshold");
  if (threshold == item.end() || !threshold->is_string()) throw core::ConfigError(bad_item);
  config.source = threshold->get<std::string>();
  if (auto abort = item.find("abortOnFail"); abort != item.end() && !abort->is_null()) {
    if (!abort->is_boolean()) {
      throw core::ConfigError("invalid abortOnFail of threshold " + Quote(config.source) + " on " +
                              metric_key + ": expected true or false");
    }
    config.abort_on_fail = abort->get<bool>();
  }
  if (auto delay = item.find("delayAbortEval"); delay != item.end()) {
    config.delay_abort_eval = ParseDelay(*delay, config.source, metric_key);
  }
  return config;
}

// The value a threshold compares, in k6 units; nullopt when there is none
// (a rate without samples).
std::optional<double> Observe(const ThresholdExpression& e, const SeriesValue& v,
                              int64_t elapsed_ns) {
  // k6 keeps time samples in milliseconds; stampede records nanoseconds.
  const double scale = v.value_type == ValueType::kTime ? 1e-6 : 1.0;
  switch (e.aggregation) {
    case Aggregation::kCount:
      return v.count * scale;
    case Aggregation::kRate:
      if (v.type == MetricType::kRate) {
        if (v.passes + v.fails == 0) return std::nullopt;
        return v.rate();
      }
      return v.PerSecond(elapsed_ns) * scale;
    case Aggregation::kValue:
      return v.value * scale;
    default:
      break;
  }
  if (!v.trend) return 0.0;  // an empty trend: k6's TrendSink yields 0 for every aggregation
  const ExpHistogram& h = *v.trend;
  switch (e.aggregation) {
    case Aggregation::kAvg:
      return h.Mean() * scale;
    case Aggregation::kMin:
      return h.min() * scale;
    case Aggregation::kMax:
      return h.max() * scale;
    case Aggregation::kMed:
      return h.Quantile(0.5) * scale;
    case Aggregation::kPercentile:
      return h.Quantile(e.percentile / 100) * scale;
    default:
      return 0.0;
  }
}

}  // namespace

bool ThresholdExpression::Passes(double observed) const {
  switch (op) {
    case ThresholdOp::kLess:
      return observed < value;
    case ThresholdOp::kLessEqual:
      return observed <= value;
    case ThresholdOp::kGreater:
      return observed > value;
    case ThresholdOp::kGreaterEqual:
      return observed >= value;
    case ThresholdOp::kEqual:
      return observed == value;
    case ThresholdOp::kNotEqual:
      return observed != value;
  }
  return false;
}

ThresholdExpression ParseThresholdExpression(std::string_view text, std::string_view metric_key) {
  // The operator starts at the first operator character; the longest operator
  // token there wins ("===" before "==", "<=" before "<"). For every valid
  // expression this splits where k6's scanThresholdExpression does.
  const size_t at = text.find_first_of("<>=!");
  if (at == std::string_view::npos) Fail(text, metric_key, kExpectedForm);
  struct OpToken {
    std::string_view text;
    ThresholdOp op;
  };
  static constexpr OpToken kOps[] = {
      {"===", ThresholdOp::kEqual},       {"<=", ThresholdOp::kLessEqual},
      {">=", ThresholdOp::kGreaterEqual}, {"==", ThresholdOp::kEqual},
      {"!=", ThresholdOp::kNotEqual},     {"<", ThresholdOp::kLess},
      {">", ThresholdOp::kGreater},
  };
  const std::string_view rest = text.substr(at);
  const OpToken* token = nullptr;
  for (const OpToken& t : kOps) {
    if (rest.substr(0, t.text.size()) == t.text) {
      token = &t;
      break;
    }
  }
  if (token == nullptr) Fail(text, metric_key, kExpectedForm);

  ThresholdExpression e;
  e.op = token->op;
  const std::string_view lhs = Trim(text.substr(0, at));
  const std::string_view rhs = Trim(rest.substr(token->text.size()));
  if (lhs.empty()) Fail(text, metric_key, kExpectedForm);
  const std::optional<double> value = ParseNumber(rhs);
  if (!value) Fail(text, metric_key, kExpectedForm);
  e.value = *value;

  if (lhs == "avg") {
    e.aggregation = Aggregation::kAvg;
  } else if (lhs == "min") {
    e.aggregation = Aggregation::kMin;
  } else if (lhs == "max") {
    e.aggregation = Aggregation::kMax;
  } else if (lhs == "med") {
    e.aggregation = Aggregation::kMed;
  } else if (lhs == "count") {
    e.aggregation = Aggregation::kCount;
  } else if (lhs == "rate") {
    e.aggregation = Aggregation::kRate;
  } else if (lhs == "value") {
    e.aggregation = Aggregation::kValue;
  } else if (lhs.size() >= 3 && lhs.substr(0, 2) == "p(" && lhs.back() == ')') {
    // stampede: blanks inside p( ) are allowed (k6 refuses `p( 95 )`).
    const std::optional<double> pct = ParseNumber(Trim(lhs.substr(2, lhs.size() - 3)));
    if (!pct || *pct < 0 || *pct > 100) {
      Fail(text, metric_key, "the percentile of p(N) must be a number from 0 to 100, e.g. p(99.9)");
    }
    e.aggregation = Aggregation::kPercentile;
    e.percentile = *pct;
  } else {
    Fail(text, metric_key,
         "unknown aggregation \"" + std::string(lhs) +
             "\"; use avg, min, med, max or p(N) on trends, count or rate on counters, rate on "
             "rates, value on gauges, e.g. p(95)<500");
  }
  return e;
}

bool IsValidAggregation(MetricType type, Aggregation aggregation) {
  switch (type) {
    case MetricType::kCounter:
      return aggregation == Aggregation::kCount || aggregation == Aggregation::kRate;
    case MetricType::kGauge:
      return aggregation == Aggregation::kValue;
    case MetricType::kRate:
      return aggregation == Aggregation::kRate;
    case MetricType::kTrend:
      return aggregation == Aggregation::kAvg || aggregation == Aggregation::kMin ||
             aggregation == Aggregation::kMax || aggregation == Aggregation::kMed ||
             aggregation == Aggregation::kPercentile;
  }
  return false;
}

ThresholdConfig ParseThresholdFlag(std::string_view flag) {
  const std::optional<size_t> colon = FlagColon(flag);
  const std::string_view metric = colon ? Trim(flag.substr(0, *colon)) : std::string_view{};
  const std::string_view expression = colon ? Trim(flag.substr(*colon + 1)) : std::string_view{};
  if (metric.empty() || expression.empty()) {
    throw core::ConfigError("invalid --threshold " + Quote(flag) +
                            ": expected <metric>:<expression>, e.g. "
                            "http_req_duration:p(95)<500 or "
                            "http_req_duration{name:/api}:p(99)<800");
  }
  ThresholdConfig config;
  config.metric = std::string(metric);
  config.source = std::string(expression);
  CheckK6MetricName(config.metric);                        // throws on a bad selector
  ParseMetricSelector(config.metric);
  ParseThresholdExpression(config.source, config.metric);  // throws on a bad expression
  return config;
}

ThresholdSet ThresholdSet::FromJson(const nlohmann::json& thresholds, const Registry* registry) {
  if (!thresholds.is_object()) {
    throw core::ConfigError(
        "invalid thresholds: expected a table mapping metric names to lists of thresholds, e.g. "
        "{http_req_duration = {\"p(95)<500\"}}");
  }
  ThresholdSet set;
  for (const auto& [key, list] : thresholds.items()) {
    const std::string metric_key(Trim(key));
    auto add = [&](const nlohmann::json& item) { set.Add(ConfigFromJson(metric_key, item)); };
    if (list.is_array()) {
      for (const nlohmann::json& item : list) add(item);
    } else if (list.is_object() && list.empty()) {
      // An empty Lua table.
    } else if (list.is_string() || list.is_object()) {
      add(list);
    } else {
      throw core::ConfigError("invalid thresholds on " + metric_key +
                              ": expected a list of thresholds, e.g. {\"p(95)<500\", \"avg<200\"}");
    }
    set.GroupIndex(metric_key);  // k6 accepts an empty list: the key stays known
  }
  if (registry != nullptr) set.Validate(*registry);
  return set;
}

void ThresholdSet::Add(ThresholdConfig config) {
  config.metric = std::string(Trim(config.metric));
  Entry entry{ParseThresholdExpression(config.source, config.metric), config.delay_abort_eval};
  const size_t index = GroupIndex(config.metric);
  ThresholdResult result;
  result.source = std::move(config.source);
  result.abort_on_fail = config.abort_on_fail;
  results_[index].thresholds.push_back(std::move(result));
  groups_[index].entries.push_back(entry);
  validated_ = false;
}

size_t ThresholdSet::GroupIndex(const std::string& metric_key) {
  auto it = std::lower_bound(
      results_.begin(), results_.end(), metric_key,
      [](const MetricThresholdResults& r, const std::string& k) { return r.metric < k; });
  const size_t index = static_cast<size_t>(it - results_.begin());
  if (it == results_.end() || it->metric != metric_key) {
    CheckK6MetricName(metric_key);                              // throws on a bad key
    MetricSelector selector = ParseMetricSelector(metric_key);
    results_.insert(it, MetricThresholdResults{metric_key, {}});
    groups_.insert(groups_.begin() + static_cast<std::ptrdiff_t>(index),
                   Group{std::move(selector), std::nullopt, {}});
    validated_ = false;
  }
  return index;
}

void ThresholdSet::Validate(const Registry& registry) {
  for (size_t i = 0; i < groups_.size(); ++i) {
    Group& group = groups_[i];
    const MetricThresholdResults& results = results_[i];
    const std::optional<MetricId> id = registry.Find(group.selector.metric);
    if (!id) {
      const std::string what = results.thresholds.empty()
                                   ? "invalid thresholds"
                                   : "invalid threshold " + Quote(results.thresholds[0].source);
      throw core::ConfigError(what + " on " + results.metric + ": no metric named " +
                              Quote(group.selector.metric) +
                              "; use a built-in metric such as http_req_duration or one the "
                              "script defines");
    }
    const MetricDef& def = registry.def(*id);
    for (size_t j = 0; j < group.entries.size(); ++j) {
      const Aggregation a = group.entries[j].expression.aggregation;
      if (!IsValidAggregation(def.type, a)) {
        Fail(results.thresholds[j].source, results.metric,
             std::string(AggregationName(a)) + " is not valid on a " +
                 std::string(MetricTypeName(def.type)) + " metric; use " +
                 std::string(SupportedAggregations(def.type)));
      }
    }
    group.def = def;
  }
  validated_ = true;
}

void ThresholdSet::Evaluate(const Snapshot& snapshot, int64_t elapsed_ns, Phase phase) {
  for (size_t i = 0; i < groups_.size(); ++i) {
    const Group& group = groups_[i];
    if (group.entries.empty() || !group.def) continue;
    SeriesValue value;
    if (std::optional<MetricId> id = snapshot.FindMetric(group.selector.metric)) {
      value = group.selector.filter.empty()
                  ? snapshot.Aggregate(*id)
                  : snapshot.Aggregate(*id, std::span<const TagPair>(group.selector.filter));
    }
    value.type = group.def->type;
    value.value_type = group.def->value_type;
    if (phase == Phase::kDuringRun && value.empty()) continue;
    for (size_t j = 0; j < group.entries.size(); ++j) {
      const ThresholdExpression& e = group.entries[j].expression;
      ThresholdResult& r = results_[i].thresholds[j];
      r.evaluated = true;
      r.observed = Observe(e, value, elapsed_ns);
      r.passed = !r.observed || e.Passes(*r.observed);
    }
  }
}

bool ThresholdSet::ShouldAbort(int64_t elapsed_ns) const {
  for (size_t i = 0; i < groups_.size(); ++i) {
    for (size_t j = 0; j < groups_[i].entries.size(); ++j) {
      const ThresholdResult& r = results_[i].thresholds[j];
      if (!r.evaluated || r.passed || !r.abort_on_fail) continue;
      const std::optional<std::chrono::nanoseconds>& delay = groups_[i].entries[j].delay_abort_eval;
      if (!delay || delay->count() < elapsed_ns) return true;
    }
  }
  return false;
}

std::vector<std::string> ThresholdSet::FailedMetrics() const {
  std::vector<std::string> failed;
  for (const MetricThresholdResults& m : results_) {
    const bool any_failed = std::any_of(m.thresholds.begin(), m.thresholds.end(),
                                        [](const ThresholdResult& r) { return !r.passed; });
    if (any_failed) failed.push_back(m.metric);
  }
  return failed;  // results_ is sorted by key
}

}  // namespace stampede::metrics
