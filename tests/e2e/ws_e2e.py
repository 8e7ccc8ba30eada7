#!/usr/bin/env python3
"""End-to-end tests of stampede.ws (WebSockets) against a real WebSocket
server: Node's `ws` package (tests/support/ws_server.js), started here on
127.0.0.1 port 0 (it prints its port), over ws:// and wss:// (a self-signed
certificate made with `openssl req`, trusted with --cacert).

    python3 tests/e2e/ws_e2e.py --stampede build/src/cli/stampede [-k SUBSTR]

Checks, through the real binary and Lua scripts: echo round trips counted in
ws_msgs_sent / ws_msgs_received of --summary-export, setInterval/setTimeout,
binary messages, ws_ping, thresholds on ws metrics (exit code 99), the
session span (console exporter) whose trace id and span id are the ones of
the traceparent the server received, messages as span events (at most 128,
the rest counted); fragmented
messages reassembled, the server's close code, a handshake that never comes
(timeout), a 404 and a bad Accept key, a malformed frame (an error and close
code 1002, never a crash: the exit code stays 0), the message size limit; a
session that never ends stops with the run (no hang); wss://.

Prints one line per case and exactly `N passed, M failed`; the whole file
runs in well under 20 s.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SUPPORT = os.path.join(REPO, "tests", "support")
SERVER = os.path.join(SUPPORT, "ws_server.js")


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def check_eq(actual, expected, what):
    if actual != expected:
        raise Failure("%s: expected %r, got %r" % (what, expected, actual))


class WsServer:
    """ws_server.js; ready once it printed its port (no sleeps)."""

    def __init__(self, env=None):
        self.p = subprocess.Popen(["node", SERVER], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                  env=dict(os.environ, **(env or {})), cwd=SUPPORT)
        line = self.p.stdout.readline().decode()
        if not line:
            raise Failure("ws_server.js did not start: %s" % self.p.stderr.read().decode()[-800:])
        self.port = json.loads(line)["port"]

    def url(self, scheme="ws"):
        return "%s://127.0.0.1:%d" % (scheme, self.port)

    def stop(self):
        """Stops the server and returns the handshakes it logged."""
        self.p.terminate()
        out, _ = self.p.communicate(timeout=10)
        return [json.loads(ln) for ln in out.decode().splitlines() if ln.strip()]


class Ctx:
    def __init__(self, stampede, tmp):
        self.stampede = stampede
        self.tmp = tmp

    def script(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def run(self, script, args=(), env=None, timeout=30):
        export = os.path.join(self.tmp, os.path.basename(script) + ".summary.json")
        argv = [self.stampede, "run", script, "--summary-export", export, "--no-store"] + \
            list(args)
        start = time.monotonic()
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=self.tmp,
                           env=dict(os.environ, **(env or {})))
        p.elapsed = time.monotonic() - start
        p.summary = None
        if os.path.exists(export):
            with open(export) as f:
                p.summary = json.load(f)
        check(p.returncode not in (-11, -6, 134, 139),
              "stampede crashed (exit %d): %s" % (p.returncode, p.stderr[-1500:]))
        return p


def metric(p, name):
    check(p.summary is not None, "no --summary-export written; stderr: %s" % p.stderr[-800:])
    m = p.summary["metrics"].get(name)
    check(m is not None, "metric %s missing from the summary export (has: %s)"
          % (name, sorted(k for k in p.summary["metrics"] if k.startswith("ws"))))
    return m


def result_lines(p):
    """The JSON lines the scripts print with the RESULT prefix."""
    out = []
    for ln in p.stdout.splitlines():
        if ln.startswith("RESULT "):
            out.append(json.loads(ln[len("RESULT "):]))
    return out


# A tiny JSON encoder for the scripts' results (strings, numbers, lists).
LUA_JSON = r'''
local function enc(v)
  if type(v) == "table" then
    local parts = {}
    if #v > 0 or next(v) == nil then
      for i = 1, #v do parts[#parts + 1] = enc(v[i]) end
      return "[" .. table.concat(parts, ",") .. "]"
    end
    for k, x in pairs(v) do parts[#parts + 1] = string.format("%q", k) .. ":" .. enc(x) end
    return "{" .. table.concat(parts, ",") .. "}"
  elseif type(v) == "string" then
    return '"' .. v:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
  elseif v == nil then
    return "null"
  end
  return tostring(v)
end
local function result(v) print("RESULT " .. enc(v)) end
'''

ECHO = LUA_JSON + r'''
local ws = require("stampede.ws")
options = {
  scenarios = { echo = { executor = "per-vu-iterations", vus = 2, iterations = 3 } },
  thresholds = {
    ws_msgs_received = { "count>=36" },
    ["ws_sessions{status:101}"] = { "count==6" },
    ws_ping = { "max<0" },  -- cannot hold: the run must exit 99
  },
}
function default()
  local events, sent = {}, 0
  local res = ws.connect(ENV.URL .. "/echo", { tags = { kind = "echo" } }, function(socket)
    socket:on("open", function()
      events[#events + 1] = "open"
      socket:ping()
      socket:setInterval(function()
        if sent < 5 then
          sent = sent + 1
          socket:send("msg " .. sent)
          if sent == 5 then socket:sendBinary("\0\1\2\255") end
        end
      end, 5)
    end)
    socket:on("message", function(data) events[#events + 1] = data end)
    socket:on("binaryMessage", function(data)
      events[#events + 1] = "binary " .. #data .. " " .. data:byte(4)
      socket:setTimeout(function() socket:close() end, 1)
    end)
    socket:on("pong", function() events[#events + 1] = "pong" end)
    socket:on("close", function(code) events[#events + 1] = "close " .. code end)
    socket:on("error", function(e) events[#events + 1] = "error " .. e end)
  end)
  result({ status = res.status, url = res.url, error = res.error, events = events,
           upgrade = res.headers.upgrade })
end
'''


def echo_round_trips_metrics_thresholds_and_spans(t):
    srv = WsServer()
    try:
        p = t.run(t.script("echo.lua", ECHO), ["-e", "URL=" + srv.url()],
                  env={"OTEL_TRACES_EXPORTER": "console"})
    finally:
        handshakes = srv.stop()
    check_eq(p.returncode, 99, "exit code (the ws_ping threshold fails, the others pass): "
             + p.stderr[-500:])
    results = result_lines(p)
    check_eq(len(results), 6, "sessions reported by the script")
    for r in results:
        check_eq(r["status"], 101, "res.status")
        check(r.get("error") is None, "unexpected res.error %r" % r.get("error"))
        check_eq(r["upgrade"], "websocket", "res.headers.upgrade")
        check_eq(r["url"], srv.url() + "/echo", "res.url")
        ev = r["events"]
        check_eq(ev[0], "open", "first event")
        check_eq([e for e in ev if e.startswith("msg ")], ["msg %d" % i for i in range(1, 6)],
                 "echoed text messages, in order")
        check("binary 4 255" in ev, "the binary echo (4 bytes, last 0xff) arrived: %r" % ev)
        check("pong" in ev, "the pong of socket:ping() arrived: %r" % ev)
        check_eq(ev[-1], "close 1000", "last event")
    check_eq(metric(p, "ws_msgs_sent")["count"], 36, "ws_msgs_sent (6 sessions x 6)")
    check_eq(metric(p, "ws_msgs_received")["count"], 36, "ws_msgs_received (6 sessions x 6)")
    check_eq(metric(p, "ws_sessions")["count"], 6, "ws_sessions")
    # Handshakes and frames count as bytes on the wire, as in k6.
    check(metric(p, "data_sent")["count"] > 6 * 200, "data_sent holds the handshakes")
    check(metric(p, "data_received")["count"] > 6 * 120, "data_received holds the 101s")
    for name in ("ws_connecting", "ws_session_duration", "ws_ping"):
        m = metric(p, name)
        check(m["min"] > 0 and m["max"] >= m["min"], "%s has positive times: %r" % (name, m))
    check(metric(p, "ws_session_duration")["min"] >= 25, "sessions lasted 5 intervals of 5 ms")
    check("ws_msgs_received" in p.stdout and "ws_connecting" in p.stdout,
          "ws metrics in the end-of-test summary")
    # Spans: one CLIENT "WS /echo" per session, ids = the traceparent's.
    spans = []
    for ln in p.stdout.splitlines():
        if ln.startswith('{"resourceSpans"'):
            for rs in json.loads(ln)["resourceSpans"]:
                for ss in rs["scopeSpans"]:
                    spans.extend(ss["spans"])
    ws_spans = [s for s in spans if s["name"] == "WS /echo"]
    check_eq(len(ws_spans), 6, "WS /echo spans")
    check_eq(len(handshakes), 6, "handshakes the server saw")
    parents = {}
    for h in handshakes:
        tp = h["traceparent"]
        check(tp is not None and len(tp) == 55 and tp.startswith("00-"),
              "a well-formed traceparent on the handshake: %r" % tp)
        parents[tp.split("-")[2]] = tp.split("-")[1]
    iterations = {s["spanId"]: s for s in spans if s["name"].startswith("iteration")}
    for s in ws_spans:
        check_eq(s["kind"], 3, "span kind CLIENT")
        check_eq(parents.get(s["spanId"]), s["traceId"],
                 "the server's traceparent names this span and its trace")
        check(s.get("parentSpanId") in iterations, "the session is a child of its iteration")
        attrs = {a["key"]: a["value"] for a in s["attributes"]}
        check_eq(attrs["url.full"]["stringValue"], srv.url() + "/echo", "url.full")
        check_eq(attrs["server.port"]["intValue"], str(srv.port), "server.port")
        check_eq(attrs["http.response.status_code"]["intValue"], "101", "status attribute")
        names = [e["name"] for e in s.get("events", [])]
        check_eq(names.count("ws.message.sent"), 6, "sent message events")
        check_eq(names.count("ws.message.received"), 6, "received message events")


MODES = LUA_JSON + r'''
local ws = require("stampede.ws")
options = { vus = 1, iterations = 1 }
local function session(path, params, on_open)
  local events = {}
  local res = ws.connect(ENV.URL .. path, params or { timeout = "400ms" }, function(socket)
    socket:on("open", function()
      events[#events + 1] = "open"
      if on_open then on_open(socket) end
    end)
    socket:on("message", function(d) events[#events + 1] = "text " .. d end)
    socket:on("binaryMessage", function(d)
      events[#events + 1] = "binary " .. #d .. " " .. (d == string.rep("a", #d) and "ok" or "bad")
      socket:close()
    end)
    socket:on("close", function(code) events[#events + 1] = "close " .. code end)
    socket:on("error", function(e) events[#events + 1] = "error " .. e end)
  end)
  result({ path = path, status = res.status, error = res.error, events = events })
end
function default()
  session("/fragmented")
  session("/close/4001", nil, function(s) s:send("bye please") end)
  session("/silent")
  session("/status404")
  session("/badaccept")
  session("/malformed")
  session("/fragmented", { max_message_size = 1000 })
end
'''


def protocol_cases_are_errors_never_crashes(t):
    srv = WsServer()
    try:
        p = t.run(t.script("modes.lua", MODES), ["-e", "URL=" + srv.url()])
    finally:
        srv.stop()
    check_eq(p.returncode, 0, "exit code (errors are values, not failures of the run): "
             + p.stderr[-500:])
    by = {}
    for r in result_lines(p):
        by.setdefault(r["path"], []).append(r)
    frag = by["/fragmented"][0]
    check(frag.get("error") is None, "fragmented: no error, got %r" % frag.get("error"))
    check_eq(frag["events"], ["open", "text Hello, fragmented world", "binary 70000 ok",
                              "close 1000"], "fragmented messages reassembled")
    close = by["/close/4001"][0]
    check_eq(close["events"], ["open", "close 4001"], "server-initiated close code seen")
    check(close.get("error") is None, "a server close is not an error")
    silent = by["/silent"][0]
    check_eq(silent["status"], 0, "status without a handshake response")
    check(silent["error"].startswith("timeout"), "handshake timeout error: %r" % silent["error"])
    check_eq(silent["events"], ["error " + silent["error"]], "on('error') got the timeout")
    s404 = by["/status404"][0]
    check_eq(s404["status"], 404, "status of a refused upgrade")
    check("404" in s404["error"] and "101" in s404["error"], "404 error: %r" % s404["error"])
    bad = by["/badaccept"][0]
    check("Sec-WebSocket-Accept" in bad["error"], "bad accept error: %r" % bad["error"])
    check("open" not in bad["events"], "a bad Accept key never opens")
    mal = by["/malformed"][0]
    check("reserved bits" in mal["error"], "malformed frame error: %r" % mal["error"])
    check_eq(mal["events"], ["open", "error " + mal["error"], "close 1002"],
             "malformed frame: error, then close 1002")
    big = by["/fragmented"][1]
    check("maximum message size (1000 bytes)" in (big.get("error") or ""),
          "size limit error: %r" % big.get("error"))
    check_eq(big["events"][-1], "close 1009", "size limit closes with 1009")
    # Failed handshakes are sessions too (tagged with their status).
    check_eq(metric(p, "ws_sessions")["count"], 7, "ws_sessions counts every attempt")


ENDLESS = r'''
local ws = require("stampede.ws")
options = { scenarios = { s = { executor = "constant-vus", vus = 2, duration = "1s",
                                gracefulStop = "300ms" } } }
function default()
  ws.connect(ENV.URL .. "/echo", nil, function(socket)
    socket:on("open", function()
      socket:setInterval(function() socket:send("tick") end, 20)
    end)
  end)
end
'''


def endless_session_stops_with_the_run(t):
    srv = WsServer()
    try:
        p = t.run(t.script("endless.lua", ENDLESS), ["-e", "URL=" + srv.url()], timeout=15)
    finally:
        srv.stop()
    check_eq(p.returncode, 0, "exit code: " + p.stderr[-500:])
    # No hang: t.run's timeout (15 s) fails the case if the run does not end.
    check_eq(metric(p, "ws_sessions")["count"], 2, "interrupted sessions are still reported")
    check(metric(p, "ws_msgs_sent")["count"] >= 20, "messages flowed until the stop")


MANY = r'''
local ws = require("stampede.ws")
options = { vus = 1, iterations = 1 }
function default()
  local got = 0
  ws.connect(ENV.URL .. "/echo", nil, function(socket)
    socket:on("open", function() for i = 1, 100 do socket:send("m" .. i) end end)
    socket:on("message", function() got = got + 1; if got == 100 then socket:close() end end)
  end)
end
'''


def span_events_are_capped_and_counted(t):
    srv = WsServer()
    try:
        p = t.run(t.script("many.lua", MANY), ["-e", "URL=" + srv.url()],
                  env={"OTEL_TRACES_EXPORTER": "console"})
    finally:
        srv.stop()
    check_eq(p.returncode, 0, "exit code: " + p.stderr[-500:])
    spans = [s for ln in p.stdout.splitlines() if ln.startswith('{"resourceSpans"')
             for rs in json.loads(ln)["resourceSpans"] for ss in rs["scopeSpans"]
             for s in ss["spans"] if s["name"] == "WS /echo"]
    check_eq(len(spans), 1, "one session span")
    attrs = {a["key"]: a["value"] for a in spans[0]["attributes"]}
    check_eq(len(spans[0]["events"]), 128, "message events kept on the span")
    check_eq(attrs["stampede.ws.events_dropped"]["intValue"], "72", "events counted as dropped")
    check_eq(attrs["stampede.ws.messages_received"]["intValue"], "100", "messages received")
    check_eq(metric(p, "ws_msgs_received")["count"], 100, "ws_msgs_received")


WSS = LUA_JSON + r'''
local ws = require("stampede.ws")
options = { vus = 1, iterations = 1 }
function default()
  local got
  local res = ws.connect(ENV.URL .. "/echo", nil, function(socket)
    socket:on("open", function() socket:send("over tls") end)
    socket:on("message", function(d) got = d; socket:close() end)
  end)
  result({ status = res.status, error = res.error, got = got })
end
'''


def wss_with_a_self_signed_certificate(t):
    cert, key = os.path.join(t.tmp, "cert.pem"), os.path.join(t.tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=30)
    srv = WsServer({"TLS_CERT": cert, "TLS_KEY": key})
    try:
        script = t.script("wss.lua", WSS)
        p = t.run(script, ["-e", "URL=" + srv.url("wss"), "--cacert", cert])
        untrusted = t.run(script, ["-e", "URL=" + srv.url("wss")])
    finally:
        srv.stop()
    check_eq(p.returncode, 0, "exit code: " + p.stderr[-500:])
    r = result_lines(p)[0]
    check_eq(r["status"], 101, "wss status (error: %r)" % r.get("error"))
    check_eq(r["got"], "over tls", "echo over wss://")
    r = result_lines(untrusted)[0]
    check_eq(r["status"], 0, "untrusted certificate: no handshake")
    check("tls" in (r.get("error") or ""), "certificate error: %r" % r.get("error"))


SETUP = LUA_JSON + r'''
local ws = require("stampede.ws")
options = { vus = 1, iterations = 2 }
local function echo(n)
  local got = 0
  local res = ws.connect(ENV.URL .. "/echo", nil, function(socket)
    socket:on("open", function() for i = 1, n do socket:send("s" .. i) end end)
    socket:on("message", function() got = got + 1; if got == n then socket:close() end end)
  end)
  return got, res.status
end
function setup()
  local got, status = echo(3)
  return { got = got, status = status }
end
function default(data)
  result({ setup_got = data.got, setup_status = data.status })
end
function teardown(data)
  local got = echo(2)
  result({ teardown_got = got })
end
'''


def sessions_in_setup_and_teardown_are_counted(t):
    srv = WsServer()
    try:
        p = t.run(t.script("setup.lua", SETUP), ["-e", "URL=" + srv.url()])
    finally:
        srv.stop()
    check_eq(p.returncode, 0, "exit code: " + p.stderr[-500:])
    lines = result_lines(p)
    check_eq(lines.count({"setup_got": 3, "setup_status": 101}), 2, "what setup() returned")
    check({"teardown_got": 2} in lines, "teardown's echo: %r" % lines)
    check_eq(metric(p, "ws_sessions")["count"], 2, "sessions of setup and teardown")
    check_eq(metric(p, "ws_msgs_sent")["count"], 5, "messages of setup and teardown")
    check_eq(metric(p, "ws_msgs_received")["count"], 5, "echoes of setup and teardown")


CASES = [
    sessions_in_setup_and_teardown_are_counted,
    echo_round_trips_metrics_thresholds_and_spans,
    protocol_cases_are_errors_never_crashes,
    endless_session_stops_with_the_run,
    span_events_are_capped_and_counted,
    wss_with_a_self_signed_certificate,
]


def main():
    ap = argparse.ArgumentParser(description="stampede.ws end-to-end tests")
    ap.add_argument("--stampede", required=True)
    ap.add_argument("-k", default="", help="run only cases whose name contains this")
    args = ap.parse_args()
    if shutil.which("node") is None:
        print("node not found: 0 passed, 1 failed")
        return 1
    if not os.path.isdir(os.path.join(SUPPORT, "node_modules", "ws")):
        subprocess.run(["npm", "ci", "--prefix", SUPPORT, "--no-audit", "--no-fund"],
                       check=True, timeout=600, stdout=subprocess.DEVNULL)
    stampede = os.path.abspath(args.stampede)
    passed = failed = 0
    for fn in CASES:
        if args.k not in fn.__name__:
            continue
        tmp = tempfile.mkdtemp(prefix="ws_e2e_")
        start = time.monotonic()
        try:
            fn(Ctx(stampede, tmp))
            passed += 1
            print("ok   %s (%.1fs)" % (fn.__name__, time.monotonic() - start))
        except Exception as e:  # noqa: BLE001 - report every failure the same way
            failed += 1
            print("FAIL %s: %s: %s" % (fn.__name__, type(e).__name__, e))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        sys.stdout.flush()
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
