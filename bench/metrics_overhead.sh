#!/usr/bin/env bash
# Cost of exporting metrics while a test runs (issue 7): stampede with OTLP
# metrics AND Prometheus /metrics on, against the same run with both off, side
# by side in one invocation.
#
#   bench/metrics_overhead.sh                      # defaults below
#   RUNS=5 DURATION=10s STAMPEDE=build/src/cli/stampede bench/metrics_overhead.sh > /tmp/m.md
#
# Setup (as bench/vs_wrk.sh): a throw-away nginx (tests/support/nginx.sh,
# worker_processes 1, the 612-byte index.html, keep-alive) pinned to CPU
# $NGINX_CPU; the generator pinned to CPU $GEN_CPU, CONNS VUs on one worker
# thread (--threads 1). Modes, each RUNS times, alternating (odd runs off
# first, even runs on first, so a drift in the machine's load does not favour
# one mode):
#   off  stampede run --url URL --vus CONNS --threads 1 --duration D -q
#   on   the same + --otel (OTEL_TRACES_EXPORTER=none: no spans, metrics only;
#        OTEL_METRIC_EXPORT_INTERVAL=1000, OTLP/HTTP protobuf to the Node sink
#        tests/support/otlp_sink.js, started once on 127.0.0.1) + --prometheus
#        127.0.0.1:<free port>, scraped by curl every second for the whole run
#   wrk  wrk -t1 -cCONNS -dD (the peer reference, as in vs_wrk.sh; WRK=0 skips it)
#   base (only with BASE=binary) "off" with another stampede build, e.g. one
#        from before the metric outputs existed: what the hot path pays for
#        them even when they are off
# The sink and the curl loop (the harness) run on CPU $AUX_CPU, by default the
# generator's (on the nginx CPU they would slow the server in the "on" runs
# only); they cost stampede wall time, not CPU time, but they share its core
# and caches: their own CPU is reported as "harness CPU". AUX_CPU=N moves them
# (on a machine with a third CPU, give them that one).
#
# CPU = user+sys of the stampede process alone (its workers and its exporter
# threads; from wait4's rusage), not the sink's or curl's. Per run, the same
# CPU split by thread (/proc/PID/task/*/schedstat): workers, main thread,
# stampede-metric (OTLP), stampede-prom/-http (/metrics). The workers run the
# same code in both modes, so the threads' split is the finer measure of what
# the metric outputs cost; the whole-process ratio carries the machine's noise.
#
# Checks (the script fails, after printing its report, when one does not hold):
# every "on" run's summary (--summary-export) says otel_metrics.points_exported
# > 0 with no failed export, the sink received exactly those points, curl got
# HTTP 200 with stampede_http_reqs_total in the body at least (seconds - 3)
# times, and stampede counted those scrapes; every "off" run exported nothing.
#
# Output: a markdown section for bench/RESULTS.md on stdout (per-run rows with
# the 1-minute load average at the start of each run, medians, CPU by thread,
# on/off ratios: of the medians, and the median and range of the per-run
# ratios; goal: req per generator CPU-s on/off >= 0.97); progress on stderr.
#
# Env: DURATION (10s; Ns or Nm), RUNS (5), CONNS (50), STAMPEDE (binary,
# default build/src/cli/stampede), SCRIPT (a Lua script run with -e URL=...
# instead of --url), NGINX_CPU (0), GEN_CPU (1), AUX_CPU (GEN_CPU), WRK (1: add
# wrk runs; 0: no), BASE (another stampede binary, run as "base"), NICE (e.g.
# -10: this script and everything it starts, nginx included, run at that
# priority, so that niced background work such as compiles steals less from
# the measurement; negative values need root), KEEP=1 keeps the raw outputs.
# Bounded: every run is killed after DURATION + 60 s, the scrape loop after
# DURATION + 30 scrapes, the sink after the whole script's budget; nothing is
# left running on exit.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${DURATION:-10s}"
RUNS="${RUNS:-5}"
CONNS="${CONNS:-50}"
STAMPEDE="${STAMPEDE:-$ROOT/build/src/cli/stampede}"
NGINX_CPU="${NGINX_CPU:-0}"
GEN_CPU="${GEN_CPU:-1}"
AUX_CPU="${AUX_CPU:-$GEN_CPU}"
WRK="${WRK:-1}"
BASE="${BASE:-}"

