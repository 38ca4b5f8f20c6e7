#!/usr/bin/env python3
"""`workers: auto` and the published limits in cgroups the test makes itself: a parent group
limited to 0.5 CPU and 256 MiB with an unlimited child the proxy starts in. The proxy must
find its own group (not the hierarchy's root, on v1) and take the limit of an ancestor
(a `max` in the leaf hides nothing): 1 worker, outrigger_cpu_limit_cores 0.5,
outrigger_memory_limit_bytes 268435456.

cgroup v1 (a hierarchy per controller) and v2 (one unified hierarchy) are each tested
where this machine has them mounted, with the cpu and memory controllers, writable;
otherwise that test is skipped and says why. The proxy starts inside the leaf through a
wrapper that writes its PID to cgroup.procs and then execs the binary."""

import os
import re
import stat
import unittest
from unittest import mock

import harness
import metrics_util

QUOTA_US, PERIOD_US = 50000, 100000
MEMORY = 256 * 1024 * 1024


def mounts():
    """[(fstype, mount_point, super_options)] of the cgroup mounts of this process."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            head, _, tail = line.partition(" - ")
            fields, rest = head.split(), tail.split()
            if len(rest) >= 3 and rest[0] in ("cgroup", "cgroup2"):
                out.append((rest[0], fields[4], rest[2].split(",")))
    return out


def own_groups():
    """{controller or "": path} of /proc/self/cgroup."""
    out = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for c in controllers.split(",") if controllers else [""]:
                out[c] = path
    return out


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


class Cgroups(harness.ProxyTestCase):
    def make_group(self, base):
        """base/outrigger-test-PID/leaf; removed after the proxy in it has stopped."""
        parent = os.path.join(base, "outrigger-test-%d" % os.getpid())
        leaf = os.path.join(parent, "leaf")
        try:
            os.makedirs(leaf)
        except OSError as e:
            raise unittest.SkipTest("cannot create a cgroup under %s: %s" % (base, e))
        self.addCleanup(os.rmdir, parent)
        self.addCleanup(os.rmdir, leaf)
        return parent, leaf

    def start_in(self, leaves):
        """The proxy, `workers: auto`, started inside every group of `leaves`."""
        wrapper = os.path.join(self.tmp, "in-cgroup.sh")
        lines = ["#!/bin/sh"] + ["echo $$ > %s/cgroup.procs" % leaf for leaf in leaves]
        lines.append('exec "%s" "$@"' % harness.outrigger_bin())
        write(wrapper, "\n".join(lines) + "\n")
        os.chmod(wrapper, os.stat(wrapper).st_mode | stat.S_IXUSR)
        backend = self.start_backend("b1")
        config = self.config(pools={"api": self.pool(backend)}, workers="auto")
        with mock.patch.dict(os.environ, {"OUTRIGGER_BIN": wrapper}):
            proxy = self.start_proxy(config)
        for leaf in leaves:
            with open(os.path.join(leaf, "cgroup.procs")) as f:
                self.assertIn(str(proxy.pid), f.read().split(), "the proxy is not in %s" % leaf)
        self.assertEqual(proxy.get("/").status, 200)
        return proxy

    def check_limits(self, proxy):
        samples, _ = metrics_util.scrape(proxy)
        self.assertAlmostEqual(metrics_util.value(samples, "outrigger_cpu_limit_cores"),
                               QUOTA_US / PERIOD_US)
        self.assertEqual(metrics_util.value(samples, "outrigger_memory_limit_bytes"), MEMORY)
        m = re.search(r"ready: (\d+) worker\(s\)", proxy.stderr())
        self.assertIsNotNone(m, proxy.stderr())
        self.assertEqual(int(m.group(1)), 1, "workers: auto in a 0.5-CPU group")

    def test_v1_group_and_ancestor_limits(self):
        v1 = {}
        for fstype, point, options in mounts():
            for c in ("cpu", "memory"):
                if fstype == "cgroup" and c in options:
                    v1.setdefault(c, point)
        if len(v1) < 2:
            self.skipTest("no cgroup v1 cpu and memory hierarchies on this machine (%s)"
                          % (sorted(v1) or "none"))
        own = own_groups()
        leaves = []
        for c, point in sorted(v1.items()):
            base = point + own.get(c, "/").rstrip("/")
            if not os.access(base, os.W_OK):
                self.skipTest("cgroup v1 %s group %s is not writable" % (c, base))
            parent, leaf = self.make_group(base)
            if c == "cpu":
                write(os.path.join(parent, "cpu.cfs_period_us"), str(PERIOD_US))
                write(os.path.join(parent, "cpu.cfs_quota_us"), str(QUOTA_US))
            else:
                write(os.path.join(parent, "memory.limit_in_bytes"), str(MEMORY))
            leaves.append(leaf)
        self.check_limits(self.start_in(leaves))

    def test_v2_group_and_ancestor_limits(self):
        v2 = [point for fstype, point, _ in mounts() if fstype == "cgroup2"]
        if not v2:
            self.skipTest("no cgroup v2 hierarchy on this machine")
        root = v2[0]
        with open(os.path.join(root, "cgroup.controllers")) as f:
            controllers = f.read().split()
        if "cpu" not in controllers or "memory" not in controllers:
            self.skipTest("the cgroup v2 hierarchy at %s has no cpu and memory controllers "
                          "(they are on v1 here): %s" % (root, controllers or "none"))
        if not os.access(root, os.W_OK):
            self.skipTest("the cgroup v2 root %s is not writable" % root)
        # Under the hierarchy's root: a v2 group with processes cannot delegate controllers.
        try:
            write(os.path.join(root, "cgroup.subtree_control"), "+cpu +memory")
        except OSError as e:
            self.skipTest("cannot enable cpu and memory under %s: %s" % (root, e))
        parent, leaf = self.make_group(root)
        write(os.path.join(parent, "cgroup.subtree_control"), "+cpu +memory")
        write(os.path.join(parent, "cpu.max"), "%d %d" % (QUOTA_US, PERIOD_US))
        write(os.path.join(parent, "memory.max"), str(MEMORY))
        self.check_limits(self.start_in([leaf]))


if __name__ == "__main__":
    harness.main()
