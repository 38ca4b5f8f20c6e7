#!/usr/bin/env python3
"""Request and response bodies cross the proxy intact, framed as RFC 9112 says."""

import hashlib
import os
import shutil
import subprocess
import unittest

import harness

MIB = 1024 * 1024


def pattern(n):
    return (bytes(range(256)) * (n // 256 + 1))[:n]


class Bodies(harness.ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.backend = self.start_backend("a")
        self.proxy = self.start_proxy(self.config(pools={"api": self.pool(self.backend)}))

    def test_echoes_a_one_mebibyte_chunked_upload_intact(self):
        data = os.urandom(MIB)
        pieces = (data[i:i + 16384] for i in range(0, len(data), 16384))
        # http.client frames an iterable body without a length as chunked.
        r = self.proxy.request("POST", "/echo", body=pieces)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("X-Echo-Framing") in ("chunked", "length"), True, r)
        self.assertEqual(r.header("X-Echo-Length"), str(MIB))
        self.assertEqual(hashlib.sha256(r.body).hexdigest(), hashlib.sha256(data).hexdigest())

    def test_echoes_a_one_mebibyte_chunked_upload_from_curl_intact(self):
        curl = shutil.which("curl")
        if not curl:
            self.skipTest("curl is not installed (scripts/install-deps installs it)")
        src = os.path.join(self.tmp, "upload.bin")
        out = os.path.join(self.tmp, "echoed.bin")
        data = os.urandom(MIB)
        with open(src, "wb") as f:
            f.write(data)
        p = subprocess.run(
            [curl, "-s", "-S", "--max-time", "30", "-o", out, "-w", "%{http_code}",
             "--data-binary", "@" + src, "-H", "Transfer-Encoding: chunked",
             "-H", "Content-Type: application/octet-stream",
             "http://127.0.0.1:%d/echo" % self.proxy.port],
            capture_output=True, text=True, timeout=60)
        self.assertEqual((p.returncode, p.stdout), (0, "200"), p.stderr)
        with open(out, "rb") as f:
            self.assertTrue(f.read() == data, "curl's chunked upload came back altered")

    def test_echoes_a_content_length_upload_intact(self):
        data = os.urandom(MIB)
        r = self.proxy.request("POST", "/echo", body=data)
        self.assertEqual((r.status, r.header("X-Echo-Length")), (200, str(MIB)))
        self.assertTrue(r.body == data, "the upload came back altered")

    def test_forwards_an_empty_body(self):
        r = self.proxy.request("POST", "/echo", body=b"")
        self.assertEqual((r.status, r.body), (200, b""))

    def test_streams_a_chunked_response_intact(self):
        n = 5 * MIB + 7
        r = self.proxy.get("/bytes?n=%d&mode=chunked" % n)
        self.assertEqual(r.status, 200)
        self.assertEqual(len(r.body), n)
        self.assertTrue(r.body == pattern(n), "chunked response altered")

    def test_streams_a_close_delimited_response_intact(self):
        n = 3 * MIB + 1
        r = self.proxy.get("/bytes?n=%d&mode=close" % n)
        self.assertEqual(r.status, 200)
        self.assertEqual(len(r.body), n)
        self.assertTrue(r.body == pattern(n), "close-delimited response altered")

    def test_head_has_no_body_and_the_connection_stays_usable(self):
        sock, rfile = self.open_raw(self.proxy)
        sock.sendall(b"HEAD / HTTP/1.1\r\nHost: test\r\n\r\n")
        r = harness.read_response(rfile, method="HEAD")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Length"), str(len(b"hello from a\n")))
        # Had the proxy sent body bytes after the HEAD answer, they would show up here.
        sock.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        r = harness.read_response(rfile)
        self.assertEqual((r.status, r.body), (200, b"hello from a\n"))

    def test_head_of_a_large_resource_has_no_body(self):
        sock, rfile = self.open_raw(self.proxy)
        sock.sendall(b"HEAD /bytes?n=1000000 HTTP/1.1\r\nHost: test\r\n\r\n"
                     b"GET /status?code=202 HTTP/1.1\r\nHost: test\r\n\r\n")
        r = harness.read_response(rfile, method="HEAD")
        self.assertEqual((r.status, r.header("Content-Length")), (200, "1000000"))
        r = harness.read_response(rfile)
        self.assertEqual(r.status, 202, r)

    def test_204_and_304_have_no_body_and_the_connection_stays_usable(self):
        sock, rfile = self.open_raw(self.proxy)
        for code in (204, 304):
            sock.sendall(b"GET /status?code=%d HTTP/1.1\r\nHost: test\r\n\r\n" % code)
            r = harness.read_response(rfile)
            self.assertEqual(r.status, code)
            self.assertIsNone(r.header("Transfer-Encoding"), r)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
            r = harness.read_response(rfile)
            self.assertEqual((r.status, r.body), (200, b"hello from a\n"),
                             "the answer after a %d was garbled" % code)


if __name__ == "__main__":
    harness.main()
