#!/usr/bin/env python3
"""End-to-end tests of the run store, the built-in OTLP receiver, and the
commands that read a stored run (python3 stdlib + node + nginx).

    python3 tests/e2e/store_e2e.py --stampede build/src/cli/stampede [-k SUBSTR]

Every run writes one SQLite file (docs/store.md); these cases check it with
Python's own sqlite3 module against what stampede printed and exported:
counts equal the summary's, the file survives kill -9 with every committed
second, the demo shop (examples/shop, the OpenTelemetry SDK for Node.js)
exports its spans to stampede's receiver over HTTP protobuf, HTTP JSON and
gRPC and they join our CLIENT spans, spans of other traces are counted and
dropped, and `report`, `slow` and `compare` work on the stored runs.

Reuses the harness of run_cli_tests.py; prints one line per case and exactly
`N passed, M failed`.
"""

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import run_cli_tests as h  # noqa: E402
import otel_e2e as o  # noqa: E402  (its Node helpers; its cases are cleared below)

h.CASES.clear()  # this file's cases only
case, check, check_eq = h.case, h.check, h.check_eq

SHOP = os.path.join(REPO, "examples", "shop")
STORE_LINE = re.compile(r"^\s*run store: (\S+) \((\d+) s, (\d+) of stampede's spans kept", re.M)


def db(path):
    check(os.path.exists(path), "run store %s was not written" % path)
    check(not os.path.exists(path + "-wal") or os.path.getsize(path + "-wal") == 0,
          "the WAL of a finished run should be checkpointed into the file")
    con = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    con.row_factory = sqlite3.Row
    return con


def metric_total(con, name, column="samples"):
    row = con.execute(
        "SELECT SUM(p.%s) FROM point p JOIN series s USING (series_id) "
        "JOIN metric m USING (metric_id) WHERE m.name = ? AND s.rollup = 'metric'" % column,
        (name,)).fetchone()
    return row[0] or 0


def wait_for_port(port, proc, what, timeout=30):
    """Readiness: returns once something accepts on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        check(proc.poll() is None, "%s exited before listening" % what)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("%s did not listen on %d within %ds" % (what, port, timeout))


def shop(t, export_port, protocol="http/protobuf", extra=None):
    o.ensure_node_modules(SHOP)
    env = {"PORT": "0", "OTEL_SERVICE_NAME": "shop", "OTEL_BSP_SCHEDULE_DELAY": "200",
           "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:%d" % export_port,
           "OTEL_EXPORTER_OTLP_PROTOCOL": protocol, "SHOP_MAX_SECONDS": "120"}
    env.update(extra or {})
    s = o.Node(t, ["node", os.path.join(SHOP, "server.js")], env=env)
    return "http://127.0.0.1:%s" % s.words[2], s


SHOP_SCRIPT = """
local http = require("stampede.http")
options = { vus = 3, iterations = 30 }
function default()
  http.get(ENV.BASE_URL .. "/api/products")
  http.get(ENV.BASE_URL .. "/product/" .. random_int(1, 5), { name = "/product/{id}" })
end
"""


# Long enough for charts with a line to draw (the browser test checks pixels).
SHOP_SCRIPT_TIMED = """
local http = require("stampede.http")
options = { vus = 4, duration = "6s" }
function default()
  http.get(ENV.BASE_URL .. "/api/products")
  http.get(ENV.BASE_URL .. "/product/" .. random_int(1, 5), { name = "/product/{id}" })
  sleep(0.05)
