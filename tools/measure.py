#!/usr/bin/env python3
"""Measured figures for the docs: markers, their data file, and the lint.

A figure that a README or doc quotes is written between markers:

    <!-- measured:cold_build_s -->62 s<!-- /measured -->

`tools/measure --update-docs` rewrites every marker's text from docs/measurements.json,
and lint_measured(root) reports every marker whose text differs from the data file, or
names a key the data file does not have.

STATUS: only the marker/lint half exists so far. The measuring half (a scratch copy of
the checkout, cold build, one-line edit, lesson 09 starter time, first tsan/asan build,
machine description, docs/measurements.md) is not written yet.
"""

import json
import os
import re
import sys

DATA = os.path.join("docs", "measurements.json")
MARKER = re.compile(r"<!-- measured:([a-z0-9_]+) -->(.*?)<!-- /measured -->", re.S)
DOC_GLOBS = ("README.md", "docs", "lessons")


def _doc_files(root):
    top = os.path.join(root, "README.md")
    if os.path.isfile(top):
        yield top
    for sub in ("docs", "lessons"):
        for dirpath, _, names in os.walk(os.path.join(root, sub)):
            for name in sorted(names):
                if name.endswith(".md"):
                    yield os.path.join(dirpath, name)


def _load(root):
    path = os.path.join(root, DATA)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _text(value):
    """How a data-file entry is written in a doc: {"text": "62 s"} or a plain string."""
    if isinstance(value, dict):
        return str(value.get("text", ""))
    return str(value)


def lint_measured(root):
    """Returns one message per marker whose text is not the data file's value."""
    problems = []
    data = None
    for path in _doc_files(root):
        with open(path, encoding="utf-8") as f:
            content = f.read()
        for m in MARKER.finditer(content):
            if data is None:
                data = _load(root)
                if data is None:
                    problems.append(f"{DATA} is missing but {os.path.relpath(path, root)} has measured markers")
                    return problems
            key, shown = m.group(1), m.group(2)
            line = content.count("\n", 0, m.start()) + 1
            rel = os.path.relpath(path, root)
            if key not in data:
                problems.append(f"{rel}:{line}: measured:{key} is not in {DATA}")
            elif shown != _text(data[key]):
                problems.append(
                    f"{rel}:{line}: measured:{key} shows {shown!r}, {DATA} says {_text(data[key])!r} "
                    "(run tools/measure --update-docs)")
    return problems


def update_docs(root):
    data = _load(root)
    if data is None:
        raise SystemExit(f"{DATA} is missing: run tools/measure first")
    changed = []
    for path in _doc_files(root):
        with open(path, encoding="utf-8") as f:
            content = f.read()
        def repl(m):
            key = m.group(1)
            if key not in data:
                return m.group(0)
            return f"<!-- measured:{key} -->{_text(data[key])}<!-- /measured -->"
        new = MARKER.sub(repl, content)
        if new != content:
            with open(path, "w", encoding="utf-8") as f:
                f.write(new)
            changed.append(os.path.relpath(path, root))
    return changed


def main(argv):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if argv[1:] == ["--update-docs"]:
        for p in update_docs(root):
            print("updated", p)
        return 0
    if argv[1:] == ["--lint"]:
        problems = lint_measured(root)
        for p in problems:
            print(p)
        return 1 if problems else 0
    print("tools/measure: measuring is not implemented yet; only --update-docs and --lint",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
