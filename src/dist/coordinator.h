// The coordinator of a distributed run (`stampede coordinator SCRIPT
// --agents N`): the engine::AgentFleet the coordinator's runner drives, and
// the listener its agents talk to.
//
// Wire protocol: HTTP/1.1 on the project's one listener seam (http::Server,
// like the dashboard, /metrics and the OTLP receiver), JSON for control and
// dist/snapshot_codec.h's binary deltas for metrics. Why not gRPC, which we
// link: an exchange of one small request a second per agent needs no
// streaming, and HTTP here reuses the seam's limits (connections, header and
// body sizes, idle timeouts), the token check and the tooling (curl) of the
// other listeners; agents use libcurl, which the OTLP/HTTP exporter already
// links. Every request carries `Authorization: Bearer TOKEN`:
//
//   POST /v1/join    {"index", "host", "pid", "version"} → 200 the test: {"run_id",
//                    "agents", "index", "segment", "sequence", "script": {"name",
//                    "source"}, "files": [{"name", "base64"}], "args": [run flags],
//                    "report_every_ms", "grace_ms"}; 409 when the index is out of
//                    range or already running, or the versions differ
//   POST /v1/ready   {"index"} once the agent's script is initialised → {}
//   GET  /v1/start?index=I   {"state": "wait"} | {"state": "start", "in_ms",
//                    "setup_data"} | {"state": "cancel", "reason"}: the start
//                    barrier (agents poll; every agent starts at one instant,
//                    `in_ms` from the answer)
//   POST /v1/report?index=I  body: a SnapshotEncoder message →
//                    {"ack": AppliedSeq, "command": "none" | "stop" | "abort"};
//                    400 {"error", "ack"} for a message that cannot be decoded
//                    (the agent then starts a new epoch)
//   POST /v1/spans?index=I   body: an ExportTraceServiceRequest of the agent's
//                    request spans, for the run store (when the join said
//                    "forward_spans") → {}
//   POST /v1/done?index=I    {"exit_code", totals...} after the final report
// Wrong or missing token: 401, logged once per peer (never the token), never
// fatal. Reports are the heartbeat: an agent silent for heartbeat_timeout is
// lost — named on stderr and in the summary, the result is partial (exit
// 111), and with abort_on_agent_loss every other agent is stopped.
//
// Threads: construct, AwaitAgents, SetSetupData, Start, RequestStop, Join and
// the accessors from the runner's main thread; requests are handled on the
// server thread; a monitor thread checks heartbeats. One mutex guards the
// agents' table, the decoders and the merger.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "dist/snapshot_codec.h"
#include "dist/snapshot_merger.h"
#include "engine/remote.h"
#include "http/server.h"

