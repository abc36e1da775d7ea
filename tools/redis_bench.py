"""The redis-benchmark part of ./tools/bench: lesson 12's reference server against the real
redis-server, started by this script on loopback, in the same run.

For each mode (pinned: each server on CPU 0 and redis-benchmark on CPU 1 with taskset;
unpinned: wherever the scheduler puts them) and each pipeline depth (-P 1, -P 16), it runs
`redis-benchmark -c 50 -t ping|set|get --csv` against our server and then against
redis-server, REPEATS times alternating, and keeps the median requests per second of each
test. The ratio is ours / redis-server's (higher is better; the goal is at least 0.90).
It also counts each server's system calls in a separate run of GET under
`strace -c -f -p PID` (strace slows the server, which then finds more events per
epoll_wait: the read and write counts per request are exact, epoll_wait's is a floor).

run_stress starts both servers again (unpinned) for the memory figures (redis_memory.py)
and the attacks (redis_attacks.py).

Python 3 standard library only. Used by tools/bench.py; see there for the page.
"""

import os
import re
import selectors
import shutil
import socket
import statistics
import subprocess
import tempfile
import time

import redis_attacks
import redis_memory
from syscall_count import parse_strace_summary

# Lesson 12's reference server: the library's (loop/redis), built with -c opt.
SERVER_TARGET = "//loop/redis:server"
SERVER_BIN = os.path.join("loop", "redis", "server")
GOAL = 0.90  # the issue: within 10% of redis-server
TESTS = ["PING_INLINE", "PING_MBULK", "SET", "GET"]
INVOCATIONS = [("ping", ["PING_INLINE", "PING_MBULK"]), ("set", ["SET"]), ("get", ["GET"])]
PIPELINES = [1, 16]
CLIENTS = 50


class BenchError(Exception):
    pass


