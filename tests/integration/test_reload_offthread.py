#!/usr/bin/env python3
"""A reload reads its config off the control thread: loading may block (getaddrinfo for an
`address: host:port` backend behind a slow DNS server), and the control thread serves the
admin listener, probes, DNS discovery and signals meanwhile. Here the config path is made
a FIFO, so reading it blocks until the test writes the new config into it."""

import os
import signal
import threading

import harness


class ReloadOffThread(harness.ProxyTestCase):
    @staticmethod
    def unblock(path, fed):
        """Frees a reader still waiting on the FIFO (the test failed before feeding it)."""
        if fed.is_set():
            return
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass  # no reader left

    def test_admin_answers_while_a_reload_is_loading(self):
        a = self.start_backend("a")
        b = self.start_backend("b")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a)}))
        self.assertEqual(proxy.get("/").header("X-Backend"), "a")
        new_text = proxy.config_text.replace(a.address, b.address)
        os.unlink(proxy.config_path)
        os.mkfifo(proxy.config_path)
        fed = threading.Event()
        self.addCleanup(self.unblock, proxy.config_path, fed)
        proxy.signal(signal.SIGHUP)
        # The control thread still answers, and the old config still serves.
        for _ in range(3):
            self.assertEqual(proxy.admin("/health/ready", timeout=2.0).status, 200)
            self.assertEqual(proxy.get("/").header("X-Backend"), "a")

        def feed():
            fed.set()
            with open(proxy.config_path, "w") as f:
                f.write(new_text)
        t = threading.Thread(target=feed, daemon=True)
        t.start()
        proxy.wait_log(r"reloaded ")
        t.join(5)
        self.assertEqual(proxy.get("/").header("X-Backend"), "b")


if __name__ == "__main__":
    harness.main()
