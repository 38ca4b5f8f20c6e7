#!/usr/bin/env python3
"""Request smuggling and response splitting: the proxy's verdict on each ambiguous message
against what RFC 9112 / RFC 9110 require (design.md §7).

Every hostile request below carries a second request, `GET /smuggled`, right behind it in
the same write: where a front end and a back end disagree on where the first one ends, that
second request is how an attacker gets one past the proxy. Each must be answered 400, the
connection closed after that one answer, and the backend — which records every request it
read whole — must see nothing. Valid look-alikes (mixed-case `chunked`, `identity`-free
lists...) are in the table too, with the answer the RFC requires, so the table cannot pass
by the proxy refusing everything.
"""

import socket
import unittest

import harness

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: test\r\n\r\n"

# name → raw request (SMUGGLED is appended). RFC verdict: 400, close, backend sees nothing.
REJECTED = {
    # CL.TE / TE.CL: both framings (RFC 9112 §6.1: MAY reject; we must, design.md §7).
    "CL.TE": b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 6\r\n"
             b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nX",
    "TE.CL": b"POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n"
             b"Content-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n",
    "TE.CL, mixed-case TE name and value": b"POST /echo HTTP/1.1\r\nHost: test\r\n"
                                           b"tRaNsFeR-eNcOdInG: ChUnKeD\r\nContent-Length: 3\r\n"
                                           b"\r\n0\r\n\r\n",
    # TE.TE: an obfuscated Transfer-Encoding one parser honours and the other does not.
    "TE xchunked": b"POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: xchunked\r\n"
                   b"Content-Length: 5\r\n\r\nhello",
    "TE xchunked alone": b"POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: xchunked\r\n"
                         b"\r\n0\r\n\r\n",
    "TE space before colon": b"POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding : chunked\r\n"
                             b"Content-Length: 5\r\n\r\nhello",
    "TE obs-fold": b"POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding:\r\n chunked\r\n"
                   b"Content-Length: 5\r\n\r\nhello",
    "TE obs-fold, no CL": b"POST /echo HTTP/1.1\r\nHost: test\r\nX-A: b\r\n"
                          b" Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "TE chunked, identity": b"POST /echo HTTP/1.1\r\nHost: test\r\n"
                            b"Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
    "TE chunked then gzip": b"POST /echo HTTP/1.1\r\nHost: test\r\n"
                            b"Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
    "TE duplicated: chunked + identity": b"POST /echo HTTP/1.1\r\nHost: test\r\n"
                                         b"Transfer-Encoding: chunked\r\n"
                                         b"Transfer-Encoding: identity\r\n\r\n0\r\n\r\n",
    "TE duplicated: chunked twice": b"POST /echo HTTP/1.1\r\nHost: test\r\n"
                                    b"Transfer-Encoding: chunked\r\n"
                                    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "TE with a vertical tab": b"POST /echo HTTP/1.1\r\nHost: test\r\n"
                              b"Transfer-Encoding: chunked\x0b\r\n\r\n0\r\n\r\n",
    "TE in an HTTP/1.0 request": b"POST /echo HTTP/1.0\r\nHost: test\r\n"
                                 b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    # Content-Length that is not exactly 1*DIGIT, or several that disagree.
    "CL with a plus sign": b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: +5\r\n\r\nhello",
    "CL with a minus sign": b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: -5\r\n\r\nhello",
    "CL list of different values": b"POST /echo HTTP/1.1\r\nHost: test\r\n"
                                   b"Content-Length: 5, 6\r\n\r\nhello!",
    "CL duplicated, different values": b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n"
                                       b"Content-Length: 6\r\n\r\nhello!",
    "CL in hex": b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 0x5\r\n\r\nhello",
    "CL with an inner space": b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 1 5\r\n\r\nhello",
    "CL overflowing 64 bits": b"POST /echo HTTP/1.1\r\nHost: test\r\n"
                              b"Content-Length: 18446744073709551621\r\n\r\nhello",
    "CL space before colon": b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length : 5\r\n\r\nhello",
    # Invalid chunked bodies (RFC 9112 §7.1). The head is valid, so it may already have gone
    # upstream; the body never completes there and no second request appears.
    "chunk size with a sign": b"POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n"
                              b"\r\n-5\r\nhello\r\n0\r\n\r\n",
    "chunk size in 0x form": b"POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n"
                             b"\r\n0x5\r\nhello\r\n0\r\n\r\n",
    "chunk size not hex": b"POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n"
                          b"\r\nzz\r\nhello\r\n0\r\n\r\n",
    "chunk size overflowing 64 bits": b"POST /echo HTTP/1.1\r\nHost: test\r\n"
                                      b"Transfer-Encoding: chunked\r\n\r\n"
                                      b"10000000000000005\r\nhello\r\n0\r\n\r\n",
    "chunk size with leading space": b"POST /echo HTTP/1.1\r\nHost: test\r\n"
                                     b"Transfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n",
    "chunk data longer than its size": b"POST /echo HTTP/1.1\r\nHost: test\r\n"
                                       b"Transfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n",
    "chunk lines ending in bare LF": b"POST /echo HTTP/1.1\r\nHost: test\r\n"
                                     b"Transfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n",
    "chunk extension without a name": b"POST /echo HTTP/1.1\r\nHost: test\r\n"
                                      b"Transfer-Encoding: chunked\r\n\r\n5;\r\nhello\r\n0\r\n\r\n",
    # Line endings and characters a lenient parser reads differently.
    "bare LF line endings in the head": b"POST /echo HTTP/1.1\nHost: test\nContent-Length: 5\n\nhello",
    "bare CR inside a field": b"GET / HTTP/1.1\r\nHost: test\r\nX-A: one\rContent-Length: 5\r\n\r\n",
    "bare CR ending a field line": b"GET / HTTP/1.1\r\nHost: test\rX-A: one\r\n\r\n",
    "NUL in a field value": b"GET / HTTP/1.1\r\nHost: test\r\nX-A: o\x00ne\r\n\r\n",
    "NUL in a field name": b"GET / HTTP/1.1\r\nHost: test\r\nX-\x00A: one\r\n\r\n",
    "NUL in the target": b"GET /a\x00b HTTP/1.1\r\nHost: test\r\n\r\n",
    "control character (0x01) in a value": b"GET / HTTP/1.1\r\nHost: test\r\nX-A: o\x01ne\r\n\r\n",
    "DEL in a value": b"GET / HTTP/1.1\r\nHost: test\r\nX-A: o\x7fne\r\n\r\n",
    "whitespace in the target": b"GET /a b HTTP/1.1\r\nHost: test\r\n\r\n",
    "whitespace before the first field": b"GET / HTTP/1.1\r\n Host: test\r\n\r\n",
    "field name with a space": b"GET / HTTP/1.1\r\nHost: test\r\nX A: one\r\n\r\n",
    "empty field name": b"GET / HTTP/1.1\r\nHost: test\r\n: one\r\n\r\n",
    "lowercase HTTP version": b"GET / http/1.1\r\nHost: test\r\n\r\n",
    # Host (RFC 9112 §3.2): exactly one in HTTP/1.1.
    "two Host fields": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "two Host fields, different case": b"GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n",
    "no Host in HTTP/1.1": b"GET / HTTP/1.1\r\nX-A: one\r\n\r\n",
}

