#!/usr/bin/env python3
"""A misbehaving HTTP/1.1 backend for the torture test (test_torture.py).

    torture_backend.py --port 0 --name a --id-log PATH [--host 127.0.0.1]

Prints "ready HOST:PORT" once it listens, like backend.py. Every request head it reads whole
is appended to --id-log as one line "NAME METHOD ID" (ID: the X-Torture-Id field, "-" when
absent), flushed before anything else happens, so the log outlives a backend the test kills
and a request delivered twice shows as two lines.

The path /b/BEHAVIOUR[?ms=N&code=N] says what to do; every answer carries X-Backend: NAME
and X-Torture-Id echoing the request's:
  ok        200 "ok ID"                     echo      200 with the request body
  slow      200 after ms milliseconds       chunked   200, chunked, a few chunks
  drip      200, Content-Length, body sent in pieces over about ms milliseconds
  status    status `code`                   close     200 then close (Connection: close)
  reset     reads the request, then resets the connection (RST, nothing answered)
  midbody   head with Content-Length 1000, 100 body bytes, then close
  badframe  "NOT HTTP" garbage, connection kept
  extra     a valid answer with a second, unasked-for one glued on (one write), connection kept
  extralate the same, the second answer written a millisecond after the first: no proxy can
            tell it from the answer to the next request sent on that connection, so the
            torture schedule leaves it out; it is there to reproduce by hand
  ws        an Upgrade: websocket request gets 101, then bytes are echoed until EOF
Any other path: 200 "ok ID" as well (health probes, /d/ routes).
"""

import argparse
import base64
import hashlib
import socket
import struct
import sys
import threading
import time
import urllib.parse

