"""Tests of the learner's tools, tools/workshop.py and workshop_common.py: the manifest,
test results, progress, hint, reset, diff, and the command-line scripts. The maintainer
suite's tests are test_check_lint.py and test_check.py.
Run: python3 -m unittest discover -s tools/tests -p 'test_*.py'
"""

import io
import json
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

import workshop  # noqa: E402
import workshop_common  # noqa: E402
from workshop_common import UsageError  # noqa: E402

MANIFEST = textwrap.dedent("""\
    # comment
    lesson 00 00_workflow Workflow: edit, test, green
      edit workflow.cc solutions/00_workflow/workflow.cc
      fail workflow_test WorkflowTest.SaysHello

    lesson 01 01_fd Owning a file descriptor
      edit fd.cc loop/fd.cc
      fail fd_test FdTest.ClosesOnDestruction   # trailing comment
      fail fd_test FdTest.MoveLeavesSourceEmpty
    """)

HINTS = textwrap.dedent("""\
    # Hints for lesson 01

    ## Hint 1: a nudge
    Look at close().

    ## Hint 2: the concept
    The destructor owns the fd.

    ## Hint 3: nearly the answer
    if (fd_ >= 0) close(fd_);
    """)


def gtest_xml(cases):
    """cases: [(suite, name, failure_message or None or 'SKIP')]."""
    body = []
    for suite, name, failure in cases:
        if failure == "SKIP":
            body.append('<testcase name="%s" status="run" result="skipped" classname="%s"><skipped/></testcase>'
                        % (name, suite))
        elif failure:
            body.append('<testcase name="%s" status="run" result="completed" classname="%s">'
                        '<failure message="%s" type=""/></testcase>' % (name, suite, failure))
        else:
            body.append('<testcase name="%s" status="run" result="completed" classname="%s"/>' % (name, suite))
    return '<?xml version="1.0"?><testsuites><testsuite name="s">%s</testsuite></testsuites>' % "".join(body)


CRASH_XML = ('<?xml version="1.0" encoding="UTF-8"?><testsuites><testsuite name="lessons/01_fd/fd_test" '
             'tests="1" failures="0" errors="1"><testcase name="lessons/01_fd/fd_test" status="run" '
             'duration="0" time="0"><error message="exited with error code 134"></error></testcase>'
             '</testsuite></testsuites>')


def result(label, status="FAILED", cases=None, crashed=None):
    r = workshop_common.TargetResult(label, status)
    r.cases = dict(cases or {})
    r.crashed = crashed
    return r


def make_repo(tmp, hints=HINTS):
    """A tiny workshop checkout: manifest, two lessons, the references their edits become
    (one in the library, one a stage file under solutions/)."""
    files = {
        "lessons/manifest.txt": MANIFEST,
        "lessons/00_workflow/README.md": "# 00\n",
        "lessons/00_workflow/HINTS.md": hints,
        "lessons/00_workflow/BUILD.bazel": "",
        "lessons/00_workflow/workflow.cc": "int x = 0;\n",
        "lessons/01_fd/README.md": "# 01\n",
        "lessons/01_fd/HINTS.md": hints,
        "lessons/01_fd/BUILD.bazel": "",
        "lessons/01_fd/fd.cc": "// TODO(lesson 01): close\n",
        "solutions/00_workflow/workflow.cc": "int x = 1;\n",
        "loop/fd.cc": "close(fd_);\n",
    }
    for path, text in files.items():
        os.makedirs(os.path.dirname(os.path.join(tmp, path)), exist_ok=True)
        with open(os.path.join(tmp, path), "w") as f:
            f.write(text)
    return tmp


