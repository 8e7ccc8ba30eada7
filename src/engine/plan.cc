#include "engine/plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <set>
#include <stdexcept>

#include "core/duration.h"
#include "core/error.h"
#include "engine/json_text.h"

namespace stampede::engine {
namespace {

using nlohmann::json;

constexpr int64_t kSecondNs = 1'000'000'000;
constexpr int64_t kMinuteNs = 60 * kSecondNs;
// k6's minDuration for duration / maxDuration (stages may be 0 long).
constexpr int64_t kMinDurationNs = kSecondNs;
// k6's maxConcurrentVUs sanity limit; also keeps VU counts in uint32_t.
constexpr int64_t kMaxVus = 100'000'000;
// Keeps arrival-rate arithmetic (rate * duration) far from overflow.
constexpr int64_t kMaxRate = 1'000'000'000'000;

constexpr std::string_view kDurationHint = "a duration such as \"30s\", \"1m30s\" or 500 (ms)";

// Where a value came from, for the one-line error messages.
struct Where {
  std::string prefix;  // `scenario "browse"` or `options`
};

[[noreturn]] void Fail(const Where& where, std::string_view message) {
  throw core::ConfigError(fmt::format("{}: {}", where.prefix, message));
}

using json_text::Q;
using json_text::Shown;

int64_t JsonWholeNumber(const json& v, const Where& where, std::string_view key) {
  if (v.is_number_integer()) {
    if (v.is_number_unsigned() &&
        v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      Fail(where, fmt::format("\"{}\" is too large: {}", key, Shown(v)));
    }
    return v.get<int64_t>();
  }
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e18) {
      return static_cast<int64_t>(d);
    }
  }
  Fail(where, fmt::format("\"{}\" must be a whole number, got {}", key, Shown(v)));
}

// A count that must be >= 0 (and, for VUs, <= kMaxVus).
int64_t JsonCount(const json& v, const Where& where, std::string_view key, int64_t max) {
  int64_t n = JsonWholeNumber(v, where, key);
  if (n < 0) Fail(where, fmt::format("\"{}\" can't be negative, got {}", key, n));
  if (n > max) Fail(where, fmt::format("\"{}\" is too large: {} (the maximum is {})", key, n, max));
  return n;
}

bool IsPlainNumber(std::string_view s) {
  if (s.empty()) return false;
  bool digit = false;
  for (char c : s) {
    if (c >= '0' && c <= '9') {
      digit = true;
    } else if (c != '.') {
      return false;
    }
  }
  return digit && std::count(s.begin(), s.end(), '.') <= 1;
}

// A k6 duration: a number of milliseconds, or a string (k6's
// ParseExtendedDuration: a bare number is milliseconds, `<n>d` days prefix).
int64_t JsonDurationNs(const json& v, const Where& where, std::string_view key) {
  // core::ParseDuration says `invalid <what> "<text>": <reason>`; prefix it
  // with the scenario like every other message here.
  auto parse = [&](std::string_view text) -> int64_t {
    try {
      return core::ParseDuration(text, key).count();
    } catch (const core::ConfigError& e) {
      Fail(where, e.what());
    }
  };
  if (v.is_number()) {
    double ms = v.get<double>();
    if (!std::isfinite(ms) || ms < 0) {
      Fail(where,
           fmt::format("\"{}\" can't be negative, got {}; use {}", key, Shown(v), kDurationHint));
    }
    if (v.is_number_integer()) {
      int64_t n = JsonWholeNumber(v, where, key);
      if (n > std::numeric_limits<int64_t>::max() / 1'000'000) {
        Fail(where, fmt::format("\"{}\" is too large: {}", key, Shown(v)));
      }
      return n * 1'000'000;
    }
    if (ms * 1e6 >= 9.2e18) Fail(where, fmt::format("\"{}\" is too large: {}", key, Shown(v)));
    return static_cast<int64_t>(std::llround(ms * 1e6));
  }
  if (!v.is_string()) {
    Fail(where, fmt::format("\"{}\" must be {}, got {}", key, kDurationHint, Shown(v)));
  }
  std::string text = v.get<std::string>();
  std::string_view s = text;
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  if (IsPlainNumber(s)) {
    return parse(fmt::format("{}ms", s));
  }
  size_t d = s.find('d');
  if (d == std::string_view::npos) return parse(s);
  std::string_view days_text = s.substr(0, d);
  std::string_view rest = s.substr(d + 1);
  bool digits =
      !days_text.empty() && days_text.size() <= 6 &&
      std::all_of(days_text.begin(), days_text.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits) {
    Fail(where, fmt::format("invalid \"{}\" {}: expected {}", key, Shown(v), kDurationHint));
  }
  int64_t days = std::stoll(std::string(days_text));
  constexpr int64_t kDayNs = 24 * 3600 * kSecondNs;
  if (days > std::numeric_limits<int64_t>::max() / kDayNs) {  // > 106 751 days (fuzzing found it)
    Fail(where, fmt::format("\"{}\" is too large: {}", key, Shown(v)));
  }
  int64_t ns = days * kDayNs;
  if (!rest.empty()) {
    int64_t more = parse(rest);
    if (more > std::numeric_limits<int64_t>::max() - ns) {
      Fail(where, fmt::format("\"{}\" is too large: {}", key, Shown(v)));
    }
    ns += more;
  }
  return ns;
}

