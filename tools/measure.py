#!/usr/bin/env python3
"""Measured figures for the docs: markers, their data file, and the lint.

A figure that a README or doc quotes is written between markers:

    <!-- measured:cold_build_s -->62 s<!-- /measured -->

`tools/measure --update-docs` rewrites every marker's text from docs/measurements.json,
and lint_measured(root) reports every marker whose text differs from the data file, or
names a key the data file does not have.

`tools/measure` (no arguments) measures, in a scratch copy of the checkout with a Bazel of
its own (`startup --output_user_root` in the copy's .bazelrc, so nothing is cached and the
developer's own Bazel state is untouched), what a learner meets: the first build, the
edit-test loop, `./tools/progress` (first run, nothing changed, one line edited), lesson
09's starter and solved test times (solved: the manifest's reference files copied over the
starter in the copy, as ./tools/check does, then the starter put back), and each threaded
lesson's first `--config=asan` and `--config=tsan` build. It records the machine and its load, writes docs/measurements.json,
regenerates docs/measurements.md from it, and updates the markers (--update-docs).
It takes about ten minutes; run it on an idle machine and commit the result.
"""

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

from workshop_common import find_lesson, load_manifest

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


BENCH_RESULTS = os.path.join("docs", "benchmarks", "results.json")

# The benchmark figures the README quotes: key -> (binary, result name, what). Pinned runs
# (one CPU), whose ratios are the stable ones on a 2-core VM.
BENCH_HEADLINES = {
    "bench_round_trip_waker_ratio": ("round_trip", "round_trip/waker/epoll/eventfd", "ratio"),
    "bench_round_trip_asio_ratio": ("round_trip", "round_trip/asio_post_reactor", "ratio"),
    "bench_round_trip_asio_futex_ratio": ("round_trip", "round_trip/asio_post_futex", "ratio"),
    "bench_round_trip_mio_ratio": ("round_trip", "round_trip/mio_waker", "ratio"),
    "bench_round_trip_libuv_ratio": ("round_trip", "round_trip/libuv_async_send", "ratio"),
    "bench_round_trip_raw_ns": ("round_trip", "round_trip/raw_eventfd_epoll", "ns"),
    "bench_pending_wake_raw_ns": ("pending_wake", "pending_wake/raw_eventfd_write", "ns"),
    "bench_pending_wake_waker_ns": ("pending_wake", "pending_wake/waker/epoll/eventfd", "ns"),
    "bench_pending_wake_waker_writes": ("pending_wake", "pending_wake/waker/epoll/eventfd",
                                        "write_syscalls_per_call"),
    "bench_post_4_producers_asio_ratio": ("post_throughput", "post_throughput/event_loop/producers:4",
                                          "ratio"),
    "bench_post_1_producer_asio_ratio": ("post_throughput", "post_throughput/event_loop/producers:1",
                                         "ratio"),
    "bench_wait_10k_idle_ratio": ("wait_scaling", "wait_scaling/epoll/idle:10000", "ratio"),
}


def bench_headlines(root):
    """The BENCH_HEADLINES figures from ./tools/bench's results.json ({} without it)."""
    path = os.path.join(root, BENCH_RESULTS)
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    binaries = {b["name"]: b for b in data.get("binaries", [])}
    out = {}
    for key, (binary, name, what) in BENCH_HEADLINES.items():
        result = binaries.get(binary, {}).get("runs", {}).get("pinned", {}).get("results", {}).get(name)
        if not result:
            continue
        if what == "ratio" and result.get("ratio") is not None:
            out[key] = {"text": "%.2fx" % result["ratio"]}
        elif what == "ns":
            out[key] = {"text": "{:,} ns".format(round(result["ns"]))}
        elif what in result.get("counters", {}):
            out[key] = {"text": "%.2f" % result["counters"][what]}
    redis = data.get("redis", {}).get("modes", {}).get("pinned", {})
    for pipeline in (1, 16):
        row = redis.get("P%d" % pipeline, {}).get("GET", {})
        if row.get("ratio") is not None:
            out["bench_redis_get_p%d_ratio" % pipeline] = {"text": "%.2fx" % row["ratio"]}
    return out


def _load(root):
    """docs/measurements.json (tools/measure) plus the benchmark headlines (tools/bench)."""
    path = os.path.join(root, DATA)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    data.update(bench_headlines(root))
    return data


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


# --- measuring ---------------------------------------------------------------------------

THREADED = ("05_registry", "06_eventfd_waker", "07_kqueue_pipe_waker", "08_arc", "09_early_drop")


def _bazel_env():
    """As workshop_common.bazel_env: Bazel gets the shell's PATH, which the tools/ scripts
    save in ELFS_SHELL_PATH (ELFS: Event Loop From Scratch)."""
    env = dict(os.environ)
    shell_path = env.pop("ELFS_SHELL_PATH", None)
    if shell_path:
        env["PATH"] = shell_path
    return env


