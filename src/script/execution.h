// The run-wide execution state behind `require("stampede.execution")` (k6's
// k6/execution): what every worker's runtime reads and bumps about the test
// as a whole — the scenarios, per-worker iteration and VU counters, the
// unique iteration numbers of each scenario, and the script's abort request.
//
// Ownership: the engine's Runner creates one per run (shared_ptr, held by
// every Runtime through RuntimeOptions::execution) before the script's init,
// then calls Configure() once the plan is known, before the workers start.
// Thread-safety: after Configure(), every member is safe from any thread.
// Workers write only their own cache-line-sized counter slot (relaxed load
// + store, no read-modify-write across cores); the unique iteration numbers
// are one fetch_add on a per-scenario atomic, taken only when the script
// reads them. The abort reason is written once under a mutex (cold).
// Units: nanoseconds (monotonic clock of core::MonotonicClock) unless named
// otherwise.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace stampede::script {

class Execution {
 public:
  // What the module says about one scenario.
  struct ScenarioInfo {
    std::string name;
    std::string executor;         // k6's name, e.g. "ramping-vus"
    int64_t start_offset_ns = 0;  // its startTime, from the start of the test
    int64_t duration_ns = 0;      // the time iterations may start in (0: none)
    // Iteration-based executors: the whole test's iterations (shared-
    // iterations: `iterations`; per-vu-iterations: vus × iterations); 0 for
    // time-based ones (progress is then the fraction of duration_ns).
    uint64_t total_iterations = 0;
  };

  Execution() = default;
  Execution(const Execution&) = delete;
  Execution& operator=(const Execution&) = delete;

  // Main thread, before any worker starts. `workers`: the number of worker
  // threads (each calls the Worker* functions with its index < workers).
  // `options`: the test's consolidated options (test.options).
  // `instance_index` / `instance_count`: this process's place in a
  // distributed test (0 / 1 alone): ids "InTest" interleave instances.
  void Configure(std::vector<ScenarioInfo> scenarios, int workers, nlohmann::json options,
                 uint32_t instance_index = 0, uint32_t instance_count = 1);
  // Main thread, when the test starts (after setup()): the common start
  // instant, monotonic and wall-clock.
  void SetStart(int64_t start_ns, int64_t start_unix_ns);

  int ScenarioIndex(std::string_view name) const;  // -1: not a scenario
  const ScenarioInfo& scenario(int index) const { return scenarios_[static_cast<size_t>(index)]; }
  const nlohmann::json& options() const { return options_; }
  uint32_t instance_index() const { return instance_index_; }
  uint32_t instance_count() const { return instance_count_; }
  bool started() const { return start_ns_.load(std::memory_order_acquire) != 0; }
  int64_t start_ns() const { return start_ns_.load(std::memory_order_acquire); }
  int64_t start_unix_ns() const { return start_unix_ns_; }

  // ---- worker side (each worker its own slot) ----
  void IterationStarted(int worker, int scenario) {
    if (Slot* s = SlotOf(worker)) {
      Bump(s->started);
      if (scenario >= 0 && static_cast<size_t>(scenario) < kMaxScenarioSlots) {
        Bump(s->started_in[scenario]);
      }
    }
  }
  void IterationCompleted(int worker) {
    if (Slot* s = SlotOf(worker)) Bump(s->completed);
  }
  void IterationInterrupted(int worker) {
    if (Slot* s = SlotOf(worker)) Bump(s->interrupted);
  }
  void SetVus(int worker, uint32_t active, uint32_t initialized) {
    if (Slot* s = SlotOf(worker)) {
      s->vus_active.store(active, std::memory_order_relaxed);
      s->vus_initialized.store(initialized, std::memory_order_relaxed);
    }
  }
  // The next number of `scenario`'s iterations in this instance (0-based,
  // unique across the instance's workers): scenario.iterationInInstance.
  uint64_t NextScenarioIteration(int scenario);

  // ---- readers (any thread; sums over the workers' slots) ----
  struct InstanceCounts {
    uint64_t iterations_completed = 0;
    uint64_t iterations_interrupted = 0;
    uint64_t vus_active = 0;
    uint64_t vus_initialized = 0;
  };
  InstanceCounts Counts() const;
  // Iterations of `scenario` started in this instance so far.
  uint64_t ScenarioIterationsStarted(int scenario) const;
  // k6's scenario.progress in [0, 1] at monotonic `now_ns`.
  double Progress(int scenario, int64_t now_ns) const;

  // ---- pause (the dashboard's steering) ----
  // While paused, executors start no new iteration (running ones finish;
  // arrival-rate starts due meanwhile are skipped, not dropped); the
  // schedule's clock keeps running. Any thread; workers read it each loop
  // turn and on every iteration start.
  void SetPaused(bool paused) { paused_.store(paused, std::memory_order_release); }
  bool paused() const { return paused_.load(std::memory_order_acquire); }

  // ---- the dashboard's steering of one scenario (k6's externally-controlled
  // idea, on the running executor) ----
  // The whole test's VUs (constant-vus, ramping-vus: the stages stop
  // applying) or start rate (the arrival-rate executors: iterations per the
  // scenario's timeUnit, from now on) of scenario `index`. Any thread;
  // workers apply it when control_version() changes (the runner wakes them).
  void SetScenarioVus(int index, int64_t vus);
  void SetScenarioRate(int index, double rate);
  // -1: never set.
  int64_t scenario_vus(int index) const;
  double scenario_rate(int index) const;
  uint64_t control_version() const { return control_version_.load(std::memory_order_acquire); }

  // ---- test.abort ----
  // Records the first abort request (later ones are ignored) and returns
  // whether this one was the first.
  bool RequestAbort(std::string reason);
  bool aborted() const { return aborted_.load(std::memory_order_acquire); }
  std::string abort_reason() const;

 private:
  static constexpr size_t kMaxScenarioSlots = 32;  // more scenarios: not counted per scenario
  struct alignas(64) Slot {
    std::atomic<uint64_t> started{0};
    std::atomic<uint64_t> completed{0};
    std::atomic<uint64_t> interrupted{0};
    std::atomic<uint32_t> vus_active{0};
    std::atomic<uint32_t> vus_initialized{0};
    std::atomic<uint64_t> started_in[kMaxScenarioSlots]{};
  };
  // Single writer: a plain load and store, no locked instruction.
  static void Bump(std::atomic<uint64_t>& c) {
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  Slot* SlotOf(int worker) {
    return worker >= 0 && worker < workers_ ? &slots_[static_cast<size_t>(worker)] : nullptr;
  }

  std::vector<ScenarioInfo> scenarios_;
  std::unique_ptr<std::atomic<uint64_t>[]> scenario_numbers_;
  std::unique_ptr<Slot[]> slots_;
  int workers_ = 0;
  nlohmann::json options_;
  uint32_t instance_index_ = 0;
  uint32_t instance_count_ = 1;
  std::atomic<int64_t> start_ns_{0};
  int64_t start_unix_ns_ = 0;
  std::atomic<bool> aborted_{false};
  std::atomic<bool> paused_{false};
  struct ScenarioControl {
    std::atomic<int64_t> vus{-1};
    std::atomic<double> rate{-1};
  };
  std::unique_ptr<ScenarioControl[]> controls_;
  std::atomic<uint64_t> control_version_{0};
  mutable std::mutex abort_mu_;
  std::string abort_reason_;
};

}  // namespace stampede::script
