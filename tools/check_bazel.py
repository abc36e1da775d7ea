"""./tools/check's checks that ask Bazel in the checkout itself: the layering of the
packages (bazel query), a stable action environment, the editor setup (compile_commands.json
and clangd), the sanitizers' reports of the deliberate-bug fixtures, and the tally of a
`bazel test` run. Part of the maintainer suite (see check_suite.py for the list of steps
and check_lint.py for the modules). Python 3 standard library only.
"""

import os
import re
import shutil
import subprocess
import tempfile

import compile_commands
from workshop_common import UsageError, bazel_env


def tally_targets(tally, results, code, step):
    """One tally line per test target of a `bazel test` run: passed or not, and why."""
    if not results:
        tally.add(False, "%s: Bazel produced no test results (exit code %d); see bazel-check.log" % (step, code))
        return
    for label, r in sorted(results.items()):
        ok = r.status == "PASSED"
        why = r.status if not r.crashed else "crashed: %s" % r.crashed
        tally.add(ok, "%s: %s %s" % (step, label, why))


def existing(patterns, root):
    """The patterns whose package directory exists in root."""
    return [p for p in patterns if os.path.isdir(os.path.join(root, p.lstrip("/").split(":")[0].replace("/...", "")))]


# ---------------------------------------------------------------------------------------
# Layering: which package may depend on which (bazel query; nothing is built).


def _query(root, expr):
    """(labels, None) or (None, what went wrong) for `bazel query EXPR`."""
    proc = subprocess.run(["bazel", "query", "--keep_going", expr], cwd=root, capture_output=True, text=True,
                          env=bazel_env())
    if proc.returncode != 0:
        tail = "; ".join(l for l in proc.stderr.strip().splitlines() if l.startswith("ERROR"))[-500:]
        return None, "bazel query '%s' failed (exit %d): %s" % (expr, proc.returncode, tail or "see its output")
    return [l.strip() for l in proc.stdout.splitlines() if l.strip()], None


def library_outsiders(labels):
    """Of deps(//:loop): what is neither in loop/ nor the alias //:loop itself nor in an
    external repository (@...//, the toolchain and system libraries)."""
    return [l for l in labels if not (l == "//:loop" or l.startswith(("//loop:", "//loop/", "@")))]


def layering_rules():
    """(query, how to find the offenders in its output, what it must be, the fix)."""
    return [
        ("deps(//:loop)", library_outsiders,
         "the library (//:loop) depends only on //loop/... and external repositories",
         "the library may not depend on"),
        ("rdeps(//... - //lessons/..., //lessons/...)",
         lambda labels: [l for l in labels if not l.startswith(("//lessons:", "//lessons/"))],
         "nothing outside lessons/ depends on lessons/",
         "these targets outside lessons/ depend on lessons/"),
        ('kind("cc_.*", //tools/...)', lambda labels: labels,
         "tools/ holds no C++ targets (C++ test support lives in tests/support)",
         "tools/ has C++ targets"),
    ]


def check_layering(tally, root):
    """The three layering rules, one tally line each; a failure names the offenders."""
    for expr, offenders_of, rule, failure in layering_rules():
        labels, error = _query(root, expr)
        if error:
            tally.add(False, "layering: %s: %s" % (rule, error))
            continue
        bad = offenders_of(labels)
        tally.add(not bad, "layering: %s" % rule if not bad else
                  "layering: %s: %s" % (failure, " ".join(bad[:20]) + (" ..." if len(bad) > 20 else "")))


# ---------------------------------------------------------------------------------------
# A changed PATH rebuilds nothing.


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


# ---------------------------------------------------------------------------------------
# Editors.


# Files clangd must parse without an error with the compile_commands.json that
# ./tools/compile_commands writes: starters a learner edits (a source, and lesson 09's
# Waker, whose reference is only a file under solutions/, never compiled on its own), the
# library's file of the same name, a cross-lesson test (gtest and loop/loop.h) and the
# header-only //loop:loop.
CLANGD_FILES = ["lessons/05_registry/registry.cc", "lessons/09_early_drop/waker.cc", "loop/waker.cc",
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
                tally.add(False, "clangd --check=%s: the file does not exist (update CLANGD_FILES in "
                          "tools/check_bazel.py)" % f)
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


# ---------------------------------------------------------------------------------------
# Sanitizer reports name the file and line.


SANITIZER_FIXTURES = "tests/support/sanitizer_fixtures"


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


def clang_build(tally, root, log, patterns, what):
    """`bazel build` of patterns with clang instead of the default compiler."""
    if not shutil.which("clang"):
        tally.add(False, "clang is not installed (apt-get install clang)")
        return
    with open(log, "a") as out_log:
        out_log.write("\n$ bazel build --repo_env=CC=clang -- %s (in %s)\n" % (" ".join(patterns), root))
        out_log.flush()
        code = subprocess.call(["bazel", "build", "--keep_going", "--repo_env=CC=clang", "--platform_suffix=clang",
                                "--"] + list(patterns), cwd=root, stdout=out_log, stderr=subprocess.STDOUT,
                               env=bazel_env())
    tally.add(code == 0, "clang build of %s" % what if code == 0 else
              "clang build of %s failed (exit %d); see bazel-check.log" % (what, code))
