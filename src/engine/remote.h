// The seams of a distributed run (issue 11), seen from the runner. The
// transport and the merge live in dist/; the runner only knows these two
// interfaces, so `stampede run`, `coordinator` and `agent` share one main
// loop — the same live ticks, thresholds, dashboard, store, metric outputs,
// summary and exit codes.
//
//   - Coordinator: the runner runs the script's init, setup() and teardown()
//     itself, but no VU. Its only "worker" is an AgentFleet: every agent's
//     load, arriving as cumulative snapshots and merged exactly (dist/), so
//     thresholds, abortOnFail and every output judge the whole test.
//   - Agent: the runner runs its execution segment's VUs, but no setup() or
//     teardown(): the coordinator's setup() data arrives with the start
//     signal (k6 runs setup() once per test, not per instance). Its
//     snapshots go to the coordinator through a CoordinatorLink; the
//     coordinator's stop and abort commands come back the same way.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/worker_base.h"
#include "metrics/snapshot.h"

namespace stampede::engine {

// The agents of a distributed test, as the coordinator's runner sees them:
// one WorkerBase (Start, RequestStop, Join, progress(), result()) whose
// metrics are remote. progress().done turns true once every agent has
// finished or is lost; progress()'s counters are the agents' sums.
class AgentFleet : public WorkerBase {
 public:
  using WorkerBase::WorkerBase;

  // Main thread, after setup() and before the load: waits until every agent
  // has joined and initialised its script, while `wait(ns)` (which returns
  // true on Ctrl-C) passes the time. Throws core::ConfigError naming the
  // agents that never came, when the start timeout passes first. False on
  // Ctrl-C.
  virtual bool AwaitAgents(const std::function<bool(int64_t ns)>& wait) = 0;
  // Main thread, before Start(): setup()'s data, shipped with the start signal.
  virtual void SetSetupData(nlohmann::json data) = 0;
  // Any thread: the whole test's cumulative snapshot so far (every agent's
  // latest, merged); null before the first report.
  virtual std::shared_ptr<const metrics::Snapshot> Latest() const = 0;
  // After Join(): the whole test's final snapshot.
  virtual const metrics::Snapshot& Final() const = 0;
  // After Join(): one line per agent that was lost ("agent 2 (host:pid):
  // no report for 5.0 s"); empty when the result is whole.
  virtual std::vector<std::string> Lost() const = 0;
  // After Join(): one line per agent ("agent 0: 12345 requests, exit 0").
  virtual std::vector<std::string> AgentLines() const = 0;
  // Any thread (the dashboard's): steers every agent, as `run --ui` steers
  // its own workers: {"paused": bool} or {"scenario": NAME, "vus": N} /
  // {"scenario": NAME, "rate": R} (whole-test targets: each agent applies its
  // segment's share). Agents get it with their next report's answer.
  virtual void Steer(const nlohmann::json& change) = 0;
  // Main thread, before the load: where the agents' forwarded request spans
  // go (the run store's AddClientSpans: thread-safe, never blocks).
  virtual void SetSpanSink(std::function<void(std::string_view request)> sink) = 0;
};

// An agent's link to its coordinator.
class CoordinatorLink {
 public:
  virtual ~CoordinatorLink() = default;

  enum class Command { kNone, kStop, kAbort };

  // Main thread, where setup() would run: reports the agent ready and waits
  // for the coordinator's start signal (the barrier every agent crosses at
  // once), while `wait(ns)` passes the time (true: Ctrl-C). Returns setup()'s
  // data; nullopt when the coordinator cancelled the test, went away, or on
  // Ctrl-C (then no load runs).
  virtual std::optional<nlohmann::json> AwaitStart(const std::function<bool(int64_t ns)>& wait) = 0;
  // Main thread, once a second: the agent's cumulative snapshot. Never
  // blocks: the link's own thread sends it (the newest one wins).
  virtual void Report(std::shared_ptr<const metrics::Snapshot> cumulative, int64_t elapsed_ns) = 0;
  // Any thread: the coordinator's newest command (a lost coordinator, after
  // the grace period, is kStop).
  virtual Command command() const = 0;
  // Any thread: the coordinator's steering so far, {"version", "paused",
  // "scenarios": {NAME: {"vus": N} | {"rate": R}}}; version 0: none.
  virtual nlohmann::json steering() const = 0;
  // The span exporter's thread: one ExportTraceServiceRequest of this
  // agent's spans for the coordinator's run store (RunConfig::forward_spans).
  // Never blocks: queued (bounded), sent by the link's thread, dropped and
  // counted when the queue is full.
  virtual void ForwardSpans(std::string_view request) = 0;
  // Main thread, once the load has ended: delivers the final snapshot and the
  // agent's totals (errors by type, interrupted iterations...) within the
  // grace period, then closes the link.
  virtual void Finish(const metrics::Snapshot& final_snapshot, const nlohmann::json& totals) = 0;
};

}  // namespace stampede::engine
