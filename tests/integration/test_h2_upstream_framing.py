#!/usr/bin/env python3
"""What an HTTP/1.1 client is told of a body from a `protocol: h2` backend, where END_STREAM
and not a field marks its end: a body of no stated length comes chunked, an answer that ended
with its HEADERS has Content-Length: 0, and the client's connection serves on after either.
And an answer, even a 503, says the backend had the request: a POST is not sent elsewhere."""

import harness
from h2c_backend import H2cBackend, pattern


class H2UpstreamFraming(harness.ProxyTestCase):
    def setUp(self):
        super().setUp()
        keys = set()
        self.backends = [H2cBackend(name, keys=keys) for name in "ab"]
        for b in self.backends:
            self.addCleanup(b.stop)
        pool = self.pool(*[b.address for b in self.backends], protocol="h2",
                         timeouts={"read": "%ds" % (5 * harness.SLOWDOWN)})
        self.proxy = self.start_proxy(self.config({"h2": pool}))

    def test_a_body_of_no_stated_length_is_chunked_and_the_connection_serves_on(self):
        conn = self.proxy.connection(timeout=5)
        self.addCleanup(conn.close)
        for n in (5, 70000):
            r = self.proxy.get("/nolength?n=%d" % n, conn=conn, timeout=5)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.header("Transfer-Encoding"), "chunked")
            self.assertEqual(r.body, pattern(n))

    def test_an_http10_client_gets_a_body_of_no_stated_length_to_the_close(self):
        """HTTP/1.0 knows no chunks: the body ends with the connection. Before: a 502 saying
        the backend sent a chunked response, which an HTTP/2 backend never does."""
        for n in (5, 70000):
            sock = self.proxy.raw(timeout=5 * harness.SLOWDOWN)
            self.addCleanup(sock.close)
            sock.sendall(b"GET /nolength?n=%d HTTP/1.0\r\nHost: a.test\r\n\r\n" % n)
            data = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            self.assertTrue(head.startswith(b"HTTP/1.1 200 "), head)
            self.assertNotIn(b"transfer-encoding", head.lower())
            self.assertNotIn(b"content-length", head.lower())
            self.assertEqual(body, pattern(n))

    def test_an_answer_ending_with_its_headers_has_an_empty_body(self):
        conn = self.proxy.connection(timeout=5)
        self.addCleanup(conn.close)
        for code in (200, 404, 204):
            r = self.proxy.get("/status?code=%d" % code, conn=conn, timeout=5)
            self.assertEqual(r.status, code)
            self.assertEqual(r.body, b"")
            self.assertEqual(r.header("Content-Length"), None if code == 204 else "0")
        r = self.proxy.get("/blob?n=3", conn=conn, timeout=5)
        self.assertEqual((r.status, r.body), (200, pattern(3)))

    def test_a_post_answered_503_is_not_sent_to_another_backend(self):
        r = self.proxy.request("POST", "/status?code=503", body=b"p" * 100, timeout=5)
        self.assertEqual(r.status, 503)
        seen = [p for b in self.backends for (m, p, _) in b.seen if m == "POST"]
        self.assertEqual(seen, ["/status?code=503"])

    def test_a_get_answered_503_goes_to_the_other_backend(self):
        r = self.proxy.get("/status?code=503", timeout=5)
        self.assertEqual(r.status, 503)
        self.assertEqual([len(b.seen) for b in self.backends], [1, 1])


if __name__ == "__main__":
    harness.main()
