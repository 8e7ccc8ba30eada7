// The coordinator's merge of its agents' metrics (issue 11): each agent's
// decoded messages (snapshot_codec.h) update that agent's cumulative values
// and, incrementally, the whole test's — one metrics::Snapshot that the
// summary, the thresholds, the store and the exporters take as is.
//
// Merge semantics across agents (by metric name and tag set content, as
// metrics::Snapshot::MergeFrom matches them):
//   counters, rates: add (integer-valued counters exactly below 2^53;
//     fractional sums up to floating-point rounding of the addition order);
//   trends: ExpHistogram::Merge — the result is exactly the histogram of
//     every agent's samples (count, zero count, buckets, scale, min, max;
//     sum up to rounding), so p(95) of the merge is the p(95) of the whole;
//   gauges named `vus` and `vus_max` (the built-ins): the SUM of the agents'
//     latest values — the test's VUs are the sum of the agents' — with min /
//     max the smallest / largest sum seen after an Apply; every other gauge:
//     the LARGEST latest value, min the smallest and max the largest of the
//     agents' own (Snapshot::MergeFrom's rule);
//   samples: add; elapsed_ns: the largest of the agents'.
// An agent that is lost keeps contributing what it sent: nothing is ever
// taken out of the merge except by that agent's own absolute message.
//
// Ownership and threads: a SnapshotMerger owns every value it holds; it is
// used by one thread (the coordinator's main thread), without locking.
//
// Cost: Apply is proportional to the message — a trend's delta costs its
// non-zero buckets (ExpHistogram::MergeSparse), not its index range, and
// allocates nothing once the series exist — not to the number of agents,
// except gauges (rescanned across agents) and an absolute message that is
// not a successor of the agent's values (the whole merge is rebuilt; rare:
// an agent that restarted its counting).
//
// Memory: the merge (one value per merged series) plus, per agent, its own
// cumulative value of each of its series. An agent's own trend HISTOGRAMS
// are the big part (up to 32 KiB each: 200 agents × 1 200 trends would be
// ~8 GB), and they are needed only to turn a later absolute message of the
// same agent (a new epoch after an error) into exact deltas, and for
// Agent(i). They are kept while their bucket arrays fit
// MergerOptions::agent_histogram_budget_bytes; the first Apply that would
// exceed it drops them all, for good (agent_histograms_held() turns false).
// From then on the merge stays exact for every delta, and:
//   - Agent(i)'s trend series carry samples but no histogram;
//   - an absolute message that is a successor of the agent's values (same
//     or more samples everywhere) adds what it proves: counters, rates,
//     gauges exactly, and a trend whose samples did not change; a trend
//     that gained samples since the agent's last applied message cannot be
//     diffed, so those samples (recorded between that message and the
//     reconnect) are left out of the merge and counted in
//     unmerged_trend_samples();
//   - an absolute message that is not a successor (the agent restarted its
//     counting) replaces the agent's counters, rates and gauges as before,
//     while its trends keep what it sent before and add its new values.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "dist/snapshot_codec.h"
#include "metrics/snapshot.h"

namespace stampede::dist {

// A message that cannot be merged: its agent index is out of range or not
// the one it was decoded for, or a metric name has another type (or value
// type) than the same name from another agent. what() is one line naming
// it. The merger is unchanged.
class MergeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class ApplyStatus {
  kApplied,       // the agent's values now are those of delta.seq
  kStale,         // delta.seq <= AppliedSeq(agent): already held (a retry); ignored
  kBaseMismatch,  // a delta from another base than AppliedSeq(agent); ignored
};

struct MergerOptions {
  // Bytes of bucket arrays the agents' own trend histograms may take (see
  // "Memory" above). 0: never keep them.
  size_t agent_histogram_budget_bytes = size_t{512} << 20;
};

class SnapshotMerger {
 public:
  // Agents are numbered 0 .. agent_count - 1.
  explicit SnapshotMerger(uint32_t agent_count, MergerOptions options = {});

  // Applies one decoded message of agent `agent_index` (which must equal
  // delta.agent_index): an absolute message replaces the agent's values, a
  // delta (base_seq == AppliedSeq(agent)) adds to them; the merge follows.
  // Either way the reply to the agent is AppliedSeq(agent). Throws
  // MergeError (see above), leaving the merger unchanged. Keeps nothing
  // that refers to `delta` (the caller may reuse it for the next Decode).
  ApplyStatus Apply(uint32_t agent_index, const DecodedDelta& delta);

  // One message of a batch (ApplyBatch): in, the agent and its message
  // (which must outlive the call); out, what Apply would have returned or
  // thrown (`error` non-empty: the MergeError's what(), the message ignored).
  struct BatchItem {
    uint32_t agent = 0;
    const DecodedDelta* delta = nullptr;
    ApplyStatus status = ApplyStatus::kStale;
    std::string error;
  };
  // Applies the messages as Apply would, one after the other in their order
  // (the same merged values, up to the rounding of sums in another order),
  // but trend by trend across the messages: each merged histogram takes the
  // buckets of every message while it is in cache. Apply, message after
  // message, walks the whole merge once per message — at 200 agents and
  // 1 200 trends it streams ~30 MB of merged histograms from L3 200 times a
  // second (merge_bench: the coordinator's per-second batch). A message of
  // an agent already in the batch, and an absolute message of an agent
  // that has values (the cold path), first applies what precedes it.
  // Allocates nothing in steady state.
  void ApplyBatch(std::span<BatchItem> items);

