#!/usr/bin/env python3
# ctest label: threads (reloads and DNS changes under calls)
"""gRPC through a `protocol: h2` pool while the world changes under it: reloads that keep,
re-point, re-protocol and remove the pool with server-streaming and bidi calls open on one
grpcio channel; DNS records that change under open streams; a backend stopped mid-stream
again and again under unary load from four threads; grpc-timeout values at the edges and a
deadline that passes while the call waits for a stream slot; metadata near the 32 KiB header
list limit both ways and Trailers-Only errors with a huge grpc-message; an HTTP/1.1 client
sending a gRPC-looking request; 100 calls on one channel, half of them cancelled.

Each test asserts the client got the right answer or a clean gRPC status, that no call ran
twice on a backend (ids counted per backend), that cancels reached the backend, and that the
proxy's in-flight and pending gauges return to zero (a sanitizer report in the proxy's log
fails any test, harness._stop_and_check)."""

import queue
import random
import threading
import time
from concurrent import futures

import grpc
import hyperframe.frame as hf

import dns_server
import harness
import metrics_util
from h2_client import RawH2, exchange, request_headers
from h2c_backend import H2cBackend

SERVICE = "test.Change"
GAUGES = ("outrigger_backend_inflight_requests", "outrigger_pool_pending_requests",
          "outrigger_pool_inflight_requests")
BIG = [("grpc.max_metadata_size", 256 * 1024), ("grpc.max_send_message_length", -1),
       ("grpc.max_receive_message_length", -1)]


class Backend:
    """A grpcio server (generic handlers, raw bytes) on `host`:`port` (0: any free port).

    Unary answers NAME:request after `delay` seconds and records the request in `seen`;
    Ticks streams NAME then "tick" every 20 ms until the call ends; Bidi answers NAME, then
    each message upper-cased; Wait holds the call for int(request) ms unless cancelled
    first (then counted in `cancels`, also seen through context.add_callback); Meta echoes
    the request's x-m-* metadata as its initial ("head"), trailing ("trail") or both
    ("both") metadata; Fail ends the call
    Trailers-Only with INTERNAL and a grpc-message of int(request) bytes; FailLate streams
    "first", then ends the same way in trailers; Sink (client streaming)
    answers how many messages it read; Stall streams NAME, then nothing until the call ends
    (a cancel counted in `cancels`)."""

    def __init__(self, name, host="127.0.0.1", port=0, delay=0.0):
        self.name = name
        self.delay = delay
        self.lock = threading.Lock()
        self.seen = []
        self.cancels = 0
        self.callbacks = 0
        self.waits = 0
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=128), options=BIG)
        self.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, {
            "Unary": grpc.unary_unary_rpc_method_handler(self.unary),
            "Ticks": grpc.unary_stream_rpc_method_handler(self.ticks),
            "Bidi": grpc.stream_stream_rpc_method_handler(self.bidi),
            "Wait": grpc.unary_unary_rpc_method_handler(self.wait),
            "Meta": grpc.unary_unary_rpc_method_handler(self.meta),
            "Fail": grpc.unary_unary_rpc_method_handler(self.fail),
            "FailLate": grpc.unary_stream_rpc_method_handler(self.fail_late),
            "Sink": grpc.stream_unary_rpc_method_handler(self.sink),
            "Stall": grpc.unary_stream_rpc_method_handler(self.stall),
        }),))
        self.port = self.server.add_insecure_port("%s:%d" % (host, port))
        if self.port == 0:
            raise AssertionError("cannot bind %s:%d" % (host, port))
        self.server.start()
        self.address = "%s:%d" % (host, self.port)

    def stop(self, grace=0):
        self.server.stop(grace).wait(5)

    def ids(self):
        with self.lock:
            return list(self.seen)

    def unary(self, request, context):
        with self.lock:
            self.seen.append(request)
        if self.delay:
            time.sleep(self.delay)
        return self.name.encode() + b":" + request

    def ticks(self, request, context):
        yield self.name.encode()
        end = time.monotonic() + 60
        while context.is_active() and time.monotonic() < end:
            time.sleep(0.02)
            yield b"tick"

    def bidi(self, requests, context):
        yield self.name.encode()
        for r in requests:
            yield r.upper()

    def _on_callback(self):
        with self.lock:
            self.callbacks += 1

    def wait(self, request, context):
        context.add_callback(self._on_callback)
        with self.lock:
            self.waits += 1
        end = time.monotonic() + int(request) / 1000
        while context.is_active() and time.monotonic() < end:
            time.sleep(0.005)
        if time.monotonic() < end:
            with self.lock:
                self.cancels += 1
        return b"waited"

    def meta(self, request, context):
        mine = [(k, v) for k, v in context.invocation_metadata() if k.startswith("x-m-")]
        if request in (b"head", b"both"):
            context.send_initial_metadata(mine)
        if request in (b"trail", b"both"):
            context.set_trailing_metadata(mine)
        return b"meta"

    def fail(self, request, context):
        context.abort(grpc.StatusCode.INTERNAL, "m" * int(request))

    def stall(self, request, context):
        yield self.name.encode()
        end = time.monotonic() + 60
        while context.is_active() and time.monotonic() < end:
            time.sleep(0.005)
        if time.monotonic() < end:
            with self.lock:
                self.cancels += 1

    def sink(self, requests, context):
        return b"%d" % sum(1 for _ in requests)

    def fail_late(self, request, context):
        yield b"first"
        context.abort(grpc.StatusCode.INTERNAL, "m" * int(request))


