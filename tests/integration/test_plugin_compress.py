#!/usr/bin/env python3
"""compress through the real binary: gzip and brotli bodies decode to exactly the backend's
bytes (Content-Length, chunked with a trailer, close-delimited backend bodies); each piece the
backend sends can be decoded before the backend sends the next; every rule that leaves a
response as it is; Vary and ETag; a keep-alive connection after a compressed response; the
client's choice among `encodings`; the metric; local answers; and the config errors."""

import os
import re
import threading
import unittest
import zlib

import compress_util as cu
import harness
import metrics_util
import test_plugin_redis

KIB = 1024
MIB = 1024 * 1024


def varies(r):
    """r's Vary names Accept-Encoding (any case, any of its fields)."""
    return any(t.strip().lower() == "accept-encoding"
               for v in r.header_all("Vary") for t in v.split(","))


class CompressCase(harness.ProxyTestCase):
    def start(self, handlers, compress=None, extra_plugins=(), workers=1, plugins=None,
              pool=None):
        """A proxy with one route through `compress` (its config; {} for the defaults), then
        `extra_plugins` (or through `plugins`) to a RawBackend serving `handlers`."""
        self.backend = cu.RawBackend()
        self.addCleanup(self.backend.stop)
        self.backend.handlers.update(handlers)
        if plugins is None:
            plugins = [{"compress": compress if compress is not None else {}}]
            plugins += list(extra_plugins)
        routes = [{"path_prefix": "/", "pool": "api", "plugins": plugins}]
        return self.start_proxy(self.config(pools={"api": self.pool(self.backend.address,
                                                                    **(pool or {}))},
                                            routes=routes, workers=workers))

    def fetch(self, proxy, path, accept="gzip", method="GET", version="1.1", extra=""):
        """One request on its own connection; the parsed response (body still encoded)."""
        sock, rfile = self.open_raw(proxy)
        cu.send_get(sock, path, accept, extra, method, version)
        return harness.read_response(rfile, method)

    def assert_encoded(self, r, coding, want):
        """r is `want` encoded with `coding`, framed chunked, varying on Accept-Encoding."""
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header_all("Content-Encoding"), [coding], r.headers)
        self.assertEqual(r.header("Transfer-Encoding"), "chunked")
        self.assertIsNone(r.header("Content-Length"))
        self.assertTrue(varies(r), r.headers)
        got = cu.decode(coding, r.body)
        self.assertEqual(len(got), len(want))
        self.assertTrue(got == want, "decoded body differs from the backend's")

    def assert_plain(self, r, want, vary, encoding=None):
        """r is the backend's body as it was (its Content-Encoding `encoding`); it varies on
        Accept-Encoding iff `vary`."""
        self.assertEqual(r.header("Content-Encoding"), encoding, r.headers)
        self.assertTrue(r.body == want, "body differs: %d bytes, want %d" % (len(r.body),
                                                                               len(want)))
        self.assertEqual(varies(r), vary, r.headers)


