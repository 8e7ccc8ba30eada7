// stampede's entry point: parses the command line into a RunConfig, runs it,
// and maps every outcome to one exit code. The only place that catches
// core::ConfigError: a user sees one line, never a stack trace.
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <string>

#include "cli/compare_command.h"
#include "cli/distributed_command.h"
#include "cli/k8s_command.h"
#include "cli/metrics_list_command.h"
#include "cli/report_command.h"
#include "cli/run_command.h"
#include "cli/slow_command.h"
#include "core/error.h"
#include "core/log.h"

namespace {
constexpr const char* kVersion = "0.1.0";

int Fail(const std::string& message, stampede::core::ExitCode code) {
  std::fprintf(stderr, "stampede: %s\n", message.c_str());
  return static_cast<int>(code);
}

// CLI11's messages span lines and name its own concepts; users get one line
// that names the input and points at --help.
std::string OneLine(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}
}  // namespace

int main(int argc, char** argv) {
  using stampede::core::ExitCode;
  // A closed pipe never kills the run (`stampede run ... | head`, a log
  // collector that went away): writes to it fail with EPIPE and are lost,
  // while the summary export, the store and the telemetry are still written.
  // Sockets already send with MSG_NOSIGNAL; this covers stdout, stderr and
  // any library that writes without it.
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"stampede: observable load testing"};
  app.set_version_flag("--version", kVersion);
  app.require_subcommand(1);
  stampede::cli::RunFlags run_flags;
  CLI::App* run = stampede::cli::AddRunCommand(app, run_flags);
  stampede::cli::MetricsListFlags list_flags;
  CLI::App* metrics_list = stampede::cli::AddMetricsListCommand(app, list_flags);
  stampede::cli::SlowFlags slow_flags;
  CLI::App* slow = stampede::cli::AddSlowCommand(app, slow_flags);
  stampede::cli::CompareFlags compare_flags;
  CLI::App* compare = stampede::cli::AddCompareCommand(app, compare_flags);
  stampede::cli::ReportFlags report_flags;
  CLI::App* report = stampede::cli::AddReportCommand(app, report_flags);
  stampede::cli::CoordinatorFlags coordinator_flags;
  CLI::App* coordinator = stampede::cli::AddCoordinatorCommand(app, coordinator_flags);
  stampede::cli::AgentFlags agent_flags;
  CLI::App* agent = stampede::cli::AddAgentCommand(app, agent_flags);
  stampede::cli::K8sFlags k8s_flags;
  CLI::App* k8s_render = stampede::cli::AddK8sCommand(app, k8s_flags);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string where = run->parsed() ? "stampede run --help" : "stampede --help";
    return Fail(OneLine(e.what()) + " (see '" + where + "')", ExitCode::kInvalidConfig);
  }
  run_flags.command_line = stampede::cli::RedactedCommandLine(argc, argv);
  coordinator_flags.run.command_line = run_flags.command_line;
  for (int i = 2; i < argc; ++i) coordinator_flags.argv.emplace_back(argv[i]);
  try {
    if (run->parsed()) return stampede::cli::RunCommand(run_flags);
    if (metrics_list->parsed()) return stampede::cli::MetricsListCommand(list_flags);
    if (slow->parsed()) return stampede::cli::SlowCommand(slow_flags);
    if (compare->parsed()) return stampede::cli::CompareCommand(compare_flags);
    if (report->parsed()) return stampede::cli::ReportCommand(report_flags);
    if (k8s_render->parsed()) return stampede::cli::K8sRenderCommand(k8s_flags);
    if (coordinator->parsed()) return stampede::cli::CoordinatorCommand(coordinator_flags);
    if (agent->parsed()) return stampede::cli::AgentCommand(agent_flags);
  } catch (const stampede::core::ConfigError& e) {
    return Fail(OneLine(e.what()), e.code());
  } catch (const std::exception& e) {
    return Fail(OneLine(e.what()), ExitCode::kInvalidConfig);
  }
  return 0;
}
