#include "net/resolver.h"

#include <ares.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <climits>

#include "core/error.h"
#include "core/log.h"

namespace stampede::net {

// ---- ResolveWaiterList ----

void ResolveWaiterList::PushBack(ResolveWaiter* w) {
  w->list_ = this;
  w->next_ = nullptr;
  w->prev_ = tail_;
  if (tail_ != nullptr) {
    tail_->next_ = w;
  } else {
    head_ = w;
  }
  tail_ = w;
}

void ResolveWaiterList::Remove(ResolveWaiter* w) {
  if (w->prev_ != nullptr) {
    w->prev_->next_ = w->next_;
  } else {
    head_ = w->next_;
  }
  if (w->next_ != nullptr) {
    w->next_->prev_ = w->prev_;
  } else {
    tail_ = w->prev_;
  }
  w->prev_ = w->next_ = nullptr;
  w->list_ = nullptr;
}

ResolveWaiter* ResolveWaiterList::PopFront() {
  ResolveWaiter* w = head_;
  if (w != nullptr) Remove(w);
  return w;
}

void ResolveWaiterList::Clear() {
  while (PopFront() != nullptr) {
  }
}

// ---- private types ----

struct Resolver::CacheEntry {
  std::vector<Address> v4;
  std::vector<Address> v6;
  int64_t expires_ns = 0;
  NetError error = NetError::kNone;
  std::string error_text;
  uint32_t next_v4 = 0;  // round-robin cursors
  uint32_t next_v6 = 0;
};

struct Resolver::Query {
  Resolver* resolver = nullptr;
  std::string host;
  ResolveWaiterList waiters;
};

// One c-ares socket registered with the poller.
class Resolver::AresSocket final : public loop::IoHandler {
 public:
  AresSocket(Resolver* resolver, int fd) : resolver_(resolver), fd_(fd) {}
  void OnIo(uint32_t events) override {
    // ares_process_fd may close this socket and so destroy `this`: copy first.
    Resolver* resolver = resolver_;
    int fd = fd_;
    ares_socket_t read_fd = (events & (loop::kReadable | loop::kHangup)) ? fd : ARES_SOCKET_BAD;
    ares_socket_t write_fd = (events & loop::kWritable) ? fd : ARES_SOCKET_BAD;
    ares_process_fd(resolver->channel_, read_fd, write_fd);
    resolver->UpdateTimeout();
  }
  uint32_t interest = 0;

 private:
  Resolver* resolver_;
  int fd_;
};

class Resolver::AresTimer final : public loop::Timer {
 public:
  explicit AresTimer(Resolver* resolver) : resolver_(resolver) {}
  void OnTimer() override { resolver_->ProcessTimeouts(); }

 private:
  Resolver* resolver_;
};

class Resolver::DeliverTimer final : public loop::Timer {
 public:
  explicit DeliverTimer(Resolver* resolver) : resolver_(resolver) {}
  void OnTimer() override { resolver_->RunDeferred(); }

