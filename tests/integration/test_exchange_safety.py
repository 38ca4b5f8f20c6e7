#!/usr/bin/env python3
"""The upstream side of an exchange under retries, timeouts and backpressure (issue 13): a
read timeout on a reused connection is never resent; ip_hash keys survive a retry (ASan);
uploads never stall on their own backpressure, whether the body is replayed on a retry or
read slowly by the backend; timeouts.read runs from the end of the upload, not its start;
balancing panic never hides a live backend behind open circuits."""

import socket
import threading
import time

import harness
import metrics_util

MIB = 1 << 20


def read_request_head(rfile):
    """(method, target, {lowercase name: value}) of one request head from a backend's
    buffered socket, or None when the peer closed before a request line."""
    line = rfile.readline(65536)
    if not line:
        return None
    method, target, _ = line.decode("latin-1").split(" ", 2)
    headers = {}
    while True:
        line = rfile.readline(65536)
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return method, target, headers


def read_request(rfile):
    """One request from a backend's buffered socket: (method, target, headers, body), or None
    when the peer closed before a request line. Content-Length and chunked bodies."""
    head = read_request_head(rfile)
    if head is None:
        return None
    method, target, headers = head
    body = b""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int(rfile.readline(1024).split(b";")[0].strip(), 16)
            if size == 0:
                rfile.readline(1024)
                break
            body += rfile.read(size)
            rfile.read(2)
    elif "content-length" in headers:
        body = rfile.read(int(headers["content-length"]))
    return method, target, headers, body


def answer(sock, status=200, body=b"ok\n"):
    sock.sendall(b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n\r\n" % (status, len(body)) + body)


class ScriptedBackend:
    """A backend on 127.0.0.1 run by a thread of the test: `serve(backend, sock)` handles each
    connection in its own thread. `requests` lists (method, target, body length) as read."""

    def __init__(self, test, serve):
        self.serve = serve
        self.requests = []
        self.lock = threading.Lock()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind((harness.LOOPBACK, 0))
        self.listener.listen(64)
        self.address = "%s:%d" % self.listener.getsockname()
        self.stopped = threading.Event()
        self.conns = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()
        test.addCleanup(self.stop)

    def _accept(self):
        self.listener.settimeout(0.1)
        while not self.stopped.is_set():
            try:
                sock, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            sock.settimeout(30 * harness.SLOWDOWN)  # a bound on every wait of a script
            self.conns.append(sock)
            threading.Thread(target=self._run, args=(sock,), daemon=True).start()

    def _run(self, sock):
        try:
            self.serve(self, sock)
        except OSError:
            pass
        finally:
            sock.close()

    def record(self, req):
        with self.lock:
            self.requests.append((req[0], req[1], len(req[3])))

    def count(self, method):
        with self.lock:
            return sum(1 for r in self.requests if r[0] == method)

    def stop(self):
        self.stopped.set()
        self.listener.close()
        for s in self.conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.thread.join(timeout=5)


def refused_address():
    """An address where nothing listens: connects are refused."""
    return "%s:%d" % (harness.LOOPBACK, harness.free_port())


class Blackhole:
    """A listener whose accept queue is full, so the kernel drops new SYNs: a connect to it
    neither succeeds nor fails until the proxy's connect timeout."""

    def __init__(self, test):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind((harness.LOOPBACK, 0))
        self.listener.listen(0)
        self.address = "%s:%d" % self.listener.getsockname()
        self.fillers = []
        for _ in range(2):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex(self.listener.getsockname())
            self.fillers.append(s)
        test.addCleanup(self.close)

    def close(self):
        for s in self.fillers + [self.listener]:
            s.close()


def metric_total(proxy, name):
    samples, _ = metrics_util.parse(proxy.admin("/metrics").text)
    return sum(v for (n, _), v in samples.items() if n == name)


class ReadTimeoutOnReusedConnection(harness.ProxyTestCase):
    def test_a_post_that_times_out_on_a_pooled_connection_is_sent_once(self):
        def serve(backend, sock):
            rfile = sock.makefile("rb")
            req = read_request(rfile)
            if req is None:
                return
            backend.record(req)
            answer(sock)  # kept alive: the proxy pools this connection
            req = read_request(rfile)
            if req is None:
                return
            backend.record(req)
            sock.recv(1)  # the second request is never answered: wait for the proxy to give up

        backend = ScriptedBackend(self, serve)
        proxy = self.start_proxy(self.config(pools={"api": self.pool(
            backend.address, timeouts={"read": "2s"})}))
        conn = proxy.connection()
        self.addCleanup(conn.close)
        first = harness.request(proxy.port, path="/warm", conn=conn)
        self.assertEqual(first.status, 200)
        start = time.monotonic()
        r = harness.request(proxy.port, method="POST", path="/pay", body=b"", conn=conn)
        elapsed = time.monotonic() - start
        # The backend may still be working on the payment: a stale-connection resend would
        # make it twice (and, on a fresh connection, get its answer instead of the 504).
        self.assertEqual(backend.count("POST"), 1, backend.requests)
        self.assertEqual(r.status, 504, r)
        self.assertGreater(elapsed, 1.8)
        self.assertLess(elapsed, 2 + 1.2 * harness.TOLERANCE, "one read timeout, not two")


class HashKeyOnRetry(harness.ProxyTestCase):
    """ip_hash's key comes from the request head, whose bytes are drained before the attempt;
    a retry picks again with it. Under ASan a dangling key is a heap-use-after-free."""

    def check(self, pool_extra, headers_for, listener=None):
        live = self.start_backend("live")
        proxy = self.start_proxy(self.config(
            pools={"api": self.pool(refused_address(), live, balance="ip_hash",
                                    circuit_breaker={"consecutive_failures": 1000},
                                    retries={"attempts": 2, "budget_percent": 100},
                                    **pool_extra)},
            listener=listener))
        for i in range(16):
            r = proxy.get("/", headers=headers_for(i))
            self.assertEqual((r.status, r.header("X-Backend")), (200, "live"), (i, r))
        # Keys that hash to the refused backend were retried on the live one.
        self.assertGreater(metric_total(proxy, "outrigger_backend_retries_total"), 0)

    def test_header_key(self):
        self.check({"hash_on": "header:X-User"}, lambda i: {"X-User": "user-%d" % i})

    def test_cookie_key(self):
        self.check({"hash_on": "cookie:sid"},
                   lambda i: {"Cookie": "theme=dark; sid=session-%d; lang=en" % i})

    def test_client_ip_behind_a_trusted_proxy(self):
        self.check({}, lambda i: {"X-Forwarded-For": "203.0.113.%d" % (i + 1)},
                   listener={"trusted_proxies": ["127.0.0.1/32"]})


class UploadBackpressure(harness.ProxyTestCase):
    def test_a_large_upload_replayed_on_a_retry_arrives_whole(self):
        # The first attempt's connect hangs, so the body queues up for it past the high-water
        # mark and client reading stops; the retry takes that queue on a backend that is
        # ready at once, and writes it in one go.
        hole = Blackhole(self)
        live = self.start_backend("live")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(
            hole.address, live, timeouts={"connect": "1s", "read": "5s"},
            circuit_breaker={"consecutive_failures": 1000})}))
        body = bytes(i * 7 % 251 for i in range(MIB))
        for _ in range(2):  # round robin: one of the two tries the black hole first
            r = proxy.request("POST", "/echo", body=body, timeout=20)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.header("X-Echo-Length"), str(len(body)))
            self.assertTrue(r.body == body, "the echo differs from the upload")
        self.assertGreater(metric_total(proxy, "outrigger_backend_retries_total"), 0)

    def test_a_large_upload_to_a_slow_reader_arrives_whole(self):
        def serve(backend, sock):
            rfile = sock.makefile("rb", buffering=0)
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                c = rfile.read(1)
                if not c:
                    return
                head += c
            length = int([l.split(b":")[1] for l in head.split(b"\r\n")
                          if l.lower().startswith(b"content-length:")][0])
            got = 0
            while got < length:
                chunk = sock.recv(min(16384, length - got))
                if not chunk:
                    return
                got += len(chunk)
                time.sleep(0.005)
            backend.record(("POST", "/", None, b"x" * got))
            answer(sock, body=b"%d" % got)

        backend = ScriptedBackend(self, serve)
        proxy = self.start_proxy(self.config(pools={"api": self.pool(
            backend.address, timeouts={"read": "5s"})}))
        body = b"u" * (2 * MIB)
        r = proxy.request("POST", "/upload", body=body, timeout=30)
        self.assertEqual((r.status, r.body), (200, b"%d" % len(body)), r)


