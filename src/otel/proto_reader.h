// ProtoReader: a minimal protobuf wire-format reader — iterates the fields of
// one message as (number, wire type, value) without a schema. Used to
// transcode our own requests to OTLP/JSON, to check the encoder in tests, and
// to read what a collector answers (ExportTraceServiceResponse.partial_success,
// google.rpc.Status).
//
// Views: every string_view it hands out points into the caller's input, which
// must outlive them. No allocation. Any thread; a reader is not synchronised.
// Failure: malformed input (truncated varint/field, varint over 10 bytes,
// field number 0 or > 2^29-1, group wire types 3/4, unknown wire types)
// stops iteration and sets error(); it never reads out of bounds.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "otel/proto_writer.h"  // WireType

namespace stampede::otel {

struct ProtoField {
  uint32_t number = 0;
  WireType wire_type = WireType::kVarint;
  // kVarint: the varint; kFixed64/kFixed32: the little-endian bits.
  uint64_t value = 0;
  // kLengthDelimited: the payload (string, bytes, sub-message, packed).
  std::string_view bytes;

  int64_t AsInt64() const { return static_cast<int64_t>(value); }  // int64/sfixed64
  int32_t AsInt32() const { return static_cast<int32_t>(value); }  // int32 (sign-extended)
  bool AsBool() const { return value != 0; }
  double AsDouble() const { return std::bit_cast<double>(value); }  // kFixed64 only
};

class ProtoReader {
 public:
  explicit ProtoReader(std::string_view message) : data_(message) {}

  // Reads the next field into `field`. Returns false at the end of the message
  // or on malformed input (then error() is true and iteration is over).
  bool Next(ProtoField& field);

  bool error() const { return error_; }
  // True once every byte was consumed without error.
  bool done() const { return !error_ && pos_ == data_.size(); }
  // Bytes not read yet (after a successful Next(): those after its field).
  size_t remaining() const { return data_.size() - pos_; }

 private:
  bool ReadVarint(uint64_t& v);
  bool Fail() {
    error_ = true;
    return false;
  }

  std::string_view data_;
  size_t pos_ = 0;
  bool error_ = false;
};

// ExportTracePartialSuccess (also the shape of ExportMetricsPartialSuccess,
// whose field 1 is rejected_data_points).
struct PartialSuccess {
  int64_t rejected = 0;       // rejected_spans / rejected_data_points
  std::string error_message;  // may be a warning when rejected == 0
};

// Parses an Export{Trace,Metrics}ServiceResponse body (protobuf, as returned
// with HTTP 200 or a gRPC OK). Returns:
//   nullopt          on malformed bytes;
//   a PartialSuccess with rejected == 0 and an empty message when the field is
//                    absent (full success) — callers test `rejected`/message.
// Cold path: copies the message.
std::optional<PartialSuccess> ParsePartialSuccess(std::string_view response);

// google.rpc.Status: code = 1 (int32, a google.rpc.Code), message = 2;
// details (3, repeated Any) are skipped.
struct RpcStatus {
  int32_t code = 0;
  std::string message;
};

// Parses a google.rpc.Status body (OTLP/HTTP error responses; the
// grpc-status-details-bin trailer). nullopt on malformed bytes.
std::optional<RpcStatus> ParseRpcStatus(std::string_view status);

}  // namespace stampede::otel