def frame(payload):
    return b"\x00" + len(payload).to_bytes(4, "big") + payload


class UnaryLoad:
    """Unary calls (payloads "K-I") from `threads` threads until stop(): `results` maps each
    call's payload to its answer, or to its status code when it failed, and `errors` lists
    the failures' (code, details)."""

    def __init__(self, case, threads):
        self.results, self.errors = {}, []
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(case, k))
                         for k in range(threads)]
        case.addCleanup(self.stop)
        for t in self._threads:
            t.start()

    def _run(self, case, k):
        for i in range(100000):
            if self._stop.is_set():
                return
            cid = b"%d-%d" % (k, i)
            try:
                got = case.unary(cid)
            except grpc.RpcError as e:
                got = e.code()
                with self.lock:
                    self.errors.append((e.code(), e.details()))
            with self.lock:
                self.results[cid] = got

    def answered(self):
        with self.lock:
            return sum(isinstance(got, bytes) for got in self.results.values())

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(20 * harness.SLOWDOWN)


class ChangeCase(harness.ProxyTestCase):
    def backends(self, *names, **kw):
        out = [Backend(n, **kw) for n in names]
        for b in out:
            self.addCleanup(b.stop)
        return out

    def grpc_config(self, pools, routes=None):
        """Config text on the ports of the running proxy (if any)."""
        ports = getattr(self, "_ports", None)
        text = self.config(pools, routes, listener={"h2c": True})
        if ports is None:
            self._ports = (self.proxy_port, self.admin_port)
            return text
        text = text.replace(":%d\n" % self.proxy_port, ":%d\n" % ports[0])
        text = text.replace(":%d\n" % self.admin_port, ":%d\n" % ports[1])
        self.proxy_port, self.admin_port = ports
        return text

    def start(self, pools, routes=None):
        self.proxy = self.start_proxy(self.grpc_config(pools, routes))
        self.channel = grpc.insecure_channel("127.0.0.1:%d" % self.proxy_port, options=BIG)
        self.addCleanup(self.channel.close)
        return self.proxy

    def reload(self, pools, routes=None, count=1):
        self.proxy.reload(self.grpc_config(pools, routes))
        self.proxy.wait_log(r"reloaded ", count=count)

    def call(self, kind, name):
        return getattr(self.channel, kind)("/%s/%s" % (SERVICE, name))

    def unary(self, payload, timeout=10):
        return self.call("unary_unary", "Unary")(payload, timeout=timeout * harness.SLOWDOWN)

    def gauges(self):
        samples, _ = metrics_util.scrape(self.proxy)
        return {n: v for (n, _), v in samples.items() if n in GAUGES and v != 0}

    def assert_gauges_settle(self):
        harness.wait_until(lambda: not self.gauges(), 10, what="in-flight gauges back to zero")

    def open_ticks(self, want):
        """Ticks streams until one runs on each backend named in `want`: {name: stream}."""
        streams, extra = {}, []
        ticks = self.call("unary_stream", "Ticks")
        for _ in range(4 * len(want)):
            s = ticks(b"", timeout=60 * harness.SLOWDOWN)
            name = next(s).decode()
            if name in want and name not in streams:
                streams[name] = s
            else:
                extra.append(s)
            if len(streams) == len(want):
                break
        for s in extra:
            s.cancel()
        self.assertEqual(sorted(streams), sorted(want))
        return streams

    def open_bidi(self):
        """A bidi call fed from a queue: (send(msg) -> answer, close(), backend name)."""
        q = queue.Queue()

        def gen():
            while True:
                item = q.get()
                if item is None:
                    return
                yield item
        call = self.call("stream_stream", "Bidi")(gen(), timeout=60 * harness.SLOWDOWN)
        self.addCleanup(q.put, None)
        self.addCleanup(call.cancel)
        name = next(call).decode()

        def send(msg):
            q.put(msg)
            return next(call)
        return send, call, q, name

    def assert_ticks_flow(self, stream, n=3):
        for _ in range(n):
            self.assertEqual(next(stream), b"tick")


