#!/usr/bin/env python3
"""The real mio beside the C++ benchmarks: builds tests/benchmarks/mio (a small Rust
program on Debian's mio 0.8, librust-mio-dev) with Debian's cargo, offline, and runs it.

./tools/bench merges its rows into the C++ binaries' results of the same mode (pinned with
the same taskset, then unpinned): `round_trip/mio_waker`, `pending_wake/mio_waker`,
`many_producers/mio_waker/producers:P`. Lesson 09's README quotes its early drop, and
./tools/check (the bench step) runs the quoted command and compares.

    python3 tools/mio_peer.py early-drop [--trials N]
        lesson 09's bug on mio: the only Waker dropped before the poll, then kept by an Arc

Needs Debian's `cargo` and `librust-mio-dev` (apt-get install cargo librust-mio-dev; the
"bench" group of tools/lib/deps.sh installs them). Without them every function here says
"skipped: ..." instead. Cargo writes only under .cache/mio-peer/ (git ignores .cache/)
and tests/benchmarks/mio/Cargo.lock (ignored there). Python 3 standard library only.
"""

import argparse
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join("tests", "benchmarks", "mio")
CACHE = os.path.join(".cache", "mio-peer")
REGISTRY = "/usr/share/cargo/registry"
DEBIAN_CARGO = "/usr/bin/cargo"
INSTALL_HINT = "apt-get install cargo librust-mio-dev, or the bench group of tools/lib/deps.sh"

# Per binary of tests/benchmarks: the mio_peer subcommands that make its mio rows, for a
# real run and for --quick. Each list is the argv after the program.
ROUND_TRIP_ROW = "round_trip/mio_waker"
PRODUCERS = (1, 2, 8)  # as tests/benchmarks/many_producers.cc
SIZES = {False: {"iterations_rt": 20000, "iterations_pw": 500000, "seconds": 0.2, "reps": 5},
         True: {"iterations_rt": 200, "iterations_pw": 1000, "seconds": 0.01, "reps": 1}}

# What the page says under each binary's table when the mio rows are there.
NOTES = {
    "round_trip": "`round_trip/mio_waker` is the real mio {version} (Debian's librust-mio-dev, built with "
                  "{rustc}; the program is tests/benchmarks/mio): two threads, each with its own `mio::Poll` and "
                  "`mio::Waker`. The waiting thread sleeps in `epoll_wait` (mio's `Poll::poll`), and a wake is "
                  "one `write` to the Waker's eventfd, which mio never reads.",
    "pending_wake": "`pending_wake/mio_waker`: mio {version} keeps no pending flag, so every `Waker::wake()` "
                    "is a `write` to its eventfd.",
    "many_producers": "`many_producers/mio_waker/producers:P`: mio {version}; the producers share one `Waker` "
                      "through an `Arc`, as mio's documentation advises, and the loop sleeps in `epoll_wait` "
                      "(`Poll::poll`). Each run lasts {seconds} s instead of a fixed count of sleeps.",
}
SAME_RUN = {
    "round_trip": "Its ratio is to the baseline of the C++ binary run just before it, in the same "
                  "./tools/bench run and mode (a separate process, pinned the same way).",
    "pending_wake": "Its ratio is to the baseline of the C++ binary run just before it, in the same "
                    "./tools/bench run and mode (a separate process, pinned the same way).",
}


class PeerError(Exception):
    """A build or run of the mio program failed; the message says which and why."""


def log_to_stderr(msg):
    sys.stderr.write("[mio] %s\n" % msg)


# ---------------------------------------------------------------------------------------
# Finding cargo and mio.


def find_cargo():
    """(path to cargo, note or None). Debian's /usr/bin/cargo first: a rustup cargo earlier
    on PATH is another toolchain than CI's. None when there is no cargo at all."""
    if os.access(DEBIAN_CARGO, os.X_OK):
        return DEBIAN_CARGO, None
    other = shutil.which("cargo")
    if other:
        return other, "%s is missing: building with %s from PATH instead" % (DEBIAN_CARGO, other)
    return None, None


def mio_sources(registry=None):
    """The mio 0.8 crate folders that librust-mio-dev installed (in REGISTRY)."""
    return sorted(glob.glob(os.path.join(registry or REGISTRY, "mio-0.8.*")))


