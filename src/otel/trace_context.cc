#include "otel/trace_context.h"

#include "core/ascii.h"

#include <cstring>
#include <string>

#include "core/error.h"

namespace stampede::otel {
namespace {

constexpr auto Trim = core::TrimSpaces;

constexpr char kHex[] = "0123456789abcdef";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // uppercase is invalid in traceparent
}

bool ParseHex(std::string_view text, uint8_t* out, size_t n) {
  if (text.size() != 2 * n) return false;
  for (size_t i = 0; i < n; ++i) {
    int hi = HexValue(text[2 * i]), lo = HexValue(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

template <size_t N>
std::string HexString(const std::array<uint8_t, N>& bytes) {
  std::string s(2 * N, '0');
  for (size_t i = 0; i < N; ++i) {
    s[2 * i] = kHex[bytes[i] >> 4];
    s[2 * i + 1] = kHex[bytes[i] & 15];
  }
  return s;
}


}  // namespace

IdGenerator::IdGenerator() : rng_(core::Rng::FromOs()) {}

IdGenerator::IdGenerator(uint64_t seed) : rng_(seed) {}

TraceId IdGenerator::NewTraceId() {
  TraceId id;
  do {
    uint64_t a = Next(), b = Next();
    std::memcpy(id.bytes.data(), &a, 8);
    std::memcpy(id.bytes.data() + 8, &b, 8);
    if (tagged_) {
      id.bytes[0] = static_cast<uint8_t>(run_tag_ >> 24);
      id.bytes[1] = static_cast<uint8_t>(run_tag_ >> 16);
      id.bytes[2] = static_cast<uint8_t>(run_tag_ >> 8);
      id.bytes[3] = static_cast<uint8_t>(run_tag_);
    }
  } while (!id.valid());
  return id;
}

uint32_t RunTraceTag(std::string_view run_id) {
  if (run_id.size() < 8) return 0;
  uint32_t tag = 0;
  for (size_t i = 0; i < 8; ++i) {
    char c = run_id[i];
    uint32_t v;
    if (c >= '0' && c <= '9') {
      v = static_cast<uint32_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      v = static_cast<uint32_t>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      v = static_cast<uint32_t>(c - 'A' + 10);
    } else {
      return 0;
    }
    tag = (tag << 4) | v;
  }
  return tag;
}

SpanId IdGenerator::NewSpanId() {
  SpanId id;
  do {
    uint64_t a = Next();
    std::memcpy(id.bytes.data(), &a, 8);
  } while (!id.valid());
  return id;
}

void FormatTraceparent(const TraceId& trace_id, const SpanId& span_id, uint8_t flags, char* out) {
  out[0] = '0';
  out[1] = '0';
  out[2] = '-';
  char* p = out + 3;
  for (uint8_t b : trace_id.bytes) {
    *p++ = kHex[b >> 4];
    *p++ = kHex[b & 15];
  }
  *p++ = '-';
  for (uint8_t b : span_id.bytes) {
    *p++ = kHex[b >> 4];
    *p++ = kHex[b & 15];
  }
  *p++ = '-';
  *p++ = kHex[flags >> 4];
  *p++ = kHex[flags & 15];
}

std::optional<Traceparent> ParseTraceparent(std::string_view v) {
  v = Trim(v);
  if (v.size() < kTraceparentSize) return std::nullopt;
  uint8_t version;
  if (!ParseHex(v.substr(0, 2), &version, 1) || version == 0xff) return std::nullopt;
  if (version == 0 && v.size() != kTraceparentSize) return std::nullopt;
  if (version > 0 && v.size() > kTraceparentSize && v[kTraceparentSize] != '-') return std::nullopt;
  if (v[2] != '-' || v[35] != '-' || v[52] != '-') return std::nullopt;
  Traceparent tp;
  if (!ParseHex(v.substr(3, 32), tp.trace_id.bytes.data(), 16) ||
      !ParseHex(v.substr(36, 16), tp.parent_id.bytes.data(), 8) ||
      !ParseHex(v.substr(53, 2), &tp.flags, 1)) {
    return std::nullopt;
  }
  if (!tp.trace_id.valid() || !tp.parent_id.valid()) return std::nullopt;
  return tp;
}

std::string ToHex(const TraceId& id) { return HexString(id.bytes); }
std::string ToHex(const SpanId& id) { return HexString(id.bytes); }

Propagators ParsePropagators(std::string_view value, std::string* warning) {
  Propagators p;
  value = Trim(value);
  if (value.empty()) return p;  // unset: the default
  p.tracecontext = p.baggage = false;
  std::string unknown;
  size_t pos = 0;
  bool any = false;
  while (pos <= value.size()) {
    size_t comma = value.find(',', pos);
    std::string_view item = Trim(value.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos));
    pos = comma == std::string_view::npos ? value.size() + 1 : comma + 1;
    if (item.empty()) continue;
    any = true;
    if (item == "tracecontext") {
      p.tracecontext = true;
    } else if (item == "baggage") {
      p.baggage = true;
    } else if (item == "none") {
      p.tracecontext = p.baggage = false;
    } else {
      unknown += (unknown.empty() ? "" : ", ") + std::string(item);
    }
  }
  if (!any) {
    throw core::ConfigError("invalid OTEL_PROPAGATORS=\"" + std::string(value) +
                            "\": list propagators such as tracecontext,baggage (or none)");
  }
  if (!unknown.empty() && warning != nullptr) {
    *warning = "OTEL_PROPAGATORS: " + unknown +
               " not supported by stampede (it writes tracecontext and baggage); ignored";
  }
  return p;
}

std::string EncodeBaggageValue(std::string_view value) {
  std::string out;
  for (unsigned char c : value) {
    bool ok = c == 0x21 || (c >= 0x23 && c <= 0x2B) || (c >= 0x2D && c <= 0x3A) ||
              (c >= 0x3C && c <= 0x5B) || (c >= 0x5D && c <= 0x7E);
    if (ok && c != '%') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += "0123456789ABCDEF"[c >> 4];
      out += "0123456789ABCDEF"[c & 15];
    }
  }
  return out;
}

Sampler Sampler::FromEnv(std::string_view sampler, std::string_view arg) {
  std::string name(Trim(sampler));
  double ratio = 1.0;
  std::string a(Trim(arg));
  bool ratio_sampler = name == "traceidratio" || name == "parentbased_traceidratio";
  if (ratio_sampler && !a.empty()) {
    char* end = nullptr;
    ratio = std::strtod(a.c_str(), &end);
    // Written so that NaN ("nan", which strtod takes) is refused too: a NaN
    // ratio would reach Sampler::Threshold's float-to-integer conversion.
    if (end == a.c_str() || *end != '\0' || !(ratio >= 0 && ratio <= 1)) {
      throw core::ConfigError("invalid OTEL_TRACES_SAMPLER_ARG=\"" + a +
                              "\": give a probability from 0 to 1, e.g. 0.1");
    }
  }
  if (name.empty() || name == "parentbased_always_on") return Sampler(Kind::kAlwaysOn, 1, true);
  if (name == "always_on") return Sampler(Kind::kAlwaysOn, 1, false);
  if (name == "always_off") return Sampler(Kind::kAlwaysOff, 0, false);
  if (name == "parentbased_always_off") return Sampler(Kind::kAlwaysOff, 0, true);
  if (name == "traceidratio") return Sampler(Kind::kTraceIdRatio, ratio, false);
  if (name == "parentbased_traceidratio") return Sampler(Kind::kTraceIdRatio, ratio, true);
  throw core::ConfigError("invalid OTEL_TRACES_SAMPLER=\"" + name +
                          "\": use always_on, always_off, traceidratio or parentbased_* of them");
}

std::string Sampler::Describe() const {
  std::string base = kind_ == Kind::kAlwaysOn    ? "always_on"
                     : kind_ == Kind::kAlwaysOff ? "always_off"
                                                 : "traceidratio(" + std::to_string(ratio_) + ")";
  return parent_based_ ? "parentbased_" + base : base;
}

}  // namespace stampede::otel
