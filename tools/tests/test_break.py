"""Tests of ./tools/break and what it shares with ./tools/check's "experiments" step:
the experiment format (experiments.py), applying and undoing a patch in a scratch copy
(scratch_copy.py), judging an outcome, counting runs, the report (break.py; reading the
prediction itself is test_predict.py's) and the strace timeline (timeline.py). Bazel itself
is never run: outcomes are made by hand."""

import importlib.util
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

import experiments  # noqa: E402
import scratch_copy  # noqa: E402
import timeline  # noqa: E402
import workshop_common  # noqa: E402
from test_workshop import make_repo  # noqa: E402

_spec = importlib.util.spec_from_file_location("break_tool", os.path.join(REPO, "tools", "break.py"))
brk = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(brk)

LESSON = workshop_common.parse_manifest(textwrap.dedent("""\
    lesson 01 01_fd Owning a file descriptor
      edit fd.cc loop/fd.cc
      fail fd_test FdTest.ClosesOnDestruction
      fail fd_test FdTest.MoveLeavesSourceEmpty
    """))[0]

DIFF = textwrap.dedent("""\
    diff --git a/loop/fd.cc b/loop/fd.cc
    --- a/loop/fd.cc
    +++ b/loop/fd.cc
    @@ -1 +1 @@
    -close(fd_);
    +// close(fd_);
    """)


def experiment_text(**lines):
    head = {"Title": "Forget to close", "Predict": "Which tests fail?", "Fails": "fd_test FdTest.ClosesOnDestruction",
            "Explains": "Concepts"}
    head.update(lines)
    out = []
    for key, value in head.items():
        for v in value if isinstance(value, list) else [value]:
            if v is not None:
                out.append("%s: %s" % (key, v))
    return "\n".join(out) + "\n---\n" + DIFF


def parse(**lines):
    return experiments.parse_experiment(experiment_text(**lines), LESSON, "forget-close", "x.patch")


class FormatTest(unittest.TestCase):
    def test_a_header_and_a_diff(self):
        e = parse(Shows=["must close", "leaks"], Runs="5", Config="tsan",
                  Trace="fd_test FdTest.ClosesOnDestruction")
        self.assertEqual(e.title, "Forget to close")
        self.assertEqual(e.fails, [("fd_test", "FdTest.ClosesOnDestruction")])
        self.assertEqual(e.shows, ["must close", "leaks"])
        self.assertEqual((e.runs, e.config, e.explains), (5, "tsan", "Concepts"))
        self.assertEqual(e.trace, ("fd_test", "FdTest.ClosesOnDestruction"))
        self.assertEqual(scratch_copy.patch_paths(e.diff), ["loop/fd.cc"])

    def test_a_whole_target_and_measures(self):
        e = parse(Fails="fd_test *", Measure=["property:wakeups", "benchmark:bench:calls:BM_x"],
                  Expect=["property:wakeups >= 11", "benchmark:bench:calls:BM_x == 0"])
        self.assertEqual(e.fails, [("fd_test", "*")])
        self.assertEqual(e.expects, [("property:wakeups", ">=", 11.0), ("benchmark:bench:calls:BM_x", "==", 0.0)])

    def test_mistakes_name_the_line(self):
        for lines, fragment in (
                ({"Fails": "fd_test"}, "x.patch:3: expected 'Fails: TARGET Suite.Case' (or TARGET *)"),
                ({"Config": "msan"}, "Config must be asan or tsan"),
                ({"Runs": "many"}, "Runs must be a number"),
                ({"Measure": "wall-clock"}, "unknown measure 'wall-clock'"),
                ({"Expect": "x >= 1"}, "needs a line 'Measure: x'"),
                ({"Expect": "x about 1"}, "expected 'Expect: KEY OP NUMBER'"),
                ({"Trace": "fd_test FdTest.Other"}, "must be one of the Fails cases"),
                ({"Title": None}, "the header has no 'Title:' line"),
                ({"Title": ["a", "b"]}, "x.patch:2: 'Title' is given twice"),
                ({"Fails": None}, "say what must happen")):
            with self.assertRaises(workshop_common.UsageError) as ctx:
                parse(**lines)
            self.assertIn(fragment, str(ctx.exception))
        for text, fragment in (("Title: x\n", "no line '---'"),
                               ("Colour: red\n---\n", "x.patch:1: expected 'Key: value'")):
            with self.assertRaises(workshop_common.UsageError) as ctx:
                experiments.parse_experiment(text, LESSON, "x", "x.patch")
            self.assertIn(fragment, str(ctx.exception))

    def test_comments_and_blank_lines_are_skipped(self):
        text = "# a note\n\n" + experiment_text()
        self.assertEqual(experiments.parse_experiment(text, LESSON, "x", "x.patch").title, "Forget to close")

    def test_headings_outside_code_blocks(self):
        text = "# Lesson\n## Concepts\n```\n# not a heading\n```\n### Close-on-exec \n"
        self.assertEqual(experiments.readme_headings(text), ["Lesson", "Concepts", "Close-on-exec"])


