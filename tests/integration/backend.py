#!/usr/bin/env python3
"""A small real HTTP/1.1 backend (keep-alive, chunked uploads) for Outrigger's tests and demo.

    backend.py --port 9001 --name a [--delay 0.1] [--idle-timeout 0.5] [--verbose]

Prints "ready HOST:PORT" on stdout once it listens (with --port 0 the kernel picks the port,
and that line says which). Every response carries `X-Backend: NAME`.

Endpoints (any method unless said otherwise; a request body is always read in full):
  /                   "hello from NAME\\n"
  /echo               the request body back (Content-Length or chunked upload), with
                      X-Echo-Framing: length|chunked|none and X-Echo-Length: N
  /headers            JSON {method, target, version, client, headers: [[name, value], ...]}
  /bytes?n=N&mode=M   N bytes of the pattern byte[i] = i % 256; M = length (default),
                      chunked or close (close-delimited: no length, connection closed after)
  /slow?ms=N          answers after N milliseconds
  /status?code=N      answers with status N (no body for 1xx, 204, 304)
  /respond?header=Name:Value&header=...
                      answers with those extra response header fields
  /malformed?kind=K   a response with bad framing (the connection stays open): one of
                      MALFORMED below (cl-te, two-cl, bad-chunk, garbage, ...), or
                      `extra`: a valid response followed by a second, unasked-for one
  /close              answers, then closes the connection (Connection: close)
  /drop               closes the connection without answering
  /health/live        200, or 503 after /control/live?on=0
  /health/ready       200, or 503 after /control/ready?on=0
  /control/ready?on=0|1
  /control/live?on=0|1
  /control/fail?code=N
                      from now on answer every other request (not /stats, /control/*,
                      /health/*) with status N; code=0 ends it
  /stats              JSON {name, connections, open_connections, requests (all, this one
                      included), by_path {path: requests}, slow_in_flight, probe_headers
                      (the fields of the last /health/* request, lower-case names),
                      complete: requests whose head and body were read whole,
                      [[method, target, body length]]}

--delay SECONDS delays every answer except /stats and /control/*. --idle-timeout SECONDS
closes a keep-alive connection that has been idle that long (as many servers do), so tests
can see a proxy replace pooled connections the backend has closed.
"""

import argparse
import http.server
import json
import socket
import sys
import threading
import time
import urllib.parse

PATTERN = bytes(i % 256 for i in range(64 * 1024))  # a multiple of 256: block k starts at 0

# /malformed?kind=K: responses with invalid or ambiguous framing (RFC 9112 §6.3).
MALFORMED = {
    "cl-te": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"5\r\nhello\r\n0\r\n\r\n",
    "two-cl": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    "bad-chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    "garbage": b"THIS IS NOT HTTP\r\n\r\n",
    "cl-list": b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello!",
    "cl-sign": b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello",
    "cl-hex": b"HTTP/1.1 200 OK\r\nContent-Length: 0x5\r\n\r\nhello",
    "te-cl": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 30\r\n\r\n"
             b"5\r\nhello\r\n0\r\n\r\n",
    "space-colon": b"HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello",
    "obs-fold": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: one\r\n two\r\n\r\nhello",
    "nul-field": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: o\x00ne\r\n\r\nhello",
    "bare-cr": b"HTTP/1.1 200 OK\r\nContent-Length: 5\rX-A: one\r\n\r\nhello",
    "chunk-overflow": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"10000000000000005\r\nhello\r\n0\r\n\r\n",
    "chunk-no-crlf": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"5\r\nhelloXX0\r\n\r\n",
    "chunked-twice": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"
                     b"5\r\nhello\r\n0\r\n\r\n",
    # A response with a second one glued on: a proxy that passed on bytes past the first
    # body, or reused this connection, would answer someone's next request with it.
    "extra": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
             b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\nX-Smuggled: yes\r\n\r\nsmuggled",
}


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.connections = 0
        self.open_connections = 0
        self.requests = 0
        self.by_path = {}  # path (no query) → requests
        self.slow_in_flight = 0
        self.probe_headers = {}
        self.complete = []  # [method, target, body length] of requests read whole

    def snapshot(self):
        with self.lock:
            return {"connections": self.connections,
                    "open_connections": self.open_connections,
                    "requests": self.requests,
                    "by_path": dict(self.by_path),
                    "slow_in_flight": self.slow_in_flight,
                    "probe_headers": dict(self.probe_headers),
                    "complete": list(self.complete)}


