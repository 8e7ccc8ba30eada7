// One virtual user: a Lua coroutine that runs the scenario's exec function
// once per iteration, and the operation it is blocked on (HTTP requests of
// http.* or http.batch, or a sleep). Owned by its Runtime; the engine drives
// it with StartIteration()/Interrupt() and learns the outcome through
// ScriptHost::OnIterationEnd.
// Thread: the worker thread of its Runtime.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>
#include <algorithm>

#include "http/byte_buffer.h"
#include "http/client.h"
#include "http/response_parser.h"
#include "loop/event_loop.h"
#include "core/rng.h"
#include "script/response_callback.h"
#include "script/runtime.h"

namespace stampede::script {

class Vu {
 public:
  Vu(Runtime& runtime, uint64_t id, std::string scenario, std::string exec,
     const Runtime::Pairs* scenario_tags = nullptr, const Runtime::Pairs* scenario_env = nullptr);
  ~Vu();
  Vu(const Vu&) = delete;
  Vu& operator=(const Vu&) = delete;

  uint64_t id() const { return id_; }
  // Iterations started so far by this VU (the running one counts).
  uint64_t iteration() const { return iteration_; }
  const std::string& scenario() const { return scenario_; }
  const std::string& exec() const { return exec_; }
  bool busy() const { return busy_; }

  // Runs one iteration of exec(data). Precondition: !busy(). Ends through
  // ScriptHost::OnIterationEnd (possibly before this returns, when the
  // iteration never blocks).
  void StartIteration();
  // Abandons the running iteration: pending requests are cancelled, the sleep
  // timer stopped, the coroutine dropped. OnIterationEnd is not called.
  void Interrupt();

  // The engine's own per-VU data.
  void* user_data = nullptr;

  // ---- used by the Lua bindings (bindings.cc) ----
  struct Request;
  Runtime& runtime() { return runtime_; }
  core::Rng& rng() { return rng_; }
  std::vector<std::string>& groups() { return groups_; }
  const std::string& group_path() const { return group_path_; }
  void RebuildGroupPath();
  const Runtime::Pairs& scenario_tags() const { return scenario_tags_ ? *scenario_tags_ : kNone; }
  // Appends the tags every sample of this VU carries — group (k6's
  // "::outer::inner"), scenario, and the scenario's own tags — as views into
  // the VU, valid until its group or scenario changes.
  void AppendContextTags(std::vector<ScriptHost::Tag>& out) const {
    out.push_back({"group", group_path_});
    out.push_back({"scenario", scenario_});
    for (const auto& [k, v] : scenario_tags()) out.push_back({k, v});
    for (const auto& [k, v] : tags_) out.push_back({k, v});
  }
  // execution.vu.tags: tags the script set on this VU (k6's vu.tags), kept
  // across its iterations and added to every later sample (after the
  // scenario's, so they win) and span. Sorted by key; at most kMaxVuTags.
  static constexpr size_t kMaxVuTags = 32;
  const Runtime::Pairs& tags() const { return tags_; }
  // Sets (or, with `value` null, removes) a tag; false when the limit is hit.
  bool SetTag(std::string_view key, const std::string* value);
  // Index of this VU's scenario in the run's Execution (-1: none, e.g.
  // setup/teardown).
  int scenario_index() const { return scenario_index_; }
  // scenario.iterationInInstance of the running iteration: taken from the
  // run-wide counter on first use in the iteration (one atomic add), then
  // stable until the iteration ends.
  uint64_t ScenarioIteration();
  // The scenario's `env`, which overrides ENV for its VUs (null: none).
  const Runtime::Pairs* scenario_env() const { return scenario_env_; }
  // Starts `n` requests described by the Request slots (filled by the binding)
  // and yields the coroutine until all have finished. A batch (http.batch)
  // keeps at most RuntimeOptions::batch of them in flight at once, and at most
  // batch_per_host per origin; the others start, in order, as slots free up.
  std::vector<std::unique_ptr<Request>>& request_slots() { return requests_; }
  Request& SlotAt(size_t i);
  int StartRequestsAndYield(lua_State* co, size_t n, bool batch);
  int SleepAndYield(lua_State* co, double seconds);
  // An open operation of another module (a stampede.ws session) that must
  // end with the iteration. Attached while it lives; Interrupt() (and the
  // end of the iteration, as a safety net) calls Abandon on each: end at
  // once, never resume the VU. `report`: the host may still be told (false
  // while the VU is being destroyed).
  class Attachment {
   public:
    virtual ~Attachment() = default;
    virtual void Abandon(bool report) = 0;
  };
  void Attach(Attachment& a) { attachments_.push_back(&a); }
  void Detach(Attachment& a) { std::erase(attachments_, &a); }
  // Yields the coroutine `co` until ResumeWith(); the binding keeps what it
  // waits for (an Attachment, which Interrupt() abandons).
  int YieldForAttachment(lua_State* co);
  // Resumes the coroutine that yielded in YieldForAttachment with the
  // `nargs` values the caller pushed onto coroutine().
  void ResumeWith(int nargs) { Resume(nargs); }
  lua_State* coroutine() const { return co_; }
  // Cookie jar: cookies set by responses, sent back to the same host.
  void StoreCookies(const std::string& host, const http::HeaderList& headers);
  const std::string* CookieHeaderFor(const std::string& host) const;
  // The iteration's trace: requests are children of the iteration span.
  const otel::TraceId& trace_id() const { return trace_id_; }
  const otel::SpanId& iteration_span_id() const { return iteration_span_; }
  bool trace_sampled() const { return trace_sampled_; }
  // A request span of this (unsampled) trace was kept: keep its parents too.
  bool trace_kept() const { return trace_kept_; }
  void set_trace_kept() { trace_kept_ = true; }
  // A new trace for one request (--trace-root=request).
  void NewTrace();
  // Spans opened by group() and trace.span(), innermost last. Requests are
  // children of the innermost one, or of the iteration span.
  struct SpanFrame {
    otel::SpanId id;
    otel::SpanId parent;
    int64_t start_ns = 0;
    std::string name;
  };
  std::vector<SpanFrame>& span_stack() { return span_stack_; }
  const otel::SpanId& current_span_id() const {
    return span_stack_.empty() ? iteration_span_ : span_stack_.back().id;
  }
  // The VU's response callback (k6: per VU): the one set at init, until
  // http.setResponseCallback() is called while this VU runs. Kept across
  // iterations.
  ResponseCallback& response_callback() { return response_callback_; }

