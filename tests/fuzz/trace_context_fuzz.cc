// libFuzzer target for W3C trace context (src/otel/trace_context.h): the
// `traceparent` header value, OTEL_PROPAGATORS, OTEL_TRACES_SAMPLER(_ARG),
// the baggage value encoder and run tags. (stampede writes `tracestate` and
// `baggage` but never parses them: there is no tracestate/baggage parser to
// fuzz; the baggage encoder's output is checked instead.) The first input
// byte picks the function (mode % 5); the rest is its text.
//
// Invariants (a broken one aborts):
//   traceparent: a parsed value re-formats (FormatTraceparent) to exactly the
//     trimmed input for version 00, and to its first 55 characters but the
//     version for a higher version; both ids are non-zero; uppercase hex is
//     refused;
//   propagators: a refusal is a ConfigError; a warning only with unknowns;
//   sampler: a refusal is a ConfigError; an accepted ratio is in [0, 1];
//     ShouldSample never crashes (UBSan checks the threshold conversion);
//   baggage: EncodeBaggageValue writes only W3C baggage-octets and '%XX',
//     and percent-decoding its output gives back the input;
//   run tag: RunTraceTag is 0 or the first 8 hex digits; an IdGenerator with
//     that tag makes trace ids that HasRunTag accepts.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "core/error.h"
#include "otel/otlp_config.h"
#include "otel/trace_context.h"

namespace stampede::otel {
namespace {

using ::stampede::fuzz::Require;

std::string_view Trim(std::string_view s) {
  auto blank = [](char c) { return c == ' ' || c == '\t'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

void FuzzTraceparent(std::string_view text) {
  const std::optional<Traceparent> tp = ParseTraceparent(text);
  if (!tp) return;
  Require(tp->trace_id.valid() && tp->parent_id.valid(), "an all-zero id accepted", text);
  char out[kTraceparentSize];
  FormatTraceparent(tp->trace_id, tp->parent_id, tp->flags, out);
  const std::string_view formatted(out, kTraceparentSize);
  // The spec's OWS is blanks; anything the parser trims must be outside.
  const std::string_view v = Trim(text);
  Require(v.size() >= kTraceparentSize, "accepted a short value", text);
  if (v.substr(0, 2) == "00") {
    Require(v == formatted, "version 00 does not re-format to the same string", text);
  } else {
    Require(v.substr(2, kTraceparentSize - 2) == formatted.substr(2),
            "a higher version does not re-format to the same ids and flags", text);
  }
  for (char c : formatted) {
    Require(!(c >= 'A' && c <= 'Z'), "uppercase in the formatted value");
  }
  // Parsing what we format gives the same context.
  const std::optional<Traceparent> again = ParseTraceparent(formatted);
  Require(again && again->trace_id.bytes == tp->trace_id.bytes &&
              again->parent_id.bytes == tp->parent_id.bytes && again->flags == tp->flags,
          "formatted value does not parse back", formatted);
  Require(ToHex(tp->trace_id) == formatted.substr(3, 32), "ToHex(trace id) differs");
  Require(ToHex(tp->parent_id) == formatted.substr(36, 16), "ToHex(span id) differs");
}

void FuzzPropagators(std::string_view text) {
  std::string warning;
  try {
    const Propagators p = ParsePropagators(text, &warning);
    (void)p;
  } catch (const core::ConfigError&) {
    return;
  }
}

void FuzzSampler(std::string_view text, uint8_t mode) {
  // "<sampler>\n<arg>" (no newline: all of it is the arg of a ratio sampler).
  static constexpr std::string_view kNames[] = {"traceidratio", "parentbased_traceidratio",
                                                "always_on", "parentbased_always_off"};
  std::string_view sampler = kNames[(mode >> 3) & 3];
  std::string_view arg = text;
  if (mode & 0x80) {
    const size_t nl = text.find('\n');
    sampler = text.substr(0, nl);
    arg = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
  }
  Sampler s;
  try {
    s = Sampler::FromEnv(sampler, arg);
  } catch (const core::ConfigError&) {
    return;
  }
  Require(s.ratio() >= 0 && s.ratio() <= 1, "a ratio outside [0, 1] accepted", text);
  TraceId id;
  for (size_t i = 0; i < id.bytes.size(); ++i) id.bytes[i] = static_cast<uint8_t>(i * 37 + mode);
  (void)s.ShouldSample(id, std::nullopt);
  (void)s.ShouldSample(id, true);
  Require(!s.Describe().empty(), "an empty description");
}

bool BaggageOctet(unsigned char c) {
  return c == 0x21 || (c >= 0x23 && c <= 0x2B) || (c >= 0x2D && c <= 0x3A) ||
         (c >= 0x3C && c <= 0x5B) || (c >= 0x5D && c <= 0x7E);
}

bool IsHex(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f'); }

void FuzzBaggage(std::string_view text) {
  const std::string encoded = EncodeBaggageValue(text);
  for (size_t i = 0; i < encoded.size(); ++i) {
    const char c = encoded[i];
    if (c == '%') {
      Require(i + 2 < encoded.size() + 0 && IsHex(encoded[i + 1]) && IsHex(encoded[i + 2]),
              "a bad escape in the encoded value", encoded);
      i += 2;
    } else {
      Require(BaggageOctet(static_cast<unsigned char>(c)), "a non-baggage octet written", encoded);
    }
  }
  std::string decoded;
  Require(PercentDecode(encoded, decoded), "the encoded value does not decode", encoded);
  Require(decoded == text, "encode + decode is not the identity", encoded);
}

void FuzzRunTag(std::string_view text) {
  const uint32_t tag = RunTraceTag(text);
  if (tag == 0) return;
  Require(text.size() >= 8, "a tag from fewer than 8 characters", text);
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", tag);
  for (int i = 0; i < 8; ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    Require(c == hex[i], "the tag is not the first 8 hex digits", text);
  }
  IdGenerator gen(tag);
  gen.set_run_tag(tag);
  Require(HasRunTag(gen.NewTraceId(), tag), "a tagged id without its tag", text);
}

}  // namespace
}  // namespace stampede::otel

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace stampede::otel;
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (mode % 5) {
    case 0:
      FuzzTraceparent(text);
      break;
    case 1:
      FuzzPropagators(text);
      break;
    case 2:
      FuzzSampler(text, mode);
      break;
    case 3:
      FuzzBaggage(text);
      break;
    case 4:
      FuzzRunTag(text);
      break;
  }
  return 0;
}
