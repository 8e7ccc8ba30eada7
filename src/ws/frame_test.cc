#include "ws/frame.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ws/session.h"

namespace stampede::ws {
namespace {

const std::array<uint8_t, 4> kMask = {0x37, 0xfa, 0x21, 0x3d};

// Server frames (unmasked), as a server would write them.
std::string ServerFrame(Opcode op, bool fin, std::string_view payload) {
  std::string out;
  AppendFrame(op, fin, payload, nullptr, out);
  return out;
}

struct Read {
  Reader::Status status;
  Message::Kind kind = Message::Kind::kText;
  std::string payload;
  uint16_t close_code = 0;
};

std::vector<Read> ReadAll(Reader& r) {
  std::vector<Read> out;
  while (true) {
    Message m;
    Reader::Status s = r.Next(&m);
    if (s == Reader::Status::kNeedMore) return out;
    if (s == Reader::Status::kError) {
      out.push_back({s, Message::Kind::kText, {}, 0});
      return out;
    }
    out.push_back({s, m.kind, std::string(m.payload), m.close_code});
  }
}

TEST(WsFrame, MaskedTextFrameMatchesRfcExample) {
  // RFC 6455 5.7: a masked "Hello" from a client.
  std::string out;
  const std::array<uint8_t, 4> mask = {0x37, 0xfa, 0x21, 0x3d};
  AppendFrame(Opcode::kText, true, "Hello", &mask, out);
  const std::string want("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
  EXPECT_EQ(out, want);
  // A server reads it back.
  Reader server(Reader::Options{.expect_masked = true});
  server.Feed(out);
  auto got = ReadAll(server);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].kind, Message::Kind::kText);
  EXPECT_EQ(got[0].payload, "Hello");
}

TEST(WsFrame, UnmaskedServerFrameMatchesRfcExample) {
  EXPECT_EQ(ServerFrame(Opcode::kText, true, "Hello"), std::string("\x81\x05Hello", 7));
}

TEST(WsFrame, LengthEncodings7And16And64Bits) {
  for (size_t len : {0ul, 125ul, 126ul, 65535ul, 65536ul, 200000ul}) {
    std::string payload(len, 'x');
    for (size_t i = 0; i < len; ++i) payload[i] = static_cast<char>('a' + i % 26);
    std::string frame;
    AppendFrame(Opcode::kBinary, true, payload, &kMask, frame);
    const size_t head = len < 126 ? 2 : len <= 0xFFFF ? 4 : 10;
    EXPECT_EQ(frame.size(), head + 4 + len) << len;
    EXPECT_EQ(static_cast<uint8_t>(frame[1]) & 0x7F, len < 126 ? len : len <= 0xFFFF ? 126 : 127);
    Reader server(Reader::Options{.expect_masked = true});
    server.Feed(frame);
    auto got = ReadAll(server);
    ASSERT_EQ(got.size(), 1u) << len;
    EXPECT_EQ(got[0].kind, Message::Kind::kBinary);
    EXPECT_EQ(got[0].payload, payload) << len;
    // And unmasked, as a client reads it.
    Reader client;
    client.Feed(ServerFrame(Opcode::kBinary, true, payload));
    auto got2 = ReadAll(client);
    ASSERT_EQ(got2.size(), 1u);
    EXPECT_EQ(got2[0].payload, payload);
  }
}

TEST(WsFrame, SplitFeedsByteByByte) {
  std::string stream = ServerFrame(Opcode::kText, true, std::string(300, 'q')) +
                       ServerFrame(Opcode::kPing, true, "p") +
                       ServerFrame(Opcode::kBinary, true, std::string(70000, 'b'));
  Reader r;
  std::vector<Read> got;
  for (char c : stream) {
    r.Feed(&c, 1);
    for (auto& m : ReadAll(r)) got.push_back(m);
  }
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].payload, std::string(300, 'q'));
  EXPECT_EQ(got[1].kind, Message::Kind::kPing);
  EXPECT_EQ(got[1].payload, "p");
  EXPECT_EQ(got[2].kind, Message::Kind::kBinary);
  EXPECT_EQ(got[2].payload.size(), 70000u);
  EXPECT_EQ(r.buffered(), 0u);
}

TEST(WsFrame, FragmentedMessageIsReassembledWithControlFramesBetween) {
  Reader r;
  r.Feed(ServerFrame(Opcode::kText, false, "Hel"));
  EXPECT_TRUE(ReadAll(r).empty());
  r.Feed(ServerFrame(Opcode::kPing, true, "x"));  // allowed between fragments
  r.Feed(ServerFrame(Opcode::kContinuation, false, "lo, "));
  r.Feed(ServerFrame(Opcode::kContinuation, true, "world"));
  r.Feed(ServerFrame(Opcode::kBinary, true, "next"));
  auto got = ReadAll(r);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].kind, Message::Kind::kPing);
  EXPECT_EQ(got[1].kind, Message::Kind::kText);
  EXPECT_EQ(got[1].payload, "Hello, world");
  EXPECT_EQ(got[2].kind, Message::Kind::kBinary);
  EXPECT_EQ(got[2].payload, "next");
}

