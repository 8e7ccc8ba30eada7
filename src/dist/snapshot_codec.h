// The wire codec of a distributed run's metric snapshots (issue 11): agents
// send, once a second, what their cumulative metrics::Snapshot gained since
// the last message the coordinator acknowledged; the coordinator decodes it
// (one SnapshotDecoder per agent) and hands it to the SnapshotMerger.
//
// Why deltas from the ACKNOWLEDGED state: a lost request, a failed one or a
// lost response loses nothing — the next message is again a delta from the
// last state the coordinator is known to hold, so it covers the gap. Why the
// histograms travel as exact ExpHistogram differences: the coordinator merges
// agents exactly (percentiles of the whole test, never averages of
// percentiles), which a per-interval summary could not give.
//
// ## Exchange (the transport is someone else's; this is what it must do)
//   agent:        bytes = encoder.Encode(cumulative)      → POST to coordinator
//   coordinator:  delta = decoders[i].Decode(bytes)       (DecodeError: reply "bad")
//                 merger.Apply(i, delta)                   (reply merger.AppliedSeq(i))
//   agent:        if (!encoder.Ack(reply_applied_seq)) encoder.Reset();
// The coordinator replies with the last sequence it holds for the agent
// whatever happened; the agent acknowledges that. An unknown sequence (the
// coordinator lost its state, or it is older than what the agent remembers)
// makes Ack return false and the agent starts a new epoch (Reset): the next
// message is absolute (cumulative) and redefines everything.
//
// ## Wire format, version 1 (all integers are unsigned LEB128 varints unless
// said otherwise: 7 bits a byte, least significant group first, high bit =
// "more", at most 10 bytes; zigzag(n) = (n << 1) ^ (n >> 63); f64 = 8 bytes,
// IEEE-754 binary64, little-endian; str = varint byte length, then the bytes)
//
//   offset 0  u8   'S' (0x53)                    magic, so that a stray request
//   offset 1  u8   'D' (0x44)                    is refused at the first byte
//   offset 2  u8   version = 1
//   varint    agent_index                        (<= 2^32-1)
//   varint    epoch                              (>= 1; the dictionaries' generation)
//   varint    seq                                (>= 1; strictly increasing per encoder)
//   varint    base_seq                           (0 = absolute, else < seq)
//   varint    elapsed_ns                         (<= INT64_MAX; the agent's run time)
//   varint    M, then M metric definitions:
//               varint id, str name (a valid k6 metric name), u8 type
//               (0 counter, 1 gauge, 2 rate, 3 trend), u8 value_type (0 default,
//               1 time, 2 data), u8 flags (bit 0 custom, bit 1 internal; others 0)
//   varint    T, then T tag set definitions:
//               varint id, varint n, then n × (str key, str value), keys strictly
//               increasing (byte order), as metrics::Snapshot keeps them
//   varint    S, then S series definitions:
//               varint id, varint metric id, varint tag set id
//   varint    V, then V series values, each:
//               varint series id, varint samples, then by the metric's type:
//               counter: f64 count
//               gauge:   f64 value, f64 min, f64 max     (the current state, not a delta)
//               rate:    varint passes, varint fails
//               trend:   u8 has_histogram (0 or 1); if 1:
//                        varint zigzag(scale), varint count, varint zero_count,
//                        f64 sum, f64 min, f64 max, varint zigzag(first index),
//                        varint K (non-zero buckets), then K × (varint gap,
//                        varint bucket count >= 1): the first bucket sits at
//                        first index + gap, each next one at previous + 1 + gap
//   nothing after the last value (trailing bytes are an error).
//
// Definitions: each id (a dense index per table, from 0, per epoch) is sent
// in every message until a message containing it is acknowledged — so a
// lost message never leaves the coordinator with an unknown id — and a
// repeated definition must be identical. A new epoch (Encoder::Reset) starts
// all three tables afresh and must begin with an absolute message.
//
// Values: an absolute message holds the agent's whole cumulative snapshot; a
// delta holds only the series that changed since base_seq, each as
//   samples, counter count, rate passes/fails: the difference;
//   trend: ExpHistogram::Difference(now, base) — bucket counts, zero count,
//     count and sum exact; min/max exact whenever they moved, otherwise
//     within one bucket and never beyond the base's, so merging the delta
//     into the base reproduces now's min/max exactly;
//   gauge: the current value and the agent's min/max so far (replaces).
//
// Threads: an encoder or a decoder is used by one thread at a time (no
// internal locking). Allocation: cold path, allocates freely on valid input;
// on hostile input allocation is bounded by DecodeLimits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "metrics/exp_histogram.h"
#include "metrics/registry.h"
#include "metrics/snapshot.h"

