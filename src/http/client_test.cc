// Integration tests of the HTTP client against real servers on loopback:
// nginx (HTTP and HTTPS) and the fault-injection server. Servers are started
// by the tests and awaited by their readiness lines; the loop is driven until
// the exchange completes, bounded by the exchange's own timeout.
#include "http/client.h"
#include "core/sanitizers.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <thread>

#include "child_process.h"
#include "core/clock.h"
#include "http/request_writer.h"
#include "net/resolver.h"
#include "net/tls.h"

// Counts allocations made by this thread while `g_counting` is set. The
// replaced global new/delete pair malloc/free, which GCC cannot see through.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
namespace {
thread_local bool g_counting = false;
thread_local uint64_t g_allocations = 0;
}  // namespace
#if STAMPEDE_CAN_REPLACE_NEW  // core/sanitizers.h
void* operator new(size_t n) {
  if (g_counting) ++g_allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
#endif

namespace stampede::http {
namespace {

class TestExchange final : public Exchange {
 public:
  void OnComplete() override { ++completions; }
  int completions = 0;
};

class ClientTest : public ::testing::Test {
 protected:
  void MakeClient(ClientOptions options = {}, net::TlsContext::Options tls = {}) {
    net::Resolver::Options ro;
    ro.servers = {"127.0.0.1:1"};  // never the system's resolver: loopback only
    resolver_ = std::make_unique<net::Resolver>(loop_, ro);
    tls_ = std::make_unique<net::TlsContext>(tls);
    client_ = std::make_unique<Client>(loop_, *resolver_, tls_.get(), options);
  }

  // Prepares `ex` for `method url`, keeping the request bytes alive.
  void Prepare(TestExchange& ex, const std::string& url, const std::string& method = "GET") {
    Url u = ParseUrl(url, "test");
    requests_.push_back(std::make_unique<PreparedRequest>(
        PreparedRequest::Prepare(writer_, method, u)));
    ex.origin = client_->GetOrigin(u);
    ex.request_bytes = requests_.back()->bytes();
    ex.head = requests_.back()->head_request();
  }

  // Sends and drives the loop until `ex` completes (bounded by its timeout).
  void RunToCompletion(TestExchange& ex) {
    int before = ex.completions;
    client_->Send(ex);
    for (int turns = 0; ex.completions == before && turns < 100000; ++turns) loop_.RunOnce();
    ASSERT_EQ(ex.completions, before + 1) << "exchange never completed";
  }

  core::MonotonicClock clock_;
  loop::EventLoop loop_{clock_};
  std::unique_ptr<net::Resolver> resolver_;
  std::unique_ptr<net::TlsContext> tls_;
  std::unique_ptr<Client> client_;
  RequestWriter writer_;
  std::vector<std::unique_ptr<PreparedRequest>> requests_;
};

TEST_F(ClientTest, KeepAliveReusesOneConnectionAndRecordsPhases) {
  testing::NginxServer nginx;
  MakeClient();
  TestExchange ex;
  Prepare(ex, nginx.url());
  for (int i = 0; i < 50; ++i) {
    RunToCompletion(ex);
    ASSERT_EQ(ex.error, net::NetError::kNone) << ex.error_detail;
    EXPECT_EQ(ex.status, 200);
    EXPECT_EQ(ex.timings.new_connection, i == 0);
    EXPECT_EQ(ex.timings.ConnectingNs() > 0, i == 0);
    EXPECT_GT(ex.timings.WaitingNs(), 0);
    EXPECT_GE(ex.timings.end_ns, ex.timings.first_byte_ns);
    EXPECT_GE(ex.timings.first_byte_ns, ex.timings.send_end_ns);
    EXPECT_GT(ex.bytes_received, 612u);  // headers + the 612-byte page
    EXPECT_EQ(ex.peer.port(), nginx.port());
  }
  EXPECT_EQ(client_->connections_opened(), 1u);
  EXPECT_EQ(client_->open_connections(), 1u);
}

// A VU sends its next request from inside OnComplete: the connection it just
// used must already be back in the pool.
class ResendingExchange final : public Exchange {
 public:
  ResendingExchange(Client*& client, int total) : client_(client), left_(total) {}
  void OnComplete() override {
    ++completions;
    if (error != net::NetError::kNone) failures++;
    if (--left_ > 0) client_->Send(*this);
  }
  int completions = 0;
  int failures = 0;

 private:
  Client*& client_;
  int left_;
};

TEST_F(ClientTest, ResendFromCompletionReusesTheSameConnection) {
  testing::NginxServer nginx;
  MakeClient();
  Client* client = client_.get();
  ResendingExchange ex(client, 20);
  Url u = ParseUrl(nginx.url(), "test");
  PreparedRequest req = PreparedRequest::Prepare(writer_, "GET", u);
  ex.origin = client_->GetOrigin(u);
  ex.request_bytes = req.bytes();
  client_->Send(ex);
  for (int turns = 0; ex.completions < 20 && turns < 100000; ++turns) loop_.RunOnce();
  EXPECT_EQ(ex.completions, 20);
  EXPECT_EQ(ex.failures, 0);
  EXPECT_EQ(client_->connections_opened(), 1u);
}

// k6's noConnectionReuse: each exchange opens a connection and closes it.
TEST_F(ClientTest, WithoutReuseEveryExchangeOpensAndClosesItsConnection) {
  testing::NginxServer nginx;
  ClientOptions options;
  options.reuse_connections = false;
  MakeClient(options);
  TestExchange ex;
  Prepare(ex, nginx.url());
  for (int i = 0; i < 5; ++i) {
    RunToCompletion(ex);
    ASSERT_EQ(ex.error, net::NetError::kNone) << ex.error_detail;
    EXPECT_EQ(ex.status, 200);
    EXPECT_TRUE(ex.timings.new_connection) << i;
    EXPECT_EQ(client_->open_connections(), 0u) << "closed after its response";
  }
  EXPECT_EQ(client_->connections_opened(), 5u);
  // Switched back on: the next two share one connection.
  client_->set_reuse_connections(true);
  RunToCompletion(ex);
  RunToCompletion(ex);
  EXPECT_FALSE(ex.timings.new_connection);
  EXPECT_EQ(client_->connections_opened(), 6u);
}

// noVUConnectionReuse: an idle connection serves only exchanges with the key
// of the one that opened it; CloseIdle(key) closes that key's idle ones.
TEST_F(ClientTest, PoolKeysSeparateIdleConnectionsAndCloseIdleClosesOneKey) {
  testing::NginxServer nginx;
  MakeClient();
  TestExchange a, b, shared;
  Prepare(a, nginx.url());
  Prepare(b, nginx.url());
  Prepare(shared, nginx.url());
  a.pool_key = 7;
  b.pool_key = 8;
  RunToCompletion(a);
  RunToCompletion(b);
  EXPECT_TRUE(b.timings.new_connection) << "key 8 may not take key 7's idle connection";
  RunToCompletion(shared);
  EXPECT_TRUE(shared.timings.new_connection) << "the shared pool (key 0) is separate too";
  RunToCompletion(a);
  EXPECT_FALSE(a.timings.new_connection) << "key 7 reuses its own connection";
  EXPECT_EQ(client_->connections_opened(), 3u);
  EXPECT_EQ(client_->open_connections(), 3u);
  client_->CloseIdle(7);
  EXPECT_EQ(client_->open_connections(), 2u);
  RunToCompletion(a);
  EXPECT_TRUE(a.timings.new_connection) << "closed: key 7 needs a new connection";
  RunToCompletion(b);
  EXPECT_FALSE(b.timings.new_connection) << "key 8's connection was left alone";
  client_->CloseIdle(8);
  client_->CloseIdle(7);
  client_->CloseIdle(0);
  EXPECT_EQ(client_->open_connections(), 0u);
}

TEST_F(ClientTest, SteadyStateAllocatesNothing) {
  if (!STAMPEDE_CAN_REPLACE_NEW) GTEST_SKIP() << "ThreadSanitizer owns operator new";
  testing::NginxServer nginx;
  MakeClient();
  TestExchange ex;
  Prepare(ex, nginx.url());
  for (int i = 0; i < 10; ++i) RunToCompletion(ex);  // warm up: pool, heap, buffers
  g_allocations = 0;
  g_counting = true;
  for (int i = 0; i < 1000; ++i) {
    client_->Send(ex);
    int before = ex.completions;
    for (int turns = 0; ex.completions == before && turns < 100000; ++turns) loop_.RunOnce();
  }
  g_counting = false;
  EXPECT_EQ(ex.completions, 1010);
  EXPECT_EQ(ex.error, net::NetError::kNone);
  EXPECT_EQ(g_allocations, 0u) << "the request hot path allocated";
}

TEST_F(ClientTest, HttpsVerifiesAndResumesSessions) {
  testing::NginxServer nginx;
  net::TlsContext::Options tls;
  tls.ca_file = nginx.ca_cert();
  MakeClient({}, tls);
  TestExchange ex;
  Prepare(ex, nginx.https_url());
  RunToCompletion(ex);
  ASSERT_EQ(ex.error, net::NetError::kNone) << ex.error_detail;
  EXPECT_EQ(ex.status, 200);
  EXPECT_GT(ex.timings.TlsNs(), 0);
  EXPECT_FALSE(ex.timings.tls_resumed);
  client_->CloseAll();
  RunToCompletion(ex);  // a new connection: the session is resumed
  ASSERT_EQ(ex.error, net::NetError::kNone) << ex.error_detail;
  EXPECT_TRUE(ex.timings.new_connection);
  EXPECT_TRUE(ex.timings.tls_resumed);
}

TEST_F(ClientTest, HttpsWithUntrustedCertificateFailsVerification) {
  testing::NginxServer nginx;
  MakeClient();  // the system's trust store: nginx's self-signed certificate is not in it
  TestExchange ex;
  Prepare(ex, nginx.https_url());
  RunToCompletion(ex);
  EXPECT_TRUE(ex.error == net::NetError::kTlsVerify || ex.error == net::NetError::kTls)
      << net::Name(ex.error) << ": " << ex.error_detail;
  EXPECT_EQ(ex.status, 0);
}

TEST_F(ClientTest, RefusedPortIsCountedNotFatal) {
  MakeClient();
  TestExchange ex;
  Prepare(ex, "http://127.0.0.1:" + std::to_string(testing::UnusedPort()) + "/");
  RunToCompletion(ex);
  EXPECT_EQ(ex.error, net::NetError::kRefused);
  EXPECT_EQ(client_->open_connections(), 0u);
}

TEST_F(ClientTest, FaultsAreTypedErrors) {
  testing::FaultServer fault;
  ClientOptions options;
  options.request_timeout_ns = 300'000'000;
  MakeClient(options);
  struct Case {
    const char* path;
    net::NetError error;
    int status;
  } cases[] = {
      {"/stall", net::NetError::kTimeout, 0},
      {"/garbage", net::NetError::kProtocol, 0},
      {"/bad-chunk", net::NetError::kProtocol, 0},
      {"/reset-mid-body", net::NetError::kReset, 0},
      {"/ok", net::NetError::kNone, 200},
      {"/chunked", net::NetError::kNone, 200},
      {"/close", net::NetError::kNone, 200},
      {"/204", net::NetError::kNone, 204},
      {"/304?cl=10", net::NetError::kNone, 304},
      {"/status?code=503", net::NetError::kNone, 503},
  };
  for (const Case& c : cases) {
    TestExchange ex;
    Prepare(ex, fault.Url(c.path));
    RunToCompletion(ex);
    EXPECT_EQ(ex.error, c.error) << c.path << ": " << net::Name(ex.error) << " " << ex.error_detail;
    EXPECT_EQ(ex.status, c.status) << c.path;
  }
}

TEST_F(ClientTest, BodyIsDiscardedByDefaultAndKeptUpToABound) {
  testing::NginxServer nginx;
  MakeClient();
  TestExchange ex;
  Prepare(ex, nginx.url());
  RunToCompletion(ex);
  EXPECT_TRUE(ex.body.empty());  // nothing asked for it
  ex.keep_body_bytes = 100;
  RunToCompletion(ex);
  EXPECT_EQ(ex.body.size(), 100u);
  EXPECT_TRUE(ex.body_truncated);
  EXPECT_EQ(ex.body.rfind("<!DOCTYPE html>", 0), 0u);
  ex.keep_body_bytes = 1 << 20;
  RunToCompletion(ex);
  EXPECT_EQ(ex.body.size(), 612u);
  EXPECT_FALSE(ex.body_truncated);
}

TEST_F(ClientTest, Ipv6Loopback) {
  testing::FaultServer fault({"--host", "::1"});
  MakeClient();
  TestExchange ex;
  Prepare(ex, "http://[::1]:" + std::to_string(fault.port()) + "/ok");
  RunToCompletion(ex);
  ASSERT_EQ(ex.error, net::NetError::kNone) << ex.error_detail;
  EXPECT_EQ(ex.status, 200);
  EXPECT_EQ(ex.peer.family(), AF_INET6);
}

TEST_F(ClientTest, ConnectTimeoutWhenTheListenQueueIsFull) {
  // A listener that never accepts, with its backlog filled: the kernel drops
  // further SYNs, so a connect stays in progress until our timeout.
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(lfd, 0), 0);
  socklen_t len = sizeof a;
  getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len);
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    fillers.push_back(fd);
  }
  ClientOptions options;
  options.connect_timeout_ns = 200'000'000;
  MakeClient(options);
  TestExchange ex;
  Prepare(ex, "http://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/");
  RunToCompletion(ex);
  EXPECT_EQ(ex.error, net::NetError::kTimeout) << net::Name(ex.error) << " " << ex.error_detail;
  EXPECT_EQ(ex.error_detail, "connect timeout");
  EXPECT_EQ(client_->open_connections(), 0u);
  for (int fd : fillers) close(fd);
  close(lfd);
}

