#!/usr/bin/env bash
# Throw-away nginx for stampede's tests and benchmarks.
#
# Sourced:
#     source tests/support/nginx.sh
#     NGINX_WRAPPER="taskset -c 0" nginx_start [--workers N] [--no-https] [--access-log]
#     curl "$NGINX_URL"            # http://127.0.0.1:PORT/  (index.html, 612 bytes)
#     curl "${NGINX_URL}big.bin"   # 100 KiB
#     curl --cacert "$NGINX_CA_CERT" "$NGINX_HTTPS_URL"
#     nginx_stop                   # also runs from the EXIT/INT/TERM trap set by nginx_start
#   nginx_start exports NGINX_PID NGINX_PORT NGINX_URL NGINX_PREFIX NGINX_HTTPS_PORT
#   NGINX_HTTPS_URL NGINX_CA_CERT and returns non-zero (with the reason on stderr)
#   if nginx could not be started. It installs `trap nginx_stop EXIT` (and INT/TERM,
#   which stop nginx then exit 130/143); a caller with its own EXIT trap should call
#   nginx_stop from it. Set NGINX_NO_TRAP=1 to install no trap at all.
#
# Executed:
#     tests/support/nginx.sh [--workers N] [--no-https] [--access-log] [--max-seconds S]
#   starts nginx, prints the `export NAME=value` lines, serves until Ctrl-C / SIGTERM
#   or S seconds (default 600), then stops nginx and removes its directory.
#
# The work (config, cert, free ports, retry on bind failure, readiness) is done by
# nginx_conf.py beside this file; see its header for the site's content.

_NGINX_SH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

nginx_stop() {
  local pid="${NGINX_PID:-}" i
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    # nginx is not our child (nginx_conf.py started it detached): poll, bounded.
    for ((i = 0; i < 200; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
    fi
  fi
  if [[ -n "${NGINX_PREFIX:-}" && -d "$NGINX_PREFIX" && "$NGINX_PREFIX" == */stampede-nginx-* ]]; then
    rm -rf -- "$NGINX_PREFIX"
  fi
  NGINX_PID=""
  NGINX_PREFIX=""
}

nginx_start() {
  local out
  out="$(python3 "$_NGINX_SH_DIR/nginx_conf.py" start --wrapper "${NGINX_WRAPPER:-}" "$@")" || {
    echo "nginx_start: could not start nginx" >&2
    return 1
  }
  eval "$out"
  export NGINX_PID NGINX_PORT NGINX_URL NGINX_PREFIX NGINX_HTTPS_PORT NGINX_HTTPS_URL NGINX_CA_CERT \
    NGINX_H2C_URL
  if [[ -z "${NGINX_NO_TRAP:-}" ]]; then
    trap nginx_stop EXIT
    trap 'nginx_stop; trap - INT; exit 130' INT
    trap 'nginx_stop; trap - TERM; exit 143' TERM
  fi
}

nginx_print_exports() {
  local v
  for v in NGINX_PID NGINX_PORT NGINX_URL NGINX_PREFIX NGINX_HTTPS_PORT NGINX_HTTPS_URL NGINX_CA_CERT \
           NGINX_H2C_URL; do
    printf 'export %s=%q\n' "$v" "${!v}"
  done
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -u
  max_seconds=600
  args=()
  while (($#)); do
    case "$1" in
      --max-seconds) max_seconds="$2"; shift 2 ;;
      -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
      *) args+=("$1"); shift ;;
    esac
  done
  nginx_start "${args[@]}" || exit 1
  nginx_print_exports
  echo "# nginx running (pid $NGINX_PID); Ctrl-C to stop (auto-stop after ${max_seconds}s)" >&2
  end=$((SECONDS + max_seconds))
  while ((SECONDS < end)) && kill -0 "$NGINX_PID" 2>/dev/null; do
    sleep 1
  done
  exit 0
fi
