#include "script/runtime.h"

extern "C" {
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
}

#include <fstream>
#include <sstream>

#include "script/bindings.h"
#include "script/lua_json.h"
#include "script/vu.h"

namespace stampede::script {
namespace {

// Message handler for init: the error plus file:line (Lua already prefixes
// the position for errors raised in Lua code).
int InitErrorHandler(lua_State* L) {
  if (!lua_isstring(L, 1)) lua_pushliteral(L, "error object is not a string");
  return 1;
}

// Distinct URL texts kept parsed; past this, a URL is parsed per request.
constexpr size_t kMaxTargets = 4096;

}  // namespace

Runtime::Runtime(const RuntimeOptions& options, loop::EventLoop& loop, http::Client& client)
    : options_(options), loop_(loop), client_(client) {
  if (options_.user_agent) writer_ = http::RequestWriter(*options_.user_agent);
  if (options_.run_tag != 0) ids_.set_run_tag(options_.run_tag);
  L_ = luaL_newstate();
  if (L_ == nullptr) throw ScriptError("cannot create a Lua state (out of memory)");
  luaL_openlibs(L_);
  OpenBindings(L_, *this);
  lua_pushcfunction(L_, InitErrorHandler);
  std::string chunk = "@" + options_.script_path;
  if (luaL_loadbuffer(L_, options_.source.data(), options_.source.size(), chunk.c_str()) != 0) {
    std::string msg = lua_tostring(L_, -1);
    lua_close(L_);
    L_ = nullptr;
    throw ScriptError("syntax error: " + msg);
  }
  if (lua_pcall(L_, 0, 0, -2) != 0) {
    std::string msg = lua_tostring(L_, -1);
    lua_close(L_);
    L_ = nullptr;
    throw ScriptError("error at init: " + msg);
  }
  lua_settop(L_, 0);
  in_init_ = false;
}

void Runtime::ApplyScriptOptions(const RuntimeOptions& o) {
  ++options_generation_;
  options_.discard_response_bodies = o.discard_response_bodies;
  options_.no_connection_reuse = o.no_connection_reuse;
  options_.no_vu_connection_reuse = o.no_vu_connection_reuse;
  options_.http2_prior_knowledge = o.http2_prior_knowledge;
  options_.batch = o.batch;
  options_.batch_per_host = o.batch_per_host;
  if (o.user_agent != options_.user_agent) {
    options_.user_agent = o.user_agent;
    writer_ = options_.user_agent ? http::RequestWriter(*options_.user_agent)
                                  : http::RequestWriter();
  }
}

Runtime::~Runtime() {
  vus_.clear();
  if (L_ != nullptr) lua_close(L_);
}

nlohmann::json Runtime::Options() const {
  lua_getglobal(L_, "options");
  nlohmann::json out;
  std::string error;
  bool ok = lua_isnil(L_, -1) || LuaToJson(L_, -1, "options", &out, &error);
  lua_pop(L_, 1);
  if (!ok) throw ScriptError("invalid options: " + error);
  return out;
}

bool Runtime::HasFunction(std::string_view name) const {
  lua_getglobal(L_, std::string(name).c_str());
  bool is_fn = lua_isfunction(L_, -1);
  lua_pop(L_, 1);
  return is_fn;
}

Vu& Runtime::NewVu(uint64_t id, std::string scenario, std::string exec, const Pairs* scenario_tags,
                   const Pairs* scenario_env) {
  vus_.push_back(std::make_unique<Vu>(*this, id, std::move(scenario), std::move(exec),
                                      scenario_tags, scenario_env));
  return *vus_.back();
}

void Runtime::SetSetupData(const nlohmann::json& data) {
  if (setup_data_ref_ >= 0) luaL_unref(L_, LUA_REGISTRYINDEX, setup_data_ref_);
  setup_data_ref_ = LUA_NOREF;
  if (data.is_null()) return;
  PushJson(L_, data);
  setup_data_ref_ = luaL_ref(L_, LUA_REGISTRYINDEX);
}

Vu* Runtime::VuFor(lua_State* co) const {
  if (co == last_thread_) return last_vu_;
  auto it = vus_by_thread_.find(co);
  last_thread_ = co;
  last_vu_ = it == vus_by_thread_.end() ? nullptr : it->second;
  return last_vu_;
}

const Runtime::TargetRef* Runtime::FindTarget(std::string_view url, std::string* error) {
  auto it = targets_.find(url);
  if (it != targets_.end()) return &it->second;
  std::optional<http::Url> parsed = http::TryParseUrl(url, "URL", error);
  if (!parsed) return nullptr;
  auto target = std::make_shared<Target>();
  target->url = std::move(*parsed);
  target->origin = client_.GetOrigin(target->url);
  target->redacted = target->url.Redacted();
  target->host_header = target->url.HostHeader();
  // Bounded: unique URLs churn. Requests in flight hold their own references.
  if (targets_.size() >= kMaxTargets) targets_.clear();
  auto [pos, _] = targets_.emplace(std::string(url), std::move(target));
  return &pos->second;
}

std::string Runtime::ResolveScriptPath(std::string_view path) const {
  std::string p(path);
  if (!p.empty() && p[0] != '/') {
    size_t slash = options_.script_path.rfind('/');
    if (slash != std::string::npos) p = options_.script_path.substr(0, slash + 1) + p;
  }
  return p;
}

std::string Runtime::ReadFileForOpen(std::string_view path, std::string* error) {
  std::string p = ResolveScriptPath(path);
  auto it = open_cache_.find(p);
  if (it != open_cache_.end()) return it->second;
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    *error = "cannot read \"" + p + "\"";
    return {};
  }
  std::ostringstream s;
  s << in.rdbuf();
  return open_cache_[p] = s.str();
}

