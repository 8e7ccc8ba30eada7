#include "dist/agent_link.h"

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include <fmt/format.h>

#include "core/error.h"
#include "core/log.h"

namespace stampede::dist {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kVersion = "0.1.0";

size_t Collect(char* data, size_t size, size_t n, void* out) {
  auto* s = static_cast<std::string*>(out);
  if (s->size() + size * n > (size_t{256} << 20)) return 0;  // a reply is never this large
  s->append(data, size * n);
  return size * n;
}

std::string OneLine(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  if (s.size() > 300) s.resize(300);
  return s;
}

std::string ErrorOf(const HttpReply& r) {
  if (r.status == 0) return r.error;
  nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_string()) {
    return fmt::format("{} {}", r.status, j["error"].get<std::string>());
  }
  return fmt::format("HTTP {}", r.status);
}

}  // namespace

HttpReply CoordinatorCall(const std::string& method, const std::string& url,
                          const std::string& token, std::string_view body,
                          std::string_view content_type, std::chrono::milliseconds timeout) {
  HttpReply reply;
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    reply.error = "cannot create a libcurl handle";
    return reply;
  }
  curl_slist* headers = nullptr;
  const std::string auth = "Authorization: Bearer " + token;
  headers = curl_slist_append(headers, auth.c_str());
  if (!content_type.empty()) {
    headers = curl_slist_append(headers, ("Content-Type: " + std::string(content_type)).c_str());
  }
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::min<int64_t>(timeout.count(), 5000)));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");  // the coordinator is reached directly
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);
  if (method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  const CURLcode rc = curl_easy_perform(curl);
  if (rc == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
  } else {
    reply.error = curl_easy_strerror(rc);
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return reply;
}

nlohmann::json JoinCoordinator(const std::string& base_url, const std::string& token,
                               uint32_t index, std::chrono::milliseconds timeout) {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  const std::string body = nlohmann::json{{"index", index},
                                          {"host", host},
                                          {"pid", static_cast<int64_t>(getpid())},
                                          {"version", kVersion}}
                               .dump();
  const auto deadline = Clock::now() + timeout;
  std::string last;
  while (true) {
    HttpReply r = CoordinatorCall("POST", base_url + "/v1/join", token, body, "application/json",
                                  std::chrono::milliseconds(10'000));
    if (r.status == 200) {
      nlohmann::json test = nlohmann::json::parse(r.body, nullptr, false);
      if (test.is_object()) return test;
      throw core::ConfigError("agent: the coordinator at " + base_url + " sent a bad test description");
    }
    if (r.status == 401) {
      throw core::ConfigError("agent: the coordinator at " + base_url +
                              " refused the token: give the coordinator's with --token or "
                              "STAMPEDE_TOKEN");
    }
    if (r.status == 409 || r.status == 400) {
      throw core::ConfigError("agent: the coordinator at " + base_url + " refused agent " +
                              std::to_string(index) + ": " + OneLine(ErrorOf(r)));
    }
    last = ErrorOf(r);
    if (Clock::now() >= deadline) {
      throw core::ConfigError(fmt::format(
          "agent: no coordinator answered at {} within {} s ({}): check --coordinator and that "
          "`stampede coordinator` runs",
          base_url, timeout.count() / 1000, OneLine(last)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));  // it may not be up yet
  }
}

AgentLink::AgentLink(std::string base_url, std::string token, uint32_t index,
                     std::chrono::milliseconds grace)
    : base_url_(std::move(base_url)),
      token_(std::move(token)),
      index_(index),
      grace_(grace),
      encoder_(index) {}

AgentLink::~AgentLink() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (reporter_.joinable()) reporter_.join();
}

std::optional<nlohmann::json> AgentLink::AwaitStart(const std::function<bool(int64_t)>& wait) {
  const std::string ready = nlohmann::json{{"index", index_}}.dump();
  const std::string start_url = fmt::format("{}/v1/start?index={}", base_url_, index_);
  HttpReply r = CoordinatorCall("POST", base_url_ + "/v1/ready", token_, ready, "application/json",
                                std::chrono::milliseconds(10'000));
  if (r.status != 200) {
    core::Warn("agent {}: the coordinator refused `ready`: {}", index_, OneLine(ErrorOf(r)));
    return std::nullopt;
  }
  auto silent_since = Clock::now();
  while (true) {
    r = CoordinatorCall("GET", start_url, token_, {}, {}, std::chrono::milliseconds(5'000));
    if (r.status == 200) {
      silent_since = Clock::now();
      nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
      const std::string state = j.is_object() ? j.value("state", std::string()) : std::string();
      if (state == "start") {
        const int64_t in_ms = j.value("in_ms", int64_t{0});
        if (in_ms > 0 && wait(in_ms * 1'000'000)) return std::nullopt;
        reporter_ = std::thread([this] { ReporterLoop(); });
        return j.contains("setup_data") ? j["setup_data"] : nlohmann::json(nullptr);
      }
      if (state == "cancel") {
        core::Warn("agent {}: the coordinator cancelled the test: {}", index_,
                   j.value("reason", std::string("no reason given")));
        return std::nullopt;
      }
    } else if (Clock::now() - silent_since > grace_) {
      core::Warn("agent {}: the coordinator stopped answering before the start ({})", index_,
                 OneLine(ErrorOf(r)));
      lost_.store(true);
      return std::nullopt;
    }
    if (wait(50'000'000)) return std::nullopt;
  }
}

void AgentLink::Report(std::shared_ptr<const metrics::Snapshot> cumulative, int64_t) {
  {
    std::lock_guard lock(mu_);
    pending_ = std::move(cumulative);  // the newest wins: each is cumulative
  }
  cv_.notify_one();
}

engine::CoordinatorLink::Command AgentLink::command() const {
  switch (command_.load()) {
    case 2:
      return Command::kAbort;
    case 1:
      return Command::kStop;
    default:
      return Command::kNone;
  }
}

nlohmann::json AgentLink::steering() const {
  std::lock_guard lock(steering_mu_);
  return steering_;
}

void AgentLink::NoteFailure(const std::string& why) {
  const auto now = Clock::now();
  if (!failing_) {
    failing_ = true;
    failing_since_ = now;
    core::Warn("agent {}: a report to the coordinator failed ({}); retrying", index_, why);
  }
  if (now - failing_since_ > grace_ && !lost_.exchange(true)) {
    core::Warn("agent {}: no answer from the coordinator for {} s: stopping", index_,
               grace_.count() / 1000);
    int none = 0;
    command_.compare_exchange_strong(none, 1);
  }
}

bool AgentLink::Send(const metrics::Snapshot& snapshot) {
  const std::string body = encoder_.Encode(snapshot);
  const uint64_t seq = encoder_.last_seq();
  HttpReply r = CoordinatorCall("POST", fmt::format("{}/v1/report?index={}", base_url_, index_),
                                token_, body, "application/octet-stream",
                                std::chrono::milliseconds(10'000));
  nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
  if ((r.status == 200 || r.status == 400) && j.is_object() && j.contains("ack") &&
      j["ack"].is_number_unsigned()) {
    failing_ = false;
    if (r.status == 400) {
      core::Warn("agent {}: the coordinator refused a report ({}); resending everything", index_,
                 OneLine(ErrorOf(r)));
      encoder_.Reset();
      return false;
    }
    if (!encoder_.Ack(j["ack"].get<uint64_t>())) encoder_.Reset();
    if (auto st = j.find("steering"); st != j.end() && st->is_object()) {
      std::lock_guard lock(steering_mu_);
      if (st->value("version", uint64_t{0}) > steering_.value("version", uint64_t{0})) steering_ = *st;
    }
    const std::string c = j.value("command", std::string("none"));
    if (c == "abort") {
      command_.store(2);
    } else if (c == "stop") {
      int none = 0;
      command_.compare_exchange_strong(none, 1);
    }
    const bool acked = encoder_.acked_seq() == seq;
    if (acked) acked_reports_.fetch_add(1);
    return acked;
  }
  NoteFailure(ErrorOf(r));
  return false;
}

void AgentLink::ForwardSpans(std::string_view request) {
  constexpr size_t kMaxQueuedBytes = size_t{16} << 20;
  {
    std::lock_guard lock(mu_);
    if (span_bytes_ + request.size() > kMaxQueuedBytes) {
      spans_dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    span_bytes_ += request.size();
    span_batches_.emplace_back(request);
  }
  cv_.notify_one();
}

void AgentLink::SendSpans() {
  while (true) {
    std::string batch;
    {
      std::lock_guard lock(mu_);
      if (span_batches_.empty()) return;
      batch = std::move(span_batches_.front());
      span_batches_.pop_front();
      span_bytes_ -= batch.size();
    }
    if (lost_.load()) {
      spans_dropped_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    HttpReply r = CoordinatorCall("POST", fmt::format("{}/v1/spans?index={}", base_url_, index_),
                                  token_, batch, "application/x-protobuf",
                                  std::chrono::milliseconds(10'000));
    if (r.status != 200) spans_dropped_.fetch_add(1, std::memory_order_relaxed);
  }
}

void AgentLink::ReporterLoop() {
  std::unique_lock lock(mu_);
  std::shared_ptr<const metrics::Snapshot> last;
  while (true) {
    // A failed report is sent again with the next one (deltas cover gaps);
    // without a new snapshot, retry once a second so silence is noticed.
    cv_.wait_for(lock, std::chrono::seconds(1),
                 [this] { return stop_ || pending_ != nullptr || !span_batches_.empty(); });
    if (stop_) return;
    const bool report = pending_ != nullptr || (last != nullptr && span_batches_.empty());
    if (pending_) last = std::move(pending_);
    std::shared_ptr<const metrics::Snapshot> sending = report ? last : nullptr;
    lock.unlock();
    if (sending) Send(*sending);
    SendSpans();
    lock.lock();
  }
}

void AgentLink::Finish(const metrics::Snapshot& final_snapshot, const nlohmann::json& totals) {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (reporter_.joinable()) reporter_.join();
  totals_ = totals;
  if (lost_.load()) return;
  SendSpans();  // the last batches, flushed when the load ended
  // The final values, until acknowledged (bounded by the grace period).
  const auto deadline = Clock::now() + grace_;
  while (!Send(final_snapshot)) {
    if (Clock::now() >= deadline || lost_.load()) {
      core::Warn("agent {}: the coordinator did not acknowledge the final report", index_);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

void AgentLink::Done(int exit_code) {
  if (lost_.load()) return;
  nlohmann::json body = totals_.is_object() ? totals_ : nlohmann::json::object();
  body["exit_code"] = exit_code;
  const auto deadline = Clock::now() + std::min<std::chrono::milliseconds>(grace_, std::chrono::seconds(10));
  while (true) {
    HttpReply r = CoordinatorCall("POST", fmt::format("{}/v1/done?index={}", base_url_, index_),
                                  token_, body.dump(), "application/json",
                                  std::chrono::milliseconds(5'000));
    if (r.status == 200 || Clock::now() >= deadline) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace stampede::dist
