-- k6's expected statuses: http.setResponseCallback(http.expectedStatuses(...))
-- at init sets what counts as failed in http_req_failed for every VU; a
-- request's params.responseCallback overrides it; false judges nothing (no
-- http_req_failed sample, no expected_response tag). Every redirect hop is
-- judged on its own; a transport error is always unexpected.
local http = require("stampede.http")

local B = ENV.BASE_URL
http.setResponseCallback(http.expectedStatuses(404, { min = 500, max = 502 }))
local only200 = http.expectedStatuses(200)
local ranges = http.expectedStatuses({ min = 200, max = 204 }, 302, { min = 305, max = 405 })
local everything = http.expectedStatuses({ min = 100, max = 999 })

local function failed(name, rate)
  return { ["http_req_failed{name:" .. name .. "}"] = { "rate==" .. rate } }
end

local thresholds = {
  ["http_reqs{expected_response:true}"] = { "count==5" },
  ["http_reqs{expected_response:false}"] = { "count==6" },
  ["http_req_duration{expected_response:true}"] = { "max<60000" },
  ["http_reqs{name:none500}"] = { "count==1" },
  ["http_reqs{name:redirect}"] = { "count==2" },
}
for _, t in ipairs({
  failed("n404", 0), failed("n200", 1), failed("n501", 0), failed("n503", 1),
  failed("o200", 0), failed("o404", 1), failed("r405", 0), failed("r406", 1),
  failed("refused", 1), failed("redirect", 0.5),
}) do
  for k, v in pairs(t) do thresholds[k] = v end
end

options = { vus = 1, iterations = 1, thresholds = thresholds }

function default()
  -- The init callback: 404 and 500–502 expected, anything else failed.
  http.get(B .. "/status?code=404", { name = "n404" })
  http.get(B .. "/status?code=200", { name = "n200" })
  http.get(B .. "/status?code=501", { name = "n501" })
  http.get(B .. "/status?code=503", { name = "n503" })
  -- Per-request overrides.
  http.get(B .. "/status?code=200", { name = "o200", responseCallback = only200 })
  http.get(B .. "/status?code=404", { name = "o404", responseCallback = only200 })
  http.get(B .. "/status?code=405", { name = "r405", responseCallback = ranges })
  http.get(B .. "/status?code=406", { name = "r406", responseCallback = ranges })
  http.get(B .. "/status?code=500", { name = "none500", responseCallback = false })
  http.get(ENV.REFUSED_URL .. "/", { name = "refused", responseCallback = everything })
  -- 302 (failed: only 200 expected), then the 200 it leads to.
  local res = http.get(B .. "/redirect?to=/ok&code=302", { name = "redirect", responseCallback = only200 })
  check(res, { ["redirect followed"] = function(r) return r.status == 200 end })
end
