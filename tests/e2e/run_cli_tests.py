#!/usr/bin/env python3
"""End-to-end tests of the `stampede run` CLI (python3 stdlib only).

    python3 tests/e2e/run_cli_tests.py --stampede build/src/cli/stampede [-k SUBSTR] [--list]

Every case starts its own servers (a real nginx from tests/support/nginx_conf.py,
tests/support/fault_server.py) on 127.0.0.1, runs the binary with a timeout,
and asserts on the exit code AND on the output (stdout summary, stderr, the
--summary-export JSON, or what the server recorded). Servers are always
stopped. A case that cannot run here prints `SKIP name: reason`; nothing is
skipped silently. The last line is exactly `N passed, M failed`; the exit code
is non-zero if any case failed (or if the binary is missing).
"""

import argparse
import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SUPPORT = os.path.join(os.path.dirname(HERE), "support")
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, SUPPORT)

import nginx_conf  # noqa: E402

FAULT_SERVER = os.path.join(SUPPORT, "fault_server.py")
RUN_TIMEOUT = 60          # seconds, any single stampede invocation
SERVER_READY_TIMEOUT = 15  # seconds, fault_server printing its port
EXIT_CONFIG = 104
EXIT_SIGNAL = 105
NGINX_INDEX_SIZE = 612
# Must match tests/support/fault_server.py.
CHUNKED_BODY_LEN = len(b"chunk-one;chunk-two-is-longer;3;" + b"x" * 300 + b"end\n")


# --------------------------------------------------------------------------
# Small assertion helpers (messages say what was expected and what came).

class Skip(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def check_eq(actual, expected, what):
    if actual != expected:
        raise AssertionError("%s: expected %r, got %r" % (what, expected, actual))


def _pdeathsig():
    """preexec_fn: die (SIGKILL) if the runner dies, so nothing outlives it."""
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def child_env(extra=None):
    # No OTel configuration leaks in from the caller's environment: the runs
    # must not try to export anywhere. `extra` adds variables for one run.
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(extra or {})
    return env


def free_port():
    return nginx_conf.free_port()


# --------------------------------------------------------------------------
# Running stampede.

class RunResult:
    def __init__(self, cmd, rc, stdout, stderr, export_path):
        self.cmd = cmd
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.export_path = export_path
        self._json = None

    def describe(self):
        def tail(s, n=3000):
            return s if len(s) <= n else "...\n" + s[-n:]
        return ("command: %s\nexit code: %s\n--- stdout ---\n%s\n--- stderr ---\n%s"
                % (" ".join(map(repr_arg, self.cmd)), self.rc, tail(self.stdout),
                   tail(self.stderr)))

    def expect_rc(self, rc):
        check(self.rc == rc, "expected exit code %d, got %r" % (rc, self.rc))

    @property
    def json(self):
        if self._json is None:
            check(self.export_path is not None, "no --summary-export was requested")
            check(os.path.exists(self.export_path),
                  "--summary-export file %s was not written" % self.export_path)
            with open(self.export_path, encoding="utf-8") as f:
                try:
                    self._json = json.load(f)
                except ValueError as e:
                    raise AssertionError("summary export is not valid JSON: %s" % e)
            check(isinstance(self._json.get("metrics"), dict),
                  "summary export has no \"metrics\" object")
        return self._json

    def metric(self, name):
        m = self.json["metrics"]
        check(name in m, "metric %r missing from summary export (has: %s)"
              % (name, ", ".join(sorted(m))))
        return m[name]

    def errors(self, required=True):
        e = self.json.get("errors")
        if e is None:
            check(not required, "summary export has no top-level \"errors\" object")
            return {}
        check(isinstance(e, dict), "\"errors\" is not an object: %r" % (e,))
        return e

    def stdout_has_line(self, pattern, what):
        check(re.search(pattern, self.stdout, re.M),
              "stdout summary has no %s (regex %r)" % (what, pattern))


def repr_arg(a):
    return a if re.fullmatch(r"[\w@%+=:,./-]+", a) else "'" + a.replace("'", "'\\''") + "'"


class Ctx:
    """Per-case context: temp dir, binary, shared nginx, servers to stop."""

    def __init__(self, runner, name):
        self.runner = runner
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix="stampede-e2e-%s-" % name)
        self.cleanups = []
        self.results = []

    @property
    def stampede(self):
        return self.runner.stampede

    def nginx(self):
        return self.runner.shared_nginx()

    def own_nginx(self, **kw):
        ngx = nginx_conf.Nginx(**kw).start()
        self.cleanups.append(ngx.stop)
        return ngx

    def fault_server(self, *args):
        fs = FaultServer(self.tmp, args)
        self.cleanups.append(fs.stop)
        fs.start()
        return fs

    def path(self, name):
        return os.path.join(self.tmp, name)

    def cmd(self, args, export):
        cmd = [self.stampede, "run"] + list(args)
        export_path = None
        if export:
            export_path = self.path("summary-%d.json" % len(self.results))
            cmd += ["--summary-export", export_path]
        return cmd, export_path

    def run(self, *args, export=True, timeout=RUN_TIMEOUT, env=None):
        cmd, export_path = self.cmd(args, export)
        try:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=timeout, env=child_env(env), preexec_fn=_pdeathsig,
                               cwd=self.tmp)
            rc, out, err = p.returncode, p.stdout, p.stderr
        except subprocess.TimeoutExpired as e:
            rc, out, err = "timeout after %ss (killed)" % timeout, e.stdout or b"", e.stderr or b""
        r = RunResult(cmd, rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"),
                      export_path)
        self.results.append(r)
        check(not isinstance(rc, str), "stampede did not finish: " + str(rc))
        return r

    def spawn(self, *args, export=True, env=None):
        """Starts stampede in the background (with `env` added to its
        environment); returns (Popen, export_path)."""
        cmd, export_path = self.cmd(args, export)
        out = open(self.path("spawn-%d.stdout" % len(self.results)), "w+b")
        err = open(self.path("spawn-%d.stderr" % len(self.results)), "w+b")
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                             env=child_env(env), preexec_fn=_pdeathsig, cwd=self.tmp)

        def kill():
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
            out.close()
            err.close()
        self.cleanups.append(kill)
        p.stampede_out, p.stampede_err, p.stampede_cmd = out, err, cmd
        return p, export_path

    def collect(self, p, export_path):
        """Result of a spawned stampede that has exited."""
        p.stampede_out.seek(0)
        p.stampede_err.seek(0)
        r = RunResult(p.stampede_cmd, p.returncode,
                      p.stampede_out.read().decode("utf-8", "replace"),
                      p.stampede_err.read().decode("utf-8", "replace"), export_path)
        self.results.append(r)
        return r

    def close(self, keep):
        for fn in reversed(self.cleanups):
            try:
                fn()
            except Exception as e:
                print("  cleanup error: %r" % (e,))
        if not keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


