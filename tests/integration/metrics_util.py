"""Helpers shared by the metrics tests: parse a Prometheus text exposition, and drive a
fixed number of keep-alive clients against the proxy, recording every request's latency."""

import re
import threading
import time

import harness

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """{(name, frozenset(labels.items())): value} and {family: type}."""
    samples, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
            continue
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, "unparsable exposition line %r" % line
        labels = frozenset(LABEL.findall(m.group(2) or ""))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples, types


def value(samples, name, **labels):
    want = frozenset((k, str(v)) for k, v in labels.items())
    found = [v for (n, l), v in samples.items() if n == name and want <= l]
    assert len(found) == 1, "%s%r: %d series" % (name, labels, len(found))
    return found[0]


def scrape(proxy):
    r = proxy.admin("/metrics")
    assert r.status == 200, r
    return parse(r.text)


class Load:
    """`clients` threads, each on its own keep-alive connection, sending GET `path` back to
    back until `per_client` requests are done (or stop() is called when per_client is None).
    Records (start, end) of every request as the client saw it."""

    def __init__(self, proxy, clients, path, per_client=None):
        self.proxy, self.path, self.per_client = proxy, path, per_client
        self.spans = []
        self.statuses = []
        self.errors = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]

    def start(self):
        for t in self._threads:
            t.start()
        return self

    def stop(self):
        self._stop.set()
        self.join()

    def join(self, timeout=120):
        for t in self._threads:
            t.join(timeout)
        assert not any(t.is_alive() for t in self._threads), "clients did not finish"
        assert not self.errors, self.errors[:3]

    def _run(self):
        conn = self.proxy.connection()
        try:
            n = 0
            while not self._stop.is_set() and (self.per_client is None or n < self.per_client):
                start = time.monotonic()
                conn.request("GET", self.path)
                r = conn.getresponse()
                r.read()
                end = time.monotonic()
                with self._lock:
                    self.spans.append((start, end))
                    self.statuses.append(r.status)
                n += 1
        except Exception as e:  # reported by join()
            self.errors.append(repr(e))
        finally:
            conn.close()

    def completed_between(self, t0, t1):
        with self._lock:
            return sum(1 for _, end in self.spans if t0 < end <= t1)

    def busy_between(self, t0, t1):
        """∫ client-side in-flight dt over [t0, t1]: the client's time-weighted concurrency
        times the interval."""
        with self._lock:
            return sum(max(0.0, min(end, t1) - max(start, t0)) for start, end in self.spans)
