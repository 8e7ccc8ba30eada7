#include "http/response_parser.h"

#include <algorithm>
#include <cstring>

#include "core/ascii.h"

namespace stampede::http {
namespace {

using core::EqualsIgnoreCase;


// 1xx responses other than 101 are interim: the final response follows.
bool IsInterim(int status) { return status >= 100 && status < 200 && status != 101; }

}  // namespace

std::optional<std::string_view> HeaderList::Find(std::string_view name) const {
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (EqualsIgnoreCase(this->name(i), name)) return value(i);
  }
  return std::nullopt;
}

void HeaderList::AppendName(const char* at, size_t len) {
  if (in_value_ || entries_.empty()) {
    entries_.push_back(Entry{static_cast<uint32_t>(arena_.size()), 0, 0, 0});
    in_value_ = false;
  }
  arena_.Append(at, len);
  entries_.back().name_len += static_cast<uint32_t>(len);
}

void HeaderList::AppendValue(const char* at, size_t len) {
  Entry& entry = entries_.back();  // http-parser always reports a name first
  if (!in_value_) {
    in_value_ = true;
    entry.value_off = static_cast<uint32_t>(arena_.size());
  }
  arena_.Append(at, len);
  entry.value_len += static_cast<uint32_t>(len);
}

std::string_view ParseErrorKind(ParseError error) {
  switch (error) {
    case ParseError::kNone:
      return "";
    case ParseError::kInvalidStatusLine:
      return "invalid status line";
    case ParseError::kInvalidHeader:
      return "invalid header";
    case ParseError::kHeadersTooLarge:
      return "headers too large";
    case ParseError::kInvalidContentLength:
      return "invalid content-length";
    case ParseError::kInvalidTransferEncoding:
      return "invalid transfer-encoding";
    case ParseError::kInvalidChunk:
      return "invalid chunk";
    case ParseError::kTruncated:
      return "truncated";
    case ParseError::kConnectionClosed:
      return "connection closed";
    case ParseError::kUnsupported:
      return "unsupported";
  }
  return "unknown";
}

namespace {

// Header callbacks are registered only when headers are captured, so that not
// capturing them costs nothing.
constexpr http_parser_settings MakeSettings(bool capture_headers, http_cb on_message_begin,
                                            http_data_cb on_status, http_data_cb on_header_field,
                                            http_data_cb on_header_value,
                                            http_cb on_headers_complete, http_data_cb on_body,
                                            http_cb on_message_complete) {
  http_parser_settings s{};
  s.on_message_begin = on_message_begin;
  s.on_status = on_status;
  if (capture_headers) {
    s.on_header_field = on_header_field;
    s.on_header_value = on_header_value;
  }
  s.on_headers_complete = on_headers_complete;
  s.on_body = on_body;
  s.on_message_complete = on_message_complete;
  return s;
}

}  // namespace

ResponseParser::ResponseParser() {
  http_parser_init(&parser_, HTTP_RESPONSE);
  parser_.data = this;
  Reset();
}

void ResponseParser::Reset(const ResponseOptions& options) {
  static const http_parser_settings kPlain =
      MakeSettings(false, &OnMessageBegin, &OnStatus, &OnHeaderField, &OnHeaderValue,
                   &OnHeadersComplete, &OnBody, &OnMessageComplete);
  static const http_parser_settings kCapturing =
      MakeSettings(true, &OnMessageBegin, &OnStatus, &OnHeaderField, &OnHeaderValue,
                   &OnHeadersComplete, &OnBody, &OnMessageComplete);

  http_parser_init(&parser_, HTTP_RESPONSE);  // keeps parser_.data
  options_ = options;
  settings_ = options.headers != nullptr ? &kCapturing : &kPlain;
  if (options.body != nullptr) options.body->Clear();
  if (options.body_string != nullptr) options.body_string->clear();
  if (options.headers != nullptr) options.headers->Clear();
  state_ = ParseState::kNeedMore;
  error_ = ParseError::kNone;
  first_byte_seen_ = false;
  status_line_seen_ = false;
  bad_status_ = false;
  headers_complete_ = false;
  keep_alive_ = false;
  chunked_ = false;
  body_truncated_ = false;
  has_leftover_ = false;
  fast_body_ = false;
  fast_remaining_ = 0;
  status_ = 0;
  content_length_.reset();
  header_bytes_ = 0;
  body_bytes_ = 0;
  wire_bytes_ = 0;
}

