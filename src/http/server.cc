#include "http/server.h"

#include "core/ascii.h"

#include <arpa/inet.h>
#include <errno.h>
#include <http_parser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "core/log.h"
#include "core/thread_name.h"

namespace stampede::http {
namespace {

using core::EqualsIgnoreCase;
constexpr auto Trim = core::TrimSpaces;

using Clock = std::chrono::steady_clock;

// Output queued beyond this stops reading (and parsing pipelined requests)
// until the client has taken some: a client that pipelines requests without
// reading responses cannot grow our buffers.
constexpr size_t kMaxPendingOut = 256 * 1024;
// Stream data is framed into the output only while it holds less than this.
constexpr size_t kStreamPumpBelow = 64 * 1024;
constexpr size_t kReadChunk = 16 * 1024;
constexpr size_t kMaxHeaderCount = 100;
// A connection we close on an error is half-closed first and drained for at
// most this long (and this many bytes), so the client reads our error
// response instead of a reset caused by its unread request bytes.
constexpr auto kLingerTime = std::chrono::milliseconds(1000);
constexpr size_t kLingerMaxBytes = 1 << 20;
// Connections beyond max_connections are still accepted (up to this many
// more) to be told 503; past that they are closed at once.
constexpr size_t kRejectSlack = 16;


std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Status";
  }
}

std::string FormatSockaddr(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(ss);
    inet_ntop(AF_INET6, &a.sin6_addr, buf, sizeof(buf));
    return "[" + std::string(buf) + "]:" + std::to_string(ntohs(a.sin6_port));
  }
  const auto& a = reinterpret_cast<const sockaddr_in&>(ss);
  inet_ntop(AF_INET, &a.sin_addr, buf, sizeof(buf));
  return std::string(buf) + ":" + std::to_string(ntohs(a.sin_port));
}

// A header value a client may not smuggle into our response head.
bool IsSafeHeaderText(std::string_view s) {
  return std::none_of(s.begin(), s.end(),
                      [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}

void AppendHex(std::string& out, size_t n) {
  char buf[24];
  int len = snprintf(buf, sizeof(buf), "%zx", n);
  out.append(buf, static_cast<size_t>(len));
}

}  // namespace

// ---------------------------------------------------------------------------
// ServerRequest, ServerResponse

std::optional<std::string_view> ServerRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return std::string_view(v);
  }
  return std::nullopt;
}

std::optional<std::string_view> ServerRequest::QueryParam(std::string_view key) const {
  std::string_view rest = query;
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) == key) {
      return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    }
  }
  return std::nullopt;
}

ServerResponse ServerResponse::Text(int status, std::string content_type, std::string body) {
  ServerResponse r;
  r.status = status;
  r.headers.emplace_back("Content-Type", std::move(content_type));
  r.body = std::move(body);
  return r;
}

// ---------------------------------------------------------------------------
// ResponseStream

struct ResponseStream::Internal {
  std::mutex mu;
  std::string pending;  // written, not yet framed into a connection's output
  size_t max_pending = 0;
  bool closed = false;    // no more writes
  bool finished = false;  // closed by the producer: end the response cleanly
  bool aborted = false;   // overflow, client gone or server stopped
  int wake_fd = -1;       // the server's eventfd once attached

  void NotifyLocked() {
    if (wake_fd < 0) return;
    uint64_t one = 1;
    // EAGAIN only if the counter is about to overflow: a wake-up is pending anyway.
    [[maybe_unused]] ssize_t n = ::write(wake_fd, &one, sizeof(one));
  }
};

std::shared_ptr<ResponseStream> ResponseStream::Create(size_t max_pending_bytes) {
  return std::make_shared<ResponseStream>(max_pending_bytes);
}

ResponseStream::ResponseStream(size_t max_pending_bytes) : internal_(std::make_unique<Internal>()) {
  internal_->max_pending = max_pending_bytes;
}

ResponseStream::~ResponseStream() = default;

