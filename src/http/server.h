// A small HTTP/1.1 server for stampede's own listeners: the Prometheus
// /metrics endpoint now; the OTLP/HTTP receiver and the live dashboard
// (server-sent events) later. One seam shared by every listener, not one
// server each.
//
// Shape: the constructor binds and listens (so a bad address fails at once,
// on the caller's thread, as a core::ConfigError), then starts ONE thread of
// its own that runs an epoll loop over the listening socket, the connections
// and a wake-up eventfd. Everything is non-blocking. Requests are parsed with
// http-parser; the handler is called ON THE SERVER THREAD, one request at a
// time, so a slow handler delays every connection of this server (handlers
// are meant to be quick: format a snapshot, queue a body).
//
// Per connection: keep-alive (HTTP/1.1 default, HTTP/1.0 with keep-alive),
// pipelined requests answered in order, at most `max_header_bytes` of request
// line and headers (431 and close beyond), at most `max_body_bytes` of body
// (413 and close beyond; `Expect: 100-continue` is answered with 100 only
// when the announced body fits), an idle timeout (a connection that sends
// nothing and has nothing to send for `idle_timeout` is closed). At most
// `max_connections` connections at once: one more is answered 503 and closed.
// Malformed requests get 400 and are closed; nothing a client sends can crash
// the server or make it allocate without bound.
//
// Responses are either complete (status, headers, body; the server adds
// Content-Length, Date is not sent) or streamed: the handler returns a
// ResponseStream that any thread may write to afterwards (chunked transfer
// encoding; the connection closes when the stream does). HEAD requests are
// passed to the handler like GET and answered without the body.
//
// Thread-safety: construct, port()/address() and Stop() from one owner
// thread; the handler runs on the server thread; ResponseStream is
// thread-safe. Cold path throughout (allocates freely).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace stampede::http {

// One parsed request, valid for the duration of the handler call.
struct ServerRequest {
  std::string method;  // "GET", "HEAD", "POST", ...
  std::string target;  // the request-target as sent: "/metrics?x=1"
  std::string path;    // target up to '?': "/metrics"
  std::string query;   // after '?', undecoded; "" when none
  int http_major = 1;
  int http_minor = 1;
  // Header fields in the order received; names as sent (compare with Header()).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // the decoded body (chunked framing removed); <= max_body_bytes
  std::string peer;  // the client's address, "127.0.0.1:54321" / "[::1]:54321"

  // The first value of header `name` (ASCII case-insensitive), if any.
  std::optional<std::string_view> Header(std::string_view name) const;
  // The value of `key` in the query ("a=1&b=2"), undecoded ("" for a bare
  // "key"); nullopt when absent. For parameters of digits and hex.
  std::optional<std::string_view> QueryParam(std::string_view key) const;
};

// A streamed response body. Created by a handler (Create()), kept by whoever
// produces the data (e.g. a dashboard's list of subscribers), returned in
// ServerResponse::stream. Writes made before the server has sent the response
// head are kept and sent after it.
//
// Thread-safety: every member may be called from any thread.
// Bounds: at most `max_pending_bytes` not yet written to the socket; a Write
// beyond that closes the stream (a client too slow to follow is dropped
// rather than buffered without bound) and returns false.
class ResponseStream {
 public:
  static std::shared_ptr<ResponseStream> Create(size_t max_pending_bytes = 1 << 20);

  // Queues `data` as one chunk. False if the stream is closed (by Close(), the
  // client going away, the server stopping, or the pending bound).
  bool Write(std::string_view data);
  // Ends the response (the terminating chunk is sent, then the connection is
  // closed). Idempotent.
  void Close();
  // True once the stream can take no more data, for any reason.
  bool closed() const;

  // Only for the server: private state behind a public tag type.
  struct Internal;
  explicit ResponseStream(size_t max_pending_bytes);
  ~ResponseStream();
  Internal& internal() { return *internal_; }

 private:
  std::unique_ptr<Internal> internal_;
};

struct ServerResponse {
  int status = 200;
  // Headers to send, e.g. {"Content-Type", "text/plain"}. The server adds
  // Content-Length (complete responses), Transfer-Encoding (streams) and
  // Connection: close when it will close; do not set those.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // complete responses; ignored when `stream` is set
  // Set: the response is streamed; `body` is ignored. The server holds a
  // reference until the stream or the connection closes.
  std::shared_ptr<ResponseStream> stream;

