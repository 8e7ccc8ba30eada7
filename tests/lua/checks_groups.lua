-- check() counts passes and fails into `checks`; group() nests and tags the
-- samples with k6's "::outer::inner" group path.
local http = require("stampede.http")

options = {
  vus = 1,
  iterations = 2,
  thresholds = {
    ["checks{group:::outer::inner}"] = { "rate==0.5" },
    ["checks{group:::outer}"] = { "rate==1" },
    ["http_reqs{group:::outer::inner}"] = { "count==2" },
    ["http_reqs{group:::outer}"] = { "count==2" },
    ["checks{check:always true}"] = { "rate==1" },
    ["checks{kind:tagged}"] = { "rate==1" },
  },
}

function default()
  -- Outside any group: one pass (function), one fail (boolean false), one pass (boolean).
  local all = check(1, {
    ["always true"] = function(v) return v == 1 end,
    ["always false"] = false,
    ["literal true"] = true,
  })
  -- check() returns false when any check failed, true when all passed.
  local both = check(nil, { ["returned false"] = all == false, ["returns true"] = check(0, { ["x"] = true }) })

  local got = group("outer", function()
    http.get(ENV.BASE_URL .. "/echo?where=outer")
    check(true, { ["in outer"] = true })
    local inner = group("inner", function()
      http.get(ENV.BASE_URL .. "/echo?where=inner")
      check(true, { ["inner pass"] = true, ["inner fail"] = false })
      return "inner-value", "second"
    end)
    return inner
  end)
  check(got, { ["group returns fn's first value"] = function(v) return v == "inner-value" end },
    { kind = "tagged" })
end
