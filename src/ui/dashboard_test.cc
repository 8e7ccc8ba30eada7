#include "ui/dashboard.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

#include "core/error.h"

namespace stampede::ui {
namespace {

using namespace std::chrono_literals;

constexpr auto kWait = 10s;  // upper bound of any wait: a hang fails, never a slow pass

// A blocking loopback client reading the raw bytes.
class Client {
 public:
  explicit Client(uint16_t port, int rcvbuf = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_GE(fd_, 0);
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0) << strerror(errno);
  }
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  void Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      data.remove_prefix(static_cast<size_t>(n));
    }
  }
  // Reads until `what` has arrived (true), or EOF / kWait (false).
  bool ReadUntil(std::string_view what) {
    auto deadline = std::chrono::steady_clock::now() + kWait;
    while (buf_.find(what) == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
      char chunk[65536];
      ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) return false;
      buf_.append(chunk, static_cast<size_t>(n));
    }
    return true;
  }
  // Reads until EOF (or kWait).
  const std::string& ReadAll() {
    ReadUntil(std::string_view("\x01\x02never", 7));
    return buf_;
  }
  const std::string& buf() const { return buf_; }
  size_t Drain() {  // reads what is there now, returns bytes read so far
    char chunk[65536];
    while (true) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) break;
      ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) break;
      total_ += static_cast<size_t>(n);
      tail_.append(chunk, static_cast<size_t>(n));
      if (tail_.size() > 4096) tail_.erase(0, tail_.size() - 4096);
    }
    return total_;
  }
  const std::string& tail() const { return tail_; }

 private:
  int fd_ = -1;
  std::string buf_;
  std::string tail_;
  size_t total_ = 0;
};

// A complete request/response over a fresh connection (Connection: close).
std::string Exchange(uint16_t port, std::string_view method, std::string_view path,
                     std::vector<std::string> headers = {}, std::string body = "") {
  Client c(port);
  std::string req = std::string(method) + " " + std::string(path) + " HTTP/1.1\r\nHost: 127.0.0.1:" +
                    std::to_string(port) + "\r\nConnection: close\r\n";
  for (const std::string& h : headers) req += h + "\r\n";
  if (!body.empty() || method == "POST") req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  c.Send(req);
  return c.ReadAll();
}

int Status(const std::string& response) {
  if (response.size() < 12) return 0;
  return std::stoi(response.substr(9, 3));
}

std::string Body(const std::string& response) {
  size_t at = response.find("\r\n\r\n");
  return at == std::string::npos ? std::string() : response.substr(at + 4);
}

class RecordingControl : public DashboardControl {
 public:
  ControlResult OnControl(const ControlRequest& r) override {
    std::lock_guard lock(mu_);
    seen_.push_back(r);
    if (r.action == "set_vus" || r.action == "set_rate") return {501, "not available yet"};
    return {};
  }
  std::vector<ControlRequest> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  std::mutex mu_;
  std::vector<ControlRequest> seen_;
};

DashboardOptions Loopback() {
  DashboardOptions o;
  o.address = "127.0.0.1:0";
  o.run_info = {{"run_id", "r1"}, {"script", nullptr}, {"target", "http://x/"}};
  return o;
}

TEST(DashboardTest, ServesTheEmbeddedAssetsWithTheSecurityHeaders) {
  Dashboard d(Loopback(), nullptr);
  EXPECT_EQ(d.url(), "http://127.0.0.1:" + std::to_string(d.port()) + "/");
  const std::pair<const char*, const char*> cases[] = {
      {"/", "text/html"},          {"/app.js", "text/javascript"},
      {"/app.css", "text/css"},    {"/uplot.min.js", "text/javascript"},
      {"/uplot.min.css", "text/css"}, {"/api/run", "application/json"}};
  for (const auto& [path, type] : cases) {
    std::string r = Exchange(d.port(), "GET", path);
    EXPECT_EQ(Status(r), 200) << path;
    EXPECT_NE(r.find("Content-Type: " + std::string(type)), std::string::npos) << path << r.substr(0, 400);
    EXPECT_NE(r.find("Content-Security-Policy: " + std::string(kContentSecurityPolicy)),
              std::string::npos) << path;
    EXPECT_NE(r.find("X-Content-Type-Options: nosniff"), std::string::npos) << path;
    EXPECT_NE(r.find("Cache-Control: no-store"), std::string::npos) << path;
    EXPECT_GT(Body(r).size(), 2u) << path;
  }
  std::string missing = Exchange(d.port(), "GET", "/nope");
  EXPECT_EQ(Status(missing), 404);
  EXPECT_EQ(nlohmann::json::parse(Body(missing))["error"], "not found");
  EXPECT_EQ(Status(Exchange(d.port(), "POST", "/api/run")), 405);
}

TEST(DashboardTest, RunDescriptionHasNoSecret) {
  DashboardOptions o = Loopback();
  o.token = "s3cr3t-token-value";
  Dashboard d(o, nullptr);
  std::string r = Exchange(d.port(), "GET", "/api/run");
  EXPECT_EQ(r.find("s3cr3t"), std::string::npos);
  nlohmann::json j = nlohmann::json::parse(Body(r));
  EXPECT_EQ(j["run_id"], "r1");
  EXPECT_FALSE(j["token_required"].get<bool>());  // loopback, not forced
}

