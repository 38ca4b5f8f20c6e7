#!/usr/bin/env python3
"""Requests waiting on basic_auth's password checker while their clients pipeline, leave,
send bodies and 100-continue, and while the users file is reloaded or the proxy stops. Every
request gets exactly one answer, in order, and only the authorized ones reach the backend,
without the client's Authorization."""

import signal
import socket
import threading
import time
import unittest

import harness
from plugin_wait_case import (basic, bcrypt_hash, get_bytes, PasswordWaitCase, rst_close)


class PasswordWaits(PasswordWaitCase):
    def test_pipelined_requests_behind_checks_are_answered_in_order(self):
        """Pipelined: right password (checked), wrong one, none, right again (remembered):
        200, 401, 401, 200 in order, and only the two 200s reach the backend, without the
        client's Authorization."""
        proxy = self.start_with([self.auth({"alice": bcrypt_hash("right", 10)})])
        sock, rfile = self.open_raw(proxy)
        good = ("Authorization: %s\r\n" % basic("alice", "right")).encode()
        bad = ("Authorization: %s\r\n" % basic("alice", "wrong")).encode()
        sock.sendall(get_bytes("/headers?i=0", good) + get_bytes("/headers?i=1", bad)
                     + get_bytes("/headers?i=2") + get_bytes("/headers?i=3", good))
        got = self.read_responses(rfile, 4)
        self.assertEqual([r.status for r in got], [200, 401, 401, 200])
        for r in (got[0], got[3]):
            names = [n.lower() for n, _ in r.json()["headers"]]
            self.assertNotIn("authorization", names)
        self.assertEqual(self.targets(), ["/headers?i=0", "/headers?i=3"])

    def test_pipelined_refusals_then_half_close(self):
        """Three requests with a wrong password pipelined, then the client's half-close: each
        gets its 401, in order."""
        proxy = self.start_with([self.auth({"alice": bcrypt_hash("right", 10)})])
        sock, rfile = self.open_raw(proxy)
        bad = ("Authorization: %s\r\n" % basic("alice", "wrong")).encode()
        sock.sendall(b"".join(get_bytes("/?p=%d" % i, bad) for i in range(3)))
        sock.shutdown(socket.SHUT_WR)
        got = []
        try:
            for _ in range(3):
                got.append(harness.read_response(rfile).status)
        except ConnectionError:
            pass
        self.assertEqual(got, [401, 401, 401])

    def test_large_body_refused_after_a_check(self):
        """A 1 MiB POST with a wrong password, sent whole while its head waits for the check:
        the client still reads its 401 (the body is discarded, not answered with a reset)."""
        proxy = self.start_with([self.auth({"alice": bcrypt_hash("right", 12)})])
        sock, rfile = self.open_raw(proxy)
        body = b"b" * (1 << 20)
        auth = ("Authorization: %s\r\n" % basic("alice", "wrong")).encode()
        head = get_bytes("/echo", auth + b"Content-Length: %d\r\n" % len(body), method=b"POST")
        sender = threading.Thread(target=lambda: sock.sendall(head + body), daemon=True)
        sender.start()
        r = harness.read_response(rfile)
        self.assertEqual(r.status, 401)
        sender.join(30 * harness.SLOWDOWN)
        self.assertEqual(self.targets(), [])

    def test_head_refused_after_a_check(self):
        """HEAD with a wrong password: 401 without a body; the pipelined GET after it parses."""
        proxy = self.start_with([self.auth({"alice": bcrypt_hash("right", 10)})])
        sock, rfile = self.open_raw(proxy)
        bad = ("Authorization: %s\r\n" % basic("alice", "wrong")).encode()
        sock.sendall(get_bytes("/?h", bad, method=b"HEAD") + get_bytes("/?g", bad))
        head = harness.read_response(rfile, "HEAD")
        self.assertEqual(head.status, 401)
        nxt = harness.read_response(rfile)
        self.assertEqual(nxt.status, 401)
        self.assertIn(b"401", nxt.body)

    def test_clients_that_leave_during_checks(self):
        """Clients that reset while their (right) password is checked: their requests must
        not reach the backend once the check passes; clients that close or send wrong
        passwords do not disturb the proxy, and a later client is answered. A user each, so
        that no check is answered from the cache of matches (at once, before the reset)."""
        users = {"u%d" % i: bcrypt_hash("right", 11) for i in range(8)}
        proxy = self.start_with([self.auth(users)])
        for i in range(8):
            s = proxy.raw()
            pw = "right" if i < 4 else "wrong"
            s.sendall(get_bytes("/?%s=%d" % ("reset" if i % 2 else "closed", i),
                                ("Authorization: %s\r\n" % basic("u%d" % i, pw)).encode()))
            time.sleep(0.05)  # read by the proxy, the check queued behind the others
            if i % 2:
                rst_close(s)
            else:
                s.close()
        r = proxy.get("/?after", headers={"Authorization": basic("u7", "right")}, timeout=30)
        self.assertEqual(r.status, 200)
        time.sleep(0.5 * harness.SLOWDOWN)
        reset = [t for t in self.targets() if t.startswith("/?reset")]
        self.assertEqual(reset, [], "requests of clients that reset reached the backend")

    def test_too_many_checks_at_once_get_503(self):
        """More than 64 checks queued on a worker: the rest get 503 with Retry-After at once;
        every request gets one answer."""
        proxy = self.start_with([self.auth({"alice": bcrypt_hash("right", 12)})])

        def one(i):
            return proxy.get("/?i=%d" % i, timeout=120,
                             headers={"Authorization": basic("alice", "w%d" % i)}).status

        got = self.in_threads(80, one)
        for r in got:
            self.assertNotIsInstance(r, Exception)
        self.assertEqual(set(got), {401, 503})
        self.assertGreaterEqual(got.count(503), 1)

    def test_100_continue_behind_basic_auth(self):
        """Expect: 100-continue with a right password: the 100 comes once the check passed and
        the body goes through; with a wrong one: 401 at once, and the connection closes
        without the body being forwarded."""
        proxy = self.start_with([self.auth({"alice": bcrypt_hash("right", 10)})])
        body = b"z" * 5000
        for pw, want in (("right", 200), ("wrong", 401)):
            sock, rfile = self.open_raw(proxy)
            auth = ("Authorization: %s\r\n" % basic("alice", pw)).encode()
            sock.sendall(get_bytes("/echo", auth + b"Expect: 100-continue\r\n"
                                   b"Content-Length: %d\r\n" % len(body), method=b"POST"))
            first = harness.read_response(rfile)
            if want == 200:
                self.assertEqual(first.status, 100)
                sock.sendall(body)
                r = harness.read_response(rfile)
                self.assertEqual(r.status, 200)
                self.assertEqual(r.body, body)
            else:
                self.assertEqual(first.status, 401)
                self.assertEqual(harness.read_until_closed(sock), b"")
        self.assertEqual(self.targets(), ["/echo"])

    def test_users_file_changed_and_reloaded_while_checks_wait(self):
        """A reload that changes the users file while checks wait: the waiting requests are
        answered once; later ones are checked against the new file."""
        proxy = self.start_with([self.auth({"alice": bcrypt_hash("old", 13)})])

        def one(i):
            return proxy.get("/?i=%d" % i, timeout=60,
                             headers={"Authorization": basic("alice", "old")}).status

        def during():
            self.reload_plugins(proxy, [self.auth({"alice": bcrypt_hash("new", 10)})])

        got = self.while_in_threads(4, one, during, settle=0.3, join=60)
        self.assertEqual(got, [200] * 4)
        harness.wait_until(lambda: proxy.get(
            "/", headers={"Authorization": basic("alice", "new")}).status == 200, 20,
            what="the new users file to apply")
        self.assertEqual(proxy.get("/", headers={"Authorization": basic("alice", "old")}).status,
                         401)

    def test_sigterm_while_checks_wait(self):
        """SIGTERM with checks queued: each waiting request is still answered, and the
        process exits cleanly."""
        proxy = self.start_with([self.auth({"alice": bcrypt_hash("right", 12)})])

        def one(i):
            s = proxy.raw(timeout=60)
            try:
                s.sendall(get_bytes("/?t=%d" % i, (
                    "Authorization: %s\r\n" % basic("alice", "right" if i == 0 else "w%d" % i)
                ).encode()))
                return harness.read_response(s.makefile("rb")).status
            finally:
                s.close()

        def during():
            proxy.signal(signal.SIGTERM)

        got = self.while_in_threads(6, one, during, settle=0.5, join=60)
        self.assertEqual(sorted(got), [200] + [401] * 5)
        self.assertEqual(proxy.wait(30), 0)


if __name__ == "__main__":
    unittest.main()
