#include "report/summary_model.h"

#include <algorithm>
#include <charconv>
#include <map>

#include "core/error.h"

namespace stampede::report::internal {
namespace {

using metrics::MetricDef;
using metrics::MetricSelector;

struct SubMetric {
  std::string key;
  MetricSelector selector;
  std::vector<std::pair<std::string, bool>> thresholds;
};

}  // namespace

std::vector<SummaryEntry> CollectEntries(const metrics::Snapshot& snapshot,
                                         const metrics::Registry& registry,
                                         const SummaryOptions& options) {
  // Thresholds by parent metric name: the metric's own, and its sub-metrics.
  std::map<std::string, std::vector<std::pair<std::string, bool>>, std::less<>> own;
  std::map<std::string, std::vector<SubMetric>, std::less<>> subs;
  for (const ThresholdSummary& t : options.thresholds) {
    MetricSelector selector;
    try {
      selector = metrics::ParseMetricSelector(t.metric);
    } catch (const core::ConfigError&) {
      continue;  // the thresholds module reports bad names; the summary just skips them
    }
    if (selector.filter.empty()) {
      auto& list = own[selector.metric];
      list.insert(list.end(), t.results.begin(), t.results.end());
      continue;
    }
    auto& list = subs[selector.metric];
    auto it = std::find_if(list.begin(), list.end(), [&](const SubMetric& s) {
      return s.selector.filter == selector.filter;
    });
    if (it == list.end()) {
      list.push_back(SubMetric{t.metric, std::move(selector), {}});
      it = list.end() - 1;
    }
    it->thresholds.insert(it->thresholds.end(), t.results.begin(), t.results.end());
  }

  // k6 always shows the duration of the requests its response callback
  // expected, `http_req_duration{expected_response:true}`, below
  // http_req_duration (grafana/k6: the engine adds that sub-metric itself,
  // and the summary shows it once it has samples).
  constexpr std::string_view kExpected = "http_req_duration{expected_response:true}";
  MetricSelector selector = metrics::ParseMetricSelector(kExpected);
  if (const auto dur = snapshot.FindMetric(selector.metric);
      dur && !snapshot.Aggregate(*dur, std::span(selector.filter)).empty()) {
    auto& list = subs[selector.metric];
    const bool named = std::any_of(list.begin(), list.end(), [&](const SubMetric& s) {
      return s.selector.filter == selector.filter;
    });
    if (!named) list.push_back(SubMetric{std::string(kExpected), std::move(selector), {}});
  }

  // All metric names known to the snapshot or the registry, sorted.
  std::map<std::string, MetricDef, std::less<>> defs;
  for (const MetricDef& def : registry.defs()) defs.emplace(def.name, def);
  for (const MetricDef& def : snapshot.metrics()) defs.insert_or_assign(def.name, def);

  std::vector<SummaryEntry> entries;
  for (const auto& [name, def] : defs) {
    if (def.internal) continue;  // recorded for an output (OTel semconv), not a k6 metric
    const std::optional<metrics::MetricId> id = snapshot.FindMetric(name);
    SummaryEntry entry;
    entry.key = name;
    entry.display = name;
    entry.def = def;
    if (id) entry.value = snapshot.Aggregate(*id);
    entry.value.type = def.type;
    entry.value.value_type = def.value_type;
    const auto own_it = own.find(name);
    if (own_it != own.end()) entry.thresholds = own_it->second;

    std::vector<SummaryEntry> children;
    if (auto it = subs.find(name); it != subs.end()) {
      for (const SubMetric& sub : it->second) {
        SummaryEntry child;
        child.key = sub.key;
        child.display = "{ " + sub.selector.suffix + " }";
        child.sub_metric = true;
        child.def = def;
        if (id) child.value = snapshot.Aggregate(*id, std::span(sub.selector.filter));
        child.value.type = def.type;
        child.value.value_type = def.value_type;
        child.thresholds = sub.thresholds;
        children.push_back(std::move(child));
      }
    }
    // Named by a threshold (even with an empty list), or parent of a named
    // sub-metric: shown even without samples, as k6 does.
    const bool named = own_it != own.end() || !children.empty();
    if (entry.value.empty() && !named) continue;
    std::sort(children.begin(), children.end(),
              [](const SummaryEntry& a, const SummaryEntry& b) { return a.display < b.display; });
    entries.push_back(std::move(entry));
    for (SummaryEntry& child : children) entries.push_back(std::move(child));
  }
  return entries;
}

std::vector<TrendStat> ParseTrendStats(const std::vector<std::string>& stats) {
  std::vector<TrendStat> out;
  for (const std::string& s : stats) {
    TrendStat stat;
    stat.name = s;
    if (s == "avg") {
      stat.kind = TrendStat::kAvg;
    } else if (s == "min") {
      stat.kind = TrendStat::kMin;
    } else if (s == "med") {
      stat.kind = TrendStat::kMed;
    } else if (s == "max") {
      stat.kind = TrendStat::kMax;
    } else if (s == "count") {
      stat.kind = TrendStat::kCount;
    } else {
      double pct = -1;
      const bool shaped = s.size() > 3 && s.compare(0, 2, "p(") == 0 && s.back() == ')';
      if (shaped) {
        const char* first = s.data() + 2;
        const char* last = s.data() + s.size() - 1;
        auto [ptr, ec] = std::from_chars(first, last, pct);
        if (ec != std::errc() || ptr != last) pct = -1;
      }
      if (!(pct >= 0 && pct <= 100)) {
        throw core::ConfigError("invalid summary trend stat \"" + s +
                                "\": use avg, min, med, max, count or p(N) with 0 <= N <= 100");
      }
      stat.kind = TrendStat::kPercentile;
      stat.quantile = pct / 100;
    }
    out.push_back(std::move(stat));
  }
  return out;
}

double TrendStatValue(const TrendStat& stat, const metrics::ExpHistogram& h) {
  switch (stat.kind) {
    case TrendStat::kAvg:
      return h.Mean();
    case TrendStat::kMin:
      return h.min();
    case TrendStat::kMed:
      return h.Quantile(0.5);
    case TrendStat::kMax:
      return h.max();
    case TrendStat::kCount:
      return static_cast<double>(h.count());
    case TrendStat::kPercentile:
      return h.Quantile(stat.quantile);
  }
  return 0;
}

}  // namespace stampede::report::internal
