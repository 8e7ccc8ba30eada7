#include "store/run_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/error.h"
#include "metrics/threshold.h"
#include "store/run_reader.h"
#include "store/schema.h"
#include "store/store_test_util.h"

namespace stampede::store {
namespace {

using namespace stampede::store::testing;
using ::testing::HasSubstr;

RunInfo Info() {
  RunInfo info;
  info.run_id = "run-1";
  info.stampede_version = "0.1.0";
  info.host = "test-host";
  info.command_line = "stampede run script.lua";
  info.script_path = "script.lua";
  info.options_json = R"({"vus":2})";
  info.thresholds_json = R"({"http_req_duration":["p(95)<500"]})";
  info.start_unix_ns = kStartNs;
  return info;
}

std::string QueryOne(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  // Read-write: the last connection to close removes the -wal and -shm.
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr);
  sqlite3_stmt* st = nullptr;
  std::string out;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != nullptr) {
    out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

// Seconds of requests with a known shape: second s has 10 + s requests on
// "/a" (durations 10..) and 5 on "/b", one of them failing with 500; second
// 2 also has a refused connection. vus = s + 1.
struct Fixture {
  TempDir dir;
  std::string path = dir.Path("run/run.db");  // the directory is created
  FakeRun run;
  std::vector<std::shared_ptr<const metrics::Snapshot>> snaps;
  std::map<int64_t, std::map<std::string, uint64_t>> reqs;  // second → name → count

  void Second(int s) {
    run.Vus(s + 1);
    for (int i = 0; i < 10 + s; ++i) {
      run.Request("/a", 10 + i + 3 * s, 200);
      ++reqs[s]["/a"];
    }
    for (int i = 0; i < 5; ++i) {
      run.Request("/b", 100 + 50 * i, i == 4 ? 500 : 200);
      ++reqs[s]["/b"];
    }
    if (s == 2) {
      run.Request("/b", 3000, 0, "refused");
      ++reqs[s]["/b"];
    }
    run.Check("status is 200", "", s != 1);
    run.Check("body", "::g", true);
    snaps.push_back(run.Snap());
  }
};

TEST(RunStoreTest, PerSecondDeltasSumToTheFinalSnapshotExactly) {
  Fixture f;
  metrics::ThresholdSet thresholds =
      metrics::ThresholdSet::FromJson(nlohmann::json::parse(R"({"http_req_duration":["p(95)<500"],
        "http_req_failed":["rate<0.01"], "checks":["rate>0.5"]})"),
                                      &f.run.registry());
  {
    RunStore store({.path = f.path}, Info());
    EXPECT_EQ(store.path(), f.path);
    for (int s = 0; s < 4; ++s) {
      f.Second(s);
      store.AddSnapshot(f.snaps.back(), kStartNs + (s + 1) * kSecNs);
    }
    f.Second(4);  // the final, partial second: only in the final snapshot
    thresholds.Evaluate(*f.snaps.back(), 5 * kSecNs);
    RunEnd end{.final_snapshot = f.snaps.back().get(),
               .thresholds = &thresholds,
               .end_unix_ns = kStartNs + 4 * kSecNs + 400'000'000,
               .exit_code = 99,
               .outcome = "thresholds_failed",
               .summary_json = "{}"};
    store.Finish(end);
    store.Finish(end);  // idempotent
    EXPECT_EQ(store.stats().seconds_written, 5u);
    EXPECT_EQ(store.stats().write_errors, 0u);
  }
  EXPECT_FALSE(std::filesystem::exists(f.path + "-wal"));
  EXPECT_FALSE(std::filesystem::exists(f.path + "-shm"));
  EXPECT_EQ(QueryOne(f.path, "PRAGMA integrity_check"), "ok");
  EXPECT_EQ(QueryOne(f.path, "PRAGMA journal_mode"), "wal");

  RunReader r(f.path);
  EXPECT_EQ(r.meta().run_id, "run-1");
  EXPECT_EQ(r.meta().exit_code, 99);
  EXPECT_EQ(r.meta().outcome, "thresholds_failed");
  EXPECT_EQ(r.meta().end_unix_ns, kStartNs + 4 * kSecNs + 400'000'000);
  EXPECT_EQ(r.meta().target, "");
  EXPECT_EQ(r.seconds(), 5);

  // http_reqs per second and per name equal the deltas.
  auto reqs = r.Points("http_reqs");
  ASSERT_EQ(reqs.size(), 5u);
  for (int s = 0; s < 5; ++s) {
    EXPECT_EQ(reqs[s].second, s);
    EXPECT_EQ(reqs[s].value, f.reqs[s]["/a"] + f.reqs[s]["/b"]) << s;
  }
  auto a = r.Points("http_reqs", "/a");
  ASSERT_EQ(a.size(), 5u);
  for (int s = 0; s < 5; ++s) EXPECT_EQ(a[s].value, 10 + s);

  // Trend counts per second; the sum over seconds is the final count exactly.
  const metrics::Snapshot& last = *f.snaps.back();
  const metrics::SeriesValue total = last.Aggregate(metrics::builtin::kHttpReqDuration);
  uint64_t sum = 0;
  for (const PointRow& p : r.Points("http_req_duration")) sum += p.samples;
  EXPECT_EQ(sum, total.trend->count());
  auto window = r.WindowHistogram("http_req_duration", std::nullopt);
  ASSERT_TRUE(window.has_value());
  EXPECT_EQ(window->count(), total.trend->count());
  EXPECT_NEAR(window->sum(), total.trend->sum(), 1e-6 * total.trend->sum());
  EXPECT_EQ(window->max(), total.trend->max());
  EXPECT_EQ(window->min(), total.trend->min());
  TrendStats t = r.WindowTrend("http_req_duration", std::nullopt);
  const double exact_p95 = total.trend->Quantile(0.95) / 1e6;
  EXPECT_NEAR(t.p95, exact_p95, exact_p95 * 0.011);
  EXPECT_EQ(t.max, 3000);
  // One second of one name.
  auto b2 = r.WindowTrend("http_req_duration", "/b", 2, 3);
  EXPECT_EQ(b2.count, 6u);
  EXPECT_EQ(b2.max, 3000);
  EXPECT_EQ(b2.min, 100);
  auto b_points = r.Points("http_req_duration", "/b");
  ASSERT_EQ(b_points.size(), 5u);
  EXPECT_EQ(b_points[2].samples, 6u);
  EXPECT_NEAR(b_points[2].max, 3000, 1e-9);
  EXPECT_NEAR(b_points[2].value, (100 + 150 + 200 + 250 + 300 + 3000) / 6.0, 1e-6);

  // Rates: passes per second.
  auto failed = r.Points("http_req_failed");
  ASSERT_EQ(failed.size(), 5u);
  EXPECT_EQ(failed[0].passes, 1u);
  EXPECT_EQ(failed[2].passes, 2u);
  uint64_t failed_sum = 0;
  for (const auto& p : failed) failed_sum += p.passes;
  EXPECT_EQ(failed_sum, last.Aggregate(metrics::builtin::kHttpReqFailed).passes);

  // Gauges: a row every second with the current value.
  auto vus = r.Points("vus");
  ASSERT_EQ(vus.size(), 5u);
  for (int s = 0; s < 5; ++s) EXPECT_EQ(vus[s].value, s + 1);

  // Per name.
  auto names = r.PerName();
  ASSERT_EQ(names.size(), 2u);
  EXPECT_EQ(names[0].name, "/a");
  EXPECT_EQ(names[0].requests, 10u + 11 + 12 + 13 + 14);
  EXPECT_EQ(names[0].failed, 0u);
  EXPECT_EQ(names[1].name, "/b");
  EXPECT_EQ(names[1].requests, 26u);
  EXPECT_EQ(names[1].failed, 6u);
  EXPECT_DOUBLE_EQ(names[1].error_rate, 6.0 / 26);
  EXPECT_DOUBLE_EQ(names[1].rps, 26.0 / 5);
  EXPECT_EQ(names[1].duration.count, 26u);
  EXPECT_EQ(r.RequestNames(), (std::vector<std::string>{"/a", "/b"}));

  // Errors by type.
  auto errors = r.ErrorsPerSecond();
  ASSERT_EQ(errors.size(), 6u);
  EXPECT_EQ(errors[2].second, 2);
  EXPECT_EQ(errors[2].type, "http_500");
  EXPECT_EQ(errors[3].second, 2);
  EXPECT_EQ(errors[3].type, "refused");
  EXPECT_EQ(errors[3].count, 1u);

  // Checks and thresholds.
  auto checks = r.Checks();
  ASSERT_EQ(checks.size(), 2u);
  EXPECT_EQ(checks[0].name, "body");
  EXPECT_EQ(checks[0].group, "::g");
  EXPECT_EQ(checks[0].passes, 5u);
  EXPECT_EQ(checks[1].name, "status is 200");
  EXPECT_EQ(checks[1].passes, 4u);
  EXPECT_EQ(checks[1].fails, 1u);
  auto th = r.Thresholds();
  ASSERT_EQ(th.size(), 3u);
  EXPECT_EQ(th[1].metric, "http_req_duration");
  EXPECT_EQ(th[1].expression, "p(95)<500");
  EXPECT_EQ(th[1].passed, true);
  ASSERT_TRUE(th[1].observed.has_value());
  EXPECT_EQ(th[2].metric, "http_req_failed");
  EXPECT_EQ(th[2].passed, false);

  // Metrics and stats.
  auto metrics = r.Metrics();
  auto it = std::find_if(metrics.begin(), metrics.end(),
                         [](const MetricInfo& m) { return m.name == "http_req_duration"; });
  ASSERT_NE(it, metrics.end());
  EXPECT_EQ(it->type, "trend");
  EXPECT_EQ(it->contains, "time");
  const auto stat_rows = r.Stats();
  std::map<std::string, int64_t> stats(stat_rows.begin(), stat_rows.end());
  EXPECT_EQ(stats["seconds_written"], 5);
  EXPECT_EQ(stats["write_errors"], 0);
  // Reading a finished run leaves it one file.
  EXPECT_FALSE(std::filesystem::exists(f.path + "-wal"));
  EXPECT_FALSE(std::filesystem::exists(f.path + "-shm"));
}

TEST(RunStoreTest, RefusesToOverwriteAnExistingFile) {
  TempDir dir;
  const std::string path = dir.Path("x.db");
  std::ofstream(path) << "hello";
  try {
    RunStore store({.path = path}, Info());
    FAIL() << "no error";
  } catch (const core::ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              path + ": already exists; choose another path (--out sqlite=PATH) or remove it");
  }
}

