#include "report/html_report.h"

#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include "core/error.h"
#include "metrics/threshold.h"
#include "store/run_reader.h"
#include "store/run_store.h"
#include "store/store_test_util.h"

namespace stampede::report {
namespace {

using nlohmann::json;
using store::testing::ChildSpan;
using store::testing::EncodeSpans;
using store::testing::FakeRun;
using store::testing::HexTrace;
using store::testing::kSecNs;
using store::testing::kStartNs;
using store::testing::RequestSpan;
using store::testing::TempDir;

constexpr const char* kHostile = "<script>alert(1)</script>";
constexpr const char* kHostileSpan = "</script><img src=x onerror=alert(2)>\xE2\x80\xA8&amp;";

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = haystack.find(needle); pos != std::string::npos;
       pos = haystack.find(needle, pos + needle.size())) {
    ++n;
  }
  return n;
}

// The JSON between <script type="application/json" id="stampede-data"> and </script>.
json EmbeddedData(const std::string& html) {
  const std::string open = "<script type=\"application/json\" id=\"stampede-data\">";
  size_t from = html.find(open);
  EXPECT_NE(from, std::string::npos);
  from += open.size();
  size_t to = html.find("</script>", from);
  EXPECT_NE(to, std::string::npos);
  return json::parse(html.substr(from, to - from));
}

// A small finished run: 3 seconds, two names (one hostile), a failed request,
// a service that answered with a SERVER span and a hostile child span.
class HtmlReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.Path("run.db");
    store::StoreOptions options;
    options.path = path_;
    store::RunInfo info;
    info.run_id = "run-1";
    info.stampede_version = "0.1.0";
    info.host = "test-host";
    info.command_line = "stampede run script.lua";
    info.script_path = "script.lua";
    info.options_json = "{}";
    info.thresholds_json = R"({"http_req_duration":["p(95)<1"]})";
    info.start_unix_ns = kStartNs;
    store::RunStore store(options, info);
    FakeRun run;
    uint64_t span = 100;
    for (int s = 0; s < 3; ++s) {
      run.Vus(2 + s);
      std::vector<store::testing::SpanSpec> client, service;
      for (int i = 0; i < 4; ++i) {
        const uint64_t trace = 1 + s * 10 + i;
        const std::string name = i % 2 == 0 ? "/api/items" : kHostile;
        const int status = (s == 1 && i == 3) ? 503 : 200;
        const double ms = 10.0 + s * 20 + i;
        run.Request(name, ms, status);
        const int64_t start = kStartNs + s * kSecNs + i * 100'000'000;
        const uint64_t req = ++span;
        client.push_back(RequestSpan(trace, req, name, start, ms, status));
        client.push_back(ChildSpan(trace, ++span, req, "DNS lookup 127.0.0.1", start, 0.5));
        const uint64_t server = ++span;
        service.push_back(ChildSpan(trace, server, req, "GET /api/items", start + 1'000'000, ms - 3,
                                    otel::SpanKind::kServer));
        service.push_back(ChildSpan(trace, ++span, server, kHostileSpan, start + 2'000'000, 1));
      }
      run.Check("status is 200", "", true);
      run.Check(kHostile, "::g", s != 1);
      store.AddClientSpans(EncodeSpans(client));
      store.AddServiceSpans(EncodeSpans(service, "shop", "@opentelemetry/instrumentation-http"));
      auto snap = run.Snap();
      store.AddSnapshot(snap, kStartNs + (s + 1) * kSecNs);
      if (s == 2) {
        metrics::ThresholdSet thresholds =
            metrics::ThresholdSet::FromJson(json::parse(info.thresholds_json), &run.registry());
        thresholds.Evaluate(*snap, 3 * kSecNs);
        store::RunEnd end;
        end.final_snapshot = snap.get();
        end.thresholds = &thresholds;
        end.end_unix_ns = kStartNs + 3 * kSecNs;
        end.exit_code = 99;
        end.outcome = "thresholds_failed";
        end.summary_json = "{}";
        store.Finish(end);
      }
    }
  }

  TempDir dir_;
  std::string path_;
};

