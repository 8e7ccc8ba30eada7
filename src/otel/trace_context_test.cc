#include "otel/trace_context.h"

#include <gtest/gtest.h>

#include <set>

#include "core/error.h"

namespace stampede::otel {
namespace {

TEST(TraceContextTest, FormatsLowercaseVersion00) {
  TraceId t;
  SpanId s;
  for (int i = 0; i < 16; ++i) t.bytes[i] = static_cast<uint8_t>(0xA0 + i);
  for (int i = 0; i < 8; ++i) s.bytes[i] = static_cast<uint8_t>(0x0F + i);
  char buf[kTraceparentSize];
  FormatTraceparent(t, s, kFlagSampled | kFlagRandom, buf);
  EXPECT_EQ(std::string(buf, kTraceparentSize),
            "00-a0a1a2a3a4a5a6a7a8a9aaabacadaeaf-0f10111213141516-03");
  auto parsed = ParseTraceparent(std::string_view(buf, kTraceparentSize));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->trace_id, t);
  EXPECT_EQ(parsed->parent_id, s);
  EXPECT_EQ(parsed->flags, 3);
}

TEST(TraceContextTest, RejectsInvalidHeaders) {
  const char* bad[] = {
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  // zero trace id
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  // zero parent id
      "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // version ff
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  // uppercase
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",  // v00 with extra
      "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",   // short
      "",
  };
  for (const char* b : bad) EXPECT_FALSE(ParseTraceparent(b).has_value()) << b;
  // A higher version parses its known prefix.
  EXPECT_TRUE(ParseTraceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra")
                  .has_value());
}

TEST(TraceContextTest, IdsAreValidAndDistinct) {
  IdGenerator gen(42);
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    TraceId t = gen.NewTraceId();
    ASSERT_TRUE(t.valid());
    seen.insert(ToHex(t));
  }
  EXPECT_EQ(seen.size(), 10000u);
  EXPECT_TRUE(IdGenerator().NewSpanId().valid());
}

TEST(TraceContextTest, RunTagPrefixesTraceIdsAndKeepsTheRestRandom) {
  EXPECT_EQ(RunTraceTag("4bf92f3577b34da6a3ce929d0e0e4736"), 0x4bf92f35u);
  EXPECT_EQ(RunTraceTag("4BF92F35"), 0x4bf92f35u);
  EXPECT_EQ(RunTraceTag("4bf92f3"), 0u);
  EXPECT_EQ(RunTraceTag("4bf92g35aaaa"), 0u);
  IdGenerator gen(9);
  gen.set_run_tag(RunTraceTag("4bf92f3577b34da6a3ce929d0e0e4736"));
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    TraceId t = gen.NewTraceId();
    EXPECT_TRUE(HasRunTag(t, 0x4bf92f35u));
    EXPECT_FALSE(HasRunTag(t, 0x4bf92f36u));
    std::string hex = ToHex(t);
    EXPECT_EQ(hex.substr(0, 8), "4bf92f35");
    seen.insert(hex);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(TraceContextTest, RatioSamplerKeepsAboutTheRatio) {
  Sampler s = Sampler::FromEnv("traceidratio", "0.25");
  IdGenerator gen(7);
  int kept = 0;
  for (int i = 0; i < 40000; ++i) kept += s.ShouldSample(gen.NewTraceId(), std::nullopt);
  EXPECT_GT(kept, 9000);   // 10 000 expected; ±10 % is > 20 sigma
  EXPECT_LT(kept, 11000);
  EXPECT_TRUE(Sampler::FromEnv("", "").ShouldSample(gen.NewTraceId(), std::nullopt));
  EXPECT_FALSE(Sampler::FromEnv("always_off", "").ShouldSample(gen.NewTraceId(), std::nullopt));
  // Parent-based: children follow the parent's decision.
  Sampler pb = Sampler::FromEnv("parentbased_always_off", "");
  EXPECT_TRUE(pb.ShouldSample(gen.NewTraceId(), true));
  EXPECT_FALSE(pb.ShouldSample(gen.NewTraceId(), std::nullopt));
}

TEST(TraceContextTest, BadSamplerSettingsAreOneLineErrors) {
  EXPECT_THROW(Sampler::FromEnv("sometimes", ""), core::ConfigError);
  EXPECT_THROW(Sampler::FromEnv("traceidratio", "1.5"), core::ConfigError);
  EXPECT_THROW(Sampler::FromEnv("traceidratio", "abc"), core::ConfigError);
}

// Found by tests/fuzz/trace_context_fuzz: strtod reads "nan", which passed
// the range check and reached an undefined NaN-to-integer conversion.
TEST(TraceContextTest, NanSamplerRatioIsRefused) {
  EXPECT_THROW(Sampler::FromEnv("traceidratio", "nan"), core::ConfigError);
  EXPECT_THROW(Sampler::FromEnv("parentbased_traceidratio", "NaN"), core::ConfigError);
  EXPECT_THROW(Sampler::FromEnv("traceidratio", "-nan"), core::ConfigError);
  EXPECT_THROW(Sampler::FromEnv("traceidratio", "inf"), core::ConfigError);
  EXPECT_DOUBLE_EQ(Sampler::FromEnv("traceidratio", "0x0.8").ratio(), 0.5);
}

TEST(TraceContextTest, Propagators) {
  std::string warning;
  Propagators p = ParsePropagators("", &warning);
  EXPECT_TRUE(p.tracecontext && p.baggage);
  p = ParsePropagators("tracecontext", &warning);
  EXPECT_TRUE(p.tracecontext);
  EXPECT_FALSE(p.baggage);
  p = ParsePropagators("none", &warning);
  EXPECT_FALSE(p.tracecontext || p.baggage);
  p = ParsePropagators("b3, tracecontext", &warning);
  EXPECT_TRUE(p.tracecontext);
  EXPECT_NE(warning.find("b3"), std::string::npos);
  EXPECT_EQ(EncodeBaggageValue("a b,c%"), "a%20b%2Cc%25");
}

}  // namespace
}  // namespace stampede::otel
