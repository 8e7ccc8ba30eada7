// The io_uring backend against real sockets: epoll's level-triggered
// readiness contract, and the completion-based stream I/O (multishot receive
// through a small buffer ring, sends continued past short writes, detach
// closing the socket at once). Skipped where the kernel refuses io_uring.
#include "loop/io_uring_poller.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "loop/backend.h"

namespace stampede::loop {
namespace {

std::unique_ptr<IoUringPoller> MakeOrSkip(const IoUringOptions& options = {}) {
  try {
    return std::make_unique<IoUringPoller>(options);
  } catch (const std::system_error& e) {
    return nullptr;
  }
}

#define REQUIRE_URING(p)                                                      \
  if (!(p)) GTEST_SKIP() << "io_uring refused by this kernel or container"

// A connected TCP pair on loopback: [0] non-blocking (ours), [1] blocking (the peer).
struct TcpPair {
  int fd[2] = {-1, -1};
  TcpPair() {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    EXPECT_EQ(bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(listen(l, 1), 0);
    getsockname(l, reinterpret_cast<sockaddr*>(&a), &len);
    fd[0] = socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_EQ(connect(fd[0], reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    fd[1] = accept(l, nullptr, nullptr);
    close(l);
    fcntl(fd[0], F_SETFL, fcntl(fd[0], F_GETFL) | O_NONBLOCK);
  }
  ~TcpPair() {
    for (int f : fd) {
      if (f >= 0) close(f);
    }
  }
};

struct CountingHandler : IoHandler {
  int calls = 0;
  uint32_t last = 0;
  void OnIo(uint32_t events) override {
    ++calls;
    last = events;
  }
};

TEST(IoUringPoller, ReadinessIsLevelTriggeredLikeEpoll) {
  auto p = MakeOrSkip();
  REQUIRE_URING(p);
  TcpPair pair;
  CountingHandler h;
  ASSERT_TRUE(p->Add(pair.fd[0], kReadable, &h));
  EXPECT_EQ(p->Poll(0), 0);  // armed, nothing to read
  ASSERT_EQ(write(pair.fd[1], "abc", 3), 3);
  p->Poll(1'000'000'000);
  EXPECT_EQ(h.calls, 1);
  EXPECT_TRUE(h.last & kReadable);
  // Not read: reported again, as epoll's level-triggered mode does.
  p->Poll(1'000'000'000);
  EXPECT_EQ(h.calls, 2);
  char buf[8];
  ASSERT_EQ(read(pair.fd[0], buf, sizeof buf), 3);
  p->Poll(0);  // re-arms; nothing left to read
  p->Poll(0);
  EXPECT_EQ(h.calls, 2);
  // Interest changes to writable: reported at once (the socket has room).
  ASSERT_TRUE(p->Modify(pair.fd[0], kWritable, &h));
  p->Poll(1'000'000'000);
  EXPECT_EQ(h.calls, 3);
  EXPECT_TRUE(h.last & kWritable);
  p->Remove(pair.fd[0]);
  p->Poll(0);
  p->Poll(0);
  EXPECT_EQ(h.calls, 3);
  EXPECT_STREQ(p->name(), "io_uring");
}

// A handler that removes another fd whose readiness was collected in the
// same Poll: the removed handler is not called (epoll backend's contract).
struct RemovingHandler : IoHandler {
  Poller* poller = nullptr;
  int other = -1;
  int calls = 0;
  void OnIo(uint32_t) override {
    ++calls;
    if (other >= 0) poller->Remove(other);
    other = -1;
  }
};

TEST(IoUringPoller, RemovingInsideDispatchDropsEventsAlreadyCollected) {
  auto p = MakeOrSkip();
  REQUIRE_URING(p);
  TcpPair a, b;
  RemovingHandler ha, hb;
  ha.poller = p.get();
  hb.poller = p.get();
  ha.other = b.fd[0];
  hb.other = a.fd[0];
  ASSERT_TRUE(p->Add(a.fd[0], kReadable, &ha));
  ASSERT_TRUE(p->Add(b.fd[0], kReadable, &hb));
  p->Poll(0);
  ASSERT_EQ(write(a.fd[1], "x", 1), 1);
  ASSERT_EQ(write(b.fd[1], "y", 1), 1);
  // Both become ready; whichever runs first removes the other.
  for (int i = 0; i < 20 && ha.calls + hb.calls == 0; ++i) p->Poll(100'000'000);
  p->Poll(0);
  // The survivor is reported again (level-triggered: nothing was read); the
  // removed one never.
  EXPECT_TRUE((ha.calls > 0) != (hb.calls > 0)) << ha.calls << " " << hb.calls;
}

struct StreamRecorder : StreamHandler {
  StreamIo* io = nullptr;
  uint32_t token = 0;
  std::string received;
  int ended = 1;  // 1: not ended
  int sent = 0;
  int64_t sent_at = -1;
  size_t detach_after = 0;  // detach once this many bytes arrived (0: never)
  void OnReceived(const char* data, size_t len) override {
    received.append(data, len);
    if (detach_after != 0 && received.size() >= detach_after && token != 0) {
      io->Detach(token);
      token = 0;
    }
  }
  void OnReceiveEnd(int error) override { ended = error; }
  void OnSent(int result, int64_t submitted_ns) override {
    sent = result;
    sent_at = submitted_ns;
  }
};

TEST(IoUringPoller, StreamReceivesSendsAndSeesTheEnd) {
  auto p = MakeOrSkip();
  REQUIRE_URING(p);
  TcpPair pair;
  StreamRecorder r;
  r.io = p->stream_io();
  ASSERT_NE(r.io, nullptr);
  r.token = r.io->Attach(pair.fd[0], &r);
  ASSERT_NE(r.token, 0u);
  ASSERT_EQ(write(pair.fd[1], "hello", 5), 5);
  while (r.received.size() < 5) p->Poll(1'000'000'000);
  EXPECT_EQ(r.received, "hello");
  static const char kPing[] = "ping";
  r.io->Send(r.token, kPing, 4);
  while (r.sent == 0) p->Poll(1'000'000'000);
  EXPECT_EQ(r.sent, 4);
  char buf[8] = {};
  ASSERT_EQ(read(pair.fd[1], buf, sizeof buf), 4);
  EXPECT_EQ(std::string(buf, 4), "ping");
  shutdown(pair.fd[1], SHUT_WR);
  while (r.ended == 1) p->Poll(1'000'000'000);
  EXPECT_EQ(r.ended, 0);  // EOF
  r.io->Detach(r.token);
}

TEST(IoUringPoller, ALargeTransferThroughFourSmallBuffersKeepsEveryByteInOrder) {
  // 4 buffers of 1 KiB for 2 MiB: the kernel runs out of buffers again and
  // again (ENOBUFS ends the multishot receive; the backend re-arms it).
  auto p = MakeOrSkip(IoUringOptions{.entries = 64, .buffer_count = 4, .buffer_bytes = 1024});
  REQUIRE_URING(p);
  TcpPair pair;
  StreamRecorder r;
  r.io = p->stream_io();
  r.token = r.io->Attach(pair.fd[0], &r);
  ASSERT_NE(r.token, 0u);
  std::string data(2u << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + (i * 7 + i / 4093) % 26);
  std::thread writer([&] {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = write(pair.fd[1], data.data() + off, data.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    shutdown(pair.fd[1], SHUT_WR);
  });
  for (int i = 0; i < 100000 && r.ended == 1; ++i) p->Poll(1'000'000'000);
  writer.join();
  EXPECT_EQ(r.ended, 0);
  ASSERT_EQ(r.received.size(), data.size());
  EXPECT_TRUE(r.received == data);
  EXPECT_GT(p->buffer_shortages(), 0u);
}

TEST(IoUringPoller, ASendLargerThanTheSocketBufferIsSentWhole) {
  auto p = MakeOrSkip();
  REQUIRE_URING(p);
  TcpPair pair;
  int small = 4096;
  setsockopt(pair.fd[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  StreamRecorder r;
  r.io = p->stream_io();
  r.token = r.io->Attach(pair.fd[0], &r);
  std::string data(1u << 20, 'z');
  data[12345] = '!';
  std::string got;
  std::thread reader([&] {
    char buf[65536];
    while (got.size() < data.size()) {
      ssize_t n = read(pair.fd[1], buf, sizeof buf);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
  });
  r.io->Send(r.token, data.data(), data.size());
  for (int i = 0; i < 100000 && r.sent == 0; ++i) p->Poll(1'000'000'000);
  reader.join();
  EXPECT_EQ(r.sent, static_cast<int>(data.size()));
  EXPECT_TRUE(got == data);
  r.io->Detach(r.token);
}

TEST(IoUringPoller, DetachLetsCloseReachThePeerWithoutAnotherTurn) {
  auto p = MakeOrSkip();
  REQUIRE_URING(p);
  TcpPair pair;
  StreamRecorder r;
  r.io = p->stream_io();
  r.token = r.io->Attach(pair.fd[0], &r);
  p->Poll(0);  // the receive is now in the kernel, holding the socket
  r.io->Detach(r.token);
  close(pair.fd[0]);
  pair.fd[0] = -1;
  // No Poll from here: the peer must still see the connection end.
  char buf[4];
  EXPECT_EQ(read(pair.fd[1], buf, sizeof buf), 0);
}

TEST(IoUringPoller, NothingIsDeliveredAfterDetachEvenFromTheSameBatch) {
  auto p = MakeOrSkip(IoUringOptions{.entries = 64, .buffer_count = 8, .buffer_bytes = 16});
  REQUIRE_URING(p);
  TcpPair pair;
  StreamRecorder r;
  r.io = p->stream_io();
  r.token = r.io->Attach(pair.fd[0], &r);
  r.detach_after = 16;  // detach inside the first 16-byte completion
  p->Poll(0);
  std::string burst(100, 'q');
  ASSERT_EQ(write(pair.fd[1], burst.data(), burst.size()), 100);
  for (int i = 0; i < 20 && r.received.empty(); ++i) p->Poll(100'000'000);
  p->Poll(0);
  p->Poll(0);
  EXPECT_EQ(r.received.size(), 16u);
  EXPECT_EQ(r.ended, 1);
  // The slot is reused by the next stream with a new generation.
  TcpPair other;
  StreamRecorder r2;
  r2.io = r.io;
  r2.token = r.io->Attach(other.fd[0], &r2);
  EXPECT_EQ(r2.token, 1u);
  ASSERT_EQ(write(other.fd[1], "ok", 2), 2);
  while (r2.received.size() < 2) p->Poll(1'000'000'000);
  EXPECT_EQ(r2.received, "ok");
  EXPECT_EQ(r.received.size(), 16u);
}

TEST(Backend, NamesAndEpollNeverProbes) {
  Backend b;
  EXPECT_TRUE(ParseBackend("epoll", &b));
  EXPECT_EQ(b, Backend::kEpoll);
  EXPECT_TRUE(ParseBackend("io_uring", &b));
  EXPECT_EQ(b, Backend::kIoUring);
  EXPECT_TRUE(ParseBackend("auto", &b));
  EXPECT_EQ(b, Backend::kAuto);
  EXPECT_FALSE(ParseBackend("kqueue", &b));
  EXPECT_EQ(Resolve(Backend::kEpoll).backend, Backend::kEpoll);
  EXPECT_TRUE(Resolve(Backend::kEpoll).fallback_note.empty());
  ResolvedBackend r = Resolve(Backend::kIoUring);
  if (r.backend == Backend::kEpoll) {
    EXPECT_NE(r.fallback_note.find("using epoll"), std::string::npos) << r.fallback_note;
  } else {
    EXPECT_TRUE(r.fallback_note.empty());
  }
}

}  // namespace
}  // namespace stampede::loop