std::string JsonString(const json& v, const Where& where, std::string_view key) {
  if (!v.is_string()) Fail(where, fmt::format("\"{}\" must be a string, got {}", key, Shown(v)));
  return v.get<std::string>();
}

std::vector<std::pair<std::string, std::string>> JsonStringMap(const json& v, const Where& where,
                                                               std::string_view key) {
  if (!v.is_object()) {
    Fail(where,
         fmt::format("\"{}\" must be a table of name = \"value\" strings, got {}", key, Shown(v)));
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [k, val] : v.items()) {
    if (!val.is_string()) {
      Fail(where,
           fmt::format("\"{}\": the value of {} must be a string, got {}", key, Q(k), Shown(val)));
    }
    out.emplace_back(k, val.get<std::string>());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// `stages`: a list of {duration, target}. `what_target` says what a target
// is, for messages.
std::vector<Stage> JsonStages(const json& v, const Where& where, int64_t max_target) {
  constexpr std::string_view kForm = "a list of {duration, target}";
  if (!v.is_array()) Fail(where, fmt::format("\"stages\" must be {}, got {}", kForm, Shown(v)));
  std::vector<Stage> stages;
  for (size_t i = 0; i < v.size(); ++i) {
    const json& s = v[i];
    std::string key = fmt::format("stages[{}]", i + 1);
    if (!s.is_object()) {
      Fail(where, fmt::format("\"{}\" must be {{duration, target}}, got {}", key, Shown(s)));
    }
    Stage stage;
    bool has_duration = false;
    bool has_target = false;
    for (const auto& [k, val] : s.items()) {
      if (val.is_null()) continue;
      if (k == "duration") {
        stage.duration_ns = JsonDurationNs(val, where, key + ".duration");
        has_duration = true;
      } else if (k == "target") {
        stage.target = JsonCount(val, where, key + ".target", max_target);
        has_target = true;
      } else {
        Fail(where, fmt::format("\"{}\" has an unknown key {} (a stage has duration and target)",
                                key, Q(k)));
      }
    }
    if (!has_duration) {
      Fail(where,
           fmt::format("\"{}\" needs a \"duration\", e.g. {{duration = \"30s\", target = 10}}",
                       key));
    }
    if (!has_target) {
      Fail(where,
           fmt::format("\"{}\" needs a \"target\", e.g. {{duration = \"30s\", target = 10}}", key));
    }
    stages.push_back(stage);
  }
  return stages;
}

bool ValidScenarioName(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           c == '-';
  });
}

struct ExecutorSpec {
  std::string_view name;
  ExecutorType type;
  std::vector<std::string_view> keys;  // besides the common ones
};

const std::vector<ExecutorSpec>& Specs() {
  static const std::vector<ExecutorSpec> kSpecs = {
      {"shared-iterations", ExecutorType::kSharedIterations, {"vus", "iterations", "maxDuration"}},
      {"per-vu-iterations", ExecutorType::kPerVuIterations, {"vus", "iterations", "maxDuration"}},
      {"constant-vus", ExecutorType::kConstantVus, {"vus", "duration"}},
      {"ramping-vus", ExecutorType::kRampingVus, {"startVUs", "stages", "gracefulRampDown"}},
      {"constant-arrival-rate",
       ExecutorType::kConstantArrivalRate,
       {"rate", "timeUnit", "duration", "preAllocatedVUs", "maxVUs"}},
      {"ramping-arrival-rate",
       ExecutorType::kRampingArrivalRate,
       {"startRate", "timeUnit", "stages", "preAllocatedVUs", "maxVUs"}},
  };
  return kSpecs;
}

constexpr std::string_view kCommonKeys[] = {"executor", "startTime", "gracefulStop",
                                            "exec",     "env",       "tags"};

