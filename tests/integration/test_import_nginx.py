#!/usr/bin/env python3
"""`outrigger import-nginx`: every config of nginx_corpus/ translates to YAML that passes
--check, with each directive it could not carry over reported as FILE:LINE (the exact set
of lines is pinned below, so one dropped silently fails the test). For two of them, nginx
(/usr/sbin/nginx) with the original and Outrigger with the translation run side by side in
front of the same backends, and a scripted set of requests must get the same status and
reach the same backend (or the same pool, where the two balance differently) with the
same Host, path and method at the backend."""

import os
import re
import shutil
import socket
import subprocess
import unittest

import harness
import test_websocket
import tls_certs

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nginx_corpus")
NGINX = "/usr/sbin/nginx"
NOTE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): (?P<msg>.+)$")

# file → the (file, line) pairs that must be reported, no more and no fewer.
UNTRANSLATED = {
    "api_least_conn.conf": {("api_least_conn.conf", 3), ("api_least_conn.conf", 13),
                            ("api_least_conn.conf", 31)},
    "websocket_ip_hash.conf": set(),
    "multi_host.conf": set(),
    "static_and_api.conf": {("static_and_api.conf", n) for n in (2, 4, 5, 8, 10, 12, 24, 25,
                                                                 27, 28, 44)}
                           | {("mime.types", 1)},
    "rate_limits.conf": {("rate_limits.conf", n) for n in (5, 6, 23, 24)},
    "tls.conf": set(),
    "tls_sni.conf": {("tls_sni.conf", 7), ("tls_sni.conf", 8), ("tls_sni.conf", 49)},
    "plugins.conf": set(),
}

# Certificate paths the corpus names, and the names the test's certificates carry.
CERT_PLACEHOLDERS = {
    "/etc/ssl/certs/site.pem": ("secure.example.com", 0),
    "/etc/ssl/private/site.key": ("secure.example.com", 1),
    "/etc/nginx/tls/shop.crt": ("shop.example.com", 0),
    "/etc/nginx/tls/shop.key": ("shop.example.com", 1),
    "/etc/nginx/tls/blog.crt": ("blog.example.com", 0),
    "/etc/nginx/tls/blog.key": ("blog.example.com", 1),
    "/etc/nginx/tls/internal-ca.crt": ("api.internal", 0),
}


def with_real_certificates(test, text):
    """`text` with each certificate path of CERT_PLACEHOLDERS replaced by a file made for the
    test (tls_certs.TlsTestCase.make_cert), so that --check, and nginx, can load them."""
    made = {}
    for placeholder, (name, index) in CERT_PLACEHOLDERS.items():
        if placeholder in text:
            if name not in made:
                made[name] = test.make_cert([name])
            text = text.replace(placeholder, made[name][index])
    return text


def accepts(port):
    try:
        socket.create_connection((harness.LOOPBACK, port), timeout=1).close()
        return True
    except OSError:
        return False


def for_test(yaml, admin_port):
    """A translation made to run in a test: admin on `admin_port`, one worker (so that its
    balancing state is one, as nginx's single worker's), no drain delay."""
    yaml = yaml.replace("listen: 127.0.0.1:9901", "listen: 127.0.0.1:%d" % admin_port)
    return yaml.replace("workers: auto", "workers: 1") + "drain: { delay: 0s }\n"


