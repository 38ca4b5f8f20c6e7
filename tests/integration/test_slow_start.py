#!/usr/bin/env python3
"""slow_start: a backend that a SIGHUP reload adds starts with a small share of the traffic
and ramps up to its full weight over the slow_start window."""

import collections
import signal
import time
import unittest

import harness

# Seconds of slow_start: long enough that the early share is measured well inside it, also in
# a (slower) sanitizer build.
WINDOW = 4.0 * harness.SLOWDOWN


class SlowStart(harness.ProxyTestCase):
    def share_of(self, proxy, name, n=60):
        names = collections.Counter(proxy.get("/").header("X-Backend") for _ in range(n))
        return names[name] / n, names

    def test_a_backend_added_by_reload_ramps_up_over_slow_start(self):
        a, b = self.start_backend("a"), self.start_backend("b")
        extra = {"slow_start": "%ds" % WINDOW}
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a, **extra)}))
        self.assertEqual(self.share_of(proxy, "a")[0], 1.0)

        ports = (self.proxy_port, self.admin_port)
        text = self.config(pools={"api": self.pool(a, b, **extra)})  # picks fresh ports:
        for new, old in zip((self.proxy_port, self.admin_port), ports):  # a reload keeps them
            text = text.replace(":%d" % new, ":%d" % old)
        with open(proxy.config_path, "w") as f:
            f.write(text)
        proxy.signal(signal.SIGHUP)
        harness.wait_until(lambda: "reloaded" in proxy.stderr(), timeout=5.0, what="the reload")
        reloaded = time.monotonic()

        early, early_counts = self.share_of(proxy, "b")
        elapsed = time.monotonic() - reloaded
        # Round robin without a ramp would give b half; at this point of the window its
        # weight is at most elapsed/WINDOW of a's.
        self.assertLess(early, 0.30, "b got %s within %.1fs of joining" % (early_counts, elapsed))

        remaining = reloaded + WINDOW + 0.2 - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)
        late, late_counts = self.share_of(proxy, "b")
        self.assertAlmostEqual(late, 0.5, delta=0.05, msg="after the window: %s" % late_counts)

    def test_backends_present_at_start_up_get_their_full_weight_at_once(self):
        a, b = self.start_backend("a"), self.start_backend("b")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a, b, slow_start="30s")}))
        share, counts = self.share_of(proxy, "b")
        self.assertAlmostEqual(share, 0.5, delta=0.05, msg=str(counts))


if __name__ == "__main__":
    harness.main()
