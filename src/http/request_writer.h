// HTTP/1.1 request serialisation. Pure: no I/O, no clock, no allocation once
// the output buffer has reached its high-water mark.
//
// Output layout (byte-exact, tests rely on it):
//   <method> <target> HTTP/1.1\r\n
//   Host: <host>\r\n                 unless the caller passed Host
//   User-Agent: <agent>\r\n          unless the caller passed User-Agent, or the agent is ""
//   <caller headers, in order>\r\n
//   Content-Length: <n>\r\n          when the body is non-empty or the method is
//                                    POST/PUT/PATCH, unless the caller passed
//                                    Content-Length or Transfer-Encoding
//   \r\n
//   <body>
// Header names are matched case-insensitively; the writer never adds a header
// that the caller set. A caller-set Content-Length or Transfer-Encoding is
// trusted: the body is written as given.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "http/byte_buffer.h"
#include "http/url.h"

namespace stampede::http {

struct Header {
  std::string_view name;
  std::string_view value;
};

// Why a request could not be written. Low-cardinality: fit for a metric tag.
enum class RequestError : uint8_t {
  kNone = 0,
  kInvalidMethod,       // empty, or not an RFC 9110 token
  kInvalidTarget,       // empty, or contains a space or control byte
  kInvalidHost,         // empty, or contains a space or control byte
  kInvalidHeaderName,   // empty, or not a token (e.g. contains ':' or a space)
  kInvalidHeaderValue,  // contains CR, LF, NUL or another control byte but HTAB
};
std::string_view RequestErrorName(RequestError error);

// Everything but the body. Views are borrowed for the duration of the call.
struct RequestHead {
  std::string_view method;  // e.g. "GET"; case-sensitive, as RFC 9110 says
  std::string_view host;    // Host header value, e.g. "example.com:8080"
  std::string_view target;  // e.g. "/path?q=1"
  std::span<const Header> headers;
};

// Stateless after construction: one per worker, or shared read-only by many
// threads.
class RequestWriter {
 public:
  static constexpr std::string_view kDefaultUserAgent = "stampede/0.1";

  // `user_agent` is sent unless the caller sets User-Agent; "" sends none.
  // Throws core::ConfigError when it holds CR, LF or another control byte
  // (it is written verbatim into every request).
  explicit RequestWriter(std::string user_agent = std::string(kDefaultUserAgent));

  // Appends the serialised request to `out`. On failure `out` is left as it
  // was, the error is returned and, if `message` is given, it receives one line
  // naming the offending input (only failures build a message).
  RequestError Write(const RequestHead& head, std::string_view body, ByteBuffer& out,
                     std::string* message = nullptr) const;
  // The same, taking the Host header and target from `url` (no allocation).
  RequestError Write(std::string_view method, const Url& url, std::span<const Header> headers,
                     std::string_view body, ByteBuffer& out, std::string* message = nullptr) const;

  const std::string& user_agent() const { return user_agent_; }

 private:
  std::string user_agent_;
};

// A request serialised once and sent as-is many times: the static request of
// `--url` mode costs nothing per request. Immutable after Prepare(): safe to
// share read-only between threads.
class PreparedRequest {
 public:
  // Cold path: throws core::ConfigError with the writer's one-line message
  // when a header, the method or the URL pieces are invalid.
  static PreparedRequest Prepare(const RequestWriter& writer, std::string_view method,
                                 const Url& url, std::span<const Header> headers = {},
                                 std::string_view body = {});

  // The whole request, head and body, ready for write(2).
  std::string_view bytes() const { return bytes_.view(); }
  // Bytes of the request line and headers, including the blank line.
  size_t head_size() const { return head_size_; }
  // True for HEAD: the response parser must be told that no body follows.
  bool head_request() const { return head_request_; }
  const Url& url() const { return url_; }

 private:
  PreparedRequest() = default;

  ByteBuffer bytes_;
  size_t head_size_ = 0;
  bool head_request_ = false;
  Url url_;
};

}  // namespace stampede::http
