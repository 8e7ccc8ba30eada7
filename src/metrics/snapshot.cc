#include "metrics/snapshot.h"

#include <algorithm>
#include <stdexcept>

#include "core/error.h"

namespace stampede::metrics {
namespace {

void MergeGauge(SeriesValue& dst, bool dst_empty, double value, double min, double max) {
  if (dst_empty) {
    dst.value = value;
    dst.min = min;
    dst.max = max;
  } else {
    dst.value = std::max(dst.value, value);
    dst.min = std::min(dst.min, min);
    dst.max = std::max(dst.max, max);
  }
}

void AddShardSeries(SeriesValue& dst, const Shard& shard, const Shard::Series& s) {
  const bool was_empty = dst.empty();
  dst.samples += s.samples;
  switch (s.type) {
    case MetricType::kCounter:
      dst.count += s.sum;
      break;
    case MetricType::kGauge:
      MergeGauge(dst, was_empty, s.last, s.min, s.max);
      break;
    case MetricType::kRate:
      dst.passes += s.passes;
      dst.fails += s.fails;
      break;
    case MetricType::kTrend:
      if (!dst.trend) dst.trend.emplace();
      dst.trend->Merge(shard.histogram(s));
      break;
  }
}

void AppendLengthPrefixed(std::string& out, std::string_view s) {
  const auto n = static_cast<uint32_t>(s.size());
  out.append(reinterpret_cast<const char*>(&n), sizeof n);
  out.append(s);
}

// The canonical encoding of a sorted tag set: the key of tag_set_ids_.
std::string TagSetKey(std::span<const TagPair> sorted_tags) {
  std::string key;
  for (const TagPair& t : sorted_tags) {
    AppendLengthPrefixed(key, t.key);
    AppendLengthPrefixed(key, t.value);
  }
  return key;
}

// Upsert's tags come from outside: a tag set whose keys are out of order
// would be a second id for the same content.
void RequireSortedTags(std::span<const TagPair> tags) {
  for (size_t i = 1; i < tags.size(); ++i) {
    if (!(tags[i - 1].key < tags[i].key)) {
      throw std::invalid_argument("Snapshot: tag keys not sorted and unique (\"" + tags[i].key +
                                  "\")");
    }
  }
}

bool ContainsAll(std::span<const TagPair> set, std::span<const Tag> filter) {
  return std::all_of(filter.begin(), filter.end(), [&](const Tag& f) {
    return std::any_of(set.begin(), set.end(),
                       [&](const TagPair& t) { return t.key == f.key && t.value == f.value; });
  });
}

bool ContainsAll(std::span<const TagPair> set, std::span<const TagPair> filter) {
  return std::all_of(filter.begin(), filter.end(), [&](const TagPair& f) {
    return std::any_of(set.begin(), set.end(),
                       [&](const TagPair& t) { return t.key == f.key && t.value == f.value; });
  });
}

}  // namespace

double SeriesValue::rate() const {
  const uint64_t total = passes + fails;
  return total == 0 ? 0 : static_cast<double>(passes) / static_cast<double>(total);
}

double SeriesValue::PerSecond(int64_t elapsed_ns) const {
  return elapsed_ns <= 0 ? 0 : count * 1e9 / static_cast<double>(elapsed_ns);
}

void SeriesValue::MergeFrom(const SeriesValue& other) {
  if (other.empty()) return;
  const bool was_empty = empty();
  samples += other.samples;
  switch (type) {
    case MetricType::kCounter:
      count += other.count;
      break;
    case MetricType::kGauge:
      MergeGauge(*this, was_empty, other.value, other.min, other.max);
      break;
    case MetricType::kRate:
      passes += other.passes;
      fails += other.fails;
      break;
    case MetricType::kTrend:
      if (!other.trend) break;
      if (!trend) {
        trend = other.trend;
      } else {
        trend->Merge(*other.trend);
      }
      break;
  }
}

Snapshot Snapshot::Merge(const Registry& registry, std::span<const Shard* const> shards) {
  Snapshot snapshot;
  for (const MetricDef& def : registry.defs()) snapshot.Define(def);
  constexpr TagSetId kUnmapped = ~TagSetId{0};
  std::vector<TagSetId> tag_map;  // shard tag set id → snapshot tag set id
  for (const Shard* shard : shards) {
    tag_map.assign(shard->tag_set_count(), kUnmapped);
    for (const Shard::Series& s : shard->series()) {
      if (s.samples == 0) continue;
      TagSetId& mapped = tag_map[s.tag_set];
      if (mapped == kUnmapped) mapped = snapshot.InternSorted(shard->tags(s.tag_set));
      AddShardSeries(snapshot.SeriesFor(s.metric, mapped), *shard, s);
    }
  }
  return snapshot;
}

void Snapshot::MergeFrom(const Snapshot& other) {
  if (&other == this) {
    const Snapshot copy = other;
    MergeFrom(copy);
    return;
  }
  std::vector<MetricId> metric_map;
  metric_map.reserve(other.metrics_.size());
  for (const MetricDef& def : other.metrics_) metric_map.push_back(Define(def));
  std::vector<TagSetId> tag_map;
  tag_map.reserve(other.tag_sets_.size());
  for (const auto& tags : other.tag_sets_) tag_map.push_back(InternSorted(tags));
  for (const Series& s : other.series_) {
    SeriesFor(metric_map[s.metric], tag_map[s.tag_set]).MergeFrom(s.value);
  }
  elapsed_ns_ = std::max(elapsed_ns_, other.elapsed_ns_);
}

SeriesValue& Snapshot::Upsert(MetricId metric, std::span<const TagPair> sorted_tags) {
  RequireSortedTags(sorted_tags);
  return SeriesFor(metric, InternSorted(sorted_tags));
}

std::optional<size_t> Snapshot::FindSeries(MetricId metric,
                                           std::span<const TagPair> sorted_tags) const {
  RequireSortedTags(sorted_tags);
  const auto tag_set = tag_set_ids_.find(TagSetKey(sorted_tags));
  if (tag_set == tag_set_ids_.end()) return std::nullopt;
  const auto it = series_index_.find((static_cast<uint64_t>(metric) << 32) | tag_set->second);
  if (it == series_index_.end()) return std::nullopt;
  return it->second;
}

MetricId Snapshot::Define(const MetricDef& def) {
  if (auto it = by_name_.find(def.name); it != by_name_.end()) {
    const MetricDef& mine = metrics_[it->second];
    if (mine.type != def.type || mine.value_type != def.value_type) {
      throw core::ConfigError("cannot merge results: metric \"" + def.name +
                              "\" has different types in the two runs");
    }
    return it->second;
  }
  const auto id = static_cast<MetricId>(metrics_.size());
  metrics_.push_back(def);
  by_name_.emplace(def.name, id);
  return id;
}

std::optional<MetricId> Snapshot::FindMetric(std::string_view name) const {
  if (auto it = by_name_.find(name); it != by_name_.end()) return it->second;
  return std::nullopt;
}

TagSetId Snapshot::InternSorted(std::span<const TagPair> sorted_tags) {
  auto [it, inserted] = tag_set_ids_.try_emplace(TagSetKey(sorted_tags), 0);
  if (inserted) {
    it->second = static_cast<TagSetId>(tag_sets_.size());
    tag_sets_.emplace_back(sorted_tags.begin(), sorted_tags.end());
  }
  return it->second;
}

SeriesValue& Snapshot::SeriesFor(MetricId metric, TagSetId tag_set) {
  const uint64_t key = (static_cast<uint64_t>(metric) << 32) | tag_set;
  auto [it, inserted] = series_index_.try_emplace(key, series_.size());
  if (inserted) {
    Series s;
    s.metric = metric;
    s.tag_set = tag_set;
    s.value.type = metrics_[metric].type;
    s.value.value_type = metrics_[metric].value_type;
    series_.push_back(std::move(s));
  }
  return series_[it->second].value;
}

template <typename Match>
SeriesValue Snapshot::AggregateWhere(MetricId id, Match&& match) const {
  SeriesValue out;
  out.type = metrics_[id].type;
  out.value_type = metrics_[id].value_type;
  for (const Series& s : series_) {
    if (s.metric == id && match(tag_sets_[s.tag_set])) out.MergeFrom(s.value);
  }
  return out;
}

SeriesValue Snapshot::Aggregate(MetricId id) const {
  return AggregateWhere(id, [](const std::vector<TagPair>&) { return true; });
}

SeriesValue Snapshot::Aggregate(MetricId id, std::span<const Tag> filter) const {
  return AggregateWhere(id,
                        [&](const std::vector<TagPair>& set) { return ContainsAll(set, filter); });
}

SeriesValue Snapshot::Aggregate(MetricId id, std::span<const TagPair> filter) const {
  return AggregateWhere(id,
                        [&](const std::vector<TagPair>& set) { return ContainsAll(set, filter); });
}

}  // namespace stampede::metrics
