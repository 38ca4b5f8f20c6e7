#!/usr/bin/env python3
"""The admin API's mutations (design.md §8): PATCH /pools/{pool}/backends/{backend} drains,
puts in maint, readies and reweighs a backend at runtime, overrides that survive a reload and a
DNS re-resolution; POST /reload; the bearer token, loopback and method rules; 400/401/403/404."""

import collections
import json
import os
import threading

import harness

INTERVAL = 0.2  # seconds: probe interval where a test watches probes


def admin_call(proxy, method, path, body=None, token=None):
    headers = {}
    if token is not None:
        headers["Authorization"] = "Bearer " + token
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    if body is not None:
        headers["Content-Type"] = "application/json"
    return harness.request(proxy.admin_port, method=method, path=path, headers=headers, body=body)


def patch(proxy, pool, backend, body, token=None):
    return admin_call(proxy, "PATCH", "/pools/%s/backends/%s" % (pool, backend), body, token)


def status_entry(proxy, pool, backend):
    for b in proxy.admin("/status").json()["pools"][pool]["backends"]:
        if b["backend"] == backend.address:
            return b
    raise AssertionError("no backend %s in /status" % backend.address)


def spread(proxy, n):
    seen = collections.Counter()
    for _ in range(n):
        r = proxy.get("/")
        seen[r.header("X-Backend") if r.status == 200 else r.status] += 1
    return seen


class Slow:
    """A slow request through the proxy on a thread."""

    def __init__(self, proxy, ms):
        self.response = None
        self.error = None
        self.thread = threading.Thread(target=self._run, args=(proxy, ms), daemon=True)
        self.thread.start()

    def _run(self, proxy, ms):
        try:
            self.response = proxy.get("/slow?ms=%d" % ms, timeout=30)
        except Exception as e:  # reported by the test
            self.error = e

    def result(self):
        self.thread.join(30 * harness.SLOWDOWN)
        if self.thread.is_alive() or self.error:
            raise AssertionError("slow request: %r" % self.error)
        return self.response


