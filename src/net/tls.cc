#include "net/tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/error.h"

namespace stampede::net {

namespace {

// ---- a socket BIO that never raises SIGPIPE ----

TlsSession::BioState* StateOf(BIO* bio) {
  return static_cast<TlsSession::BioState*>(BIO_get_data(bio));
}

int BioWrite(BIO* bio, const char* data, size_t len, size_t* written) {
  TlsSession::BioState* st = StateOf(bio);
  BIO_clear_retry_flags(bio);
  *written = 0;
  while (true) {
    ssize_t n = ::send(st->fd, data, len, MSG_NOSIGNAL);
    if (n >= 0) {
      *written = static_cast<size_t>(n);
      return 1;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      BIO_set_retry_write(bio);
    } else {
      st->last_errno = errno;
    }
    return 0;
  }
}

int BioRead(BIO* bio, char* data, size_t len, size_t* read_bytes) {
  TlsSession::BioState* st = StateOf(bio);
  BIO_clear_retry_flags(bio);
  *read_bytes = 0;
  while (true) {
    ssize_t n = ::recv(st->fd, data, len, 0);
    if (n > 0) {
      *read_bytes = static_cast<size_t>(n);
      return 1;
    }
    if (n == 0) {
      st->eof = true;
      return 0;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      BIO_set_retry_read(bio);
    } else {
      st->last_errno = errno;
    }
    return 0;
  }
}

long BioCtrl(BIO* bio, int cmd, long /*num*/, void* /*ptr*/) {
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_EOF:
      return StateOf(bio)->eof ? 1 : 0;
    default:
      return 0;
  }
}

int BioCreate(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

int BioDestroy(BIO* /*bio*/) { return 1; }

std::string_view VersionOrEmpty(const char* s) { return s != nullptr ? s : std::string_view(); }

}  // namespace

// ---- TlsContext ----

void TlsContext::CtxFree::operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
void TlsContext::BioMethodFree::operator()(BIO_METHOD* m) const { BIO_meth_free(m); }

TlsContext::TlsContext(const Options& options) : options_(options) {
  auto fail = [](const std::string& what) {
    char buf[256] = "unknown error";
    unsigned long e = ERR_get_error();
    if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    throw core::ConfigError("TLS setup failed: " + what + " (" + buf + ")");
  };

  ctx_.reset(SSL_CTX_new(TLS_client_method()));
  if (!ctx_) fail("cannot create an SSL context");
  SSL_CTX* ctx = ctx_.get();
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) fail("cannot require TLS 1.2");
  // Partial writes make SSL_write behave like send(); the HTTP layer may
  // retry from a buffer that moved.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // Many HTTP servers close without close_notify; message framing catches
  // truncation, so a bare EOF is a normal end of stream.
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
  // Read ahead: one recv fills OpenSSL's buffer with as many records as have
  // arrived, instead of two recvs (header, body) per record. What it holds
  // is reported by HasBufferedData, which every reader drains.
  SSL_CTX_set_read_ahead(ctx, 1);

  SSL_CTX_set_verify(ctx, options.insecure_skip_verify ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, nullptr);
  if (!options.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr) != 1) {
      fail("cannot load CA file \"" + options.ca_file + "\"");
    }
  } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
    fail("cannot load the system CA store");
  }

  if (!options.alpn.empty()) {
    std::string wire;
    for (const std::string& p : options.alpn) {
      if (p.empty() || p.size() > 255) {
        throw core::ConfigError("invalid ALPN protocol name \"" + p + "\"");
      }
      wire += static_cast<char>(p.size());
      wire += p;
    }
    // Unlike most of OpenSSL, 0 means success here.
    if (SSL_CTX_set_alpn_protos(ctx, reinterpret_cast<const unsigned char*>(wire.data()),
                                static_cast<unsigned int>(wire.size())) != 0) {
      fail("cannot set ALPN");
    }
  }

  if (options.session_resumption) {
    // Client sessions arrive through the callback (TLS 1.3 tickets after the
    // handshake); we keep them per origin rather than in OpenSSL's table.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, &TlsContext::OnNewSession);
  } else {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  }
  SSL_CTX_set_app_data(ctx, this);

  bio_method_.reset(BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "stampede-socket"));
  if (!bio_method_) fail("cannot create the socket BIO");
  BIO_METHOD* m = bio_method_.get();
  if (BIO_meth_set_write_ex(m, &BioWrite) != 1 || BIO_meth_set_read_ex(m, &BioRead) != 1 ||
      BIO_meth_set_ctrl(m, &BioCtrl) != 1 || BIO_meth_set_create(m, &BioCreate) != 1 ||
      BIO_meth_set_destroy(m, &BioDestroy) != 1) {
    fail("cannot set up the socket BIO");
  }
}