class LintTest(unittest.TestCase):
    def setUp(self):
        self.root = make_repo(tempfile.mkdtemp())
        with open(os.path.join(self.root, "lessons/01_fd/README.md"), "w") as f:
            f.write("# Lesson 01\n## Concepts\n")

    def tearDown(self):
        shutil.rmtree(self.root)

    def add(self, name, text):
        folder = os.path.join(self.root, "lessons/01_fd/experiments")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, name + ".patch"), "w") as f:
            f.write(text)

    def lint(self):
        lessons = workshop_common.load_manifest(self.root)
        return [p for p in experiments.lint_experiments(self.root, lessons) if "01" in p]

    def test_three_good_experiments_pass(self):
        for name in ("a", "b", "c"):
            self.add(name, experiment_text())
        self.assertEqual(self.lint(), [])

    def test_too_few_a_foreign_file_an_unknown_target_and_heading(self):
        self.add("a", experiment_text(Explains="Steps", Fails="other_test A.B").replace("loop/fd.cc", "tests/x.cc"))
        problems = "\n".join(self.lint())
        self.assertIn("lesson 01 has 1 experiment(s) in lessons/01_fd/experiments/; every lesson needs at least 3",
                      problems)
        self.assertIn("patches tests/x.cc: only the lesson's reference files (loop/fd.cc) or the library", problems)
        self.assertIn("Fails names other_test, which is not a test target of lesson 01", problems)
        self.assertIn("'Explains: Steps' is no heading of lessons/01_fd/README.md", problems)

    def test_the_readme_section_lists_exactly_the_experiments(self):
        for name in ("a", "b", "c"):
            self.add(name, experiment_text())
        with open(os.path.join(self.root, "lessons/01_fd/README.md"), "a") as f:
            f.write("## Predict, then break it\n\n| experiment | the question |\n|---|---|\n"
                    "| `a` | why? |\n| `b` | why? |\n| `gone` | why? |\n\n## Done when\n")
        self.assertEqual(self.lint(), [
            "lessons/01_fd/README.md: the section 'Predict, then break it' lists `gone`, which is no experiment of "
            "this lesson",
            "lessons/01_fd/README.md: the section 'Predict, then break it' does not list the experiment `c`"])

    def test_the_real_experiments_parse_and_lint(self):
        lessons = workshop_common.load_manifest(REPO)
        problems = [p for p in experiments.lint_experiments(REPO, lessons) if "every lesson needs at least" not in p]
        self.assertEqual(problems, [])
        self.assertGreaterEqual(len(experiments.load_experiments(REPO, workshop_common.find_lesson(lessons, "09"))), 3)


