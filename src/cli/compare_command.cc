#include "cli/compare_command.h"

#include <cstdio>
#include <fstream>

#include "core/error.h"
#include "report/compare.h"
#include "store/run_reader.h"

namespace stampede::cli {

CLI::App* AddCompareCommand(CLI::App& app, CompareFlags& f) {
  CLI::App* cmd = app.add_subcommand(
      "compare", "Compare two stored runs per request name (p50/p95/p99, error rate)");
  cmd->add_option("a", f.a, "The baseline run store (A)")->required();
  cmd->add_option("b", f.b, "The run store to judge against it (B)")->required();
  cmd->add_option("-o,--output", f.output, "Also write the table as an HTML page");
  cmd->add_option("--fail-on", f.fail_on,
                  "Exit 1 when B exceeds A beyond this bound for any name: p(95)+10%, "
                  "p(99)+50ms, avg+5%, error_rate+0.01 (repeatable)");
  return cmd;
}

int CompareCommand(const CompareFlags& f) {
  std::vector<report::FailBound> bounds;
  for (const std::string& text : f.fail_on) bounds.push_back(report::ParseFailBound(text));
  store::RunReader a(f.a);
  store::RunReader b(f.b);
  const auto rows = report::CompareRuns(a, b);
  const auto violations = report::CheckBounds(rows, bounds);
  std::string out = report::FormatCompareText(rows, f.a, f.b);
  if (!bounds.empty()) {
    out += violations.empty() ? "\nwithin every --fail-on bound\n" : "\n";
    for (const std::string& v : violations) out += "regression: " + v + "\n";
  }
  if (!f.output.empty()) {
    const std::string html = report::FormatCompareHtml(rows, f.a, f.b, violations);
    std::ofstream file(f.output, std::ios::binary | std::ios::trunc);
    file.write(html.data(), static_cast<std::streamsize>(html.size()));
    file.close();
    if (!file) {
      throw core::ConfigError("cannot write " + f.output +
                              ": check that its directory exists and is writable (-o PATH)");
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return violations.empty() ? 0 : 1;
}

}  // namespace stampede::cli
