#include "report/compare.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "store/run_store.h"
#include "store/store_test_util.h"

namespace stampede::report {
namespace {

using namespace stampede::store::testing;
using ::testing::HasSubstr;

// A stored run of 2 seconds; `requests(run, second)` records them.
template <typename F>
std::string StoredRun(const TempDir& dir, const std::string& name, F requests) {
  const std::string path = dir.Path(name);
  store::RunInfo info;
  info.run_id = name;
  info.start_unix_ns = kStartNs;
  store::RunStore s({.path = path}, info);
  FakeRun run;
  requests(run, 0);
  s.AddSnapshot(run.Snap(), kStartNs + kSecNs);
  requests(run, 1);
  s.Finish({.final_snapshot = run.Snap().get(), .end_unix_ns = kStartNs + 2 * kSecNs});
  return path;
}

class CompareTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = StoredRun(dir_, "a.db", [](FakeRun& r, int) {
      for (int i = 1; i <= 100; ++i) r.Request("/a", i, 200);      // 1..100 ms
      for (int i = 1; i <= 50; ++i) r.Request("/b", 10 * i, 200);  // 10..500 ms
      r.Request("/gone", 5, 200);
    });
    b_ = StoredRun(dir_, "b.db", [](FakeRun& r, int) {
      for (int i = 1; i <= 100; ++i) r.Request("/a", i, i <= 2 ? 500 : 200);  // 2 % errors
      for (int i = 1; i <= 50; ++i) r.Request("/b", 20 * i, 200);             // twice as slow
      r.Request("/<new>", 5, 200);
    });
  }
  TempDir dir_;
  std::string a_, b_;
};

TEST_F(CompareTest, RowsVerdictsAndExactFigures) {
  store::RunReader a(a_), b(b_);
  auto rows = CompareRuns(a, b);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].name, "/<new>");
  EXPECT_EQ(rows[0].verdict, "added");
  EXPECT_FALSE(rows[0].a.has_value());
  EXPECT_EQ(rows[1].name, "/a");
  EXPECT_EQ(rows[1].verdict, "worse");  // latency same, errors 0 % → 2 %
  EXPECT_EQ(rows[1].a->requests, 200u);
  EXPECT_EQ(rows[1].b->failed, 4u);
  EXPECT_DOUBLE_EQ(rows[1].b->error_rate, 0.02);
  EXPECT_NEAR(rows[1].a->p95, rows[1].b->p95, 1e-9);
  EXPECT_NEAR(rows[1].a->p95, 95.05, 95.05 * 0.006);
  EXPECT_EQ(rows[2].name, "/b");
  EXPECT_EQ(rows[2].verdict, "worse");
  EXPECT_NEAR(rows[2].b->p95 / rows[2].a->p95, 2.0, 0.02);
  EXPECT_NEAR(rows[2].a->Percentile(50), rows[2].a->med, 1e-9);
  EXPECT_EQ(rows[3].name, "/gone");
  EXPECT_EQ(rows[3].verdict, "removed");

  // The reverse comparison: /b is better, /a is better (fewer errors).
  auto back = CompareRuns(b, a);
  EXPECT_EQ(back[1].verdict, "better");
  EXPECT_EQ(back[2].verdict, "better");
  // A run against itself: all the same.
  for (const CompareRow& r : CompareRuns(a, a)) EXPECT_EQ(r.verdict, "same") << r.name;
}

TEST_F(CompareTest, FailOnBounds) {
  store::RunReader a(a_), b(b_);
  auto rows = CompareRuns(a, b);
  auto check = [&](std::vector<std::string> texts) {
    std::vector<FailBound> bounds;
    for (const auto& t : texts) bounds.push_back(ParseFailBound(t));
    return CheckBounds(rows, bounds);
  };
  auto v = check({"p(95)+10%"});
  ASSERT_EQ(v.size(), 1u);
  EXPECT_THAT(v[0], HasSubstr("/b: p(95) "));
  EXPECT_THAT(v[0], HasSubstr("beyond p(95)+10%"));
  EXPECT_TRUE(check({"p(95)+150%"}).empty());
  EXPECT_EQ(check({"p(99)+50ms"}).size(), 1u);
  EXPECT_TRUE(check({"p(99)+1s"}).empty());
  EXPECT_EQ(check({"avg+5%"}).size(), 1u);
  EXPECT_EQ(check({"med+5"}).size(), 1u);  // bare number: ms
  v = check({"error_rate+0.01"});
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0], "/a: error_rate 2.00% vs 0.00% (+2.00pp), beyond error_rate+0.01");
  EXPECT_TRUE(check({"error_rate+0.05"}).empty());
  EXPECT_EQ(check({"p(95)+10%", "error_rate+0.01", "max+1%"}).size(), 3u);
}

TEST(FailBoundTest, ParsesAcceptedFormsAndRejectsOthersInOneLine) {
  FailBound b = ParseFailBound("p(99.9) + 50ms");
  EXPECT_EQ(b.stat, FailBound::Stat::kPercentile);
  EXPECT_DOUBLE_EQ(b.percentile, 99.9);
  EXPECT_FALSE(b.relative);
  EXPECT_DOUBLE_EQ(b.amount, 50);
  b = ParseFailBound("avg+5%");
  EXPECT_EQ(b.stat, FailBound::Stat::kAvg);
  EXPECT_TRUE(b.relative);
  EXPECT_DOUBLE_EQ(b.amount, 5);
  b = ParseFailBound("error_rate+0.01");
  EXPECT_EQ(b.stat, FailBound::Stat::kErrorRate);
  EXPECT_DOUBLE_EQ(b.amount, 0.01);
  EXPECT_DOUBLE_EQ(ParseFailBound("max+1.5s").amount, 1500);
  for (const char* bad : {"p(95)+banana", "p(95)", "p(101)+1%", "q(95)+1%", "error_rate+5%",
                          "p(95)+", "avg+-5%", "p(x)+1%"}) {
    try {
      ParseFailBound(bad);
      ADD_FAILURE() << bad;
    } catch (const core::ConfigError& e) {
      const std::string m = e.what();
      EXPECT_THAT(m, HasSubstr(std::string("invalid --fail-on \"") + bad + "\"")) << m;
      EXPECT_THAT(m, HasSubstr("p(95)+10%, p(99)+50ms, avg+5%, error_rate+0.01"));
      EXPECT_EQ(m.find('\n'), std::string::npos);
    }
  }
}

TEST_F(CompareTest, TextAndEscapedHtml) {
  store::RunReader a(a_), b(b_);
  auto rows = CompareRuns(a, b);
  const std::string text = FormatCompareText(rows, "a.db", "b.db");
  EXPECT_THAT(text, HasSubstr("A: a.db\nB: b.db\n"));
  EXPECT_THAT(text, HasSubstr("VERDICT"));
  EXPECT_THAT(text, HasSubstr("removed"));
  EXPECT_THAT(text, HasSubstr("+2.00pp"));
  const std::string html = FormatCompareHtml(rows, "<a>.db", "b.db", {"/<new>: x"});
  EXPECT_THAT(html, HasSubstr("&lt;a&gt;.db"));
  EXPECT_THAT(html, HasSubstr("<td>/&lt;new&gt;</td>"));
  EXPECT_THAT(html, HasSubstr("<li>/&lt;new&gt;: x</li>"));
  EXPECT_EQ(html.find("<new>"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(HtmlEscape("a&b\"'"), "a&amp;b&quot;&#39;");
}

}  // namespace
}  // namespace stampede::report
