#!/usr/bin/env python3
"""Hostile paths across the Exchange / Http1Session split (issue 15, step 3). An Exchange is
reused from the worker's spares and for the next pipelined request, and an answer made from
one of its own callbacks (the upstream stream's, the pending-slot timer's) may end it, hand
it back or start the next request on it before the callback returns (client_session.h).
These drive exactly those paths: pipelines whose requests are answered locally from those
callbacks while the next is buffered and goes to another pool, retries behind 1xx, an
upgrade behind a pipelined request, waiters for a connection slot whose client half-closes
or whose listener a reload removes, more waiters than the worker keeps spare exchanges,
uploads under backpressure cut by either side, TLS backends that reset after the handshake,
and a mixed crowd of all of it. After each the proxy must hold nothing and still serve; the
harness fails a test whose proxy's stderr has a sanitizer report."""

import json
import os
import random
import socket
import ssl
import threading
import time
import unittest
import zlib

import harness
import metrics_util
import test_attempt_attacks as attacks
from test_exchange_safety import ScriptedBackend, answer
from test_exchange_safety import read_request_head as read_head
from test_plugin_redis import REDIS_SERVER, Redis
from tls_certs import TlsTestCase

MIB = 1 << 20
TEXT = b"".join(b"line %06d of a compressible body\n" % i for i in range(8192))[:256 * 1024]
UPGRADE = (b"GET /a/upgrade HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
           b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")


def proxy_holds(proxy, client):
    """Whether the proxy still has an open descriptor on its side of `client`'s connection
    (a socket it closed is orphaned: inode 0 in /proc/net/tcp, or gone)."""
    port = client.getsockname()[1]
    with open("/proc/net/tcp") as f:
        rows = [line.split() for line in f.readlines()[1:]]
    inodes = [r[9] for r in rows if int(r[2].split(":")[1], 16) == port
              and int(r[1].split(":")[1], 16) == proxy.port]
    if not inodes or inodes[0] == "0":
        return False
    target = "socket:[%s]" % inodes[0]
    fd_dir = "/proc/%d/fd" % proxy.pid
    for fd in os.listdir(fd_dir):
        try:
            if os.readlink(os.path.join(fd_dir, fd)) == target:
                return True
        except OSError:  # closed while listed
            pass
    return False


def get(path, extra=b""):
    return b"GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (path, extra)


def scripted(name, sick=False):
    """Scripted backend keyed on the target's last segment; answers name its backend. A
    `sick` one answers 503 to /sick and /hint-sick (after a 103) where the others say 200."""
    def serve(backend, sock):
        rfile = sock.makefile("rb")
        while True:
            head = read_head(rfile)
            if head is None:
                return
            method, target, headers = head
            leaf = target.split("?")[0].rsplit("/", 1)[-1]
            n = int(headers.get("content-length", "0"))
            with backend.lock:
                backend.requests.append((method, target, n))
            if leaf == "early413":  # a MiB of the body, then an answer and a close
                got = 0
                while got < min(n, MIB):
                    chunk = sock.recv(65536)
                    if not chunk:
                        return
                    got += len(chunk)
                sock.sendall(b"HTTP/1.1 413 Too Large\r\nContent-Length: 3\r\n"
                             b"Connection: close\r\n\r\nbig")
                attacks.reset(sock)
                return
            if leaf == "slowread":  # reads the body 64 KiB at a time, pausing between
                got = 0
                while got < n:
                    chunk = rfile.read1(min(65536, n - got))
                    if not chunk:
                        return
                    got += len(chunk)
                    time.sleep(0.002)
                answer(sock, body=b"%d" % got)
                continue
            if n:
                rfile.read(n)
            if headers.get("transfer-encoding", "").lower() == "chunked" and not skip_chunks(rfile):
                return  # the body was cut: nothing to answer
            if leaf == "sick" and sick:
                answer(sock, 503, b"sick")
            elif leaf == "hint-sick":
                sock.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n")
                answer(sock, 503 if sick else 200, name.encode())
            elif leaf == "text":  # compressible: 256 KiB of text
                body = TEXT
                if method == "HEAD":
                    body = b""
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                             b"Content-Length: %d\r\n\r\n" % len(TEXT) + body)
            elif leaf == "text-stall":  # half the text, then silence until the proxy goes
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                             b"Content-Length: %d\r\n\r\n" % len(TEXT) + TEXT[:len(TEXT) // 2])
                sock.recv(1)
                return
            elif leaf == "big":  # 4 MiB: a slow client backs it up
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (4 * MIB)
                             + b"b" * (4 * MIB))
            elif leaf == "close":
                return
            elif leaf == "stall":
                sock.recv(1)
                return
            elif leaf == "slow":
                time.sleep(float(target.split("=")[1]))
                answer(sock, body=name.encode())
            elif leaf == "upgrade":
                sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                             b"Connection: Upgrade\r\n\r\nhello")
                while True:
                    data = sock.recv(4096)
                    if not data:
                        return
                    sock.sendall(data)
            elif method == "HEAD":
                sock.sendall(b"HTTP/1.1 200 X\r\nContent-Length: %d\r\n\r\n" % len(name))
            else:
                answer(sock, body=name.encode())
    return serve


