#!/usr/bin/env python3
"""The proxy answers failures with the right status: 400, 408, 414, 431, 502, 503, 504."""

import socket
import time
import unittest

import harness


class UpstreamErrors(harness.ProxyTestCase):
    def test_answers_502_when_the_backend_port_is_closed(self):
        closed = "127.0.0.1:%d" % harness.free_port()
        proxy = self.start_proxy(self.config(pools={"api": self.pool(closed)}))
        r = proxy.get("/")
        self.assertEqual(r.status, 502, r)

    def test_keeps_the_client_connection_usable_after_a_502(self):
        closed = "127.0.0.1:%d" % harness.free_port()
        proxy = self.start_proxy(self.config(pools={"api": self.pool(closed)}))
        conn = proxy.connection()
        self.addCleanup(conn.close)
        self.assertEqual([proxy.get("/", conn=conn).status for _ in range(3)], [502] * 3)

    def test_answers_502_when_the_backend_closes_without_answering(self):
        a = self.start_backend("a")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a)}))
        r = proxy.get("/drop")
        self.assertEqual(r.status, 502, r)
        self.assertEqual(proxy.get("/").status, 200)

    def bad_framing(self, kind):
        """Fetches /malformed?kind=K through the proxy; returns the raw bytes the client got."""
        a = self.start_backend("a")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a)}))
        sock, _ = self.open_raw(proxy)
        sock.sendall(b"GET /malformed?kind=%s HTTP/1.1\r\nHost: test\r\n\r\n" % kind.encode())
        # Everything the proxy sends within a second: one answer, or a cut-off one.
        sock.settimeout(1.0 * harness.SLOWDOWN)
        data = b""
        try:
            while len(data) < 65536:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except (socket.timeout, ConnectionResetError):
            pass
        # Were the bad connection reused, its leftover bytes would garble this answer.
        r = proxy.get("/")
        self.assertEqual((r.status, r.body), (200, b"hello from a\n"))
        self.assertGreaterEqual(a.stats()["connections"], 3, "the bad upstream connection was reused")
        return data

    def test_answers_502_to_a_response_with_content_length_and_transfer_encoding(self):
        data = self.bad_framing("cl-te")
        self.assertRegex(data, rb"^HTTP/1\.1 502 ", data[:300])

    def test_answers_502_to_a_response_with_differing_content_lengths(self):
        data = self.bad_framing("two-cl")
        self.assertRegex(data, rb"^HTTP/1\.1 502 ", data[:300])

    def test_answers_502_to_a_response_that_is_not_http(self):
        data = self.bad_framing("garbage")
        self.assertRegex(data, rb"^HTTP/1\.1 502 ", data[:300])

    def test_never_passes_on_an_invalid_chunk(self):
        data = self.bad_framing("bad-chunk")
        # A 502, or, once the head has gone out, a body cut short: never the bad bytes, and
        # never a clean end of the chunked body.
        if not data.startswith(b"HTTP/1.1 502 "):
            self.assertNotIn(b"zz\r\n", data, data[:300])
            self.assertFalse(data.endswith(b"0\r\n\r\n"), data[:300])

    def test_answers_504_when_the_backend_is_slower_than_timeouts_read(self):
        a = self.start_backend("a")
        proxy = self.start_proxy(self.config(
            pools={"api": self.pool(a, timeouts={"read": "500ms"})}))
        start = time.monotonic()
        r = proxy.get("/slow?ms=3000", timeout=10)
        elapsed = time.monotonic() - start
        self.assertEqual(r.status, 504, r)
        self.assertGreaterEqual(elapsed, 0.4, "504 came before timeouts.read")
        self.assertLess(elapsed, 2.5 * harness.SLOWDOWN, "504 came long after timeouts.read")
        # The timed-out exchange must not poison the next request.
        self.assertEqual(proxy.get("/").status, 200)

    def test_answers_503_when_no_backend_is_usable(self):
        a = self.start_backend("a")
        pool = self.pool(a, health={"ready": {"path": "/health/ready", "interval": "200ms",
                                              "timeout": "1s", "fall": 1, "rise": 1}})
        text = self.config(pools={"api": pool})
        check = self.check_config(text)
        if check.returncode != 0:
            self.skipTest("needs health probes (pools.NAME.health) to make a pool's only "
                          "backend unusable, and --check rejects them so far: %s"
                          % check.stderr.strip().splitlines()[:1])
        proxy = self.start_proxy(text)
        self.assertEqual(proxy.get("/").status, 200)
        a.get("/control/ready?on=0")
        harness.wait_until(lambda: proxy.get("/").status == 503, timeout=5,
                           what="503 once the only backend reports unready")


