// Resolver against a tiny DNS server that the test runs on the same event
// loop (UDP on 127.0.0.1, ephemeral port). Cache expiry is driven by a
// FakeClock; only the DNS-timeout test uses the real clock.
#include "net/resolver.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "core/clock.h"
#include "loop/event_loop.h"

namespace stampede::net {
namespace {

constexpr int64_t kSec = core::kNsPerSec;
constexpr uint16_t kTypeA = 1;
constexpr uint16_t kTypeAAAA = 28;

// Answers A/AAAA questions from a table; unknown names get NXDOMAIN. When
// `silent`, it never reads its socket (a server that does not answer).
class FakeDnsServer final : public loop::IoHandler {
 public:
  struct Record {
    std::vector<std::string> v4;
    std::vector<std::string> v6;
    uint32_t ttl = 60;
  };

  FakeDnsServer(loop::EventLoop& loop, bool silent) : loop_(loop) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    if (!silent) loop_.poller().Add(fd_, loop::kReadable, this);
    registered_ = !silent;
  }
  ~FakeDnsServer() override {
    if (registered_) loop_.poller().Remove(fd_);
    ::close(fd_);
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  void Set(const std::string& name, Record r) { records_[name] = std::move(r); }
  int queries(const std::string& name, uint16_t type) const {
    auto it = counts_.find({name, type});
    return it == counts_.end() ? 0 : it->second;
  }
  int total_queries() const {
    int n = 0;
    for (auto& [k, v] : counts_) n += v;
    return n;
  }

  void OnIo(uint32_t) override {
    unsigned char buf[512];
    sockaddr_storage from{};
    socklen_t from_len = sizeof from;
    ssize_t n = ::recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 12) return;
    // Question: labels, then type and class.
    size_t pos = 12;
    std::string name;
    while (pos < static_cast<size_t>(n) && buf[pos] != 0) {
      size_t label = buf[pos++];
      if (!name.empty()) name += '.';
      name.append(reinterpret_cast<char*>(buf + pos), label);
      pos += label;
    }
    pos += 1;
    if (pos + 4 > static_cast<size_t>(n)) return;
    uint16_t qtype = static_cast<uint16_t>(buf[pos] << 8 | buf[pos + 1]);
    size_t question_end = pos + 4;
    ++counts_[{name, qtype}];

    std::vector<unsigned char> out(buf, buf + question_end);
    auto put16 = [&out](size_t at, uint16_t v) {
      out[at] = static_cast<unsigned char>(v >> 8);
      out[at + 1] = static_cast<unsigned char>(v);
    };
    auto it = records_.find(name);
    uint16_t rcode = it == records_.end() ? 3 : 0;    // NXDOMAIN
    put16(2, static_cast<uint16_t>(0x8180 | rcode));  // QR, RD, RA
    put16(4, 1);
    put16(6, 0);
    put16(8, 0);
    put16(10, 0);
    uint16_t answers = 0;
    if (it != records_.end()) {
      const auto& ips = qtype == kTypeA ? it->second.v4 : it->second.v6;
      if (qtype == kTypeA || qtype == kTypeAAAA) {
        for (const std::string& ip : ips) {
          unsigned char raw[16];
          int af = qtype == kTypeA ? AF_INET : AF_INET6;
          ASSERT_EQ(inet_pton(af, ip.c_str(), raw), 1);
          uint16_t rdlen = qtype == kTypeA ? 4 : 16;
          uint32_t ttl = it->second.ttl;
          unsigned char rr[12] = {0xC0,
                                  0x0C,
                                  static_cast<unsigned char>(qtype >> 8),
                                  static_cast<unsigned char>(qtype),
                                  0,
                                  1,
                                  static_cast<unsigned char>(ttl >> 24),
                                  static_cast<unsigned char>(ttl >> 16),
                                  static_cast<unsigned char>(ttl >> 8),
                                  static_cast<unsigned char>(ttl),
                                  static_cast<unsigned char>(rdlen >> 8),
                                  static_cast<unsigned char>(rdlen)};
          out.insert(out.end(), rr, rr + sizeof rr);
          out.insert(out.end(), raw, raw + rdlen);
          ++answers;
        }
      }
    }
    put16(6, answers);
    ::sendto(fd_, out.data(), out.size(), 0, reinterpret_cast<sockaddr*>(&from), from_len);
  }

