#include "otel/otlp_json.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <span>

#include "otel/otlp_schema.h"
#include "otel/proto_reader.h"

namespace stampede::otel {
namespace {

using schema::Field;
using schema::Kind;
using schema::Msg;

// Repeated numeric fields may come packed (LEN) or one element per field.
bool WireTypeFits(const Field& spec, WireType w) {
  return w == schema::WireTypeOf(spec.kind) ||
         (schema::IsPackable(spec) && w == WireType::kLengthDelimited);
}

// Length of the valid UTF-8 sequence at the start of `s` (RFC 3629: no
// overlongs, no surrogates, nothing above U+10FFFF), or 0 if it is invalid.
size_t Utf8SequenceLength(std::string_view s) {
  const auto byte = [&s](size_t i) { return static_cast<uint8_t>(s[i]); };
  const auto cont = [&](size_t i) { return i < s.size() && (byte(i) & 0xC0) == 0x80; };
  const uint8_t b0 = byte(0);
  if (b0 >= 0xC2 && b0 <= 0xDF) return cont(1) ? 2 : 0;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (b0 == 0xE0 && byte(1) < 0xA0) return 0;  // overlong
    if (b0 == 0xED && byte(1) > 0x9F) return 0;  // surrogate
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (b0 == 0xF0 && byte(1) < 0x90) return 0;  // overlong
    if (b0 == 0xF4 && byte(1) > 0x8F) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

// Appends `s` as a JSON string literal; invalid UTF-8 bytes become U+FFFD.
void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  size_t i = 0;
  while (i < s.size()) {
    // Copy runs of plain ASCII in one go.
    size_t run = i;
    while (run < s.size()) {
      const auto c = static_cast<uint8_t>(s[run]);
      if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) break;
      ++run;
    }
    out.append(s.data() + i, run - i);
    i = run;
    if (i == s.size()) break;
    const auto c = static_cast<uint8_t>(s[i]);
    if (c >= 0x80) {
      const size_t n = Utf8SequenceLength(s.substr(i));
      if (n == 0) {
        out += "\xEF\xBF\xBD";
        i += 1;
      } else {
        out.append(s.data() + i, n);
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
    }
    ++i;
  }
  out += '"';
}

void AppendHex(std::string& out, std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  out += '"';
  for (char ch : bytes) {
    const auto b = static_cast<uint8_t>(ch);
    out += kDigits[b >> 4];
    out += kDigits[b & 0xF];
  }
  out += '"';
}

void AppendBase64(std::string& out, std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  out += '"';
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = uint32_t{static_cast<uint8_t>(bytes[i])} << 16 |
                       uint32_t{static_cast<uint8_t>(bytes[i + 1])} << 8 |
                       static_cast<uint8_t>(bytes[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (const size_t rest = bytes.size() - i; rest != 0) {
    uint32_t v = uint32_t{static_cast<uint8_t>(bytes[i])} << 16;
    if (rest == 2) v |= uint32_t{static_cast<uint8_t>(bytes[i + 1])} << 8;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  out += '"';
}

template <typename T>
void AppendNumber(std::string& out, T v, bool quoted) {
  char buf[32];
  const auto result = std::to_chars(buf, buf + sizeof buf, v);  // shortest round-trip form
  if (quoted) out += '"';
  out.append(buf, result.ptr);
  if (quoted) out += '"';
}

void AppendDouble(std::string& out, double d) {
  if (std::isnan(d)) {
    out += "\"NaN\"";
  } else if (std::isinf(d)) {
    out += d > 0 ? "\"Infinity\"" : "\"-Infinity\"";
  } else {
    AppendNumber(out, d, false);
  }
}

// Streams one message as a JSON object. Fields come out in the order of the
// spec table (proto field order), repeated fields gathered into one array
// even when their occurrences are not adjacent on the wire; for a singular
// field the last occurrence wins, as in protobuf.
class Transcoder {
 public:
  explicit Transcoder(std::string& out) : out_(out) {}

  bool Message(std::string_view bytes, Msg msg, int depth) {
    if (depth > schema::kMaxNesting) return false;
    const std::span<const Field> specs = schema::Fields(msg);
    // Pass 1: validate, and note where each known field first starts and last
    // ends, so that gathering a field later scans only that range.
    struct Range {
      size_t begin = 0, end = 0;
      bool seen = false;
    };
    Range ranges[schema::kMaxFields];
    ProtoReader reader(bytes);
    ProtoField f;
    size_t before = 0;
    while (reader.Next(f)) {
      const size_t after = bytes.size() - reader.remaining();
      for (size_t i = 0; i < specs.size(); ++i) {
        if (specs[i].number != f.number || !specs[i].in_json) continue;
        if (!WireTypeFits(specs[i], f.wire_type)) return false;
        if (!ranges[i].seen) ranges[i] = {before, after, true};
        ranges[i].end = after;
        break;
      }
      before = after;
    }
    if (reader.error()) return false;

    out_ += '{';
    bool first = true;
    for (size_t i = 0; i < specs.size(); ++i) {
      if (!ranges[i].seen) continue;
      const Field& spec = specs[i];
      if (!first) out_ += ',';
      first = false;
      out_ += '"';
      out_ += spec.json_name;
      out_ += "\":";
      ProtoReader range(bytes.substr(ranges[i].begin, ranges[i].end - ranges[i].begin));
      if (spec.repeated) {
        out_ += '[';
        bool first_element = true;
        while (range.Next(f)) {
          if (f.number != spec.number) continue;
          if (schema::IsPackable(spec) && f.wire_type == WireType::kLengthDelimited) {
            if (!PackedValues(spec.kind, f.bytes, first_element)) return false;
            continue;
          }
          if (!first_element) out_ += ',';
          first_element = false;
          if (!Value(spec, f, depth)) return false;
        }
        out_ += ']';
      } else {
        ProtoField last;
        while (range.Next(f)) {
          if (f.number == spec.number) last = f;
        }
        if (!Value(spec, last, depth)) return false;
      }
    }
    out_ += '}';
    return true;
  }

 private:
  bool Value(const Field& spec, const ProtoField& f, int depth) {
    switch (spec.kind) {
      case Kind::kString:
        AppendJsonString(out_, f.bytes);
        return true;
      case Kind::kTraceId:
      case Kind::kSpanId:
        AppendHex(out_, f.bytes);
        return true;
      case Kind::kBytes:
        AppendBase64(out_, f.bytes);
        return true;
      case Kind::kUint32:
      case Kind::kFixed32:
        AppendNumber(out_, static_cast<uint32_t>(f.value), false);
        return true;
      case Kind::kInt64:
      case Kind::kSfixed64:
        AppendNumber(out_, f.AsInt64(), true);
        return true;
      case Kind::kUint64:
      case Kind::kFixed64:
        AppendNumber(out_, f.value, true);
        return true;
      case Kind::kEnum:
      case Kind::kInt32:
        AppendNumber(out_, f.AsInt32(), false);
        return true;
      case Kind::kBool:
        out_ += f.AsBool() ? "true" : "false";
        return true;
      case Kind::kDouble:
        AppendDouble(out_, f.AsDouble());
        return true;
      case Kind::kMessage:
        return Message(f.bytes, spec.message, depth + 1);
      case Kind::kSint32: {
        const auto n = static_cast<uint32_t>(f.value);
        AppendNumber(out_, static_cast<int32_t>((n >> 1) ^ (~(n & 1) + 1)), false);
        return true;
      }
    }
    return false;
  }

  // Appends the elements of a packed field as array elements. Fails on a
  // truncated element.
  bool PackedValues(Kind kind, std::string_view bytes, bool& first_element) {
    ProtoField element;
    element.wire_type = schema::WireTypeOf(kind);
    size_t pos = 0;
    while (pos < bytes.size()) {
      if (element.wire_type == WireType::kFixed64) {
        if (bytes.size() - pos < 8) return false;
        uint64_t v = 0;
        for (int b = 7; b >= 0; --b) v = v << 8 | static_cast<uint8_t>(bytes[pos + b]);
        element.value = v;
        pos += 8;
      } else {
        uint64_t v = 0;
        int shift = 0;
        for (;;) {
          if (pos == bytes.size() || shift > 63) return false;
          const auto byte = static_cast<uint8_t>(bytes[pos++]);
          v |= uint64_t{byte & 0x7Fu} << shift;
          shift += 7;
          if ((byte & 0x80) == 0) break;
        }
        element.value = v;
      }
      if (!first_element) out_ += ',';
      first_element = false;
      const Field spec{0, "", "", kind};
      if (!Value(spec, element, 0)) return false;
    }
    return true;
  }

  std::string& out_;
};

}  // namespace

std::string TraceRequestToJson(std::string_view protobuf_request) {
  std::string out;
  // JSON is roughly twice the protobuf size (hex ids, quoted keys).
  out.reserve(protobuf_request.size() * 2 + 16);
  if (!AppendTraceRequestJson(protobuf_request, out)) return {};
  return out;
}

bool AppendTraceRequestJson(std::string_view protobuf_request, std::string& out) {
  const size_t before = out.size();
  if (!Transcoder(out).Message(protobuf_request, Msg::kRequest, 0)) {
    out.resize(before);
    return false;
  }
  return true;
}

std::string MetricsRequestToJson(std::string_view protobuf_request) {
  std::string out;
  // Bucket counts grow most (1-byte varints become quoted decimals).
  out.reserve(protobuf_request.size() * 3 + 16);
  if (!AppendMetricsRequestJson(protobuf_request, out)) return {};
  return out;
}

bool AppendMetricsRequestJson(std::string_view protobuf_request, std::string& out) {
  const size_t before = out.size();
  if (!Transcoder(out).Message(protobuf_request, Msg::kMetricsRequest, 0)) {
    out.resize(before);
    return false;
  }
  return true;
}

}  // namespace stampede::otel
