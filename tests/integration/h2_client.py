"""HTTP/2 clients for the integration tests, over Debian's python3-h2 / hyperframe / hpack.

RawH2 speaks frames: it connects (h2c by prior knowledge, or TLS with ALPN h2), sends the
preface and whatever frames a test builds, however hostile, and reads the server's frames
with a deadline until a GOAWAY or the close. `exchange` makes well-behaved requests with
h2's state machine, to check answers and that a server still serves other clients.

H2TestCase starts the server under test: Outrigger with an `h2c: true` or a TLS listener
(`alpn: [h2, http/1.1]`) in front of h2_backend.py. OUTRIGGER_H2_STANDIN=nginx starts nginx
(HTTP/2 on, proxying to the same backend) in its place, so that the clients themselves can be
proven against a known-good HTTP/2 server before Outrigger serves HTTP/2; assertions about
Outrigger's own limits, metrics and config ask `self.outrigger` first. STAND-IN SHIM: delete
`_start_nginx` and the env var once Outrigger passes these tests.
"""

import os
import select
import socket
import ssl
import subprocess
import time

import h2.config
import h2.connection
import h2.events
import hpack
import hyperframe.frame as hf

import harness
import nginx_util
from tls_certs import TlsTestCase

H2_BACKEND_PY = os.path.join(harness.HERE, "h2_backend.py")
STANDIN = os.environ.get("OUTRIGGER_H2_STANDIN", "")

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR = 0x0, 0x1, 0x2
REFUSED_STREAM, CANCEL, ENHANCE_YOUR_CALM = 0x7, 0x8, 0xb


def tls_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2"])
    return ctx


