#!/usr/bin/env python3
"""Fault-injection HTTP/1.1 server for stampede's tests (python3 stdlib only).

Binds 127.0.0.1 (port 0 = any free port unless --port is given) and prints
`listening on PORT` on stdout, flushed, once it accepts connections. One
thread per connection; keep-alive by default; pipelined requests are served in
order. A client that disconnects at any point only ends its own thread.

Behaviour by request path (the query string carries parameters):
  /ok                 200, small body, keep-alive
  /chunked            200, Transfer-Encoding: chunked, body sent in several chunks
                      (body = CHUNKED_BODY, 5 chunks, sizes in mixed-case hex)
  /close              200, no Content-Length, Connection: close, body sent in
                      pieces, then the server closes (close-delimited body)
  /slow-headers?ms=N  waits N ms (default 1000) then answers like /ok
  /stall              reads the request and never answers; the socket stays open
                      until the client leaves or the server exits
  /reset-mid-body     headers with Content-Length: 1000, 100 body bytes, then an
                      RST (SO_LINGER 0) once those bytes have left the socket
  /reset-on-accept    reads the request then resets at once (no response bytes);
                      see also --mode reset, which resets before reading anything
  /garbage            answers `NOT HTTP AT ALL\\r\\n\\r\\n` then closes
  /bad-chunk          chunked response whose first chunk size is not hex, then closes
  /head-cl            Content-Length: 1234; the 1234-byte body for GET, none for HEAD
  /204                204 No Content (no Content-Length)
  /304                304 Not Modified with an ETag; `?cl=N` adds Content-Length: N
                      (legal for 304; a client must not wait for those N bytes)
  /status?code=N      status N (default 200) with a small body (none for 1xx/204/304)
  /big?bytes=N        200 with an N-byte body (default 102400, max 64 MiB)
  /redirect?to=T&code=N
                      status N (default 302; any 3xx) with `Location: T` (default /ok)
                      and a small body
  /echo               200, JSON body describing the request: method, target, path,
                      query, version, headers (list of [name, value] in order),
                      body (utf-8, invalid bytes replaced), body_base64, body_len
  /form               parses the request body as a form with the standard library
                      and answers 200 JSON {"content_type", "fields": {name: [values]},
                      "files": {name: [{"filename", "content_type", "size", "sha256"}]}}:
                      application/x-www-form-urlencoded with urllib.parse.parse_qs
                      (keep_blank_values), multipart/form-data with email's BytesParser
                      (policy HTTP; a part with a filename is a file, its bytes hashed);
                      any other content type or a malformed body: 400 {"error": why}
  /reset-mid-headers  status line and part of a header line, then an RST (no blank
                      line ever arrives)
  /stall-after-headers
                      complete headers with Content-Length: 1000, then no body byte;
                      the socket stays open until the client leaves or the server exits
  /oversized-headers?bytes=N
                      status line, then header lines (`X-Pad-i: ppp...`, 1000 bytes
                      each) totalling about N bytes (default 1048576, max 64 MiB),
                      then a small body; stops early when the client leaves
  /endless-chunked?ms=N
                      200, Transfer-Encoding: chunked, 64 KiB chunks forever (N ms
                      between chunks, default 0) until the client leaves or the
                      server exits; the last chunk never comes
  /endless-1xx        interim `HTTP/1.1 100 Continue` responses forever (no final
                      response) until the client leaves or the server exits
  /slow-body?bps=N&bytes=M
                      200, Content-Length: M (default 100), body sent at N bytes per
                      second (default 1, max 1000), one write per byte
  /stats              200, JSON {"requests": {path: count}, "connections": n,
                      "max_in_flight": m} (requests to /stats itself are not counted)
  anything else       404

HEAD never gets a body. `Connection: close` from the client (or HTTP/1.0
without keep-alive) closes after the response.

A request is "in flight" from when it has been read until the first byte of
its response is written (or its connection ends without one): the client
cannot have seen its response before it stops counting, so the count is
exact, not a race with the client's next request. Every --log line carries,
besides the request: "connection" (1-based number of the connection, in
accept order), "in_flight" (requests in flight when this one arrived, itself
included) and "in_flight_host" (the same among requests with its Host header).

Options:
  --port P          port to bind (default 0: any free port)
  --host H          address to bind (default 127.0.0.1)
  --mode M          normal (default) | reset (RST every connection on accept) |
                    close (FIN every connection on accept) |
                    stall (accept, never read, never answer)
  --close-after-each
                    close (FIN) every connection right after its first response,
                    without announcing it (no `Connection: close` unless the client
                    asked): a keep-alive client must notice and reconnect; /stats
                    requests are answered the same way
  --log FILE        append one JSON line per /echo request (same object as the
                    /echo response body), flushed at once
  --log-all         log every request (not only /echo) to --log FILE
  --max-seconds N   exit by itself after N seconds (default 300), so it can never
                    outlive a test
"""

