#!/usr/bin/env python3
"""Client certificates on a TLS listener (client_auth): `required` refuses a client without
one or with one from another CA; `optional` serves a client without one; a verified client's
subject reaches the backend as X-Client-Cert-Subject, which a client can never send itself
(on any listener); a resumed session keeps its subject, and a reload to other CAs does not
let an old ticket resume; --check names a bad client_auth's line."""

import json
import os
import ssl
import subprocess

import harness
from metrics_util import parse
from tls_certs import TlsTestCase

SUBJECT = "X-Client-Cert-Subject"


class TlsClientAuth(TlsTestCase):
    def setUp(self):
        super().setUp()
        self.server = self.make_cert(["a.test"])
        self.ca = self.make_ca("clients")
        self.other_ca = self.make_ca("strangers")
        self.alice = self.make_client_cert(self.ca, "/O=Example/CN=alice")
        self.mallory = self.make_client_cert(self.other_ca, "/O=Evil/CN=mallory")

    def start_auth(self, mode, ca=None):
        return self.start([self.server], tls_extra={
            "client_auth": {"ca": (ca or self.ca)[0], "mode": mode}})

    def curl(self, proxy, client=None, forged=None):
        """(exit code, {header: [values]} the backend saw) for GET /headers over curl."""
        args = ["curl", "-sS", "--max-time", str(10 * harness.SLOWDOWN), "--cacert",
                self.server[0], "--resolve", "a.test:%d:127.0.0.1" % proxy.port]
        if client:
            args += ["--cert", client[0], "--key", client[1]]
        if forged:
            args += ["-H", "%s: %s" % (SUBJECT, forged)]
        r = subprocess.run(args + ["https://a.test:%d/headers" % proxy.port],
                           capture_output=True, timeout=30 * harness.SLOWDOWN)
        if r.returncode != 0:
            return r.returncode, None
        seen = {}
        for k, v in json.loads(r.stdout)["headers"]:
            seen.setdefault(k.lower(), []).append(v)
        return 0, seen

    def client_context(self, client=None, **kw):
        ctx = self.context(**kw)
        if client:
            ctx.load_cert_chain(client[0], client[1])
        return ctx

    def failures(self, proxy):
        samples, _ = parse(proxy.admin("/metrics").text)
        return sum(v for (n, l), v in samples.items()
                   if n == "outrigger_tls_handshake_failures_total" and
                   dict(l)["reason"] == "client_certificate")

    def test_required_refuses_no_certificate_and_a_strangers(self):
        proxy = self.start_auth("required")
        code, seen = self.curl(proxy, self.alice, forged="CN=admin")
        self.assertEqual(code, 0)
        self.assertEqual(seen.get(SUBJECT.lower()), ["CN=alice,O=Example"])
        self.assertNotEqual(self.curl(proxy)[0], 0)
        self.assertNotEqual(self.curl(proxy, self.mallory)[0], 0)
        harness.wait_until(lambda: self.failures(proxy) == 2, 10,
                           what="2 client_certificate failures")
        # Python's client, TLS 1.2 and 1.3: refused without a certificate.
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            with self.assertRaises((ssl.SSLError, ConnectionError)):
                with self.handshake(proxy, "a.test",
                                    self.client_context(maximum_version=version)) as s:
                    # TLS 1.3 learns of the refusal on its first read.
                    self.get_over(s)

    def test_optional_serves_a_client_without_one(self):
        proxy = self.start_auth("optional")
        code, seen = self.curl(proxy, forged="CN=admin")
        self.assertEqual(code, 0)
        self.assertNotIn(SUBJECT.lower(), seen)
        code, seen = self.curl(proxy, self.alice)
        self.assertEqual(seen.get(SUBJECT.lower()), ["CN=alice,O=Example"])
        self.assertNotEqual(self.curl(proxy, self.mallory)[0], 0)

    def test_a_plain_listener_drops_the_header_too(self):
        proxy = self.start_proxy(self.config(pools={"api": self.pool(self.start_backend("a"))}))
        r = proxy.get("/headers", headers={SUBJECT: "CN=admin", "x-client-cert-SUBJECT": "x"})
        names = [k.lower() for k, _ in r.json()["headers"]]
        self.assertNotIn(SUBJECT.lower(), names)

    def resume(self, proxy, ctx, session=None):
        """A connection from `ctx` (resuming `session`); returns (session, reused, subject)."""
        raw = harness.raw_connect(proxy.port)
        with ctx.wrap_socket(raw, server_hostname="a.test", session=session) as s:
            r = self.get_over(s)
            subject = dict((k.lower(), v) for k, v in r.json()["headers"]).get(SUBJECT.lower())
            return s.session, s.session_reused, subject

    def test_a_resumed_session_keeps_its_subject_but_not_across_other_cas(self):
        proxy = self.start_auth("optional")
        # TLS 1.2: its session is there once the handshake ends (1.3's ticket comes later).
        alice = self.client_context(self.alice, maximum_version=ssl.TLSVersion.TLSv1_2)
        session, reused, subject = self.resume(proxy, alice)
        self.assertEqual((reused, subject), (False, "CN=alice,O=Example"))
        _, reused, subject = self.resume(proxy, alice, session)
        self.assertEqual((reused, subject), (True, "CN=alice,O=Example"))

        # Reloaded to trust only the other CA: alice's ticket must not resume.
        text = proxy.config_text.replace(self.ca[0], self.other_ca[0])
        self.assertNotEqual(text, proxy.config_text)
        proxy.reload(text)
        proxy.wait_log(r"reloaded")
        with self.assertRaises((ssl.SSLError, ConnectionError)):
            self.resume(proxy, alice, session)
        _, reused, subject = self.resume(proxy, self.client_context(self.mallory))
        self.assertEqual(subject, "CN=mallory,O=Evil")

    def test_check_names_a_bad_client_auth(self):
        backend = self.start_backend("api")
        for client_auth, message in (
                ({"mode": "required"}, r"client_auth: missing required key `ca`"),
                ({"mode": "sometimes", "ca": self.ca[0]},
                 r"client_auth\.mode: expected off, optional or required"),
                ({"mode": "optional", "ca": os.path.join(self.tmp, "none.pem")},
                 r"client_auth\.ca: cannot open .*none\.pem"),
                ({"mode": "required", "ca": self.alice[1]},
                 r"client_auth\.ca: .* holds no PEM certificate")):
            text = self.config(pools={"api": self.pool(backend)}, listener={"tls": {
                "certificates": [{"cert": self.server[0], "key": self.server[1]}],
                "client_auth": client_auth}})
            r = self.check_config(text)
            self.assertNotEqual(r.returncode, 0, client_auth)
            line = next(i + 1 for i, l in enumerate(text.splitlines()) if "client_auth" in l)
            self.assertRegex(r.stderr, r"\.yaml:\d+:\d+: .*" + message, client_auth)
            self.assertRegex(r.stderr, r"\.yaml:(%d|%d|%d):" % (line, line + 1, line + 2))


if __name__ == "__main__":
    harness.main()
