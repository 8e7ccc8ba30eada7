#include "script/execution.h"

#include <algorithm>

namespace stampede::script {

void Execution::Configure(std::vector<ScenarioInfo> scenarios, int workers, nlohmann::json options,
                          uint32_t instance_index, uint32_t instance_count) {
  scenarios_ = std::move(scenarios);
  scenario_numbers_ = std::make_unique<std::atomic<uint64_t>[]>(scenarios_.size());
  controls_ = std::make_unique<ScenarioControl[]>(scenarios_.size());
  for (size_t i = 0; i < scenarios_.size(); ++i) scenario_numbers_[i].store(0);
  workers_ = std::max(0, workers);
  slots_ = std::make_unique<Slot[]>(static_cast<size_t>(workers_));
  options_ = std::move(options);
  instance_index_ = instance_index;
  instance_count_ = std::max<uint32_t>(1, instance_count);
}

void Execution::SetStart(int64_t start_ns, int64_t start_unix_ns) {
  start_unix_ns_ = start_unix_ns;
  start_ns_.store(start_ns == 0 ? 1 : start_ns, std::memory_order_release);
}

int Execution::ScenarioIndex(std::string_view name) const {
  for (size_t i = 0; i < scenarios_.size(); ++i) {
    if (scenarios_[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

uint64_t Execution::NextScenarioIteration(int scenario) {
  if (scenario < 0 || static_cast<size_t>(scenario) >= scenarios_.size()) return 0;
  return scenario_numbers_[static_cast<size_t>(scenario)].fetch_add(1, std::memory_order_relaxed);
}

Execution::InstanceCounts Execution::Counts() const {
  InstanceCounts c;
  for (int i = 0; i < workers_; ++i) {
    const Slot& s = slots_[static_cast<size_t>(i)];
    c.iterations_completed += s.completed.load(std::memory_order_relaxed);
    c.iterations_interrupted += s.interrupted.load(std::memory_order_relaxed);
    c.vus_active += s.vus_active.load(std::memory_order_relaxed);
    c.vus_initialized += s.vus_initialized.load(std::memory_order_relaxed);
  }
  return c;
}

uint64_t Execution::ScenarioIterationsStarted(int scenario) const {
  if (scenario < 0 || static_cast<size_t>(scenario) >= kMaxScenarioSlots) return 0;
  uint64_t n = 0;
  for (int i = 0; i < workers_; ++i) {
    n += slots_[static_cast<size_t>(i)].started_in[scenario].load(std::memory_order_relaxed);
  }
  return n;
}

double Execution::Progress(int scenario, int64_t now_ns) const {
  if (scenario < 0 || static_cast<size_t>(scenario) >= scenarios_.size() || !started()) return 0;
  const ScenarioInfo& sc = scenarios_[static_cast<size_t>(scenario)];
  double by_time = 0;
  if (sc.duration_ns > 0) {
    int64_t elapsed = now_ns - start_ns() - sc.start_offset_ns;
    by_time = std::clamp(static_cast<double>(elapsed) / static_cast<double>(sc.duration_ns), 0.0, 1.0);
  }
  if (sc.total_iterations == 0) return by_time;
  // Iteration-based executors also end at maxDuration: whichever is further.
  double by_count = std::clamp(static_cast<double>(ScenarioIterationsStarted(scenario)) /
                                   static_cast<double>(sc.total_iterations),
                               0.0, 1.0);
  return std::max(by_time, by_count);
}

void Execution::SetScenarioVus(int index, int64_t vus) {
  if (index < 0 || static_cast<size_t>(index) >= scenarios_.size()) return;
  controls_[static_cast<size_t>(index)].vus.store(vus, std::memory_order_release);
  control_version_.fetch_add(1, std::memory_order_acq_rel);
}

void Execution::SetScenarioRate(int index, double rate) {
  if (index < 0 || static_cast<size_t>(index) >= scenarios_.size()) return;
  controls_[static_cast<size_t>(index)].rate.store(rate, std::memory_order_release);
  control_version_.fetch_add(1, std::memory_order_acq_rel);
}

int64_t Execution::scenario_vus(int index) const {
  if (index < 0 || static_cast<size_t>(index) >= scenarios_.size()) return -1;
  return controls_[static_cast<size_t>(index)].vus.load(std::memory_order_acquire);
}

double Execution::scenario_rate(int index) const {
  if (index < 0 || static_cast<size_t>(index) >= scenarios_.size()) return -1;
  return controls_[static_cast<size_t>(index)].rate.load(std::memory_order_acquire);
}

bool Execution::RequestAbort(std::string reason) {
  std::lock_guard<std::mutex> lock(abort_mu_);
  if (aborted_.load(std::memory_order_relaxed)) return false;
  abort_reason_ = std::move(reason);
  aborted_.store(true, std::memory_order_release);
  return true;
}

std::string Execution::abort_reason() const {
  std::lock_guard<std::mutex> lock(abort_mu_);
  return abort_reason_;
}

}  // namespace stampede::script
