// Exemplars: the link from a latency data point to the trace behind it.
//
// The span exporter thread offers every CLIENT request span it has had
// acknowledged by the collector (so an exemplar never names a span that was
// not exported); the metric outputs (OTLP metrics, Prometheus/OpenMetrics)
// read them. Keyed by the request's (name, method, status) — the tags that
// http_req_duration's series and http.client.request.duration's points share.
//
// Per key the reservoir keeps, for the current interval, the slowest request
// plus a uniform random sample (reservoir sampling) of up to `per_interval`-1
// others; TakeInterval() hands them over and starts a new interval. It also
// keeps the `recent` most recent exemplars per key (a ring), for outputs that
// want one exemplar per histogram bucket (OpenMetrics) rather than per
// interval. At most `max_keys` keys (new keys beyond it are ignored), so
// memory stays bounded whatever the run length.
//
// Thread-safety: every member takes an internal mutex; cold path (the span
// exporter thread offers after each export; readers once per interval or
// scrape). Never touched by workers.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace stampede::metrics {

struct Exemplar {
  std::array<uint8_t, 16> trace_id{};
  std::array<uint8_t, 8> span_id{};
  int64_t time_unix_ns = 0;  // the span's end
  int64_t duration_ns = 0;   // k6's http_req_duration of the request (sending+waiting+receiving)
  int64_t total_ns = 0;      // the CLIENT span's duration (http.client.request.duration)
};

// The reservoir key of a request: its `name` tag (the request name, or the
// redacted URL when unnamed), its method and its status code as text ("0"
// for a transport error).
std::string ExemplarKey(std::string_view name, std::string_view method, std::string_view status);

class ExemplarReservoir {
 public:
  explicit ExemplarReservoir(size_t per_interval = 5, size_t recent = 16, size_t max_keys = 4096);

  void Offer(std::string_view key, const Exemplar& exemplar);

  // The interval's exemplars per key (slowest first), and a new interval.
  std::map<std::string, std::vector<Exemplar>> TakeInterval();
  // The most recent exemplars per key, oldest first (not cleared).
  std::map<std::string, std::vector<Exemplar>> Recent() const;
  // Every exemplar offered so far (counter, for stats and tests).
  uint64_t offered() const;

 private:
  struct Interval {
    std::vector<Exemplar> picks;  // [0] is the slowest by total_ns
    uint64_t seen = 0;
  };
  struct Ring {
    std::vector<Exemplar> items;
    size_t next = 0;
  };
  const size_t per_interval_;
  const size_t recent_;
  const size_t max_keys_;
  mutable std::mutex mu_;
  std::map<std::string, Interval, std::less<>> interval_;
  std::map<std::string, Ring, std::less<>> recent_by_key_;
  uint64_t offered_ = 0;
  uint64_t rng_ = 0x2545f4914f6cdd1dull;
};

}  // namespace stampede::metrics
