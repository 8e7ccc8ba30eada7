// Per-worker metric storage: one Shard per worker thread. The worker interns
// its tag sets and adds samples; the telemetry thread merges shards into a
// Snapshot (after the hand-off — a Shard is not thread-safe).
//
// Hot path: Intern() of a tag set seen before and Add() to a series seen
// before allocate nothing and take no lock. A new tag set copies its strings;
// a new (metric, tag set) series allocates its storage (a trend: one
// ExpHistogram, 32 KiB).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "metrics/exp_histogram.h"
#include "metrics/registry.h"

namespace stampede::metrics {

class Shard {
 public:
  // The value of one (metric, tag set) series. Which fields are used depends
  // on `type`.
  struct Series {
    MetricId metric = 0;
    TagSetId tag_set = 0;
    MetricType type = MetricType::kCounter;
    uint64_t samples = 0;    // number of Add() calls since creation / ResetValues()
    double sum = 0;          // kCounter: sum of the values
    double last = 0;         // kGauge: last value set
    double min = 0;          // kGauge: smallest value set
    double max = 0;          // kGauge: largest value set
    uint64_t passes = 0;     // kRate: values != 0
    uint64_t fails = 0;      // kRate: values == 0
    uint32_t histogram = 0;  // kTrend: index for Shard::histogram()
  };

  // Tag set id of the empty tag set, interned at construction.
  static constexpr TagSetId kNoTags = 0;

  // `registry` is borrowed and must outlive the shard; it must not gain
  // metrics after the shard is created.
  explicit Shard(const Registry& registry);
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;
  Shard(Shard&&) noexcept = default;
  Shard& operator=(Shard&&) noexcept = default;

  // Returns the id of the tag set made of `tags`, in any order (a key given
  // twice keeps its last value). Looking up a tag set already interned
  // neither sorts nor allocates; interning a new one sorts into a scratch
  // buffer (reserved for 16 tags; more grow it once) and copies the strings.
  TagSetId Intern(std::span<const Tag> tags);
  TagSetId Intern(std::initializer_list<Tag> tags) {
    return Intern(std::span(tags.begin(), tags.size()));
  }

  // Adds one sample. counter: adds `value`; gauge: sets it (tracking min and
  // max); rate: value != 0 is a pass, 0 a fail; trend: records `value` (ns for
  // kTime metrics, bytes for kData) in the series' histogram.
  // Preconditions: metric < registry.size(); tag_set was returned by this
  // shard's Intern(). No allocation once the series exists.
  void Add(MetricId metric, TagSetId tag_set, double value) {
    uint32_t& slot = index_[static_cast<size_t>(tag_set) * metric_count_ + metric];
    if (slot == 0) slot = NewSeries(metric, tag_set);
    Series& s = series_[slot - 1];
    ++s.samples;
    switch (s.type) {
      case MetricType::kCounter:
        s.sum += value;
        break;
      case MetricType::kGauge:
        s.last = value;
        if (value < s.min || s.samples == 1) s.min = value;
        if (value > s.max || s.samples == 1) s.max = value;
        break;
      case MetricType::kRate:
        if (value != 0) {
          ++s.passes;
        } else {
          ++s.fails;
        }
        break;
      case MetricType::kTrend:
        histograms_[s.histogram]->Record(value);
        break;
    }
  }

  // All series created so far, in creation order. Series whose values were
  // reset have samples == 0.
  std::span<const Series> series() const { return series_; }
  // The histogram of a kTrend series.
  const ExpHistogram& histogram(const Series& s) const { return *histograms_[s.histogram]; }
  // The tags of an interned tag set, sorted by key.
  std::span<const TagPair> tags(TagSetId id) const { return tag_sets_[id].tags; }
  size_t tag_set_count() const { return tag_sets_.size(); }
  const Registry& registry() const { return *registry_; }

  // Zeroes every series' values but keeps series, tag sets and storage, so a
  // worker can reuse the shard after a hand-off without allocating.
  void ResetValues();

  // Makes this shard an exact copy of `other` (same interning, series and
  // values), reusing this shard's storage: allocates only where `other` has
  // grown past it. Used to publish a worker's cumulative values to the main
  // thread once a second; cold path.
  void CopyFrom(const Shard& other);

 private:
  struct TagSetEntry {
    uint64_t hash = 0;
    std::vector<TagPair> tags;
  };

  static uint64_t HashTags(std::span<const Tag> tags);
  static bool SameSet(const TagSetEntry& entry, std::span<const Tag> tags);
  // The id of the tag set equal to `tags`, else the free table slot to use.
  std::optional<TagSetId> Find(uint64_t hash, std::span<const Tag> tags, size_t* free_slot) const;
  uint32_t NewSeries(MetricId metric, TagSetId tag_set);
  void GrowTagTable();

  const Registry* registry_;
  size_t metric_count_;
  std::vector<Tag> scratch_;           // sorted copy of the tags being interned
  std::vector<TagSetEntry> tag_sets_;  // by TagSetId
  std::vector<uint32_t> tag_table_;    // open addressing: TagSetId + 1, 0 = empty
  std::vector<uint32_t> index_;        // [tag_set * metric_count_ + metric] → series + 1
  std::vector<Series> series_;
  std::vector<std::unique_ptr<ExpHistogram>> histograms_;
};

}  // namespace stampede::metrics
