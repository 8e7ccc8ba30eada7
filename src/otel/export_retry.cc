#include "otel/export_retry.h"

#include <algorithm>

namespace stampede::otel {

RetryOutcome ExportWithRetry(Exporter& exporter, std::string_view body, uint64_t items,
                             const RetryPolicy& policy, const RetryHooks& hooks) {
  using Clock = std::chrono::steady_clock;
  const auto abandon = [&] { return hooks.abandon && hooks.abandon(); };
  RetryOutcome out;
  out.kind = RetryOutcome::Kind::kFailed;
  int64_t backoff_ns = policy.initial_backoff.count();
  for (;;) {
    const auto deadline = std::min(policy.deadline, hooks.shutdown_deadline());
    const auto now = Clock::now();
    if (now >= deadline) {
      if (out.attempts == 0) out.kind = RetryOutcome::Kind::kNotSent;
      return out;  // else kFailed with the last cause
    }
    if (out.attempts > 0 && abandon()) {
      out.abandoned = true;
      return out;
    }
    const int64_t timeout_ns = std::min<int64_t>(
        policy.attempt_timeout.count(),
        std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - now).count());
    ExportResult r = exporter.Export(body, timeout_ns);
    ++out.attempts;
    if (hooks.on_request) hooks.on_request();
    out.message = std::move(r.message);
    if (r.kind == ExportResult::Kind::kOk) {
      out.kind = RetryOutcome::Kind::kExported;
      out.rejected =
          static_cast<uint64_t>(std::clamp<int64_t>(r.rejected, 0, static_cast<int64_t>(items)));
      return out;
    }
    if (r.kind == ExportResult::Kind::kFailed || out.attempts >= policy.max_attempts) return out;
    if (abandon()) {
      out.abandoned = true;
      return out;
    }
    int64_t delay_ns = backoff_ns;
    if (r.retry_after_ns.has_value()) {
      delay_ns = *r.retry_after_ns;
    } else if (uint64_t* s = hooks.jitter_state; s != nullptr) {
      // xorshift64 (a jitter source needs no quality, only no lock): [d/2, d].
      *s ^= *s << 13;
      *s ^= *s >> 7;
      *s ^= *s << 17;
      const int64_t half = std::max<int64_t>(backoff_ns / 2, 1);
      delay_ns = half + static_cast<int64_t>(*s % static_cast<uint64_t>(half + 1));
    }
    backoff_ns = std::min<int64_t>(backoff_ns * 2, policy.max_backoff.count());
    const auto resume = Clock::now() + std::chrono::nanoseconds(delay_ns);
    if (resume >= deadline) return out;
    if (hooks.on_backoff) hooks.on_backoff(delay_ns);
    if (!hooks.wait_until(resume)) return out;
  }
}

}  // namespace stampede::otel
