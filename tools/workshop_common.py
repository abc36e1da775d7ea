"""What every workshop command shares: the manifest (lessons/manifest.txt), running Bazel,
and reading its test results. Read by both the learner's commands (workshop.py) and the
maintainer suite (check_suite.py and its check_*.py modules). Python 3 standard library only.

Names that start with ELFS_ or elfs- (environment variables such as ELFS_SHELL_PATH, temp
directories such as elfs-bep-*) are this project's: ELFS is "Event Loop From Scratch".
"""

import json
import os
import re
import subprocess
import tempfile
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
        self.edits = []  # the files the learner edits, relative to lessons/<dir>
        self.refs = {}  # edit -> the repo-relative reference file it becomes
        self.fails = []  # (target, "Suite.Case")
        self.checkpoints = []  # (name, passing, failing, manifest line)

    @property
    def package(self):
        return "lessons/" + self.dir

    @property
    def solutions_dir(self):
        """solutions/<dir>: the lesson's checkpoint and quote patches, and the reference
        files of a stage the library outgrows (no Bazel package: no BUILD file)."""
        return "solutions/" + self.dir

    def reference(self, edit):
        """The repo-relative reference file that `edit` (a file of lessons/<dir>) becomes:
        "loop/fd.cc" for lesson 01's "fd.cc"."""
        return self.refs[edit]

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
        elif words[0] == "checkpoint":
            if not lessons:
                raise UsageError(where + ": 'checkpoint' before any 'lesson' line")
            if len(words) != 4 or not words[2].isdigit() or not words[3].isdigit() \
                    or not re.fullmatch(r"[A-Za-z0-9_.-]+", words[1]):
                raise UsageError(where + ": expected 'checkpoint NAME PASSING FAILING' (two numbers of test "
                                 "cases), got: " + raw.strip())
            if any(c[0] == words[1] for c in lessons[-1].checkpoints):
                raise UsageError(where + ": checkpoint %s is listed twice" % words[1])
            lessons[-1].checkpoints.append((words[1], int(words[2]), int(words[3]), n))
        elif words[0] in ("edit", "fail"):
            if not lessons:
                raise UsageError(where + ": '%s' before any 'lesson' line" % words[0])
            if words[0] == "edit":
                if len(words) != 3:
                    raise UsageError(where + ": expected 'edit FILE REF' (REF: the repo-relative file it "
                                     "becomes, e.g. 'edit fd.cc loop/fd.cc'), got: " + raw.strip())
                file, ref = words[1], words[2]
                for what, path in (("FILE", file), ("REF", ref)):
                    if os.path.isabs(path) or ".." in path.split("/"):
                        raise UsageError(where + ": %s must be a relative path inside the checkout, got %r"
                                         % (what, path))
                if file in lessons[-1].refs:
                    raise UsageError(where + ": 'edit %s' is listed twice" % file)
                lessons[-1].edits.append(file)
                lessons[-1].refs[file] = ref
            else:
                if len(words) != 3 or "." not in words[2]:
                    raise UsageError(where + ": expected 'fail TARGET Suite.Case', got: " + raw.strip())
                case = (words[1], words[2])
                if case in lessons[-1].fails:
                    raise UsageError(where + ": %s %s is listed twice" % case)
                lessons[-1].fails.append(case)
        else:
            raise UsageError(where + ": unknown keyword %r (expected lesson, edit, fail or checkpoint)" % words[0])
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
        self.logs = []  # the test.log of each run

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
    skipped = set()
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
                if ev.get("aborted", {}).get("reason") == "SKIPPED":
                    skipped.add(label)  # incompatible here (a Linux-only test on a Mac): not a failure
                    continue
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
            r.logs.append(os.path.join(os.path.dirname(p), "test.log"))
            for case, outcome in cases.items():  # with --runs_per_test, a failure in any run counts
                if case not in r.cases or r.cases[case][0]:
                    r.cases[case] = outcome
            if crashed:
                r.crashed = crashed
    for label in skipped:
        results.pop(label, None)
    return results


def bazel_env():
    """The environment to start Bazel with: the learner's shell's, not this Python's.

    A pyenv shim or a venv puts entries in front of PATH for the Python process only.
    The tools/* scripts save the shell's PATH in ELFS_SHELL_PATH (ELFS: Event Loop From
    Scratch) before they start
    Python, and Bazel gets that back, so `./tools/progress` and a plain `bazel` in the
    same shell look the same to Bazel. (.bazelrc's --incompatible_strict_action_env keeps
    PATH out of the actions anyway; this also keeps the repository rules and the Bazel
    server's client environment identical.)"""
    env = dict(os.environ)
    shell_path = env.pop("ELFS_SHELL_PATH", None)
    if shell_path:
        env["PATH"] = shell_path
    return env


