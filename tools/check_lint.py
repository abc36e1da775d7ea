"""./tools/check's lints: what can be checked by reading files, without building anything
(and the comparisons of test results with what the manifest and the READMEs promise).

The maintainer suite is split into five modules; only maintainers read them:

    check_suite.py    the entry point (./tools/check) and the list of steps, one function each
    check_lint.py     this file: layout, manifest references, quotes in READMEs, formatting
    check_bazel.py    checks that ask Bazel in the checkout itself (layering, editors, ...)
    check_scratch.py  the scratch copy: checkpoints, the reference code copied in, sanitizers
    check_quotes.py   quotes of real output: the markers, the comparison, the message lint

Python 3 standard library only.
"""

import os
import re
import shutil
import subprocess

from scratch_copy import tracked_files
from check_quotes import _read, _readmes, lint_message_quotes, output_quotes  # the READMEs, read once
from workshop_common import PROGRESS_ROW, lesson_status, parse_hints, progress_row

# Markers of unwritten code: a starter's LOOP_TODO(...) call (lessons/todo.h) and its
# TODO(lesson NN) comments. No reference file may carry one.
TODO_MARKERS = ("TODO(lesson", "LOOP_TODO(")

# Bazel files, which solutions/ must not hold: it is no Bazel package any more; its files
# are tested by copying them over the starters (check_scratch.py).
BAZEL_FILES = ("BUILD", "BUILD.bazel", "WORKSPACE", "WORKSPACE.bazel")


# ---------------------------------------------------------------------------------------
# The layout: lesson files, the manifest's references, what solutions/ may hold.


def lint_layout(lessons, root):
    """Files every lesson must have, manifest entries that point at real files, and a
    solutions/ that holds only what something names."""
    problems = []
    for l in lessons:
        for f in ("README.md", "HINTS.md", "BUILD.bazel"):
            if not os.path.isfile(os.path.join(root, l.package, f)):
                problems.append("lesson %s: %s/%s is missing" % (l.number, l.package, f))
        for e in l.edits:
            ref = l.reference(e)
            line = "'edit %s %s'" % (e, ref)
            if not os.path.isfile(os.path.join(root, l.package, e)):
                problems.append("lesson %s: %s but %s/%s does not exist" % (l.number, line, l.package, e))
            if not (ref.startswith("loop/") or ref.startswith(l.solutions_dir + "/")):
                problems.append("lesson %s: %s: a reference is a file of the library (loop/...) or of %s/"
                                % (l.number, line, l.solutions_dir))
            if not os.path.isfile(os.path.join(root, ref)):
                problems.append("lesson %s: %s but the reference %s does not exist" % (l.number, line, ref))
            elif any(m in _read(os.path.join(root, ref)) for m in TODO_MARKERS):
                problems.append("%s (the reference of %s/%s) still carries a TODO(lesson ...) or LOOP_TODO marker"
                                % (ref, l.package, e))
        hints = os.path.join(root, l.package, "HINTS.md")
        if os.path.isfile(hints) and len(parse_hints(_read(hints))) < 3:
            problems.append("lesson %s: HINTS.md needs at least three '## Hint N' tiers" % l.number)
    problems += lint_failure_quotes(root)
    problems += lint_message_quotes(root)
    problems += lint_solutions(lessons, root)
    return problems


def lint_solutions(lessons, root):
    """solutions/ holds no Bazel package, and only files something names: a manifest REF,
    a checkpoint's patch (solutions/NN/checkpoints/NAME.patch) or the patch of a quoted
    sanitizer report or test output (<!-- sanitizer-output CONFIG TARGET PATCH -->,
    <!-- test-output TARGET PATCH --> in a README: check_quotes.py)."""
    top = os.path.join(root, "solutions")
    if not os.path.isdir(top):
        return []
    named = {l.reference(e) for l in lessons for e in l.edits}
    named |= {checkpoint_patch(l, c[0]) for l in lessons for c in l.checkpoints}
    named |= {q[4] for q in output_quotes(root)}
    problems = []
    for dirpath, dirs, files in os.walk(top):
        dirs.sort()
        for f in sorted(files):
            rel = os.path.relpath(os.path.join(dirpath, f), root)
            if f in BAZEL_FILES:
                problems.append("%s: solutions/ holds no Bazel packages (the references are tested by copying "
                                "them over the starters); delete it" % rel)
                continue
            if rel not in named:
                problems.append("%s is named by no 'edit FILE REF' of lessons/manifest.txt, no checkpoint and no "
                                "quoted sanitizer report or test output: delete it, or name it" % rel)
            if "TODO(lesson" in _read(os.path.join(dirpath, f)):
                problems.append("%s still carries a TODO(lesson ...) marker" % rel)
    return problems


