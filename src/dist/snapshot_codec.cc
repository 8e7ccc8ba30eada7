#include "dist/snapshot_codec.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>


namespace stampede::dist {
namespace {

using metrics::ExpHistogram;
using metrics::MetricDef;
using metrics::MetricType;
using metrics::SeriesValue;
using metrics::TagPair;
using metrics::ValueType;

constexpr uint8_t kMagic0 = 'S';
constexpr uint8_t kMagic1 = 'D';

// ---- writing ----

void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(static_cast<uint8_t>(v) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}

int64_t UnZigZag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

// Explicit byte order, so the format does not depend on the host's.
void PutF64(std::string& out, double d) {
  const auto bits = std::bit_cast<uint64_t>(d);
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(bits >> (8 * i));
  out.append(b, 8);
}

void PutString(std::string& out, std::string_view s) {
  PutVarint(out, s.size());
  out.append(s);
}

uint8_t MetricFlags(const MetricDef& def) {
  return static_cast<uint8_t>((def.custom ? 1 : 0) | (def.internal ? 2 : 0));
}

bool SameDef(const MetricDef& a, const MetricDef& b) {
  return a.name == b.name && a.type == b.type && a.value_type == b.value_type &&
         a.custom == b.custom && a.internal == b.internal;
}

void PutHistogram(std::string& out, const std::optional<ExpHistogram>& h) {
  if (!h) {
    out.push_back(0);
    return;
  }
  out.push_back(1);
  PutVarint(out, ZigZag(h->scale()));
  PutVarint(out, h->count());
  PutVarint(out, h->zero_count());
  PutF64(out, h->sum());
  PutF64(out, h->min());
  PutF64(out, h->max());
  const int32_t first = h->positive_offset();
  PutVarint(out, ZigZag(first));
  // Non-zero buckets only: a second's delta populates a few of the indices
  // its range spans.
  size_t nonzero = 0;
  h->ForEachBucketRun([&](int32_t, std::span<const uint64_t> counts) {
    for (uint64_t c : counts) nonzero += c != 0;
  });
  PutVarint(out, nonzero);
  int64_t next = first;  // index the next gap is measured from
  h->ForEachBucketRun([&](int32_t index, std::span<const uint64_t> counts) {
    for (size_t i = 0; i < counts.size(); ++i) {
      if (counts[i] == 0) continue;
      const int64_t at = static_cast<int64_t>(index) + static_cast<int64_t>(i);
      PutVarint(out, static_cast<uint64_t>(at - next));
      PutVarint(out, counts[i]);
      next = at + 1;
    }
  });
}

void PutValue(std::string& out, uint32_t wire_id, const SeriesValue& v) {
  PutVarint(out, wire_id);
  PutVarint(out, v.samples);
  switch (v.type) {
    case MetricType::kCounter:
      PutF64(out, v.count);
      break;
    case MetricType::kGauge:
      PutF64(out, v.value);
      PutF64(out, v.min);
      PutF64(out, v.max);
      break;
    case MetricType::kRate:
      PutVarint(out, v.passes);
      PutVarint(out, v.fails);
      break;
    case MetricType::kTrend:
      PutHistogram(out, v.trend);
      break;
  }
}

std::string TagSetKey(std::span<const TagPair> tags) {
  std::string key;
  for (const TagPair& t : tags) {
    PutString(key, t.key);
    PutString(key, t.value);
  }
  return key;
}

}  // namespace

std::optional<SeriesValue> detail::DeltaFrom(const SeriesValue& cur, const SeriesValue* base) {
  if (base == nullptr) return cur;
  if (cur.samples < base->samples) return std::nullopt;
  SeriesValue d;
  d.type = cur.type;
  d.value_type = cur.value_type;
  d.samples = cur.samples - base->samples;
  switch (cur.type) {
    case MetricType::kCounter:
      d.count = cur.count - base->count;
      break;
    case MetricType::kGauge:
      d.value = cur.value;
      d.min = cur.min;
      d.max = cur.max;
      break;
    case MetricType::kRate:
      if (cur.passes < base->passes || cur.fails < base->fails) return std::nullopt;
      d.passes = cur.passes - base->passes;
      d.fails = cur.fails - base->fails;
      break;
    case MetricType::kTrend:
      if (!base->trend || base->trend->count() == 0) {
        d.trend = cur.trend;
      } else {
        if (!cur.trend) return std::nullopt;
        d.trend = ExpHistogram::Difference(*cur.trend, *base->trend);
        if (!d.trend) return std::nullopt;
        if (d.trend->count() == 0) d.trend.reset();
      }
      break;
  }
  return d;
}

namespace {

bool Changed(const SeriesValue& d, const SeriesValue& cur, const SeriesValue* base) {
  if (base == nullptr || d.samples != 0) return true;
  switch (cur.type) {
    case MetricType::kCounter:
      return d.count != 0;
    case MetricType::kGauge:
      return cur.value != base->value || cur.min != base->min || cur.max != base->max;
    case MetricType::kRate:
      return d.passes != 0 || d.fails != 0;
    case MetricType::kTrend:
      return d.trend.has_value();
  }
  return true;
}

// ---- reading ----

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> in) : in_(in) {}