def connect(port, tls, timeout=10.0, rcvbuf=None):
    """A socket to 127.0.0.1:port; with tls, TLS with ALPN h2 (asserted). rcvbuf: a small
    SO_RCVBUF set before connecting, so a client that stops reading pushes back quickly."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(timeout * harness.SLOWDOWN)
    sock.connect((harness.LOOPBACK, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if not tls:
        return sock
    try:
        tsock = tls_context().wrap_socket(sock, server_hostname="a.test")
    except BaseException:
        sock.close()
        raise
    if tsock.selected_alpn_protocol() != "h2":
        tsock.close()
        raise AssertionError("ALPN chose %r, want h2" % tsock.selected_alpn_protocol())
    return tsock


class RawH2:
    """One client connection that writes frames as the test builds them.

    Frames the server sends are parsed as they arrive (read / read_until); `closed` is set
    once the server closed or reset the connection, and `goaway` holds its GOAWAY frame."""

    def __init__(self, port, tls=False, rcvbuf=None, timeout=10.0):
        self.sock = connect(port, tls, timeout, rcvbuf)
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        self.decoder.max_header_list_size = 1 << 20
        self.ack_server_settings = True
        self.frames = []
        self.goaway = None
        self.settings_frames = 0  # SETTINGS read (ACKs included): kept out of `frames`
        self.closed = False
        self._buf = b""

    def close(self):
        self.sock.close()

    def preface(self, settings=None):
        """The client preface and a SETTINGS frame. The server's SETTINGS are ACKed as they
        are read (unless ack_server_settings is set False)."""
        f = hf.SettingsFrame(0)
        f.settings = dict(settings or {})
        self.send(PREFACE + f.serialize())

    def send(self, data):
        """Writes all of data; False if the server has closed the connection (then `closed`)
        or stopped reading until the socket's timeout."""
        try:
            self.sock.sendall(data)
            return True
        except socket.timeout:
            return False  # the server stopped reading; it may still close later
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.closed = True
            return False

    def block(self, headers):
        return self.encoder.encode(headers)

    def headers(self, stream, headers, end_stream=False, end_headers=True, raw_block=None):
        f = hf.HeadersFrame(stream)
        f.data = raw_block if raw_block is not None else self.block(headers)
        if end_stream:
            f.flags.add("END_STREAM")
        if end_headers:
            f.flags.add("END_HEADERS")
        return f.serialize()

    @staticmethod
    def continuation(stream, block, end_headers=False):
        f = hf.ContinuationFrame(stream)
        f.data = block
        if end_headers:
            f.flags.add("END_HEADERS")
        return f.serialize()

    @staticmethod
    def data(stream, payload, end_stream=False):
        f = hf.DataFrame(stream)
        f.data = payload
        if end_stream:
            f.flags.add("END_STREAM")
        return f.serialize()

    @staticmethod
    def rst(stream, code=CANCEL):
        f = hf.RstStreamFrame(stream)
        f.error_code = code
        return f.serialize()

    @staticmethod
    def settings(entries=None, ack=False):
        f = hf.SettingsFrame(0)
        if ack:
            f.flags.add("ACK")
        else:
            f.settings = dict(entries or {})
        return f.serialize()

    @staticmethod
    def ping(payload=b"12345678"):
        f = hf.PingFrame(0)
        f.opaque_data = payload
        return f.serialize()

    @staticmethod
    def window_update(stream, increment):
        f = hf.WindowUpdateFrame(stream)
        f.window_increment = increment
        return f.serialize()

    def read(self, timeout=0.0, limit=1 << 26):
        """Reads what has arrived (waiting up to timeout for the first bytes) and parses it;
        returns the new frames. Reads at most `limit` bytes per call."""
        if self.closed:
            return []
        got = 0
        wait = timeout * harness.SLOWDOWN
        new = []
        while got < limit:
            if not self._readable(wait):
                break
            wait = 0.0
            try:
                chunk = self.sock.recv(1 << 20)
            except (ConnectionResetError, ssl.SSLError, BrokenPipeError):
                chunk = b""
            except (BlockingIOError, ssl.SSLWantReadError, socket.timeout):
                break
            if not chunk:
                self.closed = True
                break
            got += len(chunk)
            self._buf += chunk
            new += self._parse()
        return new

    def _readable(self, wait):
        if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
            return True
        return bool(select.select([self.sock], [], [], wait)[0])

    def _parse(self):
        new = []
        buf, pos = memoryview(self._buf), 0
        while len(buf) - pos >= 9:
            frame, length = hf.Frame.parse_frame_header(buf[pos:pos + 9])
            if len(buf) - pos < 9 + length:
                break
            frame.parse_body(buf[pos + 9:pos + 9 + length])
            pos += 9 + length
            if isinstance(frame, hf.GoAwayFrame):
                self.goaway = frame
            if isinstance(frame, hf.HeadersFrame):
                # Every head goes through the one decoder, in order, as HPACK requires; the
                # servers under test send heads in one frame (no CONTINUATION).
                frame.fields = self.decoder.decode(bytes(frame.data))
            if isinstance(frame, hf.SettingsFrame):
                self.settings_frames += 1
            if (isinstance(frame, hf.SettingsFrame) and "ACK" not in frame.flags
                    and self.ack_server_settings):
                self.send(self.settings(ack=True))
            # Only the kinds a test looks at are kept: a flood's ACKs would fill memory.
            if not isinstance(frame, (hf.PingFrame, hf.SettingsFrame)):
                new.append(frame)
                self.frames.append(frame)
        buf.release()
        self._buf = self._buf[pos:]
        return new

    def read_until(self, predicate, timeout):
        """Reads until predicate(self) is truthy or the connection closes; returns its value
        (which may be falsy if the deadline passed or the server closed first)."""
        end = harness.deadline(timeout)
        while not predicate(self) and not self.closed and time.monotonic() < end:
            self.read(timeout=min(0.2, max(0.0, end - time.monotonic())))
        return predicate(self)

    def wait_closed(self, timeout):
        """Reads until the server closes the connection; True if it did within timeout."""
        self.read_until(lambda c: c.closed, timeout)
        return self.closed

    def stream_frames(self, stream, kind=None):
        return [f for f in self.frames
                if f.stream_id == stream and (kind is None or isinstance(f, kind))]

    def frames_of(self, kind):
        return [f for f in self.frames if isinstance(f, kind)]

    def status_of(self, stream):
        """The :status of the stream's first response head, or None."""
        for f in self.stream_frames(stream, hf.HeadersFrame):
            return int(dict(f.fields)[":status"])
        return None


def request_headers(authority, path, method="GET", tls=False, extra=()):
    return [(":method", method), (":scheme", "https" if tls else "http"),
            (":authority", authority), (":path", path)] + list(extra)


class Answer:
    def __init__(self):
        self.status = None
        self.headers = []
        self.body = b""
        self.trailers = []
        self.reset = None  # RST_STREAM error code, if the server reset the stream

    def header(self, name):
        for k, v in self.headers:
            if k == name:
                return v
        return None


