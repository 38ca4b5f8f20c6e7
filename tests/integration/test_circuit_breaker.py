#!/usr/bin/env python3
"""Passive failure detection: consecutive failures open a backend's circuit, an open circuit
takes the backend out of rotation (503 with Retry-After when none is left), and after
open_for a half-open trial brings a recovered backend back."""

import collections
import unittest

import harness


class CircuitBreaker(harness.ProxyTestCase):
    BREAKER = {"consecutive_failures": 2, "open_for": "1s"}

    def test_opens_after_consecutive_failures_and_answers_503_with_retry_after(self):
        dead = "127.0.0.1:%d" % harness.free_port()  # nothing listens there
        proxy = self.start_proxy(self.config(
            pools={"api": self.pool(dead, circuit_breaker=self.BREAKER)}))
        statuses = [proxy.get("/").status for _ in range(2)]
        self.assertEqual(statuses, [502, 502])
        r = proxy.get("/")
        self.assertEqual(r.status, 503, r)
        self.assertEqual(r.header("Retry-After"), "1", r)
        self.assertIn("no backend available", r.text)
        self.assertIn("circuit opened", proxy.stderr())

    def test_a_dead_backend_stops_receiving_requests_once_its_circuit_opens(self):
        live = self.start_backend("live")
        dead = "127.0.0.1:%d" % harness.free_port()
        proxy = self.start_proxy(self.config(
            pools={"api": self.pool(live, dead, circuit_breaker=self.BREAKER,
                                    retries={"attempts": 0})}))
        statuses = collections.Counter(proxy.get("/").status for _ in range(40))
        # Round robin sends every second request to the dead backend until two of them failed.
        self.assertEqual(statuses[502], 2, statuses)
        self.assertEqual(statuses[200], 38, statuses)

    def test_with_retries_the_client_never_sees_the_dead_backend(self):
        live = self.start_backend("live")
        dead = "127.0.0.1:%d" % harness.free_port()
        proxy = self.start_proxy(self.config(
            pools={"api": self.pool(live, dead, circuit_breaker=self.BREAKER)}))
        statuses = collections.Counter(proxy.get("/").status for _ in range(40))
        self.assertEqual(statuses, collections.Counter({200: 40}))
        # The refused attempts still count against the dead backend: its circuit opened.
        self.assertIn("circuit opened", proxy.stderr())
        self.assertEqual(live.stats()["by_path"].get("/"), 40)

    def test_a_recovered_backend_comes_back_through_a_half_open_trial(self):
        port = harness.free_port()
        proxy = self.start_proxy(self.config(
            pools={"api": self.pool("127.0.0.1:%d" % port, circuit_breaker=self.BREAKER)}))
        self.assertEqual([proxy.get("/").status for _ in range(3)], [502, 502, 503])
        self.start_backend("back", port=port)
        # Within open_for plus the control thread's 100 ms tick, the trial goes through.
        harness.wait_until(lambda: proxy.get("/").status == 200, timeout=5.0,
                           what="the backend to be taken back after open_for")
        self.assertEqual([proxy.get("/").status for _ in range(5)], [200] * 5)
        self.assertIn("circuit closed", proxy.stderr())

    def test_a_failed_trial_opens_the_circuit_again(self):
        dead = "127.0.0.1:%d" % harness.free_port()
        proxy = self.start_proxy(self.config(
            pools={"api": self.pool(dead, circuit_breaker=self.BREAKER)}))
        self.assertEqual([proxy.get("/").status for _ in range(3)], [502, 502, 503])
        # After open_for one trial is let through; it fails (502), and the circuit opens
        # again at once instead of waiting for two more failures.
        harness.wait_until(lambda: proxy.get("/").status == 502, timeout=5.0,
                           what="the half-open trial")
        self.assertEqual(proxy.get("/").status, 503)


if __name__ == "__main__":
    harness.main()
