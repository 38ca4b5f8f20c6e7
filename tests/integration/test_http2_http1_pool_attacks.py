#!/usr/bin/env python3
"""HTTP/2 clients (h2c by prior knowledge, and TLS with ALPN h2) in front of HTTP/1.1 backend
pools: the path Http2Session (proxy/forward/http2_session.cc, http2_streams.cc) -> Exchange
(proxy/forward/exchange*.cc) -> an upstream HTTP/1 connection, where users hit it by
accident rather than by attack:

  - backends that answer 103 before the answer, send a body on a HEAD or a 204 anyway, close
    mid-body (Content-Length and chunked), or answer before they read the request body;
  - request bodies whose content-length disagrees with the DATA sent, uploads held by a full
    pool, many uploads at once to a backend that reads slowly;
  - RST_STREAM CANCEL while a request waits for a slot of a full pool or while its response
    streams over the pool's only connection;
  - retries of a GET and no retry of a POST when the backend closes without answering, with
    several streams in flight;
  - SIGHUP (a reload changing the pool's backend and the routes) and SIGTERM (drain) with 20
    streams in flight, uploads among them;
  - request header fields HTTP/2 forbids or treats specially (cookie crumbs, :authority and
    host, uppercase names, connection-specific fields, te, a pseudo-field after a regular one).

The backend here is ScriptBackend, a raw HTTP/1.1 server in this process that records every
request head it read and whether it read that request's body whole, so that a test can say
exactly what reached it. Every test ends with the proxy settled (in-flight gauges at zero);
the harness fails a test whose proxy printed a sanitizer report.
"""

import hashlib
import json
import signal
import socket
import threading
import time
import urllib.parse

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import hyperframe.frame as hf

import harness
import metrics_util
from h2_client import (CANCEL, NO_ERROR, PROTOCOL_ERROR, H2TestCase, RawH2, connect,
                       request_headers)

GAUGES = ("outrigger_backend_inflight_requests", "outrigger_pool_pending_requests",
          "outrigger_pool_inflight_requests")

PATTERN = bytes(i % 256 for i in range(256)) * 256  # 64 KiB


