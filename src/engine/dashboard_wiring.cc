#include "engine/dashboard_wiring.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

#include "core/clock.h"
#include "core/log.h"
#include "ui/dashboard_model.h"

namespace stampede::engine {
namespace {

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Starts `xdg-open url` detached (double fork: nothing to reap later);
// failures are ignored, a browser is a convenience.
void OpenBrowser(const std::string& url) {
  const char* display = std::getenv("DISPLAY");
  const char* wayland = std::getenv("WAYLAND_DISPLAY");
  if ((display == nullptr || *display == '\0') && (wayland == nullptr || *wayland == '\0')) return;
  const char* argv[] = {"xdg-open", url.c_str(), nullptr};
  pid_t pid = fork();
  if (pid < 0) return;
  if (pid == 0) {
    setsid();
    if (fork() != 0) _exit(0);
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
      dup2(null, 0);
      dup2(null, 1);
      dup2(null, 2);
    }
    execvp("xdg-open", const_cast<char* const*>(argv));
    _exit(127);
  }
  waitpid(pid, nullptr, 0);
}

nlohmann::json RunInfo(const RunConfig& c, const Plan* plan, const metrics::ThresholdSet& thresholds,
                       int64_t start_unix_ns, const std::optional<double>& total_s) {
  nlohmann::json scenarios = nlohmann::json::array();
  if (plan != nullptr) {
    for (const Scenario& sc : plan->scenarios) {
      scenarios.push_back({{"name", sc.name}, {"executor", std::string(ExecutorName(sc.type))}});
    }
  } else {
    scenarios.push_back(
        {{"name", "default"},
         {"executor", c.iterations > 0 ? "shared-iterations" : "constant-vus"}});
  }
  nlohmann::json th = nlohmann::json::array();
  for (const metrics::MetricThresholdResults& m : thresholds.Results()) {
    for (const metrics::ThresholdResult& t : m.thresholds) {
      th.push_back({{"metric", m.metric}, {"expr", t.source}});
    }
  }
  // Never headers, ENV, OTLP settings or the token: the page needs none.
  return {{"run_id", c.run_id},
          {"script", c.script_path.empty() ? nlohmann::json(nullptr) : nlohmann::json(c.script_path)},
          {"target", c.script_path.empty() ? nlohmann::json(c.url.Redacted()) : nlohmann::json(nullptr)},
          {"started_unix_ms", start_unix_ns / 1'000'000},
          {"total_duration_s", total_s ? nlohmann::json(*total_s) : nlohmann::json(nullptr)},
          {"scenarios", std::move(scenarios)},
          {"thresholds", std::move(th)},
          {"trace_url_template", nullptr}};
}

}  // namespace

DashboardWiring::DashboardWiring(const RunConfig& c, const Plan* plan,
                                 const metrics::ThresholdSet& thresholds, int64_t start_unix_ns)
    : config_(c), plan_(plan), start_unix_ns_(start_unix_ns) {
  const int64_t total_ns =
      plan != nullptr ? plan->TotalDurationNs() : (c.iterations > 0 ? 0 : c.duration_ns);
  if (total_ns > 0) total_duration_s_ = static_cast<double>(total_ns) / 1e9;
  ui::DashboardOptions o;
  o.address = c.ui_address;
  o.token = c.ui_token;
  // A token given explicitly is required, on loopback too (and that is how
  // the tests check the 401 without binding anything but loopback).
  if (!c.ui_token.empty()) o.token_required = true;
  o.run_info = RunInfo(c, plan, thresholds, start_unix_ns, total_duration_s_);
  dashboard_ = std::make_unique<ui::Dashboard>(std::move(o), this);
  std::string line = "dashboard: " + dashboard_->url();
  if (!dashboard_->loopback() && c.ui_token.empty()) line += "  token: " + dashboard_->token();
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
  if (c.ui_open) OpenBrowser(dashboard_->url());
}

DashboardWiring::~DashboardWiring() { dashboard_->Stop(); }

void DashboardWiring::Publish(std::shared_ptr<const metrics::Snapshot> snapshot,
                              int64_t data_unix_ns, int64_t elapsed_ns,
                              const metrics::ThresholdSet& thresholds,
                              const std::optional<otel::ExportPipelineStats>& spans) {
  ui::TickInputs in;
  in.t_unix_ms = data_unix_ns / 1'000'000;
  in.elapsed_s = static_cast<double>(elapsed_ns) / 1e9;
  if (prev_) in.interval_s = static_cast<double>(data_unix_ns - prev_data_unix_ns_) / 1e9;
  in.thresholds = ui::ThresholdsJson(thresholds);
  if (spans) in.spans = {{"exported", spans->spans_exported}, {"dropped", spans->spans_dropped}};
  in.total_duration_s = total_duration_s_;
  in.paused = config_.execution && config_.execution->paused();
  nlohmann::json steering = Steering();
  for (nlohmann::json& s : steering) s.erase("peer");
  in.steering = std::move(steering);
  dashboard_->Publish(ui::MakeTick(*snapshot, prev_.get(), in));
  prev_ = std::move(snapshot);
  prev_data_unix_ns_ = data_unix_ns;
  if (++ticks_ % 15 == 0) dashboard_->Heartbeat();
}