  [[noreturn, gnu::cold, gnu::noinline]] void Fail(const std::string& what) const {
    throw DecodeError("snapshot message: " + what + " at byte " + std::to_string(pos_));
  }

  size_t remaining() const { return in_.size() - pos_; }
  bool done() const { return pos_ == in_.size(); }

  uint8_t Byte(const char* what) {
    if (pos_ >= in_.size()) Fail(std::string("truncated (") + what + ")");
    return in_[pos_++];
  }

  // Most varints of a message are one byte (bucket gaps and counts), and
  // all but the last few have 10 bytes left: both without a bounds check
  // per byte (the hot loop of decoding a second of 200 agents).
  uint64_t Varint(const char* what) {
    if (pos_ < in_.size() && in_[pos_] < 0x80) return in_[pos_++];
    if (in_.size() - pos_ >= 10) {
      const uint8_t* p = in_.data() + pos_;
      uint64_t v = 0;
      for (int i = 0; i < 10; ++i) {
        const uint8_t b = p[i];
        if (i == 9 && b > 1) break;  // overflow: the checked path names it
        v |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
        if ((b & 0x80) == 0) {
          pos_ += static_cast<size_t>(i) + 1;
          return v;
        }
      }
    }
    return VarintChecked(what);
  }

  [[gnu::noinline]] uint64_t VarintChecked(const char* what) {
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      const uint8_t b = Byte(what);
      if (shift == 63 && b > 1) Fail(std::string("varint overflow (") + what + ")");
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return v;
    }
    Fail(std::string("varint too long (") + what + ")");
  }

  // Two one-byte varints at the current position: reads them (true), or
  // reads nothing (false).
  bool TwoSmallVarints(uint64_t& a, uint64_t& b) {
    if (in_.size() - pos_ < 2 || ((in_[pos_] | in_[pos_ + 1]) & 0x80) != 0) return false;
    a = in_[pos_];
    b = in_[pos_ + 1];
    pos_ += 2;
    return true;
  }

  uint64_t VarintMax(uint64_t max, const char* what) {
    const size_t at = pos_;
    const uint64_t v = Varint(what);
    if (v > max) {
      pos_ = at;
      Fail(std::string(what) + " " + std::to_string(v) + " exceeds " + std::to_string(max));
    }
    return v;
  }

  double F64(const char* what, bool finite = true) {
    if (remaining() < 8) Fail(std::string("truncated (") + what + ")");
    uint64_t bits = 0;
    for (int i = 0; i < 8; ++i) bits |= static_cast<uint64_t>(in_[pos_ + i]) << (8 * i);
    const double d = std::bit_cast<double>(bits);
    if (finite && !std::isfinite(d)) Fail(std::string(what) + " is not finite");
    pos_ += 8;
    return d;
  }

  std::string String(uint32_t max, const char* what) {
    const uint64_t n = VarintMax(max, what);
    if (n > remaining()) Fail(std::string("truncated (") + what + ")");
    std::string s(reinterpret_cast<const char*>(in_.data() + pos_), n);
    pos_ += n;
    return s;
  }

  // A count of entries each at least `min_bytes` long: bounded by what is
  // left, so that no count makes us reserve more than the input justifies.
  uint64_t Count(uint64_t max, size_t min_bytes, const char* what) {
    const uint64_t n = VarintMax(max, what);
    if (n > remaining() / min_bytes) Fail(std::string("truncated (") + what + ")");
    return n;
  }

 private:
  std::span<const uint8_t> in_;
  size_t pos_ = 0;
};

