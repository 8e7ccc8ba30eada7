#!/usr/bin/env python3
"""Data-driven tests of stampede's Lua scripting (python3 stdlib only).

    python3 tests/lua/run_lua_tests.py --stampede build/src/cli/stampede [-k SUBSTR] [--list]
                                       [--keep-tmp] [-v]

A case is either a pair of files in this directory

    NAME.lua            the script (may be absent when the expectation names
                        another script with "script")
    NAME.expect.json    what to start, how to run, what must come out

or a directory NAME/ holding `expect.json`, `script.lua` and any data files
the script reads with open() (relative to the script's directory).

For every case the runner starts the server the expectation asks for on
127.0.0.1 (waiting for its `listening on PORT` line or readiness probe), runs
`stampede run SCRIPT -e BASE_URL=... -e REFUSED_URL=... --quiet
--summary-export FILE ARGS...` with a timeout, stops the server, and checks
every assertion. One line per case (PASS/FAIL/XFAIL), then exactly
`N passed, M failed`; the exit code is non-zero when a case failed.

expect.json fields (all optional except exit_code):

  description        text, for humans
  server             "fault" (tests/support/fault_server.py, every request
                     logged with --log-all), "nginx" (tests/support/nginx_conf.py,
                     http only), "shop" (examples/shop/server.js), or null
  server_args        extra fault_server arguments
  script             script path (placeholders allowed) instead of NAME.lua
  env                extra process environment for stampede {NAME: value}
  args               extra stampede arguments; placeholders: ${BASE_URL},
                     ${REFUSED_URL} (a loopback port nothing listens on),
                     ${CASE_DIR}, ${REPO}, ${TMP}
  export             false: no --summary-export (and no metric assertions)
  timeout            seconds for the stampede run (default 60)
  exit_code          the expected exit code
  signal             {"name": "SIGINT", "after_requests": N}: once the fault
                     server has logged N requests, send the signal once
  metrics            {"METRIC[.FIELD]": EXPECT}; METRIC may be a sub-metric
                     `name{tag:value}`; FIELD is a key of the exported metric
                     (count, rate, passes, fails, value, min, max, avg, p(95), ...);
                     "M1.F1 + M2.F2" compares the sum (an absent metric is 0)
  thresholds         {"METRIC": {"EXPR": true|false}}: the export's thresholds
                     map (true = the threshold FAILED, k6's legacy export)
  script_errors      EXPECT for the export's script_errors (absent counts as 0)
  errors             {"SUBSTRING": EXPECT}: sum of the export's transport
                     errors whose type contains SUBSTRING
  errors_total       EXPECT for the sum of all transport errors
  stdout_contains, stdout_not_contains, stderr_contains, stderr_not_contains
                     lists of substrings
  stdout_regex, stderr_regex
                     lists of regular expressions (re.M)
  stderr_lines       exact number of non-empty stderr lines
  requests           list of matchers over the requests the fault server
                     logged: {"method", "path", "query": {k: v}, "body",
                     "body_contains", "body_json", "headers": {name: HV},
                     "count": EXPECT (default >= 1)}; HV is a string (exact),
                     true/false (present/absent), {"contains": s} or {"regex": r}
  requests_total     EXPECT for the number of logged requests
  connections        EXPECT for the number of distinct connections the logged
                     requests came on (the fault server numbers them)
  max_in_flight      EXPECT for the most requests the fault server had in flight
                     at once (read, not yet answered); see fault_server.py
  max_in_flight_per_host
                     the same among requests with the same Host header
  expected_failure   a reason: the case documents a known engine bug; it is
                     run, printed as XFAIL when it fails (not counted as a
                     failure) and as FAIL "unexpectedly passed" otherwise

EXPECT is a number (exact), true/false (present/absent), or an object of
comparisons {">=": a, "<=": b, ">": c, "<": d, "==": e, "!=": f}.
"""

import argparse
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
sys.path.insert(0, os.path.join(REPO, "tests", "support"))

import nginx_conf  # noqa: E402
import run_cli_tests as cli  # noqa: E402  (servers, process helpers)

