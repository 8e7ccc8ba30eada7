// The Lua runtime against real servers on loopback: VU coroutines that block
// on http.* and sleep, checks, groups, batch, redirects, cookies, errors.
#include "script/runtime.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

extern "C" {
#include <lua.h>
}

#include "child_process.h"
#include "core/clock.h"
#include "net/resolver.h"
#include "otel/trace_context.h"
#include "script/vu.h"

namespace stampede::script {
namespace {

struct Recorded {
  std::string name, method, status, group, error_code;
};

class RecordingHost final : public ScriptHost {
 public:
  void OnRequest(Vu&, const http::Exchange&, const std::vector<Tag>& tags, ResponseVerdict,
                 const RequestTrace&) override {
    Recorded r;
    for (const Tag& t : tags) {
      if (t.key == "name") r.name = t.value;
      if (t.key == "method") r.method = t.value;
      if (t.key == "status") r.status = t.value;
      if (t.key == "group") r.group = t.value;
      if (t.key == "error_code") r.error_code = t.value;
    }
    requests.push_back(r);
  }
  void OnCheck(Vu&, std::string_view name, bool passed, const std::vector<Tag>&) override {
    checks[std::string(name)] += passed ? 1 : 0;
    check_count[std::string(name)]++;
  }
  void OnIterationEnd(Vu&, int64_t, std::string_view error) override {
    ++iterations;
    errors.emplace_back(error);
  }
  struct Sample {
    uint32_t metric = 0;  // OnMetric's id; unused for groups
    double value = 0;     // ns for groups
    std::map<std::string, std::string> tags;
  };
  static std::map<std::string, std::string> TagMap(const std::vector<Tag>& tags) {
    std::map<std::string, std::string> out;
    for (const Tag& t : tags) out[std::string(t.key)] = std::string(t.value);  // later wins
    return out;
  }
  void OnGroupEnd(Vu&, int64_t duration_ns, const std::vector<Tag>& tags) override {
    groups.push_back({0, static_cast<double>(duration_ns), TagMap(tags)});
  }
  void OnMetric(Vu&, uint32_t metric, double value, const std::vector<Tag>& tags) override {
    metrics.push_back({metric, value, TagMap(tags)});
  }
  std::vector<Sample> groups, metrics;
  std::vector<Recorded> requests;
  std::map<std::string, int> checks, check_count;
  int iterations = 0;
  std::vector<std::string> errors;
};

class RuntimeTest : public ::testing::Test {
 protected:
  RuntimeTest() {
    net::Resolver::Options ro;
    ro.servers = {"127.0.0.1:1"};
    resolver_ = std::make_unique<net::Resolver>(loop_, ro);
    client_ = std::make_unique<http::Client>(loop_, *resolver_, nullptr, http::ClientOptions{});
  }

  std::unique_ptr<Runtime> Load(const std::string& source, MetricDefiner define_metric = {}) {
    RuntimeOptions o;
    o.script_path = "test.lua";
    o.source = source;
    o.env = {{"BASE", fault_.Url("")}};
    o.define_metric = std::move(define_metric);
    auto rt = std::make_unique<Runtime>(o, loop_, *client_);
    rt->set_host(&host_);
    return rt;
  }

  std::unique_ptr<Runtime> LoadWithEnv(const std::string& source,
                                       std::vector<std::pair<std::string, std::string>> env) {
    RuntimeOptions o;
    o.script_path = "test.lua";
    o.source = source;
    o.env = {{"BASE", fault_.Url("")}};
    for (auto& kv : env) o.env.push_back(std::move(kv));
    auto rt = std::make_unique<Runtime>(o, loop_, *client_);
    rt->set_host(&host_);
    return rt;
  }

  void RunIteration(Vu& vu) {
    int before = host_.iterations;
    vu.StartIteration();
    for (int i = 0; host_.iterations == before && i < 100000; ++i) loop_.RunOnce(100'000'000);
    ASSERT_EQ(host_.iterations, before + 1);
  }

