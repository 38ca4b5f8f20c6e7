#!/usr/bin/env python3
"""A `protocol: h2` pool of plain HTTP/2 backends (h2c), not gRPC: requests from HTTP/1.1
and HTTP/2 clients go as streams on shared connections, bodies larger than a window both
ways, and requests balanced per request over the backends."""

import hashlib
import json

import harness
from h2c_backend import H2cBackend, pattern


class H2Upstream(harness.ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.backends = [H2cBackend("a"), H2cBackend("b")]
        for b in self.backends:
            self.addCleanup(b.stop)
        pool = self.pool(*[b.address for b in self.backends], protocol="h2")
        self.proxy = self.start_proxy(self.config({"h2": pool}))

    def test_gets_are_balanced_per_request_on_one_client_connection(self):
        conn = self.proxy.connection()
        self.addCleanup(conn.close)
        seen = []
        for _ in range(6):
            r = self.proxy.get("/blob?n=10", conn=conn)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body, pattern(10))
            seen.append(r.header("x-backend"))
        self.assertEqual(sorted(seen), ["a"] * 3 + ["b"] * 3)

    def test_a_large_response_crosses_the_windows(self):
        r = self.proxy.get("/blob?n=%d" % (1 << 20), timeout=20 * harness.SLOWDOWN)
        self.assertEqual(r.status, 200)
        self.assertEqual(len(r.body), 1 << 20)
        self.assertEqual(r.body, pattern(1 << 20))

    def test_a_large_post_body_arrives_whole(self):
        body = pattern(3 << 20)
        r = self.proxy.request("POST", "/upload", body=body, timeout=30 * harness.SLOWDOWN)
        self.assertEqual(r.status, 200)
        self.assertEqual(json.loads(r.body), {"length": len(body),
                                              "sha256": hashlib.sha256(body).hexdigest()})

    def test_an_answer_ended_by_its_headers_is_framed_for_an_http1_client(self):
        """A backend's 200 whose HEADERS end the stream, without Content-Length (a gRPC
        Trailers-Only answer is one): an HTTP/1.1 client gets Content-Length: 0 and the next
        request on its connection is answered. Before: no framing, and the client waited for a
        body until its timeout."""
        conn = self.proxy.connection()
        self.addCleanup(conn.close)
        r = self.proxy.get("/status?code=200", conn=conn, timeout=5 * harness.SLOWDOWN)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Length"), "0")
        self.assertEqual(r.body, b"")
        r = self.proxy.get("/blob?n=10", conn=conn, timeout=5 * harness.SLOWDOWN)
        self.assertEqual((r.status, r.body), (200, pattern(10)))
        # A HEAD answer and a 204 keep saying nothing of a body, as from an HTTP/1 backend.
        r = self.proxy.request("HEAD", "/status?code=200", conn=conn)
        self.assertEqual((r.status, r.header("Content-Length")), (200, None))
        r = self.proxy.get("/status?code=204", conn=conn)
        self.assertEqual((r.status, r.header("Content-Length")), (204, None))
        r = self.proxy.get("/blob?n=3", conn=conn)
        self.assertEqual((r.status, r.body), (200, pattern(3)))


if __name__ == "__main__":
    harness.main()