SHOP_DIR = os.path.join(REPO, "examples", "shop")
DEFAULT_TIMEOUT = 60       # seconds, one stampede run
SERVER_READY_TIMEOUT = 20  # seconds, a server printing `listening on PORT`
SIGNAL_EXIT_TIMEOUT = 40   # seconds after the signal
KNOWN_FIELDS = {
    "description", "server", "server_args", "script", "env", "args", "export", "timeout",
    "exit_code", "signal", "metrics", "thresholds", "script_errors", "errors",
    "errors_total", "stdout_contains", "stdout_not_contains", "stderr_contains",
    "stderr_not_contains", "stdout_regex", "stderr_regex", "stderr_lines", "requests",
    "requests_total", "expected_failure", "connections", "max_in_flight",
    "max_in_flight_per_host",
}


class Skip(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


# --------------------------------------------------------------------------
# Expectations.

OPS = {
    ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
    "<": lambda a, b: a < b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
}


def matches(actual, expect):
    """True when `actual` (None = absent) satisfies EXPECT."""
    if expect is True:
        return actual is not None
    if expect is False:
        return actual is None
    if actual is None:
        return False
    if isinstance(expect, dict):
        for op, bound in expect.items():
            if op not in OPS:
                raise AssertionError("bad comparison %r in expectation %r" % (op, expect))
            if not isinstance(actual, (int, float)) or not OPS[op](actual, bound):
                return False
        return True
    if isinstance(expect, (int, float)) and isinstance(actual, (int, float)):
        return actual == expect
    return actual == expect


def split_metric_key(key):
    """`http_reqs.count` -> (http_reqs, count); `m{name:/a.b}.p(95)` -> (m{...}, p(95))."""
    brace = key.rfind("}")
    if brace >= 0:
        metric, rest = key[:brace + 1], key[brace + 1:]
        if not rest:
            return metric, None
        check(rest.startswith("."), "bad metric key %r" % key)
        return metric, rest[1:]
    metric, dot, field = key.partition(".")
    return metric, (field if dot else None)


def header_value(entry, name):
    values = [v for k, v in entry.get("headers", []) if k.lower() == name.lower()]
    return ", ".join(values) if values else None


def request_matches(entry, m):
    if "method" in m and entry.get("method") != m["method"]:
        return False
    if "path" in m and entry.get("path") != m["path"]:
        return False
    for k, v in (m.get("query") or {}).items():
        got = entry.get("query", {}).get(k)
        if v is False:
            if got is not None:
                return False
        elif not got or got[0] != str(v):
            return False
    if "body" in m and entry.get("body") != m["body"]:
        return False
    if "body_contains" in m and m["body_contains"] not in entry.get("body", ""):
        return False
    if "body_json" in m:
        try:
            if json.loads(entry.get("body") or "null") != m["body_json"]:
                return False
        except ValueError:
            return False
    for name, hv in (m.get("headers") or {}).items():
        got = header_value(entry, name)
        if hv is True or hv is False:
            if (got is not None) != hv:
                return False
        elif isinstance(hv, dict):
            if got is None:
                return False
            if "contains" in hv and hv["contains"] not in got:
                return False
            if "regex" in hv and not re.search(hv["regex"], got):
                return False
        elif got != hv:
            return False
    return True


def summarize_requests(log, limit=40):
    lines = []
    for e in log[:limit]:
        hdrs = ", ".join("%s: %s" % (k, v) for k, v in e.get("headers", [])
                         if k.lower() not in ("host",))
        body = e.get("body", "")
        lines.append("    %s %s [%s] body=%r conn=%s in_flight=%s" % (
            e.get("method"), e.get("target"), hdrs, body[:120], e.get("connection"),
            e.get("in_flight")))
    if len(log) > limit:
        lines.append("    ... %d more" % (len(log) - limit))
    return "\n".join(lines) if lines else "    (none)"


# --------------------------------------------------------------------------
# Servers.

class ShopServer:
    """examples/shop/server.js on an ephemeral loopback port."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.proc = None
        self.port = None

    def start(self):
        node = shutil.which("node")
        if not node:
            raise Skip("node is not installed")
        if not os.path.isdir(os.path.join(SHOP_DIR, "node_modules")):
            npm = shutil.which("npm")
            if not npm:
                raise Skip("examples/shop/node_modules is missing and npm is not installed")
            p = subprocess.run([npm, "ci", "--prefix", SHOP_DIR, "--no-audit", "--no-fund"],
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
            if p.returncode != 0:
                raise Skip("npm ci for examples/shop failed: %s"
                           % p.stderr.decode("utf-8", "replace")[-500:])
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        env.update({"PORT": "0", "HOST": "127.0.0.1", "SHOP_MAX_SECONDS": "180"})
        err = open(os.path.join(self.tmp, "shop.stderr"), "wb")
        self.proc = subprocess.Popen([node, os.path.join(SHOP_DIR, "server.js")],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=err, env=env, preexec_fn=cli._pdeathsig)
        err.close()
        self.port = read_port(self.proc, "the shop")
        if self.port is None:
            self.stop()
            raise AssertionError("the shop did not print `listening on PORT` (stderr: %s)"
                                 % self.stderr()[-500:])
        return self

    def stderr(self):
        try:
            with open(os.path.join(self.tmp, "shop.stderr"), encoding="utf-8",
                      errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def url(self, path=""):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def logged(self):
        return []

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


def read_port(proc, what):
    """Reads `listening on PORT` (bounded); None when it does not come."""
    deadline = time.monotonic() + SERVER_READY_TIMEOUT
    line = b""
    while time.monotonic() < deadline and not line.endswith(b"\n"):
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            ch = os.read(proc.stdout.fileno(), 1)
            if not ch:
                break
            line += ch
        elif proc.poll() is not None:
            break
    m = re.match(rb"listening on (\d+)", line)
    return int(m.group(1)) if m else None


class NginxServer:
    def __init__(self, ngx):
        self.ngx = ngx

    def url(self, path=""):
        return self.ngx.url.rstrip("/") + path

    def logged(self):
        return []


# --------------------------------------------------------------------------
# Cases.

class Case:
    def __init__(self, name, expect_path, script_path, case_dir):
        self.name = name
        self.expect_path = expect_path
        self.script_path = script_path
        self.case_dir = case_dir

    def load(self):
        with open(self.expect_path, encoding="utf-8") as f:
            try:
                e = json.load(f)
            except ValueError as err:
                raise AssertionError("%s is not valid JSON: %s" % (self.expect_path, err))
        check(isinstance(e, dict), "%s: not a JSON object" % self.expect_path)
        unknown = set(e) - KNOWN_FIELDS
        check(not unknown, "%s: unknown fields %s" % (self.expect_path, sorted(unknown)))
        check("exit_code" in e, "%s: exit_code is required" % self.expect_path)
        return e


def discover():
    cases = []
    for entry in sorted(os.listdir(HERE)):
        full = os.path.join(HERE, entry)
        if os.path.isdir(full) and os.path.isfile(os.path.join(full, "expect.json")):
            cases.append(Case(entry, os.path.join(full, "expect.json"),
                              os.path.join(full, "script.lua"), full))
        elif entry.endswith(".expect.json"):
            name = entry[:-len(".expect.json")]
            cases.append(Case(name, full, os.path.join(HERE, name + ".lua"), HERE))
    return cases


class Runner:
    def __init__(self, stampede, keep_tmp, verbose):
        self.stampede = stampede
        self.keep_tmp = keep_tmp
        self.verbose = verbose
        self._nginx = nginx_conf.SharedNginx(workers=1, https=False)

    def nginx(self):
        return self._nginx.get()

    def close(self):
        self._nginx.stop()

    # -- one case -----------------------------------------------------------
    def run_case(self, case):
        tmp = tempfile.mkdtemp(prefix="stampede-lua-%s-" % case.name)
        cleanups = []
        ctx = {"result": None, "log": None}
        start = time.monotonic()
        status, detail = "PASS", ""
        expect = {}
        try:
            expect = case.load()
            self._run(case, expect, tmp, cleanups, ctx)
        except Skip as e:
            status, detail = "SKIP", str(e)
        except AssertionError as e:
            status, detail = "FAIL", str(e)
        except Exception:
            status, detail = "FAIL", "unexpected error:\n" + traceback.format_exc()
        finally:
            for fn in reversed(cleanups):
                try:
                    fn()
                except Exception as e:
                    print("  cleanup error: %r" % (e,))
            if not self.keep_tmp:
                shutil.rmtree(tmp, ignore_errors=True)
        took = time.monotonic() - start
        xfail = expect.get("expected_failure")
        if xfail and status == "FAIL":
            print("XFAIL %s (%.1fs): %s\n  failed as documented: %s"
                  % (case.name, took, xfail, detail.splitlines()[0] if detail else ""),
                  flush=True)
            return "XFAIL"
        if xfail and status == "PASS":
            status, detail = "FAIL", "unexpectedly passed (expected_failure: %s)" % xfail
        if status == "PASS":
            print("PASS %s (%.1fs)" % (case.name, took), flush=True)
        elif status == "SKIP":
            print("SKIP %s: %s" % (case.name, detail), flush=True)
        else:
            print("FAIL %s (%.1fs): %s" % (case.name, took, detail), flush=True)
            r = ctx["result"]
            if r is not None:
                print("  " + r.describe().replace("\n", "\n  "), flush=True)
            if ctx["log"] is not None and self.verbose:
                print("  requests logged by the fault server:\n" + summarize_requests(ctx["log"]))
        if self.verbose and status == "PASS" and ctx["result"] is not None:
            print("  " + ctx["result"].describe().replace("\n", "\n  "), flush=True)
        return status

    def _start_server(self, kind, expect, tmp, cleanups):
        if kind is None:
            return None
        if kind == "fault":
            fs = cli.FaultServer(tmp, ["--log-all"] + list(expect.get("server_args", [])))
            cleanups.append(fs.stop)
            fs.start()
            return fs
        if kind == "nginx":
            return NginxServer(self.nginx())
        if kind == "shop":
            shop = ShopServer(tmp)
            cleanups.append(shop.stop)
            shop.start()
            return shop
        raise AssertionError("unknown server %r" % kind)

    def _run(self, case, expect, tmp, cleanups, ctx):
        server = self._start_server(expect.get("server"), expect, tmp, cleanups)
        base_url = server.url("") if server else "http://127.0.0.1:9"
        refused_url = "http://127.0.0.1:%d" % cli.free_port()
        subst = {"BASE_URL": base_url, "REFUSED_URL": refused_url, "CASE_DIR": case.case_dir,
                 "REPO": REPO, "TMP": tmp}

        def fill(s):
            return re.sub(r"\$\{(\w+)\}", lambda m: subst[m.group(1)], s)

        script = fill(expect["script"]) if "script" in expect else case.script_path
        export = expect.get("export", True)
        export_path = os.path.join(tmp, "summary.json") if export else None
        cmd = [self.stampede, "run", script, "-e", "BASE_URL=" + base_url,
               "-e", "REFUSED_URL=" + refused_url, "--quiet"]
        if export:
            cmd += ["--summary-export", export_path]
        cmd += [fill(a) for a in expect.get("args", [])]
        timeout = expect.get("timeout", DEFAULT_TIMEOUT)
        env = cli.child_env()
        env.update({k: fill(str(v)) for k, v in expect.get("env", {}).items()})

        if "signal" in expect:
            r = self._run_with_signal(cmd, env, export_path, tmp, timeout, expect["signal"],
                                      server, cleanups)
        else:
            r = self._run_plain(cmd, env, export_path, tmp, timeout)
        ctx["result"] = r
        check(not isinstance(r.rc, str), "stampede did not finish: %s" % r.rc)
        if server is not None and expect.get("server") == "fault":
            ctx["log"] = server.logged()
        self._assert(expect, r, ctx["log"], server)

    def _run_plain(self, cmd, env, export_path, tmp, timeout):
        try:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=timeout, env=env,
                               preexec_fn=cli._pdeathsig, cwd=tmp)
            rc, out, err = p.returncode, p.stdout, p.stderr
        except subprocess.TimeoutExpired as e:
            rc, out, err = ("timeout after %ss (killed)" % timeout, e.stdout or b"",
                            e.stderr or b"")
        return cli.RunResult(cmd, rc, out.decode("utf-8", "replace"),
                             err.decode("utf-8", "replace"), export_path)

    def _run_with_signal(self, cmd, env, export_path, tmp, timeout, sig, server, cleanups):
        check(server is not None and hasattr(server, "logged"),
              "signal cases need the fault server")
        out = open(os.path.join(tmp, "stdout"), "w+b")
        err = open(os.path.join(tmp, "stderr"), "w+b")
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                             env=env, preexec_fn=cli._pdeathsig, cwd=tmp)

        def kill():
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
            out.close()
            err.close()
        cleanups.append(kill)
        want = sig.get("after_requests", 1)
        cli.wait_for(lambda: len(server.logged()) >= want,
                     "%d requests at the server" % want, proc=p, attempts=int(timeout * 10))
        p.send_signal(getattr(signal, sig.get("name", "SIGINT")))
        try:
            p.wait(timeout=SIGNAL_EXIT_TIMEOUT)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)
            rc = "no exit within %ss of the signal (killed)" % SIGNAL_EXIT_TIMEOUT
        out.seek(0)
        err.seek(0)
        return cli.RunResult(cmd, rc, out.read().decode("utf-8", "replace"),
                             err.read().decode("utf-8", "replace"), export_path)

    # -- assertions ------------------------------------------------------------
    def _assert(self, e, r, log, server):
        check(r.rc == e["exit_code"], "expected exit code %r, got %r" % (e["exit_code"], r.rc))

        for s in e.get("stdout_contains", []):
            check(s in r.stdout, "stdout does not contain %r" % s)
        for s in e.get("stdout_not_contains", []):
            check(s not in r.stdout, "stdout contains %r" % s)
        for s in e.get("stderr_contains", []):
            check(s in r.stderr, "stderr does not contain %r" % s)
        for s in e.get("stderr_not_contains", []):
            check(s not in r.stderr, "stderr contains %r" % s)
        for rx in e.get("stdout_regex", []):
            check(re.search(rx, r.stdout, re.M), "stdout does not match %r" % rx)
        for rx in e.get("stderr_regex", []):
            check(re.search(rx, r.stderr, re.M), "stderr does not match %r" % rx)
        if "stderr_lines" in e:
            n = len([ln for ln in r.stderr.splitlines() if ln.strip()])
            check(n == e["stderr_lines"], "expected %d non-empty stderr line(s), got %d"
                  % (e["stderr_lines"], n))

        wants_export = any(k in e for k in ("metrics", "thresholds", "script_errors", "errors",
                                            "errors_total"))
        if wants_export:
            check(r.export_path is not None, "metric assertions need the export")
            metrics = r.json["metrics"]
            for key, want in e.get("metrics", {}).items():
                if " + " in key:  # a sum of fields, e.g. "iterations.count + dropped_iterations.count"
                    parts = [split_metric_key(k.strip()) for k in key.split(" + ")]
                    vals = [(metrics.get(n) or {}).get(f, 0) for n, f in parts]
                    check(matches(sum(vals), want), "%s: expected %s, got %r (%r)"
                          % (key, describe_expect(want), sum(vals), vals))
                    continue
                name, field = split_metric_key(key)
                m = metrics.get(name)
                if field is None:
                    check(matches(m, want), "metric %r: expected %s, it is %s (metrics: %s)"
                          % (name, describe_expect(want), "present" if m is not None else
                             "absent", ", ".join(sorted(metrics))))
                    continue
                got = m.get(field) if isinstance(m, dict) else None
                check(matches(got, want), "%s: expected %s, got %r%s"
                      % (key, describe_expect(want), got,
                         "" if m is not None else " (metric absent; metrics: %s)"
                         % ", ".join(sorted(metrics))))
            for name, exprs in e.get("thresholds", {}).items():
                m = metrics.get(name)
                check(isinstance(m, dict) and isinstance(m.get("thresholds"), dict),
                      "metric %r has no thresholds map in the export" % name)
                for expr, failed in exprs.items():
                    got = m["thresholds"].get(expr)
                    check(got == failed, "%s threshold %r: expected failed=%r, got %r (map %r)"
                          % (name, expr, failed, got, m["thresholds"]))
            if "script_errors" in e:
                got = r.json.get("script_errors", 0)
                check(matches(got, e["script_errors"]), "script_errors: expected %s, got %r"
                      % (describe_expect(e["script_errors"]), got))
            errors = r.json.get("errors") or {}
            for sub, want in e.get("errors", {}).items():
                got = sum(v for k, v in errors.items() if sub in k)
                check(matches(got, want), "errors %r: expected %s, got %r (errors %r)"
                      % (sub, describe_expect(want), got, errors))
            if "errors_total" in e:
                got = sum(errors.values())
                check(matches(got, e["errors_total"]), "errors total: expected %s, got %r (%r)"
                      % (describe_expect(e["errors_total"]), got, errors))

        server_fields = (("connections", lambda entries: len({x.get("connection")
                                                               for x in entries})),
                         ("max_in_flight", lambda entries: max([x.get("in_flight", 0)
                                                                for x in entries] or [0])),
                         ("max_in_flight_per_host",
                          lambda entries: max([x.get("in_flight_host", 0)
                                               for x in entries] or [0])))
        for field, measure in server_fields:
            if field not in e:
                continue
            check(log is not None, "%s needs the fault server" % field)
            got = measure(log)
            check(matches(got, e[field]), "%s: expected %s, got %r; logged:\n%s"
                  % (field, describe_expect(e[field]), got, summarize_requests(log)))

        if "requests" in e or "requests_total" in e:
            check(log is not None, "request assertions need the fault server")
            if "requests_total" in e:
                check(matches(len(log), e["requests_total"]),
                      "requests logged: expected %s, got %d\n%s"
                      % (describe_expect(e["requests_total"]), len(log), summarize_requests(log)))
            for m in e.get("requests", []):
                n = sum(1 for entry in log if request_matches(entry, m))
                want = m.get("count", {">=": 1})
                check(matches(n, want), "requests matching %s: expected %s, got %d; logged:\n%s"
                      % (json.dumps(m, sort_keys=True), describe_expect(want), n,
                         summarize_requests(log)))


def describe_expect(want):
    if want is True:
        return "present"
    if want is False:
        return "absent"
    if isinstance(want, dict):
        return " and ".join("%s %r" % (k, v) for k, v in want.items())
    return "== %r" % (want,)


def main():
    default_bin = os.environ.get("STAMPEDE") or os.path.join(REPO, "build", "src", "cli",
                                                             "stampede")
    ap = argparse.ArgumentParser(description="stampede Lua script tests")
    ap.add_argument("--stampede", default=default_bin, help="path to the stampede binary")
    ap.add_argument("-k", dest="filter", default=None, help="run cases whose name contains this")
    ap.add_argument("--list", action="store_true", help="list case names and exit")
    ap.add_argument("--keep-tmp", action="store_true", help="keep per-case temp dirs")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="print every run's output (and the fault server's log on failure)")
    args = ap.parse_args()

    cases = [c for c in discover() if not args.filter or args.filter in c.name]
    if args.list:
        for c in cases:
            print(c.name)
        return 0
    binary = os.path.abspath(args.stampede)
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        print("FAIL setup: stampede binary not found or not executable: %s" % binary)
        print("0 passed, 1 failed")
        return 1
    if not cases:
        print("FAIL setup: no case matches -k %r" % args.filter)
        print("0 passed, 1 failed")
        return 1

    return cli.run_cases(Runner(binary, args.keep_tmp, args.verbose), cases, lambda c: c.name)

if __name__ == "__main__":
    sys.exit(main())
