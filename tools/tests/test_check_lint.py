"""Tests of tools/check_lint.py, the maintainer suite's lints: the lesson layout, the
manifest's references and what solutions/ may hold, quoted failures, checkpoint lines,
quoted progress rows, typed suites' names, the starters' results against the manifest."""

import io
import os
import shutil
import sys
import tempfile
import textwrap
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tools"))
sys.path.insert(0, HERE)

import check_lint  # noqa: E402
import workshop_common  # noqa: E402
from test_workshop import MANIFEST, make_repo, result  # noqa: E402


def write(root, path, text):
    os.makedirs(os.path.dirname(os.path.join(root, path)), exist_ok=True)
    with open(os.path.join(root, path), "w") as f:
        f.write(text)


class CurriculumCheckTest(unittest.TestCase):
    def setUp(self):
        self.lesson = workshop_common.parse_manifest(MANIFEST)[1]
        self.label = "//lessons/01_fd:fd_test"

    def compare(self, cases=None, status="FAILED", crashed=None, label=None):
        return check_lint.compare_starter(self.lesson, {
            (label or self.label): result(label or self.label, status, cases, crashed)})

    def test_exactly_the_listed_failures_is_clean(self):
        self.assertEqual(self.compare({
            "FdTest.ClosesOnDestruction": (False, "x"), "FdTest.MoveLeavesSourceEmpty": (False, "y"),
            "FdTest.DefaultIsEmpty": (True, "")}), [])

    def test_an_unexpected_pass_names_lesson_and_test(self):
        problems = self.compare({"FdTest.ClosesOnDestruction": (True, ""), "FdTest.MoveLeavesSourceEmpty": (False, "")})
        self.assertEqual(problems, ["lesson 01: fd_test FdTest.ClosesOnDestruction passes in the starter, "
                                    "but the manifest says the starter must fail it"])

    def test_an_unlisted_failure_names_lesson_and_test(self):
        problems = self.compare({"FdTest.ClosesOnDestruction": (False, ""), "FdTest.MoveLeavesSourceEmpty": (False, ""),
                                 "FdTest.Extra": (False, "")})
        self.assertEqual(problems, ["lesson 01: fd_test FdTest.Extra fails in the starter but is not listed "
                                    "in lessons/manifest.txt"])

    def test_a_starter_that_does_not_build_is_an_error(self):
        problems = self.compare(status="FAILED_TO_BUILD")
        self.assertTrue(any("does not build" in p for p in problems), problems)

    def test_a_crashing_starter_is_an_error(self):
        problems = self.compare(crashed="exited with error code 134")
        self.assertTrue(any("crashed before reporting" in p for p in problems), problems)

    def test_listed_cases_that_do_not_exist_are_errors(self):
        problems = self.compare({"FdTest.ClosesOnDestruction": (False, "")})
        self.assertEqual(problems, ["lesson 01: manifest lists fd_test FdTest.MoveLeavesSourceEmpty, but that test "
                                    "case does not exist"])
        problems = self.compare({"FdTest.X": (True, "")}, label="//lessons/01_fd:other_test")
        self.assertIn("lesson 01: manifest lists fd_test FdTest.ClosesOnDestruction, but there is no test target "
                      "//lessons/01_fd:fd_test", problems)

    def test_no_results_at_all_is_an_error(self):
        self.assertEqual(len(check_lint.compare_starter(self.lesson, {})), 1)


