#!/usr/bin/env python3
# ctest label: threads (gRPC probes on the control thread while a worker serves)
"""gRPC health probes (issue 15): a `protocol: h2` pool whose probes are `type: grpc` calls
grpc.health.v1.Health/Check on each backend. A backend answering NOT_SERVING gets no calls
until it serves again; a named `service` is what the request carries; a backend without the
health service (UNIMPLEMENTED) or one that never answers is unready, the log saying why; a
pool with `tls:` probes over TLS (ALPN h2) too. The backends are grpcio servers with generic
handlers and hand-encoded protobuf (no grpc_health module, no protoc)."""

import time

import grpc

import harness
from grpc_server import GrpcServer
from tls_certs import TlsTestCase

HEALTH = "grpc.health.v1.Health"
SERVICE = "test.Echo"
INTERVAL = 0.3  # seconds between probes (±10% jitter)
SERVING, NOT_SERVING = 1, 2


class HealthBackend(GrpcServer):
    """Answers test.Echo/Unary (counted) and, unless `health` is False, Health/Check with
    HealthCheckResponse{status: self.status}, recording each request's bytes. With `hang`,
    Check never answers (until the call is cancelled)."""

    def __init__(self, name, health=True, tls=None):
        self.name = name
        self.health = health
        self.status = SERVING
        self.hang = False
        self.checks = []
        super().__init__(tls)

    def handlers(self):
        out = {SERVICE: {"Unary": grpc.unary_unary_rpc_method_handler(self.unary)}}
        if self.health:
            out[HEALTH] = {"Check": grpc.unary_unary_rpc_method_handler(self.check)}
        return out

    def unary(self, request, context):
        self.count()
        return self.name.encode()

    def check(self, request, context):
        with self.lock:
            self.checks.append(request)
        while self.hang and context.is_active():
            time.sleep(0.01)
        return bytes([0x08, self.status])

    def check_requests(self):
        with self.lock:
            return list(self.checks)


def probe(**extra):
    p = {"type": "grpc", "interval": "%dms" % (INTERVAL * 1000),
         "timeout": "%dms" % (1000 * harness.SLOWDOWN), "fall": 1, "rise": 1}
    p.update(extra)
    return p


class GrpcHealthCase(harness.ProxyTestCase):
    def start_pool(self, backends, ready=None, wait_ready=True, **pool_extra):
        """A proxy with an h2c listener and a pool of `backends`; wait_ready=False when no
        backend will pass its first probe (the proxy is not ready then)."""
        for b in backends:
            self.addCleanup(b.stop)
        pool = self.pool(*[b.address for b in backends], protocol="h2",
                         health={"ready": ready or probe()}, **pool_extra)
        proxy = self.start_proxy(self.config({"grpc": pool}, listener={"h2c": True}),
                                 wait_ready=wait_ready)
        if not wait_ready:
            harness.wait_until(lambda: self.admin_up(proxy), 10, what="the proxy to start")
        channel = grpc.insecure_channel("127.0.0.1:%d" % self.proxy_port)
        self.addCleanup(channel.close)
        self.unary = channel.unary_unary("/%s/Unary" % SERVICE)
        return proxy

    @staticmethod
    def admin_up(proxy):
        try:
            return proxy.admin("/health/live").status == 200
        except OSError:
            return False

    def spread(self, n):
        """Makes n calls through the proxy; returns the names of the backends that answered."""
        return [self.unary(b"x", timeout=10 * harness.SLOWDOWN).decode() for _ in range(n)]

    def state(self, proxy, backend):
        for b in proxy.admin("/status").json()["pools"]["grpc"]["backends"]:
            if b["backend"] == backend.address:
                return b["state"]
        raise AssertionError("no backend %s in /status" % backend.address)

    def failure_line(self, proxy, backend):
        """The log line of `backend`'s failed ready probe, or None."""
        for line in proxy.stderr().splitlines():
            if "backend %s: ready probe" % backend.address in line and "failed" in line:
                return line
        return None


