#include "dist/coordinator.h"

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

#include "core/base64.h"
#include "core/error.h"
#include "core/secret.h"
#include "core/log.h"

namespace stampede::dist {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::string_view kJson = "application/json";
constexpr const char* kVersion = "0.1.0";

http::ServerResponse Reply(int status, const nlohmann::json& body) {
  return http::ServerResponse::Text(status, std::string(kJson),
                                    body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

http::ServerResponse Error(int status, std::string_view message) {
  return Reply(status, {{"error", message}});
}

// ?index=I: digits only.
std::optional<uint32_t> IndexParam(const http::ServerRequest& req) {
  const std::optional<std::string_view> v = req.QueryParam("index");
  if (!v || v->empty() || v->size() > 6) return std::nullopt;
  uint32_t n = 0;
  for (char c : *v) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint32_t>(c - '0');
  }
  return n;
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

Coordinator::Coordinator(const metrics::Registry& registry, CoordinatorOptions options)
    : engine::AgentFleet(registry),
      options_(std::move(options)),
      agents_(options_.agents),
      merger_(options_.agents) {
  if (options_.agents == 0) throw core::ConfigError("--agents must be at least 1");
  if (options_.token.empty()) {
    throw core::ConfigError(
        "the coordinator needs a token: give --token TOKEN or set STAMPEDE_TOKEN (agents need the "
        "same)");
  }
  for (uint32_t i = 0; i < options_.agents; ++i) {
    agents_[i].decoder = std::make_unique<SnapshotDecoder>(i);
  }
  nlohmann::json files = nlohmann::json::array();
  for (const auto& [name, bytes] : options_.files) {
    files.push_back({{"name", name}, {"base64", core::Base64Encode(bytes)}});
  }
  nlohmann::json base = {{"run_id", options_.run_id},
                         {"agents", options_.agents},
                         {"script", {{"name", options_.script_name},
                                     {"source", options_.script_source}}},
                         {"files", std::move(files)},
                         {"args", options_.args},
                         {"report_every_ms", 1000},
                         {"grace_ms", options_.grace.count()},
                         {"forward_spans", options_.forward_spans},
                         {"spans_per_second",
                          std::max<uint32_t>(1, options_.spans_per_second / options_.agents)},
                         {"version", kVersion}};
  join_reply_base_ = base.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);

  http::ServerOptions so;
  so.address = options_.listen;
  so.option_name = "--listen";
  so.max_connections = std::max<size_t>(64, 2 * static_cast<size_t>(options_.agents) + 16);
  so.max_body_bytes = size_t{64} << 20;  // a report of many series (DecodeLimits)
  so.thread_name = "stampede-coord";
  so.exposure_note = "; every request needs the token";
  server_ = std::make_unique<http::Server>(
      so, [this](const http::ServerRequest& req) { return Handle(req); });
  std::fprintf(stderr, "coordinator: listening on %s for %u agents\n", server_->address().c_str(),
               options_.agents);
  std::fflush(stderr);
  monitor_ = std::thread([this] { MonitorLoop(); });
}

Coordinator::~Coordinator() {
  stopping_.store(true);
  cv_.notify_all();
  if (monitor_.joinable()) monitor_.join();
  if (server_) server_->Stop();
}

std::string Coordinator::Describe(uint32_t index) const {
  const Agent& a = agents_[index];
  if (a.state == State::kAbsent) return fmt::format("agent {}", index);
  return fmt::format("agent {} ({}:{}, {})", index, a.host, a.pid, a.peer);
}

// ---------------------------------------------------------------- main ---

bool Coordinator::AwaitAgents(const std::function<bool(int64_t)>& wait) {
  const auto deadline = Clock::now() + options_.start_timeout;
  auto last_note = Clock::now();
  while (true) {
    std::vector<uint32_t> missing;
    {
      std::lock_guard lock(mu_);
      for (uint32_t i = 0; i < options_.agents; ++i) {
        if (agents_[i].state != State::kReady) missing.push_back(i);
      }
    }
    if (missing.empty()) return true;
    if (Clock::now() >= deadline) {
      std::string names;
      for (uint32_t i : missing) names += (names.empty() ? "" : ", ") + std::to_string(i);
      {
        std::lock_guard lock(mu_);
        cancelled_ = true;
        cancel_reason_ = "not every agent arrived in time";
      }
      // The agents that came hear it before the listener goes (they poll
      // every 50 ms; bounded at 2 s), so they stop at once instead of
      // waiting out their grace period.
      for (int i = 0; i < 40; ++i) {
        bool told = true;
        {
          std::lock_guard lock(mu_);
          for (const Agent& a : agents_) {
            told = told && (a.state != State::kReady || a.told_cancel);
          }
        }
        if (told || wait(50'000'000)) break;
      }
      throw core::ConfigError(fmt::format(
          "coordinator: agents {} did not join and get ready within {} s (--start-timeout): "
          "check they run `stampede agent --coordinator {}` with the same token",
          names, options_.start_timeout.count() / 1000, server_->address()));
    }
    if (Clock::now() - last_note > std::chrono::seconds(10)) {
      last_note = Clock::now();
      core::Info("coordinator: waiting for {} of {} agents", missing.size(), options_.agents);
    }
    if (wait(50'000'000)) {
      std::lock_guard lock(mu_);
      cancelled_ = true;
      cancel_reason_ = "the coordinator was interrupted before the start";
      return false;
    }
  }
}

void Coordinator::SetSetupData(nlohmann::json data) {
  std::lock_guard lock(mu_);
  setup_data_ = std::move(data);
}

void Coordinator::Start() {
  std::lock_guard lock(mu_);
  // Far enough ahead that every agent's next poll (every 50 ms) sees it.
  start_at_ = Clock::now() + std::chrono::milliseconds(300);
  started_ = true;
  for (Agent& a : agents_) {
    a.state = State::kRunning;
    a.last_seen = start_at_;
  }
  UpdateProgress();
}

void Coordinator::RequestStop(bool hard) {
  int want = hard ? 2 : 1;
  int cur = command_.load();
  while (cur < want && !command_.compare_exchange_weak(cur, want)) {
  }
}

void Coordinator::Join() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return progress_.done.load() || stopping_.load(); });
  FlushLocked();
  final_ = merger_.Merged();
  // The agents' totals, summed into the fleet's result (the summary's
  // errors by type, interrupted iterations...).
  for (const Agent& a : agents_) {
    const nlohmann::json& t = a.totals;
    if (!t.is_object()) continue;
    auto u = [&](const char* key) { return t.value(key, uint64_t{0}); };
    result_.interrupted_iterations += u("interrupted_iterations");
    result_.connections_opened += u("connections_opened");
    result_.requests_retried += u("requests_retried");
    result_.script_errors += u("script_errors");
    result_.dropped_iterations += u("dropped_iterations");
    if (result_.first_script_error.empty()) {
      result_.first_script_error = t.value("first_script_error", std::string());
    }
    if (auto e = t.find("errors_by_type"); e != t.end() && e->is_array()) {
      for (size_t i = 0; i < e->size() && i < result_.errors_by_type.size(); ++i) {
        if ((*e)[i].is_number_unsigned()) result_.errors_by_type[i] += (*e)[i].get<uint64_t>();
      }
    }
  }
}

