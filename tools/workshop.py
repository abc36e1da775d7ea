#!/usr/bin/env python3
"""The workshop's commands: progress, hint, reset, diff, watch, start and check.

Run them through the small scripts next to this file (./tools/progress, ./tools/hint 01,
...), from any directory of the checkout. Python 3 standard library only.

The curriculum lives in lessons/manifest.txt: every lesson, the files the learner edits,
and exactly which test cases its starter must fail. `check` verifies that promise for every
lesson; `progress` uses it to tell a learner where they stand.
"""

import argparse
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class UsageError(Exception):
    """Bad input from the user: printed without a traceback, exit status 2."""


# ---------------------------------------------------------------------------------------
# The manifest.


class Lesson:
    def __init__(self, number, dir_name, title, line):
        self.number = number  # "01"
        self.dir = dir_name  # "01_fd"
        self.title = title
        self.line = line
        self.edits = []  # paths relative to lessons/<dir>
        self.fails = []  # (target, "Suite.Case")

    @property
    def package(self):
        return "lessons/" + self.dir

    @property
    def solution_package(self):
        return "solutions/" + self.dir

    def expected_failures(self):
        return set(self.fails)


def parse_manifest(text, source="lessons/manifest.txt"):
    """Parses the manifest; raises UsageError naming the line of any mistake."""
    lessons = []
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        words = line.split()
        where = "%s:%d" % (source, n)
        if words[0] == "lesson":
            if len(words) < 4 or not re.fullmatch(r"\d\d", words[1]):
                raise UsageError(where + ": expected 'lesson NN DIR Title', got: " + raw.strip())
            if not words[2].startswith(words[1] + "_"):
                raise UsageError(where + ": lesson dir %r must start with %r" % (words[2], words[1] + "_"))
            if any(l.number == words[1] for l in lessons):
                raise UsageError(where + ": lesson %s is listed twice" % words[1])
            lessons.append(Lesson(words[1], words[2], " ".join(words[3:]), n))
        elif words[0] in ("edit", "fail"):
            if not lessons:
                raise UsageError(where + ": '%s' before any 'lesson' line" % words[0])
            if words[0] == "edit":
                if len(words) != 2:
                    raise UsageError(where + ": expected 'edit FILE', got: " + raw.strip())
                lessons[-1].edits.append(words[1])
            else:
                if len(words) != 3 or "." not in words[2]:
                    raise UsageError(where + ": expected 'fail TARGET Suite.Case', got: " + raw.strip())
                case = (words[1], words[2])
                if case in lessons[-1].fails:
                    raise UsageError(where + ": %s %s is listed twice" % case)
                lessons[-1].fails.append(case)
        else:
            raise UsageError(where + ": unknown keyword %r (expected lesson, edit or fail)" % words[0])
    return lessons


def load_manifest(root=ROOT):
    path = os.path.join(root, "lessons", "manifest.txt")
    with open(path) as f:
        return parse_manifest(f.read())


def find_lesson(lessons, arg):
    """Accepts 1, 01, 01_fd or fd; raises UsageError listing the valid lessons."""
    arg = (arg or "").strip()
    for l in lessons:
        if arg and (arg in (l.number, l.dir, l.dir[3:]) or (arg.isdigit() and int(arg) == int(l.number))):
            return l
    valid = "\n".join("  %s  %-22s %s" % (l.number, l.dir, l.title) for l in lessons)
    raise UsageError("there is no lesson %r. The lessons are:\n%s" % (arg, valid))


# ---------------------------------------------------------------------------------------
# Test results: gtest writes test.xml per target (Bazel passes XML_OUTPUT_FILE).


class TargetResult:
    def __init__(self, label, status):
        self.label = label  # "//lessons/01_fd:fd_test"
        self.status = status  # PASSED, FAILED, FAILED_TO_BUILD, TIMEOUT, NO_STATUS, ...
        self.cases = {}  # "Suite.Case" -> (passed: bool, message)
        self.crashed = False  # the binary died before writing per-case results

    @property
    def target(self):
        return self.label.rsplit(":", 1)[1]


