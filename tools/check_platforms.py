"""./tools/check's platform lint: docs/platforms.md, the BUILD files and the macOS job of
.github/workflows/check.yml say the same thing about which targets run on macOS.

docs/platforms.md has one table, a row per test and program:

    | Target | On macOS | Why, and what it would need |
    | `//lessons/03_raw_kqueue:kqueue_test` | yes | the native kqueue |

"On macOS" is `yes` (runs there as on Linux), `partly` (runs; the cases the row names
skip) or `no` (not run there). This lint checks that

  - every cc_test, sh_test and cc_binary of the BUILD files has exactly one row, and every
    row names such a target;
  - a target that Bazel skips on macOS (it, or anything it depends on, has
    target_compatible_with = ["@platforms//os:linux"]) is `no`, and its row names that
    Linux-only target (itself, or the dependency that carries the mark);
  - the macOS job names exactly the `yes` and `partly` targets, none of them manual.

The BUILD files are read by running them as Python with stand-ins for Bazel's functions
(lesson() is the real tools/bazel/lesson.bzl, on a stand-in `native`), so no Bazel is
needed. Part of the maintainer suite (check_suite.py lists the modules). Python 3 standard
library only.
"""

import os
import re

TABLE = "docs/platforms.md"
WORKFLOW = ".github/workflows/check.yml"
LINUX_ONLY = ["@platforms//os:linux"]
STATUSES = ("yes", "partly", "no")
RUNNABLE = ("cc_test", "sh_test", "cc_binary")
_LABEL = re.compile(r"//[A-Za-z0-9_/.-]*:[A-Za-z0-9_.-]+")


class _Select:
    """select({...}): keeps every branch, so that no dependency is missed."""

    def __init__(self, branches):
        self.values = []
        for v in branches.values():
            self.values += v if isinstance(v, list) else [v]

    def __radd__(self, other):
        return list(other) + self.values

    def __add__(self, other):
        return self.values + list(other)


def _labels(value):
    if isinstance(value, _Select):
        value = value.values
    if isinstance(value, str):
        value = [value]
    return [v for v in (value or []) if isinstance(v, str)]


def _absolute(label, package):
    if label.startswith(":"):
        return "//%s%s" % (package, label)
    if label.startswith("//") and ":" not in label:
        return label + ":" + label.rsplit("/", 1)[-1]
    return label


class _Package:
    """Stand-ins for what a BUILD file may call; records each rule it declares."""

    def __init__(self, package, rules, root):
        self.package, self.rules, self.root = package, rules, root

    def rule(self, kind):
        def declare(name, **attrs):
            deps = []
            for attr in ("deps", "data", "srcs", "actual"):
                deps += [_absolute(l, self.package) for l in _labels(attrs.get(attr))
                         if l.startswith((":", "//"))]
            self.rules["//%s:%s" % (self.package, name)] = {
                "kind": kind, "deps": deps, "manual": "manual" in (attrs.get("tags") or []),
                "linux_only": _labels(attrs.get("target_compatible_with")) == LINUX_ONLY}
        return declare

    def namespace(self):
        ns = {"select": _Select, "glob": lambda *a, **k: [], "package": lambda **k: None,
              "exports_files": lambda *a, **k: None, "licenses": lambda *a: None,
              "True": True, "False": False, "None": None}
        for kind in ("cc_library", "cc_test", "cc_binary", "sh_test", "sh_binary", "alias",
                     "config_setting", "platform", "toolchain", "filegroup"):
            ns[kind] = self.rule(kind)
        ns["load"] = lambda path, *names: ns.update(self.load(path, names))
        return ns

    def load(self, path, names):
        if path != "//tools/bazel:lesson.bzl":
            return {n: (lambda *a, **k: None) for n in names}
        pkg = self

        class Native:
            def __getattr__(self, kind):
                if kind == "package_name":
                    return lambda: pkg.package
                if kind in ("glob", "exports_files"):
                    return lambda *a, **k: []
                return pkg.rule(kind)

        def fail(msg):
            raise ValueError(msg)

        ns = {"native": Native(), "fail": fail}
        with open(os.path.join(self.root, "tools", "bazel", "lesson.bzl")) as f:
            exec(compile(f.read(), "tools/bazel/lesson.bzl", "exec"), ns)
        return {n: ns[n] for n in names}