std::shared_ptr<const metrics::Snapshot> Coordinator::Latest() const {
  std::lock_guard lock(mu_);
  FlushForReading();
  if (merged_version_ == 0) return nullptr;
  if (latest_version_ != merged_version_) {
    latest_ = std::make_shared<const metrics::Snapshot>(merger_.Merged());
    latest_version_ = merged_version_;
  }
  return latest_;
}

std::vector<std::string> Coordinator::Lost() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (uint32_t i = 0; i < options_.agents; ++i) {
    if (agents_[i].state == State::kLost) {
      out.push_back(Describe(i) + ": " + agents_[i].lost_reason);
    }
  }
  return out;
}

std::vector<std::string> Coordinator::AgentLines() const {
  std::lock_guard lock(mu_);
  FlushForReading();
  std::vector<std::string> out;
  for (uint32_t i = 0; i < options_.agents; ++i) {
    const Agent& a = agents_[i];
    const metrics::Snapshot own = merger_.Agent(i);
    double reqs = 0;
    if (auto id = own.FindMetric("http_reqs")) reqs = own.Aggregate(*id).count;
    std::string state = a.state == State::kDone   ? fmt::format("exit {}", a.exit_code)
                        : a.state == State::kLost ? "LOST"
                                                  : "no end report";
    out.push_back(fmt::format("{}: {:.0f} requests, {} reports, {}", Describe(i), reqs, a.reports,
                              state));
  }
  return out;
}

void Coordinator::SetSpanSink(std::function<void(std::string_view)> sink) {
  std::lock_guard lock(mu_);
  span_sink_ = std::move(sink);
}

