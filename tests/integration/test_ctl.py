#!/usr/bin/env python3
"""`outrigger ctl` against a running proxy: status prints the table, drain/maint/ready/weight
change the backend as the admin API does, reload reloads, and every failure exits non-zero
with the server's message."""

import collections
import os

import harness


class Ctl(harness.ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.a = self.start_backend("a")
        self.b = self.start_backend("b")
        self.token_path = os.path.join(self.tmp, "token")
        with open(self.token_path, "w") as f:
            f.write("s3cret\n")
        text = self.config(pools={"api": self.pool(self.a, self.b)})
        self.proxy = self.start_proxy(text.replace(
            "admin:\n", "admin:\n  token_file: %s\n" % self.token_path))

    def ctl(self, *args, token=True):
        extra = ["--admin", "127.0.0.1:%d" % self.admin_port]
        if token:
            extra += ["--token-file", self.token_path]
        return harness.run_outrigger(["ctl"] + extra + list(args))

    def ok(self, *args):
        r = self.ctl(*args)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def spread(self, n):
        seen = collections.Counter()
        for _ in range(n):
            r = self.proxy.get("/")
            seen[r.header("X-Backend") if r.status == 200 else r.status] += 1
        return seen

    def row(self, backend):
        table = self.ok("status").splitlines()
        self.assertEqual(table[0].split(),
                         ["POOL", "BACKEND", "STATE", "WEIGHT", "INFLIGHT", "RPS", "P95", "CIRCUIT"])
        for line in table[1:]:
            cells = line.split()
            if cells[1] == backend.address:
                return cells
        raise AssertionError("no row for %s in:\n%s" % (backend.address, "\n".join(table)))

    def test_status(self):
        self.spread(4)
        cells = self.row(self.a)
        self.assertEqual(len(cells), 8, cells)
        self.assertEqual((cells[0], cells[2], cells[3], cells[4], cells[7]),
                         ("api", "ready", "1", "0", "closed"))
        self.assertEqual(self.row(self.b)[2], "ready")
        # Reads need no token.
        self.assertEqual(self.ctl("status", token=False).returncode, 0)

    def test_drain_and_ready(self):
        out = self.ok("drain", "api", self.a.address)
        self.assertIn("drain", out)
        self.assertEqual(self.row(self.a)[2], "drained")
        self.assertEqual(self.spread(10), {"b": 10})
        self.ok("ready", "api", self.a.address)
        self.assertEqual(self.row(self.a)[2], "ready")
        self.assertEqual(self.spread(10), {"a": 5, "b": 5})

    def test_maint(self):
        self.ok("maint", "api", self.a.address)
        self.assertEqual(self.row(self.a)[2], "maint")
        self.assertEqual(self.spread(6), {"b": 6})
        self.ok("ready", "api", self.a.address)
        harness.wait_until(lambda: "a" in self.spread(4), 5, what="a back in rotation")

    def test_weight(self):
        self.ok("weight", "api", self.a.address, "3")
        self.assertEqual(self.row(self.a)[3], "3")
        seen = self.spread(40)
        self.assertEqual(seen, {"a": 30, "b": 10})
        self.ok("weight", "api", self.a.address, "0")
        self.assertEqual(self.spread(6), {"b": 6})
        r = self.ctl("weight", "api", self.a.address, "x")
        self.assertEqual(r.returncode, 2)

    def test_reload(self):
        self.assertEqual(self.ok("reload").strip(), "reloaded")
        with open(self.proxy.config_path, "w") as f:
            f.write(self.proxy.config_text.replace("round_robin", "no_such_policy"))
        r = self.ctl("reload")
        self.assertEqual(r.returncode, 1)
        self.assertIn("HTTP 400", r.stderr)
        self.assertIn("balance", r.stderr)

    def test_failures_carry_the_servers_message(self):
        r = self.ctl("drain", "nope", self.a.address)
        self.assertEqual(r.returncode, 1)
        self.assertIn('no pool "nope"', r.stderr)
        r = self.ctl("drain", "api", "127.0.0.1:1")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no backend", r.stderr)
        r = self.ctl("drain", "api", self.a.address, token=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("HTTP 401", r.stderr)
        r = harness.run_outrigger(["ctl", "--admin", "127.0.0.1:%d" % harness.free_port(),
                                   "status"])
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot connect", r.stderr)
        self.assertEqual(self.ctl("frobnicate").returncode, 2)
        self.assertEqual(self.ctl("drain", "api").returncode, 2)


if __name__ == "__main__":
    harness.main()
