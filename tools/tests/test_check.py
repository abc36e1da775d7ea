"""Tests of the maintainer suite's steps that run things: tools/check_suite.py (the step
list and its runner), check_bazel.py (layering, stable environment, target tallies) and
check_scratch.py (the scratch copy, checkpoints, stress targets, sanitizer quotes). Bazel
itself is never run: its results are faked."""

import argparse
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
sys.path.insert(0, HERE)

import check_bazel  # noqa: E402
import check_scratch  # noqa: E402
import check_suite  # noqa: E402
import workshop_common  # noqa: E402
from test_workshop import make_repo, result  # noqa: E402

MANIFEST = textwrap.dedent("""\
    lesson 01 01_fd Owning a file descriptor
      edit fd.cc loop/fd.cc
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


def git_init(root):
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@t")
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "starter"]):
        subprocess.run(["git"] + cmd, cwd=root, check=True, env=env, capture_output=True)


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
            with self.assertRaises(workshop_common.UsageError) as ctx:
                workshop_common.parse_manifest(text)
            self.assertIn(fragment, str(ctx.exception))


@unittest.skipUnless(shutil.which("git"), "checkpoints are applied with git apply")
class CheckpointTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp()
        self.lessons = workshop_common.parse_manifest(MANIFEST)
        write(self.root, "solutions/01_fd/checkpoints/closes.patch", PATCH)
        self.saved = check_scratch.bazel_test
        self.seen = []

        def fake_bazel_test(patterns, root, log=None, **kw):
            with open(os.path.join(root, "lessons/01_fd/fd.cc")) as f:
                self.seen.append(f.read())
            a_fixed = "int a = 1;" in self.seen[-1]
            label = "//lessons/01_fd:fd_test"
            return {label: result(label, "FAILED", {"FdTest.A": (a_fixed, ""), "FdTest.B": (False, "x"),
                                                     "FdTest.C": (True, "")})}, 3
        check_scratch.bazel_test = fake_bazel_test

    def tearDown(self):
        check_scratch.bazel_test = self.saved
        shutil.rmtree(self.root)

    def test_patch_is_applied_counted_and_reverted(self):
        tmp = tempfile.mkdtemp()
        try:
            write(tmp, "lessons/01_fd/fd.cc", STARTER)
            tally = check_suite.Tally(io.StringIO())
            check_scratch.check_checkpoints(tally, self.lessons, tmp, None, self.root)
            self.assertEqual((tally.passed, tally.failed), (1, 0), tally.problems)
            with open(os.path.join(tmp, "lessons/01_fd/fd.cc")) as f:
                self.assertEqual(f.read(), STARTER)  # reverted
            self.assertIn("int a = 1;", self.seen[0])
            # A manifest that promises other numbers fails, naming both.
            self.lessons[0].checkpoints = [("closes", 3, 0, 5)]
            tally = check_suite.Tally(io.StringIO())
            check_scratch.check_checkpoints(tally, self.lessons, tmp, None, self.root)
            self.assertEqual(tally.problems, ["lesson 01 checkpoint closes: 2 passing, 1 failing "
                                              "(lessons/manifest.txt:5 says 3 passing, 0 failing)"])
            # A patch that does not apply is reported and leaves the starter alone.
            write(tmp, "lessons/01_fd/fd.cc", "something else\n")
            tally = check_suite.Tally(io.StringIO())
            check_scratch.check_checkpoints(tally, self.lessons, tmp, None, self.root)
            self.assertIn("does not apply to the starter", tally.problems[0])
        finally:
            shutil.rmtree(tmp)


@unittest.skipUnless(shutil.which("git"), "the scratch copy lists the checkout's files with git")
class ScratchCopyTest(unittest.TestCase):
    def setUp(self):
        self.root = make_repo(tempfile.mkdtemp())
        write(self.root, ".gitignore", "/ignored.txt\n")
        git_init(self.root)
        write(self.root, "lessons/01_fd/notes.txt", "untracked, not ignored\n")
        write(self.root, "ignored.txt", "ignored\n")
        self.scratch = check_scratch.ScratchCopy(self.root, os.path.join(self.root, "log"))

    def tearDown(self):
        # Not scratch.close(): that runs `bazel clean --expunge` in the copy.
        shutil.rmtree(self.scratch.path, ignore_errors=True)
        shutil.rmtree(self.root)

    def read(self, path):
        with open(os.path.join(self.scratch.path, path)) as f:
            return f.read()

    def test_the_copy_has_the_checkouts_files_and_then_the_references(self):
        self.assertEqual(self.read("lessons/01_fd/fd.cc"), "// TODO(lesson 01): close\n")
        self.assertEqual(self.read("lessons/01_fd/notes.txt"), "untracked, not ignored\n")
        self.assertFalse(os.path.exists(os.path.join(self.scratch.path, "ignored.txt")))
        self.scratch.copy_references(workshop_common.load_manifest(self.root))
        self.assertTrue(self.scratch.references_in)
        self.assertEqual(self.read("lessons/01_fd/fd.cc"), "close(fd_);\n")  # loop/fd.cc
        self.assertEqual(self.read("lessons/00_workflow/workflow.cc"), "int x = 1;\n")  # solutions/00_workflow
        with open(os.path.join(self.root, "lessons/01_fd/fd.cc")) as f:
            self.assertEqual(f.read(), "// TODO(lesson 01): close\n")  # the checkout is untouched


class StressTest(unittest.TestCase):
    def test_each_entry_names_lessons_of_the_real_manifest(self):
        lessons = workshop_common.load_manifest(REPO)
        runs = {}
        for numbers, n in check_scratch.STRESS:
            targets = check_scratch.stress_targets(lessons, numbers)
            self.assertEqual(len(targets), len(numbers), numbers)
            for t in targets:
                runs[t.split("/")[-1].split(":")[0][:2]] = n
        self.assertEqual(runs, {"05": 50, "06": 50, "07": 50, "08": 50, "09": 200, "10": 50, "11": 50, "12": 10})
        self.assertEqual(check_scratch.stress_targets(lessons, ("09",)), ["//lessons/09_early_drop:all"])


class LayeringTest(unittest.TestCase):
    def setUp(self):
        self.saved = check_bazel._query
        self.answers = {}
        check_bazel._query = lambda root, expr: self.answers[expr]

    def tearDown(self):
        check_bazel._query = self.saved

    def run_check(self, deps, rdeps, tools):
        self.answers = {"deps(//:loop)": (deps, None),
                        "rdeps(//... - //lessons/..., //lessons/...)": (rdeps, None),
                        'kind("cc_.*", //tools/...)': (tools, None)}
        tally = check_suite.Tally(io.StringIO())
        check_bazel.check_layering(tally, "/nowhere")
        return tally

    def test_a_clean_layering_is_three_passes(self):
        tally = self.run_check(["//:loop", "//loop:loop", "//loop:fd.cc", "//loop/port:sys_event",
                                "@bazel_tools//tools/cpp:malloc", "@local_config_cc//:toolchain"],
                               ["//lessons/01_fd:fd", "//lessons/01_fd:fd_test", "//lessons:todo"], [])
        self.assertEqual((tally.passed, tally.failed), (3, 0), tally.problems)

    def test_each_failure_names_the_offenders(self):
        tally = self.run_check(["//:loop", "//loop:loop", "//tests/support:support", "//lessons:todo"],
                               ["//lessons:todo", "//tests/contract:x_test"], ["//tools/testing:support"])
        self.assertEqual(tally.problems, [
            "layering: the library may not depend on: //tests/support:support //lessons:todo",
            "layering: these targets outside lessons/ depend on lessons/: //tests/contract:x_test",
            "layering: tools/ has C++ targets: //tools/testing:support"])

    def test_a_failing_query_is_a_failure(self):
        self.answers = {}
        check_bazel._query = lambda root, expr: (None, "bazel query '%s' failed (exit 7): ERROR: x" % expr)
        tally = check_suite.Tally(io.StringIO())
        check_bazel.check_layering(tally, "/nowhere")
        self.assertEqual(tally.failed, 3)
        self.assertIn("failed (exit 7)", tally.problems[0])


class SmallChecksTest(unittest.TestCase):
    def test_executed_actions_from_bazels_process_line(self):
        count = check_bazel.count_executed_actions
        self.assertEqual(count("INFO: 96 processes: 14 internal, 82 linux-sandbox.\n"), 82)
        self.assertEqual(count("INFO: 1 process: 1 internal.\n"), 0)
        self.assertEqual(count("INFO: 0 processes.\n"), 0)
        self.assertIsNone(count("ERROR: no such target\n"))

    def test_only_existing_packages_are_run(self):
        root = tempfile.mkdtemp()
        try:
            os.makedirs(os.path.join(root, "loop"))
            os.makedirs(os.path.join(root, "tests", "stress"))
            self.assertEqual(check_bazel.existing(["//loop/...", "//tests/contract/...", "//tests/stress/..."], root),
                             ["//loop/...", "//tests/stress/..."])
        finally:
            shutil.rmtree(root)

    def test_targets_are_tallied_one_by_one(self):
        tally = check_suite.Tally(io.StringIO())
        check_bazel.tally_targets(tally, {"//a:t": result("//a:t", "PASSED"),
                                          "//b:t": result("//b:t", "FAILED", crashed="signal 6")}, 3, "library")
        self.assertEqual((tally.passed, tally.problems), (1, ["library: //b:t crashed: signal 6"]))
        check_bazel.tally_targets(tally, {}, 1, "asan")
        self.assertIn("asan: Bazel produced no test results (exit code 1)", tally.problems[1])

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
            #1 Release lessons/08_arc/arc.h:187 (arc_test+0x122ec)
          Previous atomic write of size 8 at 0x7b08000005a0 by thread T9:
            #0 fetch_sub /usr/include/c++/12/bits/atomic_base.h:628 (arc_test+0x12297)
        SUMMARY: ThreadSanitizer: data race ../tsan_new_delete.cpp:150 in operator delete(void*, unsigned long)
        """)
    QUOTE = ["[ RUN      ] Suite.Case", "WARNING: ThreadSanitizer: data race (pid=12)",
             "  Write of size 8 at 0x7b0800000560 by thread T20:", "    #1 Release .../08_arc/arc.h:187 ...", "...",
             "SUMMARY: ThreadSanitizer: data race ... in operator delete(void*, unsigned long)"]

    def test_a_true_quote_matches_whatever_the_addresses_pids_and_threads(self):
        self.assertIsNone(check_scratch.unmatched_quote_line(self.QUOTE, self.REPORT))

    def test_a_changed_line_number_is_named(self):
        quote = list(self.QUOTE)
        quote[3] = "    #1 Release .../08_arc/arc.h:188 ..."
        self.assertEqual(check_scratch.unmatched_quote_line(quote, self.REPORT), quote[3])

    def test_lines_out_of_order_do_not_match(self):
        quote = [self.QUOTE[2], self.QUOTE[0]]
        self.assertEqual(check_scratch.unmatched_quote_line(quote, self.REPORT), self.QUOTE[0])


