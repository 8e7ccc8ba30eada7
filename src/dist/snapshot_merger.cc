#include "dist/snapshot_merger.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>


namespace stampede::dist {
namespace {

using metrics::ExpHistogram;
using metrics::MetricDef;
using metrics::MetricType;
using metrics::SeriesValue;

constexpr double kNoValue = std::numeric_limits<double>::quiet_NaN();

SeriesValue EmptyLike(const SeriesValue& v) {
  SeriesValue e;
  e.type = v.type;
  e.value_type = v.value_type;
  return e;
}

// Adds a sparse histogram to a trend value's histogram; a value without one
// takes a copy (as SeriesValue::MergeFrom does), keeping the delta's scale.
void AddTrend(std::optional<ExpHistogram>& dst, const ExpHistogram::SparseView& h) {
  if (h.count == 0) return;
  if (dst) {
    dst->MergeSparse(h);
  } else {
    dst = ExpHistogram::FromSparse(h);
  }
}

void AddTrend(std::optional<ExpHistogram>& dst, const std::optional<ExpHistogram>& h) {
  if (!h || h->count() == 0) return;
  if (dst) {
    dst->Merge(*h);
  } else {
    dst = h;
  }
}

// Counters and rates: adds `d` into `dst` (samples included).
void AddCounts(SeriesValue& dst, const SeriesValue& d) {
  dst.samples += d.samples;
  dst.count += d.count;
  dst.passes += d.passes;
  dst.fails += d.fails;
}

// A sparse copy of `h` appended to d.buckets, as series `s`'s trend.
void StoreTrend(DecodedDelta& d, DecodedDelta::Series& s, const std::optional<ExpHistogram>& h) {
  s.has_trend = h.has_value();
  if (!h) return;
  s.trend.scale = h->scale();
  s.trend.count = h->count();
  s.trend.zero_count = h->zero_count();
  s.trend.sum = h->sum();
  s.trend.min = h->min();
  s.trend.max = h->max();
  s.trend.first_bucket = static_cast<uint32_t>(d.buckets.size());
  h->ForEachNonZeroBucket([&](ExpHistogram::Bucket b) { d.buckets.push_back(b); });
  s.trend.bucket_count = static_cast<uint32_t>(d.buckets.size() - s.trend.first_bucket);
}

bool IsSummedGauge(const MetricDef& def) {
  // The test's VUs are the sum of the agents' (registry.h: builtin::kVus,
  // builtin::kVusMax).
  return def.type == MetricType::kGauge && !def.custom &&
         (def.name == "vus" || def.name == "vus_max");
}

}  // namespace

SnapshotMerger::SnapshotMerger(uint32_t agent_count, MergerOptions options)
    : options_(options), agents_(agent_count), held_(options.agent_histogram_budget_bytes > 0) {}

void SnapshotMerger::UpdateGauge(uint32_t merged, uint32_t agent, const SeriesValue& v) {
  GaugeState& g = gauges_.at(merged);
  if (v.samples == 0) {
    g.value[agent] = g.min[agent] = g.max[agent] = kNoValue;
  } else {
    g.value[agent] = v.value;
    g.min[agent] = v.min;
    g.max[agent] = v.max;
  }
  SeriesValue& m = merged_.mutable_value(merged);
  bool any = false;
  double value = 0, min = 0, max = 0;
  for (size_t i = 0; i < g.value.size(); ++i) {
    if (std::isnan(g.value[i])) continue;
    if (g.summed) {
      value += g.value[i];
    } else if (!any) {
      value = g.value[i];
      min = g.min[i];
      max = g.max[i];
    } else {
      value = std::max(value, g.value[i]);
      min = std::min(min, g.min[i]);
      max = std::max(max, g.max[i]);
    }
    any = true;
  }
  if (!any) {
    m.value = m.min = m.max = 0;
    return;
  }
  if (g.summed) {
    if (!g.seen) {
      g.seen_min = g.seen_max = value;
      g.seen = true;
    }
    g.seen_min = std::min(g.seen_min, value);
    g.seen_max = std::max(g.seen_max, value);
    min = g.seen_min;
    max = g.seen_max;
  }
  m.value = value;
  m.min = min;
  m.max = max;
}

void SnapshotMerger::ResolveMetrics(AgentState& a, const DecodedDelta& d, bool new_epoch) {
  const auto& defs = d.dictionary->metrics;
  const size_t from = new_epoch ? 0 : a.merged_metric_of_wire.size();
  // Check everything before changing anything.
  std::vector<MetricDef> fresh;
  for (size_t i = from; i < defs.size(); ++i) {
    const MetricDef& def = defs[i];
    const MetricDef* known = nullptr;
    if (auto id = merged_.FindMetric(def.name)) {
      known = &merged_.metrics()[*id];
    } else {
      auto it = std::find_if(fresh.begin(), fresh.end(),
                             [&](const MetricDef& f) { return f.name == def.name; });
      if (it == fresh.end()) {
        fresh.push_back(def);
        continue;
      }
      known = &*it;
    }
    if (known->type != def.type || known->value_type != def.value_type) {
      throw MergeError("cannot merge agent " + std::to_string(d.agent_index) + ": metric \"" +
                       def.name + "\" is a " + std::string(metrics::MetricTypeName(def.type)) +
                       " there and a " + std::string(metrics::MetricTypeName(known->type)) +
                       " elsewhere (or differs in value type)");
    }
  }
  if (new_epoch) {
    a.merged_metric_of_wire.clear();
    a.slot_of_wire.clear();
    a.epoch = d.epoch;
  }
  for (const MetricDef& def : fresh) merged_.Define(def);  // checked above: cannot throw
  for (size_t i = a.merged_metric_of_wire.size(); i < defs.size(); ++i) {
    a.merged_metric_of_wire.push_back(*merged_.FindMetric(defs[i].name));
  }
  a.dictionary = d.dictionary;
}

void SnapshotMerger::ResolveSeries(AgentState& a, const DecodedDelta& d) {
  const WireDictionary& dict = *d.dictionary;
  if (a.slot_of_wire.size() < dict.series.size()) a.slot_of_wire.resize(dict.series.size(), kNone);
  for (const DecodedDelta::Series& s : d.series) {
    if (a.slot_of_wire[s.id] != kNone) continue;
    const auto& ref = dict.series[s.id];
    const metrics::MetricId metric = a.merged_metric_of_wire[ref.metric];
    const auto& tags = dict.tag_sets[ref.tag_set];
    uint32_t merged = 0;
    if (auto found = merged_.FindSeries(metric, tags)) {
      merged = static_cast<uint32_t>(*found);
    } else {
      merged_.Upsert(metric, tags);
      merged = static_cast<uint32_t>(merged_.series().size() - 1);
      const MetricDef& def = merged_.metrics()[metric];
      if (def.type == MetricType::kGauge) {
        GaugeState g;
        g.summed = IsSummedGauge(def);
        g.value.assign(agents_.size(), kNoValue);
        g.min.assign(agents_.size(), kNoValue);
        g.max.assign(agents_.size(), kNoValue);
        gauges_.emplace(merged, std::move(g));
      }
    }
    auto [it, inserted] = a.slot_of.try_emplace(merged, static_cast<uint32_t>(a.slots.size()));
    if (inserted) a.slots.push_back({merged, EmptyLike(merged_.series()[merged].value)});
    a.slot_of_wire[s.id] = it->second;
  }
}

bool SnapshotMerger::AddValue(uint32_t agent, Slot& slot, const DecodedDelta::Series& s) {
  SeriesValue& mine = slot.value;
  SeriesValue& m = merged_.mutable_value(slot.merged);
  switch (m.type) {
    case MetricType::kGauge:
      mine.samples += s.value.samples;
      mine.value = s.value.value;
      mine.min = s.value.min;
      mine.max = s.value.max;
      m.samples += s.value.samples;
      UpdateGauge(slot.merged, agent, mine);
      return false;
    case MetricType::kCounter:
    case MetricType::kRate:
      AddCounts(m, s.value);
      AddCounts(mine, s.value);
      return false;
    case MetricType::kTrend:
      m.samples += s.value.samples;
      mine.samples += s.value.samples;
      return s.has_trend;
  }
  return false;
}

void SnapshotMerger::ApplyDelta(uint32_t agent, const DecodedDelta& d) {
  AgentState& a = agents_[agent];
  for (const DecodedDelta::Series& s : d.series) {
    Slot& slot = a.slots[a.slot_of_wire[s.id]];
    if (AddValue(agent, slot, s)) {
      AddTrendDelta(merged_.mutable_value(slot.merged), slot.value, d.TrendOf(s));
    }
  }
  if (held_ && held_bytes_ > options_.agent_histogram_budget_bytes) DropAgentHistograms();
}

void SnapshotMerger::AddTrendDelta(SeriesValue& m, SeriesValue& mine,
                                   const ExpHistogram::SparseView& h) {
  AddTrend(m.trend, h);
  if (held_) {
    const size_t before = mine.trend ? mine.trend->bucket_bytes() : 0;
    AddTrend(mine.trend, h);
    held_bytes_ += (mine.trend ? mine.trend->bucket_bytes() : 0) - before;
  }
}

void SnapshotMerger::ApplyBatch(std::span<BatchItem> items) {
  if (in_round_.size() != agents_.size()) in_round_.assign(agents_.size(), 0);
  size_t round_begin = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    BatchItem& item = items[i];
    item.error.clear();
    const bool known = item.delta != nullptr && item.agent < agents_.size();
    const bool repeat = known && in_round_[item.agent] != 0;
    const bool cold = known && item.delta->absolute() && agents_[item.agent].applied_seq != 0;
    if (repeat || cold) {
      FinishBatchRound(items.subspan(round_begin, i - round_begin));
      round_begin = i;
    }
    if (cold) {
      // Rare (a new epoch after an error): the one-message path.
      try {
        item.status = Apply(item.agent, *item.delta);
      } catch (const MergeError& e) {
        item.error = e.what();
      }
      round_begin = i + 1;
      continue;
    }
    if (StartBatchItem(item)) in_round_[item.agent] = 1;
  }
  FinishBatchRound(items.subspan(round_begin));
}

