"""Client behaviours of the torture test (test_torture.py): each action runs on its own thread
with raw sockets, bounded in time, and returns what it saw plus every invariant it saw broken.

A request is a dict made by the schedule: {id, method, path, pool, body, chunked, ws, kind}.
An action's result: {"answers": [(pool, status)], "sent": [(pool, id)], "violations": [str]}.
A request is either answered exactly once, in order, by a response that belongs to it (its
X-Torture-Id, when a backend made it), or its connection is closed; never a hang, never a 408
for a head sent whole, never bytes after the last answer.
"""

import base64
import os
import socket
import struct
import time

import harness

# Each answer must come within this (times SLOWDOWN) of the previous one: more than any
# behaviour's own delay plus the proxy's timeouts, less than nothing that could be a hang.
ANSWER_DEADLINE = 9.0
LINGER_FOR_EXTRA = 0.15


class Hang(Exception):
    pass


def request_bytes(req, listener_port=None):
    """The bytes of one request (a WebSocket upgrade when req["ws"])."""
    method, path, body = req["method"], req["path"], req.get("body") or b""
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: torture", "X-Torture-Id: " + req["id"]]
    if req.get("ws"):
        lines += ["Upgrade: " + req["ws"], "Connection: Upgrade",
                  "Sec-WebSocket-Key: " + base64.b64encode(os.urandom(16)).decode(),
                  "Sec-WebSocket-Version: 13"]
    if method == "POST" and req.get("chunked"):
        lines.append("Transfer-Encoding: chunked")
        half = len(body) // 2
        payload = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (body[:half], body[half:]) if p)
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload + b"0\r\n\r\n"
    if method == "POST":
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Wire:
    """One client connection with a buffered reader whose every read has a deadline."""

    def __init__(self, port):
        self.sock = socket.create_connection((harness.LOOPBACK, port), timeout=5 * harness.SLOWDOWN)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rfile = self.sock.makefile("rb")

    def read_response(self, method, seconds=ANSWER_DEADLINE):
        self.sock.settimeout(seconds * harness.SLOWDOWN)
        try:
            return harness.read_response(self.rfile, method)
        except socket.timeout:
            raise Hang("no answer within %.1fs" % (seconds * harness.SLOWDOWN))

    def leftover(self):
        """Bytes the proxy sends after the last answer within a moment: None when it closed."""
        self.sock.settimeout(LINGER_FOR_EXTRA)
        try:
            data = self.rfile.read1(65536)
            return None if data == b"" else data
        except socket.timeout:
            return b""
        except OSError:
            return None

    def close(self, reset=False):
        if reset:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        try:
            self.rfile.close()
            self.sock.close()
        except OSError:
            pass


class Result:
    def __init__(self, name):
        self.name = name
        self.answers = []  # (pool, status) of answers read whole
        self.sent = []  # (pool, id) of heads sent whole
        self.violations = []
        self.refused = False

    def bad(self, what):
        self.violations.append("%s: %s" % (self.name, what))


def check_answer(res, req, resp):
    """Invariants of one answer to req; records it. False when the connection cannot go on."""
    res.answers.append((req["pool"], resp.status))
    tid = resp.header("X-Torture-Id")
    if resp.header("X-Smuggled"):
        res.bad("%s got a response the backend sent unasked (X-Smuggled)" % req["id"])
    if resp.header("X-Backend") is not None and tid != req["id"]:
        res.bad("%s answered with the response to %s" % (req["id"], tid))
    if resp.status == 408:
        res.bad("%s %s: 408 for a request whose head was sent whole" % (req["id"], req["path"]))
    if resp.status == 101 and not (req.get("ws") == "websocket" and req["pool"]):
        res.bad("%s: 101 for a request with Upgrade %r" % (req["id"], req.get("ws")))
    if resp.status == 504 and req["kind"] not in ("slowlong",):
        res.bad("%s %s %s: 504 though the backend is never silent that long"
                % (req["id"], req["method"], req["path"]))
    if req["kind"] == "echo" and resp.status == 200 and resp.body != (req.get("body") or b""):
        res.bad("%s: echo came back altered (%d bytes, sent %d)"
                % (req["id"], len(resp.body), len(req.get("body") or b"")))
    return True