end
"""


def write_script(t, text=SHOP_SCRIPT, name="shop.lua"):
    path = t.path(name)
    with open(path, "w") as f:
        f.write(text)
    return path


@case
def url_run_writes_the_default_store_matching_the_summary(t):
    ngx = t.nginx()
    r = t.run("--url", ngx.url, "--vus", "2", "--iterations", "400")
    h.check_success(r, 400)
    m = STORE_LINE.search(r.stdout)
    check(m is not None, "the summary names the run store:\n" + r.stdout)
    rel = m.group(1)
    check(re.fullmatch(r"stampede-runs/\d{8}T\d{6}-[0-9a-f]{32}\.db", rel),
          "default path stampede-runs/<start>-<run id>.db, got " + rel)
    con = db(os.path.join(t.tmp, rel))
    run = con.execute("SELECT * FROM run").fetchone()
    check_eq(run["exit_code"], 0, "run.exit_code")
    check_eq(run["outcome"], "passed", "run.outcome")
    check(run["end_unix_ns"] > run["start_unix_ns"] > 1_600_000_000 * 10**9, "run times")
    check(run["run_id"] in rel, "file name holds the run id")
    check("--iterations 400" in run["command_line"], "command line: " + run["command_line"])
    check_eq(run["target"], "GET " + ngx.url, "run.target")
    check_eq(json.loads(run["summary"])["metrics"]["http_reqs"]["count"], 400, "stored summary")
    check_eq(con.execute("PRAGMA user_version").fetchone()[0], 1, "schema version")
    # Per-second rows add up to the summary exactly.
    check_eq(metric_total(con, "http_reqs"), 400, "sum over seconds of http_reqs samples")
    check_eq(metric_total(con, "http_reqs", "value"), 400, "sum over seconds of http_reqs")
    check_eq(metric_total(con, "http_req_duration"), r.metric("http_reqs")["count"],
             "http_req_duration samples")
    check_eq(metric_total(con, "data_received", "value"), r.metric("data_received")["count"],
             "data_received bytes")
    # Every request kept (well under the per-second budget), with its phases.
    reqs = con.execute("SELECT * FROM span WHERE method IS NOT NULL").fetchall()
    check_eq(len(reqs), 400, "request spans kept")
    check(all(x["http_status"] == 200 and x["url"] == ngx.url for x in reqs), "request columns")
    check(all(x["waiting_ms"] is not None and x["sending_ms"] is not None for x in reqs),
          "phase columns")
    check(all(x["trace_id"].startswith(run["run_id"][:8]) for x in reqs),
          "trace ids start with the run's tag (the first 8 hex digits of its run id)")
    connects = con.execute("SELECT COUNT(*) FROM span WHERE name LIKE 'socket connect %'")
    check_eq(connects.fetchone()[0], 2, "connect spans (one per connection)")
    # p95 of the whole run from the per-second rows vs the summary: the
    # slowest second's p95 bounds it from above, the fastest from below.
    p95s = [row[0] for row in con.execute(
        "SELECT p.p95 FROM point p JOIN series s USING (series_id) JOIN metric m USING "
        "(metric_id) WHERE m.name = 'http_req_duration' AND s.rollup = 'metric'")]
    summary_p95 = r.metric("http_req_duration")["p(95)"]
    check(min(p95s) * 0.99 <= summary_p95 <= max(p95s) * 1.01 + 1e-9,
          "summary p95 %s outside the per-second p95s [%s, %s]" % (summary_p95, min(p95s),
                                                                   max(p95s)))


TAGS_SCRIPT = r"""
local http = require("stampede.http")
local execution = require("stampede.execution")
options = { scenarios = { s = { executor = "per-vu-iterations", vus = 2, iterations = 3 } } }
function default()
  http.get(ENV.URL .. "?before=" .. execution.vu.iterationInScenario)
  execution.vu.tags.plan = "pro"
  http.get(ENV.URL .. "?after=" .. execution.vu.iterationInScenario)
  if execution.scenario.iterationInTest == 4 then execution.test.abort("seen enough") end
