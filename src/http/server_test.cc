#include "http/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <random>
#include <thread>

#include "core/error.h"
#include "http/response_parser.h"

namespace stampede::http {
namespace {

using namespace std::chrono_literals;

constexpr auto kWait = 10s;  // upper bound of any wait: a hang fails, never a slow pass

// A blocking loopback client with bounded reads.
class Client {
 public:
  explicit Client(uint16_t port, bool ipv6 = false) {
    fd_ = ::socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_GE(fd_, 0);
    int rc;
    if (ipv6) {
      sockaddr_in6 a{};
      a.sin6_family = AF_INET6;
      a.sin6_port = htons(port);
      a.sin6_addr = in6addr_loopback;
      rc = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    } else {
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(port);
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      rc = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    }
    EXPECT_EQ(rc, 0) << strerror(errno);
  }
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }

  void Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return;  // the server may have closed: the read side tells
      data.remove_prefix(static_cast<size_t>(n));
    }
  }
  void ShutdownWrite() { ::shutdown(fd_, SHUT_WR); }

  // Reads more bytes into buf_; false on EOF, error or after kWait.
  bool ReadMore() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::chrono::milliseconds(kWait).count())) <= 0) {
      timed_out_ = true;
      return false;
    }
    char tmp[16384];
    ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }

  // Everything until the server closes the connection.
  std::string ReadToEof() {
    while (ReadMore()) {
    }
    EXPECT_FALSE(timed_out_) << "no EOF within the bound";
    return std::exchange(buf_, {});
  }

  // Raw bytes until `marker` has arrived (inclusive).
  std::string ReadUntil(std::string_view marker) {
    size_t at;
    while ((at = buf_.find(marker)) == std::string::npos) {
      if (!ReadMore()) break;
    }
    if (at == std::string::npos) return std::exchange(buf_, {});
    std::string out = buf_.substr(0, at + marker.size());
    buf_.erase(0, at + marker.size());
    return out;
  }

  struct Response {
    int status = 0;
    std::string body;
    HeaderList headers;
    bool keep_alive = false;
    bool complete = false;
  };

  // One response, parsed with the client's own ResponseParser.
  Response ReadResponse(bool head = false) {
    Response r;
    ResponseParser parser;
    parser.Reset(
        ResponseOptions{.head_request = head, .body_string = &r.body, .headers = &r.headers});
    while (true) {
      if (!buf_.empty()) {
        ParseResult pr = parser.Feed(buf_);
        buf_.erase(0, pr.consumed);
        if (pr.state == ParseState::kError) return r;
        if (pr.state == ParseState::kComplete) break;
      }
      if (!ReadMore()) {
        if (parser.FeedEof().state != ParseState::kComplete) return r;
        break;
      }
    }
    r.status = parser.status();
    r.keep_alive = parser.keep_alive();
    r.complete = true;
    return r;
  }

  // Whether the server closed the connection (EOF) within the bound, with
  // nothing more to read.
  bool SeesEof() {
    while (ReadMore()) {
    }
    return !timed_out_;
  }

 private:
  int fd_ = -1;
  std::string buf_;
  bool timed_out_ = false;
};

ServerResponse Echo(const ServerRequest& r) {
  std::string body = r.method + " " + r.path + " q=" + r.query + " body=" + r.body;
  if (auto ua = r.Header("user-agent")) body += " ua=" + std::string(*ua);
  return ServerResponse::Text(200, "text/plain", body);
}

ServerOptions Loopback() {
  ServerOptions o;
  o.address = "127.0.0.1:0";
  o.option_name = "--test-listen";
  return o;
}

TEST(ServerRequestQuery, FindsAParameterUndecoded) {
  ServerRequest r;
  r.query = "from=12&to=34&flag&span=ab%20";
  EXPECT_EQ(r.QueryParam("from"), "12");
  EXPECT_EQ(r.QueryParam("to"), "34");
  EXPECT_EQ(r.QueryParam("flag"), "");
  EXPECT_EQ(r.QueryParam("span"), "ab%20");
  EXPECT_FALSE(r.QueryParam("fro").has_value());
  EXPECT_FALSE(ServerRequest{}.QueryParam("from").has_value());
}

