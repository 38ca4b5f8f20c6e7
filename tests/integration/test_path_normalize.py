#!/usr/bin/env python3
"""Request-target normalization (issue 21): a route is picked on the normalized path, the one
the backend then receives, so "/x/../admin/x", "/%61dmin/x" or "//admin/x" cannot reach the
pool of "/" while the application behind serves "/admin/x". Each hostile target goes through
the binary with routes /admin/ and / to two recording backends, and through nginx with the
same locations: both must pick the same pool or both refuse it, but for the two deliberate
differences the README documents (NGINX_DIFFERS)."""

import json
import os
import socketserver
import threading

import harness
import nginx_util

NGINX = nginx_util.NGINX

# target → (pool, path the backend sees) or 400, with routes /admin/ → adm and / → pub.
TABLE = {
    "/admin/x": ("adm", "/admin/x"),
    "/x/../admin/x": ("adm", "/admin/x"),
    "/%61dmin/x": ("adm", "/admin/x"),
    "//admin/x": ("adm", "/admin/x"),
    "/admin/./x": ("adm", "/admin/x"),
    "/admin/x/..": ("adm", "/admin/"),
    "/./admin/x": ("adm", "/admin/x"),
    "/admin%2Fx": ("pub", "/admin%2Fx"),
    "/..": 400,
    "/%2e%2e/": 400,
    "/admin/%00": 400,
    "/a\\b": 400,
    # and a few more odd ones
    "/admin": ("pub", "/admin"),
    "/%2e/admin/x": ("adm", "/admin/x"),
    "/admin/x/../../admin/y": ("adm", "/admin/y"),
    "/admin/../../x": 400,
    "/adm%69n/x?q=/../%61": ("adm", "/admin/x?q=/../%61"),
    "/x%2f..%2fadmin/x": ("pub", "/x%2F..%2Fadmin/x"),
    "/%7e/admin": ("pub", "/~/admin"),
    "/a%zz": 400,
    "http://localhost/x/../admin/x": ("adm", "/admin/x"),
}

# Where nginx (merge_slashes on, no special config) deliberately answers otherwise:
# nginx decodes "%2F" into a separator before matching locations yet forwards the raw target,
# so its location and the backend's router can disagree; Outrigger keeps "%2F" encoded
# (escaped_slashes: keep) and routes and forwards the same thing. On Linux nginx treats a
# backslash as an ordinary byte; Outrigger refuses it, as some backends read it as '/'.
# (And nginx answers "/admin" with a 301 to "/admin/", its habit for a proxy_pass location
# ending in '/': a redirect, not a pool.)
NGINX_DIFFERS = {"/admin%2Fx": "adm", "/x%2f..%2fadmin/x": "adm", "/a\\b": "pub", "/admin": 301}


class _Recorder(socketserver.BaseRequestHandler):
    """Answers one request per connection with JSON: this backend's name and the raw target."""

    def handle(self):
        self.request.settimeout(10 * harness.SLOWDOWN)
        data = b""
        while b"\r\n\r\n" not in data and len(data) < 65536:
            chunk = self.request.recv(65536)
            if not chunk:
                return
            data += chunk
        target = data.split(b"\r\n", 1)[0].split(b" ")[1].decode("latin-1")
        body = json.dumps({"backend": self.server.name, "target": target}).encode()
        self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)


class RecordingBackend:
    def __init__(self, name):
        self.server = socketserver.ThreadingTCPServer((harness.LOOPBACK, 0), _Recorder)
        self.server.daemon_threads = True
        self.server.name = name
        self.address = "%s:%d" % self.server.server_address
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def send(port, target):
    """200 → (pool, target the backend saw); otherwise the status."""
    sock = harness.raw_connect(port)
    try:
        sock.sendall(b"GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
                     % target.encode("latin-1"))
        resp = harness.read_response(sock.makefile("rb"))
    finally:
        sock.close()
    if resp.status != 200:
        return resp.status
    seen = resp.json()
    return seen["backend"], seen["target"]


