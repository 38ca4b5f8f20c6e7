#!/usr/bin/env python3
"""basic_auth through the real binary: a users file of bcrypt, SHA-crypt and yescrypt hashes
lets a listed user's right password through (without its Authorization unless
forward_authorization) and answers anything else 401 with the realm's challenge, reaching no
backend; weak, malformed and duplicate entries are config errors naming the users file's
line; checks run off the worker's loop, a matched password is remembered, more than 64
waiting checks get 503; a reload re-reads the file; pipelined answers keep their order and a
client leaving mid-check does not hurt the proxy."""

import base64
import hashlib
import os
import re
import secrets
import select
import socket
import struct
import subprocess
import threading
import time
import unittest
import warnings

import harness
import metrics_util

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # noqa: E402  (deprecated in 3.11, the system's libcrypt is what we want)

SALT_CHARS = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
CHALLENGE = 'Basic realm="%s", charset="UTF-8"'


def bcrypt(password, cost=4, prefix="2b"):
    setting = crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=2 ** cost)
    h = crypt.crypt(password, "$%s$" % prefix + setting[4:])
    assert h.startswith("$%s$%02d$" % (prefix, cost)), h
    return h


def openssl_passwd(flag, password):
    return subprocess.run(["openssl", "passwd", flag, password], check=True,
                          capture_output=True, text=True, timeout=10).stdout.strip()


def yescrypt(password):
    h = crypt.crypt(password, "$y$j9T$%s$" % "".join(secrets.choice(SALT_CHARS)
                                                    for _ in range(16)))
    assert h and h.startswith("$y$"), h
    return h


def basic(user, password, scheme="Basic"):
    return "%s %s" % (scheme, base64.b64encode(("%s:%s" % (user, password)).encode()).decode())


def auth_count(proxy, action):
    samples, _ = metrics_util.scrape(proxy)
    return sum(v for (name, labels), v in samples.items()
               if name == "outrigger_plugin_actions_total"
               and dict(labels).get("plugin") == "basic_auth"
               and dict(labels).get("action") == action)


class BasicAuthTestCase(harness.ProxyTestCase):
    def write_users(self, text, name="users"):
        """Writes the users file next to the config files (atomically: a reload may read it)."""
        path = os.path.join(self.tmp, name)
        with open(path + ".new", "w") as f:
            f.write(text)
        os.replace(path + ".new", path)
        return name

    def start(self, users_text, auth=None, other_route=False, drain=None):
        """A proxy whose "/" needs basic_auth (options `auth` added) in front of a backend;
        with other_route, /other/ answers locally with no auth."""
        self.backend = self.start_backend("api")
        options = {"users_file": self.write_users(users_text)}
        options.update(auth or {})
        routes = [{"path_prefix": "/", "pool": "api", "plugins": [{"basic_auth": options}]}]
        if other_route:
            routes.insert(0, {"path_prefix": "/other/", "plugins": [
                {"respond": {"body": "other"}}]})
        return self.start_proxy(self.config(pools={"api": self.pool(self.backend)},
                                            routes=routes, drain=drain))

    def targets(self):
        return [t for _, t, _ in self.backend.stats()["complete"] if t != "/stats"]

    def assert_denied(self, r, realm="restricted"):
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.header_all("WWW-Authenticate"), [CHALLENGE % realm])


