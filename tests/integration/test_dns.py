#!/usr/bin/env python3
"""DNS discovery against a real DNS server: every A record of a `dns` entry is a backend,
records added or removed are followed within resolve_every, and an outage keeps the last
good set. dnsmasq serves the records; the backends listen on 127.0.0.2, .3 and .4 (Linux
routes all of 127/8 to lo) on one port, as replicas of a compose service do."""

import re
import signal
import threading
import time

import dns_server
import harness

NAME = "api.outrigger.test"
IPS = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]


class DnsDiscovery(harness.ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.backends = self.start_replicas()

    def start_replicas(self):
        """One backend per IP, all on the same port (retried if another process has it)."""
        for _ in range(5):
            first = self.start_backend("r2", host=IPS[0])
            try:
                rest = [self.start_backend("r%s" % ip[-1], host=ip, port=first.port) for ip in IPS[1:]]
            except AssertionError:
                continue
            return {b.host: b for b in [first] + rest}
        raise AssertionError("no port free on 127.0.0.2-4")

    def start_dns(self, ips):
        dns = dns_server.Dnsmasq(self.tmp, {NAME: ips})
        self.addCleanup(dns.stop)
        return dns

    def start_dns_proxy(self, dns, every="1s", wait_ready=True, **pool):
        port = self.backends[IPS[0]].port
        entry = {"dns": "%s:%d" % (NAME, port), "resolve_every": every}
        cfg = {"balance": "round_robin", "backends": [entry]}
        cfg.update(pool)
        return self.start_proxy(self.config(pools={"api": cfg},
                                            top={"resolver": "127.0.0.1:%d" % dns.port}),
                                wait_ready=wait_ready)

    def names_seen(self, proxy, n=12):
        seen = set()
        for _ in range(n):
            r = proxy.get("/")
            if r.status == 200:
                seen.add(r.header("X-Backend"))
        return seen

    def wait_names(self, proxy, want, timeout=8):
        """Waits until a round of requests reaches exactly the backends `want`."""
        harness.wait_until(lambda: self.names_seen(proxy) == set(want), timeout=timeout,
                           interval=0.2, what="requests to reach exactly %s" % sorted(want))

    def test_two_records_give_two_backends(self):
        dns = self.start_dns(IPS[:2])
        proxy = self.start_dns_proxy(dns)
        self.wait_names(proxy, ["r2", "r3"])
        proxy.wait_log(r"pool api dns %s:\d+: 2 address\(es\)" % re.escape(NAME))

    def test_an_added_record_becomes_a_backend_within_resolve_every(self):
        dns = self.start_dns(IPS[:2])
        proxy = self.start_dns_proxy(dns)
        self.wait_names(proxy, ["r2", "r3"])
        dns.reload({NAME: IPS}, NAME)
        # resolve_every is 1s: a few seconds cover the interval and the query.
        self.wait_names(proxy, ["r2", "r3", "r4"], timeout=4)

    def test_a_removed_record_drains_its_backend(self):
        dns = self.start_dns(IPS)
        proxy = self.start_dns_proxy(dns)
        self.wait_names(proxy, ["r2", "r3", "r4"])
        # A slow request in flight on one backend: it must finish after that backend goes.
        result = {}

        def slow():
            result["r"] = proxy.get("/slow?ms=3000", timeout=20)

        t = threading.Thread(target=slow, daemon=True)
        t.start()
        holder = harness.wait_until(
            lambda: next((ip for ip, b in self.backends.items()
                          if b.stats()["slow_in_flight"] == 1), None),
            timeout=5, what="the slow request to reach a backend")
        dns.reload({NAME: [ip for ip in IPS if ip != holder]}, NAME)
        left = ["r%s" % ip[-1] for ip in IPS if ip != holder]
        self.wait_names(proxy, left, timeout=4)
        t.join(15 * harness.SLOWDOWN)
        self.assertFalse(t.is_alive(), "the in-flight request on the removed backend hung")
        self.assertEqual(result["r"].status, 200)
        self.assertEqual(result["r"].body, ("slow from r%s\n" % holder[-1]).encode())
        self.assertEqual(self.names_seen(proxy, 20), set(left))

    def test_a_dns_outage_keeps_the_last_good_set(self):
        dns = self.start_dns(IPS[:2])
        proxy = self.start_dns_proxy(dns)
        self.wait_names(proxy, ["r2", "r3"])
        dns.stop()
        proxy.wait_log(r"keeping the last good set of 2 address\(es\)", timeout=12)
        self.assertEqual(self.names_seen(proxy), {"r2", "r3"})
        # Said once per change of state, not at every failed round (three more rounds here).
        time.sleep(3.0 * harness.SLOWDOWN)
        self.assertEqual(len(re.findall(r"keeping the last good set", proxy.stderr(tail=100000))),
                         1, proxy.stderr())
        # /status says so too: the set it keeps, and the failure.
        [entry] = proxy.admin("/status").json()["pools"]["api"]["dns"]
        self.assertEqual(entry["addresses"], 2)
        self.assertNotEqual(entry["last_error"], "")
        self.assertIsNotNone(entry["last_success"])
        self.assertGreater(entry["last_attempt"], entry["last_success"])

    def test_starts_before_the_name_resolves_and_follows_it(self):
        dns = self.start_dns([])
        proxy = self.start_dns_proxy(dns, wait_ready=False)
        proxy.wait_log(r"the pool has no backend from it until it resolves")
        self.assertEqual(proxy.admin("/health/ready").status, 503, "ready with an empty pool")
        self.assertEqual(proxy.get("/").status, 503)
        dns.reload({NAME: IPS[:1]}, NAME)
        self.wait_names(proxy, ["r2"], timeout=4)
        self.assertEqual(proxy.admin("/health/ready").status, 200)

    def test_a_reload_keeps_the_resolved_backends(self):
        dns = self.start_dns(IPS[:2])
        proxy = self.start_dns_proxy(dns)
        self.wait_names(proxy, ["r2", "r3"])
        proxy.reload(proxy.config_text.replace("round_robin", "least_conn"))
        proxy.wait_log(r"reloaded ")
        # At once, not after the next resolution: the sets carry over.
        self.assertEqual(self.names_seen(proxy, 20), {"r2", "r3"})


if __name__ == "__main__":
    harness.main()
