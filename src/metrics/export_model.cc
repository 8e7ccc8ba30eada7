#include "metrics/export_model.h"

#include <algorithm>
#include <charconv>
#include <string_view>

#include "metrics/exemplars.h"

namespace stampede::metrics {
namespace {

struct BuiltinInfo {
  std::string_view name;
  std::string_view unit;
  std::string_view description;
};

// Units and descriptions of k6's built-in metrics (k6's documentation).
constexpr BuiltinInfo kBuiltinInfo[] = {
    {"http_reqs", "{request}", "How many HTTP requests stampede has generated."},
    {"http_req_duration", "s", "Time for the request: sending + waiting + receiving."},
    {"http_req_blocked", "s", "Time spent waiting for a free connection slot."},
    {"http_req_connecting", "s", "Time spent establishing the TCP connection."},
    {"http_req_tls_handshaking", "s", "Time spent on the TLS handshake."},
    {"http_req_sending", "s", "Time spent sending the request."},
    {"http_req_waiting", "s", "Time to first byte: waiting for the server's response."},
    {"http_req_receiving", "s", "Time spent receiving the response."},
    {"http_req_failed", "{request}",
     "Requests by outcome: condition=nonzero failed (transport error or unexpected status)."},
    {"data_sent", "By", "Bytes sent."},
    {"data_received", "By", "Bytes received."},
    {"vus", "{vu}", "Active virtual users."},
    {"vus_max", "{vu}", "Allocated virtual users."},
    {"iterations", "{iteration}", "Completed iterations."},
    {"iteration_duration", "s", "Time for one full iteration, setup and sleeps included."},
    {"checks", "{check}", "Checks by outcome: condition=nonzero passed."},
    {"dropped_iterations", "{iteration}", "Iterations that could not start (arrival-rate)."},
    {"iteration_start_lag", "s", "How late arrival-rate iterations started."},
    {"group_duration", "s", "Time for one group() call."},
    {"http_req_looking_up", "s", "DNS lookup time of requests that opened a connection."},
    {"spans_exported", "{span}", "Spans the collector accepted."},
    {"spans_dropped", "{span}", "Spans dropped because the exporter fell behind."},
    {"spans_failed", "{span}", "Spans in exports that failed for good or were rejected."},
    {"ws_connecting", "s", "Time of the WebSocket opening handshake."},
    {"ws_session_duration", "s", "Time from a WebSocket's open to its close."},
    {"ws_sessions", "{session}", "WebSocket sessions started."},
    {"ws_msgs_sent", "{message}", "WebSocket messages sent."},
    {"ws_msgs_received", "{message}", "WebSocket messages received."},
    {"ws_ping", "s", "Time from a WebSocket ping to its pong."},
};

const BuiltinInfo* FindBuiltin(std::string_view name) {
  for (const BuiltinInfo& b : kBuiltinInfo) {
    if (b.name == name) return &b;
  }
  return nullptr;
}

std::string_view Find(std::span<const TagPair> tags, std::string_view key) {
  for (const TagPair& t : tags) {
    if (t.key == key) return t.value;
  }
  return {};
}

ExportAttribute Str(std::string key, std::string_view value) {
  return ExportAttribute{std::move(key), std::string(value), false, 0};
}

// An int attribute from its decimal text; nullopt-like (is_int false, empty
// key) when the text is not a number.
bool IntAttr(std::string key, std::string_view text, ExportAttribute& out) {
  int64_t v = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size()) return false;
  out = ExportAttribute{std::move(key), std::string(text), true, v};
  return true;
}

void SortAttrs(std::vector<ExportAttribute>& attrs) {
  std::sort(attrs.begin(), attrs.end(),
            [](const ExportAttribute& a, const ExportAttribute& b) { return a.key < b.key; });
  attrs.erase(std::unique(attrs.begin(), attrs.end(),
                          [](const ExportAttribute& a, const ExportAttribute& b) {
                            return a.key == b.key;
                          }),
              attrs.end());
}

// k6 tags as attributes of the k6 family.
std::vector<ExportAttribute> K6Attributes(std::span<const TagPair> tags) {
  std::vector<ExportAttribute> attrs;
  attrs.reserve(tags.size());
  for (const TagPair& t : tags) {
    if (t.key == "url") continue;  // cardinality: never the full URL
    if (t.key == "scenario") {
      attrs.push_back(Str("stampede.scenario", t.value));
    } else if (t.key == "group") {
      if (!t.value.empty()) attrs.push_back(Str("stampede.group", t.value));
    } else {
      attrs.push_back(Str(t.key, t.value));
    }
  }
  SortAttrs(attrs);
  return attrs;
}

// The engine's tags of an internal series as the HTTP semantic conventions
// name them.
std::vector<ExportAttribute> SemconvAttributes(std::span<const TagPair> tags) {
  std::vector<ExportAttribute> attrs;
  attrs.reserve(tags.size());
  std::string_view status = Find(tags, "status");
  std::string_view error_code = Find(tags, "error_code");
  for (const TagPair& t : tags) {
    if (t.key == "url" || t.key == "expected_response" || t.key == "error_code") continue;
    ExportAttribute a;
    if (t.key == "method") {
      attrs.push_back(Str("http.request.method", t.value));
    } else if (t.key == "status") {
      if (t.value != "0" && IntAttr("http.response.status_code", t.value, a)) {
        attrs.push_back(std::move(a));
      }
    } else if (t.key == "server.port") {
      if (IntAttr("server.port", t.value, a)) attrs.push_back(std::move(a));
    } else if (t.key == "name") {
      attrs.push_back(Str("url.template", t.value));
    } else if (t.key == "scenario") {
      attrs.push_back(Str("stampede.scenario", t.value));
    } else if (t.key == "group") {
      if (!t.value.empty()) attrs.push_back(Str("stampede.group", t.value));
    } else {
      attrs.push_back(Str(t.key, t.value));
    }
  }
  if (!error_code.empty()) {
    attrs.push_back(Str("error.type", error_code));
  } else if (status.size() == 3 && status >= "400") {
    attrs.push_back(Str("error.type", status));
  }
  SortAttrs(attrs);
  return attrs;
}

std::string Canonical(const std::vector<ExportAttribute>& attrs) {
  std::string s;
  for (const ExportAttribute& a : attrs) {
    s += a.key;
    s += '\x1f';
    s += a.value;
    s += '\x1e';
  }
  return s;
}

std::string ExemplarKeyOf(std::span<const TagPair> tags) {
  return ExemplarKey(Find(tags, "name"), Find(tags, "method"), Find(tags, "status"));
}

}  // namespace

