// An agent's side of a distributed run (`stampede agent --coordinator
// HOST:PORT`): joining the coordinator, the start barrier, the per-second
// reports (dist/snapshot_codec.h deltas, acknowledged) and the end. The
// protocol is dist/coordinator.h's; HTTP through libcurl.
//
// Threads: JoinCoordinator and the CoordinatorLink calls from the agent's
// main thread (the runner's); Report() hands the snapshot to the link's own
// reporter thread, which does the HTTP, so the runner's loop never waits on
// the network. A coordinator that answers no report for `grace` is lost:
// command() becomes kStop and the agent stops gracefully (lost() says so).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include <nlohmann/json.hpp>

#include "dist/snapshot_codec.h"
#include "engine/remote.h"

namespace stampede::dist {

struct HttpReply {
  long status = 0;      // 0: no answer (error says why)
  std::string body;
  std::string error;
};

// One HTTP request to the coordinator with the token; bounded by `timeout`.
HttpReply CoordinatorCall(const std::string& method, const std::string& url,
                          const std::string& token, std::string_view body,
                          std::string_view content_type, std::chrono::milliseconds timeout);

// POST /v1/join until the coordinator answers (it may start after the agent:
// Kubernetes starts both Jobs at once), within `timeout`. Returns the test's
// description (dist/coordinator.h). Throws core::ConfigError with one line:
// a refused token, an index the coordinator refuses, or no coordinator in
// time.
nlohmann::json JoinCoordinator(const std::string& base_url, const std::string& token,
                               uint32_t index, std::chrono::milliseconds timeout);

class AgentLink final : public engine::CoordinatorLink {
 public:
  // `base_url`: "http://HOST:PORT". `grace`: how long the coordinator may
  // stay silent before the agent stops on its own.
  AgentLink(std::string base_url, std::string token, uint32_t index,
            std::chrono::milliseconds grace);
  ~AgentLink() override;

  // engine::CoordinatorLink
  std::optional<nlohmann::json> AwaitStart(const std::function<bool(int64_t)>& wait) override;
  void Report(std::shared_ptr<const metrics::Snapshot> cumulative, int64_t elapsed_ns) override;
  Command command() const override;
  nlohmann::json steering() const override;
  void ForwardSpans(std::string_view request) override;
  // Span batches dropped (queue full or the coordinator refused them).
  uint64_t spans_dropped() const { return spans_dropped_.load(); }
  void Finish(const metrics::Snapshot& final_snapshot, const nlohmann::json& totals) override;

  // After the summary: tells the coordinator this agent is done (bounded).
  void Done(int exit_code);
  // Whether the coordinator went silent for longer than the grace period.
  bool lost() const { return lost_.load(); }
  // Reports the coordinator acknowledged (for tests and the summary).
  uint64_t acked() const { return acked_reports_.load(); }

 private:
  void ReporterLoop();
  // Sends `snapshot` once; true when the coordinator acknowledged it.
  bool Send(const metrics::Snapshot& snapshot);
  void NoteFailure(const std::string& why);
  // Sends the queued span batches (the reporter's thread, or Finish).
  void SendSpans();

  const std::string base_url_;
  const std::string token_;
  const uint32_t index_;
  const std::chrono::milliseconds grace_;
  SnapshotEncoder encoder_;  // the reporter thread's; Finish's once it has stopped

  std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<const metrics::Snapshot> pending_;
  std::deque<std::string> span_batches_;  // ForwardSpans' queue (mu_)
  size_t span_bytes_ = 0;
  std::atomic<uint64_t> spans_dropped_{0};
  bool stop_ = false;
  std::thread reporter_;

  std::atomic<int> command_{0};  // 0 none, 1 stop, 2 abort
  mutable std::mutex steering_mu_;
  nlohmann::json steering_ = {{"version", 0}};
  std::atomic<bool> lost_{false};
  std::atomic<uint64_t> acked_reports_{0};
  std::chrono::steady_clock::time_point failing_since_{};
  bool failing_ = false;
  nlohmann::json totals_;
};

}  // namespace stampede::dist