import argparse
import base64
import json
import os
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse

MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 16 * 1024 * 1024
OK_BODY = b"hello from fault_server\n"
CHUNKED_PIECES = [b"chunk-one;", b"chunk-two-is-longer;", b"3;", b"x" * 300, b"end\n"]
CHUNKED_BODY = b"".join(CHUNKED_PIECES)
CLOSE_PIECES = [b"close-delimited ", b"body ", b"in pieces\n"]
RESET_DECLARED_LEN = 1000
RESET_SENT_LEN = 100
SIOCOUTQ = 0x5411  # == TIOCOUTQ: bytes not yet acknowledged by the peer (Linux)

REASONS = {
    100: "Continue", 103: "Early Hints", 200: "OK", 201: "Created", 202: "Accepted", 204: "No Content",
    301: "Moved Permanently", 302: "Found", 303: "See Other", 304: "Not Modified",
    307: "Temporary Redirect", 308: "Permanent Redirect", 400: "Bad Request",
    401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    408: "Request Timeout", 413: "Payload Too Large", 429: "Too Many Requests",
    431: "Request Header Fields Too Large", 500: "Internal Server Error",
    502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
}


class ReleasingSocket:
    """A socket that calls `release` once, before the first byte is sent."""

    def __init__(self, sock, release):
        self._sock = sock
        self._release = release

    def sendall(self, data):
        self._release()
        return self._sock.sendall(data)

    def __getattr__(self, name):
        return getattr(self._sock, name)


class ClientGone(Exception):
    """The peer closed or reset the connection, or sent something unusable."""