std::string Join(const std::vector<std::string_view>& parts) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += ", ";
    out += parts[i];
  }
  return out;
}

// Checks the executor-specific rules (k6's Validate()); `where` names the
// scenario. The per-field type and sign checks happened while reading.
void Validate(const Scenario& s, const Where& where, const std::set<std::string>& given) {
  auto need = [&](std::string_view key, std::string_view hint) {
    if (!given.count(std::string(key))) {
      Fail(where, fmt::format("{} needs \"{}\" ({})", ExecutorName(s.type), key, hint));
    }
  };
  auto at_least_1s = [&](std::string_view key, int64_t ns) {
    if (ns < kMinDurationNs) {
      Fail(where, fmt::format("\"{}\" must be at least 1s, got {}", key,
                              core::FormatDuration(std::chrono::nanoseconds(ns))));
    }
  };
  switch (s.type) {
    case ExecutorType::kSharedIterations:
      if (s.vus <= 0) Fail(where, "\"vus\" must be more than 0");
      if (s.iterations < s.vus) {
        Fail(where, fmt::format("\"iterations\" ({}) can't be less than \"vus\" ({}): each VU "
                                "needs at least one iteration; raise iterations or lower vus",
                                s.iterations, s.vus));
      }
      at_least_1s("maxDuration", s.max_duration_ns);
      break;
    case ExecutorType::kPerVuIterations:
      if (s.vus <= 0) Fail(where, "\"vus\" must be more than 0");
      if (s.iterations <= 0) Fail(where, "\"iterations\" must be more than 0");
      at_least_1s("maxDuration", s.max_duration_ns);
      break;
    case ExecutorType::kConstantVus:
      if (s.vus <= 0) Fail(where, "\"vus\" must be more than 0");
      need("duration", "how long the VUs loop, e.g. \"30s\"");
      at_least_1s("duration", s.duration_ns);
      break;
    case ExecutorType::kRampingVus: {
      need("stages", "a list of {duration, target}");
      if (s.stages.empty()) {
        Fail(where, "\"stages\" must have at least one {duration, target} stage");
      }
      int64_t peak = s.start_vus;
      for (const Stage& st : s.stages) peak = std::max(peak, st.target);
      if (peak <= 0) {
        Fail(where, "either \"startVUs\" or one of the stages' targets must be more than 0");
      }
      break;
    }
    case ExecutorType::kConstantArrivalRate:
      need("rate", "iterations to start per timeUnit, e.g. 100");
      if (s.rate <= 0) Fail(where, "\"rate\" must be more than 0");
      need("duration", "how long to keep starting iterations, e.g. \"30s\"");
      at_least_1s("duration", s.duration_ns);
      [[fallthrough]];
    case ExecutorType::kRampingArrivalRate:
      if (s.type == ExecutorType::kRampingArrivalRate) {
        need("stages", "a list of {duration, target} with target in iterations per timeUnit");
        if (s.stages.empty()) {
          Fail(where, "\"stages\" must have at least one {duration, target} stage");
        }
      }
      if (s.time_unit_ns <= 0) Fail(where, "\"timeUnit\" must be more than 0, e.g. \"1s\"");
      need("preAllocatedVUs", "how many VUs to initialize before the test, e.g. 10");
      if (s.max_vus < s.pre_allocated_vus) {
        Fail(where, fmt::format("\"maxVUs\" ({}) can't be less than \"preAllocatedVUs\" ({})",
                                s.max_vus, s.pre_allocated_vus));
      }
      if (s.max_vus == 0) {
        Fail(where, "needs at least one VU: set \"preAllocatedVUs\" (or \"maxVUs\") above 0");
      }
      break;
  }
}

