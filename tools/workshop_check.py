"""./tools/check, the maintainer suite: the curriculum check (each starter fails exactly
what lessons/manifest.txt lists), the READMEs' quoted output, the solutions under the
sanitizers, a scratch copy that goes green with the reference code, formatting.
Only maintainers read this file; learners never run it. Python 3 standard library only.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import bench
import compile_commands
import measure
from workshop_common import (PROGRESS_ROW, ROOT, UsageError, bazel_env, bazel_test,  # noqa: F401
                             lesson_status, load_manifest, parse_hints, progress_row)


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
                        problems.append("%s still carries a TODO(lesson ...) marker"
                                        % os.path.relpath(os.path.join(dirpath, f), root))
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
            with open(log, errors="replace") as f:
                for line in f:
                    if "where TypeParam = " in line and "(anonymous namespace)" in line:
                        problems.append("lessons/%s:%s prints %r: declare the typed suite's case types in "
                                        "the global namespace, so that gtest names them shortly"
                                        % (lesson, target, line.split("where TypeParam = ", 1)[1].strip()))
                        break
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


# What ./tools/check repeats under each sanitizer, and how often. A pattern whose
# directory does not exist (yet) is left out.
STRESS = [
    (["//solutions/05_registry:all", "//solutions/06_eventfd_waker:all",
      "//solutions/07_kqueue_pipe_waker:all", "//solutions/08_arc:all"], 50),
    (["//solutions/09_early_drop:all"], 200),
    (["//solutions/10_fast_waker:all"], 50),
    (["//solutions/11_event_loop:all"], 50),
    (["//solutions/12_redis_server:all"], 10),
    (["//tests/stress/..."], 20),
]

# The reference code and everything that tests it: solutions, the cross-lesson suites in
# tests/ (contract, stress, fault injection) and the C++ tests under tools/ (the kqueue
# emulation, tools/testing). The tools' own Python tests stay in tools/tests/: they test
# the tools, not the library, and run in their own step (python3 -m unittest).
REFERENCE = ["//solutions/...", "//tests/...", "//tools/..."]

# tests/redis drives the real redis-cli and redis-benchmark. For a learner a missing
# client is a skip; here ./tools/check has installed them (deps.sh --redis), so a
# missing one is a failure.
REQUIRE_REDIS = ["--test_env=ELFS_REQUIRE_REDIS=1"]


def existing(patterns, root):
    """The patterns whose package directory exists in root."""
    return [p for p in patterns if os.path.isdir(os.path.join(root, p.lstrip("/").split(":")[0].replace("/...", "")))]


def lint_build_pairs(lessons, root):
    """lessons/NN/BUILD.bazel and solutions/NN/BUILD.bazel make the same lesson() call:
    they must be byte-identical, or the learner's code is built differently from the one
    that passes the suite."""
    problems = []
    for l in lessons:
        a, b = os.path.join(root, l.package, "BUILD.bazel"), os.path.join(root, l.solution_package, "BUILD.bazel")
        if not (os.path.isfile(a) and os.path.isfile(b)):
            continue  # lint_layout reports a missing file
        with open(a, "rb") as fa, open(b, "rb") as fb:
            ta, tb = fa.read(), fb.read()
        if ta == tb:
            continue
        la, lb = ta.decode(errors="replace").splitlines(), tb.decode(errors="replace").splitlines()
        n = next((i for i in range(min(len(la), len(lb))) if la[i] != lb[i]), min(len(la), len(lb)))
        show = lambda lines: repr(lines[n]) if n < len(lines) else "(end of file)"  # noqa: E731
        problems.append("lesson %s: %s/BUILD.bazel and %s/BUILD.bazel differ; first at line %d: %s vs %s"
                        % (l.number, l.package, l.solution_package, n + 1, show(la), show(lb)))
    return problems


def _readmes(root):
    out = ["README.md"]
    lessons_dir = os.path.join(root, "lessons")
    if os.path.isdir(lessons_dir):
        out += ["lessons/%s/README.md" % d for d in sorted(os.listdir(lessons_dir))]
    docs = os.path.join(root, "docs")
    if os.path.isdir(docs):
        out += ["docs/" + f for f in sorted(os.listdir(docs)) if f.endswith(".md")]
    return [r for r in out if os.path.isfile(os.path.join(root, r))]


def lint_progress_samples(lessons, results, root):
    """A README that quotes a row of ./tools/progress's table must quote it as progress
    prints it: the lesson's real title, and its real number of test cases (from the
    curriculum step's results of the untouched starters)."""
    problems = []
    by_number = {l.number: l for l in lessons}
    for readme in _readmes(root):
        with open(os.path.join(root, readme)) as f:
            lines = f.read().splitlines()
        for i, raw in enumerate(lines):
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


