#!/usr/bin/env python3
"""End-to-end tests of distributed runs (issue 11): `stampede coordinator`
plus agents (`stampede agent`) as local processes on loopback, against nginx
(its access log counts what really arrived) and an OTLP sink.

    python3 tests/e2e/dist_e2e.py --stampede build/src/cli/stampede \
        [--store-hist-tool build/tests/store_hist_tool] [-k SUBSTR]

Reuses the harness of run_cli_tests.py; prints one line per case and exactly
`N passed, M failed`.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run_cli_tests as h  # noqa: E402
import otel_e2e  # noqa: E402
import ui_e2e  # noqa: E402
import store_e2e  # noqa: E402

h.CASES.clear()  # this file's cases only
case, check, check_eq = h.case, h.check, h.check_eq

TOKEN = "dist-e2e-token-0123456789abcdef"
LISTEN_LINE = re.compile(r"^coordinator: listening on (\S+):(\d+) for (\d+) agents", re.M)
EXIT_THRESHOLDS, EXIT_CONFIG, EXIT_SIGNAL, EXIT_PARTIAL = 99, 104, 105, 111

SCRIPT = r"""
local http = require("stampede.http")
options = {
  scenarios = {
    shared = { executor = "shared-iterations", vus = 6, iterations = 300, exec = "shared" },
  },
  thresholds = { http_reqs = { THRESHOLD } },
}
function setup() return { base = ENV.URL } end
function shared(data) http.get(data.base .. "?from=shared") end
function teardown(data) print("teardown saw " .. data.base) end
"""

LONG_SCRIPT = r"""
local http = require("stampede.http")
options = { scenarios = {
  steady = { executor = "constant-vus", vus = 3, duration = "40s" },
} }
function default() http.get(ENV.URL .. "?from=steady"); sleep(0.01) end
"""


class Proc:
    """A stampede coordinator or agent in the background."""

    def __init__(self, t, name, args, env=None):
        self.out_path = t.path("%s.stdout" % name)
        self.err_path = t.path("%s.stderr" % name)
        self.out = open(self.out_path, "w+b")
        self.err = open(self.err_path, "w+b")
        e = h.child_env(dict({"STAMPEDE_TOKEN": TOKEN}, **(env or {})))
        self.p = subprocess.Popen([t.stampede] + args, stdin=subprocess.DEVNULL, stdout=self.out,
                                  stderr=self.err, env=e, preexec_fn=h._pdeathsig, cwd=t.tmp)
        t.cleanups.append(self.kill)

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(timeout=10)
        self.out.close()
        self.err.close()

    def wait(self, timeout, what):
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("%s did not exit within %ss" % (what, timeout))

    def stdout(self):
        with open(self.out_path, errors="replace") as f:
            return f.read()

    def stderr(self):
        with open(self.err_path, errors="replace") as f:
            return f.read()


def coordinator(t, script, agents, *extra, env=None):
    export = t.path("summary.json")
    store = [] if "--out" in extra else ["--no-store"]
    c = Proc(t, "coordinator", ["coordinator", script, "--agents", str(agents), "--listen",
                                "127.0.0.1:0", "--summary-export", export] + store + list(extra),
             env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        m = LISTEN_LINE.search(c.stderr())
        if m:
            c.address = "%s:%s" % (m.group(1), m.group(2))
            c.export = export
            return c
        check(c.p.poll() is None, "the coordinator exited early:\n" + c.stderr())
        time.sleep(0.05)
    raise AssertionError("no `coordinator: listening on` line within 30 s")


def agent(t, c, index, env=None, token=None):
    e = dict(env or {})
    if token is not None:
        e["STAMPEDE_TOKEN"] = token
    return Proc(t, "agent-%d" % index,
                ["agent", "--coordinator", c.address, "--index", str(index)], env=e)


def write(t, name, text):
    path = t.path(name)
    with open(path, "w") as f:
        f.write(text)
    return path


def summary_count(text, metric):
    m = re.search(r"^\s*%s\.*:\s*(\d+)" % re.escape(metric), text, re.M)
    return int(m.group(1)) if m else None


def logged(ngx, marker):
    try:
        with open(ngx.access_log_path, "rb") as f:
            return sum(1 for ln in f if marker in ln)
    except OSError:
        return 0


@case
def three_agents_make_one_exact_result(t):
    ngx = t.own_nginx(https=False, access_log=True)
    script = write(t, "dist.lua", SCRIPT.replace("THRESHOLD", '"count<100000"'))
    c = coordinator(t, script, 3, "-e", "URL=" + ngx.url)
    agents = [agent(t, c, i) for i in range(3)]
    rc = c.wait(90, "the coordinator")
    for a in agents:
        check_eq(a.wait(30, "an agent"), 0, "agent exit code:\n" + a.stderr()[-800:])
    check_eq(rc, 0, "coordinator exit code:\n" + c.stderr()[-1500:] + c.stdout()[-1500:])
    out = c.stdout()
    with open(c.export) as f:
        summary = json.load(f)
    merged = int(summary["metrics"]["http_reqs"]["count"])
    per_agent = [summary_count(a.stdout(), "http_reqs") for a in agents]
    check(all(n is not None and n > 0 for n in per_agent), "each agent ran a part: %r" % per_agent)
    # setup() ran once, on the coordinator; its data reached every agent
    # (their requests use its URL); teardown() ran once, there too.
    check_eq(merged, 300, "the merged http_reqs is the test's iterations")
    check_eq(sum(per_agent), merged, "the merged http_reqs is the sum over agents")
    for _ in range(50):
        if logged(ngx, b"from=shared") >= merged:
            break
        time.sleep(0.1)
    check_eq(logged(ngx, b"from=shared"), merged, "nginx counted what the merge says")
    check("teardown saw " + ngx.url in out, "teardown ran on the coordinator:\n" + out[-500:])
    for a in agents:
        check("teardown saw" not in a.stdout(), "an agent ran teardown()")
    check_eq(summary.get("partial"), False, "not partial")
    check_eq(len(summary.get("agents", [])), 3, "three agent lines")
    check("agents:" in out, "the summary lists the agents")
    check_eq(int(summary["metrics"]["iterations"]["count"]), 300, "merged iterations")


@case
def a_threshold_only_the_whole_fails_fails_the_run(t):
    ngx = t.nginx()
    # 300 requests in all, 100 per agent: each agent alone would pass.
    script = write(t, "dist.lua", SCRIPT.replace("THRESHOLD", '"count<250"'))
    c = coordinator(t, script, 3, "-e", "URL=" + ngx.url)
    agents = [agent(t, c, i) for i in range(3)]
    rc = c.wait(90, "the coordinator")
    for a in agents:
        a.wait(30, "an agent")
        n = summary_count(a.stdout(), "http_reqs")
        check(n is not None and n < 250, "an agent alone stays under the threshold: %r" % n)
    check_eq(rc, EXIT_THRESHOLDS, "exit code (the whole crossed the threshold):\n" +
             c.stdout()[-800:])
    check("thresholds on metrics 'http_reqs' have been crossed" in c.stdout(), c.stdout()[-800:])


@case
def a_killed_agent_is_named_and_the_result_is_partial(t):
    ngx = t.own_nginx(https=False, access_log=True)
    script = write(t, "long.lua", LONG_SCRIPT)
    c = coordinator(t, script, 3, "-e", "URL=" + ngx.url, "--heartbeat-timeout", "2s",
                    "--duration", "8s")
    agents = [agent(t, c, i) for i in range(3)]
    # Killed once the load runs (every agent ready, requests arriving).
    h.wait_for(lambda: len(re.findall(r"agent \d \(.*\) ready", c.stderr())) == 3 and
               logged(ngx, b"from=steady") > 0, "the load started", proc=c.p, attempts=600)
    agents[1].p.send_signal(signal.SIGKILL)
    rc = c.wait(60, "the coordinator (ends on time despite the loss)")
    check_eq(rc, EXIT_PARTIAL, "exit code:\n" + c.stderr()[-1000:])
    err, out = c.stderr(), c.stdout()
    check(re.search(r"agent 1 \(.*\) lost: no report for", err), "named on stderr:\n" + err[-800:])
    check("PARTIAL RESULT" in out and "agent 1" in out, "named in the summary:\n" + out[-800:])
    with open(c.export) as f:
        summary = json.load(f)
    check_eq(summary.get("partial"), True, "summary JSON partial")
    check(any("agent 1" in a for a in summary.get("lost_agents", [])), summary.get("lost_agents"))
    for i in (0, 2):
        check_eq(agents[i].wait(30, "a surviving agent"), 0, "survivor exit code")


@case
def on_agent_loss_abort_stops_every_agent(t):
    ngx = t.own_nginx(https=False, access_log=True)
    script = write(t, "long.lua", LONG_SCRIPT)  # 40 s unless stopped
    c = coordinator(t, script, 3, "-e", "URL=" + ngx.url, "--heartbeat-timeout", "2s",
                    "--on-agent-loss", "abort")
    agents = [agent(t, c, i) for i in range(3)]
    h.wait_for(lambda: len(re.findall(r"agent \d \(.*\) ready", c.stderr())) == 3 and
               logged(ngx, b"from=steady") > 0, "the load started", proc=c.p, attempts=600)
    agents[2].p.send_signal(signal.SIGKILL)
    # Bounded by the wait: far less than the scenario's 40 s when the stop works.
    rc = c.wait(30, "the coordinator after the loss (--on-agent-loss abort)")
    check_eq(rc, EXIT_PARTIAL, "exit code:\n" + c.stderr()[-800:])
    check("--on-agent-loss abort: stopping every agent" in c.stderr(), c.stderr()[-800:])
    for i in (0, 1):
        check_eq(agents[i].wait(30, "a surviving agent"), 0, "survivor exit code")
        check("the coordinator stopped the test" in agents[i].stderr(), agents[i].stderr()[-400:])


@case
def the_coordinators_dashboard_steers_every_agent(t):
    """set_vus from the coordinator's dashboard: a whole-test target each
    agent turns into its segment's share; stop ends every agent."""
    ngx = t.nginx()
    script = write(t, "long.lua", LONG_SCRIPT)  # constant-vus, 3 VUs in all
    c = coordinator(t, script, 2, "-e", "URL=" + ngx.url, "--ui", "127.0.0.1:0")
    agents = [agent(t, c, i) for i in range(2)]
    url, host, port = ui_e2e.dashboard_of(type("P", (), {"stampede_err": c.err,
                                                          "poll": c.p.poll})())
    stream = ui_e2e.Stream(port)
    events = stream.events()
    ui_e2e.wait_tick(events, lambda k: k["vus"] >= 3 and k["rps"] > 0, "3 VUs running", 30)
    status, body = ui_e2e.control(port, "set_vus", scenario="steady", value=7)
    check_eq(status, 200, "set_vus on a coordinator: %r" % body)
    tick = ui_e2e.wait_tick(events, lambda k: k["vus"] >= 7, "7 VUs over the agents", 30)
    check(tick["vus"] == 7, "the agents' VUs add up to the target: %r" % tick["vus"])
    check_eq(ui_e2e.control(port, "stop")[0], 200, "stop")
    stream.close()
    check_eq(c.wait(60, "the coordinator"), 0, "coordinator exit code:\n" + c.stderr()[-800:])
    vus = [int(m) for a in agents for m in re.findall(r"^\s*vus\.*: \d+\s+min=\d+\s+max=(\d+)",
                                                       a.stdout(), re.M)]
    check_eq(sorted(vus), [3, 4], "each agent ran its share of 7 (max VUs): %r" % vus)
    with open(c.export) as f:
        summary = json.load(f)
    check_eq([s["action"] for s in summary["steering"]], ["set_vus", "stop"], "steering recorded")


