#!/usr/bin/env python3
"""A real Prometheus (Debian's package) scrapes Outrigger on loopback: promtool accepts the
exposition, and PromQL's rate() and histogram_quantile() over the scraped series agree with
what the client measured."""

import json
import os
import shutil
import subprocess
import time
import unittest
import urllib.parse
import urllib.request

import harness
from metrics_util import Load

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
DELAY_MS = 300  # latencies in (0.25, 0.5]: the client's p95 and PromQL's must share that bucket


@unittest.skipUnless(PROMETHEUS and PROMTOOL,
                     "needs Debian's prometheus package (scripts/install-deps --prometheus)")
class Prometheus(harness.ProxyTestCase):
    def test_promtool_accepts_a_live_exposition(self):
        backend = self.start_backend("a")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(backend)}))
        for path in ("/", "/status?code=503", "/nope"):
            proxy.get(path)
        text = proxy.admin("/metrics").text
        r = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(),
                           capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout.decode() + r.stderr.decode())

    def start_prometheus(self, target):
        port = harness.free_port()
        config = os.path.join(self.tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: outrigger\n"
                    "    static_configs:\n      - targets: ['%s']\n" % target)
        log = open(os.path.join(self.tmp, "prometheus.log"), "wb")
        self.addCleanup(log.close)
        proc = subprocess.Popen(
            [PROMETHEUS, "--config.file=" + config,
             "--storage.tsdb.path=" + os.path.join(self.tmp, "tsdb"),
             "--web.listen-address=127.0.0.1:%d" % port, "--log.level=warn"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        self.addCleanup(harness.stop_process, proc)
        url = "http://127.0.0.1:%d" % port

        def ready():
            try:
                return urllib.request.urlopen(url + "/-/ready", timeout=1).status == 200
            except OSError:
                return False
        harness.wait_until(ready, 20, what="prometheus ready")
        return url

    def query(self, url, promql):
        q = urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen("%s/api/v1/query?%s" % (url, q), timeout=5) as r:
            body = json.load(r)
        self.assertEqual(body["status"], "success", body)
        return body["data"]["result"]

    def test_rate_and_p95_through_promql_agree_with_the_client(self):
        backend = self.start_backend("a")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(backend)}, workers=2))
        url = self.start_prometheus("127.0.0.1:%d" % proxy.admin_port)
        up = 'up{job="outrigger"}'
        harness.wait_until(lambda: [r for r in self.query(url, up) if r["value"][1] == "1"], 20,
                           what="first successful scrape")

        load = Load(proxy, 6, "/slow?ms=%d" % DELAY_MS).start()
        try:
            time.sleep(13)
            now = time.monotonic()
            measured = load.completed_between(now - 10, now) / 10.0
            latencies = sorted(end - start for start, end in load.spans)
            rate = self.query(url, 'sum(rate(outrigger_backend_requests_total{code="2xx"}[10s]))')
            p95 = self.query(url, "histogram_quantile(0.95, sum by (le) "
                                  "(rate(outrigger_backend_request_duration_seconds_bucket[10s])))")
        finally:
            load.stop()
        client_p95 = latencies[int(0.95 * (len(latencies) - 1))]
        promql_rate = float(rate[0]["value"][1])
        promql_p95 = float(p95[0]["value"][1])
        # rate() over scrapes up to 1 s old, extrapolated: within 10% of the client's rate.
        self.assertAlmostEqual(promql_rate / measured, 1.0, delta=0.10 * harness.TOLERANCE,
                               msg="promql %.1f/s, client %.1f/s" % (promql_rate, measured))
        # Both p95s in the same bucket: the histogram's resolution is the bucket.
        self.assertGreater(client_p95, 0.25)
        if client_p95 <= 0.5:  # a loaded machine may push the client's wait past the bucket
            self.assertTrue(0.25 < promql_p95 <= 0.5, (promql_p95, client_p95))
        else:
            self.assertGreater(promql_p95, 0.25)


if __name__ == "__main__":
    harness.main()