  testing::FaultServer fault_;
  core::MonotonicClock clock_;
  loop::EventLoop loop_{clock_};
  std::unique_ptr<net::Resolver> resolver_;
  std::unique_ptr<http::Client> client_;
  RecordingHost host_;
};

TEST_F(RuntimeTest, RequestsChecksGroupsAndSleep) {
  auto rt = Load(R"(
    local http = require("stampede.http")
    options = { vus = 2, thresholds = { http_req_duration = {"p(95)<500"} } }
    function default()
      local res = http.get(ENV.BASE .. "/ok", { tags = { kind = "plain" } })
      check(res, { ["status is 200"] = function(r) return r.status == 200 end,
                   ["has timings"] = function(r) return r.timings.duration >= 0 end,
                   ["headers lower-case"] = function(r)
                     return r.headers["content-length"] ~= nil and r.headers["Content-Length"] == nil
                   end })
      group("posting", function()
        local e = http.post(ENV.BASE .. "/echo", { a = 1 },
                            { name = "echo", headers = { ["Content-Type"] = "application/json" } })
        local j = e:json()
        check(j, { ["json body sent"] = function(x) return x.body == '{"a":1}' end,
                   ["content type"] = function(x)
                     for _, h in ipairs(x.headers) do
                       if h[1]:lower() == "content-type" then return h[2] == "application/json" end
                     end
                     return false
                   end })
      end)
      sleep(0.01)
      check(vu.id, { ["vu id"] = function(id) return id == 7 end })
    end
  )");
  nlohmann::json options = rt->Options();
  EXPECT_EQ(options["vus"], 2);
  EXPECT_EQ(options["thresholds"]["http_req_duration"][0], "p(95)<500");
  Vu& vu = rt->NewVu(7, "default", "default");
  RunIteration(vu);
  RunIteration(vu);
  EXPECT_EQ(host_.errors[0], "");
  EXPECT_EQ(host_.checks["status is 200"], 2);
  EXPECT_EQ(host_.checks["has timings"], 2);
  EXPECT_EQ(host_.checks["headers lower-case"], 2);
  EXPECT_EQ(host_.checks["json body sent"], 2);
  EXPECT_EQ(host_.checks["content type"], 2);
  EXPECT_EQ(host_.checks["vu id"], 2);
  ASSERT_EQ(host_.requests.size(), 4u);
  EXPECT_EQ(host_.requests[0].status, "200");
  EXPECT_EQ(host_.requests[0].group, "");
  EXPECT_EQ(host_.requests[1].name, "echo");
  EXPECT_EQ(host_.requests[1].method, "POST");
  EXPECT_EQ(host_.requests[1].group, "::posting");
}

TEST_F(RuntimeTest, EveryRequestCarriesTraceparentChildOfTheIteration) {
  auto rt = Load(R"(
    local http = require("stampede.http")
    seen = {}
    local function tp(r)
      for _, h in ipairs(r:json().headers) do
        if h[1]:lower() == "traceparent" then return h[2] end
      end
    end
    function default()
      seen[#seen + 1] = tp(http.get(ENV.BASE .. "/echo"))
      seen[#seen + 1] = tp(http.get(ENV.BASE .. "/echo"))
      seen[#seen + 1] = tp(http.get(ENV.BASE .. "/echo", { headers = { traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" } }))
    end
  )");
  Vu& vu = rt->NewVu(1, "default", "default");
  RunIteration(vu);
  RunIteration(vu);
  ASSERT_EQ(host_.errors[0], "");
  lua_State* L = rt->state();
  lua_getglobal(L, "seen");
  std::vector<std::string> tps;
  for (int i = 1; i <= 6; ++i) {
    lua_rawgeti(L, -1, i);
    tps.push_back(lua_isstring(L, -1) ? lua_tostring(L, -1) : "");
    lua_pop(L, 1);
  }
  auto parsed0 = otel::ParseTraceparent(tps[0]);
  auto parsed1 = otel::ParseTraceparent(tps[1]);
  auto parsed3 = otel::ParseTraceparent(tps[3]);
  ASSERT_TRUE(parsed0 && parsed1 && parsed3) << tps[0] << " " << tps[1] << " " << tps[3];
  EXPECT_EQ(parsed0->trace_id, parsed1->trace_id);    // one trace per iteration
  EXPECT_NE(parsed0->parent_id, parsed1->parent_id);  // one CLIENT span per request
  EXPECT_NE(parsed0->trace_id, parsed3->trace_id);    // the next iteration: a new trace
  EXPECT_EQ(parsed0->flags & otel::kFlagRandom, otel::kFlagRandom);
  EXPECT_EQ(parsed0->flags & otel::kFlagSampled, otel::kFlagSampled);  // default sampler
  EXPECT_EQ(tps[2], "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");  // the script's wins
}

// Responses are built by the prelude's constructor with headers and timings
// decoded lazily: every field reads the same whenever it is read, also after
// later requests have reused the VU's request slot.
TEST_F(RuntimeTest, ResponseFieldsReadTheSameWhenReadLate) {
  auto rt = LoadWithEnv(R"(
    local http = require("stampede.http")
    out = {}
    function default()
      local first = http.get(ENV.BASE .. "/ok")
      check(first, { ["ok"] = function(r) return r.status == 200 end })
      local second = http.get(ENV.BASE .. "/status?code=404")
      local third = http.get(ENV.BASE .. "/chunked")
      -- read only now, after the slot served two more requests
      out.status, out.url, out.proto = first.status, first.url, first.proto
      out.body = first.body
      out.cl = first.headers["content-length"]
      out.timing_names = 0
      for _, k in ipairs({"blocked", "looking_up", "connecting", "tls_handshaking",
                          "sending", "waiting", "receiving", "duration"}) do
        if type(first.timings[k]) == "number" and first.timings[k] >= 0 then
          out.timing_names = out.timing_names + 1
        end
      end
      out.duration_cached = first.timings == first.timings
      out.second_status, out.second_cl = second.status, second.headers["content-length"]
      out.third_te = third.headers["transfer-encoding"]
      local keys = {}
      for k in pairs(first) do keys[#keys + 1] = k end
      table.sort(keys)
      out.keys = table.concat(keys, ",")
      local failed = http.get(ENV.REFUSED)
      out.err_code, out.err_status = failed.error_code, failed.status
      out.err_has_error = type(failed.error) == "string" and failed.error ~= ""
      out.err_body = failed.body
      out.err_timings = type(failed.timings.duration)
    end
  )", {{"REFUSED", "http://127.0.0.1:" + std::to_string(testing::UnusedPort()) + "/"}});
  Vu& vu = rt->NewVu(1, "default", "default");
  RunIteration(vu);
  ASSERT_EQ(host_.errors[0], "");
  EXPECT_EQ(host_.checks["ok"], 1);
  lua_State* L = rt->state();
  lua_getglobal(L, "out");
  auto field = [&](const char* name) {
    lua_getfield(L, -1, name);
    std::string v = lua_isnil(L, -1)       ? "nil"
                    : lua_isboolean(L, -1) ? (lua_toboolean(L, -1) ? "true" : "false")
                                           : lua_tostring(L, -1);
    lua_pop(L, 1);
    return v;
  };
  EXPECT_EQ(field("status"), "200");
  EXPECT_EQ(field("url"), fault_.Url("/ok"));
  EXPECT_EQ(field("proto"), "HTTP/1.1");
  EXPECT_EQ(field("cl"), std::to_string(field("body").size()));
  EXPECT_NE(field("body"), "nil");
  EXPECT_EQ(field("timing_names"), "8");
  EXPECT_EQ(field("duration_cached"), "true");
  EXPECT_EQ(field("second_status"), "404");
  EXPECT_NE(field("second_cl"), "nil");
  EXPECT_EQ(field("third_te"), "chunked");
  // pairs(res): the fields set at construction, the internals, and the lazy
  // ones read above (cached in the table).
  EXPECT_EQ(field("keys"), "__headers,__timings,body,headers,proto,status,timings,url");
  EXPECT_EQ(field("err_code"), "refused");
  EXPECT_EQ(field("err_status"), "0");
  EXPECT_EQ(field("err_has_error"), "true");
  EXPECT_EQ(field("err_body"), "nil");
  EXPECT_EQ(field("err_timings"), "number");
}

// A request with no header of the user's and no body reuses the slot's last
// bytes with only the traceparent rewritten: whatever came before, each
// request is the one the script asked for.
TEST_F(RuntimeTest, RepeatedRequestsAreWrittenAsAsked) {
  auto rt = Load(R"(
    local http = require("stampede.http")
    seen = {}
    local function describe(r)
      local j = r:json()
      local tp, xa = "", ""
      for _, h in ipairs(j.headers) do
        if h[1]:lower() == "traceparent" then tp = h[2] end
        if h[1]:lower() == "x-a" then xa = h[2] end
      end
      return j.method .. " " .. j.target .. " x-a=" .. xa .. " body=" .. j.body, tp
    end
    function default()
      local calls = {
        function() return http.get(ENV.BASE .. "/echo") end,
        function() return http.get(ENV.BASE .. "/echo") end,
        function() return http.get(ENV.BASE .. "/echo", { headers = { ["X-A"] = "1" } }) end,
        function() return http.get(ENV.BASE .. "/echo") end,
        function() return http.post(ENV.BASE .. "/echo", "payload") end,
        function() return http.get(ENV.BASE .. "/echo?q=2") end,
        function() return http.request("DELETE", ENV.BASE .. "/echo?q=2") end,
        function() return http.get(ENV.BASE .. "/echo?q=2") end,
      }
      for i, call in ipairs(calls) do
        local d, tp = describe(call())
        seen[#seen + 1] = d
        seen[#seen + 1] = tp
      end
    end
  )");
  Vu& vu = rt->NewVu(1, "default", "default");
  RunIteration(vu);
  RunIteration(vu);
  ASSERT_EQ(host_.errors[0], "");
  ASSERT_EQ(host_.errors[1], "");
  lua_State* L = rt->state();
  lua_getglobal(L, "seen");
  std::vector<std::string> got;
  for (int i = 1; i <= 32; ++i) {
    lua_rawgeti(L, -1, i);
    got.push_back(lua_isstring(L, -1) ? lua_tostring(L, -1) : "?");
    lua_pop(L, 1);
  }
  const std::vector<std::string> want = {
      "GET /echo x-a= body=",        "GET /echo x-a= body=",
      "GET /echo x-a=1 body=",       "GET /echo x-a= body=",
      "POST /echo x-a= body=payload", "GET /echo?q=2 x-a= body=",
      "DELETE /echo?q=2 x-a= body=", "GET /echo?q=2 x-a= body="};
  std::set<std::string> traceparents;
  for (size_t i = 0; i < 16; ++i) {
    EXPECT_EQ(got[2 * i], want[i % 8]) << "request " << i;
    auto tp = otel::ParseTraceparent(got[2 * i + 1]);
    ASSERT_TRUE(tp) << got[2 * i + 1];
    traceparents.insert(got[2 * i + 1]);
  }
  EXPECT_EQ(traceparents.size(), 16u);  // each request its own CLIENT span
}

TEST_F(RuntimeTest, JsonDecodesWithCjson) {
  auto rt = Load(R"(
    local http = require("stampede.http")
    local cjson = require("cjson")
    function default()
      local e = http.post(ENV.BASE .. "/echo", '{"x": null, "y": [1, 2]}')
      local body = e:json().body
      local parsed = cjson.decode(body)
      check(parsed, { ["null is cjson.null"] = function(p) return p.x == cjson.null and p.y[2] == 2 end })
      local ok, err = pcall(function() return http.get(ENV.BASE .. "/status?code=200"):json() end)
      check(err, { ["invalid JSON is a clear error"] = function(m)
        return not ok and tostring(m):find("not valid JSON") ~= nil end })
    end
  )");
  Vu& vu = rt->NewVu(1, "default", "default");
  RunIteration(vu);
  EXPECT_EQ(host_.errors[0], "");
  EXPECT_EQ(host_.checks["null is cjson.null"], 1);
  EXPECT_EQ(host_.checks["invalid JSON is a clear error"], 1);
}

TEST_F(RuntimeTest, BatchRunsConcurrently) {
  auto rt = Load(R"(
    local http = require("stampede.http")
    function default()
      local rs = http.batch({ ENV.BASE .. "/ok", { "GET", ENV.BASE .. "/status?code=404" },
                              { method = "HEAD", url = ENV.BASE .. "/head-cl" } })
      check(rs, { ["three"] = function(r) return #r == 3 end,
                  ["statuses"] = function(r)
                    return r[1].status == 200 and r[2].status == 404 and r[3].status == 200
                  end })
    end
  )");
  Vu& vu = rt->NewVu(1, "default", "default");
  RunIteration(vu);
  EXPECT_EQ(host_.errors[0], "");
  EXPECT_EQ(host_.checks["three"], 1);
  EXPECT_EQ(host_.checks["statuses"], 1);
  EXPECT_EQ(host_.requests.size(), 3u);
}

TEST_F(RuntimeTest, TransportErrorsAreValuesNotExceptions) {
  int port = testing::UnusedPort();
  auto rt = Load("local http = require('stampede.http')\n"
                 "function default()\n"
                 "  local r = http.get('http://127.0.0.1:" + std::to_string(port) + "/')\n"
                 "  check(r, { refused = function(x) return x.status == 0 and x.error_code == 'refused' end })\n"
                 "end\n");
  Vu& vu = rt->NewVu(1, "default", "default");
  RunIteration(vu);
  EXPECT_EQ(host_.errors[0], "");
  EXPECT_EQ(host_.checks["refused"], 1);
  ASSERT_EQ(host_.requests.size(), 1u);
  EXPECT_EQ(host_.requests[0].error_code, "refused");
}

TEST_F(RuntimeTest, ScriptErrorsEndTheIterationWithFileAndLine) {
  auto rt = Load("local http = require('stampede.http')\n"
                 "function default()\n"
                 "  if vu.iteration == 0 then error('boom') end\n"
                 "  http.get(42)\n"
                 "end\n");
  Vu& vu = rt->NewVu(1, "default", "default");
  RunIteration(vu);
  EXPECT_NE(host_.errors[0].find("test.lua:3: boom"), std::string::npos) << host_.errors[0];
  RunIteration(vu);  // a new coroutine after the error
  EXPECT_NE(host_.errors[1].find("http.get: the URL must be a string"), std::string::npos)
      << host_.errors[1];
}

TEST_F(RuntimeTest, WrongArgumentTypesGiveClearErrors) {
  const char* cases[][2] = {
      {"sleep('x')", "sleep(seconds)"},
      {"check(1, 2)", "check(value, sets)"},
      {"group(1, function() end)", "group(name, fn)"},
      {"random_int('a', 1)", "random_int(min, max)"},
      {"require('stampede.http').post('http://127.0.0.1:1/', 5)", "body must be a string or a table"},
      {"require('stampede.http').get('ftp://x')", "only http:// and https://"},
      {"require('stampede.http').get('http://127.0.0.1:1/', { headers = 5 })", "params.headers"},
      {"require('stampede.http').batch(5)", "http.batch"},
      {"open('x')", "only available at init"},
      {"fail('custom')", "custom"},
  };
  for (auto& c : cases) {
    auto rt = Load(std::string("function default() ") + c[0] + " end");
    Vu& vu = rt->NewVu(1, "default", "default");
    RunIteration(vu);
    EXPECT_NE(host_.errors.back().find(c[1]), std::string::npos)
        << c[0] << " gave: " << host_.errors.back();
  }
}

TEST_F(RuntimeTest, InitErrorsThrow) {
  EXPECT_THROW(Load("function default( end"), ScriptError);
  EXPECT_THROW(Load("error('at init')"), ScriptError);
  EXPECT_THROW(Load("require('stampede.http').get('http://127.0.0.1:1/')"), ScriptError);
  try {
    Load("local x = nil\nx.y = 1\n");
  } catch (const ScriptError& e) {
    EXPECT_NE(std::string(e.what()).find("test.lua:2"), std::string::npos) << e.what();
  }
}

TEST_F(RuntimeTest, SetupDataReachesDefault) {
  auto rt = Load(R"(
    local http = require("stampede.http")
    function setup()
      local r = http.get(ENV.BASE .. "/ok")
      return { token = "abc", status = r.status }
    end
    function default(data)
      check(data, { ["got setup data"] = function(d) return d.token == "abc" and d.status == 200 end })
    end
  )");
  nlohmann::json data = rt->RunSetup(10'000'000'000);
  EXPECT_EQ(data["token"], "abc");
  rt->SetSetupData(data);
  Vu& vu = rt->NewVu(1, "default", "default");
  RunIteration(vu);
  EXPECT_EQ(host_.checks["got setup data"], 1);
}

TEST_F(RuntimeTest, PerVuRandomIsSeededPerVu) {
  auto rt = Load(R"(
    values = {}
    function default() values[vu.id] = math.random(1, 1000000) .. ":" .. uuid() end
  )");
  Vu& a = rt->NewVu(1, "default", "default");
  Vu& b = rt->NewVu(2, "default", "default");
  RunIteration(a);
  RunIteration(b);
  lua_State* L = rt->state();
  lua_getglobal(L, "values");
  lua_rawgeti(L, -1, 1);
  std::string va = lua_tostring(L, -1);
  lua_rawgeti(L, -2, 2);
  std::string vb = lua_tostring(L, -1);
  EXPECT_NE(va, vb);
  EXPECT_EQ(va.size(), va.find(':') + 37);  // uuid is 36 characters
}

TEST_F(RuntimeTest, GroupDurationIsReportedWithTheGroupsOwnPathAlsoOnError) {
  auto rt = Load(R"(
    function default()
      group("outer", function()
        sleep(0.02)
        group("inner", function() end)
      end)
      group("failing", function() error("inside") end)
    end
  )");
  const Runtime::Pairs scenario_tags = {{"flow", "browse"}};
  Vu& vu = rt->NewVu(1, "sc", "default", &scenario_tags);
  RunIteration(vu);
  EXPECT_NE(host_.errors[0].find("inside"), std::string::npos) << host_.errors[0];
  ASSERT_EQ(host_.groups.size(), 3u);
  // Inner groups end first.
  EXPECT_EQ(host_.groups[0].tags["group"], "::outer::inner");
  EXPECT_EQ(host_.groups[1].tags["group"], "::outer");
  EXPECT_EQ(host_.groups[1].tags["scenario"], "sc");
  EXPECT_EQ(host_.groups[1].tags["flow"], "browse");
  EXPECT_GE(host_.groups[1].value, 20e6);  // the sleep inside, in ns
  EXPECT_LT(host_.groups[0].value, host_.groups[1].value);
  EXPECT_EQ(host_.groups[2].tags["group"], "::failing");  // left by an error: still recorded
}

TEST_F(RuntimeTest, CustomMetricsReportTheirValuesAndTags) {
  auto rt = Load(R"(
    local metrics = require("stampede.metrics")
    local c = metrics.Counter("my_counter")
    local g = metrics.Gauge("my_gauge")
    local r = metrics.Rate("my_rate")
    local t = metrics.Trend("my_trend", true)
    local n = metrics.Trend("my_numbers")
    local again = metrics.Counter("my_counter")
    info = c.name .. "/" .. t.type .. "/" .. tostring(again.name == c.name) .. "/" .. tostring(r)
    function default()
      c:add(2)
      again:add(3, { kind = "a", code = 42 })
      g:add(-7.5)
      r:add(true) r:add(false) r:add(0) r:add(5)
      group("g", function() t:add(1.5, { scenario = "mine" }) end)
      n:add(12)
    end
  )");
  lua_getglobal(rt->state(), "info");
  EXPECT_STREQ(lua_tostring(rt->state(), -1), "my_counter/trend/true/rate metric my_rate");
  lua_pop(rt->state(), 1);
  ASSERT_EQ(rt->custom_metrics().size(), 5u);  // one per name
  EXPECT_EQ(rt->custom_metrics()[3].name, "my_trend");
  EXPECT_TRUE(rt->custom_metrics()[3].is_time);
  Vu& vu = rt->NewVu(1, "sc", "default");
  RunIteration(vu);
  ASSERT_EQ(host_.errors[0], "");
  ASSERT_EQ(host_.metrics.size(), 9u);
  auto& m = host_.metrics;
  EXPECT_EQ(m[0].metric, 0u);
  EXPECT_EQ(m[0].value, 2);
  EXPECT_EQ(m[0].tags["group"], "");
  EXPECT_EQ(m[0].tags["scenario"], "sc");
  EXPECT_EQ(m[0].tags.count("kind"), 0u);
  EXPECT_EQ(m[1].metric, 0u);  // the same metric
  EXPECT_EQ(m[1].tags["kind"], "a");
  EXPECT_EQ(m[1].tags["code"], "42");  // numbers become strings
  EXPECT_EQ(m[2].metric, 1u);
  EXPECT_EQ(m[2].value, -7.5);
  std::vector<double> rates;
  for (int i = 3; i < 7; ++i) rates.push_back(m[i].value);
  EXPECT_EQ(rates, (std::vector<double>{1, 0, 0, 1}));
  EXPECT_EQ(m[7].metric, 3u);
  EXPECT_DOUBLE_EQ(m[7].value, 1.5e6);  // ms in Lua, ns reported
  EXPECT_EQ(m[7].tags["group"], "::g");
  EXPECT_EQ(m[7].tags["scenario"], "mine");  // the call's tags win
  EXPECT_EQ(m[8].metric, 4u);
  EXPECT_EQ(m[8].value, 12);  // not a time: as given
}

TEST_F(RuntimeTest, CustomMetricMisuseIsAClearError) {
  const char* cases[][2] = {
      {"require('stampede.metrics').Counter('late')", "only be called at init"},
      {"c:add('x')", "metric \"c\" (a counter): add(value): value must be a number, got string"},
      {"r:add('yes')", "metric \"r\" (a rate): add(value): value must be a boolean or a number"},
      {"t:add(-1)", "must not be negative"},
      {"t:add(0/0)", "finite"},
      {"c:add(1, 'tags')", "tags must be a table"},
      {"c:add(1, { k = true })", "tag \"k\" must be a string or a number, got boolean"},
      {"c:add(1, { 'positional' })", "tag names must be strings"},
      {"c.add(1)", "with a colon"},
  };
  for (auto& c : cases) {
    auto rt = Load(std::string("local m = require('stampede.metrics')\n"
                               "local c, r, t = m.Counter('c'), m.Rate('r'), m.Trend('t')\n"
                               "function default() ") +
                   c[0] + " end");
    Vu& vu = rt->NewVu(1, "default", "default");
    RunIteration(vu);
    EXPECT_NE(host_.errors.back().find(c[1]), std::string::npos)
        << c[0] << " gave: " << host_.errors.back();
    EXPECT_NE(host_.errors.back().find("test.lua:3:"), std::string::npos) << host_.errors.back();
  }
  EXPECT_TRUE(host_.metrics.empty());
}

TEST_F(RuntimeTest, CustomMetricInitErrorsThrowWithFileAndLine) {
  auto expect_init_error = [&](const std::string& source, const std::string& want,
                               MetricDefiner definer = {}) {
    try {
      Load(source, std::move(definer));
      ADD_FAILURE() << source << ": no error";
    } catch (const ScriptError& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
    }
  };
  const std::string head = "local m = require('stampede.metrics')\n";
  expect_init_error(head + "m.Counter('x'):add(1)",
                    "test.lua:2: metric \"x\": add() is not supported at init");
  expect_init_error(head + "m.Counter('x')\nm.Trend('x')",
                    "test.lua:3: metrics.Trend: metric \"x\" is already defined as a counter");
  expect_init_error(head + "m.Trend('x', true)\nm.Trend('x')",
                    "already defined as a trend of times");
  expect_init_error(head + "m.Trend('x', 'yes')", "isTime must be a boolean");
  expect_init_error(head + "m.Gauge(5)", "metrics.Gauge(name): name must be a string");
  // The host's verdict (e.g. a built-in's name) is raised at the constructor.
  expect_init_error(head + "m.Counter('http_reqs')",
                    "test.lua:2: metrics.Counter: no such luck",
                    [](const MetricDefinition& def, std::string* error) -> uint32_t {
                      if (def.name == "http_reqs") *error = "no such luck";
                      return 0;
                    });
  // The host's ids are what OnMetric reports.
  auto rt = Load(head + "local a = m.Rate('a')\nfunction default() a:add(true) end",
                 [](const MetricDefinition& def, std::string*) -> uint32_t {
                   return def.kind == MetricKind::kRate ? 42 : 0;
                 });
  Vu& vu = rt->NewVu(1, "default", "default");
  RunIteration(vu);
  ASSERT_EQ(host_.metrics.size(), 1u);
  EXPECT_EQ(host_.metrics[0].metric, 42u);
}

}  // namespace
}  // namespace stampede::script
