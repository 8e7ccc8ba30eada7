#include "http/request_writer.h"

#include <fmt/format.h>

#include <array>
#include <cassert>
#include <charconv>
#include <cstdint>
#include <cstring>

#include "core/ascii.h"
#include "core/error.h"

namespace stampede::http {
namespace {

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (!core::kTokenChar[c]) return false;
  }
  return true;
}

// Whether any of the 8 bytes of `w` is below `n` (n <= 128) or is 0x7f: the
// classic SWAR byte tests, so that validating a header checks 8 bytes per
// step (every request's values are validated; this runs on the hot path).
constexpr uint64_t kOnes = 0x0101010101010101ull;
constexpr uint64_t kHighs = 0x8080808080808080ull;
inline bool AnyBelowOrDel(uint64_t w, uint64_t n) {
  const uint64_t below = (w - kOnes * n) & ~w & kHighs;
  const uint64_t x = w ^ (kOnes * 0x7f);
  const uint64_t del = (x - kOnes) & ~x & kHighs;
  return (below | del) != 0;
}

// Skips the leading 8-byte words of `s` that contain no byte below `n` and no
// 0x7f; returns the offset where byte-wise checking must resume.
size_t SkipCleanWords(std::string_view s, uint64_t n) {
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    if (AnyBelowOrDel(w, n)) break;
  }
  return i;
}

// Field values: anything but control bytes, except HTAB (obs-text is allowed).
bool IsFieldValue(std::string_view s) {
  for (size_t i = SkipCleanWords(s, 0x20); i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  }
  return true;
}

