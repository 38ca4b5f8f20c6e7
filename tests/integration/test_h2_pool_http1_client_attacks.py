#!/usr/bin/env python3
"""HTTP/1.x clients of a `protocol: h2` pool, on the paths they take by accident: pipelines
after a HEAD, a 204/304, an error or an answer with trailers, where the backend ends its
stream with an empty DATA frame after the head (RFC 9113 allows it; the answer to a HEAD or a
204 still has no body); HTTP/1.0 with and without keep-alive, given trailers and 1xx it cannot
read; `Expect: 100-continue`; chunked uploads with trailers in tiny writes, cut mid-chunk,
stalled, or crossing a reload; half-closes; clients that do not read. Each gets the right
answer or a clear error, the backend gets each request at most once, the proxy settles."""

import hashlib
import json
import socket
import threading
import time

import harness
import metrics_util
from h2_client import exchange
from h2c_backend import pattern
from h2c_pool_case import H2cPoolCase

CANCEL = 8
TRAILERS = [("x-sum", "abc"), ("x-more", "1")]


def digest(body):
    return {"length": len(body), "sha256": hashlib.sha256(body).hexdigest()}


def read_with_trailers(rfile, method="GET"):
    """read_response, and the chunked body's trailer lines as [(name, value)] (None if the
    body was not chunked)."""
    line = rfile.readline(65536)
    if not line:
        raise ConnectionError("connection closed before a status line")
    status = int(line.split(b" ")[1])
    headers = []
    while True:
        h = rfile.readline(65536)
        if h in (b"\r\n", b""):
            break
        name, _, value = h.decode("latin-1").partition(":")
        headers.append((name.lower(), value.strip()))
    fields = dict(headers)
    if method == "HEAD" or status < 200 or status in (204, 304):
        return status, fields, b"", None
    if fields.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int(rfile.readline(1024).split(b";")[0], 16)
            if size == 0:
                break
            body += rfile.read(size)
            assert rfile.read(2) == b"\r\n"
        trailers = []
        while True:
            t = rfile.readline(65536)
            if t in (b"\r\n", b""):
                break
            name, _, value = t.decode("latin-1").partition(":")
            trailers.append((name.lower(), value.strip()))
        return status, fields, body, trailers
    if "content-length" in fields:
        return status, fields, rfile.read(int(fields["content-length"])), None
    return status, fields, rfile.read(), None


class Base(H2cPoolCase):
    def start(self, n=1, **kw):
        return super().start(n=n, **kw)

    def raw(self, timeout=10):
        sock = harness.raw_connect(self.proxy_port, timeout=timeout)
        self.addCleanup(sock.close)
        reader = sock.makefile("rb")
        self.addCleanup(reader.close)
        return sock, reader


# ---- pipelines over answers that end after their head -----------------------------------------

