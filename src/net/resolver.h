// Asynchronous DNS resolution on a worker's event loop, with a TTL cache.
//
// c-ares does the wire work; its sockets are registered with the loop's Poller
// (through c-ares' socket-state callback) and its retransmission timeouts run
// on a loop Timer, so resolution never blocks the worker and never needs a
// thread. Names are looked up in the hosts file first (`localhost`, /etc/hosts)
// and then in DNS; IP literals never reach either.
//
// The hot path is Lookup(): a cached, unexpired answer is copied out with no
// allocation and no system call (time comes from the loop's cached Now()).
// On a miss the caller calls Resolve() with a ResolveWaiter and is called back
// on the loop thread; concurrent Resolve() calls for one name share a query.
//
// Caching: positive answers live for the smallest record TTL, clamped to
// [Options::min_ttl, Options::max_ttl]; failures are cached for
// Options::negative_ttl so a dead name cannot cause a query storm. Both A and
// AAAA are asked; the caller picks the family order per call. Among addresses
// of one family, successive Lookup() calls rotate the first address
// (round-robin across addresses for new connections).
//
// Time: expiry uses the loop's clock (so a FakeClock drives expiry in tests);
// c-ares' own retransmission timeouts are converted to loop-clock deadlines and
// therefore only fire with a clock that advances in real time.
//
// Thread: a Resolver belongs to one loop; every method runs on its thread.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "loop/event_loop.h"
#include "net/error_type.h"
#include "net/socket.h"

struct ares_channeldata;
struct ares_addrinfo;

namespace stampede::net {

// Which address families a caller accepts, and in which order.
enum class Family : uint8_t {
  kIpv4First,  // IPv4 addresses, then IPv6 (the default of most load tools)
  kIpv6First,  // IPv6 addresses, then IPv4
  kIpv4Only,
  kIpv6Only,
};

// Addresses for one name, ordered by the requested Family. Ports are 0: the
// caller sets its own with Address::set_port. A fixed-size value: copying it
// out of the cache allocates nothing.
struct ResolvedAddresses {
  static constexpr size_t kMax = 8;
  std::array<Address, kMax> addresses{};
  size_t count = 0;
  // Loop-clock instant (ns) after which the answer is stale; INT64_MAX for IP
  // literals.
  int64_t expires_ns = 0;
};

// What a ResolveWaiter receives. Views and pointers are valid only during the
// callback.
struct ResolveResult {
  NetError error = NetError::kNone;  // kNone or kDns
  // Why resolution failed, e.g. "Domain name not found" or "Timeout while
  // contacting DNS servers"; empty on success.
  std::string_view error_text;
  // Non-null exactly when error == kNone; count >= 1.
  const ResolvedAddresses* addresses = nullptr;
  // Loop-clock instants (ns): when Resolve() was called and when the answer
  // became available. end_ns - start_ns is the DNS phase of the request.
  int64_t start_ns = 0;
  int64_t end_ns = 0;
  // True when no query was needed (cache, IP literal or cached failure).
  bool from_cache = false;
};

class ResolveWaiterList;

// An intrusive completion callback, owned by the caller (typically embedded in
// a connection or VU). It may wait for one name at a time. It must not be
// destroyed while pending(): Cancel it first.
class ResolveWaiter {
 public:
  virtual ~ResolveWaiter() = default;
  // Called once on the loop thread, never from inside Resolve(). The waiter is
  // no longer pending when this runs, so it may Resolve() again.
  virtual void OnResolved(const ResolveResult& result) = 0;
  bool pending() const { return list_ != nullptr; }

 private:
  friend class Resolver;
  friend class ResolveWaiterList;
  ResolveWaiter* prev_ = nullptr;
  ResolveWaiter* next_ = nullptr;
  ResolveWaiterList* list_ = nullptr;
  void* ready_entry_ = nullptr;  // cache entry to deliver (deferred list)
  int64_t start_ns_ = 0;
  Family family_ = Family::kIpv4First;
};

// Internal: an intrusive doubly-linked FIFO of waiters.
class ResolveWaiterList {
 public:
  bool empty() const { return head_ == nullptr; }
  void PushBack(ResolveWaiter* w);
  void Remove(ResolveWaiter* w);
  ResolveWaiter* PopFront();
  // Unlinks everything without calling anyone.
  void Clear();

