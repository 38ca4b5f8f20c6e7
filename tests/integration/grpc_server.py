"""A grpcio server on 127.0.0.1 for the gRPC tests: generic handlers (no protoc), raw bytes in
and out, plaintext or TLS. Subclasses name their methods in `handlers()` and count the calls
they serve with `count()`; `slow` is a method every suite uses to see a cancel arrive."""

import threading
import time
from concurrent import futures

import grpc


class GrpcServer:
    def __init__(self, tls=None):
        """tls: (certificate file, key file), or None for plaintext (h2c)."""
        self.calls = 0
        self.cancelled = 0
        self.lock = threading.Lock()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        self.server.add_generic_rpc_handlers(tuple(
            grpc.method_handlers_generic_handler(service, methods)
            for service, methods in self.handlers().items()))
        if tls:
            with open(tls[0], "rb") as c, open(tls[1], "rb") as k:
                creds = grpc.ssl_server_credentials([(k.read(), c.read())])
            self.port = self.server.add_secure_port("127.0.0.1:0", creds)
        else:
            self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()
        self.address = "127.0.0.1:%d" % self.port

    def handlers(self):
        """{service: {method: grpc method handler}}."""
        raise NotImplementedError

    def count(self):
        with self.lock:
            self.calls += 1

    def call_count(self):
        with self.lock:
            return self.calls

    def on_cancel(self):
        with self.lock:
            self.cancelled += 1

    def slow(self, request, context):
        """Answers after 30 s unless the call is cancelled first (counted in `cancelled`)."""
        self.count()
        context.add_callback(self.on_cancel)
        deadline = time.monotonic() + 30
        while context.is_active() and time.monotonic() < deadline:
            time.sleep(0.01)
        return b"late"

    def stop(self):
        self.server.stop(0).wait(5)