Scenario ParseScenario(const std::string& name, const json& config) {
  Where where{fmt::format("scenario {}", Q(name))};
  if (!ValidScenarioName(name)) {
    Fail(where, "invalid name: use only latin letters, digits, underscores and dashes");
  }
  if (!config.is_object()) {
    Fail(where, fmt::format("must be a table with an \"executor\", got {}", Shown(config)));
  }
  std::vector<std::string_view> executor_names;
  for (const ExecutorSpec& spec : Specs()) executor_names.push_back(spec.name);
  auto executor_it = config.find("executor");
  if (executor_it == config.end() || executor_it->is_null()) {
    Fail(where, fmt::format("needs an \"executor\" (one of {})", Join(executor_names)));
  }
  if (!executor_it->is_string()) {
    Fail(where, fmt::format("\"executor\" must be one of {}, got {}", Join(executor_names),
                            Shown(*executor_it)));
  }
  std::string executor = executor_it->get<std::string>();
  const ExecutorSpec* spec = nullptr;
  for (const ExecutorSpec& candidate : Specs()) {
    if (candidate.name == executor) spec = &candidate;
  }
  if (spec == nullptr) {
    std::string_view extra =
        executor == "externally-controlled" ? " (externally-controlled is not supported)" : "";
    Fail(where, fmt::format("unknown executor {}{}; use one of {}", Q(executor), extra,
                            Join(executor_names)));
  }

  Scenario s;
  s.name = name;
  s.type = spec->type;
  switch (s.type) {
    case ExecutorType::kSharedIterations:
    case ExecutorType::kPerVuIterations:
      s.vus = 1;
      s.iterations = 1;
      s.max_duration_ns = 10 * kMinuteNs;
      break;
    case ExecutorType::kConstantVus:
      s.vus = 1;
      break;
    case ExecutorType::kRampingVus:
      s.start_vus = 1;
      break;
    case ExecutorType::kConstantArrivalRate:
    case ExecutorType::kRampingArrivalRate:
      break;
  }

  std::set<std::string> given;
  bool max_vus_given = false;
  for (const auto& [key, value] : config.items()) {
    bool known =
        std::find(std::begin(kCommonKeys), std::end(kCommonKeys), key) != std::end(kCommonKeys) ||
        std::find(spec->keys.begin(), spec->keys.end(), key) != spec->keys.end();
    if (!known) {
      std::vector<std::string_view> allowed(std::begin(kCommonKeys) + 1, std::end(kCommonKeys));
      allowed.insert(allowed.begin(), spec->keys.begin(), spec->keys.end());
      Fail(where, fmt::format("unknown option {} for {}; its options are {}", Q(key), spec->name,
                              Join(allowed)));
    }
    if (value.is_null() || key == "executor") continue;
    given.insert(key);
    if (key == "startTime") {
      s.start_time_ns = JsonDurationNs(value, where, key);
    } else if (key == "gracefulStop") {
      s.graceful_stop_ns = JsonDurationNs(value, where, key);
    } else if (key == "exec") {
      s.exec = JsonString(value, where, key);
      if (s.exec.empty()) Fail(where, "\"exec\" can't be empty: name the function to run");
    } else if (key == "env") {
      s.env = JsonStringMap(value, where, key);
    } else if (key == "tags") {
      s.tags = JsonStringMap(value, where, key);
    } else if (key == "vus") {
      s.vus = JsonCount(value, where, key, kMaxVus);
    } else if (key == "iterations") {
      s.iterations = JsonCount(value, where, key, std::numeric_limits<int64_t>::max());
    } else if (key == "maxDuration") {
      s.max_duration_ns = JsonDurationNs(value, where, key);
    } else if (key == "duration") {
      s.duration_ns = JsonDurationNs(value, where, key);
    } else if (key == "startVUs") {
      s.start_vus = JsonCount(value, where, key, kMaxVus);
    } else if (key == "gracefulRampDown") {
      s.graceful_ramp_down_ns = JsonDurationNs(value, where, key);
    } else if (key == "stages") {
      s.stages = JsonStages(value, where, s.type == ExecutorType::kRampingVus ? kMaxVus : kMaxRate);
    } else if (key == "rate") {
      s.rate = JsonCount(value, where, key, kMaxRate);
    } else if (key == "startRate") {
      s.start_rate = JsonCount(value, where, key, kMaxRate);
    } else if (key == "timeUnit") {
      s.time_unit_ns = JsonDurationNs(value, where, key);
    } else if (key == "preAllocatedVUs") {
      s.pre_allocated_vus = JsonCount(value, where, key, kMaxVus);
    } else if (key == "maxVUs") {
      s.max_vus = JsonCount(value, where, key, kMaxVus);
      max_vus_given = true;
    }
  }
  if (!max_vus_given) s.max_vus = s.pre_allocated_vus;
  Validate(s, where, given);
  return s;
}

// The script's shortcut options after the CLI overrides (k6 Options.Apply).
struct Shortcuts {
  std::optional<int64_t> vus;
  std::optional<int64_t> duration_ns;
  std::optional<int64_t> iterations;
  std::optional<std::vector<Stage>> stages;  // set, possibly empty
  const json* scenarios = nullptr;           // set (possibly empty), or null
  std::optional<int64_t> graceful_stop_ns;
};

