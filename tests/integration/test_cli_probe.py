#!/usr/bin/env python3
"""`outrigger probe URL`: the container HEALTHCHECK. Exit 0 on a 2xx answer; 1 with a
message on any other status, a refused connection, a silent peer (within --timeout), or a
garbled answer; 2 on bad usage."""

import socket
import threading
import time
import unittest

import harness


class Probe(harness.ProxyTestCase):
    def probe(self, *args, timeout=20.0):
        return harness.run_outrigger(["probe"] + list(args), timeout=timeout)

    def test_2xx_is_success_and_others_fail(self):
        b = self.start_backend("a")
        r = self.probe("http://%s/health/ready" % b.address)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        r = self.probe("http://%s/status?code=204" % b.address)
        self.assertEqual(r.returncode, 0, r.stderr)
        for code in (301, 404, 503):
            r = self.probe("http://%s/status?code=%d" % (b.address, code))
            self.assertEqual(r.returncode, 1, (code, r.stderr))
            self.assertIn("status %d" % code, r.stderr)
        # The probe's request really reached the backend, with its Host and User-Agent.
        r = self.probe("http://%s/control/ready?on=0" % b.address)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.probe("http://%s/health/ready" % b.address)
        self.assertEqual(r.returncode, 1)
        self.assertIn("status 503", r.stderr)
        self.assertEqual(b.stats()["probe_headers"]["user-agent"], "outrigger-probe")
        self.assertEqual(b.stats()["probe_headers"]["host"], b.address)

    def test_a_running_proxys_admin_readiness(self):
        b = self.start_backend("a")
        self.start_proxy(self.config({"api": self.pool(b)}))
        r = self.probe("http://127.0.0.1:%d/health/ready" % self.admin_port)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.probe("http://127.0.0.1:%d/" % self.proxy_port)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_refused_connection(self):
        port = harness.free_port()
        r = self.probe("http://127.0.0.1:%d/" % port)
        self.assertEqual(r.returncode, 1)
        self.assertIn("connect", r.stderr)
        self.assertIn("refused", r.stderr.lower())

    def test_silent_peer_times_out_within_the_bound(self):
        # Accepts and never answers: the probe must give up at --timeout, not hang.
        srv = socket.socket()
        self.addCleanup(srv.close)
        srv.bind((harness.LOOPBACK, 0))
        srv.listen(4)
        port = srv.getsockname()[1]
        start = time.monotonic()
        r = self.probe("--timeout", "300ms", "http://127.0.0.1:%d/" % port)
        took = time.monotonic() - start
        self.assertEqual(r.returncode, 1)
        self.assertIn("timed out", r.stderr)
        self.assertGreaterEqual(took, 0.3)
        self.assertLess(took, 5.0 * harness.TOLERANCE)

    def test_garbled_answer(self):
        srv = socket.socket()
        self.addCleanup(srv.close)
        srv.bind((harness.LOOPBACK, 0))
        srv.listen(4)

        def answer():
            conn, _ = srv.accept()
            with conn:
                conn.recv(4096)
                conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")

        t = threading.Thread(target=answer, daemon=True)
        t.start()
        r = self.probe("http://127.0.0.1:%d/" % srv.getsockname()[1])
        t.join(10)
        self.assertEqual(r.returncode, 1)
        self.assertIn("not an HTTP/1 status line", r.stderr)

    def test_bad_usage(self):
        for args in ([], ["https://127.0.0.1/"], ["http://user@127.0.0.1/"], ["http://127.0.0.1:0/"],
                     ["http://127.0.0.1:99999/"], ["--timeout", "soon", "http://127.0.0.1/"],
                     ["http://127.0.0.1/", "extra"]):
            r = self.probe(*args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertTrue(r.stderr.startswith("outrigger probe") or "usage" in r.stderr,
                            (args, r.stderr))


if __name__ == "__main__":
    harness.main()