class LayoutLintTest(unittest.TestCase):
    def setUp(self):
        self.tmp = make_repo(tempfile.mkdtemp())

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def lint(self):
        return check_lint.lint_layout(workshop_common.load_manifest(self.tmp), self.tmp)

    def test_clean_fixture_has_no_problems(self):
        self.assertEqual(self.lint(), [])

    def test_missing_files_todo_in_references_and_thin_hints(self):
        os.remove(os.path.join(self.tmp, "lessons", "01_fd", "README.md"))
        os.remove(os.path.join(self.tmp, "lessons", "01_fd", "fd.cc"))
        write(self.tmp, "solutions/00_workflow/workflow.cc", "// TODO(lesson 00): forgot\n")
        write(self.tmp, "loop/fd.cc", "LOOP_TODO(\"01\", \"01_fd\", \"close\");\n")
        write(self.tmp, "lessons/00_workflow/HINTS.md", "## Hint 1: only one\nx\n")
        problems = self.lint()
        self.assertIn("lesson 01: lessons/01_fd/README.md is missing", problems)
        self.assertIn("lesson 01: 'edit fd.cc loop/fd.cc' but lessons/01_fd/fd.cc does not exist", problems)
        self.assertIn("loop/fd.cc (the reference of lessons/01_fd/fd.cc) still carries a TODO(lesson ...) or "
                      "LOOP_TODO marker", problems)
        self.assertIn("solutions/00_workflow/workflow.cc still carries a TODO(lesson ...) marker", problems)
        self.assertIn("lesson 00: HINTS.md needs at least three '## Hint N' tiers", problems)

    def test_a_reference_must_exist_in_the_library_or_the_lessons_solutions(self):
        os.remove(os.path.join(self.tmp, "loop", "fd.cc"))
        self.assertEqual(self.lint(), ["lesson 01: 'edit fd.cc loop/fd.cc' but the reference loop/fd.cc does not "
                                       "exist"])
        write(self.tmp, "lessons/manifest.txt", MANIFEST.replace("loop/fd.cc", "solutions/00_workflow/workflow.cc"))
        self.assertIn("lesson 01: 'edit fd.cc solutions/00_workflow/workflow.cc': a reference is a file of the "
                      "library (loop/...) or of solutions/01_fd/", self.lint())

    def test_solutions_holds_no_build_files_and_only_named_files(self):
        write(self.tmp, "solutions/01_fd/BUILD.bazel", "")
        write(self.tmp, "solutions/01_fd/fd.h", "int Fd();\n")
        write(self.tmp, "solutions/01_fd/checkpoints/closes.patch", "")
        problems = self.lint()
        self.assertEqual(len(problems), 3, problems)
        self.assertIn("solutions/01_fd/BUILD.bazel: solutions/ holds no Bazel packages", problems[0])
        self.assertIn("solutions/01_fd/fd.h is named by no 'edit FILE REF'", problems[1])
        self.assertEqual(problems[2], "solutions/01_fd/checkpoints/closes.patch is named by no 'edit FILE REF' of "
                                      "lessons/manifest.txt, no checkpoint and no quoted sanitizer report or test "
                                      "output: delete it, or name it")

    def test_checkpoint_and_quote_patches_are_named(self):
        write(self.tmp, "lessons/manifest.txt", MANIFEST + "  checkpoint closes 1 2\n")
        write(self.tmp, "solutions/01_fd/checkpoints/closes.patch", "")
        write(self.tmp, "solutions/01_fd/quotes/leak.patch", "")
        write(self.tmp, "lessons/01_fd/README.md", "<!-- sanitizer-output asan //lessons/01_fd:fd_test "
                                                   "solutions/01_fd/quotes/leak.patch -->\n```\nx\n```\n")
        self.assertEqual(self.lint(), [])

    def test_quoted_failures_must_point_at_the_assertion_they_show(self):
        write(self.tmp, "lessons/01_fd/fd_test.cc", "TEST(FdTest, Closes) {\n  Fd fd(r);\n  EXPECT_FALSE(IsOpen(r))\n"
                                                    "      << \"still open\";\n}\n")
        quote = "```\n%s: Failure\nValue of: %s\n  Actual: true\n```\n"
        write(self.tmp, "lessons/01_fd/README.md", quote % ("lessons/01_fd/fd_test.cc:3", "IsOpen(r)"))
        self.assertEqual(check_lint.lint_failure_quotes(self.tmp), [])
        # Lines shifted: the quote now points at a line without an assertion.
        write(self.tmp, "lessons/01_fd/README.md", quote % ("lessons/01_fd/fd_test.cc:2", "IsOpen(r)"))
        problems = check_lint.lint_failure_quotes(self.tmp)
        self.assertEqual(len(problems), 1)
        self.assertIn("lessons/01_fd/README.md:2 quotes lessons/01_fd/fd_test.cc:2, but that line holds "
                      "no assertion", problems[0])
        # The line holds an assertion, but not the one the quote shows.
        write(self.tmp, "lessons/01_fd/README.md", quote % ("fd_test.cc:3", "IsOpen(w)"))
        problems = check_lint.lint_failure_quotes(self.tmp)
        self.assertEqual(len(problems), 1)
        self.assertIn("'IsOpen(w)' is not in the statement there", problems[0])

    def test_a_shortened_path_names_one_file_by_its_end(self):
        write(self.tmp, "tests/support/waker_suite.h", "\n\n  EXPECT_TRUE(Woke(poll));\n")
        quote = "```\n.../%s:3: Failure\nValue of: Woke(poll)\n```\n"
        write(self.tmp, "lessons/01_fd/README.md", quote % "tests/support/waker_suite.h")
        self.assertEqual(check_lint.lint_failure_quotes(self.tmp), [])
        write(self.tmp, "lessons/01_fd/README.md", quote % "loop/waker_suite.h")  # where it used to be
        self.assertEqual(check_lint.lint_failure_quotes(self.tmp),
                         ["lessons/01_fd/README.md:2 quotes .../loop/waker_suite.h:3, which does not exist"])


MANIFEST_WITH_CHECKPOINT = MANIFEST + "  checkpoint closes 2 1\n"


class CheckpointLinesTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp()
        self.lessons = workshop_common.parse_manifest(MANIFEST_WITH_CHECKPOINT)
        write(self.root, "lessons/01_fd/README.md", "## Step 2\n\nCheckpoint closes: after step 2, "
                                                    "`bazel test` shows 2 passing, 1 failing.\n")
        write(self.root, "solutions/01_fd/checkpoints/closes.patch", "")

    def tearDown(self):
        shutil.rmtree(self.root)

    def test_readme_and_manifest_agree(self):
        self.assertEqual(check_lint.lint_checkpoint_lines(self.lessons, self.root), [])

    def test_readme_numbers_differ_or_are_missing(self):
        write(self.root, "lessons/01_fd/README.md", "Checkpoint closes: 3 passing, 0 failing.\n"
                                                    "Checkpoint other: 1 passing, 2 failing.\n")
        problems = check_lint.lint_checkpoint_lines(self.lessons, self.root)
        self.assertIn("lessons/01_fd/README.md:1: checkpoint closes says 3 passing, 0 failing; the manifest says "
                      "2 passing, 1 failing", problems)
        self.assertTrue(any("README.md:2: checkpoint other is not in lessons/manifest.txt" in p for p in problems))
        write(self.root, "lessons/01_fd/README.md", "nothing\n")
        os.remove(os.path.join(self.root, "solutions/01_fd/checkpoints/closes.patch"))
        problems = check_lint.lint_checkpoint_lines(self.lessons, self.root)
        self.assertEqual(len(problems), 2)
        self.assertIn("has no 'Checkpoint closes:' line", problems[0])
        self.assertIn("has no patch solutions/01_fd/checkpoints/closes.patch", problems[1])


class ProgressSampleTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp()
        self.lessons = workshop_common.parse_manifest(MANIFEST)
        label = "//lessons/01_fd:fd_test"
        self.results = {label: result(label, "FAILED", {"FdTest.ClosesOnDestruction": (False, ""),
                                                         "FdTest.MoveLeavesSourceEmpty": (False, ""),
                                                         "FdTest.C": (True, "")})}

    def tearDown(self):
        shutil.rmtree(self.root)

    def lint(self, row):
        write(self.root, "lessons/01_fd/README.md", "```\n%s\n```\n" % row)
        return check_lint.lint_progress_samples(self.lessons, self.results, self.root)

    def test_the_real_row_is_clean(self):
        row = workshop_common.progress_row(self.lessons[1], 1, 3, "not started", True)
        self.assertEqual(self.lint("  " + row), [])

    def test_a_wrong_total_or_format_is_reported(self):
        row = workshop_common.progress_row(self.lessons[1], 1, 4, "not started")
        self.assertIn("lesson 01 has 3 test cases, but the quoted progress row says 1/4", self.lint(row)[0])
        renamed = workshop_common.progress_row(self.lessons[1], 1, 3, "not started").replace(
            "Owning a file descriptor", "Owning an fd            ")
        self.assertIn("is not what ./tools/progress prints", self.lint(renamed)[0])
        wrong_passes = workshop_common.progress_row(self.lessons[1], 2, 3, "not started")
        self.assertIn("untouched lesson 01 passes 1 of 3, not 2", self.lint(wrong_passes)[0])


class SmallLintsTest(unittest.TestCase):
    def test_type_names_in_starter_logs_are_short(self):
        root = tempfile.mkdtemp()
        try:
            self.assertEqual(check_lint.lint_type_names(root), [])
            log = "bazel-testlogs/lessons/06_eventfd_waker/eventfd_waker_test/test.log"
            write(root, log, "[  FAILED  ] EventfdWaker/WakerSuite/OnEpoll.NewWakerIsQuiet, where TypeParam = "
                             "EventfdOnEpoll (0 ms)\n")
            self.assertEqual(check_lint.lint_type_names(root), [])
            write(root, log, "[  FAILED  ] EventfdWaker/WakerSuite/OnEpoll.NewWakerIsQuiet, where TypeParam = "
                             "loop::testing::(anonymous namespace)::EventfdOnEpoll (0 ms)\n")
            problems = check_lint.lint_type_names(root)
            self.assertEqual(len(problems), 1)
            self.assertIn("lessons/06_eventfd_waker:eventfd_waker_test prints "
                          "'loop::testing::(anonymous namespace)::EventfdOnEpoll (0 ms)'", problems[0])
        finally:
            shutil.rmtree(root)

    def test_sanitizer_markers_are_found_with_their_block(self):
        root = tempfile.mkdtemp()
        try:
            write(root, "README.md", "text\n<!-- sanitizer-output tsan //l/08:t s/08/quotes/x.patch -->\n```\nA\n"
                                     "...\nB\n```\n")
            self.assertEqual(check_lint.sanitizer_quotes(root),
                             [("README.md", 2, "tsan", "//l/08:t", "s/08/quotes/x.patch", ["A", "...", "B"])])
        finally:
            shutil.rmtree(root)

    def test_the_real_checkout_has_no_layout_problem_of_the_tools_own_making(self):
        # Every manifest line parses and names a lesson directory; what the lint reports
        # about the files themselves is the maintainer suite's business, not this test's.
        lessons = workshop_common.load_manifest(REPO)
        for l in lessons:
            self.assertTrue(os.path.isdir(os.path.join(REPO, l.package)), l.package)
        check_lint.lint_layout(lessons, REPO)  # runs to the end on the real files


if __name__ == "__main__":
    unittest.main()
