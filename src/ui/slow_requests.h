// SlowRequests: the slowest sampled requests of each second of the run, for
// the live dashboard's exemplars (a click on a latency point lists the
// requests behind it, with their trace ids).
//
// Fed by the span exporter thread with every sampled CLIENT request span the
// run's span pipeline hands over (engine/dashboard_wiring.h says which:
// accepted by the collector when spans are exported over OTLP, every recorded
// one when they go only to the run store), so a listed trace id names a span
// that exists somewhere. Kept per second of the run (whole seconds since
// `start_unix_ns`, by the span's end, as the run store's `second`): the
// `per_second` slowest by http_req_duration, for the newest `max_seconds`
// seconds only, so memory is bounded (an hour: 3600 × 10 entries).
//
// Thread-safety: every member takes an internal mutex (one writer, the
// exporter thread, once per batch; readers, the dashboard's server thread,
// once per click). Cold path: never touched by workers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace stampede::ui {

struct SlowRequest {
  std::string trace_id;  // 32 lowercase hex digits
  std::string span_id;   // 16 lowercase hex digits
  std::string name;      // the request name (or the redacted URL), at most 512 bytes
  std::string method;
  int status = 0;           // HTTP status; 0: no response
  int64_t end_unix_ns = 0;  // the CLIENT span's end
  double duration_ms = 0;   // k6's http_req_duration (sending + waiting + receiving)
  double total_ms = 0;      // the CLIENT span (with connection setup)
};

class SlowRequests {
 public:
  explicit SlowRequests(int64_t start_unix_ns, size_t per_second = 10, size_t max_seconds = 3600);

  void Offer(SlowRequest request);

  // The slowest kept requests (by duration_ms, then total_ms) that ended in
  // (from_unix_ns, to_unix_ns], at most `limit`, slowest first. Exact for a
  // window inside one second of the run; a window spanning seconds merges
  // each second's kept `per_second`.
  std::vector<SlowRequest> Slowest(int64_t from_unix_ns, int64_t to_unix_ns, size_t limit) const;

  uint64_t offered() const;

 private:
  const int64_t start_unix_ns_;
  const size_t per_second_;
  const size_t max_seconds_;
  mutable std::mutex mu_;
  std::map<int64_t, std::vector<SlowRequest>> by_second_;  // each sorted slowest first
  uint64_t offered_ = 0;
};

}  // namespace stampede::ui