@case
def agents_stop_when_the_coordinator_goes_away(t):
    ngx = t.own_nginx(https=False, access_log=True)
    script = write(t, "long.lua", LONG_SCRIPT)
    c = coordinator(t, script, 2, "-e", "URL=" + ngx.url, "--agent-grace", "3s")
    agents = [agent(t, c, i) for i in range(2)]
    h.wait_for(lambda: len(re.findall(r"agent \d \(.*\) ready", c.stderr())) == 2 and
               logged(ngx, b"from=steady") > 0, "the load started", proc=c.p, attempts=600)
    c.p.send_signal(signal.SIGKILL)
    for a in agents:
        rc = a.wait(30, "an agent whose coordinator died (a 40 s scenario)")
        check_eq(rc, EXIT_SIGNAL, "agent exit code:\n" + a.stderr()[-600:])
        check("no answer from the coordinator for 3 s: stopping" in a.stderr(), a.stderr()[-600:])


@case
def the_shops_spans_join_the_agents_in_the_coordinators_store(t):
    """Against the OTel-instrumented demo shop: agents' CLIENT spans (forwarded)
    and the shop's SERVER spans (to the coordinator's receiver) meet in the
    coordinator's run store, one trace each."""
    port = h.free_port()
    base, _ = store_e2e.shop(t, port)
    script = write(t, "shop.lua", store_e2e.SHOP_SCRIPT)  # 3 VUs, 30 iterations: 60 requests
    c = coordinator(t, script, 3, "-e", "BASE_URL=" + base, "--out", "sqlite=run.db",
                    "--collect=127.0.0.1:%d" % port, "--collect-linger", "2s")
    agents = [agent(t, c, i) for i in range(3)]
    check_eq(c.wait(90, "the coordinator"), 0, "coordinator exit code:\n" + c.stderr()[-800:])
    for a in agents:
        check_eq(a.wait(30, "an agent"), 0, "agent exit code:\n" + a.stderr()[-600:])
    con = store_e2e.db(t.path("run.db"))
    client = {row["span_id"]: row for row in con.execute(
        "SELECT * FROM span WHERE source = 'client' AND method IS NOT NULL")}
    check_eq(len(client), 60, "the agents' request spans in the coordinator's store")
    server = con.execute("SELECT * FROM span WHERE source = 'service' AND kind = 'server'").fetchall()
    check_eq(len(server), 60, "the shop's SERVER spans, received by the coordinator")
    for row in server:
        parent = client.get(row["parent_span_id"])
        check(parent is not None, "SERVER span %s has no CLIENT parent" % row["name"])
        check_eq(row["trace_id"], parent["trace_id"], "one trace")


