// RunRecording: what a run keeps of itself with no infrastructure — the run
// store (store::RunStore: --out sqlite=PATH, on by default, --no-store) and
// the built-in OTLP receiver (--collect, --collect-grpc) that feeds it the
// spans of the service under test. Both are fed from what the run already
// has: the cumulative snapshot the main thread publishes every second, and
// the span pipeline's batches (SpanHook); neither aggregates on its own.
//
// Threads: construct, AddSnapshot, StopReceiving and Finish from the runner's
// (main) thread. The store and the receiver run threads of their own;
// SpanHook's function runs on the span exporter thread. Construction throws
// core::ConfigError (a store path that cannot be created or already exists,
// a receiver address that cannot be bound), before any load.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "engine/run_config.h"
#include "metrics/snapshot.h"
#include "metrics/threshold.h"
#include "otel/exporter.h"
#include "otel/otlp_receiver.h"
#include "store/run_store.h"

namespace stampede::engine {

class RunRecording {
 public:
  // Opens the store (when c.store) and starts the receiver (when --collect or
  // --collect-grpc is given). `script_options` are the script's exported
  // options (null in --url mode); `start_unix_ns` is the run's start.
  RunRecording(const RunConfig& c, const nlohmann::json& script_options,
               const metrics::ThresholdSet& thresholds, int64_t start_unix_ns);
  ~RunRecording();
  RunRecording(const RunRecording&) = delete;
  RunRecording& operator=(const RunRecording&) = delete;

  bool storing() const { return store_ != nullptr; }
  // The store's file ("" without a store).
  const std::string& store_path() const { return store_path_; }

  // For otel::ExportPipelineOptions::on_batch: every span batch goes to the
  // store. Empty without a store.
  std::function<void(std::string_view request)> SpanHook();
  // The exporter of a span pipeline that exists only for the store: every
  // batch "accepted" (the store took it through SpanHook).
  static std::unique_ptr<otel::Exporter> StoreOnlyExporter();

  // The run's cumulative snapshot holding the data up to `data_unix_ns`.
  void AddSnapshot(std::shared_ptr<const metrics::Snapshot> snapshot, int64_t data_unix_ns);

  // Keeps receiving for --collect-linger (the service's exporter sends its
  // last spans after its batch delay; skipped when `interrupted`; `wait(ns)`
  // returns early on Ctrl-C), then stops the receiver. nullopt without one.
  std::optional<otel::ReceiverStats> StopReceiving(bool interrupted,
                                                   const std::function<void(int64_t)>& wait);

  // Writes the end of the run, closes the store, and returns the summary's
  // lines about it ("" without a store).
  std::string Finish(const store::RunEnd& end, bool received);

 private:
  void OpenStore(const nlohmann::json& script_options, const metrics::ThresholdSet& thresholds,
                 int64_t start_unix_ns);
  void StartReceiver();

  const RunConfig& config_;
  std::string store_path_;
  std::unique_ptr<store::RunStore> store_;
  std::unique_ptr<otel::OtlpReceiver> receiver_;
};

}  // namespace stampede::engine