bool ResponseStream::Write(std::string_view data) {
  std::lock_guard lock(internal_->mu);
  Internal& s = *internal_;
  if (s.closed) return false;
  if (data.empty()) return true;  // an empty chunk would end the response
  if (s.pending.size() + data.size() > s.max_pending) {
    s.closed = true;
    s.aborted = true;
    s.pending.clear();
    s.pending.shrink_to_fit();
    s.NotifyLocked();
    return false;
  }
  s.pending.append(data);
  s.NotifyLocked();
  return true;
}

void ResponseStream::Close() {
  std::lock_guard lock(internal_->mu);
  Internal& s = *internal_;
  if (s.closed) return;
  s.closed = true;
  s.finished = true;
  s.NotifyLocked();
}

bool ResponseStream::closed() const {
  std::lock_guard lock(internal_->mu);
  return internal_->closed;
}

// ---------------------------------------------------------------------------
// Address parsing and binding

ListenAddress ParseListenAddress(std::string_view text, std::string_view option_name) {
  auto fail = [&](std::string_view why) -> core::ConfigError {
    return core::ConfigError(fmt::format(
        "invalid {} \"{}\": {}; expected HOST:PORT, [IPv6]:PORT or PORT, e.g. 127.0.0.1:9464",
        option_name, text, why));
  };
  ListenAddress out;
  std::string_view port_text;
  if (text.empty()) throw fail("empty");
  if (text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) throw fail("missing ']'");
    out.host = std::string(text.substr(1, close - 1));
    if (out.host.empty()) throw fail("empty IPv6 address");
    std::string_view rest = text.substr(close + 1);
    if (rest.size() < 2 || rest.front() != ':') throw fail("missing :PORT after ']'");
    port_text = rest.substr(1);
  } else if (size_t colon = text.rfind(':'); colon != std::string_view::npos) {
    std::string_view host = text.substr(0, colon);
    if (host.find(':') != std::string_view::npos) {
      throw fail("an IPv6 address needs brackets, e.g. [::1]:9464");
    }
    out.host = host.empty() ? "127.0.0.1" : std::string(host);
    port_text = text.substr(colon + 1);
  } else {
    out.host = "127.0.0.1";
    port_text = text;
  }
  if (port_text.empty() || port_text.size() > 5 ||
      !std::all_of(port_text.begin(), port_text.end(),
                   [](char c) { return c >= '0' && c <= '9'; })) {
    throw fail("the port must be a number from 0 to 65535");
  }
  unsigned long port = std::stoul(std::string(port_text));
  if (port > 65535) throw fail("the port must be a number from 0 to 65535");
  out.port = static_cast<uint16_t>(port);
  return out;
}

