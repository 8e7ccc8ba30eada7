#include "metrics/export_model.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "metrics/exemplars.h"

namespace stampede::metrics {
namespace {

class ExportModelTest : public ::testing::Test {
 protected:
  ExportModelTest() : registry_(Registry::WithBuiltins()) {
    request_duration_ =
        registry_.DefineInternal(kHttpClientRequestDuration, MetricType::kTrend, ValueType::kTime);
    open_ = registry_.DefineInternal(kHttpClientOpenConnections, MetricType::kCounter,
                                     ValueType::kDefault);
    shard_ = std::make_unique<Shard>(registry_);
  }

  Snapshot Take() {
    const Shard* shards[] = {shard_.get()};
    return Snapshot::Merge(registry_, shards);
  }

  static const ExportMetric* Find(const std::vector<ExportMetric>& ms, std::string_view name) {
    for (const ExportMetric& m : ms) {
      if (m.name == name) return &m;
    }
    return nullptr;
  }
  static std::string Attr(const ExportPoint& p, std::string_view key) {
    for (const ExportAttribute& a : p.attributes) {
      if (a.key == key) return a.value;
    }
    return "<none>";
  }

  Registry registry_;
  MetricId request_duration_;
  MetricId open_;
  std::unique_ptr<Shard> shard_;
};

TEST_F(ExportModelTest, K6FamilyNamesUnitsKindsAndAttributes) {
  TagSetId t = shard_->Intern({{"name", "/api"},
                               {"method", "GET"},
                               {"status", "200"},
                               {"scenario", "default"},
                               {"url", "http://x/api?id=1"},
                               {"expected_response", "true"}});
  shard_->Add(builtin::kHttpReqs, t, 1);
  shard_->Add(builtin::kHttpReqs, t, 1);
  shard_->Add(builtin::kHttpReqDuration, t, 20e6);
  shard_->Add(builtin::kHttpReqFailed, t, 0);
  shard_->Add(builtin::kHttpReqFailed, t, 1);
  shard_->Add(builtin::kDataSent, t, 300);
  shard_->Add(builtin::kVus, Shard::kNoTags, 7);
  Snapshot snap = Take();
  ExportModel model(ExportOptions{});
  std::vector<ExportMetric> ms = model.Build(snap);

  const ExportMetric* reqs = Find(ms, "stampede_http_reqs");
  ASSERT_NE(reqs, nullptr);
  EXPECT_EQ(reqs->kind, InstrumentKind::kCounter);
  EXPECT_EQ(reqs->unit, "{request}");
  ASSERT_EQ(reqs->points.size(), 1u);
  EXPECT_EQ(reqs->points[0].number, 2);
  EXPECT_EQ(Attr(reqs->points[0], "stampede.scenario"), "default");
  EXPECT_EQ(Attr(reqs->points[0], "scenario"), "<none>");
  EXPECT_EQ(Attr(reqs->points[0], "url"), "<none>");  // never the full URL
  EXPECT_EQ(Attr(reqs->points[0], "name"), "/api");
  EXPECT_TRUE(std::is_sorted(
      reqs->points[0].attributes.begin(), reqs->points[0].attributes.end(),
      [](const ExportAttribute& a, const ExportAttribute& b) { return a.key < b.key; }));

  const ExportMetric* dur = Find(ms, "stampede_http_req_duration");
  ASSERT_NE(dur, nullptr);
  EXPECT_EQ(dur->kind, InstrumentKind::kHistogram);
  EXPECT_EQ(dur->unit, "s");
  EXPECT_DOUBLE_EQ(dur->unit_scale, 1e-9);
  EXPECT_EQ(dur->exemplars, ExemplarValue::kDuration);
  ASSERT_EQ(dur->points.size(), 1u);
  ASSERT_NE(dur->points[0].histogram, nullptr);
  EXPECT_EQ(dur->points[0].histogram->count(), 1u);
  EXPECT_EQ(dur->points[0].exemplar_key, ExemplarKey("/api", "GET", "200"));

  const ExportMetric* failed = Find(ms, "stampede_http_req_failed");
  ASSERT_NE(failed, nullptr);
  ASSERT_EQ(failed->points.size(), 2u);  // condition=nonzero and zero, as k6's OTel output
  for (const ExportPoint& p : failed->points) {
    EXPECT_EQ(p.number, 1);
    EXPECT_TRUE(Attr(p, "condition") == "zero" || Attr(p, "condition") == "nonzero");
  }
  const ExportMetric* sent = Find(ms, "stampede_data_sent");
  ASSERT_NE(sent, nullptr);
  EXPECT_EQ(sent->unit, "By");
  const ExportMetric* vus = Find(ms, "stampede_vus");
  ASSERT_NE(vus, nullptr);
  EXPECT_EQ(vus->kind, InstrumentKind::kGauge);
  EXPECT_EQ(vus->points[0].number, 7);
  // Internal metrics are not in the k6 family.
  EXPECT_EQ(Find(ms, "stampede_http_client_request_duration"), nullptr);
}

TEST_F(ExportModelTest, SemconvFamilyMapsTagsToConventions) {
  TagSetId ok = shard_->Intern({{"name", "/api"},
                                {"method", "POST"},
                                {"status", "503"},
                                {"scenario", "s1"},
                                {"expected_response", "false"},
                                {"server.address", "localhost"},
                                {"server.port", "8080"}});
  TagSetId err = shard_->Intern({{"name", "/api"},
                                 {"method", "POST"},
                                 {"status", "0"},
                                 {"error_code", "refused"},
                                 {"server.address", "localhost"},
                                 {"server.port", "8080"}});
  shard_->Add(request_duration_, ok, 5e6);
  shard_->Add(request_duration_, err, 1e6);
  TagSetId conn = shard_->Intern({{"server.address", "localhost"},
                                  {"server.port", "8080"},
                                  {"http.connection.state", "idle"}});
  shard_->Add(open_, conn, 3);
  shard_->Add(open_, conn, -1);
  Snapshot snap = Take();
  ExportOptions o;
  o.k6 = false;
  ExportModel model(o);
  std::vector<ExportMetric> ms = model.Build(snap);
  EXPECT_EQ(Find(ms, "stampede_http_reqs"), nullptr);
  const ExportMetric* d = Find(ms, "http.client.request.duration");
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(d->semconv);
  EXPECT_EQ(d->unit, "s");
  EXPECT_EQ(d->exemplars, ExemplarValue::kTotal);
  ASSERT_EQ(d->points.size(), 2u);
  for (const ExportPoint& p : d->points) {
    EXPECT_EQ(Attr(p, "http.request.method"), "POST");
    EXPECT_EQ(Attr(p, "url.template"), "/api");
    EXPECT_EQ(Attr(p, "server.address"), "localhost");
    EXPECT_EQ(Attr(p, "expected_response"), "<none>");
    auto port = std::find_if(p.attributes.begin(), p.attributes.end(),
                             [](const ExportAttribute& a) { return a.key == "server.port"; });
    ASSERT_NE(port, p.attributes.end());
    EXPECT_TRUE(port->is_int);
    EXPECT_EQ(port->int_value, 8080);
    if (Attr(p, "error.type") == "refused") {
      EXPECT_EQ(Attr(p, "http.response.status_code"), "<none>");  // no status received
    } else {
      EXPECT_EQ(Attr(p, "error.type"), "503");  // a 5xx is an error.type of its own
      EXPECT_EQ(Attr(p, "http.response.status_code"), "503");
    }
  }
  const ExportMetric* open = Find(ms, "http.client.open_connections");
  ASSERT_NE(open, nullptr);
  EXPECT_EQ(open->kind, InstrumentKind::kUpDownCounter);
  ASSERT_EQ(open->points.size(), 1u);
  EXPECT_EQ(open->points[0].number, 2);
  EXPECT_EQ(Attr(open->points[0], "http.connection.state"), "idle");
}

TEST_F(ExportModelTest, CardinalityLimitMergesIntoOneOverflowPointAndStaysStable) {
  for (int i = 0; i < 10; ++i) {
    std::string name = "/item/" + std::to_string(i);
    TagSetId t = shard_->Intern({{"name", name}, {"method", "GET"}, {"status", "200"}});
    shard_->Add(builtin::kHttpReqs, t, 1);
    shard_->Add(builtin::kHttpReqDuration, t, (i + 1) * 1e6);
  }
  ExportOptions o;
  o.semconv = false;
  o.cardinality_limit = 4;
  ExportModel model(o);
  Snapshot snap = Take();
  std::vector<ExportMetric> ms = model.Build(snap);
  const ExportMetric* reqs = Find(ms, "stampede_http_reqs");
  ASSERT_NE(reqs, nullptr);
  ASSERT_EQ(reqs->points.size(), 4u);  // 3 series + the overflow point
  double total = 0;
  int overflow = 0;
  for (const ExportPoint& p : reqs->points) {
    total += p.number;
    if (p.overflow) {
      ++overflow;
      EXPECT_EQ(p.number, 7);
      ASSERT_EQ(p.attributes.size(), 1u);
      EXPECT_EQ(p.attributes[0].key, "otel.metric.overflow");
    }
  }
  EXPECT_EQ(overflow, 1);
  EXPECT_EQ(total, 10);  // nothing lost
  const ExportMetric* dur = Find(ms, "stampede_http_req_duration");
  ASSERT_NE(dur, nullptr);
  uint64_t count = 0;
  for (const ExportPoint& p : dur->points) count += p.histogram->count();
  EXPECT_EQ(count, 10u);
  std::vector<std::string> overflowed = model.newly_overflowed();
  std::sort(overflowed.begin(), overflowed.end());
  EXPECT_EQ(overflowed,
            (std::vector<std::string>{"stampede_http_req_duration", "stampede_http_reqs"}));

  // A second build: the same series keep their own points, and the overflow
  // is not reported again.
  TagSetId t0 = shard_->Intern({{"name", "/item/0"}, {"method", "GET"}, {"status", "200"}});
  shard_->Add(builtin::kHttpReqs, t0, 1);
  Snapshot snap2 = Take();
  std::vector<ExportMetric> ms2 = model.Build(snap2);
  EXPECT_TRUE(model.newly_overflowed().empty());
  const ExportMetric* reqs2 = Find(ms2, "stampede_http_reqs");
  ASSERT_NE(reqs2, nullptr);
  for (size_t i = 0; i < reqs->points.size(); ++i) {
    EXPECT_EQ(reqs->points[i].attributes, reqs2->points[i].attributes);
  }
}

TEST(ExemplarReservoirTest, KeepsTheSlowestAndASampleAndHandsOverPerInterval) {
  ExemplarReservoir r(/*per_interval=*/3, /*recent=*/4);
  const std::string key = ExemplarKey("/api", "GET", "200");
  for (int i = 1; i <= 100; ++i) {
    Exemplar e;
    e.trace_id[0] = static_cast<uint8_t>(i);
    e.total_ns = i == 37 ? 1'000'000'000 : i * 1000;
    r.Offer(key, e);
  }
  EXPECT_EQ(r.offered(), 100u);
  auto recent = r.Recent();
  ASSERT_EQ(recent[key].size(), 4u);
  EXPECT_EQ(recent[key].back().trace_id[0], 100);  // newest last
  EXPECT_EQ(recent[key].front().trace_id[0], 97);
  auto interval = r.TakeInterval();
  ASSERT_EQ(interval[key].size(), 3u);
  EXPECT_EQ(interval[key][0].trace_id[0], 37);  // the slowest first
  EXPECT_TRUE(r.TakeInterval().empty());       // a new interval
  EXPECT_EQ(r.Recent()[key].size(), 4u);       // recent ones stay
}

TEST(ExemplarReservoirTest, BoundsTheNumberOfKeys) {
  ExemplarReservoir r(2, 2, /*max_keys=*/5);
  for (int i = 0; i < 50; ++i) r.Offer(ExemplarKey(std::to_string(i), "GET", "200"), Exemplar{});
  EXPECT_EQ(r.TakeInterval().size(), 5u);
  EXPECT_EQ(r.Recent().size(), 5u);
}

}  // namespace
}  // namespace stampede::metrics
