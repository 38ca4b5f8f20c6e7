"""A backend that misbehaves at gRPC health probes (grpc.health.v1.Health/Check), in threads
of the test process. `mode` says how it answers each probe:
  http1        an HTTP/1.1 response to the preface
  cut          SETTINGS, then half a frame header, then a close
  goaway       GOAWAY PROTOCOL_ERROR naming no stream, then a close
  rst          RST_STREAM INTERNAL_ERROR on the probe's stream
  endless      a 200 head and DATA until the proxy stops reading or resets
  big-headers  a 200 head with 200 fields of 1000 bytes (HEADERS + CONTINUATION)
  big-trailers a framed SERVING message, then trailers with 200 fields of 1000 bytes
  not-proto    a framed message that is no protobuf, grpc-status 0
  no-message   a framed SERVING message, trailers with grpc-status 14 and no grpc-message
  window0      SETTINGS_INITIAL_WINDOW_SIZE 0: the probe's body never gets to go
  mute         accepts and never reads nor writes
Any other mode answers SERVING. `probes` counts connections accepted."""

import select
import socket
import threading

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

SERVING_MESSAGE = b"\x00\x00\x00\x00\x02\x08\x01"


class HostileGrpcBackend:
    def __init__(self, mode, host="127.0.0.1", port=0):
        self.mode = mode
        self.probes = 0
        self.lock = threading.Lock()
        self.conns = []
        self.sock = socket.socket()
        self.sock.bind((host, port))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.address = "%s:%d" % (host, self.port)
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self):
        self.sock.close()
        with self.lock:
            for c in self.conns:
                c.close()

    def count(self):
        with self.lock:
            return self.probes

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.probes += 1
                self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            c.settimeout(10)
            self._act(c)
        except (OSError, h2.exceptions.H2Error):
            pass
        finally:
            if self.mode != "mute":
                c.close()

    def _request(self, c, conn):
        """Reads until the probe's request has ended; returns its stream id."""
        while True:
            data = c.recv(65536)
            if not data:
                raise OSError("closed")
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.StreamEnded):
                    c.sendall(conn.data_to_send())
                    return ev.stream_id
            c.sendall(conn.data_to_send())

    def _act(self, c):
        mode = self.mode
        if mode == "mute":
            return
        if mode == "http1":
            c.recv(65536)
            c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            return
        conn = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=False, header_encoding="utf-8"))
        conn.initiate_connection()
        if mode == "window0":
            conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
        if mode == "cut":
            c.sendall(conn.data_to_send() + b"\x00\x00\x08\x00")
            c.recv(65536)
            return
        c.sendall(conn.data_to_send())
        if mode == "goaway":
            c.recv(65536)
            conn.close_connection(h2.errors.ErrorCodes.PROTOCOL_ERROR)
            c.sendall(conn.data_to_send())
            return
        if mode == "window0":
            # The probe's HEADERS come; its DATA cannot: hold until the proxy gives up.
            while c.recv(65536):
                conn_data = conn.data_to_send()
                if conn_data:
                    c.sendall(conn_data)
            return
        sid = self._request(c, conn)
        head = [(":status", "200"), ("content-type", "application/grpc")]
        if mode == "rst":
            conn.reset_stream(sid, h2.errors.ErrorCodes.INTERNAL_ERROR)
        elif mode == "endless":
            conn.send_headers(sid, head)
            c.sendall(conn.data_to_send())
            self._endless(c, conn, sid)
            return
        elif mode == "big-headers":
            conn.send_headers(sid, head + [("x-h%d" % i, "v" * 1000) for i in range(200)])
        else:
            conn.send_headers(sid, head)
            body = b"\x00\x00\x00\x00\x03\xff\xff\xff" if mode == "not-proto" else SERVING_MESSAGE
            conn.send_data(sid, body)
            if mode == "big-trailers":
                trailers = [("grpc-status", "0")] + [("x-t%d" % i, "v" * 1000)
                                                     for i in range(200)]
            elif mode == "no-message":
                trailers = [("grpc-status", "14")]
            else:
                trailers = [("grpc-status", "0")]
            conn.send_headers(sid, trailers, end_stream=True)
        c.sendall(conn.data_to_send())
        while c.recv(65536):  # until the proxy closes
            pass

    @staticmethod
    def _endless(c, conn, sid):
        chunk = b"\x00" * 16384
        while True:
            if select.select([c], [], [], 0.005)[0]:
                data = c.recv(65536)
                if data == b"":
                    return
                for ev in conn.receive_data(data):
                    if isinstance(ev, h2.events.StreamReset):
                        return
            window = min(conn.local_flow_control_window(sid), len(chunk))
            if window > 0:
                conn.send_data(sid, chunk[:window])
            out = conn.data_to_send()
            if out:
                c.sendall(out)