def parse_test_xml(text):
    """Returns ({case: (passed, message)}, crashed) from a test.xml."""
    root = ET.fromstring(text)
    cases = {}
    for tc in root.iter("testcase"):
        suite = tc.get("classname") or ""
        name = tc.get("name") or ""
        failure = tc.find("failure")
        if failure is None:
            failure = tc.find("error")
        if not suite or (tc.get("status") is None and tc.get("result") is None and failure is not None):
            # Bazel's stand-in XML for a binary that died without writing its own.
            msg = (failure.get("message", "") if failure is not None else "") or "the test binary crashed"
            return {}, msg
        if tc.get("result") == "skipped" or tc.find("skipped") is not None:
            cases[suite + "." + name] = (True, "skipped")
            continue
        if failure is not None:
            msg = failure.get("message") or (failure.text or "")
            cases[suite + "." + name] = (False, msg.strip())
        else:
            cases[suite + "." + name] = (True, "")
    return cases, None


def _bep_results(bep_path, root):
    """Reads Bazel's build event JSON and the test.xml files it names."""
    results = {}
    xml_files = {}
    with open(bep_path) as f:
        for line in f:
            ev = json.loads(line)
            eid = ev.get("id", {})
            if "testSummary" in eid:
                label = eid["testSummary"]["label"]
                results.setdefault(label, TargetResult(label, "NO_STATUS")).status = ev.get(
                    "testSummary", {}).get("overallStatus", "NO_STATUS")
            elif "testResult" in eid:
                label = eid["testResult"]["label"]
                for out in ev.get("testResult", {}).get("testActionOutput", []):
                    if out.get("name") == "test.xml" and out.get("uri", "").startswith("file://"):
                        xml_files.setdefault(label, []).append(out["uri"][len("file://"):])
            elif "targetCompleted" in eid:
                label = eid["targetCompleted"]["label"]
                completed = ev.get("completed", {})
                if ev.get("aborted") or not completed.get("success", False):
                    if label not in results or results[label].status == "NO_STATUS":
                        results[label] = TargetResult(label, "FAILED_TO_BUILD")
    for label, paths in xml_files.items():
        r = results.setdefault(label, TargetResult(label, "NO_STATUS"))
        for p in paths:
            try:
                with open(p) as f:
                    cases, crashed = parse_test_xml(f.read())
            except (OSError, ET.ParseError) as e:
                cases, crashed = {}, "unreadable test.xml: %s" % e
            r.cases.update(cases)
            if crashed:
                r.crashed = crashed
    return results


def bazel_test(patterns, root=ROOT, config=None, extra=(), log=None, quiet=True):
    """Runs `bazel test --keep_going` and returns {label: TargetResult} and the exit code."""
    fd, bep = tempfile.mkstemp(prefix="elfs-bep-", suffix=".json")
    os.close(fd)
    cmd = ["bazel", "test", "--keep_going", "--build_event_json_file=" + bep,
           "--test_output=summary" if quiet else "--test_output=errors"]
    if config:
        cmd.append("--config=" + config)
    cmd += list(extra) + ["--"] + list(patterns)
    out = open(log, "a") if log else None
    try:
        if out:
            out.write("\n$ " + " ".join(cmd) + "\n")
            out.flush()
        if out:
            sink = {"stdout": out, "stderr": subprocess.STDOUT}
        elif quiet:
            sink = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        else:
            sink = {}
        code = subprocess.call(cmd, cwd=root, **sink)
    finally:
        if out:
            out.close()
    results = _bep_results(bep, root) if os.path.getsize(bep) else {}
    try:
        os.remove(bep)
    except OSError:
        pass
    return results, code


# ---------------------------------------------------------------------------------------
# The curriculum check: starters fail exactly what the manifest lists.


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


def lint_layout(lessons, root=ROOT):
    """Files every lesson must have, and manifest entries that point at real files."""
    problems = []
    for l in lessons:
        for d, files in ((l.package, ["README.md", "HINTS.md", "BUILD.bazel"]),
                         (l.solution_package, ["BUILD.bazel"])):
            for f in files:
                if not os.path.isfile(os.path.join(root, d, f)):
                    problems.append("lesson %s: %s/%s is missing" % (l.number, d, f))
        for e in l.edits:
            if not os.path.isfile(os.path.join(root, l.package, e)):
                problems.append("lesson %s: 'edit %s' but %s/%s does not exist" % (l.number, e, l.package, e))
        problems += _drifted_copies(l, root)
        if os.path.isfile(os.path.join(root, l.package, "HINTS.md")):
            with open(os.path.join(root, l.package, "HINTS.md")) as f:
                if len(parse_hints(f.read())) < 3:
                    problems.append("lesson %s: HINTS.md needs at least three '## Hint N' tiers" % l.number)
    problems += lint_failure_quotes(root)
    for d in sorted(os.listdir(os.path.join(root, "solutions"))):
        path = os.path.join(root, "solutions", d)
        if not os.path.isdir(path):
            continue
        for dirpath, _, files in os.walk(path):
            for f in files:
                with open(os.path.join(dirpath, f), errors="replace") as fh:
                    if "TODO(lesson" in fh.read():
                        problems.append("solutions/%s/%s still carries a TODO(lesson ...) marker" % (d, f))
    return problems


