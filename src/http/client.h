// The per-worker HTTP client: keep-alive connection pools per origin,
// non-blocking connect, TLS, request writing, response parsing and the
// per-phase timings of every request. HTTP/1.1, and HTTP/2 (nghttp2) by
// ALPN on https or by prior knowledge on http: one stream per exchange,
// many exchanges per connection (connection.h).
//
// Hot path contract: sending a request on a pooled connection and reading its
// response allocates nothing and takes no lock; the only system calls are
// the socket write and read (plus the loop's shared epoll_wait) on epoll, and
// none of its own on io_uring (the loop turn's one io_uring_enter carries
// the send and the receive; loop/io_uring_poller.h). Reads go into
// one worker-owned buffer, so an idle connection holds no buffer of its own.
//
// Thread: a Client and everything it hands out belong to one worker thread.
// Failures are values (Exchange::error), never exceptions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "http/response_parser.h"
#include "http/timings.h"
#include "http/url.h"
#include "loop/event_loop.h"
#include "net/error_type.h"
#include "net/socket.h"

namespace stampede::net {
class Resolver;
class TlsContext;
}  // namespace stampede::net

namespace stampede::http {

class Client;
class Connection;
class H2Memory;
struct Origin;

struct ClientOptions {
  int64_t connect_timeout_ns = 10'000'000'000;   // DNS + TCP connect + TLS
  int64_t request_timeout_ns = 60'000'000'000;   // whole request, k6's `timeout`
  uint32_t max_conns_per_origin = 0;             // 0 = no limit
  // false: every exchange gets a new connection, closed after its response
  // (k6's noConnectionReuse).
  bool reuse_connections = true;
  size_t read_buffer_bytes = 64 * 1024;          // the worker's one read buffer
  // HTTP/2: offer h2 by ALPN on https origins (falling back to http/1.1 when
  // the server picks it). Plain http:// speaks h2 only with prior knowledge
  // (Exchange::http2_prior_knowledge).
  bool http2 = true;
  // Most concurrent streams per HTTP/2 connection (h2load's -m); 0: as many
  // as the server's SETTINGS_MAX_CONCURRENT_STREAMS allows.
  uint32_t max_streams_per_connection = 0;
};

// One request/response exchange. Owned by the caller (a VU), reused for its
// next request; the Client borrows it from Send() until OnComplete().
// Fields marked "in" are set by the caller before Send(); "out" fields are
// valid in OnComplete() and until the next Send().
class Exchange : private loop::Task, private loop::Timer {
 public:
  ~Exchange() override = default;

  // in: the destination, from Client::GetOrigin().
  Origin* origin = nullptr;
  // in: the serialised request (caller-owned; must stay valid until
  // OnComplete). See http/request_writer.h.
  std::string_view request_bytes;
  // in: a HEAD request (its response has no body whatever the headers say).
  bool head = false;
  // in: keep up to this many body bytes in `body` (0: discard, only count).
  size_t keep_body_bytes = 0;
  // in: per-request timeout override in ns (0: ClientOptions).
  int64_t timeout_ns = 0;
  // in: capture the response headers here (null: not captured, no cost).
  HeaderList* response_headers = nullptr;
  // in: which idle connections this exchange may reuse: only those whose
  // last exchange had the same key. A connection takes the key of the
  // exchange that opened it. 0 (the default) is the shared pool; a VU under
  // noVUConnectionReuse uses a key per iteration (see Client::CloseIdle).
  uint64_t pool_key = 0;
  // in: speak HTTP/2 without negotiation (h2c prior knowledge) to an http://
  // origin. Ignored for https (ALPN decides there).
  bool http2_prior_knowledge = false;

  // out
  int status = 0;                        // 0 when no response status was read
  net::NetError error = net::NetError::kNone;
  std::string error_detail;              // why it failed (capacity reused)
  Timings timings;
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;           // headers + body as on the wire
  std::string body;                      // up to keep_body_bytes (capacity reused)
  bool body_truncated = false;
  net::Address peer;                     // remote address of the connection used
  uint8_t http_version = 11;             // 11: HTTP/1.1, 20: HTTP/2 (k6's proto)
  // The request was sent again on a new connection because the server
  // refused its stream unprocessed (GOAWAY, REFUSED_STREAM).
  bool retried_unprocessed = false;
  bool in_flight() const { return in_flight_; }

 protected:
  // Called on the worker thread when the exchange ends, successfully or not.
  // The exchange may be re-sent from here.
  virtual void OnComplete() = 0;

 private:
  friend class Client;
  friend class Connection;
  void Run() override;      // deferred completion (loop::Task)
  void OnTimer() override;  // request timeout (loop::Timer)
  void ResetOutputs(int64_t now_ns);

