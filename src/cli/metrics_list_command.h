// `stampede metrics-list`: prints every Prometheus sample name a run can
// expose on /metrics (k6 family under the prefix, OTel semconv family, the
// run info), one per line, for dashboards and their tests. The script's
// custom metrics are not known without the script and are not listed.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace stampede::cli {

struct MetricsListFlags {
  std::string otel_metrics = "k6,semconv";
  std::string prefix = "stampede_";
  bool otlp = false;  // --otlp: OTLP metric names instead of Prometheus sample names
};

CLI::App* AddMetricsListCommand(CLI::App& app, MetricsListFlags& flags);
int MetricsListCommand(const MetricsListFlags& flags);

}  // namespace stampede::cli