class Conn:
    """Buffered reader over one accepted socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise ClientGone("eof")
        self.buf += data

    def read_until(self, delim, limit):
        while True:
            i = self.buf.find(delim)
            if i >= 0:
                out, self.buf = self.buf[:i], self.buf[i + len(delim):]
                return out
            if len(self.buf) > limit:
                raise ClientGone("line too long")
            self._fill()

    def read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


class Request:
    def __init__(self, method, target, version, headers, body):
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers  # list of (name, value) as received
        self.body = body
        parsed = urllib.parse.urlsplit(target)
        self.path = parsed.path
        self.query = urllib.parse.parse_qs(parsed.query)

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def qint(self, name, default):
        try:
            return int(self.query[name][0])
        except (KeyError, ValueError, IndexError):
            return default

    def wants_close(self):
        conn = (self.header("connection") or "").lower()
        if "close" in conn:
            return True
        if self.version == "HTTP/1.0" and "keep-alive" not in conn:
            return True
        return False

    def as_json(self):
        return {
            "method": self.method,
            "target": self.target,
            "path": self.path,
            "query": {k: v for k, v in self.query.items()},
            "version": self.version,
            "headers": [[k, v] for k, v in self.headers],
            "body": self.body.decode("utf-8", errors="replace"),
            "body_base64": base64.b64encode(self.body).decode("ascii"),
            "body_len": len(self.body),
        }


def read_request(conn):
    """Reads one request; returns None if the client closed between requests."""
    try:
        head = conn.read_until(b"\r\n\r\n", MAX_HEADER_BYTES)
    except ClientGone:
        if conn.buf:
            raise
        return None
    # Tolerate leading empty lines (RFC 9112 2.2).
    head = head.lstrip(b"\r\n")
    lines = head.split(b"\r\n")
    parts = lines[0].decode("latin-1").split(" ")
    if len(parts) != 3:
        raise ClientGone("bad request line")
    method, target, version = parts
    headers = []
    for raw in lines[1:]:
        name, sep, value = raw.decode("latin-1").partition(":")
        if not sep:
            raise ClientGone("bad header line")
        headers.append((name, value.strip()))
    req = Request(method, target, version, headers, b"")
    te = (req.header("transfer-encoding") or "").lower()
    if "chunked" in te:
        body = b""
        while True:
            size_line = conn.read_until(b"\r\n", 1024).split(b";")[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise ClientGone("bad chunk size")
            if size == 0:
                while conn.read_until(b"\r\n", MAX_HEADER_BYTES):
                    pass  # trailers
                break
            body += conn.read_exact(size)
            conn.read_exact(2)
            if len(body) > MAX_BODY_BYTES:
                raise ClientGone("body too large")
        req.body = body
    else:
        cl = req.header("content-length")
        if cl:
            try:
                n = int(cl)
            except ValueError:
                raise ClientGone("bad content-length")
            if n < 0 or n > MAX_BODY_BYTES:
                raise ClientGone("bad content-length")
            req.body = conn.read_exact(n)
    return req


def parse_form(req):
    """The /form endpoint: (status, JSON object) for the body parsed as a form."""
    ctype = req.header("content-type") or ""
    out = {"content_type": ctype, "fields": {}, "files": {}}
    kind = ctype.split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        try:
            out["fields"] = urllib.parse.parse_qs(req.body.decode("utf-8", errors="strict"),
                                                  keep_blank_values=True, strict_parsing=bool(req.body),
                                                  errors="strict")
        except (UnicodeDecodeError, ValueError) as e:
            return 400, {"error": "malformed urlencoded body: %s" % e}
        return 200, out
    if kind != "multipart/form-data":
        return 400, {"error": "unsupported content type %r" % ctype}
    import email.parser
    import email.policy
    import hashlib
    head = b"Content-Type: " + ctype.encode("latin-1") + b"\r\n\r\n"
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + req.body)
    if not msg.is_multipart() or msg.defects:
        return 400, {"error": "malformed multipart body: %s" % (msg.defects or "not multipart")}
    for part in msg.iter_parts():
        if part.get_content_disposition() != "form-data" or part.defects:
            return 400, {"error": "malformed part: %s" % (part.defects or "no form-data disposition")}
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is None:
            out["fields"].setdefault(name, []).append(data.decode("utf-8", errors="replace"))
        else:
            explicit = part.get("content-type") is not None
            out["files"].setdefault(name, []).append({
                "filename": filename,
                "content_type": part.get_content_type() if explicit else None,
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            })
    return 200, out


def response_head(code, headers):
    reason = REASONS.get(code, "Status")
    out = ["HTTP/1.1 %d %s" % (code, reason)]
    out += ["%s: %s" % (k, v) for k, v in headers]
    return ("\r\n".join(out) + "\r\n\r\n").encode("latin-1")


def send_simple(sock, req, code, body, ctype="text/plain", extra=(), close=False):
    headers = [("Content-Type", ctype), ("Content-Length", str(len(body)))]
    headers += list(extra)
    if close:
        headers.append(("Connection", "close"))
    data = response_head(code, headers)
    if req.method != "HEAD":
        data += body
    sock.sendall(data)


def reset(sock):
    """Closes with an RST instead of a FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def wait_sent(sock, max_polls=400):
    """Polls (bounded) until the peer has acknowledged everything we sent.

    Needed before an RST: closing with SO_LINGER 0 discards unsent data.
    """
    import fcntl
    for _ in range(max_polls):
        try:
            pending = struct.unpack("i", fcntl.ioctl(sock.fileno(), SIOCOUTQ, b"\0\0\0\0"))[0]
        except OSError:
            return
        if pending == 0:
            return
        time.sleep(0.005)