bool SnapshotMerger::StartBatchItem(BatchItem& item) {
  try {
    if (item.delta == nullptr) throw MergeError("no message");
    const DecodedDelta& d = *item.delta;
    if (item.agent >= agents_.size()) {
      throw MergeError("agent index " + std::to_string(item.agent) + " out of range (" +
                       std::to_string(agents_.size()) + " agents)");
    }
    if (d.agent_index != item.agent || !d.dictionary) {
      throw MergeError("message of agent " + std::to_string(d.agent_index) +
                       " applied as agent " + std::to_string(item.agent));
    }
    AgentState& a = agents_[item.agent];
    if (d.seq <= a.applied_seq) {
      item.status = ApplyStatus::kStale;
      return false;
    }
    if (!d.absolute() && (d.base_seq != a.applied_seq || d.epoch != a.epoch)) {
      item.status = ApplyStatus::kBaseMismatch;
      return false;
    }
    ResolveMetrics(a, d, d.epoch != a.epoch || a.dictionary == nullptr);  // throws first
    ResolveSeries(a, d);
  } catch (const MergeError& e) {
    item.error = e.what();
    return false;
  }
  const DecodedDelta& d = *item.delta;
  AgentState& a = agents_[item.agent];
  if (trend_head_.size() < merged_.series().size()) {
    trend_head_.resize(merged_.series().size(), kNone);
    trend_tail_.resize(merged_.series().size(), kNone);
  }
  for (const DecodedDelta::Series& s : d.series) {
    const uint32_t slot_index = a.slot_of_wire[s.id];
    Slot& slot = a.slots[slot_index];
    if (!AddValue(item.agent, slot, s)) continue;
    // A trend's buckets: queued at the tail of its merged series' chain
    // (message order), merged in FinishBatchRound.
    const auto w = static_cast<uint32_t>(trend_work_.size());
    trend_work_.push_back({kNone, slot_index, item.agent, d.TrendOf(s)});
    if (trend_head_[slot.merged] == kNone) {
      trend_head_[slot.merged] = w;
    } else {
      trend_work_[trend_tail_[slot.merged]].next = w;
    }
    trend_tail_[slot.merged] = w;
  }
  a.applied_seq = d.seq;
  a.elapsed_ns = d.elapsed_ns;
  item.status = ApplyStatus::kApplied;
  return true;
}