_ASSERTION = re.compile(r"\b(EXPECT_|ASSERT_|ADD_FAILURE|FAIL\(|GTEST_SKIP|SysErrorFrom\(|ErrorFrom\()")
_QUOTED_FAILURE = re.compile(r"(\S+\.(?:cc|h)):(\d+): (?:Failure|Skipped)")


def lint_failure_quotes(root):
    """READMEs quote real test output ("lessons/01_fd/fd_test.cc:110: Failure"). Edits to
    a test file shift its lines; this finds quotes that no longer point at the assertion
    they show: the line must hold an assertion, and the expression gtest printed after
    "Value of:" or "Expected equality of these values:" must be in that statement."""
    problems = []
    readmes = ["README.md"] + ["lessons/%s/README.md" % d for d in sorted(os.listdir(os.path.join(root, "lessons")))]
    for readme in readmes:
        path = os.path.join(root, readme)
        if not os.path.isfile(path):
            continue
        with open(path) as f:
            lines = f.read().splitlines()
        for i, text in enumerate(lines):
            m = _QUOTED_FAILURE.search(text)
            if not m:
                continue
            test = m.group(1)
            if test.startswith(".../"):
                # A header gtest names by its include path, e.g. ".../loop/waker_suite.h".
                name = os.path.basename(test)
                found = [os.path.join("lessons", d, name) for d in sorted(os.listdir(os.path.join(root, "lessons")))
                         if os.path.isfile(os.path.join(root, "lessons", d, name))]
                test = found[0] if len(found) == 1 else test
            elif not test.startswith("lessons/"):
                test = os.path.join(os.path.dirname(readme), test)
            where = "%s:%d quotes %s:%s" % (readme, i + 1, test, m.group(2))
            if not os.path.isfile(os.path.join(root, test)):
                problems.append("%s, which does not exist" % where)
                continue
            with open(os.path.join(root, test)) as f:
                source = f.read().splitlines()
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


def _drifted_copies(lesson, root):
    """A header or source the learner does not edit exists in both packages (the lesson's
    API, kept in two places by design); the two copies must stay identical."""
    problems = []
    sol_dir = os.path.join(root, lesson.solution_package)
    if not os.path.isdir(sol_dir):
        return problems
    for f in sorted(os.listdir(sol_dir)):
        mine = os.path.join(root, lesson.package, f)
        if f in lesson.edits or not f.endswith((".h", ".cc")) or not os.path.isfile(mine):
            continue
        with open(mine, "rb") as a, open(os.path.join(sol_dir, f), "rb") as b:
            if a.read() != b.read():
                problems.append("lesson %s: %s/%s and %s/%s differ, but the learner does not edit it "
                                "(not an 'edit' in lessons/manifest.txt): keep the two copies identical"
                                % (lesson.number, lesson.package, f, lesson.solution_package, f))
    return problems


# ---------------------------------------------------------------------------------------
# Progress.


def lesson_status(lesson, results):
    """(passed, total, status, first_failure) for the learner's code of one lesson."""
    mine = [r for label, r in sorted(results.items()) if label.startswith("//" + lesson.package + ":")]
    if not mine:
        return 0, 0, "no tests", None
    if any(r.status == "FAILED_TO_BUILD" for r in mine):
        return 0, 0, "does not build", ("//%s does not compile: run bazel test //%s:all to see "
                                        "the compiler's message" % (lesson.package, lesson.package), None)
    passed = total = 0
    first = None
    failing = set()
    for r in mine:
        if r.crashed:
            total += 1
            first = first or ("%s crashed: %s" % (r.target, r.crashed), r.target)
            failing.add((r.target, "*"))
            continue
        for case, (ok, msg) in r.cases.items():  # the test file's order
            total += 1
            if ok:
                passed += 1
            else:
                failing.add((r.target, case))
                first = first or ("%s %s\n%s" % (r.target, case, msg), r.target)
    if passed == total:
        status = "done"
    elif failing == lesson.expected_failures():
        status = "not started"
    else:
        status = "in progress"
    return passed, total, status, first


