#!/usr/bin/env python3
"""Forwarded-header trust (issue 21): Forwarded, X-Forwarded-Host, -Port, -Prefix and -Proto
from a client outside the listener's trusted_proxies never reach the backend as sent (the
proxy drops them and sets its own), an untrusted X-Forwarded-For is replaced unless
`forwarded_for: append`; from a trusted proxy they are all kept. `forwarded: rfc7239` adds an
RFC 7239 element."""

import unittest

import harness

# What a hostile client (or a balancer in front of us) sends.
SENT = {
    "Forwarded": "for=8.8.8.8;host=evil",
    "X-Forwarded-For": "8.8.8.8",
    "X-Forwarded-Host": "evil",
    "X-Forwarded-Port": "1",
    "X-Forwarded-Prefix": "/evil",
    "X-Forwarded-Proto": "https",
}


def fields(resp_json):
    """name (lower case) → [values] of the request head the backend saw."""
    out = {}
    for name, value in resp_json["headers"]:
        out.setdefault(name.lower(), []).append(value)
    return out


class ForwardedTrust(harness.ProxyTestCase):
    def seen(self, listener=None, headers=SENT):
        backend = self.start_backend("a")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(backend)},
                                             listener=listener))
        r = proxy.get("/headers", headers=dict(headers))
        self.assertEqual(r.status, 200, r)
        return fields(r.json())

    def assert_proxy_set(self, seen, forwarded_for="127.0.0.1"):
        """The fields the proxy sets itself, for the peer 127.0.0.1 on its listener."""
        host = "%s:%d" % (harness.LOOPBACK, self.proxy_port)
        self.assertEqual(seen.get("x-forwarded-for"), [forwarded_for], seen)
        self.assertEqual(seen.get("x-forwarded-proto"), ["http"], seen)
        self.assertEqual(seen.get("x-forwarded-host"), [host], seen)
        self.assertEqual(seen.get("x-forwarded-port"), [str(self.proxy_port)], seen)
        self.assertEqual(seen.get("x-real-ip"), ["127.0.0.1"], seen)

    def test_an_untrusted_client_cannot_set_any_forwarded_field(self):
        seen = self.seen()
        for name, value in SENT.items():
            with self.subTest(name=name):
                self.assertNotIn(value, seen.get(name.lower(), []), seen)
        self.assertNotIn("forwarded", seen)
        self.assertNotIn("x-forwarded-prefix", seen)
        self.assert_proxy_set(seen)

    def test_a_peer_outside_trusted_proxies_is_untrusted(self):
        seen = self.seen({"trusted_proxies": ["10.0.0.0/8"]})
        self.assertNotIn("forwarded", seen)
        self.assertNotIn("x-forwarded-prefix", seen)
        self.assert_proxy_set(seen)

    def test_a_trusted_proxy_keeps_what_it_sent(self):
        seen = self.seen({"trusted_proxies": ["127.0.0.1/32"]})
        self.assertEqual(seen.get("forwarded"), [SENT["Forwarded"]], seen)
        self.assertEqual(seen.get("x-forwarded-host"), ["evil"], seen)
        self.assertEqual(seen.get("x-forwarded-port"), ["1"], seen)
        self.assertEqual(seen.get("x-forwarded-prefix"), ["/evil"], seen)
        self.assertEqual(seen.get("x-forwarded-proto"), ["https"], seen)
        self.assertEqual(seen.get("x-forwarded-for"), ["8.8.8.8, 127.0.0.1"], seen)
        # The client a trusted proxy reports is the real IP.
        self.assertEqual(seen.get("x-real-ip"), ["8.8.8.8"], seen)

    def test_a_trusted_proxy_that_sent_nothing_gets_the_proxys_fields(self):
        seen = self.seen({"trusted_proxies": ["127.0.0.1/32"]}, headers={})
        self.assertNotIn("forwarded", seen)
        self.assert_proxy_set(seen)

    def test_forwarded_for_append_keeps_an_untrusted_chain(self):
        seen = self.seen({"forwarded_for": "append"})
        self.assertEqual(seen.get("x-forwarded-for"), ["8.8.8.8, 127.0.0.1"], seen)
        # Append is about X-Forwarded-For alone: the others are still the proxy's.
        self.assertNotIn("forwarded", seen)
        self.assertEqual(seen.get("x-forwarded-host"),
                         ["%s:%d" % (harness.LOOPBACK, self.proxy_port)], seen)
        self.assertEqual(seen.get("x-real-ip"), ["127.0.0.1"], seen)

    def test_rfc7239_element_from_an_untrusted_client(self):
        seen = self.seen({"forwarded": "rfc7239"})
        self.assertEqual(seen.get("forwarded"),
                         ['for=127.0.0.1;host="127.0.0.1:%d";proto=http' % self.proxy_port], seen)

    def test_rfc7239_element_appended_after_a_trusted_proxys(self):
        seen = self.seen({"forwarded": "rfc7239", "trusted_proxies": ["127.0.0.0/8"]})
        self.assertEqual(seen.get("forwarded"),
                         [SENT["Forwarded"],
                          'for=127.0.0.1;host="127.0.0.1:%d";proto=http' % self.proxy_port], seen)

    def test_config_errors_name_file_line_and_key(self):
        text = self.config(pools={"api": self.pool("127.0.0.1:9")},
                           listener={"forwarded_for": "prepend", "forwarded": "yes"})
        result = self.check_config(text)
        self.assertNotEqual(result.returncode, 0)
        out = result.stdout + result.stderr
        self.assertRegex(out, r"\.yaml:\d+:\d+: listeners\.web\.forwarded_for: expected one of: "
                              r"replace, append, got \"prepend\"")
        self.assertRegex(out, r"\.yaml:\d+:\d+: listeners\.web\.forwarded: expected one of: "
                              r"off, rfc7239, got \"yes\"")


if __name__ == "__main__":
    harness.main()
