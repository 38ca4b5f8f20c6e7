#!/usr/bin/env python3
"""Load-aware balancing: under concurrent load, least_conn (and p2c_ewma) send far fewer
requests to a backend that answers 200 ms slower, while round robin splits evenly.

Two backend.py processes, "fast" and "slow" (--delay 0.2); CLIENTS threads send requests for
DURATION seconds (at most TOTAL requests in all), each on its own keep-alive connection to the
proxy. The backend that answered is read from X-Backend. The run lasts many times the slow
backend's delay, so the share measures the steady state, not just the first burst (where all
20 clients arrive at once and any policy splits them evenly).
"""

import collections
import http.client
import sys
import threading
import time

import harness

CLIENTS = 20
DURATION = 3.0  # seconds of load
TOTAL = 20000   # a cap on requests, in case the machine is very fast
SLOW_DELAY = 0.2


def run_load(port, clients=CLIENTS, total=TOTAL, duration=DURATION):
    """Returns (Counter of X-Backend, [errors], elapsed seconds)."""
    lock = threading.Lock()
    counts = collections.Counter()
    errors = []
    issued = [0]
    end = time.monotonic() + duration  # not stretched by SLOWDOWN: it measures a share
    start = time.monotonic()

    def take():
        with lock:
            if issued[0] >= total or time.monotonic() >= end:
                return False
            issued[0] += 1
            return True

    def client():
        conn = None
        try:
            while take():
                if conn is None:
                    conn = http.client.HTTPConnection(harness.LOOPBACK, port, timeout=10 * harness.SLOWDOWN)
                try:
                    conn.request("GET", "/")
                    r = conn.getresponse()
                    r.read()
                    name = r.getheader("X-Backend") if r.status == 200 else "status %d" % r.status
                    if r.will_close:
                        conn.close()
                        conn = None
                except (OSError, http.client.HTTPException) as e:
                    name = None
                    with lock:
                        errors.append(repr(e))
                    conn.close()
                    conn = None
                if name is not None:
                    with lock:
                        counts[name] += 1
        finally:
            if conn is not None:
                conn.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.1, end - time.monotonic()) + 15 * harness.SLOWDOWN)
    alive = sum(t.is_alive() for t in threads)
    if alive:
        errors.append("%d client threads still running after the time bound" % alive)
    return counts, errors, time.monotonic() - start


class LoadAware(harness.ProxyTestCase):
    def slow_share(self, balance):
        fast = self.start_backend("fast")
        slow = self.start_backend("slow", delay=SLOW_DELAY)
        proxy = self.start_proxy(self.config(pools={"api": self.pool(fast, slow, balance=balance)}))
        counts, errors, elapsed = run_load(proxy.port)
        done = sum(counts.values())
        summary = "%s: %s of %d requests in %.1fs with %d clients (errors: %s)" % (
            balance, dict(counts), done, elapsed, CLIENTS, errors[:5])
        self.assertEqual(errors, [], summary)
        self.assertEqual(set(counts) - {"fast", "slow"}, set(), summary)
        self.assertGreaterEqual(done, 100, "too few requests finished; " + summary)
        share = counts["slow"] / done
        sys.stderr.write("\n  %s -> slow share %.1f%%\n" % (summary, 100 * share))
        return share, summary

    def test_least_conn_sends_a_200ms_slower_backend_far_fewer_requests(self):
        share, summary = self.slow_share("least_conn")
        self.assertLess(share, 0.25, "slow backend got %.1f%%; %s" % (100 * share, summary))

    def test_round_robin_splits_evenly_in_the_same_setup_which_shows_the_test_discriminates(self):
        share, summary = self.slow_share("round_robin")
        self.assertGreater(share, 0.40, "slow backend got %.1f%%; %s" % (100 * share, summary))
        self.assertLess(share, 0.60, "slow backend got %.1f%%; %s" % (100 * share, summary))

    def test_p2c_ewma_shifts_traffic_away_from_a_200ms_slower_backend(self):
        share, summary = self.slow_share("p2c_ewma")
        self.assertLess(share, 0.25, "slow backend got %.1f%%; %s" % (100 * share, summary))


if __name__ == "__main__":
    harness.main()