class Bodies(CompressCase):
    def test_gzip_and_brotli_bodies_decode_to_the_backends_bytes(self):
        small, large = cu.text(KIB, seed=1), cu.text(10 * MIB, seed=2)
        proxy = self.start({"/small": cu.fixed(small), "/large": cu.fixed(large)})
        for coding in ("gzip", "br"):
            for path, want in (("/small", small), ("/large", large)):
                with self.subTest(coding=coding, path=path):
                    r = self.fetch(proxy, path, accept=coding)
                    self.assert_encoded(r, coding, want)
                    self.assertLess(len(r.body), len(want) // 2, "not actually compressed")

    def test_chunked_backend_body_with_a_trailer(self):
        parts = [cu.text(3000, seed=s) for s in range(5)] + [b"x"]
        proxy = self.start({"/one": cu.chunked(parts, trailer=[("X-Sum", "abc")]),
                            "/many": cu.chunked(parts, trailer=[("X-Sum", "abc")],
                                                one_write=False)})
        for coding in ("gzip", "br"):
            for path in ("/one", "/many"):
                with self.subTest(coding=coding, path=path):
                    r = self.fetch(proxy, path, accept=coding)
                    self.assert_encoded(r, coding, b"".join(parts))
                    self.assertIsNone(r.header("X-Sum"))

    def test_many_small_chunks_read_at_once(self):
        # Several chunks in one read leave the decoded data in several buffer segments:
        # every one of them must reach the encoder, the last read's too.
        parts = [cu.text(37 + i % 50, seed=i) for i in range(400)]
        proxy = self.start({"/c": cu.chunked(parts)})
        for coding in ("gzip", "br"):
            with self.subTest(coding=coding):
                self.assert_encoded(self.fetch(proxy, "/c", accept=coding), coding,
                                    b"".join(parts))

    def test_close_delimited_backend_body(self):
        body = cu.text(200 * KIB, seed=3)
        proxy = self.start({"/c": cu.close_delimited(body)})
        for coding in ("gzip", "br"):
            with self.subTest(coding=coding):
                r = self.fetch(proxy, "/c", accept=coding)
                self.assert_encoded(r, coding, body)

    def test_small_chunked_body_of_unknown_size_is_compressed(self):
        proxy = self.start({"/c": cu.chunked([b"tiny"])})
        self.assert_encoded(self.fetch(proxy, "/c"), "gzip", b"tiny")


class Streaming(CompressCase):
    """The backend holds the rest of its body until the test has decoded the first part from
    the proxy; it waits long enough that only a proxy that holds data back makes it time out."""

    def held_handler(self, first, rest, framing, released):
        def handle(sock, req):
            h = [("Content-Type", "text/html")]
            if framing == "chunked":
                h.append(("Transfer-Encoding", "chunked"))
                sock.sendall(cu.head_bytes(200, h) + b"%x\r\n%s\r\n" % (len(first), first))
            elif framing == "close":
                sock.sendall(cu.head_bytes(200, h + [("Connection", "close")]) + first)
            else:
                h.append(("Content-Length", str(len(first) + len(rest))))
                sock.sendall(cu.head_bytes(200, h) + first)
            released.append(self.go.wait(5 * harness.SLOWDOWN))
            if framing == "chunked":
                sock.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(rest), rest))
            else:
                sock.sendall(rest)
            return framing != "close"
        return handle

    def test_each_piece_decodes_before_the_backend_sends_the_next(self):
        first, rest = cu.text(2000, seed=4), cu.text(50 * KIB, seed=5)
        for coding in ("gzip", "br"):
            for framing in ("length", "chunked", "close"):
                with self.subTest(coding=coding, framing=framing):
                    self.go = threading.Event()
                    released = []
                    proxy = self.start({"/s": self.held_handler(first, rest, framing, released)})
                    sock, rfile = self.open_raw(proxy)
                    sock.settimeout(20 * harness.SLOWDOWN)
                    cu.send_get(sock, "/s", accept=coding)
                    status, headers = cu.read_head(rfile)
                    self.assertEqual((status, headers.get("content-encoding")), (200, [coding]))
                    decode = cu.decoder(coding)
                    got = b""
                    while len(got) < len(first):
                        chunk = cu.read_chunk(rfile)
                        self.assertNotEqual(chunk, b"", "body ended after %d bytes" % len(got))
                        got += decode(chunk)
                    self.assertEqual(got, first)
                    self.go.set()
                    while True:
                        chunk = cu.read_chunk(rfile)
                        if not chunk:
                            break
                        got += decode(chunk)
                    self.assertTrue(got == first + rest, "decoded body differs")
                    self.assertEqual(released, [True], "the first part was decoded only after "
                                     "the backend gave up waiting and sent the rest")
                    rfile.close()  # the socket closes with its last reference
                    sock.close()
                    proxy.stop()
                    self.backend.stop()


