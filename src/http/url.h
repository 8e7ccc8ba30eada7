// Absolute http:// and https:// URLs, parsed once on a cold path (flags,
// script load) into the pieces the client needs on the hot path.
// A Url is a plain value: it owns its strings; copy it freely. Any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace stampede::http {

struct Url {
  std::string scheme;    // "http" or "https", lower case
  std::string host;      // as written, without the brackets of an IPv6 literal
  std::string port_str;  // the port as written; empty when the URL has none
  uint16_t port = 0;     // the effective port: explicit, else 80 or 443
  std::string target;    // path and query as sent on the request line; "/" if empty
  std::string userinfo;  // "user:password" as written (still percent-encoded); may be empty
  bool ipv6_literal = false;

  bool is_https() const { return scheme == "https"; }
  // The port that the scheme implies: 80 or 443.
  uint16_t default_port() const { return is_https() ? 443 : 80; }

  // The URL for display and for the OTel `url.full` attribute: credentials
  // become `REDACTED:REDACTED`, and the values of the query keys the OTel
  // semantic conventions name as sensitive (AWSAccessKeyId, Signature, sig,
  // X-Goog-Signature) become `REDACTED`. The fragment is never kept.
  std::string Redacted() const;
  // `scheme://host:port`, always with the port; brackets around IPv6. Two URLs
  // with the same origin may share connections.
  std::string Origin() const;
  // The value of the Host request header: host[:port], the port omitted when it
  // is the scheme's default; brackets around IPv6.
  std::string HostHeader() const;
};

// Parses an absolute http(s) URL. `what` names where the text came from (a
// flag such as "--url", or "http.get() argument 1") and appears in errors.
// Throws core::ConfigError with one line, e.g.
//   invalid URL "ftp://x" (--url): only http:// and https:// are supported
Url ParseUrl(std::string_view text, std::string_view what);

// The same without exceptions, for callers that report errors as values (Lua
// bindings): returns nullopt and sets *error (if given) to the same one-line
// message that ParseUrl would throw.
std::optional<Url> TryParseUrl(std::string_view text, std::string_view what,
                               std::string* error = nullptr);

}  // namespace stampede::http
