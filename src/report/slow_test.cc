#include "report/slow.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "store/run_store.h"
#include "store/store_test_util.h"

namespace stampede::report {
namespace {

using namespace stampede::store::testing;
using ::testing::HasSubstr;

class SlowTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    setenv("TZ", "UTC", 1);  // local wall-clock windows, deterministically
    tzset();
  }
};

TEST_F(SlowTest, ParsesWindowsInEveryForm) {
  // kStartNs is 2023-11-14T22:13:20Z.
  auto w = ParseTimeWindow("90s-2m", kStartNs);
  EXPECT_EQ(w.from_unix_ns, kStartNs + 90 * kSecNs);
  EXPECT_EQ(w.to_unix_ns, kStartNs + 120 * kSecNs);
  w = ParseTimeWindow("22:13:30-22:14", kStartNs);
  EXPECT_EQ(w.from_unix_ns, kStartNs + 10 * kSecNs);
  EXPECT_EQ(w.to_unix_ns, kStartNs + 40 * kSecNs);
  w = ParseTimeWindow("2023-11-14T22:13:30Z-2023-11-14T23:13:40.5+01:00", kStartNs);
  EXPECT_EQ(w.from_unix_ns, kStartNs + 10 * kSecNs);
  EXPECT_EQ(w.to_unix_ns, kStartNs + 20 * kSecNs + 500'000'000);
  w = ParseTimeWindow("22:13:30-60s", kStartNs);  // mixed forms
  EXPECT_EQ(w.to_unix_ns, kStartNs + 60 * kSecNs);
  w = ParseTimeWindow("23:59-00:01", kStartNs);  // across midnight
  EXPECT_EQ(w.to_unix_ns - w.from_unix_ns, 120 * kSecNs);
}

TEST_F(SlowTest, BadWindowsAreOneLineErrors) {
  for (const char* bad : {"banana", "10s", "10s-5s", "25:00-26:00", "14:3-14:04",
                          "2023-11-14T22:13:30-2023-11-14T22:14:30Z", "-"}) {
    try {
      ParseTimeWindow(bad, kStartNs);
      ADD_FAILURE() << bad;
    } catch (const core::ConfigError& e) {
      const std::string m = e.what();
      EXPECT_THAT(m, HasSubstr(std::string("invalid --window \"") + bad + "\"")) << m;
      EXPECT_EQ(m.find('\n'), std::string::npos);
    }
  }
}

TEST_F(SlowTest, SlowestFirstWithPhasesServerTimeAndStableJson) {
  TempDir dir;
  const std::string path = dir.Path("run.db");
  {
    store::RunInfo info;
    info.run_id = "r";
    info.start_unix_ns = kStartNs;
    store::RunStore s({.path = path}, info);
    s.AddClientSpans(
        EncodeSpans({RequestSpan(1, 11, "/a", kStartNs + 5 * kSecNs, 800, 200),
                     RequestSpan(2, 12, "/b", kStartNs + 6 * kSecNs, 300, 503),
                     RequestSpan(3, 13, "/a", kStartNs + 7 * kSecNs, 50, 200),
                     RequestSpan(4, 14, "/a", kStartNs + 70 * kSecNs, 900, 0, "timeout")}));
    s.AddServiceSpans(
        EncodeSpans({ChildSpan(1, 21, 11, "GET /a", kStartNs + 5 * kSecNs + 100'000'000, 600,
                               otel::SpanKind::kServer)},
                    "shop"));
    FakeRun run;
    s.Finish({.final_snapshot = run.Snap().get(), .end_unix_ns = kStartNs + 80 * kSecNs});
  }
  store::RunReader reader(path);
  auto rows = SlowRequests(reader, {.min_ms = 100});
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].span_id, HexSpan(14));
  EXPECT_EQ(rows[1].span_id, HexSpan(11));
  EXPECT_EQ(rows[2].span_id, HexSpan(12));
  EXPECT_EQ(
      SlowRequests(reader, {.min_ms = 100, .window = ParseTimeWindow("0s-60s", kStartNs)}).size(),
      2u);
  EXPECT_EQ(SlowRequests(reader, {.name = "/b"}).size(), 1u);
  EXPECT_EQ(SlowRequests(reader, {.limit = 2}).size(), 2u);

  auto json = nlohmann::json::parse(FormatSlowJson(rows, kStartNs));
  ASSERT_EQ(json.size(), 3u);
  const auto& r1 = json[1];
  std::vector<std::string> keys;
  for (const auto& [k, v] : r1.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{
                      "blocked_ms",    "connect_ms", "dns_ms",   "duration_ms", "error_type",
                      "method",        "name",       "offset_s", "outside_ms",  "receiving_ms",
                      "sending_ms",    "server_ms",  "service",  "span_id",     "start",
                      "start_unix_ns", "status",     "tls_ms",   "trace_id",    "url",
                      "waiting_ms"}));
  EXPECT_EQ(r1["trace_id"], HexTrace(1));
  EXPECT_EQ(r1["name"], "/a");
  EXPECT_EQ(r1["status"], 200);
  EXPECT_EQ(r1["duration_ms"], 800.0);
  EXPECT_EQ(r1["server_ms"], 600.0);
  EXPECT_EQ(r1["outside_ms"], 200.0);
  EXPECT_EQ(r1["service"], "shop");
  EXPECT_EQ(r1["dns_ms"], 40.0);
  EXPECT_TRUE(r1["tls_ms"].is_null());
  EXPECT_TRUE(r1["error_type"].is_null());
  EXPECT_EQ(r1["start"], "2023-11-14T22:13:25.000Z");
  EXPECT_EQ(r1["offset_s"], 5.0);
  EXPECT_EQ(json[0]["error_type"], "timeout");
  EXPECT_TRUE(json[0]["server_ms"].is_null());

  const std::string text = FormatSlowText(rows, kStartNs);
  EXPECT_THAT(text, HasSubstr("TOTAL_MS"));
  EXPECT_THAT(text, HasSubstr("OUTSIDE"));
  EXPECT_THAT(text, HasSubstr("22:13:25.000"));
  EXPECT_THAT(text, HasSubstr("- timeout"));
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 4);
  EXPECT_EQ(FormatSlowText({}, kStartNs), "no stored request matches\n");
}

}  // namespace
}  // namespace stampede::report