Shortcuts ReadShortcuts(const json& options, const PlanOverrides& cli) {
  Where where{"options"};
  Shortcuts sc;
  if (!options.is_null()) {
    if (!options.is_object()) Fail(where, fmt::format("must be a table, got {}", Shown(options)));
    auto get = [&](const char* key) -> const json* {
      auto it = options.find(key);
      return it == options.end() || it->is_null() ? nullptr : &*it;
    };
    if (const json* v = get("vus")) sc.vus = JsonCount(*v, where, "vus", kMaxVus);
    if (const json* v = get("duration")) sc.duration_ns = JsonDurationNs(*v, where, "duration");
    if (const json* v = get("iterations")) {
      sc.iterations = JsonCount(*v, where, "iterations", std::numeric_limits<int64_t>::max());
    }
    if (const json* v = get("stages")) sc.stages = JsonStages(*v, where, kMaxVus);
    if (const json* v = get("scenarios")) {
      if (!v->is_object()) {
        Fail(where,
             fmt::format("\"scenarios\" must be a table of name = {{executor = ...}}, got {}",
                         Shown(*v)));
      }
      sc.scenarios = v;
    }
    if (const json* v = get("gracefulStop")) {
      sc.graceful_stop_ns = JsonDurationNs(*v, where, "gracefulStop");
    }
  }
  Where cli_where{"command line"};
  if (cli.vus) {
    if (*cli.vus < 0 || *cli.vus > kMaxVus) {
      Fail(cli_where, fmt::format("--vus must be between 0 and {}, got {}", kMaxVus, *cli.vus));
    }
    sc.vus = cli.vus;
  }
  if (cli.duration_ns || cli.iterations || cli.stages) {
    sc.duration_ns.reset();
    sc.iterations.reset();
    sc.stages.reset();
    sc.scenarios = nullptr;
    if (cli.duration_ns) {
      if (*cli.duration_ns < 0) Fail(cli_where, "--duration can't be negative");
      sc.duration_ns = cli.duration_ns;
    }
    if (cli.iterations) {
      if (*cli.iterations < 0) Fail(cli_where, "--iterations can't be negative");
      sc.iterations = cli.iterations;
    }
    if (cli.stages) {
      for (const Stage& st : *cli.stages) {
        if (st.duration_ns < 0 || st.target < 0 || st.target > kMaxVus) {
          Fail(cli_where, "--stage needs a non-negative duration and target");
        }
      }
      sc.stages = cli.stages;
    }
  }
  return sc;
}

Scenario DefaultScenario(ExecutorType type) {
  Scenario s;
  s.name = "default";
  s.type = type;
  return s;
}

// k6's DeriveScenariosFromShortcuts, then validation of what it derived.
std::vector<Scenario> DeriveScenarios(const Shortcuts& sc) {
  Where where{"options"};
  bool has_stages = sc.stages && !sc.stages->empty();
  std::vector<Scenario> out;
  std::optional<Scenario> derived;
  std::set<std::string> given;
  if (sc.iterations) {
    if (has_stages) {
      Fail(where,
           "using \"iterations\" and \"stages\" together is not allowed; keep one, or "
           "use \"scenarios\"");
    }
    if (sc.scenarios) {
      Fail(where,
           "using \"iterations\" and \"scenarios\" together is not allowed; set "
           "iterations inside a scenario");
    }
    Scenario s = DefaultScenario(ExecutorType::kSharedIterations);
    s.vus = sc.vus.value_or(1);
    s.iterations = *sc.iterations;
    s.max_duration_ns = sc.duration_ns.value_or(10 * kMinuteNs);
    derived = s;
  } else if (sc.duration_ns) {
    if (has_stages) {
      Fail(where,
           "using \"duration\" and \"stages\" together is not allowed; the stages "
           "already set the duration");
    }
    if (sc.scenarios) {
      Fail(where,
           "using \"duration\" and \"scenarios\" together is not allowed; set duration "
           "inside a scenario");
    }
    if (*sc.duration_ns <= 0) Fail(where, "\"duration\" must be more than 0, e.g. \"30s\"");
    Scenario s = DefaultScenario(ExecutorType::kConstantVus);
    s.vus = sc.vus.value_or(1);
    s.duration_ns = *sc.duration_ns;
    given.insert("duration");
    derived = s;
  } else if (has_stages) {
    if (sc.scenarios) {
      Fail(where,
           "using \"stages\" and \"scenarios\" together is not allowed; use a "
           "ramping-vus scenario with stages");
    }
    Scenario s = DefaultScenario(ExecutorType::kRampingVus);
    s.start_vus = sc.vus.value_or(1);
    s.stages = *sc.stages;
    given.insert("stages");
    derived = s;
  } else if (sc.vus && sc.scenarios == nullptr) {
    Scenario s = DefaultScenario(ExecutorType::kSharedIterations);
    s.vus = *sc.vus;
    s.iterations = *sc.vus;
    s.max_duration_ns = 10 * kMinuteNs;
    derived = s;
  } else if (sc.scenarios && !sc.scenarios->empty()) {
    for (const auto& [name, config] : sc.scenarios->items()) {
      out.push_back(ParseScenario(name, config));
    }
    return out;
  } else {
    Scenario s = DefaultScenario(ExecutorType::kPerVuIterations);
    s.vus = 1;
    s.iterations = 1;
    s.max_duration_ns = 10 * kMinuteNs;
    derived = s;
  }
  if (sc.graceful_stop_ns) derived->graceful_stop_ns = *sc.graceful_stop_ns;
  Validate(*derived, where, given);
  out.push_back(*derived);
  return out;
}