void Coordinator::Steer(const nlohmann::json& change) {
  std::lock_guard lock(mu_);
  if (change.contains("paused")) steering_["paused"] = change["paused"];
  if (change.contains("scenario")) {
    nlohmann::json& sc = steering_["scenarios"][change["scenario"].get<std::string>()];
    if (change.contains("vus")) sc = {{"vus", change["vus"]}};
    if (change.contains("rate")) sc = {{"rate", change["rate"]}};
  }
  steering_["version"] = steering_["version"].get<uint64_t>() + 1;
}

// --------------------------------------------------------- monitoring ---

void Coordinator::MonitorLoop() {
  std::unique_lock lock(mu_);
  while (!stopping_.load()) {
    cv_.wait_for(lock, std::chrono::milliseconds(100));
    if (!started_ || progress_.done.load()) continue;
    const auto now = Clock::now();
    // Reports of agents that did not all report within a while (one is
    // slow, lost or done) are merged without waiting for the others.
    if (!pending_.empty() && now - oldest_pending_ > std::chrono::milliseconds(300)) {
      FlushLocked();
    }
    for (uint32_t i = 0; i < options_.agents; ++i) {
      Agent& a = agents_[i];
      if (a.state != State::kRunning || now - a.last_seen <= options_.heartbeat_timeout) continue;
      a.state = State::kLost;
      a.lost_reason = fmt::format("no report for {:.1f} s", Seconds(now - a.last_seen));
      core::Warn("coordinator: {} lost: {}; the result will be partial{}", Describe(i),
                 a.lost_reason,
                 options_.abort_on_agent_loss ? " (--on-agent-loss abort: stopping every agent)"
                                              : "");
      if (options_.abort_on_agent_loss) RequestStop(false);
    }
    FinishLocked();
  }
}

void Coordinator::FinishLocked() {
  bool all = started_;
  for (const Agent& a : agents_) all = all && (a.state == State::kDone || a.state == State::kLost);
  if (all && !progress_.done.load()) {
    FlushLocked();
    UpdateProgress();
    progress_.done.store(true, std::memory_order_release);
    cv_.notify_all();
  }
}

void Coordinator::UpdateProgress() {
  const metrics::Snapshot& m = merger_.Merged();
  auto total = [&](const char* name, bool passes) -> double {
    auto id = m.FindMetric(name);
    if (!id) return 0;
    metrics::SeriesValue v = m.Aggregate(*id);
    return passes ? static_cast<double>(v.passes) : (v.type == metrics::MetricType::kGauge ? v.value : v.count);
  };
  progress_.requests.store(static_cast<uint64_t>(total("http_reqs", false)), std::memory_order_relaxed);
  progress_.failed.store(static_cast<uint64_t>(total("http_req_failed", true)), std::memory_order_relaxed);
  progress_.active_vus.store(static_cast<uint32_t>(total("vus", false)), std::memory_order_relaxed);
  progress_.allocated_vus.store(static_cast<uint32_t>(total("vus_max", false)),
                                std::memory_order_relaxed);
}

// ----------------------------------------------------------- handlers ---

http::ServerResponse Coordinator::Handle(const http::ServerRequest& req) {
  std::string_view given;
  if (auto auth = req.Header("Authorization"); auth && auth->rfind("Bearer ", 0) == 0) {
    given = auth->substr(7);
  }
  if (given.empty() || !core::SameSecret(given, options_.token)) {
    std::lock_guard lock(mu_);
    const std::string host = req.peer.substr(0, req.peer.rfind(':'));
    if (std::find(refused_peers_.begin(), refused_peers_.end(), host) == refused_peers_.end() &&
        refused_peers_.size() < 1000) {
      refused_peers_.push_back(host);
      core::Warn("coordinator: refused {} {} from {}: {} token", req.method, req.path, req.peer,
                 given.empty() ? "no" : "a wrong");
    }
    return Error(401, "wrong or missing token: give the coordinator's (Authorization: Bearer)");
  }
  if (req.path == "/v1/join") {
    if (req.method != "POST") return Error(405, "use POST");
    return Join(req);
  }
  if (req.path == "/v1/start") {
    if (req.method != "GET") return Error(405, "use GET");
    auto index = IndexParam(req);
    if (!index || *index >= options_.agents) return Error(400, "give ?index=I of a joined agent");
    return StartPoll(*index);
  }
  if (req.path == "/v1/report") {
    if (req.method != "POST") return Error(405, "use POST");
    auto index = IndexParam(req);
    if (!index || *index >= options_.agents) return Error(400, "give ?index=I of a joined agent");
    return Report(*index, req);
  }
  if (req.path == "/v1/spans") {
    if (req.method != "POST") return Error(405, "use POST");
    auto index = IndexParam(req);
    if (!index || *index >= options_.agents) return Error(400, "give ?index=I of a joined agent");
    std::function<void(std::string_view)> sink;
    {
      std::lock_guard lock(mu_);
      sink = span_sink_;
    }
    // The store copies and returns at once (bounded queue: drops and counts).
    if (sink) sink(req.body);
    spans_requests_.fetch_add(1, std::memory_order_relaxed);
    return Reply(200, nlohmann::json::object());
  }
  if (req.path == "/v1/ready" || req.path == "/v1/done") {
    if (req.method != "POST") return Error(405, "use POST");
    nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) return Error(400, "the body must be a JSON object");
    if (req.path == "/v1/ready") return Ready(body);
    auto index = IndexParam(req);
    if (!index || *index >= options_.agents) return Error(400, "give ?index=I of a joined agent");
    return Done(*index, body);
  }
  return Error(404, "not found");
}

