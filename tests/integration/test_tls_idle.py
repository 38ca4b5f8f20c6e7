#!/usr/bin/env python3
"""10,000 idle TLS keep-alive connections held at once: each made a request, all stay open
(the listener's connection gauge says so), each still serves a request afterwards, and the
proxy's memory per idle TLS connection stays small (SSL_MODE_RELEASE_BUFFERS, buffers given
back while idle)."""

import time
import unittest

import harness
from metrics_util import parse
from test_abuse import raise_nofile
from tls_certs import TlsTestCase

CONNECTIONS = 10000


class TlsIdle(TlsTestCase):
    @unittest.skipUnless(raise_nofile(CONNECTIONS + 500),
                         "needs %d descriptors (ulimit -Hn)" % (CONNECTIONS + 500))
    def test_ten_thousand_idle_tls_connections_are_held_and_serve(self):
        proxy = self.start([self.make_cert(["a.test"])], listener={
            "max_connections": CONNECTIONS + 100, "timeouts": {"idle": "300s"}})
        ctx = self.context()
        request = b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n"
        warm = [self.handshake(proxy, "a.test", ctx) for _ in range(50)]
        for s in warm:
            self.assertEqual(self.get_over(s, "/").status, 200)
            s.close()
        time.sleep(0.5)
        before = proxy.rss_kib()
        conns = []
        self.addCleanup(lambda: [c.close() for c in conns])
        deadline = time.monotonic() + 300 * harness.SLOWDOWN
        for i in range(CONNECTIONS):
            s = self.handshake(proxy, "a.test", ctx)
            conns.append(s)
            s.sendall(request)
            r = harness.read_response(s.makefile("rb"))
            self.assertEqual(r.status, 200, "connection %d" % i)
            self.assertLess(time.monotonic(), deadline, "only %d connections in time" % i)

        def gauge():
            samples, _ = parse(proxy.admin("/metrics").text)
            return sum(v for (n, l), v in samples.items()
                       if n == "outrigger_downstream_connections")
        harness.wait_until(lambda: gauge() == CONNECTIONS, 10,
                           what="%d open connections in the gauge" % CONNECTIONS)
        per = (proxy.rss_kib() - before) / CONNECTIONS
        print("RSS per idle TLS connection: %.1f KiB" % per)
        if not harness.SANITIZER:  # a sanitizer's shadow memory and redzones are not ours
            self.assertLess(per, 48, "KiB of RSS per idle TLS connection")
        # Every one still works: a second request on every 100th.
        for s in conns[::100]:
            s.sendall(request)
            self.assertEqual(harness.read_response(s.makefile("rb")).status, 200)


if __name__ == "__main__":
    harness.main()
