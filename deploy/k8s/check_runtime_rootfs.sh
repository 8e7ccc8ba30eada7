#!/usr/bin/env bash
# Checks the runtime stage of deploy/k8s/Dockerfile without a container
# engine: builds the same Debian 12 root file system with debootstrap
# (minbase, then the Dockerfile's own `apt-get install` list, read from the
# Dockerfile so the two cannot drift), copies the binary in, and inside a
# chroot checks that every library resolves, that `stampede --version` runs,
# and that a real run works there: --url mode and a Lua script that uses
# res:json() (lua-cjson) against a server on 127.0.0.1 that this script
# starts. Not part of CI (it downloads ~100 MB of packages); run by hand
# after changing the Dockerfile or the binary's libraries:
#
#   deploy/k8s/check_runtime_rootfs.sh [BINARY]   (as root; default build/src/cli/stampede)
#
# Environment: ROOTFS (default <repo>/build-rootfs; reused when present),
# MIRROR (default http://deb.debian.org/debian).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${1:-$ROOT/build/src/cli/stampede}
ROOTFS=${ROOTFS:-$ROOT/build-rootfs}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
DOCKERFILE=$ROOT/deploy/k8s/Dockerfile

[ "$(id -u)" = 0 ] || { echo "check_runtime_rootfs.sh: run as root (debootstrap, chroot)" >&2; exit 2; }
[ -x "$BIN" ] || { echo "check_runtime_rootfs.sh: $BIN is not built" >&2; exit 2; }
command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null

# The runtime stage's package list: the words after `--no-install-recommends`
# up to the `&&` that ends the install, in the stage after the last FROM.
packages=$(awk '/^FROM /{stage++} {print stage "\t" $0}' "$DOCKERFILE" |
  awk -F'\t' -v last="$(grep -c '^FROM ' "$DOCKERFILE")" '$1 == last {print $2}' |
  sed -n '/--no-install-recommends/,/&& rm -rf/p' |
  sed 's/.*--no-install-recommends//; s/&& rm -rf.*//; s/\\$//' | tr -s ' \n' ' ')
[ -n "${packages// /}" ] || { echo "check_runtime_rootfs.sh: no package list found in $DOCKERFILE" >&2; exit 1; }
echo "runtime packages: $packages"

if [ ! -x "$ROOTFS/usr/bin/apt-get" ]; then
  echo "debootstrap bookworm (minbase) into $ROOTFS"
  debootstrap --variant=minbase bookworm "$ROOTFS" "$MIRROR" >"${TMPDIR:-/tmp}/stampede-rootfs.log" 2>&1 || {
    tail -20 "${TMPDIR:-/tmp}/stampede-rootfs.log" >&2
    exit 1
  }
fi
mounted=()
cleanup() {
  for m in "${mounted[@]}"; do umount -l "$m" 2>/dev/null || true; done
  [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null || true
}
trap cleanup EXIT
for fs in proc dev; do
  mountpoint -q "$ROOTFS/$fs" || { mount --bind "/$fs" "$ROOTFS/$fs"; mounted+=("$ROOTFS/$fs"); }
done
cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
# shellcheck disable=SC2086
chroot "$ROOTFS" env DEBIAN_FRONTEND=noninteractive sh -c \
  "apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $packages >/dev/null"
install -m 0755 "$BIN" "$ROOTFS/usr/local/bin/stampede"

missing=$(chroot "$ROOTFS" ldd /usr/local/bin/stampede | grep 'not found' || true)
[ -z "$missing" ] || { echo "FAIL: libraries missing from the image:"; echo "$missing"; exit 1; }
echo "ok: every library of the binary resolves"
chroot "$ROOTFS" /usr/local/bin/stampede --version

# A target on loopback (the chroot shares the network namespace).
port_file=$(mktemp)
python3 - "$port_file" <<'EOF' &
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"ok": True, "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(s.server_address[1]))
s.serve_forever()
EOF
server_pid=$!
for _ in $(seq 100); do [ -s "$port_file" ] && break; sleep 0.1; done
port=$(cat "$port_file")
[ -n "$port" ] || { echo "FAIL: the test server did not start"; exit 1; }

chroot "$ROOTFS" /usr/local/bin/stampede run --url "http://127.0.0.1:$port/url" --iterations 20 \
  --vus 2 --no-store --quiet --summary-export /tmp/url.json >/dev/null
grep -q '"http_reqs"' "$ROOTFS/tmp/url.json" || { echo "FAIL: --url run wrote no summary"; exit 1; }
cat >"$ROOTFS/tmp/json.lua" <<'EOF'
local http = require("stampede.http")
options = { iterations = 10, vus = 1 }
function default()
  local res = http.get(ENV.URL .. "/script")
  check(res, { ["json says ok"] = function(r) return r:json().ok == true end })
end
EOF
chroot "$ROOTFS" /usr/local/bin/stampede run /tmp/json.lua -e URL="http://127.0.0.1:$port" \
  --no-store --quiet --threshold 'checks:rate==1' >/dev/null || {
  echo "FAIL: the script run failed in the image's file system"
  exit 1
}
echo "ok: --url and a script with res:json() run in the image's file system"
