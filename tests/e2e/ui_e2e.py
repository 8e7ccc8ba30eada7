#!/usr/bin/env python3
"""End-to-end tests of the live dashboard's server side (`stampede run --ui`):
a real run on nginx, the dashboard read as a client would (python3 stdlib).

    python3 tests/e2e/ui_e2e.py --stampede build/src/cli/stampede [-k SUBSTR]

The stream (`/api/stream`, server-sent events) is read with http.client; its
ticks must agree with the run's own --summary-export; control requests
(pause, resume, stop) steer the run and are recorded in the summary and its
JSON. Only loopback is ever bound: the token check is exercised with an
explicit `--ui-token`, which makes the token required on loopback too.

Reuses the harness of run_cli_tests.py; prints one line per case and exactly
`N passed, M failed`.
"""

import http.client
import json
import os
import re
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run_cli_tests as h  # noqa: E402

h.CASES.clear()  # this file's cases only
case, check, check_eq = h.case, h.check, h.check_eq

DASHBOARD_LINE = re.compile(r"^dashboard: (http://([^/\s]+)/)", re.M)
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def dashboard_of(p, timeout=30):
    """(url, host, port) from the spawned stampede's stderr line."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        p.stampede_err.seek(0)
        err = p.stampede_err.read().decode("utf-8", "replace")
        m = DASHBOARD_LINE.search(err)
        if m:
            host, port = m.group(2).rsplit(":", 1)
            return m.group(1), host, int(port)
        check(p.poll() is None, "stampede exited before printing its dashboard line:\n" + err)
        time.sleep(0.05)
    raise AssertionError("no `dashboard: URL` line on stderr within %ds" % timeout)


def request(port, method, path, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data


def control(port, action, token=None, headers=None, **extra):
    hdrs = {"Content-Type": "application/json"}
    if token:
        hdrs["Authorization"] = "Bearer " + token
    hdrs.update(headers or {})
    body = dict(extra, action=action)
    status, _, data = request(port, "POST", "/api/control", json.dumps(body), hdrs)
    return status, json.loads(data.decode() or "null")


class Stream:
    """An open /api/stream: yields (event, data) in order."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.conn.request("GET", "/api/stream")
        self.resp = self.conn.getresponse()
        check_eq(self.resp.status, 200, "/api/stream status")
        ctype = self.resp.getheader("Content-Type", "")
        check(ctype.startswith("text/event-stream"), "stream Content-Type %r" % ctype)
        self.retry = None

    def events(self):
        event, data = None, []
        while True:
            line = self.resp.readline()
            if not line:
                return
            line = line.decode("utf-8").rstrip("\n")
            if line == "":
                if data or event:
                    yield event or "message", "\n".join(data)
                event, data = None, []
            elif line.startswith(":"):
                yield "comment", line[1:].strip()
            elif line.startswith("retry:"):
                self.retry = int(line[6:])
            elif line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip(" ") if line.startswith("data: ") else line[5:])

    def close(self):
        self.conn.close()


