#include "cli/metrics_list_command.h"

#include <cstdio>

#include "cli/run_command.h"
#include "engine/runner.h"
#include "metrics/export_model.h"
#include "metrics/shard.h"
#include "metrics/snapshot.h"
#include "report/prometheus.h"

namespace stampede::cli {

CLI::App* AddMetricsListCommand(CLI::App& app, MetricsListFlags& f) {
  CLI::App* cmd = app.add_subcommand(
      "metrics-list", "Print every metric name /metrics can expose (Prometheus sample names)");
  cmd->add_option("--otel-metrics", f.otel_metrics, "Families: k6, semconv or k6,semconv")
      ->capture_default_str();
  cmd->add_option("--otel-metric-prefix", f.prefix, "Prefix of the k6-named metrics")
      ->capture_default_str();
  cmd->add_flag("--otlp", f.otlp, "Print the OTLP metric names instead");
  return cmd;
}

int MetricsListCommand(const MetricsListFlags& f) {
  metrics::ExportOptions options;
  ParseMetricFamilies(f.otel_metrics, options);
  options.prefix = f.prefix;
  // One sample in every metric a run defines, so every family shows.
  metrics::Registry registry = engine::RunRegistry(/*metric_outputs=*/true);
  metrics::Shard shard(registry);
  metrics::TagSetId tags = shard.Intern({{"name", "/"}, {"method", "GET"}, {"status", "200"}});
  for (metrics::MetricId id = 0; id < registry.size(); ++id) shard.Add(id, tags, 1);
  const metrics::Shard* shards[] = {&shard};
  metrics::Snapshot snapshot = metrics::Snapshot::Merge(registry, shards);
  metrics::ExportModel model(options);
  std::vector<metrics::ExportMetric> exported = model.Build(snapshot);
  if (f.otlp) {
    for (const metrics::ExportMetric& m : exported) std::printf("%s\n", m.name.c_str());
  } else {
    for (const std::string& name : report::PrometheusSampleNames(exported)) {
      std::printf("%s\n", name.c_str());
    }
  }
  return 0;
}

}  // namespace stampede::cli
