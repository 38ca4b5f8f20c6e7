#!/usr/bin/env python3
"""Attacks on gRPC health probes (issue 15): hostile backends, long service names, fifty
backends probed fast then SIGTERM, DNS backends, and reloads that flip the probe while probes
are in flight. Verdicts stay right, the log says why, and nothing leaks or hangs."""

import signal
import subprocess


import dns_server
import harness
from grpc_hostile_backend import HostileGrpcBackend
from test_grpc_health import GrpcHealthCase, HealthBackend, probe

HOSTILE = {  # mode: what the log line must say of its failed probe
    "http1": "malformed response (HTTP/2)",
    "cut": "connection closed before the answer",
    "goaway": "",
    "rst": "stream reset",
    "endless": "too large",
    "big-headers": "",
    "big-trailers": "",
    "not-proto": "malformed response",
    "no-message": "grpc-status 14 (unavailable)",
    "window0": "timeout",
    "mute": "timeout",
}


class GrpcProbeAttacks(GrpcHealthCase):
    def test_hostile_backends_fail_their_probes_and_the_good_one_is_probed_on(self):
        """Each hostile answer to a gRPC health probe is a failed probe with a log line."""
        good = HealthBackend("good")
        hostile = {mode: HostileGrpcBackend(mode) for mode in HOSTILE}
        timeout = 0.5 * harness.SLOWDOWN
        proxy = self.start_pool([good] + list(hostile.values()), wait_ready=False,
                                ready=probe(timeout="%dms" % (timeout * 1000)),
                                panic_threshold=0)
        for mode, b in hostile.items():
            harness.wait_until(lambda: self.failure_line(proxy, b), 10,
                               what="a failed probe of the %s backend" % mode)
        lines = {mode: self.failure_line(proxy, b) for mode, b in hostile.items()}
        for mode, want in HOSTILE.items():
            self.assertIn(want, lines[mode], mode)
            self.assertEqual(self.state(proxy, hostile[mode]), "unready", mode)
        # The control thread goes on: more probes of every backend, the good one ready.
        counts = {mode: b.count() for mode, b in hostile.items() if mode != "mute"}
        checks = len(good.check_requests())
        harness.wait_until(lambda: len(good.check_requests()) > checks + 2, 10,
                           what="more probes of the good backend")
        harness.wait_until(lambda: all(hostile[m].count() > n for m, n in counts.items()), 10,
                           what="more probes of every hostile backend")
        self.assertEqual(self.state(proxy, good), "ready")
        self.assertEqual(self.spread(6), ["good"] * 6)


    def test_a_long_service_name_is_sent_with_a_multibyte_length(self):
        """A service name over 127 bytes needs a two-byte varint length in the request."""
        a = HealthBackend("a")
        service = "pkg.v1." + "S" * 300
        proxy = self.start_pool([a], ready=probe(service=service))
        harness.wait_until(lambda: a.check_requests(), 5, what="a health check")
        n = len(service)
        self.assertEqual(a.check_requests()[0],
                         b"\x0a" + bytes([(n & 0x7f) | 0x80, n >> 7]) + service.encode())
        harness.wait_until(lambda: self.state(proxy, a) == "ready", 5, what="a ready")


class GrpcProbeScale(GrpcHealthCase):
    def test_fifty_backends_probed_fast_then_sigterm_with_probes_in_flight(self):
        """50 backends probed every 50 ms; SIGTERM with probes outstanding exits cleanly."""
        # Not `endless`: forty Python threads streaming DATA would starve the others.
        modes = ["ok"] * 10 + [m for m in HOSTILE if m not in ("window0", "endless")] * 4
        backends = [HostileGrpcBackend(m) for m in modes]
        for b in backends:
            self.addCleanup(b.stop)
        # fall 3: one probe of an `ok` backend late in this busy process (fifty backends'
        # threads) must not flip its verdict, which the test reads twice. A hostile backend
        # never passes a first probe, so it is unready from the start all the same.
        pool = self.pool(*[b.address for b in backends], protocol="h2", panic_threshold=0,
                         health={"ready": probe(interval="50ms", fall=3,
                                                timeout="%dms" % (1000 * harness.SLOWDOWN))})
        proxy = self.start_proxy(self.config({"grpc": pool}, listener={"h2c": True}))

        def states():
            pools = proxy.admin("/status").json()["pools"]["grpc"]["backends"]
            return {b["backend"]: b["state"] for b in pools}

        want = {b.address: "ready" if b.mode == "ok" else "unready" for b in backends}
        harness.wait_until(lambda: states() == want, 10, what="every verdict")
        counts = [b.count() for b in backends]
        # The control thread answers the admin API promptly while it probes (timed by curl:
        # this process is busy with fifty backends' threads).
        url = "http://127.0.0.1:%d/health/ready" % self.admin_port
        out = subprocess.run(["curl", "-s", "-w", "%{http_code} %{time_total}\\n"]
                             + ["-o", "/dev/null", url] * 20,
                             capture_output=True, text=True, timeout=30).stdout.split()
        self.assertEqual(out[0::2], ["200"] * 20)
        self.assertLess(max(float(t) for t in out[1::2]), 0.25 * harness.SLOWDOWN)
        harness.wait_until(lambda: all(b.count() > n for b, n in zip(backends, counts)
                                       if b.mode not in ("mute",)), 10,
                           what="every backend probed again")
        self.assertEqual(states(), want)
        proxy.signal(signal.SIGTERM)
        self.assertEqual(proxy.wait(timeout=10), 0, "exit status after SIGTERM")