def read_answers(res, wire, reqs):
    """Reads one answer per request in order. Returns True if the connection is still open."""
    for req in reqs:
        try:
            resp = wire.read_response(req["method"])
        except Hang as e:
            res.bad("%s %s %s: %s" % (req["id"], req["method"], req["path"], e))
            return False
        except (ConnectionError, OSError):
            return False  # closed: this and the later requests are unanswered, which is allowed
        except (AssertionError, ValueError) as e:
            res.bad("%s %s %s: unparsable answer (a previous answer's body or an extra "
                    "response?): %s" % (req["id"], req["method"], req["path"], e))
            return False
        check_answer(res, req, resp)
        if resp.status == 101:
            return False
        if (resp.header("Connection") or "").lower() == "close":
            return expect_closed(res, wire, req)
    return True


def expect_closed(res, wire, req):
    extra = wire.leftover()
    if extra:
        res.bad("%s: %d bytes after an answer that said Connection: close: %r"
                % (req["id"], len(extra), extra[:80]))
    return False


def expect_quiet(res, wire, last):
    extra = wire.leftover()
    if extra:
        res.bad("after %s: %d bytes nobody asked for: %r" % (last["id"], len(extra), extra[:80]))


def connect(res, port):
    try:
        return Wire(port)
    except OSError:
        res.refused = True
        return None


def keepalive(res, port, reqs):
    wire = connect(res, port)
    if not wire:
        return
    try:
        for i, req in enumerate(reqs):
            try:
                wire.sock.sendall(request_bytes(req))
            except OSError:
                return
            res.sent.append((req["pool"], req["id"]))
            if not read_answers(res, wire, [req]):
                return
        expect_quiet(res, wire, reqs[-1])
    finally:
        wire.close()


def pipeline(res, port, reqs):
    wire = connect(res, port)
    if not wire:
        return
    try:
        try:
            wire.sock.sendall(b"".join(request_bytes(r) for r in reqs))
        except OSError:
            return
        res.sent += [(r["pool"], r["id"]) for r in reqs]
        if read_answers(res, wire, reqs):
            expect_quiet(res, wire, reqs[-1])
    finally:
        wire.close()


def halfclose(res, port, reqs):
    wire = connect(res, port)
    if not wire:
        return
    try:
        try:
            wire.sock.sendall(b"".join(request_bytes(r) for r in reqs))
            wire.sock.shutdown(socket.SHUT_WR)
        except OSError:
            return
        res.sent += [(r["pool"], r["id"]) for r in reqs]
        if read_answers(res, wire, reqs):
            extra = wire.leftover()
            if extra:
                res.bad("after %s (half-closed): extra bytes %r" % (reqs[-1]["id"], extra[:80]))
    finally:
        wire.close()


