// `stampede coordinator` and `stampede agent`: a test split between
// processes (issue 11; the protocol is dist/coordinator.h's).
//
//   stampede coordinator SCRIPT --agents N [--listen HOST:PORT] [run flags]
//   stampede agent --coordinator HOST:PORT [--index I]
//
// The coordinator takes every flag of `run`. It runs the script's init,
// setup() and teardown() and judges thresholds, and it writes the summary,
// --summary-export, the run store, the dashboard and the OTLP metrics of the
// whole test. Each agent runs execution segment I/N:(I+1)/N of it with the
// coordinator's load flags; its spans go out under its own OTel
// configuration, with service.instance.id = I. Agents need only the
// coordinator's address, their index (--index, or JOB_COMPLETION_INDEX as a
// Kubernetes Indexed Job sets it) and the token (--token or STAMPEDE_TOKEN).
//
// Main thread only.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "cli/run_command.h"

namespace stampede::cli {

struct CoordinatorFlags {
  RunFlags run;
  uint32_t agents = 0;
  std::string listen = "127.0.0.1:6565";
  std::string token;
  std::string on_agent_loss = "continue";
  std::string start_timeout = "5m";
  std::string heartbeat_timeout = "5s";
  std::string agent_grace = "30s";
  std::vector<std::string> argv;  // the arguments after `coordinator` (set by main)
};

struct AgentFlags {
  std::string coordinator;  // HOST:PORT or http://HOST:PORT
  int64_t index = -1;       // -1: JOB_COMPLETION_INDEX
  std::string token;
  std::string join_timeout = "5m";
  std::string workdir;  // "": a new folder under $TMPDIR
  std::string store;    // --store PATH: this agent's own run store ("": none)
};

CLI::App* AddCoordinatorCommand(CLI::App& app, CoordinatorFlags& flags);
CLI::App* AddAgentCommand(CLI::App& app, AgentFlags& flags);

// The run flags an agent gets: `argv` (the coordinator's, after the
// subcommand) without the script and without what only the coordinator
// does — its own flags, thresholds, outputs (--summary-export, --out,
// --no-store, --ui..., --prometheus, --collect..., --linger) and segments.
std::vector<std::string> AgentArgs(const CLI::App& coordinator, const std::vector<std::string>& argv,
                                   const std::string& script);

int CoordinatorCommand(CoordinatorFlags& flags);
int AgentCommand(const AgentFlags& flags);

}  // namespace stampede::cli
