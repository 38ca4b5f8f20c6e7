#!/usr/bin/env python3
"""Attacks on h2 pools (issue 15): request trailers after any body and across resends and
retries, refused bodies around the 64 KiB resend copy, HTTP/1 framing of an HTTP/2 backend's
answers, max_pending 0 under load, and gRPC calls counted once under retries and reloads."""

import hashlib
import json
import threading
import time

import grpc
import h2.config
import h2.connection
import h2.events

import harness
import metrics_util
from h2_client import connect, exchange, request_headers
from h2c_backend import H2cBackend, pattern
from test_grpc_metrics import StatusBackend

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

    def test_trailers_after_a_content_length_body_survive_a_refused_stream(self):
        """A refused stream's resend of a content-length body lost the client's trailers."""
        body = pattern(1000)
        got = exchange(self.proxy_port, False,
                       [("POST", "/refuse-once/cl", (("content-length", str(len(body))),),
                         body, TRAILERS)])[0]
        self.check_digest(got, body)
        self.assertEqual(self.backend.trailers, [("/refuse-once/cl", TRAILERS)] * 2)

    def test_refused_bodies_around_the_resend_copy_from_an_http2_client(self):
        """Refused streams with bodies at 64 KiB - 1, 64 KiB, 64 KiB + 1 and 100 KiB."""
        for size in (65535, 65536, 65537, 102400):
            with self.subTest(size=size):
                path = "/refuse-once/h2-%d" % size
                body = pattern(size)
                got = exchange(self.proxy_port, False, [("POST", path, (), body, None)])[0]
                tries = [p for _, p, _ in self.backend.seen if p == path]
                if size <= 65536:
                    self.check_digest(got, body)
                    self.assertEqual(len(tries), 2)
                else:  # past the copy: the refusal ends it, or the body was still whole
                    self.assertIn(got.status, (200, 502))
                    self.assertEqual(len(tries), 2 if got.status == 200 else 1)
                    if got.status == 200:
                        self.check_digest(got, body)

    def test_trailers_past_the_limit_are_refused_not_forwarded(self):
        """An HTTP/2 client's oversized request trailers do not reach the backend."""
        big = [("x-t%d" % i, "v" * 1000) for i in range(120)]
        got = exchange(self.proxy_port, False,
                       [("POST", "/upload", (), pattern(100), big)], timeout=5)[0]
        self.assertEqual((got.status, got.reset), (None, 11), "reset ENHANCE_YOUR_CALM")
        self.assertEqual(self.backend.trailers, [])
        got = exchange(self.proxy_port, False, [("GET", "/blob?n=3", (), None, None)])[0]
        self.assertEqual((got.status, got.body), (200, pattern(3)))


    def test_a_chunked_http1_clients_trailers_survive_a_refused_stream(self):
        """An HTTP/1.1 client's chunked trailers go with each send of a refused stream."""
        body = pattern(3000)
        sock = self.proxy.raw()
        self.addCleanup(sock.close)
        reader = sock.makefile("rb")
        self.addCleanup(reader.close)
        sock.sendall(b"POST /refuse-once/h1 HTTP/1.1\r\nHost: a.test\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n"
                     b"X-Sum: abc\r\nX-More: 1\r\n\r\n" % (len(body), body))
        r = harness.read_response(reader, "POST")
        self.assertEqual(r.status, 200)
        self.assertEqual(json.loads(r.body)["length"], len(body))
        self.assertEqual(self.backend.trailers, [("/refuse-once/h1", TRAILERS)] * 2)


    def slow_end(self, path, body, trailers, pause):
        """POSTs `body` with its content-length on a stream that ends `pause` s after it (with
        `trailers`, or an empty END_STREAM DATA); returns (status, body, seconds taken)."""
        sock = connect(self.proxy_port, False)
        self.addCleanup(sock.close)
        conn = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=True, header_encoding="utf-8"))
        conn.initiate_connection()
        conn.send_headers(1, request_headers("a.test", path, "POST", False,
                                             [("content-length", str(len(body)))]))
        conn.send_data(1, body)
        sock.sendall(conn.data_to_send())
        started = time.monotonic()
        time.sleep(pause)
        if trailers:
            conn.send_headers(1, trailers, end_stream=True)
        else:
            conn.end_stream(1)
        sock.sendall(conn.data_to_send())
        status, got = None, b""
        sock.settimeout(10 * harness.SLOWDOWN)
        while True:
            data = sock.recv(65536)
            self.assertTrue(data, "the proxy closed the connection")
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.ResponseReceived):
                    status = int(dict(ev.headers)[":status"])
                elif isinstance(ev, h2.events.DataReceived):
                    got += ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, 1)
                elif isinstance(ev, (h2.events.StreamEnded, h2.events.StreamReset)):
                    return status, got, time.monotonic() - started
            sock.sendall(conn.data_to_send())

    def test_a_content_length_body_whose_stream_ends_later(self):
        """The backend's stream ends with the client's END_STREAM, trailers or none, not before."""
        body = pattern(2000)
        for trailers in (TRAILERS, None):
            with self.subTest(trailers=bool(trailers)):
                path = "/late-end-%d" % bool(trailers)
                status, got, _ = self.slow_end(path, body, trailers, 0.3)
                self.assertEqual(status, 200)
                self.assertEqual(json.loads(got)["length"], len(body))
        self.assertEqual(self.backend.trailers, [("/late-end-1", TRAILERS)])


    def test_an_answer_before_the_clients_end_then_late_trailers(self):
        """A backend answering before the client's END_STREAM; its trailers come after."""
        status, got, _ = self.slow_end("/answer-early", pattern(500), TRAILERS, 0.3)
        self.assertEqual((status, got), (200, b"ok"))
        again = exchange(self.proxy_port, False, [("GET", "/blob?n=3", (), None, None)])[0]
        self.assertEqual((again.status, again.body), (200, pattern(3)))


