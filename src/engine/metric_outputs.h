// MetricOutputs: a run's metric outputs — OTLP metrics (otel::MetricsPipeline,
// --otel / OTEL_METRICS_EXPORTER) and Prometheus /metrics
// (report::PrometheusEndpoint, --prometheus) — fed from one LiveResults
// (the one result model), with exemplars from the span exporter's accepted
// batches and the span pipeline's counters as metrics.
//
// Thread: the runner's (main) thread; the outputs run threads of their own,
// and the exemplar hook runs on the span exporter's thread. Construction
// throws core::ConfigError (a --prometheus address that cannot be bound, an
// unusable OTLP configuration). The object must outlive the span pipeline
// that holds its ExemplarHook().
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/run_config.h"
#include "metrics/exemplars.h"
#include "metrics/live_results.h"
#include "metrics/registry.h"
#include "metrics/shard.h"
#include "metrics/snapshot.h"
#include "otel/export_pipeline.h"
#include "otel/metrics_pipeline.h"

namespace stampede::report {
class PrometheusEndpoint;
}

namespace stampede::engine {

// Whether `c` asks for any metric output.
inline bool WantsMetricOutputs(const RunConfig& c) {
  return c.metrics_export.otlp.has_value() || !c.prometheus_address.empty();
}

// Adds the resource attributes every signal carries (after
// OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES): service.version,
// service.instance.id, stampede.run.id, host.name.
void AddRunResource(const RunConfig& c, std::vector<std::pair<std::string, std::string>>& attrs);

class MetricOutputs {
 public:
  // Starts what `c` asks for. `registry` (a RunRegistry(true)) must outlive
  // this; `start_unix_ns` is the run's start, the start of cumulative series.
  MetricOutputs(const RunConfig& c, const metrics::Registry& registry, int64_t start_unix_ns);
  ~MetricOutputs();
  MetricOutputs(const MetricOutputs&) = delete;
  MetricOutputs& operator=(const MetricOutputs&) = delete;

  // For ExportPipelineOptions::on_exported: offers the sampled CLIENT spans
  // of every fully accepted batch as exemplars (so none names a span that
  // was not exported).
  std::function<void(std::string_view request)> ExemplarHook();

  // Adds the span pipeline's counters (spans_exported / _dropped / _failed)
  // since the last call to span_shard().
  void AddSpanCounters(const otel::ExportPipelineStats& stats);
  const metrics::Shard& span_shard() const { return span_shard_; }

  // The newest cumulative snapshot, holding the data up to `data_unix_ns`.
  void Publish(std::shared_ptr<const metrics::Snapshot> snapshot, int64_t data_unix_ns);

  struct Totals {
    std::optional<otel::MetricsPipelineStats> otlp;  // when OTLP metrics were exported
    uint64_t scrapes = 0;                            // of /metrics
  };
  // The run's final values: published, exported once more (within 10 s),
  // served for --linger (`wait(ns)` waits, returning early on Ctrl-C), then
  // every output stops.
  Totals Finish(const metrics::Snapshot& final_snapshot, int64_t end_unix_ns,
                const std::function<void(int64_t ns)>& wait);

 private:
  const RunConfig& config_;
  const metrics::Registry& registry_;
  metrics::LiveResults live_;
  metrics::ExemplarReservoir exemplars_;
  metrics::Shard span_shard_;
  otel::ExportPipelineStats spans_seen_;  // the counters span_shard_ already holds
  std::unique_ptr<report::PrometheusEndpoint> prometheus_;
  std::unique_ptr<otel::MetricsPipeline> otlp_;
};

}  // namespace stampede::engine