class BodyError(Exception):
    pass


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "outrigger-test-backend"
    disable_nagle_algorithm = True  # small answers must not wait for delayed ACKs

    # --- connection lifetime -------------------------------------------------------------
    def setup(self):
        super().setup()
        with self.server.stats.lock:
            self.server.stats.connections += 1
            self.server.stats.open_connections += 1

    def finish(self):
        try:
            super().finish()
        finally:
            with self.server.stats.lock:
                self.server.stats.open_connections -= 1

    def handle_one_request(self):
        # The idle timeout applies only while waiting for a request line, never while a
        # slow reader holds up our writes.
        self.connection.settimeout(self.server.idle_timeout)
        super().handle_one_request()

    def parse_request(self):
        self.connection.settimeout(None)
        return super().parse_request()

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("[%s] %s - %s\n" % (self.server.name, self.address_string(), fmt % args))

    # --- request body ----------------------------------------------------------------------
    def read_body(self):
        """Returns (body, framing) and leaves the connection at the next request."""
        te = self.headers.get("Transfer-Encoding")
        if te is not None:
            if te.strip().lower().split(",")[-1].strip() != "chunked":
                raise BodyError("unsupported transfer-encoding " + te)
            return self.read_chunked(), "chunked"
        cl = self.headers.get("Content-Length")
        if cl is not None:
            n = int(cl)
            if n < 0:
                raise BodyError("negative content-length")
            data = self.rfile.read(n)
            if len(data) != n:
                raise BodyError("body shorter than content-length")
            return data, "length"
        return b"", "none"

    def read_chunked(self):
        parts = []
        while True:
            line = self.rfile.readline(1024)
            if not line.endswith(b"\n"):
                raise BodyError("bad chunk size line")
            size = int(line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                break
            data = self.rfile.read(size)
            if len(data) != size or self.rfile.read(2) != b"\r\n":
                raise BodyError("truncated chunk")
            parts.append(data)
        while True:  # trailers, up to the empty line
            line = self.rfile.readline(8192)
            if line in (b"\r\n", b"\n", b""):
                break
        return b"".join(parts)

    # --- responses -----------------------------------------------------------------------
    def reply(self, code, body=b"", content_type="text/plain", headers=(), head_length=None):
        self.send_response(code)
        self.send_header("X-Backend", self.server.name)
        for name, value in headers:
            self.send_header(name, value)
        no_body = code < 200 or code in (204, 304)
        if not no_body:
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body) if head_length is None else head_length))
        if self.close_connection:
            self.send_header("Connection", "close")
        if not no_body and self.command != "HEAD":
            # Head and body in one write: one segment for small answers.
            self._headers_buffer.append(b"\r\n" + body)
            self.flush_headers()
        else:
            self.end_headers()

    def stream_bytes(self, n, mode):
        self.send_response(200)
        self.send_header("X-Backend", self.server.name)
        self.send_header("Content-Type", "application/octet-stream")
        if mode == "chunked":
            self.send_header("Transfer-Encoding", "chunked")
        elif mode == "close":
            self.close_connection = True
            self.send_header("Connection", "close")
        else:
            self.send_header("Content-Length", str(n))
        self.end_headers()
        if self.command == "HEAD":
            return
        left = n
        while left > 0:
            block = PATTERN if left >= len(PATTERN) else PATTERN[:left]
            if mode == "chunked":
                self.wfile.write(b"%x\r\n" % len(block) + block + b"\r\n")
            else:
                self.wfile.write(block)
            left -= len(block)
        if mode == "chunked":
            self.wfile.write(b"0\r\n\r\n")

    # --- dispatch ------------------------------------------------------------------------
    def handle_any(self):
        stats = self.server.stats
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        with stats.lock:
            stats.requests += 1
            stats.by_path[path] = stats.by_path.get(path, 0) + 1
        try:
            body, framing = self.read_body()
        except (BodyError, ValueError) as e:
            self.close_connection = True
            self.reply(400, ("bad request body: %s\n" % e).encode())
            return
        with stats.lock:
            stats.complete.append([self.command, self.path, len(body)])
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}

        if path == "/stats":
            snap = self.server.stats.snapshot()
            snap["name"] = self.server.name
            self.reply(200, json.dumps(snap).encode(), "application/json")
            return
        if path == "/control/ready":
            self.server.ready = query.get("on", "1") != "0"
            self.reply(200, b"ready\n" if self.server.ready else b"not ready\n")
            return
        if path == "/control/live":
            self.server.live = query.get("on", "1") != "0"
            self.reply(200, b"live\n" if self.server.live else b"not live\n")
            return
        if path == "/control/fail":
            self.server.fail_code = int(query.get("code", "0"))
            self.reply(200, b"ok\n")
            return
        if path.startswith("/health/"):
            with stats.lock:
                stats.probe_headers = {k.lower(): v for k, v in self.headers.items()}
        elif self.server.fail_code:
            self.reply(self.server.fail_code, b"failing on purpose\n")
            return

        if self.server.delay > 0:
            time.sleep(self.server.delay)

        name = self.server.name
        if path == "/":
            self.reply(200, ("hello from %s\n" % name).encode())
        elif path == "/echo":
            self.reply(200, body, self.headers.get("Content-Type", "application/octet-stream"),
                       [("X-Echo-Framing", framing), ("X-Echo-Length", str(len(body)))])
        elif path == "/headers":
            info = {"method": self.command, "target": self.path, "version": self.request_version,
                    "client": "%s:%d" % self.client_address[:2],
                    "headers": [[k, v] for k, v in self.headers.items()]}
            self.reply(200, json.dumps(info).encode(), "application/json")
        elif path == "/bytes":
            self.stream_bytes(int(query.get("n", "0")), query.get("mode", "length"))
        elif path == "/slow":
            with stats.lock:
                stats.slow_in_flight += 1
            try:
                time.sleep(int(query.get("ms", "1000")) / 1000.0)
            finally:
                with stats.lock:
                    stats.slow_in_flight -= 1
            self.reply(200, ("slow from %s\n" % name).encode())
        elif path == "/status":
            code = int(query.get("code", "200"))
            self.reply(code, ("status %d from %s\n" % (code, name)).encode())
        elif path == "/respond":
            extra = [h.split(":", 1) for h in urllib.parse.parse_qs(url.query).get("header", [])]
            self.reply(200, ("respond from %s\n" % name).encode(),
                       headers=[(k.strip(), v.strip()) for k, v in extra])
        elif path == "/malformed":
            # Stays open afterwards: a proxy that reused this connection would read the rest.
            self.wfile.write(MALFORMED[query.get("kind", "garbage")])
        elif path == "/close":
            self.close_connection = True
            self.reply(200, ("closing, from %s\n" % name).encode())
        elif path == "/drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        elif path == "/health/live":
            if self.server.live:
                self.reply(200, b"live\n")
            else:
                self.reply(503, b"not live\n")
        elif path == "/health/ready":
            if self.server.ready:
                self.reply(200, b"ready\n")
            else:
                self.reply(503, b"not ready\n")
        else:
            self.reply(404, ("no such path %s on %s\n" % (path, name)).encode())

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = handle_any


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True, help="0: let the kernel pick")
    ap.add_argument("--name", default="backend")
    ap.add_argument("--delay", type=float, default=0.0, help="seconds before every answer")
    ap.add_argument("--idle-timeout", type=float, default=None,
                    help="close keep-alive connections idle this many seconds")
    ap.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = ap.parse_args()

    server = Server((args.host, args.port), Handler)
    server.name = args.name
    server.delay = args.delay
    server.idle_timeout = args.idle_timeout
    server.verbose = args.verbose
    server.ready = True
    server.live = True
    server.fail_code = 0
    server.stats = Stats()
    host, port = server.server_address[:2]
    print("ready %s:%d" % (host, port), flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
