#!/usr/bin/env python3
"""./tools/break: predict, then break it. Each lesson has experiments: a plausible mistake,
applied to the reference code. You say what you think will happen, the tool runs the
lesson's tests with the mistake in place, and shows you what really happened.

    ./tools/break                 the experiments of your current lesson (as ./tools/progress sees it)
    ./tools/break NN              the experiments of lesson NN
    ./tools/break NN NAME         run one: predict, run, compare, read

It works in a scratch copy of the workshop (.cache/break/tree, with its own Bazel output
base) that holds the reference code, so your own files in lessons/ are never touched and
need not be finished. It runs offline. The experiment format is in experiments.py.
Python 3 standard library only; never imports the maintainer suite (check_*.py, bench*).
"""

import argparse
import fcntl
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import experiments  # noqa: E402
import predict  # noqa: E402
import scratch_copy  # noqa: E402
import timeline  # noqa: E402
from workshop_common import ROOT, UsageError, find_lesson, lesson_status, load_manifest  # noqa: E402

CACHE = os.path.join(".cache", "break")
WIDTH = 100

# ---------------------------------------------------------------------------------------
# The scratch copy.


def prepare_scratch(root, lessons):
    """Brings .cache/break/tree up to date with the checkout, references in place. Returns
    (tree, first): first is True until a build has finished there."""
    base = os.path.join(root, CACHE)
    tree = os.path.join(base, "tree")
    os.makedirs(tree, exist_ok=True)
    listing = os.path.join(base, "files.txt")
    previous = open(listing).read().split("\n") if os.path.exists(listing) else []
    files = scratch_copy.copy_checkout(root, tree, skip=scratch_copy.edited_files(lessons), previous=previous)
    if not files:
        raise UsageError("./tools/break copies the workshop with git (git ls-files); this copy is no git checkout")
    with open(listing, "w") as f:
        f.write("\n".join(files))
    scratch_copy.copy_references(root, lessons, tree)
    # The copy's own Bazel server stops after 15 idle minutes instead of three hours.
    mine = os.path.join(root, "user.bazelrc")
    text = open(mine).read() if os.path.exists(mine) else ""
    rc = os.path.join(tree, "user.bazelrc")
    text += "\n# Added by ./tools/break for its scratch copy.\nstartup --max_idle_secs=900\n"
    if not os.path.exists(rc) or open(rc).read() != text:
        with open(rc, "w") as f:
            f.write(text)
    return tree, not os.path.exists(os.path.join(base, "built"))


def locked(root):
    """Holds .cache/break/lock for this process's lifetime, or says who has it."""
    os.makedirs(os.path.join(root, CACHE), exist_ok=True)
    f = open(os.path.join(root, CACHE, "lock"), "w")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise UsageError("another ./tools/break is running in this checkout; wait for it to finish")
    return f


# ---------------------------------------------------------------------------------------
# Listing.


def current_lesson(root, lessons, out):
    import workshop  # the learner's commands: ./tools/progress's way of finding the current lesson

    out.write("Finding your current lesson, as ./tools/progress does...\n")
    out.flush()
    results, _, _ = workshop.run_lesson_tests(root, out=out)
    current, _ = workshop.next_lesson([(l, lesson_status(l, results)[2]) for l in lessons])
    return current


def list_experiments(root, lesson, out):
    exps = experiments.load_experiments(root, lesson)
    out.write("\nLesson %s, %s: %d experiment%s.\n" % (lesson.number, lesson.title, len(exps),
                                                       "" if len(exps) == 1 else "s"))
    with open(os.path.join(root, lesson.package, "README.md")) as f:
        order = experiments.section_names(f.read())  # the README's table lists them in a sensible order
    exps.sort(key=lambda e: (order.index(e.name) if e.name in order else len(order), e.name))
    for e in exps:
        out.write("\n%s\n%s\n" % (textwrap.fill("%s: %s" % (e.name, e.title), WIDTH, initial_indent="  ",
                                                 subsequent_indent="    "), wrap(e.predict, 6)))
    if exps:
        out.write("\nRun one: ./tools/break %s %s\n" % (lesson.number, exps[0].name))
    return 0


