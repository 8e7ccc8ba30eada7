#!/usr/bin/env python3
"""HTTP/2 from the command line and from scripts (issue 14).

    python3 tests/e2e/http2_e2e.py --stampede build/src/cli/stampede [-k SUBSTR]

Against a real nginx with h2 on HTTPS (ALPN) and an h2c server (prior
knowledge), and Node's own http2 server (tests/support/h2_server.js) for
what nginx will not do on request: reset a stream, refuse one, stall one.
nginx's log names the connection of every request, so the tests count
connections instead of trusting stampede's word.

Reuses the harness of run_cli_tests.py; prints one line per case and exactly
`N passed, M failed`.
"""

import json
import os
import re
import select
import socket
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run_cli_tests as h  # noqa: E402

h.CASES.clear()
case, check, check_eq = h.case, h.check, h.check_eq
H2_SERVER = os.path.join(os.path.dirname(HERE), "support", "h2_server.js")
TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-0[0-3]$")


def h2_nginx(t, **kw):
    return t.own_nginx(workers=1, https=True, http2=True, **kw)


def log_rows(ngx):
    """(connection, protocol, status, uri) per request nginx served over h2."""
    rows = []
    with open(ngx.h2_log_path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 4 and parts[3] != "/__ready.txt":  # not the readiness probe
                rows.append(tuple(parts))
    return rows


class NodeH2:
    """tests/support/h2_server.js: started, its port read from its first line."""

    def __init__(self, t):
        self.p = subprocess.Popen(["node", H2_SERVER], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  preexec_fn=h._pdeathsig)
        t.cleanups.append(self.stop)
        ready, _, _ = select.select([self.p.stdout], [], [], h.SERVER_READY_TIMEOUT)
        line = self.p.stdout.readline() if ready else b""
        if not line:
            self.p.kill()
            raise AssertionError("h2_server.js did not print its port: %s"
                                 % self.p.stderr.read().decode(errors="replace")[-2000:])
        self.port = json.loads(line)["port"]
        self.url = "http://127.0.0.1:%d/" % self.port

    def stop(self):
        if self.p.poll() is None:
            self.p.stdin.close()
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(timeout=10)


def script(t, name, text):
    path = t.path(name)
    with open(path, "w") as f:
        f.write(text)
    return path


def summary_count(r, label):
    m = re.search(r"^\s*%s\s+(\d+)$" % re.escape(label), r.stdout, re.M)
    return int(m.group(1)) if m else 0


@case
def h2c_url_mode_multiplexes_streams_on_few_connections(t):
    ngx = h2_nginx(t)
    r = t.run("--url", ngx.h2c_url, "--http2-prior-knowledge", "--threads", "1", "--vus", "20",
              "--streams-per-connection", "10", "-i", "1000", "--no-store",
              "--threshold", "http_reqs{proto:HTTP/2.0}:count==1000")
    r.expect_rc(0)
    h.check_success(r, 1000)
    rows = log_rows(ngx)
    check_eq(len(rows), 1000, "requests nginx logged")
    check_eq({row[1] for row in rows}, {"HTTP/2.0"}, "protocols nginx saw")
    check_eq(len({row[0] for row in rows}), 2, "connections for 20 VUs at 10 streams each")
    # data_received counts frames: more than the bodies, less than twice.
    got = r.metric("data_received")["count"]
    check(1000 * h.NGINX_INDEX_SIZE < got < 2000 * h.NGINX_INDEX_SIZE,
          "data_received %s for 1000 x 612-byte bodies" % got)


@case
def https_negotiates_h2_by_alpn_and_falls_back_to_http1(t):
    ngx = h2_nginx(t)
    r = t.run("--url", ngx.https_url, "-k", "--vus", "4", "-i", "200", "--no-store",
              "--threshold", "http_reqs{proto:HTTP/2.0}:count==200")
    r.expect_rc(0)
    h.check_success(r, 200)
    check_eq({row[1] for row in log_rows(ngx)}, {"HTTP/2.0"}, "protocols nginx saw")
    # --no-http2 offers http/1.1 only.
    r = t.run("--url", ngx.https_url, "-k", "--no-http2", "-i", "50", "--no-store",
              "--threshold", "http_reqs{proto:HTTP/1.1}:count==50")
    r.expect_rc(0)
    # A server without h2 picks http/1.1 from our ALPN offer.
    r = t.run("--url", t.nginx().https_url, "-k", "--vus", "4", "-i", "100", "--no-store",
              "--threshold", "http_reqs{proto:HTTP/1.1}:count==100")
    r.expect_rc(0)
    h.check_success(r, 100)


@case
def a_script_batch_shares_one_connection_and_sees_http2(t):
    ngx = h2_nginx(t)
    path = script(t, "batch.lua", """
local http = require("stampede.http")
function default()
  local reqs = {}
  for i = 1, 6 do reqs[i] = {"GET", "%(https)s"} end
  reqs[7] = {"GET", "%(https)shuge.bin"}
  local rs = http.batch(reqs)
  for i = 1, 6 do
    check(rs[i], { ["proto is HTTP/2.0"] = function(r) return r.proto == "HTTP/2.0" end,
                   ["612 bytes"] = function(r) return #r.body == 612 end,
                   ["headers"] = function(r) return r.headers["content-type"] == "text/html" end })
  end
  check(rs[7], { ["4 MiB through flow control"] = function(r) return #r.body == 4194304 end })
  local c = http.get("%(h2c)s", { http2PriorKnowledge = true })
  check(c, { ["h2c per request"] = function(r) return r.proto == "HTTP/2.0" and r.status == 200 end })
  local p = http.get("%(plain)s")
  check(p, { ["plain stays HTTP/1.1"] = function(r) return r.proto == "HTTP/1.1" end })
end
""" % {"https": ngx.https_url, "h2c": ngx.h2c_url, "plain": ngx.url})
    r = t.run(path, "-k", "--vus", "1", "-i", "2", "--no-store",
              "--threshold", "checks:rate==1")
    r.expect_rc(0)
    check_eq(r.metric("checks")["fails"], 0, "failed checks")
    check_eq(r.metric("checks")["passes"], 2 * (6 * 3 + 3), "passed checks")
    rows = [row for row in log_rows(ngx) if row[1] == "HTTP/2.0"]
    check_eq(len(rows), 2 * 8, "h2 requests nginx logged")
    # One connection per origin for the whole test (https and h2c).
    check_eq(len({row[0] for row in rows}), 2, "connections for both iterations")


@case
def goaway_refused_requests_are_retried_and_counted(t):
    ngx = h2_nginx(t, h2_keepalive_requests=10)
    r = t.run("--url", ngx.h2c_url, "--http2-prior-knowledge", "--threads", "1", "--vus", "8",
              "--streams-per-connection", "8", "-i", "400", "--no-store")
    r.expect_rc(0)
    h.check_success(r, 400)
    rows = log_rows(ngx)
    check_eq(len(rows), 400, "requests nginx served (none twice, none lost)")
    conns = {}
    for row in rows:
        conns[row[0]] = conns.get(row[0], 0) + 1
    check(max(conns.values()) <= 10, "a connection served more than keepalive_requests")
    check(len(conns) >= 40, "only %d connections for 400 requests at 10 each" % len(conns))
    retried = summary_count(r, "retried (HTTP/2 refused)")
    check(retried > 0, "no retried requests in the summary:\n" + r.stdout[-1500:])


@case
def stream_resets_are_their_own_error_and_refusals_are_retried_once(t):
    srv = NodeH2(t)
    r = t.run("--url", srv.url + "reset", "--http2-prior-knowledge", "--vus", "2", "-i", "20",
              "--no-store")
    r.expect_rc(0)
    check_eq(h.error_count(r.errors(), "stream_reset"), 20, "stream_reset errors")
    check_eq(r.metric("http_req_failed")["passes"], 20, "failed requests")
    r = t.run("--url", srv.url + "refuse", "--http2-prior-knowledge", "-i", "5", "--no-store")
    r.expect_rc(0)
    check_eq(h.error_count(r.errors(), "stream_reset"), 5, "refused twice: stream_reset")
    check_eq(summary_count(r, "retried (HTTP/2 refused)"), 5, "retries, one per request")
    # The server survived and still answers.
    r = t.run("--url", srv.url + "ok", "--http2-prior-knowledge", "-i", "5", "--no-store")
    h.check_success(r, 5)


@case
def a_stalled_stream_times_out_alone(t):
    srv = NodeH2(t)
    path = script(t, "stall.lua", """
local http = require("stampede.http")
function default()
  local rs = http.batch({
    {"GET", "%(u)sstall", nil, { timeout = "1s" }},
    {"GET", "%(u)sslow"},
    {"GET", "%(u)sok"},
  })
  check(rs[1], { ["stalled one timed out"] = function(r) return r.error_code == "timeout" end })
  check(rs[2], { ["slow one answered"] = function(r) return r.status == 200 and r.body == "slow" end })
  check(rs[3], { ["ok"] = function(r) return r.status == 200 end })
  local after = http.get("%(u)sheaders", { headers = { ["X-Test"] = "Value" } })
  local seen = after:json()
  check(seen, {
    ["lower-case names"] = function(s) return s.headers["x-test"] == "Value" end,
    ["no connection header"] = function(s) return s.headers["connection"] == nil end,
    ["authority"] = function(s) return s.headers[":authority"] == "127.0.0.1:%(port)d" end,
    ["traceparent"] = function(s) return s.headers["traceparent"] ~= nil end,
  })
  print("TRACEPARENT " .. seen.headers["traceparent"])
  local posted = http.post("%(u)sheaders", string.rep("x", 70000))
  check(posted:json(), { ["70000-byte body"] = function(s) return s.body == 70000 end })
  local counts = http.get("%(u)scounts"):json()
  check(counts, { ["one connection throughout, the reset one included"] =
                    function(c) return c.sessions == 1 end })
end
""" % {"u": srv.url, "port": srv.port})
    r = t.run(path, "--http2-prior-knowledge", "-i", "1", "--no-store",
              "--threshold", "checks:rate==1")
    r.expect_rc(0)
    check_eq(r.metric("checks")["fails"], 0, "failed checks")
    m = re.search(r"TRACEPARENT (\S+)", r.stdout + r.stderr)
    check(m and TRACEPARENT.match(m.group(1)), "traceparent over h2: %r" % (m and m.group(1)))


@case
def garbage_instead_of_http2_is_a_protocol_error(t):
    # A server that answers every connection with bytes no HTTP/2 frame
    # parser accepts (an HTTP/1.1 response), then waits for the client.
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    stop = threading.Event()

    def serve():
        lsock.settimeout(0.2)
        conns = []
        while not stop.is_set():
            try:
                c, _ = lsock.accept()
            except socket.timeout:
                continue
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" + b"\xff" * 64)
            conns.append(c)
        for c in conns:
            c.close()
        lsock.close()
    th = threading.Thread(target=serve, daemon=True)
    th.start()

    def done():
        stop.set()
        th.join(timeout=5)
    t.cleanups.append(done)
    url = "http://127.0.0.1:%d/" % lsock.getsockname()[1]
    r = t.run("--url", url, "--http2-prior-knowledge", "-i", "5", "--no-store")
    r.expect_rc(0)
    check_eq(h.error_count(r.errors(), "protocol"), 5, "protocol errors")
    check_eq(sum(r.errors().values()), 5, "errors in all")


@case
def each_stream_is_a_client_span_with_protocol_version_2(t):
    ngx = h2_nginx(t)
    r = t.run("--url", ngx.h2c_url, "--http2-prior-knowledge", "--vus", "4",
              "--streams-per-connection", "4", "-i", "40", "--otel", "--no-store",
              env={"OTEL_TRACES_EXPORTER": "console", "OTEL_METRICS_EXPORTER": "none",
                   "OTEL_TRACES_SAMPLER": "always_on"})
    r.expect_rc(0)
    versions = re.findall(r'"network\.protocol\.version","value":\{"stringValue":"([^"]+)"\}',
                          r.stdout)
    check_eq(len(versions), 40, "CLIENT spans with network.protocol.version")
    check_eq(set(versions), {"2"}, "network.protocol.version values")


@case
def bad_http2_flags_are_one_line(t):
    ngx = t.nginx()
    for args, words in (
        (["--url", ngx.url, "--streams-per-connection", "-3"], ["--streams-per-connection", "-3"]),
        (["--url", ngx.url, "--streams-per-connection", "4"], ["--http2-prior-knowledge"]),
    ):
        r = t.run(*args, "-i", "1", "--no-store", export=False)
        r.expect_rc(h.EXIT_CONFIG)
        err = [ln for ln in r.stderr.splitlines() if ln.strip()]
        check_eq(len(err), 1, "stderr lines: %r" % err)
        for w in words:
            check(w in err[0], "%r does not name %r" % (err[0], w))


if __name__ == "__main__":
    sys.exit(h.main())