  // A complete response with a Content-Type and a body.
  static ServerResponse Text(int status, std::string content_type, std::string body);
};

// Called on the server thread for every complete request. May throw: the
// client then gets 500 and the error is logged once per server (a handler
// bug must not take the listener down).
using Handler = std::function<ServerResponse(const ServerRequest&)>;

struct ServerOptions {
  // What to listen on: "HOST:PORT", "[IPv6]:PORT", ":PORT" or "PORT" (host
  // 127.0.0.1). HOST may be a name (resolved once, first address). PORT 0
  // picks a free port (see port()).
  std::string address = "127.0.0.1:0";
  // How the address was given, for error messages: "--prometheus".
  std::string option_name = "listen address";
  size_t max_connections = 64;
  size_t max_header_bytes = 16 * 1024;  // request line + headers
  size_t max_body_bytes = 1 << 20;
  std::chrono::milliseconds idle_timeout{30000};
  std::string thread_name = "stampede-http";  // <= 15 bytes shown
  // Bound beyond loopback, the server says so on stderr in one line:
  // `stampede: OPTION ADDRESS: listening beyond loopback: other machines can
  // reach it` followed by this note (what guards it), e.g. "; control needs
  // the token".
  std::string exposure_note;
};

// Whether a numeric host (or "localhost") is a loopback address: 127.0.0.0/8,
// ::1, or an IPv4-mapped 127.x. Anything else (0.0.0.0, ::, a name, an
// interface's address) is not.
bool IsLoopbackHost(std::string_view host);
// The line a listener bound beyond loopback prints (without "stampede: ").
std::string ExposureWarning(std::string_view option_name, std::string_view bound_address,
                            std::string_view note);

// Where a listener would bind: parsed ServerOptions::address.
struct ListenAddress {
  std::string host;  // "127.0.0.1", "::1", "localhost" (no brackets)
  uint16_t port = 0;
};
// Parses "HOST:PORT", "[IPv6]:PORT", ":PORT", "PORT". Throws core::ConfigError
// naming `option_name` and the expected forms.
ListenAddress ParseListenAddress(std::string_view text, std::string_view option_name);

class Server {
 public:
  // Binds, listens and starts the server thread. Throws core::ConfigError
  // with one line naming the option and address and the fix, e.g.
  //   --prometheus 127.0.0.1:9464: address already in use; choose another port
  Server(ServerOptions options, Handler handler);
  ~Server();  // Stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound port (the real one when 0 was asked for).
  uint16_t port() const { return port_; }
  // The bound address: "127.0.0.1:9464" or "[::1]:9464".
  const std::string& address() const { return bound_address_; }

  // Closes the listener and every connection (open streams are closed
  // without their terminating chunk), joins the thread. Idempotent; the
  // handler is not called after Stop() returns.
  void Stop();

  // Counters for tests and stats (any thread).
  uint64_t requests_handled() const { return requests_.load(std::memory_order_relaxed); }
  uint64_t connections_accepted() const { return accepted_.load(std::memory_order_relaxed); }

  struct Connection;  // opaque, server.cc only

 private:
  void Run();
  void Accept();
  void OnReadable(Connection& c);
  void OnWritable(Connection& c);
  void ProcessInput(Connection& c);
  void Drive(Connection& c);
  void Dispatch(Connection& c);
  void QueueError(Connection& c, int status, std::string_view message);
  void AttachStream(Connection& c, std::shared_ptr<ResponseStream> stream);
  void PumpStream(Connection& c);
  bool Flush(Connection& c);
  void UpdateInterest(Connection& c);
  void Close(Connection& c);
  void CloseIdle(std::chrono::steady_clock::time_point now);
  int NextTimeoutMs(std::chrono::steady_clock::time_point now) const;
  void DrainWake();

  const ServerOptions options_;
  Handler handler_;
  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: Stop() and stream writes
  uint16_t port_ = 0;
  std::string bound_address_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> accepted_{0};
  bool handler_error_logged_ = false;
  std::vector<std::unique_ptr<Connection>> connections_;  // server thread only
  std::mutex stop_mu_;
  std::thread thread_;
};

}  // namespace stampede::http
