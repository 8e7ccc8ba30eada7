#include "engine/runner.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <fstream>

#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "engine/worker.h"
#include "net/error_type.h"
#include "report/summary.h"
#include "report/summary_json.h"

namespace stampede::engine {
namespace {

// Blocks SIGINT/SIGTERM for this thread and every thread it spawns from now
// on; restores the previous mask when it goes out of scope.
class SignalBlock {
 public:
  SignalBlock() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
  }
  ~SignalBlock() {
    // Discard signals that arrived after the run ended, then unblock.
    timespec zero{0, 0};
    while (sigtimedwait(&set_, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  // Waits up to `timeout_ns` for a signal; returns it, or 0.
  int Wait(int64_t timeout_ns) {
    timespec ts{static_cast<time_t>(timeout_ns / core::kNsPerSec),
                static_cast<long>(timeout_ns % core::kNsPerSec)};
    int sig = sigtimedwait(&set_, nullptr, &ts);
    return sig > 0 ? sig : 0;
  }

 private:
  sigset_t set_;
  sigset_t old_;
};

std::string FormatSeconds(int64_t ns) {
  int64_t s = ns / core::kNsPerSec;
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

}  // namespace

Runner::Runner(const RunConfig& config)
    : config_(config), registry_(metrics::Registry::WithBuiltins()) {
  registry_.Define("http_req_looking_up", metrics::MetricType::kTrend, metrics::ValueType::kTime);
}

RunOutcome Runner::Execute() {
  SignalBlock signals;
  core::MonotonicClock clock;
  const uint32_t threads = std::max<uint32_t>(1, std::min(config_.threads, config_.vus));
  const int64_t start_ns = clock.NowNs();

  // VUs spread evenly; shared iterations split in proportion to VUs, so a
  // worker's VUs share only the worker's budget (no cross-thread counter).
  std::vector<std::unique_ptr<Worker>> workers;
  uint64_t iterations_left = config_.iterations;
  for (uint32_t i = 0; i < threads; ++i) {
    uint32_t vus = config_.vus / threads + (i < config_.vus % threads ? 1 : 0);
    uint64_t iterations = 0;
    if (config_.iterations > 0) {
      iterations = (i + 1 == threads) ? iterations_left : config_.iterations * vus / config_.vus;
      iterations_left -= iterations;
      if (iterations == 0) continue;  // fewer iterations than workers
    }
    workers.push_back(std::make_unique<Worker>(static_cast<int>(i), config_, registry_, vus,
                                               iterations, start_ns));
  }
  for (auto& w : workers) w->Start();

  RunOutcome out;
  const bool tty = isatty(STDERR_FILENO) == 1;
  const int64_t progress_every = tty ? core::kNsPerSec : 10 * core::kNsPerSec;
  int64_t next_progress = start_ns + progress_every;
  int signals_seen = 0;
  auto all_done = [&] {
    for (auto& w : workers) {
      if (!w->progress().done.load(std::memory_order_acquire)) return false;
    }
    return true;
  };
  while (!all_done()) {
    int64_t now = clock.NowNs();
    int64_t wait = std::min<int64_t>(200'000'000, std::max<int64_t>(1, next_progress - now));
    if (int sig = signals.Wait(wait); sig != 0) {
      ++signals_seen;
      out.aborted_by_signal = true;
      bool hard = signals_seen >= 2;
      core::Warn("{}: {}", sig == SIGINT ? "interrupted" : "terminated",
                 hard ? "stopping now" : "stopping gracefully (again to stop now)");
      for (auto& w : workers) w->RequestStop(hard);
    }
    now = clock.NowNs();
    if (now >= next_progress) {
      if (!config_.quiet) {
        uint64_t reqs = 0, failed = 0;
        uint32_t vus = 0;
        for (auto& w : workers) {
          reqs += w->progress().requests.load(std::memory_order_relaxed);
          failed += w->progress().failed.load(std::memory_order_relaxed);
          vus += w->progress().active_vus.load(std::memory_order_relaxed);
        }
        double secs = static_cast<double>(now - start_ns) / 1e9;
        std::string total =
            config_.duration_ns > 0 ? "/" + FormatSeconds(config_.duration_ns) : std::string();
        std::string line = fmt::format("running {}{}  {} VUs  {} requests  {:.1f}/s  {} failed",
                                       FormatSeconds(now - start_ns), total, vus, reqs,
                                       secs > 0 ? reqs / secs : 0.0, failed);
        if (tty) {
          std::fprintf(stderr, "\r\033[K%s", line.c_str());
        } else {
          std::fprintf(stderr, "%s\n", line.c_str());
        }
        std::fflush(stderr);
      }
      next_progress += progress_every;
    }
  }
  if (tty && !config_.quiet) std::fprintf(stderr, "\r\033[K");
  for (auto& w : workers) w->Join();
  out.elapsed_ns = clock.NowNs() - start_ns;

  std::vector<const metrics::Shard*> shards;
  for (auto& w : workers) {
    shards.push_back(&w->shard());
    const WorkerResult& r = w->result();
    for (size_t i = 0; i < r.errors_by_type.size(); ++i) out.errors_by_type[i] += r.errors_by_type[i];
    out.interrupted_iterations += r.interrupted_iterations;
    out.connections_opened += r.connections_opened;
  }
  // The VU gauges are the run's, not a worker's: the closed model keeps them
  // constant at --vus.
  metrics::Shard run_shard(registry_);
  run_shard.Add(metrics::builtin::kVus, metrics::Shard::kNoTags, config_.vus);
  run_shard.Add(metrics::builtin::kVusMax, metrics::Shard::kNoTags, config_.vus);
  shards.push_back(&run_shard);
  out.snapshot = metrics::Snapshot::Merge(registry_, shards);
  out.snapshot.set_elapsed_ns(out.elapsed_ns);
  return out;
}

int Runner::Run() {
  RunOutcome out = Execute();
  report::SummaryOptions options;
  std::string summary = report::FormatSummary(out.snapshot, registry_, options);
  std::string errors;
  for (size_t i = 1; i < out.errors_by_type.size(); ++i) {
    if (out.errors_by_type[i] == 0) continue;
    errors += fmt::format("     {:<31} {}\n",
                          fmt::format("{} ", net::Name(static_cast<net::NetError>(i))),
                          out.errors_by_type[i]);
  }
  std::string header = fmt::format(
      "\n  execution: local\n     target: {} {}\n  scenarios: {} VUs, {}, closed model\n\n",
      config_.method, config_.url.Redacted(), config_.vus,
      config_.iterations > 0 ? fmt::format("{} iterations shared", config_.iterations)
                             : FormatSeconds(config_.duration_ns) + " duration");
  std::fputs(header.c_str(), stdout);
  std::fputs(summary.c_str(), stdout);
  if (!errors.empty()) {
    std::fputs("\n   errors by type:\n", stdout);
    std::fputs(errors.c_str(), stdout);
  }
  if (out.interrupted_iterations > 0) {
    std::fprintf(stdout, "\n   %llu in-flight requests interrupted by the stop\n",
                 static_cast<unsigned long long>(out.interrupted_iterations));
  }
  std::fflush(stdout);

  if (!config_.summary_export.empty()) {
    report::SummaryOptions json_options = options;
    json_options.trend_stats.push_back("p(99)");  // the export carries p(99) too
    nlohmann::json j = report::SummaryJson(out.snapshot, registry_, json_options);
    nlohmann::json errs = nlohmann::json::object();
    for (size_t i = 1; i < out.errors_by_type.size(); ++i) {
      if (out.errors_by_type[i] > 0) {
        errs[std::string(net::Name(static_cast<net::NetError>(i)))] = out.errors_by_type[i];
      }
    }
    j["errors"] = errs;
    std::ofstream f(config_.summary_export);
    f << j.dump(2) << "\n";
    if (!f) {
      core::Warn("cannot write --summary-export {}: check the directory exists and is writable",
                 config_.summary_export);
    }
  }
  return static_cast<int>(out.aborted_by_signal ? core::ExitCode::kAbortedBySignal
                                                : core::ExitCode::kOk);
}

}  // namespace stampede::engine