TEST(RunStoreTest, DestructorWithoutFinishKeepsWhatWasCommittedAndLeavesExitCodeNull) {
  Fixture f;
  {
    RunStore store({.path = f.path}, Info());
    for (int s = 0; s < 3; ++s) {
      f.Second(s);
      store.AddSnapshot(f.snaps.back(), kStartNs + (s + 1) * kSecNs);
    }
    store.AddClientSpans(EncodeSpans({RequestSpan(7, 70, "/a", kStartNs + kSecNs, 12, 200)}));
  }
  RunReader r(f.path);
  EXPECT_FALSE(r.meta().exit_code.has_value());
  EXPECT_FALSE(r.meta().end_unix_ns.has_value());
  EXPECT_EQ(r.meta().outcome, "");
  EXPECT_EQ(r.seconds(), 3);
  EXPECT_EQ(r.Points("http_reqs").size(), 3u);
  EXPECT_EQ(r.Requests({}).size(), 1u);
}

TEST(RunStoreTest, BudgetKeepsFailedThenSlowestWithTheirPhasesAndJoinsServerSpans) {
  TempDir dir;
  const std::string path = dir.Path("spans.db");
  FakeRun run;
  {
    RunStore store({.path = path, .max_request_spans_per_second = 3}, Info());
    // Second 0: 8 requests; 2 fail (one 503, one timeout), the rest are fast
    // except two slow ones. Each has a DNS child span.
    std::vector<SpanSpec> spans;
    const double durations[] = {5, 6, 7, 900, 8, 700, 9, 10};
    for (int i = 0; i < 8; ++i) {
      const int64_t start = kStartNs + 100'000'000 + i * 1'000'000;
      int status = 200;
      std::string error;
      if (i == 1) status = 503;
      if (i == 2) {
        status = 0;
        error = "timeout";
      }
      spans.push_back(RequestSpan(100 + i, 1000 + i, i % 2 ? "/odd" : "/even", start, durations[i],
                                  status, error));
      spans.push_back(ChildSpan(100 + i, 2000 + i, 1000 + i, "DNS lookup x", start, 0.5));
    }
    // Children first in the batch (as the engine emits them) works too.
    std::reverse(spans.begin(), spans.end());
    store.AddClientSpans(EncodeSpans(spans));
    // The service's spans: a SERVER span for the 900 ms request, with a child.
    store.AddServiceSpans(
        EncodeSpans({ChildSpan(103, 5000, 1003, "GET /odd", kStartNs + 110'000'000, 850,
                               otel::SpanKind::kServer),
                     ChildSpan(103, 5001, 5000, "db query", kStartNs + 120'000'000, 800)},
                    "api", "node"));
    // A span of a trace never kept, and a late child of a kept request.
    store.AddClientSpans(EncodeSpans({ChildSpan(999, 9990, 0, "iteration", kStartNs, 1)}));
    run.Request("/odd", 1, 200);
    store.AddSnapshot(run.Snap(), kStartNs + kSecNs);
    store.AddClientSpans(
        EncodeSpans({ChildSpan(101, 3001, 1001, "HTTP wait_for_connection", kStartNs, 0.1)}));
    store.Finish({.final_snapshot = run.Snap().get(), .end_unix_ns = kStartNs + kSecNs});
    StoreStats s = store.stats();
    EXPECT_EQ(s.client_spans_received, 18u);
    EXPECT_EQ(s.client_spans_kept, 7u);  // 3 requests + 3 DNS + the late child
    EXPECT_EQ(s.client_spans_not_kept, 11u);
    EXPECT_EQ(s.service_spans_received, 2u);
    EXPECT_EQ(s.service_spans_kept, 2u);
  }
  RunReader r(path);
  auto rows = r.Requests({});
  ASSERT_EQ(rows.size(), 3u);
  // Slowest first: the 900 ms one (kept for its duration), then the two failures.
  EXPECT_EQ(rows[0].span_id, HexSpan(1003));
  EXPECT_EQ(rows[0].duration_ms, 900);
  EXPECT_EQ(rows[0].request_name, "/odd");
  EXPECT_EQ(rows[0].method, "GET");
  EXPECT_EQ(rows[0].url, "http://127.0.0.1:8080/odd");
  EXPECT_EQ(rows[0].http_status, 200);
  ASSERT_TRUE(rows[0].waiting_ms.has_value());
  EXPECT_NEAR(*rows[0].waiting_ms, 540, 1e-6);
  EXPECT_NEAR(*rows[0].dns_ms, 45, 1e-6);
  EXPECT_FALSE(rows[0].tls_ms.has_value());
  ASSERT_TRUE(rows[0].server_ms.has_value());
  EXPECT_NEAR(*rows[0].server_ms, 850, 1e-9);
  EXPECT_NEAR(*rows[0].outside_ms, 50, 1e-9);
  EXPECT_EQ(rows[0].server_service_name, "api");
  EXPECT_EQ(rows[1].span_id, HexSpan(1002));
  EXPECT_EQ(rows[1].error_type, "timeout");
  EXPECT_EQ(rows[1].http_status, 0);
  EXPECT_EQ(rows[2].span_id, HexSpan(1001));
  EXPECT_EQ(rows[2].http_status, 503);
  EXPECT_FALSE(rows[2].server_ms.has_value());

  auto failed = r.Requests({.failed_only = true});
  EXPECT_EQ(failed.size(), 2u);
  EXPECT_EQ(r.Requests({.min_duration_ms = 100}).size(), 1u);
  EXPECT_EQ(r.Requests({.name = "/even"}).size(), 1u);
  EXPECT_EQ(r.Requests({.limit = 1}).size(), 1u);
  EXPECT_EQ(r.Requests({.from_unix_ns = kStartNs + 102'000'000}).size(), 2u);

  auto trace = r.Trace(HexTrace(103));
  ASSERT_EQ(trace.size(), 4u);  // request, DNS, server span, its child
  EXPECT_EQ(trace[0].name, "GET /odd");
  EXPECT_EQ(trace[0].kind, "client");
  EXPECT_EQ(trace[0].source, "client");
  EXPECT_EQ(trace[0].service_name, "stampede");
  EXPECT_EQ(trace[1].name, "DNS lookup x");
  EXPECT_EQ(trace[1].parent_span_id, HexSpan(1003));
  EXPECT_EQ(trace[2].kind, "server");
  EXPECT_EQ(trace[2].source, "service");
  EXPECT_EQ(trace[2].scope, "node");
  EXPECT_THAT(trace[0].attributes_json, HasSubstr(R"("stampede.request.name":"/odd")"));
  EXPECT_EQ(trace[0].events_json, "[]");
  EXPECT_EQ(r.Trace(HexTrace(101)).size(), 3u);  // request, DNS, late child

  auto ex = r.Exemplars();
  ASSERT_EQ(ex.size(), 2u);
  EXPECT_EQ(ex[0].name, "/even");
  EXPECT_EQ(ex[0].span_id, HexSpan(1002));
  EXPECT_EQ(ex[1].name, "/odd");
  EXPECT_EQ(ex[1].span_id, HexSpan(1003));
  EXPECT_EQ(ex[1].duration_ms, 900);
}