def exchange(port, tls, requests, timeout=20.0):
    """Sends each request (method, path, extra headers, body or None, trailers or None) as one
    stream on a new connection, all at once, and reads until every stream has ended.

    Returns [Answer] in request order; raises AssertionError on a GOAWAY or a timeout."""
    sock = connect(port, tls, timeout)
    try:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=True, header_encoding="utf-8"))
        conn.initiate_connection()
        answers, ids, pending = {}, [], {}
        for method, path, extra, body, trailers in requests:
            sid = conn.get_next_available_stream_id()
            ids.append(sid)
            answers[sid] = Answer()
            hdrs = request_headers("a.test", path, method, tls, extra)
            conn.send_headers(sid, hdrs, end_stream=body is None and not trailers)
            if body is not None or trailers:
                pending[sid] = [memoryview(body or b""), trailers]
        sock.sendall(conn.data_to_send())
        open_streams = set(ids)
        end = harness.deadline(timeout)
        while open_streams:
            _send_pending(conn, pending)
            out = conn.data_to_send()
            if out:
                sock.sendall(out)
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError("streams %s still open after %.1fs"
                                     % (sorted(open_streams), timeout * harness.SLOWDOWN))
            sock.settimeout(left)
            try:
                data = sock.recv(1 << 20)
            except socket.timeout:
                continue
            if not data:
                raise AssertionError("server closed the connection with streams %s open"
                                     % sorted(open_streams))
            for ev in conn.receive_data(data):
                sid = getattr(ev, "stream_id", None)
                a = answers.get(sid)
                if isinstance(ev, h2.events.ResponseReceived):
                    a.headers = list(ev.headers)
                    a.status = int(a.header(":status"))
                elif isinstance(ev, h2.events.DataReceived):
                    a.body += ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, sid)
                elif isinstance(ev, h2.events.TrailersReceived):
                    a.trailers = list(ev.headers)
                elif isinstance(ev, h2.events.StreamEnded):
                    open_streams.discard(sid)
                elif isinstance(ev, h2.events.StreamReset):
                    a.reset = ev.error_code
                    open_streams.discard(sid)
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    raise AssertionError("GOAWAY %s with streams %s open"
                                         % (ev.error_code, sorted(open_streams)))
        try:
            conn.close_connection()
            sock.sendall(conn.data_to_send())
        except OSError:
            pass
        return [answers[sid] for sid in ids]
    finally:
        sock.close()