bool DashboardWiring::TakeStop() {
  if (stop_taken_ || !stop_requested_.load(std::memory_order_acquire)) return false;
  stop_taken_ = true;
  return true;
}

void DashboardWiring::End(const std::string& outcome, int exit_code,
                          const std::function<bool(int64_t)>& wait) {
  dashboard_->End({{"outcome", outcome}, {"exit_code", exit_code}});
  if (config_.ui_linger_ns > 0) {
    core::Info("dashboard: {} stays up for {} s (Ctrl-C ends it)", dashboard_->url(),
               config_.ui_linger_ns / core::kNsPerSec);
  }
  int64_t left = config_.ui_linger_ns;
  while (left > 0) {
    const int64_t slice = std::min<int64_t>(left, 15 * core::kNsPerSec);
    if (wait(slice)) break;
    left -= slice;
    dashboard_->Heartbeat();
  }
  dashboard_->Stop();
}

nlohmann::json DashboardWiring::Steering() const {
  std::lock_guard lock(mu_);
  nlohmann::json out = nlohmann::json::array();
  for (const Steer& s : steering_) {
    out.push_back({{"t", s.t_unix_ms}, {"action", s.action}, {"value", s.value}, {"peer", s.peer}});
  }
  return out;
}

std::string DashboardWiring::SteeringSummary() const {
  std::lock_guard lock(mu_);
  std::string text;
  for (const Steer& s : steering_) {
    const double at = static_cast<double>(s.t_unix_ms * 1'000'000 - start_unix_ns_) / 1e9;
    const char* what = s.action == "stop"     ? "stopped"
                       : s.action == "pause"  ? "paused"
                       : s.action == "resume" ? "resumed"
                                              : s.action.c_str();
    std::string detail;
    if (s.value.is_object() && s.value.contains("scenario")) {
      const bool vus = s.value.contains("vus");
      detail = fmt::format(" {} of scenario {} to {}", vus ? "VUs" : "rate",
                           s.value["scenario"].get<std::string>(),
                           (vus ? s.value["vus"] : s.value["rate"]).dump());
    }
    text += fmt::format("   {}{} from the dashboard at {:.1f}s (by {})\n",
                        s.action == "set_vus" || s.action == "set_rate" ? "set" : what, detail,
                        std::max(0.0, at), s.peer);
  }
  return text;
}

ui::ControlResult DashboardWiring::OnControl(const ui::ControlRequest& r) {
  nlohmann::json value = r.value;
  if (r.action == "set_vus" || r.action == "set_rate") {
    const bool vus = r.action == "set_vus";
    const auto fits = [vus](const Scenario& s) {
      return vus ? (s.type == ExecutorType::kConstantVus || s.type == ExecutorType::kRampingVus)
                 : (s.type == ExecutorType::kConstantArrivalRate ||
                    s.type == ExecutorType::kRampingArrivalRate);
    };
    const char* applies = vus ? "set_vus applies to constant-vus and ramping-vus scenarios"
                              : "set_rate applies to constant-arrival-rate and ramping-arrival-rate "
                                "scenarios";
    if (plan_ == nullptr) {
      return {400, r.action + " needs a script run: in --url mode the VU count is fixed"};
    }
    if (!config_.execution || !config_.execution->started()) {
      return {409, "the load has not started yet (setup() is running)"};
    }
    const Scenario* sc = nullptr;
    int candidates = 0;
    for (const Scenario& s : plan_->scenarios) {
      if (!r.scenario.empty() ? s.name == r.scenario : fits(s)) {
        sc = &s;
        ++candidates;
      }
    }
    if (sc == nullptr && !r.scenario.empty()) {
      return {400, "no scenario named \"" + r.scenario + "\""};
    }
    if (sc == nullptr || candidates > 1) {
      return {400, std::string("name the scenario (\"scenario\": NAME): ") + applies};
    }
    if (!fits(*sc)) {
      return {400, "scenario \"" + sc->name + "\" runs " + std::string(ExecutorName(sc->type)) +
                       "; " + applies};
    }
    const double limit = vus ? 100000 : 1e6;
    if (!r.value.is_number() || r.value.get<double>() < 0 || r.value.get<double>() > limit ||
        (vus && r.value.get<double>() != std::floor(r.value.get<double>()))) {
      return {400, std::string("\"value\" must be ") +
                       (vus ? "a whole number of VUs from 0 to 100000"
                            : "a rate from 0 to 1000000 iterations per timeUnit")};
    }
    const int index = config_.execution->ScenarioIndex(sc->name);
    if (vus) {
      config_.execution->SetScenarioVus(index, static_cast<int64_t>(r.value.get<double>()));
    } else {
      config_.execution->SetScenarioRate(index, r.value.get<double>());
    }
    value = {{"scenario", sc->name}, {vus ? "vus" : "rate", r.value}};
  } else if (r.action == "pause" || r.action == "resume") {
    if (config_.execution) config_.execution->SetPaused(r.action == "pause");
  } else if (r.action == "stop") {
    stop_requested_.store(true, std::memory_order_release);
  }
  std::lock_guard lock(mu_);
  steering_.push_back({NowUnixMs(), r.action, value, r.peer});
  return {};
}

}  // namespace stampede::engine
