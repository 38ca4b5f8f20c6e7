#!/usr/bin/env python3
"""Requests waiting on rate_limit's Redis store while their clients do what users do by
accident: pipeline, close, reset, half-close, send and abort bodies, over TLS too. Every
request gets exactly one answer, in order, and nothing refused reaches the backend.

Failing when written (see each docstring): a client that resets while its request waits is
not noticed and its request is forwarded anyway (reading is off in kPlugin); pipelined
requests behind a plugin's refusal are dropped once the client half-closed."""

import socket
import time
import unittest

import harness
from plugin_wait_case import (basic, bcrypt_hash, get_bytes, RedisWaitCase, rst_close, WAIT)


class RedisWaitClients(RedisWaitCase):
    def test_pipelined_requests_behind_waits_are_answered_in_order(self):
        """Five pipelined requests on one connection, each waiting on Redis in turn: three
        pass, two get 429, in order, and only the three reach the backend."""
        redis = self.start_redis()
        proxy = self.start_with([self.limit(redis)])
        sock, rfile = self.open_raw(proxy)
        sock.sendall(b"".join(get_bytes("/?i=%d" % i) for i in range(5)))
        got = self.read_responses(rfile, 5)
        self.assertEqual([r.status for r in got], [200, 200, 200, 429, 429])
        self.assertEqual(self.targets(), ["/?i=0", "/?i=1", "/?i=2"])
        # The connection is still usable after the 429s.
        sock.sendall(get_bytes("/?after"))
        self.assertEqual(harness.read_response(rfile).status, 429)

    def test_head_429_has_no_body_and_the_next_response_parses(self):
        """A HEAD refused after a wait: its 429 has a Content-Length but no body, so the
        pipelined GET after it reads as its own response."""
        redis = self.start_redis()
        proxy = self.start_with([self.limit(redis, rate="1/m")])
        self.assertEqual(proxy.get("/").status, 200)
        sock, rfile = self.open_raw(proxy)
        sock.sendall(get_bytes("/?h", method=b"HEAD") + get_bytes("/?g"))
        head = harness.read_response(rfile, "HEAD")
        self.assertEqual(head.status, 429)
        self.assertIsNotNone(head.header("Content-Length"))
        nxt = harness.read_response(rfile)
        self.assertEqual(nxt.status, 429)
        self.assertIn(b"429", nxt.body)

    def test_clients_that_close_or_reset_while_redis_is_stopped(self):
        """Clients gone while their question is out to a stopped Redis: those that reset are
        gone for sure, and their requests must not reach the backend once Redis answers
        (those that only closed may be half-closed, still reading: not judged). The proxy
        keeps serving after."""
        redis, proxy = self.proxy_on_a_stopped_store()
        socks = []
        for i in range(20):
            s = proxy.raw()
            s.sendall(get_bytes("/?%s=%d" % ("reset" if i % 2 else "closed", i)))
            socks.append(s)
        time.sleep(0.5 * harness.SLOWDOWN)  # the questions are out
        for i, s in enumerate(socks):
            if i % 2:
                rst_close(s)
            else:
                s.close()
        time.sleep(0.2 * harness.SLOWDOWN)
        redis.resume()
        for i in range(5):
            self.assertEqual(proxy.get("/?after=%d" % i).status, 200)
        time.sleep(0.5 * harness.SLOWDOWN)  # any late forwarding has happened by now
        reset = [t for t in self.targets() if t.startswith("/?reset")]
        self.assertEqual(reset, [], "requests of clients that reset reached the backend")

    def test_body_behind_a_wait_is_forwarded_whole(self):
        """A POST whose body trickles in while its head waits on a stopped Redis (past
        store_timeout: allowed): the backend gets the whole body, the client its echo."""
        redis = self.start_redis()
        proxy = self.start_with([self.limit(redis, rate="1000/m", store_timeout="500ms")])
        self.assertEqual(proxy.get("/?warm").status, 200)
        redis.pause()
        self.addCleanup(redis.resume)
        body = b"x" * 100000
        sock, rfile = self.open_raw(proxy)
        sock.sendall(get_bytes("/echo", b"Content-Length: %d\r\n" % len(body), method=b"POST"))
        for i in range(0, len(body), 20000):
            sock.sendall(body[i:i + 20000])
            time.sleep(0.1)
        r = harness.read_response(rfile)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, body)
        # Chunked, slow too.
        sock.sendall(get_bytes("/echo", b"Transfer-Encoding: chunked\r\n", method=b"POST"))
        for i in range(5):
            sock.sendall(b"4\r\nabcd\r\n")
            time.sleep(0.1)
        sock.sendall(b"0\r\n\r\n")
        r = harness.read_response(rfile)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"abcd" * 5)

    def test_aborted_body_behind_a_wait(self):
        """A POST's client gone mid-body while its head waits: nothing reaches the backend
        whole, and the proxy keeps serving."""
        redis = self.start_redis()
        proxy = self.start_with([self.limit(redis, rate="1000/m", store_timeout="1s")])
        self.assertEqual(proxy.get("/?warm").status, 200)
        redis.pause()
        self.addCleanup(redis.resume)
        for i in range(6):
            s = proxy.raw()
            s.sendall(get_bytes("/echo?i=%d" % i, b"Content-Length: 1000\r\n", method=b"POST")
                      + b"y" * 300)
            if i % 2:
                rst_close(s)
            else:
                s.close()
        time.sleep(1.5 * harness.SLOWDOWN)
        redis.resume()
        self.assertEqual(proxy.get("/?after").status, 200)
        self.assertEqual([t for t in self.targets() if t.startswith("/echo")], [])

    def test_pipelined_refusals_then_half_close(self):
        """Three requests pipelined, then the client's half-close, as `nc -N` or a batch
        client sends them: each gets its 429, in order, as the same requests do under a
        local (storeless) limit."""
        redis = self.start_redis()
        for plugins in ([{"rate_limit": {"key": "client_ip", "rate": "1/m"}}],
                        [self.limit(redis, rate="1/m")]):
            proxy = self.start_with(plugins)
            self.assertEqual(proxy.get("/?spend").status, 200)
            sock, rfile = self.open_raw(proxy)
            sock.sendall(b"".join(get_bytes("/?p=%d" % i) for i in range(3)))
            sock.shutdown(socket.SHUT_WR)
            got = []
            try:
                for _ in range(3):
                    got.append(harness.read_response(rfile).status)
            except ConnectionError:
                pass
            self.assertEqual(got, [429, 429, 429], plugins)

    def test_half_closed_client_gets_its_answer(self):
        """A client that sends its request and half-closes while it waits on Redis still
        reads its response."""
        redis = self.start_redis()
        proxy = self.start_with([self.limit(redis, store_timeout=WAIT)])
        self.assertEqual(proxy.get("/?warm").status, 200)
        redis.pause()
        sock, rfile = self.open_raw(proxy)
        sock.sendall(get_bytes("/?half"))
        sock.shutdown(socket.SHUT_WR)
        time.sleep(0.3 * harness.SLOWDOWN)
        redis.resume()
        r = harness.read_response(rfile)
        self.assertEqual(r.status, 200)
        self.assertEqual(self.targets(), ["/?warm", "/?half"])

    def test_two_waits_in_one_chain_pipelined(self):
        """basic_auth (a check) then rate_limit on Redis: each pipelined request waits twice;
        answers come in order, the refused ones never reach the backend."""
        redis = self.start_redis()
        users = self.users_file({"alice": bcrypt_hash("right", 10)})
        proxy = self.start_with([{"basic_auth": {"users_file": users}}, self.limit(redis)])
        sock, rfile = self.open_raw(proxy)
        good = ("Authorization: %s\r\n" % basic("alice", "right")).encode()
        bad = ("Authorization: %s\r\n" % basic("alice", "wrong")).encode()
        reqs = [good, bad, good, good, bad, good]
        sock.sendall(b"".join(get_bytes("/?i=%d" % i, a) for i, a in enumerate(reqs)))
        got = [r.status for r in self.read_responses(rfile, len(reqs))]
        self.assertEqual(got, [200, 401, 200, 200, 401, 429])
        self.assertEqual(self.targets(), ["/?i=0", "/?i=2", "/?i=3"])

    def test_tls_waits_pipelined_and_abandoned(self):
        """Over a TLS listener: pipelined requests behind Redis waits are answered in order,
        and TLS clients that leave mid-wait do not disturb the proxy."""
        redis = self.start_redis()
        cert = self.make_cert(["a.test"])
        proxy = self.start_with([self.limit(redis, rate="3/m", store_timeout="2s")],
                                listener={"tls": {"certificates": [
                                    {"cert": cert[0], "key": cert[1]}]}})
        s = self.handshake(proxy, "a.test")
        self.addCleanup(s.close)
        s.sendall(b"".join(get_bytes("/?i=%d" % i) for i in range(5)))
        rfile = s.makefile("rb")
        self.assertEqual([r.status for r in self.read_responses(rfile, 5)],
                         [200, 200, 200, 429, 429])
        redis.pause()
        for i in range(10):
            c = self.handshake(proxy, "a.test")
            c.sendall(get_bytes("/?gone=%d" % i))
            if i % 2:
                rst_close(c)
            else:
                c.close()
        redis.resume()
        s.sendall(get_bytes("/?after"))
        self.assertEqual(harness.read_response(rfile).status, 429)


if __name__ == "__main__":
    unittest.main()
