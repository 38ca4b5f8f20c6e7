#!/usr/bin/env python3
"""A `protocol: h2` pool whose backends misbehave (h2c_backend.py's paths) and whose clients
leave: each client gets the right answer or a clean error, a request is sent again only when
the backend said it did not process it, a stream the client left is reset (CANCEL) while its
connection keeps serving, and the proxy's in-flight gauges return to zero."""

import hashlib
import http.client
import json
import signal
import socket
import threading

import harness
from h2_client import RawH2, request_headers
from h2c_backend import H2cBackend, pattern
from h2c_pool_case import H2cPoolCase

CANCEL = 8


class H2UpstreamAttacks(H2cPoolCase):
    # ---- the backend refuses or goes away before processing: retried, once ---------------

    # One backend: nothing else to retry on, and a stream it did not process may go to it
    # again, on a new stream (RFC 9113 §8.7).

    def test_refused_stream_is_retried_for_any_method(self):
        self.start(n=1)
        r = self.proxy.get("/refuse-once/get")
        self.assertEqual(r.status, 200)
        r = self.proxy.request("POST", "/refuse-once/post", body=b"x" * 5000)
        self.assertEqual(r.status, 200)
        self.assertEqual(json.loads(r.body)["length"], 5000)
        self.assertEqual(len(self.seen("/refuse-once/post")), 2)
        self.assert_settles()

    def test_a_refused_post_is_sent_again_up_to_the_resend_copy_and_is_a_502_past_it(self):
        # A refused stream goes again while the proxy holds its whole body: up to 64 KiB is
        # copied as it goes out. Past that, a refusal arriving after parts of it went ends the
        # request: a 502, not a loop, and the backend's application never saw it.
        self.start(n=1)
        for size, status, tries in ((20000, 200, 2), (64 * 1024, 200, 2), (100000, 502, 1)):
            with self.subTest(size=size):
                path = "/refuse-once/%d" % size
                r = self.proxy.request("POST", path, body=b"x" * size, timeout=10)
                self.assertEqual(r.status, status)
                if status == 200:
                    self.assertEqual(json.loads(r.body)["length"], size)
                self.assertEqual(len(self.seen(path)), tries)
        self.assertEqual(self.backends[0].requests, 2)
        self.assert_settles()

    def test_a_backend_that_always_refuses_ends_in_a_502_not_a_loop(self):
        for n, tries in ((1, 2), (2, 4)):  # once more on the same backend, per backend tried
            with self.subTest(backends=n):
                self.start(n=n)
                r = self.proxy.request("POST", "/refuse-always", body=b"r" * 100)
                self.assertEqual(r.status, 502)
                self.assertEqual(len(self.seen("/refuse-always")), tries)
                self.assert_settles()

    def test_goaway_naming_an_earlier_stream_retries_the_later_one(self):
        self.start(n=1)
        r = self.proxy.request("POST", "/goaway-once/p", body=b"y" * 3000)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(json.loads(r.body)["length"], 3000)
        self.assertEqual(len(self.seen("/goaway-once/p")), 2)
        self.assert_settles()

    def test_a_graceful_goaway_retries_the_streams_past_its_last_one(self):
        self.start(n=1, goaway_at=3)
        results = {}

        def one(i):
            results[i] = self.proxy.request("POST", "/p%d" % i, body=b"x" * (10 + i), timeout=20)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30 * harness.SLOWDOWN)
        for i in range(3):
            self.assertEqual(results[i].status, 200, i)
            self.assertEqual(json.loads(results[i].body)["length"], 10 + i)
        # The stream the GOAWAY named went once, the two past it twice (never processed).
        counts = sorted(len(self.seen("/p%d" % i)) for i in range(3))
        self.assertEqual(counts, [1, 2, 2])
        self.assert_settles()

    # ---- the backend fails after processing: never sent twice ------------------------------

    def test_close_without_answer_is_a_502_and_not_sent_again(self):
        self.start()
        r = self.proxy.request("POST", "/close-now", body=b"z" * 10)
        self.assertEqual(r.status, 502)
        self.assertEqual(len(self.seen("/close-now")), 1)
        self.assert_settles()

    def test_a_backend_closing_mid_upload_is_a_502_and_not_sent_again(self):
        self.start()
        r = self.proxy.request("POST", "/close-in-body", body=pattern(200000), timeout=20)
        self.assertEqual(r.status, 502)
        self.assertEqual(len(self.seen("/close-in-body")), 1)
        self.assert_settles()

    def test_a_backend_closing_after_its_settings(self):
        self.start(close_first=1)
        self.backends[1].close_first = 0  # the GET that a's first connection fails goes to b
        for i in range(4):
            r = self.proxy.get("/blob?n=%d" % i)
            self.assertEqual((r.status, r.body), (200, pattern(i)))
        self.assert_settles()

    def test_reset_mid_response_truncates_the_client_response(self):
        self.start()
        for path in ("/rst-mid", "/close-mid"):
            with self.subTest(path=path):
                conn = http.client.HTTPConnection(harness.LOOPBACK, self.proxy_port,
                                                  timeout=10 * harness.SLOWDOWN)
                self.addCleanup(conn.close)
                conn.request("POST", path, body=b"q")
                resp = conn.getresponse()
                self.assertEqual(resp.status, 200)
                with self.assertRaises(http.client.IncompleteRead):
                    resp.read()
                self.assertEqual(len(self.seen(path)), 1)
        self.assert_settles()

    def test_goaway_with_an_error_naming_the_stream_is_a_502_not_sent_again(self):
        self.start()
        r = self.proxy.request("POST", "/goaway-error", body=b"e" * 100)
        self.assertEqual(r.status, 502)
        self.assertEqual(len(self.seen("/goaway-error")), 1)
        self.assert_settles()

    def test_a_connection_the_backend_closed_while_idle_is_not_used_again(self):
        self.start(n=1)
        for i in range(3):
            r = self.proxy.request("POST", "/then-close", body=b"i")
            self.assertEqual(r.status, 200, "request %d" % i)
        self.assertEqual(len(self.seen("/then-close")), 3)
        self.assertEqual(self.backends[0].connections, 3)
        self.assert_settles()

    # ---- no answer: the stream is reset, the connection serves on -------------------------

    def test_a_backend_that_never_answers_times_out_and_its_connection_serves_on(self):
        self.start(n=1, read_timeout="1s")
        r = self.proxy.get("/hang", timeout=20)
        self.assertEqual(r.status, 504)
        b = self.backends[0]
        harness.wait_until(lambda: ("/hang", CANCEL) in b.resets, 5 * harness.SLOWDOWN,
                           what="the hung stream reset with CANCEL")
        self.assert_settles()
        self.assertEqual(b.connections, 1)

    # ---- the client leaves ------------------------------------------------------------------

    def test_a_client_leaving_mid_response_cancels_the_stream(self):
        self.start(n=1)
        sock = harness.raw_connect(self.proxy_port)  # no makefile: close() closes
        self.addCleanup(sock.close)
        path = "/blob?n=%d" % (4 << 20)
        sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
        self.assertTrue(sock.recv(4096).startswith(b"HTTP/1.1 200"))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
        sock.close()  # a reset: the proxy's next write fails
        b = self.backends[0]
        harness.wait_until(lambda: (path, CANCEL) in b.resets, 10 * harness.SLOWDOWN,
                           what="the left stream reset with CANCEL")
        self.assert_settles()
        self.assertEqual(b.connections, 1)

    def test_an_http2_client_cancelling_cancels_the_backend_stream(self):
        self.start(n=1, listener={"h2c": True})
        c = RawH2(self.proxy_port)
        self.addCleanup(c.close)
        c.preface()
        c.send(c.headers(1, request_headers("x", "/hang"), end_stream=True))
        b = self.backends[0]
        harness.wait_until(lambda: self.seen("/hang"), 5 * harness.SLOWDOWN, what="/hang seen")
        c.send(c.rst(1))
        harness.wait_until(lambda: ("/hang", CANCEL) in b.resets, 5 * harness.SLOWDOWN,
                           what="the cancelled stream reset with CANCEL")
        c.send(c.headers(3, request_headers("x", "/blob?n=5"), end_stream=True))
        c.read_until(lambda cc: cc.status_of(3) is not None, 5 * harness.SLOWDOWN)
        self.assertEqual(c.status_of(3), 200)
        self.assert_settles()
        self.assertEqual(b.connections, 1)

    def test_an_http2_client_cancelling_mid_upload_never_completes_the_request(self):
        self.start(n=1, listener={"h2c": True})
        c = RawH2(self.proxy_port)
        self.addCleanup(c.close)
        c.preface()
        c.send(c.headers(1, request_headers("x", "/up", "POST", extra=[("content-length",
                                                                          "5000")])))
        c.send(c.data(1, b"u" * 100))
        b = self.backends[0]
        harness.wait_until(lambda: self.seen("/up"), 5 * harness.SLOWDOWN, what="/up seen")
        c.send(c.rst(1))
        harness.wait_until(lambda: ("/up", CANCEL) in b.resets, 5 * harness.SLOWDOWN,
                           what="the cancelled upload reset with CANCEL")
        self.assertEqual(self.seen("/up"), [("POST", "/up", False)])
        self.assert_settles()

    def test_a_client_leaving_mid_body_never_completes_the_request(self):
        self.start(n=1)
        sock = harness.raw_connect(self.proxy_port)
        self.addCleanup(sock.close)
        sock.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"
                     + b"a" * 100)
        b = self.backends[0]
        harness.wait_until(lambda: self.seen("/upload"), 5 * harness.SLOWDOWN,
                           what="/upload head seen")
        sock.close()
        harness.wait_until(lambda: ("/upload", CANCEL) in b.resets, 5 * harness.SLOWDOWN,
                           what="the left upload reset with CANCEL")
        self.assertEqual(self.seen("/upload"), [("POST", "/upload", False)])
        self.assert_settles()

    def test_a_client_that_does_not_read_holds_the_backend_back(self):
        self.start(n=1)
        sock = harness.raw_connect(self.proxy_port)
        self.addCleanup(sock.close)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.sendall(b"GET /blob?n=%d HTTP/1.1\r\nHost: x\r\n\r\n" % (64 << 20))
        b = self.backends[0]
        samples = []

        def still():
            samples.append(b.sent)
            return len(samples) > 3 and samples[-1] == samples[-4] > 0

        harness.wait_until(still, 20 * harness.SLOWDOWN, interval=0.2,
                           what="the backend held back by flow control")
        self.assertLess(b.sent, 16 << 20, "the proxy buffered %d bytes" % b.sent)
        sock.close()
        self.assert_settles()

    def test_an_upload_crosses_a_tiny_stream_window(self):
        self.start(n=1, window=1000)
        body = pattern(300000)
        r = self.proxy.request("POST", "/upload", body=body, timeout=30)
        self.assertEqual(r.status, 200)
        self.assertEqual(json.loads(r.body), {"length": len(body),
                                              "sha256": hashlib.sha256(body).hexdigest()})
        self.assert_settles()

    # ---- the proxy drains or reloads with streams open --------------------------------------

    def slow_request_in_flight(self, path):
        result = {}

        def run():
            result["r"] = self.proxy.get(path, timeout=20)

        t = threading.Thread(target=run)
        t.start()
        self.addCleanup(t.join, 30 * harness.SLOWDOWN)
        harness.wait_until(lambda: self.seen(path), 5 * harness.SLOWDOWN, what=path + " seen")
        return t, result

    def test_sigterm_lets_open_streams_finish(self):
        self.start(n=1)
        t, result = self.slow_request_in_flight("/slow?ms=%d" % (800 * harness.SLOWDOWN))
        self.proxy.signal(signal.SIGTERM)
        t.join(20 * harness.SLOWDOWN)
        self.assertEqual(result["r"].status, 200)
        self.assertEqual(self.proxy.wait(timeout=10), 0)

    def test_a_reload_dropping_the_pool_lets_open_streams_finish(self):
        self.start(n=1)
        t, result = self.slow_request_in_flight("/slow?ms=%d" % (800 * harness.SLOWDOWN))
        other = H2cBackend("other")
        self.addCleanup(other.stop)
        text = self.proxy.config_text
        self.proxy.reload(text.replace(self.backends[0].address, other.address)
                          .replace("h2:", "fresh:").replace("pool: h2", "pool: fresh"))
        self.proxy.wait_log(r"reloaded ")
        t.join(20 * harness.SLOWDOWN)
        self.assertEqual(result["r"].status, 200)
        self.assertEqual(result["r"].header("x-backend"), "a")
        harness.wait_until(lambda: not self.gauges(), 10 * harness.SLOWDOWN,
                           what="in-flight gauges back to zero")
        r = self.proxy.get("/blob?n=3")
        self.assertEqual((r.status, r.header("x-backend")), (200, "other"))

    # ---- client shapes ----------------------------------------------------------------------

    def test_pipelined_requests_are_answered_in_order(self):
        self.start()
        sock, rfile = self.open_raw(self.proxy)
        sock.sendall(b"".join(b"GET /blob?n=%d HTTP/1.1\r\nHost: x\r\n\r\n" % n
                              for n in (3, 4, 5)))
        for n in (3, 4, 5):
            r = harness.read_response(rfile)
            self.assertEqual((r.status, r.body), (200, pattern(n)))
        self.assert_settles()

    def test_head_and_http10(self):
        self.start()
        sock, rfile = self.open_raw(self.proxy)
        sock.sendall(b"HEAD /blob?n=10 HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"GET /blob?n=6 HTTP/1.1\r\nHost: x\r\n\r\n")
        r = harness.read_response(rfile, "HEAD")
        self.assertEqual((r.status, r.body, r.header("content-length")), (200, b"", "10"))
        r = harness.read_response(rfile)
        self.assertEqual((r.status, r.body), (200, pattern(6)))
        sock2 = harness.raw_connect(self.proxy_port)
        self.addCleanup(sock2.close)
        sock2.sendall(b"GET /blob?n=9 HTTP/1.0\r\n\r\n")
        data = harness.read_until_closed(sock2)
        self.assertTrue(data.startswith(b"HTTP/1.1 200") or data.startswith(b"HTTP/1.0 200"),
                        data[:100])
        self.assertTrue(data.endswith(pattern(9)), data[-40:])
        self.assert_settles()

    def test_bodiless_and_interim_answers(self):
        self.start(n=1)
        sock, rfile = self.open_raw(self.proxy)
        for code in (204, 304):
            sock.sendall(b"GET /status?code=%d HTTP/1.1\r\nHost: x\r\n\r\n" % code)
            r = harness.read_response(rfile)
            self.assertEqual((r.status, r.body), (code, b""))
        sock.sendall(b"GET /early HTTP/1.1\r\nHost: x\r\n\r\n")
        r = harness.read_response(rfile)
        if r.status == 103:
            r = harness.read_response(rfile)
        self.assertEqual((r.status, r.body), (200, pattern(4)))
        sock.sendall(b"GET /blob?n=2 HTTP/1.1\r\nHost: x\r\n\r\n")
        r = harness.read_response(rfile)
        self.assertEqual((r.status, r.body), (200, pattern(2)))
        self.assert_settles()

    def test_a_huge_response_header_list_is_a_clean_answer(self):
        self.start(n=1)
        r = self.proxy.get("/headers?n=2000", timeout=20)
        self.assertEqual(r.status, 502)  # 200 KB of fields: over the proxy's head limit
        self.assertEqual(len(self.seen("/headers?n=2000")), 1)  # processed: not sent again
        self.assert_settles()

    # ---- concurrency ------------------------------------------------------------------------

    def test_one_stream_per_connection_and_twenty_at_once(self):
        self.start(max_streams=1, delay=0.05, workers=2)
        results = []

        def one(i):
            r = self.proxy.get("/blob?n=%d" % (100 + i), timeout=30)
            results.append((r.status, r.body == pattern(100 + i)))

        threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60 * harness.SLOWDOWN)
        self.assertEqual(results, [(200, True)] * 20)
        self.assert_settles()

    def test_refusals_and_resets_among_many_requests_on_two_workers(self):
        # A third of the requests end in a reset mid-answer: five of them in a row on a backend
        # (the clients run in step) would open its breaker and shed what follows with 503s.
        # The breaker is not what this tests (test_circuit_breaker.py is).
        self.start(workers=2, breaker={"consecutive_failures": 1000})
        failures = []

        def client(t):
            conn = http.client.HTTPConnection(harness.LOOPBACK, self.proxy_port,
                                              timeout=20 * harness.SLOWDOWN)
            try:
                for i in range(10):
                    if i % 3 == 2:  # the connection closes after a truncated response
                        conn.request("GET", "/rst-mid")
                        resp = conn.getresponse()
                        try:
                            resp.read()
                            failures.append("rst-mid read whole")
                        except http.client.IncompleteRead:
                            pass
                        conn.close()
                        continue
                    path = "/refuse-once/%d-%d" % (t, i) if i % 3 else "/blob?n=%d" % i
                    conn.request("POST" if i % 3 else "GET", path, body=b"m" * i)
                    r = conn.getresponse()
                    body = r.read()
                    if r.status != 200 or (i % 3 == 0 and body != pattern(i)):
                        failures.append((path, r.status))
            finally:
                conn.close()

        threads = [threading.Thread(target=client, args=(t,)) for t in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60 * harness.SLOWDOWN)
        self.assertEqual(failures, [])
        for t in range(8):
            for i in (1, 4, 7):
                self.assertEqual(len(self.seen("/refuse-once/%d-%d" % (t, i))), 2)
        self.assert_settles()

    def test_max_requests_sheds_what_is_over_it_and_gives_its_slots_back(self):
        self.start(n=1, breaker={"max_requests": 2, "max_pending": 0}, max_streams=10)
        statuses = []
        path = "/slow?ms=%d" % (300 * harness.SLOWDOWN)

        def one():
            statuses.append(self.proxy.get(path, timeout=20).status)

        threads = [threading.Thread(target=one) for _ in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30 * harness.SLOWDOWN)
        # The backend answers one stream at a time, so the first two hold both slots while
        # the other three arrive.
        self.assertEqual(sorted(statuses), [200, 200, 503, 503, 503])
        self.assertEqual(len(self.seen(path)), 2)
        self.assert_settles()


if __name__ == "__main__":
    harness.main()