class Config(BasicAuthTestCase):
    def check(self, users_text, auth=None):
        name = self.write_users(users_text, "users-%d" % time.monotonic_ns())
        options = {"users_file": name}
        options.update(auth or {})
        routes = [{"path_prefix": "/", "pool": "api", "plugins": [{"basic_auth": options}]}]
        text = self.config(pools={"api": self.pool("127.0.0.1:9")}, routes=routes)
        line = next(i + 1 for i, l in enumerate(text.splitlines()) if "users_file:" in l)
        return self.check_config(text), name, line

    def assert_refused(self, users_text, where, user=None, why=""):
        """--check fails at users_file's YAML line, then the users file's `where` (":N" for
        its line N, "" for the file as a whole), then the user (quoted) if given."""
        r, name, line = self.check(users_text)
        self.assertNotEqual(r.returncode, 0, users_text)
        rx = (r"check-\d+\.yaml:%d:\d+: \S*basic_auth\.users_file: (?:\S*/)?%s%s\b.*"
              % (line, re.escape(name), re.escape(where)))
        if user is not None:
            rx += re.escape('"%s"' % user) + ".*"
        self.assertRegex(r.stderr, rx + why, users_text)

    def test_every_accepted_hash_with_comments_and_blank_lines_passes(self):
        text = "\n".join([
            "# staff",
            "y:" + bcrypt("a", prefix="2y"), "b:" + bcrypt("a", prefix="2b"),
            "a:" + bcrypt("a", prefix="2a"), "",
            "   ",
            "s5:" + openssl_passwd("-5", "a"), "s6:" + openssl_passwd("-6", "a"),
            "# more staff",
            "ye:" + yescrypt("a"), ""])
        r, _, _ = self.check(text)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_weak_hashes_are_refused_naming_the_line_and_user(self):
        good = "ok:%s\n# a comment\n\n" % bcrypt("a")
        weak = {
            "apr1": openssl_passwd("-apr1", "a"),
            "md5": openssl_passwd("-1", "a"),
            "sha1": "{SHA}" + base64.b64encode(hashlib.sha1(b"a").digest()).decode(),
            "des": crypt.crypt("a", "ab"),
            "bsdi": crypt.crypt("a", "_J9..abcd"),
            "plain": "secret",
        }
        for user, h in weak.items():
            with self.subTest(user):
                self.assert_refused(good + "%s:%s\n" % (user, h), ":4", user)

    def test_malformed_lines_are_refused(self):
        good = bcrypt("a")
        cases = [
            ("short", "$2b$04$abc"),
            ("cost", good.replace("$04$", "$99$")),
            ("sha6", "$6$salt$not*a*valid*hash"),
            ("empty", ""),
        ]
        for user, h in cases:
            with self.subTest(user):
                self.assert_refused("first:%s\n%s:%s\n" % (good, user, h), ":2", user)
        with self.subTest("no colon"):
            self.assert_refused("first:%s\njust-a-name\n" % good, ":2")
        with self.subTest("twice"):
            self.assert_refused("dup:%s\nother:%s\ndup:%s\n" % (good, good, good), ":3", "dup")

    def test_a_file_without_users_or_missing_is_refused(self):
        self.assert_refused("# nobody\n\n   \n", "", why="no users")
        self.assert_refused("", "", why="no users")
        r, _, line = self.check("x:%s\n" % bcrypt("a"))
        self.assertEqual(r.returncode, 0, r.stderr)
        text = self.config(pools={"api": self.pool("127.0.0.1:9")}, routes=[
            {"path_prefix": "/", "pool": "api",
             "plugins": [{"basic_auth": {"users_file": "no-such-users"}}]}])
        r = self.check_config(text)
        self.assertNotEqual(r.returncode, 0)
        self.assertRegex(r.stderr, r"check-\d+\.yaml:%d:\d+: \S*basic_auth\.users_file: "
                                   r"(?:\S*/)?no-such-users\b" % line)

    def test_a_realm_with_a_quote_or_backslash_is_refused(self):
        for realm in ('say "hi"', "back\\slash"):
            with self.subTest(realm):
                r, _, _ = self.check("x:%s\n" % bcrypt("a"), {"realm": realm})
                self.assertNotEqual(r.returncode, 0)
                self.assertRegex(r.stderr, r"check-\d+\.yaml:\d+:\d+: \S*basic_auth\.realm: ")


