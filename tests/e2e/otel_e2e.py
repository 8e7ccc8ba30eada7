#!/usr/bin/env python3
"""End-to-end tests of stampede's traces (python3 stdlib + node).

    python3 tests/e2e/otel_e2e.py --stampede build/src/cli/stampede [-k SUBSTR]

stampede exports its spans over OTLP to tests/support/otlp_sink.js, an
independent decoder (protobufjs as shipped by the OpenTelemetry JS packages)
that writes every span it receives as a JSON line. With the demo shop
(examples/shop, instrumented with the OpenTelemetry SDK for Node.js) both
export to the same sink, so the test can check that the service's SERVER
spans are children of stampede's CLIENT spans. Faults: a sink that answers
503 with Retry-After, 400, or is not there at all — the load is unaffected,
drops and failures are counted, nothing hangs.

Reuses the harness of run_cli_tests.py (cases, servers, runner); prints one
line per case and exactly `N passed, M failed`.
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import run_cli_tests as h  # noqa: E402

h.CASES.clear()  # this file's cases only
case, check, check_eq = h.case, h.check, h.check_eq

SUPPORT = os.path.join(REPO, "tests", "support")
SHOP = os.path.join(REPO, "examples", "shop")


def ensure_node_modules(directory):
    if not os.path.isdir(os.path.join(directory, "node_modules")):
        subprocess.run(["npm", "ci", "--prefix", directory, "--no-audit", "--no-fund"],
                       check=True, timeout=600, stdout=subprocess.DEVNULL)


class Node:
    """A node process that prints a readiness line; stopped with SIGTERM."""

    def __init__(self, t, argv, env=None):
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  stdin=subprocess.DEVNULL, env=dict(os.environ, **(env or {})),
                                  preexec_fn=h._pdeathsig)
        t.cleanups.append(self.stop)
        line = self.p.stdout.readline().decode()  # blocks until ready (or exit: "")
        check(line.startswith("listening"), "%s did not start: %r" % (argv[1], line))
        self.words = line.split()

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


class Sink(Node):
    def __init__(self, t, *args):
        ensure_node_modules(SUPPORT)
        self.out = t.path("spans-%d.jsonl" % len(t.cleanups))
        super().__init__(t, ["node", os.path.join(SUPPORT, "otlp_sink.js"), "--out", self.out,
                             "--max-seconds", "300"] + list(args))
        self.http_port, self.grpc_port = int(self.words[2]), int(self.words[4])

    def spans(self):
        if not os.path.exists(self.out):
            return []
        with open(self.out) as f:
            return [json.loads(line) for line in f if line.strip()]


def otel_env(sink, protocol="http/protobuf"):
    port = sink.grpc_port if protocol == "grpc" else sink.http_port
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:%d" % port,
            "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
            "OTEL_BSP_SCHEDULE_DELAY": "200"}


def ours(spans):
    return [s for s in spans if s["resource"].get("service.name") == "stampede"]


def check_request_spans(spans, iterations, vus, url):
    client = [s for s in spans if s["kind"] == 3]
    check_eq(len(client), iterations, "CLIENT spans (one per request)")
    ids = {s["span_id"] for s in client}
    for s in client:
        a = s["attributes"]
        check_eq(s["name"], "GET", "span name (the method, never the path)")
        check_eq(a.get("http.request.method"), "GET", "http.request.method")
        check_eq(a.get("url.full"), url, "url.full")
        check_eq(a.get("http.response.status_code"), 200, "http.response.status_code")
        check_eq(a.get("user_agent.synthetic.type"), "test", "user_agent.synthetic.type")
        check(int(s["end_ns"]) >= int(s["start_ns"]) > 1_600_000_000 * 10**9,
              "span times are Unix nanoseconds, end >= start")
        check([e["name"] for e in s["events"]] == ["http.response.first_byte"],
              "first-byte event: %r" % s["events"])
        check_eq(s["flags"] & 0x3, 0x3, "flags: sampled + random")
    connects = [s for s in spans if s["name"].startswith("socket connect ")]
    check_eq(len(connects), vus, "socket connect spans (one per keep-alive connection)")
    for s in connects:
        check(s["parent_span_id"] in ids, "a connect span is not a child of a request span")
        check_eq(s["kind"], 1, "connect span kind (INTERNAL)")
    res = spans[0]["resource"]
    for key in ("service.name", "service.instance.id", "stampede.run.id", "host.name"):
        check(key in res, "resource has no %s: %r" % (key, res))


def make_transport_case(protocol):
    def fn(t):
        sink = Sink(t)
        ngx = t.nginx()
        r = t.run("--url", ngx.url, "--vus", "2", "--iterations", "30", "--otel",
                  env=otel_env(sink, protocol))
        h.check_success(r, 30)
        check_eq(r.json["spans"]["exported"], 32, "spans exported (30 requests + 2 connects)")
        check_request_spans(ours(sink.spans()), 30, 2, ngx.url)
        check(all(s["transport"].startswith(protocol.split("/")[0]) for s in sink.spans()),
              "spans arrived by another transport than %s" % protocol)
    fn.__name__ = "spans_over_" + protocol.replace("/", "_")
    return fn


for _p in ("http/protobuf", "http/json", "grpc"):
    case(make_transport_case(_p))


@case
def shop_server_spans_continue_our_traces(t):
    ensure_node_modules(SHOP)
    sink = Sink(t)
    shop = Node(t, ["node", os.path.join(SHOP, "server.js")],
                env={"PORT": "0", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:%d" % sink.http_port,
                     "OTEL_BSP_SCHEDULE_DELAY": "100", "OTEL_SERVICE_NAME": "shop",
                     "SHOP_MAX_SECONDS": "120"})
    base = "http://127.0.0.1:%s" % shop.words[2]
    script = t.path("shop.lua")
    with open(script, "w") as f:
        f.write("""