@unittest.skipUnless(shutil.which("git"), "patches are applied with git apply")
class PatchedTest(unittest.TestCase):
    """The scratch copy lies inside a git checkout (.cache/break/tree): git apply must still
    apply there, and every file must come back byte for byte."""

    def setUp(self):
        self.root = tempfile.mkdtemp()
        subprocess.run(["git", "init", "-q"], cwd=self.root, check=True)
        self.tree = os.path.join(self.root, ".cache", "break", "tree")
        os.makedirs(os.path.join(self.tree, "loop"))
        os.makedirs(os.path.join(self.tree, "lessons", "01_fd"))
        for path, text in (("loop/fd.cc", "close(fd_);\n"), ("lessons/01_fd/fd.cc", "close(fd_);\n")):
            with open(os.path.join(self.tree, path), "w") as f:
                f.write(text)
        self.patch = os.path.join(self.root, "x.patch")
        with open(self.patch, "w") as f:
            f.write(DIFF)

    def tearDown(self):
        shutil.rmtree(self.root)

    def read(self, path):
        with open(os.path.join(self.tree, path)) as f:
            return f.read()

    def test_applied_inside_a_checkout_and_undone(self):
        with scratch_copy.Patched(self.tree, self.patch, DIFF, keep=["lessons/01_fd/fd.cc"]):
            self.assertEqual(self.read("loop/fd.cc"), "// close(fd_);\n")
            scratch_copy.copy_reference(self.tree, LESSON, self.tree, source=self.tree)
            self.assertEqual(self.read("lessons/01_fd/fd.cc"), "// close(fd_);\n")
        self.assertEqual(self.read("loop/fd.cc"), "close(fd_);\n")
        self.assertEqual(self.read("lessons/01_fd/fd.cc"), "close(fd_);\n")

    def test_a_patch_that_does_not_apply_changes_nothing(self):
        with open(os.path.join(self.tree, "loop/fd.cc"), "w") as f:
            f.write("something else\n")
        with self.assertRaises(workshop_common.UsageError) as ctx:
            with scratch_copy.Patched(self.tree, self.patch, DIFF):
                pass
        self.assertIn("does not apply to the reference code", str(ctx.exception))
        self.assertEqual(self.read("loop/fd.cc"), "something else\n")


def outcome(failing, passed=(), output=""):
    o = experiments.Outcome()
    o.failing = dict(failing)
    o.passed = list(passed)
    o.output = output
    return o


class JudgeTest(unittest.TestCase):
    def test_exactly_the_fails_and_the_shows(self):
        e = parse(Shows="must close")
        o = outcome({("fd_test", "FdTest.ClosesOnDestruction"): "fd 3 is open: ~Fd() MUST CLOSE it"},
                    [("fd_test", "FdTest.MoveLeavesSourceEmpty")])
        self.assertEqual(experiments.judge(e, o), [])

    def test_a_missing_case_an_extra_case_a_missing_message(self):
        e = parse(Shows="must close")
        o = outcome({("fd_test", "FdTest.MoveLeavesSourceEmpty"): "line 1\nline 2"})
        self.assertEqual(experiments.judge(e, o), [
            "fd_test FdTest.ClosesOnDestruction should fail but passed",
            "fd_test FdTest.MoveLeavesSourceEmpty failed too: line 1 ...",
            "no failure message, test.log or Bazel output says 'must close'"])

    def test_a_target_that_does_not_build_and_its_compiler_error(self):
        e = parse(Fails="fd_test *", Shows="expected ';'")
        o = outcome({("fd_test", "*"): "fd_test does not build"}, output="fd.cc:5: error: expected ';' before '}'")
        self.assertEqual(experiments.judge(e, o), [])

    def test_measures(self):
        e = parse(Fails=None, Measure="property:wakeups", Expect="property:wakeups >= 11")
        o = outcome({})
        o.measured = {"property:wakeups": 3.0}
        self.assertEqual(experiments.judge(e, o), ["property:wakeups is 3, expected >= 11"])
        o.measured = {"property:wakeups": None}
        o.measure_errors = {"property:wakeups": "no test case of lesson 01 recorded 'wakeups'"}
        self.assertIn("could not be measured: no test case", experiments.judge(e, o)[0])


    def test_a_recorded_property_and_a_cases_time(self):
        folder = tempfile.mkdtemp()
        try:
            xml = os.path.join(folder, "test.xml")
            with open(xml, "w") as f:
                f.write('<testsuites><testsuite name="S"><testcase name="A" classname="S" time="1.5" wakeups="3"/>'
                        '<testcase name="B" classname="S" time="0.2"><properties><property name="wakeups" '
                        'value="11"/></properties></testcase></testsuite></testsuites>')
            e = parse(Measure=["property:wakeups", "seconds:fd_test:S.A"])
            o = outcome({})
            o.xml = [xml]
            self.assertEqual(experiments.measure("property:wakeups", None, e, o, None), 11.0)
            o.xml = [os.path.join(folder, "fd_test", "test.xml")]
            os.makedirs(os.path.dirname(o.xml[0]))
            shutil.copyfile(xml, o.xml[0])
            self.assertEqual(experiments.measure("seconds:fd_test:S.A", None, e, o, None), 1.5)
            with self.assertRaises(workshop_common.UsageError):
                experiments.measure("property:calls", None, e, o, None)
        finally:
            shutil.rmtree(folder)


