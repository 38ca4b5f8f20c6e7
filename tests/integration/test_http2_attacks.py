#!/usr/bin/env python3
"""Hostile HTTP/2 clients (issue 15), built frame by frame with hyperframe and hpack: Rapid
Reset, a CONTINUATION flood, an HPACK bomb, SETTINGS, PING and empty-DATA floods, a client
that never opens its window, 1,000 streams at once, and uploads abandoned mid-body. Each is
bounded: the connection ends (with GOAWAY where the codec says so), the server's memory and
its upstream requests stay bounded, other clients are still served, and no request a client
did not finish sending completes at the backend (h2_backend.py's request log).

Assertions marked OUTRIGGER hold Outrigger to its own limits (proxy/http2/server_codec.h),
its GOAWAY codes and its /metrics; the rest hold any correct HTTP/2 server.
OUTRIGGER_H2_STANDIN=nginx runs the client side against nginx, for comparison (h2_client.py)."""

import harness
import metrics_util
import hyperframe.frame as hf
from h2_client import (CANCEL, ENHANCE_YOUR_CALM, PROTOCOL_ERROR, REFUSED_STREAM, H2TestCase,
                       RawH2, exchange, get, request_headers)

# Where each limit is counted in /metrics: limit -> (metric, labels), as Http2Session exports
# CodecStats (outrigger_http2_limit_hits_total{listener, limit}; limit: a CodecStats field).
LIMIT_METRIC = "outrigger_http2_limit_hits_total"
LIMITS = {name: (LIMIT_METRIC, {"limit": name}) for name in (
    "streams_refused", "headers_too_large", "continuation_floods", "rapid_resets",
    "local_reset_floods", "control_floods", "empty_frame_floods", "settings_floods",
    "hpack_errors", "protocol_errors")}

# Outrigger's limits (CodecLimits defaults) that the OUTRIGGER assertions rely on.
MAX_STREAMS = 100
PEER_RESET_BURST = 1000
# Of 1,000 streams opened at once, at most this many may be served by any server that limits
# them (nginx accepts 128 and a few more it has already read).
ANY_STREAM_BOUND = 256
# Growth of the server's resident memory an attack may cause. An unbounded server would grow
# by what the attack offers: 400 MiB for the zero-window stall, far more for the floods.
RSS_GROWTH_KIB = 64 * 1024


