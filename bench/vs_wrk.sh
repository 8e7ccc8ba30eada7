#!/usr/bin/env bash
# stampede vs wrk against the same nginx, same machine, same run.
#
#   bench/vs_wrk.sh                      # defaults below
#   DURATION=5s RUNS=5 CONNS=100 STAMPEDE=build/src/cli/stampede bench/vs_wrk.sh
#
# nginx (worker_processes 1, small static body: 612-byte index.html, keep-alive)
# is pinned to CPU $NGINX_CPU; the generator to CPU $GEN_CPU. stampede and wrk
# alternate, RUNS times each, CONNS connections (stampede: CONNS VUs, 1 thread;
# wrk: 1 thread, CONNS connections). For each run: requests, requests/s, the
# generator's own user+sys CPU seconds (from wait4 rusage), requests per
# generator CPU-second, latency p50/p99 and errors. Then medians and the ratios
# stampede/wrk, as markdown ready to paste into bench/RESULTS.md.
#
# Env: DURATION (10s; Ns or Nm), RUNS (3), CONNS (50), STAMPEDE (binary path,
# default build/src/cli/stampede), SCRIPT (a Lua script run with -e URL=...
# instead of --url, e.g. bench/get_check.lua), SCRIPT_B (a second script run in
# each round after SCRIPT, as tool "stampede-b", with the ratio stampede-b /
# stampede: the cost of what it adds; EXTRA_B: more of its arguments, e.g.
# "-e DATA=/tmp/users.csv"), IO (stampede's --io, default epoll), IO_B (when
# set and SCRIPT_B is not: a second stampede run in each round with the same
# target and --io IO_B, as tool "stampede-b", e.g. IO_B=io_uring: the two
# backends and wrk side by side), EXTRA (more arguments for every stampede
# run, e.g. "--no-store": wrk keeps nothing), NGINX_CPU (0), GEN_CPU (1), KEEP=1 keeps the
# raw outputs. Bounded: every run is killed after DURATION + 60 s.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${DURATION:-10s}"
RUNS="${RUNS:-3}"
CONNS="${CONNS:-50}"
STAMPEDE="${STAMPEDE:-$ROOT/build/src/cli/stampede}"
NGINX_CPU="${NGINX_CPU:-0}"
GEN_CPU="${GEN_CPU:-1}"

die() { echo "vs_wrk.sh: $*" >&2; exit 1; }

if [[ "$DURATION" =~ ^([0-9]+)s?$ ]]; then
  dur_s="${BASH_REMATCH[1]}"
elif [[ "$DURATION" =~ ^([0-9]+)m$ ]]; then
  dur_s=$((BASH_REMATCH[1] * 60))
else
  die "DURATION must look like 10s or 2m, got '$DURATION'"
fi
((dur_s >= 1 && dur_s <= 600)) || die "DURATION must be between 1s and 10m"
if ! [[ "$RUNS" =~ ^[0-9]+$ ]] || ((RUNS < 1 || RUNS > 20)); then die "RUNS must be 1..20"; fi
if ! [[ "$CONNS" =~ ^[0-9]+$ ]] || ((CONNS < 1 || CONNS > 10000)); then
  die "CONNS must be 1..10000"
fi
[[ -x "$STAMPEDE" ]] || die "stampede binary not found: $STAMPEDE (build it or set STAMPEDE=)"
command -v wrk >/dev/null || die "wrk not found"
command -v taskset >/dev/null || die "taskset not found"
command -v python3 >/dev/null || die "python3 not found"
ncpu="$(nproc)"
((NGINX_CPU < ncpu && GEN_CPU < ncpu)) || die "need CPUs $NGINX_CPU and $GEN_CPU; this machine has $ncpu"
[[ "$NGINX_CPU" != "$GEN_CPU" ]] || echo "warning: nginx and the generator share CPU $GEN_CPU" >&2

load1="$(cut -d' ' -f1 /proc/loadavg)"
if awk -v l="$load1" 'BEGIN{exit !(l > 0.5)}'; then
  echo "warning: load average is $load1: other work on this machine will skew the numbers" >&2
fi