die() { echo "metrics_overhead.sh: $*" >&2; exit 1; }

if [[ "$DURATION" =~ ^([0-9]+)s?$ ]]; then
  dur_s="${BASH_REMATCH[1]}"
elif [[ "$DURATION" =~ ^([0-9]+)m$ ]]; then
  dur_s=$((BASH_REMATCH[1] * 60))
else
  die "DURATION must look like 10s or 2m, got '$DURATION'"
fi
((dur_s >= 3 && dur_s <= 600)) || die "DURATION must be between 3s and 10m"
if ! [[ "$RUNS" =~ ^[0-9]+$ ]] || ((RUNS < 1 || RUNS > 20)); then die "RUNS must be 1..20"; fi
if ! [[ "$CONNS" =~ ^[0-9]+$ ]] || ((CONNS < 1 || CONNS > 10000)); then
  die "CONNS must be 1..10000"
fi
[[ "$WRK" == 0 || "$WRK" == 1 ]] || die "WRK must be 0 or 1"
[[ -x "$STAMPEDE" ]] || die "stampede binary not found: $STAMPEDE (build it or set STAMPEDE=)"
[[ -z "${BASE:-}" || -x "$BASE" ]] || die "BASE binary not found: $BASE"
for tool in taskset python3 node curl timeout; do
  command -v "$tool" >/dev/null || die "$tool not found"
done
((WRK == 0)) || command -v wrk >/dev/null || die "wrk not found (WRK=0 skips the peer runs)"
ncpu="$(nproc)"
((AUX_CPU < ncpu)) || die "AUX_CPU $AUX_CPU: this machine has $ncpu CPUs"
((NGINX_CPU < ncpu && GEN_CPU < ncpu)) || die "need CPUs $NGINX_CPU and $GEN_CPU; this machine has $ncpu"
[[ "$NGINX_CPU" != "$GEN_CPU" ]] || echo "warning: nginx and the generator share CPU $GEN_CPU" >&2

if [[ -n "${NICE:-}" ]]; then
  [[ "$NICE" =~ ^-?[0-9]+$ ]] || die "NICE must be an integer"
  renice -n "$NICE" -p $$ >/dev/null || die "cannot renice to $NICE"
fi

# The "off" runs must really be off: no OTEL_* / K6_OTEL_* from the caller.
while read -r v; do unset "$v"; done < <(compgen -e | grep -E '^(OTEL_|K6_OTEL_)' || true)

load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
load1="${load_start%% *}"
if awk -v l="$load1" 'BEGIN{exit !(l > 0.5)}'; then
  echo "warning: load average is $load1: other work on this machine will skew the numbers" >&2
fi

SUPPORT="$ROOT/tests/support"
if [[ ! -d "$SUPPORT/node_modules" ]]; then
  echo "installing the sink's node modules (npm ci) ..." >&2
  timeout 600 npm ci --prefix "$SUPPORT" --no-audit --no-fund >/dev/null || die "npm ci failed"
fi