local http = require("stampede.http")
options = { vus = 2, iterations = 10 }
function default()
  http.get(ENV.BASE_URL .. "/api/products")
  http.get(ENV.BASE_URL .. "/api/products/" .. random_int(1, 5), { name = "/api/products/{id}" })
end
""")
    r = t.run(script, "-e", "BASE_URL=" + base, "--otel", env=otel_env(sink))
    r.expect_rc(0)
    shop.stop()  # SIGTERM: the shop flushes its spans
    spans = sink.spans()
    client = {s["span_id"]: s for s in ours(spans) if s["kind"] == 3}
    check_eq(len(client), 20, "stampede CLIENT spans")
    server = [s for s in spans if s["resource"].get("service.name") == "shop" and s["kind"] == 2]
    check_eq(len(server), 20, "shop SERVER spans")
    for s in server:
        parent = client.get(s["parent_span_id"])
        check(parent is not None, "shop span %s has no stampede CLIENT parent" % s["name"])
        check_eq(s["trace_id"], parent["trace_id"], "trace id shared with the CLIENT span")
    iterations = {s["span_id"]: s for s in ours(spans) if s["name"] == "iteration default"}
    check_eq(len(iterations), 10, "iteration spans")
    for s in client.values():
        check(s["parent_span_id"] in iterations, "a CLIENT span is not a child of its iteration")
    named = [s for s in client.values() if s["name"] == "GET /api/products/{id}"]
    check_eq(len(named), 10, "spans named after params.name")
    connects = [s for s in ours(spans) if s["name"].startswith("socket connect ")]
    check_eq(len(connects), 2, "connect spans: exactly the requests that opened a connection")


@case
def group_and_custom_spans_parent_requests(t):
    sink = Sink(t)
    ngx = t.nginx()
    script = t.path("spans.lua")
    with open(script, "w") as f:
        f.write("""