def skip_chunks(rfile):
    """Reads a chunked body through its last chunk and trailers; False if it was cut."""
    while True:
        line = rfile.readline(1024)
        if not line.endswith(b"\n"):
            return False
        size = int(line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            break
        if len(rfile.read(size + 2)) != size + 2:
            return False
    while True:
        line = rfile.readline(8192)
        if not line.endswith(b"\n"):
            return False
        if line in (b"\r\n", b"\n"):
            return True


def read_responses(test, rfile, finals, method="GET"):
    """[(status, body)] of the responses read until `finals` final ones came, 1xx included;
    stops early (listing what came) when the proxy closes."""
    out = []
    while len([s for s, _ in out if s >= 200]) < finals:
        try:
            r = harness.read_response(rfile, method)
        except ConnectionError:
            break
        out.append((r.status, r.body))
        test.assertLess(len(out), 50, out)
    return out


class SplitCase(harness.ProxyTestCase):
    gauges = attacks.AttemptAttacks.gauges
    assert_settled = attacks.AttemptAttacks.assert_settled
    pending = attacks.AttemptAttacks.pending
    wait_requests = attacks.AttemptAttacks.wait_requests
    send = attacks.AttemptAttacks.send
    recv_until = attacks.AttemptAttacks.recv_until

    def start(self, api=1, sick=False, caps=None, api_extra=None, workers=1, plugins=None,
              listener=None):
        """Pool `api` (routes /a/) of `api` scripted backends (the first `sick` if asked), at
        max_connections 1 without a queue unless `caps` says otherwise; pool `other` (routes
        /b/) of one more, uncapped. Anything else has no route: a 404 made by the proxy.
        `plugins`: the /a/ route's."""
        self.api = [ScriptedBackend(self, scripted("api%d" % i, sick and i == 0))
                    for i in range(api)]
        self.other = ScriptedBackend(self, scripted("other"))
        extra = {"circuit_breaker": dict({"consecutive_failures": 1000, "max_connections": 1,
                                          "max_pending": 0}, **(caps or {})),
                 "timeouts": {"connect": "1s", "read": "5s"}}
        extra.update(api_extra or {})
        routes = [{"path_prefix": "/b/", "pool": "other"},
                  {"path_prefix": "/a/", "pool": "api", "max_body": "32MiB"}]
        if plugins:
            routes[1]["plugins"] = plugins
        # /c/: the same pool through compress.
        routes.append({"path_prefix": "/c/", "pool": "api", "plugins": [{"compress": {}}]})
        return self.start_proxy(self.config(
            pools={"api": self.pool(*[b.address for b in self.api], **extra),
                   "other": self.pool(self.other.address)},
            routes=routes, workers=workers, listener=listener))

    def retries(self, proxy):
        samples, _ = metrics_util.scrape(proxy)
        return sum(v for (n, _), v in samples.items() if n == "outrigger_backend_retries_total")


class PipelinesAcrossTheSplit(SplitCase):
    def test_a_503_from_the_pending_timer_then_requests_to_other_pools(self):
        # The 503 is made in the Exchange's timer callback; the requests behind it are
        # buffered already, and the same Exchange serves them: another pool, a 404, then the
        # first pool again, waiting for the slot the holder gives back.
        proxy = self.start(caps={"max_pending": 1})
        holder = self.send(proxy, get(b"/a/stall"))
        self.wait_requests(self.api[0], 1)
        sock = self.send(proxy, get(b"/a/first") + get(b"/b/x") + get(b"/nowhere")
                         + get(b"/a/last"))
        rfile = sock.makefile("rb")
        first = harness.read_response(rfile)
        self.assertEqual(first.status, 503, first)
        attacks.reset(holder)
        rest = read_responses(self, rfile, 3)
        self.assertEqual([s for s, _ in rest], [200, 404, 200], rest)
        self.assertEqual(rest[0][1], b"other", rest)
        self.assertEqual(rest[2][1], b"api0", rest)
        self.assertEqual([t for _, t, _ in self.api[0].requests], ["/a/stall", "/a/last"])
        sock.close()
        self.assert_settled(proxy, path="/a/ok")

    def test_answers_made_in_upstream_callbacks_with_the_next_request_buffered(self):
        # In one segment: a 200 whose end starts the next request inside the upstream read
        # callback; a 503 retried on the other backend; a 103 then a 503, retried; a backend
        # that closes on every try (502, keep-alive); a 404; requests to the other pool in
        # between. Twice each, so that round robin sends a sick path to the sick backend.
        proxy = self.start(api=2, sick=True, caps={"max_connections": 100},
                           api_extra={"retries": {"attempts": 2, "budget_percent": 100}})
        seq = [(b"/a/ok", [200]), (b"/b/x", [200]), (b"/a/sick", [200]),
               (b"/a/hint-sick", [103, 200]), (b"/a/close", [502]), (b"/nowhere", [404]),
               (b"/b/y", [200])] * 2
        for _ in range(3):
            sock, rfile = self.open_raw(proxy)
            sock.sendall(b"".join(get(p) for p, _ in seq))
            got = read_responses(self, rfile, len(seq))
            want = [s for _, statuses in seq for s in statuses]
            hints = [s for s, _ in got]
            # The 103 of a request that went to the healthy backend first is not retried; its
            # 103 still comes: only the number of 1xx may differ from a retried one's.
            self.assertEqual([s for s in hints if s >= 200], [s for s in want if s >= 200], got)
            self.assertGreaterEqual(hints.count(103), 2, got)
            bodies = [b for s, b in got if s == 200]
            self.assertNotIn(b"sick", bodies, got)
            sock.close()
        self.assertGreater(self.retries(proxy), 0)
        self.assert_settled(proxy, path="/a/ok")

    def test_a_backed_up_response_ends_in_the_client_write_callback(self):
        # The client reads slowly, so the 4 MiB response ends in OnClientWrite (the Exchange's
        # OnClientDrained); the requests behind it start on the same Exchange from there.
        proxy = self.start(caps={"max_connections": 10})
        for _ in range(2):
            # A small receive buffer, set before the connect (after it, the window already
            # advertised makes the kernel crawl): the proxy's output backs up at once.
            sock = socket.socket()
            self.addCleanup(sock.close)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
            sock.settimeout(10 * harness.SLOWDOWN)
            sock.connect((harness.LOOPBACK, proxy.port))
            rfile = sock.makefile("rb")
            sock.sendall(get(b"/a/big") + get(b"/b/x") + get(b"/nowhere") + get(b"/a/big")
                         + get(b"/a/ok", b"Connection: close\r\n"))
            got = []
            for _ in range(5):
                time.sleep(0.05)  # a slow reader: the proxy's output backs up meanwhile
                r = harness.read_response(rfile)
                got.append((r.status, len(r.body)))
            self.assertEqual(got, [(200, 4 * MIB), (200, 5), (404, got[2][1]), (200, 4 * MIB),
                                   (200, 4)])
            self.assertEqual(attacks.wait_closed(sock), b"")
        self.assert_settled(proxy, path="/a/ok")

    def test_head_and_get_alternate_through_local_answers_on_one_exchange(self):
        # Whether an error page has a body is the request's method: each request on the reused
        # Exchange must see its own, or the next response would be read from the wrong byte.
        proxy = self.start(caps={"max_pending": 2})
        holder = self.send(proxy, get(b"/a/stall"))
        self.wait_requests(self.api[0], 1)
        head = lambda p: b"HEAD %s HTTP/1.1\r\nHost: x\r\n\r\n" % p
        seq = [(b"HEAD", b"/a/w1", 503), (b"GET", b"/nowhere", 404), (b"HEAD", b"/nowhere", 404),
               (b"GET", b"/a/w2", 503), (b"HEAD", b"/b/x", 200), (b"GET", b"/b/y", 200)]
        sock, rfile = self.open_raw(proxy)
        sock.sendall(b"".join(head(p) if m == b"HEAD" else get(p) for m, p, _ in seq))
        for method, path, status in seq:
            r = harness.read_response(rfile, method.decode())
            self.assertEqual(r.status, status, (method, path, r))
            if method == b"GET":
                self.assertGreater(len(r.body), 0, (path, r))
        sock.sendall(get(b"/b/last"))
        self.assertEqual(harness.read_response(rfile).body, b"other")
        attacks.reset(holder)
        self.assert_settled(proxy, path="/a/ok")

    def test_an_upgrade_behind_a_pipelined_request(self):
        # The 200's end starts the upgrade on the same Exchange within the upstream callback;
        # the 101 hands both connections to the tunnel.
        proxy = self.start()
        for leave in ("close", "reset", "half-close"):
            sock = self.send(proxy, get(b"/a/ok") + UPGRADE)
            data = self.recv_until(sock, b"hello")
            self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:200])
            self.assertIn(b"HTTP/1.1 101", data)
            sock.sendall(b"ping")
            self.recv_until(sock, b"ping")
            if leave == "close":
                sock.close()
            elif leave == "reset":
                attacks.reset(sock)
            else:
                sock.shutdown(socket.SHUT_WR)
                attacks.wait_closed(sock)
            self.assert_settled(proxy, path="/a/ok")

    def test_keep_alive_reuse_across_pools_after_each_kind_of_end(self):
        # One connection, one request at a time: each kind of end hands the Exchange back to
        # the spares, and the next request (another pool or route) takes one again.
        proxy = self.start(api=2, sick=True, caps={"max_connections": 100},
                           api_extra={"retries": {"attempts": 2, "budget_percent": 100}})
        sock, rfile = self.open_raw(proxy)
        for path, want in ((b"/a/ok", 200), (b"/b/x", 200), (b"/a/sick", 200),
                           (b"/nowhere", 404), (b"/a/close", 502), (b"/b/y", 200),
                           (b"/a/hint-sick", 200), (b"/a/ok", 200)) * 3:
            sock.sendall(get(path))
            got = read_responses(self, rfile, 1)
            self.assertEqual(got[-1][0], want, (path, got))
        self.assert_settled(proxy, path="/a/ok")


    # A bug older than the split: a half-close read while a request was with its Exchange
    # turned keep-alive off, so the requests pipelined before the FIN were dropped.
    def test_pipelined_requests_then_a_half_close_while_the_first_is_at_a_backend(self):
        # As `nc -N` or a batch client sends them: each request, whole before the FIN, gets
        # its answer in order, as it does when a plugin or the proxy answers the first
        # (test_redis_wait_clients: pipelined refusals then half-close).
        proxy = self.start(caps={"max_connections": 10})
        for first in (b"/a/slow?s=0.3", b"/b/x"):
            sock, rfile = self.open_raw(proxy)
            sock.sendall(get(first) + get(b"/a/second") + get(b"/b/third"))
            sock.shutdown(socket.SHUT_WR)
            got = read_responses(self, rfile, 3)
            self.assertEqual([s for s, _ in got], [200, 200, 200], (first, got))
        self.assert_settled(proxy, path="/a/ok")

    # What a half-closed client buffered may end in a request it never finished (a head or a
    # body cut short by its FIN), or in the body of a request the proxy answers itself. Once
    # the whole requests are answered the connection must close, not wait for bytes that a
    # half-closed client cannot send: the fix above left such connections open for good (the
    # torture test and the request-path fuzzer found them).
    def test_a_half_close_that_cuts_a_pipelined_request_short_ends_in_a_close(self):
        proxy = self.start(caps={"max_connections": 10})
        post = b"POST /%s HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
        cases = {"head": (b"GET /b/never HTTP/1.1\r\nHost: x\r\n", [200]),
                 "body": (post % b"a/cut" + b"x" * 40, [200]),
                 "local": (post % b"nope" + b"x" * 100, [200, 404])}
        for name, (tail, statuses) in cases.items():
            for first in (b"/a/slow?s=0.3", b"/b/x"):
                sock, rfile = self.open_raw(proxy)
                sock.settimeout(5 * harness.SLOWDOWN)  # a connection left open fails here
                sock.sendall(get(first) + tail)
                sock.shutdown(socket.SHUT_WR)
                got = read_responses(self, rfile, len(statuses) + 1)
                self.assertEqual([s for s, _ in got], statuses, (name, first))
                sock.close()
        self.assertFalse([t for _, t, _ in self.other.requests if t.endswith("never")])
        self.assert_settled(proxy, path="/a/ok")


