#include "http/url.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.h"

namespace stampede::http {
namespace {

using ::testing::HasSubstr;

std::string Error(std::string_view text) {
  std::string error;
  EXPECT_FALSE(TryParseUrl(text, "--url", &error).has_value()) << text;
  return error;
}

TEST(UrlTest, PlainHttp) {
  Url u = ParseUrl("http://example.com/index.html?a=1&b=2", "--url");
  EXPECT_EQ(u.scheme, "http");
  EXPECT_EQ(u.host, "example.com");
  EXPECT_EQ(u.port_str, "");
  EXPECT_EQ(u.port, 80);
  EXPECT_EQ(u.target, "/index.html?a=1&b=2");
  EXPECT_EQ(u.userinfo, "");
  EXPECT_FALSE(u.ipv6_literal);
  EXPECT_FALSE(u.is_https());
  EXPECT_EQ(u.HostHeader(), "example.com");
  EXPECT_EQ(u.Origin(), "http://example.com:80");
  EXPECT_EQ(u.Redacted(), "http://example.com/index.html?a=1&b=2");
}

TEST(UrlTest, DefaultPortsAndExplicitPorts) {
  Url https = ParseUrl("https://example.com", "--url");
  EXPECT_EQ(https.port, 443);
  EXPECT_EQ(https.target, "/");
  EXPECT_EQ(https.HostHeader(), "example.com");
  EXPECT_EQ(https.Origin(), "https://example.com:443");

  Url explicit_default = ParseUrl("http://example.com:80/", "--url");
  EXPECT_EQ(explicit_default.port_str, "80");
  EXPECT_EQ(explicit_default.HostHeader(), "example.com");  // default port omitted

  Url other = ParseUrl("https://example.com:8443/x", "--url");
  EXPECT_EQ(other.port, 8443);
  EXPECT_EQ(other.HostHeader(), "example.com:8443");
  EXPECT_EQ(other.Origin(), "https://example.com:8443");

  Url http_on_443 = ParseUrl("http://example.com:443/", "--url");
  EXPECT_EQ(http_on_443.HostHeader(), "example.com:443");
}

TEST(UrlTest, Ipv6Literal) {
  Url u = ParseUrl("http://[::1]:8080/x?y", "--url");
  EXPECT_EQ(u.host, "::1");
  EXPECT_TRUE(u.ipv6_literal);
  EXPECT_EQ(u.port, 8080);
  EXPECT_EQ(u.port_str, "8080");
  EXPECT_EQ(u.target, "/x?y");
  EXPECT_EQ(u.HostHeader(), "[::1]:8080");
  EXPECT_EQ(u.Origin(), "http://[::1]:8080");
  EXPECT_EQ(u.Redacted(), "http://[::1]:8080/x?y");

  Url no_port = ParseUrl("https://[2001:db8::1]/", "--url");
  EXPECT_EQ(no_port.HostHeader(), "[2001:db8::1]");
  EXPECT_EQ(no_port.port, 443);
}

TEST(UrlTest, SchemeIsCaseInsensitive) {
  Url u = ParseUrl("HTTPS://Example.COM/Path", "--url");
  EXPECT_EQ(u.scheme, "https");
  EXPECT_EQ(u.host, "Example.COM");  // kept as written
  EXPECT_EQ(u.target, "/Path");
}

TEST(UrlTest, QueryWithoutPathAndFragmentDropped) {
  EXPECT_EQ(ParseUrl("http://x?q=1", "--url").target, "/?q=1");
  EXPECT_EQ(ParseUrl("http://x/p#frag", "--url").target, "/p");
  EXPECT_EQ(ParseUrl("http://x/p?q#frag", "--url").target, "/p?q");
}

TEST(UrlTest, UserinfoIsRedacted) {
  Url u = ParseUrl("https://alice:s3cret@api.example.com:8443/v1?x=1", "--url");
  EXPECT_EQ(u.userinfo, "alice:s3cret");
  EXPECT_EQ(u.host, "api.example.com");
  EXPECT_EQ(u.Redacted(), "https://REDACTED:REDACTED@api.example.com:8443/v1?x=1");
  EXPECT_EQ(u.HostHeader(), "api.example.com:8443");
  EXPECT_EQ(u.Origin().find("s3cret"), std::string::npos);
}

TEST(UrlTest, SensitiveQueryValuesAreRedacted) {
  Url u = ParseUrl("https://b.s3.amazonaws.com/o?AWSAccessKeyId=AK&Expires=1&Signature=xyz&sig=1",
                   "--url");
  EXPECT_EQ(u.Redacted(),
            "https://b.s3.amazonaws.com/o?AWSAccessKeyId=REDACTED&Expires=1&Signature=REDACTED&"
            "sig=REDACTED");
  EXPECT_EQ(u.target, "/o?AWSAccessKeyId=AK&Expires=1&Signature=xyz&sig=1");  // sent as is
  EXPECT_EQ(ParseUrl("http://x/?X-Goog-Signature=abc&q", "--url").Redacted(),
            "http://x/?X-Goog-Signature=REDACTED&q");
}

TEST(UrlTest, BadUrlsHaveOneLineMessages) {
  EXPECT_EQ(Error("ftp://x"),
            "invalid URL \"ftp://x\" (--url): only http:// and https:// are supported");
  EXPECT_EQ(Error(""),
            "invalid URL \"\" (--url): the URL is empty; expected an absolute URL such as "
            "http://localhost:8080/path");
  EXPECT_EQ(Error("localhost:8080/x"),
            "invalid URL \"localhost:8080/x\" (--url): missing http:// or https:// at the start; "
            "expected an absolute URL such as http://localhost:8080/path");
  EXPECT_EQ(Error("http:///x"), "invalid URL \"http:///x\" (--url): missing host");
  EXPECT_EQ(Error("http://:80/x"), "invalid URL \"http://:80/x\" (--url): missing host");
  EXPECT_EQ(Error("http://x:99999/"),
            "invalid URL \"http://x:99999/\" (--url): invalid port \"99999\"; expected a number "
            "from 1 to 65535");
  EXPECT_THAT(Error("http://x:0/"), HasSubstr("invalid port \"0\""));
  EXPECT_THAT(Error("http://x:/"), HasSubstr("invalid port \"\""));
  EXPECT_THAT(Error("http://x:abc/"), HasSubstr("invalid port \"abc\""));
  EXPECT_THAT(Error("http://[::1]:x/"), HasSubstr("invalid port \"x\""));
  EXPECT_THAT(Error("http://[::1/"), HasSubstr("must be closed with ']'"));
  EXPECT_THAT(Error("http://a b/"), HasSubstr("space or control character"));
  EXPECT_THAT(Error("http://x/a b"), HasSubstr("percent-encode"));
  EXPECT_THAT(Error("http://x/\r\nHost: evil"), HasSubstr("control character"));
  EXPECT_THAT(Error("http://x/\r\n"), HasSubstr("\\x0d\\x0a"));  // still one line
  EXPECT_THAT(Error("http://x:80:80/"), HasSubstr("expected an absolute URL"));
  EXPECT_THAT(Error("http://[zz]/"), HasSubstr("expected an absolute URL"));
}

TEST(UrlTest, ParseUrlThrowsConfigError) {
  try {
    ParseUrl("ftp://x", "--url");
    FAIL() << "no exception";
  } catch (const core::ConfigError& e) {
    EXPECT_STREQ(e.what(),
                 "invalid URL \"ftp://x\" (--url): only http:// and https:// are supported");
  }
}

TEST(UrlTest, WhatMayBeEmpty) {
  std::string error;
  EXPECT_FALSE(TryParseUrl("ftp://x", "", &error));
  EXPECT_EQ(error, "invalid URL \"ftp://x\": only http:// and https:// are supported");
  EXPECT_FALSE(TryParseUrl("ftp://x", ""));  // error is optional
}

}  // namespace
}  // namespace stampede::http
