#!/usr/bin/env python3
"""The upstream connection pool: it forgets backends a reload or DNS change removed without
touching them again, and idle connections do not count against a backend's max_connections."""

import concurrent.futures
import threading
import time
import unittest

import harness
import metrics_util


def idle_connections(proxy, backend):
    samples, _ = metrics_util.scrape(proxy)
    return metrics_util.value(samples, "outrigger_backend_connections", backend=backend.address,
                              state="idle")


class RemovedBackend(harness.ProxyTestCase):
    """Run under ASan: a pool entry left for a freed backend is read once a second."""

    def two_pools(self, a, b, **old):
        return self.config(pools={"api": self.pool(a), "old": self.pool(b, **old)},
                           routes=[{"path_prefix": "/old", "pool": "old"},
                                   {"path_prefix": "/", "pool": "api"}])

    def replace_b_and_let_upkeep_run(self, proxy, a, b):
        # Pool `old` now names a: the Backend for b leaves the snapshot and is freed.
        self.assertIn(b.address, proxy.config_text)
        proxy.reload(proxy.config_text.replace(b.address, a.address))
        proxy.wait_log(r"reloaded ")
        # The pool's upkeep runs once a second; nothing shows it ran but time.
        time.sleep(2.5)
        for path in ("/", "/old"):
            self.assertEqual(proxy.get(path).header("X-Backend"), "a")

    def test_backend_whose_idle_connection_it_closed_is_removed(self):
        a = self.start_backend("a")
        b = self.start_backend("b", idle_timeout=0.2)
        proxy = self.start_proxy(self.two_pools(a, b))
        self.assertEqual(proxy.get("/old").header("X-Backend"), "b")
        # b closes the pooled connection; the pool forgets it and holds none to b.
        harness.wait_until(lambda: idle_connections(proxy, b) == 0, timeout=5,
                           what="b to close the idle pooled connection")
        self.replace_b_and_let_upkeep_run(proxy, a, b)

    def test_backend_with_keepalive_0_is_removed(self):
        a = self.start_backend("a")
        b = self.start_backend("b")
        proxy = self.start_proxy(self.two_pools(a, b, keepalive=0))
        for _ in range(2):
            self.assertEqual(proxy.get("/old").header("X-Backend"), "b")
        self.replace_b_and_let_upkeep_run(proxy, a, b)

    def test_backend_removed_while_it_has_idle_pooled_connections(self):
        a = self.start_backend("a")
        b = self.start_backend("b", idle_timeout=0.3)
        proxy = self.start_proxy(self.two_pools(a, b))
        self.assertEqual(proxy.get("/old").header("X-Backend"), "b")
        self.assertEqual(idle_connections(proxy, b), 1)
        # b closes the idle connection (0.3 s) or the upkeep does (draining), whichever
        # comes first; either way nothing may touch b's backend once it is gone.
        self.replace_b_and_let_upkeep_run(proxy, a, b)


class ConnectionCap(harness.ProxyTestCase):
    """circuit_breaker.max_connections caps the connections in use, from all workers."""

    def test_idle_connections_of_other_workers_do_not_refuse_requests(self):
        a = self.start_backend("a")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(
            a, circuit_breaker={"max_connections": 2, "max_pending": 0})}, workers=2))
        # A new client connection each time, so both workers take requests and each keeps
        # an idle connection to a: the backend is idle, and must take every request.
        statuses = [proxy.get("/").status for _ in range(16)]
        self.assertEqual(statuses, [200] * 16)

    def test_connections_in_use_stay_within_the_cap(self):
        a = self.start_backend("a")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(
            a, circuit_breaker={"max_connections": 2, "max_pending": 0})}, workers=2))
        for _ in range(8):  # idle connections in both workers' pools
            self.assertEqual(proxy.get("/").status, 200)
        slow_ms = int(4000 * harness.SLOWDOWN)
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            slow = [pool.submit(proxy.get, "/slow?ms=%d" % slow_ms, timeout=30) for _ in range(2)]
            harness.wait_until(lambda: a.stats()["slow_in_flight"] == 2, timeout=5,
                               what="two slow requests to hold both connections")
            # Both slots are taken, whatever the workers hold idle: nothing else is sent.
            for i in range(4):
                r = proxy.get("/")
                self.assertEqual(r.status, 503, "request %d with 2 of 2 connections in use: %r"
                                 % (i, r))
            self.assertEqual(a.stats()["slow_in_flight"], 2)
            self.assertEqual([f.result().status for f in slow], [200, 200])
        self.assertEqual(proxy.get("/").status, 200)


class AdaptiveKeepalive(harness.ProxyTestCase):
    """keepalive: auto (the default) keeps the idle connections recent traffic needed."""

    CLIENTS = 50

    def bursts(self, proxy, count, path):
        """`count` times: CLIENTS keep-alive clients send one request each, all at once."""
        conns = [proxy.connection(timeout=30) for _ in range(self.CLIENTS)]
        for c in conns:
            self.addCleanup(c.close)
        barrier = threading.Barrier(self.CLIENTS)

        def client(conn):
            statuses = []
            for _ in range(count):
                barrier.wait(timeout=30 * harness.SLOWDOWN)
                statuses.append(proxy.get(path, conn=conn).status)
            return statuses

        with concurrent.futures.ThreadPoolExecutor(self.CLIENTS) as pool:
            results = list(pool.map(client, conns))
        self.assertEqual(results, [[200] * count] * self.CLIENTS)

    def test_50_concurrent_clients_reuse_their_upstream_connections(self):
        a = self.start_backend("a")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a)}))
        self.assertNotIn("keepalive", proxy.config_text)
        before = a.stats()
        self.bursts(proxy, 6, "/slow?ms=%d" % int(500 * harness.SLOWDOWN))
        after = a.stats()
        opened = after["connections"] - before["connections"] - 1  # the /stats request's own
        # Never more than one per client: each burst finds the last one's connections idle.
        # (A fixed keepalive below 50 closes the surplus after each burst and reopens it.)
        self.assertLessEqual(opened, self.CLIENTS, "upstream connections opened")
        samples, _ = metrics_util.scrape(proxy)
        idle = metrics_util.value(samples, "outrigger_backend_connections", backend=a.address,
                                  state="idle")
        self.assertGreater(idle, 32, "idle connections kept after the bursts")

    def test_an_explicit_keepalive_is_a_hard_cap(self):
        a = self.start_backend("a")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a, keepalive=4)}))
        self.bursts(proxy, 2, "/slow?ms=%d" % int(300 * harness.SLOWDOWN))
        harness.wait_until(lambda: idle_connections(proxy, a) <= 4, timeout=5,
                           what="at most 4 idle connections")


if __name__ == "__main__":
    harness.main()
