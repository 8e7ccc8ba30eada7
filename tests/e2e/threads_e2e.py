#!/usr/bin/env python3
"""Every thread of stampede at once, for the sanitizers (issue 12).

    python3 tests/e2e/threads_e2e.py --stampede build-tsan/src/cli/stampede [-k SUBSTR]

A run whose threads all work together: script workers on two threads, the
span exporter and the metrics pipeline (to the real OTLP sink), the run
store's writer, the Prometheus listener scraped while it runs, the dashboard
with a client on its event stream and control requests (pause, resume,
set_vus), and the built-in receiver taking spans; then a coordinator with two
agents (its server and monitor threads, the agents' reporter threads). In the
release tree it is one more end-to-end test; built with the `tsan` preset it
is how the concurrency of the whole binary is checked (CTest `tsan`): any
ThreadSanitizer (or ASan/UBSan) report fails the case, whatever the exit code.

Reuses the harness of run_cli_tests.py; prints one line per case and exactly
`N passed, M failed`.
"""

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run_cli_tests as h  # noqa: E402
import otel_e2e  # noqa: E402

h.CASES.clear()  # this file's cases only (otel_e2e's import cleared its own)
case, check, check_eq = h.case, h.check, h.check_eq

SANITIZER_REPORT = re.compile(r"(ThreadSanitizer|AddressSanitizer|LeakSanitizer|"
                              r"UndefinedBehaviorSanitizer|runtime error:)")

SCRIPT = r"""
local http = require("stampede.http")
local metrics = require("stampede.metrics")
local seen = metrics.Counter("seen_by_script")
options = {
  scenarios = {
    steady = { executor = "constant-vus", vus = 8, duration = "4s", exec = "steady" },
  },
  thresholds = { http_req_failed = { "rate<0.5" } },
}
function steady()
  local res = http.get(ENV.URL .. "?from=threads")
  if res.status == 200 then seen:add(1) end
end
"""


def no_sanitizer_report(err, what):
    m = SANITIZER_REPORT.search(err)
    if m:
        start = max(0, m.start() - 200)
        raise AssertionError("%s: a sanitizer report:\n%s" % (what, err[start:start + 4000]))


def get(url, token=None, data=None, timeout=30):
    req = urllib.request.Request(url, data=data)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read()


