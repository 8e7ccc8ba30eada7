#include "cli/run_command.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <algorithm>
#include <fstream>

#include "core/error.h"

namespace stampede::cli {
namespace {

RunFlags Flags(std::string url = "http://127.0.0.1:8080/") {
  RunFlags f;
  f.url = std::move(url);
  return f;
}

// Every configuration error is one line that quotes the bad input.
void ExpectConfigError(const RunFlags& f, const std::string& fragment) {
  try {
    BuildRunConfig(f);
    FAIL() << "expected a ConfigError mentioning " << fragment;
  } catch (const core::ConfigError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(fragment), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    EXPECT_EQ(e.code(), core::ExitCode::kInvalidConfig);
  }
}

TEST(RunCommandTest, DefaultsAreBoundedAndSane) {
  engine::RunConfig c = BuildRunConfig(Flags());
  EXPECT_EQ(c.vus, 1u);
  EXPECT_EQ(c.method, "GET");
  EXPECT_GT(c.duration_ns, 0);  // never unbounded
  EXPECT_EQ(c.threads, 1u);     // never more workers than VUs
  EXPECT_EQ(c.url.port, 8080);
}

TEST(RunCommandTest, ConnectionReuseAndBatchFlags) {
  engine::RunConfig d = BuildRunConfig(Flags());
  EXPECT_FALSE(d.no_connection_reuse);
  EXPECT_FALSE(d.no_vu_connection_reuse);
  EXPECT_EQ(d.batch, 20u);  // k6's defaults
  EXPECT_EQ(d.batch_per_host, 6u);
  EXPECT_FALSE(d.batch_flag);
  EXPECT_FALSE(d.batch_per_host_flag);

  RunFlags f = Flags();
  f.no_connection_reuse = true;
  f.no_vu_connection_reuse = true;
  f.batch = 0;
  f.batch_per_host = 3;
  engine::RunConfig c = BuildRunConfig(f);
  EXPECT_TRUE(c.no_connection_reuse);
  EXPECT_TRUE(c.no_vu_connection_reuse);
  EXPECT_EQ(c.batch, 0u);  // 0: no limit
  EXPECT_TRUE(c.batch_flag);
  EXPECT_EQ(c.batch_per_host, 3u);
  EXPECT_TRUE(c.batch_per_host_flag);

  f = Flags();
  f.batch = -1;
  ExpectConfigError(f, "--batch -1");
  f = Flags();
  f.batch_per_host = 1'000'001;
  ExpectConfigError(f, "--batch-per-host 1000001");
}

TEST(RunCommandTest, ParsesHeadersMethodBodyAndDurations) {
  RunFlags f = Flags("https://localhost/x");
  f.method = "post";
  f.headers = {"X-Test:  a b ", "Accept:*/*"};
  f.body = "hello";
  f.vus = 8;
  f.threads = 2;
  f.duration = "1m30s";
  f.timeout = "2s";
  engine::RunConfig c = BuildRunConfig(f);
  EXPECT_EQ(c.method, "POST");
  ASSERT_EQ(c.headers.size(), 2u);
  EXPECT_EQ(c.headers[0].first, "X-Test");
  EXPECT_EQ(c.headers[0].second, "a b");
  EXPECT_EQ(c.headers[1].second, "*/*");
  EXPECT_EQ(c.body, "hello");
  EXPECT_EQ(c.duration_ns, 90'000'000'000);
  EXPECT_EQ(c.request_timeout_ns, 2'000'000'000);
  EXPECT_EQ(c.threads, 2u);
  EXPECT_TRUE(c.url.is_https());
}

TEST(RunCommandTest, BodyFromFile) {
  std::string path = ::testing::TempDir() + "/body.json";
  std::ofstream(path) << "{\"a\":1}";
  RunFlags f = Flags();
  f.body = "@" + path;
  EXPECT_EQ(BuildRunConfig(f).body, "{\"a\":1}");
  f.body = "@/nonexistent/file";
  ExpectConfigError(f, "/nonexistent/file");
}

TEST(RunCommandTest, RejectsBadInputWithOneLine) {
  ExpectConfigError(Flags("ftp://x"), "ftp://x");
  ExpectConfigError(Flags("not a url"), "not a url");
  ExpectConfigError(Flags("http://"), "http://");
  RunFlags f = Flags();
  f.duration = "10q";
  ExpectConfigError(f, "10q");
  f = Flags();
  f.vus = 0;
  ExpectConfigError(f, "--vus");
  f = Flags();
  f.iterations = -1;
  ExpectConfigError(f, "--iterations");
  f = Flags();
  f.headers = {"NoColon"};
  ExpectConfigError(f, "NoColon");
  f = Flags();
  f.headers = {"Bad Name: x"};
  ExpectConfigError(f, "Bad Name");
  f = Flags();
  f.method = "GE T";
  ExpectConfigError(f, "GE T");
  f = Flags();
  f.timeout = "0s";
  ExpectConfigError(f, "--timeout");
  f = Flags();
  f.threads = -3;
  ExpectConfigError(f, "--threads");
}

TEST(RunCommandTest, IterationsAndDurationBothBound) {
  RunFlags f = Flags();
  f.iterations = 5;
  engine::RunConfig c = BuildRunConfig(f);
  EXPECT_EQ(c.iterations, 5u);
  EXPECT_EQ(c.duration_ns, 600'000'000'000);  // k6's maxDuration default
  f.duration = "1s";
  c = BuildRunConfig(f);
  EXPECT_EQ(c.iterations, 5u);
  EXPECT_EQ(c.duration_ns, 1'000'000'000);
}

}  // namespace
}  // namespace stampede::cli

namespace stampede::cli {
namespace {

RunFlags Parse(std::vector<std::string> args) {
  CLI::App app;
  RunFlags f;
  AddRunCommand(app, f);
  args.insert(args.begin(), "run");
  std::reverse(args.begin(), args.end());
  app.parse(args);  // CLI11 takes a reversed vector
  return f;
}

// Repeatable flags take one value each, so the script after them is the
// script (k6 users write `run -e K=V test.lua` and `run --out opentelemetry test.lua`).
TEST(RunCommandParseTest, RepeatableFlagsDoNotSwallowTheScript) {
  RunFlags f = Parse({"-e", "A=B", "--out", "experimental-opentelemetry", "-H", "X: y",
                      "--threshold", "http_reqs:count>1", "-s", "1s:2", "test.lua"});
  EXPECT_EQ(f.script, "test.lua");
  EXPECT_EQ(f.env, std::vector<std::string>{"A=B"});
  EXPECT_EQ(f.outs, std::vector<std::string>{"experimental-opentelemetry"});
  EXPECT_EQ(f.stages, std::vector<std::string>{"1s:2"});
  RunFlags g = Parse({"--out", "opentelemetry", "--out", "experimental-opentelemetry", "t.lua"});
  EXPECT_EQ(g.outs.size(), 2u);
  EXPECT_EQ(g.script, "t.lua");
}

TEST(RunCommandParseTest, MetricFlagsAreValidated) {
  RunFlags f = Flags();
  f.otel_metrics = "k6,zipkin";
  ExpectConfigError(f, "--otel-metrics");
  f = Flags();
  f.metric_cardinality_limit = 1;
  ExpectConfigError(f, "--otel-metric-cardinality-limit");
  f = Flags();
  f.otel_metric_prefix = "bad prefix";
  ExpectConfigError(f, "prefix");
  f = Flags();
  f.outs = {"json=out.json"};
  ExpectConfigError(f, "--out");
  f = Flags();
  f.prometheus = "";
  ExpectConfigError(f, "--prometheus");
  f = Flags();
  f.otel_metrics = "semconv";
  f.otel_metric_prefix = "k6_";
  f.prometheus = "127.0.0.1:0";
  engine::RunConfig c = BuildRunConfig(f);
  EXPECT_FALSE(c.metric_export_options.k6);
  EXPECT_TRUE(c.metric_export_options.semconv);
  EXPECT_EQ(c.metric_export_options.prefix, "k6_");
  EXPECT_EQ(c.prometheus_address, "127.0.0.1:0");
}

}  // namespace
}  // namespace stampede::cli

namespace stampede::cli {
namespace {

TEST(RunCommandParseTest, StoreAndCollectFlags) {
  RunFlags f = Parse({"--collect", "--out", "sqlite=x.db", "test.lua"});
  EXPECT_EQ(f.script, "test.lua");
  EXPECT_EQ(f.collect, "127.0.0.1:4318");
  EXPECT_TRUE(f.collect_grpc.empty());
  RunFlags g = Parse({"--collect=127.0.0.1:0", "--collect-grpc", "t.lua"});
  EXPECT_EQ(g.collect, "127.0.0.1:0");
  EXPECT_EQ(g.collect_grpc, "127.0.0.1:4317");
  EXPECT_EQ(g.script, "t.lua");

  RunFlags h = Flags();
  h.outs = {"sqlite=runs/a.db"};
  h.collect = "127.0.0.1:4318";
  engine::RunConfig c = BuildRunConfig(h);
  EXPECT_TRUE(c.store);
  EXPECT_EQ(c.store_path, "runs/a.db");
  EXPECT_EQ(c.collect_address, "127.0.0.1:4318");
  EXPECT_EQ(c.collect_linger_ns, 5'000'000'000);
  EXPECT_TRUE(BuildRunConfig(Flags()).store);
  EXPECT_TRUE(BuildRunConfig(Flags()).store_path.empty());

  RunFlags bad = Flags();
  bad.no_store = true;
  bad.outs = {"sqlite=a.db"};
  ExpectConfigError(bad, "--no-store");
  bad = Flags();
  bad.outs = {"sqlite="};
  ExpectConfigError(bad, "--out");
  bad = Flags();
  bad.collect_forward = "http://127.0.0.1:4318/v1/traces";
  ExpectConfigError(bad, "--collect-forward");
  bad = Flags();
  bad.collect = "127.0.0.1:4318";
  bad.collect_linger = "forever";
  ExpectConfigError(bad, "--collect-linger");
  bad = Flags();
  bad.store_spans_per_second = -1;
  ExpectConfigError(bad, "--store-spans-per-second");
}

TEST(RunCommandTest, CommandLineIsQuotedAndRedacted) {
  const char* argv[] = {"stampede", "run",  "--url", "http://u:pw@127.0.0.1:8080/", "-H",
                        "Authorization: Bearer abc", "-H", "X-Trace: 1", "-e",
                        "API_TOKEN=s3cret", "-e", "BASE=http://x", "--header=Cookie: a=b",
                        "it's.lua"};
  std::string line = RedactedCommandLine(static_cast<int>(std::size(argv)), argv);
  EXPECT_EQ(line.find("abc"), std::string::npos) << line;
  EXPECT_EQ(line.find("s3cret"), std::string::npos) << line;
  EXPECT_EQ(line.find("pw@"), std::string::npos) << line;
  EXPECT_EQ(line.find("a=b"), std::string::npos) << line;
  EXPECT_NE(line.find("'Authorization: <redacted>'"), std::string::npos) << line;
  EXPECT_NE(line.find("'X-Trace: 1'"), std::string::npos) << line;
  EXPECT_NE(line.find("BASE=http://x"), std::string::npos) << line;
  EXPECT_NE(line.find("'--header=Cookie: <redacted>'"), std::string::npos) << line;
  EXPECT_NE(line.find("'it'\\''s.lua'"), std::string::npos) << line;
}

TEST(RunCommandTest, SecretLookingEnvNamesAreRedacted) {
  for (const char* name : {"PASS", "DB_PASSWORD", "PASSPHRASE", "PWD", "SESSION_ID", "AWS_CREDS",
                           "PRIVATE_KEY", "SIGNATURE", "BEARER", "JWT", "api_key", "x-auth"}) {
    const std::string arg = std::string(name) + "=hunter2";
    const char* argv[] = {"stampede", "run", "-e", arg.c_str(), "t.lua"};
    const std::string line = RedactedCommandLine(5, argv);
    EXPECT_EQ(line.find("hunter2"), std::string::npos) << line;
  }
  const char* argv[] = {"stampede", "run", "-e", "VUS=50", "-e", "BASE_URL=http://x", "t.lua"};
  const std::string line = RedactedCommandLine(7, argv);
  EXPECT_NE(line.find("VUS=50"), std::string::npos) << line;
  EXPECT_NE(line.find("BASE_URL=http://x"), std::string::npos) << line;
}

}  // namespace
}  // namespace stampede::cli

namespace stampede::cli {
namespace {

TEST(RunCommandParseTest, UiFlags) {
  RunFlags f = Parse({"--ui", "127.0.0.1:0", "test.lua"});
  EXPECT_EQ(f.ui, "127.0.0.1:0");
  EXPECT_EQ(f.script, "test.lua");
  RunFlags g = Parse({"test.lua", "--ui"});
  EXPECT_EQ(g.ui, "127.0.0.1:5665");
  EXPECT_TRUE(Parse({"test.lua"}).ui.empty());

  RunFlags h = Flags();
  h.ui = "127.0.0.1:0";
  h.ui_token = "t0k";
  h.ui_linger = "60s";
  h.ui_open = true;
  engine::RunConfig c = BuildRunConfig(h);
  EXPECT_EQ(c.ui_address, "127.0.0.1:0");
  EXPECT_EQ(c.ui_token, "t0k");
  EXPECT_EQ(c.ui_linger_ns, 60'000'000'000);
  EXPECT_TRUE(c.ui_open);
  EXPECT_TRUE(BuildRunConfig(Flags()).ui_address.empty());

  RunFlags bad = Flags();
  bad.ui = "127.0.0.1:99999";
  ExpectConfigError(bad, "--ui");
  bad = Flags();
  bad.ui_linger = "60s";
  ExpectConfigError(bad, "--ui");
  bad = Flags();
  bad.ui = "127.0.0.1:0";
  bad.ui_linger = "soon";
  ExpectConfigError(bad, "--ui-linger");
  bad = Flags();
  bad.ui = "127.0.0.1:0";
  bad.ui_token = "has space";
  ExpectConfigError(bad, "--ui-token");

  const char* argv[] = {"stampede", "run", "--ui", "--ui-token", "sekr3t", "--ui-token=other1",
                        "t.lua"};
  std::string line = RedactedCommandLine(static_cast<int>(std::size(argv)), argv);
  EXPECT_EQ(line.find("sekr3t"), std::string::npos) << line;
  EXPECT_EQ(line.find("other1"), std::string::npos) << line;
}

}  // namespace
}  // namespace stampede::cli
