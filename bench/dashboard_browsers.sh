#!/usr/bin/env bash
# What the live dashboard costs the load with three real browsers on it, as
# throughput per generator CPU-second, side by side in one run (issue 10's
# goal: within 3 %).
#
#   bench/dashboard_browsers.sh          # DURATION (10s), RUNS (5), CONNS (50), PORT (18998),
#                                        # PAGES (3), STAMPEDE, CHROMIUM (/usr/bin/chromium)
#
# bench/vs_wrk.sh in its A/B mode: each round runs bench/get_check.lua
# (CONNS VUs, one thread, generator on CPU 1) without the dashboard
# ("stampede"), then with `--ui 127.0.0.1:PORT` ("stampede-b"), then wrk.
# Meanwhile bench/dashboard_browsers.js keeps PAGES headless Chromium pages
# on the dashboard (not pinned: pinned with the saturated nginx they were too
# starved to connect in time; the figure is the generator's own CPU time, so
# the browsers' CPU does not count in it): each page loads the dashboard as
# soon as it is up and follows the run to its end. Every "stampede-b" run's summary JSON must report at least
# PAGES dashboard clients, else the figures are discarded (exit 1).
# Read the ratio stampede-b / stampede of requests per generator CPU-second.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${PORT:-18998}"
PAGES="${PAGES:-3}"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
NGINX_CPU="${NGINX_CPU:-0}"
die() { echo "dashboard_browsers.sh: $*" >&2; exit 1; }
[[ -x "$CHROMIUM" ]] || die "$CHROMIUM not found (Debian's chromium; or set CHROMIUM=)"
command -v node >/dev/null || die "node not found"

LOG="$(mktemp /tmp/stampede-ui-browsers-XXXXXX.log)"
node "$ROOT/bench/dashboard_browsers.js" --port "$PORT" --pages "$PAGES" \
  --chromium "$CHROMIUM" >"$LOG" 2>&1 &
DRIVER=$!
cleanup() { kill "$DRIVER" 2>/dev/null || true; wait "$DRIVER" 2>/dev/null || true; rm -f "$LOG"; }
trap cleanup EXIT
for _ in $(seq 1 600); do  # the browser is up (bounded: 60 s)
  grep -q '^ready' "$LOG" && break
  kill -0 "$DRIVER" 2>/dev/null || { cat "$LOG" >&2; die "the browser driver exited"; }
  sleep 0.1
done
grep -q '^ready' "$LOG" || die "Chromium did not start within 60 s"

ERR="$(mktemp /tmp/stampede-ui-browsers-XXXXXX.err)"
KEEP=1 SCRIPT="$ROOT/bench/get_check.lua" SCRIPT_B="$ROOT/bench/get_check.lua" \
  EXTRA_B="--ui 127.0.0.1:$PORT" NGINX_CPU="$NGINX_CPU" "$ROOT/bench/vs_wrk.sh" 2>"$ERR"
work="$(sed -n 's/^raw outputs kept in //p' "$ERR")"
rm -f "$ERR"
[[ -d "$work" ]] || die "vs_wrk.sh kept no outputs"
python3 - "$work" "$PAGES" <<'PY'
import glob, json, sys
work, pages = sys.argv[1], int(sys.argv[2])
bad = []
for path in sorted(glob.glob(work + "/stampede-b-*.json")):
    d = json.load(open(path)).get("dashboard") or {}
    print("%s: %s dashboard clients, %s dropped" % (path.rsplit("/", 1)[1], d.get("clients"),
                                                   d.get("dropped")))
    if (d.get("clients") or 0) < pages:
        bad.append(path)
if bad:
    sys.exit("fewer than %d browsers followed %s: discard these figures" % (pages, ", ".join(bad)))
PY
echo "browser connections: $(grep -c '^connected' "$LOG")"
rm -rf -- "$work"