TlsContext::~TlsContext() { ClearSessions(); }

void TlsContext::SetInsecureSkipVerify(bool skip) {
  options_.insecure_skip_verify = skip;
  SSL_CTX_set_verify(ctx_.get(), skip ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, nullptr);
}

void TlsContext::ClearSessions() {
  for (auto& [origin, session] : sessions_) SSL_SESSION_free(session);
  sessions_.clear();
}

int TlsContext::OnNewSession(SSL* ssl, SSL_SESSION* session) {
  auto* self = static_cast<TlsContext*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  auto* owner = static_cast<TlsSession*>(SSL_get_app_data(ssl));
  if (self == nullptr || owner == nullptr || owner->origin().empty()) return 0;
  self->StoreSession(owner->origin(), session);
  return 1;  // we keep the reference
}

SSL_SESSION* TlsContext::FindSession(std::string_view origin) const {
  auto it = sessions_.find(origin);
  return it == sessions_.end() ? nullptr : it->second;
}

void TlsContext::StoreSession(std::string_view origin, SSL_SESSION* session) {
  auto it = sessions_.find(origin);
  if (it != sessions_.end()) {
    SSL_SESSION_free(it->second);
    it->second = session;
  } else {
    sessions_.emplace(std::string(origin), session);
  }
}

// ---- TlsSession ----

TlsSession::TlsSession(TlsContext& context) : context_(context) {}

TlsSession::~TlsSession() { Reset(); }

void TlsSession::Reset() {
  if (ssl_ != nullptr) {
    // OpenSSL invalidates the session of a connection freed without a
    // shutdown; a connection that ended without error stays resumable.
    if (!failed_) SSL_set_shutdown(ssl_, SSL_get_shutdown(ssl_) | SSL_SENT_SHUTDOWN);
    SSL_free(ssl_);  // also frees the BIO
    ssl_ = nullptr;
  }
  bio_state_ = BioState{};
  handshake_done_ = false;
  failed_ = false;
  host_[0] = '\0';
  origin_len_ = 0;
  reason_len_ = 0;
}

void TlsSession::SetReason(std::string_view reason) {
  reason_len_ = std::min(reason.size(), kMaxReason - 1);
  std::memcpy(reason_, reason.data(), reason_len_);
  reason_[reason_len_] = '\0';
}

NetError TlsSession::Start(int fd, std::string_view host, uint16_t port,
                           std::string_view alpn_wire) {
  Reset();
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty() || host.size() >= kMaxHost) {
    SetReason("invalid host name");
    return NetError::kTls;
  }
  std::memcpy(host_, host.data(), host.size());
  host_[host.size()] = '\0';
  int n = std::snprintf(origin_, sizeof origin_, "%s:%u", host_, static_cast<unsigned>(port));
  origin_len_ = static_cast<size_t>(std::max(n, 0));

  ssl_ = SSL_new(context_.ctx_.get());
  BIO* bio = ssl_ != nullptr ? BIO_new(context_.bio_method_.get()) : nullptr;
  if (bio == nullptr) {
    ERR_clear_error();
    SetReason("out of memory");
    if (ssl_ != nullptr) SSL_free(ssl_);
    ssl_ = nullptr;
    return NetError::kTls;
  }
  bio_state_.fd = fd;
  BIO_set_data(bio, &bio_state_);
  SSL_set_bio(ssl_, bio, bio);
  SSL_set_app_data(ssl_, this);
  SSL_set_connect_state(ssl_);

  Address literal;
  const bool is_ip = Address::FromIp(host, 0, &literal);
  bool ok = true;
  if (!is_ip) ok = SSL_set_tlsext_host_name(ssl_, host_) == 1;
  // Unlike most of OpenSSL, 0 means success here.
  if (ok && !alpn_wire.empty()) {
    ok = SSL_set_alpn_protos(ssl_, reinterpret_cast<const unsigned char*>(alpn_wire.data()),
                             static_cast<unsigned int>(alpn_wire.size())) == 0;
  }
  if (ok && !context_.options_.insecure_skip_verify) {
    ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), host_) == 1
               : SSL_set1_host(ssl_, host_) == 1;
  }
  if (!ok) {
    ERR_clear_error();
    SetReason("cannot set the server name");
    failed_ = true;
    return NetError::kTls;
  }
  if (context_.options_.session_resumption) {
    if (SSL_SESSION* cached = context_.FindSession(origin()); cached != nullptr) {
      SSL_set_session(ssl_, cached);  // takes its own reference
    }
  }
  return NetError::kNone;
}

