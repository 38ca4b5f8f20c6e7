#!/usr/bin/env python3
# ctest label: threads (a worker's gRPC counters read by the control thread)
"""gRPC calls in /metrics (issue 15): outrigger_pool_grpc_calls_total{pool, grpc_status} counts
each call once by the class of the grpc-status its client got (ok, client, server, invalid;
none when it ended without one), the proxy's own Trailers-Only answers included, and
outrigger_backend_grpc_calls_total{pool, backend, grpc_status} each backend answer that had
one. Real grpcio servers behind a `protocol: h2` pool; each test checks every class of every
series moved by exactly the calls it made.
"""

import grpc

import h2_client
import harness
import metrics_util
from grpc_server import GrpcServer

SERVICE = "test.Echo"
SHORT_SERVICE = "short.Echo"
CLASSES = ("ok", "client", "server", "invalid", "none")


class StatusBackend(GrpcServer):
    """Methods that end with a chosen status."""

    def handlers(self):
        methods = {
            "Unary": grpc.unary_unary_rpc_method_handler(self.unary),
            "NotFound": grpc.unary_unary_rpc_method_handler(self.not_found),
            "Internal": grpc.unary_unary_rpc_method_handler(self.internal),
            "Slow": grpc.unary_unary_rpc_method_handler(self.slow),
        }
        # SHORT_SERVICE: the same methods, routed to a pool with a short read timeout.
        return {SERVICE: methods, SHORT_SERVICE: methods}

    def unary(self, request, context):
        self.count()
        return b"ok:" + request

    def not_found(self, request, context):
        self.count()
        context.abort(grpc.StatusCode.NOT_FOUND, "no such thing")

    def internal(self, request, context):
        self.count()
        context.abort(grpc.StatusCode.INTERNAL, "broken")