// Definitions of one message on top of a dictionary: the base's entries and
// the ones added by this message, committed only when the whole message is
// valid.
struct DictionaryView {
  const WireDictionary* base;
  WireDictionary added;

  size_t metric_count() const { return base->metrics.size() + added.metrics.size(); }
  size_t tag_set_count() const { return base->tag_sets.size() + added.tag_sets.size(); }
  size_t series_count() const { return base->series.size() + added.series.size(); }
  const MetricDef& metric(size_t i) const {
    return i < base->metrics.size() ? base->metrics[i] : added.metrics[i - base->metrics.size()];
  }
  const std::vector<TagPair>& tag_set(size_t i) const {
    return i < base->tag_sets.size() ? base->tag_sets[i]
                                     : added.tag_sets[i - base->tag_sets.size()];
  }
  const WireDictionary::SeriesRef& series(size_t i) const {
    return i < base->series.size() ? base->series[i] : added.series[i - base->series.size()];
  }
};

// Where a definition's id goes: a new entry (true), a repeat (false), or a
// gap (error).
bool IsNewId(Reader& r, uint64_t id, size_t size, const char* what) {
  if (id > size) {
    r.Fail(std::string(what) + " id " + std::to_string(id) + " skips ids (next is " +
           std::to_string(size) + ")");
  }
  return id == size;
}

// Reads one trend's histogram into s.trend and out.buckets (sparse, as it
// travels). Validates everything ExpHistogram::SparseView::IsValid requires.
void ReadHistogram(Reader& r, uint64_t& bucket_budget, DecodedDelta& out,
                   DecodedDelta::Series& s) {
  const uint8_t present = r.Byte("histogram flag");
  if (present == 0) return;
  if (present != 1) r.Fail("bad histogram flag");
  const int64_t scale = UnZigZag(r.Varint("scale"));
  if (scale < ExpHistogram::kMinScale || scale > ExpHistogram::kMaxScale) r.Fail("bad scale");
  DecodedDelta::Trend& t = s.trend;
  t.scale = static_cast<int>(scale);
  t.count = r.Varint("histogram count");
  t.zero_count = r.Varint("zero count");
  t.sum = r.F64("histogram sum");
  t.min = r.F64("histogram min");
  t.max = r.F64("histogram max");
  const int64_t first = UnZigZag(r.Varint("first bucket index"));
  constexpr int64_t kIndexLimit = std::numeric_limits<int32_t>::max() / 2;
  if (first < -kIndexLimit || first > kIndexLimit) r.Fail("bucket index out of range");
  const uint64_t k = r.Count(ExpHistogram::kMaxBuckets, 2, "bucket count");
  if (k > bucket_budget) r.Fail("message histograms exceed the bucket limit");
  bucket_budget -= k;
  t.first_bucket = static_cast<uint32_t>(out.buckets.size());
  t.bucket_count = static_cast<uint32_t>(k);
  // k <= what the message holds. Appended one by one after a reserve: a
  // resize() would zero the buckets first (a tenth of the coordinator's
  // merge time at 200 agents, merge_bench).
  if (out.buckets.capacity() < out.buckets.size() + k) {
    out.buckets.reserve(std::max<size_t>(out.buckets.size() + k, 2 * out.buckets.capacity()));
  }
  int64_t at = first - 1;
  uint64_t total = t.zero_count;
  for (uint64_t i = 0; i < k; ++i) {
    uint64_t gap = 0;
    uint64_t c = 0;
    if (!r.TwoSmallVarints(gap, c)) {  // the common case: both one byte
      gap = r.VarintMax(ExpHistogram::kMaxBuckets, "bucket gap");
      c = r.Varint("bucket count");
    }
    if (c == 0) r.Fail("zero bucket listed");
    if (total + c < total) r.Fail("histogram counts overflow");
    total += c;
    // No overflow: at most kMaxBuckets buckets, gaps <= kMaxBuckets each.
    at += 1 + static_cast<int64_t>(gap);
    out.buckets.push_back({static_cast<int32_t>(at), c});  // checked below, before use
  }
  // Indices increase: the last one bounds them all.
  if (k > 0) {
    if (at > kIndexLimit) r.Fail("bucket index out of range");
    if (at - out.buckets[t.first_bucket].index >= ExpHistogram::kMaxBuckets) {
      r.Fail("histogram wider than " + std::to_string(ExpHistogram::kMaxBuckets) + " buckets");
    }
  }
  if (total != t.count) r.Fail("histogram counts do not add up to its count");
  if (t.count > 0 && !(t.min <= t.max)) r.Fail("histogram min above max");
  s.has_trend = true;
}

}  // namespace

