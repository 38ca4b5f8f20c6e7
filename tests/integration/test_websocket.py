#!/usr/bin/env python3
"""WebSocket upgrades become tunnels: messages both ways, refused upgrades, idle timeout,
and ip_hash keeps each client address on one backend across reconnects."""

import asyncio
import base64
import collections
import hashlib
import os
import socket
import struct
import sys
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


# --- ip_hash stickiness, 1 MiB frames, the tunnel timeout and upgrade rules with a raw client ------
#
# Backends below run ws_backend.py --greet: each greets a new connection with "backend:NAME"
# (bytes that arrive right behind the 101 head), echoes binary messages as they are and
# text ones prefixed by "NAME: ". Clients are both the websockets library and RawWebSocket
# (stdlib only), so a proxy bug cannot hide behind one client's habits. Distinct client
# addresses come from binding the client socket to 127.0.0.2 … 127.0.0.21 before connecting
# (Linux routes all of 127/8 to lo).

SOURCE_ADDRESSES = ["127.0.0.%d" % i for i in range(2, 22)]  # 20 distinct clients
RECONNECTS = 3
MIB = 1 << 20
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Closed(Exception):
    """The peer closed the TCP connection (EOF or reset) or sent a close frame."""


class RawWebSocket:
    """A minimal RFC 6455 client: handshake, masked frames out, frames parsed in."""

    def __init__(self, port, path="/ws", source=None, timeout=10.0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            if source:
                self.sock.bind((source, 0))
            self.sock.settimeout(timeout * harness.SLOWDOWN)
            self.sock.connect((harness.LOOPBACK, port))
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.buf = b""
            self.status, self.head = self._handshake(port, path)
        except BaseException:
            self.sock.close()
            raise

    def _handshake(self, port, path):
        key = base64.b64encode(os.urandom(16))
        lines = [b"GET %s HTTP/1.1" % path.encode(), b"Host: 127.0.0.1:%d" % port,
                 b"Upgrade: websocket", b"Connection: Upgrade", b"Sec-WebSocket-Key: " + key,
                 b"Sec-WebSocket-Version: 13"]
        self.sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n")
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > 65536:
                raise AssertionError("handshake answer head too long: %r" % self.buf[:300])
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status_line, *fields = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ")[1])
        headers = {}
        for f in fields:
            k, _, v = f.partition(":")
            headers[k.strip().lower()] = v.strip()
        if status == 101:
            want = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
            if headers.get("sec-websocket-accept") != want:
                raise AssertionError("bad Sec-WebSocket-Accept %r, want %r in %r"
                                     % (headers.get("sec-websocket-accept"), want, head))
            if headers.get("upgrade", "").lower() != "websocket":
                raise AssertionError("101 without Upgrade: websocket: %r" % head)
        return status, head

    def _fill(self):
        try:
            chunk = self.sock.recv(1 << 18)
        except (ConnectionResetError, BrokenPipeError) as e:
            raise Closed("connection reset: %s" % e)
        if not chunk:
            raise Closed("EOF")
        self.buf += chunk

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send_frame(self, opcode, payload, fin=True):
        n = len(payload)
        head = bytes([(0x80 if fin else 0) | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        self.sock.sendall(head + mask + xor_mask(payload, mask))

    def send(self, message, fragments=1):
        """A text (str) or binary (bytes) message, optionally split into fragments."""
        opcode, data = (1, message.encode()) if isinstance(message, str) else (2, message)
        step = max(1, -(-len(data) // fragments))
        parts = [data[i:i + step] for i in range(0, len(data), step)] or [b""]
        for i, part in enumerate(parts):
            self.send_frame(opcode if i == 0 else 0, part, fin=i == len(parts) - 1)

    def recv_frame(self):
        b0, b1 = self._take(2)
        if b1 & 0x80:
            raise AssertionError("server frame is masked (RFC 6455 §5.1 forbids it)")
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._take(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._take(8))[0]
        return bool(b0 & 0x80), b0 & 0x0F, self._take(n)

    def recv(self):
        """The next data message (str for text, bytes for binary); answers pings."""
        parts, kind = [], None
        for _ in range(100000):
            fin, opcode, payload = self.recv_frame()
            if opcode == 8:
                raise Closed("close frame %r" % payload[:125])
            if opcode == 9:
                self.send_frame(10, payload)
                continue
            if opcode == 10:
                continue
            if opcode in (1, 2):
                kind = opcode
            parts.append(payload)
            if fin:
                data = b"".join(parts)
                return data.decode() if kind == 1 else data
        raise AssertionError("more than 100000 frames in one message")

    def close(self):
        try:
            self.send_frame(8, struct.pack("!H", 1000))
            end = time.monotonic() + 2.0
            for _ in range(1000):
                if time.monotonic() > end:
                    break
                self.sock.settimeout(max(0.01, end - time.monotonic()))
                if self.recv_frame()[1] == 8:
                    break
        except (Closed, OSError):
            pass
        finally:
            self.sock.close()


def xor_mask(data, mask):
    if not data:
        return b""
    n = len(data)
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")


class RawWebSocketTestCase(harness.ProxyTestCase):
    def start_ws_backend(self, name):
        b = harness.Backend(name, log_dir=self.tmp, script=harness.WS_BACKEND_PY,
                            extra_args=["--greet", "--verbose"])
        self.addCleanup(b.stop)
        return b

    def raw_ws(self, proxy, **kw):
        ws = RawWebSocket(proxy.port, **kw)
        self.addCleanup(ws.sock.close)
        return ws

    def ws_proxy(self, balance="round_robin", names=("a", "b", "c"), timeouts=None, routes=None,
                 workers=1):
        backends = [self.start_ws_backend(n) for n in names]
        pool = self.pool(*backends, balance=balance)
        if timeouts:
            pool["timeouts"] = timeouts
        return self.start_proxy(self.config(pools={"realtime": pool}, routes=routes, workers=workers))

    def assert_sticky(self, seen):
        """seen: source address → [backend name per connection]."""
        mixed = {ip: names for ip, names in seen.items() if len(set(names)) != 1}
        self.assertEqual(mixed, {}, "clients that landed on more than one backend across "
                                    "%d connections: %s" % (RECONNECTS, mixed))
        spread = collections.Counter(names[0] for names in seen.values())
        self.assertGreater(len(spread), 1, "all %d clients landed on one backend: %s"
                                           % (len(seen), dict(spread)))
        sys.stderr.write("\n  ip_hash spread of %d clients: %s\n" % (len(seen), dict(sorted(spread.items()))))


class IpHashStickiness(RawWebSocketTestCase):
    def test_twenty_clients_each_stick_to_one_backend_across_reconnects_with_a_raw_client(self):
        self.check_raw_clients_stick(workers=1)

    def test_twenty_clients_stick_to_one_backend_whichever_of_two_workers_accepts_them(self):
        self.check_raw_clients_stick(workers=2)

    def check_raw_clients_stick(self, workers):
        proxy = self.ws_proxy(balance="ip_hash", workers=workers)
        seen = collections.defaultdict(list)
        for _ in range(RECONNECTS):
            for ip in SOURCE_ADDRESSES:
                ws = RawWebSocket(proxy.port, source=ip)
                try:
                    self.assertEqual(ws.status, 101, ws.head)
                    greeting = ws.recv()
                    self.assertTrue(greeting.startswith("backend:"), greeting)
                    name = greeting.split(":", 1)[1]
                    ws.send("hi")
                    self.assertEqual(ws.recv(), name + ": hi")
                    seen[ip].append(name)
                finally:
                    ws.close()
        self.assert_sticky(seen)

    @unittest.skipIf(websockets is None, "python3-websockets is not installed")
    def test_twenty_clients_each_stick_to_one_backend_across_reconnects_with_the_websockets_library(self):
        proxy = self.ws_proxy(balance="ip_hash")
        uri = "ws://127.0.0.1:%d/ws" % proxy.port

        async def one(ip):
            # local_addr goes through to loop.create_connection: the socket is bound to ip.
            async with websockets.connect(uri, local_addr=(ip, 0), open_timeout=5 * harness.SLOWDOWN,
                                          close_timeout=2) as ws:
                if ws.local_address[0] != ip:
                    raise AssertionError("client bound to %s but connected from %s" % (ip, ws.local_address))
                greeting = await ws.recv()
                await ws.send("ping-%s" % ip)
                echo = await ws.recv()
                if echo != "%s: ping-%s" % (greeting.split(":", 1)[-1], ip):
                    raise AssertionError("echo %r after greeting %r for %s" % (echo, greeting, ip))
                return greeting

        async def all_rounds():
            seen = collections.defaultdict(list)
            for _ in range(RECONNECTS):
                for ip in SOURCE_ADDRESSES:
                    greeting = await one(ip)
                    if not greeting.startswith("backend:"):
                        raise AssertionError("first message %r, want backend:NAME" % greeting)
                    seen[ip].append(greeting.split(":", 1)[1])
            return seen

        self.assert_sticky(asyncio.run(asyncio.wait_for(all_rounds(), 60 * harness.SLOWDOWN)))

    def test_round_robin_does_not_stick_which_shows_the_stickiness_check_discriminates(self):
        proxy = self.ws_proxy(balance="round_robin")
        names = []
        for _ in range(RECONNECTS):
            ws = RawWebSocket(proxy.port, source=SOURCE_ADDRESSES[0])
            try:
                names.append(ws.recv())
            finally:
                ws.close()
        self.assertEqual(len(set(names)), RECONNECTS, names)


class RawClientTunnel(RawWebSocketTestCase):
    def test_one_mebibyte_binary_messages_echo_intact_whole_and_in_fragments(self):
        proxy = self.ws_proxy(names=("big",))
        ws = self.raw_ws(proxy)
        self.assertEqual(ws.status, 101, ws.head)
        self.assertEqual(ws.recv(), "backend:big")
        for fragments in (1, 1, 4):  # two single-frame messages, then one in four fragments
            data = os.urandom(MIB)
            ws.send(data, fragments=fragments)
            echo = ws.recv()
            self.assertIsInstance(echo, bytes)
            self.assertEqual(len(echo), MIB, "echo of %d fragment(s) has %d bytes" % (fragments, len(echo)))
            if echo != data:
                first = next(i for i in range(MIB) if echo[i] != data[i])
                self.fail("1 MiB echo (%d fragment(s)) differs; first difference at byte %d"
                          % (fragments, first))
        ws.close()

    def test_an_idle_tunnel_is_closed_by_the_proxy_within_2_5s_of_a_1s_tunnel_timeout(self):
        proxy = self.ws_proxy(names=("idle",), timeouts={"tunnel": "1s"})
        ws = self.raw_ws(proxy)
        self.assertEqual(ws.status, 101, ws.head)
        self.assertEqual(ws.recv(), "backend:idle")
        last_activity = time.monotonic()
        ws.sock.settimeout(2.5 * harness.SLOWDOWN)
        closed_by = None  # how the proxy ended the tunnel, or None while it is open
        try:
            frame = ws.recv_frame()
            if frame[1] == 8:  # a close frame counts as closing too
                closed_by = "close frame %r" % frame[2][:125]
            else:
                self.fail("an idle tunnel delivered an unexpected frame %r" % (frame[:2],))
        except Closed as e:
            closed_by = str(e)
        except socket.timeout:
            pass
        idle = time.monotonic() - last_activity
        self.assertIsNotNone(closed_by, "an idle tunnel with `tunnel: 1s` was still open %.2fs after "
                                        "the last message" % idle)
        self.assertGreaterEqual(idle, 0.9, "tunnel closed after only %.2fs idle (timeout is 1s)" % idle)
        sys.stderr.write("\n  idle tunnel closed after %.2fs (%s)\n" % (idle, closed_by))

    def test_an_active_tunnel_with_a_message_every_300ms_outlives_a_1s_tunnel_timeout(self):
        proxy = self.ws_proxy(names=("busy",), timeouts={"tunnel": "1s"})
        ws = self.raw_ws(proxy)
        self.assertEqual(ws.status, 101, ws.head)
        self.assertEqual(ws.recv(), "backend:busy")
        start = time.monotonic()
        sent = 0
        while time.monotonic() - start < 2.4:
            time.sleep(0.3)
            msg = "tick %d" % sent
            try:
                ws.send(msg)
                echo = ws.recv()
            except (Closed, OSError) as e:
                self.fail("an active tunnel (a message every 300ms) was closed %.2fs in, after %d "
                          "messages: %s" % (time.monotonic() - start, sent, e))
            self.assertEqual(echo, "busy: " + msg)
            sent += 1
        self.assertGreater(time.monotonic() - start, 2.0)
        self.assertGreaterEqual(sent, 7)
        ws.close()


class UpgradeRules(RawWebSocketTestCase):
    H2C = (b"GET /ws/x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade, HTTP2-Settings\r\n"
           b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n")

    def test_a_route_listing_websocket_accepts_a_websocket_and_refuses_h2c_before_any_backend(self):
        routes = [{"path_prefix": "/ws", "pool": "realtime", "upgrades": ["websocket"]},
                  {"path_prefix": "/", "pool": "realtime"}]
        proxy = self.ws_proxy(names=("listed",), routes=routes)
        ws = self.raw_ws(proxy, path="/ws/chat")
        self.assertEqual(ws.status, 101, ws.head)
        self.assertEqual(ws.recv(), "backend:listed")
        ws.send("hello")
        self.assertEqual(ws.recv(), "listed: hello")
        ws.close()
        with proxy.raw() as s:
            s.sendall(self.H2C)
            r = harness.read_response(s.makefile("rb"))
        self.assertEqual(r.status, 400, r)
        self.assertIsNone(r.header("X-Backend"), "the h2c request reached a backend: %r" % r)

    def test_a_route_with_no_upgrades_refuses_a_websocket_with_400(self):
        routes = [{"path_prefix": "/", "pool": "realtime", "upgrades": []}]
        proxy = self.ws_proxy(names=("none",), routes=routes)
        ws = self.raw_ws(proxy)
        self.assertEqual(ws.status, 400, ws.head)


if __name__ == "__main__":
    harness.main()
