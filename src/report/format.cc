#include "report/format.h"

#include <fmt/format.h>

#include <cmath>

namespace stampede::report {
namespace {

// `n / unit` rounded to two decimals, trailing zeros dropped. n and unit are
// already rounded so that n / unit < 1000 (or < 60 for seconds).
std::string TwoDecimals(int64_t n, int64_t unit) {
  const int64_t hundredths = n / (unit / 100);
  const int64_t whole = hundredths / 100;
  const int64_t frac = hundredths % 100;
  if (frac == 0) return fmt::format("{}", whole);
  if (frac % 10 == 0) return fmt::format("{}.{}", whole, frac / 10);
  return fmt::format("{}.{:02}", whole, frac);
}

// d rounded to the nearest multiple of `step` (half up).
int64_t RoundTo(int64_t d, int64_t step) { return (d + step / 2) / step * step; }

}  // namespace

std::string FormatDurationNs(double ns) {
  if (std::isnan(ns)) return "0s";
  if (ns < 0) return "-" + FormatDurationNs(-ns);
  if (ns >= 9.2e18) return fmt::format("{}h", static_cast<int64_t>(ns / 3.6e12));
  const int64_t d = std::llround(ns);
  constexpr int64_t kUs = 1'000, kMs = 1'000'000, kSec = 1'000'000'000, kMin = 60 * kSec;
  if (d == 0) return "0s";
  if (d < kUs) return fmt::format("{}ns", d);
  // Round at the precision shown, then pick the unit of the rounded value, so
  // 999.996us prints as 1ms and 59.999s as 1m0s.
  if (int64_t r = RoundTo(d, kUs / 100); r < kMs) return TwoDecimals(r, kUs) + "µs";
  if (int64_t r = RoundTo(d, kMs / 100); r < kSec) return TwoDecimals(r, kMs) + "ms";
  if (int64_t r = RoundTo(d, kSec / 100); r < kMin) return TwoDecimals(r, kSec) + "s";
  const int64_t total_s = RoundTo(d, kSec) / kSec;
  const int64_t hours = total_s / 3600;
  const int64_t minutes = total_s / 60 % 60;
  const int64_t seconds = total_s % 60;
  if (hours == 0) return fmt::format("{}m{}s", minutes, seconds);
  return fmt::format("{}h{}m{}s", hours, minutes, seconds);
}

std::string FormatBytes(double bytes) {
  if (!(bytes >= 0)) bytes = 0;
  if (bytes >= 1.8e19) bytes = 1.8e19;
  const auto b = static_cast<uint64_t>(bytes);
  if (b < 10) return fmt::format("{} B", b);
  static constexpr const char* kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  int e = static_cast<int>(std::floor(std::log(static_cast<double>(b)) / std::log(1000.0)));
  e = std::min(e, 6);
  const double scaled = std::floor(static_cast<double>(b) / std::pow(1000.0, e) * 10 + 0.5) / 10;
  if (scaled < 10) return fmt::format("{:.1f} {}", scaled, kUnits[e]);
  return fmt::format("{:.0f} {}", scaled, kUnits[e]);
}

std::string FormatNumber(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  std::string s = fmt::format("{:.6f}", value);
  const size_t dot = s.find('.');
  if (dot != std::string::npos) {
    size_t end = s.find_last_not_of('0');
    if (end == dot) --end;
    s.erase(end + 1);
  }
  if (s == "-0") s = "0";
  return s;
}

std::string FormatPercent(uint64_t part, uint64_t total) {
  if (total == 0) return "0.00%";
  // Integer arithmetic: truncation without binary rounding surprises.
  const auto basis_points =
      static_cast<uint64_t>(static_cast<unsigned __int128>(part) * 10000 / total);
  return fmt::format("{}.{:02}%", basis_points / 100, basis_points % 100);
}

std::string FormatValue(double value, metrics::ValueType type) {
  switch (type) {
    case metrics::ValueType::kTime:
      return FormatDurationNs(value);
    case metrics::ValueType::kData:
      return FormatBytes(value);
    case metrics::ValueType::kDefault:
      break;
  }
  return FormatNumber(value);
}

size_t DisplayWidth(const std::string& text) {
  size_t width = 0;
  for (unsigned char c : text) {
    if ((c & 0xC0) != 0x80) ++width;  // count lead bytes only
  }
  return width;
}

}  // namespace stampede::report
