#include "engine/plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>

#include "core/error.h"

namespace stampede::engine {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kS = 1'000'000'000;
constexpr int64_t kMin = 60 * kS;

Plan P(std::string_view json_text, const PlanOverrides& cli = {}) {
  return ParsePlan(nlohmann::json::parse(json_text), cli);
}

std::string Err(std::string_view json_text, const PlanOverrides& cli = {}) {
  try {
    P(json_text, cli);
  } catch (const core::ConfigError& e) {
    EXPECT_EQ(e.code(), core::ExitCode::kInvalidConfig);
    return e.what();
  }
  return "<no error>";
}

// An error message must be one line.
auto OneLine() { return Not(HasSubstr("\n")); }

Scenario Only(const Plan& plan) {
  EXPECT_EQ(plan.scenarios.size(), 1u);
  return plan.scenarios.at(0);
}

// ---------------------------------------------------------------------------
// Shortcuts (k6 DeriveScenariosFromShortcuts)

TEST(ShortcutsTest, NothingIsOneVuOneIteration) {
  for (const char* text : {"{}", "null", R"({"stages": []})", R"({"scenarios": {}})"}) {
    Scenario s = Only(P(text));
    EXPECT_EQ(s.name, "default") << text;
    EXPECT_EQ(s.type, ExecutorType::kPerVuIterations) << text;
    EXPECT_EQ(s.vus, 1);
    EXPECT_EQ(s.iterations, 1);
    EXPECT_EQ(s.max_duration_ns, 10 * kMin);
    EXPECT_EQ(s.graceful_stop_ns, 30 * kS);
    EXPECT_EQ(s.exec, "default");
    EXPECT_EQ(s.start_time_ns, 0);
  }
}

TEST(ShortcutsTest, IterationsOnlyIsSharedIterations) {
  Scenario s = Only(P(R"({"iterations": 10})"));
  EXPECT_EQ(s.type, ExecutorType::kSharedIterations);
  EXPECT_EQ(s.vus, 1);
  EXPECT_EQ(s.iterations, 10);
  EXPECT_EQ(s.max_duration_ns, 10 * kMin);
}

TEST(ShortcutsTest, IterationsWithDurationBoundsTheIterations) {
  Scenario s = Only(P(R"({"iterations": 10, "vus": 2, "duration": "30s"})"));
  EXPECT_EQ(s.type, ExecutorType::kSharedIterations);
  EXPECT_EQ(s.vus, 2);
  EXPECT_EQ(s.iterations, 10);
  EXPECT_EQ(s.max_duration_ns, 30 * kS);
}

TEST(ShortcutsTest, DurationIsConstantVus) {
  Scenario s = Only(P(R"({"duration": "30s"})"));
  EXPECT_EQ(s.type, ExecutorType::kConstantVus);
  EXPECT_EQ(s.vus, 1);
  EXPECT_EQ(s.duration_ns, 30 * kS);

  Scenario t = Only(P(R"({"duration": "1m", "vus": 5})"));
  EXPECT_EQ(t.vus, 5);
  EXPECT_EQ(t.duration_ns, kMin);
  EXPECT_EQ(t.RegularDurationNs(), kMin);
}

TEST(ShortcutsTest, StagesAreRampingVusStartingAtVus) {
  Scenario s =
      Only(P(R"({"stages": [{"duration": "10s", "target": 5}, {"duration": "1m", "target": 0}]})"));
  EXPECT_EQ(s.type, ExecutorType::kRampingVus);
  EXPECT_EQ(s.start_vus, 1);  // k6: startVUs = vus, whose default is 1
  ASSERT_EQ(s.stages.size(), 2u);
  EXPECT_EQ(s.stages[0], (Stage{10 * kS, 5}));
  EXPECT_EQ(s.stages[1], (Stage{kMin, 0}));
  EXPECT_EQ(s.graceful_ramp_down_ns, 30 * kS);
  EXPECT_EQ(s.RegularDurationNs(), 70 * kS);

  Scenario t = Only(P(R"({"vus": 3, "stages": [{"duration": "10s", "target": 5}]})"));
  EXPECT_EQ(t.start_vus, 3);
}

TEST(ShortcutsTest, VusOnlyRunsOneIterationPerVu) {
  Scenario s = Only(P(R"({"vus": 5})"));
  EXPECT_EQ(s.type, ExecutorType::kSharedIterations);
  EXPECT_EQ(s.vus, 5);
  EXPECT_EQ(s.iterations, 5);
}

TEST(ShortcutsTest, TopLevelGracefulStopAppliesToTheDerivedScenario) {
  EXPECT_EQ(Only(P(R"({"duration": "10s", "gracefulStop": "5s"})")).graceful_stop_ns, 5 * kS);
}

TEST(ShortcutsTest, ConflictsAreErrors) {
  const std::string scenarios =
      R"("scenarios": {"a": {"executor": "constant-vus", "duration": "1s"}})";
  EXPECT_THAT(Err(R"({"iterations": 5, "stages": [{"duration": "1s", "target": 1}]})"),
              AllOf(HasSubstr("\"iterations\" and \"stages\""), OneLine()));
  EXPECT_THAT(Err(R"({"iterations": 5, )" + scenarios + "}"),
              AllOf(HasSubstr("\"iterations\" and \"scenarios\""), OneLine()));
  EXPECT_THAT(Err(R"({"duration": "5s", "stages": [{"duration": "1s", "target": 1}]})"),
              AllOf(HasSubstr("\"duration\" and \"stages\""), OneLine()));
  EXPECT_THAT(Err(R"({"duration": "5s", )" + scenarios + "}"),
              AllOf(HasSubstr("\"duration\" and \"scenarios\""), OneLine()));
  EXPECT_THAT(Err(R"({"stages": [{"duration": "1s", "target": 1}], )" + scenarios + "}"),
              AllOf(HasSubstr("\"stages\" and \"scenarios\""), OneLine()));
  EXPECT_THAT(Err(R"({"duration": 0})"), HasSubstr("\"duration\" must be more than 0"));
  EXPECT_THAT(
      Err(R"({"iterations": 2, "vus": 3})"),
      AllOf(HasSubstr("options:"), HasSubstr("\"iterations\" (2)"), HasSubstr("\"vus\" (3)")));
}

TEST(ShortcutsTest, VusWithScenariosKeepsTheScenarios) {
  Plan plan = P(R"({"vus": 7, "scenarios": {"a": {"executor": "per-vu-iterations"}}})");
  EXPECT_EQ(Only(plan).name, "a");
  EXPECT_EQ(Only(plan).vus, 1);
}

// ---------------------------------------------------------------------------
// CLI overrides (k6 Options.Apply: CLI > script)

TEST(OverridesTest, CliDurationReplacesScriptScenarios) {
  PlanOverrides cli;
  cli.duration_ns = 20 * kS;
  Scenario s = Only(P(R"({"scenarios": {"a": {"executor": "per-vu-iterations", "vus": 9}}})", cli));
  EXPECT_EQ(s.name, "default");
  EXPECT_EQ(s.type, ExecutorType::kConstantVus);
  EXPECT_EQ(s.duration_ns, 20 * kS);
}

TEST(OverridesTest, CliIterationsDropTheScriptDuration) {
  PlanOverrides cli;
  cli.iterations = 4;
  Scenario s = Only(P(R"({"duration": "30s", "vus": 2})", cli));
  EXPECT_EQ(s.type, ExecutorType::kSharedIterations);
  EXPECT_EQ(s.vus, 2);  // vus is not a shortcut: the script's stays
  EXPECT_EQ(s.iterations, 4);
  EXPECT_EQ(s.max_duration_ns, 10 * kMin);
}

TEST(OverridesTest, CliVusOnlyReplacesVus) {
  PlanOverrides cli;
  cli.vus = 12;
  Scenario s = Only(P(R"({"duration": "30s", "vus": 2})", cli));
  EXPECT_EQ(s.type, ExecutorType::kConstantVus);
  EXPECT_EQ(s.vus, 12);
  EXPECT_EQ(s.duration_ns, 30 * kS);
}

TEST(OverridesTest, CliStagesReplaceScriptScenarios) {
  PlanOverrides cli;
  cli.stages = std::vector<Stage>{ParseStageFlag("30s:50"), ParseStageFlag("1m:0")};
  Scenario s =
      Only(P(R"({"scenarios": {"a": {"executor": "constant-vus", "duration": "5s"}}})", cli));
  EXPECT_EQ(s.type, ExecutorType::kRampingVus);
  EXPECT_EQ(s.stages, (std::vector<Stage>{{30 * kS, 50}, {kMin, 0}}));
}

TEST(OverridesTest, CliDurationAndIterationsTogether) {
  PlanOverrides cli;
  cli.duration_ns = 5 * kS;
  cli.iterations = 100;
  Scenario s = Only(P(R"({"stages": [{"duration": "1s", "target": 3}]})", cli));
  EXPECT_EQ(s.type, ExecutorType::kSharedIterations);
  EXPECT_EQ(s.max_duration_ns, 5 * kS);
}

TEST(OverridesTest, ParseStageFlag) {
  EXPECT_EQ(ParseStageFlag("30s:50"), (Stage{30 * kS, 50}));
  EXPECT_EQ(ParseStageFlag("1m30s:0"), (Stage{90 * kS, 0}));
  for (const char* bad : {"30s", "30s:", "30s:x", ":5", "30s:-1", "abc:5"}) {
    try {
      ParseStageFlag(bad);
      ADD_FAILURE() << bad;
    } catch (const core::ConfigError& e) {
      EXPECT_THAT(e.what(), AllOf(HasSubstr("--stage"), OneLine())) << bad;
    }
  }
}

// ---------------------------------------------------------------------------
// Durations as k6 reads JSON options

TEST(DurationsTest, StringsNumbersAndDays) {
  auto dur = [](const char* value) {
    return Only(P(std::string(R"({"duration": )") + value + "}")).duration_ns;
  };
  EXPECT_EQ(dur(R"("1m30s")"), 90 * kS);
  EXPECT_EQ(dur(R"("1.5s")"), 1500 * kMs);
  EXPECT_EQ(dur("1500"), 1500 * kMs);  // a number is milliseconds
  EXPECT_EQ(dur("2500.5"), 2500 * kMs + 500'000);
  EXPECT_EQ(dur(R"("1500")"), 1500 * kMs);  // so is a unitless string
  EXPECT_EQ(dur(R"("1d")"), 24 * 3600 * kS);
  EXPECT_EQ(dur(R"("1d12h")"), 36 * 3600 * kS);
  EXPECT_THAT(Err(R"({"duration": "10q"})"),
              AllOf(HasSubstr("options: invalid duration \"10q\""), OneLine()));
  EXPECT_THAT(Err(R"({"duration": true})"), AllOf(HasSubstr("\"duration\""), OneLine()));
  EXPECT_THAT(Err(R"({"duration": -5})"), HasSubstr("can't be negative"));
  // Days beyond what int64 nanoseconds hold (106 751): refused, never an
  // overflow (found by tests/fuzz/parsers_fuzz).
  EXPECT_EQ(dur(R"("106751d")"), int64_t{106751} * 24 * 3600 * kS);
  EXPECT_THAT(Err(R"({"duration": "555555d"})"), AllOf(HasSubstr("too large"), OneLine()));
  EXPECT_THAT(Err(R"({"duration": "106751d24h"})"), HasSubstr("too large"));
}

// ---------------------------------------------------------------------------
// Executors and their defaults

Scenario One(std::string_view scenario_json) {
  return Only(P(std::string(R"({"scenarios": {"s": )") + std::string(scenario_json) + "}}"));
}

TEST(ExecutorsTest, SharedIterationsDefaults) {
  Scenario s = One(R"({"executor": "shared-iterations"})");
  EXPECT_EQ(s.type, ExecutorType::kSharedIterations);
  EXPECT_EQ(s.vus, 1);
  EXPECT_EQ(s.iterations, 1);
  EXPECT_EQ(s.max_duration_ns, 10 * kMin);
  EXPECT_EQ(s.graceful_stop_ns, 30 * kS);
  EXPECT_EQ(s.exec, "default");
  EXPECT_EQ(s.EndNs(), 10 * kMin + 30 * kS);
}

TEST(ExecutorsTest, PerVuIterationsDefaults) {
  Scenario s = One(R"({"executor": "per-vu-iterations", "vus": 3, "iterations": 4})");
  EXPECT_EQ(s.type, ExecutorType::kPerVuIterations);
  EXPECT_EQ(s.vus, 3);
  EXPECT_EQ(s.iterations, 4);
  EXPECT_EQ(s.max_duration_ns, 10 * kMin);
}

TEST(ExecutorsTest, ConstantVusDefaults) {
  Scenario s = One(R"({"executor": "constant-vus", "duration": "10s"})");
  EXPECT_EQ(s.type, ExecutorType::kConstantVus);
  EXPECT_EQ(s.vus, 1);
  EXPECT_EQ(s.duration_ns, 10 * kS);
}

TEST(ExecutorsTest, RampingVusDefaults) {
  Scenario s = One(R"({"executor": "ramping-vus", "stages": [{"duration": "5s", "target": 2}]})");
  EXPECT_EQ(s.type, ExecutorType::kRampingVus);
  EXPECT_EQ(s.start_vus, 1);
  EXPECT_EQ(s.graceful_ramp_down_ns, 30 * kS);
  EXPECT_EQ(s.PeakVus(), 2);
}

TEST(ExecutorsTest, ConstantArrivalRateDefaults) {
  Scenario s = One(
      R"({"executor": "constant-arrival-rate", "rate": 50, "duration": "1m", "preAllocatedVUs": 4})");
  EXPECT_EQ(s.type, ExecutorType::kConstantArrivalRate);
  EXPECT_EQ(s.rate, 50);
  EXPECT_EQ(s.time_unit_ns, kS);
  EXPECT_EQ(s.duration_ns, kMin);
  EXPECT_EQ(s.pre_allocated_vus, 4);
  EXPECT_EQ(s.max_vus, 4);  // defaults to preAllocatedVUs
}

TEST(ExecutorsTest, RampingArrivalRateDefaults) {
  Scenario s = One(R"({"executor": "ramping-arrival-rate", "preAllocatedVUs": 2, "maxVUs": 9,
                       "stages": [{"duration": "10s", "target": 100}]})");
  EXPECT_EQ(s.type, ExecutorType::kRampingArrivalRate);
  EXPECT_EQ(s.start_rate, 0);
  EXPECT_EQ(s.time_unit_ns, kS);
  EXPECT_EQ(s.max_vus, 9);
  EXPECT_EQ(s.PeakVus(), 9);
  EXPECT_EQ(s.RegularDurationNs(), 10 * kS);
}

TEST(ExecutorsTest, CommonOptions) {
  Scenario s = One(R"({"executor": "constant-vus", "duration": "10s", "startTime": "1m",
                       "gracefulStop": "0s", "exec": "browse", "tags": {"b": "2", "a": "1"},
                       "env": {"HOST": "x"}})");
  EXPECT_EQ(s.start_time_ns, kMin);
  EXPECT_EQ(s.graceful_stop_ns, 0);
  EXPECT_EQ(s.exec, "browse");
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(s.tags, (Pairs{{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(s.env, (Pairs{{"HOST", "x"}}));
  EXPECT_EQ(s.EndNs(), 70 * kS);
}

TEST(ExecutorsTest, NullValuesMeanUnset) {
  Scenario s = One(R"({"executor": "constant-vus", "duration": "10s", "vus": null})");
  EXPECT_EQ(s.vus, 1);
}

TEST(ExecutorsTest, FloatsWithWholeValuesAreCounts) {
  // Lua numbers may arrive as 10.0.
  EXPECT_EQ(One(R"({"executor": "constant-vus", "duration": "10s", "vus": 10.0})").vus, 10);
}

// ---------------------------------------------------------------------------
// Validation: one line, names the scenario and the option

struct BadCase {
  const char* scenario;  // the JSON of scenario "s"
  std::vector<const char*> expected;
};

TEST(ValidationTest, EachErrorNamesScenarioAndField) {
  const std::vector<BadCase> cases = {
      {R"({"executor": "nope"})", {"unknown executor \"nope\"", "ramping-vus"}},
      {R"({"executor": "externally-controlled"})", {"not supported"}},
      {R"({"vus": 1})", {"needs an \"executor\""}},
      {R"({"executor": 5})", {"\"executor\" must be one of"}},
      {R"({"executor": "constant-vus", "duration": "1s", "foo": 1})",
       {"unknown option \"foo\"", "constant-vus"}},
      {R"({"executor": "constant-vus", "duration": "1s", "rate": 1})", {"unknown option \"rate\""}},
      {R"({"executor": "ramping-vus"})",
       {"ramping-vus needs \"stages\" (a list of {duration, target})"}},
      {R"({"executor": "ramping-vus", "stages": []})", {"at least one"}},
      {R"({"executor": "ramping-vus", "stages": [{"duration": "1s"}]})",
       {"stages[1]", "\"target\""}},
      {R"({"executor": "ramping-vus", "stages": [{"target": 1}]})", {"stages[1]", "\"duration\""}},
      {R"({"executor": "ramping-vus", "stages": [{"duration": "1s", "target": 1, "x": 1}]})",
       {"stages[1]", "unknown key \"x\""}},
      {R"({"executor": "ramping-vus", "stages": [{"duration": "1s", "target": -1}]})",
       {"stages[1].target", "negative"}},
      {R"({"executor": "ramping-vus", "startVUs": 0, "stages": [{"duration": "1s", "target": 0}]})",
       {"startVUs", "more than 0"}},
      {R"({"executor": "ramping-vus", "stages": 5})", {"\"stages\" must be"}},
      {R"({"executor": "constant-vus", "duration": "1s", "vus": -1})", {"\"vus\"", "negative"}},
      {R"({"executor": "constant-vus", "duration": "1s", "vus": 0})", {"\"vus\"", "more than 0"}},
      {R"({"executor": "constant-vus", "duration": "1s", "vus": 1.5})",
       {"\"vus\"", "whole number"}},
      {R"({"executor": "constant-vus", "duration": "1s", "vus": "10"})",
       {"\"vus\"", "whole number"}},
      {R"({"executor": "constant-vus", "duration": "1s", "vus": 200000000})",
       {"\"vus\"", "too large"}},
      {R"({"executor": "constant-vus"})", {"constant-vus needs \"duration\""}},
      {R"({"executor": "constant-vus", "duration": "500ms"})", {"\"duration\"", "at least 1s"}},
      {R"({"executor": "shared-iterations", "vus": 5, "iterations": 2})",
       {"\"iterations\" (2)", "\"vus\" (5)"}},
      {R"({"executor": "shared-iterations", "maxDuration": "100ms"})", {"\"maxDuration\"", "1s"}},
      {R"({"executor": "per-vu-iterations", "iterations": 0})", {"\"iterations\"", "more than 0"}},
      {R"({"executor": "constant-arrival-rate", "duration": "1m", "preAllocatedVUs": 1})",
       {"constant-arrival-rate needs \"rate\""}},
      {R"({"executor": "constant-arrival-rate", "rate": 0, "duration": "1m", "preAllocatedVUs": 1})",
       {"\"rate\"", "more than 0"}},
      {R"({"executor": "constant-arrival-rate", "rate": 5, "preAllocatedVUs": 1})",
       {"needs \"duration\""}},
      {R"({"executor": "constant-arrival-rate", "rate": 5, "duration": "1m"})",
       {"needs \"preAllocatedVUs\""}},
      {R"({"executor": "constant-arrival-rate", "rate": 5, "duration": "1m", "preAllocatedVUs": 4,
           "maxVUs": 2})",
       {"\"maxVUs\" (2)", "\"preAllocatedVUs\" (4)"}},
      {R"({"executor": "constant-arrival-rate", "rate": 5, "duration": "1m", "preAllocatedVUs": 0})",
       {"at least one VU"}},
      {R"({"executor": "constant-arrival-rate", "rate": 5, "duration": "1m", "preAllocatedVUs": 1,
           "timeUnit": 0})",
       {"\"timeUnit\"", "more than 0"}},
      {R"({"executor": "ramping-arrival-rate", "preAllocatedVUs": 1})",
       {"ramping-arrival-rate needs \"stages\""}},
      {R"({"executor": "ramping-arrival-rate", "preAllocatedVUs": 1, "startRate": -2,
           "stages": [{"duration": "1s", "target": 1}]})",
       {"\"startRate\"", "negative"}},
      {R"({"executor": "constant-vus", "duration": "1s", "gracefulStop": "abc"})",
       {"gracefulStop", "\"abc\""}},
      {R"({"executor": "constant-vus", "duration": "1s", "startTime": -1})",
       {"\"startTime\"", "negative"}},
      {R"({"executor": "constant-vus", "duration": "1s", "startTime": "-1s"})",
       {"startTime", "negative"}},
      {R"({"executor": "constant-vus", "duration": "1s", "exec": ""})", {"\"exec\"", "empty"}},
      {R"({"executor": "constant-vus", "duration": "1s", "tags": {"a": 1}})",
       {"\"tags\"", "\"a\""}},
      {R"({"executor": "constant-vus", "duration": "1s", "env": []})", {"\"env\""}},
      {R"(5)", {"must be a table"}},
  };
  for (const BadCase& c : cases) {
    std::string message = Err(std::string(R"({"scenarios": {"s": )") + c.scenario + "}}");
    EXPECT_THAT(message, AllOf(HasSubstr("scenario \"s\": "), OneLine())) << c.scenario;
    for (const char* part : c.expected) EXPECT_THAT(message, HasSubstr(part)) << c.scenario;
  }
}