class HalfClosedClients(SplitCase):
    """A client's FIN after what it sent (1b53f39): whole requests are answered, in full and
    in order, then the connection closes; it never stays open waiting for bytes a
    half-closed client cannot send."""

    tls = False

    def start_half(self):
        listener = None
        if self.tls:
            cert, key, _ = TlsTestCase.make_cert(self, ["a.test"])
            listener = {"tls": {"certificates": [{"cert": cert, "key": key}]}}
        return self.start(caps={"max_connections": 10}, listener=listener)

    def half_close(self, proxy, data, rcvbuf=None):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(sock.close)
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.settimeout(10 * harness.SLOWDOWN)  # a connection left open fails here
        sock.connect((harness.LOOPBACK, proxy.port))
        if self.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
            sock = ctx.wrap_socket(sock, server_hostname="a.test")
            self.addCleanup(sock.close)
        sock.sendall(data)
        # TCP's FIN under the TLS session (no close_notify), which reads on.
        socket.socket.shutdown(sock, socket.SHUT_WR)
        return sock, sock.makefile("rb")

    def settled(self, proxy):
        if not self.tls:
            self.assert_settled(proxy, path="/a/ok")
            return
        harness.wait_until(lambda: not self.gauges(proxy), timeout=5, what="gauges at 0")
        _, rfile = self.half_close(proxy, get(b"/a/ok"))
        self.assertEqual(harness.read_response(rfile).status, 200)

    def rest(self, rfile):
        """What comes before the close; a TLS close without close_notify reads as one."""
        try:
            return rfile.read()
        except ssl.SSLError as e:
            if "EOF" not in str(e):
                raise
            return b""

    def test_a_chunked_body_cut_mid_chunk_then_a_half_close(self):
        proxy = self.start_half()
        cut = (b"POST /a/cut HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"10\r\nabc")
        for first in (b"", get(b"/b/x"), get(b"/a/slow?s=0.3")):
            sock, rfile = self.half_close(proxy, first + cut)
            # The cut request may be answered (the backend does not wait for its body) or
            # not; the whole one before it must be, and then the connection must close.
            got = read_responses(self, rfile, 2)
            if first:
                self.assertEqual(got[0][0], 200, (first, got))
            self.assertEqual(self.rest(rfile), b"")  # closed, not left open
        self.settled(proxy)

    def test_a_large_answer_to_a_slow_reader_arrives_whole_after_a_half_close(self):
        proxy = self.start_half()
        sock, rfile = self.half_close(proxy, get(b"/a/big") + get(b"/b/x"), rcvbuf=4096)
        time.sleep(0.5)  # the proxy's writes back up against the unread socket first
        got = read_responses(self, rfile, 2)
        self.assertEqual([(s, len(b)) for s, b in got], [(200, 4 * MIB), (200, 5)])
        self.assertEqual(got[0][1], b"b" * (4 * MIB))
        self.assertEqual(self.rest(rfile), b"")
        self.settled(proxy)

    def test_a_hundred_pipelined_requests_then_a_half_close(self):
        proxy = self.start_half()
        reqs = b"".join(get(b"/b/x%d" % i) if i % 3 else get(b"/a/y%d" % i)
                        for i in range(100))
        sock, rfile = self.half_close(proxy, reqs)
        got = [harness.read_response(rfile) for _ in range(100)]
        self.assertEqual([r.body for r in got],
                         [b"other" if i % 3 else b"api0" for i in range(100)])
        self.assertEqual(self.rest(rfile), b"")
        self.settled(proxy)


class HalfClosedTlsClients(HalfClosedClients):
    tls = True


class AccessLogAcrossTheSplit(SplitCase):
    def test_one_line_per_request_in_order_when_answers_come_from_callbacks(self):
        # The Exchange writes each request's line; a pipelined request started inside the
        # last one's callback on the same Exchange must neither lose nor share a line.
        path = os.path.join(self.tmp, "access.log")
        proxy = self.start(api=2, sick=True, caps={"max_connections": 1, "max_pending": 1},
                           api_extra={"retries": {"attempts": 2, "budget_percent": 100}},
                           listener={"access_log": {"format": "json", "path": path}})
        # Both backends held: the first request waits, and its 503 comes from the timer.
        holders = [self.send(proxy, get(b"/a/stall")) for _ in range(2)]
        for b in self.api:
            self.wait_requests(b, 1)
        seq = [b"/a/first", b"/b/x", b"/nowhere", b"/a/hint-sick", b"/b/y"]
        sock, rfile = self.open_raw(proxy)
        sock.sendall(b"".join(get(p) for p in seq))
        got = [harness.read_response(rfile)]
        for h in holders:
            attacks.reset(h)
        while len([r for r in got if r.status >= 200]) < len(seq):
            got.append(harness.read_response(rfile))
        finals = [r for r in got if r.status >= 200]
        sock.close()
        self.assertEqual([r.status for r in finals], [503, 200, 404, 200, 200],
                         [r.status for r in got])

        def lines():
            if not os.path.exists(path):
                return None
            with open(path) as f:
                rows = [json.loads(line) for line in f if line.strip()]
            rows = [r for r in rows if r["path"] in [p.decode() for p in seq]]
            return rows if len(rows) >= len(seq) else None

        rows = harness.wait_until(lines, 10, what="a line per request")
        self.assertEqual([(r["path"], r["status"]) for r in rows],
                         [(p.decode(), r.status) for p, r in zip(seq, finals)])
        self.assertEqual([r["request_id"] for r in rows],
                         [r.header("X-Request-Id") for r in finals])
        self.assertEqual(len(set(r["request_id"] for r in rows)), len(seq))
        self.assert_settled(proxy, path="/a/ok")


class EncodersAcrossTheSplit(SplitCase):
    def test_compressed_and_plain_responses_alternate_on_one_exchange(self):
        # The encoder belongs to one response: a request after it on the reused Exchange, on
        # a route without compress or without Accept-Encoding, gets the backend's bytes.
        proxy = self.start(caps={"max_connections": 10})
        gz = b"Accept-Encoding: gzip\r\n"
        seq = [(b"/c/text", gz, True), (b"/a/text", gz, False), (b"/c/text", b"", False),
               (b"/nowhere", gz, False), (b"/c/text", gz, True), (b"/b/x", gz, False)]
        for _ in range(3):
            sock, rfile = self.open_raw(proxy)
            sock.sendall(b"".join(get(p, h) for p, h, _ in seq))
            for path, _, encoded in seq:
                r = harness.read_response(rfile)
                if path == b"/nowhere":
                    self.assertEqual(r.status, 404)
                    continue
                self.assertEqual(r.status, 200, (path, r))
                self.assertEqual(r.header("Content-Encoding"), "gzip" if encoded else None,
                                 (path, r.headers))
                body = zlib.decompress(r.body, 31) if encoded else r.body
                self.assertTrue(body == (TEXT if path != b"/b/x" else b"other"), path)
        self.assert_settled(proxy, path="/a/ok")

    def test_clients_that_reset_mid_compressed_body_then_plain_clients(self):
        # Each reset hands an Exchange back with its encoder mid-stream; the plain requests
        # that take those Exchanges next must see none of it.
        proxy = self.start(caps={"max_connections": 40})
        for round_ in range(3):
            socks = []
            for _ in range(20):
                sock = self.send(proxy, get(b"/c/text-stall", b"Accept-Encoding: gzip\r\n"))
                socks.append(sock)
            for sock in socks:
                self.assertIn(b"Content-Encoding: gzip", self.recv_until(sock, b"\r\n\r\n"))
                attacks.reset(sock)
            for i in range(20):
                r = proxy.get("/a/text" if i % 2 else "/c/text", timeout=10)
                self.assertEqual((r.status, r.header("Content-Encoding")), (200, None))
                self.assertTrue(r.body == TEXT, (round_, i))
        self.assert_settled(proxy, path="/a/ok")


class WaitersAcrossTheSplit(SplitCase):
    def test_a_waiter_whose_client_half_closes_is_served(self):
        # Half-closed (CLOSE_WAIT) is not gone: the client may read its answer.
        proxy = self.start(caps={"max_pending": 1})
        holder = self.send(proxy, get(b"/a/slow?s=0.5"))
        self.wait_requests(self.api[0], 1)
        waiter = self.send(proxy, get(b"/a/ok"))
        harness.wait_until(lambda: self.pending(proxy) == 1, timeout=5, what="the waiter")
        waiter.shutdown(socket.SHUT_WR)
        data = attacks.wait_closed(waiter)
        self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:200])
        self.assertTrue(self.recv_until(holder, b"api0").startswith(b"HTTP/1.1 200"))
        self.assertEqual(len(self.api[0].requests), 2)
        self.assert_settled(proxy, path="/a/ok")

    def test_a_waiter_whose_listener_a_reload_removes(self):
        proxy = self.start(caps={"max_pending": 2}, api_extra={
            "timeouts": {"connect": "3s", "read": "5s"}})
        holder = self.send(proxy, get(b"/a/slow?s=1"))
        self.wait_requests(self.api[0], 1)
        # A pipelined request waits behind the waiter: with its listener gone it is never
        # routed (the client reconnects elsewhere).
        waiter = self.send(proxy, get(b"/a/ok") + get(b"/a/ok"))
        harness.wait_until(lambda: self.pending(proxy) == 1, timeout=5, what="the waiter")
        old = proxy.port
        new = harness.free_port()
        proxy.reload(proxy.config_text.replace("web:", "moved:")
                     .replace(":%d" % old, ":%d" % new))
        proxy.wait_log("reloaded", timeout=5)
        for sock in (holder, waiter):
            data = attacks.wait_closed(sock, timeout=10)
            self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:200])
            self.assertEqual(data.count(b"HTTP/1.1"), 1, data[:400])
            self.assertIn(b"onnection: close", data)
        proxy.port = new
        self.assert_settled(proxy, path="/a/ok")
        self.assertEqual(len(self.api[0].requests), 3)

    def test_sigterm_while_waiters_hold_pipelined_requests(self):
        # The drain lets each waiter's request finish (Connection: close) and serves nothing
        # pipelined behind it; the process exits once they are done.
        proxy = self.start(caps={"max_pending": 4}, api_extra={
            "timeouts": {"connect": "5s", "read": "5s"}})
        holder = self.send(proxy, get(b"/a/slow?s=0.5"))
        self.wait_requests(self.api[0], 1)
        waiters = [self.send(proxy, get(b"/a/w%d" % i) + get(b"/b/behind")) for i in range(3)]
        harness.wait_until(lambda: self.pending(proxy) == 3, timeout=5, what="3 waiters")
        proxy.signal(15)
        for sock in [holder] + waiters:
            data = attacks.wait_closed(sock, timeout=15)
            self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:200])
            self.assertEqual(data.count(b"HTTP/1.1 "), 1, data[:400])
            self.assertIn(b"onnection: close", data)
        self.assertEqual(proxy.wait(10), 0)
        self.assertEqual(self.other.requests, [])

    def test_more_waiters_than_spare_exchanges_shed_by_the_timer(self):
        # 160 requests wait for the one slot (the worker keeps 128 spare exchanges) and are
        # answered 503 from their timers within a few ms of each other: the exchanges go back
        # past the spares' bound and are freed. Half have a request pipelined behind, which
        # the same Exchange serves afterwards (to the other pool).
        n = 160
        proxy = self.start(caps={"max_pending": n + 10})
        holder = self.send(proxy, get(b"/a/stall"))
        self.wait_requests(self.api[0], 1)
        socks = []
        for i in range(n):
            s = proxy.raw(timeout=20)
            self.addCleanup(s.close)
            s.sendall(get(b"/a/w") + (get(b"/b/next") if i % 2 else b""))
            socks.append(s)
        harness.wait_until(lambda: self.pending(proxy) == n, timeout=10, what="%d waiters" % n)
        for i, s in enumerate(socks):
            got = read_responses(self, s.makefile("rb"), 1 + i % 2)
            want = [503, 200] if i % 2 else [503]
            self.assertEqual([x for x, _ in got], want, (i, got))
        # And once more on each connection kept alive: another Exchange from the spares.
        for s in socks:
            s.sendall(get(b"/b/again"))
        for i, s in enumerate(socks):
            r = harness.read_response(s.makefile("rb"))
            self.assertEqual(r.status, 200, (i, r))
        attacks.reset(holder)
        self.assert_settled(proxy, path="/a/ok")

    def test_clients_that_reset_while_waiting_with_a_pipelined_request_behind(self):
        proxy = self.start(caps={"max_pending": 40}, api_extra={
            "timeouts": {"connect": "3s", "read": "5s"}})
        holder = self.send(proxy, get(b"/a/slow?s=0.5"))
        self.wait_requests(self.api[0], 1)
        socks = [self.send(proxy, get(b"/a/gone") + get(b"/b/never")) for _ in range(30)]
        harness.wait_until(lambda: self.pending(proxy) == 30, timeout=5, what="30 waiters")
        for s in socks:
            attacks.reset(s)
        self.assertTrue(self.recv_until(holder, b"api0").startswith(b"HTTP/1.1 200"))
        self.assert_settled(proxy, path="/a/ok")
        self.assertNotIn("/a/gone", [t for _, t, _ in self.api[0].requests])