http::ServerResponse Coordinator::Join(const http::ServerRequest& req) {
  nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object() || !body.contains("index") ||
      !body["index"].is_number_unsigned()) {
    return Error(400, "the body must be {\"index\": I, ...}");
  }
  const uint64_t index = body["index"].get<uint64_t>();
  if (index >= options_.agents) {
    return Error(409, fmt::format("agent index {} is out of range: this test has {} agents (0 .. {})",
                                  index, options_.agents, options_.agents - 1));
  }
  if (body.value("version", std::string()) != kVersion) {
    return Error(409, fmt::format("agent version {} differs from the coordinator's {}",
                                  body.value("version", std::string("?")), kVersion));
  }
  std::lock_guard lock(mu_);
  Agent& a = agents_[index];
  if (cancelled_) return Error(409, "the test was cancelled: " + cancel_reason_);
  if (started_ || a.state == State::kRunning || a.state == State::kDone) {
    return Error(409, fmt::format("agent {} is already running this test", index));
  }
  // A restarted agent (a pod replaced before the start) joins again.
  a.state = State::kJoined;
  a.host = body.value("host", std::string("?"));
  a.pid = body.value("pid", int64_t{0});
  a.peer = req.peer;
  a.last_seen = Clock::now();
  a.decoder->Reset();
  core::Info("coordinator: {} joined", Describe(static_cast<uint32_t>(index)));
  // The test's description, plus this agent's segment of N equal ones.
  std::string sequence = "0";
  for (uint32_t i = 1; i <= options_.agents; ++i) sequence += fmt::format(",{}/{}", i, options_.agents);
  const std::string segment =
      fmt::format("{}/{}:{}/{}", index, options_.agents, index + 1, options_.agents);
  std::string reply = join_reply_base_;
  reply.pop_back();  // '}'
  reply += fmt::format(",\"index\":{},\"segment\":\"{}\",\"sequence\":\"{}\"}}", index, segment,
                       sequence);
  return http::ServerResponse::Text(200, std::string(kJson), std::move(reply));
}

http::ServerResponse Coordinator::Ready(const nlohmann::json& body) {
  if (!body.contains("index") || !body["index"].is_number_unsigned() ||
      body["index"].get<uint64_t>() >= options_.agents) {
    return Error(400, "give {\"index\": I} of a joined agent");
  }
  const auto index = static_cast<uint32_t>(body["index"].get<uint64_t>());
  std::lock_guard lock(mu_);
  Agent& a = agents_[index];
  if (a.state != State::kJoined && a.state != State::kReady) {
    return Error(409, fmt::format("agent {} has not joined (or already started)", index));
  }
  a.state = State::kReady;
  a.last_seen = Clock::now();
  core::Info("coordinator: {} ready", Describe(index));
  return Reply(200, nlohmann::json::object());
}

http::ServerResponse Coordinator::StartPoll(uint32_t index) {
  std::lock_guard lock(mu_);
  Agent& a = agents_[index];
  if (cancelled_) {
    a.told_cancel = true;
    return Reply(200, {{"state", "cancel"}, {"reason", cancel_reason_}});
  }
  if (!started_) {
    if (a.state == State::kReady || a.state == State::kJoined) a.last_seen = Clock::now();
    return Reply(200, {{"state", "wait"}});
  }
  const auto in = std::chrono::duration_cast<std::chrono::milliseconds>(start_at_ - Clock::now());
  return Reply(200, {{"state", "start"},
                     {"in_ms", std::max<int64_t>(0, in.count())},
                     {"setup_data", setup_data_}});
}

