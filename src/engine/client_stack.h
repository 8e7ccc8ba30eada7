// The networking stack a thread needs to send requests — DNS resolver, TLS
// context and HTTP client on one event loop — built from a RunConfig. Each
// worker (and the main thread's script probe) owns one.
// Thread: constructed anywhere, then used only by the thread running `loop`.
#pragma once

#include <memory>

#include "engine/run_config.h"
#include "http/client.h"
#include "loop/event_loop.h"
#include "net/resolver.h"
#include "net/tls.h"

namespace stampede::engine {

class ClientStack {
 public:
  // `loop` must outlive the stack. `with_tls`: false when no https origin can
  // occur (saves loading the CA store). Throws core::ConfigError for a bad
  // DNS server or CA file.
  ClientStack(loop::EventLoop& loop, const RunConfig& c, bool with_tls)
      : resolver_(loop, ResolverOptions(c)),
        tls_(with_tls ? std::make_unique<net::TlsContext>(TlsOptions(c)) : nullptr),
        client_(loop, resolver_, tls_.get(), ClientOptions(c)) {}

  http::Client& client() { return client_; }
  net::Resolver& resolver() { return resolver_; }
  // Null when built without TLS.
  net::TlsContext* tls() { return tls_.get(); }

 private:
  static net::Resolver::Options ResolverOptions(const RunConfig& c) {
    net::Resolver::Options o;
    o.servers = c.dns_servers;
    return o;
  }
  static net::TlsContext::Options TlsOptions(const RunConfig& c) {
    net::TlsContext::Options o;
    o.insecure_skip_verify = c.insecure_skip_tls_verify;
    o.ca_file = c.ca_file;
    return o;
  }
  static http::ClientOptions ClientOptions(const RunConfig& c) {
    http::ClientOptions o;
    o.connect_timeout_ns = c.connect_timeout_ns;
    o.request_timeout_ns = c.request_timeout_ns;
    // In --url mode an iteration is one request: no reuse across iterations
    // is no reuse at all.
    o.reuse_connections =
        !c.no_connection_reuse && !(c.no_vu_connection_reuse && c.script_path.empty());
    o.http2 = c.http2;
    o.max_streams_per_connection = c.streams_per_connection;
    return o;
  }

  net::Resolver resolver_;
  std::unique_ptr<net::TlsContext> tls_;
  http::Client client_;
};

}  // namespace stampede::engine