class Http2Attacks(H2TestCase):
    def setUp(self):
        super().setUp()
        self.backend = self.start_h2_backend()

    def start(self, tls=False):
        self.server = self.start_h2(tls, self.backend)
        self.rss_before = self.server.rss_kib()
        return self.server

    def attacker(self, **kw):
        c = RawH2(self.server.port, self.server.tls, **kw)
        self.addCleanup(c.close)
        return c

    def hdrs(self, path, method="GET", extra=()):
        return request_headers("a.test", path, method, self.server.tls, extra)

    # --- what every attack must leave true ----------------------------------------------------

    def assert_still_serves(self):
        """A new client is served, over HTTP/2 and (plaintext) HTTP/1.1."""
        a = get(self.server.port, self.server.tls, "/", timeout=10)
        self.assertEqual((a.status, a.body), (200, b"hello from api\n"))
        if not self.server.tls:
            r = harness.request(self.server.http1_port, path="/", timeout=10)
            self.assertEqual(r.status, 200)

    def assert_rss_bounded(self):
        if harness.SANITIZER:
            return  # a sanitizer's RSS says nothing about our buffering
        grown = self.server.rss_kib() - self.rss_before
        self.assertLess(grown, RSS_GROWTH_KIB, "server RSS grew by %d KiB" % grown)

    def settled_stats(self):
        """The backend's stats once every request head it saw has completed or been cut: no
        request is still on its way, so `complete` is final."""
        def settled():
            s = self.backend.stats()
            # /stats itself is counted in requests and complete alike.
            return s if s["requests"] == len(s["complete"]) + s["broken"] else None
        return harness.wait_until(settled, 15, what="every backend request complete or cut")

    def assert_nothing_unfinished_arrived(self, marker):
        """No request whose path holds `marker` (sent unfinished by the attacker) completed at
        the backend."""
        done = [t for _, t, _ in self.settled_stats()["complete"] if marker in t]
        self.assertEqual(done, [], "unfinished requests completed at the backend")

    def assert_goaway(self, conn, code, timeout=10):
        """OUTRIGGER: the connection ends with a GOAWAY carrying `code`."""
        self.assertTrue(conn.wait_closed(timeout), "the server did not close the connection")
        self.assertIsNotNone(conn.goaway, "closed without a GOAWAY")
        self.assertEqual(conn.goaway.error_code, code)

    def limit_hits(self, limit):
        """OUTRIGGER: how many times /metrics counted the limit."""
        name, labels = LIMITS[limit]
        samples, _ = metrics_util.scrape(self.server.proxy)
        return sum(v for (n, l), v in samples.items()
                   if n == name and set(labels.items()) <= set(l))

    def assert_counted(self, limit):
        """OUTRIGGER: /metrics counts the limit."""
        harness.wait_until(lambda: self.limit_hits(limit) >= 1, 5,
                           what="%r counted" % (LIMITS[limit],))

    # --- the attacks ------------------------------------------------------------------------

    def test_rapid_reset_is_cut_and_reaches_no_backend(self):
        self.start()
        c = self.attacker()
        c.preface()
        # Each stream: a POST whose body never comes, reset at once (CVE-2023-44487). Sent in
        # batches so that the server's answer is read as it comes, as a real attacker's is.
        for batch in range(100):
            data = b"".join(
                c.headers(sid, self.hdrs("/digest?rr=%d" % sid, "POST",
                                         [("content-length", "10")]))
                + c.rst(sid, CANCEL)
                for sid in range(1 + 200 * batch, 1 + 200 * (batch + 1), 2))
            if not c.send(data):
                break
            c.read()
            if c.closed or c.goaway:
                break
        c.read_until(lambda x: x.goaway, 5)
        self.assert_still_serves()
        self.assert_nothing_unfinished_arrived("rr=")
        self.assert_rss_bounded()
        if self.outrigger:
            self.assert_goaway(c, ENHANCE_YOUR_CALM)
            # The last stream the server processed, not how many we got to send: a slow
            # server may have had them all in its socket buffer.
            self.assertLess(c.goaway.last_stream_id, 19999, "all 10,000 resets were processed")
            self.assertLessEqual(self.backend.stats()["by_path"].get("/digest", 0),
                                 PEER_RESET_BURST + MAX_STREAMS)
            self.assert_counted("rapid_resets")

    def test_continuation_flood_is_cut(self):
        self.start()
        c = self.attacker()
        c.preface()
        # The server's SETTINGS and its ACK of ours first: read inside the loop, the server's
        # SETTINGS would be ACKed in the middle of the header block, a PROTOCOL_ERROR of ours
        # rather than the flood (seen under load: counted as protocol_errors).
        self.assertTrue(c.read_until(lambda c: c.settings_frames >= 2, 10))
        c.send(c.headers(1, self.hdrs("/blob/cont"), end_stream=True, end_headers=False))
        # Small CONTINUATION frames (one 20-byte field each) keep the header list far under
        # 32 KiB, so only a limit on the frames themselves stops them (CVE-2024-27316).
        for i in range(1000):
            # One frame at a time, reading between: once the server has answered, sending on
            # would only make its close a reset.
            if not c.send(c.continuation(1, c.block([("x-c%d" % i, "v" * 10)]))):
                break
            if c.read() or c.closed:
                break
        self.assertTrue(c.wait_closed(10), "the server kept reading CONTINUATION frames")
        self.assert_still_serves()
        self.assertEqual([p for p in self.settled_stats()["by_path"] if "/blob/" in p], [])
        if self.outrigger:
            self.assert_goaway(c, PROTOCOL_ERROR)
            self.assert_counted("continuation_floods")

    def test_hpack_bomb_is_refused(self):
        self.start()
        c = self.attacker()
        c.preface()
        # One 4000-byte field enters the dynamic table (literal with incremental indexing),
        # then 12,000 one-byte references to it: 12 KiB on the wire, 48 MB decoded.
        value = b"b" * 4000
        block = (c.block(self.hdrs("/blob/bomb"))
                 + b"\x40\x06x-bomb" + b"\x7f" + encode_int(len(value) - 127) + value
                 + b"\xbe" * 12000)
        c.send(c.headers(1, None, end_stream=True, raw_block=block))
        c.read_until(lambda x: x.stream_frames(1) or x.goaway, 10)
        refused = c.goaway is not None or any(
            isinstance(f, hf.RstStreamFrame) for f in c.stream_frames(1))
        status = c.status_of(1)
        self.assertTrue(refused or (status is not None and 400 <= status < 500),
                        "the bomb was not refused: %r" % c.frames)
        self.assert_still_serves()
        self.assertEqual([p for p in self.settled_stats()["by_path"] if "/blob/" in p], [])
        self.assert_rss_bounded()
        if self.outrigger:
            self.assertEqual(status, 431)
            self.assert_counted("headers_too_large")

    def flood(self, frame, limit=None, total_bytes=32 << 20):
        """Sends `frame` over and over without reading anything, up to total_bytes or until
        the server stops taking them, or (OUTRIGGER) until /metrics counts `limit`; returns
        the connection. Stopping at the cut matters: the server discards what comes after it
        and closes after its linger, and a close while the flood still arrives is a reset
        that destroys the GOAWAY we have not read yet (seen with 16 floods at once)."""
        c = self.attacker(rcvbuf=4096)
        c.preface()
        batch = frame * (65536 // len(frame))
        sent = 0
        c.sock.settimeout(2 * harness.SLOWDOWN)
        while sent < total_bytes and c.send(batch):
            sent += len(batch)
            if self.outrigger and limit and sent % (256 << 10) < len(batch) and \
                    self.limit_hits(limit) >= 1:
                break
        self.flood_sent = sent
        return c

    def assert_flood_cut(self, c):
        # The replies the server queued sit in our receive buffer before its GOAWAY. (nginx
        # closes without one; a server that only stopped reading would keep the connection.)
        c.sock.settimeout(10 * harness.SLOWDOWN)
        self.assertTrue(c.wait_closed(20), "the server did not end the flooding connection "
                        "(%d bytes sent)" % self.flood_sent)
        self.assert_still_serves()
        self.assert_rss_bounded()

    def assert_cut_as_a_control_flood(self, c):
        """OUTRIGGER: counted, with GOAWAY ENHANCE_YOUR_CALM if one reached us. A flooder that
        does not read is not promised it: the server queues the GOAWAY behind the replies it
        could not send, lingers a bounded 2 s, then closes with them unsent (nginx sends no
        GOAWAY at all). With 16 floods at once on 2 CPUs, the client often reads too late."""
        self.assert_counted("control_floods")
        if c.goaway is not None:
            self.assertEqual(c.goaway.error_code, ENHANCE_YOUR_CALM)

    def test_settings_flood_is_cut(self):
        self.start()
        c = self.flood(RawH2.settings({hf.SettingsFrame.INITIAL_WINDOW_SIZE: 65535}),
                       "control_floods")
        self.assert_flood_cut(c)
        if self.outrigger:
            self.assert_cut_as_a_control_flood(c)

    def test_ping_flood_is_cut(self):
        self.start(tls=True)
        c = self.flood(RawH2.ping(), "control_floods")
        self.assert_flood_cut(c)
        if self.outrigger:
            self.assert_cut_as_a_control_flood(c)

    def test_settings_frame_with_too_many_entries_is_cut(self):
        if not self.outrigger:
            self.skipTest("OUTRIGGER: 32 SETTINGS entries per frame (nginx has no such limit)")
        self.start()
        c = self.attacker()
        c.preface()
        # Duplicate identifiers are valid; hyperframe's dict would merge them, so the frame
        # is built by hand: 100 entries of INITIAL_WINDOW_SIZE.
        payload = (b"\x00\x04\x00\x00\xff\xff") * 100
        c.send(len(payload).to_bytes(3, "big") + b"\x04\x00\x00\x00\x00\x00" + payload)
        self.assert_goaway(c, ENHANCE_YOUR_CALM)
        self.assert_still_serves()
        self.assert_counted("settings_floods")

    def test_empty_data_frame_flood_is_cut(self):
        if not self.outrigger:
            self.skipTest("OUTRIGGER: nginx does not limit empty DATA frames")
        self.start()
        c = self.attacker()
        c.preface()
        # The server's SETTINGS and its ACK of ours first: read inside the loop, they would
        # end it after one empty frame, which no server may cut.
        self.assertTrue(c.read_until(lambda c: c.settings_frames >= 2, 10))
        c.send(c.headers(1, self.hdrs("/digest?empty=1", "POST")))
        for _ in range(1000):
            # Read between frames: once the server has answered, sending on would only make
            # its close a reset.
            if not c.send(c.data(1, b"")) or c.read() or c.closed:
                break
        self.assert_goaway(c, ENHANCE_YOUR_CALM)
        self.assert_still_serves()
        self.assert_nothing_unfinished_arrived("empty=")
        self.assert_counted("empty_frame_floods")

    def test_zero_window_client_costs_no_memory_and_blocks_no_one(self):
        self.start()
        c = self.attacker()
        # A stream window of 0, never opened: the server may send heads but no DATA. 50
        # streams of 8 MiB offer 400 MiB that must stay at the backend, not in the proxy.
        c.preface({hf.SettingsFrame.INITIAL_WINDOW_SIZE: 0})
        c.send(b"".join(c.headers(1 + 2 * i, self.hdrs("/bytes?n=%d&stall=%d" % (8 << 20, i)),
                                  end_stream=True) for i in range(50)))
        harness.wait_until(lambda: self.backend.stats()["by_path"].get("/bytes", 0) == 50, 10,
                           what="the 50 stalled requests at the backend")
        # Meanwhile others are served, a large answer included.
        a = exchange(self.server.port, self.server.tls,
                     [("GET", "/bytes?n=%d" % (4 << 20), (), None, None)], timeout=30)[0]
        self.assertEqual((a.status, len(a.body)), (200, 4 << 20))
        self.assert_still_serves()
        c.read()
        self.assertFalse(c.closed, "the server closed a client that only waits")
        data = [f for f in c.frames if isinstance(f, hf.DataFrame) and f.data]
        self.assertEqual(data, [], "DATA sent past a zero window")
        self.assert_rss_bounded()

    def test_a_thousand_streams_at_once_are_bounded(self):
        self.start()
        c = self.attacker()
        c.preface()
        # The server's SETTINGS, ACKed as it arrives (RawH2.read), makes its stream limit
        # binding before the flood starts, as for any real client.
        c.read(timeout=2)
        # Each stream a POST whose body never ends: 10 of its 1000 bytes.
        c.send(b"".join(c.headers(sid, self.hdrs("/digest?many=%d" % sid, "POST",
                                                 [("content-length", "1000")]))
                        + c.data(sid, b"x" * 10)
                        for sid in range(1, 2001, 2)))
        c.read_until(lambda x: x.goaway or len(x.frames_of(hf.RstStreamFrame)) >= 800,
                     10)
        refused = {f.stream_id for f in c.frames_of(hf.RstStreamFrame)
                   if f.error_code == REFUSED_STREAM}
        open_ids = set(range(1, 2001, 2)) - refused
        if c.goaway is not None:
            open_ids = {s for s in open_ids if s <= c.goaway.last_stream_id}
        # Some bound on the streams served at once, whichever way it is kept (nginx refuses
        # past 128, then sends GOAWAY).
        codes = {}
        for f in c.frames_of(hf.RstStreamFrame):
            codes[f.error_code] = codes.get(f.error_code, 0) + 1
        self.assertLessEqual(len(open_ids), ANY_STREAM_BOUND, "streams beyond any limit were "
                             "accepted: resets %r, %r" % (codes, c.goaway))
        self.assertLessEqual(self.backend.stats()["by_path"].get("/digest", 0), len(open_ids))
        self.assert_still_serves()
        c.close()
        self.assert_nothing_unfinished_arrived("many=")
        self.assert_rss_bounded()
        if self.outrigger:
            # The client had ACKed the limit: nghttp2 makes the 101st stream a connection
            # error (server_codec.h).
            self.assertIsNotNone(c.goaway)
            self.assertEqual(c.goaway.error_code, PROTOCOL_ERROR)
            self.assertLessEqual(len(open_ids), MAX_STREAMS)
            self.assert_counted("protocol_errors")

    def test_abandoned_uploads_never_complete_at_the_backend(self):
        self.start()
        body = b"u" * 50000
        # Reset mid-body, with a content-length.
        c = self.attacker()
        c.preface({hf.SettingsFrame.INITIAL_WINDOW_SIZE: 1 << 20})
        c.send(c.headers(1, self.hdrs("/digest?abandon=reset", "POST",
                                      [("content-length", "100000")]))
               + c.data(1, body[:16000]) + c.data(1, body[16000:32000]))
        c.read_until(lambda x: self.backend.stats()["by_path"].get("/digest", 0) >= 1, 2)
        c.send(c.rst(1, CANCEL))
        # Connection closed mid-body, without a content-length (chunked upstream: the last
        # chunk must never be sent for it).
        d = self.attacker()
        d.preface()
        d.send(d.headers(1, self.hdrs("/digest?abandon=close", "POST"))
               + d.data(1, body[:16000]))
        d.read_until(lambda x: self.backend.stats()["by_path"].get("/digest", 0) >= 2, 2)
        d.close()
        # A finished upload on a third connection does arrive, so the log is being kept.
        a = exchange(self.server.port, self.server.tls,
                     [("POST", "/digest?abandon=none", (), body, None)])[0]
        self.assertEqual(a.status, 200)
        self.assert_nothing_unfinished_arrived("abandon=reset")
        self.assert_nothing_unfinished_arrived("abandon=close")
        done = [t for _, t, _ in self.settled_stats()["complete"] if "abandon=none" in t]
        self.assertEqual(len(done), 1)


def encode_int(n):
    """The continuation bytes of an HPACK integer past its prefix (RFC 7541 §5.1)."""
    out = b""
    while n >= 128:
        out += bytes([n % 128 + 128])
        n //= 128
    return out + bytes([n])


if __name__ == "__main__":
    harness.main()