// Share of `total` things striped over `n` owners: owner i gets the numbers
// u < total with u % n == i. (Arithmetic, so no Stripe is built for it.)
int64_t StripedShare(int64_t total, uint32_t i, uint32_t n) {
  if (total <= 0 || static_cast<int64_t>(i) >= total) return 0;
  return (total - static_cast<int64_t>(i) - 1) / static_cast<int64_t>(n) + 1;
}

}  // namespace

// ---------------------------------------------------------------------------
// Stripe

Stripe::Stripe(uint64_t offset, uint64_t stride) : period_(stride) {
  if (stride == 0) return;  // owns nothing, whatever the offset
  if (offset >= stride) {
    throw std::invalid_argument(
        fmt::format("Stripe: offset {} is not below the stride {}", offset, stride));
  }
  residues_.assign(1, offset);  // one residue: already canonical
}

Stripe Stripe::FromResidues(uint64_t period, std::vector<uint64_t> residues) {
  std::sort(residues.begin(), residues.end());
  if (std::adjacent_find(residues.begin(), residues.end()) != residues.end()) {
    throw std::invalid_argument("Stripe: duplicate residues");
  }
  if (!residues.empty() && residues.back() >= period) {
    throw std::invalid_argument(
        fmt::format("Stripe: residue {} is not below the period {}", residues.back(), period));
  }
  Stripe out;
  out.period_ = residues.empty() ? 0 : period;
  out.residues_ = std::move(residues);
  out.Canonicalize();
  return out;
}

void Stripe::Canonicalize() {
  if (period_ <= 1) return;
  // The set repeats every p = period / q numbers only if its m residues fall
  // into q equal copies, so q divides gcd(m, period). Try the largest q
  // (smallest p) first: the copies must be the first m / q residues shifted
  // by multiples of p.
  const uint64_t m = residues_.size();
  const uint64_t g = std::gcd(m, period_);
  std::vector<uint64_t> divisors;
  for (uint64_t d = 1; d * d <= g; ++d) {
    if (g % d != 0) continue;
    divisors.push_back(d);
    if (d * d != g) divisors.push_back(g / d);
  }
  std::sort(divisors.rbegin(), divisors.rend());
  for (uint64_t q : divisors) {
    if (q == 1) return;
    const uint64_t p = period_ / q;
    const uint64_t per_copy = m / q;
    bool periodic = true;
    for (uint64_t i = per_copy; i < m && periodic; ++i) {
      periodic = residues_[i] == residues_[i - per_copy] + p;
    }
    if (periodic) {
      residues_.resize(per_copy);
      period_ = p;
      return;
    }
  }
}

bool Stripe::Owns(uint64_t k) const {
  if (period_ == 0) return false;
  return std::binary_search(residues_.begin(), residues_.end(), k % period_);
}

uint64_t Stripe::CountBelow(uint64_t n) const {
  if (period_ == 0) return 0;
  const uint64_t partial = static_cast<uint64_t>(
      std::lower_bound(residues_.begin(), residues_.end(), n % period_) - residues_.begin());
  return n / period_ * residues_.size() + partial;
}

uint64_t Stripe::Global(uint64_t local) const {
  if (residues_.empty()) return std::numeric_limits<uint64_t>::max();
  const uint64_t m = residues_.size();
  return local / m * period_ + residues_[local % m];
}