class BodylessAnswersEndedLate(Base):
    """The backend's HEADERS does not end the stream; an empty DATA frame does. A HEAD, 204 or
    304 answer has no body whatever its framing fields say (RFC 9110 §6.4.1)."""

    def setUp(self):
        super().setUp()
        self.start(read_timeout="%ds" % (3 * harness.SLOWDOWN))

    def pipeline(self, method, path):
        sock, reader = self.raw(timeout=6)
        sock.sendall(b"%s %s HTTP/1.1\r\nHost: a.test\r\n\r\nGET /blob?n=3 HTTP/1.1\r\n"
                     b"Host: a.test\r\n\r\n" % (method.encode(), path.encode()))
        first = harness.read_response(reader, method)
        second = harness.read_response(reader)
        return first, second

    def test_a_head_with_a_stated_length_ended_late_has_no_body_and_the_pipeline_goes_on(self):
        first, second = self.pipeline("HEAD", "/late-end?n=10")
        self.assertEqual((first.status, first.header("content-length")), (200, "10"))
        self.assertEqual((second.status, second.body), (200, pattern(3)))
        self.assertEqual(len(self.seen("/late-end?n=10")), 1)

    def test_a_head_of_no_stated_length_ended_late_has_no_body_and_the_pipeline_goes_on(self):
        first, second = self.pipeline("HEAD", "/late-end?cl=0")
        self.assertEqual(first.status, 200)
        self.assertEqual((second.status, second.body), (200, pattern(3)))

    def test_a_head_whose_answer_ends_with_trailers_keeps_the_pipeline_in_step(self):
        first, second = self.pipeline("HEAD", "/trailers?n=10&cl=0")
        self.assertEqual(first.status, 200)
        self.assertEqual((second.status, second.body), (200, pattern(3)))

    def test_a_204_ended_late_has_no_body_and_the_pipeline_goes_on(self):
        first, second = self.pipeline("GET", "/late-end?code=204&cl=0")
        self.assertEqual(first.status, 204)
        self.assertIsNone(first.header("transfer-encoding"))
        self.assertEqual((second.status, second.body), (200, pattern(3)))

    def test_a_304_with_a_stated_length_ended_late_has_no_body_and_the_pipeline_goes_on(self):
        first, second = self.pipeline("GET", "/late-end?code=304&n=5")
        self.assertEqual(first.status, 304)
        self.assertEqual((second.status, second.body), (200, pattern(3)))

    def test_a_head_ended_late_is_not_a_backend_failure(self):
        """A whole answer, as the backend meant it: nothing against its health."""
        sock, reader = self.raw(timeout=6)
        sock.sendall(b"HEAD /late-end?n=10 HTTP/1.1\r\nHost: a.test\r\n\r\n")
        r = harness.read_response(reader, "HEAD")
        self.assertEqual((r.status, r.header("content-length")), (200, "10"))
        samples, _ = metrics_util.scrape(self.proxy)
        failures = sum(v for (n, _), v in samples.items()
                       if n == "outrigger_backend_failures_total")
        self.assertEqual(failures, 0)

    def test_an_http2_clients_head_and_204_ended_late_are_whole(self):
        self.proxy.stop()
        self.proxy = self.start_proxy(self.config(
            {"h2": self.pool(self.backends[0].address, protocol="h2")}, listener={"h2c": True}))
        got = exchange(self.proxy_port, False,
                       [("HEAD", "/late-end?n=10", (), None, None),
                        ("HEAD", "/late-end?cl=0", (), None, None),
                        ("GET", "/late-end?code=204&cl=0", (), None, None)], timeout=10)
        self.assertEqual([(a.status, a.reset, a.body) for a in got],
                         [(200, None, b""), (200, None, b""), (204, None, b"")])

    def test_a_get_ended_late_is_whole(self):
        for cl in ("1", "0"):
            with self.subTest(cl=cl):
                first, second = self.pipeline("GET", "/late-end?n=20&cl=" + cl)
                self.assertEqual((first.status, first.body), (200, pattern(20)))
                self.assertEqual((second.status, second.body), (200, pattern(3)))


class Pipelines(Base):
    def setUp(self):
        super().setUp()
        self.start()

    def test_a_chunked_answer_with_trailers_then_the_next_answers_in_step(self):
        sock, reader = self.raw()
        sock.sendall(b"GET /trailers?n=60000&cl=0 HTTP/1.1\r\nHost: a\r\nTE: trailers\r\n\r\n"
                     b"GET /trailers?n=5 HTTP/1.1\r\nHost: a\r\n\r\n"
                     b"GET /blob?n=3 HTTP/1.1\r\nHost: a\r\n\r\n")
        status, fields, body, trailers = read_with_trailers(reader)
        self.assertEqual((status, body), (200, pattern(60000)))
        self.assertEqual(trailers, [("x-t", "done"), ("x-n", "60000")])
        # A stated length: the trailers have nowhere to go in HTTP/1.1 and are dropped.
        status, fields, body, trailers = read_with_trailers(reader)
        self.assertEqual((status, body, fields.get("content-length")), (200, pattern(5), "5"))
        status, fields, body, _ = read_with_trailers(reader)
        self.assertEqual((status, body), (200, pattern(3)))

    def test_an_upstream_502_then_the_next_request_on_the_connection(self):
        sock, reader = self.raw()
        sock.sendall(b"POST /close-now HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nabcd"
                     b"GET /blob?n=3 HTTP/1.1\r\nHost: a\r\n\r\n")
        r = harness.read_response(reader, "POST")
        self.assertEqual(r.status, 502)
        r = harness.read_response(reader)
        self.assertEqual((r.status, r.body), (200, pattern(3)))
        self.assertEqual(len(self.seen("/close-now")), 1)
        self.assert_settles()

    def test_a_head_too_large_is_a_502_then_the_next_request_is_served(self):
        sock, reader = self.raw(timeout=20)
        sock.sendall(b"GET /headers?n=2000 HTTP/1.1\r\nHost: a\r\n\r\n"
                     b"HEAD /headers?n=98 HTTP/1.1\r\nHost: a\r\n\r\n"
                     b"GET /blob?n=3 HTTP/1.1\r\nHost: a\r\n\r\n")
        self.assertEqual(harness.read_response(reader).status, 502)
        r = harness.read_response(reader, "HEAD")  # 100 fields: at the limit, not over
        self.assertEqual((r.status, len(r.header_all("x-h97"))), (200, 1))
        r = harness.read_response(reader)
        self.assertEqual((r.status, r.body), (200, pattern(3)))
        self.assertEqual(len(self.seen("/headers?n=2000")), 1)

    def test_a_chunked_upload_with_trailers_then_a_get_in_one_write(self):
        body = pattern(3000)
        sock, reader = self.raw()
        sock.sendall(b"POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"%x\r\n%s\r\n0\r\nX-Sum: abc\r\nX-More: 1\r\n\r\n"
                     b"GET /blob?n=3 HTTP/1.1\r\nHost: a\r\n\r\n" % (len(body), body))
        r = harness.read_response(reader, "POST")
        self.assertEqual((r.status, r.json()), (200, digest(body)))
        r = harness.read_response(reader)
        self.assertEqual((r.status, r.body), (200, pattern(3)))
        self.assertEqual(self.backends[0].trailers, [("/up", TRAILERS)])


