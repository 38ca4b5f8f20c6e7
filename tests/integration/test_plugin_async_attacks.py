#!/usr/bin/env python3
"""Requests that wait on a plugin's answerer (rate_limit's Redis store, basic_auth's password
checker) while their clients, the store or the process do what users do by accident: close,
reset, pipeline, send bodies, half-close; the store stops, dies, restarts; the proxy reloads,
drains, listens with TLS. Every request gets exactly one answer, in order, and nothing refused
reaches the backend; no sanitizer report.

Failing when written (see each docstring): a client that resets while its request waits is
not noticed and its request is forwarded anyway (reading is off in kPlugin); pipelined
requests behind a plugin's refusal are dropped once the client half-closed; a question asked
while the store client's 1s stall watch is pending waits for it, not store_timeout; a
stopped Redis (its kernel still accepts connections) is logged "connected again" every 5s and
every request pays the timeout anew; an error reply (Redis OOM) logs a warning per request."""

import base64
import os
import re
import signal
import socket
import subprocess
import struct
import threading
import time
import unittest
import warnings

import harness
import metrics_util
from test_plugin_redis import REDIS_CLI, REDIS_SERVER, Redis
from tls_certs import TlsTestCase

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import crypt  # libcrypt's crypt(3), the same the proxy checks with
    except ImportError:  # gone from Python 3.13
        crypt = None


def basic(user, password):
    token = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
    return "Basic " + token


def bcrypt_hash(password, cost):
    return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=2 ** cost))


def get_bytes(path="/", extra=b"", method=b"GET"):
    return (method + b" " + path.encode() + b" HTTP/1.1\r\nHost: t\r\n" + extra + b"\r\n")


def rst_close(sock):
    """Closes with a reset (SO_LINGER 0), as a client killed mid-request does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()



# store_timeout for tests that act (reset, SIGTERM, reload) while requests wait on a stopped
# Redis: longer than their settle time (0.5 s scaled: 2.5 s under TSan), or the waits end by
# timing out before the act and the test judges requests that no longer wait.
WAIT = "%dms" % min(10000, 4000 * harness.SLOWDOWN)

def status_and_connection(proxy, i):
    """GET /?t=i on a connection of its own: its status and Connection field."""
    s = proxy.raw(timeout=30)
    try:
        s.sendall(get_bytes("/?t=%d" % i))
        r = harness.read_response(s.makefile("rb"))
        return r.status, r.header("Connection")
    finally:
        s.close()

class SlowRelay:
    """A TCP relay to `port` that holds each chunk the server sends for delay(i) seconds (i
    counts chunks), in order: a store that answers slowly, some replies past the timeout."""

    def __init__(self, port, delay):
        self.listener = socket.create_server((harness.LOOPBACK, 0))
        self.port = self.listener.getsockname()[1]
        self.target = port
        self.delay = delay
        self.closed = threading.Event()
        self.socks = []
        threading.Thread(target=self.accept, daemon=True).start()

    @property
    def url(self):
        return "redis://%s:%d" % (harness.LOOPBACK, self.port)

    def accept(self):
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection((harness.LOOPBACK, self.target))
            self.socks += [client, server]
            threading.Thread(target=self.pump, args=(client, server, None), daemon=True).start()
            threading.Thread(target=self.pump, args=(server, client, self.delay),
                             daemon=True).start()

    def pump(self, src, dst, delay):
        i = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if delay:
                    time.sleep(delay(i))
                i += 1
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.closed.set()
        self.listener.close()
        for sock in self.socks:
            sock.close()


class AsyncPluginAttacks(TlsTestCase):
    def start_redis(self, port=None):
        r = Redis(self.tmp, port)
        self.addCleanup(r.stop)
        return r

    def users_file(self, users):
        """A users file of {name: hash}; its path."""
        path = os.path.join(self.tmp, "users-%d" % time.monotonic_ns())
        with open(path, "w") as f:
            for name, h in users.items():
                f.write("%s:%s\n" % (name, h))
        return path

    def start_with(self, plugins, workers=1, listener=None, backend=None):
        self.backend = backend or self.start_backend("api")
        routes = [{"path_prefix": "/", "pool": "api", "plugins": plugins}]
        self.routes = routes
        return self.start_proxy(self.config(pools={"api": self.pool(self.backend)},
                                            routes=routes, workers=workers, listener=listener))

    def reload_plugins(self, proxy, plugins, count=1):
        """Reloads `proxy` with its one route's plugins replaced; waits until it took."""
        text = proxy.config_text
        port, admin = self.proxy_port, self.admin_port
        new = self.config(pools={"api": self.pool(self.backend)}, routes=[
            {"path_prefix": "/", "pool": "api", "plugins": plugins}])
        new = new.replace(":%d" % self.proxy_port, ":%d" % port).replace(
            ":%d" % self.admin_port, ":%d" % admin)
        self.proxy_port, self.admin_port = port, admin
        self.assertNotEqual(new, text)
        proxy.reload(new)
        proxy.wait_log(r"reloaded ", count=count)

    def actions(self, proxy, plugin, action):
        samples, _ = metrics_util.scrape(proxy)
        return sum(v for (name, labels), v in samples.items()
                   if name == "outrigger_plugin_actions_total"
                   and dict(labels).get("plugin") == plugin
                   and dict(labels).get("action") == action)

    def targets(self):
        return [t for _, t, _ in self.backend.stats()["complete"] if t != "/stats"]

    def read_responses(self, rfile, n, method="GET"):
        return [harness.read_response(rfile, method) for _ in range(n)]

    def proxy_on_a_stopped_store(self):
        """A proxy whose rate_limit asks a Redis that answered once, then stopped (SIGSTOP;
        resumed at cleanup): its requests wait up to WAIT."""
        redis = self.start_redis()
        proxy = self.start_with([self.limit(redis, rate="1000/m", store_timeout=WAIT)])
        self.assertEqual(proxy.get("/?warm").status, 200)
        redis.pause()
        self.addCleanup(redis.resume)
        return redis, proxy

    def while_in_threads(self, n, fn, during, settle, join):
        """in_threads(n, fn) in the background: `during()` runs `settle` (scaled) seconds in,
        while they wait; their results once all are back (within `join`, scaled)."""
        got = [None]
        t = threading.Thread(target=lambda: got.__setitem__(0, self.in_threads(n, fn)))
        t.start()
        time.sleep(settle * harness.SLOWDOWN)
        during()
        t.join(join * harness.SLOWDOWN)
        return got[0]

    def in_threads(self, n, fn):
        """fn(i) for i in range(n), at once; their results (an exception counts as one)."""
        out = [None] * n

        def one(i):
            try:
                out[i] = fn(i)
            except Exception as e:  # noqa: BLE001 - reported as the result
                out[i] = e

        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60 * harness.SLOWDOWN)
        return out


