#include "core/duration.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.h"

namespace stampede::core {
namespace {

using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::nanoseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;

nanoseconds D(std::string_view text) { return ParseDuration(text, "--duration"); }

std::string DurationError(std::string_view text) {
  try {
    ParseDuration(text, "--duration");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "<no error>";
}

std::string RateError(std::string_view text) {
  try {
    ParseRate(text, "--rate");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(ParseDurationTest, SingleUnits) {
  EXPECT_EQ(D("30s"), seconds(30));
  EXPECT_EQ(D("500ms"), milliseconds(500));
  EXPECT_EQ(D("250us"), microseconds(250));
  EXPECT_EQ(D("250\xC2\xB5s"), microseconds(250));
  EXPECT_EQ(D("250\xCE\xBCs"), microseconds(250));
  EXPECT_EQ(D("7ns"), nanoseconds(7));
  EXPECT_EQ(D("2m"), minutes(2));
  EXPECT_EQ(D("2h"), hours(2));
  EXPECT_EQ(D("0s"), nanoseconds(0));
}

TEST(ParseDurationTest, BareNumberIsSeconds) {
  EXPECT_EQ(D("10"), seconds(10));
  EXPECT_EQ(D("0"), seconds(0));
  EXPECT_EQ(D("1.5"), milliseconds(1500));
}

TEST(ParseDurationTest, FractionsAreExact) {
  EXPECT_EQ(D("2.5s"), milliseconds(2500));
  EXPECT_EQ(D("0.1s"), milliseconds(100));
  EXPECT_EQ(D(".5s"), milliseconds(500));
  EXPECT_EQ(D("1.5h"), minutes(90));
  EXPECT_EQ(D("1.000000001s"), nanoseconds(1'000'000'001));
  EXPECT_EQ(D("1.5ns"), nanoseconds(1));  // below a nanosecond truncates
}

TEST(ParseDurationTest, ChainedComponents) {
  EXPECT_EQ(D("1m30s"), seconds(90));
  EXPECT_EQ(D("1h2m3.5s"), hours(1) + minutes(2) + milliseconds(3500));
  EXPECT_EQ(D("1s500ms"), milliseconds(1500));
  EXPECT_EQ(D("  30s "), seconds(30));
}

TEST(ParseDurationTest, ErrorsNameInputAndFix) {
  EXPECT_EQ(DurationError(""),
            "invalid --duration \"\": expected a duration such as 30s, 1m30s, 500ms or 2h");
  EXPECT_EQ(DurationError("abc"),
            "invalid --duration \"abc\": expected a duration such as 30s, 1m30s, 500ms or 2h");
  EXPECT_EQ(DurationError("10q"),
            "invalid --duration \"10q\": unknown unit \"q\" (use ns, us, ms, s, m or h); expected "
            "a duration such as 30s, 1m30s, 500ms or 2h");
  EXPECT_THAT(DurationError("5min"), HasSubstr("unknown unit \"min\""));
  EXPECT_THAT(DurationError("-5s"), HasSubstr("cannot be negative"));
  EXPECT_THAT(DurationError("1m30"), HasSubstr("the last number has no unit"));
  EXPECT_THAT(DurationError("s"), HasSubstr("expected a duration"));
  EXPECT_THAT(DurationError("1.2.3s"), HasSubstr("expected a duration"));
  EXPECT_THAT(DurationError("99999999999999999999s"), HasSubstr("too large"));
  EXPECT_THAT(DurationError("3000000h"), HasSubstr("too large"));
}

TEST(ParseDurationTest, ErrorIsOneLineEvenForControlBytes) {
  std::string msg = DurationError("1\n2s");
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  EXPECT_THAT(msg, HasSubstr("\\x0a"));
}

TEST(ParseDurationTest, ErrorUsesInvalidConfigExitCode) {
  try {
    D("x");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.code(), ExitCode::kInvalidConfig);
  }
}

TEST(ParseRateTest, Forms) {
  Rate r = ParseRate("100/s", "--rate");
  EXPECT_DOUBLE_EQ(r.count, 100);
  EXPECT_EQ(r.per, seconds(1));
  EXPECT_DOUBLE_EQ(r.PerSecond(), 100);

  r = ParseRate("6000/1m", "--rate");
  EXPECT_DOUBLE_EQ(r.count, 6000);
  EXPECT_EQ(r.per, minutes(1));
  EXPECT_DOUBLE_EQ(r.PerSecond(), 100);

  r = ParseRate("100", "--rate");
  EXPECT_EQ(r.per, seconds(1));
  EXPECT_DOUBLE_EQ(r.PerSecond(), 100);

  r = ParseRate("1.5/100ms", "--rate");
  EXPECT_DOUBLE_EQ(r.PerSecond(), 15);

  r = ParseRate("30/m", "--rate");
  EXPECT_DOUBLE_EQ(r.PerSecond(), 0.5);

  EXPECT_DOUBLE_EQ(ParseRate("0/s", "--rate").count, 0);
}

TEST(ParseRateTest, Errors) {
  EXPECT_EQ(RateError("fast"),
            "invalid --rate \"fast\": expected a rate such as 100/s, 6000/1m or 100 (per second)");
  EXPECT_THAT(RateError("100/"), HasSubstr("expected a rate"));
  EXPECT_THAT(RateError("/s"), HasSubstr("expected a rate"));
  EXPECT_THAT(RateError("100/q"), HasSubstr("expected a rate"));
  EXPECT_THAT(RateError("-1/s"), HasSubstr("cannot be negative"));
  EXPECT_THAT(RateError("100/0s"), HasSubstr("longer than zero"));
  EXPECT_THAT(RateError("inf/s"), HasSubstr("expected a rate"));
  EXPECT_THAT(RateError("nan"), HasSubstr("expected a rate"));
  EXPECT_THAT(RateError("10x/s"), HasSubstr("expected a rate"));
}

TEST(FormatDurationTest, LikeK6Summary) {
  EXPECT_EQ(FormatDuration(nanoseconds(0)), "0s");
  EXPECT_EQ(FormatDuration(nanoseconds(999)), "999ns");
  EXPECT_EQ(FormatDuration(microseconds(850)), "850\xC2\xB5s");
  EXPECT_EQ(FormatDuration(nanoseconds(1'234'567)), "1.23ms");
  EXPECT_EQ(FormatDuration(nanoseconds(1'239'999)), "1.23ms");  // truncated, not rounded
  EXPECT_EQ(FormatDuration(nanoseconds(1'500'000)), "1.5ms");
  EXPECT_EQ(FormatDuration(milliseconds(12)), "12ms");
  EXPECT_EQ(FormatDuration(milliseconds(2500)), "2.5s");
  EXPECT_EQ(FormatDuration(seconds(59)), "59s");
  EXPECT_EQ(FormatDuration(seconds(60)), "1m0s");
  EXPECT_EQ(FormatDuration(seconds(90) + milliseconds(700)), "1m30s");
  EXPECT_EQ(FormatDuration(hours(2) + seconds(5)), "2h0m5s");
  EXPECT_EQ(FormatDuration(milliseconds(-1500)), "-1.5s");
}

TEST(FormatDurationTest, RoundTripsThroughParse) {
  for (const char* text : {"1.23ms", "850\xC2\xB5s", "2.5s", "1m30s", "2h0m5s", "999ns"}) {
    EXPECT_EQ(FormatDuration(D(text)), text);
  }
}

}  // namespace
}  // namespace stampede::core