class ReloadUnderStreams(ChangeCase):
    def setUp(self):
        super().setUp()
        self.a, self.b = self.backends("a", "b")

    def pools(self, *backends, protocol="h2", **extra):
        return {"grpc": self.pool(*[b.address for b in backends], protocol=protocol, **extra)}

    def test_a_reload_keeping_the_pool_leaves_server_and_bidi_streams_untouched(self):
        self.start(self.pools(self.a, self.b))
        streams = self.open_ticks(["a", "b"])
        send, call, q, _ = self.open_bidi()
        self.assertEqual(send(b"one"), b"ONE")
        other = self.pools(self.a, self.b)
        other["spare"] = self.pool(self.a.address, protocol="h2")
        routes = [{"path_prefix": "/spare.", "pool": "spare"}, {"path_prefix": "/", "pool": "grpc"}]
        self.reload(other, routes)
        for s in streams.values():
            self.assert_ticks_flow(s)
        self.assertEqual(send(b"two"), b"TWO")
        self.assertEqual(sorted(self.unary(b"u%d" % i).split(b":")[0] for i in range(4)),
                         [b"a", b"a", b"b", b"b"])
        q.put(None)
        self.assertEqual(list(call), [])
        for s in streams.values():
            s.cancel()
        self.assert_gauges_settle()

    def test_a_reload_replacing_the_backends_lets_old_streams_run_and_sends_new_calls_to_new_ones(self):
        self.start(self.pools(self.a, self.b))
        streams = self.open_ticks(["a", "b"])
        send, call, q, _ = self.open_bidi()
        c, d = self.backends("c", "d")
        self.reload(self.pools(c, d))
        for s in streams.values():
            self.assert_ticks_flow(s)
        self.assertEqual(send(b"old"), b"OLD")  # on a or b still
        names = sorted(self.unary(b"n%d" % i).split(b":")[0] for i in range(6))
        self.assertEqual(names, [b"c"] * 3 + [b"d"] * 3)
        send2, call2, q2, new = self.open_bidi()
        self.assertIn(new, ("c", "d"))
        self.assertEqual(send2(b"new"), b"NEW")
        # The old backends go away: their streams end UNAVAILABLE, the new ones serve on.
        self.a.stop()
        self.b.stop()
        for s in streams.values():
            with self.assertRaises(grpc.RpcError) as caught:
                for _ in range(10000):
                    next(s)
            self.assertEqual(caught.exception.code(), grpc.StatusCode.UNAVAILABLE)
        with self.assertRaises(grpc.RpcError) as caught:
            send(b"gone")
        self.assertEqual(caught.exception.code(), grpc.StatusCode.UNAVAILABLE)
        self.assertEqual(send2(b"still"), b"STILL")
        q2.put(None)
        self.assertEqual(list(call2), [])
        self.assert_gauges_settle()

    def test_switching_the_pool_to_http1_fails_calls_cleanly_and_back_to_h2_serves_again(self):
        self.start(self.pools(self.a, self.b))
        streams = self.open_ticks(["a", "b"])
        send, call, q, _ = self.open_bidi()
        self.reload(self.pools(self.a, self.b, protocol="http1"))
        # Streams opened on the h2 pool run on; new calls cannot be carried over HTTP/1.
        for s in streams.values():
            self.assert_ticks_flow(s)
        self.assertEqual(send(b"x"), b"X")
        for i in range(4):
            started = time.monotonic()
            with self.assertRaises(grpc.RpcError) as caught:
                self.unary(b"h1-%d" % i)
            self.assertEqual(caught.exception.code(), grpc.StatusCode.UNAVAILABLE,
                             caught.exception.details())
            self.assertLess(time.monotonic() - started, 5 * harness.SLOWDOWN)
        self.assertEqual(self.a.ids() + self.b.ids(), [])
        self.reload(self.pools(self.a, self.b), count=2)
        self.assertEqual(sorted(self.unary(b"h2-%d" % i).split(b":")[0] for i in range(4)),
                         [b"a", b"a", b"b", b"b"])
        for s in streams.values():
            self.assert_ticks_flow(s)
            s.cancel()
        q.put(None)
        self.assertEqual(list(call), [])
        self.assert_gauges_settle()

    def test_a_reload_removing_the_pool_lets_open_streams_run_and_new_calls_are_unimplemented(self):
        self.start(self.pools(self.a, self.b))
        streams = self.open_ticks(["a", "b"])
        send, call, q, _ = self.open_bidi()
        c, = self.backends("c")
        self.reload({"web": self.pool(c.address, protocol="h2")},
                    [{"path_prefix": "/web/", "pool": "web"}])
        for s in streams.values():
            self.assert_ticks_flow(s)
        self.assertEqual(send(b"x"), b"X")
        with self.assertRaises(grpc.RpcError) as caught:
            self.unary(b"nowhere")
        self.assertEqual(caught.exception.code(), grpc.StatusCode.UNIMPLEMENTED)
        for s in streams.values():
            s.cancel()
        q.put(None)
        self.assertEqual(list(call), [])
        self.assert_gauges_settle()
        self.assertEqual(self.a.ids() + self.b.ids() + c.ids(), [])


    def test_reloads_swapping_every_backend_under_unary_load_fail_no_call(self):
        # Each reload replaces the pool's whole backend set. The old backends drain and the new
        # ones take the calls; at no moment is the pool without a backend, so no call gets
        # the proxy's 503 "no backend available" (UNAVAILABLE).
        c, d = self.backends("c", "d")
        self.start(self.pools(self.a, self.b))
        load = UnaryLoad(self, 6)
        sets = [(c, d), (self.a, self.b)]
        for i in range(12):
            self.reload(self.pools(*sets[i % 2]), count=i + 1)
            n = load.answered()
            harness.wait_until(lambda: load.answered() >= n + 6, 10, what="calls after the reload")
        load.stop()
        self.assertEqual((len(load.errors), load.errors[:2]), (0, []),
                         "of %d calls" % len(load.results))
        ids = self.a.ids() + self.b.ids() + c.ids() + d.ids()
        self.assertEqual(len(ids), len(set(ids)), "a call ran twice")
        self.assert_gauges_settle()


