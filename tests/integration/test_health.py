#!/usr/bin/env python3
"""Active health probes: a backend whose /health/ready fails gets no new requests within one
interval and comes back after `rise` passes; one whose /health/live fails is ejected; probes
carry Host and User-Agent: outrigger-health; a backend answering 503 to everything is taken
out by its circuit and comes back through a half-open trial once it heals."""

import collections
import time
import unittest

import harness

INTERVAL = 0.3  # seconds: the probes' interval in these tests (jitter is ±10%)


def probe(path, fall=1, rise=2):
    return {"path": path, "interval": "%dms" % (INTERVAL * 1000), "timeout": "1s",
            "fall": fall, "rise": rise}


class HealthProbes(harness.ProxyTestCase):
    def spread(self, proxy, n=30):
        """Sends n requests; returns Counter of the backend that answered each (or status)."""
        seen = collections.Counter()
        for _ in range(n):
            r = proxy.get("/")
            seen[r.header("X-Backend") if r.status == 200 else r.status] += 1
        return seen

    def test_an_unready_backend_gets_no_new_request_and_comes_back_after_rise(self):
        a, b = self.start_backend("a"), self.start_backend("b")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(
            a, b, health={"ready": probe("/health/ready", fall=1, rise=2)})}))
        # Each backend is ready after its first probe passes, within the first ~50 ms.
        harness.wait_until(lambda: len(self.spread(proxy, 4)) == 2, timeout=5,
                           what="both backends to be ready")
        self.assertEqual(self.spread(proxy, 10), collections.Counter({"a": 5, "b": 5}))

        a.get("/control/ready?on=0")
        # fall=1: the next probe, at most one interval (+10% jitter) later, takes it out; it
        # is out before the log line says so.
        harness.wait_until(
            lambda: "backend %s: ready probe /health/ready failed (status 503)" % a.address
            in proxy.stderr(), timeout=INTERVAL * 1.1 + 0.5, what="the failed ready probe")
        served_before = a.stats()["by_path"].get("/", 0)
        self.assertEqual(self.spread(proxy, 20), collections.Counter({"b": 20}))
        self.assertEqual(a.stats()["by_path"].get("/", 0), served_before)

        a.get("/control/ready?on=1")
        # rise=2: back after two passing probes, not after one.
        harness.wait_until(lambda: "a" in self.spread(proxy, 4), timeout=5,
                           what="the backend to be ready again")
        self.assertEqual(self.spread(proxy, 10), collections.Counter({"a": 5, "b": 5}))
        self.assertEqual(proxy.stderr().count("ready probe /health/ready failed"), 1,
                         "a state change is logged once, not every probe")

    def test_a_backend_failing_its_live_probe_is_ejected(self):
        a, b = self.start_backend("a"), self.start_backend("b")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(
            a, b, health={"live": probe("/health/live", fall=2, rise=1)})}))
        self.assertEqual(self.spread(proxy, 4), collections.Counter({"a": 2, "b": 2}))
        a.get("/control/live?on=0")
        harness.wait_until(lambda: "dead, ejected" in proxy.stderr(), timeout=5,
                           what="the live probe to eject the backend")
        self.assertEqual(self.spread(proxy, 20), collections.Counter({"b": 20}))
        a.get("/control/live?on=1")
        harness.wait_until(lambda: "a" in self.spread(proxy, 4), timeout=5,
                           what="the backend to be taken back")

    def test_a_new_backend_gets_no_traffic_before_its_first_ready_probe_passes(self):
        a = self.start_backend("a")
        a.get("/control/ready?on=0")
        text = self.config(pools={"api": self.pool(
            a, health={"ready": probe("/health/ready", fall=1, rise=1)})})
        proxy = self.start_proxy(text, wait_ready=False)

        def live():
            try:
                return proxy.admin("/health/live").status == 200
            except OSError:
                return False
        harness.wait_until(live, timeout=10, what="the proxy to start")
        time.sleep(INTERVAL)  # the first probe has failed by now
        self.assertEqual(proxy.get("/").status, 503)
        self.assertEqual(proxy.admin("/health/ready").status, 503,
                         "no pool has a ready backend, so the proxy is not ready either")
        self.assertEqual(a.stats()["by_path"].get("/", 0), 0)
        a.get("/control/ready?on=1")
        harness.wait_until(lambda: proxy.get("/").status == 200, timeout=5,
                           what="the backend to become ready")
        self.assertEqual(proxy.admin("/health/ready").status, 200)

    def test_probes_carry_host_and_user_agent(self):
        a = self.start_backend("a")
        health = {"live": probe("/health/live"),
                  "ready": dict(probe("/health/ready"), host="api.internal")}
        self.start_proxy(self.config(pools={"api": self.pool(a, health=health)}))
        harness.wait_until(lambda: a.stats()["probe_headers"].get("host") == "api.internal",
                           timeout=5, what="a ready probe with the configured Host")
        headers = a.stats()["probe_headers"]
        self.assertEqual(headers.get("user-agent"), "outrigger-health")
        harness.wait_until(lambda: a.stats()["probe_headers"].get("host") == a.address,
                           timeout=5, what="a live probe with the backend's address as Host")
        self.assertEqual(a.stats()["by_path"].get("/", 0), 0, "probes are not requests")

    def test_a_backend_answering_503_is_taken_out_and_comes_back_through_half_open(self):
        a, b = self.start_backend("a"), self.start_backend("b")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(
            a, b, circuit_breaker={"consecutive_failures": 3, "open_for": "1s"},
            retries={"attempts": 0})}))
        a.get("/control/fail?code=503")
        seen = self.spread(proxy, 20)
        # Round robin: every second request reaches a until three 503s opened its circuit.
        self.assertEqual(seen, collections.Counter({"b": 17, 503: 3}))
        self.assertIn("circuit opened", proxy.stderr())
        a.get("/control/fail?code=0")
        # Requests keep coming; after open_for one of them is a's half-open trial.
        harness.wait_until(lambda: self.spread(proxy, 2) and "circuit closed" in proxy.stderr(),
                           timeout=5, what="the half-open trial to close the circuit")
        self.assertEqual(self.spread(proxy, 10), collections.Counter({"a": 5, "b": 5}))


