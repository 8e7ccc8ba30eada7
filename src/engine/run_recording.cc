#include "engine/run_recording.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <ctime>

#include <fmt/format.h>

#include "core/log.h"
#include "otel/trace_context.h"
#include "core/duration.h"

namespace stampede::engine {
namespace {

class StoreOnly final : public otel::Exporter {
 public:
  otel::ExportResult Export(std::string_view, int64_t) override { return otel::ExportResult::Ok(); }
  std::string endpoint() const override { return "the run store"; }
};

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr) != 1) return "";
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

// stampede-runs/<local start time>-<run id>.db, under the working directory.
std::string DefaultStorePath(const std::string& run_id, int64_t start_unix_ns) {
  std::time_t t = static_cast<std::time_t>(start_unix_ns / 1'000'000'000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);
  return fmt::format("stampede-runs/{}-{}.db", stamp, run_id);
}

std::string HostName() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return host;
}

}  // namespace

RunRecording::RunRecording(const RunConfig& c, const nlohmann::json& script_options,
                           const metrics::ThresholdSet& thresholds, int64_t start_unix_ns)
    : config_(c) {
  if (c.store) OpenStore(script_options, thresholds, start_unix_ns);
  if (!c.collect_address.empty() || !c.collect_grpc_address.empty()) StartReceiver();
}

RunRecording::~RunRecording() = default;

std::unique_ptr<otel::Exporter> RunRecording::StoreOnlyExporter() {
  return std::make_unique<StoreOnly>();
}

std::function<void(std::string_view)> RunRecording::SpanHook() {
  if (!store_) return nullptr;
  store::RunStore* st = store_.get();
  return [st](std::string_view request) { st->AddClientSpans(request); };
}

void RunRecording::AddSnapshot(std::shared_ptr<const metrics::Snapshot> snapshot,
                               int64_t data_unix_ns) {
  if (store_) store_->AddSnapshot(std::move(snapshot), data_unix_ns);
}

void RunRecording::OpenStore(const nlohmann::json& script_options,
                             const metrics::ThresholdSet& thresholds, int64_t start_unix_ns) {
  const RunConfig& c = config_;
  store::StoreOptions so;
  so.path = c.store_path.empty() ? DefaultStorePath(c.run_id, start_unix_ns) : c.store_path;
  so.max_request_spans_per_second = c.store_spans_per_second;
  store::RunInfo info;
  info.run_id = c.run_id;
  info.stampede_version = "0.1.0";
  info.host = HostName();
  info.command_line = c.command_line;
  info.start_unix_ns = start_unix_ns;
  nlohmann::json options = script_options.is_object() ? script_options : nlohmann::json::object();
  if (c.script_path.empty()) {
    info.target = c.method + " " + c.url.Redacted();
    options["vus"] = c.vus;
    if (c.duration_ns > 0) options["duration"] = core::FormatDuration(std::chrono::nanoseconds(c.duration_ns));
    if (c.iterations > 0) options["iterations"] = c.iterations;
  } else {
    info.script_path = c.script_path;
    info.script_source = c.script_source;
    info.script_sha256 = Sha256Hex(c.script_source);
  }
  options.erase("thresholds");  // a column of their own
  info.options_json = options.dump();
  nlohmann::json by_metric = nlohmann::json::object();
  for (const metrics::MetricThresholdResults& m : thresholds.Results()) {
    for (const metrics::ThresholdResult& t : m.thresholds) by_metric[m.metric].push_back(t.source);
  }
  info.thresholds_json = by_metric.dump();
  store_path_ = so.path;
  store_ = std::make_unique<store::RunStore>(std::move(so), std::move(info));
}

void RunRecording::StartReceiver() {
  const RunConfig& c = config_;
  otel::ReceiverOptions ro;
  ro.http_address = c.collect_address;
  ro.grpc_address = c.collect_grpc_address;
  ro.forward_url = c.collect_forward;
  // The run's traces are those whose ids carry its tag (otel::IdGenerator).
  const uint32_t tag = otel::RunTraceTag(c.run_id);
  ro.accept_trace = [tag](const otel::TraceId& id) { return otel::HasRunTag(id, tag); };
  if (store_) {
    store::RunStore* st = store_.get();
    ro.on_spans = [st](std::string_view request, uint64_t) { st->AddServiceSpans(request); };
  } else {
    core::Warn("--collect without the run store (--no-store): received spans are only counted{}",
               c.collect_forward.empty() ? "" : " and forwarded");
  }
  receiver_ = std::make_unique<otel::OtlpReceiver>(std::move(ro));
  if (!c.collect_address.empty()) {
    core::Info("receiving spans over OTLP/HTTP at http://{}/v1/traces (traces {}...)",
               receiver_->http_address(), c.run_id.substr(0, 8));
  }
  if (!c.collect_grpc_address.empty()) {
    core::Info("receiving spans over OTLP/gRPC at {}", receiver_->grpc_address());
  }
}

std::optional<otel::ReceiverStats> RunRecording::StopReceiving(
    bool interrupted, const std::function<void(int64_t)>& wait) {
  if (!receiver_) return std::nullopt;
  if (config_.collect_linger_ns > 0 && !interrupted) {
    core::Info("receiving the service's last spans for {} ms (--collect-linger; Ctrl-C ends it)",
               config_.collect_linger_ns / 1'000'000);
    wait(config_.collect_linger_ns);
  }
  receiver_->Stop();
  return receiver_->stats();
}

std::string RunRecording::Finish(const store::RunEnd& end, bool received) {
  if (!store_) return "";
  store_->Finish(end);
  const store::StoreStats st = store_->stats();
  std::string spans = fmt::format("{} of stampede's spans kept", st.client_spans_kept);
  if (st.client_spans_not_kept > 0) {
    spans += fmt::format(" ({} over --store-spans-per-second)", st.client_spans_not_kept);
  }
  if (received) spans += fmt::format(", {} of the service's", st.service_spans_kept);
  if (st.dropped_inputs > 0) {
    spans += fmt::format(", {} inputs dropped (store behind)", st.dropped_inputs);
  }
  return fmt::format("\n   run store: {} ({} s, {})\n   report: stampede report {}\n",
                     store_path_, st.seconds_written, spans, store_path_);
}

}  // namespace stampede::engine
