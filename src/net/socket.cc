#include "net/socket.h"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace stampede::net {

uint16_t Address::port() const {
  switch (family()) {
    case AF_INET:
      return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
    case AF_INET6:
      return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
    default:
      return 0;
  }
}

void Address::set_port(uint16_t port) {
  switch (family()) {
    case AF_INET:
      reinterpret_cast<sockaddr_in*>(&storage)->sin_port = htons(port);
      break;
    case AF_INET6:
      reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port = htons(port);
      break;
    default:
      break;
  }
}

size_t Address::FormatIp(char* buf, size_t cap) const {
  const void* src = nullptr;
  switch (family()) {
    case AF_INET:
      src = &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr;
      break;
    case AF_INET6:
      src = &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr;
      break;
    default:
      return 0;
  }
  if (inet_ntop(family(), src, buf, static_cast<socklen_t>(cap)) == nullptr) return 0;
  return std::strlen(buf);
}

std::string Address::ToString() const {
  char buf[kMaxIpText];
  size_t n = FormatIp(buf, sizeof buf);
  return std::string(buf, n);
}

bool Address::FromIp(std::string_view ip, uint16_t port, Address* out) {
  bool bracketed = ip.size() >= 2 && ip.front() == '[' && ip.back() == ']';
  if (bracketed) ip = ip.substr(1, ip.size() - 2);
  char text[kMaxIpText];
  if (ip.empty() || ip.size() >= sizeof text) return false;
  std::memcpy(text, ip.data(), ip.size());
  text[ip.size()] = '\0';

  Address a;
  if (!bracketed) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&a.storage);
    if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
      sin->sin_family = AF_INET;
      sin->sin_port = htons(port);
      a.len = sizeof(sockaddr_in);
      *out = a;
      return true;
    }
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
  if (inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1) {
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    a.len = sizeof(sockaddr_in6);
    *out = a;
    return true;
  }
  return false;
}

bool Address::FromSockaddr(const sockaddr* sa, socklen_t len, Address* out) {
  if (sa == nullptr) return false;
  socklen_t want = 0;
  if (sa->sa_family == AF_INET) {
    want = sizeof(sockaddr_in);
  } else if (sa->sa_family == AF_INET6) {
    want = sizeof(sockaddr_in6);
  } else {
    return false;
  }
  if (len < want) return false;
  *out = Address{};
  std::memcpy(&out->storage, sa, want);
  out->len = want;
  return true;
}

bool operator==(const Address& a, const Address& b) {
  return a.len == b.len && std::memcmp(&a.storage, &b.storage, a.len) == 0;
}

int StartConnect(const Address& addr, NetError* err, int* sys_errno) {
  auto fail = [&](int e) {
    *err = FailureFromErrno(e);
    if (sys_errno != nullptr) *sys_errno = e;
    return -1;
  };
  if (addr.family() != AF_INET && addr.family() != AF_INET6) return fail(EAFNOSUPPORT);
  int fd = ::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) return fail(errno);
  int one = 1;
  // Requests are written in one go; Nagle would only delay the last segment.
  if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
    int e = errno;
    ::close(fd);
    return fail(e);
  }
  int rc;
  do {
    rc = ::connect(fd, addr.sockaddr_ptr(), addr.len);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0 && errno != EINPROGRESS) {
    int e = errno;
    ::close(fd);
    return fail(e);
  }
  *err = NetError::kNone;
  if (sys_errno != nullptr) *sys_errno = 0;
  return fd;
}

NetError FinishConnect(int fd, int* sys_errno) {
  int so_error = 0;
  socklen_t len = sizeof so_error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0) so_error = errno;
  if (sys_errno != nullptr) *sys_errno = so_error;
  NetError e = FromErrno(so_error);
  return e;
}

namespace {

IoResult FromFailedCall(int e, bool write) {
  if (e == EAGAIN || e == EWOULDBLOCK) return IoResult::WouldBlock(write);
  return IoResult::Error(FailureFromErrno(e), e);
}

}  // namespace

IoResult Read(int fd, char* buf, size_t len) {
  if (len == 0) return IoResult::Bytes(0);
  while (true) {
    ssize_t n = ::recv(fd, buf, len, 0);
    if (n > 0) return IoResult::Bytes(static_cast<size_t>(n));
    if (n == 0) return IoResult::Eof();
    if (errno != EINTR) return FromFailedCall(errno, /*write=*/false);
  }
}

IoResult Write(int fd, const char* buf, size_t len) {
  if (len == 0) return IoResult::Bytes(0);
  while (true) {
    ssize_t n = ::send(fd, buf, len, MSG_NOSIGNAL);
    if (n >= 0) return IoResult::Bytes(static_cast<size_t>(n));
    if (errno != EINTR) return FromFailedCall(errno, /*write=*/true);
  }
}

IoResult Writev(int fd, const iovec* iov, int iovcnt) {
  msghdr msg{};
  msg.msg_iov = const_cast<iovec*>(iov);
  msg.msg_iovlen = static_cast<size_t>(iovcnt);
  while (true) {
    ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n >= 0) return IoResult::Bytes(static_cast<size_t>(n));
    if (errno != EINTR) return FromFailedCall(errno, /*write=*/true);
  }
}

}  // namespace stampede::net