def missing_tools():
    return [t for t in ("redis-server", "redis-benchmark") if not shutil.which(t)]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One server process on loopback: ours (its port read from its first line) or
    redis-server (on a free port). stop() ends it with SIGTERM and waits."""

    def __init__(self, kind, server_bin, prefix):
        self.kind = kind
        if kind == "elfs":
            cmd = prefix + [server_bin, "--port", "0"]
        else:
            self.port = _free_port()
            cmd = prefix + ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                            "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"]
        self.command = cmd
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if kind == "elfs":
            line = self.proc.stdout.readline()  # "listening on 127.0.0.1:PORT (backend epoll)"
            m = re.search(r"127\.0\.0\.1:(\d+)", line)
            if not m:
                self.stop()
                raise BenchError("lesson 12's server did not start: %r %s" % (line, self.proc.stderr.read()[-500:]))
            self.port = int(m.group(1))
        self._wait_ready()

    def _wait_ready(self):
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise BenchError("%s exited at start: %s" % (self.kind, self.proc.stderr.read()[-500:]))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise BenchError("%s did not answer PING within 10 s" % self.kind)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def parse_csv(text):
    """{test: {"rps": float, "p50_ms": float}} from redis-benchmark --csv output."""
    out = {}
    for line in text.splitlines():
        cells = [c.strip('"') for c in line.strip().split(",")]
        if len(cells) >= 5 and cells[0] != "test":
            try:
                out[cells[0]] = {"rps": float(cells[1]), "p50_ms": float(cells[4])}
            except ValueError:
                continue
    return out


def _bench_once(server, test, pipeline, requests, prefix):
    cmd = prefix + ["redis-benchmark", "-h", "127.0.0.1", "-p", str(server.port), "-c", str(CLIENTS),
                    "-n", str(requests), "-P", str(pipeline), "-t", test, "--csv"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise BenchError("%s: exit %d: %s" % (" ".join(cmd), proc.returncode, proc.stderr[-500:]))
    results = parse_csv(proc.stdout)
    if not results:
        raise BenchError("%s printed no results: %s" % (" ".join(cmd), (proc.stdout + proc.stderr)[-500:]))
    return cmd, results


READS = {"read", "recvfrom", "recvmsg", "readv"}
WRITES = {"write", "sendto", "sendmsg", "writev"}
WAITS = {"epoll_wait", "epoll_pwait", "kevent"}


def _attached(tracer, deadline_s):
    """Waits (up to deadline_s) for strace's "Process N attached" on its stderr: requests
    sent before it would not be counted."""
    deadline = time.time() + deadline_s
    with selectors.DefaultSelector() as sel:
        sel.register(tracer.stderr, selectors.EVENT_READ)
        while time.time() < deadline:
            if not sel.select(timeout=max(0.0, deadline - time.time())):
                return False
            line = tracer.stderr.readline()
            if not line:
                return False  # strace exited
            if " attached" in line:
                return True
    return False


def count_syscalls(server, pipeline, requests, tmpdir):
    """Per request: reads, writes, waits and all calls of `server` during one GET run."""
    if not shutil.which("strace"):
        return None
    out = os.path.join(tmpdir, "strace-%s-%d.txt" % (server.kind, pipeline))
    tracer = subprocess.Popen(["strace", "-c", "-f", "-U", "name,calls,errors", "-o", out, "-p",
                               str(server.proc.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        if not _attached(tracer, deadline_s=10):
            return None  # not allowed to trace (ptrace_scope), or too slow: no counts, said on the page
        _bench_once(server, "get", pipeline, requests, [])
    finally:
        tracer.send_signal(2)  # SIGINT: strace detaches and writes the summary
        try:
            tracer.wait(timeout=15)
        except subprocess.TimeoutExpired:
            tracer.kill()
            tracer.wait()
    try:
        with open(out) as f:
            calls = parse_strace_summary(f.read())
    except OSError:
        return None
    n = float(requests)
    return {"reads": sum(v for k, v in calls.items() if k in READS) / n,
            "writes": sum(v for k, v in calls.items() if k in WRITES) / n,
            "waits": sum(v for k, v in calls.items() if k in WAITS) / n,
            "all": sum(calls.values()) / n,
            "calls": calls}


def run(root, bin_dir, quick=False, log=print):
    """Returns the data for the page: {"modes": {mode: {"P1": {...}, ...}}, ...}."""
    server_bin = os.path.join(bin_dir, SERVER_BIN)
    repeats = 1 if quick else 3
    requests = {1: 2000, 16: 20000} if quick else {1: 100000, 16: 1000000}
    cpus = os.cpu_count() or 1
    data = {"goal": GOAL, "clients": CLIENTS, "repeats": repeats, "requests": {str(k): v for k, v in requests.items()},
            "modes": {}, "commands": []}
    for mode in ("pinned", "unpinned"):
        if mode == "pinned" and (cpus < 2 or not shutil.which("taskset")):
            log("pinned redis runs need 2 CPUs and taskset: skipped")
            continue
        server_prefix = ["taskset", "-c", "0"] if mode == "pinned" else []
        client_prefix = ["taskset", "-c", "1"] if mode == "pinned" else []
        servers = {}
        try:
            for kind in ("elfs", "redis-server"):
                servers[kind] = Server(kind, server_bin, server_prefix)
                data["commands"].append(" ".join(servers[kind].command).replace(bin_dir + "/", "bazel-bin/"))
            mode_data = {}
            for pipeline in PIPELINES:
                samples = {kind: {t: [] for t in TESTS} for kind in servers}
                for _ in range(repeats):
                    for test, names in INVOCATIONS:
                        for kind, server in servers.items():  # alternating: drift hits both
                            cmd, results = _bench_once(server, test, pipeline, requests[pipeline], client_prefix)
                            shown = " ".join(cmd).replace(str(server.port), "PORT")
                            if shown not in data["commands"]:
                                data["commands"].append(shown)
                            for name in names:
                                if name in results:
                                    samples[kind][name].append(results[name]["rps"])
                rows = {}
                for name in TESTS:
                    row = {}
                    for kind in servers:
                        if samples[kind][name]:
                            row[kind] = {"rps": statistics.median(samples[kind][name])}
                    if "elfs" in row and "redis-server" in row and row["redis-server"]["rps"] > 0:
                        row["ratio"] = row["elfs"]["rps"] / row["redis-server"]["rps"]
                    rows[name] = row
                mode_data["P%d" % pipeline] = rows
                log("redis %s -P %d: %s" % (mode, pipeline, ", ".join(
                    "%s %.2fx" % (n, r["ratio"]) for n, r in rows.items() if "ratio" in r)))
            data["modes"][mode] = mode_data
            if mode == "unpinned":
                tmpdir = tempfile.mkdtemp(prefix="elfs-strace-")
                try:
                    for pipeline in PIPELINES:
                        for kind, server in servers.items():
                            traced = requests[pipeline] // (4 if quick else 10)
                            data.setdefault("traced_requests", {})["P%d" % pipeline] = traced
                            counted = count_syscalls(server, pipeline, traced, tmpdir)
                            if counted:
                                data.setdefault("syscalls", {}).setdefault("P%d" % pipeline, {})[kind] = counted
                finally:
                    shutil.rmtree(tmpdir, ignore_errors=True)
        finally:
            for kind, server in servers.items():
                code = server.stop()
                if kind == "elfs" and code != 0:
                    raise BenchError("lesson 12's server exited %s after SIGTERM (expected 0)" % code)
    return data


def run_stress(root, bin_dir, quick=False, log=print):  # noqa: ARG001 - run's signature
    """The memory figures and the attacks, each server started afresh (unpinned) and stopped
    by its pid. Returns {"memory": ..., "attacks": ...}."""
    server_bin = os.path.join(bin_dir, SERVER_BIN)
    started = []

    def start(kind):
        started.append(Server(kind, server_bin, []))
        return started[-1]

    redis_memory.raise_nofile(2048)  # 1,000 idle connections, 500 slowloris ones; the servers inherit it
    try:
        data = {"memory": redis_memory.run(start, quick=quick, log=log),
                "attacks": redis_attacks.run(start, quick=quick, log=log)}
    except OSError as e:
        raise BenchError("redis memory/attacks: %s" % e)
    finally:
        codes = [s.stop() for s in started if s.kind == "elfs"]
    if any(c != 0 for c in codes):
        raise BenchError("lesson 12's server exited %s after SIGTERM (expected 0)" % codes)
    return data


def fmt_rps(value):
    return "{:,}".format(int(round(value))) if value is not None else "-"


def table(data):
    head = ["test", "pipeline", "mode", "ours (req/s)", "redis-server (req/s)", "ratio"]
    lines = ["| " + " | ".join(head) + " |", "|---|--:|---|--:|--:|--:|"]
    for pipeline in PIPELINES:
        for name in TESTS:
            for mode in ("pinned", "unpinned"):
                row = data["modes"].get(mode, {}).get("P%d" % pipeline, {}).get(name)
                if not row:
                    continue
                ours, theirs = row.get("elfs", {}), row.get("redis-server", {})
                lines.append("| %s | %d | %s | %s | %s | %s |" % (
                    name, pipeline, mode, fmt_rps(ours.get("rps")), fmt_rps(theirs.get("rps")),
                    "%.2fx" % row["ratio"] if "ratio" in row else "-"))
    return "\n".join(lines)


def syscall_table(data):
    counts = data.get("syscalls")
    if not counts:
        return None
    lines = ["| GET, pipeline | server | reads/request | writes/request | epoll_wait/request (a floor) | "
             "all calls/request |", "|--:|---|--:|--:|--:|--:|"]
    for pipeline in PIPELINES:
        for kind in ("elfs", "redis-server"):
            c = counts.get("P%d" % pipeline, {}).get(kind)
            if c:
                lines.append("| %d | %s | %.2f | %.2f | %.3f | %.2f |" % (
                    pipeline, "ours" if kind == "elfs" else kind, c["reads"], c["writes"], c["waits"], c["all"]))
    return "\n".join(lines)


def syscall_goal(data, pipeline=1):
    """(met, ours, theirs): all system calls per GET request at -P pipeline, ours at or
    below redis-server's; None without both counts."""
    counts = data.get("syscalls", {}).get("P%d" % pipeline, {})
    if "elfs" not in counts or "redis-server" not in counts:
        return None
    ours, theirs = counts["elfs"]["all"], counts["redis-server"]["all"]
    return ours <= theirs, ours, theirs


