#include "cli/report_command.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "report/html_report.h"
#include "store/run_reader.h"

namespace stampede::cli {

CLI::App* AddReportCommand(CLI::App& app, ReportFlags& f) {
  CLI::App* cmd = app.add_subcommand(
      "report",
      "Write a self-contained HTML report (charts, slowest requests, trace waterfalls) "
      "from a run store");
  cmd->add_option("db", f.db, "The run store (a .db file written by `stampede run`)")->required();
  cmd->add_option("-o,--output", f.output,
                  "The HTML file to write (default: RUN.html beside RUN.db)");
  cmd->add_option("--trace-url-template", f.trace_url_template,
                  "A link per trace, e.g. 'https://grafana.example/explore?traceId={trace_id}'");
  cmd->add_option("--slowest", f.slowest, "Slowest requests listed (with their traces)")
      ->capture_default_str();
  cmd->add_option("--max-failed", f.max_failed, "Failed requests listed at most")
      ->capture_default_str();
  return cmd;
}

int ReportCommand(const ReportFlags& f) {
  report::HtmlReportOptions options;
  options.trace_url_template = f.trace_url_template;
  options.slowest = f.slowest;
  options.max_failed = f.max_failed;
  report::ValidateTraceUrlTemplate(options.trace_url_template);  // before any work
  store::RunReader reader(f.db);
  const std::string html = report::RenderHtmlReport(reader, options);

  std::filesystem::path out = f.output;
  if (out.empty()) out = std::filesystem::path(f.db).replace_extension(".html");
  // Written beside the target and renamed over it, so a reader never sees half a page.
  const std::filesystem::path tmp = out.string() + ".tmp";
  {
    std::ofstream file(tmp, std::ios::binary | std::ios::trunc);
    file.write(html.data(), static_cast<std::streamsize>(html.size()));
    file.close();
    if (!file) {
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      throw core::ConfigError("cannot write the report to " + out.string() +
                              ": check that its directory exists and is writable (-o PATH)");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, out, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throw core::ConfigError("cannot write the report to " + out.string() + ": " + ec.message());
  }
  std::printf("report: %s (%.1f MB)\n", out.string().c_str(),
              static_cast<double>(html.size()) / 1e6);
  return 0;
}

}  // namespace stampede::cli
