#include "report/slow.h"

#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <ctime>
#include <nlohmann/json.hpp>

#include "core/duration.h"
#include "core/error.h"

namespace stampede::report {
namespace {

constexpr int64_t kSecNs = 1'000'000'000;

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

int ToInt(std::string_view s) {
  int v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

// HH:MM or HH:MM:SS on the local day of `day_of_unix_ns`.
std::optional<int64_t> ParseClock(std::string_view s, int64_t day_of_unix_ns) {
  const size_t c1 = s.find(':');
  if (c1 == std::string_view::npos) return std::nullopt;
  const size_t c2 = s.find(':', c1 + 1);
  std::string_view hh = s.substr(0, c1);
  std::string_view mm = s.substr(c1 + 1, c2 == std::string_view::npos ? s.npos : c2 - c1 - 1);
  std::string_view ss = c2 == std::string_view::npos ? "0" : s.substr(c2 + 1);
  if (hh.empty() || hh.size() > 2 || mm.size() != 2 || !AllDigits(hh) || !AllDigits(mm)) {
    return std::nullopt;
  }
  if (c2 != std::string_view::npos && (ss.size() != 2 || !AllDigits(ss))) return std::nullopt;
  const int h = ToInt(hh), m = ToInt(mm), sec = ToInt(ss);
  if (h > 23 || m > 59 || sec > 60) return std::nullopt;
  const time_t day = static_cast<time_t>(day_of_unix_ns / kSecNs);
  std::tm tm{};
  localtime_r(&day, &tm);
  tm.tm_hour = h;
  tm.tm_min = m;
  tm.tm_sec = sec;
  tm.tm_isdst = -1;
  const time_t t = mktime(&tm);
  if (t == static_cast<time_t>(-1)) return std::nullopt;
  return static_cast<int64_t>(t) * kSecNs;
}

// 2024-05-01T14:03:00[.frac](Z|+HH:MM|-HH:MM); 't' and ' ' accepted for 'T'.
std::optional<int64_t> ParseRfc3339(std::string_view s) {
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' ||
      (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' || s[16] != ':') {
    return std::nullopt;
  }
  auto digits = [&](size_t pos, size_t n) -> std::optional<int> {
    std::string_view d = s.substr(pos, n);
    if (!AllDigits(d) || d.size() != n) return std::nullopt;
    return ToInt(d);
  };
  auto y = digits(0, 4), mo = digits(5, 2), d = digits(8, 2), h = digits(11, 2), mi = digits(14, 2),
       se = digits(17, 2);
  if (!y || !mo || !d || !h || !mi || !se || *mo < 1 || *mo > 12 || *d < 1 || *d > 31 || *h > 23 ||
      *mi > 59 || *se > 60) {
    return std::nullopt;
  }
  size_t pos = 19;
  int64_t frac_ns = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int64_t scale = 100'000'000;
    const size_t start = pos;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
      frac_ns += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return std::nullopt;
  }
  if (pos >= s.size()) return std::nullopt;
  int64_t offset_s = 0;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    if (s.size() - pos != 6 || s[pos + 3] != ':') return std::nullopt;
    auto oh = digits(pos + 1, 2), om = digits(pos + 4, 2);
    if (!oh || !om) return std::nullopt;
    offset_s = (*oh * 3600 + *om * 60) * (s[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  std::tm tm{};
  tm.tm_year = *y - 1900;
  tm.tm_mon = *mo - 1;
  tm.tm_mday = *d;
  tm.tm_hour = *h;
  tm.tm_min = *mi;
  tm.tm_sec = *se;
  const time_t t = timegm(&tm);
  return (static_cast<int64_t>(t) - offset_s) * kSecNs + frac_ns;
}

enum class Form { kClock, kOffset, kAbsolute };

std::optional<std::pair<int64_t, Form>> ParseEnd(std::string_view s, int64_t run_start) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  if (s.empty()) return std::nullopt;
  if (s.size() >= 20 && s[4] == '-') {
    if (auto t = ParseRfc3339(s)) return std::make_pair(*t, Form::kAbsolute);
    return std::nullopt;
  }
  if (s.find(':') != std::string_view::npos) {
    if (auto t = ParseClock(s, run_start)) return std::make_pair(*t, Form::kClock);
    return std::nullopt;
  }
  try {
    const auto d = core::ParseDuration(s, "window");
    return std::make_pair(run_start + static_cast<int64_t>(d.count()), Form::kOffset);
  } catch (const core::ConfigError&) {
    return std::nullopt;
  }
}

std::string Ms(const std::optional<double>& v) {
  return v ? fmt::format("{:.1f}", *v) : std::string("-");
}

nlohmann::json OptJson(const std::optional<double>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

std::string LocalClock(int64_t unix_ns) {
  const time_t t = static_cast<time_t>(unix_ns / kSecNs);
  std::tm tm{};
  localtime_r(&t, &tm);
  return fmt::format("{:02}:{:02}:{:02}.{:03}", tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (unix_ns % kSecNs) / 1'000'000);
}

}  // namespace

std::string Rfc3339Utc(int64_t unix_ns) {
  const time_t t = static_cast<time_t>(unix_ns / kSecNs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unix_ns % kSecNs) / 1'000'000);
}

TimeWindow ParseTimeWindow(std::string_view text, int64_t run_start_unix_ns,
                           std::string_view what) {
  // RFC 3339 ends contain '-', so try every '-' as the separator.
  for (size_t pos = text.find('-'); pos != std::string_view::npos; pos = text.find('-', pos + 1)) {
    auto from = ParseEnd(text.substr(0, pos), run_start_unix_ns);
    auto to = ParseEnd(text.substr(pos + 1), run_start_unix_ns);
    if (!from || !to) continue;
    TimeWindow w{from->first, to->first};
    // 23:59-00:01: the end is on the next day.
    if (to->second == Form::kClock && w.to_unix_ns <= w.from_unix_ns) {
      w.to_unix_ns += 86'400 * kSecNs;
    }
    if (w.to_unix_ns <= w.from_unix_ns) {
      throw core::ConfigError(
          fmt::format("invalid {} \"{}\": the end must come after the start", what, text));
    }
    return w;
  }
  throw core::ConfigError(fmt::format(
      "invalid {} \"{}\": expected FROM-TO with local times (14:03-14:04:30), offsets from the "
      "run's start (90s-2m) or RFC 3339 times (2024-05-01T14:03:00Z-2024-05-01T14:04:00Z)",
      what, text));
}

std::vector<store::RequestRow> SlowRequests(const store::RunReader& run, const SlowQuery& q) {
  store::RequestQuery rq;
  rq.min_duration_ms = q.min_ms;
  if (q.window) {
    rq.from_unix_ns = q.window->from_unix_ns;
    rq.to_unix_ns = q.window->to_unix_ns;
  }
  rq.name = q.name;
  rq.limit = q.limit;
  return run.Requests(rq);
}

std::string FormatSlowText(const std::vector<store::RequestRow>& rows, int64_t run_start_unix_ns) {
  if (rows.empty()) return "no stored request matches\n";
  std::vector<std::vector<std::string>> table;
  table.push_back({"TIME", "+S", "NAME", "STATUS", "TOTAL_MS", "DNS", "CONNECT", "TLS", "SEND",
                   "WAIT", "RECV", "SERVER", "OUTSIDE", "TRACE"});
  for (const store::RequestRow& r : rows) {
    std::string status = r.http_status > 0 ? std::to_string(r.http_status) : "-";
    if (!r.error_type.empty()) status += " " + r.error_type;
    table.push_back(
        {LocalClock(r.start_unix_ns),
         fmt::format("{:.1f}", static_cast<double>(r.start_unix_ns - run_start_unix_ns) / 1e9),
         r.request_name, status, fmt::format("{:.1f}", r.duration_ms), Ms(r.dns_ms),
         Ms(r.connect_ms), Ms(r.tls_ms), Ms(r.sending_ms), Ms(r.waiting_ms), Ms(r.receiving_ms),
         Ms(r.server_ms), Ms(r.outside_ms), r.trace_id});
  }
  std::vector<size_t> width(table[0].size(), 0);
  for (const auto& row : table) {
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : table) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      // Text columns left-aligned, numbers right-aligned.
      const bool left = i == 0 || i == 2 || i == 3 || i + 1 == row.size();
      line +=
          left ? fmt::format("{:<{}}", row[i], width[i]) : fmt::format("{:>{}}", row[i], width[i]);
      if (i + 1 < row.size()) line += "  ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string FormatSlowJson(const std::vector<store::RequestRow>& rows, int64_t run_start_unix_ns) {
  nlohmann::json out = nlohmann::json::array();
  for (const store::RequestRow& r : rows) {
    out.push_back(nlohmann::json::object());
    nlohmann::json& j = out.back();
    j["trace_id"] = r.trace_id;
    j["span_id"] = r.span_id;
    j["name"] = r.request_name;
    j["method"] = r.method;
    j["url"] = r.url;
    j["status"] = r.http_status;
    j["error_type"] = r.error_type.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.error_type);
    j["start"] = Rfc3339Utc(r.start_unix_ns);
    j["start_unix_ns"] = r.start_unix_ns;
    j["offset_s"] = static_cast<double>(r.start_unix_ns - run_start_unix_ns) / 1e9;
    j["duration_ms"] = r.duration_ms;
    j["blocked_ms"] = OptJson(r.blocked_ms);
    j["dns_ms"] = OptJson(r.dns_ms);
    j["connect_ms"] = OptJson(r.connect_ms);
    j["tls_ms"] = OptJson(r.tls_ms);
    j["sending_ms"] = OptJson(r.sending_ms);
    j["waiting_ms"] = OptJson(r.waiting_ms);
    j["receiving_ms"] = OptJson(r.receiving_ms);
    j["server_ms"] = OptJson(r.server_ms);
    j["outside_ms"] = OptJson(r.outside_ms);
    j["service"] = r.server_service_name.empty() ? nlohmann::json(nullptr)
                                                 : nlohmann::json(r.server_service_name);
  }
  return out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace stampede::report
