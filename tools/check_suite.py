#!/usr/bin/env python3
"""./tools/check, the maintainer suite: one function per step, and STEPS lists them in the
order they run (like rustlings' `dev check`). Learners never run it.

The suite is split into six modules:

    check_suite.py    this file: the entry point, the steps, the tally
    check_lint.py     lints that only read files: layout, manifest references, README quotes,
                      formatting; and the comparison of test results with the manifest
    check_bazel.py    checks that ask Bazel in the checkout itself: layering (bazel query),
                      a stable action environment, editors (clangd), sanitizer fixtures
    check_scratch.py  the scratch copy of the checkout: checkpoint patches on the starters,
                      then every manifest REF copied over its FILE and //lessons/... run
                      there (plainly, with clang, under ASan and TSan, and repeated)
    check_quotes.py   README blocks that quote real output (test-output and sanitizer-output
                      markers), how a quote is compared with a run, and the lint that finds
                      a quoted test message nothing checks
    check_platforms.py  docs/platforms.md (what runs on macOS), the BUILD files' Linux-only
                      marks and the macOS job of .github/workflows/check.yml agree

The library and the cross-lesson suites (//loop/... //tests/...) are tested in the checkout;
the reference code of the lessons only in the scratch copy. The last line printed is
"N passed, N failed"; the exit status is non-zero on any failure.

    ./tools/check [--no-sanitizers] [--no-lint] [--no-container] [--only STEP ...]

Python 3 standard library only.
"""

import argparse
import collections
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench  # noqa: E402
import check_bazel  # noqa: E402
import check_lint  # noqa: E402
import check_platforms  # noqa: E402
import check_scratch  # noqa: E402
import measure  # noqa: E402
from workshop_common import ROOT, UsageError, bazel_test, load_manifest  # noqa: E402

# The library and the cross-lesson suites (contract, stress, fault injection, the kqueue
# emulation's conformance, tests/support), tested in the checkout itself. A pattern whose
# directory does not exist (yet) is left out. The tools' own Python tests are a step of
# their own (python3 -m unittest).
LIBRARY = ["//loop/...", "//tests/..."]

# Repeated under each sanitizer in the checkout (the lessons' repetitions are in the
# scratch copy: check_scratch.STRESS).
LIBRARY_STRESS = [(["//tests/stress/..."], 20)]

# tests/redis drives the real redis-cli and redis-benchmark. For a learner a missing
# client is a skip; here ./tools/check has installed them (deps.sh --redis), so a
# missing one is a failure. (ELFS: Event Loop From Scratch.)
REQUIRE_REDIS = ["--test_env=ELFS_REQUIRE_REDIS=1"]


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

    def add_problems(self, problems, success=None):
        """One failure per problem; with none, one pass saying `success` (if given)."""
        for p in problems:
            self.add(False, p)
        if not problems and success:
            self.add(True, success)


class Context:
    """What the steps share: the checkout, the log, the tally, the manifest, the results of
    the starters' run, and the scratch copy (made when a step first asks for it)."""

    def __init__(self, root, out, args):
        self.root, self.out, self.args = root, out, args
        self.log = os.path.join(root, "bazel-check.log")
        open(self.log, "w").close()
        self.tally = Tally(out)
        self.started = time.time()
        self.starter_results = {}
        self._lessons = None
        self._scratch = None

    def section(self, title):
        self.out.write("\n== %s (%ds)\n" % (title, time.time() - self.started))
        self.out.flush()

    @property
    def lessons(self):
        if self._lessons is None:
            try:
                self._lessons = load_manifest(self.root)
                self.tally.add(True, "manifest parses")
            except UsageError as e:
                self.tally.add(False, str(e))
                self._lessons = []
        return self._lessons

    def scratch(self):
        if self._scratch is None:
            self._scratch = check_scratch.ScratchCopy(self.root, self.log)
        return self._scratch

    def close_scratch(self):
        if self._scratch is not None:
            self._scratch.close()
            self._scratch = None


# ---------------------------------------------------------------------------------------
# The steps, in the order STEPS lists them.


def step_manifest(ctx):
    lessons = ctx.lessons
    ctx.tally.add_problems(check_lint.lint_layout(lessons, ctx.root), lessons and
                           "every lesson has README.md, HINTS.md and BUILD.bazel, every edit and its reference "
                           "exist, solutions/ holds only named files")
    ctx.tally.add_problems(check_lint.lint_checkpoint_lines(lessons, ctx.root),
                           "README checkpoint lines match lessons/manifest.txt")
    ctx.tally.add_problems(measure.lint_measured(ctx.root),
                           "measured figures quoted in the docs match docs/measurements.json (tools/measure)")
    ctx.tally.add_problems(check_platforms.lint_platforms(ctx.root),
                           "docs/platforms.md, the BUILD files' Linux-only marks and the macOS job of "
                           ".github/workflows/check.yml agree on what runs on macOS")


