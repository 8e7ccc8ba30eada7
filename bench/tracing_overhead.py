#!/usr/bin/env python3
"""Cost of tracing: stampede's throughput per generator CPU-second with spans
exported (100 % and 10 % head sampling) against the same run untraced.

Issue #4's goals: with 100 % sampling ≥ 0.6× the untraced requests per
generator CPU-second; with 10 % sampling ≥ 0.9×.

Setup (as bench/vs_wrk.sh): nginx (1 worker) pinned to CPU 0, stampede pinned
to CPU 1 (its workers AND its exporter thread: the telemetry's CPU is counted
against it), 50 VUs, keep-alive, the 612-byte page. Spans go over OTLP/HTTP
protobuf to tests/support/otlp_sink.js, pinned to CPU 1 with stampede (on
CPU 0 it would slow nginx in the traced runs only; on CPU 1 it costs stampede
wall time but not CPU time, which is what the ratio counts) in
without --out, so the sink only decodes and counts.

    python3 bench/tracing_overhead.py [--duration 10s] [--runs 2] [--stampede BIN]

Prints a markdown table for bench/RESULTS.md. Bounded: every run is killed
after its duration + 60 s.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "support"))
import nginx_conf  # noqa: E402


def measure(cmd, env, limit):
    """Runs cmd; returns (user+sys CPU seconds, exit code)."""
    p = subprocess.Popen(["timeout", "-k", "5", str(limit)] + cmd, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    p.stderr.close()
    return ru.ru_utime + ru.ru_stime, os.waitstatus_to_exitcode(status)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stampede", default=os.path.join(REPO, "build", "src", "cli", "stampede"))
    ap.add_argument("--duration", default="10s")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--vus", type=int, default=50)
    args = ap.parse_args()
    seconds = float(args.duration.rstrip("s"))
    support = os.path.join(REPO, "tests", "support")
    if not os.path.isdir(os.path.join(support, "node_modules")):
        subprocess.run(["npm", "ci", "--prefix", support], check=True, stdout=subprocess.DEVNULL)

    tmp = tempfile.mkdtemp(prefix="stampede-tracing-")
    ngx = nginx_conf.Nginx(workers=1, https=False, wrapper=["taskset", "-c", "0"]).start()
    sink = subprocess.Popen(["taskset", "-c", "1", "node", os.path.join(support, "otlp_sink.js"),
                             "--max-seconds", "900"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        line = sink.stdout.readline().decode().split()
        http_port = int(line[2])
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        variants = [
            ("untraced", [], {}),
            ("traced, 100 % sampled", ["--otel"], {"OTEL_TRACES_SAMPLER": "always_on"}),
            ("traced, 10 % sampled", ["--otel"],
             {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}),
        ]
        rows = []
        for run in range(1, args.runs + 1):
            for name, flags, extra in variants:
                out = os.path.join(tmp, "s.json")
                env = dict(base_env, OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:%d" % http_port,
                           **extra)
                cmd = ["taskset", "-c", "1", args.stampede, "run", "--url", ngx.url,
                       "--vus", str(args.vus), "--threads", "1", "--duration", args.duration,
                       "--quiet", "--summary-export", out] + flags
                cpu, rc = measure(cmd, env, int(seconds) + 60)
                j = json.load(open(out))
                reqs = j["metrics"]["http_reqs"]["count"]
                spans = j.get("spans", {})
                rows.append(dict(run=run, name=name, rc=rc, reqs=reqs, rps=j["metrics"]["http_reqs"]["rate"],
                                 cpu=cpu, per_cpu=reqs / cpu, exported=spans.get("exported", 0),
                                 dropped=spans.get("dropped", 0)))
                print("run %d %s: %.0f req/CPU-s" % (run, name, reqs / cpu), file=sys.stderr)
    finally:
        sink.terminate()
        sink.wait(timeout=10)
        ngx.stop()

    print("| run | variant | exit | requests | req/s | CPU s | req per CPU-s | spans exported | spans dropped |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print("| %d | %s | %d | %d | %.0f | %.2f | %.0f | %d | %d |" % (
            r["run"], r["name"], r["rc"], r["reqs"], r["rps"], r["cpu"], r["per_cpu"],
            r["exported"], r["dropped"]))
    med = {n: statistics.median(r["per_cpu"] for r in rows if r["name"] == n) for n, _, _ in variants}
    base = med["untraced"]
    print()
    print("| median | req per CPU-s | ratio to untraced | goal |")
    print("|---|---:|---:|---:|")
    goals = {"untraced": "", "traced, 100 % sampled": "≥ 0.6", "traced, 10 % sampled": "≥ 0.9"}
    for n, _, _ in variants:
        print("| %s | %.0f | **%.2f** | %s |" % (n, med[n], med[n] / base, goals[n]))


if __name__ == "__main__":
    main()