TEST_F(HtmlReportTest, DataHoldsTheRunFromTheStore) {
  store::RunReader reader(path_);
  json d = BuildReportData(reader, HtmlReportOptions{});
  EXPECT_EQ(d["run"]["run_id"], "run-1");
  EXPECT_TRUE(d["run"]["clean"].get<bool>());
  EXPECT_EQ(d["run"]["exit_code"], 99);
  EXPECT_EQ(d["totals"]["requests"].get<double>(), 12);
  EXPECT_EQ(d["totals"]["failed"].get<uint64_t>(), 1u);
  ASSERT_EQ(d["names"].size(), 2u);
  std::vector<std::string> names;
  for (const json& n : d["names"]) names.push_back(n["name"]);
  EXPECT_NE(std::find(names.begin(), names.end(), "/api/items"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), kHostile), names.end());
  ASSERT_EQ(d["thresholds"].size(), 1u);
  EXPECT_EQ(d["thresholds"][0]["passed"], false);
  EXPECT_GE(d["checks"].size(), 2u);
  // One point per second in every time series.
  EXPECT_EQ(d["series"]["second"].size(), 3u);
  EXPECT_EQ(d["series"]["vus"], json::array({2, 3, 4}));
  EXPECT_EQ(d["series"]["rps"], json::array({4, 4, 4}));
  EXPECT_EQ(d["series"]["p95"].size(), 3u);
  // Requests: the slowest first; the failed one marked; the service's side joined.
  ASSERT_FALSE(d["requests"].empty());
  const json& slowest = d["requests"][0];
  EXPECT_NEAR(slowest["duration_ms"].get<double>(), 53, 0.01);
  EXPECT_EQ(slowest["service"], "shop");
  EXPECT_NEAR(slowest["outside_ms"].get<double>(), 3, 0.01);
  bool failed_listed = false;
  for (const json& r : d["requests"]) {
    for (const json& why : r["why"]) failed_listed |= why == "failed" && r["status"] == 503;
    // Every listed request's trace is embedded, with the service's spans.
    ASSERT_TRUE(d["traces"].contains(r["trace_id"].get<std::string>()));
    bool service = false;
    for (const json& s : d["traces"][r["trace_id"].get<std::string>()]["spans"]) {
      service |= s["source"] == "service";
    }
    EXPECT_TRUE(service);
  }
  EXPECT_TRUE(failed_listed);
  EXPECT_EQ(d["sampling"]["failed_total"], 1);
}

