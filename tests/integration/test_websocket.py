#!/usr/bin/env python3
"""WebSocket upgrades become tunnels: messages both ways, refused upgrades, idle timeout."""

import asyncio
import os
import time
import unittest

import harness

try:
    import websockets
except ImportError:  # Debian's python3-websockets; scripts/install-deps installs it
    websockets = None


@unittest.skipIf(websockets is None, "python3-websockets is not installed")
class WebSocketTunnel(harness.ProxyTestCase):
    def start(self, tunnel_timeout=None):
        ws = self.start_backend("ws", script=harness.WS_BACKEND_PY)
        api = self.start_backend("api")
        realtime = self.pool(ws, **({"timeouts": {"tunnel": tunnel_timeout}} if tunnel_timeout else {}))
        return self.start_proxy(self.config(
            pools={"api": self.pool(api), "realtime": realtime},
            routes=[{"path_prefix": "/ws", "pool": "realtime"}, {"path_prefix": "/", "pool": "api"}]))

    def run_async(self, coro, timeout=30):
        return asyncio.run(asyncio.wait_for(coro, timeout * harness.SLOWDOWN))

    def connect(self, proxy, path="/ws"):
        return websockets.connect("ws://127.0.0.1:%d%s" % (proxy.port, path), max_size=None,
                                  ping_interval=None, open_timeout=10 * harness.SLOWDOWN)

    def test_tunnels_text_and_binary_messages_both_ways(self):
        proxy = self.start()
        payload = os.urandom(1024 * 1024)

        async def talk():
            async with self.connect(proxy) as ws:
                await ws.send("hello")
                text = await ws.recv()
                await ws.send(payload)
                binary = await ws.recv()
                return text, binary

        text, binary = self.run_async(talk())
        self.assertEqual(text, "ws: hello")
        self.assertTrue(binary == payload, "the 1 MiB binary message came back altered")

    def test_serves_plain_requests_next_to_open_tunnels(self):
        proxy = self.start()

        async def talk():
            async with self.connect(proxy) as ws:
                await ws.send("first")
                first = await ws.recv()
                r = await asyncio.to_thread(proxy.get, "/")
                await ws.send("second")
                return first, r, await ws.recv()

        first, r, second = self.run_async(talk())
        self.assertEqual((first, second), ("ws: first", "ws: second"))
        self.assertEqual((r.status, r.header("X-Backend")), (200, "api"))

    def test_keeps_ten_concurrent_tunnels_apart(self):
        proxy = self.start()

        async def one(i):
            async with self.connect(proxy) as ws:
                answers = []
                for j in range(5):
                    await ws.send("%d-%d" % (i, j))
                    answers.append(await ws.recv())
                return answers

        async def all_of_them():
            return await asyncio.gather(*(one(i) for i in range(10)))

        results = self.run_async(all_of_them())
        for i, answers in enumerate(results):
            self.assertEqual(answers, ["ws: %d-%d" % (i, j) for j in range(5)])

    def test_refuses_an_upgrade_the_route_does_not_allow(self):
        proxy = self.start()
        sock = proxy.raw()
        self.addCleanup(sock.close)
        sock.sendall(b"GET /ws HTTP/1.1\r\nHost: test\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n"
                     b"HTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n")
        r = harness.read_response(sock.makefile("rb"))
        self.assertEqual(r.status, 400, r)

    def test_closes_a_tunnel_idle_longer_than_timeouts_tunnel(self):
        proxy = self.start(tunnel_timeout="1s")

        async def idle():
            async with self.connect(proxy) as ws:
                await ws.send("before")
                self.assertEqual(await ws.recv(), "ws: before")
                start = time.monotonic()
                try:
                    await asyncio.wait_for(ws.recv(), 5 * harness.SLOWDOWN)
                except websockets.ConnectionClosed:
                    return time.monotonic() - start
                except asyncio.TimeoutError:
                    return None
                self.fail("got a message on an idle tunnel")

        closed_after = self.run_async(idle())
        self.assertIsNotNone(closed_after, "the idle tunnel was still open 5 s later")
        self.assertGreaterEqual(closed_after, 0.8)

    def test_keeps_a_busy_tunnel_open_past_timeouts_tunnel(self):
        proxy = self.start(tunnel_timeout="1s")

        async def busy():
            async with self.connect(proxy) as ws:
                for i in range(8):  # 8 × 0.3 s: well past the 1 s idle limit, never idle
                    await ws.send("ping %d" % i)
                    self.assertEqual(await ws.recv(), "ws: ping %d" % i)
                    await asyncio.sleep(0.3)

        self.run_async(busy())


if __name__ == "__main__":
    harness.main()
