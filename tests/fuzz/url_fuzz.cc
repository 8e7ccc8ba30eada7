// libFuzzer target for URL parsing (src/http/url.h): `--url`, the script's
// http.get(url) and friends, OTEL_EXPORTER_OTLP_*_ENDPOINT-style values.
//
// Invariants (a broken one aborts):
//   - TryParseUrl and ParseUrl agree (nullopt + message vs ConfigError), and
//     a refusal has a one-line message;
//   - a parsed URL is sane: scheme http/https, a host without control
//     characters, a port from 1 to 65535 that is port_str's value (or the
//     scheme's default when there is none), a target starting with '/';
//   - re-serialising the parts (scheme://[userinfo@]host[:port]target) and
//     parsing that again gives the same parts (round trip);
//   - Origin(), HostHeader() and Redacted() are consistent with the parts:
//     Redacted() parses back to the same origin and never holds the
//     userinfo; Origin() parses back to the same origin.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "core/error.h"
#include "http/url.h"

namespace stampede::http {
namespace {

using ::stampede::fuzz::Require;

std::string Serialize(const Url& u) {
  std::string out = u.scheme + "://";
  if (!u.userinfo.empty()) out += u.userinfo + "@";
  out += u.ipv6_literal ? "[" + u.host + "]" : u.host;
  if (!u.port_str.empty()) out += ":" + u.port_str;
  out += u.target;
  return out;
}

bool SameParts(const Url& a, const Url& b) {
  return a.scheme == b.scheme && a.host == b.host && a.port_str == b.port_str &&
         a.port == b.port && a.target == b.target && a.userinfo == b.userinfo &&
         a.ipv6_literal == b.ipv6_literal;
}

void CheckSane(const Url& u, std::string_view text) {
  Require(u.scheme == "http" || u.scheme == "https", "scheme neither http nor https", text);
  Require(!u.host.empty(), "empty host", text);
  for (unsigned char c : u.host + u.target + u.userinfo + u.port_str) {
    Require(c > 0x20 && c != 0x7f, "a control character in a part", text);
  }
  Require(u.port != 0, "port 0", text);
  if (u.port_str.empty()) {
    Require(u.port == u.default_port(), "no port written but not the default", text);
  } else {
    uint32_t value = 0;
    for (char c : u.port_str) {
      Require(c >= '0' && c <= '9', "a non-digit in port_str", text);
      value = value * 10 + static_cast<uint32_t>(c - '0');
    }
    Require(u.port_str.size() <= 5 && value == u.port, "port differs from port_str", text);
  }
  Require(!u.target.empty() && u.target.front() == '/', "target does not start with '/'", text);
  Require(u.target.find('#') == std::string::npos, "fragment kept in target", text);
}

}  // namespace
}  // namespace stampede::http

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace stampede::http;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string error;
  const std::optional<Url> url = TryParseUrl(text, "--url", &error);
  bool threw = false;
  try {
    const Url again = ParseUrl(text, "--url");
    Require(url && SameParts(*url, again), "ParseUrl and TryParseUrl disagree", text);
  } catch (const stampede::core::ConfigError& e) {
    threw = true;
    Require(!url, "ParseUrl threw but TryParseUrl parsed", text);
    Require(error == e.what(), "different messages", text);
  }
  if (!url) {
    Require(threw && !error.empty(), "a refusal without a message", text);
    Require(error.find('\n') == std::string::npos, "a multi-line message", error);
    return 0;
  }
  CheckSane(*url, text);

  const std::string serial = Serialize(*url);
  const std::optional<Url> round = TryParseUrl(serial, "", &error);
  Require(round.has_value(), "the re-serialised URL does not parse", serial + "\n" + error);
  Require(SameParts(*url, *round), "the round trip changed the parts", serial);

  const std::string origin = url->Origin();
  const std::optional<Url> o = TryParseUrl(origin, "");
  Require(o && o->host == url->host && o->port == url->port && o->scheme == url->scheme &&
              o->ipv6_literal == url->ipv6_literal,
          "Origin() does not parse back to the origin", origin);

  const std::string redacted = url->Redacted();
  const std::optional<Url> r = TryParseUrl(redacted, "");
  Require(r && r->host == url->host && r->port == url->port && r->scheme == url->scheme,
          "Redacted() does not parse back to the origin", redacted);
  if (!url->userinfo.empty()) {
    Require(r->userinfo == "REDACTED:REDACTED", "Redacted() kept credentials", redacted);
  }
  const std::string host_header = url->HostHeader();
  Require(!host_header.empty(), "empty Host header");
  return 0;
}