@unittest.skipUnless(os.access(REDIS_SERVER, os.X_OK) and os.access(REDIS_CLI, os.X_OK),
                     "redis-server and redis-cli are not installed")
class RedisWaits(AsyncPluginAttacks):
    def limit(self, redis, **extra):
        lim = {"key": "client_ip", "rate": "3/m", "store": redis.url}
        lim.update(extra)
        return {"rate_limit": lim}

    def test_pipelined_requests_behind_waits_are_answered_in_order(self):
        """Five pipelined requests on one connection, each waiting on Redis in turn: three
        pass, two get 429, in order, and only the three reach the backend."""
        redis = self.start_redis()
        proxy = self.start_with([self.limit(redis)])
        sock, rfile = self.open_raw(proxy)
        sock.sendall(b"".join(get_bytes("/?i=%d" % i) for i in range(5)))
        got = self.read_responses(rfile, 5)
        self.assertEqual([r.status for r in got], [200, 200, 200, 429, 429])
        self.assertEqual(self.targets(), ["/?i=0", "/?i=1", "/?i=2"])
        # The connection is still usable after the 429s.
        sock.sendall(get_bytes("/?after"))
        self.assertEqual(harness.read_response(rfile).status, 429)

    def test_head_429_has_no_body_and_the_next_response_parses(self):
        """A HEAD refused after a wait: its 429 has a Content-Length but no body, so the
        pipelined GET after it reads as its own response."""
        redis = self.start_redis()
        proxy = self.start_with([self.limit(redis, rate="1/m")])
        self.assertEqual(proxy.get("/").status, 200)
        sock, rfile = self.open_raw(proxy)
        sock.sendall(get_bytes("/?h", method=b"HEAD") + get_bytes("/?g"))
        head = harness.read_response(rfile, "HEAD")
        self.assertEqual(head.status, 429)
        self.assertIsNotNone(head.header("Content-Length"))
        nxt = harness.read_response(rfile)
        self.assertEqual(nxt.status, 429)
        self.assertIn(b"429", nxt.body)

    def test_clients_that_close_or_reset_while_redis_is_stopped(self):
        """Clients gone while their question is out to a stopped Redis: those that reset are
        gone for sure, and their requests must not reach the backend once Redis answers
        (those that only closed may be half-closed, still reading: not judged). The proxy
        keeps serving after."""
        redis, proxy = self.proxy_on_a_stopped_store()
        socks = []
        for i in range(20):
            s = proxy.raw()
            s.sendall(get_bytes("/?%s=%d" % ("reset" if i % 2 else "closed", i)))
            socks.append(s)
        time.sleep(0.5 * harness.SLOWDOWN)  # the questions are out
        for i, s in enumerate(socks):
            if i % 2:
                rst_close(s)
            else:
                s.close()
        time.sleep(0.2 * harness.SLOWDOWN)
        redis.resume()
        for i in range(5):
            self.assertEqual(proxy.get("/?after=%d" % i).status, 200)
        time.sleep(0.5 * harness.SLOWDOWN)  # any late forwarding has happened by now
        reset = [t for t in self.targets() if t.startswith("/?reset")]
        self.assertEqual(reset, [], "requests of clients that reset reached the backend")

    def test_body_behind_a_wait_is_forwarded_whole(self):
        """A POST whose body trickles in while its head waits on a stopped Redis (past
        store_timeout: allowed): the backend gets the whole body, the client its echo."""
        redis = self.start_redis()
        proxy = self.start_with([self.limit(redis, rate="1000/m", store_timeout="500ms")])
        self.assertEqual(proxy.get("/?warm").status, 200)
        redis.pause()
        self.addCleanup(redis.resume)
        body = b"x" * 100000
        sock, rfile = self.open_raw(proxy)
        sock.sendall(get_bytes("/echo", b"Content-Length: %d\r\n" % len(body), method=b"POST"))
        for i in range(0, len(body), 20000):
            sock.sendall(body[i:i + 20000])
            time.sleep(0.1)
        r = harness.read_response(rfile)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, body)
        # Chunked, slow too.
        sock.sendall(get_bytes("/echo", b"Transfer-Encoding: chunked\r\n", method=b"POST"))
        for i in range(5):
            sock.sendall(b"4\r\nabcd\r\n")
            time.sleep(0.1)
        sock.sendall(b"0\r\n\r\n")
        r = harness.read_response(rfile)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"abcd" * 5)

    def test_aborted_body_behind_a_wait(self):
        """A POST's client gone mid-body while its head waits: nothing reaches the backend
        whole, and the proxy keeps serving."""
        redis = self.start_redis()
        proxy = self.start_with([self.limit(redis, rate="1000/m", store_timeout="1s")])
        self.assertEqual(proxy.get("/?warm").status, 200)
        redis.pause()
        self.addCleanup(redis.resume)
        for i in range(6):
            s = proxy.raw()
            s.sendall(get_bytes("/echo?i=%d" % i, b"Content-Length: 1000\r\n", method=b"POST")
                      + b"y" * 300)
            if i % 2:
                rst_close(s)
            else:
                s.close()
        time.sleep(1.5 * harness.SLOWDOWN)
        redis.resume()
        self.assertEqual(proxy.get("/?after").status, 200)
        self.assertEqual([t for t in self.targets() if t.startswith("/echo")], [])

    def test_pipelined_refusals_then_half_close(self):
        """Three requests pipelined, then the client's half-close, as `nc -N` or a batch
        client sends them: each gets its 429, in order, as the same requests do under a
        local (storeless) limit."""
        redis = self.start_redis()
        for plugins in ([{"rate_limit": {"key": "client_ip", "rate": "1/m"}}],
                        [self.limit(redis, rate="1/m")]):
            proxy = self.start_with(plugins)
            self.assertEqual(proxy.get("/?spend").status, 200)
            sock, rfile = self.open_raw(proxy)
            sock.sendall(b"".join(get_bytes("/?p=%d" % i) for i in range(3)))
            sock.shutdown(socket.SHUT_WR)
            got = []
            try:
                for _ in range(3):
                    got.append(harness.read_response(rfile).status)
            except ConnectionError:
                pass
            self.assertEqual(got, [429, 429, 429], plugins)

    def test_half_closed_client_gets_its_answer(self):
        """A client that sends its request and half-closes while it waits on Redis still
        reads its response."""
        redis = self.start_redis()
        proxy = self.start_with([self.limit(redis, store_timeout=WAIT)])
        self.assertEqual(proxy.get("/?warm").status, 200)
        redis.pause()
        sock, rfile = self.open_raw(proxy)
        sock.sendall(get_bytes("/?half"))
        sock.shutdown(socket.SHUT_WR)
        time.sleep(0.3 * harness.SLOWDOWN)
        redis.resume()
        r = harness.read_response(rfile)
        self.assertEqual(r.status, 200)
        self.assertEqual(self.targets(), ["/?warm", "/?half"])

    def test_a_killed_store_answers_the_waiting_requests_at_once(self):
        """Redis SIGKILLed while requests wait on it (stopped): the reset answers them
        (on_store_error: allow) without waiting out store_timeout or the stall check."""
        redis = self.start_redis()
        proxy = self.start_with([self.limit(redis, rate="1000/m", store_timeout="10s")])
        self.assertEqual(proxy.get("/?warm").status, 200)
        redis.pause()
        started = time.monotonic()

        def one(i):
            r = proxy.get("/?w=%d" % i)
            return r.status, time.monotonic() - started

        def during():
            redis.kill()

        got = self.while_in_threads(10, one, during, settle=0.5, join=30)
        for r in got:
            self.assertNotIsInstance(r, Exception)
            self.assertEqual(r[0], 200)
            self.assertLess(r[1], 4.5, "answered only after the stall check (5s)")

    def test_store_restarted_under_load(self):
        """Redis killed and started again on its port while 6 keep-alive clients send
        requests: every request gets one answer, and the limit applies again after."""
        redis = self.start_redis()
        port = redis.port
        proxy = self.start_with([self.limit(redis, rate="100000/m", store_timeout="300ms")],
                                workers=2)
        stop = threading.Event()

        def client(i):
            conn = proxy.connection()
            statuses = []
            try:
                while not stop.is_set():
                    statuses.append(harness.request(proxy.port, path="/?c=%d" % i,
                                                    conn=conn).status)
            finally:
                conn.close()
            return statuses

        runner = [None]
        t = threading.Thread(target=lambda: runner.__setitem__(0, self.in_threads(6, client)))
        t.start()
        time.sleep(1.0 * harness.SLOWDOWN)
        redis.kill()
        time.sleep(1.0 * harness.SLOWDOWN)
        self.start_redis(port)
        proxy.wait_log(r"rate_limit store redis://127\.0\.0\.1:%d: connected again" % port,
                       timeout=15, count=2)
        time.sleep(0.5 * harness.SLOWDOWN)
        stop.set()
        t.join(60 * harness.SLOWDOWN)
        for r in runner[0]:
            self.assertNotIsInstance(r, Exception)
            self.assertTrue(r, "a client made no request")
            self.assertEqual(set(r), {200})
        self.assertEqual(proxy.get("/?last").status, 200)

    def test_reload_while_waiting_drops_or_adds_the_store(self):
        """SIGHUP while requests wait on a stopped Redis: first to a config without the store
        (a local limit), then back. The waiting requests are answered once; new ones follow
        the new config."""
        redis, proxy = self.proxy_on_a_stopped_store()

        def during():
            local = [{"rate_limit": {"key": "client_ip", "rate": "2/m"}}]
            self.reload_plugins(proxy, local)

        got = self.while_in_threads(5, lambda i: proxy.get("/?w=%d" % i).status, during,
                                    settle=0.5, join=30)
        self.assertEqual(got, [200] * 5)
        statuses = [proxy.get("/?local=%d" % i).status for i in range(3)]
        self.assertEqual(statuses, [200, 200, 429])
        # And back to the store, awake again: it decides (its burst of 3 under a new zone).
        redis.resume()
        self.reload_plugins(proxy, [self.limit(redis, zone="again")], count=2)
        statuses = [proxy.get("/?store=%d" % i).status for i in range(4)]
        self.assertEqual(statuses, [200, 200, 200, 429])

    def test_sigterm_while_requests_wait(self):
        """SIGTERM while requests wait on a stopped Redis: each still gets its answer (with
        Connection: close) and the process exits cleanly."""
        _, proxy = self.proxy_on_a_stopped_store()

        def during():
            proxy.signal(signal.SIGTERM)

        got = self.while_in_threads(5, lambda i: status_and_connection(proxy, i), during,
                                    settle=0.5, join=30)
        self.assertEqual(got, [(200, "close")] * 5)
        self.assertEqual(proxy.wait(20), 0)

    def test_drain_timeout_shorter_than_the_wait(self):
        """SIGTERM with drain.timeout shorter than the requests' wait on a stopped Redis: the
        process exits at the timeout, tearing down the waiting connections and the store
        connection with questions out, cleanly."""
        redis = self.start_redis()
        self.backend = self.start_backend("api")
        proxy = self.start_proxy(self.config(
            pools={"api": self.pool(self.backend)}, workers=2, drain={"timeout": "1s"},
            routes=[{"path_prefix": "/", "pool": "api", "plugins": [
                self.limit(redis, rate="1000/m", store_timeout="10s")]}]))
        self.assertEqual(proxy.get("/?warm").status, 200)
        redis.pause()
        self.addCleanup(redis.resume)
        socks = []
        self.addCleanup(lambda: [s.close() for s in socks])
        for i in range(20):
            s = proxy.raw()
            s.sendall(get_bytes("/?t=%d" % i))
            socks.append(s)
        time.sleep(0.5 * harness.SLOWDOWN)
        proxy.signal(signal.SIGTERM)
        self.assertEqual(proxy.wait(20), 0)

    def test_listener_removed_by_a_reload_while_requests_wait(self):
        """A reload that moves the listener to another port while requests wait on Redis: the
        waiting requests are still answered once, with Connection: close."""
        _, proxy = self.proxy_on_a_stopped_store()

        moved = harness.free_port()

        def during():
            proxy.reload(proxy.config_text.replace(":%d" % proxy.port, ":%d" % moved))
            proxy.wait_log(r"reloaded ")

        got = self.while_in_threads(4, lambda i: status_and_connection(proxy, i), during,
                                    settle=0.5, join=30)
        self.assertEqual(got, [(200, "close")] * 4)
        self.assertEqual(harness.request(moved, path="/?moved").status, 200)

    def test_more_questions_than_the_ring_holds(self):
        """4,300 requests at once on one worker, Redis stopped: past 4,096 questions out the
        rest fail over at once (on_store_error: allow); every request gets one answer."""
        redis = self.start_redis()
        # Answered by `respond`: the backend's own caps (1,024 connections) are not the test.
        proxy = self.start_with([self.limit(redis, rate="100000/m", store_timeout="10s"),
                                 {"respond": {"status": 200, "body": "ok"}}],
                                listener={"max_connections": 6000})
        self.assertEqual(proxy.get("/?warm").status, 200)
        redis.pause()
        self.addCleanup(redis.resume)
        socks = []
        self.addCleanup(lambda: [s.close() for s in socks])
        for i in range(4300):
            s = proxy.raw(timeout=60)
            s.sendall(get_bytes("/?r=%d" % i))
            socks.append(s)
        # The ring is full: the 204 past it failed over without waiting.
        harness.wait_until(lambda: self.actions(proxy, "rate_limit", "store_error") >= 204, 30,
                           what="the requests past the ring to fail over")
        redis.resume()
        for i, s in enumerate(socks):
            r = harness.read_response(s.makefile("rb"))
            self.assertEqual(r.status, 200, "request %d" % i)
        self.assertEqual(proxy.get("/?last").status, 200)

    def test_late_replies_are_never_taken_for_later_questions(self):
        """A store whose replies come now in time, now past store_timeout: a request with a
        fresh key is never refused (a late 429 meant for a spent key must not land on it),
        and every request gets one answer."""
        redis = self.start_redis()
        relay = SlowRelay(redis.port, lambda i: 0.25 if i % 3 == 0 else 0.0)
        self.addCleanup(relay.close)
        proxy = self.start_with([{"rate_limit": {
            "key": "header:X-Key", "rate": "1/m", "store": relay.url,
            "store_timeout": "150ms"}}], workers=2)
        self.assertEqual(proxy.get("/", headers={"X-Key": "spent"}).status, 200)

        def client(c):
            out = []
            conn = proxy.connection()
            try:
                for i in range(15):
                    key = "spent" if i % 2 else "fresh-%d-%d" % (c, i)
                    r = harness.request(proxy.port, path="/?k=%s" % key, conn=conn,
                                        headers={"X-Key": key})
                    out.append((key, r.status))
            finally:
                conn.close()
            return out

        for got in self.in_threads(6, client):
            self.assertNotIsInstance(got, Exception)
            for key, status in got:
                if key.startswith("fresh"):
                    self.assertEqual(status, 200, key)
                else:
                    self.assertIn(status, (200, 429), key)

    def test_a_store_stalled_past_the_stall_check_under_load(self):
        """Redis stopped for longer than the 5s stall check while clients keep asking: the
        connection is dropped and made again, every request is answered within about
        store_timeout, and the limit applies again once Redis is back."""
        redis = self.start_redis()
        proxy = self.start_with([self.limit(redis, rate="2/m", store_timeout="100ms")],
                                workers=2)
        redis.pause()
        self.addCleanup(redis.resume)
        stop = threading.Event()

        def client(c):
            worst = 0.0
            n = 0
            conn = proxy.connection()
            try:
                while not stop.is_set():
                    start = time.monotonic()
                    status = harness.request(proxy.port, path="/?c=%d" % c, conn=conn).status
                    worst = max(worst, time.monotonic() - start)
                    assert status == 200, status
                    n += 1
            finally:
                conn.close()
            return n, worst

        runner = [None]
        t = threading.Thread(target=lambda: runner.__setitem__(0, self.in_threads(4, client)))
        t.start()
        time.sleep(7)  # past kStallNs (5s) whatever the slowdown: the drop happens
        stop.set()
        t.join(60 * harness.SLOWDOWN)
        proxy.wait_log(r"no reply for 5s")
        redis.resume()
        for r in runner[0]:
            self.assertNotIsInstance(r, Exception)
            self.assertGreater(r[0], 0)
            self.assertLess(r[1], 2.0 * harness.SLOWDOWN)
        harness.wait_until(lambda: proxy.get("/").status == 429, 20,
                           what="the limit to apply again after SIGCONT")

    def test_each_question_to_a_stopped_store_waits_only_store_timeout(self):
        """Sequential requests on one connection while Redis is stopped: each waits about
        store_timeout (100ms). A question asked while only timed-out ones are out must get a
        timer of its own, not wait for the client's 1s stall watch."""
        redis = self.start_redis()
        proxy = self.start_with([self.limit(redis, rate="1000/m", store_timeout="100ms")])
        self.assertEqual(proxy.get("/?warm").status, 200)
        redis.pause()
        self.addCleanup(redis.resume)
        conn = proxy.connection()
        self.addCleanup(conn.close)
        took = []
        for i in range(5):  # about 0.5s in all: before the 5s stall check drops the connection
            start = time.monotonic()
            self.assertEqual(harness.request(proxy.port, path="/?s=%d" % i, conn=conn).status,
                             200)
            took.append(round(time.monotonic() - start, 3))
        self.assertLess(max(took), 0.1 + 0.25 * harness.SLOWDOWN, took)

    def test_a_stopped_store_is_not_taken_for_recovered(self):
        """README: a silent (SIGSTOP) store costs a request at most store_timeout, then none
        while it is down, and the outage and the recovery are logged once each. A stopped
        redis still completes TCP handshakes (the kernel's backlog): that must not count as
        "connected again", after which every request pays the timeout anew."""
        redis = self.start_redis()
        proxy = self.start_with([self.limit(redis, rate="1000/m", store_timeout="300ms")])
        self.assertEqual(proxy.get("/?warm").status, 200)
        redis.pause()
        self.addCleanup(redis.resume)
        conn = proxy.connection()
        self.addCleanup(conn.close)
        start = time.monotonic()
        slow_late = []
        while time.monotonic() - start < 13:
            t = time.monotonic()
            self.assertEqual(harness.request(proxy.port, path="/?s", conn=conn).status, 200)
            took = time.monotonic() - t
            # Past the first stall drop (5s) and its reconnect: decisions fail at once.
            if t - start > 7 and took > min(0.25, 0.05 * harness.SLOWDOWN):
                slow_late.append((round(t - start, 1), round(took, 3)))
            time.sleep(0.05)
        log = proxy.stderr(tail=100000)
        self.assertEqual(re.findall(r".*connected again.*", log), [], "a false recovery")
        self.assertLessEqual(len(re.findall(r"warning .*rate_limit store", log)), 1)
        self.assertEqual(slow_late, [], "requests that paid store_timeout while it was down")

    def test_a_store_that_refuses_every_script_logs_once(self):
        """Redis out of memory (maxmemory reached, noeviction) answers every decision with an
        error: requests go on as on_store_error says, and the outage is logged once, not once
        per request (redis_client.h: "logs the outage once and the recovery once")."""
        redis = self.start_redis()
        proxy = self.start_with([self.limit(redis, rate="1000/m")])
        self.assertEqual(proxy.get("/?warm").status, 200)
        subprocess.run([REDIS_CLI, "-h", harness.LOOPBACK, "-p", str(redis.port), "config", "set",
                        "maxmemory", "1"], check=True, capture_output=True,
                       timeout=10 * harness.SLOWDOWN)
        self.assertEqual([proxy.get("/?oom=%d" % i).status for i in range(30)], [200] * 30)
        harness.wait_until(lambda: self.actions(proxy, "rate_limit", "store_error") == 30, 5,
                           what="30 store_error actions")
        warnings_ = re.findall(r"warning .*rate_limit store", proxy.stderr(tail=100000))
        self.assertLessEqual(len(warnings_), 2, "a warning per failed decision")

    def test_two_waits_in_one_chain_pipelined(self):
        """basic_auth (a check) then rate_limit on Redis: each pipelined request waits twice;
        answers come in order, the refused ones never reach the backend."""
        redis = self.start_redis()
        users = self.users_file({"alice": bcrypt_hash("right", 10)})
        proxy = self.start_with([{"basic_auth": {"users_file": users}}, self.limit(redis)])
        sock, rfile = self.open_raw(proxy)
        good = ("Authorization: %s\r\n" % basic("alice", "right")).encode()
        bad = ("Authorization: %s\r\n" % basic("alice", "wrong")).encode()
        reqs = [good, bad, good, good, bad, good]
        sock.sendall(b"".join(get_bytes("/?i=%d" % i, a) for i, a in enumerate(reqs)))
        got = [r.status for r in self.read_responses(rfile, len(reqs))]
        self.assertEqual(got, [200, 401, 200, 200, 401, 429])
        self.assertEqual(self.targets(), ["/?i=0", "/?i=2", "/?i=3"])

    def test_tls_waits_pipelined_and_abandoned(self):
        """Over a TLS listener: pipelined requests behind Redis waits are answered in order,
        and TLS clients that leave mid-wait do not disturb the proxy."""
        redis = self.start_redis()
        cert = self.make_cert(["a.test"])
        proxy = self.start_with([self.limit(redis, rate="3/m", store_timeout="2s")],
                                listener={"tls": {"certificates": [
                                    {"cert": cert[0], "key": cert[1]}]}})
        s = self.handshake(proxy, "a.test")
        self.addCleanup(s.close)
        s.sendall(b"".join(get_bytes("/?i=%d" % i) for i in range(5)))
        rfile = s.makefile("rb")
        self.assertEqual([r.status for r in self.read_responses(rfile, 5)],
                         [200, 200, 200, 429, 429])
        redis.pause()
        for i in range(10):
            c = self.handshake(proxy, "a.test")
            c.sendall(get_bytes("/?gone=%d" % i))
            if i % 2:
                rst_close(c)
            else:
                c.close()
        redis.resume()
        s.sendall(get_bytes("/?after"))
        self.assertEqual(harness.read_response(rfile).status, 429)


