#!/usr/bin/env python3
"""Round robin spreads requests over a pool's backends, in proportion to their weights."""

import collections
import unittest

import harness


class RoundRobin(harness.ProxyTestCase):
    def backend_names(self, proxy, n, keep_alive):
        conn = proxy.connection() if keep_alive else None
        try:
            names = []
            for _ in range(n):
                r = proxy.get("/", conn=conn)
                self.assertEqual(r.status, 200, r)
                names.append(r.header("X-Backend"))
            return names
        finally:
            if conn:
                conn.close()

    def test_alternates_between_two_backends_on_new_connections(self):
        a, b = self.start_backend("a"), self.start_backend("b")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a, b)}))
        names = self.backend_names(proxy, 10, keep_alive=False)
        self.assertEqual(collections.Counter(names), {"a": 5, "b": 5}, names)
        for first, second in zip(names, names[1:]):
            self.assertNotEqual(first, second, "round robin picked one backend twice in a row: %s" % names)

    def test_alternates_between_two_backends_on_one_client_connection(self):
        a, b = self.start_backend("a"), self.start_backend("b")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a, b)}))
        names = self.backend_names(proxy, 10, keep_alive=True)
        self.assertEqual(collections.Counter(names), {"a": 5, "b": 5}, names)

    def test_answers_carry_the_backends_body(self):
        a = self.start_backend("solo")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a)}))
        r = proxy.get("/")
        self.assertEqual((r.status, r.body), (200, b"hello from solo\n"))

    def test_honours_weights_three_to_one(self):
        a, b = self.start_backend("heavy"), self.start_backend("light")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a, b, weights=[3, 1])}))
        names = self.backend_names(proxy, 40, keep_alive=True)
        self.assertEqual(collections.Counter(names), {"heavy": 30, "light": 10}, names)
        # Smooth weighted round robin interleaves: never more than three "heavy" in a row.
        self.assertNotIn("heavy" * 4, "".join(names), names)

    def test_honours_weights_across_three_backends(self):
        bs = [self.start_backend(n) for n in ("w5", "w1a", "w1b")]
        proxy = self.start_proxy(self.config(pools={"api": self.pool(*bs, weights=[5, 1, 1])}))
        names = self.backend_names(proxy, 70, keep_alive=False)
        self.assertEqual(collections.Counter(names), {"w5": 50, "w1a": 10, "w1b": 10}, names)

    def test_spreads_over_both_backends_with_two_workers(self):
        a, b = self.start_backend("a"), self.start_backend("b")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a, b)}, workers=2))
        names = self.backend_names(proxy, 60, keep_alive=False)
        counts = collections.Counter(names)
        self.assertEqual(set(counts), {"a", "b"}, counts)
        for name in ("a", "b"):
            self.assertGreaterEqual(counts[name], 20, counts)

    def test_routes_by_path_prefix_to_different_pools(self):
        a, b = self.start_backend("api"), self.start_backend("static")
        proxy = self.start_proxy(self.config(
            pools={"api": self.pool(a), "static": self.pool(b)},
            routes=[{"path_prefix": "/static", "pool": "static"},
                    {"path_prefix": "/", "pool": "api"}]))
        self.assertEqual(proxy.get("/static/x").header("X-Backend"), "static")
        self.assertEqual(proxy.get("/").header("X-Backend"), "api")


if __name__ == "__main__":
    harness.main()
