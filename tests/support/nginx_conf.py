#!/usr/bin/env python3
"""Runs a throw-away nginx for stampede's tests and benchmarks (python3 stdlib only).

Everything lives in a temp prefix directory: generated nginx.conf, pid file,
logs, temp paths, the static site and a self-signed certificate. nginx runs
with `daemon off` (the started process is the master), listens on 127.0.0.1
only, on ports found free by binding port 0; if nginx fails to bind, it is
retried with new ports.

Site (same on the HTTP and HTTPS servers):
  /             index.html, exactly 612 bytes (like nginx's default page)
  /big.bin      102400 bytes (100 KiB)
  /__ready.txt  a random token; readiness = a GET on it returns that token
                (so a foreign server that grabbed the port is never mistaken
                for ours)
  /huge.bin     4 MiB (with http2=True: larger than HTTP/2's default windows)

With http2=True the HTTPS server also speaks h2 (ALPN), and a third server
speaks h2c with prior knowledge on ngx.h2c_port / ngx.h2c_url (nginx 1.22's
`listen ... http2`). h2_keepalive_requests=N makes those servers send GOAWAY
after N requests on a connection (nginx's keepalive_requests).

As a module (tests):
    from nginx_conf import Nginx
    with Nginx(workers=1, https=True, access_log=False) as ngx:
        ngx.url, ngx.https_url, ngx.port, ngx.https_port, ngx.cert_path,
        ngx.access_log_path (when access_log=True)

As a command:
    nginx_conf.py start  [--workers N] [--no-https] [--access-log]
                         [--wrapper 'taskset -c 0'] [--prefix DIR]
        starts nginx detached, waits until ready, prints shell assignments
        (NGINX_PID=.. NGINX_PORT=.. NGINX_HTTPS_PORT=.. NGINX_URL=..
        NGINX_HTTPS_URL=.. NGINX_PREFIX=.. NGINX_CA_CERT=..) and exits 0;
        the caller stops nginx (kill NGINX_PID) and removes NGINX_PREFIX.
        Used by nginx.sh.
    nginx_conf.py run    [same options] [--max-seconds N]
        starts nginx, prints the same lines, serves until SIGINT/SIGTERM or
        --max-seconds (default 600), then stops it and removes the prefix.
"""

import argparse
import http.client
import os
import secrets
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

NGINX_BIN = os.environ.get("NGINX_BIN") or shutil.which("nginx") or "/usr/sbin/nginx"
INDEX_SIZE = 612
BIG_SIZE = 100 * 1024
START_ATTEMPTS = 5
# nginx retries a failed bind() 5 times, 500 ms apart, before giving up: the
# readiness budget must outlast that so a bind failure is seen as an exit.
READY_POLLS = 300
READY_POLL_INTERVAL = 0.05

_INDEX_HEAD = """<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
<style>
body { width: 35em; margin: 0 auto;
font-family: Tahoma, Verdana, Arial, sans-serif; }
</style>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and
working. Further configuration is required.</p>

<p>For online documentation and support please refer to
<a href="http://nginx.org/">nginx.org</a>.<br/>
Commercial support is available at
<a href="http://nginx.com/">nginx.com</a>.</p>

<p><em>Thank you for using nginx.</em></p>
"""
_INDEX_TAIL = "</body>\n</html>\n"


def index_html():
    """The 612-byte static page: nginx's welcome page, padded by a comment."""
    base = len(_INDEX_HEAD) + len(_INDEX_TAIL)
    pad = INDEX_SIZE - base - len("<!--  -->\n")
    assert pad >= 0
    page = _INDEX_HEAD + "<!-- " + "s" * pad + " -->\n" + _INDEX_TAIL
    assert len(page.encode()) == INDEX_SIZE
    return page


def free_port(host="127.0.0.1"):
    """A port that was free a moment ago (bind to port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def generate_cert(directory):
    """Self-signed EC cert for localhost / 127.0.0.1; returns (cert, key)."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
         "-days", "7", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
    return cert, key