class GrpcHealthProbes(GrpcHealthCase):
    def test_a_not_serving_backend_gets_no_calls_until_it_serves_again(self):
        a, b = HealthBackend("a"), HealthBackend("b")
        proxy = self.start_pool([a, b])
        harness.wait_until(lambda: set(self.spread(4)) == {"a", "b"}, 10,
                           what="both backends ready")
        self.assertTrue(a.check_requests() and b.check_requests())

        b.status = NOT_SERVING
        harness.wait_until(lambda: self.state(proxy, b) == "unready", 5,
                           what="b unready in /status")
        line = self.failure_line(proxy, b)
        self.assertIsNotNone(line)
        self.assertIn("(NOT_SERVING)", line)
        b_calls = b.call_count()
        self.assertEqual(self.spread(10), ["a"] * 10)
        self.assertEqual(b.call_count(), b_calls, "a NOT_SERVING backend got a call")
        self.assertEqual(self.state(proxy, a), "ready")

        b.status = SERVING
        harness.wait_until(lambda: self.state(proxy, b) == "ready", 5, what="b ready again")
        self.assertEqual(sorted(self.spread(10)), ["a"] * 5 + ["b"] * 5)
        self.assertEqual(b.call_count(), b_calls + 5)

    def test_the_whole_server_is_an_empty_request_and_a_named_service_is_sent(self):
        a = HealthBackend("a")
        service = "api.v1.Users"
        proxy = self.start_pool([a], ready=probe(service=service))
        harness.wait_until(lambda: a.check_requests(), 5, what="a health check")
        self.assertEqual(a.check_requests()[0],
                         b"\x0a" + bytes([len(service)]) + service.encode())
        harness.wait_until(lambda: self.state(proxy, a) == "ready", 5, what="a ready")

        other = HealthBackend("b")
        self.addCleanup(other.stop)
        pool = self.pool(other.address, protocol="h2", health={"live": probe()})
        self.start_proxy(self.config({"grpc": pool}, listener={"h2c": True}))
        harness.wait_until(lambda: other.check_requests(), 5, what="a live health check")
        self.assertEqual(other.check_requests()[0], b"", "no service: an empty message")

    def test_a_backend_without_the_health_service_is_unready_and_the_log_says_why(self):
        a, b = HealthBackend("a"), HealthBackend("b", health=False)
        proxy = self.start_pool([a, b])
        harness.wait_until(lambda: self.failure_line(proxy, b), 5, what="b's failed probe")
        self.assertIn("grpc-status 12 (unimplemented)", self.failure_line(proxy, b))
        self.assertEqual(self.state(proxy, b), "unready")
        self.assertEqual(self.spread(6), ["a"] * 6)
        self.assertEqual(b.call_count(), 0)

    def test_a_backend_that_never_answers_fails_by_timeout(self):
        a, b = HealthBackend("a"), HealthBackend("b")
        b.hang = True
        timeout = 0.3 * harness.SLOWDOWN
        proxy = self.start_pool([a, b], ready=probe(timeout="%dms" % (timeout * 1000)))
        started = time.monotonic()
        harness.wait_until(lambda: self.failure_line(proxy, b), 5, what="b's probe timeout")
        self.assertIn("timeout", self.failure_line(proxy, b))
        # Bounded by the probe's timeout, not left outstanding: the first probe fires within
        # 50 ms of the start.
        self.assertLess(time.monotonic() - started, timeout + 2 * harness.SLOWDOWN)
        self.assertEqual(self.state(proxy, b), "unready")
        self.assertEqual(self.spread(4), ["a"] * 4)
        self.assertEqual(b.call_count(), 0)

    def test_a_grpc_probe_on_an_http1_pool_is_a_config_error(self):
        text = self.config({"api": self.pool("127.0.0.1:1", health={"ready": probe()})})
        r = self.check_config(text)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("pools.api.health.ready.type: `grpc` needs HTTP/2 to the backends",
                      r.stderr + r.stdout)


class GrpcHealthOverTls(TlsTestCase, GrpcHealthCase):
    def test_an_h2_pool_with_tls_probes_over_tls(self):
        ca = self.make_ca("grpc-health-ca")
        cert = self.make_server_cert(ca, ["origin.test"])
        a = HealthBackend("a", tls=cert)
        a.status = NOT_SERVING
        proxy = self.start_pool([a], wait_ready=False,
                               tls={"ca": ca[0], "server_name": "origin.test"})
        harness.wait_until(lambda: self.failure_line(proxy, a), 5, what="a's failed probe")
        self.assertIn("(NOT_SERVING)", self.failure_line(proxy, a))
        a.status = SERVING
        harness.wait_until(lambda: self.state(proxy, a) == "ready", 5, what="a ready over TLS")
        self.assertEqual(self.spread(2), ["a", "a"])

    def test_a_tls_backend_whose_certificate_does_not_verify_stays_unready(self):
        ca, other_ca = self.make_ca("grpc-health-ca"), self.make_ca("other-ca")
        a = HealthBackend("a", tls=self.make_server_cert(other_ca, ["origin.test"]))
        proxy = self.start_pool([a], wait_ready=False,
                               tls={"ca": ca[0], "server_name": "origin.test"})
        harness.wait_until(lambda: self.failure_line(proxy, a), 5, what="a's failed probe")
        self.assertIn("TLS handshake failed", self.failure_line(proxy, a))
        self.assertEqual(a.check_requests(), [], "no call over an unverified connection")
        self.assertEqual(self.state(proxy, a), "unready")


if __name__ == "__main__":
    harness.main()
