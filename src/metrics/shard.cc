#include "metrics/shard.h"

#include <cstring>
#include <optional>
#include <string_view>

namespace stampede::metrics {
namespace {

constexpr size_t kInitialTagTable = 64;  // a power of two
constexpr size_t kScratchTags = 16;

uint64_t Mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h;
}

// A small, fast hash for the short strings of tags (8 bytes per step); the
// table compares contents on a hash match, so only speed and spread matter.
uint64_t HashBytes(std::string_view s) {
  constexpr uint64_t kMul = 0x9e3779b97f4a7c15ULL;
  uint64_t h = (s.size() + 1) * kMul;
  const char* p = s.data();
  size_t n = s.size();
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    h = (h ^ word) * kMul;
    h ^= h >> 29;
  }
  if (n > 0) {
    // Tail of 1..7 bytes with fixed-size loads (a variable-length memcpy
    // would cost more than the whole hash).
    uint64_t word;
    if (n >= 4) {
      uint32_t a, b;
      std::memcpy(&a, p, 4);
      std::memcpy(&b, p + n - 4, 4);
      word = (uint64_t{a} << 32) | b;
    } else {
      word = (uint64_t{static_cast<unsigned char>(p[0])} << 16) |
             (uint64_t{static_cast<unsigned char>(p[n / 2])} << 8) |
             static_cast<unsigned char>(p[n - 1]);
    }
    h = (h ^ word) * kMul;
    h ^= h >> 29;
  }
  return h;
}

}  // namespace

Shard::Shard(const Registry& registry)
    : registry_(&registry), metric_count_(registry.size()), tag_table_(kInitialTagTable, 0) {
  scratch_.reserve(kScratchTags);
  Intern(std::span<const Tag>{});  // kNoTags
}

// The hash of a tag set is a sum of per-pair hashes, so it does not depend on
// the order of the tags: the common case (a tag set seen before) is found
// without sorting. Duplicate keys are resolved on the slow path.
uint64_t Shard::HashTags(std::span<const Tag> tags) {
  uint64_t hash = 0;
  for (const Tag& tag : tags) {
    hash += Mix(HashBytes(tag.key) * 0x9e3779b97f4a7c15ULL + HashBytes(tag.value));
  }
  return hash;
}

bool Shard::SameSet(const TagSetEntry& entry, std::span<const Tag> tags) {
  if (entry.tags.size() != tags.size()) return false;
  if (tags.size() > 64) {  // only ever canonical (sorted, unique) input here
    for (size_t i = 0; i < tags.size(); ++i) {
      if (entry.tags[i].key != tags[i].key || entry.tags[i].value != tags[i].value) return false;
    }
    return true;
  }
  // Every tag must match a distinct entry tag: equal sizes then mean equal sets.
  uint64_t matched = 0;
  for (const Tag& tag : tags) {
    size_t i = 0;
    while (i < entry.tags.size() && entry.tags[i].key != tag.key) ++i;
    if (i == entry.tags.size() || entry.tags[i].value != tag.value) return false;
    if (matched & (uint64_t{1} << i)) return false;  // a key given twice
    matched |= uint64_t{1} << i;
  }
  return true;
}

std::optional<TagSetId> Shard::Find(uint64_t hash, std::span<const Tag> tags,
                                    size_t* free_slot) const {
  const size_t mask = tag_table_.size() - 1;
  size_t pos = hash & mask;
  while (tag_table_[pos] != 0) {
    const TagSetEntry& entry = tag_sets_[tag_table_[pos] - 1];
    if (entry.hash == hash && SameSet(entry, tags)) return tag_table_[pos] - 1;
    pos = (pos + 1) & mask;
  }
  if (free_slot != nullptr) *free_slot = pos;
  return std::nullopt;
}

TagSetId Shard::Intern(std::span<const Tag> tags) {
  if (tags.size() <= 64) {
    if (auto id = Find(HashTags(tags), tags, nullptr)) return *id;
  }
  // Slow path (a new tag set, or duplicate keys): the canonical form, by a
  // stable insertion sort by key into the reserved scratch buffer, keeping the
  // last value of a repeated key.
  scratch_.clear();
  for (const Tag& tag : tags) {
    scratch_.push_back(tag);
    for (size_t i = scratch_.size() - 1; i > 0 && scratch_[i - 1].key > scratch_[i].key; --i) {
      std::swap(scratch_[i - 1], scratch_[i]);
    }
  }
  size_t kept = 0;
  for (size_t i = 0; i < scratch_.size(); ++i) {
    if (i + 1 < scratch_.size() && scratch_[i + 1].key == scratch_[i].key) continue;
    scratch_[kept++] = scratch_[i];
  }
  scratch_.resize(kept);
  const uint64_t hash = HashTags(scratch_);
  size_t pos = 0;
  if (auto id = Find(hash, scratch_, &pos)) return *id;

  // A new tag set: the only place that copies strings.
  const auto id = static_cast<TagSetId>(tag_sets_.size());
  TagSetEntry entry;
  entry.hash = hash;
  entry.tags.reserve(scratch_.size());
  for (const Tag& tag : scratch_) {
    entry.tags.push_back(TagPair{std::string(tag.key), std::string(tag.value)});
  }
  tag_sets_.push_back(std::move(entry));
  tag_table_[pos] = id + 1;
  index_.resize(index_.size() + metric_count_, 0);
  if (tag_sets_.size() * 2 > tag_table_.size()) GrowTagTable();
  return id;
}

void Shard::GrowTagTable() {
  std::vector<uint32_t> table(tag_table_.size() * 2, 0);
  const size_t mask = table.size() - 1;
  for (size_t id = 0; id < tag_sets_.size(); ++id) {
    size_t pos = tag_sets_[id].hash & mask;
    while (table[pos] != 0) pos = (pos + 1) & mask;
    table[pos] = static_cast<uint32_t>(id + 1);
  }
  tag_table_.swap(table);
}

uint32_t Shard::NewSeries(MetricId metric, TagSetId tag_set) {
  Series s;
  s.metric = metric;
  s.tag_set = tag_set;
  s.type = registry_->def(metric).type;
  if (s.type == MetricType::kTrend) {
    s.histogram = static_cast<uint32_t>(histograms_.size());
    histograms_.push_back(std::make_unique<ExpHistogram>());
  }
  series_.push_back(s);
  return static_cast<uint32_t>(series_.size());
}

void Shard::ResetValues() {
  for (Series& s : series_) {
    s.samples = 0;
    s.sum = s.last = s.min = s.max = 0;
    s.passes = s.fails = 0;
    if (s.type == MetricType::kTrend) histograms_[s.histogram]->Reset();
  }
}

void Shard::CopyFrom(const Shard& other) {
  registry_ = other.registry_;
  metric_count_ = other.metric_count_;
  tag_sets_ = other.tag_sets_;
  tag_table_ = other.tag_table_;
  index_ = other.index_;
  series_ = other.series_;
  // Histograms: reuse the ones we have (4096 counts each), make only the new.
  while (histograms_.size() < other.histograms_.size()) {
    histograms_.push_back(std::make_unique<ExpHistogram>());
  }
  histograms_.resize(other.histograms_.size());
  for (size_t i = 0; i < other.histograms_.size(); ++i) *histograms_[i] = *other.histograms_[i];
}

}  // namespace stampede::metrics
