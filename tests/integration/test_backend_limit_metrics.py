#!/usr/bin/env python3
"""The proxy's HTTP/2 codec limits on backend connections (`protocol: h2` pools), counted in
outrigger_backend_limit_hits_total{pool, limit} as the client-side ones are in
outrigger_http2_limit_hits_total (issue 15: "each counted in /metrics"), and a response head
over the limits answered as what it is."""

import harness
import metrics_util
from h2c_backend import H2cBackend, pattern

FAMILY = "outrigger_backend_limit_hits_total"


class BackendLimitMetrics(harness.ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.backend = H2cBackend("a")
        self.addCleanup(self.backend.stop)
        pool = self.pool(self.backend.address, protocol="h2")
        self.proxy = self.start_proxy(self.config({"h2": pool}))

    def hits(self):
        samples, types = metrics_util.scrape(self.proxy)
        self.assertEqual(types[FAMILY], "counter")
        return {dict(labels)["limit"]: v for (name, labels), v in samples.items()
                if name == FAMILY and dict(labels)["pool"] == "h2"}

    def test_a_response_head_over_the_limits_is_a_502_that_says_so_and_is_counted(self):
        before = self.hits()
        self.assertNotIn("malformed_requests", before)  # a server's limit only
        self.assertEqual(before.get("headers_too_large"), 0)
        for _ in range(2):
            r = self.proxy.get("/headers?n=500", timeout=20)  # 50 KB of fields
            self.assertEqual(r.status, 502)
            self.assertIn(b"upstream response head too large", r.body)
        moved = {}

        def counted():
            moved.update({k: v - before[k] for k, v in self.hits().items()})
            return moved.get("headers_too_large") == 2
        harness.wait_until(counted, 5 * harness.SLOWDOWN, what="two headers_too_large hits")
        self.assertEqual({k: v for k, v in moved.items() if v}, {"headers_too_large": 2})
        # The connection was not at fault: it serves on.
        r = self.proxy.get("/blob?n=5")
        self.assertEqual((r.status, r.body), (200, pattern(5)))

    def test_a_continuation_flood_ends_the_connection_and_is_counted(self):
        before = self.hits()
        r = self.proxy.get("/headers?n=2000", timeout=20)  # 200 KB: over 8 CONTINUATIONs
        self.assertEqual(r.status, 502)
        moved = {}

        def counted():
            moved.update({k: v - before[k] for k, v in self.hits().items()})
            return moved.get("continuation_floods") == 1
        harness.wait_until(counted, 5 * harness.SLOWDOWN, what="a continuation_floods hit")
        self.assertEqual({k: v for k, v in moved.items() if v}, {"continuation_floods": 1})
        r = self.proxy.get("/blob?n=3")  # on a new connection
        self.assertEqual((r.status, r.body), (200, pattern(3)))

    def test_no_hits_for_well_behaved_traffic(self):
        for n in range(3):
            r = self.proxy.get("/blob?n=%d" % n)
            self.assertEqual((r.status, r.body), (200, pattern(n)))
        self.assertEqual({k: v for k, v in self.hits().items() if v}, {})


if __name__ == "__main__":
    harness.main()
