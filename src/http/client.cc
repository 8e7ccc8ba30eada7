#include "http/client.h"

#include <unistd.h>

#include <cassert>
#include <utility>

#include "http/connection.h"
#include "http/response_parser.h"
#include "net/resolver.h"
#include "net/tls.h"

namespace stampede::http {

namespace {
constexpr uint32_t kRead = loop::kReadable;
constexpr uint32_t kWrite = loop::kWritable;
// Full read buffers taken in a row from one readiness event before going back
// to the loop (1 MiB with the default 64 KiB buffer): a peer that sends
// faster than we parse (an endless body, endless 1xx responses) must not keep
// the worker from its timers (the request timeout) and its other connections.
constexpr int kMaxFullReadsPerEvent = 16;
}  // namespace

// ---------------------------------------------------------------- Exchange

void Exchange::ResetOutputs(int64_t now_ns) {
  status = 0;
  error = net::NetError::kNone;
  error_detail = {};
  timings = Timings{};
  timings.start_ns = now_ns;
  bytes_sent = 0;
  bytes_received = 0;
  body.clear();
  body_truncated = false;
  http_version = 11;
  retried_unprocessed = false;
  retried_ = false;
  h2_stream_id_ = 0;
  h2_error_code_ = 0;
  h2_end_stream_ = false;
  h2_informational_ = false;
  h2_refused_ = false;
  h2_rst_ = false;
  h2_done_queued_ = false;
}

void Exchange::Run() { client_->Complete(*this); }
void Exchange::OnTimer() { client_->OnTimeout(*this); }

// ---------------------------------------------------------------- Connection

void Connection::Open(Origin& origin, Exchange& ex) {
  origin_ = &origin;
  ex_ = &ex;
  ex.conn_ = this;
  served_ = 0;
  established_ns_ = 0;
  written_ = 0;
  pool_key_ = ex.pool_key;
  ex.timings.new_connection = true;
  h2_wanted_ = client_.WantsH2(origin, ex);
  h2_goaway_ = false;
  if (h2_wanted_ && client_.options_.reuse_connections) {
    origin.h2.push_back(this);
    in_h2_list_ = true;
  }
  ++origin.open;
  ++client_.open_connections_;
  ++client_.connections_opened_;

  net::ResolvedAddresses addrs;
  if (client_.resolver_.Lookup(origin.host, net::Family::kIpv4First, &addrs)) {
    Connect(addrs.addresses[0]);
    return;
  }
  state_ = State::kResolving;
  client_.resolver_.Resolve(origin.host, net::Family::kIpv4First, this);
}

void Connection::OnResolved(const net::ResolveResult& result) {
  if (state_ != State::kResolving || ex_ == nullptr) return;
  ex_->timings.dns_start_ns = result.start_ns;
  ex_->timings.dns_end_ns = result.end_ns;
  if (result.error != net::NetError::kNone || result.addresses == nullptr) {
    Fail(net::NetError::kDns, result.error_text.empty() ? "dns lookup failed" : result.error_text);
    return;
  }
  Connect(result.addresses->addresses[0]);
}

void Connection::Connect(const net::Address& addr) {
  peer_ = addr;
  peer_.set_port(origin_->port);
  ex_->peer = peer_;
  ex_->timings.connect_start_ns = client_.loop_.UpdateNow();
  net::NetError err = net::NetError::kNone;
  fd_ = net::StartConnect(peer_, &err);
  if (fd_ < 0) {
    Fail(err, "connect failed");
    return;
  }
  state_ = State::kConnecting;
  interest_ = kWrite;
  if (!client_.loop_.poller().Add(fd_, interest_, this)) {
    Fail(net::NetError::kOther, "poller refused the socket");
  }
}

void Connection::AfterConnect() {
  net::NetError err = net::FinishConnect(fd_);
  ex_->timings.connect_end_ns = client_.loop_.UpdateNow();
  if (err != net::NetError::kNone) {
    Fail(err, "connect failed");
    return;
  }
  if (origin_->tls) {
    if (!tls_) tls_ = std::make_unique<net::TlsSession>(*client_.tls_);
    // Offering h2 by ALPN only when this connection may speak it; otherwise
    // the context's offer (http/1.1).
    static constexpr std::string_view kAlpnH2{"\x02h2\x08http/1.1"};
    net::NetError tls_err =
        tls_->Start(fd_, origin_->host, origin_->port, h2_wanted_ ? kAlpnH2 : std::string_view{});
    if (tls_err != net::NetError::kNone) {
      Fail(tls_err, tls_->error_reason());
      return;
    }
    uses_tls_ = true;
    state_ = State::kHandshaking;
    ex_->timings.tls_start_ns = ex_->timings.connect_end_ns;
    StepHandshake();
    return;
  }
  if (h2_wanted_) {  // h2c with prior knowledge: readiness I/O, like TLS
    StartH2();
    return;
  }
  if (client_.stream_io_ != nullptr) {
    client_.loop_.poller().Remove(fd_);
    interest_ = 0;
    stream_ = client_.stream_io_->Attach(fd_, this);
    if (stream_ == 0) {
      Fail(net::NetError::kOther, "io_uring refused the socket");
      return;
    }
  }
  StartWrite();
}

void Connection::StepHandshake() {
  net::HandshakeResult st = tls_->HandshakeStep();
  switch (st.step) {
    case net::TlsStep::kDone:
      ex_->timings.tls_end_ns = client_.loop_.UpdateNow();
      ex_->timings.tls_resumed = tls_->resumed();
      if (h2_wanted_) {
        if (tls_->alpn() == "h2") {
          StartH2();
          return;
        }
        // The server chose http/1.1: this exchange goes on as HTTP/1.1, and
        // the ones that waited for the session find connections of their own.
        origin_->h1_only = true;
        h2_wanted_ = false;
        LeaveH2List();
        for (Exchange* p : TakePending()) client_.Route(*p);
      }
      StartWrite();
      return;
    case net::TlsStep::kWantRead:
      SetInterest(kRead);
      return;
    case net::TlsStep::kWantWrite:
      SetInterest(kWrite);
      return;
    case net::TlsStep::kError:
      ex_->timings.tls_end_ns = client_.loop_.UpdateNow();
      Fail(st.error, tls_->error_reason());
      return;
  }
}

void Connection::Reuse(Exchange& ex) {
  ex_ = &ex;
  ex.conn_ = this;
  ex.peer = peer_;
  ex.timings.conn_acquired_ns = ex.timings.conn_acquired_ns ? ex.timings.conn_acquired_ns
                                                            : client_.loop_.Now();
  StartWrite();
}

void Connection::StartWrite() {
  if (state_ != State::kIdle && served_ == 0) {
    client_.DisarmConnectTimeout(*ex_);
    if (established_ns_ == 0) established_ns_ = client_.loop_.Now();
  }
  state_ = State::kWriting;
  written_ = 0;
  saw_response_byte_ = false;
  parser_.Reset(ResponseOptions{.head_request = ex_->head,
                                .body_string = ex_->keep_body_bytes > 0 ? &ex_->body : nullptr,
                                .max_body_bytes = ex_->keep_body_bytes,
                                .headers = ex_->response_headers});
  ex_->timings.send_start_ns = client_.loop_.UpdateNow();
  if (stream_ != 0) {
    // Sent from the exchange's own bytes with the loop turn's submission.
    send_pending_ = true;
    client_.stream_io_->Send(stream_, ex_->request_bytes.data(), ex_->request_bytes.size());
    return;
  }
  ContinueWrite();
}

void Connection::OnSent(int result, int64_t submitted_ns) {
  send_pending_ = false;
  if (ex_ == nullptr) return;
  if (result < 0) {
    Fail(net::FailureFromErrno(-result), "write failed");
    return;
  }
  ex_->bytes_sent += static_cast<uint64_t>(result);
  if (state_ == State::kWriting) {
    ex_->timings.send_end_ns = submitted_ns != 0 ? submitted_ns : client_.loop_.Now();
    state_ = State::kReading;
  }
}

void Connection::OnReceived(const char* data, size_t len) {
  switch (state_) {
    case State::kWriting:  // a response may start before the send's completion is seen
    case State::kReading:
      Consume(data, len);
      return;
    case State::kIdle:
      // Unsolicited bytes on an idle keep-alive connection: unusable.
      Close();
      client_.ConnectionClosed(*this);
      return;
    default:
      return;
  }
}

void Connection::OnReceiveEnd(int error) {
  if (state_ == State::kIdle) {
    Close();
    client_.ConnectionClosed(*this);
    return;
  }
  if (state_ != State::kWriting && state_ != State::kReading) return;
  if (error == 0) {
    ReadEof();
    return;
  }
  Fail(net::FailureFromErrno(-error), "read failed");
}

void Connection::ContinueWrite() {
  std::string_view req = ex_->request_bytes;
  while (written_ < req.size()) {
    net::IoResult r = TransportWrite(req.data() + written_, req.size() - written_);
    if (r.bytes > 0) {
      written_ += r.bytes;
      ex_->bytes_sent += r.bytes;
      continue;
    }
    if (r.would_block) {
      SetInterest(r.want_write ? kWrite : kRead);
      return;
    }
    Fail(r.ok() ? net::NetError::kClosed : r.error, "write failed");
    return;
  }
  ex_->timings.send_end_ns = client_.loop_.UpdateNow();
  state_ = State::kReading;
  SetInterest(kRead);
}

void Connection::ContinueRead() {
  std::vector<char>& buf = client_.read_buffer_;
  int full_reads = 0;
  while (true) {
    net::IoResult r = TransportRead(buf.data(), buf.size());
    if (r.bytes > 0) {
      if (Consume(buf.data(), r.bytes)) return;
      // Level-triggered: a short read means the socket is drained; wait for
      // more. Bytes OpenSSL already holds must be read now (epoll cannot see
      // them). A full buffer means more in the socket: read on, up to the
      // budget; past it, epoll reports the socket again next turn.
      if (uses_tls_ && tls_->HasBufferedData()) continue;
      if (r.bytes == buf.size() && ++full_reads < kMaxFullReadsPerEvent) continue;
      return;
    }
    if (r.would_block) {
      if (r.want_write) SetInterest(kWrite);  // TLS renegotiation-style wants
      return;
    }
    if (r.eof) {
      ReadEof();
      return;
    }
    Fail(r.error, "read failed");
    return;
  }
}

// Feeds response bytes; true when the exchange ended (finished or failed).
bool Connection::Consume(const char* data, size_t len) {
  if (!saw_response_byte_) {
    saw_response_byte_ = true;
    ex_->timings.first_byte_ns = client_.loop_.Now();  // when the poll returned
  }
  ex_->bytes_received += len;
  ParseResult p = parser_.Feed(data, len);
  if (p.state == ParseState::kError) {
    Fail(net::NetError::kProtocol, p.error);
    return true;
  }
  if (p.state == ParseState::kComplete) {
    Finish();
    return true;
  }
  return false;
}

void Connection::ReadEof() {
  ParseResult p = parser_.FeedEof();
  if (p.state == ParseState::kComplete) {
    Finish();
    return;
  }
  Fail(saw_response_byte_ ? net::NetError::kProtocol : net::NetError::kClosed,
       saw_response_byte_ ? "connection closed mid-response" : "connection closed");
}

void Connection::Finish() {
  Exchange& ex = *ex_;
  ex.timings.end_ns = client_.loop_.UpdateNow();
  ex.status = parser_.status();
  ex.body_truncated = parser_.body_truncated();
  // The whole response came before the send's completion was seen (a server
  // answering early): sending ended by the first response byte at the latest,
  // and the connection cannot take another send while that one is in flight.
  if (send_pending_ && ex.timings.send_end_ns == 0) ex.timings.send_end_ns = ex.timings.first_byte_ns;
  bool keep = parser_.keep_alive() && !parser_.has_leftover() &&
              client_.options_.reuse_connections && !send_pending_;
  ++served_;
  ex_ = nullptr;
  ex.conn_ = nullptr;
  // Back to the pool first, so that the VU's next request (sent from inside
  // Complete) finds this connection idle instead of opening another.
  if (keep && fd_ >= 0) {
    client_.ConnectionIdle(*this);
  } else {
    Close();
    client_.ConnectionClosed(*this);
  }
  client_.Complete(ex);  // synchronous: the VU may re-send on this turn
}

void Connection::Fail(net::NetError error, std::string_view detail) {
  if (state_ == State::kH2) {
    FailAllH2(error, detail);
    return;
  }
  // Exchanges waiting for this connection's HTTP/2 session share its fate.
  for (Exchange* p : TakePending()) client_.FailLater(*p, error, detail);
  Exchange* ex = ex_;
  // `detail` may point into the TLS session, which Close() resets.
  if (ex != nullptr) ex->error_detail.assign(detail.data(), detail.size());
  // A reused keep-alive connection that the server had already closed: retry
  // once on a fresh connection, as browsers and k6 do; nothing reached the
  // server's application, so the request is not doubled.
  bool stale = served_ > 0 && !saw_response_byte_ && ex != nullptr && !ex->retried_ &&
               (error == net::NetError::kClosed || error == net::NetError::kReset) &&
               (state_ == State::kWriting || state_ == State::kReading);
  Close();
  client_.ConnectionClosed(*this);
  if (ex == nullptr) return;
  ex->conn_ = nullptr;
  if (stale) {
    ex->error_detail.clear();
    ex->retried_ = true;
    ex->bytes_sent = 0;
    ex->bytes_received = 0;
    client_.StartOnNewConnection(*ex);
    return;
  }
  ex->error = error;
  ex->timings.end_ns = client_.loop_.UpdateNow();
  // Defer: a failure may happen inside Send(); completing from there would
  // recurse into the VU.
  client_.loop_.Post(*ex);
}

void Connection::Close() {
  if (state_ == State::kResolving) client_.resolver_.Cancel(this);
  // HTTP/2: the exchanges still here are detached, not completed (callers
  // that must fail them use FailAllH2 or TakePending first).
  for (Exchange* e : h2_active_) e->conn_ = nullptr;
  h2_active_.clear();
  h2_done_.clear();
  if (h2_ != nullptr) {
    nghttp2_session_del(h2_);
    h2_ = nullptr;
  }
  h2_out_ = nullptr;
  h2_out_len_ = 0;
  h2_wbuf_.clear();
  h2_woff_ = 0;
  h2_wanted_ = false;
  LeaveH2List();
  if (fd_ >= 0) {
    if (stream_ != 0) {
      client_.stream_io_->Detach(stream_);
      stream_ = 0;
      send_pending_ = false;
    } else {
      client_.loop_.poller().Remove(fd_);
    }
    if (uses_tls_) tls_->Shutdown();
    ::close(fd_);
    fd_ = -1;
  }
  if (uses_tls_) tls_->Reset();
  uses_tls_ = false;
  interest_ = 0;
  state_ = State::kClosed;
  ex_ = nullptr;
}

void Connection::SetInterest(uint32_t interest) {
  if (interest == interest_ || fd_ < 0 || stream_ != 0) return;
  interest_ = interest;
  client_.loop_.poller().Modify(fd_, interest, this);
}

net::IoResult Connection::TransportRead(char* buf, size_t len) {
  return uses_tls_ ? tls_->Read(buf, len) : net::Read(fd_, buf, len);
}

net::IoResult Connection::TransportWrite(const char* buf, size_t len) {
  return uses_tls_ ? tls_->Write(buf, len) : net::Write(fd_, buf, len);
}

void Connection::OnIo(uint32_t events) {
  switch (state_) {
    case State::kConnecting:
      AfterConnect();
      return;
    case State::kHandshaking:
      StepHandshake();
      return;
    case State::kWriting:
      ContinueWrite();
      return;
    case State::kReading:
      ContinueRead();
      return;
    case State::kH2:
      OnIoH2(events);
      return;
    case State::kIdle: {
      // An idle keep-alive connection became readable: the server closed it
      // (or sent something unsolicited). Either way it is no longer usable.
      Close();
      client_.ConnectionClosed(*this);
      return;
    }
    case State::kResolving:
    case State::kClosed:
      return;  // stale event for a recycled fd
  }
}

// ---------------------------------------------------------------- Client

Client::Client(loop::EventLoop& loop, net::Resolver& resolver, net::TlsContext* tls,
               const ClientOptions& options)
    : loop_(loop), resolver_(resolver), tls_(tls), options_(options),
      stream_io_(loop.poller().stream_io()),
      read_buffer_(options.read_buffer_bytes) {}

Client::~Client() {
  for (auto& c : connections_) c->Close();
}

Origin* Client::GetOrigin(const Url& url) {
  std::string key = url.Origin();
  for (auto& o : origins_) {
    if (o->key == key) return o.get();
  }
  auto origin = std::make_unique<Origin>();
  origin->key = key;
  origin->host = url.host;
  origin->port = url.port;
  origin->tls = url.is_https();
  origins_.push_back(std::move(origin));
  return origins_.back().get();
}

void Client::Send(Exchange& ex) {
  assert(!ex.in_flight_ && ex.origin != nullptr);
  ex.client_ = this;
  ex.in_flight_ = true;
  ex.ResetOutputs(loop_.Now());
  int64_t timeout = ex.timeout_ns > 0 ? ex.timeout_ns : options_.request_timeout_ns;
  ex.deadline_ns_ = ex.timings.start_ns + timeout;
  loop_.Schedule(static_cast<loop::Timer&>(ex), ex.deadline_ns_);
  Origin& origin = *ex.origin;
  if (origin.tls && tls_ == nullptr) {
    ex.error = net::NetError::kTls;
    ex.error_detail = "https is not available";
    ex.timings.end_ns = ex.timings.start_ns;
    loop_.Post(ex);
    return;
  }
  Route(ex);
}

bool Client::WantsH2(const Origin& origin, const Exchange& ex) const {
  return origin.tls ? options_.http2 && !origin.h1_only : ex.http2_prior_knowledge;
}

void Client::Route(Exchange& ex) {
  Origin& origin = *ex.origin;
  if (WantsH2(origin, ex)) {
    // The newest HTTP/2 connection with room (set up or being set up).
    for (size_t i = origin.h2.size(); i-- > 0;) {
      Connection* conn = origin.h2[i];
      if (conn->pool_key_ != ex.pool_key || !conn->CanTakeStream()) continue;
      if (ex.timings.conn_acquired_ns == 0) ex.timings.conn_acquired_ns = loop_.Now();
      conn->AttachH2(ex);
      return;
    }
  } else {
    // The warmest idle connection of the exchange's pool (the last one pushed;
    // with the shared pool, key 0, that is the back at once).
    for (size_t i = origin.idle.size(); i-- > 0;) {
      Connection* conn = origin.idle[i];
      if (conn->pool_key_ != ex.pool_key) continue;
      origin.idle.erase(origin.idle.begin() + static_cast<std::ptrdiff_t>(i));
      ex.timings.conn_acquired_ns = ex.timings.start_ns;
      conn->Reuse(ex);
      return;
    }
  }
  if (options_.max_conns_per_origin != 0 && origin.open >= options_.max_conns_per_origin) {
    ex.timings.waited_for_connection = true;
    ex.next_waiting_ = nullptr;
    if (origin.wait_tail) {
      origin.wait_tail->next_waiting_ = &ex;
    } else {
      origin.wait_head = &ex;
    }
    origin.wait_tail = &ex;
    return;
  }
  StartOnNewConnection(ex);
}

void Client::StartOnNewConnection(Exchange& ex) {
  Connection* conn;
  if (!free_.empty()) {
    conn = free_.back();
    free_.pop_back();
  } else {
    connections_.push_back(std::make_unique<Connection>(*this));
    conn = connections_.back().get();
  }
  if (ex.timings.conn_acquired_ns == 0) ex.timings.conn_acquired_ns = loop_.Now();
  ArmConnectTimeout(ex);
  conn->Open(*ex.origin, ex);
}

void Client::ConnectionIdle(Connection& conn) {
  Origin& origin = *conn.origin_;
  if (origin.wait_head != nullptr && (origin.wait_head->pool_key != conn.pool_key_ ||
                                      WantsH2(origin, *origin.wait_head))) {
    // Not the waiter's to reuse: closing frees the slot, and the waiter gets
    // a connection of its own (ConnectionClosed).
    conn.Close();
    ConnectionClosed(conn);
    return;
  }
  if (Exchange* waiter = origin.wait_head) {
    origin.wait_head = waiter->next_waiting_;
    if (origin.wait_head == nullptr) origin.wait_tail = nullptr;
    waiter->next_waiting_ = nullptr;
    waiter->timings.conn_acquired_ns = loop_.Now();
    conn.Reuse(*waiter);
    return;
  }
  conn.state_ = Connection::State::kIdle;
  conn.SetInterest(kRead);
  origin.idle.push_back(&conn);
}

std::string_view OriginHost(const Origin& origin) { return origin.host; }
uint16_t OriginPort(const Origin& origin) { return origin.port; }

void Client::ForEachOrigin(
    const std::function<void(std::string_view host, uint16_t port, size_t open, size_t idle)>& fn)
    const {
  for (const auto& o : origins_) {
    // An HTTP/2 connection without streams is idle too.
    size_t idle = o->idle.size();
    for (const Connection* c : o->h2) {
      if (c->state() == Connection::State::kH2 && c->h2_exchanges() == 0) ++idle;
    }
    fn(o->host, o->port, o->open, idle);
  }
}

void Client::ConnectionClosed(Connection& conn) {
  Origin* origin = conn.origin_;
  if (origin == nullptr) return;
  conn.origin_ = nullptr;
  if (observer_ != nullptr && conn.established_ns_ != 0) {
    observer_->OnConnectionClosed(origin->host, origin->port,
                                  loop_.Now() - conn.established_ns_);
  }
  conn.established_ns_ = 0;
  for (size_t i = 0; i < origin->idle.size(); ++i) {
    if (origin->idle[i] == &conn) {
      origin->idle[i] = origin->idle.back();
      origin->idle.pop_back();
      break;
    }
  }
  --origin->open;
  --open_connections_;
  free_.push_back(&conn);
  // A slot opened up: the first waiter gets a new connection.
  if (Exchange* waiter = origin->wait_head) {
    origin->wait_head = waiter->next_waiting_;
    if (origin->wait_head == nullptr) origin->wait_tail = nullptr;
    waiter->next_waiting_ = nullptr;
    waiter->timings.conn_acquired_ns = loop_.Now();
    StartOnNewConnection(*waiter);
  }
}

// While a connection is being set up, the exchange's timer fires at the
// earlier of the connect and the request deadline.
void Client::ArmConnectTimeout(Exchange& ex) {
  int64_t connect_deadline = loop_.Now() + options_.connect_timeout_ns;
  if (connect_deadline < ex.deadline_ns_) {
    loop_.Schedule(static_cast<loop::Timer&>(ex), connect_deadline);
  }
}

void Client::DisarmConnectTimeout(Exchange& ex) {
  if (static_cast<loop::Timer&>(ex).deadline_ns() != ex.deadline_ns_) {
    loop_.Schedule(static_cast<loop::Timer&>(ex), ex.deadline_ns_);
  }
}

void Client::Complete(Exchange& ex) {
  if (!ex.in_flight_) return;
  loop_.Cancel(static_cast<loop::Timer&>(ex));
  ex.in_flight_ = false;
  ex.OnComplete();
}

void Client::OnTimeout(Exchange& ex) {
  if (!ex.in_flight_) return;
  ex.timings.end_ns = loop_.UpdateNow();
  bool connecting = false;
  bool resolving = false;
  if (ex.conn_ != nullptr) {
    Connection::State st = ex.conn_->state();
    resolving = st == Connection::State::kResolving;
    connecting = resolving || st == Connection::State::kConnecting ||
                 st == Connection::State::kHandshaking;
  }
  Detach(ex);
  // A DNS server that never answers is a DNS failure whichever deadline comes
  // first: the resolver's own retries (kDns) or ours (so the error type does
  // not depend on --connect-timeout).
  ex.error = resolving ? net::NetError::kDns : net::NetError::kTimeout;
  ex.error_detail = resolving     ? "DNS lookup timeout"
                    : connecting ? "connect timeout"
                                 : "request timeout";
  Complete(ex);
}

// Takes `ex` off whatever holds it: its connection (closed: a half-done
// exchange leaves the connection unusable) or the origin's wait queue.
void Client::Detach(Exchange& ex) {
  if (ex.conn_ != nullptr) {
    Connection* conn = ex.conn_;
    if (conn->state() == Connection::State::kH2 || conn->exchange() != &ex) {
      // One stream of an HTTP/2 connection (reset), or an exchange waiting
      // for a session being set up: the connection serves the others on.
      conn->DetachH2(ex);
      ex.conn_ = nullptr;
      return;
    }
    std::vector<Exchange*> pending = conn->TakePending();
    conn->Close();
    ConnectionClosed(*conn);
    ex.conn_ = nullptr;
    for (Exchange* p : pending) Route(*p);
  } else {
    RemoveWaiter(ex);
  }
}

void Client::RemoveWaiter(Exchange& ex) {
  Origin& origin = *ex.origin;
  Exchange* prev = nullptr;
  for (Exchange* e = origin.wait_head; e != nullptr; prev = e, e = e->next_waiting_) {
    if (e != &ex) continue;
    if (prev) {
      prev->next_waiting_ = e->next_waiting_;
    } else {
      origin.wait_head = e->next_waiting_;
    }
    if (origin.wait_tail == e) origin.wait_tail = prev;
    e->next_waiting_ = nullptr;
    return;
  }
}

void Client::Cancel(Exchange& ex) {
  if (!ex.in_flight_) return;
  loop_.Cancel(static_cast<loop::Timer&>(ex));
  Detach(ex);
  ex.in_flight_ = false;
}

void Client::CloseIdle(uint64_t pool_key) {
  for (auto& origin : origins_) {
    for (size_t i = origin->h2.size(); i-- > 0;) {
      if (i >= origin->h2.size()) continue;
      Connection* conn = origin->h2[i];
      if (conn->pool_key_ != pool_key || conn->state() != Connection::State::kH2 ||
          conn->h2_exchanges() != 0) {
        continue;
      }
      conn->Close();
      ConnectionClosed(*conn);
    }
    for (size_t i = origin->idle.size(); i-- > 0;) {
      if (i >= origin->idle.size()) continue;  // ConnectionClosed reorders the list
      Connection* conn = origin->idle[i];
      if (conn->pool_key_ != pool_key) continue;
      conn->Close();
      ConnectionClosed(*conn);
    }
  }
}

void Client::CloseAll() {
  for (auto& c : connections_) {
    if (c->state() == Connection::State::kClosed) continue;
    if (c->state() == Connection::State::kH2) {
      c->FailAllH2(net::NetError::kClosed, "client closed");
      continue;
    }
    for (Exchange* p : c->TakePending()) FailLater(*p, net::NetError::kClosed, "client closed");
    Exchange* ex = c->exchange();
    c->Close();
    ConnectionClosed(*c);
    if (ex != nullptr) FailLater(*ex, net::NetError::kClosed, "client closed");
  }
}

void Client::FailLater(Exchange& ex, net::NetError error, std::string_view detail) {
  ex.conn_ = nullptr;
  ex.error = error;
  ex.error_detail.assign(detail.data(), detail.size());
  ex.timings.end_ns = loop_.UpdateNow();
  loop_.Post(ex);
}

}  // namespace stampede::http
