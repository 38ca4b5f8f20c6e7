#!/usr/bin/env python3
"""The manual page the package installs (man/outrigger.1.gz beside the binary, made by
cmake/packaging.cmake): it renders without a groff warning, carries the binary's version, and
documents every option, subcommand and ctl command the binary's own --help lists."""

import gzip
import os
import re
import subprocess
import unittest

import harness


def run(*args):
    return subprocess.run([harness.outrigger_bin(), *args], capture_output=True, text=True,
                          timeout=10)


class ManPage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        path = os.path.join(os.path.dirname(harness.outrigger_bin()), "man", "outrigger.1.gz")
        with gzip.open(path, "rt") as f:
            cls.source = f.read()
        # Rendered text: what `man outrigger` shows (hyphens and quotes as plain ASCII).
        cls.render = subprocess.run(["groff", "-man", "-Tascii", "-ww", "-rLL=100n"],
                                    input=cls.source, capture_output=True, text=True,
                                    timeout=10)
        cls.text = re.sub(r".\x08", "", cls.render.stdout)

    def test_renders_without_warnings(self):
        self.assertEqual(self.render.returncode, 0)
        self.assertEqual(self.render.stderr, "")
        self.assertIn("SYNOPSIS", self.text)

    def test_carries_the_binary_version(self):
        version = run("--version").stdout.split()[-1]
        self.assertRegex(self.source, r'\.TH OUTRIGGER 1 "[0-9-]+" "outrigger %s"'
                         % re.escape(version))

    def test_documents_what_help_lists(self):
        listed = set()
        for args in (["--help"], ["ctl", "--help"], ["probe", "--help"],
                     ["import-nginx", "--help"]):
            out = run(*args)
            help_text = out.stdout + out.stderr
            listed |= set(re.findall(r"(?<![\w-])--?[a-z][a-z-]*", help_text))
            if args[0] == "ctl":
                # The commands: the first word of each indented line.
                listed |= set(re.findall(r"^  ([a-z]+) ", help_text, re.M))
            if args[0] == "--help":
                listed |= set(re.findall(r"^       outrigger ([a-z-]+)", help_text, re.M))
        self.assertGreater(len(listed), 15, listed)
        missing = sorted(w for w in listed
                         if not re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(w), self.text))
        self.assertEqual(missing, [], "in --help but not in the manual page")


if __name__ == "__main__":
    unittest.main()