def skip_reason(cargo=None, sources=None):
    """None when the mio program can be built here, else why not ("skipped: ...")."""
    missing = [name for name, there in (("cargo", cargo), ("librust-mio-dev", sources)) if not there]
    if not missing:
        return None
    return "skipped: %s not installed (%s)" % (" and ".join(missing), INSTALL_HINT)


def build_command(cargo, root=ROOT):
    return [cargo, "build", "--release", "--offline", "--target-dir", os.path.join(root, CACHE, "target")]


def shown_build_command(cargo, root=ROOT):
    """The build as a person would type it from the checkout (paths relative to it)."""
    env = build_env(cargo, root)
    up = os.path.relpath(root, os.path.join(root, SOURCE))
    cmd = build_command(cargo, root)[:-1] + [os.path.join(up, CACHE, "target")]
    return "cd %s && CARGO_HOME=%s %s%s" % (SOURCE, os.path.join(up, CACHE, "cargo-home"),
                                          "RUSTC=%s " % env["RUSTC"] if "RUSTC" in env else "", " ".join(cmd))


def build_env(cargo, root=ROOT):
    """Cargo's environment: its own CARGO_HOME under .cache (no ~/.cargo config), and the
    rustc beside the chosen cargo, so that a rustup rustc earlier on PATH is not used."""
    env = dict(os.environ)
    env["CARGO_HOME"] = os.path.join(root, CACHE, "cargo-home")
    rustc = os.path.join(os.path.dirname(cargo), "rustc")
    if os.access(rustc, os.X_OK):
        env["RUSTC"] = rustc
    return env


