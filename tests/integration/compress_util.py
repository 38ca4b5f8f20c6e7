"""What the compress tests share: a backend whose every response is written byte by byte by
the test (framing, pauses, resets), compressible text, and a client that reads a compressed
body piece by piece and decodes each piece as it arrives.

The backend runs in the test's process so that a test can hold a response half sent until
it has seen what the proxy did with the first half (threading.Event)."""

import random
import socket
import threading
import zlib

import brotli

import harness

WORDS = ("proxy backend stream chunk gzip brotli header body client worker loop event buffer "
         "route pool listener config reload metric vary etag range type size level quality "
         "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda omicron sigma").split()


def text(size, seed=1):
    """`size` bytes of compressible but not repetitive text (seeded, so reproducible)."""
    rng = random.Random(seed)
    words = rng.choices(WORDS, k=size // 5 + 16)
    return " ".join(words).encode()[:size]


class Request:
    def __init__(self, method, target, version, headers):
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers  # {lower-case name: value}
        self.body = b""


class RawBackend:
    """A backend on 127.0.0.1 that hands each request to handlers[path](sock, request).

    A handler writes the whole response itself and returns True to keep the connection for
    the next request. Handlers run on the connection's thread; exceptions close it."""

    def __init__(self):
        self.handlers = {}
        self.requests = []  # every Request, in arrival order
        self.errors = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((harness.LOOPBACK, 0))
        self._listener.listen(512)
        self.port = self._listener.getsockname()[1]
        self._conns = []
        self._lock = threading.Lock()
        self._stopped = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def address(self):
        return "%s:%d" % (harness.LOOPBACK, self.port)

    def stop(self):
        self._stopped = True
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() (close does not)
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.close()
            except OSError:
                pass
        self._thread.join(5)

    def _accept(self):
        while not self._stopped:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._conns.append(sock)
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock):
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = sock.recv(65536)
                    if not data:
                        return
                    buf += data
                head, buf = buf.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                method, target, version = lines[0].split(" ")
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                req = Request(method, target, version, headers)
                n = int(headers.get("content-length", "0"))
                while len(buf) < n:
                    data = sock.recv(65536)
                    if not data:
                        return
                    buf += data
                req.body, buf = buf[:n], buf[n:]
                self.requests.append(req)
                handler = self.handlers.get(target.split("?")[0])
                if handler is None:
                    sock.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                    continue
                if not handler(sock, req):
                    return
        except OSError:
            return
        except Exception as e:  # a handler's bug: visible to the test through `errors`
            self.errors.append(repr(e))
        finally:
            try:
                sock.close()
            except OSError:
                pass


def head_bytes(status=200, headers=(), reason="OK"):
    lines = ["HTTP/1.1 %d %s" % (status, reason)] + ["%s: %s" % h for h in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def fixed(body, ctype="text/plain", headers=(), status=200):
    """A handler: `body` with a Content-Length (none is sent for HEAD)."""
    def handle(sock, req):
        h = [("Content-Type", ctype)] if ctype else []
        h += [("Content-Length", str(len(body)))] + list(headers)
        sock.sendall(head_bytes(status, h) + (b"" if req.method == "HEAD" else body))
        return True
    return handle


def chunked(parts, ctype="text/plain", headers=(), trailer=None, one_write=True):
    """A handler: `parts` as one chunk each, then the last chunk with `trailer` fields.

    one_write: the whole response in one send, so that the proxy reads several chunks at
    once (else one send per chunk, which a proxy may well read one at a time)."""
    def handle(sock, req):
        h = [("Content-Type", ctype), ("Transfer-Encoding", "chunked")] + list(headers)
        tail = "".join("%s: %s\r\n" % f for f in (trailer or ()))
        pieces = [head_bytes(200, h)] + [b"%x\r\n%s\r\n" % (len(p), p) for p in parts if p]
        pieces.append(b"0\r\n" + tail.encode() + b"\r\n")
        for p in [b"".join(pieces)] if one_write else pieces:
            sock.sendall(p)
        return True
    return handle


def close_delimited(body, ctype="text/plain", pieces=4):
    """A handler: `body` with no length, ended by closing (HTTP/1.0-style), in `pieces` writes."""
    def handle(sock, req):
        sock.sendall(head_bytes(200, [("Content-Type", ctype), ("Connection", "close")]))
        step = max(1, len(body) // pieces)
        for i in range(0, len(body), step):
            sock.sendall(body[i:i + step])
        sock.shutdown(socket.SHUT_WR)
        return False
    return handle


def decoder(coding):
    """A function that decodes the next piece of a `coding` body (gzip or br)."""
    if coding == "gzip":
        d = zlib.decompressobj(wbits=31)
        return d.decompress
    if coding == "br":
        return brotli.Decompressor().process
    raise AssertionError("unexpected Content-Encoding %r" % coding)


def decode(coding, data):
    if coding == "gzip":
        d = zlib.decompressobj(wbits=31)
        out = d.decompress(data)
        if not d.eof or d.unused_data:
            raise AssertionError("gzip stream not ended exactly (eof=%s, %d bytes after)"
                                 % (d.eof, len(d.unused_data)))
        return out
    if coding == "br":
        d = brotli.Decompressor()
        out = d.process(data)
        if not d.is_finished():
            raise AssertionError("brotli stream not finished")
        return out
    raise AssertionError("unexpected Content-Encoding %r" % coding)


def send_get(sock, path="/", accept="gzip", extra="", method="GET", version="1.1"):
    ae = "Accept-Encoding: %s\r\n" % accept if accept is not None else ""
    sock.sendall(("%s %s HTTP/%s\r\nHost: t\r\n%s%s\r\n"
                  % (method, path, version, ae, extra)).encode())


def read_head(rfile):
    """Status and {lower-case name: [values]} of one response head."""
    line = rfile.readline(65536)
    if not line:
        raise ConnectionError("connection closed before a status line")
    status = int(line.split(b" ")[1])
    headers = {}
    while True:
        line = rfile.readline(65536)
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return status, headers


def read_chunk(rfile):
    """The next chunk's data (b"" for the last chunk, whose trailer section it consumes)."""
    size_line = rfile.readline(1024)
    if not size_line:
        raise ConnectionError("connection closed inside a chunked body")
    size = int(size_line.split(b";")[0].strip(), 16)
    if size == 0:
        while rfile.readline(65536) not in (b"\r\n", b"\n", b""):
            pass
        return b""
    data = rfile.read(size)
    if len(data) != size or rfile.read(2) != b"\r\n":
        raise ConnectionError("chunk cut short")
    return data

