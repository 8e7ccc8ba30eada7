// DashboardWiring: the runner's side of the live dashboard (`run --ui`,
// ui::Dashboard). It describes the run for /api/run, turns the cumulative
// snapshot the main thread publishes every second into a tick
// (ui/dashboard_model.h) with what only the runner knows (thresholds,
// progress, span counters, pause), and carries out the dashboard's control
// requests: pause / resume set script::Execution's pause flag at once; stop
// is handed to the main loop (TakeStop), which stops gracefully as on a
// first Ctrl-C but keeps the exit code the run earns; set_vus (constant-vus,
// ramping-vus) and set_rate (arrival-rate executors) set the scenario's
// whole-test target in script::Execution, which the workers apply. Every
// accepted action is kept (Steering) for the ticks, the summary and the run
// store's summary JSON.
//
// Exemplars: SpanHook() is given to the span pipeline (the runner hands it
// the batches the collector accepted when spans are exported over OTLP, else
// every batch recorded for the run store); the sampled request spans feed a
// ui::SlowRequests that /api/exemplars reads. /api/trace/ID reads the run
// store (store::RunReader, read-only, beside the writer: WAL), so a listed
// request opens its waterfall — client phases and the service's spans — as
// soon as its second is committed.
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
#include "store/run_reader.h"
#include "ui/dashboard.h"
#include "ui/slow_requests.h"

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

  // For otel::ExportPipelineOptions::on_exported or on_batch (the exporter
  // thread): the request's sampled CLIENT request spans become exemplars.
  // `exported`: whether the hook sees what the collector accepted (said in
  // /api/exemplars). Call before the run starts.
  std::function<void(std::string_view request)> SpanHook(bool exported);
  // The run store to read traces from ("" none). Call before the run starts.
  void set_store_path(std::string path) { store_path_ = std::move(path); }

  ui::ControlResult OnControl(const ui::ControlRequest& request) override;
  nlohmann::json Exemplars(int64_t from_unix_ms, int64_t to_unix_ms) override;
  ui::ControlResult Trace(std::string_view trace_id, std::string_view span_id,
                          nlohmann::json& out) override;

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
  ui::SlowRequests slow_;
  std::atomic<int> exemplar_source_{0};  // 0 none, 1 recorded, 2 exported
  std::string store_path_;
  std::mutex reader_mu_;  // the server thread's; guards reader_
  std::unique_ptr<store::RunReader> reader_;
  std::unique_ptr<ui::Dashboard> dashboard_;  // last: its thread calls OnControl
};

}  // namespace stampede::engine
