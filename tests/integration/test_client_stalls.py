#!/usr/bin/env python3
"""A client that stops before its request is whole (a body short of its Content-Length, or an
HTTP/2 stream never ended) while the backend waits for the rest: when `timeouts.read` fires,
the client gets 408 and the backend is not blamed: no failure in
outrigger_backend_failures_total, nothing against its circuit. Before, such a stall was a 504
and a backend timeout, so clients that stall their uploads could open a healthy backend's
breaker. A backend that holds a whole request unanswered is still a 504 and a timeout."""

import h2.config
import h2.connection
import h2.events

import harness
import metrics_util
from h2_client import connect, request_headers
from h2c_backend import H2cBackend

READ = 1.0  # timeouts.read, seconds (scaled)


def failures(proxy):
    samples, _ = metrics_util.scrape(proxy)
    return sum(v for (n, _), v in samples.items() if n == "outrigger_backend_failures_total")


def stalled_stream_status(case, path, body):
    """Sends HEADERS (content-length 100) and `body` as DATA without END_STREAM to `case`'s
    proxy, then reads until the stream is answered: its :status."""
    sock = connect(case.proxy_port, False, timeout=10)
    case.addCleanup(sock.close)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True,
                                                                header_encoding="utf-8"))
    conn.initiate_connection()
    conn.send_headers(1, request_headers("a.test", path, "POST",
                                         extra=[("content-length", "100")]))
    conn.send_data(1, body)
    sock.sendall(conn.data_to_send())
    while True:
        data = sock.recv(65536)
        case.assertTrue(data, "the proxy closed before answering")
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.ResponseReceived):
                return int(dict(ev.headers)[":status"])
        sock.sendall(conn.data_to_send())


class Http1PoolStalls(harness.ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.backend = self.start_backend("api")
        pool = self.pool(self.backend, timeouts={"read": "%dms" % (READ * 1000 * harness.SLOWDOWN)},
                         circuit_breaker={"consecutive_failures": 1})
        self.proxy = self.start_proxy(self.config({"api": pool}))

    def test_a_body_short_of_its_length_is_the_clients_408(self):
        sock = self.proxy.raw(timeout=10 * harness.SLOWDOWN)
        self.addCleanup(sock.close)
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n" + b"x" * 50)
        r = harness.read_response(sock.makefile("rb"), "POST")
        self.assertEqual(r.status, 408)
        self.assertEqual(failures(self.proxy), 0)
        # The backend's circuit (one failure opens it) stayed closed: the next request passes.
        self.assertEqual(self.proxy.get("/").status, 200)

    def test_a_whole_request_the_backend_holds_is_still_its_504(self):
        r = self.proxy.request("POST", "/slow?ms=%d" % (3000 * harness.SLOWDOWN), body=b"x" * 100,
                               timeout=10 * harness.SLOWDOWN)
        self.assertEqual(r.status, 504)
        self.assertEqual(failures(self.proxy), 1)


class H2PoolStalls(harness.ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.backend = H2cBackend("a")
        self.addCleanup(self.backend.stop)
        pool = self.pool(self.backend.address, protocol="h2",
                         timeouts={"read": "%dms" % (READ * 1000 * harness.SLOWDOWN)})
        self.proxy = self.start_proxy(self.config({"h2": pool}, listener={"h2c": True}))

    def test_a_stream_never_ended_after_its_whole_body_is_the_clients_408(self):
        self.assertEqual(stalled_stream_status(self, "/upload", b"x" * 100), 408)
        self.assertEqual(failures(self.proxy), 0)
        harness.wait_until(lambda: self.backend.resets, 5 * harness.SLOWDOWN,
                           what="the backend's stream reset")

    def test_a_stream_short_of_its_length_is_the_clients_408(self):
        self.assertEqual(stalled_stream_status(self, "/upload", b"x" * 40), 408)
        self.assertEqual(failures(self.proxy), 0)


class H2ClientHttp1PoolStall(harness.ProxyTestCase):
    def test_a_whole_body_an_http1_backend_holds_is_its_504_though_the_stream_is_open(self):
        """An HTTP/1 backend has the whole request at the body's last byte; the client's
        stream end is no business of its: holding the request is the backend's timeout."""
        backend = self.start_backend("api")
        pool = self.pool(backend, timeouts={"read": "%dms" % (READ * 1000 * harness.SLOWDOWN)})
        self.proxy = self.start_proxy(self.config({"api": pool}, listener={"h2c": True}))
        path = "/slow?ms=%d" % (3000 * harness.SLOWDOWN)
        self.assertEqual(stalled_stream_status(self, path, b"x" * 100), 504)
        self.assertEqual(failures(self.proxy), 1)


if __name__ == "__main__":
    harness.main()
