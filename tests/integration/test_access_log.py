#!/usr/bin/env python3
"""Access log: the JSON lines of a known sequence of requests, nginx's combined format,
sampling that keeps every error and slow request, a stdout nobody reads (requests keep being
served, drops are counted), and SIGUSR1 / SIGHUP reopening under load with no line lost."""

import fcntl
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import threading
import time
import unittest

import harness

HEX32 = re.compile(r"^[0-9a-f]{32}$")
KEYS = {"time", "listener", "client", "method", "path", "query", "protocol", "host", "status",
        "bytes_in", "bytes_out", "duration_ms", "upstream_connect_ms", "upstream_header_ms",
        "pool", "backend", "attempts", "request_id", "user_agent", "referer", "tls_version",
        "sni", "trace_id", "termination"}
# nginx's `combined` as log tools parse it.
COMBINED = re.compile(r'^(\S+) - (\S+) \[(\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] '
                      r'"((?:[^"\\]|\\.)*)" (\d{3}) (\d+|-) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"$')
F_SETPIPE_SZ = 1031


def read_lines(path):
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        return f.read().decode("utf-8").splitlines()


class AccessLogTest(harness.ProxyTestCase):
    def wait_lines(self, path, count, timeout=10):
        def enough():
            lines = read_lines(path)
            return lines if len(lines) >= count else None

        return harness.wait_until(enough, timeout, what="%d lines in %s" % (count, path))

    def dropped(self, proxy):
        text = proxy.admin("/metrics").text
        m = re.search(r'^outrigger_access_log_dropped_total\{listener="web"\} (\S+)$', text, re.M)
        return float(m.group(1)) if m else None