// ---------------------------------------------------------------- encoder

SnapshotEncoder::SnapshotEncoder(uint32_t agent_index) : agent_index_(agent_index) {}

void SnapshotEncoder::Reset() {
  ++epoch_;
  acked_seq_ = 0;
  metrics_.clear();
  metric_ids_.clear();
  tag_sets_.clear();
  tag_set_ids_.clear();
  series_.clear();
  series_ids_.clear();
  acked_metrics_ = acked_tag_sets_ = acked_series_ = 0;
  acked_.reset();
  acked_by_wire_.clear();
  pending_.clear();
}

bool SnapshotEncoder::Ack(uint64_t seq) {
  if (acked_ && seq == acked_seq_) return true;
  auto it = std::find_if(pending_.begin(), pending_.end(),
                         [&](const Pending& p) { return p.seq == seq; });
  if (it == pending_.end()) {
    // Nothing of this epoch is acknowledged: the next message is absolute
    // anyway, whatever the coordinator holds.
    return !acked_ && seq < next_seq_;
  }
  acked_ = std::make_unique<Pending>(std::move(*it));
  pending_.erase(pending_.begin(), it + 1);
  acked_seq_ = seq;
  acked_metrics_ = acked_->metric_count;
  acked_tag_sets_ = acked_->tag_set_count;
  acked_series_ = acked_->series_count;
  acked_by_wire_.assign(acked_series_, nullptr);
  const auto series = acked_->cumulative.series();
  for (size_t i = 0; i < series.size(); ++i) {
    acked_by_wire_[acked_->wire_of_series[i]] = &series[i].value;
  }
  return true;
}