 private:
  Resolver* resolver_;
};

namespace {

constexpr size_t kMaxHostLength = 253;

int64_t ToNs(std::chrono::nanoseconds d) { return d.count(); }

// Cheap pre-check so that ordinary names skip inet_pton.
bool MaybeIpLiteral(std::string_view host) {
  if (host.empty()) return false;
  char c = host.front();
  return (c >= '0' && c <= '9') || c == ':' || c == '[';
}

bool Accepts(Family family, int af) {
  switch (family) {
    case Family::kIpv4Only:
      return af == AF_INET;
    case Family::kIpv6Only:
      return af == AF_INET6;
    default:
      return true;
  }
}

std::string_view FamilyMismatchText(Family family) {
  return family == Family::kIpv6Only ? "no IPv6 address for host" : "no IPv4 address for host";
}

}  // namespace

// ---- construction ----

Resolver::Resolver(loop::EventLoop& loop, const Options& options)
    : loop_(loop),
      options_(options),
      ares_timer_(std::make_unique<AresTimer>(this)),
      deliver_timer_(std::make_unique<DeliverTimer>(this)) {
  ares_options opts{};
  int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_LOOKUPS;
  opts.sock_state_cb = &Resolver::OnSockState;
  opts.sock_state_cb_data = this;
  opts.timeout = static_cast<int>(std::max<int64_t>(1, options.timeout.count()));
  opts.tries = std::max(1, options.tries);
  char lookups_fb[] = "fb";
  char lookups_b[] = "b";
  opts.lookups = options.use_hosts_file ? lookups_fb : lookups_b;
  if (!options.use_search_domains) {
    mask |= ARES_OPT_DOMAINS;
    opts.domains = nullptr;
    opts.ndomains = 0;
  }
  int status = ares_init_options(&channel_, &opts, mask);
  if (status != ARES_SUCCESS) {
    channel_ = nullptr;
    throw core::ConfigError(std::string("cannot initialise the DNS resolver: ") +
                            ares_strerror(status));
  }
  if (!options.servers.empty()) {
    std::string csv;
    for (const std::string& s : options.servers) {
      if (!csv.empty()) csv += ',';
      csv += s;
    }
    status = ares_set_servers_ports_csv(channel_, csv.c_str());
    if (status != ARES_SUCCESS) {
      ares_destroy(channel_);
      channel_ = nullptr;
      throw core::ConfigError("invalid DNS server list \"" + csv +
                              "\": expected ip[:port] or [ipv6]:port entries (" +
                              ares_strerror(status) + ")");
    }
  }
}

Resolver::~Resolver() {
  destroying_ = true;
  loop_.Cancel(*ares_timer_);
  loop_.Cancel(*deliver_timer_);
  ready_.Clear();
  for (auto& [host, query] : queries_) query->waiters.Clear();
  // Runs the callbacks with ARES_EDESTRUCTION (ignored: destroying_) and
  // reports every socket closed through OnSockState.
  if (channel_ != nullptr) ares_destroy(channel_);
  for (auto& [fd, socket] : sockets_) loop_.poller().Remove(fd);
}

// ---- c-ares integration ----

void Resolver::OnSockState(void* data, int fd, int readable, int writable) {
  auto* self = static_cast<Resolver*>(data);
  uint32_t interest = (readable ? loop::kReadable : 0u) | (writable ? loop::kWritable : 0u);
  auto it = self->sockets_.find(fd);
  loop::Poller& poller = self->loop_.poller();
  if (interest == 0) {
    if (it != self->sockets_.end()) {
      poller.Remove(fd);
      self->sockets_.erase(it);
    }
    return;
  }
  if (it == self->sockets_.end()) {
    auto socket = std::make_unique<AresSocket>(self, fd);
    socket->interest = interest;
    if (!poller.Add(fd, interest, socket.get())) {
      // The query on this socket will time out and report kDns.
      core::Warn("dns: cannot watch socket {}: errno {}", fd, errno);
      return;
    }
    self->sockets_.emplace(fd, std::move(socket));
  } else if (it->second->interest != interest) {
    it->second->interest = interest;
    poller.Modify(fd, interest, it->second.get());
  }
}

void Resolver::UpdateTimeout() {
  if (destroying_) return;
  timeval tv{};
  timeval* next = ares_timeout(channel_, nullptr, &tv);
  if (next == nullptr) {
    loop_.Cancel(*ares_timer_);
    return;
  }
  int64_t delay_ns = static_cast<int64_t>(next->tv_sec) * 1'000'000'000 +
                     static_cast<int64_t>(next->tv_usec) * 1'000;
  // ares_timeout truncates to milliseconds while its expiry check does not:
  // waking less than 1 ms early would find nothing due and spin.
  delay_ns = std::max<int64_t>(delay_ns, 1'000'000);
  loop_.Schedule(*ares_timer_, loop_.UpdateNow() + delay_ns);
}

void Resolver::ProcessTimeouts() {
  ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  UpdateTimeout();
}

void Resolver::StartQuery(Query* query) {
  ++queries_started_;
  ares_addrinfo_hints hints{};
  // We order the addresses ourselves; c-ares' RFC 6724 sort would cost a
  // socket and a connect() per address.
  hints.ai_flags = ARES_AI_NOSORT;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  ++sync_depth_;
  // May complete (and destroy `query`) before returning, e.g. for a hosts-file
  // hit.
  ares_getaddrinfo(channel_, query->host.c_str(), nullptr, &hints, &Resolver::OnAresResult, query);
  --sync_depth_;
  UpdateTimeout();
}

void Resolver::OnAresResult(void* arg, int status, int /*timeouts*/, ares_addrinfo* result) {
  auto* query = static_cast<Query*>(arg);
  Resolver* self = query->resolver;
  if (self->destroying_) {
    if (result != nullptr) ares_freeaddrinfo(result);
    return;
  }
  self->Complete(query, status, result);
}

void Resolver::Complete(Query* query_ptr, int status, ares_addrinfo* result) {
  auto node = queries_.extract(query_ptr->host);
  if (node.empty()) {
    if (result != nullptr) ares_freeaddrinfo(result);
    return;
  }
  std::unique_ptr<Query> query = std::move(node.mapped());
  const int64_t now = loop_.UpdateNow();

  CacheEntry& entry = cache_[query->host];
  entry.v4.clear();
  entry.v6.clear();
  entry.error = NetError::kNone;
  entry.error_text.clear();
  int min_ttl = INT_MAX;
  if (status == ARES_SUCCESS && result != nullptr) {
    for (const ares_addrinfo_node* n = result->nodes; n != nullptr; n = n->ai_next) {
      Address a;
      if (!Address::FromSockaddr(n->ai_addr, n->ai_addrlen, &a)) continue;
      a.set_port(0);
      std::vector<Address>& list = a.family() == AF_INET ? entry.v4 : entry.v6;
      if (std::find(list.begin(), list.end(), a) == list.end()) list.push_back(a);
      min_ttl = std::min(min_ttl, n->ai_ttl);
    }
  }
  if (result != nullptr) ares_freeaddrinfo(result);

  if (entry.v4.empty() && entry.v6.empty()) {
    entry.error = NetError::kDns;
    entry.error_text = status == ARES_SUCCESS ? "no address for host" : ares_strerror(status);
    entry.expires_ns = now + ToNs(options_.negative_ttl);
  } else {
    int64_t ttl_ns = static_cast<int64_t>(std::max(min_ttl, 0)) * 1'000'000'000;
    ttl_ns = std::clamp(ttl_ns, ToNs(options_.min_ttl), ToNs(options_.max_ttl));
    entry.expires_ns = now + ttl_ns;
  }

  if (sync_depth_ > 0) {
    // Completed inside ares_getaddrinfo, i.e. inside Resolve(): defer.
    while (ResolveWaiter* w = query->waiters.PopFront()) DeferDelivery(w, entry);
    return;
  }
  // A callback may Cancel() waiters still queued here: they unlink from
  // query->waiters, which stays alive until the loop ends.
  while (ResolveWaiter* w = query->waiters.PopFront()) {
    Deliver(w, entry, /*from_cache=*/false, now);
  }
}

// ---- cache ----

bool Resolver::Fill(CacheEntry& entry, Family family, ResolvedAddresses* out) {
  out->count = 0;
  out->expires_ns = entry.expires_ns;
  auto append = [out](const std::vector<Address>& list, uint32_t& cursor) {
    if (list.empty()) return;
    size_t start = cursor % list.size();
    ++cursor;
    for (size_t i = 0; i < list.size() && out->count < ResolvedAddresses::kMax; ++i) {
      out->addresses[out->count++] = list[(start + i) % list.size()];
    }
  };
  switch (family) {
    case Family::kIpv4First:
      append(entry.v4, entry.next_v4);
      append(entry.v6, entry.next_v6);
      break;
    case Family::kIpv6First:
      append(entry.v6, entry.next_v6);
      append(entry.v4, entry.next_v4);
      break;
    case Family::kIpv4Only:
      append(entry.v4, entry.next_v4);
      break;
    case Family::kIpv6Only:
      append(entry.v6, entry.next_v6);
      break;
  }
  return out->count > 0;
}

bool Resolver::Lookup(std::string_view host, Family family, ResolvedAddresses* out) {
  if (MaybeIpLiteral(host)) {
    Address a;
    if (Address::FromIp(host, 0, &a)) {
      if (!Accepts(family, a.family())) return false;
      out->addresses[0] = a;
      out->count = 1;
      out->expires_ns = INT64_MAX;
      return true;
    }
  }
  auto it = cache_.find(host);
  if (it == cache_.end()) return false;
  CacheEntry& entry = it->second;
  if (entry.error != NetError::kNone || entry.expires_ns <= loop_.Now()) return false;
  return Fill(entry, family, out);
}

void Resolver::Resolve(std::string_view host, Family family, ResolveWaiter* waiter) {
  if (waiter->pending()) Cancel(waiter);
  waiter->family_ = family;
  waiter->start_ns_ = loop_.Now();

  auto it = cache_.find(host);
  if (it == cache_.end()) {
    Address literal;
    if (MaybeIpLiteral(host) && Address::FromIp(host, 0, &literal)) {
      CacheEntry entry;
      (literal.family() == AF_INET ? entry.v4 : entry.v6).push_back(literal);
      entry.expires_ns = INT64_MAX;
      it = cache_.emplace(std::string(host), std::move(entry)).first;
    } else if (host.empty() || host.size() > kMaxHostLength ||
               host.find('\0') != std::string_view::npos) {
      CacheEntry entry;
      entry.error = NetError::kDns;
      entry.error_text = "invalid host name";
      entry.expires_ns = INT64_MAX;
      it = cache_.emplace(std::string(host), std::move(entry)).first;
    }
  }
  if (it != cache_.end() && it->second.expires_ns > loop_.Now()) {
    DeferDelivery(waiter, it->second);
    return;
  }

  auto q = queries_.find(host);
  if (q != queries_.end()) {
    q->second->waiters.PushBack(waiter);
    return;
  }
  auto query = std::make_unique<Query>();
  query->resolver = this;
  query->host.assign(host);
  query->waiters.PushBack(waiter);
  Query* raw = query.get();
  queries_.emplace(raw->host, std::move(query));
  StartQuery(raw);
}

void Resolver::Cancel(ResolveWaiter* waiter) {
  if (waiter->list_ != nullptr) waiter->list_->Remove(waiter);
}

// ---- delivery ----

void Resolver::DeferDelivery(ResolveWaiter* waiter, CacheEntry& entry) {
  ready_.PushBack(waiter);
  waiter->ready_entry_ = &entry;
  if (!deliver_timer_->scheduled()) loop_.Schedule(*deliver_timer_, loop_.Now());
}

void Resolver::RunDeferred() {
  const int64_t now = loop_.Now();
  // Only the waiters queued now; callbacks that queue more re-arm the timer.
  // Cancel() during a callback unlinks from `batch`, which outlives the loop.
  ResolveWaiterList batch;
  while (ResolveWaiter* w = ready_.PopFront()) batch.PushBack(w);
  while (ResolveWaiter* w = batch.PopFront()) {
    auto* entry = static_cast<CacheEntry*>(w->ready_entry_);
    w->ready_entry_ = nullptr;
    Deliver(w, *entry, /*from_cache=*/true, now);
  }
}

void Resolver::Deliver(ResolveWaiter* waiter, CacheEntry& entry, bool from_cache, int64_t now_ns) {
  ResolvedAddresses addresses;
  ResolveResult result;
  result.start_ns = waiter->start_ns_;
  result.end_ns = now_ns;
  result.from_cache = from_cache;
  if (entry.error != NetError::kNone) {
    result.error = entry.error;
    result.error_text = entry.error_text;
  } else if (!Fill(entry, waiter->family_, &addresses)) {
    result.error = NetError::kDns;
    result.error_text = FamilyMismatchText(waiter->family_);
  } else {
    result.addresses = &addresses;
  }
  waiter->OnResolved(result);
}

}  // namespace stampede::net
