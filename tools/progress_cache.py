"""./tools/progress's memory: per-case results of each lesson test, keyed by what defines
the run, so that a re-run with nothing changed does not run any test again.

Bazel never caches a failing test, and a fresh checkout is mostly failing tests (lesson 09's
starter alone takes ~22 s), so `bazel test //lessons/...` repeats them all on every call.
Instead, progress builds first (`bazel build //lessons/...`, fast when nothing changed),
then computes a key per test target from:

  - the built test binary and every file in its runfiles tree (the shared libraries of
    the lesson, the library files it links, tests/support, data files), by content;
  - the package's BUILD.bazel and tools/bazel/lesson.bzl (test args, env, size);
  - every bazelrc that can set test flags (.bazelrc, user.bazelrc, ~/.bazelrc,
    /etc/bazel/bazelrc), and this file's format version.

Any edit to a source or header a test depends on changes an object file and so the binary
or one of its shared libraries; an edit that changes no byte of any of them cannot change
what the test does. Results are stored as JSON under .cache/progress/ (gitignored); a
missing, stale or unreadable file is simply a miss. Only definite outcomes (PASSED or
FAILED with per-case results, or a crash) are stored; timeouts and the like run again.
"""

import hashlib
import json
import os

from workshop_common import TargetResult

VERSION = 1
CACHE_DIR = os.path.join(".cache", "progress")
_RC_FILES = [".bazelrc", "user.bazelrc", os.path.expanduser("~/.bazelrc"), "/etc/bazel/bazelrc"]


def _hash_file(h, path):
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)


def _add(h, name, path):
    h.update(b"\0" + name.encode() + b"\0")
    try:
        _hash_file(h, path)
    except OSError:
        h.update(b"<missing>")


def target_key(label, binary, root):
    """The key of one test target, or None when its binary is not there."""
    if not binary or not os.path.isfile(binary):
        return None
    h = hashlib.sha256()
    h.update(("elfs-progress %d %s" % (VERSION, label)).encode())
    _add(h, "binary", binary)
    runfiles = binary + ".runfiles"
    for dirpath, dirs, files in os.walk(runfiles, followlinks=True):
        dirs.sort()
        for f in sorted(files):
            path = os.path.join(dirpath, f)
            _add(h, os.path.relpath(path, runfiles), path)
    package = label.lstrip("/").split(":")[0]
    _add(h, "BUILD", os.path.join(root, package, "BUILD.bazel"))
    _add(h, "lesson.bzl", os.path.join(root, "tools", "bazel", "lesson.bzl"))
    for rc in _RC_FILES:
        _add(h, rc, os.path.join(root, rc))
    return h.hexdigest()


def _path(root, label):
    name = label.lstrip("/").replace("/", "_").replace(":", "__")
    return os.path.join(root, CACHE_DIR, name + ".json")


def load(root, label, key):
    """The cached TargetResult for label under key, or None (miss, stale or unreadable)."""
    if key is None:
        return None
    try:
        with open(_path(root, label)) as f:
            data = json.load(f)
        if data.get("version") != VERSION or data.get("key") != key or data.get("label") != label:
            return None
        r = TargetResult(label, str(data["status"]))
        r.cases = {str(c): (bool(ok), str(msg)) for c, ok, msg in data["cases"]}
        r.crashed = data.get("crashed") or False
        if r.status not in ("PASSED", "FAILED") or (not r.cases and not r.crashed):
            return None
        return r
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def store(root, label, key, result):
    """Remembers a definite result; returns True if it was stored."""
    if key is None or result.status not in ("PASSED", "FAILED") or (not result.cases and not result.crashed):
        return False
    data = {"version": VERSION, "label": label, "key": key, "status": result.status,
            "cases": [[c, ok, msg] for c, (ok, msg) in result.cases.items()], "crashed": result.crashed or None}
    path = _path(root, label)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + ".tmp%d" % os.getpid()
        with open(tmp, "w") as f:
            json.dump(data, f)
        os.replace(tmp, path)  # a reader never sees half a file
        return True
    except OSError:
        return False
