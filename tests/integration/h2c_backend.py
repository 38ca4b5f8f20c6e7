"""A plain HTTP/2 (h2c, prior knowledge) backend for `protocol: h2` pools, in a thread of the
test process: GET /blob?n=N answers N pattern bytes; POST (any path) answers JSON {length,
sha256} of the body it read; every answer carries `x-backend: NAME`. Flow control is honoured
both ways, so bodies larger than a window cross it.

Misbehaviour, by path (KEY names a request so that its retry can be told from it):
  /refuse-once/KEY   RST_STREAM REFUSED_STREAM the first time KEY comes, then an answer
  /refuse-always     RST_STREAM REFUSED_STREAM every time
  /goaway-once/KEY   the first time: GOAWAY NO_ERROR naming the stream before it, then close
  /hang              no answer ever (the stream stays open)
  /slow?ms=M         an answer M ms late (the connection's other streams wait too)
  /goaway-error      GOAWAY INTERNAL_ERROR naming this stream (it may have been processed),
                     then the connection closes
  /rst-mid           head and 10 bytes of a 100-byte body, then RST_STREAM INTERNAL_ERROR
  /close-mid         head and 10 bytes of a 100-byte body, then the connection closes
  /close-now         the connection closes at once (the request may have been processed)
  /status?code=C     a head of status C with END_STREAM (204, 304: no body; 304 says length 5)
  /early             a 103 head, then an answer as for GET /blob?n=4
  /close-in-body     the connection closes once 1000 body bytes arrived
  /then-close        an answer, then GOAWAY NO_ERROR naming it and a close (an HTTP/2
                     server's idle timeout firing)
  /headers?n=N       an answer with N extra 100-byte header fields
  /nolength?n=N      N pattern bytes with no content-length (the end is END_STREAM only)
  /lower-streams?n=N SETTINGS_MAX_CONCURRENT_STREAMS N on its connection, then an answer
  /answer-early      a request with a body is answered "ok" at its head, before its body
  /late-end?code=C&n=N&cl=L  a head of status C (default 200; content-length N unless L is
                     0) without END_STREAM, N body bytes (none to HEAD, 204, 304), then an
                     empty DATA frame with END_STREAM: the end comes after the head (N under
                     the stream's window, as for /trailers)
  /trailers?n=N&cl=L N pattern bytes (content-length N unless L is 0; no body to HEAD), then
                     trailers x-t: done and x-n: N ending the stream
  /continue          a request with a body gets a 100 head at its head, then the POST answer
`goaway_at`: the first connection holds its first requests until it has that many, then
answers the first, sends GOAWAY NO_ERROR naming it, and closes (a graceful shutdown racing
streams). `window` sets SETTINGS_INITIAL_WINDOW_SIZE. `close_first` connections close right
after the backend's SETTINGS, before reading. `keys` may be one set shared by several
backends. `max_streams` sets SETTINGS_MAX_CONCURRENT_STREAMS; `delay` holds each answer that
long. `sent` counts response body bytes written. `seen` lists (method, path, whole) of
requests whose head arrived (whole: END_STREAM seen); `resets` lists (path, error code) of
streams the proxy reset; `trailers` lists (path, [(name, value)]) of request trailers received.
A GET with `hold=N` is answered only once N such requests are open on its connection, so that
answering proves they were concurrent there. With `tls=(cert, key)` it speaks TLS and offers
`alpn` (HTTP/2 is spoken whatever the client selected); `selected` lists what ALPN chose on
each connection."""

import hashlib
import json
import socket
import ssl
import threading
import time
import urllib.parse

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings


class _Closed(Exception):
    """The backend closes the connection (a misbehaviour)."""


