#!/usr/bin/env python3
"""Readiness for systemd's Type=notify: started with $NOTIFY_SOCKET, the proxy sends READY=1
once its listeners accept and its workers serve, RELOADING=1 then READY=1 around a reload
(refused or not), and STOPPING=1 when a drain begins. A datagram socket of the test stands in
for systemd."""

import os
import signal
import socket
import subprocess
import unittest

import harness


def built_with_systemd():
    out = subprocess.run(["ldd", harness.outrigger_bin()], capture_output=True, text=True).stdout
    return "libsystemd.so" in out


@unittest.skipUnless(built_with_systemd(), "this binary was built without libsystemd")
class SdNotify(harness.ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.path = os.path.join(self.tmp, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(self.sock.close)
        self.sock.bind(self.path)
        self.sock.settimeout(15 * harness.SLOWDOWN)

    def next_state(self):
        """The next datagram as a dict of its KEY=value lines."""
        data = self.sock.recv(4096).decode()
        return dict(line.split("=", 1) for line in data.splitlines() if line)

    def start(self, text):
        env = dict(os.environ, NOTIFY_SOCKET=self.path)
        return self.start_proxy(text, wait_ready=False, env=env)

    def test_ready_reloading_and_stopping(self):
        backend = self.start_backend("a")
        text = self.config(pools={"app": self.pool(backend)}, workers=2)
        proxy = self.start(text)

        state = self.next_state()
        self.assertEqual(state.get("READY"), "1", state)
        self.assertEqual(state.get("STATUS"), "serving: 2 worker(s), 1 listener(s)")
        # Ready means ready: the first request after READY=1 is served, without a retry.
        self.assertEqual(proxy.get("/").status, 200)

        proxy.signal(signal.SIGHUP)
        state = self.next_state()
        self.assertEqual(state.get("RELOADING"), "1", state)
        self.assertRegex(state.get("MONOTONIC_USEC", ""), r"^\d+$")
        state = self.next_state()
        self.assertEqual((state.get("READY"), state.get("STATUS")), ("1", "serving: reloaded"))

        proxy.reload(text.replace("pools:", "pools:\n  broken: {balance: nope}\n", 1))
        self.assertEqual(self.next_state().get("RELOADING"), "1")
        state = self.next_state()
        self.assertEqual(state.get("READY"), "1", state)
        self.assertRegex(state.get("STATUS", ""), r"refused")
        self.assertEqual(proxy.get("/").status, 200)

        proxy.signal(signal.SIGTERM)
        state = self.next_state()
        self.assertEqual((state.get("STOPPING"), state.get("STATUS")), ("1", "draining"))
        self.assertEqual(proxy.proc.wait(timeout=15 * harness.SLOWDOWN), 0)

    def test_no_ready_for_a_config_that_does_not_start(self):
        text = self.config(pools={"app": {"balance": "nope", "backends": []}})
        proxy = self.start(text)
        self.assertEqual(proxy.proc.wait(timeout=15 * harness.SLOWDOWN), 1)
        self.sock.settimeout(0.2)
        with self.assertRaises(socket.timeout):
            self.sock.recv(4096)


if __name__ == "__main__":
    harness.main()