def outcome_with_runs(runs, failed_runs):
    o = outcome({k: "message" for k in failed_runs}, [("epoll_test", "EpollTest.DeleteStopsReports")])
    o.runs, o.failed_runs = runs, dict(failed_runs)
    return o


class ReportTest(unittest.TestCase):
    def test_variants_are_grouped(self):
        groups = brk.group([("t", "Kinds/EarlyDrop.Wake/eventfd_on_epoll"), ("t", "Kinds/EarlyDrop.Wake/pipe_on_epoll"),
                            ("t", "EventfdWaker/WakerSuite/OnEpoll.NewWakerIsQuiet"), ("t", "*")], False)
        self.assertEqual(groups, [
            ("EarlyDrop.Wake", [("t", "Kinds/EarlyDrop.Wake/eventfd_on_epoll"),
                                ("t", "Kinds/EarlyDrop.Wake/pipe_on_epoll")], ["eventfd_on_epoll", "pipe_on_epoll"]),
            ("WakerSuite.NewWakerIsQuiet", [("t", "EventfdWaker/WakerSuite/OnEpoll.NewWakerIsQuiet")], ["OnEpoll"]),
            ("t (the whole target)", [("t", "*")], [])])
        self.assertEqual(brk.group([("a_test", "S.C"), ("b_test", "S.C")], True)[0][2], ["a_test", "b_test"])

    def test_the_explanation_not_the_mechanics(self):
        message = ("lessons/01_fd/fd_test.cc:119\nExpected equality of these values:\n  source->get()\n"
                   "    Which is: 3\n  -1\nafter the move, source must be empty")
        self.assertEqual(brk.excerpt(message, []).split("\n"),
                         [" " * 9 + "lessons/01_fd/fd_test.cc:119", " " * 9 + "after the move, source must be empty"])
        self.assertIn("Which is: 3", brk.excerpt(message, ["which is: 3"]))

    def report(self, exp, o, prediction):
        out = io.StringIO()
        brk.report(exp, o, prediction, out)
        return out.getvalue()

    def test_a_crash_is_reported_as_a_crash(self):
        e = parse(Fails="fd_test *", Shows="died of SIGSEGV")
        o = outcome({("fd_test", "*"): "exited with error code 139"})
        o.logs = {"fd_test": "[ RUN      ] FdTest.ClosesOnDestruction\n\nCRASH: FdTest.ClosesOnDestruction died of "
                             "SIGSEGV (a bad memory access).\n"}
        text = self.report(e, o, "the binary crashes")
        self.assertIn("fd_test crashed before it wrote per-case results: FdTest.ClosesOnDestruction died of SIGSEGV, "
                      "and the whole binary with it.", " ".join(text.split()))
        self.assertIn("FAILED fd_test (the whole target)   <- you predicted a crash", text)
        self.assertIn("You predicted a crash: right.", text)
        for wrong in ("no test case ran", "Nothing failed", "Well predicted"):
            self.assertNotIn(wrong, text)

    def test_runs_say_in_how_many_runs_a_case_failed(self):
        e = parse(Runs="8")
        o = outcome_with_runs(8, {("fd_test", "FdTest.ClosesOnDestruction"): 3})
        text = self.report(e, o, "ClosesOnDestruction fails now and then")
        self.assertIn("1 of 2 test cases failed (8 runs each):", text)
        self.assertIn("FAILED FdTest.ClosesOnDestruction  (failed in 3 of 8 runs)   <- you named it", text)
        self.assertIn("The other 1 passed in every run.", text)
        o = outcome_with_runs(8, {})
        o.passed.append(("fd_test", "FdTest.ClosesOnDestruction"))
        self.assertIn("fd_test FdTest.ClosesOnDestruction should fail but passed in all 8 runs",
                      self.report(e, o, ""))

    def test_a_prediction_given_on_the_command_line(self):
        out = io.StringIO()
        e = parse()
        args = brk.argparse.Namespace(predict="ClosesOnDestruction fails", no_predict=False)
        self.assertEqual(brk.ask(e, args, out, None), "ClosesOnDestruction fails")
        self.assertIn("Your prediction (from --predict): ClosesOnDestruction fails", out.getvalue())


