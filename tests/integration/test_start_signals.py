#!/usr/bin/env python3
"""Signals during start-up: SIGHUP, SIGTERM and SIGINT are blocked from the top of main until
the handlers are in place, so a SIGHUP sent while the config loads is a reload right after
start, never the end of the process (its default action)."""

import re
import signal
import time

import harness

# Enough backends that loading and compiling the config takes a moment.
BULK_BACKENDS = 3000


def blocked_signals(pid):
    """The main thread's blocked-signal mask (SigBlk in /proc/PID/status), or None."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("SigBlk:"):
                    return int(line.split()[1], 16)
    except OSError:
        return None
    return None


def hup_bit():
    return 1 << (signal.SIGHUP - 1)


class StartSignals(harness.ProxyTestCase):
    def slow_start_config(self):
        a = self.start_backend("a")
        bulk = self.pool(*["127.0.0.1:%d" % (20000 + i) for i in range(BULK_BACKENDS)])
        return self.config(pools={"api": self.pool(a), "bulk": bulk},
                           routes=[{"path_prefix": "/bulk", "pool": "bulk"},
                                   {"path_prefix": "/", "pool": "api"}])

    def ready(self, proxy):
        try:
            return proxy.admin("/health/ready", timeout=1.0).status == 200
        except OSError:
            return False

    def test_sighup_during_start_up_is_a_reload_right_after_it(self):
        proxy = self.start_proxy(self.slow_start_config(), wait_ready=False)
        end = harness.deadline(15)
        while (blocked_signals(proxy.pid) or 0) & hup_bit() == 0:
            self.assertIsNone(proxy.proc.poll(), "exited during start-up:\n" + proxy.stderr())
            self.assertFalse(self.ready(proxy), "ready, and SIGHUP was never blocked during "
                             "start-up: one sent then would have ended the process")
            self.assertLess(time.monotonic(), end, "SIGHUP never blocked during start-up")
            time.sleep(0.001)
        sent = 0
        while (blocked_signals(proxy.pid) or 0) & hup_bit():  # still starting
            self.assertIsNone(proxy.proc.poll(),
                              "a SIGHUP during start-up ended the process:\n" + proxy.stderr())
            self.assertLess(time.monotonic(), end, "SIGHUP still blocked")
            proxy.signal(signal.SIGHUP)
            sent += 1
            time.sleep(0.002)
        proxy.wait_ready(15)
        self.assertGreater(sent, 0)
        proxy.wait_log(r"reloaded ")  # the pending SIGHUP, handled once the handlers were in
        self.assertIsNone(proxy.proc.poll())
        self.assertEqual(proxy.get("/").status, 200)
        # Past start-up, a signal no longer waits: the control thread takes it at once.
        self.assertEqual((blocked_signals(proxy.pid) or 0) & hup_bit(), 0)
        count = len(re.findall(r"reloaded ", proxy.stderr(tail=100000)))
        proxy.signal(signal.SIGHUP)
        proxy.wait_log(r"reloaded ", count=count + 1)

    def test_sigterm_during_start_up_drains_right_after_it(self):
        proxy = self.start_proxy(self.slow_start_config(), wait_ready=False)
        end = harness.deadline(15)
        while (blocked_signals(proxy.pid) or 0) & hup_bit() == 0:
            self.assertIsNone(proxy.proc.poll(), "exited during start-up:\n" + proxy.stderr())
            self.assertFalse(self.ready(proxy), "ready, and SIGTERM was never blocked")
            self.assertLess(time.monotonic(), end, "signals never blocked during start-up")
            time.sleep(0.001)
        proxy.signal(signal.SIGTERM)
        self.assertEqual(proxy.wait(timeout=15), 0, "exit status of a SIGTERM during start-up")
        self.assertIn("draining", proxy.stderr())


if __name__ == "__main__":
    harness.main()