class PathNormalize(harness.ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.adm = RecordingBackend("adm")
        self.addCleanup(self.adm.stop)
        self.pub = RecordingBackend("pub")
        self.addCleanup(self.pub.stop)

    def start(self, normalize=None):
        listener = {"normalize": normalize} if normalize else None
        return self.start_proxy(self.config(
            pools={"adm": self.pool(self.adm.address), "pub": self.pool(self.pub.address)},
            routes=[{"path_prefix": "/admin/", "pool": "adm"}, {"path_prefix": "/", "pool": "pub"}],
            listener=listener))

    def test_routes_and_forwards_the_normalized_target(self):
        proxy = self.start()
        for target, expected in TABLE.items():
            with self.subTest(target=target):
                self.assertEqual(send(proxy.port, target), expected)

    def test_picks_the_pool_nginx_picks(self):
        if NGINX is None:
            self.skipTest("nginx is not installed (scripts/install-deps installs nginx-light)")
        proxy = self.start()
        nginx_port = self.start_nginx()
        for target in TABLE:
            with self.subTest(target=target):
                ours = send(proxy.port, target)
                theirs = send(nginx_port, target)
                ours_pool = ours if isinstance(ours, int) else ours[0]
                theirs_pool = theirs if isinstance(theirs, int) else theirs[0]
                # nginx answers 400 for what it refuses, as we do.
                self.assertEqual(theirs_pool, NGINX_DIFFERS.get(target, ours_pool))

    def test_escaped_slashes_decode_routes_as_nginx_does(self):
        proxy = self.start({"escaped_slashes": "decode"})
        self.assertEqual(send(proxy.port, "/admin%2Fx"), ("adm", "/admin/x"))
        self.assertEqual(send(proxy.port, "/x%2f..%2fadmin/x"), ("adm", "/admin/x"))
        self.assertEqual(send(proxy.port, "/x%5Cy"), 400)
        self.assertEqual(send(proxy.port, "/%61dmin/x"), ("adm", "/admin/x"))

    def test_escaped_slashes_reject(self):
        proxy = self.start({"escaped_slashes": "reject"})
        self.assertEqual(send(proxy.port, "/admin%2Fx"), 400)
        self.assertEqual(send(proxy.port, "/x%5cy"), 400)
        self.assertEqual(send(proxy.port, "/admin/x?a=%2F"), ("adm", "/admin/x?a=%2F"))

    def test_merge_slashes_off_keeps_empty_segments(self):
        proxy = self.start({"merge_slashes": False})
        self.assertEqual(send(proxy.port, "//admin/x"), ("pub", "//admin/x"))
        self.assertEqual(send(proxy.port, "/admin//x/./"), ("adm", "/admin//x/"))

    def test_a_refused_target_gets_a_400_page_saying_why(self):
        proxy = self.start()
        sock = harness.raw_connect(proxy.port)
        self.addCleanup(sock.close)
        sock.sendall(b"GET /.. HTTP/1.1\r\nHost: localhost\r\n\r\n")
        resp = harness.read_response(sock.makefile("rb"))
        self.assertEqual(resp.status, 400)
        self.assertIn(b"climbs above the root", resp.body)

    def test_config_errors_name_file_line_and_key(self):
        text = self.config(pools={"pub": self.pool(self.pub.address)},
                           listener={"normalize": {"escaped_slashes": "drop"}})
        result = self.check_config(text)
        self.assertNotEqual(result.returncode, 0)
        self.assertRegex(result.stdout + result.stderr,
                         r"check-\d+\.yaml:\d+:\d+: listeners\.web\.normalize\.escaped_slashes: "
                         r"expected one of: keep, reject, decode, got \"drop\"")

    def start_nginx(self):
        """nginx on a fresh loopback port with the same two locations; stopped by PID."""
        port = harness.free_port()
        prefix = os.path.join(self.tmp, "nginx")
        nginx_util.start(self, prefix, port, """
worker_processes 1;
pid %(prefix)s/nginx.pid;
error_log %(prefix)s/error.log;
events { worker_connections 64; }
http {
    access_log off;
%(temp)s
    server {
        listen 127.0.0.1:%(port)d;
        location /admin/ { proxy_pass http://%(adm)s; }
        location / { proxy_pass http://%(pub)s; }
    }
}
""" % dict(prefix=prefix, port=port, adm=self.adm.address, pub=self.pub.address,
           temp=nginx_util.temp_paths(prefix)))
        return port


if __name__ == "__main__":
    harness.main()
