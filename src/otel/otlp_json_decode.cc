#include "otel/otlp_json_decode.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <vector>

#include "core/quote.h"
#include "otel/otlp_schema.h"
#include "otel/proto_writer.h"

namespace stampede::otel {
namespace {

using Json = nlohmann::json;

using schema::EnumType;
using schema::Field;
using schema::Kind;
using schema::Msg;

// The field a JSON key names: the lowerCamelCase name the spec requires, or
// the snake_case one, accepted for leniency.
const Field* Lookup(Msg m, std::string_view key) {
  for (const Field& f : schema::Fields(m)) {
    if (f.in_json && (key == f.json_name || key == f.proto_name)) return &f;
  }
  return nullptr;
}

Presence PresenceOf(const Field& f) {
  return f.explicit_presence ? Presence::kExplicit : Presence::kImplicit;
}

// Enum names, indexed by value (trace.proto).
constexpr std::string_view kSpanKindNames[] = {"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL",
                                               "SPAN_KIND_SERVER",      "SPAN_KIND_CLIENT",
                                               "SPAN_KIND_PRODUCER",    "SPAN_KIND_CONSUMER"};
constexpr std::string_view kStatusCodeNames[] = {"STATUS_CODE_UNSET", "STATUS_CODE_OK",
                                                 "STATUS_CODE_ERROR"};

std::optional<int64_t> EnumValue(EnumType type, std::string_view name) {
  std::span<const std::string_view> names;
  if (type == EnumType::kSpanKind) names = kSpanKindNames;
  if (type == EnumType::kStatusCode) names = kStatusCodeNames;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return static_cast<int64_t>(i);
  }
  return std::nullopt;
}

// What the spec expects of a kind, for error messages.
std::string_view Expected(Kind k) {
  switch (k) {
    case Kind::kMessage:
      return "an object";
    case Kind::kString:
      return "a string";
    case Kind::kTraceId:
    case Kind::kSpanId:
      return "a hex string";
    case Kind::kBytes:
      return "a base64 string";
    case Kind::kUint32:
    case Kind::kFixed32:
      return "an unsigned 32-bit integer";
    case Kind::kInt64:
      return "a 64-bit integer";
    case Kind::kFixed64:
      return "an unsigned 64-bit integer";
    case Kind::kEnum:
      return "an enum integer";
    case Kind::kBool:
      return "true or false";
    case Kind::kDouble:
      return "a number";
    case Kind::kInt32:  // metrics-only and not-in-JSON kinds: never looked up
    case Kind::kSint32:
    case Kind::kUint64:
    case Kind::kSfixed64:
      break;
  }
  return "a value";
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool DecodeHex(std::string_view in, std::string& out) {
  if (in.size() % 2 != 0) return false;
  out.clear();
  for (size_t i = 0; i < in.size(); i += 2) {
    const int hi = HexDigit(in[i]);
    const int lo = HexDigit(in[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return true;
}

int Base64Digit(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;  // standard and URL-safe alphabets
  if (c == '/' || c == '_') return 63;
  return -1;
}

// RFC 4648 base64, either alphabet, with or without '=' padding.
bool DecodeBase64(std::string_view in, std::string& out) {
  out.clear();
  if (in.size() % 4 == 0 && !in.empty()) {
    // Padding only as the last one or two characters of a padded input.
    if (in.back() == '=') in.remove_suffix(1);
    if (!in.empty() && in.back() == '=') in.remove_suffix(1);
  }
  if (in.size() % 4 == 1) return false;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const int d = Base64Digit(c);
    if (d < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return true;
}

// One scalar JSON value as the SAX parser hands it over.
struct Scalar {
  enum class Type { kBool, kInt, kUint, kFloat, kString };
  Type type = Type::kBool;
  bool b = false;
  int64_t i = 0;
  uint64_t u = 0;
  double d = 0;
  std::string_view text;  // kString: the string; kFloat: the number as written
};

constexpr double kTwoTo63 = 9223372036854775808.0;
constexpr double kTwoTo64 = 18446744073709551616.0;

std::optional<uint64_t> AsUnsigned(const Scalar& v) {
  switch (v.type) {
    case Scalar::Type::kUint:
      return v.u;
    case Scalar::Type::kInt:
      if (v.i < 0) return std::nullopt;
      return static_cast<uint64_t>(v.i);
    case Scalar::Type::kFloat:
      // 1e3 or 5.0: proto3 JSON accepts an integral value in any notation.
      if (!(v.d >= 0 && v.d < kTwoTo64) || std::trunc(v.d) != v.d) return std::nullopt;
      return static_cast<uint64_t>(v.d);
    case Scalar::Type::kString: {
      uint64_t u = 0;
      const char* end = v.text.data() + v.text.size();
      const auto r = std::from_chars(v.text.data(), end, u);
      if (v.text.empty() || r.ec != std::errc() || r.ptr != end) return std::nullopt;
      return u;
    }
    case Scalar::Type::kBool:
      return std::nullopt;
  }
  return std::nullopt;
}

std::optional<int64_t> AsSigned(const Scalar& v) {
  switch (v.type) {
    case Scalar::Type::kInt:
      return v.i;
    case Scalar::Type::kUint:
      if (v.u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
      return static_cast<int64_t>(v.u);
    case Scalar::Type::kFloat:
      if (!(v.d >= -kTwoTo63 && v.d < kTwoTo63) || std::trunc(v.d) != v.d) return std::nullopt;
      return static_cast<int64_t>(v.d);
    case Scalar::Type::kString: {
      int64_t i = 0;
      const char* end = v.text.data() + v.text.size();
      const auto r = std::from_chars(v.text.data(), end, i);
      if (v.text.empty() || r.ec != std::errc() || r.ptr != end) return std::nullopt;
      return i;
    }
    case Scalar::Type::kBool:
      return std::nullopt;
  }
  return std::nullopt;
}

std::optional<double> AsDouble(const Scalar& v) {
  switch (v.type) {
    case Scalar::Type::kInt:
      return static_cast<double>(v.i);
    case Scalar::Type::kUint:
      return static_cast<double>(v.u);
    case Scalar::Type::kFloat:
      return v.d;
    case Scalar::Type::kString: {
      if (v.text == "NaN") return std::numeric_limits<double>::quiet_NaN();
      if (v.text == "Infinity") return std::numeric_limits<double>::infinity();
      if (v.text == "-Infinity") return -std::numeric_limits<double>::infinity();
      double d = 0;
      const char* end = v.text.data() + v.text.size();
      const auto r = std::from_chars(v.text.data(), end, d);
      // from_chars also reads "nan"/"inf": only finite numbers are numeric strings here.
      if (v.text.empty() || r.ec != std::errc() || r.ptr != end || !std::isfinite(d)) {
        return std::nullopt;
      }
      return d;
    }
    case Scalar::Type::kBool:
      return std::nullopt;
  }
  return std::nullopt;
}

// How a rejected value is shown in an error: strings quoted and cut short.
std::string Shown(const Scalar& v) {
  switch (v.type) {
    case Scalar::Type::kBool:
      return v.b ? "true" : "false";
    case Scalar::Type::kInt:
      return std::to_string(v.i);
    case Scalar::Type::kUint:
      return std::to_string(v.u);
    case Scalar::Type::kFloat:
      return std::string(v.text.substr(0, 40));
    case Scalar::Type::kString:
      if (v.text.size() > 40) return core::QuoteInput(v.text.substr(0, 40)) + "...";
      return core::QuoteInput(v.text);
  }
  return {};
}

// The SAX handler (the interface nlohmann::json::sax_parse calls): writes
// protobuf as the JSON streams by. Sub-messages use ProtoWriter's
// BeginMessage/EndMessage, which patch the length in afterwards, so nothing
// is buffered per message.
class Decoder {
 public:
  explicit Decoder(size_t size_hint) { w_.Reserve(size_hint); }

  const ProtoWriter& writer() const { return w_; }
  const std::string& error() const { return error_; }

  // --- nlohmann::json_sax interface -------------------------------------------
  bool null() {
    const Target t = Next();
    if (t.type == Target::kField && t.in_array) return Fail("null inside an array");
    if (t.type == Target::kRoot) return Fail("the request must be a JSON object, not null");
    ValueDone();  // a null field is an absent field
    return true;
  }
  bool boolean(bool b) {
    Scalar v;
    v.b = b;
    return OnScalar(v);
  }
  bool number_integer(Json::number_integer_t i) {
    Scalar v;
    v.type = Scalar::Type::kInt;
    v.i = i;
    return OnScalar(v);
  }
  bool number_unsigned(Json::number_unsigned_t u) {
    Scalar v;
    v.type = Scalar::Type::kUint;
    v.u = u;
    return OnScalar(v);
  }
  bool number_float(Json::number_float_t d, const Json::string_t& raw) {
    Scalar v;
    v.type = Scalar::Type::kFloat;
    v.d = d;
    v.text = raw;
    return OnScalar(v);
  }
  bool string(Json::string_t& s) {
    Scalar v;
    v.type = Scalar::Type::kString;
    v.text = s;
    return OnScalar(v);
  }
  bool binary(Json::binary_t&) { return Fail("binary values are not JSON"); }

  bool start_object(std::size_t) {
    const Target t = Next();
    if (t.type == Target::kRoot) {
      stack_.push_back(Frame{.type = Frame::kObject, .msg = Msg::kRequest});
      return true;
    }
    if (t.type == Target::kIgnore) return Skip();
    const Field& f = *t.field;
    if (f.repeated && !t.in_array) return Fail("expected an array, got an object");
    if (f.kind != Kind::kMessage)
      return Fail(std::string("expected ") + std::string(Expected(f.kind)) + ", got an object");
    if (message_depth_ >= schema::kMaxNesting) return Fail("nested too deeply");
    ++message_depth_;
    stack_.push_back(Frame{.type = Frame::kObject,
                           .msg = f.message,
                           .bookmark = w_.BeginMessage(f.number),
                           .has_bookmark = true});
    return true;
  }

  bool key(Json::string_t& k) {
    Frame& top = stack_.back();  // the parser calls key() only inside an object
    if (top.type == Frame::kSkip) return true;
    top.pending = Lookup(top.msg, k);
    top.pending_known = top.pending != nullptr;
    return true;
  }

  bool end_object() {
    Frame& top = stack_.back();
    if (top.type == Frame::kSkip) return Unskip();
    if (top.has_bookmark) {
      w_.EndMessage(top.bookmark);
      --message_depth_;
    }
    stack_.pop_back();
    ValueDone();
    return true;
  }

  bool start_array(std::size_t) {
    const Target t = Next();
    if (t.type == Target::kRoot) return Fail("the request must be a JSON object, not an array");
    if (t.type == Target::kIgnore) return Skip();
    const Field& f = *t.field;
    if (t.in_array || !f.repeated) {
      return Fail(std::string("expected ") + std::string(Expected(f.kind)) + ", got an array");
    }
    stack_.push_back(Frame{.type = Frame::kArray, .field = &f});
    return true;
  }

  bool end_array() {
    Frame& top = stack_.back();
    if (top.type == Frame::kSkip) return Unskip();
    stack_.pop_back();
    ValueDone();
    return true;
  }

  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) {
    // e.what() is "[json.exception.parse_error.101] parse error at line 1,
    // column 5: ..."; the bracketed id means nothing to an OTLP client.
    std::string_view what = e.what();
    if (const size_t close = what.find("] "); close != std::string_view::npos) {
      what.remove_prefix(close + 2);
    }
    error_ = "invalid JSON (byte " + std::to_string(position) + "): " + std::string(what);
    return false;
  }

 private:
  struct Frame {
    enum Type { kObject, kArray, kSkip };
    Type type = kObject;
    Msg msg = Msg::kRequest;               // kObject: the message being filled
    const Field* pending = nullptr;        // kObject: the field named by the last key
    bool pending_known = false;            // kObject: the last key named a known field
    const Field* field = nullptr;          // kArray: the repeated field
    size_t index = 0;                      // kArray: elements so far
    int skip_depth = 0;                    // kSkip: open objects/arrays being ignored
    ProtoWriter::Bookmark bookmark{0, 0};  // kObject below the request
    bool has_bookmark = false;
  };

  // What the next value fills.
  struct Target {
    enum Type { kRoot, kIgnore, kField };
    Type type = kRoot;
    const Field* field = nullptr;
    bool in_array = false;
  };

  Target Next() const {
    if (stack_.empty()) return {Target::kRoot};
    const Frame& top = stack_.back();
    switch (top.type) {
      case Frame::kSkip:
        return {Target::kIgnore};
      case Frame::kArray:
        return {Target::kField, top.field, true};
      case Frame::kObject:
        if (!top.pending_known) return {Target::kIgnore};
        return {Target::kField, top.pending, false};
    }
    return {Target::kIgnore};
  }

  void ValueDone() {
    if (stack_.empty()) return;
    Frame& top = stack_.back();
    if (top.type == Frame::kArray) {
      ++top.index;
    } else if (top.type == Frame::kObject) {
      top.pending = nullptr;
      top.pending_known = false;
    }
  }

  // An object or array under an unknown key: ignored, however deep (one
  // frame counts the levels, so deep junk costs no memory).
  bool Skip() {
    if (!stack_.empty() && stack_.back().type == Frame::kSkip) {
      ++stack_.back().skip_depth;
    } else {
      stack_.push_back(Frame{.type = Frame::kSkip, .skip_depth = 1});
    }
    return true;
  }
  bool Unskip() {
    if (--stack_.back().skip_depth == 0) {
      stack_.pop_back();
      ValueDone();
    }
    return true;
  }

  bool OnScalar(const Scalar& v) {
    const Target t = Next();
    if (t.type == Target::kRoot) return Fail("the request must be a JSON object");
    if (t.type == Target::kIgnore) {
      ValueDone();
      return true;
    }
    const Field& f = *t.field;
    if (f.repeated && !t.in_array) return Fail("expected an array, got " + Shown(v));
    if (!Write(f, v)) {
      return Fail(std::string("expected ") + std::string(Expected(f.kind)) + ", got " + Shown(v));
    }
    ValueDone();
    return true;
  }

  // Writes `v` as field `f`; false when the value does not fit the kind.
  bool Write(const Field& f, const Scalar& v) {
    const bool is_string = v.type == Scalar::Type::kString;
    const Presence presence = PresenceOf(f);
    switch (f.kind) {
      case Kind::kMessage:
        return false;
      case Kind::kString:
        if (!is_string) return false;
        w_.StringField(f.number, v.text, presence);
        return true;
      case Kind::kTraceId:
      case Kind::kSpanId:
        if (!is_string || !DecodeHex(v.text, scratch_)) return false;
        w_.BytesField(f.number, scratch_, presence);
        return true;
      case Kind::kBytes:
        if (!is_string || !DecodeBase64(v.text, scratch_)) return false;
        w_.BytesField(f.number, scratch_, presence);
        return true;
      case Kind::kUint32:
      case Kind::kFixed32: {
        const std::optional<uint64_t> u = AsUnsigned(v);
        if (!u || *u > std::numeric_limits<uint32_t>::max()) return false;
        if (f.kind == Kind::kUint32) {
          w_.VarintField(f.number, *u, presence);
        } else {
          w_.Fixed32Field(f.number, static_cast<uint32_t>(*u), presence);
        }
        return true;
      }
      case Kind::kInt64: {
        const std::optional<int64_t> i = AsSigned(v);
        if (!i) return false;
        w_.Int64Field(f.number, *i, presence);
        return true;
      }
      case Kind::kFixed64: {
        const std::optional<uint64_t> u = AsUnsigned(v);
        if (!u) return false;
        w_.Fixed64Field(f.number, *u, presence);
        return true;
      }
      case Kind::kEnum: {
        // Integers as the spec says; names (proto3 JSON's other form) leniently.
        std::optional<int64_t> e = is_string ? EnumValue(f.enum_type, v.text) : AsSigned(v);
        if (!e || *e < std::numeric_limits<int32_t>::min() ||
            *e > std::numeric_limits<int32_t>::max()) {
          return false;
        }
        w_.Int64Field(f.number, *e, presence);  // int32 enums: negatives sign-extended
        return true;
      }
      case Kind::kBool:
        if (v.type != Scalar::Type::kBool) return false;
        w_.BoolField(f.number, v.b, presence);
        return true;
      case Kind::kDouble: {
        const std::optional<double> d = AsDouble(v);
        if (!d) return false;
        w_.DoubleField(f.number, *d, presence);
        return true;
      }
      case Kind::kInt32:  // metrics-only and not-in-JSON kinds: never looked up
      case Kind::kSint32:
      case Kind::kUint64:
      case Kind::kSfixed64:
        return false;
    }
    return false;
  }

  // Records `what` with the path of the value being read, e.g.
  // "resourceSpans[0].scopeSpans[1].spans[2].traceId: expected ...".
  bool Fail(const std::string& what) {
    std::string path;
    for (const Frame& f : stack_) {
      if (f.type == Frame::kObject && f.pending != nullptr) {
        if (!path.empty()) path += '.';
        path += f.pending->json_name;
      } else if (f.type == Frame::kArray) {
        path += '[' + std::to_string(f.index) + ']';
      }
    }
    error_ = path.empty() ? what : path + ": " + what;
    return false;
  }

  ProtoWriter w_;
  std::vector<Frame> stack_;
  int message_depth_ = 0;
  std::string scratch_;  // decoded id / bytes
  std::string error_;
};

}  // namespace

bool TraceRequestJsonToProtobuf(std::string_view json, std::string& out, std::string& error) {
  // Protobuf is smaller than its JSON (binary ids, tags instead of keys).
  Decoder decoder(json.size() / 2 + 16);
  const bool ok = Json::sax_parse(json.data(), json.data() + json.size(), &decoder,
                                  Json::input_format_t::json, /*strict=*/true);
  if (!ok) {
    error = decoder.error().empty() ? "invalid JSON" : decoder.error();
    return false;
  }
  out.append(decoder.writer().view());
  return true;
}

}  // namespace stampede::otel
