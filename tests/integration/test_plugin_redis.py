#!/usr/bin/env python3
"""rate_limit with `store: redis://`, against a real redis-server: two proxy processes share
one limit; a killed store lets requests through (on_store_error: allow, counted as
store_error) and the limit comes back with a new redis on the same port; a closed store
with on_store_error: deny answers 503 and nothing reaches the backend; a SIGSTOPped store
never stalls a request much past store_timeout; zones keep routes' limits apart unless they
name the same one; --check refuses a bad store, store_timeout, on_store_error or zone."""

import os
import re
import signal
import socket
import subprocess
import threading
import time
import unittest

import harness
import metrics_util

REDIS_SERVER = "/usr/bin/redis-server"
REDIS_CLI = "/usr/bin/redis-cli"


class Redis:
    """redis-server on 127.0.0.1:port (a free one unless given), nothing persisted."""

    def __init__(self, log_dir, port=None):
        self.port = port or harness.free_port()
        self.log_path = os.path.join(log_dir, "redis-%d-%d.log" % (self.port, time.monotonic_ns()))
        self.log = open(self.log_path, "wb")
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", harness.LOOPBACK,
                "--save", "", "--appendonly", "no", "--dir", log_dir, "--daemonize", "no"]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=self.log, close_fds=True)
        self.stopped = False
        try:
            harness.wait_until(lambda: self.proc.poll() is not None or self.ping(), 10,
                               what="redis-server to answer PING")
            if self.proc.poll() is not None:
                raise AssertionError("redis-server exited: %s" % open(self.log_path).read()[-2000:])
        except BaseException:
            self.stop()
            raise

    @property
    def url(self):
        return "redis://%s:%d" % (harness.LOOPBACK, self.port)

    def ping(self):
        try:
            with socket.create_connection((harness.LOOPBACK, self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def keys(self, pattern="outrigger:rl:*"):
        out = subprocess.run([REDIS_CLI, "-h", harness.LOOPBACK, "-p", str(self.port), "--raw",
                              "keys", pattern], stdin=subprocess.DEVNULL, capture_output=True,
                             text=True, timeout=10 * harness.SLOWDOWN, check=True).stdout
        return sorted(line for line in out.splitlines() if line)

    def pause(self):
        self.stopped = True
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        if self.stopped and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
        self.stopped = False

    def kill(self):
        self.resume()
        harness.stop_process(self.proc, signal.SIGKILL)

    def stop(self):
        self.resume()  # a stopped process does not act on SIGTERM
        status = harness.stop_process(self.proc)
        self.log.close()
        return status


@unittest.skipUnless(os.access(REDIS_SERVER, os.X_OK) and os.access(REDIS_CLI, os.X_OK),
                     "redis-server and redis-cli are not installed")
class RateLimitRedisStore(harness.ProxyTestCase):
    def start_redis(self, port=None):
        r = Redis(self.tmp, port)
        self.addCleanup(r.stop)
        return r

    def start_limited(self, limit, backend=None, workers=2, routes=None):
        """A proxy whose only route "/" carries rate_limit `limit` (or the given routes)."""
        self.backend = backend or self.start_backend("api")
        routes = routes or [{"path_prefix": "/", "pool": "api",
                             "plugins": [{"rate_limit": limit}]}]
        return self.start_proxy(self.config(pools={"api": self.pool(self.backend)},
                                            routes=routes, workers=workers))

    def targets(self):
        return [t for _, t, _ in self.backend.stats()["complete"] if t != "/stats"]

    def store_errors(self, proxy):
        samples, _ = metrics_util.scrape(proxy)
        return sum(v for (name, labels), v in samples.items()
                   if name == "outrigger_plugin_actions_total"
                   and dict(labels) == {"pool": "api", "plugin": "rate_limit",
                                        "action": "store_error"})

    def assert_store_errors(self, proxy, want):
        last = []

        def matches():
            last[:] = [self.store_errors(proxy)]
            return last[0] == want

        try:
            harness.wait_until(matches, 5, what="%d store_error actions" % want)
        except AssertionError:
            self.assertEqual(last[0], want, "outrigger_plugin_actions_total{action=store_error}")

    def timed_get(self, proxy, path="/"):
        start = time.monotonic()
        r = proxy.get(path)
        return r, time.monotonic() - start

    # --- 1. one limit for every proxy on the store ----------------------------------------
    def test_two_proxies_share_one_limit(self):
        redis = self.start_redis()
        limit = {"key": "client_ip", "rate": "10/m", "store": redis.url}
        a = self.start_limited(limit)
        b = self.start_limited(limit, backend=self.backend)
        # 10/m: no token comes back in the few seconds this takes. Each proxy alone would let
        # 10 through, 20 in all.
        got = [(a if i % 2 == 0 else b).get("/") for i in range(30)]
        self.assertEqual([r.status for r in got].count(200), 10, [r.status for r in got])
        self.assertEqual([r.status for r in got].count(429), 20, [r.status for r in got])
        for r in got:
            self.assertEqual(r.header("RateLimit-Policy"), '"client_ip";q=10;w=60')
            self.assertRegex(r.header("RateLimit") or "", r'^"client_ip";r=\d+;t=\d+$')
            if r.status == 429:
                self.assertGreaterEqual(int(r.header("Retry-After")), 1)
        self.assertEqual(len(self.targets()), 10)
        self.assertEqual(redis.keys(), ["outrigger:rl:*/:127.0.0.1"])

    # --- 2. the store dies and comes back -------------------------------------------------
    def test_a_killed_store_lets_requests_through_until_it_is_back(self):
        redis = self.start_redis()
        port = redis.port
        proxy = self.start_limited({"key": "client_ip", "rate": "5/m", "store": redis.url},
                                   workers=1)
        for _ in range(2):
            self.assertEqual(proxy.get("/").status, 200)
        self.assertEqual(self.store_errors(proxy), 0)
        redis.kill()
        # More than the burst: without the store there is no limit (on_store_error: allow).
        for i in range(8):
            r, took = self.timed_get(proxy)
            self.assertEqual(r.status, 200, "request %d with the store down" % i)
            self.assertLess(took, 1.0 * harness.SLOWDOWN, "request %d with the store down" % i)
        self.assertEqual(len(self.targets()), 10)
        self.assert_store_errors(proxy, 8)
        proxy.wait_log(r"warning .*rate_limit store redis://127\.0\.0\.1:%d" % port)
        self.start_redis(port)
        # Reconnected by itself (backoff at most 5s), with no request to prompt it.
        proxy.wait_log(r"rate_limit store redis://127\.0\.0\.1:%d: connected again" % port,
                       timeout=15)
        warnings = re.findall(r"warning .*rate_limit store redis://127\.0\.0\.1:%d" % port,
                              proxy.stderr(tail=100000))
        self.assertEqual(len(warnings), 1, "one warning per outage")
        # The new redis is empty: a whole burst again, then 429.
        statuses = [proxy.get("/").status for _ in range(6)]
        self.assertEqual(statuses, [200] * 5 + [429])
        self.assertEqual(self.store_errors(proxy), 8)

    # --- 3. deny -----------------------------------------------------------------------------
    def test_deny_answers_503_while_the_store_is_unreachable(self):
        closed = harness.free_port()  # nothing listens there
        proxy = self.start_limited({"key": "client_ip", "rate": "5/m",
                                    "store": "redis://127.0.0.1:%d" % closed,
                                    "on_store_error": "deny"})
        for i in range(7):
            r, took = self.timed_get(proxy)
            self.assertEqual(r.status, 503, "request %d" % i)
            self.assertEqual(r.header("Retry-After"), "1")
            self.assertLess(took, 1.0 * harness.SLOWDOWN, "request %d" % i)
        self.assertEqual(self.targets(), [])
        self.assert_store_errors(proxy, 7)

    # --- 4. a store that stops answering ---------------------------------------------------
    def test_a_stopped_store_costs_a_request_about_store_timeout(self):
        redis = self.start_redis()
        proxy = self.start_limited({"key": "client_ip", "rate": "3/m", "store": redis.url,
                                    "store_timeout": "200ms"})
        self.assertEqual(proxy.get("/").status, 200)  # connected, one token spent
        redis.pause()
        self.addCleanup(redis.resume)
        bound = 2.0 * harness.SLOWDOWN
        for i in range(4):
            r, took = self.timed_get(proxy)
            self.assertEqual(r.status, 200, "sequential request %d" % i)
            self.assertLess(took, bound, "sequential request %d" % i)
        # Several at once: none queues behind another's wait for the store.
        out = [None] * 4

        def one(i):
            out[i] = self.timed_get(proxy)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        for i, (r, took) in enumerate(out):
            self.assertEqual(r.status, 200, "concurrent request %d" % i)
            self.assertLess(took, bound, "concurrent request %d" % i)
        self.assertEqual(len(self.targets()), 9)
        self.assert_store_errors(proxy, 8)
        # Awake again, the store decides again: late answers to the requests that gave up
        # must not be taken for later requests' answers. (Whether redis ran their scripts is
        # not said, so how many tokens are left is not either; the burst is 3.)
        redis.resume()
        harness.wait_until(lambda: proxy.get("/").status == 429, 15,
                           what="the limit to apply again after SIGCONT")

    # --- 5. zones ----------------------------------------------------------------------------
    def zone_routes(self, redis, zone=None, extra=None):
        limit = {"key": "client_ip", "rate": "3/m", "store": redis.url}
        if zone:
            limit["zone"] = zone
        routes = []
        for prefix in ("/a/", "/b/"):
            plugins = [{"rate_limit": dict(limit)}] + (extra or [])
            plugins.append({"rewrite": {"strip_prefix": prefix[:-1]}})
            routes.append({"path_prefix": prefix, "pool": "api", "plugins": plugins})
        return routes

    def test_default_zones_are_per_route(self):
        redis = self.start_redis()
        proxy = self.start_limited(None, routes=self.zone_routes(redis))
        self.assertEqual([proxy.get("/a/").status for _ in range(4)], [200, 200, 200, 429])
        self.assertEqual([proxy.get("/b/").status for _ in range(4)], [200, 200, 200, 429])
        self.assertEqual(redis.keys(), ["outrigger:rl:*/a/:127.0.0.1",
                                        "outrigger:rl:*/b/:127.0.0.1"])

    def test_one_explicit_zone_is_one_limit(self):
        redis = self.start_redis()
        proxy = self.start_limited(None, routes=self.zone_routes(redis, zone="shared"))
        statuses = [proxy.get(p).status for p in ("/a/", "/b/", "/a/", "/b/", "/a/")]
        self.assertEqual(statuses, [200, 200, 200, 429, 429])
        self.assertEqual(redis.keys(), ["outrigger:rl:shared:127.0.0.1"])

    def test_a_second_rate_limit_on_a_route_has_its_own_zone(self):
        redis = self.start_redis()
        second = {"rate_limit": {"key": "header:X-Api-Key", "rate": "2/m",
                                 "store": redis.url}}
        proxy = self.start_limited(None, routes=self.zone_routes(redis, extra=[second])[:1])
        statuses = [proxy.get("/a/", headers={"X-Api-Key": "k"}).status for _ in range(3)]
        self.assertEqual(statuses, [200, 200, 429])
        keys = redis.keys()
        self.assertEqual(len(keys), 2, keys)
        self.assertIn("outrigger:rl:*/a/:127.0.0.1", keys)
        self.assertTrue(any(re.match(r"outrigger:rl:\*/a/#\d+:k$", k) for k in keys), keys)

    # --- 6. config errors -------------------------------------------------------------------
    def check_error(self, limit, key, marker):
        """--check fails naming the file, the line holding `marker` and the rate_limit's
        `key`."""
        text = self.config(pools={"api": self.pool("127.0.0.1:9")}, routes=[
            {"path_prefix": "/", "pool": "api", "plugins": [{"rate_limit": limit}]}])
        line = next(i + 1 for i, l in enumerate(text.splitlines()) if marker in l)
        r = self.check_config(text)
        self.assertNotEqual(r.returncode, 0, text)
        self.assertRegex(r.stderr, r"check-\d+\.yaml:%d:\d+: listeners\.web\.routes\[0\]"
                                   r"\.plugins\[0\]\.rate_limit\.%s: " % (line, key),
                         "%s\n%s" % (text, r.stderr))
        return r.stderr

    def test_config_errors(self):
        base = {"key": "client_ip", "rate": "10/s"}
        store = {"store": "redis://127.0.0.1:6379"}
        for bad in ("http://x:1", "redis://nohost", "redis://h:0", "redis://h:65536",
                    "redis://:6379", "redis://h:1/0x"):
            self.check_error(dict(base, store=bad), "store", "store:")
        for key, value in (("store_timeout", "100ms"), ("on_store_error", "deny"),
                           ("zone", "z")):
            self.check_error(dict(base, **{key: value}), key, key + ":")
        self.check_error(dict(base, on_store_error="block", **store), "on_store_error",
                         "on_store_error:")
        self.check_error(dict(base, store_timeout="11s", **store), "store_timeout",
                         "store_timeout:")
        self.check_error(dict(base, zone="", **store), "zone", "zone:")
        self.check_error(dict(base, zone="a b", **store), "zone", "zone:")
        # The edges that are fine.
        good = dict(base, store_timeout="10s", on_store_error="deny", zone="api-v1", **store)
        text = self.config(pools={"api": self.pool("127.0.0.1:9")}, routes=[
            {"path_prefix": "/", "pool": "api", "plugins": [{"rate_limit": good}]}])
        r = self.check_config(text)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_a_bad_store_stops_the_proxy_from_starting(self):
        routes = [{"path_prefix": "/", "pool": "api", "plugins": [{"rate_limit": {
            "key": "client_ip", "rate": "10/s", "store": "http://x:1"}}]}]
        proxy = self.start_proxy(self.config(pools={"api": self.pool("127.0.0.1:9")},
                                             routes=routes), wait_ready=False)
        self.assertNotEqual(proxy.wait(15), 0)
        self.assertRegex(proxy.stderr(), r"\.yaml:\d+:\d+: .*rate_limit\.store")


if __name__ == "__main__":
    unittest.main()
