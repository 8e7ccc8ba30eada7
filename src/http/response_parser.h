// Incremental HTTP/1.1 response parsing (http-parser underneath) for one
// connection, reused for every response on a keep-alive connection.
//
// Hot path: no allocation in steady state. Discarding the body and not
// capturing headers (the defaults) costs only the parse itself; kept bodies
// and captured headers go into caller-owned buffers that grow to their
// high-water mark once. Never throws. Not thread-safe: one connection, one
// thread.
//
// Use:
//   parser.Reset({.head_request = is_head});      // before each response
//   for each read: r = parser.Feed(buf, n);       // until r.state != kNeedMore
//   on EOF:        r = parser.FeedEof();
//   kComplete: bytes [r.consumed, n) of the last buffer belong to whatever
//   follows (a pipelined response, or garbage: the caller decides).
#pragma once

#include <http_parser.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/byte_buffer.h"

namespace stampede::http {

// Response headers captured as name/value pairs into one arena. Reusable:
// Clear() keeps the capacity, so a reused HeaderList stops allocating once it
// has seen its largest response. Views returned stay valid until the next
// Clear() or append.
class HeaderList {
 public:
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  std::string_view name(size_t i) const {
    return Slice(entries_[i].name_off, entries_[i].name_len);
  }
  std::string_view value(size_t i) const {
    return Slice(entries_[i].value_off, entries_[i].value_len);
  }
  // The first value of the header named `name` (ASCII case-insensitive), if any.
  std::optional<std::string_view> Find(std::string_view name) const;
  void Clear() {
    entries_.clear();
    arena_.Clear();
  }
  // Appends one whole header (HTTP/2 delivers them so).
  void Add(std::string_view name, std::string_view value) {
    in_value_ = true;  // a new entry
    AppendName(name.data(), name.size());
    AppendValue(value.data(), value.size());
  }

 private:
  friend class ResponseParser;
  struct Entry {
    uint32_t name_off, name_len, value_off, value_len;
  };
  std::string_view Slice(uint32_t off, uint32_t len) const { return {arena_.data() + off, len}; }
  // http-parser may deliver a name or value in several pieces.
  void AppendName(const char* at, size_t len);
  void AppendValue(const char* at, size_t len);

  std::vector<Entry> entries_;
  ByteBuffer arena_;
  bool in_value_ = false;
};

// What to do with one response. Buffers are borrowed until the next Reset().
struct ResponseOptions {
  // The request was HEAD: no body follows, whatever the headers say.
  bool head_request = false;
  // Where to keep the body: a ByteBuffer, or a std::string (whose capacity is
  // reused the same way). Both nullptr: discard it (its size is still counted).
  // If both are set, `body` wins.
  ByteBuffer* body = nullptr;
  std::string* body_string = nullptr;
  // Keep at most this many body bytes; the rest is counted and dropped, and
  // body_truncated() becomes true. Only used when a body sink is set.
  size_t max_body_bytes = SIZE_MAX;
  // Where to capture the headers; nullptr captures none at zero cost.
  HeaderList* headers = nullptr;
};

enum class ParseState : uint8_t {
  kNeedMore,  // feed more bytes (or EOF)
  kComplete,  // a final response has been parsed completely
  kError,     // the response is unusable; close the connection
};

// Why a response failed. Low-cardinality: fit for a metric tag.
enum class ParseError : uint8_t {
  kNone = 0,
  kInvalidStatusLine,        // e.g. not "HTTP/1.x nnn ..."
  kInvalidHeader,            // bad header syntax
  kHeadersTooLarge,          // more than 80 KiB of status line and headers
  kInvalidContentLength,     // unparsable or conflicting Content-Length
  kInvalidTransferEncoding,  // e.g. chunked not last
  kInvalidChunk,             // bad chunk size line or chunk framing
  kTruncated,                // EOF inside the headers or a length-delimited body
  kConnectionClosed,         // EOF before the first byte of the response
  kUnsupported,              // e.g. protocol upgrade
};
// A short stable description, e.g. "invalid status line", "truncated"; ""
// for kNone. Static storage.
std::string_view ParseErrorKind(ParseError error);

struct ParseResult {
  size_t consumed = 0;  // bytes of this Feed() call that belong to the response
  ParseState state = ParseState::kNeedMore;
  ParseError code = ParseError::kNone;
  std::string_view error;  // ParseErrorKind(code): static text, "" when no error
};

class ResponseParser {
 public:
  ResponseParser();
  ResponseParser(const ResponseParser&) = delete;
  ResponseParser& operator=(const ResponseParser&) = delete;

  // Prepares for the next response on this connection. Clears options.body
  // and options.headers.
  void Reset(const ResponseOptions& options = {});
  void Reset(bool head_request) { Reset(ResponseOptions{.head_request = head_request}); }
  // Keeps up to `max_body_bytes` of the body in `*body` (nullptr: discard).
  void Reset(bool head_request, std::string* body, size_t max_body_bytes) {
    Reset(ResponseOptions{
        .head_request = head_request, .body_string = body, .max_body_bytes = max_body_bytes});
  }

