"""A plain HTTP/2 (h2c, prior knowledge) backend for `protocol: h2` pools, in a thread of the
test process: GET /blob?n=N answers N pattern bytes; POST (any path) answers JSON {length,
sha256} of the body it read; every answer carries `x-backend: NAME`. Flow control is honoured
both ways, so bodies larger than a window cross it. A GET with `hold=N` is answered only once
N such requests are open on its connection, so that answering proves they were concurrent
there. `connections` counts the connections accepted. With `tls=(cert, key)` it speaks TLS
and offers `alpn` (HTTP/2 is spoken whatever the client selected); `selected` lists what
ALPN chose on each connection."""

import hashlib
import json
import socket
import ssl
import threading
import urllib.parse

import h2.config
import h2.connection
import h2.events


def pattern(n):
    return bytes(i % 251 for i in range(n))


class H2cBackend:
    def __init__(self, name, tls=None, alpn=("h2",)):
        self.name = name
        self.tls = None
        if tls:
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(*tls)
            self.tls.set_alpn_protocols(list(alpn))
        self.requests = 0
        self.connections = 0
        self.selected = []
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
            with self.lock:
                self.connections += 1
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
        c.sendall(conn.data_to_send())
        streams = {}
        held = []
        try:
            while True:
                data = c.recv(65536)
                if not data:
                    return
                for ev in conn.receive_data(data):
                    if isinstance(ev, h2.events.RequestReceived):
                        streams[ev.stream_id] = (dict(ev.headers), bytearray())
                    elif isinstance(ev, h2.events.DataReceived):
                        streams[ev.stream_id][1].extend(ev.data)
                        conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    elif isinstance(ev, h2.events.StreamEnded):
                        headers, body = streams.pop(ev.stream_id)
                        url = urllib.parse.urlsplit(headers[b":path"].decode())
                        hold = int(urllib.parse.parse_qs(url.query).get("hold", ["0"])[0])
                        if hold == 0:
                            self._answer(c, conn, ev.stream_id, headers, body)
                            continue
                        held.append((ev.stream_id, headers, body))
                        if len(held) >= hold:
                            for args in held:
                                self._answer(c, conn, *args)
                            held.clear()
                c.sendall(conn.data_to_send())
        except (OSError, h2.exceptions.ProtocolError):
            return
        finally:
            c.close()

    def _answer(self, c, conn, stream_id, headers, body):
        with self.lock:
            self.requests += 1
        method = headers[b":method"].decode()
        url = urllib.parse.urlsplit(headers[b":path"].decode())
        if method == "POST":
            out = json.dumps({"length": len(body),
                              "sha256": hashlib.sha256(body).hexdigest()}).encode()
        else:
            out = pattern(int(urllib.parse.parse_qs(url.query).get("n", ["0"])[0]))
        conn.send_headers(stream_id, [(":status", "200"), ("x-backend", self.name),
                                      ("content-length", str(len(out)))])
        sent = 0
        while sent < len(out):
            window = min(conn.local_flow_control_window(stream_id), conn.max_outbound_frame_size)
            if window == 0:
                c.sendall(conn.data_to_send())
                for ev in conn.receive_data(c.recv(65536)):
                    pass  # WindowUpdated, or a new request this test does not send meanwhile
                continue
            chunk = out[sent:sent + window]
            conn.send_data(stream_id, chunk)
            sent += len(chunk)
        conn.end_stream(stream_id)
        c.sendall(conn.data_to_send())
