#include "core/duration.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "core/error.h"
#include "core/quote.h"

namespace stampede::core {
namespace {

constexpr std::string_view kDurationHint = "expected a duration such as 30s, 1m30s, 500ms or 2h";
constexpr std::string_view kRateHint = "expected a rate such as 100/s, 6000/1m or 100 (per second)";

[[noreturn]] void Fail(std::string_view what, std::string_view text, std::string_view reason) {
  throw ConfigError(fmt::format("invalid {} {}: {}", what, core::QuoteInput(text), reason));
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// A decimal number `123`, `1.5` or `.5`, kept exact as integer and fraction
// digits so that `0.1s` is exactly 100ms.
struct Decimal {
  uint64_t integer = 0;
  uint64_t fraction = 0;        // the fractional digits as an integer
  uint64_t fraction_scale = 1;  // 10^(number of fractional digits kept)
};

// Consumes a decimal number from the front of `s`. Returns false if there is
// none or if the integer part does not fit in 64 bits.
bool ConsumeDecimal(std::string_view& s, Decimal& out, bool& overflow) {
  size_t i = 0;
  bool any_digit = false;
  out = Decimal{};
  while (i < s.size() && IsDigit(s[i])) {
    any_digit = true;
    if (out.integer > (std::numeric_limits<uint64_t>::max() - 9) / 10) overflow = true;
    out.integer = out.integer * 10 + static_cast<uint64_t>(s[i] - '0');
    ++i;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && IsDigit(s[i])) {
      any_digit = true;
      // Digits beyond 10^-18 of a unit cannot change a nanosecond result.
      if (out.fraction_scale < 1'000'000'000'000'000'000ULL) {
        out.fraction = out.fraction * 10 + static_cast<uint64_t>(s[i] - '0');
        out.fraction_scale *= 10;
      }
      ++i;
    }
  }
  if (!any_digit) return false;
  s.remove_prefix(i);
  return true;
}

struct Unit {
  std::string_view name;
  int64_t ns;
};

// Longest names first so that `ms` is not read as `m` followed by `s`.
constexpr Unit kUnits[] = {
    {"ns", 1},
    {"us", 1'000},
    {"\xC2\xB5s", 1'000},  // U+00B5 MICRO SIGN
    {"\xCE\xBCs", 1'000},  // U+03BC GREEK SMALL LETTER MU
    {"ms", 1'000'000},
    {"s", 1'000'000'000},
    {"m", 60'000'000'000},
    {"h", 3'600'000'000'000},
};

const Unit* ConsumeUnit(std::string_view& s) {
  for (const Unit& u : kUnits) {
    if (s.starts_with(u.name)) {
      // `m` must not swallow the start of an unknown unit such as `min`.
      size_t n = u.name.size();
      if (n < s.size() && !IsDigit(s[n]) && s[n] != '.') continue;
      s.remove_prefix(n);
      return &u;
    }
  }
  return nullptr;
}

// Returns false on overflow.
bool AddScaled(const Decimal& d, int64_t unit_ns, __int128& total) {
  __int128 v = static_cast<__int128>(d.integer) * unit_ns +
               static_cast<__int128>(d.fraction) * unit_ns / d.fraction_scale;
  total += v;
  return total <= std::numeric_limits<int64_t>::max();
}

std::string StripZeros(int64_t whole, int64_t hundredths) {
  if (hundredths == 0) return fmt::format("{}", whole);
  if (hundredths % 10 == 0) return fmt::format("{}.{}", whole, hundredths / 10);
  return fmt::format("{}.{:02}", whole, hundredths);
}

}  // namespace

std::chrono::nanoseconds ParseDuration(std::string_view text, std::string_view what) {
  std::string_view s = Trim(text);
  if (s.empty()) Fail(what, text, kDurationHint);
  if (s.front() == '-') {
    Fail(what, text, fmt::format("durations cannot be negative; {}", kDurationHint));
  }
  if (s.front() == '+') s.remove_prefix(1);

  constexpr std::string_view kTooLarge = "duration is too large (the maximum is about 292 years)";
  __int128 total = 0;
  bool overflow = false;
  Decimal d;
  if (!ConsumeDecimal(s, d, overflow)) Fail(what, text, kDurationHint);
  if (s.empty()) {  // a bare number: seconds, as k6 accepts
    if (overflow || !AddScaled(d, 1'000'000'000, total)) Fail(what, text, kTooLarge);
    return std::chrono::nanoseconds(static_cast<int64_t>(total));
  }
  while (true) {
    std::string_view unit_start = s;
    const Unit* unit = ConsumeUnit(s);
    if (unit == nullptr) {
      size_t n = 0;
      while (n < unit_start.size() && !IsDigit(unit_start[n]) && unit_start[n] != '.') ++n;
      if (n == 0) Fail(what, text, kDurationHint);
      Fail(what, text,
           fmt::format("unknown unit {} (use ns, us, ms, s, m or h); {}",
                       core::QuoteInput(unit_start.substr(0, n)), kDurationHint));
    }
    if (overflow || !AddScaled(d, unit->ns, total)) Fail(what, text, kTooLarge);
    if (s.empty()) break;
    if (!ConsumeDecimal(s, d, overflow)) Fail(what, text, kDurationHint);
    if (s.empty()) {
      Fail(what, text, fmt::format("the last number has no unit; {}", kDurationHint));
    }
  }
  return std::chrono::nanoseconds(static_cast<int64_t>(total));
}

Rate ParseRate(std::string_view text, std::string_view what) {
  std::string_view s = Trim(text);
  std::string_view count_text = s;
  std::string_view per_text;
  if (size_t slash = s.find('/'); slash != std::string_view::npos) {
    count_text = Trim(s.substr(0, slash));
    per_text = Trim(s.substr(slash + 1));
    if (per_text.empty()) Fail(what, text, kRateHint);
  }
  if (count_text.empty() || count_text.front() == '+') Fail(what, text, kRateHint);

  Rate rate;
  const char* end = count_text.data() + count_text.size();
  auto [ptr, ec] = std::from_chars(count_text.data(), end, rate.count);
  if (ec != std::errc() || ptr != end || !std::isfinite(rate.count)) Fail(what, text, kRateHint);
  if (rate.count < 0) {
    Fail(what, text, fmt::format("rates cannot be negative; {}", kRateHint));
  }

  if (!per_text.empty()) {
    // `100/s` means per one second: a unit alone stands for one of it.
    std::string per_storage;
    if (!IsDigit(per_text.front()) && per_text.front() != '.') {
      per_storage = "1";
      per_storage += per_text;
      per_text = per_storage;
    }
    try {
      rate.per = ParseDuration(per_text, what);
    } catch (const ConfigError&) {
      Fail(what, text, kRateHint);
    }
    if (rate.per.count() <= 0) {
      Fail(what, text, fmt::format("the time unit must be longer than zero; {}", kRateHint));
    }
  }
  return rate;
}

std::string FormatDuration(std::chrono::nanoseconds d) {
  int64_t ns = d.count();
  if (ns == 0) return "0s";
  if (ns < 0) {
    if (ns == std::numeric_limits<int64_t>::min()) ++ns;  // keep -ns representable
    return "-" + FormatDuration(std::chrono::nanoseconds(-ns));
  }
  // Like k6's summary: two decimals, truncated, trailing zeros dropped.
  constexpr int64_t kUs = 1'000, kMs = 1'000'000, kSec = 1'000'000'000, kMin = 60 * kSec;
  if (ns < kUs) return fmt::format("{}ns", ns);
  if (ns < kMs) return StripZeros(ns / kUs, ns % kUs / (kUs / 100)) + "\xC2\xB5s";
  if (ns < kSec) return StripZeros(ns / kMs, ns % kMs / (kMs / 100)) + "ms";
  if (ns < kMin) return StripZeros(ns / kSec, ns % kSec / (kSec / 100)) + "s";
  // From a minute up: whole seconds, like `1m30s` or `2h0m5s`.
  int64_t seconds = ns % kMin / kSec;
  int64_t minutes = ns / kMin;
  if (minutes < 60) return fmt::format("{}m{}s", minutes, seconds);
  return fmt::format("{}h{}m{}s", minutes / 60, minutes % 60, seconds);
}

}  // namespace stampede::core