ParseResult ResponseParser::Feed(const char* data, size_t len) {
  if (state_ != ParseState::kNeedMore) return {0, state_, error_, ParseErrorKind(error_)};
  if (len == 0) return {};  // len 0 would mean EOF to http-parser
  if (fast_body_) return FeedFastBody(data, len);
  if (!first_byte_seen_) {
    first_byte_seen_ = true;
    ParseResult fast;
    if (fast_path_ && FastHead(data, len, &fast)) return fast;
  }
  size_t off = 0;
  while (true) {
    off += http_parser_execute(&parser_, settings_, data + off, len - off);
    http_errno err = HTTP_PARSER_ERRNO(&parser_);
    if (err == HPE_OK) break;  // everything consumed, response not finished
    if (err != HPE_PAUSED) return Fail(Classify(), off);
    http_parser_pause(&parser_, 0);
    if (state_ == ParseState::kComplete) break;
    // Paused in on_headers_complete, before the LF that ends the headers: this
    // is the one place where the header size is known. The LF is still
    // unconsumed, so there is always more to execute.
    header_bytes_ = wire_bytes_ + off + 1;
    // http-parser counts every header byte against its 80 KiB limit as it
    // reads it, and counts the LF again when execution resumes on it: a
    // header block of exactly the limit would fail as too large, with
    // header_bytes() beyond wire_bytes() (found by
    // tests/fuzz/http_response_fuzz). Uncount it once.
    if (parser_.nread > 0) --parser_.nread;
  }
  wire_bytes_ += off;
  has_leftover_ = off < len;
  return {off, state_, ParseError::kNone, {}};
}

ParseResult ResponseParser::FeedEof() {
  if (state_ != ParseState::kNeedMore) return {0, state_, error_, ParseErrorKind(error_)};
  if (!first_byte_seen_) return Fail(ParseError::kConnectionClosed, 0);
  if (fast_body_) return Fail(ParseError::kTruncated, 0);  // a Content-Length body cut short
  // Completes a close-delimited body; in any other state it is an error.
  http_parser_execute(&parser_, settings_, nullptr, 0);
  if (state_ == ParseState::kComplete) return {0, state_, ParseError::kNone, {}};
  return Fail(ParseError::kTruncated, 0);
}

std::string_view ResponseParser::parser_errno() const {
  return http_errno_name(HTTP_PARSER_ERRNO(&parser_));
}

ParseResult ResponseParser::Fail(ParseError error, size_t consumed) {
  state_ = ParseState::kError;
  error_ = error;
  wire_bytes_ += consumed;
  return {consumed, state_, error_, ParseErrorKind(error_)};
}

ParseError ResponseParser::Classify() const {
  if (bad_status_) return ParseError::kInvalidStatusLine;
  switch (HTTP_PARSER_ERRNO(&parser_)) {
    case HPE_HEADER_OVERFLOW:
      return ParseError::kHeadersTooLarge;
    case HPE_INVALID_CONTENT_LENGTH:
    case HPE_UNEXPECTED_CONTENT_LENGTH:
      return ParseError::kInvalidContentLength;
    case HPE_INVALID_TRANSFER_ENCODING:
      return ParseError::kInvalidTransferEncoding;
    case HPE_INVALID_CHUNK_SIZE:
      return ParseError::kInvalidChunk;
    case HPE_CLOSED_CONNECTION:
      return ParseError::kUnsupported;
    default:
      break;
  }
  // Other errnos (bad constant, LF expected, strict checks) say where, not
  // what: the phase we were in tells the user more.
  if (!status_line_seen_) return ParseError::kInvalidStatusLine;
  if (headers_complete_ && chunked_) return ParseError::kInvalidChunk;
  return ParseError::kInvalidHeader;
}