bool IsLoopbackHost(std::string_view host) {
  if (host == "localhost") return true;
  const std::string h(host);
  in_addr v4{};
  if (inet_pton(AF_INET, h.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, h.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

std::string ExposureWarning(std::string_view option_name, std::string_view bound_address,
                            std::string_view note) {
  return fmt::format("{} {}: listening beyond loopback: other machines can reach it{}",
                     option_name, bound_address, note);
}

namespace {

std::string BindErrorHint(int err) {
  switch (err) {
    case EADDRINUSE:
      return "address already in use; choose another port (or port 0 for a free one)";
    case EACCES:
      return "permission denied; choose a port above 1023";
    case EADDRNOTAVAIL:
      return "address not available on this machine; use 127.0.0.1, 0.0.0.0 or a local "
             "interface's address";
    case EAFNOSUPPORT:
      return "address family not supported here; use an IPv4 address such as 127.0.0.1";
    default:
      return std::string(strerror(err));
  }
}

int BindListener(const ServerOptions& options, std::string* bound, uint16_t* bound_port) {
  ListenAddress where = ParseListenAddress(options.address, options.option_name);
  auto fail = [&](const std::string& why) {
    return core::ConfigError(fmt::format("{} {}: {}", options.option_name, options.address, why));
  };
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port = std::to_string(where.port);
  int gai = getaddrinfo(where.host.c_str(), port.c_str(), &hints, &res);
  if (gai != 0 || res == nullptr) {
    throw fail(fmt::format("cannot resolve host \"{}\" ({}); use an IP address such as 127.0.0.1",
                           where.host, gai_strerror(gai)));
  }
  int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    int err = errno;
    freeaddrinfo(res);
    throw fail(BindErrorHint(err));
  }
  int one = 1;
  // Lets a restarted run bind while the previous one's connections sit in
  // TIME_WAIT; on Linux it does not let two listeners share a port.
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd, res->ai_addr, res->ai_addrlen) != 0 || ::listen(fd, 128) != 0) {
    int err = errno;
    freeaddrinfo(res);
    ::close(fd);
    throw fail(BindErrorHint(err));
  }
  freeaddrinfo(res);
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  *bound = FormatSockaddr(ss);
  *bound_port = ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6&>(ss).sin6_port
                                               : reinterpret_cast<sockaddr_in&>(ss).sin_port);
  char host[INET6_ADDRSTRLEN] = {};
  const void* raw = ss.ss_family == AF_INET6
                        ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6&>(ss).sin6_addr)
                        : static_cast<const void*>(&reinterpret_cast<sockaddr_in&>(ss).sin_addr);
  if (inet_ntop(ss.ss_family, raw, host, sizeof host) == nullptr || !IsLoopbackHost(host)) {
    core::Warn("{}", ExposureWarning(options.option_name, *bound, options.exposure_note));
  }
  return fd;
}

}  // namespace

// ---------------------------------------------------------------------------
// Connection

struct Server::Connection {
  const ServerOptions* options = nullptr;
  int fd = -1;
  std::string peer;
  bool dead = false;
  bool reject = false;  // over max_connections: answer 503 to the first request
  uint32_t events = 0;  // registered epoll interest

  http_parser parser{};
  std::string in;  // received, not yet parsed (only behind a paused message)
  std::string out;
  size_t out_off = 0;

  // The request being parsed.
  ServerRequest request;
  bool in_header_value = false;
  size_t header_bytes = 0;
  bool headers_done = false;
  bool message_done = false;
  bool keep_alive = false;
  int limit_status = 0;  // 413 / 431 detected by a callback

  bool read_closed = false;        // the peer sent EOF
  bool close_after_write = false;  // close once `out` is written
  bool lingering = false;          // half-closed, draining the peer's bytes
  size_t lingered_bytes = 0;
  Clock::time_point linger_deadline;
  Clock::time_point last_activity;

  std::shared_ptr<ResponseStream> stream;
  bool stream_chunked = false;

  size_t pending_out() const { return out.size() - out_off; }

  void ResetRequest() {
    request = ServerRequest{};
    request.peer = peer;
    in_header_value = false;
    header_bytes = 0;
    headers_done = false;
    message_done = false;
    keep_alive = false;
  }
};

namespace {

Server::Connection* Conn(http_parser* p) { return static_cast<Server::Connection*>(p->data); }

int OnMessageBegin(http_parser* p) {
  Conn(p)->ResetRequest();
  return 0;
}

int OnUrl(http_parser* p, const char* at, size_t len) {
  Conn(p)->request.target.append(at, len);
  return 0;
}

int OnHeaderField(http_parser* p, const char* at, size_t len) {
  auto* c = Conn(p);
  auto& headers = c->request.headers;
  if (c->in_header_value || headers.empty()) {
    if (headers.size() >= kMaxHeaderCount) {
      c->limit_status = 431;
      return 1;
    }
    headers.emplace_back();
    c->in_header_value = false;
  }
  headers.back().first.append(at, len);
  return 0;
}

int OnHeaderValue(http_parser* p, const char* at, size_t len) {
  auto* c = Conn(p);
  c->in_header_value = true;
  c->request.headers.back().second.append(at, len);
  return 0;
}

int OnHeadersComplete(http_parser* p);  // defined after Server (needs its options)

int OnBody(http_parser* p, const char* at, size_t len);

int OnMessageComplete(http_parser* p) {
  auto* c = Conn(p);
  c->message_done = true;
  c->keep_alive = http_should_keep_alive(p) != 0 && !p->upgrade;
  http_parser_pause(p, 1);  // one request at a time; the rest waits in `in`
  return 0;
}

const http_parser_settings& Settings() {
  static const http_parser_settings settings = [] {
    http_parser_settings s{};
    s.on_message_begin = OnMessageBegin;
    s.on_url = OnUrl;
    s.on_header_field = OnHeaderField;
    s.on_header_value = OnHeaderValue;
    s.on_headers_complete = OnHeadersComplete;
    s.on_body = OnBody;
    s.on_message_complete = OnMessageComplete;
    return s;
  }();
  return settings;
}

}  // namespace

