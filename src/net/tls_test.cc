// TLS client against an in-test OpenSSL server thread on 127.0.0.1. The test
// makes its own CA and a leaf certificate for "localhost", 127.0.0.1 and ::1.
#include "net/tls.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>

#include "core/error.h"
#include "net/socket.h"
#include "net/transport.h"

namespace stampede::net {
namespace {

// ---- certificates ----

void AddExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  ASSERT_NE(ext, nullptr) << value;
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

X509* MakeCert(EVP_PKEY* key, const char* cn, X509* issuer, EVP_PKEY* issuer_key, long serial) {
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  X509* signer = issuer != nullptr ? issuer : x;
  X509_set_issuer_name(x, X509_get_subject_name(signer));
  if (issuer == nullptr) {
    AddExt(x, x, NID_basic_constraints, "critical,CA:TRUE");
    AddExt(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
    AddExt(x, x, NID_subject_key_identifier, "hash");
  } else {
    AddExt(x, issuer, NID_basic_constraints, "critical,CA:FALSE");
    AddExt(x, issuer, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1");
    AddExt(x, issuer, NID_ext_key_usage, "serverAuth");
    AddExt(x, issuer, NID_authority_key_identifier, "keyid");
  }
  X509_sign(x, issuer_key != nullptr ? issuer_key : key, EVP_sha256());
  return x;
}

struct Pki {
  Pki() {
    ca_key = EVP_EC_gen("P-256");
    leaf_key = EVP_EC_gen("P-256");
    ca = MakeCert(ca_key, "stampede test CA", nullptr, nullptr, 1);
    leaf = MakeCert(leaf_key, "localhost", ca, ca_key, 2);
    char tmpl[] = "/tmp/stampede-tls-XXXXXX";
    dir = mkdtemp(tmpl);
    ca_file = dir + "/ca.pem";
    FILE* f = std::fopen(ca_file.c_str(), "w");
    PEM_write_X509(f, ca);
    std::fclose(f);
  }
  ~Pki() {
    std::remove(ca_file.c_str());
    ::rmdir(dir.c_str());
    X509_free(leaf);
    X509_free(ca);
    EVP_PKEY_free(leaf_key);
    EVP_PKEY_free(ca_key);
  }
  EVP_PKEY* ca_key;
  EVP_PKEY* leaf_key;
  X509* ca;
  X509* leaf;
  std::string dir;
  std::string ca_file;
};

// ---- a blocking TLS server on its own thread ----

// Serves connections one at a time: handshake, read one line, answer
// "pong\n", close_notify, close.
class TlsServer {
 public:
  TlsServer(const Pki& pki, int max_version) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate(ctx_, pki.leaf);
    SSL_CTX_use_PrivateKey(ctx_, pki.leaf_key);
    if (max_version != 0) SSL_CTX_set_max_proto_version(ctx_, max_version);
    SSL_CTX_set_alpn_select_cb(ctx_, &SelectAlpn, nullptr);
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    Address a;
    Address::FromIp("127.0.0.1", 0, &a);
    ::bind(listen_fd_, a.sockaddr_ptr(), a.len);
    ::listen(listen_fd_, 16);
    a.len = sizeof a.storage;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a.storage), &a.len);
    port_ = a.port();
    thread_ = std::thread([this] { Serve(); });
  }
  ~TlsServer() {
    stop_ = true;
    thread_.join();
    ::close(listen_fd_);
    SSL_CTX_free(ctx_);
  }
  uint16_t port() const { return port_; }
  int handshakes() const { return handshakes_; }

 private:
  static int SelectAlpn(SSL*, const unsigned char** out, unsigned char* outlen,
                        const unsigned char* in, unsigned int inlen, void*) {
    static const unsigned char kHttp11[] = "\x08http/1.1";
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, outlen, kHttp11, sizeof kHttp11 - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED) {
      return SSL_TLSEXT_ERR_NOACK;
    }
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }

  void Serve() {
    while (!stop_) {
      // The poll timeout only bounds how long stop_ goes unnoticed.
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) != 1) continue;
      int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      timeval tv{5, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      SSL* ssl = SSL_new(ctx_);
      SSL_set_fd(ssl, fd);
      if (SSL_accept(ssl) == 1) {
        ++handshakes_;
        char buf[64];
        std::string line;
        while (line.find('\n') == std::string::npos) {
          int n = SSL_read(ssl, buf, sizeof buf);
          if (n <= 0) break;
          line.append(buf, static_cast<size_t>(n));
        }
        SSL_write(ssl, "pong\n", 5);
        SSL_shutdown(ssl);
      }
      ERR_clear_error();
      SSL_free(ssl);
      ::close(fd);
    }
  }

  SSL_CTX* ctx_ = nullptr;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> handshakes_{0};
};

// ---- the client side, driven with poll(2) ----

bool WaitFor(int fd, bool write) {
  pollfd p{fd, static_cast<short>(write ? POLLOUT : POLLIN), 0};
  return ::poll(&p, 1, 5000) == 1;
}