class GrpcProbeDns(GrpcHealthCase):
    NAME = "grpc.outrigger.test"
    IPS = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]

    def test_dns_backends_get_grpc_probes_as_records_come_and_go(self):
        """Backends a DNS name gives are probed with gRPC; a record gone and back is judged."""
        first = HostileGrpcBackend("ok", host=self.IPS[0])
        backends = {self.IPS[0]: first,
                    self.IPS[1]: HostileGrpcBackend("rst", host=self.IPS[1], port=first.port),
                    self.IPS[2]: HostileGrpcBackend("ok", host=self.IPS[2], port=first.port)}
        for b in backends.values():
            self.addCleanup(b.stop)
        dns = dns_server.Dnsmasq(self.tmp, {self.NAME: self.IPS})
        self.addCleanup(dns.stop)
        pool = {"protocol": "h2", "panic_threshold": 0, "health": {"ready": probe()},
                "backends": [{"dns": "%s:%d" % (self.NAME, first.port),
                              "resolve_every": "1s"}]}
        proxy = self.start_proxy(self.config({"grpc": pool}, listener={"h2c": True},
                                             top={"resolver": "127.0.0.1:%d" % dns.port}),
                                 wait_ready=False)
        harness.wait_until(lambda: self.admin_up(proxy), 10, what="the proxy to start")

        def states():
            got = proxy.admin("/status").json()["pools"]["grpc"]["backends"]
            return {b["backend"].rsplit(":", 1)[0]: b["state"] for b in got}

        want = {self.IPS[0]: "ready", self.IPS[1]: "unready", self.IPS[2]: "ready"}
        harness.wait_until(lambda: states() == want, 10, what="every DNS backend judged")
        dns.reload({self.NAME: self.IPS[:2]}, self.NAME)
        harness.wait_until(lambda: self.IPS[2] not in states(), 10, what="the record gone")
        backends[self.IPS[2]].mode = "rst"  # it comes back failing: judged anew
        dns.reload({self.NAME: self.IPS}, self.NAME)
        want[self.IPS[2]] = "unready"
        harness.wait_until(lambda: states() == want, 10, what="the record back, unready")
        self.assertIsNone(proxy.proc.poll())


class GrpcProbeReloads(GrpcHealthCase):
    def test_reloads_that_flip_the_probe_with_probes_in_flight(self):
        """Reloads flipping type/service or removing the pool while probes are outstanding."""
        good, slow = HealthBackend("good"), HealthBackend("slow")
        slow.hang = True  # its probes are outstanding at each reload
        mute = HostileGrpcBackend("mute")
        self.addCleanup(mute.stop)
        backends = [good.address, slow.address, mute.address]
        long_probe = probe(timeout="%dms" % (3000 * harness.SLOWDOWN), interval="50ms")
        shapes = [
            {"ready": long_probe},
            {"ready": dict(long_probe, service="a.B"), "live": long_probe},
            {"ready": {"type": "http", "path": "/hz", "interval": "50ms", "fall": 1,
                       "rise": 1}},
            None,  # the pool is gone
            {"live": dict(long_probe, service="c.D")},
        ]

        def text(health):
            pools = {"other": self.pool(good.address, protocol="h2")}
            if health is not None:
                pools = {"grpc": self.pool(*backends, protocol="h2", health=health,
                                           panic_threshold=0), **pools}
            port, admin = self.proxy_port, self.admin_port
            t = self.config(pools, listener={"h2c": True})
            return t.replace(str(self.proxy_port), str(port)).replace(
                str(self.admin_port), str(admin))

        proxy = self.start_pool([good, slow], ready=long_probe, wait_ready=False,
                                panic_threshold=0)
        proxy_port, admin_port = self.proxy_port, self.admin_port
        harness.wait_until(lambda: len(slow.check_requests()) >= 1, 5, what="a probe in flight")
        for i in range(3 * len(shapes)):
            self.proxy_port, self.admin_port = proxy_port, admin_port
            proxy.reload(text(shapes[i % len(shapes)]))
            proxy.wait_log(r"reloaded ", count=i + 1, timeout=5)
        self.proxy_port, self.admin_port = proxy_port, admin_port
        proxy.reload(text(shapes[0]))
        proxy.wait_log(r"reloaded ", count=3 * len(shapes) + 1, timeout=5)
        harness.wait_until(lambda: self.state(proxy, good) == "ready", 5, what="good ready")
        # A reload that adds a ready probe to a backend keeps it as it was until a verdict.
        # Both by their probes' timeouts, which end about together, in either order: a call
        # made while `mute` still had no verdict went to it and was never answered (seen in CI).
        harness.wait_until(lambda: (self.state(proxy, slow), self.state(proxy, mute))
                           == ("unready", "unready"), 3 * harness.SLOWDOWN + 3,
                           what="slow and mute unready by their probes' timeouts")
        self.assertIn("timeout", proxy.stderr(tail=5))
        self.assertEqual(self.spread(4), ["good"] * 4)
        self.assertIsNone(proxy.proc.poll())


if __name__ == "__main__":
    harness.main()
