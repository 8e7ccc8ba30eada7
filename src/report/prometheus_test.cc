#include "report/prometheus.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <map>
#include <random>
#include <sstream>

#include "core/error.h"
#include "metrics/registry.h"
#include "metrics/shard.h"
#include "metrics/snapshot.h"

namespace stampede::report {
namespace {

using metrics::ExemplarValue;
using metrics::ExpHistogram;
using metrics::ExportAttribute;
using metrics::ExportMetric;
using metrics::ExportPoint;
using metrics::InstrumentKind;
using ::testing::HasSubstr;
using ::testing::Not;

ExportAttribute A(std::string key, std::string value) {
  return ExportAttribute{std::move(key), std::move(value), false, 0};
}

ExportMetric Number(std::string name, std::string unit, InstrumentKind kind,
                    std::vector<std::pair<std::vector<ExportAttribute>, double>> points,
                    std::string description = "A metric.") {
  ExportMetric m;
  m.name = std::move(name);
  m.unit = std::move(unit);
  m.kind = kind;
  m.description = std::move(description);
  for (auto& [attrs, v] : points) {
    ExportPoint p;
    p.attributes = std::move(attrs);
    p.number = v;
    m.points.push_back(std::move(p));
  }
  return m;
}

ExportMetric Histogram(
    std::string name, std::string unit, double unit_scale,
    std::vector<std::pair<std::vector<ExportAttribute>, const ExpHistogram*>> points,
    ExemplarValue exemplars = ExemplarValue::kNone) {
  ExportMetric m;
  m.name = std::move(name);
  m.unit = std::move(unit);
  m.kind = InstrumentKind::kHistogram;
  m.unit_scale = unit_scale;
  m.exemplars = exemplars;
  m.description = "Latency.";
  for (auto& [attrs, h] : points) {
    ExportPoint p;
    p.attributes = std::move(attrs);
    p.histogram = h;
    m.points.push_back(std::move(p));
  }
  return m;
}

ExpositionOptions Om() {
  ExpositionOptions o;
  o.format = ExpositionFormat::kOpenMetrics;
  return o;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// (le, count, exemplar text) of every bucket line of `family`, in order.
struct BucketLine {
  std::string le;
  uint64_t count;
  std::string exemplar;
};
std::vector<BucketLine> Buckets(const std::string& text, const std::string& family) {
  std::vector<BucketLine> out;
  for (const std::string& line : Lines(text)) {
    if (!line.starts_with(family + "_bucket{")) continue;
    size_t le = line.find(",le=\"");
    if (le == std::string::npos) le = line.find("{le=\"");
    le += 1;
    size_t le_end = line.find('"', le + 4);
    size_t space = line.find("} ", le_end);
    size_t hash = line.find(" # ", space);
    BucketLine b;
    b.le = line.substr(le + 4, le_end - le - 4);
    b.count = std::stoull(
        line.substr(space + 2, hash == std::string::npos ? std::string::npos : hash - space - 2));
    if (hash != std::string::npos) b.exemplar = line.substr(hash + 3);
    out.push_back(b);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Names

TEST(PrometheusNamesTest, UnitSuffixesAndTotal) {
  using K = InstrumentKind;
  auto name = [](std::string n, std::string unit, K kind) {
    return PrometheusName(Number(std::move(n), std::move(unit), kind, {}));
  };
  EXPECT_EQ(name("stampede_http_reqs", "{request}", K::kCounter), "stampede_http_reqs_total");
  EXPECT_EQ(name("stampede_data_sent", "By", K::kCounter), "stampede_data_sent_bytes_total");
  EXPECT_EQ(name("stampede_http_req_duration", "s", K::kHistogram),
            "stampede_http_req_duration_seconds");
  EXPECT_EQ(name("http.client.request.duration", "s", K::kHistogram),
            "http_client_request_duration_seconds");
  EXPECT_EQ(name("http.client.open_connections", "{connection}", K::kUpDownCounter),
            "http_client_open_connections");
  EXPECT_EQ(name("stampede_vus", "{vu}", K::kGauge), "stampede_vus");
  EXPECT_EQ(name("cpu.utilization", "1", K::kGauge), "cpu_utilization_ratio");
  EXPECT_EQ(name("stampede_checks", "1", K::kCounter), "stampede_checks_total");  // no _ratio
  EXPECT_EQ(name("net.io", "By/s", K::kGauge), "net_io_bytes_per_second");
  EXPECT_EQ(name("rps", "{request}/s", K::kGauge), "rps_per_second");
  EXPECT_EQ(name("latency_seconds", "s", K::kHistogram), "latency_seconds");  // not doubled
  EXPECT_EQ(name("errors_total", "{error}", K::kCounter), "errors_total");
  EXPECT_EQ(name("sent_total", "By", K::kCounter), "sent_bytes_total");
  EXPECT_EQ(name("odd", "ms", K::kGauge), "odd_milliseconds");
  EXPECT_EQ(name("temp", "Cel", K::kGauge), "temp_celsius");
  EXPECT_EQ(name("weird", "foo.bar", K::kGauge), "weird_foo_bar");
  EXPECT_EQ(SanitizeMetricName("a..b-c/d"), "a_b_c_d");
  EXPECT_EQ(SanitizeMetricName("1abc"), "_1abc");
  EXPECT_EQ(SanitizeMetricName("ns:ok"), "ns:ok");
  EXPECT_EQ(SanitizeMetricName("é"), "_");
}

TEST(PrometheusNamesTest, LabelNames) {
  EXPECT_EQ(SanitizeLabelName("http.request.method"), "http_request_method");
  EXPECT_EQ(SanitizeLabelName("server.port"), "server_port");
  EXPECT_EQ(SanitizeLabelName("1st"), "key_1st");
  EXPECT_EQ(SanitizeLabelName("__name__"), "key__name__");
  EXPECT_EQ(SanitizeLabelName("_ok"), "_ok");
  EXPECT_EQ(SanitizeLabelName("a:b"), "a_b");
}

TEST(PrometheusNamesTest, SampleNames) {
  ExpHistogram h;
  std::vector<ExportMetric> ms;
  ms.push_back(Number("stampede_http_reqs", "{request}", InstrumentKind::kCounter, {{{}, 1}}));
  ms.push_back(Number("stampede_vus", "{vu}", InstrumentKind::kGauge, {{{}, 1}}));
  ms.push_back(Histogram("stampede_http_req_duration", "s", 1e-9, {{{}, &h}}));
  ms.push_back(Number("stampede.vus", "{vu}", InstrumentKind::kGauge, {{{}, 1}}));  // collides
  EXPECT_THAT(PrometheusSampleNames(ms),
              ::testing::ElementsAre("stampede_run_info", "stampede_http_reqs_total",
                                     "stampede_vus", "stampede_http_req_duration_seconds_bucket",
                                     "stampede_http_req_duration_seconds_sum",
                                     "stampede_http_req_duration_seconds_count"));
  EXPECT_EQ(PrometheusSampleNames(ms, false).front(), "stampede_http_reqs_total");
}

// ---------------------------------------------------------------------------
// Text format

TEST(PrometheusTextTest, CountersGaugesLabelsAndEscaping) {
  std::vector<ExportMetric> ms;
  ms.push_back(Number("stampede_http_reqs", "{request}", InstrumentKind::kCounter,
                      {{{A("method", "GET"), A("name", "/api \"x\"\\\n")}, 12},
                       {{A("method", "POST"), A("name", "bad\xff utf8")}, 3}},
                      "How many requests."));
  ms.push_back(Number("http.client.open_connections", "{connection}",
                      InstrumentKind::kUpDownCounter,
                      {{{A("http.connection.state", "idle"), A("server.port", "80")}, 2}}));
  ms.push_back(Number("stampede_vus", "{vu}", InstrumentKind::kGauge, {{{}, 5}}, ""));
  ms.push_back(Number("c", "", InstrumentKind::kCounter, {{{A("a.b", "1"), A("a_b", "2")}, 0.5}},
                      "Help with \\ and\nnewline."));
  std::string text = FormatExposition(ms, {});
  EXPECT_EQ(text,
            "# HELP stampede_http_reqs_total How many requests.\n"
            "# TYPE stampede_http_reqs_total counter\n"
            "stampede_http_reqs_total{method=\"GET\",name=\"/api \\\"x\\\"\\\\\\n\"} 12\n"
            "stampede_http_reqs_total{method=\"POST\",name=\"bad\xEF\xBF\xBD utf8\"} 3\n"
            "# HELP http_client_open_connections A metric.\n"
            "# TYPE http_client_open_connections gauge\n"
            "http_client_open_connections{http_connection_state=\"idle\",server_port=\"80\"} 2\n"
            "# HELP stampede_vus stampede metric stampede_vus\n"
            "# TYPE stampede_vus gauge\n"
            "stampede_vus 5\n"
            "# HELP c_total Help with \\\\ and\\nnewline.\n"
            "# TYPE c_total counter\n"
            "c_total{a_b=\"1;2\"} 0.5\n");
}

TEST(PrometheusTextTest, OverflowPointAndCollisions) {
  std::vector<ExportMetric> ms;
  ExportMetric m = Number("g", "", InstrumentKind::kGauge, {{{A("k", "v")}, 1}, {{}, 2}});
  m.points[1].overflow = true;
  ms.push_back(std::move(m));
  ms.push_back(Number("g.x", "", InstrumentKind::kGauge, {{{}, 3}}));
  ms.push_back(Number("g_x", "", InstrumentKind::kGauge, {{{}, 4}}));  // collides with g.x
  std::string text = FormatExposition(ms, {});
  EXPECT_THAT(text, HasSubstr("g{otel_metric_overflow=\"true\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("g_x 3\n"));
  EXPECT_THAT(text, Not(HasSubstr("g_x 4\n")));
  EXPECT_THAT(text,
              HasSubstr("# stampede: g_x left out: the name g_x is taken by another metric\n"));
  std::string om = FormatExposition(ms, Om());
  EXPECT_THAT(om, Not(HasSubstr("# stampede")));  // OpenMetrics has no free comments
}

TEST(PrometheusTextTest, EmptyAndRunInfo) {
  EXPECT_EQ(FormatExposition({}, {}), "");
  EXPECT_EQ(FormatExposition({}, Om()), "# EOF\n");
  ExpositionOptions o;
  o.run_labels = {{"service.name", "stampede"}, {"run_id", "r-1"}};
  EXPECT_EQ(FormatExposition({}, o),
            "# HELP stampede_run_info Identity of the stampede run that exposes these metrics "
            "(value 1).\n"
            "# TYPE stampede_run_info gauge\n"
            "stampede_run_info{run_id=\"r-1\",service_name=\"stampede\"} 1\n");
  o.format = ExpositionFormat::kOpenMetrics;
  EXPECT_EQ(FormatExposition({}, o),
            "# HELP stampede_run Identity of the stampede run that exposes these metrics "
            "(value 1).\n"
            "# TYPE stampede_run info\n"
            "stampede_run_info{run_id=\"r-1\",service_name=\"stampede\"} 1\n"
            "# EOF\n");
  // A metric that would take the info metric's name is the one left out.
  std::vector<ExportMetric> ms;
  ms.push_back(Number("stampede_run", "", InstrumentKind::kGauge, {{{}, 7}}));
  EXPECT_THAT(FormatExposition(ms, o), Not(HasSubstr("stampede_run 7")));
}

TEST(PrometheusHistogramTest, FixedBounds) {
  auto s = HistogramBounds("s");
  ASSERT_EQ(s.size(), 73u);  // k = -48..24
  EXPECT_NEAR(s.front(), 0.000244140625, 1e-7);
  EXPECT_EQ(s.back(), 64);
  EXPECT_EQ(s[48], 1);  // k = 0
  EXPECT_EQ(s[44], 0.5);
  for (size_t i = 1; i < s.size(); ++i) {
    EXPECT_NEAR(s[i] / s[i - 1], std::exp2(0.25), 0.002) << i;
  }
  auto b = HistogramBounds("By");
  ASSERT_EQ(b.size(), 41u);
  EXPECT_EQ(b.front(), 1);
  EXPECT_EQ(b.back(), 1099511627776.0);
  EXPECT_EQ(HistogramBounds("{item}").front(), std::exp2(-10));
}

TEST(PrometheusHistogramTest, BucketsAreMonotonicAndEndAtCount) {
  ExpHistogram h;
  for (double ms : {0.0, 0.9, 1.0, 1.5, 2.0, 20.0, 120.0, 999.0, 70000.0}) h.Record(ms * 1e6);
  std::vector<ExportMetric> ms;
  ms.push_back(
      Histogram("stampede_http_req_duration", "s", 1e-9, {{{A("name", "/"), A("le", "x")}, &h}}));
  std::string text = FormatExposition(ms, {});
  auto buckets = Buckets(text, "stampede_http_req_duration_seconds");
  ASSERT_EQ(buckets.size(), 74u);
  EXPECT_EQ(buckets.front().le, "0.0002441");
  EXPECT_EQ(buckets[48].le, "1");
  EXPECT_EQ(buckets[72].le, "64");
  EXPECT_EQ(buckets.back().le, "+Inf");
  EXPECT_EQ(buckets.back().count, 9u);
  EXPECT_EQ(buckets.front().count, 1u);  // the zero
  for (size_t i = 1; i < buckets.size(); ++i) EXPECT_LE(buckets[i - 1].count, buckets[i].count);
  EXPECT_EQ(buckets[72].count, 8u);  // 70 s is above the last finite bound
  // The user's `le` attribute cannot clash with the bucket label.
  EXPECT_THAT(
      text,
      HasSubstr(
          "stampede_http_req_duration_seconds_bucket{key_le=\"x\",name=\"/\",le=\"+Inf\"} 9\n"));
  EXPECT_THAT(
      text, HasSubstr("stampede_http_req_duration_seconds_sum{key_le=\"x\",name=\"/\"} 71.1444\n"));
  EXPECT_THAT(text,
              HasSubstr("stampede_http_req_duration_seconds_count{key_le=\"x\",name=\"/\"} 9\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE stampede_http_req_duration_seconds histogram\n"));
}

TEST(PrometheusHistogramTest, EmptyHistogram) {
  ExpHistogram h;
  std::vector<ExportMetric> ms;
  ms.push_back(Histogram("d", "By", 1, {{{}, &h}}));
  std::string text = FormatExposition(ms, {});
  auto buckets = Buckets(text, "d_bytes");
  ASSERT_EQ(buckets.size(), 42u);
  for (const auto& b : buckets) EXPECT_EQ(b.count, 0u);
  EXPECT_THAT(text, HasSubstr("d_bytes_sum 0\nd_bytes_count 0\n"));
}

// The error bound the header promises: at each bound, at most the count of
// the one exponential bucket holding it (plus rounding).
TEST(PrometheusHistogramTest, BucketCountsWithinOneExponentialBucket) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> latency(std::log(20e6), 1.2);  // ns, median 20 ms
  for (int round = 0; round < 3; ++round) {
    ExpHistogram h;
    std::vector<double> values;
    for (int i = 0; i < 20000; ++i) {
      double v = std::floor(latency(rng));
      values.push_back(v);
      h.Record(v);
    }
    std::sort(values.begin(), values.end());
    std::vector<ExportMetric> ms;
    ms.push_back(Histogram("lat", "s", 1e-9, {{{}, &h}}));
    auto buckets = Buckets(FormatExposition(ms, {}), "lat_seconds");
    auto bounds = HistogramBounds("s");
    ASSERT_EQ(buckets.size(), bounds.size() + 1);
    double worst = 0;
    for (size_t i = 0; i < bounds.size(); ++i) {
      double raw = bounds[i] / 1e-9;
      auto exact =
          static_cast<double>(std::upper_bound(values.begin(), values.end(), raw) - values.begin());
      uint64_t straddling = h.BucketCount(ExpHistogram::MapToIndex(raw, h.scale()));
      double err = std::abs(static_cast<double>(buckets[i].count) - exact);
      EXPECT_LE(err, static_cast<double>(straddling) + 1) << "le=" << buckets[i].le;
      worst = std::max(worst, err / static_cast<double>(values.size()));
    }
    EXPECT_LT(worst, 0.01);  // ~1 % of the samples at most, at scale >= 6
    EXPECT_EQ(buckets.back().count, values.size());
  }
}

// ---------------------------------------------------------------------------
// OpenMetrics

metrics::Exemplar Ex(uint8_t id, int64_t duration_ns, int64_t total_ns, int64_t time_ns) {
  metrics::Exemplar e;
  e.trace_id.fill(id);
  e.span_id.fill(static_cast<uint8_t>(id + 1));
  e.duration_ns = duration_ns;
  e.total_ns = total_ns;
  e.time_unix_ns = time_ns;
  return e;
}

TEST(OpenMetricsTest, MetadataTotalsUnitsAndEof) {
  ExpHistogram h;
  h.Record(1e6);
  std::vector<ExportMetric> ms;
  ms.push_back(Number("stampede_data_sent", "By", InstrumentKind::kCounter, {{{}, 300}}));
  ms.push_back(Number("stampede_vus", "{vu}", InstrumentKind::kGauge, {{{}, 5}}));
  ms.push_back(Histogram("stampede_http_req_duration", "s", 1e-9, {{{}, &h}}));
  std::string om = FormatExposition(ms, Om());
  EXPECT_THAT(om, HasSubstr("# HELP stampede_data_sent_bytes A metric.\n"
                            "# TYPE stampede_data_sent_bytes counter\n"
                            "# UNIT stampede_data_sent_bytes bytes\n"
                            "stampede_data_sent_bytes_total 300\n"));
  EXPECT_THAT(om, HasSubstr("# TYPE stampede_vus gauge\nstampede_vus 5\n"));  // no UNIT
  EXPECT_THAT(om, HasSubstr("# TYPE stampede_http_req_duration_seconds histogram\n"
                            "# UNIT stampede_http_req_duration_seconds seconds\n"));
  EXPECT_TRUE(om.ends_with("stampede_http_req_duration_seconds_count 1\n# EOF\n")) << om;
}

TEST(OpenMetricsTest, MostRecentExemplarPerBucket) {
  ExpHistogram h;
  for (double v : {1e6, 1.1e6, 50e6, 51e6}) h.Record(v);
  std::vector<ExportMetric> ms;
  ms.push_back(Histogram("stampede_http_req_duration", "s", 1e-9, {{{A("name", "home")}, &h}},
                         ExemplarValue::kDuration));
  ms[0].points[0].exemplar_key = "home GET 200";
  ms.push_back(
      Histogram("http.client.request.duration", "s", 1e-9, {{{}, &h}}, ExemplarValue::kTotal));
  ms[1].points[0].exemplar_key = "home GET 200";
  ExemplarsByKey ex;
  ex["home GET 200"] = {
      Ex(0x11, 1'000'000, 50'000'000, 1'700'000'000'123'456'789),  // oldest
      Ex(0x22, 1'050'000, 51'000'000, 1'700'000'001'000'000'000),  // same bucket, newer: wins
      Ex(0x00, 50'000'000, 1'000'000, 1'700'000'002'000'000'000),  // zero trace id: skipped
      Ex(0x33, 50'000'000, 1'000'000, 1'700'000'003'000'000'000),
  };
  ex["other"] = {Ex(0x44, 2'000'000, 2'000'000, 1)};
  ExpositionOptions o = Om();
  o.exemplars = &ex;
  std::string om = FormatExposition(ms, o);

  auto k6 = Buckets(om, "stampede_http_req_duration_seconds");
  std::map<std::string, std::string> with;  // le → exemplar
  double prev = 0;
  for (const auto& b : k6) {
    if (!b.exemplar.empty()) {
      with[b.le] = b.exemplar;
      // The exemplar's value lies in (previous le, le].
      double value = std::stod(b.exemplar.substr(b.exemplar.find("} ") + 2));
      EXPECT_GT(value, prev);
      if (b.le != "+Inf") {
        EXPECT_LE(value, std::stod(b.le));
      }
    }
    if (b.le != "+Inf") prev = std::stod(b.le);
  }
  ASSERT_EQ(with.size(), 2u) << om;
  std::string ids22 = "{trace_id=\"" + std::string(32, '2') + "\",span_id=\"" +
                      std::string("23232323") + "23232323" + "\"}";
  std::string ids33 = "{trace_id=\"" + std::string(32, '3') + "\",span_id=\"" +
                      std::string("34343434") + "34343434" + "\"}";
  EXPECT_EQ(with["0.001161"], ids22 + " 0.00105 1700000001.000");
  EXPECT_EQ(with["0.05256"], ids33 + " 0.05 1700000003.000");
  // The exemplar label set stays within OpenMetrics' 128 characters.
  EXPECT_LE(ids22.size() - 2 - 4 * 2 - 1, 128u);

  // The semconv histogram carries total_ns: 0x22 (51 ms) and 0x33 (1 ms).
  auto sc = Buckets(om, "http_client_request_duration_seconds");
  std::vector<std::string> les;
  for (const auto& b : sc) {
    if (!b.exemplar.empty()) les.push_back(b.le + " " + b.exemplar.substr(0, 12));
  }
  EXPECT_THAT(les, ::testing::ElementsAre("0.001161 {trace_id=\"3", "0.05256 {trace_id=\"2"));

  // The text format never carries exemplars.
  o.format = ExpositionFormat::kPrometheusText;
  EXPECT_THAT(FormatExposition(ms, o), Not(HasSubstr("trace_id")));
}

TEST(OpenMetricsTest, Negotiation) {
  // Prometheus 2.42's scrape Accept header.
  EXPECT_EQ(NegotiateFormat("application/openmetrics-text;version=1.0.0,application/"
                            "openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,"
                            "*/*;q=0.1"),
            ExpositionFormat::kOpenMetrics);
  // Without exemplar storage / with an older Prometheus.
  EXPECT_EQ(NegotiateFormat("text/plain;version=0.0.4;q=1,*/*;q=0.1"),
            ExpositionFormat::kPrometheusText);
  EXPECT_EQ(NegotiateFormat(""), ExpositionFormat::kPrometheusText);
  EXPECT_EQ(NegotiateFormat("*/*"), ExpositionFormat::kPrometheusText);
  EXPECT_EQ(NegotiateFormat("Application/OpenMetrics-Text; Version=1.0.0"),
            ExpositionFormat::kOpenMetrics);
  EXPECT_EQ(NegotiateFormat("application/openmetrics-text;q=0"), ExpositionFormat::kPrometheusText);
  EXPECT_EQ(NegotiateFormat("text/plain, application/openmetrics-text;q=0.5"),
            ExpositionFormat::kPrometheusText);
  EXPECT_EQ(NegotiateFormat("text/plain;q=0.2, application/openmetrics-text;q=0.5"),
            ExpositionFormat::kOpenMetrics);
  EXPECT_EQ(NegotiateFormat("application/openmetrics-text;q=banana"),
            ExpositionFormat::kPrometheusText);
  EXPECT_EQ(NegotiateFormat(",,;;, application/openmetrics-text ,"),
            ExpositionFormat::kOpenMetrics);
  EXPECT_EQ(ContentType(ExpositionFormat::kPrometheusText),
            "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(ContentType(ExpositionFormat::kOpenMetrics),
            "application/openmetrics-text; version=1.0.0; charset=utf-8");
}

// ---------------------------------------------------------------------------
// The endpoint, against a real socket.

std::string HttpGet(uint16_t port, const std::string& request) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  std::string req = request;
  ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[65536];
  while (true) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) break;  // bounded
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

std::string Get(uint16_t port, const std::string& path, const std::string& accept = "",
                const std::string& method = "GET") {
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n";
  if (!accept.empty()) req += "Accept: " + accept + "\r\n";
  return HttpGet(port, req + "\r\n");
}

TEST(PrometheusEndpointTest, ServesTheLatestSnapshot) {
  metrics::LiveResults live(1'700'000'000'000'000'000);
  metrics::ExemplarReservoir reservoir;
  metrics::ExportOptions options;
  PrometheusEndpoint endpoint("127.0.0.1:0", options, live, &reservoir,
                              {{"run_id", "abc"}, {"service_name", "stampede"}});
  ASSERT_NE(endpoint.port(), 0);
  EXPECT_EQ(endpoint.address(), "127.0.0.1:" + std::to_string(endpoint.port()));

  // Before the first snapshot: the run info only, valid in both formats.
  std::string r = Get(endpoint.port(), "/metrics");
  EXPECT_THAT(r, HasSubstr("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(r, HasSubstr("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
  EXPECT_TRUE(r.ends_with("stampede_run_info{run_id=\"abc\",service_name=\"stampede\"} 1\n")) << r;
  r = Get(endpoint.port(), "/metrics", "application/openmetrics-text;version=1.0.0");
  EXPECT_THAT(
      r, HasSubstr("Content-Type: application/openmetrics-text; version=1.0.0; charset=utf-8\r\n"));
  EXPECT_TRUE(r.ends_with("# EOF\n")) << r;

  metrics::Registry registry = metrics::Registry::WithBuiltins();
  metrics::Shard shard(registry);
  metrics::TagSetId t = shard.Intern({{"name", "home"}, {"method", "GET"}, {"status", "200"}});
  for (int i = 0; i < 10; ++i) {
    shard.Add(metrics::builtin::kHttpReqs, t, 1);
    shard.Add(metrics::builtin::kHttpReqDuration, t, 2e6 + i * 1e5);
  }
  shard.Add(metrics::builtin::kVus, metrics::Shard::kNoTags, 3);
  const metrics::Shard* shards[] = {&shard};
  live.Publish(std::make_shared<metrics::Snapshot>(metrics::Snapshot::Merge(registry, shards)),
               1'700'000'001'000'000'000);
  metrics::Exemplar e = Ex(0xab, 2'100'000, 2'500'000, 1'700'000'000'500'000'000);
  reservoir.Offer(metrics::ExemplarKey("home", "GET", "200"), e);

  r = Get(endpoint.port(), "/metrics");
  EXPECT_THAT(
      r, HasSubstr("stampede_http_reqs_total{method=\"GET\",name=\"home\",status=\"200\"} 10\n"));
  EXPECT_THAT(r, HasSubstr("stampede_vus 3\n"));
  EXPECT_THAT(r, HasSubstr("stampede_http_req_duration_seconds_count{method=\"GET\",name=\"home\","
                           "status=\"200\"} 10\n"));
  EXPECT_THAT(r, Not(HasSubstr("trace_id")));
  r = Get(endpoint.port(), "/metrics",
          "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5");
  EXPECT_THAT(r, HasSubstr("# TYPE stampede_http_reqs counter\n"));
  EXPECT_THAT(r, HasSubstr("# {trace_id=\"abababababababababababababababab\","
                           "span_id=\"acacacacacacacac\"} 0.0021 1700000000.500\n"));
  EXPECT_EQ(endpoint.scrapes(), 4u);

  // Elsewhere: 404; other methods: 405 with Allow; HEAD: no body.
  EXPECT_THAT(Get(endpoint.port(), "/"), HasSubstr("HTTP/1.1 404 Not Found\r\n"));
  r = Get(endpoint.port(), "/metrics", "", "POST");
  EXPECT_THAT(r, HasSubstr("HTTP/1.1 405 Method Not Allowed\r\n"));
  EXPECT_THAT(r, HasSubstr("Allow: GET, HEAD\r\n"));
  r = Get(endpoint.port(), "/metrics", "", "HEAD");
  EXPECT_THAT(r, HasSubstr("HTTP/1.1 200 OK\r\n"));
  EXPECT_TRUE(r.ends_with("\r\n\r\n")) << r;

  endpoint.Stop();
  endpoint.Stop();
}

TEST(PrometheusEndpointTest, BindErrorNamesTheFlag) {
  metrics::LiveResults live(0);
  PrometheusEndpoint first("127.0.0.1:0", {}, live, nullptr);
  std::string address = "127.0.0.1:" + std::to_string(first.port());
  try {
    PrometheusEndpoint second(address, {}, live, nullptr);
    FAIL() << "bound twice";
  } catch (const core::ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "--prometheus " + address +
                                         ": address already in use; choose another port (or "
                                         "port 0 for a free one)");
  }
  EXPECT_THROW(PrometheusEndpoint("nonsense", {}, live, nullptr), core::ConfigError);
}

}  // namespace
}  // namespace stampede::report