class Requests(BasicAuthTestCase):
    def test_each_hash_kind_lets_its_user_through_and_nothing_else(self):
        users = {
            "y2y": ("pw-2y", bcrypt("pw-2y", prefix="2y")),
            "b2b": ("pw-2b", bcrypt("pw-2b", prefix="2b")),
            "a2a": ("pw-2a", bcrypt("pw-2a", prefix="2a")),
            "s5": ("pw-5", openssl_passwd("-5", "pw-5")),
            "s6": ("pw 6: with a colon", openssl_passwd("-6", "pw 6: with a colon")),
            "ye": ("pw-y", yescrypt("pw-y")),
            "ütf": ("pässwörd", bcrypt("pässwörd")),
        }
        text = "# users\n\n" + "".join("%s:%s\n" % (u, h) for u, (_, h) in users.items())
        proxy = self.start(text)
        passed = []
        for i, (user, (pw, _)) in enumerate(users.items()):
            with self.subTest(user):
                r = proxy.get("/headers?ok=%d" % i, headers={"Authorization": basic(user, pw)})
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.header("X-Backend"), "api")
                self.assertNotIn("authorization", [k.lower() for k, _ in r.json()["headers"]])
                self.assertIsNone(r.header("WWW-Authenticate"))
                passed.append("/headers?ok=%d" % i)
                # Another user's password, or a near miss, is not this user's.
                for wrong in (pw + "x", pw[:-1], users["s5" if user != "s5" else "s6"][0]):
                    self.assert_denied(proxy.get("/headers?bad",
                                                 headers={"Authorization": basic(user, wrong)}))
        r = proxy.get("/headers?scheme", headers={"Authorization": basic("s6", users["s6"][0],
                                                                          "basic")})
        self.assertEqual(r.status, 200, r)
        r = proxy.get("/headers?SCHEME", headers={"Authorization": basic("s5", "pw-5", "BASIC")})
        self.assertEqual(r.status, 200, r)
        passed += ["/headers?scheme", "/headers?SCHEME"]
        self.assertEqual(self.targets(), passed)
        denied = 3 * len(users)
        harness.wait_until(lambda: auth_count(proxy, "denied") == denied, 5,
                           what="%d denied in /metrics" % denied)

    def test_anything_but_a_listed_users_right_password_is_401(self):
        pw = "s3cret"
        proxy = self.start("alice:%s\nbob:%s\n" % (bcrypt(pw), openssl_passwd("-6", "other")))
        b64 = base64.b64encode
        cases = {
            "none": None,
            "unknown user": basic("mallory", pw),
            "empty": "",
            "scheme only": "Basic",
            "scheme and space": "Basic ",
            "other scheme": "Bearer " + b64(b"alice:s3cret").decode(),
            "digest": "Digest username=\"alice\"",
            "no colon": "Basic " + b64(b"alices3cret").decode(),
            "bad base64": "Basic !!!" + b64(b"alice:s3cret").decode(),
            "truncated base64": "Basic " + b64(b"alice:s3cret").decode()[:-2],
            "empty user": basic("", pw),
            "empty password": basic("alice", ""),
            "case of user": basic("Alice", pw),
            "nul in user": "Basic " + b64(b"alice\x00x:s3cret").decode(),
            "other's password": basic("bob", pw),
            "user prefix": basic("alic", pw),
        }
        for what, value in cases.items():
            with self.subTest(what):
                headers = {} if value is None else {"Authorization": value}
                self.assert_denied(proxy.request("POST", "/echo", headers=headers, body=b"body"))
        # Two Authorization fields, each alone good, are refused.
        s, f = self.open_raw(proxy)
        field = b"Authorization: %s\r\n" % basic("alice", pw).encode()
        s.sendall(b"GET /headers?two HTTP/1.1\r\nHost: a\r\n%s%s\r\n" % (field, field))
        self.assert_denied(harness.read_response(f))
        self.assertEqual(self.targets(), [])
        r = proxy.get("/headers?ok", headers={"Authorization": basic("alice", pw)})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.targets(), ["/headers?ok"])
        denied = len(cases) + 1
        harness.wait_until(lambda: auth_count(proxy, "denied") == denied, 5,
                           what="%d denied in /metrics" % denied)

    def test_a_nul_does_not_cut_a_password_short(self):
        # libcrypt hashes a C string: what follows a NUL must not be dropped unseen, or
        # "s3cret\0anything" would pass for "s3cret". No listed password holds a NUL.
        proxy = self.start("alice:%s\nbob:%s\n" % (bcrypt("s3cret"),
                                                   openssl_passwd("-6", "s3cret")))
        for user in ("alice", "bob"):
            for sent in (b"s3cret\x00", b"s3cret\x00more", b"s3c\x00ret"):
                with self.subTest(user=user, sent=sent):
                    value = base64.b64encode(user.encode() + b":" + sent).decode()
                    self.assert_denied(proxy.get("/", headers={"Authorization": "Basic " + value}))
        self.assertEqual(self.targets(), [])

    def test_realm_and_forward_authorization(self):
        pw = "pw"
        proxy = self.start("carol:%s\n" % bcrypt(pw),
                           {"realm": "Staff area (2026)", "forward_authorization": True})
        self.assert_denied(proxy.get("/"), realm="Staff area (2026)")
        sent = basic("carol", pw, "basic")
        r = proxy.get("/headers", headers={"Authorization": sent})
        self.assertEqual(r.status, 200, r)
        fields = [(k.lower(), v) for k, v in r.json()["headers"]]
        self.assertEqual([v for k, v in fields if k == "authorization"], [sent])


