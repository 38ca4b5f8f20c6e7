#!/usr/bin/env python3
"""The client side of the request path: what a client is answered, and when, on the edges of
HTTP/1.1 framing (pipelining after a local error, HEAD, bare LF, upgrades, interim responses,
X-Forwarded-For lines, half-closed tunnels)."""

import socket
import threading
import time
import unittest

import harness


class ScriptedBackend:
    """A raw backend on 127.0.0.1: for each connection, reads one request head, then calls
    script(conn) to answer (bytes as they should go on the wire). Runs in a thread of the test
    process; stopped in the test's cleanup."""

    def __init__(self, test, script):
        self.script = script
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((harness.LOOPBACK, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.address = "%s:%d" % self.sock.getsockname()
        self.requests = []  # the request heads received
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        test.addCleanup(self.stop)

    def _serve(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn):
        with conn:
            conn.settimeout(10 * harness.SLOWDOWN)
            try:
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    head += chunk
                self.requests.append(head)
                self.script(conn)
            except OSError:
                pass

    def stop(self):
        self.stopping.set()
        self.sock.close()
        self.thread.join(timeout=5)


def dead_address():
    """An address nothing listens on (a port that was free a moment ago)."""
    return "%s:%d" % (harness.LOOPBACK, harness.free_port())


class ClientCodec(harness.ProxyTestCase):
    def read(self, sock, rfile, method="GET", within=3.0):
        """One response, which must come within `within` seconds (scaled by the slowdown)."""
        sock.settimeout(within * harness.SLOWDOWN)
        return harness.read_response(rfile, method)

    # ---- 13.9: a pipelined request after a local error ----------------------------------------

    def test_answers_a_pipelined_request_after_a_502_at_once(self):
        proxy = self.start_proxy(self.config(pools={"api": self.pool(dead_address())},
                                             listener={"timeouts": {"header": "10s"}}))
        sock, rfile = self.open_raw(proxy)
        started = time.monotonic()
        sock.sendall(b"GET /a HTTP/1.1\r\nHost: test\r\n\r\nGET /b HTTP/1.1\r\nHost: test\r\n\r\n")
        first = self.read(sock, rfile)
        second = self.read(sock, rfile)  # not 408 after the header timeout
        self.assertEqual((first.status, second.status), (502, 502), (first, second))
        self.assertIsNone(second.header("Connection"), second)
        self.assertLess(time.monotonic() - started, 3.0 * harness.SLOWDOWN)

    def test_answers_a_pipelined_request_after_a_504_then_serves_the_next(self):
        a = self.start_backend("a")
        proxy = self.start_proxy(self.config(
            pools={"api": self.pool(a, timeouts={"read": "300ms"})},
            listener={"timeouts": {"header": "10s"}}))
        sock, rfile = self.open_raw(proxy)
        sock.sendall(b"GET /slow?ms=2000 HTTP/1.1\r\nHost: test\r\n\r\n"
                     b"GET /?n=2 HTTP/1.1\r\nHost: test\r\n\r\n")
        first = self.read(sock, rfile)
        second = self.read(sock, rfile)
        self.assertEqual((first.status, second.status), (504, 200), (first, second))
        self.assertEqual(second.body, b"hello from a\n")

    # ---- 13.19: no per-request state carried into the next pipelined request -------------------

    def test_a_pipelined_request_does_not_inherit_the_last_ones_connect_state(self):
        a = self.start_backend("a")
        proxy = self.start_proxy(self.config(
            pools={"live": self.pool(a), "dead": self.pool(dead_address())},
            routes=[{"path_prefix": "/", "pool": "live"},
                    {"path_prefix": "/dead", "pool": "dead"}]))
        self.assertEqual(proxy.get("/").status, 200)  # leaves an idle pooled connection to a
        sock, rfile = self.open_raw(proxy)
        # The first fails while connecting; the second, on the pooled connection, loses it
        # after sending its body: that is a reset, not a connect failure.
        sock.sendall(b"GET /dead/x HTTP/1.1\r\nHost: test\r\n\r\n"
                     b"POST /drop HTTP/1.1\r\nHost: test\r\nContent-Length: 3\r\n\r\nabc")
        first = self.read(sock, rfile)
        second = self.read(sock, rfile)
        self.assertEqual((first.status, second.status), (502, 502), (first, second))
        self.assertIn(b"upstream connect failed", first.body)
        self.assertIn(b"upstream closed the connection", second.body)

    # ---- 13.10: no body for HEAD in a local answer ---------------------------------------------

    def test_local_answers_to_head_have_no_body_on_a_kept_connection(self):
        a = self.start_backend("a")
        proxy = self.start_proxy(self.config(
            pools={"live": self.pool(a), "dead": self.pool(dead_address())},
            routes=[{"path_prefix": "/api", "pool": "live"},
                    {"path_prefix": "/dead", "pool": "dead"}]))
        sock, rfile = self.open_raw(proxy)
        for path, status in ((b"/nope", 404), (b"/dead/x", 502)):
            sock.sendall(b"HEAD " + path + b" HTTP/1.1\r\nHost: test\r\n\r\n")
            head = self.read(sock, rfile, "HEAD")
            self.assertEqual(head.status, status, head)
            self.assertIsNone(head.header("Connection"), head)
            # Content-Length says what a GET would carry, as nginx does.
            sock.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: test\r\n\r\n")
            get = self.read(sock, rfile)  # a body left by the HEAD would be read as this
            self.assertEqual(get.status, status, get)
            self.assertEqual(head.header("Content-Length"), str(len(get.body)))
        sock.sendall(b"GET /api/ HTTP/1.1\r\nHost: test\r\n\r\n")
        self.assertEqual(self.read(sock, rfile).body, b"no such path /api/ on a\n")

    # ---- 13.14: bare LF line ends ----------------------------------------------------------------

    def bare_lf(self, parts):
        a = self.start_backend("a")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a)},
                                             listener={"timeouts": {"header": "10s"}}))
        sock, rfile = self.open_raw(proxy)
        for i, part in enumerate(parts):
            if i:
                time.sleep(0.1)  # separate reads (a pause that a slow machine only lengthens)
            sock.sendall(part)
        r = self.read(sock, rfile)
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.header("Connection"), "close", r)
        self.assertEqual(harness.read_until_closed(sock, timeout=3.0), b"")
        self.assertEqual(a.stats()["requests"], 1)  # /stats itself

    def test_answers_400_at_once_to_bare_lf_line_ends(self):
        self.bare_lf([b"GET / HTTP/1.1\nHost: test\n\n"])

    def test_answers_400_at_once_to_a_bare_lf_empty_line(self):
        self.bare_lf([b"GET / HTTP/1.1\r\nHost: test\r\n\n"])

    def test_answers_400_to_a_trickled_head_with_bare_lf(self):
        self.bare_lf([b"GET / HTTP/1.1\r", b"\nHost: test\n", b"\n"])

    def test_answers_502_at_once_to_a_response_head_with_bare_lf(self):
        backend = ScriptedBackend(self, lambda conn: (
            conn.sendall(b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok"), conn.recv(1)))
        proxy = self.start_proxy(self.config(
            pools={"api": self.pool(backend.address, timeouts={"read": "10s"})}))
        sock, rfile = self.open_raw(proxy)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        r = self.read(sock, rfile)  # not 504 after timeouts.read
        self.assertEqual(r.status, 502, r)

    # ---- 13.13: upgrades -----------------------------------------------------------------------

    def test_refuses_an_upgrade_list_naming_a_protocol_the_route_does_not_allow(self):
        a = self.start_backend("a")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a)}))
        sock, rfile = self.open_raw(proxy)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: test\r\nConnection: Upgrade\r\n"
                     b"Upgrade: h2c, websocket\r\nSec-WebSocket-Version: 13\r\n"
                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
        r = self.read(sock, rfile)
        self.assertEqual(r.status, 400, r)
        self.assertEqual(a.stats()["requests"], 1)  # /stats itself

    def upgrade_answered(self, response_head):
        backend = ScriptedBackend(self, lambda conn: (conn.sendall(response_head),
                                                      conn.recv(1)))
        proxy = self.start_proxy(self.config(pools={"api": self.pool(backend.address)}))
        sock, rfile = self.open_raw(proxy)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: test\r\nConnection: Upgrade\r\n"
                     b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
        return self.read(sock, rfile)

    def test_passes_a_101_that_switches_to_the_requested_protocol(self):
        r = self.upgrade_answered(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                                  b"Upgrade: WebSocket\r\n\r\n")
        self.assertEqual(r.status, 101, r)

    def test_answers_502_to_a_101_that_switches_to_another_protocol(self):
        r = self.upgrade_answered(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                                  b"Upgrade: h2c\r\n\r\n")
        self.assertEqual(r.status, 502, r)

    def test_answers_502_to_a_101_without_upgrade(self):
        r = self.upgrade_answered(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n")
        self.assertEqual(r.status, 502, r)

    # ---- 13.5: X-Forwarded-For in several lines ------------------------------------------------

    def test_client_ip_is_read_from_the_right_across_x_forwarded_for_lines(self):
        a = self.start_backend("a")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a)},
                                             listener={"trusted_proxies": ["127.0.0.1/32"]}))
        sock, rfile = self.open_raw(proxy)
        # The client's own claim first, then what the trusted balancer added: one list.
        sock.sendall(b"GET /headers HTTP/1.1\r\nHost: test\r\nX-Forwarded-For: 6.6.6.6\r\n"
                     b"X-Forwarded-For: 203.0.113.7\r\n\r\n")
        r = self.read(sock, rfile)
        self.assertEqual(r.status, 200, r)
        real_ip = [v for k, v in r.json()["headers"] if k.lower() == "x-real-ip"]
        self.assertEqual(real_ip, ["203.0.113.7"], r.json())

    # ---- 13.19: interim responses are capped ----------------------------------------------------

    def interim(self, count):
        backend = ScriptedBackend(self, lambda conn: conn.sendall(
            b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" * count +
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
        proxy = self.start_proxy(self.config(pools={"api": self.pool(backend.address)}))
        sock, rfile = self.open_raw(proxy)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        answers = [self.read(sock, rfile)]
        while answers[-1].status < 200 and len(answers) <= count:
            answers.append(self.read(sock, rfile))
        return answers

    def test_relays_a_few_interim_responses(self):
        answers = self.interim(3)
        self.assertEqual([r.status for r in answers], [103, 103, 103, 200])

    def test_answers_502_after_too_many_interim_responses(self):
        answers = self.interim(50)
        self.assertEqual(answers[-1].status, 502, answers[-1])
        self.assertLessEqual(len(answers), 11)

    # ---- 13.19: a client's half-close in a tunnel ------------------------------------------------

    def test_a_half_closed_tunnel_still_delivers_what_the_backend_sent(self):
        size = 4 << 20
        blob = bytes(i % 251 for i in range(size))

        def script(conn):
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                         b"Upgrade: websocket\r\n\r\n" + blob)
            while conn.recv(65536):  # until the client's half-close comes through
                pass

        backend = ScriptedBackend(self, script)
        proxy = self.start_proxy(self.config(pools={"api": self.pool(backend.address)}))
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(sock.close)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)  # the proxy must hold the rest
        sock.settimeout(10 * harness.SLOWDOWN)
        sock.connect((harness.LOOPBACK, proxy.port))
        sock.sendall(b"GET / HTTP/1.1\r\nHost: test\r\nConnection: Upgrade\r\n"
                     b"Upgrade: websocket\r\n\r\n")
        head = b""
        while not head.endswith(b"\r\n\r\n") and len(head) < 4096:
            byte = sock.recv(1)
            if not byte:
                break
            head += byte
        self.assertTrue(head.startswith(b"HTTP/1.1 101 "), head)
        sock.shutdown(socket.SHUT_WR)  # done sending, not done reading
        data = harness.read_until_closed(sock, timeout=20.0, limit=2 * size)
        self.assertEqual(len(data), size)
        self.assertEqual(data, blob)


if __name__ == "__main__":
    harness.main()