TEST_F(ClientTest, ADnsServerThatNeverAnswersIsADnsErrorAtTheConnectTimeout) {
  // A UDP socket that reads nothing and answers nothing: the resolver's own
  // timeout (2 s, 2 tries) comes after our 200 ms connect timeout, and the
  // error is still `dns`, not `timeout`.
  int dns = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(dns, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  getsockname(dns, reinterpret_cast<sockaddr*>(&a), &len);
  net::Resolver::Options ro;
  ro.servers = {"127.0.0.1:" + std::to_string(ntohs(a.sin_port))};
  resolver_ = std::make_unique<net::Resolver>(loop_, ro);
  tls_ = std::make_unique<net::TlsContext>(net::TlsContext::Options{});
  ClientOptions options;
  options.connect_timeout_ns = 200'000'000;
  client_ = std::make_unique<Client>(loop_, *resolver_, tls_.get(), options);
  TestExchange ex;
  Prepare(ex, "http://never-answered.invalid:1/");
  RunToCompletion(ex);
  EXPECT_EQ(ex.error, net::NetError::kDns) << net::Name(ex.error) << " " << ex.error_detail;
  EXPECT_EQ(ex.error_detail, "DNS lookup timeout");
  EXPECT_EQ(client_->open_connections(), 0u);
  close(dns);
}

TEST_F(ClientTest, APeerFasterThanTheParserCannotHoldOffTheRequestTimeout) {
  // Endless interim 100 Continue responses from a thread that writes them
  // much faster than they can be parsed: every read fills the buffer. The
  // read loop must still return to the event loop, so that the 200 ms request
  // timeout fires (before the fix it never returned while the peer kept up).
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(lfd, 1), 0);
  socklen_t len = sizeof a;
  getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len);
  std::atomic<bool> stop{false};
  std::thread flooder([lfd, &stop] {
    int fd = accept(lfd, nullptr, nullptr);
    if (fd < 0) return;
    char req[4096];
    (void)recv(fd, req, sizeof req, 0);
    std::string block;
    while (block.size() < (256u << 10)) block += "HTTP/1.1 100 Continue\r\n\r\n";
    while (!stop.load() && send(fd, block.data(), block.size(), MSG_NOSIGNAL) > 0) {
    }
    close(fd);
  });
  ClientOptions options;
  options.request_timeout_ns = 200'000'000;
  MakeClient(options);
  TestExchange ex;
  Prepare(ex, "http://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/");
  const auto start = std::chrono::steady_clock::now();
  RunToCompletion(ex);
  const auto took = std::chrono::steady_clock::now() - start;
  stop.store(true);
  client_.reset();  // closes the connection: the flooder's send fails
  flooder.join();
  close(lfd);
  EXPECT_EQ(ex.error, net::NetError::kTimeout) << net::Name(ex.error) << " " << ex.error_detail;
  EXPECT_EQ(ex.error_detail, "request timeout");
  EXPECT_LT(took, std::chrono::seconds(5));
}

