// `stampede slow RUN.db [--min 500ms] [--window FROM-TO] [--name NAME]
// [--limit 20] [--json]`: the slowest stored request traces of a run,
// slowest first, with DNS, connect, TLS, send, wait and receive times, the
// service's own time (its SERVER span) and the time spent outside it
// (report/slow.h). Errors (bad flags, a missing or foreign file) throw
// core::ConfigError for main's one line (exit code 104).
#pragma once

#include <CLI/CLI.hpp>
#include <cstddef>
#include <string>

namespace stampede::cli {

struct SlowFlags {
  std::string db;
  std::string min = "0ms";
  std::string window;  // "" → the whole run
  std::string name;    // "" → every name
  int64_t limit = 20;
  bool json = false;
};

CLI::App* AddSlowCommand(CLI::App& app, SlowFlags& flags);
int SlowCommand(const SlowFlags& flags);

}  // namespace stampede::cli