void SnapshotMerger::FinishBatchRound(std::span<BatchItem> round) {
  if (!trend_work_.empty()) {
    for (size_t merged = 0; merged < trend_head_.size(); ++merged) {
      uint32_t w = trend_head_[merged];
      if (w == kNone) continue;
      SeriesValue& m = merged_.mutable_value(merged);
      for (; w != kNone; w = trend_work_[w].next) {
        const TrendWork& t = trend_work_[w];
        AddTrendDelta(m, agents_[t.agent].slots[t.slot].value, t.trend);
        if (held_ && held_bytes_ > options_.agent_histogram_budget_bytes) DropAgentHistograms();
      }
      trend_head_[merged] = trend_tail_[merged] = kNone;
    }
    trend_work_.clear();
  }
  for (const BatchItem& item : round) {
    if (item.agent < in_round_.size()) in_round_[item.agent] = 0;
  }
  int64_t elapsed = 0;
  for (const AgentState& x : agents_) elapsed = std::max(elapsed, x.elapsed_ns);
  merged_.set_elapsed_ns(elapsed);
}

void SnapshotMerger::DropAgentHistograms() {
  for (AgentState& a : agents_) {
    for (Slot& slot : a.slots) slot.value.trend.reset();
  }
  held_ = false;
  held_bytes_ = 0;
}