def build_rules(root):
    """{label: {"kind", "deps", "manual", "linux_only"}} for every BUILD.bazel under
    lessons/, loop/ and tests/ (and the top-level one)."""
    rules = {}
    for top in ("", "lessons", "loop", "tests"):
        start = os.path.join(root, top)
        if not os.path.isdir(start):
            continue
        for dirpath, dirs, files in os.walk(start):
            dirs[:] = sorted(d for d in dirs if not (top == "" or d.startswith(("bazel-", "."))))
            if "BUILD.bazel" not in files:
                continue
            package = os.path.relpath(dirpath, root).replace(os.sep, "/").strip(".")
            with open(os.path.join(dirpath, "BUILD.bazel")) as f:
                text = f.read()
            exec(compile(text, os.path.join(package, "BUILD.bazel"), "exec"),
                 _Package(package, rules, root).namespace())
    return rules


def linux_only_cause(label, rules, seen=None):
    """The Linux-only target that keeps `label` off macOS (itself or a dependency), or None."""
    seen = set() if seen is None else seen
    if label in seen or label not in rules:
        return None
    seen.add(label)
    if rules[label]["linux_only"]:
        return label
    for dep in rules[label]["deps"]:
        cause = linux_only_cause(dep, rules, seen)
        if cause:
            return cause
    return None


def read_table(root):
    """[(line number, label, status, why)] for the table rows of docs/platforms.md."""
    rows = []
    with open(os.path.join(root, TABLE)) as f:
        for n, line in enumerate(f, 1):
            m = re.match(r"\|\s*`(//[^`]+)`\s*\|\s*([^|]*?)\s*\|(.*)\|\s*$", line)
            if m:
                rows.append((n, m.group(1), m.group(2), m.group(3).strip()))
    return rows


def macos_job_labels(root):
    """The target labels the macos job of the workflow names, in order."""
    with open(os.path.join(root, WORKFLOW)) as f:
        lines = f.read().splitlines()
    job, labels = False, []
    for line in lines:
        if re.match(r"^  [A-Za-z0-9_-]+:\s*$", line):
            job = line.strip() == "macos:"
            continue
        if job and not line.lstrip().startswith("#"):
            labels += _LABEL.findall(line)
    return labels


def lint_platforms(root):
    """Problems (strings); none when the table, the BUILD files and the workflow agree."""
    problems = []
    for path in (TABLE, WORKFLOW):
        if not os.path.isfile(os.path.join(root, path)):
            return ["%s is missing" % path]
    rules = build_rules(root)
    runnable = {l for l, r in rules.items() if r["kind"] in RUNNABLE}
    rows = read_table(root)
    seen = {}
    for n, label, status, why in rows:
        where = "%s:%d" % (TABLE, n)
        if label in seen:
            problems.append("%s: %s has a row already (line %d)" % (where, label, seen[label]))
        seen[label] = n
        if label not in runnable:
            problems.append("%s: %s is no test or program of the BUILD files" % (where, label))
            continue
        if status not in STATUSES:
            problems.append("%s: %s: 'On macOS' is %r, not one of %s" % (where, label, status, "/".join(STATUSES)))
        cause = linux_only_cause(label, rules)
        if cause and status != "no":
            problems.append("%s: %s is skipped on macOS (%s is Linux only), so it is 'no', not %r"
                            % (where, label, cause, status))
        if cause and "`%s`" % cause not in why:
            problems.append("%s: %s is skipped on macOS because of %s: name `%s` in its row"
                            % (where, label, cause, cause))
        if status != "no" and rules[label]["manual"]:
            problems.append("%s: %s is manual, so no job runs it: it is 'no'" % (where, label))
    for label in sorted(runnable - set(seen)):
        problems.append("%s has no row for %s: say whether it runs on macOS, and why" % (TABLE, label))
    want = {label for _, label, status, _ in rows if status in ("yes", "partly")}
    job = macos_job_labels(root)
    for label in sorted(want - set(job)):
        problems.append("%s: the macos job does not run %s, which %s says runs on macOS" % (WORKFLOW, label, TABLE))
    for label in sorted(set(job) - want):
        problems.append("%s: the macos job runs %s, which %s does not say runs on macOS" % (WORKFLOW, label, TABLE))
    return problems