class StateLeftBySpareExchanges(SplitCase):
    # A bug older than the split: Worker::ReturnExchange reset ExchangeState but not
    # request_body, which ForwardRequest alone restarts. An answer made before a request
    # reaches its pool (a 404) read the previous user's: a client that asked for the close,
    # on an Exchange whose last user reset mid-upload, saw request_body.done() false in
    # OnClientWrite (kClosing), so the proxy half-closed and lingered kLinger (2 s) holding
    # the socket, instead of closing at once.
    def test_a_local_answer_never_reads_the_last_users_request_body(self):
        proxy = self.start(caps={"max_connections": 10})
        for stale in (False, True):
            if stale:  # the worker's one spare Exchange is left mid-upload
                up = self.send(proxy, b"POST /a/stall HTTP/1.1\r\nHost: x\r\n"
                                      b"Content-Length: 100000\r\n\r\n" + b"u" * 10)
                self.wait_requests(self.api[0], 1)
                attacks.reset(up)
                harness.wait_until(lambda: not self.gauges(proxy), timeout=5, what="settled")
            sock = self.send(proxy, get(b"/nowhere", b"Connection: close\r\n"))
            data = attacks.wait_closed(sock)
            self.assertTrue(data.startswith(b"HTTP/1.1 404"), data[:100])
            # The client keeps its end open; the proxy's must close well before kLinger (2 s,
            # not scaled by SLOWDOWN: a fixed bound below it tells the two apart).
            end = time.monotonic() + 1.5
            while proxy_holds(proxy, sock):
                self.assertLess(time.monotonic(), end, "the proxy lingers (stale=%s)" % stale)
                time.sleep(0.02)
            sock.close()