// ---- the fast path ----
//
// http-parser reads a response a byte at a time through a state machine and
// a callback per header name and value: ~6 500 instructions for nginx's
// 240-byte head, the largest single cost of a script iteration. The common
// response is simple enough to read directly. The scan below accepts only a
// strict subset of what http-parser accepts, with the same results; on
// anything else it gives up before consuming a byte, and http-parser reads
// the response from its start (its first callback clears captured headers).

namespace {

// Bytes the fast path takes inside a header value or reason phrase: visible
// ASCII, space and tab (no obs-text, no controls: http-parser decides those).
constexpr bool IsPlainText(unsigned char c) { return (c >= 0x20 && c < 0x7f) || c == '\t'; }

// The first byte at or after `p` that is not plain text, or `end`: eight
// bytes per step while they are all 0x20-0x7e (a CR, a tab or anything else
// stops the word scan; the byte loop then finds it).
const char* SkipPlainText(const char* p, const char* end) {
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  constexpr uint64_t kHighs = 0x8080808080808080ull;
  while (end - p >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    const uint64_t below = (w - kOnes * 0x20) & ~w & kHighs;  // some byte < 0x20
    const uint64_t above = ((w + kOnes) | w) & kHighs;         // some byte >= 0x7f
    if ((below | above) != 0) break;
    p += 8;
  }
  while (p < end && static_cast<unsigned char>(*p) >= 0x20 && static_cast<unsigned char>(*p) < 0x7f) {
    ++p;
  }
  return p;
}

// http-parser's special header names, by what the fast path does with them.
enum class Special { kNone, kContentLength, kConnection, kGiveUp };

Special ClassifyHeader(const char* name, size_t len) {
  using core::AsciiLower;
  // Whether the name starts with `lower`, ignoring case.
  auto starts = [&](std::string_view lower) {
    if (len < lower.size()) return false;
    for (size_t i = 0; i < lower.size(); ++i) {
      if (AsciiLower(name[i]) != lower[i]) return false;
    }
    return true;
  };
  // http-parser keeps some state from a name that merely starts with one of
  // its special names (e.g. "Transfer-Encoding-X" still refuses a
  // Content-Length): such names are left to it.
  switch (AsciiLower(name[0])) {
    case 'c':
      if (starts("content-length")) return len == 14 ? Special::kContentLength : Special::kGiveUp;
      if (starts("connection")) return len == 10 ? Special::kConnection : Special::kGiveUp;
      return Special::kNone;
    case 't':
      return starts("transfer-encoding") ? Special::kGiveUp : Special::kNone;
    case 'p':
      return starts("proxy-connection") ? Special::kGiveUp : Special::kNone;
    case 'u':
      return starts("upgrade") ? Special::kGiveUp : Special::kNone;
    default:
      return Special::kNone;
  }
}

// The head must fit in one read; http-parser's limit is 80 KiB.
constexpr size_t kFastHeadLimit = 16 * 1024;

}  // namespace

