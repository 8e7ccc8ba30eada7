// Network failure classes. One small enum shared by DNS, TCP, TLS and the
// HTTP layer above, so that every failed request is counted under one stable,
// low-cardinality name (the `error` attribute of metrics and spans).
// Pure functions: safe from any thread, no allocation.
#pragma once

#include <cstdint>
#include <string_view>

namespace stampede::net {

enum class NetError : uint8_t {
  kNone,         // no error
  kDns,          // name resolution failed (NXDOMAIN, no answer, DNS timeout)
  kRefused,      // TCP connect refused (RST to SYN)
  kReset,        // connection reset or broken pipe after it was established
  kTimeout,      // an operation ran past its deadline
  kTls,          // TLS handshake or record-layer failure
  kTlsVerify,    // the peer certificate did not verify (chain or host name)
  kUnreachable,  // no route to the network or host
  kProtocol,     // the peer violated the protocol (e.g. malformed HTTP)
  kClosed,       // the peer closed the connection before the exchange finished
  kOther,        // anything else (resource exhaustion, unexpected errno)
  kStreamReset,  // an HTTP/2 server reset the request's stream (RST_STREAM)
};

// Stable lower-case names: "none", "dns", "refused", "reset", "timeout", "tls",
// "tls_verify", "unreachable", "protocol", "closed", "other", "stream_reset".
// The view points to
// static storage.
std::string_view Name(NetError error);

// Maps an errno value from socket calls: 0 → kNone; ECONNREFUSED → kRefused;
// ECONNRESET, EPIPE, ECONNABORTED → kReset; ETIMEDOUT → kTimeout; ENETUNREACH,
// EHOSTUNREACH, ENETDOWN, EHOSTDOWN → kUnreachable; anything else → kOther.
NetError FromErrno(int err);

// The class of a call that failed with `err`: FromErrno, but never kNone (a
// failure with an errno that names no class, or none, is kOther).
NetError FailureFromErrno(int err);

}  // namespace stampede::net
