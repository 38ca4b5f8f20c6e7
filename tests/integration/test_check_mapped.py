#!/usr/bin/env python3
"""--check refuses two listeners on one IPv4 endpoint when one is written IPv4-mapped
(127.0.0.1:P and [::ffff:127.0.0.1]:P): both would bind (SO_REUSEPORT) and one of them
would never get a connection."""

import harness


class CheckMappedListeners(harness.ProxyTestCase):
    def test_an_ipv4_mapped_listener_on_an_ipv4_listeners_endpoint_is_refused(self):
        a = self.start_backend("a")
        text = self.config(pools={"api": self.pool(a)})
        port = self.proxy_port
        mapped = text.replace("pools:", "  mapped:\n    listen: \"[::ffff:127.0.0.1]:%d\"\n"
                              "    routes:\n      - pool: api\npools:" % port, 1)
        self.assertIn("mapped:", mapped)
        p = self.check_config(mapped)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertRegex(p.stderr, r":\d+:\d+: listeners\.mapped\.listen: "
                         r"\[::ffff:127\.0\.0\.1\]:%d is also the address of listener `web` "
                         r"\(127\.0\.0\.1:%d\)" % (port, port))
        # On another port, or another IPv4 address, it is its own endpoint.
        other = mapped.replace("[::ffff:127.0.0.1]:%d" % port, "[::ffff:127.0.0.2]:%d" % port)
        p = self.check_config(other)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)


if __name__ == "__main__":
    harness.main()
