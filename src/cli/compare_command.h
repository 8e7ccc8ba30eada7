// `stampede compare A.db B.db [-o compare.html] [--fail-on 'p(95)+10%' ...]`:
// per-name p50/p95/p99 and error rate of two stored runs, with deltas and a
// verdict per name (report/compare.h), as a text table; -o also writes a
// small self-contained HTML table. With --fail-on bounds, exits 1 when B
// regresses beyond one of them for any name (and prints which), else 0.
// Errors (a bad bound, a missing or foreign file, an unwritable output)
// throw core::ConfigError for main's one line (exit code 104).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace stampede::cli {

struct CompareFlags {
  std::string a, b;
  std::string output;
  std::vector<std::string> fail_on;
};

CLI::App* AddCompareCommand(CLI::App& app, CompareFlags& flags);
int CompareCommand(const CompareFlags& flags);

}  // namespace stampede::cli