end
"""


@case
def vu_tags_reach_spans_and_an_abort_is_stored(t):
    # execution.vu.tags set in an iteration: the VU's later request spans
    # (and iteration spans) carry stampede.tag.plan; execution.test.abort()
    # ends the run with exit 108 and the stored outcome says so.
    ngx = t.nginx()
    script = write_script(t, TAGS_SCRIPT, "tags.lua")
    r = t.run(script, "-e", "URL=" + ngx.url, "--threads", "1", "--out",
              "sqlite=" + t.path("tags.db"))
    r.expect_rc(108)
    con = db(t.path("tags.db"))
    run = con.execute("SELECT exit_code, outcome, summary FROM run").fetchone()
    check_eq(run["exit_code"], 108, "run.exit_code")
    check_eq(run["outcome"], "aborted_by_script", "run.outcome")
    check_eq(json.loads(run["summary"])["aborted"], {"by": "script", "reason": "seen enough"},
             "the stored summary's abort")
    spans = con.execute("SELECT url, attributes FROM span WHERE method IS NOT NULL").fetchall()
    check(len(spans) >= 2, "request spans kept: %d" % len(spans))
    for x in spans:
        attrs = json.loads(x["attributes"])
        tagged = "stampede.tag.plan" in json.dumps(attrs)
        # The first request of a VU's first iteration is before the tag.
        if "?before=0" in x["url"]:
            check(not tagged, "untagged before the tag was set: " + x["attributes"])
        else:
            check(tagged and "pro" in json.dumps(attrs), "tagged after: " + x["attributes"])
    iters = con.execute("SELECT attributes FROM span WHERE name LIKE 'iteration %'").fetchall()
    check(iters and all("stampede.tag.plan" in x[0] for x in iters), "iteration spans tagged")


@case
def store_flags_and_bad_paths(t):
    ngx = t.nginx()
    r = t.run("--url", ngx.url, "--iterations", "5", "--no-store")
    h.check_success(r, 5)
    check(not os.path.exists(t.path("stampede-runs")), "--no-store wrote a store")
    check("run store:" not in r.stdout, "--no-store printed a store line")
    r = t.run("--url", ngx.url, "--iterations", "5", "--out", "sqlite=sub/dir/run.db")
    h.check_success(r, 5)
    check(os.path.exists(t.path("sub/dir/run.db")), "--out sqlite=PATH creates its directory")
    r = t.run("--url", ngx.url, "--iterations", "5", "--out", "sqlite=sub/dir/run.db")
    r.expect_rc(h.EXIT_CONFIG)
    check("already exists" in r.stderr and r.stderr.count("\n") == 1,
          "an existing file is refused in one line: " + r.stderr)
    r = t.run("--url", ngx.url, "--iterations", "5", "--out", "sqlite=/proc/nope/run.db")
    r.expect_rc(h.EXIT_CONFIG)
    check("/proc/nope/run.db" in r.stderr and r.stderr.count("\n") == 1,
          "an unwritable path is refused in one line naming it: " + r.stderr)


def make_receiver_case(protocol):
    def fn(t):
        http_port, grpc_port = h.free_port(), h.free_port()
        port = grpc_port if protocol == "grpc" else http_port
        base, s = shop(t, port, protocol)
        script = write_script(t)
        r = t.run(script, "-e", "BASE_URL=" + base, "--out", "sqlite=run.db",
                  "--collect=127.0.0.1:%d" % http_port,
                  "--collect-grpc=127.0.0.1:%d" % grpc_port, "--collect-linger", "2s")
        r.expect_rc(0)
        con = db(t.path("run.db"))
        client = {row["span_id"]: row for row in con.execute(
            "SELECT * FROM span WHERE source = 'client' AND method IS NOT NULL")}
        check_eq(len(client), 60, "stampede request spans")
        server = con.execute(
            "SELECT s.*, r.service_name FROM span s JOIN resource r USING (resource_id) "
            "WHERE s.source = 'service' AND s.kind = 'server'").fetchall()
        check_eq(len(server), 60, "the shop's SERVER spans, received over " + protocol)
        for row in server:
            check_eq(row["service_name"], "shop", "service.name of a received span")
            parent = client.get(row["parent_span_id"])
            check(parent is not None, "SERVER span %s has no CLIENT parent" % row["name"])
            check_eq(row["trace_id"], parent["trace_id"], "trace id")
        db_spans = con.execute("SELECT COUNT(*) FROM span WHERE source = 'service' AND "
                               "name LIKE '%db%'").fetchone()[0]
        check(db_spans > 0, "the shop's inner (db) spans are stored too")
        check(re.search(r"received: (\d+) spans from the service \((\d+) of this run's traces, "
                        r"0 of other traces dropped\)", r.stdout),
              "summary line for the receiver:\n" + r.stdout)
        check_eq(r.json["received"]["foreign"], 0, "foreign spans")
    fn.__name__ = "shop_spans_join_ours_over_" + protocol.replace("/", "_")
    return fn


for _p in ("http/protobuf", "http/json", "grpc"):
    case(make_receiver_case(_p))


def otlp_json_span(trace_id, name):
    now = time.time_ns()
    return json.dumps({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name",
                                     "value": {"stringValue": "poster"}}]},
        "scopeSpans": [{"scope": {"name": "e2e"}, "spans": [{
            "traceId": trace_id, "spanId": "00f067aa0ba902b7", "name": name, "kind": 2,
            "startTimeUnixNano": str(now - 1000000), "endTimeUnixNano": str(now)}]}]}]}).encode()


@case
def receiver_keeps_the_runs_traces_and_drops_others(t):
    ngx = t.nginx()
    port = h.free_port()
    p, export = t.spawn("--url", ngx.url, "--vus", "1", "--duration", "30s", "--out",
                        "sqlite=run.db", "--collect=127.0.0.1:%d" % port,
                        "--collect-linger", "0s")
    wait_for_port(port, p, "stampede's receiver")
    # The run's tag is in the line that announces the receiver.
    tag = None
    deadline = time.monotonic() + 20
    while tag is None and time.monotonic() < deadline:
        p.stampede_err.seek(0)
        m = re.search(rb"traces ([0-9a-f]{8})\.\.\.", p.stampede_err.read())
        tag = m.group(1).decode() if m else None
    check(tag is not None, "stampede announced the receiver with the run's trace tag")
    url = "http://127.0.0.1:%d/v1/traces" % port
    for trace_id, name in ((tag + "0" * 23 + "1", "<script>alert(1)</script> ours"),
                           ("ab" * 16 if tag != "abababab" else "cd" * 16, "theirs")):
        req = urllib.request.Request(url, data=otlp_json_span(trace_id, name),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            check_eq(resp.status, 200, "receiver status")
            check_eq(json.loads(resp.read() or b"{}"), {}, "ExportTraceServiceResponse (JSON)")
    # Wrong path and wrong content type answer as the OTLP spec says.
    for path, ctype, status in (("/v1/nope", "application/json", 404),
                                ("/v1/traces", "text/plain", 415),
                                ("/v1/traces", "application/x-protobuf", 400)):
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=b"\x0a\xff",
                                     headers={"Content-Type": ctype})
        try:
            urllib.request.urlopen(req, timeout=10)
            raise AssertionError("%s %s was accepted" % (path, ctype))
        except urllib.error.HTTPError as e:
            check_eq(e.code, status, "status for %s (%s)" % (path, ctype))
    p.send_signal(signal.SIGINT)
    p.wait(timeout=60)
    r = t.collect(p, export)
    r.expect_rc(h.EXIT_SIGNAL)
    check_eq(r.json["received"]["spans"], 2, "spans received")
    check_eq(r.json["received"]["kept"], 1, "spans of the run's traces")
    check_eq(r.json["received"]["foreign"], 1, "spans of other traces, dropped")
    con = db(t.path("run.db"))
    rows = con.execute("SELECT name FROM span WHERE source = 'service'").fetchall()
    check_eq([x[0] for x in rows], ["<script>alert(1)</script> ours"], "stored service spans")
    check_eq(con.execute("SELECT outcome FROM run").fetchone()[0], "interrupted", "outcome")


@case
def kill_9_leaves_an_intact_store_with_every_committed_second(t):
    ngx = t.nginx()
    p, _ = t.spawn("--url", ngx.url, "--vus", "2", "--duration", "60s", "--out",
                   "sqlite=run.db", export=False)
    path = t.path("run.db")
    committed, points = -1, 0
    deadline = time.monotonic() + 40
    while committed < 3 and time.monotonic() < deadline:
        check(p.poll() is None, "stampede exited early")
        try:
            con = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=5)
            row = con.execute("SELECT last_second FROM run").fetchone()
            committed = row[0] if row and row[0] is not None else -1
            points = con.execute("SELECT COUNT(*) FROM point WHERE second <= ?",
                                 (committed,)).fetchone()[0]
            con.close()
        except sqlite3.Error:
            pass  # not created yet
        time.sleep(0.1)
    check(committed >= 3, "seconds were committed while the run lasted")
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=10)
    con = sqlite3.connect(path)
    check_eq(con.execute("PRAGMA integrity_check").fetchone()[0], "ok", "integrity_check")
    last, code = con.execute("SELECT last_second, exit_code FROM run").fetchone()
    check(last >= committed, "last_second %s went back from %s" % (last, committed))
    check(code is None, "a killed run has no exit code")
    check(con.execute("SELECT COUNT(*) FROM point WHERE second <= ?",
                      (committed,)).fetchone()[0] >= points, "committed points lost")
    con.close()
    out = t.path("killed.html")
    r = subprocess.run([t.stampede, "report", path, "-o", out], capture_output=True, timeout=60,
                       cwd=t.tmp)
    check_eq(r.returncode, 0, "report on a killed run: " + r.stderr.decode())
    with open(out, encoding="utf-8") as f:
        page = f.read()
    check('"clean":false' in page and '"exit_code":null' in page,
          "the report's data says the run did not end cleanly")


def stampede(t, *args, timeout=120):
    r = subprocess.run([t.stampede] + list(args), capture_output=True, timeout=timeout,
                       cwd=t.tmp)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


@case
def report_slow_and_compare_on_stored_runs(t):
    http_port = h.free_port()
    base, s = shop(t, http_port)
    script = write_script(t, SHOP_SCRIPT_TIMED)
    runs = []
    for name in ("a.db", "b.db"):
        r = t.run(script, "-e", "BASE_URL=" + base, "--out", "sqlite=" + name,
                  "--collect=127.0.0.1:%d" % http_port, "--collect-linger", "2s")
        r.expect_rc(0)
        runs.append(t.path(name))
    # slow: slowest first, with the server's time and the time outside it.
    rc, out, err = stampede(t, "slow", runs[0], "--min", "0ms", "--limit", "5", "--json")
    check_eq(rc, 0, "slow exit code: " + err)
    rows = json.loads(out)
    check_eq(len(rows), 5, "slow --limit 5 rows")
    durations = [x["duration_ms"] for x in rows]
    check(durations == sorted(durations, reverse=True), "slowest first: %r" % durations)
    con = db(runs[0])
    top = con.execute("SELECT trace_id, duration_ms FROM span WHERE method IS NOT NULL "
                      "ORDER BY duration_ms DESC LIMIT 1").fetchone()
    check_eq(rows[0]["trace_id"], top[0], "slowest trace")
    check(all(x.get("server_ms") is not None and x.get("outside_ms") is not None for x in rows),
          "server and outside-server times of shop requests: %r" % rows[:1])
    rc, out, err = stampede(t, "slow", runs[0], "--min", "10s")
    check_eq(rc, 0, "slow with nothing that slow: " + err)
    # report: a self-contained page with the run's names.
    html = t.path("report.html")
    rc, out, err = stampede(t, "report", runs[0], "-o", html)
    check_eq(rc, 0, "report exit code: " + err)
    with open(html, encoding="utf-8") as f:
        page = f.read()
    check("/product/{id}" in page, "the report holds the request names")
    check("<script src=" not in page and "<link rel=\"stylesheet\" href" not in page,
          "the report is self-contained")
    browser = os.path.join(HERE, "report_browser_test.js")
    if os.path.exists("/usr/bin/chromium") and os.path.exists(browser):
        p = subprocess.run(["node", browser, "--stampede", t.stampede, "--db", runs[0],
                            "--name", "/product/{id}", "--service", "shop",
                            "--out-dir", t.path("browser")],
                           capture_output=True, timeout=180)
        check_eq(p.returncode, 0, "browser test on a real run:\n" + p.stdout.decode() +
                 p.stderr.decode())
    # compare: same service twice passes a loose bound.
    rc, out, err = stampede(t, "compare", runs[0], runs[1], "--fail-on", "p(95)+1000%")
    check_eq(rc, 0, "compare within bounds: " + out + err)
    check("/product/{id}" in out, "compare lists the names")
    rc, out, err = stampede(t, "compare", runs[0], runs[1], "--fail-on", "p(95)+banana")
    check_eq(rc, h.EXIT_CONFIG, "a bad --fail-on is a config error")
    check(err.count("\n") == 1 and "p(95)+banana" in err, "one line naming it: " + err)


@case
def compare_fails_on_a_regression(t):
    http_port = h.free_port()
    script = write_script(t)
    runs = []
    for db_ms in ("1", "40"):  # the second shop's database is 40x slower
        base, s = shop(t, http_port, extra={"SHOP_DB_BASE_MS": db_ms})
        name = t.path("db%s.db" % db_ms)
        r = t.run(script, "-e", "BASE_URL=" + base, "--out", "sqlite=" + name, "--quiet")
        r.expect_rc(0)
        s.stop()
        runs.append(name)
    rc, out, err = stampede(t, "compare", runs[0], runs[1], "--fail-on", "p(95)+10%",
                            "-o", t.path("compare.html"))
    check_eq(rc, 1, "a slower run fails compare --fail-on p(95)+10%:\n" + out + err)
    check("worse" in out, "the verdict names the regression:\n" + out)
    check(os.path.getsize(t.path("compare.html")) > 0, "compare -o writes HTML")
    rc, out, err = stampede(t, "compare", runs[1], runs[0], "--fail-on", "p(95)+10%")
    check_eq(rc, 0, "a faster run passes:\n" + out + err)


if __name__ == "__main__":
    sys.exit(h.main())
