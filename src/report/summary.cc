#include "report/summary.h"

#include <algorithm>

#include "report/format.h"
#include "report/summary_model.h"

namespace stampede::report {
namespace {

using metrics::MetricType;
using metrics::SeriesValue;
using metrics::ValueType;

constexpr std::string_view kIndent = "   ";
constexpr std::string_view kPassMark = "✓";
constexpr std::string_view kFailMark = "✗";
constexpr size_t kMinDots = 3;  // k6 leaves at least three dots after the longest name

struct Line {
  std::string mark;  // "✓ ", "✗ " or two spaces
  std::string name;  // sub-metrics carry a two-space indent
  bool trend = false;
  std::vector<std::string> columns;
};

std::string Mark(const internal::SummaryEntry& e) {
  if (e.thresholds.empty()) return "  ";
  const bool passed =
      std::all_of(e.thresholds.begin(), e.thresholds.end(), [](const auto& t) { return t.second; });
  return std::string(passed ? kPassMark : kFailMark) + " ";
}

std::vector<std::string> Columns(const SeriesValue& v, int64_t elapsed_ns,
                                 const std::vector<internal::TrendStat>& stats) {
  std::vector<std::string> cols;
  switch (v.type) {
    case MetricType::kCounter: {
      const double per_second = v.PerSecond(elapsed_ns);
      if (v.value_type == ValueType::kData) {
        cols.push_back(FormatBytes(v.count));
        cols.push_back(FormatBytes(per_second) + "/s");
      } else {
        cols.push_back(FormatValue(v.count, v.value_type));
        cols.push_back(FormatNumber(per_second) + "/s");
      }
      break;
    }
    case MetricType::kGauge:
      cols.push_back(FormatValue(v.value, v.value_type));
      cols.push_back("min=" + FormatValue(v.min, v.value_type));
      cols.push_back("max=" + FormatValue(v.max, v.value_type));
      break;
    case MetricType::kRate:
      // k6 prints ✓ for the values that were true (for http_req_failed: the
      // failed requests) and ✗ for the false ones.
      cols.push_back(FormatPercent(v.passes, v.passes + v.fails));
      cols.push_back(std::string(kPassMark) + " " + std::to_string(v.passes));
      cols.push_back(std::string(kFailMark) + " " + std::to_string(v.fails));
      break;
    case MetricType::kTrend: {
      const metrics::ExpHistogram empty;
      const metrics::ExpHistogram& h = v.trend ? *v.trend : empty;
      for (const internal::TrendStat& stat : stats) {
        const double x = internal::TrendStatValue(stat, h);
        const std::string text = stat.kind == internal::TrendStat::kCount
                                     ? FormatNumber(x)
                                     : FormatValue(x, v.value_type);
        cols.push_back(stat.name + "=" + text);
      }
      break;
    }
  }
  return cols;
}

void PadTo(std::string& s, size_t width) {
  const size_t w = DisplayWidth(s);
  if (w < width) s.append(width - w, ' ');
}

}  // namespace

SummaryOptions WithThresholds(SummaryOptions options, const metrics::ThresholdSet& thresholds) {
  options.thresholds.clear();
  for (const metrics::MetricThresholdResults& m : thresholds.Results()) {
    ThresholdSummary summary;
    summary.metric = m.metric;
    for (const metrics::ThresholdResult& r : m.thresholds)
      summary.results.emplace_back(r.source, r.passed);
    options.thresholds.push_back(std::move(summary));
  }
  return options;
}

std::string FormatSummary(const metrics::Snapshot& snapshot, const metrics::Registry& registry,
                          const SummaryOptions& options) {
  const std::vector<internal::TrendStat> stats = internal::ParseTrendStats(options.trend_stats);
  const std::vector<internal::SummaryEntry> entries =
      internal::CollectEntries(snapshot, registry, options);

  std::vector<Line> lines;
  for (const internal::SummaryEntry& e : entries) {
    Line line;
    line.mark = Mark(e);
    line.name = e.sub_metric ? "  " + e.display : e.display;
    line.trend = e.def.type == MetricType::kTrend;
    line.columns = Columns(e.value, snapshot.elapsed_ns(), stats);
    lines.push_back(std::move(line));
  }

  // Column widths: names over all lines; values per column index, separately
  // for trends (one column per stat) and for the other types.
  size_t name_width = 0;
  std::vector<size_t> trend_widths, other_widths;
  for (const Line& line : lines) {
    name_width = std::max(name_width, DisplayWidth(line.name));
    std::vector<size_t>& widths = line.trend ? trend_widths : other_widths;
    if (widths.size() < line.columns.size()) widths.resize(line.columns.size(), 0);
    for (size_t i = 0; i < line.columns.size(); ++i) {
      widths[i] = std::max(widths[i], DisplayWidth(line.columns[i]));
    }
  }
  name_width += kMinDots;

  std::string out;
  for (const Line& line : lines) {
    out += kIndent;
    out += line.mark;
    out += line.name;
    out.append(name_width - DisplayWidth(line.name), '.');
    out += ':';
    const std::vector<size_t>& widths = line.trend ? trend_widths : other_widths;
    for (size_t i = 0; i < line.columns.size(); ++i) {
      out += ' ';
      std::string col = line.columns[i];
      if (i + 1 < line.columns.size()) PadTo(col, widths[i]);
      out += col;
    }
    out += '\n';
  }
  return out;
}

}  // namespace stampede::report
