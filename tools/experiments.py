"""Predict, then break it: the lessons' experiments, shared by ./tools/break (the learner's
command, break.py) and ./tools/check's "experiments" step.

One file per experiment, lessons/DIR/experiments/NAME.patch: a header, a line `---`, then
a unified diff (`diff --git a/PATH b/PATH`, repo-relative) against the reference code (the
REF files of lessons/manifest.txt, or library files under loop/). Header lines:

    Title: the plausible mistake, one line
    Predict: the question the learner answers before the run
    Fails: TARGET Suite.Case     one line per case that must fail; every other case of the
                                 lesson passes. `Fails: TARGET *`: the target gives no
                                 per-case results (it does not build, or its binary dies)
    Shows: text                  must appear in what the learner is shown (the failing
                                 cases' messages, the failing targets' test.log, Bazel's output)
    Config: asan | tsan          Runs: N (--runs_per_test, for races)
    Measure: KEY                 Expect: KEY OP VALUE (see MEASURES below)
    Trace: TARGET Suite.Case     ./tools/break draws that case's system calls (timeline.py)
    Explains: README heading     the section of the lesson's README that explains the result

It runs in a scratch copy (scratch_copy.py) that holds the reference code: the patch is
applied, each REF is copied over its FILE, `bazel test --nocache_test_results
//lessons/DIR:all` runs (never a cached result: a race must be run to be seen), and every
file is put back. Imports only workshop_common and scratch_copy. Python 3 stdlib only.
"""

import json
import os
import re
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET

from scratch_copy import Patched, copy_reference, patch_paths
from workshop_common import UsageError, bazel_env, bazel_test, parse_test_xml

KEYS = ("Title", "Predict", "Fails", "Shows", "Config", "Runs", "Measure", "Expect", "Explains", "Trace")
LISTS = ("Fails", "Shows", "Measure", "Expect")
OPS = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
       "==": lambda a, b: a == b, "!=": lambda a, b: a != b}
MEASURES = ("property:NAME", "seconds:TARGET:Suite.Case", "benchmark:TARGET:COUNTER[:FILTER]")
MINIMUM = 3  # experiments per lesson


class Experiment:
    def __init__(self, lesson, name, path):
        self.lesson, self.name, self.path = lesson, name, path  # path: repo-relative
        self.title = self.predict = self.explains = ""
        self.config, self.runs, self.trace = None, 1, None
        self.fails, self.shows, self.measures, self.expects = [], [], [], []
        self.diff = ""