 private:
  loop::EventLoop& loop_;
  int fd_ = -1;
  uint16_t port_ = 0;
  bool registered_ = false;
  std::map<std::string, Record> records_;
  std::map<std::pair<std::string, uint16_t>, int> counts_;
};

class RecordingWaiter : public ResolveWaiter {
 public:
  void OnResolved(const ResolveResult& r) override {
    ++calls;
    error = r.error;
    error_text = std::string(r.error_text);
    from_cache = r.from_cache;
    start_ns = r.start_ns;
    end_ns = r.end_ns;
    ips.clear();
    if (r.addresses != nullptr) {
      for (size_t i = 0; i < r.addresses->count; ++i) {
        ips.push_back(r.addresses->addresses[i].ToString());
      }
    }
  }
  int calls = 0;
  NetError error = NetError::kOther;
  std::string error_text;
  bool from_cache = false;
  int64_t start_ns = 0;
  int64_t end_ns = 0;
  std::vector<std::string> ips;
};

// Runs loop turns (each waiting at most 20 ms) until `pred` holds; bounded.
template <typename Pred>
bool RunUntil(loop::EventLoop& loop, Pred pred, int max_turns = 250, int* turns = nullptr) {
  int i = 0;
  for (; i < max_turns && !pred(); ++i) loop.RunOnce(20 * core::kNsPerMs);
  if (turns != nullptr) *turns = i;
  return pred();
}

std::vector<std::string> Ips(const ResolvedAddresses& a) {
  std::vector<std::string> v;
  for (size_t i = 0; i < a.count; ++i) v.push_back(a.addresses[i].ToString());
  return v;
}

class ResolverTest : public ::testing::Test {
 protected:
  Resolver::Options Options() const {
    Resolver::Options o;
    o.servers = {dns_.address()};
    o.use_search_domains = false;
    o.timeout = std::chrono::milliseconds(1000);
    o.tries = 2;
    return o;
  }
  // Resolves through the loop; returns after the waiter was called.
  RecordingWaiter ResolveNow(std::string_view host, Family family = Family::kIpv4First) {
    RecordingWaiter w;
    resolver_.Resolve(host, family, &w);
    EXPECT_TRUE(RunUntil(loop_, [&] { return w.calls > 0; }));
    EXPECT_EQ(w.calls, 1);
    return w;
  }

  core::FakeClock clock_{100 * kSec};
  loop::EventLoop loop_{clock_};
  FakeDnsServer dns_{loop_, /*silent=*/false};
  Resolver resolver_{loop_, Options()};
};

TEST_F(ResolverTest, ResolvesAAndAaaaAndCachesForTheTtl) {
  dns_.Set("svc.test", {{"10.1.0.1"}, {"fd00::1"}, 30});
  RecordingWaiter w = ResolveNow("svc.test");
  EXPECT_EQ(w.error, NetError::kNone) << w.error_text;
  EXPECT_FALSE(w.from_cache);
  EXPECT_EQ(w.ips, (std::vector<std::string>{"10.1.0.1", "fd00::1"}));
  EXPECT_EQ(dns_.queries("svc.test", kTypeA), 1);
  EXPECT_EQ(dns_.queries("svc.test", kTypeAAAA), 1);
  EXPECT_EQ(resolver_.queries_started(), 1u);

  ResolvedAddresses out;
  ASSERT_TRUE(resolver_.Lookup("svc.test", Family::kIpv4First, &out));
  EXPECT_EQ(Ips(out), (std::vector<std::string>{"10.1.0.1", "fd00::1"}));
  EXPECT_EQ(out.expires_ns, clock_.NowNs() + 30 * kSec);
  ASSERT_TRUE(resolver_.Lookup("svc.test", Family::kIpv6First, &out));
  EXPECT_EQ(Ips(out), (std::vector<std::string>{"fd00::1", "10.1.0.1"}));
  ASSERT_TRUE(resolver_.Lookup("svc.test", Family::kIpv6Only, &out));
  EXPECT_EQ(Ips(out), (std::vector<std::string>{"fd00::1"}));

  // Still fresh just before the TTL: a Resolve is answered from the cache.
  clock_.AdvanceNs(29 * kSec);
  loop_.UpdateNow();
  EXPECT_TRUE(resolver_.Lookup("svc.test", Family::kIpv4First, &out));
  RecordingWaiter cached = ResolveNow("svc.test");
  EXPECT_TRUE(cached.from_cache);
  EXPECT_EQ(dns_.queries("svc.test", kTypeA), 1);

  // After the TTL: a miss, and Resolve asks the server again.
  clock_.AdvanceNs(1 * kSec);
  loop_.UpdateNow();
  EXPECT_FALSE(resolver_.Lookup("svc.test", Family::kIpv4First, &out));
  dns_.Set("svc.test", {{"10.1.0.2"}, {}, 30});
  RecordingWaiter again = ResolveNow("svc.test");
  EXPECT_FALSE(again.from_cache);
  EXPECT_EQ(again.ips, (std::vector<std::string>{"10.1.0.2"}));
  EXPECT_EQ(dns_.queries("svc.test", kTypeA), 2);
  EXPECT_EQ(resolver_.queries_started(), 2u);
}

TEST_F(ResolverTest, ClampsTtl) {
  dns_.Set("zero.test", {{"10.2.0.1"}, {}, 0});
  dns_.Set("huge.test", {{"10.2.0.2"}, {}, 86400});
  ResolveNow("zero.test");
  ResolveNow("huge.test");
  ResolvedAddresses out;
  ASSERT_TRUE(resolver_.Lookup("zero.test", Family::kIpv4First, &out));
  EXPECT_EQ(out.expires_ns, clock_.NowNs() + 1 * kSec);
  ASSERT_TRUE(resolver_.Lookup("huge.test", Family::kIpv4First, &out));
  EXPECT_EQ(out.expires_ns, clock_.NowNs() + 300 * kSec);
}

TEST_F(ResolverTest, RotatesAddressesAcrossLookups) {
  dns_.Set("rr.test", {{"10.3.0.1", "10.3.0.2", "10.3.0.3"}, {}, 60});
  ResolveNow("rr.test");
  ResolvedAddresses out;
  std::vector<std::string> firsts;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(resolver_.Lookup("rr.test", Family::kIpv4First, &out));
    ASSERT_EQ(out.count, 3u);
    firsts.push_back(out.addresses[0].ToString());
  }
  EXPECT_EQ(firsts[0], firsts[3]);
  EXPECT_NE(firsts[0], firsts[1]);
  EXPECT_NE(firsts[1], firsts[2]);
  EXPECT_NE(firsts[0], firsts[2]);
}

