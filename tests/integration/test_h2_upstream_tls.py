#!/usr/bin/env python3
"""A `protocol: h2` pool with `tls:` offers ALPN "h2" alone to its backends: an HTTP/2 backend
over TLS serves GETs and POSTs through it; a TLS backend that does not select h2 (it speaks
only http/1.1) fails the connection at once with a 502, logged naming the backend and what it
picked, instead of hanging on a protocol it does not speak."""

import hashlib
import json

import harness
from h2c_backend import H2cBackend, pattern
from tls_certs import TlsTestCase


class H2UpstreamTls(TlsTestCase):
    def setUp(self):
        super().setUp()
        self.ca = self.make_ca("h2-origin-ca")
        self.cert = self.make_server_cert(self.ca, ["origin.test"])

    def proxy_to(self, backend):
        self.addCleanup(backend.stop)
        pool = self.pool(backend.address, protocol="h2",
                         tls={"ca": self.ca[0], "server_name": "origin.test"},
                         timeouts={"read": "%ds" % (10 * harness.SLOWDOWN)})
        return self.start_proxy(self.config({"h2": pool}))

    def test_get_and_post_over_tls_h2(self):
        backend = H2cBackend("tls", tls=self.cert)
        proxy = self.proxy_to(backend)
        r = proxy.get("/blob?n=100000", timeout=20)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, pattern(100000))
        self.assertEqual(r.header("x-backend"), "tls")
        body = pattern(200000)
        r = proxy.request("POST", "/upload", body=body, timeout=20)
        self.assertEqual(r.status, 200)
        self.assertEqual(json.loads(r.body), {"length": len(body),
                                              "sha256": hashlib.sha256(body).hexdigest()})
        self.assertEqual(backend.selected, ["h2"])

    def test_a_backend_that_does_not_select_h2_is_a_502(self):
        backend = H2cBackend("h1", tls=self.cert, alpn=("http/1.1",))
        proxy = self.proxy_to(backend)
        # Within the read timeout's tenth: a refusal, not a wait for an answer that never comes.
        r = proxy.get("/blob?n=10", timeout=1)
        self.assertEqual(r.status, 502)
        self.assertEqual(backend.requests, 0)
        harness.wait_until(lambda: "did not select HTTP/2" in proxy.stderr(), 5,
                           what="the ALPN failure logged")
        line = next(ln for ln in proxy.stderr().splitlines() if "did not select HTTP/2" in ln)
        self.assertIn(backend.address, line)
        self.assertIn("it picked none", line)


if __name__ == "__main__":
    harness.main()