namespace stampede::dist {

inline constexpr uint8_t kWireVersion = 1;

// A message that cannot be decoded: malformed, truncated, over a limit, a
// reference to an unknown id, or out of order. what() is one line naming the
// problem and the byte offset. The decoder's state is unchanged.
class DecodeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Bounds that hostile input cannot exceed. Defaults fit 2000+ series with
// full histograms per message with a wide margin.
struct DecodeLimits {
  size_t max_message_bytes = size_t{64} << 20;
  uint32_t max_string_bytes = 4096;  // a metric name, tag key or value
  uint32_t max_tags_per_set = 128;
  uint32_t max_dictionary_entries = 1 << 22;  // per table, per epoch
  uint32_t max_series_per_message = 1 << 22;
  // Sum over the message's histograms of their non-zero buckets: what
  // decoding allocates for them (DecodedDelta::buckets, 16 bytes each).
  // (Each histogram's index range is bounded by ExpHistogram::kMaxBuckets.)
  uint64_t max_buckets_per_message = uint64_t{1} << 24;
};

// The definitions of one epoch, as the agent assigned them. Immutable once
// published (a larger epoch dictionary is a new object), so a DecodedDelta
// may keep a pointer to it.
struct WireDictionary {
  struct SeriesRef {
    uint32_t metric = 0;   // index into metrics
    uint32_t tag_set = 0;  // index into tag_sets
  };
  std::vector<metrics::MetricDef> metrics;
  std::vector<std::vector<metrics::TagPair>> tag_sets;  // each sorted by key
  std::vector<SeriesRef> series;
};

// One decoded message. `value.type` / `value.value_type` are the metric's.
// A trend's histogram stays sparse, as it travels (its non-zero buckets
// only): decoding and merging it cost its populated buckets, not its index
// range (a second's delta of a latency trend populates ~30 of ~2 600).
struct DecodedDelta {
  // A trend's histogram: buckets [first_bucket, first_bucket + bucket_count)
  // of DecodedDelta::buckets, the rest of an ExpHistogram::SparseView.
  struct Trend {
    int scale = 0;
    uint64_t count = 0;
    uint64_t zero_count = 0;
    double sum = 0;
    double min = 0;
    double max = 0;
    uint32_t first_bucket = 0;
    uint32_t bucket_count = 0;
  };
  struct Series {
    uint32_t id = 0;  // index into dictionary->series
    // Counters, gauges, rates: the value. Trends: `samples` (value.trend is
    // left empty); the histogram, when the message has one, is `trend`.
    metrics::SeriesValue value;
    bool has_trend = false;
    Trend trend;
  };

  uint32_t agent_index = 0;
  uint64_t epoch = 0;
  uint64_t seq = 0;
  uint64_t base_seq = 0;  // 0: absolute (the agent's whole cumulative snapshot)
  int64_t elapsed_ns = 0;
  std::shared_ptr<const WireDictionary> dictionary;  // never null after Decode
  std::vector<Series> series;
  // Every trend's non-zero buckets, trend after trend; each trend's indices
  // strictly increasing. Decode guarantees TrendOf(s).IsValid().
  std::vector<metrics::ExpHistogram::Bucket> buckets;

  bool absolute() const { return base_seq == 0; }
  // The histogram of series `s` (precondition: s.has_trend), a view into
  // `buckets`: valid while this object is alive and `buckets` unchanged.
  metrics::ExpHistogram::SparseView TrendOf(const Series& s) const;
  // `s.value` with its histogram built (value.trend set when s.has_trend).
  // Cold path.
  metrics::SeriesValue ValueOf(const Series& s) const;
  // The message as a Snapshot: every dictionary metric, and the series it
  // carries with their (delta or absolute) values. Cold path; for tests and
  // tools.
  metrics::Snapshot ToSnapshot() const;
};

// Agent side. Owns copies of the cumulative snapshots it has sent and not
// yet seen acknowledged (at most kMaxPending). One per connection to the
// coordinator; not thread-safe.
class SnapshotEncoder {
 public:
  // Unacknowledged messages remembered; an Ack of an older one fails.
  static constexpr size_t kMaxPending = 16;

  explicit SnapshotEncoder(uint32_t agent_index);