// Targets and hosts: no space, no control byte.
bool IsVisible(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = SkipCleanWords(s, 0x21); i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

// `lower` must be lower case.
bool EqualsIgnoreCase(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

std::string Quote(std::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  return out;
}

// The Host header value as pieces, so that a Url needs no temporary string.
struct HostParts {
  std::string_view host;
  bool brackets = false;
  uint16_t port = 0;  // 0: no ":port" suffix
};

char* Put(char* at, std::string_view s) {
  // An empty view may hold a null pointer, which memcpy must not get even
  // for 0 bytes (UBSan, in the asan preset's tests).
  if (!s.empty()) std::memcpy(at, s.data(), s.size());
  return at + s.size();
}

RequestError WriteImpl(std::string_view method, const HostParts& host, std::string_view target,
                       std::span<const Header> headers, std::string_view body,
                       std::string_view user_agent, ByteBuffer& out, std::string* message) {
  auto fail = [&](RequestError error, std::string text) {
    if (message != nullptr) *message = std::move(text);
    return error;
  };
  if (!IsToken(method)) {
    return fail(
        RequestError::kInvalidMethod,
        fmt::format("invalid HTTP method {}: expected a token such as GET or POST", Quote(method)));
  }
  if (!IsVisible(target)) {
    return fail(RequestError::kInvalidTarget,
                fmt::format("invalid request target {}: it must be non-empty, without spaces or "
                            "control characters (percent-encode them)",
                            Quote(target)));
  }

  bool has_host = false, has_user_agent = false, has_length = false;
  size_t size = method.size() + 1 + target.size() + sizeof(" HTTP/1.1\r\n") - 1 + 2;
  for (const Header& h : headers) {
    if (!IsToken(h.name)) {
      return fail(RequestError::kInvalidHeaderName,
                  fmt::format("invalid header name {}: use only letters, digits and "
                              "!#$%&'*+-.^_`|~",
                              Quote(h.name)));
    }
    if (!IsFieldValue(h.value)) {
      return fail(RequestError::kInvalidHeaderValue,
                  fmt::format("invalid value for header {}: it must not contain CR, LF or other "
                              "control characters",
                              Quote(h.name)));
    }
    switch (h.name.size()) {  // most names match none: compare lengths first
      case 4:
        has_host = has_host || EqualsIgnoreCase(h.name, "host");
        break;
      case 10:
        has_user_agent = has_user_agent || EqualsIgnoreCase(h.name, "user-agent");
        break;
      case 14:
        has_length = has_length || EqualsIgnoreCase(h.name, "content-length");
        break;
      case 17:
        has_length = has_length || EqualsIgnoreCase(h.name, "transfer-encoding");
        break;
    }
    size += h.name.size() + 2 + h.value.size() + 2;
  }

  char port_text[8];
  size_t port_len = 0;
  if (!has_host) {
    if (!IsVisible(host.host)) {
      return fail(RequestError::kInvalidHost,
                  fmt::format("invalid Host {}: it must be non-empty, without spaces or control "
                              "characters",
                              Quote(host.host)));
    }
    if (host.port != 0) {
      port_text[0] = ':';
      port_len = static_cast<size_t>(
          std::to_chars(port_text + 1, port_text + sizeof(port_text), host.port).ptr - port_text);
    }
    size += sizeof("Host: \r\n") - 1 + host.host.size() + (host.brackets ? 2 : 0) + port_len;
  }
  bool add_user_agent = !has_user_agent && !user_agent.empty();
  if (add_user_agent) size += sizeof("User-Agent: \r\n") - 1 + user_agent.size();

  char length_text[24];
  size_t length_len = 0;
  bool add_length =
      !has_length && (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH");
  if (add_length) {
    length_len = static_cast<size_t>(
        std::to_chars(length_text, length_text + sizeof(length_text), body.size()).ptr -
        length_text);
    size += sizeof("Content-Length: \r\n") - 1 + length_len;
  }
  size += body.size();

  // One reservation, then straight copies.
  char* at = out.AppendUninitialized(size);
  [[maybe_unused]] char* const start = at;
  at = Put(at, method);
  *at++ = ' ';
  at = Put(at, target);
  at = Put(at, " HTTP/1.1\r\n");
  if (!has_host) {
    at = Put(at, "Host: ");
    if (host.brackets) *at++ = '[';
    at = Put(at, host.host);
    if (host.brackets) *at++ = ']';
    at = Put(at, std::string_view(port_text, port_len));
    at = Put(at, "\r\n");
  }
  if (add_user_agent) {
    at = Put(at, "User-Agent: ");
    at = Put(at, user_agent);
    at = Put(at, "\r\n");
  }
  for (const Header& h : headers) {
    at = Put(at, h.name);
    at = Put(at, ": ");
    at = Put(at, h.value);
    at = Put(at, "\r\n");
  }
  if (add_length) {
    at = Put(at, "Content-Length: ");
    at = Put(at, std::string_view(length_text, length_len));
    at = Put(at, "\r\n");
  }
  at = Put(at, "\r\n");
  at = Put(at, body);
  assert(at == start + size);
  return RequestError::kNone;
}

}  // namespace

RequestWriter::RequestWriter(std::string user_agent) : user_agent_(std::move(user_agent)) {
  if (!IsFieldValue(user_agent_)) {
    throw core::ConfigError(fmt::format("invalid User-Agent {}: it must not contain CR, LF or other "
                                        "control characters",
                                        Quote(user_agent_)));
  }
}

std::string_view RequestErrorName(RequestError error) {
  switch (error) {
    case RequestError::kNone:
      return "none";
    case RequestError::kInvalidMethod:
      return "invalid method";
    case RequestError::kInvalidTarget:
      return "invalid target";
    case RequestError::kInvalidHost:
      return "invalid host";
    case RequestError::kInvalidHeaderName:
      return "invalid header name";
    case RequestError::kInvalidHeaderValue:
      return "invalid header value";
  }
  return "unknown";
}

RequestError RequestWriter::Write(const RequestHead& head, std::string_view body, ByteBuffer& out,
                                  std::string* message) const {
  return WriteImpl(head.method, HostParts{head.host, false, 0}, head.target, head.headers, body,
                   user_agent_, out, message);
}

RequestError RequestWriter::Write(std::string_view method, const Url& url,
                                  std::span<const Header> headers, std::string_view body,
                                  ByteBuffer& out, std::string* message) const {
  HostParts host{url.host, url.ipv6_literal,
                 url.port != url.default_port() ? url.port : uint16_t{0}};
  return WriteImpl(method, host, url.target, headers, body, user_agent_, out, message);
}

PreparedRequest PreparedRequest::Prepare(const RequestWriter& writer, std::string_view method,
                                         const Url& url, std::span<const Header> headers,
                                         std::string_view body) {
  PreparedRequest prepared;
  std::string message;
  if (writer.Write(method, url, headers, body, prepared.bytes_, &message) != RequestError::kNone) {
    throw core::ConfigError(message);
  }
  prepared.head_size_ = prepared.bytes_.size() - body.size();
  prepared.head_request_ = method == "HEAD";
  prepared.url_ = url;
  return prepared;
}

}  // namespace stampede::http
