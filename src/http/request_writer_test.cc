#include "http/request_writer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "core/error.h"

namespace stampede::http {
namespace {

using ::testing::HasSubstr;

std::string Write(const RequestWriter& writer, std::string_view method, std::string_view url,
                  std::vector<Header> headers = {}, std::string_view body = {}) {
  ByteBuffer out;
  std::string message;
  RequestError error = writer.Write(method, ParseUrl(url, "test"), headers, body, out, &message);
  EXPECT_EQ(error, RequestError::kNone) << message;
  return std::string(out.view());
}

TEST(ByteBufferTest, GrowsAndKeepsCapacityOnClear) {
  ByteBuffer b;
  EXPECT_TRUE(b.empty());
  b.Append("hello");
  b.Append(' ');
  b.Append(std::string(1000, 'x'));
  EXPECT_EQ(b.size(), 1006u);
  EXPECT_EQ(b.view().substr(0, 6), "hello ");
  size_t capacity = b.capacity();
  EXPECT_GE(capacity, 1006u);
  b.Clear();
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.capacity(), capacity);
  b.Append("abc");
  b.Truncate(1);
  EXPECT_EQ(b.view(), "a");
  ByteBuffer moved = std::move(b);
  EXPECT_EQ(moved.view(), "a");
  EXPECT_EQ(b.size(), 0u);  // NOLINT(bugprone-use-after-move): moved-from is empty
}

TEST(RequestWriterTest, SimpleGet) {
  RequestWriter writer;
  EXPECT_EQ(Write(writer, "GET", "http://example.com/index.html?q=1"),
            "GET /index.html?q=1 HTTP/1.1\r\n"
            "Host: example.com\r\n"
            "User-Agent: stampede/0.1\r\n"
            "\r\n");
}

TEST(RequestWriterTest, HostCarriesNonDefaultPortAndIpv6Brackets) {
  RequestWriter writer;
  EXPECT_EQ(Write(writer, "GET", "http://[::1]:8080/x?y"),
            "GET /x?y HTTP/1.1\r\nHost: [::1]:8080\r\nUser-Agent: stampede/0.1\r\n\r\n");
  EXPECT_EQ(Write(writer, "GET", "https://h:443/"),
            "GET / HTTP/1.1\r\nHost: h\r\nUser-Agent: stampede/0.1\r\n\r\n");
}

TEST(RequestWriterTest, PostWithBodyAndCallerHeaders) {
  RequestWriter writer;
  EXPECT_EQ(Write(writer, "POST", "http://api:3000/items",
                  {{"Content-Type", "application/json"}, {"X-Trace", "1"}}, R"({"a":1})"),
            "POST /items HTTP/1.1\r\n"
            "Host: api:3000\r\n"
            "User-Agent: stampede/0.1\r\n"
            "Content-Type: application/json\r\n"
            "X-Trace: 1\r\n"
            "Content-Length: 7\r\n"
            "\r\n"
            R"({"a":1})");
}

TEST(RequestWriterTest, ContentLengthZeroForBodylessPostPutPatch) {
  RequestWriter writer;
  for (const char* method : {"POST", "PUT", "PATCH"}) {
    EXPECT_EQ(
        Write(writer, method, "http://h/"),
        std::string(method) +
            " / HTTP/1.1\r\nHost: h\r\nUser-Agent: stampede/0.1\r\nContent-Length: 0\r\n\r\n");
  }
  // Other methods get no Content-Length without a body, but do with one.
  EXPECT_EQ(Write(writer, "DELETE", "http://h/"),
            "DELETE / HTTP/1.1\r\nHost: h\r\nUser-Agent: stampede/0.1\r\n\r\n");
  EXPECT_EQ(
      Write(writer, "DELETE", "http://h/", {}, "x"),
      "DELETE / HTTP/1.1\r\nHost: h\r\nUser-Agent: stampede/0.1\r\nContent-Length: 1\r\n\r\nx");
}

TEST(RequestWriterTest, NeverDuplicatesCallerHeaders) {
  RequestWriter writer;
  EXPECT_EQ(
      Write(writer, "POST", "http://h/",
            {{"user-AGENT", "curl/8"}, {"HOST", "virtual.example"}, {"content-length", "2"}}, "hi"),
      "POST / HTTP/1.1\r\n"
      "user-AGENT: curl/8\r\n"
      "HOST: virtual.example\r\n"
      "content-length: 2\r\n"
      "\r\n"
      "hi");
  // A caller's Transfer-Encoding also stops the writer adding Content-Length.
  EXPECT_EQ(Write(writer, "POST", "http://h/", {{"Transfer-Encoding", "chunked"}},
                  "2\r\nhi\r\n0\r\n\r\n"),
            "POST / HTTP/1.1\r\nHost: h\r\nUser-Agent: stampede/0.1\r\n"
            "Transfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n");
}

TEST(RequestWriterTest, CustomOrNoUserAgent) {
  EXPECT_EQ(Write(RequestWriter("k6-compatible/1"), "GET", "http://h/"),
            "GET / HTTP/1.1\r\nHost: h\r\nUser-Agent: k6-compatible/1\r\n\r\n");
  EXPECT_EQ(Write(RequestWriter(""), "GET", "http://h/"), "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  // Written verbatim into every request: no header injection through it.
  EXPECT_THROW(RequestWriter("a\r\nX-Injected: 1"), core::ConfigError);
  EXPECT_THROW(RequestWriter(std::string("a\x01b")), core::ConfigError);
}

TEST(RequestWriterTest, HeadFormTakesHostAndTarget) {
  RequestWriter writer;
  ByteBuffer out;
  Header headers[] = {{"Accept", "*/*"}};
  RequestHead head{.method = "GET", .host = "h:81", .target = "/a", .headers = headers};
  ASSERT_EQ(writer.Write(head, {}, out), RequestError::kNone);
  EXPECT_EQ(out.view(),
            "GET /a HTTP/1.1\r\nHost: h:81\r\nUser-Agent: stampede/0.1\r\nAccept: */*\r\n\r\n");
}

TEST(RequestWriterTest, AppendsAndReusesTheBuffer) {
  RequestWriter writer;
  Url url = ParseUrl("http://h/", "test");
  ByteBuffer out;
  ASSERT_EQ(writer.Write("GET", url, {}, {}, out), RequestError::kNone);
  size_t one = out.size();
  ASSERT_EQ(writer.Write("GET", url, {}, {}, out), RequestError::kNone);  // pipelined
  EXPECT_EQ(out.size(), 2 * one);
  size_t capacity = out.capacity();
  for (int i = 0; i < 100; ++i) {
    out.Clear();
    ASSERT_EQ(writer.Write("GET", url, {}, {}, out), RequestError::kNone);
  }
  EXPECT_EQ(out.capacity(), capacity);
}

struct InvalidCase {
  std::vector<Header> headers;
  std::string method;
  RequestError error;
  std::string message_part;
};

TEST(RequestWriterTest, RejectsInvalidInputAndLeavesBufferUnchanged) {
  RequestWriter writer;
  Url url = ParseUrl("http://h/", "test");
  const InvalidCase cases[] = {
      {{{"X Bad", "v"}}, "GET", RequestError::kInvalidHeaderName, "invalid header name \"X Bad\""},
      {{{"X:Bad", "v"}}, "GET", RequestError::kInvalidHeaderName, "invalid header name"},
      {{{"", "v"}}, "GET", RequestError::kInvalidHeaderName, "invalid header name \"\""},
      {{{"X-A", "a\r\nInjected: 1"}},
       "GET",
       RequestError::kInvalidHeaderValue,
       "invalid value for header \"X-A\": it must not contain CR, LF"},
      {{{"X-A", "a\nb"}}, "GET", RequestError::kInvalidHeaderValue, "X-A"},
      {{{"X-A", std::string_view("a\0b", 3)}}, "GET", RequestError::kInvalidHeaderValue, "X-A"},
      {{}, "GE T", RequestError::kInvalidMethod, "invalid HTTP method \"GE T\""},
      {{}, "", RequestError::kInvalidMethod, "invalid HTTP method"},
  };
  for (const InvalidCase& c : cases) {
    ByteBuffer out;
    out.Append("previous");
    std::string message;
    EXPECT_EQ(writer.Write(c.method, url, c.headers, {}, out, &message), c.error) << message;
    EXPECT_THAT(message, HasSubstr(c.message_part));
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    EXPECT_EQ(out.view(), "previous");
  }
}

TEST(RequestWriterTest, ValidHeaderValuesPass) {
  RequestWriter writer;
  Header headers[] = {{"X-Tab", "a\tb"},
                      {"X-Utf8", "caf\xC3\xA9"},
                      {"X-Empty", ""},
                      {"X-Token!#$%&'*+-.^_`|~", "1"}};
  ByteBuffer out;
  EXPECT_EQ(writer.Write("GET", ParseUrl("http://h/", "t"), headers, {}, out), RequestError::kNone);
  EXPECT_THAT(std::string(out.view()), HasSubstr("X-Empty: \r\n"));
}

// Values and targets are checked 8 bytes at a time: every byte value at
// every position of a long string is judged exactly as byte by byte.
TEST(RequestWriterTest, WordWiseValidationMatchesByteWise) {
  RequestWriter writer;
  const Url url = ParseUrl("http://h/", "t");
  ByteBuffer out;
  for (size_t pos = 0; pos < 24; ++pos) {
    for (int b = 0; b < 256; ++b) {
      std::string value(24, 'v');
      value[pos] = static_cast<char>(b);
      const bool control = (b < 0x20 && b != '\t') || b == 0x7f;
      Header headers[] = {{"X-Long", value}};
      out.Clear();
      EXPECT_EQ(writer.Write("GET", url, headers, {}, out),
                control ? RequestError::kInvalidHeaderValue : RequestError::kNone)
          << "byte " << b << " at " << pos;
      std::string target = "/" + std::string(23, 'p');
      target[pos] = static_cast<char>(b);
      const bool invisible = b <= 0x20 || b == 0x7f;
      out.Clear();
      EXPECT_EQ(writer.Write({.method = "GET", .host = "h", .target = target, .headers = {}}, {}, out),
                invisible ? RequestError::kInvalidTarget : RequestError::kNone)
          << "target byte " << b << " at " << pos;
    }
  }
}

TEST(RequestWriterTest, RejectsBadTargetAndHost) {
  RequestWriter writer;
  ByteBuffer out;
  std::string message;
  EXPECT_EQ(writer.Write({.method = "GET", .host = "h", .target = "/a b", .headers = {}}, {}, out,
                         &message),
            RequestError::kInvalidTarget);
  EXPECT_THAT(message, HasSubstr("invalid request target \"/a b\""));
  EXPECT_EQ(writer.Write({.method = "GET", .host = "h\r\n", .target = "/", .headers = {}}, {}, out,
                         &message),
            RequestError::kInvalidHost);
  EXPECT_THAT(message, HasSubstr("invalid Host \"h\\x0d\\x0a\""));
  EXPECT_EQ(
      writer.Write({.method = "GET", .host = "", .target = "/", .headers = {}}, {}, out, &message),
      RequestError::kInvalidHost);
  // A caller-set Host makes the missing one irrelevant.
  Header host[] = {{"Host", "h"}};
  EXPECT_EQ(writer.Write({.method = "GET", .host = "", .target = "/", .headers = host}, {}, out),
            RequestError::kNone);
  EXPECT_TRUE(out.view().starts_with("GET / HTTP/1.1\r\nUser-Agent: stampede/0.1\r\nHost: h\r\n"));
  EXPECT_EQ(RequestErrorName(RequestError::kInvalidHeaderValue), "invalid header value");
}

TEST(PreparedRequestTest, SerialisedOnce) {
  RequestWriter writer;
  Header headers[] = {{"Accept", "*/*"}};
  PreparedRequest req = PreparedRequest::Prepare(
      writer, "POST", ParseUrl("http://u:p@h:8080/submit", "--url"), headers, "body");
  EXPECT_EQ(req.bytes(),
            "POST /submit HTTP/1.1\r\nHost: h:8080\r\nUser-Agent: stampede/0.1\r\nAccept: */*\r\n"
            "Content-Length: 4\r\n\r\nbody");
  EXPECT_EQ(req.head_size(), req.bytes().size() - 4);
  EXPECT_FALSE(req.head_request());
  EXPECT_EQ(req.url().port, 8080);
  // Stable storage: the same bytes every time, no work per use.
  EXPECT_EQ(req.bytes().data(), req.bytes().data());

  PreparedRequest head = PreparedRequest::Prepare(writer, "HEAD", ParseUrl("http://h/", "--url"));
  EXPECT_TRUE(head.head_request());
  EXPECT_EQ(head.head_size(), head.bytes().size());
}

TEST(PreparedRequestTest, InvalidHeaderThrowsConfigError) {
  RequestWriter writer;
  Header headers[] = {{"Bad Name", "x"}};
  try {
    PreparedRequest::Prepare(writer, "GET", ParseUrl("http://h/", "--url"), headers);
    FAIL() << "no exception";
  } catch (const core::ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("invalid header name \"Bad Name\""));
  }
}

}  // namespace
}  // namespace stampede::http