 private:
  ResolveWaiter* head_ = nullptr;
  ResolveWaiter* tail_ = nullptr;
};

class Resolver {
 public:
  struct Options {
    // Name servers as "ip", "ip:port" or "[ipv6]:port" (e.g. "127.0.0.1:5353"
    // in tests). Empty: the system's (/etc/resolv.conf).
    std::vector<std::string> servers;
    // Time to wait for an answer on the first try (c-ares doubles it on each
    // retry), and the number of tries per server.
    std::chrono::milliseconds timeout{2000};
    int tries = 2;
    // Look names up in the hosts file before DNS (`localhost`, /etc/hosts).
    bool use_hosts_file = true;
    // Apply resolv.conf's search domains to short names.
    bool use_search_domains = true;
    std::chrono::seconds min_ttl{1};
    std::chrono::seconds max_ttl{300};
    std::chrono::seconds negative_ttl{1};
  };

  // `loop` must outlive the resolver. Throws core::ConfigError when c-ares
  // cannot be initialised or a server address is malformed.
  Resolver(loop::EventLoop& loop, const Options& options);
  // Closes c-ares' sockets. Pending waiters are dropped without a callback
  // (and are no longer pending()).
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Hot path. Fills `out` and returns true for an IP literal ("10.0.0.1",
  // "::1", "[::1]") of an accepted family, or for a cached, unexpired answer
  // with an address of an accepted family. Returns false otherwise (including
  // a cached failure): the caller then calls Resolve(). No allocation, no
  // system call.
  bool Lookup(std::string_view host, Family family, ResolvedAddresses* out);

  // Resolves `host` and calls `waiter` on the loop thread (a waiter still
  // pending elsewhere is cancelled first): with addresses, or with kDns and a
  // reason. Joins a query already in
  // flight for `host`; answers from the cache (including cached failures and
  // IP literals) are delivered on the same loop turn, but never synchronously.
  void Resolve(std::string_view host, Family family, ResolveWaiter* waiter);

  // Withdraws a pending waiter; it will not be called. A no-op if not pending.
  // The shared query, if any, still completes and fills the cache.
  void Cancel(ResolveWaiter* waiter);

  // DNS/hosts-file queries started since construction (IP literals and cache
  // hits do not count).
  uint64_t queries_started() const { return queries_started_; }
  size_t in_flight() const { return queries_.size(); }

 private:
  struct CacheEntry;
  struct Query;
  class AresSocket;
  class AresTimer;
  class DeliverTimer;
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  template <typename V>
  using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

  static void OnSockState(void* data, int fd, int readable, int writable);
  static void OnAresResult(void* arg, int status, int timeouts, ares_addrinfo* result);
  void Complete(Query* query, int status, ares_addrinfo* result);
  void StartQuery(Query* query);
  void DeferDelivery(ResolveWaiter* waiter, CacheEntry& entry);
  void RunDeferred();
  void Deliver(ResolveWaiter* waiter, CacheEntry& entry, bool from_cache, int64_t now_ns);
  // Copies the addresses `family` accepts and advances the round-robin cursors.
  bool Fill(CacheEntry& entry, Family family, ResolvedAddresses* out);
  void UpdateTimeout();
  void ProcessTimeouts();

  loop::EventLoop& loop_;
  Options options_;
  ares_channeldata* channel_ = nullptr;
  StringMap<CacheEntry> cache_;                // never erased: entries are reused
  StringMap<std::unique_ptr<Query>> queries_;  // in flight, by host
  std::unordered_map<int, std::unique_ptr<AresSocket>> sockets_;
  std::unique_ptr<AresTimer> ares_timer_;
  std::unique_ptr<DeliverTimer> deliver_timer_;
  ResolveWaiterList ready_;  // answered from the cache, awaiting delivery
  uint64_t queries_started_ = 0;
  int sync_depth_ = 0;  // > 0 while inside ares_getaddrinfo
  bool destroying_ = false;
};

}  // namespace stampede::net