@case
def a_wrong_token_is_refused_and_logged(t):
    ngx = t.nginx()
    script = write(t, "dist.lua", SCRIPT.replace("THRESHOLD", '"count<100000"'))
    c = coordinator(t, script, 1, "-e", "URL=" + ngx.url, "--start-timeout", "20s")
    bad = agent(t, c, 0, token="not-the-token")
    check_eq(bad.wait(30, "the refused agent"), EXIT_CONFIG, "refused agent exit code")
    err = bad.stderr()
    check("refused the token" in err and err.count("\n") == 1, "one line:\n" + err)
    check(TOKEN not in err and "not-the-token" not in c.stderr(), "no token is printed")
    check(re.search(r"refused POST /v1/join from 127\.0\.0\.1:\d+: a wrong token", c.stderr()),
          "the coordinator logs the refusal:\n" + c.stderr())
    # The coordinator lives on: the right agent still runs the test.
    good = agent(t, c, 0)
    check_eq(good.wait(60, "the agent"), 0, "agent exit code")
    check_eq(c.wait(60, "the coordinator"), 0, "coordinator exit code:\n" + c.stderr()[-800:])


@case
def an_agent_without_a_valid_index_gets_one_line(t):
    ngx = t.nginx()
    script = write(t, "dist.lua", SCRIPT.replace("THRESHOLD", '"count<100000"'))
    c = coordinator(t, script, 2, "-e", "URL=" + ngx.url, "--start-timeout", "60s")
    # Out of range: the coordinator refuses it (409) and lives on.
    far = agent(t, c, 5)
    check_eq(far.wait(30, "the out-of-range agent"), EXIT_CONFIG, "out-of-range agent exit code")
    err = far.stderr()
    check(err.count("\n") == 1 and "refused agent 5" in err and "out of range" in err
          and "(0 .. 1)" in err, "one line naming the index and the range:\n" + err)
    # No index at all, and a JOB_COMPLETION_INDEX that is not one.
    env = {"STAMPEDE_TOKEN": TOKEN}
    none = Proc(t, "agent-none", ["agent", "--coordinator", c.address], env=env)
    check_eq(none.wait(30, "the agent without index"), EXIT_CONFIG, "exit code without index")
    check(none.stderr().count("\n") == 1 and "--index" in none.stderr()
          and "JOB_COMPLETION_INDEX" in none.stderr(), none.stderr())
    env["JOB_COMPLETION_INDEX"] = "abc"
    bad = Proc(t, "agent-bad", ["agent", "--coordinator", c.address], env=env)
    check_eq(bad.wait(30, "the agent with a bad index"), EXIT_CONFIG, "exit code, bad index")
    check('JOB_COMPLETION_INDEX "abc" is not an index' in bad.stderr(), bad.stderr())
    # The Kubernetes way, then: the test runs with the right two.
    env["JOB_COMPLETION_INDEX"] = "1"
    one = Proc(t, "agent-1", ["agent", "--coordinator", c.address], env=env)
    zero = agent(t, c, 0)
    check_eq(zero.wait(60, "agent 0"), 0, "agent 0 exit code")
    check_eq(one.wait(60, "agent 1"), 0, "agent 1 exit code")
    check_eq(c.wait(60, "the coordinator"), 0, "coordinator exit code:\n" + c.stderr()[-800:])
    with open(c.export) as f:
        check_eq(int(json.load(f)["metrics"]["http_reqs"]["count"]), 300, "merged http_reqs")


