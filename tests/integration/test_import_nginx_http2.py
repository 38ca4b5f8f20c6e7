#!/usr/bin/env python3
"""`outrigger import-nginx` on nginx's HTTP/2 settings: a plain `listen ... http2` and a TLS
server with `http2 on` translate with nothing reported, and Outrigger on the translation
serves HTTP/2 on both (h2c by prior knowledge, h2 by ALPN), HTTP/1.1 still on each port."""

import os
import unittest

import h2_client
import harness
import test_import_nginx
import tls_certs

CONF = """events {}
http {
    upstream app { server 127.0.0.1:%(backend)d; }
    proxy_set_header Host $host;
    server {
        listen 127.0.0.1:%(plain)d http2;
        location / { proxy_pass http://app; }
    }
    server {
        listen 127.0.0.1:%(tls)d ssl;
        http2 on;
        ssl_certificate %(cert)s;
        ssl_certificate_key %(key)s;
        location / { proxy_pass http://app; }
    }
}
"""


class Http2Translation(tls_certs.TlsTestCase):
    def test_http2_becomes_h2c_and_alpn_h2_and_serves_both(self):
        backend = self.start_backend("app")
        cert, key, _ = self.make_cert(["a.test"])
        plain, tls = harness.free_port(), harness.free_port()
        path = os.path.join(self.tmp, "site.conf")
        with open(path, "w") as f:
            f.write(CONF % {"backend": backend.port, "plain": plain, "tls": tls, "cert": cert,
                            "key": key})
        yaml, notes = test_import_nginx.import_nginx(path)
        self.assertEqual(notes, "")
        self.assertEqual(yaml.count("    h2c: true\n"), 1, yaml)
        self.assertEqual(yaml.count("      alpn: [h2, http/1.1]\n"), 1, yaml)
        self.proxy_port = plain
        self.admin_port = harness.free_port()
        self.start_proxy(test_import_nginx.for_test(yaml, self.admin_port))
        for port, over_tls in ((plain, False), (tls, True)):
            with self.subTest(tls=over_tls):
                # h2_client asserts ALPN h2 on TLS; on the plain port an HTTP/1 answer to
                # the preface fails the exchange.
                answer = h2_client.get(port, over_tls, "/headers")
                self.assertEqual(answer.status, 200)
                self.assertEqual(answer.header("x-backend"), "app")
        r = harness.request(plain, path="/headers", headers={"Host": "a.test"})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("X-Backend"), "app")


if __name__ == "__main__":
    harness.main()
