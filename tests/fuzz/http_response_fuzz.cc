// libFuzzer target for the HTTP/1.1 response path (src/http/response_parser.h):
// the bytes a server under test (or anything listening where the user points
// stampede) sends back. The connection state machine in src/http/client.cc
// needs an event loop, a resolver and real sockets, so this target drives the
// parser the way a connection does instead: feed each read, on kComplete
// Reset() and parse the leftover bytes as the next (pipelined) response, on
// kError stop, at the end of the stream FeedEof().
//
// Input layout:
//   byte 0     options: bit 0 HEAD request, bit 1 capture headers, bits 2-3
//              body sink (none / ByteBuffer / std::string / std::string with
//              a small max_body_bytes), bit 4 grow the headers to the 80 KiB
//              limit (byte 2 picks the distance to it), bit 5 EOF at the end
//   byte 1     n: the number of chunk-boundary bytes that follow
//   n bytes    chunk sizes (each 1 + byte % 64; the last one repeats)
//   rest       the response stream
//
// Invariants (a broken one aborts):
//   - feeding the stream whole and feeding it in the chosen chunks give the
//     same responses: state, error, status, version, keep-alive, framing,
//     header/body/wire byte counts, kept body and captured headers — after
//     an error only the state, the error, the status and whether the headers
//     were complete (the response is unusable then, and how far http-parser
//     got before noticing, e.g. the 80 KiB header limit, depends on where the
//     reads were cut);
//   - consumed <= len; wire_bytes is the sum of what Feed() consumed;
//     header_bytes <= wire_bytes; a completed response with Content-Length
//     and a body has body_bytes == Content-Length; the kept body is a prefix
//     of at most max_body_bytes of the decoded body and body_truncated says
//     whether it was cut; after kComplete/kError Feed() consumes nothing and
//     repeats the state; an error always has a kind.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "http/byte_buffer.h"
#include "http/response_parser.h"

namespace stampede::http {
namespace {

using ::stampede::fuzz::Require;

struct Options {
  bool head = false;
  bool capture_headers = false;
  int sink = 0;  // 0 none, 1 ByteBuffer, 2 string, 3 string capped
  bool eof = false;
};

// What one response looked like, for the whole-vs-chunked comparison.
struct Outcome {
  ParseState state = ParseState::kNeedMore;
  ParseError error = ParseError::kNone;
  int status = 0;
  int major = 0, minor = 0;
  bool keep_alive = false, chunked = false, headers_complete = false, truncated = false;
  bool has_content_length = false;
  uint64_t content_length = 0;
  uint64_t header_bytes = 0, body_bytes = 0, wire_bytes = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  bool operator==(const Outcome& o) const {
    if (state != o.state) return false;
    // Beyond the 80 KiB header limit, which of "headers too large" and a
    // syntax error http-parser reports first depends on the reads (it checks
    // the limit per call).
    if (state == ParseState::kError &&
        (error == ParseError::kHeadersTooLarge || o.error == ParseError::kHeadersTooLarge)) {
      return true;
    }
    if (error != o.error || status != o.status || headers_complete != o.headers_complete) {
      return false;
    }
    // After an error only what went wrong must agree: where http-parser
    // notices it (e.g. the 80 KiB header limit, checked per call) and so
    // how many bytes it consumed first depends on where the reads were cut.
    if (state == ParseState::kError) return true;
    return major == o.major && minor == o.minor && keep_alive == o.keep_alive &&
           chunked == o.chunked && truncated == o.truncated &&
           has_content_length == o.has_content_length && content_length == o.content_length &&
           header_bytes == o.header_bytes && body_bytes == o.body_bytes &&
           wire_bytes == o.wire_bytes && headers == o.headers && body == o.body;
  }
};

constexpr size_t kCap = 7;  // the capped sink's max_body_bytes

class Connection {
 public:
  explicit Connection(const Options& o) : o_(o) { Start(); }

  // One read of `data`. Returns false once the connection is done (error).
  bool Read(std::string_view data) {
    while (!done_) {
      if (data.empty()) return true;
      const ParseResult r = parser_.Feed(data.data(), data.size());
      Require(r.consumed <= data.size(), "consumed more than fed");
      fed_ += r.consumed;
      Require(parser_.wire_bytes() == fed_, "wire_bytes is not the sum of consumed");
      Require(r.state == parser_.state(), "result state differs from state()");
      if (r.state == ParseState::kNeedMore) {
        Require(r.consumed == data.size(), "kNeedMore without consuming everything");
        return true;
      }
      Check(r);
      data.remove_prefix(r.consumed);
      Finish();
      if (r.state == ParseState::kError) {
        done_ = true;
        return false;
      }
      // Interim responses are skipped inside; a 101 ends the HTTP exchange.
      if (outcomes_.back().status == 101) {
        done_ = true;
        return false;
      }
      Start();
    }
    return false;
  }

