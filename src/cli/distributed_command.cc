#include "cli/distributed_command.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "core/base64.h"
#include "core/duration.h"
#include "core/error.h"
#include "core/log.h"
#include "dist/agent_link.h"
#include "dist/coordinator.h"
#include "engine/runner.h"
#include "metrics/registry.h"

namespace stampede::cli {
namespace {

using core::ConfigError;

// Flags an agent never gets: the coordinator's own, and what only the
// coordinator does for the whole test (its thresholds and outputs).
const std::set<std::string>& CoordinatorOnly() {
  static const std::set<std::string> names = {
      "--agents", "--listen", "--token", "--on-agent-loss", "--start-timeout",
      "--heartbeat-timeout", "--agent-grace", "--threshold", "--summary-export", "--out",
      "--no-store", "--store-spans-per-second", "--collect", "--collect-grpc", "--collect-linger",
      "--collect-forward", "--prometheus", "--linger", "--otel-metrics", "--otel-metric-prefix",
      "--otel-metric-cardinality-limit", "--ui", "--ui-token", "--ui-linger", "--ui-open",
      "--trace-url-template", "--execution-segment", "--execution-segment-sequence"};
  return names;
}

std::chrono::milliseconds Millis(const std::string& text, const char* flag, int64_t max_s) {
  const int64_t ns = core::ParseDuration(text, flag).count();
  if (ns <= 0 || ns > max_s * core::kNsPerSec) {
    throw ConfigError(fmt::format("invalid {} \"{}\": give a duration from 1ms to {}s", flag, text,
                                  max_s));
  }
  return std::chrono::milliseconds(ns / 1'000'000);
}

std::string EnvOr(const std::string& given, const char* name) {
  if (!given.empty()) return given;
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

// The script's folder's regular files (not the script, not hidden ones), so
// `data.csv("users.csv")` or `open("body.json")` find theirs on every agent.
// Bounded: 64 MiB in all.
std::vector<std::pair<std::string, std::string>> FolderFiles(const std::string& script) {
  std::vector<std::pair<std::string, std::string>> files;
  const size_t slash = script.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : script.substr(0, slash);
  const std::string self = slash == std::string::npos ? script : script.substr(slash + 1);
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return files;
  size_t total = 0;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name.empty() || name[0] == '.' || name == self) continue;
    const std::string path = dir + "/" + name;
    struct stat st {};
    if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    total += static_cast<size_t>(st.st_size);
    if (total > (size_t{64} << 20)) {
      closedir(d);
      throw ConfigError("coordinator: the files beside " + script +
                        " exceed 64 MiB; agents receive the script's folder: keep only the "
                        "script and the files it opens there");
    }
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    files.emplace_back(name, s.str());
  }
  closedir(d);
  std::sort(files.begin(), files.end());
  return files;
}

void WriteFile(const std::string& dir, const std::string& name, const std::string& bytes) {
  // Names from the coordinator: plain file names only.
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
    throw ConfigError("agent: the coordinator sent a file with a bad name: " + name);
  }
  std::ofstream out(dir + "/" + name, std::ios::binary);
  out << bytes;
  if (!out) throw ConfigError("agent: cannot write " + dir + "/" + name);
}

}  // namespace

CLI::App* AddCoordinatorCommand(CLI::App& app, CoordinatorFlags& f) {
  CLI::App* cmd = app.add_subcommand(
      "coordinator", "Run a test on N agents (stampede agent) and judge it as one");
  AddRunFlags(cmd, f.run);
  cmd->add_option("--agents", f.agents, "How many agents run the test (each a segment)")
      ->required();
  cmd->add_option("--listen", f.listen, "Where agents reach the coordinator (HOST:PORT)")
      ->capture_default_str();
  cmd->add_option("--token", f.token, "Shared secret agents must present (default: $STAMPEDE_TOKEN)");
  cmd->add_option("--on-agent-loss", f.on_agent_loss,
                  "continue (the rest goes on; the result is partial) or abort (stop every agent)")
      ->capture_default_str();
  cmd->add_option("--start-timeout", f.start_timeout, "How long agents may take to join")
      ->capture_default_str();
  cmd->add_option("--heartbeat-timeout", f.heartbeat_timeout,
                  "An agent silent this long is lost")
      ->capture_default_str();
  cmd->add_option("--agent-grace", f.agent_grace,
                  "How long agents keep going without an answer from the coordinator")
      ->capture_default_str();
  return cmd;
}