class SkipRules(CompressCase):
    def setUp(self):
        super().setUp()
        self.body = cu.text(4 * KIB, seed=6)

    def test_a_request_that_cannot_or_does_not_take_it_gets_the_body_as_it_is(self):
        proxy = self.start({"/t": cu.fixed(self.body, "text/html")})
        cases = {"no Accept-Encoding": dict(accept=None),
                 "q=0": dict(accept="gzip;q=0, br;q=0"),
                 "q=0.000 and *;q=0": dict(accept="gzip;q=0.000, *;q=0"),
                 "identity only": dict(accept="identity"),
                 "HTTP/1.0 client": dict(version="1.0"),
                 "an unknown coding": dict(accept="zstd, deflate")}
        for name, kw in cases.items():
            with self.subTest(name):
                self.assert_plain(self.fetch(proxy, "/t", **kw), self.body, vary=True)
        r = self.fetch(proxy, "/t", method="HEAD")
        self.assertIsNone(r.header("Content-Encoding"), r.headers)
        self.assertEqual(r.header("Content-Length"), str(len(self.body)))
        # And the controls: the same response is compressed for a client that takes it.
        for accept, coding in (("gzip;q=0.5", "gzip"), ("*", "br"), ("GZIP", "gzip"),
                               ("br;q=1.0", "br"), ("deflate, gzip;q=0.001", "gzip")):
            with self.subTest(accept=accept):
                self.assert_encoded(self.fetch(proxy, "/t", accept=accept), coding, self.body)

    def test_a_head_response_varies_as_its_get_does(self):
        # A cache keys a HEAD response as it keys the GET's (RFC 9110 §9.3.2: the same
        # fields): the GET varies on Accept-Encoding, so the HEAD must say so too.
        proxy = self.start({"/t": cu.fixed(self.body, "text/html")})
        self.assertTrue(varies(self.fetch(proxy, "/t", accept=None)))
        r = self.fetch(proxy, "/t", method="HEAD", accept="gzip")
        self.assertEqual((r.status, r.header("Content-Encoding")), (200, None), r.headers)
        self.assertTrue(varies(r), "HEAD lacks Vary: Accept-Encoding: %r" % r.headers)

    def test_a_response_that_is_not_eligible_is_left_as_it_is(self):
        pre = zlib.compress(self.body)
        proxy = self.start({
            "/gz": cu.fixed(pre, headers=[("Content-Encoding", "gzip")]),
            "/nt": cu.fixed(self.body, headers=[("Cache-Control", "public, No-Transform")]),
            "/206": cu.fixed(self.body, status=206,
                             headers=[("Content-Range", "bytes 0-4095/9000")]),
            "/png": cu.fixed(self.body, "image/png"),
            "/untyped": cu.fixed(self.body, ctype=None),
            "/255": cu.fixed(self.body[:255]),
        })
        for path, want in (("/gz", pre), ("/nt", self.body), ("/206", self.body),
                           ("/png", self.body), ("/untyped", self.body),
                           ("/255", self.body[:255])):
            with self.subTest(path):
                r = self.fetch(proxy, path, accept="gzip, br")
                self.assert_plain(r, want, vary=False,
                                  encoding="gzip" if path == "/gz" else None)
                if path == "/206":
                    self.assertEqual(r.status, 206)

    def test_what_makes_a_response_eligible(self):
        proxy = self.start({
            "/256": cu.fixed(self.body[:256]),
            "/identity": cu.fixed(self.body, headers=[("Content-Encoding", "identity")]),
            "/params": cu.fixed(self.body, "Text/HTML ; charset=utf-8"),
            "/json": cu.fixed(self.body, "application/json"),
            "/svg": cu.fixed(self.body, "image/svg+xml"),
            "/cc": cu.fixed(self.body, headers=[("Cache-Control", "no-cache, max-age=5")]),
        })
        for path, want in (("/256", self.body[:256]), ("/identity", self.body),
                           ("/params", self.body), ("/json", self.body), ("/svg", self.body),
                           ("/cc", self.body)):
            with self.subTest(path):
                self.assert_encoded(self.fetch(proxy, path), "gzip", want)

    def test_configured_types_and_min_size(self):
        proxy = self.start({"/x": cu.fixed(self.body, "text/x-custom"),
                            "/json": cu.fixed(self.body, "application/json"),
                            "/small": cu.fixed(self.body[:100], "text/plain"),
                            "/below": cu.fixed(self.body[:99], "text/plain")},
                           compress={"types": ["text/*"], "min_size": 100})
        self.assert_encoded(self.fetch(proxy, "/x"), "gzip", self.body)
        self.assert_encoded(self.fetch(proxy, "/small"), "gzip", self.body[:100])
        self.assert_plain(self.fetch(proxy, "/json"), self.body, vary=False)
        self.assert_plain(self.fetch(proxy, "/below"), self.body[:99], vary=False)


