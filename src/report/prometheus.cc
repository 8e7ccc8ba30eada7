#include "report/prometheus.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <set>

#include "core/log.h"
#include "http/server.h"
#include "otel/histogram_buckets.h"

namespace stampede::report {
namespace {

using metrics::ExemplarValue;
using metrics::ExportMetric;
using metrics::ExportPoint;
using metrics::InstrumentKind;

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool IsNameChar(char c, bool allow_colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         (allow_colon && c == ':');
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// ---------------------------------------------------------------------------
// Units

// A UCUM unit (no '/' and no braces) as a Prometheus name word.
std::string UnitWord(std::string_view unit, bool per) {
  struct Entry {
    std::string_view ucum, word, per_word;
  };
  static constexpr std::array<Entry, 24> kUnits = {{
      {"d", "days", "day"},
      {"h", "hours", "hour"},
      {"min", "minutes", "minute"},
      {"s", "seconds", "second"},
      {"ms", "milliseconds", "millisecond"},
      {"us", "microseconds", "microsecond"},
      {"ns", "nanoseconds", "nanosecond"},
      {"By", "bytes", "byte"},
      {"KiBy", "kibibytes", "kibibyte"},
      {"MiBy", "mebibytes", "mebibyte"},
      {"GiBy", "gibibytes", "gibibyte"},
      {"TiBy", "tibibytes", "tibibyte"},
      {"KBy", "kilobytes", "kilobyte"},
      {"MBy", "megabytes", "megabyte"},
      {"GBy", "gigabytes", "gigabyte"},
      {"TBy", "terabytes", "terabyte"},
      {"m", "meters", "minute"},  // "/m" is per minute in the OTel table
      {"V", "volts", "volt"},
      {"A", "amperes", "ampere"},
      {"J", "joules", "joule"},
      {"W", "watts", "watt"},
      {"g", "grams", "gram"},
      {"Cel", "celsius", "celsius"},
      {"Hz", "hertz", "hertz"},
  }};
  static constexpr std::array<Entry, 4> kPerOnly = {{
      {"w", "weeks", "week"},
      {"mo", "months", "month"},
      {"y", "years", "year"},
      {"%", "percent", "percent"},
  }};
  for (const auto& e : kUnits) {
    if (e.ucum == unit) return std::string(per ? e.per_word : e.word);
  }
  for (const auto& e : kPerOnly) {
    if (e.ucum == unit) return std::string(per ? e.per_word : e.word);
  }
  // Unknown: kept, made name-safe.
  std::string out;
  for (char c : unit) out.push_back(IsNameChar(c, false) ? c : '_');
  return out;
}

std::string DropBraces(std::string_view unit) {
  std::string out;
  int depth = 0;
  for (char c : unit) {
    if (c == '{') {
      ++depth;
    } else if (c == '}') {
      if (depth > 0) --depth;
    } else if (depth == 0) {
      out.push_back(c);
    }
  }
  return std::string(Trim(out));
}

// The name suffix for a metric's unit ("" for none).
std::string UnitSuffix(std::string_view unit, InstrumentKind kind) {
  if (unit == "1") return kind == InstrumentKind::kGauge ? "ratio" : "";
  std::string plain = DropBraces(unit);
  if (plain.empty() || plain == "1") return "";
  size_t slash = plain.find('/');
  if (slash == std::string::npos) return UnitWord(plain, false);
  std::string num = DropBraces(std::string_view(plain).substr(0, slash));
  std::string den = DropBraces(std::string_view(plain).substr(slash + 1));
  std::string out = (num.empty() || num == "1") ? "" : UnitWord(num, false);
  if (!den.empty() && den != "1") out += (out.empty() ? "per_" : "_per_") + UnitWord(den, true);
  return out;
}

// ---------------------------------------------------------------------------
// Text escaping

// Replaces invalid UTF-8 with U+FFFD: Prometheus rejects a whole scrape over
// one bad label value.
std::string ValidUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    auto b = static_cast<unsigned char>(s[i]);
    size_t len = b < 0x80           ? 1
                 : (b >> 5) == 0x6  ? 2
                 : (b >> 4) == 0xE  ? 3
                 : (b >> 3) == 0x1E ? 4
                                    : 0;
    bool ok = len > 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) {
      ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    }
    if (ok && len > 1) {
      uint32_t cp = b & (0xFF >> (len + 1));
      for (size_t k = 1; k < len; ++k)
        cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
      static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
      ok = cp >= kMin[len] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    }
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out.append("\xEF\xBF\xBD");
      i += 1;
    }
  }
  return out;
}