CLI::App* AddAgentCommand(CLI::App& app, AgentFlags& f) {
  CLI::App* cmd = app.add_subcommand("agent", "Run a segment of a coordinator's test");
  cmd->add_option("--coordinator", f.coordinator, "The coordinator's HOST:PORT")->required();
  cmd->add_option("--index", f.index, "This agent's index, 0 .. N-1 (default: $JOB_COMPLETION_INDEX)");
  cmd->add_option("--token", f.token, "The coordinator's token (default: $STAMPEDE_TOKEN)");
  cmd->add_option("--join-timeout", f.join_timeout, "How long to wait for the coordinator")
      ->capture_default_str();
  cmd->add_option("--workdir", f.workdir, "Where to write the test's files (default: a new temp folder)");
  cmd->add_option("--store", f.store,
                  "Also keep this agent's own run store here (the coordinator keeps the whole test's)");
  return cmd;
}

std::vector<std::string> AgentArgs(const CLI::App& coordinator, const std::vector<std::string>& argv,
                                   const std::string& script) {
  std::vector<std::string> out;
  bool script_seen = script.empty();
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& tok = argv[i];
    if (tok.size() < 2 || tok[0] != '-') {
      if (!script_seen && tok == script) {
        script_seen = true;
        continue;
      }
      out.push_back(tok);
      continue;
    }
    const size_t eq = tok.find('=');
    const std::string name = tok.substr(0, eq);
    const CLI::Option* opt = coordinator.get_option_no_throw(name);
    // How many following tokens this option takes, as CLI11 parses it.
    size_t values = 0;
    if (opt != nullptr && eq == std::string::npos) {
      if (opt->get_expected_min() > 0) {
        values = 1;
      } else if (opt->get_expected_max() > 0 && i + 1 < argv.size() && !argv[i + 1].empty() &&
                 argv[i + 1][0] != '-') {
        values = 1;  // an optional value (--ui [ADDR]) takes a following word
      }
    }
    const bool drop = opt != nullptr && std::any_of(CoordinatorOnly().begin(), CoordinatorOnly().end(),
                                                     [&](const std::string& n) { return opt->check_name(n); });
    for (size_t k = 0; k <= values && i + k < argv.size(); ++k) {
      if (!drop) out.push_back(argv[i + k]);
    }
    i += values;
  }
  return out;
}

int CoordinatorCommand(CoordinatorFlags& f) {
  engine::RunConfig config = BuildRunConfig(f.run);
  if (f.on_agent_loss != "continue" && f.on_agent_loss != "abort") {
    throw ConfigError("invalid --on-agent-loss \"" + f.on_agent_loss + "\": use continue or abort");
  }
  if (f.agents < 1 || f.agents > 10000) {
    throw ConfigError("invalid --agents " + std::to_string(f.agents) + ": give 1 to 10000");
  }
  if (config.Segmented()) {
    throw ConfigError("--execution-segment is the agents' (the coordinator gives each one its own)");
  }
  dist::CoordinatorOptions o;
  o.listen = f.listen;
  o.agents = f.agents;
  o.token = EnvOr(f.token, "STAMPEDE_TOKEN");
  o.abort_on_agent_loss = f.on_agent_loss == "abort";
  o.start_timeout = Millis(f.start_timeout, "--start-timeout", 24 * 3600);
  o.heartbeat_timeout = Millis(f.heartbeat_timeout, "--heartbeat-timeout", 3600);
  o.grace = Millis(f.agent_grace, "--agent-grace", 3600);
  o.run_id = config.run_id;
  o.forward_spans = config.store;
  o.spans_per_second = config.store_spans_per_second;
  if (!config.script_path.empty()) {
    const size_t slash = config.script_path.rfind('/');
    o.script_name = slash == std::string::npos ? config.script_path : config.script_path.substr(slash + 1);
    o.script_source = config.script_source;
    o.files = FolderFiles(config.script_path);
  }
  CLI::App parser;
  CoordinatorFlags scratch;
  CLI::App* cmd = AddCoordinatorCommand(parser, scratch);
  o.args = AgentArgs(*cmd, f.argv, f.run.script);
  // The fleet's own (empty) shard needs a registry that outlives the run.
  static const metrics::Registry fleet_registry = metrics::Registry::WithBuiltins();
  config.fleet = std::make_shared<dist::Coordinator>(fleet_registry, std::move(o));
  return engine::Runner(std::move(config)).Run();
}

