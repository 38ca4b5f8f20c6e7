#!/usr/bin/env python3
"""SIGHUP under traffic that outlives the config it started on: a listener removed, moved or
renamed while one of its connections is busy. Every count lands on the listener the
connection came in on, in the metric layout it was made for (run under the ASan build, an
index from one layout used in another's shard is a heap overflow), and the per-listener
connection gauge comes back to 0."""

import re

import harness
import metrics_util

SLOW_MS = int(1500 * harness.SLOWDOWN)


def listener_yaml(name, port):
    return "  %s:\n    listen: 127.0.0.1:%d\n    routes:\n      - pool: api\n" % (name, port)


class ReloadSafety(harness.ProxyTestCase):
    def send_slow(self, proxy, port, backend, path=None):
        """Sends a slow GET on a new keep-alive connection; returns once the backend holds it."""
        sock = harness.raw_connect(port)
        self.addCleanup(sock.close)
        sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n"
                     % (path or "/slow?ms=%d" % SLOW_MS).encode())
        harness.wait_until(lambda: backend.stats()["slow_in_flight"] == 1, timeout=5,
                           what="the slow request to reach the backend")
        return sock, sock.makefile("rb")

    def wait_gauge(self, proxy, listener, want):
        def gauge():
            samples, _ = metrics_util.scrape(proxy)
            return metrics_util.value(samples, "outrigger_downstream_connections",
                                      listener=listener)
        try:
            harness.wait_until(lambda: gauge() == want, timeout=5)
        except AssertionError:
            self.fail("outrigger_downstream_connections{listener=%s} is %r, not %d"
                      % (listener, gauge(), want))

    def test_listeners_removed_under_busy_connections(self):
        # Six listeners go, each with a slow request in flight, and one comes before `web`.
        # Their connections close after the response in flight, in the new layout: one by
        # the old numbering would count against `web` there (index 1), or past the end of
        # its shard (indices 2 to 6).
        a = self.start_backend("a")
        text = self.config(pools={"api": self.pool(a)})
        extras = "".join(listener_yaml("extra%d" % i, harness.free_port()) for i in range(6))
        proxy = self.start_proxy(text.replace("pools:", extras + "pools:", 1))
        ports = [int(p) for p in re.findall(r"extra\d:\n    listen: 127.0.0.1:(\d+)",
                                            proxy.config_text)]
        self.assertEqual(len(ports), 6)
        clients = []
        for n, port in enumerate(ports):
            sock = harness.raw_connect(port)
            self.addCleanup(sock.close)
            sock.sendall(b"GET /slow?ms=%d HTTP/1.1\r\nHost: x\r\n\r\n" % SLOW_MS)
            clients.append((sock, sock.makefile("rb")))
            harness.wait_until(lambda: a.stats()["slow_in_flight"] == n + 1, timeout=5,
                               what="the slow requests to reach the backend")
        proxy.reload(text.replace("listeners:\n", "listeners:\n" + listener_yaml(
            "aaa", harness.free_port()), 1))
        proxy.wait_log(r"reloaded ")
        for sock, rfile in clients:
            r = harness.read_response(rfile)
            self.assertEqual((r.status, r.body), (200, b"slow from a\n"))
            # The listener is gone: its connection closes after the response in flight.
            self.assertEqual(rfile.read(), b"")
        self.assertEqual(proxy.get("/").status, 200)
        self.wait_gauge(proxy, "web", 0)
        self.wait_gauge(proxy, "aaa", 0)
        samples, _ = metrics_util.scrape(proxy)
        self.assertEqual(metrics_util.value(samples, "outrigger_downstream_requests_total",
                                            listener="web", code="2xx", protocol="http1"), 1)
        # (outrigger_downstream_limit_hits_total keeps a removed listener's series: 20.11.)
        self.assertFalse([k for k in samples if ("listener", "extra0") in k[1]
                          and k[0] != "outrigger_downstream_limit_hits_total"])

    def test_a_listener_shifted_down_under_an_in_flight_request(self):
        a = self.start_backend("a")
        text = self.config(pools={"api": self.pool(a)})
        proxy = self.start_proxy(text)
        sock, rfile = self.send_slow(proxy, proxy.port, a)
        # A listener named before `web`: `web` moves from index 0 to 1.
        first = text.replace("listeners:\n", "listeners:\n" + listener_yaml(
            "aaa", harness.free_port()), 1)
        self.assertLess(first.index("aaa:"), first.index("web:"))
        proxy.reload(first)
        proxy.wait_log(r"reloaded ")
        r = harness.read_response(rfile)
        self.assertEqual((r.status, r.body), (200, b"slow from a\n"))
        # The connection stays: a second request on it counts in the new layout.
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(harness.read_response(rfile).status, 200)
        samples, _ = metrics_util.scrape(proxy)
        self.assertEqual(metrics_util.value(samples, "outrigger_downstream_requests_total",
                                            listener="web", code="2xx", protocol="http1"), 2)
        self.assertEqual(metrics_util.value(samples, "outrigger_downstream_requests_total",
                                            listener="aaa", code="2xx", protocol="http1"), 0)
        self.assertEqual(metrics_util.value(samples, "outrigger_downstream_connections",
                                            listener="web"), 1)
        rfile.close()
        sock.close()
        self.wait_gauge(proxy, "web", 0)
        self.wait_gauge(proxy, "aaa", 0)

    def test_a_local_error_after_the_listener_shifted(self):
        # The 504 is SendLocalResponse's count, from the upstream read timer.
        a = self.start_backend("a")
        text = self.config(pools={"api": self.pool(a, timeouts={"read": "%dms" % SLOW_MS})})
        proxy = self.start_proxy(text)
        sock, rfile = self.send_slow(proxy, proxy.port, a, "/slow?ms=%d" % (4 * SLOW_MS))
        proxy.reload(text.replace("listeners:\n", "listeners:\n" + listener_yaml(
            "aaa", harness.free_port()), 1))
        proxy.wait_log(r"reloaded ")
        self.assertEqual(harness.read_response(rfile).status, 504)
        samples, _ = metrics_util.scrape(proxy)
        self.assertEqual(metrics_util.value(samples, "outrigger_downstream_requests_total",
                                            listener="web", code="5xx", protocol="http1"), 1)
        rfile.close()
        sock.close()
        self.wait_gauge(proxy, "web", 0)

    def test_a_listener_renamed_in_place_keeps_its_gauge_right(self):
        # Same address, new name: the socket and its connections carry over, and so must
        # their count, from the old series to the new one.
        a = self.start_backend("a")
        text = self.config(pools={"api": self.pool(a)})
        proxy = self.start_proxy(text)
        conn = proxy.connection()
        self.assertEqual(harness.request(proxy.port, conn=conn).status, 200)
        self.wait_gauge(proxy, "web", 1)
        proxy.reload(text.replace("  web:\n", "  front:\n", 1))
        proxy.wait_log(r"reloaded ")
        self.wait_gauge(proxy, "front", 1)
        self.assertEqual(harness.request(proxy.port, conn=conn).status, 200)
        conn.close()
        self.wait_gauge(proxy, "front", 0)


if __name__ == "__main__":
    harness.main()