class ManifestTest(unittest.TestCase):
    def test_parses_lessons_edits_and_failures(self):
        lessons = workshop_common.parse_manifest(MANIFEST)
        self.assertEqual([l.number for l in lessons], ["00", "01"])
        self.assertEqual(lessons[1].dir, "01_fd")
        self.assertEqual(lessons[1].title, "Owning a file descriptor")
        self.assertEqual(lessons[1].edits, ["fd.cc"])
        self.assertEqual(lessons[1].reference("fd.cc"), "loop/fd.cc")
        self.assertEqual(lessons[0].reference("workflow.cc"), "solutions/00_workflow/workflow.cc")
        self.assertEqual(lessons[1].expected_failures(),
                         {("fd_test", "FdTest.ClosesOnDestruction"), ("fd_test", "FdTest.MoveLeavesSourceEmpty")})

    def test_the_real_manifest_parses(self):
        lessons = workshop_common.load_manifest(REPO)
        self.assertGreaterEqual(len(lessons), 3)
        self.assertEqual(lessons[0].number, "00")
        for l in lessons:
            for e in l.edits:
                self.assertTrue(l.reference(e).startswith(("loop/", "solutions/")), (l.number, e))

    def assertManifestError(self, text, fragment):
        with self.assertRaises(UsageError) as ctx:
            workshop_common.parse_manifest(text)
        self.assertIn(fragment, str(ctx.exception))

    def test_errors_name_the_line(self):
        self.assertManifestError("lesson 1 01_fd Fd\n", "manifest.txt:1: expected 'lesson NN DIR Title'")
        self.assertManifestError("\n  fail t S.C\n", "manifest.txt:2: 'fail' before any 'lesson' line")
        self.assertManifestError("lesson 01 01_fd Fd\n  expect x\n", "manifest.txt:2: unknown keyword 'expect'")
        self.assertManifestError("lesson 01 01_fd Fd\n  fail fd_test NoDot\n", "expected 'fail TARGET Suite.Case'")
        self.assertManifestError("lesson 01 01_fd Fd\nlesson 01 01_x X\n", "lesson 01 is listed twice")
        self.assertManifestError("lesson 01 02_fd Fd\n", "must start with '01_'")
        self.assertManifestError("lesson 01 01_fd Fd\n  fail t S.C\n  fail t S.C\n", "listed twice")

    def test_an_edit_names_its_reference(self):
        self.assertManifestError("lesson 01 01_fd Fd\n  edit fd.cc\n", "manifest.txt:2: expected 'edit FILE REF'")
        self.assertManifestError("lesson 01 01_fd Fd\n  edit fd.cc a b\n", "expected 'edit FILE REF'")
        self.assertManifestError("lesson 01 01_fd Fd\n  edit fd.cc ../fd.cc\n", "REF must be a relative path")
        self.assertManifestError("lesson 01 01_fd Fd\n  edit /fd.cc loop/fd.cc\n", "FILE must be a relative path")
        self.assertManifestError("lesson 01 01_fd Fd\n  edit fd.cc loop/fd.cc\n  edit fd.cc loop/x.cc\n",
                                 "manifest.txt:3: 'edit fd.cc' is listed twice")


class FindLessonTest(unittest.TestCase):
    def setUp(self):
        self.lessons = workshop_common.parse_manifest(MANIFEST)

    def test_accepts_number_padded_number_dir_and_name(self):
        for arg in ("1", "01", "01_fd", "fd"):
            self.assertEqual(workshop_common.find_lesson(self.lessons, arg).number, "01", arg)

    def test_bad_input_lists_the_valid_lessons(self):
        for arg in ("99", "abc", "", "-1"):
            with self.assertRaises(UsageError) as ctx:
                workshop_common.find_lesson(self.lessons, arg)
            self.assertIn("there is no lesson", str(ctx.exception))
            self.assertIn("01  01_fd", str(ctx.exception))
            self.assertIn("Owning a file descriptor", str(ctx.exception))