class RunsTest(unittest.TestCase):
    def test_each_runs_test_xml_is_counted(self):
        folder = tempfile.mkdtemp()
        try:
            paths = []
            for run, failed in ((1, True), (2, False), (3, True)):
                path = os.path.join(folder, "fd_test", "run_%d_of_3" % run, "test.xml")
                os.makedirs(os.path.dirname(path))
                with open(path, "w") as f:
                    f.write('<testsuites><testsuite name="S"><testcase name="A" classname="S" status="run" '
                            'result="completed">%s</testcase><testcase name="B" classname="S" status="run" '
                            'result="completed"/></testsuite></testsuites>'
                            % ('<failure message="late"/>' if failed else ""))
                paths.append(path)
            o = experiments.Outcome()
            experiments.count_runs("fd_test", paths, o)
            self.assertEqual(o.failed_runs, {("fd_test", "S.A"): 2})
        finally:
            shutil.rmtree(folder)


STRACE = textwrap.dedent("""\
    100 1700000000.000100 epoll_create1(EPOLL_CLOEXEC) = 3<anon_inode:[eventpoll]>
    100 1700000000.000200 pipe2([4<pipe:[77]>, 5<pipe:[77]>], O_NONBLOCK|O_CLOEXEC) = 0
    100 1700000000.000300 epoll_ctl(3<anon_inode:[eventpoll]>, EPOLL_CTL_ADD, 4<pipe:[77]>, {events=EPOLLIN, data={u32=7, u64=7}}) = 0
    100 1700000000.000400 eventfd2(0, EFD_CLOEXEC|EFD_NONBLOCK) = 6<anon_inode:[eventfd]>
    100 1700000000.000500 epoll_ctl(3<anon_inode:[eventpoll]>, EPOLL_CTL_ADD, 6<anon_inode:[eventfd]>, {events=EPOLLIN, data={u32=42, u64=42}}) = 0
    101 1700000000.000600 write(6<anon_inode:[eventfd]>, "\\1\\0\\0\\0\\0\\0\\0\\0", 8) = 8
    101 1700000000.000700 close(6<anon_inode:[eventfd]>) = 0
    100 1700000000.000750 write(1</dev/pts/0>, "[ RUN ]", 7) = 7
    101 1700000000.000800 +++ exited with 0 +++
    102 1700000000.000900 epoll_wait(3<anon_inode:[eventpoll]>,  <unfinished ...>
    100 1700000001.500900 write(5<pipe:[77]>, "\\1", 1) = 1
    102 1700000001.501000 <... epoll_wait resumed>[{events=EPOLLIN, data={u32=7, u64=7}}], 8, -1) = 1
    """)


