"""./tools/check's scratch copy: the reference code is tested as a learner would write it.

There is no Bazel package of solutions: lessons/manifest.txt names, for each file a learner
edits (lessons/DIR/FILE), the reference file it becomes (REF: loop/... or solutions/DIR/...).
ScratchCopy copies the checkout into a temp directory (its own Bazel server and output
base), where ./tools/check first applies each checkpoint patch to the untouched starters,
then copies every REF over its FILE and runs //lessons/... there: plainly, with clang,
under --config=asan and --config=tsan, and the threaded lessons many times over (STRESS).
The quoted sanitizer reports are checked there too. Part of the maintainer suite (see
check_suite.py for the list of steps and check_lint.py for the modules).
Python 3 standard library only.
"""

import os
import re
import shutil
import subprocess
import tempfile
import time

import experiments
import scratch_copy
from check_bazel import tally_targets
from check_lint import checkpoint_patch
from check_quotes import output_quotes, unmatched_quote_text
from scratch_copy import git_apply
from workshop_common import UsageError, bazel_env, bazel_test, lesson_status

# The lessons ./tools/check repeats under each sanitizer, with their references copied
# in, and how often: registries, wakers, Arc and the early-drop fix are about orderings
# between threads, and an ordering that loses a wake once in a hundred runs must not pass
# unseen. (tests/stress/... is repeated in the checkout itself: check_suite.LIBRARY_STRESS.)
STRESS = [
    (("05", "06", "07", "08"), 50),
    (("09",), 200),
    (("10",), 50),
    (("11",), 50),
    (("12",), 10),
]


def stress_targets(lessons, numbers):
    """//lessons/DIR:all for each listed lesson number the manifest has."""
    return ["//%s:all" % l.package for l in lessons if l.number in numbers]


class ScratchCopy:
    """A copy of the checkout's files (tracked, and untracked but not ignored) in a temp
    directory. close() removes it and its Bazel output base."""

    def __init__(self, root, log):
        self.root = root
        self.log = log
        self.path = tempfile.mkdtemp(prefix="elfs-solved-")
        self.references_in = False
        scratch_copy.copy_checkout(root, self.path)

    def copy_references(self, lessons):
        """Copies every REF over its FILE (once): the starters become the reference code."""
        if self.references_in:
            return
        scratch_copy.copy_references(self.root, lessons, self.path)
        self.references_in = True

    def close(self):
        with open(self.log, "a") as out_log:
            subprocess.call(["bazel", "clean", "--expunge"], cwd=self.path, stdout=out_log,
                            stderr=subprocess.STDOUT, env=bazel_env())
        shutil.rmtree(self.path, ignore_errors=True)


# ---------------------------------------------------------------------------------------
# Checkpoints, on the untouched starters.


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
            proc = git_apply(tmp, patch, unidiff_zero=True)
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
                rev = git_apply(tmp, patch, reverse=True, unidiff_zero=True)
                if rev.returncode != 0:
                    raise RuntimeError("could not revert %s in %s: %s" % (patch, tmp, rev.stderr))


# ---------------------------------------------------------------------------------------
# The reference code copied in.


def check_solved(tally, lessons, tmp, log):
    """In the scratch copy tmp, references copied in: every lesson must be done. This proves
    that the files the manifest names are all a learner has to change, through the
    lessons' own BUILD files, and that progress says so."""
    results, _ = bazel_test(["//lessons/..."], root=tmp, log=log)
    for l in lessons:
        passed, total, status, first = lesson_status(l, results)
        why = "" if status == "done" else ": %s (%d/%d); first failure: %s" % (
            status, passed, total, (first[0].splitlines()[0] if first else "none"))
        tally.add(status == "done", "lesson %s with its reference code copied in%s" % (l.number, why))


def check_lessons_under(tally, lessons, tmp, log, config, section):
    """In the scratch copy tmp, references copied in: //lessons/... under --config=config,
    then the STRESS repetitions. section(title) prints a sub-heading."""
    results, code = bazel_test(["//lessons/..."], root=tmp, config=config, log=log)
    tally_targets(tally, results, code, "%s, references copied in" % config)
    for numbers, runs in STRESS:
        targets = stress_targets(lessons, numbers)
        if not targets:
            continue
        section("stress: %s, %d runs each under --config=%s (references copied in)" % (" ".join(targets), runs,
                                                                                         config))
        results, code = bazel_test(targets, root=tmp, config=config, extra=["--runs_per_test=%d" % runs], log=log)
        tally_targets(tally, results, code, "stress %s x%d" % (config, runs))


# ---------------------------------------------------------------------------------------
# Quoted sanitizer reports.


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


def check_output_quotes(tally, tmp, log, root, sanitizers):
    """In the scratch copy tmp (reference code in place): each quoted sanitizer report
    (sanitizers=True) or quoted test output (sanitizers=False) is what a real run prints
    with its patch applied (check_quotes.py reads the markers)."""
    for readme, n, config, target, patch, quote in output_quotes(root):
        if bool(config) != sanitizers:
            continue
        what = "%s:%d (%s for %s)" % (readme, n, "the --config=%s report" % config if config else "the test output",
                                      patch)
        proc = git_apply(tmp, os.path.join(root, patch))
        if proc.returncode != 0:
            tally.add(False, "%s: the patch does not apply to the reference code: %s"
                      % (what, proc.stderr.strip().splitlines()[:1]))
            continue
        try:
            run = subprocess.run(["bazel", "test"] + (["--config=" + config] if config else []) +
                                 ["--test_output=errors", target], cwd=tmp, capture_output=True, text=True,
                                 env=bazel_env())
            with open(log, "a") as out_log:
                out_log.write(run.stdout + run.stderr)
        finally:
            rev = git_apply(tmp, os.path.join(root, patch), reverse=True)
            if rev.returncode != 0:
                raise RuntimeError("could not revert %s in %s: %s" % (patch, tmp, rev.stderr))
        compare = unmatched_quote_line if config else unmatched_quote_text
        missing = compare(quote, run.stdout + run.stderr)
        tally.add(missing is None, "%s matches the real output" % what if missing is None else
                  "%s: the real output has no %r (in this order); quote what it prints now"
                  % (what, missing.strip()))


# ---------------------------------------------------------------------------------------
# Predict, then break it: the lessons' experiments (experiments.py, ./tools/break).


def check_experiments(tally, lessons, tmp, log, root, out):
    """In the scratch copy tmp (reference code in place): the experiments' files pass the
    lint, and each experiment, run as ./tools/break runs it, fails exactly its Fails cases,
    shows its Shows lines and holds its Expect lines; one tally entry and one line of
    output (with its time) per experiment. Every patched file is restored after each."""
    tally.add_problems(experiments.lint_experiments(root, lessons),
                       "every lesson has at least %d experiments; each parses, patches only its references or "
                       "the library, and names a heading of its README" % experiments.MINIMUM)
    began, count = time.time(), 0
    for l in lessons:
        try:
            exps = experiments.load_experiments(root, l)
        except UsageError:
            continue  # the lint above reported it
        for e in exps:
            started = time.time()
            try:
                problems = experiments.judge(e, experiments.run_experiment(root, tmp, e, log))
            except UsageError as err:
                problems = [str(err)]
            count += 1
            seconds = time.time() - started
            out.write("  %s %s (%.0f s)\n" % ("ok  " if not problems else "FAIL", e.path, seconds))
            out.flush()
            tally.add(not problems, "%s: %s" % (e.path, "; ".join(problems) if problems else
                                                 "fails exactly its %d case(s)" % len(e.fails)))
    out.write("  %d experiments in %.0f s\n" % (count, time.time() - began))
