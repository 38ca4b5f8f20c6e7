#!/usr/bin/env python3
"""HTTP/2 from clients (issue 15): h2 by ALPN on a TLS listener and h2c by prior knowledge on
a plaintext one with `h2c: true`. Through each, curl gets the same answers as over HTTP/1.1
from the same proxy (GET, a 5 MiB POST checked by digest at the backend, HEAD, 204, 304),
response trailers the backend sends chunked reach the client and request trailers reach the
backend, nghttp gets 100 concurrent streams right on one connection, a bounded h2load run has
no errors, and /metrics counts the requests under protocol="h2".

OUTRIGGER_H2_STANDIN=nginx runs the same client side against nginx, for comparison
(h2_client.py)."""

import hashlib
import json
import os
import re
import socket
import subprocess

import harness
import h2_backend
import metrics_util
from h2_client import H2TestCase, RawH2, exchange, request_headers

# Response fields that must be equal over HTTP/2 and HTTP/1.1 (hop-by-hop ones and Date may
# differ).
SAME_FIELDS = ("content-type", "content-length", "x-backend")


# nghttp -s: "id responseEnd requestStart process code size path", times as +12.3ms.
NGHTTP_STAT = re.compile(r"^\s*\d+\s+\+([\d.]+)(us|ms|s)\s+\+([\d.]+)(us|ms|s)\s+\S+\s+"
                         r"(\d{3})\s+(\S+)\s+(\S+)$", re.M)


def seconds(value, unit):
    return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0}[unit]


def run(cmd, timeout, cwd=None):
    return subprocess.run(cmd, capture_output=True, timeout=timeout * harness.SLOWDOWN, cwd=cwd)


