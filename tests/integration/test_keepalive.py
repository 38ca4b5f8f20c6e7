#!/usr/bin/env python3
"""Upstream connections are kept alive and reused, and replaced when a backend closes them;
a client connection lasts as long as the client wants it, and no longer."""

import select
import socket
import time
import unittest

import harness
import metrics_util


class UpstreamKeepAlive(harness.ProxyTestCase):
    def test_reuses_upstream_connections_for_sequential_requests(self):
        a = self.start_backend("a")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a)}))
        before = a.stats()
        for _ in range(20):  # a new client connection each time: reuse is upstream only
            self.assertEqual(proxy.get("/").status, 200)
        after = a.stats()
        requests = after["by_path"].get("/", 0) - before["by_path"].get("/", 0)
        connections = after["connections"] - before["connections"] - 1
        self.assertEqual(requests, 20, after)
        self.assertLess(connections, requests, "no upstream connection was reused: %s" % after)
        self.assertLessEqual(connections, 2, "upstream connections are barely reused: %s" % after)

    def test_keeps_the_client_connection_alive_across_requests(self):
        a = self.start_backend("a")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a)}))
        sock, rfile = self.open_raw(proxy)
        for i in range(5):
            sock.sendall(b"GET /?i=%d HTTP/1.1\r\nHost: test\r\n\r\n" % i)
            r = harness.read_response(rfile)
            self.assertEqual((r.status, r.body), (200, b"hello from a\n"))
            self.assertNotEqual((r.header("Connection") or "").lower(), "close", r)

    def test_closes_the_client_connection_after_a_request_with_connection_close(self):
        # RFC 9112 §9.6: after answering a request with "close", the server closes.
        closed = "127.0.0.1:%d" % harness.free_port()
        a = self.start_backend("a")
        proxy = self.start_proxy(self.config(
            pools={"api": self.pool(a), "down": self.pool(closed)},
            routes=[{"path_prefix": "/down", "pool": "down"}, {"path_prefix": "/", "pool": "api"}]))
        for path, status in (("/", 200), ("/down", 502)):
            with self.subTest(path=path):
                sock, _ = self.open_raw(proxy)
                sock.sendall(b"GET %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n" % path.encode())
                data = harness.read_until_closed(sock, timeout=3)
                self.assertRegex(data, rb"^HTTP/1\.1 %d " % status, data[:300])

    def test_replaces_a_pooled_connection_the_backend_closed_when_idle(self):
        a = self.start_backend("a", idle_timeout=0.3)
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a)}))
        for i in range(4):
            r = proxy.get("/")
            self.assertEqual(r.status, 200, "request %d after the backend closed the idle "
                             "pooled connection: %r" % (i, r))
            time.sleep(0.8)  # well past the backend's idle timeout
        stats = a.stats()
        self.assertGreaterEqual(stats["connections"], 4, stats)

    def test_replaces_pooled_connections_when_the_backend_restarts(self):
        first = self.start_backend("first")
        port = first.port
        proxy = self.start_proxy(self.config(pools={"api": self.pool(first)}))
        conn = proxy.connection()
        self.addCleanup(conn.close)
        for _ in range(3):
            self.assertEqual(proxy.get("/", conn=conn).header("X-Backend"), "first")
        first.stop()
        second = self.start_backend("second", port=port)
        # Straight away: the proxy's pooled connections to "first" are dead, the client
        # must not notice.
        for i in range(3):
            r = proxy.get("/", conn=conn)
            self.assertEqual((r.status, r.header("X-Backend")), (200, "second"),
                             "request %d after the backend restarted: %r" % (i, r))

    def test_does_not_reuse_a_connection_the_backend_asked_to_close(self):
        a = self.start_backend("a")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a)}))
        conn = proxy.connection()
        self.addCleanup(conn.close)
        for _ in range(3):
            r = proxy.get("/close", conn=conn)
            self.assertEqual(r.status, 200, r)
            r = proxy.get("/", conn=conn)
            self.assertEqual(r.status, 200, r)


