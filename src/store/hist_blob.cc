#include "store/hist_blob.h"

#include <bit>
#include <cstring>
#include <vector>

namespace stampede::store {
namespace {

void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t UnZigZag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

void PutDouble(std::string& out, double d) {
  const auto bits = std::bit_cast<uint64_t>(d);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
}

struct Cursor {
  std::string_view in;
  size_t pos = 0;
  bool ok = true;

  uint64_t Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos >= in.size()) break;
      const auto b = static_cast<uint8_t>(in[pos++]);
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) return v;
    }
    ok = false;
    return 0;
  }
  double Double() {
    if (in.size() - pos < 8) {
      ok = false;
      return 0;
    }
    uint64_t bits = 0;
    for (int i = 0; i < 8; ++i)
      bits |= static_cast<uint64_t>(static_cast<uint8_t>(in[pos + i])) << (8 * i);
    pos += 8;
    return std::bit_cast<double>(bits);
  }
};

}  // namespace

std::string EncodeHistBlob(const metrics::ExpHistogram& h) {
  std::string out;
  out.reserve(40 + static_cast<size_t>(h.positive_bucket_count()) * 2);
  out.push_back(static_cast<char>(kHistBlobVersion));
  PutVarint(out, ZigZag(h.scale()));
  PutVarint(out, h.zero_count());
  PutVarint(out, h.count());
  PutDouble(out, h.sum());
  PutDouble(out, h.min());
  PutDouble(out, h.max());
  PutVarint(out, ZigZag(h.positive_offset()));
  PutVarint(out, static_cast<uint64_t>(h.positive_bucket_count()));
  // Sparse: a second's buckets are mostly empty, so runs of zeros are one item.
  uint64_t zeros = 0;
  h.ForEachBucketRun([&](int32_t, std::span<const uint64_t> counts) {
    for (uint64_t c : counts) {
      if (c == 0) {
        ++zeros;
        continue;
      }
      if (zeros > 0) PutVarint(out, (zeros << 1) | 1);
      zeros = 0;
      PutVarint(out, c << 1);
    }
  });
  if (zeros > 0) PutVarint(out, (zeros << 1) | 1);  // never: the last bucket is non-zero
  return out;
}

std::optional<metrics::ExpHistogram> DecodeHistBlob(std::string_view blob) {
  if (blob.empty() || static_cast<uint8_t>(blob[0]) != kHistBlobVersion) return std::nullopt;
  Cursor c{blob, 1};
  const int64_t scale = UnZigZag(c.Varint());
  const uint64_t zero_count = c.Varint();
  const uint64_t count = c.Varint();
  const double sum = c.Double();
  const double min = c.Double();
  const double max = c.Double();
  const int64_t offset = UnZigZag(c.Varint());
  const uint64_t n = c.Varint();
  if (!c.ok || n > static_cast<uint64_t>(metrics::ExpHistogram::kMaxBuckets) ||
      scale < metrics::ExpHistogram::kMinScale || scale > metrics::ExpHistogram::kMaxScale ||
      offset < INT32_MIN / 2 || offset > INT32_MAX / 2) {
    return std::nullopt;
  }
  std::vector<uint64_t> counts;
  counts.reserve(n);
  while (counts.size() < n && c.ok) {
    const uint64_t v = c.Varint();
    const uint64_t k = v >> 1;
    if (k == 0 || (v & 1 && k > n - counts.size())) return std::nullopt;
    if (v & 1) {
      counts.insert(counts.end(), k, 0);
    } else {
      counts.push_back(k);
    }
  }
  if (!c.ok || counts.size() != n || c.pos != blob.size()) return std::nullopt;
  return metrics::ExpHistogram::FromParts(static_cast<int>(scale), zero_count, count, sum, min, max,
                                          static_cast<int32_t>(offset), counts);
}

}  // namespace stampede::store