TEST_F(ClientTest, HeadIgnoresContentLength) {
  testing::FaultServer fault;
  MakeClient();
  TestExchange ex;
  Prepare(ex, fault.Url("/head-cl"), "HEAD");
  for (int i = 0; i < 3; ++i) {
    RunToCompletion(ex);
    ASSERT_EQ(ex.error, net::NetError::kNone) << ex.error_detail;
    EXPECT_EQ(ex.status, 200);
  }
  EXPECT_EQ(client_->connections_opened(), 1u);  // the connection stayed usable
}

TEST_F(ClientTest, ConnectionLimitQueuesAndReportsBlockedTime) {
  testing::FaultServer fault;
  ClientOptions options;
  options.max_conns_per_origin = 1;
  MakeClient(options);
  TestExchange a, b, c;
  for (TestExchange* ex : {&a, &b, &c}) Prepare(*ex, fault.Url("/slow-headers?ms=20"));
  client_->Send(a);
  client_->Send(b);
  client_->Send(c);
  for (int turns = 0; (a.completions + b.completions + c.completions) < 3 && turns < 100000;
       ++turns) {
    loop_.RunOnce();
  }
  for (TestExchange* ex : {&a, &b, &c}) {
    EXPECT_EQ(ex->completions, 1);
    EXPECT_EQ(ex->status, 200) << ex->error_detail;
  }
  EXPECT_FALSE(a.timings.waited_for_connection);
  EXPECT_TRUE(b.timings.waited_for_connection);
  EXPECT_GT(c.timings.BlockedNs(), b.timings.BlockedNs());
  EXPECT_EQ(client_->connections_opened(), 1u);
}

}  // namespace
}  // namespace stampede::http