def wrap(text, indent):
    return textwrap.fill(text, WIDTH, initial_indent=" " * indent, subsequent_indent=" " * indent)


# ---------------------------------------------------------------------------------------
# Running one.


def ask(exp, args, out, ask_fn):
    out.write("\nLesson %s, experiment %s\n\n%s\n\n%s\n\n" % (exp.lesson.number, exp.name,
                                                             wrap("Title:   " + exp.title, 0),
                                                             wrap("Predict: " + exp.predict, 0)))
    if args.predict is not None:
        text = sys.stdin.readline().strip() if args.predict == "-" else args.predict.strip()
        out.write("Your prediction (from %s): %s\n" % ("standard input" if args.predict == "-" else "--predict",
                                                          text))
        return text
    if args.no_predict or not sys.stdin.isatty():
        out.write("(No prediction asked: %s.)\n" % ("--no-predict" if args.no_predict else
                                                    "input is not a terminal; --predict TEXT gives one"))
        return ""
    try:
        return ask_fn("Your prediction (a line: test names, a prefix with *, a number, your own words): ")
    except EOFError:
        return ""


MECHANICS = re.compile(r"^(Expected equality of these values:|Value of: |Expected: |Actual: |Which is: |Failed$|"
                       r"With diff:|@@ |[-+])")


def excerpt(message, fragments, most=10):
    """A failure message as the learner needs it: where it failed, the test's own
    explanation (not gtest's "Expected equality of these values" lines), and every line
    holding a Shows fragment; at most `most` lines once wrapped."""
    body = [l for l in (message or "").strip().splitlines() if l.strip()]
    explained = [l for l in body[1:] if not l.startswith(" ") and not MECHANICS.match(l)]
    keep = body[:1] + (explained[:3] or body[1:6])
    keep += [l for l in body if l not in keep and any(f.lower() in l.lower() for f in fragments)]
    out = []
    for l in sorted(set(keep), key=body.index):
        out += textwrap.wrap(l, WIDTH - 11, initial_indent=" " * 9, subsequent_indent=" " * 11) or [""]
    return "\n".join(out[:most] + ([" " * 9 + "..."] if len(out) > most else []))


TELLING = ("CRASH:", "ERROR: AddressSanitizer", "WARNING: ThreadSanitizer", " error: ")


def telling_lines(text, fragments, most=6):
    """For a target without per-case results: the lines of its test.log and of Bazel's
    output that say why (a compiler error, a crash, a sanitizer's report)."""
    wanted = [f.lower() for f in list(fragments) + list(TELLING)]
    return [l for l in text.splitlines() if any(f in l.lower() for f in wanted)][:most]


def group(cases, several_targets):
    """[(target, case)] -> [(shown name, [(target, case)], [variant])]: the variants of one
    case (its parameters, its backends' targets) together."""
    groups = {}
    for t, c in sorted(cases):
        key, variant = ("%s (the whole target)" % t, "") if c == "*" else predict.split_case(c)
        variant = "/".join(v for v in ((t if several_targets else ""), variant) if v)
        members, variants = groups.setdefault(key, ([], []))
        members.append((t, c))
        if variant:
            variants.append(variant)
    return [(k, m, v) for k, (m, v) in sorted(groups.items())]


CRASHED = re.compile(r"CRASH: (\S+) died of (SIG[A-Z]+)")  # tests/support/main.cc's crash handler
SANITIZER = re.compile(r"(?:ERROR|WARNING): (\w+Sanitizer): ([\w-]+)")


def whole_target(outcome, target):
    """(kind, sentence) for a target that gave no per-case results: kind is "build",
    "timeout" or "crash"."""
    message = outcome.failing[(target, "*")]
    log = outcome.logs.get(target, "")
    if "does not build" in message:
        return "build", "%s does not build, so none of its cases ran" % target
    if "TIMEOUT" in message:
        return "timeout", "%s ran out of time (Bazel's timeout) before it wrote per-case results" % target
    crash, sanitizer = CRASHED.search(log), SANITIZER.search(log)
    if sanitizer:
        return "crash", "%s was stopped by %s (%s) before it wrote per-case results" % ((target,) + sanitizer.groups())
    if crash:
        return "crash", "%s crashed before it wrote per-case results: %s died of %s, and the whole binary with it" % (
            (target,) + crash.groups())
    return "crash", "%s died before it wrote per-case results (%s)" % (target, message.strip().split("\n")[0])


