// Internal to http/: an origin's pool and one client connection (HTTP/1.1,
// or an HTTP/2 session multiplexing many exchanges). client.cc holds the pool
// and the HTTP/1.1 path; h2_connection.cc the HTTP/2 one (nghttp2).
// Thread: the Client's worker thread, like everything in client.h.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "http/client.h"
#include "http/h2_memory.h"
#include "http/response_parser.h"
#include "loop/poller.h"
#include "net/resolver.h"
#include "net/tls.h"

#include <nghttp2/nghttp2.h>

namespace stampede::http {

// An origin's pool: idle keep-alive connections (LIFO, so the warmest is
// reused first) and the exchanges waiting for a connection slot.
struct Origin {
  std::string key;  // scheme://host:port
  std::string host;
  uint16_t port = 0;
  bool tls = false;
  std::vector<Connection*> idle;  // capacity grows to the high-water mark once
  size_t open = 0;                // connections of this origin, any state
  Exchange* wait_head = nullptr;
  Exchange* wait_tail = nullptr;
  // HTTP/2: connections that speak it (or are being set up to) and may take
  // more streams; https origins whose server chose http/1.1 by ALPN stop
  // expecting h2 (h1_only), so later exchanges do not wait on a pending one.
  std::vector<Connection*> h2;
  bool h1_only = false;
};

// One TCP (or TLS) connection and the exchange it currently serves.
// Lifecycle: kResolving → kConnecting → [kHandshaking] → kWriting → kReading →
// kIdle ↺ kWriting … → kClosed. Owned by the Client (recycled through its free
// list); never freed while the client lives, so stale pointers are harmless.
//
// I/O: readiness (OnIo: read/write system calls) by default. When the loop's
// backend has completion I/O (io_uring) a plain-TCP connection switches to it
// once connected: the backend receives for it (OnReceived/OnReceiveEnd) and
// sends its request bytes (OnSent); connect and TLS stay on readiness.
//
// HTTP/2 (h2_connection.cc): a connection opened to speak h2 (prior
// knowledge on http://, ALPN offering h2 on https://) takes more exchanges
// while it is set up (pending, sent once the session starts) and, in kH2, one
// stream per exchange up to the streams limit. Its exchanges are in
// h2_active_; completions are collected during a read and delivered after it,
// output is flushed once per loop turn (a posted task), so the requests that
// VUs send in one turn leave in one write.
class Connection final : public loop::IoHandler,
                         public loop::StreamHandler,
                         public net::ResolveWaiter,
                         private loop::Task {
 public:
  enum class State {
    kClosed, kResolving, kConnecting, kHandshaking, kWriting, kReading, kIdle,
    kH2,  // an HTTP/2 session is running (any number of streams, even none)
  };

  explicit Connection(Client& client) : client_(client) {}

  State state() const { return state_; }
  Origin* origin() const { return origin_; }
  Exchange* exchange() const { return ex_; }
  uint64_t served() const { return served_; }
  uint64_t pool_key() const { return pool_key_; }

  // Opens a connection to `origin` for `ex` (which records the phase timings).
  void Open(Origin& origin, Exchange& ex);
  // Sends `ex` on this idle connection.
  void Reuse(Exchange& ex);
  // Closes the socket; the exchange (if any) is detached, not completed.
  void Close();

  void OnIo(uint32_t events) override;
  void OnResolved(const net::ResolveResult& result) override;
  void OnReceived(const char* data, size_t len) override;
  void OnReceiveEnd(int error) override;
  void OnSent(int result, int64_t submitted_ns) override;

  // HTTP/2 (h2_connection.cc).
  bool h2_wanted() const { return h2_wanted_; }
  // Room for one more exchange: set up to speak h2 (or speaking it), no
  // GOAWAY seen, fewer exchanges than the streams limit.
  bool CanTakeStream() const;
  // Adds `ex` as a stream (kH2) or a pending exchange (being set up).
  void AttachH2(Exchange& ex);
  // Takes `ex` off this connection: its stream is reset (CANCEL), or it
  // leaves the pending list. OnComplete is not called.
  void DetachH2(Exchange& ex);
  // Fails every exchange of an h2 connection with `error` (completions
  // deferred) and closes it.
  void FailAllH2(net::NetError error, std::string_view detail);
  // The exchanges attached while the connection was set up, taken off it.
  std::vector<Exchange*> TakePending();
  // Exchanges on this connection (streams, and pending ones).
  size_t h2_exchanges() const { return h2_active_.size(); }

 private:
  void Connect(const net::Address& addr);
  void AfterConnect();
  void StepHandshake();
  void StartWrite();
  void ContinueWrite();
  void ContinueRead();
  bool Consume(const char* data, size_t len);
  void ReadEof();
  void Finish();
  void Fail(net::NetError error, std::string_view detail);
  void SetInterest(uint32_t interest);
  net::IoResult TransportRead(char* buf, size_t len);
  net::IoResult TransportWrite(const char* buf, size_t len);

  // HTTP/2 (h2_connection.cc).
  void Run() override;  // the once-per-turn flush (loop::Task)
  void StartH2();
  void SubmitH2(Exchange& ex);
  void OnIoH2(uint32_t events);
  bool ReadH2();   // false when the connection failed
  void FlushH2();  // writes what nghttp2 has queued, as far as the socket takes
  void DeliverH2();  // completes the streams that closed
  void AfterStreamsH2();  // close when done (GOAWAY, no reuse), offer free slots
  void LeaveH2List();
  uint32_t StreamLimit() const;
  bool BuildH2Request(Exchange& ex, std::string* error);
  static int OnBeginHeaders(nghttp2_session*, const nghttp2_frame*, void*);
  static int OnHeader(nghttp2_session*, const nghttp2_frame*, const uint8_t*, size_t,
                      const uint8_t*, size_t, uint8_t, void*);
  static int OnDataChunk(nghttp2_session*, uint8_t, int32_t, const uint8_t*, size_t, void*);
  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame*, void*);
  static int OnFrameSend(nghttp2_session*, const nghttp2_frame*, void*);
  static int OnFrameNotSend(nghttp2_session*, const nghttp2_frame*, int, void*);
  static int OnStreamClose(nghttp2_session*, int32_t, uint32_t, void*);
  static ssize_t ReadBody(nghttp2_session*, int32_t, uint8_t*, size_t, uint32_t*,
                          nghttp2_data_source*, void*);

