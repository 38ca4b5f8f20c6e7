#!/usr/bin/env python3
# ctest label: threads (h2 backend connections, a backend killed mid-call)
"""gRPC through the proxy (issue 15): an h2c listener and a `protocol: h2` pool of two real
grpcio servers, called over ONE client channel, so the balancing is per call, not per
connection. The service uses generic handlers (no protoc): raw bytes in, raw bytes out.
"""

import signal
import subprocess
import sys
import time

import grpc

import harness
from grpc_server import GrpcServer

SERVICE = "test.Echo"


class GrpcBackend(GrpcServer):
    """Counts its calls and echoes with its name."""

    def __init__(self, name):
        self.name = name
        super().__init__()

    def handlers(self):
        return {SERVICE: {
            "Unary": grpc.unary_unary_rpc_method_handler(self.unary),
            "ServerStream": grpc.unary_stream_rpc_method_handler(self.server_stream),
            "ClientStream": grpc.stream_unary_rpc_method_handler(self.client_stream),
            "Bidi": grpc.stream_stream_rpc_method_handler(self.bidi),
            "Slow": grpc.unary_unary_rpc_method_handler(self.slow),
            "Ticks": grpc.unary_stream_rpc_method_handler(self.ticks),
        }}

    def unary(self, request, context):
        self.count()
        return self.name.encode() + b":" + request

    def server_stream(self, request, context):
        self.count()
        for i in range(int(request)):
            yield b"%d" % i

    def client_stream(self, requests, context):
        self.count()
        return b"".join(requests)

    def bidi(self, requests, context):
        self.count()
        for r in requests:
            yield r.upper()

    def ticks(self, request, context):
        """Its name, then a tick every 20 ms until the call ends."""
        self.count()
        yield self.name.encode()
        while context.is_active():
            time.sleep(0.02)
            yield b"tick"


def method(channel, kind, name):
    return getattr(channel, kind)("/%s/%s" % (SERVICE, name))


