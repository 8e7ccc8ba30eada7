#include "http/url.h"

#include <fmt/format.h>
#include <http_parser.h>

#include "core/error.h"
#include "core/quote.h"

namespace stampede::http {
namespace {

constexpr std::string_view kExample = "expected an absolute URL such as http://localhost:8080/path";

std::string Message(std::string_view text, std::string_view what, std::string_view reason) {
  if (what.empty()) return fmt::format("invalid URL {}: {}", core::QuoteInput(text), reason);
  return fmt::format("invalid URL {} ({}): {}", core::QuoteInput(text), what, reason);
}

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Checks the parts that users get wrong, so that each mistake gets its own
// message; http_parser_parse_url then does the full syntax check. Returns an
// empty reason when nothing is wrong.
std::string Diagnose(std::string_view text) {
  if (text.empty()) return fmt::format("the URL is empty; {}", kExample);
  if (text.size() > 65535) return "the URL is longer than 65535 bytes";
  for (unsigned char c : text) {
    if (c <= 0x20 || c == 0x7f) {
      return "it contains a space or control character; percent-encode it (a space is %20)";
    }
  }
  size_t sep = text.find("://");
  if (sep == std::string_view::npos) {
    return fmt::format("missing http:// or https:// at the start; {}", kExample);
  }
  std::string scheme;
  for (char c : text.substr(0, sep)) scheme += Lower(c);
  if (scheme != "http" && scheme != "https") return "only http:// and https:// are supported";

  std::string_view authority = text.substr(sep + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  std::string_view port;
  bool has_port = false;
  if (authority.starts_with('[')) {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return "an IPv6 address must be closed with ']'";
    if (close == 1) return "missing host";
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':')
        return fmt::format("unexpected {} after the IPv6 address", core::QuoteInput(rest));
      has_port = true;
      port = rest.substr(1);
    }
  } else {
    size_t colon = authority.rfind(':');
    std::string_view host = authority.substr(0, colon);
    if (host.empty()) return "missing host";
    if (colon != std::string_view::npos) {
      has_port = true;
      port = authority.substr(colon + 1);
    }
  }
  if (has_port) {
    bool digits = !port.empty() && port.size() <= 5;
    uint32_t value = 0;
    for (char c : port) {
      if (!IsDigit(c)) digits = false;
      value = value * 10 + static_cast<uint32_t>(c - '0');
    }
    if (!digits || value == 0 || value > 65535) {
      return fmt::format("invalid port {}; expected a number from 1 to 65535", core::QuoteInput(port));
    }
  }
  return {};
}

bool Has(const http_parser_url& u, http_parser_url_fields f) {
  return (u.field_set & (1 << f)) != 0;
}

std::string_view Field(std::string_view text, const http_parser_url& u, http_parser_url_fields f) {
  if (!Has(u, f)) return {};
  return text.substr(u.field_data[f].off, u.field_data[f].len);
}

void AppendHost(const Url& url, std::string& out) {
  if (url.ipv6_literal) out += '[';
  out += url.host;
  if (url.ipv6_literal) out += ']';
}

bool IsSensitiveQueryKey(std::string_view key) {
  return key == "AWSAccessKeyId" || key == "Signature" || key == "sig" || key == "X-Goog-Signature";
}

}  // namespace

std::optional<Url> TryParseUrl(std::string_view text, std::string_view what, std::string* error) {
  std::string reason = Diagnose(text);
  http_parser_url u;
  http_parser_url_init(&u);
  if (reason.empty() &&
      http_parser_parse_url(text.data(), text.size(), /*is_connect=*/0, &u) != 0) {
    reason = kExample;
  }
  if (reason.empty() &&
      (!Has(u, UF_SCHEMA) || !Has(u, UF_HOST) || Field(text, u, UF_HOST).empty())) {
    reason = "missing host";
  }
  if (!reason.empty()) {
    if (error != nullptr) *error = Message(text, what, reason);
    return std::nullopt;
  }

  Url url;
  for (char c : Field(text, u, UF_SCHEMA)) url.scheme += Lower(c);
  url.host = Field(text, u, UF_HOST);
  url.ipv6_literal = u.field_data[UF_HOST].off > 0 && text[u.field_data[UF_HOST].off - 1] == '[';
  url.port_str = Field(text, u, UF_PORT);
  url.port = Has(u, UF_PORT) ? u.port : url.default_port();
  url.userinfo = Field(text, u, UF_USERINFO);
  url.target = Has(u, UF_PATH) ? Field(text, u, UF_PATH) : "/";
  if (Has(u, UF_QUERY)) {
    url.target += '?';
    url.target += Field(text, u, UF_QUERY);
  }
  return url;
}

Url ParseUrl(std::string_view text, std::string_view what) {
  std::string error;
  std::optional<Url> url = TryParseUrl(text, what, &error);
  if (!url) throw core::ConfigError(error);
  return std::move(*url);
}

std::string Url::Redacted() const {
  std::string out = scheme + "://";
  if (!userinfo.empty()) out += "REDACTED:REDACTED@";
  AppendHost(*this, out);
  if (!port_str.empty()) {
    out += ':';
    out += port_str;
  }
  size_t q = target.find('?');
  out += std::string_view(target).substr(0, q);
  if (q == std::string::npos) return out;

  // Redact the values of sensitive query keys, keeping everything else as is.
  std::string_view query = std::string_view(target).substr(q + 1);
  out += '?';
  while (true) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    size_t eq = pair.find('=');
    if (eq != std::string_view::npos && IsSensitiveQueryKey(pair.substr(0, eq))) {
      out += pair.substr(0, eq + 1);
      out += "REDACTED";
    } else {
      out += pair;
    }
    if (amp == std::string_view::npos) break;
    out += '&';
    query.remove_prefix(amp + 1);
  }
  return out;
}

std::string Url::Origin() const {
  std::string out = scheme + "://";
  AppendHost(*this, out);
  out += ':';
  out += std::to_string(port);
  return out;
}

std::string Url::HostHeader() const {
  std::string out;
  AppendHost(*this, out);
  if (port != default_port()) {
    out += ':';
    out += std::to_string(port);
  }
  return out;
}

}  // namespace stampede::http