TEST(ValidationTest, ScenarioNames) {
  EXPECT_THAT(
      Err(R"({"scenarios": {"my scenario": {"executor": "per-vu-iterations"}}})"),
      AllOf(HasSubstr("scenario \"my scenario\""), HasSubstr("letters, digits"), OneLine()));
  EXPECT_THAT(Err(R"({"scenarios": {"": {"executor": "per-vu-iterations"}}})"),
              HasSubstr("invalid name"));
  EXPECT_EQ(Only(P(R"({"scenarios": {"Browse_2-x": {"executor": "per-vu-iterations"}}})")).name,
            "Browse_2-x");
}

TEST(ValidationTest, ControlCharactersStayOnOneLine) {
  EXPECT_THAT(Err("{\"scenarios\": {\"s\": {\"executor\": \"a\\nb\"}}}"), OneLine());
  EXPECT_THAT(
      Err("{\"scenarios\": {\"s\": {\"executor\": \"constant-vus\", \"duration\": \"1\\ns\"}}}"),
      OneLine());
}

TEST(ValidationTest, TopLevelTypes) {
  EXPECT_THAT(Err("[1]"), HasSubstr("options: must be a table"));
  EXPECT_THAT(Err(R"({"scenarios": [1]})"), HasSubstr("\"scenarios\" must be a table"));
  EXPECT_THAT(Err(R"({"vus": -1})"), AllOf(HasSubstr("options: \"vus\""), HasSubstr("negative")));
  EXPECT_THAT(Err(R"({"tags": {"a": 1}})"), HasSubstr("\"tags\""));
  PlanOverrides cli;
  cli.vus = -3;
  EXPECT_THAT(Err("{}", cli), HasSubstr("--vus"));
}

