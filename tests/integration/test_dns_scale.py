#!/usr/bin/env python3
"""DNS discovery at compose scale: a name with 200 A records (a 3.2 kB answer, truncated
over UDP, so it needs EDNS0 and the TCP fallback) gives 200 backends, and a set that grows
from 10 past the 512-byte limit to 200 and shrinks back is followed. dnsmasq serves the
records; the addresses are 127.0.1.1 ... 127.0.1.200 (Linux routes all of 127/8 to lo),
nothing listens on them: the pool's membership is what is checked, on /status."""

import os
import re
import signal

import dns_server
import harness

NAME = "api.outrigger.test"


def ips(n):
    return ["127.0.%d.%d" % (1 + i // 250, 1 + i % 250) for i in range(n)]


class DnsAtScale(harness.ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.port = harness.free_port()

    def start_dns(self, addresses):
        dns = dns_server.Dnsmasq(self.tmp, {NAME: addresses})
        self.addCleanup(dns.stop)
        return dns

    def start_dns_proxy(self, dns, wait_ready):
        entry = {"dns": "%s:%d" % (NAME, self.port), "resolve_every": "1s"}
        cfg = {"balance": "round_robin", "backends": [entry]}
        return self.start_proxy(self.config(pools={"api": cfg},
                                            top={"resolver": "127.0.0.1:%d" % dns.port}),
                                wait_ready=wait_ready)

    def set_records(self, dns, addresses):
        # Not dns.reload(): its check is a plain UDP query, which a large set truncates.
        dns.write({NAME: addresses})
        dns.proc.send_signal(signal.SIGHUP)

    def pool_addresses(self, proxy):
        try:
            pool = proxy.admin("/status").json()["pools"]["api"]
        except OSError:
            return None
        return sorted(b["address"] for b in pool["backends"])

    def wait_pool(self, proxy, addresses, timeout=10):
        want = sorted("%s:%d" % (ip, self.port) for ip in addresses)
        last = []

        def matches():
            last[:] = [self.pool_addresses(proxy)]
            return last[0] == want

        try:
            harness.wait_until(matches, timeout=timeout, interval=0.2,
                               what="the pool to hold the %d addresses" % len(want))
        except AssertionError:
            got = last[0] if last else None
            raise AssertionError("pool holds %s addresses, want %d; dns status: %s"
                                 % (None if got is None else len(got), len(want),
                                    proxy.admin("/status").json()["pools"]["api"].get("dns")))

    def test_200_records_give_200_backends(self):
        dns = self.start_dns(ips(200))
        proxy = self.start_dns_proxy(dns, wait_ready=False)
        self.wait_pool(proxy, ips(200))
        proxy.wait_log(r"pool api dns %s:\d+: 200 address\(es\)" % re.escape(NAME))
        [entry] = proxy.admin("/status").json()["pools"]["api"]["dns"]
        self.assertEqual(entry["addresses"], 200)
        self.assertIsNotNone(entry["last_success"])
        # dnsmasq without upstreams refuses AAAA for a name it only has A records of: that
        # may be said, but never that the A query failed.
        self.assertFalse(entry["last_error"].startswith("A:"), entry["last_error"])
        self.assertEqual(proxy.admin("/health/ready").status, 200)

    def test_a_set_growing_past_the_udp_limit_and_back_is_followed(self):
        dns = self.start_dns(ips(10))
        proxy = self.start_dns_proxy(dns, wait_ready=True)
        self.wait_pool(proxy, ips(10))
        for n in (40, 200, 10):
            self.set_records(dns, ips(n))
            self.wait_pool(proxy, ips(n))
        [entry] = proxy.admin("/status").json()["pools"]["api"]["dns"]
        self.assertFalse(entry["last_error"].startswith("A:"), entry["last_error"])


if __name__ == "__main__":
    harness.main()
