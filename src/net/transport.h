// The transport seam: HTTP connection code reads and writes through a
// Transport and does not know whether bytes go over plain TCP or TLS.
// Connecting and the TLS handshake happen before a Transport is used; the
// connection owns the fd and the TlsSession, a Transport only borrows them.
// Thread: the owning worker's.
#pragma once

#include <cstddef>

#include "net/socket.h"
#include "net/tls.h"

namespace stampede::net {

class Transport {
 public:
  virtual ~Transport() = default;
  // Same contract as net::Read/net::Write (socket.h): values, never throws.
  virtual IoResult Read(char* buf, size_t len) = 0;
  virtual IoResult Write(const char* buf, size_t len) = 0;
  // True when bytes are buffered above the socket (TLS records), so readiness
  // from the poller is not needed to Read more.
  virtual bool HasBufferedData() const = 0;
  // Orderly end: TLS sends close_notify if possible (never blocks); plain
  // TCP does nothing (the caller closes the fd).
  virtual void Shutdown() = 0;
};

// Plain TCP over a borrowed fd.
class PlainTransport final : public Transport {
 public:
  explicit PlainTransport(int fd = -1) : fd_(fd) {}
  void set_fd(int fd) { fd_ = fd; }
  int fd() const { return fd_; }

  IoResult Read(char* buf, size_t len) override;
  IoResult Write(const char* buf, size_t len) override;
  bool HasBufferedData() const override;
  void Shutdown() override;

 private:
  int fd_;
};

// TLS over a borrowed, handshaken TlsSession.
class TlsTransport final : public Transport {
 public:
  explicit TlsTransport(TlsSession& session) : session_(session) {}
  TlsSession& session() { return session_; }

  IoResult Read(char* buf, size_t len) override;
  IoResult Write(const char* buf, size_t len) override;
  bool HasBufferedData() const override;
  void Shutdown() override;

 private:
  TlsSession& session_;
};

}  // namespace stampede::net