def _timed(cmd, cwd, log):
    """Runs cmd, appending its output to log; returns (seconds, exit code, output)."""
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=_bazel_env())
    seconds = time.monotonic() - started
    with open(log, "a") as f:
        f.write("$ %s\n%s%s\n" % (" ".join(cmd), proc.stdout, proc.stderr))
    return seconds, proc.returncode, proc.stdout + proc.stderr


def test_seconds(output, label):
    """The time Bazel reports for one test: `//a:b   FAILED in 22.6s` or `PASSED in 0.4s`."""
    m = re.search(re.escape(label) + r"\s+(?:\(cached\) )?(?:PASSED|FAILED) in ([0-9.]+)s", output)
    return float(m.group(1)) if m else None


def cpu_model():
    """The CPU's model name from /proc/cpuinfo ("" where there is none)."""
    try:
        with open("/proc/cpuinfo") as f:
            return next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
    except OSError:
        return ""


def _conditions():
    cpu = cpu_model()
    with open("/proc/loadavg") as f:
        load = float(f.read().split()[0])
    others = subprocess.run(["pgrep", "-c", "-f", "A-server.jar|bazel.*server"], capture_output=True, text=True)
    version = subprocess.run(["bazel", "--version"], capture_output=True, text=True, env=_bazel_env()).stdout.strip()
    if "no_version" in version:  # Debian's bazel-bootstrap does not know its version
        deb = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "bazel-bootstrap"], capture_output=True, text=True)
        version = "Debian bazel-bootstrap " + deb.stdout.strip() if deb.returncode == 0 else version
    return {
        "date": time.strftime("%Y-%m-%d"),
        "cores": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "os": os_name(),
        "bazel": version,
        "load_before": load,
        "other_bazel_servers": int((others.stdout or "0").strip() or 0),
    }


def os_name():
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.system()


def _s(seconds):
    return "%d s" % round(seconds) if seconds >= 10 else "%.1f s" % seconds


def measure(root, out=sys.stdout):
    tmp = tempfile.mkdtemp(prefix="elfs-measure-")
    work = os.path.join(tmp, "checkout")
    log = os.path.join(root, "bazel-measure.log")
    open(log, "w").close()
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=root,
                           capture_output=True, text=True, check=True).stdout.splitlines()
    for f in files:
        src = os.path.join(root, f)
        if os.path.isfile(src):
            os.makedirs(os.path.dirname(os.path.join(work, f)), exist_ok=True)
            shutil.copy2(src, os.path.join(work, f))
    with open(os.path.join(work, ".bazelrc"), "a") as f:
        f.write("\nstartup --output_user_root=%s\n" % os.path.join(tmp, "bazel-root"))
    data = {"conditions": _conditions()}

    def note(key, seconds, text=None, **extra):
        data[key] = dict(text=text or _s(seconds), seconds=round(seconds, 2), **extra)
        out.write("%-28s %s\n" % (key, data[key]["text"]))
        out.flush()

    def must(result, what):
        seconds, code, output = result
        if code not in (0, 3):  # 3: some tests failed, which the starters do by design
            raise SystemExit("tools/measure: %s failed (exit %d); see bazel-measure.log" % (what, code))
        return seconds, output

    try:
        # What ./tools/start does on a new machine: Bazel unpacks itself, starts, builds all.
        seconds, _ = must(_timed(["bazel", "build", "--keep_going", "//lessons/..."], work, log), "the first build")
        note("first_build", seconds)
        seconds, output = must(_timed(["bazel", "test", "//lessons/09_early_drop:all"], work, log), "lesson 09")
        note("lesson09_starter_test", test_seconds(output, "//lessons/09_early_drop:early_drop_test") or seconds)
        must(_timed(["bazel", "test", "//lessons/01_fd:all"], work, log), "lesson 01")
        fd_cc = os.path.join(work, "lessons", "01_fd", "fd.cc")
        # A line that changes the object file (a comment would not: the test binary would be
        # the same, and Bazel would give the cached result without running anything).
        with open(fd_cc, "a") as f:
            f.write("int elfs_measure_edit_1 = 1;\n")
        seconds, _ = must(_timed(["bazel", "test", "//lessons/01_fd:all"], work, log), "lesson 01 after an edit")
        note("edit_test_loop", seconds)
        progress = [os.path.join(work, "tools", "progress")]
        seconds, _ = must(_timed(progress + ["--fresh"], work, log), "./tools/progress")
        note("progress_first", seconds)
        seconds, _ = must(_timed(progress, work, log), "./tools/progress")
        note("progress_unchanged", seconds)
        with open(fd_cc, "a") as f:
            f.write("int elfs_measure_edit_2 = 2;\n")
        seconds, _ = must(_timed(progress, work, log), "./tools/progress after an edit")
        note("progress_after_edit", seconds)
        # Lesson 09 solved, as ./tools/check tests it: the references copied over the
        # starter; then the starter is put back for the sanitizer builds below.
        lesson09 = find_lesson(load_manifest(work), "09")
        swapped = [(os.path.join(work, lesson09.reference(e)), os.path.join(work, lesson09.package, e))
                   for e in lesson09.edits]
        for ref, starter in swapped:
            shutil.copy2(starter, starter + ".starter")
            shutil.copy2(ref, starter)
        try:
            seconds, output = must(_timed(["bazel", "test", "//lessons/09_early_drop:all"], work, log),
                                   "lesson 09 with its references copied in")
        finally:
            for _, starter in swapped:
                os.replace(starter + ".starter", starter)
        note("lesson09_solved_test", test_seconds(output, "//lessons/09_early_drop:early_drop_test") or seconds)
        for config in ("asan", "tsan"):
            for package in THREADED:
                # A platform suffix of its own gives each lesson a cold output tree for this
                # config, as if it were the learner's first sanitizer build.
                cmd = ["bazel", "build", "--config=" + config, "--platform_suffix=measure-" + package,
                       "//lessons/%s:all" % package]
                seconds, _ = must(_timed(cmd, work, log), "the %s build of lesson %s" % (config, package[:2]))
                note("first_%s_%s" % (config, package[:2]), seconds)
    finally:
        subprocess.run(["bazel", "shutdown"], cwd=work, capture_output=True, env=_bazel_env())
        shutil.rmtree(tmp, ignore_errors=True)
    data["conditions"]["load_after"] = float(open("/proc/loadavg").read().split()[0])
    with open(os.path.join(root, DATA), "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")
    write_page(root, data)
    return data