GRPC_HEADERS = [("content-type", "application/grpc"), ("te", "trailers")]


def grpc_status(answer):
    """The grpc-status of a raw HTTP/2 answer: from its trailers, else its Trailers-Only head."""
    for k, v in answer.trailers or answer.headers:
        if k == "grpc-status":
            return v
    return None


class Deadlines(ChangeCase):
    def raw_call(self, timeout_value, path="/%s/Unary" % SERVICE, payload=b"x"):
        extra = GRPC_HEADERS + ([("grpc-timeout", timeout_value)] if timeout_value else [])
        [answer] = exchange(self.proxy_port, False, [("POST", path, extra, frame(payload), None)],
                            timeout=15)
        return answer

    def test_grpc_timeout_values_at_the_edges_and_malformed_ones_are_served_cleanly(self):
        a, = self.backends("a")
        self.start({"grpc": self.pool(a.address, protocol="h2")})
        # The largest values the format allows (99999999H saturates), and malformed ones
        # (ignored by the proxy, which gives the call no deadline of its own; grpcio logs
        # them): answered. (`0m` and `1n` race the client's body: see the tests below.)
        cases = [("99999999H", "0"), ("99999999n", "0"), ("99999999S", "0"),
                 ("5x", "0"), ("-1S", "0"), ("123456789S", "0"), ("S", "0"), ("1", "0"),
                 ("1.5S", "0"), (" 1S", "0"), ("00000001S", "0"), ("¹S", "0")]
        got = {}
        for value, _ in cases:
            answer = self.raw_call(value, payload=value.encode())
            got[value] = (answer.status, grpc_status(answer))
        self.assertEqual(got, {v: (200, s) for v, s in cases})
        self.assertEqual(self.unary(b"after"), b"a:after")
        self.assert_gauges_settle()

    def pending_setup(self):
        """One backend taking one stream on one connection (max_connections 1), held by a
        slow request; a call then waits for the slot (up to timeouts.connect, set long)."""
        backend = H2cBackend("a", max_streams=1)
        self.addCleanup(backend.stop)
        self.start({"grpc": self.pool(backend.address, protocol="h2",
                                      circuit_breaker={"max_connections": 1},
                                      timeouts={"connect": "%ds" % (20 * harness.SLOWDOWN)})})
        hold_ms = int(1500 * harness.SLOWDOWN)
        result = {}

        def blocker():
            [result["r"]] = exchange(self.proxy_port, False,
                                     [("GET", "/slow?ms=%d" % hold_ms, [], None, None)],
                                     timeout=30)
        t = threading.Thread(target=blocker)
        t.start()
        self.addCleanup(t.join, 30 * harness.SLOWDOWN)
        harness.wait_until(lambda: backend.paths(), 5, what="the slow request at the backend")
        return backend, t, result

    def test_a_deadline_passing_while_the_call_waits_for_a_stream_slot_is_exceeded_unsent(self):
        # A raw client keeps no deadline of its own (as a proxy in front may not): the
        # proxy's is all there is. The call must end DEADLINE_EXCEEDED at its 300 ms, and
        # never go to the backend once the slot frees, its deadline long past.
        backend, t, result = self.pending_setup()
        started = time.monotonic()
        answer = self.raw_call("300m", path="/pending/call")
        elapsed = time.monotonic() - started
        t.join(30 * harness.SLOWDOWN)
        self.assertEqual(result["r"].status, 200)
        self.assert_gauges_settle()
        self.assertEqual((answer.status, grpc_status(answer), "/pending/call" in backend.paths(),
                          elapsed < 1.0 * harness.SLOWDOWN),
                         (200, "4", False, True), "answered after %.2fs" % elapsed)

    def test_a_grpcio_call_whose_deadline_passes_while_pending_never_reaches_the_backend(self):
        # grpcio resets its stream at its deadline: the pending call is dropped unsent.
        backend, t, result = self.pending_setup()
        with self.assertRaises(grpc.RpcError) as caught:
            self.channel.unary_unary("/pending/grpcio")(b"x", timeout=0.3)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
        t.join(30 * harness.SLOWDOWN)
        self.assertEqual(result["r"].status, 200)
        self.assert_gauges_settle()
        self.assertNotIn("/pending/grpcio", backend.paths())

    def raw_open(self, path, timeout_value, body, end=False):
        """A gRPC call on a raw connection, its stream left open after `body` unless `end`."""
        c = RawH2(self.proxy_port)
        self.addCleanup(c.close)
        c.preface()
        c.send(c.headers(1, request_headers("a.test", path, "POST",
                                            extra=GRPC_HEADERS + [("grpc-timeout", timeout_value)])))
        c.send(c.data(1, body, end_stream=end))
        return c

    def ending(self, c):
        """Reads until stream 1 ends; its fields (head and trailers merged) and frame kinds."""
        started = time.monotonic()
        c.read_until(lambda c: any("END_STREAM" in f.flags or isinstance(f, hf.RstStreamFrame)
                                   for f in c.stream_frames(1)), 10)
        fields = {}
        for f in c.stream_frames(1, hf.HeadersFrame):
            fields.update(dict(f.fields))
        return fields, [type(f).__name__ for f in c.stream_frames(1)], time.monotonic() - started

    def test_a_read_timeout_mid_stream_ends_the_call_deadline_exceeded_not_unavailable(self):
        # A server-streaming call whose backend goes silent after its first message: the
        # proxy's read timeout ends it. README: the proxy's timeout is DEADLINE_EXCEEDED (4);
        # UNAVAILABLE (14, "backend lost") tells the client to retry a call the backend has
        # been running all along. (With a grpc-timeout instead, the same path answers 14 in
        # most runs, racing the backend's own trailers, which say 4.)
        a, = self.backends("a")
        self.start({"grpc": self.pool(a.address, protocol="h2",
                                      timeouts={"read": "%dms" % (300 * harness.SLOWDOWN)})})
        stream = self.call("unary_stream", "Stall")(b"", timeout=30 * harness.SLOWDOWN)
        self.assertEqual(next(stream), b"a")
        started = time.monotonic()
        with self.assertRaises(grpc.RpcError) as caught:
            next(stream)
        self.assertLess(time.monotonic() - started, 3 * harness.SLOWDOWN)
        harness.wait_until(lambda: a.cancels == 1, 5, what="the backend's stream cancelled")
        self.assertEqual((caught.exception.code(), caught.exception.details()),
                         (grpc.StatusCode.DEADLINE_EXCEEDED, caught.exception.details()))
        self.assert_gauges_settle()

    def test_a_deadline_passing_while_the_client_still_streams_is_deadline_exceeded(self):
        # A client-streaming call whose client is still sending when its grpc-timeout
        # passes: DEADLINE_EXCEEDED (4), as the backend would say, not the UNKNOWN (2) of an
        # HTTP 408 "client stalled".
        a, = self.backends("a")
        self.start({"grpc": self.pool(a.address, protocol="h2")})
        c = self.raw_open("/%s/Sink" % SERVICE, "%dm" % (300 * harness.SLOWDOWN), frame(b"part"))
        fields, kinds, elapsed = self.ending(c)
        self.assertEqual(fields.get("grpc-status"), "4", (fields, kinds))
        self.assertLess(elapsed, 3 * harness.SLOWDOWN)
        self.assert_gauges_settle()


