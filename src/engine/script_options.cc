#include "engine/script_options.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "core/error.h"
#include "engine/json_text.h"
#include "engine/plan.h"

namespace stampede::engine {
namespace {

using nlohmann::json;

[[noreturn]] void Fail(std::string_view message) {
  throw core::ConfigError(fmt::format("options: {}", message));
}

using json_text::Q;

// A value as the user wrote it, on one line (long ones cut), with its Lua type
// when that helps: `5 (a number)`, `"yes" (a string)`.
std::string Given(const json& v) {
  const std::string s = json_text::Shown(v);
  const char* type = v.is_string()    ? "a string"
                     : v.is_number()  ? "a number"
                     : v.is_boolean() ? "a boolean"
                                      : "a table";
  return fmt::format("{} ({})", s, type);
}

bool Bool(const json& v, std::string_view key) {
  if (!v.is_boolean()) {
    Fail(fmt::format("\"{}\" must be a boolean (true or false), got {}", key, Given(v)));
  }
  return v.get<bool>();
}

std::string String(const json& v, std::string_view key, std::string_view example) {
  if (!v.is_string()) {
    Fail(fmt::format("\"{}\" must be a string such as {}, got {}", key, example, Given(v)));
  }
  return v.get<std::string>();
}

// k6's null.Int options: a whole number in [0, kMaxBatch].
int64_t Limit(const json& v, std::string_view key) {
  bool whole = v.is_number_integer() || (v.is_number_float() && std::isfinite(v.get<double>()) &&
                                         v.get<double>() == std::floor(v.get<double>()));
  if (!whole) {
    Fail(fmt::format("\"{}\" must be a whole number of requests (0: no limit), got {}", key,
                     Given(v)));
  }
  double d = v.get<double>();
  if (d < 0 || d > static_cast<double>(kMaxBatch)) {
    Fail(fmt::format("\"{}\" must be between 0 (no limit) and {}, got {}", key, kMaxBatch,
                     v.dump()));
  }
  return static_cast<int64_t>(d);
}

int64_t Timeout(const json& v, std::string_view key) {
  int64_t ns = ParseOptionDurationNs(v, key);
  if (ns <= 0) {
    Fail(fmt::format("\"{}\" must be more than 0, e.g. \"60s\", got {}", key, v.dump()));
  }
  return ns;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Optimal string alignment distance (Levenshtein plus adjacent swaps),
// ignoring case: "duraton" → "duration" is 1, "VUs" → "vus" is 0.
size_t Distance(std::string_view a_in, std::string_view b_in) {
  std::string a = Lower(a_in), b = Lower(b_in);
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// The name in `names` closest to `key`, if near enough to be a likely typo:
// at most one edit per four characters (at least one).
std::optional<std::string_view> Closest(std::string_view key,
                                        const std::vector<std::string_view>& names) {
  size_t limit = std::max<size_t>(1, key.size() / 4);
  std::optional<std::string_view> best;
  size_t best_distance = limit + 1;
  for (std::string_view name : names) {
    size_t d = Distance(key, name);
    if (d < best_distance) {
      best = name;
      best_distance = d;
    }
  }
  return best;
}

std::string JoinQuoted(const std::vector<std::string>& keys) {
  std::string out;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (i > 0) out += i + 1 == keys.size() ? " and " : ", ";
    out += Q(keys[i]);
  }
  return out;
}

std::string IgnoredWarning(const json& options) {
  std::vector<std::string> unimplemented;
  std::vector<std::string> unknown;  // each with its hint
  for (const auto& [key, value] : options.items()) {
    if (value.is_null()) continue;
    const auto& known = KnownTopLevelOptions();
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    const auto& k6 = IgnoredK6Options();
    if (std::find(k6.begin(), k6.end(), key) != k6.end()) {
      unimplemented.push_back(key);
      continue;
    }
    std::optional<std::string_view> near = Closest(key, known);
    if (!near) near = Closest(key, k6);
    unknown.push_back(near ? fmt::format("{} (did you mean {}?)", Q(key), Q(*near)) : Q(key));
  }
  std::vector<std::string> parts;
  if (!unimplemented.empty()) {
    parts.push_back(fmt::format(
        "{} {} k6 option{} stampede does not implement", JoinQuoted(unimplemented),
        unimplemented.size() == 1 ? "is a" : "are", unimplemented.size() == 1 ? "" : "s"));
  }
  if (!unknown.empty()) {
    std::string list;
    for (size_t i = 0; i < unknown.size(); ++i) {
      if (i > 0) list += i + 1 == unknown.size() ? " and " : ", ";
      list += unknown[i];
    }
    parts.push_back(fmt::format("unknown option{} {}", unknown.size() == 1 ? "" : "s", list));
  }
  if (parts.empty()) return {};
  std::string text = "options ignored: ";
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) text += "; ";
    text += parts[i];
  }
  return text;
}

}  // namespace

