// TCP connect and I/O against loopback listeners created by the test.
#include "net/socket.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace stampede::net {
namespace {

// Listens on `ip` port 0; fd < 0 if the address family is unavailable.
struct Listener {
  explicit Listener(const char* ip) {
    Address a;
    if (!Address::FromIp(ip, 0, &a)) return;
    fd = ::socket(a.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    if (::bind(fd, a.sockaddr_ptr(), a.len) != 0 || ::listen(fd, 16) != 0) {
      ::close(fd);
      fd = -1;
      return;
    }
    addr.len = sizeof addr.storage;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr.storage), &addr.len);
  }
  ~Listener() {
    if (fd >= 0) ::close(fd);
  }
  int fd = -1;
  Address addr;
};

bool WaitFor(int fd, short events, int timeout_ms = 5000) {
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, timeout_ms) == 1;
}

// Connects and waits (bounded) for the outcome.
NetError ConnectAndWait(const Address& addr, int* fd_out) {
  NetError err = NetError::kOther;
  int fd = StartConnect(addr, &err);
  *fd_out = fd;
  if (fd < 0) return err;
  if (!WaitFor(fd, POLLOUT)) return NetError::kTimeout;
  return FinishConnect(fd);
}

TEST(SocketTest, ConnectsToLoopbackListener) {
  Listener l("127.0.0.1");
  ASSERT_GE(l.fd, 0);
  ASSERT_NE(l.addr.port(), 0);
  int fd = -1;
  EXPECT_EQ(ConnectAndWait(l.addr, &fd), NetError::kNone);
  ASSERT_GE(fd, 0);
  int server = ::accept(l.fd, nullptr, nullptr);
  ASSERT_GE(server, 0);

  // Request one way, response the other, then EOF.
  IoResult w = Write(fd, "ping", 4);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w.bytes, 4u);
  char buf[16];
  ASSERT_EQ(::read(server, buf, sizeof buf), 4);
  IoResult r = Read(fd, buf, sizeof buf);
  EXPECT_TRUE(r.would_block);
  EXPECT_FALSE(r.want_write);
  ASSERT_EQ(::write(server, "pong!", 5), 5);
  ASSERT_TRUE(WaitFor(fd, POLLIN));
  r = Read(fd, buf, sizeof buf);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::string(buf, r.bytes), "pong!");

  iovec iov[2] = {{const_cast<char*>("ab"), 2}, {const_cast<char*>("cde"), 3}};
  w = Writev(fd, iov, 2);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w.bytes, 5u);
  ASSERT_EQ(::read(server, buf, sizeof buf), 5);
  EXPECT_EQ(std::string(buf, 5), "abcde");

  ::close(server);
  ASSERT_TRUE(WaitFor(fd, POLLIN));
  r = Read(fd, buf, sizeof buf);
  EXPECT_TRUE(r.eof);
  EXPECT_TRUE(r.ok());
  ::close(fd);
}

TEST(SocketTest, ClosedPortIsRefused) {
  Address closed;
  {
    Listener l("127.0.0.1");
    ASSERT_GE(l.fd, 0);
    closed = l.addr;
  }  // the port is free again: nobody listens
  int fd = -1;
  EXPECT_EQ(ConnectAndWait(closed, &fd), NetError::kRefused);
  if (fd >= 0) ::close(fd);
}

TEST(SocketTest, WriteToResetPeerIsResetNotSigpipe) {
  Listener l("127.0.0.1");
  ASSERT_GE(l.fd, 0);
  int fd = -1;
  ASSERT_EQ(ConnectAndWait(l.addr, &fd), NetError::kNone);
  int server = ::accept(l.fd, nullptr, nullptr);
  ASSERT_GE(server, 0);
  // SO_LINGER 0: close sends RST.
  linger lg{1, 0};
  ASSERT_EQ(::setsockopt(server, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
  ::close(server);
  ASSERT_TRUE(WaitFor(fd, POLLIN));
  char buf[8];
  IoResult r = Read(fd, buf, sizeof buf);
  EXPECT_EQ(r.error, NetError::kReset);
  EXPECT_EQ(r.sys_errno, ECONNRESET);
  // The socket is now dead; writing must fail with a value, not a signal.
  IoResult w = Write(fd, "x", 1);
  EXPECT_FALSE(w.ok());
  ::close(fd);
}

TEST(SocketTest, ConnectsOverIpv6Loopback) {
  Listener l("::1");
  if (l.fd < 0) GTEST_SKIP() << "::1 is not available here";
  EXPECT_EQ(l.addr.family(), AF_INET6);
  int fd = -1;
  EXPECT_EQ(ConnectAndWait(l.addr, &fd), NetError::kNone);
  int server = ::accept(l.fd, nullptr, nullptr);
  EXPECT_GE(server, 0);
  if (server >= 0) ::close(server);
  if (fd >= 0) ::close(fd);
}

TEST(SocketTest, UnsupportedFamilyFailsAtOnce) {
  NetError err = NetError::kNone;
  int sys = 0;
  EXPECT_EQ(StartConnect(Address{}, &err, &sys), -1);
  EXPECT_EQ(err, NetError::kOther);
  EXPECT_EQ(sys, EAFNOSUPPORT);
}

}  // namespace
}  // namespace stampede::net