TEST(ServerTest, LoopbackIsRecognisedByAddress) {
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("127.4.5.6"));
  EXPECT_TRUE(IsLoopbackHost("::1"));
  EXPECT_TRUE(IsLoopbackHost("::ffff:127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("localhost"));
  EXPECT_FALSE(IsLoopbackHost("0.0.0.0"));
  EXPECT_FALSE(IsLoopbackHost("::"));
  EXPECT_FALSE(IsLoopbackHost("10.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost("::ffff:10.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost("128.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost("loopback.example"));  // a name is not proof
  EXPECT_EQ(ExposureWarning("--ui", "0.0.0.0:5665", "; its control needs the token"),
            "--ui 0.0.0.0:5665: listening beyond loopback: other machines can reach it; its "
            "control needs the token");
}

TEST(ServerTest, ALoopbackListenerSaysNothingAboutExposure) {
  ::testing::internal::CaptureStderr();
  {
    ServerOptions o;
    o.address = "127.0.0.1:0";
    o.option_name = "--test";
    Server server(o, [](const ServerRequest&) { return ServerResponse::Text(200, "text/plain", "ok"); });
  }
  EXPECT_EQ(::testing::internal::GetCapturedStderr().find("beyond loopback"), std::string::npos);
}

TEST(ServerTest, GetAndKeepAlive) {
  Server server(Loopback(), Echo);
  ASSERT_NE(server.port(), 0);
  EXPECT_EQ(server.address(), "127.0.0.1:" + std::to_string(server.port()));
  Client c(server.port());
  c.Send("GET /metrics?a=1 HTTP/1.1\r\nHost: x\r\nUser-Agent: Prometheus/2.42\r\n\r\n");
  auto r = c.ReadResponse();
  ASSERT_TRUE(r.complete);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "GET /metrics q=a=1 body= ua=Prometheus/2.42");
  EXPECT_EQ(r.headers.Find("content-type"), "text/plain");
  EXPECT_TRUE(r.keep_alive);
  c.Send("GET /second HTTP/1.1\r\nHost: x\r\n\r\n");
  r = c.ReadResponse();
  EXPECT_EQ(r.body, "GET /second q= body=");
  EXPECT_EQ(server.connections_accepted(), 1u);
  EXPECT_EQ(server.requests_handled(), 2u);
}

TEST(ServerTest, PipelinedRequestsAnsweredInOrder) {
  Server server(Loopback(), Echo);
  Client c(server.port());
  std::string all;
  for (int i = 0; i < 50; ++i) all += "GET /r" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n";
  c.Send(all);
  for (int i = 0; i < 50; ++i) {
    auto r = c.ReadResponse();
    ASSERT_TRUE(r.complete) << i;
    EXPECT_EQ(r.body, "GET /r" + std::to_string(i) + " q= body=");
  }
}

// Large responses to pipelined requests: the server stops parsing while its
// output is backed up and resumes when the client reads.
TEST(ServerTest, BackPressureWithLargePipelinedResponses) {
  Server server(Loopback(), [](const ServerRequest& r) {
    return ServerResponse::Text(200, "text/plain", std::string(300 * 1024, r.path.back()));
  });
  Client c(server.port());
  std::string all;
  for (int i = 0; i < 20; ++i)
    all += "GET /" + std::to_string(i % 10) + " HTTP/1.1\r\nHost: x\r\n\r\n";
  c.Send(all);
  for (int i = 0; i < 20; ++i) {
    auto r = c.ReadResponse();
    ASSERT_TRUE(r.complete) << i;
    ASSERT_EQ(r.body.size(), 300u * 1024);
    EXPECT_EQ(r.body.front(), static_cast<char>('0' + i % 10));
  }
  EXPECT_EQ(server.requests_handled(), 20u);
}

TEST(ServerTest, PostBodiesContentLengthAndChunked) {
  Server server(Loopback(), Echo);
  Client c(server.port());
  c.Send("POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_EQ(c.ReadResponse().body, "POST /v1/traces q= body=hello");
  c.Send(
      "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
      "chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  EXPECT_EQ(c.ReadResponse().body, "POST /c q= body=abcde");
  // Split into single bytes: the parser is incremental.
  std::string req = "POST /s HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyz";
  for (char ch : req) c.Send(std::string_view(&ch, 1));
  EXPECT_EQ(c.ReadResponse().body, "POST /s q= body=xyz");
}

TEST(ServerTest, BodyOverTheCapIs413AndCloses) {
  ServerOptions o = Loopback();
  o.max_body_bytes = 10;
  Server server(o, Echo);
  {
    Client c(server.port());
    c.Send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world");
    auto r = c.ReadResponse();
    EXPECT_EQ(r.status, 413);
    EXPECT_FALSE(r.keep_alive);
    EXPECT_TRUE(c.SeesEof());
  }
  {
    Client c(server.port());  // chunked: the cap applies to the decoded body
    c.Send(
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
        "chunked\r\n\r\n8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n");
    EXPECT_EQ(c.ReadResponse().status, 413);
    EXPECT_TRUE(c.SeesEof());
  }
  EXPECT_EQ(server.requests_handled(), 0u);
}

TEST(ServerTest, ExpectContinue) {
  ServerOptions o = Loopback();
  o.max_body_bytes = 100;
  Server server(o, Echo);
  Client c(server.port());
  c.Send("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(c.ReadUntil("\r\n\r\n"), "HTTP/1.1 100 Continue\r\n\r\n");
  c.Send("data");
  EXPECT_EQ(c.ReadResponse().body, "POST /x q= body=data");
  // Too large: 413 at once, never 100.
  Client d(server.port());
  d.Send("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n");
  auto r = d.ReadResponse();
  EXPECT_EQ(r.status, 413);
}

TEST(ServerTest, GarbageGets400AndClose) {
  Server server(Loopback(), Echo);
  for (std::string_view junk :
       {std::string_view("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11),
        std::string_view("HELLO\r\n\r\n"), std::string_view("GET / HTTP/1.1 x\r\n\r\n"),
        std::string_view("GET / HTTP/1.1\r\nBad Header\r\n\r\n"),
        std::string_view("POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n"),
        std::string_view("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")}) {
    Client c(server.port());
    c.Send(junk);
    auto r = c.ReadResponse();
    EXPECT_EQ(r.status, 400) << junk;
    EXPECT_TRUE(c.SeesEof()) << junk;
  }
  Client ok(server.port());
  ok.Send("GET /still-up HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(ok.ReadResponse().status, 200);
}

TEST(ServerTest, OnlyHttp1) {
  Server server(Loopback(), Echo);
  Client c(server.port());
  c.Send("GET / HTTP/2.0\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c.ReadResponse().status, 505);
  EXPECT_TRUE(c.SeesEof());
}

TEST(ServerTest, RandomBytesNeverCrash) {
  Server server(Loopback(), Echo);
  std::mt19937 rng(42);
  for (int i = 0; i < 60; ++i) {
    Client c(server.port());
    std::string junk(1 + rng() % 4000, '\0');
    for (char& ch : junk) ch = static_cast<char>(rng());
    if (i % 3 == 0) junk = "GET / HTTP/1.1\r\n" + junk;  // garbage inside the headers
    c.Send(junk);
    c.ShutdownWrite();
    c.ReadToEof();  // whatever came back, the connection ends
  }
  Client ok(server.port());
  ok.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(ok.ReadResponse().status, 200);
}

TEST(ServerTest, HeadersOverTheCapAre431) {
  ServerOptions o = Loopback();
  o.max_header_bytes = 1024;
  Server server(o, Echo);
  Client c(server.port());
  c.Send("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4000, 'a') + "\r\n\r\n");
  EXPECT_EQ(c.ReadResponse().status, 431);
  EXPECT_TRUE(c.SeesEof());
  Client many(server.port());  // many small headers count too
  std::string req = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 200; ++i) req += "X: 1\r\n";
  many.Send(req + "\r\n");
  EXPECT_EQ(many.ReadResponse().status, 431);
}

TEST(ServerTest, Http10ClosesUnlessKeepAlive) {
  Server server(Loopback(), Echo);
  Client c(server.port());
  c.Send("GET /old HTTP/1.0\r\n\r\n");
  std::string raw = c.ReadToEof();
  EXPECT_TRUE(raw.starts_with("HTTP/1.0 200 OK\r\n")) << raw;
  EXPECT_NE(raw.find("Connection: close\r\n"), std::string::npos);
  EXPECT_TRUE(raw.ends_with("GET /old q= body=")) << raw;
  Client k(server.port());
  k.Send("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  auto r = k.ReadResponse();
  EXPECT_TRUE(r.keep_alive);
  k.Send("GET /b HTTP/1.0\r\n\r\n");
  EXPECT_EQ(k.ReadResponse().body, "GET /b q= body=");
}

TEST(ServerTest, ConnectionCloseRequested) {
  Server server(Loopback(), Echo);
  Client c(server.port());
  c.Send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  auto r = c.ReadResponse();
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.keep_alive);
  EXPECT_TRUE(c.SeesEof());
}

TEST(ServerTest, HeadHasNoBody) {
  Server server(Loopback(), Echo);
  Client c(server.port());
  c.Send("HEAD /h HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r = c.ReadResponse(/*head=*/true);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers.Find("content-length"),
            std::to_string(std::string("HEAD /h q= body=").size()));
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(c.ReadResponse().body, "GET /after q= body=");
}

TEST(ServerTest, IdleConnectionsAreClosed) {
  ServerOptions o = Loopback();
  o.idle_timeout = 50ms;
  Server server(o, Echo);
  Client silent(server.port());
  EXPECT_TRUE(silent.SeesEof());
  Client partial(server.port());  // a request that never completes
  partial.Send("GET / HTTP/1.1\r\nHost:");
  auto r = partial.ReadResponse();
  EXPECT_FALSE(r.complete);  // closed without an answer
}

TEST(ServerTest, ConnectionLimitAnswers503) {
  ServerOptions o = Loopback();
  o.max_connections = 2;
  Server server(o, Echo);
  Client a(server.port()), b(server.port());
  for (Client* c : {&a, &b}) {
    c->Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_EQ(c->ReadResponse().status, 200);
  }
  Client over(server.port());
  over.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r = over.ReadResponse();
  EXPECT_EQ(r.status, 503);
  EXPECT_FALSE(r.keep_alive);
  // The admitted ones still work.
  a.Send("GET /again HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(a.ReadResponse().status, 200);
}

TEST(ServerTest, HandlerExceptionIs500) {
  Server server(Loopback(), [](const ServerRequest& r) -> ServerResponse {
    if (r.path == "/boom") throw std::runtime_error("boom");
    return ServerResponse::Text(404, "text/plain", "nope");
  });
  Client c(server.port());
  c.Send("GET /boom HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c.ReadResponse().status, 500);
  c.Send("GET /x HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r = c.ReadResponse();
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "nope");
}

TEST(ServerTest, HandlerHeadersCannotInjectLines) {
  Server server(Loopback(), [](const ServerRequest&) {
    ServerResponse r = ServerResponse::Text(200, "text/plain", "ok");
    r.headers.emplace_back("X-Evil", "a\r\nSet-Cookie: x=1");
    r.headers.emplace_back("X-Good", "yes");
    return r;
  });
  Client c(server.port());
  c.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r = c.ReadResponse();
  EXPECT_EQ(r.headers.Find("X-Good"), "yes");
  EXPECT_FALSE(r.headers.Find("X-Evil").has_value());
  EXPECT_FALSE(r.headers.Find("Set-Cookie").has_value());
}

TEST(ServerTest, StreamingResponse) {
  std::mutex mu;
  std::condition_variable cv;
  std::shared_ptr<ResponseStream> stream;
  Server server(Loopback(), [&](const ServerRequest& r) {
    if (r.path != "/events") return ServerResponse::Text(404, "text/plain", "");
    ServerResponse resp;
    resp.headers.emplace_back("Content-Type", "text/event-stream");
    resp.stream = ResponseStream::Create();
    resp.stream->Write("data: first\n\n");  // before the head is sent: kept
    std::lock_guard lock(mu);
    stream = resp.stream;
    cv.notify_all();
    return resp;
  });
  Client c(server.port());
  c.Send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string head = c.ReadUntil("\r\n\r\n");
  EXPECT_TRUE(head.starts_with("HTTP/1.1 200 OK\r\n")) << head;
  EXPECT_NE(head.find("Transfer-Encoding: chunked\r\n"), std::string::npos);
  EXPECT_NE(head.find("Content-Type: text/event-stream\r\n"), std::string::npos);
  EXPECT_EQ(c.ReadUntil("\n\n\r\n"), "d\r\ndata: first\n\n\r\n");
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, kWait, [&] { return stream != nullptr; }));
  }
  // From another thread than the server's.
  std::thread writer([&] {
    EXPECT_TRUE(stream->Write("data: second\n\n"));
    stream->Close();
    EXPECT_FALSE(stream->Write("late"));
  });
  writer.join();
  std::string rest = c.ReadToEof();
  EXPECT_EQ(rest, "e\r\ndata: second\n\n\r\n0\r\n\r\n");
}

TEST(ServerTest, StreamClosedWhenTheClientLeaves) {
  std::shared_ptr<ResponseStream> stream;
  std::mutex mu;
  Server server(Loopback(), [&](const ServerRequest&) {
    ServerResponse resp;
    resp.stream = ResponseStream::Create(1024);
    std::lock_guard lock(mu);
    stream = resp.stream;
    return resp;
  });
  {
    Client c(server.port());
    c.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    c.ReadUntil("\r\n\r\n");
  }  // the client goes away
  std::shared_ptr<ResponseStream> s;
  {
    std::lock_guard lock(mu);
    s = stream;
  }
  ASSERT_NE(s, nullptr);
  // The server notices the EOF on its own thread; poll the handle, bounded.
  auto deadline = std::chrono::steady_clock::now() + kWait;
  while (!s->closed() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_TRUE(s->closed());
  EXPECT_FALSE(s->Write("x"));
}

TEST(ServerTest, StreamPendingBoundClosesIt) {
  auto s = ResponseStream::Create(10);
  EXPECT_TRUE(s->Write("12345"));
  EXPECT_FALSE(s->Write("123456"));  // over the bound: dropped, closed
  EXPECT_TRUE(s->closed());
}

TEST(ServerTest, StopIsIdempotentWithOpenConnections) {
  auto server = std::make_unique<Server>(Loopback(), Echo);
  Client c(server->port());
  c.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c.ReadResponse().status, 200);
  server->Stop();
  server->Stop();
  EXPECT_TRUE(c.SeesEof());
  server.reset();
}

TEST(ServerTest, BindFailureIsOneClearLine) {
  Server first(Loopback(), Echo);
  ServerOptions o;
  o.address = "127.0.0.1:" + std::to_string(first.port());
  o.option_name = "--prometheus";
  try {
    Server second(o, Echo);
    FAIL() << "bound twice";
  } catch (const core::ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "--prometheus " + o.address +
                  ": address already in use; choose another port (or port 0 for a free one)");
  }
  o.address = "192.0.2.1:0";  // TEST-NET: not an address of this machine
  EXPECT_THROW(Server(o, Echo), core::ConfigError);
  o.address = "no-such-host.invalid:0";
  EXPECT_THROW(Server(o, Echo), core::ConfigError);
}

TEST(ServerTest, Ipv6Loopback) {
  ServerOptions o = Loopback();
  o.address = "[::1]:0";
  std::unique_ptr<Server> server;
  try {
    server = std::make_unique<Server>(o, Echo);
  } catch (const core::ConfigError& e) {
    GTEST_SKIP() << "no IPv6 loopback here: " << e.what();
  }
  EXPECT_EQ(server->address(), "[::1]:" + std::to_string(server->port()));
  Client c(server->port(), /*ipv6=*/true);
  c.Send("GET /six HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c.ReadResponse().body, "GET /six q= body=");
}

TEST(ListenAddressTest, Forms) {
  auto a = ParseListenAddress("9464", "--prometheus");
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 9464);
  a = ParseListenAddress(":0", "--prometheus");
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 0);
  a = ParseListenAddress("0.0.0.0:80", "--prometheus");
  EXPECT_EQ(a.host, "0.0.0.0");
  a = ParseListenAddress("[::1]:65535", "--prometheus");
  EXPECT_EQ(a.host, "::1");
  EXPECT_EQ(a.port, 65535);
  a = ParseListenAddress("localhost:1", "--prometheus");
  EXPECT_EQ(a.host, "localhost");
  for (const char* bad : {"", "abc", "::1:80", "1.2.3.4:", "1.2.3.4:65536", "[::1]", "[::1]80",
                          "[]:80", "host:-1", "host:8o"}) {
    EXPECT_THROW(ParseListenAddress(bad, "--prometheus"), core::ConfigError) << bad;
  }
  try {
    ParseListenAddress("::1:80", "--prometheus");
  } catch (const core::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("--prometheus \"::1:80\""), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[::1]:9464"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace stampede::http
