// Client-side TLS over non-blocking sockets (OpenSSL).
//
// TlsContext: one per worker. Holds the SSL_CTX (TLS 1.2+, certificate and
// host-name verification on by default, ALPN) and a session cache keyed by
// origin ("host:port") so that reconnecting to an origin resumes its latest
// session (TLS 1.2 session or TLS 1.3 ticket) instead of a full handshake.
//
// TlsSession: one per connection, reusable (Start → ... → Reset → Start). The
// fd is borrowed: the session never closes it, and must be Reset or destroyed
// before the caller closes it. Socket I/O goes through a small BIO of our own
// that uses send(MSG_NOSIGNAL), so a peer that went away yields kReset rather
// than SIGPIPE.
//
// Errors are values (no exceptions after construction). A handshake or I/O
// error leaves a short reason in error_reason(): an X509 verification message
// ("hostname mismatch", "unable to get local issuer certificate") for
// kTlsVerify, an OpenSSL reason ("wrong version number") for kTls.
//
// Thread: a context and its sessions belong to one worker thread.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "net/error_type.h"
#include "net/socket.h"

namespace stampede::net {

class TlsContext {
 public:
  struct Options {
    // Skip certificate and host-name verification (k6's insecureSkipTLSVerify).
    bool insecure_skip_verify = false;
    // PEM file of trusted CAs. When set it replaces the system CA store (like
    // curl --cacert); empty: the system's default CA paths.
    std::string ca_file;
    // ALPN protocols offered, in preference order. Empty: no ALPN.
    std::vector<std::string> alpn{"http/1.1"};
    // Reuse sessions per origin across connections.
    bool session_resumption = true;
  };

  // Throws core::ConfigError when OpenSSL refuses the configuration (e.g. an
  // unreadable CA file).
  explicit TlsContext(const Options& options);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  const Options& options() const { return options_; }
  // Turns certificate and host-name verification off (or on) for the
  // sessions created from now on (a script's insecureSkipTLSVerify is known
  // only after its init ran). Setup thread, before any handshake that must
  // see the change.
  void SetInsecureSkipVerify(bool skip);
  // Origins with a resumable session stored.
  size_t cached_sessions() const { return sessions_.size(); }
  // Forgets every stored session.
  void ClearSessions();

 private:
  friend class TlsSession;
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct CtxFree {
    void operator()(SSL_CTX* ctx) const;
  };
  struct BioMethodFree {
    void operator()(BIO_METHOD* m) const;
  };

  static int OnNewSession(SSL* ssl, SSL_SESSION* session);
  SSL_SESSION* FindSession(std::string_view origin) const;
  void StoreSession(std::string_view origin, SSL_SESSION* session);  // takes the reference

  Options options_;
  std::unique_ptr<SSL_CTX, CtxFree> ctx_;
  std::unique_ptr<BIO_METHOD, BioMethodFree> bio_method_;
  std::unordered_map<std::string, SSL_SESSION*, StringHash, std::equal_to<>> sessions_;
};

enum class TlsStep : uint8_t {
  kDone,       // handshake complete
  kWantRead,   // call HandshakeStep again when the fd is readable
  kWantWrite,  // call HandshakeStep again when the fd is writable
  kError,      // failed: see HandshakeResult::error and error_reason()
};

struct HandshakeResult {
  TlsStep step = TlsStep::kError;
  NetError error = NetError::kNone;  // kTls, kTlsVerify, kReset, ... when kError
};

class TlsSession {
 public:
  // `context` must outlive the session.
  explicit TlsSession(TlsContext& context);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Prepares a client handshake over the connected, non-blocking `fd`.
  // `host` is both the SNI name and the name the certificate must match; for
  // an IP literal ("127.0.0.1", "::1", "[::1]") no SNI is sent and the
  // certificate must carry that IP. `port` completes the session-cache key.
  // A stored session for host:port is offered for resumption. `alpn_wire`,
  // when not empty, replaces the context's ALPN offer for this handshake (in
  // wire format: length-prefixed names, e.g. "\x08http/1.1" for a WebSocket
  // that cannot speak h2). Returns kNone, or kTls when the name is too long
  // or OpenSSL is out of memory.
  NetError Start(int fd, std::string_view host, uint16_t port, std::string_view alpn_wire = {});

  // Advances the handshake as far as the socket allows.
  HandshakeResult HandshakeStep();

  // Application data. Same contract as net::Read/Write; additionally a
  // would_block result may ask for the other direction (want_write). A write
  // that would block must be retried with at least the same bytes. A clean
  // close_notify or a bare TCP EOF from the peer is reported as eof (framing
  // above detects truncation).
  IoResult Read(char* buf, size_t len);
  IoResult Write(const char* buf, size_t len);

  // True when decrypted or undecoded bytes are buffered inside OpenSSL: the
  // poller will not report them, so the caller must Read again.
  bool HasBufferedData() const;

  // Sends close_notify if the socket takes it now; never waits for the peer's.
  void Shutdown();
  // Frees the connection state (not the fd) so Start can be called again.
  void Reset();

  bool started() const { return ssl_ != nullptr; }
  bool handshake_done() const { return handshake_done_; }
  // True when the handshake resumed a stored session.
  bool resumed() const;
  // "TLSv1.3", "TLSv1.2"; empty before Start.
  std::string_view protocol_version() const;
  // Negotiated ALPN protocol ("http/1.1"), empty if none.
  std::string_view alpn() const;
  // Why the last operation failed; empty if none did.
  std::string_view error_reason() const { return std::string_view(reason_, reason_len_); }
  std::string_view origin() const { return std::string_view(origin_, origin_len_); }

  // State shared with the BIO callbacks (tls.cc).
  struct BioState {
    int fd = -1;
    int last_errno = 0;
    bool eof = false;
  };

 private:
  // Classifies a failed SSL call (after SSL_get_error), records the reason and
  // marks the session failed.
  NetError Fail(int ssl_error);
  void SetReason(std::string_view reason);

  static constexpr size_t kMaxHost = 256;
  static constexpr size_t kMaxOrigin = kMaxHost + 8;  // ":65535"
  static constexpr size_t kMaxReason = 128;

  TlsContext& context_;
  SSL* ssl_ = nullptr;
  BioState bio_state_;
  bool handshake_done_ = false;
  bool failed_ = false;
  char host_[kMaxHost] = {};
  char origin_[kMaxOrigin] = {};
  size_t origin_len_ = 0;
  char reason_[kMaxReason] = {};
  size_t reason_len_ = 0;
};

}  // namespace stampede::net
