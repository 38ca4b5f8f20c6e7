#!/usr/bin/env python3
"""circuit_breaker.max_connections on a `protocol: h2` pool caps connections, not streams: a
request that can go as a stream on a connection the worker holds already takes no connection
slot, so concurrent requests share the one connection the cap allows."""

import threading

import harness
from h2c_backend import H2cBackend

CONCURRENT = 20


class H2PoolMaxConnections(harness.ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.backend = H2cBackend("a")
        self.addCleanup(self.backend.stop)
        pool = self.pool(self.backend.address, protocol="h2",
                         circuit_breaker={"max_connections": 1},
                         timeouts={"connect": "2s", "read": "%ds" % (5 * harness.SLOWDOWN)})
        self.proxy = self.start_proxy(self.config({"h2": pool}))

    def test_concurrent_requests_share_the_one_connection(self):
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
        self.assertEqual(self.backend.requests, CONCURRENT)


if __name__ == "__main__":
    harness.main()
