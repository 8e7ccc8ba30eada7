#!/usr/bin/env python3
"""stampede's /metrics scraped by a REAL Prometheus (python3 stdlib + node).

    python3 tests/e2e/prometheus_e2e.py --stampede build/src/cli/stampede
        [--prometheus /usr/bin/prometheus] [--promtool /usr/bin/promtool] [--keep-tmp]

Everything runs on 127.0.0.1 with ports found free, in a temp directory:
  - nginx (tests/support/nginx_conf.py) is the target of the load;
  - tests/support/otlp_sink.js receives stampede's spans over OTLP/HTTP;
  - Prometheus (Debian 12's 2.42) scrapes `stampede run --prometheus
    127.0.0.1:PORT` every second with exemplar storage on, so it negotiates
    OpenMetrics (exemplars) rather than the text format;
  - stampede runs 5 VUs for 8 s against nginx, exports spans, and keeps
    /metrics up for 3 s after the run (--linger) for a final scrape.
Every wait polls a readiness condition with a deadline; there are no fixed
sleeps.

Checks:
  - promtool check metrics passes on a text-format scrape taken mid-run, and
    an OpenMetrics scrape taken mid-run ends with # EOF;
  - Prometheus scraped the target without error (it parsed our OpenMetrics);
  - at the last scrape, sum(stampede_http_reqs_total) and
    sum(stampede_http_req_duration_seconds_count) equal the summary's
    http_reqs count exactly;
  - histogram_quantile(0.95, sum by (le) (stampede_http_req_duration_seconds_bucket))
    at the last scrape is within 21 % of the summary's p(95). Why 21 %: the
    classic buckets are 2^(1/4) ≈ 1.189 wide, and histogram_quantile
    interpolates linearly inside the bucket that holds the quantile, so its
    answer lies in the same bucket (a, b] as the true p95: at most
    (b - a) / a ≈ 18.9 % away. Our bucket counts come from the exponential
    histogram (scale >= 6 here: buckets <= 1.09 % wide); a value within one
    exponential bucket of a bound can be counted on the other side of it,
    which can move the quantile into the neighbouring classic bucket only
    when the true p95 is itself within ~1.1 % of that bound: +1.1 %. The
    summary's p(95) is itself an estimate from the same exponential
    histogram, within 0.55 %. 18.9 + 1.1 + 0.55 < 21. (When the p95 is in
    the first bucket, below 0.2441 ms, Prometheus interpolates from 0 and
    only "at most the second bound" is checked.)
  - /api/v1/query_exemplars returns exemplars for the latency histogram, and
    every exemplar's trace id (and span id) is one of the CLIENT spans the
    sink received from stampede.

Prints PASS/FAIL per check and exactly `N passed, M failed` last; exits
non-zero on any failure (a missing prerequisite is a failure with the fix).
"""

import argparse
import http.client
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SUPPORT = os.path.join(REPO, "tests", "support")
sys.dont_write_bytecode = True
sys.path.insert(0, SUPPORT)

import nginx_conf  # noqa: E402

VUS = 5
DURATION_S = 8
LINGER_S = 3
READY_TIMEOUT = 60      # seconds: Prometheus, the sink, /metrics answering
RUN_TIMEOUT = 90        # seconds: the whole stampede run
P95_TOLERANCE = 0.21    # see the module docstring
FIRST_LE = 0.0002441    # the first classic bound, seconds
SECOND_LE = 0.0002903   # and the second