def runs_note(outcome, members, variants):
    """"failed in 3 of 8 runs" (or per variant), with --runs_per_test."""
    if outcome.runs <= 1:
        return ""
    counts = [outcome.failed_runs.get(m, 0) for m in members]
    if len(members) == 1 or len(set(counts)) == 1:
        return "; failed in %d of %d runs%s" % (counts[0], outcome.runs, " each" if len(members) > 1 else "")
    return "; failed in " + ", ".join("%s %d" % (v, k) for v, k in zip(variants, counts)) + \
        " of %d runs" % outcome.runs


def shown_log(exp, target, paths):
    """Where the learner finds a failing target's test.log (of its first failing run)."""
    paths = sorted(paths, key=lambda p: [int(n) if n.isdigit() else n for n in re.split(r"(\d+)", p)])
    where = paths[0].split(os.sep + "testlogs" + os.sep, 1)[-1]
    return os.path.join(CACHE, "tree", "bazel-testlogs", where) + (
        " (and %d more run%s)" % (len(paths) - 1, "" if len(paths) == 2 else "s") if len(paths) > 1 else "")


def report(exp, outcome, prediction, out):
    failing = sorted(outcome.failing)
    cases = [f for f in failing if f[1] != "*"]
    whole = {t: whole_target(outcome, t) for t, c in failing if c == "*"}
    runs = " (%d runs each)" % outcome.runs if outcome.runs > 1 else ""
    out.write("\nWhat really happened (bazel test took %.0f s):\n" % outcome.seconds)
    if not failing:
        out.write("  Every one of the lesson's %d test cases passed%s.\n" % (len(outcome.passed),
                                                                           runs and " in every run" + runs))
    elif cases:
        out.write("  %d of %d test cases failed%s:\n" % (len(cases), len(cases) + len(outcome.passed), runs))
    for t, (_, sentence) in sorted(whole.items()):
        out.write(textwrap.fill(sentence + ".", WIDTH, initial_indent="  ", subsequent_indent="    ") + "\n")
    known = failing + outcome.passed + [c for c in exp.lesson.fails if c[0] in whole]
    reading = predict.read(prediction, [c for _, c in known if c != "*"])
    said = {}
    for key, members, variants in group(failing, len({t for t, _ in exp.lesson.fails}) > 1):
        k = predict.key(members[0][1]) if members[0][1] != "*" else None
        mark = ("   <- you predicted a crash" if reading.crash and k is None and whole[members[0][0]][0] == "crash"
                else "   <- you named it" if k in reading.failing
                else "   <- you said it would pass" if k in reading.passing else "")
        where = "" if not variants else "  (%s" % ", ".join(variants) if len(members) == 1 else \
            "  (%d: %s" % (len(members), ", ".join(variants))
        note = runs_note(outcome, members, variants)
        where = where + note + ")" if where else "  (%s)" % note[2:] if note else ""
        line = textwrap.fill("FAILED %s%s%s" % (key, where, mark.replace(" ", "\0")), WIDTH, initial_indent="  ",
                             subsequent_indent=" " * 9)
        out.write("\n" + line.replace("\0", " ") + "\n")
        t, c = members[0]
        message = outcome.failing[(t, c)]
        if c == "*":
            message = "\n".join([message] + telling_lines(outcome.logs.get(t, "") + "\n" + outcome.output, exp.shows))
        text = excerpt(message, exp.shows)
        where, _, body = text.partition("\n")  # the first line says where it failed
        if body and body in said:
            text = "%s\n%s(the same message as %s, above)" % (where, " " * 11, said[body])
        out.write(text + "\n")
        said.setdefault(body, key)
    if failing and outcome.passed:
        out.write("\n  The other %d passed%s.\n" % (len(outcome.passed), runs and " in every run"))
    logs = [shown_log(exp, t, outcome.failed_logs[t]) for t in sorted(outcome.logs) if outcome.failed_logs.get(t)]
    if logs:
        out.write("  Each failing target's whole output: %s\n" % ", ".join(logs))
    if any(kind == "build" for kind, _ in whole.values()):
        out.write("  The compiler's whole output: %s\n" % os.path.join(CACHE, "bazel.log"))
    problems = experiments.judge(exp, outcome)
    expected = len(exp.fails)
    out.write("\n")
    if not problems:
        out.write(wrap("This experiment expects exactly %s, and so it was." % (
            "these %d to fail" % expected if expected > 1 else "this one to fail" if expected else
            "no test to fail, and what it measures" if not exp.expects else "what it measures"), 0) + "\n")
    else:
        out.write("This run differs from what the experiment expects (%s):\n" % (
            "your checkout may have changed, or a race went the other way" if sys.platform.startswith("linux") else
            "the experiments were recorded on Linux; here the eventfd and epoll cases skip themselves") +
            "".join("  - %s\n" % p for p in problems))
    for key, value in sorted(outcome.measured.items()):
        out.write("  measured %s = %s\n" % (key, "?" if value is None else "%g" % value))
    told = predict.compare(prediction, cases, outcome.passed, whole={t: w[0] for t, w in whole.items()},
                           known=[c for c in exp.lesson.fails if c[0] in whole])
    out.write("\n" + "\n".join(textwrap.fill(l.strip(), WIDTH, initial_indent="  ", subsequent_indent="      ")
                                if l.startswith("  ") else wrap(l, 0) for l in told) + "\n")
    return problems


