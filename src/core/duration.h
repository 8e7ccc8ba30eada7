// Parsing of the human forms users type: durations (`30s`, `1m30s`, `500ms`,
// `1h`, `250us`, `2.5s`) and rates (`100/s`, `6000/1m`, `100`).
// Cold path: throws core::ConfigError with a message naming `what` (the flag or
// option the text came from) and the expected form.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace stampede::core {

// Parses a duration. A bare number is seconds (as k6 accepts for options).
// Units: ns, us (or µs), ms, s, m, h; components may be chained (`1h2m3.5s`).
// Negative durations are rejected.
std::chrono::nanoseconds ParseDuration(std::string_view text, std::string_view what);

// A rate as events per time unit. `100/s` → {100, 1s}; `6000/1m`; a bare
// number means per second.
struct Rate {
  double count = 0;
  std::chrono::nanoseconds per{std::chrono::seconds(1)};
  double PerSecond() const { return count * 1e9 / static_cast<double>(per.count()); }
};
Rate ParseRate(std::string_view text, std::string_view what);

// Formats a duration the way k6 prints them in summaries: `1.23ms`, `850µs`,
// `2.5s`, `1m30s`.
std::string FormatDuration(std::chrono::nanoseconds d);

}  // namespace stampede::core