# --------------------------------------------------------------------------
# Servers.

class FaultServer:
    def __init__(self, tmp, args):
        self.tmp = tmp
        self.args = list(args)
        self.log_path = os.path.join(tmp, "fault-%d.log" % id(self))
        self.err_path = os.path.join(tmp, "fault-%d.stderr" % id(self))
        self.proc = None
        self.port = None

    def start(self):
        err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, FAULT_SERVER, "--max-seconds", "300", "--log", self.log_path]
            + self.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
            preexec_fn=_pdeathsig)
        err.close()
        deadline = time.monotonic() + SERVER_READY_TIMEOUT
        line = b""
        while time.monotonic() < deadline and not line.endswith(b"\n"):
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                ch = os.read(self.proc.stdout.fileno(), 1)
                if not ch:
                    break
                line += ch
        m = re.match(rb"listening on (\d+)", line)
        if not m:
            self.stop()
            raise AssertionError("fault_server did not report its port (got %r)" % line)
        self.port = int(m.group(1))
        return self

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def stats(self):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            c.request("GET", "/stats")
            return json.loads(c.getresponse().read())
        finally:
            c.close()

    def count(self, path):
        return self.stats()["requests"].get(path, 0)

    def logged(self):
        if not os.path.exists(self.log_path):
            return []
        with open(self.log_path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()


class NxDomainServer:
    """UDP DNS server on 127.0.0.1 answering NXDOMAIN to every query."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.queries = 0
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop_event.is_set():
            try:
                data, addr = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            if len(data) < 12:
                continue
            self.queries += 1
            qid, flags = struct.unpack("!HH", data[:4])
            rd = flags & 0x0100
            # QR=1, opcode copied, RD copied, RA=1, RCODE=3 (NXDOMAIN); echo the question.
            resp_flags = 0x8000 | (flags & 0x7800) | rd | 0x0080 | 3
            qdcount = struct.unpack("!H", data[4:6])[0]
            question = data[12:]
            # Drop any additional records (EDNS OPT) from the echoed question section.
            end = 0
            for _ in range(qdcount):
                while end < len(question) and question[end] != 0:
                    end += 1 + question[end]
                end += 1 + 4
            header = struct.pack("!HHHHHH", qid, resp_flags, qdcount, 0, 0, 0)
            try:
                self.sock.sendto(header + question[:end], addr)
            except OSError:
                pass

    def stop(self):
        self.stop_event.set()
        self.thread.join(timeout=5)
        self.sock.close()


# --------------------------------------------------------------------------
# Cases.

CASES = []


def case(fn):
    CASES.append(fn)
    return fn


def error_count(errors, key):
    return sum(v for k, v in errors.items() if key in k.lower())


def check_errors(r, key, expected_total):
    """All errors are of kind `key` (substring match on error_code), exactly N."""
    errors = r.errors()
    check_eq(error_count(errors, key), expected_total,
             "number of %r errors in export \"errors\" %r" % (key, errors))
    check_eq(sum(errors.values()), expected_total, "total errors in %r" % (errors,))
    check(re.search(r"^.*%s.*$" % re.escape(key), r.stdout, re.M | re.I),
          "stdout summary does not mention the %r errors" % key)


def check_success(r, count):
    r.expect_rc(0)
    check_eq(r.metric("http_reqs")["count"], count, "http_reqs.count")
    check_eq(r.metric("http_req_failed")["rate"], 0, "http_req_failed.rate")
    check_eq(sum(r.errors(required=False).values()), 0, "total errors")


@case
def happy_iterations(t):
    ngx = t.nginx()
    r = t.run("--url", ngx.url, "--vus", "5", "--iterations", "200")
    check_success(r, 200)
    fails = r.metric("http_req_failed")
    if "passes" in fails:  # k6: passes = requests that failed
        check_eq(fails["passes"], 0, "http_req_failed.passes")
    check(r.metric("data_received")["count"] >= 200 * NGINX_INDEX_SIZE,
          "data_received.count %r < 200 bodies of %d bytes"
          % (r.metric("data_received")["count"], NGINX_INDEX_SIZE))
    d = r.metric("http_req_duration")
    for k in ("avg", "min", "med", "max", "p(90)", "p(95)", "p(99)"):
        check(k in d, "http_req_duration has no %r: %r" % (k, d))
    check(0 <= d["min"] <= d["med"] <= d["max"], "min <= med <= max violated: %r" % d)
    check(d["p(90)"] <= d["p(95)"] <= d["p(99)"] <= d["max"],
          "p(90) <= p(95) <= p(99) <= max violated: %r" % d)
    check(d["min"] <= d["avg"] <= d["max"], "min <= avg <= max violated: %r" % d)
    r.stdout_has_line(r"^\s*http_reqs\.*:\s*200\s", "`http_reqs....: 200` line")
    r.stdout_has_line(r"^\s*http_req_failed\.*:\s*0(\.0+)?%", "`http_req_failed...: 0.00%` line")
    r.stdout_has_line(r"^\s*http_req_duration\.*:", "http_req_duration line")
    # As k6: the expected responses' duration, unasked, in the text and the JSON.
    r.stdout_has_line(r"^\s*\{ expected_response:true \}\.*:\s*avg=",
                      "`{ expected_response:true }` sub-metric line")
    expected = r.metric("http_req_duration{expected_response:true}")
    check(d["min"] <= expected["med"] <= d["max"],
          "expected_response sub-metric within http_req_duration: %r" % expected)


@case
def iterations_with_duration_as_max_duration(t):
    # k6: with both, the iterations are the goal and the duration their limit.
    ngx = t.nginx()
    r = t.run("--url", ngx.url, "--vus", "2", "--iterations", "7", "--duration", "30s")
    check_success(r, 7)


@case
def happy_duration(t):
    ngx = t.nginx()
    r = t.run("--url", ngx.url, "--vus", "2", "--duration", "2s")
    r.expect_rc(0)
    n = r.metric("http_reqs")["count"]
    check(n > 0, "http_reqs.count is %r after a 2s run" % n)
    check(r.metric("http_reqs")["rate"] > 0, "http_reqs.rate is not positive")
    check_eq(r.metric("http_req_failed")["rate"], 0, "http_req_failed.rate")
    r.stdout_has_line(r"^\s*http_reqs\.*:\s*%d\s" % n, "http_reqs line with the exported count")


@case
def threads_split_iterations_exactly(t):
    ngx = t.nginx()
    r = t.run("--url", ngx.url, "--vus", "4", "--threads", "2", "--iterations", "101")
    check_success(r, 101)


SEGMENTS = ["0:1/4", "1/4:1/2", "1/2:3/4", "3/4:1"]
SEQUENCE = "0,1/4,1/2,3/4,1"
SEGMENT_SCRIPT = r"""
local http = require("stampede.http")
options = { scenarios = {
  shared = { executor = "shared-iterations", vus = 7, iterations = 101, exec = "shared" },
  per_vu = { executor = "per-vu-iterations", vus = 5, iterations = 3, exec = "per_vu" },
  arrivals = { executor = "constant-arrival-rate", rate = 20, timeUnit = "1s", duration = "2s",
               preAllocatedVUs = 6, maxVUs = 6, exec = "arrivals" },
} }
function shared() http.get(ENV.URL .. "?s=shared", { tags = { s = "shared" } }) end
function per_vu() http.get(ENV.URL .. "?s=per_vu", { tags = { s = "per_vu" } }) end
function arrivals() http.get(ENV.URL .. "?s=arrivals", { tags = { s = "arrivals" } }) end
"""


@case
def execution_segments_add_up_to_the_whole(t):
    """k6's --execution-segment: four instances together run exactly the
    whole test, in --url mode and for every counted executor of a script."""
    ngx = t.nginx()
    total = 0
    for seg in SEGMENTS:
        r = t.run("--url", ngx.url, "--vus", "7", "--iterations", "103", "--no-store",
                  "--execution-segment", seg, "--execution-segment-sequence", SEQUENCE)
        r.expect_rc(0)
        check("segment: %s of %s" % (seg, SEQUENCE) in r.stdout, "segment line:\n" + r.stdout)
        total += int(r.metric("http_reqs")["count"])
    check_eq(total, 103, "--url: the segments' requests add up to --iterations")

    script = t.path("segments.lua")
    with open(script, "w") as f:
        f.write(SEGMENT_SCRIPT)
    whole = t.run(script, "-e", "URL=" + ngx.url, "--no-store")
    whole.expect_rc(0)
    want = 101 + 5 * 3 + 40
    check_eq(int(whole.metric("iterations")["count"]), want, "the whole test's iterations")
    parts = 0
    for i, seg in enumerate(SEGMENTS):
        # Two threads in one instance: the worker split composes with the segment's.
        r = t.run(script, "-e", "URL=" + ngx.url, "--no-store", "--threads", "2",
                  "--execution-segment", seg, "--execution-segment-sequence", SEQUENCE)
        r.expect_rc(0)
        n = int(r.metric("iterations")["count"])
        check(0 < n < want, "segment %s ran a part: %d" % (seg, n))
        parts += n
    check_eq(parts, want, "the segments' iterations add up to the whole's")

    # Bad input: one line naming the flag and the fix (exit 104).
    r = t.run("--url", ngx.url, "--execution-segment", "3/4:1/4", export=False)
    r.expect_rc(104)
    check("--execution-segment" in r.stderr and "below the end" in r.stderr, r.stderr)
    r = t.run("--url", ngx.url, "--execution-segment", "1/3:2/3",
              "--execution-segment-sequence", "0,1/4,1", export=False)
    r.expect_rc(104)
    check("not one of the segments" in r.stderr, r.stderr)


UNIQUE_SCRIPT = r"""
local http = require("stampede.http")
local data = require("stampede.data")
local rows = data.csv("rows.csv", { header = true })
options = { scenarios = {
  s = { executor = "shared-iterations", vus = 2, iterations = 5 },
} }
function default()
  local r = rows:unique()
  print("row=" .. r.id)
  http.get(ENV.URL .. "?id=" .. r.id)
end
"""


@case
def unique_rows_never_repeat_across_segments(t):
    """data unique(): instances of a segmented test never hand out one row twice."""
    ngx = t.nginx()
    with open(t.path("rows.csv"), "w") as f:
        f.write("id\n" + "".join("%d\n" % i for i in range(1, 11)))
    script = t.path("unique.lua")
    with open(script, "w") as f:
        f.write(UNIQUE_SCRIPT)
    seen = []
    for seg in ("0:1/2", "1/2:1"):
        r = t.run(script, "-e", "URL=" + ngx.url, "--no-store", "--execution-segment", seg,
                  "--execution-segment-sequence", "0,1/2,1")
        r.expect_rc(0)
        seen += [int(x) for x in re.findall(r"row=(\d+)", r.stdout + r.stderr)]
    check_eq(len(seen), 5, "rows used by the two segments: %r" % seen)
    check_eq(len(set(seen)), len(seen), "no row handed out twice: %r" % sorted(seen))


@case
def https_insecure_skip_verify(t):
    ngx = t.nginx()
    r = t.run("--url", ngx.https_url, "--insecure-skip-tls-verify", "--vus", "2",
              "--iterations", "20")
    check_success(r, 20)
    check(r.metric("data_received")["count"] >= 20 * NGINX_INDEX_SIZE,
          "data_received smaller than 20 bodies")


@case
def script_insecure_skip_verify_covers_setup_and_teardown(t):
    # The option is read after init: setup() and teardown() must honour it too.
    ngx = t.nginx()
    script = t.path("insecure.lua")
    with open(script, "w") as f:
        f.write("""
local http = require("stampede.http")
options = { insecureSkipTLSVerify = true, iterations = 2 }
function setup() return { status = http.get(ENV.URL).status } end
function default(data)
  check(data, { ["setup reached the server"] = function(d) return d.status == 200 end })
  http.get(ENV.URL)
end
function teardown() http.get(ENV.URL) end
""")
    r = t.run(script, "-e", "URL=" + ngx.https_url)
    check_success(r, 4)  # 1 in setup, 2 iterations, 1 in teardown
    check_eq(r.metric("checks")["passes"], 2, "checks passed")


@case
def https_verify_fails_on_self_signed(t):
    ngx = t.nginx()
    r = t.run("--url", ngx.https_url, "--vus", "1", "--iterations", "3")
    r.expect_rc(0)
    check_errors(r, "tls", 3)
    check_eq(r.metric("http_req_failed")["rate"], 1, "http_req_failed.rate")


@case
def post_with_headers_and_body(t):
    fs = t.fault_server()
    r = t.run("--url", fs.url("/echo?x=1"), "-X", "POST", "-H", "X-Test: abc",
              "-H", "X-Other:  spaced value", "--body", "hello stampede", "--iterations", "1")
    check_success(r, 1)
    reqs = fs.logged()
    check_eq(len(reqs), 1, "requests seen by the server")
    q = reqs[0]
    check_eq(q["method"], "POST", "method")
    check_eq(q["target"], "/echo?x=1", "request target")
    check_eq(q["version"], "HTTP/1.1", "HTTP version")
    headers = {k.lower(): v for k, v in q["headers"]}
    check_eq(headers.get("x-test"), "abc", "X-Test header")
    check_eq(headers.get("x-other"), "spaced value", "X-Other header")
    check_eq(headers.get("host"), "127.0.0.1:%d" % fs.port, "Host header")
    check_eq(q["body"], "hello stampede", "body")
    check_eq(headers.get("content-length"), str(len("hello stampede")), "Content-Length")


@case
def user_agent_flag_and_script_option(t):
    fs = t.fault_server()

    def agents():
        return [{k.lower(): v for k, v in q["headers"]}.get("user-agent") for q in fs.logged()]

    r = t.run("--url", fs.url("/echo?ua=default"), "--iterations", "1")
    check_success(r, 1)
    r = t.run("--url", fs.url("/echo?ua=flag"), "--user-agent", "my-test/2.0", "--iterations", "1")
    check_success(r, 1)
    r = t.run("--url", fs.url("/echo?ua=none"), "--user-agent", "", "--iterations", "1")
    check_success(r, 1)
    script = t.path("ua.lua")
    with open(script, "w") as f:
        f.write('local http = require("stampede.http")\n'
                'options = { userAgent = "", iterations = 1 }\n'
                'function default() http.get(ENV.URL) end\n')
    r = t.run(script, "-e", "URL=" + fs.url("/echo?ua=script-none"))
    check_success(r, 1)
    r = t.run(script, "-e", "URL=" + fs.url("/echo?ua=flag-over-script"), "--user-agent", "cli/1")
    check_success(r, 1)
    got = agents()
    check_eq(len(got), 5, "requests seen")
    check(got[0] is not None and got[0].startswith("stampede/"), "default User-Agent: %r" % got[0])
    check_eq(got[1:], ["my-test/2.0", None, None, "cli/1"],
             "User-Agent with --user-agent X, --user-agent '', userAgent = '', flag over script")


@case
def body_from_file(t):
    payload = b"line one\nline two\r\n\xc3\xa9t\xc3\xa9 \x00 binary \xff end"
    with open(t.path("body.bin"), "wb") as f:
        f.write(payload)
    fs = t.fault_server()
    r = t.run("--url", fs.url("/echo"), "-X", "PUT", "-H", "Content-Type: application/x-test",
              "--body", "@" + t.path("body.bin"), "--vus", "1", "--iterations", "2")
    check_success(r, 2)
    reqs = fs.logged()
    check_eq(len(reqs), 2, "requests seen by the server")
    import base64
    for q in reqs:
        check_eq(q["method"], "PUT", "method")
        check_eq(base64.b64decode(q["body_base64"]), payload, "body bytes")
        headers = {k.lower(): v for k, v in q["headers"]}
        check_eq(headers.get("content-length"), str(len(payload)), "Content-Length")
        check_eq(headers.get("content-type"), "application/x-test", "Content-Type")


@case
def default_is_get_without_body(t):
    fs = t.fault_server()
    r = t.run("--url", fs.url("/echo"), "--vus", "1", "--iterations", "3")
    check_success(r, 3)
    reqs = fs.logged()
    check_eq(len(reqs), 3, "requests seen by the server")
    for q in reqs:
        check_eq(q["method"], "GET", "method")
        check_eq(q["body_len"], 0, "body length")
    # One VU, keep-alive: the three requests should share one connection.
    check_eq(fs.stats()["connections"], 1 + 1, "connections (1 for the VU + 1 for /stats)")


@case
def no_connection_reuse_flags(t):
    # k6's --no-connection-reuse: a new connection per request, with
    # `Connection: close`. In --url mode an iteration is one request, so
    # --no-vu-connection-reuse is the same. (With neither: 1 connection, see
    # default_is_get_without_body.)
    for flag in ("--no-connection-reuse", "--no-vu-connection-reuse"):
        fs = t.fault_server()
        r = t.run("--url", fs.url("/echo"), "--vus", "1", "--iterations", "4", flag)
        check_success(r, 4)
        reqs = fs.logged()
        check_eq(len(reqs), 4, "requests seen by the server with %s" % flag)
        for q in reqs:
            headers = {k.lower(): v for k, v in q["headers"]}
            check_eq(headers.get("connection"), "close", "Connection header with %s" % flag)
        check_eq(fs.stats()["connections"], 4 + 1,
                 "connections with %s (1 per request + 1 for /stats)" % flag)


@case
def every_request_carries_traceparent(t):
    fs = t.fault_server()
    r = t.run("--url", fs.url("/echo"), "--vus", "2", "--iterations", "6", "--baggage-run-id")
    check_success(r, 6)
    seen = []
    for q in fs.logged():
        headers = {k.lower(): v for k, v in q["headers"]}
        tp = headers.get("traceparent", "")
        check(re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-03", tp) is not None,
              "traceparent %r is not version 00, lowercase, sampled + random" % tp)
        check(headers.get("baggage", "").startswith("stampede.run.id="),
              "baggage %r has no run id" % headers.get("baggage"))
        seen.append(tp)
    check_eq(len(set(seen)), 6, "distinct traceparents (one trace and span per request)")
    # A traceparent the user sets wins over ours; OTEL_PROPAGATORS=none sends none.
    fixed = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    r = t.run("--url", fs.url("/echo"), "--iterations", "1", "-H", "traceparent: " + fixed)
    check_success(r, 1)
    headers = {k.lower(): v for k, v in fs.logged()[-1]["headers"]}
    check_eq(headers.get("traceparent"), fixed, "user traceparent")
    r = t.run("--url", fs.url("/echo"), "--iterations", "1", env={"OTEL_PROPAGATORS": "none"})
    check_success(r, 1)
    headers = {k.lower(): v for k, v in fs.logged()[-1]["headers"]}
    check("traceparent" not in headers, "OTEL_PROPAGATORS=none still sent a traceparent")


CONFIG_ERRORS = [
    # name, args, words of which at least one must appear in the stderr line
    ("bad_url_ftp", ["--url", "ftp://x"], ["ftp://x"]),
    ("bad_url_no_host", ["--url", "http://"], ["http://"]),
    ("bad_url_text", ["--url", "not a url"], ["not a url"]),
    ("unknown_flag", ["--url", "http://127.0.0.1:1/", "--bogus-flag"], ["bogus-flag"]),
    ("bad_duration", ["--url", "http://127.0.0.1:1/", "--duration", "10q"], ["10q"]),
    ("user_agent_with_crlf", ["--url", "http://127.0.0.1:1/", "--user-agent", "a\r\nX-Injected: 1"],
     ["User-Agent"]),
    ("vus_zero", ["--url", "http://127.0.0.1:1/", "--vus", "0"], ["vus"]),
    ("iterations_negative", ["--url", "http://127.0.0.1:1/", "--iterations", "-1"],
     ["iterations", "-1"]),
    ("missing_url", ["--vus", "1"], ["url"]),
    ("batch_negative", ["--url", "http://127.0.0.1:1/", "--batch", "-1"], ["--batch -1"]),
    ("batch_per_host_too_large", ["--url", "http://127.0.0.1:1/", "--batch-per-host", "2000000"],
     ["--batch-per-host 2000000"]),
    ("bad_sampler", ["--url", "http://127.0.0.1:1/"], ["OTEL_TRACES_SAMPLER"], {"OTEL_TRACES_SAMPLER": "sometimes"}),
]


def make_config_case(name, args, words, env=None):
    def fn(t):
        r = t.run(*args, export=False, timeout=30, env=env)
        r.expect_rc(EXIT_CONFIG)
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        check_eq(len(lines), 1, "number of non-empty stderr lines")
        check(any(w.lower() in lines[0].lower() for w in words),
              "stderr line %r names none of %r" % (lines[0], words))
        check("http_reqs" not in r.stdout, "a summary was printed for a config error")
    fn.__name__ = "config_error_" + name
    return fn


for _entry in CONFIG_ERRORS:
    case(make_config_case(*_entry))


@case
def dns_failure_counted(t):
    h = t.run("--help", export=False, timeout=30)
    text = h.stdout + h.stderr
    if "--dns-server" not in text:
        raise Skip("`stampede run --help` lists no --dns-server option; resolving a "
                   "missing name would query the system resolver (%s), which may be off "
                   "this machine" % _resolvers())
    dns = NxDomainServer()
    t.cleanups.append(dns.stop)
    r = t.run("--url", "http://nonexistent.invalid/", "--dns-server",
              "127.0.0.1:%d" % dns.port, "--vus", "1", "--iterations", "2")
    r.expect_rc(0)
    check(dns.queries >= 1, "the local DNS server got no query")
    check_errors(r, "dns", 2)


def _resolvers():
    try:
        with open("/etc/resolv.conf") as f:
            ns = [ln.split()[1] for ln in f if ln.startswith("nameserver") and len(ln.split()) > 1]
        return "nameservers: " + (", ".join(ns) or "none")
    except OSError:
        return "no /etc/resolv.conf"


@case
def connection_refused_counted(t):
    port = free_port()  # bound then closed: nothing listens there now
    r = t.run("--url", "http://127.0.0.1:%d/" % port, "--vus", "1", "--iterations", "3")
    r.expect_rc(0)
    check_errors(r, "refused", 3)
    check_eq(r.metric("http_req_failed")["rate"], 1, "http_req_failed.rate")


@case
def stalled_server_times_out(t):
    fs = t.fault_server()
    r = t.run("--url", fs.url("/stall"), "--timeout", "1s", "--vus", "1", "--iterations", "3")
    r.expect_rc(0)
    check_errors(r, "timeout", 3)
    check_eq(fs.count("/stall"), 3, "requests received by the stalling server")


@case
def reset_mid_body_counted(t):
    fs = t.fault_server()
    r = t.run("--url", fs.url("/reset-mid-body"), "--vus", "1", "--iterations", "3")
    r.expect_rc(0)
    check_errors(r, "reset", 3)


@case
def reset_on_accept_counted(t):
    fs = t.fault_server("--mode", "reset")
    r = t.run("--url", fs.url("/ok"), "--vus", "1", "--iterations", "3")
    r.expect_rc(0)
    check_errors(r, "reset", 3)


@case
def garbage_is_protocol_error(t):
    fs = t.fault_server()
    r = t.run("--url", fs.url("/garbage"), "--vus", "1", "--iterations", "3")
    r.expect_rc(0)
    check_errors(r, "protocol", 3)


@case
def bad_chunk_is_protocol_error(t):
    fs = t.fault_server()
    r = t.run("--url", fs.url("/bad-chunk"), "--vus", "1", "--iterations", "3")
    r.expect_rc(0)
    check_errors(r, "protocol", 3)


@case
def chunked_body_succeeds(t):
    fs = t.fault_server()
    r = t.run("--url", fs.url("/chunked"), "--vus", "2", "--iterations", "10")
    check_success(r, 10)
    got = r.metric("data_received")["count"]
    check(got >= 10 * CHUNKED_BODY_LEN, "data_received %r < 10 chunked bodies" % got)
    check_eq(fs.count("/chunked"), 10, "requests received")


@case
def close_delimited_body_succeeds(t):
    fs = t.fault_server()
    r = t.run("--url", fs.url("/close"), "--vus", "2", "--iterations", "10")
    check_success(r, 10)
    check_eq(fs.count("/close"), 10, "requests received")


@case
def head_with_content_length_has_no_body(t):
    fs = t.fault_server()
    r = t.run("--url", fs.url("/head-cl"), "-X", "HEAD", "--timeout", "5s", "--vus", "1",
              "--iterations", "5")
    check_success(r, 5)
    # One connection reused: the client did not wait for (or expect) 1234 bytes.
    check_eq(fs.stats()["connections"], 2, "connections (1 for the VU + 1 for /stats)")


@case
def no_body_204_and_304(t):
    fs = t.fault_server()
    r = t.run("--url", fs.url("/204"), "--timeout", "5s", "--vus", "1", "--iterations", "5")
    check_success(r, 5)
    r = t.run("--url", fs.url("/304?cl=100"), "--timeout", "5s", "--vus", "1",
              "--iterations", "5")
    check_success(r, 5)


@case
def slow_headers_within_timeout_succeed(t):
    fs = t.fault_server()
    r = t.run("--url", fs.url("/slow-headers?ms=300"), "--timeout", "10s", "--vus", "2",
              "--iterations", "4")
    check_success(r, 4)


@case
def http_5xx_is_failed_not_error(t):
    fs = t.fault_server()
    r = t.run("--url", fs.url("/status?code=503"), "--vus", "1", "--iterations", "5")
    r.expect_rc(0)
    check_eq(r.metric("http_reqs")["count"], 5, "http_reqs.count")
    check_eq(r.metric("http_req_failed")["rate"], 1, "http_req_failed.rate")


def wait_for(cond, what, proc=None, attempts=300, interval=0.1):
    """Polls cond() a bounded number of times; fails if proc exits first."""
    for _ in range(attempts):
        if cond():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError("stampede exited (code %r) before %s" % (proc.returncode, what))
        time.sleep(interval)
    raise AssertionError("gave up waiting for %s" % what)


def wait_exit(p, timeout, what):
    try:
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError("stampede did not exit within %ss after %s" % (timeout, what))


@case
def sigint_graceful_stop(t):
    ngx = t.own_nginx(https=False, access_log=True)
    p, export = t.spawn("--url", ngx.url, "--vus", "2", "--duration", "60s")

    def logged():
        # Requests for / only: the log also holds nginx_conf's readiness probes.
        try:
            with open(ngx.access_log_path, "rb") as f:
                return sum(1 for ln in f if b'"GET / HTTP/1.1"' in ln)
        except OSError:
            return 0
    wait_for(lambda: logged() > 0, "nginx served a first request", proc=p)
    p.send_signal(signal.SIGINT)
    wait_exit(p, 40, "SIGINT")
    r = t.collect(p, export)
    r.expect_rc(EXIT_SIGNAL)
    r.stdout_has_line(r"^\s*http_reqs\.*:\s*\d+", "http_reqs line")
    n = r.metric("http_reqs")["count"]
    check(n > 0, "http_reqs.count is %r" % n)
    check_eq(r.metric("http_req_failed")["rate"], 0, "http_req_failed.rate (graceful stop)")

    # nginx logs a request after answering it: give it a bounded moment to catch up.
    for _ in range(50):
        if logged() >= n:
            break
        time.sleep(0.05)
    check_eq(n, logged(), "requests counted by stampede vs. served by nginx "
             "(in-flight requests must finish and be counted)")


@case
def sigterm_graceful_stop(t):
    fs = t.fault_server()
    p, export = t.spawn("--url", fs.url("/ok"), "--vus", "2", "--duration", "60s")
    wait_for(lambda: fs.count("/ok") > 0, "the server saw a first request", proc=p)
    p.send_signal(signal.SIGTERM)
    wait_exit(p, 40, "SIGTERM")
    r = t.collect(p, export)
    r.expect_rc(EXIT_SIGNAL)
    r.stdout_has_line(r"^\s*http_reqs\.*:\s*\d+", "http_reqs line")
    check_eq(r.metric("http_reqs")["count"], fs.count("/ok"),
             "requests counted by stampede vs. answered by the server")


@case
def second_sigint_stops_at_once(t):
    fs = t.fault_server()
    # The only request stalls; graceful stop would wait 30 s, the request 60 s.
    p, export = t.spawn("--url", fs.url("/stall"), "--vus", "1", "--duration", "60s",
                        "--graceful-stop", "30s", "--timeout", "60s")
    wait_for(lambda: fs.count("/stall") > 0, "the stalled request to arrive", proc=p)
    p.send_signal(signal.SIGINT)
    # Signals may coalesce: keep sending (bounded) until it exits; far less than
    # the 30 s graceful stop must be enough.
    for _ in range(20):
        try:
            p.wait(timeout=0.5)
            break
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGINT)
    check(p.poll() is not None, "stampede still running after repeated SIGINTs")
    r = t.collect(p, export)
    r.expect_rc(EXIT_SIGNAL)


@case
def a_closed_stdout_does_not_kill_the_run(t):
    # `stampede run ... | head -1`: the reader is gone before the summary.
    fs = t.fault_server()
    export = t.path("summary.json")
    r, w = os.pipe()
    os.close(r)
    try:
        p = subprocess.Popen([t.stampede, "run", "--url", fs.url("/ok"), "--iterations", "30",
                              "--no-store", "--summary-export", export],
                             stdin=subprocess.DEVNULL, stdout=w, stderr=subprocess.PIPE,
                             env=child_env(), preexec_fn=_pdeathsig)
    finally:
        os.close(w)
    _, err = p.communicate(timeout=60)
    check_eq(p.returncode, 0, "exit code with a closed stdout (SIGPIPE is %d): %s"
             % (-signal.SIGPIPE, err[-300:]))
    with open(export) as f:
        check_eq(json.load(f)["metrics"]["http_reqs"]["count"], 30, "the summary export")
    check_eq(fs.count("/ok"), 30, "requests the server answered")


@case
def a_listener_beyond_loopback_says_so(t):
    # Bound to every address inside a network namespace of the test's own
    # (only its loopback exists there), so nothing is reachable from outside.
    if shutil.which("unshare") is None or subprocess.run(
            ["unshare", "-n", "true"], stderr=subprocess.DEVNULL).returncode != 0:
        print("  (skipped: cannot create a network namespace here)")
        return
    cmd = ["unshare", "-n", t.stampede, "run", "--url", "http://127.0.0.1:1/", "--iterations",
           "3", "--no-store", "-q", "--prometheus", "0.0.0.0:0", "--ui=0.0.0.0:0",
           "--collect=0.0.0.0:0", "--collect-linger", "0s", "--collect-grpc=[::]:0"]
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
                       env=child_env(), preexec_fn=_pdeathsig)
    err = p.stderr.decode(errors="replace")
    for option, note in (("--prometheus", "/metrics is read-only and needs no token"),
                         ("--ui", "its control needs the token"),
                         ("--collect", "it takes spans from anyone who reaches it"),
                         ("--collect-grpc", "it takes spans from anyone who reaches it")):
        check(re.search(r"^stampede: WARN %s \S+: listening beyond loopback: other machines can "
                        r"reach it; %s$" % (re.escape(option), re.escape(note)), err, re.M),
              "%s says it is exposed:\n%s" % (option, err))
    # On loopback (the defaults) nothing is said.
    p = subprocess.run([t.stampede, "run", "--url", "http://127.0.0.1:1/", "--iterations", "3",
                        "--no-store", "-q", "--prometheus", "127.0.0.1:0", "--ui=127.0.0.1:0"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
                       env=child_env(), preexec_fn=_pdeathsig)
    check("beyond loopback" not in p.stderr.decode(errors="replace"), p.stderr.decode())


@case
def secrets_are_never_printed_logged_stored_or_shown(t):
    # Tokens reach stampede as OTLP headers, as -e values a script puts in
    # Authorization and Cookie headers, and as a URL's user info; the
    # collector refuses every export (401), so the error paths run too.
    fs = t.fault_server()
    secrets = ["OTLP-SECRET-1f9a", "OTLP-KEY-77c2", "AUTH-SECRET-5b1e", "COOKIE-SECRET-03d4",
               "USERINFO-SECRET-e8a0"]
    script = t.path("secrets.lua")
    with open(script, "w") as f:
        f.write("""local http = require("stampede.http")
options = { iterations = 12, vus = 2 }
function default()
  http.get(ENV.BASE .. "/ok", { headers = { Authorization = "Bearer " .. ENV.TOKEN,
                                            Cookie = "session=" .. ENV.COOKIE } })
  http.get("http://user:" .. ENV.PASS .. "@" .. ENV.HOSTPORT .. "/ok")
end
""")
    store = t.path("run.db")
    export = t.path("summary.json")
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": fs.url("/status?code=401").split("/status")[0],
           "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": fs.url("/status?code=401"),
           "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": fs.url("/status?code=401"),
           "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer %s,x-api-key=%s" % tuple(secrets[:2]),
           "OTEL_EXPORTER_OTLP_TIMEOUT": "500"}
    base = fs.url("/ok").rsplit("/ok", 1)[0]
    p = subprocess.run([t.stampede, "run", script, "--otel", "--out", "sqlite=" + store,
                        "--summary-export", export, "-e", "BASE=" + base,
                        "-e", "TOKEN=" + secrets[2], "-e", "COOKIE=" + secrets[3],
                        "-e", "PASS=" + secrets[4], "-e", "HOSTPORT=" + base.split("//")[1]],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=120,
                       env=child_env(env), preexec_fn=_pdeathsig, cwd=t.tmp)
    check_eq(p.returncode, 0, "exit code: " + p.stderr.decode(errors="replace")[-500:])
    check("export" in p.stderr.decode(errors="replace") and "401" in p.stderr.decode(),
          "the refused exports were reported:\n" + p.stderr.decode(errors="replace"))
    check_eq(fs.count("/ok"), 24, "requests the server answered")
    report = t.path("report.html")
    r = subprocess.run([t.stampede, "report", store, "-o", report], capture_output=True,
                       timeout=120, env=child_env(), preexec_fn=_pdeathsig)
    check_eq(r.returncode, 0, "report exit code: " + r.stderr.decode(errors="replace"))
    places = {"stdout": p.stdout, "stderr": p.stderr + r.stderr + r.stdout}
    for path in (export, report) + tuple(
            x for x in (store, store + "-wal", store + "-journal") if os.path.exists(x)):
        with open(path, "rb") as f:
            places[os.path.basename(path)] = f.read()
    for where, data in places.items():
        for secret in secrets:
            check(secret.encode() not in data, "%s holds the secret %s" % (where, secret))


# --------------------------------------------------------------------------
# Runner.

class Runner:
    def __init__(self, stampede, keep_tmp):
        self.stampede = stampede
        self.keep_tmp = keep_tmp
        self._nginx = nginx_conf.SharedNginx(workers=1, https=True)

    def shared_nginx(self):
        return self._nginx.get()

    def close(self):
        self._nginx.stop()

    def run_case(self, fn):
        name = fn.__name__
        t = Ctx(self, name)
        start = time.monotonic()
        status, detail = "PASS", ""
        try:
            fn(t)
        except Skip as e:
            status, detail = "SKIP", str(e)
        except AssertionError as e:
            status, detail = "FAIL", str(e)
        except Exception:
            status, detail = "FAIL", "unexpected error:\n" + traceback.format_exc()
        finally:
            t.close(self.keep_tmp)
        took = time.monotonic() - start
        if status == "PASS":
            print("PASS %s (%.1fs)" % (name, took), flush=True)
        elif status == "SKIP":
            print("SKIP %s: %s" % (name, detail), flush=True)
        else:
            print("FAIL %s (%.1fs): %s" % (name, took, detail), flush=True)
            if t.results:
                print("  " + t.results[-1].describe().replace("\n", "\n  "), flush=True)
        return status


def main():
    default_bin = os.environ.get("STAMPEDE") or os.path.join(
        os.path.dirname(os.path.dirname(HERE)), "build", "src", "cli", "stampede")
    ap = argparse.ArgumentParser(description="stampede CLI end-to-end tests")
    ap.add_argument("--stampede", default=default_bin, help="path to the stampede binary")
    ap.add_argument("-k", dest="filter", default=None, help="run cases whose name contains this")
    ap.add_argument("--list", action="store_true", help="list case names and exit")
    ap.add_argument("--keep-tmp", action="store_true", help="keep per-case temp dirs")
    args = ap.parse_args()

    cases = [c for c in CASES if not args.filter or args.filter in c.__name__]
    if args.list:
        for c in cases:
            print(c.__name__)
        return 0
    binary = os.path.abspath(args.stampede)
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        print("FAIL setup: stampede binary not found or not executable: %s "
              "(build it first: cmake --build build --target stampede)" % binary)
        print("0 passed, 1 failed")
        return 1
    if not cases:
        print("FAIL setup: no case matches -k %r" % args.filter)
        print("0 passed, 1 failed")
        return 1

    return run_cases(Runner(binary, args.keep_tmp), cases, lambda c: c.__name__)


def run_cases(runner, cases, name_of):
    """Runs every case with runner.run_case (PASS/FAIL/SKIP/XFAIL), closes the
    runner, prints the tallies and exactly `N passed, M failed`; returns the
    exit code. SIGTERM (e.g. a ctest timeout) unwinds like Ctrl-C, so servers
    are stopped. Shared by the e2e and Lua script runners."""
    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)

    passed = failed = 0
    skipped, xfailed = [], []
    try:
        for c in cases:
            s = runner.run_case(c)
            if s == "PASS":
                passed += 1
            elif s == "SKIP":
                skipped.append(name_of(c))
            elif s == "XFAIL":
                xfailed.append(name_of(c))
            else:
                failed += 1
    except KeyboardInterrupt:
        print("interrupted")
        failed += 1
    finally:
        runner.close()
    if skipped:
        print("%d skipped (with reasons above): %s" % (len(skipped), ", ".join(skipped)))
    if xfailed:
        print("%d expected failures (known engine bugs, reasons above): %s"
              % (len(xfailed), ", ".join(xfailed)))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0

if __name__ == "__main__":
    sys.exit(main())
