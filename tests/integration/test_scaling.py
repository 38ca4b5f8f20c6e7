#!/usr/bin/env python3
"""The derived scaling signals under a known concurrency step: desired and recommended
backends follow the time-weighted concurrency, panic mode catches the burst within seconds,
and everything falls back once the stable window has passed. The windows are shortened with
scaling.stable_window / panic_window (10 s / 2 s) so the test takes well under a minute; the
maths is the same as with Knative's 60 s / 6 s."""

import time
import unittest

import harness
from metrics_util import Load, scrape, value

SCALING = {"target_inflight_per_backend": 1, "min_backends": 1, "max_backends": 10,
           "stable_window": "10s", "panic_window": "2s"}


class Scaling(harness.ProxyTestCase):
    def signals(self, proxy):
        return proxy.admin("/scaling").json()["pools"]["api"]

    def test_a_concurrency_step_panics_within_seconds_and_falls_back_after_the_window(self):
        backend = self.start_backend("a")
        proxy = self.start_proxy(self.config(
            pools={"api": self.pool(backend, scaling=SCALING)}, workers=2))

        # One client back to back: concurrency 1 = one backend at target 1.
        one = Load(proxy, 1, "/slow?ms=100").start()
        try:
            time.sleep(5)
            s = self.signals(proxy)
        finally:
            one.stop()
        self.assertFalse(s["panic"], s)
        self.assertAlmostEqual(s["desired_backends"], 1.0, delta=0.1 * harness.TOLERANCE)
        self.assertEqual(s["recommended_backends"], 1, s)
        self.assertEqual(s["ready_backends"], 1, s)

        # Step to 4: C̄2 reaches 2·R = 2 within about a second: panic, and desired follows the
        # panic window at once instead of the stable one.
        four = Load(proxy, 4, "/slow?ms=100").start()
        try:
            step = time.monotonic()
            harness.wait_until(lambda: self.signals(proxy)["panic"], 4, what="panic")
            panic_after = time.monotonic() - step
            harness.wait_until(lambda: self.signals(proxy)["recommended_backends"] == 4, 4,
                               what="recommended_backends 4")
            time.sleep(2)
            s = self.signals(proxy)
            samples, _ = scrape(proxy)
        finally:
            four.stop()
        self.assertLess(panic_after, 4 * harness.TOLERANCE)
        self.assertTrue(s["panic"], s)
        self.assertGreaterEqual(s["desired_backends"], 4.0 - 0.4 * harness.TOLERANCE)
        self.assertLessEqual(s["desired_backends"], 4.0 + 1e-9)
        self.assertEqual(s["recommended_backends"], 4, s)
        self.assertEqual(value(samples, "outrigger_pool_panic", pool="api"), 1)
        self.assertEqual(value(samples, "outrigger_pool_recommended_backends", pool="api"), 4)
        self.assertEqual(value(samples, "outrigger_pool_scaling_target", pool="api",
                               kind="inflight"), 1)

        # Idle: panic holds a stable window after the last burst second and never lowers
        # desired; then recommended (the max over the stable window) falls back to min.
        idle = time.monotonic()
        time.sleep(5)
        s = self.signals(proxy)
        self.assertTrue(s["panic"], s)
        self.assertEqual(s["recommended_backends"], 4, s)
        harness.wait_until(lambda: self.signals(proxy)["recommended_backends"] == 1, 30,
                           what="recommended_backends back to 1")
        fell_after = time.monotonic() - idle
        s = self.signals(proxy)
        self.assertFalse(s["panic"], s)
        self.assertLess(s["desired_backends"], 0.05)
        # Panic ends ~10 s after the burst's last second, recommended ~10 s after that.
        self.assertGreater(fell_after, 15)

    def test_rps_target_and_min_max_clamp(self):
        backend = self.start_backend("a")
        scaling = dict(SCALING)
        del scaling["target_inflight_per_backend"]
        scaling.update({"target_rps_per_backend": 1000, "min_backends": 2, "max_backends": 3})
        proxy = self.start_proxy(self.config(pools={"api": self.pool(backend, scaling=scaling)}))
        time.sleep(1.5)
        s = self.signals(proxy)
        self.assertEqual(s["recommended_backends"], 2, s)  # clamped up to min
        self.assertEqual(s["min"], 2)
        self.assertEqual(s["max"], 3)
        self.assertEqual(s["target_kind"], "rps")
        samples, _ = scrape(proxy)
        self.assertEqual(value(samples, "outrigger_pool_scaling_target", pool="api", kind="rps"),
                         1000)


if __name__ == "__main__":
    harness.main()
