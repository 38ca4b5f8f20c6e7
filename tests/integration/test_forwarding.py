#!/usr/bin/env python3
"""What the backend sees: X-Forwarded-*, X-Real-IP and Host added or kept, hop-by-hop gone."""

import unittest
import urllib.parse

import harness

def fields(resp_json):
    """name (lower case) → [values] of the request head the backend saw."""
    out = {}
    for name, value in resp_json["headers"]:
        out.setdefault(name.lower(), []).append(value)
    return out


class Forwarding(harness.ProxyTestCase):
    def start(self, listener=None):
        self.backend = self.start_backend("a")
        return self.start_proxy(self.config(pools={"api": self.pool(self.backend)},
                                            listener=listener))

    def seen(self, proxy, headers=None, path="/headers"):
        r = proxy.get(path, headers=headers or {})
        self.assertEqual(r.status, 200, r)
        return fields(r.json())

    def test_adds_x_forwarded_for_x_real_ip_and_x_forwarded_proto(self):
        proxy = self.start()
        seen = self.seen(proxy)
        self.assertEqual(seen.get("x-forwarded-for"), ["127.0.0.1"], seen)
        self.assertEqual(seen.get("x-real-ip"), ["127.0.0.1"], seen)
        self.assertEqual(seen.get("x-forwarded-proto"), ["http"], seen)

    def test_appends_the_client_to_an_existing_x_forwarded_for(self):
        # forwarded_for: append keeps an untrusted client's chain (the default replaces it:
        # test_forwarded_trust.py).
        proxy = self.start(listener={"forwarded_for": "append"})
        seen = self.seen(proxy, {"X-Forwarded-For": "203.0.113.7"})
        xff = [p.strip() for v in seen.get("x-forwarded-for", []) for p in v.split(",")]
        self.assertEqual(xff, ["203.0.113.7", "127.0.0.1"], seen)
        # The peer is not a trusted proxy: its claim does not become the real IP.
        self.assertEqual(seen.get("x-real-ip"), ["127.0.0.1"], seen)

    def test_believes_x_forwarded_for_from_a_trusted_proxy(self):
        proxy = self.start(listener={"trusted_proxies": ["127.0.0.1/32"]})
        seen = self.seen(proxy, {"X-Forwarded-For": "198.51.100.9, 203.0.113.7"})
        self.assertEqual(seen.get("x-real-ip"), ["203.0.113.7"], seen)

    def test_replaces_a_client_supplied_x_real_ip(self):
        proxy = self.start()
        seen = self.seen(proxy, {"X-Real-IP": "10.9.9.9", "X-Forwarded-Proto": "https"})
        self.assertEqual(seen.get("x-real-ip"), ["127.0.0.1"], seen)
        self.assertEqual(seen.get("x-forwarded-proto"), ["http"], seen)

    def test_keeps_the_host_header(self):
        proxy = self.start()
        seen = self.seen(proxy, {"Host": "api.example.test:8443"})
        self.assertEqual(seen.get("host"), ["api.example.test:8443"], seen)

    def test_rebuilds_host_from_an_absolute_form_target(self):
        proxy = self.start()
        sock, rfile = self.open_raw(proxy)
        sock.sendall(b"GET http://example.test:8081/headers?x=1 HTTP/1.1\r\nHost: other.test\r\n\r\n")
        r = harness.read_response(rfile)
        self.assertEqual(r.status, 200, r)
        info = r.json()
        self.assertEqual(fields(info).get("host"), ["example.test:8081"], info)
        self.assertEqual(info["target"], "/headers?x=1", info)

    def test_keeps_end_to_end_headers_and_the_request_target(self):
        proxy = self.start()
        r = proxy.get("/headers?q=1&r=%2F", headers={"X-Trace": "abc", "Accept": "text/plain"})
        info = r.json()
        seen = fields(info)
        self.assertEqual(info["target"], "/headers?q=1&r=%2F")
        self.assertEqual(info["method"], "GET")
        self.assertEqual(seen.get("x-trace"), ["abc"])
        self.assertEqual(seen.get("accept"), ["text/plain"])

    def test_strips_hop_by_hop_request_headers_and_those_named_by_connection(self):
        proxy = self.start()
        # RFC 9110 §7.6.1: the fields Connection names, and Proxy-Connection, Keep-Alive, TE.
        seen = self.seen(proxy, {
            "Connection": "keep-alive, X-Hop-Custom",
            "Keep-Alive": "timeout=5",
            "X-Hop-Custom": "drop me",
            "TE": "trailers",
            "Proxy-Connection": "keep-alive",
            "X-End-To-End": "keep me",
        })
        for name in ("keep-alive", "x-hop-custom", "te", "proxy-connection"):
            self.assertNotIn(name, seen, "hop-by-hop %s reached the backend: %s" % (name, seen))
        for value in seen.get("connection", []):
            self.assertNotIn("x-hop-custom", value.lower(), seen)
        self.assertEqual(seen.get("x-end-to-end"), ["keep me"], seen)

    def test_strips_hop_by_hop_response_headers_and_those_named_by_connection(self):
        proxy = self.start()
        query = urllib.parse.urlencode([("header", "Connection: X-Resp-Hop"),
                                        ("header", "X-Resp-Hop: drop me"),
                                        ("header", "Keep-Alive: timeout=5"),
                                        ("header", "X-Resp-Keep: keep me")])
        r = proxy.get("/respond?" + query)
        self.assertEqual(r.status, 200, r)
        names = {k.lower() for k, _ in r.headers}
        for name in ("x-resp-hop", "keep-alive"):
            self.assertNotIn(name, names, "hop-by-hop %s reached the client: %s" % (name, r.headers))
        for value in r.header_all("Connection"):
            self.assertNotIn("x-resp-hop", value.lower(), r.headers)
        self.assertEqual(r.header("X-Resp-Keep"), "keep me")
        self.assertEqual(r.header("X-Backend"), "a")


if __name__ == "__main__":
    harness.main()
