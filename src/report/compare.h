// `stampede compare A.db B.db`: the per-name latency and error figures of
// two stored runs side by side, with deltas, a verdict per name, and
// optional regression bounds (--fail-on) for CI.
//
// Verdict (the noise band): a name is "worse" when B's p50 or p95 exceeds
// A's by more than 5 % AND more than 1 ms, or B's error rate exceeds A's by
// more than 0.5 percentage points AND by more than 20 % of A's; "better" for
// the mirror image when nothing is worse; "same" otherwise. Names in only one run
// are "added" (only in B) or "removed" (only in A).
//
// Cold path. Throws core::ConfigError (one line) for a bad bound or file.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/exp_histogram.h"
#include "store/run_reader.h"

namespace stampede::report {

// One side of a row: the figures of one request name in one run.
struct CompareSide {
  uint64_t requests = 0;
  uint64_t failed = 0;
  double error_rate = 0;
  double avg = 0, med = 0, p95 = 0, p99 = 0, max = 0;  // ms
  std::optional<metrics::ExpHistogram> histogram;      // http_req_duration, ns

  // p(N) in ms, N in [0, 100].
  double Percentile(double n) const;
};

struct CompareRow {
  std::string name;
  std::optional<CompareSide> a, b;  // unset: the name is not in that run
  std::string verdict;              // better | worse | same | added | removed
};

// Every request name of either run, sorted.
std::vector<CompareRow> CompareRuns(const store::RunReader& a, const store::RunReader& b);

// A --fail-on bound: `<stat>+<amount>`.
//   stat:   p(N) (0 <= N <= 100), med, avg, max, error_rate
//   amount: N% (relative to A), or a duration (50ms, 1s; a bare number is
//           ms) for latency stats; an absolute fraction for error_rate
//           (error_rate+0.01: at most one percentage point more).
struct FailBound {
  enum class Stat { kPercentile, kAvg, kMax, kErrorRate };
  std::string text;  // as written
  Stat stat = Stat::kPercentile;
  double percentile = 95;  // kPercentile
  bool relative = false;   // amount is a percentage of A's value
  double amount = 0;       // %, ms, or a fraction (error_rate)
};

// Throws core::ConfigError naming the expression and the accepted forms.
FailBound ParseFailBound(std::string_view text);

// "<name>: p(95) 120.0ms vs 100.0ms (+20.0%), beyond p(95)+10%" for every
// name in both runs where B regresses beyond a bound; empty: all within.
std::vector<std::string> CheckBounds(const std::vector<CompareRow>& rows,
                                     const std::vector<FailBound>& bounds);

std::string FormatCompareText(const std::vector<CompareRow>& rows, std::string_view a_label,
                              std::string_view b_label);
// A self-contained HTML page (inline CSS, no script); every string escaped.
std::string FormatCompareHtml(const std::vector<CompareRow>& rows, std::string_view a_label,
                              std::string_view b_label, const std::vector<std::string>& violations);

std::string HtmlEscape(std::string_view text);

}  // namespace stampede::report