def render_conf(prefix, port, https_port, workers, access_log, cert, key,
                h2c_port=None, h2_keepalive_requests=None):
    p = prefix
    h2 = " http2" if h2c_port else ""
    h2_limit = (f"keepalive_requests {h2_keepalive_requests};"
                if h2_keepalive_requests else "")
    # Which connection served each request, in which protocol (the h2 tests
    # count connections from it).
    h2_log = ""
    if h2c_port:
        h2_limit += f"\n        access_log {p}/logs/h2.log h2conn;"
        h2_log = "log_format h2conn '$connection $server_protocol $status $request_uri';"
    h2c_server = ""
    if h2c_port:
        h2c_server = f"""
    server {{
        listen 127.0.0.1:{h2c_port} http2;
        server_name localhost;
        root {p}/html;
        {h2_limit}
        location / {{ index index.html; }}
    }}
"""
    access = ("access_log %s/logs/access.log;" % p) if access_log else "access_log off;"
    https_server = ""
    if https_port:
        https_server = f"""
    server {{
        listen 127.0.0.1:{https_port} ssl{h2};
        server_name localhost;
        {h2_limit}
        root {p}/html;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_tickets on;
        ssl_session_cache shared:TESTSSL:1m;
        location / {{ index index.html; }}
    }}
"""
    return f"""# generated by tests/support/nginx_conf.py
worker_processes {workers};
daemon off;
master_process on;
pid {p}/nginx.pid;
error_log {p}/logs/error.log warn;
worker_rlimit_nofile 16384;
events {{
    worker_connections 8192;
}}
http {{
    {access}
    client_body_temp_path {p}/tmp/body;
    proxy_temp_path {p}/tmp/proxy;
    fastcgi_temp_path {p}/tmp/fastcgi;
    uwsgi_temp_path {p}/tmp/uwsgi;
    scgi_temp_path {p}/tmp/scgi;
    types {{
        text/html html;
        text/plain txt;
        application/octet-stream bin;
    }}
    default_type application/octet-stream;
    {h2_log}
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        root {p}/html;
        location / {{ index index.html; }}
    }}
{https_server}{h2c_server}}}
"""


def _get(port, path, use_tls, timeout=1.0):
    if use_tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        c = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=ctx)
    else:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


class NginxError(RuntimeError):
    pass