HEAD_LIMIT = 64 * 1024
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Conn:
    def __init__(self, server, sock):
        self.server, self.sock, self.buf = server, sock, b""

    def fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.buf += data

    def read_head(self):
        while True:
            for sep in (b"\r\n\r\n", b"\n\n"):
                i = self.buf.find(sep)
                if i >= 0:
                    head, self.buf = self.buf[:i], self.buf[i + len(sep):]
                    return head.decode("latin-1")
            if len(self.buf) > HEAD_LIMIT:
                raise EOFError
            self.fill()

    def read_exact(self, n):
        while len(self.buf) < n:
            self.fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_line(self):
        while b"\n" not in self.buf:
            if len(self.buf) > HEAD_LIMIT:
                raise EOFError
            self.fill()
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def read_body(self, fields):
        te = fields.get("transfer-encoding", "").lower()
        if "chunked" in te:
            parts = []
            while True:
                size = int(self.read_line().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.read_line().strip():
                        pass
                    return b"".join(parts)
                parts.append(self.read_exact(size))
                self.read_line()
        n = int(fields.get("content-length", "0") or "0")
        return self.read_exact(n)

    def send(self, data):
        self.sock.sendall(data)

    def answer(self, method, status, tid, body=b"", extra=(), close=False):
        lines = ["HTTP/1.1 %d X" % status, "X-Backend: " + self.server.name, "X-Torture-Id: " + tid,
                 "Content-Length: %d" % len(body)]
        lines += list(extra)
        if close:
            lines.append("Connection: close")
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode() + (b"" if method == "HEAD" else body))

    def serve(self):
        while True:
            head = self.read_head()
            lines = head.replace("\r\n", "\n").split("\n")
            parts = lines[0].split(" ")
            if len(parts) != 3:
                return
            method, target, _ = parts
            fields = {}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                fields[k.strip().lower()] = v.strip()
            tid = fields.get("x-torture-id", "-")
            self.server.log("%s %s %s" % (self.server.name, method, tid))
            url = urllib.parse.urlsplit(target)
            query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
            what = url.path[3:] if url.path[:3] in ("/b/", "/d/") else "ok"
            if what == "ws" and "websocket" in fields.get("upgrade", "").lower():
                self.tunnel(tid, fields.get("sec-websocket-key", ""))
                return
            body = self.read_body(fields)
            ms = int(query.get("ms", "0"))
            if what == "reset":
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            if what == "midbody":
                self.send(("HTTP/1.1 200 X\r\nX-Backend: %s\r\nX-Torture-Id: %s\r\n"
                           "Content-Length: 1000\r\n\r\n" % (self.server.name, tid)).encode()
                          + b"m" * (0 if method == "HEAD" else 100))
                return
            if what == "badframe":
                self.send(b"NOT HTTP AT ALL\r\n\r\n")
                continue
            if what == "slow":
                time.sleep(ms / 1000.0)
            if what == "echo":
                self.answer(method, 200, tid, body)
            elif what == "chunked":
                self.send(("HTTP/1.1 200 X\r\nX-Backend: %s\r\nX-Torture-Id: %s\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n" % (self.server.name, tid)).encode())
                if method != "HEAD":
                    for i in range(3):
                        self.send(b"5\r\nchnk%d\r\n" % i)
                        time.sleep(0.01)
                    self.send(b"0\r\n\r\n")
            elif what == "drip":
                piece = b"d" * 10
                self.send(("HTTP/1.1 200 X\r\nX-Backend: %s\r\nX-Torture-Id: %s\r\n"
                           "Content-Length: 50\r\n\r\n" % (self.server.name, tid)).encode())
                if method != "HEAD":
                    for _ in range(5):
                        self.send(piece)
                        time.sleep(ms / 5000.0)
            elif what == "status":
                self.answer(method, int(query.get("code", "503")), tid, b"status\n")
            elif what == "close":
                self.answer(method, 200, tid, ("ok %s\n" % tid).encode(), close=True)
                return
            elif what in ("extra", "extralate"):
                # extra: one write, so the proxy finds the stray bytes with the answer;
                # extralate: a moment later, when the connection may be idle or reused.
                smuggled = b"HTTP/1.1 200 X\r\nX-Smuggled: yes\r\nContent-Length: 8\r\n\r\nsmuggled"
                ok = ("HTTP/1.1 200 X\r\nX-Backend: %s\r\nX-Torture-Id: %s\r\nContent-Length: %d\r\n\r\n"
                      % (self.server.name, tid, len("ok %s\n" % tid))).encode()
                ok += b"" if method == "HEAD" else ("ok %s\n" % tid).encode()
                if what == "extra":
                    self.send(ok + smuggled)
                else:
                    self.send(ok)
                    time.sleep(0.001)
                    self.send(smuggled)
            else:
                self.answer(method, 200, tid, ("ok %s\n" % tid).encode())

    def tunnel(self, tid, key):
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        self.send(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Accept: %s\r\nX-Backend: %s\r\nX-Torture-Id: %s\r\n\r\n"
                   % (accept, self.server.name, tid)).encode())
        if self.buf:
            self.send(self.buf)
        while True:
            data = self.sock.recv(65536)
            if not data:
                return
            self.send(data)


class Server:
    def __init__(self, host, port, name, id_log):
        self.name = name
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(256)
        self.lock = threading.Lock()
        self.id_log = open(id_log, "a", buffering=1)

    def log(self, line):
        with self.lock:
            self.id_log.write(line + "\n")
            self.id_log.flush()

    def run(self):
        while True:
            sock, _ = self.sock.accept()
            threading.Thread(target=self.handle, args=(sock,), daemon=True).start()

    def handle(self, sock):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            Conn(self, sock).serve()
        except (OSError, EOFError, ValueError):
            pass
        finally:
            sock.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--name", default="t")
    ap.add_argument("--id-log", required=True)
    ap.add_argument("--delay", help="ignored (harness.Backend compatibility)")
    ap.add_argument("--idle-timeout", help="ignored (harness.Backend compatibility)")
    args = ap.parse_args()
    server = Server(args.host, args.port, args.name, args.id_log)
    host, port = server.sock.getsockname()[:2]
    print("ready %s:%d" % (host, port), flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