def token_names(root, lesson):
    """{7: "kRescueToken"}: the Token constants of tests/support and of the lesson's tests
    (which win), so that the timeline can say what each registered fd is for."""
    names = {}
    for folder, ext in (("tests/support", ".h"), (lesson.package, ".cc")):
        for f in sorted(os.listdir(os.path.join(root, folder))):
            if f.endswith(ext):
                with open(os.path.join(root, folder, f), errors="replace") as fh:
                    names.update({int(n): k for k, n in re.findall(r"\bToken (k\w+)\{(\d+)\}", fh.read())})
    return names


def trace(root, dest, exp, save_to):
    """Runs the Trace case under strace while the patch is in place, draws it, and returns
    what to tell the learner."""
    target, case = exp.trace
    if shutil.which("strace") is None:
        return "\n(strace is not installed, so there is no timeline: sudo apt-get install strace)\n"
    binary = os.path.join(dest, "bazel-bin", exp.lesson.package, target)
    tmp = tempfile.mkdtemp(prefix="elfs-trace-")
    try:
        raw = os.path.join(tmp, "strace.txt")
        cmd = ["strace", "-f", "-ttt", "-y", "-e", "trace=" + ",".join(timeline.SYSCALLS), "-o", raw, binary,
               "--gtest_filter=" + case]
        subprocess.run(cmd, cwd=dest, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120,
                       env=dict(os.environ, TEST_TMPDIR=tmp))
        with open(raw) as f:
            text = f.read()
    except (OSError, subprocess.TimeoutExpired) as e:
        return "\n(could not trace %s: %s)\n" % (case, e)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    svg = os.path.join(root, CACHE, "%s-%s.svg" % (exp.lesson.number, exp.name))
    title = "Lesson %s, %s: %s" % (exp.lesson.number, exp.name, exp.title)
    with open(svg, "w") as f:
        f.write(timeline.render(timeline.parse(text), title, "%s %s, traced with strace -f" % (target, case),
                                token_names(root, exp.lesson)))
    said = ("\nThe system calls of %s, one lane per thread, as a timeline:\n  %s\n  (open it in a browser)\n"
            % (case, os.path.relpath(svg, os.getcwd())))
    if save_to:
        shutil.copyfile(svg, save_to)
        said += "  (copied to %s)\n" % save_to
    return said