# name → (raw request, body the backend must read). RFC verdict: valid, forwarded whole.
ACCEPTED = {
    "chunked in mixed case (coding names are case-insensitive)": (
        b"POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: ChUnKeD\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n", b"hello"),
    "field name in mixed case": (
        b"POST /echo HTTP/1.1\r\nHost: test\r\ncOnTeNt-LeNgTh: 5\r\n\r\nhello", b"hello"),
    "OWS around a Content-Length value": (
        b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: \t5 \r\n\r\nhello", b"hello"),
    "chunk extensions and trailers": (
        b"POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;a=b\r\nhello\r\n0\r\nX-T: 1\r\n\r\n", b"hello"),
}


class RequestSmuggling(harness.ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.backend = self.start_backend("a")
        self.proxy = self.start_proxy(self.config(pools={"api": self.pool(self.backend)}))

    def complete_requests(self):
        """What the backend read whole, its own /stats requests aside."""
        return [r for r in self.backend.stats()["complete"] if not r[1].startswith("/stats")]

    def exchange(self, wire):
        """Sends wire on a new connection; returns all it is answered until the proxy closes."""
        sock, _ = self.open_raw(self.proxy)
        sock.sendall(wire)
        data = harness.read_until_closed(sock, timeout=5)
        return data

    def test_every_ambiguous_request_is_a_400_that_closes_and_reaches_no_backend(self):
        for name, wire in REJECTED.items():
            with self.subTest(case=name):
                before = self.complete_requests()
                data = self.exchange(wire + SMUGGLED)  # raises unless the proxy closes
                self.assertRegex(data, rb"^HTTP/1\.1 400 ", data[:300])
                self.assertEqual(data.count(b"HTTP/1.1 "), 1, "more than one answer: %r" % data[:600])
                self.assertIn(b"Connection: close", data.split(b"\r\n\r\n", 1)[0])
                self.assertEqual(self.complete_requests(), before,
                                 "the backend read a request: %r" % self.complete_requests())
        self.assertNotIn("/smuggled", self.backend.stats()["by_path"])

    def test_valid_look_alikes_are_forwarded_with_the_body_the_rfc_gives_them(self):
        for name, (wire, body) in ACCEPTED.items():
            with self.subTest(case=name):
                before = len(self.complete_requests())
                sock, rfile = self.open_raw(self.proxy)
                sock.sendall(wire + SMUGGLED)
                first = harness.read_response(rfile)
                self.assertEqual((first.status, first.body), (200, body), first)
                # The request behind it is a request of its own, answered in turn.
                second = harness.read_response(rfile)
                self.assertEqual(second.status, 404, second)
                got = self.complete_requests()[before:]
                self.assertEqual(got, [["POST", "/echo", len(body)], ["GET", "/smuggled", 0]])


class ResponseFraming(harness.ProxyTestCase):
    """A backend's response with invalid or ambiguous framing becomes a 502 (or, once a head
    has gone out, a cut-off body); that upstream connection is never reused; and no bytes the
    backend sent past a response's end reach any client."""

    def fetch(self, proxy, kind):
        sock, _ = self.open_raw(proxy)
        sock.sendall(b"GET /malformed?kind=%s HTTP/1.1\r\nHost: test\r\n\r\n" % kind.encode())
        sock.settimeout(1.0 * harness.SLOWDOWN)
        data = b""
        try:
            while len(data) < 65536:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except (socket.timeout, ConnectionResetError):
            pass
        return data

    def test_every_badly_framed_response_is_a_502_and_its_connection_is_dropped(self):
        for kind in ("cl-te", "te-cl", "two-cl", "cl-list", "cl-sign", "cl-hex", "space-colon",
                     "obs-fold", "nul-field", "bare-cr", "garbage"):
            with self.subTest(kind=kind):
                # A fresh pair each time, so the backend's connection count tells the story.
                a = self.start_backend(kind)
                proxy = self.start_proxy(self.config(pools={"api": self.pool(a)}))
                data = self.fetch(proxy, kind)
                self.assertRegex(data, rb"^HTTP/1\.1 502 ", data[:300])
                self.assertNotIn(b"hello", data)
                r = proxy.get("/")
                self.assertEqual((r.status, r.body), (200, b"hello from %s\n" % kind.encode()))
                # /malformed's connection, a new one for "/" (the bad one was closed, never
                # pooled) and this /stats request's own.
                self.assertEqual(a.stats()["connections"], 3)

    def test_bad_chunking_never_reaches_the_client_as_a_complete_body(self):
        a = self.start_backend("a")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a)}))
        for kind in ("bad-chunk", "chunk-overflow", "chunk-no-crlf", "chunked-twice"):
            with self.subTest(kind=kind):
                data = self.fetch(proxy, kind)
                # A 502; or, once the head is on its way, the connection cut (whatever of the
                # answer was not yet written is dropped with it): never the bad bytes, never
                # a clean end of the chunked body.
                if not data.startswith(b"HTTP/1.1 502 "):
                    self.assertNotIn(b"hello", data)
                    self.assertFalse(data.endswith(b"0\r\n\r\n"), data[:300])
                self.assertEqual(proxy.get("/").status, 200)

    def test_a_backend_cannot_answer_the_next_request_with_bytes_past_a_response(self):
        a = self.start_backend("a")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a)}))
        sock, rfile = self.open_raw(proxy)
        sock.sendall(b"GET /malformed?kind=extra HTTP/1.1\r\nHost: test\r\n\r\n")
        first = harness.read_response(rfile)
        self.assertEqual((first.status, first.body), (200, b"hello"), first)
        for _ in range(3):  # keep-alive: the next answers must come from real requests
            sock.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
            r = harness.read_response(rfile)
            self.assertIsNone(r.header("X-Smuggled"), r)
            self.assertEqual((r.status, r.body), (200, b"hello from a\n"))


if __name__ == "__main__":
    unittest.main()