def build(root=ROOT, log=log_to_stderr):
    """Builds the program; returns its path. Raises PeerError (with a "skipped: ..." message
    when cargo or mio is missing: see skip_reason)."""
    cargo, note = find_cargo()
    reason = skip_reason(cargo, mio_sources())
    if reason:
        raise PeerError(reason)
    if note:
        log(note)
    cmd = build_command(cargo, root)
    log("$ " + shown_build_command(cargo, root))
    try:
        proc = subprocess.run(cmd, cwd=os.path.join(root, SOURCE), env=build_env(cargo, root),
                              capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        raise PeerError("building %s with cargo took over 900 s" % SOURCE)
    except OSError as e:
        raise PeerError("running %s failed: %s" % (cargo, e))
    if proc.returncode != 0:
        raise PeerError("building %s failed (exit %d):\n%s" % (SOURCE, proc.returncode, proc.stderr[-3000:]))
    path = os.path.join(root, CACHE, "target", "release", "mio_peer")
    if not os.access(path, os.X_OK):
        raise PeerError("cargo built nothing at %s" % path)
    return path


def run(program, args, prefix=(), timeout=300):
    """Runs the program with args (after prefix, e.g. taskset); returns its stdout."""
    cmd = list(prefix) + [program] + list(args)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise PeerError("mio_peer %s: timed out after %d s" % (" ".join(args), timeout))
    except OSError as e:
        raise PeerError("running %s failed: %s" % (" ".join(cmd), e))
    if proc.returncode != 0:
        raise PeerError("mio_peer %s: exit %d: %s" % (" ".join(args), proc.returncode, proc.stderr.strip()[-1500:]))
    return proc.stdout


# ---------------------------------------------------------------------------------------
# The benchmark rows.


def subcommands(binary, quick=False):
    """The argv lists (after the program) that make the mio rows of one C++ binary."""
    s = SIZES[bool(quick)]
    reps = ["--repetitions", str(s["reps"])]
    if binary == "round_trip":
        return [["round_trip", "--iterations", str(s["iterations_rt"])] + reps]
    if binary == "pending_wake":
        return [["pending_wake", "--iterations", str(s["iterations_pw"])] + reps]
    if binary == "many_producers":
        return [["many_producers", "--producers", str(p), "--seconds", str(s["seconds"])] + reps for p in PRODUCERS]
    return []


def parse_rows(text):
    """mio_peer's JSON (Google Benchmark's format) -> (context, {name: result}), read by
    bench.py's own parser so that a mio row is a row like the others."""
    from bench import parse_results  # here: bench imports this module
    return parse_results(text)


class Peer:
    """One ./tools/bench run's mio program: built once, then run per binary and mode.
    `info` goes into results.json (version, build command, or why it was skipped)."""

    def __init__(self, root=ROOT, quick=False, log=log_to_stderr):
        self.root, self.quick, self.log = root, quick, log
        self.program, self.problems = None, []
        cargo, _ = find_cargo()
        self.info = {"source": SOURCE, "build_command": shown_build_command(cargo or "cargo", root)}
        try:
            self.program = build(root, log)
            version = run(self.program, ["version"], timeout=60).strip()  # "mio 0.8.4 (rustc 1.63.0)"
        except PeerError as e:
            self.program = None
            if str(e).startswith("skipped:"):
                self.info["skipped"] = str(e)
                log("mio rows %s" % e)
            else:
                self.problems.append("mio: %s" % e)
            return
        m = re.match(r"mio (\S+) \((.*)\)$", version)
        self.info.update({"program": os.path.relpath(self.program, root), "version": m.group(1) if m else version,
                          "rustc": m.group(2) if m else "?", "seconds": SIZES[bool(quick)]["seconds"]})

    def add_rows(self, binary, prefix, results, mode):
        """Runs the binary's mio subcommands with prefix (taskset or nothing) and adds their
        rows to results (a name already there is never replaced). Returns (the commands as
        shown on the page, problems)."""
        shown, problems = [], []
        if not self.program:
            return shown, problems
        rel = os.path.relpath(self.program, self.root)
        for args in subcommands(binary, self.quick):
            shown.append(list(prefix) + [rel] + args)
            self.log("$ " + " ".join(shown[-1]))
            try:
                _, rows = parse_rows(run(self.program, args, prefix, timeout=60 if self.quick else 600))
            except (PeerError, ValueError, KeyError) as e:
                problems.append("mio %s (%s): %s" % (binary, mode, e))
                continue
            for name, row in rows.items():
                results.setdefault(name, row)
        return shown, problems


def round_trip_calls(info, root, pin_cpu, quick, log):
    """{mode: {ROUND_TRIP_ROW: {"per_wake", "sleeps_in", "total"}}}: the mio round trip's
    system calls per wake, counted as syscall_count.round_trip_rows counts the C++ rows
    (strace at two iteration counts; round_trip's warm-up is a fixed count, so it drops
    out); a row that cannot be counted gets {"error": ...}. {} without the program."""
    if not (info or {}).get("program"):
        return {}
    import syscall_count  # here: only ./tools/bench's strace counting needs it
    program = os.path.join(root, info["program"])
    n1, n2 = (50, 150) if quick else (1000, 3000)
    out = {}
    for mode in ("pinned", "unpinned"):
        prefix = ["taskset", "-c", pin_cpu] if mode == "pinned" else []

        def command_for(n, prefix=prefix):
            return prefix + [program, "round_trip", "--iterations", str(n)], None
        try:
            per_it, seconds = syscall_count.per_iteration(command_for, n1, n2)
        except (RuntimeError, subprocess.TimeoutExpired, OSError) as e:
            out[mode] = {ROUND_TRIP_ROW: {"error": str(e)[:300]}}
            continue
        per_wake = {k: v / 2.0 for k, v in per_it.items()}  # a round trip is two wakes
        out[mode] = {ROUND_TRIP_ROW: {"per_wake": per_wake, "sleeps_in": syscall_count.sleeps_in(seconds),
                                      "total": syscall_count.total(per_wake)}}
    log("counted the system calls of %s under strace at %d and %d iterations" % (ROUND_TRIP_ROW, n1, n2))
    return out


def page_lines(binary, info):
    """What docs/benchmarks.md says under a binary's table about its mio rows."""
    if binary not in NOTES or not info:
        return []
    if info.get("skipped"):
        return ["No mio rows: %s." % info["skipped"][len("skipped: "):], ""]
    return [" ".join([NOTES[binary].format(**info)] + ([SAME_RUN[binary]] if binary in SAME_RUN else [])), ""]


# ---------------------------------------------------------------------------------------
# The early drop, and the check of lesson 09's quote.

EARLY_DROP = re.compile(r"^mio (\S+), Waker (dropped before poll: lost|kept alive by an Arc: seen) "
                        r"(\d+) of (\d+) wakes")
QUOTE_MARK = re.compile(r"<!-- mio-output -->")


def early_drop_lines(program, trials):
    """The two lines of lesson 09's bug on mio: dropped before the poll, kept by an Arc."""
    return [run(program, [cmd, "--trials", str(trials)], timeout=120).strip()
            for cmd in ("early_drop", "early_drop_arc")]


def quoted_blocks(root=ROOT):
    """[(readme, line, command, expected lines)] for each README block marked
    `<!-- mio-output -->`: a fenced block whose `$ ` line is the command, the rest what
    it prints."""
    found = []
    readmes = ["README.md"] + sorted(os.path.join("lessons", d, "README.md")
                                     for d in os.listdir(os.path.join(root, "lessons")))
    for readme in readmes:
        path = os.path.join(root, readme)
        if not os.path.isfile(path):
            continue
        with open(path) as f:
            lines = f.read().splitlines()
        for i, text in enumerate(lines):
            if not QUOTE_MARK.search(text) or i + 1 >= len(lines) or not lines[i + 1].startswith("```"):
                continue
            end = next((j for j in range(i + 2, len(lines)) if lines[j].startswith("```")), len(lines))
            block = lines[i + 2:end]
            commands = [l[2:] for l in block if l.startswith("$ ")]
            found.append((readme, i + 1, commands[0] if len(commands) == 1 else None,
                          [l.rstrip() for l in block if l.strip() and not l.startswith("$ ")]))
    return found


def check_quote(root, readme, line, command, expected, timeout=900):
    """(ok, message): the quoted command, run from the checkout, prints the quoted lines."""
    where = "%s:%d" % (readme, line)
    if not command or not command.startswith("python3 tools/"):
        return False, "%s: a mio-output block needs exactly one `$ python3 tools/...` line" % where
    try:
        proc = subprocess.run(shlex.split(command), cwd=root, capture_output=True, text=True, timeout=timeout)
    except (subprocess.TimeoutExpired, OSError) as e:
        return False, "%s: `%s` failed: %s" % (where, command, e)
    got = [l.rstrip() for l in proc.stdout.splitlines() if l.strip()]
    if proc.returncode != 0:
        return False, "%s: `%s` exited %d: %s" % (where, command, proc.returncode, proc.stderr.strip()[-800:])
    if got != expected:
        return False, "%s: `%s` prints %r, the README quotes %r: quote what it prints now" % (
            where, command, got, expected)
    return True, "%s: the quoted mio output is what `%s` prints" % (where, command)


def check_verdicts(root, info):
    """./tools/check's verdicts (the bench step): the early drops tiny, and each quoted block
    against a real run. [(True/False, message)], or [(None, message)]: one skip, counted as
    neither a pass nor a failure."""
    info = info or {}
    if not info.get("program"):  # skipped (one line), or the build failed (a failure reported already)
        return [(None, "mio peer and lesson 09's mio quote: %s" % info["skipped"])] if info.get("skipped") else []
    program = os.path.join(root, info["program"])
    out = []
    try:
        lines = early_drop_lines(program, 2)
        ok = all(EARLY_DROP.match(l) and EARLY_DROP.match(l).group(4) == "2" for l in lines)
        out.append((ok, "mio early_drop and early_drop_arc, 2 trials each: %s" % " / ".join(lines)))
    except PeerError as e:
        out.append((False, "mio early drop: %s" % e))
    blocks = quoted_blocks(root)
    if not blocks:
        out.append((False, "no README block is marked <!-- mio-output --> (lesson 09 quotes the mio early drop)"))
    for readme, line, command, expected in blocks:
        out.append(check_quote(root, readme, line, command, expected))
    return out


# ---------------------------------------------------------------------------------------
# The command line.


def main(argv=None):
    parser = argparse.ArgumentParser(prog="tools/mio_peer.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    drop = sub.add_parser("early-drop", help="lesson 09's early drop on the real mio")
    drop.add_argument("--trials", type=int, default=10, help="wakes per case (default 10)")
    args = parser.parse_args(argv)
    if args.trials < 1:
        parser.error("--trials needs a positive number")
    try:
        program = build()
        for line in early_drop_lines(program, args.trials):
            print(line)
    except PeerError as e:
        sys.stderr.write("[mio] %s\n" % e)
        return 2 if str(e).startswith("skipped:") else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