def start_nginx(test, conf_dir, conf, port):
    """nginx with one worker on `conf` (prefix `conf_dir`), stopped at the test's end; waits
    until it accepts on `port`."""
    nginx = subprocess.Popen(
        [NGINX, "-p", conf_dir, "-c", conf, "-g",
         "daemon off; worker_processes 1; pid %s/nginx.pid; error_log %s/error.log;"
         % (conf_dir, conf_dir)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    test.addCleanup(harness.stop_process, nginx)
    harness.wait_until(lambda: accepts(port), 10, what="nginx listening")


def import_nginx(path):
    r = harness.run_outrigger(["import-nginx", path])
    if r.returncode != 0:
        raise AssertionError("import-nginx %s exited %d: %s" % (path, r.returncode, r.stderr))
    return r.stdout, r.stderr


class Corpus(tls_certs.TlsTestCase):
    def test_every_corpus_config_translates_checks_and_reports_what_it_left_out(self):
        self.assertEqual(sorted(f for f in os.listdir(CORPUS) if f.endswith(".conf")),
                         sorted(UNTRANSLATED))
        for name, want in sorted(UNTRANSLATED.items()):
            with self.subTest(config=name):
                path = os.path.join(CORPUS, name)
                with open(path) as f:
                    text = f.read()
                real = with_real_certificates(self, text)
                if real != text:
                    path = os.path.join(self.tmp, name)
                    with open(path, "w") as f:
                        f.write(real)
                yaml, notes = import_nginx(path)
                check = self.check_config(yaml)
                self.assertEqual(check.returncode, 0, "%s\n%s" % (check.stderr, yaml))
                got = set()
                for line in notes.splitlines():
                    m = NOTE.match(line)
                    self.assertIsNotNone(m, "not FILE:LINE: message: %r" % line)
                    got.add((os.path.basename(m["file"]), int(m["line"])))
                    # The line named really holds something: not an off-by-one.
                    with open(m["file"]) as f:
                        text = f.read().splitlines()[int(m["line"]) - 1]
                    self.assertTrue(text.strip() and not text.strip().startswith("#"),
                                    "%s names a blank or comment line" % line)
                self.assertEqual(got, want, notes)

    def test_a_syntax_error_names_file_and_line_and_exits_1(self):
        path = os.path.join(self.tmp, "bad.conf")
        with open(path, "w") as f:
            f.write("events {}\nhttp {\n  server {\n    listen 80\n  }\n}\n")
        r = harness.run_outrigger(["import-nginx", path])
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "")
        self.assertIn("%s:5: unexpected \"}\"" % path, r.stderr)
        r = harness.run_outrigger(["import-nginx", os.path.join(self.tmp, "missing.conf")])
        self.assertEqual(r.returncode, 1)
        r = harness.run_outrigger(["import-nginx"])
        self.assertEqual(r.returncode, 2)


@unittest.skipUnless(os.access(NGINX, os.X_OK), "needs nginx (scripts/install-deps --bench)")
class SideBySide(harness.ProxyTestCase):
    """The corpus file with its 18xxx ports moved to free ones; backends named after the
    port they replace, so a backend's name says which nginx `server` line it is."""

    def setup_pair(self, name, ws_ports=()):
        with open(os.path.join(CORPUS, name)) as f:
            text = f.read()
        included = ""
        if os.path.isdir(os.path.join(CORPUS, "conf.d")):
            for f in sorted(os.listdir(os.path.join(CORPUS, "conf.d"))):
                with open(os.path.join(CORPUS, "conf.d", f)) as fh:
                    included += fh.read()
        ports = sorted(set(re.findall(r"(?<=[:\s])(18\d\d\d)\b", text + included)))
        mapping = {p: harness.free_port() for p in ports}
        text = re.sub(r"(?<=[:\s])(18\d\d\d)\b", lambda m: str(mapping[m.group(1)]), text)
        listen_ports = set(re.findall(r"listen\s+(?:127\.0\.0\.1:)?(\d+)", text))
        self.names = {}
        for orig, port in mapping.items():
            if str(port) in listen_ports:
                continue
            ws = orig in ws_ports
            b = harness.Backend("b" + orig, port=port, log_dir=self.tmp,
                                script=harness.WS_BACKEND_PY if ws else harness.BACKEND_PY,
                                extra_args=["--greet"] if ws else [])
            self.addCleanup(b.stop)
        conf_dir = os.path.join(self.tmp, "nginx")
        os.makedirs(os.path.join(conf_dir, "logs"))
        if os.path.isdir(os.path.join(CORPUS, "conf.d")):
            shutil.copytree(os.path.join(CORPUS, "conf.d"), os.path.join(conf_dir, "conf.d"))
            for f in os.listdir(os.path.join(conf_dir, "conf.d")):
                p = os.path.join(conf_dir, "conf.d", f)
                with open(p) as fh:
                    t = re.sub(r"(?<=[:\s])(18\d\d\d)\b", lambda m: str(mapping[m.group(1)]), fh.read())
                with open(p, "w") as fh:
                    fh.write(t)
        conf = os.path.join(conf_dir, name)
        with open(conf, "w") as f:
            f.write(text)
        # Outrigger: the translation, its listener moved to its own port, admin free.
        yaml, _ = import_nginx(conf)
        (nginx_port,) = [int(p) for p in listen_ports]
        self.proxy_port = harness.free_port()
        self.admin_port = harness.free_port()
        yaml = yaml.replace('listen: "127.0.0.1:%d"' % nginx_port,
                            'listen: "127.0.0.1:%d"' % self.proxy_port)
        outrigger = self.start_proxy(for_test(yaml, self.admin_port))
        start_nginx(self, conf_dir, conf, nginx_port)
        return nginx_port, outrigger.port, mapping

    def exchange(self, port, method="GET", path="/", host="example.test", headers=None, body=None):
        h = {"Host": host}
        h.update(headers or {})
        r = harness.request(port, method=method, path=path, headers=h, body=body)
        seen = None
        if r.status == 200 and path.startswith("/headers"):
            j = r.json()
            fields = {k.lower(): v for k, v in j["headers"]}
            seen = (j["method"], j["target"], fields.get("host"))
        return r.status, r.header("X-Backend"), seen

    def test_several_server_names_on_one_port(self):
        nginx, outrigger, _ = self.setup_pair("multi_host.conf")
        shop = {"b18202", "b18212"}
        script = [("GET", "/headers", "shop.example.com", None, None),
                  ("GET", "/headers/x?y=1", "store.example.com", None, None),
                  ("GET", "/headers", "a.blog.example.com", None, None),
                  ("GET", "/headers", "docs.example.com", None, None),
                  ("GET", "/headers", "deep.docs.example.com", None, None),
                  ("GET", "/headers", "blog.example.com", None, None),  # not *.blog: default
                  ("GET", "/headers", "unknown.example.org", None, None),
                  ("POST", "/headers", "shop.example.com", None, b"x" * 1000),
                  ("GET", "/status?code=404", "shop.example.com", None, None),
                  ("GET", "/status?code=503", "docs.example.com", None, None)]
        for i in range(5):
            script.append(("GET", "/headers", "shop.example.com", {"Cookie": "cart=c%d" % i}, None))
        for method, path, host, headers, body in script:
            with self.subTest(host=host, path=path, headers=headers):
                a = self.exchange(nginx, method, path, host, headers, body)
                b = self.exchange(outrigger, method, path, host, headers, body)
                self.assertEqual(a[0], b[0], (a, b))
                if a[1] in shop:  # both hash the cart cookie, but with different functions
                    self.assertIn(b[1], shop, (a, b))
                else:
                    self.assertEqual(a[1], b[1], (a, b))
                self.assertEqual(a[2], b[2], (a, b))
        # A body over nginx's default client_max_body_size (1m) is refused by both.
        for port in (nginx, outrigger):
            s = harness.raw_connect(port)
            self.addCleanup(s.close)
            s.sendall(b"POST /headers HTTP/1.1\r\nHost: shop.example.com\r\n"
                      b"Content-Length: 2097152\r\n\r\n")
            r = harness.read_response(s.makefile("rb"), "POST")
            self.assertEqual(r.status, 413, port)
        # The same cart sticks to one backend on each side.
        for port in (nginx, outrigger):
            got = {self.exchange(port, "GET", "/", "shop.example.com", {"Cookie": "cart=k"})[1]
                   for _ in range(6)}
            self.assertEqual(len(got), 1, (port, got))

    def test_rewrite_headers_and_return_as_plugins(self):
        nginx, outrigger, _ = self.setup_pair("plugins.conf")

        def seen(port, path, headers=None):
            h = {"Host": "example.test", "X-Debug": "1"}
            h.update(headers or {})
            r = harness.request(port, path=path, headers=h)
            got = (r.status, r.header("X-Frame-Options"), r.header("Location"))
            if r.status == 200 and r.header("Content-Type", "").startswith("application/json"):
                j = r.json()
                fields = {k.lower(): v for k, v in j["headers"]}
                return got + (j["target"], fields.get("host"), fields.get("x-env"),
                              fields.get("x-orig"), fields.get("x-debug"))
            # nginx's redirect carries an HTML page, Outrigger's no body: not compared.
            return got + (r.body if r.status == 200 else None,)

        for path in ["/api/headers?b=1", "/api/", "/headers", "/old/page?q=2", "/ping", "/nope"]:
            with self.subTest(path=path):
                a, b = seen(nginx, path), seen(outrigger, path)
                self.assertEqual(a, b)
        # What the comparison stands on: the rewrite, the set and removed fields, the answers.
        self.assertEqual(seen(outrigger, "/api/headers?b=1")[3:],
                         ("/headers?b=1", "example.test", "prod", "http /api/headers?b=1", None))
        self.assertEqual(seen(outrigger, "/old/x")[:3],
                         (301, "DENY", "https://new.example.com/old/x"))
        self.assertEqual(seen(outrigger, "/ping"), (200, "DENY", None, b"pong\n"))

    def test_sticky_websockets_and_the_plain_site_beside_them(self):
        nginx, outrigger, _ = self.setup_pair("websocket_ip_hash.conf",
                                                  ws_ports=("18101", "18102"))
        realtime = {"b18101", "b18102"}
        for path, host in (("/headers", "chat.example.com"), ("/headers/a", "other.test"),
                           ("/status?code=500", "chat.example.com")):
            a = self.exchange(nginx, "GET", path, host)
            b = self.exchange(outrigger, "GET", path, host)
            self.assertEqual(a, b)
            self.assertEqual(a[1], "b18111")
        # A plain request to /ws/ reaches the WebSocket pool on both (426 from its backend).
        a = self.exchange(nginx, "GET", "/ws/x")
        b = self.exchange(outrigger, "GET", "/ws/x")
        self.assertEqual(a[0], 426)
        self.assertEqual(a[0], b[0])
        self.assertIn(a[1], realtime)
        self.assertIn(b[1], realtime)
        # Upgrades: tunnelled on both, and each side's client sticks to one backend (ip_hash).
        for port in (nginx, outrigger):
            reached = set()
            for _ in range(4):
                ws = test_websocket.RawWebSocket(port, path="/ws/chat")
                self.assertEqual(ws.status, 101, (port, ws.head))
                greeting = ws.recv()
                reached.add(greeting)
                ws.send("hi")
                self.assertEqual(ws.recv(), greeting.split(":", 1)[1] + ": hi")
                ws.sock.close()
            self.assertEqual(len(reached), 1, (port, reached))
            self.assertIn(reached.pop().split(":", 1)[1], realtime)


if __name__ == "__main__":
    harness.main()
