// The one result model: a Snapshot holds the merged values of every (metric,
// tag set) series of a run (or of one interval). The end-of-test summary, the
// JSON export, the store, the dashboard and the OTLP exporter all format a
// Snapshot.
//
// Cold path (built once per interval on the telemetry thread). A Snapshot is
// a value: copyable, owns everything it refers to, and does not depend on the
// Registry or the Shards it was built from. Not thread-safe; const access from
// several threads is fine.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "metrics/exp_histogram.h"
#include "metrics/registry.h"
#include "metrics/shard.h"

namespace stampede::metrics {

// The merged value of a series, or of several series (an aggregate). Which
// fields are meaningful depends on `type`.
struct SeriesValue {
  MetricType type = MetricType::kCounter;
  ValueType value_type = ValueType::kDefault;
  uint64_t samples = 0;  // number of samples added
  double count = 0;      // kCounter: sum of the values (bytes for kData)
  // kGauge: the current value, and the smallest / largest value ever set.
  // Several series (or shards) writing one gauge merge by taking the largest
  // current value; a gauge is expected to be written from one place.
  double value = 0;
  double min = 0;
  double max = 0;
  uint64_t passes = 0;                // kRate: samples != 0
  uint64_t fails = 0;                 // kRate: samples == 0
  std::optional<ExpHistogram> trend;  // kTrend: set once there is a sample

  bool empty() const { return samples == 0; }
  // kRate: passes / (passes + fails); 0 when empty.
  double rate() const;
  // kCounter: count per second over `elapsed_ns`; 0 when elapsed_ns <= 0.
  double PerSecond(int64_t elapsed_ns) const;
  // Adds `other` (same type) into this value.
  void MergeFrom(const SeriesValue& other);
};

class Snapshot {
 public:
  struct Series {
    MetricId metric = 0;
    TagSetId tag_set = 0;  // a Snapshot tag set id; see tags()
    SeriesValue value;
  };

  Snapshot() = default;

  // Merges the shards' series by metric and tag set CONTENT (each shard has
  // its own tag set ids). Series without samples are skipped. The metric
  // definitions are copied from `registry`, so metric ids match it. The
  // shards must not be written during the call.
  static Snapshot Merge(const Registry& registry, std::span<const Shard* const> shards);

  // Adds another snapshot (e.g. from another instance of a distributed run).
  // Metrics are matched by name; metrics unknown here are appended (ids of
  // `other` need not match). elapsed becomes the larger of both. Throws
  // core::ConfigError if a name has different types in the two snapshots.
  void MergeFrom(const Snapshot& other);

  // Defines the metric `def` (matched by name, like MergeFrom) and returns
  // its id: the existing one when the name is known with the same type and
  // value type (other fields of `def` are then ignored), else a new id at
  // the end of metrics(). Throws core::ConfigError if the name is known with
  // another type or value type. For producers that build a Snapshot
  // themselves (a distributed run's coordinator, decoders, tests).
  MetricId Define(const MetricDef& def);

  // The value of the series (metric, tag set `sorted_tags`), added empty
  // (samples == 0, type and value type of the metric) at the end of series()
  // when missing; the caller then writes the value, keeping the metric's
  // type and value_type. A series left empty stays listed (Aggregate adds
  // nothing for it).
  // `sorted_tags`: sorted by key, keys unique, as tags() returns them (e.g.
  // copied from another Snapshot); throws std::invalid_argument otherwise.
  // Precondition: metric < metrics().size(). The reference is valid until
  // the next series is added to this Snapshot (Upsert, MergeFrom).
  SeriesValue& Upsert(MetricId metric, std::span<const TagPair> sorted_tags);
  // Index in series() of the series (metric, sorted_tags), or nullopt when
  // there is none. Does not add anything. Same requirements on the tags.
  std::optional<size_t> FindSeries(MetricId metric, std::span<const TagPair> sorted_tags) const;
  // Writable value of series()[index] (its metric and tag set stay), with
  // the same rules as Upsert's result. Precondition: index < series().size().
  // Valid until the next series is added.
  SeriesValue& mutable_value(size_t index) { return series_[index].value; }

  // Run (or interval) duration, for counter rates.
  int64_t elapsed_ns() const { return elapsed_ns_; }
  void set_elapsed_ns(int64_t elapsed_ns) { elapsed_ns_ = elapsed_ns; }

  // Metric definitions; ids index this vector.
  const std::vector<MetricDef>& metrics() const { return metrics_; }
  std::optional<MetricId> FindMetric(std::string_view name) const;

  // The aggregate of a metric over all its tag sets. Precondition:
  // id < metrics().size(). Empty (samples == 0) if nothing was recorded.
  SeriesValue Aggregate(MetricId id) const;
  // The aggregate over the tag sets that contain every tag of `filter` (k6's
  // sub-metric, e.g. http_req_duration{name:/api,status:200}).
  SeriesValue Aggregate(MetricId id, std::span<const Tag> filter) const;
  SeriesValue Aggregate(MetricId id, std::span<const TagPair> filter) const;

  std::span<const Series> series() const { return series_; }
  // Tags of a Snapshot tag set, sorted by key.
  std::span<const TagPair> tags(TagSetId id) const { return tag_sets_[id]; }

 private:
  TagSetId InternSorted(std::span<const TagPair> sorted_tags);
  SeriesValue& SeriesFor(MetricId metric, TagSetId tag_set);
  template <typename Match>
  SeriesValue AggregateWhere(MetricId id, Match&& match) const;

  std::vector<MetricDef> metrics_;
  std::map<std::string, MetricId, std::less<>> by_name_;
  std::vector<std::vector<TagPair>> tag_sets_;
  std::unordered_map<std::string, TagSetId> tag_set_ids_;  // canonical encoding → id
  std::vector<Series> series_;
  std::unordered_map<uint64_t, size_t> series_index_;  // metric << 32 | tag set → series_
  int64_t elapsed_ns_ = 0;
};

}  // namespace stampede::metrics