# ---- HTTP/1.0 -------------------------------------------------------------------------------

class Http10(Base):
    def setUp(self):
        super().setUp()
        self.start()

    def test_keep_alive_with_a_stated_length_serves_two_requests(self):
        sock, reader = self.raw()
        for n in (5, 70000):
            sock.sendall(b"GET /blob?n=%d HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" % n)
            r = harness.read_response(reader)
            self.assertEqual((r.status, r.body), (200, pattern(n)))
            self.assertEqual(r.header("connection", "").lower(), "keep-alive")

    def test_without_keep_alive_the_connection_closes_after_the_answer(self):
        sock, _ = self.raw()
        sock.sendall(b"GET /blob?n=5 HTTP/1.0\r\n\r\n")
        data = harness.read_until_closed(sock)
        self.assertTrue(data.startswith(b"HTTP/1."), data[:50])
        self.assertTrue(data.endswith(b"\r\n\r\n" + pattern(5)), data[-60:])

    def test_an_answer_with_trailers_and_no_length_comes_whole_to_the_close(self):
        sock, _ = self.raw()
        sock.sendall(b"GET /trailers?n=5000&cl=0 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        data = harness.read_until_closed(sock)
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertIn(b" 200 ", head.split(b"\r\n")[0])
        self.assertNotIn(b"transfer-encoding", head.lower())
        self.assertEqual(body, pattern(5000), "no chunk or trailer bytes in the body")

    def test_an_answer_with_trailers_and_a_length_keeps_the_connection(self):
        sock, reader = self.raw()
        sock.sendall(b"GET /trailers?n=50 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        r = harness.read_response(reader)
        self.assertEqual((r.status, r.body), (200, pattern(50)))
        sock.sendall(b"GET /blob?n=3 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        r = harness.read_response(reader)
        self.assertEqual((r.status, r.body), (200, pattern(3)))

    def test_no_1xx_reaches_an_http10_client(self):
        sock, reader = self.raw()
        sock.sendall(b"GET /early HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        r = harness.read_response(reader)
        self.assertEqual((r.status, r.body), (200, pattern(4)))

    def test_a_head_of_no_stated_length_ended_late(self):
        sock, _ = self.raw()
        sock.sendall(b"HEAD /late-end?cl=0 HTTP/1.0\r\n\r\n")
        data = harness.read_until_closed(sock)
        self.assertTrue(data.split(b"\r\n")[0].endswith(b" 200 OK"), data[:60])
        self.assertTrue(data.endswith(b"\r\n\r\n"), data[-60:])


# ---- Expect: 100-continue --------------------------------------------------------------------

class ExpectContinue(Base):
    def setUp(self):
        super().setUp()
        self.start()

    def test_the_backends_100_reaches_the_client_and_then_the_answer(self):
        body = pattern(10000)
        sock, reader = self.raw()
        sock.sendall(b"POST /continue HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n"
                     b"Expect: 100-continue\r\n\r\n" % len(body))
        r = harness.read_response(reader, "POST")
        self.assertEqual(r.status, 100)
        sock.sendall(body)
        r = harness.read_response(reader, "POST")
        self.assertEqual((r.status, r.json()), (200, digest(body)))
        self.assertEqual(self.seen("/continue"), [("POST", "/continue", True)])

    def test_a_client_that_sends_its_body_without_a_100_is_answered(self):
        """The backend sends no 100: the client goes on after a pause, as curl does."""
        body = pattern(10000)
        sock, reader = self.raw()
        sock.sendall(b"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n"
                     b"Expect: 100-continue\r\n\r\n" % len(body))
        harness.wait_until(lambda: self.seen("/up"), 5, what="/up's head at the backend")
        sock.sendall(body)
        r = harness.read_response(reader, "POST")
        self.assertEqual((r.status, r.json()), (200, digest(body)))
        self.assertEqual(len(self.seen("/up")), 1)

    def test_an_answer_before_the_body_ends_the_connection_not_a_408(self):
        """The backend answers at the head; the client, waiting for a 100, never sends its
        body: it gets the answer and the connection closes (its body is unread)."""
        sock, reader = self.raw()
        sock.sendall(b"POST /answer-early HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n"
                     b"Expect: 100-continue\r\n\r\n")
        r = harness.read_response(reader, "POST")
        self.assertEqual((r.status, r.body), (200, b"ok"))
        self.assertEqual(harness.read_until_closed(sock, timeout=5), b"")
        self.assert_settles()

    def test_an_http10_client_expecting_100_gets_only_the_answer(self):
        body = pattern(100)
        sock, reader = self.raw()
        sock.sendall(b"POST /continue HTTP/1.0\r\nContent-Length: %d\r\n"
                     b"Expect: 100-continue\r\n\r\n" % len(body) + body)
        r = harness.read_response(reader, "POST")
        self.assertEqual((r.status, r.json()), (200, digest(body)))


# ---- uploads: tiny writes, aborts, stalls, a reload ---------------------------------------------

class Uploads(Base):
    def setUp(self):
        super().setUp()
        self.start(read_timeout="%dms" % (1000 * harness.SLOWDOWN))

    def test_a_chunked_upload_with_trailers_in_one_byte_writes(self):
        body = pattern(300)
        wire = (b"POST /tiny HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                + b"".join(b"%x;ext=1\r\n%s\r\n" % (len(body[i:i + 50]), body[i:i + 50])
                           for i in range(0, len(body), 50))
                + b"0\r\nX-Sum: abc\r\nX-More: 1\r\n\r\n")
        sock, reader = self.raw()
        for i in range(len(wire)):
            sock.send(wire[i:i + 1])
        r = harness.read_response(reader, "POST")
        self.assertEqual((r.status, r.json()), (200, digest(body)))
        self.assertEqual(self.backends[0].trailers, [("/tiny", TRAILERS)])
        self.assertEqual(self.seen("/tiny"), [("POST", "/tiny", True)])

    def test_a_client_closing_mid_chunk_never_completes_the_request(self):
        sock = harness.raw_connect(self.proxy_port)
        self.addCleanup(sock.close)
        sock.sendall(b"POST /cut HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"64\r\n" + b"c" * 30)
        harness.wait_until(lambda: self.seen("/cut"), 5, what="/cut's head at the backend")
        sock.close()
        b = self.backends[0]
        harness.wait_until(lambda: ("/cut", CANCEL) in b.resets, 5, what="/cut reset")
        self.assertEqual(self.seen("/cut"), [("POST", "/cut", False)])
        self.assert_settles()

    def stalled(self, path, wire):
        sock, reader = self.raw(timeout=10)
        sock.sendall(wire)
        r = harness.read_response(reader, "POST")
        self.assertEqual(r.status, 408)
        b = self.backends[0]
        harness.wait_until(lambda: (path, CANCEL) in b.resets, 5, what=path + " reset")
        self.assertEqual(self.seen(path), [("POST", path, False)])

    def test_a_content_length_upload_stalled_halfway_is_the_clients_408(self):
        self.stalled("/s1", b"POST /s1 HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n"
                     + b"x" * 50)
        self.assert_settles()

    def test_a_chunked_upload_stalled_mid_chunk_is_the_clients_408(self):
        self.stalled("/s2", b"POST /s2 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"64\r\n" + b"x" * 50)
        self.assert_settles()

    def test_a_chunked_upload_stalled_in_its_trailers_is_the_clients_408(self):
        self.stalled("/s3", b"POST /s3 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"5\r\nhello\r\n0\r\nX-Sum: abc\r\n")
        self.assertEqual(self.backends[0].trailers, [])
        self.assert_settles()


class ReloadMidUpload(Base):
    def test_a_chunked_upload_with_trailers_crosses_a_reload(self):
        self.start()
        body = pattern(40000)
        sock, reader = self.raw(timeout=20)
        sock.sendall(b"POST /r HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"%x\r\n%s\r\n" % (20000, body[:20000]))
        harness.wait_until(lambda: self.seen("/r"), 5, what="/r's head at the backend")
        self.proxy.reload(self.proxy.config_text + "\n")
        self.proxy.wait_log(r"reloaded ")
        sock.sendall(b"%x\r\n%s\r\n0\r\nX-Sum: abc\r\nX-More: 1\r\n\r\n" % (20000, body[20000:]))
        r = harness.read_response(reader, "POST")
        self.assertEqual((r.status, r.json()), (200, digest(body)))
        self.assertEqual(self.backends[0].trailers, [("/r", TRAILERS)])
        self.assertEqual(self.seen("/r"), [("POST", "/r", True)])
        self.assert_settles()

    def test_a_body_to_the_close_for_an_http10_client_crosses_a_reload(self):
        self.start()
        n = 3 << 20
        sock = harness.raw_connect(self.proxy_port, timeout=20)
        self.addCleanup(sock.close)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.sendall(b"GET /nolength?n=%d HTTP/1.0\r\n\r\n" % n)
        first = sock.recv(65536)
        self.assertTrue(first.startswith(b"HTTP/1.1 200 "), first[:40])
        self.proxy.reload(self.proxy.config_text + "\n")
        self.proxy.wait_log(r"reloaded ")
        data = first + harness.read_until_closed(sock, timeout=20, limit=n + 4096)
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertEqual((len(body), body == pattern(n)), (n, True))
        self.assertEqual(len(self.seen("/nolength?n=%d" % n)), 1)
        self.assert_settles()


# ---- half-closes and clients that do not read ----------------------------------------------------

class HalfClose(Base):
    def setUp(self):
        super().setUp()
        self.start()

    def test_a_client_half_closing_after_its_request_gets_the_whole_answer(self):
        for path in ("/nolength?n=300000", "/blob?n=300000", "/trailers?n=1000&cl=0"):
            with self.subTest(path=path):
                sock, reader = self.raw()
                sock.sendall(b"GET %s HTTP/1.1\r\nHost: a\r\n\r\n" % path.encode())
                sock.shutdown(socket.SHUT_WR)
                status, fields, body, _ = read_with_trailers(reader)
                n = int(path.split("n=")[1].split("&")[0])
                self.assertEqual((status, len(body), body == pattern(n)), (200, n, True))
                self.assertEqual(reader.read(), b"", "the connection closes after it")

    def test_a_half_close_after_an_upload_and_a_pipelined_get_answers_both(self):
        body = pattern(100000)
        sock, reader = self.raw()
        sock.sendall(b"POST /h HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n%s"
                     b"GET /nolength?n=9 HTTP/1.1\r\nHost: a\r\n\r\n" % (len(body), body))
        sock.shutdown(socket.SHUT_WR)
        r = harness.read_response(reader, "POST")
        self.assertEqual((r.status, r.json()), (200, digest(body)))
        r = harness.read_response(reader)
        self.assertEqual((r.status, r.body), (200, pattern(9)))
        self.assertEqual(reader.read(), b"")

    def test_a_half_close_mid_chunked_body_never_completes_the_request(self):
        sock, reader = self.raw()
        sock.sendall(b"POST /hc HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"64\r\n" + b"h" * 30)
        harness.wait_until(lambda: self.seen("/hc"), 5, what="/hc's head at the backend")
        sock.shutdown(socket.SHUT_WR)
        b = self.backends[0]
        harness.wait_until(lambda: ("/hc", CANCEL) in b.resets, 5, what="/hc reset")
        rest = harness.read_until_closed(sock)
        self.assertTrue(rest == b"" or rest.startswith(b"HTTP/1.1 400"), rest[:80])
        self.assertEqual(self.seen("/hc"), [("POST", "/hc", False)])
        self.assert_settles()


class SlowReaders(Base):
    def held_back(self, request):
        self.start()
        sock = harness.raw_connect(self.proxy_port)
        self.addCleanup(sock.close)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.sendall(request)
        b = self.backends[0]
        samples = []

        def still():
            samples.append(b.sent)
            return len(samples) > 3 and samples[-1] == samples[-4] > 0

        harness.wait_until(still, 20, interval=0.2, what="the backend held back")
        self.assertLess(b.sent, 16 << 20, "the proxy buffered %d bytes" % b.sent)
        sock.close()
        self.assert_settles()

    def test_an_http10_client_not_reading_a_body_of_no_stated_length(self):
        self.held_back(b"GET /nolength?n=%d HTTP/1.0\r\n\r\n" % (64 << 20))

    def test_an_http11_client_not_reading_a_chunked_body(self):
        self.held_back(b"GET /nolength?n=%d HTTP/1.1\r\nHost: a\r\n\r\n" % (64 << 20))


if __name__ == "__main__":
    harness.main()
