"""A `protocol: h2` pool of scripted h2c backends (h2c_backend.py) behind one proxy: the setup,
request log and settling check that the h2 pool suites share."""

import harness
import metrics_util
from h2c_backend import H2cBackend, pattern

GAUGES = ("outrigger_backend_inflight_requests", "outrigger_pool_pending_requests",
          "outrigger_pool_inflight_requests")


class H2cPoolCase(harness.ProxyTestCase):
    def start(self, n=2, workers=1, read_timeout=None, listener=None, breaker=None, **kw):
        """A pool "h2" of `n` backends ("a", "b"; `kw` to H2cBackend), routed from "/"."""
        keys = set()
        self.backends = [H2cBackend(name, keys=keys, **kw) for name in "ab"[:n]]
        for b in self.backends:
            self.addCleanup(b.stop)
        extra = {"protocol": "h2"}
        if read_timeout:
            extra["timeouts"] = {"read": read_timeout}
        if breaker:
            extra["circuit_breaker"] = breaker
        pool = self.pool(*[b.address for b in self.backends], **extra)
        self.proxy = self.start_proxy(self.config({"h2": pool}, workers=workers,
                                                    listener=listener))
        return self.proxy

    def seen(self, path):
        """(method, path, ...) of each request for `path` the backends got, tries included."""
        return [(m, p, w) for b in self.backends for (m, p, w) in b.seen if p == path]

    def gauges(self):
        samples, _ = metrics_util.scrape(self.proxy)
        return {n: v for (n, _), v in samples.items() if n in GAUGES and v != 0}

    def assert_settles(self):
        """In-flight gauges back to zero, and a new request served."""
        harness.wait_until(lambda: not self.gauges(), 10 * harness.SLOWDOWN,
                           what="in-flight gauges back to zero")
        r = self.proxy.get("/blob?n=7")
        self.assertEqual((r.status, r.body), (200, pattern(7)))
