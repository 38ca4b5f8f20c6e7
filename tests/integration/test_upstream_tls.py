#!/usr/bin/env python3
"""TLS to backends (a pool's `tls:`) against a real TLS origin: nginx with a certificate from
the test's own CA, proxying to a recording backend. Verified by default (CA file, the name or
the IP address); a wrong name or an untrusted chain is a 502 with the reason logged once;
`verify: false` accepts anything; keep-alive TLS connections are reused and new ones resume
their session (counted at the origin); request bodies arrive whole; health probes speak TLS
and fail on a certificate that does not verify; --check names bad keys."""

import os
import socket
import ssl
import threading
import time
import unittest

import harness
import nginx_util
from tls_certs import TlsTestCase

try:
    import websockets
except ImportError:  # Debian's python3-websockets; scripts/install-deps installs it
    websockets = None

NGINX = nginx_util.NGINX


@unittest.skipUnless(NGINX, "nginx is not installed (scripts/install-deps installs nginx-light)")
class UpstreamTls(TlsTestCase):
    def setUp(self):
        super().setUp()
        self.ca = self.make_ca("origin-ca")
        self.app = self.start_backend("app")

    def start_origin(self, cert, keepalive_requests=1000, protocols="TLSv1.2 TLSv1.3",
                     client_ca=None):
        """nginx speaking TLS on a fresh port in front of self.app; its access log lines are
        "<connection> <session reused: r or .> <request length> <uri>"."""
        port = harness.free_port()
        prefix = os.path.join(self.tmp, "nginx-%d" % port)
        self.origin_log = os.path.join(prefix, "access.log")
        self.origin_errors = os.path.join(prefix, "error.log")
        nginx_util.start(self, prefix, port, """
worker_processes 1;
pid %(prefix)s/nginx.pid;
error_log %(prefix)s/error.log;
events { worker_connections 256; }
http {
    log_format t '$connection $ssl_session_reused $request_length $request_uri';
    map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
    access_log %(log)s t;
%(temp)s
    keepalive_requests %(kr)d;
    client_max_body_size 10m;
    # nginx's workers may not write the test's temp dir: bodies stay in memory.
    client_body_buffer_size 8m;
    proxy_request_buffering off;
    proxy_buffering off;
    server {
        listen 127.0.0.1:%(port)d ssl;
        ssl_certificate %(cert)s;
        ssl_certificate_key %(key)s;
        ssl_protocols %(protocols)s;
        %(client_auth)s
        location / {
            proxy_pass http://%(app)s;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
        }
    }
}
""" % dict(prefix=prefix, port=port, log=self.origin_log, kr=keepalive_requests, cert=cert[0],
           key=cert[1], app=self.app.address, protocols=protocols,
           client_auth=("ssl_client_certificate %s; ssl_verify_client on;" % client_ca
                        if client_ca else ""), temp=nginx_util.temp_paths(prefix)))
        return port

    def origin_lines(self, uri_prefix="/"):
        """The origin's log lines for requests under uri_prefix: [(connection, reused, length)]
        (the listening() checks connect without a request and leave no line)."""
        if not os.path.exists(self.origin_log):
            return []
        with open(self.origin_log) as f:
            rows = [line.split() for line in f if line.strip()]
        return [(c, r, int(n)) for c, r, n, uri in rows if uri.startswith(uri_prefix)]

    def proxy_to(self, origin_port, tls, health=None, keepalive=None, wait_ready=True):
        pool = self.pool("127.0.0.1:%d" % origin_port, tls=tls)
        if health:
            pool["health"] = health
        if keepalive is not None:
            pool["keepalive"] = keepalive
        return self.start_proxy(self.config(pools={"api": pool}), wait_ready=wait_ready)

    def test_verified_by_name_reused_and_resumed(self):
        cert = self.make_server_cert(self.ca, ["origin.test"])
        for version in ("TLSv1.2", "TLSv1.3"):
            origin = self.start_origin(cert, keepalive_requests=2, protocols=version)
            proxy = self.proxy_to(origin, {"ca": self.ca[0], "server_name": "origin.test"})
            c = proxy.connection()
            self.addCleanup(c.close)
            for i in range(6):
                r = harness.request(proxy.port, path="/?k%d" % i, conn=c)
                self.assertEqual(r.status, 200, r.text)
                self.assertEqual(r.header("X-Backend"), "app")
            lines = harness.wait_until(lambda: (lambda l: l if len(l) == 6 else None)(
                self.origin_lines("/?k")), 10, what="6 origin log lines")
            # keepalive_requests 2 at the origin: each TLS connection carries two requests, and
            # every connection after the first resumes the session the one before it got.
            self.assertEqual(len({c for c, _, _ in lines}), 3, (version, lines))
            self.assertEqual([r for _, r, _ in lines[::2]], [".", "r", "r"], (version, lines))
            proxy.stop()

    def test_the_ip_address_is_verified_when_the_backend_has_no_name(self):
        origin = self.start_origin(self.make_server_cert(self.ca, ["origin.test"], ["127.0.0.1"]))
        proxy = self.proxy_to(origin, {"ca": self.ca[0]})
        self.assertEqual(proxy.get("/?ip").status, 200)

    def test_a_wrong_name_is_a_502_logged_once_with_the_reason(self):
        origin = self.start_origin(self.make_server_cert(self.ca, ["origin.test"]))
        proxy = self.proxy_to(origin, {"ca": self.ca[0], "server_name": "other.test"})
        for _ in range(3):
            r = proxy.get("/?wrong")
            self.assertEqual(r.status, 502)
        proxy.wait_log(r"pools\.api: TLS to backend 127\.0\.0\.1:%d failed: certificate verify "
                       r"failed: [Hh]ostname mismatch" % origin)
        self.assertEqual(proxy.stderr().count("TLS to backend"), 1, proxy.stderr())
        self.assertEqual(self.origin_lines("/?wrong"), [])

    def test_verification_is_on_by_default_and_off_only_when_written(self):
        other_ca = self.make_ca("nobody")
        origin = self.start_origin(self.make_server_cert(other_ca, ["origin.test"]))
        proxy = self.proxy_to(origin, {"server_name": "origin.test"})  # the system store
        self.assertEqual(proxy.get("/?default").status, 502)
        proxy.wait_log(r"certificate verify failed: unable to get local issuer certificate")
        proxy.stop()
        proxy = self.proxy_to(origin, {"verify": False})
        r = proxy.get("/?off")
        self.assertEqual(r.status, 200, r.text)

    def test_a_plain_http_backend_behind_tls_is_a_502_with_the_reason(self):
        proxy = self.start_proxy(self.config(pools={"api": self.pool(self.app, tls={
            "verify": False})}))
        for _ in range(2):
            self.assertEqual(proxy.get("/?plain").status, 502)
        proxy.wait_log(r"pools\.api: TLS to backend .* failed: (wrong version number|"
                       r"packet length too long|record layer failure)")

    def test_a_client_certificate_for_an_origin_that_requires_one(self):
        client_ca = self.make_ca("proxies")
        client = self.make_client_cert(client_ca, "/CN=edge-proxy")
        origin = self.start_origin(self.make_server_cert(self.ca, ["origin.test"]),
                                   client_ca=client_ca[0])
        tls = {"ca": self.ca[0], "server_name": "origin.test"}
        proxy = self.proxy_to(origin, dict(tls, cert=client[0], key=client[1]))
        r = proxy.get("/?mtls")
        self.assertEqual((r.status, r.header("X-Backend")), (200, "app"))
        proxy.stop()
        proxy = self.proxy_to(origin, tls)  # no certificate: nginx answers 400 itself
        r = proxy.get("/?none")
        self.assertEqual(r.status, 400)
        self.assertIn("No required SSL certificate was sent", r.text)

    def test_a_backend_that_closes_in_the_handshake_is_a_502_said_as_such(self):
        closer = socket.socket()
        self.addCleanup(closer.close)
        closer.bind((harness.LOOPBACK, 0))
        closer.listen(16)

        def close_each():  # reads the ClientHello, then closes without a word
            for _ in range(4):
                try:
                    conn, _ = closer.accept()
                except OSError:
                    return
                conn.recv(4096)
                conn.close()
        t = threading.Thread(target=close_each, daemon=True)
        t.start()
        pool = self.pool("127.0.0.1:%d" % closer.getsockname()[1], tls={"verify": False})
        proxy = self.start_proxy(self.config(pools={"api": pool}))
        r = proxy.get("/?closed")
        self.assertEqual(r.status, 502, r.text)
        self.assertIn("connect failed", r.text)
        proxy.wait_log(r"pools\.api: TLS to backend 127\.0\.0\.1:\d+ failed: the backend closed "
                       r"the connection during the TLS handshake")

    def test_a_backend_silent_in_the_handshake_is_cut_by_the_connect_timeout(self):
        silent = socket.socket()
        self.addCleanup(silent.close)
        silent.bind((harness.LOOPBACK, 0))
        silent.listen(16)  # the kernel accepts; nobody ever answers the ClientHello
        pool = self.pool("127.0.0.1:%d" % silent.getsockname()[1], tls={"verify": False},
                         timeouts={"connect": "300ms"})
        proxy = self.start_proxy(self.config(pools={"api": pool}))
        start = time.monotonic()
        r = proxy.get("/?silent")
        self.assertEqual(r.status, 504, r.text)
        self.assertIn("connect timed out", r.text)
        self.assertLess(time.monotonic() - start, 0.3 + 2 * harness.TOLERANCE)

    @unittest.skipIf(websockets is None, "python3-websockets is not installed")
    def test_a_websocket_to_a_tls_backend(self):
        self.app = self.start_backend("ws", script=harness.WS_BACKEND_PY)
        origin = self.start_origin(self.make_server_cert(self.ca, ["origin.test"]))
        proxy = self.proxy_to(origin, {"ca": self.ca[0], "server_name": "origin.test"})
        self.assert_websocket_echo("ws://127.0.0.1:%d/ws" % proxy.port, 300 * 1024)

    def test_an_upload_to_a_tls_backend_that_stops_reading_is_held_back(self):
        # A TLS backend that takes the head, then reads nothing for a while: the proxy must
        # stop reading the client (backpressure through what the filter has not sent), not
        # encrypt the whole upload into memory.
        cert = self.make_server_cert(self.ca, ["origin.test"])
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert[0], cert[1])
        listener = socket.socket()
        self.addCleanup(listener.close)
        listener.bind((harness.LOOPBACK, 0))
        listener.listen(4)
        size = 64 * 1024 * 1024
        got = {}

        def backend():
            conn, _ = listener.accept()
            with ctx.wrap_socket(conn, server_side=True) as s:
                data = s.recv(65536)
                while b"\r\n\r\n" not in data:
                    data += s.recv(65536)
                got["head"] = True
                time.sleep(3 * harness.SLOWDOWN)  # reads nothing meanwhile
                n = len(data.split(b"\r\n\r\n", 1)[1])
                while n < size:
                    chunk = s.recv(1 << 20)
                    if not chunk:
                        break
                    n += len(chunk)
                got["body"] = n
                s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        thread = threading.Thread(target=backend, daemon=True)
        thread.start()
        pool = self.pool("127.0.0.1:%d" % listener.getsockname()[1], tls={"verify": False})
        proxy = self.start_proxy(self.config(
            pools={"api": pool}, routes=[{"path_prefix": "/", "pool": "api", "max_body": 0}]))
        before = proxy.rss_kib()
        client = harness.raw_connect(proxy.port, timeout=60 * harness.SLOWDOWN)
        self.addCleanup(client.close)
        client.sendall(b"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % size)
        block = b"u" * (1 << 20)
        sent = 0
        client.settimeout(0.5)
        peak = 0
        deadline = time.monotonic() + 2 * harness.SLOWDOWN
        while time.monotonic() < deadline and sent < size:  # as fast as the proxy takes it
            try:
                sent += client.send(block)
            except socket.timeout:
                pass
            peak = max(peak, proxy.rss_kib() - before)
        self.assertTrue(got.get("head"), "the backend never got the request head")
        self.assertLess(sent, size / 2, "the proxy took %d bytes from the client while the "
                        "backend read nothing" % sent)
        if not harness.SANITIZER:
            self.assertLess(peak, 24 * 1024, "KiB the proxy grew by while the backend stalled")
        client.settimeout(60 * harness.SLOWDOWN)
        while sent < size:
            sent += client.send(block[:size - sent])
        r = harness.read_response(client.makefile("rb"))
        self.assertEqual(r.status, 200)
        thread.join(10)
        self.assertEqual(got.get("body"), size)

    def test_request_bodies_arrive_whole(self):
        origin = self.start_origin(self.make_server_cert(self.ca, ["origin.test"]))
        proxy = self.proxy_to(origin, {"ca": self.ca[0], "server_name": "origin.test"},
                              keepalive=0)
        for size in (0, 10, 70000, 3 * 1024 * 1024 + 1):
            body = os.urandom(size)
            r = proxy.request("POST", "/echo", body=body)
            self.assertEqual(r.status, 200, open(self.origin_errors).read()[-2000:])
            self.assertTrue(r.body == body, "a %d-byte body came back altered" % size)

    def test_health_probes_speak_tls_and_fail_an_unverified_backend(self):
        origin = self.start_origin(self.make_server_cert(self.ca, ["origin.test"]))
        health = {"live": {"path": "/health/live", "interval": "200ms", "timeout": "1s",
                           "fall": 1, "rise": 1}}
        proxy = self.proxy_to(origin, {"ca": self.ca[0], "server_name": "origin.test"}, health)
        harness.wait_until(lambda: len(self.origin_lines("/health/live")) >= 2, 10,
                           what="TLS probes at the origin")
        self.assertEqual(proxy.get("/?x").status, 200)
        proxy.stop()
        bad = self.proxy_to(origin, {"ca": self.ca[0], "server_name": "wrong.test"}, health,
                            wait_ready=False)
        bad.wait_log(r"live probe /health/live failed", timeout=10)
        self.assertEqual(bad.get("/?dead").status, 503)
        backend = bad.admin("/status").json()["pools"]["api"]["backends"][0]
        self.assertFalse(backend["live"])

    def test_check_names_bad_pool_tls_keys(self):
        client = self.make_client_cert(self.ca, "/CN=proxy")
        for tls, message in (
                ({"ca": os.path.join(self.tmp, "none.pem")}, r"tls\.ca: cannot open"),
                ({"cert": client[0]}, r"tls\.cert: a client certificate needs both"),
                ({"verify": "maybe"}, r"tls\.verify: expected true or false"),
                ({"server_name": "bad name"}, r"tls\.server_name: .* is not a host name")):
            text = self.config(pools={"api": self.pool("127.0.0.1:9", tls=tls)})
            r = self.check_config(text)
            self.assertNotEqual(r.returncode, 0, tls)
            self.assertRegex(r.stderr, r"\.yaml:\d+:\d+: pools\.api\." + message, tls)
        text = self.config(pools={"api": self.pool("127.0.0.1:9", tls={
            "ca": self.ca[0], "cert": client[0], "key": client[1], "server_name": "a.test"})})
        self.assertEqual(self.check_config(text).returncode, 0)


if __name__ == "__main__":
    harness.main()
