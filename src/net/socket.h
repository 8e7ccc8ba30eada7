// Non-blocking TCP sockets: addresses, connect, and thin read/write helpers.
// Every function here is a thin wrapper over one or two system calls; none
// throws and none allocates (except Address::ToString, a cold-path helper).
// Thread: any thread, as long as one fd is used by one thread at a time.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "net/error_type.h"

namespace stampede::net {

// An IPv4 or IPv6 socket address (IP + port). A plain value: copyable, no
// resources. An empty Address has len == 0 and family() == AF_UNSPEC.
struct Address {
  sockaddr_storage storage{};
  socklen_t len = 0;

  // AF_INET, AF_INET6 or AF_UNSPEC.
  int family() const { return storage.ss_family; }
  bool empty() const { return len == 0; }
  const sockaddr* sockaddr_ptr() const { return reinterpret_cast<const sockaddr*>(&storage); }

  // Port in host byte order (0 for an empty address).
  uint16_t port() const;
  void set_port(uint16_t port);

  // Writes the IP in text form ("10.0.0.1", "::1"; no brackets, no port),
  // NUL-terminated, into `buf` and returns its length, or 0 if `cap` is too
  // small (kMaxIpText always suffices) or the address is empty. No allocation.
  static constexpr size_t kMaxIpText = 46;  // INET6_ADDRSTRLEN
  size_t FormatIp(char* buf, size_t cap) const;
  // Same as FormatIp, as a string (cold path).
  std::string ToString() const;

  // Parses an IP literal: "1.2.3.4", "::1" or "[::1]" (brackets allowed for
  // IPv6). Returns false for anything else (names, zone ids, ports). No
  // allocation.
  static bool FromIp(std::string_view ip, uint16_t port, Address* out);
  // Copies a sockaddr of family AF_INET/AF_INET6; false for other families.
  static bool FromSockaddr(const sockaddr* sa, socklen_t len, Address* out);

  friend bool operator==(const Address& a, const Address& b);
};

// Creates a non-blocking, close-on-exec TCP socket with TCP_NODELAY and starts
// connecting it to `addr`. Returns the fd (owned by the caller, who closes it)
// with *err = kNone; the connect is usually still in progress, so the caller
// waits for kWritable and then calls FinishConnect. Returns -1 with *err set
// (e.g. kRefused, kUnreachable, kOther) when the attempt fails at once; if
// `sys_errno` is non-null it receives the errno value for diagnostics.
int StartConnect(const Address& addr, NetError* err, int* sys_errno = nullptr);

// Completes a connect started by StartConnect once the fd is writable: reads
// SO_ERROR. kNone means connected.
NetError FinishConnect(int fd, int* sys_errno = nullptr);

// The outcome of one read or write attempt. A value: no error is thrown and
// nothing is allocated.
//  - bytes > 0: progress (for writes, possibly partial).
//  - would_block: nothing could be done now; retry when the fd becomes
//    readable (want_write == false) or writable (want_write == true). TLS may
//    ask a read to wait for writability and vice versa.
//  - eof: the peer closed its side cleanly (reads only).
//  - error != kNone: the connection is unusable; sys_errno holds errno when
//    the failure came from a system call (0 otherwise).
struct IoResult {
  size_t bytes = 0;
  bool would_block = false;
  bool want_write = false;
  bool eof = false;
  NetError error = NetError::kNone;
  int sys_errno = 0;

  bool ok() const { return error == NetError::kNone; }

  static IoResult Bytes(size_t n) { return IoResult{.bytes = n}; }
  static IoResult WouldBlock(bool want_write) {
    return IoResult{.would_block = true, .want_write = want_write};
  }
  static IoResult Eof() { return IoResult{.eof = true}; }
  static IoResult Error(NetError e, int sys_errno = 0) {
    return IoResult{.error = e, .sys_errno = sys_errno};
  }
};

// recv(2) into `buf`. A zero-length read returns Bytes(0). EINTR is retried.
IoResult Read(int fd, char* buf, size_t len);
// send(2) with MSG_NOSIGNAL (a closed peer yields kReset, never SIGPIPE).
IoResult Write(int fd, const char* buf, size_t len);
// sendmsg(2) gather write with MSG_NOSIGNAL; `iovcnt` ≤ IOV_MAX.
IoResult Writev(int fd, const iovec* iov, int iovcnt);

}  // namespace stampede::net
