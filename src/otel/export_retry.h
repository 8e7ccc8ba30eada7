// ExportWithRetry: one encoded OTLP request sent with the specification's
// retry rules (otel-spec.md §4); the loop shared by the span and metrics
// exporter threads (ExportPipeline, MetricsPipeline). Attempts run until
// `policy.deadline` or the shutdown deadline, whichever is first (re-read
// before every attempt), each with `attempt_timeout` cut to what remains.
// kOk ends it; kFailed is never retried; kRetryable waits the server's
// Retry-After, else an exponential backoff (initial_backoff doubling up to
// max_backoff) with jitter in [d/2, d], for at most `max_attempts` attempts; a
// wait that would end at or past the deadline gives up instead. Counting,
// warnings and stopping stay with the caller, through the hooks. Durations in
// ns. Never throws (unless a hook does); waits only through hooks.wait_until.
//
// Thread: the caller's (a pipeline's exporter thread); hooks run on it,
// synchronously. Everything passed is borrowed for the call only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "otel/exporter.h"

namespace stampede::otel {

struct RetryPolicy {
  std::chrono::steady_clock::time_point deadline;  // this export's end, waits included
  std::chrono::nanoseconds attempt_timeout{0};     // per attempt, cut to what remains
  int max_attempts = 1;                            // Export() calls, ≥ 1
  std::chrono::nanoseconds initial_backoff{0}, max_backoff{0};
};

struct RetryHooks {
  // The caller's xorshift64 jitter state (one per pipeline, ≠ 0); null: no jitter.
  uint64_t* jitter_state = nullptr;
  // Required: waits until the time given, false if stopping cuts it short
  // (give up); the shutdown deadline (time_point::max() while none).
  std::function<bool(std::chrono::steady_clock::time_point)> wait_until;
  std::function<std::chrono::steady_clock::time_point()> shutdown_deadline;
  // Optional: true to stop retrying (asked after a kRetryable answer and
  // before each retry); after every Export(); with the delay before a wait.
  std::function<bool()> abandon;
  std::function<void()> on_request;
  std::function<void(int64_t delay_ns)> on_backoff;
};

struct RetryOutcome {
  enum class Kind { kExported, kFailed, kNotSent /* deadline passed before the 1st attempt */ };
  Kind kind = Kind::kNotSent;
  uint64_t rejected = 0;  // kExported: partial success, clamped to [0, items]
  std::string message;    // kExported: the partial-success message; kFailed: the last cause
  int attempts = 0;       // Export() calls
  bool abandoned = false;  // kFailed because hooks.abandon() said so (not the collector)
};

// Sends `body` (an Export*ServiceRequest of `items` spans or data points).
// Returns within about the deadline, unless Export() or a hook outlasts it.
RetryOutcome ExportWithRetry(Exporter& exporter, std::string_view body, uint64_t items,
                             const RetryPolicy& policy, const RetryHooks& hooks);

}  // namespace stampede::otel
