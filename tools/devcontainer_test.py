#!/usr/bin/env python3
"""./tools/devcontainer-test: build the dev container and try it as a learner would.

Builds .devcontainer/Dockerfile on an offline Debian 12 base image and times each phase.
Maintainers only; it needs root (the Docker engine, debootstrap).

    engine    the running Docker engine, or dockerd started here (and stopped at the end,
              by its pid; an engine that was already running is left alone)
    base      the image elfs-bookworm-base: `debootstrap --variant=minbase bookworm` into a
              temp folder, kept as .cache/devcontainer/bookworm-minbase.tar, then
              `docker import`; each is skipped when it exists (--rebuild-base redoes both)
    image     docker build --network host -f .devcontainer/Dockerfile --build-arg BASE=...
              (its output, each line timed, in .cache/devcontainer/build.log)
    editor    a snapshot of the checkout (taken before the image, which is built from it; owned
              by uid 1000) in a container with no network, at VS Code's /workspaces/NAME:
              `bazel build //lessons/... //loop/...` must run no action (the image's warm
              cache); ./tools/compile_commands, clangd --check on a starter, ./tools/reset 00
    start     the copy in a new container at /work (the README's `docker run`): ./tools/start,
              whose build must run no action either, and which must name lesson 00 as next
    starters  bazel test //lessons/...: every starter fails exactly what lessons/manifest.txt
              lists, and Bazel's summary line is the one README.md quotes
    solved    every reference copied over its starter: bazel test //lessons/... all green
              (--no-solved skips it)

The last line is "N passed, N failed". Python 3 standard library only.
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from check_lint import tracked_files  # noqa: E402
from workshop_common import ROOT  # noqa: E402

BASE_IMAGE = "elfs-bookworm-base"
IMAGE = "elfs-devcontainer"
CACHE = os.path.join(".cache", "devcontainer")
WARM_TARGETS = ["//lessons/...", "//loop/..."]
CLANGD_FILE = "lessons/01_fd/fd.cc"  # a starter, which includes the library's headers and gtest's

# Deadlines, in seconds: every wait has one.
ENGINE_START = 90
DEBOOTSTRAP = 30 * 60
IMPORT = 10 * 60
BUILD = 120 * 60
PHASE = 30 * 60
DOCKER_QUICK = 120


class Failure(Exception):
    pass


def run(cmd, timeout, what, **kw):
    """subprocess.run with a deadline; a timeout becomes a Failure saying what was waited for."""
    try:
        return subprocess.run(cmd, timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        raise Failure("%s: still running after %d s: %s" % (what, timeout, " ".join(cmd)))
    except OSError as e:
        raise Failure("%s: cannot run %s: %s" % (what, cmd[0], e.strerror))


def docker(args, timeout=DOCKER_QUICK, what="docker"):
    return run(["docker"] + args, timeout, what, capture_output=True, text=True)


def debian_mirror(paths=("/etc/apt/sources.list", "/etc/apt/sources.list.d")):
    """The Debian mirror this machine's apt uses (not the security one), for debootstrap."""
    files = []
    for p in paths:
        if os.path.isdir(p):
            files += [os.path.join(p, f) for f in sorted(os.listdir(p)) if f.endswith((".list", ".sources"))]
        elif os.path.isfile(p):
            files.append(p)
    for f in files:
        with open(f, errors="replace") as fh:
            for line in fh:
                line = line.split("#", 1)[0]
                for url in re.findall(r"(https?://\S+)", line):
                    if url.rstrip("/").endswith("/debian"):
                        return url.rstrip("/")
    return "http://deb.debian.org/debian"


def executed_actions(bazel_output):
    """The actions Bazel ran, over every "INFO: 96 processes: 14 internal, 82 ..." line of
    the output (one per Bazel command); internal ones are Bazel's own bookkeeping."""
    total = None
    for m in re.finditer(r"^INFO: (\d+) process(?:es)?(?:: (.*?))?\.?$", bazel_output, flags=re.M):
        internal = re.search(r"(\d+) internal", m.group(2) or "")
        total = (total or 0) + int(m.group(1)) - (int(internal.group(1)) if internal else 0)
    return total