class Metadata(ChangeCase):
    def setUp(self):
        super().setUp()
        self.a, = self.backends("a")
        self.start({"grpc": self.pool(self.a.address, protocol="h2")})

    def meta(self, md, where):
        call = self.call("unary_unary", "Meta")
        answer, info = call.with_call(where, metadata=md, timeout=10 * harness.SLOWDOWN)
        self.assertEqual(answer, b"meta")
        return ([m for m in info.initial_metadata() if m[0].startswith("x-m-")],
                [m for m in info.trailing_metadata() if m[0].startswith("x-m-")])

    # 80 fields of 300 bytes: 80 * (6 + 300 + 32) = 27040 bytes of the 32 KiB header list.
    NEAR = [("x-m-%02d" % i, chr(ord("a") + i % 26) * 300) for i in range(80)]

    def test_request_and_initial_metadata_near_the_32k_header_list_limit_pass(self):
        self.assertEqual(self.meta(self.NEAR, b"head"), (self.NEAR, []))

    def test_trailing_metadata_near_the_32k_limit_reaches_the_client_with_status_ok(self):
        # The backend's trailers are within the 32 KiB the proxy's codec takes for a head or
        # trailer section; the call succeeded at the backend and must not turn into a retryable
        # UNAVAILABLE at the client.
        self.assertEqual(self.meta(self.NEAR, b"trail"), ([], self.NEAR))

    def test_a_5k_trailer_field_like_grpc_status_details_bin_reaches_the_client(self):
        # Rich error details (grpc-status-details-bin) are often a few KiB in one field.
        md = [("x-m-details", "d" * 5000)]
        self.assertEqual(self.meta(md, b"trail"), ([], md))

    def test_a_5k_grpc_message_in_trailers_after_a_message_reaches_the_client(self):
        stream = self.call("unary_stream", "FailLate")(b"5000", timeout=10 * harness.SLOWDOWN)
        self.assertEqual(next(stream), b"first")
        with self.assertRaises(grpc.RpcError) as caught:
            next(stream)
        self.assertEqual((caught.exception.code(), caught.exception.details()),
                         (grpc.StatusCode.INTERNAL, "m" * 5000))

    def test_ninety_two_request_fields_within_the_listeners_100_reach_the_backend(self):
        # 4 pseudo-fields + content-type + te + 92 = 98 fields: the listener takes up to 100,
        # and the call must not fail for the fields the proxy adds on its way to the backend.
        md = [("x-m-%02d" % i, "v%d" % i) for i in range(92)]
        [answer] = exchange(self.proxy_port, False,
                            [("POST", "/%s/Unary" % SERVICE, GRPC_HEADERS + md, frame(b"f"), None)])
        self.assertEqual((answer.status, grpc_status(answer), answer.body),
                         (200, "0", frame(b"a:f")))

    def test_ninety_one_request_fields_reach_the_backend(self):
        md = [("x-m-%02d" % i, "v%d" % i) for i in range(91)]
        [answer] = exchange(self.proxy_port, False,
                            [("POST", "/%s/Unary" % SERVICE, GRPC_HEADERS + md, frame(b"f"), None)])
        self.assertEqual((answer.status, grpc_status(answer), answer.body),
                         (200, "0", frame(b"a:f")))

    def test_a_trailers_only_error_with_a_20k_grpc_message_reaches_the_client_whole(self):
        with self.assertRaises(grpc.RpcError) as caught:
            self.call("unary_unary", "Fail")(b"20000", timeout=10 * harness.SLOWDOWN)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.INTERNAL)
        self.assertEqual(caught.exception.details(), "m" * 20000)

    def test_a_trailers_only_error_over_the_32k_limit_is_a_clean_unavailable(self):
        with self.assertRaises(grpc.RpcError) as caught:
            self.call("unary_unary", "Fail")(b"40000", timeout=10 * harness.SLOWDOWN)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.UNAVAILABLE)
        self.assertEqual(self.unary(b"after"), b"a:after")
        self.assert_gauges_settle()


