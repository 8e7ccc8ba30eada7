#include "report/compare.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>

#include "core/duration.h"
#include "core/error.h"

namespace stampede::report {
namespace {

constexpr double kLatencyRelBand = 0.05;  // 5 %
constexpr double kLatencyAbsBandMs = 1.0;
constexpr double kErrorAbsBand = 0.005;  // 0.5 percentage points
constexpr double kErrorRelBand = 0.20;

CompareSide SideOf(const store::RunReader& run, const store::NameRow& row) {
  CompareSide s;
  s.requests = row.requests;
  s.failed = row.failed;
  s.error_rate = row.error_rate;
  s.avg = row.duration.avg;
  s.med = row.duration.med;
  s.p95 = row.duration.p95;
  s.p99 = row.duration.p99;
  s.max = row.duration.max;
  s.histogram = run.WindowHistogram("http_req_duration", row.name);
  return s;
}

std::string Verdict(const CompareSide& a, const CompareSide& b) {
  // Latency: p50 and p95, each beyond the band (relative and absolute).
  auto moved = [](double va, double vb) {
    const double d = vb - va;
    if (d > kLatencyAbsBandMs && d > va * kLatencyRelBand) return 1;
    if (-d > kLatencyAbsBandMs && -d > va * kLatencyRelBand) return -1;
    return 0;
  };
  const int p50 = moved(a.med, b.med), p95 = moved(a.p95, b.p95);
  const double de = b.error_rate - a.error_rate;
  const bool more_errors = de > kErrorAbsBand && de > a.error_rate * kErrorRelBand;
  const bool fewer_errors = -de > kErrorAbsBand && -de > a.error_rate * kErrorRelBand;
  if (p50 > 0 || p95 > 0 || more_errors) return "worse";
  if (p50 < 0 || p95 < 0 || fewer_errors) return "better";
  return "same";
}

[[noreturn]] void BadBound(std::string_view text, std::string_view why) {
  throw core::ConfigError(fmt::format(
      "invalid --fail-on \"{}\": {}; expected <stat>+<amount> with stat p(N), med, avg, max or "
      "error_rate and amount N% or a duration (p(95)+10%, p(99)+50ms, avg+5%, error_rate+0.01)",
      text, why));
}

std::optional<double> ParseNumber(std::string_view s) {
  if (s.empty()) return std::nullopt;
  size_t dots = 0;
  for (char c : s) {
    if (c == '.') {
      ++dots;
    } else if (!std::isdigit(static_cast<unsigned char>(c))) {
      return std::nullopt;
    }
  }
  if (dots > 1 || s == ".") return std::nullopt;
  return std::stod(std::string(s));
}

double StatOf(const CompareSide& s, const FailBound& b) {
  switch (b.stat) {
    case FailBound::Stat::kPercentile:
      return s.Percentile(b.percentile);
    case FailBound::Stat::kAvg:
      return s.avg;
    case FailBound::Stat::kMax:
      return s.max;
    case FailBound::Stat::kErrorRate:
      return s.error_rate;
  }
  return 0;
}

std::string StatName(const FailBound& b) {
  switch (b.stat) {
    case FailBound::Stat::kPercentile:
      return fmt::format("p({})", b.percentile);
    case FailBound::Stat::kAvg:
      return "avg";
    case FailBound::Stat::kMax:
      return "max";
    case FailBound::Stat::kErrorRate:
      return "error_rate";
  }
  return "";
}

std::string Pct(double part, double whole) {
  if (whole == 0) return part == 0 ? "+0.0%" : "new";
  return fmt::format("{:+.1f}%", 100.0 * part / whole);
}

std::string DeltaMs(double a, double b) {
  return fmt::format("{:+.1f} ({})", b - a, Pct(b - a, a));
}

std::vector<std::string> Header(std::string_view a, std::string_view b) {
  (void)a;
  (void)b;
  return {"NAME",  "REQS A", "REQS B",    "P50 A",  "P50 B", "P50 DELTA",
          "P95 A", "P95 B",  "P95 DELTA", "P99 A",  "P99 B", "P99 DELTA",
          "ERR A", "ERR B",  "ERR DELTA", "VERDICT"};
}

std::vector<std::string> Cells(const CompareRow& r) {
  auto ms = [](const std::optional<CompareSide>& s, double CompareSide::*f) {
    return s ? fmt::format("{:.1f}", (*s).*f) : std::string("-");
  };
  auto reqs = [](const std::optional<CompareSide>& s) {
    return s ? std::to_string(s->requests) : std::string("-");
  };
  auto err = [](const std::optional<CompareSide>& s) {
    return s ? fmt::format("{:.2f}%", 100 * s->error_rate) : std::string("-");
  };
  auto delta = [&](double CompareSide::*f) {
    return r.a && r.b ? DeltaMs((*r.a).*f, (*r.b).*f) : std::string("-");
  };
  std::string err_delta =
      r.a && r.b ? fmt::format("{:+.2f}pp", 100 * (r.b->error_rate - r.a->error_rate)) : "-";
  return {r.name,
          reqs(r.a),
          reqs(r.b),
          ms(r.a, &CompareSide::med),
          ms(r.b, &CompareSide::med),
          delta(&CompareSide::med),
          ms(r.a, &CompareSide::p95),
          ms(r.b, &CompareSide::p95),
          delta(&CompareSide::p95),
          ms(r.a, &CompareSide::p99),
          ms(r.b, &CompareSide::p99),
          delta(&CompareSide::p99),
          err(r.a),
          err(r.b),
          err_delta,
          r.verdict};
}

}  // namespace

double CompareSide::Percentile(double n) const {
  if (!histogram) return 0;
  return histogram->Quantile(n / 100.0) / 1e6;
}

std::vector<CompareRow> CompareRuns(const store::RunReader& a, const store::RunReader& b) {
  std::map<std::string, CompareRow> rows;
  for (const store::NameRow& n : a.PerName()) {
    CompareRow& r = rows[n.name];
    r.name = n.name;
    r.a = SideOf(a, n);
  }
  for (const store::NameRow& n : b.PerName()) {
    CompareRow& r = rows[n.name];
    r.name = n.name;
    r.b = SideOf(b, n);
  }
  std::vector<CompareRow> out;
  for (auto& [name, r] : rows) {
    if (r.a && r.b) {
      r.verdict = Verdict(*r.a, *r.b);
    } else {
      r.verdict = r.b ? "added" : "removed";
    }
    out.push_back(std::move(r));
  }
  return out;
}

FailBound ParseFailBound(std::string_view text) {
  FailBound b;
  b.text = std::string(text);
  std::string s;
  for (char c : text) {
    if (c != ' ') s += c;
  }
  const size_t plus = s.find('+');
  if (plus == std::string::npos) BadBound(text, "no '+'");
  const std::string stat = s.substr(0, plus);
  const std::string amount = s.substr(plus + 1);
  if (stat == "avg") {
    b.stat = FailBound::Stat::kAvg;
  } else if (stat == "max") {
    b.stat = FailBound::Stat::kMax;
  } else if (stat == "med") {
    b.stat = FailBound::Stat::kPercentile;
    b.percentile = 50;
  } else if (stat == "error_rate") {
    b.stat = FailBound::Stat::kErrorRate;
  } else if (stat.size() > 3 && stat.starts_with("p(") && stat.back() == ')') {
    auto n = ParseNumber(stat.substr(2, stat.size() - 3));
    if (!n || *n > 100) BadBound(text, "N of p(N) must be a number from 0 to 100");
    b.stat = FailBound::Stat::kPercentile;
    b.percentile = *n;
  } else {
    BadBound(text, fmt::format("unknown stat \"{}\"", stat));
  }
  if (amount.empty()) BadBound(text, "no amount after '+'");
  if (b.stat == FailBound::Stat::kErrorRate) {
    auto n = ParseNumber(amount);
    if (!n || *n > 1) BadBound(text, "the error_rate amount is a fraction from 0 to 1");
    b.amount = *n;
    return b;
  }
  if (amount.back() == '%') {
    auto n = ParseNumber(amount.substr(0, amount.size() - 1));
    if (!n) BadBound(text, fmt::format("\"{}\" is not a percentage", amount));
    b.relative = true;
    b.amount = *n;
    return b;
  }
  if (auto n = ParseNumber(amount)) {  // bare number: ms, as in k6 thresholds
    b.amount = *n;
    return b;
  }
  try {
    b.amount = static_cast<double>(core::ParseDuration(amount, "--fail-on").count()) / 1e6;
  } catch (const core::ConfigError&) {
    BadBound(text, fmt::format("\"{}\" is neither a percentage nor a duration", amount));
  }
  return b;
}

std::vector<std::string> CheckBounds(const std::vector<CompareRow>& rows,
                                     const std::vector<FailBound>& bounds) {
  std::vector<std::string> out;
  for (const CompareRow& r : rows) {
    if (!r.a || !r.b) continue;
    for (const FailBound& b : bounds) {
      const double va = StatOf(*r.a, b), vb = StatOf(*r.b, b);
      const double limit = b.relative ? va * (1 + b.amount / 100) : va + b.amount;
      if (!(vb > limit)) continue;
      if (b.stat == FailBound::Stat::kErrorRate) {
        out.push_back(fmt::format("{}: error_rate {:.2f}% vs {:.2f}% ({:+.2f}pp), beyond {}",
                                  r.name, 100 * vb, 100 * va, 100 * (vb - va), b.text));
      } else {
        out.push_back(fmt::format("{}: {} {:.1f}ms vs {:.1f}ms ({}), beyond {}", r.name,
                                  StatName(b), vb, va, Pct(vb - va, va), b.text));
      }
    }
  }
  return out;
}

std::string FormatCompareText(const std::vector<CompareRow>& rows, std::string_view a_label,
                              std::string_view b_label) {
  std::vector<std::vector<std::string>> table;
  table.push_back(Header(a_label, b_label));
  for (const CompareRow& r : rows) table.push_back(Cells(r));
  std::vector<size_t> width(table[0].size(), 0);
  for (const auto& row : table) {
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out = fmt::format("A: {}\nB: {}\n(latency in ms)\n\n", a_label, b_label);
  if (rows.empty()) return out + "no requests in either run\n";
  for (const auto& row : table) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      const bool left = i == 0 || i + 1 == row.size();
      line +=
          left ? fmt::format("{:<{}}", row[i], width[i]) : fmt::format("{:>{}}", row[i], width[i]);
      if (i + 1 < row.size()) line += "  ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string FormatCompareHtml(const std::vector<CompareRow>& rows, std::string_view a_label,
                              std::string_view b_label,
                              const std::vector<std::string>& violations) {
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<title>stampede compare</title><style>"
      "body{font:14px system-ui,sans-serif;margin:2em;color:#222}"
      "table{border-collapse:collapse}th,td{padding:4px 10px;border-bottom:1px solid #ddd;"
      "text-align:right}th:first-child,td:first-child{text-align:left}"
      "tr.worse td:last-child{color:#b00020;font-weight:bold}"
      "tr.better td:last-child{color:#1b7f3b;font-weight:bold}"
      "ul.violations{color:#b00020}"
      "</style></head><body>\n<h1>stampede compare</h1>\n<p>A: <code>" +
      HtmlEscape(a_label) + "</code><br>B: <code>" + HtmlEscape(b_label) +
      "</code><br>Latency in ms; verdict: worse/better beyond a 5&nbsp;% and 1&nbsp;ms change "
      "of p50 or p95, or a 0.5-point and 20&nbsp;% change of the error rate.</p>\n";
  if (!violations.empty()) {
    out += "<ul class=\"violations\">\n";
    for (const std::string& v : violations) out += "<li>" + HtmlEscape(v) + "</li>\n";
    out += "</ul>\n";
  }
  out += "<table>\n<thead><tr>";
  for (const std::string& h : Header(a_label, b_label)) out += "<th>" + HtmlEscape(h) + "</th>";
  out += "</tr></thead>\n<tbody>\n";
  for (const CompareRow& r : rows) {
    out += "<tr class=\"" + HtmlEscape(r.verdict) + "\">";
    for (const std::string& c : Cells(r)) out += "<td>" + HtmlEscape(c) + "</td>";
    out += "</tr>\n";
  }
  out += "</tbody></table>\n</body></html>\n";
  return out;
}

}  // namespace stampede::report
