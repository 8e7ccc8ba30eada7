#include "engine/script_options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "core/error.h"

namespace stampede::engine {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

ScriptOptions O(std::string_view json_text) {
  return ParseScriptOptions(nlohmann::json::parse(json_text));
}

std::string Err(std::string_view json_text) {
  try {
    O(json_text);
  } catch (const core::ConfigError& e) {
    EXPECT_EQ(e.code(), core::ExitCode::kInvalidConfig);
    return e.what();
  }
  return "<no error>";
}

TEST(ScriptOptionsTest, AbsentOptionsAreUnset) {
  for (const char* text : {"null", "{}", R"({"batch": null, "userAgent": null})"}) {
    ScriptOptions o = O(text);
    EXPECT_FALSE(o.discard_response_bodies) << text;
    EXPECT_FALSE(o.user_agent) << text;
    EXPECT_FALSE(o.batch) << text;
    EXPECT_FALSE(o.no_connection_reuse) << text;
    EXPECT_THAT(o.ignored_warning, IsEmpty()) << text;
  }
}

TEST(ScriptOptionsTest, ReadsEveryOption) {
  ScriptOptions o = O(R"({
    "discardResponseBodies": true, "insecureSkipTLSVerify": false, "userAgent": "ua/1",
    "setupTimeout": "2m", "teardownTimeout": 1500, "noConnectionReuse": true,
    "noVUConnectionReuse": false, "batch": 3, "batchPerHost": 0.0
  })");
  EXPECT_EQ(o.discard_response_bodies, true);
  EXPECT_EQ(o.insecure_skip_tls_verify, false);
  EXPECT_EQ(o.user_agent, "ua/1");
  EXPECT_EQ(o.setup_timeout_ns, 120'000'000'000);
  EXPECT_EQ(o.teardown_timeout_ns, 1'500'000'000);  // a number is milliseconds (k6)
  EXPECT_EQ(o.no_connection_reuse, true);
  EXPECT_EQ(o.no_vu_connection_reuse, false);
  EXPECT_EQ(o.batch, 3);
  EXPECT_EQ(o.batch_per_host, 0);
  EXPECT_THAT(o.ignored_warning, IsEmpty());
}

TEST(ScriptOptionsTest, WrongTypesNameTheOptionTheValueAndTheType) {
  EXPECT_THAT(Err(R"({"discardResponseBodies": "yes"})"),
              AllOf(HasSubstr("options: \"discardResponseBodies\" must be a boolean"),
                    HasSubstr("got \"yes\" (a string)"), Not(HasSubstr("\n"))));
  EXPECT_THAT(Err(R"({"userAgent": 5})"),
              AllOf(HasSubstr("\"userAgent\" must be a string"), HasSubstr("got 5 (a number)")));
  EXPECT_THAT(Err(R"({"noConnectionReuse": 1})"),
              AllOf(HasSubstr("\"noConnectionReuse\" must be a boolean"), HasSubstr("got 1")));
  EXPECT_THAT(Err(R"({"noVUConnectionReuse": "true"})"),
              HasSubstr("\"noVUConnectionReuse\" must be a boolean"));
  EXPECT_THAT(Err(R"({"insecureSkipTLSVerify": {}})"),
              AllOf(HasSubstr("\"insecureSkipTLSVerify\""), HasSubstr("(a table)")));
  EXPECT_THAT(Err(R"({"setupTimeout": true})"),
              AllOf(HasSubstr("\"setupTimeout\""), HasSubstr("duration"), HasSubstr("true")));
  EXPECT_THAT(Err(R"({"teardownTimeout": "10 seconds"})"), HasSubstr("10 seconds"));
  EXPECT_THAT(Err(R"({"setupTimeout": 0})"), HasSubstr("\"setupTimeout\" must be more than 0"));
  EXPECT_THAT(Err(R"({"batch": "2"})"),
              AllOf(HasSubstr("\"batch\" must be a whole number"), HasSubstr("\"2\" (a string)")));
  EXPECT_THAT(Err(R"({"batch": 1.5})"), HasSubstr("\"batch\" must be a whole number"));
  EXPECT_THAT(Err(R"({"batchPerHost": -1})"),
              HasSubstr("\"batchPerHost\" must be between 0 (no limit) and"));
  EXPECT_THAT(Err(R"({"userAgent": "a\r\nX-Injected: 1"})"), HasSubstr("CR, LF"));
  EXPECT_THAT(Err("[1, 2]"), HasSubstr("options: must be a table"));
}

TEST(ScriptOptionsTest, UnimplementedK6OptionsAreListedInOneLine) {
  ScriptOptions o = O(R"({"vus": 1, "hosts": {"a": "127.0.0.1"}, "httpDebug": "full",
                          "summaryTrendStats": ["avg"]})");
  EXPECT_EQ(o.ignored_warning,
            "options ignored: \"hosts\", \"httpDebug\" and \"summaryTrendStats\" are k6 "
            "options stampede does not implement");
  EXPECT_EQ(O(R"({"dns": {}})").ignored_warning,
            "options ignored: \"dns\" is a k6 option stampede does not implement");
}

TEST(ScriptOptionsTest, TyposSuggestTheClosestKnownOption) {
  EXPECT_EQ(O(R"({"duraton": "1s"})").ignored_warning,
            "options ignored: unknown option \"duraton\" (did you mean \"duration\"?)");
  EXPECT_THAT(O(R"({"VUs": 2})").ignored_warning, HasSubstr("\"VUs\" (did you mean \"vus\"?)"));
  EXPECT_THAT(O(R"({"treshholds": {}})").ignored_warning,
              HasSubstr("(did you mean \"thresholds\"?)"));
  EXPECT_THAT(O(R"({"noVuConnectionReuse": true})").ignored_warning,
              HasSubstr("(did you mean \"noVUConnectionReuse\"?)"));
  EXPECT_THAT(O(R"({"userAgnet": "x"})").ignored_warning,
              HasSubstr("(did you mean \"userAgent\"?)"));
  // A typo of a k6 option stampede ignores points at that option.
  EXPECT_THAT(O(R"({"summaryTrendStat": []})").ignored_warning,
              HasSubstr("(did you mean \"summaryTrendStats\"?)"));
  // Nothing near: no suggestion.
  EXPECT_EQ(O(R"({"frobnicate": 1})").ignored_warning,
            "options ignored: unknown option \"frobnicate\"");
}

TEST(ScriptOptionsTest, MixedWarningKeepsBothKindsOnOneLine) {
  std::string w = O(R"({"hosts": {}, "duraton": "1s", "zzz": 1})").ignored_warning;
  EXPECT_EQ(w,
            "options ignored: \"hosts\" is a k6 option stampede does not implement; unknown "
            "options \"duraton\" (did you mean \"duration\"?) and \"zzz\"");
}

TEST(ScriptOptionsTest, KnownListsAreSortedAndDisjoint) {
  const auto& known = KnownTopLevelOptions();
  const auto& ignored = IgnoredK6Options();
  auto lower_less = [](std::string_view a, std::string_view b) {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end());
  };
  EXPECT_TRUE(std::is_sorted(known.begin(), known.end(), lower_less));
  EXPECT_TRUE(std::is_sorted(ignored.begin(), ignored.end(), lower_less));
  for (std::string_view k : known) {
    EXPECT_EQ(std::find(ignored.begin(), ignored.end(), k), ignored.end()) << k;
  }
}

}  // namespace
}  // namespace stampede::engine