class AdminApi(harness.ProxyTestCase):
    def two(self, weights=None, **extra):
        a = self.start_backend("a")
        b = self.start_backend("b")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a, b, weights=weights,
                                                                       **extra)}))
        return proxy, a, b

    def test_drain_under_load_sends_nothing_new_and_lets_in_flight_finish(self):
        proxy, a, b = self.two()
        # Round robin: one on each backend. Long enough, scaled to the build, that a's is still
        # in flight when the PATCH lands on a loaded machine ("draining", not "drained").
        slow = [Slow(proxy, int(1500 * harness.SLOWDOWN)) for _ in range(2)]
        harness.wait_until(lambda: a.stats()["slow_in_flight"] == 1, 5, what="a slow request on a")
        r = patch(proxy, "api", a.address, {"state": "drain"})
        self.assertEqual(r.status, 200, r.text)
        entry = r.json()
        self.assertEqual(entry["operator"], {"state": "drain"})
        self.assertEqual(entry["state"], "draining")
        self.assertEqual(entry["admin_state"], "draining")  # its slow request is in flight
        before = a.stats()["by_path"].get("/", 0)
        self.assertEqual(spread(proxy, 20), {"b": 20})
        self.assertEqual(a.stats()["by_path"].get("/", 0), before)
        for s in slow:
            self.assertEqual(s.result().status, 200)
        harness.wait_until(lambda: status_entry(proxy, "api", a)["admin_state"] == "drained", 5,
                           what="/status to show a drained")
        r = patch(proxy, "api", a.address, {"state": "ready"})
        self.assertEqual(r.status, 200, r.text)
        self.assertIsNone(r.json()["operator"])
        self.assertEqual(r.json()["state"], "ready")
        self.assertEqual(spread(proxy, 20), {"a": 10, "b": 10})

    def test_weight_zero_then_five_shifts_the_share(self):
        proxy, a, b = self.two(weights=[1, 1])
        r = patch(proxy, "api", a.address, {"weight": 0})
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(r.json()["weight"], 0)
        self.assertEqual(spread(proxy, 20), {"b": 20})
        r = patch(proxy, "api", a.address, {"weight": 5})
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual((r.json()["weight"], r.json()["state"]), (5, "ready"))
        seen = spread(proxy, 60)  # smooth weighted round robin: 5 of every 6
        self.assertGreaterEqual(seen["a"], 45, seen)
        self.assertLessEqual(seen["a"], 55, seen)
        r = patch(proxy, "api", a.address, {"weight": None})
        self.assertEqual((r.json()["weight"], r.json()["operator"]), (1, None))

    def test_ready_ramps_back_through_slow_start(self):
        # A ramp far longer than the test: however slowly a loaded sanitizer build sends the
        # 40 requests below, a's share stays near nothing (over 30 s, 10 s of requests would
        # already give it about 7 of 40).
        proxy, a, b = self.two(slow_start="600s")
        self.assertEqual(spread(proxy, 10), {"a": 5, "b": 5})  # present at start: no ramp
        self.assertEqual(patch(proxy, "api", a.address, {"state": "drain"}).status, 200)
        self.assertEqual(patch(proxy, "api", a.address, {"state": "ready"}).status, 200)
        seen = spread(proxy, 40)  # a ramps from almost nothing over 600 s
        self.assertLessEqual(seen["a"], 4, seen)

    def test_maint_closes_idle_connections_and_stops_probes(self):
        # fall 3 and a timeout scaled to the build: one probe slowed by a loaded machine must
        # not take a backend out of rotation in the middle of the test's counts.
        health = {"ready": {"path": "/health/ready", "interval": "%dms" % (INTERVAL * 1000),
                            "timeout": "%dms" % (1000 * harness.SLOWDOWN), "fall": 3,
                            "rise": 1}}
        proxy, a, b = self.two(health=health)
        # /health/ready needs one ready backend per pool, not both: wait for each one's first
        # probe, or the requests below may all go to one and leave nothing pooled to the other.
        harness.wait_until(lambda: all(status_entry(proxy, "api", x)["state"] == "ready"
                                       for x in (a, b)), 10,
                           what="a and b to pass their first ready probe")
        # A keep-alive connection to each backend is now pooled.
        self.assertEqual(spread(proxy, 4), {"a": 2, "b": 2})
        # open_connections counts the /stats request's own connection too.
        self.assertGreaterEqual(a.stats()["open_connections"], 2)
        r = patch(proxy, "api", a.address, {"state": "maint"})
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual((r.json()["admin_state"], r.json()["operator"]),
                         ("maint", {"state": "maint"}))
        harness.wait_until(lambda: a.stats()["open_connections"] == 1, 5,
                           what="the idle connections to a to close")
        probes = a.stats()["by_path"].get("/health/ready", 0)
        harness.wait_until(lambda: b.stats()["by_path"].get("/health/ready", 0) >= 5, 10,
                           what="b to be probed meanwhile")
        self.assertLessEqual(a.stats()["by_path"].get("/health/ready", 0), probes + 1)
        self.assertEqual(spread(proxy, 10), {"b": 10})
        self.assertEqual(patch(proxy, "api", a.address, {"state": "ready"}).status, 200)
        harness.wait_until(lambda: a.stats()["by_path"].get("/health/ready", 0) > probes + 1, 5,
                           what="a's probes to resume")
        harness.wait_until(lambda: "a" in spread(proxy, 4), 5, what="a to take requests again")

    def test_override_survives_a_reload_and_is_refused_reload_reported(self):
        proxy, a, b = self.two()
        self.assertEqual(patch(proxy, "api", a.address, {"state": "drain", "weight": 3}).status,
                         200)
        proxy.reload(proxy.config_text)
        proxy.wait_log(r"reloaded")
        r = admin_call(proxy, "POST", "/reload")
        self.assertEqual((r.status, r.json()), (200, {"result": "reloaded"}))
        entry = status_entry(proxy, "api", a)
        self.assertEqual(entry["operator"], {"state": "drain", "weight": 3})
        self.assertEqual(entry["state"], "draining")
        self.assertEqual(spread(proxy, 10), {"b": 10})
        # A reload that drops the backend and one that brings it back: still drained. (Both
        # reloads so far, SIGHUP's and POST /reload's, logged "reloaded".)
        c = self.start_backend("c")
        text = proxy.config_text.replace(b.address, c.address).replace(a.address, b.address)
        proxy.reload(text)
        proxy.wait_log(r"reloaded", count=3)
        proxy.reload(proxy.config_text.replace(b.address, a.address).replace(c.address, b.address))
        proxy.wait_log(r"reloaded", count=4)
        self.assertEqual(status_entry(proxy, "api", a)["operator"], {"state": "drain", "weight": 3})
        self.assertEqual(spread(proxy, 10), {"b": 10})
        # A refused reload: 400 and the errors, each naming the file.
        with open(proxy.config_path, "w") as f:
            f.write(proxy.config_text.replace("round_robin", "no_such_policy"))
        r = admin_call(proxy, "POST", "/reload")
        self.assertEqual(r.status, 400, r.text)
        self.assertEqual(r.json()["result"], "refused")
        self.assertTrue(r.json()["errors"], r.text)
        self.assertTrue(any("balance" in e for e in r.json()["errors"]), r.text)
        self.assertEqual(spread(proxy, 4), {"b": 4})

    def test_override_survives_a_dns_change(self):
        import dns_server
        name = "api.admin.test"
        r2 = self.start_backend("r2", host="127.0.0.2")
        r3 = self.start_backend("r3", host="127.0.0.3", port=r2.port)
        dns = dns_server.Dnsmasq(self.tmp, {name: ["127.0.0.2", "127.0.0.3"]})
        self.addCleanup(dns.stop)
        pool = {"balance": "round_robin",
                "backends": [{"dns": "%s:%d" % (name, r2.port), "resolve_every": "1s"}]}
        proxy = self.start_proxy(self.config(pools={"api": pool},
                                             top={"resolver": "127.0.0.1:%d" % dns.port}))

        def count():
            return len(proxy.admin("/status").json()["pools"]["api"]["backends"])

        harness.wait_until(lambda: count() == 2, 10, what="both addresses")
        self.assertEqual(patch(proxy, "api", r3.address, {"state": "drain"}).status, 200)
        dns.reload({name: ["127.0.0.2"]}, name)
        harness.wait_until(lambda: count() == 1, 10, what="127.0.0.3 to go")
        dns.reload({name: ["127.0.0.2", "127.0.0.3"]}, name)
        harness.wait_until(lambda: count() == 2, 10, what="127.0.0.3 to come back")
        self.assertEqual(status_entry(proxy, "api", r3)["operator"], {"state": "drain"})
        self.assertEqual(spread(proxy, 10), {"r2": 10})

    def test_bad_requests(self):
        proxy, a, b = self.two()
        r = patch(proxy, "nope", a.address, {"state": "drain"})
        self.assertEqual(r.status, 404)
        self.assertIn("no pool", r.json()["error"])
        r = patch(proxy, "api", "127.0.0.1:1", {"state": "drain"})
        self.assertEqual(r.status, 404)
        self.assertIn("no backend", r.json()["error"])
        # URL-encoded backend id.
        self.assertEqual(patch(proxy, "api", a.address.replace(":", "%3A"), {"weight": 2}).status,
                         200)
        for body in ["{", "[]", {}, {"state": "off"}, {"weight": -1}, {"weight": "2"},
                     {"weight": 10001}, {"state": "drain", "colour": "red"}, {"weight": True}]:
            r = patch(proxy, "api", a.address, body)
            self.assertEqual(r.status, 400, body)
            self.assertTrue(r.json()["error"], body)
        self.assertEqual(admin_call(proxy, "GET", "/pools/api/backends/" + a.address).status, 405)
        self.assertEqual(admin_call(proxy, "GET", "/reload").status, 405)
        self.assertEqual(admin_call(proxy, "POST", "/status").status, 405)
        big = {"state": "drain", "pad": "x" * 100000}
        r = patch(proxy, "api", a.address, big)
        self.assertEqual(r.status, 413)
        self.assertIsNone(status_entry(proxy, "api", a)["operator"].get("state"))