def checkpoint_patch(lesson, name):
    """Where a checkpoint's patch lives. It turns the starter into the code after that step,
    and is made with `git diff -U0` from a copy that keeps every TODO(lesson NN) comment:
    no context lines, so it carries none of the starter's TODO markers into solutions/
    (it is applied with --unidiff-zero; the counts catch one that lands wrong)."""
    return "%s/checkpoints/%s.patch" % (lesson.solutions_dir, name)


# ---------------------------------------------------------------------------------------
# What the READMEs quote.


_ASSERTION = re.compile(r"\b(EXPECT_|ASSERT_|ADD_FAILURE|FAIL\(|GTEST_SKIP|SysErrorFrom\(|ErrorFrom\()")
_QUOTED_FAILURE = re.compile(r"(\S+\.(?:cc|h)):(\d+): (?:Failure|Skipped)")
_SOURCE_DIRS = ("lessons", "loop", "tests")


def _by_suffix(root, suffix):
    """The files under lessons/, loop/ and tests/ whose path ends with /suffix."""
    found = []
    for top in _SOURCE_DIRS:
        for dirpath, dirs, files in os.walk(os.path.join(root, top)):
            dirs.sort()
            for f in sorted(files):
                rel = os.path.relpath(os.path.join(dirpath, f), root)
                if ("/" + rel).endswith("/" + suffix):
                    found.append(rel)
    return found


def lint_failure_quotes(root):
    """READMEs quote real test output ("lessons/01_fd/fd_test.cc:110: Failure"). Edits to
    a test file shift its lines; this finds quotes that no longer point at the assertion
    they show: the line must hold an assertion, and the expression gtest printed after
    "Value of:" or "Expected equality of these values:" must be in that statement."""
    problems = []
    lessons_dir = os.path.join(root, "lessons")
    names = sorted(os.listdir(lessons_dir)) if os.path.isdir(lessons_dir) else []
    for readme in ["README.md"] + ["lessons/%s/README.md" % d for d in names]:
        path = os.path.join(root, readme)
        if not os.path.isfile(path):
            continue
        lines = _read(path).splitlines()
        for i, text in enumerate(lines):
            m = _QUOTED_FAILURE.search(text)
            if not m:
                continue
            test = m.group(1)
            if test.startswith(".../"):
                # A file gtest names by its path in the checkout, shortened in the quote:
                # ".../tests/support/waker_suite.h". The rest must name exactly one file.
                found = _by_suffix(root, test[len(".../"):])
                test = found[0] if len(found) == 1 else test
            elif not test.startswith(("lessons/", "loop/", "tests/")):
                test = os.path.join(os.path.dirname(readme), test)
            where = "%s:%d quotes %s:%s" % (readme, i + 1, test, m.group(2))
            if not os.path.isfile(os.path.join(root, test)):
                problems.append("%s, which does not exist" % where)
                continue
            source = _read(os.path.join(root, test)).splitlines()
            n = int(m.group(2))
            if not 1 <= n <= len(source) or not _ASSERTION.search(source[n - 1]):
                problems.append("%s, but that line holds no assertion: update the quote from the real "
                                "test output" % where)
                continue
            after = [l.strip() for l in lines[i + 1:i + 3]]
            expr = None
            if after and after[0].startswith("Value of: "):
                expr = after[0][len("Value of: "):]
            elif len(after) == 2 and after[0] == "Expected equality of these values:":
                expr = after[1]
            statement = " ".join(l.strip() for l in source[n - 1:n + 3])
            if expr and expr.replace(" ", "") not in statement.replace(" ", ""):
                problems.append("%s, but %r is not in the statement there: update the quote from the "
                                "real test output" % (where, expr))
    return problems


