#!/usr/bin/env python3
"""Pipelined requests on one client connection are answered in order."""

import unittest

import harness


class Pipelining(harness.ProxyTestCase):
    def test_answers_three_pipelined_requests_in_order(self):
        a = self.start_backend("a")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a)}))
        sock, rfile = self.open_raw(proxy)
        # The first is the slowest, so answering in completion order would be caught.
        sock.sendall(b"GET /slow?ms=300 HTTP/1.1\r\nHost: test\r\n\r\n"
                     b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 6\r\n\r\nsecond"
                     b"GET /status?code=201 HTTP/1.1\r\nHost: test\r\n\r\n")
        answers = [harness.read_response(rfile) for _ in range(3)]
        self.assertEqual([(r.status, r.body) for r in answers],
                         [(200, b"slow from a\n"), (200, b"second"), (201, b"status 201 from a\n")])

    def test_answers_pipelined_requests_whose_heads_straddle_segments(self):
        a = self.start_backend("a")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a)}))
        sock, rfile = self.open_raw(proxy)
        # The second request's head starts in the same segment as the first's end.
        wire = (b"GET /?n=1 HTTP/1.1\r\nHost: test\r\n\r\nGET /?n=2 HTTP/1.1\r\nHo"
                , b"st: test\r\n\r\nGET /?n=3 HTTP/1.1\r\nHost: test\r\n\r\n")
        sock.sendall(wire[0])
        first = harness.read_response(rfile)
        sock.sendall(wire[1])
        rest = [harness.read_response(rfile) for _ in range(2)]
        self.assertEqual([r.status for r in [first] + rest], [200, 200, 200])

    def test_answers_pipelined_requests_spread_over_two_backends_in_order(self):
        a = self.start_backend("a", delay=0.2)
        b = self.start_backend("b")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a, b)}))
        sock, rfile = self.open_raw(proxy)
        sock.sendall(b"GET /?i=1 HTTP/1.1\r\nHost: test\r\n\r\n" * 4)
        names = [harness.read_response(rfile).header("X-Backend") for _ in range(4)]
        self.assertEqual(sorted(names), ["a", "a", "b", "b"], names)
        for first, second in zip(names, names[1:]):
            self.assertNotEqual(first, second, names)


if __name__ == "__main__":
    harness.main()