@unittest.skipUnless(os.access(REDIS_SERVER, os.X_OK), "redis-server is not installed")
class StoreWaitThenSlotWait(SplitCase):
    def test_requests_that_wait_on_redis_then_on_a_slot_and_whose_clients_go(self):
        # The chain's wait (kPlugin) ends in the store's callback, which forwards the
        # request; it then waits for the one connection slot on the Exchange's timer. Of the
        # clients gone by then, those that reset never reach the backend; those that
        # half-closed get their answer; the pipelined request behind each is served or
        # dropped with its connection, and nothing is held after.
        redis = Redis(self.tmp)
        self.addCleanup(redis.stop)
        limit = {"key": "client_ip", "rate": "1000/s", "burst": 1000, "store": redis.url}
        proxy = self.start(caps={"max_pending": 20}, plugins=[{"rate_limit": limit}],
                           api_extra={"timeouts": {"connect": "5s", "read": "5s"}})
        self.assertEqual(proxy.get("/a/warm").status, 200)
        holder = self.send(proxy, get(b"/a/slow?s=1.5"))
        self.wait_requests(self.api[0], 2)
        redis.pause()
        socks = [self.send(proxy, get(b"/a/%s%d" % (b"reset" if i % 2 else b"half", i))
                           + get(b"/b/behind%d" % i)) for i in range(10)]
        time.sleep(0.3 * harness.SLOWDOWN)  # the questions are out to the stopped store
        redis.resume()
        harness.wait_until(lambda: self.pending(proxy) == 10, timeout=5, what="10 waiters")
        for i, s in enumerate(socks):
            if i % 2:
                attacks.reset(s)
            else:
                s.shutdown(socket.SHUT_WR)
        self.assertTrue(self.recv_until(holder, b"api0").startswith(b"HTTP/1.1 200"))
        for i, s in enumerate(socks):
            if i % 2 == 0:
                data = attacks.wait_closed(s, timeout=15)
                self.assertTrue(data.startswith(b"HTTP/1.1 200"), (i, data[:200]))
        self.assert_settled(proxy, path="/a/ok")
        targets = [t for _, t, _ in self.api[0].requests]
        self.assertEqual([t for t in targets if "reset" in t], [], targets)
        self.assertEqual(len([t for t in targets if "half" in t]), 5, targets)