  void Eof() {
    if (done_) return;
    const ParseResult r = parser_.FeedEof();
    Require(r.consumed == 0, "FeedEof consumed bytes");
    Require(r.state != ParseState::kNeedMore, "FeedEof left the response unfinished");
    Check(r);
    if (!parser_.first_byte_seen()) {
      Require(r.code == ParseError::kConnectionClosed, "EOF before any byte is not kConnectionClosed");
    }
    Finish();
    done_ = true;
  }

  // Pending (unfinished) response state, for the comparison when no EOF.
  void Flush() {
    if (!done_ && parser_.first_byte_seen()) Finish();
  }

  const std::vector<Outcome>& outcomes() const { return outcomes_; }

 private:
  void Start() {
    ResponseOptions ro;
    ro.head_request = o_.head;
    if (o_.capture_headers) ro.headers = &headers_;
    switch (o_.sink) {
      case 1:
        ro.body = &buffer_;
        break;
      case 2:
        ro.body_string = &string_;
        break;
      case 3:
        ro.body_string = &string_;
        ro.max_body_bytes = kCap;
        break;
      default:
        break;
    }
    parser_.Reset(ro);
    fed_ = 0;
    Require(parser_.state() == ParseState::kNeedMore && parser_.wire_bytes() == 0 &&
                !parser_.first_byte_seen(),
            "Reset did not reset");
    Require(buffer_.size() == 0 && string_.empty() && headers_.empty(), "Reset kept buffers");
  }

  void Check(const ParseResult& r) {
    if (r.state == ParseState::kError) {
      Require(r.code != ParseError::kNone && !r.error.empty(), "an error without a kind");
      Require(r.error == ParseErrorKind(r.code), "error text is not the kind");
    } else {
      Require(r.code == ParseError::kNone, "a completed response with an error");
      Require(parser_.headers_complete(), "complete without headers");
      const int s = parser_.status();
      Require(s >= 100 && s <= 999, "status out of range");
      Require(s < 100 || s >= 200 || s == 101, "completed on an interim response");
      Require(parser_.header_bytes() > 0, "no header bytes");
      const bool no_body = o_.head || s == 204 || s == 304 || (s >= 100 && s < 200);
      if (no_body) Require(parser_.body_bytes() == 0, "a body where none may be");
      if (!no_body && parser_.content_length() && !parser_.chunked()) {
        Require(parser_.body_bytes() == *parser_.content_length(),
                "body_bytes differs from Content-Length");
      }
    }
    Require(parser_.header_bytes() <= parser_.wire_bytes(), "header_bytes > wire_bytes");
    Require(parser_.body_bytes() <= parser_.wire_bytes(), "body_bytes > wire_bytes");
    // A second Feed after the end changes nothing.
    const ParseResult again = parser_.Feed("x", 1);
    Require(again.consumed == 0 && again.state == r.state && again.code == r.code,
            "Feed after the end changed the state");
  }

  void Finish() {
    Outcome out;
    out.state = parser_.state();
    out.error = parser_.error();
    out.status = parser_.status();
    out.headers_complete = parser_.headers_complete();
    if (out.headers_complete) {
      out.major = parser_.http_major();
      out.minor = parser_.http_minor();
    }
    out.keep_alive = out.state == ParseState::kComplete && parser_.keep_alive();
    out.chunked = parser_.chunked();
    out.truncated = parser_.body_truncated();
    out.has_content_length = parser_.content_length().has_value();
    out.content_length = parser_.content_length().value_or(0);
    out.header_bytes = parser_.header_bytes();
    out.body_bytes = parser_.body_bytes();
    out.wire_bytes = parser_.wire_bytes();
    // After an error the captured headers are whatever http-parser had
    // reported before it: a name cut by the read boundary shows up only
    // when fed in pieces. They are unusable then; compare them only
    // otherwise.
    if (o_.capture_headers && out.state != ParseState::kError) {
      for (size_t i = 0; i < headers_.size(); ++i) {
        out.headers.emplace_back(std::string(headers_.name(i)), std::string(headers_.value(i)));
      }
    }
    if (o_.sink == 1) out.body.assign(buffer_.data(), buffer_.size());
    if (o_.sink >= 2) out.body = string_;
    if (o_.sink != 0) {
      const uint64_t cap = o_.sink == 3 ? kCap : UINT64_MAX;
      Require(out.body.size() <= cap && out.body.size() <= out.body_bytes, "kept too much body");
      Require(out.truncated == (out.body_bytes > out.body.size()), "body_truncated is wrong");
    } else {
      Require(!out.truncated, "truncated without a sink");
    }
    outcomes_.push_back(std::move(out));
  }

