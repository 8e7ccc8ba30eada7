#include "cli/slow_command.h"

#include <cstdio>

#include "core/duration.h"
#include "core/error.h"
#include "report/slow.h"
#include "store/run_reader.h"

namespace stampede::cli {

CLI::App* AddSlowCommand(CLI::App& app, SlowFlags& f) {
  CLI::App* cmd = app.add_subcommand(
      "slow", "List the slowest stored requests of a run with their phases and server time");
  cmd->add_option("db", f.db, "The run store (a .db file written by `stampede run`)")->required();
  cmd->add_option("--min", f.min, "Only requests at least this slow, e.g. 500ms")
      ->capture_default_str();
  cmd->add_option("--window", f.window,
                  "Only requests started in FROM-TO: local times 14:03-14:04:30, offsets "
                  "90s-2m from the start, or RFC 3339 times");
  cmd->add_option("--name", f.name, "Only requests with this name");
  cmd->add_option("--limit", f.limit, "At most this many rows")->capture_default_str();
  cmd->add_flag("--json", f.json, "Print a JSON array instead of a table");
  return cmd;
}

int SlowCommand(const SlowFlags& f) {
  report::SlowQuery q;
  q.min_ms = static_cast<double>(core::ParseDuration(f.min, "--min").count()) / 1e6;
  if (f.limit < 1) {
    throw core::ConfigError("invalid --limit " + std::to_string(f.limit) +
                            ": give a count of at least 1");
  }
  q.limit = static_cast<size_t>(f.limit);
  if (!f.name.empty()) q.name = f.name;
  store::RunReader reader(f.db);
  const int64_t start = reader.meta().start_unix_ns;
  if (!f.window.empty()) q.window = report::ParseTimeWindow(f.window, start, "--window");
  const auto rows = report::SlowRequests(reader, q);
  const std::string out =
      f.json ? report::FormatSlowJson(rows, start) : report::FormatSlowText(rows, start);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace stampede::cli