  // The whole test's cumulative snapshot. The reference is valid until the
  // next Apply; copy it to keep it.
  const metrics::Snapshot& Merged() const { return merged_; }

  // Agent `i`'s own cumulative values (metric definitions: all the merge
  // knows). Trend series have their histogram only while
  // agent_histograms_held(); otherwise samples only. Built on demand: cold
  // path. Precondition: i < agent_count().
  metrics::Snapshot Agent(uint32_t i) const;

  // Whether the agents' own trend histograms are still kept (see "Memory").
  bool agent_histograms_held() const { return held_; }
  // Bytes of bucket arrays they take now (0 once dropped).
  size_t agent_histogram_bytes() const { return held_bytes_; }
  // Trend samples that could not be merged (see "Memory"); 0 while
  // agent_histograms_held(). A non-zero value makes the trends' merge
  // short of exactly these samples.
  uint64_t unmerged_trend_samples() const { return unmerged_trend_samples_; }

  // The sequence of the last message applied for agent `i` (0: none).
  uint64_t AppliedSeq(uint32_t i) const { return agents_.at(i).applied_seq; }
  uint32_t agent_count() const { return static_cast<uint32_t>(agents_.size()); }

 private:
  static constexpr uint32_t kNone = ~uint32_t{0};

  // One agent's value of one merged series (its trend: only while held_).
  struct Slot {
    uint32_t merged = 0;  // index into merged_.series()
    metrics::SeriesValue value;
  };
  struct AgentState {
    uint64_t epoch = 0;
    uint64_t applied_seq = 0;
    int64_t elapsed_ns = 0;
    std::vector<Slot> slots;                         // stable across epochs
    std::unordered_map<uint32_t, uint32_t> slot_of;  // merged index → slot
    // Per epoch: wire ids → merged metric id / slot, filled lazily.
    std::shared_ptr<const WireDictionary> dictionary;
    std::vector<uint32_t> merged_metric_of_wire;
    std::vector<uint32_t> slot_of_wire;
  };
  // Per merged gauge series: every agent's latest value (NaN: none).
  struct GaugeState {
    bool summed = false;  // vus / vus_max
    std::vector<double> value, min, max;
    double seen_min = 0, seen_max = 0;
    bool seen = false;
  };

  // Maps every metric of the delta's dictionary not yet mapped for the
  // agent; throws MergeError on a type conflict before changing anything.
  void ResolveMetrics(AgentState& a, const DecodedDelta& d, bool new_epoch);
  // The agent's slot of every wire series of the message, creating merged
  // series as needed.
  void ResolveSeries(AgentState& a, const DecodedDelta& d);
  // Adds a delta message (or an absolute one turned into a delta) to the
  // agent's values and to the merge.
  void ApplyDelta(uint32_t agent, const DecodedDelta& d);
  // Adds a series' counts, gauge value or trend samples to the agent's slot
  // and the merge; true when a trend's buckets remain to be added.
  bool AddValue(uint32_t agent, Slot& slot, const DecodedDelta::Series& s);
  // Checks, resolves and applies the non-trend values of one batch item
  // (trends: queued in trend_work_); false when it is not to be applied.
  bool StartBatchItem(BatchItem& item);
  // Merges the queued trends, merged series after merged series.
  void FinishBatchRound(std::span<BatchItem> round);
  // Adds a trend's delta to the merge and (while held_) to the agent's own.
  void AddTrendDelta(metrics::SeriesValue& merged, metrics::SeriesValue& mine,
                     const metrics::ExpHistogram::SparseView& h);
  void UpdateGauge(uint32_t merged, uint32_t agent, const metrics::SeriesValue& v);
  // An absolute message as a delta from the agent's values (rewritten in
  // place in `d`); false when it is not their successor.
  bool AbsoluteAsDelta(AgentState& a, DecodedDelta& d);
  // An absolute message that is not a successor: replaces the agent's
  // values and rebuilds the merge.
  void Replace(uint32_t agent, const DecodedDelta& d);
  void Rebuild();
  void DropAgentHistograms();

  MergerOptions options_;
  metrics::Snapshot merged_;
  std::unordered_map<uint32_t, GaugeState> gauges_;  // merged series → state
  std::vector<AgentState> agents_;
  // ApplyBatch's scratch, reused: per merged series the first queued trend
  // of the round (kNone: none), and the queued trends chained by `next`.
  // The view is copied while the message's series is in cache (the walk
  // would otherwise miss on it once more).
  struct TrendWork {
    uint32_t next = kNone;
    uint32_t slot = 0;
    uint32_t agent = 0;
    metrics::ExpHistogram::SparseView trend;
  };
  std::vector<uint32_t> trend_head_, trend_tail_;
  std::vector<TrendWork> trend_work_;
  std::vector<uint8_t> in_round_;  // per agent
  bool held_ = true;
  size_t held_bytes_ = 0;
  uint64_t unmerged_trend_samples_ = 0;
};

}  // namespace stampede::dist
