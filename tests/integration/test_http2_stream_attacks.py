#!/usr/bin/env python3
"""Http2Session streams where users hit them by accident (issue 15): a stream whose Exchange
is at a backend when the client resets it, sends GOAWAY or closes the connection; backends
that drop, stall or fail; streams waiting for a connection slot; the proxy's own answers
on a stream (404, 413 mid-upload, 503) and body-less answers.

Each test checks the answers a client gets and that the proxy settles: its in-flight gauges
return to zero and a new client is still served. Run under ASan, the harness fails a test
whose proxy printed a sanitizer report."""

import json

import hyperframe.frame as hf

import harness
from h2_client import CANCEL, NO_ERROR, Server, exchange
from h2_stream_case import StreamCase


class Http2StreamAttacks(StreamCase):
    # --- a stream whose Exchange is at a backend ---------------------------------------------

    def test_cancel_mid_download_and_mid_upload(self):
        self.start()
        self.cancel_mid_download_and_mid_upload()

    def test_cancel_mid_download_and_mid_upload_over_tls(self):
        self.start(tls=True)
        self.cancel_mid_download_and_mid_upload()

    def cancel_mid_download_and_mid_upload(self):
        c = self.client()
        c.preface({hf.SettingsFrame.INITIAL_WINDOW_SIZE: 1 << 20})
        c.send(c.window_update(0, 1 << 30))  # the connection's window is not a setting
        # 1: a large download, reset once its first DATA came. 3: an upload cut mid-body.
        c.send(c.headers(1, self.hdrs("/blob/d?n=%d" % (8 << 20)), end_stream=True)
               + c.headers(3, self.hdrs("/digest?cut=1", "POST",
                                        [("content-length", "100000")]))
               + c.data(3, b"x" * 16000))
        self.assertTrue(c.read_until(lambda c: c.stream_frames(1, hf.DataFrame), 10))
        c.send(c.rst(1, CANCEL) + c.rst(3, CANCEL))
        # The connection lives on: a stream after the resets is served.
        c.send(c.headers(5, self.hdrs("/"), end_stream=True))
        self.assertTrue(c.read_until(lambda c: self.ended(c, 5), 10))
        self.assertEqual(c.status_of(5), 200)
        self.assertEqual(self.body_of(c, 5), b"hello from api\n")
        self.assert_settles()
        done = [t for _, t, _ in self.backend.stats()["complete"] if "cut=1" in t]
        self.assertEqual(done, [], "an upload the client reset completed at the backend")

    def test_client_goaway_lets_open_streams_finish(self):
        self.start()
        c = self.client()
        c.preface({hf.SettingsFrame.INITIAL_WINDOW_SIZE: 1 << 20})
        c.send(c.window_update(0, 1 << 30))
        c.send(c.headers(1, self.hdrs("/slow?ms=300"), end_stream=True)
               + c.headers(3, self.hdrs("/blob/g?n=200000"), end_stream=True))
        g = hf.GoAwayFrame(0)
        g.last_stream_id = 0
        g.error_code = NO_ERROR
        c.send(g.serialize())
        self.assertTrue(c.read_until(lambda c: self.ended(c, 1) and self.ended(c, 3), 15))
        self.assertEqual((c.status_of(1), c.status_of(3)), (200, 200))
        self.assertEqual(len(self.body_of(c, 3)), 200000)
        self.assert_settles()

    def test_client_closes_with_many_streams_at_the_backend(self):
        self.start()
        for _ in range(3):
            c = self.client()
            c.preface()
            c.send(b"".join(c.headers(sid, self.hdrs("/slow?ms=2000&s=%d" % sid),
                                      end_stream=True) for sid in range(1, 100, 2)))
            harness.wait_until(lambda: self.backend.stats()["slow_in_flight"] > 0, 10,
                               what="streams at the backend")
            c.sock.close()
        self.assert_settles(timeout=20)

    def test_zero_window_client_with_100_slow_streams(self):
        self.start()
        c = self.client(rcvbuf=4096)
        c.preface({hf.SettingsFrame.INITIAL_WINDOW_SIZE: 0})
        c.send(b"".join(c.headers(sid, self.hdrs("/blob/z%d?n=300000&ms=200" % sid),
                                  end_stream=True) for sid in range(1, 200, 2)))
        # Every stream's head comes though none of its body can.
        self.assertTrue(c.read_until(
            lambda c: len(c.frames_of(hf.HeadersFrame)) >= 100, 20), "heads did not come")
        self.assertEqual(c.frames_of(hf.DataFrame), [])
        c.sock.close()
        self.assert_settles(timeout=20)

    def test_backend_drops_mid_body_and_before_answering(self):
        self.start()
        answers = exchange(self.server.port, False, [
            ("GET", "/drop", (), None, None),
            ("GET", "/bytes?n=100000&mode=close", (), None, None),
            ("GET", "/status?code=503", (), None, None),
            ("GET", "/", (), None, None)])
        self.assertEqual(answers[0].status, 502)
        self.assertEqual((answers[1].status, len(answers[1].body)), (200, 100000))
        self.assertEqual(answers[2].status, 503)
        self.assertEqual(answers[3].body, b"hello from api\n")
        self.assert_settles()

    def test_backend_timeout_and_retried_5xx(self):
        other = self.start_h2_backend("b2")
        self.start(pool=self.pool(self.backend, other, **{
            "timeouts": {"connect": "2s", "read": "1s"},
            "retries": {"attempts": 2, "budget_percent": 100}}))
        self.backend.get("/control/fail?code=502")
        answers = exchange(self.server.port, False, [
            ("GET", "/slow?ms=4000", (), None, None)]
            + [("GET", "/?i=%d" % i, (), None, None) for i in range(6)], timeout=30)
        self.assertEqual(answers[0].status, 504)
        # Every 502 of the failing backend is retried on the other.
        self.assertEqual([(a.status, a.header("x-backend")) for a in answers[1:]],
                         [(200, "b2")] * 6)
        self.backend.get("/control/fail?code=0")
        self.assert_settles()

    def test_streams_waiting_for_a_slot_reset_or_shed(self):
        # One connection slot: one stream holds it, others wait on the Exchange's slot timer;
        # some are reset while waiting, the rest are shed (503) once the queue is full.
        self.start(pool=self.pool(self.backend, circuit_breaker={
            "consecutive_failures": 1000, "max_connections": 1, "max_pending": 10}))
        c = self.client()
        c.preface()
        c.send(c.headers(1, self.hdrs("/slow?ms=1500"), end_stream=True))
        harness.wait_until(lambda: self.backend.stats()["slow_in_flight"] == 1, 10,
                           what="the holder at the backend")
        c.send(b"".join(c.headers(sid, self.hdrs("/?w=%d" % sid), end_stream=True)
                        for sid in range(3, 43, 2)))
        self.assertTrue(c.read_until(
            lambda c: len([s for s in range(3, 43, 2) if c.status_of(s) == 503]) >= 10, 10))
        waiting = [s for s in range(3, 43, 2) if c.status_of(s) is None]
        self.assertEqual(len(waiting), 10, [c.status_of(s) for s in range(3, 43, 2)])
        c.send(b"".join(c.rst(s, CANCEL) for s in waiting[::2]))
        kept = waiting[1::2] + [1]
        self.assertTrue(c.read_until(lambda c: all(self.ended(c, s) for s in kept), 15))
        self.assertEqual([c.status_of(s) for s in kept], [200] * len(kept))
        self.assert_settles()

    def test_expect_100_continue_on_a_stream(self):
        self.start()
        c = self.client()
        c.preface()
        c.send(c.headers(1, self.hdrs("/digest", "POST", [("expect", "100-continue"),
                                                          ("content-length", "5")])))
        self.assertTrue(c.read_until(lambda c: c.status_of(1) is not None, 10))
        self.assertEqual(c.status_of(1), 100)
        c.send(c.data(1, b"hello", end_stream=True))
        self.assertTrue(c.read_until(lambda c: self.ended(c, 1), 10))
        heads = [int(dict(f.fields)[":status"]) for f in c.stream_frames(1, hf.HeadersFrame)]
        self.assertEqual(heads, [100, 200])
        self.assertEqual(json.loads(self.body_of(c, 1))["length"], 5)
        self.assert_settles()

    # --- answers the proxy makes on a stream ---------------------------------------------------

    def test_local_answers_404_413_503(self):
        port = harness.free_port()
        proxy = self.start_proxy(self.config(
            pools={"api": self.pool(self.backend), "none": self.pool("127.0.0.1:%d" % port)},
            routes=[{"path_prefix": "/digest", "pool": "api", "max_body": "1KiB"},
                    {"path_prefix": "/none", "pool": "none"},
                    {"path_prefix": "/a/", "pool": "api"}],
            listener={"h2c": True}))
        self.server = Server(proxy.port, False, proxy.port, proxy=proxy)
        c = self.client()
        c.preface()
        c.send(c.headers(1, self.hdrs("/nowhere"), end_stream=True)
               + c.headers(3, self.hdrs("/digest?big=1", "POST"))
               + c.data(3, b"y" * 4000)
               + c.headers(5, self.hdrs("/none"), end_stream=True)
               + c.headers(7, self.hdrs("/nowhere", "HEAD"), end_stream=True))
        self.assertTrue(c.read_until(
            lambda c: all(self.ended(c, s) for s in (1, 3, 5, 7)), 15))
        self.assertEqual([c.status_of(s) for s in (1, 3, 7)], [404, 413, 404])
        self.assertIn(c.status_of(5), (502, 503))
        self.assertEqual(self.body_of(c, 7), b"")
        # More DATA on the answered upload is dropped; the connection still serves.
        c.send(c.data(3, b"y" * 1000, end_stream=True)
               + c.headers(9, self.hdrs("/a/x"), end_stream=True))
        self.assertTrue(c.read_until(lambda c: self.ended(c, 9), 10))
        self.assertIsNone(c.goaway)
        done = [t for _, t, _ in self.backend.stats()["complete"] if "big=1" in t]
        self.assertEqual(done, [])

    def test_bodiless_answers(self):
        self.start()
        answers = exchange(self.server.port, False, [
            ("HEAD", "/bytes?n=5000", (), None, None),
            ("GET", "/status?code=204", (), None, None),
            ("GET", "/status?code=304", (), None, None),
            ("HEAD", "/trailers?n=100", (), None, None)])
        self.assertEqual([(a.status, a.body) for a in answers],
                         [(200, b""), (204, b""), (304, b""), (200, b"")])
        self.assert_settles()


if __name__ == "__main__":
    harness.main()
