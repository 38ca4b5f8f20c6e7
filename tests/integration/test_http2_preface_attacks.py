#!/usr/bin/env python3
"""The start of an HTTP/2 connection written badly (issue 15): the h2c preface one byte at a
time, followed by garbage or cut by EOF; a client silent mid-preface or mid-handshake
against the header timeout, or pinging to stretch it; many short connections at once.

Each test checks the answers a client gets and that the proxy settles: its in-flight gauges
return to zero and a new client is still served. Run under ASan, the harness fails a test
whose proxy printed a sanitizer report."""

import socket
import ssl
import threading
import time

import harness
from h2_client import PREFACE, RawH2, connect
from h2_stream_case import StreamCase


class Http2PrefaceAttacks(StreamCase):
    def test_preface_in_one_byte_writes(self):
        self.start()
        c = self.client()
        msg = PREFACE + c.settings() + c.headers(1, self.hdrs("/"), end_stream=True)
        for i in range(len(msg)):
            c.send(msg[i:i + 1])
        self.assertTrue(c.read_until(lambda c: self.ended(c, 1), 10))
        self.assertEqual(c.status_of(1), 200)

    def test_preface_then_garbage_is_cut(self):
        self.start()
        c = self.client()
        c.send(PREFACE + b"\x00\x00\x05\xff\x00garbage-garbage-garbage" * 10)
        self.assertTrue(c.wait_closed(10), "a garbage connection stayed open")
        self.assert_settles()

    def test_preface_cut_by_eof_closes(self):
        self.start()
        for cut in (3, len(PREFACE) - 1):
            s = socket.create_connection((harness.LOOPBACK, self.server.port), timeout=10)
            self.addCleanup(s.close)
            s.sendall(PREFACE[:cut])
            s.shutdown(socket.SHUT_WR)
            # The rest can never come: the proxy closes (within far less than its idle timeout).
            t0 = time.monotonic()
            harness.read_until_closed(s, timeout=5)
            self.assertLess(time.monotonic() - t0, 4 * harness.SLOWDOWN)
        self.assert_settles()

    def test_silent_after_part_of_the_preface_or_the_handshake(self):
        # h2c after half the preface, TLS (ALPN h2) after the handshake or half the preface:
        # the header timeout ends each.
        for tls in (False, True):
            self.start(tls=tls, listener={"timeouts": {"header": "1s", "idle": "60s"}})
            socks = []
            for cut in ((0, len(PREFACE) // 2) if tls else (len(PREFACE) // 2,)):
                s = connect(self.server.port, tls)
                self.addCleanup(s.close)
                if cut:
                    s.sendall(PREFACE[:cut])
                socks.append(s)
            t0 = time.monotonic()
            for s in socks:
                try:
                    harness.read_until_closed(s, timeout=10)
                except ssl.SSLError:  # TLS closed without close_notify: closed all the same
                    pass
            self.assertLess(time.monotonic() - t0, 8 * harness.SLOWDOWN)
            self.assert_settles()
            self.server.proxy.stop()

    def test_pings_without_a_request_do_not_extend_the_header_timeout(self):
        self.start(listener={"timeouts": {"header": "1s", "idle": "60s"}})
        c = self.client()
        c.preface()
        end = harness.deadline(10)
        while not c.closed and time.monotonic() < end:
            c.send(c.ping())
            c.read(0.3)
        self.assertTrue(c.closed, "PINGs kept a connection without a request open")
        self.assertIsNotNone(c.goaway)

    def test_http1_then_h2c_on_the_next_connection(self):
        self.start()
        r = harness.request(self.server.port, path="/", timeout=10)
        self.assertEqual(r.status, 200)
        self.assert_settles()

    def test_tls_client_stops_mid_handshake(self):
        self.start(tls=True, listener={"timeouts": {"header": "1s"}})
        s = socket.create_connection((harness.LOOPBACK, self.server.port), timeout=10)
        self.addCleanup(s.close)
        # A ClientHello's first bytes only.
        s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        harness.read_until_closed(s, timeout=5 * harness.SLOWDOWN)
        self.assert_settles()

    def test_many_short_connections_at_once(self):
        self.start()
        errors = []

        def one(i):
            try:
                c = RawH2(self.server.port, False)
                try:
                    c.preface()
                    c.send(c.headers(1, self.hdrs("/blob/s%d?n=1000" % i), end_stream=True)
                           + c.headers(3, self.hdrs("/slow?ms=50"), end_stream=True))
                    if i % 2:
                        c.read_until(lambda c: self.ended(c, 1), 10)
                finally:
                    c.close()
            except Exception as e:  # noqa: BLE001 - collected for the assertion
                errors.append(repr(e))
        for _ in range(3):
            threads = [threading.Thread(target=one, args=(i,)) for i in range(60)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30 * harness.SLOWDOWN)
        self.assertEqual(errors, [])
        self.assert_settles(timeout=20)


if __name__ == "__main__":
    harness.main()
