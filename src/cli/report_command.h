// `stampede report RUN.db [-o report.html] [--trace-url-template URL]`: turns
// a run store into one self-contained HTML report (report/html_report.h).
// Without -o, writes RUN.html beside RUN.db. Prints the written path and its
// size on stdout. Errors (missing or foreign file, bad template, unwritable
// output) throw core::ConfigError for main's one line.
#pragma once

#include <CLI/CLI.hpp>
#include <cstddef>
#include <string>

namespace stampede::cli {

struct ReportFlags {
  std::string db;      // the run store
  std::string output;  // "" → the store's path with the extension .html
  std::string trace_url_template;
  size_t slowest = 50;
  size_t max_failed = 500;
};

CLI::App* AddReportCommand(CLI::App& app, ReportFlags& flags);
int ReportCommand(const ReportFlags& flags);

}  // namespace stampede::cli