int AgentCommand(const AgentFlags& f) {
  std::string base = f.coordinator;
  if (base.rfind("http://", 0) != 0) base = "http://" + base;
  while (!base.empty() && base.back() == '/') base.pop_back();
  int64_t index = f.index;
  if (index < 0) {
    const char* env = std::getenv("JOB_COMPLETION_INDEX");
    if (env == nullptr || *env == '\0') {
      throw ConfigError("agent: give --index I (or run as a Kubernetes Indexed Job, which sets "
                        "JOB_COMPLETION_INDEX)");
    }
    char* end = nullptr;
    index = std::strtoll(env, &end, 10);
    if (*end != '\0' || index < 0) {
      throw ConfigError(std::string("agent: JOB_COMPLETION_INDEX \"") + env + "\" is not an index");
    }
  }
  const std::string token = EnvOr(f.token, "STAMPEDE_TOKEN");
  if (token.empty()) {
    throw ConfigError("agent: give the coordinator's token with --token or STAMPEDE_TOKEN");
  }
  const auto join_timeout = Millis(f.join_timeout, "--join-timeout", 24 * 3600);
  const nlohmann::json test =
      dist::JoinCoordinator(base, token, static_cast<uint32_t>(index), join_timeout);

  std::string dir = f.workdir;
  if (dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp != nullptr && *tmp ? tmp : "/tmp") + "/stampede-agent-XXXXXX";
    if (mkdtemp(templ.data()) == nullptr) throw ConfigError("agent: cannot create " + templ);
    dir = templ;
  }
  const std::string script_name = test["script"].value("name", std::string());
  if (!script_name.empty()) WriteFile(dir, script_name, test["script"].value("source", std::string()));
  for (const nlohmann::json& file : test.value("files", nlohmann::json::array())) {
    std::optional<std::string> bytes = core::Base64Decode(file.value("base64", std::string()));
    if (!bytes) throw ConfigError("agent: the coordinator sent a file that is not base64");
    WriteFile(dir, file.value("name", std::string()), *bytes);
  }
  // --store is relative to where the agent was started, not its test folder.
  std::string store = f.store;
  if (!store.empty() && store[0] != '/') {
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd) != nullptr) store = std::string(cwd) + "/" + store;
  }
  if (chdir(dir.c_str()) != 0) throw ConfigError("agent: cannot enter " + dir);

  std::vector<std::string> argv = {"stampede", "run"};
  if (!script_name.empty()) argv.push_back(script_name);
  for (const nlohmann::json& a : test.value("args", nlohmann::json::array())) {
    argv.push_back(a.get<std::string>());
  }
  argv.push_back("--execution-segment");
  argv.push_back(test.value("segment", std::string()));
  argv.push_back("--execution-segment-sequence");
  argv.push_back(test.value("sequence", std::string()));
  if (f.store.empty()) {
    argv.push_back("--no-store");  // the coordinator keeps the whole test's
  } else {
    argv.push_back("--out");
    argv.push_back("sqlite=" + store);
  }
  core::Info("agent {}: running segment {} of {}", index, test.value("segment", std::string()),
             base);

  CLI::App parser;
  RunFlags flags;
  CLI::App* run = AddRunCommand(parser, flags);
  std::vector<const char*> cargv;
  for (const std::string& a : argv) cargv.push_back(a.c_str());
  try {
    parser.parse(static_cast<int>(cargv.size()), cargv.data());
  } catch (const CLI::ParseError& e) {
    throw ConfigError(std::string("agent: the coordinator's flags do not parse: ") + e.what());
  }
  (void)run;
  flags.command_line = "stampede agent (segment " + test.value("segment", std::string()) + ")";
  engine::RunConfig config = BuildRunConfig(flags);
  config.run_id = test.value("run_id", config.run_id);
  config.instance_id = std::to_string(index);
  config.metrics_export.otlp.reset();  // the coordinator exports the merged metrics, once
  config.prometheus_address.clear();
  auto link = std::make_shared<dist::AgentLink>(
      base, token, static_cast<uint32_t>(index),
      std::chrono::milliseconds(test.value("grace_ms", int64_t{30'000})));
  config.link = link;
  if (test.value("forward_spans", false)) {
    config.forward_spans = true;
    config.store_spans_per_second = test.value("spans_per_second", uint32_t{100});
  }
  int rc = engine::Runner(std::move(config)).Run();
  link->Done(rc);
  if (link->lost()) rc = static_cast<int>(core::ExitCode::kAbortedBySignal);
  return rc;
}

}  // namespace stampede::cli