def pattern(n):
    return (bytes(range(251)) * (n // 251 + 1))[:n]


class H2cBackend:
    def __init__(self, name, max_streams=None, delay=0.0, keys=None, close_first=0,
                 goaway_at=0, window=None, tls=None, alpn=("h2",)):
        self.name = name
        self.tls = None
        if tls:
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(*tls)
            self.tls.set_alpn_protocols(list(alpn))
        self.selected = []
        self.max_streams = max_streams
        self.delay = delay
        self.requests = 0
        self.seen = []
        self.resets = []
        self.trailers = []
        self.keys = set() if keys is None else keys  # shared: a KEY misbehaves once in all
        self.connections = 0
        self.close_first = close_first
        self.goaway_at = goaway_at
        self.window = window
        self.sent = 0  # response body bytes handed to the socket
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.address = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.threads = []
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self):
        self.sock.close()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        if self.tls:
            try:
                c.settimeout(10)
                c = self.tls.wrap_socket(c, server_side=True)
                c.settimeout(None)
                with self.lock:
                    self.selected.append(c.selected_alpn_protocol())
            except (OSError, ssl.SSLError):
                c.close()
                return
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        conn.initiate_connection()
        settings = {}
        if self.max_streams is not None:
            settings[h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS] = self.max_streams
        if self.window is not None:
            settings[h2.settings.SettingCodes.INITIAL_WINDOW_SIZE] = self.window
        if settings:
            conn.update_settings(settings)
        c.sendall(conn.data_to_send())
        with self.lock:
            self.connections += 1
            close = self.connections <= self.close_first
        if close:
            c.close()
            return
        streams = {}
        paths = {}
        held = []  # goaway_at's
        holding = []  # hold=N's
        try:
            while True:
                data = c.recv(65536)
                if not data:
                    return
                for ev in conn.receive_data(data):
                    if isinstance(ev, h2.events.RequestReceived):
                        headers = dict(ev.headers)
                        streams[ev.stream_id] = (headers, bytearray())
                        paths[ev.stream_id] = headers[b":path"].decode()
                        if ev.stream_ended is None:
                            self._record(headers, False)
                            if paths[ev.stream_id] == "/answer-early":
                                conn.send_headers(ev.stream_id, [(":status", "200"),
                                                                 ("content-length", "2")])
                                conn.send_data(ev.stream_id, b"ok", end_stream=True)
                            elif paths[ev.stream_id] == "/continue":
                                conn.send_headers(ev.stream_id, [(":status", "100")])
                    elif isinstance(ev, h2.events.DataReceived):
                        streams[ev.stream_id][1].extend(ev.data)
                        if (paths[ev.stream_id] == "/close-in-body"
                                and len(streams[ev.stream_id][1]) >= 1000):
                            raise _Closed()
                        conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                        if self.window is not None and ev.flow_controlled_length:
                            # h2 sizes a stream's updates by the window it had before its
                            # SETTINGS were acknowledged: with a tiny one it would never send
                            conn.increment_flow_control_window(ev.flow_controlled_length,
                                                               stream_id=ev.stream_id)
                    elif isinstance(ev, h2.events.TrailersReceived):
                        with self.lock:
                            self.trailers.append((paths[ev.stream_id],
                                                  [(k.decode(), v.decode())
                                                   for k, v in ev.headers]))
                    elif isinstance(ev, h2.events.StreamEnded):
                        headers, body = streams.pop(ev.stream_id)
                        self._record(headers, True)
                        if paths[ev.stream_id] == "/answer-early":
                            continue  # answered already
                        if self.goaway_at:
                            held.append((ev.stream_id, headers, body))
                            if len(held) == self.goaway_at:
                                self.goaway_at = 0
                                first = held[0]
                                self._answer(c, conn, *first)  # h2 sends nothing after GOAWAY
                                conn.close_connection(h2.errors.ErrorCodes.NO_ERROR,
                                                      last_stream_id=first[0])
                                c.sendall(conn.data_to_send())
                                raise _Closed()
                            continue
                        url = urllib.parse.urlsplit(paths[ev.stream_id])
                        hold = int(urllib.parse.parse_qs(url.query).get("hold", ["0"])[0])
                        if hold:
                            holding.append((ev.stream_id, headers, body))
                            if len(holding) >= hold:
                                for args in holding:
                                    self._answer(c, conn, *args)
                                holding.clear()
                            continue
                        if not self._misbehave(c, conn, ev.stream_id, headers):
                            self._answer(c, conn, ev.stream_id, headers, body)
                            if paths[ev.stream_id] == "/then-close":
                                conn.close_connection(h2.errors.ErrorCodes.NO_ERROR,
                                                      last_stream_id=ev.stream_id)
                                c.sendall(conn.data_to_send())
                                raise _Closed()
                    elif isinstance(ev, h2.events.StreamReset):
                        streams.pop(ev.stream_id, None)
                        with self.lock:
                            self.resets.append((paths.get(ev.stream_id), int(ev.error_code)))
                c.sendall(conn.data_to_send())
        except _Closed:
            # A FIN, not the RST a close with unread bytes would send: the proxy must get to
            # read what went before (the kernel drops it on a RST).
            try:
                c.shutdown(socket.SHUT_WR)
                c.settimeout(2)
                while c.recv(65536):
                    pass
            except OSError:
                pass
        except (OSError, h2.exceptions.ProtocolError):
            return
        finally:
            c.close()

    def _record(self, headers, whole):
        with self.lock:
            entry = (headers[b":method"].decode(), headers[b":path"].decode(), whole)
            if whole and entry[:2] + (False,) in self.seen:
                self.seen.remove(entry[:2] + (False,))
            self.seen.append(entry)

    def paths(self):
        with self.lock:
            return [p for _, p, _ in self.seen]

    def _first(self, key):
        with self.lock:
            if key in self.keys:
                return False
            self.keys.add(key)
            return True

    def _misbehave(self, c, conn, stream_id, headers):
        """Acts out the path's misbehaviour; True when the stream gets no normal answer."""
        path = headers[b":path"].decode()
        if path.startswith("/refuse-once/") and self._first(path):
            conn.reset_stream(stream_id, h2.errors.ErrorCodes.REFUSED_STREAM)
            return True
        if path == "/refuse-always":
            conn.reset_stream(stream_id, h2.errors.ErrorCodes.REFUSED_STREAM)
            return True
        if path.startswith("/goaway-once/") and self._first(path):
            conn.close_connection(h2.errors.ErrorCodes.NO_ERROR,
                                  last_stream_id=max(stream_id - 2, 0))
            c.sendall(conn.data_to_send())
            raise _Closed()
        if path == "/hang":
            return True
        if path.startswith("/lower-streams?"):
            n = int(urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)["n"][0])
            conn.update_settings({h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: n})
            return False
        if path.startswith("/status?"):
            code = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)["code"][0]
            fields = [(":status", code), ("x-backend", self.name)]
            if code == "304":
                fields.append(("content-length", "5"))
            conn.send_headers(stream_id, fields, end_stream=True)
            return True
        if path == "/early":
            conn.send_headers(stream_id, [(":status", "103"), ("link", "</a.css>; rel=preload")])
            headers[b":path"] = b"/blob?n=4"
            return False
        if path.startswith("/slow?"):
            ms = int(urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)["ms"][0])
            time.sleep(ms / 1000)
            return False
        if path == "/goaway-error":
            conn.close_connection(h2.errors.ErrorCodes.INTERNAL_ERROR, last_stream_id=stream_id)
            c.sendall(conn.data_to_send())
            raise _Closed()
        if path in ("/rst-mid", "/close-mid"):
            conn.send_headers(stream_id, [(":status", "200"), ("x-backend", self.name),
                                          ("content-length", "100")])
            conn.send_data(stream_id, pattern(10))
            if path == "/rst-mid":
                conn.reset_stream(stream_id, h2.errors.ErrorCodes.INTERNAL_ERROR)
                return True
            c.sendall(conn.data_to_send())
            raise _Closed()
        if path == "/close-now":
            raise _Closed()
        if urllib.parse.urlsplit(path).path in ("/late-end", "/trailers"):
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
            code = query.get("code", ["200"])[0]
            n = int(query.get("n", ["0"])[0])
            fields = [(":status", code), ("x-backend", self.name)]
            if query.get("cl", ["1"])[0] != "0":
                fields.append(("content-length", str(n)))
            conn.send_headers(stream_id, fields)
            if n and headers[b":method"] != b"HEAD" and code not in ("204", "304"):
                out = pattern(n)  # tests keep n under the stream's window
                for i in range(0, n, conn.max_outbound_frame_size):
                    conn.send_data(stream_id, out[i:i + conn.max_outbound_frame_size])
            if path.startswith("/late-end"):
                conn.end_stream(stream_id)
            else:
                conn.send_headers(stream_id, [("x-t", "done"), ("x-n", str(n))],
                                  end_stream=True)
            return True
        return False

    def _answer(self, c, conn, stream_id, headers, body):
        with self.lock:
            self.requests += 1
        if self.delay:
            time.sleep(self.delay)
        method = headers[b":method"].decode()
        url = urllib.parse.urlsplit(headers[b":path"].decode())
        query = urllib.parse.parse_qs(url.query)
        if method == "POST":
            out = json.dumps({"length": len(body),
                              "sha256": hashlib.sha256(body).hexdigest()}).encode()
        else:
            out = pattern(int(query.get("n", ["0"])[0]))
        extra = []
        if url.path == "/headers":
            extra = [("x-h%d" % i, "v" * 100) for i in range(int(query["n"][0]))]
        if url.path == "/nolength":
            out = pattern(int(query["n"][0]))
        else:
            extra.append(("content-length", str(len(out))))
        conn.send_headers(stream_id, [(":status", "200"), ("x-backend", self.name)] + extra,
                          end_stream=method == "HEAD")
        if method == "HEAD":  # the length a GET gets, no body
            c.sendall(conn.data_to_send())
            return
        sent = 0
        while sent < len(out):
            window = min(conn.local_flow_control_window(stream_id), conn.max_outbound_frame_size)
            if window == 0:
                c.sendall(conn.data_to_send())
                data = c.recv(65536)
                if not data:
                    raise _Closed()
                for ev in conn.receive_data(data):
                    # WindowUpdated; a new request meanwhile is dropped (tests send none)
                    if isinstance(ev, h2.events.StreamReset):
                        with self.lock:
                            self.resets.append((headers[b":path"].decode()
                                                if ev.stream_id == stream_id else None,
                                                int(ev.error_code)))
                        if ev.stream_id == stream_id:
                            c.sendall(conn.data_to_send())
                            return
                continue
            chunk = out[sent:sent + window]
            conn.send_data(stream_id, chunk)
            sent += len(chunk)
            with self.lock:
                self.sent += len(chunk)
        conn.end_stream(stream_id)
        c.sendall(conn.data_to_send())