const std::vector<std::string_view>& KnownTopLevelOptions() {
  // Sorted. Keep docs/scripting.md's Options table in step.
  static const std::vector<std::string_view> kKnown = {
      "batch",
      "batchPerHost",
      "discardResponseBodies",
      "duration",
      "gracefulStop",
      "insecureSkipTLSVerify",
      "iterations",
      "noConnectionReuse",
      "noVUConnectionReuse",
      "scenarios",
      "setupTimeout",
      "stages",
      "tags",
      "teardownTimeout",
      "thresholds",
      "userAgent",
      "vus",
  };
  return kKnown;
}

const std::vector<std::string_view>& IgnoredK6Options() {
  // k6's lib/options.go (and its cloud/ext blocks), minus what stampede reads.
  static const std::vector<std::string_view> kIgnored = {
      "blacklistIPs",
      "blockHostnames",
      "cloud",
      "consoleOutput",
      "dns",
      "executionSegment",
      "executionSegmentSequence",
      "ext",
      "hosts",
      "httpDebug",
      "localIPs",
      "maxRedirects",
      "metricSamplesBufferSize",
      "minIterationDuration",
      "noCookiesReset",
      "noSetup",
      "noSummary",
      "noTeardown",
      "noThresholds",
      "noUsageReport",
      "paused",
      "rps",
      "summaryTimeUnit",
      "summaryTrendStats",
      "systemTags",
      "throw",
      "tlsAuth",
      "tlsCipherSuites",
      "tlsVersion",
      "vusMax",
  };
  return kIgnored;
}

ScriptOptions ParseScriptOptions(const nlohmann::json& options) {
  ScriptOptions out;
  if (options.is_null()) return out;
  if (!options.is_object()) {
    std::string s = options.dump(-1, ' ', true, json::error_handler_t::replace);
    if (s.size() > 60) s = s.substr(0, 57) + "...";
    Fail(fmt::format("must be a table of option = value, got {}", s));
  }
  auto get = [&](const char* key) -> const json* {
    auto it = options.find(key);
    return it == options.end() || it->is_null() ? nullptr : &*it;
  };
  if (const json* v = get("discardResponseBodies")) {
    out.discard_response_bodies = Bool(*v, "discardResponseBodies");
  }
  if (const json* v = get("insecureSkipTLSVerify")) {
    out.insecure_skip_tls_verify = Bool(*v, "insecureSkipTLSVerify");
  }
  if (const json* v = get("noConnectionReuse")) {
    out.no_connection_reuse = Bool(*v, "noConnectionReuse");
  }
  if (const json* v = get("http2PriorKnowledge")) {
    out.http2_prior_knowledge = Bool(*v, "http2PriorKnowledge");
  }
  if (const json* v = get("noVUConnectionReuse")) {
    out.no_vu_connection_reuse = Bool(*v, "noVUConnectionReuse");
  }
  if (const json* v = get("userAgent")) {
    out.user_agent = String(*v, "userAgent", "\"my-test/1.0\"");
    for (char c : *out.user_agent) {
      if (c == '\r' || c == '\n' || c == '\0') {
        Fail("\"userAgent\" may not contain CR, LF or NUL");
      }
    }
  }
  if (const json* v = get("setupTimeout")) out.setup_timeout_ns = Timeout(*v, "setupTimeout");
  if (const json* v = get("teardownTimeout")) {
    out.teardown_timeout_ns = Timeout(*v, "teardownTimeout");
  }
  if (const json* v = get("batch")) out.batch = Limit(*v, "batch");
  if (const json* v = get("batchPerHost")) out.batch_per_host = Limit(*v, "batchPerHost");
  // The types of the plan's keys are checked by ParsePlan, of `thresholds` by
  // ThresholdSet; `tags` by ParsePlan too.
  out.ignored_warning = IgnoredWarning(options);
  return out;
}

}  // namespace stampede::engine
