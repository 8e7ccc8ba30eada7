#include "store/span_budget.h"

#include <algorithm>
#include <limits>

namespace stampede::store {
SpanBudget::SpanBudget(Options options) : options_(options) {}
SpanBudget::~SpanBudget() = default;

int64_t SpanBudget::SecondOf(int64_t unix_ns) const {
  const int64_t d = unix_ns - options_.run_start_unix_ns;
  if (d <= 0) return 0;
  return d / 1'000'000'000;
}

bool SpanBudget::Better(const Candidate& a, const Candidate& b) {
  const bool fa = a.request.failed(), fb = b.request.failed();
  if (fa != fb) return fa;
  if (a.request.duration_ms != b.request.duration_ms) {
    return a.request.duration_ms > b.request.duration_ms;
  }
  return a.key < b.key;
}

void SpanBudget::Add(std::vector<SpanRecord> spans, std::vector<SpanRecord>& ready,
                     std::vector<ExemplarRecord>& exemplars) {
  received_ += spans.size();
  // Requests first, so that their children in the same batch find them.
  for (SpanRecord& s : spans) {
    if (s.is_request) AddRequest(std::move(s), ready, exemplars);
  }
  for (SpanRecord& s : spans) {
    if (!s.is_request) AddOther(std::move(s), ready);
  }
  // A memory bound whatever the budget: the oldest windows close early.
  while (held_spans_ > options_.max_held_spans && !windows_.empty()) {
    CloseBefore(windows_.begin()->first + 1, ready, exemplars);
  }
  UpdateHighWater();
}

void SpanBudget::AddRequest(SpanRecord span, std::vector<SpanRecord>& ready,
                            std::vector<ExemplarRecord>& exemplars) {
  const int64_t second = SecondOf(span.start_unix_ns);
  if (options_.max_per_second == 0 || second < closed_before_) {
    ++not_kept_;
    MarkRejected(span.trace_id + span.span_id);
    return;
  }
  auto it = windows_.find(second);
  if (it == windows_.end()) {
    while (windows_.size() >= options_.max_open_windows) {
      CloseWindow(windows_.begin(), ready, exemplars);
    }
    it = windows_.emplace(second, Window{}).first;
  }
  auto c = std::make_unique<Candidate>();
  c->key = span.trace_id + span.span_id;
  c->second = second;
  c->request = std::move(span);
  ++held_spans_;
  ++candidate_count_;
  if (auto p = pending_.find(c->request.trace_id); p != pending_.end()) {
    for (Pending& held : p->second) c->spans.push_back(std::move(held.span));
    pending_count_ -= p->second.size();
    pending_.erase(p);  // held_spans_ unchanged: they move into the candidate
  }
  by_span_[c->key] = c.get();
  by_trace_.emplace(c->request.trace_id, c.get());

  auto worse_first = [](const std::unique_ptr<Candidate>& a, const std::unique_ptr<Candidate>& b) {
    return Better(*a, *b);
  };
  auto& heap = it->second.heap;
  if (heap.size() < options_.max_per_second) {
    heap.push_back(std::move(c));
    std::push_heap(heap.begin(), heap.end(), worse_first);
  } else if (Better(*c, *heap.front())) {
    std::pop_heap(heap.begin(), heap.end(), worse_first);
    std::unique_ptr<Candidate> out = std::move(heap.back());
    heap.back() = std::move(c);
    std::push_heap(heap.begin(), heap.end(), worse_first);
    Evict(std::move(out));
  } else {
    Evict(std::move(c));
  }
}

void SpanBudget::Unindex(const Candidate& c) {
  by_span_.erase(c.key);
  auto [b, e] = by_trace_.equal_range(c.request.trace_id);
  for (auto i = b; i != e; ++i) {
    if (i->second == &c) {
      by_trace_.erase(i);
      break;
    }
  }
}

void SpanBudget::Evict(std::unique_ptr<Candidate> c) {
  Unindex(*c);
  MarkRejected(c->key);
  --candidate_count_;
  ++not_kept_;
  --held_spans_;
  // The request's own children go with it; other spans of the trace move to
  // another candidate of the trace when there is one.
  Candidate* other = nullptr;
  if (auto t = by_trace_.find(c->request.trace_id); t != by_trace_.end()) other = t->second;
  for (SpanRecord& s : c->spans) {
    if (other != nullptr && s.parent_span_id != c->request.span_id) {
      other->spans.push_back(std::move(s));
    } else {
      ++not_kept_;
      --held_spans_;
    }
  }
}

void SpanBudget::AddOther(SpanRecord span, std::vector<SpanRecord>& ready) {
  if (!span.parent_span_id.empty()) {
    if (auto p = by_span_.find(span.trace_id + span.parent_span_id); p != by_span_.end()) {
      p->second->spans.push_back(std::move(span));
      ++held_spans_;
      return;
    }
  }
  if (!span.parent_span_id.empty() && rejected_.contains(span.trace_id + span.parent_span_id)) {
    ++not_kept_;  // a phase of a request that was not kept
    return;
  }
  if (kept_traces_.contains(span.trace_id)) {
    ++kept_;
    ready.push_back(std::move(span));
    return;
  }
  if (auto t = by_trace_.find(span.trace_id); t != by_trace_.end()) {
    t->second->spans.push_back(std::move(span));
    ++held_spans_;
    return;
  }
  const int64_t second = SecondOf(span.start_unix_ns);
  if (second < closed_before_ || pending_count_ >= options_.max_pending ||
      options_.max_per_second == 0) {
    ++not_kept_;
    return;
  }
  std::string trace = span.trace_id;
  pending_[trace].push_back(Pending{second, std::move(span)});
  ++pending_count_;
  ++held_spans_;
}

void SpanBudget::MarkKept(const std::string& trace_id, int64_t second) {
  if (!kept_traces_.insert(trace_id).second) return;
  kept_order_.emplace_back(second, trace_id);
  while (kept_order_.size() > options_.max_kept_traces) {
    kept_traces_.erase(kept_order_.front().second);
    kept_order_.pop_front();
  }
}

void SpanBudget::ForgetKeptBefore(int64_t second) {
  while (!kept_order_.empty() && kept_order_.front().first < second) {
    kept_traces_.erase(kept_order_.front().second);
    kept_order_.pop_front();
  }
}

void SpanBudget::MarkRejected(const std::string& key) {
  if (options_.max_rejected == 0 || !rejected_.insert(key).second) return;
  rejected_order_.push_back(key);
  while (rejected_order_.size() > options_.max_rejected) {
    rejected_.erase(rejected_order_.front());
    rejected_order_.pop_front();
  }
}

void SpanBudget::CloseWindow(std::map<int64_t, Window>::iterator it, std::vector<SpanRecord>& ready,
                             std::vector<ExemplarRecord>& exemplars) {
  std::map<std::string, const Candidate*> slowest;  // by request name
  auto& heap = it->second.heap;
  for (const auto& c : heap) {
    auto [s, inserted] = slowest.emplace(c->request.request_name, c.get());
    if (!inserted && c->request.duration_ms > s->second->request.duration_ms) s->second = c.get();
  }
  for (const auto& [name, c] : slowest) {
    exemplars.push_back(ExemplarRecord{it->first, name, c->request.trace_id, c->request.span_id,
                                       c->request.duration_ms});
  }
  for (auto& c : heap) {
    Unindex(*c);
    MarkKept(c->request.trace_id, it->first);
    kept_ += 1 + c->spans.size();
    held_spans_ -= 1 + c->spans.size();
    --candidate_count_;
    ready.push_back(std::move(c->request));
    for (SpanRecord& s : c->spans) ready.push_back(std::move(s));
  }
  windows_.erase(it);
}

void SpanBudget::ReleasePending(int64_t before_second, bool all, std::vector<SpanRecord>& ready) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    const bool kept = kept_traces_.contains(it->first);
    auto& held = it->second;
    size_t w = 0;
    for (size_t r = 0; r < held.size(); ++r) {
      if (all || held[r].second < before_second) {
        if (kept) {
          ++kept_;
          ready.push_back(std::move(held[r].span));
        } else {
          ++not_kept_;
        }
        --pending_count_;
        --held_spans_;
      } else {
        if (w != r) held[w] = std::move(held[r]);
        ++w;
      }
    }
    held.resize(w);
    it = held.empty() ? pending_.erase(it) : std::next(it);
  }
}

void SpanBudget::CloseBefore(int64_t before_second, std::vector<SpanRecord>& ready,
                             std::vector<ExemplarRecord>& exemplars) {
  while (!windows_.empty() && windows_.begin()->first < before_second) {
    CloseWindow(windows_.begin(), ready, exemplars);
  }
  closed_before_ = std::max(closed_before_, before_second);
  ReleasePending(before_second, false, ready);
  ForgetKeptBefore(before_second - options_.kept_trace_seconds);
}

void SpanBudget::CloseAll(std::vector<SpanRecord>& ready, std::vector<ExemplarRecord>& exemplars) {
  while (!windows_.empty()) CloseWindow(windows_.begin(), ready, exemplars);
  ReleasePending(0, true, ready);
  closed_before_ = std::numeric_limits<int64_t>::max();
}

void SpanBudget::UpdateHighWater() {
  high_water_.candidates = std::max(high_water_.candidates, candidate_count_);
  high_water_.open_windows = std::max(high_water_.open_windows, windows_.size());
  high_water_.pending = std::max(high_water_.pending, pending_count_);
  high_water_.held_spans = std::max(high_water_.held_spans, held_spans_);
}

}  // namespace stampede::store