def _pdeathsig():
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def wait_for(what, fn, timeout, proc=None):
    """Polls fn() until it returns a truthy value; fails after `timeout`
    seconds or when `proc` exits."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    last_err = None
    while time.monotonic() < deadline:
        try:
            v = fn()
            if v:
                return v
        except (OSError, http.client.HTTPException, ValueError) as e:
            last_err = e
        if proc is not None and proc.poll() is not None:
            raise Failure("%s: the process exited (code %s) while waiting" % (what, proc.returncode))
        time.sleep(delay)  # a poll interval, not a wait for something to happen
        delay = min(delay * 2, 0.25)
    raise Failure("%s: not within %ss (last error: %r)" % (what, timeout, last_err))


def http_get(port, path, headers=None, timeout=5):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read().decode("utf-8")
    finally:
        c.close()


class Env:
    """Processes and files of one run; stop() ends them all."""

    def __init__(self, keep):
        self.keep = keep
        self.tmp = tempfile.mkdtemp(prefix="stampede-prom-e2e-")
        self.procs = []
        self.nginx = None

    def path(self, name):
        return os.path.join(self.tmp, name)

    def spawn(self, name, argv, env=None, stdout=None):
        out = stdout if stdout is not None else open(self.path(name + ".out"), "wb")
        err = open(self.path(name + ".err"), "wb")
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                             preexec_fn=_pdeathsig, cwd=self.tmp)
        p.e2e_name = name
        self.procs.append(p)
        return p

    def log_tail(self, name, n=3000):
        out = []
        for ext in (".out", ".err"):
            try:
                with open(self.path(name + ext), "rb") as f:
                    data = f.read().decode("utf-8", "replace")
                if data.strip():
                    out.append("--- %s%s ---\n%s" % (name, ext, data[-n:]))
            except OSError:
                pass
        return "\n".join(out)

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=10)
            if p.stdout:
                p.stdout.close()
        if self.nginx:
            self.nginx.stop()
        if self.keep:
            print("kept temp dir: %s" % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def start_sink(env):
    if not os.path.isdir(os.path.join(SUPPORT, "node_modules")):
        subprocess.run(["npm", "ci", "--prefix", SUPPORT, "--no-audit", "--no-fund"],
                       check=True, timeout=600, stdout=subprocess.DEVNULL)
    spans = env.path("spans.jsonl")
    p = env.spawn("sink", ["node", os.path.join(SUPPORT, "otlp_sink.js"), "--out", spans,
                           "--metrics-out", env.path("metric-points.jsonl"),
                           "--max-seconds", "300"], stdout=subprocess.PIPE)
    line = p.stdout.readline().decode()  # the readiness line (or "" if it died)
    words = line.split()
    check(line.startswith("listening") and len(words) >= 5,
          "the OTLP sink did not start: %r\n%s" % (line, env.log_tail("sink")))
    return int(words[2]), spans


def start_prometheus(env, binary, target_port):
    web_port = nginx_conf.free_port()
    config = env.path("prometheus.yml")
    with open(config, "w") as f:
        f.write("""# generated by tests/e2e/prometheus_e2e.py
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: stampede
    scrape_interval: 1s
    scrape_timeout: 1s
    static_configs:
      - targets: ['127.0.0.1:%d']
