#!/usr/bin/env python3
"""Streams whose Exchange waits on a plugin's store (Redis rate_limit) or that a plugin
answers or compresses (issue 15).

Each test checks the answers a client gets and that the proxy settles: its in-flight gauges
return to zero and a new client is still served. Run under ASan, the harness fails a test
whose proxy printed a sanitizer report."""

import json
import os
import time
import unittest
import zlib

import harness
from h2_client import CANCEL, Server, exchange, get
from h2_stream_case import StreamCase
from test_plugin_redis import REDIS_SERVER, Redis


@unittest.skipUnless(os.access(REDIS_SERVER, os.X_OK), "redis-server is not installed")
class PluginsOnStreams(StreamCase):
    """Streams whose Exchange waits on a plugin's store, or that a plugin answers."""

    def start_plugins(self, plugins):
        proxy = self.start_proxy(self.config(
            pools={"api": self.pool(self.backend)},
            routes=[{"path_prefix": "/headers", "pool": "api",
                     "plugins": [{"compress": {"encodings": ["gzip"], "min_size": 64}}]},
                    {"path_prefix": "/", "pool": "api", "plugins": plugins}],
            listener={"h2c": True}))
        self.server = Server(proxy.port, False, proxy.port, proxy=proxy)

    def test_streams_reset_or_abandoned_while_waiting_on_redis(self):
        redis = Redis(self.tmp)
        self.addCleanup(redis.stop)
        self.start_plugins([{"rate_limit": {"key": "client_ip", "rate": "1000/s",
                                            "burst": 1000, "store": redis.url,
                                            "store_timeout": "10s"}}])
        self.assertEqual(get(self.server.port, False, "/").status, 200)
        redis.pause()
        self.addCleanup(redis.resume)
        c = self.client()
        c.preface()
        c.send(b"".join(c.headers(sid, self.hdrs("/digest?w%d=1" % sid, "POST"))
                        + c.data(sid, b"z" * 100, end_stream=True)
                        for sid in range(1, 40, 2)))
        gone = self.client()  # its connection closes while its streams wait
        gone.preface()
        gone.send(b"".join(gone.headers(sid, self.hdrs("/digest?gone=1"), end_stream=True)
                           for sid in range(1, 20, 2)))
        time.sleep(0.3 * harness.SLOWDOWN)  # the questions are out to the stopped store
        c.send(b"".join(c.rst(sid, CANCEL) for sid in range(1, 40, 4)))
        gone.sock.close()
        time.sleep(0.1 * harness.SLOWDOWN)
        redis.resume()
        kept = range(3, 40, 4)
        self.assertTrue(c.read_until(lambda c: all(self.ended(c, s) for s in kept), 15))
        self.assertEqual([c.status_of(s) for s in kept], [200] * len(kept))
        self.assert_settles()
        done = [t for _, t, _ in self.backend.stats()["complete"]]
        self.assertEqual([t for t in done if "gone" in t], [])
        self.assertEqual(sorted(t for t in done if t.startswith("/digest?w")),
                         sorted("/digest?w%d=1" % s for s in kept))

    def test_rate_limit_429_and_compress_on_streams(self):
        self.start_plugins([{"rate_limit": {"key": "client_ip", "rate": "3/m"}}])
        answers = exchange(self.server.port, False, [
            ("GET", "/headers", [("accept-encoding", "gzip")], None, None),
            ("HEAD", "/headers", [("accept-encoding", "gzip")], None, None)]
            + [("GET", "/", (), None, None)] * 5)
        g = answers[0]
        self.assertEqual((g.status, g.header("content-encoding")), (200, "gzip"))
        self.assertEqual(json.loads(zlib.decompress(g.body, 31))["target"], "/headers")
        self.assertEqual((answers[1].status, answers[1].body), (200, b""))
        self.assertEqual(sorted(a.status for a in answers[2:]), [200] * 3 + [429] * 2)


if __name__ == "__main__":
    harness.main()