def wait_tick(events, pred, what, timeout=20):
    """The first tick (live, or in the history) for which pred(tick) holds,
    from the generator Stream.events(); fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    for ev, data in events:
        if ev in ("tick", "history"):
            ticks = json.loads(data)
            for tick in ticks if isinstance(ticks, list) else [ticks]:
                if pred(tick):
                    return tick
        check(time.monotonic() < deadline, "no tick with %s within %ds" % (what, timeout))
    raise AssertionError("the stream ended before a tick with " + what)


def read_until_end(stream):
    """Every (event, parsed data) until `end` (inclusive)."""
    out = []
    for ev, data in stream.events():
        if ev == "comment":
            continue
        out.append((ev, json.loads(data)))
        if ev == "end":
            break
    return out


@case
def stream_ticks_agree_with_the_summary(t):
    ngx = t.nginx()
    p, export = t.spawn("--url", ngx.url, "--vus", "2", "--duration", "5s", "--quiet",
                        "--ui", "127.0.0.1:0")
    url, host, port = dashboard_of(p)
    check_eq(host, "127.0.0.1", "dashboard host")
    # The page and its assets, with the security headers.
    for path, ctype in (("/", "text/html"), ("/app.js", "text/javascript"),
                        ("/app.css", "text/css"), ("/uplot.min.js", "text/javascript"),
                        ("/uplot.min.css", "text/css")):
        status, headers, body = request(port, "GET", path)
        check_eq(status, 200, "GET " + path)
        check(headers.get("content-type", "").startswith(ctype),
              "%s Content-Type %r" % (path, headers.get("content-type")))
        check_eq(headers.get("content-security-policy"), CSP, path + " CSP")
        check_eq(headers.get("x-content-type-options"), "nosniff", path + " nosniff")
        check_eq(headers.get("cache-control"), "no-store", path + " Cache-Control")
        check(len(body) > 0, path + " is empty")
    status, _, body = request(port, "GET", "/api/run")
    check_eq(status, 200, "/api/run")
    info = json.loads(body)
    check_eq(info["token_required"], False, "loopback without --ui-token needs no token")
    check_eq(info["target"], ngx.url, "target")
    check(info["script"] is None, "no script in --url mode")
    check_eq(info["total_duration_s"], 5, "total_duration_s")
    check(info["scenarios"] and info["scenarios"][0]["executor"] == "constant-vus",
          "scenarios %r" % info["scenarios"])

    s = Stream(port)
    events = read_until_end(s)
    s.close()
    check_eq(s.retry, 2000, "retry")
    check(events and events[0][0] == "history", "the first event is the history: %r"
          % [e for e, _ in events[:3]])
    ticks = list(events[0][1]) + [d for e, d in events if e == "tick"]
    check(len([e for e, _ in events if e == "tick"]) >= 3, "at least 3 ticks in a 5 s run")
    check_eq(events[-1][0], "end", "the last event")
    end = events[-1][1]
    check_eq(end, {"outcome": "passed", "exit_code": 0}, "end event")
    p.wait(timeout=60)
    r = t.collect(p, export)
    r.expect_rc(0)
    total = r.metric("http_reqs")["count"]
    last = ticks[-1]
    check_eq(sum(n["reqs"] for n in last["names"]), total,
             "the final tick's cumulative reqs vs --summary-export http_reqs")
    check(all(a["t"] <= b["t"] for a, b in zip(ticks, ticks[1:])), "ticks in time order")
    for k in ("t", "elapsed_s", "vus", "vus_max", "rps", "fails_per_s", "iterations_per_s",
              "dropped_iterations", "latency_ms", "names", "errors", "checks", "thresholds",
              "spans", "progress", "paused", "steering"):
        check(k in last, "tick has no %r: %r" % (k, sorted(last)))
    busy = [x for x in ticks if x["latency_ms"] is not None]
    check(busy, "some tick has latency")
    check(all(x["latency_ms"]["p50"] <= x["latency_ms"]["max"] for x in busy), "p50 <= max")
    check(max(x["rps"] for x in ticks) > 0, "rps > 0")
    check_eq(last["vus_max"], 2, "vus_max")
    check(0 < last["progress"]["fraction"] <= 1, "progress %r" % last["progress"])
    check(re.search(r"^\s*dashboard: 1 clients, 0 dropped$", r.stdout, re.M),
          "summary line `dashboard: 1 clients, 0 dropped`:\n" + r.stdout[-800:])
    check_eq(r.json.get("dashboard"), {"clients": 1, "dropped": 0}, "summary JSON dashboard")
    check_eq(r.json.get("steering"), [], "nothing steered")


@case
def pause_resume_and_stop_steer_the_run(t):
    ngx = t.nginx()
    started = time.monotonic()
    p, export = t.spawn("--url", ngx.url, "--vus", "2", "--duration", "60s", "--quiet",
                        "--ui", "127.0.0.1:0")
    url, host, port = dashboard_of(p)
    stream = Stream(port)
    events = stream.events()
    wait_tick(events, lambda k: k["rps"] > 0, "requests flowing")
    # A web page elsewhere cannot steer it, nor a form post.
    status, body = control(port, "stop", headers={"Origin": "http://evil.example"})
    check_eq(status, 403, "foreign Origin")
    check("error" in body, "JSON error")
    status, _, data = request(port, "POST", "/api/control", '{"action":"stop"}',
                              {"Content-Type": "text/plain"})
    check_eq(status, 415, "text/plain body")
    check_eq(control(port, "dance")[0], 400, "unknown action")
    status, body = control(port, "set_vus", value=5)
    check_eq(status, 400, "set_vus in --url mode")
    check("needs a script run" in body["error"], "set_vus error %r" % body)
    check_eq(control(port, "pause", headers={"Origin": url.rstrip("/")})[0], 200, "pause")
    wait_tick(events, lambda k: k["paused"] and k["rps"] == 0, "paused and no requests")
    check_eq(control(port, "resume")[0], 200, "resume")
    wait_tick(events, lambda k: not k["paused"] and k["rps"] > 0, "resumed and requests again")
    check_eq(control(port, "stop")[0], 200, "stop")
    stream.close()
    try:
        p.wait(timeout=45)
    except Exception:
        raise AssertionError("the stop from the dashboard did not end the 60 s run")
    check(time.monotonic() - started < 40, "ended early")
    r = t.collect(p, export)
    r.expect_rc(0)  # what the run earned, not 105
    check(re.search(r"stopped from the dashboard at [\d.]+s \(by 127\.0\.0\.1:\d+\)", r.stdout),
          "summary records the stop:\n" + r.stdout[-1200:])
    check("paused from the dashboard" in r.stdout and "resumed from the dashboard" in r.stdout,
          "summary records pause and resume")
    steering = r.json.get("steering")
    check_eq([s["action"] for s in steering], ["pause", "resume", "stop"], "steering actions")
    check(all(s["peer"].startswith("127.0.0.1:") and s["t"] > 0 for s in steering),
          "steering has t and peer: %r" % steering)
    check(r.metric("http_reqs")["count"] > 0, "requests were made")
    # The store has the same steering in its summary JSON.
    store = r.json.get("store")
    if store:
        import sqlite3
        con = sqlite3.connect("file:%s?mode=ro" % os.path.join(t.tmp, store), uri=True)
        text = " ".join(str(v) for row in con.execute("SELECT * FROM run") for v in row)
        check('"steering"' in text and '"stop"' in text, "the run store's summary has the steering")


STEER_SCRIPT = r"""
local http = require("stampede.http")
options = { scenarios = {
  closed = { executor = "constant-vus", vus = 1, duration = "60s" },
  open = { executor = "constant-arrival-rate", rate = 2, timeUnit = "1s", duration = "60s",
           preAllocatedVUs = 2, maxVUs = 30, exec = "open" },
} }
function default() http.get(ENV.URL .. "?s=closed", { name = "closed" }); sleep(0.05) end
function open() http.get(ENV.URL .. "?s=open", { name = "open" }) end
"""


@case
def set_vus_and_set_rate_steer_scenarios(t):
    ngx = t.nginx()
    script = t.path("steer.lua")
    with open(script, "w") as f:
        f.write(STEER_SCRIPT)
    p, export = t.spawn(script, "-e", "URL=" + ngx.url, "--threads", "2", "--quiet",
                        "--ui", "127.0.0.1:0")
    url, host, port = dashboard_of(p)
    stream = Stream(port)
    events = stream.events()

    def next_tick(pred, what, timeout=20):
        return wait_tick(events, pred, what, timeout)

    next_tick(lambda k: k["vus"] >= 1, "the load started")
    # Refused, with the reason: wrong executor, bad values, unknown scenario.
    for args, want in [
            (dict(action="set_vus", scenario="open", value=5), "constant-vus and ramping-vus"),
            (dict(action="set_rate", scenario="closed", value=5), "arrival-rate"),
            (dict(action="set_vus", scenario="closed", value=-1), "whole number"),
            (dict(action="set_vus", scenario="closed", value=1.5), "whole number"),
            (dict(action="set_vus", scenario="nope", value=3), "no scenario named"),
            (dict(action="set_rate", scenario="open", value="fast"), "rate from 0")]:
        action = args.pop("action")
        status, body = control(port, action, **args)
        check_eq(status, 400, "%s %r" % (action, args))
        check(want in body.get("error", ""), "%s %r: %r" % (action, args, body))
    # Accepted: 1 → 6 VUs (the scenario named, or the only one that fits).
    check_eq(control(port, "set_vus", value=6)[0], 200, "set_vus without a scenario name")
    tick = next_tick(lambda k: k["vus"] >= 6, "closed's 6 VUs")
    check(tick["vus"] >= 6, "vus %r" % tick["vus"])
    # 2 → 40 starts a second on the arrival-rate scenario, split over 2 workers.
    check_eq(control(port, "set_rate", scenario="open", value=40)[0], 200, "set_rate")
    fast = next_tick(lambda k: any(n["name"] == "open" and n["rps"] >= 25 for n in k["names"]),
                     "open at >= 25 requests/s")
    check(fast is not None, "rate followed")
    check_eq(control(port, "stop")[0], 200, "stop")
    stream.close()
    p.wait(timeout=60)
    r = t.collect(p, export)
    r.expect_rc(0)
    check(r.metric("vus")["max"] >= 6, "the summary's vus max %r" % r.metric("vus"))
    steering = r.json.get("steering")
    check_eq([s["action"] for s in steering], ["set_vus", "set_rate", "stop"], "steering actions")
    check_eq(steering[0]["value"], {"scenario": "closed", "vus": 6}, "set_vus recorded")
    check_eq(steering[1]["value"], {"scenario": "open", "rate": 40}, "set_rate recorded")
    check("set VUs of scenario closed to 6 from the dashboard" in r.stdout,
          "summary line:\n" + r.stdout[-1500:])


@case
def an_explicit_token_is_required(t):
    ngx = t.nginx()
    token = "0123456789abcdef-test-token"
    p, export = t.spawn("--url", ngx.url, "--vus", "1", "--duration", "60s", "--quiet",
                        "--ui", "127.0.0.1:0", "--ui-token", token)
    url, host, port = dashboard_of(p)
    p.stampede_err.seek(0)
    check(token not in p.stampede_err.read().decode(), "a given token is not printed")
    status, _, body = request(port, "GET", "/api/run")
    check(token.encode() not in body, "/api/run holds no token")
    check_eq(json.loads(body)["token_required"], True, "token_required")
    status, body = control(port, "stop")
    check_eq(status, 401, "no token")
    check("error" in body, "JSON error")
    check_eq(control(port, "stop", token="wrong")[0], 401, "wrong token")
    check_eq(control(port, "stop", headers={"X-Stampede-Token": token})[0], 200, "X-Stampede-Token")
    p.wait(timeout=45)
    r = t.collect(p, export)
    r.expect_rc(0)
    check(r.json.get("store") is None or True, "")


@case
def script_mode_lingers_and_ctrl_c_ends_the_linger(t):
    ngx = t.nginx()
    script = t.path("ui.lua")
    with open(script, "w") as f:
        f.write("""
