#!/usr/bin/env python3
"""The learner's commands: progress, hint, reset, diff, watch and start.

Run them through the small scripts next to this file (./tools/progress, ./tools/hint 01,
...), from any directory of the checkout. Python 3 standard library only.

The curriculum lives in lessons/manifest.txt: every lesson, the files the learner edits
(and the reference file each becomes), and exactly which test cases its starter must fail.
`progress` uses it to tell a learner where they stand. The maintainer suite that verifies
the manifest's promises is ./tools/check (tools/check_suite.py); this module never imports
it, nor the benchmark, measurement or compile_commands tools.
"""

import argparse
import difflib
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import progress_cache  # noqa: E402
from workshop_common import (PROGRESS_HEADER, ROOT, TargetResult, UsageError, bazel_build_tests,  # noqa: E402
                             bazel_env, bazel_test, find_lesson, lesson_status, load_manifest, parse_hints,
                             progress_row)


def _ranges(numbers):
    """["00", "01", "02", "05"] -> "00-02, 05" (lesson numbers in manifest order)."""
    parts, run = [], []
    for n in numbers:
        if run and int(n) == int(run[-1]) + 1:
            run.append(n)
        else:
            if run:
                parts.append(run)
            run = [n]
    if run:
        parts.append(run)
    return ", ".join(r[0] if len(r) == 1 else "%s-%s" % (r[0], r[-1]) for r in parts)


def next_lesson(statuses):
    """statuses: [(lesson, status)] in order. Returns (next lesson or None, [earlier open]).

    A room may start anywhere (a workshop that begins at lesson 08): the next lesson is
    the first unfinished one after the last one done, and unfinished lessons before it
    are "still open", not "next". With nothing after the last done lesson left, it is the
    first unfinished lesson."""
    done = [i for i, (_, status) in enumerate(statuses) if status == "done"]
    start = done[-1] + 1 if done else 0
    for i in list(range(start, len(statuses))) + list(range(0, start)):
        if statuses[i][1] != "done":
            earlier = [l for l, status in statuses[:i] if status != "done"]
            return statuses[i][0], earlier
    return None, []


def print_progress(lessons, results, out=sys.stdout):
    rows = []
    firsts = {}
    for l in lessons:
        passed, total, status, first = lesson_status(l, results)
        rows.append((l, passed, total, status))
        firsts[l.number] = first
    current, earlier = next_lesson([(l, status) for l, _, _, status in rows])
    out.write("\n" + "\n".join(PROGRESS_HEADER) + "\n")
    for l, passed, total, status in rows:
        out.write(progress_row(l, passed, total, status, l is current) + "\n")
    out.write("\n")
    if current is None:
        out.write("Every lesson is green. Congratulations: you built an event loop from scratch.\n")
        return
    done = [i for i, (_, _, _, status) in enumerate(rows) if status == "done"]
    wrapped = bool(done) and lessons.index(current) < done[-1]
    if wrapped:
        # A room that started late has finished the last lesson; what is open came before.
        still = [l.number for l, _, _, status in rows[:done[-1]] if status != "done"]
        many = len(still) > 1
        out.write("You have finished the last lesson, %s. %s %s %s still open. %s optional: every "
                  "lesson builds on the reference code of the ones before it, so go back only "
                  "if you like.\n\n"
                  % (rows[done[-1]][0].number, "Lessons" if many else "Lesson", _ranges(still),
                     "are" if many else "is", "They are" if many else "It is"))
        earlier = []
    l, first = current, firsts[current.number]
    out.write("%s: lesson %s, %s\n" % ("If you go back, start with" if wrapped else "Next", l.number, l.title))
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
    if earlier:
        out.write("\nEarlier lessons still open: %s (you can come back to them any time)\n"
                  % _ranges([l.number for l in earlier]))


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
    """Each file the learner edits (lessons/DIR/FILE) against the reference file it becomes
    (the manifest's REF: loop/... or solutions/DIR/...)."""
    lessons = load_manifest(root)
    lesson = find_lesson(lessons, args.lesson)
    if not lesson.edits:
        out.write("Lesson %s has no files to edit, so there is nothing to compare.\n" % lesson.number)
        return 0
    out.write("Your code (lessons/%s) against the reference (%s). Spoilers below.\n\n"
              % (lesson.dir, ", ".join(lesson.reference(e) for e in lesson.edits)))
    same = True
    for f in lesson.edits:
        ref = lesson.reference(f)
        mine = "%s/%s" % (lesson.package, f)
        a, b = _read_lines(os.path.join(root, ref)), _read_lines(os.path.join(root, mine))
        d = list(difflib.unified_diff(a, b, ref, mine))
        if d:
            same = False
            out.writelines(d)
            out.write("\n")
    if same:
        out.write("No differences.\n")
    return 0


