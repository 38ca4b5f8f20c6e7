#!/usr/bin/env python3
"""Request trailers to a `protocol: h2` pool (issue 15's "trailers both ways where the upstream
allows them"; an HTTP/2 backend always does): what an HTTP/2 client sends after its body, or
an HTTP/1.1 client after its last chunk, reaches the backend as a trailer HEADERS frame, also
when a refused stream sends the request again."""

import hashlib
import json

import harness
from h2_client import exchange
from h2c_backend import H2cBackend, pattern

TRAILERS = [("x-sum", "abc"), ("x-more", "1")]


class H2UpstreamRequestTrailers(harness.ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.backend = H2cBackend("a")
        self.addCleanup(self.backend.stop)
        pool = self.pool(self.backend.address, protocol="h2")
        self.proxy = self.start_proxy(self.config({"h2": pool}, listener={"h2c": True}))

    def check_digest(self, status, body, sent):
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), {"length": len(sent),
                                            "sha256": hashlib.sha256(sent).hexdigest()})

    def test_an_http2_clients_trailers_reach_the_backend(self):
        body = pattern(100000)
        got = exchange(self.proxy_port, False,
                       [("POST", "/upload", (("te", "trailers"),), body, TRAILERS)])[0]
        self.check_digest(got.status, got.body, body)
        self.assertEqual(self.backend.trailers, [("/upload", TRAILERS)])

    def test_trailers_after_a_content_length_body_reach_the_backend(self):
        """An HTTP/2 request with a Content-Length may still end with trailers: the backend's
        stream ends only with the client's, carrying them. Before: the stream ended at the
        body's last byte and the trailers were dropped."""
        body = pattern(70000)
        head = (("te", "trailers"), ("content-length", str(len(body))))
        got = exchange(self.proxy_port, False, [("POST", "/upload", head, body, TRAILERS)])[0]
        self.check_digest(got.status, got.body, body)
        self.assertEqual(self.backend.trailers, [("/upload", TRAILERS)])
        # Without trailers the request still ends with its data.
        got = exchange(self.proxy_port, False,
                       [("POST", "/upload", (("content-length", "5"),), b"hello", None)])[0]
        self.check_digest(got.status, got.body, b"hello")
        self.assertEqual(len(self.backend.trailers), 1)

    def test_a_chunked_http1_clients_trailers_reach_the_backend(self):
        body = pattern(5000)
        sock = self.proxy.raw()
        self.addCleanup(sock.close)
        reader = sock.makefile("rb")
        self.addCleanup(reader.close)
        sock.sendall(b"POST /upload HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n"
                     b"Trailer: X-Sum\r\n\r\n%x\r\n%s\r\n0\r\nX-Sum: abc\r\nX-More:  1 \r\n\r\n"
                     % (len(body), body))
        r = harness.read_response(reader, "POST")
        self.check_digest(r.status, r.body, body)
        self.assertEqual(self.backend.trailers, [("/upload", TRAILERS)])

    def test_a_refused_streams_resend_carries_the_trailers(self):
        body = pattern(1000)
        got = exchange(self.proxy_port, False,
                       [("POST", "/refuse-once/t", (), body, TRAILERS)])[0]
        self.check_digest(got.status, got.body, body)
        self.assertEqual(self.backend.trailers, [("/refuse-once/t", TRAILERS)] * 2)

    def test_a_body_without_trailers_ends_with_its_data(self):
        body = pattern(1000)
        got = exchange(self.proxy_port, False, [("POST", "/upload", (), body, None)])[0]
        self.check_digest(got.status, got.body, body)
        self.assertEqual(self.backend.trailers, [])


if __name__ == "__main__":
    harness.main()