TEST_F(ResolverTest, NxdomainIsDnsErrorAndCachedBriefly) {
  RecordingWaiter w = ResolveNow("missing.test");
  EXPECT_EQ(w.error, NetError::kDns);
  EXPECT_FALSE(w.error_text.empty());
  int asked = dns_.total_queries();
  EXPECT_GE(asked, 1);

  ResolvedAddresses out;
  EXPECT_FALSE(resolver_.Lookup("missing.test", Family::kIpv4First, &out));
  RecordingWaiter cached = ResolveNow("missing.test");
  EXPECT_EQ(cached.error, NetError::kDns);
  EXPECT_TRUE(cached.from_cache);
  EXPECT_EQ(cached.error_text, w.error_text);
  EXPECT_EQ(dns_.total_queries(), asked);

  clock_.AdvanceNs(1 * kSec);
  loop_.UpdateNow();
  RecordingWaiter fresh = ResolveNow("missing.test");
  EXPECT_EQ(fresh.error, NetError::kDns);
  EXPECT_FALSE(fresh.from_cache);
  EXPECT_GT(dns_.total_queries(), asked);
}

TEST_F(ResolverTest, WrongFamilyIsDnsError) {
  dns_.Set("v4only.test", {{"10.4.0.1"}, {}, 60});
  RecordingWaiter w = ResolveNow("v4only.test", Family::kIpv6Only);
  EXPECT_EQ(w.error, NetError::kDns);
  EXPECT_EQ(w.error_text, "no IPv6 address for host");
}

TEST_F(ResolverTest, ConcurrentResolvesShareOneQuery) {
  dns_.Set("shared.test", {{"10.5.0.1"}, {}, 60});
  RecordingWaiter a, b, c;
  resolver_.Resolve("shared.test", Family::kIpv4First, &a);
  resolver_.Resolve("shared.test", Family::kIpv4First, &b);
  resolver_.Resolve("shared.test", Family::kIpv4First, &c);
  EXPECT_EQ(resolver_.in_flight(), 1u);
  resolver_.Cancel(&b);
  EXPECT_FALSE(b.pending());
  ASSERT_TRUE(RunUntil(loop_, [&] { return a.calls > 0 && c.calls > 0; }));
  EXPECT_EQ(a.ips, (std::vector<std::string>{"10.5.0.1"}));
  EXPECT_EQ(c.ips, (std::vector<std::string>{"10.5.0.1"}));
  EXPECT_EQ(b.calls, 0);
  EXPECT_EQ(dns_.queries("shared.test", kTypeA), 1);
  EXPECT_EQ(resolver_.in_flight(), 0u);
}