def trickle(res, port, req, pieces, gap):
    """A POST whose body arrives in `pieces` writes `gap` seconds apart."""
    wire = connect(res, port)
    if not wire:
        return
    try:
        data = request_bytes(req)
        cut = len(data) - len(req["body"])
        step = -(-(len(data) - cut) // pieces)
        try:
            wire.sock.sendall(data[:cut])
        except OSError:
            return
        res.sent.append((req["pool"], req["id"]))
        try:
            for off in range(cut, len(data), step):
                time.sleep(gap)
                wire.sock.sendall(data[off:off + step])
        except OSError:
            pass  # the proxy answered early and closed: read what it said
        if read_answers(res, wire, [req]):
            expect_quiet(res, wire, req)
    finally:
        wire.close()


def abort(res, port, req, after, reset):
    """Sends the head and part of the body, then leaves (FIN or RST)."""
    wire = connect(res, port)
    if not wire:
        return
    try:
        data = request_bytes(req)
        wire.sock.sendall(data[:len(data) - len(req["body"]) // 2])
        time.sleep(after)
    except OSError:
        pass
    finally:
        wire.close(reset=reset)


def leave_early(res, port, req, after):
    """A whole request, then the client goes before the (slow) answer."""
    wire = connect(res, port)
    if not wire:
        return
    try:
        wire.sock.sendall(request_bytes(req))
        time.sleep(after)
    except OSError:
        pass
    finally:
        wire.close()


def websocket(res, port, req, hold, half_close):
    wire = connect(res, port)
    if not wire:
        return
    try:
        try:
            wire.sock.sendall(request_bytes(req))
        except OSError:
            return
        res.sent.append((req["pool"], req["id"]))
        try:
            resp = wire.read_response("GET")
        except Hang as e:
            res.bad("%s upgrade: %s" % (req["id"], e))
            return
        except (ConnectionError, OSError, AssertionError, ValueError):
            return
        check_answer(res, req, resp)
        if resp.status != 101:
            if (resp.header("Connection") or "").lower() != "close":
                expect_quiet(res, wire, req)
            return
        msg = ("frame-%s" % req["id"]).encode()
        got = b""
        try:
            wire.sock.sendall(msg)
            end = time.monotonic() + ANSWER_DEADLINE * harness.SLOWDOWN
            while len(got) < len(msg) and time.monotonic() < end:
                wire.sock.settimeout(max(0.01, end - time.monotonic()))
                chunk = wire.rfile.read1(65536)
                if not chunk:
                    return  # the tunnel was closed (a backend died, a drain): allowed
                got += chunk
        except socket.timeout:
            res.bad("%s: tunnel echoed %r of %r within %.1fs" % (req["id"], got, msg, ANSWER_DEADLINE))
            return
        except OSError:
            return
        if got != msg:
            res.bad("%s: tunnel echoed %r, sent %r" % (req["id"], got, msg))
        time.sleep(hold)
        if half_close:
            try:
                wire.sock.shutdown(socket.SHUT_WR)
                wire.sock.settimeout(ANSWER_DEADLINE * harness.SLOWDOWN)
                rest = wire.rfile.read1(65536)
                if rest:
                    res.bad("%s: %r from the tunnel after the echo" % (req["id"], rest[:80]))
            except socket.timeout:
                res.bad("%s: tunnel not closed %.1fs after the client's half-close"
                        % (req["id"], ANSWER_DEADLINE * harness.SLOWDOWN))
            except OSError:
                pass
    finally:
        wire.close()


GARBAGE = {
    "binary": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40 + b"\r\n\r\n",
    "bare-lf": b"GET /b/ok HTTP/1.1\nHost: torture\nX-Torture-Id: %s\n\n",
    "cl-te": b"POST /b/ok HTTP/1.1\r\nHost: t\r\nX-Torture-Id: %s\r\nContent-Length: 5\r\n"
             b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "long-line": b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: t\r\nX-Torture-Id: %s\r\n\r\n",
    "bad-version": b"GET / HTTP/9.9\r\nHost: t\r\nX-Torture-Id: %s\r\n\r\n",
    "upgrade-list": b"GET /b/ws HTTP/1.1\r\nHost: t\r\nX-Torture-Id: %s\r\nUpgrade: h2c, websocket\r\n"
                    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    b"Sec-WebSocket-Version: 13\r\n\r\n",
    "bad-chunk": b"POST /b/echo HTTP/1.1\r\nHost: t\r\nX-Torture-Id: %s\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    "nul": b"GET /b/ok HTTP/1.1\r\nHost: t\r\nX-Torture-Id: %s\r\nX-A: a\x00b\r\n\r\n",
}


def garbage(res, port, kind, req):
    """Bad input: an answer (never 408, never 101) or a close, at once; nothing after it."""
    wire = connect(res, port)
    if not wire:
        return
    try:
        data = GARBAGE[kind]
        if b"%s" in data:
            data = data.replace(b"%s", req["id"].encode())
        try:
            wire.sock.sendall(data)
        except OSError:
            return
        # The proxy may route a bad request (to "main") before it finds what is wrong.
        res.sent.append(("main" if b" /b/" in data.split(b"\n", 1)[0] else None, req["id"]))
        if read_answers(res, wire, [req]):
            expect_quiet(res, wire, req)
    finally:
        wire.close()