def human_size(n):  # as `docker images` shows sizes: powers of 1000
    return "%.2f GB" % (n / 1e9) if n >= 1e9 else "%.0f MB" % (n / 1e6)


# ---------------------------------------------------------------------------------------
# On the host.


class Engine:
    """The Docker engine: the one running, or dockerd started here and stopped at close()."""

    def __init__(self, log_path):
        self.proc = None
        if self._ready():
            self.note = "already running (left running)"
            return
        if shutil.which("dockerd") is None:
            raise Failure("engine: no Docker engine is running and dockerd is not installed "
                          "(tools/lib/deps.sh --container installs docker.io)")
        log = open(log_path, "w")
        try:
            self.proc = subprocess.Popen(["dockerd"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as e:
            raise Failure("engine: starting dockerd: %s" % e.strerror)
        finally:
            log.close()
        deadline = time.monotonic() + ENGINE_START
        while not self._ready():
            if self.proc.poll() is not None:
                raise Failure("engine: dockerd exited with status %d; see %s" % (self.proc.returncode, log_path))
            if time.monotonic() > deadline:
                self.close()
                raise Failure("engine: dockerd (pid %d) did not answer within %d s; see %s"
                              % (self.proc.pid, ENGINE_START, log_path))
            time.sleep(0.5)  # polling readiness under the deadline above
        self.note = "dockerd started here (pid %d), stopped at the end" % self.proc.pid

    @staticmethod
    def _ready():
        try:
            return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
        except (subprocess.TimeoutExpired, OSError):
            return False

    def close(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)


def ensure_base(root, name, rebuild):
    """The debootstrap image; returns what was done."""
    if not rebuild and docker(["image", "inspect", name]).returncode == 0:
        return "image %s already there" % name
    cache = os.path.join(root, CACHE)
    os.makedirs(cache, exist_ok=True)
    tar = os.path.join(cache, "bookworm-minbase.tar")
    done = []
    if rebuild or not os.path.isfile(tar):
        mirror = debian_mirror()
        rootfs = tempfile.mkdtemp(prefix="elfs-rootfs-")
        try:
            with open(os.path.join(cache, "debootstrap.log"), "w") as log:
                p = run(["debootstrap", "--variant=minbase", "bookworm", rootfs, mirror], DEBOOTSTRAP,
                        "base: debootstrap", stdout=log, stderr=subprocess.STDOUT)
            if p.returncode != 0:
                raise Failure("base: debootstrap failed (status %d); see %s/debootstrap.log" % (p.returncode, CACHE))
            p = run(["tar", "-C", rootfs, "-cf", tar + ".part", "."], IMPORT, "base: tar",
                    capture_output=True, text=True)
            if p.returncode != 0:
                raise Failure("base: tar of the rootfs failed: %s" % p.stderr.strip()[-500:])
            os.replace(tar + ".part", tar)
        finally:
            shutil.rmtree(rootfs, ignore_errors=True)
        done.append("debootstrap from %s" % mirror)
    p = docker(["import", "--change", 'CMD ["bash"]', tar, name], IMPORT, "base: docker import")
    if p.returncode != 0:
        raise Failure("base: docker import %s failed: %s" % (tar, p.stderr.strip()))
    done.append("imported %s" % os.path.relpath(tar, root))
    return ", ".join(done)


def build_image(root, context, base, image):
    """docker build of `context`, each output line stamped with the seconds since the start."""
    log_path = os.path.join(root, CACHE, "build.log")
    cmd = ["docker", "build", "--force-rm", "--network", "host", "--build-arg", "BASE=" + base,
           "-f", os.path.join(context, ".devcontainer", "Dockerfile"), "-t", image, context]
    env = dict(os.environ, DOCKER_BUILDKIT="0")  # the classic builder: no buildx plugin needed
    start = time.monotonic()
    steps = []
    with open(log_path, "w") as log:
        try:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        except OSError as e:
            raise Failure("image: cannot run docker: %s" % e.strerror)
        timer = threading.Timer(BUILD, proc.kill)
        timer.start()
        try:
            for line in proc.stdout:
                t = time.monotonic() - start
                log.write("[%7.1fs] %s" % (t, line))
                log.flush()
                if line.startswith("Step "):
                    steps.append((t, line.strip()))
            proc.wait()
        finally:
            timer.cancel()
            if proc.poll() is None:  # stopped by SIGTERM (see main)
                proc.kill()
                proc.wait(timeout=60)
    if time.monotonic() - start >= BUILD:
        raise Failure("image: docker build still running after %d s; see %s" % (BUILD, log_path))
    if proc.returncode != 0:
        with open(log_path) as f:
            tail = f.readlines()[-25:]
        raise Failure("image: docker build failed (status %d); the end of %s:\n%s"
                      % (proc.returncode, log_path, "".join(tail)))
    end = time.monotonic() - start
    slow = ["%5.0fs  %s" % (t2 - t1, s[:90]) for (t1, s), (t2, _) in zip(steps, steps[1:] + [(end, "")])
            if t2 - t1 >= 5]
    size = docker(["image", "inspect", "-f", "{{.Size}}", image]).stdout.strip()
    return human_size(int(size)) if size.isdigit() else "?", slow


class Container:
    """A container of the image with the copy of the checkout mounted at `path`, no network."""

    def __init__(self, image, copy, path, tag):
        self.name = "elfs-devcontainer-test-%d-%s" % (os.getpid(), tag)
        self.path = path
        p = docker(["run", "-d", "--rm", "--network", "none", "--name", self.name, "-v", "%s:%s" % (copy, path),
                    "-w", path, image, "sleep", "infinity"], what="container")
        if p.returncode != 0:
            raise Failure("container: docker run failed: %s" % p.stderr.strip())

    def sh(self, script, what, log):
        p = run(["docker", "exec", "-w", self.path, self.name, "bash", "-c", script], PHASE, what,
                capture_output=True, text=True)
        log.write("\n$ %s\n%s%s" % (script, p.stdout, p.stderr))
        log.flush()
        return p

    def close(self):
        docker(["rm", "-f", self.name], what="container removal")


def copy_checkout(root):
    """A snapshot of the checkout (its files as git sees them, and .git for ./tools/reset):
    the image is built from it and it is mounted in the containers, so both see the same
    files even while someone edits the checkout."""
    dst = tempfile.mkdtemp(prefix="elfs-devcontainer-")
    for f in tracked_files(root):
        os.makedirs(os.path.dirname(os.path.join(dst, f)), exist_ok=True)
        shutil.copy2(os.path.join(root, f), os.path.join(dst, f))
    shutil.copytree(os.path.join(root, ".git"), os.path.join(dst, ".git"), ignore=shutil.ignore_patterns("*.lock"))
    if os.geteuid() == 0:  # a learner's checkout belongs to a user, not to the container's root
        for d, dirs, files in os.walk(dst):
            for name in [d] + [os.path.join(d, x) for x in dirs + files]:
                os.lchown(name, 1000, 1000)
    return dst


class Report:
    def __init__(self):
        self.passed = self.failed = 0
        self.times = []

    def check(self, ok, what):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        print("  %s %s" % ("ok  " if ok else "FAIL", what), flush=True)

    def phase(self, name, started, note=""):
        secs = time.monotonic() - started
        self.times.append((name, secs, note))
        print("== %-8s %7.1f s  %s" % (name, secs, note), flush=True)


def inside(container, cmd, what, log):
    return container.sh("python3 tools/devcontainer_inside.py %s" % cmd, what, log)


def main_host(args, root=ROOT):
    report = Report()
    os.makedirs(os.path.join(root, CACHE), exist_ok=True)
    log = open(os.path.join(root, CACHE, "run.log"), "w")
    engine = copy = None
    containers = []
    try:
        t = time.monotonic()
        engine = Engine(os.path.join(root, CACHE, "dockerd.log"))
        report.phase("engine", t, engine.note)
        t = time.monotonic()
        report.phase("base", t, ensure_base(root, args.base_image, args.rebuild_base))
        t = time.monotonic()
        copy = copy_checkout(root)
        size, slow = build_image(root, copy, args.base_image, args.image)
        report.phase("image", t, "image %s: %s; its slow steps:" % (args.image, size))
        for s in slow:
            print("      " + s)

        t = time.monotonic()
        name = "/workspaces/" + os.path.basename(os.path.abspath(root))
        c = Container(args.image, copy, name, "editor")
        containers.append(c)
        p = c.sh("bazel build %s" % " ".join(WARM_TARGETS), "editor: bazel build", log)
        n = executed_actions(p.stderr)
        report.check(p.returncode == 0 and n == 0, "at %s the first bazel build ran %s action(s) (0: the image's "
                     "cache is found)" % (name, n))
        p = c.sh("./tools/compile_commands %s //:loop" % " ".join(WARM_TARGETS), "editor: compile_commands", log)
        report.check(p.returncode == 0 and os.path.isfile(os.path.join(copy, "compile_commands.json")),
                     "./tools/compile_commands wrote compile_commands.json")
        p = c.sh("clangd --check=%s" % CLANGD_FILE, "editor: clangd", log)
        report.check(p.returncode == 0 and "All checks completed, 0 errors" in p.stderr,
                     "clangd --check=%s: no errors" % CLANGD_FILE)
        p = c.sh("echo '// an edit' >> lessons/00_workflow/workflow.cc && ./tools/reset 00 --yes && "
                 "git diff --quiet -- lessons/00_workflow", "editor: reset", log)
        report.check(p.returncode == 0, "./tools/reset 00 restores the starter from git (a checkout of "
                     "another owner: safe.directory)")
        c.close()
        containers.remove(c)
        report.phase("editor", t)

        t = time.monotonic()
        c = Container(args.image, copy, "/work", "learner")
        containers.append(c)
        p = c.sh("./tools/start", "start", log)
        n = executed_actions(p.stderr)
        report.check(p.returncode == 0, "./tools/start exits 0")
        report.check(n == 0, "./tools/start's builds ran %s action(s) (0: the image's cache is found)" % n)
        report.check("Next: lesson 00" in p.stdout, "./tools/start names lesson 00 as the next lesson")
        report.phase("start", t)

        t = time.monotonic()
        p = inside(c, "starters", "starters", log)
        for line in p.stdout.splitlines():
            report.check(line.startswith("ok "), line.split(" ", 1)[1])
        report.phase("starters", t)

        if not args.no_solved:
            t = time.monotonic()
            p = inside(c, "solved", "solved", log)
            for line in p.stdout.splitlines():
                report.check(line.startswith("ok "), line.split(" ", 1)[1])
            report.phase("solved", t)
    except Failure as e:
        report.check(False, str(e))
    finally:
        for c in containers:
            c.close()
        if copy:
            shutil.rmtree(copy, ignore_errors=True)
        if engine:
            engine.close()
        log.close()
    print("\nTimes: " + ", ".join("%s %.0f s" % (n, s) for n, s, _ in report.times))
    print("Logs: %s/ (build.log, run.log)" % CACHE)
    print("%d passed, %d failed" % (report.passed, report.failed))
    return 0 if report.failed == 0 else 1


def main(argv=None):
    parser = argparse.ArgumentParser(prog="tools/devcontainer-test", description=__doc__.splitlines()[0])
    parser.add_argument("--base-image", default=BASE_IMAGE, help="the debootstrap image (default %(default)s)")
    parser.add_argument("--image", default=IMAGE, help="the dev container's tag (default %(default)s)")
    parser.add_argument("--rebuild-base", action="store_true", help="debootstrap and import the base again")
    parser.add_argument("--no-solved", action="store_true", help="skip the reference-solved run")
    args = parser.parse_args(argv)
    # SIGTERM (./tools/check's deadline) unwinds like an error: the finally blocks remove the
    # containers and stop the dockerd started here.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return main_host(args)


if __name__ == "__main__":
    sys.exit(main())