class H2PoolTrailersAcrossBackends(harness.ProxyTestCase):
    def test_trailers_reach_the_backend_tried_after_a_connect_failure(self):
        """Request trailers go to the backend a call is retried on after a refused connect."""
        backend = H2cBackend("a")
        self.addCleanup(backend.stop)
        dead = "127.0.0.1:%d" % harness.free_port()
        self.start_proxy(self.config(
            {"h2": self.pool(dead, backend.address, protocol="h2")}, listener={"h2c": True}))
        for i in range(4):  # round robin: some start on the dead backend
            got = exchange(self.proxy_port, False,
                           [("POST", "/t%d" % i, (), pattern(200), TRAILERS)])[0]
            self.assertEqual(got.status, 200)
        self.assertEqual(backend.trailers, [("/t%d" % i, TRAILERS) for i in range(4)])


class Http1PoolContentLengthTrailers(harness.ProxyTestCase):
    def test_trailers_after_a_content_length_body_to_an_http1_pool_are_dropped_cleanly(self):
        """An HTTP/1 backend gets the Content-Length body alone; the stream and the next end."""
        backend = self.start_backend("h1")
        self.start_proxy(self.config({"h1": self.pool(backend.address)},
                                     listener={"h2c": True}))
        body = pattern(3000)
        cl = (("content-length", str(len(body))),)
        got = exchange(self.proxy_port, False,
                       [("POST", "/echo", cl, body, TRAILERS),
                        ("POST", "/echo", cl, body, None)])
        for a in got:
            self.assertEqual((a.status, a.body), (200, body))
            self.assertEqual(a.header("x-echo-framing"), "length")


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
        for n in (5000, 300000):  # the second crosses the stream's flow-control window
            reader = self.raw(b"GET /nolength?n=%d HTTP/1.0\r\nHost: a.test\r\n"
                              b"Connection: keep-alive\r\n\r\n" % n)
            r = harness.read_response(reader)
            self.assertEqual(r.status, 200)
            self.assertIsNone(r.header("Transfer-Encoding"))
            self.assertEqual(r.header("Connection"), "close")
            self.assertEqual(r.body, pattern(n))
            self.assertEqual(reader.read(), b"", "the close ends the body")
        r = self.proxy.get("/blob?n=3", timeout=5)
        self.assertEqual((r.status, r.body), (200, pattern(3)))

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


class H2PoolNoPendingUnderLoad(harness.ProxyTestCase):
    def test_fifty_clients_and_a_backend_that_lowers_its_stream_limit(self):
        """max_pending 0 at the connection cap, the backend's stream limit lowered mid-run."""
        backend = H2cBackend("a", max_streams=100, delay=0.002)
        self.addCleanup(backend.stop)
        pool = self.pool(backend.address, protocol="h2",
                         circuit_breaker={"max_connections": 2, "max_pending": 0},
                         timeouts={"read": "%ds" % (10 * harness.SLOWDOWN)})
        proxy = self.start_proxy(self.config({"h2": pool}))
        self.assertEqual(proxy.get("/lower-streams?n=100", timeout=10).status, 200)
        statuses, lock = [], threading.Lock()

        def client(t):
            conn = proxy.connection(timeout=20 * harness.SLOWDOWN)
            try:
                for i in range(8):
                    blob = "/blob?n=%d" % (i * 97)
                    path = "/lower-streams?n=3" if (t, i) == (0, 2) else blob
                    r = proxy.get(path, conn=conn, timeout=20)
                    ok = r.status != 200 or path != blob or r.body == pattern(i * 97)
                    with lock:
                        statuses.append(r.status if ok else "bad body")
            except OSError as e:
                with lock:
                    statuses.append(repr(e))
            finally:
                conn.close()

        threads = [threading.Thread(target=client, args=(t,)) for t in range(50)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60 * harness.SLOWDOWN)
        self.assertEqual(len(statuses), 400)
        self.assertEqual(sorted(set(statuses) - {200, 503}), [], "only answers and sheds")
        self.assertGreater(statuses.count(200), 200)
        self.assertEqual(backend.resets, [])
        self.assertLessEqual(backend.connections, 2)
        self.assertEqual(proxy.get("/blob?n=5", timeout=10).status, 200)