WORK="$(mktemp -d /tmp/stampede-metrics-overhead-XXXXXX)"
SINK_PID=""
SCRAPER_PID=""
stop_pid() {  # stop_pid PID: TERM, bounded wait, then KILL (only our own children)
  local pid="$1" i
  [[ -n "$pid" ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  [[ -z "$SCRAPER_PID" ]] || { touch "$WORK/scrape.stop" 2>/dev/null; stop_pid "$SCRAPER_PID"; }
  stop_pid "$SINK_PID"
  nginx_stop
  if [[ -n "${KEEP:-}" ]]; then echo "raw outputs kept in $WORK" >&2; else rm -rf -- "$WORK"; fi
}
# shellcheck disable=SC2034  # read by nginx_start (sourced below): we set our own traps
NGINX_NO_TRAP=1
# shellcheck source=SCRIPTDIR/../tests/support/nginx.sh
source "$SUPPORT/nginx.sh"
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

NGINX_WRAPPER="taskset -c $NGINX_CPU" nginx_start --workers 1 --no-https || die "nginx did not start"
URL="$NGINX_URL"
echo "nginx pid $NGINX_PID on CPU $NGINX_CPU at $URL; generator on CPU $GEN_CPU;" \
  "sink and scraper on CPU $AUX_CPU" >&2

# The OTLP sink, once for all runs, on the generator's CPU; it only decodes and
# counts (no --out files). Bounded by --max-seconds.
modes_per_run=$((2 + WRK + (${#BASE} > 0 ? 1 : 0)))
sink_budget=$((RUNS * modes_per_run * (dur_s + 70) + 120))
taskset -c "$AUX_CPU" node "$SUPPORT/otlp_sink.js" --max-seconds "$sink_budget" \
  >"$WORK/sink.out" 2>"$WORK/sink.err" </dev/null &
SINK_PID=$!
for ((i = 0; i < 300; i++)); do
  grep -q '^listening' "$WORK/sink.out" 2>/dev/null && break
  kill -0 "$SINK_PID" 2>/dev/null || die "the OTLP sink exited: $(tail -3 "$WORK/sink.err")"
  sleep 0.1
done
read -r _ _ SINK_HTTP_PORT _ SINK_GRPC_PORT < <(grep -m1 '^listening' "$WORK/sink.out") ||
  die "the OTLP sink did not start in 30 s: $(tail -3 "$WORK/sink.err")"
[[ "$SINK_HTTP_PORT" =~ ^[0-9]+$ ]] || die "cannot read the sink's ports: $(cat "$WORK/sink.out")"
echo "OTLP sink pid $SINK_PID at http://127.0.0.1:$SINK_HTTP_PORT (grpc $SINK_GRPC_PORT)" >&2

sink_cpu() {  # the sink's CPU seconds so far (user+sys)
  python3 -c 'import os, sys
f = open("/proc/%s/stat" % sys.argv[1]).read().rsplit(")", 1)[1].split()
print("%.3f" % ((int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")))' "$SINK_PID"
}
sink_points() {  # metric data points the sink has recorded so far
  curl -s --max-time 5 "http://127.0.0.1:$SINK_HTTP_PORT/__stats" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["points"])'
}
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# scrape_loop PORT LOG: GET /metrics every second (curl on the generator CPU,
# 2 s timeout each) until $WORK/scrape.stop exists; at most dur_s + 30 tries.
# One line per try: "http_code bytes has_http_reqs(0|1)".
scrape_loop() {
  local port="$1" log="$2" i code size
  taskset -cp "$AUX_CPU" "$BASHPID" >/dev/null  # this loop and all it runs (curl, grep, sleep)
  for ((i = 0; i < dur_s + 30; i++)); do
    [[ -e "$WORK/scrape.stop" ]] && break
    read -r code size < <(curl -s --max-time 2 -o "$WORK/scrape.body" \
      -w '%{http_code} %{size_download}\n' "http://127.0.0.1:$port/metrics" || true) || true
    if [[ "$code" == 200 ]] && grep -q '^stampede_http_reqs_total' "$WORK/scrape.body"; then
      echo "$code $size 1"
    else
      echo "${code:-000} ${size:-0} 0"
    fi >>"$log"
    sleep 1
  done
  times >"$log.times"  # the loop's CPU (curl, grep, sleep included): the harness's cost
}

# measure OUT ERR cmd...: runs cmd (killed after DURATION+60s), prints
# "user_s sys_s wall_s exit_code" from the child's rusage (its own CPU time plus
# that of its waited-for descendants: timeout's child, which taskset and env
# exec into the generator; the sink and the curl loop are not descendants).
# Also writes OUT.threads (JSON): the generator's CPU seconds per thread group
# (workers stampede-w*, the main thread, stampede-metric, stampede-prom,
# stampede-http, others), from /proc/PID/task/*/schedstat (time on CPU in ns)
# sampled every 0.2 s (a thread's last 0.2 s before it exits can be missed; the
# rusage total is exact).
measure() {
  local out="$1" err="$2"
  shift 2
  python3 - "$out" "$err" "$((dur_s + 60))" "$@" <<'PY'
import json, os, subprocess, sys, threading, time
out, err, limit, cmd = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
last = {}  # tid -> (comm, ns on CPU)
stop = threading.Event()

def group(comm):
    if comm.startswith("stampede-w"):
        return "workers"
    if comm in ("stampede-metric", "stampede-prom", "stampede-http", "stampede-export"):
        return comm[len("stampede-"):]
    return "main" if comm == "stampede" else "other:" + comm

def sample(parent):
    child = None
    while not stop.is_set():
        try:
            if child is None:
                with open("/proc/%d/task/%d/children" % (parent, parent)) as f:
                    kids = f.read().split()
                child = int(kids[0]) if kids else None
            if child is not None:
                for tid in os.listdir("/proc/%d/task" % child):
                    try:
                        with open("/proc/%d/task/%s/comm" % (child, tid)) as f:
                            comm = f.read().rstrip("\n")
                        with open("/proc/%d/task/%s/schedstat" % (child, tid)) as f:
                            ns = int(f.read().split()[0])
                    except (OSError, ValueError, IndexError):
                        continue
                    last[tid] = (comm, ns)
        except (OSError, ValueError):
            pass
        stop.wait(0.2)

with open(out, "wb") as o, open(err, "wb") as e:
    t0 = time.monotonic()
    p = subprocess.Popen(["timeout", "-k", "5", limit] + cmd, stdin=subprocess.DEVNULL,
                         stdout=o, stderr=e)
    sampler = threading.Thread(target=sample, args=(p.pid,), daemon=True)
    sampler.start()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    stop.set()
    sampler.join()
groups = {}
for comm, ns in last.values():
    groups[group(comm)] = groups.get(group(comm), 0.0) + ns / 1e9
with open(out + ".threads", "w") as f:
    json.dump(groups, f)
print("%.3f %.3f %.3f %d" % (ru.ru_utime, ru.ru_stime, wall, os.waitstatus_to_exitcode(status)))
PY
}

if [[ -n "${SCRIPT:-}" ]]; then
  target=("$SCRIPT" -e URL="$URL")  # a Lua script: its iterations drive the requests
else
  target=(--url "$URL")
fi

TSV="$WORK/runs.tsv"
: >"$TSV"
run_mode() {  # run_mode MODE RUN: one measured run, appended to $TSV
  local mode="$1" run="$2" u s w rc json="$WORK/$1-$2.json" log="$WORK/$1-$2.scrapes"
  local before=0 after=0 ok=0 tries=0 load sink0=0 sink1=0 harness=0
  load="$(cut -d' ' -f1 /proc/loadavg)"
  echo "run $run/$RUNS: $mode (load average $load) ..." >&2
  case "$mode" in
    off|base)
      local bin="$STAMPEDE"
      [[ "$mode" == off ]] || bin="$BASE"
      read -r u s w rc < <(measure "$WORK/$mode-$run.out" "$WORK/$mode-$run.err" \
        taskset -c "$GEN_CPU" "$bin" run "${target[@]}" --vus "$CONNS" --threads 1 \
        --duration "$DURATION" -q --summary-export "$json")
      ;;
    on)
      local port
      port="$(free_port)"
      before="$(sink_points)"
      sink0="$(sink_cpu)"
      rm -f "$WORK/scrape.stop"
      : >"$log"
      scrape_loop "$port" "$log" &
      SCRAPER_PID=$!
      read -r u s w rc < <(measure "$WORK/$mode-$run.out" "$WORK/$mode-$run.err" \
        taskset -c "$GEN_CPU" env OTEL_TRACES_EXPORTER=none OTEL_METRIC_EXPORT_INTERVAL=1000 \
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$SINK_HTTP_PORT" \
        OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf \
        "$STAMPEDE" run "${target[@]}" --vus "$CONNS" --threads 1 --duration "$DURATION" -q \
        --summary-export "$json" --otel --prometheus "127.0.0.1:$port")
      touch "$WORK/scrape.stop"
      wait "$SCRAPER_PID" 2>/dev/null || true  # bounded: one curl (2 s) + sleep 1
      SCRAPER_PID=""
      sleep 0.3  # the sink answers before it counts: let the last export land
      after="$(sink_points)"
      sink1="$(sink_cpu)"
      # `times`: "0m0.010s 0m0.020s" for the loop, then for its children.
      harness="$(awk '{for (i = 1; i <= NF; i++) {split($i, a, /m|s/); t += a[1] * 60 + a[2]}}
                      END {printf "%.3f", t + (s1 - s0)}' s0="$sink0" s1="$sink1" "$log.times")"
      ok="$(awk '$3 == 1' "$log" | wc -l)"
      tries="$(wc -l <"$log")"
      ;;
    wrk)
      json="-"
      read -r u s w rc < <(measure "$WORK/$mode-$run.out" "$WORK/$mode-$run.err" \
        taskset -c "$GEN_CPU" wrk -t1 -c"$CONNS" -d"$DURATION" --latency "$URL")
      ;;
  esac
  printf '%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$run" "$u" "$s" "$w" "$rc" \
    "$WORK/$mode-$run.out" "$json" "$((after - before))" "$ok" "$tries" "$load" "$harness" >>"$TSV"
  if ((rc != 0)); then
    echo "run $run/$RUNS: $mode exited $rc: $(tail -2 "$WORK/$mode-$run.err" | tr '\n' ' ')" >&2
  fi
}

# Warm-up (not measured): nginx's page cache, the loopback path, the sink's JIT.
timeout 30 env OTEL_TRACES_EXPORTER=none OTEL_METRIC_EXPORT_INTERVAL=1000 \
  OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$SINK_HTTP_PORT" \
  taskset -c "$GEN_CPU" "$STAMPEDE" run "${target[@]}" --vus "$CONNS" --threads 1 --duration 2s \
  -q --otel >/dev/null 2>&1 || die "the warm-up run failed"

for ((run = 1; run <= RUNS; run++)); do
  if ((run % 2 == 1)); then order=(off on); else order=(on off); fi
  [[ -z "${BASE:-}" ]] || order+=(base)
  ((WRK == 0)) || order+=(wrk)
  for mode in "${order[@]}"; do run_mode "$mode" "$run"; done
done
load_end="$(cut -d' ' -f1-3 /proc/loadavg)"

nginx_version="$( (nginx -v 2>&1 || true) | sed "s/^nginx version: //")"
wrk_version="$( (wrk -v 2>&1 || true) | awk "NR==1{print \$2}")"
cpu_model="$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)"
git_rev="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no -- src 2>/dev/null | head -1)" ]]; then
  git_rev="$git_rev+uncommitted changes in src/"
fi

python3 - "$TSV" "$DURATION" "$dur_s" "$CONNS" "$RUNS" "$nginx_version" "$wrk_version" \
  "${cpu_model:-unknown}" "$ncpu" "$git_rev" "$(uname -r)" "$load_start" "$load_end" \
  "${SCRIPT:-}" "${NICE:-}" "$NGINX_CPU" "$GEN_CPU" "$AUX_CPU" <<'PY'
import json, re, statistics, sys
(tsv, duration, dur_s, conns, runs, nginx_v, wrk_v, cpu, ncpu, rev, kernel, load_start,
 load_end, script, nice, ngx_cpu, gen_cpu, aux_cpu) = sys.argv[1:]
dur_s = int(dur_s)

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
    return r

def parse_stampede(path):
    try:
        j = json.load(open(path))
    except (OSError, ValueError):
        return {}
    m = j.get("metrics", {})
    r = {"otel": j.get("otel_metrics"), "prom": j.get("prometheus")}
    if "http_reqs" in m:
        r["requests"] = int(m["http_reqs"].get("count", 0))
        r["rps"] = float(m["http_reqs"].get("rate", 0))
    d = m.get("http_req_duration", {})
    if "med" in d:
        r["p50"] = float(d["med"])
    if "p(99)" in d:
        r["p99"] = float(d["p(99)"])
    return r

rows, problems = [], []
for line in open(tsv):
    (mode, run, u, s, w, rc, out, js, sink_pts, ok, tries, load,
     harness) = line.rstrip("\n").split("\t")
    r = parse_wrk(out) if mode == "wrk" else parse_stampede(js)
    r.update(mode=mode, run=int(run), cpu=float(u) + float(s), user=float(u), sys=float(s),
             wall=float(w), rc=int(rc), sink_points=int(sink_pts), scrapes_ok=int(ok),
             scrape_tries=int(tries), load=load, harness=float(harness))
    r["per_cpu"] = r["requests"] / r["cpu"] if r.get("requests") and r["cpu"] > 0 else None
    try:
        r["threads"] = json.load(open(out + ".threads"))
    except (OSError, ValueError):
        r["threads"] = {}
    w = r["threads"].get("workers")
    r["per_worker_cpu"] = r["requests"] / w if r.get("requests") and w else None
    rows.append(r)
    where = "%s run %s" % (mode, run)
    if r["rc"] != 0:
        problems.append("%s: exit code %d" % (where, r["rc"]))
    if mode == "wrk":
        continue
    if not r.get("requests"):
        problems.append("%s: no http_reqs in the summary export" % where)
    otel, prom = r.get("otel") or {}, r.get("prom") or {}
    if mode == "on":
        exported = otel.get("points_exported", 0)
        if exported <= 0:
            problems.append("%s: otel_metrics.points_exported is %r (summary otel_metrics: %r)"
                            % (where, exported, r.get("otel")))
        if otel.get("exports_failed", 0) or otel.get("points_failed", 0):
            problems.append("%s: failed metric exports: %r" % (where, otel))
        if r["sink_points"] != exported:
            problems.append("%s: the sink recorded %d points, stampede says it exported %r"
                            % (where, r["sink_points"], exported))
        need = max(1, dur_s - 3)
        if r["scrapes_ok"] < need:
            problems.append("%s: only %d of %d scrapes of /metrics succeeded (need %d)"
                            % (where, r["scrapes_ok"], r["scrape_tries"], need))
        if prom.get("scrapes", 0) < r["scrapes_ok"]:
            problems.append("%s: stampede counted %r scrapes, curl got %d answers"
                            % (where, prom.get("scrapes"), r["scrapes_ok"]))
    elif otel.get("points_exported", 0) or prom.get("scrapes", 0):
        problems.append("%s: metrics were exported in the 'off' mode: %r %r" % (where, otel, prom))

def fmt(v, nd=0):
    return "n/a" if v is None else "{:,.{}f}".format(v, nd)

print("## Metrics export overhead%s: %s, %s VUs (1 thread), %s runs each"
      % (" (script %s)" % script if script else "", duration, conns, runs))
print()
print("Machine: %s CPUs (%s), kernel %s, load average %s at start, %s at the end; %s "
      "(worker_processes 1, pinned to CPU %s); wrk %s; stampede at %s. Generator pinned to CPU "
      "%s, the OTLP sink and the curl scraper to CPU %s; CPU = the stampede process's user+sys "
      "seconds.%s"
      % (ncpu, cpu, kernel, load_start, load_end, nginx_v, ngx_cpu, wrk_v, rev, gen_cpu, aux_cpu,
         " Everything at nice %s." % nice if nice else ""))
print()
print("| run | mode | load avg | exit | requests | req/s | CPU s (user+sys) | req per CPU-s | p50 ms "
      "| p99 ms | OTLP points (exports) | /metrics scrapes ok |")
print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    otel = r.get("otel") or {}
    if r["mode"] == "on":
        pts = "%s (%s)" % (fmt(otel.get("points_exported")), fmt(otel.get("exports")))
        scr = "%d/%d" % (r["scrapes_ok"], r["scrape_tries"])
    else:
        pts = scr = "-"
    print("| %d | %s | %s | %d | %s | %s | %s (%s+%s) | %s | %s | %s | %s | %s |" % (
        r["run"], r["mode"], r["load"], r["rc"], fmt(r.get("requests")), fmt(r.get("rps")),
        fmt(r["cpu"], 2), fmt(r["user"], 2), fmt(r["sys"], 2), fmt(r["per_cpu"]),
        fmt(r.get("p50"), 3), fmt(r.get("p99"), 3), pts, scr))
print()

modes = [m for m in ("off", "on", "base", "wrk") if any(r["mode"] == m for r in rows)]
def good(mode):
    return [r for r in rows if r["mode"] == mode and r["rc"] == 0]
def med(mode, key):
    vals = [r[key] for r in good(mode) if r.get(key) is not None]
    return statistics.median(vals) if vals else None

print("| median | req/s | CPU s | req per CPU-s | p50 ms | p99 ms |")
print("|---|---:|---:|---:|---:|---:|")
for m in modes:
    print("| %s | %s | %s | %s | %s | %s |" % (m, fmt(med(m, "rps")), fmt(med(m, "cpu"), 2),
          fmt(med(m, "per_cpu")), fmt(med(m, "p50"), 3), fmt(med(m, "p99"), 3)))
print()

# Where the generator's CPU went, per thread group (sampled from /proc): what
# the metric outputs cost apart from the workers.
print("| run | mode | workers CPU s | main thread | stampede-metric (OTLP) | stampede-prom + http "
      "(/metrics) | other | req per worker CPU-s | harness CPU s (sink + curl loop) |")
print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    if r["mode"] == "wrk":
        continue
    t = r["threads"]
    other = sum(v for k, v in t.items() if k.startswith("other:") or k == "export")
    print("| %d | %s | %s | %s | %s | %s | %s | %s | %s |" % (
        r["run"], r["mode"], fmt(t.get("workers"), 3), fmt(t.get("main", 0.0), 3),
        fmt(t.get("metric", 0.0), 3), fmt(t.get("prom", 0.0) + t.get("http", 0.0), 3),
        fmt(other, 3), fmt(r["per_worker_cpu"]), fmt(r["harness"], 3) if r["mode"] == "on" else "-"))
print()
for m in ("off", "on", "base"):
    g = good(m)
    if g:
        print("%s, median CPU s by thread: %s." % (m, ", ".join(
            "%s %.3f" % (k, statistics.median(r["threads"].get(k, 0.0) for r in g))
            for k in sorted({k for r in g for k in r["threads"]}))))
print()

# on/off: the ratio of the medians, and the range of the per-run ratios (run i's
# "on" over run i's "off": the two ran back to back).
by_run = {}
for r in rows:
    by_run.setdefault(r["run"], {})[r["mode"]] = r
print("| on / off | ratio of medians | per-run ratios (min – median – max) | goal |")
print("|---|---:|---:|---:|")
verdict = {}
for key, label, goal in (("per_cpu", "req per generator CPU-s", 0.97), ("rps", "req/s", None),
                         ("cpu", "CPU s", None),
                         ("per_worker_cpu", "req per worker-thread CPU-s", None)):
    a, b = med("on", key), med("off", key)
    ratio = a / b if a is not None and b else None
    pairs = sorted(p["on"][key] / p["off"][key] for p in by_run.values()
                   if "on" in p and "off" in p and p["on"]["rc"] == 0 and p["off"]["rc"] == 0
                   and p["on"].get(key) and p["off"].get(key))
    rng = ("%.3f – %.3f – %.3f" % (pairs[0], statistics.median(pairs), pairs[-1])
           if pairs else "n/a")
    print("| %s | **%s** | %s | %s |" % (label, "n/a" if ratio is None else "%.3f" % ratio, rng,
                                        "≥ %.2f" % goal if goal else ""))
    verdict[key] = (ratio, pairs)
for m, ref in (("off", "base"), ("off", "wrk"), ("on", "wrk")):
    if ref in modes:
        a, b = med(m, "per_cpu"), med(ref, "per_cpu")
        if a is not None and b:
            print("| (%s / %s, req per CPU-s) | %.3f | | |" % (m, ref, a / b))
print()
ratio, pairs = verdict["per_cpu"]
if ratio is not None and pairs:
    paired = statistics.median(pairs)
    spread = pairs[-1] - pairs[0]
    print("Verdict: on/off in requests per generator CPU-second (goal ≥ 0.97): %.3f as the ratio "
          "of the medians, %.3f as the median of the per-run ratios (run i's on over run i's off, "
          "back to back): %s. The per-run ratios span %.3f%s" % (
              ratio, paired, "met" if min(ratio, paired) >= 0.97 else
              ("NOT met" if max(ratio, paired) < 0.97 else "met by one measure only"), spread,
              " — more than the 3 % being measured: on this machine the difference is within "
              "its noise; the per-thread CPU above is the finer measure." if spread > 0.03
              else "."))
    print()
if problems:
    print("> **Checks failed:**")
    for p in problems:
        print("> - %s" % p)
    print()
    for p in problems:
        print("metrics_overhead.sh: FAIL: %s" % p, file=sys.stderr)
    sys.exit(1)
print("Checks: every \"on\" run exported metric points over OTLP (the sink received exactly "
      "the points each summary reports) and answered /metrics (HTTP 200 with "
      "stampede_http_reqs_total) about once a second; no \"off\" run exported anything.")
PY
