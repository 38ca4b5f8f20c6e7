#!/usr/bin/env python3
"""What a TLS listener tells its operator: outrigger_tls_handshakes_total by result and
version, outrigger_tls_handshake_failures_total by reason (an old protocol, plain HTTP sent to
the TLS port, a client gone mid-handshake), each certificate's expiry as a gauge and in
/status, both following a reload; a plain listener has no TLS series."""

import calendar
import ssl
import time

import harness
from metrics_util import parse
from tls_certs import TlsTestCase, openssl


def not_after(cert_path):
    r = openssl("x509", "-noout", "-enddate", "-in", cert_path)
    text = r.stdout.decode().strip().split("=", 1)[1]  # e.g. "Jan  3 12:00:00 2027 GMT"
    return calendar.timegm(time.strptime(text, "%b %d %H:%M:%S %Y %Z"))


class TlsMetrics(TlsTestCase):
    def handshakes(self, proxy):
        samples, _ = parse(proxy.admin("/metrics").text)
        counts = {}
        for (name, labels), v in samples.items():
            labels = dict(labels)
            if name == "outrigger_tls_handshakes_total":
                counts[(labels["result"], labels["version"])] = v
            elif name == "outrigger_tls_handshake_failures_total":
                counts[labels["reason"]] = v
        return counts

    def expiry(self, proxy):
        """{name: expiry} of listener web's certificates, from /metrics."""
        samples, _ = parse(proxy.admin("/metrics").text)
        return {dict(labels)["name"]: v for (name, labels), v in samples.items()
                if name == "outrigger_tls_certificate_expiry_timestamp_seconds" and
                dict(labels)["listener"] == "web"}

    def test_handshakes_by_result_version_and_reason(self):
        proxy = self.start([self.make_cert(["a.test"], "rsa")])
        for ctx in (self.context(), self.context(maximum_version=ssl.TLSVersion.TLSv1_2),
                    self.context()):
            with self.handshake(proxy, "a.test", ctx) as s:
                self.assertEqual(self.get_over(s).status, 200)
        code, out = self.s_client(proxy, "-servername", "a.test", "-tls1_1", "-cipher",
                                  "DEFAULT@SECLEVEL=0")
        self.assertNotEqual(code, 0, out)
        # Plain HTTP to the TLS port.
        with harness.raw_connect(proxy.port) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            harness.read_until_closed(s)
        # A client that starts a handshake and leaves.
        s = harness.raw_connect(proxy.port)
        s.sendall(b"\x16\x03\x01\x00")
        time.sleep(0.1)
        s.close()

        want = {("ok", "TLSv1.3"): 2, ("ok", "TLSv1.2"): 1, "version": 1, "plain_http": 1,
                "aborted": 1, "cipher": 0, "peer_alert": 0, "protocol": 0}

        def settled():
            got = self.handshakes(proxy)
            return got if all(got.get(k) == v for k, v in want.items()) else None

        got = harness.wait_until(settled, 10, what="handshake counts %r" % want)
        failed = sum(v for k, v in got.items() if isinstance(k, tuple) and k[0] == "failed")
        self.assertEqual(failed, 3, got)
        self.assertNotIn(("ok", "none"), got)

    def test_certificate_expiry_in_metrics_and_status_follows_a_reload(self):
        cert = self.make_cert(["a.test", "www.a.test"], tag="site")
        proxy = self.start([cert])
        first = not_after(cert[0])
        self.assertEqual(self.expiry(proxy), {"a.test": first})
        status = proxy.admin("/status").json()["listeners"]["web"]
        self.assertTrue(status["tls"])
        (entry,) = status["certificates"]
        self.assertEqual(entry["names"], ["a.test", "www.a.test"])
        self.assertEqual(entry["subject"], "a.test")
        self.assertEqual(entry["serial"].lstrip("0").upper(), cert[2])
        self.assertEqual(entry["not_after"], first)

        # Renewed in place (as certbot does), then SIGHUP: the gauge follows.
        renewed = self.make_cert(["a.test", "www.a.test"], tag="site", days=90)
        self.assertGreater(not_after(renewed[0]), first + 59 * 86400)
        proxy.reload(proxy.config_text)
        proxy.wait_log(r"reloaded")
        self.assertEqual(self.expiry(proxy), {"a.test": not_after(renewed[0])})
        (entry,) = proxy.admin("/status").json()["listeners"]["web"]["certificates"]
        self.assertEqual(entry["serial"].lstrip("0").upper(), renewed[2])

    def test_a_plain_listener_has_no_tls_series(self):
        proxy = self.start_proxy(self.config(pools={"api": self.pool(self.start_backend("a"))}))
        self.assertEqual(proxy.get("/").status, 200)
        samples, types = parse(proxy.admin("/metrics").text)
        self.assertEqual(types.get("outrigger_tls_handshakes_total"), "counter")
        self.assertEqual([n for n, _ in samples if n.startswith("outrigger_tls_")], [])
        self.assertEqual(proxy.admin("/status").json()["listeners"]["web"],
                         {"listen": "127.0.0.1:%d" % proxy.port, "tls": False,
                          "http2": {"connections": 0, "streams": 0}})


if __name__ == "__main__":
    harness.main()
