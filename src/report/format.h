// Human formatting of values the way k6's end-of-test summary prints them.
// Self-contained (no dependency on core/duration); pure functions, any thread.
#pragma once

#include <cstdint>
#include <string>

#include "metrics/registry.h"

namespace stampede::report {

// A duration given in nanoseconds, k6 style, with at most two decimals and
// trailing zeros dropped: "0s", "850ns", "850µs", "1.23ms", "2.5s", "59.99s",
// "1m30s", "1h0m5s" (whole seconds from one minute up). Unlike k6, which
// truncates exact values, this rounds to nearest: trend values here are
// histogram estimates, and truncating an estimate a hair under 2ms would
// print "1.99ms". Negative values get a '-'.
std::string FormatDurationNs(double ns);

// A byte count in SI units as k6 (go-humanize) prints it: "0 B", "9 B",
// "718 B", "2.0 kB", "31 kB", "1.3 MB", "12 GB". Below 10 the count is an
// integer; values under 10 units get one decimal, larger ones none.
// Negative and NaN inputs print as "0 B".
std::string FormatBytes(double bytes);

// A plain number with at most six decimals, trailing zeros dropped:
// "12034", "1203.4", "0.333333".
std::string FormatNumber(double value);

// part / total as a percentage truncated to two decimals: "0.00%", "66.66%",
// "100.00%". "0.00%" when total is 0.
std::string FormatPercent(uint64_t part, uint64_t total);

// FormatDurationNs, FormatBytes or FormatNumber according to `type`.
std::string FormatValue(double value, metrics::ValueType type);

// Display width of UTF-8 text in terminal columns, counting one column per
// code point (enough for the ASCII, "µ", "✓" and "✗" used here).
size_t DisplayWidth(const std::string& text);

}  // namespace stampede::report