@case
def every_thread_of_a_run_at_once(t):
    ngx = t.nginx()
    sink = otel_e2e.Sink(t)
    script = t.path("threads.lua")
    with open(script, "w") as f:
        f.write(SCRIPT)
    store = t.path("run.db")
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:%d" % sink.http_port,
           "OTEL_METRIC_EXPORT_INTERVAL": "500", "OTEL_BSP_SCHEDULE_DELAY": "200"}
    p, export = t.spawn(script, "-e", "URL=" + ngx.url, "--threads", "2", "--otel",
                        "--out", "sqlite=" + store, "--prometheus", "127.0.0.1:0",
                        "--ui=127.0.0.1:0", "--ui-token", "tok-threads",
                        "--collect=127.0.0.1:0", "--collect-linger", "0s", env=env)
    stderr_file = t.path("spawn-%d.stderr" % (len(t.results)))

    def stderr():
        with open(stderr_file, errors="replace") as f:
            return f.read()

    def address(pattern):
        m = re.search(pattern, stderr())
        return m.group(1) if m else None

    h.wait_for(lambda: address(r"serving Prometheus metrics at (http://\S+/metrics)") and
               address(r"dashboard: (http://\S+/)") and
               address(r"receiving spans over OTLP/HTTP at (http://\S+/v1/traces)"),
               "the listeners to come up", proc=p, attempts=600)
    prom = address(r"serving Prometheus metrics at (http://\S+/metrics)")
    ui = address(r"dashboard: (http://\S+/)")
    receiver = address(r"receiving spans over OTLP/HTTP at (http://\S+/v1/traces)")
    # A client on the event stream for the whole run (the publisher's thread).
    stream = subprocess.Popen(["curl", "-sN", "--max-time", "60", ui + "api/stream"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t.cleanups.append(lambda: stream.poll() is None and stream.kill())
    scrapes = 0
    controls = 0
    for action in ({"action": "pause"}, {"action": "resume"},
                   {"action": "set_vus", "scenario": "steady", "vus": 5}, None, None):
        if p.poll() is not None:
            break
        status, body = get(prom)
        check_eq(status, 200, "a /metrics scrape")
        scrapes += 1
        status, body = get(ui + "api/run")
        check_eq(status, 200, "GET /api/run")
        # An (empty) OTLP/JSON request to the receiver, on its thread.
        try:
            get(receiver, data=json.dumps({"resourceSpans": []}).encode())
        except OSError:
            pass  # the receiver may close as the run ends
        if action is not None:
            try:
                status, _ = get(ui + "api/control", token="tok-threads",
                                data=json.dumps(action).encode())
                controls += status == 200
            except OSError:
                pass
    h.wait_exit(p, 300, "the run")
    err = stderr()
    no_sanitizer_report(err, "the run")
    r = t.collect(p, export)
    r.expect_rc(0)
    check(scrapes >= 1 and controls >= 1, "scrapes %d, control requests %d" % (scrapes, controls))
    check(r.metric("http_reqs")["count"] > 0, "requests were made")
    check_eq(r.metric("seen_by_script")["count"], r.metric("http_reqs")["count"],
             "the custom counter saw every request")
    h.wait_for(lambda: len(sink.spans()) > 0, "spans at the sink", attempts=300)
    con = sqlite3.connect(store)
    check_eq(con.execute("PRAGMA integrity_check").fetchone()[0], "ok", "store integrity")


@case
def a_coordinator_and_two_agents(t):
    ngx = t.nginx()
    script = t.path("dist.lua")
    with open(script, "w") as f:
        f.write(SCRIPT.replace('executor = "constant-vus", vus = 8, duration = "4s"',
                               'executor = "shared-iterations", vus = 4, iterations = 200'))
    export = t.path("summary.json")
    env = h.child_env({"STAMPEDE_TOKEN": "threads-token"})
    c = subprocess.Popen([t.stampede, "coordinator", script, "--agents", "2", "--listen",
                          "127.0.0.1:0", "-e", "URL=" + ngx.url, "--no-store",
                          "--summary-export", export],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=open(t.path("coordinator.stderr"), "w+b"), env=env,
                         preexec_fn=h._pdeathsig, cwd=t.tmp)
    t.cleanups.append(lambda: c.poll() is None and c.kill())

    def cerr():
        with open(t.path("coordinator.stderr"), errors="replace") as f:
            return f.read()

    h.wait_for(lambda: re.search(r"listening on (\S+) for", cerr()), "the coordinator",
               proc=c, attempts=600)
    address = re.search(r"listening on (\S+) for", cerr()).group(1)
    agents = []
    for i in range(2):
        errf = open(t.path("agent-%d.stderr" % i), "w+b")
        agents.append((subprocess.Popen(
            [t.stampede, "agent", "--coordinator", address, "--index", str(i)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errf, env=env,
            preexec_fn=h._pdeathsig, cwd=t.tmp), t.path("agent-%d.stderr" % i)))
        t.cleanups.append(lambda a=agents[-1][0]: a.poll() is None and a.kill())
    c.communicate(timeout=300)
    for a, path in agents:
        a.wait(timeout=120)
        with open(path, errors="replace") as f:
            no_sanitizer_report(f.read(), "an agent")
        check_eq(a.returncode, 0, "agent exit code")
    no_sanitizer_report(cerr(), "the coordinator")
    check_eq(c.returncode, 0, "coordinator exit code:\n" + cerr()[-1500:])
    with open(export) as f:
        check_eq(int(json.load(f)["metrics"]["http_reqs"]["count"]), 200, "merged http_reqs")


if __name__ == "__main__":
    sys.exit(h.main())