bool ResponseParser::FastHead(const char* data, size_t len, ParseResult* result) {
  const char* p = data;
  const char* const end = data + std::min(len, kFastHeadLimit);
  // Status line: "HTTP/1.0 " or "HTTP/1.1 ", three digits (200-999), a space,
  // a plain reason phrase, CRLF.
  if (end - p < 14 || std::memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') ||
      p[8] != ' ' || p[12] != ' ') {
    return false;
  }
  const unsigned d0 = static_cast<unsigned char>(p[9]) - '0';
  const unsigned d1 = static_cast<unsigned char>(p[10]) - '0';
  const unsigned d2 = static_cast<unsigned char>(p[11]) - '0';
  if (d0 > 9 || d1 > 9 || d2 > 9) return false;
  const int status = static_cast<int>(d0 * 100 + d1 * 10 + d2);
  if (status < 200) return false;  // interim, 101, or invalid: http-parser
  const int minor = p[7] - '0';
  p += 13;
  while (p < end && *p != '\r') {
    if (!IsPlainText(static_cast<unsigned char>(*p))) return false;
    ++p;
  }
  if (end - p < 2 || p[1] != '\n') return false;  // (reason phrases are short)
  p += 2;

  // Captured headers are offsets into one copy of the whole header block,
  // appended to the arena once the head is taken.
  HeaderList* headers = options_.headers;
  const char* const block = p;
  if (headers != nullptr) headers->Clear();
  bool has_length = false, close = false, keep_alive = false;
  uint64_t length = 0;
  while (true) {
    if (p >= end) return false;
    if (*p == '\r') break;  // the blank line, or junk
    const char* name = p;
    while (p < end && core::kTokenChar[static_cast<unsigned char>(*p)]) ++p;
    if (p == name || p >= end || *p != ':') return false;
    const size_t name_len = static_cast<size_t>(p - name);
    ++p;
    while (p < end && (*p == ' ' || *p == '\t')) ++p;
    const char* value = p;
    while (true) {
      p = SkipPlainText(p, end);
      if (p < end && *p == '\t') {
        ++p;
        continue;
      }
      break;
    }
    if (p >= end || *p != '\r') return false;
    // CRLF, not followed by an obs-fold continuation line.
    if (end - p < 3 || p[1] != '\n' || p[2] == ' ' || p[2] == '\t') return false;
    const size_t value_len = static_cast<size_t>(p - value);
    if (value_len > 0 && (p[-1] == ' ' || p[-1] == '\t')) return false;  // trailing OWS
    p += 2;
    switch (ClassifyHeader(name, name_len)) {
      case Special::kNone:
        break;
      case Special::kGiveUp:
        return false;
      case Special::kContentLength:
        if (has_length || value_len == 0 || value_len > 15) return false;
        for (size_t i = 0; i < value_len; ++i) {
          const unsigned d = static_cast<unsigned char>(value[i]) - '0';
          if (d > 9) return false;
          length = length * 10 + d;
        }
        has_length = true;
        break;
      case Special::kConnection:
        if (core::EqualsIgnoreCase({value, value_len}, "close")) {
          close = true;
        } else if (core::EqualsIgnoreCase({value, value_len}, "keep-alive")) {
          keep_alive = true;
        } else {
          return false;
        }
        break;
    }
    if (headers != nullptr) {
      headers->entries_.push_back(HeaderList::Entry{static_cast<uint32_t>(name - block),
                                                    static_cast<uint32_t>(name_len),
                                                    static_cast<uint32_t>(value - block),
                                                    static_cast<uint32_t>(value_len)});
    }
  }
  if (end - p < 2 || p[1] != '\n') return false;
  p += 2;
  // No body: HEAD, 204, 304 (RFC 9112 6.3). Otherwise only a Content-Length
  // body; a close-delimited one is http-parser's.
  const bool no_body = options_.head_request || status == 204 || status == 304;
  if (!no_body && !has_length) return false;

  // Taken: the state http-parser would have reached.
  if (headers != nullptr) {
    headers->arena_.Append(block, static_cast<size_t>(p - block));  // (the arena was empty)
    headers->in_value_ = true;
  }
  parser_.http_major = 1;
  parser_.http_minor = static_cast<unsigned short>(minor);
  parser_.status_code = static_cast<unsigned int>(status);
  status_line_seen_ = true;
  headers_complete_ = true;
  status_ = status;
  if (has_length) content_length_ = length;
  chunked_ = false;
  size_t off = static_cast<size_t>(p - data);
  header_bytes_ = off;
  // http_should_keep_alive(): HTTP/1.1 unless "close"; HTTP/1.0 only with
  // "keep-alive" (the message never needs EOF here).
  fast_keep_alive_ = minor >= 1 ? !close : keep_alive;
  fast_remaining_ = no_body ? 0 : length;
  fast_body_ = true;
  wire_bytes_ = off;
  ParseResult body = FeedFastBody(data + off, len - off);
  *result = {off + body.consumed, body.state, ParseError::kNone, {}};
  has_leftover_ = result->consumed < len;
  return true;
}