namespace {

int OnHeadersComplete(http_parser* p) {
  auto* c = Conn(p);
  c->headers_done = true;
  const ServerOptions& o = *c->options;
  if (p->http_major != 1) {
    c->limit_status = 505;
    return -1;
  }
  if ((p->flags & F_CONTENTLENGTH) && p->content_length > o.max_body_bytes) {
    c->limit_status = 413;
    return -1;  // an error: the caller answers 413 and closes
  }
  auto expect = c->request.Header("Expect");
  if (expect && EqualsIgnoreCase(Trim(*expect), "100-continue") && p->http_major == 1 &&
      p->http_minor >= 1) {
    c->out.append("HTTP/1.1 100 Continue\r\n\r\n");
  }
  // Stop here so that the caller counts the header bytes apart from the body.
  http_parser_pause(p, 1);
  return 0;
}

int OnBody(http_parser* p, const char* at, size_t len) {
  auto* c = Conn(p);
  if (c->request.body.size() + len > c->options->max_body_bytes) {
    c->limit_status = 413;
    return -1;
  }
  c->request.body.append(at, len);
  return 0;
}

}  // namespace

// ---------------------------------------------------------------------------
// Server

Server::Server(ServerOptions options, Handler handler)
    : options_(std::move(options)), handler_(std::move(handler)) {
  listen_fd_ = BindListener(options_, &bound_address_, &port_);
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || wake_fd_ < 0) {
    int err = errno;
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
    ::close(listen_fd_);
    throw core::ConfigError(fmt::format("{} {}: cannot start the server: {}", options_.option_name,
                                        options_.address, strerror(err)));
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = &listen_fd_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
  ev.data.ptr = &wake_fd_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  thread_ = std::thread([this] { Run(); });
}

Server::~Server() { Stop(); }

void Server::Stop() {
  std::lock_guard lock(stop_mu_);
  if (!thread_.joinable()) return;
  stopping_.store(true);
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof(one));
  thread_.join();
  ::close(listen_fd_);
  ::close(epoll_fd_);
  ::close(wake_fd_);
  listen_fd_ = epoll_fd_ = wake_fd_ = -1;
}

void Server::Run() {
  core::NameThisThread(options_.thread_name);
  std::vector<epoll_event> events(64);
  while (!stopping_.load()) {
    int timeout = NextTimeoutMs(Clock::now());
    int n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      core::Warn("{} {}: epoll_wait failed: {}; the server stops", options_.option_name,
                 bound_address_, strerror(errno));
      break;
    }
    for (int i = 0; i < n; ++i) {
      void* tag = events[i].data.ptr;
      if (tag == &listen_fd_) {
        Accept();
      } else if (tag == &wake_fd_) {
        DrainWake();
      } else {
        auto* c = static_cast<Connection*>(tag);
        if (c->dead) continue;
        uint32_t e = events[i].events;
        if (e & (EPOLLIN | EPOLLHUP | EPOLLERR)) OnReadable(*c);
        if (!c->dead && (e & EPOLLOUT)) OnWritable(*c);
        if (!c->dead) UpdateInterest(*c);
      }
    }
    if (stopping_.load()) break;
    CloseIdle(Clock::now());
    std::erase_if(connections_, [](const std::unique_ptr<Connection>& c) { return c->dead; });
  }
  for (auto& c : connections_) {
    if (!c->dead) Close(*c);
  }
  connections_.clear();
}

