"""What the tests of requests waiting on a plugin's answerer share (test_redis_wait_clients,
test_redis_wait_store, test_password_waits): a case that starts Redis, users files and the
proxy with one route's plugins, and helpers to act while requests wait. The tests check that
every request gets exactly one answer, in order, that nothing refused reaches the backend, and
that no sanitizer reports."""

import base64
import os
import socket
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
class RedisWaitCase(AsyncPluginAttacks):
    def limit(self, redis, **extra):
        lim = {"key": "client_ip", "rate": "3/m", "store": redis.url}
        lim.update(extra)
        return {"rate_limit": lim}


@unittest.skipUnless(crypt is not None, "Python's crypt module (bcrypt hashes) is missing")
class PasswordWaitCase(AsyncPluginAttacks):
    def auth(self, users, **extra):
        c = {"users_file": self.users_file(users)}
        c.update(extra)
        return {"basic_auth": c}
