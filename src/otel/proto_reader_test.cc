#include "otel/proto_reader.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "otel/proto_writer.h"

namespace stampede::otel {
namespace {

std::string Bytes(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s += static_cast<char>(b);
  return s;
}

std::vector<ProtoField> ReadAll(std::string_view data, bool* error = nullptr) {
  std::vector<ProtoField> fields;
  ProtoReader r(data);
  ProtoField f;
  while (r.Next(f)) fields.push_back(f);
  if (error != nullptr) *error = r.error();
  return fields;
}

TEST(ProtoReaderTest, ReadsEveryWireType) {
  ProtoWriter w;
  w.VarintField(1, 300);
  w.Int64Field(2, -2);
  w.Fixed64Field(3, 0x1122334455667788);
  w.Fixed32Field(16, 0xDEADBEEF);
  w.DoubleField(5, -2.5);
  w.StringField(536870911, "max field number");
  bool error = true;
  const auto fields = ReadAll(w.view(), &error);
  EXPECT_FALSE(error);
  ASSERT_EQ(fields.size(), 6u);
  EXPECT_EQ(fields[0].number, 1u);
  EXPECT_EQ(fields[0].wire_type, WireType::kVarint);
  EXPECT_EQ(fields[0].value, 300u);
  EXPECT_EQ(fields[1].AsInt64(), -2);
  EXPECT_EQ(fields[1].AsInt32(), -2);
  EXPECT_EQ(fields[2].wire_type, WireType::kFixed64);
  EXPECT_EQ(fields[2].value, 0x1122334455667788u);
  EXPECT_EQ(fields[3].number, 16u);
  EXPECT_EQ(fields[3].wire_type, WireType::kFixed32);
  EXPECT_EQ(fields[3].value, 0xDEADBEEFu);
  EXPECT_EQ(fields[4].AsDouble(), -2.5);
  EXPECT_EQ(fields[5].number, 536870911u);
  EXPECT_EQ(fields[5].wire_type, WireType::kLengthDelimited);
  EXPECT_EQ(fields[5].bytes, "max field number");
}

TEST(ProtoReaderTest, EmptyInputIsDone) {
  ProtoReader r("");
  ProtoField f;
  EXPECT_FALSE(r.Next(f));
  EXPECT_FALSE(r.error());
  EXPECT_TRUE(r.done());
}

TEST(ProtoReaderTest, MalformedInputStopsWithError) {
  const std::string cases[] = {
      Bytes({0x08}),                  // varint value missing
      Bytes({0x08, 0x80}),            // truncated varint
      Bytes({0x0A, 0x05, 'a', 'b'}),  // length past the end
      Bytes({0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}),  // huge length
      Bytes({0x09, 1, 2, 3}),  // truncated fixed64
      Bytes({0x0D, 1, 2}),     // truncated fixed32
      Bytes({0x0B}),           // start group
      Bytes({0x0C}),           // end group
      Bytes({0x0E}),           // wire type 6
      Bytes({0x00, 0x01}),     // field number 0
      Bytes({0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}),  // 11 bytes
      Bytes({0xF8, 0xFF, 0xFF, 0xFF, 0x7F, 0x00}),  // field number 2^32-1 > 2^29-1
  };
  for (const std::string& c : cases) {
    bool error = false;
    ReadAll(c, &error);
    EXPECT_TRUE(error) << ::testing::PrintToString(c);
  }
}

TEST(ProtoReaderTest, ValidFieldsBeforeCorruptionAreReturned) {
  bool error = false;
  const auto fields = ReadAll(Bytes({0x08, 0x01, 0x0A, 0x09}), &error);
  EXPECT_TRUE(error);
  ASSERT_EQ(fields.size(), 1u);
  EXPECT_EQ(fields[0].value, 1u);
}

TEST(PartialSuccessTest, ParsesRejectedSpansAndMessage) {
  // ExportTraceServiceResponse { partial_success { rejected_spans: 5,
  // error_message: "bad ids" } }
  const std::string response = Bytes({0x0A, 0x0B, 0x08, 0x05, 0x12, 0x07}) + "bad ids";
  const auto ps = ParsePartialSuccess(response);
  ASSERT_TRUE(ps.has_value());
  EXPECT_EQ(ps->rejected, 5);
  EXPECT_EQ(ps->error_message, "bad ids");
}

TEST(PartialSuccessTest, WarningWithoutRejections) {
  const std::string response = Bytes({0x0A, 0x06, 0x12, 0x04}) + "slow";
  const auto ps = ParsePartialSuccess(response);
  ASSERT_TRUE(ps.has_value());
  EXPECT_EQ(ps->rejected, 0);
  EXPECT_EQ(ps->error_message, "slow");
}

TEST(PartialSuccessTest, EmptyResponseIsFullSuccess) {
  const auto ps = ParsePartialSuccess("");
  ASSERT_TRUE(ps.has_value());
  EXPECT_EQ(ps->rejected, 0);
  EXPECT_TRUE(ps->error_message.empty());
}

TEST(PartialSuccessTest, UnknownFieldsAreIgnored) {
  const std::string response =
      Bytes({0x10, 0x01, 0x0A, 0x05, 0x08, 0x80, 0x01, 0x18, 0x02, 0x1A, 0x00});
  const auto ps = ParsePartialSuccess(response);
  ASSERT_TRUE(ps.has_value());
  EXPECT_EQ(ps->rejected, 128);
}

TEST(PartialSuccessTest, MalformedIsNullopt) {
  EXPECT_FALSE(ParsePartialSuccess(Bytes({0x0A, 0x05, 0x08})).has_value());
  EXPECT_FALSE(ParsePartialSuccess(Bytes({0x0A, 0x02, 0x08, 0x80})).has_value());
  EXPECT_FALSE(ParsePartialSuccess(Bytes({0x08, 0x01})).has_value());  // field 1 not a message
  EXPECT_FALSE(ParsePartialSuccess(Bytes({0x0A, 0x02, 0x12, 0x01, 'x'})).has_value());
}

TEST(RpcStatusTest, ParsesCodeAndMessageAndSkipsDetails) {
  // google.rpc.Status { code: 3 (INVALID_ARGUMENT), message: "bad", details
  // [ Any { type_url: "t" } ] }
  const std::string status =
      Bytes({0x08, 0x03, 0x12, 0x03}) + "bad" + Bytes({0x1A, 0x03, 0x0A, 0x01, 't'});
  const auto s = ParseRpcStatus(status);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->code, 3);
  EXPECT_EQ(s->message, "bad");
}

TEST(RpcStatusTest, NegativeCodeAndEmpty) {
  ProtoWriter w;
  w.Int64Field(1, -1);
  auto s = ParseRpcStatus(w.view());
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->code, -1);
  s = ParseRpcStatus("");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->code, 0);
  EXPECT_TRUE(s->message.empty());
}

TEST(RpcStatusTest, MalformedIsNullopt) {
  EXPECT_FALSE(ParseRpcStatus(Bytes({0x08})).has_value());
  EXPECT_FALSE(ParseRpcStatus(Bytes({0x0A, 0x00})).has_value());  // code as bytes
  EXPECT_FALSE(ParseRpcStatus(Bytes({0x12, 0x05, 'a'})).has_value());
}

}  // namespace
}  // namespace stampede::otel