_CHECKPOINT = re.compile(r"Checkpoint ([A-Za-z0-9_.-]+):.*?(\d+) passing, (\d+) failing")


def lint_checkpoint_lines(lessons, root):
    """The README's `Checkpoint NAME: ... P passing, F failing` lines say what the manifest's
    `checkpoint NAME P F` says (which ./tools/check verifies against the real tests)."""
    problems = []
    for l in lessons:
        path = os.path.join(root, l.package, "README.md")
        readme = {}
        if os.path.isfile(path):
            for i, text in enumerate(_read(path).splitlines()):
                m = _CHECKPOINT.search(text)
                if m:
                    readme[m.group(1)] = (int(m.group(2)), int(m.group(3)), i + 1)
        listed = {name: (p, f) for name, p, f, _ in l.checkpoints}
        for name, (p, f, n) in sorted(readme.items()):
            if name not in listed:
                problems.append("%s/README.md:%d: checkpoint %s is not in lessons/manifest.txt (add "
                                "'checkpoint %s %d %d' under lesson %s)" % (l.package, n, name, name, p, f, l.number))
            elif listed[name] != (p, f):
                problems.append("%s/README.md:%d: checkpoint %s says %d passing, %d failing; the manifest says "
                                "%d passing, %d failing" % (l.package, n, name, p, f, *listed[name]))
        for name, p, f, n in l.checkpoints:
            if name not in readme:
                problems.append("lessons/manifest.txt:%d: checkpoint %s of lesson %s has no 'Checkpoint %s:' line "
                                "in %s/README.md" % (n, name, l.number, name, l.package))
            if not os.path.isfile(os.path.join(root, checkpoint_patch(l, name))):
                problems.append("lessons/manifest.txt:%d: checkpoint %s has no patch %s"
                                % (n, name, checkpoint_patch(l, name)))
    return problems


def sanitizer_quotes(root):
    """[(readme, line, config, target, patch, quoted lines)] for each README block marked
    `<!-- sanitizer-output CONFIG TARGET PATCH -->`: what the sanitizer prints for the
    reference code with PATCH applied (a deliberate bug). check_quotes.py reads the markers."""
    return [q for q in output_quotes(root) if q[2]]


# ---------------------------------------------------------------------------------------
# Test results against the manifest and the READMEs.


def compare_starter(lesson, results):
    """Returns a list of problems (strings) for one lesson's starter results."""
    problems = []
    mine = {r.target: r for label, r in results.items() if label.startswith("//" + lesson.package + ":")}
    expected = lesson.expected_failures()
    if not mine:
        return ["lesson %s: no test results for //%s (does it build? does it have tests?)"
                % (lesson.number, lesson.package)]
    for target, r in sorted(mine.items()):
        if r.status == "FAILED_TO_BUILD":
            problems.append("lesson %s: the starter //%s:%s does not build; starters must compile "
                            "and fail at run time" % (lesson.number, lesson.package, target))
            continue
        if r.crashed:
            problems.append("lesson %s: //%s:%s crashed before reporting its test cases (%s); "
                            "starters must fail test by test, not abort"
                            % (lesson.number, lesson.package, target, r.crashed))
            continue
        for case, (passed, _) in sorted(r.cases.items()):
            listed = (target, case) in expected
            if passed and listed:
                problems.append("lesson %s: %s %s passes in the starter, but the manifest says the "
                                "starter must fail it" % (lesson.number, target, case))
            elif not passed and not listed:
                problems.append("lesson %s: %s %s fails in the starter but is not listed in "
                                "lessons/manifest.txt" % (lesson.number, target, case))
    for target, case in sorted(expected):
        r = mine.get(target)
        if r is None:
            problems.append("lesson %s: manifest lists %s %s, but there is no test target //%s:%s"
                            % (lesson.number, target, case, lesson.package, target))
        elif not r.crashed and r.status != "FAILED_TO_BUILD" and case not in r.cases:
            problems.append("lesson %s: manifest lists %s %s, but that test case does not exist"
                            % (lesson.number, target, case))
    return problems