bool SnapshotMerger::AbsoluteAsDelta(AgentState& a, DecodedDelta& d) {
  size_t covered = 0;
  uint64_t unmerged = 0;
  // Trend samples the agent holds that the merge cannot get (not held_).
  std::vector<std::pair<Slot*, uint64_t>> skipped;
  for (DecodedDelta::Series& s : d.series) {
    Slot& slot = a.slots[a.slot_of_wire[s.id]];
    const SeriesValue& mine = slot.value;
    covered += !mine.empty();
    if (mine.type == MetricType::kTrend && !held_) {
      if (s.value.samples < mine.samples) return false;
      const uint64_t gained = s.value.samples - mine.samples;
      if (gained == 0) {
        s.value.samples = 0;
        s.has_trend = false;
      } else if (mine.empty()) {
        s.value.samples = gained;  // all of it is new: exact
      } else {
        unmerged += gained;
        skipped.emplace_back(&slot, gained);
        s.value.samples = 0;
        s.has_trend = false;
      }
      continue;
    }
    const SeriesValue full = d.ValueOf(s);
    auto delta = detail::DeltaFrom(full, mine.empty() ? nullptr : &mine);
    if (!delta) return false;
    s.value = std::move(*delta);
    std::optional<ExpHistogram> trend = std::move(s.value.trend);
    s.value.trend.reset();
    StoreTrend(d, s, trend);
  }
  const size_t held = static_cast<size_t>(std::count_if(
      a.slots.begin(), a.slots.end(), [](const Slot& s) { return !s.value.empty(); }));
  if (covered != held) return false;
  // The agent's own samples follow its message; the merge's cannot.
  for (auto& [slot, gained] : skipped) slot->value.samples += gained;
  unmerged_trend_samples_ += unmerged;
  return true;
}

void SnapshotMerger::Replace(uint32_t agent, const DecodedDelta& d) {
  AgentState& a = agents_[agent];
  for (Slot& slot : a.slots) {
    if (slot.value.trend) held_bytes_ -= slot.value.trend->bucket_bytes();
    slot.value = EmptyLike(slot.value);
  }
  for (const DecodedDelta::Series& s : d.series) {
    SeriesValue& mine = a.slots[a.slot_of_wire[s.id]].value;
    mine = held_ ? d.ValueOf(s) : s.value;  // s.value: no histogram
    if (mine.trend) held_bytes_ += mine.trend->bucket_bytes();
  }
  Rebuild();
  if (!held_) {
    // The agent's earlier trend samples stay in the merge (they cannot be
    // taken out); its new values are added.
    for (const DecodedDelta::Series& s : d.series) {
      SeriesValue& m = merged_.mutable_value(a.slots[a.slot_of_wire[s.id]].merged);
      if (m.type != MetricType::kTrend) continue;
      m.samples += s.value.samples;
      if (s.has_trend) AddTrend(m.trend, d.TrendOf(s));
    }
  }
  if (held_ && held_bytes_ > options_.agent_histogram_budget_bytes) DropAgentHistograms();
}