ExportModel::ExportModel(ExportOptions options) : options_(std::move(options)) {
  options_.cardinality_limit = std::max<size_t>(2, options_.cardinality_limit);
}

std::vector<ExportMetric> ExportModel::Build(const Snapshot& snapshot) {
  newly_overflowed_.clear();
  const std::vector<MetricDef>& defs = snapshot.metrics();
  // Series grouped by metric, in snapshot order.
  std::vector<std::vector<const Snapshot::Series*>> by_metric(defs.size());
  for (const Snapshot::Series& s : snapshot.series()) {
    if (s.metric < by_metric.size() && !s.value.empty()) by_metric[s.metric].push_back(&s);
  }

  std::vector<ExportMetric> out;
  // Where each metric's overflow point is, once it has one.
  std::unordered_map<std::string, size_t> overflow_at;  // by metric name
  // Adds one point to `m`, or folds it into the overflow point.
  auto add_point = [&](ExportMetric& m, ExportPoint p) {
    std::unordered_set<std::string>& admitted = admitted_[m.name];
    std::string key = Canonical(p.attributes);
    if (admitted.count(key) == 0) {
      if (admitted.size() + 1 < options_.cardinality_limit) {
        admitted.insert(std::move(key));
      } else {
        if (overflowed_.insert(m.name).second) newly_overflowed_.push_back(m.name);
        auto [slot, first] = overflow_at.try_emplace(m.name, m.points.size());
        if (first) {
          ExportPoint o;
          o.overflow = true;
          o.attributes.push_back(ExportAttribute{"otel.metric.overflow", "true", false, 0});
          if (m.kind == InstrumentKind::kHistogram) {
            m.owned.push_back(std::make_unique<ExpHistogram>());
            o.histogram = m.owned.back().get();
          }
          m.points.push_back(std::move(o));
        }
        ExportPoint* of = &m.points[slot->second];
        if (m.kind == InstrumentKind::kHistogram) {
          const_cast<ExpHistogram*>(of->histogram)->Merge(*p.histogram);
        } else if (m.kind == InstrumentKind::kGauge) {
          of->number = std::max(of->number, p.number);
        } else {
          of->number += p.number;
        }
        return;
      }
    }
    m.points.push_back(std::move(p));
  };

  if (options_.k6) {
    for (MetricId id = 0; id < defs.size(); ++id) {
      const MetricDef& def = defs[id];
      if (by_metric[id].empty()) continue;
      if (def.internal && (def.name == kHttpClientRequestDuration ||
                           def.name == kHttpClientOpenConnections ||
                           def.name == kHttpClientConnectionDuration)) {
        continue;  // the semconv family's sources
      }
      ExportMetric m;
      m.name = options_.prefix + def.name;
      m.source = id;
      const BuiltinInfo* info = def.custom ? nullptr : FindBuiltin(def.name);
      if (info != nullptr) {
        m.unit = std::string(info->unit);
        m.description = std::string(info->description);
      } else {
        m.description = "Custom metric (" + std::string(MetricTypeName(def.type)) + ").";
      }
      const bool time = def.value_type == ValueType::kTime;
      if (time) m.unit = "s";
      if (def.value_type == ValueType::kData) m.unit = "By";
      m.unit_scale = time ? 1e-9 : 1;
      switch (def.type) {
        case MetricType::kCounter:
          m.kind = InstrumentKind::kCounter;
          break;
        case MetricType::kGauge:
          m.kind = InstrumentKind::kGauge;
          break;
        case MetricType::kRate:
          m.kind = InstrumentKind::kCounter;
          if (m.unit.empty()) m.unit = "1";
          break;
        case MetricType::kTrend:
          m.kind = InstrumentKind::kHistogram;
          break;
      }
      if (def.name == "http_req_duration" && !def.custom) m.exemplars = ExemplarValue::kDuration;
      for (const Snapshot::Series* s : by_metric[id]) {
        std::span<const TagPair> tags = snapshot.tags(s->tag_set);
        std::vector<ExportAttribute> attrs = K6Attributes(tags);
        const SeriesValue& v = s->value;
        switch (def.type) {
          case MetricType::kCounter: {
            ExportPoint p{attrs, v.count * m.unit_scale, nullptr, {}, false};
            add_point(m, std::move(p));
            break;
          }
          case MetricType::kGauge: {
            ExportPoint p{attrs, v.value * m.unit_scale, nullptr, {}, false};
            add_point(m, std::move(p));
            break;
          }
          case MetricType::kRate: {
            for (bool nonzero : {true, false}) {
              ExportPoint p;
              p.attributes = attrs;
              p.attributes.push_back(Str("condition", nonzero ? "nonzero" : "zero"));
              SortAttrs(p.attributes);
              p.number = static_cast<double>(nonzero ? v.passes : v.fails);
              add_point(m, std::move(p));
            }
            break;
          }
          case MetricType::kTrend: {
            if (!v.trend) break;
            ExportPoint p{std::move(attrs), 0, &*v.trend, {}, false};
            if (m.exemplars != ExemplarValue::kNone) p.exemplar_key = ExemplarKeyOf(tags);
            add_point(m, std::move(p));
            break;
          }
        }
      }
      if (!m.points.empty()) out.push_back(std::move(m));
    }
  }

  if (options_.semconv) {
    struct Semconv {
      const char* internal;
      const char* name;
      const char* unit;
      const char* description;
      InstrumentKind kind;
      ExemplarValue exemplars;
    };
    static constexpr Semconv kSemconv[] = {
        {kHttpClientRequestDuration, "http.client.request.duration", "s",
         "Duration of HTTP client requests (the CLIENT span's duration, connection setup "
         "included).",
         InstrumentKind::kHistogram, ExemplarValue::kTotal},
        {kHttpClientOpenConnections, "http.client.open_connections", "{connection}",
         "Number of outbound HTTP connections that are currently active or idle on the client.",
         InstrumentKind::kUpDownCounter, ExemplarValue::kNone},
        {kHttpClientConnectionDuration, "http.client.connection.duration", "s",
         "The duration of the successfully established outbound HTTP connections.",
         InstrumentKind::kHistogram, ExemplarValue::kNone},
    };
    for (const Semconv& sc : kSemconv) {
      std::optional<MetricId> id = snapshot.FindMetric(sc.internal);
      if (!id || by_metric[*id].empty()) continue;
      ExportMetric m;
      m.name = sc.name;
      m.unit = sc.unit;
      m.description = sc.description;
      m.kind = sc.kind;
      m.exemplars = sc.exemplars;
      m.source = *id;
      m.semconv = true;
      m.unit_scale = sc.kind == InstrumentKind::kHistogram ? 1e-9 : 1;
      for (const Snapshot::Series* s : by_metric[*id]) {
        std::span<const TagPair> tags = snapshot.tags(s->tag_set);
        ExportPoint p;
        p.attributes = SemconvAttributes(tags);
        if (sc.kind == InstrumentKind::kHistogram) {
          if (!s->value.trend) continue;
          p.histogram = &*s->value.trend;
          if (sc.exemplars != ExemplarValue::kNone) p.exemplar_key = ExemplarKeyOf(tags);
        } else {
          p.number = s->value.count;
        }
        add_point(m, std::move(p));
      }
      if (!m.points.empty()) out.push_back(std::move(m));
    }
  }
  return out;
}

}  // namespace stampede::metrics