def print_progress(lessons, results, out=sys.stdout):
    rows = []
    nxt = None
    for l in lessons:
        passed, total, status, first = lesson_status(l, results)
        rows.append((l, passed, total, status))
        if nxt is None and status != "done":
            nxt = (l, first)
    out.write("\n  #   lesson                                    tests   status\n")
    out.write("  --  ----------------------------------------  ------  --------------\n")
    for l, passed, total, status in rows:
        mark = "->" if nxt and nxt[0] is l else "  "
        out.write("%s%s  %-40s  %2d/%-3d  %s\n" % (mark, l.number, l.title[:40], passed, total, status))
    out.write("\n")
    if nxt is None:
        out.write("Every lesson is green. Congratulations: you built an event loop from scratch.\n")
        return
    l, first = nxt
    out.write("Next: lesson %s, %s\n" % (l.number, l.title))
    out.write("  read:  lessons/%s/README.md\n" % l.dir)
    for e in l.edits:
        out.write("  edit:  lessons/%s/%s\n" % (l.dir, e))
    out.write("  run:   bazel test //lessons/%s:all\n" % l.dir)
    out.write("  stuck? ./tools/hint %s\n" % l.number)
    if first:
        msg, _ = first
        lines = msg.strip().splitlines()
        shown = "\n".join("    " + s for s in lines[:8])
        more = "\n    ..." if len(lines) > 8 else ""
        out.write("\nThe first failing test says:\n%s%s\n" % (shown, more))


# ---------------------------------------------------------------------------------------
# Hints, reset, diff.