def run_lesson_tests(root=ROOT, fresh=False, out=None):
    """{label: TargetResult} for every lesson test, running only the tests whose key
    changed (see progress_cache.py). Returns (results, ran, reused)."""
    built, _ = bazel_build_tests(["//lessons/..."], root=root)
    results, keys, stale = {}, {}, []
    for label, binary in built.items():
        if binary is None:
            results[label] = TargetResult(label, "FAILED_TO_BUILD")
            continue
        keys[label] = progress_cache.target_key(label, binary, root)
        hit = None if fresh else progress_cache.load(root, label, keys[label])
        if hit:
            results[label] = hit
        else:
            stale.append(label)
    if stale:
        if out:
            out.write("Running %d of %d test targets (the others are unchanged since the last run)...\n"
                      % (len(stale), len(built)) if len(stale) < len(built) else
                      "Running all %d test targets...\n" % len(built))
            out.flush()
        tested, _ = bazel_test(stale, root=root)
        for label in stale:
            r = tested.get(label) or TargetResult(label, "NO_STATUS")
            results[label] = r
            progress_cache.store(root, label, keys.get(label), r)
    return results, len(stale), len(built) - len(stale) - sum(1 for b in built.values() if b is None)


def cmd_progress(args, root=ROOT, out=sys.stdout):
    lessons = load_manifest(root)
    if getattr(args, "room", None) is not None or getattr(args, "name", None) is not None:
        import room_client  # joining or leaving the facilitator's room (./tools/room)
        room_client.configure(root, args.room, args.name, out)
        if args.room == ["off"]:
            return 0
    fresh = getattr(args, "fresh", False)
    out.write("Building the lessons (bazel build //lessons/... --keep_going)...\n")
    out.flush()
    results, ran, reused = run_lesson_tests(root, fresh=fresh, out=out)
    if not results:
        raise UsageError("Bazel reported no test results; run `bazel test //lessons/...` to see why")
    print_progress(lessons, results, out)
    if reused:
        out.write("\n(%d test target%s not run again: nothing they are built from changed since the last run. "
                  "./tools/progress --fresh runs everything.)\n" % (reused, "" if reused == 1 else "s"))
    import room_client  # one line, and only once joined: ./tools/progress --room URL CODE --name NAME
    room_client.after_progress(root, lessons, results, out)
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
    os.execve(ibazel, [ibazel, "test", target], bazel_env())


# ---------------------------------------------------------------------------------------
# start.