ParseResult ResponseParser::FeedFastBody(const char* data, size_t len) {
  const size_t take = static_cast<size_t>(std::min<uint64_t>(fast_remaining_, len));
  if (take > 0) TakeBody(data, take);
  fast_remaining_ -= take;
  wire_bytes_ += take;
  has_leftover_ = take < len;
  if (fast_remaining_ == 0) {
    fast_body_ = false;
    state_ = ParseState::kComplete;
    keep_alive_ = fast_keep_alive_;
  }
  return {take, state_, ParseError::kNone, {}};
}

int ResponseParser::OnMessageBegin(http_parser* p) {
  auto* self = static_cast<ResponseParser*>(p->data);
  // A new message: the first one, or the final response after an interim 1xx.
  self->status_line_seen_ = false;
  self->headers_complete_ = false;
  self->status_ = 0;
  self->content_length_.reset();
  self->chunked_ = false;
  if (self->options_.headers != nullptr) self->options_.headers->Clear();
  return 0;
}

int ResponseParser::OnStatus(http_parser* p, const char*, size_t) {
  static_cast<ResponseParser*>(p->data)->status_line_seen_ = true;
  return 0;
}

int ResponseParser::OnHeaderField(http_parser* p, const char* at, size_t len) {
  auto* self = static_cast<ResponseParser*>(p->data);
  self->status_line_seen_ = true;
  self->options_.headers->AppendName(at, len);
  return 0;
}

int ResponseParser::OnHeaderValue(http_parser* p, const char* at, size_t len) {
  static_cast<ResponseParser*>(p->data)->options_.headers->AppendValue(at, len);
  return 0;
}

int ResponseParser::OnHeadersComplete(http_parser* p) {
  auto* self = static_cast<ResponseParser*>(p->data);
  self->status_line_seen_ = true;
  // RFC 9112: status-code = 3DIGIT, and RFC 9110 §15 starts at 100.
  // http-parser also takes "HTTP/1.1 50 x" (one or two digits; found by
  // tests/fuzz/http_response_fuzz) and "099": refuse them as a bad status
  // line. (600-999 stay accepted, as most clients do.)
  if (p->status_code < 100) {
    self->bad_status_ = true;
    return -1;  // HPE_CB_headers_complete
  }
  self->headers_complete_ = true;
  self->status_ = static_cast<int>(p->status_code);
  if (p->flags & F_CONTENTLENGTH) self->content_length_ = p->content_length;
  self->chunked_ = (p->flags & F_CHUNKED) != 0;
  // Stop here so that Feed() can count the header bytes.
  http_parser_pause(p, 1);
  int status = self->status_;
  // No body, whatever Content-Length or Transfer-Encoding say (RFC 9112 6.3).
  bool no_body = self->options_.head_request || status == 204 || status == 304 ||
                 (status >= 100 && status < 200);
  return no_body ? 1 : 0;
}

int ResponseParser::OnBody(http_parser* p, const char* at, size_t len) {
  static_cast<ResponseParser*>(p->data)->TakeBody(at, len);
  return 0;
}

void ResponseParser::TakeBody(const char* at, size_t len) {
  body_bytes_ += len;
  const ResponseOptions& o = options_;
  if (o.body == nullptr && o.body_string == nullptr) return;
  size_t kept = o.body != nullptr ? o.body->size() : o.body_string->size();
  size_t room = o.max_body_bytes > kept ? o.max_body_bytes - kept : 0;
  if (len > room) {
    body_truncated_ = true;
    len = room;
  }
  if (o.body != nullptr) {
    o.body->Append(at, len);
  } else {
    o.body_string->append(at, len);
  }
}

int ResponseParser::OnMessageComplete(http_parser* p) {
  auto* self = static_cast<ResponseParser*>(p->data);
  if (IsInterim(self->status_)) return 0;  // parse on into the final response
  self->state_ = ParseState::kComplete;
  // After 101 the connection speaks another protocol: it is not reusable here.
  self->keep_alive_ = http_should_keep_alive(p) != 0 && self->status_ != 101;
  // Stop at the end of this response: whatever follows is the caller's.
  http_parser_pause(p, 1);
  return 0;
}

}  // namespace stampede::http