NetError TlsSession::Fail(int ssl_error) {
  failed_ = true;
  NetError result = NetError::kTls;
  long verify = SSL_get_verify_result(ssl_);
  unsigned long queued = ERR_peek_error();
  // With verification off OpenSSL still records chain errors: ignore them.
  if (!handshake_done_ && verify != X509_V_OK && !context_.options_.insecure_skip_verify) {
    result = NetError::kTlsVerify;
    SetReason(X509_verify_cert_error_string(verify));
  } else if (ssl_error == SSL_ERROR_SYSCALL && bio_state_.last_errno != 0) {
    result = FromErrno(bio_state_.last_errno);
    if (result == NetError::kNone) result = NetError::kOther;
    SetReason(std::strerror(bio_state_.last_errno));
  } else if (ssl_error == SSL_ERROR_ZERO_RETURN ||
             (ssl_error == SSL_ERROR_SYSCALL && bio_state_.eof)) {
    result = NetError::kTls;
    SetReason("connection closed during the TLS handshake");
  } else if (queued != 0) {
    const char* reason = ERR_reason_error_string(queued);
    SetReason(reason != nullptr ? reason : "TLS failure");
  } else {
    SetReason("TLS failure");
  }
  ERR_clear_error();
  return result;
}

HandshakeResult TlsSession::HandshakeStep() {
  if (ssl_ == nullptr || failed_) return {TlsStep::kError, NetError::kTls};
  if (handshake_done_) return {TlsStep::kDone, NetError::kNone};
  // SSL_get_error reads the thread's error queue: start it clean. (Read and
  // Write skip this on the hot path; every failure path clears the queue.)
  ERR_clear_error();
  int rc = SSL_do_handshake(ssl_);
  if (rc == 1) {
    handshake_done_ = true;
    return {TlsStep::kDone, NetError::kNone};
  }
  int e = SSL_get_error(ssl_, rc);
  if (e == SSL_ERROR_WANT_READ) return {TlsStep::kWantRead, NetError::kNone};
  if (e == SSL_ERROR_WANT_WRITE) return {TlsStep::kWantWrite, NetError::kNone};
  return {TlsStep::kError, Fail(e)};
}

IoResult TlsSession::Read(char* buf, size_t len) {
  if (ssl_ == nullptr || failed_) return IoResult::Error(NetError::kTls);
  if (len == 0) return IoResult::Bytes(0);
  size_t n = 0;
  int rc = SSL_read_ex(ssl_, buf, len, &n);
  if (rc == 1) return IoResult::Bytes(n);
  int e = SSL_get_error(ssl_, rc);
  switch (e) {
    case SSL_ERROR_WANT_READ:
      return IoResult::WouldBlock(false);
    case SSL_ERROR_WANT_WRITE:
      return IoResult::WouldBlock(true);
    case SSL_ERROR_ZERO_RETURN:
      return IoResult::Eof();
    default: {
      int sys = bio_state_.last_errno;
      return IoResult::Error(Fail(e), sys);
    }
  }
}

IoResult TlsSession::Write(const char* buf, size_t len) {
  if (ssl_ == nullptr || failed_) return IoResult::Error(NetError::kTls);
  if (len == 0) return IoResult::Bytes(0);
  size_t n = 0;
  int rc = SSL_write_ex(ssl_, buf, len, &n);
  if (rc == 1) return IoResult::Bytes(n);
  int e = SSL_get_error(ssl_, rc);
  switch (e) {
    case SSL_ERROR_WANT_READ:
      return IoResult::WouldBlock(false);
    case SSL_ERROR_WANT_WRITE:
      return IoResult::WouldBlock(true);
    default: {
      int sys = bio_state_.last_errno;
      NetError err = Fail(e);
      return IoResult::Error(e == SSL_ERROR_ZERO_RETURN ? NetError::kClosed : err, sys);
    }
  }
}

bool TlsSession::HasBufferedData() const { return ssl_ != nullptr && SSL_has_pending(ssl_) == 1; }

void TlsSession::Shutdown() {
  if (ssl_ == nullptr || failed_ || !handshake_done_) return;
  if (SSL_get_shutdown(ssl_) & SSL_SENT_SHUTDOWN) return;
  // One attempt: queues close_notify; if the socket is full it is dropped.
  SSL_shutdown(ssl_);
  ERR_clear_error();
}

bool TlsSession::resumed() const { return ssl_ != nullptr && SSL_session_reused(ssl_) == 1; }

std::string_view TlsSession::protocol_version() const {
  return ssl_ != nullptr ? VersionOrEmpty(SSL_get_version(ssl_)) : std::string_view();
}

std::string_view TlsSession::alpn() const {
  if (ssl_ == nullptr) return {};
  const unsigned char* data = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(ssl_, &data, &len);
  return data != nullptr ? std::string_view(reinterpret_cast<const char*>(data), len)
                         : std::string_view();
}

}  // namespace stampede::net
