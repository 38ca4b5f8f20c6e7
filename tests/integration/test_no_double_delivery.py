#!/usr/bin/env python3
"""A request that is not idempotent reaches its backend at most once, even when the pooled
keep-alive connection it went out on dies under it; the proxy avoids sending it on a pooled
connection the backend has already closed, and still resends an idempotent one transparently.

The stale-connection cases stop the proxy (SIGSTOP) while the client's next request arrives and
then the backend closes its idle connection, so that on SIGCONT the proxy reads the request
before it notices the close: the race with a backend's keep-alive timeout, made deterministic.
"""

import os
import signal
import unittest

import harness

TORTURE_BACKEND_PY = os.path.join(harness.HERE, "torture_backend.py")


def stopped(pid):
    """Every thread of `pid` is stopped: kill() returns before they are."""
    tasks = os.listdir("/proc/%d/task" % pid)
    for tid in tasks:
        with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
            if f.read().rsplit(")", 1)[1].split()[0] != "T":
                return False
    return True


class NoDoubleDelivery(harness.ProxyTestCase):
    def test_post_reset_on_a_reused_connection_is_not_sent_again(self):
        ids = os.path.join(self.tmp, "ids.log")
        t = self.start_backend("t", script=TORTURE_BACKEND_PY, extra_args=["--id-log", ids])
        proxy = self.start_proxy(self.config(pools={"api": self.pool(t)}))
        sock, rfile = self.open_raw(proxy)
        sock.sendall(b"GET /b/ok HTTP/1.1\r\nHost: test\r\nX-Torture-Id: first\r\n\r\n")
        self.assertEqual(harness.read_response(rfile).status, 200)
        # The backend reads this one, then resets the (reused) connection without answering:
        # it may have acted on it, so it must not get it again.
        sock.sendall(b"POST /b/reset HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\n"
                     b"X-Torture-Id: once-only\r\n\r\n")
        self.assertEqual(harness.read_response(rfile).status, 502)
        with open(ids) as f:
            posts = [line.split() for line in f if line.split()[1:] == ["POST", "once-only"]]
        self.assertEqual(len(posts), 1, "the backend got the POST %d times" % len(posts))

    def _stale_pooled_connection(self, request):
        """Sends `request` on a keep-alive client connection while the proxy's pooled
        connection to the backend is closed by the backend but not yet seen closed by the
        proxy; returns the backend, its stats before and the response."""
        idle = 1.0 * harness.TOLERANCE
        a = self.start_backend("a", idle_timeout=idle)
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a)}))
        sock, rfile = self.open_raw(proxy)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        self.assertEqual(harness.read_response(rfile).status, 200)
        proxy.signal(signal.SIGSTOP)
        try:
            harness.wait_until(lambda: stopped(proxy.pid), timeout=5, what="the proxy stopping")
            sock.sendall(request)  # arrives before the backend's close
            # Only the /stats connection itself left open: the pooled one was closed.
            harness.wait_until(lambda: a.stats()["open_connections"] == 1, timeout=5 + 2 * idle,
                               what="the backend closing its idle connection")
            before = a.stats()
        finally:
            proxy.signal(signal.SIGCONT)
        return a, before, harness.read_response(rfile)

    def test_post_is_not_sent_on_a_pooled_connection_the_backend_closed(self):
        a, before, r = self._stale_pooled_connection(
            b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 3\r\n\r\nabc")
        self.assertEqual((r.status, r.body), (200, b"abc"), r)
        after = a.stats()
        self.assertEqual(after["by_path"].get("/echo", 0), 1, after)
        self.assertEqual(after["connections"] - before["connections"], 2, after)  # fresh + /stats

    def test_get_on_a_stale_pooled_connection_is_resent(self):
        a, _, r = self._stale_pooled_connection(b"GET /headers HTTP/1.1\r\nHost: test\r\n\r\n")
        self.assertEqual(r.status, 200, r)
        after = a.stats()
        self.assertEqual(after["by_path"].get("/headers", 0), 1, after)


if __name__ == "__main__":
    harness.main()