struct Outcome {
  HandshakeResult handshake;
  std::string reason;
  bool resumed = false;
  std::string version;
  std::string alpn;
  std::string reply;
};

Outcome Exchange(TlsContext& ctx, uint16_t port, std::string_view host,
                 const char* ip = "127.0.0.1") {
  Outcome out;
  Address addr;
  EXPECT_TRUE(Address::FromIp(ip, port, &addr));
  NetError err;
  int fd = StartConnect(addr, &err);
  EXPECT_GE(fd, 0);
  if (fd < 0) return out;
  EXPECT_TRUE(WaitFor(fd, true));
  EXPECT_EQ(FinishConnect(fd), NetError::kNone);

  TlsSession session(ctx);
  EXPECT_EQ(session.Start(fd, host, port), NetError::kNone);
  for (int i = 0; i < 100; ++i) {
    out.handshake = session.HandshakeStep();
    if (out.handshake.step == TlsStep::kWantRead || out.handshake.step == TlsStep::kWantWrite) {
      if (!WaitFor(fd, out.handshake.step == TlsStep::kWantWrite)) break;
      continue;
    }
    break;
  }
  out.reason = std::string(session.error_reason());
  if (out.handshake.step == TlsStep::kDone) {
    out.resumed = session.resumed();
    out.version = std::string(session.protocol_version());
    out.alpn = std::string(session.alpn());
    TlsTransport transport(session);
    std::string request = "ping\n";
    size_t sent = 0;
    for (int i = 0; i < 100 && sent < request.size(); ++i) {
      IoResult w = transport.Write(request.data() + sent, request.size() - sent);
      if (w.would_block && WaitFor(fd, w.want_write)) continue;
      EXPECT_TRUE(w.ok());
      if (!w.ok()) break;
      sent += w.bytes;
    }
    char buf[64];
    for (int i = 0; i < 100; ++i) {
      IoResult r = transport.Read(buf, sizeof buf);
      if (r.would_block) {
        if (!WaitFor(fd, r.want_write)) break;
        continue;
      }
      EXPECT_TRUE(r.ok()) << Name(r.error) << " " << session.error_reason();
      if (r.eof || !r.ok()) break;
      out.reply.append(buf, r.bytes);
    }
    transport.Shutdown();
  }
  session.Reset();
  ::close(fd);
  return out;
}

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pki_ = new Pki(); }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }
  static TlsContext::Options Trusting() {
    TlsContext::Options o;
    o.ca_file = pki_->ca_file;
    return o;
  }
  static Pki* pki_;
};
Pki* TlsTest::pki_ = nullptr;

TEST_F(TlsTest, HandshakeSucceedsWithTheCaFile) {
  TlsServer server(*pki_, 0);
  TlsContext ctx(Trusting());
  Outcome o = Exchange(ctx, server.port(), "localhost");
  ASSERT_EQ(o.handshake.step, TlsStep::kDone) << o.reason;
  EXPECT_EQ(o.version, "TLSv1.3");
  EXPECT_EQ(o.alpn, "http/1.1");
  EXPECT_FALSE(o.resumed);
  EXPECT_EQ(o.reply, "pong\n");
}

TEST_F(TlsTest, UnknownIssuerFailsVerification) {
  TlsServer server(*pki_, 0);
  TlsContext ctx(TlsContext::Options{});  // system CA store only
  Outcome o = Exchange(ctx, server.port(), "localhost");
  EXPECT_EQ(o.handshake.step, TlsStep::kError);
  EXPECT_EQ(o.handshake.error, NetError::kTlsVerify);
  EXPECT_EQ(o.reason, "unable to get local issuer certificate");
}

TEST_F(TlsTest, InsecureSkipVerifyAcceptsAnyCertificate) {
  TlsServer server(*pki_, 0);
  TlsContext::Options opts;
  opts.insecure_skip_verify = true;
  TlsContext ctx(opts);
  Outcome o = Exchange(ctx, server.port(), "not-the-cert-name.example");
  ASSERT_EQ(o.handshake.step, TlsStep::kDone) << o.reason;
  EXPECT_EQ(o.reply, "pong\n");
}

TEST_F(TlsTest, WrongHostNameFailsVerification) {
  TlsServer server(*pki_, 0);
  TlsContext ctx(Trusting());
  Outcome o = Exchange(ctx, server.port(), "wrong.example");
  EXPECT_EQ(o.handshake.error, NetError::kTlsVerify);
  EXPECT_EQ(o.reason, "hostname mismatch");
}

TEST_F(TlsTest, IpLiteralIsCheckedAgainstIpSubjectAltName) {
  TlsServer server(*pki_, 0);
  TlsContext ctx(Trusting());
  Outcome ok = Exchange(ctx, server.port(), "127.0.0.1");
  EXPECT_EQ(ok.handshake.step, TlsStep::kDone) << ok.reason;
  Outcome bad = Exchange(ctx, server.port(), "127.0.0.2");
  EXPECT_EQ(bad.handshake.error, NetError::kTlsVerify);
  EXPECT_EQ(bad.reason, "IP address mismatch");
}