@case
def agents_that_never_come_time_out_the_start(t):
    ngx = t.nginx()
    script = write(t, "dist.lua", SCRIPT.replace("THRESHOLD", '"count<100000"'))
    c = coordinator(t, script, 2, "-e", "URL=" + ngx.url, "--start-timeout", "2s")
    a = agent(t, c, 0)
    check_eq(c.wait(30, "the coordinator"), EXIT_CONFIG, "coordinator exit code")
    err = c.stderr()
    check(re.search(r"agents 1 did not join and get ready within 2 s", err), err[-600:])
    rc = a.wait(30, "the waiting agent")
    check(rc in (EXIT_SIGNAL, EXIT_CONFIG), "the waiting agent stops (exit %r)" % rc)


@case
def every_agent_exports_its_spans_with_its_index(t):
    sink = otel_e2e.Sink(t)
    ngx = t.nginx()
    script = write(t, "dist.lua", SCRIPT.replace("THRESHOLD", '"count<100000"'))
    c = coordinator(t, script, 3, "-e", "URL=" + ngx.url, "--otel")
    env = otel_e2e.otel_env(sink)
    agents = [agent(t, c, i, env=env) for i in range(3)]
    check_eq(c.wait(90, "the coordinator"), 0, "coordinator exit code")
    for a in agents:
        check_eq(a.wait(30, "an agent"), 0, "agent exit code")
    spans = []
    for _ in range(100):
        spans = [s for s in sink.spans() if s["kind"] == 3]
        if len(spans) >= 300:
            break
        time.sleep(0.1)
    check_eq(len(spans), 300, "one CLIENT span per request, from all agents")
    ids = sorted({s["resource"].get("service.instance.id") for s in spans})
    check_eq(ids, ["0", "1", "2"], "service.instance.id is each agent's index")
    runs = {s["resource"].get("stampede.run.id") for s in spans}
    check_eq(len(runs), 1, "one run id for the whole test")


