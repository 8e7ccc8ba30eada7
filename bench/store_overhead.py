#!/usr/bin/env python3
"""Cost of the run store (issue 8): stampede's requests per generator
CPU-second with the store on, against the same run with --no-store, side by
side in one invocation; and its peak memory over a run twice as long.

Goal: with the store on (default) and 100 % of spans kept, throughput per
generator CPU-second within 5 % of --no-store; RSS flat as the run grows.

Setup (as bench/vs_wrk.sh): nginx (1 worker) pinned to CPU 0, stampede pinned
to CPU 1 (its workers AND its store and exporter threads: their CPU counts
against it), 50 VUs, keep-alive, the 612-byte page. Variants, alternating
within each round so that a drift of the machine does not favour one:

  no store           --no-store (no spans at all)
  store (default)    the default: spans only for the store, through the
                     worker-side store gate (RequestSpans::set_store_gate)
  store, all kept    --store-spans-per-second 1000000: every request's span
                     is recorded, sent to the store thread, decoded and
                     considered; the store keeps up to 1 M a second
  otel               --otel --no-store, spans to tests/support/otlp_sink.js
                     (100 % sampled; the sink on CPU 1 too, costing stampede
                     wall time, not CPU time)
  otel + store       --otel with the store: what the store adds when every
                     span is exported anyway (the store gets every batch)
(No wrk here: the goal is a ratio to --no-store; bench/vs_wrk.sh has the peer.)

Memory: the heaviest variant (store, all kept) for --memory-duration and twice
that: peak RSS (ru_maxrss) of each.

    python3 bench/store_overhead.py [--duration 10s] [--runs 3] [--stampede BIN]

Prints markdown for bench/RESULTS.md on stdout; progress on stderr. Bounded:
every run is killed after its duration + 60 s.
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

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "support"))
import nginx_conf  # noqa: E402


def measure(cmd, env, limit, cwd):
    """Runs cmd; returns (user+sys CPU seconds, max RSS in MiB, exit code)."""
    p = subprocess.Popen(["timeout", "-k", "5", str(limit)] + cmd, env=env, cwd=cwd,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    return ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024.0, os.waitstatus_to_exitcode(status)


def seconds_of(text):
    m = re.fullmatch(r"(\d+)s", text)
    if not m:
        raise SystemExit("durations are whole seconds, e.g. 10s; got %r" % text)
    return int(m.group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stampede", default=os.path.join(REPO, "build", "src", "cli", "stampede"))
    ap.add_argument("--duration", default="10s")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--vus", type=int, default=50)
    ap.add_argument("--memory-duration", default="30s")
    args = ap.parse_args()
    dur = seconds_of(args.duration)
    mem_dur = seconds_of(args.memory_duration)
    if not (1 <= args.runs <= 20 and 3 <= dur <= 600 and 3 <= mem_dur <= 1800):
        raise SystemExit("--runs 1..20, --duration 3s..600s, --memory-duration 3s..1800s")
    if not os.access(args.stampede, os.X_OK):
        raise SystemExit("stampede binary not found: %s" % args.stampede)
    support = os.path.join(REPO, "tests", "support")
    if not os.path.isdir(os.path.join(support, "node_modules")):
        subprocess.run(["npm", "ci", "--prefix", support], check=True, stdout=subprocess.DEVNULL)

    tmp = tempfile.mkdtemp(prefix="stampede-store-bench-")
    ngx = nginx_conf.Nginx(workers=1, https=False, wrapper=["taskset", "-c", "0"]).start()
    sink = subprocess.Popen(["taskset", "-c", "1", "node", os.path.join(support, "otlp_sink.js"),
                             "--max-seconds", "3600"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    rows, mem = [], []
    try:
        line = sink.stdout.readline().decode().split()
        otel_env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:%s" % line[2],
                    "OTEL_TRACES_SAMPLER": "always_on"}
        variants = [
            ("no store", ["--no-store"], {}),
            ("store (default)", [], {}),
            ("store, all kept", ["--store-spans-per-second", "1000000"], {}),
            ("otel", ["--otel", "--no-store"], otel_env),
            ("otel + store", ["--otel", "--store-spans-per-second", "1000000"], otel_env),
        ]
        for run in range(1, args.runs + 1):
            order = variants if run % 2 else list(reversed(variants))
            for name, flags, extra in order:
                out = os.path.join(tmp, "s.json")
                store = os.path.join(tmp, "run-%d-%d.db" % (run, len(rows)))
                if "--no-store" not in flags:
                    flags = flags + ["--out", "sqlite=" + store]
                cmd = ["taskset", "-c", "1", args.stampede, "run", "--url", ngx.url,
                       "--vus", str(args.vus), "--threads", "1", "--duration", args.duration,
                       "--quiet", "--summary-export", out] + flags
                cpu, rss, rc = measure(cmd, dict(base_env, **extra), dur + 60, tmp)
                j = json.load(open(out))
                reqs = j["metrics"]["http_reqs"]["count"]
                kept = None
                if os.path.exists(store):
                    con = subprocess.run(["sqlite3", store, "SELECT COUNT(*) FROM span"],
                                         capture_output=True, text=True)
                    kept = int(con.stdout.strip() or 0)
                    os.remove(store)
                rows.append(dict(run=run, name=name, rc=rc, reqs=reqs, cpu=cpu, rss=rss,
                                 per_cpu=reqs / cpu, kept=kept))
                print("run %d %-16s %7.0f req/CPU-s  rss %5.1f MiB  kept %s" % (
                    run, name, reqs / cpu, rss, kept), file=sys.stderr)
        for label, d in (("%ds" % mem_dur, mem_dur), ("%ds" % (2 * mem_dur), 2 * mem_dur)):
            store = os.path.join(tmp, "mem-%d.db" % d)
            cmd = ["taskset", "-c", "1", args.stampede, "run", "--url", ngx.url, "--vus",
                   str(args.vus), "--threads", "1", "--duration", "%ds" % d, "--quiet",
                   "--store-spans-per-second", "1000000", "--out", "sqlite=" + store]
            cpu, rss, rc = measure(cmd, base_env, d + 120, tmp)
            size = os.path.getsize(store) / 1e6
            mem.append((label, rss, size, rc))
            print("memory %s: rss %.1f MiB, store %.0f MB" % (label, rss, size), file=sys.stderr)
            os.remove(store)
    finally:
        sink.terminate()
        sink.wait(timeout=10)
        ngx.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    print("| run | variant | exit | requests | CPU s | req per CPU-s | peak RSS MiB | spans in store |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print("| %d | %s | %d | %d | %.2f | %.0f | %.1f | %s |" % (
            r["run"], r["name"], r["rc"], r["reqs"], r["cpu"], r["per_cpu"], r["rss"],
            "—" if r["kept"] is None else r["kept"]))
    names = [v[0] for v in variants]
    med = {n: statistics.median(r["per_cpu"] for r in rows if r["name"] == n) for n in names}
    ratios = {n: [a["per_cpu"] / b["per_cpu"] for a, b in zip(
        [r for r in rows if r["name"] == n], [r for r in rows if r["name"] == ref])]
        for n, ref in (("store (default)", "no store"), ("store, all kept", "no store"),
                       ("otel + store", "otel"))}
    print()
    print("| variant | median req per CPU-s | vs | ratio of medians | per-run ratios |")
    print("|---|---:|---|---:|---|")
    for n, ref in (("no store", None), ("store (default)", "no store"),
                   ("store, all kept", "no store"), ("otel", None), ("otel + store", "otel")):
        if ref is None:
            print("| %s | %.0f | | | |" % (n, med[n]))
        else:
            rs = ratios[n]
            print("| %s | %.0f | %s | **%.3f** | %s |" % (
                n, med[n], ref, med[n] / med[ref], ", ".join("%.3f" % x for x in rs)))
    print()
    print("| run length (store, all kept) | peak RSS MiB | store file MB | exit |")
    print("|---|---:|---:|---:|")
    for label, rss, size, rc in mem:
        print("| %s | %.1f | %.0f | %d |" % (label, rss, size, rc))


if __name__ == "__main__":
    main()
