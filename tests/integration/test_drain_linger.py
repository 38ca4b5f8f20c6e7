#!/usr/bin/env python3
"""SIGTERM with a keep-alive client that holds its socket open after its last response: the
process exits as soon as that response is flushed (nginx and HAProxy take < 0.05 s), not
after a linger meant for clients that may still be sending."""

import signal
import time

import harness


class DrainLinger(harness.ProxyTestCase):
    def test_exits_right_after_the_last_response_to_a_client_that_keeps_its_socket(self):
        a = self.start_backend("a")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a)},
                                             drain={"timeout": "10s"}))
        sock, rfile = self.open_raw(proxy)
        sock.sendall(b"GET /slow?ms=%d HTTP/1.1\r\nHost: x\r\n\r\n" % int(500 * harness.SLOWDOWN))
        harness.wait_until(lambda: a.stats()["slow_in_flight"] == 1, timeout=5,
                           what="the slow request to reach the backend")
        proxy.signal(signal.SIGTERM)
        r = harness.read_response(rfile)
        answered = time.monotonic()
        self.assertEqual((r.status, r.body), (200, b"slow from a\n"))
        self.assertEqual(r.header("Connection"), "close")
        # We neither close nor half-close: the proxy must not wait for us.
        self.assertEqual(proxy.wait(timeout=5), 0, "exit status after SIGTERM")
        elapsed = time.monotonic() - answered
        self.assertLess(elapsed, 0.5 * harness.TOLERANCE,
                        "exited %.2fs after its last response" % elapsed)
        self.assertEqual(rfile.read(), b"", "bytes after the last response")


if __name__ == "__main__":
    harness.main()
