#!/usr/bin/env python3
"""Large responses stream through with backpressure: a slow reader keeps the proxy small."""

import sys
import time
import unittest

import harness

MIB = 1024 * 1024
GIB = 1024 * MIB
RSS_LIMIT_KIB = 64 * 1024
READ_RATE = 48 * MIB  # bytes per second the slow client reads
BLOCK = 256 * 1024
_PATTERN = bytes(range(256)) * (BLOCK // 256 + 2)  # byte i of a /bytes body is i % 256


class SlowReader(harness.ProxyTestCase):
    def check_rss(self, kib, when):
        # A sanitizer's shadow memory and quarantine say nothing about our buffering.
        if not harness.SANITIZER:
            self.assertLess(kib, RSS_LIMIT_KIB, "proxy VmRSS %d KiB %s" % (kib, when))

    def stream(self, proxy, n, mode, time_limit):
        """Reads /bytes?n=N through the proxy at READ_RATE; returns the peak VmRSS in KiB."""
        sock = proxy.raw(timeout=20)
        self.addCleanup(sock.close)
        sock.setsockopt(harness.socket.SOL_SOCKET, harness.socket.SO_RCVBUF, 256 * 1024)
        rfile = sock.makefile("rb", buffering=BLOCK)
        sock.sendall(b"GET /bytes?n=%d&mode=%s HTTP/1.1\r\nHost: test\r\n\r\n" % (n, mode.encode()))
        head = []
        for _ in range(100):
            line = rfile.readline(65536)
            self.assertTrue(line, "connection closed inside the response head")
            if line == b"\r\n":
                break
            head.append(line.decode("latin-1").rstrip("\r\n"))
        self.assertRegex(head[0], r"^HTTP/1\.1 200 ", head)
        chunked = any(h.lower().startswith("transfer-encoding:") and "chunked" in h.lower() for h in head)

        peak = proxy.rss_kib()
        start = time.monotonic()
        next_sample = start
        got = 0
        left_in_chunk = 0
        buf = bytearray(BLOCK)
        view = memoryview(buf)
        while got < n:
            now = time.monotonic()
            if now - start > time_limit:
                self.fail("only %d of %d bytes after %.0fs" % (got, n, time_limit))
            if now >= next_sample:
                peak = max(peak, proxy.rss_kib())
                self.check_rss(peak, "after %d MiB streamed" % (got // MIB))
                next_sample = now + 0.25
            if chunked and left_in_chunk == 0:
                size_line = rfile.readline(1024)
                if got > 0:  # the CRLF that ends the previous chunk
                    self.assertEqual(size_line, b"\r\n")
                    size_line = rfile.readline(1024)
                left_in_chunk = int(size_line.split(b";")[0], 16)
                self.assertGreater(left_in_chunk, 0, "last-chunk after %d of %d bytes" % (got, n))
            want = min(BLOCK, n - got, left_in_chunk if chunked else BLOCK)
            k = rfile.readinto(view[:want])
            self.assertTrue(k, "connection closed after %d of %d bytes" % (got, n))
            off = got % 256
            if view[:k] != _PATTERN[off:off + k]:
                self.fail("body bytes altered in the block at offset %d" % got)
            got += k
            if chunked:
                left_in_chunk -= k
            ahead = got / READ_RATE - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
        if chunked:
            self.assertEqual(rfile.readline(1024), b"\r\n")
            self.assertEqual(rfile.readline(1024), b"0\r\n")
        return max(peak, proxy.rss_kib())

    def test_streams_one_gibibyte_to_a_slow_reader_in_bounded_memory(self):
        a = self.start_backend("a")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a)}))
        peak = self.stream(proxy, GIB, "length", time_limit=60 * harness.SLOWDOWN)
        self.check_rss(peak, "at the end")
        sys.stderr.write("peak proxy VmRSS: %.1f MiB ... " % (peak / 1024))

    def test_streams_a_chunked_response_to_a_slow_reader_in_bounded_memory(self):
        a = self.start_backend("a")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a)}))
        peak = self.stream(proxy, 160 * MIB, "chunked", time_limit=30 * harness.SLOWDOWN)
        self.check_rss(peak, "at the end")


if __name__ == "__main__":
    harness.main()