def lesson_in_progress(lessons, root):
    """The lesson to build first: the last one whose files the learner changed (git says
    which differ from the committed starters), else the first lesson."""
    inside = subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], cwd=root, capture_output=True, text=True)
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        return lessons[0]
    for l in reversed(lessons):
        files = [os.path.join(l.package, e) for e in l.edits]
        proc = subprocess.run(["git", "diff", "--quiet", "HEAD", "--"] + files, cwd=root,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if proc.returncode == 1:  # 0: unchanged; anything else: not a git checkout
            return l
    return lessons[0]


def first_build_figure(root):
    """'32 s': how long the first build took where docs/measurements.md was made, or None."""
    try:
        with open(os.path.join(root, "docs", "measurements.json"), encoding="utf-8") as f:
            return json.load(f)["first_build"]["text"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _build_step(out, root, step, what, targets):
    """One timed `bazel build --keep_going TARGETS`, announced first; returns its exit code."""
    out.write("\n[%d/3] %s: bazel build %s\n" % (step, what, " ".join(targets)))
    out.flush()
    started = time.monotonic()
    code = subprocess.call(["bazel", "build", "--keep_going"] + targets, cwd=root, env=bazel_env())
    out.write("[%d/3] %s in %.0f s\n" % (step, "done" if code == 0 else "failed", time.monotonic() - started))
    return code


def cmd_start(args, root=ROOT, out=sys.stdout):
    lessons = load_manifest(root)
    first = find_lesson(lessons, args.lesson) if getattr(args, "lesson", None) else lesson_in_progress(lessons, root)
    figure = first_build_figure(root)
    out.write("Building the lessons. The first time, Bazel starts its server and compiles the library, the "
              "test support and every lesson's tests once: that took %s on an idle 2-core machine "
              "(docs/measurements.md), and takes several times as long on a busy or slower one. Later runs "
              "rebuild only what changed and take seconds. Bazel shows its progress as it goes.\n"
              "Lesson %s (%s) is built first, so that you can start on it while the rest builds.\n"
              % (figure or "under a minute", first.number, first.title))
    code = _build_step(out, root, 1, "lesson %s, the one you are on" % first.number, ["//%s:all" % first.package])
    if code == 0:
        out.write("      You can open lessons/%s/README.md now, while the other lessons build.\n" % first.dir)
    else:
        out.write("      Lesson %s does not build (the messages above say where; if you changed it, "
                  "./tools/reset %s restores its starter). Building the others anyway.\n"
                  % (first.number, first.number))
    code = _build_step(out, root, 2, "every other lesson", ["//lessons/..."])
    if code != 0:
        out.write("\nThe build failed; the messages above say where. If you changed a lesson, "
                  "./tools/reset NN restores its starter.\n")
        return code
    out.write("\n[3/3] every lesson's tests (./tools/progress)\n")
    return cmd_progress(args, root, out)


# ---------------------------------------------------------------------------------------


def main(argv=None, root=ROOT):
    parser = argparse.ArgumentParser(prog="tools", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("progress", help="run the lessons' tests and show where you stand")
    p.add_argument("--fresh", "--no-cache", dest="fresh", action="store_true",
                   help="run every lesson test again, ignoring the results remembered in .cache/progress/")
    p.add_argument("--room", nargs="+", metavar=("URL", "CODE"), help="join the facilitator's room (./tools/room): "
                   "from now on each run also reports your test results there; --room off leaves")
    p.add_argument("--name", help="with --room: the name the facilitator sees")
    p = sub.add_parser("hint", help="print a hint for a lesson: hint NN [LEVEL|all]")
    p.add_argument("lesson")
    p.add_argument("level", nargs="?")
    p = sub.add_parser("reset", help="restore a lesson's starter from git (asks first)")
    p.add_argument("lesson")
    p.add_argument("--yes", action="store_true", help="do not ask")
    p = sub.add_parser("diff", help="your code of a lesson against the reference files it becomes")
    p.add_argument("lesson")
    p = sub.add_parser("watch", help="re-run a lesson's tests on every save (ibazel)")
    p.add_argument("lesson", nargs="?")
    p.add_argument("--install", action="store_true", help="only install ibazel")
    p = sub.add_parser("start", help="build the lesson you are on, then every lesson, and show progress")
    p.add_argument("lesson", nargs="?", help="the lesson to build first (default: the last one whose files "
                   "you changed, or 00)")
    p.add_argument("--fresh", "--no-cache", dest="fresh", action="store_true", help="as for progress")
    args = parser.parse_args(argv)
    commands = {"progress": cmd_progress, "hint": cmd_hint, "reset": cmd_reset, "diff": cmd_diff,
                "watch": cmd_watch, "start": cmd_start}
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
