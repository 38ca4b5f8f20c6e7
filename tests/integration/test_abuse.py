#!/usr/bin/env python3
"""Abuse limits: slowloris, connection floods, running out of descriptors, large bodies.

Each test holds a bounded number of sockets, raises this process's descriptor limit only
as far as its hard limit allows (skipping when that is too low), and closes everything it
opened.
"""

import os
import resource
import select
import socket
import time
import unittest

import harness
import metrics_util

IDLE_CONNECTIONS = 3000


def raise_nofile(want):
    """Raises RLIMIT_NOFILE's soft limit to `want` if the hard limit (or root) allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= want:
        return True
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))
        return True
    except (ValueError, OSError):
        if hard >= want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            return True
        return False


def cpu_seconds(pid):
    """User + system CPU time the process has used so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def answered_within(sock, seconds):
    """True if the peer sent something (or closed) within `seconds`."""
    poller = select.poll()  # not select(): descriptors here may be above FD_SETSIZE
    poller.register(sock, select.POLLIN | select.POLLHUP | select.POLLERR)
    return bool(poller.poll(seconds * 1000))


class Slowloris(harness.ProxyTestCase):
    def test_a_head_trickled_one_byte_a_second_is_cut_off_by_the_header_timeout(self):
        a = self.start_backend("a")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a)},
                                             listener={"timeouts": {"header": "2s"}}))
        sock, _ = self.open_raw(proxy)
        head = b"GET / HTTP/1.1\r\nHost: test\r\nX-Slow: " + b"a" * 100 + b"\r\n\r\n"
        start = time.monotonic()
        sent = 0
        answer = b""
        # Each byte arrives well within any per-read timeout; only a deadline on the whole
        # head stops this. Bounded: the proxy must answer long before the head is complete.
        while sent < len(head):
            sock.sendall(head[sent:sent + 1])
            sent += 1
            if answered_within(sock, 1.0):
                answer = harness.read_until_closed(sock, timeout=5)
                break
        elapsed = time.monotonic() - start
        self.assertRegex(answer, rb"^HTTP/1\.1 408 ", "got %r after %d bytes" % (answer[:200], sent))
        self.assertLess(sent, 10 * harness.SLOWDOWN, "the header timeout let a trickle go on")
        self.assertGreaterEqual(elapsed, 1.9, "408 came before timeouts.header")
        self.assertEqual(a.stats()["requests"], 1, "the trickled request reached the backend")


class IdleConnections(harness.ProxyTestCase):
    def test_3000_idle_connections_do_not_stop_a_new_request_from_being_served(self):
        # The proxy (a child: it inherits our limit) holds 3000 client sockets, and so do we.
        if not raise_nofile(2 * IDLE_CONNECTIONS + 1024):
            self.skipTest("RLIMIT_NOFILE's hard limit %d is below %d"
                          % (resource.getrlimit(resource.RLIMIT_NOFILE)[1], 2 * IDLE_CONNECTIONS + 1024))
        a = self.start_backend("a")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a)}, workers=2,
                                             listener={"timeouts": {"header": "60s"}}))
        idle = []
        self.addCleanup(lambda: [s.close() for s in idle])
        for _ in range(IDLE_CONNECTIONS):
            idle.append(socket.create_connection((harness.LOOPBACK, proxy.port),
                                                 timeout=10 * harness.SLOWDOWN))
        # Every one is accepted and held (not sitting in the backlog).
        harness.wait_until(lambda: len(os.listdir("/proc/%d/fd" % proxy.pid)) >= IDLE_CONNECTIONS,
                           timeout=20, what="the proxy to accept the idle connections")
        r = proxy.get("/", timeout=10)
        self.assertEqual((r.status, r.body), (200, b"hello from a\n"))
        # None of the idle ones was dropped to make room.
        self.assertFalse(any(answered_within(s, 0) for s in idle[:50] + idle[-50:]))


class MaxConnections(harness.ProxyTestCase):
    def test_at_max_connections_new_clients_wait_in_the_backlog_until_one_closes(self):
        a = self.start_backend("a")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a)},
                                             listener={"max_connections": 2}))
        held = []
        for _ in range(2):  # served, so accepted; then kept alive, idle
            sock, held_rfile = self.open_raw(proxy)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
            self.assertEqual(harness.read_response(held_rfile).status, 200)
            held.append(sock)
        first, second = held
        # The kernel completes the handshake (backlog); the proxy does not accept, so the
        # request is neither answered nor refused...
        waiting, rfile = self.open_raw(proxy)
        waiting.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        self.assertFalse(answered_within(waiting, 1.0),
                         "a third connection was served (or closed) at max_connections: 2")
        self.assertEqual(a.stats()["requests"], 3)  # the two served, and this /stats
        # ...until a connection closes: then it is accepted and served.
        first.close()
        r = harness.read_response(rfile)
        self.assertEqual((r.status, r.body), (200, b"hello from a\n"))
        # The one held throughout was never cut.
        self.assertFalse(answered_within(second, 0))