def _run_bazel(cmd, root, log, quiet):
    out = open(log, "a") if log else None
    try:
        if out:
            out.write("\n$ " + " ".join(cmd) + "\n")
            out.flush()
            sink = {"stdout": out, "stderr": subprocess.STDOUT}
        elif quiet:
            sink = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        else:
            sink = {}
        return subprocess.call(cmd, cwd=root, env=bazel_env(), **sink)
    finally:
        if out:
            out.close()


def _read_events(bep):
    events = []
    try:
        with open(bep) as f:
            for line in f:
                if line.strip():
                    events.append(json.loads(line))
    except (OSError, ValueError):
        pass
    return events


def bazel_build_tests(patterns, root=ROOT, log=None, quiet=True):
    """Runs `bazel build --keep_going` and returns ({test label: binary path or None if it
    failed to build}, exit code). Only test rules are returned."""
    fd, bep = tempfile.mkstemp(prefix="elfs-bep-", suffix=".json")
    os.close(fd)
    try:
        code = _run_bazel(["bazel", "build", "--keep_going", "--build_event_json_file=" + bep, "--"]
                          + list(patterns), root, log, quiet)
        events = _read_events(bep)
    finally:
        try:
            os.remove(bep)
        except OSError:
            pass
    return tests_from_build_events(events, root), code


def tests_from_build_events(events, root):
    tests, built = set(), {}
    for ev in events:
        eid = ev.get("id", {})
        if "targetConfigured" in eid:
            configured = ev.get("configured", {})
            if configured.get("testSize") or configured.get("targetKind", "").endswith("_test rule"):
                tests.add(eid["targetConfigured"]["label"])
        elif "targetCompleted" in eid:
            label = eid["targetCompleted"]["label"]
            completed = ev.get("completed", {})
            if ev.get("aborted") or not completed.get("success", False):
                built[label] = None
                continue
            binary = os.path.join(root, "bazel-bin", *label.lstrip("/").replace(":", "/").split("/"))
            for o in completed.get("importantOutput", []):
                uri = o.get("uri", "")
                if uri.startswith("file://") and not uri.endswith((".sh", ".runfiles")):
                    binary = uri[len("file://"):]
                    break
            built[label] = binary
    return {label: built.get(label) for label in sorted(tests)}


def bazel_test(patterns, root=ROOT, config=None, extra=(), log=None, quiet=True):
    """Runs `bazel test --keep_going` and returns {label: TargetResult} and the exit code."""
    fd, bep = tempfile.mkstemp(prefix="elfs-bep-", suffix=".json")
    os.close(fd)
    cmd = ["bazel", "test", "--keep_going", "--build_event_json_file=" + bep,
           "--test_output=summary" if quiet else "--test_output=errors"]
    if config:
        cmd.append("--config=" + config)
    cmd += list(extra) + ["--"] + list(patterns)
    code = _run_bazel(cmd, root, log, quiet)
    results = _bep_results(bep, root) if os.path.getsize(bep) else {}
    try:
        os.remove(bep)
    except OSError:
        pass
    return results, code


# ---------------------------------------------------------------------------------------
# Progress.


# The width of the table's title column: the longest title in lessons/manifest.txt (lesson
# 12's, 54 characters), so that no title is cut; tools/tests/test_workshop.py checks that
# every title fits.
TITLE_WIDTH = 54

PROGRESS_HEADER = ("  #   %-*s  tests   status" % (TITLE_WIDTH, "lesson"),
                   "  --  %s  ------  --------------" % ("-" * TITLE_WIDTH))


def progress_row(lesson, passed, total, status, current=False):
    """One row of ./tools/progress's table (READMEs quote it; ./tools/check lints them)."""
    return "%s%s  %-*s  %2d/%-3d  %s" % ("->" if current else "  ", lesson.number, TITLE_WIDTH,
                                         lesson.title[:TITLE_WIDTH], passed, total, status)


# "->01  Owning a file descriptor  ...   4/17   not started", as progress_row writes it.
PROGRESS_ROW = re.compile(r"^(->|  )(\d\d)  (.{%d})  ([ \d]\d+)/(\d+ *)  (done|not started|in progress|"
                          r"does not build|no tests)$" % TITLE_WIDTH)


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


# ---------------------------------------------------------------------------------------
# Hints, reset, diff.


def parse_hints(text):
    """Returns [(title, body)] for each '## Hint N: title' section, in order."""
    hints = []
    for m in re.finditer(r"^## Hint (\d+)[^\n]*\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S):
        hints.append((m.group(0).splitlines()[0][3:].strip(), m.group(2).strip()))
    return hints