WORK="$(mktemp -d /tmp/stampede-vs-wrk-XXXXXX)"
cleanup() {
  nginx_stop
  if [[ -n "${KEEP:-}" ]]; then echo "raw outputs kept in $WORK" >&2; else rm -rf -- "$WORK"; fi
}
# shellcheck disable=SC2034  # read by nginx_start (sourced below): we set our own traps
NGINX_NO_TRAP=1
# shellcheck source=SCRIPTDIR/../tests/support/nginx.sh
source "$ROOT/tests/support/nginx.sh"
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

NGINX_WRAPPER="taskset -c $NGINX_CPU" nginx_start --workers 1 --no-https || die "nginx did not start"
URL="$NGINX_URL"
echo "nginx pid $NGINX_PID on CPU $NGINX_CPU at $URL; generator on CPU $GEN_CPU" >&2

# measure OUT ERR cmd...: runs cmd (killed after DURATION+60s), prints
# "user_s sys_s wall_s exit_code" from the child's rusage (its own CPU time plus
# that of its waited-for descendants: here, taskset exec's the generator).
measure() {
  local out="$1" err="$2"
  shift 2
  python3 - "$out" "$err" "$((dur_s + 60))" "$@" <<'PY'
import os, subprocess, sys, time
out, err, limit, cmd = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
with open(out, "wb") as o, open(err, "wb") as e:
    t0 = time.monotonic()
    p = subprocess.Popen(["timeout", "-k", "5", limit] + cmd, stdin=subprocess.DEVNULL,
                         stdout=o, stderr=e)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
print("%.3f %.3f %.3f %d" % (ru.ru_utime, ru.ru_stime, wall, os.waitstatus_to_exitcode(status)))
PY
}

# Warm-up (not measured): nginx's page cache and the loopback path.
taskset -c "$GEN_CPU" wrk -t1 -c"$CONNS" -d1s "$URL" >/dev/null 2>&1 || true

TSV="$WORK/runs.tsv"
: >"$TSV"
for ((run = 1; run <= RUNS; run++)); do
  echo "run $run/$RUNS: stampede ..." >&2
  json="$WORK/stampede-$run.json"
  if [[ -n "${SCRIPT:-}" ]]; then
    target=("$SCRIPT" -e URL="$URL")  # a Lua script: its iterations drive the requests
  else
    target=(--url "$URL")
  fi
  # shellcheck disable=SC2086  # EXTRA is a list of arguments
  read -r u s w rc < <(measure "$WORK/stampede-$run.out" "$WORK/stampede-$run.err" \
    taskset -c "$GEN_CPU" "$STAMPEDE" run "${target[@]}" --io "${IO:-epoll}" ${EXTRA:-} \
    --vus "$CONNS" --threads 1 --duration "$DURATION" --quiet --summary-export "$json")
  printf 'stampede\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n' "$run" "$u" "$s" "$w" "$rc" \
    "$WORK/stampede-$run.out" "$json" >>"$TSV"
  if [[ -n "${SCRIPT_B:-}" ]]; then
    echo "run $run/$RUNS: stampede-b ..." >&2
    json="$WORK/stampede-b-$run.json"
    # shellcheck disable=SC2086  # EXTRA_B is a list of arguments
    read -r u s w rc < <(measure "$WORK/stampede-b-$run.out" "$WORK/stampede-b-$run.err" \
      taskset -c "$GEN_CPU" "$STAMPEDE" run "$SCRIPT_B" -e URL="$URL" ${EXTRA_B:-} --vus "$CONNS" \
      --threads 1 --duration "$DURATION" --quiet --summary-export "$json")
    printf 'stampede-b\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n' "$run" "$u" "$s" "$w" "$rc" \
      "$WORK/stampede-b-$run.out" "$json" >>"$TSV"
  elif [[ -n "${IO_B:-}" ]]; then
    echo "run $run/$RUNS: stampede-b (--io $IO_B) ..." >&2
    json="$WORK/stampede-b-$run.json"
    # shellcheck disable=SC2086  # EXTRA is a list of arguments
    read -r u s w rc < <(measure "$WORK/stampede-b-$run.out" "$WORK/stampede-b-$run.err" \
      taskset -c "$GEN_CPU" "$STAMPEDE" run "${target[@]}" --io "$IO_B" ${EXTRA:-} --vus "$CONNS" \
      --threads 1 --duration "$DURATION" --quiet --summary-export "$json")
    printf 'stampede-b\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n' "$run" "$u" "$s" "$w" "$rc" \
      "$WORK/stampede-b-$run.out" "$json" >>"$TSV"
  fi
  echo "run $run/$RUNS: wrk ..." >&2
  read -r u s w rc < <(measure "$WORK/wrk-$run.out" "$WORK/wrk-$run.err" \
    taskset -c "$GEN_CPU" wrk -t1 -c"$CONNS" -d"$DURATION" --latency "$URL")
  printf 'wrk\t%d\t%s\t%s\t%s\t%s\t%s\t-\n' "$run" "$u" "$s" "$w" "$rc" "$WORK/wrk-$run.out" >>"$TSV"
