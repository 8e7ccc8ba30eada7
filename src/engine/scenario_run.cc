#include "engine/scenario_run.h"

namespace stampede::engine {

namespace mb = metrics::builtin;

void Slot::Run() { run.StartNext(*this); }
void Slot::OnTimer() { run.RampDownExpired(*this); }

void ScenarioRun::Schedule(int64_t test_start_ns) {
  t0_ = test_start_ns + sc_.start_time_ns;
  next_phase_ = Phase::kBegin;
  host_.loop().Schedule(phase_timer_, t0_);
}

void ScenarioRun::BeginGracefulStop() {
  if (state_ == State::kStopping || state_ == State::kDone) return;
  if (state_ == State::kWaiting) {
    host_.loop().Cancel(phase_timer_);
    state_ = State::kDone;
    return;
  }
  state_ = State::kStopping;
  host_.loop().Cancel(arrival_timer_);
  for (auto& s : slots_) SetActive(*s, false);
  next_phase_ = Phase::kGraceOver;
  host_.loop().Schedule(phase_timer_, host_.loop().UpdateNow() + sc_.graceful_stop_ns);
  CheckDone();
}

void ScenarioRun::HardStop() {
  host_.loop().Cancel(phase_timer_);
  host_.loop().Cancel(arrival_timer_);
  for (auto& s : slots_) {
    SetActive(*s, false);
    host_.loop().Cancel(static_cast<loop::Timer&>(*s));
    if (s->vu.busy()) {
      host_.BeforeInterrupt(*s);
      s->vu.Interrupt();
      --in_iteration_;
      ++host_.result().interrupted_iterations;
    }
  }
  state_ = State::kDone;
}

void ScenarioRun::StartNext(Slot& s) {
  --pending_;
  if (state_ != State::kRunning || !s.active || s.vu.busy()) {
    CheckDone();
    return;
  }
  if (host_.paused()) {
    held_.push_back(&s);  // capacity: one per slot at most, reserved in NewSlot
    return;
  }
  switch (sc_.type) {
    case ExecutorType::kSharedIterations:
      if (remaining_ == 0) {
        SetActive(s, false);
        CheckDone();
        return;
      }
      --remaining_;
      break;
    case ExecutorType::kPerVuIterations:
      if (s.own_left == 0) {
        SetActive(s, false);
        CheckDone();
        return;
      }
      --s.own_left;
      break;
    default:
      break;
  }
  ++in_iteration_;
  s.vu.StartIteration();
}

void ScenarioRun::IterationEnded(Slot& s) {
  --in_iteration_;
  if (IsArrivalRate()) {
    SetActive(s, false);
    idle_.push_back(&s);
    CheckDone();
    return;
  }
  Post(s);  // deferred: an iteration that never blocks cannot recurse
}

void ScenarioRun::Resume() {
  if (state_ != State::kRunning) {
    held_.clear();
    return;
  }
  for (Slot* s : held_) {
    if (s->active && !s->vu.busy()) Post(*s);
  }
  held_.clear();
  CheckDone();
}

void ScenarioRun::RampDownExpired(Slot& s) {
  if (!s.active && s.vu.busy()) {
    host_.BeforeInterrupt(s);
    s.vu.Interrupt();
    --in_iteration_;
    ++host_.result().interrupted_iterations;
    CheckDone();
  }
}

bool ScenarioRun::IsArrivalRate() const {
  return sc_.type == ExecutorType::kConstantArrivalRate ||
         sc_.type == ExecutorType::kRampingArrivalRate;
}

void ScenarioRun::SetActive(Slot& s, bool active) {
  if (s.active == active) return;
  s.active = active;
  active_count_ += active ? 1 : -1;
}

void ScenarioRun::Post(Slot& s) {
  if (s.posted()) return;
  ++pending_;
  host_.loop().Post(s);
}

Slot& ScenarioRun::NewSlot() {
  script::Vu& vu = host_.NewVu(sc_);
  slots_.push_back(std::make_unique<Slot>(*this, vu));
  held_.reserve(slots_.size());
  return *slots_.back();
}

void ScenarioRun::OnPhase() {
  int64_t now = host_.loop().UpdateNow();
  switch (next_phase_) {
    case Phase::kBegin:
      Begin(now);
      return;
    case Phase::kRampChange:
      ApplyRamp(now);
      return;
    case Phase::kEnd:
      BeginGracefulStop();
      return;
    case Phase::kGraceOver:
      HardStop();
      host_.ScenarioDone();
      return;
  }
}

void ScenarioRun::Begin(int64_t now) {
  // A VU executor with no VU on this worker still runs (idle) for its time:
  // the dashboard may give it VUs (set_vus).
  const bool steerable =
      sc_.type == ExecutorType::kConstantVus || sc_.type == ExecutorType::kRampingVus;
  if (!sc_.HasWork() && !steerable) {
    state_ = State::kDone;
    host_.ScenarioDone();
    return;
  }
  state_ = State::kRunning;
  int64_t end_ns = 0;
  switch (sc_.type) {
    case ExecutorType::kSharedIterations:
    case ExecutorType::kPerVuIterations:
    case ExecutorType::kConstantVus: {
      remaining_ = static_cast<uint64_t>(sc_.iterations);
      for (int64_t i = 0; i < sc_.vus; ++i) {
        Slot& s = NewSlot();
        SetActive(s, true);
        s.own_left = static_cast<uint64_t>(sc_.iterations);
        Post(s);
      }
      end_ns = t0_ + (sc_.type == ExecutorType::kConstantVus ? sc_.duration_ns
                                                              : sc_.max_duration_ns);
      break;
    }
    case ExecutorType::kRampingVus:
      ramp_ = std::make_unique<RampingVusSchedule>(sc_);
      ApplyRamp(now);
      return;  // ApplyRamp schedules the next phase
    case ExecutorType::kConstantArrivalRate:
    case ExecutorType::kRampingArrivalRate: {
      arrivals_ = std::make_unique<ArrivalSchedule>(ArrivalSchedule::For(sc_));
      for (int64_t i = 0; i < sc_.pre_allocated_vus; ++i) idle_.push_back(&NewSlot());
      next_arrival_ = 0;
      ScheduleArrival();
      end_ns = t0_ + arrivals_->DurationNs();
      break;
    }
  }
  next_phase_ = Phase::kEnd;
  host_.loop().Schedule(phase_timer_, end_ns);
}

void ScenarioRun::ApplyControl(int64_t vus, double rate) {
  if (state_ != State::kRunning) return;
  const int64_t now = host_.loop().UpdateNow();
  if (vus >= 0 && vus != global_vus_override_ &&
      (sc_.type == ExecutorType::kConstantVus || sc_.type == ExecutorType::kRampingVus)) {
    global_vus_override_ = vus;
    vus_override_ = static_cast<int64_t>(sc_.vu_stripe.CountBelow(static_cast<uint64_t>(vus)));
    SetVuTarget(vus_override_, now);
  }
  if (rate >= 0 && rate != dyn_rate_ && IsArrivalRate() && arrivals_) {
    dyn_ = true;
    dyn_rate_ = rate;
    dyn_per_ns_ = rate / static_cast<double>(sc_.time_unit_ns);
    dyn_t0_ = now;
    dyn_next_ = 0;
    host_.loop().Cancel(arrival_timer_);
    ScheduleArrival();
  }
}

void ScenarioRun::SetVuTarget(int64_t target, int64_t now) {
  // VUs are taken in order, so the active ones are always a prefix:
  // ramping up activates the next ones, ramping down releases the last.
  for (size_t i = static_cast<size_t>(active_count_); active_count_ < target; ++i) {
    Slot& s = i < slots_.size() ? *slots_[i] : NewSlot();
    SetActive(s, true);
    host_.loop().Cancel(static_cast<loop::Timer&>(s));
    if (!s.vu.busy()) Post(s);
  }
  for (size_t i = static_cast<size_t>(active_count_); active_count_ > target && i-- > 0;) {
    Slot& s = *slots_[i];
    SetActive(s, false);  // finishes its iteration, up to gracefulRampDown
    if (s.vu.busy()) {
      host_.loop().Schedule(static_cast<loop::Timer&>(s), now + sc_.graceful_ramp_down_ns);
    }
  }
}

void ScenarioRun::ApplyRamp(int64_t now) {
  int64_t t = now - t0_;
  int64_t target = vus_override_ >= 0 ? vus_override_ : ramp_->VusAt(t);
  SetVuTarget(target, now);
  int64_t next = ramp_->NextChangeNs(t);
  if (next == kNeverNs || next >= ramp_->TotalDurationNs()) {
    next_phase_ = Phase::kEnd;
    host_.loop().Schedule(phase_timer_, t0_ + ramp_->TotalDurationNs());
  } else {
    next_phase_ = Phase::kRampChange;
    host_.loop().Schedule(phase_timer_, t0_ + next);
  }
}

void ScenarioRun::ScheduleArrival() {
  if (dyn_) {
    // The steered schedule: global start g at dyn_t0_ + g / rate; this
    // worker owns the stripe's starts; none past the planned end.
    if (dyn_per_ns_ <= 0 || sc_.stripe.Empty()) return;
    const double g = static_cast<double>(sc_.stripe.Global(dyn_next_));
    const int64_t due = dyn_t0_ + static_cast<int64_t>(g / dyn_per_ns_);
    if (due >= t0_ + arrivals_->DurationNs()) return;
    host_.loop().Schedule(arrival_timer_, due);
    return;
  }
  if (next_arrival_ >= arrivals_->TotalArrivals()) return;
  host_.loop().Schedule(arrival_timer_, t0_ + arrivals_->ArrivalNs(next_arrival_));
}

void ScenarioRun::StartArrival(int64_t due, int64_t now) {
  if (host_.paused()) return;  // paused: this start is skipped, not dropped
  Slot* s = nullptr;
  if (!idle_.empty()) {
    s = idle_.back();
    idle_.pop_back();
  } else if (static_cast<int64_t>(slots_.size()) < sc_.max_vus) {
    s = &NewSlot();
  }
  if (s == nullptr) {
    host_.shard().Add(mb::kDroppedIterations, iteration_tags, 1);
    ++host_.result().dropped_iterations;
    return;
  }
  SetActive(*s, true);
  s->scheduled_ns = due;
  host_.shard().Add(mb::kIterationStartLag, iteration_tags, static_cast<double>(now - due));
  ++in_iteration_;
  s->vu.StartIteration();
}

void ScenarioRun::OnArrival() {
  if (state_ != State::kRunning) return;
  int64_t now = host_.loop().UpdateNow();
  if (dyn_) {
    const int64_t end = t0_ + arrivals_->DurationNs();
    while (dyn_per_ns_ > 0 && !sc_.stripe.Empty()) {
      const double g = static_cast<double>(sc_.stripe.Global(dyn_next_));
      const int64_t due = dyn_t0_ + static_cast<int64_t>(g / dyn_per_ns_);
      if (due > now || due >= end) break;
      ++dyn_next_;
      StartArrival(due, now);
    }
  } else {
    while (next_arrival_ < arrivals_->TotalArrivals()) {
      int64_t due = t0_ + arrivals_->ArrivalNs(next_arrival_);
      if (due > now) break;
      ++next_arrival_;
      StartArrival(due, now);
    }
  }
  ScheduleArrival();
}

void ScenarioRun::CheckDone() {
  if (state_ == State::kDone) return;
  bool any_busy = in_use() > 0;
  if (state_ == State::kRunning && !IsArrivalRate() && sc_.type != ExecutorType::kRampingVus &&
      sc_.type != ExecutorType::kConstantVus && active_count_ == 0 && !any_busy) {
    // Iteration-based executors end when their iterations are done.
    host_.loop().Cancel(phase_timer_);
    state_ = State::kDone;
  } else if (state_ == State::kStopping && !any_busy) {
    host_.loop().Cancel(phase_timer_);
    state_ = State::kDone;
  }
  if (state_ == State::kDone) host_.ScenarioDone();
}

}  // namespace stampede::engine