std::optional<uint64_t> Stripe::FirstAtOrAbove(uint64_t x) const {
  if (period_ == 0) return std::nullopt;
  const unsigned __int128 base = static_cast<unsigned __int128>(x / period_) * period_;
  auto it = std::lower_bound(residues_.begin(), residues_.end(), x % period_);
  const unsigned __int128 v =
      it != residues_.end() ? base + *it : base + period_ + residues_.front();
  if (v > std::numeric_limits<uint64_t>::max()) return std::nullopt;
  return static_cast<uint64_t>(v);
}

std::optional<uint64_t> Stripe::LastAtOrBelow(uint64_t y) const {
  if (period_ == 0) return std::nullopt;
  const uint64_t q = y / period_;
  auto it = std::upper_bound(residues_.begin(), residues_.end(), y % period_);
  if (it != residues_.begin()) return q * period_ + *std::prev(it);
  if (q == 0) return std::nullopt;
  return (q - 1) * period_ + residues_.back();
}

Stripe Compose(const Stripe& outer, uint64_t W, uint64_t w) {
  if (W == 0 || w >= W) {
    throw std::invalid_argument(fmt::format("Compose: part {} is not in 0 .. {}", w, W));
  }
  if (W == 1 || outer.Empty()) return outer;
  // Member index i (0-based) of outer is cycle i / m, residue i % m. The
  // pattern of "i % W == w" repeats when the index has advanced by a
  // multiple of both m and W: every W / gcd(m, W) cycles of outer.
  const std::vector<uint64_t>& res = outer.residues();
  const uint64_t m = res.size();
  const uint64_t cycles = W / std::gcd(m, W);
  const unsigned __int128 period = static_cast<unsigned __int128>(outer.period()) * cycles;
  if (period > std::numeric_limits<uint64_t>::max()) {
    throw std::invalid_argument("Compose: the period overflows");
  }
  std::vector<uint64_t> mine;
  mine.reserve(m * cycles / W);
  for (uint64_t i = w; i < m * cycles; i += W) {
    mine.push_back(i / m * outer.period() + res[i % m]);
  }
  return Stripe::FromResidues(static_cast<uint64_t>(period), std::move(mine));
}

// ---------------------------------------------------------------------------
// Scenario, Plan

std::string_view ExecutorName(ExecutorType type) {
  for (const ExecutorSpec& spec : Specs()) {
    if (spec.type == type) return spec.name;
  }
  return "unknown";
}

int64_t Scenario::RegularDurationNs() const {
  switch (type) {
    case ExecutorType::kSharedIterations:
    case ExecutorType::kPerVuIterations:
      return max_duration_ns;
    case ExecutorType::kConstantVus:
    case ExecutorType::kConstantArrivalRate:
      return duration_ns;
    case ExecutorType::kRampingVus:
    case ExecutorType::kRampingArrivalRate: {
      int64_t sum = 0;
      for (const Stage& st : stages) sum += st.duration_ns;
      return sum;
    }
  }
  return 0;
}

int64_t Scenario::PeakVus() const {
  switch (type) {
    case ExecutorType::kSharedIterations:
    case ExecutorType::kPerVuIterations:
    case ExecutorType::kConstantVus:
      return vus;
    case ExecutorType::kRampingVus: {
      int64_t peak = start_vus;
      for (const Stage& st : stages) peak = std::max(peak, st.target);
      return static_cast<int64_t>(stripe.CountBelow(static_cast<uint64_t>(peak)));
    }
    case ExecutorType::kConstantArrivalRate:
    case ExecutorType::kRampingArrivalRate:
      return max_vus;
  }
  return 0;
}

bool Scenario::HasWork() const {
  switch (type) {
    case ExecutorType::kSharedIterations:
    case ExecutorType::kPerVuIterations:
      return vus > 0 && iterations > 0;
    case ExecutorType::kConstantVus:
    case ExecutorType::kRampingVus:
      return PeakVus() > 0;
    case ExecutorType::kConstantArrivalRate:
    case ExecutorType::kRampingArrivalRate:
      return max_vus > 0 && !stripe.Empty();
  }
  return false;
}

int64_t Plan::TotalDurationNs() const {
  int64_t total = 0;
  for (const Scenario& s : scenarios) total = std::max(total, s.EndNs());
  return total;
}