local http = require("stampede.http")
options = { vus = 1, duration = "2s", thresholds = { http_req_duration = { "p(95)<60000" } } }
function default()
  http.get(ENV.TARGET, { name = "<script>alert(1)</script>" })
end
""")
    p, export = t.spawn(script, "-e", "TARGET=" + ngx.url, "--quiet", "--ui", "127.0.0.1:0",
                        "--ui-linger", "60s")
    url, host, port = dashboard_of(p)
    info = json.loads(request(port, "GET", "/api/run")[2])
    check_eq(info["script"], script, "script")
    check_eq(info["thresholds"], [{"metric": "http_req_duration", "expr": "p(95)<60000"}],
             "thresholds")
    # Wait for the end, then join late: history and end.
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        p.stampede_out.seek(0)
        if b"dashboard stays up" in p.stampede_out.read() or p.poll() is not None:
            break
        p.stampede_err.seek(0)
        if b"stays up" in p.stampede_err.read():
            break
        time.sleep(0.1)
    check(p.poll() is None, "still serving during the linger")
    s = Stream(port)
    events = read_until_end(s)
    s.close()
    check_eq([e for e, _ in events], ["history", "end"], "a late client's events")
    ticks = events[0][1]
    names = ticks[-1]["names"]
    check(names and names[0]["name"] == "<script>alert(1)</script>",
          "the name is delivered as JSON text: %r" % names[:1])
    check_eq(ticks[-1]["thresholds"], [{"metric": "http_req_duration", "expr": "p(95)<60000",
                                        "ok": True}], "threshold status")
    check_eq(events[1][1]["outcome"], "passed", "outcome")
    check_eq(control(port, "pause")[0], 409, "control after the end")
    p.send_signal(signal.SIGINT)
    p.wait(timeout=10)
    r = t.collect(p, export)
    r.expect_rc(0)  # Ctrl-C in the linger does not change the exit code


@case
def a_bad_ui_address_is_a_config_error(t):
    for addr in ("127.0.0.1:99999", "nonsense:port"):
        r = t.run("--url", "http://127.0.0.1:9/", "--ui", addr, export=False)
        r.expect_rc(h.EXIT_CONFIG)
        check(r.stderr.strip().count("\n") == 0 and "--ui" in r.stderr,
              "one line naming --ui: %r" % r.stderr)
    ngx = t.nginx()
    p, export = t.spawn("--url", ngx.url, "--duration", "30s", "--quiet", "--ui", "127.0.0.1:0")
    url, host, port = dashboard_of(p)
    r = t.run("--url", ngx.url, "--duration", "1s", "--ui", "127.0.0.1:%d" % port, export=False)
    r.expect_rc(h.EXIT_CONFIG)
    check("--ui" in r.stderr and "127.0.0.1:%d" % port in r.stderr, "busy port: %r" % r.stderr)
    check_eq(control(port, "stop")[0], 200, "stop")
    p.wait(timeout=45)

STAGED_SCRIPT = r"""
local http = require("stampede.http")
options = { scenarios = {
  ramp = { executor = "ramping-vus", startVUs = 1, gracefulRampDown = "0s",
           stages = { { duration = "3s", target = 2 }, { duration = "60s", target = 2 } } },
} }
function default() http.get(ENV.URL .. "?p=home", { name = "home" }); sleep(0.02) end
"""

TRACE_TEMPLATE = "http://traces.invalid/trace/{trace_id}?from=dashboard"


def get_json(port, path):
    status, headers, data = request(port, "GET", path)
    return status, json.loads(data.decode() or "null")


@case
def exemplars_list_slow_requests_and_open_their_stored_trace(t):
    ngx = t.nginx()
    script = t.path("staged.lua")
    with open(script, "w") as f:
        f.write(STAGED_SCRIPT)
    p, export = t.spawn(script, "-e", "URL=" + ngx.url, "--quiet", "--ui", "127.0.0.1:0",
                        "--trace-url-template", TRACE_TEMPLATE)
    url, host, port = dashboard_of(p)
    run = get_json(port, "/api/run")[1]
    check_eq(run["trace_url_template"], TRACE_TEMPLATE, "/api/run trace_url_template")
    stream = Stream(port)
    events = stream.events()
    # The progress names the scenario's stage, and moves to the next one.
    first = wait_tick(events, lambda k: k["rps"] > 0 and k["progress"]["stages"], "stage 1")
    st = first["progress"]["stages"][0]
    check_eq((st["scenario"], st["executor"], st["stage"], st["stages"], st["target"], st["unit"]),
             ("ramp", "ramping-vus", 1, 2, 2, "VUs"), "stage 1 of ramp")
    check(0 <= st["stage_left_s"] <= 3, "stage_left_s %r" % st["stage_left_s"])
    second = wait_tick(events, lambda k: k["progress"]["stages"] and
                       k["progress"]["stages"][0]["stage"] == 2, "stage 2")
    check(second["progress"]["stages"][0]["left_s"] <= 60, "left_s %r" % second["progress"])

    # Bad requests are refused with a reason.
    check_eq(get_json(port, "/api/exemplars")[0], 400, "no interval")
    check_eq(get_json(port, "/api/exemplars?from=20&to=10")[0], 400, "from > to")
    check_eq(get_json(port, "/api/trace/XYZ")[0], 400, "bad trace id")
    check_eq(get_json(port, "/api/trace/" + "a" * 32 + "?span=nothex")[0], 400, "bad span id")
    check_eq(request(port, "POST", "/api/exemplars?from=1&to=2")[0], 405, "POST exemplars")

    # A second with requests lists its slowest, slowest first, with their links.
    ticks = []
    tick = wait_tick(events, lambda k: (ticks.append(k) or True) and len(ticks) >= 3, "3 ticks")
    answer = None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        # The interval of a tick whose spans have had time to arrive (a
        # batch a second in store-only mode).
        prev, cur = ticks[-3], ticks[-2]
        status, answer = get_json(port, "/api/exemplars?from=%d&to=%d" % (prev["t"], cur["t"]))
        check_eq(status, 200, "/api/exemplars")
        if answer["requests"]:
            break
        ticks.append(next(k for k in (json.loads(d) for e, d in events if e == "tick")))
    check(answer and answer["requests"], "no exemplar within 20 s: %r" % answer)
    check_eq((answer["available"], answer["source"], answer["waterfalls"]),
             (True, "recorded", True), "exemplar source")
    reqs = answer["requests"]
    durations = [r["duration_ms"] for r in reqs]
    check_eq(durations, sorted(durations, reverse=True), "slowest first")
    check(len(reqs) <= 10, "at most 10")
    for r in reqs:
        check_eq((r["name"], r["method"], r["status"]), ("home", "GET", 200), "exemplar %r" % r)
        check(prev["t"] < r["t"] <= cur["t"], "ended in the interval: %r" % r)
        check(re.fullmatch(r"[0-9a-f]{32}", r["trace_id"]) and
              re.fullmatch(r"[0-9a-f]{16}", r["span_id"]), "ids %r" % r)
        check_eq(r["trace_url"], TRACE_TEMPLATE.replace("{trace_id}", r["trace_id"]), "trace_url")

    # Its trace, from the run store (once its second is committed).
    slowest = reqs[0]
    deadline = time.monotonic() + 30
    while True:
        status, view = get_json(port, "/api/trace/%s?span=%s" % (slowest["trace_id"],
                                                                 slowest["span_id"]))
        if status == 200 or time.monotonic() > deadline:
            break
        check_eq(status, 404, "trace not yet committed: %r" % view)
        check("not in the run store yet" in view["error"], "404 says why: %r" % view)
        next(events)
    check_eq(status, 200, "/api/trace of the slowest: %r" % view)
    req = view["request"]
    check_eq((req["trace_id"], req["span_id"], req["name"], req["method"], req["status"]),
             (slowest["trace_id"], slowest["span_id"], "home", "GET", 200), "the request")
    check("waiting" in req["phases"], "phases %r" % req["phases"])
    check_eq(req["trace_url"], slowest["trace_url"], "request trace_url")
    spans = view["trace"]["spans"]
    check(any(s["span_id"] == slowest["span_id"] and s["kind"] == "client" for s in spans),
          "the request span is in the trace: %r" % [s["name"] for s in spans])
    check_eq(get_json(port, "/api/trace/" + "f" * 32)[0], 404, "an unknown trace")

    check_eq(control(port, "stop")[0], 200, "stop")
    stream.close()
    p.wait(timeout=60)
    t.collect(p, export).expect_rc(0)


@case
def a_bad_trace_url_template_is_a_config_error(t):
    r = t.run("--url", "http://127.0.0.1:9/", "--ui", "127.0.0.1:0", "--trace-url-template",
              "ftp://x/{trace_id}", export=False)
    r.expect_rc(104)
    check("--trace-url-template" in r.stderr and "{trace_id}" in r.stderr, r.stderr)
    r = t.run("--url", "http://127.0.0.1:9/", "--trace-url-template", "http://x/{trace_id}",
              export=False)
    r.expect_rc(104)
    check("need --ui" in r.stderr, r.stderr)


if __name__ == "__main__":
    sys.exit(h.main())