http::ServerResponse Coordinator::Report(uint32_t index, const http::ServerRequest& req) {
  std::lock_guard lock(mu_);
  Agent& a = agents_[index];
  const char* command = command_.load() == 2 ? "abort" : command_.load() == 1 ? "stop" : "none";
  if (a.state == State::kLost) {
    // Too late: its load is no longer awaited (the result is already partial).
    return Reply(200, {{"ack", a.accepted_seq}, {"command", "stop"}});
  }
  if (a.state != State::kRunning && a.state != State::kDone) {
    return Error(409, fmt::format("agent {} is not running", index));
  }
  a.last_seen = Clock::now();
  if (!a.refused.empty()) {
    // The merge refused a report it had acknowledged (a batch): the agent
    // starts a new epoch, as for an undecodable one.
    std::string why = std::move(a.refused);
    a.refused.clear();
    return Reply(400, {{"error", why}, {"ack", a.accepted_seq}});
  }
  std::unique_ptr<DecodedDelta> delta;
  if (spare_.empty()) {
    delta = std::make_unique<DecodedDelta>();
  } else {
    delta = std::move(spare_.back());
    spare_.pop_back();
  }
  try {
    a.decoder->Decode(std::string_view(req.body), *delta);
  } catch (const std::exception& e) {
    // Undecodable: the agent starts a new epoch with an absolute message;
    // its last merged values stand meanwhile.
    core::Warn("coordinator: a report of {} was refused: {}", Describe(index), e.what());
    a.decoder->Reset();
    spare_.push_back(std::move(delta));
    return Reply(400, {{"error", e.what()}, {"ack", a.accepted_seq}});
  }
  // The merger's own rules (SnapshotMerger::Apply), checked now so that
  // the ack is final: a retry of an accepted report, or a delta from a base
  // the coordinator does not hold, is ignored; the ack tells the agent where
  // it stands.
  const bool stale = delta->seq <= a.accepted_seq;
  const bool other_base = !delta->absolute() &&
                          (delta->base_seq != a.accepted_seq || delta->epoch != a.accepted_epoch);
  if (stale || other_base) {
    spare_.push_back(std::move(delta));
  } else {
    a.accepted_seq = delta->seq;
    a.accepted_epoch = delta->epoch;
    ++a.reports;
    if (a.pending++ == 0) ++pending_agents_;
    if (pending_.empty()) oldest_pending_ = Clock::now();
    pending_.push_back({index, std::move(delta)});
    // A batch once every running agent has reported (they report together,
    // from one start instant), or when it is full.
    uint32_t running = 0;
    for (const Agent& x : agents_) running += x.state == State::kRunning;
    if (pending_.size() >= kMaxPending || pending_agents_ >= running) FlushLocked();
  }
  return Reply(200, {{"ack", a.accepted_seq}, {"command", command}, {"steering", steering_}});
}

void Coordinator::FlushLocked() {
  if (pending_.empty()) return;
  batch_.resize(pending_.size());
  for (size_t i = 0; i < pending_.size(); ++i) {
    batch_[i].agent = pending_[i].agent;
    batch_[i].delta = pending_[i].delta.get();
  }
  merger_.ApplyBatch(batch_);
  for (size_t i = 0; i < pending_.size(); ++i) {
    const SnapshotMerger::BatchItem& item = batch_[i];
    Agent& a = agents_[item.agent];
    a.pending = 0;
    if (!item.error.empty() && a.refused.empty()) {
      // Contradicts another agent (a metric with two types): the agent is
      // told with its next report and starts a new epoch.
      core::Warn("coordinator: a report of {} was refused: {}", Describe(item.agent), item.error);
      a.decoder->Reset();
      a.refused = item.error;
      a.accepted_seq = merger_.AppliedSeq(item.agent);
      a.accepted_epoch = 0;
    }
    spare_.push_back(std::move(pending_[i].delta));
  }
  pending_.clear();
  pending_agents_ = 0;
  ++merged_version_;
  UpdateProgress();
}

http::ServerResponse Coordinator::Done(uint32_t index, const nlohmann::json& body) {
  std::lock_guard lock(mu_);
  Agent& a = agents_[index];
  if (a.state == State::kRunning) {
    a.state = State::kDone;
    a.totals = body;
    a.exit_code = body.value("exit_code", -1);
    core::Info("coordinator: {} finished", Describe(index));
    FinishLocked();
  }
  return Reply(200, nlohmann::json::object());
}

}  // namespace stampede::dist
