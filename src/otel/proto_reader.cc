#include "otel/proto_reader.h"

#include <cstring>

namespace stampede::otel {

bool ProtoReader::ReadVarint(uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos_ >= data_.size()) return false;
    const uint8_t byte = static_cast<uint8_t>(data_[pos_++]);
    v |= uint64_t{byte & 0x7Fu} << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;  // an 11th byte: not a valid varint
}

bool ProtoReader::Next(ProtoField& field) {
  if (error_ || pos_ >= data_.size()) return false;
  uint64_t tag;
  if (!ReadVarint(tag)) return Fail();
  const uint64_t number = tag >> 3;
  if (number == 0 || number > (uint64_t{1} << 29) - 1) return Fail();
  field.number = static_cast<uint32_t>(number);
  field.bytes = {};
  field.value = 0;
  switch (tag & 7) {
    case 0:
      field.wire_type = WireType::kVarint;
      if (!ReadVarint(field.value)) return Fail();
      return true;
    case 1:
      field.wire_type = WireType::kFixed64;
      if (data_.size() - pos_ < 8) return Fail();
      for (int i = 0; i < 8; ++i) {
        field.value |= uint64_t{static_cast<uint8_t>(data_[pos_ + i])} << (8 * i);
      }
      pos_ += 8;
      return true;
    case 5:
      field.wire_type = WireType::kFixed32;
      if (data_.size() - pos_ < 4) return Fail();
      for (int i = 0; i < 4; ++i) {
        field.value |= uint64_t{static_cast<uint8_t>(data_[pos_ + i])} << (8 * i);
      }
      pos_ += 4;
      return true;
    case 2: {
      field.wire_type = WireType::kLengthDelimited;
      uint64_t len;
      if (!ReadVarint(len) || len > data_.size() - pos_) return Fail();
      field.bytes = data_.substr(pos_, static_cast<size_t>(len));
      pos_ += static_cast<size_t>(len);
      return true;
    }
    default:
      return Fail();  // groups (3, 4) and reserved 6, 7
  }
}

std::optional<PartialSuccess> ParsePartialSuccess(std::string_view response) {
  PartialSuccess result;
  ProtoReader outer(response);
  ProtoField f;
  while (outer.Next(f)) {
    if (f.number != 1) continue;  // unknown fields are ignored
    if (f.wire_type != WireType::kLengthDelimited) return std::nullopt;
    ProtoReader inner(f.bytes);
    ProtoField g;
    while (inner.Next(g)) {
      if (g.number == 1 && g.wire_type == WireType::kVarint) {
        result.rejected = g.AsInt64();
      } else if (g.number == 2 && g.wire_type == WireType::kLengthDelimited) {
        result.error_message.assign(g.bytes);
      } else if (g.number == 1 || g.number == 2) {
        return std::nullopt;
      }
    }
    if (inner.error()) return std::nullopt;
  }
  if (outer.error()) return std::nullopt;
  return result;
}

std::optional<RpcStatus> ParseRpcStatus(std::string_view status) {
  RpcStatus result;
  ProtoReader r(status);
  ProtoField f;
  while (r.Next(f)) {
    if (f.number == 1 && f.wire_type == WireType::kVarint) {
      result.code = f.AsInt32();
    } else if (f.number == 2 && f.wire_type == WireType::kLengthDelimited) {
      result.message.assign(f.bytes);
    } else if (f.number == 1 || f.number == 2) {
      return std::nullopt;
    }
  }
  if (r.error()) return std::nullopt;
  return result;
}

}  // namespace stampede::otel
