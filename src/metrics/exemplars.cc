#include "metrics/exemplars.h"

namespace stampede::metrics {

std::string ExemplarKey(std::string_view name, std::string_view method, std::string_view status) {
  std::string key;
  key.reserve(name.size() + method.size() + status.size() + 2);
  key.append(name).push_back('\x1f');
  key.append(method).push_back('\x1f');
  key.append(status);
  return key;
}

ExemplarReservoir::ExemplarReservoir(size_t per_interval, size_t recent, size_t max_keys)
    : per_interval_(per_interval < 1 ? 1 : per_interval),
      recent_(recent < 1 ? 1 : recent),
      max_keys_(max_keys) {}

void ExemplarReservoir::Offer(std::string_view key, const Exemplar& e) {
  std::lock_guard lock(mu_);
  ++offered_;
  auto it = interval_.find(key);
  if (it == interval_.end()) {
    if (interval_.size() >= max_keys_) return;
    it = interval_.emplace(std::string(key), Interval{}).first;
  }
  Interval& iv = it->second;
  ++iv.seen;
  if (iv.picks.empty()) {
    iv.picks.push_back(e);
  } else if (e.total_ns > iv.picks[0].total_ns) {
    // The new slowest; the old slowest competes for a random slot below.
    Exemplar old = iv.picks[0];
    iv.picks[0] = e;
    if (iv.picks.size() < per_interval_) iv.picks.push_back(old);
  } else if (iv.picks.size() < per_interval_) {
    iv.picks.push_back(e);
  } else if (per_interval_ > 1) {
    // Reservoir sampling over the non-slowest slots (xorshift64*).
    rng_ ^= rng_ >> 12;
    rng_ ^= rng_ << 25;
    rng_ ^= rng_ >> 27;
    uint64_t r = (rng_ * 0x2545f4914f6cdd1dull) % iv.seen;
    if (r < per_interval_ - 1) iv.picks[1 + r] = e;
  }

  auto rt = recent_by_key_.find(key);
  if (rt == recent_by_key_.end()) {
    if (recent_by_key_.size() >= max_keys_) return;
    rt = recent_by_key_.emplace(std::string(key), Ring{}).first;
  }
  Ring& ring = rt->second;
  if (ring.items.size() < recent_) {
    ring.items.push_back(e);
  } else {
    ring.items[ring.next] = e;
    ring.next = (ring.next + 1) % recent_;
  }
}

std::map<std::string, std::vector<Exemplar>> ExemplarReservoir::TakeInterval() {
  std::lock_guard lock(mu_);
  std::map<std::string, std::vector<Exemplar>> out;
  for (auto& [key, iv] : interval_) {
    if (!iv.picks.empty()) out.emplace(key, std::move(iv.picks));
  }
  interval_.clear();
  return out;
}

std::map<std::string, std::vector<Exemplar>> ExemplarReservoir::Recent() const {
  std::lock_guard lock(mu_);
  std::map<std::string, std::vector<Exemplar>> out;
  for (const auto& [key, ring] : recent_by_key_) {
    std::vector<Exemplar> v;
    v.reserve(ring.items.size());
    for (size_t i = 0; i < ring.items.size(); ++i) {
      v.push_back(ring.items[(ring.next + i) % ring.items.size()]);
    }
    out.emplace(key, std::move(v));
  }
  return out;
}

uint64_t ExemplarReservoir::offered() const {
  std::lock_guard lock(mu_);
  return offered_;
}

}  // namespace stampede::metrics