GRPC_FAMILIES = ("outrigger_pool_grpc_calls_total", "outrigger_backend_grpc_calls_total",
                 "outrigger_backend_limit_hits_total")


class GrpcMetricsUnderRetries(harness.ProxyTestCase):
    def series(self, pool):
        """{(family, backend label or None, class or limit): value} of `pool`'s series."""
        samples, _ = metrics_util.scrape(self.proxy)
        out = {}
        for (name, labels), v in samples.items():
            d = dict(labels)
            if name in GRPC_FAMILIES and d.get("pool") == pool:
                out[(name, d.get("backend"), d.get("grpc_status", d.get("limit")))] = v
        return out

    def test_a_call_retried_after_a_connect_failure_counts_once(self):
        """A call whose first backend refused the connection counts once, ok, where it ran."""
        good = StatusBackend()
        self.addCleanup(good.stop)
        dead = "127.0.0.1:%d" % harness.free_port()
        pools = {"grpc": self.pool(dead, good.address, protocol="h2"),
                 "plain": self.pool(good.address)}
        routes = [{"path_prefix": "/plain", "pool": "plain"}, {"path_prefix": "/", "pool": "grpc"}]
        self.proxy = self.start_proxy(self.config(pools, routes, listener={"h2c": True}))
        channel = grpc.insecure_channel("127.0.0.1:%d" % self.proxy_port)
        self.addCleanup(channel.close)
        call = channel.unary_unary("/test.Echo/Unary")
        for _ in range(6):
            self.assertEqual(call(b"x", timeout=10 * harness.SLOWDOWN), b"ok:x")
        got = {k: v for k, v in self.series("grpc").items()
               if v and k[0] != "outrigger_backend_limit_hits_total"}
        self.assertEqual(got, {("outrigger_pool_grpc_calls_total", None, "ok"): 6,
                               ("outrigger_backend_grpc_calls_total", good.address, "ok"): 6})
        self.assertEqual(good.calls, 6)
        plain = self.series("plain")
        self.assertEqual([k for k in plain if k[0] == "outrigger_backend_limit_hits_total"], [],
                         "an HTTP/1 pool has no HTTP/2 codec limits")
        self.assertEqual({k: v for k, v in plain.items() if v}, {})

    def test_a_call_resent_after_a_refused_stream_counts_once(self):
        """A gRPC call whose first stream was refused counts once, by its one answer."""
        backend = H2cBackend("a")
        self.addCleanup(backend.stop)
        self.proxy = self.start_proxy(self.config(
            {"h2": self.pool(backend.address, protocol="h2")}, listener={"h2c": True}))
        got = exchange(self.proxy_port, False,
                       [("POST", "/refuse-once/g", (("content-type", "application/grpc"),
                                                     ("te", "trailers")), b"\0\0\0\0\0",
                         None)])[0]
        self.assertEqual(got.status, 200)
        self.assertEqual([p for _, p, _ in backend.seen], ["/refuse-once/g"] * 2)
        calls = {k: v for k, v in self.series("h2").items()
                 if v and k[0] != "outrigger_backend_limit_hits_total"}
        self.assertEqual(calls, {("outrigger_pool_grpc_calls_total", None, "none"): 1})


    def test_calls_count_once_across_a_reload(self):
        """gRPC counters go on across a reload that keeps the pool: not reset, not doubled."""
        good = StatusBackend()
        self.addCleanup(good.stop)
        text = self.config({"grpc": self.pool(good.address, protocol="h2")},
                           listener={"h2c": True})
        self.proxy = self.start_proxy(text)
        channel = grpc.insecure_channel("127.0.0.1:%d" % self.proxy_port)
        self.addCleanup(channel.close)
        call = channel.unary_unary("/test.Echo/Unary")
        for _ in range(3):
            call(b"x", timeout=10 * harness.SLOWDOWN)
        self.proxy.reload(text + "\n")
        self.proxy.wait_log(r"reloaded ", timeout=5)
        for _ in range(2):
            call(b"x", timeout=10 * harness.SLOWDOWN)
        got = {k: v for k, v in self.series("grpc").items()
               if v and k[0] != "outrigger_backend_limit_hits_total"}
        self.assertEqual(got, {("outrigger_pool_grpc_calls_total", None, "ok"): 5,
                               ("outrigger_backend_grpc_calls_total", good.address, "ok"): 5})


if __name__ == "__main__":
    harness.main()
