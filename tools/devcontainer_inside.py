#!/usr/bin/env python3
"""The checks ./tools/devcontainer-test runs inside the dev container, in the mounted
snapshot of the checkout: one line per check, "ok WHAT" or "FAIL WHAT".

    python3 tools/devcontainer_inside.py starters   bazel test //lessons/...: every starter
                                                    fails exactly what lessons/manifest.txt
                                                    lists; Bazel's summary line is README's
    python3 tools/devcontainer_inside.py solved     every reference copied over its starter
                                                    (in place: the snapshot is thrown away),
                                                    then every lesson test passes

Python 3 standard library only.
"""

import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from check_lint import compare_starter  # noqa: E402
from workshop_common import ROOT, bazel_test, load_manifest  # noqa: E402


def quoted_summary(readme_text):
    """The `Executed N out of N tests: ...` line that README.md shows for a fresh checkout."""
    m = re.search(r"^(Executed \d+ out of \d+ tests?: .*)$", readme_text, flags=re.M)
    return m.group(1).strip() if m else None


def summary_line(bazel_output):  # the last such line of Bazel's output
    m = re.findall(r"^(Executed \d+ out of \d+ tests?: .*)$", bazel_output, flags=re.M)
    return m[-1].strip() if m else None


def inside_starters(root=ROOT):
    lessons = load_manifest(root)
    log = os.path.join(tempfile.mkdtemp(prefix="elfs-inside-"), "bazel.log")
    results, _ = bazel_test(["//lessons/..."], root=root, log=log)
    problems = [p for l in lessons for p in compare_starter(l, results)]
    print("%s every starter fails exactly the cases lessons/manifest.txt lists (%d test targets)"
          % ("FAIL" if problems else "ok", len(results)))
    for p in problems:
        print("FAIL " + p)
    with open(log) as f:
        got = summary_line(f.read())
    with open(os.path.join(root, "README.md")) as f:
        want = quoted_summary(f.read())
    print("%s bazel test //lessons/... says %r; README.md quotes %r" % ("ok" if got and got == want else "FAIL",
                                                                         got, want))


def inside_solved(root=ROOT):
    lessons = load_manifest(root)
    for l in lessons:
        for e in l.edits:
            shutil.copy2(os.path.join(root, l.reference(e)), os.path.join(root, l.package, e))
    log = os.path.join(tempfile.mkdtemp(prefix="elfs-inside-"), "bazel.log")
    results, code = bazel_test(["//lessons/..."], root=root, log=log)
    bad = sorted(label for label, r in results.items() if r.status != "PASSED")
    print("%s with every reference copied in, bazel test //lessons/... passes %d of %d test targets%s"
          % ("ok" if code == 0 and results and not bad else "FAIL", len(results) - len(bad), len(results),
             (": not " + ", ".join(bad)) if bad else ""))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv not in (["starters"], ["solved"]):
        sys.stderr.write("usage: python3 tools/devcontainer_inside.py starters|solved\n")
        return 2
    os.environ.setdefault("ELFS_SHELL_PATH", os.environ.get("PATH", ""))
    (inside_starters if argv == ["starters"] else inside_solved)()
    return 0


if __name__ == "__main__":
    sys.exit(main())
