#!/usr/bin/env python3
"""The fault matrix (issue #12, "Hardening"): stampede against misbehaving
servers it cannot trust (python3 stdlib + the `openssl` CLI).

    python3 tests/faults/run_faults.py --stampede build/src/cli/stampede [-k SUBSTR ...] [--list] [-j N]

Every case starts its own misbehaving server on 127.0.0.1 (never another
address): tests/support/fault_server.py for HTTP faults, and servers defined
here for TLS (certificates generated at test time with `openssl` into the
case's temp dir), DNS (UDP, passed with --dns-server) and a fake OTLP/HTTP
collector with one mode per telemetry fault. Servers are waited for through
their readiness (a `listening on PORT` line, or a bound socket), never with
fixed sleeps; every stampede run has a subprocess timeout, so nothing can
hang the matrix.

Each case asserts
  - the run ends on time: its wall time stays under duration + the timeouts
    it was given + a fixed slack (the subprocess timeout is the hard bound),
    with the expected exit code and the end-of-test summary on stdout;
  - errors are counted by type: the --summary-export JSON's `errors` object
    names exactly the expected type, and its count equals what the server saw
    (fault_server's /stats, or our server's own counters) where that is exact;
  - telemetry faults leave the load alone: an open model (constant-arrival-
    rate, RATE/s for DURATION) starts exactly as many iterations as the same
    run against a healthy fake collector (RATE x DURATION), none dropped, and
    the spans and data points lost are counted in the summary (JSON `spans`,
    `otel_metrics`; the text lines `spans: ...` and `metrics: ...`);
  - memory stays bounded: the peak RSS of the stampede child (ru_maxrss from
    os.wait4 on that one child) is below RSS_BOUND_KB.

Prints one line per case (PASS/FAIL name, wall time, peak RSS, what stampede
did), then a table of peak RSS and the matrix's wall time, then exactly
`N passed, M failed`. Exit code 0 only if all selected cases passed.
"""

import argparse
import concurrent.futures
import http.server
import json
import os
import re
import select
import shutil
import signal
import socket
import socketserver
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
FAULT_SERVER = os.path.join(REPO, "tests", "support", "fault_server.py")
sys.dont_write_bytecode = True

# Peak RSS bound for every run. A stampede run here has 2 worker threads and
# a few VUs; its baseline is ~20 MB. The worst legitimate case is a Lua VU
# keeping a response body: at most 16 MiB kept per response (script
# max_body_bytes) plus its copy as a Lua string, i.e. ~32 MiB per VU, 2 VUs
# here: ~64 MiB + baseline. 300 MB leaves room for allocator slack yet catches
# any body or header accumulation (an endless body streams ~1 GB in its 1.5 s).
RSS_BOUND_KB = 300 * 1024
SLACK_S = 4.0             # start-up, summary, a loaded 2-core machine
RUN_TIMEOUT_S = 60        # hard bound of any one stampede run
READY_TIMEOUT_S = 15      # a server printing its readiness line
DURATION_S = 2            # closed-model target cases
OPEN_RATE = 100           # telemetry cases: iterations started per second ...
OPEN_DURATION_S = 2       # ... for this long ...
OPEN_VUS = 50             # ... with this many VUs (50x headroom: no drops on a loaded machine)
# Exporter settings of the telemetry cases: each bounds how long a fault can
# hold the end of the run.
OTEL_ENV = {
    "OTEL_BSP_SCHEDULE_DELAY": "200",
    "OTEL_EXPORTER_OTLP_TIMEOUT": "500",     # per attempt
    "OTEL_BSP_EXPORT_TIMEOUT": "1500",       # per span batch, retries included
    "OTEL_METRIC_EXPORT_INTERVAL": "500",
    "OTEL_METRIC_EXPORT_TIMEOUT": "1500",    # per metrics export, retries included
}
OTEL_BOUND_S = OPEN_DURATION_S + 1.5 + 1.5 + SLACK_S  # duration + span flush + metrics flush

CASES = []


def case(fn):
    CASES.append(fn)
    return fn


