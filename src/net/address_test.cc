// Pure parts of socket.h and resolver.h: address parsing and formatting, and
// IP-literal resolution (which never touches DNS).
#include <gtest/gtest.h>

#include "core/clock.h"
#include "loop/event_loop.h"
#include "net/resolver.h"
#include "net/socket.h"

namespace stampede::net {
namespace {

TEST(AddressTest, ParsesIpv4) {
  Address a;
  ASSERT_TRUE(Address::FromIp("10.1.2.3", 8080, &a));
  EXPECT_EQ(a.family(), AF_INET);
  EXPECT_EQ(a.len, sizeof(sockaddr_in));
  EXPECT_EQ(a.port(), 8080);
  EXPECT_EQ(a.ToString(), "10.1.2.3");
  a.set_port(443);
  EXPECT_EQ(a.port(), 443);
}

TEST(AddressTest, ParsesIpv6WithAndWithoutBrackets) {
  Address a, b;
  ASSERT_TRUE(Address::FromIp("::1", 80, &a));
  ASSERT_TRUE(Address::FromIp("[::1]", 80, &b));
  EXPECT_EQ(a.family(), AF_INET6);
  EXPECT_EQ(a.ToString(), "::1");
  EXPECT_TRUE(a == b);
  ASSERT_TRUE(Address::FromIp("2001:db8::42", 0, &a));
  EXPECT_EQ(a.ToString(), "2001:db8::42");
}

TEST(AddressTest, RejectsNonLiterals) {
  Address a;
  EXPECT_FALSE(Address::FromIp("", 0, &a));
  EXPECT_FALSE(Address::FromIp("localhost", 0, &a));
  EXPECT_FALSE(Address::FromIp("1.2.3", 0, &a));
  EXPECT_FALSE(Address::FromIp("1.2.3.4:80", 0, &a));
  EXPECT_FALSE(Address::FromIp("[1.2.3.4]", 0, &a));
  EXPECT_FALSE(Address::FromIp("1password.com", 0, &a));
  EXPECT_FALSE(Address::FromIp(std::string(100, '1'), 0, &a));
  EXPECT_TRUE(Address().empty());
  EXPECT_EQ(Address().ToString(), "");
}

TEST(AddressTest, FormatIpIntoSmallBufferFails) {
  Address a;
  ASSERT_TRUE(Address::FromIp("192.168.100.200", 0, &a));
  char small[4];
  EXPECT_EQ(a.FormatIp(small, sizeof small), 0u);
  char buf[Address::kMaxIpText];
  EXPECT_EQ(a.FormatIp(buf, sizeof buf), 15u);
}

TEST(IoResultTest, Constructors) {
  EXPECT_TRUE(IoResult::Bytes(3).ok());
  EXPECT_EQ(IoResult::Bytes(3).bytes, 3u);
  EXPECT_TRUE(IoResult::WouldBlock(true).would_block);
  EXPECT_TRUE(IoResult::WouldBlock(true).want_write);
  EXPECT_FALSE(IoResult::WouldBlock(false).want_write);
  EXPECT_TRUE(IoResult::Eof().eof);
  EXPECT_FALSE(IoResult::Error(NetError::kReset, ECONNRESET).ok());
  EXPECT_EQ(IoResult::Error(NetError::kReset, ECONNRESET).sys_errno, ECONNRESET);
}

class RecordingWaiter : public ResolveWaiter {
 public:
  void OnResolved(const ResolveResult& r) override {
    ++calls;
    error = r.error;
    error_text = std::string(r.error_text);
    from_cache = r.from_cache;
    if (r.addresses != nullptr) addresses = *r.addresses;
  }
  int calls = 0;
  NetError error = NetError::kOther;
  std::string error_text;
  bool from_cache = false;
  ResolvedAddresses addresses;
};

class LiteralResolverTest : public ::testing::Test {
 protected:
  static Resolver::Options TestOptions() {
    Resolver::Options o;
    // Never the system's servers: a closed loopback port.
    o.servers = {"127.0.0.1:1"};
    o.use_search_domains = false;
    return o;
  }
  core::FakeClock clock_{1'000'000'000};
  loop::EventLoop loop_{clock_};
  Resolver resolver_{loop_, TestOptions()};
};

TEST_F(LiteralResolverTest, LookupAnswersLiteralsWithoutDns) {
  ResolvedAddresses out;
  ASSERT_TRUE(resolver_.Lookup("127.0.0.1", Family::kIpv4First, &out));
  ASSERT_EQ(out.count, 1u);
  EXPECT_EQ(out.addresses[0].ToString(), "127.0.0.1");
  EXPECT_EQ(out.expires_ns, INT64_MAX);
  ASSERT_TRUE(resolver_.Lookup("[::1]", Family::kIpv6First, &out));
  EXPECT_EQ(out.addresses[0].family(), AF_INET6);
  EXPECT_FALSE(resolver_.Lookup("::1", Family::kIpv4Only, &out));
  EXPECT_FALSE(resolver_.Lookup("example.invalid", Family::kIpv4First, &out));
  EXPECT_EQ(resolver_.queries_started(), 0u);
}

TEST_F(LiteralResolverTest, ResolveLiteralIsDeferredNotSynchronous) {
  RecordingWaiter w;
  resolver_.Resolve("10.0.0.7", Family::kIpv4First, &w);
  EXPECT_EQ(w.calls, 0);
  EXPECT_TRUE(w.pending());
  loop_.RunOnce(0);
  ASSERT_EQ(w.calls, 1);
  EXPECT_FALSE(w.pending());
  EXPECT_EQ(w.error, NetError::kNone);
  EXPECT_TRUE(w.from_cache);
  EXPECT_EQ(w.addresses.addresses[0].ToString(), "10.0.0.7");
  EXPECT_EQ(resolver_.queries_started(), 0u);
}

TEST_F(LiteralResolverTest, LiteralOfWrongFamilyFails) {
  RecordingWaiter w;
  resolver_.Resolve("10.0.0.7", Family::kIpv6Only, &w);
  loop_.RunOnce(0);
  ASSERT_EQ(w.calls, 1);
  EXPECT_EQ(w.error, NetError::kDns);
  EXPECT_EQ(w.error_text, "no IPv6 address for host");
}

TEST_F(LiteralResolverTest, InvalidNameFailsWithoutQuery) {
  RecordingWaiter w;
  resolver_.Resolve("", Family::kIpv4First, &w);
  loop_.RunOnce(0);
  ASSERT_EQ(w.calls, 1);
  EXPECT_EQ(w.error, NetError::kDns);
  EXPECT_EQ(resolver_.queries_started(), 0u);
}

TEST_F(LiteralResolverTest, CancelledWaiterIsNotCalled) {
  RecordingWaiter w;
  resolver_.Resolve("10.0.0.7", Family::kIpv4First, &w);
  resolver_.Cancel(&w);
  EXPECT_FALSE(w.pending());
  loop_.RunOnce(0);
  EXPECT_EQ(w.calls, 0);
}

}  // namespace
}  // namespace stampede::net
