#!/usr/bin/env python3
"""Http2Session where users hit it by accident (issue 15): streams whose Exchange is at a
backend when the client resets them, sends GOAWAY or closes the connection; the proxy's
own answers on a stream (404, 413 mid-upload, 503); body-less answers; the h2c preface
written badly; drain and reload with streams open; many short connections at once.

Each test checks the answers a client gets and that the proxy settles: its in-flight gauges
return to zero and a new client is still served. Run under ASan, the harness fails a test
whose proxy printed a sanitizer report."""

import json
import os
import signal
import socket
import ssl
import threading
import time
import unittest
import zlib

import hyperframe.frame as hf

import harness
import metrics_util
from h2_client import (CANCEL, NO_ERROR, PREFACE, H2TestCase, RawH2, Server, connect,
                       exchange, get, request_headers)
from test_plugin_redis import REDIS_SERVER, Redis

GAUGES = ("outrigger_backend_inflight_requests", "outrigger_pool_pending_requests",
          "outrigger_pool_inflight_requests")


class StreamCase(H2TestCase):
    def setUp(self):
        super().setUp()
        self.backend = self.start_h2_backend()

    def start(self, tls=False, **kw):
        self.server = self.start_h2(tls, self.backend, **kw)
        return self.server

    def client(self, **kw):
        c = RawH2(self.server.port, self.server.tls, **kw)
        self.addCleanup(c.close)
        return c

    def hdrs(self, path, method="GET", extra=()):
        return request_headers("a.test", path, method, self.server.tls, extra)

    def gauges(self):
        samples, _ = metrics_util.scrape(self.server.proxy)
        return {n: v for (n, _), v in samples.items() if n in GAUGES and v != 0}

    def assert_settles(self, timeout=15):
        """Every in-flight gauge back to zero, and a new client served."""
        harness.wait_until(lambda: not self.gauges(), timeout,
                           what="in-flight gauges back to zero")
        a = get(self.server.port, self.server.tls, "/", timeout=10)
        self.assertEqual(a.status, 200)
        self.assertTrue(a.body.startswith(b"hello from "), a.body)

    def ended(self, c, sid):
        """The stream's answer has ended (END_STREAM) or it was reset."""
        for f in c.stream_frames(sid):
            if isinstance(f, hf.RstStreamFrame) or "END_STREAM" in getattr(f, "flags", ()):
                return True
        return False

    def body_of(self, c, sid):
        return b"".join(f.data for f in c.stream_frames(sid, hf.DataFrame))