class KnownSequence(AccessLogTest):
    def start(self, fmt):
        self.a = self.start_backend("a")
        ws = self.start_backend("ws", script=harness.WS_BACKEND_PY)
        self.dead = "127.0.0.1:%d" % harness.free_port()
        self.log_path = os.path.join(self.tmp, "access.log")
        pools = {
            "api": self.pool(self.a),
            "slow": self.pool(self.a, timeouts={"read": "300ms"}),
            "dead": self.pool(self.dead, retries={"attempts": 0}),
            "retry": self.pool(self.dead, self.a, retries={"attempts": 1}),
            "ws": self.pool(ws),
        }
        routes = [{"host": "slow.test", "pool": "slow"},
                  {"host": "dead.test", "pool": "dead"},
                  {"host": "retry.test", "pool": "retry"},
                  {"host": "small.test", "pool": "api", "max_body": "10"},
                  {"path_prefix": "/ws", "pool": "ws"},
                  {"path_prefix": "/", "pool": "api"}]
        return self.start_proxy(self.config(
            pools=pools, routes=routes,
            listener={"access_log": {"format": fmt, "path": self.log_path}}))

    def run_sequence(self, proxy):
        """Sends the sequence; returns the responses in order (the retry ones: two)."""
        tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        out = [proxy.get("/?x=1&y=2", headers={"User-Agent": "seq/1", "Referer": "http://r/",
                                                   "traceparent": tp}),
               proxy.get("/status?code=404"),
               proxy.get("/", headers={"Host": "dead.test"}),
               proxy.get("/slow?ms=2000", headers={"Host": "slow.test"}),
               proxy.request("POST", "/echo", body=b"x" * 100, headers={"Host": "small.test"})]
        # Round robin over [dead, a]: of two requests one starts on the dead backend and is
        # retried on a.
        out += [proxy.get("/", headers={"Host": "retry.test"}) for _ in range(2)]
        sock, rfile = self.open_raw(proxy)
        sock.sendall(b"GET /ws HTTP/1.1\r\nHost: ws.test\r\nConnection: Upgrade\r\n"
                     b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            self.assertTrue(chunk, "no 101 came")
            head += chunk
        self.assertTrue(head.startswith(b"HTTP/1.1 101"), head)
        sock.close()
        return out

    def test_json_lines_of_a_known_sequence(self):
        proxy = self.start("json")
        rs = self.run_sequence(proxy)
        self.assertEqual([r.status for r in rs], [200, 404, 502, 504, 413, 200, 200])
        lines = [json.loads(line) for line in self.wait_lines(self.log_path, 8)]
        self.assertEqual(len(lines), 8)
        for line in lines:
            self.assertEqual(set(line), KEYS, line)
            self.assertEqual(line["listener"], "web")
            self.assertEqual(line["client"], "127.0.0.1")
            self.assertRegex(line["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            self.assertIsNone(line["tls_version"])
            self.assertIsNone(line["sni"])
            self.assertGreaterEqual(line["duration_ms"], 0)
        for r, line in zip(rs, lines):
            self.assertEqual(line["request_id"], r.header("X-Request-Id"))
        ok, notfound, dead, timeout, big, retry1, retry2, ws = lines
        a = self.a.address
        self.assertEqual((ok["method"], ok["path"], ok["query"], ok["protocol"], ok["status"]),
                         ("GET", "/", "x=1&y=2", "HTTP/1.1", 200))
        self.assertEqual((ok["user_agent"], ok["referer"]), ("seq/1", "http://r/"))
        self.assertEqual(ok["trace_id"], "0af7651916cd43dd8448eb211c80319c")
        self.assertEqual((ok["pool"], ok["backend"], ok["attempts"], ok["termination"]),
                         ("api", a, 1, "ok"))
        self.assertEqual(ok["host"], "127.0.0.1:%d" % proxy.port)
        self.assertGreater(ok["bytes_in"], 0)
        self.assertGreater(ok["bytes_out"], len(rs[0].body))
        self.assertIsNotNone(ok["upstream_connect_ms"])  # the first request opened a connection
        self.assertGreaterEqual(ok["upstream_header_ms"], 0)
        self.assertEqual((notfound["status"], notfound["termination"], notfound["backend"]),
                         (404, "ok", a))
        self.assertIsNone(notfound["upstream_connect_ms"])  # a pooled connection
        self.assertIsNone(notfound["trace_id"])
        self.assertEqual((dead["status"], dead["termination"], dead["pool"], dead["backend"],
                          dead["attempts"]), (502, "upstream_connect_failed", "dead", self.dead, 1))
        self.assertIsNone(dead["upstream_header_ms"])
        self.assertEqual((timeout["status"], timeout["termination"], timeout["pool"]),
                         (504, "upstream_timeout", "slow"))
        self.assertGreaterEqual(timeout["duration_ms"], 250)
        self.assertEqual((big["status"], big["termination"], big["method"], big["attempts"]),
                         (413, "limit", "POST", 0))
        self.assertIsNone(big["pool"])
        self.assertIsNone(big["backend"])
        self.assertEqual(sorted([retry1["attempts"], retry2["attempts"]]), [1, 2])
        for line in (retry1, retry2):
            self.assertEqual((line["status"], line["termination"], line["pool"], line["backend"]),
                             (200, "ok", "retry", a))
        self.assertEqual((ws["status"], ws["path"], ws["pool"], ws["termination"]),
                         (101, "/ws", "ws", "ok"))

    def test_combined_lines_match_nginx_regex(self):
        proxy = self.start("combined")
        rs = self.run_sequence(proxy)
        lines = self.wait_lines(self.log_path, 8)
        self.assertEqual(len(lines), 8)
        statuses = []
        for line in lines:
            m = COMBINED.match(line)
            self.assertIsNotNone(m, line)
            self.assertEqual(m.group(1), "127.0.0.1")
            statuses.append(int(m.group(5)))
        self.assertEqual(statuses, [r.status for r in rs] + [101])
        first = COMBINED.match(lines[0])
        self.assertEqual(first.group(4), "GET /?x=1&y=2 HTTP/1.1")
        self.assertEqual(int(first.group(6)), len(rs[0].body))
        self.assertEqual((first.group(7), first.group(8)), ("http://r/", "seq/1"))


class Sampling(AccessLogTest):
    def test_keeps_every_error_and_slow_request(self):
        a = self.start_backend("a")
        log_path = os.path.join(self.tmp, "access.log")
        proxy = self.start_proxy(self.config(
            pools={"api": self.pool(a)},
            listener={"access_log": {"format": "json", "path": log_path, "sample": "0",
                                     "slow": "300ms"}}))
        conn = proxy.connection()
        for i in range(30):
            self.assertEqual(proxy.get("/", conn=conn).status, 200)
            if i % 10 == 0:
                self.assertEqual(proxy.get("/status?code=500", conn=conn).status, 500)
        self.assertEqual(proxy.get("/slow?ms=400", conn=conn).status, 200)
        self.assertEqual(proxy.get("/status?code=404", conn=conn).status, 404)
        conn.close()
        lines = [json.loads(x) for x in self.wait_lines(log_path, 5)]
        time.sleep(1.2)  # a quiet second flushes whatever a worker still holds
        lines = [json.loads(x) for x in read_lines(log_path)]
        self.assertEqual([(x["path"], x["status"]) for x in lines],
                         [("/status", 500)] * 3 + [("/slow", 200), ("/status", 404)])

    def test_a_share_of_successes(self):
        a = self.start_backend("a")
        log_path = os.path.join(self.tmp, "access.log")
        proxy = self.start_proxy(self.config(
            pools={"api": self.pool(a)},
            listener={"access_log": {"format": "json", "path": log_path, "sample": "0.5"}}))
        conn = proxy.connection()
        for _ in range(400):
            proxy.get("/", conn=conn)
        conn.close()
        self.wait_lines(log_path, 100)
        time.sleep(1.2)
        n = len(read_lines(log_path))
        self.assertTrue(120 <= n <= 280, n)  # 200 expected; 8 standard deviations either side


class StuckStdout(AccessLogTest):
    def test_a_stdout_nobody_reads_never_stalls_serving(self):
        a = self.start_backend("a")
        cfg = self.config(pools={"api": self.pool(a)},
                          listener={"access_log": {"format": "json", "path": "stdout"}})
        path = os.path.join(self.tmp, "stuck.yaml")
        with open(path, "w") as f:
            f.write(cfg)
        err = open(os.path.join(self.tmp, "stuck.stderr"), "wb")
        proc = subprocess.Popen([harness.outrigger_bin(), "-c", path], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=err)
        try:
            fcntl.fcntl(proc.stdout.fileno(), F_SETPIPE_SZ, 4096)  # fills sooner
            proxy = harness.Proxy.__new__(harness.Proxy)
            proxy.admin_port, proxy.port, proxy.proc = self.admin_port, self.proxy_port, proc
            proxy.log_path = err.name
            proxy.wait_ready(15)
            ua = "u" * 4000  # ~4.5 KB lines: the 1 MiB queue fills after a few hundred
            conn = proxy.connection()

            def timed(n):
                times = []
                for _ in range(n):
                    t = time.monotonic()
                    r = harness.request(self.proxy_port, path="/", headers={"User-Agent": ua},
                                        conn=conn)
                    times.append(time.monotonic() - t)
                    self.assertEqual(r.status, 200)
                return times

            before = statistics.median(timed(50))
            harness.wait_until(lambda: (self.dropped(proxy) or 0) > 0 or timed(50) is None, 60,
                               what="drops to be counted")
            after = statistics.median(timed(50))
            self.assertLess(after, max(5 * before, 0.02) * harness.SLOWDOWN,
                            "latency with a stuck stdout: %.4fs vs %.4fs" % (after, before))
            first = self.dropped(proxy)
            timed(50)
            self.assertGreater(self.dropped(proxy), first)
            conn.close()

            def warned():
                with open(err.name, "rb") as f:
                    return b"lines dropped, the sink is not keeping up" in f.read()
            # The sink's writer reports drops from its own thread, at its next poll (100 ms):
            # a loaded machine may not have run it yet when the counter already moved.
            harness.wait_until(warned, 5, what="the drops' warning on stderr")
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                status = proc.wait(timeout=10 * harness.SLOWDOWN)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                proc.stdout.close()
                err.close()
        self.assertEqual(status, 0)


class Reopen(AccessLogTest):
    def load(self, proxy, stop, ids, lock):
        conn = proxy.connection()
        try:
            while not stop.is_set():
                r = harness.request(self.proxy_port, path="/", conn=conn)
                with lock:
                    ids.append(r.header("X-Request-Id"))
        finally:
            conn.close()

    def test_sigusr1_after_a_rename_loses_no_line_under_load(self):
        a = self.start_backend("a")
        log_path = os.path.join(self.tmp, "access.log")
        proxy = self.start_proxy(self.config(
            pools={"api": self.pool(a)}, workers=2,
            listener={"access_log": {"format": "json", "path": log_path}}))
        stop, ids, lock = threading.Event(), [], threading.Lock()
        threads = [threading.Thread(target=self.load, args=(proxy, stop, ids, lock))
                   for _ in range(3)]
        for t in threads:
            t.start()
        try:
            harness.wait_until(lambda: len(ids) > 300, 30, what="load")
            os.rename(log_path, log_path + ".1")
            proxy.signal(signal.SIGUSR1)
            proxy.wait_log("reopening the access logs")
            n = len(ids)
            harness.wait_until(lambda: len(ids) > n + 300, 30, what="load after the reopen")
        finally:
            stop.set()
            for t in threads:
                t.join()

        def logged():
            got = [json.loads(x)["request_id"] for p in (log_path + ".1", log_path)
                   for x in read_lines(p)]
            return got if len(got) >= len(ids) else None

        got = harness.wait_until(logged, 10, what="every request logged")
        self.assertEqual(sorted(got), sorted(ids))
        self.assertGreater(len(read_lines(log_path)), 100)  # the new file took the later lines
        self.assertGreater(len(read_lines(log_path + ".1")), 100)

    def test_sighup_with_a_new_path_moves_the_log(self):
        a = self.start_backend("a")
        first = os.path.join(self.tmp, "first.log")
        second = os.path.join(self.tmp, "second.log")
        cfg = lambda p: self.config(pools={"api": self.pool(a)},
                                    listener={"access_log": {"format": "json", "path": p}})
        text = cfg(first)
        proxy = self.start_proxy(text)
        port, admin = self.proxy_port, self.admin_port
        proxy.get("/")
        self.wait_lines(first, 1)
        text2 = cfg(second).replace(":%d" % self.proxy_port, ":%d" % port).replace(
            ":%d" % self.admin_port, ":%d" % admin)
        self.proxy_port, self.admin_port = port, admin
        proxy.reload(text2)
        proxy.wait_log("reloaded")
        proxy.get("/")
        self.wait_lines(second, 1)
        self.assertEqual(len(read_lines(first)), 1)

    def test_an_unwritable_path_is_a_config_error(self):
        a = self.start_backend("a")
        proxy = self.start_proxy(self.config(
            pools={"api": self.pool(a)},
            listener={"access_log": {"format": "json", "path": "/nonexistent-dir/x.log"}}),
            wait_ready=False)
        self.assertEqual(proxy.wait(10), 1)
        self.assertIn("listeners.web.access_log.path: cannot open access log /nonexistent-dir/x.log",
                      proxy.stderr())


if __name__ == "__main__":
    harness.main()