// ---------------------------------------------------------------------------
// Plan-wide values

TEST(PlanTest, ScenariosSortedByStartTimeThenName) {
  Plan plan = P(R"({"scenarios": {
      "b": {"executor": "per-vu-iterations"},
      "a": {"executor": "per-vu-iterations", "startTime": "10s"},
      "c": {"executor": "per-vu-iterations"}}})");
  ASSERT_EQ(plan.scenarios.size(), 3u);
  EXPECT_EQ(plan.scenarios[0].name, "b");
  EXPECT_EQ(plan.scenarios[1].name, "c");
  EXPECT_EQ(plan.scenarios[2].name, "a");
}

TEST(PlanTest, TotalDurationAndMaxVus) {
  Plan plan = P(R"({"tags": {"env": "ci"}, "scenarios": {
      "warm": {"executor": "constant-vus", "vus": 10, "duration": "30s", "gracefulStop": "0s"},
      "peak": {"executor": "ramping-vus", "startVUs": 0, "startTime": "30s",
               "stages": [{"duration": "1m", "target": 50}, {"duration": "1m", "target": 0}]},
      "open": {"executor": "constant-arrival-rate", "rate": 10, "duration": "1m",
               "preAllocatedVUs": 5, "maxVUs": 20, "startTime": "1m"}}})");
  // peak ends at 30s + 2m + 30s = 3m; open at 1m + 1m + 30s = 2m30s.
  EXPECT_EQ(plan.TotalDurationNs(), 3 * kMin);
  // warm ends (30s) exactly when peak starts, so its VUs can be reused:
  // the peak is peak + open = 50 + 20.
  EXPECT_EQ(plan.MaxVus(), 70u);
  EXPECT_EQ(plan.tags, (std::vector<std::pair<std::string, std::string>>{{"env", "ci"}}));
}