_CHECKPOINT = re.compile(r"Checkpoint ([A-Za-z0-9_.-]+):.*?(\d+) passing, (\d+) failing")


def lint_checkpoint_lines(lessons, root):
    """The README's `Checkpoint NAME: ... P passing, F failing` lines say what the manifest's
    `checkpoint NAME P F` says (which ./tools/check verifies against the real tests)."""
    problems = []
    for l in lessons:
        path = os.path.join(root, l.package, "README.md")
        readme = {}
        if os.path.isfile(path):
            with open(path) as f:
                for i, text in enumerate(f.read().splitlines()):
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


def checkpoint_patch(lesson, name):
    """Where a checkpoint's patch lives. It turns the starter into the code after that step,
    and is made with `git diff -U0` from a copy that keeps every TODO(lesson NN) comment:
    no context lines, so it carries none of the starter's TODO markers into solutions/
    (it is applied with --unidiff-zero; the counts catch one that lands wrong)."""
    return os.path.join(lesson.solution_package, "checkpoints", name + ".patch")


def count_cases(lesson, results):
    """(passing, failing, problem) over every test case of the lesson's package."""
    passing = failing = 0
    mine = [r for label, r in sorted(results.items()) if label.startswith("//" + lesson.package + ":")]
    if not mine:
        return 0, 0, "no test results (does it build?)"
    for r in mine:
        if r.status == "FAILED_TO_BUILD":
            return 0, 0, "%s does not build" % r.label
        if r.crashed:
            return 0, 0, "%s crashed: %s" % (r.label, r.crashed)
        for ok, _ in r.cases.values():
            if ok:
                passing += 1
            else:
                failing += 1
    return passing, failing, None