TEST(DashboardTest, TokenIsRequiredOffLoopbackOnly) {
  EXPECT_TRUE(http::IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(http::IsLoopbackHost("::1"));
  EXPECT_TRUE(http::IsLoopbackHost("localhost"));
  EXPECT_FALSE(http::IsLoopbackHost("0.0.0.0"));
  EXPECT_FALSE(http::IsLoopbackHost("10.1.2.3"));
  EXPECT_EQ(RandomToken().size(), 32u);
  EXPECT_NE(RandomToken(), RandomToken());
}

TEST(DashboardTest, BadAddressIsAConfigError) {
  DashboardOptions o = Loopback();
  o.address = "127.0.0.1:notaport";
  EXPECT_THROW(Dashboard(o, nullptr), core::ConfigError);
  Dashboard first(Loopback(), nullptr);
  o.address = "127.0.0.1:" + std::to_string(first.port());
  EXPECT_THROW(Dashboard(o, nullptr), core::ConfigError);
}

TEST(DashboardTest, StreamSendsHistoryThenTicksThenEnd) {
  Dashboard d(Loopback(), nullptr);
  d.Publish({{"t", 1}});
  d.Publish({{"t", 2}, {"names", {{{"name", "<script>x</script>"}}}}});
  Client c(d.port());
  c.Send("GET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(c.ReadUntil("event: history\ndata: "));
  ASSERT_TRUE(c.ReadUntil("]\n\n"));
  const std::string& b = c.buf();
  EXPECT_NE(b.find("text/event-stream"), std::string::npos);
  EXPECT_NE(b.find("Content-Security-Policy:"), std::string::npos);
  size_t retry = b.find("retry: 2000\n\n");
  size_t history = b.find("event: history\ndata: [");
  ASSERT_NE(retry, std::string::npos);
  EXPECT_LT(retry, history);
  // The name is JSON text: no HTML escaping, no raw newline.
  EXPECT_NE(b.find("[{\"t\":1},{\"names\":[{\"name\":\"<script>x</script>\"}],\"t\":2}]"),
            std::string::npos) << b;
  d.Publish({{"t", 3}});
  ASSERT_TRUE(c.ReadUntil("event: tick\ndata: {\"t\":3}\n\n"));
  d.Heartbeat();
  ASSERT_TRUE(c.ReadUntil(": ping\n\n"));
  d.End({{"outcome", "passed"}, {"exit_code", 0}});
  ASSERT_TRUE(c.ReadUntil("event: end\ndata: {\"exit_code\":0,\"outcome\":\"passed\"}\n\n"));
  // A client joining after the end gets the history and the end.
  Client late(d.port());
  late.Send("GET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(late.ReadUntil("event: end\n"));
  EXPECT_NE(late.buf().find("{\"t\":3}]"), std::string::npos);
  EXPECT_EQ(d.clients(), 2u);
  EXPECT_EQ(d.clients_dropped(), 0u);
}

TEST(DashboardTest, StopSendsTheEndBeforeClosing) {
  Dashboard d(Loopback(), nullptr);
  Client c(d.port());
  c.Send("GET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(c.ReadUntil("]\n\n"));
  d.Publish({{"t", 1}});
  d.End({{"outcome", "stopped"}, {"exit_code", 0}});
  d.Stop();  // at once: no linger
  ASSERT_TRUE(c.ReadUntil("event: end\ndata: {\"exit_code\":0,\"outcome\":\"stopped\"}\n\n"));
  EXPECT_TRUE(c.ReadUntil("\r\n0\r\n\r\n")) << "the response ends cleanly";
}

TEST(DashboardTest, HistoryIsBounded) {
  DashboardOptions o = Loopback();
  o.history_limit = 3;
  Dashboard d(o, nullptr);
  for (int i = 1; i <= 5; ++i) d.Publish({{"t", i}});
  Client c(d.port());
  c.Send("GET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(c.ReadUntil("]\n\n"));
  EXPECT_NE(c.buf().find("data: [{\"t\":3},{\"t\":4},{\"t\":5}]"), std::string::npos) << c.buf();
}

TEST(DashboardTest, HistoryKeepsTablesOfTheNewestTickOnly) {
  Dashboard d(Loopback(), nullptr);
  for (int i = 1; i <= 3; ++i) {
    d.Publish({{"t", i}, {"names", {{{"name", "n" + std::to_string(i)}}}}, {"steering", {i}}});
  }
  Client c(d.port());
  c.Send("GET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(c.ReadUntil("]\n\n"));
  EXPECT_NE(c.buf().find("data: [{\"t\":1},{\"t\":2},{\"names\":[{\"name\":\"n3\"}],"
                         "\"steering\":[3],\"t\":3}]"),
            std::string::npos)
      << c.buf();
}

TEST(DashboardTest, ASlowClientIsDroppedWhileAnotherKeepsReceiving) {
  DashboardOptions o = Loopback();
  o.max_pending_bytes = 64 * 1024;
  o.history_limit = 4;
  Dashboard d(o, nullptr);
  Client slow(d.port(), /*rcvbuf=*/4096);  // subscribes, then never reads
  slow.Send("GET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n");
  Client fast(d.port());
  fast.Send("GET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n");
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (d.clients() < 2 && std::chrono::steady_clock::now() < deadline) fast.Drain();
  ASSERT_EQ(d.clients(), 2u);

  // Lock-step with the fast client: each tick is published once it has the
  // previous one, so it never has more than one tick pending and must never
  // be dropped, however slow this machine; the slow one fills its socket
  // buffers, then its 64 KiB budget, and is dropped.
  const auto has = [&](const std::string& marker) {
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (fast.tail().find(marker) == std::string::npos) {
      if (std::chrono::steady_clock::now() > until) return false;
      fast.Drain();
    }
    return true;
  };
  const std::string filler(20'000, 'x');
  for (int i = 0; i < 2000 && d.clients_dropped() == 0; ++i) {
    d.Publish({{"t", i}, {"pad", filler}});
    ASSERT_TRUE(has("\"t\":" + std::to_string(i) + "}")) << "the fast client lost tick " << i;
  }
  d.Publish({{"t", "last"}});
  EXPECT_TRUE(has("{\"t\":\"last\"}"));
  EXPECT_EQ(d.clients_dropped(), 1u);
  EXPECT_EQ(d.clients(), 2u) << "both counted as having connected";
}

TEST(DashboardTest, ControlChecksTokenOriginTypeAndBody) {
  RecordingControl control;
  DashboardOptions o = Loopback();
  o.token = "tok123";
  o.token_required = true;  // as a non-loopback bind would
  Dashboard d(o, &control);
  const std::string json = "Content-Type: application/json";
  const std::string pause = R"({"action":"pause"})";
  auto post = [&](std::vector<std::string> headers, std::string body) {
    return Exchange(d.port(), "POST", "/api/control", std::move(headers), std::move(body));
  };
  std::string r = post({json}, pause);
  EXPECT_EQ(Status(r), 401);
  EXPECT_TRUE(nlohmann::json::parse(Body(r)).contains("error"));
  EXPECT_EQ(Status(post({json, "Authorization: Bearer wrong"}, pause)), 401);
  const std::string auth = "Authorization: Bearer tok123";
  const std::string origin_ok = "Origin: http://127.0.0.1:" + std::to_string(d.port());
  EXPECT_EQ(Status(post({json, auth, "Origin: http://evil.example"}, pause)), 403);
  EXPECT_EQ(Status(post({json, auth, "Origin: http://evil.example:" + std::to_string(d.port())},
                        pause)), 403);
  EXPECT_EQ(Status(post({"Content-Type: text/plain", auth}, pause)), 415);
  EXPECT_EQ(Status(post({auth}, pause)), 415);
  EXPECT_EQ(Status(post({json, auth}, "{not json")), 400);
  EXPECT_EQ(Status(post({json, auth}, R"({"action":"dance"})")), 400);
  EXPECT_EQ(Status(post({json, auth}, "[1]")), 400);
  EXPECT_TRUE(control.seen().empty());

  r = post({json, auth, origin_ok}, pause);
  EXPECT_EQ(Status(r), 200);
  EXPECT_EQ(Body(r), "{\"ok\":true}");
  EXPECT_EQ(Status(post({"Content-Type: application/json; charset=utf-8", "X-Stampede-Token: tok123"},
                        R"({"action":"resume"})")), 200);
  r = post({json, auth}, R"({"action":"set_vus","scenario":"s","value":5})");
  EXPECT_EQ(Status(r), 501);
  EXPECT_EQ(nlohmann::json::parse(Body(r))["error"], "not available yet");
  auto seen = control.seen();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].action, "pause");
  EXPECT_EQ(seen[0].peer.rfind("127.0.0.1:", 0), 0u);
  EXPECT_EQ(seen[1].action, "resume");
  EXPECT_EQ(seen[2].scenario, "s");
  EXPECT_EQ(seen[2].value, 5);

  d.MarkEnded();
  EXPECT_EQ(Status(post({json, auth}, pause)), 409);
  EXPECT_EQ(Status(Exchange(d.port(), "GET", "/api/control")), 405);
}

TEST(DashboardTest, LoopbackNeedsNoTokenButStillRefusesForeignOrigins) {
  RecordingControl control;
  Dashboard d(Loopback(), &control);
  auto post = [&](std::vector<std::string> headers) {
    return Status(Exchange(d.port(), "POST", "/api/control", std::move(headers),
                           R"({"action":"stop"})"));
  };
  EXPECT_EQ(post({"Content-Type: application/json", "Origin: http://attacker.example"}), 403);
  EXPECT_EQ(post({"Content-Type: application/json",
                  "Origin: http://localhost:" + std::to_string(d.port())}), 200);
  EXPECT_EQ(post({"Content-Type: application/json"}), 200);
  ASSERT_EQ(control.seen().size(), 2u);
  EXPECT_EQ(control.seen()[0].action, "stop");
}

}  // namespace
}  // namespace stampede::ui