TEST(PlanTest, SequentialScenariosDoNotAddUp) {
  Plan plan = P(R"({"scenarios": {
      "a": {"executor": "constant-vus", "vus": 10, "duration": "10s", "gracefulStop": "0s"},
      "b": {"executor": "constant-vus", "vus": 7, "duration": "10s", "startTime": "10s"}}})");
  EXPECT_EQ(plan.MaxVus(), 10u);
  EXPECT_EQ(plan.TotalDurationNs(), 50 * kS);
}

// ---------------------------------------------------------------------------
// Segmentation: summed over workers, the load equals the whole

Plan Whole(int64_t vus, int64_t iterations, int64_t pre, int64_t max) {
  nlohmann::json options = {
      {"scenarios",
       {{"shared", {{"executor", "shared-iterations"}, {"vus", vus}, {"iterations", iterations}}},
        {"pervu", {{"executor", "per-vu-iterations"}, {"vus", vus}, {"iterations", 3}}},
        {"constant", {{"executor", "constant-vus"}, {"vus", vus}, {"duration", "10s"}}},
        {"ramp",
         {{"executor", "ramping-vus"},
          {"startVUs", vus},
          {"stages", {{{"duration", "10s"}, {"target", vus * 2}}}}}},
        {"car",
         {{"executor", "constant-arrival-rate"},
          {"rate", 10},
          {"duration", "10s"},
          {"preAllocatedVUs", pre},
          {"maxVUs", max}}}}}};
  return ParsePlan(options, {});
}