TEST_F(TlsTest, SecondConnectionResumesTls13Session) {
  TlsServer server(*pki_, 0);
  TlsContext ctx(Trusting());
  Outcome first = Exchange(ctx, server.port(), "localhost");
  ASSERT_EQ(first.handshake.step, TlsStep::kDone) << first.reason;
  EXPECT_FALSE(first.resumed);
  EXPECT_EQ(ctx.cached_sessions(), 1u);
  Outcome second = Exchange(ctx, server.port(), "localhost");
  ASSERT_EQ(second.handshake.step, TlsStep::kDone) << second.reason;
  EXPECT_TRUE(second.resumed);
  EXPECT_EQ(second.version, "TLSv1.3");
  EXPECT_EQ(second.reply, "pong\n");
  Outcome third = Exchange(ctx, server.port(), "localhost");
  EXPECT_TRUE(third.resumed);
}

TEST_F(TlsTest, SecondConnectionResumesTls12Session) {
  TlsServer server(*pki_, TLS1_2_VERSION);
  TlsContext ctx(Trusting());
  Outcome first = Exchange(ctx, server.port(), "localhost");
  ASSERT_EQ(first.handshake.step, TlsStep::kDone) << first.reason;
  EXPECT_EQ(first.version, "TLSv1.2");
  EXPECT_FALSE(first.resumed);
  Outcome second = Exchange(ctx, server.port(), "localhost");
  ASSERT_EQ(second.handshake.step, TlsStep::kDone) << second.reason;
  EXPECT_TRUE(second.resumed);
}

TEST_F(TlsTest, SessionsAreKeptPerOrigin) {
  TlsServer server(*pki_, 0);
  TlsContext ctx(Trusting());
  Exchange(ctx, server.port(), "localhost");
  // Same server, different origin name: no session to offer.
  Outcome other = Exchange(ctx, server.port(), "127.0.0.1");
  ASSERT_EQ(other.handshake.step, TlsStep::kDone) << other.reason;
  EXPECT_FALSE(other.resumed);
  EXPECT_EQ(ctx.cached_sessions(), 2u);
}

TEST_F(TlsTest, ResumptionCanBeDisabled) {
  TlsServer server(*pki_, 0);
  TlsContext::Options opts = Trusting();
  opts.session_resumption = false;
  TlsContext ctx(opts);
  Exchange(ctx, server.port(), "localhost");
  Outcome second = Exchange(ctx, server.port(), "localhost");
  ASSERT_EQ(second.handshake.step, TlsStep::kDone) << second.reason;
  EXPECT_FALSE(second.resumed);
  EXPECT_EQ(ctx.cached_sessions(), 0u);
}

TEST_F(TlsTest, PlainTextServerIsATlsError) {
  // A plain HTTP server answering the ClientHello with text.
  int listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  Address a;
  Address::FromIp("127.0.0.1", 0, &a);
  ASSERT_EQ(::bind(listen_fd, a.sockaddr_ptr(), a.len), 0);
  ASSERT_EQ(::listen(listen_fd, 4), 0);
  a.len = sizeof a.storage;
  ::getsockname(listen_fd, reinterpret_cast<sockaddr*>(&a.storage), &a.len);

  NetError err;
  int fd = StartConnect(a, &err);
  ASSERT_GE(fd, 0);
  int server = ::accept(listen_fd, nullptr, nullptr);
  ASSERT_GE(server, 0);
  const char kReply[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
  ASSERT_EQ(::write(server, kReply, sizeof kReply - 1), static_cast<ssize_t>(sizeof kReply - 1));
  ASSERT_TRUE(WaitFor(fd, true));

  TlsContext ctx(Trusting());
  TlsSession session(ctx);
  ASSERT_EQ(session.Start(fd, "localhost", a.port()), NetError::kNone);
  HandshakeResult r;
  for (int i = 0; i < 100; ++i) {
    r = session.HandshakeStep();
    if (r.step != TlsStep::kWantRead && r.step != TlsStep::kWantWrite) break;
    ASSERT_TRUE(WaitFor(fd, r.step == TlsStep::kWantWrite));
  }
  EXPECT_EQ(r.step, TlsStep::kError);
  EXPECT_EQ(r.error, NetError::kTls);
  EXPECT_FALSE(session.error_reason().empty());
  session.Reset();
  ::close(server);
  ::close(fd);
  ::close(listen_fd);
}

TEST(TlsContextTest, MissingCaFileIsAConfigError) {
  TlsContext::Options opts;
  opts.ca_file = "/nonexistent/ca.pem";
  EXPECT_THROW(TlsContext ctx(opts), core::ConfigError);
}

}  // namespace
}  // namespace stampede::net
