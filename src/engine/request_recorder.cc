#include "engine/request_recorder.h"

#include <algorithm>
#include <charconv>
#include <string>

#include "metrics/export_model.h"

namespace stampede::engine {

namespace mb = metrics::builtin;

RequestRecorder::RequestRecorder(metrics::Shard& shard) : RequestRecorder(shard, RunConfig{}) {}

RequestRecorder::RequestRecorder(metrics::Shard& shard, const RunConfig& config)
    : shard_(shard), name_(config.url.Redacted()), method_(config.method) {
  by_status_.fill(kUnset);
  by_error_.fill(kUnset);
  auto id = shard.registry().Find("http_req_looking_up");
  looking_up_ = id ? *id : metrics::MetricId{~0u};
  const metrics::Registry& r = shard.registry();
  auto internal = [&](const char* name) {
    auto found = r.Find(name);
    return found && r.def(*found).internal ? *found : kNoMetric;
  };
  request_duration_ = internal(metrics::kHttpClientRequestDuration);
  open_connections_ = internal(metrics::kHttpClientOpenConnections);
  connection_duration_ = internal(metrics::kHttpClientConnectionDuration);
}

metrics::TagSetId RequestRecorder::SemconvTagsFor(metrics::TagSetId k6_tags,
                                                  const http::Origin* origin) {
  if (k6_tags >= semconv_by_tags_.size()) semconv_by_tags_.resize(k6_tags + 1);
  SemconvSlot& slot = semconv_by_tags_[k6_tags];
  if (slot.origin == origin && origin != nullptr) return slot.tags;
  // New (tag set, origin) pair: cold, copies the tags once.
  std::vector<metrics::TagPair> owned(shard_.tags(k6_tags).begin(), shard_.tags(k6_tags).end());
  std::vector<metrics::Tag> tags;
  tags.reserve(owned.size() + 2);
  for (const metrics::TagPair& t : owned) tags.push_back({t.key, t.value});
  std::string port;
  if (origin != nullptr) {
    port = std::to_string(http::OriginPort(*origin));
    tags.push_back({"server.address", http::OriginHost(*origin)});
    tags.push_back({"server.port", port});
  }
  slot.origin = origin;
  slot.tags = shard_.Intern(tags);
  return slot.tags;
}

metrics::TagSetId RequestRecorder::OriginTags(std::string_view host, uint16_t port,
                                              std::string_view state) {
  char port_text[8];
  auto r = std::to_chars(port_text, port_text + sizeof port_text, port);
  std::string_view port_view(port_text, static_cast<size_t>(r.ptr - port_text));
  if (state.empty()) {
    return shard_.Intern({{"server.address", host}, {"server.port", port_view}});
  }
  return shard_.Intern(
      {{"server.address", host}, {"server.port", port_view}, {"http.connection.state", state}});
}

void RequestRecorder::OnConnectionClosed(std::string_view host, uint16_t port,
                                         int64_t lifetime_ns) {
  if (connection_duration_ == kNoMetric) return;
  // Interning a tag set seen before neither sorts nor allocates.
  shard_.Add(connection_duration_, OriginTags(host, port, {}), static_cast<double>(lifetime_ns));
}

void RequestRecorder::SampleConnections(const http::Client& client) {
  if (open_connections_ == kNoMetric) return;
  client.ForEachOrigin([&](std::string_view host, uint16_t port, size_t open, size_t idle) {
    const size_t active = open >= idle ? open - idle : 0;
    for (int i = 0; i < 2; ++i) {
      std::string_view state = i == 0 ? "active" : "idle";
      const double now = static_cast<double>(i == 0 ? active : idle);
      scratch_.assign(host).append("\x1f").append(std::to_string(port)).append("\x1f").append(state);
      auto it = std::find_if(origin_counts_.begin(), origin_counts_.end(),
                             [&](const OriginCount& c) { return c.key == scratch_; });
      if (it == origin_counts_.end()) {
        if (now == 0) continue;  // nothing to report yet
        origin_counts_.push_back(OriginCount{scratch_, OriginTags(host, port, state), 0});
        it = origin_counts_.end() - 1;
      }
      if (now != it->last) {
        shard_.Add(open_connections_, it->tags, now - it->last);
        it->last = now;
      }
    }
  });
}

metrics::TagSetId RequestRecorder::TagsFor(const http::Exchange& ex) {
  if (ex.error == net::NetError::kNone && ex.status >= 0 && ex.status < 600) {
    const bool h2 = ex.http_version == 20;
    metrics::TagSetId& slot = by_status_[static_cast<size_t>(ex.status) + (h2 ? 600 : 0)];
    if (slot == kUnset) {
      std::string status = std::to_string(ex.status);
      slot = shard_.Intern({{"name", name_},
                            {"method", method_},
                            {"status", status},
                            {"proto", h2 ? "HTTP/2.0" : "HTTP/1.1"},
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
  if (request_duration_ != kNoMetric) {
    // http.client.request.duration: the CLIENT span's duration.
    shard_.Add(request_duration_, SemconvTagsFor(tags, ex.origin), ns(t.TotalNs()));
  }
}

}  // namespace stampede::engine