class OffTheLoop(BasicAuthTestCase):
    def test_other_requests_are_served_while_bcrypt_checks_run(self):
        # Cost 12: about 0.2 s a check. If the checks ran on the loop, /other/ would wait for
        # every check received before it, and only a handful could complete in the window.
        proxy = self.start("slow:%s\n" % bcrypt("right", cost=12), other_route=True)
        t0 = time.monotonic()
        self.assert_denied(proxy.get("/", headers={"Authorization": basic("slow", "wrong")}))
        one_check = time.monotonic() - t0
        checks = 4
        done = []

        def check(i):
            r = proxy.get("/", headers={"Authorization": basic("slow", "wrong%d" % i)},
                          timeout=60)
            done.append((r.status, time.monotonic()))

        threads = [threading.Thread(target=check, args=(i,)) for i in range(checks)]
        for t in threads:
            t.start()
        latencies = []
        conn = proxy.connection()
        self.addCleanup(conn.close)
        while len(done) < checks and len(latencies) < 10000:
            start = time.monotonic()
            r = harness.request(proxy.port, path="/other/", conn=conn)
            end = time.monotonic()
            self.assertEqual((r.status, r.body), (200, b"other"))
            if len(done) < checks:  # the checks were still running when it was answered
                latencies.append(end - start)
        for t in threads:
            t.join(60)
        self.assertEqual([s for s, _ in done], [401] * checks)
        # Enough answers while the checks ran, each far quicker than one check.
        self.assertGreaterEqual(len(latencies), 10, (one_check, latencies))
        latencies.sort()
        self.assertLess(latencies[len(latencies) // 2], one_check / 4, (one_check, latencies))

    def test_a_matched_password_is_remembered(self):
        proxy = self.start("slow:%s\n" % bcrypt("right", cost=12))
        good = {"Authorization": basic("slow", "right")}
        t0 = time.monotonic()
        self.assertEqual(proxy.get("/headers?first", headers=good).status, 200)
        first = time.monotonic() - t0
        repeats = []
        conn = proxy.connection()
        self.addCleanup(conn.close)
        for i in range(5):
            t0 = time.monotonic()
            r = harness.request(proxy.port, path="/headers?again%d" % i, headers=good, conn=conn)
            repeats.append(time.monotonic() - t0)
            self.assertEqual(r.status, 200, r)
        self.assertLess(max(repeats) * 4 * harness.SLOWDOWN, first, (first, repeats))
        # Remembered is the matched password only: a wrong one still gets a full check.
        self.assert_denied(proxy.get("/", headers={"Authorization": basic("slow", "wrong")}))
        self.assertEqual(self.targets(),
                         ["/headers?first"] + ["/headers?again%d" % i for i in range(5)])

    def test_more_than_64_waiting_checks_get_503(self):
        # Cost 14 (about 1 s a check): the 80 requests all arrive while the first check runs,
        # so 64 wait behind it and the rest are refused at once.
        # A short drain.timeout: stopping need not wait for the checks still queued.
        proxy = self.start("slow:%s\n" % bcrypt("right", cost=14), drain={"timeout": "1s"})
        n = 80
        socks = [proxy.raw(timeout=30) for _ in range(n)]
        self.addCleanup(lambda: [s.close() for s in socks])
        for i, s in enumerate(socks):
            s.sendall(b"GET /%d HTTP/1.1\r\nHost: a\r\nAuthorization: %s\r\n\r\n"
                      % (i, basic("slow", "wrong%d" % i).encode()))
        # The refused answer at once; the waiting not for a second or more.
        statuses = []
        end = harness.deadline(0.5)
        pending = list(socks)
        while pending and time.monotonic() < end:
            for s in select.select(pending, [], [], 0.05)[0]:
                resp = harness.read_response(s.makefile("rb"))
                statuses.append(resp.status)
                if resp.status == 503:
                    self.assertEqual(resp.header("Retry-After"), "1")
                pending.remove(s)
        busy = statuses.count(503)
        self.assertGreaterEqual(busy, n - 66, statuses)
        self.assertLessEqual(busy, n - 64, statuses)
        self.assertEqual(statuses.count(401), len(statuses) - busy, statuses)
        harness.wait_until(lambda: auth_count(proxy, "busy") == busy, 5,
                           what="%d busy in /metrics" % busy)
        for s in socks:
            s.close()
        # The gone clients' queued checks do not keep the proxy from serving.
        self.assert_denied(proxy.get("/", timeout=5))
        self.assertEqual(self.targets(), [])


class Reload(BasicAuthTestCase):
    def test_reload_rereads_the_users_file(self):
        proxy = self.start("alice:%s\nbob:%s\n" % (bcrypt("a1"), openssl_passwd("-6", "b1")))
        alice1 = {"Authorization": basic("alice", "a1")}
        for _ in range(2):  # the second one from what the worker remembers
            self.assertEqual(proxy.get("/", headers=alice1).status, 200)
        self.assertEqual(proxy.get("/", headers={"Authorization": basic("bob", "b1")}).status,
                         200)
        self.assert_denied(proxy.get("/", headers={"Authorization": basic("carol", "c1")}))
        # alice's password changes, bob goes, carol comes; the config text is the same.
        self.write_users("alice:%s\ncarol:%s\n" % (bcrypt("a2"), yescrypt("c1")))
        proxy.reload(proxy.config_text)
        proxy.wait_log(r"reloaded ")
        self.assert_denied(proxy.get("/", headers=alice1))
        self.assertEqual(proxy.get("/", headers={"Authorization": basic("alice", "a2")}).status,
                         200)
        self.assert_denied(proxy.get("/", headers={"Authorization": basic("bob", "b1")}))
        self.assertEqual(proxy.get("/", headers={"Authorization": basic("carol", "c1")}).status,
                         200)
        # A broken file refuses the reload; the users before it go on.
        for broken in ("alice:%s\ndave:%s\n" % (bcrypt("a2"), openssl_passwd("-apr1", "d")),
                       "# empty\n"):
            self.write_users(broken)
            proxy.reload(proxy.config_text)
            proxy.wait_log(r"reload refused", count=1 if broken.startswith("alice") else 2)
            self.assertEqual(
                proxy.get("/", headers={"Authorization": basic("alice", "a2")}).status, 200)
            self.assertEqual(
                proxy.get("/", headers={"Authorization": basic("carol", "c1")}).status, 200)
            self.assert_denied(proxy.get("/", headers={"Authorization": basic("dave", "d")}))
        self.assertRegex(proxy.stderr(), r"reload refused.*\n.*/users:2: .*\"dave\"")
        self.assertIsNone(proxy.proc.poll())


class Connections(BasicAuthTestCase):
    def test_pipelined_answers_keep_their_order(self):
        proxy = self.start("fast:%s\nslow:%s\n" % (openssl_passwd("-6", "f"),
                                                    bcrypt("s", cost=10)))
        plan = [("fast", "f", 200), (None, None, 401), ("slow", "s", 200),
                ("slow", "nope", 401), ("fast", "f", 200), ("slow", "bad", 401),
                ("fast", "wrong", 401), ("slow", "s", 200), (None, None, 401),
                ("fast", "f", 200)]
        wire = b""
        for i, (user, pw, _) in enumerate(plan):
            auth = b"" if user is None else b"Authorization: %s\r\n" % basic(user, pw).encode()
            wire += b"GET /headers?i=%d HTTP/1.1\r\nHost: a\r\n%s\r\n" % (i, auth)
        s, f = self.open_raw(proxy)
        s.sendall(wire)
        for i, (_, _, want) in enumerate(plan):
            r = harness.read_response(f)
            self.assertEqual(r.status, want, (i, r))
            if want == 200:
                self.assertEqual(r.json()["target"], "/headers?i=%d" % i)
            else:
                self.assertEqual(r.header("WWW-Authenticate"), CHALLENGE % "restricted")
        self.assertEqual(self.targets(),
                         ["/headers?i=%d" % i for i, p in enumerate(plan) if p[2] == 200])

    def test_a_client_leaving_mid_check_does_not_hurt_the_proxy(self):
        # Six checks of 0.2 s each: when their clients leave, most are queued or running.
        proxy = self.start("slow:%s\nfast:%s\n" % (bcrypt("s", cost=12),
                                                    openssl_passwd("-6", "f")),
                           other_route=True)
        gone = []
        for i, pw in enumerate(["s", "wrong", "s", "also wrong", "s", "x"]):
            s = proxy.raw()
            self.addCleanup(s.close)
            s.sendall(b"GET /headers?gone%d HTTP/1.1\r\nHost: a\r\nAuthorization: %s\r\n\r\n"
                      % (i, basic("slow", pw).encode()))
            gone.append(s)
        # Answers from the loop after the six were sent: by then it has read them.
        for _ in range(3):
            self.assertEqual(proxy.get("/other/").status, 200)
        for i, s in enumerate(gone):
            if i % 2:  # an abortive close (RST) every other time
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        fast = {"Authorization": basic("fast", "f")}
        self.assertEqual(proxy.get("/headers?after", headers=fast).status, 200)
        r = proxy.get("/headers?kept", headers={"Authorization": basic("slow", "s")}, timeout=30)
        self.assertEqual(r.status, 200, r)
        self.assert_denied(proxy.get("/headers?denied",
                                     headers={"Authorization": basic("slow", "no")}, timeout=30))
        self.assertIsNone(proxy.proc.poll())

if __name__ == "__main__":
    unittest.main()
