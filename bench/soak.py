#!/usr/bin/env python3
"""Soak (issue 12): a long run at a steady rate with everything on — spans
and metrics over OTLP to the real sink, the run store, the dashboard with a
client on its event stream, Prometheus scraped — sampling stampede's RSS,
open file descriptors and store size every 10 s. k6 keeps its samples and
runs out of memory in long tests; stampede must not grow after its warm-up.

    python3 bench/soak.py [--minutes 30] [--rate 300] [--stampede BIN]
                          [--max-growth-mib 16] [--csv FILE]

Verdict: RSS growth = mean of the last three samples − mean of the first
three after the warm-up (the first quarter, at least 90 s: the store
remembers kept traces for 60 s after their second's 15 s window); fails (exit 1)
when it exceeds --max-growth-mib, when descriptors other than sockets grow by
more than one (median of the last third against the first third after the
warm-up), or when sockets exceed one per VU (maxVUs) plus 16: connections
come and go with the VUs in use, so sockets are bounded, not flat. Why these bounds: what legitimately grows after the warm-up is
bounded by design and small — the dashboard's history for late joiners
(one tick a second, kept for an hour: ~2 KB a tick) and the slowest requests
per second (ten per second, for an hour) — a few MB in 30 minutes; SQLite's
page cache, the span queues, the histograms (4 096 buckets at most per
series, a fixed set of series) and the connection pools are full by the
end of the warm-up. The bound is that plus glibc's arena slack; a leak of
one small allocation per request (300/s) would exceed it within minutes.
CI runs a 2.5-minute version (CTest `soak`: 150/s, baseline at 90 s,
--max-growth-mib 4: after the warm-up nothing is meant to grow at all).

Prints the samples and the verdict (markdown for bench/RESULTS.md) on
stdout. Loopback only; bounded: the run is killed after its duration + 120 s.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "support"))
import nginx_conf  # noqa: E402

MAX_VUS = 200

SCRIPT = r"""
local http = require("stampede.http")
options = {
  scenarios = {
    soak = { executor = "constant-arrival-rate", rate = RATE, timeUnit = "1s",
             duration = "DURATION", preAllocatedVUs = 60, maxVUs = MAX_VUS },
  },
  thresholds = { http_req_failed = { "rate<0.01" } },
}
function default()
  local res = http.get(ENV.URL .. "?soak=" .. math.random(50))
  check(res, { ["status 200"] = function(r) return r.status == 200 end })
