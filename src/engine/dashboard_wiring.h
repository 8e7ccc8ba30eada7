// DashboardWiring: the runner's side of the live dashboard (`run --ui`,
// ui::Dashboard). It describes the run for /api/run, turns the cumulative
// snapshot the main thread publishes every second into a tick
// (ui/dashboard_model.h) with what only the runner knows (thresholds,
// progress, span counters, pause), and carries out the dashboard's control
// requests: pause / resume set script::Execution's pause flag at once; stop
// is handed to the main loop (TakeStop), which stops gracefully as on a
// first Ctrl-C but keeps the exit code the run earns; set_vus (constant-vus,
// ramping-vus) and set_rate (arrival-rate executors) set the scenario's
// whole-test target in script::Execution, which the workers apply. Every accepted action is kept (Steering)
// for the ticks, the summary and the run store's summary JSON.
//
// Threads: construct, Publish, TakeStop, MarkEnded, End, Linger and the
// summary accessors from the runner's main thread; OnControl runs on the
// dashboard's server thread (it only sets atomics and appends under a
// mutex). Construction binds (core::ConfigError for a bad or busy address:
// exit 104, before setup()) and prints `dashboard: URL` on stderr.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/plan.h"
#include "engine/run_config.h"
#include "metrics/snapshot.h"
#include "metrics/threshold.h"
#include "otel/export_pipeline.h"
#include "ui/dashboard.h"

namespace stampede::engine {

class DashboardWiring final : public ui::DashboardControl {
 public:
  // `plan`: script mode's plan (nullptr in --url mode). `start_unix_ns`: now.
  DashboardWiring(const RunConfig& c, const Plan* plan, const metrics::ThresholdSet& thresholds,
                  int64_t start_unix_ns);
  ~DashboardWiring() override;

  // One tick: `snapshot` holds the run's data up to `data_unix_ns`, which is
  // `elapsed_ns` after the start of the load.
  void Publish(std::shared_ptr<const metrics::Snapshot> snapshot, int64_t data_unix_ns,
               int64_t elapsed_ns, const metrics::ThresholdSet& thresholds,
               const std::optional<otel::ExportPipelineStats>& spans);
  // True once, after a stop request from the dashboard.
  bool TakeStop();
  bool stopped() const { return stop_requested_.load(std::memory_order_acquire); }
  // The load has ended: control requests get 409.
  void MarkEnded() { dashboard_->MarkEnded(); }
  // Sends `event: end`, keeps serving for --ui-linger (`wait(ns)` waits and
  // returns true on Ctrl-C), then stops the listener.
  void End(const std::string& outcome, int exit_code, const std::function<bool(int64_t)>& wait);

  // [{"t" (unix ms), "action", "value", "peer"}] of every accepted action.
  nlohmann::json Steering() const;
  // The summary's lines ("" when nothing was steered).
  std::string SteeringSummary() const;
  uint64_t clients() const { return dashboard_->clients(); }
  uint64_t clients_dropped() const { return dashboard_->clients_dropped(); }

  ui::ControlResult OnControl(const ui::ControlRequest& request) override;

 private:
  struct Steer {
    int64_t t_unix_ms = 0;
    std::string action;
    nlohmann::json value;
    std::string peer;
  };

  const RunConfig& config_;
  const Plan* plan_;  // script mode's (set_vus / set_rate); nullptr in --url mode
  const int64_t start_unix_ns_;
  std::optional<double> total_duration_s_;
  std::shared_ptr<const metrics::Snapshot> prev_;
  int64_t prev_data_unix_ns_ = 0;
  uint64_t ticks_ = 0;
  std::atomic<bool> stop_requested_{false};
  bool stop_taken_ = false;
  mutable std::mutex mu_;
  std::vector<Steer> steering_;
  std::unique_ptr<ui::Dashboard> dashboard_;  // last: its thread calls OnControl
};

}  // namespace stampede::engine
