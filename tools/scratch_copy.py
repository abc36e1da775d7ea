"""A scratch copy of the checkout, where the lessons' reference code stands in for the
starters: what ./tools/check (check_scratch.py) and ./tools/break (break.py) share.

lessons/manifest.txt names, for each file a learner edits (lessons/DIR/FILE), the reference
file it becomes (REF: loop/... or solutions/DIR/...). A scratch copy holds the checkout's
files (tracked, and untracked but not ignored), with every REF copied over its FILE, so
the lessons' own tests run against the reference code there and never touch the
learner's files. A patch (a checkpoint, a sanitizer quote's patch, an experiment) is
applied in the copy and undone byte for byte afterwards (Patched).

Imported by the learner's ./tools/break and by the maintainer suite; it imports only
workshop_common. Python 3 standard library only.
"""

import filecmp
import os
import re
import shutil
import subprocess

from workshop_common import UsageError


def tracked_files(root, *patterns):
    """The checkout's files as git sees them: tracked, and untracked but not ignored."""
    proc = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "--"] + list(patterns),
                          cwd=root, capture_output=True, text=True)
    return [f for f in proc.stdout.splitlines() if os.path.isfile(os.path.join(root, f))]


def edited_files(lessons):
    """Every lessons/DIR/FILE a learner edits (the copy holds the reference there)."""
    return {"%s/%s" % (l.package, e) for l in lessons for e in l.edits}


def copy_checkout(root, dest, skip=(), previous=()):
    """Makes dest hold the checkout's files: copies each one whose content differs (so a
    persistent copy's Bazel rebuilds only what changed), leaves out `skip`, and removes
    the files of `previous` (an earlier copy's list) that the checkout no longer has.
    Returns the list of files copied or kept."""
    files = [f for f in tracked_files(root) if f not in skip]
    for f in files:
        src, dst = os.path.join(root, f), os.path.join(dest, f)
        if os.path.isfile(dst) and filecmp.cmp(src, dst, shallow=False):
            continue
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(src, dst)
    gone = set(previous) - set(files) - set(skip)
    for f in gone:
        try:
            os.remove(os.path.join(dest, f))
        except OSError:
            pass
    return files


def copy_reference(root, lesson, dest, source=None):
    """Copies each REF of `lesson` over its FILE in dest. source: where the REFs are read
    (root, or dest itself after a patch changed them there)."""
    source = source or root
    for e in lesson.edits:
        src, dst = os.path.join(source, lesson.reference(e)), os.path.join(dest, lesson.package, e)
        if os.path.isfile(dst) and filecmp.cmp(src, dst, shallow=False):
            continue
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(src, dst)


def copy_references(root, lessons, dest):
    for l in lessons:
        copy_reference(root, l, dest)


DIFF_PATH = re.compile(r"^diff --git a/(\S+) b/(\S+)$", re.M)


def patch_paths(diff):
    """The repo-relative files a `diff --git` patch changes, in order."""
    paths = []
    for a, b in DIFF_PATH.findall(diff):
        for p in (a, b):
            if p not in paths:
                paths.append(p)
    return paths


def git_apply(dest, patch_file, reverse=False, unidiff_zero=False):
    """`git apply` in dest, which may lie inside another git checkout (.cache/break/ does):
    GIT_CEILING_DIRECTORIES keeps git from finding that checkout, where it would apply
    nothing and say nothing. Returns the CompletedProcess."""
    cmd = ["git", "apply", "--whitespace=nowarn"] + (["-R"] if reverse else []) + \
        (["--unidiff-zero"] if unidiff_zero else []) + [patch_file]
    env = dict(os.environ, GIT_CEILING_DIRECTORIES=os.path.dirname(os.path.abspath(dest)))
    return subprocess.run(cmd, cwd=dest, capture_output=True, text=True, env=env)


class Patched:
    """with Patched(dest, patch_file, diff, keep=[...]): the patch applied in dest, and on
    leaving every file it touched, and every path in `keep`, exactly as it was before."""

    def __init__(self, dest, patch_file, diff, keep=(), name=None):
        self.dest, self.patch_file, self.name = dest, patch_file, name or patch_file
        self.paths = patch_paths(diff)
        self.saved = {}
        for p in list(self.paths) + list(keep):
            self.saved[p] = self._read(p)

    def __enter__(self):
        if not self.paths:
            raise UsageError("%s holds no 'diff --git a/PATH b/PATH' section" % self.name)
        proc = git_apply(self.dest, self.patch_file)
        if proc.returncode != 0:
            self.restore()
            raise UsageError("%s does not apply to the reference code: %s"
                             % (self.name, " ".join(proc.stderr.strip().splitlines()[:2])))
        unchanged = [p for p in self.paths if self._read(p) == self.saved.get(p)]
        if unchanged:
            self.restore()
            raise UsageError("%s applied but changed nothing in %s" % (self.name, ", ".join(unchanged)))
        return self

    def __exit__(self, *exc):
        self.restore()
        return False

    def _read(self, p):
        full = os.path.join(self.dest, p)
        if not os.path.isfile(full):
            return None
        with open(full, "rb") as f:
            return f.read()

    def restore(self):
        for p, data in self.saved.items():
            full = os.path.join(self.dest, p)
            if data is None:
                if os.path.exists(full):
                    os.remove(full)
            elif self._read(p) != data:
                with open(full, "wb") as f:
                    f.write(data)

