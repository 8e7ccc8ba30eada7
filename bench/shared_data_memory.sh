#!/usr/bin/env bash
# Shared test data (issue #9): stampede.data keeps one copy of a dataset per
# process, not one per VU or per worker thread. Budget: 100 MB of CSV read by
# 1000 VUs costs no more than the data + 1 GB of peak RSS.
#
# Method: a generated CSV (ROWS rows x 4 columns, ~100 MB by default), the
# same 1000-VU script run twice — once loading the CSV with data.csv() and
# reading users:perVu(), users:unique() (exhausted = "wrap") and
# users:random() every iteration, once without any data — and the peak RSS
# (GNU time's %M) of each, with --no-store. No network. Every worker thread (THREADS) runs the
# script's init, so without sharing the data would be held THREADS+1 times.
#
#   bench/shared_data_memory.sh
#   ROWS=200000 HOLD=5s STAMPEDE=build-data/src/cli/stampede bench/shared_data_memory.sh
set -euo pipefail
cd "$(dirname "$0")/.."
STAMPEDE="${STAMPEDE:-build/src/cli/stampede}"
ROWS="${ROWS:-1500000}"
VUS="${VUS:-1000}"
HOLD="${HOLD:-10s}"
THREADS="${THREADS:-2}"
[ -x "$STAMPEDE" ] || { echo "shared_data_memory: build stampede first ($STAMPEDE)" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

python3 - "$tmp/users.csv" "$ROWS" <<'PY'
import sys
path, rows = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    f.write("username,password,email,token\n")
    for i in range(rows):
        f.write(f"user{i:08d},pw-{i * 7919 % 1000003:07d}-secret,user{i:08d}@example.test,"
                f"tok{i * 2654435761 % 4294967296:010d}\n")
PY
size=$(stat -c %s "$tmp/users.csv")

cat > "$tmp/with.lua" <<LUA
local data = require("stampede.data")
local users = data.csv(ENV.DATA, { header = true, exhausted = "wrap" })
options = { vus = $VUS, duration = "$HOLD", gracefulStop = "1s" }
local n = 0
function default()
  local a, b, c = users:perVu(), users:unique(), users:random()
  n = n + #a.username + #b.password + #c.email
  sleep(0.5)
end
LUA
cat > "$tmp/without.lua" <<LUA
options = { vus = $VUS, duration = "$HOLD", gracefulStop = "1s" }
local n = 0
function default()
  local a, b, c = { username = "x" }, { password = "y" }, { email = "z" }
  n = n + #a.username + #b.password + #c.email
  sleep(0.5)
end
LUA

# run SCRIPT → "peak_kib iterations"
run() {
  /usr/bin/time -f '%M' -o "$tmp/rss" "$STAMPEDE" run "$1" -e DATA="$tmp/users.csv" \
    --threads "$THREADS" --no-store --quiet --summary-export "$tmp/summary.json" >/dev/null 2>"$tmp/err" || {
      echo "shared_data_memory: run failed ($1):" >&2; cat "$tmp/err" >&2; exit 1; }
  local its
  its=$(python3 -c "import json;print(int(json.load(open('$tmp/summary.json'))['metrics']['iterations']['count']))")
  echo "$(tail -n 1 "$tmp/rss") $its"
}

read -r without its_without < <(run "$tmp/without.lua")
read -r with its_with < <(run "$tmp/with.lua")
python3 - "$size" "$without" "$with" "$its_without" "$its_with" "$VUS" "$THREADS" "$ROWS" <<'PY'
import sys
size, without, with_, its_wo, its_w, vus, threads, rows = map(int, sys.argv[1:])
mib = lambda kib: kib / 1024
delta = with_ - without
budget_kib = size / 1024 + 1024 * 1024
print(f"| case | VUs | threads | iterations | peak RSS |")
print(f"|---|---:|---:|---:|---:|")
print(f"| without data | {vus} | {threads} | {its_wo} | {mib(without):.0f} MiB |")
print(f"| data.csv, {rows} rows, {size / 1e6:.1f} MB | {vus} | {threads} | {its_w} | {mib(with_):.0f} MiB |")
print()
print(f"difference: {mib(delta):.0f} MiB = {delta * 1024 / size:.2f} x the file size "
      f"({size / 1048576:.0f} MiB); budget: data + 1 GB -> peak RSS <= {mib(budget_kib):.0f} MiB: "
      f"{'OK' if with_ <= budget_kib else 'OVER'}")
PY
