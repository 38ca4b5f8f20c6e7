#!/usr/bin/env python3
"""Control-plane defects of issue 20: names that are not UTF-8, what a reload does to the
backends it keeps (name, breaker options, a ready probe added), and the admin listener's
limits."""

import os
import re
import signal
import socket
import time
import unittest

import harness
import metrics_util

ERROR_LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<msg>.+)$", re.M)


def latin1(text):
    """The config as bytes with every "é" written in Latin-1 (0xE9), as an old editor would."""
    return text.encode("utf-8").replace("é".encode("utf-8"), b"\xe9")


def named_pool(backend, name, **extra):
    pool = {"balance": "round_robin"}
    pool.update(extra)
    pool["backends"] = [{"address": backend.address, "name": name}]
    return pool


class ControlPlane(harness.ProxyTestCase):
    # --- issue 20.3: a name that is not UTF-8 --------------------------------------------

    def test_a_latin1_backend_name_is_a_config_error_at_its_line_and_column(self):
        a = self.start_backend("a")
        # Written into the text, not through to_yaml (which would quote it as "caf\u00e9").
        text = self.config(pools={"api": named_pool(a, "placeholder")}).replace(
            "placeholder", "café")
        path = os.path.join(self.tmp, "latin1.yaml")
        with open(path, "wb") as f:
            f.write(latin1(text))
        p = harness.run_outrigger(["--check", "-c", path])
        self.assertEqual(p.returncode, 1, p.stderr)
        lines = text.splitlines()
        row = next(i for i, l in enumerate(lines) if "café" in l) + 1
        col = lines[row - 1].index("café") + 1
        errors = [m.groupdict() for m in ERROR_LINE.finditer(p.stderr)]
        self.assertTrue(any(e["file"] == path and int(e["line"]) == row and int(e["col"]) == col
                            and "UTF-8" in e["msg"] for e in errors),
                        "want %s:%d:%d: ... UTF-8:\n%s" % (path, row, col, p.stderr))

    def test_a_reload_to_a_latin1_name_is_refused_and_status_keeps_answering(self):
        a = self.start_backend("a")
        text = self.config(pools={"api": named_pool(a, "a")},
                           listener={"routes": [{"path_prefix": "/", "pool": "api"}]})
        proxy = self.start_proxy(text)
        with open(proxy.config_path, "wb") as f:
            f.write(latin1(text.replace("name: a", "name: café").replace("  web:", "  wéb:")))
        proxy.signal(signal.SIGHUP)
        proxy.wait_log(r"reload refused")
        self.assertIn("not valid UTF-8", proxy.stderr())
        for path in ("/status", "/scaling", "/metrics"):
            self.assertEqual(proxy.admin(path).status, 200, path)
        self.assertEqual(proxy.get("/").status, 200)
        self.assertIsNone(proxy.proc.poll())

    # --- issue 20.5: a reload applies name and breaker options to kept backends ----------

    def test_a_reload_renames_a_kept_backend_and_applies_its_new_breaker_options(self):
        a = self.start_backend("a")
        breaker = {"consecutive_failures": 5, "open_for": "30s"}
        text = self.config(pools={"api": named_pool(a, "old-name", circuit_breaker=breaker,
                                                    retries={"attempts": 0})})
        proxy = self.start_proxy(text)
        self.assertEqual(proxy.get("/").status, 200)
        proxy.reload(text.replace("old-name", "new-name")
                     .replace("consecutive_failures: 5", "consecutive_failures: 1"))
        proxy.wait_log(r"reloaded ")
        backends = proxy.admin("/status").json()["pools"]["api"]["backends"]
        self.assertEqual([b["backend"] for b in backends], ["new-name"], backends)
        self.assertEqual(proxy.get("/").status, 200)
        samples, _ = metrics_util.scrape(proxy)
        labels = {dict(k[1]).get("backend") for k in samples if "backend" in dict(k[1])}
        self.assertIn("new-name", labels)
        self.assertNotIn("old-name", labels)

        a.get("/control/fail?code=503")
        self.assertEqual(proxy.get("/").status, 503)
        # One failure now opens it (it took five before the reload).
        harness.wait_until(
            lambda: proxy.admin("/status").json()["pools"]["api"]["backends"][0]["circuit"]
            == "open", 2.0, what="the circuit to open after one failure")
        self.assertIn("backend new-name: circuit opened", proxy.stderr())

    # --- issue 20.6: adding a ready probe does not take serving backends out -------------

    def test_a_reload_adding_a_ready_probe_keeps_serving_backends_in(self):
        a, b = self.start_backend("a"), self.start_backend("b")
        text = self.config(pools={"api": self.pool(a, b)}, workers=2)
        proxy = self.start_proxy(text)
        self.assertEqual(proxy.get("/").status, 200)
        # The probe answers after 0.8 s: before the fix both backends were unready that long.
        health = ("    health:\n      ready:\n        path: /slow?ms=800\n"
                  "        interval: 5s\n        timeout: 3s\n")
        proxy.reload(text.replace("    backends:\n", health + "    backends:\n", 1))
        proxy.wait_log(r"reloaded ")
        statuses = []
        end = time.monotonic() + 0.6
        while time.monotonic() < end:
            statuses.append(proxy.get("/").status)
        self.assertGreater(len(statuses), 5)
        self.assertEqual([s for s in statuses if s != 200], [], "right after the reload")

    # --- issue 20.9: ip_hash's table, built once and shared by the workers ----------------

    def test_ip_hash_sends_a_client_to_one_backend_whichever_worker_serves_it(self):
        backends = [self.start_backend(n) for n in ("a", "b", "c")]
        text = self.config(pools={"api": dict(self.pool(*backends), balance="ip_hash")},
                           workers=2)
        proxy = self.start_proxy(text)
        seen = {proxy.get("/").header("X-Backend") for _ in range(20)}  # new connection each
        self.assertEqual(len(seen), 1, seen)
        proxy.reload(text.replace("balance: ip_hash", "balance: ip_hash\n    slow_start: 0s"))
        proxy.wait_log(r"reloaded ")
        self.assertEqual({proxy.get("/").header("X-Backend") for _ in range(20)}, seen)

    # --- issue 13.19: the admin listener is bounded --------------------------------------

    def test_the_admin_listener_refuses_an_oversized_head(self):
        a = self.start_backend("a")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a)}))
        r = harness.request(proxy.admin_port, path="/status",
                            headers={"X-Big": "x" * (64 * 1024)})
        self.assertIn(r.status, (400, 413, 431), r)
        self.assertEqual(proxy.admin("/status").status, 200)

    def test_the_admin_listener_refuses_a_request_body(self):
        a = self.start_backend("a")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a)}))
        r = harness.request(proxy.admin_port, path="/status", body=b"x" * 100)
        self.assertIn(r.status, (400, 413), r)

    # --- issue 20.11 ----------------------------------------------------------------------

    def test_a_leading_wildcard_host_routes_subdomains(self):
        a, b = self.start_backend("a"), self.start_backend("b")
        routes = [{"path_prefix": "/", "host": "*.example.com", "pool": "wild"},
                  {"path_prefix": "/", "pool": "other"}]
        proxy = self.start_proxy(self.config(
            pools={"wild": self.pool(a), "other": self.pool(b)}, routes=routes))
        self.assertEqual(proxy.get("/", headers={"Host": "www.example.com"}).header("X-Backend"),
                         "a")
        self.assertEqual(proxy.get("/", headers={"Host": "example.com"}).header("X-Backend"), "b")

    def test_max_connections_below_the_worker_count_is_refused(self):
        a = self.start_backend("a")
        text = self.config(pools={"api": self.pool(a)}, workers=2,
                           listener={"max_connections": 1})
        proxy = self.start_proxy(text, wait_ready=False)
        self.assertEqual(proxy.wait(10), 1, proxy.stderr())
        self.assertIn("listeners.web.max_connections: 1 is below the 2 workers", proxy.stderr())

    def test_a_sighup_while_draining_is_logged(self):
        a = self.start_backend("a")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a)},
                                             drain={"delay": "3s"}))
        proxy.signal(signal.SIGTERM)
        proxy.wait_log(r"draining: not ready any more")
        proxy.signal(signal.SIGHUP)
        proxy.wait_log(r"reload ignored: draining")

    def test_a_removed_listener_loses_its_limit_series(self):
        a = self.start_backend("a")
        text = self.config(pools={"api": self.pool(a)})
        extra = harness.free_port()
        added = text.replace("pools:", "  extra:\n    listen: 127.0.0.1:%d\n    routes:\n"
                             "      - pool: api\npools:" % extra, 1)
        proxy = self.start_proxy(added)
        r = harness.request(extra, path="/", headers={"X-Big": "x" * (64 * 1024)})
        self.assertEqual(r.status, 431, r)

        def extra_series():
            samples, _ = metrics_util.scrape(proxy)
            return [k for k in samples if k[0] == "outrigger_downstream_limit_hits_total"
                    and ("listener", "extra") in k[1]]

        harness.wait_until(lambda: extra_series(), 3.0, what="the extra listener's series")
        proxy.reload(text)
        proxy.wait_log(r"reloaded ")
        self.assertEqual(extra_series(), [])


if __name__ == "__main__":
    harness.main()