""" % target_port)
    p = env.spawn("prometheus", [
        binary, "--config.file=" + config, "--storage.tsdb.path=" + env.path("data"),
        "--web.listen-address=127.0.0.1:%d" % web_port, "--enable-feature=exemplar-storage",
        "--log.level=warn"])
    wait_for("Prometheus /-/ready", lambda: http_get(web_port, "/-/ready")[0] == 200,
             READY_TIMEOUT, proc=p)
    return web_port


def prom_api(port, path, **params):
    status, _, body = http_get(port, path + "?" + urllib.parse.urlencode(params), timeout=10)
    doc = json.loads(body)
    check(status == 200 and doc.get("status") == "success",
          "Prometheus %s %r: HTTP %s %s" % (path, params, status, body[:500]))
    return doc["data"]


def scalar_of(data, what):
    """The single value of an instant vector result."""
    result = data["result"]
    check(len(result) == 1, "%s: expected one series, got %r" % (what, result))
    return float(result[0]["value"][1])


def linger_flag(stampede):
    p = subprocess.run([stampede, "run", "--help"], capture_output=True, text=True, timeout=30)
    text = p.stdout + p.stderr
    for flag in ("--otel-linger", "--linger"):
        if flag in text:
            return flag
    raise Failure("`stampede run --help` lists neither --otel-linger nor --linger")


def run(args):
    results = {"passed": 0, "failed": 0}

    def record(name, fn):
        try:
            fn()
        except Failure as e:
            results["failed"] += 1
            print("FAIL %s: %s" % (name, e))
            return False
        results["passed"] += 1
        print("PASS %s" % name)
        return True

    stampede = os.path.abspath(args.stampede)
    missing = []
    if not (os.path.isfile(stampede) and os.access(stampede, os.X_OK)):
        missing.append("stampede binary %s (build it: cmake --build build --target stampede)" % stampede)
    for tool, path in (("prometheus", args.prometheus), ("promtool", args.promtool)):
        if not (path and os.access(path, os.X_OK)):
            missing.append("%s at %s (apt-get install prometheus)" % (tool, path))
    for tool in ("node", "nginx"):
        if not (shutil.which(tool) or (tool == "nginx" and os.path.exists(nginx_conf.NGINX_BIN))):
            missing.append(tool)
    if missing:
        print("FAIL setup: missing " + "; ".join(missing))
        print("0 passed, 1 failed")
        return 1

    env = Env(args.keep_tmp)
    try:
        steps(args, env, record, stampede)
    except Failure as e:
        results["failed"] += 1
        print("FAIL setup: %s" % e)
    finally:
        if results["failed"]:
            for name in ("stampede", "prometheus"):
                tail = env.log_tail(name, 1500)
                if tail:
                    print(tail)
        env.stop()
    return finish(results)


def steps(args, env, record, stampede):
    """The checks in order; returns early when a later check cannot run."""
    state = {}
    if True:
        def setup():
            env.nginx = nginx_conf.Nginx(workers=1, https=False).start()
            state["sink_port"], state["spans_path"] = start_sink(env)
            state["metrics_port"] = nginx_conf.free_port()
            state["prom_port"] = start_prometheus(env, args.prometheus, state["metrics_port"])
            state["linger"] = linger_flag(stampede)
        if not record("setup_nginx_sink_prometheus", setup):
            return

        summary_path = env.path("summary.json")
        child_env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        child_env.update({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:%d" % state["sink_port"],
                          "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                          "OTEL_BSP_SCHEDULE_DELAY": "200"})
        cmd = [stampede, "run", "--url", env.nginx.url, "--vus", str(VUS),
               "--duration", "%ds" % DURATION_S,
               "--prometheus", "127.0.0.1:%d" % state["metrics_port"],
               state["linger"], "%ds" % LINGER_S, "--summary-export", summary_path, "--otel"]
        proc = env.spawn("stampede", cmd, env=child_env)
        print("running: %s" % " ".join(cmd))
        mport = state["metrics_port"]

        def mid_run_text_scrape():
            def has_requests():
                status, headers, body = http_get(mport, "/metrics")
                return body if status == 200 and "\nstampede_http_reqs_total{" in body else None
            body = wait_for("/metrics with requests", has_requests, READY_TIMEOUT, proc=proc)
            status, headers, _ = http_get(mport, "/metrics")
            check(headers.get("content-type") == "text/plain; version=0.0.4; charset=utf-8",
                  "text scrape content type: %r" % headers.get("content-type"))
            with open(env.path("mid-run.txt"), "w") as f:
                f.write(body)
            p = subprocess.run([args.promtool, "check", "metrics"], input=body, text=True,
                               capture_output=True, timeout=60)
            check(p.returncode == 0, "promtool check metrics failed (exit %d):\n%s%s"
                  % (p.returncode, p.stdout, p.stderr))
            check("stampede_http_req_duration_seconds_bucket{" in body, "no latency histogram")
            check("stampede_run_info{" in body, "no stampede_run_info")
        record("promtool_check_metrics_mid_run", mid_run_text_scrape)

        def mid_run_openmetrics_scrape():
            accept = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
                      "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
            status, headers, body = http_get(mport, "/metrics", {"Accept": accept})
            check(status == 200, "OpenMetrics scrape: HTTP %s" % status)
            check(headers.get("content-type", "").startswith("application/openmetrics-text; version=1.0.0"),
                  "OpenMetrics content type: %r" % headers.get("content-type"))
            check(body.endswith("# EOF\n"), "OpenMetrics exposition does not end with # EOF")
            check("# TYPE stampede_run info\n" in body, "no info-typed stampede_run")
        record("openmetrics_scrape_mid_run", mid_run_openmetrics_scrape)

        pport = state["prom_port"]

        def prometheus_scrapes_cleanly():
            def target_up():
                data = prom_api(pport, "/api/v1/targets")
                t = [a for a in data["activeTargets"] if a["labels"].get("job") == "stampede"]
                return t[0] if t and t[0]["health"] == "up" else None
            t = wait_for("Prometheus target up", target_up, READY_TIMEOUT, proc=proc)
            check(t.get("lastError", "") == "", "scrape error: %r" % t.get("lastError"))
        record("prometheus_scrapes_without_error", prometheus_scrapes_cleanly)

        def run_finishes():
            try:
                proc.wait(timeout=RUN_TIMEOUT)
            except subprocess.TimeoutExpired:
                raise Failure("stampede did not finish within %ss" % RUN_TIMEOUT)
            check(proc.returncode == 0, "stampede exited %s\n%s" % (proc.returncode,
                                                                 env.log_tail("stampede")))
            with open(summary_path, encoding="utf-8") as f:
                state["summary"] = json.load(f)
        if not record("stampede_run_exits_0", run_finishes):
            return

        summary = state["summary"]["metrics"]
        http_reqs = summary["http_reqs"]["count"]

        def last_scrape_time():
            # The raw samples of the last minute; the newest is the last scrape
            # (after the run, Prometheus marks the series stale).
            data = prom_api(pport, "/api/v1/query", query="stampede_http_reqs_total[5m]")
            times = [float(v[0]) for s in data["result"] for v in s["values"]]
            check(times, "Prometheus has no stampede_http_reqs_total samples")
            state["t"] = max(times)
        if not record("prometheus_has_samples", last_scrape_time):
            return
        t = state["t"]

        def request_counter_matches():
            got = scalar_of(prom_api(pport, "/api/v1/query", query="sum(stampede_http_reqs_total)",
                                     time=t), "sum(stampede_http_reqs_total)")
            check(got == http_reqs, "sum(stampede_http_reqs_total) at the last scrape = %r, summary "
                  "http_reqs = %r (was the final snapshot scraped during the linger?)"
                  % (got, http_reqs))
            count = scalar_of(prom_api(pport, "/api/v1/query",
                                       query="sum(stampede_http_req_duration_seconds_count)", time=t),
                              "histogram count")
            check(count == http_reqs, "sum(..._count) = %r, http_reqs = %r" % (count, http_reqs))
            inf = scalar_of(prom_api(pport, "/api/v1/query",
                                     query='sum(stampede_http_req_duration_seconds_bucket{le="+Inf"})',
                                     time=t), "+Inf bucket")
            check(inf == http_reqs, "+Inf bucket %r != http_reqs %r" % (inf, http_reqs))
        record("request_counter_equals_summary", request_counter_matches)

        def p95_within_bucket_error():
            d = summary["http_req_duration"]
            want_s = float(d["p(95)"]) / 1000.0  # the summary export is in ms, as k6's
            q = "histogram_quantile(0.95, sum by (le) (stampede_http_req_duration_seconds_bucket))"
            got = scalar_of(prom_api(pport, "/api/v1/query", query=q, time=t), q)
            check(not math.isnan(got), "histogram_quantile returned NaN")
            if want_s <= FIRST_LE * 1.011:
                # In the first bucket, which Prometheus interpolates from 0.
                check(got <= SECOND_LE,
                      "p95 %.6fs is in the first bucket but Prometheus says %.6fs" % (want_s, got))
            else:
                rel = abs(got - want_s) / want_s
                check(rel <= P95_TOLERANCE, "Prometheus p95 %.6fs vs summary p(95) %.6fs: %.1f%% "
                      "> %.0f%%" % (got, want_s, rel * 100, P95_TOLERANCE * 100))
            print("  p95: summary %.6fs, Prometheus %.6fs" % (want_s, got))
        record("p95_within_classic_bucket_error", p95_within_bucket_error)

        def exemplars_are_exported_traces():
            data = prom_api(pport, "/api/v1/query_exemplars",
                            query="stampede_http_req_duration_seconds_bucket",
                            start=t - 300, end=t + 1)
            ex = [e for s in data for e in s.get("exemplars", [])]
            check(ex, "Prometheus stored no exemplars for stampede_http_req_duration_seconds_bucket")
            spans = []
            with open(state["spans_path"], encoding="utf-8") as f:
                spans = [json.loads(line) for line in f if line.strip()]
            client = {(s["trace_id"], s["span_id"]) for s in spans
                      if s["kind"] == 3 and s["resource"].get("service.name") == "stampede"}
            check(client, "the sink received no CLIENT spans from stampede")
            traces = {tid for tid, _ in client}
            for e in ex:
                labels = e["labels"]
                check(len(labels.get("trace_id", "")) == 32 and len(labels.get("span_id", "")) == 16,
                      "exemplar labels: %r" % labels)
                check(labels["trace_id"] in traces,
                      "exemplar trace id %s is not among the %d CLIENT spans' traces"
                      % (labels["trace_id"], len(client)))
                check((labels["trace_id"], labels["span_id"]) in client,
                      "exemplar span %s/%s is not a CLIENT span" % (labels["trace_id"], labels["span_id"]))
            print("  %d exemplars, all among %d CLIENT spans" % (len(ex), len(client)))
        record("exemplars_name_exported_spans", exemplars_are_exported_traces)


def finish(results):
    print("%d passed, %d failed" % (results["passed"], results["failed"]))
    return 0 if results["failed"] == 0 else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default_bin = os.environ.get("STAMPEDE") or os.path.join(REPO, "build", "src", "cli", "stampede")
    ap.add_argument("--stampede", default=default_bin)
    ap.add_argument("--prometheus", default=shutil.which("prometheus") or "/usr/bin/prometheus")
    ap.add_argument("--promtool", default=shutil.which("promtool") or "/usr/bin/promtool")
    ap.add_argument("--keep-tmp", action="store_true")
    args = ap.parse_args()

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    try:
        return run(args)
    except KeyboardInterrupt:
        print("interrupted")
        print("0 passed, 1 failed")
        return 1


if __name__ == "__main__":
    sys.exit(main())