class Nginx:
    """One nginx instance in its own temp prefix. Use as a context manager."""

    def __init__(self, workers=1, https=True, access_log=False, wrapper=None,
                 prefix=None, detach=False, http2=False, h2_keepalive_requests=None):
        self.http2 = http2
        self.h2_keepalive_requests = h2_keepalive_requests
        self.h2c_port = None
        self.workers = workers
        self.https = https
        self.access_log = access_log
        self.wrapper = list(wrapper or [])
        self.detach = detach
        self._own_prefix = prefix is None
        self.prefix = prefix or tempfile.mkdtemp(prefix="stampede-nginx-")
        self.proc = None
        self.port = None
        self.https_port = None
        self.token = secrets.token_hex(16)
        self.cert_path = None
        self.key_path = None

    # --- properties -------------------------------------------------------
    @property
    def url(self):
        return "http://127.0.0.1:%d/" % self.port

    @property
    def https_url(self):
        return "https://127.0.0.1:%d/" % self.https_port if self.https_port else None

    @property
    def h2c_url(self):
        return "http://127.0.0.1:%d/" % self.h2c_port if self.h2c_port else None

    @property
    def h2_log_path(self):
        """With http2=True: 'connection protocol status uri' per request."""
        return os.path.join(self.prefix, "logs", "h2.log")

    @property
    def access_log_path(self):
        return os.path.join(self.prefix, "logs", "access.log")

    @property
    def conf_path(self):
        return os.path.join(self.prefix, "nginx.conf")

    @property
    def error_log_path(self):
        return os.path.join(self.prefix, "logs", "error.log")

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    # --- lifecycle --------------------------------------------------------
    def _prepare_tree(self):
        for d in ("html", "logs", "tmp"):
            os.makedirs(os.path.join(self.prefix, d), exist_ok=True)
        # Workers may run as `nobody` when the master is root: make the site readable.
        os.chmod(self.prefix, 0o755)
        os.chmod(os.path.join(self.prefix, "html"), 0o755)
        os.chmod(os.path.join(self.prefix, "tmp"), 0o777)
        with open(os.path.join(self.prefix, "html", "index.html"), "w") as f:
            f.write(index_html())
        with open(os.path.join(self.prefix, "html", "big.bin"), "wb") as f:
            f.write(b"B" * BIG_SIZE)
        with open(os.path.join(self.prefix, "html", "__ready.txt"), "w") as f:
            f.write(self.token)
        if self.http2:
            with open(os.path.join(self.prefix, "html", "huge.bin"), "wb") as f:
                f.write(b"H" * (4 << 20))
            os.chmod(os.path.join(self.prefix, "html", "huge.bin"), 0o644)
        for name in ("index.html", "big.bin", "__ready.txt"):
            os.chmod(os.path.join(self.prefix, "html", name), 0o644)
        if self.https:
            self.cert_path, self.key_path = generate_cert(self.prefix)
            os.chmod(self.cert_path, 0o644)

    def _preexec(self):
        # Own process group (a Ctrl-C to the test runner does not hit nginx
        # directly), and, unless detached, die with the parent (PR_SET_PDEATHSIG)
        # so nginx never outlives a killed runner.
        os.setpgrp()
        if not self.detach:
            try:
                import ctypes
                libc = ctypes.CDLL(None, use_errno=True)
                libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
            except Exception:
                pass

    def _ready(self):
        """Polls (bounded) until both servers answer with our token."""
        for _ in range(READY_POLLS):
            if self.proc.poll() is not None:
                return False
            try:
                ok = True
                for port, tls in ((self.port, False), (self.https_port, True)):
                    if not port:
                        continue
                    status, body = _get(port, "/__ready.txt", tls)
                    if status != 200 or body.decode(errors="replace") != self.token:
                        ok = False
                if ok:
                    return True
            except (OSError, http.client.HTTPException, ssl.SSLError):
                pass
            time.sleep(READY_POLL_INTERVAL)
        return False

    def start(self):
        try:
            self._prepare_tree()
        except BaseException:
            self.stop()
            raise
        last_error = ""
        for _ in range(START_ATTEMPTS):
            self.port = free_port()
            self.https_port = free_port() if self.https else None
            while self.https_port == self.port:
                self.https_port = free_port()
            self.h2c_port = None
            if self.http2:
                self.h2c_port = free_port()
                while self.h2c_port in (self.port, self.https_port):
                    self.h2c_port = free_port()
            # nginx binds every listener before serving: once the HTTP and
            # HTTPS servers answer with our token, the h2c port is ours too.
            with open(self.conf_path, "w") as f:
                f.write(render_conf(self.prefix, self.port, self.https_port, self.workers,
                                    self.access_log, self.cert_path, self.key_path,
                                    self.h2c_port, self.h2_keepalive_requests))
            out = open(os.path.join(self.prefix, "logs", "nginx.stderr"), "ab")
            cmd = self.wrapper + [NGINX_BIN, "-p", self.prefix, "-c", self.conf_path,
                                  "-e", self.error_log_path]
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=out, preexec_fn=self._preexec)
            out.close()
            if self._ready():
                return self
            last_error = self._error_tail()
            self._kill()
        self.stop()
        raise NginxError("nginx did not become ready after %d attempts:\n%s"
                         % (START_ATTEMPTS, last_error))

    def _error_tail(self):
        text = ""
        for name in ("error.log", "nginx.stderr"):
            try:
                with open(os.path.join(self.prefix, "logs", name), errors="replace") as f:
                    text += f.read()[-2000:]
            except OSError:
                pass
        return text

    def _kill(self):
        if not self.proc or self.proc.poll() is not None:
            return
        self.proc.terminate()  # SIGTERM: fast shutdown of master and workers
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            self.proc.wait(timeout=10)

    def stop(self):
        self._kill()
        if self._own_prefix:
            shutil.rmtree(self.prefix, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def shell_assignments(self):
        vals = {
            "NGINX_PID": self.pid,
            "NGINX_PORT": self.port,
            "NGINX_URL": self.url,
            "NGINX_PREFIX": self.prefix,
            "NGINX_HTTPS_PORT": self.https_port or "",
            "NGINX_HTTPS_URL": self.https_url or "",
            "NGINX_CA_CERT": self.cert_path or "",
            "NGINX_H2C_URL": self.h2c_url or "",
        }
        return "\n".join("%s=%s" % (k, shlex.quote(str(v))) for k, v in vals.items())


class SharedNginx:
    """One nginx started on first use and shared by a test runner's cases."""

    def __init__(self, **kwargs):
        self._kwargs = kwargs
        self._nginx = None

    def get(self):
        if self._nginx is None:
            self._nginx = Nginx(**self._kwargs).start()
        return self._nginx

    def stop(self):
        if self._nginx:
            self._nginx.stop()
            self._nginx = None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("command", choices=["start", "run"])
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--no-https", action="store_true")
    ap.add_argument("--access-log", action="store_true")
    ap.add_argument("--http2", action="store_true", help="h2 on HTTPS, and an h2c server")
    ap.add_argument("--wrapper", default="", help="command prefix, e.g. 'taskset -c 0'")
    ap.add_argument("--prefix", default=None, help="directory to use (default: new temp dir)")
    ap.add_argument("--max-seconds", type=float, default=600.0)
    args = ap.parse_args()

    ngx = Nginx(workers=args.workers, https=not args.no_https, access_log=args.access_log,
                wrapper=shlex.split(args.wrapper), prefix=args.prefix,
                detach=(args.command == "start"), http2=args.http2)
    try:
        ngx.start()
    except (NginxError, subprocess.SubprocessError, OSError) as e:
        print("nginx_conf.py: %s" % e, file=sys.stderr)
        return 1
    print(ngx.shell_assignments(), flush=True)
    if args.command == "start":
        return 0

    stop = {"flag": False}

    def on_signal(signum, frame):
        stop["flag"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    deadline = time.monotonic() + args.max_seconds
    try:
        while not stop["flag"] and time.monotonic() < deadline and ngx.proc.poll() is None:
            time.sleep(0.2)
    finally:
        ngx.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