class DescriptorExhaustion(harness.ProxyTestCase):
    FD_LIMIT = 64

    def test_accept_backs_off_without_spinning_when_descriptors_run_out(self):
        a = self.start_backend("a")
        text = self.config(pools={"api": self.pool(a)}, listener={"timeouts": {"header": "60s"}})
        # The proxy inherits our limits: start it under a small one, then restore ours.
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.FD_LIMIT, hard))
        try:
            proxy = self.start_proxy(text)
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        self.assertEqual(proxy.get("/").status, 200)

        flood = []
        self.addCleanup(lambda: [s.close() for s in flood])
        for _ in range(2 * self.FD_LIMIT):
            flood.append(socket.create_connection((harness.LOOPBACK, proxy.port),
                                                  timeout=10 * harness.SLOWDOWN))
        harness.wait_until(lambda: "accept failed" in proxy.stderr(),
                           timeout=10, what="the proxy to run out of descriptors")
        # Connections wait in the backlog; a listener that retried at once would burn a
        # whole CPU here (measured: CPU time, not wall time, so a busy machine cannot fake it).
        before = cpu_seconds(proxy.pid)
        time.sleep(2.0)
        used = cpu_seconds(proxy.pid) - before
        self.assertLess(used, 0.5, "the proxy used %.2fs of CPU in 2s while out of descriptors"
                        % used)
        self.assertEqual(proxy.stderr().count("accept failed"), 1,
                         "the accept failure should be logged once per burst:\n" + proxy.stderr())

        # Once descriptors are free again, it accepts again.
        for s in flood:
            s.close()
        flood.clear()
        harness.wait_until(lambda: proxy.get("/", timeout=5).status == 200, timeout=15,
                           what="the proxy to serve again after the flood")


class MaxBody(harness.ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.backend = self.start_backend("a")
        pool = self.pool(self.backend)
        self.proxy = self.start_proxy(self.config(
            pools={"api": pool},
            routes=[{"path_prefix": "/echo", "pool": "api", "max_body": "1KiB"},
                    {"path_prefix": "/", "pool": "api"}]))

    def complete_requests(self):
        return [r for r in self.backend.stats()["complete"] if not r[1].startswith("/stats")]

    def send(self, wire):
        sock, rfile = self.open_raw(self.proxy)
        sock.sendall(wire)
        return harness.read_response(rfile), sock

    def test_a_body_of_exactly_max_body_is_forwarded(self):
        r = self.proxy.request("POST", "/echo", body=b"x" * 1024)
        self.assertEqual((r.status, len(r.body)), (200, 1024))

    def test_a_content_length_over_max_body_is_a_413_before_anything_goes_upstream(self):
        r, sock = self.send(b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 1025\r\n\r\n")
        self.assertEqual(r.status, 413, r)
        self.assertEqual(r.header("Connection"), "close")
        harness.read_until_closed(sock)
        self.assertEqual(self.complete_requests(), [])

    def test_the_default_max_body_is_10_mib(self):
        r, _ = self.send(b"POST / HTTP/1.1\r\nHost: test\r\nContent-Length: %d\r\n\r\n"
                         % (10 * 1024 * 1024 + 1))
        self.assertEqual(r.status, 413, r)
        r = self.proxy.request("POST", "/", body=b"y" * (10 * 1024 * 1024))
        self.assertEqual((r.status, r.body), (200, b"hello from a\n"))
        self.assertEqual(self.complete_requests(), [["POST", "/", 10 * 1024 * 1024]])
        samples, _ = metrics_util.scrape(self.proxy)
        self.assertEqual(metrics_util.value(samples, "outrigger_downstream_limit_hits_total",
                                            listener="web", limit="max_body"), 1)
        self.assertEqual(metrics_util.value(samples, "outrigger_downstream_limit_hits_total",
                                            listener="web", limit="header_timeout"), 0)

    def test_a_chunked_body_growing_past_max_body_is_a_413_and_never_completes_upstream(self):
        chunk = b"200\r\n" + b"z" * 0x200 + b"\r\n"  # 512 bytes a chunk: the third is too many
        r, sock = self.send(b"POST /echo HTTP/1.1\r\nHost: test\r\n"
                            b"Transfer-Encoding: chunked\r\n\r\n" + chunk * 3 + b"0\r\n\r\n")
        self.assertEqual(r.status, 413, r)
        harness.read_until_closed(sock)
        self.assertEqual(self.complete_requests(), [])


if __name__ == "__main__":
    unittest.main()
