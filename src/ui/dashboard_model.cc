#include "ui/dashboard_model.h"

#include <algorithm>
#include <map>
#include <string_view>
#include <tuple>
#include <utility>

#include "metrics/series_delta.h"

namespace stampede::ui {
namespace {

using metrics::MetricType;
using metrics::SeriesDelta;
using metrics::SeriesValue;
using metrics::Snapshot;

constexpr double kNsPerMs = 1e6;

std::string_view TagValue(const Snapshot& s, metrics::TagSetId id, std::string_view key) {
  for (const auto& t : s.tags(id)) {
    if (t.key == key) return t.value;
  }
  return {};
}

// Per-(name, method) accumulation over the series of the HTTP metrics.
struct NameRow {
  double reqs = 0;        // cumulative http_reqs
  double reqs_delta = 0;  // since prev
  uint64_t fails = 0;     // cumulative http_req_failed passes
  std::optional<metrics::ExpHistogram> duration;  // cumulative http_req_duration
};

// The latency JSON of a histogram of ns values, or null.
nlohmann::json Latency(const std::optional<metrics::ExpHistogram>& h) {
  if (!h || h->count() == 0) return nullptr;
  return {{"p50", h->Quantile(0.50) / kNsPerMs},
          {"p95", h->Quantile(0.95) / kNsPerMs},
          {"p99", h->Quantile(0.99) / kNsPerMs},
          {"max", h->max() / kNsPerMs}};
}

void MergeHist(std::optional<metrics::ExpHistogram>& into, const metrics::ExpHistogram& h) {
  if (h.count() == 0) return;
  if (into) {
    into->Merge(h);
  } else {
    into = h;
  }
}

}  // namespace

nlohmann::json MakeTick(const Snapshot& cur, const Snapshot* prev, const TickInputs& in) {
  const metrics::SeriesIndex prev_index = prev ? metrics::IndexSeries(*prev) : metrics::SeriesIndex{};
  double interval = in.interval_s > 0 ? in.interval_s : in.elapsed_s;
  interval = std::max(interval, 0.001);

  SeriesDelta reqs, failed, iterations, duration;
  double dropped = 0;
  double vus = 0, vus_max = 0;
  uint64_t check_passes = 0, check_fails = 0;
  std::map<std::pair<std::string, std::string>, NameRow> names;
  std::map<std::string, double> errors;

  for (const Snapshot::Series& s : cur.series()) {
    const metrics::MetricDef& def = cur.metrics()[s.metric];
    const std::string& m = def.name;
    const bool http = m == "http_reqs" || m == "http_req_failed" || m == "http_req_duration";
    const bool per_second = http || m == "iterations";
    SeriesDelta d;
    if (per_second) {
      const SeriesValue* p = nullptr;
      if (prev) {
        auto it = prev_index.find(metrics::SeriesKey(m, cur.tags(s.tag_set)));
        if (it != prev_index.end()) p = it->second;
      }
      d = metrics::DeltaOf(def.type, s.value, p);
    }
    if (m == "http_reqs") {
      reqs.Merge(d);
      std::string_view code = TagValue(cur, s.tag_set, "error_code");
      if (!code.empty()) errors[std::string(code)] += s.value.count;
    } else if (m == "http_req_failed") {
      failed.Merge(d);
    } else if (m == "http_req_duration") {
      duration.Merge(d);
    } else if (m == "iterations") {
      iterations.Merge(d);
    } else if (m == "dropped_iterations") {
      dropped += s.value.count;
    } else if (m == "vus" && def.type == MetricType::kGauge) {
      vus = std::max(vus, s.value.value);
    } else if (m == "vus_max" && def.type == MetricType::kGauge) {
      vus_max = std::max(vus_max, s.value.value);
    } else if (m == "checks" && def.type == MetricType::kRate) {
      check_passes += s.value.passes;
      check_fails += s.value.fails;
    }
    if (http) {
      NameRow& row = names[{std::string(TagValue(cur, s.tag_set, "name")),
                            std::string(TagValue(cur, s.tag_set, "method"))}];
      if (m == "http_reqs") {
        row.reqs += s.value.count;
        row.reqs_delta += d.count;
      } else if (m == "http_req_failed") {
        row.fails += s.value.passes;
      } else if (s.value.trend) {
        MergeHist(row.duration, *s.value.trend);
      }
    }
  }

  std::vector<std::pair<const std::pair<std::string, std::string>*, const NameRow*>> rows;
  for (const auto& [key, row] : names) {
    if (row.reqs > 0 || row.duration) rows.emplace_back(&key, &row);
  }
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    if (a.second->reqs != b.second->reqs) return a.second->reqs > b.second->reqs;
    return *a.first < *b.first;
  });
  if (rows.size() > kMaxNames) rows.resize(kMaxNames);
  nlohmann::json names_json = nlohmann::json::array();
  for (const auto& [key, row] : rows) {
    nlohmann::json r = {{"name", key->first},
                        {"method", key->second},
                        {"reqs", static_cast<uint64_t>(row->reqs)},
                        {"fails", row->fails},
                        {"rps", row->reqs_delta / interval}};
    const auto& h = row->duration;
    const bool has = h && h->count() > 0;
    r["avg"] = has ? h->Mean() / kNsPerMs : 0.0;
    r["p50"] = has ? h->Quantile(0.50) / kNsPerMs : 0.0;
    r["p95"] = has ? h->Quantile(0.95) / kNsPerMs : 0.0;
    r["p99"] = has ? h->Quantile(0.99) / kNsPerMs : 0.0;
    r["max"] = has ? h->max() / kNsPerMs : 0.0;
    names_json.push_back(std::move(r));
  }

  nlohmann::json errors_json = nlohmann::json::object();
  for (const auto& [code, n] : errors) errors_json[code] = static_cast<uint64_t>(n);

  nlohmann::json progress = {{"fraction", nullptr}, {"time_left_s", nullptr},
                             {"stages", in.stages.is_array() ? in.stages : nlohmann::json::array()}};
  if (in.total_duration_s && *in.total_duration_s > 0) {
    const double total = *in.total_duration_s;
    progress["fraction"] = std::clamp(in.elapsed_s / total, 0.0, 1.0);
    progress["time_left_s"] = std::max(0.0, total - in.elapsed_s);
  }

  return {{"t", in.t_unix_ms},
          {"elapsed_s", in.elapsed_s},
          {"vus", static_cast<uint64_t>(std::max(0.0, vus))},
          {"vus_max", static_cast<uint64_t>(std::max(0.0, vus_max))},
          {"rps", reqs.count / interval},
          {"fails_per_s", static_cast<double>(failed.passes) / interval},
          {"iterations_per_s", iterations.count / interval},
          {"dropped_iterations", static_cast<uint64_t>(dropped)},
          {"latency_ms", Latency(duration.hist)},
          {"names", std::move(names_json)},
          {"errors", std::move(errors_json)},
          {"checks", {{"passes", check_passes}, {"fails", check_fails}}},
          {"thresholds", in.thresholds},
          {"spans", in.spans},
          {"progress", std::move(progress)},
          {"paused", in.paused},
          {"steering", in.steering}};
}

nlohmann::json ThresholdsJson(const metrics::ThresholdSet& thresholds) {
  nlohmann::json out = nlohmann::json::array();
  for (const metrics::MetricThresholdResults& m : thresholds.Results()) {
    for (const metrics::ThresholdResult& t : m.thresholds) {
      out.push_back({{"metric", m.metric}, {"expr", t.source}, {"ok", t.passed}});
    }
  }
  return out;
}

std::string Serialize(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace stampede::ui