class TestXmlTest(unittest.TestCase):
    def test_reads_passes_failures_and_skips(self):
        cases, crashed = workshop_common.parse_test_xml(gtest_xml([
            ("FdTest", "A", None), ("FdTest", "B", "expected 1&#10;got 2"), ("FdTest", "C", "SKIP")]))
        self.assertIsNone(crashed)
        self.assertEqual(cases["FdTest.A"], (True, ""))
        self.assertEqual(cases["FdTest.B"], (False, "expected 1\ngot 2"))
        self.assertEqual(cases["FdTest.C"], (True, "skipped"))

    def test_parameterized_names_keep_their_prefix_and_suffix(self):
        cases, _ = workshop_common.parse_test_xml(gtest_xml([("Kinds/EarlyDrop", "WakeThenDrop/eventfd", "lost")]))
        self.assertIn("Kinds/EarlyDrop.WakeThenDrop/eventfd", cases)

    def test_bazels_stand_in_for_a_crashed_binary_is_a_crash(self):
        cases, crashed = workshop_common.parse_test_xml(CRASH_XML)
        self.assertEqual(cases, {})
        self.assertIn("exited with error code 134", crashed)


class BuildEventsTest(unittest.TestCase):
    def test_reads_summaries_build_failures_and_xml(self):
        with tempfile.TemporaryDirectory() as tmp:
            xml = os.path.join(tmp, "test.xml")
            with open(xml, "w") as f:
                f.write(gtest_xml([("FdTest", "A", "boom")]))
            events = [
                {"id": {"targetCompleted": {"label": "//lessons/01_fd:fd_test"}}, "completed": {"success": True}},
                {"id": {"testResult": {"label": "//lessons/01_fd:fd_test"}},
                 "testResult": {"testActionOutput": [{"name": "test.xml", "uri": "file://" + xml}]}},
                {"id": {"testSummary": {"label": "//lessons/01_fd:fd_test"}}, "testSummary": {"overallStatus": "FAILED"}},
                {"id": {"targetCompleted": {"label": "//lessons/02_raw_epoll:epoll_test"}}, "aborted": {"reason": "x"}},
                {"id": {"targetCompleted": {"label": "//lessons/12_redis_server:server_test"}},
                 "aborted": {"reason": "SKIPPED", "description": "incompatible"}},
                {"id": {"testSummary": {"label": "//lessons/12_redis_server:server_test"}},
                 "testSummary": {"overallStatus": "NO_STATUS"}},
            ]
            bep = os.path.join(tmp, "bep.json")
            with open(bep, "w") as f:
                f.write("\n".join(json.dumps(e) for e in events) + "\n")
            results = workshop_common._bep_results(bep, tmp)
        self.assertEqual(results["//lessons/01_fd:fd_test"].status, "FAILED")
        self.assertEqual(results["//lessons/01_fd:fd_test"].cases, {"FdTest.A": (False, "boom")})
        self.assertEqual(results["//lessons/02_raw_epoll:epoll_test"].status, "FAILED_TO_BUILD")
        self.assertNotIn("//lessons/12_redis_server:server_test", results)  # skipped on this platform


