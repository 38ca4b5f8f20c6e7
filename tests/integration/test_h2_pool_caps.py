#!/usr/bin/env python3
"""circuit_breaker.max_connections on a `protocol: h2` pool caps connections, not streams: a
request that can go as a stream on a connection the worker holds already takes no connection
slot, so concurrent requests share the one connection the cap allows, even with no queue for
a connection (max_pending: 0)."""

import threading

import harness
from h2c_backend import H2cBackend

CONCURRENT = 20


class H2CapsCase(harness.ProxyTestCase):
    """A one-backend h2 pool with `breaker` as its circuit_breaker."""
    breaker = {"max_connections": 1}
    max_streams = None

    def setUp(self):
        super().setUp()
        self.backend = H2cBackend("a", max_streams=self.max_streams)
        self.addCleanup(self.backend.stop)
        pool = self.pool(self.backend.address, protocol="h2", circuit_breaker=self.breaker,
                         timeouts={"connect": "2s", "read": "%ds" % (5 * harness.SLOWDOWN)})
        self.proxy = self.start_proxy(self.config({"h2": pool}))

    def share_the_one_connection(self, expected_requests):
        # The backend answers none until all are open on one connection: each 200 proves the
        # requests were streams there at once, none waiting for a connection slot.
        statuses = [None] * CONCURRENT

        def one(i):
            try:
                r = self.proxy.get("/blob?n=7&hold=%d" % CONCURRENT, timeout=15)
                statuses[i] = r.status
            except OSError as e:
                statuses[i] = repr(e)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(CONCURRENT)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30 * harness.SLOWDOWN)
        self.assertEqual(statuses, [200] * CONCURRENT)
        self.assertEqual(self.backend.connections, 1)
        self.assertEqual(self.backend.requests, expected_requests)


class H2PoolMaxConnections(H2CapsCase):
    def test_concurrent_requests_share_the_one_connection(self):
        self.share_the_one_connection(CONCURRENT)


class H2PoolNoPending(H2CapsCase):
    """With max_pending 0 nothing may wait for a connection slot, but a request that can be a
    stream on the held connection needs none: the balancer must not count the backend as over
    its caps for it."""
    breaker = {"max_connections": 1, "max_pending": 0}

    def test_concurrent_requests_share_the_one_connection(self):
        # The connection exists (and holds the only slot) before the concurrent requests come.
        self.assertEqual(self.proxy.get("/blob?n=3", timeout=10).status, 200)
        self.share_the_one_connection(CONCURRENT + 1)


class H2PoolNoPendingNoStream(H2CapsCase):
    """At the backend's stream limit the held connection takes no stream: a request would need
    a second connection, over max_connections, and with max_pending 0 it may not wait."""
    breaker = {"max_connections": 1, "max_pending": 0}
    max_streams = 1

    def test_a_request_needing_a_second_connection_is_shed(self):
        hung = []
        t = threading.Thread(target=lambda: hung.append(self.proxy.get("/hang", timeout=30)),
                             daemon=True)
        t.start()
        harness.wait_until(lambda: "/hang" in self.backend.paths(), 10, what="/hang at backend")
        r = self.proxy.get("/blob?n=3", timeout=10)
        self.assertEqual(r.status, 503)
        self.assertEqual(self.backend.connections, 1)
        t.join(30 * harness.SLOWDOWN)
        self.assertEqual([h.status for h in hung], [504])


if __name__ == "__main__":
    harness.main()