// A waiter that resolves again from inside its callback.
class ChainingWaiter : public RecordingWaiter {
 public:
  ChainingWaiter(Resolver& r, std::string next) : resolver(r), next_host(std::move(next)) {}
  void OnResolved(const ResolveResult& r) override {
    RecordingWaiter::OnResolved(r);
    if (!next_host.empty()) {
      std::string host = std::move(next_host);
      next_host.clear();
      resolver.Resolve(host, Family::kIpv4First, this);
      EXPECT_EQ(calls, 1);  // never called back synchronously
    }
  }
  Resolver& resolver;
  std::string next_host;
};

TEST_F(ResolverTest, WaiterMayResolveAgainFromItsCallback) {
  dns_.Set("first.test", {{"10.6.0.1"}, {}, 60});
  ChainingWaiter w(resolver_, "first.test");
  resolver_.Resolve("first.test", Family::kIpv4First, &w);
  ASSERT_TRUE(RunUntil(loop_, [&] { return w.calls == 2; }));
  EXPECT_TRUE(w.from_cache);
  EXPECT_EQ(w.ips, (std::vector<std::string>{"10.6.0.1"}));
}

TEST(ResolverHostsTest, LocalhostComesFromTheHostsFile) {
  core::FakeClock clock(kSec);
  loop::EventLoop loop(clock);
  Resolver::Options o;
  o.servers = {"127.0.0.1:1"};  // closed: DNS must not be needed
  o.use_search_domains = false;
  o.timeout = std::chrono::milliseconds(200);
  o.tries = 1;
  Resolver resolver(loop, o);
  RecordingWaiter w;
  resolver.Resolve("localhost", Family::kIpv4First, &w);
  ASSERT_TRUE(RunUntil(loop, [&] { return w.calls > 0; }));
  ASSERT_EQ(w.error, NetError::kNone) << w.error_text;
  ASSERT_FALSE(w.ips.empty());
  EXPECT_EQ(w.ips[0], "127.0.0.1");
  ResolvedAddresses out;
  EXPECT_TRUE(resolver.Lookup("localhost", Family::kIpv4Only, &out));
}

TEST(ResolverTimeoutTest, SilentServerFailsWithinTheTimeout) {
  core::MonotonicClock clock;
  loop::EventLoop loop(clock);
  FakeDnsServer silent(loop, /*silent=*/true);
  Resolver::Options o;
  o.servers = {silent.address()};
  o.use_search_domains = false;
  o.timeout = std::chrono::milliseconds(200);
  o.tries = 1;
  Resolver resolver(loop, o);
  RecordingWaiter w;
  int64_t start = clock.NowNs();
  resolver.Resolve("slow.test", Family::kIpv4First, &w);
  int turns = 0;
  ASSERT_TRUE(RunUntil(
      loop, [&] { return w.calls > 0; }, 250, &turns));
  int64_t elapsed = clock.NowNs() - start;
  // The loop slept until c-ares' deadline instead of spinning.
  EXPECT_LT(turns, 60);
  EXPECT_EQ(w.error, NetError::kDns);
  EXPECT_NE(w.error_text.find("imeout"), std::string::npos) << w.error_text;
  EXPECT_GE(elapsed, 150 * core::kNsPerMs);
  EXPECT_LT(elapsed, 2 * kSec);
  // The waiter's own timing covers the wait.
  EXPECT_GE(w.end_ns - w.start_ns, 150 * core::kNsPerMs);
}

TEST(ResolverDestroyTest, PendingWaitersAreDroppedOnDestruction) {
  core::MonotonicClock clock;
  loop::EventLoop loop(clock);
  FakeDnsServer silent(loop, /*silent=*/true);
  RecordingWaiter w;
  {
    Resolver::Options o;
    o.servers = {silent.address()};
    o.use_search_domains = false;
    Resolver resolver(loop, o);
    resolver.Resolve("never.test", Family::kIpv4First, &w);
    loop.RunOnce(0);
    EXPECT_TRUE(w.pending());
  }
  EXPECT_FALSE(w.pending());
  EXPECT_EQ(w.calls, 0);
  EXPECT_EQ(loop.scheduled_timers(), 0u);
}

}  // namespace
}  // namespace stampede::net