TEST(RunStoreTest, ServiceSpansAreBudgetedPerSecondAndDeduplicated) {
  TempDir dir;
  const std::string path = dir.Path("svc.db");
  FakeRun run;
  {
    RunStore store({.path = path, .max_service_spans_per_second = 2}, Info());
    std::vector<SpanSpec> spans;
    for (int i = 0; i < 4; ++i) {
      spans.push_back(
          ChildSpan(1, 10 + i, 0, "op", kStartNs + i * 1000, 1, otel::SpanKind::kServer));
    }
    spans.push_back(ChildSpan(1, 20, 0, "op", kStartNs + 2 * kSecNs, 1, otel::SpanKind::kServer));
    const std::string batch = EncodeSpans(spans, "api");
    store.AddServiceSpans(batch);
    store.Finish({.final_snapshot = run.Snap().get(), .end_unix_ns = kStartNs + kSecNs});
    EXPECT_EQ(store.stats().service_spans_kept, 3u);
    EXPECT_EQ(store.stats().service_spans_not_kept, 2u);
  }
  EXPECT_EQ(QueryOne(path, "SELECT COUNT(*) FROM span WHERE source = 'service'"), "3");
  EXPECT_EQ(QueryOne(path, "SELECT COUNT(*) FROM resource"), "1");
  EXPECT_EQ(QueryOne(path, "SELECT service_name FROM resource"), "api");
}

