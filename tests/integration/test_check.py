#!/usr/bin/env python3
"""The command line: --check reports every config error as FILE:LINE:COL, --version, --help."""

import glob
import os
import re
import unittest

import harness

ERROR_LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<msg>.+)$")

# Line and column numbers below count from 1, as the messages do.
BAD_CONFIG = """\
workers: auto
admin:
  listen: 127.0.0.1:9901
listeners:
  web:
    listen: 127.0.0.1:8080
    routes:
      - path_prefix: /
        pool: api
pools:
  api:
    balanse: round_robin
    timeouts:
      read: soon
    backends:
      - address: 127.0.0.1:9001
"""


def source_version():
    with open(os.path.join(harness.SOURCE_DIR, "CMakeLists.txt")) as f:
        m = re.search(r"project\(\s*outrigger\s+VERSION\s+([0-9.]+)", f.read())
    return m.group(1) if m else None


class Check(harness.ProxyTestCase):
    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def errors(self, p):
        return [m.groupdict() for m in map(ERROR_LINE.match, p.stderr.splitlines()) if m]

    def test_reports_every_error_of_a_bad_config_as_file_line_col_and_exits_1(self):
        path = self.write("bad.yaml", BAD_CONFIG)
        p = harness.run_outrigger(["--check", "-c", path])
        self.assertEqual(p.returncode, 1, p.stderr)
        errors = self.errors(p)
        self.assertGreaterEqual(len(errors), 2, "want one FILE:LINE:COL line per error:\n" + p.stderr)
        for e in errors:
            self.assertEqual(e["file"], path, p.stderr)
        where = {(int(e["line"]), int(e["col"])) for e in errors}
        self.assertIn((12, 5), where, "the unknown key `balanse` is at 12:5:\n" + p.stderr)
        self.assertIn((14, 13), where, "the bad duration `soon` is at 14:13:\n" + p.stderr)

    def test_suggests_the_key_meant_for_a_misspelt_one(self):
        path = self.write("typo.yaml", BAD_CONFIG)
        p = harness.run_outrigger(["--check", "-c", path])
        line = [e for e in self.errors(p) if e["line"] == "12"]
        self.assertTrue(line, p.stderr)
        self.assertIn("balance", line[0]["msg"], "want a 'did you mean' for balanse:\n" + p.stderr)

    def test_reports_a_yaml_syntax_error_with_its_position(self):
        path = self.write("syntax.yaml", "workers: auto\nadmin:\n  listen: [127.0.0.1:9901\n")
        p = harness.run_outrigger(["--check", "-c", path])
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertTrue(self.errors(p), "want FILE:LINE:COL: message:\n" + p.stderr)

    def test_reports_a_route_to_an_undefined_pool(self):
        text = BAD_CONFIG.replace("    balanse: round_robin\n", "").replace("      read: soon\n", "      read: 1s\n")
        text = text.replace("pool: api", "pool: nowhere")
        path = self.write("pool.yaml", text)
        p = harness.run_outrigger(["--check", "-c", path])
        self.assertEqual(p.returncode, 1, p.stderr)
        errors = self.errors(p)
        self.assertIn("9", [e["line"] for e in errors], "the route's `pool: nowhere` is on line 9:\n" + p.stderr)

    def test_reports_a_missing_file(self):
        p = harness.run_outrigger(["--check", "-c", os.path.join(self.tmp, "absent.yaml")])
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("absent.yaml", p.stderr)

    def test_accepts_the_demo_config(self):
        path = os.path.join(harness.SOURCE_DIR, "conf", "outrigger.yaml")
        self.assertTrue(os.path.exists(path), "conf/outrigger.yaml is missing")
        p = harness.run_outrigger(["--check", "-c", path])
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_accepts_every_example_config(self):
        for path in sorted(glob.glob(os.path.join(harness.SOURCE_DIR, "conf", "examples", "*.yaml"))):
            with self.subTest(example=os.path.basename(path)):
                p = harness.run_outrigger(["--check", "-c", path])
                self.assertEqual(p.returncode, 0, p.stderr)

    def test_accepts_a_config_the_harness_writes(self):
        text = self.config(pools={"api": self.pool("127.0.0.1:9001", timeouts={"read": "500ms"})},
                           listener={"timeouts": {"header": "1s"}}, drain={"timeout": "2s"})
        p = self.check_config(text)
        self.assertEqual(p.returncode, 0, p.stderr + "\n" + text)

    def test_prints_the_version(self):
        p = harness.run_outrigger(["--version"])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"\d+\.\d+\.\d+")
        version = source_version()
        if version:
            self.assertIn(version, p.stdout)

    def test_prints_help_naming_check(self):
        p = harness.run_outrigger(["--help"])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("--check", p.stdout + p.stderr)

    def test_logs_to_stderr_and_leaves_stdout_empty(self):
        a = self.start_backend("a")
        proxy = self.start_proxy(self.config(pools={"api": self.pool(a)}))
        self.assertEqual(proxy.get("/").status, 200)
        proxy.stop()
        self.assertTrue(proxy.stderr().strip(), "outrigger logged nothing to stderr")
        self.assertEqual(proxy.stdout(), "", "outrigger wrote to stdout; logs belong on stderr")

    def test_rejects_an_unknown_flag(self):
        p = harness.run_outrigger(["--no-such-flag"])
        self.assertNotEqual(p.returncode, 0)


if __name__ == "__main__":
    harness.main()