const Scenario& Named(const Plan& plan, std::string_view name) {
  for (const Scenario& s : plan.scenarios) {
    if (s.name == name) return s;
  }
  throw std::logic_error("no scenario " + std::string(name));
}

TEST(SegmentTest, SumsEqualTheWhole) {
  const int64_t kVus[] = {1, 2, 3, 5, 7, 10, 64, 1001};
  const int64_t kExtraIterations[] = {0, 1, 2, 13, 999};
  const int64_t kArrivalVus[][2] = {{1, 1}, {0, 3}, {2, 9}, {5, 5}, {11, 40}};
  for (uint32_t workers = 1; workers <= 9; ++workers) {
    for (int64_t vus : kVus) {
      for (int64_t extra : kExtraIterations) {
        for (const auto& [pre, max] : kArrivalVus) {
          int64_t iterations = vus + extra * 3;
          Plan whole = Whole(vus, iterations, pre, max);
          int64_t shared_vus = 0, shared_iters = 0, pervu_vus = 0, constant_vus = 0;
          int64_t ramp_peak = 0, pre_sum = 0, max_sum = 0;
          uint64_t arrival_owners = 0;
          uint32_t max_vus_sum = 0;
          for (uint32_t w = 0; w < workers; ++w) {
            Plan share = SegmentFor(whole, w, workers);
            const Scenario& shared = Named(share, "shared");
            shared_vus += shared.vus;
            shared_iters += shared.iterations;
            if (shared.vus == 0) {
              EXPECT_EQ(shared.iterations, 0);
              EXPECT_FALSE(shared.HasWork());
            } else {
              EXPECT_GE(shared.iterations, shared.vus);  // every VU gets one
            }
            const Scenario& pervu = Named(share, "pervu");
            pervu_vus += pervu.vus;
            EXPECT_EQ(pervu.iterations, 3);
            constant_vus += Named(share, "constant").vus;
            const Scenario& ramp = Named(share, "ramp");
            EXPECT_EQ(ramp.stripe, (Stripe{w, workers}));
            EXPECT_EQ(ramp.stages, Named(whole, "ramp").stages);
            ramp_peak += ramp.PeakVus();
            const Scenario& car = Named(share, "car");
            pre_sum += car.pre_allocated_vus;
            max_sum += car.max_vus;
            if (!car.stripe.Empty()) {
              ++arrival_owners;
              EXPECT_GE(car.max_vus, 1);  // a worker that starts iterations has a VU
            }
            // Shares differ by at most one VU.
            EXPECT_LE(shared.vus, (vus + workers - 1) / workers);
            EXPECT_GE(shared.vus, vus / workers);
            max_vus_sum += share.MaxVus();
          }
          SCOPED_TRACE(testing::Message()
                       << "workers=" << workers << " vus=" << vus << " iterations=" << iterations);
          EXPECT_EQ(shared_vus, vus);
          EXPECT_EQ(shared_iters, iterations);
          EXPECT_EQ(pervu_vus, vus);
          EXPECT_EQ(constant_vus, vus);
          EXPECT_EQ(ramp_peak, vus * 2);
          EXPECT_EQ(pre_sum, pre);
          EXPECT_EQ(max_sum, max);
          EXPECT_EQ(arrival_owners, std::min<uint64_t>(workers, max));
          EXPECT_EQ(max_vus_sum, whole.MaxVus());
        }
      }
    }
  }
}