done

nginx_version="$( (nginx -v 2>&1 || true) | sed "s/^nginx version: //")"
wrk_version="$( (wrk -v 2>&1 || true) | awk "NR==1{print \$2}")"
cpu_model="$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)"
git_rev="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"

python3 - "$TSV" "$DURATION" "$CONNS" "$RUNS" "$nginx_version" "$wrk_version" \
  "${cpu_model:-unknown}" "$ncpu" "$git_rev" "$(uname -r)" "$load1" "${SCRIPT:-}" \
  "${SCRIPT_B:-${IO_B:+--io $IO_B}} ${EXTRA_B:-}" <<'PY'
import json, re, statistics, sys
tsv, duration, conns, runs, nginx_v, wrk_v, cpu, ncpu, rev, kernel, load1, script, script_b = sys.argv[1:]

def to_ms(v, unit):
    return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]

def parse_wrk(path):
    text = open(path, errors="replace").read()
    r = {}
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", text)
    if m:
        r["requests"] = int(m.group(1))
    m = re.search(r"Requests/sec:\s*([\d.]+)", text)
    if m:
        r["rps"] = float(m.group(1))
    for pct, key in (("50%", "p50"), ("99%", "p99")):
        m = re.search(r"^\s*%s\s+([\d.]+)(us|ms|s|m)\s*$" % re.escape(pct), text, re.M)
        if m:
            r[key] = to_ms(m.group(1), m.group(2))
    errs = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        errs += sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        errs += int(m.group(1))
    r["errors"] = errs
    return r

def parse_stampede(path):
    try:
        j = json.load(open(path))
    except (OSError, ValueError):
        return {}
    m = j.get("metrics", {})
    r = {}
    if "http_reqs" in m:
        r["requests"] = int(m["http_reqs"].get("count", 0))
        r["rps"] = float(m["http_reqs"].get("rate", 0))
    d = m.get("http_req_duration", {})
    if "med" in d:
        r["p50"] = float(d["med"])
    if "p(99)" in d:
        r["p99"] = float(d["p(99)"])
    failed = m.get("http_req_failed", {})
    errs = failed.get("passes")
    if errs is None and "rate" in failed and "requests" in r:
        errs = round(failed["rate"] * r["requests"])
    r["errors"] = int(errs or 0)
    return r

rows = []
for line in open(tsv):
    tool, run, u, s, w, rc, out, js = line.rstrip("\n").split("\t")
    r = parse_stampede(js) if tool.startswith("stampede") else parse_wrk(out)
    r.update(tool=tool, run=int(run), cpu=float(u) + float(s), user=float(u), sys=float(s),
             wall=float(w), rc=int(rc))
    r["per_cpu"] = r["requests"] / r["cpu"] if r.get("requests") and r["cpu"] > 0 else None
    rows.append(r)

def fmt(v, nd=0):
    if v is None:
        return "n/a"
    return "{:,.{}f}".format(v, nd)

print("## stampede%s vs wrk: %s, %s connections, %s runs each"
      % (" (script %s)" % script if script else "", duration, conns, runs))
if any(r["tool"] == "stampede-b" for r in rows):
    print()
    print("stampede-b: script %s" % script_b)