std::string SnapshotEncoder::Encode(const metrics::Snapshot& cumulative) {
  Pending p;
  p.seq = next_seq_;
  p.cumulative = cumulative;
  const metrics::Snapshot& cum = p.cumulative;

  // Wire ids for every metric, tag set and series (new ones get the next id).
  std::vector<uint32_t> wire_metric(cum.metrics().size());
  for (size_t m = 0; m < cum.metrics().size(); ++m) {
    const MetricDef& def = cum.metrics()[m];
    auto [it, inserted] = metric_ids_.try_emplace(def.name, static_cast<uint32_t>(metrics_.size()));
    if (inserted) {
      metrics_.push_back(def);
    } else if (metrics_[it->second].type != def.type ||
               metrics_[it->second].value_type != def.value_type) {
      throw std::invalid_argument("metric \"" + def.name + "\" changed its type");
    }
    wire_metric[m] = it->second;
  }
  constexpr uint32_t kUnmapped = ~uint32_t{0};
  std::vector<uint32_t> wire_tags;
  p.wire_of_series.reserve(cum.series().size());
  for (const auto& s : cum.series()) {
    if (s.tag_set >= wire_tags.size()) wire_tags.resize(s.tag_set + 1, kUnmapped);
    uint32_t& t = wire_tags[s.tag_set];
    if (t == kUnmapped) {
      const auto tags = cum.tags(s.tag_set);
      auto [it, inserted] =
          tag_set_ids_.try_emplace(TagSetKey(tags), static_cast<uint32_t>(tag_sets_.size()));
      if (inserted) tag_sets_.emplace_back(tags.begin(), tags.end());
      t = it->second;
    }
    const uint64_t key = (static_cast<uint64_t>(wire_metric[s.metric]) << 32) | t;
    auto [it, inserted] = series_ids_.try_emplace(key, static_cast<uint32_t>(series_.size()));
    if (inserted) series_.push_back({wire_metric[s.metric], t});
    p.wire_of_series.push_back(it->second);
  }
  p.metric_count = metrics_.size();
  p.tag_set_count = tag_sets_.size();
  p.series_count = series_.size();

  // Values: a delta from the acknowledged state when cum is its successor.
  std::string values;
  size_t value_count = 0;
  bool absolute = !acked_;
  if (!absolute) {
    size_t matched = 0;
    const auto series = cum.series();
    for (size_t i = 0; i < series.size() && !absolute; ++i) {
      const uint32_t wire = p.wire_of_series[i];
      const SeriesValue* base = wire < acked_by_wire_.size() ? acked_by_wire_[wire] : nullptr;
      matched += base != nullptr;
      std::optional<SeriesValue> d = detail::DeltaFrom(series[i].value, base);
      if (!d) {
        absolute = true;
      } else if (Changed(*d, series[i].value, base)) {
        PutValue(values, wire, *d);
        ++value_count;
      }
    }
    // A series of the acknowledged state that is gone: not a successor.
    if (matched != acked_->cumulative.series().size()) absolute = true;
  }
  if (absolute) {
    values.clear();
    value_count = 0;
    const auto series = cum.series();
    for (size_t i = 0; i < series.size(); ++i) {
      PutValue(values, p.wire_of_series[i], series[i].value);
      ++value_count;
    }
  }

  std::string out;
  out.reserve(values.size() + 64);
  out.push_back(static_cast<char>(kMagic0));
  out.push_back(static_cast<char>(kMagic1));
  out.push_back(static_cast<char>(kWireVersion));
  PutVarint(out, agent_index_);
  PutVarint(out, epoch_);
  PutVarint(out, p.seq);
  PutVarint(out, absolute ? 0 : acked_seq_);
  PutVarint(out, static_cast<uint64_t>(std::max<int64_t>(cum.elapsed_ns(), 0)));
  PutVarint(out, metrics_.size() - acked_metrics_);
  for (size_t i = acked_metrics_; i < metrics_.size(); ++i) {
    const MetricDef& def = metrics_[i];
    PutVarint(out, i);
    PutString(out, def.name);
    out.push_back(static_cast<char>(def.type));
    out.push_back(static_cast<char>(def.value_type));
    out.push_back(static_cast<char>(MetricFlags(def)));
  }
  PutVarint(out, tag_sets_.size() - acked_tag_sets_);
  for (size_t i = acked_tag_sets_; i < tag_sets_.size(); ++i) {
    PutVarint(out, i);
    PutVarint(out, tag_sets_[i].size());
    for (const TagPair& t : tag_sets_[i]) {
      PutString(out, t.key);
      PutString(out, t.value);
    }
  }
  PutVarint(out, series_.size() - acked_series_);
  for (size_t i = acked_series_; i < series_.size(); ++i) {
    PutVarint(out, i);
    PutVarint(out, series_[i].metric);
    PutVarint(out, series_[i].tag_set);
  }
  PutVarint(out, value_count);
  out += values;

  ++next_seq_;
  pending_.push_back(std::move(p));
  if (pending_.size() > kMaxPending) pending_.pop_front();
  return out;
}

// ---------------------------------------------------------------- decoder

SnapshotDecoder::SnapshotDecoder(uint32_t agent_index, DecodeLimits limits)
    : agent_index_(agent_index),
      limits_(limits),
      dictionary_(std::make_shared<const WireDictionary>()) {}

void SnapshotDecoder::Reset() {
  epoch_ = 0;
  dictionary_ = std::make_shared<const WireDictionary>();
}

DecodedDelta SnapshotDecoder::Decode(std::span<const uint8_t> message) {
  DecodedDelta d;
  Decode(message, d);
  return d;
}

