// W3C Trace Context (traceparent, Level 2 random flag) and Baggage for the
// requests stampede sends, plus id generation and head sampling.
// See ../shared/reference/otel-spec.md §3 and §4 (OTEL_TRACES_SAMPLER,
// OTEL_PROPAGATORS).
//
// Hot path: IdGenerator, Sampler::ShouldSample and FormatTraceparent allocate
// nothing and take no lock. Each worker owns its own IdGenerator.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/rng.h"
#include "otel/span.h"

namespace stampede::otel {

inline constexpr uint8_t kFlagSampled = 0x01;
inline constexpr uint8_t kFlagRandom = 0x02;  // Level 2: trace id low 56 bits random

// Random trace and span ids (xoshiro256** seeded from the OS). Every bit of a
// trace id is random unless a run tag is set; the W3C random flag (which
// covers the rightmost 7 bytes) may be set on every trace either way.
// Thread: one per worker.
class IdGenerator {
 public:
  IdGenerator();                        // seeded from getrandom(2)
  explicit IdGenerator(uint64_t seed);  // deterministic (tests)
  TraceId NewTraceId();
  SpanId NewSpanId();
  uint64_t Next() { return rng_(); }

  // Makes every later trace id start with `tag` (4 bytes, big-endian): the
  // run's tag, so that the built-in receiver can tell the run's traces from
  // others without remembering every id. The other 12 bytes stay random.
  void set_run_tag(uint32_t tag) {
    run_tag_ = tag;
    tagged_ = true;
  }

 private:
  core::Rng rng_;
  uint32_t run_tag_ = 0;
  bool tagged_ = false;
};

// The run tag of a run id (32 hex digits, as RunConfig::run_id): its first
// 8 hex digits, so a run's trace ids visibly start like its run id. 0 when
// `run_id` does not start with 8 hex digits.
uint32_t RunTraceTag(std::string_view run_id);
// True when `id` starts with `tag` (IdGenerator::set_run_tag).
inline bool HasRunTag(const TraceId& id, uint32_t tag) {
  return id.bytes[0] == static_cast<uint8_t>(tag >> 24) &&
         id.bytes[1] == static_cast<uint8_t>(tag >> 16) &&
         id.bytes[2] == static_cast<uint8_t>(tag >> 8) && id.bytes[3] == static_cast<uint8_t>(tag);
}

// "00-<32 hex>-<16 hex>-<2 hex>": always exactly 55 characters.
inline constexpr size_t kTraceparentSize = 55;
// Writes the header value into `out` (kTraceparentSize bytes, no NUL).
void FormatTraceparent(const TraceId& trace_id, const SpanId& span_id, uint8_t flags, char* out);

struct Traceparent {
  TraceId trace_id;
  SpanId parent_id;
  uint8_t flags = 0;
};
// Parses per the spec (lowercase hex; version ff invalid; higher versions
// parse the known prefix; all-zero ids invalid). nullopt when invalid.
std::optional<Traceparent> ParseTraceparent(std::string_view value);

std::string ToHex(const TraceId& id);
std::string ToHex(const SpanId& id);

// Which context headers stampede writes (OTEL_PROPAGATORS).
struct Propagators {
  bool tracecontext = true;
  bool baggage = true;
};
// Parses OTEL_PROPAGATORS ("tracecontext,baggage" by default; "none"
// disables all). Unknown entries (b3, jaeger, xray, ...) are reported as one
// warning line and ignored. Throws core::ConfigError for an empty entry list.
Propagators ParsePropagators(std::string_view value, std::string* warning);

// Percent-encodes a W3C baggage value (everything outside the allowed octets).
std::string EncodeBaggageValue(std::string_view value);

// Head sampling (OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG).
class Sampler {
 public:
  enum class Kind { kAlwaysOn, kAlwaysOff, kTraceIdRatio };
  Sampler() = default;
  Sampler(Kind kind, double ratio, bool parent_based)
      : kind_(kind), ratio_(ratio), parent_based_(parent_based), threshold_(Threshold(ratio)) {}

  // From the environment variables' values (empty: unset). Default
  // parentbased_always_on. Throws core::ConfigError naming the variable for
  // unknown samplers or a ratio outside [0, 1].
  static Sampler FromEnv(std::string_view sampler, std::string_view arg);

  // `parent_sampled`: nullopt for a root span (stampede starts traces, so the
  // parent-based variants only matter for child spans of a sampled iteration).
  bool ShouldSample(const TraceId& trace_id, std::optional<bool> parent_sampled) const {
    if (parent_based_ && parent_sampled.has_value()) return *parent_sampled;
    switch (kind_) {
      case Kind::kAlwaysOn:
        return true;
      case Kind::kAlwaysOff:
        return false;
      case Kind::kTraceIdRatio:
        return Randomness(trace_id) < threshold_;
    }
    return true;
  }
  Kind kind() const { return kind_; }
  double ratio() const { return ratio_; }
  std::string Describe() const;

 private:
  // The right-most 56 bits of the trace id, as the spec's ProbabilitySampler
  // reads its randomness.
  static uint64_t Randomness(const TraceId& id) {
    uint64_t r = 0;
    for (int i = 9; i < 16; ++i) r = (r << 8) | id.bytes[i];
    return r;
  }
  static uint64_t Threshold(double ratio) {
    if (ratio >= 1.0) return uint64_t{1} << 56;
    if (ratio <= 0.0) return 0;
    return static_cast<uint64_t>(ratio * static_cast<double>(uint64_t{1} << 56));
  }
  Kind kind_ = Kind::kAlwaysOn;
  double ratio_ = 1.0;
  bool parent_based_ = true;
  uint64_t threshold_ = uint64_t{1} << 56;
};

}  // namespace stampede::otel
