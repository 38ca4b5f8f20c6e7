"""Helpers for Outrigger's integration tests: the real binary against real backends.

Everything runs on 127.0.0.1. Every process a test starts is stopped by PID in a cleanup,
every wait has a deadline and every loop a bound. A typical test:

    class RoundRobin(harness.ProxyTestCase):
        def test_alternates_between_two_backends(self):
            a, b = self.start_backend("a"), self.start_backend("b")
            proxy = self.start_proxy(self.config(pools={"api": self.pool(a, b)}))
            names = [proxy.get("/").header("X-Backend") for _ in range(4)]

The proxy's stderr and stdout go to temp files that are printed when the test fails.
"""

import http.client
import json
import os
import random
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("OUTRIGGER_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
BACKEND_PY = os.path.join(HERE, "backend.py")
WS_BACKEND_PY = os.path.join(HERE, "ws_backend.py")
LOOPBACK = "127.0.0.1"

# Sanitizer builds start and run slower; every deadline below is multiplied by this.
# tests/CMakeLists.txt sets both in a sanitizer build.
SLOWDOWN = float(os.environ.get("OUTRIGGER_TEST_SLOWDOWN", "1"))
SANITIZER = os.environ.get("OUTRIGGER_SANITIZER", "")  # "", "asan" or "tsan"
# Tolerances of checks whose accuracy rests on timing (rates, Little's law, how soon a signal
# moves) are multiplied by this. A sanitizer build, 3-5x slower on shared cores, checks the
# memory and thread safety of the same paths; the plain build (CI's main run) holds the
# strict figure.
TOLERANCE = SLOWDOWN
SANITIZER_REPORT = re.compile(r"^(==\d+==ERROR: \w+Sanitizer|WARNING: ThreadSanitizer|"
                              r"SUMMARY: \w+Sanitizer|.*: runtime error: )", re.M)


def outrigger_bin():
    """OUTRIGGER_BIN (set by ctest), else build/outrigger; skips the test if neither exists."""
    path = os.environ.get("OUTRIGGER_BIN")
    if path:
        if not os.access(path, os.X_OK):
            raise AssertionError("OUTRIGGER_BIN=%s is not an executable file" % path)
        return path
    path = os.path.join(SOURCE_DIR, "build", "outrigger")
    if not os.access(path, os.X_OK):
        raise unittest.SkipTest("set OUTRIGGER_BIN to the outrigger binary (or build build/outrigger)")
    return path


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_EPHEMERAL_LOW = _ephemeral_low()


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago, for a listener the test starts.

    Picked below the ephemeral range: the kernel's pick for port 0 comes from that range,
    where any outgoing connection of the tests running at once may take it as its source port
    before our listener binds it (bind: Address already in use)."""
    rng = random.Random()
    for _ in range(100 if _EPHEMERAL_LOW > 11000 else 0):
        port = rng.randrange(10000, _EPHEMERAL_LOW)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((LOOPBACK, port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def deadline(seconds):
    return time.monotonic() + seconds * SLOWDOWN


def wait_until(predicate, timeout, interval=0.05, what="condition"):
    """Polls predicate() until it is truthy; returns its value or raises AssertionError."""
    end = deadline(timeout)
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= end:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout * SLOWDOWN, what))
        time.sleep(interval)


def stop_process(proc, sig=signal.SIGTERM, timeout=5.0):
    """Stops one process we started: sig, a bounded wait, then SIGKILL. Returns its status."""
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=timeout * SLOWDOWN)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    return proc.returncode


# --- HTTP on the wire --------------------------------------------------------------------------

class Response:
    """A parsed HTTP/1.1 response: status, headers (ordered, duplicates kept), body bytes."""

    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers  # [(name, value)]
        self.body = body

    def header(self, name, default=None):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return default

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self):
        return json.loads(self.body)

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return "<Response %d %r %d body bytes>" % (self.status, self.headers, len(self.body))


def read_response(rfile, method="GET"):
    """Reads one response from a buffered socket file (raw_connect().makefile("rb")).

    Frames the body as RFC 9112 §6.3 says: none for HEAD, 1xx, 204 and 304; chunked; a
    Content-Length; else until the connection closes. Raises ConnectionError on EOF before
    a status line.
    """
    line = rfile.readline(65536)
    if not line:
        raise ConnectionError("connection closed before a status line")
    m = re.match(rb"HTTP/(\d\.\d) (\d{3})(?: (.*))?\r?\n$", line)
    if not m:
        raise AssertionError("bad status line %r" % line)
    status = int(m.group(2))
    reason = (m.group(3) or b"").decode("latin-1")
    headers = []
    for _ in range(1000):
        line = rfile.readline(65536)
        if line in (b"\r\n", b"\n"):
            break
        if not line:
            raise ConnectionError("connection closed inside a response head")
        name, _, value = line.decode("latin-1").partition(":")
        headers.append((name, value.strip()))
    else:
        raise AssertionError("response head with more than 1000 fields")
    resp = Response(status, reason, headers, b"")
    if method == "HEAD" or 100 <= status < 200 or status in (204, 304):
        return resp
    te = resp.header("Transfer-Encoding")
    if te is not None and te.lower().split(",")[-1].strip() == "chunked":
        parts = []
        while True:
            size_line = rfile.readline(1024)
            if not size_line:
                raise ConnectionError("connection closed inside a chunked body")
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                break
            parts.append(rfile.read(size))
            if rfile.read(2) != b"\r\n":
                raise AssertionError("chunk not followed by CRLF")
        for _ in range(1000):
            if rfile.readline(65536) in (b"\r\n", b"\n", b""):
                break
        resp.body = b"".join(parts)
    elif resp.header("Content-Length") is not None:
        n = int(resp.header("Content-Length"))
        resp.body = rfile.read(n)
        if len(resp.body) != n:
            raise ConnectionError("connection closed after %d of %d body bytes" % (len(resp.body), n))
    else:
        resp.body = rfile.read()
    return resp


def raw_connect(port, timeout=10.0):
    s = socket.create_connection((LOOPBACK, port), timeout=timeout * SLOWDOWN)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def request(port, method="GET", path="/", headers=None, body=None, timeout=10.0, conn=None,
            host=LOOPBACK):
    """One request with http.client (keep-alive if conn is given); returns a Response."""
    own = conn is None
    if own:
        conn = http.client.HTTPConnection(host, port, timeout=timeout * SLOWDOWN)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        body = r.read()
        return Response(r.status, r.reason, r.getheaders(), body)
    finally:
        if own:
            conn.close()


def read_until_closed(sock, timeout=5.0, limit=1 << 20):
    """Everything the peer sends until it closes (bounded by time and size)."""
    end = deadline(timeout)
    data = b""
    while len(data) < limit:
        left = end - time.monotonic()
        if left <= 0:
            raise AssertionError("peer did not close the connection within %.1fs; got %r"
                                 % (timeout * SLOWDOWN, data[:300]))
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


# --- processes ---------------------------------------------------------------------------------

class Backend:
    """A tests/integration/backend.py (or ws_backend.py) process on 127.0.0.1."""

    def __init__(self, name, port=0, delay=None, idle_timeout=None, log_dir=None, script=BACKEND_PY,
                 extra_args=(), host=LOOPBACK):
        self.name = name
        self.port = port
        self.host = host
        args = [sys.executable, script, "--port", str(port), "--name", name]
        if host != LOOPBACK:
            args += ["--host", host]
        if delay:
            args += ["--delay", str(delay)]
        if idle_timeout:
            args += ["--idle-timeout", str(idle_timeout)]
        args += list(extra_args)
        fd, self.log_path = tempfile.mkstemp(prefix="backend-%s-" % name, suffix=".log", dir=log_dir)
        self.log = os.fdopen(fd, "wb")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self.log, close_fds=True)
        try:
            line = self._read_ready_line(10.0)
        except BaseException:
            self.stop()
            raise
        self.port = int(line.rsplit(":", 1)[1])

    def _read_ready_line(self, timeout):
        end = deadline(timeout)
        buf = b""
        while b"\n" not in buf:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError("backend %s did not print 'ready' within %.1fs" % (self.name, timeout))
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    raise AssertionError("backend %s exited before 'ready': %s"
                                         % (self.name, open(self.log_path, "rb").read()[-2000:]))
                buf += chunk
        line = buf.split(b"\n", 1)[0].decode()
        if not line.startswith("ready "):
            raise AssertionError("backend %s printed %r, want 'ready HOST:PORT'" % (self.name, line))
        return line

    @property
    def address(self):
        return "%s:%d" % (self.host, self.port)

    def get(self, path, **kw):
        """A request straight to the backend, not through the proxy."""
        return request(self.port, path=path, host=self.host, **kw)

    def stats(self):
        return self.get("/stats").json()

    def stop(self):
        if self.proc.stdout:
            self.proc.stdout.close()
        status = stop_process(self.proc)
        self.log.close()
        return status

    def running(self):
        return self.proc.poll() is None


class Proxy:
    """The outrigger binary running on a config file; stderr goes to a temp file."""

    def __init__(self, config_text, admin_port, port, log_dir, ready_timeout=15.0, env=None):
        self.admin_port = admin_port
        self.port = port
        fd, self.config_path = tempfile.mkstemp(prefix="outrigger-", suffix=".yaml", dir=log_dir)
        with os.fdopen(fd, "w") as f:
            f.write(config_text)
        self.config_text = config_text
        self.log_path = self.config_path[:-len(".yaml")] + ".stderr"
        self.log = open(self.log_path, "wb")
        self.out_path = self.config_path[:-len(".yaml")] + ".stdout"
        self.out = open(self.out_path, "wb")
        self.proc = subprocess.Popen([outrigger_bin(), "-c", self.config_path],
                                     stdin=subprocess.DEVNULL, stdout=self.out, stderr=self.log,
                                     close_fds=True, env=env)
        if admin_port is not None:
            try:
                self.wait_ready(ready_timeout)
            except BaseException:
                self.stop()
                raise

    @property
    def pid(self):
        return self.proc.pid

    def wait_ready(self, timeout):
        end = deadline(timeout)
        last = None
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError("outrigger exited with status %s during startup:\n%s"
                                     % (self.proc.returncode, self.stderr()))
            try:
                last = self.admin("/health/ready", timeout=1.0).status
                if last == 200:
                    return
            except OSError as e:
                last = e
            time.sleep(0.05)
        raise AssertionError("outrigger's /health/ready was not 200 within %.1fs (last: %r):\n%s"
                             % (timeout * SLOWDOWN, last, self.stderr()))

    def admin(self, path, timeout=5.0):
        return request(self.admin_port, path=path, timeout=timeout)

    def get(self, path="/", **kw):
        return request(self.port, path=path, **kw)

    def request(self, method, path, **kw):
        return request(self.port, method=method, path=path, **kw)

    def connection(self, timeout=10.0):
        """A keep-alive http.client connection to the traffic listener."""
        return http.client.HTTPConnection(LOOPBACK, self.port, timeout=timeout * SLOWDOWN)

    def raw(self, timeout=10.0):
        return raw_connect(self.port, timeout)

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS in /proc/%d/status" % self.proc.pid)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def reload(self, config_text):
        """Rewrites the config file (atomically) and sends SIGHUP."""
        tmp = self.config_path + ".new"
        with open(tmp, "w") as f:
            f.write(config_text)
        os.replace(tmp, self.config_path)
        self.config_text = config_text
        self.proc.send_signal(signal.SIGHUP)

    def wait_log(self, pattern, timeout=10.0, count=1):
        """Waits until stderr holds `count` lines matching the regex; returns the last match."""
        rx = re.compile(pattern)

        def found():
            hits = rx.findall(self.stderr(tail=100000))
            return hits[count - 1] if len(hits) >= count else None

        return wait_until(found, timeout, what="a log line matching %r (x%d)" % (pattern, count))

    def wait(self, timeout):
        """Waits (bounded) for the process to exit; returns its status."""
        try:
            return self.proc.wait(timeout=timeout * SLOWDOWN)
        except subprocess.TimeoutExpired:
            raise AssertionError("outrigger still running %.1fs later" % (timeout * SLOWDOWN))

    def stderr(self, tail=200):
        return self._tail(self.log_path, tail)

    def stdout(self, tail=200):
        return self._tail(self.out_path, tail)

    @staticmethod
    def _tail(path, n):
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
        return "\n".join(lines[-n:])

    def stop(self):
        status = stop_process(self.proc, timeout=10.0)
        self.log.close()
        self.out.close()
        return status


def run_outrigger(args, timeout=20.0):
    """Runs the binary to completion (e.g. --check); returns CompletedProcess with text."""
    return subprocess.run([outrigger_bin()] + list(args), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout * SLOWDOWN)


# --- YAML ------------------------------------------------------------------------------------

_PLAIN = re.compile(r"\A[A-Za-z0-9_./:-]+\Z")  # \Z: "a\n" is quoted, keeping its newline


def _scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    s = str(v)
    return s if _PLAIN.match(s) and not s.startswith("-") else json.dumps(s)


def to_yaml(obj, indent=0):
    """Block-style YAML for dicts, lists and scalars (enough for Outrigger's config)."""
    pad = " " * indent
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, (dict, list)) and v:
                out.append("%s%s:" % (pad, k))
                out.append(to_yaml(v, indent + 2))
            elif isinstance(v, (dict, list)):
                out.append("%s%s: %s" % (pad, k, "{}" if isinstance(v, dict) else "[]"))
            else:
                out.append("%s%s: %s" % (pad, k, _scalar(v)))
    elif isinstance(obj, list):
        for item in obj:
            if isinstance(item, (dict, list)) and item:
                inner = to_yaml(item, indent + 2).splitlines()
                out.append("%s- %s" % (pad, inner[0].lstrip()))
                out.extend(inner[1:])
            else:
                out.append("%s- %s" % (pad, _scalar(item)))
    else:
        out.append(pad + _scalar(obj))
    return "\n".join(out)


# --- the test case base --------------------------------------------------------------------------

class ProxyTestCase(unittest.TestCase):
    """Starts backends and proxies for one test and stops them (by PID) afterwards.

    When the test fails, the proxies' stderr is printed so ctest --output-on-failure shows it.
    """

    maxDiff = 4000

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="outrigger-it-")
        self.addCleanup(self._tmp.cleanup)
        self.tmp = self._tmp.name
        self._proxies = []
        self.addCleanup(self._print_logs_on_failure)

    def _failed(self):
        # From the result's records: during a cleanup, Python 3.11's outcome.success says only
        # whether the cleanups so far succeeded (each runs in a fresh testPartExecutor).
        result = getattr(getattr(self, "_outcome", None), "result", None)
        if result is None:
            return True
        return any(getattr(test, "test_case", test) is self
                   for test, _ in list(result.failures) + list(result.errors))

    def _print_logs_on_failure(self):
        if not self._failed():
            return
        for p in self._proxies:
            sys.stderr.write("\n--- outrigger stderr (pid %d, %s) ---\n%s\n" % (p.pid, self.id(), p.stderr()))
            out = p.stdout()
            if out:
                sys.stderr.write("--- outrigger stdout ---\n%s\n" % out)
            sys.stderr.write("--- config ---\n%s\n" % p.config_text)

    def start_backend(self, name, **kw):
        b = Backend(name, log_dir=self.tmp, **kw)
        self.addCleanup(b.stop)
        return b

    def start_proxy(self, config_text, wait_ready=True, ready_timeout=15.0, env=None):
        """Starts outrigger on config_text (from self.config()); waits for /health/ready.

        env: the process's whole environment (default: this one's)."""
        admin_port = self.admin_port if wait_ready else None
        p = Proxy(config_text, admin_port, self.proxy_port, self.tmp, ready_timeout, env)
        p.admin_port = self.admin_port
        self._proxies.append(p)
        self.addCleanup(self._stop_and_check, p)
        return p

    def _stop_and_check(self, proxy):
        """Stops the proxy; a sanitizer report in its stderr fails the test."""
        proxy.stop()
        report = SANITIZER_REPORT.search(proxy.stderr(tail=100000))
        if report:
            raise AssertionError("outrigger's stderr has a sanitizer report:\n"
                                 + proxy.stderr(tail=100000)[report.start():][:8000])

    def open_raw(self, proxy):
        """A raw socket to the proxy's traffic listener and a buffered reader on it."""
        sock = proxy.raw()
        self.addCleanup(sock.close)
        return sock, sock.makefile("rb")

    def pool(self, *backends, weights=None, **extra):
        """A pool config: round robin over backends (Backend objects or "ip:port")."""
        entries = []
        for i, b in enumerate(backends):
            e = {"address": b.address if isinstance(b, Backend) else b}
            if weights:
                e["weight"] = weights[i]
            entries.append(e)
        pool = {"balance": "round_robin"}
        pool.update(extra)
        pool["backends"] = entries
        return pool

    def config(self, pools, routes=None, listener=None, workers=1, drain=None, top=None):
        """Config text: one listener `web` on a fresh port, an admin port, the given pools.

        routes defaults to "/" → the first pool; drain.delay defaults to 0s. Sets
        self.proxy_port and self.admin_port.
        """
        self.proxy_port = free_port()
        self.admin_port = free_port()
        while self.admin_port == self.proxy_port:
            self.admin_port = free_port()
        web = {"listen": "%s:%d" % (LOOPBACK, self.proxy_port)}
        web.update(listener or {})
        web["routes"] = routes or [{"path_prefix": "/", "pool": next(iter(pools))}]
        cfg = {"workers": workers, "admin": {"listen": "%s:%d" % (LOOPBACK, self.admin_port)}}
        # drain.delay defaults to 0s here so that stopping a proxy stays quick; a test of the
        # real default passes drain={"delay": None} (the key is then left out).
        drain = dict(drain or {})
        drain.setdefault("delay", "0s")
        drain = {k: v for k, v in drain.items() if v is not None}
        if drain:
            cfg["drain"] = drain
        cfg.update(top or {})
        cfg["listeners"] = {"web": web}
        cfg["pools"] = pools
        return to_yaml(cfg) + "\n"

    def check_config(self, text):
        """Runs `outrigger --check` on text; returns CompletedProcess."""
        path = os.path.join(self.tmp, "check-%d.yaml" % time.monotonic_ns())
        with open(path, "w") as f:
            f.write(text)
        return run_outrigger(["--check", "-c", path])


def main():
    unittest.main(verbosity=2)
