"""System calls counted, not timed: strace's summary (`strace -c -f`) of a command, and the
calls one iteration of a benchmark makes, by difference.

A benchmark that runs N iterations makes setup calls S plus N times the calls of one
iteration C: run it at two fixed counts and (calls(N2) - calls(N1)) / (N2 - N1) is C,
exactly, whatever S was. ./tools/bench uses it for the round trips (one iteration is two
wakes), where it also tells what each waiting thread sleeps in. Used by bench.py and
redis_bench.py. Python 3 standard library only; strace from Debian's strace package.
"""

import os
import shutil
import subprocess
import tempfile

# The calls a thread blocks in while it waits for a wake. Of these, the one a round trip
# spends the most wall-clock time in (strace -w) is what its waiting thread sleeps in: not
# the one it makes most often (Asio's reactor makes more futex calls than epoll_waits,
# but sleeps in epoll_wait).
BLOCKING = ("epoll_wait", "epoll_pwait", "epoll_pwait2", "futex", "poll", "ppoll", "select", "pselect6",
            "kevent", "nanosleep", "clock_nanosleep")


def parse_strace_summary(text):
    """{syscall: calls} from `strace -c -U name,calls,errors` output."""
    calls = {}
    for line in text.splitlines():
        cells = line.split()
        if len(cells) >= 2 and cells[1].isdigit() and cells[0] not in ("total", "syscall"):
            calls[cells[0]] = calls.get(cells[0], 0) + int(cells[1])
    return calls


def parse_strace_seconds(text):
    """{syscall: wall-clock seconds} from `strace -c -w -U name,calls,total-time` output."""
    seconds = {}
    for line in text.splitlines():
        cells = line.split()
        if len(cells) >= 3 and cells[1].isdigit() and cells[0] not in ("total", "syscall"):
            try:
                seconds[cells[0]] = seconds.get(cells[0], 0.0) + float(cells[2])
            except ValueError:
                continue
    return seconds


def available():
    return shutil.which("strace") is not None


def count(argv, env=None, timeout=300):
    """({syscall: calls}, {syscall: wall-clock seconds}) of argv and every thread it
    starts, under `strace -f -c -w`. Raises RuntimeError (with the command's stderr) if the
    command fails."""
    fd, out = tempfile.mkstemp(prefix="elfs-strace-", suffix=".txt")
    os.close(fd)
    try:
        proc = subprocess.run(["strace", "-f", "-c", "-w", "-U", "name,calls,total-time", "-o", out] + list(argv),
                              env=env, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError("%s: exit %d: %s" % (" ".join(argv), proc.returncode, proc.stderr[-800:]))
        with open(out) as f:
            text = f.read()
        return parse_strace_summary(text), parse_strace_seconds(text)
    finally:
        os.unlink(out)


def _difference(a, b, n):
    out = {}
    for name in set(a) | set(b):
        d = b.get(name, 0) - a.get(name, 0)
        if d:
            out[name] = d / float(n)
    return out


def per_iteration(command_for, n1, n2, timeout=300):
    """({syscall: calls per iteration}, {syscall: wall-clock seconds of the longer run})
    from two counted runs: command_for(n) -> (argv, env) runs exactly n iterations. Calls
    whose difference is 0 are left out; a negative one (noise in the setup) is kept."""
    if n2 <= n1:
        raise ValueError("n2 must be larger than n1")
    calls_a, secs_a = count(*command_for(n1), timeout=timeout)
    calls_b, secs_b = count(*command_for(n2), timeout=timeout)
    return _difference(calls_a, calls_b, n2 - n1), secs_b


def sleeps_in(seconds):
    """The blocking call with the most wall-clock time (None if there is none)."""
    blocking = [(v, k) for k, v in seconds.items() if k in BLOCKING and v > 0]
    return max(blocking)[1] if blocking else None


def summary(per_wake, floor=0.05):
    """"write 1.00, epoll_wait 1.00": the calls of at least `floor` per wake, most first."""
    shown = sorted(((v, k) for k, v in per_wake.items() if v >= floor), key=lambda x: (-x[0], x[1]))
    return ", ".join("%s %.2f" % (k, v) for v, k in shown) or "none"


def total(per_wake, floor=0.05):
    """All calls per wake, counting only those of at least `floor` (setup noise below it)."""
    return sum(v for v in per_wake.values() if v >= floor)


def round_trip_rows(path, names, pin_cpu, quick, log):
    """{mode: {name: {"per_wake": {...}, "sleeps_in", "total"}}} for the round-trip rows
    `names` of the Google Benchmark binary at `path` (which honours ELFS_BENCH_ITERATIONS),
    pinned to pin_cpu and unpinned. A row that cannot be counted gets {"error": ...}."""
    n1, n2 = (50, 150) if quick else (1000, 3000)
    out = {}
    for mode in ("pinned", "unpinned"):
        prefix = ["taskset", "-c", pin_cpu] if mode == "pinned" else []
        rows = out.setdefault(mode, {})
        for name in names:
            def command_for(n, name=name):
                env = dict(os.environ, ELFS_BENCH_ITERATIONS=str(n))
                return prefix + [path, "--benchmark_filter=^%s(/iterations:[0-9]+)?(/real_time)?$" % name], env
            try:
                per_it, seconds = per_iteration(command_for, n1, n2)
            except (RuntimeError, subprocess.TimeoutExpired, OSError) as e:
                rows[name] = {"error": str(e)[:300]}
                continue
            if not per_it:
                rows[name] = {"error": "no system call grew with the iterations (did the filter match?)"}
                continue
            per_wake = {k: v / 2.0 for k, v in per_it.items()}  # a round trip is two wakes
            rows[name] = {"per_wake": per_wake, "sleeps_in": sleeps_in(seconds), "total": total(per_wake)}
        log("counted the system calls of %d round-trip rows %s, under strace at %d and %d iterations"
            % (len(names), mode, n1, n2))
    return out