class UploadsAcrossTheSplit(SplitCase):
    def test_a_20_mib_upload_to_a_slow_reader_then_a_half_close(self):
        proxy = self.start()
        body = b"u" * (20 * MIB)
        sock, rfile = self.open_raw(proxy)
        sock.settimeout(60 * harness.SLOWDOWN)
        sock.sendall(b"POST /a/slowread HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                     % len(body) + body)
        sock.shutdown(socket.SHUT_WR)
        r = harness.read_response(rfile)
        self.assertEqual((r.status, r.body), (200, b"%d" % len(body)), r)
        self.assertEqual(attacks.wait_closed(sock), b"")
        self.assert_settled(proxy, path="/a/ok")

    def test_a_backend_that_answers_413_and_resets_mid_upload(self):
        # The client is held back by backpressure (the backend reads 1 MiB of 20) when the
        # answer and the reset come.
        proxy = self.start()
        for _ in range(3):
            sock = self.send(proxy, b"POST /a/early413 HTTP/1.1\r\nHost: x\r\n"
                                    b"Content-Length: %d\r\n\r\n" % (20 * MIB))
            sent = [0]

            def pump():
                chunk = b"u" * 65536
                try:
                    while sent[0] < 20 * MIB:
                        sock.sendall(chunk)
                        sent[0] += len(chunk)
                except OSError:
                    pass

            t = threading.Thread(target=pump, daemon=True)
            t.start()
            data = b""
            try:
                data = attacks.wait_closed(sock, timeout=15)
            except ConnectionError:
                pass
            t.join(15 * harness.SLOWDOWN)
            self.assertFalse(t.is_alive(), "the client is still blocked sending")
            # The 413 when the proxy read it before the reset, else a 502: either way an
            # answer and a close (the rest of the upload is discarded while the proxy lingers).
            self.assertRegex(data[:12], b"^HTTP/1.1 (413|502)", data[:200])
            self.assert_settled(proxy, path="/a/ok")


class UpstreamTlsResets(TlsTestCase, SplitCase):
    def tls_backend(self, name, reset_after_handshake):
        cert = self.make_cert(["backend.test"], tag=name)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*cert)
        plain = scripted(name)

        def serve(backend, sock):
            tls = ctx.wrap_socket(sock, server_side=True)
            if reset_after_handshake:
                with backend.lock:
                    backend.requests.append(("handshake", "", 0))
                tls.recv(1)  # the request's first byte: the try has begun
                attacks.reset(tls)
                return
            plain(backend, tls)
        return ScriptedBackend(self, serve)

    def test_retries_when_a_tls_backend_resets_after_the_handshake(self):
        bad = self.tls_backend("bad", True)
        good = self.tls_backend("good", False)
        proxy = self.start_proxy(self.config(pools={"api": self.pool(
            bad.address, good.address, tls={"verify": False},
            retries={"attempts": 2, "budget_percent": 100},
            circuit_breaker={"consecutive_failures": 1000})}))
        sock, rfile = self.open_raw(proxy)
        for i in range(8):
            sock.sendall(get(b"/a/ok") if i % 2 else get(b"/a/ok") + get(b"/a/ok"))
            got = read_responses(self, rfile, 1 + (i % 2 == 0))
            self.assertEqual([(s, b) for s, b in got], [(200, b"good")] * (1 + (i % 2 == 0)))
        # A POST whose bytes reached the bad backend is not resent: a 502.
        statuses = []
        for _ in range(4):
            r = proxy.request("POST", "/a/ok", body=b"once")
            statuses.append(r.status)
        self.assertIn(200, statuses)
        self.assertTrue(set(statuses) <= {200, 502}, statuses)
        self.assertGreater(len(bad.requests), 0)
        self.assertGreater(self.retries(proxy), 0)
        harness.wait_until(lambda: not self.gauges(proxy), timeout=5, what="gauges at 0")