class TimelineTest(unittest.TestCase):
    def test_parse_keeps_the_loops_descriptors_and_joins_blocked_calls(self):
        calls = timeline.parse(STRACE)
        self.assertEqual([c.name for c in calls], ["epoll_create1", "pipe2", "epoll_ctl", "eventfd2", "epoll_ctl",
                                                   "write", "close", "epoll_wait", "write"])
        wait = calls[7]
        self.assertAlmostEqual(wait.end - wait.start, 1.5001, places=4)
        self.assertEqual(wait.result, 1)
        tokens = {7: "pipe 4", 42: "eventfd 6"}
        self.assertEqual(timeline.label(wait, tokens), ("epoll_wait(epoll 3, no timeout)",
                                                        "returns 1 event: token 7 (pipe 4)"))
        self.assertEqual(timeline.missed_wakes(calls, wait, tokens), "no token 42 (eventfd 6): that wake is lost")
        self.assertEqual(timeline.label(calls[5], tokens), ("write(eventfd 6) = 8", "counter + 1: a wake is pending"))

    def test_render_draws_one_lane_per_thread(self):
        svg = timeline.render(timeline.parse(STRACE), "Lesson 09 <title>", "a case")
        self.assertTrue(svg.startswith("<svg "))
        self.assertIn("Lesson 09 &lt;title&gt;", svg)
        for text in ("thread 1, tid 100", "thread 2, tid 101", "thread 3, tid 102", "... 1500 ms",
                     "no token 42 (eventfd 6): that wake is lost", "close(eventfd 6)"):
            self.assertIn(text, svg)

    def test_lanes_and_fds_are_named_by_role(self):
        calls = timeline.parse(STRACE)
        svg = timeline.render(calls, "t", "s", {7: "kRescueToken", 42: "kWakeToken"})
        for text in ("the test&apos;s main thread", "the worker that wakes and drops the Waker",
                     "the loop, waiting in Poll::Wait", "returns 1 event after 1500 ms:",
                     "token 7 (pipe 4, the test&apos;s rescue pipe)", "the test&apos;s rescue: it ends the wait"):
            self.assertIn(text.replace("&apos;", "'"), svg.replace("&apos;", "'"))
        roles = timeline.fd_roles(calls, {7: "kRescueToken", 42: "kWakeToken"})
        self.assertEqual(roles, {4: "the test's rescue pipe", 5: "the test's rescue pipe", 6: "the Waker's eventfd"})
        self.assertEqual(timeline.label(calls[1], {}, roles), ("pipe2() = pipe 4, 5", "the test's rescue pipe"))
        self.assertIn("No traced call", timeline.render([], "t", "s"))


class LayeringTest(unittest.TestCase):
    def test_break_loads_no_maintainer_module(self):
        code = ("import sys, runpy; sys.path.insert(0, %r); sys.argv = ['break', '--help']\n"
                "try:\n    runpy.run_path(%r, run_name='__main__')\nexcept SystemExit:\n    pass\n"
                "print('loaded:', ' '.join(sorted(m for m in sys.modules if m.startswith(('check', 'bench', 'measure', "
                "'compile_commands', 'redis_bench')))))" % (os.path.join(REPO, "tools"),
                                                             os.path.join(REPO, "tools", "break.py")))
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout.strip().splitlines()[-1], "loaded:")

    def test_an_unknown_experiment_lists_the_lessons_experiments(self):
        proc = subprocess.run([os.path.join(REPO, "tools", "break"), "01", "no-such-thing"], capture_output=True,
                              text=True, timeout=60)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("lesson 01 has no experiment 'no-such-thing'. Its experiments:", proc.stderr)
        self.assertIn("release-keeps-the-number", proc.stderr)


if __name__ == "__main__":
    unittest.main()