def hold_until_client_leaves(sock, stop_event):
    """Keeps the socket open, discarding input, until EOF/error or server stop."""
    sock.settimeout(0.5)
    while not stop_event.is_set():
        try:
            if not sock.recv(65536):
                return
        except socket.timeout:
            continue
        except OSError:
            return


def lingering_drain(sock, seconds):
    """Reads and discards until EOF/error, for at most `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        sock.settimeout(left)
        try:
            if not sock.recv(65536):
                return
        except (socket.timeout, OSError):
            return


class Server:
    def __init__(self, args):
        self.args = args
        self.stop_event = threading.Event()
        self.stats_lock = threading.Lock()
        self.counts = {}
        self.connections = 0
        self.in_flight = 0
        self.in_flight_host = {}
        self.max_in_flight = 0
        self.log_lock = threading.Lock()
        self.log_file = open(args.log, "a", encoding="utf-8") if args.log else None

    # --- bookkeeping -----------------------------------------------------
    def count(self, path):
        with self.stats_lock:
            self.counts[path] = self.counts.get(path, 0) + 1

    def log(self, req, extra):
        if not self.log_file:
            return
        if req.path != "/echo" and not self.args.log_all:
            return
        entry = req.as_json()
        entry.update(extra)
        line = json.dumps(entry, sort_keys=True)
        with self.log_lock:
            self.log_file.write(line + "\n")
            self.log_file.flush()

    # --- connection handling ---------------------------------------------
    def begin_request(self, req, conn_id):
        """Counts `req` in flight; returns its log extras and its release()."""
        host = req.header("host") or ""
        with self.stats_lock:
            self.in_flight += 1
            self.in_flight_host[host] = self.in_flight_host.get(host, 0) + 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            extra = {"connection": conn_id, "in_flight": self.in_flight,
                     "in_flight_host": self.in_flight_host[host]}
        released = []

        def release():
            if released:
                return
            released.append(True)
            with self.stats_lock:
                self.in_flight -= 1
                self.in_flight_host[host] -= 1
        return extra, release

    def handle_connection(self, sock, conn_id):
        try:
            mode = self.args.mode
            if mode == "reset":
                reset(sock)
                return
            if mode == "close":
                sock.close()
                return
            if mode == "stall":
                hold_until_client_leaves(sock, self.stop_event)
                return
            conn = Conn(sock)
            while not self.stop_event.is_set():
                req = read_request(conn)
                if req is None:
                    return
                if req.path == "/stats":  # not counted, not in flight
                    self.log(req, {"connection": conn_id})
                    keep = self.respond(sock, req)
                else:
                    self.count(req.path)
                    extra, release = self.begin_request(req, conn_id)
                    try:
                        self.log(req, extra)
                        keep = self.respond(ReleasingSocket(sock, release), req)
                    finally:
                        release()
                if not keep or self.args.close_after_each:
                    if keep:
                        # Silent close, lingering like nginx: FIN, then discard
                        # what the client still sends (a request it wrote before
                        # seeing the FIN gets no answer, not an RST) until it
                        # closes too, for at most 2 s.
                        try:
                            sock.shutdown(socket.SHUT_WR)
                        except OSError:
                            pass
                        lingering_drain(sock, 2.0)
                    return
        except (ClientGone, ConnectionError, socket.timeout, OSError):
            return
        except Exception as e:  # never let one connection kill the server
            print("fault_server: connection error: %r" % (e,), file=sys.stderr, flush=True)
        finally:
            try:
                sock.close()
            except OSError:
                pass

    def respond(self, sock, req):
        """Writes the response for req; returns True to keep the connection."""
        close = req.wants_close()
        p = req.path
        if p == "/ok":
            send_simple(sock, req, 200, OK_BODY, close=close)
        elif p == "/chunked":
            head = response_head(200, [("Content-Type", "text/plain"),
                                       ("Transfer-Encoding", "chunked")]
                                 + ([("Connection", "close")] if close else []))
            sock.sendall(head)
            if req.method != "HEAD":
                for i, piece in enumerate(CHUNKED_PIECES):
                    size = "%x" % len(piece) if i % 2 == 0 else "%X" % len(piece)
                    sock.sendall(size.encode() + b"\r\n" + piece + b"\r\n")
                sock.sendall(b"0\r\n\r\n")
        elif p == "/close":
            sock.sendall(response_head(200, [("Content-Type", "text/plain"),
                                             ("Connection", "close")]))
            if req.method != "HEAD":
                for piece in CLOSE_PIECES:
                    sock.sendall(piece)
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            return False
        elif p == "/slow-headers":
            ms = max(0, min(req.qint("ms", 1000), 600000))
            if self.stop_event.wait(ms / 1000.0):
                return False
            send_simple(sock, req, 200, OK_BODY, close=close)
        elif p == "/stall":
            hold_until_client_leaves(sock, self.stop_event)
            return False
        elif p == "/reset-mid-body":
            sock.sendall(response_head(200, [("Content-Type", "application/octet-stream"),
                                             ("Content-Length", str(RESET_DECLARED_LEN))]))
            sock.sendall(b"r" * RESET_SENT_LEN)
            wait_sent(sock)
            reset(sock)
            return False
        elif p == "/reset-on-accept":
            reset(sock)
            return False
        elif p == "/garbage":
            sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            return False
        elif p == "/bad-chunk":
            sock.sendall(response_head(200, [("Content-Type", "text/plain"),
                                             ("Transfer-Encoding", "chunked")]))
            sock.sendall(b"zz\r\nhello\r\n0\r\n\r\n")
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            return False
        elif p == "/reset-mid-headers":
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/pl")
            wait_sent(sock)
            reset(sock)
            return False
        elif p == "/stall-after-headers":
            sock.sendall(response_head(200, [("Content-Type", "application/octet-stream"),
                                             ("Content-Length", "1000")]))
            hold_until_client_leaves(sock, self.stop_event)
            return False
        elif p == "/oversized-headers":
            n = max(0, min(req.qint("bytes", 1 << 20), 64 * 1024 * 1024))
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n")
            sent, i = 0, 0
            while sent < n and not self.stop_event.is_set():
                line = b"X-Pad-%d: " % i
                line += b"p" * (998 - len(line)) + b"\r\n"
                sock.sendall(line)
                sent += len(line)
                i += 1
            sock.sendall(b"Content-Length: 2\r\n\r\nok")
            return False
        elif p == "/endless-chunked":
            ms = max(0, min(req.qint("ms", 0), 60000))
            sock.sendall(response_head(200, [("Content-Type", "application/octet-stream"),
                                             ("Transfer-Encoding", "chunked")]))
            chunk = b"10000\r\n" + b"e" * 0x10000 + b"\r\n"
            while not self.stop_event.is_set():
                sock.sendall(chunk)
                if ms and self.stop_event.wait(ms / 1000.0):
                    break
            return False
        elif p == "/endless-1xx":
            interim = b"HTTP/1.1 100 Continue\r\n\r\n" * 256
            while not self.stop_event.is_set():
                sock.sendall(interim)
            return False
        elif p == "/slow-body":
            bps = max(1, min(req.qint("bps", 1), 1000))
            n = max(0, min(req.qint("bytes", 100), 1 << 20))
            sock.sendall(response_head(200, [("Content-Type", "application/octet-stream"),
                                             ("Content-Length", str(n))]))
            for _ in range(n):
                if self.stop_event.wait(1.0 / bps):
                    return False
                sock.sendall(b"s")
        elif p == "/head-cl":
            body = b"h" * 1234
            send_simple(sock, req, 200, body, close=close)
        elif p == "/204":
            sock.sendall(response_head(204, [("Connection", "close")] if close else []))
        elif p == "/304":
            headers = [("ETag", '"fault-server-etag"')]
            cl = req.qint("cl", -1)
            if cl >= 0:
                headers.append(("Content-Length", str(cl)))
            if close:
                headers.append(("Connection", "close"))
            sock.sendall(response_head(304, headers))
        elif p == "/status":
            code = req.qint("code", 200)
            if code < 100 or code > 999:
                code = 500
            if code < 200 or code in (204, 304):
                sock.sendall(response_head(code, [("Connection", "close")] if close else []))
                if code < 200:
                    # An interim response alone is not an answer: follow with a final one.
                    send_simple(sock, req, 200, OK_BODY, close=close)
            else:
                send_simple(sock, req, code, b"status %d\n" % code, close=close)
        elif p == "/big":
            n = max(0, min(req.qint("bytes", 102400), 64 * 1024 * 1024))
            head = response_head(200, [("Content-Type", "application/octet-stream"),
                                       ("Content-Length", str(n))]
                                 + ([("Connection", "close")] if close else []))
            sock.sendall(head)
            if req.method != "HEAD":
                block = b"b" * 65536
                left = n
                while left > 0:
                    k = min(left, len(block))
                    sock.sendall(block[:k])
                    left -= k
        elif p == "/redirect":
            code = req.qint("code", 302)
            if code < 300 or code > 399:
                code = 302
            to = (req.query.get("to") or ["/ok"])[0]
            send_simple(sock, req, code, b"redirecting\n", extra=[("Location", to)], close=close)
        elif p == "/echo":
            body = json.dumps(req.as_json(), sort_keys=True).encode("utf-8") + b"\n"
            send_simple(sock, req, 200, body, ctype="application/json", close=close)
        elif p == "/form":
            code, obj = parse_form(req)
            body = json.dumps(obj, sort_keys=True).encode("utf-8") + b"\n"
            send_simple(sock, req, code, body, ctype="application/json", close=close)
        elif p == "/stats":
            with self.stats_lock:
                snap = {"requests": dict(self.counts), "connections": self.connections,
                        "max_in_flight": self.max_in_flight}
            body = json.dumps(snap, sort_keys=True).encode("utf-8") + b"\n"
            send_simple(sock, req, 200, body, ctype="application/json", close=close)
        else:
            send_simple(sock, req, 404, b"not found\n", close=close)
        return not close

    # --- accept loop -------------------------------------------------------
    def serve(self):
        family = socket.AF_INET6 if ":" in self.args.host else socket.AF_INET
        lsock = socket.socket(family, socket.SOCK_STREAM)
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind((self.args.host, self.args.port))
        lsock.listen(1024)
        lsock.settimeout(0.5)
        port = lsock.getsockname()[1]
        print("listening on %d" % port, flush=True)
        deadline = time.monotonic() + self.args.max_seconds
        while not self.stop_event.is_set():
            if time.monotonic() >= deadline:
                print("fault_server: --max-seconds reached, exiting", file=sys.stderr,
                      flush=True)
                break
            try:
                sock, _ = lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                continue  # e.g. EMFILE or ECONNABORTED: keep serving
            sock.settimeout(None)
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
            with self.stats_lock:
                self.connections += 1
                conn_id = self.connections
            t = threading.Thread(target=self.handle_connection, args=(sock, conn_id), daemon=True)
            t.start()
        self.stop_event.set()
        lsock.close()


def main():
    ap = argparse.ArgumentParser(description="fault-injection HTTP server for tests")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--mode", choices=["normal", "reset", "close", "stall"], default="normal")
    ap.add_argument("--close-after-each", action="store_true")
    ap.add_argument("--log", default=None)
    ap.add_argument("--log-all", action="store_true")
    ap.add_argument("--max-seconds", type=float, default=300.0)
    args = ap.parse_args()

    server = Server(args)

    def on_signal(signum, frame):
        server.stop_event.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # A client vanishing mid-write raises EPIPE in its own thread, never SIGPIPE.
    server.serve()
    # Daemon threads (stalled connections) die with the process.
    os._exit(0)


if __name__ == "__main__":
    main()