TEST(SegmentTest, SharedIterationsFollowTheVus) {
  // 10 iterations on 4 VUs: VUs 0,1 run 3, VUs 2,3 run 2; with 3 workers,
  // worker 0 has VUs 0 and 3 (5 iterations), 1 has VU 1 (3), 2 has VU 2 (2).
  Plan whole = P(R"({"vus": 4, "iterations": 10})");
  EXPECT_EQ(Only(SegmentFor(whole, 0, 3)).iterations, 5);
  EXPECT_EQ(Only(SegmentFor(whole, 1, 3)).iterations, 3);
  EXPECT_EQ(Only(SegmentFor(whole, 2, 3)).iterations, 2);
}

TEST(SegmentTest, InvalidArguments) {
  Plan whole = P("{}");
  EXPECT_THROW(SegmentFor(whole, 0, 0), std::invalid_argument);
  EXPECT_THROW(SegmentFor(whole, 3, 3), std::invalid_argument);
  Plan ramp = P(R"({"stages": [{"duration": "1s", "target": 4}]})");
  Plan share = SegmentFor(ramp, 1, 2);
  EXPECT_THROW(SegmentFor(share, 0, 2), std::invalid_argument);
  // One worker: the share is the whole.
  EXPECT_EQ(Only(SegmentFor(ramp, 0, 1)).stripe, (Stripe{0, 1}));
}