void Server::Accept() {
  for (int i = 0; i < 64; ++i) {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    int fd =
        accept4(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      // EAGAIN: done. Anything else (EMFILE, ECONNABORTED) ends this turn;
      // level-triggered epoll brings us back if a connection still waits.
      return;
    }
    accepted_.fetch_add(1, std::memory_order_relaxed);
    size_t live = 0;
    for (const auto& c : connections_) live += c->dead ? 0 : 1;
    if (live >= options_.max_connections + kRejectSlack) {
      ::close(fd);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto c = std::make_unique<Connection>();
    c->options = &options_;
    c->fd = fd;
    c->peer = FormatSockaddr(ss);
    c->reject = live >= options_.max_connections;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c.get();
    c->ResetRequest();
    c->last_activity = Clock::now();
    c->events = EPOLLIN;
    epoll_event ev{};
    ev.events = c->events;
    ev.data.ptr = c.get();
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      ::close(fd);
      continue;
    }
    connections_.push_back(std::move(c));
  }
}

void Server::DrainWake() {
  uint64_t value;
  while (::read(wake_fd_, &value, sizeof(value)) > 0) {
  }
  if (stopping_.load()) return;
  for (auto& c : connections_) {
    if (c->dead || !c->stream) continue;
    PumpStream(*c);
    if (!c->dead) Flush(*c);
    if (!c->dead) UpdateInterest(*c);
  }
}

void Server::OnReadable(Connection& c) {
  char buf[kReadChunk];
  ssize_t n = ::recv(c.fd, buf, sizeof(buf), 0);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    Close(c);
    return;
  }
  c.last_activity = Clock::now();
  if (n == 0) {
    c.read_closed = true;
    // Responses already queued still go out; then we close.
    if (c.lingering || c.stream || c.pending_out() == 0) {
      Close(c);
    } else {
      c.close_after_write = true;
    }
    return;
  }
  if (c.lingering) {
    c.lingered_bytes += static_cast<size_t>(n);
    if (c.lingered_bytes > kLingerMaxBytes) Close(c);
    return;
  }
  if (c.stream || c.close_after_write) return;  // nothing more is read as requests
  c.in.append(buf, static_cast<size_t>(n));
  Drive(c);
}

// Parses and answers what has arrived, writing as it goes, until the input
// is used up or the output is backed up (then EPOLLOUT brings us back).
void Server::Drive(Connection& c) {
  while (!c.dead) {
    ProcessInput(c);
    if (c.dead || !Flush(c)) return;
    if (c.in.empty() || c.stream || c.close_after_write || c.pending_out() >= kMaxPendingOut) {
      return;
    }
  }
}

void Server::ProcessInput(Connection& c) {
  while (!c.dead && !c.in.empty() && !c.stream && !c.close_after_write &&
         c.pending_out() < kMaxPendingOut) {
    bool headers_before = c.headers_done;
    size_t n = http_parser_execute(&c.parser, &Settings(), c.in.data(), c.in.size());
    http_errno err = HTTP_PARSER_ERRNO(&c.parser);
    if (!headers_before) c.header_bytes += n;
    c.in.erase(0, n);
    if (c.limit_status != 0) {
      int status = c.limit_status;
      QueueError(c, status,
                 status == 413   ? "request body too large\n"
                 : status == 505 ? "only HTTP/1.x is served here\n"
                                 : "request headers too large\n");
      return;
    }
    if (!headers_before && c.header_bytes > options_.max_header_bytes) {
      QueueError(c, 431, "request headers too large\n");
      return;
    }
    if (err == HPE_PAUSED) {
      http_parser_pause(&c.parser, 0);
      if (c.message_done) Dispatch(c);
      continue;
    }
    if (err != HPE_OK) {
      QueueError(c, err == HPE_HEADER_OVERFLOW ? 431 : 400, "bad request\n");
      return;
    }
    // HPE_OK: everything consumed, the request is not complete yet.
  }
}

