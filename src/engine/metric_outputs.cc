#include "engine/metric_outputs.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "core/log.h"
#include "otel/exported_spans.h"
#include "report/prometheus.h"

namespace stampede::engine {
namespace {

// The run's identity, as labels of /metrics' stampede_run_info (one run is
// one filter in Grafana).
std::vector<std::pair<std::string, std::string>> RunLabels(const RunConfig& c) {
  std::string service = "stampede";
  if (c.metrics_export.otlp) service = c.metrics_export.otlp->service_name;
  std::vector<std::pair<std::string, std::string>> labels{
      {"run_id", c.run_id}, {"service_name", service}, {"version", "0.1.0"}};
  if (!c.script_path.empty()) labels.emplace_back("script", c.script_path);
  return labels;
}

// The OTLP (or console) metrics exporter thread, configured from
// otel::MetricsConfig (OTEL_METRIC_*, OTEL_EXPORTER_OTLP_METRICS_*, K6_OTEL_*)
// and the flags.
std::unique_ptr<otel::MetricsPipeline> MakeMetricsPipeline(const RunConfig& c,
                                                           const metrics::LiveResults& live,
                                                           metrics::ExemplarReservoir* exemplars) {
  const otel::MetricsConfig& mc = c.metrics_export;
  const otel::OtlpConfig& oc = *mc.otlp;
  otel::MetricsPipelineOptions o = otel::MetricsPipelineOptions::FromConfig(mc);
  o.attempt_timeout = std::min<std::chrono::nanoseconds>(o.attempt_timeout, o.export_timeout);
  o.model = c.metric_export_options;
  AddRunResource(c, o.resource_attributes);
  if (oc.exporter == otel::ExporterKind::kConsole) {
    core::Info("writing metrics to stdout every {} ms, one OTLP/JSON line per export",
               mc.interval.count());
  } else {
    core::Info("exporting metrics over OTLP ({}) to {} every {} ms", otel::ProtocolName(oc.protocol),
               oc.protocol == otel::OtlpProtocol::kGrpc ? oc.grpc_target : oc.endpoint,
               mc.interval.count());
  }
  return std::make_unique<otel::MetricsPipeline>(otel::MakeMetricsExporter(oc), live, exemplars,
                                                 std::move(o));
}

}  // namespace

void AddRunResource(const RunConfig& c, std::vector<std::pair<std::string, std::string>>& attrs) {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  attrs.emplace_back("service.version", "0.1.0");
  // An agent of a distributed run is told apart by its index (issue 11).
  attrs.emplace_back("service.instance.id", !c.instance_id.empty()
                                                ? c.instance_id
                                                : c.run_id + "-" + std::to_string(getpid()));
  attrs.emplace_back("stampede.run.id", c.run_id);
  attrs.emplace_back("host.name", host);
}

MetricOutputs::MetricOutputs(const RunConfig& c, const metrics::Registry& registry,
                             int64_t start_unix_ns)
    : config_(c), registry_(registry), live_(start_unix_ns), span_shard_(registry) {
  // Exemplars exist only when spans are exported.
  metrics::ExemplarReservoir* exemplars = c.traces_export ? &exemplars_ : nullptr;
  if (!c.prometheus_address.empty()) {
    prometheus_ = std::make_unique<report::PrometheusEndpoint>(
        c.prometheus_address, c.metric_export_options, live_, exemplars, RunLabels(c));
    core::Info("serving Prometheus metrics at http://{}/metrics", prometheus_->address());
  }
  if (c.metrics_export.otlp) otlp_ = MakeMetricsPipeline(c, live_, exemplars);
}

MetricOutputs::~MetricOutputs() = default;

std::function<void(std::string_view)> MetricOutputs::ExemplarHook() {
  // Only sampled spans (the OTel TraceBased exemplar filter).
  return [this](std::string_view request) {
    otel::ForEachExportedRequestSpan(request, [&](const otel::ExportedRequestSpan& s) {
      if (!s.sampled()) return;
      metrics::Exemplar e;
      e.trace_id = s.trace_id.bytes;
      e.span_id = s.span_id.bytes;
      e.time_unix_ns = s.end_unix_ns;
      e.total_ns = s.end_unix_ns - s.start_unix_ns;
      e.duration_ns = s.http_req_duration_ns >= 0 ? s.http_req_duration_ns : e.total_ns;
      exemplars_.Offer(
          metrics::ExemplarKey(s.request_name, s.method, std::to_string(s.status_code)), e);
    });
  };
}

void MetricOutputs::AddSpanCounters(const otel::ExportPipelineStats& st) {
  auto add = [&](const char* name, uint64_t now, uint64_t before) {
    span_shard_.Add(*registry_.Find(name), metrics::Shard::kNoTags,
                    static_cast<double>(now - before));
  };
  add("spans_exported", st.spans_exported, spans_seen_.spans_exported);
  add("spans_dropped", st.spans_dropped, spans_seen_.spans_dropped);
  add("spans_failed", st.spans_failed + st.spans_rejected,
      spans_seen_.spans_failed + spans_seen_.spans_rejected);
  spans_seen_ = st;
}

void MetricOutputs::Publish(std::shared_ptr<const metrics::Snapshot> snapshot,
                            int64_t data_unix_ns) {
  live_.Publish(std::move(snapshot), data_unix_ns);
}

MetricOutputs::Totals MetricOutputs::Finish(const metrics::Snapshot& final_snapshot,
                                            int64_t end_unix_ns,
                                            const std::function<void(int64_t)>& wait) {
  Totals totals;
  auto last = std::make_shared<const metrics::Snapshot>(final_snapshot);
  live_.Publish(last, end_unix_ns);
  if (otlp_) {
    // Bounded: a slow or absent collector costs at most this at the end.
    otlp_->Shutdown(last, end_unix_ns, std::chrono::seconds(10));
    totals.otlp = otlp_->stats();
  }
  if (prometheus_) {
    if (config_.linger_ns > 0) {
      core::Info("keeping http://{}/metrics up for {} ms (--linger; Ctrl-C ends it)",
                 prometheus_->address(), config_.linger_ns / 1'000'000);
      wait(config_.linger_ns);
    }
    totals.scrapes = prometheus_->scrapes();
    prometheus_->Stop();
  }
  return totals;
}

}  // namespace stampede::engine