  Client* client_ = nullptr;
  Connection* conn_ = nullptr;      // while bound to a connection
  Exchange* next_waiting_ = nullptr;  // intrusive queue of the origin's waiters
  int64_t deadline_ns_ = 0;         // the request timeout's instant
  bool in_flight_ = false;
  bool retried_ = false;            // already retried once after a stale keep-alive
  // HTTP/2 stream state (h2_connection.cc).
  int32_t h2_stream_id_ = 0;
  uint32_t h2_error_code_ = 0;      // RST_STREAM / close code of the stream
  std::string_view h2_body_;        // the request body still to send
  bool h2_end_stream_ = false;      // the response's END_STREAM arrived
  bool h2_informational_ = false;   // reading a 1xx header block
  bool h2_refused_ = false;         // refused unprocessed: retry elsewhere
  bool h2_rst_ = false;             // the server sent RST_STREAM for it
  bool h2_done_queued_ = false;     // in the connection's completion list
};

// Told about connection lifetimes (the OTel http.client.connection.duration
// metric). Called on the worker thread; must not call back into the Client.
class ConnectionObserver {
 public:
  virtual ~ConnectionObserver() = default;
  // A connection that was established (TCP connected, TLS done) closed after
  // `lifetime_ns` nanoseconds since it was established.
  virtual void OnConnectionClosed(std::string_view host, uint16_t port, int64_t lifetime_ns) = 0;
};

// An origin's host (as in the URL, without brackets) and port. Cold or hot
// path: plain field reads.
std::string_view OriginHost(const Origin& origin);
uint16_t OriginPort(const Origin& origin);

class Client {
 public:
  // `loop`, `resolver` and `tls` (optional: null disables https) must outlive
  // the client.
  Client(loop::EventLoop& loop, net::Resolver& resolver, net::TlsContext* tls,
         const ClientOptions& options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Interns the origin (scheme, host, port) of `url`. Cold: allocates the first
  // time an origin is seen; the pointer stays valid for the client's life.
  Origin* GetOrigin(const Url& url);

  // Starts `ex`. Precondition: !ex.in_flight() and ex.origin set. Always
  // completes through ex.OnComplete(), never from inside Send() itself.
  void Send(Exchange& ex);

  // Abandons an in-flight exchange (its connection is closed); OnComplete is
  // not called. No-op when not in flight.
  void Cancel(Exchange& ex);

  // Closes every connection: idle ones quietly, busy ones fail their exchange
  // with kClosed (completions run on the next loop turn).
  void CloseAll();

  // Closes the idle connections whose pool key is `pool_key` (busy ones are
  // left alone). Cold: scans every origin's idle list.
  void CloseIdle(uint64_t pool_key);

  // Changes ClientOptions::reuse_connections for the exchanges sent from now
  // on (idle connections are kept until their next use or CloseAll).
  void set_reuse_connections(bool reuse) { options_.reuse_connections = reuse; }
  // Changes ClientOptions::max_conns_per_origin (setup, before any Send).
  void set_max_conns_per_origin(uint32_t n) { options_.max_conns_per_origin = n; }

  // Where connection lifetimes are reported (optional; null: nowhere). The
  // observer must outlive the client.
  void set_observer(ConnectionObserver* observer) { observer_ = observer; }

  // Calls fn for every origin seen so far with its open connections (any
  // state) and how many of them are idle. Cold path (once a second).
  void ForEachOrigin(const std::function<void(std::string_view host, uint16_t port, size_t open,
                                              size_t idle)>& fn) const;

  size_t open_connections() const { return open_connections_; }
  uint64_t connections_opened() const { return connections_opened_; }
  // Requests sent again on a new connection because an HTTP/2 server refused
  // them unprocessed (GOAWAY past their stream, REFUSED_STREAM).
  uint64_t requests_retried() const { return requests_retried_; }

 private:
  friend class Connection;
  friend class Exchange;
  void StartOnNewConnection(Exchange& ex);
  // Finds `ex` a connection: an HTTP/2 one with a free stream, an idle
  // keep-alive one, a new one, or the origin's wait queue.
  void Route(Exchange& ex);
  bool WantsH2(const Origin& origin, const Exchange& ex) const;
  // Gives the origin's waiters streams of `conn` while it has room.
  void OfferStreams(Connection& conn);
  // Ends `ex` (taken off any connection) with `error` on this loop turn's
  // deferred tasks: a failure may happen inside Send(), and completing from
  // there would recurse into the VU.
  void FailLater(Exchange& ex, net::NetError error, std::string_view detail);
  void Complete(Exchange& ex);  // deferred via the loop
  void ConnectionIdle(Connection& conn);
  void ConnectionClosed(Connection& conn);
  void OnTimeout(Exchange& ex);
  void RemoveWaiter(Exchange& ex);
  void Detach(Exchange& ex);
  void ArmConnectTimeout(Exchange& ex);
  void DisarmConnectTimeout(Exchange& ex);

  loop::EventLoop& loop_;
  net::Resolver& resolver_;
  net::TlsContext* tls_;
  ClientOptions options_;
  loop::StreamIo* stream_io_;  // the loop backend's completion I/O, or null (epoll)
  std::vector<char> read_buffer_;
  std::unique_ptr<H2Memory> h2_memory_;  // nghttp2's allocator (made on first h2 use)
  std::vector<std::unique_ptr<Origin>> origins_;
  std::vector<std::unique_ptr<Connection>> connections_;  // every connection object made
  std::vector<Connection*> free_;                         // closed ones, for reuse
  size_t open_connections_ = 0;
  uint64_t connections_opened_ = 0;
  uint64_t requests_retried_ = 0;
  ConnectionObserver* observer_ = nullptr;
};

}  // namespace stampede::http
