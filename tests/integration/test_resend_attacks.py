#!/usr/bin/env python3
"""The resend of an idempotent request with a body after a stale pooled connection (a copy of
up to 16 KiB of its body, Exchange::KeepForResend): bodies at the copy's limit, chunk framing
and trailers, bodies in many writes, a fresh connection that fails too, clients that leave,
pipelined requests, 100-continue, each method, a wait under max_connections, a reload and a
drain, many at once on two workers, an HTTP/2 client, a TLS pool. Whatever happens, a backend
never completes a body that is not the client's, nor completes it twice, and the client gets
one answer."""

import socket
import ssl
import threading
import time

import h2_client
import harness
import test_attempt_attacks as attacks
from test_exchange_safety import ScriptedBackend, answer
from test_exchange_safety import read_request_head as read_head
from tls_certs import TlsTestCase

LIMIT = 16 * 1024  # Exchange::kResendLimit: body bytes as framed upstream


def read_body_raw(rfile, headers):
    """(the body's bytes as framed on the wire, chunk lines and trailers included; whether
    its framing ended) for a request head's `headers`."""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        raw = b""
        while True:
            line = rfile.readline(1024)
            raw += line
            if not line.endswith(b"\n"):
                return raw, False
            size = int(line.split(b";")[0].strip(), 16)
            if size == 0:
                break
            data = rfile.read(size + 2)
            raw += data
            if len(data) < size + 2:
                return raw, False
        while True:  # the trailer section, to its empty line
            line = rfile.readline(1024)
            raw += line
            if not line.endswith(b"\n"):
                return raw, False
            if line in (b"\r\n", b"\n"):
                return raw, True
    n = int(headers.get("content-length", "0"))
    data = rfile.read(n)
    return data, len(data) == n


class StaleBackend:
    """Scripted backend: each connection answers its first request, read whole, then closes on
    the next head as it arrives (with its body unread: a RST), as a backend whose idle
    timeout fires then. `log` gets (connection number, method, target, raw body, complete)
    per request, raw body None for a head it closed on. `closes(conn, index, head)` picks the
    heads it closes on instead; `on_accept(self, conn)` runs as each connection is accepted;
    `wrap(sock)` (TLS) wraps each. A target with "/silent" is read whole and never answered;
    one with "/busy" is answered a millisecond after. `most_busy`: the most requests it was
    serving at once (read, not yet answered), across its connections."""

    def __init__(self, test, closes=None, on_accept=None, wrap=None):
        self.log = []
        self.wrap = wrap
        self.closes = closes or (lambda conn, index, head: index > 0)
        self.on_accept = on_accept
        self.accepted = 0
        self.busy = 0  # requests read and not yet answered, and the most at once
        self.most_busy = 0
        self.lock = threading.Lock()
        self.backend = ScriptedBackend(test, self._serve)
        self.address = self.backend.address

    def _serve(self, backend, sock):
        with self.lock:
            self.accepted += 1
            conn = self.accepted
        if self.on_accept:
            self.on_accept(self, conn)
        if self.wrap is None:
            self._talk(sock, conn)
            return
        with self.wrap(sock) as wrapped:  # closed here: the wrapper detached `sock`
            self._talk(wrapped, conn)

    def _talk(self, sock, conn):
        rfile = sock.makefile("rb")
        index = 0
        while True:
            head = read_head(rfile)
            if head is None:
                return
            method, target, headers = head
            if self.closes(conn, index, head):
                with self.lock:
                    self.log.append((conn, method, target, None, False))
                return
            if "100-continue" in headers.get("expect", "").lower():
                sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            with self.lock:
                self.busy += 1
                self.most_busy = max(self.most_busy, self.busy)
            try:
                raw, complete = read_body_raw(rfile, headers)
                with self.lock:
                    self.log.append((conn, method, target, raw, complete))
                if not complete:
                    return
                if "/silent" in target:
                    sock.recv(1)  # until the proxy gives up
                    return
                if "/busy" in target:
                    time.sleep(0.001)  # its service time: others queue for the connection
            finally:
                with self.lock:
                    self.busy -= 1
            answer(sock)
            index += 1

    def puts(self):
        """(target, raw body, complete) of each PUT read, in order; None for a head only."""
        with self.lock:
            return [(t, raw, c) for _, m, t, raw, c in self.log if m == "PUT"]