class Fields(CompressCase):
    def test_vary_and_etag(self):
        body = cu.text(2 * KIB, seed=7)
        proxy = self.start({
            "/vary-ae": cu.fixed(body, headers=[("Vary", "Origin, accept-encoding")]),
            "/vary-star": cu.fixed(body, headers=[("Vary", "*")]),
            "/vary-origin": cu.fixed(body, headers=[("Vary", "Origin")]),
            "/strong": cu.fixed(body, headers=[("ETag", '"v1"')]),
            "/weak": cu.fixed(body, headers=[("ETag", 'W/"v1"')]),
        })
        r = self.fetch(proxy, "/vary-ae")
        self.assert_encoded(r, "gzip", body)
        self.assertEqual(r.header_all("Vary"), ["Origin, accept-encoding"])  # not twice
        r = self.fetch(proxy, "/vary-star")
        self.assertEqual(r.header_all("Content-Encoding"), ["gzip"])
        self.assertEqual(r.header_all("Vary"), ["*"])
        self.assertTrue(cu.decode("gzip", r.body) == body)
        r = self.fetch(proxy, "/vary-origin")
        self.assert_encoded(r, "gzip", body)
        self.assertEqual(sorted(r.header_all("Vary")), ["Accept-Encoding", "Origin"])
        r = self.fetch(proxy, "/vary-origin", accept=None)
        self.assertEqual(sorted(r.header_all("Vary")), ["Accept-Encoding", "Origin"])
        r = self.fetch(proxy, "/strong")
        self.assert_encoded(r, "gzip", body)
        self.assertEqual(r.header_all("ETag"), ['W/"v1"'])
        r = self.fetch(proxy, "/weak", accept="br")
        self.assert_encoded(r, "br", body)
        self.assertEqual(r.header_all("ETag"), ['W/"v1"'])
        r = self.fetch(proxy, "/strong", accept=None)
        self.assert_plain(r, body, vary=True)
        self.assertEqual(r.header_all("ETag"), ['"v1"'])


class Connections(CompressCase):
    def test_keep_alive_after_a_compressed_response(self):
        a, b = cu.text(30 * KIB, seed=8), cu.text(20 * KIB, seed=9)
        proxy = self.start({"/a": cu.fixed(a), "/b": cu.chunked([b[:7000], b[7000:]])})
        sock, rfile = self.open_raw(proxy)
        for path, accept, want in (("/a", "gzip", a), ("/b", None, b), ("/b", "br", b),
                                   ("/a", None, a)):
            cu.send_get(sock, path, accept)
            r = harness.read_response(rfile)
            if accept:
                self.assert_encoded(r, accept, want)
            else:
                self.assert_plain(r, want, vary=True)
        self.assertEqual(len(self.backend.requests), 4)

    def test_pipelined_requests_behind_a_compressed_response(self):
        a = cu.text(100 * KIB, seed=10)
        proxy = self.start({"/a": cu.fixed(a)})
        sock, rfile = self.open_raw(proxy)
        sock.sendall(b"".join(b"GET /a HTTP/1.1\r\nHost: t\r\nAccept-Encoding: %s\r\n\r\n" % ae
                              for ae in (b"gzip", b"br", b"identity")))
        self.assert_encoded(harness.read_response(rfile), "gzip", a)
        self.assert_encoded(harness.read_response(rfile), "br", a)
        self.assert_plain(harness.read_response(rfile), a, vary=True)


