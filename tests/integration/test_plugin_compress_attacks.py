#!/usr/bin/env python3
"""compress under abuse: clients and backends that leave mid-body, broken framing, bodies
that trickle or come in very many tiny chunks, a client that reads slowly (the proxy must
not buffer the body for it), many compressed responses at once, a reload in the middle of
them, and empty bodies. Meant for the sanitizer build too: the harness fails a test whose
proxy's stderr holds a sanitizer report."""

import base64
import hashlib
import os
import signal
import socket
import struct
import threading
import time

import compress_util as cu
import harness
from test_plugin_compress import CompressCase

KIB = 1024
MIB = 1024 * 1024


def reset(sock):
    """Closes with a RST rather than a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def sockets(proxy):
    """How many sockets the proxy holds open."""
    fd_dir = "/proc/%d/fd" % proxy.pid
    n = 0
    for fd in os.listdir(fd_dir):
        try:
            n += os.readlink(os.path.join(fd_dir, fd)).startswith("socket:")
        except OSError:  # closed while listed
            pass
    return n


def read_chunks_until_closed(rfile):
    """Chunk data until the connection closes; (data, whether the last chunk came)."""
    data = b""
    try:
        while True:
            chunk = cu.read_chunk(rfile)
            if not chunk:
                return data, True
            data += chunk
    except TimeoutError:
        raise AssertionError("the proxy neither ended nor closed the body (%d bytes)"
                             % len(data))
    except (ConnectionError, OSError, ValueError):
        return data, False


def wait_stalled(counter, timeout):
    """Waits until counter[0] is positive and has not moved for a sampling interval (there
    is no event for "a sender is blocked": it is seen by sampling)."""
    end = harness.deadline(timeout)
    prev = -1
    while True:
        now = counter[0]
        if now > 0 and now == prev:
            return now
        if time.monotonic() > end:
            raise AssertionError("the backend never stalled (sent %d bytes)" % now)
        prev = now
        time.sleep(0.3 * harness.SLOWDOWN)



def at_once(n, one):
    """one(i) for i in range(n), each on its own thread, all let go at the same moment; their
    results."""
    out = [None] * n
    go = threading.Event()

    def run(i):
        go.wait()
        out[i] = one(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    go.set()
    for t in threads:
        t.join(60 * harness.SLOWDOWN)
    return out


def failures(results):
    """The (index, result) of each that is not True."""
    return [(i, o) for i, o in enumerate(results) if o is not True]

class Leaving(CompressCase):
    def test_a_client_that_resets_mid_body_frees_the_backend(self):
        body = cu.text(10 * MIB, seed=20)
        ended = threading.Event()

        def handle(sock, req):
            try:
                return cu.fixed(body)(sock, req)
            finally:
                ended.set()

        proxy = self.start({"/big": handle, "/small": cu.fixed(body[:4096])})
        idle = sockets(proxy)
        sock = proxy.raw()
        cu.send_get(sock, "/big", "gzip")
        got = b""
        while len(got) < 100 * KIB:
            data = sock.recv(65536)
            self.assertTrue(data, "proxy closed after %d bytes" % len(got))
            got += data
        reset(sock)
        # The backend's connection goes too: its send fails rather than blocking forever.
        self.assertTrue(ended.wait(10 * harness.SLOWDOWN), "backend still sending")
        harness.wait_until(lambda: sockets(proxy) <= idle, 5,
                           what="the proxy to close both sides (%d sockets, %d idle)"
                           % (sockets(proxy), idle))
        r = self.fetch(proxy, "/small", accept="br")
        self.assert_encoded(r, "br", body[:4096])

    def backend_cut(self, framing, how):
        """The backend sends 64 KiB of a 1 MiB body, then `how` (reset, garbage framing)."""
        body = cu.text(MIB, seed=21)
        first = body[:64 * KIB]

        def handle(sock, req):
            h = [("Content-Type", "text/plain")]
            if framing == "chunked":
                h.append(("Transfer-Encoding", "chunked"))
                sock.sendall(cu.head_bytes(200, h) + b"%x\r\n%s\r\n" % (len(first), first))
            elif framing == "close":  # a reset, unlike a FIN, is not the body's end
                h.append(("Connection", "close"))
                sock.sendall(cu.head_bytes(200, h) + first)
            else:
                h.append(("Content-Length", str(len(body))))
                sock.sendall(cu.head_bytes(200, h) + first)
            if how == "fin":  # a FIN before a declared length or the last chunk: cut too
                sock.shutdown(socket.SHUT_WR)
                time.sleep(0.5 * harness.SLOWDOWN)
                return False
            if how == "garbage":
                sock.sendall(b"zz\r\nnot a chunk\r\n")
                time.sleep(0.5 * harness.SLOWDOWN)  # lets the proxy act on the garbage first
            reset(sock)
            return False

        proxy = self.start({"/cut": handle, "/ok": cu.fixed(body[:4096])})
        idle = sockets(proxy)
        for coding in ("gzip", "br"):
            with self.subTest(coding=coding):
                sock, rfile = self.open_raw(proxy)
                cu.send_get(sock, "/cut", coding)
                status, headers = cu.read_head(rfile)
                self.assertEqual((status, headers.get("content-encoding")), (200, [coding]))
                data, ended = read_chunks_until_closed(rfile)
                # A cut body must not look whole: no last chunk, and what came decodes to a
                # prefix of the backend's bytes.
                self.assertFalse(ended, "the proxy ended a cut body as if it were complete")
                got = cu.decoder(coding)(data)
                self.assertTrue(first.startswith(got), "decoded bytes are not the body's")
                sock.close()
                harness.wait_until(lambda: sockets(proxy) <= idle, 5,
                                   what="the proxy to close both sides")
        self.assert_encoded(self.fetch(proxy, "/ok"), "gzip", body[:4096])

    def test_a_backend_that_resets_mid_body(self):
        for framing in ("length", "chunked", "close"):
            with self.subTest(framing=framing):
                self.backend_cut(framing, "reset")

    def test_a_backend_that_closes_before_the_body_ends(self):
        for framing in ("length", "chunked"):
            with self.subTest(framing=framing):
                self.backend_cut(framing, "fin")

    def test_a_client_that_leaves_while_the_backend_is_quiet(self):
        first = cu.text(8 * KIB, seed=29)
        ended = threading.Event()

        def held(sock, req):
            sock.sendall(cu.head_bytes(200, [("Content-Type", "text/plain"),
                                             ("Transfer-Encoding", "chunked")])
                         + b"%x\r\n%s\r\n" % (len(first), first))
            # The proxy closing this connection is what ends the wait (b"" or a reset).
            sock.settimeout(10 * harness.SLOWDOWN)
            try:
                if sock.recv(1) == b"":
                    ended.set()
            except TimeoutError:
                pass
            except OSError:
                ended.set()
            return False

        # A FIN alone is not tried: the proxy takes it for a half-close (with or without
        # compress) and learns of the close when it next writes.
        proxy = self.start({"/h": held})
        sock, rfile = self.open_raw(proxy)
        cu.send_get(sock, "/h", "gzip")
        self.assertEqual(cu.read_head(rfile)[0], 200)
        self.assertEqual(cu.decoder("gzip")(cu.read_chunk(rfile)), first)
        rfile.close()
        reset(sock)
        self.assertTrue(ended.wait(10 * harness.SLOWDOWN),
                        "the proxy kept the backend's connection of a gone client")

    def test_a_backend_that_sends_broken_chunked_framing_mid_body(self):
        self.backend_cut("chunked", "garbage")


class Shapes(CompressCase):
    def test_a_body_that_trickles_a_byte_at_a_time(self):
        body = cu.text(600, seed=22)

        def handle(sock, req):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(cu.head_bytes(200, [("Content-Type", "text/plain"),
                                             ("Transfer-Encoding", "chunked")]))
            for i in range(len(body)):
                sock.sendall(b"1\r\n" + body[i:i + 1] + b"\r\n")
                if i % 50 == 0:
                    time.sleep(0.002)
            for b in b"0\r\n\r\n":
                sock.sendall(bytes([b]))
            return True

        proxy = self.start({"/t": handle})
        for coding in ("gzip", "br"):
            with self.subTest(coding=coding):
                self.assert_encoded(self.fetch(proxy, "/t", accept=coding), coding, body)

    def test_a_hundred_thousand_one_byte_chunks(self):
        body = cu.text(100000, seed=23)
        wire = b"".join(b"1\r\n%s\r\n" % body[i:i + 1] for i in range(len(body)))
        proxy = self.start({"/t": lambda sock, req: sock.sendall(
            cu.head_bytes(200, [("Content-Type", "text/plain"), ("Transfer-Encoding", "chunked")])
            + wire + b"0\r\n\r\n") or True})
        for coding in ("gzip", "br"):
            with self.subTest(coding=coding):
                start = time.monotonic()
                self.assert_encoded(self.fetch(proxy, "/t", accept=coding), coding, body)
                self.assertLess(time.monotonic() - start, 10 * harness.SLOWDOWN)

    def test_a_client_that_half_closes_after_its_request(self):
        body = cu.text(500 * KIB, seed=30)
        proxy = self.start({"/t": cu.fixed(body)})
        sock, rfile = self.open_raw(proxy)
        cu.send_get(sock, "/t", "br")
        sock.shutdown(socket.SHUT_WR)
        self.assert_encoded(harness.read_response(rfile), "br", body)

    def test_early_hints_then_a_compressed_response(self):
        body = cu.text(3000, seed=31)

        def handle(sock, req):
            sock.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n")
            return cu.fixed(body, "text/html")(sock, req)

        proxy = self.start({"/t": handle})
        sock, rfile = self.open_raw(proxy)
        cu.send_get(sock, "/t", "gzip")
        r = harness.read_response(rfile)
        self.assertEqual(r.status, 103)
        self.assertIsNone(r.header("Content-Encoding"))
        self.assert_encoded(harness.read_response(rfile), "gzip", body)

    def test_a_post_whose_response_is_compressed(self):
        body = cu.text(200 * KIB, seed=32)

        def handle(sock, req):
            return cu.fixed(req.body.upper())(sock, req)

        proxy = self.start({"/echo": handle})
        sock, rfile = self.open_raw(proxy)
        for coding in ("gzip", "br"):
            sock.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nAccept-Encoding: %s\r\n"
                         b"Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n"
                         % (coding.encode(), len(body)) + body)
            self.assert_encoded(harness.read_response(rfile), coding, body.upper())

    def test_empty_bodies(self):
        proxy = self.start({"/chunked0": cu.chunked([]),
                            "/cl0": cu.fixed(b""),
                            "/after": cu.fixed(cu.text(2000, seed=24))},
                           compress={"min_size": 0})
        sock, rfile = self.open_raw(proxy)
        for path in ("/chunked0", "/cl0", "/after"):
            for coding in ("gzip", "br"):
                with self.subTest(path=path, coding=coding):
                    cu.send_get(sock, path, coding)
                    r = harness.read_response(rfile)
                    self.assertEqual(r.status, 200)
                    if path == "/after":
                        self.assert_encoded(r, coding, cu.text(2000, seed=24))
                    elif r.header("Content-Encoding") is not None:
                        self.assert_encoded(r, coding, b"")
                    else:
                        self.assertEqual(r.body, b"")

    def test_pipelined_requests_of_every_kind_behind_a_compressed_response(self):
        a = cu.text(300 * KIB, seed=25)
        proxy = self.start({"/a": cu.fixed(a), "/c": cu.chunked([a[:5000], a[5000:9000]])})
        sock, rfile = self.open_raw(proxy)
        reqs = [("GET", "/a", "gzip"), ("HEAD", "/a", "gzip"), ("GET", "/c", "br"),
                ("GET", "/a", None), ("GET", "/c", "gzip"), ("HEAD", "/c", "br")]
        sock.sendall(b"".join(("%s %s HTTP/1.1\r\nHost: t\r\n%s\r\n" % (
            m, p, "Accept-Encoding: %s\r\n" % ae if ae else "")).encode() for m, p, ae in reqs))
        for method, path, ae in reqs:
            with self.subTest(method=method, path=path, ae=ae):
                r = harness.read_response(rfile, method)
                want = a if path == "/a" else a[:9000]
                if method == "HEAD":
                    self.assertEqual((r.status, r.body), (200, b""))
                elif ae:
                    self.assert_encoded(r, ae, want)
                else:
                    self.assert_plain(r, want, vary=True)


class Config(CompressCase):
    def test_compress_twice_on_a_route_is_refused(self):
        # Two encoders cannot both apply: the second could only add a second Vary.
        routes = [{"path_prefix": "/", "pool": "api", "plugins": [
            {"compress": {"encodings": ["gzip"]}}, {"compress": {"encodings": ["br"]}}]}]
        r = self.check_config(self.config(pools={"api": self.pool("127.0.0.1:9")},
                                          routes=routes))
        self.assertNotEqual(r.returncode, 0)
        self.assertRegex(r.stderr, r"check-\d+\.yaml:\d+:\d+: .*plugins\[1\]\.compress: "
                         r"compress is already on this route: list it once")


class Load(CompressCase):
    def check_rss(self, grown_kib, when):
        # A sanitizer's shadow memory and quarantine say nothing about our buffering.
        if not harness.SANITIZER:
            self.assertLess(grown_kib, 48 * 1024, "proxy RSS grew by %d KiB %s"
                            % (grown_kib, when))

    def test_a_slow_reader_does_not_make_the_proxy_buffer_the_body(self):
        # Base64 of random bytes compresses to about 3/4: 100 MiB gives ~75 MiB of gzip.
        # The block repeats at 1 MiB, beyond gzip's 32 KiB window.
        block = base64.b64encode(os.urandom(768 * KIB))
        total = 100 * MIB
        sent = [0]

        def handle(sock, req):
            sock.sendall(cu.head_bytes(200, [("Content-Type", "text/plain"),
                                             ("Content-Length", str(total))]))
            for _ in range(total // len(block)):
                sock.sendall(block)
                sent[0] += len(block)
            return True

        proxy = self.start({"/big": handle}, compress={"encodings": ["gzip"]})
        base = proxy.rss_kib()
        sock, rfile = self.open_raw(proxy)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * KIB)
        cu.send_get(sock, "/big", "gzip")
        # Without reading: the backend gets stuck once the buffers along the way are full.
        harness.wait_until(lambda: sent[0] > 0, 10, what="the backend to start sending")
        wait_stalled(sent, 20)
        self.assertLess(sent[0], total // 2, "the proxy read the body with no one reading it")
        self.check_rss(proxy.rss_kib() - base, "for a stalled client")
        # Now read it all, slowly at first, checking RSS as it goes.
        status, headers = cu.read_head(rfile)
        self.assertEqual((status, headers.get("content-encoding")), (200, ["gzip"]))
        decode = cu.decoder("gzip")
        h, want, n, peak, reads = hashlib.sha256(), hashlib.sha256(), 0, 0, 0
        while True:
            chunk = cu.read_chunk(rfile)
            if not chunk:
                break
            out = decode(chunk)
            h.update(out)
            n += len(out)
            reads += 1
            if reads % 50 == 0:
                peak = max(peak, proxy.rss_kib() - base)
        for _ in range(total // len(block)):
            want.update(block)
        self.assertEqual(n, total)
        self.assertEqual(h.hexdigest(), want.hexdigest())
        self.check_rss(peak, "at its peak while streaming")

    def test_two_hundred_compressed_responses_at_once(self):
        body = cu.text(64 * KIB, seed=26)
        proxy = self.start({"/t": cu.fixed(body)}, workers=2)

        def one(i):
            try:
                s = harness.raw_connect(proxy.port, timeout=30)
                try:
                    cu.send_get(s, "/t?i=%d" % i, ("gzip", "br")[i % 2])
                    r = harness.read_response(s.makefile("rb"))
                    return cu.decode(r.header("Content-Encoding"), r.body) == body
                finally:
                    s.close()
            except Exception as e:  # reported with the others
                return repr(e)

        self.assertEqual(failures(at_once(200, one)), [])

    def reload_mid_transfer(self, new_plugin):
        """10 compressed responses held half sent across a reload that puts `new_plugin` in
        compress's place: each still ends whole, as it began. Returns the proxy."""
        first, rest = cu.text(10 * KIB, seed=27), cu.text(300 * KIB, seed=28)
        go = threading.Event()

        def held(sock, req):
            sock.sendall(cu.head_bytes(200, [("Content-Type", "text/plain"),
                                             ("Transfer-Encoding", "chunked")])
                         + b"%x\r\n%s\r\n" % (len(first), first))
            go.wait(15 * harness.SLOWDOWN)
            sock.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(rest), rest))
            return True

        proxy = self.start({"/h": held, "/t": cu.fixed(first)}, workers=2)
        conns = []
        for i in range(10):
            sock, rfile = self.open_raw(proxy)
            cu.send_get(sock, "/h", ("gzip", "br")[i % 2])
            status, headers = cu.read_head(rfile)
            self.assertEqual(status, 200)
            conns.append((rfile, headers["content-encoding"][0]))
        proxy.reload(proxy.config_text.replace("compress: {}", new_plugin))
        proxy.wait_log(r"reloaded ")
        go.set()
        for rfile, coding in conns:
            data, ended = read_chunks_until_closed(rfile)
            self.assertTrue(ended)
            self.assertTrue(cu.decode(coding, data) == first + rest)
        return proxy, first

    def test_many_clients_leaving_mid_body_among_ones_that_stay(self):
        # Encoders of cut responses go back to the worker's pool mid-stream; the ones that
        # finish after must not be disturbed by that.
        body = cu.text(MIB, seed=34)
        # No idle backend connections kept: every socket left after is one not let go of.
        proxy = self.start({"/t": cu.fixed(body)}, workers=2, pool={"keepalive": 0})
        idle = sockets(proxy)

        def one(i):
            coding = ("gzip", "br")[i % 2]
            try:
                s = harness.raw_connect(proxy.port, timeout=30)
                try:
                    cu.send_get(s, "/t", coding)
                    if i % 4 >= 2:  # leaves after (i * 3) KiB of the encoded response
                        got = 0
                        while got < i * 3 * KIB:
                            data = s.recv(65536)
                            if not data:
                                break
                            got += len(data)
                        reset(s)
                        return True
                    r = harness.read_response(s.makefile("rb"))
                    return cu.decode(coding, r.body) == body
                finally:
                    s.close()
            except Exception as e:  # reported with the others
                return repr(e)

        self.assertEqual(failures(at_once(80, one)), [])
        harness.wait_until(lambda: sockets(proxy) <= idle, 10,
                           what="the proxy to let go of the connections (%d, idle %d)"
                           % (sockets(proxy), idle))
        for coding in ("gzip", "br"):
            self.assert_encoded(self.fetch(proxy, "/t", accept=coding), coding, body)

    def test_a_reload_in_the_middle_of_compressed_responses(self):
        proxy, body = self.reload_mid_transfer("compress:\n"
                                               "              encodings:\n"
                                               "                - gzip")
        self.assert_encoded(self.fetch(proxy, "/t", accept="br, gzip"), "gzip", body)

    def test_a_stop_lets_held_compressed_responses_finish(self):
        first, rest = cu.text(10 * KIB, seed=35), cu.text(300 * KIB, seed=36)
        go = threading.Event()

        def held(sock, req):
            sock.sendall(cu.head_bytes(200, [("Content-Type", "text/plain"),
                                             ("Content-Length", str(len(first) + len(rest)))])
                         + first)
            go.wait(15 * harness.SLOWDOWN)
            sock.sendall(rest)
            return True

        proxy = self.start({"/h": held})
        conns = []
        for coding in ("gzip", "br"):
            sock, rfile = self.open_raw(proxy)
            cu.send_get(sock, "/h", coding)
            self.assertEqual(cu.read_head(rfile)[0], 200)
            conns.append((rfile, coding))
        proxy.signal(signal.SIGTERM)
        proxy.wait_log(r"draining: no new connections")
        go.set()
        for rfile, coding in conns:
            data, ended = read_chunks_until_closed(rfile)
            self.assertTrue(ended, "a draining proxy cut a compressed response")
            self.assertTrue(cu.decode(coding, data) == first + rest)
        self.assertEqual(proxy.wait(15), 0)

    def test_a_reload_that_removes_compress_mid_transfer(self):
        proxy, body = self.reload_mid_transfer("headers: {response: {set: {X-New: a}}}")
        r = self.fetch(proxy, "/t", accept="br, gzip")
        self.assertEqual(r.header("X-New"), "a")
        self.assert_plain(r, body, vary=False)

if __name__ == "__main__":
    harness.main()
