"""Tests of the maintainer checks added to tools/workshop_check.py: checkpoints, quoted
progress tables, BUILD pairs, the stable action environment, optional packages."""

import io
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tools"))

import workshop_check  # noqa: E402
import workshop_common  # noqa: E402
from workshop_common import UsageError  # noqa: E402

MANIFEST = textwrap.dedent("""\
    lesson 01 01_fd Owning a file descriptor
      edit fd.cc
      fail fd_test FdTest.A
      fail fd_test FdTest.B
      checkpoint closes 2 1
    """)

STARTER = "int a = 0;\nint b = 0;\n"
PATCH = textwrap.dedent("""\
    diff --git a/lessons/01_fd/fd.cc b/lessons/01_fd/fd.cc
    --- a/lessons/01_fd/fd.cc
    +++ b/lessons/01_fd/fd.cc
    @@ -1,2 +1,2 @@
    -int a = 0;
    +int a = 1;
     int b = 0;
    """)


def write(root, path, text):
    os.makedirs(os.path.dirname(os.path.join(root, path)), exist_ok=True)
    with open(os.path.join(root, path), "w") as f:
        f.write(text)


def result(label, cases, status="FAILED"):
    r = workshop_common.TargetResult(label, status)
    r.cases = dict(cases)
    return r


class CheckpointManifestTest(unittest.TestCase):
    def test_parses_checkpoints(self):
        l = workshop_common.parse_manifest(MANIFEST)[0]
        self.assertEqual(l.checkpoints, [("closes", 2, 1, 5)])

    def test_errors_name_the_line(self):
        for text, fragment in (("lesson 01 01_fd F\n  checkpoint x 1\n", "manifest.txt:2: expected 'checkpoint NAME"),
                               ("lesson 01 01_fd F\n  checkpoint x a b\n", "manifest.txt:2: expected 'checkpoint"),
                               ("  checkpoint x 1 2\n", "manifest.txt:1: 'checkpoint' before any 'lesson'"),
                               ("lesson 01 01_fd F\n  checkpoint x 1 2\n  checkpoint x 3 4\n",
                                "manifest.txt:3: checkpoint x is listed twice")):
            with self.assertRaises(UsageError) as ctx:
                workshop_common.parse_manifest(text)
            self.assertIn(fragment, str(ctx.exception))


class CheckpointTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp()
        self.lessons = workshop_common.parse_manifest(MANIFEST)
        write(self.root, "lessons/01_fd/README.md", "## Step 2\n\nCheckpoint closes: after step 2, "
                                                    "`bazel test` shows 2 passing, 1 failing.\n")
        write(self.root, "solutions/01_fd/checkpoints/closes.patch", PATCH)

    def tearDown(self):
        shutil.rmtree(self.root)

    def test_readme_and_manifest_agree(self):
        self.assertEqual(workshop_check.lint_checkpoint_lines(self.lessons, self.root), [])

    def test_readme_numbers_differ_or_are_missing(self):
        write(self.root, "lessons/01_fd/README.md", "Checkpoint closes: 3 passing, 0 failing.\n"
                                                    "Checkpoint other: 1 passing, 2 failing.\n")
        problems = workshop_check.lint_checkpoint_lines(self.lessons, self.root)
        self.assertIn("lessons/01_fd/README.md:1: checkpoint closes says 3 passing, 0 failing; the manifest says "
                      "2 passing, 1 failing", problems)
        self.assertTrue(any("README.md:2: checkpoint other is not in lessons/manifest.txt" in p for p in problems))
        write(self.root, "lessons/01_fd/README.md", "nothing\n")
        os.remove(os.path.join(self.root, "solutions/01_fd/checkpoints/closes.patch"))
        problems = workshop_check.lint_checkpoint_lines(self.lessons, self.root)
        self.assertEqual(len(problems), 2)
        self.assertIn("has no 'Checkpoint closes:' line", problems[0])
        self.assertIn("has no patch solutions/01_fd/checkpoints/closes.patch", problems[1])

    @unittest.skipUnless(shutil.which("git"), "checkpoints are applied with git apply")
    def test_patch_is_applied_counted_and_reverted(self):
        tmp = tempfile.mkdtemp()
        write(tmp, "lessons/01_fd/fd.cc", STARTER)
        seen = []

        def fake_bazel_test(patterns, root, log=None, **kw):
            with open(os.path.join(root, "lessons/01_fd/fd.cc")) as f:
                seen.append(f.read())
            a_fixed = "int a = 1;" in seen[-1]
            label = "//lessons/01_fd:fd_test"
            return {label: result(label, {"FdTest.A": (a_fixed, ""), "FdTest.B": (False, "x"),
                                          "FdTest.C": (True, "")})}, 3

        saved = workshop_check.bazel_test
        workshop_check.bazel_test = fake_bazel_test
        try:
            tally = workshop_check.Tally(io.StringIO())
            workshop_check.check_checkpoints(tally, self.lessons, tmp, None, self.root)
            self.assertEqual((tally.passed, tally.failed), (1, 0), tally.problems)
            with open(os.path.join(tmp, "lessons/01_fd/fd.cc")) as f:
                self.assertEqual(f.read(), STARTER)  # reverted
            self.assertIn("int a = 1;", seen[0])
            # A manifest that promises other numbers fails, naming both.
            self.lessons[0].checkpoints = [("closes", 3, 0, 5)]
            tally = workshop_check.Tally(io.StringIO())
            workshop_check.check_checkpoints(tally, self.lessons, tmp, None, self.root)
            self.assertEqual(tally.problems, ["lesson 01 checkpoint closes: 2 passing, 1 failing "
                                              "(lessons/manifest.txt:5 says 3 passing, 0 failing)"])
            # A patch that does not apply is reported and leaves the starter alone.
            write(tmp, "lessons/01_fd/fd.cc", "something else\n")
            tally = workshop_check.Tally(io.StringIO())
            workshop_check.check_checkpoints(tally, self.lessons, tmp, None, self.root)
            self.assertIn("does not apply to the starter", tally.problems[0])
        finally:
            workshop_check.bazel_test = saved
            shutil.rmtree(tmp)


class ProgressSampleTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp()
        self.lessons = workshop_common.parse_manifest(MANIFEST)
        label = "//lessons/01_fd:fd_test"
        self.results = {label: result(label, {"FdTest.A": (False, ""), "FdTest.B": (False, ""),
                                              "FdTest.C": (True, "")})}

    def tearDown(self):
        shutil.rmtree(self.root)

    def lint(self, row):
        write(self.root, "lessons/01_fd/README.md", "```\n%s\n```\n" % row)
        return workshop_check.lint_progress_samples(self.lessons, self.results, self.root)

    def test_the_real_row_is_clean(self):
        row = workshop_common.progress_row(self.lessons[0], 1, 3, "not started", True)
        self.assertEqual(self.lint("  " + row), [])

    def test_a_wrong_total_or_format_is_reported(self):
        row = workshop_common.progress_row(self.lessons[0], 1, 4, "not started")
        self.assertIn("lesson 01 has 3 test cases, but the quoted progress row says 1/4", self.lint(row)[0])
        renamed = workshop_common.progress_row(self.lessons[0], 1, 3, "not started").replace(
            "Owning a file descriptor", "Owning an fd            ")
        self.assertIn("is not what ./tools/progress prints", self.lint(renamed)[0])
        wrong_passes = workshop_common.progress_row(self.lessons[0], 2, 3, "not started")
        self.assertIn("untouched lesson 01 passes 1 of 3, not 2", self.lint(wrong_passes)[0])


