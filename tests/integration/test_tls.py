#!/usr/bin/env python3
"""TLS termination on a listener: SNI picks each name's certificate (exact, wildcard, the
default without SNI), an ECDSA and an RSA certificate for one name go by what the client
supports, TLS 1.1 and weak ciphers are refused, ALPN answers http/1.1, X-Forwarded-Proto is
https, a reload swaps certificates for new handshakes only, a broken certificate refuses the
reload (and --check names its line), wss works through the tunnel, and a client that never
finishes its handshake is cut by the header timeout.

Certificates are made by each test with the openssl CLI in its temp dir; clients are curl,
openssl s_client and Python's ssl module."""

import json
import os
import socket
import ssl
import subprocess
import time
import unittest

import harness
from tls_certs import TlsTestCase

try:
    import websockets
except ImportError:  # Debian's python3-websockets; scripts/install-deps installs it
    websockets = None


class Tls(TlsTestCase):
    def test_sni_picks_each_names_certificate_and_no_sni_gets_the_default(self):
        default = self.make_cert(["default.test"])
        a = self.make_cert(["a.test"])
        wild = self.make_cert(["*.b.test"])
        proxy = self.start([default, a, wild])
        for sni, want in (("a.test", a[2]), ("x.b.test", wild[2]), ("other.test", default[2])):
            code, out = self.s_client(proxy, "-servername", sni)
            self.assertEqual(code, 0, out)
            self.assertEqual(self.served_serial(out), want, sni)
        code, out = self.s_client(proxy, "-noservername")
        self.assertEqual(code, 0, out)
        self.assertEqual(self.served_serial(out), default[2])
        # curl --resolve, verifying against the very certificate it should get.
        for cert, name in ((a, "a.test"), (wild, "x.b.test")):
            r = subprocess.run(["curl", "-sS", "--max-time", str(10 * harness.SLOWDOWN),
                                "--cacert", cert[0],
                                "--resolve", "%s:%d:127.0.0.1" % (name, proxy.port),
                                "https://%s:%d/headers" % (name, proxy.port)],
                               capture_output=True, timeout=30 * harness.SLOWDOWN)
            self.assertEqual(r.returncode, 0, r.stderr)
            seen = json.loads(r.stdout)
            headers = {k.lower(): v for k, v in seen["headers"]}
            self.assertEqual(headers.get("x-forwarded-proto"), "https")
            self.assertEqual(headers.get("host"), "%s:%d" % (name, proxy.port))

    def test_the_access_log_has_the_version_and_server_name(self):
        log_path = os.path.join(self.tmp, "access.log")
        proxy = self.start([self.make_cert(["a.test"])],
                           listener={"access_log": {"format": "json", "path": log_path}})
        for sni, ctx in (("a.test", self.context(maximum_version=ssl.TLSVersion.TLSv1_2)),
                         (None, self.context())):
            sock = self.handshake(proxy, sni=sni, ctx=ctx)
            try:
                self.assertEqual(self.get_over(sock).status, 200)
            finally:
                sock.close()

        def lines():
            if not os.path.exists(log_path):
                return None
            with open(log_path) as f:
                got = [json.loads(line) for line in f]
            return got if len(got) >= 2 else None

        first, second = harness.wait_until(lines, 10, what="2 access log lines")
        self.assertEqual((first["tls_version"], first["sni"]), ("TLSv1.2", "a.test"))
        self.assertEqual((second["tls_version"], second["sni"]), ("TLSv1.3", None))

    def test_ecdsa_only_and_rsa_only_clients_each_get_their_certificate(self):
        ec = self.make_cert(["both.test"], "ec")
        rsa = self.make_cert(["both.test"], "rsa")
        proxy = self.start([rsa, ec])
        code, out = self.s_client(proxy, "-servername", "both.test", "-sigalgs",
                                  "ecdsa_secp256r1_sha256")
        self.assertEqual(code, 0, out)
        self.assertEqual(self.served_serial(out), ec[2])
        code, out = self.s_client(proxy, "-servername", "both.test", "-sigalgs",
                                  "rsa_pss_rsae_sha256:RSA+SHA256")
        self.assertEqual(code, 0, out)
        self.assertEqual(self.served_serial(out), rsa[2])
        # TLS 1.2 with an RSA-only suite list, too.
        code, out = self.s_client(proxy, "-servername", "both.test", "-tls1_2", "-cipher",
                                  "ECDHE-RSA-AES128-GCM-SHA256")
        self.assertEqual(code, 0, out)
        self.assertEqual(self.served_serial(out), rsa[2])

    def test_old_protocols_and_weak_ciphers_are_refused_alpn_answers(self):
        proxy = self.start([self.make_cert(["a.test"], "rsa")])
        code, out = self.s_client(proxy, "-servername", "a.test", "-tls1_1", "-cipher",
                                  "DEFAULT@SECLEVEL=0")
        self.assertNotEqual(code, 0, out)
        code, out = self.s_client(proxy, "-servername", "a.test", "-tls1_2", "-cipher",
                                  "AES128-SHA:DES-CBC3-SHA:RC4-SHA@SECLEVEL=0")
        self.assertNotEqual(code, 0, out)
        code, out = self.s_client(proxy, "-servername", "a.test", "-alpn", "h2,http/1.1")
        self.assertEqual(code, 0, out)
        self.assertIn("ALPN protocol: http/1.1", out)
        self.assertIn("TLSv1.3", out)
        # And a TLS connection serves requests, keep-alive.
        with self.handshake(proxy, "a.test") as s:
            for _ in range(3):
                r = self.get_over(s)
                self.assertEqual(r.status, 200)

    def test_min_version_13_refuses_tls12(self):
        proxy = self.start([self.make_cert(["a.test"])], tls_extra={"min_version": "1.3"})
        code, out = self.s_client(proxy, "-servername", "a.test", "-tls1_2")
        self.assertNotEqual(code, 0, out)
        code, out = self.s_client(proxy, "-servername", "a.test", "-tls1_3")
        self.assertEqual(code, 0, out)

    def test_reload_swaps_the_certificate_for_new_handshakes_only(self):
        first = self.make_cert(["a.test"], tag="site")
        proxy = self.start([first])
        old = self.handshake(proxy, "a.test")
        self.addCleanup(old.close)
        self.assertEqual(self.serial_of(old), first[2])
        second = self.make_cert(["a.test"], tag="site")  # same files, new contents
        proxy.reload(proxy.config_text)
        proxy.wait_log(r"reloaded")
        with self.handshake(proxy, "a.test") as s:
            self.assertEqual(self.serial_of(s), second[2])
            self.assertEqual(self.get_over(s).status, 200)
        self.assertEqual(self.get_over(old).status, 200)  # the old connection still works

        # A broken certificate file refuses the reload; the running certificate stays.
        with open(second[0], "w") as f:
            f.write("not a certificate\n")
        proxy.reload(proxy.config_text)
        proxy.wait_log(r"reload refused")
        self.assertRegex(proxy.stderr(), r"\.yaml:\d+:\d+: .*certificates\[0\]\.cert: .* holds no "
                                         r"PEM certificate")
        with self.handshake(proxy, "a.test") as s:
            self.assertEqual(self.serial_of(s), second[2])
            self.assertEqual(self.get_over(s).status, 200)

    def test_check_names_the_line_of_each_bad_certificate(self):
        good = self.make_cert(["a.test"])
        other = self.make_cert(["b.test"])
        expired = self.make_expired_cert("old.test")
        api = self.start_backend("api")
        text = self.config(pools={"api": self.pool(api)}, listener={"tls": {"certificates": [
            {"cert": os.path.join(self.tmp, "missing.crt"), "key": good[1]},
            {"cert": good[0], "key": other[1]},
            {"cert": expired[0], "key": expired[1]},
            {"cert": good[0], "key": good[1]},
        ], "min_version": "1.1"}})
        r = self.check_config(text)
        self.assertNotEqual(r.returncode, 0)
        err = r.stderr
        lines = text.splitlines()

        def line_of(needle, nth=0):
            hits = [i + 1 for i, l in enumerate(lines) if needle in l]
            return hits[nth]
        self.assertRegex(err, r":%d:\d+: .*certificates\[0\]\.cert: cannot open .*missing\.crt: "
                              r"No such file" % line_of("missing.crt"))
        self.assertRegex(err, r":%d:\d+: .*certificates\[1\]\.key: the private key does not match"
                         % line_of(other[1]))
        self.assertRegex(err, r":%d:\d+: .*certificates\[2\]\.cert: the certificate expired on "
                              r"2020-02-01" % line_of(expired[0]))
        self.assertRegex(err, r":%d:\d+: .*min_version: expected \"1\.2\" or \"1\.3\""
                         % line_of("min_version"))

    def test_large_bodies_both_ways_and_keep_alive_after_them(self):
        proxy = self.start([self.make_cert(["a.test"])])
        pattern = lambda n: (bytes(range(256)) * (n // 256 + 1))[:n]  # noqa: E731
        with self.handshake(proxy, "a.test") as s:
            f = s.makefile("rb")
            for n, mode in ((3 * 1024 * 1024 + 17, "length"), (1024 * 1024 + 5, "chunked"),
                            (1, "length"), (5000, "length")):
                s.sendall(b"GET /bytes?n=%d&mode=%s HTTP/1.1\r\nHost: a.test\r\n\r\n"
                          % (n, mode.encode()))
                r = harness.read_response(f)
                self.assertEqual(r.status, 200)
                self.assertTrue(r.body == pattern(n), "body of %d bytes (%s) altered" % (n, mode))
            body = os.urandom(2 * 1024 * 1024 + 3)
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: a.test\r\nContent-Length: %d\r\n\r\n"
                      % len(body) + body)
            r = harness.read_response(f)
            self.assertEqual(r.status, 200)
            self.assertTrue(r.body == body, "the echoed upload came back altered")

    @unittest.skipIf(websockets is None, "python3-websockets is not installed")
    def test_wss_through_the_tls_listener(self):
        ws = self.start_backend("ws", script=harness.WS_BACKEND_PY)
        proxy = self.start([self.make_cert(["a.test"])], backend=ws)
        self.assert_websocket_echo("wss://a.test:%d/ws" % proxy.port, 256 * 1024,
                                   host="127.0.0.1", port=proxy.port, ssl=self.context(),
                                   server_hostname="a.test")

    def test_a_partial_client_hello_is_cut_by_the_header_timeout(self):
        proxy = self.start([self.make_cert(["a.test"])],
                           listener={"timeouts": {"header": "1s"}})
        # A real ClientHello's first bytes, then one byte a little under every timeout: the
        # handshake must not restart the clock.
        hello = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = self.context().wrap_bio(hello[0], hello[1], server_hostname="a.test")
        with self.assertRaises(ssl.SSLWantReadError):
            obj.do_handshake()
        data = hello[1].read()
        s = harness.raw_connect(proxy.port)
        self.addCleanup(s.close)
        start = time.monotonic()
        s.sendall(data[:10])
        closed = None
        for b in data[10:60]:
            time.sleep(0.3)
            try:
                s.sendall(bytes([b]))
            except OSError:
                closed = time.monotonic() - start
                break
            s.settimeout(0.01)
            try:
                if s.recv(100) == b"":
                    closed = time.monotonic() - start
                    break
            except socket.timeout:
                pass
            except OSError:
                closed = time.monotonic() - start
                break
        self.assertIsNotNone(closed, "the connection outlived 50 trickled bytes (15s)")
        self.assertLess(closed, 1.0 + 1.5 * harness.TOLERANCE)
        self.assertGreater(closed, 0.9)


if __name__ == "__main__":
    harness.main()
