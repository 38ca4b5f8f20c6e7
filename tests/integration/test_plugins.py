#!/usr/bin/env python3
"""A route's `plugins:` chain end to end: rewrite (strip_prefix, replace_prefix, regex),
headers (request and response edits, the proxy's own fields too), respond, redirect and
ip_filter; their order (an answering plugin stops the chain); keep-alive and pipelining
around local answers; outrigger_plugin_actions_total; --check's errors; a reload."""

import re
import subprocess
import unittest

import harness
import metrics_util

HSTS = "max-age=31536000"


def seen_fields(resp):
    """name (lower case) → [values] of the request head a backend's /headers saw."""
    out = {}
    for name, value in resp.json()["headers"]:
        out.setdefault(name.lower(), []).append(value)
    return out


def route(prefix, plugins, pool="api"):
    r = {"path_prefix": prefix}
    if pool:
        r["pool"] = pool
    if plugins:
        r["plugins"] = plugins
    return r


class Plugins(harness.ProxyTestCase):
    def start(self, routes, listener=None, pools_extra=None, workers=1):
        self.backend = self.start_backend("api")
        pools = {"api": self.pool(self.backend)}
        pools.update(pools_extra or {})
        return self.start_proxy(self.config(pools=pools, routes=routes, listener=listener,
                                            workers=workers))

    def action_counts(self, proxy):
        """{(pool, plugin, action): value} of the non-zero plugin action counters."""
        samples, _ = metrics_util.scrape(proxy)
        got = {}
        for (name, labels), v in samples.items():
            d = dict(labels)
            if name == "outrigger_plugin_actions_total" and v:
                got[(d.get("pool"), d.get("plugin"), d.get("action"))] = v
        return got

    def assert_action_counts(self, proxy, want):
        last = {}

        def matches():
            last.clear()
            last.update(self.action_counts(proxy))
            return last == want

        try:
            harness.wait_until(matches, 5, what="plugin action counters")
        except AssertionError:
            self.assertEqual(last, want)

    def targets(self):
        """The request targets the backend read whole, /stats excluded."""
        return [t for _, t, _ in self.backend.stats()["complete"] if t != "/stats"]

    # --- 1. rewrite ------------------------------------------------------------------------
    def test_rewrite_strip_replace_and_regex(self):
        proxy = self.start([
            route("/api", [{"rewrite": {"strip_prefix": "/api"}}]),
            route("/v1/", [{"rewrite": {"replace_prefix": {"from": "/v1/",
                                                           "to": "/internal/v1/"}}}]),
            route("/u/", [{"rewrite": {"regex": {"match": "^/u/(\\d+)$", "to": "/users/$1"}}}]),
        ])
        for path in ("/api/users?x=1", "/api", "/apix", "/api?q=2", "/v1/a/b?k=v", "/v1/",
                     "/u/42?z=1", "/u/abc", "/u/42/x"):
            r = proxy.get(path)
            self.assertEqual(r.header("X-Backend"), "api", (path, r))
        self.assertEqual(self.targets(), [
            "/users?x=1", "/", "/apix", "/?q=2", "/internal/v1/a/b?k=v", "/internal/v1/",
            "/users/42?z=1", "/u/abc", "/u/42/x"])
        # The backend's own endpoint behind a stripped prefix answers as if asked directly.
        r = proxy.get("/api/headers?k=1")
        self.assertEqual((r.status, r.json()["target"]), (200, "/headers?k=1"))

    # --- 2. headers ------------------------------------------------------------------------
    def test_headers_request_and_response_edits(self):
        proxy = self.start([
            route("/h/", [{"rewrite": {"strip_prefix": "/h"}}, {"headers": {
                "request": {"set": {"X-Env": "prod", "Host": "backend.internal",
                                    "X-Lit": "cost $$5 ${host}", "X-Req": "id=$request_id"},
                            "add": {"X-Via": "edge $scheme $remote_addr"},
                            "remove": ["X-Debug"]},
                "response": {"set": {"Strict-Transport-Security": HSTS}, "remove": ["Server"]}}}]),
            route("/own/", [{"rewrite": {"strip_prefix": "/own"}}, {"headers": {"request": {
                "set": {"X-Forwarded-For": "192.0.2.1"}, "remove": ["X-Real-IP"]}}}]),
            route("/", []),
        ])
        hdrs = {"Host": "client.test:8080", "X-Debug": "1", "X-Env": "dev", "X-Via": "client"}
        r = proxy.get("/h/headers", headers=hdrs)
        self.assertEqual(r.status, 200, r)
        seen = seen_fields(r)
        self.assertEqual(seen.get("x-env"), ["prod"], seen)
        self.assertEqual(seen.get("host"), ["backend.internal"], seen)
        self.assertEqual(seen.get("x-lit"), ["cost $5 client.test"], seen)
        self.assertEqual(seen.get("x-req"), ["id=" + r.header("X-Request-Id")], seen)
        self.assertEqual(seen.get("x-via"), ["client", "edge http 127.0.0.1"], seen)
        self.assertNotIn("x-debug", seen)
        self.assertEqual(r.header("Strict-Transport-Security"), HSTS)
        self.assertIsNone(r.header("Server"), r.headers)
        # Control: without the plugin the backend's Server comes through, X-Debug too.
        r = proxy.get("/headers", headers=hdrs)
        self.assertIsNotNone(r.header("Server"), r.headers)
        self.assertIsNone(r.header("Strict-Transport-Security"))
        seen = seen_fields(r)
        self.assertEqual((seen.get("x-debug"), seen.get("host")), (["1"], ["client.test:8080"]))
        # The proxy's own fields: X-Forwarded-For replaced, X-Real-IP dropped.
        seen = seen_fields(proxy.get("/own/headers"))
        self.assertEqual(seen.get("x-forwarded-for"), ["192.0.2.1"], seen)
        self.assertNotIn("x-real-ip", seen)
        self.assertEqual(seen.get("x-forwarded-proto"), ["http"], seen)

    # Several headers plugins act in chain order: two that `set` one field send it once (two
    # Host fields would get a 400 from a strict backend, RFC 9112 §3.2), and a later `remove`
    # undoes an earlier `set`.
    def test_two_headers_plugins_apply_in_chain_order(self):
        def edit(**request):
            return {"headers": {"request": request, "response": {"set": {"X-R": "v"}}}}

        proxy = self.start([
            route("/ss/", [{"rewrite": {"strip_prefix": "/ss"}},
                           edit(set={"X-A": "1", "Host": "a.internal"}),
                           edit(set={"X-A": "2", "Host": "b.internal"})]),
            route("/sr/", [{"rewrite": {"strip_prefix": "/sr"}}, edit(set={"X-A": "1"}),
                           edit(remove=["X-A"])]),
        ])
        r = proxy.get("/ss/headers", headers={"X-A": "client"})
        self.assertEqual(r.header_all("X-R"), ["v"])  # either plugin's: one field, not two
        self.assertEqual(r.status, 200, r.body)
        seen = seen_fields(r)
        self.assertEqual((seen.get("x-a"), seen.get("host")), (["2"], ["b.internal"]), seen)
        seen = seen_fields(proxy.get("/sr/headers", headers={"X-A": "client"}))
        self.assertNotIn("x-a", seen)

    # --- 3. respond ------------------------------------------------------------------------
    def ping_routes(self):
        return [route("/ping", [{"headers": {"response": {"add": {"X-Pong": "yes"}}}},
                                {"respond": {"status": 200, "body": "pong $host\n"}}], pool=None),
                route("/api/", [{"rewrite": {"strip_prefix": "/api"}}])]

    def test_respond_body_head_and_no_pool(self):
        proxy = self.start(self.ping_routes())
        r = proxy.get("/ping", headers={"Host": "a.test:8080"})
        self.assertEqual((r.status, r.body), (200, b"pong a.test\n"))
        self.assertEqual(r.header("Content-Type"), "text/plain; charset=utf-8")
        self.assertEqual(r.header("X-Pong"), "yes")
        # HEAD: the head with the GET's length, no body (the next answer on the connection
        # would not parse if a body had been sent).
        s = harness.raw_connect(proxy.port)
        self.addCleanup(s.close)
        f = s.makefile("rb")
        s.sendall(b"HEAD /ping HTTP/1.1\r\nHost: a.test\r\n\r\n")
        head = harness.read_response(f, "HEAD")
        self.assertEqual((head.status, head.header("Content-Length"), head.body), (200, "12", b""))
        s.sendall(b"GET /ping HTTP/1.1\r\nHost: b.test\r\n\r\n")
        self.assertEqual(harness.read_response(f).body, b"pong b.test\n")
        self.assertEqual(self.targets(), [])

    def test_respond_keeps_alive_and_pipelines_with_proxied_requests(self):
        proxy = self.start(self.ping_routes())
        s = harness.raw_connect(proxy.port)
        self.addCleanup(s.close)
        f = s.makefile("rb")
        for host in (b"one.test", b"two.test"):
            s.sendall(b"GET /ping HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
            r = harness.read_response(f)
            self.assertEqual(r.body, b"pong " + host + b"\n")
            self.assertNotEqual((r.header("Connection") or "").lower(), "close")
        # In one send: local answers around proxied requests, one of them slow; the answers
        # come in request order (a local one never overtakes a pending backend's).
        s.sendall(b"GET /ping HTTP/1.1\r\nHost: p.test\r\n\r\n"
                  b"GET /api/slow?ms=300 HTTP/1.1\r\nHost: p.test\r\n\r\n"
                  b"GET /ping HTTP/1.1\r\nHost: q.test\r\n\r\n"
                  b"GET /api/?n=1 HTTP/1.1\r\nHost: p.test\r\n\r\n")
        got = [harness.read_response(f) for _ in range(4)]
        self.assertEqual([(r.status, r.body) for r in got],
                         [(200, b"pong p.test\n"), (200, b"slow from api\n"),
                          (200, b"pong q.test\n"), (200, b"hello from api\n")])
        self.assertEqual(self.targets(), ["/slow?ms=300", "/?n=1"])

    # A 204/304 ends at its head (RFC 9112 §6.3): --check refuses a body for one, and a 204
    # carries no Content-Length (RFC 9110 §8.6); otherwise a keep-alive client would read a
    # body's bytes as the start of the next response.
    def test_respond_204_and_304_have_no_body(self):
        routes = [route("/nm", [{"respond": {"status": 304, "body": "abc"}}], pool=None),
                  route("/nc", [{"respond": {"status": 204}}], pool=None),
                  route("/ping", [{"respond": {"body": "p"}}], pool=None)]
        r = self.check_config(self.config(pools={"api": self.pool("127.0.0.1:9")}, routes=routes))
        self.assertNotEqual(r.returncode, 0)
        self.assertRegex(r.stderr, r"routes\[0\]\.plugins\[0\]\.respond\.body: a 304 response "
                         r"has no body")
        del routes[0]
        proxy = self.start(routes)
        s = harness.raw_connect(proxy.port)
        self.addCleanup(s.close)
        f = s.makefile("rb")
        for path in [rt["path_prefix"] for rt in routes[:-1]]:
            s.sendall(b"GET %s HTTP/1.1\r\nHost: a\r\n\r\nGET /ping HTTP/1.1\r\nHost: a\r\n\r\n"
                      % path.encode())
            first = harness.read_response(f)
            self.assertEqual(first.status, {"/nc": 204, "/nm": 304}[path])
            if path == "/nc":
                self.assertIsNone(first.header("Content-Length"), first.headers)
            second = harness.read_response(f)  # would start with the body's bytes
            self.assertEqual((second.status, second.body), (200, b"p"), path)

    # --- 4. redirect -----------------------------------------------------------------------
    def test_redirect_status_location_and_a_body_closes(self):
        proxy = self.start([
            route("/old/", [{"redirect": {"to": "https://new.example.com$request_uri",
                                          "status": 301}}], pool=None),
            route("/tmp/", [{"redirect": {"to": "/elsewhere?from=$path"}}], pool=None),
            route("/", []),
        ])
        r = proxy.get("/old/a/b?x=1&y=2")
        self.assertEqual((r.status, r.body), (301, b""))
        self.assertEqual(r.header("Location"), "https://new.example.com/old/a/b?x=1&y=2")
        c = subprocess.run(["curl", "-sS", "-o", "/dev/null", "--max-time",
                            str(10 * harness.SLOWDOWN), "-w", "%{http_code} %{redirect_url}",
                            "http://127.0.0.1:%d/old/c?d=%%2F" % proxy.port],
                           capture_output=True, text=True, timeout=30 * harness.SLOWDOWN)
        self.assertEqual((c.returncode, c.stdout), (0, "301 https://new.example.com/old/c?d=%2F"),
                         c.stderr)
        r = proxy.get("/tmp/t?q=1")
        self.assertEqual((r.status, r.header("Location")), (302, "/elsewhere?from=/tmp/t"))
        for status in (303, 307, 308):
            p = self.start_proxy(self.config(pools={"api": self.pool(self.backend)}, routes=[
                route("/", [{"redirect": {"to": "/x", "status": status}}], pool=None)]))
            self.assertEqual(p.get("/a").status, status)
            p.stop()
        # A body: the answer, then the connection closes; the body is never read as a request.
        s = harness.raw_connect(proxy.port)
        self.addCleanup(s.close)
        s.sendall(b"POST /old/form?k=v HTTP/1.1\r\nHost: a.test\r\nContent-Length: 35\r\n\r\n"
                  b"GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n")
        f = s.makefile("rb")
        r = harness.read_response(f)
        self.assertEqual((r.status, r.header("Location")),
                         (301, "https://new.example.com/old/form?k=v"))
        self.assertEqual(harness.read_until_closed(s), b"")
        self.assertEqual(self.targets(), [])

    # --- 5. ip_filter ----------------------------------------------------------------------
    def test_ip_filter_deny_allow_and_trusted_proxies(self):
        proxy = self.start([
            route("/deny/", [{"ip_filter": {"deny": ["127.0.0.0/8"]}}]),
            route("/allow/", [{"ip_filter": {"allow": ["127.0.0.0/8"]}}]),
            route("/both/", [{"ip_filter": {"allow": ["127.0.0.0/8"], "deny": ["127.0.0.1/32"]}}]),
            route("/ten/", [{"ip_filter": {"allow": ["10.0.0.0/8"]}}]),
        ], listener={"trusted_proxies": ["127.0.0.1/32"]})
        for path in ("/deny/x", "/both/x", "/ten/x"):
            self.assertEqual(proxy.get(path).status, 403, path)
        self.assertEqual(self.targets(), [])
        self.assertEqual(proxy.get("/allow/x").status, 404)  # the backend's answer
        self.assertEqual(proxy.get("/ten/y", headers={"X-Forwarded-For": "10.1.2.3"}).status, 404)
        r = proxy.get("/deny/z", headers={"X-Forwarded-For": "10.1.2.3"})
        self.assertEqual(r.status, 404)  # the filter judges 10.1.2.3, outside 127.0.0.0/8
        self.assertEqual(proxy.get("/ten/z", headers={"X-Forwarded-For": "11.0.0.1"}).status, 403)
        self.assertEqual(self.targets(), ["/allow/x", "/ten/y", "/deny/z"])

    def test_ip_filter_ignores_x_forwarded_for_from_an_untrusted_peer(self):
        proxy = self.start([route("/ten/", [{"ip_filter": {"allow": ["10.0.0.0/8"]}}])])
        r = proxy.get("/ten/x", headers={"X-Forwarded-For": "10.1.2.3"})
        self.assertEqual(r.status, 403)
        self.assertEqual(self.targets(), [])

    # A route's response edits reach the proxy's own errors after the plugins ran (502, 504,
    # 503), as nginx's `add_header ... always`: an HSTS or CORS field must not vanish exactly
    # when the backend is down.
    def test_response_edits_apply_to_the_proxys_own_502(self):
        proxy = self.start([route("/", [{"headers": {"response": {
            "set": {"Strict-Transport-Security": HSTS}}}}], pool="dead")],
            pools_extra={"dead": self.pool("127.0.0.1:9")})
        r = proxy.get("/x")
        self.assertEqual(r.status, 502)
        self.assertEqual(r.header("Strict-Transport-Security"), HSTS, r.headers)

    # --- 6. order --------------------------------------------------------------------------
    def test_order_of_the_chain(self):
        early = {"headers": {"response": {"set": {"X-Early": "1"}}}}
        late = {"headers": {"response": {"set": {"X-Late": "1"}}}}
        proxy = self.start([
            # rewrite, then headers: $path is the rewritten one; the other way round, not.
            route("/rh/", [{"rewrite": {"strip_prefix": "/rh"}},
                           {"headers": {"request": {"set": {"X-Path": "$path $request_uri"}}}}]),
            route("/hr/", [{"headers": {"request": {"set": {"X-Path": "$path $request_uri"}}}},
                           {"rewrite": {"strip_prefix": "/hr"}}]),
            route("/gate/", [early, {"ip_filter": {"deny": ["127.0.0.1/32"]}}, late,
                             {"respond": {"status": 200, "body": "in"}}]),
            route("/open/", [early, {"ip_filter": {"deny": ["10.0.0.0/8"]}}, late,
                             {"respond": {"status": 200, "body": "in"}}]),
            route("/first/", [early, {"respond": {"status": 202, "body": "first"}}, late]),
        ])
        seen = seen_fields(proxy.get("/rh/headers?a=1"))
        self.assertEqual(seen.get("x-path"), ["/headers /rh/headers?a=1"], seen)
        seen = seen_fields(proxy.get("/hr/headers?a=1"))
        self.assertEqual(seen.get("x-path"), ["/hr/headers /hr/headers?a=1"], seen)
        r = proxy.get("/gate/x")
        self.assertEqual((r.status, r.header("X-Early"), r.header("X-Late")), (403, "1", None))
        self.assertNotEqual(r.body, b"in")
        r = proxy.get("/open/x")
        self.assertEqual((r.status, r.body, r.header("X-Early"), r.header("X-Late")),
                         (200, b"in", "1", "1"))
        r = proxy.get("/first/x")
        self.assertEqual((r.status, r.body, r.header("X-Early"), r.header("X-Late")),
                         (202, b"first", "1", None))
        self.assertEqual(self.targets(), ["/headers?a=1", "/headers?a=1"])

    # --- 7. metrics ------------------------------------------------------------------------
    def test_plugin_action_counters(self):
        proxy = self.start([
            route("/api", [{"rewrite": {"strip_prefix": "/api"}},
                           {"headers": {"request": {"set": {"X-Env": "prod"}}}}]),
            route("/ping", [{"respond": {"status": 200, "body": "pong"}}], pool=None),
            route("/old/", [{"redirect": {"to": "/new"}}], pool=None),
            route("/deny/", [{"ip_filter": {"deny": ["127.0.0.0/8"]}},
                             {"headers": {"response": {"set": {"X-No": "1"}}}}]),
        ], workers=2)  # the counters are summed over the workers' shards
        for path, status in (("/api/a", 404), ("/api/b", 404), ("/apix", 404), ("/ping", 200),
                             ("/ping", 200), ("/ping", 200), ("/old/1", 302), ("/deny/1", 403),
                             ("/deny/2", 403)):
            self.assertEqual(proxy.get(path).status, status, path)
        want = {("api", "rewrite", "rewritten"): 2, ("api", "headers", "edited"): 3,
                ("", "respond", "answered"): 3, ("", "redirect", "redirected"): 1,
                ("api", "ip_filter", "denied"): 2}
        self.assert_action_counts(proxy, want)

    # --- 8. config errors ------------------------------------------------------------------
    def check_error(self, plugins, key_path, message, pool="api", marker=None):
        """--check on one route with `plugins`: fails naming the file, the line holding
        `marker` (default: the first plugin's line) and `key_path` under the route."""
        text = self.config(pools={"api": self.pool("127.0.0.1:9")},
                           routes=[route("/", plugins, pool=pool)])
        lines = text.splitlines()
        if marker is None:
            start = next(i for i, l in enumerate(lines) if l.strip() == "plugins:")
            line = start + 2
        else:
            line = next(i + 1 for i, l in enumerate(lines) if marker in l)
        r = self.check_config(text)
        self.assertNotEqual(r.returncode, 0, text)
        self.assertRegex(r.stderr, r"check-\d+\.yaml:%d:\d+: listeners\.web\.routes\[0\]%s: .*%s"
                         % (line, re.escape(key_path), message), text)

    def test_config_errors(self):
        self.check_error([{"rewrit": {"strip_prefix": "/a"}}], ".plugins[0]",
                         "unknown key `rewrit`; did you mean `rewrite`\\?")
        self.check_error([{"rewrite": {"strip_prefix": "/a"}, "respond": {"body": "x"}}],
                         ".plugins[0]", "one plugin per list item.*got 2")
        self.check_error([{"respond": {"body": "hi $nosuch"}}], ".plugins[0].respond.body",
                         "unknown variable \\$nosuch", marker="$nosuch")
        self.check_error([{"rewrite": {"regex": {"match": "^/(a", "to": "/b"}}}],
                         ".plugins[0].rewrite.regex.match", "invalid regular expression",
                         marker="^/(a")
        self.check_error([{"headers": {"request": {"set": {"Bad Name": "x"}}}}],
                         ".plugins[0].headers.request.set.Bad Name", "expected a header name",
                         marker="Bad Name")
        self.check_error([{"headers": {"request": {"add": {"Host": "x"}}}}],
                         ".plugins[0].headers.request.add.Host", "Host cannot be removed or added",
                         marker="Host: x")
        for codec in ("Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive",
                      "Proxy-Connection", "TE", "Trailer", "Upgrade"):
            self.check_error([{"headers": {"response": {"set": {codec: "1"}}}}],
                             ".plugins[0].headers.response.set." + codec, "is the proxy's to write",
                             marker=codec + ":")
        self.check_error([{"headers": {"request": {"remove": ["Host"]}}}],
                         ".plugins[0].headers.request.remove[0]", "Host cannot be removed",
                         marker="- Host")
        self.check_error([{"redirect": {"to": "/x", "status": 200}}],
                         ".plugins[0].redirect.status", "expected 301, 302, 303, 307 or 308",
                         marker="status: 200")
        self.check_error([{"respond": {"status": 99}}], ".plugins[0].respond.status",
                         "must be between 200 and 599, got 99",
                         marker="status: 99")
        self.check_error([{"respond": {"body": "${host"}}], ".plugins[0].respond.body",
                         "unterminated", marker="${host")
        self.check_error([{"ip_filter": {"deny": ["10.0.0.0/33"]}}],
                         ".plugins[0].ip_filter.deny[0]", "invalid CIDR", marker="10.0.0.0/33")
        self.check_error([{"rewrite": {"strip_prefix": "api"}}], ".plugins[0].rewrite.strip_prefix",
                         "must start with '/'", marker="strip_prefix")
        self.check_error([{"redirect": {"to": "/x", "code": 301}}], ".plugins[0].redirect",
                         "unknown key `code`", marker="code:")
        self.check_error([{"headers": {"request": {}}}], ".plugins[0].headers",
                         "expected `request` and/or `response` edits")
        text = self.config(pools={"api": self.pool("127.0.0.1:9")}, routes=[
            route("/", [{"rewrite": {"strip_prefix": "/a"}}], pool=None)])
        line = next(i + 1 for i, l in enumerate(text.splitlines()) if "path_prefix" in l)
        r = self.check_config(text)
        self.assertNotEqual(r.returncode, 0)
        self.assertRegex(r.stderr, r"check-\d+\.yaml:%d:\d+: listeners\.web\.routes\[0\]: "
                                   r"missing required key `pool`" % line)
        # And the good ones pass.
        text = self.config(pools={"api": self.pool("127.0.0.1:9")}, routes=self.ping_routes())
        r = self.check_config(text)
        self.assertEqual(r.returncode, 0, r.stderr)

    # --- 9. reload -------------------------------------------------------------------------
    def test_reload_changes_a_respond_body(self):
        proxy = self.start(self.ping_routes())
        self.assertEqual(proxy.get("/ping", headers={"Host": "r.test"}).body, b"pong r.test\n")
        text = proxy.config_text.replace('"pong $host\\n"', '"pang $scheme\\n"')
        self.assertNotEqual(text, proxy.config_text)
        proxy.reload(text)
        proxy.wait_log(r"reloaded ")
        self.assertEqual(proxy.get("/ping").body, b"pang http\n")
        # A reload that breaks a plugin is refused; the running chain stays.
        proxy.reload(text.replace("$scheme", "$nosuch"))
        proxy.wait_log(r"reload refused")
        self.assertEqual(proxy.get("/ping").body, b"pang http\n")
        self.assertEqual(proxy.proc.poll(), None)
        # The counter goes on across reloads.
        self.assert_action_counts(proxy, {("", "headers", "edited"): 3,
                                          ("", "respond", "answered"): 3})

    def test_a_request_in_flight_keeps_its_chain_across_a_reload(self):
        # The response phase of a request that started before a reload runs the old chain,
        # whose plugins the new config no longer has (under ASan: no use after free).
        proxy = self.start([route("/api/", [{"rewrite": {"strip_prefix": "/api"}}, {"headers": {
            "response": {"set": {"X-Old": "$path"}, "remove": ["Server"]}}}])])
        s = harness.raw_connect(proxy.port)
        self.addCleanup(s.close)
        f = s.makefile("rb")
        s.sendall(b"GET /api/slow?ms=%d HTTP/1.1\r\nHost: a\r\n\r\n" % (1000 * harness.SLOWDOWN))
        harness.wait_until(lambda: self.backend.stats()["slow_in_flight"] == 1, 5,
                           what="the slow request at the backend")
        proxy.reload(proxy.config_text.replace("X-Old", "X-New").replace("$path", "new"))
        proxy.wait_log(r"reloaded ")
        r = harness.read_response(f)
        self.assertEqual((r.status, r.header("X-Old"), r.header("Server")), (200, "/slow", None))
        # The next request on the same connection, and a new connection, get the new chain.
        s.sendall(b"GET /api/ HTTP/1.1\r\nHost: a\r\n\r\n")
        r = harness.read_response(f)
        self.assertEqual((r.status, r.header("X-New"), r.header("X-Old")), (200, "new", None))
        self.assertEqual(proxy.get("/api/").header("X-New"), "new")


if __name__ == "__main__":
    harness.main()