class Choice(CompressCase):
    def test_the_first_configured_coding_the_client_allows(self):
        body = cu.text(2 * KIB, seed=11)
        proxy = self.start({"/t": cu.fixed(body)})  # encodings: [br, gzip]
        self.assert_encoded(self.fetch(proxy, "/t", accept="gzip, br"), "br", body)
        self.assert_encoded(self.fetch(proxy, "/t", accept="gzip, br;q=0"), "gzip", body)

    def test_configured_order_and_a_client_that_allows_none_of_it(self):
        body = cu.text(2 * KIB, seed=12)
        proxy = self.start({"/t": cu.fixed(body)}, compress={"encodings": ["gzip", "br"]})
        self.assert_encoded(self.fetch(proxy, "/t", accept="br, gzip"), "gzip", body)
        proxy.stop()
        self.backend.stop()
        proxy = self.start({"/t": cu.fixed(body)}, compress={"encodings": ["gzip"]})
        self.assert_plain(self.fetch(proxy, "/t", accept="br"), body, vary=True)
        self.assert_encoded(self.fetch(proxy, "/t", accept="br, gzip"), "gzip", body)


class AroundAnAsyncPlugin(CompressCase):
    def test_the_coding_noted_in_the_request_phase_survives_a_resumed_chain(self):
        # rate_limit with a redis store suspends the chain and resumes it on the reply: what
        # compress noted of Accept-Encoding must still be its own in the response phase.
        if not os.access(test_plugin_redis.REDIS_SERVER, os.X_OK):
            raise unittest.SkipTest("no redis-server")
        redis = test_plugin_redis.Redis(self.tmp)
        self.addCleanup(redis.stop)
        body = cu.text(5000, seed=15)
        limit = {"rate_limit": {"key": "client_ip", "rate": "1000/s", "burst": 1000,
                                "store": redis.url}}
        for plugins in ([limit, {"compress": {}}], [{"compress": {}}, limit]):
            with self.subTest(plugins=plugins):
                proxy = self.start({"/t": cu.fixed(body, "text/html")}, plugins=plugins)
                sock, rfile = self.open_raw(proxy)
                for accept in ("gzip", "br", None, "gzip"):
                    cu.send_get(sock, "/t", accept)
                    r = harness.read_response(rfile)
                    self.assertIsNotNone(r.header("RateLimit"), "rate_limit did not run")
                    if accept:
                        self.assert_encoded(r, accept, body)
                    else:
                        self.assert_plain(r, body, vary=True)
                proxy.stop()
                self.backend.stop()


class Metric(CompressCase):
    def test_each_compressed_response_is_counted_by_coding(self):
        body = cu.text(2 * KIB, seed=13)
        proxy = self.start({"/t": cu.fixed(body), "/png": cu.fixed(body, "image/png")},
                           workers=2)
        for accept in ("gzip", "gzip", "br", None):
            self.fetch(proxy, "/t", accept=accept)
        self.fetch(proxy, "/png", accept="gzip")

        def counts():
            samples, _ = metrics_util.scrape(proxy)
            return {dict(l)["action"]: v for (n, l), v in samples.items()
                    if n == "outrigger_plugin_actions_total" and dict(l).get("plugin") == "compress"
                    and dict(l).get("pool") == "api"}

        harness.wait_until(lambda: counts() == {"gzip": 2, "br": 1}, 5,
                           what="compress gzip=2 br=1 in /metrics (last %r)" % (counts(),))