int Runtime::DefineMetric(const MetricDefinition& def, std::string* error) {
  static constexpr const char* kKindNames[] = {"counter", "gauge", "rate", "trend"};
  auto describe = [](MetricKind kind, bool is_time) {
    return std::string(kKindNames[static_cast<int>(kind)]) + (is_time ? " of times" : "");
  };
  for (size_t i = 0; i < custom_metrics_.size(); ++i) {
    const CustomMetric& m = custom_metrics_[i];
    if (m.name != def.name) continue;
    if (m.kind == def.kind && m.is_time == def.is_time) return static_cast<int>(i);
    *error = "metric \"" + m.name + "\" is already defined as a " + describe(m.kind, m.is_time) +
             "; it cannot be redefined as a " + describe(def.kind, def.is_time);
    return -1;
  }
  auto id = static_cast<uint32_t>(custom_metrics_.size());
  if (options_.define_metric) {
    error->clear();
    id = options_.define_metric(def, error);
    if (!error->empty()) return -1;
  }
  custom_metrics_.push_back(CustomMetric{std::string(def.name), def.kind, def.is_time, id});
  return static_cast<int>(custom_metrics_.size() - 1);
}

// setup() and teardown() run in a VU of their own; the loop is driven here
// until the function returns, bounded by `timeout_ns`.
nlohmann::json Runtime::RunLifecycle(const char* name, bool pass_data, int64_t timeout_ns) {
  if (!HasFunction(name)) return nullptr;
  class Capture final : public ScriptHost {
   public:
    explicit Capture(ScriptHost* inner) : inner_(inner) {}
    void OnRequest(Vu& vu, const http::Exchange& ex, const std::vector<Tag>& tags,
                   ResponseVerdict verdict, const RequestTrace& trace) override {
      if (inner_) inner_->OnRequest(vu, ex, tags, verdict, trace);
    }
    void OnCheck(Vu& vu, std::string_view n, bool passed, const std::vector<Tag>& tags) override {
      if (inner_) inner_->OnCheck(vu, n, passed, tags);
    }
    void OnGroupEnd(Vu& vu, int64_t duration_ns, const std::vector<Tag>& tags) override {
      if (inner_) inner_->OnGroupEnd(vu, duration_ns, tags);
    }
    void OnMetric(Vu& vu, uint32_t metric, double value, const std::vector<Tag>& tags) override {
      if (inner_) inner_->OnMetric(vu, metric, value, tags);
    }
    void OnWsMetric(Vu& vu, WsMetric metric, double value, const std::vector<Tag>& tags) override {
      if (inner_) inner_->OnWsMetric(vu, metric, value, tags);
    }
    void OnWsSessionEnd(Vu& vu, const WsSessionEnd& ws) override {
      if (inner_) inner_->OnWsSessionEnd(vu, ws);
    }
    void OnIterationEnd(Vu&, int64_t, std::string_view error) override {
      done = true;
      this->error = error;
    }
    ScriptHost* inner_;
    bool done = false;
    std::string error;
  };
  Capture capture(host_);
  ScriptHost* saved = host_;
  host_ = &capture;
  int saved_ref = setup_data_ref_;
  if (!pass_data) setup_data_ref_ = LUA_NOREF;
  Vu vu(*this, 0, name, name);
  vu.capture_result_ = true;
  vu.StartIteration();
  int64_t deadline = loop_.UpdateNow() + timeout_ns;
  while (!capture.done && loop_.UpdateNow() < deadline) loop_.RunOnce(50'000'000);
  host_ = saved;
  setup_data_ref_ = saved_ref;
  if (!capture.done) {
    vu.Interrupt();
    throw ScriptError(std::string(name) + "() did not finish within its timeout");
  }
  if (!capture.error.empty()) throw ScriptError(std::string(name) + "() failed: " + capture.error);
  return std::move(vu.result_);
}

nlohmann::json Runtime::RunSetup(int64_t timeout_ns) { return RunLifecycle("setup", false, timeout_ns); }

void Runtime::RunTeardown(int64_t timeout_ns) { RunLifecycle("teardown", true, timeout_ns); }

}  // namespace stampede::script