def run_one(root, lessons, exp, args, out, ask_fn=input):
    prediction = ask(exp, args, out, ask_fn)
    lock = locked(root)
    try:
        tree, first = prepare_scratch(root, lessons)
        log = os.path.join(root, CACHE, "bazel.log")
        open(log, "w").close()
        out.write("\nRunning it: the reference code of lesson %s with this mistake, `bazel test "
                  "--nocache_test_results //%s:all`%s,\n"
                  "in a scratch copy (%s/tree; Bazel's output: %s/bazel.log). Your lessons/ are not touched.\n"
                  % (exp.lesson.number, exp.lesson.package,
                     (" --config=%s" % exp.config if exp.config else "") +
                     (" --runs_per_test=%d" % exp.runs if exp.runs > 1 else ""), CACHE, CACHE))
        if first:
            out.write("This is the first run: the scratch copy builds the library and the lesson once, which can "
                      "take a few minutes. After that an experiment takes seconds.\n")
        elif exp.config:
            out.write("(The first --config=%s run here builds the lesson again with the sanitizer first.)\n"
                      % exp.config)
        out.flush()
        traced = []
        hook = (lambda _: traced.append(trace(root, tree, exp, args.save_timeline))) if exp.trace else None
        started = time.time()
        outcome = experiments.run_experiment(root, tree, exp, log, while_patched=hook)
        if outcome.passed or outcome.failing:
            open(os.path.join(root, CACHE, "built"), "w").close()
        problems = report(exp, outcome, prediction, out)
        out.write("".join(traced))
        readme = "%s/README.md" % exp.lesson.package
        out.write("\nRead: README section \"%s\" (%s)\n" % (exp.explains, readme))
        out.write("(%.0f s in all.)\n" % (time.time() - started))
        return 0 if not problems else 1
    finally:
        lock.close()


EPILOG = """examples:
  ./tools/break                  list the experiments of your current lesson
  ./tools/break 02               list lesson 02's experiments
  ./tools/break 02 forget-eintr  run one: you predict, it runs, you compare
  ./tools/break 02 forget-eintr --predict "the three WaitRetriesEintr* tests fail; the other 18 pass"

Predictions are compared by test case name: write a name in full, a part of one that no
other case has, or a prefix with a star (WaitRetriesEintr*); a number is a count ("3 fail").
Names in a clause that says they pass ("the other 18 pass") count as passing.

docs/lesson09-timeline.svg was made with
  ./tools/break 09 no-share-for-the-poll --no-predict --save-timeline docs/lesson09-timeline.svg"""


def main(argv=None, root=ROOT, out=sys.stdout):
    parser = argparse.ArgumentParser(prog="./tools/break", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG)
    parser.add_argument("lesson", nargs="?", help="a lesson number (01) or name (01_fd, fd)")
    parser.add_argument("name", nargs="?", help="an experiment of that lesson (see ./tools/break NN)")
    parser.add_argument("--predict", metavar="TEXT", help="your prediction, instead of being asked for it "
                        "(\"-\": read one line from standard input)")
    parser.add_argument("--no-predict", action="store_true", help="do not ask for a prediction")
    parser.add_argument("--save-timeline", metavar="PATH", help="also copy the experiment's timeline SVG to PATH "
                        "(for an experiment with a Trace: line)")
    args = parser.parse_args(argv)
    try:
        lessons = load_manifest(root)
        if args.lesson is None:
            lesson = current_lesson(root, lessons, out)
            if lesson is None:
                out.write("Every lesson is green. Pick any: ./tools/break NN (00 to %s).\n" % lessons[-1].number)
                return 0
            return list_experiments(root, lesson, out)
        lesson = find_lesson(lessons, args.lesson)
        if args.name is None:
            return list_experiments(root, lesson, out)
        exp = experiments.find_experiment(experiments.load_experiments(root, lesson), args.name)
        return run_one(root, lessons, exp, args, out)
    except UsageError as e:
        sys.stderr.write("error: %s\n" % e)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