class GrpcThroughProxy(harness.ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.backends = [GrpcBackend("a"), GrpcBackend("b")]
        for b in self.backends:
            self.addCleanup(b.stop)
        pool = self.pool(*[b.address for b in self.backends], protocol="h2")
        self.proxy = self.start_proxy(self.config({"grpc": pool}, listener={"h2c": True}))
        self.channel = grpc.insecure_channel("127.0.0.1:%d" % self.proxy_port)
        self.addCleanup(self.channel.close)

    def test_unary_calls_on_one_channel_spread_over_both_backends(self):
        unary = method(self.channel, "unary_unary", "Unary")
        answers = [unary(b"x%d" % i, timeout=10 * harness.SLOWDOWN) for i in range(10)]
        self.assertEqual(sorted(a.split(b":")[1] for a in answers),
                         sorted(b"x%d" % i for i in range(10)))
        self.assertEqual([b.calls for b in self.backends], [5, 5])

    def test_server_streaming(self):
        stream = method(self.channel, "unary_stream", "ServerStream")
        got = list(stream(b"50", timeout=10 * harness.SLOWDOWN))
        self.assertEqual(got, [b"%d" % i for i in range(50)])

    def test_client_streaming(self):
        call = method(self.channel, "stream_unary", "ClientStream")
        parts = [b"p%d," % i for i in range(100)]
        self.assertEqual(call(iter(parts), timeout=10 * harness.SLOWDOWN), b"".join(parts))

    def test_bidi_streaming(self):
        call = method(self.channel, "stream_stream", "Bidi")
        got = list(call(iter([b"a", b"bc", b"def"]), timeout=10 * harness.SLOWDOWN))
        self.assertEqual(got, [b"A", b"BC", b"DEF"])

    def test_a_deadline_shorter_than_the_backends_delay_is_exceeded_and_the_backend_cancelled(self):
        slow = method(self.channel, "unary_unary", "Slow")
        started = time.monotonic()
        with self.assertRaises(grpc.RpcError) as caught:
            slow(b"", timeout=0.5 * harness.SLOWDOWN)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
        self.assertLess(time.monotonic() - started, 5 * harness.SLOWDOWN)
        harness.wait_until(lambda: sum(b.cancelled for b in self.backends) == 1,
                           5 * harness.SLOWDOWN, what="the backend saw the cancel")

    def test_a_backend_stopped_mid_run_ends_its_streams_unavailable_and_calls_go_on(self):
        ticks = method(self.channel, "unary_stream", "Ticks")
        streams = {}
        for _ in range(2):
            s = ticks(b"", timeout=30 * harness.SLOWDOWN)
            streams[next(s)] = s
        self.assertEqual(sorted(streams), [b"a", b"b"])  # one stream on each backend
        self.assertEqual(next(streams[b"b"]), b"tick")
        self.backends[1].stop()
        with self.assertRaises(grpc.RpcError) as caught:
            for _ in streams[b"b"]:
                pass
        self.assertEqual(caught.exception.code(), grpc.StatusCode.UNAVAILABLE)
        self.assertEqual(next(streams[b"a"]), b"tick")  # the other backend's stream flows on
        streams[b"a"].cancel()
        # Calls the stopped backend would have taken never reached it: retried on the other.
        unary = method(self.channel, "unary_unary", "Unary")
        answers = [unary(b"after%d" % i, timeout=10 * harness.SLOWDOWN) for i in range(10)]
        self.assertEqual([a.split(b":")[0] for a in answers], [b"a"] * 10)


    def test_a_backend_stopped_with_idle_connections_loses_no_unary_call(self):
        # Both backends hold a connection of the proxy's, idle, when one stops: calls that
        # would have gone to it are retried on the other (retries are on by default), none
        # UNAVAILABLE, whether the proxy has heard of the close yet or not.
        unary = method(self.channel, "unary_unary", "Unary")
        for i in range(4):
            unary(b"warm%d" % i, timeout=10 * harness.SLOWDOWN)
        self.assertEqual([b.calls for b in self.backends], [2, 2])
        self.backends[1].stop()
        answers = [unary(b"after%d" % i, timeout=10 * harness.SLOWDOWN) for i in range(10)]
        self.assertEqual([a.split(b":")[0] for a in answers], [b"a"] * 10)
        self.assertEqual(self.backends[1].calls, 2)

# A GrpcBackend in a process of its own, so that it can be killed: it prints its port.
KILLABLE = """
import sys, time
sys.path.insert(0, %r)
from test_grpc import GrpcBackend
backend = GrpcBackend(sys.argv[1])
print(backend.port, flush=True)
time.sleep(3600)
""" % harness.HERE


class GrpcBackendKilled(harness.ProxyTestCase):
    def test_unary_calls_that_had_not_reached_a_killed_backend_are_retried(self):
        a = GrpcBackend("a")
        self.addCleanup(a.stop)
        b = subprocess.Popen([sys.executable, "-c", KILLABLE, "b"], stdout=subprocess.PIPE)
        self.addCleanup(b.stdout.close)
        self.addCleanup(harness.stop_process, b, signal.SIGKILL)
        port = int(b.stdout.readline())
        pool = self.pool(a.address, "127.0.0.1:%d" % port, protocol="h2")
        self.start_proxy(self.config({"grpc": pool}, listener={"h2c": True}))
        channel = grpc.insecure_channel("127.0.0.1:%d" % self.proxy_port)
        self.addCleanup(channel.close)
        unary = method(channel, "unary_unary", "Unary")
        warm = [unary(b"w%d" % i, timeout=10 * harness.SLOWDOWN) for i in range(4)]
        self.assertEqual(sorted(w.split(b":")[0] for w in warm), [b"a", b"a", b"b", b"b"])
        b.kill()  # no GOAWAY: the kernel closes its connections
        b.wait(10)
        answers = [unary(b"after%d" % i, timeout=10 * harness.SLOWDOWN) for i in range(10)]
        self.assertEqual([x.split(b":")[0] for x in answers], [b"a"] * 10)
        self.assertEqual(a.calls, 12)

class GrpcWithoutBackend(harness.ProxyTestCase):
    def test_a_call_with_no_backend_to_take_it_is_unavailable(self):
        pool = self.pool("127.0.0.1:%d" % harness.free_port(), protocol="h2")
        self.start_proxy(self.config({"grpc": pool}, listener={"h2c": True}))
        with grpc.insecure_channel("127.0.0.1:%d" % self.proxy_port) as channel:
            with self.assertRaises(grpc.RpcError) as caught:
                method(channel, "unary_unary", "Unary")(b"x", timeout=10 * harness.SLOWDOWN)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.UNAVAILABLE)
        self.assertIn("upstream connect failed", caught.exception.details())


if __name__ == "__main__":
    harness.main()
