#!/usr/bin/env bash
# What being an agent costs: two local agents of a coordinator against the
# same two execution segments run standalone (`stampede run
# --execution-segment`), as requests per generator CPU-second, alternating in
# one run (issue 11's goal: within 3 %).
#
#   bench/dist_vs_standalone.sh      # DURATION (10s), RUNS (5), CONNS (50 VUs in all),
#                                    # SCRIPT (bench/get_check.lua), STAMPEDE
#
# nginx (one worker) on CPU 0; every generator process on CPU 1. Standalone:
# segments 0:1/2 and 1/2:1 as two `run`s at once (both on CPU 1, so they
# share it as the agents do). Distributed: a coordinator (CPU 0, with nginx:
# it runs no load) and two agents at once (both on CPU 1). The generators' CPU is their own user+sys from wait4; the coordinator's
# is reported apart. Bounded: every process is killed after DURATION + 60 s.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${DURATION:-10s}"
RUNS="${RUNS:-5}"
CONNS="${CONNS:-50}"
SCRIPT="${SCRIPT:-$ROOT/bench/get_check.lua}"
STAMPEDE="${STAMPEDE:-$ROOT/build/src/cli/stampede}"
die() { echo "dist_vs_standalone.sh: $*" >&2; exit 1; }
[[ "$DURATION" =~ ^([0-9]+)s$ ]] || die "DURATION must look like 10s"
dur_s="${BASH_REMATCH[1]}"
[[ -x "$STAMPEDE" ]] || die "stampede not found: $STAMPEDE"
(($(nproc) >= 2)) || die "needs 2 CPUs"

WORK="$(mktemp -d /tmp/stampede-dist-bench-XXXXXX)"
# shellcheck disable=SC2034  # read by nginx_start
NGINX_NO_TRAP=1
# shellcheck source=SCRIPTDIR/../tests/support/nginx.sh
source "$ROOT/tests/support/nginx.sh"
cleanup() { nginx_stop; rm -rf -- "$WORK"; }
trap cleanup EXIT
NGINX_WRAPPER="taskset -c 0" nginx_start --workers 1 --no-https || die "nginx did not start"
cp "$SCRIPT" "$WORK/test.lua"
export STAMPEDE_TOKEN="bench-$$-$RANDOM"
PORT=$((20000 + RANDOM % 20000))

# run_measured OUT CPU cmd...: prints "user sys exit" of cmd (wait4 rusage).
run_measured() {
  local out="$1" cpu="$2"
  shift 2
  python3 - "$out" "$((dur_s + 60))" "$cpu" "$@" <<'PY'
import os, subprocess, sys
out, limit, cpu, cmd = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
with open(out, "wb") as o:
    p = subprocess.Popen(["timeout", "-k", "5", limit, "taskset", "-c", cpu] + cmd,
                         stdin=subprocess.DEVNULL, stdout=o, stderr=subprocess.STDOUT)
    _, status, ru = os.wait4(p.pid, 0)
print("%.3f %.3f %d" % (ru.ru_utime, ru.ru_stime, os.waitstatus_to_exitcode(status)))
PY
}

reqs() { sed -n 's/^ *http_reqs\.*: *\([0-9]*\) .*/\1/p' "$1" | head -1; }

TSV="$WORK/runs.tsv"
: >"$TSV"
for ((run = 1; run <= RUNS; run++)); do
  # Standalone: the two segments at once.
  pids=()
  for seg in 0:1/2 1/2:1; do
    out="$WORK/standalone-$run-${seg//\//_}.out"
    run_measured "$out" 1 "$STAMPEDE" run "$WORK/test.lua" -e URL="$NGINX_URL" \
      --vus "$CONNS" --duration "$DURATION" --threads 1 --no-store --quiet \
      --execution-segment "$seg" --execution-segment-sequence 0,1/2,1 >"$out.cpu" &
    pids+=($!)
  done
  wait "${pids[@]}"
  for seg in 0:1/2 1/2:1; do
    out="$WORK/standalone-$run-${seg//\//_}.out"
    read -r u s rc <"$out.cpu"
    printf 'standalone\t%d\t%s\t%s\t%s\t%s\n' "$run" "$u" "$s" "$rc" "$(reqs "$out")" >>"$TSV"
  done
  # Distributed: a coordinator and two agents at once.
  coord_out="$WORK/coord-$run.out"
  run_measured "$coord_out" 0 "$STAMPEDE" coordinator "$WORK/test.lua" --agents 2 \
    --listen "127.0.0.1:$PORT" -e URL="$NGINX_URL" --vus "$CONNS" --duration "$DURATION" \
    --threads 1 --no-store --quiet >"$WORK/coord-$run.cpu" &
  coord=$!
  agents=()
  for i in 0 1; do
    run_measured "$WORK/agent-$run-$i.out" 1 "$STAMPEDE" agent --coordinator "127.0.0.1:$PORT" \
      --index "$i" >"$WORK/agent-$run-$i.cpu" &
    agents+=($!)
  done
  wait "${agents[@]}" "$coord"
  for i in 0 1; do
    read -r u s rc <"$WORK/agent-$run-$i.cpu"
    printf 'agent\t%d\t%s\t%s\t%s\t%s\n' "$run" "$u" "$s" "$rc" "$(reqs "$WORK/agent-$run-$i.out")" >>"$TSV"
  done
  read -r u s rc <"$WORK/coord-$run.cpu"
  printf 'coordinator\t%d\t%s\t%s\t%s\t%s\n' "$run" "$u" "$s" "$rc" "$(reqs "$coord_out")" >>"$TSV"
done

python3 - "$TSV" "$DURATION" "$CONNS" "$RUNS" "$(git -C "$ROOT" rev-parse --short HEAD)" <<'PY'
import statistics, sys
tsv, duration, conns, runs, rev = sys.argv[1:]
rows = [l.rstrip("\n").split("\t") for l in open(tsv)]
by = {}
for kind, run, u, s, rc, n in rows:
    if rc != "0":
        sys.exit("%s run %s exited %s: discard these figures" % (kind, run, rc))
    d = by.setdefault((kind, int(run)), [0.0, 0])
    d[0] += float(u) + float(s)
    d[1] += int(n or 0)
print("## Two agents vs the same segments standalone: %s, %s VUs in all, %s runs (stampede %s)\n"
      % (duration, conns, runs, rev))
print("| run | standalone req/CPU-s | agents req/CPU-s | ratio | coordinator CPU s | merged = sum |")
print("|---:|---:|---:|---:|---:|---|")
ratios = []
for r in range(1, int(runs) + 1):
    sc, sn = by[("standalone", r)]
    ac, an = by[("agent", r)]
    cc, cn = by[("coordinator", r)]
    ratio = (an / ac) / (sn / sc)
    ratios.append(ratio)
    print("| %d | %s | %s | %.3f | %.2f | %s |" % (r, "{:,.0f}".format(sn / sc), "{:,.0f}".format(an / ac),
          ratio, cc, "yes" if cn == an else "NO (%d vs %d)" % (cn, an)))
print("\nagents / standalone per CPU-s: median %.3f, range %.3f-%.3f"
      % (statistics.median(ratios), min(ratios), max(ratios)))
PY