def lint_type_names(root):
    """Typed suites print "where TypeParam = <type>" on result lines. A case type declared in
    an anonymous namespace makes that "loop::testing::(anonymous namespace)::EventfdOnEpoll"
    on every line; declared in the global namespace it is "EventfdOnEpoll". Reads the
    starters' test logs (bazel-testlogs/lessons/...) of the last run."""
    problems = []
    logs = os.path.join(root, "bazel-testlogs", "lessons")
    if not os.path.isdir(logs):
        return problems
    for lesson in sorted(os.listdir(logs)):
        lesson_dir = os.path.join(logs, lesson)
        if not os.path.isdir(lesson_dir):
            continue
        for target in sorted(os.listdir(lesson_dir)):
            log = os.path.join(lesson_dir, target, "test.log")
            if not os.path.isfile(log):
                continue
            for line in _read(log).splitlines():
                if "where TypeParam = " in line and "(anonymous namespace)" in line:
                    problems.append("lessons/%s:%s prints %r: declare the typed suite's case types in "
                                    "the global namespace, so that gtest names them shortly"
                                    % (lesson, target, line.split("where TypeParam = ", 1)[1].strip()))
                    break
    return problems


def lint_progress_samples(lessons, results, root):
    """A README that quotes a row of ./tools/progress's table must quote it as progress
    prints it: the lesson's real title, and its real number of test cases (from the
    curriculum step's results of the untouched starters)."""
    problems = []
    by_number = {l.number: l for l in lessons}
    for readme in _readmes(root):
        for i, raw in enumerate(_read(os.path.join(root, readme)).splitlines()):
            text = raw.rstrip().lstrip(" ")
            mark, rest = ("->", text[2:]) if text.startswith("->") else ("  ", text)
            m = PROGRESS_ROW.match(mark + rest)
            if not m:
                continue
            where = "%s:%d" % (readme, i + 1)
            l = by_number.get(m.group(2))
            if l is None:
                problems.append("%s quotes a progress row for lesson %s, which is not in the manifest"
                                % (where, m.group(2)))
                continue
            passed, total, status = int(m.group(4)), int(m.group(5)), m.group(6)
            _, real_total, _, _ = lesson_status(l, results)
            expected = progress_row(l, passed, real_total, status, mark == "->")
            if real_total and total != real_total:
                problems.append("%s: lesson %s has %d test cases, but the quoted progress row says %d/%d: %r"
                                % (where, l.number, real_total, passed, total, raw.strip()))
            elif mark + rest != expected:
                problems.append("%s: the quoted progress row is not what ./tools/progress prints; it prints %r"
                                % (where, expected.strip()))
            elif status == "not started" and real_total and passed != real_total - len(l.fails):
                problems.append("%s: an untouched lesson %s passes %d of %d, not %d"
                                % (where, l.number, real_total - len(l.fails), real_total, passed))
    return problems


# ---------------------------------------------------------------------------------------
# Formatting.


def check_format(tally, root):
    cxx = tracked_files(root, "*.cc", "*.h")
    clang_format = shutil.which("clang-format")
    if not clang_format:
        tally.add(False, "clang-format is not installed (apt-get install clang-format)")
    else:
        bad = [f for f in cxx if subprocess.run([clang_format, "--dry-run", "--Werror", f], cwd=root,
                                                capture_output=True).returncode != 0]
        tally.add(not bad, "clang-format: %d of %d C++ files need formatting: %s"
                  % (len(bad), len(cxx), " ".join(bad[:10])) if bad else "clang-format")
    buildifier = os.path.join(root, ".tools", "node_modules", ".bin", "buildifier")
    if not os.path.exists(buildifier):
        buildifier = shutil.which("buildifier")
    if not buildifier:
        tally.add(False, "buildifier is not installed (./tools/check installs it with npm into .tools/)")
        return
    files = tracked_files(root, "*.bazel", "*.bzl", "WORKSPACE", "BUILD")
    files = [f for f in files if not f.startswith("tools/bazel/offline/")]
    proc = subprocess.run([buildifier, "--mode=check", "--lint=off"] + files, cwd=root, capture_output=True, text=True)
    tally.add(proc.returncode == 0, "buildifier: " + (proc.stdout + proc.stderr).strip().replace("\n", "; ")[:500]
              if proc.returncode else "buildifier")