  // Parses bytes received for the current response; `data` is borrowed for the
  // call only. Stops at the end of the final response (interim 1xx responses
  // such as 100 Continue are skipped). After kComplete or kError, further calls
  // return the same state and consume nothing until Reset().
  ParseResult Feed(const char* data, size_t len);
  ParseResult Feed(std::string_view data) { return Feed(data.data(), data.size()); }
  // The peer closed the connection. Completes a close-delimited body; anything
  // else unfinished is an error: kConnectionClosed if no byte had arrived (a
  // keep-alive connection the server closed — safe to retry), else kTruncated.
  ParseResult FeedEof();

  ParseState state() const { return state_; }
  ParseError error() const { return error_; }
  std::string_view error_kind() const { return ParseErrorKind(error_); }
  // The http-parser errno name behind a parse error, e.g.
  // "HPE_INVALID_CHUNK_SIZE"; "HPE_OK" otherwise.
  std::string_view parser_errno() const;

  // Valid once the headers are complete (status() != 0).
  int status() const { return status_; }
  int http_major() const { return parser_.http_major; }
  int http_minor() const { return parser_.http_minor; }
  // Whether the connection may carry another request after this response
  // (HTTP/1.1 without Connection: close, or HTTP/1.0 with keep-alive, and not
  // a close-delimited body). Meaningful once kComplete.
  bool keep_alive() const { return keep_alive_; }
  std::optional<uint64_t> content_length() const { return content_length_; }
  bool chunked() const { return chunked_; }
  bool headers_complete() const { return headers_complete_; }
  // Whether any byte of the response has arrived since Reset() (time to
  // first byte is taken when this first becomes true).
  bool first_byte_seen() const { return first_byte_seen_; }
  // Status lines and headers, including interim 1xx responses and the blank
  // line that ends the headers.
  uint64_t header_bytes() const { return header_bytes_; }
  // Decoded body bytes (without chunk framing), whether kept or not.
  uint64_t body_bytes() const { return body_bytes_; }
  // All bytes consumed for this response so far.
  uint64_t wire_bytes() const { return wire_bytes_; }
  // The response completed before the end of the last Feed() buffer: the bytes
  // after it (r.consumed onwards) are not part of it. A client that does not
  // pipeline should not reuse the connection.
  bool has_leftover() const { return has_leftover_; }
  // The body was longer than max_body_bytes and was cut.
  bool body_truncated() const { return body_truncated_; }

  // The fast path (on by default, kept across Reset()): a response whose
  // status line and headers arrive whole in the first Feed() and that is
  // plainly well-formed (HTTP/1.0 or 1.1, CRLF line ends, a final status of
  // 200-999, token header names, no Transfer-Encoding/Upgrade, at most one
  // plain Content-Length) is read by a direct scan instead of http-parser's
  // byte-at-a-time state machine; its Content-Length body is then counted
  // off without it. Anything else (split heads, chunked, close-delimited
  // bodies, interim 1xx, anything odd) goes to http-parser from its first
  // byte, so every result is the one http-parser gives. Off: http-parser
  // only (tests compare both).
  void set_fast_path(bool on) { fast_path_ = on; }

 private:
  static int OnMessageBegin(http_parser* p);
  static int OnStatus(http_parser* p, const char* at, size_t len);
  static int OnHeaderField(http_parser* p, const char* at, size_t len);
  static int OnHeaderValue(http_parser* p, const char* at, size_t len);
  static int OnHeadersComplete(http_parser* p);
  static int OnBody(http_parser* p, const char* at, size_t len);
  static int OnMessageComplete(http_parser* p);
  ParseResult Fail(ParseError error, size_t consumed);
  ParseError Classify() const;
  // The fast path: true when it took the response (then `*result` is set);
  // false leaves everything for http-parser (nothing consumed or kept).
  bool FastHead(const char* data, size_t len, ParseResult* result);
  ParseResult FeedFastBody(const char* data, size_t len);
  // Counts (and keeps, within max_body_bytes) `len` decoded body bytes.
  void TakeBody(const char* at, size_t len);

  http_parser parser_;
  const http_parser_settings* settings_;
  ResponseOptions options_;

  ParseState state_ = ParseState::kNeedMore;
  ParseError error_ = ParseError::kNone;
  bool first_byte_seen_ = false;
  bool status_line_seen_ = false;
  bool bad_status_ = false;  // a status code below 100 (http-parser takes 1 or 2 digits)
  bool headers_complete_ = false;
  bool keep_alive_ = false;
  bool chunked_ = false;
  bool body_truncated_ = false;
  bool has_leftover_ = false;
  bool fast_path_ = true;
  bool fast_body_ = false;    // the fast path is counting off a body
  bool fast_keep_alive_ = false;
  uint64_t fast_remaining_ = 0;
  int status_ = 0;
  std::optional<uint64_t> content_length_;
  uint64_t header_bytes_ = 0;
  uint64_t body_bytes_ = 0;
  uint64_t wire_bytes_ = 0;
};

}  // namespace stampede::http
