#include "otel/proto_writer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>

namespace stampede::otel {
namespace {

std::string Bytes(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s += static_cast<char>(b);
  return s;
}

TEST(VarintSizeTest, Boundaries) {
  EXPECT_EQ(VarintSize(0), 1u);
  EXPECT_EQ(VarintSize(127), 1u);
  EXPECT_EQ(VarintSize(128), 2u);
  EXPECT_EQ(VarintSize(16383), 2u);
  EXPECT_EQ(VarintSize(16384), 3u);
  EXPECT_EQ(VarintSize((uint64_t{1} << 21) - 1), 3u);
  EXPECT_EQ(VarintSize(uint64_t{1} << 21), 4u);
  EXPECT_EQ(VarintSize(uint64_t{1} << 63), 10u);
  EXPECT_EQ(VarintSize(std::numeric_limits<uint64_t>::max()), 10u);
  EXPECT_EQ(TagSize(15), 1u);
  EXPECT_EQ(TagSize(16), 2u);
}

TEST(ProtoWriterTest, VarintGolden) {
  ProtoWriter w;
  w.AppendVarint(0);
  w.AppendVarint(1);
  w.AppendVarint(300);
  w.AppendVarint(std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(w.view(), Bytes({0x00, 0x01, 0xAC, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                             0xFF, 0x01}));
}

TEST(ProtoWriterTest, TagsMatchTheSpecTable) {
  ProtoWriter w;
  w.AppendTag(1, WireType::kLengthDelimited);  // 0A
  w.AppendTag(7, WireType::kFixed64);          // 39
  w.AppendTag(6, WireType::kVarint);           // 30
  w.AppendTag(16, WireType::kFixed32);         // 85 01 (Span.flags)
  EXPECT_EQ(w.view(), Bytes({0x0A, 0x39, 0x30, 0x85, 0x01}));
}

TEST(ProtoWriterTest, ScalarFieldsGolden) {
  ProtoWriter w;
  w.VarintField(1, 150);
  EXPECT_EQ(w.view(), Bytes({0x08, 0x96, 0x01}));
  w.Clear();
  w.Int64Field(3, -1);
  EXPECT_EQ(w.view(), Bytes({0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}));
  w.Clear();
  w.BoolField(2, true);
  EXPECT_EQ(w.view(), Bytes({0x10, 0x01}));
  w.Clear();
  w.Fixed64Field(7, 0x0102030405060708);
  EXPECT_EQ(w.view(), Bytes({0x39, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01}));
  w.Clear();
  w.Fixed32Field(16, 0x301);
  EXPECT_EQ(w.view(), Bytes({0x85, 0x01, 0x01, 0x03, 0x00, 0x00}));
  w.Clear();
  w.DoubleField(4, 1.0);
  EXPECT_EQ(w.view(), Bytes({0x21, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F}));
  w.Clear();
  w.StringField(1, "hi");
  EXPECT_EQ(w.view(), Bytes({0x0A, 0x02, 'h', 'i'}));
}

TEST(ProtoWriterTest, DefaultsAreOmittedUnlessExplicit) {
  ProtoWriter w;
  w.VarintField(1, 0);
  w.Int64Field(1, 0);
  w.BoolField(1, false);
  w.Fixed64Field(1, 0);
  w.Fixed32Field(1, 0);
  w.DoubleField(1, 0.0);
  w.StringField(1, "");
  w.BytesField(1, {});
  EXPECT_TRUE(w.empty());

  w.VarintField(1, 0, Presence::kExplicit);
  w.BoolField(2, false, Presence::kExplicit);
  w.DoubleField(4, 0.0, Presence::kExplicit);
  w.StringField(1, "", Presence::kExplicit);
  EXPECT_EQ(w.view(), Bytes({0x08, 0x00, 0x10, 0x00, 0x21, 0, 0, 0, 0, 0, 0, 0, 0, 0x0A, 0x00}));
}

TEST(ProtoWriterTest, NegativeZeroDoubleIsNotTheDefault) {
  ProtoWriter w;
  w.DoubleField(4, -0.0);
  EXPECT_EQ(w.view(), Bytes({0x21, 0, 0, 0, 0, 0, 0, 0, 0x80}));
}

TEST(ProtoWriterTest, EmptyNestedMessageIsKept) {
  ProtoWriter w;
  w.EndMessage(w.BeginMessage(15));
  EXPECT_EQ(w.view(), Bytes({0x7A, 0x00}));
}

TEST(ProtoWriterTest, SmallNestedMessageGolden) {
  // Span.status { message: "x", code: ERROR }
  ProtoWriter w;
  auto m = w.BeginMessage(15);
  w.StringField(2, "x");
  w.VarintField(3, 2);
  w.EndMessage(m);
  EXPECT_EQ(w.view(), Bytes({0x7A, 0x05, 0x12, 0x01, 'x', 0x18, 0x02}));
}

// The canonical encoding of field 2 holding `body`: what EndMessage must give
// whatever the hint was.
std::string Canonical(uint32_t field, const std::string& body) {
  ProtoWriter w;
  w.BytesField(field, body, Presence::kExplicit);
  return std::string(w.view());
}

class NestedLengthTest : public ::testing::TestWithParam<std::tuple<size_t, size_t>> {};

TEST_P(NestedLengthTest, BackPatchedLengthIsMinimalAndExact) {
  const auto [body_size, hint] = GetParam();
  std::string body(body_size, '\0');
  for (size_t i = 0; i < body_size; ++i) body[i] = static_cast<char>('a' + i % 26);

  ProtoWriter w;
  w.AppendRaw("pre");
  auto m = w.BeginMessage(2, hint);
  // Write the body in pieces, as an encoder would.
  for (size_t i = 0; i < body_size; i += 1000) {
    w.AppendRaw(std::string_view(body).substr(i, 1000));
  }
  w.EndMessage(m);
  w.AppendRaw("post");
  EXPECT_EQ(w.view(), "pre" + Canonical(2, body) + "post");
}

INSTANTIATE_TEST_SUITE_P(
    SizesAndHints, NestedLengthTest,
    ::testing::Combine(::testing::Values(0, 1, 127, 128, 129, 300, 16383, 16384, 20000,
                                         (size_t{1} << 21) - 1, size_t{1} << 21),
                       ::testing::Values(0, 127, 512, 16384, size_t{1} << 30)));

TEST(ProtoWriterTest, DeeplyNestedMessagesCrossingBoundaries) {
  // Three levels; the innermost is 16384 bytes, so every level's length takes
  // 3 bytes while only 1 was reserved: each EndMessage shifts its body.
  const std::string big(16384, 'z');
  ProtoWriter w;
  auto a = w.BeginMessage(1);
  auto b = w.BeginMessage(2);
  w.VarintField(1, 7);
  auto c = w.BeginMessage(3);
  w.StringField(1, big);
  w.EndMessage(c);
  w.EndMessage(b);
  w.StringField(5, "tail");
  w.EndMessage(a);

  const std::string c_bytes = Canonical(3, Canonical(1, big));
  const std::string b_bytes = Canonical(2, Bytes({0x08, 0x07}) + c_bytes);
  const std::string a_bytes = Canonical(1, b_bytes + Canonical(5, "tail"));
  EXPECT_EQ(w.view(), a_bytes);
}

TEST(ProtoWriterTest, NoReallocationAfterWarmUp) {
  ProtoWriter w;
  auto encode = [&w] {
    auto m = w.BeginMessage(2, 100);
    for (int i = 0; i < 50; ++i) w.StringField(1, "some attribute value");
    w.EndMessage(m);
  };
  encode();
  const char* data = w.data();
  const size_t capacity = w.capacity();
  for (int i = 0; i < 100; ++i) {
    w.Clear();
    encode();
  }
  EXPECT_EQ(w.data(), data);
  EXPECT_EQ(w.capacity(), capacity);
}

TEST(ProtoWriterTest, MoveAndTruncate) {
  ProtoWriter w(16);
  EXPECT_GE(w.capacity(), 16u);
  w.AppendRaw("abcdef");
  w.Truncate(3);
  EXPECT_EQ(w.view(), "abc");
  w.Truncate(10);
  EXPECT_EQ(w.view(), "abc");
  ProtoWriter moved(std::move(w));
  EXPECT_EQ(moved.view(), "abc");
  EXPECT_EQ(w.size(), 0u);  // NOLINT(bugprone-use-after-move): documented state
}

}  // namespace
}  // namespace stampede::otel
