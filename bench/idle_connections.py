#!/usr/bin/env python3
"""10 000 mostly idle keep-alive connections on each I/O backend (issue 13).

    python3 bench/idle_connections.py [--conns 10000] [--idle 10] [--stampede PATH]

For each of: a baseline (the same VUs, no connection), --io epoll and
--io io_uring, one run of `stampede run` where N VUs (one worker thread) each
make one request to nginx (2 workers, loopback) and then sleep, so N
keep-alive connections sit idle in the pool. Once the process holds N
sockets, it samples:
  - RSS (user-space memory) and the system's kernel slab (both ends of the
    connections, and io_uring's per-request state),
  - CPU (user+sys) burned over --idle seconds of idleness.
Memory per connection = (run - baseline) / N. Prints a markdown table for
bench/RESULTS.md. Bounded: each run is killed after its hold time + 60 s.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
import nginx_conf  # noqa: E402

SCRIPT = """
local http = require("stampede.http")
options = { scenarios = { idle = { executor = "per-vu-iterations", vus = tonumber(ENV.VUS),
            iterations = 1, maxDuration = ENV.HOLD } } }
function default()
  if ENV.CONNECT == "1" then
    local r = http.get(ENV.URL)
    if r.status ~= 200 then error("status " .. r.status) end
  end
  sleep(3600)
end
"""


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick  # utime + stime


def slab_kib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("Slab:"):
                return int(line.split()[1])
    return 0


def sockets(pid):
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:"):
                n += 1
        except OSError:
            pass
    return n


def one(args, url, io, connect):
    hold = args.idle + 40
    tmp = tempfile.mkdtemp(prefix="stampede-idle-")
    script = os.path.join(tmp, "idle.lua")
    with open(script, "w") as f:
        f.write(SCRIPT)
    slab0 = slab_kib()
    cmd = [args.stampede, "run", script, "-e", "URL=" + url, "-e", "VUS=%d" % args.conns,
           "-e", "HOLD=%ds" % hold, "-e", "CONNECT=%d" % connect, "--threads", "1",
           "--io", io, "--no-store", "--quiet", "--connect-timeout", "30s"]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + hold + 60
    try:
        want = args.conns if connect else 0
        # Ready: every VU started (RSS stops growing) and, when connecting,
        # N sockets open (a few more: the resolver's, the loop's).
        last, stable = -1, 0
        while time.monotonic() < deadline and p.poll() is None:
            n = sockets(p.pid)
            r = rss_kib(p.pid)
            stable = stable + 1 if (n >= want and abs(r - last) < 256) else 0
            last = r
            if stable >= 4:
                break
            time.sleep(0.5)
        if p.poll() is not None:
            raise SystemExit("%s: stampede exited early: %s" % (io, p.stderr.read().decode()[-2000:]))
        n = sockets(p.pid)
        r = rss_kib(p.pid)
        s = slab_kib() - slab0
        c0 = cpu_s(p.pid)
        time.sleep(args.idle)
        c1 = cpu_s(p.pid)
        return {"io": io if connect else "baseline (no connections)", "sockets": n, "rss": r,
                "slab": s, "idle_cpu": (c1 - c0) / args.idle}
    finally:
        p.kill()
        p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--idle", type=float, default=10.0, help="seconds of idleness measured")
    ap.add_argument("--stampede", default=os.path.join(ROOT, "build", "src", "cli", "stampede"))
    args = ap.parse_args()
    if not 1 <= args.conns <= 20000:
        raise SystemExit("--conns must be 1..20000")
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    with nginx_conf.Nginx(workers=2, https=False) as ngx:
        rows = [one(args, ngx.url, "epoll", 0), one(args, ngx.url, "epoll", 1),
                one(args, ngx.url, "io_uring", 1)]
    base = rows[0]
    print("## %d idle keep-alive connections (`python3 bench/idle_connections.py --conns %d`)"
          % (args.conns, args.conns))
    print()
    print("| run | sockets | RSS MiB | RSS per conn (KiB) | kernel slab delta MiB | slab per conn (KiB, both ends) | CPU at idle (% of a core) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        per = (r["rss"] - base["rss"]) / args.conns if r is not base else 0
        sper = (r["slab"] - base["slab"]) / args.conns if r is not base else 0
        print("| %s | %d | %.1f | %s | %.1f | %s | %.2f |" % (
            r["io"], r["sockets"], r["rss"] / 1024, "-" if r is base else "%.2f" % per,
            r["slab"] / 1024, "-" if r is base else "%.2f" % sper, 100 * r["idle_cpu"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
