#!/usr/bin/env python3
"""Drain and reload with HTTP/2 streams open (issue 15): SIGTERM against open streams, a
zero-window client and a silent backend; reloads that remove the pool or the listener a
stream is on.

Each test checks the answers a client gets and that the proxy settles: its in-flight gauges
return to zero and a new client is still served. Run under ASan, the harness fails a test
whose proxy printed a sanitizer report."""

import signal
import time

import hyperframe.frame as hf

import harness
from h2_client import NO_ERROR, Server
from h2_stream_case import StreamCase


class Http2LifecycleAttacks(StreamCase):
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


if __name__ == "__main__":
    harness.main()