  Client& client_;
  Origin* origin_ = nullptr;
  Exchange* ex_ = nullptr;
  State state_ = State::kClosed;
  int fd_ = -1;
  uint32_t interest_ = 0;
  size_t written_ = 0;
  uint64_t served_ = 0;
  int64_t established_ns_ = 0;  // connected (and TLS done); 0 while setting up
  uint64_t pool_key_ = 0;  // the key of the exchange that opened it
  bool saw_response_byte_ = false;
  uint32_t stream_ = 0;        // StreamIo token while on completion I/O
  bool send_pending_ = false;  // a StreamIo send not completed yet
  net::Address peer_;
  std::unique_ptr<net::TlsSession> tls_;  // made once, reused across reconnects
  bool uses_tls_ = false;                 // tls_ is started on the current fd
  ResponseParser parser_;

  // HTTP/2.
  bool h2_wanted_ = false;         // opened to speak h2 (prior knowledge or ALPN)
  bool in_h2_list_ = false;        // listed in origin_->h2
  bool h2_goaway_ = false;         // the server sent GOAWAY: no new streams
  bool h2_in_io_ = false;          // inside OnIoH2 (it flushes at its end)
  nghttp2_session* h2_ = nullptr;  // while kH2
  // nghttp2 hands its output a frame at a time (h2_out_, valid until its
  // next mem_send); frames are gathered into h2_wbuf_ (capacity fixed at
  // kH2WriteBatch, so a TLS write retried after would_block sees the same
  // address) and leave in one write per flush.
  const uint8_t* h2_out_ = nullptr;
  size_t h2_out_len_ = 0;
  std::string h2_wbuf_;
  size_t h2_woff_ = 0;  // h2_wbuf_[h2_woff_, size) is not written yet
  std::vector<Exchange*> h2_active_;  // streams and pending exchanges (capacity reused)
  std::vector<Exchange*> h2_done_;    // streams closed during this read
  std::vector<Exchange*> h2_delivering_;
  std::string h2_names_;              // lower-cased request header names
  std::vector<nghttp2_nv> h2_nv_;

  friend class Client;
};

}  // namespace stampede::http