void SnapshotDecoder::Decode(std::span<const uint8_t> message, DecodedDelta& d) {
  d.dictionary.reset();
  d.series.clear();
  d.buckets.clear();
  Reader r(message);
  if (message.size() > limits_.max_message_bytes) {
    r.Fail("message of " + std::to_string(message.size()) + " bytes exceeds the limit of " +
           std::to_string(limits_.max_message_bytes));
  }
  if (r.Byte("magic") != kMagic0 || r.Byte("magic") != kMagic1) r.Fail("not a snapshot message");
  if (const uint8_t v = r.Byte("version"); v != kWireVersion) {
    r.Fail("unsupported version " + std::to_string(v));
  }
  d.agent_index = static_cast<uint32_t>(r.VarintMax(std::numeric_limits<uint32_t>::max(), "agent"));
  if (d.agent_index != agent_index_) {
    r.Fail("message of agent " + std::to_string(d.agent_index) + " on the connection of agent " +
           std::to_string(agent_index_));
  }
  d.epoch = r.Varint("epoch");
  d.seq = r.Varint("seq");
  d.base_seq = r.Varint("base seq");
  d.elapsed_ns = static_cast<int64_t>(
      r.VarintMax(static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), "elapsed_ns"));
  if (d.epoch == 0 || d.seq == 0) r.Fail("epoch and seq start at 1");
  if (d.base_seq >= d.seq) r.Fail("base seq not before seq");
  if (d.epoch < epoch_) r.Fail("message of an old epoch " + std::to_string(d.epoch));
  const bool new_epoch = d.epoch != epoch_;
  if (new_epoch && !d.absolute()) r.Fail("delta of an epoch never started");
  static const WireDictionary kEmpty;
  DictionaryView dict{new_epoch ? &kEmpty : dictionary_.get(), {}};
  const uint32_t max_entries = limits_.max_dictionary_entries;

  // Metric definitions.
  std::unordered_set<std::string> names;  // every metric name, once a new one arrives
  bool names_built = false;
  for (uint64_t n = r.Count(max_entries, 5, "metric definitions"), i = 0; i < n; ++i) {
    const uint64_t id = r.VarintMax(max_entries - 1, "metric id");
    MetricDef def;
    def.name = r.String(limits_.max_string_bytes, "metric name");
    if (!metrics::Registry::IsValidName(def.name)) r.Fail("invalid metric name");
    const uint8_t type = r.Byte("metric type");
    const uint8_t value_type = r.Byte("value type");
    const uint8_t flags = r.Byte("metric flags");
    if (type > 3 || value_type > 2 || flags > 3) r.Fail("bad metric type or flags");
    def.type = static_cast<MetricType>(type);
    def.value_type = static_cast<ValueType>(value_type);
    def.custom = (flags & 1) != 0;
    def.internal = (flags & 2) != 0;
    if (IsNewId(r, id, dict.metric_count(), "metric")) {
      // One name, one metric: the encoder assigns ids by name, and a name
      // under two ids (say a counter and a trend) would make merging and
      // ToSnapshot fail (found by tests/fuzz/dist_wire_fuzz).
      if (!names_built) {
        for (size_t m = 0; m < dict.metric_count(); ++m) names.insert(dict.metric(m).name);
        names_built = true;
      }
      if (!names.insert(def.name).second) {
        r.Fail("metric name \"" + def.name + "\" defined under two ids");
      }
      dict.added.metrics.push_back(std::move(def));
    } else if (!SameDef(dict.metric(id), def)) {
      r.Fail("metric id " + std::to_string(id) + " redefined differently");
    }
  }
  // Tag set definitions.
  for (uint64_t n = r.Count(max_entries, 2, "tag set definitions"), i = 0; i < n; ++i) {
    const uint64_t id = r.VarintMax(max_entries - 1, "tag set id");
    const uint64_t tag_count = r.Count(limits_.max_tags_per_set, 2, "tags");
    std::vector<TagPair> tags;
    tags.reserve(tag_count);
    for (uint64_t t = 0; t < tag_count; ++t) {
      TagPair tag;
      tag.key = r.String(limits_.max_string_bytes, "tag key");
      tag.value = r.String(limits_.max_string_bytes, "tag value");
      if (!tags.empty() && !(tags.back().key < tag.key)) r.Fail("tag keys not sorted and unique");
      tags.push_back(std::move(tag));
    }
    if (IsNewId(r, id, dict.tag_set_count(), "tag set")) {
      dict.added.tag_sets.push_back(std::move(tags));
    } else if (dict.tag_set(id) != tags) {
      r.Fail("tag set id " + std::to_string(id) + " redefined differently");
    }
  }
  // Series definitions.
  for (uint64_t n = r.Count(max_entries, 3, "series definitions"), i = 0; i < n; ++i) {
    const uint64_t id = r.VarintMax(max_entries - 1, "series id");
    WireDictionary::SeriesRef ref;
    ref.metric = static_cast<uint32_t>(r.VarintMax(max_entries, "series metric"));
    ref.tag_set = static_cast<uint32_t>(r.VarintMax(max_entries, "series tag set"));
    if (ref.metric >= dict.metric_count()) r.Fail("series of an unknown metric id");
    if (ref.tag_set >= dict.tag_set_count()) r.Fail("series of an unknown tag set id");
    if (IsNewId(r, id, dict.series_count(), "series")) {
      dict.added.series.push_back(ref);
    } else if (const auto& old = dict.series(id);
               old.metric != ref.metric || old.tag_set != ref.tag_set) {
      r.Fail("series id " + std::to_string(id) + " redefined differently");
    }
  }
  // Values.
  const uint64_t value_count = r.Count(limits_.max_series_per_message, 3, "series values");
  d.series.reserve(value_count);
  std::vector<bool> seen(dict.series_count(), false);
  uint64_t bucket_budget = limits_.max_buckets_per_message;
  for (uint64_t i = 0; i < value_count; ++i) {
    const uint64_t id = r.Varint("series id");
    if (id >= dict.series_count()) r.Fail("value of an unknown series id " + std::to_string(id));
    if (seen[id]) r.Fail("series id " + std::to_string(id) + " given twice");
    seen[id] = true;
    const MetricDef& def = dict.metric(dict.series(id).metric);
    DecodedDelta::Series& s = d.series.emplace_back();
    s.id = static_cast<uint32_t>(id);
    SeriesValue& v = s.value;
    v.type = def.type;
    v.value_type = def.value_type;
    v.samples = r.Varint("samples");
    switch (def.type) {
      case MetricType::kCounter:
        v.count = r.F64("counter value");
        break;
      case MetricType::kGauge:
        v.value = r.F64("gauge value");
        v.min = r.F64("gauge min");
        v.max = r.F64("gauge max");
        break;
      case MetricType::kRate:
        v.passes = r.Varint("passes");
        v.fails = r.Varint("fails");
        break;
      case MetricType::kTrend:
        ReadHistogram(r, bucket_budget, d, s);
        break;
    }
  }
  if (!r.done()) r.Fail("trailing bytes");

  // Commit: a dictionary that grew is a new object (deltas already handed
  // out keep theirs).
  if (new_epoch || !dict.added.metrics.empty() || !dict.added.tag_sets.empty() ||
      !dict.added.series.empty()) {
    auto next = std::make_shared<WireDictionary>(*dict.base);
    auto append = [](auto& to, auto& from) {
      to.insert(to.end(), std::make_move_iterator(from.begin()),
                std::make_move_iterator(from.end()));
    };
    append(next->metrics, dict.added.metrics);
    append(next->tag_sets, dict.added.tag_sets);
    append(next->series, dict.added.series);
    dictionary_ = std::move(next);
  }
  epoch_ = d.epoch;
  d.dictionary = dictionary_;
}