uint32_t Plan::MaxVus() const {
  // Sweep the scenarios' [start, end) intervals; ends sort before starts at
  // the same instant, since a finished scenario's VUs can be reused.
  std::vector<std::pair<int64_t, int64_t>> events;  // (time, +/- vus)
  for (const Scenario& s : scenarios) {
    int64_t vus = s.PeakVus();
    if (vus == 0) continue;
    events.emplace_back(s.start_time_ns, vus);
    events.emplace_back(s.EndNs(), -vus);
  }
  std::sort(events.begin(), events.end());
  int64_t current = 0;
  int64_t peak = 0;
  for (const auto& [time, delta] : events) {
    current += delta;
    peak = std::max(peak, current);
  }
  return static_cast<uint32_t>(std::min<int64_t>(peak, std::numeric_limits<uint32_t>::max()));
}

Stage ParseStageFlag(std::string_view text) {
  constexpr std::string_view kHint = "expected <duration>:<target VUs>, e.g. 30s:50";
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    throw core::ConfigError(fmt::format("invalid --stage \"{}\": {}", text, kHint));
  }
  Stage stage;
  stage.duration_ns = core::ParseDuration(text.substr(0, colon), "--stage duration").count();
  std::string_view target = text.substr(colon + 1);
  if (target.empty() || target.size() > 9 ||
      !std::all_of(target.begin(), target.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    throw core::ConfigError(fmt::format("invalid --stage \"{}\": {}", text, kHint));
  }
  stage.target = std::stoll(std::string(target));
  if (stage.target > kMaxVus) {
    throw core::ConfigError(
        fmt::format("invalid --stage \"{}\": the target is above {} VUs", text, kMaxVus));
  }
  return stage;
}

int64_t ParseOptionDurationNs(const nlohmann::json& value, std::string_view key) {
  return JsonDurationNs(value, Where{"options"}, key);
}

Plan ParsePlan(const nlohmann::json& options, const PlanOverrides& cli) {
  Plan plan;
  Shortcuts shortcuts = ReadShortcuts(options, cli);
  plan.scenarios = DeriveScenarios(shortcuts);
  std::stable_sort(plan.scenarios.begin(), plan.scenarios.end(),
                   [](const Scenario& a, const Scenario& b) {
                     if (a.start_time_ns != b.start_time_ns) {
                       return a.start_time_ns < b.start_time_ns;
                     }
                     return a.name < b.name;
                   });
  if (options.is_object()) {
    auto tags = options.find("tags");
    if (tags != options.end() && !tags->is_null()) {
      plan.tags = JsonStringMap(*tags, Where{"options"}, "tags");
    }
  }
  return plan;
}

Plan SegmentFor(const Plan& whole, uint32_t worker, uint32_t workers) {
  if (workers == 0 || worker >= workers) {
    throw std::invalid_argument(
        fmt::format("SegmentFor: worker {} is not in 0 .. {}", worker, workers));
  }
  if (whole.part == PlanPart::kWorker) {
    throw std::invalid_argument("SegmentFor: the plan is already a worker's share");
  }
  // `whole` is the test or an instance's share of it; either way its counts
  // are what the workers split, and its stripes number the members they
  // deal round-robin (Compose), which keeps
  // vu_stripe.CountBelow(total) == StripedShare(whole count).
  Plan share = whole;
  share.part = PlanPart::kWorker;
  for (Scenario& s : share.scenarios) {
    s.vu_stripe = Compose(s.vu_stripe, workers, worker);
    switch (s.type) {
      case ExecutorType::kSharedIterations: {
        // Iteration k runs on VU k % vus; VU u lives on worker u % workers.
        int64_t my_vus = StripedShare(s.vus, worker, workers);
        if (s.vus > 0) {
          int64_t full_rounds = s.iterations / s.vus;
          int64_t remainder = s.iterations % s.vus;
          s.iterations = full_rounds * my_vus + StripedShare(remainder, worker, workers);
        } else {
          s.iterations = 0;  // an instance with no VU of this scenario
        }
        s.vus = my_vus;
        break;
      }
      case ExecutorType::kPerVuIterations:
      case ExecutorType::kConstantVus:
        s.vus = StripedShare(s.vus, worker, workers);
        break;
      case ExecutorType::kRampingVus:
        s.stripe = Compose(s.stripe, workers, worker);
        break;
      case ExecutorType::kConstantArrivalRate:
      case ExecutorType::kRampingArrivalRate: {
        uint64_t owners = std::min<uint64_t>(workers, static_cast<uint64_t>(s.max_vus));
        s.stripe = worker < owners ? Compose(s.stripe, owners, worker) : Stripe::None();
        s.pre_allocated_vus = StripedShare(s.pre_allocated_vus, worker, workers);
        s.max_vus = StripedShare(s.max_vus, worker, workers);
        break;
      }
    }
  }
  return share;
}

}  // namespace stampede::engine
