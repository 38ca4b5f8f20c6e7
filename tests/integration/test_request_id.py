#!/usr/bin/env python3
"""Request ids (X-Request-Id): generated when absent, kept when valid and trusted, replaced
otherwise; the backend, the response, the proxy's own error pages and the access log agree,
and ids are unique across workers."""

import json
import os
import re
import unittest

import harness

HEX32 = re.compile(r"^[0-9a-f]{32}$")


def backend_ids(response):
    """The X-Request-Id values the backend received (from /headers)."""
    return [v for n, v in response.json()["headers"] if n.lower() == "x-request-id"]


class RequestIds(harness.ProxyTestCase):
    def start(self, listener=None, workers=1, pools=None):
        self.log_path = os.path.join(self.tmp, "access.log")
        lst = {"access_log": {"format": "json", "path": self.log_path}}
        lst.update(listener or {})
        if pools is None:
            pools = {"api": self.pool(self.start_backend("a"))}
        return self.start_proxy(self.config(pools=pools, listener=lst, workers=workers))

    def log_lines(self, count):
        def enough():
            if not os.path.exists(self.log_path):
                return None
            with open(self.log_path) as f:
                lines = [json.loads(line) for line in f]
            return lines if len(lines) >= count else None

        return harness.wait_until(enough, 10, what="%d access log lines" % count)

    def test_generated_when_absent_and_everyone_agrees(self):
        proxy = self.start()
        r = proxy.get("/headers")
        self.assertEqual(r.status, 200)
        rid = r.header("X-Request-Id")
        self.assertRegex(rid, HEX32)
        self.assertEqual(backend_ids(r), [rid])
        self.assertEqual(self.log_lines(1)[0]["request_id"], rid)

    def test_kept_when_valid(self):
        proxy = self.start()
        r = proxy.get("/headers", headers={"X-Request-Id": "client-chose/this id:1"})
        self.assertEqual(r.header("X-Request-Id"), "client-chose/this id:1")
        self.assertEqual(backend_ids(r), ["client-chose/this id:1"])
        self.assertEqual(self.log_lines(1)[0]["request_id"], "client-chose/this id:1")

    def test_replaced_when_too_long_or_not_trusted(self):
        proxy = self.start()
        long_id = "x" * 129
        r = proxy.get("/headers", headers={"x-request-id": long_id})
        rid = r.header("X-Request-Id")
        self.assertRegex(rid, HEX32)
        self.assertEqual(backend_ids(r), [rid])  # the client's is gone, not sent alongside
        ok = proxy.get("/headers", headers={"x-request-id": "y" * 128})
        self.assertEqual(ok.header("X-Request-Id"), "y" * 128)

    def test_not_trusted_means_always_generated(self):
        proxy = self.start(listener={"request_id": {"trust_incoming": False}})
        r = proxy.get("/headers", headers={"X-Request-Id": "forged"})
        rid = r.header("X-Request-Id")
        self.assertRegex(rid, HEX32)
        self.assertEqual(backend_ids(r), [rid])

    def test_a_backends_own_id_is_replaced_in_the_response(self):
        proxy = self.start()
        r = proxy.get("/respond?header=X-Request-Id:from-backend",
                      headers={"X-Request-Id": "mine"})
        self.assertEqual(r.header_all("X-Request-Id"), ["mine"])

    def test_custom_header_name(self):
        proxy = self.start(listener={"request_id": {"header": "X-Correlation-Id"}})
        r = proxy.get("/headers", headers={"X-Correlation-Id": "c-1"})
        self.assertEqual(r.header("X-Correlation-Id"), "c-1")
        self.assertIn(["X-Correlation-Id", "c-1"], r.json()["headers"])
        self.assertIsNone(r.header("X-Request-Id"))

    def test_off_sends_no_id(self):
        proxy = self.start(listener={"request_id": {"enabled": False}})
        r = proxy.get("/headers")
        self.assertIsNone(r.header("X-Request-Id"))
        self.assertEqual(backend_ids(r), [])

    def test_the_proxys_own_error_pages_carry_the_id(self):
        dead = "127.0.0.1:%d" % harness.free_port()
        proxy = self.start(pools={"api": self.pool(dead, retries={"attempts": 0})})
        r = proxy.get("/")
        self.assertEqual(r.status, 502)
        rid = r.header("X-Request-Id")
        self.assertRegex(rid, HEX32)
        self.assertIn("request id: %s\n" % rid, r.text)
        self.assertEqual(self.log_lines(1)[0]["request_id"], rid)
        # A head that never parsed gets one too.
        sock, rfile = self.open_raw(proxy)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nbad header\r\n\r\n")
        bad = harness.read_response(rfile)
        self.assertEqual(bad.status, 400)
        self.assertRegex(bad.header("X-Request-Id"), HEX32)
        self.assertIn("request id: %s\n" % bad.header("X-Request-Id"), bad.text)

    def test_unique_over_100000_requests_across_workers(self):
        # 100,000 requests from 40 keep-alive connections spread over two workers, pipelined
        # 250 at a time. They ask for a path no route has, so the proxy answers each itself
        # (404, an id in its head) and no backend sets the pace.
        routes = [{"path_prefix": "/api/", "pool": "api"}]
        proxy = self.start_proxy(self.config(pools={"api": self.pool(self.start_backend("b"))},
                                             routes=routes, workers=2))
        per_conn, batch = 2500, 250
        request = b"GET /nowhere HTTP/1.1\r\nHost: a\r\n\r\n"
        id_re = re.compile(rb"\r\nX-Request-Id: ([0-9a-f]{32})\r\n")
        ids = []
        for _ in range(40):
            sock, _ = self.open_raw(proxy)
            sock.settimeout(10 * harness.SLOWDOWN)
            for _ in range(per_conn // batch):
                sock.sendall(request * batch)
                got, seen = b"", 0
                while seen < batch:
                    chunk = sock.recv(1 << 20)
                    self.assertTrue(chunk, "the proxy closed a keep-alive connection")
                    got += chunk
                    seen = got.count(b"HTTP/1.1 404 ")
                self.assertEqual(seen, batch)
                ids += id_re.findall(got)
            sock.close()
        self.assertEqual(len(ids), 100000)
        self.assertEqual(len(set(ids)), 100000, "request ids repeat")


if __name__ == "__main__":
    harness.main()