namespace stampede::dist {

struct CoordinatorOptions {
  std::string listen = "127.0.0.1:6565";  // --listen HOST:PORT
  uint32_t agents = 1;                    // --agents N
  std::string token;                      // required: --token or STAMPEDE_TOKEN
  bool abort_on_agent_loss = false;       // --on-agent-loss abort
  std::chrono::milliseconds start_timeout{300'000};  // every agent joined and ready
  std::chrono::milliseconds heartbeat_timeout{5'000};
  std::chrono::milliseconds grace{30'000};  // told to agents: how long they outlive us

  // What every agent receives.
  std::string run_id;
  std::string script_name;  // the file name, written so in the agent's folder
  std::string script_source;
  std::vector<std::pair<std::string, std::string>> files;  // name → bytes
  std::vector<std::string> args;                           // run flags
  // The coordinator keeps a run store: agents forward their request spans
  // (POST /v1/spans), each up to spans_per_second / agents a second.
  bool forward_spans = false;
  uint32_t spans_per_second = 1000;
};

class Coordinator final : public engine::AgentFleet {
 public:
  // Binds the listener (core::ConfigError naming --listen when it cannot)
  // and prints `coordinator: listening on HOST:PORT for N agents` on stderr.
  Coordinator(const metrics::Registry& registry, CoordinatorOptions options);
  ~Coordinator() override;

  uint16_t port() const { return server_->port(); }
  std::string address() const { return server_->address(); }

  // engine::AgentFleet
  bool AwaitAgents(const std::function<bool(int64_t)>& wait) override;
  void SetSetupData(nlohmann::json data) override;
  void Start() override;
  void Join() override;
  void RequestStop(bool hard) override;
  std::shared_ptr<const metrics::Snapshot> Latest() const override;
  const metrics::Snapshot& Final() const override { return final_; }
  std::vector<std::string> Lost() const override;
  std::vector<std::string> AgentLines() const override;
  void Steer(const nlohmann::json& change) override;
  void SetSpanSink(std::function<void(std::string_view)> sink) override;

 private:
  enum class State { kAbsent, kJoined, kReady, kRunning, kDone, kLost };
  struct Agent {
    State state = State::kAbsent;
    std::string host;
    int64_t pid = 0;
    std::string peer;
    std::chrono::steady_clock::time_point last_seen{};
    std::unique_ptr<SnapshotDecoder> decoder;
    nlohmann::json totals;  // from /v1/done
    int exit_code = -1;
    uint64_t reports = 0;
    std::string lost_reason;
    bool told_cancel = false;  // polled /v1/start after the test was cancelled
    // The seq (and epoch) of the last report accepted: applied, or queued for
    // the next batch (the ack the agent gets).
    uint64_t accepted_seq = 0;
    uint64_t accepted_epoch = 0;
    uint32_t pending = 0;  // reports of this agent in pending_
    std::string refused;   // why the merge refused a queued report: the next reply
  };
  // A decoded report waiting for the batch (SnapshotMerger::ApplyBatch).
  struct Pending {
    uint32_t agent = 0;
    std::unique_ptr<DecodedDelta> delta;
  };
  // At most this many decoded reports wait (memory: ~1 MB each for 2 000
  // series at 30 samples a second; merge_bench: 64 merge as fast as 200).
  static constexpr size_t kMaxPending = 64;

  http::ServerResponse Handle(const http::ServerRequest& req);
  http::ServerResponse Join(const http::ServerRequest& req);
  http::ServerResponse Ready(const nlohmann::json& body);
  http::ServerResponse StartPoll(uint32_t index);
  http::ServerResponse Report(uint32_t index, const http::ServerRequest& req);
  http::ServerResponse Done(uint32_t index, const nlohmann::json& body);
  void MonitorLoop();
  // Applies the pending reports as one batch (mu_ held). Every reader of
  // the merge flushes first, so what it reads holds every acknowledged
  // report (the const readers through FlushForReading).
  void FlushLocked();
  void FlushForReading() const { const_cast<Coordinator*>(this)->FlushLocked(); }
  void UpdateProgress();  // mu_ held
  void FinishLocked();    // mu_ held: every agent done or lost
  std::string Describe(uint32_t index) const;  // mu_ held

  CoordinatorOptions options_;
  std::string join_reply_base_;  // serialized once (files can be large)
  nlohmann::json setup_data_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Agent> agents_;
  SnapshotMerger merger_;
  std::vector<Pending> pending_;
  std::vector<std::unique_ptr<DecodedDelta>> spare_;  // reused messages
  std::vector<SnapshotMerger::BatchItem> batch_;
  uint32_t pending_agents_ = 0;
  std::chrono::steady_clock::time_point oldest_pending_{};
  uint64_t merged_version_ = 0;
  mutable uint64_t latest_version_ = ~uint64_t{0};
  mutable std::shared_ptr<const metrics::Snapshot> latest_;
  bool started_ = false;
  std::chrono::steady_clock::time_point start_at_{};
  bool cancelled_ = false;
  std::string cancel_reason_;
  std::atomic<int> command_{0};  // 0 none, 1 stop, 2 abort
  // The dashboard's steering, sent with every report's answer (mu_).
  nlohmann::json steering_ = {{"version", 0}, {"paused", false}, {"scenarios", nlohmann::json::object()}};
  std::vector<std::string> refused_peers_;  // logged once each
  metrics::Snapshot final_;
  std::function<void(std::string_view)> span_sink_;  // set before the start
  std::atomic<uint64_t> spans_requests_{0};

  std::atomic<bool> stopping_{false};
  std::thread monitor_;
  std::unique_ptr<http::Server> server_;  // last: its thread uses the members above
};

}  // namespace stampede::dist