class SmallChecksTest(unittest.TestCase):
    def test_build_pairs_name_the_first_differing_line(self):
        root = tempfile.mkdtemp()
        try:
            lessons = workshop_common.parse_manifest(MANIFEST)
            write(root, "lessons/01_fd/BUILD.bazel", "load()\nlesson(name = 'fd')\n")
            write(root, "solutions/01_fd/BUILD.bazel", "load()\nlesson(name = 'fd')\n")
            self.assertEqual(workshop_check.lint_build_pairs(lessons, root), [])
            write(root, "solutions/01_fd/BUILD.bazel", "load()\nlesson(name = 'x')\n")
            self.assertEqual(workshop_check.lint_build_pairs(lessons, root),
                             ["lesson 01: lessons/01_fd/BUILD.bazel and solutions/01_fd/BUILD.bazel differ; first at "
                              "line 2: \"lesson(name = 'fd')\" vs \"lesson(name = 'x')\""])
        finally:
            shutil.rmtree(root)

    def test_type_names_in_starter_logs_are_short(self):
        root = tempfile.mkdtemp()
        try:
            self.assertEqual(workshop_check.lint_type_names(root), [])
            write(root, "bazel-testlogs/lessons/06_eventfd_waker/eventfd_waker_test/test.log",
                  "[  FAILED  ] EventfdWaker/WakerSuite/OnEpoll.NewWakerIsQuiet, where TypeParam = "
                  "EventfdOnEpoll (0 ms)\n")
            self.assertEqual(workshop_check.lint_type_names(root), [])
            write(root, "bazel-testlogs/lessons/06_eventfd_waker/eventfd_waker_test/test.log",
                  "[  FAILED  ] EventfdWaker/WakerSuite/OnEpoll.NewWakerIsQuiet, where TypeParam = "
                  "loop::testing::(anonymous namespace)::EventfdOnEpoll (0 ms)\n")
            problems = workshop_check.lint_type_names(root)
            self.assertEqual(len(problems), 1)
            self.assertIn("lessons/06_eventfd_waker:eventfd_waker_test prints "
                          "'loop::testing::(anonymous namespace)::EventfdOnEpoll (0 ms)'", problems[0])
        finally:
            shutil.rmtree(root)

    def test_executed_actions_from_bazels_process_line(self):
        count = workshop_check.count_executed_actions
        self.assertEqual(count("INFO: 96 processes: 14 internal, 82 linux-sandbox.\n"), 82)
        self.assertEqual(count("INFO: 1 process: 1 internal.\n"), 0)
        self.assertEqual(count("INFO: 0 processes.\n"), 0)
        self.assertIsNone(count("ERROR: no such target\n"))

    def test_only_existing_packages_are_run(self):
        root = tempfile.mkdtemp()
        try:
            os.makedirs(os.path.join(root, "solutions"))
            os.makedirs(os.path.join(root, "tests", "stress"))
            self.assertEqual(workshop_check.existing(["//solutions/...", "//tests/contract/...", "//tests/stress/..."],
                                                     root), ["//solutions/...", "//tests/stress/..."])
        finally:
            shutil.rmtree(root)

    def test_test_targets_and_binaries_from_build_events(self):
        events = [
            {"id": {"targetConfigured": {"label": "//lessons/01_fd:fd_test"}},
             "configured": {"targetKind": "cc_test rule", "testSize": "SMALL"}},
            {"id": {"targetConfigured": {"label": "//lessons/01_fd:fd"}}, "configured": {"targetKind": "cc_library rule"}},
            {"id": {"targetConfigured": {"label": "//lessons/02_raw_epoll:epoll_test"}},
             "configured": {"targetKind": "cc_test rule"}},
            {"id": {"targetCompleted": {"label": "//lessons/01_fd:fd_test"}},
             "completed": {"success": True, "importantOutput": [{"name": "x", "uri": "file:///o/fd_test"}]}},
            {"id": {"targetCompleted": {"label": "//lessons/02_raw_epoll:epoll_test"}}, "aborted": {"reason": "x"}},
        ]
        self.assertEqual(workshop_common.tests_from_build_events(events, "/r"),
                         {"//lessons/01_fd:fd_test": "/o/fd_test", "//lessons/02_raw_epoll:epoll_test": None})

    def test_bazel_gets_the_shells_path(self):
        saved = dict(os.environ)
        try:
            os.environ["PATH"] = "/pyenv/shims:/usr/bin"
            os.environ["ELFS_SHELL_PATH"] = "/usr/bin"
            env = workshop_common.bazel_env()
            self.assertEqual(env["PATH"], "/usr/bin")
            self.assertNotIn("ELFS_SHELL_PATH", env)
        finally:
            os.environ.clear()
            os.environ.update(saved)


class SanitizerQuoteTest(unittest.TestCase):
    REPORT = textwrap.dedent("""\
        [ RUN      ] Suite.Case
        ==================
        WARNING: ThreadSanitizer: data race (pid=4711)
          Write of size 8 at 0x7b08000005a0 by thread T7:
            #0 operator delete(void*, unsigned long) ../tsan_new_delete.cpp:150 (libtsan.so.2+0x86c3d)
            #1 Release bazel-out/k8/bin/loop/arc.h:187 (arc_test+0x122ec)
          Previous atomic write of size 8 at 0x7b08000005a0 by thread T9:
            #0 fetch_sub /usr/include/c++/12/bits/atomic_base.h:628 (arc_test+0x12297)
        SUMMARY: ThreadSanitizer: data race ../tsan_new_delete.cpp:150 in operator delete(void*, unsigned long)
        """)
    QUOTE = ["[ RUN      ] Suite.Case", "WARNING: ThreadSanitizer: data race (pid=12)",
             "  Write of size 8 at 0x7b0800000560 by thread T20:", "    #1 Release .../loop/arc.h:187 ...", "...",
             "SUMMARY: ThreadSanitizer: data race ... in operator delete(void*, unsigned long)"]

    def test_a_true_quote_matches_whatever_the_addresses_pids_and_threads(self):
        self.assertIsNone(workshop_check.unmatched_quote_line(self.QUOTE, self.REPORT))

    def test_a_changed_line_number_is_named(self):
        quote = list(self.QUOTE)
        quote[3] = "    #1 Release .../loop/arc.h:188 ..."
        self.assertEqual(workshop_check.unmatched_quote_line(quote, self.REPORT), quote[3])

    def test_lines_out_of_order_do_not_match(self):
        quote = [self.QUOTE[2], self.QUOTE[0]]
        self.assertEqual(workshop_check.unmatched_quote_line(quote, self.REPORT), self.QUOTE[0])

    def test_markers_are_found_with_their_block(self):
        root = tempfile.mkdtemp()
        with open(os.path.join(root, "README.md"), "w") as f:
            f.write("text\n<!-- sanitizer-output tsan //l/08:t s/08/quotes/x.patch -->\n```\nA\n...\nB\n```\n")
        self.assertEqual(workshop_check.sanitizer_quotes(root),
                         [("README.md", 2, "tsan", "//l/08:t", "s/08/quotes/x.patch", ["A", "...", "B"])])


if __name__ == "__main__":
    unittest.main()