class ProgressTest(unittest.TestCase):
    def setUp(self):
        self.lessons = workshop_common.parse_manifest(MANIFEST)

    def results(self, lesson0_ok, fd_cases):
        return {
            "//lessons/00_workflow:workflow_test": result("//lessons/00_workflow:workflow_test", "PASSED" if lesson0_ok
                                                          else "FAILED",
                                                          {"WorkflowTest.SaysHello": (lesson0_ok, "" if lesson0_ok
                                                                                      else "TODO(lesson 00): say hi")}),
            "//lessons/01_fd:fd_test": result("//lessons/01_fd:fd_test", "FAILED", fd_cases),
        }

    def test_status_of_each_lesson(self):
        starter = {"FdTest.ClosesOnDestruction": (False, "a"), "FdTest.MoveLeavesSourceEmpty": (False, "b"),
                   "FdTest.Default": (True, "")}
        res = self.results(True, starter)
        self.assertEqual(workshop_common.lesson_status(self.lessons[0], res)[:3], (1, 1, "done"))
        self.assertEqual(workshop_common.lesson_status(self.lessons[1], res)[:3], (1, 3, "not started"))
        halfway = dict(starter, **{"FdTest.ClosesOnDestruction": (True, "")})
        self.assertEqual(workshop_common.lesson_status(self.lessons[1], self.results(True, halfway))[:3],
                         (2, 3, "in progress"))
        broken = {"//lessons/01_fd:fd_test": result("//lessons/01_fd:fd_test", "FAILED_TO_BUILD")}
        self.assertEqual(workshop_common.lesson_status(self.lessons[1], broken)[2], "does not build")

    def test_table_points_at_the_next_lesson_and_its_first_failure(self):
        out = io.StringIO()
        workshop.print_progress(self.lessons, self.results(False, {"FdTest.ClosesOnDestruction": (False, "x")}), out)
        text = out.getvalue()
        self.assertIn("->00  Workflow: edit, test, green", text)
        self.assertIn("0/1", text)
        self.assertIn("Next: lesson 00", text)
        self.assertIn("edit:  lessons/00_workflow/workflow.cc", text)
        self.assertIn("run:   bazel test //lessons/00_workflow:all", text)
        self.assertIn("TODO(lesson 00): say hi", text)

    def test_last_lesson_done_says_so_and_calls_the_earlier_ones_optional(self):
        out = io.StringIO()
        everything = {"FdTest.ClosesOnDestruction": (True, ""), "FdTest.MoveLeavesSourceEmpty": (True, "")}
        workshop.print_progress(self.lessons, self.results(False, everything), out)
        text = out.getvalue()
        self.assertIn("You have finished the last lesson, 01. Lesson 00 is still open. It is optional", text)
        self.assertIn("If you go back, start with: lesson 00", text)
        self.assertNotIn("Next: lesson 00", text)

    def test_all_green_congratulates(self):
        out = io.StringIO()
        everything = {"FdTest.ClosesOnDestruction": (True, ""), "FdTest.MoveLeavesSourceEmpty": (True, "")}
        workshop.print_progress(self.lessons, self.results(True, everything), out)
        self.assertIn("Every lesson is green", out.getvalue())


class HintTest(unittest.TestCase):
    def setUp(self):
        self.tmp = make_repo(tempfile.mkdtemp())

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def hint(self, lesson, level=None):
        out = io.StringIO()
        args = workshop.argparse.Namespace(lesson=lesson, level=level)
        workshop.cmd_hint(args, root=self.tmp, out=out)
        return out.getvalue()

    def test_parse_hints_finds_the_tiers_in_order(self):
        hints = workshop_common.parse_hints(HINTS)
        self.assertEqual([h[0] for h in hints], ["Hint 1: a nudge", "Hint 2: the concept", "Hint 3: nearly the answer"])
        self.assertEqual(hints[1][1], "The destructor owns the fd.")

    def test_first_hint_by_default_and_points_to_the_next(self):
        text = self.hint("01")
        self.assertIn("Look at close().", text)
        self.assertNotIn("destructor", text)
        self.assertIn("./tools/hint 01 2", text)

    def test_levels_and_all(self):
        self.assertIn("The destructor owns the fd.", self.hint("1", "2"))
        self.assertNotIn("More:", self.hint("1", "3"))
        text = self.hint("fd", "all")
        self.assertIn("Look at close().", text)
        self.assertIn("close(fd_)", text)

    def test_bad_level_and_bad_lesson(self):
        with self.assertRaisesRegex(UsageError, "hints 1 to 3; there is no hint 7"):
            self.hint("01", "7")
        with self.assertRaisesRegex(UsageError, "must be a number"):
            self.hint("01", "x")
        with self.assertRaisesRegex(UsageError, "there is no lesson '99'"):
            self.hint("99")


