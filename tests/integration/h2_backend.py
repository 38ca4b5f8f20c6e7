#!/usr/bin/env python3
"""backend.py with what the HTTP/2 tests need on top, same arguments and "ready" line:

  /digest             JSON {length, sha256, framing, trailers: [[name, value], ...]} of the
                      request body (and its chunked trailers) as this backend read it
  /trailers?n=N       N pattern bytes, chunked, announced `Trailer: x-checksum, x-count` and
                      followed by those trailer fields (sha256 of the body, N)
  /blob/NAME?n=N&ms=M N pattern bytes after M milliseconds; NAME only makes each URL (and the
                      file nghttp -O saves it to) distinct
  /stats              as backend.py's, plus `broken`: requests whose body ended early (the
                      connection closed mid-body), so a test can wait until every request
                      head this backend saw has either completed or been cut

Everything else is backend.py's.
"""

import hashlib
import json
import time
import urllib.parse

import backend


class Stats(backend.Stats):
    def __init__(self):
        super().__init__()
        self.broken = 0

    def snapshot(self):
        snap = super().snapshot()
        with self.lock:
            snap["broken"] = self.broken
        return snap


class Handler(backend.Handler):
    def read_body(self):
        self.request_trailers = []
        try:
            return super().read_body()
        except (backend.BodyError, ValueError):
            with self.server.stats.lock:
                self.server.stats.broken += 1
            raise

    def read_chunked(self):
        # backend.py skips trailers; this keeps them for /digest (a proxy that forwards request
        # trailers shows them here).
        parts = []
        while True:
            line = self.rfile.readline(1024)
            if not line.endswith(b"\n"):
                raise backend.BodyError("bad chunk size line")
            size = int(line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                break
            data = self.rfile.read(size)
            if len(data) != size or self.rfile.read(2) != b"\r\n":
                raise backend.BodyError("truncated chunk")
            parts.append(data)
        for _ in range(1000):
            line = self.rfile.readline(8192)
            if not line.endswith(b"\n"):
                raise backend.BodyError("connection closed inside the trailers")
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode("latin-1").partition(":")
            self.request_trailers.append([name.strip().lower(), value.strip()])
        return b"".join(parts)

    def handle_any(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/digest" and url.path != "/trailers" and not url.path.startswith("/blob/"):
            return super().handle_any()
        stats = self.server.stats
        with stats.lock:
            stats.requests += 1
            stats.by_path[url.path] = stats.by_path.get(url.path, 0) + 1
        try:
            body, framing = self.read_body()
        except (backend.BodyError, ValueError) as e:
            self.close_connection = True
            self.reply(400, ("bad request body: %s\n" % e).encode())
            return
        with stats.lock:
            stats.complete.append([self.command, self.path, len(body)])
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        n = int(query.get("n", "0"))
        if url.path == "/digest":
            info = {"length": len(body), "sha256": hashlib.sha256(body).hexdigest(),
                    "framing": framing, "trailers": self.request_trailers}
            self.reply(200, json.dumps(info).encode(), "application/json")
        elif url.path == "/trailers":
            self.send_trailers(n)
        else:
            time.sleep(int(query.get("ms", "0")) / 1000.0)
            self.reply(200, pattern(n), "application/octet-stream")

    def send_trailers(self, n):
        body = pattern(n)
        self.send_response(200)
        self.send_header("X-Backend", self.server.name)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Trailer", "x-checksum, x-count")
        self.end_headers()
        if self.command == "HEAD":
            return
        for i in range(0, n, 16384):
            block = body[i:i + 16384]
            self.wfile.write(b"%x\r\n" % len(block) + block + b"\r\n")
        self.wfile.write(b"0\r\nx-checksum: %s\r\nx-count: %d\r\n\r\n"
                         % (hashlib.sha256(body).hexdigest().encode(), n))

    # backend.Handler bound these to its own handle_any.
    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = handle_any


def pattern(n):
    """backend.py's body pattern: byte i is i % 256."""
    reps = n // len(backend.PATTERN) + 1
    return (backend.PATTERN * reps)[:n]


if __name__ == "__main__":
    # backend.main builds its server from these module names when it runs.
    backend.Handler = Handler
    backend.Stats = Stats
    backend.main()
