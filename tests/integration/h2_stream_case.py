"""StreamCase: the fixture of the Http2Session attack tests (test_http2_*_attacks.py,
test_http2_plugin_streams.py): an h2 backend, the proxy in front of it, raw HTTP/2 clients, and
the check that the proxy settles after an attack: its in-flight gauges back to zero and a new
client still served."""

import hyperframe.frame as hf

import harness
import metrics_util
from h2_client import H2TestCase, RawH2, get, request_headers

GAUGES = ("outrigger_backend_inflight_requests", "outrigger_pool_pending_requests",
          "outrigger_pool_inflight_requests")


class StreamCase(H2TestCase):
    def setUp(self):
        super().setUp()
        self.backend = self.start_h2_backend()

    def start(self, tls=False, **kw):
        self.server = self.start_h2(tls, self.backend, **kw)
        return self.server

    def client(self, **kw):
        c = RawH2(self.server.port, self.server.tls, **kw)
        self.addCleanup(c.close)
        return c

    def hdrs(self, path, method="GET", extra=()):
        return request_headers("a.test", path, method, self.server.tls, extra)

    def gauges(self):
        samples, _ = metrics_util.scrape(self.server.proxy)
        return {n: v for (n, _), v in samples.items() if n in GAUGES and v != 0}

    def assert_settles(self, timeout=15):
        """Every in-flight gauge back to zero, and a new client served."""
        harness.wait_until(lambda: not self.gauges(), timeout,
                           what="in-flight gauges back to zero")
        a = get(self.server.port, self.server.tls, "/", timeout=10)
        self.assertEqual(a.status, 200)
        self.assertTrue(a.body.startswith(b"hello from "), a.body)

    def ended(self, c, sid):
        """The stream's answer has ended (END_STREAM) or it was reset."""
        for f in c.stream_frames(sid):
            if isinstance(f, hf.RstStreamFrame) or "END_STREAM" in getattr(f, "flags", ()):
                return True
        return False

    def body_of(self, c, sid):
        return b"".join(f.data for f in c.stream_frames(sid, hf.DataFrame))