def parse_experiment(text, lesson, name, source):
    """Reads one experiment file; raises UsageError naming the line of any mistake."""
    lines = text.splitlines()
    if "---" not in lines:
        raise UsageError("%s: no line '---' between the header and the diff" % source)
    cut = lines.index("---")
    exp = Experiment(lesson, name, source)
    exp.diff = "\n".join(lines[cut + 1:]) + "\n"
    seen = set()
    for n, raw in enumerate(lines[:cut], start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        key, colon, value = raw.partition(":")
        key, value, where = key.strip(), value.strip(), "%s:%d" % (source, n)
        if not colon or key not in KEYS:
            raise UsageError("%s: expected 'Key: value' with a key of %s, got: %s" % (where, ", ".join(KEYS), raw))
        if key in seen and key not in LISTS:
            raise UsageError("%s: '%s' is given twice" % (where, key))
        seen.add(key)
        if key in ("Fails", "Trace"):
            words = value.split()
            if len(words) != 2 or (words[1] != "*" and "." not in words[1]):
                raise UsageError("%s: expected '%s: TARGET Suite.Case'%s, got: %s"
                                 % (where, key, " (or TARGET *)" if key == "Fails" else "", raw))
            if key == "Fails":
                exp.fails.append(tuple(words))
            else:
                exp.trace = tuple(words)
        elif key == "Expect":
            words = value.split()
            if len(words) != 3 or words[1] not in OPS or not _number(words[2]):
                raise UsageError("%s: expected 'Expect: KEY OP NUMBER' (OP one of %s), got: %s"
                                 % (where, " ".join(OPS), raw))
            exp.expects.append((words[0], words[1], float(words[2])))
        elif key == "Measure":
            if not re.fullmatch(r"(property:\w+|seconds:\w+:\S+\.\S+|benchmark:\w+:\w+(:\S+)?)", value):
                raise UsageError("%s: unknown measure %r; the tool knows %s" % (where, value, ", ".join(MEASURES)))
            exp.measures.append(value)
        elif key == "Config":
            if value not in ("asan", "tsan"):
                raise UsageError("%s: Config must be asan or tsan, got %r" % (where, value))
            exp.config = value
        elif key == "Runs":
            if not value.isdigit() or int(value) < 1:
                raise UsageError("%s: Runs must be a number of runs, got %r" % (where, value))
            exp.runs = int(value)
        elif key == "Shows":
            exp.shows.append(value)
        else:
            setattr(exp, key.lower(), value)
    for key in ("Title", "Predict", "Explains"):
        if not getattr(exp, key.lower()):
            raise UsageError("%s: the header has no '%s:' line" % (source, key))
    if not exp.fails and not exp.expects:
        raise UsageError("%s: say what must happen: 'Fails:' lines, or 'Measure:' and 'Expect:'" % source)
    for key, _, _ in exp.expects:
        if key not in exp.measures:
            raise UsageError("%s: 'Expect: %s ...' needs a line 'Measure: %s'" % (source, key, key))
    if exp.trace and exp.trace not in exp.fails:
        raise UsageError("%s: 'Trace: %s %s' must be one of the Fails cases" % ((source,) + exp.trace))
    if not patch_paths(exp.diff):
        raise UsageError("%s: after '---' comes no 'diff --git a/PATH b/PATH'" % source)
    return exp


def _number(s):
    try:
        float(s)
        return True
    except ValueError:
        return False


def experiment_dir(lesson):
    return lesson.package + "/experiments"


def load_experiments(root, lesson):
    """The lesson's experiments, sorted by name. Raises UsageError for a malformed file."""
    folder = os.path.join(root, experiment_dir(lesson))
    if not os.path.isdir(folder):
        return []
    out = []
    for f in sorted(os.listdir(folder)):
        if f.endswith(".patch"):
            with open(os.path.join(folder, f)) as fh:
                out.append(parse_experiment(fh.read(), lesson, f[:-len(".patch")],
                                            "%s/%s" % (experiment_dir(lesson), f)))
    return out


def find_experiment(experiments, name):
    for e in experiments:
        if e.name == name:
            return e
    listed = "".join("\n  %-32s %s" % (e.name, e.title) for e in experiments) or " (none yet)"
    raise UsageError("lesson %s has no experiment %r. Its experiments:%s"
                     % (experiments[0].lesson.number if experiments else "?", name, listed))


def readme_headings(text):
    """The headings of a Markdown file, without the #s, outside fenced code blocks."""
    out, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced:
            m = re.match(r"#{1,6}\s+(.*?)\s*$", line)
            if m:
                out.append(m.group(1))
    return out


def lint_experiments(root, lessons):
    """Problems that reading the files finds: at least MINIMUM experiments per lesson, each
    parses, patches only the lesson's references or the library, fails only the lesson's
    targets, and names a heading of the lesson's README."""
    problems = []
    for l in lessons:
        try:
            exps = load_experiments(root, l)
        except UsageError as e:
            problems.append(str(e))
            continue
        if len(exps) < MINIMUM:
            problems.append("lesson %s has %d experiment(s) in %s/; every lesson needs at least %d"
                            % (l.number, len(exps), experiment_dir(l), MINIMUM))
        with open(os.path.join(root, l.package, "README.md")) as f:
            text = f.read()
        headings = readme_headings(text)
        problems += lint_section(text, exps, "%s/README.md" % l.package)
        refs = set(l.refs.values())
        targets = {t for t, _ in l.fails}
        for e in exps:
            bad = [p for p in patch_paths(e.diff) if p not in refs and not p.startswith("loop/")]
            if bad:
                problems.append("%s patches %s: only the lesson's reference files (%s) or the library (loop/)"
                                % (e.path, ", ".join(bad), ", ".join(sorted(refs))))
            for t, _ in e.fails:
                if t not in targets:
                    problems.append("%s: Fails names %s, which is not a test target of lesson %s (%s)"
                                    % (e.path, t, l.number, ", ".join(sorted(targets))))
            if e.explains not in headings:
                problems.append("%s: 'Explains: %s' is no heading of %s/README.md" % (e.path, e.explains, l.package))
    return problems


SECTION = "## Predict, then break it"


def section_names(text):
    """The experiments a README's "Predict, then break it" table lists, in order, or []."""
    if SECTION not in text:
        return []
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([a-z0-9-]+)` \|", section, re.M)


def lint_section(text, exps, readme):
    """A README's "Predict, then break it" section (where it has one) lists exactly the
    lesson's experiments, one table row each: | `NAME` | the question |."""
    if SECTION not in text:
        return []
    listed = section_names(text)
    names = [e.name for e in exps]
    return ["%s: the section '%s' lists `%s`, which is no experiment of this lesson" % (readme, SECTION[3:], n)
            for n in listed if n not in names] + \
        ["%s: the section '%s' does not list the experiment `%s`" % (readme, SECTION[3:], n)
         for n in names if n not in listed]


# ---------------------------------------------------------------------------------------
# Running one experiment.


class Outcome:
    """What one run of an experiment did."""

    def __init__(self):
        self.failing = {}  # (target, case or "*") -> message
        self.passed = []  # (target, case)
        self.logs = {}  # target -> the text of its failing runs' test.log
        self.output = ""  # Bazel's output (compiler errors)
        self.measured = {}  # key -> number, or None with a reason in measure_errors
        self.measure_errors = {}
        self.seconds = 0.0
        self.xml = []  # the test.xml files read
        self.runs = 1  # --runs_per_test
        self.failed_runs = {}  # (target, case or "*") -> in how many of the runs it failed
        self.failed_logs = {}  # target -> the test.log of each run (or shard) that failed


def collect(results, outcome, lesson):
    tests = {t for t, _ in lesson.fails}  # the manifest lists failing cases of every test target
    for label, r in sorted(results.items()):
        target = r.target
        if target not in tests:
            continue  # the lesson's library, which Bazel reports when it does not build
        if r.status == "FAILED_TO_BUILD" or r.crashed or not r.cases:
            outcome.failing[(target, "*")] = (r.crashed if isinstance(r.crashed, str) else
                                              "%s does not build" % target if r.status == "FAILED_TO_BUILD" else
                                              "%s gave no test results (%s)" % (target, r.status))
        for case, (ok, msg) in r.cases.items():
            if ok:
                outcome.passed.append((target, case))
            else:
                outcome.failing[(target, case)] = msg
        xml = [os.path.join(os.path.dirname(p), "test.xml") for p in r.logs]
        outcome.xml += xml
        count_runs(target, xml, outcome)
        if r.status != "PASSED":
            texts = []
            for p in r.logs:
                try:
                    with open(p, errors="replace") as f:
                        texts.append(f.read())
                except OSError:
                    pass
            outcome.logs[target] = "\n".join(texts)


RUN_DIR = re.compile(r"run_(\d+)_of_\d+")


def count_runs(target, xml, outcome):
    """With --runs_per_test=N, each run writes its own test.xml (.../TARGET/run_K_of_N/test.xml,
    or .../shard_S_of_M/... in each run's directory when sharded): in how many runs each
    case failed, and the whole target ("*") died or did not build."""
    failed = {}
    for path in xml:
        run = RUN_DIR.search(path)
        run = run.group(1) if run else "1"
        try:
            with open(path) as f:
                cases, crashed = parse_test_xml(f.read())
        except (OSError, ET.ParseError):
            cases, crashed = {}, "unreadable"
        for case, (ok, _) in cases.items():
            if not ok:
                failed.setdefault((target, case), set()).add(run)
        if crashed or not cases:
            failed.setdefault((target, "*"), set()).add(run)
        if crashed or not cases or not all(ok for ok, _ in cases.values()):
            outcome.failed_logs.setdefault(target, []).append(os.path.join(os.path.dirname(path), "test.log"))
    if not xml:
        failed[(target, "*")] = {"1"}
    for k, runs in failed.items():
        outcome.failed_runs[k] = len(runs)


def run_experiment(root, dest, exp, log, while_patched=None):
    """Runs `exp` in the scratch copy dest (which holds the reference code) and puts every
    file back. while_patched(outcome), if given, runs before the files are restored."""
    lesson = exp.lesson
    keep = ["%s/%s" % (lesson.package, e) for e in lesson.edits]
    fd, patch_file = tempfile.mkstemp(prefix="elfs-experiment-", suffix=".patch")
    with os.fdopen(fd, "w") as f:
        f.write(exp.diff)
    outcome = Outcome()
    try:
        with Patched(dest, patch_file, exp.diff, keep=keep, name=exp.path):
            copy_reference(root, lesson, dest, source=dest)
            start = os.path.getsize(log) if os.path.exists(log) else 0
            # A cached PASS would say nothing about this patch's races: always run the tests.
            extra = ["--nocache_test_results"] + (["--runs_per_test=%d" % exp.runs] if exp.runs > 1 else [])
            outcome.runs = exp.runs
            began = time.time()
            results, _ = bazel_test(["//%s:all" % lesson.package], root=dest, config=exp.config, extra=extra, log=log)
            outcome.seconds = time.time() - began
            with open(log, errors="replace") as f:
                f.seek(start)
                outcome.output = f.read()
            collect(results, outcome, lesson)
            for key in exp.measures:
                try:
                    outcome.measured[key] = measure(key, dest, exp, outcome, log)
                except (UsageError, OSError, ValueError) as e:
                    outcome.measured[key], outcome.measure_errors[key] = None, str(e)
            if while_patched:
                while_patched(outcome)
    finally:
        os.remove(patch_file)
    return outcome


def _xml_cases(paths):
    for p in paths:
        try:
            tree = ET.parse(p)
        except (OSError, ET.ParseError):
            continue
        for tc in tree.getroot().iter("testcase"):
            yield tc


def measure(key, dest, exp, outcome, log):
    kind, _, rest = key.partition(":")
    if kind == "property":
        values = []
        for tc in _xml_cases(outcome.xml):
            props = dict(tc.attrib)
            props.update({p.get("name"): p.get("value") for p in tc.iter("property")})
            if _number(props.get(rest, "")):
                values.append(float(props[rest]))
        if not values:
            raise UsageError("no test case of lesson %s recorded %r" % (exp.lesson.number, rest))
        return max(values)
    if kind == "seconds":
        target, case = rest.split(":", 1)
        for tc in _xml_cases(x for x in outcome.xml if os.sep + target + os.sep in x):
            if "%s.%s" % (tc.get("classname"), tc.get("name")) == case:
                return float(tc.get("time", "nan"))
        raise UsageError("%s %s did not run" % (target, case))
    target, counter, *flt = rest.split(":", 2)
    label = "//%s:%s" % (exp.lesson.package, target)
    with open(log, "a") as out:
        build = subprocess.call(["bazel", "build"] + (["--config=" + exp.config] if exp.config else []) + [label],
                                cwd=dest, env=bazel_env(), stdout=out, stderr=subprocess.STDOUT)
    if build != 0:
        raise UsageError("%s does not build" % label)
    args = [os.path.join(dest, "bazel-bin", exp.lesson.package, target), "--benchmark_format=json",
            "--benchmark_min_time=0.01"] + ["--benchmark_filter=" + f for f in flt]
    proc = subprocess.run(args, cwd=dest, capture_output=True, text=True, timeout=600)
    values = [b[counter] for b in json.loads(proc.stdout).get("benchmarks", []) if counter in b]
    if not values:
        raise UsageError("%s reported no counter %r" % (label, counter))
    return max(values)


def judge(exp, outcome):
    """The ways the outcome differs from what the experiment says; empty when it holds."""
    problems = []
    expected, actual = set(exp.fails), set(outcome.failing)
    for t, c in sorted(expected - actual):
        problems.append("%s %s should fail but %s" % (t, c, "did not run" if c == "*" else "passed" if
                                                       outcome.runs == 1 else "passed in all %d runs" % outcome.runs))
    for t, c in sorted(actual - expected):
        problems.append("%s %s failed too: %s" % (t, c, first_lines(outcome.failing[(t, c)], 1)))
    for fragment in exp.shows:
        if not shows(outcome, fragment):
            problems.append("no failure message, test.log or Bazel output says %r" % fragment)
    for key, op, value in exp.expects:
        got = outcome.measured.get(key)
        if got is None:
            problems.append("%s could not be measured: %s" % (key, outcome.measure_errors.get(key, "not measured")))
        elif not OPS[op](got, value):
            problems.append("%s is %g, expected %s %g" % (key, got, op, value))
    return problems


def shown_text(outcome):
    return "\n".join(list(outcome.failing.values()) + list(outcome.logs.values()) + [outcome.output])


def shows(outcome, fragment):
    return fragment.lower() in shown_text(outcome).lower()


def first_lines(message, n):
    lines = [l for l in (message or "").strip().splitlines() if l.strip()]
    return "\n".join(lines[:n]) + (" ..." if len(lines) > n else "")
