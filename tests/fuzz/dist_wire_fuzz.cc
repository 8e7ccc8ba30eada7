// libFuzzer target for a distributed run's wire messages: what an agent (or
// anything that reaches the coordinator's port) POSTs, decoded by
// dist::SnapshotDecoder (src/dist/snapshot_codec.h). The coordinator's own
// JSON bodies (src/dist/coordinator.cc) are parsed inline in its request
// handlers, not through a function this target could call.
//
// Input: a sequence of messages, each a 2-byte little-endian length then
// that many bytes (the last one takes what is left), all decoded in order by
// one decoder (agent 0), so epochs, deltas and dictionaries carry over.
//
// Invariants (a broken one aborts; DecodeError is a normal refusal, any
// other exception is a finding):
//   - a refused message leaves the decoder's state unchanged: a twin decoder
//     that sees only the accepted messages (through the other Decode
//     overload, reusing one DecodedDelta) accepts them all with the same
//     result;
//   - an accepted message: every series id is in the dictionary, every trend
//     histogram IsValid(), ToSnapshot() works;
//   - snapshot -> wire -> snapshot is a fixpoint: the decoded message as a
//     Snapshot, encoded by a fresh SnapshotEncoder and decoded by a fresh
//     decoder, gives the same series (metric, tags, samples, values).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "dist/snapshot_codec.h"
#include "metrics/snapshot.h"

namespace stampede::dist {
namespace {

using ::stampede::fuzz::Require;

DecodeLimits SmallLimits() {
  DecodeLimits l;
  l.max_message_bytes = 1 << 20;
  l.max_dictionary_entries = 1 << 12;
  l.max_series_per_message = 1 << 12;
  l.max_buckets_per_message = 1 << 16;
  return l;
}

bool SameValue(const metrics::SeriesValue& a, const metrics::SeriesValue& b) {
  auto same = [](double x, double y) { return x == y || (x != x && y != y); };
  if (a.type != b.type || a.value_type != b.value_type || a.samples != b.samples) return false;
  if (!same(a.count, b.count) || !same(a.value, b.value) || !same(a.min, b.min) ||
      !same(a.max, b.max) || a.passes != b.passes || a.fails != b.fails) {
    return false;
  }
  if (a.trend.has_value() != b.trend.has_value()) return false;
  if (a.trend) {
    if (a.trend->count() != b.trend->count() || !same(a.trend->sum(), b.trend->sum())) return false;
  }
  return true;
}

// Series of `s` keyed by (metric name, tags) content.
bool SameSnapshot(const metrics::Snapshot& a, const metrics::Snapshot& b) {
  if (a.series().size() != b.series().size()) return false;
  for (const auto& sa : a.series()) {
    const auto& name = a.metrics()[sa.metric].name;
    const auto mb = b.FindMetric(name);
    if (!mb) return false;
    const auto tags = a.tags(sa.tag_set);
    const auto ib = b.FindSeries(*mb, tags);
    if (!ib) return false;
    if (!SameValue(sa.value, b.series()[*ib].value)) return false;
  }
  return true;
}

void CheckAccepted(const DecodedDelta& d) {
  Require(d.dictionary != nullptr, "no dictionary after Decode");
  for (const auto& s : d.series) {
    Require(s.id < d.dictionary->series.size(), "a series id outside the dictionary");
    if (s.has_trend) {
      Require(d.TrendOf(s).IsValid(), "an invalid trend histogram");
      (void)d.ValueOf(s);
    }
  }
  const metrics::Snapshot snap = d.ToSnapshot();
  if (!d.absolute()) return;

  // snapshot -> wire -> snapshot.
  metrics::Snapshot input = snap;
  input.set_elapsed_ns(d.elapsed_ns);
  SnapshotEncoder encoder(0);
  std::string wire;
  try {
    wire = encoder.Encode(input);
  } catch (const std::invalid_argument&) {
    return;  // one name with two types: the decoder may take it, the encoder not
  }
  SnapshotDecoder fresh(0);
  DecodedDelta again;
  try {
    again = fresh.Decode(wire);
  } catch (const DecodeError& e) {
    Require(false, "the decoder refuses what the encoder wrote", e.what());
  }
  const metrics::Snapshot round = again.ToSnapshot();
  Require(SameSnapshot(snap, round), "snapshot -> wire -> snapshot changed the series");
  // And once more, to a fixpoint.
  SnapshotEncoder encoder2(0);
  metrics::Snapshot input2 = round;
  input2.set_elapsed_ns(d.elapsed_ns);
  SnapshotDecoder fresh2(0);
  Require(SameSnapshot(round, fresh2.Decode(encoder2.Encode(input2)).ToSnapshot()),
          "no fixpoint after two round trips");
}

}  // namespace
}  // namespace stampede::dist

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace stampede::dist;
  SnapshotDecoder decoder(0, SmallLimits());
  SnapshotDecoder twin(0, SmallLimits());  // sees only the accepted messages
  DecodedDelta reused;
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  int messages = 0;
  while (!rest.empty() && messages++ < 16) {
    size_t len = rest.size();
    if (rest.size() >= 2) {
      len = static_cast<uint8_t>(rest[0]) | (static_cast<size_t>(static_cast<uint8_t>(rest[1])) << 8);
      rest.remove_prefix(2);
      len = std::min(len, rest.size());
    } else {
      rest = {};
      break;
    }
    const std::string_view message = rest.substr(0, len);
    rest.remove_prefix(len);

    DecodedDelta fresh;
    try {
      fresh = decoder.Decode(message);
    } catch (const DecodeError& e) {
      Require(std::string_view(e.what()).size() > 0, "a refusal without a message");
      continue;  // the twin does not see it: the decoder's state must not change
    }
    try {
      twin.Decode(message, reused);
    } catch (const DecodeError& e) {
      Require(false, "the twin refuses what the decoder took (state changed on a refusal?)",
              e.what());
    }
    Require(decoder.epoch() == twin.epoch(), "epochs differ after the same messages");
    Require(fresh.series.size() == reused.series.size() && fresh.seq == reused.seq &&
                fresh.buckets.size() == reused.buckets.size(),
            "Decode into a reused DecodedDelta differs");
    CheckAccepted(fresh);
  }
  return 0;
}
