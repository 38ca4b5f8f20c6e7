#!/usr/bin/env python3
"""Attacks on issue 15's h2 pool work (session 17): request trailers, refused-stream resends,
HTTP/1 framing of an HTTP/2 backend's answers, and gRPC health probes against hostile
backends."""

import hashlib
import json

import harness
from h2_client import exchange
from h2c_backend import H2cBackend, pattern

TRAILERS = [("x-sum", "abc"), ("x-more", "1")]


class H2PoolTrailerAttacks(harness.ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.backend = H2cBackend("a")
        self.addCleanup(self.backend.stop)
        pool = self.pool(self.backend.address, protocol="h2")
        self.proxy = self.start_proxy(self.config({"h2": pool}, listener={"h2c": True}))

    def check_digest(self, got, sent):
        self.assertEqual(got.status, 200)
        self.assertEqual(json.loads(got.body), {"length": len(sent),
                                                "sha256": hashlib.sha256(sent).hexdigest()})

    def test_trailers_after_a_content_length_body_reach_the_backend(self):
        """An HTTP/2 client's trailers after a body with content-length were dropped."""
        body = pattern(5000)
        got = exchange(self.proxy_port, False,
                       [("POST", "/upload", (("content-length", str(len(body))),), body,
                         TRAILERS)])[0]
        self.check_digest(got, body)
        self.assertEqual(self.backend.trailers, [("/upload", TRAILERS)])

    def test_trailers_after_a_content_length_body_survive_a_refused_stream(self):
        """A refused stream's resend of a content-length body lost the client's trailers."""
        body = pattern(1000)
        got = exchange(self.proxy_port, False,
                       [("POST", "/refuse-once/cl", (("content-length", str(len(body))),),
                         body, TRAILERS)])[0]
        self.check_digest(got, body)
        self.assertEqual(self.backend.trailers, [("/refuse-once/cl", TRAILERS)] * 2)


class H2PoolHttp1Framing(harness.ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.backend = H2cBackend("a")
        self.addCleanup(self.backend.stop)
        self.proxy = self.start_proxy(
            self.config({"h2": self.pool(self.backend.address, protocol="h2")}))

    def raw(self, data):
        sock = self.proxy.raw()
        self.addCleanup(sock.close)
        reader = sock.makefile("rb")
        self.addCleanup(reader.close)
        sock.sendall(data)
        return reader

    def test_an_http10_client_gets_a_body_of_no_stated_length_up_to_the_close(self):
        """An HTTP/1.0 client got a 502 for an h2 backend's body without content-length."""
        reader = self.raw(b"GET /nolength?n=5000 HTTP/1.0\r\nHost: a.test\r\n\r\n")
        r = harness.read_response(reader)
        self.assertEqual(r.status, 200)
        self.assertIsNone(r.header("Transfer-Encoding"))
        self.assertEqual(r.body, pattern(5000))
        self.assertEqual(reader.read(), b"", "the close ends the body")

    def test_pipelined_bodyless_answers_keep_the_http11_connection_in_step(self):
        """HEAD, 204, 304 (with a stated length) and a 103 before an answer, pipelined."""
        reqs = [("GET", "/status?code=304"), ("HEAD", "/blob?n=7"), ("GET", "/status?code=204"),
                ("GET", "/early"), ("HEAD", "/nolength?n=9"), ("GET", "/blob?n=3")]
        reader = self.raw(b"".join(b"%s %s HTTP/1.1\r\nHost: a.test\r\n\r\n"
                                   % (m.encode(), p.encode()) for m, p in reqs))
        got = []
        for method, _ in reqs:
            r = harness.read_response(reader, method)
            if r.status == 103:
                r = harness.read_response(reader, method)
            got.append((r.status, r.body))
        self.assertEqual(got, [(304, b""), (200, b""), (204, b""), (200, pattern(4)),
                               (200, b""), (200, pattern(3))])


if __name__ == "__main__":
    harness.main()
