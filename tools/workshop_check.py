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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


from workshop_common import (ROOT, UsageError, bazel_env, bazel_test, lesson_status, load_manifest,  # noqa: F401
                             parse_hints)


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
            subprocess.call(["bazel", "clean", "--expunge"], cwd=tmp, stdout=out_log, stderr=subprocess.STDOUT,
                            env=bazel_env())
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


