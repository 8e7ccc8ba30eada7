#include "script/vu.h"

#include <strings.h>

#include <algorithm>

extern "C" {
#include <lauxlib.h>
#include <lua.h>
}

#include "script/bindings.h"
#include "script/lua_json.h"
#include "script/vu_request.h"

namespace stampede::script {

class Vu::SleepTimer final : public loop::Timer {
 public:
  explicit SleepTimer(Vu& vu) : vu_(vu) {}
  void OnTimer() override { vu_.OnSleepDone(); }

 private:
  Vu& vu_;
};

Vu::Vu(Runtime& runtime, uint64_t id, std::string scenario, std::string exec,
       const Runtime::Pairs* scenario_tags, const Runtime::Pairs* scenario_env)
    : runtime_(runtime),
      id_(id),
      scenario_(std::move(scenario)),
      exec_(std::move(exec)),
      scenario_tags_(scenario_tags),
      scenario_env_(scenario_env),
      sleep_(std::make_unique<SleepTimer>(*this)),
      rng_(runtime.options().seed * 0x9E3779B97F4A7C15ull + id),
      response_callback_(runtime.init_response_callback()) {
  if (const auto& ex = runtime.options().execution) scenario_index_ = ex->ScenarioIndex(scenario_);
}

bool Vu::SetTag(std::string_view key, const std::string* value) {
  auto it = std::lower_bound(tags_.begin(), tags_.end(), key,
                             [](const auto& p, std::string_view k) { return p.first < k; });
  const bool found = it != tags_.end() && it->first == key;
  if (value == nullptr) {
    if (found) tags_.erase(it);
    return true;
  }
  if (found) {
    it->second = *value;
    return true;
  }
  if (tags_.size() >= kMaxVuTags) return false;
  tags_.insert(it, {std::string(key), *value});
  return true;
}

uint64_t Vu::ScenarioIteration() {
  if (scenario_iteration_ == UINT64_MAX) {
    const auto& ex = runtime_.options().execution;
    scenario_iteration_ = ex ? ex->NextScenarioIteration(scenario_index_) : iteration_ - 1;
  }
  return scenario_iteration_;
}

Vu::~Vu() {
  destroying_ = true;
  Interrupt();
  if (co_ref_ >= 0) luaL_unref(runtime_.state(), LUA_REGISTRYINDEX, co_ref_);
}

void Vu::EnsureCoroutine() {
  if (co_ != nullptr) return;
  lua_State* L = runtime_.state();
  co_ = lua_newthread(L);
  co_ref_ = luaL_ref(L, LUA_REGISTRYINDEX);
  runtime_.Register(co_, this);
}

Vu::Request& Vu::SlotAt(size_t i) {
  while (requests_.size() <= i) requests_.push_back(std::make_unique<Request>(*this));
  return *requests_[i];
}

void Vu::NewTrace() {
  otel::IdGenerator& ids = runtime_.ids();
  trace_id_ = ids.NewTraceId();
  iteration_span_ = ids.NewSpanId();
  trace_sampled_ = runtime_.options().sampler.ShouldSample(trace_id_, std::nullopt);
  trace_kept_ = false;
}

void Vu::RebuildGroupPath() {
  group_path_.clear();
  for (const std::string& g : groups_) {
    group_path_ += "::";
    group_path_ += g;
  }
}

void Vu::StartIteration() {
  EnsureCoroutine();
  ++iteration_;
  busy_ = true;
  scenario_iteration_ = UINT64_MAX;
  if (const auto& ex = runtime_.options().execution) {
    ex->IterationStarted(runtime_.options().worker_index, scenario_index_);
  }
  groups_.clear();
  group_path_.clear();
  cookies_.clear();  // as k6: each iteration starts with an empty cookie jar
  span_stack_.clear();
  if (runtime_.options().no_vu_connection_reuse) pool_key_ = runtime_.NewPoolKey();
  NewTrace();
  started_ns_ = runtime_.loop().UpdateNow();
  lua_settop(co_, 0);
  lua_getglobal(co_, exec_.c_str());
  if (!lua_isfunction(co_, -1)) {
    lua_settop(co_, 0);
    Finish("the script has no function \"" + exec_ + "\" (define it, or fix the scenario's exec)");
    return;
  }
  int nargs = 0;
  if (runtime_.setup_data_ref() >= 0) {
    lua_rawgeti(co_, LUA_REGISTRYINDEX, runtime_.setup_data_ref());
    nargs = 1;
  }
  Resume(nargs);
}

void Vu::Resume(int nargs) {
  int status = lua_resume(co_, nargs);
  if (status == LUA_YIELD) return;  // a binding recorded the pending operation
  if (status == 0) {
    std::string error;
    if (capture_result_ && lua_gettop(co_) > 0) {
      if (!LuaToJson(co_, 1, exec_ + "() result", &result_, &error)) error = "cannot pass on " + error;
    }
    lua_settop(co_, 0);
    Finish(error);
    return;
  }
  // The coroutine is dead after an error: drop it; the next iteration gets a
  // new one.
  std::string message = lua_isstring(co_, -1) ? lua_tostring(co_, -1) : "error object is not a string";
  lua_State* dead = co_;
  runtime_.Unregister(dead);
  luaL_unref(runtime_.state(), LUA_REGISTRYINDEX, co_ref_);
  co_ = nullptr;
  co_ref_ = -2;
  Finish(message);
}

// noVUConnectionReuse: the iteration's idle connections are closed, so that
// neither the next iteration nor another VU reuses them (k6 closes the VU's
// idle connections between iterations).
void Vu::ReleasePool() {
  if (pool_key_ == 0) return;
  runtime_.client().CloseIdle(pool_key_);
  pool_key_ = 0;
}

void Vu::AbandonAttachments(bool report) {
  while (!attachments_.empty()) {
    Attachment* a = attachments_.back();
    attachments_.pop_back();
    a->Abandon(report);
  }
}

int Vu::YieldForAttachment(lua_State* co) { return lua_yield(co, 0); }

void Vu::Finish(std::string_view error) {
  AbandonAttachments(true);
  ReleasePool();  // before the host may start the next iteration
  busy_ = false;
  if (const auto& ex = runtime_.options().execution) {
    ex->IterationCompleted(runtime_.options().worker_index);
  }
  if (ScriptHost* host = runtime_.host()) host->OnIterationEnd(*this, started_ns_, error);
}

void Vu::Interrupt() {
  if (!busy_) return;
  if (const auto& ex = runtime_.options().execution) {
    ex->IterationInterrupted(runtime_.options().worker_index);
  }
  for (size_t i = 0; i < pending_count_; ++i) {
    Request& r = *requests_[i];
    if (r.in_flight()) runtime_.client().Cancel(r);
  }
  outstanding_ = pending_count_ = 0;
  batch_in_flight_ = batch_next_ = 0;
  ReleasePool();
  AbandonAttachments(!destroying_);
  runtime_.loop().Cancel(*sleep_);
  if (co_ != nullptr) {
    runtime_.Unregister(co_);
    luaL_unref(runtime_.state(), LUA_REGISTRYINDEX, co_ref_);
    co_ = nullptr;
    co_ref_ = -2;
  }
  busy_ = false;
}

int Vu::StartRequestsAndYield(lua_State* co, size_t n, bool batch) {
  pending_count_ = n;
  outstanding_ = n;
  batch_ = batch;
  for (size_t i = 0; i < n; ++i) {
    Request& r = *requests_[i];
    r.done = false;
    r.batch_started = false;
    r.pool_key = pool_key_;
  }
  if (batch) {
    batch_next_ = 0;
    batch_in_flight_ = 0;
    batch_hosts_.clear();
    StartBatchRequests();
  } else {
    for (size_t i = 0; i < n; ++i) runtime_.client().Send(*requests_[i]);
  }
  return lua_yield(co, 0);
}

uint32_t& Vu::BatchHostCount(const http::Origin* origin) {
  for (auto& [o, count] : batch_hosts_) {
    if (o == origin) return count;
  }
  batch_hosts_.emplace_back(origin, 0);
  return batch_hosts_.back().second;
}

// Starts, in order, the batch's requests that fit under the limits; a request
// whose host is full is skipped for now (requests to other hosts go ahead).
// Send() never completes from inside itself, so nothing re-enters here.
void Vu::StartBatchRequests() {
  const uint32_t limit = runtime_.options().batch;
  const uint32_t per_host = runtime_.options().batch_per_host;
  while (batch_next_ < pending_count_ && requests_[batch_next_]->batch_started) ++batch_next_;
  for (size_t i = batch_next_; i < pending_count_; ++i) {
    if (limit != 0 && batch_in_flight_ >= limit) return;
    Request& r = *requests_[i];
    if (r.batch_started) continue;
    r.batch_host = r.origin;
    if (per_host != 0) {
      uint32_t& count = BatchHostCount(r.batch_host);
      if (count >= per_host) continue;
      ++count;
    }
    r.batch_started = true;
    ++batch_in_flight_;
    runtime_.client().Send(r);
  }
}

void Vu::OnRequestDone(Request& r) {
  if (FollowRedirect(*this, r)) return;  // the next hop is in flight
  r.done = true;
  if (batch_) {
    --batch_in_flight_;
    if (runtime_.options().batch_per_host != 0) --BatchHostCount(r.batch_host);
  }
  if (--outstanding_ > 0) {
    if (batch_) StartBatchRequests();
    return;
  }
  // Every request of the operation has ended: hand the responses to Lua.
  lua_State* co = co_;
  if (batch_) {
    lua_createtable(co, static_cast<int>(pending_count_), 0);
    for (size_t i = 0; i < pending_count_; ++i) {
      PushResponse(co, *requests_[i]);
      lua_rawseti(co, -2, static_cast<int>(i + 1));
    }
  } else {
    PushResponse(co, *requests_[0]);
  }
  pending_count_ = 0;
  Resume(1);
}

int Vu::SleepAndYield(lua_State* co, double seconds) {
  int64_t ns = static_cast<int64_t>(seconds * 1e9);
  runtime_.loop().Schedule(*sleep_, runtime_.loop().UpdateNow() + (ns > 0 ? ns : 0));
  return lua_yield(co, 0);
}

void Vu::OnSleepDone() { Resume(0); }

void Vu::StoreCookies(const std::string& host, const http::HeaderList& headers) {
  for (size_t i = 0; i < headers.size(); ++i) {
    std::string_view name = headers.name(i);
    if (name.size() != 10 || strncasecmp(name.data(), "set-cookie", 10) != 0) continue;
    std::string_view v = headers.value(i);
    std::string_view pair = v.substr(0, v.find(';'));
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    std::string key = host + "\t" + std::string(pair.substr(0, eq));
    std::string value(pair.substr(eq + 1));
    bool expired = v.find("Max-Age=0") != std::string_view::npos;
    bool found = false;
    for (size_t c = 0; c < cookies_.size(); ++c) {
      if (cookies_[c].first != key) continue;
      found = true;
      if (expired) {
        cookies_.erase(cookies_.begin() + static_cast<long>(c));
      } else {
        cookies_[c].second = value;
      }
      break;
    }
    if (!found && !expired) cookies_.emplace_back(std::move(key), std::move(value));
  }
}

const std::string* Vu::CookieHeaderFor(const std::string& host) const {
  if (cookies_.empty()) return nullptr;
  cookie_header_.clear();
  for (const auto& [key, value] : cookies_) {
    if (key.size() <= host.size() || key.compare(0, host.size(), host) != 0 ||
        key[host.size()] != '\t') {
      continue;
    }
    if (!cookie_header_.empty()) cookie_header_ += "; ";
    cookie_header_.append(key, host.size() + 1);
    cookie_header_ += '=';
    cookie_header_ += value;
  }
  return cookie_header_.empty() ? nullptr : &cookie_header_;
}

}  // namespace stampede::script
