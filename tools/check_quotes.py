"""./tools/check's quotes of real output: which README blocks quote what a run prints, how
each is checked, and the lint that finds a quoted test message that nothing checks.

A README block may be marked, on the line before its opening fence:

    <!-- sanitizer-output CONFIG TARGET PATCH -->   what --config=CONFIG (asan, tsan) prints
    <!-- test-output TARGET PATCH -->               what a plain `bazel test TARGET` prints

PATCH (under solutions/NN_name/quotes/) turns the reference code, copied over the
starters in the scratch copy, into the code that prints the quote (a deliberate bug);
check_scratch.check_output_quotes applies it, runs TARGET and compares.

Why the marker: lint_failure_quotes (check_lint.py) only reads files. It checks that a
`file_test.cc:LINE: Failure` line points at an assertion and that the expression gtest
printed is in it; the message after it, and a message quoted without such a line, it
cannot check (a message carries what the code under test said, e.g. a SysError's text).
lint_message_quotes therefore asks every block that quotes a lesson test's message
without a `file:LINE:` line to carry a test-output marker. Quotes of the untouched
starter's TODO exceptions are exempt. Part of the maintainer suite (see check_suite.py).
Python 3 standard library only.
"""

import os
import re

_OUTPUT_MARKER = re.compile(r"<!-- (?:sanitizer-output (asan|tsan)|test-output) (//\S+) (\S+\.patch) -->")
_FAILURE_LINE = re.compile(r"\S+\.(?:cc|h):\d+: (?:Failure|Skipped)")
# Every message of a lesson's tests ends by pointing at the lesson's README.
_TEST_MESSAGE = re.compile(r"\blessons/\d\d_[a-z0-9_]+/README\.md\b")


def _read(path):
    with open(path, errors="replace") as f:
        return f.read()


def _readmes(root):
    out = ["README.md"]
    lessons_dir = os.path.join(root, "lessons")
    if os.path.isdir(lessons_dir):
        out += ["lessons/%s/README.md" % d for d in sorted(os.listdir(lessons_dir))]
    docs = os.path.join(root, "docs")
    if os.path.isdir(docs):
        out += ["docs/" + f for f in sorted(os.listdir(docs)) if f.endswith(".md")]
    return [r for r in out if os.path.isfile(os.path.join(root, r))]


def _blocks(lines):
    """(index of the opening fence, the lines inside) for each fenced block."""
    i = 0
    while i < len(lines):
        if lines[i].startswith("```"):
            end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")), len(lines))
            yield i, lines[i + 1:end]
            i = end + 1
        else:
            i += 1


def output_quotes(root):
    """[(readme, line, config, target, patch, quoted lines)] for each marked block: config
    is "asan" or "tsan" for a sanitizer report, "" for a test's plain output."""
    found = []
    for readme in _readmes(root):
        lines = _read(os.path.join(root, readme)).splitlines()
        for start, inside in _blocks(lines):
            m = _OUTPUT_MARKER.search(lines[start - 1]) if start > 0 else None
            if m:
                found.append((readme, start, m.group(1) or "", m.group(2), m.group(3), inside))
    return found


def lint_message_quotes(root):
    """README blocks that quote a lesson test's message (it names lessons/NN_name/README.md)
    with no `file:LINE: Failure` line, not the starter's TODO, and no test-output marker:
    nothing compares them with a real run."""
    problems = []
    for readme in _readmes(root):
        lines = _read(os.path.join(root, readme)).splitlines()
        for start, inside in _blocks(lines):
            text = "\n".join(inside)
            if not _TEST_MESSAGE.search(text) or _FAILURE_LINE.search(text) or "TODO(lesson" in text:
                continue
            if start > 0 and _OUTPUT_MARKER.search(lines[start - 1]):
                continue
            problems.append("%s:%d quotes a test's message that nothing checks: mark the block with "
                            "<!-- test-output TARGET PATCH --> (PATCH under solutions/NN_name/quotes/ turns the "
                            "reference code into the code that prints it) and quote what that run prints"
                            % (readme, start + 1))
    return problems


def _normalize(text):
    text = re.sub(r"0x[0-9a-f]+", "0x?", text)
    text = re.sub(r"\b(pid|tid)=\d+", r"\1=?", text)
    text = re.sub(r"\bT\d+\b", "T?", text)
    return re.sub(r"\(\d+ ms\)", "(? ms)", text)


def unmatched_quote_text(quote, output):
    """The first part of a quoted test output that the output does not have, in order, or
    None. The quote and the output are each read as one text in which every run of
    whitespace is one space, so a message the README wraps over several lines matches
    gtest's one long line; `...` stands for anything (within a line or across lines).
    Addresses, pids, thread numbers and gtest's "(N ms)" may differ."""
    out = " ".join(_normalize(output).split())
    text = " ".join(_normalize("\n".join(quote)).split())
    at = 0
    for part in (p.strip() for p in text.split("...")):
        if not part:
            continue
        found = out.find(part, at)
        if found < 0:
            return part
        at = found + len(part)
    return None
