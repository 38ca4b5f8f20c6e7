#!/usr/bin/env python3
"""Requests waiting on rate_limit's Redis store while the store stops, dies, restarts, answers
late or refuses, and while the proxy reloads or drains. Every request gets exactly one
answer, within store_timeout, and never a reply meant for another.

Failing when written (see each docstring): a question asked while the store client's 1s stall
watch is pending waits for it, not store_timeout; a stopped Redis (its kernel still accepts
connections) is logged "connected again" every 5s and every request pays the timeout anew; an
error reply (Redis OOM) logs a warning per request."""

import re
import signal
import subprocess
import threading
import time
import unittest

import harness
from plugin_wait_case import (get_bytes, REDIS_CLI, RedisWaitCase, SlowRelay, status_and_connection)


class RedisWaitStore(RedisWaitCase):
    def test_a_killed_store_answers_the_waiting_requests_at_once(self):
        """Redis SIGKILLed while requests wait on it (stopped): the reset answers them
        (on_store_error: allow) without waiting out store_timeout or the stall check."""
        redis = self.start_redis()
        proxy = self.start_with([self.limit(redis, rate="1000/m", store_timeout="10s")])
        self.assertEqual(proxy.get("/?warm").status, 200)
        redis.pause()
        started = time.monotonic()

        def one(i):
            r = proxy.get("/?w=%d" % i)
            return r.status, time.monotonic() - started

        def during():
            redis.kill()

        got = self.while_in_threads(10, one, during, settle=0.5, join=30)
        for r in got:
            self.assertNotIsInstance(r, Exception)
            self.assertEqual(r[0], 200)
            self.assertLess(r[1], 4.5, "answered only after the stall check (5s)")

    def test_store_restarted_under_load(self):
        """Redis killed and started again on its port while 6 keep-alive clients send
        requests: every request gets one answer, and the limit applies again after."""
        redis = self.start_redis()
        port = redis.port
        proxy = self.start_with([self.limit(redis, rate="100000/m", store_timeout="300ms")],
                                workers=2)
        stop = threading.Event()

        def client(i):
            conn = proxy.connection()
            statuses = []
            try:
                while not stop.is_set():
                    statuses.append(harness.request(proxy.port, path="/?c=%d" % i,
                                                    conn=conn).status)
            finally:
                conn.close()
            return statuses

        runner = [None]
        t = threading.Thread(target=lambda: runner.__setitem__(0, self.in_threads(6, client)))
        t.start()
        time.sleep(1.0 * harness.SLOWDOWN)
        redis.kill()
        time.sleep(1.0 * harness.SLOWDOWN)
        self.start_redis(port)
        proxy.wait_log(r"rate_limit store redis://127\.0\.0\.1:%d: connected again" % port,
                       timeout=15, count=2)
        time.sleep(0.5 * harness.SLOWDOWN)
        stop.set()
        t.join(60 * harness.SLOWDOWN)
        for r in runner[0]:
            self.assertNotIsInstance(r, Exception)
            self.assertTrue(r, "a client made no request")
            self.assertEqual(set(r), {200})
        self.assertEqual(proxy.get("/?last").status, 200)

    def test_reload_while_waiting_drops_or_adds_the_store(self):
        """SIGHUP while requests wait on a stopped Redis: first to a config without the store
        (a local limit), then back. The waiting requests are answered once; new ones follow
        the new config."""
        redis, proxy = self.proxy_on_a_stopped_store()

        def during():
            local = [{"rate_limit": {"key": "client_ip", "rate": "2/m"}}]
            self.reload_plugins(proxy, local)

        got = self.while_in_threads(5, lambda i: proxy.get("/?w=%d" % i).status, during,
                                    settle=0.5, join=30)
        self.assertEqual(got, [200] * 5)
        statuses = [proxy.get("/?local=%d" % i).status for i in range(3)]
        self.assertEqual(statuses, [200, 200, 429])
        # And back to the store, awake again: it decides (its burst of 3 under a new zone).
        redis.resume()
        self.reload_plugins(proxy, [self.limit(redis, zone="again")], count=2)
        statuses = [proxy.get("/?store=%d" % i).status for i in range(4)]
        self.assertEqual(statuses, [200, 200, 200, 429])

    def test_sigterm_while_requests_wait(self):
        """SIGTERM while requests wait on a stopped Redis: each still gets its answer (with
        Connection: close) and the process exits cleanly."""
        _, proxy = self.proxy_on_a_stopped_store()

        def during():
            proxy.signal(signal.SIGTERM)

        got = self.while_in_threads(5, lambda i: status_and_connection(proxy, i), during,
                                    settle=0.5, join=30)
        self.assertEqual(got, [(200, "close")] * 5)
        self.assertEqual(proxy.wait(20), 0)

    def test_drain_timeout_shorter_than_the_wait(self):
        """SIGTERM with drain.timeout shorter than the requests' wait on a stopped Redis: the
        process exits at the timeout, tearing down the waiting connections and the store
        connection with questions out, cleanly."""
        redis = self.start_redis()
        self.backend = self.start_backend("api")
        proxy = self.start_proxy(self.config(
            pools={"api": self.pool(self.backend)}, workers=2, drain={"timeout": "1s"},
            routes=[{"path_prefix": "/", "pool": "api", "plugins": [
                self.limit(redis, rate="1000/m", store_timeout="10s")]}]))
        self.assertEqual(proxy.get("/?warm").status, 200)
        redis.pause()
        self.addCleanup(redis.resume)
        socks = []
        self.addCleanup(lambda: [s.close() for s in socks])
        for i in range(20):
            s = proxy.raw()
            s.sendall(get_bytes("/?t=%d" % i))
            socks.append(s)
        time.sleep(0.5 * harness.SLOWDOWN)
        proxy.signal(signal.SIGTERM)
        self.assertEqual(proxy.wait(20), 0)

    def test_listener_removed_by_a_reload_while_requests_wait(self):
        """A reload that moves the listener to another port while requests wait on Redis: the
        waiting requests are still answered once, with Connection: close."""
        _, proxy = self.proxy_on_a_stopped_store()

        moved = harness.free_port()

        def during():
            proxy.reload(proxy.config_text.replace(":%d" % proxy.port, ":%d" % moved))
            proxy.wait_log(r"reloaded ")

        got = self.while_in_threads(4, lambda i: status_and_connection(proxy, i), during,
                                    settle=0.5, join=30)
        self.assertEqual(got, [(200, "close")] * 4)
        self.assertEqual(harness.request(moved, path="/?moved").status, 200)

    def test_more_questions_than_the_ring_holds(self):
        """4,300 requests at once on one worker, Redis stopped: past 4,096 questions out the
        rest fail over at once (on_store_error: allow); every request gets one answer."""
        redis = self.start_redis()
        # Answered by `respond`: the backend's own caps (1,024 connections) are not the test.
        proxy = self.start_with([self.limit(redis, rate="100000/m", store_timeout="10s"),
                                 {"respond": {"status": 200, "body": "ok"}}],
                                listener={"max_connections": 6000})
        self.assertEqual(proxy.get("/?warm").status, 200)
        redis.pause()
        self.addCleanup(redis.resume)
        socks = []
        self.addCleanup(lambda: [s.close() for s in socks])
        for i in range(4300):
            s = proxy.raw(timeout=60)
            s.sendall(get_bytes("/?r=%d" % i))
            socks.append(s)
        # The ring is full: the 204 past it failed over without waiting.
        harness.wait_until(lambda: self.actions(proxy, "rate_limit", "store_error") >= 204, 30,
                           what="the requests past the ring to fail over")
        redis.resume()
        for i, s in enumerate(socks):
            r = harness.read_response(s.makefile("rb"))
            self.assertEqual(r.status, 200, "request %d" % i)
        self.assertEqual(proxy.get("/?last").status, 200)

    def test_late_replies_are_never_taken_for_later_questions(self):
        """A store whose replies come now in time, now past store_timeout: a request with a
        fresh key is never refused (a late 429 meant for a spent key must not land on it),
        and every request gets one answer."""
        redis = self.start_redis()
        relay = SlowRelay(redis.port, lambda i: 0.25 if i % 3 == 0 else 0.0)
        self.addCleanup(relay.close)
        proxy = self.start_with([{"rate_limit": {
            "key": "header:X-Key", "rate": "1/m", "store": relay.url,
            "store_timeout": "150ms"}}], workers=2)
        self.assertEqual(proxy.get("/", headers={"X-Key": "spent"}).status, 200)

        def client(c):
            out = []
            conn = proxy.connection()
            try:
                for i in range(15):
                    key = "spent" if i % 2 else "fresh-%d-%d" % (c, i)
                    r = harness.request(proxy.port, path="/?k=%s" % key, conn=conn,
                                        headers={"X-Key": key})
                    out.append((key, r.status))
            finally:
                conn.close()
            return out

        for got in self.in_threads(6, client):
            self.assertNotIsInstance(got, Exception)
            for key, status in got:
                if key.startswith("fresh"):
                    self.assertEqual(status, 200, key)
                else:
                    self.assertIn(status, (200, 429), key)

    def test_a_store_stalled_past_the_stall_check_under_load(self):
        """Redis stopped for longer than the 5s stall check while clients keep asking: the
        connection is dropped and made again, every request is answered within about
        store_timeout, and the limit applies again once Redis is back."""
        redis = self.start_redis()
        proxy = self.start_with([self.limit(redis, rate="2/m", store_timeout="100ms")],
                                workers=2)
        redis.pause()
        self.addCleanup(redis.resume)
        stop = threading.Event()

        def client(c):
            worst = 0.0
            n = 0
            conn = proxy.connection()
            try:
                while not stop.is_set():
                    start = time.monotonic()
                    status = harness.request(proxy.port, path="/?c=%d" % c, conn=conn).status
                    worst = max(worst, time.monotonic() - start)
                    assert status == 200, status
                    n += 1
            finally:
                conn.close()
            return n, worst

        runner = [None]
        t = threading.Thread(target=lambda: runner.__setitem__(0, self.in_threads(4, client)))
        t.start()
        time.sleep(7)  # past kStallNs (5s) whatever the slowdown: the drop happens
        stop.set()
        t.join(60 * harness.SLOWDOWN)
        proxy.wait_log(r"no reply for 5s")
        redis.resume()
        for r in runner[0]:
            self.assertNotIsInstance(r, Exception)
            self.assertGreater(r[0], 0)
            self.assertLess(r[1], 2.0 * harness.SLOWDOWN)
        harness.wait_until(lambda: proxy.get("/").status == 429, 20,
                           what="the limit to apply again after SIGCONT")

    def test_each_question_to_a_stopped_store_waits_only_store_timeout(self):
        """Sequential requests on one connection while Redis is stopped: each waits about
        store_timeout (100ms). A question asked while only timed-out ones are out must get a
        timer of its own, not wait for the client's 1s stall watch."""
        redis = self.start_redis()
        proxy = self.start_with([self.limit(redis, rate="1000/m", store_timeout="100ms")])
        self.assertEqual(proxy.get("/?warm").status, 200)
        redis.pause()
        self.addCleanup(redis.resume)
        conn = proxy.connection()
        self.addCleanup(conn.close)
        took = []
        for i in range(5):  # about 0.5s in all: before the 5s stall check drops the connection
            start = time.monotonic()
            self.assertEqual(harness.request(proxy.port, path="/?s=%d" % i, conn=conn).status,
                             200)
            took.append(round(time.monotonic() - start, 3))
        self.assertLess(max(took), 0.1 + 0.25 * harness.SLOWDOWN, took)

    def test_a_stopped_store_is_not_taken_for_recovered(self):
        """README: a silent (SIGSTOP) store costs a request at most store_timeout, then none
        while it is down, and the outage and the recovery are logged once each. A stopped
        redis still completes TCP handshakes (the kernel's backlog): that must not count as
        "connected again", after which every request pays the timeout anew."""
        redis = self.start_redis()
        proxy = self.start_with([self.limit(redis, rate="1000/m", store_timeout="300ms")])
        self.assertEqual(proxy.get("/?warm").status, 200)
        redis.pause()
        self.addCleanup(redis.resume)
        conn = proxy.connection()
        self.addCleanup(conn.close)
        start = time.monotonic()
        slow_late = []
        while time.monotonic() - start < 13:
            t = time.monotonic()
            self.assertEqual(harness.request(proxy.port, path="/?s", conn=conn).status, 200)
            took = time.monotonic() - t
            # Past the first stall drop (5s) and its reconnect: decisions fail at once.
            if t - start > 7 and took > min(0.25, 0.05 * harness.SLOWDOWN):
                slow_late.append((round(t - start, 1), round(took, 3)))
            time.sleep(0.05)
        log = proxy.stderr(tail=100000)
        self.assertEqual(re.findall(r".*connected again.*", log), [], "a false recovery")
        self.assertLessEqual(len(re.findall(r"warning .*rate_limit store", log)), 1)
        self.assertEqual(slow_late, [], "requests that paid store_timeout while it was down")

    def test_a_store_that_refuses_every_script_logs_once(self):
        """Redis out of memory (maxmemory reached, noeviction) answers every decision with an
        error: requests go on as on_store_error says, and the outage is logged once, not once
        per request (redis_client.h: "logs the outage once and the recovery once")."""
        redis = self.start_redis()
        proxy = self.start_with([self.limit(redis, rate="1000/m")])
        self.assertEqual(proxy.get("/?warm").status, 200)
        subprocess.run([REDIS_CLI, "-h", harness.LOOPBACK, "-p", str(redis.port), "config", "set",
                        "maxmemory", "1"], check=True, capture_output=True,
                       timeout=10 * harness.SLOWDOWN)
        self.assertEqual([proxy.get("/?oom=%d" % i).status for i in range(30)], [200] * 30)
        harness.wait_until(lambda: self.actions(proxy, "rate_limit", "store_error") == 30, 5,
                           what="30 store_error actions")
        warnings_ = re.findall(r"warning .*rate_limit store", proxy.stderr(tail=100000))
        self.assertLessEqual(len(warnings_), 2, "a warning per failed decision")


if __name__ == "__main__":
    unittest.main()
