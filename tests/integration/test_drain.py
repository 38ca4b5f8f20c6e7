#!/usr/bin/env python3
"""SIGTERM drains: no new connections, readiness 503 at once, in-flight requests finish, exit 0."""

import signal
import socket
import threading
import time
import unittest

import harness


class InFlight:
    """One request through the proxy on a thread, so the test can signal meanwhile."""

    def __init__(self, proxy, path):
        self.response = None
        self.error = None
        self.thread = threading.Thread(target=self._run, args=(proxy, path), daemon=True)
        self.thread.start()

    def _run(self, proxy, path):
        try:
            self.response = proxy.get(path, timeout=20)
        except Exception as e:  # reported by the test
            self.error = e

    def result(self, timeout):
        self.thread.join(timeout * harness.SLOWDOWN)
        if self.thread.is_alive():
            raise AssertionError("in-flight request still running after %.0fs" % timeout)
        if self.error:
            raise AssertionError("in-flight request failed: %r" % self.error)
        return self.response


class Drain(harness.ProxyTestCase):
    def start_with_slow_request(self, sig, drain_timeout="10s", ms=2000):
        self.backend = self.start_backend("a")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(self.backend)},
                                             drain={"timeout": drain_timeout}))
        flight = InFlight(proxy, "/slow?ms=%d" % ms)
        # Signal only once the backend holds the request.
        harness.wait_until(lambda: self.backend.stats()["slow_in_flight"] == 1, timeout=5,
                           what="the slow request to reach the backend")
        proxy.signal(sig)
        return proxy, flight

    def test_sigterm_lets_an_in_flight_request_finish_and_exits_0(self):
        proxy, flight = self.start_with_slow_request(signal.SIGTERM)
        r = flight.result(timeout=10)
        self.assertEqual((r.status, r.body), (200, b"slow from a\n"))
        self.assertEqual(proxy.wait(timeout=10), 0, "exit status after SIGTERM")

    def test_sigint_drains_like_sigterm(self):
        proxy, flight = self.start_with_slow_request(signal.SIGINT)
        self.assertEqual(flight.result(timeout=10).status, 200)
        self.assertEqual(proxy.wait(timeout=10), 0, "exit status after SIGINT")

    def test_readiness_turns_503_as_soon_as_draining_starts(self):
        proxy, flight = self.start_with_slow_request(signal.SIGTERM)
        start = time.monotonic()
        harness.wait_until(lambda: self.ready_status(proxy) == 503, timeout=1.0, interval=0.02,
                           what="/health/ready to answer 503 while draining")
        self.assertLess(time.monotonic() - start, 1.0 * harness.SLOWDOWN)
        self.assertEqual(flight.result(timeout=10).status, 200)
        self.assertEqual(proxy.wait(timeout=10), 0)

    def test_stops_accepting_new_connections_while_draining(self):
        proxy, flight = self.start_with_slow_request(signal.SIGTERM)

        def refused():
            try:
                s = socket.create_connection(("127.0.0.1", proxy.port), timeout=1)
            except ConnectionRefusedError:
                return True
            except ConnectionResetError:
                return False  # caught in the backlog of a listener being closed: look again
            s.close()
            return False

        harness.wait_until(refused, timeout=1.0, interval=0.02,
                           what="the traffic listener to refuse connections while draining")
        self.assertEqual(flight.result(timeout=10).status, 200)
        self.assertEqual(proxy.wait(timeout=10), 0)

    def test_exits_after_drain_timeout_even_if_a_request_is_still_running(self):
        proxy, flight = self.start_with_slow_request(signal.SIGTERM, drain_timeout="1s", ms=8000)
        start = time.monotonic()
        status = proxy.wait(timeout=5)
        self.assertLess(time.monotonic() - start, 4 * harness.SLOWDOWN)
        self.assertEqual(status, 0, "exit status after the drain timeout")
        flight.thread.join(5)  # the client sees its connection closed; no status to check

    def test_exits_at_once_when_idle(self):
        a = self.start_backend("a")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a)}))
        self.assertEqual(proxy.get("/").status, 200)
        start = time.monotonic()
        proxy.signal(signal.SIGTERM)
        self.assertEqual(proxy.wait(timeout=5), 0)
        self.assertLess(time.monotonic() - start, 2 * harness.SLOWDOWN)

    def test_drain_delay_keeps_serving_while_not_ready_then_closes(self):
        self.backend = self.start_backend("a")
        delay = 2 * harness.SLOWDOWN  # room for the checks below within it, also in a slow build
        proxy = self.start_proxy(self.config(pools={"api": self.pool(self.backend)},
                                             drain={"delay": "%gs" % delay, "timeout": "30s"}))
        flight = InFlight(proxy, "/slow?ms=%d" % (1500 * delay))
        harness.wait_until(lambda: self.backend.stats()["slow_in_flight"] == 1, timeout=5,
                           what="the slow request to reach the backend")
        start = time.monotonic()
        proxy.signal(signal.SIGTERM)
        harness.wait_until(lambda: self.ready_status(proxy) == 503, timeout=1.0, interval=0.02,
                           what="/health/ready to answer 503 at once")
        # Within the delay, new connections are still served: the orchestrator has not yet
        # taken the replica out of rotation.
        self.assertEqual(proxy.get("/").status, 200)
        self.assertLess(time.monotonic() - start, delay, "the check above ran after the delay")
        flight_result = flight.result(timeout=10)
        self.assertEqual(flight_result.status, 200)
        self.assertEqual(proxy.wait(timeout=10), 0)
        self.assertGreaterEqual(time.monotonic() - start, delay, "exited before drain.delay")

    def test_the_default_drain_delay_is_five_seconds(self):
        a = self.start_backend("a")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a)}, drain={"delay": None}))
        start = time.monotonic()
        proxy.signal(signal.SIGTERM)
        harness.wait_until(lambda: self.ready_status(proxy) == 503, timeout=1.0, interval=0.02,
                           what="/health/ready to answer 503 at once")
        time.sleep(4.0)
        self.assertEqual(proxy.get("/").status, 200, "stopped serving within drain.delay")
        self.assertEqual(proxy.wait(timeout=5), 0)
        self.assertGreaterEqual(time.monotonic() - start, 5.0)

    @staticmethod
    def ready_status(proxy):
        try:
            return proxy.admin("/health/ready", timeout=1).status
        except OSError:
            return None


if __name__ == "__main__":
    harness.main()