class GrpcCallMetrics(harness.ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.backends = [StatusBackend(), StatusBackend()]
        for b in self.backends:
            self.addCleanup(b.stop)
        pools = {
            "grpc": self.pool(*[b.address for b in self.backends], protocol="h2"),
            # Nothing listens there: each call gets the proxy's own UNAVAILABLE (14).
            "gone": self.pool("127.0.0.1:%d" % harness.free_port(), protocol="h2"),
            # The proxy's own DEADLINE_EXCEEDED (4) from its read timeout: a call's grpc-timeout
            # would reach the backend too, which could end the call first with its own 4.
            "short": self.pool(*[b.address for b in self.backends], protocol="h2",
                               timeouts={"read": "%dms" % (300 * harness.SLOWDOWN)}),
        }
        routes = [{"path_prefix": "/gone.", "pool": "gone"},
                  {"path_prefix": "/short.", "pool": "short"},
                  {"path_prefix": "/", "pool": "grpc"}]
        self.proxy = self.start_proxy(self.config(pools, routes, listener={"h2c": True}))
        self.channel = grpc.insecure_channel("127.0.0.1:%d" % self.proxy_port)
        self.addCleanup(self.channel.close)
        self.before = self.counts()

    def counts(self):
        """{(series, pool, backend or None, class): value} for both families."""
        samples, types = metrics_util.scrape(self.proxy)
        self.assertEqual(types["outrigger_pool_grpc_calls_total"], "counter")
        self.assertEqual(types["outrigger_backend_grpc_calls_total"], "counter")
        out = {}
        for pool in ("grpc", "gone", "short"):
            for c in CLASSES:
                out[("pool", pool, None, c)] = metrics_util.value(
                    samples, "outrigger_pool_grpc_calls_total", pool=pool, grpc_status=c)
        for pool in ("grpc", "short"):
            for b in self.backends:
                for c in CLASSES[:-1]:
                    out[("backend", pool, b.address, c)] = metrics_util.value(
                        samples, "outrigger_backend_grpc_calls_total", pool=pool,
                        backend=b.address, grpc_status=c)
        return out

    def moved(self):
        now = self.counts()
        return {k: v - self.before[k] for k, v in now.items() if v != self.before[k]}

    def expect(self, pool=None, backend=None, timeout=5.0):
        """Waits until the counters moved by exactly `pool` ({(pool, class): n}) and `backend`
        ({(address, class): n}), and stays so: no other series moved."""
        want = {("pool", p, None, c): n for (p, c), n in (pool or {}).items()}
        want.update({("backend", "grpc", a, c): n for (a, c), n in (backend or {}).items()})
        last = {}

        def done():
            last["moved"] = self.moved()
            return last["moved"] == want
        try:
            harness.wait_until(done, timeout * harness.SLOWDOWN, what="the gRPC counters")
        except AssertionError:
            self.assertEqual(last["moved"], want)
            raise

    def unary(self, name, payload=b"x", service=SERVICE):
        call = self.channel.unary_unary("/%s/%s" % (service, name))
        return call(payload, timeout=10 * harness.SLOWDOWN)

    def test_ok_calls_count_once_each_against_the_pool_and_the_backend_that_answered(self):
        for i in range(6):
            self.assertEqual(self.unary("Unary", b"%d" % i), b"ok:%d" % i)
        self.assertEqual([b.calls for b in self.backends], [3, 3])
        self.expect(pool={("grpc", "ok"): 6},
                    backend={(b.address, "ok"): 3 for b in self.backends})

    def test_a_backends_not_found_is_client_and_internal_is_server(self):
        with self.assertRaises(grpc.RpcError) as caught:
            self.unary("NotFound")
        self.assertEqual(caught.exception.code(), grpc.StatusCode.NOT_FOUND)
        with self.assertRaises(grpc.RpcError) as caught:
            self.unary("Internal")
        self.assertEqual(caught.exception.code(), grpc.StatusCode.INTERNAL)
        # Round robin: the first call went to the first backend, the second to the other.
        self.assertEqual([b.calls for b in self.backends], [1, 1])
        self.expect(pool={("grpc", "client"): 1, ("grpc", "server"): 1},
                    backend={(self.backends[0].address, "client"): 1,
                             (self.backends[1].address, "server"): 1})

    def test_a_call_no_backend_can_take_is_the_proxys_unavailable_a_server_status(self):
        for _ in range(2):
            with self.assertRaises(grpc.RpcError) as caught:
                self.unary("Unary", service="gone.Echo")
            self.assertEqual(caught.exception.code(), grpc.StatusCode.UNAVAILABLE)
        self.expect(pool={("gone", "server"): 2})

    def test_the_proxys_deadline_exceeded_is_a_server_status_and_no_backend_answer(self):
        # A raw HTTP/2 client keeps no deadline of its own, and the call has none: the proxy's
        # read timeout ends it with a Trailers-Only DEADLINE_EXCEEDED, never a client cancel
        # or the backend's own deadline.
        frame = b"\x00\x00\x00\x00\x01x"
        extra = [("content-type", "application/grpc"), ("te", "trailers")]
        [answer] = h2_client.exchange(
            self.proxy_port, False,
            [("POST", "/%s/Slow" % SHORT_SERVICE, extra, frame, None)])
        self.assertEqual(answer.status, 200)
        self.assertEqual(answer.header("grpc-status"), "4")
        harness.wait_until(lambda: sum(b.cancelled for b in self.backends) == 1,
                           5 * harness.SLOWDOWN, what="the backend saw the cancel")
        self.expect(pool={("short", "server"): 1})

    def test_a_call_the_client_cancels_ends_with_no_status(self):
        slow = self.channel.unary_unary("/%s/Slow" % SERVICE)
        future = slow.future(b"", timeout=30 * harness.SLOWDOWN)
        harness.wait_until(lambda: sum(b.calls for b in self.backends) == 1,
                           5 * harness.SLOWDOWN, what="the call reached a backend")
        future.cancel()
        harness.wait_until(lambda: sum(b.cancelled for b in self.backends) == 1,
                           5 * harness.SLOWDOWN, what="the backend saw the cancel")
        self.expect(pool={("grpc", "none"): 1})

    def test_an_http2_request_without_grpc_content_type_is_not_a_grpc_call(self):
        # The backend answers it with a grpc-status (2, "Bad method header") all the same.
        [answer] = h2_client.exchange(self.proxy_port, False,
                                      [("GET", "/%s/Unary" % SERVICE, [], None, None)])
        self.assertEqual(answer.header("grpc-status"), "2")
        self.unary("Unary")  # round robin: the second backend
        self.expect(pool={("grpc", "ok"): 1},
                    backend={(self.backends[1].address, "ok"): 1})

if __name__ == "__main__":
    harness.main()