@unittest.skipUnless(shutil.which("git"), "reset needs git")
class ResetAndDiffTest(unittest.TestCase):
    def setUp(self):
        self.tmp = make_repo(tempfile.mkdtemp())
        env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
                   GIT_COMMITTER_EMAIL="t@t")
        for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "starter"]):
            subprocess.run(["git"] + cmd, cwd=self.tmp, check=True, env=env, capture_output=True)
        self.fd_cc = os.path.join(self.tmp, "lessons", "01_fd", "fd.cc")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def reset(self, answer, yes=False):
        out = io.StringIO()
        args = workshop.argparse.Namespace(lesson="01", yes=yes)
        code = workshop.cmd_reset(args, root=self.tmp, out=out, ask=lambda prompt: answer)
        return code, out.getvalue()

    def edit(self):
        with open(self.fd_cc, "w") as f:
            f.write("my work\n")
        with open(os.path.join(self.tmp, "lessons", "01_fd", "notes.txt"), "w") as f:
            f.write("mine\n")

    def read(self):
        with open(self.fd_cc) as f:
            return f.read()

    def test_nothing_to_reset(self):
        code, text = self.reset("yes")
        self.assertEqual(code, 0)
        self.assertIn("nothing to reset", text)

    def test_asks_before_discarding_and_keeps_work_on_no(self):
        self.edit()
        code, text = self.reset("n")
        self.assertEqual(code, 1)
        self.assertIn("DISCARDS your edits to:\n  lessons/01_fd/fd.cc", text)
        self.assertEqual(self.read(), "my work\n")

    def test_yes_restores_the_starter_and_keeps_new_files(self):
        self.edit()
        code, text = self.reset("yes")
        self.assertEqual(code, 0)
        self.assertEqual(self.read(), "// TODO(lesson 01): close\n")
        self.assertIn("Your new files are kept: lessons/01_fd/notes.txt", text)
        self.assertTrue(os.path.exists(os.path.join(self.tmp, "lessons", "01_fd", "notes.txt")))

    def test_diff_shows_the_learner_against_the_reference(self):
        self.edit()
        out = io.StringIO()
        workshop.cmd_diff(workshop.argparse.Namespace(lesson="01"), root=self.tmp, out=out)
        text = out.getvalue()
        self.assertIn("Your code (lessons/01_fd) against the reference (loop/fd.cc)", text)
        self.assertIn("--- loop/fd.cc", text)
        self.assertIn("+++ lessons/01_fd/fd.cc", text)
        self.assertIn("-close(fd_);", text)
        self.assertIn("+my work", text)

    def test_diff_of_a_stage_file_and_of_no_change(self):
        with open(os.path.join(self.tmp, "lessons", "00_workflow", "workflow.cc"), "w") as f:
            f.write("int x = 1;\n")
        out = io.StringIO()
        workshop.cmd_diff(workshop.argparse.Namespace(lesson="00"), root=self.tmp, out=out)
        self.assertIn("against the reference (solutions/00_workflow/workflow.cc)", out.getvalue())
        self.assertIn("No differences.", out.getvalue())


