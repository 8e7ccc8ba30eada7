#!/usr/bin/env bash
# Memory per virtual user (issue #3's budget: ≤ 4 KiB per mostly-sleeping VU,
# ≤ 8 KiB per VU that holds an idle keep-alive connection).
#
# Method: peak RSS (GNU time's %M) of a whole run, minus the peak RSS of the
# same script with 1 VU, divided by the VU count. Kernel socket buffers are
# not in RSS; what is measured is stampede's own memory (Lua coroutine, VU
# state, connection object, request/response buffers).
#
#   bench/vus_memory.sh                 # 100000 sleeping VUs, 5000 keep-alive VUs
#   SLEEPING=20000 KEEPALIVE=2000 STAMPEDE=build/src/cli/stampede bench/vus_memory.sh
set -euo pipefail
cd "$(dirname "$0")/.."
STAMPEDE="${STAMPEDE:-build/src/cli/stampede}"
SLEEPING="${SLEEPING:-100000}"
KEEPALIVE="${KEEPALIVE:-5000}"
HOLD="${HOLD:-8s}"
[ -x "$STAMPEDE" ] || { echo "vus_memory: build stampede first ($STAMPEDE)" >&2; exit 1; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

source tests/support/nginx.sh
NGINX_NO_TRAP=1 nginx_start --no-https >/dev/null
trap 'nginx_stop; rm -rf "$tmp"' EXIT

cat > "$tmp/sleep.lua" <<LUA
options = { vus = tonumber(ENV.VUS), duration = "$HOLD", gracefulStop = "0s" }
function default() sleep(3600) end
LUA
cat > "$tmp/keepalive.lua" <<LUA
local http = require("stampede.http")
options = { vus = tonumber(ENV.VUS), duration = "$HOLD", gracefulStop = "0s" }
function default()
  local r = http.get(ENV.URL)
  if r.status ~= 200 then error("status " .. r.status) end
  sleep(3600)  -- the connection stays open, idle, in the VU's pool
end
LUA

# peak_kib SCRIPT VUS → peak RSS in KiB of one run (1 worker thread, so the
# per-thread baseline does not scale with VUs).
peak_kib() {
  /usr/bin/time -f '%M' -o "$tmp/rss" "$STAMPEDE" run "$1" -e VUS="$2" -e URL="$NGINX_URL" \
    --threads 1 --quiet --summary-export "$tmp/summary.json" >/dev/null 2>"$tmp/err" || {
      echo "vus_memory: run failed ($1, $2 VUs):" >&2; cat "$tmp/err" >&2; exit 1; }
  tail -n 1 "$tmp/rss"
}

base_sleep=$(peak_kib "$tmp/sleep.lua" 1)
many_sleep=$(peak_kib "$tmp/sleep.lua" "$SLEEPING")
base_ka=$(peak_kib "$tmp/keepalive.lua" 1)
many_ka=$(peak_kib "$tmp/keepalive.lua" "$KEEPALIVE")
reqs=$(python3 -c "import json;print(int(json.load(open('$tmp/summary.json'))['metrics']['http_reqs']['count']))")

per_sleep=$(python3 -c "print(f'{($many_sleep-$base_sleep)*1024/$SLEEPING:.0f}')")
per_ka=$(python3 -c "print(f'{($many_ka-$base_ka)*1024/$KEEPALIVE:.0f}')")
cat <<MD
| case | VUs | peak RSS (1 VU) | peak RSS (N VUs) | bytes per VU | budget |
|---|---:|---:|---:|---:|---:|
| sleeping (\`sleep()\` in \`default\`) | $SLEEPING | ${base_sleep} KiB | ${many_sleep} KiB | **$per_sleep** | 4096 |
| idle keep-alive connection (one \`http.get\`, then sleep; $reqs requests) | $KEEPALIVE | ${base_ka} KiB | ${many_ka} KiB | **$per_ka** | 8192 |
MD
