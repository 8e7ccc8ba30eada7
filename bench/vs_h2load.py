#!/usr/bin/env python3
"""stampede vs h2load over HTTP/2 against the same nginx, same machine, same run.

    python3 bench/vs_h2load.py                       # defaults below
    RUNS=5 DURATION=10 CONNS=4 STREAMS=10 TLS=1 python3 bench/vs_h2load.py

nginx (worker_processes 1, the 612-byte index.html, h2c with prior knowledge,
or h2 over TLS with TLS=1) is pinned to CPU $NGINX_CPU, the generator to CPU
$GEN_CPU. Each round runs h2load (-c CONNS -m STREAMS -D DURATION, one
thread) and stampede (--url, CONNS x STREAMS VUs, --streams-per-connection
STREAMS, one thread, --no-store) one after the other. For each run: requests,
the generator's own user+sys CPU seconds (rusage of the child), requests per
generator CPU-second. Then the medians, ranges and the per-round ratio
stampede / h2load, as markdown for bench/RESULTS.md.

Env: RUNS (3), DURATION (seconds, 10), CONNS (4), STREAMS (10), TLS (0),
STAMPEDE (build/src/cli/stampede), EXTRA (more stampede arguments, e.g.
"--io io_uring"), NGINX_CPU (0), GEN_CPU (1). Bounded: each run is killed
after DURATION + 60 s.
"""

import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
import nginx_conf  # noqa: E402

RUNS = int(os.environ.get("RUNS", "3"))
DURATION = int(os.environ.get("DURATION", "10"))
CONNS = int(os.environ.get("CONNS", "4"))
STREAMS = int(os.environ.get("STREAMS", "10"))
TLS = os.environ.get("TLS", "0") == "1"
STAMPEDE = os.environ.get("STAMPEDE", os.path.join(ROOT, "build", "src", "cli", "stampede"))
EXTRA = os.environ.get("EXTRA", "").split()
NGINX_CPU = os.environ.get("NGINX_CPU", "0")
GEN_CPU = os.environ.get("GEN_CPU", "1")


def timed(cmd):
    """Runs cmd pinned to GEN_CPU; returns (stdout, cpu seconds of the child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(["taskset", "-c", GEN_CPU] + cmd, capture_output=True, text=True,
                       timeout=DURATION + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if p.returncode != 0:
        sys.exit("vs_h2load.py: %s failed (%d):\n%s%s" % (cmd[0], p.returncode, p.stdout[-2000:],
                                                          p.stderr[-2000:]))
    return p.stdout, cpu


def run_h2load(url):
    out, cpu = timed(["h2load", "-t", "1", "-c", str(CONNS), "-m", str(STREAMS),
                      "-D", str(DURATION), url])
    m = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded", out)
    if not m:
        sys.exit("vs_h2load.py: cannot read h2load's output:\n" + out[-2000:])
    done, ok = int(m.group(1)), int(m.group(2))
    if ok != done:
        sys.exit("vs_h2load.py: h2load had %d failed requests" % (done - ok))
    return ok, cpu


def run_stampede(url, cacert, tmp):
    export = os.path.join(tmp, "summary.json")
    cmd = [STAMPEDE, "run", "--url", url, "--threads", "1", "--vus", str(CONNS * STREAMS),
           "--streams-per-connection", str(STREAMS), "-d", "%ds" % DURATION, "--no-store",
           "--quiet", "--summary-export", export] + EXTRA
    cmd += ["--cacert", cacert] if TLS else ["--http2-prior-knowledge"]
    _, cpu = timed(cmd)
    with open(export) as f:
        m = json.load(f)["metrics"]
    failed = m["http_req_failed"].get("passes", 0)
    if failed:
        sys.exit("vs_h2load.py: stampede had %d failed requests" % failed)
    return int(m["http_reqs"]["count"]), cpu


def main():
    for tool in ("h2load", "taskset"):
        if subprocess.run(["which", tool], capture_output=True).returncode != 0:
            sys.exit("vs_h2load.py: %s not found (apt-get install nghttp2-client util-linux)"
                     % tool)
    if not os.access(STAMPEDE, os.X_OK):
        sys.exit("vs_h2load.py: stampede binary not found: %s" % STAMPEDE)
    rows = {"h2load": [], "stampede": []}
    ratios = []
    with nginx_conf.Nginx(workers=1, https=True, http2=True,
                          wrapper=["taskset", "-c", NGINX_CPU]) as ngx, \
            tempfile.TemporaryDirectory() as tmp:
        url = ngx.https_url if TLS else ngx.h2c_url
        for i in range(RUNS):
            n_h, cpu_h = run_h2load(url)
            n_s, cpu_s = run_stampede(url, ngx.cert_path, tmp)
            rows["h2load"].append((n_h, cpu_h, n_h / cpu_h))
            rows["stampede"].append((n_s, cpu_s, n_s / cpu_s))
            ratios.append((n_s / cpu_s) / (n_h / cpu_h))
            print("round %d: h2load %d req %.2f cpu-s %.0f req/cpu-s | stampede %d req %.2f "
                  "cpu-s %.0f req/cpu-s | ratio %.3f"
                  % (i + 1, n_h, cpu_h, n_h / cpu_h, n_s, cpu_s, n_s / cpu_s, ratios[-1]),
                  flush=True)
    print()
    print("%s, %d connections x %d streams, %d s, %d rounds (median, range):"
          % ("h2 over TLS" if TLS else "h2c", CONNS, STREAMS, DURATION, RUNS))
    print()
    print("| tool | requests/s | CPU-s | requests per CPU-s |")
    print("|---|---|---|---|")
    for tool, rs in rows.items():
        per = [r[2] for r in rs]
        print("| %s | %.0f | %.2f | %.0f (%.0f–%.0f) |"
              % (tool, statistics.median(r[0] for r in rs) / DURATION,
                 statistics.median(r[1] for r in rs), statistics.median(per), min(per), max(per)))
    print()
    print("stampede / h2load per CPU-second: **%.2f×** (%.2f–%.2f)"
          % (statistics.median(ratios), min(ratios), max(ratios)))


if __name__ == "__main__":
    main()