class MixedCrowd(SplitCase):
    def test_two_hundred_clients_mixing_every_path_for_eight_seconds(self):
        proxy = self.start(api=2, sick=True, caps={"max_connections": 40, "max_pending": 400},
                           api_extra={"retries": {"attempts": 2, "budget_percent": 100},
                                      "timeouts": {"connect": "2s", "read": "5s"}})
        errors = []
        counts = {}
        lock = threading.Lock()
        stop = time.monotonic() + 8

        def pipelined(s, rfile):
            s.sendall(get(b"/a/ok") + get(b"/b/x") + get(b"/nowhere") + get(b"/a/sick"))
            # /a/ may wait for one of its 40 connections past the connect timeout: a 503.
            got = [x for x, _ in read_responses(self, rfile, 4)]
            assert len(got) == 4 and got[1:3] == [200, 404], got
            assert got[0] in (200, 503) and got[3] in (200, 503), got

        def stall_reset(s, rfile):
            s.sendall(get(b"/a/stall"))
            time.sleep(random.random() * 0.2)
            attacks.reset(s)

        def upgrade(s, rfile):
            s.sendall(get(b"/a/ok") + UPGRADE)
            data = b""
            # Either may wait for one of /a/'s 40 connections past the connect timeout: a 503.
            while b"hello" not in data and b"HTTP/1.1 503" not in data:
                chunk = s.recv(4096)
                assert chunk, data[:200]
                data += chunk
            (s.close if random.random() < 0.5 else lambda: attacks.reset(s))()

        def half_close(s, rfile):
            # One request: pipelined ones before a half-close are the known bug above.
            s.sendall(get(b"/a/hint-sick"))
            s.shutdown(socket.SHUT_WR)
            got = [x for x, _ in read_responses(self, rfile, 1)]
            assert len(got) >= 1 and got[-1] in (200, 503), got

        def upload_cut(s, rfile):
            s.sendall(b"POST /a/early413 HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                      % (2 * MIB))
            try:
                for _ in range(32):
                    s.sendall(b"u" * 65536)
            except OSError:
                pass
            (s.close if random.random() < 0.5 else lambda: attacks.reset(s))()

        kinds = [pipelined, stall_reset, upgrade, half_close, upload_cut]

        def client(seed):
            rng = random.Random(seed)
            while time.monotonic() < stop:
                kind = rng.choice(kinds)
                try:
                    s = proxy.raw(timeout=20)
                except OSError as e:
                    with lock:
                        errors.append(("connect", repr(e)))
                    continue
                try:
                    kind(s, s.makefile("rb"))
                    with lock:
                        counts[kind.__name__] = counts.get(kind.__name__, 0) + 1
                except AssertionError as e:
                    with lock:
                        errors.append((kind.__name__, str(e)[:200]))
                except OSError:
                    pass  # the client's own reset racing its reads
                finally:
                    s.close()

        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(200)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60 * harness.SLOWDOWN)
        self.assertFalse(any(t.is_alive() for t in threads), "clients did not finish")
        self.assertEqual(errors[:5], [], (len(errors), counts))
        self.assertEqual(set(counts), {k.__name__ for k in kinds}, counts)
        self.assert_settled(proxy, path="/a/ok")
        self.assertEqual(proxy.get("/b/x").status, 200)


if __name__ == "__main__":
    harness.main()
