// `promtool check metrics` (Prometheus' own parser and linter) on the text
// format exposition of a realistic export model: every k6 built-in, the
// semconv metrics, custom metrics, awkward tag values, the overflow point
// and the run info. Skipped when promtool is not installed (Debian package
// `prometheus`).
#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "metrics/export_model.h"
#include "metrics/registry.h"
#include "metrics/shard.h"
#include "metrics/snapshot.h"
#include "report/prometheus.h"

namespace stampede::report {
namespace {

using namespace stampede::metrics;

std::string FindPromtool() {
  if (const char* env = std::getenv("PROMTOOL"); env != nullptr && *env != '\0') return env;
  for (const char* p : {"/usr/bin/promtool", "/usr/local/bin/promtool"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return "";
}

// Runs `promtool check metrics` on `text`; returns (exit code, output).
std::pair<int, std::string> Check(const std::string& promtool, const std::string& text) {
  char path[] = "/tmp/stampede-promtool-XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  FILE* f = fdopen(fd, "w");
  fwrite(text.data(), 1, text.size(), f);
  fclose(f);
  std::string cmd = "timeout 60 " + promtool + " check metrics < " + path + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  int status = pclose(p);
  unlink(path);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

Snapshot RealisticSnapshot(Registry& registry, std::vector<std::unique_ptr<Shard>>& keep) {
  MetricId semconv_duration =
      registry.DefineInternal(kHttpClientRequestDuration, MetricType::kTrend, ValueType::kTime);
  MetricId open = registry.DefineInternal(kHttpClientOpenConnections, MetricType::kCounter,
                                          ValueType::kDefault);
  MetricId conn_duration =
      registry.DefineInternal(kHttpClientConnectionDuration, MetricType::kTrend, ValueType::kTime);
  MetricId custom_trend =
      registry.DefineCustom("cart_size", MetricType::kTrend, ValueType::kDefault);
  MetricId custom_rate = registry.DefineCustom("login_ok", MetricType::kRate, ValueType::kDefault);
  MetricId custom_gauge =
      registry.DefineCustom("queue_depth", MetricType::kGauge, ValueType::kDefault);
  MetricId custom_counter =
      registry.DefineCustom("orders", MetricType::kCounter, ValueType::kDefault);
  auto shard = std::make_unique<Shard>(registry);
  Shard& s = *shard;
  TagSetId ok = s.Intern({{"name", "/api/products/{id}"},
                          {"method", "GET"},
                          {"status", "200"},
                          {"scenario", "default"},
                          {"expected_response", "true"},
                          {"url", "http://127.0.0.1/api/products/1"}});
  TagSetId odd = s.Intern({{"name", "quote \" backslash \\ newline \n ünïcödé"},
                           {"method", "POST"},
                           {"status", "0"},
                           {"error_code", "1211"},
                           {"group", "::checkout"},
                           {"scenario", "default"},
                           {"expected_response", "false"}});
  for (int i = 0; i < 200; ++i) {
    for (TagSetId t : {ok, odd}) {
      s.Add(builtin::kHttpReqs, t, 1);
      for (MetricId m :
           {builtin::kHttpReqDuration, builtin::kHttpReqBlocked, builtin::kHttpReqConnecting,
            builtin::kHttpReqTlsHandshaking, builtin::kHttpReqSending, builtin::kHttpReqWaiting,
            builtin::kHttpReqReceiving}) {
        s.Add(m, t, 1e5 * (1 + i % 37) * (m + 1));
      }
      s.Add(builtin::kHttpReqFailed, t, t == odd ? 1 : 0);
      s.Add(builtin::kDataSent, t, 120);
      s.Add(builtin::kDataReceived, t, 850);
    }
    TagSetId sc = s.Intern({{"scenario", "default"}});
    s.Add(builtin::kIterations, sc, 1);
    s.Add(builtin::kIterationDuration, sc, 3e6 + i * 1e4);
    s.Add(builtin::kChecks, s.Intern({{"check", "status is 200"}, {"scenario", "default"}}), i % 5);
    s.Add(builtin::kGroupDuration, s.Intern({{"group", "::checkout"}}), 7e6);
    s.Add(custom_trend, sc, i % 9);
    s.Add(custom_rate, sc, i % 2);
    s.Add(custom_counter, sc, 2);
  }
  s.Add(builtin::kVus, Shard::kNoTags, 5);
  s.Add(builtin::kVusMax, Shard::kNoTags, 10);
  s.Add(builtin::kDroppedIterations, Shard::kNoTags, 3);
  s.Add(custom_gauge, Shard::kNoTags, -2.5);
  s.Add(builtin::kIterationStartLag, Shard::kNoTags, 0);
  // Semconv metrics, as the engine records them (see ExportModel's header).
  TagSetId conn = s.Intern({{"method", "GET"},
                            {"status", "200"},
                            {"name", "/api"},
                            {"server.address", "127.0.0.1"},
                            {"server.port", "8080"},
                            {"scenario", "default"},
                            {"http.connection.state", "idle"}});
  for (int i = 0; i < 50; ++i) {
    s.Add(semconv_duration, conn, 1e6 * (1 + i));
    s.Add(conn_duration, conn, 1e9);
  }
  s.Add(open, conn, 2);
  keep.push_back(std::move(shard));
  const Shard* shards[] = {keep.back().get()};
  return Snapshot::Merge(registry, shards);
}

TEST(PromtoolTest, TextExpositionPassesCheckMetrics) {
  std::string promtool = FindPromtool();
  if (promtool.empty()) GTEST_SKIP() << "promtool not installed (apt-get install prometheus)";
  Registry registry = Registry::WithBuiltins();
  std::vector<std::unique_ptr<Shard>> keep;
  Snapshot snap = RealisticSnapshot(registry, keep);
  ExportOptions options;
  options.cardinality_limit = 2;  // forces the overflow point
  ExportModel model(options);
  std::vector<ExportMetric> ms = model.Build(snap);
  ASSERT_GT(ms.size(), 15u);
  ExpositionOptions eo;
  eo.run_labels = {{"run_id", "01J0000000"}, {"service_name", "stampede"}};
  std::string text = FormatExposition(ms, eo);
  ASSERT_NE(text.find("otel_metric_overflow=\"true\""), std::string::npos) << text;
  auto [rc, out] = Check(promtool, text);
  EXPECT_EQ(rc, 0) << out << "\n--- exposition ---\n" << text;

  // Also without the overflow, with the default limit.
  ExportModel plain{ExportOptions{}};
  std::vector<ExportMetric> ms2 = plain.Build(snap);
  auto [rc2, out2] = Check(promtool, FormatExposition(ms2, {}));
  EXPECT_EQ(rc2, 0) << out2;
}

TEST(PromtoolTest, DetectsABrokenExposition) {
  // The check itself works: a malformed exposition fails.
  std::string promtool = FindPromtool();
  if (promtool.empty()) GTEST_SKIP() << "promtool not installed (apt-get install prometheus)";
  auto [rc, out] = Check(promtool, "# TYPE x counter\nx{a=\"unterminated} 1\n");
  EXPECT_NE(rc, 0) << out;
}

}  // namespace
}  // namespace stampede::report