local http = require("stampede.http")
options = { iterations = 2 }
function default()
  group("shopping", function()
    trace.span("pick product", function()
      local cur = trace.current()
      check(cur, { ["current ids"] = function(c)
        return #c.trace_id == 32 and #c.span_id == 16 and c.sampled end })
      http.get(ENV.URL, { name = "home" })
    end)
  end)
  http.get(ENV.URL)
end
""")
    r = t.run(script, "-e", "URL=" + ngx.url, "--otel", env=otel_env(sink))
    r.expect_rc(0)
    check_eq(r.metric("checks")["passes"], 2, "trace.current() checks")
    spans = ours(sink.spans())
    by_name = {}
    for s in spans:
        by_name.setdefault(s["name"], []).append(s)
    for name, n in (("iteration default", 2), ("group shopping", 2), ("pick product", 2),
                    ("GET home", 2), ("GET", 2)):
        check_eq(len(by_name.get(name, [])), n, "spans named %r" % name)
    ids = {s["span_id"]: s for s in spans}
    for s in by_name["GET home"]:
        check_eq(ids[s["parent_span_id"]]["name"], "pick product", "parent of a request in trace.span")
    for s in by_name["pick product"]:
        check_eq(ids[s["parent_span_id"]]["name"], "group shopping", "parent of trace.span")
    for s in by_name["group shopping"] + by_name["GET"]:
        check_eq(ids[s["parent_span_id"]]["name"], "iteration default", "parent of group / request")


@case
def unsampled_failed_and_slow_requests_are_kept(t):
    sink = Sink(t)
    fs = t.fault_server()
    env = dict(otel_env(sink), OTEL_TRACES_SAMPLER="always_off")
    # Failed (503) requests: exported although the head sampler said no.
    r = t.run("--url", fs.url("/status?code=503"), "--iterations", "5", "--otel", env=env)
    r.expect_rc(0)
    client = [s for s in ours(sink.spans()) if s["kind"] == 3]
    check_eq(len(client), 5, "failed requests kept")
    for s in client:
        check_eq(s["flags"] & 1, 0, "the sampled flag stays as sent (unsampled)")
        check_eq(s["status"]["code"], 2, "status Error")
        check_eq(s["attributes"].get("error.type"), "503", "error.type")
    # Fast successful requests are not kept; slower than the bound, they are.
    r = t.run("--url", fs.url("/ok"), "--iterations", "5", "--otel", env=env)
    r.expect_rc(0)
    check_eq(len([s for s in ours(sink.spans()) if s["kind"] == 3]), 5, "fast unsampled: none kept")
    r = t.run("--url", fs.url("/slow-headers?ms=30"), "--iterations", "3", "--otel",
              "--trace-keep-slower-than", "10ms", env=env)
    r.expect_rc(0)
    check_eq(len([s for s in ours(sink.spans()) if s["kind"] == 3]), 8, "slow unsampled: kept")


@case
def slow_collector_does_not_slow_the_load(t):
    sink = Sink(t, "--mode", "slow", "--delay-ms", "3000")
    ngx = t.nginx()
    env = dict(otel_env(sink), OTEL_EXPORTER_OTLP_TIMEOUT="300", OTEL_BSP_EXPORT_TIMEOUT="1000")
    r = t.run("--url", ngx.url, "--vus", "2", "--duration", "2s", "--otel", env=env, timeout=60)
    r.expect_rc(0)
    check(r.metric("http_reqs")["count"] > 100, "the load went on")
    s = r.json["spans"]
    check(s["failed"] + s["dropped"] > 0, "spans the slow collector did not take are counted: %r" % s)


@case
def failed_check_names_on_the_request_span(t):
    sink = Sink(t)
    ngx = t.nginx()
    script = t.path("checks.lua")
    with open(script, "w") as f:
        f.write("""
local http = require("stampede.http")
options = { iterations = 2 }
function default()
  local a = http.get(ENV.URL, { name = "first" })
  check(a, { ["is 404"] = function(r) return r.status == 404 end,
             ["is 200"] = function(r) return r.status == 200 end })
  local b = http.get(ENV.URL, { name = "second" })
  check(b, { ["body is json"] = function(r) return false end })
end
""")
    r = t.run(script, "-e", "URL=" + ngx.url, "--otel", env=otel_env(sink))
    r.expect_rc(0)
    client = [s for s in ours(sink.spans()) if s["kind"] == 3]
    check_eq(len(client), 4, "CLIENT spans")
    for s in client:
        want = "is 404" if s["name"] == "GET first" else "body is json"
        check_eq(s["attributes"].get("stampede.checks.failed"), want,
                 "failed checks on %s" % s["name"])


def make_tls_case(protocol):
    def fn(t):
        cert, key = t.path("sink.pem"), t.path("sink.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj",
                        "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                        "-keyout", key, "-out", cert], check=True, capture_output=True, timeout=60)
        sink = Sink(t, "--tls-cert", cert, "--tls-key", key)
        ngx = t.nginx()
        port = sink.grpc_port if protocol == "grpc" else sink.http_port
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "https://127.0.0.1:%d" % port,
               "OTEL_EXPORTER_OTLP_PROTOCOL": protocol, "OTEL_BSP_SCHEDULE_DELAY": "200",
               "OTEL_EXPORTER_OTLP_CERTIFICATE": cert}
        r = t.run("--url", ngx.url, "--iterations", "10", "--otel", env=env)
        h.check_success(r, 10)
        check_eq(r.json["spans"]["exported"], 11, "spans exported over TLS (10 requests + 1 connect)")
        check_eq(len([s for s in ours(sink.spans()) if s["kind"] == 3]), 10, "CLIENT spans received")
        # Without the certificate, the system's trust store rejects the sink's:
        # counted, one warning, the load unaffected.
        del env["OTEL_EXPORTER_OTLP_CERTIFICATE"]
        r = t.run("--url", ngx.url, "--iterations", "10", "--otel", env=env, timeout=60)
        h.check_success(r, 10)
        s = r.json["spans"]
        check_eq(s["exported"], 0, "spans exported to an untrusted collector")
        check(s["failed"] + s["dropped"] == 11, "untrusted collector: spans counted as lost: %r" % s)
    fn.__name__ = "spans_over_tls_" + protocol.replace("/", "_")
    return fn


for _p in ("http/protobuf", "grpc"):
    case(make_tls_case(_p))


@case
def collector_503_with_retry_after_is_retried(t):
    sink = Sink(t, "--mode", "503", "--retry-after", "1", "--fault-count", "1")
    ngx = t.nginx()
    r = t.run("--url", ngx.url, "--vus", "1", "--iterations", "20", "--otel", env=otel_env(sink))
    h.check_success(r, 20)
    s = r.json["spans"]
    check_eq(s["exported"], 21, "spans exported after the retry")
    check_eq(s["failed"] + s["dropped"], 0, "spans lost")


@case
def collector_400_fails_without_retry(t):
    sink = Sink(t, "--mode", "400", "--fault-signal", "traces")  # metrics are exported too
    ngx = t.nginx()
    r = t.run("--url", ngx.url, "--vus", "1", "--iterations", "20", "--otel", env=otel_env(sink))
    h.check_success(r, 20)  # the load is unaffected
    s = r.json["spans"]
    check_eq(s["exported"], 0, "spans exported")
    check_eq(s["failed"], 21, "spans failed (counted, not retried)")
    warnings = [ln for ln in r.stderr.splitlines() if "WARN" in ln and "OTLP" in ln]
    check_eq(len(warnings), 1, "warning lines about the collector")


@case
def collector_down_is_counted_and_bounded(t):
    port = h.free_port()
    ngx = t.nginx()
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:%d" % port,
           "OTEL_BSP_SCHEDULE_DELAY": "200", "OTEL_BSP_EXPORT_TIMEOUT": "2000"}
    r = t.run("--url", ngx.url, "--vus", "2", "--duration", "2s", "--otel", env=env, timeout=60)
    r.expect_rc(0)
    reqs = r.metric("http_reqs")["count"]
    check(reqs > 100, "the load went on (%r requests)" % reqs)
    s = r.json["spans"]
    check_eq(s["exported"], 0, "spans exported")
    check(s["failed"] + s["dropped"] > 0, "lost spans are counted: %r" % s)
    warnings = [ln for ln in r.stderr.splitlines() if "WARN" in ln and "OTLP" in ln]
    check(1 <= len(warnings) <= 2, "one warning line per cause, not a stream: %r" % warnings)


@case
def console_exporter_writes_span_lines_before_the_summary(t):
    fs = t.fault_server()
    r = t.run("--url", fs.url("/echo"), "--vus", "2", "--iterations", "6",
              env={"OTEL_TRACES_EXPORTER": "console", "OTEL_BSP_SCHEDULE_DELAY": "200"})
    h.check_success(r, 6)
    lines = r.stdout.splitlines()
    span_at = [i for i, ln in enumerate(lines) if ln.startswith("{")]
    summary_at = next((i for i, ln in enumerate(lines) if "http_reqs" in ln), None)
    check(summary_at is not None, "no summary on stdout:\n" + r.stdout[-2000:])
    check(span_at and max(span_at) < summary_at, "span lines come before the summary")
    check("spans: %d exported" % len(span_at) in r.stdout, "the summary counts the span lines")
    check_eq(r.json["spans"]["exported"], len(span_at), "spans exported")
    spans = []
    for i in span_at:
        doc = json.loads(lines[i])  # each line is one OTLP/JSON request with one span
        rs = doc["resourceSpans"]
        check_eq((len(rs), len(rs[0]["scopeSpans"]), len(rs[0]["scopeSpans"][0]["spans"])),
                 (1, 1, 1), "one resource, one scope, one span per line")
        attrs = {a["key"]: a["value"] for a in rs[0]["resource"]["attributes"]}
        check_eq(attrs["service.name"], {"stringValue": "stampede"}, "resource service.name")
        spans.append(rs[0]["scopeSpans"][0]["spans"][0])
    client = [s for s in spans if s["kind"] == 3]
    check_eq(len(client), 6, "CLIENT spans (kind 3), one per request")
    check_eq(len(spans), 8, "spans: 6 requests + 2 connects")
    # The ids each request sent in its traceparent are its span's ids.
    sent = {v for e in fs.logged() for k, v in e["headers"] if k.lower() == "traceparent"}
    check_eq(len(sent), 6, "distinct traceparents at the server")
    for s in client:
        check("00-%s-%s-%02x" % (s["traceId"], s["spanId"], s["flags"] & 0xFF) in sent,
              "span %s/%s matches no traceparent the server got: %r" % (s["traceId"], s["spanId"], sent))
        check(int(s["endTimeUnixNano"]) >= int(s["startTimeUnixNano"]), "end >= start")
        check_eq(s["name"], "GET", "span name")


def console_spans(stdout):
    return [json.loads(ln)["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
            for ln in stdout.splitlines() if ln.startswith("{")]


@case
def expected_statuses_leave_span_status_to_semconv(t):
    fs = t.fault_server()
    script = t.path("expected.lua")
    with open(script, "w") as f:
        f.write("""
local http = require("stampede.http")
http.setResponseCallback(http.expectedStatuses(404))
options = { iterations = 1 }
function default()
  http.get(ENV.B .. "/status?code=404", { name = "expected404" })
  http.get(ENV.B .. "/status?code=200", { name = "unexpected200" })
end
""")
    env = {"OTEL_TRACES_EXPORTER": "console"}
    r = t.run(script, "-e", "B=" + fs.url(""), env=env)
    r.expect_rc(0)
    check_eq(r.metric("http_req_failed")["passes"], 1, "failed requests (the 200)")
    client = {s["name"]: s for s in console_spans(r.stdout) if s["kind"] == 3}
    check_eq(sorted(client), ["GET expected404", "GET unexpected200"], "CLIENT spans")
    # A CLIENT span is Error for a 4xx whatever the script expects (semconv);
    # an unexpected 200 is not an error on the span.
    s404, s200 = client["GET expected404"], client["GET unexpected200"]
    check_eq(s404.get("status", {}).get("code"), 2, "404 span status Error")
    attrs = {a["key"]: a["value"] for a in s404["attributes"]}
    check_eq(attrs.get("error.type"), {"stringValue": "404"}, "404 error.type")
    check_eq(s200.get("status", {}).get("code", 0), 0, "200 span status unset")
    # Unsampled traces keep the requests http_req_failed counts, not the
    # expected 404.
    r = t.run(script, "-e", "B=" + fs.url(""), env=dict(env, OTEL_TRACES_SAMPLER="always_off"))
    r.expect_rc(0)
    kept = [s["name"] for s in console_spans(r.stdout) if s["kind"] == 3]
    check_eq(kept, ["GET unexpected200"], "kept unsampled CLIENT spans")


@case
def traces_exporter_none_and_lists(t):
    fs = t.fault_server()
    # none wins over --otel: nothing is exported, nothing is printed.
    r = t.run("--url", fs.url("/ok"), "--iterations", "2", "--otel",
              env={"OTEL_TRACES_EXPORTER": "none"})
    h.check_success(r, 2)
    check(not any(ln.startswith("{") for ln in r.stdout.splitlines()), "no span lines")
    check("spans" not in r.json, "no span counters without an exporter")
    # One exporter at a time: a list naming two is a configuration error.
    r = t.run("--url", fs.url("/ok"), "--iterations", "2",
              env={"OTEL_TRACES_EXPORTER": "otlp,console"}, export=False)
    r.expect_rc(104)
    err = [ln for ln in r.stderr.splitlines() if ln.strip()]
    check_eq(len(err), 1, "one line on stderr")
    check("OTEL_TRACES_EXPORTER" in err[0] and "one exporter at a time" in err[0],
          "the error names the variable and the fix: %r" % err[0])


if __name__ == "__main__":
    sys.exit(h.main())