class LocalAnswers(CompressCase):
    def test_respond_and_error_pages_are_never_compressed(self):
        text = cu.text(2 * KIB, seed=14).decode()
        proxy = self.start({}, extra_plugins=[{"respond": {"status": 200, "body": text}}])
        r = self.fetch(proxy, "/", accept="gzip, br")
        self.assertEqual(r.status, 200)
        self.assertRegex(r.header("Content-Type"), r"^text/plain")  # a listed type
        self.assertIsNone(r.header("Content-Encoding"), r.headers)
        self.assertEqual(r.body, text.encode())
        self.assertEqual(len(self.backend.requests), 0)

    def test_an_error_page_is_not_compressed(self):
        dead = harness.free_port()
        routes = [{"path_prefix": "/", "pool": "api", "plugins": [{"compress": {"min_size": 0}}]}]
        proxy = self.start_proxy(self.config(
            pools={"api": self.pool("127.0.0.1:%d" % dead)}, routes=routes))
        r = self.fetch(proxy, "/", accept="gzip, br")
        self.assertEqual(r.status, 502)
        self.assertRegex(r.header("Content-Type"), r"^text/plain")
        self.assertIsNone(r.header("Content-Encoding"), r.headers)


class ConfigErrors(CompressCase):
    def check_error(self, compress, key_path, message, marker, below=0):
        """--check fails naming the file, the line `below` lines under the one holding
        `marker`, and the key."""
        routes = [{"path_prefix": "/", "pool": "api", "plugins": [{"compress": compress}]}]
        text = self.config(pools={"api": self.pool("127.0.0.1:9")}, routes=routes)
        line = next(i + 1 for i, l in enumerate(text.splitlines()) if marker in l) + below
        r = self.check_config(text)
        self.assertNotEqual(r.returncode, 0, text)
        self.assertRegex(r.stderr, r"check-\d+\.yaml:%d:\d+: listeners\.web\.routes\[0\]"
                         r"\.plugins\[0\]\.compress%s: .*%s"
                         % (line, re.escape(key_path), message), text)

    def test_config_errors(self):
        self.check_error({"encodings": ["zstd"]}, ".encodings[0]", "expected gzip or br",
                         "- zstd")
        self.check_error({"encodings": ["gzip", "br", "gzip"]}, ".encodings[2]",
                         "gzip is listed twice", "encodings:", below=3)
        self.check_error({"encodings": []}, ".encodings", "at least one", "encodings:")
        self.check_error({"types": ["text/html", "texthtml"]}, ".types[1]",
                         "expected a media type", "- texthtml")
        self.check_error({"types": ["text/"]}, ".types[0]", "expected a media type", "- text/")
        # "*/*" would match nothing (only "type/*" is a pattern): refused rather than inert.
        self.check_error({"types": ["*/*"]}, ".types[0]", "expected a media type", "*/*")
        self.check_error({"types": ["text/html; charset=utf-8"]}, ".types[0]",
                         "expected a media type", "charset")
        self.check_error({"gzip_level": 0}, ".gzip_level", "between 1 and 9", "gzip_level")
        self.check_error({"gzip_level": 10}, ".gzip_level", "between 1 and 9", "gzip_level")
        self.check_error({"brotli_quality": 12}, ".brotli_quality", "between 0 and 11",
                         "brotli_quality")
        self.check_error({"brotli_quality": -1}, ".brotli_quality", "between 0 and 11",
                         "brotli_quality")
        self.check_error({"min_size": "lots"}, ".min_size", "invalid size", "min_size")
        self.check_error({"min_size": -5}, ".min_size", "invalid size", "min_size")
        self.check_error({"level": 3}, "", "unknown key `level`", "level: 3")
        routes = [{"path_prefix": "/", "pool": "api", "plugins": [{"compress": {
            "encodings": ["gzip"], "types": ["text/*", "application/json"], "min_size": "1KiB",
            "gzip_level": 9, "brotli_quality": 0}}]}]
        r = self.check_config(self.config(pools={"api": self.pool("127.0.0.1:9")}, routes=routes))
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    harness.main()