TEST(RunStoreTest, MemoryStaysBoundedWhateverTheRunLength) {
  // The same load for N and 2N seconds: the store thread's high-water marks
  // do not grow with the run length.
  auto run_for = [](int seconds) {
    TempDir dir;
    FakeRun run;
    RunStore store({.path = dir.Path("m.db"), .max_request_spans_per_second = 5}, Info());
    uint64_t id = 1;
    for (int s = 0; s < seconds; ++s) {
      std::vector<SpanSpec> spans;
      for (int i = 0; i < 40; ++i, ++id) {
        const int64_t start = kStartNs + s * kSecNs + i * 10'000'000;
        spans.push_back(RequestSpan(id, id, "/x", start, 1 + (id * 7919) % 100, 200));
        spans.push_back(ChildSpan(id, id + 1'000'000, id, "DNS", start, 0.1));
      }
      store.AddClientSpans(EncodeSpans(spans));
      run.Request("/x", 1, 200);
      store.AddSnapshot(run.Snap(), kStartNs + (s + 1) * kSecNs);
      // One second at a time, as a real run feeds it (once a second).
      while (store.stats().seconds_written < static_cast<uint64_t>(s + 1)) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    }
    store.Finish({.final_snapshot = run.Snap().get(), .end_unix_ns = kStartNs + seconds * kSecNs});
    EXPECT_EQ(store.stats().client_spans_kept, 2u * 5 * seconds);
    return store.high_water();
  };
  const RunStore::HighWater a = run_for(40);
  const RunStore::HighWater b = run_for(80);
  // Windows stay open for the grace (15 s) plus the current second.
  EXPECT_LE(b.open_windows, 18u);
  EXPECT_LE(b.candidates, 5u * 18);
  EXPECT_LE(b.held_spans, 2u * 5 * 18 + 2);
  EXPECT_LE(b.queued_inputs, 3u);
  EXPECT_EQ(a.open_windows, b.open_windows);
  EXPECT_EQ(a.candidates, b.candidates);
  EXPECT_EQ(a.held_spans, b.held_spans);
  EXPECT_GT(b.candidates, 0u);
}