void AppendLabelValue(std::string& out, std::string_view value) {
  for (char c : ValidUtf8(value)) {
    switch (c) {
      case '\\':
        out.append("\\\\");
        break;
      case '"':
        out.append("\\\"");
        break;
      case '\n':
        out.append("\\n");
        break;
      default:
        out.push_back(c);
    }
  }
}

std::string EscapeHelp(std::string_view help, bool openmetrics) {
  std::string out;
  for (char c : ValidUtf8(help)) {
    switch (c) {
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '"':
        if (openmetrics) {
          out.append("\\\"");
        } else {
          out.push_back(c);
        }
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string FormatDouble(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::trunc(v) && std::abs(v) < 9007199254740992.0) return fmt::format("{:.0f}", v);
  // 15 significant digits: a scaled value (2'100'000 ns × 1e-9) prints as
  // 0.0021, not 0.0021000000000000003.
  return fmt::format("{:.15g}", v);
}

// ---------------------------------------------------------------------------
// Labels

using Labels = std::vector<std::pair<std::string, std::string>>;  // sanitized name, value

Labels SanitizeLabels(const std::vector<std::pair<std::string_view, std::string_view>>& in,
                      bool histogram) {
  // `in` is sorted by original key; colliding names join values in that order.
  Labels out;
  for (const auto& [key, value] : in) {
    std::string name = SanitizeLabelName(key);
    if (histogram && name == "le") name = "key_le";
    auto it = std::find_if(out.begin(), out.end(), [&](const auto& l) { return l.first == name; });
    if (it == out.end()) {
      out.emplace_back(std::move(name), std::string(value));
    } else {
      it->second.append(";").append(value);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

Labels PointLabels(const ExportPoint& point, bool histogram) {
  std::vector<std::pair<std::string_view, std::string_view>> in;
  bool has_overflow = false;
  for (const auto& a : point.attributes) {
    in.emplace_back(a.key, a.value);
    has_overflow |= a.key == "otel.metric.overflow";
  }
  if (point.overflow && !has_overflow) in.emplace_back("otel.metric.overflow", "true");
  std::stable_sort(in.begin(), in.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  return SanitizeLabels(in, histogram);
}

// `{a="x",b="y"}` (with `extra` last), or "" when there are no labels.
std::string LabelText(const Labels& labels, std::string_view extra_name = {},
                      std::string_view extra_value = {}) {
  if (labels.empty() && extra_name.empty()) return "";
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out.push_back(',');
    first = false;
    out.append(k).append("=\"");
    AppendLabelValue(out, v);
    out.push_back('"');
  }
  if (!extra_name.empty()) {
    if (!first) out.push_back(',');
    out.append(extra_name).append("=\"");
    AppendLabelValue(out, extra_value);
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

// ---------------------------------------------------------------------------
// Names

struct Names {
  std::string family;     // OpenMetrics family: no _total
  std::string text_name;  // text format TYPE/sample name (counters: with _total)
  std::string unit;       // OpenMetrics UNIT ("" when the name does not end with one)
};

Names NamesOf(const ExportMetric& m) {
  Names n;
  std::string base = SanitizeMetricName(m.name);
  bool counter = m.kind == InstrumentKind::kCounter;
  if (counter && base.size() > 6 && base.ends_with("_total")) base.resize(base.size() - 6);
  std::string suffix = UnitSuffix(m.unit, m.kind);
  if (!suffix.empty()) {
    if (!base.ends_with("_" + suffix) && base != suffix) base += "_" + suffix;
    n.unit = suffix;
  }
  n.family = base;
  n.text_name = counter ? base + "_total" : base;
  return n;
}

std::vector<std::string> SampleNames(const ExportMetric& m, const Names& n) {
  switch (m.kind) {
    case InstrumentKind::kCounter:
      return {n.text_name};
    case InstrumentKind::kHistogram:
      return {n.family + "_bucket", n.family + "_sum", n.family + "_count"};
    default:
      return {n.family};
  }
}

// Which metrics are written (a sanitized name collision leaves the later one
// out), shared by the formatter and PrometheusSampleNames so both agree.
struct Planned {
  const ExportMetric* metric;
  Names names;
  bool skipped;
  std::string collides_with;
};

std::vector<Planned> Plan(std::span<const ExportMetric> metrics, bool reserve_run_info) {
  std::set<std::string> taken;  // family names and sample names
  if (reserve_run_info) {
    taken.emplace(kRunInfoFamily);
    taken.emplace(kRunInfoMetric);
  }
  std::vector<Planned> out;
  for (const ExportMetric& m : metrics) {
    Planned p{&m, NamesOf(m), false, {}};
    std::vector<std::string> names = SampleNames(m, p.names);
    names.push_back(p.names.family);
    if (m.kind == InstrumentKind::kCounter || m.kind == InstrumentKind::kHistogram) {
      names.push_back(p.names.family + "_created");  // OpenMetrics reserves it
    }
    for (const auto& name : names) {
      if (taken.count(name)) {
        p.skipped = true;
        p.collides_with = name;
        break;
      }
    }
    if (!p.skipped) taken.insert(names.begin(), names.end());
    out.push_back(std::move(p));
  }
  return out;
}

// ---------------------------------------------------------------------------
// Histogram buckets

std::vector<double> MakeBounds(int k_min, int k_max, int per_doubling, bool round4) {
  std::vector<double> out;
  for (int k = k_min; k <= k_max; ++k) {
    double v = std::exp2(static_cast<double>(k) / per_doubling);
    if (round4) v = std::strtod(fmt::format("{:.4g}", v).c_str(), nullptr);
    out.push_back(v);
  }
  return out;
}

// Cumulative counts at each of `bounds` (exported units, ascending): the
// OTLP explicit-bucket split (otel/histogram_buckets.h), accumulated.
std::vector<uint64_t> CumulativeCounts(const metrics::ExpHistogram& h, double unit_scale,
                                       std::span<const double> bounds) {
  std::vector<uint64_t> per_bucket;
  otel::ToExplicitBuckets(h, unit_scale, bounds, per_bucket);
  std::vector<uint64_t> out(bounds.size(), 0);
  uint64_t total = 0;
  for (size_t i = 0; i < bounds.size(); ++i) out[i] = total += per_bucket[i];
  return out;
}

std::string Hex(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xF]);
  }
  return out;
}

// ` # {trace_id="..",span_id=".."} value timestamp`
std::string ExemplarText(const metrics::Exemplar& e, double value) {
  std::string out = " # {trace_id=\"" + Hex(e.trace_id) + "\",span_id=\"" + Hex(e.span_id) +
                    "\"} " + FormatDouble(value);
  if (e.time_unix_ns > 0) {
    out += fmt::format(" {}.{:03}", e.time_unix_ns / 1'000'000'000,
                       (e.time_unix_ns % 1'000'000'000) / 1'000'000);
  }
  return out;
}

bool IsZero(std::span<const uint8_t> bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

// ---------------------------------------------------------------------------
// Writing

class Writer {
 public:
  explicit Writer(const ExpositionOptions& options)
      : options_(options), om_(options.format == ExpositionFormat::kOpenMetrics) {}

  void RunInfo() {
    if (options_.run_labels.empty()) return;
    std::vector<std::pair<std::string_view, std::string_view>> in(options_.run_labels.begin(),
                                                                  options_.run_labels.end());
    std::stable_sort(in.begin(), in.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    Labels labels = SanitizeLabels(in, false);
    const char* help = "Identity of the stampede run that exposes these metrics (value 1).";
    if (om_) {
      Meta(kRunInfoFamily, "info", "", help);
    } else {
      Meta(kRunInfoMetric, "gauge", "", help);
    }
    out_.append(kRunInfoMetric).append(LabelText(labels)).append(" 1\n");
  }

  void Metric(const Planned& p) {
    const ExportMetric& m = *p.metric;
    if (p.skipped) {
      if (!om_) {
        out_.append(fmt::format("# stampede: {} left out: the name {} is taken by another metric\n",
                                SanitizeMetricName(m.name), p.collides_with));
      }
      return;
    }
    const Names& n = p.names;
    std::string help = m.description.empty() ? "stampede metric " + m.name : m.description;
    switch (m.kind) {
      case InstrumentKind::kCounter:
        Meta(om_ ? n.family : n.text_name, "counter", n.unit, help);
        for (const ExportPoint& pt : m.points) {
          out_.append(n.text_name).append(LabelText(PointLabels(pt, false))).push_back(' ');
          out_.append(FormatDouble(pt.number)).push_back('\n');
        }
        break;
      case InstrumentKind::kUpDownCounter:
      case InstrumentKind::kGauge:
        Meta(n.family, "gauge", n.unit, help);
        for (const ExportPoint& pt : m.points) {
          out_.append(n.family).append(LabelText(PointLabels(pt, false))).push_back(' ');
          out_.append(FormatDouble(pt.number)).push_back('\n');
        }
        break;
      case InstrumentKind::kHistogram:
        Meta(n.family, "histogram", n.unit, help);
        for (const ExportPoint& pt : m.points) Histogram(m, n, pt);
        break;
    }
  }

  std::string Finish() {
    if (om_) out_.append("# EOF\n");
    return std::move(out_);
  }

 private:
  void Meta(std::string_view name, std::string_view type, std::string_view unit,
            std::string_view help) {
    out_.append("# HELP ").append(name).push_back(' ');
    out_.append(EscapeHelp(help, om_)).push_back('\n');
    out_.append("# TYPE ").append(name).push_back(' ');
    out_.append(type).push_back('\n');
    if (om_ && !unit.empty())
      out_.append("# UNIT ").append(name).append(" ").append(unit).push_back('\n');
  }

  void Histogram(const ExportMetric& m, const Names& n, const ExportPoint& pt) {
    if (pt.histogram == nullptr) return;
    const metrics::ExpHistogram& h = *pt.histogram;
    std::span<const double> bounds = HistogramBounds(m.unit);
    std::vector<uint64_t> counts = CumulativeCounts(h, m.unit_scale, bounds);
    Labels labels = PointLabels(pt, true);

    // The most recent exemplar per bucket (index bounds.size() is +Inf).
    std::vector<std::optional<std::pair<metrics::Exemplar, double>>> exemplars;
    if (om_ && options_.exemplars != nullptr && m.exemplars != ExemplarValue::kNone &&
        !pt.exemplar_key.empty()) {
      auto it = options_.exemplars->find(pt.exemplar_key);
      if (it != options_.exemplars->end()) {
        exemplars.resize(bounds.size() + 1);
        for (const metrics::Exemplar& e : it->second) {  // oldest first: newer ones overwrite
          if (IsZero(e.trace_id) || IsZero(e.span_id)) continue;
          int64_t raw = m.exemplars == ExemplarValue::kDuration ? e.duration_ns : e.total_ns;
          double value = static_cast<double>(raw) * m.unit_scale;
          size_t b = static_cast<size_t>(std::lower_bound(bounds.begin(), bounds.end(), value) -
                                         bounds.begin());
          exemplars[b] = std::make_pair(e, value);
        }
      }
    }
    std::string bucket = n.family + "_bucket";
    for (size_t i = 0; i <= bounds.size(); ++i) {
      std::string le = i < bounds.size() ? FormatDouble(bounds[i]) : "+Inf";
      uint64_t c = i < bounds.size() ? counts[i] : h.count();
      out_.append(bucket).append(LabelText(labels, "le", le)).push_back(' ');
      out_.append(std::to_string(c));
      if (!exemplars.empty() && exemplars[i]) {
        out_.append(ExemplarText(exemplars[i]->first, exemplars[i]->second));
      }
      out_.push_back('\n');
    }
    std::string label_text = LabelText(labels);
    out_.append(n.family).append("_sum").append(label_text).push_back(' ');
    out_.append(FormatDouble(h.sum() * m.unit_scale)).push_back('\n');
    out_.append(n.family).append("_count").append(label_text).push_back(' ');
    out_.append(std::to_string(h.count())).push_back('\n');
  }

  const ExpositionOptions& options_;
  const bool om_;
  std::string out_;
};

}  // namespace

// ---------------------------------------------------------------------------
// Public functions

std::string_view ContentType(ExpositionFormat format) {
  return format == ExpositionFormat::kOpenMetrics
             ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
             : "text/plain; version=0.0.4; charset=utf-8";
}

ExpositionFormat NegotiateFormat(std::string_view accept) {
  double q_openmetrics = 0;
  double q_text = 0;
  size_t start = 0;
  while (start <= accept.size()) {
    size_t comma = accept.find(',', start);
    std::string_view entry =
        accept.substr(start, comma == std::string_view::npos ? accept.npos : comma - start);
    start = comma == std::string_view::npos ? accept.size() + 1 : comma + 1;
    size_t semi = entry.find(';');
    std::string type;
    for (char c : Trim(entry.substr(0, semi))) type.push_back(Lower(c));
    if (type.empty()) continue;
    double q = 1;
    bool valid = true;
    while (semi != std::string_view::npos) {
      size_t next = entry.find(';', semi + 1);
      std::string_view param =
          Trim(entry.substr(semi + 1, next == entry.npos ? entry.npos : next - semi - 1));
      semi = next;
      size_t eq = param.find('=');
      if (eq == std::string_view::npos) continue;
      std::string_view key = Trim(param.substr(0, eq));
      if (key.size() == 1 && Lower(key[0]) == 'q') {
        std::string value(Trim(param.substr(eq + 1)));
        char* end = nullptr;
        q = std::strtod(value.c_str(), &end);
        valid = end != value.c_str() && *end == '\0' && q >= 0 && q <= 1;
      }
    }
    if (!valid) continue;
    if (type == "application/openmetrics-text") {
      q_openmetrics = std::max(q_openmetrics, q);
    } else if (type == "text/plain" || type == "text/*" || type == "*/*") {
      q_text = std::max(q_text, q);
    }
  }
  return q_openmetrics > 0 && q_openmetrics >= q_text ? ExpositionFormat::kOpenMetrics
                                                      : ExpositionFormat::kPrometheusText;
}

std::string SanitizeMetricName(std::string_view name) {
  std::string out;
  for (char c : name) {
    char ch = IsNameChar(c, true) ? c : '_';
    if (ch == '_' && !out.empty() && out.back() == '_') continue;
    out.push_back(ch);
  }
  if (out.empty()) return "_";
  if (IsDigit(out.front())) out.insert(out.begin(), '_');
  return out;
}

std::string SanitizeLabelName(std::string_view name) {
  std::string out;
  for (char c : name) out.push_back(IsNameChar(c, false) ? c : '_');
  if (out.empty()) return "key_";
  if (IsDigit(out.front())) return "key_" + out;
  if (out.starts_with("__")) return "key" + out;
  return out;
}

std::span<const double> HistogramBounds(std::string_view unit) {
  static const std::vector<double> kSeconds = MakeBounds(-48, 24, 4, true);
  static const std::vector<double> kBytes = MakeBounds(0, 40, 1, false);
  static const std::vector<double> kOther = MakeBounds(-10, 40, 1, false);
  if (unit == "s") return kSeconds;
  if (unit == "By") return kBytes;
  return kOther;
}

std::string PrometheusName(const ExportMetric& metric) { return NamesOf(metric).text_name; }

std::vector<std::string> PrometheusSampleNames(std::span<const ExportMetric> metrics,
                                               bool with_run_info) {
  std::vector<std::string> out;
  if (with_run_info) out.emplace_back(kRunInfoMetric);
  for (const Planned& p : Plan(metrics, with_run_info)) {
    if (p.skipped) continue;
    for (auto& name : SampleNames(*p.metric, p.names)) out.push_back(std::move(name));
  }
  return out;
}

std::string FormatExposition(std::span<const ExportMetric> metrics,
                             const ExpositionOptions& options) {
  Writer w(options);
  bool run_info = !options.run_labels.empty();
  w.RunInfo();
  for (const Planned& p : Plan(metrics, run_info)) w.Metric(p);
  return w.Finish();
}

// ---------------------------------------------------------------------------
// PrometheusEndpoint

PrometheusEndpoint::PrometheusEndpoint(std::string_view address,
                                       const metrics::ExportOptions& options,
                                       const metrics::LiveResults& live,
                                       const metrics::ExemplarReservoir* exemplars,
                                       std::vector<std::pair<std::string, std::string>> run_labels)
    : live_(live), exemplars_(exemplars), run_labels_(std::move(run_labels)), model_(options) {
  http::ServerOptions so;
  so.address = std::string(address);
  so.option_name = "--prometheus";
  so.thread_name = "stampede-prom";
  so.exposure_note = "; /metrics is read-only and needs no token";
  // Scrapers are few; a small bound keeps a misbehaving client from hogging us.
  so.max_connections = 32;
  so.max_body_bytes = 4096;  // scrapes carry no body
  server_ = std::make_unique<http::Server>(so, [this](const http::ServerRequest& req) {
    if (req.path != "/metrics") {
      return http::ServerResponse::Text(404, "text/plain; charset=utf-8",
                                        "not found: stampede serves its metrics at /metrics\n");
    }
    if (req.method != "GET" && req.method != "HEAD") {
      auto r = http::ServerResponse::Text(405, "text/plain; charset=utf-8",
                                          "method not allowed: use GET /metrics\n");
      r.headers.emplace_back("Allow", "GET, HEAD");
      return r;
    }
    Scrape s = Render(req.Header("Accept").value_or(""));
    scrapes_.fetch_add(1, std::memory_order_relaxed);
    return http::ServerResponse::Text(200, std::string(ContentType(s.format)), std::move(s.body));
  });
}

PrometheusEndpoint::~PrometheusEndpoint() { Stop(); }

const std::string& PrometheusEndpoint::address() const { return server_->address(); }
uint16_t PrometheusEndpoint::port() const { return server_->port(); }

void PrometheusEndpoint::Stop() { server_->Stop(); }

PrometheusEndpoint::Scrape PrometheusEndpoint::Render(std::string_view accept) {
  Scrape out;
  out.format = NegotiateFormat(accept);
  ExpositionOptions options;
  options.format = out.format;
  options.run_labels = run_labels_;
  ExemplarsByKey exemplars;
  if (out.format == ExpositionFormat::kOpenMetrics && exemplars_ != nullptr) {
    exemplars = exemplars_->Recent();
    options.exemplars = &exemplars;
  }
  metrics::LiveSnapshot latest = live_.Latest();  // keeps the snapshot alive while formatting
  if (latest.snapshot == nullptr) {
    out.body = FormatExposition({}, options);
    return out;
  }
  std::lock_guard lock(mu_);
  std::vector<ExportMetric> built = model_.Build(*latest.snapshot);
  for (const std::string& name : model_.newly_overflowed()) {
    core::Warn(
        "--prometheus: metric {} reached its cardinality limit ({} series); further "
        "attribute sets are merged into the otel_metric_overflow=\"true\" series",
        name, model_.options().cardinality_limit);
  }
  out.body = FormatExposition(built, options);
  return out;
}

}  // namespace stampede::report
