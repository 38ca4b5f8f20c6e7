#!/usr/bin/env python3
"""`outrigger import-nginx` on TLS: nginx_corpus/tls_sni.conf (two HTTPS sites told apart by
SNI on one port, TLS 1.3 only, a plain port redirecting to them) run by nginx as written and
by Outrigger as translated, side by side in front of the same backends. Each must serve the
same certificate for each name, refuse TLS 1.2, reach the same backend (or pool) with the
same Host and target, and redirect the plain port to the same https:// URL."""

import os
import re
import socket
import ssl
import unittest

import harness
import test_import_nginx
import tls_certs

NGINX = test_import_nginx.NGINX
PORT = re.compile(r"(?<=[:\s])(18\d\d\d)\b")


def tls_exchange(port, sni, path, max_version=None):
    """GET path over TLS with SNI `sni`: (the server certificate, DER; the Response)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if max_version:
        ctx.maximum_version = max_version
    raw = socket.create_connection((harness.LOOPBACK, port), timeout=10 * harness.SLOWDOWN)
    with ctx.wrap_socket(raw, server_hostname=sni) as s:
        der = s.getpeercert(binary_form=True)
        s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                   % (path, sni)).encode())
        return der, harness.read_response(s.makefile("rb"))


def der_of(pem_path):
    with open(pem_path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


@unittest.skipUnless(os.access(NGINX, os.X_OK), "needs nginx (scripts/install-deps)")
class TlsSideBySide(tls_certs.TlsTestCase):
    def setUp(self):
        super().setUp()
        with open(os.path.join(test_import_nginx.CORPUS, "tls_sni.conf")) as f:
            text = test_import_nginx.with_real_certificates(self, f.read())
        mapping = {p: harness.free_port() for p in sorted(set(PORT.findall(text)))}
        text = PORT.sub(lambda m: str(mapping[m.group(1)]), text)
        self.nginx_https, self.nginx_http = mapping["18743"], mapping["18780"]
        for orig in ("18701", "18702", "18703"):
            b = harness.Backend("b" + orig, port=mapping[orig], log_dir=self.tmp)
            self.addCleanup(b.stop)
        conf_dir = os.path.join(self.tmp, "nginx")
        os.makedirs(os.path.join(conf_dir, "logs"))
        conf = os.path.join(conf_dir, "tls_sni.conf")
        with open(conf, "w") as f:
            f.write(text)
        # The certificates nginx serves, by name, read back from the config it runs.
        self.cert_of = {name: der_of(re.search(
            r"server_name %s\.example\.com;\s+ssl_certificate\s+(\S+);" % name, text).group(1))
            for name in ("shop", "blog")}

        r = harness.run_outrigger(["import-nginx", conf])
        self.assertEqual(r.returncode, 0, r.stderr)
        yaml = r.stdout
        self.https_port, self.http_port = harness.free_port(), harness.free_port()
        self.admin_port = harness.free_port()
        self.proxy_port = self.https_port
        yaml = yaml.replace('listen: "127.0.0.1:%d"' % self.nginx_https,
                            'listen: "127.0.0.1:%d"' % self.https_port)
        yaml = yaml.replace('listen: "127.0.0.1:%d"' % self.nginx_http,
                            'listen: "127.0.0.1:%d"' % self.http_port)
        self.yaml = test_import_nginx.for_test(yaml, self.admin_port)
        self.start_proxy(self.yaml)
        test_import_nginx.start_nginx(self, conf_dir, conf, self.nginx_https)

    def sides(self):
        return {"nginx": (self.nginx_https, self.nginx_http),
                "outrigger": (self.https_port, self.http_port)}

    def test_the_translation_serves_tls_like_nginx(self):
        self.assertIn("redirect_https: { port: 443 }", self.yaml)
        self.assertIn('min_version: "1.3"', self.yaml)
        seen = {}
        for side, (https, http) in self.sides().items():
            for name, pool in (("shop", {"b18701", "b18702"}), ("blog", {"b18703"})):
                with self.subTest(side=side, name=name):
                    host = name + ".example.com"
                    der, r = tls_exchange(https, host, "/headers?b=1")
                    self.assertEqual(der, self.cert_of[name])
                    self.assertEqual(r.status, 200)
                    self.assertIn(r.header("X-Backend"), pool)
                    j = r.json()
                    fields = {k.lower(): v for k, v in j["headers"]}
                    seen.setdefault(name, set()).add((j["target"], fields.get("host")))
            # A name neither site has: the default server's certificate and site.
            der, r = tls_exchange(https, "other.example.org", "/headers")
            self.assertEqual(der, self.cert_of["shop"], side)
            self.assertIn(r.header("X-Backend"), {"b18701", "b18702"}, side)
            # ssl_protocols TLSv1.3: a TLS 1.2 client is refused by both.
            with self.assertRaises(ssl.SSLError, msg=side):
                tls_exchange(https, "shop.example.com", "/", max_version=ssl.TLSVersion.TLSv1_2)
            # The plain port sends GET and HEAD to the same https:// URL.
            for method in ("GET", "HEAD"):
                r = harness.request(http, method=method, path="/p/q?r=1",
                                    headers={"Host": "blog.example.com:%d" % http})
                self.assertEqual(r.status, 301, side)
                self.assertEqual(r.header("Location"), "https://blog.example.com/p/q?r=1", side)
        # The same target and Host reached the backends from both.
        for name, got in seen.items():
            self.assertEqual(len(got), 1, (name, got))


if __name__ == "__main__":
    harness.main()