class Skip(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def check_eq(actual, expected, what):
    if actual != expected:
        raise AssertionError("%s: expected %r, got %r" % (what, expected, actual))


def _pdeathsig():
    """preexec_fn: die (SIGKILL) if the runner dies, so nothing outlives it."""
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def refused_port():
    """A port on 127.0.0.1 that refuses connections for as long as the
    returned socket lives (bound, never listening: no other test can take it)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    return s, s.getsockname()[1]


# --------------------------------------------------------------------------
# Running stampede: one child, its own rusage.

class Run:
    def __init__(self, cmd, rc, out, err, elapsed, maxrss_kb, export_path):
        self.cmd, self.rc, self.stdout, self.stderr = cmd, rc, out, err
        self.elapsed, self.maxrss_kb, self.export_path = elapsed, maxrss_kb, export_path
        self._json = None

    def describe(self):
        def tail(s, n=2500):
            return s if len(s) <= n else "...\n" + s[-n:]
        return ("command: %s\nexit code: %s, %.2f s, peak RSS %d KB\n--- stdout ---\n%s\n"
                "--- stderr ---\n%s" % (" ".join(self.cmd), self.rc, self.elapsed,
                                        self.maxrss_kb, tail(self.stdout), tail(self.stderr)))

    @property
    def json(self):
        if self._json is None:
            check(os.path.exists(self.export_path), "--summary-export was not written")
            with open(self.export_path, encoding="utf-8") as f:
                self._json = json.load(f)
        return self._json

    def count(self, metric):
        m = self.json["metrics"].get(metric)
        return 0 if m is None else int(m["count"])

    def errors(self):
        return self.json.get("errors", {})


class Ctx:
    def __init__(self, runner, name):
        self.runner = runner
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix="stampede-faults-%s-" % name)
        self.cleanups = []
        self.runs = []
        self.note = ""

    def path(self, name):
        return os.path.join(self.tmp, name)

    def run(self, *args, env=None, timeout=RUN_TIMEOUT_S):
        export_path = self.path("summary-%d.json" % len(self.runs))
        cmd = [self.runner.stampede, "run", "--no-store", "-q", "--summary-export", export_path]
        cmd += list(args)
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        full_env.update(env or {})
        out_path, err_path = self.path("out-%d" % len(self.runs)), self.path("err-%d" % len(self.runs))
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            start = time.monotonic()
            p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                 env=full_env, cwd=self.tmp, preexec_fn=_pdeathsig)
            rc, ru = None, None
            while True:
                pid, status, ru = os.wait4(p.pid, os.WNOHANG)
                if pid == p.pid:
                    rc = os.waitstatus_to_exitcode(status)
                    break
                if time.monotonic() - start > timeout:
                    p.kill()
                    _, status, ru = os.wait4(p.pid, 0)
                    rc = "killed after %ss" % timeout
                    break
                time.sleep(0.02)
            p.returncode = -1  # reaped here; keep Popen from waiting again
            elapsed = time.monotonic() - start
        with open(out_path, "rb") as f:
            o = f.read().decode("utf-8", "replace")
        with open(err_path, "rb") as f:
            e = f.read().decode("utf-8", "replace")
        r = Run(cmd, rc, o, e, elapsed, ru.ru_maxrss, export_path)
        self.runs.append(r)
        check(not isinstance(rc, str), "stampede did not finish: %s" % rc)
        return r

    def fault_server(self, *args):
        fs = FaultServer(self.tmp, args)
        self.cleanups.append(fs.stop)
        fs.start()
        return fs

    def close(self, keep):
        for fn in reversed(self.cleanups):
            try:
                fn()
            except Exception as e:
                print("  cleanup error in %s: %r" % (self.name, e), flush=True)
        if not keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


def expect_finished(r, rc, bound_s):
    """Exit code, the summary printed, and on time."""
    check(r.rc == rc, "expected exit code %d, got %r" % (rc, r.rc))
    check(re.search(r"^\s*http_reqs\.+:", r.stdout, re.M) or
          re.search(r"^\s*iterations\.+:", r.stdout, re.M),
          "no end-of-test summary on stdout")
    check(r.elapsed <= bound_s, "the run took %.2f s, more than its bound of %.1f s"
          % (r.elapsed, bound_s))
    check(r.maxrss_kb < RSS_BOUND_KB, "peak RSS %d KB is above the bound of %d KB"
          % (r.maxrss_kb, RSS_BOUND_KB))


def expect_only_error(r, etype, server_count=None):
    """All requests failed with `etype`; as many as the server saw if given."""
    errs = r.errors()
    reqs = r.count("http_reqs")
    check(reqs > 0, "no request was made")
    check_eq(errs, {etype: reqs}, "errors by type (all %d requests)" % reqs)
    check(re.search(r"errors by type:\s*\n\s*%s\s+%d\b" % (etype, reqs), r.stdout),
          "the summary's \"errors by type\" block does not show %s %d" % (etype, reqs))
    if server_count is not None:
        check_eq(reqs, server_count, "requests counted by stampede vs seen by the server")


# --------------------------------------------------------------------------
# Servers.

def read_ready_line(proc, what):
    deadline = time.monotonic() + READY_TIMEOUT_S
    line = b""
    while time.monotonic() < deadline and not line.endswith(b"\n"):
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            ch = os.read(proc.stdout.fileno(), 1)
            if not ch:
                break
            line += ch
    m = re.match(rb"listening on (\d+)", line)
    check(m, "%s did not report its port (got %r)" % (what, line))
    return int(m.group(1))


class FaultServer:
    def __init__(self, tmp, args):
        self.args = list(args)
        self.err_path = os.path.join(tmp, "fault-server-%d.stderr" % id(self))
        self.proc = None
        self.port = None

    def start(self):
        with open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, FAULT_SERVER, "--max-seconds", "300"] + self.args,
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                preexec_fn=_pdeathsig)
        self.port = read_ready_line(self.proc, "fault_server")
        return self

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def stats(self):
        with urllib.request.urlopen(self.url("/stats"), timeout=10) as resp:
            return json.loads(resp.read())

    def count(self, path):
        return self.stats()["requests"].get(path, 0)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()


class ThreadServer:
    """Base of the in-process servers: a thread running serve() until stop()."""

    def __init__(self, ctx):
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.counters = {}
        ctx.cleanups.append(self.stop)

    def bump(self, key, n=1):
        with self.lock:
            self.counters[key] = self.counters.get(key, 0) + n

    def get(self, key):
        with self.lock:
            return self.counters.get(key, 0)

    def start_thread(self, target, *args):
        t = threading.Thread(target=target, args=args, daemon=True)
        t.start()
        return t

    def stop(self):
        self.stop_event.set()


class DnsServer(ThreadServer):
    """UDP DNS on 127.0.0.1: mode "nxdomain" answers NXDOMAIN (RCODE 3) to
    every query; mode "drop" reads every query and never answers."""

    def __init__(self, ctx, mode):
        super().__init__(ctx)
        self.mode = mode
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.start_thread(self._serve)

    def _serve(self):
        while not self.stop_event.is_set():
            try:
                data, addr = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            if len(data) < 12:
                continue
            self.bump("queries")
            if self.mode == "drop":
                continue
            qid, flags = struct.unpack("!HH", data[:4])
            rd = flags & 0x0100
            # QR=1, opcode copied, RD copied, RA=1, RCODE=3; question echoed.
            out_flags = 0x8000 | (flags & 0x7800) | rd | 0x0080 | 3
            qdcount = struct.unpack("!H", data[4:6])[0]
            end = 12
            for _ in range(qdcount):
                while end < len(data) and data[end] != 0:
                    end += 1 + data[end]
                end += 5
            resp = struct.pack("!HHHHHH", qid, out_flags, qdcount, 0, 0, 0) + data[12:end]
            try:
                self.sock.sendto(resp, addr)
            except OSError:
                pass

    def stop(self):
        super().stop()
        self.sock.close()


def make_cert(ctx, cn="localhost"):
    """A self-signed certificate for 127.0.0.1/localhost, made now with openssl."""
    if shutil.which("openssl") is None:
        raise Skip("the openssl CLI is not installed")
    cert, key = ctx.path("server.pem"), ctx.path("server.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=" + cn,
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True, timeout=60)
    return cert, key


class TcpServer(ThreadServer):
    """TCP on 127.0.0.1, one thread per connection running handler(sock)."""

    def __init__(self, ctx, handler):
        super().__init__(ctx)
        self.handler = handler
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(128)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]
        self.socks = []
        self.start_thread(self._accept)

    def _accept(self):
        while not self.stop_event.is_set():
            try:
                sock, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.bump("connections")
            with self.lock:
                self.socks.append(sock)
            self.start_thread(self._handle, sock)

    def _handle(self, sock):
        try:
            sock.settimeout(None)
            self.handler(self, sock)
        except Exception:
            pass
        finally:
            try:
                sock.close()
            except OSError:
                pass

    def stop(self):
        super().stop()
        self.lsock.close()
        with self.lock:
            for s in self.socks:
                try:
                    s.close()
                except OSError:
                    pass


def read_some(sock, timeout=5.0):
    sock.settimeout(timeout)
    try:
        return sock.recv(65536)
    except (socket.timeout, OSError):
        return b""


def tls_http_handler(cert, key):
    """TLS server that answers every request with a small 200 (keep-alive)."""
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(cert, key)

    def handle(srv, sock):
        try:
            tls = sctx.wrap_socket(sock, server_side=True)
        except (ssl.SSLError, OSError):
            srv.bump("handshake_failed")
            return
        srv.bump("handshake_ok")
        buf = b""
        while True:
            data = tls.recv(65536)
            if not data:
                return
            buf += data
            while b"\r\n\r\n" in buf:
                _, buf = buf.split(b"\r\n\r\n", 1)
                srv.bump("requests")
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
    return handle


def tls_endless_handler(cert, key):
    """TLS server answering with an endless chunked body (64 KiB chunks)."""
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(cert, key)
    chunk = b"10000\r\n" + b"e" * 0x10000 + b"\r\n"

    def handle(srv, sock):
        tls = sctx.wrap_socket(sock, server_side=True)
        if not tls.recv(65536):
            return
        srv.bump("requests")
        tls.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        while not srv.stop_event.is_set():
            tls.sendall(chunk)
    return handle


def tls_garbage_handler(srv, sock):
    """Reads the ClientHello and answers plain text (not a TLS record)."""
    if read_some(sock):
        srv.bump("client_hellos")
        sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n" * 4)
        sock.shutdown(socket.SHUT_WR)
        read_some(sock, 2.0)


def tls_abort_handler(srv, sock):
    """Reads the ClientHello and aborts the handshake: a fatal TLS alert
    (handshake_failure), then closes."""
    if read_some(sock):
        srv.bump("client_hellos")
        sock.sendall(b"\x15\x03\x03\x00\x02\x02\x28")  # alert, TLS 1.2, fatal, handshake_failure (40)
        sock.shutdown(socket.SHUT_WR)
        read_some(sock, 2.0)


def blackhole_handler(srv, sock):
    """Accepts and reads everything, never answers."""
    sock.settimeout(0.2)
    while not srv.stop_event.is_set():
        try:
            if not sock.recv(65536):
                return
            srv.bump("bytes_in")
        except socket.timeout:
            continue
        except OSError:
            return


class FakeCollector(ThreadServer):
    """OTLP/HTTP collector (POST /v1/traces, /v1/metrics) with one mode:
    ok (200, empty ExportResponse), 503 (+Retry-After: 1), 429 (+Retry-After: 1),
    400; optionally behind TLS. Counts requests per signal and answer."""

    def __init__(self, ctx, mode, tls=None):
        super().__init__(ctx)
        collector = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(n)
                signal_name = self.path.rsplit("/", 1)[-1]
                collector.bump("requests " + signal_name)
                code = {"ok": 200, "503": 503, "429": 429, "400": 400}[mode]
                collector.bump("%s %d" % (signal_name, code))
                body = b"" if code == 200 else b"\x08\x03\x12\x04fake"  # google.rpc.Status
                self.send_response(code)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(body)))
                if code in (429, 503):
                    self.send_header("Retry-After", "1")
                self.end_headers()
                self.wfile.write(body)

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request, client_address):
                collector.bump("broken connections")

        self.httpd = Server(("127.0.0.1", 0), Handler)
        if tls:
            sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            sctx.load_cert_chain(*tls)
            self.httpd.socket = sctx.wrap_socket(self.httpd.socket, server_side=True,
                                                 do_handshake_on_connect=False)
        self.port = self.httpd.server_address[1]
        self.scheme = "https" if tls else "http"
        self.start_thread(self.httpd.serve_forever, 0.1)

    def stop(self):
        super().stop()
        self.httpd.shutdown()
        self.httpd.server_close()


# --------------------------------------------------------------------------
# TARGET side: the service under test misbehaves.

def closed_run(ctx, url, *extra, rc=0, bound=DURATION_S + SLACK_S):
    r = ctx.run("--url", url, "--vus", "2", "--duration", "%ds" % DURATION_S, *extra)
    expect_finished(r, rc, bound)
    return r


@case
def target_connection_refused(ctx):
    holder, port = refused_port()
    ctx.cleanups.append(holder.close)
    r = closed_run(ctx, "http://127.0.0.1:%d/ok" % port)
    expect_only_error(r, "refused")
    ctx.note = "refused x%d" % r.count("http_reqs")


def http_fault_case(path, etype, *extra, timeout_s=0.0):
    def fn(ctx):
        fs = ctx.fault_server()
        r = closed_run(ctx, fs.url(path), *extra, bound=DURATION_S + timeout_s + SLACK_S)
        expect_only_error(r, etype, fs.count(path.split("?")[0]))
        ctx.note = "%s x%d (= server's count)" % (etype, r.count("http_reqs"))
        return r
    return fn


case(http_fault_case("/reset-mid-headers", "reset"))
case(http_fault_case("/reset-mid-body", "reset"))
case(http_fault_case("/garbage", "protocol"))
case(http_fault_case("/oversized-headers", "protocol"))
case(http_fault_case("/stall-after-headers", "timeout", "--timeout", "1s", timeout_s=1.0))
case(http_fault_case("/slow-body?bps=1&bytes=100", "timeout", "--timeout", "1500ms",
                     timeout_s=1.5))
for _fn, _name in zip(CASES[-6:], ["target_reset_mid_headers", "target_reset_mid_body",
                                   "target_garbage_status_line", "target_oversized_headers",
                                   "target_stall_after_headers", "target_slow_body_1bps"]):
    _fn.__name__ = _name


@case
def target_endless_chunked_body(ctx):
    fs = ctx.fault_server()
    r = closed_run(ctx, fs.url("/endless-chunked"), "--timeout", "1500ms",
                   bound=DURATION_S + 1.5 + SLACK_S)
    expect_only_error(r, "timeout", fs.count("/endless-chunked"))
    received = r.count("data_received")
    check(received > 20 * 1024 * 1024,
          "the endless body was not streamed (data_received %d bytes)" % received)
    ctx.note = "timeout x%d after %d MB streamed" % (r.count("http_reqs"), received >> 20)


@case
def target_endless_chunked_body_kept_by_lua(ctx):
    # A script keeps response bodies (res.body, cut at 16 MiB): memory must
    # stay bounded by that cut, not grow with the endless body.
    fs = ctx.fault_server()
    script = ctx.path("keep_body.lua")
    with open(script, "w") as f:
        f.write('local http = require("stampede.http")\n'
                'function default() http.get(ENV.URL) end\n')
    r = ctx.run(script, "-e", "URL=" + fs.url("/endless-chunked"), "--vus", "2", "--duration",
                "%ds" % DURATION_S, "--timeout", "1500ms")
    expect_finished(r, 0, DURATION_S + 1.5 + SLACK_S)
    expect_only_error(r, "timeout", fs.count("/endless-chunked"))
    ctx.note = "timeout x%d, %d MB streamed" % (r.count("http_reqs"), r.count("data_received") >> 20)


@case
def target_endless_1xx_responses(ctx):
    # Interim "100 Continue" responses forever, faster than they are parsed:
    # the request timeout must still fire (the worker's read loop returns to
    # its event loop), and the run end on time.
    fs = ctx.fault_server()
    r = closed_run(ctx, fs.url("/endless-1xx"), "--timeout", "1500ms",
                   bound=DURATION_S + 1.5 + SLACK_S)
    expect_only_error(r, "timeout", fs.count("/endless-1xx"))
    ctx.note = "timeout x%d after %d MB of 1xx" % (r.count("http_reqs"),
                                                   r.count("data_received") >> 20)


@case
def target_close_after_each_response(ctx):
    # The server closes every keep-alive connection after its response without
    # announcing it: not an error; stampede reconnects, one connection per
    # request, each counted as a "socket connect" span.
    fs = ctx.fault_server("--close-after-each")
    r = ctx.run(
        "--url", fs.url("/ok"), "--vus", "2", "--duration", "%ds" % DURATION_S,
        env={"OTEL_TRACES_EXPORTER": "console", "OTEL_METRICS_EXPORTER": "none",
             "OTEL_BSP_SCHEDULE_DELAY": "200"})
    expect_finished(r, 0, DURATION_S + SLACK_S)
    reqs = r.count("http_reqs")
    check_eq(r.errors(), {}, "errors by type")
    stats = fs.stats()
    check_eq(stats["requests"].get("/ok", 0), reqs, "requests seen by the server")
    check_eq(stats["connections"] - 1, reqs, "connections accepted (one per request; -1: /stats)")
    connects = 0
    for line in r.stdout.splitlines():
        if line.startswith("{"):
            for rs in json.loads(line).get("resourceSpans", []):
                for ss in rs.get("scopeSpans", []):
                    connects += sum(1 for s in ss.get("spans", [])
                                    if s.get("name", "").startswith("socket connect"))
    check_eq(connects, reqs, "socket connect spans (reconnects counted)")
    ctx.note = "%d requests, %d reconnects, 0 errors" % (reqs, connects)


@case
def target_tls_untrusted_certificate(ctx):
    cert, key = make_cert(ctx)
    srv = TcpServer(ctx, tls_http_handler(cert, key))
    url = "https://127.0.0.1:%d/" % srv.port
    r = closed_run(ctx, url)
    expect_only_error(r, "tls_verify", srv.get("handshake_failed"))
    failed = r.count("http_reqs")
    # The same server, trusted: the failure was the certificate, nothing else.
    r2 = ctx.run("--url", url, "--iterations", "5", "--cacert", cert)
    expect_finished(r2, 0, 5 + SLACK_S)
    check_eq(r2.errors(), {}, "errors with --cacert")
    check_eq(srv.get("requests"), 5, "requests answered with --cacert")
    ctx.note = "tls_verify x%d; with --cacert 5/5 ok" % failed


@case
def target_tls_endless_chunked_body(ctx):
    cert, key = make_cert(ctx)
    srv = TcpServer(ctx, tls_endless_handler(cert, key))
    r = closed_run(ctx, "https://127.0.0.1:%d/" % srv.port, "--cacert", cert, "--timeout",
                   "1500ms", bound=DURATION_S + 1.5 + SLACK_S)
    expect_only_error(r, "timeout", srv.get("requests"))
    ctx.note = "timeout x%d after %d MB streamed over TLS" % (r.count("http_reqs"),
                                                              r.count("data_received") >> 20)


@case
def target_tls_handshake_garbage(ctx):
    srv = TcpServer(ctx, tls_garbage_handler)
    r = closed_run(ctx, "https://127.0.0.1:%d/" % srv.port)
    expect_only_error(r, "tls", srv.get("client_hellos"))
    ctx.note = "tls x%d (= ClientHellos seen)" % r.count("http_reqs")


@case
def target_tls_handshake_aborted(ctx):
    srv = TcpServer(ctx, tls_abort_handler)
    r = closed_run(ctx, "https://127.0.0.1:%d/" % srv.port)
    expect_only_error(r, "tls", srv.get("client_hellos"))
    ctx.note = "tls x%d (= ClientHellos seen)" % r.count("http_reqs")


@case
def target_tls_handshake_stalls(ctx):
    # TCP accepted, the ClientHello read, no ServerHello ever: the connect
    # timeout (DNS + TCP + TLS) ends each request.
    srv = TcpServer(ctx, blackhole_handler)
    r = closed_run(ctx, "https://127.0.0.1:%d/" % srv.port, "--connect-timeout", "1s",
                   bound=DURATION_S + 1.0 + SLACK_S)
    expect_only_error(r, "timeout", srv.get("connections"))
    ctx.note = "timeout x%d (= connections accepted)" % r.count("http_reqs")


@case
def target_stall_interrupted_by_graceful_stop(ctx):
    # A target that never answers and the default 60 s request timeout: the run
    # still ends at duration + --graceful-stop, the requests in flight are
    # interrupted (not errors) and the summary says how many.
    fs = ctx.fault_server()
    r = ctx.run("--url", fs.url("/stall"), "--vus", "2", "--duration", "%ds" % DURATION_S,
                "--graceful-stop", "1s")
    check_eq(r.rc, 0, "exit code")
    check(r.elapsed <= DURATION_S + 1.0 + SLACK_S, "the run took %.2f s" % r.elapsed)
    check(r.maxrss_kb < RSS_BOUND_KB, "peak RSS %d KB" % r.maxrss_kb)
    seen = fs.count("/stall")
    check_eq(seen, 2, "requests the server saw (one per VU, never answered)")
    check(re.search(r"^\s*%d in-flight iterations interrupted by the stop" % seen, r.stdout, re.M),
          "the summary does not report the %d interrupted iterations" % seen)
    check_eq(r.json.get("interrupted_iterations"), seen, "interrupted_iterations in the JSON")
    check_eq(r.errors(), {}, "errors by type (interrupted requests are not errors)")
    ctx.note = "%d in-flight iterations interrupted at duration + 1 s, reported" % seen


@case
def target_dns_nxdomain(ctx):
    dns = DnsServer(ctx, "nxdomain")
    holder, port = refused_port()  # never reached
    ctx.cleanups.append(holder.close)
    r = closed_run(ctx, "http://nowhere.invalid:%d/" % port, "--dns-server",
                   "127.0.0.1:%d" % dns.port)
    expect_only_error(r, "dns")
    check(dns.get("queries") >= 1, "the DNS server got no query")
    ctx.note = "dns x%d, %d queries" % (r.count("http_reqs"), dns.get("queries"))


@case
def target_dns_never_answers(ctx):
    dns = DnsServer(ctx, "drop")
    holder, port = refused_port()
    ctx.cleanups.append(holder.close)
    r = closed_run(ctx, "http://nowhere.invalid:%d/" % port, "--dns-server",
                   "127.0.0.1:%d" % dns.port, "--connect-timeout", "1s",
                   bound=DURATION_S + 1.0 + SLACK_S)
    errs = r.errors()
    reqs = r.count("http_reqs")
    check(reqs > 0, "no request was made")
    check_eq(errs, {"dns": reqs}, "errors by type (all %d requests)" % reqs)
    check(dns.get("queries") >= 1, "the DNS server got no query")
    ctx.note = "dns x%d after the 1 s connect timeout, %d queries dropped" % (reqs, dns.get("queries"))


# --------------------------------------------------------------------------
# TELEMETRY side: the OTLP collector misbehaves; the load must not notice.

OPEN_SCRIPT = """
local http = require("stampede.http")
options = { scenarios = { open = { executor = "constant-arrival-rate", rate = %d, timeUnit = "1s",
  duration = "%ds", preAllocatedVUs = %d, maxVUs = %d } } }
function default() http.get(ENV.URL) end
""" % (OPEN_RATE, OPEN_DURATION_S, OPEN_VUS, OPEN_VUS)
OPEN_ITERATIONS = OPEN_RATE * OPEN_DURATION_S


def open_run(ctx, endpoint, protocol="http/protobuf", extra_env=None):
    fs = ctx.fault_server()
    script = ctx.path("open.lua")
    with open(script, "w") as f:
        f.write(OPEN_SCRIPT)
    env = dict(OTEL_ENV, OTEL_EXPORTER_OTLP_ENDPOINT=endpoint, OTEL_EXPORTER_OTLP_PROTOCOL=protocol)
    env.update(extra_env or {})
    r = ctx.run(script, "-e", "URL=" + fs.url("/ok"), "--otel", env=env)
    expect_finished(r, 0, OTEL_BOUND_S)
    # The load: exactly what a healthy collector gets (telemetry_healthy_collector).
    check_eq(r.count("iterations"), OPEN_ITERATIONS, "iterations started")
    check_eq(r.count("dropped_iterations"), 0, "dropped_iterations")
    check_eq(r.count("http_reqs"), fs.count("/ok"), "requests seen by the target")
    check_eq(r.errors(), {}, "request errors")
    return r


def expect_telemetry_lost(r, cause):
    spans, om = r.json.get("spans"), r.json.get("otel_metrics")
    check(spans is not None and om is not None, "the summary JSON has no spans/otel_metrics")
    check_eq(spans["exported"], 0, "spans exported")
    check(spans["recorded"] >= OPEN_ITERATIONS, "spans recorded: %r" % spans)
    check_eq(spans["failed"] + spans["dropped"] + spans["rejected"], spans["recorded"],
             "every recorded span counted as lost (failed + dropped): %r" % spans)
    check_eq(om["points_exported"], 0, "data points exported")
    check(om["points_failed"] + om["points_dropped"] > 0, "lost data points counted: %r" % om)
    check(re.search(r"^\s*spans: 0 exported, %d dropped .*, %d failed" %
                    (spans["dropped"], spans["failed"]), r.stdout, re.M),
          "the summary's spans line does not report the loss")
    check(re.search(r"^\s*metrics: 0 points exported", r.stdout, re.M),
          "the summary's metrics line does not report the loss")
    warns = [ln for ln in r.stderr.splitlines() if "WARN" in ln and "OTLP" in ln]
    check(1 <= len(warns) <= 4, "one warning per signal and cause, not a stream: %r" % warns)
    check(any(cause in w for w in warns), "no warning names the cause %r: %r" % (cause, warns))
    return "load %d/%d, spans %d failed + %d dropped, points %d failed + %d dropped" % (
        r.count("iterations"), OPEN_ITERATIONS, spans["failed"], spans["dropped"],
        om["points_failed"], om["points_dropped"])


def collector_requests_match(r, col, exact):
    """The metrics export requests the collector saw vs stampede's counters.

    Exact (exports + exports_failed + retries) when nothing is retried. With
    retries it is a range: `retries` counts backoffs begun, and a periodic
    export still backing off when the run ends is abandoned (superseded by
    the final export, so neither failed nor exported): its request was seen,
    its last backoff counted, its retry never sent.
    """
    om = r.json["otel_metrics"]
    seen = col.get("requests metrics")
    total = om["exports"] + om["exports_failed"] + om["retries"]
    if exact:
        check_eq(seen, total, "metrics export requests seen by the collector vs stampede's %r" % om)
    else:
        check(om["exports_failed"] + 1 <= seen <= total + 1,
              "metrics export requests seen by the collector (%d) outside [failed + 1, "
              "exports + failed + retries + 1] of %r" % (seen, om))
    check(col.get("requests traces") >= 1, "the collector saw no trace export")


@case
def telemetry_healthy_collector(ctx):
    # The reference for the faults below: same load, nothing lost.
    col = FakeCollector(ctx, "ok")
    r = open_run(ctx, "http://127.0.0.1:%d" % col.port)
    spans, om = r.json["spans"], r.json["otel_metrics"]
    check_eq(spans["exported"], spans["recorded"], "spans exported: %r" % spans)
    check(om["points_exported"] > 0 and om["points_failed"] + om["points_dropped"] == 0,
          "data points: %r" % om)
    collector_requests_match(r, col, exact=True)
    ctx.note = "load %d/%d, %d spans exported" % (r.count("iterations"), OPEN_ITERATIONS,
                                                  spans["exported"])


def telemetry_case(name, protocol, make_endpoint, cause, check_requests=None):
    def fn(ctx):
        endpoint, col = make_endpoint(ctx, protocol)
        r = open_run(ctx, endpoint, protocol)
        ctx.note = expect_telemetry_lost(r, cause)
        if check_requests is not None:
            collector_requests_match(r, col, exact=check_requests == "exact")
            ctx.note += "; collector saw %d trace + %d metrics requests" % (
                col.get("requests traces"), col.get("requests metrics"))
        if check_requests == "range":
            # Retry-After: 1 honoured: a span batch is tried at most twice in its
            # 1.5 s budget, ~1 request/s; the 100 ms exponential backoff instead
            # would send 4 attempts per ~0.7 s.
            traces = col.get("requests traces")
            check(traces <= 1.5 * r.elapsed + 3,
                  "%d trace requests in %.1f s: Retry-After not honoured?" % (traces, r.elapsed))
    fn.__name__ = name
    case(fn)


def ep_down(ctx, protocol):
    holder, port = refused_port()
    ctx.cleanups.append(holder.close)
    return "http://127.0.0.1:%d" % port, None


def ep_blackhole(ctx, protocol):
    srv = TcpServer(ctx, blackhole_handler)
    return "http://127.0.0.1:%d" % srv.port, srv


def ep_mode(mode):
    def make(ctx, protocol):
        col = FakeCollector(ctx, mode)
        return "http://127.0.0.1:%d" % col.port, col
    return make


def closing_handler(srv, sock):
    """Reads the request's first bytes, then closes without an answer."""
    if read_some(sock):
        srv.bump("requests")


def ep_closes(ctx, protocol):
    srv = TcpServer(ctx, closing_handler)
    return "http://127.0.0.1:%d" % srv.port, srv


def endless_response_case(ctx):
    # A "collector" answering every export with an endless chunked body
    # (fault_server's /endless-chunked, per-signal endpoints): each attempt
    # ends at OTEL_EXPORTER_OTLP_TIMEOUT, and the exporter must not keep what
    # it streams (peak RSS bounded).
    col = ctx.fault_server()
    url = col.url("/endless-chunked")
    r = open_run(ctx, "http://127.0.0.1:1", extra_env={
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": url, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": url})
    ctx.note = expect_telemetry_lost(r, "timed out")
    check(col.count("/endless-chunked") >= 2, "the collector saw no export")


endless_response_case.__name__ = "telemetry_collector_endless_response"


def ep_tls_untrusted(ctx, protocol):
    cert, key = make_cert(ctx)
    if protocol == "grpc":
        srv = TcpServer(ctx, tls_http_handler(cert, key))
        return "https://127.0.0.1:%d" % srv.port, srv
    col = FakeCollector(ctx, "ok", tls=(cert, key))
    return "https://127.0.0.1:%d" % col.port, col


telemetry_case("telemetry_collector_down", "http/protobuf", ep_down, "connection refused")
telemetry_case("telemetry_collector_never_answers", "http/protobuf", ep_blackhole, "timed out")
telemetry_case("telemetry_collector_503_retry_after", "http/protobuf", ep_mode("503"), "503",
               check_requests="range")
telemetry_case("telemetry_collector_429", "http/protobuf", ep_mode("429"), "429",
               check_requests="range")
telemetry_case("telemetry_collector_400", "http/protobuf", ep_mode("400"), "400",
               check_requests="exact")
telemetry_case("telemetry_collector_closes_connection", "http/protobuf", ep_closes,
               "without an answer")
case(endless_response_case)
telemetry_case("telemetry_collector_tls_untrusted", "http/protobuf", ep_tls_untrusted, "")
telemetry_case("telemetry_grpc_collector_down", "grpc", ep_down, "")
telemetry_case("telemetry_grpc_collector_never_answers", "grpc", ep_blackhole, "")
telemetry_case("telemetry_grpc_collector_tls_untrusted", "grpc", ep_tls_untrusted, "")


# --------------------------------------------------------------------------

class Runner:
    def __init__(self, stampede, keep):
        self.stampede = stampede
        self.keep = keep
        self.print_lock = threading.Lock()

    def run_case(self, fn):
        ctx = Ctx(self, fn.__name__)
        start = time.monotonic()
        status, detail = "PASS", ""
        try:
            fn(ctx)
        except Skip as e:
            status, detail = "SKIP", str(e)
        except AssertionError as e:
            status, detail = "FAIL", str(e)
        except Exception:
            status, detail = "FAIL", traceback.format_exc()
        finally:
            ctx.close(self.keep or status == "FAIL")
        wall = time.monotonic() - start
        rss = max((r.maxrss_kb for r in ctx.runs), default=0)
        took = max((r.elapsed for r in ctx.runs), default=0.0)
        with self.print_lock:
            print("%s %-44s %5.1fs wall, run %5.2fs, peak RSS %6.1f MB  %s"
                  % (status, fn.__name__, wall, took, rss / 1024.0,
                     ctx.note if status == "PASS" else detail.splitlines()[0] if detail else ""),
                  flush=True)
            if status == "FAIL":
                print("  " + detail.replace("\n", "\n  "))
                if ctx.runs:
                    print("  " + ctx.runs[-1].describe().replace("\n", "\n  "))
                print("  (temp dir kept: %s)" % ctx.tmp, flush=True)
            elif status == "SKIP":
                print("  skipped: " + detail, flush=True)
        return fn.__name__, status, rss, took


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stampede", default=os.path.join(REPO, "build", "src", "cli", "stampede"))
    ap.add_argument("-k", action="append", default=[],
                    help="run only cases whose name contains this (repeatable: any)")
    ap.add_argument("-j", type=int, default=3, help="cases run at once (default 3)")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep every case's temp dir")
    args = ap.parse_args()
    selected = [c for c in CASES if not args.k or any(k in c.__name__ for k in args.k)]
    if args.list:
        for c in selected:
            print(c.__name__)
        return 0
    if not os.access(args.stampede, os.X_OK):
        print("stampede binary not found: %s" % args.stampede)
        return 1
    if not selected:
        print("no case matches %r" % args.k)
        return 1
    runner = Runner(os.path.abspath(args.stampede), args.keep)
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.j)) as pool:
        results = list(pool.map(runner.run_case, selected))
    wall = time.monotonic() - start
    passed = sum(1 for r in results if r[1] == "PASS")
    failed = sum(1 for r in results if r[1] == "FAIL")
    print("peak RSS: max %.1f MB (bound %d MB); matrix wall time %.1f s"
          % (max(r[2] for r in results) / 1024.0, RSS_BOUND_KB // 1024, wall))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