def parse_hints(text):
    """Returns [(title, body)] for each '## Hint N: title' section, in order."""
    hints = []
    for m in re.finditer(r"^## Hint (\d+)[^\n]*\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S):
        hints.append((m.group(0).splitlines()[0][3:].strip(), m.group(2).strip()))
    return hints


def cmd_hint(args, root=ROOT, out=sys.stdout):
    lessons = load_manifest(root)
    lesson = find_lesson(lessons, args.lesson)
    path = os.path.join(root, lesson.package, "HINTS.md")
    if not os.path.isfile(path):
        raise UsageError("lesson %s has no HINTS.md yet" % lesson.number)
    with open(path) as f:
        hints = parse_hints(f.read())
    if not hints:
        raise UsageError("%s has no '## Hint N' sections" % os.path.relpath(path, root))
    if args.level == "all":
        chosen = range(len(hints))
    else:
        try:
            level = int(args.level or 1)
        except ValueError:
            raise UsageError("hint level must be a number from 1 to %d, or 'all'" % len(hints))
        if not 1 <= level <= len(hints):
            raise UsageError("lesson %s has hints 1 to %d; there is no hint %d" % (lesson.number, len(hints), level))
        chosen = [level - 1]
    for i in chosen:
        title, body = hints[i]
        out.write("%s\n\n%s\n\n" % (title, body))
    last = max(chosen) + 1
    if last < len(hints):
        out.write("(More: ./tools/hint %s %d. There are %d hints.)\n" % (lesson.number, last + 1, len(hints)))
    return 0


def _git(root, *args, check=True):
    return subprocess.run(["git"] + list(args), cwd=root, check=check, capture_output=True, text=True)


def cmd_reset(args, root=ROOT, out=sys.stdout, ask=input):
    lessons = load_manifest(root)
    lesson = find_lesson(lessons, args.lesson)
    if shutil.which("git") is None or _git(root, "rev-parse", "--git-dir", check=False).returncode != 0:
        raise UsageError("reset needs the git checkout (the starter is restored from git); "
                         "this copy of the workshop is not a git repository")
    status = _git(root, "status", "--porcelain", "--", lesson.package).stdout.splitlines()
    changed = [s[3:] for s in status if not s.startswith("??")]
    untracked = [s[3:] for s in status if s.startswith("??")]
    if not changed:
        out.write("lesson %s: nothing to reset; lessons/%s is the untouched starter.\n" % (lesson.number, lesson.dir))
        if untracked:
            out.write("(Your new files are kept: %s)\n" % ", ".join(untracked))
        return 0
    out.write("This restores the starter of lesson %s and DISCARDS your edits to:\n" % lesson.number)
    for c in changed:
        out.write("  " + c + "\n")
    if not args.yes:
        answer = ask("Discard them? Type 'yes' to continue: ")
        if answer.strip().lower() not in ("y", "yes"):
            out.write("Nothing changed.\n")
            return 1
    _git(root, "checkout", "HEAD", "--", lesson.package)
    out.write("Restored lessons/%s to its starter.\n" % lesson.dir)
    if untracked:
        out.write("(Your new files are kept: %s)\n" % ", ".join(untracked))
    return 0


def _read_lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return f.read().splitlines(keepends=True)


def cmd_diff(args, root=ROOT, out=sys.stdout):
    lessons = load_manifest(root)
    lesson = find_lesson(lessons, args.lesson)
    files = lesson.edits or sorted(
        f for f in os.listdir(os.path.join(root, lesson.solution_package))
        if f.endswith((".cc", ".h")))
    out.write("Your code (lessons/%s) against the reference (solutions/%s). Spoilers below.\n\n"
              % (lesson.dir, lesson.dir))
    same = True
    for f in files:
        mine = os.path.join(root, lesson.package, f)
        ref = os.path.join(root, lesson.solution_package, f)
        a, b = _read_lines(ref), _read_lines(mine)
        d = list(difflib.unified_diff(a, b, "solutions/%s/%s" % (lesson.dir, f), "lessons/%s/%s" % (lesson.dir, f)))
        if d:
            same = False
            out.writelines(d)
            out.write("\n")
    if same:
        out.write("No differences.\n")
    return 0


def cmd_progress(args, root=ROOT, out=sys.stdout):
    lessons = load_manifest(root)
    out.write("Running the lessons' tests (bazel test //lessons/... --keep_going)...\n")
    out.flush()
    results, _ = bazel_test(["//lessons/..."], root=root)
    if not results:
        raise UsageError("Bazel reported no test results; run `bazel test //lessons/...` to see why")
    print_progress(lessons, results, out)
    return 0


def cmd_watch(args, root=ROOT, out=sys.stdout):
    ibazel = os.path.join(root, ".tools", "node_modules", ".bin", "ibazel")
    if not os.path.exists(ibazel):
        out.write("Installing ibazel (npm @bazel/ibazel) into .tools/ ...\n")
        out.flush()
        code = subprocess.call(["npm", "install", "--prefix", os.path.join(root, ".tools"), "--no-audit",
                                "--no-fund", "--loglevel=error", "@bazel/ibazel"])
        if code != 0 or not os.path.exists(ibazel):
            raise UsageError("could not install @bazel/ibazel with npm; is Node.js/npm installed?")
    if args.install:
        out.write("ibazel is ready: %s\n" % os.path.relpath(ibazel, root))
        return 0
    lessons = load_manifest(root)
    target = "//lessons/%s:all" % find_lesson(lessons, args.lesson).dir if args.lesson else "//lessons/..."
    out.write("Watching %s: every save re-runs its tests. Ctrl-C to stop.\n" % target)
    out.flush()
    os.chdir(root)
    os.execv(ibazel, [ibazel, "test", target])


# ---------------------------------------------------------------------------------------
# start and check.


def cmd_start(args, root=ROOT, out=sys.stdout):
    out.write("Building every lesson and solution (the first build takes a minute or two)...\n")
    out.flush()
    code = subprocess.call(["bazel", "build", "--keep_going", "//lessons/...", "//solutions/..."], cwd=root)
    if code != 0:
        out.write("\nThe build failed; the messages above say where. If you changed a lesson, "
                  "./tools/reset NN restores its starter.\n")
        return code
    return cmd_progress(args, root, out)


# What ./tools/check repeats under each sanitizer, and how often.
STRESS = [
    (["//solutions/05_registry:all", "//solutions/06_eventfd_waker:all",
      "//solutions/07_kqueue_pipe_waker:all", "//solutions/08_arc:all"], 50),
    (["//solutions/09_early_drop:all"], 200),
]


class Tally:
    def __init__(self, out):
        self.passed = 0
        self.failed = 0
        self.problems = []
        self.out = out

    def add(self, ok, what):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            self.problems.append(what)
            self.out.write("  FAIL %s\n" % what)
            self.out.flush()


def _tally_targets(tally, results, code, step):
    if not results:
        tally.add(False, "%s: Bazel produced no test results (exit code %d); see bazel-check.log" % (step, code))
        return
    for label, r in sorted(results.items()):
        ok = r.status == "PASSED"
        why = r.status if not r.crashed else "crashed: %s" % r.crashed
        tally.add(ok, "%s: %s %s" % (step, label, why))


def cmd_check(args, root=ROOT, out=sys.stdout):
    log = os.path.join(root, "bazel-check.log")
    open(log, "w").close()
    tally = Tally(out)
    started = time.time()

    def step(title):
        out.write("\n== %s (%ds)\n" % (title, time.time() - started))
        out.flush()

    step("manifest and lesson layout")
    try:
        lessons = load_manifest(root)
        tally.add(True, "manifest parses")
    except UsageError as e:
        tally.add(False, str(e))
        lessons = []
    for p in lint_layout(lessons, root):
        tally.add(False, p)
    if lessons and not tally.failed:
        tally.add(True, "every lesson has README.md, HINTS.md, BUILD.bazel and a solution")

    step("tests of the tools (python3 -m unittest)")
    proc = subprocess.run([sys.executable, "-m", "unittest", "discover", "-s", os.path.join(root, "tools", "tests"),
                           "-p", "test_*.py"], cwd=root, capture_output=True, text=True)
    m = re.search(r"Ran (\d+) test", proc.stderr)
    ran = int(m.group(1)) if m else 0
    fails = re.search(r"FAILED \((?:failures=(\d+))?(?:, )?(?:errors=(\d+))?", proc.stderr)
    nbad = (int(fails.group(1) or 0) + int(fails.group(2) or 0)) if fails else (0 if proc.returncode == 0 else 1)
    for _ in range(ran - nbad):
        tally.add(True, "tool test")
    for i in range(nbad):
        tally.add(False, "tools/tests: a tool test failed (output below)")
    if proc.returncode != 0:
        out.write(proc.stderr[-4000:] + "\n")

    step("every solution and tool test (bazel test //solutions/... //tools/...)")
    results, code = bazel_test(["//solutions/...", "//tools/..."], root=root, log=log)
    _tally_targets(tally, results, code, "solutions")

    step("curriculum: each starter fails exactly its listed tests (bazel test //lessons/...)")
    results, code = bazel_test(["//lessons/..."], root=root, log=log)
    for l in lessons:
        problems = compare_starter(l, results)
        for p in problems:
            tally.add(False, p)
        if not problems:
            tally.add(True, "lesson %s starter" % l.number)

    step("a learner who writes the reference code goes green (a scratch copy of the checkout)")
    _check_solved_copy(tally, lessons, root, log)

    if not args.no_sanitizers:
        for config in ("asan", "tsan"):
            step("solutions and tools under --config=%s" % config)
            results, code = bazel_test(["//solutions/...", "//tools/..."], root=root, config=config, log=log)
            _tally_targets(tally, results, code, config)
            # Registries, wakers, Arc and the early-drop fix are about orderings between
            # threads: repeat them, so that an ordering that loses a wake once in a
            # hundred runs cannot pass unseen.
            for patterns, runs in STRESS:
                step("stress: %s, %d runs each under --config=%s" % (" ".join(patterns), runs, config))
                results, code = bazel_test(patterns, root=root, config=config,
                                           extra=["--runs_per_test=%d" % runs], log=log)
                _tally_targets(tally, results, code, "stress %s x%d" % (config, runs))

    step("everything builds with clang too (--repo_env=CC=clang)")
    if shutil.which("clang"):
        with open(log, "a") as out_log:
            code = subprocess.call(["bazel", "build", "--keep_going", "--repo_env=CC=clang",
                                    "--platform_suffix=clang", "--", "//lessons/...", "//solutions/...",
                                    "//tools/..."], cwd=root, stdout=out_log, stderr=subprocess.STDOUT)
        tally.add(code == 0, "clang build" if code == 0 else "clang build failed (exit %d); see bazel-check.log" % code)
    else:
        tally.add(False, "clang is not installed (apt-get install clang)")

    if not args.no_lint:
        step("formatting (clang-format, buildifier)")
        _check_format(tally, root, out)

    out.write("\nFinished in %ds. Bazel's full output: bazel-check.log\n" % (time.time() - started))
    if tally.problems:
        out.write("\nWhat failed:\n" + "".join("  - %s\n" % p for p in tally.problems))
    out.write("%d passed, %d failed\n" % (tally.passed, tally.failed))
    return 0 if tally.failed == 0 else 1


def _check_solved_copy(tally, lessons, root, log):
    """Copies the checkout, puts each solution's 'edit' files into its lesson, and runs
    the lessons' tests there: every lesson must then be done. This proves that the files
    the manifest names are all a learner has to change, through the lessons' own BUILD
    files, and that progress says so."""
    tmp = tempfile.mkdtemp(prefix="elfs-solved-")
    try:
        for f in _tracked_files(root):
            os.makedirs(os.path.dirname(os.path.join(tmp, f)), exist_ok=True)
            shutil.copy2(os.path.join(root, f), os.path.join(tmp, f))
        for l in lessons:
            for e in l.edits:
                shutil.copy2(os.path.join(root, l.solution_package, e), os.path.join(tmp, l.package, e))
        results, code = bazel_test(["//lessons/..."], root=tmp, log=log)
        for l in lessons:
            passed, total, status, first = lesson_status(l, results)
            why = "" if status == "done" else ": %s (%d/%d); first failure: %s" % (
                status, passed, total, (first[0].splitlines()[0] if first else "none"))
            tally.add(status == "done", "lesson %s with its reference code copied in%s" % (l.number, why))
    finally:
        with open(log, "a") as out_log:
            subprocess.call(["bazel", "clean", "--expunge"], cwd=tmp, stdout=out_log, stderr=subprocess.STDOUT)
        shutil.rmtree(tmp, ignore_errors=True)


def _tracked_files(root, *patterns):
    proc = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "--"] + list(patterns),
                          cwd=root, capture_output=True, text=True)
    return [f for f in proc.stdout.splitlines() if os.path.isfile(os.path.join(root, f))]


