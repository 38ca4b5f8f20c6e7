#!/usr/bin/env python3
"""The status page at the admin listener's GET / (design.md §8), in a real browser: Debian's
headless Chromium loads it from a running proxy, the DOM after its first refresh from /status
names every backend with its state, a backend drained through the API shows as drained on
the next refresh, and the page asks nothing of any other origin. Screenshots at 1280x800 and
390x844 are kept as test artifacts (OUTRIGGER_ARTIFACTS, else test-artifacts/ beside the
binary)."""

import html.parser
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import harness

CHROMIUM = shutil.which("chromium")


def artifacts_dir():
    d = os.environ.get("OUTRIGGER_ARTIFACTS") or os.path.join(
        os.path.dirname(os.path.abspath(harness.outrigger_bin())), "test-artifacts")
    os.makedirs(d, exist_ok=True)
    return d


class Rows(html.parser.HTMLParser):
    """Each backend row of the page's DOM: (pool, backend) -> the text of its .state cell."""

    def __init__(self):
        super().__init__()
        self.rows = {}
        self.row = None
        self.in_state = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and "data-backend" in a:
            self.row = (a.get("data-pool"), a["data-backend"])
            self.rows[self.row] = ""
        elif tag == "span" and self.row and "state" in (a.get("class") or "").split():
            self.in_state = True

    def handle_endtag(self, tag):
        if tag == "span":
            self.in_state = False
        elif tag == "tr":
            self.row = None

    def handle_data(self, data):
        if self.in_state and self.row:
            self.rows[self.row] += data.strip()


@unittest.skipIf(CHROMIUM is None, "chromium is not installed (scripts/install-deps installs it)")
class StatusPage(harness.ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.a = self.start_backend("a")
        self.b = self.start_backend("b")
        self.proxy = self.start_proxy(self.config(
            pools={"app": self.pool(self.a, self.b)}))
        for _ in range(6):  # some traffic, so the pool has rates and latencies to show
            self.assertEqual(self.proxy.get("/").status, 200)
        self.url = "http://127.0.0.1:%d/" % self.proxy.admin_port
        self.profile = tempfile.mkdtemp(prefix="chromium-", dir=self.tmp)

    def chromium(self, *args, budget_ms=6000):
        """Runs headless Chromium on the page; returns its stdout."""
        cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-dev-shm-usage", "--no-first-run", "--hide-scrollbars",
               "--user-data-dir=" + self.profile,
               "--virtual-time-budget=%d" % budget_ms, *args, self.url]
        r = subprocess.run(cmd, capture_output=True, timeout=90 * harness.SLOWDOWN)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace")[-3000:])
        return r.stdout.decode()

    def rows(self):
        dom = self.chromium("--dump-dom")
        self.assertRegex(dom, r'data-refreshes="[1-9]', "the page never refreshed from /status")
        parser = Rows()
        parser.feed(dom)
        return parser.rows

    def test_the_page_shows_every_backend_and_a_drain(self):
        rows = self.rows()
        self.assertEqual(rows, {("app", self.a.address): "ready", ("app", self.b.address): "ready"})
        r = harness.request(self.proxy.admin_port, method="PATCH",
                            path="/pools/app/backends/%s" % self.a.address,
                            headers={"Content-Type": "application/json"},
                            body=json.dumps({"state": "drain"}))
        self.assertEqual(r.status, 200, r.text)
        rows = self.rows()
        self.assertEqual(rows[("app", self.a.address)], "drained")
        self.assertEqual(rows[("app", self.b.address)], "ready")

    def test_names_are_shown_as_text_never_as_markup(self):
        evil = 'x"><i>injected</i>&amp;<script>document.title="owned"</script>'
        backend = self.start_backend("evil")
        self.proxy.stop()
        self.proxy = self.start_proxy(self.config(
            pools={"app": {"backends": [{"address": backend.address, "name": evil}]}}))
        self.url = "http://127.0.0.1:%d/" % self.proxy.admin_port
        dom = self.chromium("--dump-dom")
        parser = Rows()
        parser.feed(dom)
        self.assertEqual(parser.rows, {("app", evil): "ready"})
        self.assertNotIn("<i>injected</i>", dom)
        self.assertIn("<title>Outrigger status</title>", dom)

    def test_screenshots_at_desktop_and_phone_sizes(self):
        out = artifacts_dir()
        for name, size in (("status-page-1280x800.png", "1280,800"),
                           ("status-page-390x844.png", "390,844")):
            path = os.path.join(out, name)
            if os.path.exists(path):
                os.unlink(path)
            self.chromium("--screenshot=" + path, "--window-size=" + size)
            with open(path, "rb") as f:
                png = f.read()
            self.assertEqual(png[:8], b"\x89PNG\r\n\x1a\n")
            width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
            self.assertEqual("%d,%d" % (width, height), size)
            print("status page screenshot: %s" % path)


class StatusPageSource(harness.ProxyTestCase):
    """What needs no browser: the document, its headers, and that it names no other origin."""

    def test_served_self_contained_and_read_only(self):
        proxy = self.start_proxy(self.config(pools={"app": self.pool(self.start_backend("a"))}))
        r = proxy.admin("/")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Type"), "text/html; charset=utf-8")
        self.assertEqual(r.header("Cache-Control"), "no-store")
        csp = r.header("Content-Security-Policy")
        self.assertIn("default-src 'none'", csp)
        self.assertIn("connect-src 'self'", csp)
        page = r.text
        self.assertIn("<title>Outrigger status</title>", page)
        # Nothing fetched from elsewhere: no absolute or protocol-relative URL anywhere.
        self.assertIsNone(re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", page, re.I),
                          "the page names another origin")
        self.assertIsNone(re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", page, re.I))
        head = harness.request(proxy.admin_port, method="HEAD", path="/")
        self.assertEqual(head.status, 200)
        self.assertEqual(head.body, b"")
        post = harness.request(proxy.admin_port, method="POST", path="/", body="x")
        self.assertEqual(post.status, 405)


if __name__ == "__main__":
    harness.main()