print()
print("Machine: %s CPUs (%s), kernel %s, load average %s at start; %s "
      "(worker_processes 1, pinned); wrk %s; stampede at %s. Generator pinned to its own "
      "CPU; CPU = generator user+sys seconds." % (ncpu, cpu, kernel, load1, nginx_v, wrk_v, rev))
print()
print("| run | tool | exit | requests | req/s | CPU s (user+sys) | req per CPU-s | p50 ms | p99 ms | errors |")
print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    print("| %d | %s | %d | %s | %s | %s (%s+%s) | %s | %s | %s | %s |" % (
        r["run"], r["tool"], r["rc"], fmt(r.get("requests")), fmt(r.get("rps")),
        fmt(r["cpu"], 2), fmt(r["user"], 2), fmt(r["sys"], 2), fmt(r["per_cpu"]),
        fmt(r.get("p50"), 3), fmt(r.get("p99"), 3), fmt(r.get("errors"))))
print()

def med(tool, key):
    vals = [r[key] for r in rows if r["tool"] == tool and r.get(key) is not None and r["rc"] == 0]
    return statistics.median(vals) if vals else None

tools = [t for t in ("stampede", "stampede-b", "wrk") if any(r["tool"] == t for r in rows)]
summary = {t: {k: med(t, k) for k in ("rps", "per_cpu", "cpu", "p50", "p99")} for t in tools}

def ratio(k, a="stampede", b="wrk"):
    x, y = summary[a][k], summary[b][k]
    return x / y if x is not None and y else None

print("| median | req/s | req per CPU-s | CPU s | p50 ms | p99 ms |")
print("|---|---:|---:|---:|---:|---:|")
for t in tools:
    s = summary[t]
    print("| %s | %s | %s | %s | %s | %s |" % (t, fmt(s["rps"]), fmt(s["per_cpu"]),
          fmt(s["cpu"], 2), fmt(s["p50"], 3), fmt(s["p99"], 3)))
rr = ["%s" % ("n/a" if ratio(k) is None else "%.2f" % ratio(k))
      for k in ("rps", "per_cpu", "cpu", "p50", "p99")]
print("| **stampede / wrk** | **%s** | **%s** | %s | %s | %s |" % tuple(rr))
if "stampede-b" in tools:
    rr = ["%s" % ("n/a" if ratio(k, "stampede-b", "stampede") is None
                  else "%.3f" % ratio(k, "stampede-b", "stampede"))
          for k in ("rps", "per_cpu", "cpu", "p50", "p99")]
    print("| **stampede-b / stampede** | **%s** | **%s** | %s | %s | %s |" % tuple(rr))
    rr = ["%s" % ("n/a" if ratio(k, "stampede-b") is None else "%.2f" % ratio(k, "stampede-b"))
          for k in ("rps", "per_cpu", "cpu", "p50", "p99")]
    print("| **stampede-b / wrk** | **%s** | **%s** | %s | %s | %s |" % tuple(rr))

# Each round's own ratio per CPU-second (the runs alternate, so drift cancels
# within a round).
def by_round(x, y):
    out = []
    for run in sorted({r["run"] for r in rows}):
        a = [r for r in rows if r["run"] == run and r["tool"] == x and r["rc"] == 0]
        b = [r for r in rows if r["run"] == run and r["tool"] == y and r["rc"] == 0]
        if a and b and a[0]["per_cpu"] and b[0]["per_cpu"]:
            out.append(a[0]["per_cpu"] / b[0]["per_cpu"])
    if out:
        print()
        print("%s / %s per CPU-s, by round: %s (median %.3f, range %.3f-%.3f)"
              % (x, y, ", ".join("%.3f" % v for v in out), statistics.median(out), min(out), max(out)))

by_round("stampede", "wrk")
if "stampede-b" in tools:
    by_round("stampede-b", "wrk")
    by_round("stampede-b", "stampede")
print()
bad = [r for r in rows if r["rc"] != 0]
if bad:
    print("> Runs with a non-zero exit code are excluded from the medians: %s"
          % ", ".join("%s #%d (exit %d)" % (r["tool"], r["run"], r["rc"]) for r in bad))
PY