  // Encodes what `cumulative` (the agent's snapshot since the start of its
  // run, elapsed_ns() included) gained since the last acknowledged message —
  // or all of it (an absolute message) when nothing of this epoch is
  // acknowledged yet, or when `cumulative` is not a successor of the
  // acknowledged one (a series lost samples or disappeared): the coordinator
  // then replaces the agent's values. Every call takes a new sequence number.
  // Throws std::invalid_argument if a metric name is used with two types.
  std::string Encode(const metrics::Snapshot& cumulative);

  // The coordinator holds the state of message `seq` (its reply). Returns
  // false when `seq` is neither a pending message nor the acknowledged one:
  // the caller must Reset(). Acks of older messages than the acknowledged
  // one are ignored (true) when they are the acknowledged seq itself.
  bool Ack(uint64_t seq);

  // Starts a new epoch: forgets ids, the acknowledged state and pending
  // messages; the next Encode is absolute and defines everything again.
  // Sequence numbers keep increasing.
  void Reset();

  uint32_t agent_index() const { return agent_index_; }
  uint64_t epoch() const { return epoch_; }
  uint64_t last_seq() const { return next_seq_ - 1; }
  uint64_t acked_seq() const { return acked_seq_; }  // 0: none in this epoch

 private:
  struct Pending {
    uint64_t seq = 0;
    metrics::Snapshot cumulative;
    size_t metric_count = 0;  // dictionary sizes once this message was built
    size_t tag_set_count = 0;
    size_t series_count = 0;
    std::vector<uint32_t> wire_of_series;  // cumulative series index → wire series id
  };

  uint32_t agent_index_;
  uint64_t epoch_ = 1;
  uint64_t next_seq_ = 1;
  uint64_t acked_seq_ = 0;

  // Dictionaries of the epoch (wire id = index).
  std::vector<metrics::MetricDef> metrics_;
  std::unordered_map<std::string, uint32_t> metric_ids_;
  std::vector<std::vector<metrics::TagPair>> tag_sets_;
  std::unordered_map<std::string, uint32_t> tag_set_ids_;  // canonical encoding → id
  std::vector<WireDictionary::SeriesRef> series_;
  std::unordered_map<uint64_t, uint32_t> series_ids_;  // metric << 32 | tag set → id
  // Definitions with ids below these are known to the coordinator.
  size_t acked_metrics_ = 0, acked_tag_sets_ = 0, acked_series_ = 0;

  // The acknowledged cumulative state: values by wire series id.
  std::unique_ptr<Pending> acked_;
  std::vector<const metrics::SeriesValue*> acked_by_wire_;
  std::deque<Pending> pending_;
};

// Coordinator side, one per agent connection. Keeps the agent's dictionaries.
// Not thread-safe; the coordinator's main thread.
class SnapshotDecoder {
 public:
  explicit SnapshotDecoder(uint32_t agent_index, DecodeLimits limits = {});

  // Decodes one message. Throws DecodeError (state unchanged) on anything
  // malformed, over a limit, from another agent, of an older epoch than the
  // dictionaries held, a delta of an epoch never seen, an unknown id, or a
  // definition contradicting an earlier one of the same id.
  DecodedDelta Decode(std::span<const uint8_t> message);
  DecodedDelta Decode(std::string_view message) { return Decode(Bytes(message)); }
  // The same into `out`, reusing its vectors' capacity (a caller that
  // decodes every second allocates nothing in steady state). On a
  // DecodeError `out` is unspecified (but valid to reuse).
  void Decode(std::span<const uint8_t> message, DecodedDelta& out);
  void Decode(std::string_view message, DecodedDelta& out) { Decode(Bytes(message), out); }

  // Forgets the dictionaries and the epoch (the agent reconnected as a new
  // process): any epoch is accepted next, starting with an absolute message.
  void Reset();

  uint64_t epoch() const { return epoch_; }
  const WireDictionary& dictionary() const { return *dictionary_; }

 private:
  static std::span<const uint8_t> Bytes(std::string_view s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
  }

  uint32_t agent_index_;
  DecodeLimits limits_;
  uint64_t epoch_ = 0;  // 0: none yet
  std::shared_ptr<const WireDictionary> dictionary_;
};

namespace detail {

// What cumulative value `cur` gained since `base` (nullptr: all of `cur`),
// with the delta semantics of the wire format above (gauges: cur's state).
// nullopt when `cur` is not a successor of `base` (fewer samples, passes or
// fails, or a histogram that ExpHistogram::Difference rejects).
std::optional<metrics::SeriesValue> DeltaFrom(const metrics::SeriesValue& cur,
                                              const metrics::SeriesValue* base);

}  // namespace detail

}  // namespace stampede::dist