def chunked(sizes, trailer=b""):
    """A chunked body of chunks of `sizes` bytes (distinct bytes each), with `trailer`."""
    out = b""
    for i, n in enumerate(sizes):
        out += b"%x\r\n" % n + bytes([97 + i % 26]) * n + b"\r\n"
    return out + b"0\r\n" + trailer + b"\r\n"


def chunked_of_length(total):
    """A chunked body whose framing, last chunk included, is exactly `total` bytes."""
    # One chunk: "<hex>\r\n" + data + "\r\n" + "0\r\n\r\n".
    n = total - 4 - 5
    while len(b"%x\r\n" % n) + n + 2 + 5 != total:
        n -= 1
    return chunked([n])


class ResendAttacks(harness.ProxyTestCase):
    gauges = attacks.AttemptAttacks.gauges
    assert_settled = attacks.AttemptAttacks.assert_settled

    def start(self, backend, pool_extra=None, *more, **config_kw):
        """A proxy over `backend` (and `more`) at max_connections 1 without a queue: a slot a
        resend leaked turns the next request into a 503."""
        extra = {"circuit_breaker": {"consecutive_failures": 1000, "max_connections": 1,
                                     "max_pending": 0},
                 "timeouts": {"connect": "1s", "read": "%ds" % (3 * harness.SLOWDOWN)}}
        extra.update(pool_extra or {})
        addresses = [b.address for b in (backend,) + more]
        return self.start_proxy(self.config(pools={"api": self.pool(*addresses, **extra)},
                                            **config_kw))

    def pooled(self, proxy):
        """A client connection whose first request left a pooled connection to the backend."""
        sock, rfile = self.open_raw(proxy)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(harness.read_response(rfile).status, 200)
        return sock, rfile

    def put(self, sock, target, body, te=False, extra=b""):
        framing = (b"Transfer-Encoding: chunked" if te else b"Content-Length: %d" % len(body))
        return (b"PUT %s HTTP/1.1\r\nHost: x\r\n%s\r\n%s\r\n" % (target, framing, extra)) + body

    def assert_no_cut_completed(self, backend, body):
        """Every PUT the backend read whole carries `body` as the client framed it."""
        for target, raw, complete in backend.puts():
            if complete:
                self.assertEqual(raw, body, (target, len(raw), len(body)))

    # ---- the copy's limit --------------------------------------------------------------------

    def test_bodies_at_the_copy_limit_are_resent_whole_and_past_it_never_cut(self):
        cases = [(b"Content-Length", (bytes(range(256)) * 65)[:LIMIT + d]) for d in (-1, 0, 1)]
        cases += [(b"chunked", chunked_of_length(LIMIT + d)) for d in (-1, 0, 1)]
        # A chunk whose size line straddles the limit, then more chunks past it.
        cases.append((b"chunked", chunked([LIMIT - 8, 100, 3000])))
        cases.append((b"chunked", chunked([1000] * 15 + [LIMIT - 15000 - 40])))
        for framing, body in cases:
            with self.subTest(framing=framing, length=len(body)):
                backend = StaleBackend(self)
                proxy = self.start(backend)
                te = framing == b"chunked"
                sock, rfile = self.pooled(proxy)
                sock.sendall(self.put(sock, b"/b", body, te=te))
                r = harness.read_response(rfile)
                self.assert_no_cut_completed(backend, body)
                whole = [p for p in backend.puts() if p[2]]
                if len(body) <= LIMIT:
                    self.assertEqual(r.status, 200, (r, backend.log))
                    self.assertEqual(backend.puts(), [("/b", None, False), ("/b", body, True)])
                else:  # resent only if the stale close came before the copy outgrew it
                    self.assertIn(r.status, (200, 502), r)
                    self.assertEqual(len(whole), 1 if r.status == 200 else 0, backend.log)
                sock.close()
                self.assert_settled(proxy, path="/c")
                proxy.stop()

    def test_a_trailer_section_is_resent_as_framed(self):
        backend = StaleBackend(self)
        proxy = self.start(backend)
        body = chunked([3, 5], trailer=b"X-Sum: 8\r\nX-Other: y\r\n")
        sock, rfile = self.pooled(proxy)
        sock.sendall(self.put(sock, b"/b", body, te=True, extra=b"Trailer: X-Sum\r\n"))
        r = harness.read_response(rfile)
        self.assertEqual(r.status, 200, (r, backend.log))
        self.assertEqual(backend.puts(), [("/b", None, False), ("/b", body, True)])
        self.assert_settled(proxy, path="/c")

    def test_a_body_in_many_small_writes_across_the_stale_close(self):
        backend = StaleBackend(self)
        proxy = self.start(backend)
        body = chunked([1] * 40 + [200] * 10)
        sock, rfile = self.pooled(proxy)
        message = self.put(sock, b"/b", body, te=True)
        head_len = message.index(b"\r\n\r\n") + 4
        # The head with the first chunk, in one write: body bytes went to the stale connection.
        sock.sendall(message[:head_len + 6])
        cut = head_len + len(body) // 3
        for i in range(head_len + 6, cut, 7):  # some before the close is seen, some after
            sock.sendall(message[i:min(i + 7, cut)])
        harness.wait_until(lambda: backend.accepted >= 2, timeout=5, what="the fresh connection")
        for i in range(cut, len(message), 11):
            sock.sendall(message[i:i + 11])
        r = harness.read_response(rfile)
        self.assertEqual(r.status, 200, (r, backend.log))
        self.assertEqual(backend.puts(), [("/b", None, False), ("/b", body, True)])
        self.assert_settled(proxy, path="/c")

    def test_each_idempotent_method_is_resent_and_post_and_patch_never(self):
        for method in ("DELETE", "OPTIONS", "GET", "POST", "PATCH"):
            with self.subTest(method=method):
                backend = StaleBackend(self)
                proxy = self.start(backend)
                sock, rfile = self.pooled(proxy)
                body = b"%s-body" % method.encode()
                sock.sendall(self.put(sock, b"/b", body).replace(b"PUT", method.encode(), 1))
                r = harness.read_response(rfile)
                sent = [e[1:] for e in backend.log if e[1:3] == (method, "/b")]
                if method in ("POST", "PATCH"):
                    self.assertEqual(r.status, 502, (r, backend.log))
                    self.assertEqual(sent, [(method, "/b", None, False)])
                else:
                    self.assertEqual(r.status, 200, (r, backend.log))
                    self.assertEqual(sent, [(method, "/b", None, False),
                                            (method, "/b", body, True)])
                sock.close()
                self.assert_settled(proxy, path="/c")
                proxy.stop()

    # ---- the fresh connection fails too ------------------------------------------------------

    def test_a_refused_fresh_connection_retries_the_whole_body_elsewhere(self):
        def refuse_after_first(b, conn):
            b.backend.listener.close()  # connects to it are refused from now on
        one = StaleBackend(self, on_accept=refuse_after_first)
        two = StaleBackend(self, on_accept=refuse_after_first)
        # ip_hash: the PUT goes where the GET left its pooled connection.
        proxy = self.start(one, {"balance": "ip_hash",
                                 "retries": {"attempts": 2, "budget_percent": 100}}, two)
        body = chunked([700, 900])
        sock, rfile = self.pooled(proxy)
        sock.sendall(self.put(sock, b"/b", body, te=True))
        r = harness.read_response(rfile)
        self.assertEqual(r.status, 200, (r, one.log, two.log))
        stale, fresh = (one, two) if one.log[0][1] == "GET" else (two, one)
        self.assertEqual(stale.puts(), [("/b", None, False)], (one.log, two.log))
        self.assertEqual(fresh.puts(), [("/b", body, True)])

    def test_a_fresh_connection_closed_too_is_a_502_never_a_third_send(self):
        backend = StaleBackend(self, closes=lambda conn, index, head: head[0] == "PUT")
        proxy = self.start(backend, {"retries": {"attempts": 3, "budget_percent": 100}})
        body = b"p" * 5000
        sock, rfile = self.pooled(proxy)
        sock.sendall(self.put(sock, b"/b", body))
        r = harness.read_response(rfile)
        self.assertEqual(r.status, 502, (r, backend.log))
        self.assertEqual(backend.puts(), [("/b", None, False)] * 2)
        sock.close()
        self.assert_settled(proxy, path="/c")

    def test_a_fresh_connection_that_times_out_is_a_504_sent_once(self):
        backend = StaleBackend(self)
        proxy = self.start(backend, {"retries": {"attempts": 3, "budget_percent": 100},
                                     "timeouts": {"connect": "1s", "read": "1s"}})
        body = b"q" * 3000
        sock, rfile = self.pooled(proxy)
        sock.sendall(self.put(sock, b"/silent", body))
        r = harness.read_response(rfile)
        self.assertEqual(r.status, 504, (r, backend.log))
        self.assertEqual(backend.puts(), [("/silent", None, False), ("/silent", body, True)])
        sock.close()
        self.assert_settled(proxy, path="/c")

    # ---- the client leaves ---------------------------------------------------------------------

    def test_a_client_that_leaves_mid_resend_is_never_completed(self):
        for how in ("rst", "fin"):
            with self.subTest(how=how):
                backend = StaleBackend(self)
                proxy = self.start(backend)
                body = b"r" * 6000
                sock, rfile = self.pooled(proxy)
                sock.sendall(self.put(sock, b"/b", body)[:-2000])
                harness.wait_until(lambda: backend.accepted >= 2, timeout=5,
                                   what="the fresh connection")
                if how == "rst":
                    attacks.reset(sock)
                else:
                    sock.shutdown(socket.SHUT_WR)
                harness.wait_until(lambda: len(backend.puts()) >= 2, timeout=5,
                                   what="the resent PUT ended")
                self.assertEqual(backend.puts()[0], ("/b", None, False))
                self.assertFalse(backend.puts()[1][2], "a cut body completed")
                self.assert_settled(proxy, path="/c")
                proxy.stop()

    # ---- requests around a resend ------------------------------------------------------------

    def test_a_pipelined_put_after_a_resent_one_carries_only_its_own_body(self):
        backend = StaleBackend(self)
        proxy = self.start(backend)
        sock, rfile = self.pooled(proxy)
        first, second = chunked([3, 2]), b"second-body"
        # /b is resent on a fresh connection; /c reuses that one, which closes on it: its
        # own resend must hold its body alone, none of /b's copy.
        sock.sendall(self.put(sock, b"/b", first, te=True) + self.put(sock, b"/c", second)
                     + b"HEAD /d HTTP/1.1\r\nHost: x\r\n\r\n")
        for _ in range(2):
            r = harness.read_response(rfile)
            self.assertEqual(r.status, 200, (r, backend.log))
        self.assertEqual(harness.read_response(rfile, method="HEAD").status, 200)
        self.assertEqual(backend.puts(), [("/b", None, False), ("/b", first, True),
                                          ("/c", None, False), ("/c", second, True)])
        self.assertEqual([e[1:3] for e in backend.log if e[1] == "HEAD"], [("HEAD", "/d")] * 2)
        self.assert_settled(proxy, path="/e")

    def test_100_continue_survives_a_resend(self):
        # "wait": the client sends its body after the fresh connection's 100 (nothing of it
        # went to the stale one). "eager": as curl after its wait, the body follows at once
        # and part of it went to the stale connection: the copy carries it.
        for how in ("wait", "eager"):
            with self.subTest(how=how):
                backend = StaleBackend(self)
                proxy = self.start(backend)
                sock, rfile = self.pooled(proxy)
                body = b"c" * 4000
                head = (b"PUT /b HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                        b"Content-Length: %d\r\n\r\n" % len(body))
                if how == "wait":
                    sock.sendall(head)
                else:
                    sock.sendall(head + body[:1000])
                    harness.wait_until(lambda: backend.accepted >= 2, timeout=5,
                                       what="the fresh connection")
                r = harness.read_response(rfile)
                self.assertEqual(r.status, 100, (r, backend.log))
                sock.sendall(body if how == "wait" else body[1000:])
                r = harness.read_response(rfile)
                self.assertEqual(r.status, 200, (r, backend.log))
                self.assertEqual(backend.puts(), [("/b", None, False), ("/b", body, True)])
                self.assert_settled(proxy, path="/c")
                proxy.stop()

    def test_a_resend_holds_its_slot_while_another_request_waits(self):
        backend = StaleBackend(self)
        proxy = self.start(backend, {"circuit_breaker": {"consecutive_failures": 1000,
                                                         "max_connections": 1,
                                                         "max_pending": 1},
                                     "timeouts": {"connect": "%ds" % (5 * harness.SLOWDOWN),
                                                  "read": "5s"}})
        sock, rfile = self.pooled(proxy)
        body = b"w" * 8000
        message = self.put(sock, b"/b", body)
        sock.sendall(message[:-100])
        harness.wait_until(lambda: backend.accepted >= 2, timeout=5, what="the fresh connection")
        waiter, wfile = self.open_raw(proxy)
        waiter.sendall(b"GET /w HTTP/1.1\r\nHost: x\r\n\r\n")
        harness.wait_until(lambda: attacks.AttemptAttacks.pending(self, proxy) == 1, timeout=5,
                           what="the waiter pending")
        sock.sendall(message[-100:])
        r = harness.read_response(rfile)
        self.assertEqual(r.status, 200, (r, backend.log))
        self.assertEqual(harness.read_response(wfile).status, 200)
        self.assertEqual(backend.puts(), [("/b", None, False), ("/b", body, True)])
        self.assert_settled(proxy, path="/c")

    def test_a_reload_or_a_drain_lets_a_resent_upload_finish(self):
        for how in ("reload", "drain"):
            with self.subTest(how=how):
                backend = StaleBackend(self)
                proxy = self.start(backend)
                sock, rfile = self.pooled(proxy)
                body = b"d" * 9000
                message = self.put(sock, b"/b", body)
                sock.sendall(message[:-500])
                harness.wait_until(lambda: backend.accepted >= 2, timeout=5,
                                   what="the fresh connection")
                if how == "reload":  # the backend leaves the pool; the request keeps its view
                    other = StaleBackend(self)
                    proxy.reload(proxy.config_text.replace(backend.address, other.address))
                    proxy.wait_log("reloaded", timeout=5)
                else:
                    proxy.signal(15)
                    proxy.wait_log(r"draining: no new connections")
                sock.sendall(message[-500:])
                r = harness.read_response(rfile)
                self.assertEqual(r.status, 200, (r, backend.log))
                self.assertEqual(backend.puts(), [("/b", None, False), ("/b", body, True)])
                if how == "reload":
                    self.assertEqual(other.log, [])
                    sock.close()
                    self.assert_settled(proxy, path="/c")
                    proxy.stop()
                else:
                    self.assertEqual(proxy.wait(10), 0)

    # ---- many at once -------------------------------------------------------------------------

    def test_concurrent_resends_keep_each_body_their_own_and_memory_bounded(self):
        # Two workers, every reused connection stale: each PUT is resent from its own copy.
        # Bodies are unique per request, so a copy that leaked into another exchange (its
        # spares, a pipelined request) shows as a body no client sent.
        backend = StaleBackend(self)
        proxy = self.start(backend, {"circuit_breaker": {"consecutive_failures": 1000,
                                                         "max_connections": 256}},
                           workers=2)
        before = proxy.rss_kib()
        clients, rounds = 24, 6
        sent, answers, errors = {}, {}, []

        def client(n):
            try:
                sock, rfile = self.pooled(proxy)
                for i in range(rounds):
                    target = b"/p/%d/%d" % (n, i)
                    size = (n * 977 + i * 4099) % (LIMIT + 2000) + 1
                    stamp = target + b";"
                    body = (stamp * (size // len(stamp) + 1))[:size]
                    te = (n + i) % 2 == 1
                    if te:
                        body = chunked([len(body) // 2, len(body) - len(body) // 2])
                    sent[target.decode()] = body
                    sock.sendall(self.put(sock, target, body, te=te))
                    r = harness.read_response(rfile)
                    answers[target.decode()] = r.status
                    if r.status != 200:
                        sock.close()
                        sock, rfile = self.pooled(proxy)
            except Exception as e:  # reported below, in the test's thread
                errors.append(repr(e))
        threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60 * harness.SLOWDOWN)
        self.assertEqual(errors, [])
        self.assertEqual(len(answers), clients * rounds)
        whole = {}
        for target, raw, complete in backend.puts():
            if complete:
                self.assertEqual(raw, sent[target], target)
                whole[target] = whole.get(target, 0) + 1
        for target, status in answers.items():
            small = len(sent[target]) <= LIMIT
            self.assertIn(status, (200,) if small else (200, 502), target)
            self.assertEqual(whole.get(target, 0), 1 if status == 200 else 0, target)
        if not harness.SANITIZER:  # each request holds at most its 16 KiB copy
            self.assertLess(proxy.rss_kib() - before, 16 * 1024)
        self.assert_settled(proxy, path="/c")

    def test_resends_on_two_workers_keep_max_connections(self):
        # The stale connection's slot passes to the fresh one: a waiter on the other worker
        # must not take it between the close and the connect, or the backend serves two
        # requests at once under max_connections 1.
        backend = StaleBackend(self)
        proxy = self.start(backend, {"circuit_breaker": {"consecutive_failures": 1000,
                                                         "max_connections": 1,
                                                         "max_pending": 64},
                                     "timeouts": {"connect": "10s", "read": "10s"}},
                           workers=2)
        end = harness.deadline(3)
        statuses, errors = [], []

        def client():
            try:
                sock, rfile = self.open_raw(proxy)
                while time.monotonic() < end and backend.most_busy < 2:
                    sock.sendall(self.put(sock, b"/busy", b"abc"))
                    statuses.append(harness.read_response(rfile).status)
            except Exception as e:  # reported below, in the test's thread
                errors.append(repr(e))
        threads = [threading.Thread(target=client) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30 * harness.SLOWDOWN)
        self.assertEqual(errors, [])
        self.assertEqual(backend.most_busy, 1, "requests at once under max_connections 1")
        self.assertEqual(set(statuses), {200})
        self.assertGreater(backend.accepted, 50, "too few resends to tell")
        self.assertTrue(all(raw == b"abc" for _, raw, _ in backend.puts() if raw is not None))
        self.assert_settled(proxy, path="/c")

    # ---- an HTTP/2 client ----------------------------------------------------------------------

    def test_an_http2_put_with_trailers_is_resent_whole(self):
        backend = StaleBackend(self)
        proxy = self.start(backend, listener={"h2c": True})
        sock, rfile = self.pooled(proxy)
        body = b"h" * 5000
        # No length: the body goes up chunked, its trailers in the chunked trailer section.
        # One at a time: the stale close is on the pooled connection's next request.
        for target, extra, trailers in (("/b", (), [("x-sum", "5000")]),
                                        ("/c", (("content-length", "5000"),), None)):
            a = h2_client.exchange(proxy.port, False, [("PUT", target, extra, body, trailers)])
            self.assertEqual(a[0].status, 200, backend.log)
        puts = backend.puts()
        self.assertEqual([(t, c) for t, _, c in puts],
                         [("/b", False), ("/b", True), ("/c", False), ("/c", True)], puts)
        self.assertEqual(puts[3][1], body)
        self.assertTrue(puts[1][1].endswith(b"0\r\nx-sum: 5000\r\n\r\n"), puts[1][1][-40:])
        self.assertEqual(puts[1][1].count(b"h"), len(body))
        self.assert_settled(proxy, path="/d")


class ResendToTlsBackends(TlsTestCase):
    assert_settled = ResendAttacks.assert_settled
    gauges = ResendAttacks.gauges
    start = ResendAttacks.start
    pooled = ResendAttacks.pooled
    put = ResendAttacks.put

    def test_a_stale_tls_connection_resends_the_whole_body(self):
        cert = self.make_server_cert(self.make_ca("origin-ca"), ["origin.test"])
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert[0], cert[1])
        backend = StaleBackend(self, wrap=lambda s: ctx.wrap_socket(s, server_side=True))
        proxy = self.start(backend, {"tls": {"verify": False}})
        for te, body in ((False, b"t" * 7000), (True, chunked([3000, 4000]))):
            sock, rfile = self.pooled(proxy)
            sock.sendall(self.put(sock, b"/b", body, te=te))
            r = harness.read_response(rfile)
            self.assertEqual(r.status, 200, (r, backend.log))
            self.assertEqual(backend.puts()[-2:], [("/b", None, False), ("/b", body, True)])
            sock.close()
        self.assert_settled(proxy, path="/c")


if __name__ == "__main__":
    harness.main()
