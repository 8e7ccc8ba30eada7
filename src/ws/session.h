// A WebSocket client session (RFC 6455) on a worker's event loop: DNS through
// the worker's net::Resolver, a non-blocking TCP connect, TLS for wss://
// (net::TlsSession from the worker's net::TlsContext), the HTTP/1.1 upgrade
// handshake (Sec-WebSocket-Key / Sec-WebSocket-Accept, checked with
// OpenSSL's SHA-1), then frames (ws/frame.h): masked client frames, server
// pings answered with pongs at once, and the close handshake.
//
// Written here (no Debian library fits: see frame.h). Not part of http/: a
// WebSocket connection is never pooled and outlives any request/response
// exchange, so it keeps a socket of its own.
//
// Events reach a SessionHandler synchronously from the loop's I/O and timer
// callbacks. A handler must not destroy the session from inside a callback;
// it may call Send/Ping/Close (they only queue bytes and flush them).
//
// Failures are values: a reason in error() and a call to OnError, never an
// exception. Thread: the loop's.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/rng.h"
#include "loop/event_loop.h"
#include "net/resolver.h"
#include "net/socket.h"
#include "net/tls.h"
#include "net/transport.h"
#include "ws/frame.h"

namespace stampede::ws {

struct SessionConfig {
  std::string host;  // as in the URL, without the brackets of an IPv6 literal
  uint16_t port = 0;
  bool tls = false;         // wss://
  std::string host_header;  // the Host header: host[:port]
  std::string target;       // the request target: path and query ("/" at least)
  // Extra request headers (the script's, the traceparent). Names and values
  // must not contain CR or LF (the caller checks). The handshake's own
  // headers (Host, Upgrade, Connection, Sec-WebSocket-Key,
  // Sec-WebSocket-Version) are always ours.
  std::vector<std::pair<std::string, std::string>> headers;
  int64_t connect_timeout_ns = 10'000'000'000;    // DNS + TCP connect + TLS, from Start
  int64_t handshake_timeout_ns = 60'000'000'000;  // until the 101 response, from Start
  int64_t close_timeout_ns = 1'000'000'000;       // wait for the peer's close frame
  size_t max_message_bytes = 16 * 1024 * 1024;
};

class SessionHandler {
 public:
  virtual ~SessionHandler() = default;
  // The server accepted the upgrade (101, valid Accept key).
  virtual void OnOpen() = 0;
  // A text, binary, ping or pong message (a ping has already been answered).
  // The payload is valid during the call only.
  virtual void OnMessage(const Message& message) = 0;
  // Something went wrong (handshake refused or timed out, connection lost,
  // malformed frame): a one-line reason. OnClosed follows.
  virtual void OnError(std::string_view error) = 0;
  // The session is over: `code` is the close code the peer sent (or ours
  // when we failed the connection, kCloseAbnormal when it just ended). The
  // last call; the socket is closed already.
  virtual void OnClosed(uint16_t code, std::string_view reason) = 0;
};

class Session final : private loop::IoHandler, private loop::Timer, private net::ResolveWaiter {
 public:
  enum class State : uint8_t {
    kIdle,
    kResolving,
    kConnecting,
    kTlsHandshake,
    kAwaitingResponse,  // handshake request sent (or queued)
    kOpen,
    kClosing,  // our close frame is sent; waiting for the peer's
    kClosed,
  };

  // `loop`, `resolver`, `tls` (null: wss:// fails with an error) and
  // `handler` must outlive the session. `seed` seeds the key and masks.
  Session(loop::EventLoop& loop, net::Resolver& resolver, net::TlsContext* tls,
          SessionHandler& handler, uint64_t seed);
  // Closes the socket without a close handshake and without callbacks.
  ~Session() override;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Starts connecting. Precondition: state() == kIdle. Every outcome arrives
  // through the handler, never from inside Start().
  void Start(SessionConfig config);

  // Queue a message; before the session is open it is sent right after the
  // handshake. Return false (nothing sent) once closing or closed.
  bool SendText(std::string_view text) { return SendData(Opcode::kText, text); }
  bool SendBinary(std::string_view bytes) { return SendData(Opcode::kBinary, bytes); }
  bool Ping(std::string_view payload = {});
  // Starts the close handshake with `code` (kCloseNormal, or 3000–4999):
  // OnClosed follows when the peer answers or close_timeout_ns passes.
  // Before the session is open it ends it at once (OnClosed with `code`).
  void Close(uint16_t code = kCloseNormal, std::string_view reason = {});
  // Ends the session now: the socket is closed, no callback follows.
  void Abort();

  State state() const { return state_; }
  bool opened() const { return open_ns_ != 0; }
  // The HTTP status of the handshake response (0: none read).
  int status() const { return status_; }
  const std::vector<std::pair<std::string, std::string>>& response_headers() const {
    return response_headers_;
  }
  const std::string& error() const { return error_; }
  int64_t start_ns() const { return start_ns_; }
  // When the 101 was accepted (0: never).
  int64_t open_ns() const { return open_ns_; }
  uint64_t bytes_sent() const { return bytes_sent_; }
  uint64_t bytes_received() const { return bytes_received_; }
  const net::Address& peer() const { return peer_; }

  // The Sec-WebSocket-Accept value for a Sec-WebSocket-Key (RFC 6455 4.2.2).
  static std::string AcceptFor(std::string_view key);

 private:
  void OnIo(uint32_t events) override;
  void OnTimer() override;
  void OnResolved(const net::ResolveResult& result) override;

  bool SendData(Opcode opcode, std::string_view payload);
  void Connect(const net::Address& address);
  void StepTls();
  void QueueHandshake();
  void ReadAvailable();
  void OnBytes(const char* data, size_t len);
  bool ParseResponse();
  void ProcessFrames();
  void Flush();
  void UpdateInterest();
  void AppendClientFrame(Opcode opcode, std::string_view payload);
  // Fails the session: OnError(reason), a close frame with `close_code`
  // when the connection is open (0: none), then Finish.
  void Fail(std::string reason, uint16_t close_code = 0);
  void Finish(uint16_t code, std::string_view reason);
  void CloseSocket();

  loop::EventLoop& loop_;
  net::Resolver& resolver_;
  net::TlsContext* tls_context_;
  SessionHandler& handler_;
  core::Rng rng_;
  SessionConfig config_;
  State state_ = State::kIdle;
  int fd_ = -1;
  uint32_t interest_ = 0;
  std::unique_ptr<net::TlsSession> tls_;
  net::PlainTransport plain_;
  std::unique_ptr<net::TlsTransport> tls_transport_;
  net::Transport* transport_ = nullptr;
  bool read_wants_write_ = false;
  net::ResolvedAddresses addresses_;
  size_t next_address_ = 0;
  net::Address peer_;
  std::string key_;
  std::string response_;  // the handshake response head as it arrives
  int status_ = 0;
  std::vector<std::pair<std::string, std::string>> response_headers_;
  std::string out_;  // bytes to write; [out_pos_, end) not yet written
  size_t out_pos_ = 0;
  std::string early_;  // frames queued before the session opened
  Reader reader_;
  std::string error_;
  int64_t start_ns_ = 0;
  int64_t open_ns_ = 0;
  uint64_t bytes_sent_ = 0;
  uint64_t bytes_received_ = 0;
  // Set while a handler callback may run: guards against a Finish inside a
  // Finish (OnError → Close → ...).
  bool finishing_ = false;
};

}  // namespace stampede::ws
