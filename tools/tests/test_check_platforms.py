"""Tests of tools/check_platforms.py: docs/platforms.md, the BUILD files and the macOS job
of the workflow must agree on what runs on macOS."""

import os
import shutil
import sys
import tempfile
import textwrap
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tools"))

import check_platforms  # noqa: E402

BUILD = {
    "lessons/03_raw_kqueue/BUILD.bazel": """
        load("//tools/bazel:lesson.bzl", "lesson")
        lesson(name = "kqueue", srcs = ["kqueue.cc"], tests = ["kqueue_test.cc"])
    """,
    "lessons/12_redis_server/BUILD.bazel": """
        load("//tools/bazel:lesson.bzl", "lesson")
        lesson(
            name = "redis",
            srcs = ["server.cc"] + select({"//conditions:default": []}),
            backends = ["epoll", "kqueue"],
            binaries = ["//loop/redis:server_main.cc"],
            target_compatible_with = ["@platforms//os:linux"],
            tests = ["server_test.cc"],
        )
    """,
    "loop/redis/BUILD.bazel": """
        cc_library(name = "redis", target_compatible_with = ["@platforms//os:linux"])
        cc_binary(name = "server", deps = [":redis"])
    """,
    "tests/redis/BUILD.bazel": """
        sh_test(name = "real_clients_test", data = ["//loop/redis:server"])
        [cc_test(name = n, deps = ["//loop/redis"]) for n in ["resp_parser_test"]]
    """,
    "tests/fixtures/BUILD.bazel": """
        cc_test(name = "data_race", tags = ["manual"])
    """,
}

TABLE = """
    # Platforms

    | Target | On macOS | Why, and what it would need |
    |---|---|---|
    | `//lessons/03_raw_kqueue:kqueue_test` | yes | the native kqueue |
    | `//lessons/12_redis_server:server` | no | Linux only (`//lessons/12_redis_server:server`) |
    | `//lessons/12_redis_server:server_epoll_test` | no | Linux only (`//lessons/12_redis_server:server_epoll_test`) |
    | `//lessons/12_redis_server:server_kqueue_test` | no | Linux only (`//lessons/12_redis_server:server_kqueue_test`) |
    | `//loop/redis:server` | no | Linux only (`//loop/redis:redis`): accept4 |
    | `//tests/redis:real_clients_test` | no | Linux only (`//loop/redis:redis`) |
    | `//tests/redis:resp_parser_test` | no | Linux only (`//loop/redis:redis`) |
    | `//tests/fixtures:data_race` | no | manual |
"""

WORKFLOW = """
    name: check
    on:
      push:
    jobs:
      linux:
        steps:
          - run: bazel test //tests/redis:real_clients_test
      macos:
        steps:
          # Not a target: //not/this:one
          - run: >-
              bazel test
              //lessons/03_raw_kqueue:kqueue_test
"""


class PlatformsLintTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="check-platforms-")
        self.addCleanup(shutil.rmtree, self.root)
        os.makedirs(os.path.join(self.root, "tools", "bazel"))
        shutil.copy(os.path.join(REPO, "tools", "bazel", "lesson.bzl"), os.path.join(self.root, "tools", "bazel"))
        for path, text in BUILD.items():
            self.write(path, text)
        self.write(check_platforms.TABLE, TABLE)
        self.write(check_platforms.WORKFLOW, WORKFLOW)

    def write(self, path, text):
        os.makedirs(os.path.dirname(os.path.join(self.root, path)), exist_ok=True)
        with open(os.path.join(self.root, path), "w") as f:
            f.write(textwrap.dedent(text).lstrip())

    def edit(self, path, old, new):
        with open(os.path.join(self.root, path)) as f:
            text = f.read()
        self.assertIn(old, text)
        with open(os.path.join(self.root, path), "w") as f:
            f.write(text.replace(old, new))

    def lint(self):
        return check_platforms.lint_platforms(self.root)

    def test_agreeing_files_are_clean(self):
        self.assertEqual(self.lint(), [])

    def test_lesson_targets_and_their_linux_only_marks_are_read(self):
        rules = check_platforms.build_rules(self.root)
        self.assertEqual(rules["//lessons/12_redis_server:server_kqueue_test"]["kind"], "cc_test")
        self.assertTrue(rules["//lessons/12_redis_server:redis"]["linux_only"])
        self.assertFalse(rules["//lessons/03_raw_kqueue:kqueue_test"]["linux_only"])
        self.assertEqual(check_platforms.linux_only_cause("//tests/redis:real_clients_test", rules),
                         "//loop/redis:redis")

    def test_a_target_without_a_row_is_reported(self):
        self.edit(check_platforms.TABLE, "| `//tests/fixtures:data_race` | no | manual |\n", "")
        self.assertEqual(self.lint(), ["docs/platforms.md has no row for //tests/fixtures:data_race: "
                                       "say whether it runs on macOS, and why"])

    def test_a_row_for_no_target_is_reported(self):
        self.edit(check_platforms.TABLE, "| `//tests/fixtures:data_race`",
                  "| `//tests/fixtures:gone` | no | x |\n| `//tests/fixtures:data_race`")
        self.assertEqual(len(self.lint()), 1)
        self.assertIn("//tests/fixtures:gone is no test or program", self.lint()[0])

    def test_a_linux_only_target_marked_yes_is_reported(self):
        self.edit(check_platforms.TABLE, "| `//tests/redis:resp_parser_test` | no |",
                  "| `//tests/redis:resp_parser_test` | yes |")
        problems = self.lint()
        self.assertTrue(any("is skipped on macOS (//loop/redis:redis is Linux only)" in p for p in problems),
                        problems)
        self.assertTrue(any("does not run //tests/redis:resp_parser_test" in p for p in problems), problems)

    def test_a_linux_only_row_must_name_the_target_that_carries_the_mark(self):
        self.edit(check_platforms.TABLE, "| Linux only (`//loop/redis:redis`): accept4 |", "| accept4 |")
        self.assertEqual(len(self.lint()), 1)
        self.assertIn("name `//loop/redis:redis` in its row", self.lint()[0])

    def test_an_unknown_status_is_reported(self):
        self.edit(check_platforms.TABLE, "| `//lessons/03_raw_kqueue:kqueue_test` | yes |",
                  "| `//lessons/03_raw_kqueue:kqueue_test` | maybe |")
        self.assertTrue(any("'maybe', not one of yes/partly/no" in p for p in self.lint()))

    def test_a_manual_target_cannot_run_there(self):
        self.edit(check_platforms.TABLE, "| `//tests/fixtures:data_race` | no |", "| `//tests/fixtures:data_race` | yes |")
        self.assertTrue(any("is manual, so no job runs it" in p for p in self.lint()))

    def test_the_macos_job_must_run_exactly_the_yes_and_partly_rows(self):
        self.edit(check_platforms.WORKFLOW, "          //lessons/03_raw_kqueue:kqueue_test\n",
                  "          //tests/redis:real_clients_test\n")
        self.assertEqual(self.lint(), [
            ".github/workflows/check.yml: the macos job does not run //lessons/03_raw_kqueue:kqueue_test, "
            "which docs/platforms.md says runs on macOS",
            ".github/workflows/check.yml: the macos job runs //tests/redis:real_clients_test, which "
            "docs/platforms.md does not say runs on macOS"])

    def test_the_other_jobs_and_comments_are_not_read(self):
        self.assertEqual(check_platforms.macos_job_labels(self.root), ["//lessons/03_raw_kqueue:kqueue_test"])

    def test_the_repository_itself_agrees(self):
        self.assertEqual(check_platforms.lint_platforms(REPO), [])


if __name__ == "__main__":
    unittest.main()