class BalancingPanic(harness.ProxyTestCase):
    def spread(self, proxy, n):
        return collections.Counter(proxy.get("/").header("X-Backend") for _ in range(n))

    def start(self, **pool_extra):
        backends = [self.start_backend(n) for n in ("a", "b", "c")]
        proxy = self.start_proxy(self.config(pools={"api": self.pool(
            *backends, health={"ready": probe("/health/ready", fall=1, rise=1)},
            **pool_extra)}))
        harness.wait_until(lambda: len(self.spread(proxy, 6)) == 3, timeout=5,
                           what="all three backends to be ready")
        backends[1].get("/control/ready?on=0")
        backends[2].get("/control/ready?on=0")
        return proxy

    def test_below_the_threshold_the_pool_spreads_over_every_backend(self):
        proxy = self.start()
        # One of three ready is under 50%: rather than crush a, use b and c too.
        harness.wait_until(lambda: "balancing over all of them" in proxy.stderr(), timeout=5,
                           what="panic mode")
        self.assertEqual(self.spread(proxy, 9), collections.Counter({"a": 3, "b": 3, "c": 3}))

    def test_a_zero_threshold_never_panics(self):
        proxy = self.start(panic_threshold=0)
        harness.wait_until(lambda: self.spread(proxy, 3) == collections.Counter({"a": 3}),
                           timeout=5, what="b and c to be unready")
        self.assertEqual(self.spread(proxy, 9), collections.Counter({"a": 9}))
        self.assertNotIn("balancing over all of them", proxy.stderr())


if __name__ == "__main__":
    harness.main()
