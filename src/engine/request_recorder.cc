#include "engine/request_recorder.h"

#include <string>

namespace stampede::engine {

namespace mb = metrics::builtin;

RequestRecorder::RequestRecorder(metrics::Shard& shard) : RequestRecorder(shard, RunConfig{}) {}

RequestRecorder::RequestRecorder(metrics::Shard& shard, const RunConfig& config)
    : shard_(shard), name_(config.url.Redacted()), method_(config.method) {
  by_status_.fill(kUnset);
  by_error_.fill(kUnset);
  auto id = shard.registry().Find("http_req_looking_up");
  looking_up_ = id ? *id : metrics::MetricId{~0u};
}

metrics::TagSetId RequestRecorder::TagsFor(const http::Exchange& ex) {
  if (ex.error == net::NetError::kNone && ex.status >= 0 && ex.status < 600) {
    metrics::TagSetId& slot = by_status_[static_cast<size_t>(ex.status)];
    if (slot == kUnset) {
      std::string status = std::to_string(ex.status);
      slot = shard_.Intern({{"name", name_},
                            {"method", method_},
                            {"status", status},
                            {"expected_response", Failed(ex) ? "false" : "true"}});
    }
    return slot;
  }
  size_t index = static_cast<size_t>(ex.error) % by_error_.size();
  metrics::TagSetId& slot = by_error_[index];
  if (slot == kUnset) {
    std::string status = std::to_string(ex.error == net::NetError::kNone ? ex.status : 0);
    slot = shard_.Intern({{"name", name_},
                          {"method", method_},
                          {"status", status},
                          {"error_code", net::Name(ex.error)},
                          {"expected_response", "false"}});
  }
  return slot;
}

void RequestRecorder::Record(const http::Exchange& ex) {
  RecordHttp(ex, TagsFor(ex), Failed(ex));
  shard_.Add(mb::kIterations, metrics::Shard::kNoTags, 1);
  shard_.Add(mb::kIterationDuration, metrics::Shard::kNoTags,
             static_cast<double>(ex.timings.TotalNs()));
}

void RequestRecorder::RecordHttp(const http::Exchange& ex, metrics::TagSetId tags,
                                 std::optional<bool> failed) {
  const http::Timings& t = ex.timings;
  const auto ns = [](int64_t v) { return static_cast<double>(v); };
  shard_.Add(mb::kHttpReqs, tags, 1);
  shard_.Add(mb::kHttpReqDuration, tags, ns(t.DurationNs()));
  shard_.Add(mb::kHttpReqBlocked, tags, ns(t.BlockedNs()));
  shard_.Add(mb::kHttpReqConnecting, tags, ns(t.ConnectingNs()));
  shard_.Add(mb::kHttpReqTlsHandshaking, tags, ns(t.TlsNs()));
  shard_.Add(mb::kHttpReqSending, tags, ns(t.SendingNs()));
  shard_.Add(mb::kHttpReqWaiting, tags, ns(t.WaitingNs()));
  shard_.Add(mb::kHttpReqReceiving, tags, ns(t.ReceivingNs()));
  if (looking_up_ != ~0u) shard_.Add(looking_up_, tags, ns(t.DnsNs()));
  if (failed) shard_.Add(mb::kHttpReqFailed, tags, *failed ? 1 : 0);
  shard_.Add(mb::kDataSent, tags, static_cast<double>(ex.bytes_sent));
  shard_.Add(mb::kDataReceived, tags, static_cast<double>(ex.bytes_received));
}

}  // namespace stampede::engine