ExpHistogram::SparseView DecodedDelta::TrendOf(const Series& s) const {
  ExpHistogram::SparseView v;
  v.scale = s.trend.scale;
  v.count = s.trend.count;
  v.zero_count = s.trend.zero_count;
  v.sum = s.trend.sum;
  v.min = s.trend.min;
  v.max = s.trend.max;
  v.buckets = std::span<const ExpHistogram::Bucket>(buckets).subspan(s.trend.first_bucket,
                                                                     s.trend.bucket_count);
  return v;
}

SeriesValue DecodedDelta::ValueOf(const Series& s) const {
  SeriesValue v = s.value;
  if (s.has_trend) v.trend = ExpHistogram::FromSparse(TrendOf(s));
  return v;
}

metrics::Snapshot DecodedDelta::ToSnapshot() const {
  metrics::Snapshot s;
  std::vector<metrics::MetricId> ids;
  ids.reserve(dictionary->metrics.size());
  for (const MetricDef& def : dictionary->metrics) ids.push_back(s.Define(def));
  for (const Series& x : series) {
    const auto& ref = dictionary->series[x.id];
    s.Upsert(ids[ref.metric], dictionary->tag_sets[ref.tag_set]) = ValueOf(x);
  }
  s.set_elapsed_ns(elapsed_ns);
  return s;
}

}  // namespace stampede::dist
