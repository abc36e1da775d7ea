"""Tests of tools/devcontainer_test.py's and devcontainer_inside.py's pure parts: the Debian mirror taken from apt's
sources, the README's quoted summary line against Bazel's, sizes, and the files of
.devcontainer/ (no Docker, no Bazel)."""

import json
import os
import re
import shutil
import sys
import tempfile
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tools"))

import devcontainer_inside as di  # noqa: E402
import devcontainer_test as dt  # noqa: E402


class MirrorTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_deb822_sources_skip_comments_and_security(self):
        self.write("debian.sources", "Types: deb\n# http://snapshot.example/archive/debian\n"
                   "URIs: http://mirror.example/debian-security\n\nTypes: deb\nURIs: http://mirror.example/debian/\n")
        self.assertEqual(dt.debian_mirror([self.dir]), "http://mirror.example/debian")

    def test_one_line_list(self):
        path = self.write("sources.list", "deb http://ftp.example/debian bookworm main\n")
        self.assertEqual(dt.debian_mirror([path]), "http://ftp.example/debian")

    def test_default_when_nothing_is_found(self):
        self.write("other.list", "deb https://packages.example/apt stable main\n")
        self.assertEqual(dt.debian_mirror([self.dir, os.path.join(self.dir, "missing")]),
                         "http://deb.debian.org/debian")


class SummaryTest(unittest.TestCase):
    def test_readme_quotes_a_summary_line(self):
        with open(os.path.join(REPO, "README.md")) as f:
            line = di.quoted_summary(f.read())
        self.assertIsNotNone(line, "README.md shows what bazel test //lessons/... prints on a fresh checkout")
        self.assertRegex(line, r"^Executed (\d+) out of \1 tests: \1 fail locally\.$")

    def test_last_summary_line_of_bazel_output_wins(self):
        out = ("INFO: Build completed\n//lessons/00_workflow:workflow_test   FAILED in 0.1s\n"
               "Executed 1 out of 2 tests: 1 fails locally.\nExecuted 18 out of 18 tests: 18 fail locally.\n")
        self.assertEqual(di.summary_line(out), "Executed 18 out of 18 tests: 18 fail locally.")
        self.assertIsNone(di.summary_line("INFO: Build completed successfully\n"))

    def test_executed_actions_add_up_over_every_bazel_command(self):
        out = ("INFO: 1 process: 1 internal.\nINFO: Build completed successfully, 1 total action\n"
               "INFO: 5 processes: 1 internal, 4 processwrapper-sandbox.\n")
        self.assertEqual(dt.executed_actions(out), 4)
        self.assertEqual(dt.executed_actions("INFO: 292 processes: 292 internal.\n"), 0)
        self.assertIsNone(dt.executed_actions("no Bazel here\n"))

    def test_sizes(self):
        self.assertEqual(dt.human_size(1834567890), "1.83 GB")
        self.assertEqual(dt.human_size(412000000), "412 MB")


class DevcontainerFilesTest(unittest.TestCase):
    def test_devcontainer_json_builds_the_dockerfile_and_recommends_clangd(self):
        with open(os.path.join(REPO, ".devcontainer", "devcontainer.json")) as f:
            text = f.read()
        # JSON with comments: drop the // lines, then it must parse.
        config = json.loads(re.sub(r"^\s*//.*$", "", text, flags=re.M))
        self.assertEqual(config["build"]["dockerfile"], "Dockerfile")
        self.assertEqual(config["build"]["context"], "..")
        self.assertIn("llvm-vs-code-extensions.vscode-clangd", config["customizations"]["vscode"]["extensions"])

    def test_dockerfile_installs_through_deps_sh_and_warms_the_cache(self):
        with open(os.path.join(REPO, ".devcontainer", "Dockerfile")) as f:
            text = f.read()
        self.assertIn("ARG BASE=debian:bookworm", text)
        self.assertIn("ensure_deps --editor", text)
        self.assertNotRegex(text, r"apt-get install", "one install path: tools/lib/deps.sh")
        self.assertIn("startup --output_base=", text)
        for target in dt.WARM_TARGETS:
            self.assertIn(target, text)


if __name__ == "__main__":
    unittest.main()