def step_layering(ctx):
    check_bazel.check_layering(ctx.tally, ctx.root)


def step_stable_env(ctx):
    check_bazel.check_stable_env(ctx.tally, ctx.root, ctx.log)


def step_tool_tests(ctx):
    proc = subprocess.run([sys.executable, "-m", "unittest", "discover", "-s", os.path.join(ctx.root, "tools", "tests"),
                           "-p", "test_*.py"], cwd=ctx.root, capture_output=True, text=True)
    m = re.search(r"Ran (\d+) test", proc.stderr)
    ran = int(m.group(1)) if m else 0
    fails = re.search(r"FAILED \((?:failures=(\d+))?(?:, )?(?:errors=(\d+))?", proc.stderr)
    nbad = (int(fails.group(1) or 0) + int(fails.group(2) or 0)) if fails else (0 if proc.returncode == 0 else 1)
    for _ in range(ran - nbad):
        ctx.tally.add(True, "tool test")
    for _ in range(nbad):
        ctx.tally.add(False, "tools/tests: a tool test failed (output below)")
    if proc.returncode != 0:
        ctx.out.write(proc.stderr[-4000:] + "\n")


def step_room(ctx):
    """tools/tests/room_e2e.py: ./tools/room served, reported to and drawn by headless chromium;
    one tally entry per test case."""
    import room_client
    if not room_client.find_chromium():
        ctx.tally.add(False, "room: chromium is missing (tools/lib/deps.sh --maintainer installs it: "
                             "apt-get install chromium)")
        return
    try:
        proc = subprocess.run([sys.executable, os.path.join(ctx.root, "tools", "tests", "room_e2e.py"), "-v"],
                              cwd=ctx.root, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        ctx.tally.add(False, "room: tools/tests/room_e2e.py did not finish within 600 s")
        return
    cases = re.findall(r"^(\w+) \(\S+\) \.\.\. (ok|FAIL|ERROR|skipped.*)$", proc.stderr, re.M)
    for name, verdict in cases:
        ctx.tally.add(verdict == "ok", "room: %s (%s)" % (name, verdict))
    if proc.returncode != 0 or not cases:
        if all(v == "ok" for _, v in cases):
            ctx.tally.add(False, "room: tools/tests/room_e2e.py exited with %d" % proc.returncode)
        ctx.out.write(proc.stderr[-4000:] + "\n")


def step_library(ctx):
    results, code = bazel_test(check_bazel.existing(LIBRARY, ctx.root), root=ctx.root, log=ctx.log,
                               extra=REQUIRE_REDIS)
    check_bazel.tally_targets(ctx.tally, results, code, "library")


def step_editor(ctx):
    check_bazel.check_editor(ctx.tally, ctx.root, ctx.log)


def step_bench(ctx):
    with open(ctx.log, "a") as bench_log:
        for ok, what in bench.quick_check(ctx.root, out=bench_log):
            if ok is None:  # a skip (the mio peer without cargo or mio): neither a pass nor a failure
                ctx.out.write("  SKIP %s\n" % what)
            else:
                ctx.tally.add(ok, what)


def step_curriculum(ctx):
    results, _ = bazel_test(["//lessons/..."], root=ctx.root, log=ctx.log)
    ctx.starter_results = results
    for l in ctx.lessons:
        ctx.tally.add_problems(check_lint.compare_starter(l, results), "lesson %s starter" % l.number)
    ctx.tally.add_problems(check_lint.lint_type_names(ctx.root),
                           "typed suites name their cases without (anonymous namespace)")
    ctx.tally.add_problems(check_lint.lint_progress_samples(ctx.lessons, results, ctx.root),
                           "progress tables quoted in READMEs match the real totals")


def step_checkpoints(ctx):
    scratch = ctx.scratch()
    if scratch.references_in:
        ctx.tally.add(False, "checkpoints: the scratch copy already holds the reference code")
        return
    check_scratch.check_checkpoints(ctx.tally, ctx.lessons, scratch.path, ctx.log, ctx.root)


def step_solved(ctx):
    scratch = ctx.scratch()
    scratch.copy_references(ctx.lessons)
    check_scratch.check_solved(ctx.tally, ctx.lessons, scratch.path, ctx.log)


def step_experiments(ctx):
    scratch = ctx.scratch()
    scratch.copy_references(ctx.lessons)
    check_scratch.check_experiments(ctx.tally, ctx.lessons, scratch.path, ctx.log, ctx.root, ctx.out)


def step_solved_clang(ctx):
    scratch = ctx.scratch()
    scratch.copy_references(ctx.lessons)
    check_bazel.clang_build(ctx.tally, scratch.path, ctx.log, ["//lessons/..."],
                            "//lessons/... with the references copied in")


def step_output_quotes(ctx):
    scratch = ctx.scratch()
    scratch.copy_references(ctx.lessons)
    check_scratch.check_output_quotes(ctx.tally, scratch.path, ctx.log, ctx.root, sanitizers=False)


def step_sanitizer_quotes(ctx):
    scratch = ctx.scratch()
    scratch.copy_references(ctx.lessons)
    check_scratch.check_output_quotes(ctx.tally, scratch.path, ctx.log, ctx.root, sanitizers=True)


def _solved_under(config):
    def step(ctx):
        scratch = ctx.scratch()
        scratch.copy_references(ctx.lessons)
        check_scratch.check_lessons_under(ctx.tally, ctx.lessons, scratch.path, ctx.log, config, ctx.section)
    return step


def step_sanitizer_fixtures(ctx):
    check_bazel.check_sanitizer_lines(ctx.tally, ctx.root, ctx.log)


def _library_under(config):
    def step(ctx):
        library = check_bazel.existing(LIBRARY, ctx.root)
        results, code = bazel_test(library, root=ctx.root, config=config, log=ctx.log, extra=REQUIRE_REDIS)
        check_bazel.tally_targets(ctx.tally, results, code, "library %s" % config)
        for patterns, runs in LIBRARY_STRESS:
            patterns = check_bazel.existing(patterns, ctx.root)
            if not patterns:
                continue
            ctx.section("stress: %s, %d runs each under --config=%s" % (" ".join(patterns), runs, config))
            results, code = bazel_test(patterns, root=ctx.root, config=config, log=ctx.log,
                                       extra=["--runs_per_test=%d" % runs])
            check_bazel.tally_targets(ctx.tally, results, code, "stress %s x%d" % (config, runs))
    return step


def step_clang(ctx):
    patterns = check_bazel.existing(LIBRARY + ["//lessons/..."], ctx.root)
    check_bazel.clang_build(ctx.tally, ctx.root, ctx.log, patterns, " ".join(patterns))


def step_format(ctx):
    check_lint.check_format(ctx.tally, ctx.root)


DEVCONTAINER_DEADLINE = 40 * 60  # measured: about 7 minutes from nothing (no image, no cache)


def step_devcontainer(ctx):
    """./tools/devcontainer-test: one tally entry per check it prints ("  ok   ..." or
    "  FAIL ..."), its phase times in the output."""
    cmd = [os.path.join(ctx.root, "tools", "devcontainer-test")]
    proc = subprocess.Popen(cmd, cwd=ctx.root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = proc.communicate(timeout=DEVCONTAINER_DEADLINE)
    except subprocess.TimeoutExpired:
        proc.terminate()  # it stops its containers and the dockerd it started on SIGTERM
        out, _ = proc.communicate(timeout=120)
        ctx.tally.add(False, "devcontainer: ./tools/devcontainer-test did not finish within %d s"
                      % DEVCONTAINER_DEADLINE)
    checks = re.findall(r"^  (ok  |FAIL) (.*)$", out, re.M)
    for verdict, what in checks:
        ctx.tally.add(verdict == "ok  ", "devcontainer: " + what)
    ctx.out.write("".join("  %s\n" % line for line in out.splitlines() if line.startswith(("== ", "Times: "))))
    if proc.returncode != 0 and all(v == "ok  " for v, _ in checks):
        ctx.tally.add(False, "devcontainer: ./tools/devcontainer-test exited with %d (output below)" % proc.returncode)
        ctx.out.write(out[-3000:] + "\n")


# needs: "" always, "sanitizers" unless --no-sanitizers, "lint" unless --no-lint,
# "container" unless --no-container.
# scratch: the step works in the scratch copy, which is removed after the last such step.
Step = collections.namedtuple("Step", "name title run needs scratch")

STEPS = [
    Step("manifest", "manifest, lesson layout, references, checkpoint lines, measured figures",
         step_manifest, "", False),
    Step("layering", "layering: //:loop needs only loop/, nothing needs lessons/, no C++ in tools/ (bazel query)",
         step_layering, "", False),
    Step("stable_env", "a changed PATH rebuilds nothing (--incompatible_strict_action_env)",
         step_stable_env, "", False),
    Step("tool_tests", "tests of the tools (python3 -m unittest)", step_tool_tests, "", False),
    Step("room", "./tools/room end to end: learners report, bad reports are refused, headless chromium reads "
         "the page, a restart keeps the room (tools/tests/room_e2e.py)", step_room, "", False),
    Step("library", "the library and the cross-lesson suites (bazel test %s)" % " ".join(LIBRARY),
         step_library, "", False),
    Step("editor", "editors: tools/compile_commands, then clangd --check on %d files" % len(check_bazel.CLANGD_FILES),
         step_editor, "", False),
    Step("bench", "benchmarks build, run and parse (./tools/bench --quick: tests/benchmarks, -c opt, a tiny "
         "min_time)", step_bench, "", False),
    Step("curriculum", "curriculum: each starter fails exactly its listed tests (bazel test //lessons/...)",
         step_curriculum, "", False),
    Step("checkpoints", "checkpoint patches on the starters (a scratch copy of the checkout)",
         step_checkpoints, "", True),
    Step("solved", "a learner who writes the reference code goes green: every REF copied over its FILE, "
         "bazel test //lessons/... in the scratch copy", step_solved, "", True),
    Step("experiments", "predict, then break it: each lesson's experiments fail exactly what they say "
         "(lessons/*/experiments/, run as ./tools/break runs them, in the scratch copy)", step_experiments, "", True),
    Step("solved_clang", "the lessons with the references copied in build with clang too (scratch copy)",
         step_solved_clang, "", True),
    Step("output_quotes", "quoted test output marked <!-- test-output ... --> is what the tests print with the "
         "quote's patch applied (scratch copy)", step_output_quotes, "", True),
    Step("sanitizer_quotes", "quoted sanitizer reports are what the sanitizers print (scratch copy)",
         step_sanitizer_quotes, "sanitizers", True),
    Step("solved_asan", "//lessons/... with the references copied in under --config=asan, then repeated",
         _solved_under("asan"), "sanitizers", True),
    Step("solved_tsan", "//lessons/... with the references copied in under --config=tsan, then repeated",
         _solved_under("tsan"), "sanitizers", True),
    Step("sanitizer_fixtures", "sanitizer reports name the file and line (%s)" % check_bazel.SANITIZER_FIXTURES,
         step_sanitizer_fixtures, "sanitizers", False),
    Step("library_asan", "%s under --config=asan" % " ".join(LIBRARY), _library_under("asan"), "sanitizers", False),
    Step("library_tsan", "%s under --config=tsan" % " ".join(LIBRARY), _library_under("tsan"), "sanitizers", False),
    Step("clang", "the library, its suites and the starters build with clang too (--repo_env=CC=clang)",
         step_clang, "", False),
    Step("format", "formatting (clang-format, buildifier)", step_format, "lint", False),
    Step("devcontainer", "the dev container: built on an offline Debian 12 image, then ./tools/start, the starters "
         "and the references in it (./tools/devcontainer-test; root and Docker)", step_devcontainer, "container",
         False),
]


def wanted(step, args):
    if args.only:
        return step.name in args.only
    return not ((step.needs == "sanitizers" and args.no_sanitizers) or (step.needs == "lint" and args.no_lint)
                or (step.needs == "container" and args.no_container))


def cmd_check(args, root=ROOT, out=sys.stdout):
    ctx = Context(root, out, args)
    try:
        for step in STEPS:
            if not wanted(step, args):
                continue
            if not step.scratch:
                ctx.close_scratch()  # as soon as the scratch copy's steps are done
            ctx.section(step.title)
            step.run(ctx)
    finally:
        ctx.close_scratch()
    out.write("\nFinished in %ds. Bazel's full output: bazel-check.log\n" % (time.time() - ctx.started))
    if ctx.tally.problems:
        out.write("\nWhat failed:\n" + "".join("  - %s\n" % p for p in ctx.tally.problems))
    out.write("%d passed, %d failed\n" % (ctx.tally.passed, ctx.tally.failed))
    return 0 if ctx.tally.failed == 0 else 1


def main(argv=None, root=ROOT):
    parser = argparse.ArgumentParser(prog="tools/check", description=__doc__.splitlines()[0])
    parser.add_argument("--no-sanitizers", action="store_true", help="skip the ASan/TSan steps")
    parser.add_argument("--no-lint", action="store_true", help="skip formatting")
    parser.add_argument("--no-container", action="store_true",
                        help="skip building and trying the dev container (it needs root and Docker)")
    parser.add_argument("--only", action="append", choices=[s.name for s in STEPS], metavar="STEP",
                        help="run only this step (repeatable), whatever the other options say; the steps: "
                             + ", ".join(s.name for s in STEPS))
    args = parser.parse_args(argv)
    try:
        return cmd_check(args, root=root)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