class HalfClosingClient(harness.ProxyTestCase):
    """A client may shutdown(SHUT_WR) once its request is sent: it still reads (RFC 9112 §9.6
    lets a server close after the response). A request cut short by it is not a request."""

    def start(self):
        self.backend = self.start_backend("a")
        return self.start_proxy(self.config(pools={"api": self.pool(self.backend)}))

    def test_gets_the_whole_response_after_half_closing_and_then_the_proxy_closes(self):
        proxy = self.start()
        size = 1 << 20
        for path in ("/slow?ms=300", "/bytes?n=%d" % size):
            with self.subTest(path=path):
                sock, rfile = self.open_raw(proxy)
                sock.sendall(b"GET %s HTTP/1.1\r\nHost: test\r\n\r\n" % path.encode())
                sock.shutdown(socket.SHUT_WR)
                r = harness.read_response(rfile)
                self.assertEqual(r.status, 200, r)
                if path.startswith("/bytes"):
                    self.assertTrue(r.body == pattern(size), "the body differs")
                else:
                    self.assertEqual(r.body, b"slow from a\n")
                    # The EOF came while the backend was still thinking: the proxy said it
                    # would close.
                    self.assertEqual((r.header("Connection") or "").lower(), "close", r)
                # Then an orderly close (FIN, not RST): recv returns b"".
                self.assertEqual(rfile.read(), b"")

    def test_a_body_cut_short_by_half_closing_gets_no_response(self):
        # OnClientEvent: EOF before the body is complete closes the connection (no 400: the
        # request never ended), and the backend never sees a whole request.
        proxy = self.start()
        heads = {
            "content-length": b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\n"
                              + b"x" * 10,
            "chunked": b"POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
                       b"a\r\n0123456789\r\n",
        }
        for framing, data in heads.items():
            with self.subTest(framing=framing):
                sock, _ = self.open_raw(proxy)
                sock.sendall(data)
                sock.shutdown(socket.SHUT_WR)
                self.assertEqual(harness.read_until_closed(sock, timeout=5), b"")
                # Once the proxy has dropped its upstream connection (only the stats request's
                # own stays open), no POST was read whole.
                def upstream_closed():
                    stats = self.backend.stats()
                    return stats if stats["open_connections"] <= 1 else None
                stats = harness.wait_until(upstream_closed, timeout=5,
                                           what="the proxy to close its upstream connection")
                self.assertFalse([c for c in stats["complete"] if c[0] == "POST"], stats)


def pattern(n):
    """backend.py's /bytes body: byte i is i % 256."""
    return bytes(i % 256 for i in range(n))


class ClientTimeouts(harness.ProxyTestCase):
    """The keep-alive idle timeout runs between requests; the header timeout runs from a
    request's first byte (from the accept for the first request) and is a deadline for the
    whole head, not a gap between reads."""

    def limit_hits(self, proxy, limit):
        samples, _ = metrics_util.scrape(proxy)
        return metrics_util.value(samples, "outrigger_downstream_limit_hits_total",
                                  listener="web", limit=limit)

    def served(self, **timeouts):
        """A backend, a proxy with these listener timeouts, and a raw client connection to it
        that has had one request answered."""
        a = self.start_backend("a")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a)},
                                             listener={"timeouts": timeouts}))
        sock, rfile = self.open_raw(proxy)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        self.assertEqual(harness.read_response(rfile).status, 200)
        return a, proxy, sock, rfile

    def test_a_client_idle_past_timeouts_idle_is_closed_and_counted(self):
        _, proxy, sock, _ = self.served(idle="1s", header="5s")
        start = time.monotonic()
        rest = harness.read_until_closed(sock, timeout=4)
        elapsed = time.monotonic() - start
        self.assertEqual(rest, b"", "an idle close sends nothing")
        self.assertGreaterEqual(elapsed, 0.9, "closed before timeouts.idle")
        self.assertEqual(self.limit_hits(proxy, "idle_timeout"), 1)
        self.assertEqual(self.limit_hits(proxy, "header_timeout"), 0)

    def test_a_client_busy_longer_than_timeouts_idle_stays_connected(self):
        # Each gap is shorter than the idle timeout; together they are far longer.
        _, proxy, sock, rfile = self.served(idle="1s")
        for i in range(5):
            sock.sendall(b"GET /?i=%d HTTP/1.1\r\nHost: test\r\n\r\n" % i)
            self.assertEqual(harness.read_response(rfile).status, 200)
            time.sleep(0.5)
        self.assertEqual(self.limit_hits(proxy, "idle_timeout"), 0)

    def test_the_header_timeout_of_a_later_request_runs_from_its_first_byte(self):
        a, proxy, sock, _ = self.served(idle="30s", header="2s")
        time.sleep(2.5)  # idle, longer than the header timeout: that one has not started
        head = b"GET /second HTTP/1.1\r\nHost: test\r\nX-Slow: " + b"a" * 100 + b"\r\n\r\n"
        start = time.monotonic()
        answer = b""
        # A byte every 0.4 s: each read comes well within the timeout, so only a deadline
        # from the first byte ends this.
        for i in range(len(head)):
            sock.sendall(head[i:i + 1])
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            if poller.poll(400):
                answer = harness.read_until_closed(sock, timeout=5)
                break
        elapsed = time.monotonic() - start
        self.assertRegex(answer, rb"^HTTP/1\.1 408 ", answer[:200])
        self.assertGreaterEqual(elapsed, 1.9, "408 came before timeouts.header")
        self.assertLess(elapsed, 4 * harness.SLOWDOWN, "the reads kept extending the header timeout")
        self.assertEqual(a.stats()["by_path"].get("/second", 0), 0)
        self.assertEqual(self.limit_hits(proxy, "header_timeout"), 1)

    def test_a_connection_that_sends_nothing_gets_408_after_timeouts_header(self):
        a = self.start_backend("a")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a)},
                                             listener={"timeouts": {"idle": "30s", "header": "1s"}}))
        sock, _ = self.open_raw(proxy)
        start = time.monotonic()
        answer = harness.read_until_closed(sock, timeout=4)
        self.assertRegex(answer, rb"^HTTP/1\.1 408 ", answer[:200])
        self.assertGreaterEqual(time.monotonic() - start, 0.9)


if __name__ == "__main__":
    harness.main()