def exact_merge_from_the_agents_own_histograms(t):
    """The coordinator's merged http_req_duration histogram, as its run store
    holds it, is bucket for bucket the merge of the histograms each agent
    stored of its own requests: the wire deltas and the merge lose nothing
    (no average of percentiles), and the summary's p(95) is that histogram's."""
    ngx = t.nginx()
    script = write(t, "dist.lua", SCRIPT.replace("THRESHOLD", '"count<100000"'))
    coord_db = t.path("coordinator.db")
    c = Proc(t, "coordinator", ["coordinator", script, "--agents", "3", "--listen", "127.0.0.1:0",
                                "-e", "URL=" + ngx.url, "--out", "sqlite=" + coord_db,
                                "--summary-export", t.path("summary.json")])
    h.wait_for(lambda: LISTEN_LINE.search(c.stderr()), "the coordinator listens", proc=c.p)
    m = LISTEN_LINE.search(c.stderr())
    c.address = "%s:%s" % (m.group(1), m.group(2))
    agent_dbs = [t.path("agent-%d.db" % i) for i in range(3)]
    agents = [Proc(t, "agent-%d" % i, ["agent", "--coordinator", c.address, "--index", str(i),
                                       "--store", agent_dbs[i]]) for i in range(3)]
    check_eq(c.wait(90, "the coordinator"), 0, "coordinator exit code:\n" + c.stderr()[-800:])
    for a in agents:
        check_eq(a.wait(30, "an agent"), 0, "agent exit code:\n" + a.stderr()[-800:])

    def hist(*dbs):
        out = subprocess.run([STORE_HIST_TOOL, "http_req_duration"] + list(dbs),
                             capture_output=True, text=True, timeout=60)
        check_eq(out.returncode, 0, "store_hist_tool: " + out.stderr)
        return json.loads(out.stdout)
    whole = hist(coord_db)
    parts = hist(*agent_dbs)
    check_eq(whole["count"], 300, "the coordinator's histogram holds every request")
    for key in ("count", "zero_count", "scale", "buckets"):
        check_eq(whole[key], parts[key], "merged %s equals the agents' own, merged" % key)
    check_eq(whole["p95"], parts["p95"], "p95 of the merge equals p95 of every sample")
    # The agents' request spans reached the coordinator's run store (its
    # report's waterfalls), from every agent.
    import sqlite3
    db = sqlite3.connect(coord_db)
    spans = db.execute("SELECT count(*) FROM span WHERE source = 'client' AND kind = 'client'"
                       ).fetchone()[0]
    check(spans > 0, "the coordinator's store holds the agents' request spans")
    resources = [r[0] for r in db.execute("SELECT DISTINCT r.attributes FROM span s JOIN resource r "
                                          "USING (resource_id) WHERE s.source = 'client'")]
    instances = sorted({json.loads(a).get("service.instance.id") for a in resources})
    check_eq(instances, ["0", "1", "2"], "spans from every agent (service.instance.id)")
    db.close()
    with open(t.path("summary.json")) as f:
        summary = json.load(f)
    p95 = summary["metrics"]["http_req_duration"]["p(95)"]
    check(abs(p95 - whole["p95"]) <= 1e-6 * max(1.0, whole["p95"]),
          "the summary's p(95) %r is the merged histogram's %r" % (p95, whole["p95"]))


STORE_HIST_TOOL = None
if __name__ == "__main__":
    if "--store-hist-tool" in sys.argv:
        i = sys.argv.index("--store-hist-tool")
        STORE_HIST_TOOL = os.path.abspath(sys.argv[i + 1])
        del sys.argv[i:i + 2]
    if STORE_HIST_TOOL:
        case(exact_merge_from_the_agents_own_histograms)
    sys.exit(h.main())