TEST_F(HtmlReportTest, PageEmbedsUplotAndEscapesHostileStrings) {
  store::RunReader reader(path_);
  HtmlReportOptions options;
  options.trace_url_template = "https://grafana.example/explore?traceId={trace_id}&x=1";
  const std::string html = RenderHtmlReport(reader, options);
  // uPlot's code and styles, the page's script: inlined, nothing to fetch.
  EXPECT_NE(html.find("uPlot"), std::string::npos);
  EXPECT_NE(html.find(".uplot"), std::string::npos);
  EXPECT_NE(html.find("stampede-data"), std::string::npos);
  EXPECT_EQ(html.find("<script src"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  // The only script elements are the data block and the three inline scripts
  // (uPlot, the trace view shared with the dashboard, the report's own).
  EXPECT_EQ(Count(html, "<script"), 4u);
  EXPECT_EQ(Count(html, "</script>"), 4u);
  // Hostile strings never appear raw; the data carries them escaped.
  EXPECT_EQ(html.find(kHostile), std::string::npos);
  EXPECT_EQ(html.find("<img src=x"), std::string::npos);
  EXPECT_EQ(html.find("\xE2\x80\xA8"), std::string::npos);
  EXPECT_NE(html.find("\\u003cscript\\u003ealert(1)\\u003c/script\\u003e"), std::string::npos);
  // ... and decode back to the same text.
  json d = EmbeddedData(html);
  bool hostile_span = false;
  for (const auto& [id, trace] : d["traces"].items()) {
    for (const json& s : trace["spans"]) hostile_span |= s["name"] == kHostileSpan;
  }
  EXPECT_TRUE(hostile_span);
  // Trace links: the template with the escaped id.
  const std::string trace_id = d["requests"][0]["trace_id"];
  EXPECT_EQ(d["requests"][0]["trace_url"],
            "https://grafana.example/explore?traceId=" + trace_id + "&x=1");
  // CSP: only hashed scripts, no network.
  EXPECT_NE(html.find("default-src 'none'; script-src 'sha256-"), std::string::npos);
}

TEST_F(HtmlReportTest, EmbedsOnlyTheListedRequestsTraces) {
  store::RunReader reader(path_);
  HtmlReportOptions options;
  options.slowest = 2;
  options.max_failed = 1;
  options.max_exemplars = 0;
  options.max_spans_per_trace = 2;
  json d = BuildReportData(reader, options);
  EXPECT_LE(d["requests"].size(), 3u);
  EXPECT_LE(d["traces"].size(), 3u);
  for (const auto& [id, trace] : d["traces"].items()) {
    EXPECT_LE(trace["spans"].size(), 2u);
    EXPECT_EQ(trace["total_spans"], 4);
  }
  EXPECT_EQ(d["sampling"]["slowest_limit"], 2);
}

TEST_F(HtmlReportTest, ExemplarsAddEachSecondsSlowestRequest) {
  store::RunReader reader(path_);
  HtmlReportOptions options;
  options.slowest = 1;
  options.max_failed = 0;
  json d = BuildReportData(reader, options);
  std::set<int64_t> seconds;
  for (const json& r : d["requests"]) seconds.insert(r["second"].get<int64_t>());
  EXPECT_EQ(seconds, (std::set<int64_t>{0, 1, 2}));
  for (const json& r : d["requests"]) {
    EXPECT_FALSE(r["name"].get<std::string>().empty());
    EXPECT_FALSE(r["phases"].empty());
  }
}

TEST_F(HtmlReportTest, TraceViewIsTheReportsShapeForOneTrace) {
  store::RunReader reader(path_);
  HtmlReportOptions options;
  options.trace_url_template = "http://t.example/{trace_id}";
  json d = BuildReportData(reader, options);
  ASSERT_FALSE(d["requests"].empty());
  const json& listed = d["requests"][0];
  const std::string trace_id = listed["trace_id"];
  // With the request's span id, and without (the trace's first request span).
  for (const std::string span : {listed["span_id"].get<std::string>(), std::string()}) {
    std::optional<json> view = TraceViewJson(reader, trace_id, span, options);
    ASSERT_TRUE(view.has_value());
    ASSERT_TRUE((*view)["request"].is_object()) << view->dump();
    const json& r = (*view)["request"];
    EXPECT_EQ(r["trace_id"], trace_id);
    if (!span.empty()) EXPECT_EQ(r["span_id"], span);
    EXPECT_EQ(r["name"], listed["name"]);
    EXPECT_EQ(r["phases"], listed["phases"]);
    EXPECT_EQ(r["trace_url"], "http://t.example/" + trace_id);
    EXPECT_EQ((*view)["trace"]["spans"], d["traces"][trace_id]["spans"]);
  }
  // A span id that is not in the trace: the trace without a request.
  std::optional<json> other = TraceViewJson(reader, trace_id, "0123456789abcdef", options);
  ASSERT_TRUE(other.has_value());
  EXPECT_TRUE((*other)["request"].is_null());
  EXPECT_FALSE((*other)["trace"]["spans"].empty());
  EXPECT_FALSE(TraceViewJson(reader, std::string(32, 'f'), "", options).has_value());
}

TEST(HtmlReport, KilledRunSaysSo) {
  TempDir dir;
  const std::string path = dir.Path("killed.db");
  {
    store::StoreOptions options;
    options.path = path;
    store::RunInfo info;
    info.run_id = "killed";
    info.options_json = "{}";
    info.thresholds_json = "{}";
    info.start_unix_ns = kStartNs;
    store::RunStore store(options, info);
    FakeRun run;
    for (int s = 0; s < 2; ++s) {
      run.Request("/a", 5, 200);
      run.Vus(1);
      store.AddSnapshot(run.Snap(), kStartNs + (s + 1) * kSecNs);
    }
  }  // no Finish: as a killed run leaves it
  store::RunReader reader(path);
  json d = BuildReportData(reader, HtmlReportOptions{});
  EXPECT_FALSE(d["run"]["clean"].get<bool>());
  EXPECT_TRUE(d["run"]["exit_code"].is_null());
  EXPECT_EQ(d["run"]["last_second"], 1);
  const std::string html = RenderHtmlPage(d);
  EXPECT_NE(html.find("did not end cleanly"), std::string::npos);  // in report.js
}

TEST(HtmlReport, JsonForScriptTagEscapesWhatEndsOrBreaksAScript) {
  json d = {{"s", std::string("</script><!--&\xE2\x80\xA8\xE2\x80\xA9") + "\xff"}};
  const std::string text = JsonForScriptTag(d);
  EXPECT_EQ(text.find('<'), std::string::npos);
  EXPECT_EQ(text.find('>'), std::string::npos);
  EXPECT_EQ(text.find('&'), std::string::npos);
  EXPECT_EQ(text.find("\xE2\x80\xA8"), std::string::npos);
  EXPECT_EQ(text.find("\xE2\x80\xA9"), std::string::npos);
  EXPECT_NE(text.find("\\u2028\\u2029"), std::string::npos);
  // Still JSON, and the same string (invalid UTF-8 replaced by U+FFFD).
  json back = json::parse(text);
  EXPECT_EQ(back["s"], std::string("</script><!--&\xE2\x80\xA8\xE2\x80\xA9") + "\xEF\xBF\xBD");
}

TEST(HtmlReport, TraceUrlTemplate) {
  EXPECT_EQ(ExpandTraceUrl("https://g.example/t/{trace_id}?a={trace_id}", "ab12"),
            "https://g.example/t/ab12?a=ab12");
  EXPECT_EQ(ExpandTraceUrl("https://g.example/?id={trace_id}", "a b&c\"<"),
            "https://g.example/?id=a%20b%26c%22%3C");
  EXPECT_NO_THROW(ValidateTraceUrlTemplate(""));
  EXPECT_NO_THROW(ValidateTraceUrlTemplate("http://x/{trace_id}"));
  EXPECT_THROW(ValidateTraceUrlTemplate("javascript:alert(1)//{trace_id}"), core::ConfigError);
  EXPECT_THROW(ValidateTraceUrlTemplate("https://x/no-placeholder"), core::ConfigError);
  EXPECT_THROW(ValidateTraceUrlTemplate("https://x/{trace_id}\n"), core::ConfigError);
}

TEST(HtmlReport, PageIsSelfContained) {
  json d = {{"run", {{"run_id", "x"}}}};
  const std::string html = RenderHtmlPage(d);
  EXPECT_EQ(html.find("{{"), std::string::npos);  // every placeholder filled
  // Nothing is loaded from elsewhere (uPlot's licence comment names its home only).
  for (const char* load : {"src=\"http", "href=\"http", "url(http", "url(//", "import("}) {
    EXPECT_EQ(html.find(load), std::string::npos) << load;
  }
  // The scripts do not contain what would end their element early.
  std::regex end_tag("</script", std::regex::icase);
  EXPECT_EQ(std::distance(std::sregex_iterator(html.begin(), html.end(), end_tag),
                          std::sregex_iterator()),
            4);
}

}  // namespace
}  // namespace stampede::report