void Server::Dispatch(Connection& c) {
  ServerRequest& req = c.request;
  req.method = http_method_str(static_cast<http_method>(c.parser.method));
  req.http_major = c.parser.http_major;
  req.http_minor = c.parser.http_minor;
  std::string_view target = req.target;
  // absolute-form ("http://host/path"): the path starts after the authority.
  if (size_t scheme = target.find("://");
      scheme != std::string_view::npos && target.front() != '/') {
    size_t slash = target.find('/', scheme + 3);
    target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
  }
  size_t q = target.find('?');
  req.path = std::string(target.substr(0, q));
  req.query = q == std::string_view::npos ? "" : std::string(target.substr(q + 1));
  bool keep_alive = c.keep_alive;
  bool head = req.method == "HEAD";
  requests_.fetch_add(1, std::memory_order_relaxed);

  ServerResponse resp;
  if (c.reject) {
    resp = ServerResponse::Text(503, "text/plain; charset=utf-8",
                                "too many connections; try again later\n");
    keep_alive = false;
  } else {
    try {
      resp = handler_(req);
    } catch (const std::exception& e) {
      if (!handler_error_logged_) {
        handler_error_logged_ = true;
        core::Warn("{} {}: request handler failed: {}", options_.option_name, bound_address_,
                   e.what());
      }
      resp = ServerResponse::Text(500, "text/plain; charset=utf-8", "internal error\n");
    }
  }
  bool http11 = req.http_major == 1 && req.http_minor >= 1;
  std::string& out = c.out;
  out.append(http11 ? "HTTP/1.1 " : "HTTP/1.0 ");
  out.append(std::to_string(resp.status));
  out.push_back(' ');
  out.append(ReasonPhrase(resp.status));
  out.append("\r\n");
  for (const auto& [k, v] : resp.headers) {
    if (!IsSafeHeaderText(k) || !IsSafeHeaderText(v) || k.empty()) continue;
    out.append(k).append(": ").append(v).append("\r\n");
  }
  if (resp.stream) {
    // The connection ends with the stream; HTTP/1.0 gets a close-delimited body.
    c.stream_chunked = http11;
    if (http11) out.append("Transfer-Encoding: chunked\r\n");
    out.append("Connection: close\r\n\r\n");
    c.ResetRequest();
    if (head) {
      resp.stream->Close();
      c.close_after_write = true;
      return;
    }
    AttachStream(c, std::move(resp.stream));
    return;
  }
  bool no_body = resp.status == 204 || resp.status == 304 || resp.status < 200;
  if (!no_body)
    out.append("Content-Length: ").append(std::to_string(resp.body.size())).append("\r\n");
  if (!keep_alive) {
    out.append("Connection: close\r\n");
  } else if (!http11) {
    out.append("Connection: keep-alive\r\n");
  }
  out.append("\r\n");
  if (!head && !no_body) out.append(resp.body);
  c.ResetRequest();
  if (!keep_alive) c.close_after_write = true;
}

void Server::QueueError(Connection& c, int status, std::string_view message) {
  c.out.append("HTTP/1.1 ");
  c.out.append(std::to_string(status));
  c.out.push_back(' ');
  c.out.append(ReasonPhrase(status));
  c.out.append("\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ");
  c.out.append(std::to_string(message.size()));
  c.out.append("\r\nConnection: close\r\n\r\n");
  c.out.append(message);
  c.close_after_write = true;
  c.in.clear();
}

void Server::AttachStream(Connection& c, std::shared_ptr<ResponseStream> stream) {
  {
    auto& s = stream->internal();
    std::lock_guard lock(s.mu);
    s.wake_fd = wake_fd_;
  }
  c.stream = std::move(stream);
  c.in.clear();
  PumpStream(c);
}

