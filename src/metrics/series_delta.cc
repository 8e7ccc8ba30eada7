#include "metrics/series_delta.h"

#include <algorithm>

namespace stampede::metrics {
namespace {

uint64_t Sub(uint64_t a, uint64_t b) { return a >= b ? a - b : a; }

}  // namespace

void SeriesDelta::Merge(const SeriesDelta& o) {
  samples += o.samples;
  count += o.count;
  if (o.has_value) {
    value = has_value ? std::max(value, o.value) : o.value;
    has_value = true;
  }
  passes += o.passes;
  fails += o.fails;
  if (o.hist && o.hist->count() > 0) {
    if (hist) {
      hist->Merge(*o.hist);
    } else {
      hist = o.hist;
    }
  }
}

SeriesDelta DeltaOf(MetricType type, const SeriesValue& v, const SeriesValue* p,
                    bool* not_cumulative) {
  SeriesDelta d;
  d.type = type;
  if (p != nullptr && v.samples < p->samples) p = nullptr;  // not cumulative: start over
  d.samples = p ? v.samples - p->samples : v.samples;
  switch (type) {
    case MetricType::kCounter:
      d.count = p ? v.count - p->count : v.count;
      break;
    case MetricType::kGauge:
      d.value = v.value;
      d.has_value = true;
      break;
    case MetricType::kRate:
      d.passes = p ? Sub(v.passes, p->passes) : v.passes;
      d.fails = p ? Sub(v.fails, p->fails) : v.fails;
      break;
    case MetricType::kTrend:
      if (v.trend) {
        if (p && p->trend) {
          d.hist = ExpHistogram::Difference(*v.trend, *p->trend);
          if (!d.hist) {
            if (not_cumulative != nullptr) *not_cumulative = true;
            d.hist = *v.trend;
          }
        } else {
          d.hist = *v.trend;
        }
        d.samples = d.hist->count();
      }
      break;
  }
  return d;
}

std::string SeriesKey(std::string_view metric, std::span<const TagPair> tags) {
  std::string key(metric);
  for (const auto& t : tags) {
    key += '\x1f';
    key += t.key;
    key += '\x1e';
    key += t.value;
  }
  return key;
}

SeriesIndex IndexSeries(const Snapshot& s) {
  SeriesIndex index;
  index.reserve(s.series().size());
  for (const Snapshot::Series& x : s.series()) {
    index.emplace(SeriesKey(s.metrics()[x.metric].name, s.tags(x.tag_set)), &x.value);
  }
  return index;
}

}  // namespace stampede::metrics