end
"""


def status_of(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def sample(pid, store):
    """(RSS KiB, descriptors other than sockets, sockets, store bytes)."""
    s = status_of(pid)
    rss_kb = int(s["VmRSS"].split()[0])
    fds = sockets = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if target.startswith("socket:"):
            sockets += 1
        else:
            fds += 1
    size = sum(os.path.getsize(p) for p in (store, store + "-wal") if os.path.exists(p))
    return rss_kb, fds, sockets, size


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--rate", type=int, default=300, help="iterations per second")
    ap.add_argument("--stampede", default=os.path.join(REPO, "build", "src", "cli", "stampede"))
    ap.add_argument("--max-growth-mib", type=float, default=16)
    ap.add_argument("--interval", type=float, default=10, help="seconds between samples")
    ap.add_argument("--warmup", type=float, default=None,
                    help="seconds before the baseline (default: a quarter, at least 90)")
    ap.add_argument("--csv", help="also write the samples here")
    ap.add_argument("--without", action="append", default=[], choices=["ui", "store", "otel"],
                    help="leave one part off (to attribute a growth)")
    args = ap.parse_args()

    seconds = int(args.minutes * 60)
    tmp = tempfile.mkdtemp(prefix="stampede-soak-")
    procs = []
    ngx = nginx_conf.Nginx(https=False).start()
    try:
        sink = subprocess.Popen(["node", os.path.join(REPO, "tests", "support", "otlp_sink.js"),
                                 "--out", "/dev/null", "--metrics-out", "/dev/null",
                                 "--max-seconds", str(seconds + 300)],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL)
        procs.append(sink)
        words = sink.stdout.readline().decode().split()
        if not words or words[0] != "listening":
            raise SystemExit("soak: the OTLP sink did not start")
        sink_port = int(words[2])
        script = os.path.join(tmp, "soak.lua")
        with open(script, "w") as f:
            f.write(SCRIPT.replace("RATE", str(args.rate)).replace("DURATION", "%ds" % seconds)
                    .replace("MAX_VUS", str(MAX_VUS)))
        store = os.path.join(tmp, "soak.db")
        export = os.path.join(tmp, "summary.json")
        err_path = os.path.join(tmp, "stderr.txt")
        env = dict(os.environ, OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:%d" % sink_port)
        cmd = [args.stampede, "run", script, "-e", "URL=" + ngx.url, "-q",
               "--prometheus", "127.0.0.1:0", "--summary-export", export]
        cmd += [] if "otel" in args.without else ["--otel"]
        cmd += ["--no-store"] if "store" in args.without else ["--out", "sqlite=" + store]
        cmd += [] if "ui" in args.without else ["--ui=127.0.0.1:0"]
        err = open(err_path, "w+b")
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=err, env=env)
        procs.append(p)

        def stderr():
            with open(err_path, errors="replace") as f:
                return f.read()

        deadline = time.monotonic() + 60
        ui = prom = None
        while time.monotonic() < deadline and (ui is None or prom is None):
            text = stderr()
            m = re.search(r"dashboard: (http://\S+/)", text)
            ui = m.group(1) if m else ("" if "ui" in args.without else None)
            m = re.search(r"serving Prometheus metrics at (http://\S+/metrics)", text)
            prom = m.group(1) if m else None
            if p.poll() is not None:
                raise SystemExit("soak: stampede exited early:\n" + text)
            time.sleep(0.1)
        if ui is None or prom is None:
            raise SystemExit("soak: no dashboard / Prometheus line within 60 s:\n" + stderr())

        events = [0]

        def follow_stream():  # a dashboard client for the whole run
            try:
                with urllib.request.urlopen(ui + "api/stream", timeout=seconds + 120) as r:
                    for line in r:
                        if line.startswith(b"event:"):
                            events[0] += 1
            except OSError:
                pass
        if ui:
            threading.Thread(target=follow_stream, daemon=True).start()

        samples = []  # (t, rss_kb, fds, sockets, store_bytes)
        scrapes = 0
        start = time.monotonic()
        next_at = start
        hard_stop = start + seconds + 120
        while p.poll() is None and time.monotonic() < hard_stop:
            now = time.monotonic()
            # Samples while the load runs (not the end of the run's work).
            if now >= next_at and now - start <= seconds - 1:
                try:
                    samples.append((now - start,) + sample(p.pid, store))
                    with urllib.request.urlopen(prom, timeout=10) as r:
                        r.read()
                    scrapes += 1
                except (OSError, KeyError, ValueError):
                    pass  # the process is ending
                next_at += args.interval
                print("  t=%5.0f s  RSS %6.1f MiB  fds %3d  sockets %3d  store %6.1f MiB" % (
                    samples[-1][0], samples[-1][1] / 1024, samples[-1][2], samples[-1][3],
                    samples[-1][4] / 2**20), file=sys.stderr, flush=True)
            time.sleep(0.2)
        if p.poll() is None:
            p.kill()
            raise SystemExit("soak: stampede did not end within its duration + 120 s")
        rc = p.wait()
        with open(export) as f:
            summary = json.load(f)
    finally:
        for q in procs:
            if q.poll() is None:
                q.terminate()
                try:
                    q.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    q.kill()
        ngx.stop()

    warm = args.warmup if args.warmup is not None else max(90.0, seconds / 4)
    after = [s for s in samples if s[0] >= warm]
    if len(after) < 4:
        raise SystemExit("soak: too few samples after the warm-up (%d)" % len(after))
    base = statistics.mean(s[1] for s in after[:3]) / 1024
    last = statistics.mean(s[1] for s in after[-3:]) / 1024
    growth = last - base
    # Sockets come and go with connections (one per VU in use, which an
    # arrival-rate executor raises when latency does; scrapes, the exporter,
    # the dashboard): bounded by the VUs, not flat. Every other descriptor
    # (files, the store, pipes, eventfds, epoll) must not grow at all.
    third = max(3, len(after) // 3)
    fd_growth = (statistics.median(s[2] for s in after[-third:]) -
                 statistics.median(s[2] for s in after[:third]))
    max_sockets = max(s[3] for s in samples)
    reqs = summary["metrics"]["http_reqs"]["count"]
    dropped = summary["metrics"].get("dropped_iterations", {}).get("count", 0)
    if args.csv:
        with open(args.csv, "w") as f:
            f.write("t_s,rss_kib,fds,sockets,store_bytes\n")
            for s in samples:
                f.write("%.0f,%d,%d,%d,%d\n" % s)
    print("| minutes | rate/s | requests | dropped | exit | RSS after warm-up (MiB) | "
          "RSS at the end (MiB) | growth (MiB) | peak RSS (MiB) | other fds after warm-up → end | "
          "max sockets | store (MiB) | dashboard events | scrapes |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|")
    print("| %g | %d | %d | %d | %d | %.1f | %.1f | %+.1f | %.1f | %d → %d | %d | %.0f | %d | %d |" % (
        args.minutes, args.rate, reqs, dropped, rc, base, last, growth,
        max(s[1] for s in samples) / 1024, after[0][2], after[-1][2], max_sockets,
        samples[-1][4] / 2**20, events[0], scrapes))
    print("\nRSS by minute (MiB): " + ", ".join(
        "%.0f" % (s[1] / 1024) for s in samples if int(s[0]) % 60 < args.interval))
    socket_bound = MAX_VUS + 16  # a connection per VU, plus the run's own
    ok = (rc == 0 and growth <= args.max_growth_mib and fd_growth <= 1 and
          max_sockets <= socket_bound and (events[0] > 0 or "ui" in args.without))
    print("\nverdict: %s (growth %+.1f MiB, bound %.0f MiB; other fds %+g, bound 1; "
          "sockets at most %d, bound %d; exit %d)" % (
              "PASS" if ok else "FAIL", growth, args.max_growth_mib, fd_growth, max_sockets,
              socket_bound, rc))
    shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