class ReadTimeoutDuringUpload(harness.ProxyTestCase):
    def test_a_slow_upload_longer_than_the_read_timeout_completes(self):
        backend = self.start_backend("a")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(
            backend, timeouts={"read": "2s"})}))
        sock, rfile = self.open_raw(proxy)
        pieces = [b"%02d-456789" % i for i in range(8)]  # 10 bytes every 0.5 s: 4 s in all
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                     % sum(len(p) for p in pieces))
        for p in pieces:
            time.sleep(0.5)
            sock.sendall(p)
        r = harness.read_response(rfile)
        self.assertEqual((r.status, r.body), (200, b"".join(pieces)), r)
        self.assertEqual(metric_total(proxy, "outrigger_backend_failures_total"), 0)

    def test_a_backend_silent_after_the_upload_still_times_out(self):
        backend = self.start_backend("a")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(
            backend, timeouts={"read": "1s"})}))
        sock, rfile = self.open_raw(proxy)
        sock.sendall(b"POST /slow?ms=4000 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nab")
        time.sleep(0.7)
        start = time.monotonic()
        sock.sendall(b"c")
        r = harness.read_response(rfile)
        elapsed = time.monotonic() - start
        self.assertEqual(r.status, 504, r)
        self.assertGreater(elapsed, 0.9, "the read timeout runs from the end of the upload")
        self.assertLess(elapsed, 1 + 1.5 * harness.TOLERANCE)


class PanicAndOpenCircuits(harness.ProxyTestCase):
    def test_panic_never_sheds_while_a_live_backend_is_left(self):
        live = self.start_backend("live")
        dead = [refused_address() for _ in range(3)]
        proxy = self.start_proxy(self.config(pools={"api": self.pool(
            *dead, live,
            health={"live": {"path": "/health/live", "interval": "200ms", "timeout": "1s",
                             "fall": 1, "rise": 1}},
            # The first failure opens a dead backend's circuit, for longer than the test.
            circuit_breaker={"consecutive_failures": 1, "open_for": "5m"},
            retries={"attempts": 3, "budget_percent": 100})}))
        # One backend of four passes its probe: under the 50% threshold, so the pool panics
        # and spreads over the dead ones too, until their circuits open.
        proxy.wait_log("balancing over all of them", timeout=5)
        statuses = [proxy.get("/").status for _ in range(40)]
        self.assertEqual(statuses, [200] * 40)


if __name__ == "__main__":
    harness.main()