void Server::PumpStream(Connection& c) {
  if (!c.stream || c.pending_out() >= kStreamPumpBelow) return;
  auto& s = c.stream->internal();
  std::string data;
  bool finished = false;
  bool aborted = false;
  {
    std::lock_guard lock(s.mu);
    data.swap(s.pending);
    finished = s.finished;
    aborted = s.aborted;
  }
  if (aborted) {
    Close(c);
    return;
  }
  if (!data.empty()) {
    if (c.stream_chunked) {
      AppendHex(c.out, data.size());
      c.out.append("\r\n").append(data).append("\r\n");
    } else {
      c.out.append(data);
    }
  }
  if (finished) {
    if (c.stream_chunked) c.out.append("0\r\n\r\n");
    {
      std::lock_guard lock(s.mu);
      s.wake_fd = -1;
    }
    c.stream.reset();
    c.close_after_write = true;
  }
}

void Server::OnWritable(Connection& c) {
  if (Flush(c) && !c.dead) {
    // Room again: more stream data, or the pipelined requests that waited.
    if (c.stream) {
      PumpStream(c);
      if (!c.dead) Flush(c);
    } else if (!c.in.empty() && !c.close_after_write) {
      Drive(c);
    }
  }
}

// Writes what it can; false when the connection died.
bool Server::Flush(Connection& c) {
  while (c.pending_out() > 0) {
    ssize_t n = ::send(c.fd, c.out.data() + c.out_off, c.pending_out(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      Close(c);
      return false;
    }
    c.out_off += static_cast<size_t>(n);
    c.last_activity = Clock::now();
  }
  if (c.pending_out() == 0) {
    c.out.clear();
    c.out_off = 0;
    if (c.close_after_write && !c.stream && !c.lingering) {
      if (c.read_closed) {
        Close(c);
        return false;
      }
      // Half-close and drain what the client still sends (see kLingerTime).
      ::shutdown(c.fd, SHUT_WR);
      c.lingering = true;
      c.linger_deadline =
          Clock::now() + std::min<Clock::duration>(kLingerTime, options_.idle_timeout);
    }
  } else if (c.out_off > (1 << 16) && c.out_off * 2 > c.out.size()) {
    c.out.erase(0, c.out_off);
    c.out_off = 0;
  }
  return true;
}

void Server::UpdateInterest(Connection& c) {
  if (c.dead) return;
  uint32_t want = 0;
  bool reading = c.lingering || c.stream ||
                 (!c.close_after_write && c.pending_out() < kMaxPendingOut && c.in.empty());
  // With a request waiting in `in` behind a full output, reading resumes once written.
  if (reading) want |= EPOLLIN;
  if (c.pending_out() > 0) want |= EPOLLOUT;
  if (want == c.events) return;
  epoll_event ev{};
  ev.events = want;
  ev.data.ptr = &c;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
  c.events = want;
}

void Server::Close(Connection& c) {
  if (c.dead) return;
  if (c.stream) {
    auto& s = c.stream->internal();
    std::lock_guard lock(s.mu);
    s.closed = true;
    s.aborted = true;
    s.wake_fd = -1;
    s.pending.clear();
  }
  c.stream.reset();
  ::close(c.fd);  // also leaves the epoll set
  c.fd = -1;
  c.dead = true;
}

void Server::CloseIdle(Clock::time_point now) {
  for (auto& c : connections_) {
    if (c->dead) continue;
    if (c->lingering) {
      if (now >= c->linger_deadline) Close(*c);
    } else if (!c->stream && now - c->last_activity >= options_.idle_timeout) {
      Close(*c);
    }
  }
}

int Server::NextTimeoutMs(Clock::time_point now) const {
  std::optional<Clock::time_point> next;
  for (const auto& c : connections_) {
    if (c->dead || (c->stream && !c->lingering)) continue;
    Clock::time_point t =
        c->lingering ? c->linger_deadline : c->last_activity + options_.idle_timeout;
    if (!next || t < *next) next = t;
  }
  if (!next) return -1;
  if (*next <= now) return 0;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(*next - now).count();
  return static_cast<int>(std::min<int64_t>(ms, 60'000));
}

}  // namespace stampede::http
