// The `point.hist` blob: one second's exponential histogram, compact and
// versioned (docs/store.md, "The hist blob", documents it byte by byte).
//
//   u8      format version (kHistBlobVersion)
//   varint  zigzag(scale)
//   varint  zero_count
//   varint  count
//   f64 LE  sum, min, max (IEEE 754, 8 bytes each)
//   varint  zigzag(offset)          index of the first bucket
//   varint  n                       number of buckets (offset .. offset + n - 1)
//   then, until n buckets are covered, one varint v per item:
//     v even: one bucket with count v >> 1 (>= 1)
//     v odd:  a run of v >> 1 (>= 1) empty buckets
//
// Values keep the metric's own unit (ns for time metrics). Pure; any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "metrics/exp_histogram.h"

namespace stampede::store {

inline constexpr uint8_t kHistBlobVersion = 1;

std::string EncodeHistBlob(const metrics::ExpHistogram& h);
// nullopt on a truncated or malformed blob, or an unknown version.
std::optional<metrics::ExpHistogram> DecodeHistBlob(std::string_view blob);

}  // namespace stampede::store
