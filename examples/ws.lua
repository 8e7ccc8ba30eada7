-- WebSockets (stampede.ws, k6's k6/ws shape): each VU opens a session, sends
-- a message every 100 ms, checks the echoes, pings the server, and closes
-- after a second. Any echo server will do, e.g. the test partner:
--
--   node tests/support/ws_server.js          # prints {"port": N}
--   stampede run examples/ws.lua -e WS_URL=ws://127.0.0.1:N/echo
local ws = require("stampede.ws")

local WS_URL = ENV.WS_URL or "ws://127.0.0.1:8080/echo"

options = {
  vus = tonumber(ENV.VUS or "2"),
  duration = ENV.DURATION or "5s",
  thresholds = {
    ws_connecting = { "p(95)<500" },
    ["ws_sessions{status:101}"] = { "count>0" },
    checks = { "rate>0.99" },
  },
}

function default()
  local sent = 0
  local res = ws.connect(WS_URL, { tags = { example = "echo" } }, function(socket)
    socket:on("open", function()
      socket:ping()
      socket:setInterval(function()
        sent = sent + 1
        socket:send("message " .. sent)
      end, 100)
      socket:setTimeout(function() socket:close() end, 1000)
    end)
    socket:on("message", function(text)
      check(text, { ["echo is a message"] = function(t) return t:find("^message %d+$") ~= nil end })
    end)
    socket:on("error", function(err) print("ws error: " .. err) end)
  end)
  check(res, { ["handshake is 101"] = function(r) return r.status == 101 end })
end