TEST(StripeTest, CountBelow) {
  EXPECT_EQ((Stripe{0, 1}).CountBelow(7), 7u);
  EXPECT_EQ((Stripe{1, 3}).CountBelow(0), 0u);
  EXPECT_EQ((Stripe{1, 3}).CountBelow(1), 0u);
  EXPECT_EQ((Stripe{1, 3}).CountBelow(2), 1u);
  EXPECT_EQ((Stripe{1, 3}).CountBelow(5), 2u);
  EXPECT_EQ((Stripe{0, 0}).CountBelow(100), 0u);
  EXPECT_TRUE((Stripe{2, 3}).Owns(5));
  EXPECT_FALSE((Stripe{2, 3}).Owns(6));
  EXPECT_EQ((Stripe{2, 3}).Global(4), 14u);
}

TEST(StripeTest, ResidueSetsAreCanonical) {
  EXPECT_TRUE(Stripe().IsWhole());
  EXPECT_EQ(Stripe(), (Stripe{0, 1}));
  EXPECT_EQ(Stripe::FromResidues(4, {2, 0}), (Stripe{0, 2}));
  EXPECT_EQ(Stripe::FromResidues(6, {4, 1}), (Stripe{1, 3}));
  EXPECT_TRUE(Stripe::FromResidues(4, {0, 1, 2, 3}).IsWhole());
  EXPECT_TRUE(Stripe::FromResidues(5, {}).Empty());
  EXPECT_EQ(Stripe::FromResidues(5, {}), Stripe::None());
  EXPECT_EQ((Stripe{0, 0}), Stripe::None());
  EXPECT_EQ((Stripe{7, 0}), Stripe::None());  // stride 0: nothing, whatever the offset
  // k6's 0:0.2 in 0,0.2,0.5: start 3, offsets 6, 4 over 10 (not periodic in 5).
  Stripe k6 = Stripe::FromResidues(10, {3, 9});
  EXPECT_EQ(k6.period(), 10u);
  EXPECT_EQ(k6.residues(), (std::vector<uint64_t>{3, 9}));
  EXPECT_EQ(Stripe::FromResidues(12, {1, 4, 7, 10}), (Stripe{1, 3}));
  EXPECT_EQ(Stripe::FromResidues(12, {0, 1, 6, 7}), Stripe::FromResidues(6, {0, 1}));
  EXPECT_THROW(Stripe::FromResidues(4, {4}), std::invalid_argument);
  EXPECT_THROW(Stripe::FromResidues(4, {1, 1}), std::invalid_argument);
  EXPECT_THROW((Stripe{3, 3}), std::invalid_argument);
  EXPECT_FALSE(Stripe::None().Owns(0));
  EXPECT_EQ(Stripe::None().CountBelow(100), 0u);
  EXPECT_FALSE(Stripe::None().FirstAtOrAbove(0).has_value());
  EXPECT_FALSE(Stripe::None().LastAtOrBelow(100).has_value());
}