def _check_format(tally, root, out):
    cxx = _tracked_files(root, "*.cc", "*.h")
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
    files = _tracked_files(root, "*.bazel", "*.bzl", "WORKSPACE", "BUILD")
    files = [f for f in files if not f.startswith("tools/bazel/offline/")]
    proc = subprocess.run([buildifier, "--mode=check", "--lint=off"] + files, cwd=root, capture_output=True, text=True)
    tally.add(proc.returncode == 0, "buildifier: " + (proc.stdout + proc.stderr).strip().replace("\n", "; ")[:500]
              if proc.returncode else "buildifier")


# ---------------------------------------------------------------------------------------


def main(argv=None, root=ROOT):
    parser = argparse.ArgumentParser(prog="tools", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("progress", help="run the lessons' tests and show where you stand")
    p = sub.add_parser("hint", help="print a hint for a lesson: hint NN [LEVEL|all]")
    p.add_argument("lesson")
    p.add_argument("level", nargs="?")
    p = sub.add_parser("reset", help="restore a lesson's starter from git (asks first)")
    p.add_argument("lesson")
    p.add_argument("--yes", action="store_true", help="do not ask")
    p = sub.add_parser("diff", help="your code of a lesson against the reference solution")
    p.add_argument("lesson")
    p = sub.add_parser("watch", help="re-run a lesson's tests on every save (ibazel)")
    p.add_argument("lesson", nargs="?")
    p.add_argument("--install", action="store_true", help="only install ibazel")
    sub.add_parser("start", help="build everything and show progress")
    p = sub.add_parser("check", help="the maintainer suite; ends with 'N passed, N failed'")
    p.add_argument("--no-sanitizers", action="store_true")
    p.add_argument("--no-lint", action="store_true")
    args = parser.parse_args(argv)
    commands = {"progress": cmd_progress, "hint": cmd_hint, "reset": cmd_reset, "diff": cmd_diff,
                "watch": cmd_watch, "start": cmd_start, "check": cmd_check}
    try:
        return commands[args.command](args, root=root)
    except UsageError as e:
        sys.stderr.write("error: %s\n" % e)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (./tools/hint 06 | head): stop quietly, and keep
        # Python from complaining again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