 private:
  class SleepTimer;
  friend class SleepTimer;
  void EnsureCoroutine();
  void Resume(int nargs);
  void OnRequestDone(Request& r);
  void StartBatchRequests();
  uint32_t& BatchHostCount(const http::Origin* origin);
  void ReleasePool();
  void OnSleepDone();
  void AbandonAttachments(bool report);
  void Finish(std::string_view error);

  Runtime& runtime_;
  uint64_t id_;
  uint64_t iteration_ = 0;
  std::string scenario_;
  std::string exec_;
  static inline const Runtime::Pairs kNone{};
  const Runtime::Pairs* scenario_tags_;
  const Runtime::Pairs* scenario_env_;
  lua_State* co_ = nullptr;  // the coroutine, anchored in the registry at co_ref_
  int co_ref_ = -2;
  bool busy_ = false;
  bool batch_ = false;
  size_t outstanding_ = 0;   // requests of the pending operation still running
  size_t pending_count_ = 0; // requests in the pending operation
  // http.batch under its limits: the first request not started yet, the
  // requests in flight, and those per origin of their first hop.
  size_t batch_next_ = 0;
  size_t batch_in_flight_ = 0;
  std::vector<std::pair<const http::Origin*, uint32_t>> batch_hosts_;
  // noVUConnectionReuse: this iteration's http::Exchange::pool_key (0: the
  // worker's shared pool).
  uint64_t pool_key_ = 0;
  int64_t started_ns_ = 0;
  std::vector<std::unique_ptr<Request>> requests_;
  std::unique_ptr<SleepTimer> sleep_;
  std::vector<std::string> groups_;
  std::string group_path_;
  core::Rng rng_;
  std::vector<std::pair<std::string, std::string>> cookies_;  // "host\tname" → value
  mutable std::string cookie_header_;
  otel::TraceId trace_id_;
  otel::SpanId iteration_span_;
  bool trace_sampled_ = false;
  bool trace_kept_ = false;
  std::vector<SpanFrame> span_stack_;
  ResponseCallback response_callback_;
  std::vector<Attachment*> attachments_;
  bool destroying_ = false;
  Runtime::Pairs tags_;
  int scenario_index_ = -1;
  uint64_t scenario_iteration_ = UINT64_MAX;  // unassigned in this iteration
  bool capture_result_ = false;  // setup(): keep the return value as JSON
  nlohmann::json result_;

  friend class Runtime;
};

}  // namespace stampede::script