// A random stripe: period 1..30, a random subset of residues.
Stripe RandomStripe(std::mt19937_64& rng) {
  uint64_t period = 1 + rng() % 30;
  std::vector<uint64_t> residues;
  for (uint64_t r = 0; r < period; ++r) {
    if (rng() % 3 == 0) residues.push_back(r);
  }
  return Stripe::FromResidues(period, residues);
}

// The owned numbers below `limit`, by brute force over the residues.
std::vector<uint64_t> Members(const Stripe& s, uint64_t limit) {
  std::vector<uint64_t> out;
  if (s.Empty()) return out;
  for (uint64_t k = 0; k < limit; ++k) {
    if (std::binary_search(s.residues().begin(), s.residues().end(), k % s.period())) {
      out.push_back(k);
    }
  }
  return out;
}

TEST(StripeTest, QueriesMatchBruteForce) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 300; ++round) {
    Stripe s = RandomStripe(rng);
    const uint64_t limit = 4 * std::max<uint64_t>(s.period(), 1) + 3;
    std::vector<uint64_t> members = Members(s, limit);
    for (uint64_t k = 0; k < limit; ++k) {
      bool owned = std::binary_search(members.begin(), members.end(), k);
      ASSERT_EQ(s.Owns(k), owned) << k;
      uint64_t below = static_cast<uint64_t>(std::lower_bound(members.begin(), members.end(), k) -
                                             members.begin());
      ASSERT_EQ(s.CountBelow(k), below) << k;
      auto first = std::lower_bound(members.begin(), members.end(), k);
      if (first != members.end()) {
        ASSERT_EQ(s.FirstAtOrAbove(k), std::optional<uint64_t>(*first)) << k;
      }
      auto last = std::upper_bound(members.begin(), members.end(), k);
      ASSERT_EQ(s.LastAtOrBelow(k),
                last == members.begin() ? std::nullopt : std::optional<uint64_t>(*(last - 1)))
          << k;
    }
    for (size_t j = 0; j < members.size(); ++j) ASSERT_EQ(s.Global(j), members[j]) << j;
    ASSERT_EQ(s.IsWhole(), members.size() == limit);
  }
}

TEST(StripeTest, ComposeDealsTheMembersRoundRobin) {
  // Composing the whole is the classic {w, W}.
  for (uint64_t workers = 1; workers <= 5; ++workers) {
    for (uint64_t w = 0; w < workers; ++w) {
      EXPECT_EQ(Compose(Stripe(), workers, w), (Stripe{w, workers}));
    }
  }
  // {1, 3} dealt to 2: 1, 7, 13, ... and 4, 10, 16, ...
  EXPECT_EQ(Compose(Stripe{1, 3}, 2, 0), (Stripe{1, 6}));
  EXPECT_EQ(Compose(Stripe{1, 3}, 2, 1), (Stripe{4, 6}));
  // k6's {3, 9} over 10 (2 per period) dealt to 2: period 10 (gcd 2), 1 each.
  EXPECT_EQ(Compose(Stripe::FromResidues(10, {3, 9}), 2, 0), (Stripe{3, 10}));
  EXPECT_EQ(Compose(Stripe::FromResidues(10, {3, 9}), 2, 1), (Stripe{9, 10}));
  EXPECT_TRUE(Compose(Stripe::None(), 3, 1).Empty());
  EXPECT_THROW(Compose(Stripe(), 0, 0), std::invalid_argument);
  EXPECT_THROW(Compose(Stripe(), 2, 2), std::invalid_argument);

  std::mt19937_64 rng(11);
  for (int round = 0; round < 300; ++round) {
    Stripe outer = RandomStripe(rng);
    uint64_t workers = 1 + rng() % 5;
    const uint64_t m = outer.residues().size();
    const uint64_t bound =
        outer.Empty() ? 1 : outer.period() * workers / std::gcd(std::max<uint64_t>(m, 1), workers);
    const uint64_t limit = 3 * bound + 5;
    std::vector<uint64_t> members = Members(outer, limit);
    std::vector<int> owners(limit, 0);
    for (uint64_t w = 0; w < workers; ++w) {
      Stripe part = Compose(outer, workers, w);
      // The period is P * W / gcd(m, W), or a divisor of it once canonical.
      if (!part.Empty()) {
        ASSERT_EQ(bound % part.period(), 0u);
      }
      for (size_t i = 0; i < members.size(); ++i) {
        ASSERT_EQ(part.Owns(members[i]), i % workers == w) << "member " << i;
      }
      for (uint64_t k = 0; k < limit; ++k) {
        if (part.Owns(k)) ++owners[k];
        ASSERT_EQ(part.CountBelow(k), (Stripe{w, workers}).CountBelow(outer.CountBelow(k))) << k;
      }
    }
    for (uint64_t k = 0; k < limit; ++k) ASSERT_EQ(owners[k], outer.Owns(k) ? 1 : 0) << k;
  }
}

}  // namespace
}  // namespace stampede::engine