class Http1ClientGrpcLooking(ChangeCase):
    def test_an_http11_grpc_looking_post_is_answered_with_its_trailers(self):
        a, = self.backends("a")
        self.start({"grpc": self.pool(a.address, protocol="h2")})
        sock, rfile = self.open_raw(self.proxy)
        body = frame(b"h1")
        sock.sendall(b"POST /%s/Unary HTTP/1.1\r\nHost: x\r\nContent-Type: application/grpc\r\n"
                     b"TE: trailers\r\nContent-Length: %d\r\n\r\n" % (SERVICE.encode(), len(body))
                     + body)
        line = rfile.readline()
        self.assertEqual(line, b"HTTP/1.1 200 OK\r\n")
        head = []
        while True:
            h = rfile.readline()
            if h in (b"\r\n", b""):
                break
            head.append(h.decode().strip().lower())
        self.assertIn("transfer-encoding: chunked", head)
        chunks = b""
        while True:
            size = int(rfile.readline().split(b";")[0], 16)
            if size == 0:
                break
            chunks += rfile.read(size)
            rfile.readline()
        trailers = []
        while True:
            h = rfile.readline()
            if h in (b"\r\n", b""):
                break
            trailers.append(h.decode().strip().lower())
        self.assertEqual(chunks, frame(b"a:h1"))
        self.assertIn("grpc-status: 0", trailers)
        self.assertEqual(a.ids(), [b"h1"])