def _send_pending(conn, pending):
    """Request bodies as far as flow control allows, then their trailers or END_STREAM."""
    for sid in list(pending):
        body, trailers = pending[sid]
        while len(body):
            n = min(len(body), conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
            if not n:
                break
            conn.send_data(sid, body[:n].tobytes())
            body = pending[sid][0] = body[n:]
        if not len(body):
            if trailers:
                conn.send_headers(sid, trailers, end_stream=True)
            else:
                conn.end_stream(sid)
            del pending[sid]


def get(port, tls, path="/", timeout=20.0):
    """One GET on a new connection; its Answer."""
    return exchange(port, tls, [("GET", path, (), None, None)], timeout)[0]


# --- the server under test --------------------------------------------------------------------

class Server:
    """What the tests need of the server under test, Outrigger or the stand-in.

    port: the listener speaking HTTP/2 (h2c by prior knowledge, or TLS with ALPN).
    http1_port: where the same server answers HTTP/1.1 on the same kind of listener (for
    Outrigger the same port: TLS by ALPN, h2c by the preface)."""

    def __init__(self, port, tls, http1_port, proxy=None, pids=()):
        self.port, self.tls, self.http1_port = port, tls, http1_port
        self.proxy = proxy
        self._pids = list(pids)
        self.label = "tls" if tls else "h2c"

    def url(self, path, http1=False):
        return "%s://127.0.0.1:%d%s" % ("https" if self.tls else "http",
                                       self.http1_port if http1 else self.port, path)

    def pids(self):
        """The server's processes: Outrigger's one, or nginx's master and its workers."""
        if self.proxy:
            return [self.proxy.pid]
        out = list(self._pids)
        for pid in self._pids:
            try:
                with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                    out += [int(p) for p in f.read().split()]
            except OSError:
                pass
        return out

    def rss_kib(self):
        total = 0
        for pid in self.pids():
            try:
                with open("/proc/%d/status" % pid) as f:
                    total += next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
            except (OSError, StopIteration):
                pass
        return total


class H2TestCase(TlsTestCase):
    """Starts Outrigger (or the stand-in) serving HTTP/2 in front of h2_backend.py."""

    outrigger = STANDIN == ""

    def start_h2_backend(self, name="api", **kw):
        return self.start_backend(name, script=H2_BACKEND_PY, **kw)

    def start_h2(self, tls, backend=None, listener=None, pool=None):
        """The server under test with one listener: TLS (certificate for a.test, ALPN h2 and
        http/1.1) or plaintext with h2c; routes / to `backend`."""
        backend = backend or self.start_h2_backend()
        cert = self.make_cert(["a.test"]) if tls else None
        if STANDIN == "nginx":
            return self._start_nginx(tls, backend, cert)
        if STANDIN:
            raise AssertionError("OUTRIGGER_H2_STANDIN=%r: only 'nginx' is known" % STANDIN)
        lst = {"h2c": True}
        if tls:
            lst = {"tls": {"certificates": [{"cert": cert[0], "key": cert[1]}],
                           "alpn": ["h2", "http/1.1"]}}
        lst.update(listener or {})
        proxy = self.start_proxy(self.config(pools={"api": pool or self.pool(backend)},
                                             listener=lst))
        return Server(proxy.port, tls, proxy.port, proxy=proxy)

    def _start_nginx(self, tls, backend, cert):
        # STAND-IN SHIM. nginx 1.22's plaintext `http2` listener speaks only HTTP/2, so
        # HTTP/1.1 gets a second listener there; proxy_request_buffering off makes nginx
        # stream request bodies upstream as Outrigger does; proxy_max_temp_file_size 0 keeps
        # responses out of temp files (the workers, as nobody, cannot write in the test's
        # temp dir) and makes nginx stop reading a backend its client does not read.
        if not nginx_util.NGINX:
            self.skipTest("nginx is not installed")
        port, h1 = harness.free_port(), harness.free_port()
        ssl_lines = ""
        if tls:
            ssl_lines = "        ssl_certificate %s;\n        ssl_certificate_key %s;\n" % cert[:2]
        listen = "        listen 127.0.0.1:%d%s http2;\n" % (port, " ssl" if tls else "")
        if not tls:
            listen += "        listen 127.0.0.1:%d;\n" % h1
        else:
            h1 = port
        prefix = os.path.join(self.tmp, "nginx-%d" % port)
        conf = ("worker_processes 1;\nerror_log %s/logs/error.log info;\npid %s/nginx.pid;\n"
                "events { worker_connections 4096; }\nhttp {\n%s\n    access_log off;\n"
                "    upstream api { server %s; keepalive 32; }\n"
                "    server {\n%s%s"
                "        client_max_body_size 0;\n        proxy_request_buffering off;\n"
                "        proxy_max_temp_file_size 0;\n"
                "        proxy_http_version 1.1;\n"
                "        proxy_set_header Connection \"\";\n"
                "        location / { proxy_pass http://api; }\n    }\n}\n"
                % (prefix, prefix, nginx_util.temp_paths(prefix), backend.address, listen,
                   ssl_lines))
        proc = nginx_util.start(self, prefix, port, conf)
        return Server(port, tls, h1, pids=[proc.pid])

    def curl(self, server, path, *args, http1=False, timeout=20.0):
        """curl on `path` over HTTP/2 (or HTTP/1.1): (status, headers {lower name: value},
        body bytes, HTTP version curl reports)."""
        version = ["--http1.1"] if http1 else (
            ["--http2"] if server.tls else ["--http2-prior-knowledge"])
        head = os.path.join(self.tmp, "curl-head-%d" % time.monotonic_ns())
        cmd = ["curl", "-sS", "-k", "--max-time", str(timeout * harness.SLOWDOWN), *version,
               "-D", head, "-w", "%{http_version}", "-o", head + ".body", *args,
               server.url(path, http1)]
        r = subprocess.run(cmd, capture_output=True, timeout=(timeout + 10) * harness.SLOWDOWN)
        self.assertEqual(r.returncode, 0, "%s: %s" % (" ".join(cmd), r.stderr.decode()))
        with open(head, "rb") as f:
            text = f.read().decode("latin-1")
        # The final head: 1xx heads (100 Continue) come before it, trailers after it.
        blocks = [b.splitlines() for b in text.replace("\r\n", "\n").split("\n\n")]
        lines = [b for b in blocks if b and b[0].startswith("HTTP/")][-1]
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        body = b""
        # With -I (HEAD) curl writes the head where the body would go.
        if "-I" not in args and os.path.exists(head + ".body"):
            with open(head + ".body", "rb") as f:
                body = f.read()
        return status, headers, body, r.stdout.decode().strip()
