// One scenario's executor on one worker: k6's six executors over this
// worker's share of the scenario (plan.h: SegmentFor) — when VUs start and
// stop (ramping-vus, gracefulRampDown), when iterations start (arrival rates,
// with dropped_iterations and iteration_start_lag), when the scenario ends
// (duration, iterations, gracefulStop). Times come from the worker's event
// loop; schedules from schedule.h.
// Thread: the worker thread that owns the loop.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/member_timer.h"
#include "engine/plan.h"
#include "engine/request_spans.h"
#include "engine/schedule.h"
#include "engine/worker_base.h"
#include "loop/event_loop.h"
#include "metrics/shard.h"
#include "script/vu.h"

namespace stampede::engine {

class ScenarioRun;

// A request span waiting for the checks that follow its response (see
// ScriptWorker): strings are copies whose capacity is reused.
struct PendingSpan {
  bool active = false;
  bool failed = false;
  bool kept = false;  // RequestSpans::Keeps' answer, decided once at the response
  RequestOutcome outcome;
  RequestSpanInfo info;
  std::string method, url_full, server_address, name, error_detail, failed_checks;
  // The VU's tags at the request, as span attributes (capacity reused).
  std::vector<std::pair<std::string, std::string>> tag_attributes;
  size_t tag_count = 0;
};

// One VU of a scenario, with the deferred start of its next iteration and
// its ramp-down deadline. `vu.user_data` points back here.
class Slot final : public loop::Task, public loop::Timer {
 public:
  Slot(ScenarioRun& run, script::Vu& vu) : run(run), vu(vu) { vu.user_data = this; }
  void Run() override;      // next iteration (Task)
  void OnTimer() override;  // gracefulRampDown ran out (Timer)
  ScenarioRun& run;
  script::Vu& vu;
  bool active = false;       // the executor wants this VU iterating
  uint64_t own_left = 0;     // per-vu-iterations: iterations still to run
  int64_t scheduled_ns = 0;  // arrival-rate: when this iteration was due
  PendingSpan pending;       // capacity reused: no allocation per request
};

// What a ScenarioRun needs from its worker.
class ScenarioHost {
 public:
  virtual ~ScenarioHost() = default;
  virtual loop::EventLoop& loop() = 0;
  virtual script::Vu& NewVu(const Scenario& scenario) = 0;
  virtual metrics::Shard& shard() = 0;
  virtual WorkerResult& result() = 0;
  // The scenario is done (the worker ends when all are).
  virtual void ScenarioDone() = 0;
  // The VU of `slot` is about to be interrupted (its pending span is flushed).
  virtual void BeforeInterrupt(Slot& slot) = 0;
  // The dashboard paused the test (script::Execution::paused()): start no
  // new iteration until Resume().
  virtual bool paused() const { return false; }
};

class ScenarioRun {
 public:
  // `host` and `scenario` (this worker's share) must outlive the run.
  ScenarioRun(ScenarioHost& host, const Scenario& scenario)
      : host_(host), sc_(scenario), phase_timer_(*this), arrival_timer_(*this) {}

  const Scenario& scenario() const { return sc_; }
  bool done() const { return state_ == State::kDone; }

  // Starts the scenario at test_start_ns + its startTime (monotonic ns).
  void Schedule(int64_t test_start_ns);

  // VUs in the executor's wanted set / inside an iteration or about to
  // start one: kept as counters so that ending an iteration is O(1).
  int64_t active_count() const { return active_count_; }
  int64_t in_use() const { return in_iteration_ + pending_; }
  int64_t allocated() const { return static_cast<int64_t>(slots_.size()); }

  // The engine (or the end of the scenario's time) asks for a stop:
  // gracefully (in-flight iterations get gracefulStop), or at once.
  void BeginGracefulStop();
  void HardStop();
  // The test was resumed after a pause: the VUs held meanwhile start their
  // next iteration (arrival-rate starts due during the pause were skipped).
  void Resume();
  // The dashboard set this scenario's VUs (`vus` ≥ 0, the whole test's:
  // this worker runs its Scenario::vu_stripe's share, which composes the
  // instance's execution segment and the worker's stripe; ramping-vus stops
  // following its stages) or its start rate (`rate` ≥ 0 per timeUnit, from
  // now on: this worker starts its stripe's share of the new schedule). -1:
  // unchanged.
  void ApplyControl(int64_t vus, double rate);

  // Called by a Slot: start its next iteration (a deferred task), its
  // iteration ended (from ScriptHost::OnIterationEnd), its ramp-down grace ran out.
  void StartNext(Slot& s);
  void IterationEnded(Slot& s);
  void RampDownExpired(Slot& s);

  // The tag set of this scenario's iteration metrics, in the worker's shard.
  metrics::TagSetId iteration_tags = 0;

 private:
  enum class State { kWaiting, kRunning, kStopping, kDone };
  enum class Phase { kBegin, kRampChange, kEnd, kGraceOver };

  bool IsArrivalRate() const;

  void SetActive(Slot& s, bool active);

  void Post(Slot& s);

  Slot& NewSlot();

  void OnPhase();
  friend class MemberTimer<ScenarioRun, &ScenarioRun::OnPhase>;

  void Begin(int64_t now);

  void ApplyRamp(int64_t now);
  // Activates or releases VUs (in slot order) until `target` are active.
  void SetVuTarget(int64_t target, int64_t now);
  // Starts one arrival due at `due` on an idle VU, or drops it.
  void StartArrival(int64_t due, int64_t now);

  void ScheduleArrival();

  // Starts every iteration that is due, each on an idle VU; with none free
  // (and maxVUs reached) the iteration is dropped and counted, so
  // coordinated omission shows instead of hiding.
  void OnArrival();
  friend class MemberTimer<ScenarioRun, &ScenarioRun::OnArrival>;

  void CheckDone();

  ScenarioHost& host_;
  const Scenario& sc_;
  State state_ = State::kWaiting;
  Phase next_phase_ = Phase::kBegin;
  int64_t t0_ = 0;
  uint64_t remaining_ = 0;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<Slot*> idle_;  // arrival-rate: VUs free for the next arrival
  std::vector<Slot*> held_;  // VUs whose next iteration waits for Resume()
  std::unique_ptr<RampingVusSchedule> ramp_;
  std::unique_ptr<ArrivalSchedule> arrivals_;
  uint64_t next_arrival_ = 0;
  // Steering: the VU target this worker was given (-1: none), and the
  // arrival schedule that replaced the planned one (rate per ns, from
  // dyn_t0_; dyn_next_: this worker's next start in it).
  int64_t vus_override_ = -1;
  int64_t global_vus_override_ = -1;
  bool dyn_ = false;
  double dyn_rate_ = -1;
  double dyn_per_ns_ = 0;
  int64_t dyn_t0_ = 0;
  uint64_t dyn_next_ = 0;
  int64_t active_count_ = 0;
  int64_t in_iteration_ = 0;
  int64_t pending_ = 0;
  MemberTimer<ScenarioRun, &ScenarioRun::OnPhase> phase_timer_;
  MemberTimer<ScenarioRun, &ScenarioRun::OnArrival> arrival_timer_;};

}  // namespace stampede::engine