def pattern(n):
    return (PATTERN * (n // len(PATTERN) + 1))[:n]


# --- the backend ----------------------------------------------------------------------------

class BodyCut(Exception):
    pass


class Request:
    def __init__(self, conn_id, method, target, headers):
        self.conn_id = conn_id
        self.method = method
        self.target = target
        self.headers = headers  # [(name, value)] as received, names as sent
        self.body = b""
        self.complete = False  # the body (by its framing) was read whole

    @property
    def path(self):
        return urllib.parse.urlsplit(self.target).path

    @property
    def query(self):
        return {k: v[-1] for k, v in
                urllib.parse.parse_qs(urllib.parse.urlsplit(self.target).query).items()}

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def __repr__(self):
        return "<%s %s complete=%s %d bytes>" % (self.method, self.target, self.complete,
                                                 len(self.body))


class ScriptBackend:
    """An HTTP/1.1 backend on 127.0.0.1 in this process, one thread per connection. Paths:

      /                 "hello from NAME\\n"
      /hints            a 103 Early Hints (Link), then 200 "hinted\\n"
      /cut-length       200 with Content-Length 100000, 50000 bytes, then the close
      /cut-chunked      200 chunked, 3 chunks of 10000 bytes, then the close (no last chunk)
      /bodyful?status=N a head with Content-Length: 10 and 10 bytes after it even though the
                        request was a HEAD or N is 204/304 (a broken backend); `late=MS` sends
                        those bytes MS milliseconds after the head; the connection stays open
      /early            reads the head only, answers 200 "early\\n" at once and reads nothing
                        more for 3 s, then closes
      /drop             reads the request whole, closes without answering (or, with
                        answers_drop, answers as / does)
      /slow?ms=N        answers "slow NAME\\n" after N ms
      /big?n=N          N pattern bytes
      /digest           JSON {length, sha256} of the body; `pace=MS` reads it 16 KiB at a
                        time with MS milliseconds between reads

    Every response has X-Backend: NAME. `requests` lists every request head read, in order."""

    def __init__(self, name="a", rcvbuf=None, answers_drop=False):
        self.name = name
        self.answers_drop = answers_drop  # /drop is answered as / is
        self.lock = threading.Lock()
        self.requests = []
        self.connections = 0
        self.stopping = False
        self.socks = []
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if rcvbuf:
            self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.lsock.bind((harness.LOOPBACK, 0))
        self.lsock.listen(256)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def address(self):
        return "%s:%d" % (harness.LOOPBACK, self.port)

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.lsock.close()
        with self.lock:
            socks = list(self.socks)
        for s in socks:
            try:
                s.close()
            except OSError:
                pass

    def seen(self, path=None):
        with self.lock:
            return [r for r in self.requests if path is None or r.path == path]

    def _accept(self):
        while not self.stopping:
            try:
                s, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.connections += 1
                cid = self.connections
                self.socks.append(s)
            threading.Thread(target=self._serve, args=(s, cid), daemon=True).start()

    def _serve(self, s, cid):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.settimeout(30)
        f = s.makefile("rb")
        try:
            while not self.stopping:
                req = self._read_head(f, cid)
                if req is None:
                    return
                with self.lock:
                    self.requests.append(req)
                if not self._handle(s, f, req):
                    return
        except (OSError, BodyCut, ValueError):
            return
        finally:
            try:
                f.close()
                s.close()
            except OSError:
                pass

    @staticmethod
    def _read_head(f, cid):
        line = f.readline(65536)
        if not line:
            return None
        method, target, _ = line.decode("latin-1").split(" ", 2)
        headers = []
        while True:
            line = f.readline(65536)
            if line in (b"\r\n", b"\n"):
                break
            if not line:
                raise BodyCut("eof in head")
            name, _, value = line.decode("latin-1").partition(":")
            headers.append((name, value.strip()))
        return Request(cid, method, target, headers)

    def _read_body(self, f, req, pace_ms=0):
        te = req.header_all("transfer-encoding")
        cl = req.header_all("content-length")
        parts = []
        if te:
            while True:
                size = int(f.readline(1024).split(b";")[0].strip(), 16)
                if size == 0:
                    break
                data = f.read(size)
                if len(data) != size or f.read(2) != b"\r\n":
                    raise BodyCut("chunk")
                parts.append(data)
            while f.readline(65536) not in (b"\r\n", b"\n", b""):
                pass
        elif cl:
            left = int(cl[0])
            while left > 0:
                data = f.read(min(left, 16384) if pace_ms else left)
                if not data:
                    raise BodyCut("eof in body")
                parts.append(data)
                left -= len(data)
                if pace_ms:
                    time.sleep(pace_ms / 1000.0)
        req.body = b"".join(parts)
        req.complete = True
        return req.body

    def _send(self, s, status, body=b"", headers=(), reason="OK"):
        head = "HTTP/1.1 %d %s\r\nX-Backend: %s\r\nContent-Length: %d\r\n" % (
            status, reason, self.name, len(body))
        for k, v in headers:
            head += "%s: %s\r\n" % (k, v)
        s.sendall(head.encode() + b"\r\n" + body)

    def _handle(self, s, f, req):
        """Answers req; False to close the connection."""
        path, q = req.path, req.query
        if path == "/early":
            self._send(s, 200, b"early\n")
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline and not self.stopping:
                time.sleep(0.05)
            return False
        self._read_body(f, req, int(q.get("pace", "0")))
        if path == "/" or (path == "/drop" and self.answers_drop):
            self._send(s, 200, ("hello from %s\n" % self.name).encode())
        elif path == "/hints":
            s.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n")
            time.sleep(0.05)
            self._send(s, 200, b"hinted\n")
        elif path == "/cut-length":
            s.sendall(b"HTTP/1.1 200 OK\r\nX-Backend: %s\r\nContent-Length: 100000\r\n\r\n"
                      % self.name.encode() + pattern(50000))
            time.sleep(0.1)
            return False
        elif path == "/cut-chunked":
            s.sendall(b"HTTP/1.1 200 OK\r\nX-Backend: %s\r\nTransfer-Encoding: chunked\r\n\r\n"
                      % self.name.encode())
            for _ in range(3):
                s.sendall(b"2710\r\n" + pattern(10000) + b"\r\n")
            time.sleep(0.1)
            return False
        elif path == "/bodyful":
            status = int(q.get("status", "200"))
            s.sendall(b"HTTP/1.1 %d X\r\nX-Backend: %s\r\nContent-Length: 10\r\n\r\n"
                      % (status, self.name.encode()))
            late = int(q.get("late", "0"))
            if late:
                time.sleep(late / 1000.0)
            s.sendall(b"BODYBYTES!")
        elif path == "/drop":
            return False
        elif path == "/slow":
            time.sleep(int(q.get("ms", "1000")) / 1000.0)
            self._send(s, 200, ("slow %s\n" % self.name).encode())
        elif path == "/big":
            self._send(s, 200, pattern(int(q.get("n", "0"))))
        elif path == "/digest":
            self._send(s, 200, json.dumps({"length": len(req.body),
                                           "sha256": hashlib.sha256(req.body).hexdigest()})
                       .encode(), [("Content-Type", "application/json")])
        else:
            self._send(s, 404, b"no such path\n")
        return True


# --- an HTTP/2 client with flow control, for uploads ----------------------------------------

class Stream:
    def __init__(self):
        self.heads = []  # [[(name, value)]], interim heads included
        self.body = b""
        self.ended = False  # END_STREAM from the server
        self.reset = None  # the server's RST_STREAM code
        self.pending = None  # request body not sent yet (memoryview)
        self.sent = 0
        self.end_after_body = True

    @property
    def status(self):
        finals = [int(dict(h)[":status"]) for h in self.heads if int(dict(h)[":status"]) >= 200]
        return finals[0] if finals else None

    @property
    def statuses(self):
        return [int(dict(h)[":status"]) for h in self.heads]

    @property
    def done(self):
        return self.ended or self.reset is not None


class H2Client:
    """One h2 connection driven by python-h2, windows and all; streams may keep sending their
    bodies after the server answered them (as a client does that has not seen the answer)."""

    def __init__(self, port, tls=False):
        self.sock = connect(port, tls)
        self.tls = tls
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        self.conn.update_settings({hf.SettingsFrame.INITIAL_WINDOW_SIZE: 1 << 24})
        self.conn.increment_flow_control_window(1 << 30)
        self.streams = {}
        self.goaway = None
        self.closed = False
        self._send()

    def close(self):
        self.sock.close()

    def _send(self):
        out = self.conn.data_to_send()
        if out and not self.closed:
            try:
                self.sock.sendall(out)
            except OSError:
                self.closed = True

    def request(self, method, path, extra=(), body=None, end=True):
        sid = self.conn.get_next_available_stream_id()
        st = self.streams[sid] = Stream()
        self.conn.send_headers(sid, request_headers("a.test", path, method, self.tls, extra),
                               end_stream=body is None and end)
        if body is not None:
            st.pending = memoryview(body)
            st.end_after_body = end
        self._send()
        return sid

    def _push_bodies(self):
        for sid, st in self.streams.items():
            if st.pending is None or st.reset is not None:
                continue
            try:
                while len(st.pending):
                    n = min(len(st.pending), self.conn.local_flow_control_window(sid),
                            self.conn.max_outbound_frame_size)
                    if n <= 0:
                        break
                    self.conn.send_data(sid, st.pending[:n].tobytes())
                    st.pending = st.pending[n:]
                    st.sent += n
                if not len(st.pending):
                    st.pending = None
                    if st.end_after_body:
                        self.conn.end_stream(sid)
            except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
                st.pending = None
        self._send()

    def pump(self, until, timeout):
        """Sends what windows allow and reads, until until(self) or the deadline; returns
        until(self)."""
        end = harness.deadline(timeout)
        while not until(self) and not self.closed and time.monotonic() < end:
            self._push_bodies()
            self.sock.settimeout(max(0.01, min(0.1, end - time.monotonic())))
            try:
                data = self.sock.recv(1 << 20)
            except socket.timeout:
                continue
            except OSError:
                self.closed = True
                break
            if not data:
                self.closed = True
                break
            for ev in self.conn.receive_data(data):
                st = self.streams.get(getattr(ev, "stream_id", None))
                if isinstance(ev, (h2.events.ResponseReceived,
                                   h2.events.InformationalResponseReceived)):
                    st.heads.append(list(ev.headers))
                elif isinstance(ev, h2.events.DataReceived):
                    st.body += ev.data
                    self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    st.ended = True
                elif isinstance(ev, h2.events.StreamReset):
                    st.reset = ev.error_code
                    st.pending = None
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    self.goaway = ev
            self._send()
        self._push_bodies()
        return until(self)

    def all_done(self, sids):
        return self.pump(lambda c: all(c.streams[s].done for s in sids), 30)


# --- the case ---------------------------------------------------------------------------------

class Http2Http1PoolAttacks(H2TestCase):
    def setUp(self):
        super().setUp()
        self.backend = self.backend_named("a")

    def backend_named(self, name, **kw):
        b = ScriptBackend(name, **kw)
        self.addCleanup(b.stop)
        return b

    def pool(self, *backends, **extra):
        return super().pool(*[b.address if isinstance(b, ScriptBackend) else b
                              for b in backends], **extra)

    def start(self, tls=False, pool=None, **kw):
        lst = {"h2c": True}
        if tls:
            cert = self.make_cert(["a.test"])
            lst = {"tls": {"certificates": [{"cert": cert[0], "key": cert[1]}],
                           "alpn": ["h2", "http/1.1"]}}
        self.tls = tls
        self.proxy = self.start_proxy(self.config(
            pools={"api": pool or self.pool(self.backend)}, listener=lst, **kw))
        return self.proxy

    def raw(self, **kw):
        c = RawH2(self.proxy.port, self.tls, **kw)
        self.addCleanup(c.close)
        c.preface({hf.SettingsFrame.INITIAL_WINDOW_SIZE: 1 << 24})
        c.send(c.window_update(0, 1 << 30))
        return c

    def client(self):
        c = H2Client(self.proxy.port, self.tls)
        self.addCleanup(c.close)
        return c

    def hdrs(self, path, method="GET", extra=()):
        return request_headers("a.test", path, method, self.tls, extra)

    @staticmethod
    def ended(c, sid):
        return any(isinstance(f, hf.RstStreamFrame) or "END_STREAM" in getattr(f, "flags", ())
                   for f in c.stream_frames(sid))

    @staticmethod
    def body_of(c, sid):
        return b"".join(f.data for f in c.stream_frames(sid, hf.DataFrame))

    @staticmethod
    def reset_of(c, sid):
        for f in c.stream_frames(sid, hf.RstStreamFrame):
            return f.error_code
        return None

    @staticmethod
    def end_stream_seen(c, sid):
        return any("END_STREAM" in getattr(f, "flags", ()) for f in c.stream_frames(sid))

    def gauges(self):
        samples, _ = metrics_util.scrape(self.proxy)
        return {n: v for (n, _), v in samples.items() if n in GAUGES and v != 0}

    def assert_settles(self, timeout=15, path="/", body=None):
        harness.wait_until(lambda: not self.gauges(), timeout,
                           what="in-flight gauges back to zero")
        c = self.client()
        sid = c.request("GET", path)
        self.assertTrue(c.all_done([sid]), "a new client was not answered")
        self.assertEqual(c.streams[sid].status, 200)
        self.assertEqual(c.streams[sid].body, body or b"hello from a\n")

    # --- interim and body-less answers ----------------------------------------------------

    def test_a_103_early_hints_reaches_the_stream_before_its_200(self):
        self.start()
        c = self.client()
        sid = c.request("GET", "/hints")
        self.assertTrue(c.all_done([sid]))
        st = c.streams[sid]
        self.assertEqual(st.statuses, [103, 200])
        self.assertEqual(dict(st.heads[0]).get("link"), "</style.css>; rel=preload")
        self.assertEqual((st.body, st.ended, st.reset), (b"hinted\n", True, None))
        self.assert_settles()

    def check_bodyful(self, method, status, late_ms):
        """A broken backend's bytes after a body-less answer never reach the stream nor the
        next request's answer."""
        self.start()
        c = self.client()
        sid = c.request(method, "/bodyful?status=%d&late=%d" % (status, late_ms))
        self.assertTrue(c.all_done([sid]))
        st = c.streams[sid]
        self.assertEqual((st.status, st.body, st.reset), (status, b"", None))
        # The stray bytes have come by now; the next requests must not read them as their
        # answer (from the connection the pool may have kept).
        harness.wait_until(lambda: self.backend.seen("/bodyful"), 5, what="the request")
        time.sleep(0.3 * harness.SLOWDOWN if late_ms else 0)
        for i in range(3):
            sid = c.request("GET", "/?after=%d" % i)
            self.assertTrue(c.all_done([sid]))
            self.assertEqual((c.streams[sid].status, c.streams[sid].body),
                             (200, b"hello from a\n"), "request %d after the stray bytes" % i)
        self.assert_settles()

    def test_a_head_answered_with_a_body_anyway_leaves_the_next_answer_clean(self):
        self.check_bodyful("HEAD", 200, 0)

    def test_a_204_with_a_body_anyway_leaves_the_next_answer_clean(self):
        self.check_bodyful("GET", 204, 0)

    def test_a_304_with_a_late_body_anyway_leaves_the_next_answer_clean(self):
        # The stray bytes come 100 ms after the head: the connection is idle in the pool by
        # then, and must be dropped, not handed to the next request.
        self.check_bodyful("GET", 304, 100)

    # --- the backend closes mid-body ------------------------------------------------------

    def check_cut(self, path, got):
        self.start(tls=self.tls_for_cut)
        c = self.client()
        sid = c.request("GET", path)
        self.assertTrue(c.all_done([sid]))
        st = c.streams[sid]
        self.assertEqual(st.status, 200)
        self.assertFalse(st.ended, "a cut body ended as if whole: %d bytes" % len(st.body))
        self.assertIsNotNone(st.reset)
        self.assertLessEqual(len(st.body), got)
        self.assertEqual(st.body, self.cut_pattern[:len(st.body)])
        # The connection serves on.
        sid = c.request("GET", "/")
        self.assertTrue(c.all_done([sid]))
        self.assertEqual(c.streams[sid].body, b"hello from a\n")
        self.assert_settles()

    tls_for_cut = False
    cut_pattern = pattern(50000)

    def test_a_content_length_body_cut_by_the_backend_resets_the_stream(self):
        self.check_cut("/cut-length", 50000)

    def test_a_chunked_body_cut_by_the_backend_resets_the_stream(self):
        self.cut_pattern = pattern(10000) * 3
        self.check_cut("/cut-chunked", 30000)

    def test_a_body_cut_by_the_backend_resets_the_stream_over_tls(self):
        self.tls_for_cut = True
        self.check_cut("/cut-length", 50000)

    # --- request bodies -------------------------------------------------------------------

    def test_data_short_of_the_content_length_is_a_protocol_error_never_a_request(self):
        self.start()
        c = self.raw()
        c.send(c.headers(1, self.hdrs("/digest?short=1", "POST", [("content-length", "10")]))
               + c.data(1, b"hello", end_stream=True))
        self.assertTrue(c.read_until(lambda c: self.ended(c, 1), 10))
        self.assertEqual(self.reset_of(c, 1), PROTOCOL_ERROR, c.stream_frames(1))
        self.assert_settles()
        self.assertEqual([r for r in self.backend.seen("/digest") if r.complete], [])

    def test_data_past_the_content_length_is_a_protocol_error_never_a_request(self):
        self.start()
        c = self.raw()
        c.send(c.headers(1, self.hdrs("/digest?long=1", "POST", [("content-length", "5")]))
               + c.data(1, b"hello world", end_stream=True))
        self.assertTrue(c.read_until(lambda c: self.ended(c, 1), 10))
        self.assertEqual(self.reset_of(c, 1), PROTOCOL_ERROR, c.stream_frames(1))
        self.assert_settles()
        self.assertEqual([r for r in self.backend.seen("/digest") if r.complete], [])

    def test_an_upload_larger_than_the_windows_to_a_slow_reader_arrives_whole(self):
        self.start(tls=True)
        c = self.client()
        body = pattern(3 << 20)
        sid = c.request("POST", "/digest?pace=5", body=body)
        self.assertTrue(c.all_done([sid]))
        st = c.streams[sid]
        self.assertEqual(st.status, 200)
        self.assertEqual(json.loads(st.body), {"length": len(body),
                                               "sha256": hashlib.sha256(body).hexdigest()})
        self.assert_settles()

    def test_twenty_uploads_to_a_slow_reader_arrive_whole_with_memory_bounded(self):
        self.start()
        rss0 = self.proxy.rss_kib()
        c = self.client()
        bodies = [pattern(2 << 20)[i:] + bytes([i]) * i for i in range(20)]
        sids = [c.request("POST", "/digest?pace=2&u=%d" % i, body=b) for i, b in
                enumerate(bodies)]
        peak = [0]

        def sample(c):
            peak[0] = max(peak[0], self.proxy.rss_kib() - rss0)
            return all(c.streams[s].done for s in sids)
        self.assertTrue(c.pump(sample, 120), "uploads did not finish")
        for sid, b in zip(sids, bodies):
            self.assertEqual(c.streams[sid].status, 200)
            self.assertEqual(json.loads(c.streams[sid].body)["sha256"],
                             hashlib.sha256(b).hexdigest())
        if not harness.SANITIZER:  # ASan's quarantine keeps what passed through
            self.assertLess(peak[0], 32 * 1024, "RSS grew by %d KiB for 40 MiB of uploads"
                            % peak[0])
        self.assert_settles()

    def test_an_upload_answered_before_its_body_was_read_does_not_hold_the_connection(self):
        # The backend answers 200 at once and reads nothing of a 4 MiB upload (as a backend
        # refusing it would). The stream's answer is whole; then the server must either stop
        # the upload (RST_STREAM NO_ERROR, RFC 9113 §8.1) or go on reading and dropping it:
        # a stream whose window stays shut holds the stream and the connection's window.
        self.backend = self.backend_named("a", rcvbuf=16384)
        self.start()
        c = self.client()
        sid = c.request("POST", "/early", body=pattern(4 << 20))
        self.assertTrue(c.pump(lambda c: c.streams[sid].status is not None, 15))
        self.assertEqual(c.streams[sid].status, 200)
        released = c.pump(lambda c: c.streams[sid].pending is None or
                          c.streams[sid].reset is not None, 15)
        st = c.streams[sid]
        self.assertEqual(st.body, b"early\n")
        self.assertTrue(released, "after its answer, the upload's window stayed shut with "
                        "%d of %d bytes sent and no RST_STREAM" % (st.sent, 4 << 20))
        self.assertIn(st.reset, (None, NO_ERROR))
        self.assert_settles()

    def test_an_upload_shed_by_a_full_pool_does_not_hold_the_connection(self):
        # One slot, held by a slow GET: the POST waits (its first 64 KiB held in the proxy),
        # then is shed with 503 after timeouts.connect. Its window must not stay shut for
        # good: 20 such streams would shut the connection's 1 MiB window for every stream.
        self.start(pool=self.pool(self.backend, timeouts={"connect": "1s"}, circuit_breaker={
            "consecutive_failures": 1000, "max_connections": 1, "max_pending": 50}))
        c = self.client()
        holder = c.request("GET", "/slow?ms=2500")
        harness.wait_until(lambda: self.backend.seen("/slow"), 10, what="the holder")
        sids = [c.request("POST", "/digest?shed=%d" % i, body=pattern(200000))
                for i in range(20)]
        self.assertTrue(c.pump(lambda c: all(c.streams[s].status for s in sids), 30))
        self.assertEqual({c.streams[s].status for s in sids}, {503})
        self.assertTrue(c.all_done([holder]))
        # The connection's window still lets an upload through.
        sid = c.request("POST", "/digest?after=1", body=pattern(300000))
        after = c.pump(lambda c: c.streams[sid].done, 8)
        stuck = [s for s in sids if c.streams[s].pending is not None]
        self.assertEqual((after, stuck), (True, []),
                         "an upload after the sheds: done=%s, %d of 300000 bytes sent, "
                         "answer %r %r reset %r; streams answered 503 whose windows stayed "
                         "shut: %r (sent %r)"
                         % (after, c.streams[sid].sent, c.streams[sid].statuses,
                            c.streams[sid].body[:200], c.streams[sid].reset, stuck,
                            [c.streams[s].sent for s in stuck]))
        self.assertEqual(json.loads(c.streams[sid].body)["length"], 300000)
        self.assertEqual([r for r in self.backend.seen("/digest") if "shed" in r.target], [])
        self.assert_settles()

    def test_uploads_refused_413_mid_body_do_not_hold_the_connection(self):
        # No content-length: the 413 comes once 1 KiB went by, with the rest of the stream's
        # window still charged. 20 of them must not shut the connection's window.
        self.start(routes=[{"path_prefix": "/small", "pool": "api", "max_body": "1KiB"},
                           {"path_prefix": "/", "pool": "api"}])
        c = self.client()
        sids = [c.request("POST", "/small?big=%d" % i, body=pattern(200000))
                for i in range(20)]
        self.assertTrue(c.pump(lambda c: all(c.streams[s].status for s in sids), 20))
        self.assertEqual({c.streams[s].status for s in sids}, {413})
        sid = c.request("POST", "/digest?after=1", body=pattern(300000))
        after = c.pump(lambda c: c.streams[sid].done, 8)
        stuck = [s for s in sids if c.streams[s].pending is not None]
        self.assertEqual((after, stuck), (True, []),
                         "an upload after the 413s: done=%s, %d of 300000 bytes sent; streams "
                         "answered 413 whose windows stayed shut: %r (sent %r)"
                         % (after, c.streams[sid].sent, stuck,
                            [c.streams[s].sent for s in stuck]))
        self.assertEqual(json.loads(c.streams[sid].body)["length"], 300000)
        self.assertEqual([r for r in self.backend.seen("/small") if r.complete], [])
        self.assert_settles()

    # --- resets ---------------------------------------------------------------------------

    def test_a_post_reset_while_waiting_for_the_only_slot_never_reaches_the_backend(self):
        self.start(pool=self.pool(self.backend, timeouts={"connect": "5s"}, circuit_breaker={
            "consecutive_failures": 1000, "max_connections": 1, "max_pending": 10}))
        c = self.raw()
        c.send(c.headers(1, self.hdrs("/slow?ms=1500"), end_stream=True))
        harness.wait_until(lambda: self.backend.seen("/slow"), 10, what="the holder")
        c.send(c.headers(3, self.hdrs("/digest?waiting=1", "POST", [("content-length", "5")]))
               + c.data(3, b"hello", end_stream=True))
        time.sleep(0.2)
        c.send(c.rst(3, CANCEL) + c.headers(5, self.hdrs("/?next=1"), end_stream=True))
        self.assertTrue(c.read_until(lambda c: self.ended(c, 1) and self.ended(c, 5), 15))
        self.assertEqual((c.status_of(1), c.status_of(5)), (200, 200))
        self.assertEqual(self.body_of(c, 5), b"hello from a\n")
        self.assertEqual(self.backend.seen("/digest"), [])
        self.assert_settles()

    def test_a_download_reset_mid_body_on_the_only_connection_frees_it_for_the_next(self):
        self.start(pool=self.pool(self.backend, circuit_breaker={
            "consecutive_failures": 1000, "max_connections": 1, "max_pending": 10}))
        # The stream's window stays at its 64 KiB default, so that the 8 MiB cannot all be
        # relayed before the reset (with raw()'s 16 MiB windows and the loopback's socket
        # buffers, a fast build finished the download first, and then reused the connection
        # lawfully). The connection's window is opened for stream 3's answer.
        c = RawH2(self.proxy.port, self.tls)
        self.addCleanup(c.close)
        c.preface()
        c.send(c.window_update(0, 1 << 30))
        c.send(c.headers(1, self.hdrs("/big?n=%d" % (8 << 20)), end_stream=True))
        self.assertTrue(c.read_until(lambda c: c.stream_frames(1, hf.DataFrame), 10))
        c.send(c.rst(1, CANCEL) + c.headers(3, self.hdrs("/?next=1"), end_stream=True))
        self.assertTrue(c.read_until(lambda c: self.ended(c, 3), 15))
        self.assertEqual((c.status_of(3), self.body_of(c, 3)), (200, b"hello from a\n"))
        # The cut connection was not reused: /?next=1 came on a new one.
        nxt = self.backend.seen("/")[0]
        self.assertNotEqual(nxt.conn_id, self.backend.seen("/big")[0].conn_id)
        self.assert_settles()

    # --- retries --------------------------------------------------------------------------

    def test_a_backend_closing_unanswered_retries_gets_and_not_posts(self):
        b = self.backend_named("b", answers_drop=True)
        # `a` reads each request whole and closes without answering; `b` answers.
        self.start(pool=self.pool(self.backend, b, retries={"attempts": 1,
                                                             "budget_percent": 100},
                                  circuit_breaker={"consecutive_failures": 1000}))
        c = self.client()
        gets = [c.request("GET", "/drop?g=%d" % i) for i in range(8)]
        posts = [c.request("POST", "/drop?p=%d" % i, body=b"x" * 1000) for i in range(8)]
        self.assertTrue(c.all_done(gets + posts))
        at_a = [r.target for r in self.backend.seen("/drop")]
        at_b = [r.target for r in b.seen("/drop")]
        # Every GET is answered by b, retried there if a had it first.
        self.assertEqual([(c.streams[s].status, c.streams[s].body) for s in gets],
                         [(200, b"hello from b\n")] * 8, (at_a, at_b))
        # A POST a had is not sent again (a may have acted on it): 502. Each POST reached one
        # backend once.
        for i, s in enumerate(posts):
            target = "/drop?p=%d" % i
            self.assertEqual(at_a.count(target) + at_b.count(target), 1, (target, at_a, at_b))
            want = (502, None) if target in at_a else (200, None)
            self.assertEqual((c.streams[s].status, c.streams[s].reset), want, target)
        self.assertTrue(any("p=" in t for t in at_a) and any("p=" in t for t in at_b),
                        "round robin sent every POST to one backend: %r %r" % (at_a, at_b))
        self.assert_settles()

    # --- reload and drain with streams in flight ----------------------------------------------

    def test_a_reload_changing_backend_and_routes_with_20_streams_in_flight(self):
        b = self.backend_named("b")
        self.start()
        c = self.client()
        slow = [c.request("GET", "/slow?ms=1500&s=%d" % i) for i in range(10)]
        ups = [c.request("POST", "/digest?u=%d" % i, body=pattern(100000 + i), end=False)
               for i in range(10)]
        c.pump(lambda c: len(self.backend.seen("/slow")) == 10 and
               all(c.streams[s].pending is None for s in ups), 10)
        self.assertEqual(len(self.backend.seen("/slow")), 10)
        text = self.proxy.config_text.replace(self.backend.address, b.address)
        text = text.replace("path_prefix: /", "path_prefix: /v2/")
        self.proxy.reload(text)
        self.proxy.wait_log("reloaded", 10)
        for s in ups:
            c.conn.end_stream(s)
        c._send()
        self.assertTrue(c.all_done(slow + ups))
        self.assertEqual([(c.streams[s].status, c.streams[s].body) for s in slow],
                         [(200, b"slow a\n")] * 10)
        for i, s in enumerate(ups):
            self.assertEqual(c.streams[s].status, 200, c.streams[s].body)
            self.assertEqual(json.loads(c.streams[s].body)["length"], 100000 + i)
        # The new config: / has no route, /v2/ goes to b.
        sids = [c.request("GET", "/"), c.request("GET", "/v2/")]
        self.assertTrue(c.all_done(sids))
        # ScriptBackend answers /v2/ with its 404; the proxy's own 404 names no backend.
        self.assertEqual([c.streams[s].status for s in sids], [404, 404])
        self.assertEqual([dict(c.streams[s].heads[0]).get("x-backend") for s in sids],
                         [None, "b"])
        self.assertEqual(b.seen("/v2/")[0].path, "/v2/")
        harness.wait_until(lambda: not self.gauges(), 15, what="in-flight gauges back to zero")

    def test_a_reload_removing_the_backend_with_uploads_half_sent(self):
        b = self.backend_named("b")
        self.start()
        c = self.client()
        ups = [c.request("POST", "/digest?h=%d" % i, body=pattern(50000), end=False)
               for i in range(20)]
        c.pump(lambda c: len(self.backend.seen("/digest")) == 20 and
               all(c.streams[s].pending is None for s in ups), 10)
        self.assertEqual(len(self.backend.seen("/digest")), 20)
        self.proxy.reload(self.proxy.config_text.replace(self.backend.address, b.address))
        self.proxy.wait_log("reloaded", 10)
        for s in ups:
            c.streams[s].pending = memoryview(pattern(50000))
            c.streams[s].end_after_body = True
        self.assertTrue(c.all_done(ups))
        for s in ups:
            st = c.streams[s]
            # Each either went whole to `a` (which still serves it) or failed cleanly.
            if st.status == 200:
                self.assertEqual(json.loads(st.body)["length"], 100000)
            else:
                self.assertTrue(st.reset is not None or st.status in (502, 503), st.statuses)
        self.assertEqual([c.streams[s].status for s in ups], [200] * 20)
        harness.wait_until(lambda: not self.gauges(), 15, what="in-flight gauges back to zero")
        self.assert_settles(body=b"hello from b\n")

    def test_sigterm_lets_20_streams_finish_uploads_included(self):
        self.start(drain={"timeout": "20s"})
        c = self.raw()
        # 10 slow GETs and 10 uploads of 64000 bytes, 60000 of them sent before the SIGTERM
        # (within the 64 KiB stream window and the 1 MiB connection window).
        gets, ups = list(range(1, 21, 2)), list(range(21, 41, 2))
        c.send(b"".join(c.headers(s, self.hdrs("/slow?ms=1000&s=%d" % s), end_stream=True)
                        for s in gets)
               + b"".join(c.headers(s, self.hdrs("/digest?d=%d" % s, "POST",
                                                 [("content-length", "64000")]))
                          + c.data(s, pattern(16000)) + c.data(s, pattern(16000)[:14000])
                          + c.data(s, pattern(16000)) + c.data(s, pattern(16000)[:14000])
                          for s in ups))
        harness.wait_until(lambda: len(self.backend.seen()) == 20, 10, what="20 streams in")
        self.proxy.signal(signal.SIGTERM)
        self.assertTrue(c.read_until(lambda c: c.goaway is not None, 10), "no GOAWAY on drain")
        self.assertEqual(c.goaway.error_code, NO_ERROR)
        self.assertGreaterEqual(c.goaway.last_stream_id, 39)
        c.send(b"".join(c.data(s, b"z" * 4000, end_stream=True) for s in ups))
        self.assertTrue(c.read_until(lambda c: all(self.ended(c, s) for s in gets + ups), 20))
        self.assertEqual([c.status_of(s) for s in gets + ups], [200] * 20)
        want = hashlib.sha256((pattern(16000) + pattern(14000)) * 2 + b"z" * 4000).hexdigest()
        for s in ups:
            self.assertEqual(json.loads(self.body_of(c, s)),
                             {"length": 64000, "sha256": want})
        self.assertEqual(self.proxy.wait(20), 0)

    # --- request header fields ----------------------------------------------------------------

    def test_cookie_crumbs_reach_the_backend_as_one_field(self):
        self.start()
        c = self.raw()
        c.send(c.headers(1, self.hdrs("/?cookie=1", extra=[
            ("cookie", "a=1"), ("x-mid", "m"), ("cookie", "b=2"), ("cookie", "c=3")]),
            end_stream=True))
        self.assertTrue(c.read_until(lambda c: self.ended(c, 1), 10))
        self.assertEqual(c.status_of(1), 200)
        got = self.backend.seen("/")[0]
        self.assertEqual(got.header_all("cookie"), ["a=1; b=2; c=3"])
        self.assertEqual(got.header_all("host"), ["a.test"])

    def check_refused(self, extra, codes=(400,), pseudo_first=True, name="bad"):
        """The stream is refused (a 400 or RST_STREAM PROTOCOL_ERROR) and the backend sees
        nothing of it; the connection serves on."""
        c = self.raw()
        base = self.hdrs("/?%s=1" % name)
        fields = base + list(extra) if pseudo_first else list(extra) + base
        c.send(c.headers(1, fields, end_stream=True))
        self.assertTrue(c.read_until(lambda c: self.ended(c, 1), 10))
        status, reset = c.status_of(1), self.reset_of(c, 1)
        self.assertTrue(status in codes or reset == PROTOCOL_ERROR,
                        "%r: status %r, reset %r" % (extra, status, reset))
        self.assertIsNone(c.goaway)
        c.send(c.headers(3, self.hdrs("/?after=1"), end_stream=True))
        self.assertTrue(c.read_until(lambda c: self.ended(c, 3), 10))
        self.assertEqual(c.status_of(3), 200)
        self.assertEqual([r.target for r in self.backend.seen() if name in r.target], [])

    def test_authority_and_host_that_disagree_are_refused(self):
        self.start()
        self.check_refused([("host", "b.test")], name="hostdiff")

    def test_an_uppercase_field_name_is_refused(self):
        self.start()
        self.check_refused([("X-Upper", "1")], name="upper")

    def test_connection_specific_fields_are_refused(self):
        self.start()
        for i, field in enumerate([("connection", "close"), ("keep-alive", "timeout=5"),
                                   ("transfer-encoding", "chunked"), ("upgrade", "websocket"),
                                   ("proxy-connection", "keep-alive")]):
            self.check_refused([field], name="conn%d" % i)

    def test_te_other_than_trailers_is_refused(self):
        self.start()
        self.check_refused([("te", "gzip")], name="tegzip")

    def test_a_pseudo_field_after_a_regular_one_is_refused(self):
        self.start()
        c = self.raw()
        fields = [(":method", "GET"), (":scheme", "http"), ("x-a", "1"),
                  (":authority", "a.test"), (":path", "/?late=1")]
        c.send(c.headers(1, fields, end_stream=True))
        self.assertTrue(c.read_until(lambda c: self.ended(c, 1), 10))
        self.assertTrue(c.status_of(1) == 400 or self.reset_of(c, 1) == PROTOCOL_ERROR)
        self.assertEqual(self.backend.seen(), [])

    def test_te_trailers_and_host_only_requests_reach_the_backend_well_formed(self):
        self.start()
        c = self.raw()
        c.send(c.headers(1, self.hdrs("/?te=1", extra=[("te", "trailers")]), end_stream=True)
               + c.headers(3, [(":method", "GET"), (":scheme", "http"), (":path", "/?host=1"),
                               ("host", "h.test")], end_stream=True))
        self.assertTrue(c.read_until(lambda c: self.ended(c, 1) and self.ended(c, 3), 10))
        self.assertEqual((c.status_of(1), c.status_of(3)), (200, 200))
        te, host = (self.backend.seen()[0], self.backend.seen()[1])
        if te.target != "/?te=1":
            te, host = host, te
        self.assertEqual(te.header_all("host"), ["a.test"])
        # TE is hop-by-hop in HTTP/1.1: if passed on, Connection must name it.
        if te.header_all("te"):
            self.assertIn("te", ",".join(te.header_all("connection")).lower())
        self.assertEqual(host.header_all("host"), ["h.test"])
        for r in (te, host):
            self.assertEqual([k for k, _ in r.headers if k.startswith(":")], [])


if __name__ == "__main__":
    harness.main()
