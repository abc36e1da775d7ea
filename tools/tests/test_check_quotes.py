"""Tests of tools/check_quotes.py: README blocks that quote real output, the lint that
finds a quoted test message nothing checks, and the comparison of a quote with a run."""

import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tools"))
sys.path.insert(0, HERE)

import check_lint  # noqa: E402
import check_quotes  # noqa: E402
import workshop_common  # noqa: E402
from test_check_lint import write  # noqa: E402
from test_workshop import make_repo  # noqa: E402

# Lesson 05's README once quoted this; the test prints "EEXIST (File exists). See ...".
# Without a `file:LINE: Failure` line above it, no lint looked at it.
OLD_QUOTE = ("the message should say what was being done (Registry::Register): epoll_ctl(EPOLL_CTL_ADD,\n"
             "fd 4) failed: EEXIST (File exists): File exists. See lessons/05_registry/README.md.\n")
MARKER = "<!-- test-output //lessons/01_fd:fd_test solutions/01_fd/quotes/leak.patch -->\n"

# What gtest prints for that assertion: the message on one long line.
OUTPUT = ("[ RUN      ] RegistryErrorsTest.RegisterTwiceIsEexistAndKeepsTheFirstRegistration\n"
          "lessons/05_registry/registry_test.cc:216: Failure\n"
          "Value of: Contains(what, \"Registry::\" + method)\n"
          "  Actual: false\n"
          "Expected: true\n"
          "the message should say what was being done (Registry::Register): epoll_ctl(EPOLL_CTL_ADD, fd 4) failed: "
          "EEXIST (File exists). See lessons/05_registry/README.md.\n"
          "[  FAILED  ] RegistryErrorsTest.RegisterTwiceIsEexistAndKeepsTheFirstRegistration (3 ms)\n")


class MessageQuoteLintTest(unittest.TestCase):
    def setUp(self):
        self.tmp = make_repo(tempfile.mkdtemp())

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def lint(self, readme):
        write(self.tmp, "lessons/01_fd/README.md", readme)
        return check_lint.lint_layout(workshop_common.load_manifest(self.tmp), self.tmp)

    def test_the_old_hole_a_message_quoted_without_a_failure_line_is_reported(self):
        problems = self.lint("On epoll:\n\n```\n" + OLD_QUOTE + "```\n")
        self.assertEqual(len(problems), 1, problems)
        self.assertTrue(problems[0].startswith("lessons/01_fd/README.md:3 quotes a test's message that nothing "
                                               "checks: mark the block with <!-- test-output"), problems[0])

    def test_a_marked_quote_with_its_patch_is_clean(self):
        write(self.tmp, "solutions/01_fd/quotes/leak.patch", "")
        self.assertEqual(self.lint("On epoll:\n\n" + MARKER + "```\n" + OLD_QUOTE + "```\n"), [])

    def test_the_patch_of_a_marked_quote_is_named_and_others_are_not(self):
        write(self.tmp, "solutions/01_fd/quotes/leak.patch", "")
        write(self.tmp, "solutions/01_fd/quotes/other.patch", "")
        problems = self.lint(MARKER + "```\n" + OLD_QUOTE + "```\n")
        self.assertEqual(problems, ["solutions/01_fd/quotes/other.patch is named by no 'edit FILE REF' of "
                                    "lessons/manifest.txt, no checkpoint and no quoted sanitizer report or test "
                                    "output: delete it, or name it"])

    def test_failure_lines_starter_todos_and_plain_blocks_are_left_to_others(self):
        with_line = "```\nlessons/01_fd/fd_test.cc:3: Failure\n" + OLD_QUOTE + "```\n"
        todo = ("```\nC++ exception with description \"TODO(lesson 01): close - see lessons/01_fd/README.md\"\n"
                "```\n")
        plain = "```\nbazel test //lessons/01_fd:all\n```\n"
        self.assertEqual(check_quotes.lint_message_quotes(make_readme(self.tmp, with_line + todo + plain)), [])

    def test_markers_name_their_block_config_target_and_patch(self):
        write(self.tmp, "README.md", "x\n" + MARKER + "```\nA\n```\n<!-- sanitizer-output tsan //l:t s/q.patch -->\n"
                                     "```\nB\n```\n")
        self.assertEqual(check_quotes.output_quotes(self.tmp), [
            ("README.md", 2, "", "//lessons/01_fd:fd_test", "solutions/01_fd/quotes/leak.patch", ["A"]),
            ("README.md", 6, "tsan", "//l:t", "s/q.patch", ["B"])])
        self.assertEqual([q[3] for q in check_lint.sanitizer_quotes(self.tmp)], ["//l:t"])


def make_readme(root, text):
    write(root, "lessons/01_fd/README.md", text)
    return root


class QuoteTextTest(unittest.TestCase):
    def test_the_old_quote_does_not_match_the_real_output(self):
        self.assertEqual(check_quotes.unmatched_quote_text(OLD_QUOTE.splitlines(), OUTPUT),
                         "the message should say what was being done (Registry::Register): "
                         "epoll_ctl(EPOLL_CTL_ADD, fd 4) failed: EEXIST (File exists): File exists. See "
                         "lessons/05_registry/README.md.")

    def test_a_wrapped_quote_with_its_failure_line_matches(self):
        quote = ["lessons/05_registry/registry_test.cc:216: Failure",
                 "Value of: Contains(what, \"Registry::\" + method)",
                 "  Actual: false",
                 "Expected: true",
                 "the message should say what was being done (Registry::Register): epoll_ctl(EPOLL_CTL_ADD,",
                 "fd 4) failed: EEXIST (File exists). See lessons/05_registry/README.md.",
                 "[  FAILED  ] RegistryErrorsTest.RegisterTwiceIsEexistAndKeepsTheFirstRegistration (0 ms)"]
        self.assertIsNone(check_quotes.unmatched_quote_text(quote, OUTPUT))

    def test_a_shifted_line_number_is_named(self):
        quote = ["lessons/05_registry/registry_test.cc:217: Failure"]
        self.assertEqual(check_quotes.unmatched_quote_text(quote, OUTPUT), quote[0])

    def test_an_ellipsis_stands_for_anything_but_the_order_holds(self):
        self.assertIsNone(check_quotes.unmatched_quote_text(["[ RUN ... ]", "...", "See ... README.md."], OUTPUT))
        quote = ["Expected: true", "...", "Value of: Contains"]
        self.assertEqual(check_quotes.unmatched_quote_text(quote, OUTPUT), "Value of: Contains")
        # Without `...` between them, quoted lines must follow each other in the output.
        quote = ["Value of: Contains(what, \"Registry::\" + method)", "Expected: true"]
        self.assertEqual(check_quotes.unmatched_quote_text(quote, OUTPUT), " ".join(quote))


if __name__ == "__main__":
    unittest.main()