def write_page(root, data):
    c = data["conditions"]
    busy = "idle" if c["load_before"] < 0.5 and not c["other_bazel_servers"] else "not idle"
    rows = [
        ("first_build", "the first build (`./tools/start`: `bazel build //lessons/...`), "
                        "Bazel unpacking itself and nothing cached"),
        ("edit_test_loop", "a line of code added to `lessons/01_fd/fd.cc`, then `bazel test //lessons/01_fd:all` (one file recompiled, one test relinked and run)"),
        ("lesson09_starter_test", "lesson 09's starter tests (15 of its 20 failing cases each wait out a 1.5 s deadline)"),
        ("lesson09_solved_test", "the same tests with the reference code copied in (the manifest's references "
                                 "over the starter's files)"),
        ("progress_first", "`./tools/progress --fresh` (every lesson's tests run)"),
        ("progress_unchanged", "`./tools/progress` again, nothing changed"),
        ("progress_after_edit", "`./tools/progress` after a line of code is added to `lessons/01_fd/fd.cc` (its test runs again)"),
    ]
    for config in ("asan", "tsan"):
        for package in THREADED:
            rows.append(("first_%s_%s" % (config, package[:2]),
                         "first `bazel build --config=%s //lessons/%s:all` (plain build done)" % (config, package)))
    lines = [
        "# Measurements",
        "",
        "Generated by `tools/measure` (do not edit by hand; run it again and commit). It measures in",
        "a scratch copy of the checkout with a Bazel of its own, so nothing was cached at the start.",
        "The README and lessons quote these figures between `<!-- measured:KEY -->` markers, and",
        "`./tools/check` fails when a quote and this data (docs/measurements.json) disagree.",
        "",
        "Measured on %s: %d cores (%s), %s, kernel %s, %s. Load average %.2f before and %.2f after"
        % (c["date"], c["cores"], c["cpu"] or "unknown CPU", c["os"], c["kernel"], c["bazel"],
           c["load_before"], c.get("load_after", 0.0)),
        "(%s; other Bazel servers running: %d). On a busier or slower machine expect more."
        % (busy, c["other_bazel_servers"]),
        "",
        "| key | what | time |",
        "|---|---|---|",
    ]
    for key, what in rows:
        if key in data:
            lines.append("| `%s` | %s | %s |" % (key, what, data[key]["text"]))
    lines += ["", "Rebuilds after a `PATH` change are not timed here: `./tools/check` asserts there are none.", ""]
    with open(os.path.join(root, "docs", "measurements.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


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
    if argv[1:]:
        print("usage: tools/measure [--update-docs | --lint]", file=sys.stderr)
        return 2
    measure(root)
    for p in update_docs(root):
        print("updated", p)
    print("wrote %s and docs/measurements.md" % DATA)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