class FakeScratch:
    made = []

    def __init__(self, root, log):
        self.path, self.references_in, self.closed = "/scratch", False, False
        FakeScratch.made.append(self)

    def copy_references(self, lessons):
        self.references_in = True

    def close(self):
        self.closed = True


class SuiteTest(unittest.TestCase):
    """The runner: STEPS in order, the options, the scratch copy's lifetime, the last line."""

    def setUp(self):
        self.root = tempfile.mkdtemp()
        self.saved = (check_suite.STEPS, check_scratch.ScratchCopy)
        FakeScratch.made = []
        check_scratch.ScratchCopy = FakeScratch
        self.ran = []

    def tearDown(self):
        check_suite.STEPS, check_scratch.ScratchCopy = self.saved
        shutil.rmtree(self.root)

    def step(self, name, needs="", scratch=False, ok=True):
        def run(ctx):
            if scratch:
                ctx.scratch()
            self.ran.append((name, [s.closed for s in FakeScratch.made]))
            ctx.tally.add(ok, name)
        return check_suite.Step(name, "the %s step" % name, run, needs, scratch)

    def check(self, *argv):
        out = io.StringIO()
        parser = argparse.Namespace(no_sanitizers=False, no_lint=False, no_container=False, only=None)
        for a in argv:
            if a.startswith("--only="):
                parser.only = (parser.only or []) + [a[len("--only="):]]
            else:
                setattr(parser, a[2:].replace("-", "_"), True)
        code = check_suite.cmd_check(parser, root=self.root, out=out)
        return code, out.getvalue()

    def test_steps_run_in_order_and_the_scratch_copy_goes_after_its_last_step(self):
        check_suite.STEPS = [self.step("a"), self.step("b", scratch=True), self.step("c", "sanitizers", True),
                             self.step("d", ok=False), self.step("e", "lint")]
        code, text = self.check()
        self.assertEqual(code, 1)
        self.assertEqual(self.ran, [("a", []), ("b", [False]), ("c", [False]), ("d", [True]), ("e", [True])])
        self.assertEqual(len(FakeScratch.made), 1)
        self.assertIn("== the a step (", text)
        self.assertTrue(text.endswith("What failed:\n  - d\n4 passed, 1 failed\n"), text)

    def test_options_leave_steps_out(self):
        check_suite.STEPS = [self.step("a"), self.step("c", "sanitizers", True), self.step("e", "lint"),
                             self.step("f", "container")]
        code, _ = self.check("--no-sanitizers", "--no-lint", "--no-container")
        self.assertEqual(code, 0)
        self.assertEqual([name for name, _ in self.ran], ["a"])
        self.assertEqual(FakeScratch.made, [])  # no scratch step ran: no copy was made
        self.ran = []
        self.check("--no-sanitizers", "--only=c")
        self.assertEqual([name for name, _ in self.ran], ["c"])
        self.assertTrue(FakeScratch.made[-1].closed)  # closed at the end too

    def test_the_real_steps(self):
        names = [s.name for s in self.saved[0]]
        self.assertEqual(len(names), len(set(names)))
        self.assertLess(names.index("layering"), names.index("library"))  # early: it builds nothing
        self.assertLess(names.index("checkpoints"), names.index("solved"))  # on the untouched starters
        scratch = [i for i, s in enumerate(self.saved[0]) if s.scratch]
        self.assertEqual(scratch, list(range(scratch[0], scratch[-1] + 1)))  # one run of scratch steps
        self.assertEqual({s.needs for s in self.saved[0]}, {"", "sanitizers", "lint", "container"})


if __name__ == "__main__":
    unittest.main()
