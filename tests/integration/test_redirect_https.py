#!/usr/bin/env python3
"""redirect_https on a plain listener: 301 for GET and HEAD, 308 for other methods, to
https://host[:port]/target with the target (query too) kept and the client's port dropped;
routes written beside it (an ACME challenge path) are still proxied; HTTP/1.0 without Host
gets 400; curl -L lands on the TLS listener; --check refuses it on a TLS listener."""

import subprocess

import yaml

import harness
from tls_certs import TlsTestCase


class RedirectHttps(TlsTestCase):
    def start_pair(self, redirect, with_tls=True, routes=None):
        """A plain listener `web` with redirect_https and (with_tls) a TLS listener `secure`
        on self.tls_port, both before one backend."""
        backend = self.start_backend("api")
        cfg = yaml.safe_load(self.config(pools={"api": self.pool(backend)}))
        web = cfg["listeners"]["web"]
        web["redirect_https"] = redirect
        if routes is None:
            del web["routes"]
        else:
            web["routes"] = routes
        if with_tls:
            self.cert = self.make_cert(["a.test"])
            self.tls_port = harness.free_port()
            cfg["listeners"]["secure"] = {
                "listen": "127.0.0.1:%d" % self.tls_port,
                "tls": {"certificates": [{"cert": self.cert[0], "key": self.cert[1]}]},
                "routes": [{"path_prefix": "/", "pool": "api"}]}
        return self.start_proxy(harness.to_yaml(cfg) + "\n")

    def raw_request(self, proxy, data):
        with harness.raw_connect(proxy.port) as s:
            s.sendall(data)
            return harness.read_response(s.makefile("rb"))

    def test_get_and_head_get_301_other_methods_308(self):
        proxy = self.start_pair({}, with_tls=False)
        r = proxy.get("/a/b?x=1&y=%2F", headers={"Host": "example.test:8080"})
        self.assertEqual(r.status, 301)
        self.assertEqual(r.header("Location"), "https://example.test/a/b?x=1&y=%2F")
        r = proxy.request("HEAD", "/h", headers={"Host": "example.test"})
        self.assertEqual((r.status, r.body), (301, b""))
        self.assertEqual(r.header("Location"), "https://example.test/h")
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            r = proxy.request(method, "/form", headers={"Host": "example.test"}, body=b"k=v")
            self.assertEqual(r.status, 308, method)
            self.assertEqual(r.header("Location"), "https://example.test/form")
        # Absolute-form: its authority is the host.
        r = self.raw_request(proxy, b"GET http://abs.test:81/p?q HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual((r.status, r.header("Location")), (301, "https://abs.test/p?q"))

    def test_keep_alive_and_pipelining_survive_redirects(self):
        proxy = self.start_pair({}, with_tls=False)
        with harness.raw_connect(proxy.port) as s:
            s.sendall(b"GET /1 HTTP/1.1\r\nHost: a.test\r\n\r\n"
                      b"GET /2 HTTP/1.1\r\nHost: a.test\r\n\r\n")
            f = s.makefile("rb")
            first, second = harness.read_response(f), harness.read_response(f)
            self.assertEqual(first.header("Location"), "https://a.test/1")
            self.assertEqual(second.header("Location"), "https://a.test/2")
            s.sendall(b"GET /3 HTTP/1.1\r\nHost: a.test\r\n\r\n")
            self.assertEqual(harness.read_response(f).header("Location"), "https://a.test/3")

    def test_port_ipv6_and_a_missing_host(self):
        proxy = self.start_pair({"port": 8443}, with_tls=False)
        r = proxy.get("/x", headers={"Host": "a.test:8080"})
        self.assertEqual(r.header("Location"), "https://a.test:8443/x")
        r = proxy.get("/x", headers={"Host": "[::1]:8080"})
        self.assertEqual(r.header("Location"), "https://[::1]:8443/x")
        r = self.raw_request(proxy, b"GET /x HTTP/1.0\r\n\r\n")
        self.assertEqual(r.status, 400)
        self.assertIsNone(r.header("Location"))
        r = self.raw_request(proxy, b"OPTIONS * HTTP/1.1\r\nHost: a.test\r\n\r\n")
        self.assertEqual((r.status, r.header("Location")), (308, "https://a.test:8443/"))

    def test_a_route_beside_it_is_still_proxied(self):
        proxy = self.start_pair({}, with_tls=False, routes=[
            {"path_prefix": "/.well-known/acme-challenge/", "pool": "api"}])
        r = proxy.get("/.well-known/acme-challenge/token123", headers={"Host": "a.test"})
        # The backend's own answer to a path it does not serve: the request reached it.
        self.assertEqual(r.status, 404)
        self.assertIn("no such path /.well-known/acme-challenge/token123 on api", r.text)
        self.assertIsNone(r.header("Location"))
        r = proxy.get("/other", headers={"Host": "a.test"})
        self.assertEqual((r.status, r.header("Location")), (301, "https://a.test/other"))

    def test_curl_follows_it_to_the_tls_listener(self):
        proxy = self.start_pair({"port": 1}, with_tls=True)  # port fixed below
        proxy.stop()
        # The redirect must name the TLS listener's port, known only now.
        text = proxy.config_text.replace("port: 1\n", "port: %d\n" % self.tls_port)
        proxy = self.start_proxy(text)
        r = subprocess.run(["curl", "-sS", "-L", "--max-time", str(10 * harness.SLOWDOWN),
                            "--cacert", self.cert[0],
                            "--resolve", "a.test:%d:127.0.0.1" % proxy.port,
                            "--resolve", "a.test:%d:127.0.0.1" % self.tls_port,
                            "-w", "\\n%{url_effective} %{http_code}",
                            "http://a.test:%d/headers?k=v" % proxy.port],
                           capture_output=True, timeout=30 * harness.SLOWDOWN)
        self.assertEqual(r.returncode, 0, r.stderr)
        last = r.stdout.decode().rsplit("\n", 1)[-1]
        self.assertEqual(last, "https://a.test:%d/headers?k=v 200" % self.tls_port)

    def test_check_refuses_it_on_a_tls_listener_and_a_bad_port(self):
        cert = self.make_cert(["a.test"])
        backend = self.start_backend("api")
        text = self.config(pools={"api": self.pool(backend)}, listener={
            "tls": {"certificates": [{"cert": cert[0], "key": cert[1]}]},
            "redirect_https": {"port": 70000}})
        r = self.check_config(text)
        self.assertNotEqual(r.returncode, 0)
        line = next(i + 1 for i, l in enumerate(text.splitlines()) if "redirect_https" in l)
        self.assertRegex(r.stderr, r":%d:\d+: .*redirect_https: belongs on a plain-HTTP listener"
                         % line)
        self.assertRegex(r.stderr, r"redirect_https\.port: .*65535")
        # Without it, a listener still needs routes.
        cfg = yaml.safe_load(self.config(pools={"api": self.pool(backend)}))
        del cfg["listeners"]["web"]["routes"]
        r = self.check_config(harness.to_yaml(cfg) + "\n")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("routes", r.stderr)


if __name__ == "__main__":
    harness.main()