@unittest.skipUnless(crypt is not None, "Python's crypt module (bcrypt hashes) is missing")
class PasswordWaits(AsyncPluginAttacks):
    def auth(self, users, **extra):
        c = {"users_file": self.users_file(users)}
        c.update(extra)
        return {"basic_auth": c}

    def test_pipelined_requests_behind_checks_are_answered_in_order(self):
        """Pipelined: right password (checked), wrong one, none, right again (remembered):
        200, 401, 401, 200 in order, and only the two 200s reach the backend, without the
        client's Authorization."""
        proxy = self.start_with([self.auth({"alice": bcrypt_hash("right", 10)})])
        sock, rfile = self.open_raw(proxy)
        good = ("Authorization: %s\r\n" % basic("alice", "right")).encode()
        bad = ("Authorization: %s\r\n" % basic("alice", "wrong")).encode()
        sock.sendall(get_bytes("/headers?i=0", good) + get_bytes("/headers?i=1", bad)
                     + get_bytes("/headers?i=2") + get_bytes("/headers?i=3", good))
        got = self.read_responses(rfile, 4)
        self.assertEqual([r.status for r in got], [200, 401, 401, 200])
        for r in (got[0], got[3]):
            names = [n.lower() for n, _ in r.json()["headers"]]
            self.assertNotIn("authorization", names)
        self.assertEqual(self.targets(), ["/headers?i=0", "/headers?i=3"])

    def test_pipelined_refusals_then_half_close(self):
        """Three requests with a wrong password pipelined, then the client's half-close: each
        gets its 401, in order."""
        proxy = self.start_with([self.auth({"alice": bcrypt_hash("right", 10)})])
        sock, rfile = self.open_raw(proxy)
        bad = ("Authorization: %s\r\n" % basic("alice", "wrong")).encode()
        sock.sendall(b"".join(get_bytes("/?p=%d" % i, bad) for i in range(3)))
        sock.shutdown(socket.SHUT_WR)
        got = []
        try:
            for _ in range(3):
                got.append(harness.read_response(rfile).status)
        except ConnectionError:
            pass
        self.assertEqual(got, [401, 401, 401])

    def test_large_body_refused_after_a_check(self):
        """A 1 MiB POST with a wrong password, sent whole while its head waits for the check:
        the client still reads its 401 (the body is discarded, not answered with a reset)."""
        proxy = self.start_with([self.auth({"alice": bcrypt_hash("right", 12)})])
        sock, rfile = self.open_raw(proxy)
        body = b"b" * (1 << 20)
        auth = ("Authorization: %s\r\n" % basic("alice", "wrong")).encode()
        head = get_bytes("/echo", auth + b"Content-Length: %d\r\n" % len(body), method=b"POST")
        sender = threading.Thread(target=lambda: sock.sendall(head + body), daemon=True)
        sender.start()
        r = harness.read_response(rfile)
        self.assertEqual(r.status, 401)
        sender.join(30 * harness.SLOWDOWN)
        self.assertEqual(self.targets(), [])

    def test_head_refused_after_a_check(self):
        """HEAD with a wrong password: 401 without a body; the pipelined GET after it parses."""
        proxy = self.start_with([self.auth({"alice": bcrypt_hash("right", 10)})])
        sock, rfile = self.open_raw(proxy)
        bad = ("Authorization: %s\r\n" % basic("alice", "wrong")).encode()
        sock.sendall(get_bytes("/?h", bad, method=b"HEAD") + get_bytes("/?g", bad))
        head = harness.read_response(rfile, "HEAD")
        self.assertEqual(head.status, 401)
        nxt = harness.read_response(rfile)
        self.assertEqual(nxt.status, 401)
        self.assertIn(b"401", nxt.body)

    def test_clients_that_leave_during_checks(self):
        """Clients that reset while their (right) password is checked: their requests must
        not reach the backend once the check passes; clients that close or send wrong
        passwords do not disturb the proxy, and a later client is answered. A user each, so
        that no check is answered from the cache of matches (at once, before the reset)."""
        users = {"u%d" % i: bcrypt_hash("right", 11) for i in range(8)}
        proxy = self.start_with([self.auth(users)])
        for i in range(8):
            s = proxy.raw()
            pw = "right" if i < 4 else "wrong"
            s.sendall(get_bytes("/?%s=%d" % ("reset" if i % 2 else "closed", i),
                                ("Authorization: %s\r\n" % basic("u%d" % i, pw)).encode()))
            time.sleep(0.05)  # read by the proxy, the check queued behind the others
            if i % 2:
                rst_close(s)
            else:
                s.close()
        r = proxy.get("/?after", headers={"Authorization": basic("u7", "right")}, timeout=30)
        self.assertEqual(r.status, 200)
        time.sleep(0.5 * harness.SLOWDOWN)
        reset = [t for t in self.targets() if t.startswith("/?reset")]
        self.assertEqual(reset, [], "requests of clients that reset reached the backend")

    def test_too_many_checks_at_once_get_503(self):
        """More than 64 checks queued on a worker: the rest get 503 with Retry-After at once;
        every request gets one answer."""
        proxy = self.start_with([self.auth({"alice": bcrypt_hash("right", 12)})])

        def one(i):
            return proxy.get("/?i=%d" % i, timeout=120,
                             headers={"Authorization": basic("alice", "w%d" % i)}).status

        got = self.in_threads(80, one)
        for r in got:
            self.assertNotIsInstance(r, Exception)
        self.assertEqual(set(got), {401, 503})
        self.assertGreaterEqual(got.count(503), 1)

    def test_100_continue_behind_basic_auth(self):
        """Expect: 100-continue with a right password: the 100 comes once the check passed and
        the body goes through; with a wrong one: 401 at once, and the connection closes
        without the body being forwarded."""
        proxy = self.start_with([self.auth({"alice": bcrypt_hash("right", 10)})])
        body = b"z" * 5000
        for pw, want in (("right", 200), ("wrong", 401)):
            sock, rfile = self.open_raw(proxy)
            auth = ("Authorization: %s\r\n" % basic("alice", pw)).encode()
            sock.sendall(get_bytes("/echo", auth + b"Expect: 100-continue\r\n"
                                   b"Content-Length: %d\r\n" % len(body), method=b"POST"))
            first = harness.read_response(rfile)
            if want == 200:
                self.assertEqual(first.status, 100)
                sock.sendall(body)
                r = harness.read_response(rfile)
                self.assertEqual(r.status, 200)
                self.assertEqual(r.body, body)
            else:
                self.assertEqual(first.status, 401)
                self.assertEqual(harness.read_until_closed(sock), b"")
        self.assertEqual(self.targets(), ["/echo"])

    def test_users_file_changed_and_reloaded_while_checks_wait(self):
        """A reload that changes the users file while checks wait: the waiting requests are
        answered once; later ones are checked against the new file."""
        proxy = self.start_with([self.auth({"alice": bcrypt_hash("old", 13)})])

        def one(i):
            return proxy.get("/?i=%d" % i, timeout=60,
                             headers={"Authorization": basic("alice", "old")}).status

        def during():
            self.reload_plugins(proxy, [self.auth({"alice": bcrypt_hash("new", 10)})])

        got = self.while_in_threads(4, one, during, settle=0.3, join=60)
        self.assertEqual(got, [200] * 4)
        harness.wait_until(lambda: proxy.get(
            "/", headers={"Authorization": basic("alice", "new")}).status == 200, 20,
            what="the new users file to apply")
        self.assertEqual(proxy.get("/", headers={"Authorization": basic("alice", "old")}).status,
                         401)

    def test_sigterm_while_checks_wait(self):
        """SIGTERM with checks queued: each waiting request is still answered, and the
        process exits cleanly."""
        proxy = self.start_with([self.auth({"alice": bcrypt_hash("right", 12)})])

        def one(i):
            s = proxy.raw(timeout=60)
            try:
                s.sendall(get_bytes("/?t=%d" % i, (
                    "Authorization: %s\r\n" % basic("alice", "right" if i == 0 else "w%d" % i)
                ).encode()))
                return harness.read_response(s.makefile("rb")).status
            finally:
                s.close()

        def during():
            proxy.signal(signal.SIGTERM)

        got = self.while_in_threads(6, one, during, settle=0.5, join=60)
        self.assertEqual(sorted(got), [200] + [401] * 5)
        self.assertEqual(proxy.wait(30), 0)


if __name__ == "__main__":
    unittest.main()