  Options o_;
  ResponseParser parser_;
  HeaderList headers_;
  ByteBuffer buffer_;
  std::string string_;
  uint64_t fed_ = 0;
  bool done_ = false;
  std::vector<Outcome> outcomes_;
};

std::string Describe(const std::vector<Outcome>& outcomes) {
  std::string out;
  for (const Outcome& o : outcomes) {
    char line[512];
    std::snprintf(line, sizeof line,
                  "  state=%d error=%s status=%d %d.%d keep_alive=%d chunked=%d headers_complete=%d "
                  "truncated=%d content_length=%d:%llu header_bytes=%llu body_bytes=%llu "
                  "wire_bytes=%llu headers=%zu body=%zu\n",
                  static_cast<int>(o.state), std::string(ParseErrorKind(o.error)).c_str(), o.status,
                  o.major, o.minor, o.keep_alive, o.chunked, o.headers_complete, o.truncated,
                  o.has_content_length, static_cast<unsigned long long>(o.content_length),
                  static_cast<unsigned long long>(o.header_bytes),
                  static_cast<unsigned long long>(o.body_bytes),
                  static_cast<unsigned long long>(o.wire_bytes), o.headers.size(), o.body.size());
    out += line;
    for (const auto& [name, value] : o.headers) {
      out += "    " + name.substr(0, 60) + ": " + value.substr(0, 60) + "\n";
    }
  }
  return out;
}

std::vector<Outcome> Run(const Options& o, std::string_view stream,
                         const std::vector<size_t>* chunks) {
  Connection c(o);
  if (chunks == nullptr) {
    c.Read(stream);
  } else {
    size_t i = 0;
    while (!stream.empty()) {
      const size_t n = std::min(stream.size(), (*chunks)[std::min(i, chunks->size() - 1)]);
      ++i;
      if (!c.Read(stream.substr(0, n))) break;
      stream.remove_prefix(n);
    }
  }
  if (o.eof) {
    c.Eof();
  } else {
    c.Flush();
  }
  return c.outcomes();
}

// Makes the status line + headers end close to http-parser's 80 KiB header
// limit: inserts one long header after the first line of `stream`.
std::string GrowHeaders(std::string_view stream, uint8_t distance) {
  const size_t nl = stream.find('\n');
  if (nl == std::string_view::npos) return std::string(stream);
  constexpr size_t kLimit = 80 * 1024;
  const size_t pad = kLimit - 128 + distance;  // a little below to a little above
  std::string out(stream.substr(0, nl + 1));
  out += "X-Pad: ";
  out.append(pad, 'a');
  out += "\r\n";
  out += stream.substr(nl + 1);
  return out;
}

}  // namespace
}  // namespace stampede::http

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace stampede::http;
  if (size < 2) return 0;
  const uint8_t mode = data[0];
  const size_t n = data[1] % 32;
  if (size < 2 + n) return 0;
  Options o;
  o.head = mode & 1;
  o.capture_headers = mode & 2;
  o.sink = (mode >> 2) & 3;
  o.eof = mode & 0x20;
  std::vector<size_t> chunks;
  for (size_t i = 0; i < n; ++i) chunks.push_back(1 + data[2 + i] % 64);
  if (chunks.empty()) chunks.push_back(1);
  std::string_view stream(reinterpret_cast<const char*>(data) + 2 + n, size - 2 - n);
  std::string grown;
  if (mode & 0x10) {
    grown = GrowHeaders(stream, n > 0 ? data[2] : 0);
    stream = grown;
    // Big reads, so that the grown input stays fast.
    for (size_t& c : chunks) c *= 1024;
  }
  const auto whole = Run(o, stream, nullptr);
  const auto split = Run(o, stream, &chunks);
  if (!(whole == split)) {
    std::fprintf(stderr, "whole:\n%s\nchunked:\n%s\n", Describe(whole).c_str(),
                 Describe(split).c_str());
    Require(false, "whole and chunked feeding disagree");
  }
  return 0;
}