def check_checkpoints(tally, lessons, tmp, log, root):
    """In the scratch copy tmp (untouched starters): for each checkpoint, apply its patch,
    run the lesson's tests, compare the counts with the manifest, and revert."""
    for l in lessons:
        for name, want_p, want_f, n in l.checkpoints:
            patch = os.path.join(root, checkpoint_patch(l, name))
            what = "lesson %s checkpoint %s" % (l.number, name)
            if not os.path.isfile(patch):
                continue  # lint_checkpoint_lines reports it
            proc = subprocess.run(["git", "apply", "--unidiff-zero", "--whitespace=nowarn", patch], cwd=tmp,
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                tally.add(False, "%s: %s does not apply to the starter: %s"
                          % (what, checkpoint_patch(l, name), proc.stderr.strip().splitlines()[:1]))
                continue
            try:
                results, _ = bazel_test(["//%s:all" % l.package], root=tmp, log=log)
                p, f, problem = count_cases(l, results)
                if problem:
                    tally.add(False, "%s: %s" % (what, problem))
                else:
                    tally.add((p, f) == (want_p, want_f),
                              "%s: %d passing, %d failing (lessons/manifest.txt:%d says %d passing, %d failing)"
                              % (what, p, f, n, want_p, want_f))
            finally:
                rev = subprocess.run(["git", "apply", "-R", "--unidiff-zero", "--whitespace=nowarn", patch], cwd=tmp,
                                     capture_output=True, text=True)
                if rev.returncode != 0:
                    raise RuntimeError("could not revert %s in %s: %s" % (patch, tmp, rev.stderr))


SANITIZER_FIXTURES = "tools/testing/sanitizer_fixtures"


def check_sanitizer_lines(tally, root, log):
    """Each sanitizer's report names the file and line of the bug (issue: frames showed
    `<null>` while the configs stripped symbols). The fixtures fail by design."""
    for config, name, marker in (("tsan", "data_race", "The racing write"),
                                 ("asan", "use_after_free", "The read of freed memory")):
        with open(os.path.join(root, SANITIZER_FIXTURES, name + ".cc")) as f:
            line = next(i + 1 for i, text in enumerate(f) if marker in text)
        want = "%s.cc:%d" % (name, line)
        proc = subprocess.run(["bazel", "test", "--config=" + config, "--test_output=errors",
                               "//%s:%s" % (SANITIZER_FIXTURES, name)], cwd=root, capture_output=True,
                              text=True, env=bazel_env())
        output = proc.stdout + proc.stderr
        with open(log, "a") as out_log:
            out_log.write(output)
        if proc.returncode == 0:
            tally.add(False, "--config=%s did not catch the bug in %s/%s.cc" % (config, SANITIZER_FIXTURES, name))
        elif proc.returncode != 3:
            tally.add(False, "--config=%s: //%s:%s did not build or run (exit %d); see bazel-check.log"
                      % (config, SANITIZER_FIXTURES, name, proc.returncode))
        else:
            tally.add(want in output, "--config=%s report names %s" % (config, want) if want in output else
                      "--config=%s report does not name %s (symbols stripped? .bazelrc's %s config needs -g "
                      "and --strip=never); see bazel-check.log" % (config, want, config))


def count_executed_actions(bazel_output):
    """The number of actions Bazel ran, from its "INFO: 96 processes: 14 internal,
    82 linux-sandbox." line: every process that is not internal (internal ones are
    Bazel's own bookkeeping, such as symlink trees)."""
    m = re.search(r"INFO: (\d+) process(?:es)?(?:: (.*?))?\.?$", bazel_output, flags=re.M)
    if not m:
        return None
    internal = re.search(r"(\d+) internal", m.group(2) or "")
    return int(m.group(1)) - (int(internal.group(1)) if internal else 0)


def check_stable_env(tally, root, log):
    """A different PATH (a pyenv shim, a venv) must not make Bazel rebuild anything:
    build, then build again with a fake directory in front of PATH, and count the actions."""
    target = "//lessons/01_fd:all"
    env = bazel_env()
    subprocess.run(["bazel", "build", target], cwd=root, env=env, capture_output=True)
    fake = tempfile.mkdtemp(prefix="elfs-fake-path-")
    try:
        env2 = dict(env, PATH=fake + os.pathsep + env.get("PATH", ""))
        proc = subprocess.run(["bazel", "build", target], cwd=root, env=env2, capture_output=True, text=True)
    finally:
        shutil.rmtree(fake, ignore_errors=True)
    with open(log, "a") as f:
        f.write("\n$ PATH=%s:$PATH bazel build %s\n%s" % (fake, target, proc.stderr))
    n = count_executed_actions(proc.stderr)
    if proc.returncode != 0 or n is None:
        tally.add(False, "stable action environment: the second build of %s failed or printed no process count; "
                  "see bazel-check.log" % target)
    else:
        tally.add(n == 0, "stable action environment: %d action(s) ran again after only PATH changed "
                  "(expected 0: .bazelrc needs build --incompatible_strict_action_env)" % n if n else
                  "stable action environment: a changed PATH rebuilds nothing")


# Files clangd must parse without an error with the compile_commands.json that
# ./tools/compile_commands writes: a lesson, a solution, a cross-lesson test (gtest and
# loop/loop.h) and the header-only //:loop.
CLANGD_FILES = ["lessons/05_registry/registry.cc", "solutions/09_early_drop/waker.cc",
                "tests/contract/final_waker_contract_test.cc", "loop/loop.h"]


def check_editor(tally, root, log):
    """./tools/compile_commands into a scratch directory, then `clangd --check` on
    CLANGD_FILES with it: each must report "All checks completed, 0 errors"."""
    clangd = shutil.which("clangd")
    if not clangd:
        tally.add(False, "clangd is not installed (apt-get install clangd)")
        return
    tmp = tempfile.mkdtemp(prefix="elfs-compile-commands-")
    try:
        try:
            _, entries, _ = compile_commands.generate(root, output=os.path.join(tmp, compile_commands.OUTPUT))
        except UsageError as e:
            tally.add(False, "tools/compile_commands: %s" % e)
            return
        missing = compile_commands.missing_include_dirs(entries)
        tally.add(not missing, "tools/compile_commands: %d include directories do not exist, e.g. %s"
                  % (len(missing), missing[0]) if missing else "tools/compile_commands")
        for f in CLANGD_FILES:
            if not os.path.exists(os.path.join(root, f)):
                continue
            # --check-lines=1: the whole file is parsed, but clangd 14's per-token feature
            # tests (which crash on some gtest macros) run on line 1 only.
            proc = subprocess.run([clangd, "--compile-commands-dir=" + tmp, "--check=" + os.path.join(root, f),
                                   "--check-lines=1"], cwd=root, capture_output=True, text=True)
            with open(log, "a") as out_log:
                out_log.write("\n$ clangd --check=%s\n%s" % (f, proc.stderr))
            m = re.search(r"All checks completed, (\d+) errors", proc.stderr)
            errors = [l.split("] ", 1)[-1] for l in proc.stderr.splitlines() if l.startswith("E[")]
            ok = proc.returncode == 0 and m is not None and m.group(1) == "0"
            tally.add(ok, "clangd --check=%s" % f if ok else
                      "clangd --check=%s with the generated compile_commands.json: %s (exit %d)%s; see bazel-check.log"
                      % (f, "%s errors" % m.group(1) if m else "did not finish", proc.returncode,
                         ": " + "; ".join(errors[:3]) if errors else ""))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


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
    problems = lint_checkpoint_lines(lessons, root)
    for p in problems:
        tally.add(False, p)
    if not problems:
        tally.add(True, "README checkpoint lines match lessons/manifest.txt")
    problems = measure.lint_measured(root)
    for p in problems:
        tally.add(False, p)
    if not problems:
        tally.add(True, "measured figures quoted in the docs match docs/measurements.json (tools/measure)")

    step("lessons/NN/BUILD.bazel and solutions/NN/BUILD.bazel are identical")
    problems = lint_build_pairs(lessons, root)
    for p in problems:
        tally.add(False, p)
    if lessons and not problems:
        tally.add(True, "every lesson's two BUILD.bazel files are identical")

    step("a changed PATH rebuilds nothing (--incompatible_strict_action_env)")
    check_stable_env(tally, root, log)

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

    reference = existing(REFERENCE, root)
    step("every solution and tool test (bazel test %s)" % " ".join(reference))
    results, code = bazel_test(reference, root=root, log=log, extra=REQUIRE_REDIS)
    _tally_targets(tally, results, code, "solutions")

    step("editors: tools/compile_commands, then clangd --check on %d files" % len(CLANGD_FILES))
    check_editor(tally, root, log)

    step("benchmarks build, run and parse (./tools/bench --quick: tests/benchmarks, -c opt, a tiny min_time)")
    with open(log, "a") as bench_log:
        for ok, what in bench.quick_check(root, out=bench_log):
            tally.add(ok, what)

    step("curriculum: each starter fails exactly its listed tests (bazel test //lessons/...)")
    results, code = bazel_test(["//lessons/..."], root=root, log=log)
    for l in lessons:
        problems = compare_starter(l, results)
        for p in problems:
            tally.add(False, p)
        if not problems:
            tally.add(True, "lesson %s starter" % l.number)
    problems = lint_type_names(root)
    for p in problems:
        tally.add(False, p)
    if not problems:
        tally.add(True, "typed suites name their cases without (anonymous namespace)")
    problems = lint_progress_samples(lessons, results, root)
    for p in problems:
        tally.add(False, p)
    if not problems:
        tally.add(True, "progress tables quoted in READMEs match the real totals")

    step("checkpoints, then a learner who writes the reference code goes green (a scratch copy of the checkout)")
    _check_solved_copy(tally, lessons, root, log, sanitizers=not args.no_sanitizers)

    if not args.no_sanitizers:
        step("sanitizer reports name the file and line (tools/testing/sanitizer_fixtures)")
        check_sanitizer_lines(tally, root, log)
        for config in ("asan", "tsan"):
            step("%s under --config=%s" % (" ".join(reference), config))
            results, code = bazel_test(reference, root=root, config=config, log=log, extra=REQUIRE_REDIS)
            _tally_targets(tally, results, code, config)
            # Registries, wakers, Arc and the early-drop fix are about orderings between
            # threads: repeat them, so that an ordering that loses a wake once in a
            # hundred runs cannot pass unseen.
            for patterns, runs in STRESS:
                patterns = existing(patterns, root)
                if not patterns:
                    continue
                step("stress: %s, %d runs each under --config=%s" % (" ".join(patterns), runs, config))
                results, code = bazel_test(patterns, root=root, config=config,
                                           extra=["--runs_per_test=%d" % runs], log=log)
                _tally_targets(tally, results, code, "stress %s x%d" % (config, runs))

    step("everything builds with clang too (--repo_env=CC=clang)")
    if shutil.which("clang"):
        with open(log, "a") as out_log:
            code = subprocess.call(["bazel", "build", "--keep_going", "--repo_env=CC=clang",
                                    "--platform_suffix=clang", "--", "//lessons/...", "//solutions/...",
                                    "//tools/..."], cwd=root, stdout=out_log, stderr=subprocess.STDOUT,
                                   env=bazel_env())
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


def _check_solved_copy(tally, lessons, root, log, sanitizers=True):
    """Copies the checkout, checks each checkpoint patch on the starters, then puts each solution's 'edit' files into its lesson, and runs
    the lessons' tests there: every lesson must then be done. This proves that the files
    the manifest names are all a learner has to change, through the lessons' own BUILD
    files, and that progress says so."""
    tmp = tempfile.mkdtemp(prefix="elfs-solved-")
    try:
        for f in _tracked_files(root):
            os.makedirs(os.path.dirname(os.path.join(tmp, f)), exist_ok=True)
            shutil.copy2(os.path.join(root, f), os.path.join(tmp, f))
        # Checkpoints first, on the untouched starters, in the same copy (one cold build).
        check_checkpoints(tally, lessons, tmp, log, root)
        for l in lessons:
            for e in l.edits:
                shutil.copy2(os.path.join(root, l.solution_package, e), os.path.join(tmp, l.package, e))
        results, code = bazel_test(["//lessons/..."], root=tmp, log=log)
        for l in lessons:
            passed, total, status, first = lesson_status(l, results)
            why = "" if status == "done" else ": %s (%d/%d); first failure: %s" % (
                status, passed, total, (first[0].splitlines()[0] if first else "none"))
            tally.add(status == "done", "lesson %s with its reference code copied in%s" % (l.number, why))
        if sanitizers:
            check_sanitizer_quotes(tally, tmp, log, root)
    finally:
        with open(log, "a") as out_log:
            subprocess.call(["bazel", "clean", "--expunge"], cwd=tmp, stdout=out_log, stderr=subprocess.STDOUT,
                            env=bazel_env())
        shutil.rmtree(tmp, ignore_errors=True)


_SANITIZER_OUTPUT = re.compile(r"<!-- sanitizer-output (asan|tsan) (//\S+) (\S+\.patch) -->")


def sanitizer_quotes(root):
    """[(readme, line, config, target, patch, quoted lines)] for each README block marked
    `<!-- sanitizer-output CONFIG TARGET PATCH -->`: what the sanitizer prints for the
    reference code with PATCH applied (a deliberate bug)."""
    found = []
    for readme in _readmes(root):
        with open(os.path.join(root, readme)) as f:
            lines = f.read().splitlines()
        for i, text in enumerate(lines):
            m = _SANITIZER_OUTPUT.search(text)
            if not m or i + 1 >= len(lines) or not lines[i + 1].startswith("```"):
                continue
            end = next((j for j in range(i + 2, len(lines)) if lines[j].startswith("```")), len(lines))
            found.append((readme, i + 1, m.group(1), m.group(2), m.group(3), lines[i + 2:end]))
    return found


def _normalize_report(text):
    text = re.sub(r"0x[0-9a-f]+", "0x?", text)
    text = re.sub(r"\b(pid|tid)=\d+", r"\1=?", text)
    return re.sub(r"\bT\d+\b", "T?", text)


def unmatched_quote_line(quote, output):
    """The first quoted line that the output does not have, in order, or None. `...` in a
    line stands for anything; a line that is only `...` stands for lines cut out."""
    out = [_normalize_report(l) for l in output.splitlines()]
    at = 0
    for q in quote:
        if q.strip() == "..." or not q.strip():
            continue
        parts = [p.strip() for p in _normalize_report(q).split("...") if p.strip()]
        while at < len(out):
            pos, ok = 0, True
            for part in parts:
                pos = out[at].find(part, pos)
                if pos < 0:
                    ok = False
                    break
                pos += len(part)
            at += 1
            if ok:
                break
        else:
            return q
    return None


def check_sanitizer_quotes(tally, tmp, log, root):
    """In the scratch copy tmp (reference code in place): each quoted sanitizer report is
    what the sanitizer really prints for its patch."""
    for readme, n, config, target, patch, quote in sanitizer_quotes(root):
        what = "%s:%d (the --config=%s report for %s)" % (readme, n, config, patch)
        proc = subprocess.run(["git", "apply", "--whitespace=nowarn", os.path.join(root, patch)], cwd=tmp,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            tally.add(False, "%s: the patch does not apply to the reference code: %s"
                      % (what, proc.stderr.strip().splitlines()[:1]))
            continue
        try:
            run = subprocess.run(["bazel", "test", "--config=" + config, "--test_output=errors", target], cwd=tmp,
                                 capture_output=True, text=True, env=bazel_env())
            with open(log, "a") as out_log:
                out_log.write(run.stdout + run.stderr)
        finally:
            subprocess.run(["git", "apply", "-R", "--whitespace=nowarn", os.path.join(root, patch)], cwd=tmp,
                           capture_output=True, text=True, check=True)
        missing = unmatched_quote_line(quote, run.stdout + run.stderr)
        tally.add(missing is None, "%s matches the real report" % what if missing is None else
                  "%s: the real report has no line like %r (in this order); quote what it prints now"
                  % (what, missing.strip()))


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