TEST(RunStoreTest, InputsBeyondTheQueueBoundAreDroppedAndCounted) {
  TempDir dir;
  FakeRun run;
  RunStore store({.path = dir.Path("q.db"), .max_queued_bytes = 10}, Info());
  store.AddClientSpans(EncodeSpans({RequestSpan(1, 1, "/x", kStartNs, 1, 200)}));
  store.Finish({.final_snapshot = run.Snap().get(), .end_unix_ns = kStartNs + kSecNs});
  EXPECT_EQ(store.stats().dropped_inputs, 1u);
  EXPECT_EQ(store.stats().client_spans_received, 0u);
}

TEST(RunReaderTest, BadFilesGiveOneLineErrors) {
  TempDir dir;
  auto message = [](const std::string& path) -> std::string {
    try {
      RunReader r(path);
    } catch (const core::ConfigError& e) {
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
      return e.what();
    }
    return "no error";
  };
  EXPECT_EQ(
      message(dir.Path("missing.db")),
      dir.Path("missing.db") + ": no such file (a run store is written by --out sqlite=PATH)");

  const std::string text = dir.Path("text.db");
  std::ofstream(text) << "this is not a database, just some text that is long enough to matter"
                         " because sqlite reads a 100-byte header first........................";
  EXPECT_THAT(message(text), HasSubstr(text + ": not a SQLite file"));

  auto make_db = [&](const std::string& path, const std::string& sql) {
    sqlite3* db = nullptr;
    sqlite3_open(path.c_str(), &db);
    sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
    sqlite3_close(db);
  };
  const std::string other = dir.Path("other.db");
  make_db(other, "CREATE TABLE t (x)");
  EXPECT_THAT(message(other), HasSubstr(other + ": a SQLite file but not a stampede run store"));

  const std::string newer = dir.Path("newer.db");
  make_db(newer, std::string(kSchemaSql) + "PRAGMA user_version=99;");
  EXPECT_EQ(message(newer), newer +
                                ": written by a newer stampede (store schema 99, this stampede "
                                "reads up to 1); upgrade stampede to read it");
}

TEST(RunReaderTest, ReadsAFileWhileTheWriterStillHasItOpen) {
  Fixture f;
  RunStore store({.path = f.path}, Info());
  f.Second(0);
  store.AddSnapshot(f.snaps.back(), kStartNs + kSecNs);
  for (int i = 0; i < 200 && store.stats().seconds_written < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  RunReader r(f.path);
  EXPECT_EQ(r.seconds(), 1);
  EXPECT_FALSE(r.meta().exit_code.has_value());
  EXPECT_EQ(r.Points("http_reqs").size(), 1u);
}

}  // namespace
}  // namespace stampede::store
