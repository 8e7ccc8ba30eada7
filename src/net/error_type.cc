#include "net/error_type.h"

#include <cerrno>

namespace stampede::net {

std::string_view Name(NetError error) {
  switch (error) {
    case NetError::kNone:
      return "none";
    case NetError::kDns:
      return "dns";
    case NetError::kRefused:
      return "refused";
    case NetError::kReset:
      return "reset";
    case NetError::kTimeout:
      return "timeout";
    case NetError::kTls:
      return "tls";
    case NetError::kTlsVerify:
      return "tls_verify";
    case NetError::kUnreachable:
      return "unreachable";
    case NetError::kProtocol:
      return "protocol";
    case NetError::kClosed:
      return "closed";
    case NetError::kOther:
      return "other";
    case NetError::kStreamReset:
      return "stream_reset";
  }
  return "other";
}

NetError FailureFromErrno(int err) {
  NetError e = FromErrno(err);
  return e == NetError::kNone ? NetError::kOther : e;
}

NetError FromErrno(int err) {
  switch (err) {
    case 0:
      return NetError::kNone;
    case ECONNREFUSED:
      return NetError::kRefused;
    case ECONNRESET:
    case EPIPE:
    case ECONNABORTED:
      return NetError::kReset;
    case ETIMEDOUT:
      return NetError::kTimeout;
    case ENETUNREACH:
    case EHOSTUNREACH:
    case ENETDOWN:
    case EHOSTDOWN:
      return NetError::kUnreachable;
    default:
      return NetError::kOther;
  }
}

}  // namespace stampede::net