def goal_lines(data):
    out = []
    for pipeline in PIPELINES:
        parts = []
        for mode in ("pinned", "unpinned"):
            rows = data["modes"].get(mode, {}).get("P%d" % pipeline, {})
            ratios = [r["ratio"] for r in rows.values() if "ratio" in r]
            if not ratios:
                continue
            worst = min(ratios)
            parts.append("%s: the lowest ratio is %.2fx, %s" % (
                mode, worst, "met" if worst >= data["goal"] else "**not met**"))
        if parts:
            out.append("- `redis-benchmark -P %d` within %d%% of redis-server (ratio >= %.2f): %s" % (
                pipeline, round((1 - data["goal"]) * 100), data["goal"], "; ".join(parts)))
    g = syscall_goal(data)
    out.append("- system calls per request at -P 1 (GET, `strace -c`), ours at or below redis-server's: %s" % (
        "no count (strace missing or not allowed)" if g is None else "ours %.2f, redis-server %.2f: %s" % (
            g[1], g[2], "met" if g[0] else "**not met**")))
    return out


def plot_data(data):
    rows = []
    for pipeline in PIPELINES:
        for name in TESTS:
            vals = []
            for mode in ("pinned", "unpinned"):
                row = data["modes"].get(mode, {}).get("P%d" % pipeline, {}).get(name, {})
                for kind in ("elfs", "redis-server"):
                    r = row.get(kind)
                    vals.append("%.0f" % r["rps"] if r else "NaN")
            rows.append('"%s -P%d" %s' % (name, pipeline, " ".join(vals)))
    return "\n".join(rows) + "\n"


def gnuplot_script(data_path, out_path):
    return "\n".join([
        "set terminal svg size 900,480 dynamic font 'sans,11' background rgb 'white'",
        "set output '%s'" % out_path,
        "set title 'redis-benchmark, 50 clients: requests per second (higher is better)'",
        "set style data histograms",
        "set style histogram clustered gap 1",
        "set style fill solid 0.8 border -1",
        "set boxwidth 0.9",
        "set ylabel 'requests per second, log scale'",
        "set logscale y",
        "set xtics rotate by -35 left noenhanced font ',9'",
        "set key top left",
        "set grid ytics",
        "set bmargin 8",
        "plot '%s' using 2:xtic(1) title 'ours, pinned', '' using 3 title 'redis-server, pinned', "
        "'' using 4 title 'ours, unpinned', '' using 5 title 'redis-server, unpinned'" % data_path,
        "",
    ])
