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
#include "core/duration.h"
#include "core/error.h"
#include "core/log.h"
#include "otel/exported_spans.h"
#include "otel/trace_context.h"
#include "report/html_report.h"
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
          {"trace_url_template", c.trace_url_template.empty()
                                     ? nlohmann::json(nullptr)
                                     : nlohmann::json(c.trace_url_template)}};
}

// Where each scenario active at `elapsed_ns` (from the start of the load)
// stands: [{"scenario", "executor", "left_s" (until its regular end), and for
// staged executors "stage" (1-based), "stages", "target", "unit"}]. The
// schedule's clock: a pause does not stop it.
nlohmann::json StagesAt(const Plan& plan, int64_t elapsed_ns) {
  nlohmann::json out = nlohmann::json::array();
  for (const Scenario& sc : plan.scenarios) {
    const int64_t t = elapsed_ns - sc.start_time_ns;
    const int64_t regular = sc.RegularDurationNs();
    if (t < 0 || t >= regular) continue;
    nlohmann::json j{{"scenario", sc.name},
                     {"executor", std::string(ExecutorName(sc.type))},
                     {"left_s", static_cast<double>(regular - t) / 1e9}};
    if (!sc.stages.empty()) {
      int64_t stage_start = 0;
      for (size_t i = 0; i < sc.stages.size(); ++i) {
        const Stage& st = sc.stages[i];
        if (t < stage_start + st.duration_ns || i + 1 == sc.stages.size()) {
          j["stage"] = i + 1;
          j["stages"] = sc.stages.size();
          j["target"] = st.target;
          j["unit"] = sc.type == ExecutorType::kRampingVus
                          ? "VUs"
                          : "iterations/" + core::FormatDuration(std::chrono::nanoseconds(sc.time_unit_ns));
          j["stage_left_s"] =
              static_cast<double>(std::max<int64_t>(0, stage_start + st.duration_ns - t)) / 1e9;
          break;
        }
        stage_start += st.duration_ns;
      }
    }
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace

DashboardWiring::DashboardWiring(const RunConfig& c, const Plan* plan,
                                 const metrics::ThresholdSet& thresholds, int64_t start_unix_ns)
    : config_(c), plan_(plan), start_unix_ns_(start_unix_ns), slow_(start_unix_ns) {
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
  if (plan_ != nullptr) in.stages = StagesAt(*plan_, elapsed_ns);
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

std::function<void(std::string_view)> DashboardWiring::SpanHook(bool exported) {
  exemplar_source_.store(exported ? 2 : 1, std::memory_order_relaxed);
  return [this](std::string_view request) {
    otel::ForEachExportedRequestSpan(request, [&](const otel::ExportedRequestSpan& s) {
      if (!s.sampled()) return;
      ui::SlowRequest r;
      r.trace_id = otel::ToHex(s.trace_id);
      r.span_id = otel::ToHex(s.span_id);
      r.name = std::string(s.request_name);
      r.method = std::string(s.method);
      r.status = static_cast<int>(s.status_code);
      r.end_unix_ns = s.end_unix_ns;
      r.total_ms = static_cast<double>(s.end_unix_ns - s.start_unix_ns) / 1e6;
      r.duration_ms = s.http_req_duration_ns >= 0 ? static_cast<double>(s.http_req_duration_ns) / 1e6
                                                  : r.total_ms;
      slow_.Offer(std::move(r));
    });
  };
}

nlohmann::json DashboardWiring::Exemplars(int64_t from_unix_ms, int64_t to_unix_ms) {
  const int source = exemplar_source_.load(std::memory_order_relaxed);
  nlohmann::json list = nlohmann::json::array();
  for (const ui::SlowRequest& r :
       slow_.Slowest(from_unix_ms * 1'000'000, to_unix_ms * 1'000'000, 10)) {
    nlohmann::json j{{"trace_id", r.trace_id}, {"span_id", r.span_id},
                     {"name", r.name},         {"method", r.method},
                     {"status", r.status},     {"t", r.end_unix_ns / 1'000'000},
                     {"duration_ms", r.duration_ms}, {"total_ms", r.total_ms}};
    if (!config_.trace_url_template.empty()) {
      j["trace_url"] = report::ExpandTraceUrl(config_.trace_url_template, r.trace_id);
    }
    list.push_back(std::move(j));
  }
  return {{"available", source != 0},
          {"source", source == 2 ? "exported" : source == 1 ? "recorded" : "none"},
          {"waterfalls", !store_path_.empty()},
          {"requests", std::move(list)}};
}

ui::ControlResult DashboardWiring::Trace(std::string_view trace_id, std::string_view span_id,
                                         nlohmann::json& out) {
  if (store_path_.empty()) {
    return {404, "this run keeps no traces: the run store is off (--no-store)"};
  }
  std::lock_guard lock(reader_mu_);
  try {
    if (!reader_) reader_ = std::make_unique<store::RunReader>(store_path_);
    report::HtmlReportOptions options;
    options.trace_url_template = config_.trace_url_template;
    std::optional<nlohmann::json> view =
        report::TraceViewJson(*reader_, trace_id, span_id, options);
    if (!view) {
      return {404, "trace " + std::string(trace_id) +
                       " is not in the run store yet (a second is committed a few seconds after "
                       "it ends) or was not kept by its span budget"};
    }
    out = std::move(*view);
    return {};
  } catch (const std::exception& e) {
    reader_.reset();  // reopened on the next request
    return {503, std::string("cannot read the run store: ") + e.what()};
  }
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
  // A coordinator: the agents run the load; steering reaches them through
  // the fleet (a stop through the runner's RequestStop, as below).
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
    if (!config_.fleet && (!config_.execution || !config_.execution->started())) {
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
    if (config_.fleet) {
      config_.fleet->Steer({{"scenario", sc->name}, {vus ? "vus" : "rate", r.value}});
      value = {{"scenario", sc->name}, {vus ? "vus" : "rate", r.value}};
      std::lock_guard lock(mu_);
      steering_.push_back({NowUnixMs(), r.action, value, r.peer});
      return {};
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
    if (config_.fleet) config_.fleet->Steer({{"paused", r.action == "pause"}});
  } else if (r.action == "stop") {
    stop_requested_.store(true, std::memory_order_release);
  }
  std::lock_guard lock(mu_);
  steering_.push_back({NowUnixMs(), r.action, value, r.peer});
  return {};
}

}  // namespace stampede::engine