class Http2Behaviour(H2TestCase):
    def both(self):
        """[(server, backend)]: one server per listener kind (h2c, TLS), sharing a backend."""
        backend = self.start_h2_backend()
        return [(self.start_h2(tls, backend), backend) for tls in (False, True)]

    def test_answers_are_those_of_http1(self):
        for server, _ in self.both():
            with self.subTest(listener=server.label):
                for path, args in (("/", ()), ("/bytes?n=100000", ()), ("/status?code=204", ()),
                                   ("/status?code=304", ()), ("/status?code=404", ()),
                                   ("/bytes?n=5000", ("-I",)), ("/echo", ("--data-binary", "hi"))):
                    s2, h2, b2, v2 = self.curl(server, path, *args)
                    s1, h1, b1, v1 = self.curl(server, path, *args, http1=True)
                    self.assertEqual((v2, v1), ("2", "1.1"), path)
                    self.assertEqual(s2, s1, path)
                    self.assertEqual(b2, b1, path)
                    for name in SAME_FIELDS:
                        self.assertEqual(h2.get(name), h1.get(name), (path, name))
                # What those answers are, so that "the same" is not "the same wrong answer".
                status, headers, body, _ = self.curl(server, "/bytes?n=100000")
                self.assertEqual((status, body), (200, h2_backend.pattern(100000)))
                status, headers, body, _ = self.curl(server, "/bytes?n=5000", "-I")
                self.assertEqual((status, headers.get("content-length"), body), (200, "5000", b""))
                for code in (204, 304):
                    status, headers, body, _ = self.curl(server, "/status?code=%d" % code)
                    self.assertEqual((status, body), (code, b""))
                    self.assertNotIn("content-length", headers)

    def test_an_h2c_client_that_half_closes_after_its_preface_gets_http2_then_a_close(self):
        # Preface, request and FIN arrive together: the sniff must still hand over to HTTP/2
        # (the HTTP/1 half-close rules would answer 400 or hang), and Http2Session, like
        # nginx, takes the FIN as the client leaving and closes at once.
        server = self.start_h2(False, self.start_h2_backend())
        c = RawH2(server.port)
        self.addCleanup(c.close)
        c.preface()
        c.send(c.headers(1, request_headers("a.test", "/"), end_stream=True))
        c.sock.shutdown(socket.SHUT_WR)
        self.assertTrue(c.wait_closed(10))
        self.assertTrue(c.frames, "no HTTP/2 frame before the close")
        self.assertEqual(c._buf, b"")  # nothing unparsable, such as an HTTP/1 answer

    def test_status_counts_open_http2_connections_and_streams(self):
        server = self.start_h2(False, self.start_h2_backend())

        def h2_status():
            return server.proxy.admin("/status").json()["listeners"]["web"]["http2"]

        self.assertEqual(h2_status(), {"connections": 0, "streams": 0})
        c = RawH2(server.port)
        self.addCleanup(c.close)
        c.preface()
        for stream in (1, 3, 5):  # the backend holds each answer far longer than the test
            c.send(c.headers(stream, request_headers("a.test", "/blob/held?ms=60000"),
                             end_stream=True))
        want = {"connections": 1, "streams": 3}
        harness.wait_until(lambda: h2_status() == want, 10, what="%r in /status" % want)
        c.send(c.rst(3))
        want = {"connections": 1, "streams": 2}
        harness.wait_until(lambda: h2_status() == want, 10, what="%r in /status" % want)
        c.close()
        want = {"connections": 0, "streams": 0}
        harness.wait_until(lambda: h2_status() == want, 10, what="%r in /status" % want)

    def test_a_5_mib_post_reaches_the_backend_whole(self):
        payload = os.urandom(5 << 20)
        path = os.path.join(self.tmp, "payload")
        with open(path, "wb") as f:
            f.write(payload)
        want = hashlib.sha256(payload).hexdigest()
        for server, _ in self.both():
            with self.subTest(listener=server.label):
                for http1 in (False, True):
                    status, _, body, _ = self.curl(server, "/digest", "--data-binary", "@" + path,
                                                   "-H", "Content-Type: application/octet-stream",
                                                   http1=http1, timeout=60)
                    self.assertEqual(status, 200)
                    got = json.loads(body)
                    self.assertEqual((got["length"], got["sha256"]), (len(payload), want))
                # Without a content-length (h2 needs none) the body still arrives whole.
                got = exchange(server.port, server.tls,
                               [("POST", "/digest", (), payload, None)], timeout=60)[0]
                self.assertEqual(got.status, 200)
                self.assertEqual(json.loads(got.body)["sha256"], want)

    def test_response_trailers_reach_the_client(self):
        # Outrigger-specific: nginx's proxy_pass drops an HTTP/1.1 upstream's trailers.
        if not self.outrigger:
            self.skipTest("the stand-in drops upstream trailers")
        n = 200000
        for server, _ in self.both():
            with self.subTest(listener=server.label):
                req = ("GET", "/trailers?n=%d" % n, (("te", "trailers"),), None, None)
                got = exchange(server.port, server.tls, [req])[0]
                self.assertEqual((got.status, got.body), (200, h2_backend.pattern(n)))
                self.assertEqual(dict(got.trailers),
                                 {"x-checksum": hashlib.sha256(got.body).hexdigest(),
                                  "x-count": str(n)})
                # No HTTP/1.1 framing leaks into the HTTP/2 head.
                names = [k for k, _ in got.headers]
                self.assertNotIn("transfer-encoding", names)

    def test_request_trailers_reach_the_backend(self):
        # Outrigger-specific: the "trailers both ways"; nginx drops request trailers.
        if not self.outrigger:
            self.skipTest("the stand-in drops request trailers")
        body = os.urandom(100000)
        for server, _ in self.both():
            with self.subTest(listener=server.label):
                got = exchange(server.port, server.tls,
                               [("POST", "/digest", (("te", "trailers"),), body,
                                 [("x-sum", "abc"), ("x-more", "1")])])[0]
                self.assertEqual(got.status, 200)
                seen = json.loads(got.body)
                self.assertEqual(seen["sha256"], hashlib.sha256(body).hexdigest())
                self.assertEqual(seen["trailers"], [["x-sum", "abc"], ["x-more", "1"]])

    def test_nghttp_100_concurrent_streams_on_one_connection(self):
        sizes = [1000 + 997 * i for i in range(100)]
        for server, backend in self.both():
            with self.subTest(listener=server.label):
                # Each answer waits 300 ms at the backend, so every request is sent before the
                # first answer ends only if the 100 streams really are open at once.
                urls = [server.url("/blob/s%d?n=%d&ms=300" % (i, n))
                        for i, n in enumerate(sizes)]
                r = run(["nghttp", "-s", "-n", "--no-dep", "-t", str(int(30 * harness.SLOWDOWN))]
                        + urls, 60)
                self.assertEqual(r.returncode, 0, r.stderr.decode()[-2000:])
                rows = NGHTTP_STAT.findall(r.stdout.decode())
                self.assertEqual(len(rows), 100, (r.stdout + r.stderr).decode()[-2000:])
                # (Sizes are shown rounded, "27K": the bytes are checked below.)
                got = {path: code for _, _, _, _, code, _, path in rows}
                self.assertEqual(got, {u[u.index("/blob"):]: "200" for u in urls})
                ends = [seconds(v, unit) for v, unit, _, _, _, _, _ in rows]
                starts = [seconds(v, unit) for _, _, v, unit, _, _, _ in rows]
                self.assertLess(max(starts), min(ends), "not all 100 streams were open at once")
                # nghttp shows sizes, not bytes: the bytes of 100 concurrent streams on one
                # connection are checked with h2's client.
                answers = exchange(server.port, server.tls,
                                   [("GET", "/blob/p%d?n=%d" % (i, n), (), None, None)
                                    for i, n in enumerate(sizes)], timeout=60)
                for n, a in zip(sizes, answers):
                    self.assertEqual(a.status, 200)
                    self.assertTrue(a.body == h2_backend.pattern(n), "body of /blob?n=%d" % n)

    def test_h2load_bounded_run_has_no_errors(self):
        for server, _ in self.both():
            with self.subTest(listener=server.label):
                r = run(["h2load", "-n", "2000", "-c", "4", "-m", "20", "-t", "1",
                         server.url("/bytes?n=1000")], 120)
                out = r.stdout.decode()
                self.assertEqual(r.returncode, 0, out + r.stderr.decode())
                self.assertIn("Application protocol: h2", out)
                self.assertRegex(out, r"requests: 2000 total, 2000 started, 2000 done, "
                                      r"2000 succeeded, 0 failed, 0 errored, 0 timeout")
                self.assertRegex(out, r"status codes: 2000 2xx, 0 3xx, 0 4xx, 0 5xx")

    def test_metrics_count_h2_requests(self):
        if not self.outrigger:
            self.skipTest("Outrigger's /metrics")
        for server, _ in self.both():
            with self.subTest(listener=server.label):
                answers = exchange(server.port, server.tls,
                                   [("GET", "/?i=%d" % i, (), None, None) for i in range(25)])
                self.assertEqual([a.status for a in answers], [200] * 25)
                self.curl(server, "/", http1=True)

                def count(protocol):
                    samples, _ = metrics_util.scrape(server.proxy)
                    return sum(v for (name, labels), v in samples.items()
                               if name == "outrigger_downstream_requests_total"
                               and dict(labels).get("protocol") == protocol)

                harness.wait_until(lambda: count("h2") == 25, 5, what="25 h2 requests in /metrics")
                harness.wait_until(lambda: count("http1") == 1, 5, what="1 http1 request")


if __name__ == "__main__":
    harness.main()
