// SpanBudget: which of stampede's own spans the run store keeps, private to
// store/ (docs/store.md, "Span budget"). Runs on the store thread only.
//
// Request spans (CLIENT spans carrying http.request.method) compete, per
// second of the run (by span start), for `max_per_second` places: failed
// requests first, then the slowest. Each second is a window held in memory
// until the data has moved `grace_seconds` past its end (or CloseAll); a
// window is a bounded heap of candidates, each a request span with its phase
// children (parent = the request span) and the other spans of its trace
// (script `trace` spans, ...). When a window closes, its candidates are
// kept; everything pushed out on the way was counted as not kept.
//
// Spans whose request was not kept (the last max_rejected requests are
// remembered) are not kept either, at once. Spans whose request is not (yet) known are held per
// trace, at most `max_pending` spans overall (beyond: not kept): when a request of their trace
// arrives they join its candidate; when their own second closes they are written if a request of
// their trace was already kept, else not kept. Spans of a trace already kept are released at once.
//
// Memory: at most max_per_second × (open windows) candidates plus
// max_pending held spans; open windows are capped at max_open_windows, and
// the spans held in all at about max_held_spans (the oldest windows are
// closed early beyond either).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "store/span_decode.h"

namespace stampede::store {

struct ExemplarRecord {
  int64_t second = 0;
  std::string name, trace_id, span_id;
  double duration_ms = 0;
};

class SpanBudget {
 public:
  struct Options {
    int64_t run_start_unix_ns = 0;
    uint32_t max_per_second = 1000;
    int64_t grace_seconds = 15;
    size_t max_pending = 20'000;
    size_t max_open_windows = 64;
    // Spans held in all (candidates, their children, pending): beyond, the
    // oldest windows close early, so memory stays bounded even with a budget
    // far above what a second brings (--store-spans-per-second 1000000).
    size_t max_held_spans = 100'000;
    // Trace ids remembered as kept, so that the trace's later spans (the
    // service's, through the receiver) are kept too: for kept_trace_seconds
    // after their window closed, and at most max_kept_traces of them. Time
    // bounds it in a long run (bench/soak.py: a count alone let memory grow
    // for a quarter of an hour before it held).
    size_t max_kept_traces = 200'000;
    int64_t kept_trace_seconds = 60;
    size_t max_rejected = 65'536;      // request ids remembered as not kept
  };
  struct HighWater {
    size_t candidates = 0;  // request candidates held in open windows
    size_t open_windows = 0;
    size_t pending = 0;     // spans held without a request
    size_t held_spans = 0;  // every span held (candidates' spans + pending)
  };

  explicit SpanBudget(Options options);
  ~SpanBudget();

  // Takes the client spans of one request. Spans to write now (of traces
  // already kept) are appended to `ready`.
  void Add(std::vector<SpanRecord> spans, std::vector<SpanRecord>& ready,
           std::vector<ExemplarRecord>& exemplars);
  // Closes the windows of seconds < `before_second`: their spans go to
  // `ready`, one exemplar per (second, request name) to `exemplars`.
  void CloseBefore(int64_t before_second, std::vector<SpanRecord>& ready,
                   std::vector<ExemplarRecord>& exemplars);
  // Closes every window and gives up every held span (Finish).
  void CloseAll(std::vector<SpanRecord>& ready, std::vector<ExemplarRecord>& exemplars);

  // Closes windows that the data has moved past: seconds < now_second - grace.
  void Advance(int64_t now_second, std::vector<SpanRecord>& ready,
               std::vector<ExemplarRecord>& exemplars) {
    CloseBefore(now_second - options_.grace_seconds, ready, exemplars);
  }

  uint64_t received() const { return received_; }
  uint64_t kept() const { return kept_; }
  uint64_t not_kept() const { return not_kept_; }
  const HighWater& high_water() const { return high_water_; }

  int64_t SecondOf(int64_t unix_ns) const;

 private:
  struct Candidate {
    SpanRecord request;
    std::vector<SpanRecord> spans;  // children and other spans of the trace
    std::string key;                // trace_id + span_id
    int64_t second = 0;
  };
  struct Window {
    std::vector<std::unique_ptr<Candidate>> heap;  // front: the least worth keeping
  };
  struct Pending {
    int64_t second = 0;
    SpanRecord span;
  };

  static bool Better(const Candidate& a, const Candidate& b);
  void AddRequest(SpanRecord span, std::vector<SpanRecord>& ready,
                  std::vector<ExemplarRecord>& exemplars);
  void AddOther(SpanRecord span, std::vector<SpanRecord>& ready);
  void Evict(std::unique_ptr<Candidate> c);
  void Unindex(const Candidate& c);
  void CloseWindow(std::map<int64_t, Window>::iterator it, std::vector<SpanRecord>& ready,
                   std::vector<ExemplarRecord>& exemplars);
  void ReleasePending(int64_t before_second, bool all, std::vector<SpanRecord>& ready);
  void MarkKept(const std::string& trace_id, int64_t second);
  void ForgetKeptBefore(int64_t second);
  void MarkRejected(const std::string& key);
  void UpdateHighWater();

  Options options_;
  std::map<int64_t, Window> windows_;
  int64_t closed_before_ = INT64_MIN;                    // windows of seconds below are closed
  std::unordered_map<std::string, Candidate*> by_span_;  // trace+span → candidate
  std::unordered_multimap<std::string, Candidate*> by_trace_;      // trace → candidates
  std::unordered_map<std::string, std::vector<Pending>> pending_;  // trace → held spans
  size_t pending_count_ = 0;
  size_t candidate_count_ = 0;
  size_t held_spans_ = 0;
  std::unordered_set<std::string> kept_traces_;
  std::deque<std::pair<int64_t, std::string>> kept_order_;  // (window second, trace id)
  std::unordered_set<std::string> rejected_;  // trace+span of requests not kept
  std::deque<std::string> rejected_order_;
  uint64_t received_ = 0, kept_ = 0, not_kept_ = 0;
  HighWater high_water_;
};

}  // namespace stampede::store