TEST(WsFrame, CloseFrameCodeAndReason) {
  Reader r;
  r.Feed(ServerFrame(Opcode::kClose, true, ClosePayload(4001, "bye")));
  Message m;
  ASSERT_EQ(r.Next(&m), Reader::Status::kMessage);
  EXPECT_EQ(m.kind, Message::Kind::kClose);
  EXPECT_EQ(m.close_code, 4001);
  EXPECT_EQ(m.close_reason, "bye");
  Reader empty;
  empty.Feed(ServerFrame(Opcode::kClose, true, ""));
  ASSERT_EQ(empty.Next(&m), Reader::Status::kMessage);
  EXPECT_EQ(m.close_code, kCloseNoStatus);
  EXPECT_EQ(ClosePayload(kCloseNoStatus, "x"), "");
  EXPECT_EQ(ClosePayload(1000, std::string(300, 'r')).size(), kMaxControlPayload);
}

void ExpectError(const std::string& bytes, uint16_t code, const std::string& words,
                 Reader::Options options = {}) {
  Reader r(options);
  r.Feed(bytes);
  Message m;
  Reader::Status s;
  do {
    s = r.Next(&m);
  } while (s == Reader::Status::kMessage);
  ASSERT_EQ(s, Reader::Status::kError) << words;
  EXPECT_EQ(r.error_code(), code) << r.error();
  EXPECT_NE(r.error().find(words), std::string::npos) << r.error();
  EXPECT_EQ(r.Next(&m), Reader::Status::kError);  // sticky
}

TEST(WsFrame, MalformedInputsAreErrorsWithCloseCodes) {
  ExpectError(std::string("\xC1\x01x", 3), kCloseProtocolError, "reserved bits");   // RSV1
  ExpectError(std::string("\x83\x01x", 3), kCloseProtocolError, "unknown opcode");  // 0x3
  ExpectError(std::string("\x8B\x00", 2), kCloseProtocolError, "unknown opcode");   // 0xB
  ExpectError(std::string("\x81\x81\x00\x00\x00\x00x", 7), kCloseProtocolError,
              "masked frame");  // servers must not mask
  ExpectError(std::string("\x81\x01x", 3), kCloseProtocolError, "unmasked frame",
              Reader::Options{.expect_masked = true});
  ExpectError(std::string("\x09\x00", 2), kCloseProtocolError, "fragmented ping");
  ExpectError(std::string("\x89\x7E\x00\x7E", 4) + std::string(126, 'p'), kCloseProtocolError,
              "more than 125 bytes");
  ExpectError(std::string("\x80\x01x", 3), kCloseProtocolError, "continuation frame without");
  ExpectError(ServerFrame(Opcode::kText, false, "a") + ServerFrame(Opcode::kText, true, "b"),
              kCloseProtocolError, "before the fragmented one ended");
  ExpectError(std::string("\x88\x01x", 3), kCloseProtocolError, "1-byte payload");
  ExpectError(std::string("\x88\x02\x03\xED", 4), kCloseProtocolError, "invalid code 1005");
  ExpectError(std::string("\x82\x7F\x80\x00\x00\x00\x00\x00\x00\x00", 10), kCloseProtocolError,
              "top bit");
}

TEST(WsFrame, MessageSizeLimitIsCheckedFromHeadersAndAcrossFragments) {
  Reader::Options small{.max_message_bytes = 10};
  // Known from the header alone: no payload needed.
  ExpectError(std::string("\x82\x7E\x01\x00", 4), kCloseTooBig, "maximum message size", small);
  ExpectError(ServerFrame(Opcode::kText, false, "123456") +
                  ServerFrame(Opcode::kContinuation, true, "78901"),
              kCloseTooBig, "maximum message size (10 bytes)", small);
  Reader ok(small);
  ok.Feed(ServerFrame(Opcode::kText, false, "12345") +
          ServerFrame(Opcode::kContinuation, true, "67890"));
  auto got = ReadAll(ok);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, "1234567890");
}

TEST(WsFrame, CloseCodeValidity) {
  EXPECT_TRUE(IsValidCloseCode(1000));
  EXPECT_TRUE(IsValidCloseCode(1011));
  EXPECT_TRUE(IsValidCloseCode(4999));
  EXPECT_FALSE(IsValidCloseCode(1005));
  EXPECT_FALSE(IsValidCloseCode(1006));
  EXPECT_FALSE(IsValidCloseCode(999));
  EXPECT_FALSE(IsValidCloseCode(5000));
}

TEST(WsHandshake, AcceptKeyMatchesRfcExample) {
  // RFC 6455 1.3.
  EXPECT_EQ(Session::AcceptFor("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

}  // namespace
}  // namespace stampede::ws