void SnapshotMerger::Rebuild() {
  // Without the agents' histograms the trends cannot be recomputed: they
  // keep their merged values.
  for (size_t i = 0; i < merged_.series().size(); ++i) {
    SeriesValue& v = merged_.mutable_value(i);
    if (held_ || v.type != MetricType::kTrend) v = EmptyLike(v);
  }
  for (auto& [index, g] : gauges_) {
    std::fill(g.value.begin(), g.value.end(), kNoValue);
    g.seen = false;
  }
  for (uint32_t agent = 0; agent < agents_.size(); ++agent) {
    for (const Slot& slot : agents_[agent].slots) {
      SeriesValue& m = merged_.mutable_value(slot.merged);
      switch (m.type) {
        case MetricType::kGauge:
          m.samples += slot.value.samples;
          UpdateGauge(slot.merged, agent, slot.value);
          break;
        case MetricType::kCounter:
        case MetricType::kRate:
          AddCounts(m, slot.value);
          break;
        case MetricType::kTrend:
          if (!held_) break;
          m.samples += slot.value.samples;
          AddTrend(m.trend, slot.value.trend);
          break;
      }
    }
  }
}

ApplyStatus SnapshotMerger::Apply(uint32_t agent_index, const DecodedDelta& delta) {
  if (agent_index >= agents_.size()) {
    throw MergeError("agent index " + std::to_string(agent_index) + " out of range (" +
                     std::to_string(agents_.size()) + " agents)");
  }
  if (delta.agent_index != agent_index || !delta.dictionary) {
    throw MergeError("message of agent " + std::to_string(delta.agent_index) +
                     " applied as agent " + std::to_string(agent_index));
  }
  AgentState& a = agents_[agent_index];
  if (delta.seq <= a.applied_seq) return ApplyStatus::kStale;
  if (!delta.absolute() && (delta.base_seq != a.applied_seq || delta.epoch != a.epoch)) {
    return ApplyStatus::kBaseMismatch;
  }
  const bool new_epoch = delta.epoch != a.epoch || a.dictionary == nullptr;
  ResolveMetrics(a, delta, new_epoch);  // throws before any change
  ResolveSeries(a, delta);

  if (delta.absolute() && a.applied_seq != 0) {
    // Cold path (a new epoch after an error): rewritten as a delta from the
    // agent's values when it is their successor, else it replaces them.
    DecodedDelta d = delta;
    if (AbsoluteAsDelta(a, d)) {
      ApplyDelta(agent_index, d);
    } else {
      Replace(agent_index, delta);
    }
  } else {
    ApplyDelta(agent_index, delta);
  }
  a.applied_seq = delta.seq;
  a.elapsed_ns = delta.elapsed_ns;
  int64_t elapsed = 0;
  for (const AgentState& x : agents_) elapsed = std::max(elapsed, x.elapsed_ns);
  merged_.set_elapsed_ns(elapsed);
  return ApplyStatus::kApplied;
}

metrics::Snapshot SnapshotMerger::Agent(uint32_t i) const {
  const AgentState& a = agents_.at(i);
  metrics::Snapshot s;
  for (const MetricDef& def : merged_.metrics()) s.Define(def);  // same ids
  for (const Slot& slot : a.slots) {
    if (slot.value.empty()) continue;
    const auto& m = merged_.series()[slot.merged];
    s.Upsert(m.metric, merged_.tags(m.tag_set)) = slot.value;
  }
  s.set_elapsed_ns(a.elapsed_ns);
  return s;
}

}  // namespace stampede::dist