class DnsUnderStreams(ChangeCase):
    NAME = "grpc.change.test"
    IPS = ["127.0.0.2", "127.0.0.3"]

    def test_records_changing_under_open_streams_drain_the_dropped_backend(self):
        first = Backend("r2", host=self.IPS[0])
        second = Backend("r3", host=self.IPS[1], port=first.port)
        for b in (first, second):
            self.addCleanup(b.stop)
        dns = dns_server.Dnsmasq(self.tmp, {self.NAME: self.IPS})
        self.addCleanup(dns.stop)
        pool = {"protocol": "h2", "balance": "round_robin",
                "backends": [{"dns": "%s:%d" % (self.NAME, first.port), "resolve_every": "1s"}]}
        self.proxy = self.start_proxy(self.config({"grpc": pool}, listener={"h2c": True},
                                                  top={"resolver": "127.0.0.1:%d" % dns.port}))
        self.channel = grpc.insecure_channel("127.0.0.1:%d" % self.proxy_port, options=BIG)
        self.addCleanup(self.channel.close)
        harness.wait_until(lambda: self.backend_ips() == self.IPS, 10, what="both records")
        streams = self.open_ticks(["r2", "r3"])
        # Unary calls run from 4 threads while the records change twice.
        load = UnaryLoad(self, 4)
        dns.reload({self.NAME: self.IPS[:1]}, self.NAME)
        harness.wait_until(lambda: self.backend_ips() == self.IPS[:1], 10, what="r3 dropped")
        # The dropped backend drains: its open stream flows on; new calls go to r2 only.
        self.assert_ticks_flow(streams["r3"])
        seen_r3 = len(second.ids())
        self.assertEqual({self.unary(b"only%d" % i).split(b":")[0] for i in range(6)}, {b"r2"})
        dns.reload({self.NAME: self.IPS[1:]}, self.NAME)
        harness.wait_until(lambda: self.backend_ips() == self.IPS[1:], 10, what="r2 dropped")
        self.assert_ticks_flow(streams["r2"])
        harness.wait_until(lambda: len(second.ids()) > seen_r3 + 4, 10, what="calls back on r3")
        load.stop()
        # A swap of the whole set sheds no call: the old backends are marked draining only once
        # the worker took the new snapshot (as in test_reloads_swapping_every_backend_...).
        self.assertEqual(load.errors, [])
        ids = first.ids() + second.ids()
        self.assertEqual(len(ids), len(set(ids)), "a call ran twice")
        self.assert_ticks_flow(streams["r3"])
        for s in streams.values():
            s.cancel()
        self.assert_gauges_settle()

    def backend_ips(self):
        got = self.proxy.admin("/status").json()["pools"]["grpc"]["backends"]
        return sorted(b["backend"].rsplit("/", 1)[-1].rsplit(":", 1)[0] for b in got)


