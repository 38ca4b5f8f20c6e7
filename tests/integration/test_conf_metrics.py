#!/usr/bin/env python3
"""The shipped integrations (conf/kubernetes, conf/grafana, conf/prometheus) parse, and every
metric name they use exists in a live /metrics — a renamed metric cannot silently break a
dashboard, an alert or an autoscaler. The sidecar's embedded outrigger.yaml passes --check."""

import glob
import json
import os
import re
import shutil
import subprocess
import unittest

import yaml

import harness
from metrics_util import parse

SOURCE = os.environ.get("OUTRIGGER_SOURCE_DIR",
                        os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CONF = os.path.join(SOURCE, "conf")
NAME = re.compile(r"\b((?:outrigger|process)_[a-z_]+)\b")
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")


def strings(node):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from strings(k)
            yield from strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from strings(v)
    elif isinstance(node, str):
        yield node


def load_all():
    """{path: [documents]} for every shipped integration file; embedded YAML configs in
    ConfigMaps are parsed too (they are documents in their own right)."""
    docs = {}
    for path in sorted(glob.glob(os.path.join(CONF, "kubernetes", "*.yaml")) +
                       glob.glob(os.path.join(CONF, "prometheus", "*.yml"))):
        with open(path) as f:
            docs[path] = [d for d in yaml.safe_load_all(f) if d is not None]
        for d in list(docs[path]):
            if d.get("kind") == "ConfigMap":
                for key, text in d.get("data", {}).items():
                    if key.endswith((".yaml", ".yml")):
                        docs["%s#%s" % (path, key)] = [yaml.safe_load(text)]
    for path in sorted(glob.glob(os.path.join(CONF, "grafana", "*.json"))):
        with open(path) as f:
            docs[path] = [json.load(f)]
    return docs


class ConfMetrics(harness.ProxyTestCase):
    def test_every_file_parses_and_every_metric_name_is_exposed(self):
        docs = load_all()
        for folder in ("kubernetes", "grafana", "prometheus"):
            self.assertTrue(any(os.sep + folder + os.sep in p for p in docs), folder)
        kinds = {d.get("kind") for path, ds in docs.items() for d in ds if isinstance(d, dict)}
        for kind in ("Deployment", "HorizontalPodAutoscaler", "ScaledObject", "ConfigMap"):
            self.assertIn(kind, kinds)

        # Names the Prometheus Adapter defines (`as:`) are the adapter's, not ours.
        aliases = set()
        for path, ds in docs.items():
            for d in ds:
                for rule in (d or {}).get("rules", []) if isinstance(d, dict) else []:
                    alias = (rule.get("name") or {}).get("as") if isinstance(rule, dict) else None
                    if alias:
                        aliases.add(alias)
        used = {}
        for path, ds in docs.items():
            for s in strings(ds):
                for name in NAME.findall(s):
                    if name not in aliases:
                        used.setdefault(name, path)
        self.assertGreater(len(used), 15, sorted(used))

        backend = self.start_backend("a")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(backend)}))
        proxy.get("/")
        samples, types = parse(proxy.admin("/metrics").text)
        exposed = {name for name, _ in samples} | set(types)
        missing = {name: path for name, path in used.items()
                   if name not in exposed and not (name.endswith(HISTOGRAM_SUFFIXES) and
                                                   name.rsplit("_", 1)[0] in types)}
        self.assertEqual(missing, {}, "metric names used in conf/ but absent from /metrics")

    def test_the_sidecar_config_passes_check(self):
        path = os.path.join(CONF, "kubernetes", "deployment.yaml")
        with open(path) as f:
            maps = [d for d in yaml.safe_load_all(f) if d and d.get("kind") == "ConfigMap"]
        self.assertEqual(len(maps), 1)
        r = self.check_config(maps[0]["data"]["outrigger.yaml"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    @unittest.skipUnless(shutil.which("promtool"), "needs promtool (scripts/install-deps --prometheus)")
    def test_promtool_accepts_the_prometheus_config_and_rules(self):
        for args in (["check", "config", os.path.join(CONF, "prometheus", "prometheus.yml")],
                     ["check", "rules", os.path.join(CONF, "prometheus", "alerts.yml")]):
            r = subprocess.run(["promtool"] + args, capture_output=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stdout.decode() + r.stderr.decode())


if __name__ == "__main__":
    harness.main()