class ScriptsTest(unittest.TestCase):
    """The scripts in tools/ run from any directory and fail clearly on bad input."""

    def run_tool(self, *args):
        return subprocess.run([os.path.join(REPO, "tools", args[0])] + list(args[1:]), cwd=tempfile.gettempdir(),
                              capture_output=True, text=True, timeout=60)

    def test_hint_99_lists_the_valid_lessons(self):
        proc = self.run_tool("hint", "99")
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("error: there is no lesson '99'. The lessons are:", proc.stderr)
        self.assertIn("00  00_workflow", proc.stderr)

    def test_reset_abc_lists_the_valid_lessons(self):
        proc = self.run_tool("reset", "abc")
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("there is no lesson 'abc'", proc.stderr)

    def test_diff_without_a_lesson_prints_usage(self):
        proc = self.run_tool("diff")
        self.assertEqual(proc.returncode, 2)
        self.assertIn("usage:", proc.stderr)

    def test_help_lists_every_command(self):
        proc = subprocess.run([sys.executable, os.path.join(REPO, "tools", "workshop.py"), "--help"],
                              capture_output=True, text=True, timeout=60)
        for command in ("progress", "hint", "reset", "diff", "watch", "start"):
            self.assertIn(command, proc.stdout)

    def test_the_learners_cli_loads_no_maintainer_module(self):
        code = ("import sys; sys.path.insert(0, %r); import workshop; "
                "print(' '.join(sorted(m for m in sys.modules if m.startswith(('check', 'bench', 'measure', "
                "'compile_commands', 'redis_bench')))))" % os.path.join(REPO, "tools"))
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout.strip(), "")

    def test_check_lists_its_steps(self):
        proc = subprocess.run([sys.executable, os.path.join(REPO, "tools", "check_suite.py"), "--help"],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        for step in ("manifest", "layering", "curriculum", "solved", "solved_tsan", "format"):
            self.assertIn(step, proc.stdout)
        with open(os.path.join(REPO, "tools", "check")) as f:
            self.assertIn('exec python3 "$root/tools/check_suite.py" "$@"', f.read())


class ProgressTableTest(unittest.TestCase):
    def test_no_title_of_the_real_manifest_is_cut(self):
        lessons = workshop_common.load_manifest(REPO)
        for l in lessons:
            row = workshop_common.progress_row(l, 0, 48, "not started")
            self.assertIn("  %s  " % l.title, row, "%s is longer than TITLE_WIDTH" % l.title)
            self.assertTrue(workshop_common.PROGRESS_ROW.match(row), row)
        header = workshop_common.PROGRESS_HEADER  # the columns line up over the rows
        row = workshop_common.progress_row(lessons[-1], 0, 48, "not started")
        self.assertEqual(header[0].index("tests"), header[1].index("  ------  ") + 2)
        self.assertEqual(header[0].index("status"), row.index("not started"))


@unittest.skipUnless(shutil.which("git"), "start asks git which lesson changed")
class StartTest(unittest.TestCase):
    def setUp(self):
        self.tmp = make_repo(tempfile.mkdtemp())
        self.lessons = workshop_common.load_manifest(self.tmp)

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def test_the_lesson_in_progress_is_the_last_one_whose_files_changed(self):
        self.assertEqual(workshop.lesson_in_progress(self.lessons, self.tmp).number, "00")  # no git checkout
        env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
                   GIT_COMMITTER_EMAIL="t@t")
        for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "starter"]):
            subprocess.run(["git"] + cmd, cwd=self.tmp, check=True, env=env, capture_output=True)
        self.assertEqual(workshop.lesson_in_progress(self.lessons, self.tmp).number, "00")
        with open(os.path.join(self.tmp, "lessons", "01_fd", "fd.cc"), "w") as f:
            f.write("my work\n")
        self.assertEqual(workshop.lesson_in_progress(self.lessons, self.tmp).number, "01")

    def test_start_says_what_it_does_and_builds_the_lesson_in_progress_first(self):
        os.makedirs(os.path.join(self.tmp, "docs"), exist_ok=True)
        with open(os.path.join(self.tmp, "docs", "measurements.json"), "w") as f:
            json.dump({"first_build": {"seconds": 32.2, "text": "32 s"}}, f)
        builds, out = [], io.StringIO()
        saved = (workshop.subprocess.call, workshop.cmd_progress)
        workshop.subprocess.call = lambda argv, **kw: builds.append(argv[-1]) or 0
        workshop.cmd_progress = lambda args, root, out: 0
        try:
            args = workshop.argparse.Namespace(lesson="01", fresh=False)
            self.assertEqual(workshop.cmd_start(args, root=self.tmp, out=out), 0)
        finally:
            workshop.subprocess.call, workshop.cmd_progress = saved
        self.assertEqual(builds, ["//lessons/01_fd:all", "//lessons/..."])
        text = out.getvalue()
        self.assertIn("that took 32 s on an idle 2-core machine", text)
        self.assertIn("Lesson 01 (Owning a file descriptor) is built first", text)
        self.assertIn("[1/3] lesson 01, the one you are on: bazel build //lessons/01_fd:all", text)
        self.assertIn("You can open lessons/01_fd/README.md now", text)
        self.assertIn("[2/3] every other lesson: bazel build //lessons/...", text)
        self.assertIn("[3/3] every lesson's tests", text)


if __name__ == "__main__":
    unittest.main()