class BackendStoppedMidStream(ChangeCase):
    def test_five_stops_under_four_threads_run_no_call_twice_and_end_streams_unavailable(self):
        a, = self.backends("a", delay=0.01)
        port = harness.free_port()
        b = Backend("b", port=port, delay=0.01)
        olds = [b]
        self.addCleanup(lambda: olds[-1].stop())
        pool = self.pool(a.address, b.address, protocol="h2",
                         circuit_breaker={"consecutive_failures": 1000})
        self.start({"grpc": pool})
        load = UnaryLoad(self, 4)
        stream_codes = []
        for _ in range(5):
            stream = self.open_ticks(["b"])["b"]
            before = len(b.ids())
            harness.wait_until(lambda: len(b.ids()) >= before + 10, 10, what="calls on b")
            b.stop(0)
            try:
                for _ in range(100000):
                    next(stream)
                stream_codes.append("ended")
            except grpc.RpcError as e:
                stream_codes.append(e.code())
            b = Backend("b", port=port, delay=0.01)
            olds.append(b)
        load.stop()
        results = load.results
        self.assertEqual(stream_codes, [grpc.StatusCode.UNAVAILABLE] * 5)
        per_backend = {"a": a.ids()}
        for n, old in enumerate(olds):
            per_backend["b%d" % n] = old.ids()
        seen = [i for ids in per_backend.values() for i in ids]
        twice = sorted({i for i in seen if seen.count(i) > 1})
        self.assertEqual(twice, [], "calls run on two backends")
        ok = {cid: got for cid, got in results.items() if isinstance(got, bytes)}
        failed = {cid: got for cid, got in results.items() if not isinstance(got, bytes)}
        # UNAVAILABLE from the proxy (backend lost); grpcio's stop(0) ends a call it is
        # running with a status of its own (CANCELLED) now and then, which the proxy relays.
        self.assertEqual({got for got in failed.values()}
                         - {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED}, set())
        # Every answer came from a backend that ran it; calls that failed had reached b.
        self.assertEqual(sorted(cid for cid in ok if cid not in seen), [])
        self.assertEqual(sorted(cid for cid in failed if cid in per_backend["a"]), [])
        self.assertGreater(len(ok), 50)
        self.assertEqual(self.unary(b"end").split(b":")[0] in (b"a", b"b"), True)
        self.assert_gauges_settle()


class HundredCallsHalfCancelled(ChangeCase):
    def test_every_cancel_reaches_the_backend_and_the_rest_complete(self):
        backends = self.backends("a", "b")
        self.start({"grpc": self.pool(*[b.address for b in backends], protocol="h2")})
        wait = self.call("unary_unary", "Wait")
        hold_ms = int(1500 * harness.SLOWDOWN)
        calls = [wait.future(b"%d" % hold_ms, timeout=30 * harness.SLOWDOWN) for _ in range(100)]
        rng = random.Random(7)
        doomed = set(rng.sample(range(100), 50))
        moments = sorted((rng.uniform(0, 0.6 * hold_ms / 1000), i) for i in doomed)
        started = time.monotonic()
        for at, i in moments:
            time.sleep(max(0.0, started + at - time.monotonic()))
            self.assertTrue(calls[i].cancel(), "call %d had ended already" % i)
        for i, c in enumerate(calls):
            if i not in doomed:
                self.assertEqual(c.result(timeout=30 * harness.SLOWDOWN), b"waited")
        reached = sum(b.waits for b in backends)

        def settled():
            return (sum(b.callbacks for b in backends) == sum(b.waits for b in backends)
                    and sum(b.waits for b in backends) == reached)
        harness.wait_until(settled, 10, what="every call at the backends terminated")
        cancels = sum(b.cancels for b in backends)
        # Every cancelled call reached a backend and was cancelled there, or never reached
        # one; the 50 others ran to their end.
        self.assertEqual((reached - cancels, cancels + (100 - reached)), (50, 50))
        self.assert_gauges_settle()


if __name__ == "__main__":
    harness.main()