class ClientErrors(harness.ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.backend = self.start_backend("a")
        self.proxy = self.start_proxy(self.config(
            pools={"api": self.pool(self.backend)},
            listener={"timeouts": {"header": "1s"}}))

    def send_raw(self, data):
        """Sends data on a new connection; returns the response and whether it closed after."""
        sock, rfile = self.open_raw(self.proxy)
        sock.sendall(data)
        r = harness.read_response(rfile)
        sock.settimeout(3 * harness.SLOWDOWN)
        try:
            rest = rfile.read(1)
            closed = rest == b""
        except OSError:
            closed = True
        return r, closed

    def backend_requests(self):
        """Requests that reached the backend, health probes (if any) aside."""
        by_path = self.backend.stats()["by_path"]
        return sum(n for path, n in by_path.items() if not path.startswith(("/stats", "/health")))

    def test_answers_400_and_closes_on_content_length_with_transfer_encoding(self):
        r, closed = self.send_raw(
            b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        self.assertEqual(r.status, 400, r)
        self.assertTrue(closed, "the connection stayed open after a CL+TE request")
        self.assertEqual(self.backend_requests(), 0, "a CL+TE request reached the backend")

    def test_answers_400_on_differing_content_lengths(self):
        r, closed = self.send_raw(
            b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n"
            b"Content-Length: 6\r\n\r\nhello!")
        self.assertEqual(r.status, 400, r)
        self.assertTrue(closed)
        self.assertEqual(self.backend_requests(), 0)

    def test_answers_400_to_an_http11_request_without_host(self):
        r, _ = self.send_raw(b"GET / HTTP/1.1\r\n\r\n")
        self.assertEqual(r.status, 400, r)
        self.assertEqual(self.backend_requests(), 0)

    def test_answers_400_to_malformed_request_heads_without_forwarding_them(self):
        # RFC 9112 / design.md §7: each of these is a 400, and nothing reaches the backend.
        cases = {
            "obs-fold": b"GET / HTTP/1.1\r\nHost: test\r\nX-A: one\r\n two\r\n\r\n",
            "space before colon": b"GET / HTTP/1.1\r\nHost: test\r\nX-A : one\r\n\r\n",
            "NUL in a value": b"GET / HTTP/1.1\r\nHost: test\r\nX-A: o\x00ne\r\n\r\n",
            "bare CR in a value": b"GET / HTTP/1.1\r\nHost: test\r\nX-A: o\rne\r\n\r\n",
            "two Host fields": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            "last coding not chunked": b"POST /echo HTTP/1.1\r\nHost: test\r\n"
                                       b"Transfer-Encoding: chunked, gzip\r\n\r\n",
            "invalid chunk size": b"POST /echo HTTP/1.1\r\nHost: test\r\n"
                                  b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        }
        for name, wire in cases.items():
            with self.subTest(case=name):
                before = self.backend_requests()
                r, _ = self.send_raw(wire)
                if name == "invalid chunk size" and r.status != 400:
                    # The head was valid and may have gone upstream; the body must not.
                    self.assertNotEqual(r.status, 200, r)
                    continue
                self.assertEqual(r.status, 400, r)
                self.assertEqual(self.backend_requests(), before, "the request reached the backend")

    def test_answers_408_and_closes_when_the_head_is_not_complete_in_time(self):
        sock, _ = self.open_raw(self.proxy)
        start = time.monotonic()
        sock.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n")  # no blank line: the head never ends
        data = harness.read_until_closed(sock, timeout=5)
        elapsed = time.monotonic() - start
        self.assertRegex(data, rb"^HTTP/1\.1 408 ", data[:200])
        self.assertGreaterEqual(elapsed, 0.9, "408 came before timeouts.header")
        self.assertLess(elapsed, 3 * harness.SLOWDOWN)
        self.assertEqual(self.backend_requests(), 0)

    def test_answers_414_to_a_request_line_over_8_kib(self):
        r, _ = self.send_raw(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: test\r\n\r\n")
        self.assertEqual(r.status, 414, r)
        self.assertEqual(self.backend_requests(), 0)

    def test_answers_431_to_a_head_over_32_kib(self):
        fields = b"".join(b"X-Filler-%d: %s\r\n" % (i, b"v" * 1000) for i in range(40))
        r, _ = self.send_raw(b"GET / HTTP/1.1\r\nHost: test\r\n" + fields + b"\r\n")
        self.assertEqual(r.status, 431, r)
        self.assertEqual(self.backend_requests(), 0)

    def test_answers_431_to_more_than_100_fields(self):
        fields = b"".join(b"X-F%d: v\r\n" % i for i in range(150))
        r, _ = self.send_raw(b"GET / HTTP/1.1\r\nHost: test\r\n" + fields + b"\r\n")
        self.assertEqual(r.status, 431, r)

    def test_serves_normally_next_to_a_stalled_client(self):
        sock, _ = self.open_raw(self.proxy)
        sock.sendall(b"GET / HTTP/1.1\r\nHo")
        self.assertEqual(self.proxy.get("/").status, 200)


if __name__ == "__main__":
    harness.main()
