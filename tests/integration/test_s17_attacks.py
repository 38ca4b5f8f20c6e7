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


if __name__ == "__main__":
    harness.main()