class AdminSecurity(harness.ProxyTestCase):
    def token_file(self, token):
        path = os.path.join(self.tmp, "token")
        with open(path + ".new", "w") as f:
            f.write(token + "\n")
        os.replace(path + ".new", path)
        return path

    def test_token_needed_and_rotated_at_reload(self):
        a = self.start_backend("a")
        path = self.token_file("first-secret")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a)}).replace(
            "admin:\n", "admin:\n  token_file: %s\n" % path))
        self.assertEqual(patch(proxy, "api", a.address, {"weight": 2}).status, 401)
        r = patch(proxy, "api", a.address, {"weight": 2}, token="wrong")
        self.assertEqual(r.status, 401)
        self.assertEqual(r.header("WWW-Authenticate"), "Bearer")
        self.assertEqual(patch(proxy, "api", a.address, {"weight": 2}, token="first-secre").status,
                         401)
        self.assertEqual(admin_call(proxy, "POST", "/reload").status, 401)
        self.assertEqual(patch(proxy, "api", a.address, {"weight": 2}, token="first-secret").status,
                         200)
        self.assertEqual(proxy.admin("/status").status, 200)  # reads stay open
        self.token_file("second-secret")
        self.assertEqual(admin_call(proxy, "POST", "/reload", token="first-secret").status, 200)
        self.assertEqual(patch(proxy, "api", a.address, {"weight": 3}, token="first-secret").status,
                         401)
        self.assertEqual(
            patch(proxy, "api", a.address, {"weight": 3}, token="second-secret").status, 200)
        # An unreadable token file refuses the reload; the running token stays.
        os.unlink(path)
        r = admin_call(proxy, "POST", "/reload", token="second-secret")
        self.assertEqual(r.status, 400)
        self.assertIn("token_file", r.text)
        self.assertEqual(
            patch(proxy, "api", a.address, {"weight": 4}, token="second-secret").status, 200)

    def test_no_token_file_off_loopback_refuses_mutations(self):
        a = self.start_backend("a")
        text = self.config(pools={"api": self.pool(a)})
        text = text.replace("127.0.0.1:%d" % self.admin_port, "0.0.0.0:%d" % self.admin_port)
        proxy = self.start_proxy(text)
        r = patch(proxy, "api", a.address, {"state": "drain"})
        self.assertEqual(r.status, 403)
        self.assertIn("token_file", r.json()["error"])
        self.assertEqual(admin_call(proxy, "POST", "/reload").status, 403)
        self.assertEqual(status_entry(proxy, "api", a)["operator"], None)


if __name__ == "__main__":
    harness.main()
