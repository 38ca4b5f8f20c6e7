#!/usr/bin/env python3
"""SIGHUP reload: a new config is published without dropping a request; a broken one is
refused and the old one keeps serving; listeners are bound and closed; reloads count."""

import os
import re
import shutil
import socket
import subprocess
import time
import unittest

import harness
import metrics_util

WRK = shutil.which("wrk")


class Reload(harness.ProxyTestCase):
    def test_twenty_weight_changes_under_wrk_fail_no_request(self):
        if not WRK:
            raise unittest.SkipTest("wrk is not installed (scripts/install-deps)")
        a, b = self.start_backend("a"), self.start_backend("b")
        text = self.config(pools={"api": self.pool(a, b, weights=[1, 1])}, workers=2)
        proxy = self.start_proxy(text)
        # wrk counts a response slower than its --timeout (2 s by default) as a socket error;
        # a sanitizer build on loaded cores can take that long without failing anything.
        wrk = subprocess.Popen([WRK, "-t2", "-c16", "-d%ds" % int(8 * harness.SLOWDOWN),
                                "--timeout", "%ds" % int(2 * harness.TOLERANCE),
                                "http://127.0.0.1:%d/" % proxy.port],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.addCleanup(harness.stop_process, wrk)
        time.sleep(0.5)
        for i in range(20):
            weights = [1 + i % 5, 5 - i % 5]
            proxy.reload(text.replace("weight: 1\n", "weight: %d\n" % weights[0], 1)
                         .replace("weight: 1\n", "weight: %d\n" % weights[1], 1))
            proxy.wait_log(r"reloaded ", count=i + 1, timeout=5)
            time.sleep(0.2)
        out, _ = wrk.communicate(timeout=30 * harness.SLOWDOWN)
        self.assertEqual(wrk.returncode, 0, out)
        requests = re.search(r"(\d+) requests in", out)
        self.assertIsNotNone(requests, out)
        self.assertGreater(int(requests.group(1)), 100, out)
        self.assertNotIn("Socket errors", out)
        self.assertNotIn("Non-2xx", out)
        self.assertIn("weight: 5", proxy.config_text)

    def test_a_broken_file_is_refused_and_the_old_config_keeps_serving(self):
        a = self.start_backend("a")
        text = self.config(pools={"api": self.pool(a)})
        proxy = self.start_proxy(text)
        proxy.reload(text.replace("balance: round_robin", "balance: round_robn"))
        proxy.wait_log(r"reload refused")
        self.assertIn("did you mean `round_robin`", proxy.stderr())
        self.assertEqual(proxy.get("/").status, 200)
        proxy.reload("listeners: [\n")
        proxy.wait_log(r"reload refused", count=2)
        self.assertEqual(proxy.get("/").status, 200)
        self.assertEqual(proxy.admin("/health/ready").status, 200)
        self.assertEqual(proxy.proc.poll(), None)
        proxy.reload(text)
        proxy.wait_log(r"reloaded")
        samples, _ = metrics_util.scrape(proxy)
        self.assertEqual(metrics_util.value(samples, "outrigger_config_reloads_total",
                                            result="failure"), 2)
        self.assertEqual(metrics_util.value(samples, "outrigger_config_reloads_total",
                                            result="success"), 1)

    def test_listeners_added_and_removed_are_bound_and_closed(self):
        a = self.start_backend("a")
        text = self.config(pools={"api": self.pool(a)}, workers=2)
        proxy = self.start_proxy(text)
        extra = harness.free_port()
        added = text.replace("pools:", "  extra:\n    listen: 127.0.0.1:%d\n    routes:\n"
                             "      - pool: api\npools:" % extra, 1)
        self.assertIn("extra:", added)
        proxy.reload(added)
        proxy.wait_log(r"reloaded ")
        for _ in range(4):  # both workers' sockets serve
            self.assertEqual(harness.request(extra).status, 200)
        proxy.reload(text)
        proxy.wait_log(r"reloaded ", count=2)

        def refused():
            try:
                socket.create_connection((harness.LOOPBACK, extra), timeout=1).close()
            except ConnectionRefusedError:
                return True
            except ConnectionResetError:
                return False
            return False

        harness.wait_until(refused, timeout=5, what="the removed listener to close")
        self.assertEqual(proxy.get("/").status, 200)

    def test_a_new_listener_that_cannot_bind_refuses_the_reload(self):
        a = self.start_backend("a")
        text = self.config(pools={"api": self.pool(a)})
        proxy = self.start_proxy(text)
        taken = socket.socket()
        self.addCleanup(taken.close)
        taken.bind((harness.LOOPBACK, 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        proxy.reload(text.replace("pools:", "  extra:\n    listen: 127.0.0.1:%d\n    routes:\n"
                                  "      - pool: api\npools:" % port, 1))
        proxy.wait_log(r"reload refused, the running config stays: listeners.extra: cannot listen")
        self.assertEqual(proxy.get("/").status, 200)


if __name__ == "__main__":
    harness.main()
