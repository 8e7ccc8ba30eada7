// k6's response callbacks — http.expectedStatuses(...), http.setResponseCallback()
// and params.responseCallback — as plain data: the set of HTTP statuses that
// count as expected, or "no callback". k6 supports only expectedStatuses
// objects as callbacks (no script function), so a response is judged without
// calling Lua: the VU's callback is copied into each request (a fixed-size
// bitset, no allocation) and looked up in O(1) when the response is recorded.
//
// The verdict drives http_req_failed (k6: emitted as the reverse of
// "expected") and the expected_response tag; it does not change span status,
// which follows the HTTP semantic conventions (a CLIENT span is Error for
// 4xx, 5xx and transport errors, whatever the script expects).
//
// Thread: plain value type, no synchronisation.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace stampede::script {

// What a response callback said about one response (every redirect hop is
// judged on its own, as k6 does).
enum class ResponseVerdict : uint8_t {
  kExpected,    // http_req_failed sample 0, tag expected_response:true
  kUnexpected,  // http_req_failed sample 1, tag expected_response:false
  kUnjudged,    // no callback (setResponseCallback(nil), responseCallback = false):
                // no http_req_failed sample and no expected_response tag
};

class ResponseCallback {
 public:
  // Statuses a script may name: HTTP's three-digit codes.
  static constexpr int kMinStatus = 100;
  static constexpr int kMaxStatus = 999;

  // An expectedStatuses() with nothing added yet: every status unexpected.
  ResponseCallback() = default;

  // k6's default: 200–399 are expected.
  static ResponseCallback Default() {
    ResponseCallback c;
    c.Add(200, 399);
    return c;
  }
  // No callback: nothing is judged.
  static ResponseCallback None() {
    ResponseCallback c;
    c.judges_ = false;
    return c;
  }

  // Marks [min, max] expected. Precondition (the binding checks it):
  // kMinStatus <= min <= max <= kMaxStatus.
  void Add(int min, int max) {
    for (int s = min; s <= max; ++s) {
      bits_[static_cast<size_t>(s) / 64] |= uint64_t{1} << (s % 64);
    }
  }

  bool judges() const { return judges_; }
  bool Expects(int status) const {
    if (status < kMinStatus || status > kMaxStatus) return false;
    return (bits_[static_cast<size_t>(status) / 64] >> (status % 64)) & 1;
  }

  // The verdict on a response with `status`; a request that got no response
  // (`transport_error`) is always unexpected when judged.
  ResponseVerdict Judge(int status, bool transport_error) const {
    if (!judges_) return ResponseVerdict::kUnjudged;
    if (transport_error || !Expects(status)) return ResponseVerdict::kUnexpected;
    return ResponseVerdict::kExpected;
  }

 private:
  std::array<uint64_t, (kMaxStatus + 64) / 64> bits_{};  // bit s: status s expected
  bool judges_ = true;
};

}  // namespace stampede::script