class Http2SessionAttacks(StreamCase):
    # --- a stream whose Exchange is at a backend ---------------------------------------------

    def test_cancel_mid_download_and_mid_upload(self):
        self.start()
        self.cancel_mid_download_and_mid_upload()

    def test_cancel_mid_download_and_mid_upload_over_tls(self):
        self.start(tls=True)
        self.cancel_mid_download_and_mid_upload()

    def cancel_mid_download_and_mid_upload(self):
        c = self.client()
        c.preface({hf.SettingsFrame.INITIAL_WINDOW_SIZE: 1 << 20})
        c.send(c.window_update(0, 1 << 30))  # the connection's window is not a setting
        # 1: a large download, reset once its first DATA came. 3: an upload cut mid-body.
        c.send(c.headers(1, self.hdrs("/blob/d?n=%d" % (8 << 20)), end_stream=True)
               + c.headers(3, self.hdrs("/digest?cut=1", "POST",
                                        [("content-length", "100000")]))
               + c.data(3, b"x" * 16000))
        self.assertTrue(c.read_until(lambda c: c.stream_frames(1, hf.DataFrame), 10))
        c.send(c.rst(1, CANCEL) + c.rst(3, CANCEL))
        # The connection lives on: a stream after the resets is served.
        c.send(c.headers(5, self.hdrs("/"), end_stream=True))
        self.assertTrue(c.read_until(lambda c: self.ended(c, 5), 10))
        self.assertEqual(c.status_of(5), 200)
        self.assertEqual(self.body_of(c, 5), b"hello from api\n")
        self.assert_settles()
        done = [t for _, t, _ in self.backend.stats()["complete"] if "cut=1" in t]
        self.assertEqual(done, [], "an upload the client reset completed at the backend")

    def test_client_goaway_lets_open_streams_finish(self):
        self.start()
        c = self.client()
        c.preface({hf.SettingsFrame.INITIAL_WINDOW_SIZE: 1 << 20})
        c.send(c.window_update(0, 1 << 30))
        c.send(c.headers(1, self.hdrs("/slow?ms=300"), end_stream=True)
               + c.headers(3, self.hdrs("/blob/g?n=200000"), end_stream=True))
        g = hf.GoAwayFrame(0)
        g.last_stream_id = 0
        g.error_code = NO_ERROR
        c.send(g.serialize())
        self.assertTrue(c.read_until(lambda c: self.ended(c, 1) and self.ended(c, 3), 15))
        self.assertEqual((c.status_of(1), c.status_of(3)), (200, 200))
        self.assertEqual(len(self.body_of(c, 3)), 200000)
        self.assert_settles()

    def test_client_closes_with_many_streams_at_the_backend(self):
        self.start()
        for _ in range(3):
            c = self.client()
            c.preface()
            c.send(b"".join(c.headers(sid, self.hdrs("/slow?ms=2000&s=%d" % sid),
                                      end_stream=True) for sid in range(1, 100, 2)))
            harness.wait_until(lambda: self.backend.stats()["slow_in_flight"] > 0, 10,
                               what="streams at the backend")
            c.sock.close()
        self.assert_settles(timeout=20)

    def test_zero_window_client_with_100_slow_streams(self):
        self.start()
        c = self.client(rcvbuf=4096)
        c.preface({hf.SettingsFrame.INITIAL_WINDOW_SIZE: 0})
        c.send(b"".join(c.headers(sid, self.hdrs("/blob/z%d?n=300000&ms=200" % sid),
                                  end_stream=True) for sid in range(1, 200, 2)))
        # Every stream's head comes though none of its body can.
        self.assertTrue(c.read_until(
            lambda c: len(c.frames_of(hf.HeadersFrame)) >= 100, 20), "heads did not come")
        self.assertEqual(c.frames_of(hf.DataFrame), [])
        c.sock.close()
        self.assert_settles(timeout=20)

    def test_backend_drops_mid_body_and_before_answering(self):
        self.start()
        answers = exchange(self.server.port, False, [
            ("GET", "/drop", (), None, None),
            ("GET", "/bytes?n=100000&mode=close", (), None, None),
            ("GET", "/status?code=503", (), None, None),
            ("GET", "/", (), None, None)])
        self.assertEqual(answers[0].status, 502)
        self.assertEqual((answers[1].status, len(answers[1].body)), (200, 100000))
        self.assertEqual(answers[2].status, 503)
        self.assertEqual(answers[3].body, b"hello from api\n")
        self.assert_settles()

    def test_backend_timeout_and_retried_5xx(self):
        other = self.start_h2_backend("b2")
        self.start(pool=self.pool(self.backend, other, **{
            "timeouts": {"connect": "2s", "read": "1s"},
            "retries": {"attempts": 2, "budget_percent": 100}}))
        self.backend.get("/control/fail?code=502")
        answers = exchange(self.server.port, False, [
            ("GET", "/slow?ms=4000", (), None, None)]
            + [("GET", "/?i=%d" % i, (), None, None) for i in range(6)], timeout=30)
        self.assertEqual(answers[0].status, 504)
        # Every 502 of the failing backend is retried on the other.
        self.assertEqual([(a.status, a.header("x-backend")) for a in answers[1:]],
                         [(200, "b2")] * 6)
        self.backend.get("/control/fail?code=0")
        self.assert_settles()

    def test_reload_removing_the_pool_with_streams_open(self):
        other = self.start_h2_backend("b2")
        self.server = self.start_h2(False, self.backend)
        proxy = self.server.proxy
        c = self.client()
        c.preface()
        c.send(b"".join(c.headers(sid, self.hdrs("/slow?ms=1500&s=%d" % sid), end_stream=True)
                        for sid in (1, 3, 5)))
        harness.wait_until(lambda: self.backend.stats()["slow_in_flight"] == 3, 10,
                           what="streams at the backend")
        # Pool `api` goes; `gone` (the other backend) takes its route.
        text = proxy.config_text.replace(self.backend.address, other.address)
        text = text.replace("pool: api", "pool: gone").replace("  api:", "  gone:")
        self.assertNotIn("api", text)
        proxy.reload(text)
        proxy.wait_log("reloaded", 10)
        c.send(c.headers(7, self.hdrs("/"), end_stream=True))
        self.assertTrue(c.read_until(lambda c: all(self.ended(c, s) for s in (1, 3, 5, 7)), 15))
        self.assertEqual([c.status_of(s) for s in (1, 3, 5, 7)], [200] * 4)
        self.assertEqual(self.body_of(c, 7), b"hello from b2\n")
        harness.wait_until(lambda: not self.gauges(), 15, what="in-flight gauges back to zero")

    def test_streams_waiting_for_a_slot_reset_or_shed(self):
        # One connection slot: one stream holds it, others wait on the Exchange's slot timer;
        # some are reset while waiting, the rest are shed (503) once the queue is full.
        self.start(pool=self.pool(self.backend, circuit_breaker={
            "consecutive_failures": 1000, "max_connections": 1, "max_pending": 10}))
        c = self.client()
        c.preface()
        c.send(c.headers(1, self.hdrs("/slow?ms=1500"), end_stream=True))
        harness.wait_until(lambda: self.backend.stats()["slow_in_flight"] == 1, 10,
                           what="the holder at the backend")
        c.send(b"".join(c.headers(sid, self.hdrs("/?w=%d" % sid), end_stream=True)
                        for sid in range(3, 43, 2)))
        self.assertTrue(c.read_until(
            lambda c: len([s for s in range(3, 43, 2) if c.status_of(s) == 503]) >= 10, 10))
        waiting = [s for s in range(3, 43, 2) if c.status_of(s) is None]
        self.assertEqual(len(waiting), 10, [c.status_of(s) for s in range(3, 43, 2)])
        c.send(b"".join(c.rst(s, CANCEL) for s in waiting[::2]))
        kept = waiting[1::2] + [1]
        self.assertTrue(c.read_until(lambda c: all(self.ended(c, s) for s in kept), 15))
        self.assertEqual([c.status_of(s) for s in kept], [200] * len(kept))
        self.assert_settles()

    def test_expect_100_continue_on_a_stream(self):
        self.start()
        c = self.client()
        c.preface()
        c.send(c.headers(1, self.hdrs("/digest", "POST", [("expect", "100-continue"),
                                                          ("content-length", "5")])))
        self.assertTrue(c.read_until(lambda c: c.status_of(1) is not None, 10))
        self.assertEqual(c.status_of(1), 100)
        c.send(c.data(1, b"hello", end_stream=True))
        self.assertTrue(c.read_until(lambda c: self.ended(c, 1), 10))
        heads = [int(dict(f.fields)[":status"]) for f in c.stream_frames(1, hf.HeadersFrame)]
        self.assertEqual(heads, [100, 200])
        self.assertEqual(json.loads(self.body_of(c, 1))["length"], 5)
        self.assert_settles()

    # --- answers the proxy makes on a stream ---------------------------------------------------

    def test_local_answers_404_413_503(self):
        port = harness.free_port()
        proxy = self.start_proxy(self.config(
            pools={"api": self.pool(self.backend), "none": self.pool("127.0.0.1:%d" % port)},
            routes=[{"path_prefix": "/digest", "pool": "api", "max_body": "1KiB"},
                    {"path_prefix": "/none", "pool": "none"},
                    {"path_prefix": "/a/", "pool": "api"}],
            listener={"h2c": True}))
        self.server = Server(proxy.port, False, proxy.port, proxy=proxy)
        c = self.client()
        c.preface()
        c.send(c.headers(1, self.hdrs("/nowhere"), end_stream=True)
               + c.headers(3, self.hdrs("/digest?big=1", "POST"))
               + c.data(3, b"y" * 4000)
               + c.headers(5, self.hdrs("/none"), end_stream=True)
               + c.headers(7, self.hdrs("/nowhere", "HEAD"), end_stream=True))
        self.assertTrue(c.read_until(
            lambda c: all(self.ended(c, s) for s in (1, 3, 5, 7)), 15))
        self.assertEqual([c.status_of(s) for s in (1, 3, 7)], [404, 413, 404])
        self.assertIn(c.status_of(5), (502, 503))
        self.assertEqual(self.body_of(c, 7), b"")
        # More DATA on the answered upload is dropped; the connection still serves.
        c.send(c.data(3, b"y" * 1000, end_stream=True)
               + c.headers(9, self.hdrs("/a/x"), end_stream=True))
        self.assertTrue(c.read_until(lambda c: self.ended(c, 9), 10))
        self.assertIsNone(c.goaway)
        done = [t for _, t, _ in self.backend.stats()["complete"] if "big=1" in t]
        self.assertEqual(done, [])

    def test_bodiless_answers(self):
        self.start()
        answers = exchange(self.server.port, False, [
            ("HEAD", "/bytes?n=5000", (), None, None),
            ("GET", "/status?code=204", (), None, None),
            ("GET", "/status?code=304", (), None, None),
            ("HEAD", "/trailers?n=100", (), None, None)])
        self.assertEqual([(a.status, a.body) for a in answers],
                         [(200, b""), (204, b""), (304, b""), (200, b"")])
        self.assert_settles()

    # --- h2c preface ---------------------------------------------------------------------------

    def test_preface_in_one_byte_writes(self):
        self.start()
        c = self.client()
        msg = PREFACE + c.settings() + c.headers(1, self.hdrs("/"), end_stream=True)
        for i in range(len(msg)):
            c.send(msg[i:i + 1])
        self.assertTrue(c.read_until(lambda c: self.ended(c, 1), 10))
        self.assertEqual(c.status_of(1), 200)

    def test_preface_then_garbage_is_cut(self):
        self.start()
        c = self.client()
        c.send(PREFACE + b"\x00\x00\x05\xff\x00garbage-garbage-garbage" * 10)
        self.assertTrue(c.wait_closed(10), "a garbage connection stayed open")
        self.assert_settles()

    def test_preface_cut_by_eof_closes(self):
        self.start()
        for cut in (3, len(PREFACE) - 1):
            s = socket.create_connection((harness.LOOPBACK, self.server.port), timeout=10)
            self.addCleanup(s.close)
            s.sendall(PREFACE[:cut])
            s.shutdown(socket.SHUT_WR)
            # The rest can never come: the proxy closes (within far less than its idle timeout).
            t0 = time.monotonic()
            harness.read_until_closed(s, timeout=5)
            self.assertLess(time.monotonic() - t0, 4 * harness.SLOWDOWN)
        self.assert_settles()

    def test_silent_after_part_of_the_preface_or_the_handshake(self):
        # h2c after half the preface, TLS (ALPN h2) after the handshake or half the preface:
        # the header timeout ends each.
        for tls in (False, True):
            self.start(tls=tls, listener={"timeouts": {"header": "1s", "idle": "60s"}})
            socks = []
            for cut in ((0, len(PREFACE) // 2) if tls else (len(PREFACE) // 2,)):
                s = connect(self.server.port, tls)
                self.addCleanup(s.close)
                if cut:
                    s.sendall(PREFACE[:cut])
                socks.append(s)
            t0 = time.monotonic()
            for s in socks:
                try:
                    harness.read_until_closed(s, timeout=10)
                except ssl.SSLError:  # TLS closed without close_notify: closed all the same
                    pass
            self.assertLess(time.monotonic() - t0, 8 * harness.SLOWDOWN)
            self.assert_settles()
            self.server.proxy.stop()

    def test_pings_without_a_request_do_not_extend_the_header_timeout(self):
        self.start(listener={"timeouts": {"header": "1s", "idle": "60s"}})
        c = self.client()
        c.preface()
        end = harness.deadline(10)
        while not c.closed and time.monotonic() < end:
            c.send(c.ping())
            c.read(0.3)
        self.assertTrue(c.closed, "PINGs kept a connection without a request open")
        self.assertIsNotNone(c.goaway)

    def test_http1_then_h2c_on_the_next_connection(self):
        self.start()
        r = harness.request(self.server.port, path="/", timeout=10)
        self.assertEqual(r.status, 200)
        self.assert_settles()

    def test_tls_client_stops_mid_handshake(self):
        self.start(tls=True, listener={"timeouts": {"header": "1s"}})
        s = socket.create_connection((harness.LOOPBACK, self.server.port), timeout=10)
        self.addCleanup(s.close)
        # A ClientHello's first bytes only.
        s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        harness.read_until_closed(s, timeout=5 * harness.SLOWDOWN)
        self.assert_settles()

    def test_many_short_connections_at_once(self):
        self.start()
        errors = []

        def one(i):
            try:
                c = RawH2(self.server.port, False)
                try:
                    c.preface()
                    c.send(c.headers(1, self.hdrs("/blob/s%d?n=1000" % i), end_stream=True)
                           + c.headers(3, self.hdrs("/slow?ms=50"), end_stream=True))
                    if i % 2:
                        c.read_until(lambda c: self.ended(c, 1), 10)
                finally:
                    c.close()
            except Exception as e:  # noqa: BLE001 - collected for the assertion
                errors.append(repr(e))
        for _ in range(3):
            threads = [threading.Thread(target=one, args=(i,)) for i in range(60)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30 * harness.SLOWDOWN)
        self.assertEqual(errors, [])
        self.assert_settles(timeout=20)

    # --- drain and reload -----------------------------------------------------------------------

    def test_sigterm_drain_lets_open_streams_finish(self):
        self.server = self.start_h2(False, self.backend)
        c = self.client()
        c.preface()
        c.send(c.headers(1, self.hdrs("/slow?ms=1000"), end_stream=True))
        harness.wait_until(lambda: self.backend.stats()["slow_in_flight"] > 0, 10,
                           what="stream at the backend")
        self.server.proxy.signal(signal.SIGTERM)
        self.assertTrue(c.read_until(lambda c: self.ended(c, 1), 15))
        self.assertEqual(c.status_of(1), 200)
        self.assertIsNotNone(c.goaway, "no GOAWAY on drain")
        self.assertEqual(c.goaway.error_code, NO_ERROR)
        self.assertTrue(c.wait_closed(10))
        self.assertEqual(self.server.proxy.wait(15), 0)

    def test_sigterm_drain_ends_with_a_zero_window_client_holding_streams(self):
        # Its streams can never finish: the drain timeout must end them, and the process.
        proxy = self.start_proxy(self.config(
            pools={"api": self.pool(self.backend)}, listener={"h2c": True},
            drain={"timeout": "2s"}))
        self.server = Server(proxy.port, False, proxy.port, proxy=proxy)
        c = self.client(rcvbuf=4096)
        c.preface({hf.SettingsFrame.INITIAL_WINDOW_SIZE: 0})
        c.send(b"".join(c.headers(sid, self.hdrs("/blob/t%d?n=1000000" % sid),
                                  end_stream=True) for sid in range(1, 40, 2)))
        self.assertTrue(c.read_until(
            lambda c: len(c.frames_of(hf.HeadersFrame)) >= 20, 15), "heads did not come")
        t0 = time.monotonic()
        proxy.signal(signal.SIGTERM)
        self.assertEqual(proxy.wait(20), 0)
        self.assertLess(time.monotonic() - t0, 10 * harness.SLOWDOWN)

    def test_sigterm_drain_times_out_with_streams_at_a_silent_backend(self):
        proxy = self.start_proxy(self.config(
            pools={"api": self.pool(self.backend, timeouts={"read": "60s"})},
            listener={"h2c": True}, drain={"timeout": "1s"}))
        self.server = Server(proxy.port, False, proxy.port, proxy=proxy)
        conns = []
        for _ in range(3):
            c = self.client()
            c.preface()
            c.send(b"".join(c.headers(sid, self.hdrs("/slow?ms=30000&s=%d" % sid, "POST",
                                                     [("content-length", "9")]))
                            + c.data(sid, b"x" * (4 if sid % 4 == 1 else 9),
                                     end_stream=sid % 4 != 1)
                            for sid in range(1, 20, 2)))
            conns.append(c)
        harness.wait_until(lambda: self.backend.stats()["slow_in_flight"] >= 15, 10,
                           what="streams at the backend")
        proxy.signal(signal.SIGTERM)
        self.assertEqual(proxy.wait(20), 0)
        for c in conns:
            self.assertTrue(c.wait_closed(5))

    def test_reload_removing_the_listener_with_streams_open(self):
        self.server = self.start_h2(False, self.backend)
        proxy = self.server.proxy
        c = self.client()
        c.preface()
        c.send(c.headers(1, self.hdrs("/slow?ms=1500"), end_stream=True))
        harness.wait_until(lambda: self.backend.stats()["slow_in_flight"] > 0, 10,
                           what="stream at the backend")
        text = proxy.config_text.replace("web:", "other:").replace(
            ":%d" % proxy.port, ":%d" % harness.free_port())
        proxy.reload(text)
        self.assertTrue(c.read_until(lambda c: self.ended(c, 1), 15))
        self.assertEqual(c.status_of(1), 200)
        self.assertTrue(c.wait_closed(10), "the removed listener's connection stayed open")
        self.assertEqual(self.server.proxy.admin("/health/live").status, 200)


    def test_reload_removing_the_later_of_two_listeners_with_a_stream_open(self):
        # The session's listener index then points past the new snapshot's listeners: a
        # stream that ends afterwards must not read the listener's timeouts through it.
        plain, admin = harness.free_port(), harness.free_port()
        h2c = harness.free_port()
        route = [{"path_prefix": "/", "pool": "api"}]
        cfg = {"workers": 1, "admin": {"listen": "127.0.0.1:%d" % admin},
               "drain": {"delay": "0s"},
               "listeners": {"a": {"listen": "127.0.0.1:%d" % plain, "routes": route},
                             "z": {"listen": "127.0.0.1:%d" % h2c, "h2c": True,
                                   "routes": route}},
               "pools": {"api": self.pool(self.backend)}}
        self.proxy_port, self.admin_port = h2c, admin
        proxy = self.start_proxy(harness.to_yaml(cfg) + "\n")
        self.server = Server(h2c, False, h2c, proxy=proxy)
        c = self.client()
        c.preface()
        c.send(c.headers(1, self.hdrs("/slow?ms=1500"), end_stream=True))
        harness.wait_until(lambda: self.backend.stats()["slow_in_flight"] > 0, 10,
                           what="stream at the backend")
        del cfg["listeners"]["z"]
        proxy.reload(harness.to_yaml(cfg) + "\n")
        # Once the reload is in, every frame the client sends is read under the new snapshot.
        harness.wait_until(lambda: c.read(0.05) is not None and c.goaway is not None, 10,
                           what="the drain's GOAWAY")
        c.send(c.ping() + c.ping(b"87654321"))
        self.assertTrue(c.read_until(lambda c: self.ended(c, 1), 15))
        self.assertEqual(c.status_of(1), 200)
        self.assertTrue(c.wait_closed(10), "the removed listener's connection stayed open")
        self.assertEqual(proxy.admin("/health/live").status, 200)
        self.assertEqual(harness.request(plain, path="/", timeout=10).status, 200)


@unittest.skipUnless(os.access(REDIS_SERVER, os.X_OK), "redis-server is not installed")
class PluginsOnStreams(StreamCase):
    """Streams whose Exchange waits on a plugin's store, or that a plugin answers."""

    def start_plugins(self, plugins):
        proxy = self.start_proxy(self.config(
            pools={"api": self.pool(self.backend)},
            routes=[{"path_prefix": "/headers", "pool": "api",
                     "plugins": [{"compress": {"encodings": ["gzip"], "min_size": 64}}]},
                    {"path_prefix": "/", "pool": "api", "plugins": plugins}],
            listener={"h2c": True}))
        self.server = Server(proxy.port, False, proxy.port, proxy=proxy)

    def test_streams_reset_or_abandoned_while_waiting_on_redis(self):
        redis = Redis(self.tmp)
        self.addCleanup(redis.stop)
        self.start_plugins([{"rate_limit": {"key": "client_ip", "rate": "1000/s",
                                            "burst": 1000, "store": redis.url,
                                            "store_timeout": "10s"}}])
        self.assertEqual(get(self.server.port, False, "/").status, 200)
        redis.pause()
        self.addCleanup(redis.resume)
        c = self.client()
        c.preface()
        c.send(b"".join(c.headers(sid, self.hdrs("/digest?w%d=1" % sid, "POST"))
                        + c.data(sid, b"z" * 100, end_stream=True)
                        for sid in range(1, 40, 2)))
        gone = self.client()  # its connection closes while its streams wait
        gone.preface()
        gone.send(b"".join(gone.headers(sid, self.hdrs("/digest?gone=1"), end_stream=True)
                           for sid in range(1, 20, 2)))
        time.sleep(0.3 * harness.SLOWDOWN)  # the questions are out to the stopped store
        c.send(b"".join(c.rst(sid, CANCEL) for sid in range(1, 40, 4)))
        gone.sock.close()
        time.sleep(0.1 * harness.SLOWDOWN)
        redis.resume()
        kept = range(3, 40, 4)
        self.assertTrue(c.read_until(lambda c: all(self.ended(c, s) for s in kept), 15))
        self.assertEqual([c.status_of(s) for s in kept], [200] * len(kept))
        self.assert_settles()
        done = [t for _, t, _ in self.backend.stats()["complete"]]
        self.assertEqual([t for t in done if "gone" in t], [])
        self.assertEqual(sorted(t for t in done if t.startswith("/digest?w")),
                         sorted("/digest?w%d=1" % s for s in kept))

    def test_rate_limit_429_and_compress_on_streams(self):
        self.start_plugins([{"rate_limit": {"key": "client_ip", "rate": "3/m"}}])
        answers = exchange(self.server.port, False, [
            ("GET", "/headers", [("accept-encoding", "gzip")], None, None),
            ("HEAD", "/headers", [("accept-encoding", "gzip")], None, None)]
            + [("GET", "/", (), None, None)] * 5)
        g = answers[0]
        self.assertEqual((g.status, g.header("content-encoding")), (200, "gzip"))
        self.assertEqual(json.loads(zlib.decompress(g.body, 31))["target"], "/headers")
        self.assertEqual((answers[1].status, answers[1].body), (200, b""))
        self.assertEqual(sorted(a.status for a in answers[2:]), [200] * 3 + [429] * 2)

if __name__ == "__main__":
    harness.main()
